/* Every kind of journal record, one row each in the table at the end: how it is
 * written from what the live operation changed, and how start-up replays it (see
 * jrec.h, and replay.c for stepping tanks to a record's frame). Replay applies each
 * part of a record only to the tank, or the transfer tables, whose snapshot does not
 * contain it yet, so replaying twice changes nothing. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jrec.h"
#include "records.h"
#include "replay.h"
#include "xalloc.h"

/* The frame of slot's tank at which the change was applied (slot->lock held), so that
 * replay re-simulates to that frame before applying it; "picked" when the fish was
 * chosen with the tank's RNG, which replay must draw from too. */
static void add_frame(json_object *rec, const char *key, struct tank_slot *slot, bool picked)
{
	json_object_object_add(rec, key, json_object_new_uint64(tank_frame(slot->sim)));
	if (picked)
		json_object_object_add(rec, "picked", json_object_new_boolean(true));
}

/* ---- reserve, exit: a fish left its tank for the outbox ---- */

static void encode_departure(json_object *rec, const struct jrec *r)
{
	add_frame(rec, "frame", r->slot, r->picked);
	json_object_object_add(rec, "transfer", outbox_state_json(r->out));
	json_object_object_add(rec, "fish_serial",
			       json_object_new_uint64(tank_fish_serial(r->slot->sim)));
}

/* An outbox record parsed from the journal that the outbox does not take. */
static void free_outbox_rec(struct outbox_rec *r)
{
	json_object_put(r->fish);
	free(r);
}

static int redo_departure(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
			  struct json_err *e)
{
	bool through_wall = k == JREC_EXIT;
	struct outbox_rec *r;
	json_object *o;
	struct tank_slot *slot;
	if (jv_object(rec, "transfer", true, &o, e) < 0 || outbox_from_json(o, &r, e) < 0)
		return -EINVAL;
	int64_t s64 = 0;
	if (jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &s64, e) < 0) {
		free_outbox_rec(r);
		return -EINVAL;
	}
	if ((slot = replay_tank(sd, r->source_tank, seq))) {
		bool framed = json_object_object_get_ex(rec, "frame", NULL);
		/* A departure through the wall takes its fish from the exit queue the step
		 * filled, so the queue is not settled first. */
		if ((through_wall ? replay_advance(slot, rec, "frame", e)
				  : replay_at(slot, rec, "frame", e)) < 0 ||
		    (!through_wall && replay_pick_entity(slot, rec, r->fish, r->fish_id, e) < 0) ||
		    (framed && through_wall && replay_exit(slot, r->fish_id, e) < 0)) {
			free_outbox_rec(r);
			return -EINVAL;
		}
		replay_remove_entity(slot, r->fish, r->fish_id, (uint64_t)s64);
		xfer_hold_transit(slot, entity_is_plant(r->fish), true);
	}
	if (seq > sd->xfer_snap_seq && !outbox_find(sd, r->transfer_id))
		outbox_insert(sd, r);
	else
		free_outbox_rec(r);
	return 0;
}

/* ---- commit, abort: a transfer ended; an aborted fish went back into its tank ---- */

static void encode_commit(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "transfer_id", json_object_new_string(r->transfer_id));
	if (r->slot) { /* its fish's slot in the source tank is free again */
		json_object_object_add(rec, "tank_id", json_object_new_string(r->slot->meta.id));
		add_frame(rec, "frame", r->slot, false);
	}
}

static void encode_abort(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "transfer_id", json_object_new_string(r->transfer_id));
	json_object_object_add(rec, "fish", json_object_get(r->fish));
	json_object_object_add(rec, "tank_id", json_object_new_string(r->slot->meta.id));
	add_frame(rec, "frame", r->slot, false);
	/* A fish that had left through a wall comes back just inside it: replay must place
	 * it there too, and the outbox record that said which wall may be gone by then. */
	if (r->exit_wall != WALL_NONE)
		json_object_object_add(rec, "exit_wall",
				       json_object_new_string(wall_name(r->exit_wall)));
}

