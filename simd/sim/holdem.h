/* One hand of no-limit Texas Hold'em among 2 to 6 players, as a state machine.
 *
 * Amounts are integer chips. The engine deals from a deck shuffled with the caller's RNG
 * (only the cards it needs), posts the blinds, runs the four streets and settles the
 * pots; it knows nothing of fish or energy (poker.c maps chips to energy). Rules:
 * - the button posts the small blind heads-up and acts first pre-flop; with three or more
 *   players the two seats after the button post the blinds and the seat after them opens;
 *   after the flop the first live seat after the button acts first;
 * - fold, check, call, bet and raise; a bet or raise is at least the big blind and a
 *   raise at least the previous raise (the minimum-raise rule); at most HOLDEM_RAISE_CAP
 *   bets and raises per street; going all-in for less than a full raise is allowed but does
 *   not reopen the betting for players who already acted;
 * - side pots: each level of contributions is a pot that only the players who put in that
 *   much can win; an uncalled part of a bet goes back;
 * - split pots: equal shares, and the chips that do not divide (the odd chips) go one each
 *   to the tied winners in seat order starting left of the button. */
#ifndef TW_SIM_HOLDEM_H
#define TW_SIM_HOLDEM_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

#define HOLDEM_MAX_PLAYERS 6
#define HOLDEM_RAISE_CAP 4
#define HOLDEM_MAX_STACK INT32_MAX
/* The blinds, then per street at most n + cap x (n - 1) actions (each raise reopens). */
#define HOLDEM_MAX_ACTIONS \
	(2 + 4 * (HOLDEM_MAX_PLAYERS + HOLDEM_RAISE_CAP * (HOLDEM_MAX_PLAYERS - 1)))

enum holdem_street { HOLDEM_PREFLOP, HOLDEM_FLOP, HOLDEM_TURN, HOLDEM_RIVER, HOLDEM_DONE };
enum holdem_act {
	HOLDEM_SMALL_BLIND,
	HOLDEM_BIG_BLIND,
	HOLDEM_FOLD,
	HOLDEM_CHECK,
	HOLDEM_CALL,
	HOLDEM_BET,
	HOLDEM_RAISE,
	HOLDEM_ACT_COUNT
};

struct holdem_action {
	uint8_t seat, street, act;
	bool all_in;
	int32_t amount; /* chips this action put in (stacks are below 2^31) */
};

struct holdem_hand {
	int n, button;
	int64_t bb;
	int street;
	int to_act;			   /* seat, or -1 when the hand is over */
	int64_t stack[HOLDEM_MAX_PLAYERS]; /* chips left behind */
	int64_t start[HOLDEM_MAX_PLAYERS]; /* stacks before the hand */
	int64_t total[HOLDEM_MAX_PLAYERS]; /* put in during the hand */
	int64_t street_in[HOLDEM_MAX_PLAYERS];
	int64_t won[HOLDEM_MAX_PLAYERS]; /* chips received at the end (incl. returns) */
	bool folded[HOLDEM_MAX_PLAYERS], need[HOLDEM_MAX_PLAYERS], reopen[HOLDEM_MAX_PLAYERS];
	int64_t cur_bet, min_raise;
	int raises;
	uint8_t hole[HOLDEM_MAX_PLAYERS][2];
	uint8_t board[5];
	int n_board;
	uint8_t deck_rest[5]; /* the board, dealt face down at the start */
	struct holdem_action actions[HOLDEM_MAX_ACTIONS];
	int n_actions;
	/* The result. */
	int64_t pot;
	bool showdown;			    /* two or more players reached the river unfolded */
	uint32_t best;			    /* the winning hand value (showdown only) */
	uint8_t winners;		    /* bit mask of seats that won a share of the main pot */
	uint32_t value[HOLDEM_MAX_PLAYERS]; /* each live player's hand value (showdown only) */
};

/* Starts a hand: n players (2..HOLDEM_MAX_PLAYERS) with stacks[i] > 0 chips (at most
 * HOLDEM_MAX_STACK), big blind bb >= 2 chips, the button's seat. Deals and posts the blinds. */
void holdem_deal(struct holdem_hand *h, int n, const int64_t *stacks, int64_t bb, int button,
		 struct rng *r);
/* What the player to act may do: the chips to call (capped by the stack), and the range
 * of totals for this street a bet or raise may reach (min_to > max_to: no raise). */
void holdem_options(const struct holdem_hand *h, int64_t *to_call, int64_t *min_to, int64_t *max_to);
/* Applies the action of the seat to act. For HOLDEM_BET and HOLDEM_RAISE, to is the
 * total for this street (clamped to the legal range); an illegal check becomes a call, an
 * illegal raise a call. Returns the action recorded. Settles when the hand ends. */
enum holdem_act holdem_act(struct holdem_hand *h, enum holdem_act a, int64_t to);

/* How a computer player decides (evolved strategy parameters and aggression, 0..1 except
 * raise_mult 0.1..3). */
struct holdem_style {
	double fold, raise, raise_mult, bluff, position, aggression;
};
/* The strength (0..1) of a seat's hand now: the 169-class pre-flop ranking, then made
 * hands and draws on the board, discounted for the number of opponents still in. */
double holdem_strength(const struct holdem_hand *h, int seat);
/* The decision of the player to act; to receives the raise total when it raises. */
enum holdem_act holdem_decide(const struct holdem_hand *h, const struct holdem_style *s,
			      struct rng *r, int64_t *to);
/* Deals and plays a whole hand between computer players. */
void holdem_play(struct holdem_hand *h, int n, const int64_t *stacks, int64_t bb, int button,
		 const struct holdem_style *styles, struct rng *r);

const char *holdem_act_name(enum holdem_act a);
const char *holdem_street_name(int street);

#endif
