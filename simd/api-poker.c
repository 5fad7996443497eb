/* simd's poker API: the last hands of a tank, newest first, and the books of its poker
 * strategies. The tank is held only to copy what is asked for, on a reader thread; JSON
 * is built after. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-poker.h"
#include "poker_games.h"
#include "api-extra.h"
#include "simd.h"
#include "util.h"
#include "xalloc.h"

#define POKER_LIMIT_DEFAULT 50
#define POKER_LIMIT_MAX 1000 /* the ring holds the last 1,000 hands */

struct hands_read {
	size_t limit;
	char who[UUID_STR_LEN]; /* "" for every player */
};

/* On a reader thread (api_read), like every read of a tank. */
static void read_hands(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct hands_read *hr = arg;
	tanks_lock_fair(s);
	struct poker_history *h = tank_poker_history_of(s->sim, hr->limit,
							hr->who[0] ? hr->who : NULL);
	uint64_t frame = tank_frame(s->sim);
	pthread_mutex_unlock(&s->lock);
	json_object *o = poker_history_json(h);
	poker_history_free(h);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(frame));
	readers_answer_json(a, o);
}

void api_poker_hands(struct http_ctx *ctx)
{
	long limit = POKER_LIMIT_DEFAULT;
	char *who = NULL;
	struct tank_slot *s = api_tank_param(ctx);
	if (!s || http_query_int(ctx, "limit", 1, POKER_LIMIT_MAX, &limit) < 0 ||
	    http_query(ctx, "fish_id", &who) < 0)
		return;
	if (who && !uuid_str_valid(who)) {
		free(who);
		http_reply_error(ctx->req, 400, "invalid_query",
				 "fish_id must be a fish or plant id");
		return;
	}
	struct hands_read *hr = xcalloc(1, sizeof *hr);
	hr->limit = (size_t)limit;
	snprintf(hr->who, sizeof hr->who, "%s", who ? who : "");
	free(who);
	api_read(ctx, s, read_hands, hr, free, "unknown_tank", "no tank %s", s->meta.id);
}

/* The fish ids are copied into room made without the lock, and the answer is built
 * after (tank_poker_strategies_take). */
static void read_strategies(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	struct simd *sd = arg;
	struct tank_room room = {0};
	struct timespec held;
	tanks_lock_for_copy(s, TANK_COPY_STRATEGIES, &room, &held);
	struct strategies_pick *p = tank_poker_strategies_take(s->sim, &room);
	tanks_copy_held(sd, TANK_COPY_STRATEGIES, &held);
	pthread_mutex_unlock(&s->lock);
	tank_room_free(&room);
	json_object *o = poker_strategies_json(p);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	readers_answer_json(a, o);
}

void api_poker_strategies(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (s)
		api_read(ctx, s, read_strategies, ctx->arg, NULL, "unknown_tank", "no tank %s",
			 s->meta.id);
}

#define SERIES_HANDS_MAX 20000 /* heads-up hands run about 1 us each: 60,000 take < 0.1 s */
#define SERIES_TOP_MAX 10

struct series_read {
	int hands, top;
	int64_t seed; /* -1: the frame */
};

/* On a reader thread: the tank is held only while its players are copied; the hands
 * (about half a second for the largest series) run after. */
static void read_series(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct series_read *sr = arg;
	tanks_lock_fair(s);
	struct poker_series *ser = tank_poker_series(s->sim, sr->top);
	uint64_t frame = tank_frame(s->sim);
	pthread_mutex_unlock(&s->lock);
	/* By default the seed is the frame: the same tank at the same frame, the same series. */
	json_object *o = poker_series_run(ser, sr->hands,
					  sr->seed >= 0 ? (uint64_t)sr->seed : frame);
	poker_series_free(ser);
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(frame));
	readers_answer_json(a, o);
}

/* POST /api/tanks/{id}/poker/series {"hands","top","seed"}: the tank's best players
 * against the baselines, on copies. */
void api_poker_series(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	int hands = 2000, top = 3;
	int64_t seed = -1;
	size_t len = 0;
	http_body(ctx, &len);
	if (len > 0) {
		json_object *body = http_body_object(ctx);
		if (!body)
			return;
		struct json_err e;
		if (jv_int(body, "hands", false, 1, SERIES_HANDS_MAX, &hands, &e) < 0 ||
		    jv_int(body, "top", false, 1, SERIES_TOP_MAX, &top, &e) < 0 ||
		    jv_int64(body, "seed", false, 0, INT64_MAX, &seed, &e) < 0) {
			json_object_put(body);
			http_reply_error(ctx->req, 400, "invalid_series", "%s", e.msg);
			return;
		}
		json_object_put(body);
	}
	struct series_read *sr = xcalloc(1, sizeof *sr);
	*sr = (struct series_read){hands, top, seed};
	api_read(ctx, s, read_series, sr, free, "unknown_tank", "no tank %s", s->meta.id);
}

static struct poker_games *games_of(struct http_ctx *ctx)
{
	struct simd *sd = ctx->arg;
	if (!sd->poker_games)
		sd->poker_games = poker_games_new();
	poker_games_expire(sd->poker_games, now_mono());
	return sd->poker_games;
}

static void reply_game(struct http_ctx *ctx, int status, const struct poker_game *game)
{
	http_reply_json(ctx->req, status, poker_game_json(game, now_mono()));
}

