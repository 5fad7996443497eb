/* discoveryd's REST API (DESIGN §3), the only file here that sees HTTP. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

static struct discoveryd *dd_of(struct http_ctx *ctx)
{
	return ctx->arg;
}

/* The original's error shape for heartbeats ({"status":"error","message"}) plus ours. */
static void reply_unknown_server(struct http_ctx *ctx, const char *id)
{
	json_object *o = json_object_new_object();
	char msg[160];
	snprintf(msg, sizeof msg, "Server %s not registered. Please register first.", id);
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "code", json_object_new_string("unknown_server"));
	http_reply_json(ctx->req, 404, o);
}

static bool valid_id_param(struct http_ctx *ctx, const char *id)
{
	if (server_id_valid(id))
		return true;
	http_reply_error(ctx->req, 400, "invalid_server_id",
			 "server id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	return false;
}

static json_object *status_reply(const char *status, const char *id, const char *message)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "server_id", json_object_new_string(id));
	json_object_object_add(o, "message", json_object_new_string(message));
	return o;
}

/* The answer to an accepted heartbeat, the hot path: the same bytes as
 * http_reply_json(status_reply("ok", id, "Heartbeat received")), without building and
 * serializing a json-c object per heartbeat. id passed server_id_valid
 * ([A-Za-z0-9._-], at most 64), so it needs no JSON escaping. */
static void reply_heartbeat_ok(struct http_ctx *ctx, const char *id)
{
	char buf[160];
	int n = snprintf(
		buf, sizeof buf,
		"{\"status\":\"ok\",\"server_id\":\"%s\",\"message\":\"Heartbeat received\"}", id);
	http_reply_text(ctx->req, 200, "application/json", buf, (size_t)n);
}

