/* Poker games between a person and fish (poker_games.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "poker_games.h"
#include "sim/cards.h"
#include "xalloc.h"

/* The person's autopilot: a balanced player. */
static const struct holdem_style autopilot_style = {0.35, 0.65, 1.2, 0.1, 0.5, 0.6};

struct poker_game {
	char id[UUID_STR_LEN];
	char tank_id[TANK_ID_MAX + 1];
	double last_used;
	struct rng rng;
	int n_fish;
	int n;				   /* seats this hand: 0 is the person, 1..n-1 fish */
	int seat_fish[HOLDEM_MAX_PLAYERS]; /* the fish (index) at each seat from 1 */
	int hand_number;
	int button;
	bool autopilot; /* for the rest of the current hand */
	int64_t bb;	/* chips (thousandths of energy) */
	int64_t person; /* the person's chips between hands */
	struct poker_seat_copy fish[POKER_GAME_MAX_FISH];
	double energy[POKER_GAME_MAX_FISH]; /* the fish's energy in this game */
	struct holdem_hand h;
	TAILQ_ENTRY(poker_game) link;
};

struct poker_games {
	TAILQ_HEAD(, poker_game) list;
	int n;
};

struct poker_games *poker_games_new(void)
{
	struct poker_games *g = xcalloc(1, sizeof *g);
	TAILQ_INIT(&g->list);
	return g;
}

void poker_games_remove(struct poker_games *g, struct poker_game *game)
{
	TAILQ_REMOVE(&g->list, game, link);
	g->n--;
	free(game);
}

void poker_games_free(struct poker_games *g)
{
	if (!g)
		return;
	struct poker_game *x;
	while ((x = TAILQ_FIRST(&g->list)))
		poker_games_remove(g, x);
	free(g);
}

void poker_games_expire(struct poker_games *g, double now)
{
	struct poker_game *x = TAILQ_FIRST(&g->list), *next;
	for (; x; x = next) {
		next = TAILQ_NEXT(x, link);
		if (now - x->last_used > POKER_GAME_IDLE)
			poker_games_remove(g, x);
	}
}

struct poker_game *poker_games_find(struct poker_games *g, const char *tank_id, const char *game_id)
{
	struct poker_game *x;
	TAILQ_FOREACH (x, &g->list, link)
		if (strcmp(x->id, game_id) == 0 && strcmp(x->tank_id, tank_id) == 0)
			return x;
	return NULL;
}

void poker_game_touch(struct poker_game *game, double now)
{
	game->last_used = now;
}

const char *poker_game_id(const struct poker_game *game)
{
	return game->id;
}

/* What a fish can stake: rounded down, never more than it has; 0 below one chip. */
static int64_t chips_down(double energy)
{
	double c = floor(energy * 1000.0);
	return c < 1 ? 0 : c > HOLDEM_MAX_STACK ? HOLDEM_MAX_STACK : (int64_t)c;
}

/* An amount the person names (or a big blind): to the nearest chip, since the amounts
 * the game shows are printed to three decimals and 2.010 is 2009.999... thousandths as
 * a double (rounding down refused the shown minimum raise). At least one chip. */
static int64_t chips_near(double energy)
{
	double c = nearbyint(energy * 1000.0);
	return c < 1 ? 1 : c > HOLDEM_MAX_STACK ? HOLDEM_MAX_STACK : (int64_t)c;
}

static const struct poker_seat_copy *fish_at(const struct poker_game *game, int seat)
{
	return &game->fish[game->seat_fish[seat]];
}

/* Plays the fish (and the person on autopilot) until the person must act or the hand
 * ends; then settles the fish's energy in the game. */
static void run(struct poker_game *game)
{
	struct holdem_hand *h = &game->h;
	while (h->to_act >= 0 && (h->to_act != 0 || game->autopilot)) {
		int64_t to = 0;
		const struct holdem_style *st = h->to_act == 0 ? &autopilot_style
							       : &fish_at(game, h->to_act)->style;
		holdem_act(h, holdem_decide(h, st, &game->rng, &to), to);
	}
	if (h->to_act >= 0)
		return;
	game->autopilot = false;
	game->person = h->stack[0] + h->won[0];
	for (int i = 1; i < game->n; i++) {
		int64_t d = h->won[i] - h->total[i];
		double x = d / 1000.0, *e = &game->energy[game->seat_fish[i]];
		/* The tank's rule: a winner pays the house cut on its net gain. */
		*e = fmax(0.0, *e + (x > 0 ? x * (1 - fish_at(game, i)->house_cut) : x));
	}
}

