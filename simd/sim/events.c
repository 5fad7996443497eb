/* A tank's events: births, deaths, spawns and migrations, in a bounded ring with
 * sequence numbers (part of the saved state), so that a client polling with ?since=SEQ
 * can rebuild every lineage and knows when it has missed some (docs/history.md). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

static const char *const type_names[SIM_EV_TYPE_COUNT] = {"birth",	   "spawn",
							  "death",	   "migration_in",
							  "migration_out", "migration_returned"};

const char *sim_event_type_name(int type)
{
	return type >= 0 && type < SIM_EV_TYPE_COUNT ? type_names[type] : NULL;
}

static struct sim_event_rec *slot_at(const struct event_ring *r, size_t k)
{
	return &r->e[(r->head + k) % EVENTS_SIZE];
}

static struct sim_event_rec *push(struct tank *t)
{
	struct event_ring *r = &t->events;
	if (!r->e)
		r->e = sim_xcalloc(EVENTS_SIZE, sizeof *r->e);
	if (r->next_seq == 0)
		r->next_seq = 1;
	struct sim_event_rec *ev;
	if (r->n < EVENTS_SIZE) {
		ev = slot_at(r, r->n);
		r->n++;
	} else {
		ev = slot_at(r, 0);
		r->head = (r->head + 1) % EVENTS_SIZE;
	}
	memset(ev, 0, sizeof *ev);
	ev->seq = r->next_seq++;
	ev->frame = t->frame;
	return ev;
}

void events_add(struct tank *t, int type, const struct fish *f, int cause)
{
	struct sim_event_rec *ev = push(t);
	ev->type = type;
	ev->cause = cause;
	ev->generation = f->generation;
	ev->algo = f->g.behavior.algo;
	ev->strategy = f->g.poker.id;
	ev->speed = f->g.t[T_SPEED];
	ev->size = f->g.t[T_SIZE];
	ev->vision = f->g.t[T_VISION];
	ev->max_energy = f->g.t[T_MAX_ENERGY];
	memcpy(ev->fish_id, f->id, UUID_STR_LEN);
	memcpy(ev->mother_id, f->mother_id, UUID_STR_LEN);
	memcpy(ev->father_id, f->father_id, UUID_STR_LEN);
	/* Every birth, spawn and death passes here: the lineage records follow. */
	if (type == SIM_EV_BIRTH || type == SIM_EV_SPAWN)
		lineage_born(t, f);
	else if (type == SIM_EV_DEATH)
		lineage_died(t, f, cause);
}

void events_free(struct event_ring *r)
{
	free(r->e);
	memset(r, 0, sizeof *r);
}

static json_object *event_json(const struct sim_event_rec *ev)
{
	json_object *o = json_object_new_object(), *g;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)ev->seq));
	json_object_object_add(o, "frame", json_object_new_int64((int64_t)ev->frame));
	json_object_object_add(o, "type", json_object_new_string(type_names[ev->type]));
	json_object_object_add(o, "fish_id", json_object_new_string(ev->fish_id));
	json_object_object_add(o, "mother_id", json_id_or_null(ev->mother_id));
	json_object_object_add(o, "father_id", json_id_or_null(ev->father_id));
	json_object_object_add(o, "generation", json_object_new_int(ev->generation));
	if (ev->type == SIM_EV_DEATH)
		json_object_object_add(o, "cause",
				       json_object_new_string(death_cause_name(ev->cause)));
	else if (ev->cause >= 0)
		json_object_object_add(o, "wall", json_object_new_string(wall_name(ev->cause)));
	json_object_object_add(o, "algorithm", json_object_new_string(algo_defs[ev->algo].name));
	json_object_object_add(o, "poker_strategy",
			       json_object_new_string(poker_defs[ev->strategy].name));
	g = json_object_new_object();
	json_object_object_add(g, "speed_modifier", json_object_new_double(ev->speed));
	json_object_object_add(g, "size_modifier", json_object_new_double(ev->size));
	json_object_object_add(g, "vision_range", json_object_new_double(ev->vision));
	json_object_object_add(g, "max_energy", json_object_new_double(ev->max_energy));
	json_object_object_add(o, "genome", g);
	return o;
}

static json_object *events_array(const struct event_ring *r, uint64_t since, size_t limit)
{
	json_object *a = json_object_new_array();
	size_t first = 0;
	if (r->n > 0 && since >= slot_at(r, 0)->seq)
		first = since - slot_at(r, 0)->seq + 1 > r->n
				? r->n
				: (size_t)(since - slot_at(r, 0)->seq + 1);
	for (size_t k = first; k < r->n && limit > 0; k++, limit--)
		json_object_array_add(a, event_json(slot_at(r, k)));
	return a;
}

static json_object *ring_json(const struct event_ring *r, uint64_t since, size_t limit)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "events", events_array(r, since, limit));
	uint64_t next = r->next_seq ? r->next_seq : 1;
	json_object_object_add(o, "next_seq", json_object_new_int64((int64_t)next));
	json_object_object_add(o, "oldest_seq",
			       json_object_new_int64((int64_t)(r->n ? slot_at(r, 0)->seq : next)));
	/* Events after since that the ring no longer holds. */
	json_object_object_add(o, "missed",
			       json_object_new_boolean(r->n && since + 1 < slot_at(r, 0)->seq));
	return o;
}

json_object *tank_events_json(const struct tank *t, uint64_t since, size_t limit)
{
	return ring_json(&t->events, since, limit);
}

/* GET /events' copy: the ring, in order from its oldest event. Made (every page
 * written) without the tank's lock, filled under it, read after: the answer, up to
 * 4,096 events of json-c objects, took 2.7-9 ms under the lock (42 ms the first time),
 * the copy 0.04 ms. */
