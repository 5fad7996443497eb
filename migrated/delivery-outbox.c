/* Where transfers come from: simd's outbox records (docs/simd-protocol.md). A fresh
 * reservation starts at once; everything else is found by listing the outbox.
 *
 * simd's outbox is the truth: nothing here is persisted. On start and on every pass
 * the outbox is listed and every record not in flight is resumed, which covers
 * records left by a crash of migrated and fish that left through a wall (exits). One
 * listing runs at a time; asks that come meanwhile are folded into one more after it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

/* The fields every outbox record (reserve answer or listing entry) carries. */
static struct xfer *x_from_json(struct delivery *d, json_object *o, struct json_err *e)
{
	const char *tid, *fish, *src, *dserver, *dtank, *conn = NULL, *created = NULL, *wall = NULL,
							*kind = "fish";
	int attempts = 0;
	if (jv_string(o, "transfer_id", true, 1, TRANSFER_ID_MAX, &tid, e) < 0 ||
	    jv_string(o, "fish_id", true, 1, TANK_ID_MAX, &fish, e) < 0 ||
	    jv_string(o, "source_tank_id", true, 1, TANK_ID_MAX, &src, e) < 0 ||
	    jv_string(o, "destination_server_id", true, 1, SERVER_ID_MAX, &dserver, e) < 0 ||
	    jv_string(o, "destination_tank_id", true, 1, TANK_ID_MAX, &dtank, e) < 0 ||
	    jv_string(o, "connection_id", false, 0, CONN_ID_MAX, &conn, e) < 0 ||
	    jv_string(o, "created_at", false, 0, 40, &created, e) < 0 ||
	    jv_int(o, "attempts", false, 0, 1 << 30, &attempts, e) < 0 ||
	    jv_string(o, "arrival_wall", false, 4, 5, &wall, e) < 0 ||
	    jv_string(o, "kind", false, 1, 16, &kind, e) < 0)
		return NULL;
	if (wall && strcmp(wall, "left") != 0 && strcmp(wall, "right") != 0) {
		jv_fail(e, "arrival_wall must be left or right");
		return NULL;
	}
	if (!object_id_valid(tid, TRANSFER_ID_MAX) || !object_id_valid(fish, TANK_ID_MAX) ||
	    !object_id_valid(src, TANK_ID_MAX) || !server_id_valid(dserver) ||
	    !object_id_valid(dtank, TANK_ID_MAX)) {
		jv_fail(e, "an id has characters outside the id alphabet");
		return NULL;
	}
	struct xfer *x = xcalloc(1, sizeof *x);
	x->d = d;
	snprintf(x->transfer_id, sizeof x->transfer_id, "%s", tid);
	snprintf(x->fish_id, sizeof x->fish_id, "%s", fish);
	snprintf(x->source_tank_id, sizeof x->source_tank_id, "%s", src);
	snprintf(x->destination_server_id, sizeof x->destination_server_id, "%s", dserver);
	snprintf(x->destination_tank_id, sizeof x->destination_tank_id, "%s", dtank);
	snprintf(x->connection_id, sizeof x->connection_id, "%s", conn ? conn : "");
	snprintf(x->arrival_wall, sizeof x->arrival_wall, "%s", wall ? wall : "");
	x->attempts = attempts;
	x->plant = strcmp(kind, "plant") == 0;
	if (!created || iso8601_parse(created, &x->created_at) < 0)
		x->created_at = now_wall();
	x->started_mono = now_mono();
	return x;
}

void delivery_start(struct migrated *md, json_object *reservation)
{
	struct delivery *d = md->delivery;
	struct json_err e;
	json_object *entity;
	if (jv_object(reservation, "entity_data", true, &entity, &e) < 0) {
		log_warn("simd's reservation has no entity_data: %s", e.msg);
		return;
	}
	struct xfer *x = x_from_json(d, reservation, &e);
	if (!x) {
		log_warn("simd's reservation does not parse: %s", e.msg);
		return;
	}
	struct xfer *old = delivery_find(d, x->transfer_id);
	if (old) { /* the outbox listing found it first */
		if (!old->entity)
			old->entity = json_object_get(entity);
		delivery_xfer_free(x);
		return;
	}
	x->entity = json_object_get(entity);
	x->step = XS_ATTEMPT;
	delivery_insert(d, x);
	delivery_record(x, TS_PENDING, NULL);
	delivery_run(x);
}

static void on_outbox(const struct fetch_response *r, void *arg)
{
	struct delivery *d = arg;
	struct migrated *md = d->md;
	d->listing = false;
	if (r->status != 200) {
		md->m.sim_errors++;
		log_debug("listing simd's outbox failed: %s",
			  r->status ? "unexpected answer" : r->error);
	} else {
		json_object *o = request_answer(r, "outbox"), *list;
		struct json_err e;
		if (o && jv_array(o, "transfers", true, 10000000, &list, &e) > 0) {
			size_t n = json_object_array_length(list), resumed = 0;
			for (size_t i = 0; i < n; i++) {
				json_object *item = json_object_array_get_idx(list, i);
				struct xfer *x = x_from_json(d, item, &e);
				if (!x) {
					log_warn("ignoring an outbox record of simd: %s", e.msg);
					continue;
				}
				const struct transfer_record *known = history_get(md->history,
										  x->transfer_id);
				/* Committed or aborted here only once simd confirmed it: a listing
				 * that still holds it was made before. Taken up again it was
				 * recorded pending anew, and the fetch's 404 left it so, or passed
				 * it off as "committed while migrated was down" (an adversarial
				 * probe: dozens a minute with walls open both ways). */
				if (delivery_find(d, x->transfer_id) ||
				    (known && known->state != TS_PENDING)) {
					delivery_xfer_free(x);
					continue;
				}
				x->step = XS_FETCH;
				delivery_insert(d, x);
				if (!known)
					delivery_record(x, TS_PENDING, NULL);
				md->m.resumed++;
				resumed++;
				delivery_run(x);
			}
			/* At the first listing, transfers a stop or a crash left; after, fish
			 * that left through a wall, which is every pass's news. */
			if (resumed && !d->listed)
				log_info("resumed %zu transfer(s) left in simd's outbox", resumed);
			else if (resumed)
				log_debug("took up %zu transfer(s) from simd's outbox", resumed);
			if (!d->listed)
				forget_resolved(md);
			d->listed = true;
		} else if (o) {
			log_warn("simd's outbox listing does not parse: %s", e.msg);
		}
		json_object_put(o);
	}
	if (d->relist && !md->stopping) {
		d->relist = false;
		delivery_resume_outbox(md);
	}
}

void delivery_resume_outbox(struct migrated *md)
{
	struct delivery *d = md->delivery;
	if (d->listing) {
		d->relist = true;
		return;
	}
	d->listing = true;
	/* lease: simd lets fish through the walls only while we list (docs/simd-protocol.md) */
	if (request_sim(md, "GET", "/api/outbox?lease=true", NULL, on_outbox, d) < 0)
		d->listing = false;
}
