/* bench-discovery: heartbeats per second handled by one discoveryd on one core with
 * 10,000 registered servers, the registry checked afterwards, and the daemon's idle RSS.
 *
 * The bench starts discoveryd itself (temporary state and runtime directories, its own
 * NOTIFY_SOCKET to learn readiness and the bound port), pins the daemon to one CPU and
 * itself to another, registers 10,000 servers, then sends heartbeats carrying a full
 * ServerInfo body (what a worker sends) round-robin over the ids on CONNS keep-alive
 * connections, one request in flight per connection (no pipelining). It counts the
 * 200s answered inside a fixed window after a warm-up, then verifies the registry:
 * every id listed once and online, each entry holding the tank_count of the last
 * heartbeat acknowledged for it, and the daemon's heartbeat counter equal to the 200s
 * received. Output lines follow DESIGN §2: "bench: <name> <value> <unit>".
 *
 * Usage: bench-discovery [ABS_TOP_BUILDDIR]   (or $abs_top_builddir, or $DISCOVERYD)
 * Tunables for experiments: BENCH_DURATION (s), BENCH_CONNS. */
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

#define N_SERVERS 10000
#define DEFAULT_CONNS 48
#define MAX_CONNS 256
#define WARMUP_S 1.0
#define DEFAULT_DURATION_S 5.0
#define HUB_ID "bench-hub"
#define MAX_HEADER_BYTES (64 * 1024)

enum phase { PH_CONNECT, PH_REGISTER, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_VERIFY, PH_DONE };
enum req_kind { REQ_REGISTER, REQ_HEARTBEAT, REQ_LIST, REQ_METRICS };

struct conn {
	struct bench *b;
	struct bufferevent *bev;
	bool connected, busy;
	enum req_kind kind;
	int server;   /* index of the server a register/heartbeat is about */
	int seq;      /* tank_count sent in this heartbeat */
	bool in_body; /* response parser: headers read, waiting for the body */
	int status;
	size_t content_length;
};

struct bench {
	struct event_base *base;
	pid_t pid;
	int port;
	int n_conns;
	double duration;
	struct conn conns[MAX_CONNS];
	int n_connected;
	enum phase phase;
	bool failed;
	int next_register, registered;
	uint64_t next_heartbeat;
	uint64_t hb_ok_total, hb_ok_window;
	uint64_t non_200;
	int seq[N_SERVERS];   /* tank_count of the next heartbeat, per server */
	int acked[N_SERVERS]; /* tank_count of the last heartbeat answered 200 */
	double register_start, window_start, window_end;
	double daemon_cpu0, daemon_cpu1, client_cpu0, client_cpu1;
	struct event *phase_timer, *child_timer, *deadline, *notify_ev;
	int notify_fd;
	/* verification */
	bool list_ok, metrics_ok, printed_correct;
	char *list_body;
	size_t list_len;
};

static struct bench B;
static char tmpdir[] = "/tmp/tw-bench-discovery.XXXXXX";
static bool tmpdir_made;
static volatile pid_t child_for_alarm;

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-discovery: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	B.failed = true;
	if (B.base)
		event_base_loopbreak(B.base);
}

/* ---- the daemon ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup_tmpdir(void)
{
	if (tmpdir_made)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir_made = false;
}

static void on_alarm(int sig)
{
	/* Last resort if something wedges: never leave a daemon behind. */
	static const char msg[] = "bench-discovery: overall time limit exceeded\n";
	if (child_for_alarm > 0)
		kill(child_for_alarm, SIGKILL);
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(2);
}

/* Two distinct CPUs we may run on: the daemon gets the first, the client the second. */
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

static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		fprintf(stderr, "bench-discovery: sched_setaffinity(%d): %s\n", cpu, strerror(errno));
}

