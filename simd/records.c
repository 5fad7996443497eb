/* The outbox and inbox tables and the JSON forms of simd's records (see records.h). */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "records.h"

#define INBOX_RETENTION_SECONDS (30.0 * 86400.0)
#define INBOX_MAX 100000

static int by_transfer_id(const void *a, const void *b)
{
	/* Both record types start with transfer_id. */
	return strcmp((const char *)a, (const char *)b);
}

struct outbox_rec *outbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->outbox_index, by_transfer_id);
	return p ? *(struct outbox_rec *const *)p : NULL;
}

struct inbox_rec *inbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->inbox_index, by_transfer_id);
	return p ? *(struct inbox_rec *const *)p : NULL;
}

void outbox_insert(struct simd *sd, struct outbox_rec *r)
{
	tsearch(r, &sd->outbox_index, by_transfer_id);
	TAILQ_INSERT_TAIL(&sd->outbox, r, link);
	sd->outbox_count++;
}

void outbox_drop(struct simd *sd, struct outbox_rec *r)
{
	tdelete(r, &sd->outbox_index, by_transfer_id);
	TAILQ_REMOVE(&sd->outbox, r, link);
	sd->outbox_count--;
	json_object_put(r->fish);
	free(r);
}

void inbox_drop(struct simd *sd, struct inbox_rec *r)
{
	tdelete(r, &sd->inbox_index, by_transfer_id);
	TAILQ_REMOVE(&sd->inbox, r, link);
	sd->inbox_count--;
	free(r);
}

void inbox_insert(struct simd *sd, struct inbox_rec *r)
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
uint64_t journal_put(struct simd *sd, json_object *rec, journal_done_fn done, void *arg)
{
	journal_lock(sd->journal);
	uint64_t seq = journal_next_seq(sd->journal);
	journal_append(sd->journal, seq, rec, done, arg);
	journal_unlock(sd->journal);
	return seq;
}

json_object *outbox_json(const struct outbox_rec *r, bool with_fish)
{
	char ts[32];
	iso8601_utc(r->created_at, ts);
	json_object *o = json_object_new_object();
	jv_add_str(o, "transfer_id", r->transfer_id);
	jv_add_str(o, "fish_id", r->fish_id);
	jv_add_str(o, "source_tank_id", r->source_tank);
	jv_add_str(o, "destination_server_id", r->dest_server);
	jv_add_str(o, "destination_tank_id", r->dest_tank);
	jv_add_str(o, "connection_id", r->connection_id);
	jv_add_str(o, "created_at", ts);
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
json_object *outbox_state_json(const struct outbox_rec *r)
{
	json_object *o = outbox_json(r, true);
	json_object_object_add(o, "created_at", json_object_new_double(r->created_at));
	return o;
}

int outbox_from_json(json_object *o, struct outbox_rec **ret, struct json_err *e)
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

struct outbox_rec *outbox_new(const char *fish_id, const char *src, const char *ds,
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

json_object *xfer_inbox_json(struct simd *sd, const char *transfer_id)
{
	pthread_mutex_lock(&sd->xfer_lock);
	struct inbox_rec *r = inbox_find(sd, transfer_id);
	json_object *o = NULL;
	if (r) {
		char ts[32];
		iso8601_utc(r->received_at, ts);
		o = json_object_new_object();
		jv_add_str(o, "transfer_id", r->transfer_id);
		jv_add_str(o, "fish_id", r->fish_id);
		jv_add_str(o, "destination_tank_id", r->dest_tank);
		jv_add_str(o, "source_server_id", r->source_server);
		jv_add_str(o, "source_tank_id", r->source_tank);
		jv_add_str(o, "received_at", ts);
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

json_object *exit_json(const struct exit_dest *d)
{
	if (!d->open)
		return NULL;
	json_object *o = json_object_new_object();
	jv_add_str(o, "destination_server_id", d->server_id);
	jv_add_str(o, "destination_tank_id", d->tank_id);
	jv_add_str(o, "connection_id", d->connection_id);
	return o;
}

void apply_exits(struct tank_slot *slot, const struct exit_dest *left,
			const struct exit_dest *right)
{
	if (left)
		slot->exits[0] = *left;
	if (right)
		slot->exits[1] = *right;
	tank_set_exit(slot->sim, WALL_LEFT, slot->exits[0].open);
	tank_set_exit(slot->sim, WALL_RIGHT, slot->exits[1].open);
}

json_object *xfer_exits_json(const struct tank_slot *slot)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "left", exit_json(&slot->exits[0]));
	json_object_object_add(o, "right", exit_json(&slot->exits[1]));
	return o;
}

json_object *params_json(const struct tank_params *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "seed", jv_new_u64hex(p->seed));
	json_object_object_add(o, "width", json_object_new_int(p->width));
	json_object_object_add(o, "height", json_object_new_int(p->height));
	json_object_object_add(o, "max_fish", json_object_new_int(p->max_fish));
	json_object_object_add(o, "initial_fish", json_object_new_int(p->initial_fish));
	return o;
}

int params_from_json(json_object *o, struct tank_params *p, struct json_err *e)
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

json_object *tank_meta_state_json(const struct tank_meta *m, bool paused)
{
	json_object *o = json_object_new_object();
	jv_add_str(o, "tank_id", m->id);
	jv_add_str(o, "name", m->name);
	jv_add_str(o, "description", m->description);
	json_object_object_add(o, "created_at", json_object_new_double(m->created_at));
	json_object_object_add(o, "is_public", json_object_new_boolean(m->is_public));
	json_object_object_add(o, "allow_transfers", json_object_new_boolean(m->allow_transfers));
	json_object_object_add(o, "paused", json_object_new_boolean(paused));
	return o;
}

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
		jv_add_str(x, "transfer_id", in->transfer_id);
		jv_add_str(x, "fish_id", in->fish_id);
		jv_add_str(x, "tank_id", in->dest_tank);
		jv_add_str(x, "source_server", in->source_server);
		jv_add_str(x, "source_tank", in->source_tank);
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

json_object *arrival_reply(const struct inbox_rec *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(true));
	jv_add_str(o, "message", "Entity transferred successfully from remote server");
	jv_add_str(o, "transfer_id", r->transfer_id);
	json_object *ent = json_object_new_object();
	jv_add_str(ent, "old_id", r->fish_id);
	jv_add_str(ent, "new_id", r->fish_id);
	jv_add_str(ent, "type", "fish");
	jv_add_str(ent, "source_server", r->source_server);
	jv_add_str(ent, "source_tank", r->source_tank);
	jv_add_str(ent, "destination_tank", r->dest_tank);
	json_object_object_add(o, "entity", ent);
	return o;
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