static void api_register(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	json_object *body = http_body_object(ctx);
	if (!body)
		return;
	struct server_info info;
	struct json_err e;
	if (server_info_from_json(body, &info, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_server_info", "%s", e.msg);
		return;
	}
	json_object_put(body);
	bool created;
	int r = registry_register(dd->reg, &info, now_steady_wall(), true, &created);
	if (r == -EPERM) {
		http_reply_error(ctx->req, 409, "own_id",
				 "server id %s is this server's own; choose another id",
				 info.server_id);
		return;
	}
	if (r == -ENOSPC) {
		http_reply_error(ctx->req, 503, "registry_full",
				 "the registry holds max_servers (%d) servers; %s is not one of "
				 "them (room comes back as silent servers are evicted)",
				 dd->daemon->conf.discovery.max_servers, info.server_id);
		return;
	}
	dd->registrations++;
	if (created)
		log_info("server %s registered (%s:%d)", info.server_id, info.host, info.port);
	discoveryd_schedule_save(dd, true);
	char msg[160];
	snprintf(msg, sizeof msg, "Server %s registered successfully", info.server_id);
	http_reply_json(ctx->req, 200, status_reply("registered", info.server_id, msg));
}

static void api_heartbeat(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	const char *id = http_param(ctx, "server_id");
	if (!valid_id_param(ctx, id))
		return;
	struct server_info info, *infop = NULL;
	size_t len;
	if (http_body(ctx, &len)) {
		json_object *body = http_body_object(ctx);
		if (!body)
			return;
		struct json_err e;
		int r = server_info_from_json(body, &info, &e);
		json_object_put(body);
		if (r < 0) {
			http_reply_error(ctx->req, 400, "invalid_server_info", "%s", e.msg);
			return;
		}
		if (strcmp(info.server_id, id) != 0) {
			http_reply_error(ctx->req, 400, "server_id_mismatch",
					 "body names server %s but the path names %s",
					 info.server_id, id);
			return;
		}
		infop = &info;
	}
	if (strcmp(id, dd->self.server_id) == 0) {
		http_reply_error(ctx->req, 409, "own_id", "server id %s is this server's own", id);
		return;
	}
	if (registry_heartbeat(dd->reg, id, infop, now_steady_wall()) < 0) {
		reply_unknown_server(ctx, id);
		return;
	}
	dd->heartbeats++;
	discoveryd_schedule_save(dd, false);
	reply_heartbeat_ok(ctx, id);
}

/* GET /api/discovery/servers?since=R[&epoch=E][&limit=N][&listing=L]: what changed
 * after revision R, in revision order, at most N entries (removals count too). "more"
 * says another page follows from the returned revision. A reader from another epoch, or
 * older than the tombstones kept, gets everything again with "reset": true.
 * A reader paging a whole listing (from 0, or after a reset) names this run's listing
 * id L from its first page: it holds nothing from before this run, so the tombstones
 * the start lost do not concern it, only those dropped since. Without that, every
 * reader paging from 0 after a restart was sent back to page 1 at page 2, for ever
 * (a worker joining a restarted hub of 1,500 servers knew 999). */
static void list_since(struct http_ctx *ctx, struct discoveryd *dd, uint64_t since,
		       const char *epoch, const char *listing, long limit, bool include_local)
{
	char mine[24];
	snprintf(mine, sizeof mine, "%016" PRIx64, registry_epoch(dd->reg));
	bool whole = listing && strcmp(listing, dd->listing) == 0;
	uint64_t horizon = whole ? registry_dropped(dd->reg) : registry_horizon(dd->reg);
	bool reset = since > 0 && ((epoch && strcmp(epoch, mine) != 0) || since < horizon ||
				   since > registry_revision(dd->reg));
	if (reset)
		since = 0;
	double now = now_steady_wall();
	/* Written by hand, not through json-c: pages of a big registry are the hot path. */
	char *buf = NULL, *rem = NULL;
	size_t len = 0, cap = 0, rlen = 0, rcap = 0;
	registry_append(&buf, &len, &cap, "{\"servers\":[");
	registry_append(&rem, &rlen, &rcap, "");
	uint64_t upto = registry_revision(dd->reg);
	long n = 0, listed = 0;
	bool more = false;
	for (const struct server_entry *e = registry_changed_first(dd->reg, since); e;
	     e = registry_changed_next(e)) {
		if (n == limit) {
			more = true;
			break;
		}
		n++;
		upto = e->rev;
		if (e->removed) {
			/* A server registered again since has a newer live entry, in this
			 * page or the next: its old removal would only confuse a reader. */
			if (registry_get(dd->reg, e->info.server_id))
				continue;
			registry_append(&rem, &rlen, &rcap, rlen ? ",\"" : "\"");
			registry_append(&rem, &rlen, &rcap, e->info.server_id);
			registry_append(&rem, &rlen, &rcap, "\"");
		} else if (include_local || strcmp(e->info.server_id, dd->self.server_id) != 0) {
			if (listed++)
				registry_append(&buf, &len, &cap, ",");
			registry_entry_append_json(dd->reg, e, now, now_wall(), NULL, &buf, &len,
						   &cap);
		}
	}
	if (!more)
		upto = registry_revision(dd->reg);
	char tail[256];
	snprintf(tail, sizeof tail,
		 "],\"count\":%ld,\"revision\":%" PRIu64 ",\"epoch\":\"%s\",\"listing\":\"%s\","
		 "\"more\":%s,\"reset\":%s,\"removed\":[",
		 listed, upto, mine, dd->listing, more ? "true" : "false",
		 reset ? "true" : "false");
	registry_append(&buf, &len, &cap, tail);
	registry_append(&buf, &len, &cap, rem);
	registry_append(&buf, &len, &cap, "]}");
	http_reply_text(ctx->req, 200, "application/json", buf, len);
	free(buf);
	free(rem);
}

static void api_list(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	char *status_str = NULL, *since_str = NULL, *epoch = NULL, *listing = NULL;
	bool include_local = true, filter = false;
	long limit = 1000;
	enum server_status want = SERVER_ONLINE;
	int has_limit;
	if (http_query(ctx, "status", &status_str) < 0 ||
	    http_query_bool(ctx, "include_local", &include_local) < 0 ||
	    http_query(ctx, "since", &since_str) < 0 || http_query(ctx, "epoch", &epoch) < 0 ||
	    http_query(ctx, "listing", &listing) < 0 ||
	    (has_limit = http_query_int(ctx, "limit", 1, 10000, &limit)) < 0)
		goto out;
	if (status_str) {
		if (server_status_from_name(status_str, &want) < 0) {
			http_reply_error(ctx->req, 400, "invalid_query",
					 "status must be online, degraded or offline");
			goto out;
		}
		filter = true;
	}
	/* epoch and limit page a diff: without since they would be ignored, and a client
	 * that sent limit would take the whole list for a page of it. */
	if (!since_str && (epoch || listing || has_limit)) {
		http_reply_error(ctx->req, 400, "invalid_query",
				 "epoch, listing and limit go with since");
		goto out;
	}
	self_refresh(dd);
	if (since_str) {
		char *end;
		errno = 0;
		/* Digits only: strtoull takes blanks, '+' and '-' (" -5" wrapped to 2^64 - 5). */
		unsigned long long since = strtoull(since_str, &end, 10);
		if (errno || !isdigit((unsigned char)since_str[0]) || *end || filter ||
		    (epoch && !hex16_valid(epoch)) || (listing && !hex16_valid(listing))) {
			http_reply_error(ctx->req, 400, "invalid_query",
					 "since must be a revision, epoch and listing 16 hex digits, "
					 "and status cannot filter a diff");
			goto out;
		}
		list_since(ctx, dd, since, epoch, listing, limit, include_local);
		goto out;
	}
	api_list_all(ctx, dd, include_local, filter ? (int)want : -1);
out:
	free(status_str);
	free(since_str);
	free(epoch);
	free(listing);
}

static void api_get_server(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	const char *id = http_param(ctx, "server_id");
	if (!valid_id_param(ctx, id))
		return;
	self_refresh(dd);
	const struct server_entry *e = registry_get(dd->reg, id);
	if (!e) {
		http_reply_error(ctx->req, 404, "unknown_server", "Server not found: %s", id);
		return;
	}
	api_list_entry(ctx, dd, e);
}

static void api_unregister(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	const char *id = http_param(ctx, "server_id");
	if (!valid_id_param(ctx, id))
		return;
	int r = registry_unregister(dd->reg, id);
	if (r == -EPERM) {
		http_reply_error(ctx->req, 409, "own_id", "this server cannot unregister itself");
		return;
	}
	if (r < 0) {
		http_reply_error(ctx->req, 404, "unknown_server", "Server not found: %s", id);
		return;
	}
	dd->unregistrations++;
	log_info("server %s unregistered", id);
	discoveryd_schedule_save(dd, true);
	char msg[160];
	snprintf(msg, sizeof msg, "Server %s unregistered", id);
	http_reply_json(ctx->req, 200, status_reply("unregistered", id, msg));
}

static void api_local(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	self_refresh(dd);
	const struct server_entry *e = registry_get(dd->reg, dd->self.server_id);
	api_list_entry(ctx, dd, e);
}

static void api_health(struct http_ctx *ctx)
{
	struct discoveryd *dd = dd_of(ctx);
	/* The fixed part goes out without a JSON tree (issue 9); the rare parts with
	 * strings from outside (etcd endpoint, hub URLs) are escaped by json-c. */
	char extra[4096];
	size_t n = (size_t)snprintf(extra, sizeof extra, ",\"role\":\"%s\"", discoveryd_role(dd));
	if (dd->etcd) {
		json_object *et = json_object_new_object();
		json_object_object_add(et, "endpoint",
				       json_object_new_string(etcd_endpoint(dd->etcd)));
		json_object_object_add(et, "connected",
				       json_object_new_boolean(etcd_connected(dd->etcd)));
		n += (size_t)snprintf(extra + n, sizeof extra - n, ",\"etcd\":%s", jv_to_string(et));
		json_object_put(et);
	}
	if (dd->worker && n < sizeof extra) {
		json_object *hubs = json_object_new_array();
		for (size_t i = 0; i < worker_hub_count(dd->worker); i++) {
			unsigned idx;
			bool reached, self;
			const char *url = worker_hub_url(dd->worker, i, &idx, &reached, &self);
			json_object *h = json_object_new_object();
			json_object_object_add(h, "url", json_object_new_string(url));
			json_object_object_add(h, "reached", json_object_new_boolean(reached));
			json_object_object_add(h, "self", json_object_new_boolean(self));
			json_object_array_add(hubs, h);
		}
		n += (size_t)snprintf(extra + n, sizeof extra - n,
				      ",\"hub_registered\":%s,\"hubs\":%s",
				      worker_registered(dd->worker) ? "true" : "false",
				      jv_to_string(hubs));
		json_object_put(hubs);
	}
	if (n < sizeof extra)
		snprintf(extra + n, sizeof extra - n, ",\"servers\":%zu", registry_count(dd->reg));
	http_reply_health(ctx->req, "discoveryd", dd->self.server_id, now_mono() - dd->started_mono,
			  extra);
}

static void write_metrics(void *arg, FILE *f)
{
	struct discoveryd *dd = arg;
	size_t by_status[3] = {0};
	double now = now_steady_wall();
	for (const struct server_entry *e = registry_first(dd->reg); e; e = registry_next(e))
		by_status[registry_status(dd->reg, e, now)]++;
	fprintf(f,
		"# HELP tankworld_discovery_servers Registered servers by status.\n"
		"# TYPE tankworld_discovery_servers gauge\n"
		"tankworld_discovery_servers{status=\"online\"} %zu\n"
		"tankworld_discovery_servers{status=\"degraded\"} %zu\n"
		"tankworld_discovery_servers{status=\"offline\"} %zu\n"
		"# HELP tankworld_discovery_heartbeats_received_total Heartbeats accepted.\n"
		"# TYPE tankworld_discovery_heartbeats_received_total counter\n"
		"tankworld_discovery_heartbeats_received_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_registrations_total Registrations accepted.\n"
		"# TYPE tankworld_discovery_registrations_total counter\n"
		"tankworld_discovery_registrations_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_unregistrations_total Unregistrations accepted.\n# TYPE tankworld_discovery_unregistrations_total counter\n"
		"tankworld_discovery_unregistrations_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_evictions_total Servers evicted after evict_after of silence.\n# TYPE tankworld_discovery_evictions_total counter\n"
		"tankworld_discovery_evictions_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_registry_saves_total Registry journal batches written.\n# TYPE tankworld_discovery_registry_saves_total counter\n"
		"tankworld_discovery_registry_saves_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_journal_compactions_total Registry journal rewrites.\n# TYPE tankworld_discovery_journal_compactions_total counter\n"
		"tankworld_discovery_journal_compactions_total %" PRIu64 "\n"
		"# HELP tankworld_discovery_hub_errors_total Hub or etcd answers that failed or did not parse.\n# TYPE tankworld_discovery_hub_errors_total counter\n"
		"tankworld_discovery_hub_errors_total %" PRIu64 "\n",
		by_status[SERVER_ONLINE], by_status[SERVER_DEGRADED], by_status[SERVER_OFFLINE],
		dd->heartbeats, dd->registrations, dd->unregistrations, dd->evictions,
		journal_writes(dd->journal), journal_compactions(dd->journal), dd->hub_errors);
}

static void api_metrics(struct http_ctx *ctx)
{
	http_reply_metrics(ctx, write_metrics, dd_of(ctx));
}

static const struct http_route routes[] = {
	{EVHTTP_REQ_POST, "/api/discovery/register", api_register, 0},
	{EVHTTP_REQ_POST, "/api/discovery/heartbeat/{server_id}", api_heartbeat, 0},
	{EVHTTP_REQ_GET, "/api/discovery/servers", api_list, 0},
	{EVHTTP_REQ_GET, "/api/discovery/servers/{server_id}", api_get_server, 0},
	{EVHTTP_REQ_DELETE, "/api/discovery/unregister/{server_id}", api_unregister, 0},
	{EVHTTP_REQ_GET, "/api/servers/local", api_local, 0},
	{EVHTTP_REQ_GET, "/health", api_health, 0},
	{EVHTTP_REQ_GET, "/metrics", api_metrics, ROUTE_TRUSTED},
};

struct http_server *api_new(struct discoveryd *dd)
{
	api_list_init(dd);
	return daemon_http_server(dd->daemon, routes, sizeof routes / sizeof routes[0], dd,
				  (struct http_server_opts){.max_body = 64 * 1024});
}
