/* Poker seen from outside the tank: copies of a fish as a poker player (for the games a
 * person plays against fish, and the standard series), without touching the tank. */
#ifndef TW_SIM_POKER_H
#define TW_SIM_POKER_H

#include "simd/sim/holdem.h"
#include "simd/sim/sim.h"

struct poker_seat_copy {
	char id[UUID_STR_LEN];
	int strategy;	  /* index for sim_poker_strategy_name */
	double energy;	  /* the fish's energy when copied */
	double bet_cap;	  /* the largest big blind it allows (the tank's bet rule) */
	double house_cut; /* the share of a net gain the house takes from it */
	struct holdem_style style;
};

/* Copies the fish as a player; -ENOENT if it is not in the tank. */
int tank_poker_seat(const struct tank *t, const char *fish_id, struct poker_seat_copy *out);

#define POKER_GAME_MAX_FISH (HOLDEM_MAX_PLAYERS - 1)
#define POKER_STAKE_SHARE 0.5 /* a fish brings at most half its energy to a hand */
#define POKER_STAKE_BB 10.0   /* and at most ten big blinds */
#define POKER_BET_MAX 5.0     /* the biggest big blind */

#endif
