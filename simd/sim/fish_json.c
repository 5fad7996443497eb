/* The fish as JSON: every field, so that a fish that migrates or is snapshotted comes back
 * exactly as it left (the original lost algorithms, visual traits, memory, pregnancy and
 * identity, and compounded speed; spec §1.10). Doubles print with 17 significant digits
 * (json-c's default), which round-trips every finite double exactly.
 *
 * Decoding validates field by field: types, ranges, names and array lengths; unknown keys
 * are ignored; derived fields (max_energy, life_stage, size, speed) are written for
 * readers and recomputed, never trusted, on input, but refused when they are not what
 * they claim to be (a number in range, a stage's name). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simd/sim/internal.h"

int json_err_in(struct json_err *e, const char *where, int r)
{
	/* The message may be cut at sizeof msg; it still names the innermost field first. */
	char tmp[sizeof e->msg + 64];
	snprintf(tmp, sizeof tmp, "%s: %s", where, e->msg);
	snprintf(e->msg, sizeof e->msg, "%.*s", (int)sizeof e->msg - 1, tmp);
	return r;
}

json_object *json_id_or_null(const char *id)
{
	return id[0] ? json_object_new_string(id) : NULL;
}

int json_get_id(json_object *o, const char *key, bool required, char out[UUID_STR_LEN],
		struct json_err *e)
{
	json_object *v;
	out[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v) || !v) {
		if (required)
			return jv_fail(e, "%s is required", key);
		return 0;
	}
	const char *s;
	int r = jv_string(o, key, true, UUID_STR_LEN - 1, UUID_STR_LEN - 1, &s, e);
	if (r < 0)
		return r;
	if (!ids_valid(s))
		return jv_fail(e, "%s must be a UUID", key);
	memcpy(out, s, UUID_STR_LEN);
	return 1;
}

static json_object *behavior_to_json(const struct behavior *b)
{
	const struct algo_def *d = &algo_defs[b->algo];
	json_object *o = json_object_new_object(), *p = json_object_new_object();
	json_object_object_add(o, "algorithm_id", json_object_new_string(d->name));
	json_object_object_add(o, "family", json_object_new_string(family_names[d->family]));
	for (int i = 0; i < d->nparams; i++)
		json_object_object_add(p, d->params[i].name, json_object_new_double(b->p[i]));
	json_object_object_add(o, "parameters", p);
	return o;
}

static int behavior_from_json(json_object *o, const char *key, struct behavior *b,
			      struct json_err *e)
{
	json_object *bo, *po;
	const char *name;
	int r;
	if ((r = jv_object(o, key, true, &bo, e)) < 0 ||
	    (r = jv_string(bo, "algorithm_id", true, 1, 64, &name, e)) < 0)
		return json_err_in(e, key, r);
	if ((b->algo = algo_find(name)) < 0)
		return json_err_in(e, key, jv_fail(e, "unknown algorithm_id \"%s\"", name));
	const struct algo_def *d = &algo_defs[b->algo];
	if ((r = jv_object(bo, "parameters", true, &po, e)) < 0)
		return json_err_in(e, key, r);
	memset(b->p, 0, sizeof b->p);
	for (int i = 0; i < d->nparams; i++)
		if ((r = jv_double(po, d->params[i].name, true, d->params[i].lo, d->params[i].hi,
				   &b->p[i], e)) < 0)
			return json_err_in(e, key, r);
	return 0;
}

static json_object *poker_to_json(const struct poker_strategy *s)
{
	json_object *o = json_object_new_object(), *p = json_object_new_object();
	json_object_object_add(o, "strategy_id", json_object_new_string(poker_defs[s->id].name));
	for (int i = 0; i < POKER_PARAM_COUNT; i++)
		json_object_object_add(p, poker_param_names[i], json_object_new_double(s->p[i]));
	json_object_object_add(o, "parameters", p);
	return o;
}

static int poker_from_json(json_object *o, struct poker_strategy *s, struct json_err *e)
{
	static const char key[] = "poker_strategy_algorithm";
	json_object *so, *po;
	const char *name;
	int r;
	if ((r = jv_object(o, key, true, &so, e)) < 0 ||
	    (r = jv_string(so, "strategy_id", true, 1, 64, &name, e)) < 0)
		return json_err_in(e, key, r);
	if ((s->id = poker_find(name)) < 0)
		return json_err_in(e, key, jv_fail(e, "unknown strategy_id \"%s\"", name));
	if ((r = jv_object(so, "parameters", true, &po, e)) < 0)
		return json_err_in(e, key, r);
	for (int i = 0; i < POKER_PARAM_COUNT; i++)
		if ((r = jv_double(po, poker_param_names[i], true, poker_param_lo[i],
				   poker_param_hi[i], &s->p[i], e)) < 0)
			return json_err_in(e, key, r);
	return 0;
}

