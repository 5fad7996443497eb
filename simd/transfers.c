/* Every way a fish enters or leaves a tank other than birth and death, made durable
 * (DESIGN §6). Each operation changes memory and queues its journal record in one
 * critical section, so journal order is the order of the changes; the client is
 * answered from the journal's completion, once the record is on disk. replay.c applies
 * the same records at start-up. */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "records.h"

/* A fish has left slot's tank for the outbox: record it (slot->lock and xfer_lock held). */
static uint64_t journal_departure(struct simd *sd, struct tank_slot *slot, const char *op,
				  struct outbox_rec *r, journal_done_fn done, void *arg)
{
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", op);
	json_object_object_add(rec, "transfer", outbox_state_json(r));
	json_object_object_add(rec, "fish_serial", json_object_new_uint64(tank_fish_serial(slot->sim)));
	uint64_t seq = journal_put(sd, rec, done, arg);
	slot->applied_seq = seq;
	sd->xfer_applied_seq = seq;
	return seq;
}

int xfer_reserve(struct simd *sd, const struct reserve_req *rq, json_object **ret,
		 journal_done_fn done, void *arg)
{
	struct tank_slot *slot = tanks_find(sd, rq->source_tank);
	if (!slot)
		return -ENOENT;
	if (!slot->meta.allow_transfers)
		return -EPERM;
	pthread_mutex_lock(&slot->lock);
	const char *fid = rq->fish_id ? rq->fish_id : tank_pick_fish(slot->sim);
	struct fish *f = NULL;
	if (!fid || tank_take_fish(slot->sim, fid, &f) < 0) {
		pthread_mutex_unlock(&slot->lock);
		return -ESRCH;
	}
	struct outbox_rec *r = outbox_new(fish_id(f), slot->meta.id, rq->dest_server, rq->dest_tank,
					  rq->connection_id, fish_to_json(f));
	fish_free(f);
	pthread_mutex_lock(&sd->xfer_lock);
	outbox_insert(sd, r);
	sd->reserves++;
	*ret = outbox_json(r, true);
	journal_departure(sd, slot, "reserve", r, done, arg);
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
			const struct exit_dest *d = &slot->exits[walls[i] == WALL_LEFT ? 0 : 1];
			struct outbox_rec *r = outbox_new(fish_id(out[i]), slot->meta.id, d->server_id,
							  d->tank_id, d->connection_id,
							  fish_to_json(out[i]));
			r->exit_wall = walls[i];
			fish_free(out[i]);
			outbox_insert(sd, r);
			sd->exits++;
			journal_departure(sd, slot, "exit", r, NULL, NULL);
		}
		pthread_mutex_unlock(&sd->xfer_lock);
	}
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
	char src[SIM_TANK_ID_MAX + 1];
	snprintf(src, sizeof src, "%s", r->source_tank);
	pthread_mutex_unlock(&sd->xfer_lock);

	/* Lock order: the tank first. An abort puts the fish back into its tank. */
	struct tank_slot *slot = commit ? NULL : tanks_find(sd, src);
	if (slot)
		pthread_mutex_lock(&slot->lock);
	pthread_mutex_lock(&sd->xfer_lock);
	r = outbox_find(sd, transfer_id); /* it may have been resolved meanwhile */
	if (!r) {
		pthread_mutex_unlock(&sd->xfer_lock);
		if (slot)
			pthread_mutex_unlock(&slot->lock);
		return -ENOENT;
	}
	json_object *o = json_object_new_object();
	jv_add_str(o, "transfer_id", transfer_id);
	jv_add_str(o, "fish_id", r->fish_id);
	jv_add_str(o, "state", commit ? "committed" : "aborted");
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", commit ? "commit" : "abort");
	jv_add_str(rec, "transfer_id", transfer_id);
	if (!commit) {
		struct fish *f;
		struct json_err e;
		if (!slot) {
			/* The source tank is gone (deletion waits for its transit to end, so this is
			 * only a tank deleted by a journal from before that rule): keep the record. */
			json_object_put(o);
			json_object_put(rec);
			pthread_mutex_unlock(&sd->xfer_lock);
			return -EBUSY;
		}
		if (fish_from_json(r->fish, &f, &e) < 0)
			fatal("outbox record %s holds a fish that no longer parses: %s", transfer_id,
			      e.msg);
		if (tank_return_fish(slot->sim, f) < 0) {
			fish_free(f);
			log_err("abort %s: fish %s is already in tank %s; dropping the outbox copy",
				transfer_id, r->fish_id, src);
		}
		json_object_object_add(rec, "fish", json_object_get(r->fish));
		jv_add_str(rec, "tank_id", src);
		sd->aborts++;
	} else {
		sd->commits++;
	}
	outbox_drop(sd, r);
	uint64_t seq = journal_put(sd, rec, done, arg);
	sd->xfer_applied_seq = seq;
	if (slot) {
		slot->applied_seq = seq;
		tank_publish_status(slot);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	if (slot)
		pthread_mutex_unlock(&slot->lock);
	*ret = o;
	return 0;
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

/* Is a fish with this id in any tank here? (Only the loop changes the tank list.) */
static bool fish_present(struct simd *sd, const char *fid)
{
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link) {
		pthread_mutex_lock(&s->lock);
		bool here = tank_find_fish(s->sim, fid) != NULL;
		pthread_mutex_unlock(&s->lock);
		if (here)
			return true;
	}
	return false;
}

