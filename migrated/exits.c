/* simd's exits kept in step with the connections (DESIGN §5): a tank's walls are open
 * where a connection leaves it, so fish swimming into them leave through the outbox.
 *
 * Each tank's exits are one PUT /api/tanks/{id}/exits of the whole body that
 * connections_exits_json builds. The body simd last accepted is remembered per tank, so
 * an unchanged one is not sent again, and at most one PUT per tank is in flight: a sync
 * asked for meanwhile is made once that one is answered, with the connections as they
 * are then. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"
#include "xalloc.h"

struct exits_entry {
	char tank_id[TANK_ID_MAX + 1];
	char *pushed; /* the body simd last accepted, NULL when unknown */
	bool busy, dirty;
};

struct exits {
	struct migrated *md;
	struct exits_entry *v;
	size_t n, cap;
	double refreshed; /* monotonic time the cache was last dropped */
};

struct exits_ctx {
	struct exits *xs;
	char tank_id[TANK_ID_MAX + 1];
	char *sent;
};

static struct exits_entry *exits_get(struct exits *xs, const char *tank_id, bool create)
{
	for (size_t i = 0; i < xs->n; i++)
		if (strcmp(xs->v[i].tank_id, tank_id) == 0)
			return &xs->v[i];
	if (!create)
		return NULL;
	if (xs->n == xs->cap) {
		/* Callbacks find their entry again by tank id, never by pointer, so
		 * moving the entries is safe. */
		xs->cap = xs->cap ? xs->cap * 2 : 16;
		xs->v = xrealloc(xs->v, xs->cap * sizeof *xs->v);
	}
	struct exits_entry *e = &xs->v[xs->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->tank_id, sizeof e->tank_id, "%s", tank_id);
	return e;
}

static void sync_entry(struct exits *xs, struct exits_entry *e);

static void on_exits(const struct fetch_response *r, void *arg)
{
	struct exits_ctx *ctx = arg;
	struct exits *xs = ctx->xs;
	struct migrated *md = xs->md;
	struct exits_entry *e = exits_get(xs, ctx->tank_id, false);
	if (!e) { /* the tank was forgotten meanwhile */
		free(ctx->sent);
		free(ctx);
		return;
	}
	e->busy = false;
	free(e->pushed);
	e->pushed = NULL;
	if (r->status == 200) {
		e->pushed = ctx->sent;
		ctx->sent = NULL;
		md->m.exits_pushes++;
	} else {
		md->m.exits_errors++;
		if (r->status == 404)
			cascade_verify_tank(md, ctx->tank_id);
		else
			log_debug("setting the exits of tank %s failed: %s", ctx->tank_id,
				  r->status ? "unexpected answer" : r->error);
	}
	free(ctx->sent);
	free(ctx);
	if (e->dirty && !md->stopping) {
		e->dirty = false;
		sync_entry(xs, e);
	}
}

static void sync_entry(struct exits *xs, struct exits_entry *e)
{
	struct migrated *md = xs->md;
	if (e->busy) {
		e->dirty = true;
		return;
	}
	json_object *body = connections_exits_json(md->conns, e->tank_id, now_mono());
	char *text = xstrdup(jv_to_string(body));
	if (e->pushed && strcmp(e->pushed, text) == 0) {
		free(text);
		json_object_put(body);
		return;
	}
	struct exits_ctx *ctx = xcalloc(1, sizeof *ctx);
	ctx->xs = xs;
	ctx->sent = text;
	snprintf(ctx->tank_id, sizeof ctx->tank_id, "%s", e->tank_id);
	char path[TANK_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/tanks/%s/exits", e->tank_id);
	e->busy = true;
	if (request_sim(md, "PUT", path, body, on_exits, ctx) < 0) {
		e->busy = false;
		free(ctx->sent);
		free(ctx);
	}
}

void exits_sync(struct migrated *md, const char *tank_id)
{
	sync_entry(md->exits, exits_get(md->exits, tank_id, true));
}

void exits_listing_seen(struct migrated *md, bool after_outage)
{
	/* simd keeps exits across restarts, but a restart may have lost the last update:
	 * send them all again after an outage, and every 30 s anyway (one small PUT per
	 * tank), so a restart we did not notice is repaired too. */
	struct exits *xs = md->exits;
	double now_m = now_mono();
	if (after_outage || now_m - xs->refreshed >= 30) {
		for (size_t i = 0; i < xs->n; i++) {
			free(xs->v[i].pushed);
			xs->v[i].pushed = NULL;
		}
		xs->refreshed = now_m;
	}
}

void exits_forget(struct migrated *md, const char *tank_id)
{
	struct exits *xs = md->exits;
	for (size_t i = 0; i < xs->n; i++)
		if (strcmp(xs->v[i].tank_id, tank_id) == 0) {
			free(xs->v[i].pushed);
			xs->v[i] = xs->v[--xs->n];
			return;
		}
}

struct exits *exits_new(struct migrated *md)
{
	struct exits *xs = xcalloc(1, sizeof *xs);
	xs->md = md;
	return xs;
}

struct exits *exits_free(struct exits *xs)
{
	if (!xs)
		return NULL;
	for (size_t i = 0; i < xs->n; i++)
		free(xs->v[i].pushed);
	free(xs->v);
	free(xs);
	return NULL;
}
