/* The outbox and inbox tables and the JSON forms of simd's records (see records.h). */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "records.h"
#include "xalloc.h"

/* The inbox is bounded by count alone. An entry goes when its source commits (the
 * journaled forget), or, should that forget never come, when INBOX_MAX newer arrivals
 * have pushed it out. No clock decides: a clock stepped a month forward once made every
 * entry "old" at once, and a retry then arrived a second time. */
#define INBOX_MAX 100000

static int by_leading_id(const void *a, const void *b)
{
	/* Both record types start with transfer_id, and struct outbox_entity with its id. */
	return strcmp((const char *)a, (const char *)b);
}

/* How many outbox records carry an entity: one, or more in the state of a server from
 * before arrivals were checked against the outbox. An arrival asks it, where a walk of
 * the outbox (every transfer in flight, unbounded while a peer is away) cost each
 * arrival that outbox's length. */
struct outbox_entity {
	char id[UUID_STR_LEN];
	unsigned n;
};

static struct outbox_entity *outbox_entity_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->outbox_entities, by_leading_id);
	return p ? *(struct outbox_entity *const *)p : NULL;
}

static void outbox_entity_add(struct simd *sd, const char *id, int d)
{
	struct outbox_entity *e = outbox_entity_find(sd, id);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		snprintf(e->id, sizeof e->id, "%s", id);
		tsearch(e, &sd->outbox_entities, by_leading_id);
	}
	e->n += (unsigned)d;
	if (e->n == 0) {
		tdelete(e, &sd->outbox_entities, by_leading_id);
		free(e);
	}
}

struct outbox_rec *outbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->outbox_index, by_leading_id);
	return p ? *(struct outbox_rec *const *)p : NULL;
}

struct inbox_rec *inbox_find(struct simd *sd, const char *id)
{
	void *const *p = tfind(id, &sd->inbox_index, by_leading_id);
	return p ? *(struct inbox_rec *const *)p : NULL;
}

bool outbox_has_entity(struct simd *sd, const char *entity_id, const char *except_transfer)
{
	struct outbox_entity *e = outbox_entity_find(sd, entity_id);
	unsigned n = e ? e->n : 0;
	struct outbox_rec *own = outbox_find(sd, except_transfer);
	if (own && n > 0 && strcmp(own->fish_id, entity_id) == 0)
		n--;
	return n > 0;
}

void outbox_insert(struct simd *sd, struct outbox_rec *r)
{
	tsearch(r, &sd->outbox_index, by_leading_id);
	outbox_entity_add(sd, r->fish_id, 1);
	TAILQ_INSERT_TAIL(&sd->outbox, r, link);
	sd->outbox_count++;
}

void outbox_drop(struct simd *sd, struct outbox_rec *r)
{
	tdelete(r, &sd->outbox_index, by_leading_id);
	outbox_entity_add(sd, r->fish_id, -1);
	TAILQ_REMOVE(&sd->outbox, r, link);
	sd->outbox_count--;
	json_object_put(r->fish);
	free(r);
}

void inbox_drop(struct simd *sd, struct inbox_rec *r)
{
	tdelete(r, &sd->inbox_index, by_leading_id);
	TAILQ_REMOVE(&sd->inbox, r, link);
	sd->inbox_count--;
	free(r);
}

void inbox_insert(struct simd *sd, struct inbox_rec *r)
{
	tsearch(r, &sd->inbox_index, by_leading_id);
	TAILQ_INSERT_TAIL(&sd->inbox, r, link);
	sd->inbox_count++;
	/* Bounded memory: the oldest arrivals (in arrival order) beyond the bound go. */
	struct inbox_rec *old;
	while ((old = TAILQ_FIRST(&sd->inbox)) && sd->inbox_count > INBOX_MAX)
		inbox_drop(sd, old);
}

size_t transfers_in_transit(struct simd *sd, const char *tank_id)
{
	size_t n = 0;
	pthread_mutex_lock(&sd->xfer_lock);
	struct outbox_rec *r;
	TAILQ_FOREACH (r, &sd->outbox, link)
		n += strcmp(r->source_tank, tank_id) == 0;
	pthread_mutex_unlock(&sd->xfer_lock);
	return n;
}

