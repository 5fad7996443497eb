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

#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/benchlib.h"

#define N_SERVERS 10000
#define DEFAULT_CONNS 48
#define WARMUP_S 1.0
#define DEFAULT_DURATION_S 5.0
#define HUB_ID "bench-hub"

enum phase { PH_CONNECT, PH_REGISTER, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_VERIFY, PH_DONE };
enum req_kind { REQ_REGISTER, REQ_HEARTBEAT, REQ_LIST, REQ_METRICS };

/* What the request in flight on a connection is about. */
struct request {
	enum req_kind kind;
	int server; /* index of the server a register/heartbeat is about */
	int seq;    /* tank_count sent in this heartbeat */
};

struct bench {
	struct bench_daemon daemon;
	struct loadgen *lg;
	int n_conns;
	double duration;
	struct request req[LOADGEN_MAX_CONNS]; /* by connection index */
	enum phase phase;
	int next_register, registered;
	uint64_t next_heartbeat;
	uint64_t hb_ok_total, hb_ok_window;
	uint64_t non_200;
	int seq[N_SERVERS];   /* tank_count of the next heartbeat, per server */
	int acked[N_SERVERS]; /* tank_count of the last heartbeat answered 200 */
	double register_start, window_start, window_end;
	double daemon_cpu0, daemon_cpu1, client_cpu0, client_cpu1;
	struct event *phase_timer;
	/* verification */
	bool list_ok, metrics_ok;
	char *list_body;
	size_t list_len;
};

static struct bench B;

/* ---- the daemon ---------------------------------------------------------------- */

static int start_discoveryd(struct bench_daemon *d)
{
	const char *const sets[] = {
		"server.server_id=" HUB_ID,	   "discovery.listen=127.0.0.1:0",
		"discovery.heartbeat_interval=30", "discovery.heartbeat_timeout=90",
		"discovery.evict_after=600",	   NULL};
	return bench_daemon_start_sets(d, sets, 10);
}

static void rss_detail(pid_t pid, const char *when)
{
	bench_warn("discoveryd idle RSS %s: %.1f MB = %.1f MB anonymous + %.1f MB file-backed "
		   "(shared libraries)",
		   when, bench_rss_mb(pid), bench_status_mb(pid, "RssAnon"),
		   bench_status_mb(pid, "RssFile") + bench_status_mb(pid, "RssShmem"));
}

/* ---- the requests ---------------------------------------------------------------- */

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

static struct request *request_of(struct loadgen_conn *c)
{
	return &B.req[loadgen_conn_index(c)];
}

static void send_register(struct loadgen_conn *c, int server)
{
	char body[512];
	size_t n = server_info_body(body, sizeof body, server, 0);
	*request_of(c) = (struct request){.kind = REQ_REGISTER, .server = server};
	loadgen_send(c, "POST", "/api/discovery/register", body, n);
}

static void send_heartbeat(struct bench *b, struct loadgen_conn *c)
{
	int server = (int)(b->next_heartbeat++ % N_SERVERS);
	int seq = ++b->seq[server];
	char body[512], path[80];
	size_t n = server_info_body(body, sizeof body, server, seq);
	snprintf(path, sizeof path, "/api/discovery/heartbeat/bench-%05d", server);
	*request_of(c) = (struct request){.kind = REQ_HEARTBEAT, .server = server, .seq = seq};
	loadgen_send(c, "POST", path, body, n);
}

static void on_phase_timer(evutil_socket_t fd, short what, void *arg);

/* Registration done: heartbeats on every connection, warm-up first. */
static void start_heartbeats(struct bench *b)
{
	bench_warn("%d servers registered in %.2f s (discoveryd RSS %.1f MB)", N_SERVERS,
		   now_mono() - b->register_start, bench_rss_mb(b->daemon.pid));
	b->phase = PH_WARMUP;
	loadgen_after(b->lg, &b->phase_timer, WARMUP_S, on_phase_timer, b);
	for (int i = 0; i < b->n_conns; i++)
		send_heartbeat(b, &b->lg->conns[i]);
}

static void start_verify(struct bench *b)
{
	bench_warn("discoveryd RSS %.1f MB after the heartbeats", bench_rss_mb(b->daemon.pid));
	b->phase = PH_VERIFY;
	struct loadgen_conn *c = &b->lg->conns[0];
	request_of(c)->kind = REQ_LIST;
	loadgen_send(c, "GET", "/api/discovery/servers?status=online", NULL, 0);
}