static int redo_resolve(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
			struct json_err *e)
{
	const char *tid, *tank_id = NULL;
	struct tank_slot *slot;
	json_object *fishj = NULL;
	enum wall left_by = WALL_NONE; /* absent before aborts named it, and for reservations */
	if (jv_string(rec, "transfer_id", true, 36, 36, &tid, e) < 0 ||
	    jv_string(rec, "tank_id", k == JREC_ABORT, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    (k == JREC_ABORT && jv_object(rec, "fish", true, &fishj, e) < 0) ||
	    wall_from_json(rec, "exit_wall", &left_by, e) < 0)
		return -EINVAL;
	struct outbox_rec *r = outbox_find(sd, tid);
	if (!tank_id && r) /* a commit written before commits named their tank */
		tank_id = r->source_tank;
	/* An abort written before aborts named the wall (simd before 6 December): the outbox
	 * record, from its exit record or the snapshot, still names it, and the live abort
	 * had put the fish back inside it. Replaying it elsewhere diverged, and with the same
	 * simulation rules that stopped the start after an upgrade. */
	if (k == JREC_ABORT && r && !json_object_object_get_ex(rec, "exit_wall", NULL))
		left_by = r->exit_wall;
	if (tank_id && (slot = replay_tank(sd, tank_id, seq))) {
		int put = 0;
		if (replay_at(slot, rec, "frame", e) < 0 ||
		    (fishj && (put = replay_put_entity(slot, fishj, true, left_by, e)) < 0))
			return -EINVAL;
		if (put == 1)
			return 0; /* a plant with no root spot stays in flight */
		json_object *ent = fishj ? fishj : r ? r->fish : NULL;
		xfer_hold_transit(slot, ent && entity_is_plant(ent), false);
	}
	if (seq > sd->xfer_snap_seq && r)
		outbox_drop(sd, r);
	return 0;
}

/* ---- arrive, forget: the inbox ---- */

static void encode_arrive(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "transfer_id", json_object_new_string(r->in->transfer_id));
	json_object_object_add(rec, "tank_id", json_object_new_string(r->in->dest_tank));
	json_object_object_add(rec, "source_server", json_object_new_string(r->in->source_server));
	json_object_object_add(rec, "source_tank", json_object_new_string(r->in->source_tank));
	add_frame(rec, "frame", r->slot, false);
	json_object_object_add(rec, "received_at", json_object_new_double(r->in->received_at));
	if (r->arrival != WALL_NONE)
		json_object_object_add(rec, "arrival_wall",
				       json_object_new_string(wall_name(r->arrival)));
	json_object_object_add(rec, "fish", json_object_get(r->fish));
}

static int redo_arrive(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		       struct json_err *e)
{
	json_object *fishj;
	struct inbox_rec in = {0};
	const char *tid, *tank_id, *ss, *st;
	struct tank_slot *slot;
	if (jv_string(rec, "transfer_id", true, 1, 36, &tid, e) < 0 ||
	    jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_string(rec, "source_server", true, 1, SERVER_ID_MAX, &ss, e) < 0 ||
	    jv_string(rec, "source_tank", true, 1, TANK_ID_MAX, &st, e) < 0 ||
	    jv_double(rec, "received_at", true, 0, 1e11, &in.received_at, e) < 0 ||
	    jv_object(rec, "fish", true, &fishj, e) < 0)
		return -EINVAL;
	enum wall arrival;
	if (wall_from_json(rec, "arrival_wall", &arrival, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq)) &&
	    (replay_at(slot, rec, "frame", e) < 0 ||
	     replay_put_entity(slot, fishj, false, arrival, e) < 0))
		return -EINVAL;
	if (seq > sd->xfer_snap_seq && !inbox_find(sd, tid)) {
		struct inbox_rec *n = xcalloc(1, sizeof *n);
		const char *fid;
		*n = in;
		if (jv_string(fishj, "id", true, 36, 36, &fid, e) < 0) {
			free(n);
			return -EINVAL;
		}
		strcpy(n->transfer_id, tid);
		strcpy(n->fish_id, fid);
		strcpy(n->dest_tank, tank_id);
		strcpy(n->source_server, ss);
		strcpy(n->source_tank, st);
		n->plant = entity_is_plant(fishj);
		inbox_insert(sd, n);
	}
	return 0;
}

