/* migrated: connections, the migration scheduler, exactly-once delivery and the
 * transfer history (DESIGN §1, §5, §6). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "migrated.h"
#include "util.h"

const double latency_bounds[LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
						0.25,  0.5,  1,	    5,	  30};

void migrated_save_connections(struct migrated *md)
{
	json_object *state = connections_to_state(md->conns);
	char *text = strdup(jv_to_string(state));
	if (!text)
		abort();
	json_object_put(state);
	state_writer_submit(md->conn_writer, text, strlen(text));
}

static int local_request(struct migrated *md, const char *host, const char *sock,
			 const char *method, const char *path, json_object *body, fetch_cb cb,
			 void *arg)
{
	if (md->stopping)
		return -ESHUTDOWN; /* callers treat it as a failed request */
	char url[600];
	/* A distinct host name per daemon keeps curl's per-host connection limit from
	 * letting a stalled discoveryd hold up requests to simd (both are "localhost"). */
	snprintf(url, sizeof url, "http://%s%s", host, path);
	const char *text = body ? jv_to_string(body) : NULL;
	long timeout = (long)(md->daemon->conf.migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = method,
		.url = url,
		.unix_path = sock,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < 2000 ? timeout : 2000,
	};
	int r = fetch_start(md->fetch, &req, cb, arg);
	json_object_put(body);
	return r;
}

int migrated_sim(struct migrated *md, const char *method, const char *path, json_object *body,
		 fetch_cb cb, void *arg)
{
	return local_request(md, "simd", md->daemon->conf.sim.socket, method, path, body, cb, arg);
}

int migrated_discovery(struct migrated *md, const char *method, const char *path, fetch_cb cb,
		       void *arg)
{
	return local_request(md, "discoveryd", md->daemon->conf.discovery.socket, method, path,
			     NULL, cb, arg);
}

json_object *migrated_parse_answer(const struct fetch_response *r, const char *what)
{
	struct json_err e;
	json_object *o = jv_parse_object(r->body, r->len, 64, &e);
	if (!o)
		log_debug("%s: the answer (%ld) is not a JSON object: %s", what, r->status, e.msg);
	return o;
}

const char *migrated_error_code(const struct fetch_response *r, char *buf, size_t len)
{
	struct json_err e;
	const char *code = NULL;
	buf[0] = '\0';
	json_object *o = jv_parse_object(r->body, r->len, 64, &e);
	if (o && jv_string(o, "code", false, 1, 63, &code, &e) > 0)
		snprintf(buf, len, "%s", code);
	json_object_put(o);
	return buf;
}

void migrated_observe_latency(struct migrated *md, double seconds)
{
	md->m.latency_sum += seconds;
	md->m.latency_count++;
	for (int i = 0; i < LATENCY_BUCKETS; i++)
		if (seconds <= latency_bounds[i])
			md->m.latency_le[i]++;
}

static void load_connections(struct migrated *md)
{
	char *text;
	size_t len;
	int r = fs_read_file(md->conn_path, 64u << 20, &text, &len);
	if (r == -ENOENT)
		return;
	if (r < 0)
		fatal("cannot read %s: %s", md->conn_path, strerror(-r));
	struct json_err e;
	json_object *o = jv_parse_object(text, len, 16, &e);
	free(text);
	if (o && connections_from_state(md->conns, o, &e) == 0) {
		log_info("loaded %zu connection(s) from %s", connections_count(md->conns),
			 md->conn_path);
		json_object_put(o);
		return;
	}
	json_object_put(o);
	/* Connections are the operator's configuration: keep the damaged file for them,
	 * say so loudly (log and /health), and start with none rather than not at all. */
	char moved[CONF_PATH + 64];
	snprintf(moved, sizeof moved, "%s.corrupt-%ld", md->conn_path, (long)now_wall());
	if (rename(md->conn_path, moved) < 0)
		fatal("%s is damaged (%s) and cannot be moved aside: %s", md->conn_path, e.msg,
		      strerror(errno));
	snprintf(md->conn_file_error, sizeof md->conn_file_error,
		 "%s was damaged (%s); kept as %s; started without connections", md->conn_path,
		 e.msg, moved);
	log_err("%s", md->conn_file_error);
}

static void seed_rng(struct migrated *md)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
	}
	rng_seed(&md->rng, seed);
}

