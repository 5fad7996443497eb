/* Every way a fish enters or leaves a tank other than birth and death, made durable
 * (DESIGN §6). Each operation changes memory and queues its journal record in one
 * critical section, so journal order is the order of the changes; the client is
 * answered from the journal's completion, once the record is on disk.
 *
 * Replay applies the same records to the state loaded from snapshots, each part only
 * to the tank (or the transfer tables) whose snapshot does not contain it yet. */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "simd.h"

#define INBOX_RETENTION_SECONDS (30.0 * 86400.0)
#define INBOX_MAX 100000

static int by_transfer_id(const void *a, const void *b)
{
	/* Both record types start with transfer_id. */
	return strcmp((const char *)a, (const char *)b);
}

static struct outbox_rec *outbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->outbox_index, by_transfer_id);
	return p ? *(struct outbox_rec *const *)p : NULL;
}

static struct inbox_rec *inbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->inbox_index, by_transfer_id);
	return p ? *(struct inbox_rec *const *)p : NULL;
}

static void outbox_insert(struct simd *sd, struct outbox_rec *r)
{
	tsearch(r, &sd->outbox_index, by_transfer_id);
	TAILQ_INSERT_TAIL(&sd->outbox, r, link);
	sd->outbox_count++;
}

static void outbox_drop(struct simd *sd, struct outbox_rec *r)
{
	tdelete(r, &sd->outbox_index, by_transfer_id);
	TAILQ_REMOVE(&sd->outbox, r, link);
	sd->outbox_count--;
	json_object_put(r->fish);
	free(r);
}

static void inbox_drop(struct simd *sd, struct inbox_rec *r)
{
	tdelete(r, &sd->inbox_index, by_transfer_id);
	TAILQ_REMOVE(&sd->inbox, r, link);
	sd->inbox_count--;
	free(r);
}

static void inbox_insert(struct simd *sd, struct inbox_rec *r)
{
	tsearch(r, &sd->inbox_index, by_transfer_id);
	TAILQ_INSERT_TAIL(&sd->inbox, r, link);
	sd->inbox_count++;
	/* Bounded memory: forget the oldest arrivals past the retention. */
	struct inbox_rec *old;
	while ((old = TAILQ_FIRST(&sd->inbox)) &&
	       (sd->inbox_count > INBOX_MAX || r->received_at - old->received_at > INBOX_RETENTION_SECONDS))
		inbox_drop(sd, old);
}

size_t transfers_in_transit(struct simd *sd, const char *tank_id)
{
	size_t n = 0;
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r;
	TAILQ_FOREACH(r, &sd->outbox, link)
		n += strcmp(r->source_tank, tank_id) == 0;
	pthread_mutex_unlock(&sd->xfer_lock);
	return n;
}

/* Number and queue a record. Call with the locks of everything it changed held. */
static uint64_t journal_put(struct simd *sd, json_object *rec, journal_done_fn done, void *arg)
{
	journal_lock(sd->journal);
	uint64_t seq = journal_next_seq(sd->journal);
	journal_append(sd->journal, seq, rec, done, arg);
	journal_unlock(sd->journal);
	return seq;
}

static void jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *outbox_json(const struct outbox_rec *r, bool with_fish)
{
	char ts[32];
	iso8601_utc(r->created_at, ts);
	json_object *o = json_object_new_object();
	jadd_str(o, "transfer_id", r->transfer_id);
	jadd_str(o, "fish_id", r->fish_id);
	jadd_str(o, "source_tank_id", r->source_tank);
	jadd_str(o, "destination_server_id", r->dest_server);
	jadd_str(o, "destination_tank_id", r->dest_tank);
	jadd_str(o, "connection_id", r->connection_id);
	jadd_str(o, "created_at", ts);
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	/* A fish that swam through a wall enters its destination through the opposite one. */
	json_object_object_add(o, "exit_wall", r->exit_wall == WALL_NONE ? NULL
					       : json_object_new_string(wall_name(r->exit_wall)));
	json_object_object_add(o, "arrival_wall", r->exit_wall == WALL_NONE ? NULL
					       : json_object_new_string(wall_name(wall_opposite(r->exit_wall))));
	if (with_fish)
		json_object_object_add(o, "entity_data", json_object_get(r->fish));
	return o;
}