/* What a connection does once its previous answer is in; false: nothing for now. */
static bool next_request(struct loadgen *lg, struct loadgen_conn *c)
{
	struct bench *b = lg->job;
	switch (b->phase) {
	case PH_CONNECT: /* every connection is up */
		b->phase = PH_REGISTER;
		b->register_start = now_mono();
		/* fall through */
	case PH_REGISTER:
		if (b->next_register < N_SERVERS) {
			send_register(c, b->next_register++);
			return true;
		}
		if (b->registered < N_SERVERS || !loadgen_all_idle(lg))
			return false; /* the last registrations are in flight on others */
		start_heartbeats(b);
		return true;
	case PH_WARMUP:
	case PH_MEASURE:
		send_heartbeat(b, c);
		return true;
	case PH_DRAIN:
		if (!loadgen_all_idle(lg))
			return false;
		start_verify(b);
		return true;
	case PH_VERIFY:
		if (request_of(c)->kind == REQ_LIST) {
			request_of(c)->kind = REQ_METRICS;
			loadgen_send(c, "GET", "/metrics", NULL, 0);
			return true;
		}
		b->phase = PH_DONE; /* the metrics are in: the run ends */
		return false;
	default:
		return false;
	}
}

/* The daemon's counter `key` from the /metrics text; UINT64_MAX when missing. */
static uint64_t metric_value(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
}

static void take_answer(struct loadgen *lg, struct loadgen_conn *c, const char *body, size_t len,
			double t)
{
	struct bench *b = lg->job;
	const struct request *r = request_of(c);
	if (c->status != 200) {
		b->non_200++;
		loadgen_fail(lg, "unexpected HTTP %d for a %s: %.*s", c->status,
			     r->kind == REQ_REGISTER	? "registration"
			     : r->kind == REQ_HEARTBEAT ? "heartbeat"
							: "query",
			     (int)(len > 300 ? 300 : len), body);
		return;
	}
	switch (r->kind) {
	case REQ_REGISTER:
		b->registered++;
		break;
	case REQ_HEARTBEAT:
		b->hb_ok_total++;
		b->acked[r->server] = r->seq;
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
		char *text = strndup(body, len);
		if (!text)
			abort();
		uint64_t v = metric_value(text, "\ntankworld_discovery_heartbeats_received_total ");
		if (v != b->hb_ok_total) {
			bench_warn("tankworld_discovery_heartbeats_received_total is %" PRIu64
				   " but %" PRIu64 " heartbeats were answered 200",
				   v, b->hb_ok_total);
			b->metrics_ok = false;
		}
		v = metric_value(text, "\ntankworld_discovery_registrations_total ");
		if (v != N_SERVERS) {
			bench_warn("tankworld_discovery_registrations_total is %" PRIu64
				   ", expected %d",
				   v, N_SERVERS);
			b->metrics_ok = false;
		}
		free(text);
		break;
	}
	}
}

static void on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	if (b->phase == PH_WARMUP) {
		b->phase = PH_MEASURE;
		b->window_start = now_mono();
		b->daemon_cpu0 = bench_cpu_seconds(b->daemon.pid);
		b->client_cpu0 = bench_self_cpu_seconds();
		b->hb_ok_window = 0;
		loadgen_after(b->lg, &b->phase_timer, b->duration, on_phase_timer, b);
	} else if (b->phase == PH_MEASURE) {
		b->window_end = now_mono();
		b->daemon_cpu1 = bench_cpu_seconds(b->daemon.pid);
		b->client_cpu1 = bench_self_cpu_seconds();
		b->phase = PH_DRAIN; /* answers still in flight count for the registry check */
		if (loadgen_all_idle(b->lg))
			start_verify(b);
	}
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
		bench_warn("the server list does not parse");
		json_object_put(o);
		return false;
	}
	size_t n = json_object_array_length(servers);
	int64_t cnt = json_object_get_int64(count);
	if (n != N_SERVERS + 1 || cnt != N_SERVERS + 1) {
		bench_warn("%zu servers listed online (count %" PRId64 "), expected %d", n, cnt,
			   N_SERVERS + 1);
		ok = false;
	}
	static bool seen[N_SERVERS];
	memset(seen, 0, sizeof seen);
	int found = 0, hub = 0, wrong = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(servers, i), *v;
		const char *id = json_object_object_get_ex(s, "server_id", &v)
					 ? json_object_get_string(v)
					 : "";
		const char *status = json_object_object_get_ex(s, "status", &v)
					     ? json_object_get_string(v)
					     : "";
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
				bench_warn("unexpected or repeated id '%s'", id);
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
				bench_warn("%s holds tank_count %d host %s; the last acknowledged "
					   "heartbeat sent %d and %s",
					   id, tanks, h, b->acked[k], host);
		}
	}
	if (found != N_SERVERS || hub != 1 || wrong) {
		bench_warn("%d of %d bench ids found, hub listed %d time(s), %d wrong entries",
			   found, N_SERVERS, hub, wrong);
		ok = false;
	}
	json_object_put(o);
	return ok;
}

