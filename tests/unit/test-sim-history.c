/* Evolution that accumulates and a tank's history: the spawn floor, the gene bank, the
 * history ring (columns, changes since the last sample, since/limit, the bound) and all of
 * it surviving a round trip through the tank JSON bit-identically. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "simd/sim/internal.h"
#include "tap.h"

static long column(const char *name)
{
	for (size_t i = 0; i < sim_history_column_count(); i++)
		if (strcmp(sim_history_column(i), name) == 0)
			return (long)i;
	return -1;
}

static void test_floor(void)
{
	/* Floor 6, no fish at first: spawns come one per interval until the floor, and
	 * never while the tank holds floor fish or more. */
	struct tank_params p = tank_params_default(7);
	p.initial_fish = 0;
	p.spawn_floor = 6;
	struct tank *t = tank_new(&p, "floor");
	struct tank_stats s;
	uint64_t spawns = 0;
	int above = 0, max_seen = 0;
	size_t before = 0;
	for (int i = 0; i < 6000; i++) {
		before = tank_fish_count(t);
		tank_step(t);
		tank_get_stats(t, &s);
		if (s.spawns > spawns && before >= 6)
			above++;
		spawns = s.spawns;
		if (s.fish_count > max_seen)
			max_seen = s.fish_count;
	}
	ok(spawns >= 6, "spawns fill the tank up to the floor (%llu)", (unsigned long long)spawns);
	is_int(above, 0, "no spawn while the tank holds at least spawn_floor fish");
	tank_free(t);

	p = tank_params_default(7);
	p.spawn_floor = 0;
	t = tank_new(&p, "floor-0");
	for (int i = 0; i < 6000; i++)
		tank_step(t);
	tank_get_stats(t, &s);
	is_int(s.spawns, p.initial_fish, "floor 0: only the initial fish are spawned");
	tank_free(t);
}

static void test_gene_bank(void)
{
	struct tank_params p = tank_params_default(11);
	struct tank *t = tank_new(&p, "bank");
	struct tank_stats s;
	for (int i = 0; i < 15000; i++)
		tank_step(t);
	tank_get_stats(t, &s);
	ok(s.gene_bank_size > 0, "fish that died with offspring are in the gene bank (%d)",
	   s.gene_bank_size);
	/* Empty the tank: the emergency spawn now draws from the bank. */
	json_object *tj = tank_to_json(t);
	tank_free(t);
	json_object_object_add(tj, "fish", json_object_new_array());
	t = tank_from_edit(tj);
	uint64_t banked0 = s.spawns_banked;
	/* The edit took the fish's energy away unbooked: the imbalance it left must not
	 * change while banked fish are spawned. */
	tank_get_stats(t, &s);
	double gap0 = s.total_energy - ledger_net(&s);
	for (int i = 0; i < 2000; i++)
		tank_step(t);
	tank_get_stats(t, &s);
	double gap1 = s.total_energy - ledger_net(&s);
	ok(s.spawns_banked > banked0, "spawns into an emptied tank come from the gene bank (%llu)",
	   (unsigned long long)(s.spawns_banked - banked0));
	ok(fabs(gap1 - gap0) < 1e-9 * fmax(1.0, s.total_energy),
	   "the ledger balances with banked spawns (drift %.2g)", gap1 - gap0);
	tank_free(t);
}

