/* bench-simd: the tank daemon's three figures (issue 4), each on a simd of its own that
 * this program starts (temporary state and runtime directories under /tmp, its own
 * NOTIFY_SOCKET to learn readiness and the bound port), pinned to one CPU while the
 * client runs on another:
 *
 *  1. GET /api/tanks/{id} per second on loopback, 24 keep-alive connections, one request
 *     in flight on each (no pipelining), while a 1,000-fish tank ticks at 30/s
 *     (3441x1935 px: the density of the original tank at capacity, as bench-sim uses).
 *     Latency is per request, from the write to the whole answer. The tick rate the tank
 *     held is the frame counter of the answers, first and last in the window. Then the
 *     same load on GET /health of that daemon, which must be the cheaper of the two.
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
 * BENCH_ONLY=get|health|arrive|restart|replay (run one part; health: only the /health window).
 *
 *  4. Replay: a running 10,000-fish tank, snapshotted by size (sim.replay_budget), killed
 *     at 90% of the interval between two of its snapshots; restart time (fork to READY)
 *     and the part of it spent re-simulating frames since the snapshot. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "util.h"

#define SERVER_ID "bench-simd"
#define SOURCE_SERVER "bench-source"
#define DEFAULT_CONNS_GET 24
#define DEFAULT_CONNS_ARRIVE 32
#define DEFAULT_DURATION_S 4.0
#define WARMUP_S 1.0
#define GET_FISH 1000
#define GET_W 3441
#define GET_H 1935
#define RESTART_FISH 10000
#define RESTART_W 10880
#define RESTART_H 6120
#define RESTART_ARRIVALS 500
#define FISH_ID_MARK "0badf15h-0000-4000-8000-000000000000" /* 36 chars, never a UUID */

static struct bench_daemon simd; /* the simd running now, if any */
static bool any_failure, printed_arrivals_verified, printed_restart_verified;

/* ---- the daemon ---------------------------------------------------------------- */

/* Starts simd on instance folder NAME (state and runtime below it) and waits for READY=1.
 * Returns the TCP port; *ready_s is the time from just before fork to READY. */
static int start_simd(const char *name, double snapshot_interval, double *ready_s)
{
	char state[4200], run[4200], snap[64];
	snprintf(state, sizeof state, "server.state_dir=%s/%s/state", simd.tmpdir, name);
	snprintf(run, sizeof run, "server.runtime_dir=%s/%s/run", simd.tmpdir, name);
	snprintf(snap, sizeof snap, "sim.snapshot_interval=%g", snapshot_interval);
	const char *const sets[] = {"server.server_id=" SERVER_ID,
				    state,
				    run,
				    "sim.listen=127.0.0.1:0",
				    "sim.tick_rate=30",
				    snap,
				    NULL};
	int port = bench_daemon_start_sets(&simd, sets, 30);
	if (port > 0 && ready_s)
		*ready_s = simd.ready_s;
	return port;
}

/* SIGTERM and wait for exit 0; *took is the time it needed (the final snapshot). */
static bool stop_simd(double *took)
{
	return bench_daemon_stop(&simd, 20, took);
}

/* One request on a connection of its own, with the cluster token (benchlib). */
static int http_call(int port, const char *method, const char *path, const char *body, char **ret,
		     size_t *ret_len)
{
	return bench_http(port, bench_token, method, path, body, ret, ret_len);
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
		bench_warn("%s %s: HTTP %d (expected %d): %.300s", method, path, st, want, text);
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
		 "\"paused\":%s,\"seed\":%d}",
		 name, fish, max_fish, w, h, paused ? "true" : "false", seed);
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

/* A gauge from GET /metrics, or -1. */
static double metric_double(int port, const char *name)
{
	char *text;
	if (http_call(port, "GET", "/metrics", NULL, &text, NULL) != 200) {
		free(text);
		return -1;
	}
	char key[128];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = strstr(text, key);
	double v = p ? strtod(p + strlen(key), NULL) : -1;
	free(text);
	return v;
}

