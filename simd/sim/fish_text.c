/* A fish as JSON text, written straight from the struct. A snapshot of a 10,000-fish
 * tank through json-c (fish_to_json, print, free) built and freed some three million
 * objects and took seconds; the text here is the same, byte for byte, without the tree:
 * the same keys in the same order, doubles as json-c prints them ("%.17g", which
 * round-trips every finite double exactly, and ".0" appended when that looks like an
 * integer, so that -0.0 stays a double), strings escaped as json-c escapes them with
 * JSON_C_TO_STRING_NOSLASHESCAPE. tests/unit/test-sim-snapshot.c compares the two. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

#define LIT(b, s) sim_text_add((b), (s), sizeof(s) - 1)

static void str(struct sim_text *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	sim_text_need(b, 2 + 6 * strlen(s));
	char *o = b->p + b->len;
	*o++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '\b':
			*o++ = '\\', *o++ = 'b';
			break;
		case '\n':
			*o++ = '\\', *o++ = 'n';
			break;
		case '\r':
			*o++ = '\\', *o++ = 'r';
			break;
		case '\t':
			*o++ = '\\', *o++ = 't';
			break;
		case '\f':
			*o++ = '\\', *o++ = 'f';
			break;
		case '"':
			*o++ = '\\', *o++ = '"';
			break;
		case '\\':
			*o++ = '\\', *o++ = '\\';
			break;
		default:
			if (c < ' ') {
				memcpy(o, "\\u00", 4);
				o += 4;
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			} else {
				*o++ = (char)c;
			}
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* "key": the caller writes the value; first is true for an object's first member. */
static void key(struct sim_text *b, const char *k, bool first)
{
	if (!first)
		LIT(b, ",");
	str(b, k);
	LIT(b, ":");
}

static void dbl(struct sim_text *b, double v)
{
	if (isnan(v)) {
		LIT(b, "NaN");
		return;
	}
	if (isinf(v)) {
		if (v > 0)
			LIT(b, "Infinity");
		else
			LIT(b, "-Infinity");
		return;
	}
	sim_text_need(b, 40);
	char *o = b->p + b->len;
	int n = snprintf(o, 40, "%.17g", v);
	bool digits = (o[0] >= '0' && o[0] <= '9') ||
		      (n > 1 && o[0] == '-' && o[1] >= '0' && o[1] <= '9');
	if (digits && !memchr(o, '.', (size_t)n) && !memchr(o, 'e', (size_t)n)) {
		memcpy(o + n, ".0", 2);
		n += 2;
	}
	b->len += (size_t)n;
}

static void i64(struct sim_text *b, int64_t v)
{
	sim_text_need(b, 24);
	b->len += (size_t)snprintf(b->p + b->len, 24, "%" PRId64, v);
}

static void kd(struct sim_text *b, const char *k, double v)
{
	key(b, k, false);
	dbl(b, v);
}

static void ki(struct sim_text *b, const char *k, int64_t v)
{
	key(b, k, false);
	i64(b, v);
}

/* A string member, or null when s is empty (json_id_or_null, str_or_null). */
static void ks_or_null(struct sim_text *b, const char *k, const char *s)
{
	key(b, k, false);
	if (s[0])
		str(b, s);
	else
		LIT(b, "null");
}

static void named_doubles(struct sim_text *b, const char *k, const char *const *names,
			  const double *v, int n)
{
	key(b, k, false);
	LIT(b, "{");
	for (int i = 0; i < n; i++) {
		key(b, names[i], i == 0);
		dbl(b, v[i]);
	}
	LIT(b, "}");
}

static void behavior(struct sim_text *b, const char *k, const struct behavior *bh)
{
	const struct algo_def *d = &algo_defs[bh->algo];
	key(b, k, false);
	LIT(b, "{");
	key(b, "algorithm_id", true);
	str(b, d->name);
	key(b, "family", false);
	str(b, family_names[d->family]);
	key(b, "parameters", false);
	LIT(b, "{");
	for (int i = 0; i < d->nparams; i++) {
		key(b, d->params[i].name, i == 0);
		dbl(b, bh->p[i]);
	}
	LIT(b, "}}");
}

static void genome(struct sim_text *b, const struct genome *g)
{
	LIT(b, "{");
	for (int i = 0; i < TRAIT_COUNT; i++) {
		key(b, trait_defs[i].name, i == 0);
		dbl(b, g->t[i]);
	}
	ki(b, "template_id", g->template_id);
	ki(b, "pattern_type", g->pattern_type);
	named_doubles(b, "mate_preferences", mate_pref_names, g->mate_pref, PREF_COUNT);
	named_doubles(b, "epigenetic_modifiers", epi_names, g->epi, EPI_COUNT);
	named_doubles(b, "learned_behaviors", learn_names, g->learned, LEARN_COUNT);
	behavior(b, "behavior_algorithm", &g->behavior);
	behavior(b, "poker_algorithm", &g->poker_behavior);
	key(b, "poker_strategy_algorithm", false);
	LIT(b, "{");
	key(b, "strategy_id", true);
	str(b, poker_defs[g->poker.id].name);
	named_doubles(b, "parameters", poker_param_names, g->poker.p, POKER_PARAM_COUNT);
	LIT(b, "}}");
}

