/* The HTTP side of the gate (gate.c): a request that changes a tank, or reads what its
 * tick changes under the lock, is held, and its handler runs as it came once the tank's
 * tick thread is parked between two ticks. The loop goes on serving meanwhile. Which
 * tank a request concerns is found as its handler would find it; when it cannot be (a
 * bad id, a body that does not parse), the handler runs at once and answers the error
 * itself. */
#include "config.h"

#include <stdlib.h>

#include "api-extra.h"
#include "jsonv.h"
#include "xalloc.h"

struct gated {
	struct http_ctx ctx;
	struct http_deferred *d;
	http_handler fn;
};

static void gated_run(void *arg, bool run)
{
	struct gated *g = arg;
	/* NULL if the client went away meanwhile: the change is not made, as if the request
	 * had never come (every change is retried by whoever needs it). */
	struct evhttp_request *req = run ? http_deferred_request(g->d) : NULL;
	http_deferred_free(g->d);
	if (req) {
		g->ctx.req = req;
		g->fn(&g->ctx);
	}
	json_object_put(g->ctx.body);
	free(g);
}

static struct gated *gated_new(struct http_ctx *ctx, http_handler fn)
{
	struct gated *g = xcalloc(1, sizeof *g);
	g->ctx = *ctx;
	json_object_get(g->ctx.body);
	g->fn = fn;
	g->d = http_defer(ctx);
	return g;
}

void api_gate(struct http_ctx *ctx, struct tank_slot *s, http_handler fn)
{
	if (!s)
		fn(ctx);
	else
		gate_run(ctx->arg, s, gated_run, gated_new(ctx, fn));
}

void api_gate_two(struct http_ctx *ctx, struct tank_slot *a, struct tank_slot *b, http_handler fn)
{
	if (!a || !b) {
		api_gate(ctx, a ? a : b, fn);
		return;
	}
	struct tank_slot *set[2] = {a, b};
	gate_run_set(ctx->arg, set, 2, gated_run, gated_new(ctx, fn));
}

void api_gate_every(struct http_ctx *ctx, http_handler fn)
{
	gate_run_all(ctx->arg, gated_run, gated_new(ctx, fn));
}

struct tank_slot *api_gate_body_tank(struct http_ctx *ctx, const char *field)
{
	json_object *o = http_body_peek(ctx), *id;
	if (o && json_object_object_get_ex(o, field, &id) &&
	    json_object_is_type(id, json_type_string) &&
	    object_id_valid(json_object_get_string(id), TANK_ID_MAX))
		return tanks_find(ctx->arg, json_object_get_string(id));
	return NULL;
}

struct tank_slot *api_gate_transfer_tank(struct http_ctx *ctx)
{
	const char *tid = http_param(ctx, "transfer_id");
	return uuid_str_valid(tid) ? xfer_source_slot(ctx->arg, tid) : NULL;
}