static void encode_transfer_id(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "transfer_id", json_object_new_string(r->transfer_id));
}

static int redo_forget(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		       struct json_err *e)
{
	const char *tid;
	if (jv_string(rec, "transfer_id", true, 1, 36, &tid, e) < 0)
		return -EINVAL;
	struct inbox_rec *in = inbox_find(sd, tid);
	if (seq > sd->xfer_snap_seq && in)
		inbox_drop(sd, in);
	return 0;
}

/* ---- move: from one tank here to another, in one record ---- */

static void encode_move(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "transfer_id", json_object_new_string(r->transfer_id));
	json_object_object_add(rec, "from", json_object_new_string(r->slot->meta.id));
	json_object_object_add(rec, "to", json_object_new_string(r->to->meta.id));
	json_object_object_add(rec, "fish_serial",
			       json_object_new_uint64(tank_fish_serial(r->slot->sim)));
	add_frame(rec, "from_frame", r->slot, r->picked);
	add_frame(rec, "to_frame", r->to, false);
	json_object_object_add(rec, "fish", json_object_get(r->fish));
}

static int redo_move(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		     struct json_err *e)
{
	json_object *fishj;
	const char *from, *to, *fid;
	int64_t serial = 0;
	struct tank_slot *slot;
	if (jv_string(rec, "from", true, 1, TANK_ID_MAX, &from, e) < 0 ||
	    jv_string(rec, "to", true, 1, TANK_ID_MAX, &to, e) < 0 ||
	    jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &serial, e) < 0 ||
	    jv_object(rec, "fish", true, &fishj, e) < 0 ||
	    jv_string(fishj, "id", true, 36, 36, &fid, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, from, seq))) {
		if (replay_at(slot, rec, "from_frame", e) < 0 ||
		    replay_pick_entity(slot, rec, fishj, fid, e) < 0)
			return -EINVAL;
		replay_remove_entity(slot, fishj, fid, (uint64_t)serial);
	}
	if ((slot = replay_tank(sd, to, seq)) &&
	    (replay_at(slot, rec, "to_frame", e) < 0 ||
	     replay_put_entity(slot, fishj, false, WALL_NONE, e) < 0))
		return -EINVAL;
	return 0;
}

/* ---- a tank's life: exits, create, delete, pause, resume ---- */

static void encode_exits(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "tank_id", json_object_new_string(r->slot->meta.id));
	add_frame(rec, "frame", r->slot, false);
	json_object_object_add(rec, "exits", xfer_exits_json(r->slot));
}

static int redo_exits(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		      struct json_err *e)
{
	json_object *ex;
	const char *tank_id;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_object(rec, "exits", true, &ex, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		struct exit_dest d[2];
		if (replay_at(slot, rec, "frame", e) < 0 || exits_from_json(ex, d, e) < 0)
			return -EINVAL;
		apply_exits(slot, &d[0], &d[1]);
	}
	return 0;
}

static void encode_create(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "tank", tank_meta_state_json(r->meta, r->paused));
	json_object_object_add(rec, "params", params_json(r->params));
	/* Every input of the tank is journaled from here on: replay must match exactly. */
	json_object_object_add(rec, "inputs_journaled", json_object_new_boolean(true));
	json_object_object_add(rec, "sim_rules", json_object_new_int(SIM_RULES));
}