static int on_reload(void *arg, const struct conf *newc)
{
	struct migrated *md = arg;
	const struct conf *old = &md->daemon->conf;
	if (strcmp(newc->server.server_id, old->server.server_id) != 0 ||
	    strcmp(newc->server.state_dir, old->server.state_dir) != 0) {
		log_err("server_id and state_dir cannot change on reload; restart instead");
		return -EINVAL;
	}
	http_server_set_token(md->http, newc->security.token, newc->security.insecure);
	md->daemon->conf = *newc;
	tbucket_set_rate(&md->global_bucket, newc->migration.max_per_second, now_mono());
	pass_rearm(md);
	return 0;
}

static struct event *drain_timer;
static double drain_deadline;

/* Requests already sent are allowed to finish (briefly), so their answers are used
 * and nothing is left half-done in memory; no new ones start once stopping is set. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct migrated *md = arg;
	if (fetch_pending(md->fetch) == 0 || now_mono() >= drain_deadline) {
		if (fetch_pending(md->fetch))
			log_info("stopping with %zu request(s) unanswered", fetch_pending(md->fetch));
		daemon_exit(md->daemon);
		return;
	}
	struct timeval tv = {0, 20000};
	evtimer_add(drain_timer, &tv);
}

static void on_stop(void *arg)
{
	struct migrated *md = arg;
	/* Transfers in flight stay in simd's outbox; the next start resumes them. */
	md->stopping = true;
	if (delivery_in_flight(md->delivery))
		log_info("stopping with %zu transfer(s) in flight: they stay in simd's outbox and "
			 "resume on the next start", delivery_in_flight(md->delivery));
	double wait = md->daemon->conf.migration.request_timeout;
	drain_deadline = now_mono() + (wait < 3 ? wait : 3);
	drain_timer = evtimer_new(md->daemon->base, on_drain, md);
	if (!drain_timer)
		abort();
	on_drain(-1, 0, md);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	static struct migrated md;
	daemon_init(&d, "migrated", argc, argv);
	const struct conf *c = &d.conf;
	md.daemon = &d;
	md.started_mono = now_mono();
	seed_rng(&md);

	char *dir = fs_path_join(c->server.state_dir, "migration");
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", dir, strerror(-r));
	md.conn_path = fs_path_join(dir, "connections.json");

	struct history_load_stats hs;
	int herr = 0;
	md.history = history_new(&(struct history_opts){.dir = dir}, &hs, &herr);
	if (!md.history)
		fatal("cannot open the transfer log in %s: %s", dir, strerror(-herr));
	if (hs.lines)
		log_info("transfer history: %zu line(s) from %zu file(s), %zu transfer(s) in memory%s",
			 hs.lines, hs.files, history_count(md.history),
			 hs.bad_lines ? " (some damaged lines skipped)" : "");
	if (hs.bad_lines)
		log_warn("transfer history: %zu damaged line(s) skipped (a crash can cut the last "
			 "line short)", hs.bad_lines);
	free(dir);

	md.conns = connections_new(c->server.server_id);
	load_connections(&md);
	md.conn_writer = state_writer_new(md.conn_path);
	tbucket_init(&md.global_bucket, c->migration.max_per_second, now_mono());
	md.fetch = fetch_new(d.base);
	md.delivery = delivery_new(&md);
	md.peers = peers_new();
	md.pass = pass_new(&md);
	md.exits = exits_new(&md);
	md.http = api_new(&md);
	daemon_set_handlers(&d, on_reload, on_stop, &md);
	md.tcp_port = daemon_listen(&d, md.http, c->migration.socket, &c->migration.listen);
	pass_rearm(&md);
	/* At once: resume what a previous run left in the outbox, and bring simd's exits
	 * and the connections in step (a pass that rolls nothing). */
	delivery_resume_outbox(&md);
	pass_sync_now(&md);
	daemon_ready(&d, "server %s, %zu connection(s), interval %g s, port %d",
		     c->server.server_id, connections_count(md.conns), c->migration.check_interval,
		     md.tcp_port);

	daemon_run(&d);

	md.stopping = true;
	log_info("stopping");
	if (drain_timer)
		event_free(drain_timer);
	md.fetch = fetch_free(md.fetch); /* cancels requests without calling back */
	md.pass = pass_free(md.pass);
	md.exits = exits_free(md.exits);
	strset_clear(&md.verifying_tanks);
	md.delivery = delivery_free(md.delivery);
	md.peers = peers_free(md.peers);
	md.http = http_server_free(md.http);
	md.conn_writer = state_writer_free(md.conn_writer); /* flushes */
	md.conns = connections_free(md.conns);
	md.history = history_free(md.history);
	free(md.conn_path);
	daemon_done(&d);
	log_info("stopped");
	return 0;
}
