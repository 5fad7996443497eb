/* No-limit Texas Hold'em for 2 to 6 players (holdem.h): dealing, betting, side pots, and
 * the computer player's decisions. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/cards.h"
#include "simd/sim/holdem.h"

static const char *const act_names[HOLDEM_ACT_COUNT] = {"small_blind", "big_blind", "fold", "check",
							"call",	       "bet",	    "raise"};
static const char *const street_names[] = {"preflop", "flop", "turn", "river", "done"};

const char *holdem_act_name(enum holdem_act a)
{
	return (unsigned)a < HOLDEM_ACT_COUNT ? act_names[a] : "unknown";
}

const char *holdem_street_name(int street)
{
	return street >= 0 && street <= HOLDEM_DONE ? street_names[street] : "unknown";
}

static void record(struct holdem_hand *h, int seat, enum holdem_act a, int64_t amount)
{
	if (h->n_actions >= HOLDEM_MAX_ACTIONS)
		return; /* cannot happen with the raise cap; the hand still plays correctly */
	struct holdem_action *x = &h->actions[h->n_actions++];
	x->seat = (uint8_t)seat;
	x->street = (uint8_t)h->street;
	x->act = (uint8_t)a;
	x->all_in = h->stack[seat] == 0;
	x->amount = (int32_t)amount;
}

static int64_t put(struct holdem_hand *h, int seat, int64_t amount)
{
	if (amount > h->stack[seat])
		amount = h->stack[seat];
	h->stack[seat] -= amount;
	h->street_in[seat] += amount;
	h->total[seat] += amount;
	return amount;
}

static bool can_act(const struct holdem_hand *h, int i)
{
	return !h->folded[i] && h->stack[i] > 0;
}

static int live_count(const struct holdem_hand *h)
{
	int k = 0;
	for (int i = 0; i < h->n; i++)
		k += !h->folded[i];
	return k;
}

/* The most another live player has put in this street: what seat must match when no one
 * else can act. Below cur_bet only when the big blind went all-in for less than it: a
 * small blind that already covers that has nothing left to decide. */
static int64_t most_in(const struct holdem_hand *h, int seat)
{
	int64_t m = 0;
	for (int i = 0; i < h->n; i++)
		if (i != seat && !h->folded[i] && h->street_in[i] > m)
			m = h->street_in[i];
	return m;
}

/* The first seat after `from` (cyclically, from excluded) that still has to act. */
static int next_needing(const struct holdem_hand *h, int from)
{
	for (int k = 1; k <= h->n; k++) {
		int i = (from + k) % h->n;
		if (h->need[i] && can_act(h, i))
			return i;
	}
	return -1;
}

/* The pots, lowest contribution level first: each level is a pot that only the live
 * players who put in that much can win, split among the best hands there (odd chips
 * one each from the button's left). A level no live player reached holds only what
 * folders put in beyond every live player (a big blind all-in for less than the small
 * blind, left uncalled): it goes back to them, as an uncalled bet does. */
static void pay_levels(struct holdem_hand *h)
{
	int64_t prev = 0;
	for (;;) {
		int64_t level = INT64_MAX;
		for (int i = 0; i < h->n; i++)
			if (h->total[i] > prev && h->total[i] < level)
				level = h->total[i];
		if (level == INT64_MAX)
			break;
		int64_t chunk = 0;
		uint32_t best = 0;
		bool contested = false;
		for (int i = 0; i < h->n; i++) {
			int64_t hi = h->total[i] < level ? h->total[i] : level;
			if (hi > prev)
				chunk += hi - prev;
			if (!h->folded[i] && h->total[i] >= level) {
				contested = true;
				if (h->value[i] > best)
					best = h->value[i];
			}
		}
		if (!contested) {
			for (int i = 0; i < h->n; i++)
				if (h->total[i] >= level)
					h->won[i] += level - prev;
			prev = level;
			continue;
		}
		int k = 0;
		uint8_t mask = 0;
		for (int i = 0; i < h->n; i++)
			if (!h->folded[i] && h->total[i] >= level && h->value[i] == best) {
				mask |= (uint8_t)(1u << i);
				k++;
			}
		int64_t share = chunk / k, odd = chunk % k;
		for (int j = 1; j <= h->n; j++) {
			int i = (h->button + j) % h->n;
			if (!(mask & (1u << i)))
				continue;
			h->won[i] += share + (odd > 0);
			if (odd > 0)
				odd--;
		}
		prev = level;
	}
}

