/* migrated's REST API (DESIGN §5), the only file here that sees HTTP. */
#include "config.h"

#include <errno.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"

static struct migrated *md_of(struct http_ctx *ctx)
{
	return ctx->arg;
}

/* The deferred request, or NULL when the client went away; the guard is freed. */
static struct evhttp_request *take(struct http_deferred *d)
{
	struct evhttp_request *req = http_deferred_request(d);
	http_deferred_free(d);
	return req;
}

/* A path parameter, percent-decoded ("a-%3Eb" is "a->b"), validated as an id.
 * Replies 400 and returns NULL when it is not one; free the result. */
static char *id_param(struct http_ctx *ctx, const char *name, size_t max_len, const char *what)
{
	const char *raw = http_param(ctx, name);
	char *v = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
	if (!v || !object_id_valid(v, max_len)) {
		http_reply_error(ctx->req, 400, "invalid_id", "%s must be 1-%zu characters of "
				 "A-Z a-z 0-9 . _ - > : starting with a letter or digit", what, max_len);
		free(v);
		return NULL;
	}
	return v;
}

/* ---- connections ---- */

static bool conn_matches(const struct connection *c, const char *tank_id)
{
	return !tank_id || strcmp(c->source_tank_id, tank_id) == 0 ||
	       strcmp(c->destination_tank_id, tank_id) == 0;
}

static void api_list_connections(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char *tank_id = NULL;
	if (http_query(ctx, "tank_id", &tank_id) < 0)
		return;
	if (tank_id && !object_id_valid(tank_id, TANK_ID_MAX)) {
		http_reply_error(ctx->req, 400, "invalid_query", "tank_id is not a valid tank id");
		free(tank_id);
		return;
	}
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < connections_count(md->conns); i++) {
		const struct connection *c = connections_at(md->conns, i);
		if (conn_matches(c, tank_id))
			json_object_array_add(list, connection_to_json(c));
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int((int)json_object_array_length(list)));
	json_object_object_add(o, "connections", list);
	http_reply_json(ctx->req, 200, o);
	free(tank_id);
}

static void api_get_connection(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char *id = id_param(ctx, "id", CONN_ID_MAX, "the connection id");
	if (!id)
		return;
	const struct connection *c = connections_get(md->conns, id);
	if (c)
		http_reply_json(ctx->req, 200, connection_to_json(c));
	else
		http_reply_error(ctx->req, 404, "unknown_connection", "Connection not found: %s", id);
	free(id);
}

/* POST /api/connections waits for simd (the local tanks exist) and discoveryd (the
 * remote server is known) before it stores anything. */
struct conn_check {
	struct migrated *md;
	struct http_deferred *d;
	struct connection c;
	double sent;
	int pending;
	/* The first definitive problem found, replied as is. */
	int status;
	char code[48];
	char msg[300];
};

