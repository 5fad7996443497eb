/* Poker inside a tank, over a long run: every recorded hand is well-formed and every
 * showdown is won by exactly the best hands; the house cut is a share of the winners' net
 * gain and no fish stakes more than its cap; the energy ledger balances every frame; a
 * restored tank continues bit-identically; old snapshots without poker books still load.
 * Then scripted tables of fish set up by hand: a group of seven all plays, and post-poker
 * births follow heads-up hands only. */
#include "config.h"

#include "sim-test.h"
#include "simd/sim/cards.h"
#include "simd/sim/internal.h"
#include "simd/sim/poker.h"
#include "tap.h"

/* The house's share of a winner's net gain: the original's min(0.25, 0.08 + ...). */
#define HOUSE_CUT_MIN 0.08
#define HOUSE_CUT_MAX 0.25

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

static bool fish_only(json_object *h)
{
	json_object *players = key(h, "players");
	for (size_t i = 0; i < json_object_array_length(players); i++)
		if (strcmp(json_object_get_string(
				   key(json_object_array_get_idx(players, i), "kind")),
			   "fish") != 0)
			return false;
	return true;
}

/* Whether the house cut of a hand is wrong. It is a share of what the winners gained,
 * won minus put in, between HOUSE_CUT_MIN and HOUSE_CUT_MAX of it for each: a cut on
 * what they won gross would also take from their own chips coming back (the ledger
 * balances either way). Games against a plant pay none. */
static bool bad_house_cut(json_object *h)
{
	json_object *players = key(h, "players"), *acts = key(h, "actions");
	size_t n = json_object_array_length(players);
	double gain = 0, pot = json_object_get_double(key(h, "pot"));
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(players, i);
		const char *id = json_object_get_string(key(p, "fish_id"));
		double in = 0;
		for (size_t k = 0; k < json_object_array_length(acts); k++) {
			json_object *a = json_object_array_get_idx(acts, k);
			if (strcmp(json_object_get_string(key(a, "fish_id")), id) == 0)
				in += json_object_get_double(key(a, "amount"));
		}
		gain += fmax(0, json_object_get_double(key(p, "won")) - in);
	}
	double cut = json_object_get_double(key(h, "house_cut")), eps = 1e-9 * fmax(1, pot);
	if (!fish_only(h))
		return cut != 0;
	return cut > HOUSE_CUT_MAX * gain + eps || cut < HOUSE_CUT_MIN * gain - eps;
}

/* How many fish of a fish-only hand brought more than POKER_STAKE_BB big blinds. Stack
 * and big blind are both rounded down to whole chips, so a stack may exceed the product
 * by POKER_STAKE_BB chips. */
static int over_stake_cap(json_object *h)
{
	json_object *players = key(h, "players");
	double cap = POKER_STAKE_BB * json_object_get_double(key(h, "big_blind")) +
		     POKER_STAKE_BB / POKER_CHIPS + 1e-9;
	int over = 0;
	if (!fish_only(h))
		return 0;
	for (size_t i = 0; i < json_object_array_length(players); i++)
		over += json_object_get_double(
				key(json_object_array_get_idx(players, i), "stack_before")) > cap;
	return over;
}

/* A quiet tank of n grown fish (adults, who may mate after poker) side by side, well
 * within the mating radius; ready() sets their energy before each hand. */
static struct tank *table_tank(uint64_t seed, int n)
{
	struct tank_params p = quiet_params(seed, n);
	p.max_fish = 1000; /* room for every child the scripted hands may have */
	struct tank *t = tank_new(&p, "poker-table-test");
	for (int i = 0; i < n; i++) {
		struct fish *f = &t->fish[i];
		f->age = (STAGE_JUVENILE_END + STAGE_ADULT_END) / 2;
		f->g.t[T_MAX_ENERGY] = 1.5; /* the most a fish can hold: 150 */
		f->x = t->fish[0].x;
		f->y = t->fish[0].y;
	}
	return t;
}

/* Makes fish i ready for another hand and for mating after it. */
static void ready(struct tank *t, int i, double energy)
{
	struct fish *f = &t->fish[i];
	f->energy = energy;
	f->repro_cooldown = 0;
	f->poker_cooldown = 0;
	f->pregnant = false;
}

/* A group of seven ready fish: two tables (4 + 3), everyone plays, and nobody brings
 * more than POKER_STAKE_BB big blinds, however rich. */