json_object *outbox_json(const struct outbox_rec *r, bool with_fish)
{
	char ts[32];
	iso8601_utc(r->created_at, ts);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "transfer_id", json_object_new_string(r->transfer_id));
	json_object_object_add(o, "fish_id",
			       json_object_new_string(
				       r->fish_id)); /* a plant's id when kind is "plant" */
	json_object_object_add(o, "kind",
			       json_object_new_string(entity_is_plant(r->fish) ? "plant" : "fish"));
	json_object_object_add(o, "source_tank_id", json_object_new_string(r->source_tank));
	json_object_object_add(o, "destination_server_id", json_object_new_string(r->dest_server));
	json_object_object_add(o, "destination_tank_id", json_object_new_string(r->dest_tank));
	json_object_object_add(o, "connection_id", json_object_new_string(r->connection_id));
	json_object_object_add(o, "created_at", json_object_new_string(ts));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	/* A fish that swam through a wall enters its destination through the opposite one. */
	json_object_object_add(o, "exit_wall",
			       r->exit_wall == WALL_NONE
				       ? NULL
				       : json_object_new_string(wall_name(r->exit_wall)));
	json_object_object_add(o, "arrival_wall",
			       r->exit_wall == WALL_NONE ? NULL
							 : json_object_new_string(wall_name(
								   wall_opposite(r->exit_wall))));
	if (with_fish)
		json_object_object_add(o, "entity_data", json_object_get(r->fish));
	return o;
}

/* The journal and snapshot form keeps created_at exact. */
json_object *outbox_state_json(const struct outbox_rec *r)
{
	json_object *o = outbox_json(r, true);
	json_object_object_add(o, "created_at", json_object_new_double(r->created_at));
	json_object_object_del(o, "kind"); /* the entity's own; the saved format stays as it was */
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
	    jv_string(o, "source_tank_id", true, 1, TANK_ID_MAX, &st, e) < 0 ||
	    jv_string(o, "destination_server_id", true, 1, SERVER_ID_MAX, &ds, e) < 0 ||
	    jv_string(o, "destination_tank_id", true, 1, TANK_ID_MAX, &dt, e) < 0 ||
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

struct outbox_rec *outbox_new(const char *fish_id, const char *src, const char *ds, const char *dt,
			      const char *cid, json_object *fish)
{
	struct outbox_rec *r = xcalloc(1, sizeof *r);
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
		TAILQ_FOREACH (r, &sd->outbox, link)
			json_object_array_add(list, outbox_json(r, with_fish));
		o = json_object_new_object();
		json_object_object_add(o, "transfers", list);
		json_object_object_add(o, "count", json_object_new_int((int)sd->outbox_count));
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

uint64_t xfer_applied(struct simd *sd)
{
	pthread_mutex_lock(&sd->xfer_lock);
	uint64_t seq = sd->xfer_applied_seq;
	pthread_mutex_unlock(&sd->xfer_lock);
	return seq;
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
		json_object_object_add(o, "transfer_id", json_object_new_string(r->transfer_id));
		json_object_object_add(o, "fish_id", json_object_new_string(r->fish_id));
		json_object_object_add(o, "destination_tank_id",
				       json_object_new_string(r->dest_tank));
		json_object_object_add(o, "source_server_id",
				       json_object_new_string(r->source_server));
		json_object_object_add(o, "source_tank_id", json_object_new_string(r->source_tank));
		json_object_object_add(o, "received_at", json_object_new_string(ts));
	}
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

json_object *exit_json(const struct exit_dest *d)
{
	if (!d->open)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "destination_server_id", json_object_new_string(d->server_id));
	json_object_object_add(o, "destination_tank_id", json_object_new_string(d->tank_id));
	json_object_object_add(o, "connection_id", json_object_new_string(d->connection_id));
	return o;
}

void apply_exits(struct tank_slot *slot, const struct exit_dest *left, const struct exit_dest *right)
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

int exits_from_json(json_object *ex, struct exit_dest d[2], struct json_err *e)
{
	memset(d, 0, 2 * sizeof *d);
	for (int w = 0; w < 2; w++) {
		json_object *x;
		const char *ds, *dt, *cid = "";
		if (jv_object(ex, w ? "right" : "left", false, &x, e) < 0)
			return -EINVAL;
		if (json_object_object_get_ex(ex, w ? "right" : "left", &x) && x) {
			if (jv_string(x, "destination_server_id", true, 1, SERVER_ID_MAX, &ds, e) <
				    0 ||
			    jv_string(x, "destination_tank_id", true, 1, TANK_ID_MAX, &dt, e) < 0 ||
			    jv_string(x, "connection_id", false, 0, CONN_ID_MAX, &cid, e) < 0)
				return -EINVAL;
			d[w].open = true;
			strcpy(d[w].server_id, ds);
			strcpy(d[w].tank_id, dt);
			strcpy(d[w].connection_id, cid);
		}
	}
	return 0;
}

json_object *params_json(const struct tank_params *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "seed", jv_new_u64hex(p->seed));
	json_object_object_add(o, "width", json_object_new_int(p->width));
	json_object_object_add(o, "height", json_object_new_int(p->height));
	json_object_object_add(o, "max_fish", json_object_new_int(p->max_fish));
	json_object_object_add(o, "initial_fish", json_object_new_int(p->initial_fish));
	json_object_object_add(o, "spawn_floor", json_object_new_int(p->spawn_floor));
	json_object_object_add(o, "history_interval", json_object_new_int(p->history_interval));
	json_object_object_add(o, "history_size", json_object_new_int(p->history_size));
	json_object_object_add(o, "lineage_depth", json_object_new_int(p->lineage_depth));
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
	/* Optional: records written before these parameters get the defaults. */
	if (jv_int(o, "spawn_floor", false, 0, 1000000, &p->spawn_floor, e) < 0 ||
	    jv_int(o, "history_interval", false, 1, 1000000, &p->history_interval, e) < 0 ||
	    jv_int(o, "history_size", false, 0, 100000, &p->history_size, e) < 0 ||
	    jv_int(o, "lineage_depth", false, 0, 1000, &p->lineage_depth, e) < 0)
		return -EINVAL;
	return tank_params_check(p, e);
}