struct events_copy {
	struct event_ring ring;
};

struct events_copy *events_copy_new(void)
{
	struct events_copy *c = sim_xcalloc(1, sizeof *c);
	struct sim_room room = {.cap = EVENTS_SIZE}; /* every page written here */
	sim_room_make(&room, sizeof *c->ring.e);
	c->ring.e = room.p;
	return c;
}

void tank_events_take(const struct tank *t, struct events_copy *c)
{
	const struct event_ring *r = &t->events;
	size_t first = r->n ? EVENTS_SIZE - r->head : 0;
	if (first > r->n)
		first = r->n;
	if (first)
		memcpy(c->ring.e, r->e + r->head, first * sizeof *r->e);
	if (r->n > first)
		memcpy(c->ring.e + first, r->e, (r->n - first) * sizeof *r->e);
	c->ring.n = r->n;
	c->ring.head = 0;
	c->ring.next_seq = r->next_seq;
}

json_object *events_copy_json(struct events_copy *c, uint64_t since, size_t limit)
{
	json_object *o = ring_json(&c->ring, since, limit);
	events_free(&c->ring);
	free(c);
	return o;
}

json_object *events_to_json(const struct tank *t)
{
	const struct event_ring *r = &t->events;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "next_seq", json_object_new_int64((int64_t)r->next_seq));
	json_object_object_add(o, "items", events_array(r, 0, EVENTS_SIZE));
	return o;
}

static int find_name(const char *s, const char *(*name)(size_t), size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, name(i)) == 0)
			return (int)i;
	return -1;
}

static const char *type_name_i(size_t i)
{
	return type_names[i];
}
static const char *cause_name_i(size_t i)
{
	return death_cause_name((enum death_cause)i);
}

/* Optional: tanks saved before events start with none. */
int events_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *x, *items;
	int64_t next;
	int r;
	if (!json_object_object_get_ex(o, "events", &x))
		return 0;
	if ((r = jv_object(o, "events", true, &x, e)) < 0 ||
	    (r = jv_int64(x, "next_seq", true, 0, INT64_MAX / 2, &next, e)) < 0 ||
	    (r = jv_array(x, "items", true, EVENTS_SIZE, &items, e)) < 0)
		return json_err_in(e, "events", r);
	size_t n = json_object_array_length(items);
	t->events.next_seq = (uint64_t)next;
	if (n == 0)
		return 0;
	t->events.e = sim_xcalloc(EVENTS_SIZE, sizeof *t->events.e);
	uint64_t prev = 0;
	for (size_t k = 0; k < n; k++) {
		json_object *it = json_object_array_get_idx(items, k), *g;
		struct sim_event_rec *ev = &t->events.e[k];
		const char *type, *alg, *st, *cause = NULL;
		int64_t seq, frame;
		if (!json_object_is_type(it, json_type_object))
			return jv_fail(e, "events: items must be objects");
		if ((r = jv_int64(it, "seq", true, 1, next - 1, &seq, e)) < 0 ||
		    (r = jv_int64(it, "frame", true, 0, (int64_t)t->frame, &frame, e)) < 0 ||
		    (r = jv_string(it, "type", true, 1, 32, &type, e)) < 0 ||
		    (r = json_get_id(it, "fish_id", true, ev->fish_id, e)) < 0 ||
		    (r = json_get_id(it, "mother_id", false, ev->mother_id, e)) < 0 ||
		    (r = json_get_id(it, "father_id", false, ev->father_id, e)) < 0 ||
		    (r = jv_int(it, "generation", true, 0, GENERATION_MAX, &ev->generation, e)) <
			    0 ||
		    (r = jv_string(it, "algorithm", true, 1, 64, &alg, e)) < 0 ||
		    (r = jv_string(it, "poker_strategy", true, 1, 64, &st, e)) < 0 ||
		    (r = jv_object(it, "genome", true, &g, e)) < 0 ||
		    (r = jv_double(g, "speed_modifier", true, 0, 10, &ev->speed, e)) < 0 ||
		    (r = jv_double(g, "size_modifier", true, 0, 10, &ev->size, e)) < 0 ||
		    (r = jv_double(g, "vision_range", true, 0, 10, &ev->vision, e)) < 0 ||
		    (r = jv_double(g, "max_energy", true, 0, 10, &ev->max_energy, e)) < 0)
			return json_err_in(e, "events", r);
		if ((uint64_t)seq <= prev)
			return jv_fail(e, "events: seq must rise");
		prev = (uint64_t)seq;
		ev->seq = (uint64_t)seq;
		ev->frame = (uint64_t)frame;
		ev->type = find_name(type, type_name_i, SIM_EV_TYPE_COUNT);
		ev->algo = algo_find(alg);
		ev->strategy = poker_find(st);
		if (ev->type < 0 || ev->algo < 0 || ev->strategy < 0)
			return jv_fail(e, "events: unknown type, algorithm or strategy");
		ev->cause = -1;
		if (ev->type == SIM_EV_DEATH) {
			if ((r = jv_string(it, "cause", true, 1, 32, &cause, e)) < 0)
				return json_err_in(e, "events", r);
			ev->cause = find_name(cause, cause_name_i, DEATH_CAUSE_COUNT);
			if (ev->cause < 0)
				return jv_fail(e, "events: unknown cause");
		} else if (json_object_object_get_ex(it, "wall", NULL)) {
			const char *w;
			if ((r = jv_string(it, "wall", true, 1, 16, &w, e)) < 0)
				return json_err_in(e, "events", r);
			ev->cause = strcmp(w, "left") == 0    ? WALL_LEFT
				    : strcmp(w, "right") == 0 ? WALL_RIGHT
							      : WALL_NONE;
		}
	}
	t->events.n = n;
	t->events.head = 0;
	return 0;
}