static pid_t start_daemon(const char *exe, const char *notify_path, int daemon_cpu)
{
	char conf[sizeof tmpdir + 32], state[sizeof tmpdir + 32], run[sizeof tmpdir + 32];
	snprintf(conf, sizeof conf, "%s/tankworld.conf", tmpdir);
	snprintf(state, sizeof state, "server.state_dir=%s/state", tmpdir);
	snprintf(run, sizeof run, "server.runtime_dir=%s/run", tmpdir);
	FILE *f = fopen(conf, "w");
	if (!f || fclose(f) != 0) {
		fprintf(stderr, "bench-discovery: cannot write %s\n", conf);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		return pid;
	if (daemon_cpu >= 0)
		pin_to(daemon_cpu);
	/* Nothing from our environment may change the daemon's role or directories. */
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
	char *const argv[] = {(char *)exe, "-c", conf,
		"--set", "server.server_id=" HUB_ID,
		"--set", state,
		"--set", run,
		"--set", "server.advertise_host=127.0.0.1",
		"--set", "server.log_level=warning",
		"--set", "discovery.listen=127.0.0.1:0",
		"--set", "discovery.heartbeat_interval=30",
		"--set", "discovery.heartbeat_timeout=90",
		"--set", "discovery.evict_after=600",
		NULL};
	execv(exe, argv);
	fprintf(stderr, "bench-discovery: cannot run %s: %s\n", exe, strerror(errno));
	_exit(127);
}

static bool daemon_alive(pid_t pid)
{
	int st;
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r == pid) {
		if (WIFEXITED(st))
			fprintf(stderr, "bench-discovery: discoveryd exited with status %d\n",
				WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			fprintf(stderr, "bench-discovery: discoveryd killed by signal %d\n",
				WTERMSIG(st));
		B.pid = -1;
		child_for_alarm = -1;
	}
	return false;
}

/* Waits for READY=1 on our notify socket; returns the port from STATUS. */
static int wait_ready(int fd, pid_t pid, double timeout)
{
	double until = now_mono() + timeout;
	while (now_mono() < until) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (!daemon_alive(pid))
			return -1;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (!strstr(buf, "READY=1"))
			continue;
		const char *p_ = strstr(buf, ", port ");
		int port;
		if (!p_ || sscanf(p_, ", port %d", &port) != 1 || port <= 0 || port > 65535) {
			fprintf(stderr, "bench-discovery: READY without a port: %s\n", buf);
			return -1;
		}
		return port;
	}
	fprintf(stderr, "bench-discovery: discoveryd not ready after %.0f s\n", timeout);
	return -1;
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
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "Key:   123 kB" field of /proc/PID/status, in MB (MiB), or -1. */
static double status_mb(pid_t pid, const char *key)
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

static double rss_mb(pid_t pid)
{
	return status_mb(pid, "VmRSS");
}

static void rss_detail(pid_t pid, const char *when)
{
	fprintf(stderr, "bench-discovery: discoveryd idle RSS %s: %.1f MB = %.1f MB anonymous + "
		"%.1f MB file-backed (shared libraries)\n", when, rss_mb(pid),
		status_mb(pid, "RssAnon"), status_mb(pid, "RssFile") + status_mb(pid, "RssShmem"));
}

/* Sleeps while draining the notify socket (sd_notify blocks on a full queue). */
static void idle_wait(int fd, double seconds)
{
	double until = now_mono() + seconds;
	for (double left; (left = until - now_mono()) > 0;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0) {
			char buf[4096];
			if (recv(fd, buf, sizeof buf, 0) < 0) {
				/* ignore */
			}
		}
	}
}

static bool stop_daemon(pid_t pid)
{
	if (pid <= 0)
		return false;
	kill(pid, SIGTERM);
	double until = now_mono() + 10;
	int st;
	while (now_mono() < until) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return true;
		if (r == pid && WIFEXITED(st))
			fprintf(stderr, "bench-discovery: discoveryd exited with status %d\n",
				WEXITSTATUS(st));
		else if (r == pid)
			fprintf(stderr, "bench-discovery: discoveryd was killed by signal %d\n",
				WTERMSIG(st));
		if (r != 0)
			return false;
		usleep(10000);
	}
	fprintf(stderr, "bench-discovery: discoveryd ignored SIGTERM for 10 s; killing it\n");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return false;
}

/* ---- the HTTP client ------------------------------------------------------------- */

static void issue_next(struct conn *c);

static void send_request(struct conn *c, const char *method, const char *path, const char *body,
			 size_t body_len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
			    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: bench-discovery\r\n"
			    "Accept: application/json\r\n",
			    method, path, c->b->port);
	if (body)
		evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
				    body_len);
	evbuffer_add(out, "\r\n", 2);
	if (body)
		evbuffer_add(out, body, body_len);
	c->busy = true;
	c->in_body = false;
}

/* The ServerInfo a worker sends (server_info_to_json of its self), with tank_count
 * carrying a per-server sequence number so the final registry can be checked. */