/* -ENOENT when no fish has a chip left to stake: a fish sits out a hand it cannot
 * stake (a stack of nothing would win energy from nowhere). */
static int deal(struct poker_game *game)
{
	int64_t stacks[HOLDEM_MAX_PLAYERS];
	stacks[0] = game->person;
	int n = 1;
	for (int i = 0; i < game->n_fish; i++) {
		int64_t c = chips_down(fmin(game->energy[i] * POKER_STAKE_SHARE,
					    POKER_STAKE_BB * game->bb / 1000.0));
		if (c > 0) {
			game->seat_fish[n] = i;
			stacks[n++] = c;
		}
	}
	if (n < 2)
		return -ENOENT;
	game->n = n;
	game->hand_number++;
	holdem_deal(&game->h, game->n, stacks, game->bb, game->button % n, &game->rng);
	game->button = (game->button % n + 1) % n;
	run(game);
	return 0;
}

int poker_games_create(struct poker_games *g, const char *tank_id,
		       const struct poker_seat_copy *fish, int n, double person_chips,
		       uint64_t seed, double now, struct poker_game **ret)
{
	poker_games_expire(g, now);
	if (g->n >= POKER_GAMES_MAX)
		return -ENOSPC;
	if (n < 1 || n > POKER_GAME_MAX_FISH)
		return -EINVAL;
	struct poker_game *game = xcalloc(1, sizeof *game);
	uuid_random_str(game->id);
	snprintf(game->tank_id, sizeof game->tank_id, "%s", tank_id);
	game->last_used = now;
	rng_seed(&game->rng, seed);
	game->n_fish = n;
	double bet = POKER_BET_MAX;
	for (int i = 0; i < n; i++) {
		game->fish[i] = fish[i];
		game->energy[i] = fish[i].energy;
		bet = fmin(bet, fish[i].bet_cap);
	}
	/* The tank's bet rule, but never below a tenth of energy, so a poor fish can sit. */
	game->bb = chips_near(fmax(bet, 0.1));
	game->person = person_chips > 0 ? chips_near(person_chips) : 100 * game->bb;
	if (deal(game) < 0) {
		free(game);
		return -ENOENT;
	}
	TAILQ_INSERT_TAIL(&g->list, game, link);
	g->n++;
	*ret = game;
	return 0;
}

int poker_game_act(struct poker_game *game, const char *action, double amount)
{
	struct holdem_hand *h = &game->h;
	static const struct {
		const char *name;
		enum holdem_act act;
	} names[] = {{"fold", HOLDEM_FOLD}, {"check", HOLDEM_CHECK}, {"call", HOLDEM_CALL},
		     {"bet", HOLDEM_BET},   {"raise", HOLDEM_RAISE}, {"allin", HOLDEM_RAISE}};
	int k = -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(action, names[i].name) == 0)
			k = (int)i;
	if (k < 0 && strcmp(action, "autopilot") != 0)
		return -EINVAL;
	if (h->to_act != 0)
		return -EBUSY;
	if (k < 0) {
		game->autopilot = true;
		run(game);
		return 0;
	}
	int64_t call, min_to, max_to, to = 0;
	holdem_options(h, &call, &min_to, &max_to);
	enum holdem_act a = names[k].act;
	if (strcmp(action, "allin") == 0) {
		/* All-in: a raise to everything when raising is open, else a call. */
		to = max_to;
		if (min_to > max_to)
			a = call > 0 ? HOLDEM_CALL : HOLDEM_CHECK;
	} else if (a == HOLDEM_BET || a == HOLDEM_RAISE) {
		if (!(amount > 0) || !isfinite(amount) || min_to > max_to)
			return -EINVAL;
		to = chips_near(amount);
		if (to < min_to || to > max_to)
			return -EINVAL;
	} else if ((a == HOLDEM_CHECK && call > 0) || (a == HOLDEM_FOLD && call == 0)) {
		/* A fold with nothing to call would be played as a check: say so instead. */
		return -EINVAL;
	}
	holdem_act(h, a, to);
	run(game);
	return 0;
}

int poker_game_deal(struct poker_game *game)
{
	if (game->h.to_act >= 0)
		return -EBUSY;
	/* Less than a big blind plays all-in for less, as the first hand did and as a
	 * fish does; it was refused, after a game made with such chips had dealt its
	 * first hand (a researcher's audit). */
	if (game->person <= 0)
		return -ENOSPC;
	return deal(game);
}

