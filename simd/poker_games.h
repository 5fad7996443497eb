/* Poker games between a person and fish (docs/poker.md). A game seats the person and
 * copies of 1-5 fish; the fish bring stakes by the tank's rules (the big blind is the
 * tank's bet, each fish at most ten big blinds and half its energy) and decide with their
 * evolved strategies; the person plays with play chips. The tank itself is never
 * changed: a game is played on copies. Games live on the event loop thread only and
 * expire after POKER_GAME_IDLE seconds without a request. */
#ifndef TW_SIMD_POKER_GAMES_H
#define TW_SIMD_POKER_GAMES_H

#include <json-c/json.h>
#include <stdint.h>

#include "sim/poker.h"
#include "util.h"

#define POKER_GAME_IDLE 600.0
#define POKER_GAMES_MAX 64

struct poker_games;
struct poker_game;

struct poker_games *poker_games_new(void);
void poker_games_free(struct poker_games *g);
/* Drops expired games. */
void poker_games_expire(struct poker_games *g, double now);
/* The game with this id in this tank, or NULL. */
struct poker_game *poker_games_find(struct poker_games *g, const char *tank_id, const char *game_id);
/* Seats the person (with chips in energy units; <= 0: 100 big blinds) and n fish, deals
 * the first hand and plays the fish up to the person's turn. -ENOSPC when
 * POKER_GAMES_MAX games are open, -ENOENT when no fish has a chip of energy to stake. */
int poker_games_create(struct poker_games *g, const char *tank_id,
		       const struct poker_seat_copy *fish, int n, double chips, uint64_t seed,
		       double now, struct poker_game **ret);
void poker_games_remove(struct poker_games *g, struct poker_game *game);

/* The person acts: "fold", "check", "call", "bet", "raise" (amount: the total for this
 * street, in energy units), "allin", or "autopilot" (the rest of this hand is played for
 * the person by a balanced strategy). -EINVAL for an unknown action or a bad amount,
 * -EBUSY when it is not the person's turn. */
int poker_game_act(struct poker_game *game, const char *action, double amount);
/* The next hand (the button moves on; a fish without a chip of energy left sits out).
 * -EBUSY while a hand is being played, -ENOSPC when the person has no chip left (less
 * than a big blind plays all-in for less), -ENOENT when no fish has a chip left. */
int poker_game_deal(struct poker_game *game);
/* What the person may see: own cards always, the fish's at a showdown only. */
json_object *poker_game_json(const struct poker_game *game, double now);
const char *poker_game_id(const struct poker_game *game);
/* Any request about a game keeps it from expiring, a read too: the API touches the game
 * it finds, for every route, so acting and dealing need not. */
void poker_game_touch(struct poker_game *game, double now);

#endif
