/* simd's lineage API (docs/history.md): a fish's known ancestors, a tank's records, and
 * the original's tank-less GET /api/lineage. The answer is built under the tank's lock,
 * like the events: the records are bounded by the tank's lineage_depth. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api-extra.h"
#include "util.h"

#define LINEAGE_LIMIT_MAX 100000
#define LINEAGE_LIMIT_DEFAULT 10000
#define LINEAGE_DEPTH_MAX 1000 /* lineage_depth's own range */

/* Records of the whole tank, the first limit in order of birth; -1 after a reply. */
static int tank_records(struct http_ctx *ctx, struct tank_slot *s, json_object **ret)
{
	long limit = LINEAGE_LIMIT_DEFAULT;
	if (http_query_int(ctx, "limit", 1, LINEAGE_LIMIT_MAX, &limit) < 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	*ret = tank_lineage_json(s->sim, NULL, 0, (size_t)limit);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void api_lineage(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	long depth = -1;
	char *fish_id = NULL;
	json_object *o;
	if (!s || http_query_int(ctx, "depth", 0, LINEAGE_DEPTH_MAX, &depth) < 0 ||
	    http_query(ctx, "fish_id", &fish_id) < 0)
		return;
	if (!fish_id) {
		if (depth >= 0) {
			http_reply_error(ctx->req, 400, "invalid_query", "depth needs fish_id");
			return;
		}
		if (tank_records(ctx, s, &o) < 0)
			return;
	} else {
		if (!uuid_str_valid(fish_id)) {
			http_reply_error(ctx->req, 400, "invalid_fish_id",
					 "fish_id must be a fish id (a UUID)");
			free(fish_id);
			return;
		}
		pthread_mutex_lock(&s->lock);
		if (depth < 0)
			depth = tank_get_params(s->sim)->lineage_depth;
		o = tank_lineage_json(s->sim, fish_id, (int)depth, 0);
		pthread_mutex_unlock(&s->lock);
		if (!o) {
			http_reply_error(ctx->req, 404, "unknown_fish",
					 "Fish %s has no lineage record in tank %s", fish_id,
					 s->meta.id);
			free(fish_id);
			return;
		}
		free(fish_id);
	}
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	http_reply_json(ctx->req, 200, o);
}

/* The original's GET /api/lineage: the records of its default tank, as a bare list. Ours
 * is the tank created first (the one simd creates at its first start), or the one
 * ?tank_id names. */
void api_lineage_legacy(struct http_ctx *ctx)
{
	struct simd *sd = ctx->arg;
	char *id = NULL;
	if (http_query(ctx, "tank_id", &id) < 0)
		return;
	struct tank_slot *s = NULL;
	if (id)
		s = object_id_valid(id, TANK_ID_MAX) ? tanks_find(sd, id) : NULL;
	else
		s = TAILQ_FIRST(&sd->tanks);
	if (!s) {
		http_reply_error(ctx->req, 404, "unknown_tank", "Tank not found: %.100s",
				 id ? id : "(no tank)");
		free(id);
		return;
	}
	free(id);
	json_object *o;
	if (tank_records(ctx, s, &o) < 0)
		return;
	json_object *a = json_object_get(json_object_object_get(o, "records"));
	json_object_put(o);
	http_reply_json(ctx->req, 200, a);
}