static void check_fail(struct conn_check *k, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void check_fail(struct conn_check *k, int status, const char *code, const char *fmt, ...)
{
	/* A missing tank or server beats "could not ask": it is the more useful answer. */
	if (k->status && !(k->status >= 500 && status < 500))
		return;
	k->status = status;
	snprintf(k->code, sizeof k->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->msg, sizeof k->msg, fmt, ap);
	va_end(ap);
}

static void check_finish(struct conn_check *k)
{
	if (--k->pending > 0)
		return;
	struct migrated *md = k->md;
	struct evhttp_request *req = take(k->d);
	if (k->status) {
		if (req)
			http_reply_error(req, k->status, k->code, "%s", k->msg);
		free(k);
		return;
	}
	bool created;
	struct connection old;
	char conflict[CONN_ID_MAX + 1];
	k->c.validated_at = k->sent;
	if (connections_upsert(md->conns, &k->c, &created, &old, conflict) < 0) {
		if (req)
			http_reply_error(req, 409, "direction_taken",
					 "tank %s already sends fish through its %s wall by connection "
					 "%s; delete or update that one first", k->c.source_tank_id,
					 direction_name(k->c.direction), conflict);
		free(k);
		return;
	}
	migrated_save_connections(md);
	log_info("connection %s %s: %s -> %s:%s, %d%%, %s", k->c.id, created ? "created" : "updated",
		 k->c.source_tank_id, k->c.destination_server_id, k->c.destination_tank_id,
		 k->c.probability, direction_name(k->c.direction));
	exits_sync(md, k->c.source_tank_id);
	if (!created && strcmp(old.source_tank_id, k->c.source_tank_id) != 0)
		exits_sync(md, old.source_tank_id);
	if (req)
		http_reply_json(req, created ? 201 : 200, connection_to_json(&k->c));
	free(k);
}

static void on_check_tank(const struct fetch_response *r, void *arg, bool source)
{
	struct conn_check *k = arg;
	const char *tank = source ? k->c.source_tank_id : k->c.destination_tank_id;
	const char *which = source ? "source" : "destination";
	if (r->status == 404)
		check_fail(k, 404, "unknown_tank", "%s tank %s does not exist on server %s", which,
			   tank, k->md->daemon->conf.server.server_id);
	else if (r->status != 200)
		check_fail(k, 503, "simd_unavailable", "cannot check the %s tank: simd %s", which,
			   r->status ? "answered with an error" : "is not answering");
	check_finish(k);
}

static void on_check_source(const struct fetch_response *r, void *arg)
{
	on_check_tank(r, arg, true);
}

static void on_check_destination(const struct fetch_response *r, void *arg)
{
	on_check_tank(r, arg, false);
}

static void on_check_server(const struct fetch_response *r, void *arg)
{
	struct conn_check *k = arg;
	if (r->status == 404)
		check_fail(k, 404, "unknown_server", "server %s is not known to discoveryd; "
			   "register it (or wait for its first heartbeat) first",
			   k->c.destination_server_id);
	else if (r->status != 200)
		check_fail(k, 503, "discovery_unavailable", "cannot check server %s: discoveryd %s",
			   k->c.destination_server_id,
			   r->status ? "answered with an error" : "is not answering");
	check_finish(k);
}

static void check_start(struct conn_check *k, int r)
{
	if (r < 0) {
		check_fail(k, 503, "internal", "cannot start a request: %s", strerror(-r));
		check_finish(k);
	}
}

static void api_post_connection(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	json_object *body = http_body_object(ctx);
	if (!body)
		return;
	struct connection c;
	struct json_err e;
	int r = connection_from_json(body, md->daemon->conf.server.server_id, &c, &e);
	json_object_put(body);
	if (r < 0) {
		http_reply_error(ctx->req, 400, "invalid_connection", "%s", e.msg);
		return;
	}
	/* The one-per-wall rule, early, so a doomed request costs no lookups (checked
	 * again when storing). */
	for (size_t i = 0; i < connections_count(md->conns); i++) {
		const struct connection *o = connections_at(md->conns, i);
		if (strcmp(o->id, c.id) != 0 && o->direction == c.direction &&
		    strcmp(o->source_tank_id, c.source_tank_id) == 0) {
			http_reply_error(ctx->req, 409, "direction_taken",
					 "tank %s already sends fish through its %s wall by connection "
					 "%s; delete or update that one first", c.source_tank_id,
					 direction_name(c.direction), o->id);
			return;
		}
	}
	struct conn_check *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	k->md = md;
	k->c = c;
	k->sent = now_mono();
	k->pending = 3; /* source, destination, and one held while starting */
	k->d = http_defer(ctx);
	char path[SERVER_ID_MAX + TANK_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/tanks/%s", c.source_tank_id);
	check_start(k, migrated_sim(md, "GET", path, NULL, on_check_source, k));
	if (connection_is_local(&c)) {
		snprintf(path, sizeof path, "/api/tanks/%s", c.destination_tank_id);
		check_start(k, migrated_sim(md, "GET", path, NULL, on_check_destination, k));
	} else {
		snprintf(path, sizeof path, "/api/discovery/servers/%s", c.destination_server_id);
		check_start(k, migrated_discovery(md, "GET", path, on_check_server, k));
	}
	check_finish(k);
}

static void api_delete_connection(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char *id = id_param(ctx, "id", CONN_ID_MAX, "the connection id");
	if (!id)
		return;
	struct connection old;
	if (connections_remove(md->conns, id, &old) < 0) {
		http_reply_error(ctx->req, 404, "unknown_connection", "Connection not found: %s", id);
		free(id);
		return;
	}
	migrated_save_connections(md);
	log_info("connection %s deleted", id);
	exits_sync(md, old.source_tank_id);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(true));
	json_object_object_add(o, "id", json_object_new_string(id));
	http_reply_json(ctx->req, 200, o);
	free(id);
}

/* ---- transfers ---- */

static void api_list_transfers(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	long limit = 50;
	bool success_only = false;
	char *tank_id = NULL;
	if (http_query_int(ctx, "limit", 1, 10000, &limit) < 0 ||
	    http_query_bool(ctx, "success_only", &success_only) < 0 ||
	    http_query(ctx, "tank_id", &tank_id) < 0)
		return;
	if (tank_id && !object_id_valid(tank_id, TANK_ID_MAX)) {
		http_reply_error(ctx->req, 400, "invalid_query", "tank_id is not a valid tank id");
		free(tank_id);
		return;
	}
	const struct transfer_record **out = calloc((size_t)limit, sizeof *out);
	if (!out)
		abort();
	size_t n = history_query(md->history, tank_id, success_only, (size_t)limit, out);
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, transfer_record_to_json(out[i]));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int((int)n));
	json_object_object_add(o, "transfers", list);
	http_reply_json(ctx->req, 200, o);
	free(out);
	free(tank_id);
}

