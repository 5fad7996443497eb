/* Every way a fish enters or leaves a tank other than birth and death, made durable
 * (DESIGN §6). Each operation changes memory and queues its journal record in one
 * critical section, so journal order is the order of the changes; the client is
 * answered from the journal's completion, once the record is on disk. The records are
 * written, and replayed at start-up, by jrec.c. */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jrec.h"
#include "jsonv.h"
#include "log.h"
#include "records.h"
#include "xalloc.h"

/* A fish has left slot's tank for the outbox: record it (slot->lock and xfer_lock held). */
static uint64_t journal_departure(struct simd *sd, struct tank_slot *slot, enum jrec_kind k,
				  bool picked, struct outbox_rec *r, journal_done_fn done,
				  void *arg)
{
	struct jrec jr = {.slot = slot, .picked = picked, .out = r};
	uint64_t seq = jrec_put(sd, k, &jr, done, arg);
	slot->applied_seq = seq;
	sd->xfer_applied_seq = seq;
	return seq;
}

/* The fish pick names in slot's tank (slot->lock held), or NULL; *by_tank_rng when the
 * tank's RNG drew it. */
static const char *choose_fish(struct simd *sd, struct tank_slot *slot,
			       const struct fish_choice *pick, bool *by_tank_rng)
{
	*by_tank_rng = false;
	if (pick->fish_id)
		return pick->fish_id;
	if (pick->except)
		return tank_pick_fish_except(slot->sim, &sd->pick_rng, pick->except, pick->n_except);
	*by_tank_rng = true;
	return tank_pick_fish(slot->sim);
}

