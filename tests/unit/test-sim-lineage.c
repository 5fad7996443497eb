/* Lineage records: one per birth and spawn with its parents and place of birth, deaths
 * completing them, the bound (living fish and their ancestors up to lineage_depth), the
 * ancestor query, and the records surviving the tank JSON bit-identically. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "tap.h"

static json_object *get(json_object *o, const char *k)
{
	json_object *x = NULL;
	json_object_object_get_ex(o, k, &x);
	return x;
}

static const char *str(json_object *o, const char *k)
{
	json_object *x = get(o, k);
	return x ? json_object_get_string(x) : "";
}

/* The records of the whole tank, as an array (a new reference). */
static json_object *all(struct tank *t)
{
	json_object *o = tank_lineage_json(t, NULL, 0, SIZE_MAX);
	json_object *a = json_object_get(get(o, "records"));
	json_object_put(o);
	return a;
}

static json_object *find_rec(json_object *a, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(str(json_object_array_get_idx(a, i), "fish_id"), id) == 0)
			return json_object_array_get_idx(a, i);
	return NULL;
}

static void test_records(void)
{
	struct tank_params p = tank_params_default(11);
	p.lineage_depth = 1000; /* nothing pruned: every event has its record */
	struct tank *t = tank_new(&p, "lin-a");
	tank_set_origin(t, "server-1", 1700000000.0);
	for (int i = 0; i < 9000; i++)
		tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(s.births > 20 && s.deaths > 5, "the run is eventful (%llu births, %llu deaths)",
	   (unsigned long long)s.births, (unsigned long long)s.deaths);
	/* Each record against the events of its fish (extinct branches are pruned even
	 * at this depth, so not every event keeps its record). */
	json_object *ev = tank_events_json(t, 0, 4096), *a = all(t);
	ok(json_object_array_length(a) > tank_fish_count(t) &&
		   json_object_array_length(a) <= s.births + s.spawns,
	   "records of the living and of some of the dead (%zu of %llu)",
	   json_object_array_length(a), (unsigned long long)(s.births + s.spawns));
	int births = 0, deaths = 0, bad = 0;
	json_object *evs = get(ev, "events");
	for (size_t i = 0; i < json_object_array_length(evs); i++) {
		json_object *e = json_object_array_get_idx(evs, i),
			    *r = find_rec(a, str(e, "fish_id"));
		const char *type = str(e, "type");
		if (!r)
			continue;
		if (!strcmp(type, "birth") || !strcmp(type, "spawn")) {
			births++;
			bad += json_object_get_int64(get(r, "born_frame")) !=
				       json_object_get_int64(get(e, "frame")) ||
			       strcmp(str(r, "mother_id"), str(e, "mother_id")) ||
			       strcmp(str(r, "father_id"), str(e, "father_id")) ||
			       json_object_get_int(get(r, "generation")) !=
				       json_object_get_int(get(e, "generation")) ||
			       strcmp(str(r, "born_tank_id"), "lin-a") ||
			       strcmp(str(r, "born_server_id"), "server-1") ||
			       fabs(json_object_get_double(get(r, "born_at")) -
				    (1700000000.0 +
				     json_object_get_int64(get(e, "frame")) / 30.0)) > 1e-3 ||
			       strcmp(str(r, "algorithm"), str(e, "algorithm")) ||
			       strcmp(str(r, "poker_strategy"), str(e, "poker_strategy"));
			bad += !strcmp(type, "spawn") && get(r, "mother_id") != NULL;
		} else if (!strcmp(type, "death")) {
			deaths++;
			bad += json_object_get_int64(get(r, "died_frame")) !=
				       json_object_get_int64(get(e, "frame")) ||
			       strcmp(str(r, "cause"), str(e, "cause")) ||
			       json_object_get_boolean(get(r, "living"));
		}
	}
	ok(births > 0 && deaths > 0 && bad == 0,
	   "every record matches the birth or spawn and the death of its fish (%d births, %d deaths, %d bad)",
	   births, deaths, bad);
	int dead_without = 0;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		dead_without += !json_object_get_boolean(
					get(json_object_array_get_idx(a, i), "living")) &&
				!get(json_object_array_get_idx(a, i), "died_frame");
	is_int(dead_without, 0, "a record not living here has its death (no fish left this tank)");
	/* Nothing is lost up the tree at depth 1000: only founders lack parents. */
	int lost = 0;
	for (size_t i = 0; i < tank_fish_count(t); i++) {
		json_object *q = tank_lineage_json(t, fish_id(tank_fish_at(t, i)), 1000, 0);
		lost += (int)json_object_array_length(get(q, "missing"));
		json_object_put(q);
	}
	is_int(lost, 0, "every living fish's ancestry is complete");
	int living_bad = 0;
	for (size_t i = 0; i < tank_fish_count(t); i++) {
		json_object *r = find_rec(a, fish_id(tank_fish_at(t, i)));
		living_bad += !r || get(r, "died_frame") ||
			      !json_object_get_boolean(get(r, "living"));
	}
	is_int(living_bad, 0, "every living fish has a live record");

	/* The ancestor query: a fish of generation >= 2, depth 2: itself, parents,
	 * grandparents, each at its depth, and nothing deeper. */
	const struct fish *g2 = NULL;
	for (size_t i = 0; i < tank_fish_count(t) && !g2; i++)
		if (fish_generation(tank_fish_at(t, i)) >= 2)
			g2 = tank_fish_at(t, i);
	ok(g2 != NULL, "a living fish of generation >= 2");
	if (g2) {
		json_object *q = tank_lineage_json(t, fish_id(g2), 2, 0);
		json_object *r = get(q, "records");
		json_object *self = json_object_array_get_idx(r, 0);
		json_object *mother = find_rec(r, fish_mother_id(g2));
		ok(!strcmp(str(self, "fish_id"), fish_id(g2)) &&
			   json_object_get_int(get(self, "depth")) == 0,
		   "the fish itself first, at depth 0");
		ok(mother && json_object_get_int(get(mother, "depth")) == 1,
		   "its mother at depth 1");
		json_object *gm = mother ? find_rec(r, str(mother, "mother_id")) : NULL;
		/* At depth 1 if she is also a parent: each fish once, at its nearest depth. */
		int gd = gm ? json_object_get_int(get(gm, "depth")) : -1;
		ok(!str(mother, "mother_id")[0] || gd == 1 || gd == 2,
		   "its grandmother at depth 2 (or 1)");
		int deeper = 0;
		for (size_t i = 0; i < json_object_array_length(r); i++)
			deeper += json_object_get_int(
					  get(json_object_array_get_idx(r, i), "depth")) > 2;
		is_int(deeper, 0, "nothing beyond the depth asked");
		json_object_put(q);
		q = tank_lineage_json(t, fish_id(g2), 0, 0);
		is_int(json_object_array_length(get(q, "records")), 1, "depth 0: the fish alone");
		json_object_put(q);
	}
	ok(tank_lineage_json(t, "00000000-0000-4000-8000-000000000000", 5, 0) == NULL,
	   "an unknown fish has no lineage");

	/* Round trip: bit-identical, and the same after more frames on both. */
	struct json_err e = {""};
	struct tank *r = tank_roundtrip(t, &e);
	ok(r && tank_state_hash(r) == tank_state_hash(t), "the records survive the tank JSON (%s)",
	   e.msg);
	json_object *ra = r ? all(r) : NULL;
	ok(ra && json_object_equal(ra, a), "record for record");
	if (r) {
		tank_set_origin(r, "server-1", 1700000000.0);
		for (int i = 0; i < 3000; i++) {
			tank_step(t);
			tank_step(r);
		}
		ok(tank_state_hash(r) == tank_state_hash(t), "and both go on identically");
	}
	json_object_put(ra);
	json_object_put(a);
	json_object_put(ev);
	tank_free(r);
	tank_free(t);
}