/* The journal and snapshot form keeps created_at exact. */
static json_object *outbox_state_json(const struct outbox_rec *r)
{
	json_object *o = outbox_json(r, true);
	json_object_object_add(o, "created_at", json_object_new_double(r->created_at));
	return o;
}

static int outbox_from_json(json_object *o, struct outbox_rec **ret, struct json_err *e)
{
	struct outbox_rec *r = calloc(1, sizeof *r);
	const char *tid, *fid, *st, *ds, *dt, *cid = "";
	json_object *fish;
	if (!r)
		abort();
	if (jv_string(o, "transfer_id", true, 36, 36, &tid, e) < 0 ||
	    jv_string(o, "fish_id", true, 36, 36, &fid, e) < 0 ||
	    jv_string(o, "source_tank_id", true, 1, SIM_TANK_ID_MAX, &st, e) < 0 ||
	    jv_string(o, "destination_server_id", true, 1, 64, &ds, e) < 0 ||
	    jv_string(o, "destination_tank_id", true, 1, SIM_TANK_ID_MAX, &dt, e) < 0 ||
	    jv_string(o, "connection_id", false, 0, CONN_ID_MAX, &cid, e) < 0 ||
	    jv_double(o, "created_at", true, 0, 1e11, &r->created_at, e) < 0 ||
	    jv_int(o, "attempts", false, 0, 1 << 30, &r->attempts, e) < 0 ||
	    jv_object(o, "entity_data", true, &fish, e) < 0 ||
	    wall_from_json(o, "exit_wall", &r->exit_wall, e) < 0) {
		free(r);
		return -EINVAL;
	}
	strcpy(r->transfer_id, tid);
	strcpy(r->fish_id, fid);
	strcpy(r->source_tank, st);
	strcpy(r->dest_server, ds);
	strcpy(r->dest_tank, dt);
	strcpy(r->connection_id, cid);
	r->fish = json_object_get(fish);
	*ret = r;
	return 0;
}

int wall_from_json(json_object *o, const char *key, enum wall *ret, struct json_err *e)
{
	const char *w = NULL;
	*ret = WALL_NONE;
	if (jv_string(o, key, false, 4, 5, &w, e) < 0)
		return -EINVAL;
	if (!w)
		return 0;
	if (strcmp(w, "left") == 0)
		*ret = WALL_LEFT;
	else if (strcmp(w, "right") == 0)
		*ret = WALL_RIGHT;
	else
		return jv_fail(e, "field '%s' must be left or right", key);
	return 1;
}

static struct outbox_rec *outbox_new(const char *fish_id, const char *src, const char *ds,
				     const char *dt, const char *cid, json_object *fish)
{
	struct outbox_rec *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	uuid_random_str(r->transfer_id);
	snprintf(r->fish_id, sizeof r->fish_id, "%s", fish_id);
	snprintf(r->source_tank, sizeof r->source_tank, "%s", src);
	snprintf(r->dest_server, sizeof r->dest_server, "%s", ds);
	snprintf(r->dest_tank, sizeof r->dest_tank, "%s", dt);
	snprintf(r->connection_id, sizeof r->connection_id, "%s", cid ? cid : "");
	r->created_at = now_wall();
	r->exit_wall = WALL_NONE;
	r->fish = fish;
	return r;
}

