/* Plants that migrate (issue 15), by the same exactly-once protocol as fish (DESIGN §6;
 * transfers.c). A plant's outbox, inbox and journal records are a fish's with the plant's
 * JSON ("kind":"plant") as the entity; the differences are here: the pick, the root spot
 * a destination must have free, and the spot an absent plant keeps in its own tank. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jrec.h"
#include "log.h"
#include "records.h"

size_t transfers_in_transit_of(struct simd *sd, const char *tank_id, bool plants)
{
	size_t n = 0;
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r;
	TAILQ_FOREACH (r, &sd->outbox, link)
		n += strcmp(r->source_tank, tank_id) == 0 && entity_is_plant(r->fish) == plants;
	pthread_mutex_unlock(&sd->xfer_lock);
	return n;
}

struct outbox_rec *xfer_plant_reserve(struct tank_slot *slot, const struct reserve_req *rq)
{
	const char *pid = rq->pick.fish_id ? rq->pick.fish_id : tank_pick_plant(slot->sim);
	json_object *pj = NULL;
	if (!pid || tank_take_plant(slot->sim, pid, &pj) < 0)
		return NULL;
	const char *id = json_object_get_string(json_object_object_get(pj, "id"));
	struct outbox_rec *r = outbox_new(id, slot->meta.id, rq->dest_server, rq->dest_tank,
					  rq->connection_id, pj);
	xfer_hold_transit(slot, true, true);
	return r;
}

int xfer_plant_return(struct tank_slot *slot, json_object *plant)
{
	struct json_err e;
	int r = tank_return_plant(slot->sim, plant, &e);
	if (r == -EINVAL)
		fatal("an outbox plant of tank %s no longer parses: %s", slot->meta.id, e.msg);
	if (r == -EEXIST)
		log_err("abort: the plant is already in tank %s; dropping the outbox copy",
			slot->meta.id);
	return r == -ENOSPC ? r : 0;
}

int xfer_plant_move(struct tank_slot *a, struct tank_slot *b, const char *pid, json_object **pj,
		    char moved_id[UUID_STR_LEN])
{
	const char *pick;
	if (tank_free_root_spots(b->sim) <= 0)
		return -ENOSPC;
	if (!(pick = pid ? pid : tank_pick_plant(a->sim)) || tank_take_plant(a->sim, pick, pj) < 0)
		return -ESRCH;
	snprintf(moved_id, UUID_STR_LEN, "%s",
		 json_object_get_string(json_object_object_get(*pj, "id")));
	struct json_err e;
	int r = tank_put_plant(b->sim, *pj, false, &e);
	if (r < 0) /* room was checked above under both locks; only a duplicate id fails */
		fatal("local plant move %s -> %s: put failed (%d) after a successful take",
		      a->meta.id, b->meta.id, r);
	return 0;
}