/* With depth d, every record is a living fish or an ancestor of one within d
 * generations; and every such ancestor born in the tank is still there. */
static void test_pick_in_room(struct tank *t);

static void test_bound(void)
{
	struct tank_params p = tank_params_default(5);
	p.lineage_depth = 2;
	struct tank *t = tank_new(&p, "lin-b");
	size_t most = 0;
	for (int i = 0; i < 30000; i++) {
		tank_step(t);
		if (i % 300 == 299 && tank_lineage_count(t) > most)
			most = tank_lineage_count(t);
	}
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(s.births > 200, "many generations (%llu births, generation %d)",
	   (unsigned long long)s.births, s.max_generation);
	/* Living fish plus at most 2 + 4 ancestors each, in the worst case. */
	ok(most < (size_t)(7 * (p.max_fish + 10)) && most < s.births + s.spawns,
	   "records stay bounded: at most %zu after prunes, of %llu fish recorded", most,
	   (unsigned long long)(s.births + s.spawns));
	json_object *a = all(t);
	/* Depth from the nearest living descendant, by walking down from each living fish. */
	size_t n = json_object_array_length(a), outside = 0, missing = 0;
	int *depth = malloc(n * sizeof *depth);
	for (size_t i = 0; i < n; i++)
		depth[i] = 1000;
	for (size_t i = 0; i < tank_fish_count(t); i++) {
		json_object *q = tank_lineage_json(t, fish_id(tank_fish_at(t, i)), 2, 0);
		json_object *r = get(q, "records");
		for (size_t k = 0; k < json_object_array_length(r); k++) {
			json_object *x = json_object_array_get_idx(r, k);
			for (size_t j = 0; j < n; j++)
				if (!strcmp(str(json_object_array_get_idx(a, j), "fish_id"),
					    str(x, "fish_id")) &&
				    json_object_get_int(get(x, "depth")) < depth[j])
					depth[j] = json_object_get_int(get(x, "depth"));
		}
		json_object *m = get(q, "missing");
		for (size_t k = 0; k < json_object_array_length(m); k++)
			/* A parent born here within the bound must not have been pruned: only
			 * founders' (generation 0) parents are unknown. */
			missing++;
		json_object_put(q);
	}
	/* Records made since the last prune may lie outside the bound; the last frame was a
	 * prune (30000 is a multiple of 300). */
	for (size_t i = 0; i < n; i++)
		outside += depth[i] > 2;
	is_int(outside, 0,
	       "right after a prune every record is within 2 generations of a living fish");
	is_int(missing, 0, "and no living fish misses an ancestor within the bound");
	free(depth);
	json_object_put(a);
	test_pick_in_room(t);
	tank_free(t);
}