static void settle(struct holdem_hand *h)
{
	h->to_act = -1;
	h->street = HOLDEM_DONE;
	h->pot = 0;
	for (int i = 0; i < h->n; i++)
		h->pot += h->total[i];
	if (live_count(h) == 1) {
		/* Everyone else folded: no cards are shown, and the one left wins every
		 * level it reached (its values are all 0, so it is the best there). */
		for (int i = 0; i < h->n; i++)
			if (!h->folded[i])
				h->winners = (uint8_t)(1u << i);
		pay_levels(h);
		return;
	}
	h->n_board = 5;
	memcpy(h->board, h->deck_rest, 5);
	h->showdown = true;
	for (int i = 0; i < h->n; i++) {
		if (h->folded[i])
			continue;
		uint8_t c[7] = {h->hole[i][0], h->hole[i][1], h->board[0], h->board[1],
				h->board[2],   h->board[3],   h->board[4]};
		h->value[i] = cards_eval(c, 7);
		if (h->value[i] > h->best)
			h->best = h->value[i];
	}
	for (int i = 0; i < h->n; i++)
		if (!h->folded[i] && h->value[i] == h->best)
			h->winners |= (uint8_t)(1u << i);
	pay_levels(h);
}

/* Closes the street: the next one (dealing its cards), or the end of the hand. */
static void next_street(struct holdem_hand *h)
{
	for (;;) {
		if (live_count(h) <= 1 || h->street == HOLDEM_RIVER) {
			settle(h);
			return;
		}
		h->street++;
		h->n_board = h->street == HOLDEM_FLOP ? 3 : h->street == HOLDEM_TURN ? 4 : 5;
		memcpy(h->board, h->deck_rest, (size_t)h->n_board);
		h->cur_bet = 0;
		h->min_raise = h->bb;
		h->raises = 0;
		int able = 0;
		for (int i = 0; i < h->n; i++) {
			h->street_in[i] = 0;
			h->need[i] = h->reopen[i] = can_act(h, i);
			able += can_act(h, i);
		}
		if (able >= 2) {
			h->to_act = next_needing(h, h->button);
			return;
		}
		/* Everyone but one is all-in: no betting, the board runs out. */
	}
}

void holdem_deal(struct holdem_hand *h, int n, const int64_t *stacks, int64_t bb, int button,
		 struct rng *r)
{
	memset(h, 0, sizeof *h);
	n = n < 2 ? 2 : n > HOLDEM_MAX_PLAYERS ? HOLDEM_MAX_PLAYERS : n;
	button = (button % n + n) % n;
	h->n = n;
	h->button = button;
	h->bb = bb;
	uint8_t deck[CARDS_DECK];
	for (int i = 0; i < CARDS_DECK; i++)
		deck[i] = (uint8_t)i;
	int need = 2 * n + 5;
	for (int i = 0; i < need; i++) {
		int j = i + (int)rng_below(r, (uint64_t)(CARDS_DECK - i));
		uint8_t x = deck[i];
		deck[i] = deck[j];
		deck[j] = x;
	}
	for (int i = 0; i < n; i++) {
		int64_t st = stacks[i] < 1		    ? 1
			     : stacks[i] > HOLDEM_MAX_STACK ? HOLDEM_MAX_STACK
							    : stacks[i];
		h->stack[i] = h->start[i] = st;
		/* One card each round the table, starting left of the button. */
		int seat = (button + 1 + i) % n;
		h->hole[seat][0] = deck[i];
		h->hole[seat][1] = deck[n + i];
		h->need[i] = h->reopen[i] = true;
	}
	memcpy(h->deck_rest, deck + 2 * n, 5);
	int sb = n == 2 ? button : (button + 1) % n, bbs = (sb + 1) % n;
	record(h, sb, HOLDEM_SMALL_BLIND, put(h, sb, bb / 2));
	record(h, bbs, HOLDEM_BIG_BLIND, put(h, bbs, bb));
	h->cur_bet = bb;
	h->min_raise = bb;
	int able = 0;
	for (int i = 0; i < n; i++)
		able += can_act(h, i);
	/* The big blind may still raise when everyone just calls. */
	h->to_act = next_needing(h, bbs);
	if (able < 2) {
		/* Blinds put all but one player all-in: the last may still owe a call. */
		int i = h->to_act;
		if (i < 0 || h->street_in[i] >= most_in(h, i))
			next_street(h);
	}
}