json_object *tank_meta_state_json(const struct tank_meta *m, bool paused)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(m->id));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "description", json_object_new_string(m->description));
	json_object_object_add(o, "created_at", json_object_new_double(m->created_at));
	json_object_object_add(o, "is_public", json_object_new_boolean(m->is_public));
	json_object_object_add(o, "allow_transfers", json_object_new_boolean(m->allow_transfers));
	json_object_object_add(o, "paused", json_object_new_boolean(paused));
	/* Only when set: the records and snapshots of ordinary tanks keep their shape. */
	if (m->fast_forward)
		json_object_object_add(o, "fast_forward", json_object_new_boolean(true));
	return o;
}

int tank_meta_from_json(json_object *o, struct tank_meta *m, bool *paused, struct json_err *e)
{
	const char *id, *name, *desc = "";
	memset(m, 0, sizeof *m);
	m->is_public = true;
	m->allow_transfers = true;
	if (jv_string(o, "tank_id", true, 1, TANK_ID_MAX, &id, e) < 0 ||
	    jv_text(o, "name", true, 1, TANK_NAME_MAX, &name, e) < 0 ||
	    jv_text(o, "description", false, 0, TANK_DESC_MAX, &desc, e) < 0 ||
	    jv_double(o, "created_at", true, 0, 1e11, &m->created_at, e) < 0 ||
	    jv_bool(o, "is_public", false, &m->is_public, e) < 0 ||
	    jv_bool(o, "allow_transfers", false, &m->allow_transfers, e) < 0 ||
	    jv_bool(o, "fast_forward", false, &m->fast_forward, e) < 0 ||
	    jv_bool(o, "paused", false, paused, e) < 0)
		return -EINVAL;
	if (!object_id_valid(id, TANK_ID_MAX))
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
	TAILQ_FOREACH (r, &sd->outbox, link)
		json_object_array_add(ob, outbox_state_json(r));
	struct inbox_rec *in;
	TAILQ_FOREACH (in, &sd->inbox, link) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "transfer_id", json_object_new_string(in->transfer_id));
		json_object_object_add(x, "fish_id", json_object_new_string(in->fish_id));
		json_object_object_add(x, "tank_id", json_object_new_string(in->dest_tank));
		json_object_object_add(x, "source_server",
				       json_object_new_string(in->source_server));
		json_object_object_add(x, "source_tank", json_object_new_string(in->source_tank));
		json_object_object_add(x, "received_at", json_object_new_double(in->received_at));
		if (in->plant) /* only then: a fish's record reads as it always did */
			json_object_object_add(x, "kind", json_object_new_string("plant"));
		json_object_array_add(ib, x);
	}
	/* As a tank's snapshot (store.c): every transfer record is numbered and applied
	 * under xfer_lock, so this state holds them all up to the journal's newest. The
	 * newest transfer record instead stayed 0 on a server that never sends fish away,
	 * and the journal was never trimmed while simd ran. */
	*ret_seq = journal_last_seq(sd->journal);
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "seq", json_object_new_uint64(*ret_seq));
	json_object_object_add(o, "outbox", ob);
	json_object_object_add(o, "inbox", ib);
	pthread_mutex_unlock(&sd->xfer_lock);
	return o;
}