static void test_group_tables(void)
{
	struct tank *t = table_tank(11, 7);
	/* One poor fish lowers its table's big blind; the rich ones could stake 70 each
	 * (half their energy), far more than ten big blinds at either table. */
	ready(t, 0, 12);
	for (int i = 1; i < 7; i++)
		ready(t, i, 140);
	int players[7] = {0, 1, 2, 3, 4, 5, 6};
	uint64_t games = t->poker_games, hands = t->poker_games + t->plant_poker_games;
	poker_play_fish(t, players, 7);
	is_int(t->poker_games - games, 2, "seven ready fish in one group play at two tables");
	int played = 0;
	for (int i = 0; i < 7; i++)
		played += t->fish[i].poker_cooldown == POKER_COOLDOWN;
	is_int(played, 7, "all seven fish of the group played a hand (none left out)");
	struct tank_stats s;
	tank_get_stats(t, &s);
	json_object *o = tank_poker_hands_json(t, 2);
	json_object *a = key(o, "hands");
	size_t seats = 0, over = 0;
	for (size_t k = 0; k < json_object_array_length(a); k++) {
		json_object *h = json_object_array_get_idx(a, k);
		seats += json_object_array_length(key(h, "players"));
		over += over_stake_cap(h);
	}
	ok(s.poker_hands - hands == 2 && seats == 7,
	   "the two hands logged seat the seven fish (%zu seats)", seats);
	is_int(over, 0, "a rich fish brings at most %g big blinds to a hand, not half its energy",
	       POKER_STAKE_BB);
	json_object_put(o);
	tank_free(t);
}

/* Post-poker mating follows heads-up hands only: the same three ready fish breed after
 * heads-up hands, never after three-handed ones. */
static void test_births_heads_up_only(void)
{
	struct tank *t = table_tank(12, 3);
	int players[3] = {0, 1, 2};
	uint64_t births = t->poker_births;
	/* A table's cards come from its frame and its first player: a frame for each hand. */
	for (int k = 0; k < 300; k++) {
		for (int i = 0; i < 3; i++)
			ready(t, i, 100);
		t->frame++;
		poker_play_fish(t, players, 3);
	}
	is_int(t->poker_births - births, 0,
	       "300 three-handed hands between ready fish side by side: no poker birth");
	births = t->poker_births;
	for (int k = 0; k < 300; k++) {
		for (int i = 0; i < 2; i++)
			ready(t, i, 100);
		t->frame++;
		poker_play_fish(t, players, 2);
	}
	/* The same fish do breed after heads-up hands: the check above is not vacuous. */
	ok(t->poker_births > births, "300 heads-up hands between two of them: poker births (%llu)",
	   (unsigned long long)(t->poker_births - births));
	tank_free(t);
}

/* The hole cards of a hand, sorted: the same deck dealt to the same number of seats gives
 * the same key whoever has the button. */
static void hole_key(json_object *h, char *out, size_t size)
{
	json_object *players = key(h, "players");
	int cards[12], n = 0;
	for (size_t i = 0; i < json_object_array_length(players) && n < 11; i++) {
		json_object *hole = key(json_object_array_get_idx(players, i), "hole");
		for (size_t k = 0; k < 2; k++)
			cards[n++] = card_of(json_object_array_get_idx(hole, k));
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && cards[j - 1] > cards[j]; j--) {
			int c = cards[j];
			cards[j] = cards[j - 1];
			cards[j - 1] = c;
		}
	size_t at = 0;
	for (int i = 0; i < n && at + 4 < size; i++)
		at += (size_t)snprintf(out + at, size - at, "%d,", cards[i]);
}

/* Each table of a frame is dealt from its own stream (rules 4): a new tank's first frame
 * seats dozens of tables, and no two of them hold the same cards. */
static void test_tables_own_decks(void)
{
	struct tank *t = tank_first_frame(77, 400, 400, "poker-decks-test");
	json_object *o = tank_poker_hands_json(t, 1000);
	json_object *a = key(o, "hands");
	size_t n = json_object_array_length(a), same = 0, pairs = 0;
	char keys[200][64];
	size_t m = n < 200 ? n : 200;
	for (size_t i = 0; i < m; i++)
		hole_key(json_object_array_get_idx(a, i), keys[i], sizeof keys[i]);
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++) {
			json_object *hi = json_object_array_get_idx(a, i);
			json_object *hj = json_object_array_get_idx(a, j);
			if (json_object_get_int64(key(hi, "frame")) !=
				    json_object_get_int64(key(hj, "frame")) ||
			    json_object_array_length(key(hi, "players")) !=
				    json_object_array_length(key(hj, "players")))
				continue;
			pairs++;
			same += strcmp(keys[i], keys[j]) == 0;
		}
	ok(pairs >= 100 && same == 0,
	   "the %zu tables of a new tank's first frame hold different cards (%zu pairs alike "
	   "in seats, %zu with the same cards)",
	   m, pairs, same);
	json_object_put(o);
	tank_free(t);
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
	long bad_cut = 0, over_cap = 0;
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
				bad_cut += bad_house_cut(h);
				over_cap += over_stake_cap(h);
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
	is_int(bad_cut, 0,
	       "the house takes %g to %g of each winner's net gain, never of its gross win, and "
	       "nothing from a game against a plant",
	       HOUSE_CUT_MIN, HOUSE_CUT_MAX);
	is_int(over_cap, 0, "no fish brings more than %g big blinds to a hand", POKER_STAKE_BB);
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
	test_group_tables();
	test_births_heads_up_only();
	test_tables_own_decks();
	return tap_done();
}
