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
#define HISTORY_BIG 1024	 /* samples in the window that make a read a big one */

struct history_read {
	struct simd *sd;
	uint64_t since;
	size_t limit;
	bool csv;
};

/* On a reader thread (api_read): the samples are copied under the tank's lock into room
 * made without it (a full ring of 100,000 samples is tens of megabytes), the answer built
 * after. */
static void read_history(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct history_read *hr = arg;
	struct tank_room room = {.since = hr->since, .limit = hr->limit};
	/* A long window is a big read: one at a time, as GET /state (hundreds of megabytes
	 * for a full ring). The viewer's polls, a few samples since its last, go at once.
	 * Sized first with the tank's lock alone: reader_run is never taken under it. */
	tanks_lock_fair(s);
	tank_room_size(s->sim, TANK_COPY_HISTORY, &room);
	pthread_mutex_unlock(&s->lock);
	bool big = room.hist.cap >= HISTORY_BIG * sim_history_column_count();
	if (big)
		pthread_mutex_lock(&hr->sd->reader_run);
	struct timespec held;
	tanks_lock_for_copy(s, TANK_COPY_HISTORY, &room, &held);
	struct sim_history *h = tank_history_take(s->sim, &room);
	uint64_t frame = tank_frame(s->sim);
	int interval = tank_get_params(s->sim)->history_interval;
	int size = tank_get_params(s->sim)->history_size;
	tanks_copy_held(hr->sd, TANK_COPY_HISTORY, &held);
	pthread_mutex_unlock(&s->lock);
	tank_room_free(&room);
	a->status = 200;
	if (hr->csv) {
		a->text = history_csv(h, &a->len);
		a->type = "text/csv; charset=utf-8";
	} else {
		const struct history_head head = {s->meta.id, frame, interval, size};
		a->text = history_json_text(h, &head, &a->len);
		a->type = "application/json";
	}
	sim_history_free(h);
	if (big)
		pthread_mutex_unlock(&hr->sd->reader_run);
}

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
	struct history_read *hr = xcalloc(1, sizeof *hr);
	*hr = (struct history_read){ctx->arg, (uint64_t)since, (size_t)limit, csv};
	api_read(ctx, s, read_history, hr, free, "unknown_tank", "no tank %s", s->meta.id);
}

#define EVENTS_LIMIT_MAX 4096 /* the ring holds the last 4,096 events */

struct events_read {
	uint64_t since;
	size_t limit;
};

static void read_events(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct events_read *er = arg;
	struct events_copy *c = events_copy_new(); /* without the lock: fresh pages */
	tanks_lock_fair(s);
	tank_events_take(s->sim, c);
	uint64_t frame = tank_frame(s->sim);
	pthread_mutex_unlock(&s->lock);
	json_object *o = events_copy_json(c, er->since, er->limit);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(frame));
	readers_answer_json(a, o);
}

void api_events(struct http_ctx *ctx)
{
	long since = 0, limit = EVENTS_LIMIT_MAX;
	struct tank_slot *s = api_tank_param(ctx);
	if (!s || http_query_int(ctx, "since", 0, INT64_MAX / 4, &since) < 0 ||
	    http_query_int(ctx, "limit", 1, EVENTS_LIMIT_MAX, &limit) < 0)
		return;
	struct events_read *er = xcalloc(1, sizeof *er);
	*er = (struct events_read){(uint64_t)since, (size_t)limit};
	api_read(ctx, s, read_events, er, free, "unknown_tank", "no tank %s", s->meta.id);
}

void api_history_metrics(struct simd *sd, FILE *f)
{
	size_t nc = sim_history_column_count();
	double *row = xcalloc(nc, sizeof *row);
	fprintf(f,
		"# HELP tankworld_sim_history The newest history sample of each tank, by column.\n# TYPE tankworld_sim_history gauge\n");
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		/* As the tick published it: a scrape never waits for a tick. */
		pthread_mutex_lock(&s->status_lock);
		bool have = s->history_have;
		if (have)
			memcpy(row, s->history_row, nc * sizeof *row);
		pthread_mutex_unlock(&s->status_lock);
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