int xfer_reserve(struct simd *sd, const struct reserve_req *rq, json_object **ret,
		 journal_done_fn done, void *arg)
{
	struct tank_slot *slot = tanks_find(sd, rq->source_tank);
	if (!slot)
		return -ENOENT;
	if (!slot->meta.allow_transfers)
		return -EPERM;
	gate_lock(slot);
	struct outbox_rec *r = NULL;
	bool picked = !rq->pick.fish_id; /* a plant's draw is always the tank's */
	if (rq->pick.plant) {
		r = xfer_plant_reserve(slot, rq);
	} else {
		const char *fid = choose_fish(sd, slot, &rq->pick, &picked);
		struct fish *f = NULL;
		if (fid && tank_take_fish(slot->sim, fid, &f) == 0) {
			r = outbox_new(fish_id(f), slot->meta.id, rq->dest_server, rq->dest_tank,
				       rq->connection_id, fish_to_json(f));
			fish_free(f);
			xfer_hold_transit(slot, false, true);
		}
	}
	if (!r) {
		pthread_mutex_unlock(&slot->lock);
		return -ESRCH;
	}
	pthread_mutex_lock(&sd->xfer_lock);
	outbox_insert(sd, r);
	sd->reserves++;
	*ret = outbox_json(r, true);
	journal_departure(sd, slot, JREC_RESERVE, picked, r, done, arg);
	pthread_mutex_unlock(&sd->xfer_lock);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

void xfer_collect_exits(struct simd *sd, struct tank_slot *slot)
{
	struct fish *out[64];
	enum wall walls[64];
	size_t n;
	while ((n = tank_take_exited(slot->sim, out, walls, 64)) > 0) {
		pthread_mutex_lock(&sd->xfer_lock);
		for (size_t i = 0; i < n; i++) {
			if (!exitgate_may_leave(sd, slot, walls[i], fish_id(out[i]))) {
				/* Not now (a paused connection, a rate limit, a fish that just
				 * came): it bounces back in, heading away from the wall. */
				if (tank_return_fish_at(slot->sim, out[i], walls[i]) < 0)
					fatal("a fish at the wall of tank %s cannot go back in",
					      slot->meta.id);
				sd->exits_bounced++;
				continue;
			}
			const struct exit_dest *d = &slot->exits[walls[i] == WALL_LEFT ? 0 : 1];
			struct outbox_rec *r = outbox_new(fish_id(out[i]), slot->meta.id,
							  d->server_id, d->tank_id,
							  d->connection_id, fish_to_json(out[i]));
			r->exit_wall = walls[i];
			fish_free(out[i]);
			xfer_hold_transit(slot, false, true);
			outbox_insert(sd, r);
			sd->exits++;
			journal_departure(sd, slot, JREC_EXIT, false, r, NULL, NULL);
		}
		/* After the exits of this frame: replay takes their fish from the exit queue
		 * before anything else, as they were taken here. */
		exitgate_sync(sd, slot);
		pthread_mutex_unlock(&sd->xfer_lock);
	}
}

/* An aborted transfer's fish or plant goes back into its tank. -EBUSY without the tank
 * (deletion waits for its transit to end, so this is only a tank deleted by a journal
 * from before that rule) and -ENOSPC for a plant with no root spot (only after a replay
 * that diverged): the outbox keeps the record. */
static int return_entity(struct tank_slot *slot, const struct outbox_rec *r, bool plant)
{
	if (!slot)
		return -EBUSY;
	if (plant)
		return xfer_plant_return(slot, r->fish) < 0 ? -ENOSPC : 0;
	struct fish *f;
	struct json_err e;
	if (fish_from_json(r->fish, &f, &e) < 0)
		fatal("outbox record %s holds a fish that no longer parses: %s", r->transfer_id,
		      e.msg);
	if (tank_return_fish_at(slot->sim, f, r->exit_wall) < 0) {
		fish_free(f);
		log_err("abort %s: fish %s is already in tank %s; dropping the outbox copy",
			r->transfer_id, r->fish_id, slot->meta.id);
	} else {
		exitgate_note_fish(slot, r->fish_id); /* it stays a while before leaving again */
	}
	return 0;
}

void xfer_hold_transit(struct tank_slot *slot, bool plant, bool hold)
{
	size_t n = plant ? tank_plants_in_transit(slot->sim) : tank_in_transit(slot->sim);
	if (hold)
		n++;
	else if (n > 0)
		n--;
	if (plant)
		tank_set_plants_in_transit(slot->sim, n);
	else
		tank_set_in_transit(slot->sim, n);
}

int xfer_resolve(struct simd *sd, const char *transfer_id, bool commit, json_object **ret,
		 journal_done_fn done, void *arg)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r = outbox_find(sd, transfer_id);
	if (!r) {
		pthread_mutex_unlock(&sd->xfer_lock);
		return -ENOENT;
	}
	char src[TANK_ID_MAX + 1];
	snprintf(src, sizeof src, "%s", r->source_tank);
	pthread_mutex_unlock(&sd->xfer_lock);

	/* Lock order: the tank first. An abort puts the fish back into its tank; either way
	 * the slot the fish kept reserved in its tank (max_fish) is released. */
	struct tank_slot *slot = tanks_find(sd, src);
	if (slot)
		gate_lock(slot);
	pthread_mutex_lock(&sd->xfer_lock);
	r = outbox_find(sd, transfer_id); /* it may have been resolved meanwhile */
	if (!r) {
		pthread_mutex_unlock(&sd->xfer_lock);
		if (slot)
			pthread_mutex_unlock(&slot->lock);
		return -ENOENT;
	}
	bool plant = entity_is_plant(r->fish);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "transfer_id", json_object_new_string(transfer_id));
	json_object_object_add(o, "fish_id", json_object_new_string(r->fish_id));
	json_object_object_add(o, "kind", json_object_new_string(plant ? "plant" : "fish"));
	json_object_object_add(o, "state", json_object_new_string(commit ? "committed" : "aborted"));
	struct jrec jr = {.slot = slot, .transfer_id = transfer_id, .exit_wall = WALL_NONE};
	if (!commit) {
		jr.exit_wall = plant ? WALL_NONE : r->exit_wall;
		int rc = return_entity(slot, r, plant);
		if (rc < 0) {
			json_object_put(o);
			pthread_mutex_unlock(&sd->xfer_lock);
			if (slot)
				pthread_mutex_unlock(&slot->lock);
			return rc;
		}
		jr.fish = json_object_get(r->fish); /* the record's, once the outbox entry goes */
		sd->aborts++;
	} else {
		sd->commits++;
	}
	if (slot)
		xfer_hold_transit(slot, plant, false);
	outbox_drop(sd, r);
	uint64_t seq = jrec_put(sd, commit ? JREC_COMMIT : JREC_ABORT, &jr, done, arg);
	json_object_put(jr.fish);
	sd->xfer_applied_seq = seq;
	if (slot) {
		/* A commit changes the tank's transit count, which a snapshot keeps. */
		slot->applied_seq = seq;
		tank_publish_status(slot);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	if (slot)
		pthread_mutex_unlock(&slot->lock);
	*ret = o;
	return 0;
}