void api_poker_game_new(struct http_ctx *ctx)
{
	json_object *body, *ids;
	struct tank_slot *s = api_tank_body(ctx, &body);
	if (!s)
		return;
	struct json_err e;
	double chips = 0;
	int64_t seed = -1;
	struct poker_seat_copy fish[POKER_GAME_MAX_FISH];
	const char *fid[POKER_GAME_MAX_FISH];
	int n = 0;
	if (jv_array(body, "fish_ids", true, POKER_GAME_MAX_FISH, &ids, &e) < 0 ||
	    jv_double(body, "chips", false, 1, 1e6, &chips, &e) < 0 ||
	    jv_int64(body, "seed", false, 0, INT64_MAX, &seed, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_game", "%s", e.msg);
		return;
	}
	n = (int)json_object_array_length(ids);
	/* Which id is wrong, and how: a string that was no fish id read as a count error. */
	int bad = -1, twin = -1;
	for (int i = 0; bad < 0 && i < n; i++) {
		fid[i] = jv_str(json_object_array_get_idx(ids, (size_t)i));
		if (!fid[i] || !uuid_str_valid(fid[i]))
			bad = i;
		for (int k = 0; bad < 0 && k < i; k++)
			if (strcmp(fid[k], fid[i]) == 0)
				bad = i, twin = k;
	}
	if (n < 1 || bad >= 0) {
		json_object_put(body);
		if (n < 1)
			http_reply_error(ctx->req, 400, "invalid_game",
					 "fish_ids must list 1 to %d different fish ids",
					 POKER_GAME_MAX_FISH);
		else if (twin >= 0)
			http_reply_error(ctx->req, 400, "invalid_game",
					 "fish_ids[%d] is fish_ids[%d] again: each fish plays once",
					 bad, twin);
		else
			http_reply_error(ctx->req, 400, "invalid_game",
					 "fish_ids[%d] is not a fish id (a UUID)", bad);
		return;
	}
	int missing = -1;
	gate_lock(s);
	for (int i = 0; i < n && missing < 0; i++)
		if (tank_poker_seat(s->sim, fid[i], &fish[i]) < 0)
			missing = i;
	uint64_t frame = tank_frame(s->sim);
	pthread_mutex_unlock(&s->lock);
	if (missing >= 0) {
		http_reply_error(ctx->req, 404, "unknown_fish", "no fish %.40s in tank %s",
				 fid[missing], s->meta.id);
		json_object_put(body);
		return;
	}
	json_object_put(body);
	struct poker_game *game;
	uint64_t sd_seed = seed >= 0
				   ? (uint64_t)seed
				   : (uint64_t)(now_wall() * 1e6) ^ (frame * 0x9E3779B97F4A7C15ull);
	int r = poker_games_create(games_of(ctx), s->meta.id, fish, n, chips, sd_seed, now_mono(),
				   &game);
	if (r == -ENOENT) {
		http_reply_error(ctx->req, 409, "fish_busted",
				 "none of these fish has energy left to stake");
		return;
	}
	if (r < 0) {
		http_reply_error(ctx->req, 503, "too_many_games", "%d games are open; try later",
				 POKER_GAMES_MAX);
		return;
	}
	reply_game(ctx, 201, game);
}

static struct poker_game *game_param(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return NULL;
	const char *gid = http_param(ctx, "game_id");
	struct poker_game *g = uuid_str_valid(gid)
				       ? poker_games_find(games_of(ctx), s->meta.id, gid)
				       : NULL;
	if (!g)
		http_reply_error(ctx->req, 404, "unknown_game",
				 "no game %.40s at tank %s (games expire "
				 "after %.0f idle seconds)",
				 gid, s->meta.id, POKER_GAME_IDLE);
	else
		poker_game_touch(g, now_mono());
	return g;
}

void api_poker_game_get(struct http_ctx *ctx)
{
	struct poker_game *g = game_param(ctx);
	if (g)
		reply_game(ctx, 200, g);
}

void api_poker_game_delete(struct http_ctx *ctx)
{
	struct poker_game *g = game_param(ctx);
	if (!g)
		return;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "game_id", json_object_new_string(poker_game_id(g)));
	json_object_object_add(o, "deleted", json_object_new_boolean(true));
	/* Not games_of(): its sweep could free g, found a moment ago, before this does. */
	poker_games_remove(((struct simd *)ctx->arg)->poker_games, g);
	http_reply_json(ctx->req, 200, o);
}

void api_poker_game_action(struct http_ctx *ctx)
{
	struct poker_game *g = game_param(ctx);
	if (!g)
		return;
	json_object *body = http_body_object(ctx);
	if (!body)
		return;
	struct json_err e;
	const char *action;
	double amount = 0;
	if (jv_string(body, "action", true, 1, 16, &action, &e) < 0 ||
	    jv_double(body, "amount", false, 0, 1e9, &amount, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_action", "%s", e.msg);
		return;
	}
	int r = poker_game_act(g, action, amount);
	json_object_put(body);
	if (r == -EBUSY)
		http_reply_error(ctx->req, 409, "not_your_turn",
				 "it is not your turn (deal a new hand?)");
	else if (r < 0)
		http_reply_error(
			ctx->req, 400, "invalid_action",
			"action must be fold (something to call), check (nothing to call), call, "
			"bet or raise with an amount (the street total) within the options, allin "
			"or autopilot");
	else
		reply_game(ctx, 200, g);
}

void api_poker_game_deal(struct http_ctx *ctx)
{
	struct poker_game *g = game_param(ctx);
	if (!g)
		return;
	int r = poker_game_deal(g);
	if (r == -EBUSY)
		http_reply_error(ctx->req, 409, "hand_in_progress", "finish the hand first");
	else if (r == -ENOENT)
		http_reply_error(ctx->req, 409, "fish_busted",
				 "the fish have no energy left to stake");
	else if (r < 0)
		http_reply_error(ctx->req, 409, "busted", "you have no chips left");
	else
		reply_game(ctx, 200, g);
}
