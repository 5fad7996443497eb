/* Connections between tanks (DESIGN §5): which tank sends fish to which, with what
 * probability, through which wall. Pure domain code: no HTTP, no event loop, no
 * clock reads, no file I/O (callers persist the state JSON), so every rule is unit
 * tested directly.
 *
 * A connection lives on the server of its source tank. At most one connection leaves
 * a tank through each wall (source tank, direction). */
#ifndef TW_CONNECTIONS_H
#define TW_CONNECTIONS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "ids.h"
#include "jsonv.h"
#include "tbucket.h"

enum direction {
	DIR_LEFT,
	DIR_RIGHT,
};

struct connection {
	char id[CONN_ID_MAX + 1];
	char source_tank_id[TANK_ID_MAX + 1];
	char destination_tank_id[TANK_ID_MAX + 1];
	char source_server_id[SERVER_ID_MAX + 1];
	char destination_server_id[SERVER_ID_MAX + 1];
	int probability; /* 0-100 */
	enum direction direction;

	/* Runtime only, never persisted. */
	double validated_at;   /* monotonic time its tanks were last confirmed; 0 if loaded */
	struct tbucket bucket; /* per-connection rate limit */
	/* Refusals (below, and refusals.c): after a definitive refusal by its destination
	 * the connection pauses (1 s doubling to refusal_backoff_max, reset by a success);
	 * a destination tank that is gone marks it broken until a check finds it back. */
	int refusals;	     /* consecutive definitive refusals */
	double paused_until; /* monotonic; fish may go again (one, a probe) from then */
	bool broken;	     /* the destination tank does not exist (404 unknown_tank) */
	double next_check;   /* monotonic: when a broken one next looks for its tank */
	bool checking;	     /* that look is in flight */
	int gate_synced;     /* the gate simd's exits were last synced for (refusals.c) */
	/* Its remote destination server is unknown to discoveryd, offline, or failing the
	 * deliveries in flight to it: its wall is closed (refusals.c) until that ends. */
	bool unreachable;
	char reason[200]; /* the last refusal, "" when none */
};

struct connections;

/* Refusals. A connection whose destination refused a fish definitively (full, transfers
 * disabled, a bad entity...) pauses: REFUSAL_FIRST s after the first refusal, doubling
 * with each one up to cap, and any success resets it. When the pause is over it is a
 * probe: one fish may go (simd's wall lets one through; a scheduler hit may send one);
 * its answer resets the connection or pauses it longer. A destination tank that does not
 * exist (404 unknown_tank) makes the connection broken: paused for the whole cap, and
 * refusals.c looks for the tank now and then and heals it when it is back. */
#define REFUSAL_FIRST 1.0
enum conn_gate {
	GATE_OPEN,   /* no refusal pending: fish go freely */
	GATE_PROBE,  /* paused, and the pause is over: one fish may go */
	GATE_CLOSED, /* paused: no fish goes */
};
double conn_refusal_pause(int refusals, double cap);
enum conn_gate conn_gate(const struct connection *c, double now);
/* A definitive refusal; gone: the destination tank does not exist. why is kept for the
 * API. Returns true when this made the connection broken (log it once). */
bool conn_refused(struct connection *c, bool gone, const char *why, double now, double cap);
/* A fish was accepted, or a broken connection's tank was found: returns true if the
 * connection was paused or broken (its walls need syncing). */
bool conn_succeeded(struct connection *c);

const char *direction_name(enum direction d);
int direction_from_name(const char *s, enum direction *ret);

/* Parse a POST body: camelCase (id, sourceId, destinationId, sourceServerId,
 * destinationServerId) or snake_case (source_tank_id, destination_tank_id,
 * source_server_id, destination_server_id); probability 0-100 (default 25);
 * direction left|right (default right); id defaults to "<src>-><dst>" (refused when
 * that is longer than CONN_ID_MAX); missing server ids mean local_server_id. Checks
 * types, ranges, id syntax, that the source is local (a connection lives on its
 * source's server; stored: o comes from connections.json, where a source elsewhere means
 * server_id changed, and the message says so) and that it does not join a tank to
 * itself. Returns 0, or -EINVAL with e->msg. Nothing else is checked here: that the
 * tanks and servers exist needs I/O (api.c). */
int connection_from_json(json_object *o, const char *local_server_id, bool stored,
			 struct connection *ret, struct json_err *e);
/* The wire form (camelCase, as the original). */
json_object *connection_to_json(const struct connection *c);
bool connection_is_local(const struct connection *c); /* both ends on this server */

struct connections *connections_new(const char *local_server_id);
struct connections *connections_free(struct connections *s);
size_t connections_count(const struct connections *s);
const struct connection *connections_get(const struct connections *s, const char *id);
/* By index, 0..count-1, in creation order; the pointer is valid until the next change. */
struct connection *connections_at(struct connections *s, size_t i);

/* Insert or replace by id. -EEXIST when another connection (*ret_conflict, its id)
 * already leaves the same source tank through the same wall; nothing changes then.
 * On success *ret_created tells new from updated and, for an update, *ret_old gets the
 * previous version (so callers can refresh the old source's exits). The runtime rate
 * bucket of an updated connection is kept. */
int connections_upsert(struct connections *s, const struct connection *c, bool *ret_created,
		       struct connection *ret_old, char ret_conflict[CONN_ID_MAX + 1]);
/* 0, or -ENOENT. *ret_old (may be NULL) gets the removed connection. */
int connections_remove(struct connections *s, const char *id, struct connection *ret_old);
/* Remove every connection that touches tank_id on this server (as its source, or as
 * a local destination) and was validated before not_after (monotonic; pass a huge
 * value for "all"). Calls fn for each removed one. Returns how many. */
typedef void (*connection_fn)(const struct connection *c, void *arg);
size_t connections_remove_tank(struct connections *s, const char *tank_id, double not_after,
			       connection_fn fn, void *arg);

/* The exits a source tank needs: the destination of the connection leaving through
 * each wall, or NULL when that wall is closed. */
void connections_exits(const struct connections *s, const char *tank_id,
		       const struct connection **left, const struct connection **right);
/* {"left": null | {"destination_server_id","destination_tank_id","connection_id"
 *  [, "budget": n]}, "right": ...}: the body of simd's PUT /api/tanks/{id}/exits. A wall
 *  whose connection is paused after refusals has budget 0 (fish bounce off it), or 1 once
 *  the pause is over (one fish probes the destination); no budget: open. now is
 *  monotonic seconds. */
json_object *connections_exits_json(const struct connections *s, const char *tank_id, double now);
/* The runtime state added to the wire form in GET /api/connections: "state" ("ok",
 * "backing_off" or "broken"), "refusals", "reason" and "retryInSeconds". */
void connection_add_state_json(json_object *o, const struct connection *c, double now);

/* The state file (DESIGN §7): {"version":1,"connections":[wire form]}. from_state
 * replaces the whole set only when the file is valid throughout; on error it leaves
 * the set as it was and returns -EINVAL with e->msg naming the bad entry. */
json_object *connections_to_state(const struct connections *s);
int connections_from_state(struct connections *s, json_object *state, struct json_err *e);

#endif