/* A counter from GET /metrics, or -1 (a double holds every count below 2^53 exactly). */
static int64_t metric(int port, const char *name)
{
	return (int64_t)metric_double(port, name);
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
		bench_warn("tank %s has no fish to copy", tank);
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

/* ---- the load runs --------------------------------------------------------------- */

enum window { W_WARMUP, W_MEASURE, W_DRAIN };

/* What a window's figures come from, read as it opens and as it closes. */
struct readings {
	double t;     /* now_mono() */
	double dcpu;  /* simd's CPU seconds */
	double ccpu;  /* ours */
	double dwait; /* seconds simd's event loop waited for its CPU */
	double cwait; /* ours */
	double lcpu;  /* simd's event loop thread alone */
};

static void take_readings(struct readings *r)
{
	r->t = now_mono();
	r->dcpu = bench_cpu_seconds(simd.pid);
	r->ccpu = bench_self_cpu_seconds();
	r->dwait = bench_run_delay_s(simd.pid);
	r->cwait = bench_run_delay_s(0);
	r->lcpu = bench_loop_cpu_s(simd.pid);
}

/* ---- 1. GET /api/tanks/{id} under load ------------------------------------------- */

struct get_job {
	struct loadgen *lg;
	char path[200];
	enum window w;
	double duration;
	struct readings open, close;
	struct event *timer;
	uint64_t ok_window, ok_total;
	struct latencies lat;
	uint64_t frame_first, frame_last;
	double frame_first_t, frame_last_t;
	bool have_first;
};

static bool get_next(struct loadgen *lg, struct loadgen_conn *c)
{
	struct get_job *j = lg->job;
	if (j->w == W_DRAIN)
		return false;
	c->tag = j->w == W_MEASURE;
	loadgen_send(c, "GET", j->path, NULL, 0);
	return true;
}

static void get_answer(struct loadgen *lg, struct loadgen_conn *c, const char *body, size_t len,
		       double t)
{
	struct get_job *j = lg->job;
	if (c->status != 200) {
		loadgen_fail(lg, "GET %s: HTTP %d: %.*s", j->path, c->status,
			     (int)(len > 300 ? 300 : len), body);
		return;
	}
	j->ok_total++;
	if (j->w != W_MEASURE || !c->tag)
		return; /* sent before the window opened, or answered after it closed */
	j->ok_window++;
	latencies_add(&j->lat, t - c->sent_at);
	/* The frame counter, published by the tick thread after every tick. */
	const char *p = memmem(body, len, "\"frame\":", 8);
	if (!p && !memmem(body, len, "\"healthy\"", 9)) {
		loadgen_fail(lg, "GET %s: no frame in: %.*s", j->path, (int)(len > 300 ? 300 : len),
			     body);
		return;
	}
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
		take_readings(&j->open);
		loadgen_after(j->lg, &j->timer, j->duration, get_timer, j);
	} else {
		j->w = W_DRAIN;
		take_readings(&j->close);
	}
}

