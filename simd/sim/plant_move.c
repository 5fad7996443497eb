/* Plants entering and leaving a tank (issue 15): the hooks simd's exactly-once migration
 * builds on for plants, as migrate.c is for fish. A plant keeps its id, genome, energy,
 * age and generation; its serial and root spot belong to the tank it lives in. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

static bool spot_open(const struct tank *t, int s)
{
	return s >= 0 && s < t->p.root_spots && t->spot_plant[s] < 0 && !spot_blocked(t, s);
}

int plant_free_spots(const struct tank *t)
{
	int n = 0;
	for (int s = 0; s < t->p.root_spots; s++)
		n += spot_open(t, s);
	return n - (int)t->plants_in_transit;
}

size_t tank_live_plant_count(const struct tank *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n_plants; i++)
		n += !t->plants[i].dead;
	return n;
}

static ssize_t plant_index(const struct tank *t, const char *id)
{
	for (size_t i = 0; id && i < t->n_plants; i++)
		if (!t->plants[i].dead && strcmp(t->plants[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

bool tank_has_plant(const struct tank *t, const char *id)
{
	return plant_index(t, id) >= 0;
}

json_object *tank_plant_json(const struct tank *t, const char *id)
{
	ssize_t i = plant_index(t, id);
	if (i < 0)
		return NULL;
	json_object *o = plant_to_json(&t->plants[i]);
	json_object_object_add(o, "kind", json_object_new_string("plant"));
	return o;
}

const char *tank_pick_plant(struct tank *t)
{
	size_t n = tank_live_plant_count(t);
	if (n == 0)
		return NULL;
	size_t k = rng_below(&t->rng, (uint32_t)n);
	for (size_t i = 0; i < t->n_plants; i++)
		if (!t->plants[i].dead && k-- == 0)
			return t->plants[i].id;
	return NULL;
}

int tank_take_plant(struct tank *t, const char *id, json_object **ret)
{
	ssize_t i = plant_index(t, id);
	if (i < 0)
		return -ENOENT;
	json_object *o = plant_to_json(&t->plants[i]);
	json_object_object_add(o, "kind", json_object_new_string("plant"));
	t->flow[EOUT_MIGRATION] += t->plants[i].energy;
	t->plant_migrations_out++;
	memmove(&t->plants[i], &t->plants[i + 1], (t->n_plants - (size_t)i - 1) * sizeof *t->plants);
	t->n_plants--;
	plants_reindex(t);
	*ret = o;
	return 0;
}

bool entity_is_plant(json_object *o)
{
	json_object *k;
	return json_object_object_get_ex(o, "kind", &k) &&
	       json_object_is_type(k, json_type_string) &&
	       strcmp(json_object_get_string(k), "plant") == 0;
}

/* The plant in o, checked against the bounds of any tank (its spot is checked where it
 * lands). */
static int parse(json_object *o, struct plant *p, struct json_err *e)
{
	if (!json_object_is_type(o, json_type_object))
		return jv_fail(e, "a plant must be an object");
	if (!entity_is_plant(o))
		return jv_fail(e, "kind must be \"plant\"");
	if (plant_from_json(o, p, e) < 0)
		return -EINVAL;
	int spot = p->spot;
	p->spot = 0;
	int r = plant_check(p, 1, e);
	p->spot = spot;
	return r < 0 ? -EINVAL : 0;
}

int plant_entity_check(json_object *o, struct json_err *e)
{
	struct plant p;
	if (parse(o, &p, e) < 0)
		return -EINVAL;
	/* Only what our own serializer writes: anything else would live on in the journal. */
	json_object *known = plant_to_json(&p);
	json_object_object_add(known, "kind", json_object_new_string("plant"));
	int r = jv_no_unknown_keys(o, known, "entity_data", e);
	json_object_put(known);
	return r < 0 ? -EINVAL : 0;
}

/* The free spot nearest to want (the last one if this tank has fewer), or -1. */
static int nearest_spot(const struct tank *t, int want)
{
	if (want >= t->p.root_spots)
		want = t->p.root_spots - 1;
	for (int d = 0; d < t->p.root_spots; d++) {
		if (spot_open(t, want - d))
			return want - d;
		if (spot_open(t, want + d))
			return want + d;
	}
	return -1;
}

static void plant_land(struct tank *t, struct plant *p, int spot)
{
	sim_grow((void **)&t->plants, &t->cap_plants, t->n_plants + 1, sizeof *t->plants);
	p->spot = spot;
	p->serial = t->plant_serial++;
	p->dead = false;
	t->plants[t->n_plants++] = *p;
	t->spot_plant[spot] = (int)(t->n_plants - 1);
}

int tank_put_plant(struct tank *t, json_object *o, bool readmit, struct json_err *e)
{
	struct plant p;
	if (parse(o, &p, e) < 0)
		return -EINVAL;
	if (tank_has_plant(t, p.id))
		return -EEXIST;
	if (!readmit && plant_free_spots(t) <= 0)
		return -ENOSPC;
	int spot = nearest_spot(t, p.spot);
	if (spot < 0)
		return -ENOSPC;
	t->flow[EIN_MIGRATION] += p.energy;
	t->plant_migrations_in++;
	plant_land(t, &p, spot);
	return 0;
}

int tank_return_plant(struct tank *t, json_object *o, struct json_err *e)
{
	struct plant p;
	if (parse(o, &p, e) < 0)
		return -EINVAL;
	if (tank_has_plant(t, p.id))
		return -EEXIST;
	/* Its own spot if still free; the spot held for it otherwise. */
	int spot = nearest_spot(t, p.spot);
	if (spot < 0)
		return -ENOSPC;
	t->flow[EOUT_MIGRATION] -= p.energy;
	if (t->plant_migrations_out > 0)
		t->plant_migrations_out--;
	plant_land(t, &p, spot);
	return 0;
}

int tank_free_root_spots(const struct tank *t)
{
	return plant_free_spots(t);
}

void tank_set_plants_in_transit(struct tank *t, size_t n)
{
	t->plants_in_transit = n;
}

size_t tank_plants_in_transit(const struct tank *t)
{
	return t->plants_in_transit;
}