struct tank_slot *xfer_source_slot(struct simd *sd, const char *transfer_id)
{
	char src[TANK_ID_MAX + 1] = "";
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r = outbox_find(sd, transfer_id);
	if (r)
		snprintf(src, sizeof src, "%s", r->source_tank);
	pthread_mutex_unlock(&sd->xfer_lock);
	return src[0] ? tanks_find(sd, src) : NULL;
}

int xfer_attempt(struct simd *sd, const char *transfer_id, json_object **ret)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r = outbox_find(sd, transfer_id);
	if (r) {
		r->attempts++;
		*ret = outbox_json(r, false);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return r ? 0 : -ENOENT;
}

/* Is a fish or a plant with this id here? -EEXIST when it is in a tank (only the loop
 * changes the tank list). An id names one entity, whatever its kind: a plant arriving
 * under a fish's id was taken, and the id then lived twice.
 * -EAGAIN when it is in the outbox, under a transfer other than this arrival's own (a
 * local connection delivers a fish to this simd under the transfer it left by): where
 * that fish is depends on how its transfer ends. Taken, it lived twice once the transfer
 * aborted (an attacker's audit, 7 December: a fish in flight posted into another tank);
 * answered duplicate_fish, the sender would commit, and a fish really coming back, the
 * answer of its first trip lost, was lost when that trip then committed. An unknown
 * outcome (503) makes the sender try again after the transfer here has ended.
 * The tanks are looked at first: a fish moves from a tank into the outbox, never the
 * other way while this runs. */
static int entity_present(struct simd *sd, const char *id, const char *transfer_id)
{
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		gate_lock(s);
		bool here = tank_find_fish(s->sim, id) != NULL || tank_has_plant(s->sim, id);
		pthread_mutex_unlock(&s->lock);
		if (here)
			return -EEXIST;
	}
	pthread_mutex_lock(&sd->xfer_lock);
	bool sent = outbox_has_entity(sd, id, transfer_id);
	pthread_mutex_unlock(&sd->xfer_lock);
	return sent ? -EAGAIN : 0;
}

/* Into slot's tank; on success slot->lock is held and in->fish_id set. */
static int admit_fish(struct simd *sd, struct tank_slot *slot, const struct arrive_req *rq,
		      struct inbox_rec *in, struct json_err *e)
{
	struct fish *f;
	if (fish_from_json(rq->fish, &f, e) < 0)
		return -EINVAL;
	int r = entity_present(sd, fish_id(f), rq->transfer_id);
	if (r < 0) {
		fish_free(f);
		return r;
	}
	/* Copy the id first: once put, the fish belongs to the tank. */
	snprintf(in->fish_id, sizeof in->fish_id, "%s", fish_id(f));
	gate_lock(slot);
	r = tank_put_fish(slot->sim, f, rq->arrival);
	if (r < 0) {
		pthread_mutex_unlock(&slot->lock);
		fish_free(f);
		return r;
	}
	exitgate_note_fish(slot, in->fish_id);
	return 0;
}