static void test_history(void)
{
	struct tank_params p = tank_params_default(3);
	p.history_interval = 100;
	struct tank *t = tank_new(&p, "history");
	int pop[31] = {0};
	for (int i = 1; i <= 3000; i++) {
		tank_step(t);
		if (i % 100 == 0)
			pop[i / 100] = (int)tank_fish_count(t);
	}
	struct sim_history *h = tank_history(t, 0, 100000);
	size_t nc = sim_history_column_count();
	is_int(h->n, 30, "one sample every history_interval frames");
	long cf = column("frame"), cp = column("population"), cb = column("births"),
	     cs = column("spawns"), cm = column("speed_modifier_mean"),
	     csd = column("speed_modifier_std"), cg = column("generation_mean");
	ok(cf == 0 && cp > 0 && cb > 0 && cs > 0 && cm > 0 && csd > 0 && cg > 0,
	   "the columns are named");
	ok(column("algo_greedy_food_seeker") > 0 || column("strategy_balanced") > 0 ||
		   sim_history_column_count() > 60,
	   "algorithm and strategy shares are columns (%zu columns)", nc);
	double births = 0, spawns = 0;
	int frames_ok = 1, pop_ok = 1, share_ok = 1;
	long a0 = column("flow_out_overflow") + 4; /* after total_energy, plants, food */
	for (size_t k = 0; k < h->n; k++) {
		const double *r = h->rows + k * nc;
		frames_ok &= r[cf] == 100.0 * (double)(k + 1);
		pop_ok &= r[cp] == pop[k + 1];
		births += r[cb];
		spawns += r[cs];
		(void)a0;
	}
	/* The algorithm shares sum to 1 in every sample with fish. */
	for (size_t k = 0; k < h->n; k++) {
		const double *r = h->rows + k * nc;
		double sum = 0;
		for (size_t i = 0; i < nc; i++)
			if (strncmp(sim_history_column(i), "algo_", 5) == 0)
				sum += r[i];
		if (r[cp] > 0 && fabs(sum - 1) > 1e-9)
			share_ok = 0;
	}
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(frames_ok && pop_ok, "samples at frames 100, 200, ... with the population then");
	ok(births == (double)s.births && spawns == (double)s.spawns,
	   "births and spawns per sample add up to the tank's counters (%.0f, %.0f)", births,
	   spawns);
	ok(share_ok, "algorithm shares sum to 1");
	sim_history_free(h);

	h = tank_history(t, 1500, 2);
	ok(h->n == 2 && h->rows[0] == 1600 && h->rows[nc] == 1700,
	   "since=1500&limit=2 gives the samples of frames 1600 and 1700");
	sim_history_free(h);
	double row[512];
	ok(nc <= 512 && tank_history_latest(t, row) && row[0] == 3000,
	   "the newest sample is frame 3000");

	/* Round trip, then both go on identically. */
	struct json_err e = {""};
	struct tank *u = tank_roundtrip(t, &e);
	ok(u && tank_state_hash(u) == tank_state_hash(t),
	   "history, bank and params survive the JSON");
	for (int i = 0; i < 1000; i++) {
		tank_step(t);
		tank_step(u);
	}
	ok(tank_state_hash(u) == tank_state_hash(t), "and the tanks stay identical 1000 frames on");
	tank_free(u);
	tank_free(t);

	/* The ring is bounded. */
	p.history_size = 4;
	t = tank_new(&p, "history-ring");
	for (int i = 0; i < 1000; i++)
		tank_step(t);
	h = tank_history(t, 0, 100);
	ok(h->n == 4 && h->rows[0] == 700 && h->rows[3 * nc] == 1000,
	   "a ring of 4 keeps the newest 4 samples");
	sim_history_free(h);
	tank_free(t);
}

static void test_events(void)
{
	struct tank_params p = tank_params_default(21);
	struct tank *t = tank_new(&p, "events");
	for (int i = 0; i < 6000; i++)
		tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	json_object *o = tank_events_json(t, 0, 100000), *a = jget(o, "events");
	size_t n = json_object_array_length(a);
	uint64_t births = 0, deaths = 0, spawns = 0, prev = 0;
	int rising = 1, parents = 1;
	for (size_t i = 0; i < n; i++) {
		json_object *ev = jidx(a, i);
		uint64_t seq = (uint64_t)json_object_get_int64(jget(ev, "seq"));
		const char *type = json_object_get_string(jget(ev, "type"));
		rising &= seq == prev + 1;
		prev = seq;
		if (strcmp(type, "birth") == 0) {
			births++;
			parents &= json_object_get_string(jget(ev, "mother_id")) != NULL;
		}
		deaths += strcmp(type, "death") == 0;
		spawns += strcmp(type, "spawn") == 0;
	}
	ok(n < 4096 && rising, "events have sequence numbers 1, 2, 3, ... (%zu)", n);
	ok(births == s.births && deaths == s.deaths && spawns == s.spawns,
	   "one event per birth, death and spawn (%llu, %llu, %llu)", (unsigned long long)births,
	   (unsigned long long)deaths, (unsigned long long)spawns);
	ok(parents, "births name the mother");
	json_object_put(o);
	o = tank_events_json(t, prev - 2, 100000);
	is_int(json_object_array_length(jget(o, "events")), 2,
	       "since=SEQ gives the events after it");
	json_object_put(o);
	struct json_err e = {""};
	struct tank *u = tank_roundtrip(t, &e);
	ok(u && tank_state_hash(u) == tank_state_hash(t), "events survive the tank JSON");
	tank_free(u);
	tank_free(t);
}

/* GET /events copies the ring under the tank's lock and builds the answer after: the
 * same answer as built from the tank, for a ring that has wrapped and one never used. */
