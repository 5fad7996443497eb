/* simd's evolution API: a tank's history samples as JSON or CSV, their gauges for
 * /metrics, and the evolution parameters of a new tank. The tank is held only while its
 * samples are copied; the text is built after. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api-history.h"
#include "conf.h"
#include "history_json.h"
#include "jsonv.h"
#include "api-extra.h"
#include "simd.h"
#include "util.h"
#include "xalloc.h"

#define HISTORY_LIMIT_MAX 100000 /* the largest ring a tank may keep */

void api_history(struct http_ctx *ctx)
{
	long since = 0, limit = HISTORY_LIMIT_MAX;
	char *format = NULL;
	struct tank_slot *s = api_tank_param(ctx);
	if (!s || http_query_int(ctx, "since", 0, INT64_MAX / 4, &since) < 0 ||
	    http_query_int(ctx, "limit", 1, HISTORY_LIMIT_MAX, &limit) < 0 ||
	    http_query(ctx, "format", &format) < 0)
		return;
	bool csv = false;
	if (format) {
		csv = strcmp(format, "csv") == 0;
		if (!csv && strcmp(format, "json") != 0) {
			free(format);
			http_reply_error(ctx->req, 400, "invalid_query",
					 "format must be json or csv");
			return;
		}
		free(format);
	}
	pthread_mutex_lock(&s->lock);
	struct sim_history *h = tank_history(s->sim, (uint64_t)since, (size_t)limit);
	uint64_t frame = tank_frame(s->sim);
	int interval = tank_get_params(s->sim)->history_interval;
	int size = tank_get_params(s->sim)->history_size;
	pthread_mutex_unlock(&s->lock);
	if (csv) {
		size_t len;
		char *text = history_csv(h, &len);
		sim_history_free(h);
		http_reply_text(ctx->req, 200, "text/csv; charset=utf-8", text, len);
		free(text);
		return;
	}
	json_object *o = history_json(h);
	sim_history_free(h);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(frame));
	json_object_object_add(o, "history_interval", json_object_new_int(interval));
	json_object_object_add(o, "history_size", json_object_new_int(size));
	http_reply_json(ctx->req, 200, o);
}

#define EVENTS_LIMIT_MAX 4096 /* the ring holds the last 4,096 events */

void api_events(struct http_ctx *ctx)
{
	long since = 0, limit = EVENTS_LIMIT_MAX;
	struct tank_slot *s = api_tank_param(ctx);
	if (!s || http_query_int(ctx, "since", 0, INT64_MAX / 4, &since) < 0 ||
	    http_query_int(ctx, "limit", 1, EVENTS_LIMIT_MAX, &limit) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	json_object *o = tank_events_json(s->sim, (uint64_t)since, (size_t)limit);
	uint64_t frame = tank_frame(s->sim);
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(frame));
	http_reply_json(ctx->req, 200, o);
}

void api_history_metrics(struct simd *sd, FILE *f)
{
	size_t nc = sim_history_column_count();
	double *row = xcalloc(nc, sizeof *row);
	fprintf(f, "# TYPE tankworld_sim_history gauge\n");
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		pthread_mutex_lock(&s->lock);
		bool have = tank_history_latest(s->sim, row);
		pthread_mutex_unlock(&s->lock);
		if (have)
			history_metrics(f, s->meta.id, row);
	}
	free(row);
}

int api_evolution_params(json_object *body, const struct conf *c, struct tank_params *p,
			 struct json_err *e)
{
	p->spawn_floor = c->sim.spawn_floor;
	p->history_interval = c->sim.history_interval;
	p->history_size = c->sim.history_size;
	p->lineage_depth = c->sim.lineage_depth;
	if (jv_int(body, "spawn_floor", false, 0, 1000000, &p->spawn_floor, e) < 0 ||
	    jv_int(body, "history_interval", false, 1, 1000000, &p->history_interval, e) < 0 ||
	    jv_int(body, "history_size", false, 0, 100000, &p->history_size, e) < 0 ||
	    jv_int(body, "lineage_depth", false, 0, 1000, &p->lineage_depth, e) < 0)
		return -EINVAL;
	return 0;
}