/* The same for a plant: -ENOSPC when no root spot is free. */
static int admit_plant(struct simd *sd, struct tank_slot *slot, const struct arrive_req *rq,
		       struct inbox_rec *in, struct json_err *e)
{
	const char *pid;
	if (plant_entity_check(rq->fish, e) < 0 ||
	    jv_string(rq->fish, "id", true, 36, 36, &pid, e) < 0)
		return -EINVAL;
	int r = entity_present(sd, pid, rq->transfer_id);
	if (r < 0)
		return r;
	snprintf(in->fish_id, sizeof in->fish_id, "%s", pid);
	gate_lock(slot);
	r = tank_put_plant(slot->sim, rq->fish, false, e);
	if (r < 0)
		pthread_mutex_unlock(&slot->lock);
	return r;
}

bool xfer_arrived(struct simd *sd, const char *transfer_id)
{
	pthread_mutex_lock(&sd->xfer_lock);
	bool seen = inbox_find(sd, transfer_id) != NULL;
	pthread_mutex_unlock(&sd->xfer_lock);
	return seen;
}

int xfer_arrive(struct simd *sd, const struct arrive_req *rq, json_object **ret,
		journal_done_fn done, void *arg, struct json_err *e)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *seen = inbox_find(sd, rq->transfer_id);
	const char *id = jv_member_str(rq->fish, "id");
	if (seen && (!id || strcmp(id, seen->fish_id) != 0)) {
		/* A transfer id is one fish: answered 200, a sender whose id another sender
		 * had used first (or learned from a listing and sent ahead) committed, and its
		 * fish was nowhere (an attacker's audit, 7 December). A definitive refusal
		 * makes it abort, and the fish goes back. The sending server is not compared:
		 * a forger names whichever it likes, and a server whose id follows its host's
		 * name may retry under another, where a refusal would bring a copy back. */
		pthread_mutex_unlock(&sd->xfer_lock);
		return -EALREADY;
	}
	if (seen) {
		/* Idempotent: the same answer, nothing inserted. It is durable already unless
		 * the first arrival's record is still being written; then the answer waits for
		 * it too, by going through the journal's completion order. */
		sd->duplicate_arrivals++;
		*ret = arrival_reply(seen);
		pthread_mutex_unlock(&sd->xfer_lock);
		jrec_put(sd, JREC_NOOP, NULL, done, arg);
		return 1;
	}
	pthread_mutex_unlock(&sd->xfer_lock);

	struct tank_slot *slot = tanks_find(sd, rq->dest_tank);
	if (!slot)
		return -ENOENT;
	if (!slot->meta.allow_transfers)
		return -EPERM;
	struct inbox_rec *in = xcalloc(1, sizeof *in);
	int r = entity_is_plant(rq->fish) ? admit_plant(sd, slot, rq, in, e)
					  : admit_fish(sd, slot, rq, in, e);
	if (r < 0) {
		free(in);
		return r;
	}
	snprintf(in->transfer_id, sizeof in->transfer_id, "%s", rq->transfer_id);
	snprintf(in->dest_tank, sizeof in->dest_tank, "%s", slot->meta.id);
	snprintf(in->source_server, sizeof in->source_server, "%s", rq->source_server);
	snprintf(in->source_tank, sizeof in->source_tank, "%s", rq->source_tank);
	in->received_at = now_wall();
	in->plant = entity_is_plant(rq->fish);
	pthread_mutex_lock(&sd->xfer_lock);
	inbox_insert(sd, in);
	sd->arrivals++;
	*ret = arrival_reply(in);
	struct jrec jr = {.slot = slot, .in = in, .arrival = rq->arrival, .fish = rq->fish};
	uint64_t seq = jrec_put(sd, JREC_ARRIVE, &jr, done, arg);
	sd->xfer_applied_seq = seq;
	slot->applied_seq = seq;
	pthread_mutex_unlock(&sd->xfer_lock);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