static void api_get_transfer(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char *id = id_param(ctx, "transfer_id", TRANSFER_ID_MAX, "the transfer id");
	if (!id)
		return;
	const struct transfer_record *r = history_get(md->history, id);
	if (r)
		http_reply_json(ctx->req, 200, transfer_record_to_json(r));
	else
		http_reply_error(ctx->req, 404, "unknown_transfer", "Transfer not found: %s", id);
	free(id);
}

struct stats_req {
	struct migrated *md;
	struct http_deferred *d;
	char tank_id[TANK_ID_MAX + 1];
};

static void on_stats_tank(const struct fetch_response *r, void *arg)
{
	struct stats_req *s = arg;
	struct evhttp_request *req = take(s->d);
	struct tank_transfer_stats st;
	history_tank_stats(s->md->history, s->tank_id, &st);
	if (!req)
		goto out;
	if (r->status == 404 && st.in + st.out == 0) {
		http_reply_error(req, 404, "unknown_tank", "Tank not found: %s", s->tank_id);
		goto out;
	}
	json_object *o = json_object_new_object(), *tank_name = NULL;
	if (r->status == 200) {
		json_object *t = migrated_parse_answer(r, "tank"), *tank;
		const char *name;
		struct json_err e;
		if (t && jv_object(t, "tank", true, &tank, &e) > 0 &&
		    jv_string(tank, "name", true, 0, 200, &name, &e) > 0)
			tank_name = json_object_new_string(name);
		json_object_put(t);
	}
	json_object_object_add(o, "tank_id", json_object_new_string(s->tank_id));
	json_object_object_add(o, "tank_name", tank_name);
	json_object_object_add(o, "transfers_in", json_object_new_int64((int64_t)st.in));
	json_object_object_add(o, "transfers_out", json_object_new_int64((int64_t)st.out));
	json_object_object_add(o, "transfers_in_success",
			       json_object_new_int64((int64_t)st.in_success));
	json_object_object_add(o, "transfers_out_success",
			       json_object_new_int64((int64_t)st.out_success));
	json_object_object_add(o, "transfers_in_failed", json_object_new_int64((int64_t)st.in_failed));
	json_object_object_add(o, "transfers_out_failed",
			       json_object_new_int64((int64_t)st.out_failed));
	json_object_object_add(o, "transfers_in_pending",
			       json_object_new_int64((int64_t)st.in_pending));
	json_object_object_add(o, "transfers_out_pending",
			       json_object_new_int64((int64_t)st.out_pending));
	http_reply_json(req, 200, o);
out:
	free(s);
}

