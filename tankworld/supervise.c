#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervise.h"
#include "util.h"

double sup_next_backoff(double previous, double uptime)
{
	if (uptime >= 60 || previous <= 0)
		return 0.25;
	double next = previous * 2;
	return next > 30 ? 30 : next;
}

bool sup_start_limited(const struct sup_child *c, double now)
{
	if (c->nstarts < SUP_START_BURST)
		return false;
	double oldest = c->starts[c->nstarts % SUP_START_BURST]; /* the next slot to reuse */
	return now - oldest < SUP_START_INTERVAL;
}

int sup_start(struct sup_child *c, double now)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		/* Its own process group: a terminal's Ctrl-C goes to the supervisor only, which
		 * stops the daemons in order. If the supervisor dies, so do they. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1); /* the supervisor died before prctl took effect */
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(c->argv[0], c->argv);
		fprintf(stderr, "cannot run %s: %s\n", c->argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here, so a signal sent right after fork finds the group */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->out_fd = p[0];
	c->line_len = 0;
	c->started_at = now;
	c->restart_at = 0;
	c->starts[c->nstarts++ % SUP_START_BURST] = now;
	log_info("%s started (pid %d)", c->name, (int)pid);
	return 0;
}

static void emit(struct sup_child *c, const char *s, size_t n)
{
	/* One write per line keeps lines whole when the daemons print at once. */
	char buf[SUP_LINE_MAX + 32];
	int k = snprintf(buf, sizeof buf, "%-10s | ", c->name);
	if (n > sizeof buf - (size_t)k - 1)
		n = sizeof buf - (size_t)k - 1;
	memcpy(buf + k, s, n);
	buf[k + n] = '\n';
	ssize_t w = write(STDOUT_FILENO, buf, (size_t)k + n + 1);
	(void)w; /* a closed stdout must not stop the supervisor */
}

bool sup_drain(struct sup_child *c)
{
	for (;;) {
		char buf[8192];
		ssize_t n = read(c->out_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0) {
			if (c->line_len)
				emit(c, c->line, c->line_len);
			c->line_len = 0;
			return false;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || c->line_len == sizeof c->line) {
				emit(c, c->line, c->line_len);
				c->line_len = 0;
				if (buf[i] == '\n')
					continue;
			}
			c->line[c->line_len++] = buf[i];
		}
	}
}

void sup_exited(struct sup_child *c, int status, double now)
{
	double up = now - c->started_at;
	if (WIFSIGNALED(status))
		log_warn("%s (pid %d) was killed by signal %d (%s) after %.1f s", c->name,
			 (int)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)), up);
	else
		log_warn("%s (pid %d) exited with status %d after %.1f s", c->name, (int)c->pid,
			 WEXITSTATUS(status), up);
	c->pid = 0;
	c->backoff = sup_next_backoff(c->backoff, up);
	c->restart_at = now + c->backoff;
	c->restarts++;
	/* A start the limit would refuse then is refused now: the log said "restarting simd
	 * in 8.00 s" and 8 s later that it would not. */
	if (sup_start_limited(c, c->restart_at)) {
		c->restart_at = now;
		return;
	}
	log_info("restarting %s in %.2f s", c->name, c->backoff);
}

#define SUP_STOP_TIMEOUT 30.0

/* What the loop knows between two wake-ups. */
struct sup_run {
	struct sup_child *kids;
	int n;
	int sfd; /* signalfd: SIGCHLD, SIGINT, SIGTERM, SIGHUP */
	bool stopping;
	double stop_deadline;
	bool gave_up; /* a child reached its start limit */
};

static void signal_all(struct sup_run *r, int sig)
{
	for (int i = r->n - 1; i >= 0; i--) /* the last first: migrated stops before simd */
		if (r->kids[i].pid > 0)
			kill(r->kids[i].pid, sig);
}

