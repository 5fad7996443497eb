/* The benchmarks' shared harness; see benchlib.h. */
#include "config.h"

#include "bench/benchlib.h"
#include "timer.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)

const char *bench_prog = "bench";
const char bench_token[] = "bench-token-0123456789abcdef";

/* The daemon the time-limit alarm kills: read in a signal handler, hence a plain pid. */
static volatile pid_t alarm_victim = -1;

/* ---- the program ------------------------------------------------------------------ */

/* The daemon binary: $env_name, else <build dir>/<rel_path> where the build directory is
 * argv[1], else $abs_top_builddir, else ".". False (with a message) unless executable. */
static bool find_exe(char *buf, size_t len, int argc, char **argv, const char *env_name,
		     const char *rel_path)
{
	const char *top = argc > 1 ? argv[1] : getenv("abs_top_builddir");
	if (getenv(env_name))
		snprintf(buf, len, "%s", getenv(env_name));
	else
		snprintf(buf, len, "%s/%s", top ? top : ".", rel_path);
	if (access(buf, X_OK) == 0)
		return true;
	bench_warn("%s: %s (pass the build directory as argument or set abs_top_builddir)", buf,
		   strerror(errno));
	return false;
}

bool bench_init(const char *prog, int argc, char **argv, const char *exe_env,
		const char *exe_rel_path, char *exe, size_t exe_len)
{
	bench_prog = prog;
	/* Result lines reach a pipe (make bench, CI logs) as they are printed, in order with
	 * the details on stderr. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A daemon that dies mid-answer must fail the run with a message, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	return find_exe(exe, exe_len, argc, argv, exe_env, exe_rel_path);
}

static void vwarn(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", bench_prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

void bench_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

double bench_env_double(const char *name, double def, double min, double max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	double x = strtod(v, NULL);
	return x < min ? min : x > max ? max : x;
}

static void on_alarm(int sig)
{
	/* Only async-signal-safe calls here. */
	static const char msg[] = ": overall time limit exceeded\n";
	if (alarm_victim > 0)
		kill(alarm_victim, SIGKILL);
	if (write(STDERR_FILENO, bench_prog, strlen(bench_prog)) < 0 ||
	    write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(2);
}

void bench_set_time_limit(unsigned seconds)
{
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}

/* ---- /proc readings --------------------------------------------------------------- */

double bench_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long ut, st;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_self_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_status_mb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	double kb = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			kb = strtod(line + kl + 1, NULL);
			break;
		}
	fclose(f);
	return kb < 0 ? -1 : kb / 1024.0;
}

double bench_rss_mb(pid_t pid)
{
	return bench_status_mb(pid, "VmRSS");
}

double bench_run_delay_s(pid_t pid)
{
	char path[64];
	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)pid);
	else
		snprintf(path, sizeof path, "/proc/thread-self/schedstat");
	FILE *f = fopen(path, "r");
	unsigned long long run, wait;
	int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;
	if (f)
		fclose(f);
	return n == 2 ? (double)wait / 1e9 : 0;
}

double bench_loop_cpu_s(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	unsigned long long run;
	int n = f ? fscanf(f, "%llu", &run) : 0;
	if (f)
		fclose(f);
	return n == 1 ? (double)run / 1e9 : 0;
}

/* ---- latencies -------------------------------------------------------------------- */

void latencies_add(struct latencies *l, double seconds)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16384;
		l->s = realloc(l->s, l->cap * sizeof *l->s);
		if (!l->s)
			abort();
	}
	l->s[l->n++] = seconds;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void latencies_sort(struct latencies *l)
{
	if (l->n)
		qsort(l->s, l->n, sizeof *l->s, cmp_double);
}

double latencies_quantile(const struct latencies *l, double q)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(q * (double)(l->n - 1) + 0.5);
	return l->s[i < l->n ? i : l->n - 1];
}

double latencies_max(const struct latencies *l)
{
	return l->n ? l->s[l->n - 1] : 0;
}

void latencies_free(struct latencies *l)
{
	free(l->s);
	*l = (struct latencies){0};
}

/* ---- the daemon under test -------------------------------------------------------- */