int xfer_move(struct simd *sd, const char *src, const char *dst, const struct fish_choice *pick,
	      json_object **ret, journal_done_fn done, void *arg)
{
	bool plant = pick->plant, picked = !pick->fish_id;
	struct tank_slot *a = tanks_find(sd, src), *b = tanks_find(sd, dst);
	if (!a || !b)
		return -ENOENT;
	if (a == b)
		return -EINVAL;
	if (!a->meta.allow_transfers || !b->meta.allow_transfers)
		return -EPERM;
	/* Two tank locks: take them in address order so two opposite moves cannot deadlock. */
	struct tank_slot *first = a < b ? a : b, *second = a < b ? b : a;
	gate_lock(first);
	gate_lock(second);
	int r = 0;
	struct fish *f = NULL;
	json_object *fj = NULL; /* the fish or plant as it moved */
	const char *fid = NULL;
	char moved_id[UUID_STR_LEN];
	/* Pick only when the move will happen: a draw from the tank's RNG that no journal
	 * record mentions would make replay diverge. */
	if (plant)
		r = xfer_plant_move(a, b, pick->fish_id, &fj, moved_id);
	else if (!tank_has_room(b->sim))
		r = -ENOSPC;
	else if (!(fid = choose_fish(sd, a, pick, &picked)) || tank_take_fish(a->sim, fid, &f) < 0)
		r = -ESRCH;
	if (r == 0 && !plant) {
		fj = fish_to_json(f);
		snprintf(moved_id, sizeof moved_id, "%s",
			 fish_id(f)); /* f is the tank's after put */
		/* An exit-style arrival: through the wall facing the source would need the
		 * connection's direction; a scheduled move keeps x,y like the original. */
		int pr = tank_put_fish(b->sim, f, WALL_NONE);
		if (pr < 0) {
			/* Capacity was checked above under both locks; only a duplicate id fails. */
			fatal("local move %s -> %s: put failed (%d) after a successful take", src,
			      dst, pr);
		}
		exitgate_note_fish(b, moved_id);
	}
	if (r == 0) {
		char tid[UUID_STR_LEN];
		uuid_random_str(tid);
		json_object *o = json_object_new_object();
		json_object_object_add(o, "transfer_id", json_object_new_string(tid));
		json_object_object_add(o, "fish_id", json_object_new_string(moved_id));
		json_object_object_add(o, "kind", json_object_new_string(plant ? "plant" : "fish"));
		json_object_object_add(o, "source_tank_id", json_object_new_string(src));
		json_object_object_add(o, "destination_tank_id", json_object_new_string(dst));
		*ret = o;
		pthread_mutex_lock(&sd->xfer_lock);
		sd->local_moves++;
		struct jrec jr = {
			.slot = a, .to = b, .picked = picked, .transfer_id = tid, .fish = fj};
		uint64_t seq = jrec_put(sd, JREC_MOVE, &jr, done, arg);
		pthread_mutex_unlock(&sd->xfer_lock);
		json_object_put(fj);
		a->applied_seq = b->applied_seq = seq;
		tank_publish_status(a);
		tank_publish_status(b);
	}
	pthread_mutex_unlock(&second->lock);
	pthread_mutex_unlock(&first->lock);
	return r;
}

static bool exit_same(const struct exit_dest *a, const struct exit_dest *b)
{
	return a->open == b->open && strcmp(a->server_id, b->server_id) == 0 &&
	       strcmp(a->tank_id, b->tank_id) == 0 &&
	       strcmp(a->connection_id, b->connection_id) == 0;
}