static int signals_open(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		fatal("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return sfd;
}

/* Milliseconds until the next planned restart or the stop deadline (at most 1 s). */
static int next_wait_ms(const struct sup_run *r, double now)
{
	double next = now + 1;
	for (int k = 0; k < r->n; k++) {
		const struct sup_child *c = &r->kids[k];
		if (!r->stopping && !c->pid && c->restart_at && c->restart_at < next)
			next = c->restart_at;
	}
	if (r->stopping && r->stop_deadline < next)
		next = r->stop_deadline;
	return next > now ? (int)((next - now) * 1000) + 1 : 0;
}

static void close_output(struct sup_child *c)
{
	close(c->out_fd);
	c->out_fd = -1;
}

static void on_signals(struct sup_run *r)
{
	struct signalfd_siginfo si;
	while (read(r->sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: asking every daemon to reload its configuration");
			signal_all(r, SIGHUP);
		} else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			if (!r->stopping)
				log_info("signal %d: stopping the server", (int)si.ssi_signo);
			r->stopping = true;
			r->stop_deadline = now_mono() + SUP_STOP_TIMEOUT;
			signal_all(r, SIGTERM);
		}
	}
}

static void reap(struct sup_run *r)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (int k = 0; k < r->n; k++) {
			struct sup_child *c = &r->kids[k];
			if (c->pid != pid)
				continue;
			if (c->out_fd >= 0) {
				sup_drain(c);
				close_output(c);
			}
			if (r->stopping) {
				log_info("%s stopped", c->name);
				c->pid = 0;
			} else {
				sup_exited(c, status, now_mono());
			}
		}
}

/* While stopping: true once every child is gone; SIGKILL for those past the deadline. */
static bool stopped(struct sup_run *r, double now)
{
	bool any = false;
	for (int k = 0; k < r->n; k++)
		any |= r->kids[k].pid > 0;
	if (!any)
		return true;
	if (now >= r->stop_deadline) {
		log_warn("daemons still running after %.0f s: killing them", SUP_STOP_TIMEOUT);
		signal_all(r, SIGKILL);
		r->stop_deadline = now + 5;
	}
	return false;
}

static void restart_due(struct sup_run *r, double now)
{
	for (int k = 0; k < r->n; k++) {
		struct sup_child *c = &r->kids[k];
		if (c->pid || !c->restart_at || now < c->restart_at)
			continue;
		if (sup_start_limited(c, now)) {
			log_err("%s started %d times within %.0f s and died each time: not again; "
				"stopping the server (its own words above say why)",
				c->name, SUP_START_BURST, SUP_START_INTERVAL);
			r->gave_up = r->stopping = true;
			r->stop_deadline = now + SUP_STOP_TIMEOUT;
			signal_all(r, SIGTERM);
			return;
		}
		int e = sup_start(c, now);
		if (e < 0) {
			log_err("cannot start %s: %s", c->name, strerror(-e));
			c->restart_at = now + 1;
		}
	}
}

int sup_run(struct sup_child *kids, int n)
{
	struct sup_run r = {.kids = kids, .n = n, .sfd = signals_open()};
	unsetenv("NOTIFY_SOCKET"); /* the daemons answer to us, not to a systemd above us */
	for (int k = 0; k < n; k++) {
		int e = sup_start(&kids[k], now_mono());
		if (e < 0)
			fatal("cannot start %s: %s", kids[k].name, strerror(-e));
	}
	for (;;) {
		struct pollfd pf[SUP_MAX_CHILDREN + 1];
		int map[SUP_MAX_CHILDREN + 1], npf = 0;
		pf[npf] = (struct pollfd){.fd = r.sfd, .events = POLLIN};
		map[npf++] = -1;
		for (int k = 0; k < n; k++)
			if (kids[k].out_fd >= 0) {
				pf[npf] = (struct pollfd){.fd = kids[k].out_fd, .events = POLLIN};
				map[npf++] = k;
			}
		if (poll(pf, (nfds_t)npf, next_wait_ms(&r, now_mono())) < 0 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		for (int i = 1; i < npf; i++)
			if (pf[i].revents && !sup_drain(&kids[map[i]]))
				close_output(&kids[map[i]]);
		if (pf[0].revents & POLLIN)
			on_signals(&r);
		reap(&r);
		double now = now_mono();
		if (r.stopping) {
			if (stopped(&r, now))
				break;
			continue;
		}
		restart_due(&r, now);
	}
	close(r.sfd);
	return r.gave_up ? 1 : 0;
}
