/* The hold'em engine: scripted hands (minimum raise, raise cap, side pots, odd chips,
 * incomplete all-in raises) and many random hands checked for conservation and for
 * showdowns won by the best hands. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "simd/sim/cards.h"
#include "simd/sim/holdem.h"
#include "tap.h"

static void set_cards(struct holdem_hand *h, const char *holes[], const char *board)
{
	char b[3] = {0, 0, 0};
	for (int i = 0; i < h->n; i++) {
		b[0] = holes[i][0], b[1] = holes[i][1];
		h->hole[i][0] = (uint8_t)cards_parse(b);
		b[0] = holes[i][2], b[1] = holes[i][3];
		h->hole[i][1] = (uint8_t)cards_parse(b);
	}
	for (int i = 0; i < 5; i++) {
		b[0] = board[2 * i], b[1] = board[2 * i + 1];
		h->deck_rest[i] = (uint8_t)cards_parse(b);
	}
}

static int64_t sum(const int64_t *v, int n)
{
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void test_min_raise_and_cap(void)
{
	struct rng r;
	rng_seed(&r, 1);
	struct holdem_hand h;
	int64_t st[3] = {10000, 10000, 10000};
	holdem_deal(&h, 3, st, 100, 0, &r);
	/* Seat 1 small blind, seat 2 big blind, seat 0 (the button) opens. */
	is_int(h.to_act, 0, "three-handed: the button opens pre-flop");
	is_int(h.total[1] + h.total[2], 150, "the blinds are posted (50 and 100)");
	int64_t call, min_to, max_to;
	holdem_options(&h, &call, &min_to, &max_to);
	ok(call == 100 && min_to == 200 && max_to == 10000, "to call 100, raise to 200..10000");
	holdem_act(&h, HOLDEM_RAISE, 350); /* a raise of 250 */
	holdem_options(&h, &call, &min_to, &max_to);
	ok(h.to_act == 1 && call == 300 && min_to == 600,
	   "the next raise must add at least 250 (to 600)");
	holdem_act(&h, HOLDEM_RAISE, 100); /* too small: becomes the minimum */
	is_int(h.cur_bet, 600, "a raise below the minimum is lifted to it");
	holdem_act(&h, HOLDEM_RAISE, 900);
	holdem_act(&h, HOLDEM_RAISE, 1200);
	is_int(h.raises, HOLDEM_RAISE_CAP, "four raises reach the cap");
	holdem_options(&h, &call, &min_to, &max_to);
	ok(min_to > max_to, "at the cap, no more raises");
	enum holdem_act a = holdem_act(&h, HOLDEM_RAISE, 5000);
	is_int(a, HOLDEM_CALL, "a raise at the cap is a call");
	holdem_act(&h, HOLDEM_CALL, 0);
	is_int(h.street, HOLDEM_FLOP, "all called: the flop");
	is_int(h.n_board, 3, "three cards on the flop");
	is_int(h.to_act, 1, "after the flop the first seat left of the button acts");
	holdem_options(&h, &call, &min_to, &max_to);
	ok(call == 0 && min_to == 100, "a bet is at least the big blind");
}

static void test_side_pots(void)
{
	struct rng r;
	rng_seed(&r, 2);
	struct holdem_hand h;
	int64_t st[3] = {1000, 5000, 3000};
	holdem_deal(&h, 3, st, 100, 2, &r); /* seat 0 SB, seat 1 BB, seat 2 button opens */
	/* Seat 0 (shortest) has the best hand, seat 2 the second best, seat 1 the worst. */
	const char *holes[3] = {"AsAd", "7c2d", "KsKd"};
	set_cards(&h, holes, "Ah8c9dKc3s");
	holdem_act(&h, HOLDEM_RAISE, 3000); /* seat 2 all-in */
	holdem_act(&h, HOLDEM_CALL, 0);	    /* seat 0 calls all-in for 1000 */
	holdem_act(&h, HOLDEM_CALL, 0);	    /* seat 1 calls 3000 */
	is_int(h.street, HOLDEM_DONE, "everyone all-in or matched: the board runs out");
	ok(h.showdown && h.n_board == 5, "a showdown with five cards");
	is_int(h.won[0], 3000, "the short stack wins the main pot only (3 x 1000)");
	is_int(h.won[2], 4000, "the second best hand wins the side pot (2 x 2000)");
	is_int(h.won[1], 0, "the worst hand wins nothing");
	is_int(sum(h.won, 3), sum(h.total, 3), "every chip is paid out");
	is_int(h.winners, 1, "the winners are the best hand");
	is_int(h.best >> 20, CARDS_TRIPS, "aces: trips");
}

