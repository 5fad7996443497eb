/* The last POKER_LOG_SIZE poker hands of a tank, kept so that anyone can check them.
 *
 * The ring is observation, not state: it is not in the tank JSON, so snapshots stay small
 * and the state hash is unchanged by it; a restored tank starts with an empty history and
 * fills it again as it plays (the cumulative poker books are serialized). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/cards.h"
#include "simd/sim/holdem.h"
#include "simd/sim/internal.h"

struct poker_log_seat {
	char id[UUID_STR_LEN];
	uint8_t hole[2];
	bool folded, plant;
	double stack_before, won, net;
};

struct poker_log_entry {
	uint64_t frame;
	double pot, house_cut, big_blind;
	uint8_t n, n_board, n_actions, winners;
	bool showdown;
	uint32_t best;
	uint8_t board[5];
	struct poker_log_seat p[HOLDEM_MAX_PLAYERS];
	struct holdem_action actions[HOLDEM_MAX_ACTIONS];
};

void poker_log_add(struct tank *t, const struct holdem_hand *h, const char *const *ids,
		   unsigned plant_mask, const double *net, double cut)
{
	if (!t->poker_log)
		t->poker_log = sim_xcalloc(POKER_LOG_SIZE, sizeof *t->poker_log);
	struct poker_log_entry *e = &t->poker_log[t->poker_log_next];
	t->poker_log_next = (t->poker_log_next + 1) % POKER_LOG_SIZE;
	if (t->poker_log_n < POKER_LOG_SIZE)
		t->poker_log_n++;
	e->frame = t->frame;
	e->pot = (double)h->pot / POKER_CHIPS;
	e->house_cut = cut;
	e->big_blind = (double)h->bb / POKER_CHIPS;
	e->n = (uint8_t)h->n;
	e->n_board = (uint8_t)h->n_board;
	e->n_actions = (uint8_t)h->n_actions;
	e->winners = h->winners;
	e->showdown = h->showdown;
	e->best = h->best;
	memcpy(e->board, h->board, sizeof e->board);
	for (int i = 0; i < h->n; i++) {
		struct poker_log_seat *s = &e->p[i];
		snprintf(s->id, sizeof s->id, "%s", ids[i]);
		memcpy(s->hole, h->hole[i], 2);
		s->folded = h->folded[i];
		s->plant = plant_mask & (1u << i);
		s->stack_before = (double)h->start[i] / POKER_CHIPS;
		s->won = (double)h->won[i] / POKER_CHIPS;
		s->net = net[i];
	}
	memcpy(e->actions, h->actions, sizeof *e->actions * (size_t)h->n_actions);
}

static json_object *card_json(uint8_t c)
{
	char s[3];
	cards_str(c, s);
	return json_object_new_string(s);
}

static json_object *entry_json(const struct poker_log_entry *e)
{
	json_object *o = json_object_new_object(), *players = json_object_new_array(),
		    *board = json_object_new_array(), *actions = json_object_new_array(),
		    *winners = json_object_new_array();
	json_object_object_add(o, "frame", json_object_new_int64((int64_t)e->frame));
	for (int i = 0; i < e->n; i++) {
		const struct poker_log_seat *s = &e->p[i];
		json_object *p = json_object_new_object(), *hole = json_object_new_array();
		json_object_array_add(hole, card_json(s->hole[0]));
		json_object_array_add(hole, card_json(s->hole[1]));
		json_object_object_add(p, "fish_id", json_object_new_string(s->id));
		json_object_object_add(p, "kind",
				       json_object_new_string(s->plant ? "plant" : "fish"));
		json_object_object_add(p, "hole", hole);
		json_object_object_add(p, "folded", json_object_new_boolean(s->folded));
		json_object_object_add(p, "stack_before", json_object_new_double(s->stack_before));
		json_object_object_add(p, "won", json_object_new_double(s->won));
		json_object_object_add(p, "net", json_object_new_double(s->net));
		json_object_array_add(players, p);
		if (e->winners & (1u << i))
			json_object_array_add(winners, json_object_new_string(s->id));
	}
	json_object_object_add(o, "players", players);
	for (int i = 0; i < e->n_board; i++)
		json_object_array_add(board, card_json(e->board[i]));
	json_object_object_add(o, "board", board);
	for (int i = 0; i < e->n_actions; i++) {
		const struct holdem_action *x = &e->actions[i];
		json_object *a = json_object_new_object();
		json_object_object_add(a, "fish_id", json_object_new_string(e->p[x->seat].id));
		json_object_object_add(a, "street",
				       json_object_new_string(holdem_street_name(x->street)));
		json_object_object_add(a, "action", json_object_new_string(holdem_act_name(x->act)));
		json_object_object_add(a, "amount", json_object_new_double(x->amount / POKER_CHIPS));
		json_object_object_add(a, "all_in", json_object_new_boolean(x->all_in));
		json_object_array_add(actions, a);
	}
	json_object_object_add(o, "actions", actions);
	json_object_object_add(o, "pot", json_object_new_double(e->pot));
	json_object_object_add(o, "big_blind", json_object_new_double(e->big_blind));
	json_object_object_add(o, "house_cut", json_object_new_double(e->house_cut));
	json_object_object_add(o, "winners", winners);
	json_object_object_add(o, "showdown", json_object_new_boolean(e->showdown));
	json_object_object_add(o, "winning_hand",
			       e->showdown ? json_object_new_string(cards_category_name(
						     cards_category_of(e->best)))
					   : NULL);
	return o;
}

struct poker_history {
	size_t n;
	struct poker_log_entry e[]; /* newest first */
};

static bool sat(const struct poker_log_entry *e, const char *id)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->p[i].id, id) == 0)
			return true;
	return false;
}

struct poker_history *tank_poker_history_of(const struct tank *t, size_t limit,
					    const char *player_id)
{
	size_t n = limit < t->poker_log_n ? limit : t->poker_log_n;
	struct poker_history *h = sim_xcalloc(1, sizeof *h + n * sizeof h->e[0]);
	for (size_t k = 0; k < t->poker_log_n && h->n < n; k++) {
		const struct poker_log_entry *e =
			&t->poker_log[(t->poker_log_next + POKER_LOG_SIZE - 1 - k) % POKER_LOG_SIZE];
		if (!player_id || sat(e, player_id))
			h->e[h->n++] = *e;
	}
	return h;
}

struct poker_history *tank_poker_history(const struct tank *t, size_t limit)
{
	return tank_poker_history_of(t, limit, NULL);
}

json_object *poker_history_json(const struct poker_history *h)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array_ext((int)h->n);
	for (size_t k = 0; k < h->n; k++)
		json_object_array_add(a, entry_json(&h->e[k]));
	json_object_object_add(o, "hands", a);
	return o;
}

void poker_history_free(struct poker_history *h)
{
	free(h);
}

json_object *tank_poker_hands_json(const struct tank *t, size_t limit)
{
	struct poker_history *h = tank_poker_history(t, limit);
	json_object *o = poker_history_json(h);
	poker_history_free(h);
	return o;
}
