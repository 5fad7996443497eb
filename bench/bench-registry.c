/* bench-registry: a hub with a large registry, and convergence through two hubs.
 *
 * (1) Flood: 20,000 servers register with one hub over CONNS keep-alive connections
 *     while one more connection asks GET /health back to back; prints registrations/s
 *     and the /health latency (p99, max) during the flood.
 * (2) A worker started after the flood (heartbeat_interval 1 s) syncs the hub's
 *     registry by difference, in pages; prints how many intervals until it knows all
 *     20,000 (the target is at most 3).
 * (3) Two hubs that name each other; 1,000 simulated servers register, half with each;
 *     prints the time until both hubs list all 1,000.
 * (4) The same through etcd (when /usr/bin/etcd is installed): a one-member etcd on
 *     free loopback ports, a discoveryd with backend = etcd, and 1,000 simulated
 *     servers writing their entries under leases; prints the time until discoveryd
 *     lists all 1,000.
 *
 * Usage: bench-registry [ABS_TOP_BUILDDIR]   (or $abs_top_builddir, or $DISCOVERYD)
 * Tunables: BENCH_SERVERS (20000), BENCH_CONNS (32). */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "xalloc.h"

#define INTERVAL_S 1.0
#define CONVERGE_N 1000

struct flood {
	int n_servers, next, registered;
	double start, end;
	struct latencies health;
	uint64_t non_200;
};

static struct flood F;

/* A hub (hub_url "" or another hub's URL) with a 1 s heartbeat that never times out
 * during a run; extra is one more setting or NULL. */
static int start_discoveryd(struct bench_daemon *d, const char *id, const char *hub_url,
			    const char *extra)
{
	char sid[96], hub[256];
	snprintf(sid, sizeof sid, "server.server_id=%s", id);
	snprintf(hub, sizeof hub, "discovery.hub_url=%s", hub_url);
	const char *const sets[] = {sid,
				    "discovery.listen=127.0.0.1:0",
				    "discovery.heartbeat_interval=1",
				    "discovery.heartbeat_timeout=600",
				    "discovery.evict_after=3600",
				    hub,
				    extra,
				    NULL};
	return bench_daemon_start_sets(d, sets, 20);
}

static size_t server_info_body(char *buf, size_t len, const char *prefix, int server)
{
	return (size_t)snprintf(
		buf, len,
		"{\"server_id\":\"%s-%05d\",\"hostname\":\"bench-host-%05d\","
		"\"host\":\"10.%d.%d.%d\",\"port\":8001,\"discovery_port\":8000,"
		"\"migration_port\":8002,\"tank_count\":1,\"version\":\"0.1.0\","
		"\"uptime_seconds\":1.5,\"platform\":\"Linux\",\"architecture\":\"x86_64\","
		"\"logical_cpus\":4}",
		prefix, server, server, (server >> 16) & 255, (server >> 8) & 255, server & 255);
}

/* ---- (1) the flood, on the load generator ---- */

static bool flood_next(struct loadgen *lg, struct loadgen_conn *c)
{
	if (F.start == 0)
		F.start = now_mono();
	if (loadgen_conn_index(c) == 0) {
		if (F.registered >= F.n_servers)
			return false;
		c->tag = 1;
		loadgen_send(c, "GET", "/health", NULL, 0);
		return true;
	}
	if (F.next >= F.n_servers)
		return false;
	char body[512];
	size_t n = server_info_body(body, sizeof body, "bench", F.next++);
	c->tag = 0;
	loadgen_send(c, "POST", "/api/discovery/register", body, n);
	return true;
}

static void flood_answer(struct loadgen *lg, struct loadgen_conn *c, const char *body, size_t len,
			 double t)
{
	if (c->status != 200) {
		F.non_200++;
		loadgen_fail(lg, "HTTP %d: %.*s", c->status, (int)(len > 200 ? 200 : len), body);
		return;
	}
	if (c->tag == 1) {
		latencies_add(&F.health, t - c->sent_at);
		return;
	}
	if (++F.registered == F.n_servers)
		F.end = t;
}

/* ---- a small blocking client for the convergence phases ---- */