void holdem_options(const struct holdem_hand *h, int64_t *to_call, int64_t *min_to, int64_t *max_to)
{
	int s = h->to_act;
	*to_call = *min_to = 1;
	*max_to = 0;
	if (s < 0)
		return;
	int64_t owe = h->cur_bet - h->street_in[s];
	*to_call = owe < h->stack[s] ? owe : h->stack[s];
	bool others = false; /* someone else could still call a raise */
	for (int i = 0; i < h->n; i++)
		others |= i != s && can_act(h, i);
	if (!h->reopen[s] || h->raises >= HOLDEM_RAISE_CAP || h->stack[s] <= owe || !others)
		return;
	*max_to = h->street_in[s] + h->stack[s];
	*min_to = h->cur_bet == 0 ? h->bb : h->cur_bet + h->min_raise;
	if (*min_to > *max_to)
		*min_to = *max_to; /* all-in for less than a full raise */
}

enum holdem_act holdem_act(struct holdem_hand *h, enum holdem_act a, int64_t to)
{
	int s = h->to_act;
	if (s < 0)
		return HOLDEM_FOLD;
	int64_t to_call, min_to, max_to;
	holdem_options(h, &to_call, &min_to, &max_to);
	if ((a == HOLDEM_BET || a == HOLDEM_RAISE) && min_to > max_to)
		a = HOLDEM_CALL;
	if (a == HOLDEM_FOLD && to_call == 0)
		a = HOLDEM_CHECK;
	if (a == HOLDEM_CHECK && to_call > 0)
		a = HOLDEM_CALL;
	if (a == HOLDEM_CALL && to_call == 0)
		a = HOLDEM_CHECK;
	if (a == HOLDEM_SMALL_BLIND || a == HOLDEM_BIG_BLIND || (unsigned)a >= HOLDEM_ACT_COUNT)
		a = to_call > 0 ? HOLDEM_CALL : HOLDEM_CHECK;
	int64_t amount = 0;
	switch (a) {
	case HOLDEM_FOLD:
		h->folded[s] = true;
		break;
	case HOLDEM_CHECK:
		break;
	case HOLDEM_CALL:
		amount = put(h, s, to_call);
		break;
	default: {
		to = to < min_to ? min_to : to > max_to ? max_to : to;
		a = h->cur_bet == 0 ? HOLDEM_BET : HOLDEM_RAISE;
		int64_t raise = to - h->cur_bet;
		bool full = raise >= h->min_raise;
		amount = put(h, s, to - h->street_in[s]);
		if (full)
			h->min_raise = raise;
		h->cur_bet = to;
		h->raises++;
		for (int i = 0; i < h->n; i++) {
			if (i == s || !can_act(h, i))
				continue;
			h->need[i] = true;
			if (full)
				h->reopen[i] = true;
		}
		break;
	}
	}
	h->need[s] = false;
	h->reopen[s] = false;
	record(h, s, a, amount);
	if (live_count(h) <= 1) {
		settle(h);
		return a;
	}
	int next = next_needing(h, s);
	if (next >= 0) {
		/* One player left with chips and nothing to call: nobody to bet against. */
		int able = 0;
		for (int i = 0; i < h->n; i++)
			able += can_act(h, i);
		if (able >= 2 || h->street_in[next] < most_in(h, next)) {
			h->to_act = next;
			return a;
		}
	}
	next_street(h);
	return a;
}

/* How good the made hand is after the flop, from the category of the best five cards
 * (v from cards_eval) and whether the hole cards take part in it. */
static double made_strength(const struct holdem_hand *h, int seat, uint32_t v)
{
	static const double made_of[CARDS_CATEGORY_COUNT] = {0,	  0,	0.72, 0.8, 0.86,
							     0.9, 0.95, 0.98, 1.0};
	const uint8_t *hole = h->hole[seat];
	int cat = (int)(v >> 20), top = (int)(v >> 16 & 15);
	int h0 = CARDS_RANK(hole[0]), h1 = CARDS_RANK(hole[1]);
	int hi = h0 > h1 ? h0 : h1;
	unsigned board_ranks = 0;
	int board_count[13] = {0};
	for (int i = 0; i < h->n_board; i++) {
		board_ranks |= 1u << CARDS_RANK(h->board[i]);
		board_count[CARDS_RANK(h->board[i])]++;
	}
	int board_top = 31 - __builtin_clz(board_ranks);
	double high = 0.05 + 0.15 * hi / 12.0;
	switch (cat) {
	case CARDS_HIGH_CARD:
		return high;
	case CARDS_PAIR:
		if (board_count[top] >= 2)
			return high; /* the pair is the board's */
		if (top >= board_top)
			return 0.55 + 0.1 * top / 12.0; /* top pair or an overpair */
		return 0.32 + 0.15 * top / 12.0;
	case CARDS_TWO_PAIR:
	case CARDS_TRIPS: {
		bool board_paired = false;
		for (int r = 0; r < 13; r++)
			board_paired |= board_count[r] >= 2;
		if (cat == CARDS_TRIPS && board_count[top] >= 3)
			return high;
		return made_of[cat] - (board_paired ? 0.2 : 0);
	}
	default:
		return made_of[cat];
	}
}

