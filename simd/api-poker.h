/* simd's poker API (docs/poker.md): the hands a tank played and its strategies. */
#ifndef TW_SIMD_API_POKER_H
#define TW_SIMD_API_POKER_H

#include "http.h"

/* GET /api/tanks/{id}/poker?limit=N[&fish_id=ID] */
void api_poker_hands(struct http_ctx *ctx);
/* GET /api/tanks/{id}/poker/strategies */
void api_poker_strategies(struct http_ctx *ctx);
/* POST /api/tanks/{id}/poker/series */
void api_poker_series(struct http_ctx *ctx);
/* A person against fish: POST /api/tanks/{id}/poker/games; GET and DELETE
 * .../games/{game_id}; POST .../games/{game_id}/action and .../games/{game_id}/deal. */
void api_poker_game_new(struct http_ctx *ctx);
void api_poker_game_get(struct http_ctx *ctx);
void api_poker_game_delete(struct http_ctx *ctx);
void api_poker_game_action(struct http_ctx *ctx);
void api_poker_game_deal(struct http_ctx *ctx);

#endif