static bool same_events(struct tank *t, uint64_t since, size_t limit)
{
	struct events_copy *c = events_copy_new();
	tank_events_take(t, c);
	json_object *a = events_copy_json(c, since, limit), *b = tank_events_json(t, since, limit);
	bool same = !strcmp(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
			    json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	json_object_put(b);
	return same;
}

static void test_events_copy(void)
{
	struct tank_params p = tank_params_default(22);
	p.max_fish = p.initial_fish = 5000; /* 5,000 spawns: the 4,096-event ring wraps */
	struct tank *t = tank_new(&p, "events-copy");
	for (int i = 0; i < 30; i++)
		tank_step(t);
	json_object *o = tank_events_json(t, 0, 1);
	uint64_t oldest = (uint64_t)json_object_get_int64(jget(o, "oldest_seq")),
		 next = (uint64_t)json_object_get_int64(jget(o, "next_seq"));
	json_object_put(o);
	ok(oldest > 1 && next - oldest == 4096, "the ring has wrapped (events %llu to %llu)",
	   (unsigned long long)oldest, (unsigned long long)next - 1);
	ok(same_events(t, 0, 4096) && same_events(t, oldest + 100, 7) &&
		   same_events(t, next - 3, 4096) && same_events(t, next + 5, 10),
	   "the events through a copy: the same answers");
	tank_free(t);
	p = tank_params_default(23);
	p.initial_fish = 0;
	t = tank_new(&p, "no-events");
	ok(same_events(t, 0, 4096), "and for a tank without events");
	tank_free(t);
}

/* GET /history copies its window into room made without the lock (tank_history_take):
 * the same rows as the copy made in one go, whether the room holds them or not. */
static bool same_history(const struct sim_history *a, const struct sim_history *b)
{
	size_t nc = sim_history_column_count();
	return a->n == b->n && memcmp(a->rows, b->rows, a->n * nc * sizeof *a->rows) == 0;
}

static void test_history_room(void)
{
	struct tank_params p = tank_params_default(8);
	p.history_interval = 1;
	p.history_size = 400;
	struct tank *t = tank_new(&p, "history-room");
	for (int i = 0; i < 1000; i++)
		tank_step(t); /* the ring of 400 has wrapped */
	size_t nc = sim_history_column_count();
	const struct {
		uint64_t since;
		size_t limit;
		size_t rows; /* in the window */
	} w[] = {{0, 100000, 400}, {0, 200, 200}, {700, 100000, 300}, {990, 100000, 10}};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		struct tank_room r = {.since = w[i].since, .limit = w[i].limit};
		tank_room_size(t, TANK_COPY_HISTORY, &r);
		bool small = w[i].rows < 128;
		ok(small ? tank_room_empty(&r)
			 : r.hist.cap >= w[i].rows * nc && r.hist.cap <= w[i].limit * nc,
		   "since=%llu&limit=%zu: room for %s (%zu doubles)",
		   (unsigned long long)w[i].since, w[i].limit,
		   small ? "nothing, a small window" : "the window", r.hist.cap);
		tank_room_make(&r);
		double *room = r.hist.p;
		struct sim_history *a = tank_history_take(t, &r);
		struct sim_history *b = tank_history(t, w[i].since, w[i].limit);
		ok(a->n == w[i].rows && same_history(a, b) && (small || a->rows == room) &&
			   tank_room_empty(&r) && !r.hist.p,
		   "the copy is the window's %zu rows, %s, and the room is emptied", a->n,
		   small ? "allocated as it goes" : "in the room");
		sim_history_free(a);
		sim_history_free(b);
	}
	/* Samples taken while the room was made (a tick between unlock and relock): a
	 * window grown past the room is copied into memory of its own. */
	struct tank_room r = {.since = 700, .limit = 100000};
	tank_room_size(t, TANK_COPY_HISTORY, &r);
	tank_room_make(&r);
	for (int i = 0; i < 100; i++)
		tank_step(t);
	struct sim_history *a = tank_history_take(t, &r);
	struct sim_history *b = tank_history(t, 700, 100000);
	ok(a->n == 400 && same_history(a, b) && !r.hist.p,
	   "a window grown from 300 to %zu rows past its room is copied whole", a->n);
	sim_history_free(a);
	sim_history_free(b);
	tank_room_free(&r);
	tank_free(t);
}

/* Hue is a circle: fish at 0.02 and 0.98 are all nearly red, and their mean is red
 * with a narrow spread, not the line's 0.5 (cyan) with a spread of 0.48. */
static void test_hue_mean(void)
{
	struct tank_params p = tank_params_default(5);
	p.history_interval = 1;
	struct tank *t = tank_new(&p, "hue");
	for (size_t k = 0; k < t->n_fish; k++)
		t->fish[k].g.t[T_COLOR_HUE] = k % 2 ? 0.98 : 0.02;
	size_t n = t->n_fish;
	tank_step(t);
	double row[512];
	long cm = column("color_hue_mean"), cs = column("color_hue_std");
	ok(n >= 2 && cm > 0 && cs > 0 && tank_history_latest(t, row),
	   "a sample of %zu fish with hues 0.02 and 0.98", n);
	double m = row[cm];
	ok(fmin(m, 1 - m) < 0.02, "the hue's mean goes around the circle: red (%.3f)", m);
	ok(row[cs] < 0.06, "and its spread is narrow (%.3f)", row[cs]);
	for (size_t k = 0; k < t->n_fish; k++)
		t->fish[k].g.t[T_COLOR_HUE] = k % 2 ? 0.30 : 0.34;
	tank_step(t);
	tank_history_latest(t, row);
	ok(fabs(row[cm] - 0.32) < 0.01 && fabs(row[cs] - 0.02) < 0.005,
	   "hues away from red: the mean and spread of a line (%.3f, %.3f)", row[cm], row[cs]);
	tank_free(t);
}

int main(void)
{
	test_hue_mean();
	test_events();
	test_events_copy();
	test_floor();
	test_gene_bank();
	test_history();
	test_history_room();
	return tap_done();
}