static json_object *named_doubles(const char *const *names, const double *v, int n)
{
	json_object *o = json_object_new_object();
	for (int i = 0; i < n; i++)
		json_object_object_add(o, names[i], json_object_new_double(v[i]));
	return o;
}

static int named_doubles_from(json_object *o, const char *key, const char *const *names, double *v,
			      int n, double lo, const double *los, double hi, struct json_err *e)
{
	json_object *so;
	int r;
	if ((r = jv_object(o, key, true, &so, e)) < 0)
		return r;
	for (int i = 0; i < n; i++)
		if ((r = jv_double(so, names[i], true, los ? los[i] : lo, hi, &v[i], e)) < 0)
			return json_err_in(e, key, r);
	return 0;
}

json_object *genome_to_json(const struct genome *g)
{
	json_object *o = json_object_new_object();
	for (int i = 0; i < TRAIT_COUNT; i++)
		json_object_object_add(o, trait_defs[i].name, json_object_new_double(g->t[i]));
	json_object_object_add(o, "template_id", json_object_new_int64((int64_t)(g->template_id)));
	json_object_object_add(o, "pattern_type", json_object_new_int64((int64_t)(g->pattern_type)));
	json_object_object_add(o, "mate_preferences",
			       named_doubles(mate_pref_names, g->mate_pref, PREF_COUNT));
	json_object_object_add(o, "epigenetic_modifiers",
			       named_doubles(epi_names, g->epi, EPI_COUNT));
	json_object_object_add(o, "learned_behaviors",
			       named_doubles(learn_names, g->learned, LEARN_COUNT));
	json_object_object_add(o, "behavior_algorithm", behavior_to_json(&g->behavior));
	json_object_object_add(o, "poker_algorithm", behavior_to_json(&g->poker_behavior));
	json_object_object_add(o, "poker_strategy_algorithm", poker_to_json(&g->poker));
	return o;
}

int genome_from_json(json_object *o, struct genome *g, struct json_err *e)
{
	static const double learn_lo[LEARN_COUNT] = {0, 0, -1};
	int r;
	memset(g, 0, sizeof *g);
	for (int i = 0; i < TRAIT_COUNT; i++)
		if ((r = jv_double(o, trait_defs[i].name, true, trait_defs[i].lo, trait_defs[i].hi,
				   &g->t[i], e)) < 0)
			return r;
	if ((r = jv_int(o, "template_id", true, 0, TEMPLATE_MAX, &g->template_id, e)) < 0 ||
	    (r = jv_int(o, "pattern_type", true, 0, PATTERN_MAX, &g->pattern_type, e)) < 0 ||
	    (r = named_doubles_from(o, "mate_preferences", mate_pref_names, g->mate_pref,
				    PREF_COUNT, 0, NULL, 1, e)) < 0 ||
	    (r = named_doubles_from(o, "epigenetic_modifiers", epi_names, g->epi, EPI_COUNT, 0,
				    NULL, 1, e)) < 0 ||
	    (r = named_doubles_from(o, "learned_behaviors", learn_names, g->learned, LEARN_COUNT, 0,
				    learn_lo, 1, e)) < 0 ||
	    (r = behavior_from_json(o, "behavior_algorithm", &g->behavior, e)) < 0 ||
	    (r = behavior_from_json(o, "poker_algorithm", &g->poker_behavior, e)) < 0 ||
	    (r = poker_from_json(o, &g->poker, e)) < 0)
		return r;
	return genome_check(g, e);
}

static json_object *memory_to_json(const struct memory_bank *m)
{
	json_object *a = json_object_new_array_ext(m->n);
	for (int i = 0; i < m->n; i++) {
		const struct memory_entry *x = &m->e[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "x", json_object_new_double(x->x));
		json_object_object_add(o, "y", json_object_new_double(x->y));
		json_object_object_add(o, "strength", json_object_new_double(x->strength));
		json_object_object_add(o, "age", json_object_new_int64((int64_t)(x->age)));
		json_object_object_add(o, "successes",
				       json_object_new_int64((int64_t)(x->successes)));
		json_object_object_add(o, "failures", json_object_new_int64((int64_t)(x->failures)));
		json_object_array_add(a, o);
	}
	return a;
}