static void api_transfer_stats(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char *id = id_param(ctx, "id", TANK_ID_MAX, "the tank id");
	if (!id)
		return;
	struct stats_req *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->md = md;
	snprintf(s->tank_id, sizeof s->tank_id, "%s", id);
	free(id);
	char path[TANK_ID_MAX + 32];
	snprintf(path, sizeof path, "/api/tanks/%s", s->tank_id);
	s->d = http_defer(ctx);
	if (migrated_sim(md, "GET", path, NULL, on_stats_tank, s) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_stats_tank(&fail, s);
	}
}

/* ---- scheduler ---- */

static void on_pass_done(json_object *summary, void *arg)
{
	struct evhttp_request *req = take(arg);
	if (req && summary)
		http_reply_json(req, 200, summary);
	else if (req)
		http_reply_error(req, 503, "stopping", "migrated is stopping");
	else
		json_object_put(summary);
}

static void api_run(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	if (md->stopping) {
		http_reply_error(ctx->req, 503, "stopping", "migrated is stopping");
		return;
	}
	pass_run_now(md, on_pass_done, http_defer(ctx));
}

static void api_migrations(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "scheduler", pass_status_json(md));
	json_object_object_add(o, "in_flight",
			       json_object_new_int((int)delivery_in_flight(md->delivery)));
	json_object_object_add(o, "transfers", delivery_list_json(md->delivery));
	http_reply_json(ctx->req, 200, o);
}

/* ---- health and metrics ---- */

static void api_health(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	json_object *o = http_health_json("migrated", md->daemon->conf.server.server_id,
					  now_mono() - md->started_mono);
	json_object_object_add(o, "connections",
			       json_object_new_int((int)connections_count(md->conns)));
	json_object_object_add(o, "in_flight",
			       json_object_new_int((int)delivery_in_flight(md->delivery)));
	json_object *warnings = json_object_new_array();
	if (md->conn_file_error[0])
		json_object_array_add(warnings, json_object_new_string(md->conn_file_error));
	json_object_object_add(o, "warnings", warnings);
	http_reply_json(ctx->req, 200, o);
}