/* token: the Bearer token for a discoveryd (TCP mutations need it), NULL for etcd,
 * which refuses a request that carries a token it did not issue. */
static int http_get(int port, const char *token, const char *method, const char *path,
		    const char *body, char **ret)
{
	char *text = NULL;
	int status = bench_http(port, token, method, path, body, &text, NULL);
	if (ret)
		*ret = text ? text : xstrdup("");
	else
		free(text);
	return status;
}

/* "servers" of GET /health: how many servers the daemon knows. */
static long known(int port)
{
	char *body = NULL;
	long n = -1;
	if (http_get(port, bench_token, "GET", "/health", NULL, &body) == 200) {
		json_object *o = json_tokener_parse(body), *v;
		if (o && json_object_object_get_ex(o, "servers", &v))
			n = json_object_get_int(v);
		json_object_put(o);
	}
	free(body);
	return n;
}

static double wait_known(struct bench_daemon **ds, int n_ds, long want, double timeout)
{
	double t0 = now_mono();
	while (now_mono() - t0 < timeout) {
		bool all = true;
		for (int i = 0; i < n_ds && all; i++) {
			bench_daemon_drain_notify(ds[i]);
			all = known(ds[i]->port) >= want;
		}
		if (all)
			return now_mono() - t0;
		usleep(10000);
	}
	return -1;
}