static int redo_create(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		       struct json_err *e)
{
	struct tank_meta m;
	struct tank_params p;
	bool paused = false, strict = false;
	int rules = 1;
	json_object *o, *pj;
	if (jv_object(rec, "tank", true, &o, e) < 0 || tank_meta_from_json(o, &m, &paused, e) < 0 ||
	    jv_object(rec, "params", true, &pj, e) < 0 || params_from_json(pj, &p, e) < 0 ||
	    jv_bool(rec, "inputs_journaled", false, &strict, e) < 0 ||
	    jv_int(rec, "sim_rules", false, 1, INT32_MAX, &rules, e) < 0)
		return -EINVAL;
	if (!tanks_find(sd, m.id)) {
		struct tank *t = tank_new(&p, m.id);
		if (!t)
			return jv_fail(e, "cannot recreate tank %s", m.id);
		struct tank_slot *slot = tanks_add(sd, &m, t, paused);
		slot->snap_seq = seq;
		slot->replay_strict = strict && replay_same_rules(m.id, rules);
	}
	return 0;
}

static void encode_tank_id(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "tank_id", json_object_new_string(r->slot->meta.id));
}

static int redo_delete(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		       struct json_err *e)
{
	const char *tank_id;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0)
		return -EINVAL;
	/* Its folder goes in the next snapshot round, after the manifest that no longer
	 * lists it: a crash in between must not look like a lost tank. */
	if ((slot = tanks_find(sd, tank_id)))
		tanks_remove(sd, slot);
	return 0;
}

static void encode_tank_frame(json_object *rec, const struct jrec *r)
{
	json_object_object_add(rec, "tank_id", json_object_new_string(r->slot->meta.id));
	add_frame(rec, "frame", r->slot, false);
}

static int redo_pause_resume(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
			     struct json_err *e)
{
	const char *tank_id;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		if (replay_at(slot, rec, "frame", e) < 0)
			return -EINVAL;
		slot->paused = k == JREC_PAUSE;
	}
	return 0;
}

/* ---- mark: where a running tank was, to re-simulate up to it ---- */

static void encode_mark(json_object *rec, const struct jrec *r)
{
	encode_tank_frame(rec, r);
	json_object_object_add(rec, "hash", jv_new_u64hex(replay_hash(r->slot->sim)));
}

static int redo_mark(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		     struct json_err *e)
{
	const char *tank_id;
	uint64_t want;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_u64hex(rec, "hash", true, &want, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		if (replay_at(slot, rec, "frame", e) < 0)
			return -EINVAL;
		if (replay_hash(slot->sim) != want)
			return replay_diverged(slot,
					       "its checkpoint hash differs from the journaled one",
					       e);
	}
	return 0;
}

/* ---- food, add_fish: the viewer's controls; gate: a wall's budget ---- */

static void encode_food(json_object *rec, const struct jrec *r)
{
	encode_tank_frame(rec, r);
	json_object_object_add(rec, "x", json_object_new_double(r->x));
	json_object_object_add(rec, "count", json_object_new_int(r->count));
}

static int redo_food(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		     struct json_err *e)
{
	const char *tank_id;
	double x;
	int count;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_double(rec, "x", true, 0, 1e7, &x, e) < 0 ||
	    jv_int(rec, "count", true, 1, 100, &count, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		if (replay_at(slot, rec, "frame", e) < 0)
			return -EINVAL;
		tank_drop_food(slot->sim, x, count);
	}
	return 0;
}

static void encode_add_fish(json_object *rec, const struct jrec *r)
{
	encode_tank_frame(rec, r);
	json_object_object_add(rec, "x", json_object_new_double(r->x));
	json_object_object_add(rec, "y", json_object_new_double(r->y));
	json_object_object_add(rec, "fish_id", json_object_new_string(r->fish_id));
}

static int redo_add_fish(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
			 struct json_err *e)
{
	const char *tank_id, *want, *got = NULL;
	double x, y;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_double(rec, "x", true, 0, 1e7, &x, e) < 0 ||
	    jv_double(rec, "y", true, 0, 1e7, &y, e) < 0 ||
	    jv_string(rec, "fish_id", true, 36, 36, &want, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		if (replay_at(slot, rec, "frame", e) < 0)
			return -EINVAL;
		if (tank_add_random_fish(slot->sim, x, y, &got) < 0 || strcmp(got, want) != 0)
			return replay_diverged(slot, "the fish added by hand differs", e);
	}
	return 0;
}

