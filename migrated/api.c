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
#include "xalloc.h"

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
		http_reply_error(ctx->req, 400, "invalid_id",
				 "%s must be 1-%zu characters of "
				 "A-Z a-z 0-9 . _ - > : starting with a letter or digit",
				 what, max_len);
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
		if (conn_matches(c, tank_id) && (ctx->trusted || !privacy_hides_connection(md, c))) {
			json_object *o = connection_to_json(c);
			connection_add_state_json(o, c, now_mono());
			json_object_array_add(list, o);
		}
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
	if (c && !ctx->trusted && privacy_hides_connection(md, c)) {
		http_reply_unauthorized(ctx, "reading a private tank's connection needs");
	} else if (c) {
		json_object *o = connection_to_json(c);
		connection_add_state_json(o, c, now_mono());
		http_reply_json(ctx->req, 200, o);
	} else {
		http_reply_error(ctx->req, 404, "unknown_connection", "Connection not found: %s",
				 id);
	}
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
	json_object *warnings; /* unknown fields of the body, or NULL */
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

/* A connection change is answered only once the table holding it is on disk, so an
 * acknowledged change survives a power cut (the power-loss test found answers sent
 * before the write). */
static void reply_when_saved(struct migrated *md, struct http_deferred *d, int status,
			     json_object *body)
{
	migrated_save_connections_then(md, http_held_send, http_held_new(d, status, body));
}

static void check_finish(struct conn_check *k)
{
	if (--k->pending > 0)
		return;
	struct migrated *md = k->md;
	if (k->status) {
		struct evhttp_request *req = take(k->d);
		if (req)
			http_reply_error(req, k->status, k->code, "%s", k->msg);
		json_object_put(k->warnings);
		free(k);
		return;
	}
	bool created;
	struct connection old;
	char conflict[CONN_ID_MAX + 1];
	k->c.validated_at = k->sent;
	if (connections_upsert(md->conns, &k->c, &created, &old, conflict) < 0) {
		struct evhttp_request *req = take(k->d);
		if (req)
			http_reply_error(
				req, 409, "direction_taken",
				"tank %s already sends fish through its %s wall by connection "
				"%s; delete or update that one first",
				k->c.source_tank_id, direction_name(k->c.direction), conflict);
		json_object_put(k->warnings);
		free(k);
		return;
	}
	json_object *o = connection_to_json(&k->c);
	if (k->warnings)
		json_object_object_add(o, "warnings", k->warnings);
	reply_when_saved(md, k->d, created ? 201 : 200, o);
	log_info("connection %s %s: %s -> %s:%s, %d%%, %s", k->c.id,
		 created ? "created" : "updated", k->c.source_tank_id, k->c.destination_server_id,
		 k->c.destination_tank_id, k->c.probability, direction_name(k->c.direction));
	exits_sync(md, k->c.source_tank_id);
	if (!created && strcmp(old.source_tank_id, k->c.source_tank_id) != 0)
		exits_sync(md, old.source_tank_id);
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
		check_fail(k, 404, "unknown_server",
			   "server %s is not known to discoveryd; "
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

/* What a connection's body may hold: what connection_from_json reads, in both spellings,
 * and what GET adds (a connection fetched, changed and posted back is no mistake).
 * Anything else is answered with a warning. */
static const char *const conn_keys[] = {"id",
					"sourceId",
					"source_tank_id",
					"destinationId",
					"destination_tank_id",
					"sourceServerId",
					"source_server_id",
					"destinationServerId",
					"destination_server_id",
					"probability",
					"direction",
					"state",
					"refusals",
					"reason",
					"retryInSeconds",
					NULL};

static void api_post_connection(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	json_object *body = http_body_object(ctx);
	if (!body)
		return;
	struct connection c;
	struct json_err e;
	int r = connection_from_json(body, md->daemon->conf.server.server_id, false, &c, &e);
	json_object *warnings = r < 0 ? NULL : jv_ignored_keys(body, conn_keys);
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
			http_reply_error(
				ctx->req, 409, "direction_taken",
				"tank %s already sends fish through its %s wall by connection "
				"%s; delete or update that one first",
				c.source_tank_id, direction_name(c.direction), o->id);
			json_object_put(warnings);
			return;
		}
	}
	struct conn_check *k = xcalloc(1, sizeof *k);
	k->md = md;
	k->c = c;
	k->warnings = warnings;
	k->sent = now_mono();
	k->pending = 3; /* source, destination, and one held while starting */
	k->d = http_defer(ctx);
	char path[SERVER_ID_MAX + TANK_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/tanks/%s", c.source_tank_id);
	check_start(k, request_sim(md, "GET", path, NULL, on_check_source, k));
	if (connection_is_local(&c)) {
		snprintf(path, sizeof path, "/api/tanks/%s", c.destination_tank_id);
		check_start(k, request_sim(md, "GET", path, NULL, on_check_destination, k));
	} else {
		snprintf(path, sizeof path, "/api/discovery/servers/%s", c.destination_server_id);
		check_start(k, request_discovery(md, "GET", path, on_check_server, k));
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
		http_reply_error(ctx->req, 404, "unknown_connection", "Connection not found: %s",
				 id);
		free(id);
		return;
	}
	log_info("connection %s deleted", id);
	exits_sync(md, old.source_tank_id);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(true));
	json_object_object_add(o, "id", json_object_new_string(id));
	reply_when_saved(md, http_defer(ctx), 200, o);
	free(id);
}