static int memory_from_json(json_object *o, const char *key, struct memory_bank *m,
			    struct json_err *e)
{
	json_object *a;
	int r;
	if ((r = jv_array(o, key, true, MEMORY_SLOTS, &a, e)) < 0)
		return json_err_in(e, "memory", r);
	m->n = (int)json_object_array_length(a);
	for (int i = 0; i < m->n; i++) {
		json_object *x = json_object_array_get_idx(a, (size_t)i);
		struct memory_entry *me = &m->e[i];
		if (!json_object_is_type(x, json_type_object))
			return json_err_in(e, key, jv_fail(e, "entries must be objects"));
		if ((r = jv_double(x, "x", true, -SIM_MAX_WORLD, SIM_MAX_WORLD, &me->x, e)) < 0 ||
		    (r = jv_double(x, "y", true, -SIM_MAX_WORLD, SIM_MAX_WORLD, &me->y, e)) < 0 ||
		    (r = jv_double(x, "strength", true, 0, 1, &me->strength, e)) < 0 ||
		    (r = jv_int(x, "age", true, 0, MEMORY_MAX_AGE, &me->age, e)) < 0 ||
		    (r = jv_int(x, "successes", true, 0, INT32_MAX, &me->successes, e)) < 0 ||
		    (r = jv_int(x, "failures", true, 0, INT32_MAX, &me->failures, e)) < 0)
			return json_err_in(e, key, r);
	}
	return 0;
}

json_object *fish_to_json(const struct fish *f)
{
	json_object *o = json_object_new_object(), *x;
	json_object_object_add(o, "kind", json_object_new_string("fish"));
	json_object_object_add(o, "id", json_object_new_string(f->id));
	json_object_object_add(o, "mother_id", json_id_or_null(f->mother_id));
	json_object_object_add(o, "father_id", json_id_or_null(f->father_id));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)(f->generation)));
	json_object_object_add(o, "generation_deepest",
			       json_object_new_int64((int64_t)(f->generation_deepest)));
	json_object_object_add(o, "x", json_object_new_double(f->x));
	json_object_object_add(o, "y", json_object_new_double(f->y));
	json_object_object_add(o, "vx", json_object_new_double(f->vx));
	json_object_object_add(o, "vy", json_object_new_double(f->vy));
	json_object_object_add(o, "heading_x", json_object_new_double(f->dir_x));
	json_object_object_add(o, "heading_y", json_object_new_double(f->dir_y));
	json_object_object_add(o, "base_speed", json_object_new_double(f->base_speed));
	json_object_object_add(o, "speed", json_object_new_double(fish_speed_of(f)));
	json_object_object_add(o, "energy", json_object_new_double(f->energy));
	json_object_object_add(o, "max_energy", json_object_new_double(fish_max_energy_of(f)));
	json_object_object_add(o, "age", json_object_new_int64((int64_t)(f->age)));
	json_object_object_add(o, "max_age", json_object_new_int64((int64_t)(f->max_age)));
	json_object_object_add(o, "life_stage",
			       json_object_new_string(life_stage_name(stage_of_age(f->age))));
	json_object_object_add(o, "size", json_object_new_double(fish_size_of(f)));
	json_object_object_add(o, "fitness", json_object_new_double(f->fitness));
	json_object_object_add(o, "reproduction_cooldown",
			       json_object_new_int64((int64_t)(f->repro_cooldown)));
	json_object_object_add(o, "poker_cooldown",
			       json_object_new_int64((int64_t)(f->poker_cooldown)));
	json_object_object_add(o, "crab_contact_timer",
			       json_object_new_int64((int64_t)(f->crab_contact)));
	if (f->pregnant) {
		x = json_object_new_object();
		json_object_object_add(x, "timer", json_object_new_int64((int64_t)(f->preg.timer)));
		json_object_object_add(x, "mate_id", json_id_or_null(f->preg.mate_id));
		json_object_object_add(x, "mate_generation",
				       json_object_new_int64((int64_t)(f->preg.mate_generation)));
		json_object_object_add(x, "mate_genome", genome_to_json(&f->preg.mate_genome));
		/* Once she has left a tank: optional, ignored by older receivers. */
		if (f->preg.mate_rec.known)
			json_object_object_add(x, "mate_lineage",
					       lineage_mate_to_json(&f->preg.mate_rec));
		json_object_object_add(o, "pregnancy", x);
	} else {
		json_object_object_add(o, "pregnancy", NULL);
	}
	x = json_object_new_object();
	json_object_object_add(x, "wander_angle", json_object_new_double(f->wander_angle));
	json_object_object_add(x, "timer", json_object_new_int64((int64_t)(f->algo_timer)));
	json_object_object_add(x, "home_x", json_object_new_double(f->home_x));
	json_object_object_add(x, "home_y", json_object_new_double(f->home_y));
	json_object_object_add(o, "behavior_state", x);
	x = json_object_new_object();
	json_object_object_add(x, "food_eaten", json_object_new_int64((int64_t)(f->food_eaten)));
	json_object_object_add(x, "poker_wins", json_object_new_int64((int64_t)(f->poker_wins)));
	json_object_object_add(x, "poker_losses", json_object_new_int64((int64_t)(f->poker_losses)));
	json_object_object_add(x, "offspring", json_object_new_int64((int64_t)(f->offspring)));
	json_object_object_add(o, "stats", x);
	json_object_object_add(o, "genome", genome_to_json(&f->g));
	x = json_object_new_object();
	json_object_object_add(x, "food", memory_to_json(&f->mem.food));
	json_object_object_add(x, "danger", memory_to_json(&f->mem.danger));
	json_object_object_add(o, "memory", x);
	/* Only once it has left a tank (lineage_stamp): optional, ignored by older receivers. */
	if (f->born.known)
		json_object_object_add(o, "lineage", fish_birth_to_json(&f->born));
	return o;
}

