/* The viewer's controls: POST /api/tanks/{id}/food drops food, POST /api/tanks/{id}/fish
 * adds a random fish (applied and journaled by controls.c). */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "api-extra.h"
#include "log.h"
#include "stream.h"

/* An optional coordinate in [0, max]; absent leaves *v alone. */
static int coord(json_object *body, const char *key, double max, double *v, struct json_err *e)
{
	return jv_double(body, key, false, 0, max, v, e);
}

void api_food(struct http_ctx *ctx)
{
	json_object *body;
	struct tank_slot *s = api_tank_body(ctx, &body);
	if (!s)
		return;
	const struct tank_params *p = tank_get_params(s->sim);
	double x = p->width / 2.0;
	int count = 5;
	struct json_err e;
	if (coord(body, "x", p->width, &x, &e) < 0 ||
	    jv_int(body, "count", false, 1, 100, &count, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_food", "%s", e.msg);
		return;
	}
	json_object_put(body);
	struct tank_stats st;
	int added = controls_drop_food(ctx->arg, s, x, count, &st);
	tank_stream_poke(s->stream);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "added", json_object_new_int(added < 0 ? 0 : added));
	json_object_object_add(o, "food_count", json_object_new_int(st.food_count));
	http_reply_json(ctx->req, 201, o);
}

void api_add_fish(struct http_ctx *ctx)
{
	json_object *body;
	struct tank_slot *s = api_tank_body(ctx, &body);
	if (!s)
		return;
	const struct tank_params *p = tank_get_params(s->sim);
	double x = p->width / 2.0, y = p->height / 3.0;
	struct json_err e;
	if (coord(body, "x", p->width, &x, &e) < 0 || coord(body, "y", p->height, &y, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_fish", "%s", e.msg);
		return;
	}
	json_object_put(body);
	json_object *fish = NULL;
	int r = controls_add_fish(ctx->arg, s, x, y, &fish);
	if (r == -ENOSPC) {
		http_reply_error(ctx->req, 409, "tank_full", "tank %s is full", s->meta.id);
		return;
	}
	if (r < 0) {
		http_reply_error(ctx->req, 400, "invalid_fish", "cannot place a fish there");
		return;
	}
	tank_stream_poke(s->stream);
	log_info("tank %s: a fish was added by hand", s->meta.id);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "fish", fish);
	http_reply_json(ctx->req, 201, o);
}