/* One load window on one GET path of the running simd; prints its figures. */
static bool get_window(int port, const char *tank, double duration, int conns, const char *path,
		       const char *name, double *rate)
{
	struct get_job j = {.duration = duration, .w = W_WARMUP};
	snprintf(j.path, sizeof j.path, "%s", path);
	int64_t fish0 = fish_count(port, tank);
	struct loadgen *lg = loadgen_new(&simd, conns, duration + WARMUP_S + 30);
	j.lg = lg;
	lg->job = &j;
	lg->next = get_next;
	lg->answer = get_answer;
	loadgen_after(lg, &j.timer, WARMUP_S, get_timer, &j);
	bool ok = loadgen_run(lg);
	if (j.timer)
		event_free(j.timer);
	loadgen_free(lg);
	if (!ok) {
		latencies_free(&j.lat);
		return false;
	}
	int64_t fish1 = fish_count(port, tank);
	double window = j.close.t - j.open.t;
	double dcpu = j.close.dcpu - j.open.dcpu, ccpu = j.close.ccpu - j.open.ccpu;
	double dwait = j.close.dwait - j.open.dwait, cwait = j.close.cwait - j.open.cwait;
	latencies_sort(&j.lat);
	double p50 = latencies_quantile(&j.lat, 0.50) * 1e3,
	       p99 = latencies_quantile(&j.lat, 0.99) * 1e3;
	double p999 = latencies_quantile(&j.lat, 0.999) * 1e3, max = latencies_max(&j.lat) * 1e3;
	double ticks = j.frame_last_t > j.frame_first_t ? (double)(j.frame_last - j.frame_first) /
								  (j.frame_last_t - j.frame_first_t)
							: 0;
	*rate = (double)j.ok_window / window;
	printf("bench: simd_get_%s_per_s_1000_fish %.0f req/s\n", name, *rate);
	printf("bench: simd_get_%s_loop_us_per_answer %.1f us\n", name,
	       1e6 * (j.close.lcpu - j.open.lcpu) / (double)(j.ok_window ? j.ok_window : 1));
	printf("bench: simd_get_%s_p99_ms_1000_fish %.3f ms\n", name, p99);
	printf("bench: simd_get_%s_p50_ms_1000_fish %.3f ms\n", name, p50);
	if (ticks > 0)
		printf("bench: simd_ticks_per_s_during_get_load %.1f ticks/s\n", ticks);
	bench_warn("[get %s] %" PRIu64
		   " answers in %.2f s; latency p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms; "
		   "frames %" PRIu64 " -> %" PRIu64 "; fish %" PRId64 " -> %" PRId64,
		   name, j.ok_window, window, p50, p99, p999, max, j.frame_first, j.frame_last,
		   fish0, fish1);
	bench_warn(
		"[get %s] during the window simd used %.0f%% of a CPU (%.0f answers per simd "
		"CPU-second, %.1f us each), the client %.0f%%; waiting for their CPU while runnable "
		"(other work on the machine): simd's event loop %.0f%% of the window, the client %.0f%%",
		name, 100 * dcpu / window, (double)j.ok_window / dcpu,
		1e6 * dcpu / (double)j.ok_window, 100 * ccpu / window, 100 * dwait / window,
		100 * cwait / window);
	latencies_free(&j.lat);
	return true;
}

static bool bench_get(double duration, int conns, bool health_only)
{
	double ready;
	int port = start_simd("get", 60, &ready);
	if (port < 0)
		return false;
	char tank[128];
	if (!create_tank(port, "bench-get", GET_FISH, GET_FISH, GET_W, GET_H, false, 1, tank))
		return false;
	bench_warn(
		"[get] simd pid %d port %d on CPU %d (client CPU %d); tank %s: %" PRId64 " fish, "
		"%dx%d, ticking at 30/s; %d keep-alive connections, %.0f s warm-up, %.1f s window",
		(int)simd.pid, port, simd.cpu, simd.client_cpu, tank, fish_count(port, tank), GET_W,
		GET_H, conns, WARMUP_S, duration);

	double get_rate = 0, health_rate = 0;
	char path[200];
	snprintf(path, sizeof path, "/api/tanks/%s", tank);
	bool ok = (health_only ||
		   get_window(port, tank, duration, conns, path, "tank", &get_rate)) &&
		  get_window(port, tank, duration, conns, "/health", "health", &health_rate);
	if (ok && !health_only)
		bench_warn("[get] GET /health answers %.2fx as fast as GET /api/tanks/{id}",
			   health_rate / get_rate);
	double took;
	return stop_simd(&took) && ok;
}

/* ---- 2. durable arrivals ----------------------------------------------------------- */

struct arrive_job {
	struct loadgen *lg;
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
	struct latencies lat;
	uint64_t per_s[32]; /* answers per second of the window: the tank grows meanwhile */
	char *buf;
	size_t buf_cap;
};