static size_t server_info_body(char *buf, size_t len, int server, int tank_count)
{
	int n = snprintf(buf, len,
			 "{\"server_id\":\"bench-%05d\",\"hostname\":\"bench-host-%05d\","
			 "\"host\":\"10.%d.%d.%d\",\"port\":8001,\"discovery_port\":8000,"
			 "\"migration_port\":8002,\"tank_count\":%d,\"version\":\"0.1.0\","
			 "\"uptime_seconds\":%d.5,\"platform\":\"Linux\","
			 "\"architecture\":\"x86_64\",\"logical_cpus\":4}",
			 server, server, (server >> 16) & 255, (server >> 8) & 255, server & 255,
			 tank_count, 1000 + tank_count);
	return (size_t)n;
}

static void send_register(struct conn *c, int server)
{
	char body[512];
	size_t n = server_info_body(body, sizeof body, server, 0);
	c->kind = REQ_REGISTER;
	c->server = server;
	send_request(c, "POST", "/api/discovery/register", body, n);
}

static void send_heartbeat(struct conn *c)
{
	struct bench *b = c->b;
	int server = (int)(b->next_heartbeat++ % N_SERVERS);
	int seq = ++b->seq[server];
	char body[512], path[80];
	size_t n = server_info_body(body, sizeof body, server, seq);
	snprintf(path, sizeof path, "/api/discovery/heartbeat/bench-%05d", server);
	c->kind = REQ_HEARTBEAT;
	c->server = server;
	c->seq = seq;
	send_request(c, "POST", path, body, n);
}

static bool all_idle(const struct bench *b)
{
	for (int i = 0; i < b->n_conns; i++)
		if (b->conns[i].busy)
			return false;
	return true;
}

static void start_verify(struct bench *b);

static void on_response(struct conn *c, const char *body, size_t len)
{
	struct bench *b = c->b;
	c->busy = false;
	if (c->status != 200) {
		b->non_200++;
		fail("unexpected HTTP %d for a %s: %.*s", c->status,
		     c->kind == REQ_REGISTER ? "registration" : c->kind == REQ_HEARTBEAT ? "heartbeat"
											  : "query",
		     (int)(len > 300 ? 300 : len), body);
		return;
	}
	switch (c->kind) {
	case REQ_REGISTER:
		b->registered++;
		break;
	case REQ_HEARTBEAT:
		b->hb_ok_total++;
		b->acked[c->server] = c->seq;
		if (b->phase == PH_MEASURE)
			b->hb_ok_window++;
		break;
	case REQ_LIST:
		b->list_body = malloc(len + 1);
		if (!b->list_body)
			abort();
		memcpy(b->list_body, body, len);
		b->list_body[len] = '\0';
		b->list_len = len;
		b->list_ok = true;
		break;
	case REQ_METRICS: {
		b->metrics_ok = true;
		/* The metrics text is parsed here while we still have it. */
		const char *key = "\ntankworld_discovery_heartbeats_received_total ";
		char *text = strndup(body, len);
		if (!text)
			abort();
		const char *p = strstr(text, key);
		uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
		if (v != b->hb_ok_total) {
			fprintf(stderr, "bench-discovery: tankworld_discovery_heartbeats_received_total "
				"is %" PRIu64 " but %" PRIu64 " heartbeats were answered 200\n",
				v, b->hb_ok_total);
			b->metrics_ok = false;
		}
		key = "\ntankworld_discovery_registrations_total ";
		p = strstr(text, key);
		v = p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
		if (v != N_SERVERS) {
			fprintf(stderr, "bench-discovery: tankworld_discovery_registrations_total is "
				"%" PRIu64 ", expected %d\n", v, N_SERVERS);
			b->metrics_ok = false;
		}
		free(text);
		break;
	}
	}
	issue_next(c);
}

/* What a connection does once its previous answer is in. */
static void issue_next(struct conn *c)
{
	struct bench *b = c->b;
	if (b->failed)
		return;
	switch (b->phase) {
	case PH_REGISTER:
		if (b->next_register < N_SERVERS) {
			send_register(c, b->next_register++);
			return;
		}
		if (b->registered == N_SERVERS && all_idle(b)) {
			/* Registration done: heartbeats on every connection, warm-up first. */
			fprintf(stderr, "bench-discovery: %d servers registered in %.2f s "
				"(discoveryd RSS %.1f MB)\n", N_SERVERS, now_mono() - b->register_start,
				rss_mb(b->pid));
			b->phase = PH_WARMUP;
			struct timeval tv = {(time_t)WARMUP_S,
					     (suseconds_t)((WARMUP_S - (time_t)WARMUP_S) * 1e6)};
			evtimer_add(b->phase_timer, &tv);
			for (int i = 0; i < b->n_conns; i++)
				send_heartbeat(&b->conns[i]);
		}
		return;
	case PH_WARMUP:
	case PH_MEASURE:
		send_heartbeat(c);
		return;
	case PH_DRAIN:
		if (all_idle(b))
			start_verify(b);
		return;
	case PH_VERIFY:
		if (c->kind == REQ_LIST) {
			c->kind = REQ_METRICS;
			send_request(c, "GET", "/metrics", NULL, 0);
		} else if (c->kind == REQ_METRICS) {
			b->phase = PH_DONE;
			event_base_loopexit(b->base, NULL);
		}
		return;
	default:
		return;
	}
}