int xfer_set_exits(struct simd *sd, const char *tank_id, const struct exit_dest *left,
		   const struct exit_dest *right, const int budgets[2], journal_done_fn done,
		   void *arg)
{
	struct tank_slot *slot = tanks_find(sd, tank_id);
	if (!slot)
		return -ENOENT;
	gate_lock(slot);
	bool same = (!left || exit_same(left, &slot->exits[0])) &&
		    (!right || exit_same(right, &slot->exits[1]));
	if (left)
		exitgate_set_budget(slot, WALL_LEFT, budgets[0]);
	if (right)
		exitgate_set_budget(slot, WALL_RIGHT, budgets[1]);
	if (same) {
		/* Only budgets changed: what they do to the walls is journaled (a gate record),
		 * but nothing waits for it. */
		exitgate_sync(sd, slot);
		pthread_mutex_unlock(&slot->lock);
		return 1;
	}
	/* Replaying the exits record opens the walls as the exits say; the gate record
	 * after it closes those a budget keeps closed. */
	apply_exits(slot, left, right);
	slot->applied_seq = jrec_put(sd, JREC_EXITS, &(struct jrec){.slot = slot}, done, arg);
	exitgate_sync(sd, slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

int xfer_tank_create(struct simd *sd, const struct tank_meta *meta, const struct tank_params *p,
		     bool paused, struct tank_slot **ret, journal_done_fn done, void *arg)
{
	if (tanks_find(sd, meta->id))
		return -EEXIST;
	struct tank *t = tank_new(p, meta->id);
	if (!t)
		return -EINVAL;
	int r = xfer_tank_create_built(sd, meta, p, t, paused, ret, done, arg);
	if (r < 0)
		tank_free(t);
	return r;
}

int xfer_tank_create_built(struct simd *sd, const struct tank_meta *meta,
			   const struct tank_params *p, struct tank *t, bool paused,
			   struct tank_slot **ret, journal_done_fn done, void *arg)
{
	if (tanks_find(sd, meta->id))
		return -EEXIST;
	struct tank_slot *slot = tanks_add(sd, meta, t, paused);
	struct jrec jr = {.meta = meta, .params = p, .paused = paused};
	gate_lock(slot);
	slot->applied_seq = jrec_put(sd, JREC_CREATE, &jr, done, arg);
	pthread_mutex_unlock(&slot->lock);
	*ret = slot;
	return 0;
}

int xfer_tank_delete(struct simd *sd, const char *tank_id, journal_done_fn done, void *arg)
{
	struct tank_slot *slot = tanks_find(sd, tank_id);
	if (!slot)
		return -ENOENT;
	if (transfers_in_transit(sd, tank_id) > 0)
		return -EBUSY; /* an abort must find its tank */
	jrec_put(sd, JREC_DELETE, &(struct jrec){.slot = slot}, done, arg);
	tanks_remove(sd, slot);
	return 0;
}

int xfer_tank_pause(struct simd *sd, const char *tank_id, bool paused, journal_done_fn done,
		    void *arg)
{
	struct tank_slot *slot = tanks_find(sd, tank_id);
	if (!slot)
		return -ENOENT;
	gate_lock(slot);
	slot->paused = paused;
	pthread_cond_broadcast(&slot->wake);
	struct jrec jr = {.slot = slot};
	slot->applied_seq = jrec_put(sd, paused ? JREC_PAUSE : JREC_RESUME, &jr, done, arg);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

int xfer_inbox_forget(struct simd *sd, const char *transfer_id, journal_done_fn done, void *arg)
{
	/* Journaled, so a crash never brings a forgotten entry back: the inbox then holds
	 * only transfers whose source has not committed. */
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *r = inbox_find(sd, transfer_id);
	if (r) {
		struct jrec jr = {.transfer_id = r->transfer_id};
		sd->xfer_applied_seq = jrec_put(sd, JREC_FORGET, &jr, done, arg);
		inbox_drop(sd, r);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return r ? 0 : -ENOENT;
}