static bool arrive_next(struct loadgen *lg, struct loadgen_conn *c)
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
	int n = snprintf(
		j->buf, j->buf_cap,
		"{\"transfer_id\":\"%s\",\"destination_tank_id\":\"%s\",\"source_server_id\":\"" SOURCE_SERVER
		"\",\"source_tank_id\":\"%s\",\"entity_data\":%.*s%s%s}",
		tid, j->dest_tank, j->source_tank, (int)j->tmpl_a_len, j->tmpl_a, fid, j->tmpl_b);
	if (j->sent == 0)
		snprintf(j->first_body, sizeof j->first_body, "%s", j->buf);
	j->sent++;
	c->tag = j->w == W_MEASURE;
	loadgen_send(c, "POST", "/api/remote-transfer", j->buf, (size_t)n);
	return true;
}

static void arrive_answer(struct loadgen *lg, struct loadgen_conn *c, const char *body, size_t len,
			  double t)
{
	struct arrive_job *j = lg->job;
	if (c->status != 200) {
		loadgen_fail(lg, "remote-transfer: HTTP %d: %.*s", c->status,
			     (int)(len > 300 ? 300 : len), body);
		return;
	}
	j->ok_total++;
	if (j->w != W_MEASURE || !c->tag)
		return;
	j->ok_window++;
	size_t sec = (size_t)(t - j->t_start);
	if (sec < sizeof j->per_s / sizeof j->per_s[0])
		j->per_s[sec]++;
	latencies_add(&j->lat, t - c->sent_at);
}

static void arrive_timer(evutil_socket_t fd, short what, void *arg)
{
	struct arrive_job *j = arg;
	if (j->w == W_WARMUP) {
		j->w = W_MEASURE;
		j->t_start = now_mono();
		loadgen_after(j->lg, &j->timer, j->duration, arrive_timer, j);
	} else {
		j->w = W_DRAIN;
		j->t_end = now_mono();
	}
}

/* Arrivals of minted fish into dest: for `duration` s after a warm-up, or exactly
 * `limit` of them. Returns the number answered 200 (all of them), -1 on failure. */