/* ---- main ---------------------------------------------------------------------------- */

/* The heartbeat load on its connections; true when every phase ran and discoveryd
 * lives. Prints the rate and says how much CPU each side had. */
static bool run_load(struct bench_daemon *d, bool *correct)
{
	B.lg = loadgen_new(d, B.n_conns, B.duration + 20);
	B.lg->job = &B;
	B.lg->next = next_request;
	B.lg->answer = take_answer;
	B.phase = PH_CONNECT;
	bool ran = loadgen_run(B.lg);
	if (B.lg->timed_out)
		bench_warn("timed out in phase %d (registered %d, heartbeats %" PRIu64 ")",
			   (int)B.phase, B.registered, B.hb_ok_total);
	/* Connections closed now, so their buffers are not counted as idle memory below. */
	if (B.phase_timer)
		event_free(B.phase_timer);
	loadgen_free(B.lg);
	B.lg = NULL;
	bool alive = bench_daemon_alive(d);
	if (!ran || B.phase != PH_DONE || !alive) {
		if (!alive)
			bench_warn("discoveryd is gone");
		return false;
	}
	double window = B.window_end - B.window_start;
	printf("bench: discovery_heartbeats_per_s_10000_servers %.0f heartbeats/s\n",
	       (double)B.hb_ok_window / window);
	*correct = B.non_200 == 0 && B.list_ok && B.metrics_ok && verify_list(&B);
	bench_warn("%d connections, %" PRIu64 " heartbeats in %.2f s measured, %" PRIu64
		   " answered 200 in all, %" PRIu64 " other answers",
		   B.n_conns, B.hb_ok_window, window, B.hb_ok_total, B.non_200);
	bench_warn("during the window discoveryd used %.0f%% of a CPU, the client %.0f%%; %.0f "
		   "heartbeats per discoveryd CPU-second",
		   100 * (B.daemon_cpu1 - B.daemon_cpu0) / window,
		   100 * (B.client_cpu1 - B.client_cpu0) / window,
		   (double)B.hb_ok_window / (B.daemon_cpu1 - B.daemon_cpu0));
	if ((B.daemon_cpu1 - B.daemon_cpu0) / window < 0.9)
		bench_warn("warning: discoveryd had its CPU only part of the time (other work on "
			   "the machine?); the rate understates it");
	return true;
}

int main(int argc, char **argv)
{
	char exe[4096];
	if (!bench_init("bench-discovery", argc, argv, "DISCOVERYD", "discoveryd/discoveryd", exe,
			sizeof exe))
		return 1;
	B.duration = bench_env_double("BENCH_DURATION", DEFAULT_DURATION_S, 0.5, 20);
	B.n_conns = (int)bench_env_double("BENCH_CONNS", DEFAULT_CONNS, 1, LOADGEN_MAX_CONNS);

	struct bench_daemon *d = &B.daemon;
	if (!bench_daemon_setup(d, "discoveryd", exe, "/tmp"))
		return 1;
	bench_set_time_limit(40);
	int rc = 1;
	bool printed_correct = false, correct = false;
	if (start_discoveryd(d) < 0)
		goto out;
	bench_warn("discoveryd pid %d on 127.0.0.1:%d, CPU %d (client CPU %d)", (int)d->pid,
		   d->port, d->cpu, d->client_cpu);

	/* (i) idle, right after start, empty registry (only the daemon itself). */
	bench_daemon_idle(d, 1.0);
	if (!bench_daemon_alive(d))
		goto out;
	double rss_empty = bench_rss_mb(d->pid);
	rss_detail(d->pid, "with an empty registry");
	if (!run_load(d, &correct))
		goto out;

	/* (ii) idle for a second with 10,000 servers registered. */
	bench_daemon_idle(d, 1.0);
	bool alive = bench_daemon_alive(d);
	printf("bench: discovery_idle_rss_empty %.1f MB\n", rss_empty);
	if (alive) {
		rss_detail(d->pid, "with 10000 servers");
		printf("bench: discovery_idle_rss_10000_servers %.1f MB\n", bench_rss_mb(d->pid));
	}
	printf("bench: discovery_registry_correct %d bool\n", correct ? 1 : 0);
	printed_correct = true;
	rc = correct && alive ? 0 : 1;

out:
	if (d->pid > 0 && !bench_daemon_stop(d, 10, NULL)) {
		bench_warn("discoveryd did not stop cleanly on SIGTERM (it saves the registry and "
			   "exits 0)");
		rc = 1;
	}
	free(B.list_body);
	bench_daemon_cleanup(d);
	if (rc != 0 && !printed_correct)
		printf("bench: discovery_registry_correct 0 bool\n");
	return rc;
}