static void test_uncalled_and_odd_chip(void)
{
	struct rng r;
	rng_seed(&r, 3);
	struct holdem_hand h;
	int64_t st[3] = {10000, 10000, 10000};
	holdem_deal(&h, 3, st, 100, 0, &r); /* SB 1 posts 50, BB 2, button 0 */
	const char *holes[3] = {"2c3d", "4h5h", "2d3c"};
	set_cards(&h, holes, "AsKsQsJsTs"); /* a royal flush on the board: everyone ties */
	holdem_act(&h, HOLDEM_CALL, 0);	    /* button calls 100 */
	holdem_act(&h, HOLDEM_FOLD, 0);	    /* SB folds its 50 */
	holdem_act(&h, HOLDEM_CHECK, 0);
	for (int s = 0; s < 3; s++) {
		holdem_act(&h, HOLDEM_CHECK, 0);
		holdem_act(&h, HOLDEM_CHECK, 0);
	}
	ok(h.street == HOLDEM_DONE && h.showdown, "checked down to a showdown");
	is_int(h.pot, 250, "a pot of 250");
	ok(h.won[2] == 125 && h.won[0] == 125, "split 125 each (%lld, %lld)", (long long)h.won[0],
	   (long long)h.won[2]);
	holdem_deal(&h, 3, st, 100, 0, &r);
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_RAISE, 301); /* button raises to 301 */
	holdem_act(&h, HOLDEM_CALL, 0);
	holdem_act(&h, HOLDEM_CALL, 0);
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 3; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	ok(h.won[1] == 301 && h.won[2] == 301 && h.won[0] == 301, "three-way split of 903");
	holdem_deal(&h, 3, st, 100, 0, &r);
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_RAISE, 301);
	holdem_act(&h, HOLDEM_FOLD, 0); /* SB folds 50: the pot is 652 between two */
	holdem_act(&h, HOLDEM_CALL, 0);
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 2; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	ok(h.won[0] + h.won[2] == 652 && h.won[2] == 326 && h.won[0] == 326, "even split of 652");
	holdem_deal(&h, 3, st, 100, 0, &r);
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_RAISE, 300);
	holdem_act(&h, HOLDEM_RAISE, 651); /* SB raises to 651 */
	holdem_act(&h, HOLDEM_FOLD, 0);	   /* BB folds its 100 */
	holdem_act(&h, HOLDEM_CALL, 0);	   /* button calls: the pot is 1402 */
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 2; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	ok(h.won[1] == 701 && h.won[0] == 701, "1402 splits 701 each");
	/* An odd pot: the odd chip goes to the first winner left of the button. */
	int64_t st2[2] = {10000, 10000};
	holdem_deal(&h, 2, st2, 101, 1, &r); /* heads-up: button 1 posts 50, seat 0 posts 101 */
	const char *holes2[2] = {"2c3d", "2d3c"};
	set_cards(&h, holes2, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_RAISE, 151); /* button raises to 151 */
	holdem_act(&h, HOLDEM_RAISE, 303); /* seat 0 to 303 */
	holdem_act(&h, HOLDEM_RAISE, 455);
	holdem_act(&h, HOLDEM_CALL, 0); /* pot 910, even */
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 2; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	ok(h.won[0] == 455 && h.won[1] == 455, "heads-up split");
	holdem_deal(&h, 3, st, 101, 0, &r); /* SB seat 1 posts 50, BB seat 2 posts 101 */
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_CALL, 0);	 /* button calls 101 */
	holdem_act(&h, HOLDEM_FOLD, 0);	 /* SB folds 50 */
	holdem_act(&h, HOLDEM_CHECK, 0); /* pot 252 */
	holdem_act(&h, HOLDEM_BET, 101);
	holdem_act(&h, HOLDEM_CALL, 0); /* pot 454 */
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 2; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	ok(h.won[0] == 227 && h.won[2] == 227, "454 splits 227 each");
	holdem_deal(&h, 3, st, 100, 0, &r);
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_RAISE, 301);
	holdem_act(&h, HOLDEM_FOLD, 0);	 /* SB 50 */
	holdem_act(&h, HOLDEM_CALL, 0);	 /* 301 + 301 + 50 = 652 */
	holdem_act(&h, HOLDEM_BET, 101); /* seat 2 bets 101 */
	holdem_act(&h, HOLDEM_RAISE, 202);
	holdem_act(&h, HOLDEM_CALL, 0); /* +404: 1056 */
	holdem_act(&h, HOLDEM_BET, 1);	/* min bet is the big blind: 100 */
	holdem_act(&h, HOLDEM_CALL, 0); /* 1256 */
	holdem_act(&h, HOLDEM_BET, 100);
	holdem_act(&h, HOLDEM_FOLD, 0); /* seat 0 folds: seat 2 wins 1356 uncontested */
	ok(h.street == HOLDEM_DONE && !h.showdown && h.won[2] == 1356,
	   "a fold leaves one player, who takes the whole pot (%lld)", (long long)h.won[2]);
	/* Odd chip: a 3-way tie of a 100-chip pot. */
	int64_t st3[3] = {10000, 10000, 34};
	holdem_deal(&h, 3, st3, 100, 0, &r); /* BB seat 2 is all-in for 34 */
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_CALL, 0); /* button calls 100 */
	holdem_act(&h, HOLDEM_CALL, 0); /* SB calls 100 */
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 2; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	/* Main pot 3 x 34 = 102 splits 34 each; the side pot 2 x 66 = 132 splits 66 each. */
	ok(h.won[2] == 34 && h.won[1] == 100 && h.won[0] == 100,
	   "side pot split by two, main by three");
	int64_t st4[3] = {10000, 10000, 33};
	holdem_deal(&h, 3, st4, 100, 0, &r);
	set_cards(&h, holes, "AsKsQsJsTs");
	holdem_act(&h, HOLDEM_CALL, 0);
	holdem_act(&h, HOLDEM_FOLD, 0); /* SB folds 50: main pot 33 x 2 + 33 = 99 */
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 1; k++)
			holdem_act(&h, HOLDEM_CHECK, 0);
	/* Main pot: 33 (BB) + 33 (button) + 33 (SB's first 33) = 99, two winners: 50 + 49,
	 * the odd chip to the first winner left of the button, seat 2. Side pot: 67 + 17. */
	ok(h.won[2] == 50 && h.won[0] == 49 + 84,
	   "the odd chip goes left of the button (%lld, %lld)", (long long)h.won[2],
	   (long long)h.won[0]);
}

