/* bench-simd: the tank daemon's three figures (issue 4), each on a simd of its own that
 * this program starts (temporary state and runtime directories under /tmp, its own
 * NOTIFY_SOCKET to learn readiness and the bound port), pinned to one CPU while the
 * client runs on another:
 *
 *  1. GET /api/tanks/{id} per second on loopback, 24 keep-alive connections, one request
 *     in flight on each (no pipelining), while a 1,000-fish tank ticks at 30/s
 *     (3441x1935 px: the density of the original tank at capacity, as bench-sim uses).
 *     Latency is per request, from the write to the whole answer. The tick rate the tank
 *     held is the frame counter of the answers, first and last in the window.
 *  2. Durable arrivals per second: POST /api/remote-transfer from one process over 32
 *     keep-alive connections (concurrency 32), each answered only after its record is
 *     fdatasync'ed (group commit). Fish are minted from one real fish of the daemon by
 *     giving it fresh random ids. The destination tank is paused, so afterwards it must
 *     hold exactly the fish answered 200, and a repeated transfer_id must change nothing.
 *     Batching is the journal's records / syncs from /metrics over the arrival run.
 *  3. Restart of a 10,000-fish tank (10880x6120 px, paused): SIGTERM (final snapshot),
 *     start, time from fork+exec to READY=1; then arrivals into that tank so the journal
 *     holds records the snapshot lacks, kill -9, start again and time it (snapshot +
 *     journal replay); and a tank killed before any snapshot, rebuilt from the journal
 *     alone. After each start the fish count must equal the count before.
 *
 * Lines printed follow DESIGN §2: "bench: <name> <value> <unit>"; details go to stderr.
 * Exit status 1 when a check fails or a daemon dies.
 *
 * Usage: bench-simd [ABS_TOP_BUILDDIR]   (or $abs_top_builddir, or $SIMD)
 * Tunables for experiments: BENCH_DURATION (s, per load window), BENCH_CONNS_GET,
 * BENCH_CONNS_ARRIVE, BENCH_TMPDIR (a folder on the disk whose fsync is to be measured),
 * BENCH_ONLY=get|arrive|restart (run one part). */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define SERVER_ID "bench-simd"
#define SOURCE_SERVER "bench-source"
#define DEFAULT_CONNS_GET 24
#define DEFAULT_CONNS_ARRIVE 32
#define MAX_CONNS 256
#define DEFAULT_DURATION_S 4.0
#define WARMUP_S 1.0
#define GET_FISH 1000
#define GET_W 3441
#define GET_H 1935
#define RESTART_FISH 10000
#define RESTART_W 10880
#define RESTART_H 6120
#define RESTART_ARRIVALS 500
#define MAX_HEADER_BYTES (64 * 1024)
#define FISH_ID_MARK "0badf15h-0000-4000-8000-000000000000" /* 36 chars, never a UUID */

static char tmpdir[4096];
static bool tmpdir_made;
static const char *simd_exe;
static int daemon_cpu = -1, client_cpu = -1;
static int notify_fd = -1;
static char notify_path[sizeof ((struct sockaddr_un *)0)->sun_path];
static volatile pid_t child_pid = -1; /* the simd running now, if any */
static bool any_failure, printed_arrivals_verified, printed_restart_verified;

static void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnx_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-simd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* ---- the daemon ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void kill_child(void)
{
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
		child_pid = -1;
	}
}

static void cleanup(void)
{
	kill_child();
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	if (tmpdir_made)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir_made = false;
}

static void on_alarm(int sig)
{
	/* Last resort if something wedges: never leave a daemon behind. */
	static const char msg[] = "bench-simd: overall time limit exceeded\n";
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(2);
}

static int pick_cpus(int *dcpu, int *ccpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return -1;
	int found = 0;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
		if (CPU_ISSET(c, &set))
			*(found++ == 0 ? dcpu : ccpu) = c;
	return found == 2 ? 0 : -1;
}