static void start_verify(struct bench *b)
{
	fprintf(stderr, "bench-discovery: discoveryd RSS %.1f MB after the heartbeats\n",
		rss_mb(b->pid));
	b->phase = PH_VERIFY;
	struct conn *c = &b->conns[0];
	c->kind = REQ_LIST;
	send_request(c, "GET", "/api/discovery/servers?status=online", NULL, 0);
}

/* Response parser: status line, Content-Length, body. The daemon never chunks. */
static bool parse_headers(struct conn *c, const char *h, size_t len)
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
			fprintf(stderr, "bench-discovery: unexpected Transfer-Encoding\n");
			return false;
		} else if (rest > 17 && strncasecmp(line, "Connection: close", 17) == 0) {
			fprintf(stderr, "bench-discovery: the daemon closes keep-alive connections\n");
			return false;
		}
	}
	return have_length;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		if (!c->in_body) {
			struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (p.pos < 0) {
				if (evbuffer_get_length(in) > MAX_HEADER_BYTES)
					fail("response headers too large");
				return;
			}
			size_t hlen = (size_t)p.pos + 4;
			const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
			if (!c->busy || !parse_headers(c, h, hlen)) {
				fail("malformed or unexpected HTTP response: %.*s",
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
		c->in_body = false;
		on_response(c, body ? body : "", len);
		evbuffer_drain(in, len);
		if (c->b->failed || evbuffer_get_length(in) == 0)
			return;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	if (what & BEV_EVENT_CONNECTED) {
		c->connected = true;
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (++b->n_connected == b->n_conns) {
			b->phase = PH_REGISTER;
			b->register_start = now_mono();
			for (int i = 0; i < b->n_conns; i++)
				issue_next(&b->conns[i]);
		}
		return;
	}
	fail("connection %d: %s%s", (int)(c - b->conns),
	     (what & BEV_EVENT_EOF) ? "closed by the daemon" : "error: ",
	     (what & BEV_EVENT_EOF) ? "" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	if (b->phase == PH_WARMUP) {
		b->phase = PH_MEASURE;
		b->window_start = now_mono();
		b->daemon_cpu0 = cpu_seconds(b->pid);
		b->client_cpu0 = self_cpu_seconds();
		b->hb_ok_window = 0;
		struct timeval tv = {(time_t)b->duration,
				     (suseconds_t)((b->duration - (time_t)b->duration) * 1e6)};
		evtimer_add(b->phase_timer, &tv);
	} else if (b->phase == PH_MEASURE) {
		b->window_end = now_mono();
		b->daemon_cpu1 = cpu_seconds(b->pid);
		b->client_cpu1 = self_cpu_seconds();
		b->phase = PH_DRAIN; /* answers still in flight count for the registry check */
		if (all_idle(b))
			start_verify(b);
	}
}

static void on_child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	if (!daemon_alive(b->pid))
		fail("discoveryd died during the benchmark");
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	fail("timed out in phase %d (registered %d, heartbeats %" PRIu64 ")", (int)b->phase,
	     b->registered, b->hb_ok_total);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096];
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

/* ---- verification ------------------------------------------------------------------ */

static bool verify_list(struct bench *b)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, b->list_body, (int)b->list_len + 1);
	bool ok = json_tokener_get_error(tok) == json_tokener_success && o;
	json_tokener_free(tok);
	json_object *servers, *count;
	if (!ok || !json_object_object_get_ex(o, "servers", &servers) ||
	    !json_object_is_type(servers, json_type_array) ||
	    !json_object_object_get_ex(o, "count", &count)) {
		fprintf(stderr, "bench-discovery: the server list does not parse\n");
		json_object_put(o);
		return false;
	}
	size_t n = json_object_array_length(servers);
	int64_t cnt = json_object_get_int64(count);
	if (n != N_SERVERS + 1 || cnt != N_SERVERS + 1) {
		fprintf(stderr, "bench-discovery: %zu servers listed online (count %" PRId64
			"), expected %d\n", n, cnt, N_SERVERS + 1);
		ok = false;
	}
	static bool seen[N_SERVERS];
	memset(seen, 0, sizeof seen);
	int found = 0, hub = 0, wrong = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(servers, i), *v;
		const char *id = json_object_object_get_ex(s, "server_id", &v)
					 ? json_object_get_string(v) : "";
		const char *status = json_object_object_get_ex(s, "status", &v)
					     ? json_object_get_string(v) : "";
		if (strcmp(status, "online") != 0) {
			wrong++;
			continue;
		}
		if (strcmp(id, HUB_ID) == 0) {
			hub++;
			continue;
		}
		int k;
		char tail;
		if (sscanf(id, "bench-%5d%c", &k, &tail) != 1 || k < 0 || k >= N_SERVERS ||
		    seen[k]) {
			if (wrong++ < 5)
				fprintf(stderr, "bench-discovery: unexpected or repeated id '%s'\n", id);
			continue;
		}
		seen[k] = true;
		found++;
		int tanks = json_object_object_get_ex(s, "tank_count", &v) ? json_object_get_int(v)
									  : -1;
		char host[32];
		snprintf(host, sizeof host, "10.%d.%d.%d", (k >> 16) & 255, (k >> 8) & 255, k & 255);
		const char *h = json_object_object_get_ex(s, "host", &v) ? json_object_get_string(v)
									 : "";
		if (tanks != b->acked[k] || strcmp(h, host) != 0) {
			if (wrong++ < 5)
				fprintf(stderr, "bench-discovery: %s holds tank_count %d host %s; the "
					"last acknowledged heartbeat sent %d and %s\n", id, tanks, h,
					b->acked[k], host);
		}
	}
	if (found != N_SERVERS || hub != 1 || wrong) {
		fprintf(stderr, "bench-discovery: %d of %d bench ids found, hub listed %d time(s), "
			"%d wrong entries\n", found, N_SERVERS, hub, wrong);
		ok = false;
	}
	json_object_put(o);
	return ok;
}