/* GET /lineage copies the records under the tank's lock into room made without it and
 * builds the answer after: the same text as the answer built in one go, whether the room
 * fits, is too small, or is not used (an ancestor query). */
static bool same_text(json_object *a, json_object *b)
{
	bool same = a && b &&
		    !strcmp(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
			    json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	json_object_put(b);
	return same;
}

static int room_left; /* rooms lineage_pick_take did not empty */

static json_object *picked(struct tank *t, const char *fish_id, int depth, size_t limit,
			   size_t room_cap)
{
	struct tank_room r = {.limit = limit};
	tank_room_size(t, TANK_COPY_LINEAGE, &r);
	if (room_cap)
		r.picks.cap = r.living.cap = room_cap;
	tank_room_make(&r);
	struct lineage_pick *p = lineage_pick_take(t, fish_id, depth, limit, &r);
	room_left += r.picks.p != NULL || r.living.p != NULL;
	tank_room_free(&r);
	return p ? lineage_pick_json(p) : NULL;
}

/* On test_bound's tank: many generations, ancestors pruned beyond depth 2. */
static void test_pick_in_room(struct tank *t)
{
	size_t n = tank_lineage_count(t);
	ok(n > 40, "records to pick from (%zu)", n);
	ok(same_text(picked(t, NULL, 0, SIZE_MAX, 0), tank_lineage_json(t, NULL, 0, SIZE_MAX)),
	   "every record, through room: the same answer");
	ok(same_text(picked(t, NULL, 0, n / 2, 0), tank_lineage_json(t, NULL, 0, n / 2)),
	   "the first half, through room: the same answer");
	ok(same_text(picked(t, NULL, 0, n, 3), tank_lineage_json(t, NULL, 0, n)),
	   "through room too small: the same answer");
	int with_missing = 0, bad = 0;
	for (size_t i = 0; i < tank_fish_count(t); i++) {
		const char *id = fish_id(tank_fish_at(t, i));
		json_object *q = tank_lineage_json(t, id, 1000, 0);
		json_object *m = get(q, "missing");
		with_missing += m && json_object_array_length(m) > 0;
		bad += !same_text(picked(t, id, 1000, 0, 0), q);
	}
	ok(with_missing > 0 && bad == 0,
	   "every living fish's ancestors through the pick: the same answer (%d with missing "
	   "parents, %d differ)",
	   with_missing, bad);
	ok(picked(t, "00000000-0000-4000-8000-000000000000", 5, 0, 0) == NULL,
	   "a fish without a record: none");
	is_int(room_left, 0, "every room was emptied");
}

/* A fish that leaves pregnant takes her mate's record along, and the tank where the
 * child is born records its father: his record stays in the tank of conception, which
 * may drop it once she is gone, and the child's `missing` would send a reader to the
 * tank of its birth, where he never lived. */
/* A tank of seed 11 named id, stepped until a fish answers want (up to 20,000 frames):
 * that fish, or NULL. */
static const struct fish *step_until(struct tank **t, const char *id,
				     bool (*want)(const struct fish *))
{
	struct tank_params p = tank_params_default(11);
	*t = tank_new(&p, id);
	tank_set_origin(*t, "server-1", 1700000000.0);
	for (int i = 0; i < 20000; i++) {
		tank_step(*t);
		for (size_t k = 0; k < tank_fish_count(*t); k++)
			if (want(tank_fish_at(*t, k)))
				return tank_fish_at(*t, k);
	}
	return NULL;
}

/* Pregnant by a known mate, the child more than 60 frames away. */
static bool pregnant_for_a_while(const struct fish *f)
{
	json_object *j = fish_is_pregnant(f) ? fish_to_json(f) : NULL;
	json_object *pr = j ? get(j, "pregnancy") : NULL;
	bool yes = pr && get(pr, "mate_id") && json_object_get_int(get(pr, "timer")) > 60;
	json_object_put(j);
	return yes;
}

static void test_pregnant_move(void)
{
	struct tank *a;
	const struct fish *m = step_until(&a, "lin-a", pregnant_for_a_while);
	ok(m != NULL, "a fish of tank A is pregnant");
	if (!m) {
		tank_free(a);
		return;
	}
	char mother[64], father[64];
	snprintf(mother, sizeof mother, "%s", fish_id(m));
	json_object *fj = fish_to_json(m);
	snprintf(father, sizeof father, "%s", str(get(fj, "pregnancy"), "mate_id"));
	json_object_put(fj);
	json_object *recs = all(a), *rec_a = json_object_get(find_rec(recs, father));
	json_object_put(recs);
	ok(rec_a != NULL, "A records the father");

	struct fish *f = NULL;
	ok(tank_take_fish(a, mother, &f) == 0, "she is taken out of A");
	json_object *j = fish_to_json(f), *ml = get(get(j, "pregnancy"), "mate_lineage");
	ok(ml && !strcmp(str(ml, "mother_id"), str(rec_a, "mother_id")) &&
		   !strcmp(str(ml, "father_id"), str(rec_a, "father_id")) &&
		   json_object_get_int(get(ml, "generation")) ==
			   json_object_get_int(get(rec_a, "generation")) &&
		   !strcmp(str(ml, "born_tank_id"), "lin-a") &&
		   json_object_get_int64(get(ml, "born_frame")) ==
			   json_object_get_int64(get(rec_a, "born_frame")),
	   "her JSON carries his record (%s)", ml ? jv_to_string(ml) : "none");
	fish_free(f);
	struct json_err e = {""};
	struct fish *g = NULL;
	ok(fish_from_json(j, &g, &e) == 0, "and reads back (%s)", e.msg);
	json_object *back = g ? fish_to_json(g) : NULL;
	ok(back && json_object_equal(back, j), "field for field");
	json_object_put(back);
	json_object_put(j);

	struct tank_params pb = tank_params_default(12);
	struct tank *b = tank_new(&pb, "lin-b");
	tank_set_origin(b, "server-2", 1700000000.0);
	ok(g && tank_put_fish(b, g, WALL_NONE) == 0, "she arrives in B");
	const struct fish *child = NULL;
	for (int i = 0; i < 400 && !child; i++) {
		tank_step(b);
		for (size_t k = 0; k < tank_fish_count(b) && !child; k++) {
			const char *mid = fish_mother_id(tank_fish_at(b, k));
			if (mid && !strcmp(mid, mother))
				child = tank_fish_at(b, k);
		}
	}
	ok(child != NULL, "her child is born in B");
	char cid[64] = "";
	if (child)
		snprintf(cid, sizeof cid, "%s", fish_id(child));
	for (int i = 0; i < 2 * 300 + 1; i++) /* past two prunes */
		tank_step(b);
	json_object *q = child ? tank_lineage_json(b, cid, 1, 0) : NULL;
	json_object *fb = q ? find_rec(get(q, "records"), father) : NULL;
	ok(q && json_object_array_length(get(q, "missing")) == 0,
	   "B knows both parents of the child (missing: %s)",
	   q ? jv_to_string(get(q, "missing")) : "no child");
	ok(fb && json_object_get_int(get(fb, "depth")) == 1 &&
		   !strcmp(str(fb, "born_tank_id"), "lin-a") &&
		   !strcmp(str(fb, "born_server_id"), "server-1") &&
		   !strcmp(str(fb, "mother_id"), str(rec_a, "mother_id")) &&
		   !json_object_get_boolean(get(fb, "living")) && !get(fb, "died_frame"),
	   "his record in B: born in A, not living in B, his death unknown there");
	json_object_put(q);
	json_object_put(rec_a);
	tank_free(b);
	tank_free(a);
}

/* A mate's record from another server is its word until the mate comes himself: an
 * unknown birth is kept as unknown (not the names beside it, which a restart would read
 * back as null), and the fish's own fields replace what a made-up record said. */
static void test_mate_crafted(void)
{
	struct tank_params pa = tank_params_default(5), pb = tank_params_default(6);
	struct tank *a = tank_new(&pa, "lin-c"), *b = tank_new(&pb, "lin-d");
	char mate[64];
	snprintf(mate, sizeof mate, "%s", fish_id(tank_fish_at(a, 1)));
	json_object *j = fish_to_json(tank_fish_at(a, 0)), *pr = json_object_new_object();
	json_object *ml = json_object_new_object();
	json_object_object_add(pr, "timer", json_object_new_int(100));
	json_object_object_add(pr, "mate_id", json_object_new_string(mate));
	json_object_object_add(pr, "mate_generation", json_object_new_int(0));
	json_object_object_add(pr, "mate_genome", json_object_get(get(j, "genome")));
	json_object_object_add(ml, "born_frame", json_object_new_int(-1));
	json_object_object_add(ml, "born_tank_id", json_object_new_string("made-up"));
	json_object_object_add(ml, "mother_id",
			       json_object_new_string("00000000-0000-4000-8000-0000000000aa"));
	json_object_object_add(ml, "generation", json_object_new_int(99));
	json_object_object_add(pr, "mate_lineage", ml);
	json_object_object_add(j, "pregnancy", pr);
	struct json_err e = {""};
	struct fish *g = NULL;
	ok(fish_from_json(j, &g, &e) == 0 && tank_put_fish(b, g, WALL_NONE) == 0,
	   "a pregnant fish whose mate's record has no birth arrives (%s)", e.msg);
	json_object_put(j);
	json_object *q = tank_lineage_json(b, mate, 1, 0);
	json_object *r = q ? json_object_array_get_idx(get(q, "records"), 0) : NULL;
	json_object *miss = q ? json_object_array_get_idx(get(q, "missing"), 0) : NULL;
	ok(r && !get(r, "born_frame") && json_object_get_int(get(r, "generation")) == 99 && miss &&
		   !get(miss, "child_born_tank_id"),
	   "his record: born unknown, and nothing beside it kept, where to ask for his mother "
	   "included (%s)",
	   miss ? jv_to_string(miss) : "none");
	json_object_put(q);
	struct fish *m = NULL;
	j = fish_to_json(tank_fish_at(a, 1));
	ok(fish_from_json(j, &m, &e) == 0 && tank_put_fish(b, m, WALL_NONE) == 0, "then he arrives");
	q = tank_lineage_json(b, mate, 0, 0);
	r = q ? json_object_array_get_idx(get(q, "records"), 0) : NULL;
	ok(r &&
		   json_object_get_int(get(r, "generation")) ==
			   json_object_get_int(get(j, "generation")) &&
		   !strcmp(str(r, "mother_id"), str(j, "mother_id")),
	   "and his own fields replace the record's (%s)", r ? jv_to_string(r) : "none");
	json_object_put(q);
	json_object_put(j);
	tank_free(a);
	tank_free(b);
}

/* A fish that leaves keeps its record and its ancestors in the tank it left for as long
 * as it could live: the tank it reaches sends a reader back there for its parents, and
 * they were pruned once no fish left there descended from them. Saved with the state;
 * gone once its age is over. */
/* Born here, with more than 2,000 frames of life left. */
static bool born_young(const struct fish *f)
{
	return fish_mother_id(f) && fish_max_age(f) - fish_age(f) > 2000;
}

static void test_left_keeps_family(void)
{
	struct tank *a;
	const struct fish *c = step_until(&a, "lin-e", born_young);
	ok(c != NULL, "a child is born in A");
	if (!c) {
		tank_free(a);
		return;
	}
	char cid[64];
	snprintf(cid, sizeof cid, "%s", fish_id(c));
	int life = fish_max_age(c) - fish_age(c);
	struct fish *f = NULL;
	ok(tank_take_fish(a, cid, &f) == 0, "it is taken out of A");
	fish_free(f);
	for (int i = 0; i < 1500; i++) /* five prunes */
		tank_step(a);
	json_object *q = tank_lineage_json(a, cid, 1, 0);
	ok(q && json_object_array_length(get(q, "records")) == 3 &&
		   json_object_array_length(get(q, "missing")) == 0,
	   "1,500 frames later A still has its record and both parents' (%s)",
	   q ? jv_to_string(get(q, "missing")) : "no record");
	json_object_put(q);

	json_object *saved = tank_to_json(a);
	struct tank *b = NULL;
	struct json_err e = {""};
	ok(tank_from_json(saved, &b, &e) == 0, "A's state reads back (%s)", e.msg);
	json_object_put(saved);
	if (b) {
		tank_set_origin(b, "server-1", 1700000000.0);
		for (int i = 0; i < 300; i++) /* one prune more */
			tank_step(b);
		q = tank_lineage_json(b, cid, 1, 0);
		ok(q && json_object_array_length(get(q, "records")) == 3,
		   "and keeps them after a restart");
		json_object_put(q);
		tank_free(b);
	}
	for (int i = 1500; i < life + 301; i++)
		tank_step(a);
	q = tank_lineage_json(a, cid, 1, 0);
	ok(q == NULL, "and forgets the fish once its age is over (%d frames)", life);
	json_object_put(q);
	tank_free(a);
}

int main(void)
{
	test_records();
	test_bound();
	test_pregnant_move();
	test_mate_crafted();
	test_left_keeps_family();
	return tap_done();
}