/* Two distinct CPUs we may run on: the daemon gets the first, the client the second, so
 * neither measures the other's work. */
static int pick_cpus(int *daemon_cpu, int *client_cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return -1;
	int found = 0;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
		if (CPU_ISSET(c, &set))
			*(found++ == 0 ? daemon_cpu : client_cpu) = c;
	return found == 2 ? 0 : -1;
}

/* cpu < 0: every CPU (a child would otherwise inherit the client's pinning). */
static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (cpu < 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			CPU_SET((int)i, &set);
	} else {
		CPU_SET(cpu, &set);
	}
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		bench_warn("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

bool bench_daemon_setup(struct bench_daemon *d, const char *name, const char *exe,
			const char *tmp_parent)
{
	*d = (struct bench_daemon){.name = name,
				   .exe = exe,
				   .notify_fd = -1,
				   .cpu = -1,
				   .client_cpu = -1,
				   .pid = -1,
				   .port = -1};
	snprintf(d->tmpdir, sizeof d->tmpdir, "%s/tw-%s.XXXXXX", tmp_parent, bench_prog);
	if (!mkdtemp(d->tmpdir)) {
		bench_warn("mkdtemp %s: %s", d->tmpdir, strerror(errno));
		d->tmpdir[0] = '\0';
		return false;
	}
	char tok[4200];
	snprintf(tok, sizeof tok, "%s/token", d->tmpdir);
	int tfd = open(tok, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool tok_ok = tfd >= 0 &&
		      write(tfd, bench_token, strlen(bench_token)) == (ssize_t)strlen(bench_token);
	if (tfd >= 0)
		close(tfd);
	snprintf(d->conf, sizeof d->conf, "%s/tankworld.conf", d->tmpdir);
	FILE *f = fopen(d->conf, "w");
	if (f)
		fprintf(f, "[security]\ntoken_file = %s\n", tok);
	if (!tok_ok || !f || fclose(f) != 0) {
		bench_warn("cannot write %s", d->conf);
		bench_daemon_cleanup(d);
		return false;
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", d->tmpdir) >=
		    (int)sizeof sun.sun_path ||
	    d->notify_fd < 0 || bind(d->notify_fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		bench_warn("notify socket: %s", strerror(errno));
		bench_daemon_cleanup(d);
		return false;
	}
	snprintf(d->notify_path, sizeof d->notify_path, "%s", sun.sun_path);
	/* Room for every STATUS= update of a busy run between two drains. */
	int rcvbuf = 1 << 20;
	setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

	if (pick_cpus(&d->cpu, &d->client_cpu) < 0) {
		bench_warn("fewer than two CPUs available; not pinning");
		d->cpu = d->client_cpu = -1;
	}
	pin_to(d->client_cpu);
	return true;
}

/* In the child: the daemon's CPU, an environment that cannot change its role or
 * folders, our notify socket, no terminal; then the daemon. */
static void exec_daemon(const struct bench_daemon *d, char *const argv[])
{
	pin_to(d->cpu);
	static const char *const scrub[] = {
		"DISCOVERY_SERVER_URL", "TANK_SERVER_ID",    "TANK_API_PORT", "TANKWORLD_LOG_LEVEL",
		"STATE_DIRECTORY",	"RUNTIME_DIRECTORY", "LISTEN_FDS",    "LISTEN_PID",
		"LISTEN_FDNAMES",	"WATCHDOG_USEC",     "WATCHDOG_PID"};
	for (size_t i = 0; i < sizeof scrub / sizeof scrub[0]; i++)
		unsetenv(scrub[i]);
	setenv("NOTIFY_SOCKET", d->notify_path, 1);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	execv(d->exe, argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", bench_prog, d->exe, strerror(errno));
	_exit(127);
}

int bench_daemon_start(struct bench_daemon *d, char *const argv[], double timeout_s)
{
	bench_daemon_drain_notify(d); /* nothing a previous instance said may count */
	double t0 = now_mono();
	pid_t pid = fork();
	if (pid < 0) {
		bench_warn("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		exec_daemon(d, argv);
	d->pid = alarm_victim = pid;
	d->port = -1;
	while (now_mono() < t0 + timeout_s) {
		struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
		int r = poll(&p, 1, 50);
		if (r <= 0) {
			if (!bench_daemon_alive(d))
				return -1;
			continue;
		}
		char buf[4096];
		ssize_t n = recv(d->notify_fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			continue;
		double t1 = now_mono();
		buf[n] = '\0';
		const char *mp = strstr(buf, "MAINPID=");
		if (!strstr(buf, "READY=1") || (mp && atoi(mp + 8) != (int)pid))
			continue;
		const char *pp = strstr(buf, ", port ");
		int port;
		if (!pp || sscanf(pp, ", port %d", &port) != 1 || port <= 0 || port > 65535) {
			bench_warn("READY without a port: %s", buf);
			return -1;
		}
		d->port = port;
		d->ready_s = t1 - t0;
		d->ready_cpu_s = bench_cpu_seconds(pid);
		return port;
	}
	bench_warn("%s not ready after %.0f s", d->name, timeout_s);
	return -1;
}

#define BENCH_MAX_SETS 24

int bench_daemon_start_sets(struct bench_daemon *d, const char *const sets[], double timeout_s)
{
	char state[sizeof d->tmpdir + 32], run[sizeof d->tmpdir + 32];
	snprintf(state, sizeof state, "server.state_dir=%s/state", d->tmpdir);
	snprintf(run, sizeof run, "server.runtime_dir=%s/run", d->tmpdir);
	const char *common[] = {state, run, "server.log_level=warning",
				"server.advertise_host=127.0.0.1"};
	char *argv[3 + 2 * BENCH_MAX_SETS + 1];
	int a = 0;
	argv[a++] = (char *)d->exe;
	argv[a++] = "-c";
	argv[a++] = d->conf;
	for (size_t i = 0; i < sizeof common / sizeof *common; i++) {
		argv[a++] = "--set";
		argv[a++] = (char *)common[i];
	}
	for (size_t i = 0; sets[i]; i++) {
		if (a + 3 > (int)(sizeof argv / sizeof *argv)) {
			bench_warn("too many settings for %s", d->exe);
			return -1;
		}
		argv[a++] = "--set";
		argv[a++] = (char *)sets[i];
	}
	argv[a] = NULL;
	return bench_daemon_start(d, argv, timeout_s);
}

static void forget_pid(struct bench_daemon *d)
{
	d->pid = alarm_victim = -1;
}

/* Says how a reaped daemon ended. */
static void report_exit(const struct bench_daemon *d, int st, const char *when)
{
	if (WIFEXITED(st))
		bench_warn("%s exited with status %d%s", d->name, WEXITSTATUS(st), when);
	else
		bench_warn("%s was killed by signal %d%s", d->name, WTERMSIG(st), when);
}

bool bench_daemon_alive(struct bench_daemon *d)
{
	if (d->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(d->pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r == d->pid) {
		report_exit(d, st, "");
		forget_pid(d);
	}
	return false;
}

bool bench_daemon_stop(struct bench_daemon *d, double timeout_s, double *took)
{
	if (d->pid <= 0)
		return false;
	double t0 = now_mono();
	kill(d->pid, SIGTERM);
	int st;
	while (now_mono() < t0 + timeout_s) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);
		if (r == d->pid) {
			forget_pid(d);
			if (took)
				*took = now_mono() - t0;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return true;
			report_exit(d, st, " on SIGTERM");
			return false;
		}
		usleep(2000);
	}
	bench_warn("%s ignored SIGTERM for %.0f s; killing it", d->name, timeout_s);
	bench_daemon_kill(d);
	return false;
}

void bench_daemon_kill(struct bench_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		forget_pid(d);
	}
}

void bench_daemon_drain_notify(struct bench_daemon *d)
{
	char buf[4096];
	while (d->notify_fd >= 0 && recv(d->notify_fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

void bench_daemon_idle(struct bench_daemon *d, double seconds)
{
	double until = now_mono() + seconds;
	for (double left; (left = until - now_mono()) > 0;) {
		struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
			bench_daemon_drain_notify(d);
	}
}

void bench_daemon_cleanup(struct bench_daemon *d)
{
	bench_daemon_kill(d);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	if (d->tmpdir[0])
		nftw(d->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	d->tmpdir[0] = '\0';
}

/* ---- the load generator ----------------------------------------------------------- */

void loadgen_fail(struct loadgen *lg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	lg->failed = true;
	event_base_loopbreak(lg->base);
}

void loadgen_send(struct loadgen_conn *c, const char *method, const char *path, const char *body,
		  size_t body_len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
			    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: %s\r\n"
			    "Accept: application/json\r\nAuthorization: Bearer %s\r\n",
			    method, path, c->lg->daemon->port, bench_prog, bench_token);
	if (body)
		evbuffer_add_printf(out,
				    "Content-Type: application/json\r\nContent-Length: %zu\r\n",
				    body_len);
	evbuffer_add(out, "\r\n", 2);
	if (body)
		evbuffer_add(out, body, body_len);
	c->busy = true;
	c->in_body = false;
	c->sent_at = now_mono();
}

bool loadgen_all_idle(const struct loadgen *lg)
{
	for (int i = 0; i < lg->n_conns; i++)
		if (lg->conns[i].busy)
			return false;
	return true;
}

/* Asks the job for the next request on c; once it has none and all are idle, stops. */
static void issue(struct loadgen_conn *c)
{
	struct loadgen *lg = c->lg;
	if (lg->failed || lg->done)
		return;
	if (lg->next(lg, c))
		return;
	if (loadgen_all_idle(lg)) {
		lg->done = true;
		event_base_loopexit(lg->base, NULL);
	}
}

/* Status line and Content-Length. The daemons never chunk and keep connections open;
 * anything else would make the figures measure something other than intended. */
static bool parse_headers(struct loadgen_conn *c, const char *h, size_t len)
{
	if (len < 12 || strncmp(h, "HTTP/1.1 ", 9) != 0)
		return false;
	c->status = atoi(h + 9);
	c->content_length = 0;
	bool have_length = false;
	const char *end = h + len;
	for (const char *line = memchr(h, '\n', len); line && line < end;
	     line = memchr(line, '\n', (size_t)(end - line))) {
		line++;
		size_t rest = (size_t)(end - line);
		if (rest > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
			c->content_length = strtoul(line + 15, NULL, 10);
			have_length = true;
		} else if (rest > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			bench_warn("unexpected Transfer-Encoding");
			return false;
		} else if (rest > 17 && strncasecmp(line, "Connection: close", 17) == 0) {
			bench_warn("the daemon closes keep-alive connections");
			return false;
		}
	}
	return have_length;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct loadgen_conn *c = arg;
	struct loadgen *lg = c->lg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		if (!c->in_body) {
			struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (p.pos < 0) {
				if (evbuffer_get_length(in) > MAX_HEADER_BYTES)
					loadgen_fail(lg, "response headers too large");
				return;
			}
			size_t hlen = (size_t)p.pos + 4;
			const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
			if (!c->busy || !parse_headers(c, h, hlen)) {
				loadgen_fail(lg, "malformed or unexpected HTTP response: %.*s",
					     (int)(hlen > 200 ? 200 : hlen), h);
				return;
			}
			evbuffer_drain(in, hlen);
			c->in_body = true;
		}
		if (evbuffer_get_length(in) < c->content_length)
			return;
		const char *body = (const char *)evbuffer_pullup(in, (ev_ssize_t)c->content_length);
		size_t len = c->content_length;
		double t = now_mono();
		c->in_body = false;
		c->busy = false;
		lg->answer(lg, c, body ? body : "", len, t);
		evbuffer_drain(in, len);
		if (lg->failed)
			return;
		issue(c);
		if (lg->failed || lg->done || evbuffer_get_length(in) == 0)
			return;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct loadgen_conn *c = arg;
	struct loadgen *lg = c->lg;
	if (what & BEV_EVENT_CONNECTED) {
		/* Requests are small and answered one at a time: no Nagle delay. */
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (++lg->n_connected == lg->n_conns)
			for (int i = 0; i < lg->n_conns; i++)
				issue(&lg->conns[i]);
		return;
	}
	loadgen_fail(lg, "connection %d: %s%s", loadgen_conn_index(c),
		     (what & BEV_EVENT_EOF) ? "closed by the daemon" : "error: ",
		     (what & BEV_EVENT_EOF) ? ""
					    : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void on_child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct loadgen *lg = arg;
	if (!bench_daemon_alive(lg->daemon))
		loadgen_fail(lg, "%s died under load", lg->daemon->name);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct loadgen *lg = arg;
	lg->timed_out = true;
	loadgen_fail(lg, "the load run timed out");
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	bench_daemon_drain_notify(arg);
}

struct loadgen *loadgen_new(struct bench_daemon *d, int n_conns, double deadline_s)
{
	struct loadgen *lg = calloc(1, sizeof *lg);
	if (!lg || !(lg->base = event_base_new()))
		abort();
	lg->daemon = d;
	lg->n_conns = n_conns < LOADGEN_MAX_CONNS ? n_conns : LOADGEN_MAX_CONNS;
	lg->child_timer = event_new(lg->base, -1, EV_PERSIST, on_child_timer, lg);
	lg->deadline = evtimer_new(lg->base, on_deadline, lg);
	lg->notify_ev = event_new(lg->base, d->notify_fd, EV_READ | EV_PERSIST, on_notify, d);
	struct timeval ct = {0, 100000}, dt = {(time_t)deadline_s, 0};
	event_add(lg->child_timer, &ct);
	event_add(lg->deadline, &dt);
	event_add(lg->notify_ev, NULL);
	return lg;
}

bool loadgen_run(struct loadgen *lg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)lg->daemon->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < lg->n_conns; i++) {
		struct loadgen_conn *c = &lg->conns[i];
		c->lg = lg;
		c->bev = bufferevent_socket_new(lg->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			abort();
		bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
			loadgen_fail(lg, "connect: %s", strerror(errno));
			return false;
		}
	}
	event_base_dispatch(lg->base);
	return !lg->failed && lg->done;
}

void loadgen_free(struct loadgen *lg)
{
	for (int i = 0; i < lg->n_conns; i++)
		if (lg->conns[i].bev)
			bufferevent_free(lg->conns[i].bev);
	event_free(lg->child_timer);
	event_free(lg->deadline);
	event_free(lg->notify_ev);
	event_base_free(lg->base);
	free(lg);
}

void loadgen_after(struct loadgen *lg, struct event **ev, double s, event_callback_fn fn, void *arg)
{
	if (!*ev)
		*ev = evtimer_new(lg->base, fn, arg);
	struct timeval tv = timer_tv(s);
	evtimer_add(*ev, &tv);
}

/* ---- a blocking HTTP client for set-up and checks ----------------------------- */

static bool send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

int bench_http(int port, const char *token, const char *method, const char *path, const char *body,
	       char **ret, size_t *ret_len)
{
	*ret = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		/* Quiet: callers poll a port that is not up yet this way. */
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[1024], auth[160] = "", ctype[96] = "";
	if (token)
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
	if (body)
		snprintf(ctype, sizeof ctype,
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	int hl = snprintf(head, sizeof head,
			  "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
			  "Accept: application/json\r\n%s%s\r\n",
			  method, path, port, auth, ctype);
	if (!send_all(fd, head, (size_t)hl) || (body && !send_all(fd, body, blen))) {
		bench_warn("%s %s: send failed", method, path);
		close(fd);
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	double until = now_mono() + 60;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((until - now_mono()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			bench_warn("%s %s: no answer", method, path);
			free(buf);
			close(fd);
			return -1;
		}
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bench_warn("%s %s: %s", method, path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	int status = -1;
	if (len < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0 || !sep) {
		bench_warn("%s %s: malformed answer", method, path);
		free(buf);
		return -1;
	}
	status = atoi(buf + 9);
	size_t off = (size_t)(sep + 4 - buf);
	memmove(buf, buf + off, len - off + 1);
	*ret = buf;
	if (ret_len)
		*ret_len = len - off;
	return status;
}