static long run_arrivals(int conns, const char *tmpl, const char *source_tank,
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
	struct loadgen *lg = loadgen_new(&simd, conns, (limit > 0 ? 30 : duration + WARMUP_S + 30));
	j->lg = lg;
	lg->job = j;
	lg->next = arrive_next;
	lg->answer = arrive_answer;
	if (limit <= 0)
		loadgen_after(lg, &j->timer, 0.5, arrive_timer, j);
	j->t_start = now_mono();
	bool ok = loadgen_run(lg);
	if (limit > 0)
		j->t_end = now_mono();
	if (j->timer)
		event_free(j->timer);
	loadgen_free(lg);
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
	double dcpu0 = bench_cpu_seconds(simd.pid), ccpu0 = bench_self_cpu_seconds(),
	       t0 = now_mono();
	bench_warn("[arrive] simd pid %d port %d on CPU %d (client CPU %d); fish of %zu bytes into "
		   "paused tank %s; %d keep-alive connections (concurrency %d), 0.5 s warm-up, "
		   "%.1f s window; state under %s",
		   (int)simd.pid, port, simd.cpu, simd.client_cpu, strlen(tmpl), dst, conns, conns,
		   duration, simd.tmpdir);
	struct arrive_job j;
	long n = run_arrivals(conns, tmpl, src, dst, duration, 0, &j);
	double t1 = now_mono(), dcpu1 = bench_cpu_seconds(simd.pid),
	       ccpu1 = bench_self_cpu_seconds();
	free(tmpl);
	if (n < 0) {
		latencies_free(&j.lat);
		return false;
	}
	int64_t rec1 = metric(port, "tankworld_sim_journal_records_total");
	int64_t sync1 = metric(port, "tankworld_sim_journal_syncs_total");
	int64_t arr1 = metric(port, "tankworld_sim_arrivals_total");
	double window = j.t_end - j.t_start;
	latencies_sort(&j.lat);
	printf("bench: simd_durable_arrivals_per_s %.0f arrivals/s\n", (double)j.ok_window / window);
	double per_sync = sync1 > sync0 ? (double)(rec1 - rec0) / (double)(sync1 - sync0) : 0;
	printf("bench: simd_journal_records_per_sync %.1f records/sync\n", per_sync);
	bench_warn("[arrive] %" PRIu64
		   " arrivals in the %.2f s window, %ld in all; latency p50 %.2f "
		   "p99 %.2f max %.2f ms; journal %" PRId64 " records in %" PRId64 " fdatasyncs",
		   j.ok_window, window, n, latencies_quantile(&j.lat, 0.5) * 1e3,
		   latencies_quantile(&j.lat, 0.99) * 1e3, latencies_max(&j.lat) * 1e3, rec1 - rec0,
		   sync1 - sync0);
	bench_warn("[arrive] over the run simd used %.0f%% of a CPU (%.0f us per arrival), the "
		   "client %.0f%%",
		   100 * (dcpu1 - dcpu0) / (t1 - t0), 1e6 * (dcpu1 - dcpu0) / (double)n,
		   100 * (ccpu1 - ccpu0) / (t1 - t0));
	char per[256] = "";
	for (size_t i = 0; i < (size_t)(window + 0.5) && i < sizeof j.per_s / sizeof j.per_s[0]; i++)
		snprintf(per + strlen(per), sizeof per - strlen(per), " %" PRIu64, j.per_s[i]);
	bench_warn("[arrive] arrivals in each second of the window (the tank growing):%s", per);
	latencies_free(&j.lat);

	/* Exactly the fish answered 200 are there; a repeated transfer changes nothing. */
	bool ok = true;
	int64_t have = fish_count(port, dst);
	if (have != n || arr1 - arr0 != n) {
		bench_warn("[arrive] the destination holds %" PRId64
			   " fish and the daemon counted %" PRId64
			   " arrivals; %ld were answered 200",
			   have, arr1 - arr0, n);
		ok = false;
	}
	char *text;
	int st = http_call(port, "POST", "/api/remote-transfer", j.first_body, &text, NULL);
	if (st != 200 || fish_count(port, dst) != have) {
		bench_warn(
			"[arrive] repeating the first transfer: HTTP %d %.200s; the count went from %" PRId64,
			st, text ? text : "", have);
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
	bench_warn("[restart] after %s tank %s holds %" PRId64 " fish, not %" PRId64, when, tank,
		   have, want);
	return false;
}

/* kill -9 with records past the snapshot: arrivals the journal alone holds. *port is
 * the running simd's, and the restarted one's after. */
static bool restart_after_kill9(int *port, int conns, const char *tank, int64_t before, bool *ok)
{
	double ready, took;
	char *tmpl = fish_template(*port, tank);
	if (!tmpl)
		return false;
	struct arrive_job j;
	long n = run_arrivals(conns, tmpl, tank, tank, 0, RESTART_ARRIVALS, &j);
	free(tmpl);
	latencies_free(&j.lat);
	if (n != RESTART_ARRIVALS)
		return false;
	int64_t before9 = fish_count(*port, tank);
	if (before9 != before + n) {
		bench_warn("[restart] %ld arrivals made %" PRId64 " fish of %" PRId64, n, before9,
			   before);
		*ok = false;
	}
	bench_daemon_kill(&simd);
	if ((*port = start_simd("restart", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_after_kill9_s_10000_fish %.3f s\n", ready);
	bench_warn("[restart] after kill -9: snapshot of %" PRId64 " fish + %ld journaled arrivals "
		   "replayed; READY after %.3f s, of which simd ran %.3f s on its CPU",
		   before, n, ready, simd.ready_cpu_s);
	*ok &= check_count(*port, tank, before9, "kill -9 (snapshot + journal)");
	return stop_simd(&took);
}

/* kill -9 before any snapshot: the tank comes back from its journal record alone. */
static bool restart_without_snapshot(bool *ok)
{
	double ready, took;
	char tank[128];
	int port = start_simd("restart-nosnap", 60, &ready);
	if (port < 0)
		return false;
	if (!create_tank(port, "bench-restart", RESTART_FISH, RESTART_FISH, RESTART_W, RESTART_H,
			 true, 5, tank))
		return false;
	int64_t before = fish_count(port, tank);
	bench_daemon_kill(&simd);
	if ((port = start_simd("restart-nosnap", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_after_kill9_no_snapshot_s_10000_fish %.3f s\n", ready);
	bench_warn("[restart] after kill -9 before any snapshot: the tank rebuilt from its create "
		   "record (seeded, so the same %" PRId64 " fish); READY after %.3f s",
		   before, ready);
	*ok &= check_count(port, tank, before, "kill -9 (journal only)");
	return stop_simd(&took);
}

static bool bench_restart(int conns)
{
	double ready, took;
	bool ok = true;
	/* A restart is not a one-core measurement: simd frees the parsed snapshot on a
	 * second thread while it goes on starting, as it would on any server. */
	simd.cpu = -1;
	int port = start_simd("restart", 60, &ready);
	if (port < 0)
		return false;
	char tank[128];
	double t0 = now_mono();
	if (!create_tank(port, "bench-restart", RESTART_FISH, RESTART_FISH + RESTART_ARRIVALS,
			 RESTART_W, RESTART_H, true, 4, tank))
		return false;
	int64_t before = fish_count(port, tank);
	bench_warn("[restart] tank %s: %" PRId64
		   " fish (%dx%d, paused), created in %.3f s; simd RSS "
		   "%.0f MB",
		   tank, before, RESTART_W, RESTART_H, now_mono() - t0, bench_rss_mb(simd.pid));
	if (before != RESTART_FISH) {
		bench_warn("[restart] expected %d fish", RESTART_FISH);
		ok = false;
	}

	/* Clean: SIGTERM writes the final snapshot; the start loads it. */
	if (!stop_simd(&took))
		return false;
	bench_warn("[restart] SIGTERM to exit (final snapshot): %.3f s", took);
	if ((port = start_simd("restart", 60, &ready)) < 0)
		return false;
	printf("bench: simd_restart_s_10000_fish %.3f s\n", ready);
	bench_warn(
		"[restart] clean restart: READY after %.3f s, of which simd ran %.3f s on its CPU; "
		"simd RSS %.0f MB",
		ready, simd.ready_cpu_s, bench_rss_mb(simd.pid));
	ok &= check_count(port, tank, before, "a clean restart");
	if (!restart_after_kill9(&port, conns, tank, before, &ok) || !restart_without_snapshot(&ok))
		return false;
	printf("bench: simd_restart_verified %d bool\n", ok ? 1 : 0);
	printed_restart_verified = true;
	return ok;
}

/* ---- 4. replay ------------------------------------------------------------------------- */

/* The next snapshot round after `after` (the snapshots counter), or -1 after timeout_s. */
static int64_t wait_snapshot(int port, int64_t after, double timeout_s)
{
	double end = now_mono() + timeout_s;
	int64_t n;
	while ((n = metric(port, "tankworld_sim_snapshots_total")) <= after && now_mono() < end)
		usleep(50 * 1000); /* -1 (no answer in time) counts as not yet */
	return n > after ? n : -1;
}

/* A running 10,000-fish tank is snapshotted by size (sim.replay_budget): killed just
 * before its next snapshot, a restart loads the snapshot and re-simulates the most it
 * ever has to. Restart time is fork to READY; re-simulation time is simd's own count. */
static bool bench_replay(void)
{
	double ready, took;
	simd.cpu = -1;
	int port = start_simd("replay", 3600, &ready);
	if (port < 0)
		return false;
	char tank[128];
	if (!create_tank(port, "bench-replay", RESTART_FISH, RESTART_FISH + 1000, RESTART_W,
			 RESTART_H, false, 6, tank))
		return false;
	/* Its own time limit: snapshots of a running 10,000-fish tank come every few
	 * seconds on an idle machine, much later on a loaded one. */
	bench_set_time_limit(480);
	/* The interval between early snapshots, measured, then a kill at 90% of it. */
	int64_t n0 = -1;
	for (int i = 0; i < 100 && n0 < 0; i++)
		if ((n0 = metric(port, "tankworld_sim_snapshots_total")) < 0)
			usleep(100 * 1000);
	int64_t s0 = n0 < 0 ? -1 : wait_snapshot(port, n0, 150);
	if (s0 < 0) {
		bench_warn("[replay] the running tank was not snapshotted by size within 150 s");
		return false;
	}
	double t0 = now_mono();
	int64_t s1 = wait_snapshot(port, s0, 120);
	double interval = now_mono() - t0;
	if (s1 < 0) /* a loaded machine: kill now, 120 s after the last snapshot */
		bench_warn(
			"[replay] no second snapshot by size within 120 s (rounds are slow here)");
	else
		usleep((useconds_t)(interval * 0.9 * 1e6));
	int64_t before = fish_count(port, tank);
	bench_daemon_kill(&simd);
	if ((port = start_simd("replay", 3600, &ready)) < 0)
		return false;
	double resim = metric_double(port, "tankworld_sim_replay_seconds");
	double frames = metric_double(port, "tankworld_sim_replay_frames");
	int64_t after = fish_count(port, tank);
	printf("bench: simd_restart_before_snapshot_s_10000_fish %.3f s\n", ready);
	printf("bench: simd_resimulation_s_10000_fish %.3f s\n", resim);
	bench_warn("[replay] snapshots every %.2f s by size; killed %.2f s after one: READY after "
		   "%.3f s, of which re-simulating %.0f frames took %.3f s; %" PRId64
		   " fish before, %" PRId64 " after",
		   interval, s1 < 0 ? interval : interval * 0.9, ready, frames, resim, before,
		   after);
	bool ok = after > 0 && resim >= 0 && llabs(after - before) < before / 20 + 10;
	if (!stop_simd(&took))
		return false;
	printf("bench: simd_replay_verified %d bool\n", ok ? 1 : 0);
	return ok;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	char exe[4096];
	if (!bench_init("bench-simd", argc, argv, "SIMD", "simd/simd", exe, sizeof exe))
		return 1;
	double duration = bench_env_double("BENCH_DURATION", DEFAULT_DURATION_S, 0.5, 20);
	int conns_get = (int)bench_env_double("BENCH_CONNS_GET", DEFAULT_CONNS_GET, 1,
					      LOADGEN_MAX_CONNS);
	int conns_arrive = (int)bench_env_double("BENCH_CONNS_ARRIVE", DEFAULT_CONNS_ARRIVE, 1,
						 LOADGEN_MAX_CONNS);

	const char *base = getenv("BENCH_TMPDIR");
	if (!bench_daemon_setup(&simd, "simd", exe, base && *base ? base : "/tmp"))
		return 1;
	bench_set_time_limit(120);

	double t0 = now_mono();
	const char *only = getenv("BENCH_ONLY");
	if (only && !*only)
		only = NULL;
	bool health_only = only && strcmp(only, "health") == 0;
	if ((!only || strcmp(only, "get") == 0 || health_only) &&
	    !bench_get(duration, conns_get, health_only)) {
		bench_warn("the GET benchmark failed");
		any_failure = true;
	}
	bench_daemon_kill(&simd);
	if ((!only || strcmp(only, "arrive") == 0) && !bench_arrivals(duration, conns_arrive)) {
		bench_warn("the arrival benchmark failed");
		if (!printed_arrivals_verified)
			printf("bench: simd_arrivals_verified 0 bool\n");
		any_failure = true;
	}
	bench_daemon_kill(&simd);
	if ((!only || strcmp(only, "restart") == 0) && !bench_restart(conns_arrive)) {
		bench_warn("the restart benchmark failed");
		if (!printed_restart_verified)
			printf("bench: simd_restart_verified 0 bool\n");
		any_failure = true;
	}
	bench_daemon_kill(&simd);
	if ((!only || strcmp(only, "replay") == 0) && !bench_replay()) {
		bench_warn("the replay benchmark failed");
		any_failure = true;
	}
	bench_daemon_kill(&simd);
	bench_warn("done in %.1f s", now_mono() - t0);
	bench_daemon_cleanup(&simd);
	return any_failure ? 1 : 0;
}