/* A fish has left slot's tank for the outbox: record it (slot->lock and xfer_lock held). */
static uint64_t journal_departure(struct simd *sd, struct tank_slot *slot, const char *op,
				  struct outbox_rec *r, journal_done_fn done, void *arg)
{
	json_object *rec = json_object_new_object();
	jadd_str(rec, "op", op);
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
	jadd_str(o, "transfer_id", transfer_id);
	jadd_str(o, "fish_id", r->fish_id);
	jadd_str(o, "state", commit ? "committed" : "aborted");
	json_object *rec = json_object_new_object();
	jadd_str(rec, "op", commit ? "commit" : "abort");
	jadd_str(rec, "transfer_id", transfer_id);
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
		jadd_str(rec, "tank_id", src);
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

json_object *xfer_outbox_json(struct simd *sd, bool with_fish, const char *transfer_id)
{
	pthread_mutex_lock(&sd->xfer_lock);
	json_object *o = NULL;
	if (transfer_id) {
		struct outbox_rec *r = outbox_find(sd, transfer_id);
		o = r ? outbox_json(r, with_fish) : NULL;
	} else {
		json_object *list = json_object_new_array();
		struct outbox_rec *r;
		TAILQ_FOREACH(r, &sd->outbox, link)
			json_object_array_add(list, outbox_json(r, with_fish));
		o = json_object_new_object();
		json_object_object_add(o, "transfers", list);
		json_object_object_add(o, "count", json_object_new_int((int)sd->outbox_count));
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

static json_object *arrival_reply(const struct inbox_rec *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(true));
	jadd_str(o, "message", "Entity transferred successfully from remote server");
	jadd_str(o, "transfer_id", r->transfer_id);
	json_object *ent = json_object_new_object();
	jadd_str(ent, "old_id", r->fish_id);
	jadd_str(ent, "new_id", r->fish_id);
	jadd_str(ent, "type", "fish");
	jadd_str(ent, "source_server", r->source_server);
	jadd_str(ent, "source_tank", r->source_tank);
	jadd_str(ent, "destination_tank", r->dest_tank);
	json_object_object_add(o, "entity", ent);
	return o;
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
		jadd_str(noop, "op", "noop");
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
	jadd_str(rec, "op", "arrive");
	jadd_str(rec, "transfer_id", in->transfer_id);
	jadd_str(rec, "tank_id", in->dest_tank);
	jadd_str(rec, "source_server", in->source_server);
	jadd_str(rec, "source_tank", in->source_tank);
	json_object_object_add(rec, "received_at", json_object_new_double(in->received_at));
	if (rq->arrival != WALL_NONE)
		jadd_str(rec, "arrival_wall", wall_name(rq->arrival));
	json_object_object_add(rec, "fish", json_object_get(rq->fish));
	uint64_t seq = journal_put(sd, rec, done, arg);
	sd->xfer_applied_seq = seq;
	slot->applied_seq = seq;
	pthread_mutex_unlock(&sd->xfer_lock);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

int xfer_inbox_forget(struct simd *sd, const char *transfer_id)
{
	/* Not journaled: a forgotten entry that a replay brings back is harmless and goes at
	 * the next snapshot or at its retention. */
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *r = inbox_find(sd, transfer_id);
	if (r)
		inbox_drop(sd, r);
	pthread_mutex_unlock(&sd->xfer_lock);
	return r ? 0 : -ENOENT;
}

json_object *xfer_inbox_json(struct simd *sd, const char *transfer_id)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *r = inbox_find(sd, transfer_id);
	json_object *o = NULL;
	if (r) {
		char ts[32];
		iso8601_utc(r->received_at, ts);
		o = json_object_new_object();
		jadd_str(o, "transfer_id", r->transfer_id);
		jadd_str(o, "fish_id", r->fish_id);
		jadd_str(o, "destination_tank_id", r->dest_tank);
		jadd_str(o, "source_server_id", r->source_server);
		jadd_str(o, "source_tank_id", r->source_tank);
		jadd_str(o, "received_at", ts);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
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
		jadd_str(rec, "op", "move");
		jadd_str(rec, "transfer_id", tid);
		jadd_str(rec, "from", src);
		jadd_str(rec, "to", dst);
		json_object_object_add(rec, "fish_serial", json_object_new_uint64(tank_fish_serial(a->sim)));
		json_object_object_add(rec, "fish", fj);
		json_object *o = json_object_new_object();
		jadd_str(o, "transfer_id", tid);
		jadd_str(o, "fish_id", moved_id);
		jadd_str(o, "source_tank_id", src);
		jadd_str(o, "destination_tank_id", dst);
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

static json_object *exit_json(const struct exit_dest *d)
{
	if (!d->open)
		return NULL;
	json_object *o = json_object_new_object();
	jadd_str(o, "destination_server_id", d->server_id);
	jadd_str(o, "destination_tank_id", d->tank_id);
	jadd_str(o, "connection_id", d->connection_id);
	return o;
}

static void apply_exits(struct tank_slot *slot, const struct exit_dest *left,
			const struct exit_dest *right)
{
	if (left)
		slot->exits[0] = *left;
	if (right)
		slot->exits[1] = *right;
	tank_set_exit(slot->sim, WALL_LEFT, slot->exits[0].open);
	tank_set_exit(slot->sim, WALL_RIGHT, slot->exits[1].open);
}

json_object *xfer_exits_json(const struct tank_slot *slot);
json_object *xfer_exits_json(const struct tank_slot *slot)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "left", exit_json(&slot->exits[0]));
	json_object_object_add(o, "right", exit_json(&slot->exits[1]));
	return o;
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
	jadd_str(rec, "op", "exits");
	jadd_str(rec, "tank_id", tank_id);
	json_object_object_add(rec, "exits", xfer_exits_json(slot));
	slot->applied_seq = journal_put(sd, rec, done, arg);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

static json_object *params_json(const struct tank_params *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "seed", jv_new_u64hex(p->seed));
	json_object_object_add(o, "width", json_object_new_int(p->width));
	json_object_object_add(o, "height", json_object_new_int(p->height));
	json_object_object_add(o, "max_fish", json_object_new_int(p->max_fish));
	json_object_object_add(o, "initial_fish", json_object_new_int(p->initial_fish));
	return o;
}

static int params_from_json(json_object *o, struct tank_params *p, struct json_err *e)
{
	uint64_t seed;
	int w, h, mf, inf;
	if (jv_u64hex(o, "seed", true, &seed, e) < 0 ||
	    jv_int(o, "width", true, 200, 100000, &w, e) < 0 ||
	    jv_int(o, "height", true, 200, 100000, &h, e) < 0 ||
	    jv_int(o, "max_fish", true, 1, 1000000, &mf, e) < 0 ||
	    jv_int(o, "initial_fish", true, 0, 1000000, &inf, e) < 0)
		return -EINVAL;
	*p = tank_params_default(seed);
	tank_params_scale_world(p, w, h);
	p->max_fish = mf;
	p->initial_fish = inf;
	return tank_params_check(p) < 0 ? jv_fail(e, "tank parameters out of range") : 0;
}

json_object *tank_meta_state_json(const struct tank_meta *m, bool paused);
json_object *tank_meta_state_json(const struct tank_meta *m, bool paused)
{
	json_object *o = json_object_new_object();
	jadd_str(o, "tank_id", m->id);
	jadd_str(o, "name", m->name);
	jadd_str(o, "description", m->description);
	json_object_object_add(o, "created_at", json_object_new_double(m->created_at));
	json_object_object_add(o, "is_public", json_object_new_boolean(m->is_public));
	json_object_object_add(o, "allow_transfers", json_object_new_boolean(m->allow_transfers));
	json_object_object_add(o, "paused", json_object_new_boolean(paused));
	return o;
}

int tank_meta_from_json(json_object *o, struct tank_meta *m, bool *paused, struct json_err *e);
int tank_meta_from_json(json_object *o, struct tank_meta *m, bool *paused, struct json_err *e)
{
	const char *id, *name, *desc = "";
	memset(m, 0, sizeof *m);
	m->is_public = true;
	m->allow_transfers = true;
	if (jv_string(o, "tank_id", true, 1, SIM_TANK_ID_MAX, &id, e) < 0 ||
	    jv_string(o, "name", true, 1, TANK_NAME_MAX, &name, e) < 0 ||
	    jv_string(o, "description", false, 0, TANK_DESC_MAX, &desc, e) < 0 ||
	    jv_double(o, "created_at", true, 0, 1e11, &m->created_at, e) < 0 ||
	    jv_bool(o, "is_public", false, &m->is_public, e) < 0 ||
	    jv_bool(o, "allow_transfers", false, &m->allow_transfers, e) < 0 ||
	    jv_bool(o, "paused", false, paused, e) < 0)
		return -EINVAL;
	if (!object_id_valid(id, SIM_TANK_ID_MAX))
		return jv_fail(e, "invalid tank id");
	strcpy(m->id, id);
	strcpy(m->name, name);
	strcpy(m->description, desc);
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
	jadd_str(rec, "op", "create");
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
	jadd_str(rec, "op", "delete");
	jadd_str(rec, "tank_id", tank_id);
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
	jadd_str(rec, "op", paused ? "pause" : "resume");
	jadd_str(rec, "tank_id", tank_id);
	slot->applied_seq = journal_put(sd, rec, done, arg);
	tank_publish_status(slot);
	pthread_mutex_unlock(&slot->lock);
	return 0;
}

/* ---- replay ---- */

static struct tank_slot *replay_tank(struct simd *sd, const char *id, uint64_t seq)
{
	struct tank_slot *s = tanks_find(sd, id);
	return s && seq > s->snap_seq ? s : NULL;
}

static void replay_remove_fish(struct tank_slot *s, const char *fid, uint64_t serial)
{
	struct fish *f;
	if (tank_take_fish(s->sim, fid, &f) == 0)
		fish_free(f);
	/* A fish born after the snapshot and gone since: never mint its id again. */
	tank_raise_fish_serial(s->sim, serial);
}

static int replay_put(struct tank_slot *s, json_object *fishj, bool returning, enum wall arrival,
		      struct json_err *e)
{
	struct fish *f;
	if (fish_from_json(fishj, &f, e) < 0)
		return -EINVAL;
	int r = returning ? tank_return_fish(s->sim, f) : tank_put_fish(s->sim, f, arrival);
	if (r == -ENOSPC && !returning)
		r = tank_return_fish(s->sim, f); /* it was accepted then: capacity was checked */
	if (r < 0)
		fish_free(f); /* already there (its snapshot is newer): nothing to do */
	return 0;
}

int xfer_replay(void *arg, uint64_t seq, json_object *rec, struct json_err *e)
{
	struct simd *sd = arg;
	const char *op, *s1 = NULL, *s2 = NULL;
	if (jv_string(rec, "op", true, 1, 16, &op, e) < 0)
		return -EINVAL;
	bool xfer_new = seq > sd->xfer_snap_seq;
	struct tank_slot *slot;
	json_object *o;

	if (strcmp(op, "reserve") == 0 || strcmp(op, "exit") == 0) {
		struct outbox_rec *r;
		if (jv_object(rec, "transfer", true, &o, e) < 0 || outbox_from_json(o, &r, e) < 0)
			return -EINVAL;
		int64_t s64 = 0;
		if (jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &s64, e) < 0) {
			json_object_put(r->fish);
			free(r);
			return -EINVAL;
		}
		if ((slot = replay_tank(sd, r->source_tank, seq)))
			replay_remove_fish(slot, r->fish_id, (uint64_t)s64);
		if (xfer_new && !outbox_find(sd, r->transfer_id)) {
			outbox_insert(sd, r);
		} else {
			json_object_put(r->fish);
			free(r);
		}
	} else if (strcmp(op, "commit") == 0 || strcmp(op, "abort") == 0) {
		if (jv_string(rec, "transfer_id", true, 36, 36, &s1, e) < 0)
			return -EINVAL;
		if (strcmp(op, "abort") == 0) {
			json_object *fishj;
			if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
			    jv_object(rec, "fish", true, &fishj, e) < 0)
				return -EINVAL;
			if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, true, WALL_NONE, e) < 0)
				return -EINVAL;
		}
		struct outbox_rec *r = outbox_find(sd, s1);
		if (xfer_new && r)
			outbox_drop(sd, r);
	} else if (strcmp(op, "arrive") == 0) {
		json_object *fishj;
		struct inbox_rec in = {0};
		const char *ss, *st;
		if (jv_string(rec, "transfer_id", true, 1, 36, &s1, e) < 0 ||
		    jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
		    jv_string(rec, "source_server", true, 1, 64, &ss, e) < 0 ||
		    jv_string(rec, "source_tank", true, 1, SIM_TANK_ID_MAX, &st, e) < 0 ||
		    jv_double(rec, "received_at", true, 0, 1e11, &in.received_at, e) < 0 ||
		    jv_object(rec, "fish", true, &fishj, e) < 0)
			return -EINVAL;
		enum wall arrival;
		if (wall_from_json(rec, "arrival_wall", &arrival, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, false, arrival, e) < 0)
			return -EINVAL;
		if (xfer_new && !inbox_find(sd, s1)) {
			struct inbox_rec *n = calloc(1, sizeof *n);
			const char *fid;
			if (!n)
				abort();
			*n = in;
			if (jv_string(fishj, "id", true, 36, 36, &fid, e) < 0) {
				free(n);
				return -EINVAL;
			}
			strcpy(n->transfer_id, s1);
			strcpy(n->fish_id, fid);
			strcpy(n->dest_tank, s2);
			strcpy(n->source_server, ss);
			strcpy(n->source_tank, st);
			inbox_insert(sd, n);
		}
	} else if (strcmp(op, "move") == 0) {
		json_object *fishj;
		const char *fid;
		int64_t serial = 0;
		if (jv_string(rec, "from", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0 ||
		    jv_string(rec, "to", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
		    jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &serial, e) < 0 ||
		    jv_object(rec, "fish", true, &fishj, e) < 0 ||
		    jv_string(fishj, "id", true, 36, 36, &fid, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq)))
			replay_remove_fish(slot, fid, (uint64_t)serial);
		if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, false, WALL_NONE, e) < 0)
			return -EINVAL;
	} else if (strcmp(op, "exits") == 0) {
		json_object *ex;
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0 ||
		    jv_object(rec, "exits", true, &ex, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq))) {
			struct exit_dest d[2] = {{0}};
			for (int w = 0; w < 2; w++) {
				json_object *x;
				const char *ds, *dt, *cid = "";
				if (jv_object(ex, w ? "right" : "left", false, &x, e) < 0)
					return -EINVAL;
				if (json_object_object_get_ex(ex, w ? "right" : "left", &x) && x) {
					if (jv_string(x, "destination_server_id", true, 1, 64, &ds, e) < 0 ||
					    jv_string(x, "destination_tank_id", true, 1, SIM_TANK_ID_MAX, &dt, e) < 0 ||
					    jv_string(x, "connection_id", false, 0, CONN_ID_MAX, &cid, e) < 0)
						return -EINVAL;
					d[w].open = true;
					strcpy(d[w].server_id, ds);
					strcpy(d[w].tank_id, dt);
					strcpy(d[w].connection_id, cid);
				}
			}
			apply_exits(slot, &d[0], &d[1]);
		}
	} else if (strcmp(op, "create") == 0) {
		struct tank_meta m;
		struct tank_params p;
		bool paused = false;
		json_object *pj;
		if (jv_object(rec, "tank", true, &o, e) < 0 || tank_meta_from_json(o, &m, &paused, e) < 0 ||
		    jv_object(rec, "params", true, &pj, e) < 0 || params_from_json(pj, &p, e) < 0)
			return -EINVAL;
		if (!tanks_find(sd, m.id)) {
			struct tank *t = tank_new(&p, m.id);
			if (!t)
				return jv_fail(e, "cannot recreate tank %s", m.id);
			tanks_add(sd, &m, t, paused)->snap_seq = seq;
		}
	} else if (strcmp(op, "delete") == 0) {
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0)
			return -EINVAL;
		if ((slot = tanks_find(sd, s1))) {
			tanks_remove(sd, slot);
			store_remove_tank_dir(sd, s1);
		}
	} else if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0) {
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq)))
			slot->paused = strcmp(op, "pause") == 0;
	} else if (strcmp(op, "noop") != 0) {
		return jv_fail(e, "unknown journal operation '%s'", op);
	}
	return 0;
}

