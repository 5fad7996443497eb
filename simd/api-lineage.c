/* simd's lineage API (docs/history.md): a fish's known ancestors, a tank's records, and
 * the original's tank-less GET /api/lineage. On a reader thread, the records the answer
 * shows are copied under the tank's lock into room made without it, and the answer is
 * built after (lineage_pick_take): up to 100,000 records, a second of json-c's work that
 * stalled a big tank's tick when it was done under the lock. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-extra.h"
#include "util.h"
#include "xalloc.h"

#define LINEAGE_LIMIT_MAX 100000
#define LINEAGE_LIMIT_DEFAULT 10000
#define LINEAGE_DEPTH_MAX 1000 /* lineage_depth's own range */

/* What a lineage read asks, for the reader thread (api_read). */
struct lineage_read {
	struct simd *sd;
	char fish_id[UUID_STR_LEN]; /* "" for the whole tank's records */
	long depth;		    /* -1: the tank's lineage_depth */
	long limit;
	bool bare; /* the original's answer: the records alone, as a list */
};

static void read_lineage(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct lineage_read *lr = arg;
	/* One big read at a time, as GET /state: a whole tank's answer can be hundreds of
	 * megabytes of json-c objects while it is built. */
	pthread_mutex_lock(&lr->sd->reader_run);
	struct tank_room room = {.limit = lr->fish_id[0] ? 0 : (size_t)lr->limit};
	struct timespec held;
	tanks_lock_for_copy(s, TANK_COPY_LINEAGE, &room, &held);
	int depth = lr->depth >= 0 ? (int)lr->depth : tank_get_params(s->sim)->lineage_depth;
	struct lineage_pick *p = lineage_pick_take(s->sim, lr->fish_id[0] ? lr->fish_id : NULL,
						   depth, (size_t)lr->limit, &room);
	tanks_copy_held(lr->sd, TANK_COPY_LINEAGE, &held);
	pthread_mutex_unlock(&s->lock);
	tank_room_free(&room);
	json_object *o = p ? lineage_pick_json(p) : NULL;
	pthread_mutex_unlock(&lr->sd->reader_run);
	if (o && lr->bare) {
		json_object *list = json_object_get(json_object_object_get(o, "records"));
		json_object_put(o);
		o = list;
	} else if (o) {
		json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	}
	readers_answer_json(a, o);
}

void api_lineage(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	long depth = -1, limit = LINEAGE_LIMIT_DEFAULT;
	char *fish_id = NULL;
	if (!s || http_query_int(ctx, "depth", 0, LINEAGE_DEPTH_MAX, &depth) < 0 ||
	    http_query_int(ctx, "limit", 1, LINEAGE_LIMIT_MAX, &limit) < 0 ||
	    http_query(ctx, "fish_id", &fish_id) < 0)
		return;
	if (!fish_id && depth >= 0) {
		http_reply_error(ctx->req, 400, "invalid_query", "depth needs fish_id");
		return;
	}
	if (fish_id && !uuid_str_valid(fish_id)) {
		http_reply_error(ctx->req, 400, "invalid_fish_id",
				 "fish_id must be a fish id (a UUID)");
		free(fish_id);
		return;
	}
	struct lineage_read *lr = xcalloc(1, sizeof *lr);
	lr->sd = ctx->arg;
	snprintf(lr->fish_id, sizeof lr->fish_id, "%s", fish_id ? fish_id : "");
	lr->depth = depth;
	lr->limit = limit;
	free(fish_id);
	api_read(ctx, s, read_lineage, lr, free, "unknown_fish",
		 "Fish %s has no lineage record in tank %s", lr->fish_id, s->meta.id);
}

/* The original's GET /api/lineage: the records of its default tank, as a bare list. Ours
 * is the tank created first (the one simd creates at its first start), or the one
 * ?tank_id names. */
void api_lineage_legacy(struct http_ctx *ctx)
{
	struct simd *sd = ctx->arg;
	char *id = NULL;
	long limit = LINEAGE_LIMIT_DEFAULT;
	if (http_query(ctx, "tank_id", &id) < 0 ||
	    http_query_int(ctx, "limit", 1, LINEAGE_LIMIT_MAX, &limit) < 0) {
		free(id);
		return;
	}
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
	if (!api_tank_visible(ctx, s))
		return;
	struct lineage_read *lr = xcalloc(1, sizeof *lr);
	lr->sd = sd;
	lr->depth = -1;
	lr->limit = limit;
	lr->bare = true;
	api_read(ctx, s, read_lineage, lr, free, "unknown_tank", "no tank %s", s->meta.id);
}