static void memory(struct sim_text *b, const char *k, bool first, const struct memory_bank *m)
{
	key(b, k, first);
	LIT(b, "[");
	for (int i = 0; i < m->n; i++) {
		const struct memory_entry *x = &m->e[i];
		if (i)
			LIT(b, ",");
		LIT(b, "{");
		key(b, "x", true);
		dbl(b, x->x);
		kd(b, "y", x->y);
		kd(b, "strength", x->strength);
		ki(b, "age", x->age);
		ki(b, "successes", x->successes);
		ki(b, "failures", x->failures);
		LIT(b, "}");
	}
	LIT(b, "]");
}

/* The fields of fish_birth_to_json, or their nulls when unknown (lineage.c). */
static void born_fields(struct sim_text *b, const struct fish_birth *born)
{
	key(b, "born_frame", true);
	if (born->known)
		i64(b, born->frame);
	else
		LIT(b, "null");
	key(b, "born_at", false);
	if (born->known && born->at > 0)
		dbl(b, born->at);
	else
		LIT(b, "null");
	ks_or_null(b, "born_tank_id", born->known ? born->tank_id : "");
	ks_or_null(b, "born_server_id", born->known ? born->server_id : "");
}

static void pregnancy(struct sim_text *b, const struct fish *f)
{
	key(b, "pregnancy", false);
	if (!f->pregnant) {
		LIT(b, "null");
		return;
	}
	LIT(b, "{");
	key(b, "timer", true);
	i64(b, f->preg.timer);
	ks_or_null(b, "mate_id", f->preg.mate_id);
	ki(b, "mate_generation", f->preg.mate_generation);
	key(b, "mate_genome", false);
	genome(b, &f->preg.mate_genome);
	if (f->preg.mate_rec.known) {
		key(b, "mate_lineage", false);
		LIT(b, "{");
		born_fields(b, &f->preg.mate_rec.born);
		ks_or_null(b, "mother_id", f->preg.mate_rec.mother_id);
		ks_or_null(b, "father_id", f->preg.mate_rec.father_id);
		ki(b, "generation", f->preg.mate_rec.generation);
		LIT(b, "}");
	}
	LIT(b, "}");
}

/* The behaviour's own state and the fish's life counters. */
static void state_and_stats(struct sim_text *b, const struct fish *f)
{
	key(b, "behavior_state", false);
	LIT(b, "{");
	key(b, "wander_angle", true);
	dbl(b, f->wander_angle);
	ki(b, "timer", f->algo_timer);
	kd(b, "home_x", f->home_x);
	kd(b, "home_y", f->home_y);
	LIT(b, "}");
	key(b, "stats", false);
	LIT(b, "{");
	key(b, "food_eaten", true);
	i64(b, f->food_eaten);
	ki(b, "poker_wins", f->poker_wins);
	ki(b, "poker_losses", f->poker_losses);
	ki(b, "offspring", f->offspring);
	LIT(b, "}");
}

static void birth(struct sim_text *b, const struct fish *f)
{
	if (!f->born.known)
		return;
	key(b, "lineage", false);
	LIT(b, "{");
	born_fields(b, &f->born);
	LIT(b, "}");
}

void fish_text_write(struct sim_text *b, const struct fish *f)
{
	LIT(b, "{");
	key(b, "kind", true);
	LIT(b, "\"fish\"");
	key(b, "id", false);
	str(b, f->id);
	ks_or_null(b, "mother_id", f->mother_id);
	ks_or_null(b, "father_id", f->father_id);
	ki(b, "generation", f->generation);
	ki(b, "generation_deepest", f->generation_deepest);
	kd(b, "x", f->x);
	kd(b, "y", f->y);
	kd(b, "vx", f->vx);
	kd(b, "vy", f->vy);
	kd(b, "heading_x", f->dir_x);
	kd(b, "heading_y", f->dir_y);
	kd(b, "base_speed", f->base_speed);
	kd(b, "speed", fish_speed_of(f));
	kd(b, "energy", f->energy);
	kd(b, "max_energy", fish_max_energy_of(f));
	ki(b, "age", f->age);
	ki(b, "max_age", f->max_age);
	key(b, "life_stage", false);
	str(b, life_stage_name(stage_of_age(f->age)));
	kd(b, "size", fish_size_of(f));
	kd(b, "fitness", f->fitness);
	ki(b, "reproduction_cooldown", f->repro_cooldown);
	ki(b, "poker_cooldown", f->poker_cooldown);
	ki(b, "crab_contact_timer", f->crab_contact);
	pregnancy(b, f);
	state_and_stats(b, f);
	key(b, "genome", false);
	genome(b, &f->g);
	key(b, "memory", false);
	LIT(b, "{");
	memory(b, "food", true, &f->mem.food);
	memory(b, "danger", false, &f->mem.danger);
	LIT(b, "}");
	birth(b, f);
	LIT(b, "}");
	sim_text_need(b, 1);
	b->p[b->len] = '\0';
}
