/* Poker inside a tank, over a long run: every recorded hand is well-formed and every
 * showdown is won by exactly the best hands; the energy ledger balances every frame; a
 * restored tank continues bit-identically; old snapshots without poker books still load. */
#include "config.h"

#include "sim-test.h"
#include "simd/sim/cards.h"
#include "tap.h"

static int card_of(json_object *s)
{
	return cards_parse(json_object_get_string(s));
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

/* What is wrong with one hand from the API's JSON (NULL when nothing). */
static const char *check_hand(json_object *h)
{
	json_object *players = key(h, "players"), *board = key(h, "board"),
		    *winners = key(h, "winners");
	size_t n = json_object_array_length(players), nb = json_object_array_length(board);
	if (n < 2 || n > 6)
		return "player count";
	if (nb != 0 && nb != 3 && nb != 4 && nb != 5)
		return "board size";
	bool seen[52] = {false};
	uint8_t bc[5];
	for (size_t i = 0; i < nb; i++) {
		int c = card_of(json_object_array_get_idx(board, i));
		if (c < 0 || seen[c])
			return "board card";
		seen[c] = true;
		bc[i] = (uint8_t)c;
	}
	double pot = json_object_get_double(key(h, "pot")), won = 0;
	bool showdown = json_object_get_boolean(key(h, "showdown"));
	uint32_t value[6] = {0}, best = 0;
	int live = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(players, i), *hole = key(p, "hole");
		uint8_t c[7];
		for (int k = 0; k < 2; k++) {
			int x = card_of(json_object_array_get_idx(hole, (size_t)k));
			if (x < 0 || seen[x])
				return "hole card";
			seen[x] = true;
			c[k] = (uint8_t)x;
		}
		won += json_object_get_double(key(p, "won"));
		if (json_object_get_boolean(key(p, "folded"))) {
			if (json_object_get_double(key(p, "won")) > 0)
				return "a folded player won";
			continue;
		}
		live++;
		if (showdown && nb == 5) {
			memcpy(c + 2, bc, 5);
			value[i] = cards_eval(c, 7);
			if (value[i] > best)
				best = value[i];
		}
	}
	if (fabs(won - pot) > 1e-9 * fmax(1, pot))
		return "the pot is not paid out exactly";
	double put = 0;
	json_object *acts = key(h, "actions");
	for (size_t i = 0; i < json_object_array_length(acts); i++)
		put += json_object_get_double(key(json_object_array_get_idx(acts, i), "amount"));
	if (fabs(put - pot) > 1e-9 * fmax(1, pot))
		return "the actions do not add up to the pot";
	if (!showdown)
		return live == 1 && json_object_array_length(winners) == 1 ? NULL : "a fold win";
	if (nb != 5 || live < 2)
		return "a showdown without five cards or two players";
	size_t nw = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(players, i);
		bool listed = false;
		for (size_t k = 0; k < json_object_array_length(winners); k++)
			listed |= strcmp(json_object_get_string(
						 json_object_array_get_idx(winners, k)),
					 json_object_get_string(key(p, "fish_id"))) == 0;
		bool is_best = !json_object_get_boolean(key(p, "folded")) && value[i] == best;
		if (listed != is_best)
			return "the winners are not the best hands";
		nw += listed;
	}
	if (nw != json_object_array_length(winners))
		return "a winner who did not play";
	if (strcmp(json_object_get_string(key(h, "winning_hand")),
		   cards_category_name(cards_category_of(best))) != 0)
		return "winning_hand";
	return NULL;
}

int main(void)
{
	const char *env = getenv("SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 31337;
	printf("# seed %llu\n", (unsigned long long)seed);
	struct tank_params p = tank_params_default(seed);
	tank_params_scale_world(&p, 500, 320);
	p.initial_fish = 40;
	p.max_fish = 60;
	p.food_rate = 1.5; /* a quarter of the original's area with more food: a crowd */
	struct tank *t = tank_new(&p, "poker-test");
	uint64_t seen = 0;
	long hands = 0, showdowns = 0, multi = 0, bad = 0, ledger_bad = 0, overflow = 0;
	const char *first_bad = NULL;
	const int frames = 40000;
	struct tank *copy = NULL;
	for (int f = 1; f <= frames; f++) {
		tank_step(t);
		if (copy)
			tank_step(copy);
		ledger_bad += ledger_error(t) > 1e-9;
		struct tank_stats s;
		tank_get_stats(t, &s);
		if (f % 50 == 0 || f == frames) {
			uint64_t fresh = s.poker_hands - seen;
			overflow += fresh > 1000;
			json_object *o = tank_poker_hands_json(t, fresh);
			json_object *a = key(o, "hands");
			for (size_t i = 0; i < json_object_array_length(a); i++) {
				json_object *h = json_object_array_get_idx(a, i);
				const char *why = check_hand(h);
				if (why) {
					bad++;
					if (!first_bad)
						first_bad = why;
				}
				hands++;
				showdowns += json_object_get_boolean(key(h, "showdown"));
				multi += json_object_array_length(key(h, "players")) > 2;
			}
			json_object_put(o);
			seen = s.poker_hands;
		}
		if (f == frames / 2) {
			struct json_err e;
			copy = tank_roundtrip(t, &e);
			ok(copy != NULL, "a snapshot in the middle of the run restores");
			json_object *o = tank_poker_hands_json(copy, 1000);
			is_int(json_object_array_length(key(o, "hands")), 0,
			       "the restored tank starts with no hand history (it is not state)");
			json_object_put(o);
		}
	}
	struct tank_stats s;
	tank_get_stats(t, &s);
	printf("# %ld hands checked: %ld showdowns, %ld with 3+ players; %llu poker births of %llu; %d fish\n",
	       hands, showdowns, multi, (unsigned long long)s.poker_births,
	       (unsigned long long)s.births, s.fish_count);
	ok(hands > 2000 && (uint64_t)hands == s.poker_hands,
	   "every hand of a long run was checked (%ld)", hands);
	is_int(overflow, 0, "the ring never dropped an unchecked hand");
	ok(bad == 0,
	   "every hand is well-formed and every showdown won by the best hands (%ld bad: %s)", bad,
	   first_bad ? first_bad : "none");
	ok(showdowns > 100 && multi > 100, "showdowns and multi-way hands happen");
	is_int(ledger_bad, 0, "the energy ledger balances every frame");
	ok(s.poker_hands == s.poker_games + s.plant_poker_games && s.poker_energy_moved > 0,
	   "poker_hands and poker_energy_moved are counted");
	ok(copy && tank_state_hash(copy) == tank_state_hash(t),
	   "the restored tank is bit-identical %d frames later", frames / 2);

	/* A tank saved before real poker has no "poker" object: it loads with empty books. */
	json_object *j = tank_to_json(t);
	json_object_object_del(j, "poker");
	struct tank *old = NULL;
	struct json_err e;
	is_int(tank_from_json(j, &old, &e), 0, "a snapshot without poker books loads");
	struct tank_stats so;
	if (old)
		tank_get_stats(old, &so);
	ok(old && so.poker_energy_moved == 0 && so.poker_births == 0, "with its books at zero");
	json_object_put(j);
	j = tank_to_json(t);
	json_object *pk = key(j, "poker");
	json_object_object_add(pk, "energy_moved", json_object_new_double(-1));
	struct tank *neg = NULL;
	ok(tank_from_json(j, &neg, &e) < 0, "negative poker books are refused (%s)", e.msg);
	json_object_put(j);
	tank_free(old);
	tank_free(copy);
	tank_free(t);
	return tap_done();
}