static void metric(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

static void api_metrics(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	const struct migrated_metrics *m = &md->m;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	metric(f, "tankworld_migration_passes_total", "counter", "Scheduler passes run.", m->passes);
	metric(f, "tankworld_migration_passes_skipped_total", "counter",
	       "Ticks skipped because the previous pass was still running.", m->passes_skipped);
	metric(f, "tankworld_migration_rolls_total", "counter", "Connections rolled.", m->rolls);
	metric(f, "tankworld_migration_hits_total", "counter",
	       "Rolls that started a migration.", m->hits);
	metric(f, "tankworld_migration_rate_limited_total", "counter",
	       "Hits skipped by the global or per-connection rate limit.", m->rate_limited);
	metric(f, "tankworld_migration_reservations_total", "counter",
	       "Fish reserved in simd's outbox for a remote destination.", m->reserves);
	metric(f, "tankworld_migration_reservation_refusals_total", "counter",
	       "Reservations simd refused (no fish, transfers disabled).", m->reserve_refusals);
	metric(f, "tankworld_migration_local_moves_total", "counter",
	       "Atomic moves between two tanks of this server.", m->local_moves);
	metric(f, "tankworld_migration_local_move_refusals_total", "counter",
	       "Local moves refused (destination full, transfers disabled).",
	       m->local_move_refusals);
	metric(f, "tankworld_migration_cooldown_aborts_total", "counter",
	       "Reservations aborted because the fish had moved in the same pass.",
	       m->cooldown_aborts);
	metric(f, "tankworld_migration_attempts_total", "counter",
	       "Delivery attempts announced to simd.", m->attempts);
	metric(f, "tankworld_migration_commits_total", "counter",
	       "Transfers committed (remote deliveries and local moves).", m->commits);
	metric(f, "tankworld_migration_aborts_total", "counter",
	       "Transfers refused for good; the fish went back to its tank.", m->aborts);
	metric(f, "tankworld_migration_retries_total", "counter",
	       "Steps retried after an unknown outcome or an unreachable daemon.", m->retries);
	metric(f, "tankworld_migration_resumed_total", "counter",
	       "Outbox records taken up from simd's outbox listing.", m->resumed);
	metric(f, "tankworld_migration_unknown_destination_total", "counter",
	       "Delivery attempts whose server discoveryd did not know.", m->unknown_destination);
	metric(f, "tankworld_migration_in_flight", "gauge", "Transfers in flight.",
	       delivery_in_flight(md->delivery));
	metric(f, "tankworld_migration_connections", "gauge", "Connections stored.",
	       connections_count(md->conns));
	metric(f, "tankworld_migration_cascades_total", "counter",
	       "Connections removed because their tank was deleted.", m->cascades);
	metric(f, "tankworld_migration_exits_pushed_total", "counter",
	       "Exit updates simd accepted.", m->exits_pushes);
	metric(f, "tankworld_migration_sim_errors_total", "counter",
	       "Requests to simd without a usable answer.", m->sim_errors);
	fprintf(f, "# HELP tankworld_migration_delivery_seconds Reservation to commit, remote "
		   "transfers.\n# TYPE tankworld_migration_delivery_seconds histogram\n");
	for (int i = 0; i < LATENCY_BUCKETS; i++)
		fprintf(f, "tankworld_migration_delivery_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			latency_bounds[i], m->latency_le[i]);
	fprintf(f, "tankworld_migration_delivery_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		   "tankworld_migration_delivery_seconds_sum %.6f\n"
		   "tankworld_migration_delivery_seconds_count %" PRIu64 "\n",
		m->latency_count, m->latency_sum, m->latency_count);
	struct history_io_stats hio;
	history_io_stats(md->history, &hio);
	metric(f, "tankworld_migration_history_lines_total", "counter",
	       "Lines appended to transfers.log.", hio.lines);
	metric(f, "tankworld_migration_history_write_errors_total", "counter",
	       "Failed appends to transfers.log.", hio.write_errors);
	struct http_stats hs;
	http_server_stats(md->http, &hs);
	fprintf(f, "# HELP tankworld_http_requests_total Requests answered, by status class.\n"
		   "# TYPE tankworld_http_requests_total counter\n"
		   "tankworld_http_requests_total{class=\"2xx\"} %" PRIu64 "\n"
		   "tankworld_http_requests_total{class=\"4xx\"} %" PRIu64 "\n"
		   "tankworld_http_requests_total{class=\"5xx\"} %" PRIu64 "\n",
		hs.status_2xx, hs.status_4xx, hs.status_5xx);
	fclose(f);
	http_reply_text(ctx->req, 200, "text/plain; version=0.0.4", buf, len);
	free(buf);
}

static const struct http_route routes[] = {
	{EVHTTP_REQ_GET, "/api/connections", api_list_connections, 0},
	{EVHTTP_REQ_POST, "/api/connections", api_post_connection, 0},
	{EVHTTP_REQ_GET, "/api/connections/{id}", api_get_connection, 0},
	{EVHTTP_REQ_DELETE, "/api/connections/{id}", api_delete_connection, 0},
	{EVHTTP_REQ_GET, "/api/transfers", api_list_transfers, 0},
	{EVHTTP_REQ_GET, "/api/transfers/{transfer_id}", api_get_transfer, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/transfer-stats", api_transfer_stats, 0},
	{EVHTTP_REQ_POST, "/api/migrations/run", api_run, 0},
	{EVHTTP_REQ_GET, "/api/migrations", api_migrations, 0},
	{EVHTTP_REQ_GET, "/health", api_health, 0},
	{EVHTTP_REQ_GET, "/metrics", api_metrics, 0},
};

struct http_server *api_new(struct migrated *md)
{
	const struct conf *c = &md->daemon->conf;
	struct http_server_opts opts = {
		.max_body = 64 * 1024,
		.token = c->security.token,
		.insecure = c->security.insecure,
	};
	return http_server_new(md->daemon->base, routes, sizeof routes / sizeof routes[0], md,
			       &opts);
}