int kind_from_json(json_object *x, bool *plant, struct json_err *e)
{
	const char *k = "fish";
	if (jv_string(x, "kind", false, 1, 16, &k, e) < 0)
		return -1;
	if (strcmp(k, "fish") != 0 && strcmp(k, "plant") != 0)
		return jv_fail(e, "field 'kind' must be \"fish\" or \"plant\"");
	*plant = strcmp(k, "plant") == 0;
	return 0;
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
		if (outbox_from_json(json_object_array_get_idx(ob, i), &r, e) < 0) {
			char m[sizeof e->msg];
			snprintf(m, sizeof m, "%s", e->msg);
			return jv_fail(e, "field 'outbox[%zu]': %s", i, m);
		}
		outbox_insert(sd, r);
	}
	for (size_t i = 0; i < json_object_array_length(ib); i++) {
		json_object *x = json_object_array_get_idx(ib, i);
		struct inbox_rec *in = xcalloc(1, sizeof *in);
		const char *tid, *fid, *tk, *ss, *st;
		if (jv_string(x, "transfer_id", true, 1, 36, &tid, e) < 0 ||
		    jv_string(x, "fish_id", true, 36, 36, &fid, e) < 0 ||
		    jv_string(x, "tank_id", true, 1, TANK_ID_MAX, &tk, e) < 0 ||
		    jv_string(x, "source_server", true, 1, SERVER_ID_MAX, &ss, e) < 0 ||
		    jv_string(x, "source_tank", true, 1, TANK_ID_MAX, &st, e) < 0 ||
		    jv_double(x, "received_at", true, 0, 1e11, &in->received_at, e) < 0 ||
		    kind_from_json(x, &in->plant, e) < 0) {
			char m[sizeof e->msg];
			snprintf(m, sizeof m, "%s", e->msg);
			free(in);
			return jv_fail(e, "field 'inbox[%zu]': %s", i, m);
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
	json_object_object_add(o, "message",
			       json_object_new_string(
				       "Entity transferred successfully from remote server"));
	json_object_object_add(o, "transfer_id", json_object_new_string(r->transfer_id));
	json_object *ent = json_object_new_object();
	json_object_object_add(ent, "old_id", json_object_new_string(r->fish_id));
	json_object_object_add(ent, "new_id", json_object_new_string(r->fish_id));
	json_object_object_add(ent, "type", json_object_new_string(r->plant ? "plant" : "fish"));
	json_object_object_add(ent, "source_server", json_object_new_string(r->source_server));
	json_object_object_add(ent, "source_tank", json_object_new_string(r->source_tank));
	json_object_object_add(ent, "destination_tank", json_object_new_string(r->dest_tank));
	json_object_object_add(o, "entity", ent);
	return o;
}
