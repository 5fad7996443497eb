/* A tank's history: every history_interval frames one row of numbers into a bounded ring
 * (part of the saved state), so that a researcher can follow population, traits,
 * strategies, generations and the energy ledger over time (docs/history.md). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

/* Column layout. */
enum {
	C_FRAME,
	C_POPULATION,
	C_MARKS,			    /* HISTORY_MARKS changes since the last sample */
	C_TRAITS = C_MARKS + HISTORY_MARKS, /* mean and std of every trait */
	C_GEN = C_TRAITS + 2 * TRAIT_COUNT, /* generation mean, max; offspring born, spawned */
	C_TOTAL_ENERGY = C_GEN + 4,
	C_PLANTS,
	C_FOOD,
	C_ALGOS, /* then the algorithm shares, then the poker strategy shares */
};
static const char *const mark_names[HISTORY_MARKS] = {
	"births",	  "spawns",	   "deaths_starvation", "deaths_predation",
	"deaths_old_age", "migrations_in", "migrations_out"};
#define N_COUNT_MARKS 7 /* then the ENERGY_FLOW_COUNT flows */

static size_t n_cols;
static char **col_names;

static void columns_init(void)
{
	if (col_names)
		return;
	size_t n = C_ALGOS + (size_t)algo_count + POKER_STRATEGY_COUNT;
	char **c = calloc(n, sizeof *c);
	char buf[128];
	if (!c)
		abort();
#define NAME(i, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), c[i] = strdup(buf))
	NAME(C_FRAME, "frame");
	NAME(C_POPULATION, "population");
	for (int i = 0; i < N_COUNT_MARKS; i++)
		NAME(C_MARKS + i, "%s", mark_names[i]);
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		NAME(C_MARKS + N_COUNT_MARKS + i, "flow_%s", energy_flow_name(i));
	for (int i = 0; i < TRAIT_COUNT; i++) {
		NAME(C_TRAITS + 2 * i, "%s_mean", trait_defs[i].name);
		NAME(C_TRAITS + 2 * i + 1, "%s_std", trait_defs[i].name);
	}
	NAME(C_GEN, "generation_mean");
	NAME(C_GEN + 1, "generation_max");
	NAME(C_GEN + 2, "offspring_born");
	NAME(C_GEN + 3, "offspring_spawned");
	NAME(C_TOTAL_ENERGY, "total_energy");
	NAME(C_PLANTS, "plants");
	NAME(C_FOOD, "food");
	for (int i = 0; i < algo_count; i++)
		NAME(C_ALGOS + i, "algo_%s", algo_defs[i].name);
	for (int i = 0; i < POKER_STRATEGY_COUNT; i++)
		NAME(C_ALGOS + algo_count + i, "strategy_%s", poker_defs[i].name);
#undef NAME
	for (size_t i = 0; i < n; i++)
		if (!c[i])
			abort();
	n_cols = n;
	col_names = c; /* once per process, never freed (a constant table) */
}

size_t sim_history_column_count(void)
{
	columns_init();
	return n_cols;
}

const char *sim_history_column(size_t i)
{
	columns_init();
	return i < n_cols ? col_names[i] : NULL;
}

static void marks_now(const struct tank *t, double *m)
{
	m[0] = (double)t->births;
	m[1] = (double)t->spawns;
	for (int i = 0; i < DEATH_CAUSE_COUNT; i++)
		m[2 + i] = (double)t->deaths_by_cause[i];
	m[5] = (double)t->migrations_in;
	m[6] = (double)t->migrations_out;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		m[N_COUNT_MARKS + i] = t->flow[i];
}

static double *row_at(const struct history *h, size_t k)
{
	return h->rows + ((h->head + k) % h->cap) * n_cols;
}

/* A sample reads a dozen lines of every fish, most of them cold (its parents, its
 * offspring, its behaviours): at 100,000 fish, 15 ms of misses without this. */