/* ---- transfers ---- */

/* For a caller without the token (privacy.c). */
static bool hidden_transfer(const struct transfer_record *r, void *md)
{
	return privacy_hides_transfer(md, r);
}

static void api_list_transfers(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	long limit = 50;
	bool success_only = false;
	char *tank_id = NULL;
	if (http_query_limit(ctx, "limit", HISTORY_QUERY_MAX, &limit) < 0 ||
	    http_query_bool(ctx, "success_only", &success_only) < 0 ||
	    http_query(ctx, "tank_id", &tank_id) < 0)
		return;
	if (tank_id && !object_id_valid(tank_id, TANK_ID_MAX)) {
		http_reply_error(ctx->req, 400, "invalid_query", "tank_id is not a valid tank id");
		free(tank_id);
		return;
	}
	const struct transfer_record **out = xcalloc((size_t)limit, sizeof *out);
	size_t n = history_query_hiding(md->history, tank_id, success_only, (size_t)limit,
					ctx->trusted ? NULL : hidden_transfer, md, out);
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, transfer_record_to_json(out[i]));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int((int)n));
	json_object_object_add(o, "limit", json_object_new_int((int)limit)); /* as applied */
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
	if (r && !ctx->trusted && privacy_hides_transfer(md, r))
		http_reply_unauthorized(ctx, "reading a private tank's transfer needs");
	else if (r)
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
		json_object *t = request_answer(r, "tank"), *tank;
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
	json_object_object_add(o, "transfers_in_failed",
			       json_object_new_int64((int64_t)st.in_failed));
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
	if (!ctx->trusted && !privacy_tank_public(md, id)) {
		free(id);
		http_reply_unauthorized(ctx, "reading a tank this server does not list as public "
					     "needs");
		return;
	}
	struct stats_req *s = xcalloc(1, sizeof *s);
	s->md = md;
	snprintf(s->tank_id, sizeof s->tank_id, "%s", id);
	free(id);
	char path[TANK_ID_MAX + 32];
	snprintf(path, sizeof path, "/api/tanks/%s", s->tank_id);
	s->d = http_defer(ctx);
	if (request_sim(md, "GET", path, NULL, on_stats_tank, s) < 0) {
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
	json_object *sched = pass_status_json(md);
	if (!ctx->trusted)
		privacy_hide_pass(md, sched);
	json_object_object_add(o, "scheduler", sched);
	json_object_object_add(o, "in_flight",
			       json_object_new_int((int)delivery_in_flight(md->delivery)));
	json_object *list = delivery_list_json(md->delivery);
	json_object_object_add(o, "transfers", ctx->trusted ? list : privacy_shown(md, list));
	http_reply_json(ctx->req, 200, o);
}

/* ---- health and metrics ---- */

static void api_health(struct http_ctx *ctx)
{
	struct migrated *md = md_of(ctx);
	char extra[1024];
	int n = snprintf(extra, sizeof extra,
			 ",\"connections\":%zu,\"in_flight\":%zu,\"warnings\":",
			 (size_t)connections_count(md->conns),
			 (size_t)delivery_in_flight(md->delivery));
	if (md->conn_file_error[0]) { /* rare: escaped by json-c */
		json_object *w = json_object_new_array();
		json_object_array_add(w, json_object_new_string(md->conn_file_error));
		snprintf(extra + n, sizeof extra - (size_t)n, "%s", jv_to_string(w));
		json_object_put(w);
	} else {
		snprintf(extra + n, sizeof extra - (size_t)n, "[]");
	}
	http_reply_health(ctx->req, "migrated", md->daemon->conf.server.server_id,
			  now_mono() - md->started_mono, extra);
}

static void write_metrics(void *arg, FILE *f)
{
	struct migrated *md = arg;
	metrics_write(md, delivery_in_flight(md->delivery), f);
}

static void api_metrics(struct http_ctx *ctx)
{
	http_reply_metrics(ctx, write_metrics, md_of(ctx));
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
	{EVHTTP_REQ_GET, "/metrics", api_metrics, ROUTE_TRUSTED},
};

struct http_server *api_new(struct migrated *md)
{
	return daemon_http_server(md->daemon, routes, sizeof routes / sizeof routes[0], md,
				  (struct http_server_opts){.max_body = 64 * 1024});
}