/* A big blind all-in for less than the small blind (found by a probe: a person's game
 * against a fish with almost no energy). It won the small blind's whole post by a fold,
 * more than it matched, and the small blind was asked to call though it covered it. */
static void test_short_big_blind(void)
{
	struct rng r;
	rng_seed(&r, 5);
	struct holdem_hand h;
	int64_t st[2] = {100, 2};
	holdem_deal(&h, 2, st, 10, 0, &r); /* button 0 posts 5, seat 1 all-in for 2 */
	ok(h.street == HOLDEM_DONE && h.showdown && h.won[0] + h.won[1] == 7 && h.won[0] >= 3 &&
		   h.won[1] <= 4,
	   "heads-up, the big blind all-in for 2 against a small blind of 5: nothing to decide, a "
	   "showdown for 4, 3 back to the small blind (won %lld / %lld)",
	   (long long)h.won[0], (long long)h.won[1]);
	int64_t st3[3] = {100, 100, 2};
	holdem_deal(&h, 3, st3, 10, 0, &r); /* SB seat 1 posts 5, BB seat 2 all-in for 2 */
	holdem_act(&h, HOLDEM_FOLD, 0);	    /* the button folds */
	ok(h.street == HOLDEM_DONE && h.showdown && h.won[0] == 0 && h.won[1] >= 3 &&
		   h.won[2] <= 4 && h.won[1] + h.won[2] == 7,
	   "three-handed, the button folds: the small blind covers the big blind's 2 and the "
	   "hand runs out (won %lld / %lld)",
	   (long long)h.won[1], (long long)h.won[2]);
	int64_t st4[3] = {100, 100, 2};
	holdem_deal(&h, 3, st4, 10, 0, &r);
	holdem_act(&h, HOLDEM_CALL, 0); /* the button calls the full big blind, 10 */
	holdem_act(&h, HOLDEM_FOLD, 0); /* the small blind folds its 5, which the button covers */
	ok(h.street == HOLDEM_DONE && h.total[0] == 10 && h.won[1] == 0 && h.won[0] >= 5 + 6 &&
		   h.won[2] <= 6 && h.won[0] + h.won[2] == 17,
	   "the small blind's 5, matched by the caller, stays in: the big blind can win 6, the "
	   "caller the rest (won %lld / %lld / %lld)",
	   (long long)h.won[0], (long long)h.won[1], (long long)h.won[2]);
}

