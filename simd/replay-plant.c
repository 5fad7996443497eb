/* Replay of journal records that carry a plant (issue 15): the outbox, inbox and move
 * records of a plant are a fish's with the plant's JSON as the entity, so jrec.c hands
 * each entity here and the fish go on to replay.c. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "replay.h"

int replay_pick_entity(struct tank_slot *s, json_object *rec, json_object *entity, const char *id,
		       struct json_err *e)
{
	if (!entity_is_plant(entity))
		return replay_pick(s, rec, id, e);
	bool picked = false;
	if (jv_bool(rec, "picked", false, &picked, e) < 0)
		return -EINVAL;
	const char *got = picked ? tank_pick_plant(s->sim) : NULL;
	if (picked && (!got || strcmp(got, id) != 0))
		return replay_diverged(s, "a picked plant differs", e);
	return 0;
}

void replay_remove_entity(struct tank_slot *s, json_object *entity, const char *id, uint64_t serial)
{
	json_object *pj;
	if (!entity_is_plant(entity))
		replay_remove_fish(s, id, serial);
	else if (tank_take_plant(s->sim, id, &pj) == 0)
		json_object_put(pj);
}

int replay_put_entity(struct tank_slot *s, json_object *entity, bool returning, enum wall arrival,
		      struct json_err *e)
{
	if (!entity_is_plant(entity))
		return replay_put(s, entity, returning, arrival, e);
	int r = returning ? tank_return_plant(s->sim, entity, e)
			  : tank_put_plant(s->sim, entity, true, e);
	if (r == -EINVAL)
		return r;
	if (r != -ENOSPC)
		return 0; /* -EEXIST: already there (its snapshot is newer) */
	/* Live, a spot was held for it; only a replay that diverged fills them all (a
	 * strict replay stops here). Otherwise a returning plant stays in the outbox (in
	 * flight, for migrated to send again); an arrival cannot go back, and is reported. */
	if (replay_diverged(s, "no root spot for a plant", e) < 0)
		return -EINVAL;
	if (returning)
		return 1;
	log_err("tank %s: no root spot for arrived plant %s on replay; it is dropped", s->meta.id,
		json_object_get_string(json_object_object_get(entity, "id")));
	return 0;
}
