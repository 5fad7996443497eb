/* What GET /state shows of a tank: every fish, food, plant and crab, and the castle.
 * The copy holds only those fields (about 200 bytes an entity against 2.2 kB a fish),
 * so a reader takes it under the tank's lock in a few milliseconds even at 100,000
 * fish, and builds and prints the JSON (seconds of json-c at that size) without the
 * lock, off the event loop: the tick never waits for the encoding. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

enum entity_kind { EK_FISH, EK_FOOD, EK_PLANT, EK_CRAB };

struct entity_row {
	enum entity_kind kind;
	char id[UUID_STR_LEN]; /* fish and plants; food and crabs are numbered */
	uint64_t n;
	double x, y, vx, vy, size, energy;
	double max_energy, color_hue, pattern_intensity;
	int64_t generation, age, template_id, pattern_type, root_spot;
	const char *life_stage, *behavior, *poker_strategy, *type; /* static names */
	bool pregnant;
};

struct entities {
	uint64_t frame;
	double castle_y;
	size_t n;
	struct entity_row *rows;
};

static size_t entity_count(const struct tank *t)
{
	return t->n_fish + t->n_food + t->n_plants + t->n_crabs;
}

void entities_room_size(const struct tank *t, struct sim_room *r)
{
	sim_room_size(r, entity_count(t));
}

void entities_room_make(struct sim_room *r)
{
	sim_room_make(r, sizeof(struct entity_row));
}

struct entities *entities_copy(const struct tank *t)
{
	struct tank_room none = {0};
	return entities_copy_in(t, &none);
}

struct entities *entities_copy_in(const struct tank *t, struct tank_room *room)
{
	struct entities *e = sim_xcalloc(1, sizeof *e);
	size_t cap = entity_count(t), got;
	e->rows = sim_room_take(&room->rows, cap, sizeof *e->rows, &got);
	e->frame = t->frame;
	e->castle_y = t->p.height - CASTLE_RISE + CASTLE_W * 0.5;
	for (size_t i = 0; i < t->n_fish; i++) {
		const struct fish *f = &t->fish[i];
		struct entity_row *r = &e->rows[e->n++];
		*r = (struct entity_row){
			.kind = EK_FISH,
			.x = f->x,
			.y = f->y,
			.vx = f->vx,
			.vy = f->vy,
			.size = fish_size_of(f),
			.energy = f->energy,
			.max_energy = fish_max_energy_of(f),
			.generation = f->generation,
			.age = f->age,
			.life_stage = life_stage_name(stage_of_age(f->age)),
			.behavior = algo_defs[f->g.behavior.algo].name,
			.poker_strategy = poker_defs[f->g.poker.id].name,
			.color_hue = f->g.t[T_COLOR_HUE],
			.template_id = f->g.template_id,
			.pattern_type = f->g.pattern_type,
			.pattern_intensity = f->g.t[T_PATTERN_INTENSITY],
			.pregnant = f->pregnant,
		};
		memcpy(r->id, f->id, UUID_STR_LEN);
	}
	for (size_t i = 0; i < t->n_food; i++) {
		const struct food *fd = &t->food[i];
		e->rows[e->n++] = (struct entity_row){
			.kind = EK_FOOD,
			.n = fd->id,
			.x = fd->x,
			.y = fd->y,
			.vx = fd->vx,
			.vy = fd->vy,
			.size = fd->energy / fd->max_energy,
			.energy = fd->energy,
			.type = food_kind_names[fd->kind],
		};
	}
	for (size_t i = 0; i < t->n_plants; i++) {
		const struct plant *p = &t->plants[i];
		struct entity_row *r = &e->rows[e->n++];
		*r = (struct entity_row){
			.kind = EK_PLANT,
			.x = spot_x(t, p->spot),
			.y = spot_y(t),
			.size = plant_size(p),
			.energy = p->energy,
			.max_energy = plant_max_energy(p),
			.root_spot = p->spot,
			.generation = p->generation,
			.type = plant_fractal_names[p->g.fractal_type],
			.color_hue = p->g.t[PT_COLOR_HUE],
		};
		memcpy(r->id, p->id, UUID_STR_LEN);
	}
	for (size_t i = 0; i < t->n_crabs; i++) {
		const struct crab *c = &t->crabs[i];
		e->rows[e->n++] = (struct entity_row){
			.kind = EK_CRAB,
			.n = c->id,
			.x = c->x,
			.y = c->y,
			.vx = c->vx,
			.size = 1.0,
			.energy = c->energy,
		};
	}
	return e;
}

uint64_t entities_frame(const struct entities *e)
{
	return e->frame;
}

void entities_free(struct entities *e)
{
	if (!e)
		return;
	free(e->rows);
	free(e);
}

static json_object *entity(const char *kind, json_object *id, double x, double y, double vx,
			   double vy, double size, double energy)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "id", id);
	json_object_object_add(o, "x", json_object_new_double(x));
	json_object_object_add(o, "y", json_object_new_double(y));
	json_object_object_add(o, "vx", json_object_new_double(vx));
	json_object_object_add(o, "vy", json_object_new_double(vy));
	json_object_object_add(o, "size", json_object_new_double(size));
	json_object_object_add(o, "energy", json_object_new_double(energy));
	return o;
}

static json_object *numbered_id(const char *prefix, uint64_t n)
{
	char buf[48];
	snprintf(buf, sizeof buf, "%s-%llu", prefix, (unsigned long long)n);
	return json_object_new_string(buf);
}

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_double(json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double(v));
}

static void add_string(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static json_object *row_json(const struct entity_row *r)
{
	static const char *const kinds[] = {"fish", "food", "plant", "crab"};
	json_object *id = r->kind == EK_FISH || r->kind == EK_PLANT
				  ? json_object_new_string(r->id)
				  : numbered_id(kinds[r->kind], r->n);
	json_object *o = entity(kinds[r->kind], id, r->x, r->y, r->vx, r->vy, r->size, r->energy);
	switch (r->kind) {
	case EK_FISH:
		add_double(o, "max_energy", r->max_energy);
		add_int(o, "generation", r->generation);
		add_int(o, "age", r->age);
		add_string(o, "life_stage", r->life_stage);
		add_string(o, "behavior", r->behavior);
		add_string(o, "poker_strategy", r->poker_strategy);
		add_double(o, "color_hue", r->color_hue);
		add_int(o, "template_id", r->template_id);
		add_int(o, "pattern_type", r->pattern_type);
		add_double(o, "pattern_intensity", r->pattern_intensity);
		json_object_object_add(o, "pregnant", json_object_new_boolean(r->pregnant));
		break;
	case EK_FOOD:
		add_string(o, "food_type", r->type);
		break;
	case EK_PLANT:
		add_double(o, "max_energy", r->max_energy);
		add_int(o, "root_spot", r->root_spot);
		add_int(o, "generation", r->generation);
		add_string(o, "fractal_type", r->type);
		add_double(o, "color_hue", r->color_hue);
		break;
	case EK_CRAB:
		break;
	}
	return o;
}

json_object *entities_json(const struct entities *e)
{
	json_object *a = json_object_new_array_ext((int)(e->n + 1));
	for (size_t i = 0; i < e->n; i++)
		json_object_array_add(a, row_json(&e->rows[i]));
	json_object *castle = entity("castle", json_object_new_string("castle-1"),
				     CASTLE_X + CASTLE_W * 0.5, e->castle_y, 0, 0, 1.0, 0);
	add_double(castle, "width", CASTLE_W);
	add_double(castle, "height", CASTLE_W);
	json_object_array_add(a, castle);
	return a;
}