static void sample_prefetch(const struct tank *t, size_t k)
{
	if (k >= t->n_fish)
		return;
	const struct fish *f = &t->fish[k];
	fish_prefetch(t, k);
	__builtin_prefetch(&f->g.t[TRAIT_COUNT - 1], 0, 3);
	__builtin_prefetch(&f->g.behavior, 0, 3);
	__builtin_prefetch(&f->g.poker, 0, 3);
	__builtin_prefetch(&f->offspring, 0, 3);
	__builtin_prefetch(f->mother_id, 0, 3);
}

/* Hue is a circle (0 and 1 are the same red): its mean is the mean direction, in
 * [0, 1), and its spread the angular deviation sqrt(2 (1 - R)), R the mean resultant
 * length, in turns: close to a line's standard deviation for a narrow spread, and
 * bounded (1/pi for hues spread evenly, whose mean direction is then 0) where the
 * circular standard deviation sqrt(-2 ln R) grows without end. A line's mean of hues
 * at 0.02 and 0.98 was 0.5 (cyan, which no fish wore) with a spread of 0.48, and a
 * published hue drift was biased whenever the population straddled red (a
 * researcher's audit). c and s: the sums of the cosines and sines of n fish's hues
 * (in radians), taken in history_sample's walk over the fish. */
static void hue_around_circle(double c, double s, double n, double out[2])
{
	double R = hypot(c, s) / n;
	double m = atan2(s, c) / (2 * M_PI);
	m = m < 0 ? m + 1 : m;
	out[0] = m < 1 ? m : 0; /* -1e-17 + 1 is 1 */
	out[1] = sqrt(2 * fmax(0, 1 - R)) / (2 * M_PI);
}

void history_sample(struct tank *t)
{
	struct history *h = &t->hist;
	size_t size = (size_t)t->p.history_size;
	columns_init();
	if (h->cap < size && h->n == h->cap) {
		/* Grow while the ring is not yet full (its rows are still in order). */
		size_t ncap = h->cap ? h->cap * 2 : 64;
		if (ncap > size)
			ncap = size;
		h->rows = sim_xrealloc(h->rows, ncap * n_cols, sizeof *h->rows);
		h->cap = ncap;
	}
	double *r;
	if (h->n < h->cap) {
		r = row_at(h, h->n);
		h->n++;
	} else {
		r = row_at(h, 0); /* overwrite the oldest */
		h->head = (h->head + 1) % h->cap;
	}
	memset(r, 0, n_cols * sizeof *r);
	r[C_FRAME] = (double)t->frame;
	r[C_POPULATION] = (double)t->n_fish;
	double now[HISTORY_MARKS];
	marks_now(t, now);
	for (int i = 0; i < HISTORY_MARKS; i++)
		r[C_MARKS + i] = now[i] - h->mark[i];
	memcpy(h->mark, now, sizeof now);

	size_t n = t->n_fish, nb = 0, ns = 0;
	double kb = 0, ks = 0, gmax = 0, gsum = 0, e = 0, hc = 0, hs = 0;
	for (size_t k = 0; k < n; k++) {
		sample_prefetch(t, k + FISH_PREFETCH_AHEAD);
		const struct fish *f = &t->fish[k];
		e += f->energy; /* the fish first, then the rest: the order it always had */
		for (int i = 0; i < TRAIT_COUNT; i++)
			r[C_TRAITS + 2 * i] += f->g.t[i];
		double hue = 2 * M_PI * f->g.t[T_COLOR_HUE];
		hc += cos(hue);
		hs += sin(hue);
		gsum += f->generation;
		gmax = fmax(gmax, f->generation);
		if (f->mother_id[0]) {
			nb++;
			kb += f->offspring;
		} else {
			ns++;
			ks += f->offspring;
		}
		r[C_ALGOS + f->g.behavior.algo] += 1;
		r[C_ALGOS + algo_count + f->g.poker.id] += 1;
	}
	if (n > 0) {
		for (int i = 0; i < TRAIT_COUNT; i++)
			r[C_TRAITS + 2 * i] /= (double)n;
		for (size_t k = 0; k < n; k++) {
			fish_prefetch(t, k + FISH_PREFETCH_AHEAD);
			for (int i = 0; i < TRAIT_COUNT; i++) {
				double d = t->fish[k].g.t[i] - r[C_TRAITS + 2 * i];
				r[C_TRAITS + 2 * i + 1] += d * d;
			}
		}
		for (int i = 0; i < TRAIT_COUNT; i++)
			r[C_TRAITS + 2 * i + 1] = sqrt(r[C_TRAITS + 2 * i + 1] / (double)n);
		hue_around_circle(hc, hs, (double)n, r + C_TRAITS + 2 * T_COLOR_HUE);
		for (int i = 0; i < algo_count + POKER_STRATEGY_COUNT; i++)
			r[C_ALGOS + i] /= (double)n;
		r[C_GEN] = gsum / (double)n;
	}
	r[C_GEN + 1] = gmax;
	r[C_GEN + 2] = nb ? kb / (double)nb : 0;
	r[C_GEN + 3] = ns ? ks / (double)ns : 0;
	for (size_t k = 0; k < t->n_food; k++)
		e += t->food[k].energy;
	for (size_t k = 0; k < t->n_plants; k++)
		e += t->plants[k].energy;
	for (size_t k = 0; k < t->n_crabs; k++)
		e += t->crabs[k].energy;
	r[C_TOTAL_ENERGY] = e;
	r[C_PLANTS] = (double)t->n_plants;
	r[C_FOOD] = (double)t->n_food;
}