static void test_incomplete_raise(void)
{
	struct rng r;
	rng_seed(&r, 4);
	struct holdem_hand h;
	int64_t st[3] = {10000, 10000, 10000};
	holdem_deal(&h, 3, st, 100, 0, &r);
	holdem_act(&h, HOLDEM_CALL, 0);
	holdem_act(&h, HOLDEM_CALL, 0);
	holdem_act(&h, HOLDEM_CHECK, 0);   /* flop: seat 1 first */
	h.stack[2] = 150;		   /* seat 2 is short */
	holdem_act(&h, HOLDEM_BET, 100);   /* seat 1 bets 100 */
	holdem_act(&h, HOLDEM_RAISE, 150); /* seat 2 all-in for 150: not a full raise */
	int64_t call, min_to, max_to;
	holdem_options(&h, &call, &min_to, &max_to);
	ok(h.to_act == 0 && call == 150 && min_to <= max_to, "seat 0 has not acted: it may raise");
	/* The short all-in added only 50: the last full raise (the bet of 100) still sets the
	 * minimum, so seat 0 must raise by 100 over the 150, not by the 50. */
	is_int(min_to, 250,
	       "after an all-in short of a full raise, the minimum raise is still "
	       "the last full one (to 250, not 200)");
	holdem_act(&h, HOLDEM_CALL, 0);
	holdem_options(&h, &call, &min_to, &max_to);
	ok(h.to_act == 1 && call == 50 && min_to > max_to,
	   "the first bettor may only call the incomplete raise");
}

/* Every dealt card must be shuffled: each slot of the board and of a seat's hole cards
 * takes each of the 52 cards about 1/52 of the time, at every table size (a deal that
 * shuffled one card too few left the river the same card most of the time). */
static void test_deal_uniform(void)
{
	struct rng r;
	rng_seed(&r, 6); /* fixed: the bounds are loose enough that no seed fails them */
	enum { SLOTS = 7, DEALS = 20000 };
	static int count[SLOTS][CARDS_DECK];
	memset(count, 0, sizeof count);
	int64_t st[HOLDEM_MAX_PLAYERS] = {10000, 10000, 10000, 10000, 10000, 10000};
	struct holdem_hand h;
	for (int k = 0; k < DEALS; k++) {
		int n = 2 + k % (HOLDEM_MAX_PLAYERS - 1); /* every table size, 2 to 6 */
		holdem_deal(&h, n, st, 100, 0, &r);
		for (int i = 0; i < 5; i++)
			count[i][h.deck_rest[i]]++;
		count[5][h.hole[0][0]]++;
		count[6][h.hole[0][1]]++;
	}
	/* Expected 20000 / 52 = 385 a card, a standard deviation of about 20: a card seen
	 * more than 3 or fewer than 1/3 times as often as it should is no shuffle. */
	int most = 0, least = DEALS, bad_board = 0, bad_hole = 0;
	for (int i = 0; i < SLOTS; i++)
		for (int c = 0; c < CARDS_DECK; c++) {
			int x = count[i][c];
			most = x > most ? x : most;
			least = x < least ? x : least;
			bool bad = x > 3 * DEALS / CARDS_DECK || x < DEALS / CARDS_DECK / 3;
			if (i < 5)
				bad_board += bad;
			else
				bad_hole += bad;
		}
	printf("# %d deals: each card %d to %d times per slot (expected %d)\n", DEALS, least, most,
	       DEALS / CARDS_DECK);
	is_int(bad_board, 0,
	       "each of the five board cards, the river too, is any of the 52 cards about 1/52 "
	       "of the time");
	is_int(bad_hole, 0, "a seat's hole cards are any of the 52 cards about 1/52 of the time");
}