/* Cards that would make a flush or a straight: 9 per four-flush the hole cards are in,
 * 4 per rank that completes a straight (at most two such ranks), 15 at most. */
static int draw_outs(const uint8_t *c, int nc)
{
	unsigned all_ranks = 0;
	for (int i = 0; i < nc; i++)
		all_ranks |= 1u << CARDS_RANK(c[i]);
	int outs = 0;
	for (int su = 0; su < 4; su++) {
		int k = 0, mine = 0;
		for (int i = 0; i < nc; i++)
			if (CARDS_SUIT(c[i]) == su) {
				k++;
				mine += i < 2;
			}
		if (k == 4 && mine > 0)
			outs += 9;
	}
	int ways = 0;
	for (int r = 0; r < 13; r++)
		if (!(all_ranks & (1u << r)) && cards_straight_high(all_ranks | 1u << r) >= 0)
			ways++;
	outs += 4 * (ways > 2 ? 2 : ways);
	return outs > 15 ? 15 : outs;
}

double holdem_strength(const struct holdem_hand *h, int seat)
{
	int opp = live_count(h) - 1;
	if (opp < 1)
		opp = 1;
	const uint8_t *hole = h->hole[seat];
	double s;
	if (h->n_board == 0) {
		s = cards_preflop_strength(hole[0], hole[1]);
	} else {
		uint8_t c[7] = {hole[0], hole[1]};
		memcpy(c + 2, h->board, (size_t)h->n_board);
		int nc = 2 + h->n_board;
		uint32_t v = cards_eval(c, nc);
		s = made_strength(h, seat, v);
		if (h->n_board == 5) {
			/* Playing the board: everyone still in has at least this. */
			if (v == cards_eval(h->board, 5))
				s = fmin(s, 0.25);
		} else if ((int)(v >> 20) < CARDS_STRAIGHT) {
			double draw = draw_outs(c, nc) * (h->n_board == 3 ? 0.04 : 0.02);
			s += (1 - s) * draw;
		}
	}
	return opp == 1 ? s : pow(s, 1 + 0.5 * (opp - 1));
}

enum holdem_act holdem_decide(const struct holdem_hand *h, const struct holdem_style *st,
			      struct rng *r, int64_t *to)
{
	int s = h->to_act;
	int64_t to_call, min_to, max_to;
	holdem_options(h, &to_call, &min_to, &max_to);
	int64_t pot = 0;
	for (int i = 0; i < h->n; i++)
		pot += h->total[i];
	/* Position: 0 for the first seat after the button, 1 for the button (last to act
	 * after the flop). */
	double pos = h->n > 1 ? (double)((s - h->button - 1 + 2 * h->n) % h->n) / (h->n - 1) : 0;
	double strength = holdem_strength(h, s) + st->position * 0.1 * pos;
	bool bluff = strength < st->raise && rng_chance(r, st->bluff * st->aggression);
	if ((strength >= st->raise || bluff) && min_to <= max_to) {
		/* Size: a share of the pot after calling, larger for big multipliers and
		 * aggressive players; an all-in when little would be left behind. */
		double frac = 0.25 + 0.25 * st->raise_mult * (0.5 + st->aggression);
		int64_t want = h->cur_bet + (int64_t)((double)(pot + to_call) * frac);
		if (want < min_to)
			want = min_to;
		if (want > max_to || max_to - want < h->bb)
			want = max_to;
		*to = want;
		return h->cur_bet == 0 ? HOLDEM_BET : HOLDEM_RAISE;
	}
	if (to_call == 0)
		return HOLDEM_CHECK;
	if (bluff)
		return HOLDEM_CALL;
	/* Facing a bet: fold below the fold threshold, which rises with the price (pot odds
	 * above one in five). */
	double odds = (double)to_call / (double)(pot + to_call);
	double threshold = st->fold + (1 - st->fold) * fmax(0.0, odds - 0.2);
	return strength < threshold ? HOLDEM_FOLD : HOLDEM_CALL;
}

void holdem_play(struct holdem_hand *h, int n, const int64_t *stacks, int64_t bb, int button,
		 const struct holdem_style *styles, struct rng *r)
{
	holdem_deal(h, n, stacks, bb, button, r);
	while (h->to_act >= 0) {
		int64_t to = 0;
		enum holdem_act a = holdem_decide(h, &styles[h->to_act], r, &to);
		holdem_act(h, a, to);
	}
}
