/* Connections whose destination refuses fish (the rules are in scheduler.h). delivery.c
 * and pass-hits.c report each definitive refusal and each success here. A paused connection's
 * wall lets no fish out (budget 0 in simd's exits) and the scheduler skips it; when the
 * pause is over one fish may go (budget 1). A timer keeps simd's walls in step with each
 * connection's gate, and looks now and then for the tank of a broken connection (its
 * destination tank was gone), healing it when the tank is back. Without this a refused
 * fish came back and swam out again on the next tick, each time costing two fsync'd
 * journal records and a history line. The same timer closes the wall of a connection
 * whose server cannot take fish at all (sync_reachable). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"
#include "xalloc.h"

#define REFUSALS_TICK 0.5 /* seconds between looks at the paused connections */

static struct connection *conn_by_id(struct migrated *md, const char *id)
{
	for (size_t i = 0; i < connections_count(md->conns); i++) {
		struct connection *c = connections_at(md->conns, i);
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

static void sync_walls(struct migrated *md, struct connection *c, double now)
{
	c->gate_synced = conn_gate(c, now);
	exits_sync(md, c->source_tank_id);
}

void refusals_note(struct migrated *md, const char *connection_id, const char *dest_tank,
		   long status, const char *code, const char *why)
{
	struct connection *c = connection_id && *connection_id ? conn_by_id(md, connection_id)
							       : NULL;
	/* A transfer started before the connection was pointed elsewhere says nothing
	 * about its new destination. */
	if (!c || strcmp(c->destination_tank_id, dest_tank) != 0)
		return;
	const struct conf *cf = &md->daemon->conf;
	double now = now_mono();
	/* A local tank that is gone takes its connections with it (cascade.c); a remote
	 * one cannot be confirmed that way, so the connection waits, broken, for it. */
	bool gone = status == 404 && code && strcmp(code, "unknown_tank") == 0 &&
		    !connection_is_local(c);
	bool first = c->refusals == 0;
	md->m.connection_refusals++;
	if (conn_refused(c, gone, why, now, cf->migration.refusal_backoff_max)) {
		md->m.connections_broken++;
		c->next_check = now + cf->migration.broken_check_interval;
		log_warn("connection %s is broken: tank %s on server %s does not exist (%s); it sends "
			 "no fish and looks for the tank every %g s",
			 c->id, c->destination_tank_id, c->destination_server_id, why ? why : "404",
			 cf->migration.broken_check_interval);
	} else if (first && !c->broken) {
		log_info("connection %s: the destination refused a fish (%s); pausing it, %g s at "
			 "first and longer while refusals go on",
			 c->id, why ? why : "refused",
			 conn_refusal_pause(c->refusals, cf->migration.refusal_backoff_max));
	}
	sync_walls(md, c, now);
}

void refusals_success(struct migrated *md, const char *connection_id)
{
	struct connection *c = connection_id && *connection_id ? conn_by_id(md, connection_id)
							       : NULL;
	if (!c || (c->refusals == 0 && !c->broken))
		return;
	bool was_broken = c->broken;
	int n = c->refusals;
	conn_succeeded(c);
	if (was_broken)
		log_notice("connection %s healed: tank %s on server %s is back", c->id,
			   c->destination_tank_id, c->destination_server_id);
	else
		log_info("connection %s: the destination accepts fish again (after %d refusal(s))",
			 c->id, n);
	sync_walls(md, c, now_mono());
}

/* ---- looking for a broken connection's tank ---- */

struct check_ctx {
	struct migrated *md;
	char connection_id[CONN_ID_MAX + 1];
	char tank_id[TANK_ID_MAX + 1];
};

static void on_check(const struct fetch_response *r, void *arg)
{
	struct check_ctx *ctx = arg;
	struct migrated *md = ctx->md;
	struct connection *c = conn_by_id(md, ctx->connection_id);
	if (c && strcmp(c->destination_tank_id, ctx->tank_id) == 0) {
		c->checking = false;
		c->next_check = now_mono() + md->daemon->conf.migration.broken_check_interval;
		if (r->status == 200 && c->broken)
			refusals_success(md, c->id);
		else if (r->status != 404)
			log_debug("connection %s: looking for tank %s: %s", c->id,
				  c->destination_tank_id,
				  r->status ? "unexpected answer" : r->error);
	}
	free(ctx);
}

static void check_broken(struct migrated *md, struct connection *c)
{
	char path[TANK_ID_MAX + 16];
	snprintf(path, sizeof path, "/api/tanks/%s", c->destination_tank_id);
	c->next_check = now_mono() + md->daemon->conf.migration.broken_check_interval;
	struct check_ctx *ctx = xcalloc(1, sizeof *ctx);
	ctx->md = md;
	snprintf(ctx->connection_id, sizeof ctx->connection_id, "%s", c->id);
	snprintf(ctx->tank_id, sizeof ctx->tank_id, "%s", c->destination_tank_id);
	c->checking = true;
	/* Over TCP with the token even to this server: a private tank is listed only with it. */
	if (peers_request_remote(md, c->destination_server_id, "GET", path, NULL, on_check, ctx) <
	    0) {
		c->checking = false;
		free(ctx);
	}
}

/* ---- walls toward a server that cannot take fish ---- */

static void on_peer_refreshed(enum peer_state st, void *arg)
{
	(void)st;
	(void)arg; /* the next tick reads the fresh entry */
}

/* A remote destination's wall closes while discoveryd does not know its server or says
 * it is offline, or while a transfer in flight fails to reach it, as the scheduler
 * skips its hits then (pass-hits.c): a fish that swam through would wait in the outbox,
 * out of its tank, until the server answers, and a dead server drained its source tank
 * so. The transfers in flight keep retrying; the wall opens when the first arrives and
 * discoveryd lists the server online. A stale entry changes nothing (a pass may not
 * have asked lately) but is asked afresh while the wall is closed, so that a wall with
 * no scheduler hits (probability 0) opens too. */
static void sync_reachable(struct migrated *md, struct connection *c, const struct strset *failing)
{
	if (connection_is_local(c))
		return;
	enum peer_state st = peers_state(md, c->destination_server_id);
	bool down = c->unreachable;
	if (peers_cannot_take(st, failing, c->destination_server_id))
		down = true;
	else if (st == PEER_OK)
		down = false;
	else if (c->unreachable)
		peers_lookup(md, c->destination_server_id, false, on_peer_refreshed, NULL);
	if (down == c->unreachable)
		return;
	c->unreachable = down;
	if (down)
		log_info("connection %s: server %s cannot take fish now (%s); its wall is closed "
			 "until it can",
			 c->id, c->destination_server_id,
			 st == PEER_MISSING   ? "unknown to discoveryd"
			 : st == PEER_OFFLINE ? "offline"
					      : "deliveries to it fail");
	else
		log_info("connection %s: server %s takes fish again; its wall is open", c->id,
			 c->destination_server_id);
	exits_sync(md, c->source_tank_id);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct migrated *md = arg;
	(void)fd;
	(void)what;
	if (md->stopping)
		return;
	double now = now_mono();
	struct strset failing = {0};
	delivery_failing_servers(md->delivery, &failing);
	for (size_t i = 0; i < connections_count(md->conns); i++) {
		struct connection *c = connections_at(md->conns, i);
		sync_reachable(md, c, &failing);
		if (c->refusals == 0 && !c->broken)
			continue;
		if ((int)conn_gate(c, now) != c->gate_synced)
			sync_walls(md, c, now);
		if (c->broken && !c->checking && now >= c->next_check)
			check_broken(md, c);
	}
	strset_clear(&failing);
}

struct event *refusals_start(struct migrated *md)
{
	struct event *ev = event_new(md->daemon->base, -1, EV_PERSIST, on_tick, md);
	if (!ev)
		abort();
	struct timeval tv = {0, (suseconds_t)(REFUSALS_TICK * 1e6)};
	event_add(ev, &tv);
	return ev;
}