#define E(c) jv_new_decimal((double)(c) / 1000.0, 3)

static json_object *cards_json(const uint8_t *c, int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++) {
		char s[3];
		cards_str(c[i], s);
		json_object_array_add(a, json_object_new_string(s));
	}
	return a;
}

static const char *seat_name(const struct poker_game *game, int seat)
{
	return seat == 0 ? "you" : fish_at(game, seat)->id;
}

json_object *poker_game_json(const struct poker_game *game, double now)
{
	const struct holdem_hand *h = &game->h;
	bool over = h->to_act < 0;
	json_object *o = json_object_new_object(), *players = json_object_new_array(),
		    *actions = json_object_new_array();
	json_object_object_add(o, "game_id", json_object_new_string(game->id));
	json_object_object_add(o, "tank_id", json_object_new_string(game->tank_id));
	json_object_object_add(o, "hand_number", json_object_new_int(game->hand_number));
	json_object_object_add(o, "big_blind", E(game->bb));
	json_object_object_add(o, "button", json_object_new_string(seat_name(game, h->button)));
	for (int i = 0; i < h->n; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "player", json_object_new_string(seat_name(game, i)));
		if (i > 0)
			json_object_object_add(p, "strategy",
					       json_object_new_string(sim_poker_strategy_name(
						       (size_t)fish_at(game, i)->strategy)));
		json_object_object_add(p, "stack", E(h->stack[i]));
		json_object_object_add(p, "in_pot", E(h->total[i]));
		json_object_object_add(p, "folded", json_object_new_boolean(h->folded[i]));
		bool show = i == 0 || (over && h->showdown && !h->folded[i]);
		json_object_object_add(p, "hole", show ? cards_json(h->hole[i], 2) : NULL);
		if (over)
			json_object_object_add(p, "won", E(h->won[i]));
		json_object_array_add(players, p);
	}
	json_object_object_add(o, "players", players);
	json_object_object_add(o, "board", cards_json(h->board, h->n_board));
	int64_t pot = 0;
	for (int i = 0; i < h->n; i++)
		pot += h->total[i];
	json_object_object_add(o, "pot", E(pot));
	json_object_object_add(o, "street", json_object_new_string(holdem_street_name(h->street)));
	for (int i = 0; i < h->n_actions; i++) {
		const struct holdem_action *x = &h->actions[i];
		json_object *a = json_object_new_object();
		json_object_object_add(a, "player",
				       json_object_new_string(seat_name(game, x->seat)));
		json_object_object_add(a, "street",
				       json_object_new_string(holdem_street_name(x->street)));
		json_object_object_add(a, "action", json_object_new_string(holdem_act_name(x->act)));
		json_object_object_add(a, "amount", E(x->amount));
		json_object_array_add(actions, a);
	}
	json_object_object_add(o, "actions", actions);
	json_object_object_add(o, "hand_over", json_object_new_boolean(over));
	json_object_object_add(o, "your_turn", json_object_new_boolean(h->to_act == 0));
	if (h->to_act == 0) {
		int64_t call, min_to, max_to;
		holdem_options(h, &call, &min_to, &max_to);
		json_object *op = json_object_new_object();
		json_object_object_add(op, "to_call", E(call));
		json_object_object_add(op, "can_raise", json_object_new_boolean(min_to <= max_to));
		if (min_to <= max_to) {
			json_object_object_add(op, "min_raise_to", E(min_to));
			json_object_object_add(op, "max_raise_to", E(max_to));
		}
		json_object_object_add(o, "options", op);
	}
	if (over) {
		json_object *w = json_object_new_array();
		for (int i = 0; i < h->n; i++)
			if (h->winners & (1u << i))
				json_object_array_add(w, json_object_new_string(seat_name(game, i)));
		json_object_object_add(o, "winners", w);
		json_object_object_add(o, "showdown", json_object_new_boolean(h->showdown));
		json_object_object_add(o, "winning_hand",
				       h->showdown ? json_object_new_string(cards_category_name(
							     cards_category_of(h->best)))
						   : NULL);
	}
	json_object_object_add(o, "your_chips", E(over ? game->person : h->stack[0]));
	json_object_object_add(o, "expires_in",
			       jv_new_seconds(fmax(0, POKER_GAME_IDLE - (now - game->last_used))));
	return o;
}