static void encode_gate(json_object *rec, const struct jrec *r)
{
	encode_tank_frame(rec, r);
	json_object_object_add(rec, "left",
			       json_object_new_boolean(tank_get_exit(r->slot->sim, WALL_LEFT)));
	json_object_object_add(rec, "right",
			       json_object_new_boolean(tank_get_exit(r->slot->sim, WALL_RIGHT)));
}

static int redo_gate(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		     struct json_err *e)
{
	const char *tank_id;
	bool left, right;
	struct tank_slot *slot;
	if (jv_string(rec, "tank_id", true, 1, TANK_ID_MAX, &tank_id, e) < 0 ||
	    jv_bool(rec, "left", true, &left, e) < 0 || jv_bool(rec, "right", true, &right, e) < 0)
		return -EINVAL;
	if ((slot = replay_tank(sd, tank_id, seq))) {
		if (replay_at(slot, rec, "frame", e) < 0)
			return -EINVAL;
		tank_set_exit(slot->sim, WALL_LEFT, left);
		tank_set_exit(slot->sim, WALL_RIGHT, right);
	}
	return 0;
}

/* ---- the table ---- */

static const struct {
	const char *op;
	void (*encode)(json_object *rec, const struct jrec *r); /* after "op"; NULL: nothing */
	/* k tells the replay of two kinds which one it has */
	int (*replay)(struct simd *sd, uint64_t seq, json_object *rec, enum jrec_kind k,
		      struct json_err *e);
} kinds[] = {
	[JREC_RESERVE] = {"reserve", encode_departure, redo_departure},
	[JREC_EXIT] = {"exit", encode_departure, redo_departure},
	[JREC_COMMIT] = {"commit", encode_commit, redo_resolve},
	[JREC_ABORT] = {"abort", encode_abort, redo_resolve},
	[JREC_ARRIVE] = {"arrive", encode_arrive, redo_arrive},
	[JREC_FORGET] = {"forget", encode_transfer_id, redo_forget},
	[JREC_MOVE] = {"move", encode_move, redo_move},
	[JREC_EXITS] = {"exits", encode_exits, redo_exits},
	[JREC_CREATE] = {"create", encode_create, redo_create},
	[JREC_DELETE] = {"delete", encode_tank_id, redo_delete},
	[JREC_PAUSE] = {"pause", encode_tank_frame, redo_pause_resume},
	[JREC_RESUME] = {"resume", encode_tank_frame, redo_pause_resume},
	[JREC_MARK] = {"mark", encode_mark, redo_mark},
	[JREC_NOOP] = {"noop", NULL, NULL},
	[JREC_FOOD] = {"food", encode_food, redo_food},
	[JREC_ADD_FISH] = {"add_fish", encode_add_fish, redo_add_fish},
	[JREC_GATE] = {"gate", encode_gate, redo_gate},
};

uint64_t jrec_put(struct simd *sd, enum jrec_kind k, const struct jrec *r, journal_done_fn done,
		  void *arg)
{
	json_object *rec = json_object_new_object();
	json_object_object_add(rec, "op", json_object_new_string(kinds[k].op));
	if (kinds[k].encode)
		kinds[k].encode(rec, r);
	journal_lock(sd->journal);
	uint64_t seq = journal_next_seq(sd->journal);
	journal_append(sd->journal, seq, rec, done, arg);
	journal_unlock(sd->journal);
	return seq;
}

int jrec_replay(void *arg, uint64_t seq, json_object *rec, struct json_err *e)
{
	const char *op;
	if (jv_string(rec, "op", true, 1, 16, &op, e) < 0)
		return -EINVAL;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (strcmp(kinds[k].op, op) == 0)
			return kinds[k].replay ? kinds[k].replay(arg, seq, rec, k, e) : 0;
	return jv_fail(e, "unknown journal operation '%s'", op);
}