/* What a reader is told of the fish, recomputed on input: optional, each of its type and
 * within what any fish can have (a speed or size far above, a max_energy of the traits'
 * largest), so that a peer's 100 kB string or 1e308 is refused, not silently taken. */
static int derived_fields(json_object *o, struct json_err *e)
{
	double v;
	const char *stage;
	int r;
	if ((r = jv_double(o, "speed", false, 0, 1000, &v, e)) < 0 ||
	    (r = jv_double(o, "size", false, 0, 1000, &v, e)) < 0 ||
	    (r = jv_double(o, "max_energy", false, 0, 1e6, &v, e)) < 0 ||
	    (r = jv_string(o, "life_stage", false, 1, 16, &stage, e)) < 0)
		return r;
	if (r == 0)
		return 0;
	for (enum life_stage s = STAGE_BABY; s <= STAGE_ELDER; s++)
		if (strcmp(stage, life_stage_name(s)) == 0)
			return 0;
	return jv_fail(e, "field 'life_stage': not a life stage (baby, juvenile, adult, elder)");
}

static int fish_fields(json_object *o, struct fish *f, struct json_err *e)
{
	const double W = SIM_MAX_WORLD;
	const char *kind;
	json_object *x;
	int r;
	if ((r = jv_string(o, "kind", true, 1, 16, &kind, e)) < 0)
		return r;
	if (strcmp(kind, "fish") != 0) /* what is not a plant is read as a fish */
		return jv_fail(e,
			       "kind must be \"fish\" or \"plant\" (case matters), not \"%.16s\"",
			       kind);
	if ((r = json_get_id(o, "id", true, f->id, e)) < 0 ||
	    (r = json_get_id(o, "mother_id", false, f->mother_id, e)) < 0 ||
	    (r = json_get_id(o, "father_id", false, f->father_id, e)) < 0 ||
	    (r = jv_int(o, "generation", true, 0, GENERATION_MAX, &f->generation, e)) < 0 ||
	    (r = jv_double(o, "x", true, -W, W, &f->x, e)) < 0 ||
	    (r = jv_double(o, "y", true, -W, W, &f->y, e)) < 0 ||
	    (r = jv_double(o, "vx", true, -100, 100, &f->vx, e)) < 0 ||
	    (r = jv_double(o, "vy", true, -100, 100, &f->vy, e)) < 0 ||
	    (r = jv_double(o, "heading_x", true, -1.0001, 1.0001, &f->dir_x, e)) < 0 ||
	    (r = jv_double(o, "heading_y", true, -1.0001, 1.0001, &f->dir_y, e)) < 0 ||
	    (r = jv_double(o, "base_speed", true, 0.001, 20, &f->base_speed, e)) < 0 ||
	    (r = jv_double(o, "energy", true, 0, 1000, &f->energy, e)) < 0 ||
	    (r = jv_int(o, "age", true, 0, 1000000, &f->age, e)) < 0 ||
	    (r = jv_int(o, "max_age", true, 1, (int)(MAX_AGE_PER_TRAIT * 1.5), &f->max_age, e)) <
		    0 ||
	    (r = jv_double(o, "fitness", true, 0, 1e12, &f->fitness, e)) < 0 ||
	    (r = jv_int(o, "reproduction_cooldown", true, 0, POKER_MATING_COOLDOWN,
			&f->repro_cooldown, e)) < 0 ||
	    (r = jv_int(o, "poker_cooldown", true, 0, POKER_COOLDOWN, &f->poker_cooldown, e)) < 0 ||
	    (r = jv_int(o, "crab_contact_timer", true, 0, CRAB_CONTACT_FRAMES, &f->crab_contact,
			e)) < 0)
		return r;
	if ((r = derived_fields(o, e)) < 0)
		return r;
	/* Fish saved before the two counts were told apart counted max(parents) + 1. */
	f->generation_deepest = f->generation;
	if ((r = jv_int(o, "generation_deepest", false, 0, GENERATION_MAX, &f->generation_deepest,
			e)) < 0)
		return r;
	/* A bred fish's deepest count (max(parents) + 1) is never below its generation
	 * (mother's + 1), but one below it is kept as it is, not refused: fish that came
	 * through the legacy door before 7 December had their generation set and their
	 * deepest count left at 0, and so do their descendants' lines; refusing them would
	 * stop a server that holds them from starting, and changing them would change a
	 * restored tank. */

	if (!json_object_object_get_ex(o, "pregnancy", &x))
		return jv_fail(e, "pregnancy is required (null when not pregnant)");
	if (x) {
		if (!json_object_is_type(x, json_type_object))
			return jv_fail(e, "pregnancy must be an object or null");
		json_object *mg;
		f->pregnant = true;
		if ((r = jv_int(x, "timer", true, 1, PREGNANCY_FRAMES, &f->preg.timer, e)) < 0 ||
		    (r = json_get_id(x, "mate_id", false, f->preg.mate_id, e)) < 0 ||
		    (r = jv_int(x, "mate_generation", true, 0, GENERATION_MAX,
				&f->preg.mate_generation, e)) < 0 ||
		    (r = jv_object(x, "mate_genome", true, &mg, e)) < 0)
			return json_err_in(e, "pregnancy", r);
		if ((r = genome_from_json(mg, &f->preg.mate_genome, e)) < 0)
			return json_err_in(e, "pregnancy.mate_genome", r);
		if (json_object_object_get_ex(x, "mate_lineage", &mg) && mg &&
		    (r = lineage_mate_from_json(mg, &f->preg.mate_rec, e)) < 0)
			return json_err_in(e, "pregnancy.mate_lineage", r);
	}
	if ((r = jv_object(o, "behavior_state", true, &x, e)) < 0 ||
	    (r = jv_double(x, "wander_angle", true, -4 * M_PI, 4 * M_PI, &f->wander_angle, e)) < 0 ||
	    (r = jv_int(x, "timer", true, 0, 1000, &f->algo_timer, e)) < 0 ||
	    (r = jv_double(x, "home_x", true, -W, W, &f->home_x, e)) < 0 ||
	    (r = jv_double(x, "home_y", true, -W, W, &f->home_y, e)) < 0)
		return json_err_in(e, "behavior_state", r);
	if ((r = jv_object(o, "stats", true, &x, e)) < 0 ||
	    (r = jv_int(x, "food_eaten", true, 0, INT32_MAX, &f->food_eaten, e)) < 0 ||
	    (r = jv_int(x, "poker_wins", true, 0, INT32_MAX, &f->poker_wins, e)) < 0 ||
	    (r = jv_int(x, "poker_losses", true, 0, INT32_MAX, &f->poker_losses, e)) < 0 ||
	    (r = jv_int(x, "offspring", true, 0, INT32_MAX, &f->offspring, e)) < 0)
		return json_err_in(e, "stats", r);
	if ((r = jv_object(o, "genome", true, &x, e)) < 0)
		return r;
	if ((r = genome_from_json(x, &f->g, e)) < 0)
		return json_err_in(e, "genome", r);
	if ((r = jv_object(o, "memory", true, &x, e)) < 0 ||
	    (r = memory_from_json(x, "food", &f->mem.food, e)) < 0 ||
	    (r = memory_from_json(x, "danger", &f->mem.danger, e)) < 0)
		return r;
	if (json_object_object_get_ex(o, "lineage", &x) && x &&
	    (r = fish_birth_from_json(x, &f->born, e)) < 0)
		return json_err_in(e, "lineage", r);
	return fish_check(f, e);
}

int fish_from_json(json_object *o, struct fish **ret, struct json_err *e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return jv_fail(e, "a fish must be a JSON object");
	struct fish *f = fish_alloc();
	int r = fish_fields(o, f, e);
	if (r < 0) {
		fish_free(f);
		return r < 0 ? r : -EINVAL;
	}
	*ret = f;
	return 0;
}