static int free_port(void)
{
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	int port = -1;
	if (sock >= 0 && bind(sock, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(sock, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (sock >= 0)
		close(sock);
	return port;
}

static void b64(const char *s, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*out++ = t[v >> 18 & 63];
		*out++ = t[v >> 12 & 63];
		*out++ = i + 1 < n ? t[v >> 6 & 63] : '=';
		*out++ = i + 2 < n ? t[v & 63] : '=';
	}
	*out = '\0';
}

/* (4): returns false on failure; prints nothing when etcd is not installed. */
/* A one-member etcd on loopback ports, its data in dir; its pid, once it answers
 * /health (or after 20 s). */
static pid_t etcd_start(const char *etcd, const char *dir, int cport)
{
	int pport = free_port();
	char curl_[64], purl[64], data[4200], init[96];
	snprintf(curl_, sizeof curl_, "http://127.0.0.1:%d", cport);
	snprintf(purl, sizeof purl, "http://127.0.0.1:%d", pport);
	snprintf(data, sizeof data, "%s/etcd", dir);
	snprintf(init, sizeof init, "b=%s", purl);
	pid_t ep = fork();
	if (ep == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(etcd, etcd, "--name", "b", "--data-dir", data, "--listen-client-urls", curl_,
		      "--advertise-client-urls", curl_, "--listen-peer-urls", purl,
		      "--initial-advertise-peer-urls", purl, "--initial-cluster", init,
		      "--listen-metrics-urls", "http://127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	double t0 = now_mono();
	while (now_mono() - t0 < 20 && http_get(cport, NULL, "GET", "/health", NULL, NULL) != 200)
		usleep(50000);
	return ep;
}

/* CONVERGE_N servers put straight into etcd under one lease, as their discoveryds
 * would. False on the first refusal. */
static bool etcd_put_servers(int cport)
{
	char *answer = NULL;
	long long lease = 0;
	if (http_get(cport, NULL, "POST", "/v3/lease/grant", "{\"TTL\":600}", &answer) == 200) {
		const char *id = strstr(answer, "\"ID\":\"");
		lease = id ? atoll(id + 6) : 0;
	}
	free(answer);
	if (!lease) {
		bench_warn("etcd granted no lease");
		return false;
	}
	for (int i = 0; i < CONVERGE_N; i++) {
		char key[128], info[512], kb[200], vb[700], body[1024];
		snprintf(key, sizeof key, "/tankworld/servers/etcd-%05d", i);
		server_info_body(info, sizeof info, "etcd", i);
		b64(key, kb);
		b64(info, vb);
		snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}",
			 kb, vb, lease);
		if (http_get(cport, NULL, "POST", "/v3/kv/put", body, NULL) != 200) {
			bench_warn("etcd refused put %d", i);
			return false;
		}
	}
	return true;
}

/* (4) A discoveryd on the etcd backend learns CONVERGE_N servers put into etcd. */
static bool bench_etcd(const char *exe)
{
	const char *etcd = "/usr/bin/etcd";
	if (access(etcd, X_OK) < 0) {
		bench_warn("etcd not installed (Debian package etcd-server): no etcd figure");
		return true;
	}
	static struct bench_daemon d;
	if (!bench_daemon_setup(&d, "discoveryd", exe, "/tmp"))
		return false;
	int cport = free_port();
	pid_t ep = etcd_start(etcd, d.tmpdir, cport);
	bool ok = false;
	char eps[96];
	snprintf(eps, sizeof eps, "discovery.etcd_endpoints=http://127.0.0.1:%d", cport);
	const char *const sets[] = {"server.server_id=bench-etcd",
				    "discovery.listen=127.0.0.1:0",
				    "discovery.backend=etcd",
				    eps,
				    "discovery.heartbeat_interval=1",
				    "discovery.heartbeat_timeout=600",
				    NULL};
	struct bench_daemon *ds[] = {&d};
	if (bench_daemon_start_sets(&d, sets, 20) < 0 || wait_known(ds, 1, 1, 10) < 0)
		goto out;
	double r0 = now_mono();
	if (!etcd_put_servers(cport))
		goto out;
	double put_s = now_mono() - r0;
	double conv = wait_known(ds, 1, CONVERGE_N + 1, 30);
	if (conv < 0) {
		bench_warn("discoveryd knows %ld of %d through etcd", known(d.port), CONVERGE_N + 1);
		goto out;
	}
	printf("bench: discovery_etcd_convergence_%d_servers %.2f s\n", CONVERGE_N, conv);
	bench_warn("the puts took %.2f s", put_s);
	ok = bench_daemon_stop(&d, 10, NULL);
out:
	kill(ep, SIGTERM);
	waitpid(ep, NULL, 0);
	bench_daemon_cleanup(&d);
	return ok;
}

static struct bench_daemon hub, worker, h1, h2;
static bool set_hub, set_worker, set_h1, set_h2;

/* (1) The flood: F.n_servers registrations on conns connections while one more asks
 * for /health. */
static bool phase_flood(const char *exe, int conns, double *rate, double *p99)
{
	if (!(set_hub = bench_daemon_setup(&hub, "discoveryd", exe, "/tmp")) ||
	    start_discoveryd(&hub, "bench-hub", "", NULL) < 0)
		return false;
	double cpu0 = bench_cpu_seconds(hub.pid);
	struct loadgen *lg = loadgen_new(&hub, conns + 1, 60);
	lg->next = flood_next;
	lg->answer = flood_answer;
	bool ran = loadgen_run(lg);
	loadgen_free(lg);
	if (!ran || F.registered != F.n_servers || !bench_daemon_alive(&hub))
		return false;
	latencies_sort(&F.health);
	*rate = F.n_servers / (F.end - F.start);
	*p99 = latencies_quantile(&F.health, 0.99) * 1000;
	printf("bench: discovery_registrations_per_s_%d_servers %.0f registrations/s\n",
	       F.n_servers, *rate);
	printf("bench: discovery_health_p99_during_flood %.2f ms\n", *p99);
	printf("bench: discovery_health_max_during_flood %.2f ms\n",
	       latencies_max(&F.health) * 1000);
	double cpu = bench_cpu_seconds(hub.pid) - cpu0;
	bench_warn("%zu /health answers during the flood; the hub used %.2f CPU-s: %.0f "
		   "registrations per hub CPU-second (what an idle machine would approach)",
		   F.health.n, cpu, F.n_servers / cpu);
	return true;
}

/* (2) A new worker learns the whole registry from the hub; *took in seconds. */
static bool phase_worker(const char *exe, double *took)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", hub.port);
	if (!(set_worker = bench_daemon_setup(&worker, "discoveryd", exe, "/tmp")))
		return false;
	double t0 = now_mono();
	if (start_discoveryd(&worker, "bench-worker", url, NULL) < 0)
		return false;
	struct bench_daemon *w[] = {&worker};
	/* every bench server, the hub and the worker itself */
	*took = wait_known(w, 1, F.n_servers + 2, 30);
	if (*took < 0) {
		bench_warn("the worker knows %ld of %d servers after 30 s", known(worker.port),
			   F.n_servers + 2);
		return false;
	}
	*took += worker.ready_s;
	bench_warn("worker sync: worker %.2f CPU-s, wall %.2f s", bench_cpu_seconds(worker.pid),
		   now_mono() - t0);
	printf("bench: discovery_worker_sync_%d_servers %.2f intervals\n", F.n_servers,
	       *took / INTERVAL_S);
	bench_daemon_stop(&worker, 10, NULL);
	bench_daemon_stop(&hub, 30, NULL);
	return true;
}

/* (3) Two hubs naming each other, CONVERGE_N servers registering half with each. */
static bool phase_two_hubs(const char *exe)
{
	if (!(set_h1 = bench_daemon_setup(&h1, "discoveryd", exe, "/tmp")) ||
	    !(set_h2 = bench_daemon_setup(&h2, "discoveryd", exe, "/tmp")))
		return false;
	/* Each names the other; the second's port is only known once it runs, so the
	 * first is started naming a port picked now and the second listens there. */
	int p2 = free_port();
	if (p2 < 0)
		return false;
	char u2[64], u1[64], listen[64];
	snprintf(u2, sizeof u2, "http://127.0.0.1:%d", p2);
	if (start_discoveryd(&h1, "bench-h1", u2, NULL) < 0)
		return false;
	snprintf(u1, sizeof u1, "http://127.0.0.1:%d", h1.port);
	snprintf(listen, sizeof listen, "discovery.listen=127.0.0.1:%d", p2);
	if (start_discoveryd(&h2, "bench-h2", u1, listen) < 0)
		return false;
	struct bench_daemon *hubs[] = {&h1, &h2};
	if (wait_known(hubs, 2, 2, 10) < 0) {
		bench_warn("the two hubs did not learn each other");
		return false;
	}
	double r0 = now_mono();
	for (int i = 0; i < CONVERGE_N; i++) {
		char body[512];
		server_info_body(body, sizeof body, "conv", i);
		if (http_get(i % 2 ? h2.port : h1.port, bench_token, "POST",
			     "/api/discovery/register", body, NULL) != 200) {
			bench_warn("registration %d refused", i);
			return false;
		}
	}
	double reg_s = now_mono() - r0;
	double conv = wait_known(hubs, 2, CONVERGE_N + 2, 30);
	if (conv < 0) {
		bench_warn("the hubs know %ld and %ld of %d", known(h1.port), known(h2.port),
			   CONVERGE_N + 2);
		return false;
	}
	printf("bench: discovery_two_hubs_convergence_%d_servers %.2f s\n", CONVERGE_N, conv);
	bench_warn("registrations took %.2f s; interval %.1f s", reg_s, INTERVAL_S);
	bench_daemon_stop(&h1, 10, NULL);
	bench_daemon_stop(&h2, 10, NULL);
	return true;
}

int main(int argc, char **argv)
{
	char exe[4096];
	if (!bench_init("bench-registry", argc, argv, "DISCOVERYD", "discoveryd/discoveryd", exe,
			sizeof exe))
		return 1;
	F.n_servers = (int)bench_env_double("BENCH_SERVERS", 20000, 100, 100000);
	int conns = (int)bench_env_double("BENCH_CONNS", 32, 2, LOADGEN_MAX_CONNS);
	bench_set_time_limit(120);
	int rc = 1;
	double rate = 0, p99 = 0, took = 0;
	if (phase_flood(exe, conns, &rate, &p99) && phase_worker(exe, &took) &&
	    phase_two_hubs(exe) && bench_etcd(exe)) {
		if (!(took <= 3 * INTERVAL_S && rate >= 2000 && p99 < 10))
			bench_warn("below target: >= 2000 registrations/s, /health p99 < 10 ms, a "
				   "worker in sync within 3 intervals");
		rc = 0;
	}
	if (set_worker)
		bench_daemon_cleanup(&worker);
	if (set_hub)
		bench_daemon_cleanup(&hub);
	if (set_h1)
		bench_daemon_cleanup(&h1);
	if (set_h2)
		bench_daemon_cleanup(&h2);
	latencies_free(&F.health);
	return rc;
}