/* Random hands: chips conserved, nobody loses more than its stack, winners are the best
 * hands, and a showdown has five cards and two or more players. */
static void test_random(uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	int bad_conserve = 0, bad_stack = 0, bad_winners = 0, bad_showdown = 0, hands = 200000;
	int bad_refund = 0, bad_cap = 0;
	int showdowns = 0, side = 0, folds = 0;
	long actions = 0;
	for (int k = 0; k < hands; k++) {
		int n = rng_int(&r, 2, 6);
		int64_t st[6];
		struct holdem_style sty[6];
		for (int i = 0; i < n; i++) {
			st[i] = rng_int(&r, 1, 4000);
			sty[i] = (struct holdem_style){rng_uniform(&r),	      rng_uniform(&r),
						       rng_range(&r, 0.1, 3), rng_uniform(&r),
						       rng_uniform(&r),	      rng_uniform(&r)};
		}
		struct holdem_hand h;
		holdem_play(&h, n, st, 2 * rng_int(&r, 1, 200), rng_int(&r, 0, n - 1), sty, &r);
		actions += h.n_actions;
		int64_t in = 0, out = 0;
		int live = 0;
		for (int i = 0; i < n; i++) {
			in += h.total[i];
			out += h.won[i];
			bad_stack += h.total[i] > h.start[i] ||
				     h.stack[i] != h.start[i] - h.total[i];
			live += !h.folded[i];
		}
		/* A folder gets back what no live player matched (an uncalled big blind's
		 * excess); a live player wins from each other at most what it put in. */
		int64_t most_live = 0;
		for (int i = 0; i < n; i++)
			if (!h.folded[i] && h.total[i] > most_live)
				most_live = h.total[i];
		for (int i = 0; i < n; i++) {
			if (h.folded[i]) {
				bad_refund += h.won[i] !=
					      (h.total[i] > most_live ? h.total[i] - most_live : 0);
				continue;
			}
			int64_t cap = 0;
			for (int j = 0; j < n; j++)
				cap += h.total[j] < h.total[i] ? h.total[j] : h.total[i];
			bad_cap += h.won[i] > cap;
		}
		bad_conserve += in != out || h.pot != in;
		if (h.showdown) {
			showdowns++;
			bad_showdown += h.n_board != 5 || live < 2;
			for (int i = 0; i < n; i++) {
				if (h.folded[i])
					continue;
				uint8_t c[7] = {h.hole[i][0], h.hole[i][1], h.board[0], h.board[1],
						h.board[2],   h.board[3],   h.board[4]};
				uint32_t v = cards_eval(c, 7);
				bool is_w = (h.winners >> i) & 1;
				bad_winners += v > h.best || is_w != (v == h.best);
				side += h.won[i] > 0 && !is_w;
			}
		} else {
			folds++;
			bad_showdown += live != 1 || __builtin_popcount(h.winners) != 1;
		}
	}
	printf("# %d hands: %d showdowns, %d won by folds, %d side-pot wins, %.1f actions/hand\n",
	       hands, showdowns, folds, side, (double)actions / hands);
	is_int(bad_conserve, 0, "random hands: every chip put in is paid out (seed %llu)",
	       (unsigned long long)seed);
	is_int(bad_stack, 0, "nobody puts in more than its stack");
	is_int(bad_refund, 0, "a folded player gets back only what no live player matched");
	is_int(bad_cap, 0, "nobody wins from another more than it matched");
	is_int(bad_winners, 0, "showdown winners are exactly the best hands");
	is_int(bad_showdown, 0, "showdowns have five cards and two or more players");
	ok(showdowns > hands / 10 && folds > hands / 10 && side > 0,
	   "both showdowns and folds happen, and side pots");
}

int main(void)
{
	const char *env = getenv("SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 777;
	printf("# seed %llu\n", (unsigned long long)seed);
	test_min_raise_and_cap();
	test_side_pots();
	test_uncalled_and_odd_chip();
	test_short_big_blind();
	test_incomplete_raise();
	test_deal_uniform();
	test_random(seed);
	return tap_done();
}