int xfer_arrive(struct simd *sd, const struct arrive_req *rq, json_object **ret,
		journal_done_fn done, void *arg, struct json_err *e)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *seen = inbox_find(sd, rq->transfer_id);
	if (seen) {
		/* Idempotent: the same answer, nothing inserted. It is durable already unless
		 * the first arrival's record is still being written; then the answer waits for
		 * it too, by going through the journal's completion order. */
		sd->duplicate_arrivals++;
		*ret = arrival_reply(seen);
		pthread_mutex_unlock(&sd->xfer_lock);
		journal_lock(sd->journal);
		uint64_t seq = journal_next_seq(sd->journal);
		json_object *noop = json_object_new_object();
		jv_add_str(noop, "op", "noop");
		journal_append(sd->journal, seq, noop, done, arg);
		journal_unlock(sd->journal);
		return 1;
	}
	pthread_mutex_unlock(&sd->xfer_lock);

	struct tank_slot *slot = tanks_find(sd, rq->dest_tank);
	if (!slot)
		return -ENOENT;
	if (!slot->meta.allow_transfers)
		return -EPERM;
	struct fish *f;
	if (fish_from_json(rq->fish, &f, e) < 0)
		return -EINVAL;
	if (fish_present(sd, fish_id(f))) {
		fish_free(f);
		return -EEXIST;
	}
	struct inbox_rec *in = calloc(1, sizeof *in);
	if (!in)
		abort();
	/* Copy the id first: once put, the fish belongs to the tank. */
	snprintf(in->fish_id, sizeof in->fish_id, "%s", fish_id(f));
	pthread_mutex_lock(&slot->lock);
	int r = tank_put_fish(slot->sim, f, rq->arrival);
	if (r < 0) {
		pthread_mutex_unlock(&slot->lock);
		fish_free(f);
		free(in);
		return r;
	}
	snprintf(in->transfer_id, sizeof in->transfer_id, "%s", rq->transfer_id);
	snprintf(in->dest_tank, sizeof in->dest_tank, "%s", slot->meta.id);
	snprintf(in->source_server, sizeof in->source_server, "%s", rq->source_server);
	snprintf(in->source_tank, sizeof in->source_tank, "%s", rq->source_tank);
	in->received_at = now_wall();
	pthread_mutex_lock(&sd->xfer_lock);
	inbox_insert(sd, in);
	sd->arrivals++;
	*ret = arrival_reply(in);
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", "arrive");
	jv_add_str(rec, "transfer_id", in->transfer_id);
	jv_add_str(rec, "tank_id", in->dest_tank);
	jv_add_str(rec, "source_server", in->source_server);
	jv_add_str(rec, "source_tank", in->source_tank);
	json_object_object_add(rec, "received_at", json_object_new_double(in->received_at));
	if (rq->arrival != WALL_NONE)
		jv_add_str(rec, "arrival_wall", wall_name(rq->arrival));
	json_object_object_add(rec, "fish", json_object_get(rq->fish));
	uint64_t seq = journal_put(sd, rec, done, arg);
	sd->xfer_applied_seq = seq;
	slot->applied_seq = seq;
	pthread_mutex_unlock(&sd->xfer_lock);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

