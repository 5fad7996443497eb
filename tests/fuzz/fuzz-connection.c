/* Fuzz target: a connection as migrated takes it from outside, from the same bytes: a
 * POST /api/connections body (camelCase or snake_case) and the connections.json state
 * file read at start. Whatever is accepted must serialize and parse back to the same
 * connection. Built with fuzz-main.c for `make check` and with libFuzzer by `make fuzz`. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "migrated/connections.h"
#include "util.h"

#include "fuzz.h"

#define FUZZ_LOCAL "srv-a"

static bool fuzz_same(const struct connection *a, const struct connection *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->source_tank_id, b->source_tank_id) == 0 &&
	       strcmp(a->destination_tank_id, b->destination_tank_id) == 0 &&
	       strcmp(a->source_server_id, b->source_server_id) == 0 &&
	       strcmp(a->destination_server_id, b->destination_server_id) == 0 &&
	       a->probability == b->probability && a->direction == b->direction;
}

/* The wire form of c parses back to c (it is what GET answers and the state file keep). */
static void fuzz_round_trip(const struct connection *c)
{
	json_object *w = connection_to_json(c);
	struct connection again;
	struct json_err e = {""};
	if (connection_from_json(w, FUZZ_LOCAL, false, &again, &e) < 0 || !fuzz_same(c, &again))
		abort();
	json_object_put(w);
}

/* As a POST body. A body without an id gets "<source>-><destination>", as documented:
 * never a shortened one, which could be another connection's. */
static int fuzz_body(json_object *o)
{
	struct connection c;
	struct json_err e = {""};
	if (connection_from_json(o, FUZZ_LOCAL, false, &c, &e) < 0) {
		if (!e.msg[0])
			abort(); /* a refusal says why */
		return 0;
	}
	if (strcmp(c.source_server_id, FUZZ_LOCAL) != 0 || !object_id_valid(c.id, CONN_ID_MAX) ||
	    c.probability < 0 || c.probability > 100)
		abort();
	json_object *id = NULL;
	if (!json_object_object_get_ex(o, "id", &id) || !id) {
		char want[2 * TANK_ID_MAX + 3];
		snprintf(want, sizeof want, "%s->%s", c.source_tank_id, c.destination_tank_id);
		if (strcmp(c.id, want) != 0)
			abort();
	}
	fuzz_round_trip(&c);
	return 1;
}

/* As the state file: what loads saves, and the saved file loads to the same set. */
static int fuzz_state(json_object *o)
{
	struct connections *s = connections_new(FUZZ_LOCAL);
	struct json_err e = {""};
	int accepted = connections_from_state(s, o, &e) == 0;
	if (!accepted && !e.msg[0])
		abort();
	if (accepted) {
		json_object *st = connections_to_state(s);
		struct connections *back = connections_new(FUZZ_LOCAL);
		if (connections_from_state(back, st, &e) < 0 ||
		    connections_count(back) != connections_count(s))
			abort();
		for (size_t i = 0; i < connections_count(s); i++) {
			const struct connection *c = connections_at(s, i);
			fuzz_round_trip(c);
			if (!fuzz_same(c, connections_at(back, i)))
				abort();
			/* One connection per wall: the exits name it, or it is not there. */
			const struct connection *l, *r;
			connections_exits(s, c->source_tank_id, &l, &r);
			if (c != (c->direction == DIR_LEFT ? l : r))
				abort();
		}
		connections_free(back);
		json_object_put(st);
	}
	connections_free(s);
	return accepted;
}

int fuzz_verdict(const uint8_t *data, size_t size)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object((const char *)data, size, 16, &e);
	if (!o)
		return 0;
	int accepted = fuzz_body(o);
	accepted |= fuzz_state(o);
	json_object_put(o);
	return accepted;
}