void history_free(struct history *h)
{
	free(h->rows);
	memset(h, 0, sizeof *h);
}

/* Rows are in frame order: the first after since (h->n if none is). */
static size_t history_first(const struct history *h, uint64_t since)
{
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (row_at(h, mid)[C_FRAME] > (double)since)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* A window this small (under 100 kB) is copied into memory allocated under the lock:
 * the viewer's polls, which ask only for the samples since its last, stay one lock. */
#define HISTORY_ROOM_MIN_ROWS 128

void history_room_size(const struct tank *t, uint64_t since, size_t limit, struct sim_room *r)
{
	const struct history *h = &t->hist;
	columns_init();
	size_t n = h->n - history_first(h, since);
	if (n > limit)
		n = limit;
	*r = (struct sim_room){0};
	if (n < HISTORY_ROOM_MIN_ROWS)
		return;
	/* In doubles, as a snapshot's copy of the history; the margin holds the samples
	 * taken while the room is made (one every history_interval frames). */
	n += n / 16 + 4;
	r->cap = (n < limit ? n : limit) * n_cols;
}

struct sim_history *tank_history_take(const struct tank *t, struct tank_room *r)
{
	const struct history *h = &t->hist;
	struct sim_history *out = sim_xcalloc(1, sizeof *out);
	columns_init();
	size_t first = history_first(h, r->since);
	size_t n = h->n - first;
	if (n > r->limit)
		n = r->limit;
	size_t cap;
	out->n = n;
	out->rows = sim_room_take(&r->hist, n * n_cols, sizeof *out->rows, &cap);
	for (size_t k = 0; k < n; k++)
		memcpy(out->rows + k * n_cols, row_at(h, first + k), n_cols * sizeof *out->rows);
	return out;
}

struct sim_history *tank_history(const struct tank *t, uint64_t since, size_t limit)
{
	struct tank_room none = {.since = since, .limit = limit};
	return tank_history_take(t, &none);
}

void sim_history_free(struct sim_history *h)
{
	if (!h)
		return;
	free(h->rows);
	free(h);
}

bool tank_history_latest(const struct tank *t, double *row)
{
	const struct history *h = &t->hist;
	if (h->n == 0)
		return false;
	memcpy(row, row_at(h, h->n - 1), n_cols * sizeof *row);
	return true;
}

/* Saved as {"columns":[names],"mark":[...],"rows":[[...],...]} oldest first. */
json_object *history_to_json(const struct tank *t)
{
	const struct history *h = &t->hist;
	columns_init();
	json_object *o = json_object_new_object(), *a;
	a = json_object_new_array_ext((int)n_cols);
	for (size_t i = 0; i < n_cols; i++)
		json_object_array_add(a, json_object_new_string(col_names[i]));
	json_object_object_add(o, "columns", a);
	a = json_object_new_array_ext(HISTORY_MARKS);
	for (int i = 0; i < HISTORY_MARKS; i++)
		json_object_array_add(a, json_object_new_double(h->mark[i]));
	json_object_object_add(o, "mark", a);
	a = json_object_new_array_ext((int)h->n);
	for (size_t k = 0; k < h->n; k++) {
		const double *r = row_at(h, k);
		json_object *x = json_object_new_array_ext((int)n_cols);
		for (size_t i = 0; i < n_cols; i++)
			json_object_array_add(x, json_object_new_double(r[i]));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "rows", a);
	return o;
}

static int number_at(json_object *a, size_t i, double *v, struct json_err *e)
{
	json_object *x = json_object_array_get_idx(a, i);
	if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int))
		return jv_fail(e, "history: values must be numbers");
	*v = json_object_get_double(x);
	if (!isfinite(*v) || fabs(*v) > 1e300)
		return jv_fail(e, "history: values must be finite");
	return 0;
}