/* ---- main ---------------------------------------------------------------------------- */

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
	if (getenv("DISCOVERYD"))
		snprintf(exe, sizeof exe, "%s", getenv("DISCOVERYD"));
	else
		snprintf(exe, sizeof exe, "%s/discoveryd/discoveryd", top ? top : ".");
	if (access(exe, X_OK) < 0) {
		fprintf(stderr, "bench-discovery: %s: %s (pass the build directory as argument or "
			"set abs_top_builddir)\n", exe, strerror(errno));
		return 1;
	}
	B.duration = env_double("BENCH_DURATION", DEFAULT_DURATION_S, 0.5, 20);
	B.n_conns = (int)env_double("BENCH_CONNS", DEFAULT_CONNS, 1, MAX_CONNS);
	signal(SIGPIPE, SIG_IGN);

	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "bench-discovery: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	tmpdir_made = true;
	int rc = 1;
	int notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", tmpdir);
	if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		fprintf(stderr, "bench-discovery: notify socket: %s\n", strerror(errno));
		cleanup_tmpdir();
		return 1;
	}
	int sndbuf = 1 << 20;
	setsockopt(notify_fd, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);

	int daemon_cpu = -1, client_cpu = -1;
	if (pick_cpus(&daemon_cpu, &client_cpu) < 0) {
		fprintf(stderr, "bench-discovery: fewer than two CPUs available; not pinning\n");
		daemon_cpu = client_cpu = -1;
	}
	signal(SIGALRM, on_alarm);
	alarm(40);
	B.pid = start_daemon(exe, sun.sun_path, daemon_cpu);
	child_for_alarm = B.pid;
	if (B.pid < 0) {
		cleanup_tmpdir();
		return 1;
	}
	if (client_cpu >= 0)
		pin_to(client_cpu);
	B.port = wait_ready(notify_fd, B.pid, 10);
	if (B.port < 0)
		goto out;
	fprintf(stderr, "bench-discovery: discoveryd pid %d on 127.0.0.1:%d, CPU %d (client CPU %d)\n",
		(int)B.pid, B.port, daemon_cpu, client_cpu);

	/* (i) idle, right after start, empty registry (only the daemon itself). */
	idle_wait(notify_fd, 1.0);
	if (!daemon_alive(B.pid))
		goto out;
	double rss_empty = rss_mb(B.pid);
	rss_detail(B.pid, "with an empty registry");

	B.base = event_base_new();
	if (!B.base)
		abort();
	B.phase = PH_CONNECT;
	B.phase_timer = evtimer_new(B.base, on_phase_timer, &B);
	B.child_timer = event_new(B.base, -1, EV_PERSIST, on_child_timer, &B);
	B.deadline = evtimer_new(B.base, on_deadline, &B);
	B.notify_ev = event_new(B.base, notify_fd, EV_READ | EV_PERSIST, on_notify, &B);
	struct timeval child_tv = {0, 100000}, deadline_tv = {(time_t)(B.duration + 20), 0};
	event_add(B.child_timer, &child_tv);
	event_add(B.deadline, &deadline_tv);
	event_add(B.notify_ev, NULL);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)B.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < B.n_conns; i++) {
		struct conn *c = &B.conns[i];
		c->b = &B;
		c->bev = bufferevent_socket_new(B.base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			abort();
		bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
			fail("connect: %s", strerror(errno));
			break;
		}
	}
	if (!B.failed)
		event_base_dispatch(B.base);

	bool alive = daemon_alive(B.pid);
	if (B.failed || B.phase != PH_DONE || !alive) {
		if (!alive)
			fprintf(stderr, "bench-discovery: discoveryd is gone\n");
		goto out;
	}
	double window = B.window_end - B.window_start;
	printf("bench: discovery_heartbeats_per_s_10000_servers %.0f heartbeats/s\n",
	       (double)B.hb_ok_window / window);
	bool correct = B.non_200 == 0 && B.list_ok && B.metrics_ok && verify_list(&B);
	fprintf(stderr, "bench-discovery: %d connections, %" PRIu64 " heartbeats in %.2f s "
		"measured, %" PRIu64 " answered 200 in all, %" PRIu64 " other answers\n",
		B.n_conns, B.hb_ok_window, window, B.hb_ok_total, B.non_200);
	fprintf(stderr, "bench-discovery: during the window discoveryd used %.0f%% of a CPU, "
		"the client %.0f%%; %.0f heartbeats per discoveryd CPU-second\n",
		100 * (B.daemon_cpu1 - B.daemon_cpu0) / window,
		100 * (B.client_cpu1 - B.client_cpu0) / window,
		(double)B.hb_ok_window / (B.daemon_cpu1 - B.daemon_cpu0));
	if ((B.daemon_cpu1 - B.daemon_cpu0) / window < 0.9)
		fprintf(stderr, "bench-discovery: warning: discoveryd had its CPU only part of the "
			"time (other work on the machine?); the rate understates it\n");

	/* (ii) idle for a second with 10,000 servers registered. Connections closed first,
	 * so their buffers are not counted as idle memory. */
	for (int i = 0; i < B.n_conns; i++)
		if (B.conns[i].bev) {
			bufferevent_free(B.conns[i].bev);
			B.conns[i].bev = NULL;
		}
	idle_wait(notify_fd, 1.0);
	alive = daemon_alive(B.pid);
	double rss_full = alive ? rss_mb(B.pid) : -1;
	if (alive)
		rss_detail(B.pid, "with 10000 servers");
	printf("bench: discovery_idle_rss_empty %.1f MB\n", rss_empty);
	if (alive)
		printf("bench: discovery_idle_rss_10000_servers %.1f MB\n", rss_full);
	printf("bench: discovery_registry_correct %d bool\n", correct ? 1 : 0);
	B.printed_correct = true;
	rc = correct && alive ? 0 : 1;

out:
	if (B.pid > 0 && !stop_daemon(B.pid)) {
		fprintf(stderr, "bench-discovery: discoveryd did not stop cleanly on SIGTERM "
			"(it saves the registry and exits 0)\n");
		rc = 1;
	}
	child_for_alarm = -1;
	for (int i = 0; i < B.n_conns; i++)
		if (B.conns[i].bev)
			bufferevent_free(B.conns[i].bev);
	if (B.base) {
		event_free(B.phase_timer);
		event_free(B.child_timer);
		event_free(B.deadline);
		event_free(B.notify_ev);
		event_base_free(B.base);
	}
	free(B.list_body);
	close(notify_fd);
	cleanup_tmpdir();
	if (rc != 0 && !B.printed_correct)
		printf("bench: discovery_registry_correct 0 bool\n");
	return rc;
}