json_object *xfer_state_json(struct simd *sd, uint64_t *ret_seq)
{
	pthread_mutex_lock(&sd->xfer_lock);
	json_object *o = json_object_new_object(), *ob = json_object_new_array(),
		    *ib = json_object_new_array();
	struct outbox_rec *r;
	TAILQ_FOREACH(r, &sd->outbox, link)
		json_object_array_add(ob, outbox_state_json(r));
	struct inbox_rec *in;
	TAILQ_FOREACH(in, &sd->inbox, link) {
		json_object *x = json_object_new_object();
		jadd_str(x, "transfer_id", in->transfer_id);
		jadd_str(x, "fish_id", in->fish_id);
		jadd_str(x, "tank_id", in->dest_tank);
		jadd_str(x, "source_server", in->source_server);
		jadd_str(x, "source_tank", in->source_tank);
		json_object_object_add(x, "received_at", json_object_new_double(in->received_at));
		json_object_array_add(ib, x);
	}
	*ret_seq = sd->xfer_applied_seq;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "seq", json_object_new_uint64(sd->xfer_applied_seq));
	json_object_object_add(o, "outbox", ob);
	json_object_object_add(o, "inbox", ib);
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

int xfer_state_load(struct simd *sd, json_object *o, struct json_err *e)
{
	json_object *ob, *ib;
	int64_t seq;
	int version;
	if (jv_int(o, "version", true, 1, 1, &version, e) < 0 ||
	    jv_int64(o, "seq", true, 0, INT64_MAX, &seq, e) < 0 ||
	    jv_array(o, "outbox", true, 10000000, &ob, e) < 0 ||
	    jv_array(o, "inbox", true, 10000000, &ib, e) < 0)
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(ob); i++) {
		struct outbox_rec *r;
		if (outbox_from_json(json_object_array_get_idx(ob, i), &r, e) < 0)
			return -EINVAL;
		outbox_insert(sd, r);
	}
	for (size_t i = 0; i < json_object_array_length(ib); i++) {
		json_object *x = json_object_array_get_idx(ib, i);
		struct inbox_rec *in = calloc(1, sizeof *in);
		const char *tid, *fid, *tk, *ss, *st;
		if (!in)
			abort();
		if (jv_string(x, "transfer_id", true, 1, 36, &tid, e) < 0 ||
		    jv_string(x, "fish_id", true, 36, 36, &fid, e) < 0 ||
		    jv_string(x, "tank_id", true, 1, SIM_TANK_ID_MAX, &tk, e) < 0 ||
		    jv_string(x, "source_server", true, 1, 64, &ss, e) < 0 ||
		    jv_string(x, "source_tank", true, 1, SIM_TANK_ID_MAX, &st, e) < 0 ||
		    jv_double(x, "received_at", true, 0, 1e11, &in->received_at, e) < 0) {
			free(in);
			return -EINVAL;
		}
		strcpy(in->transfer_id, tid);
		strcpy(in->fish_id, fid);
		strcpy(in->dest_tank, tk);
		strcpy(in->source_server, ss);
		strcpy(in->source_tank, st);
		inbox_insert(sd, in);
	}
	sd->xfer_snap_seq = sd->xfer_applied_seq = (uint64_t)seq;
	return 0;
}

void xfer_free_all(struct simd *sd)
{
	struct outbox_rec *r;
	while ((r = TAILQ_FIRST(&sd->outbox)))
		outbox_drop(sd, r);
	struct inbox_rec *in;
	while ((in = TAILQ_FIRST(&sd->inbox)))
		inbox_drop(sd, in);
}