/* Optional. A history saved with other columns (an older or newer core) is dropped, not
 * an error: the tank goes on and records afresh. The marks are then taken from the
 * counters, so the first new sample's changes are right. */
int history_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *x, *cols, *mark, *rows;
	struct history *h = &t->hist;
	int r;
	columns_init();
	marks_now(t, h->mark);
	if (!json_object_object_get_ex(o, "history", &x))
		return 0;
	if ((r = jv_object(o, "history", true, &x, e)) < 0 ||
	    (r = jv_array(x, "columns", true, 10000, &cols, e)) < 0 ||
	    (r = jv_array(x, "mark", true, HISTORY_MARKS, &mark, e)) < 0 ||
	    (r = jv_array(x, "rows", true, 100000, &rows, e)) < 0)
		return json_err_in(e, "history", r);
	bool same = json_object_array_length(cols) == n_cols &&
		    json_object_array_length(mark) == HISTORY_MARKS;
	for (size_t i = 0; same && i < n_cols; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(cols, i));
		same = s && strcmp(s, col_names[i]) == 0;
	}
	if (!same)
		return 0;
	size_t n = json_object_array_length(rows);
	if (n > (size_t)t->p.history_size)
		return jv_fail(e, "history: more rows than history_size");
	for (int i = 0; i < HISTORY_MARKS; i++)
		if ((r = number_at(mark, (size_t)i, &h->mark[i], e)) < 0)
			return r;
	if (n == 0)
		return 0;
	h->rows = sim_xcalloc(n * n_cols, sizeof *h->rows);
	h->cap = n;
	h->n = n;
	h->head = 0;
	double prev = -1;
	for (size_t k = 0; k < n; k++) {
		json_object *row = json_object_array_get_idx(rows, k);
		if (!json_object_is_type(row, json_type_array) ||
		    json_object_array_length(row) != n_cols)
			return jv_fail(e, "history: every row must hold %zu values", n_cols);
		for (size_t i = 0; i < n_cols; i++)
			if ((r = number_at(row, i, &h->rows[k * n_cols + i], e)) < 0)
				return r;
		double fr = h->rows[k * n_cols + C_FRAME];
		if (fr <= prev || fr > (double)t->frame)
			return jv_fail(e, "history: frames must rise and not pass the tank's");
		prev = fr;
	}
	return 0;
}
