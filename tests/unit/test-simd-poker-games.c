/* Games between a person and fish (simd/poker_games.c): stakes and amounts in chips,
 * fish that run out of energy, and what an action may not silently become. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/poker_games.h"
#include "tap.h"

static struct poker_seat_copy seat(const char *id, double energy)
{
	struct poker_seat_copy s = {.energy = energy, .bet_cap = 1.0, .house_cut = 0.1};
	snprintf(s.id, sizeof s.id, "%s", id);
	/* A player that calls and never raises, so that hands reach the person. */
	s.style = (struct holdem_style){0, 0, 1, 0, 0, 0};
	return s;
}

static double num(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : NAN;
}

static json_object *player(json_object *g, int i)
{
	json_object *ps;
	json_object_object_get_ex(g, "players", &ps);
	return json_object_array_get_idx(ps, (size_t)i);
}

static size_t players(json_object *g)
{
	json_object *ps;
	return json_object_object_get_ex(g, "players", &ps) ? json_object_array_length(ps) : 0;
}

int main(void)
{
	struct poker_games *gs = poker_games_new();
	struct poker_game *g = NULL;
	const char *a = "00000000-0000-4000-8000-00000000000a",
		   *b = "00000000-0000-4000-8000-00000000000b";

	/* The person's chips as given: 16.339 is 16338.99... thousandths as a double. */
	struct poker_seat_copy two[] = {seat(a, 50), seat(b, 0.0004)};
	is_int(poker_games_create(gs, "t", two, 2, 16.339, 7, 0, &g), 0, "a game starts");
	json_object *j = poker_game_json(g, 0);
	json_object *you = player(j, 0);
	ok(fabs(num(you, "stack") + num(you, "in_pot") - 16.339) < 1e-9,
	   "the person has the chips asked for (%.3f)", num(you, "stack") + num(you, "in_pot"));
	/* A fish without a chip of energy sits out: a stake of nothing could win energy
	 * from nowhere. */
	is_int((int)players(j), 2, "a fish with less than a chip of energy is not seated");
	json_object_put(j);

	/* Play until the person may raise: the minimum shown is accepted as shown. */
	int raised = 0, folds_refused = 0, turns = 0;
	for (int hand = 0; hand < 40 && turns < 400; hand++) {
		j = poker_game_json(g, 0);
		json_object *opts, *v;
		while (json_object_object_get_ex(j, "options", &opts) && turns++ < 400) {
			double call = num(opts, "to_call");
			if (call == 0 && poker_game_act(g, "fold", 0) == -EINVAL)
				folds_refused++;
			int r;
			if (json_object_object_get_ex(opts, "min_raise_to", &v)) {
				/* As a client reads it: the decimal text. */
				double to = strtod(json_object_to_json_string(v), NULL);
				r = poker_game_act(g, "raise", to);
				raised += r == 0;
				if (r != 0) {
					ok(0, "a raise to the minimum shown (%s) is refused",
					   json_object_to_json_string(v));
					break;
				}
			} else {
				r = poker_game_act(g, call > 0 ? "call" : "check", 0);
			}
			json_object_put(j);
			j = poker_game_json(g, 0);
		}
		json_object_put(j);
		if (poker_game_deal(g) != 0)
			break;
	}
	ok(raised >= 5, "raises to the minimum shown are taken (%d)", raised);
	ok(folds_refused >= 1, "a fold with nothing to call is refused, not played as a check (%d)",
	   folds_refused);

	/* Less than a big blind plays all-in for less, hand after hand, as the first hand
	 * of a game made with such chips did; only no chip at all ends the person's play.
	 * It was refused from the second hand on (a researcher's audit). */
	int short_dealt = 0, wrong = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct poker_seat_copy pair[] = {seat(a, 50), seat(b, 50)};
		g = NULL;
		if (poker_games_create(gs, "t", pair, 2, 0.4, seed, 0, &g) != 0) {
			wrong++;
			continue;
		}
		for (int hand = 0; hand < 6; hand++) {
			poker_game_act(g, "autopilot", 0);
			j = poker_game_json(g, 0);
			double chips = num(j, "your_chips"), bb = num(j, "big_blind");
			json_object_put(j);
			int r = poker_game_deal(g);
			if ((chips > 0) != (r == 0))
				wrong++;
			if (r != 0)
				break;
			short_dealt += chips < bb;
		}
	}
	ok(short_dealt > 0 && wrong == 0,
	   "less than a big blind is dealt in (%d hands), no chip is not (%d wrong)", short_dealt,
	   wrong);

	/* No fish with a chip: no game. */
	struct poker_seat_copy broke[] = {seat(a, 0.001), seat(b, 0)};
	g = NULL;
	is_int(poker_games_create(gs, "t", broke, 2, 10, 7, 0, &g), -ENOENT,
	       "no game when no fish has a chip to stake");
	poker_games_free(gs);
	return tap_done();
}