int xfer_move(struct simd *sd, const char *src, const char *dst, const char *fid,
	      json_object **ret, journal_done_fn done, void *arg)
{
	struct tank_slot *a = tanks_find(sd, src), *b = tanks_find(sd, dst);
	if (!a || !b)
		return -ENOENT;
	if (a == b)
		return -EINVAL;
	if (!a->meta.allow_transfers || !b->meta.allow_transfers)
		return -EPERM;
	/* Two tank locks: take them in address order so two opposite moves cannot deadlock. */
	struct tank_slot *first = a < b ? a : b, *second = a < b ? b : a;
	pthread_mutex_lock(&first->lock);
	pthread_mutex_lock(&second->lock);
	int r = 0;
	const char *pick = fid ? fid : tank_pick_fish(a->sim);
	struct fish *f = NULL;
	if (tank_fish_count(b->sim) >= (size_t)tank_get_params(b->sim)->max_fish)
		r = -ENOSPC;
	else if (!pick || tank_take_fish(a->sim, pick, &f) < 0)
		r = -ESRCH;
	if (r == 0) {
		json_object *fj = fish_to_json(f);
		char moved_id[SIM_ID_LEN];
		snprintf(moved_id, sizeof moved_id, "%s", fish_id(f)); /* f is the tank's after put */
		/* An exit-style arrival: through the wall facing the source would need the
		 * connection's direction; a scheduled move keeps x,y like the original. */
		int pr = tank_put_fish(b->sim, f, WALL_NONE);
		if (pr < 0) {
			/* Capacity was checked above under both locks; only a duplicate id fails. */
			fatal("local move %s -> %s: put failed (%d) after a successful take", src, dst, pr);
		}
		char tid[UUID_STR_LEN];
		uuid_random_str(tid);
		json_object *rec = json_object_new_object();
		jv_add_str(rec, "op", "move");
		jv_add_str(rec, "transfer_id", tid);
		jv_add_str(rec, "from", src);
		jv_add_str(rec, "to", dst);
		json_object_object_add(rec, "fish_serial", json_object_new_uint64(tank_fish_serial(a->sim)));
		json_object_object_add(rec, "fish", fj);
		json_object *o = json_object_new_object();
		jv_add_str(o, "transfer_id", tid);
		jv_add_str(o, "fish_id", moved_id);
		jv_add_str(o, "source_tank_id", src);
		jv_add_str(o, "destination_tank_id", dst);
		*ret = o;
		pthread_mutex_lock(&sd->xfer_lock);
		sd->local_moves++;
		uint64_t seq = journal_put(sd, rec, done, arg);
		pthread_mutex_unlock(&sd->xfer_lock);
		a->applied_seq = b->applied_seq = seq;
		tank_publish_status(a);
		tank_publish_status(b);
	}
	pthread_mutex_unlock(&second->lock);
	pthread_mutex_unlock(&first->lock);
	return r;
}

int xfer_set_exits(struct simd *sd, const char *tank_id, const struct exit_dest *left,
		   const struct exit_dest *right, journal_done_fn done, void *arg)
{
	struct tank_slot *slot = tanks_find(sd, tank_id);
	if (!slot)
		return -ENOENT;
	pthread_mutex_lock(&slot->lock);
	apply_exits(slot, left, right);
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", "exits");
	jv_add_str(rec, "tank_id", tank_id);
	json_object_object_add(rec, "exits", xfer_exits_json(slot));
	slot->applied_seq = journal_put(sd, rec, done, arg);
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
	struct tank_slot *slot = tanks_add(sd, meta, t, paused);
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", "create");
	json_object_object_add(rec, "tank", tank_meta_state_json(meta, paused));
	json_object_object_add(rec, "params", params_json(p));
	pthread_mutex_lock(&slot->lock);
	slot->applied_seq = journal_put(sd, rec, done, arg);
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
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", "delete");
	jv_add_str(rec, "tank_id", tank_id);
	journal_put(sd, rec, done, arg);
	tanks_remove(sd, slot);
	return 0;
}

int xfer_tank_pause(struct simd *sd, const char *tank_id, bool paused, journal_done_fn done,
		    void *arg)
{
	struct tank_slot *slot = tanks_find(sd, tank_id);
	if (!slot)
		return -ENOENT;
	pthread_mutex_lock(&slot->lock);
	slot->paused = paused;
	json_object *rec = json_object_new_object();
	jv_add_str(rec, "op", paused ? "pause" : "resume");
	jv_add_str(rec, "tank_id", tank_id);
	slot->applied_seq = journal_put(sd, rec, done, arg);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

/* ---- replay ---- */