static void pin_to(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		warnx_("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static void drain_notify(void)
{
	char buf[4096];
	while (recv(notify_fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

static bool child_alive(void)
{
	if (child_pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(child_pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r == child_pid) {
		if (WIFEXITED(st))
			warnx_("simd exited with status %d", WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			warnx_("simd was killed by signal %d", WTERMSIG(st));
		child_pid = -1;
	}
	return false;
}

/* Starts simd on instance folder NAME (state and runtime below it) and waits for READY=1.
 * Returns the TCP port; *ready_s is the time from just before fork to READY. */
static double cpu_seconds(pid_t pid);
static double ready_cpu_s; /* CPU seconds the last simd started had used at READY */

static int start_simd(const char *name, double snapshot_interval, double *ready_s)
{
	char conf[4200], state[4200], run[4200], snap[64];
	snprintf(conf, sizeof conf, "%s/tankworld.conf", tmpdir);
	snprintf(state, sizeof state, "server.state_dir=%s/%s/state", tmpdir, name);
	snprintf(run, sizeof run, "server.runtime_dir=%s/%s/run", tmpdir, name);
	snprintf(snap, sizeof snap, "sim.snapshot_interval=%g", snapshot_interval);
	if (access(conf, F_OK) < 0) {
		FILE *f = fopen(conf, "w");
		if (!f || fclose(f) != 0) {
			warnx_("cannot write %s", conf);
			return -1;
		}
	}
	drain_notify();
	double t0 = now_mono();
	pid_t pid = fork();
	if (pid < 0) {
		warnx_("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		pin_to(daemon_cpu);
		static const char *const scrub[] = {"DISCOVERY_SERVER_URL", "TANK_SERVER_ID",
			"TANK_API_PORT", "TANKWORLD_LOG_LEVEL", "STATE_DIRECTORY", "RUNTIME_DIRECTORY",
			"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"};
		for (size_t i = 0; i < sizeof scrub / sizeof scrub[0]; i++)
			unsetenv(scrub[i]);
		setenv("NOTIFY_SOCKET", notify_path, 1);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			close(devnull);
		}
		char *const argv[] = {(char *)simd_exe, "-c", conf,
			"--set", "server.server_id=" SERVER_ID,
			"--set", state,
			"--set", run,
			"--set", "server.log_level=warning",
			"--set", "sim.listen=127.0.0.1:0",
			"--set", "sim.tick_rate=30",
			"--set", snap,
			NULL};
		execv(simd_exe, argv);
		fprintf(stderr, "bench-simd: cannot run %s: %s\n", simd_exe, strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	double until = t0 + 30;
	while (now_mono() < until) {
		struct pollfd p = {.fd = notify_fd, .events = POLLIN};
		int r = poll(&p, 1, 50);
		if (r <= 0) {
			if (!child_alive())
				return -1;
			continue;
		}
		char buf[4096];
		ssize_t n = recv(notify_fd, buf, sizeof buf - 1, 0);
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
			warnx_("READY without a port: %s", buf);
			return -1;
		}
		if (ready_s)
			*ready_s = t1 - t0;
		ready_cpu_s = cpu_seconds(pid);
		return port;
	}
	warnx_("simd not ready after 30 s");
	return -1;
}

/* SIGTERM and wait for exit 0; *took is the time it needed (the final snapshot). */
static bool stop_simd(double *took)
{
	if (child_pid <= 0)
		return false;
	double t0 = now_mono();
	kill(child_pid, SIGTERM);
	int st;
	while (now_mono() < t0 + 20) {
		pid_t r = waitpid(child_pid, &st, WNOHANG);
		if (r == child_pid) {
			child_pid = -1;
			if (took)
				*took = now_mono() - t0;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return true;
			if (WIFEXITED(st))
				warnx_("simd exited with status %d on SIGTERM", WEXITSTATUS(st));
			else
				warnx_("simd was killed by signal %d on SIGTERM", WTERMSIG(st));
			return false;
		}
		usleep(2000);
	}
	warnx_("simd ignored SIGTERM for 20 s; killing it");
	kill_child();
	return false;
}

static void kill9_simd(void)
{
	kill_child();
}

/* CPU seconds (user + system, all threads) a process has used so far. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Seconds a thread has waited for a CPU while runnable (/proc/.../schedstat): how much
 * other work on the machine took the CPU it is pinned to. */
static double run_delay_seconds(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long run, wait;
	int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;
	if (f)
		fclose(f);
	return n == 2 ? (double)wait / 1e9 : 0;
}

static double daemon_run_delay(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)child_pid, (int)child_pid);
	return run_delay_seconds(path);
}

static double self_run_delay(void)
{
	return run_delay_seconds("/proc/thread-self/schedstat");
}

/* VmRSS of a process in MiB, or -1. */
static double rss_mb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	double kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

static double self_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* One request on a connection of its own; returns the status (or -1), the body in *ret
 * (NUL-terminated, caller frees). */
static int http_call(int port, const char *method, const char *path, const char *body,
		     char **ret, size_t *ret_len)
{
	*ret = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		warnx_("connect to port %d: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[1024];
	int hl;
	if (body)
		hl = snprintf(head, sizeof head,
			      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
			      "Accept: application/json\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n", method, path, port, blen);
	else
		hl = snprintf(head, sizeof head,
			      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
			      "Accept: application/json\r\n\r\n", method, path, port);
	if (!send_all(fd, head, (size_t)hl) || (body && !send_all(fd, body, blen))) {
		warnx_("%s %s: send failed", method, path);
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
			warnx_("%s %s: no answer", method, path);
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
			warnx_("%s %s: %s", method, path, strerror(errno));
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
		warnx_("%s %s: malformed answer", method, path);
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

/* A request whose answer must be `want` with a JSON object body; NULL otherwise. */
static json_object *http_json(int port, const char *method, const char *path, const char *body,
			      int want)
{
	char *text;
	int st = http_call(port, method, path, body, &text, NULL);
	if (st < 0)
		return NULL;
	json_object *o = json_tokener_parse(text);
	if (st != want || !o || !json_object_is_type(o, json_type_object)) {
		warnx_("%s %s: HTTP %d (expected %d): %.300s", method, path, st, want, text);
		json_object_put(o);
		free(text);
		return NULL;
	}
	free(text);
	return o;
}

/* o.a.b... as int64; -1 when missing. */
static int64_t jget_int(json_object *o, const char *k1, const char *k2)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, k1, &v))
		return -1;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return -1;
	return json_object_get_int64(v);
}

static const char *jget_str(json_object *o, const char *k1, const char *k2)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_get_string(v);
}

/* POST /api/tanks; the new id in id_out. */
static bool create_tank(int port, const char *name, int fish, int max_fish, int w, int h,
			bool paused, int seed, char id_out[128])
{
	char body[512];
	snprintf(body, sizeof body,
		 "{\"name\":\"%s\",\"initial_fish\":%d,\"max_fish\":%d,\"width\":%d,\"height\":%d,"
		 "\"paused\":%s,\"seed\":%d}", name, fish, max_fish, w, h, paused ? "true" : "false",
		 seed);
	json_object *o = http_json(port, "POST", "/api/tanks", body, 201);
	const char *id = jget_str(o, "tank", "tank_id");
	if (!id) {
		json_object_put(o);
		return false;
	}
	snprintf(id_out, 128, "%s", id);
	json_object_put(o);
	return true;
}

static int64_t fish_count(int port, const char *tank)
{
	char path[256];
	snprintf(path, sizeof path, "/api/tanks/%s", tank);
	json_object *o = http_json(port, "GET", path, NULL, 200);
	int64_t n = jget_int(o, "stats", "fish_count");
	json_object_put(o);
	return n;
}

/* A counter from GET /metrics, or -1. */
static int64_t metric(int port, const char *name)
{
	char *text;
	if (http_call(port, "GET", "/metrics", NULL, &text, NULL) != 200) {
		free(text);
		return -1;
	}
	char key[128];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = strstr(text, key);
	int64_t v = p ? strtoll(p + strlen(key), NULL, 10) : -1;
	free(text);
	return v;
}

/* One real fish of the tank, as migration carries it, with its "id" replaced by
 * FISH_ID_MARK so copies with fresh ids can be minted; NULL on failure. */
static char *fish_template(int port, const char *tank)
{
	char path[256];
	snprintf(path, sizeof path, "/api/tanks/%s/state", tank);
	json_object *st = http_json(port, "GET", path, NULL, 200), *ents;
	const char *fid = NULL;
	if (st && json_object_object_get_ex(st, "entities", &ents))
		for (size_t i = 0; i < json_object_array_length(ents) && !fid; i++) {
			json_object *e = json_object_array_get_idx(ents, i);
			const char *kind = jget_str(e, "kind", NULL);
			if (kind && strcmp(kind, "fish") == 0)
				fid = jget_str(e, "id", NULL);
		}
	if (!fid) {
		warnx_("tank %s has no fish to copy", tank);
		json_object_put(st);
		return NULL;
	}
	snprintf(path, sizeof path, "/api/tanks/%s/fish/%s", tank, fid);
	json_object_put(st);
	json_object *f = http_json(port, "GET", path, NULL, 200);
	if (!f)
		return NULL;
	json_object_object_add(f, "id", json_object_new_string(FISH_ID_MARK));
	char *t = strdup(json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
	json_object_put(f);
	if (!t || !strstr(t, FISH_ID_MARK))
		abort();
	return t;
}

/* ---- the load generator: keep-alive connections, one request in flight each ----- */

struct lg;

struct lg_conn {
	struct lg *lg;
	struct bufferevent *bev;
	bool busy, in_body;
	int status;
	size_t content_length;
	double sent_at;
	long tag; /* the job's own note about the request in flight */
};

struct lg {
	struct event_base *base;
	int port, n_conns, n_connected;
	struct lg_conn conns[MAX_CONNS];
	bool failed, done;
	/* The job: issue the next request on c (false: nothing more to send), and take an
	 * answer. */
	bool (*next)(struct lg *lg, struct lg_conn *c);
	void (*answer)(struct lg *lg, struct lg_conn *c, const char *body, size_t len, double t);
	void *job;
	struct event *child_timer, *deadline;
};

static void lg_fail(struct lg *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lg_fail(struct lg *lg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-simd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	lg->failed = true;
	event_base_loopbreak(lg->base);
}

static void lg_send(struct lg_conn *c, const char *method, const char *path, const char *body,
		    size_t body_len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			    "Accept: application/json\r\n", method, path, c->lg->port);
	if (body)
		evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
				    body_len);
	evbuffer_add(out, "\r\n", 2);
	if (body)
		evbuffer_add(out, body, body_len);
	c->busy = true;
	c->in_body = false;
	c->sent_at = now_mono();
}

static bool lg_all_idle(const struct lg *lg)
{
	for (int i = 0; i < lg->n_conns; i++)
		if (lg->conns[i].busy)
			return false;
	return true;
}

/* Ask the job for the next request on c; once nothing is left and all are idle, stop. */
static void lg_issue(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	if (lg->failed || lg->done)
		return;
	if (lg->next(lg, c))
		return;
	if (lg_all_idle(lg)) {
		lg->done = true;
		event_base_loopexit(lg->base, NULL);
	}
}

static bool lg_parse_headers(struct lg_conn *c, const char *h, size_t len)
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
			warnx_("unexpected Transfer-Encoding");
			return false;
		} else if (rest > 17 && strncasecmp(line, "Connection: close", 17) == 0) {
			warnx_("the daemon closes keep-alive connections");
			return false;
		}
	}
	return have_length;
}

static void lg_on_read(struct bufferevent *bev, void *arg)
{
	struct lg_conn *c = arg;
	struct lg *lg = c->lg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		if (!c->in_body) {
			struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (p.pos < 0) {
				if (evbuffer_get_length(in) > MAX_HEADER_BYTES)
					lg_fail(lg, "response headers too large");
				return;
			}
			size_t hlen = (size_t)p.pos + 4;
			const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
			if (!c->busy || !lg_parse_headers(c, h, hlen)) {
				lg_fail(lg, "malformed or unexpected HTTP response: %.*s",
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
		lg_issue(c);
		if (lg->failed || lg->done || evbuffer_get_length(in) == 0)
			return;
	}
}

static void lg_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lg_conn *c = arg;
	struct lg *lg = c->lg;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (++lg->n_connected == lg->n_conns)
			for (int i = 0; i < lg->n_conns; i++)
				lg_issue(&lg->conns[i]);
		return;
	}
	lg_fail(lg, "connection %d: %s%s", (int)(c - lg->conns),
		(what & BEV_EVENT_EOF) ? "closed by the daemon" : "error: ",
		(what & BEV_EVENT_EOF) ? "" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void lg_on_child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	if (!child_alive())
		lg_fail(lg, "simd died under load");
}

static void lg_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	lg_fail(arg, "the load run timed out");
}

static struct lg *lg_new(int port, int n_conns, double deadline_s)
{
	struct lg *lg = calloc(1, sizeof *lg);
	if (!lg || !(lg->base = event_base_new()))
		abort();
	lg->port = port;
	lg->n_conns = n_conns;
	lg->child_timer = event_new(lg->base, -1, EV_PERSIST, lg_on_child_timer, lg);
	lg->deadline = evtimer_new(lg->base, lg_on_deadline, lg);
	struct timeval ct = {0, 100000}, dt = {(time_t)deadline_s, 0};
	event_add(lg->child_timer, &ct);
	event_add(lg->deadline, &dt);
	return lg;
}

/* Connect every connection, then run the job until it has nothing left or fails. */
static bool lg_run(struct lg *lg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lg->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < lg->n_conns; i++) {
		struct lg_conn *c = &lg->conns[i];
		c->lg = lg;
		c->bev = bufferevent_socket_new(lg->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			abort();
		bufferevent_setcb(c->bev, lg_on_read, NULL, lg_on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
			lg_fail(lg, "connect: %s", strerror(errno));
			return false;
		}
	}
	event_base_dispatch(lg->base);
	return !lg->failed && lg->done;
}

static void lg_free(struct lg *lg)
{
	for (int i = 0; i < lg->n_conns; i++)
		if (lg->conns[i].bev)
			bufferevent_free(lg->conns[i].bev);
	event_free(lg->child_timer);
	event_free(lg->deadline);
	event_base_free(lg->base);
	free(lg);
}

/* A timer on the load generator's loop. */
static void lg_after(struct lg *lg, struct event **ev, double s, event_callback_fn fn, void *arg)
{
	if (!*ev)
		*ev = evtimer_new(lg->base, fn, arg);
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
	evtimer_add(*ev, &tv);
}

enum window { W_WARMUP, W_MEASURE, W_DRAIN };

static double percentile(double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- 1. GET /api/tanks/{id} under load ------------------------------------------- */

struct get_job {
	struct lg *lg;
	char path[200];
	enum window w;
	double duration, t_start, t_end;
	struct event *timer;
	uint64_t ok_window, ok_total;
	double *lat;
	size_t n_lat, cap_lat;
	uint64_t frame_first, frame_last;
	double frame_first_t, frame_last_t;
	bool have_first;
	double dcpu0, dcpu1, ccpu0, ccpu1, dwait0, dwait1, cwait0, cwait1;
};

static bool get_next(struct lg *lg, struct lg_conn *c)
{
	struct get_job *j = lg->job;
	if (j->w == W_DRAIN)
		return false;
	c->tag = j->w == W_MEASURE;
	lg_send(c, "GET", j->path, NULL, 0);
	return true;
}

static void get_answer(struct lg *lg, struct lg_conn *c, const char *body, size_t len, double t)
{
	struct get_job *j = lg->job;
	if (c->status != 200) {
		lg_fail(lg, "GET %s: HTTP %d: %.*s", j->path, c->status, (int)(len > 300 ? 300 : len),
			body);
		return;
	}
	j->ok_total++;
	if (j->w != W_MEASURE || !c->tag)
		return; /* sent before the window opened, or answered after it closed */
	j->ok_window++;
	if (j->n_lat == j->cap_lat) {
		j->cap_lat = j->cap_lat ? 2 * j->cap_lat : 65536;
		j->lat = realloc(j->lat, j->cap_lat * sizeof *j->lat);
		if (!j->lat)
			abort();
	}
	j->lat[j->n_lat++] = t - c->sent_at;
	/* The frame counter, published by the tick thread after every tick. */
	const char *p = memmem(body, len, "\"frame\":", 8);
	if (p) {
		uint64_t f = strtoull(p + 8, NULL, 10);
		if (!j->have_first) {
			j->have_first = true;
			j->frame_first = f;
			j->frame_first_t = t;
		}
		if (f >= j->frame_last) {
			j->frame_last = f;
			j->frame_last_t = t;
		}
	}
}

static void get_timer(evutil_socket_t fd, short what, void *arg)
{
	struct get_job *j = arg;
	if (j->w == W_WARMUP) {
		j->w = W_MEASURE;
		j->t_start = now_mono();
		j->dcpu0 = cpu_seconds(child_pid);
		j->ccpu0 = self_cpu_seconds();
		j->dwait0 = daemon_run_delay();
		j->cwait0 = self_run_delay();
		lg_after(j->lg, &j->timer, j->duration, get_timer, j);
	} else {
		j->w = W_DRAIN;
		j->t_end = now_mono();
		j->dcpu1 = cpu_seconds(child_pid);
		j->ccpu1 = self_cpu_seconds();
		j->dwait1 = daemon_run_delay();
		j->cwait1 = self_run_delay();
	}
}

static bool bench_get(double duration, int conns)
{
	double ready;
	int port = start_simd("get", 60, &ready);
	if (port < 0)
		return false;
	char tank[128];
	if (!create_tank(port, "bench-get", GET_FISH, GET_FISH, GET_W, GET_H, false, 1, tank))
		return false;
	int64_t fish0 = fish_count(port, tank);
	warnx_("[get] simd pid %d port %d on CPU %d (client CPU %d); tank %s: %" PRId64 " fish, "
	       "%dx%d, ticking at 30/s; %d keep-alive connections, %.0f s warm-up, %.1f s window",
	       (int)child_pid, port, daemon_cpu, client_cpu, tank, fish0, GET_W, GET_H, conns,
	       WARMUP_S, duration);

	struct get_job j = {.duration = duration, .w = W_WARMUP};
	snprintf(j.path, sizeof j.path, "/api/tanks/%s", tank);
	struct lg *lg = lg_new(port, conns, duration + WARMUP_S + 30);
	j.lg = lg;
	lg->job = &j;
	lg->next = get_next;
	lg->answer = get_answer;
	lg_after(lg, &j.timer, WARMUP_S, get_timer, &j);
	bool ok = lg_run(lg);
	if (j.timer)
		event_free(j.timer);
	lg_free(lg);
	if (!ok) {
		free(j.lat);
		return false;
	}
	int64_t fish1 = fish_count(port, tank);
	double window = j.t_end - j.t_start;
	qsort(j.lat, j.n_lat, sizeof *j.lat, cmp_double);
	double p50 = percentile(j.lat, j.n_lat, 0.50) * 1e3, p99 = percentile(j.lat, j.n_lat, 0.99) * 1e3;
	double p999 = percentile(j.lat, j.n_lat, 0.999) * 1e3, max = j.n_lat ? j.lat[j.n_lat - 1] * 1e3 : 0;
	double ticks = j.frame_last_t > j.frame_first_t
			       ? (double)(j.frame_last - j.frame_first) / (j.frame_last_t - j.frame_first_t)
			       : 0;
	printf("bench: simd_get_tank_per_s_1000_fish %.0f req/s\n", (double)j.ok_window / window);
	printf("bench: simd_get_tank_p99_ms_1000_fish %.3f ms\n", p99);
	printf("bench: simd_get_tank_p50_ms_1000_fish %.3f ms\n", p50);
	printf("bench: simd_ticks_per_s_during_get_load %.1f ticks/s\n", ticks);
	warnx_("[get] %" PRIu64 " answers in %.2f s; latency p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms; "
	       "frames %" PRIu64 " -> %" PRIu64 "; fish %" PRId64 " -> %" PRId64, j.ok_window, window,
	       p50, p99, p999, max, j.frame_first, j.frame_last, fish0, fish1);
	warnx_("[get] during the window simd used %.0f%% of a CPU (%.0f answers per simd "
	       "CPU-second, %.1f us each), the client %.0f%%; waiting for their CPU while runnable "
	       "(other work on the machine): simd's event loop %.0f%% of the window, the client %.0f%%",
	       100 * (j.dcpu1 - j.dcpu0) / window, (double)j.ok_window / (j.dcpu1 - j.dcpu0),
	       1e6 * (j.dcpu1 - j.dcpu0) / (double)j.ok_window, 100 * (j.ccpu1 - j.ccpu0) / window,
	       100 * (j.dwait1 - j.dwait0) / window, 100 * (j.cwait1 - j.cwait0) / window);
	free(j.lat);
	double took;
	return stop_simd(&took);
}

/* ---- 2. durable arrivals ----------------------------------------------------------- */

struct arrive_job {
	struct lg *lg;
	const char *dest_tank, *source_tank;
	const char *tmpl_a, *tmpl_b; /* the fish JSON around its id */
	size_t tmpl_a_len;
	enum window w;
	double duration, t_start, t_end;
	long limit; /* > 0: send exactly this many, no windows */
	struct event *timer;
	long sent;
	uint64_t ok_total, ok_window;
	char first_body[8192];
	double *lat;
	size_t n_lat, cap_lat;
	uint64_t per_s[32]; /* answers per second of the window: the tank grows meanwhile */
	char *buf;
	size_t buf_cap;
};

static bool arrive_next(struct lg *lg, struct lg_conn *c)
{
	struct arrive_job *j = lg->job;
	if (j->limit > 0 ? j->sent >= j->limit : j->w == W_DRAIN)
		return false;
	char tid[UUID_STR_LEN], fid[UUID_STR_LEN];
	uuid_random_str(tid);
	uuid_random_str(fid);
	size_t need = strlen(j->tmpl_a) + strlen(j->tmpl_b) + 512;
	if (need > j->buf_cap) {
		j->buf_cap = need;
		j->buf = realloc(j->buf, need);
		if (!j->buf)
			abort();
	}
	int n = snprintf(j->buf, j->buf_cap,
			 "{\"transfer_id\":\"%s\",\"destination_tank_id\":\"%s\",\"source_server_id\":\""
			 SOURCE_SERVER "\",\"source_tank_id\":\"%s\",\"entity_data\":%.*s%s%s}",
			 tid, j->dest_tank, j->source_tank, (int)j->tmpl_a_len, j->tmpl_a, fid,
			 j->tmpl_b);
	if (j->sent == 0)
		snprintf(j->first_body, sizeof j->first_body, "%s", j->buf);
	j->sent++;
	c->tag = j->w == W_MEASURE;
	lg_send(c, "POST", "/api/remote-transfer", j->buf, (size_t)n);
	return true;
}

static void arrive_answer(struct lg *lg, struct lg_conn *c, const char *body, size_t len, double t)
{
	struct arrive_job *j = lg->job;
	if (c->status != 200) {
		lg_fail(lg, "remote-transfer: HTTP %d: %.*s", c->status, (int)(len > 300 ? 300 : len),
			body);
		return;
	}
	j->ok_total++;
	if (j->w != W_MEASURE || !c->tag)
		return;
	j->ok_window++;
	size_t sec = (size_t)(t - j->t_start);
	if (sec < sizeof j->per_s / sizeof j->per_s[0])
		j->per_s[sec]++;
	if (j->n_lat == j->cap_lat) {
		j->cap_lat = j->cap_lat ? 2 * j->cap_lat : 16384;
		j->lat = realloc(j->lat, j->cap_lat * sizeof *j->lat);
		if (!j->lat)
			abort();
	}
	j->lat[j->n_lat++] = t - c->sent_at;
}

static void arrive_timer(evutil_socket_t fd, short what, void *arg)
{
	struct arrive_job *j = arg;
	if (j->w == W_WARMUP) {
		j->w = W_MEASURE;
		j->t_start = now_mono();
		lg_after(j->lg, &j->timer, j->duration, arrive_timer, j);
	} else {
		j->w = W_DRAIN;
		j->t_end = now_mono();
	}
}

/* Arrivals of minted fish into dest: for `duration` s after a warm-up, or exactly
 * `limit` of them. Returns the number answered 200 (all of them), -1 on failure. */
static long run_arrivals(int port, int conns, const char *tmpl, const char *source_tank,
			 const char *dest_tank, double duration, long limit, struct arrive_job *j)
{
	const char *mark = strstr(tmpl, FISH_ID_MARK);
	memset(j, 0, sizeof *j);
	j->dest_tank = dest_tank;
	j->source_tank = source_tank;
	j->tmpl_a = tmpl;
	j->tmpl_a_len = (size_t)(mark - tmpl);
	j->tmpl_b = mark + strlen(FISH_ID_MARK);
	j->duration = duration;
	j->limit = limit;
	j->w = limit > 0 ? W_MEASURE : W_WARMUP;
	struct lg *lg = lg_new(port, conns, (limit > 0 ? 30 : duration + WARMUP_S + 30));
	j->lg = lg;
	lg->job = j;
	lg->next = arrive_next;
	lg->answer = arrive_answer;
	if (limit <= 0)
		lg_after(lg, &j->timer, 0.5, arrive_timer, j);
	j->t_start = now_mono();
	bool ok = lg_run(lg);
	if (limit > 0)
		j->t_end = now_mono();
	if (j->timer)
		event_free(j->timer);
	lg_free(lg);
	free(j->buf);
	j->buf = NULL;
	return ok ? (long)j->ok_total : -1;
}

static bool bench_arrivals(double duration, int conns)
{
	double ready;
	int port = start_simd("arrive", 60, &ready);
	if (port < 0)
		return false;
	char src[128], dst[128];
	/* A paused source of real fish and a paused, empty destination: nothing is born or
	 * dies there, so its count is exactly the arrivals. */
	if (!create_tank(port, "bench-source", 1, 10, 1088, 612, true, 2, src) ||
	    !create_tank(port, "bench-arrivals", 0, 1000000, RESTART_W, RESTART_H, true, 3, dst))
		return false;
	char *tmpl = fish_template(port, src);
	if (!tmpl)
		return false;
	int64_t rec0 = metric(port, "tankworld_sim_journal_records_total");
	int64_t sync0 = metric(port, "tankworld_sim_journal_syncs_total");
	int64_t arr0 = metric(port, "tankworld_sim_arrivals_total");
	double dcpu0 = cpu_seconds(child_pid), ccpu0 = self_cpu_seconds(), t0 = now_mono();
	warnx_("[arrive] simd pid %d port %d on CPU %d (client CPU %d); fish of %zu bytes into "
	       "paused tank %s; %d keep-alive connections (concurrency %d), 0.5 s warm-up, "
	       "%.1f s window; state under %s", (int)child_pid, port, daemon_cpu, client_cpu,
	       strlen(tmpl), dst, conns, conns, duration, tmpdir);
	struct arrive_job j;
	long n = run_arrivals(port, conns, tmpl, src, dst, duration, 0, &j);
	double t1 = now_mono(), dcpu1 = cpu_seconds(child_pid), ccpu1 = self_cpu_seconds();
	free(tmpl);
	if (n < 0) {
		free(j.lat);
		return false;
	}
	int64_t rec1 = metric(port, "tankworld_sim_journal_records_total");
	int64_t sync1 = metric(port, "tankworld_sim_journal_syncs_total");
	int64_t arr1 = metric(port, "tankworld_sim_arrivals_total");
	double window = j.t_end - j.t_start;
	qsort(j.lat, j.n_lat, sizeof *j.lat, cmp_double);
	printf("bench: simd_durable_arrivals_per_s %.0f arrivals/s\n", (double)j.ok_window / window);
	double per_sync = sync1 > sync0 ? (double)(rec1 - rec0) / (double)(sync1 - sync0) : 0;
	printf("bench: simd_journal_records_per_sync %.1f records/sync\n", per_sync);
	warnx_("[arrive] %" PRIu64 " arrivals in the %.2f s window, %ld in all; latency p50 %.2f "
	       "p99 %.2f max %.2f ms; journal %" PRId64 " records in %" PRId64 " fdatasyncs",
	       j.ok_window, window, n, percentile(j.lat, j.n_lat, 0.5) * 1e3,
	       percentile(j.lat, j.n_lat, 0.99) * 1e3, j.n_lat ? j.lat[j.n_lat - 1] * 1e3 : 0,
	       rec1 - rec0, sync1 - sync0);
	warnx_("[arrive] over the run simd used %.0f%% of a CPU (%.0f us per arrival), the "
	       "client %.0f%%", 100 * (dcpu1 - dcpu0) / (t1 - t0), 1e6 * (dcpu1 - dcpu0) / (double)n,
	       100 * (ccpu1 - ccpu0) / (t1 - t0));
	char per[256] = "";
	for (size_t i = 0; i < (size_t)(window + 0.5) && i < sizeof j.per_s / sizeof j.per_s[0]; i++)
		snprintf(per + strlen(per), sizeof per - strlen(per), " %" PRIu64, j.per_s[i]);
	warnx_("[arrive] arrivals in each second of the window (the tank growing):%s", per);
	free(j.lat);

	/* Exactly the fish answered 200 are there; a repeated transfer changes nothing. */
	bool ok = true;
	int64_t have = fish_count(port, dst);
	if (have != n || arr1 - arr0 != n) {
		warnx_("[arrive] the destination holds %" PRId64 " fish and the daemon counted %" PRId64
		       " arrivals; %ld were answered 200", have, arr1 - arr0, n);
		ok = false;
	}
	char *text;
	int st = http_call(port, "POST", "/api/remote-transfer", j.first_body, &text, NULL);
	if (st != 200 || fish_count(port, dst) != have) {
		warnx_("[arrive] repeating the first transfer: HTTP %d %.200s; the count went from %"
		       PRId64, st, text ? text : "", have);
		ok = false;
	}
	free(text);
	printf("bench: simd_arrivals_verified %d bool\n", ok ? 1 : 0);
	printed_arrivals_verified = true;
	double took;
	return stop_simd(&took) && ok;
}

/* ---- 3. restart ------------------------------------------------------------------------ */

static bool check_count(int port, const char *tank, int64_t want, const char *when)
{
	int64_t have = fish_count(port, tank);
	if (have == want)
		return true;
	warnx_("[restart] after %s tank %s holds %" PRId64 " fish, not %" PRId64, when, tank, have,
	       want);
	return false;
}

static bool bench_restart(int conns)
{
	double ready, took;
	bool ok = true;
	int port = start_simd("restart", 60, &ready);
	if (port < 0)
		return false;
	char tank[128];
	double t0 = now_mono();
	if (!create_tank(port, "bench-restart", RESTART_FISH, RESTART_FISH + RESTART_ARRIVALS,
			 RESTART_W, RESTART_H, true, 4, tank))
		return false;
	int64_t before = fish_count(port, tank);
	warnx_("[restart] tank %s: %" PRId64 " fish (%dx%d, paused), created in %.3f s; simd RSS "
	       "%.0f MB", tank, before, RESTART_W, RESTART_H, now_mono() - t0, rss_mb(child_pid));
	if (before != RESTART_FISH) {
		warnx_("[restart] expected %d fish", RESTART_FISH);
		ok = false;
	}

	/* Clean: SIGTERM writes the final snapshot; the start loads it. */
	if (!stop_simd(&took))
		return false;
	warnx_("[restart] SIGTERM to exit (final snapshot): %.3f s", took);
	if ((port = start_simd("restart", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_s_10000_fish %.3f s\n", ready);
	warnx_("[restart] clean restart: READY after %.3f s, of which simd ran %.3f s on its CPU; "
	       "simd RSS %.0f MB", ready, ready_cpu_s, rss_mb(child_pid));
	ok &= check_count(port, tank, before, "a clean restart");

	/* kill -9 with records past the snapshot: arrivals the journal alone holds. */
	char *tmpl = fish_template(port, tank);
	if (!tmpl)
		return false;
	struct arrive_job j;
	long n = run_arrivals(port, conns, tmpl, tank, tank, 0, RESTART_ARRIVALS, &j);
	free(tmpl);
	free(j.lat);
	if (n != RESTART_ARRIVALS)
		return false;
	int64_t before9 = fish_count(port, tank);
	if (before9 != before + n) {
		warnx_("[restart] %ld arrivals made %" PRId64 " fish of %" PRId64, n, before9, before);
		ok = false;
	}
	kill9_simd();
	if ((port = start_simd("restart", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_after_kill9_s_10000_fish %.3f s\n", ready);
	warnx_("[restart] after kill -9: snapshot of %" PRId64 " fish + %ld journaled arrivals "
	       "replayed; READY after %.3f s, of which simd ran %.3f s on its CPU", before, n, ready,
	       ready_cpu_s);
	ok &= check_count(port, tank, before9, "kill -9 (snapshot + journal)");
	if (!stop_simd(&took))
		return false;

	/* kill -9 before any snapshot: the tank comes back from its journal record alone. */
	if ((port = start_simd("restart-nosnap", 60, &ready)) < 0)
		return false;
	if (!create_tank(port, "bench-restart", RESTART_FISH, RESTART_FISH, RESTART_W, RESTART_H,
			 true, 5, tank))
		return false;
	before = fish_count(port, tank);
	kill9_simd();
	if ((port = start_simd("restart-nosnap", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_after_kill9_no_snapshot_s_10000_fish %.3f s\n", ready);
	warnx_("[restart] after kill -9 before any snapshot: the tank rebuilt from its create "
	       "record (seeded, so the same %" PRId64 " fish); READY after %.3f s", before, ready);
	ok &= check_count(port, tank, before, "kill -9 (journal only)");
	if (!stop_simd(&took))
		return false;
	printf("bench: simd_restart_verified %d bool\n", ok ? 1 : 0);
	printed_restart_verified = true;
	return ok;
}

/* ---- main ------------------------------------------------------------------------------ */

static double env_double(const char *name, double def, double min, double max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	double x = strtod(v, NULL);
	return x < min ? min : x > max ? max : x;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char exe[4096];
	const char *top = argc > 1 ? argv[1] : getenv("abs_top_builddir");
	if (getenv("SIMD"))
		snprintf(exe, sizeof exe, "%s", getenv("SIMD"));
	else
		snprintf(exe, sizeof exe, "%s/simd/simd", top ? top : ".");
	if (access(exe, X_OK) < 0) {
		warnx_("%s: %s (pass the build directory as argument or set abs_top_builddir)", exe,
		       strerror(errno));
		return 1;
	}
	simd_exe = exe;
	double duration = env_double("BENCH_DURATION", DEFAULT_DURATION_S, 0.5, 20);
	int conns_get = (int)env_double("BENCH_CONNS_GET", DEFAULT_CONNS_GET, 1, MAX_CONNS);
	int conns_arrive = (int)env_double("BENCH_CONNS_ARRIVE", DEFAULT_CONNS_ARRIVE, 1, MAX_CONNS);
	signal(SIGPIPE, SIG_IGN);

	const char *base = getenv("BENCH_TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/tw-bench-simd.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		warnx_("mkdtemp %s: %s", tmpdir, strerror(errno));
		return 1;
	}
	tmpdir_made = true;
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", tmpdir) >= (int)sizeof sun.sun_path ||
	    notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		warnx_("notify socket: %s", strerror(errno));
		cleanup();
		return 1;
	}
	snprintf(notify_path, sizeof notify_path, "%s", sun.sun_path);
	int rcvbuf = 1 << 20;
	setsockopt(notify_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

	if (pick_cpus(&daemon_cpu, &client_cpu) < 0) {
		warnx_("fewer than two CPUs available; not pinning");
		daemon_cpu = client_cpu = -1;
	}
	pin_to(client_cpu);
	signal(SIGALRM, on_alarm);
	alarm(120);

	double t0 = now_mono();
	const char *only = getenv("BENCH_ONLY");
	if (only && !*only)
		only = NULL;
	if ((!only || strcmp(only, "get") == 0) && !bench_get(duration, conns_get)) {
		warnx_("the GET benchmark failed");
		any_failure = true;
	}
	kill_child();
	if ((!only || strcmp(only, "arrive") == 0) && !bench_arrivals(duration, conns_arrive)) {
		warnx_("the arrival benchmark failed");
		if (!printed_arrivals_verified)
			printf("bench: simd_arrivals_verified 0 bool\n");
		any_failure = true;
	}
	kill_child();
	if ((!only || strcmp(only, "restart") == 0) && !bench_restart(conns_arrive)) {
		warnx_("the restart benchmark failed");
		if (!printed_restart_verified)
			printf("bench: simd_restart_verified 0 bool\n");
		any_failure = true;
	}
	kill_child();
	warnx_("done in %.1f s", now_mono() - t0);
	cleanup();
	return any_failure ? 1 : 0;
}
