/* Unit tests for migrated/connections: parsing in both naming styles, defaults,
 * validation, upsert, the one-per-wall rule, cascade, exits and the state file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connections.h"
#include "jsonv.h"
#include "connection-test.h"
#include "tap.h"

#define A "11111111-1111-4111-8111-111111111111"
#define B "22222222-2222-4222-8222-222222222222"
#define C "33333333-3333-4333-8333-333333333333"

static int parse(const char *text, struct connection *c, struct json_err *e)
{
	json_object *o = jv_parse(text, strlen(text), 16, e);
	if (!o)
		return -EINVAL;
	int r = connection_from_json(o, "s1", false, c, e);
	json_object_put(o);
	return r;
}

static bool parses(const char *text)
{
	struct connection c;
	struct json_err e;
	return parse(text, &c, &e) == 0;
}

static void test_parse(void)
{
	struct connection c;
	struct json_err e;
	ok(parse("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\"}", &c, &e) == 0,
	   "camelCase minimal body");
	is_str(c.id, A "->" B, "default id is <src>-><dst>");
	is_int(c.probability, 25, "default probability 25");
	is_int(c.direction, DIR_RIGHT, "default direction right");
	is_str(c.source_server_id, "s1", "missing source server means this server");
	is_str(c.destination_server_id, "s1", "missing destination server means this server");
	ok(connection_is_local(&c), "both ends here: local");

	ok(parse("{\"source_tank_id\":\"" A "\",\"destination_tank_id\":\"" B "\","
		 "\"source_server_id\":\"s1\",\"destination_server_id\":\"s2\",\"probability\":0,"
		 "\"direction\":\"left\",\"id\":\"x\"}",
		 &c, &e) == 0,
	   "snake_case body");
	is_str(c.id, "x", "explicit id");
	is_str(c.destination_server_id, "s2", "snake destination server");
	is_int(c.probability, 0, "probability 0 allowed");
	is_int(c.direction, DIR_LEFT, "left");
	ok(!connection_is_local(&c), "remote");
	ok(parse("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"sourceServerId\":null,"
		 "\"destinationServerId\":null,\"probability\":100}",
		 &c, &e) == 0,
	   "null server ids are absent (the original sends them)");
	ok(parses("{\"sourceId\":\"" A "\",\"source_tank_id\":\"" A "\",\"destinationId\":\"" B
		  "\"}"),
	   "both styles agreeing is fine");

	ok(!parses("{}"), "empty body refused");
	ok(!parses("[]"), "array refused");
	ok(!parses("{\"destinationId\":\"" B "\"}"), "missing source refused");
	ok(!parses("{\"sourceId\":\"" A "\"}"), "missing destination refused");
	ok(!parses("{\"sourceId\":\"\",\"destinationId\":\"" B "\"}"), "empty source refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"probability\":101}"),
	   "probability 101 refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"probability\":-1}"),
	   "probability -1 refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"probability\":5.5}"),
	   "fractional probability refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"probability\":\"5\"}"),
	   "string probability refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"direction\":\"up\"}"),
	   "direction up refused");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"direction\":\"Left\"}"),
	   "direction is case-sensitive");
	ok(!parses("{\"sourceId\":\"a/b\",\"destinationId\":\"" B "\"}"), "slash in a tank id");
	ok(!parses("{\"sourceId\":\"-a\",\"destinationId\":\"" B "\"}"), "tank id starting with -");
	ok(!parses("{\"sourceId\":7,\"destinationId\":\"" B "\"}"), "numeric tank id");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"id\":\"a b\"}"),
	   "space in a connection id");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"destinationServerId\":"
		   "\"bad server\"}"),
	   "bad server id");
	ok(!parses("{\"sourceId\":\"" A "\",\"source_tank_id\":\"" C "\",\"destinationId\":\"" B
		   "\"}"),
	   "the two styles disagreeing is refused");
	ok(parse("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"sourceServerId\":\"s2\"}",
		 &c, &e) < 0 &&
		   strstr(e.msg, "create it on s2"),
	   "a remote source is refused with where to create it");
	ok(!parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" A "\"}"), "a tank to itself");
	ok(parses("{\"sourceId\":\"" A "\",\"destinationId\":\"" A
		  "\",\"destinationServerId\":\"s2\"}"),
	   "the same tank id on another server is another tank");
	char big[400];
	snprintf(big, sizeof big, "{\"sourceId\":\"%0100d\",\"destinationId\":\"" B "\"}", 1);
	ok(!parses(big), "overlong tank id refused");

	ok(parse("{\"sourceId\":\"" A "\",\"destinationId\":\"" B "\",\"id\":\"c1\"}", &c, &e) == 0,
	   "for the round trip");
	json_object *o = connection_to_json(&c);
	is_str(jv_to_string(o),
	       "{\"id\":\"c1\",\"sourceId\":\"" A "\",\"destinationId\":\"" B
	       "\",\"sourceServerId\":"
	       "\"s1\",\"destinationServerId\":\"s1\",\"probability\":25,\"direction\":\"right\"}",
	       "wire form is camelCase with every field");
	struct connection back;
	ok(connection_from_json(o, "s1", false, &back, &e) == 0 && strcmp(back.id, c.id) == 0 &&
		   back.probability == c.probability,
	   "the wire form parses back");
	json_object_put(o);
}

static void test_store(void)
{
	struct connections *s = connections_new("s1");
	bool created;
	struct connection old;
	char conflict[CONN_ID_MAX + 1];
	struct connection c1 = test_connection("c1", A, B, "s1", 50, DIR_RIGHT);
	ok(connections_upsert(s, &c1, &created, &old, conflict) == 0 && created, "insert");
	c1.probability = 90;
	c1.bucket.tokens = 42; /* runtime state the stored one keeps */
	ok(connections_upsert(s, &c1, &created, &old, conflict) == 0 && !created, "update");
	is_int(old.probability, 50, "update returns the old version");
	is_int(connections_get(s, "c1")->probability, 90, "updated");
	is_int(connections_count(s), 1, "still one");
	struct connection c2 = test_connection("c2", A, C, "s1", 50, DIR_RIGHT);
	ok(connections_upsert(s, &c2, &created, NULL, conflict) == -EEXIST, "same wall refused");
	is_str(conflict, "c1", "names the connection holding the wall");
	c2.direction = DIR_LEFT;
	ok(connections_upsert(s, &c2, &created, NULL, conflict) == 0 && created, "other wall ok");
	struct connection c3 = test_connection("c3", B, A, "s1", 50, DIR_RIGHT);
	ok(connections_upsert(s, &c3, &created, NULL, conflict) == 0, "the way back is separate");
	struct connection c2r = test_connection("c2", A, C, "s1", 50, DIR_RIGHT);
	ok(connections_upsert(s, &c2r, &created, NULL, conflict) == -EEXIST,
	   "an update may not move onto a used wall");
	is_int(connections_get(s, "c2")->direction, DIR_LEFT, "and it changed nothing");

	const struct connection *l, *r;
	connections_exits(s, A, &l, &r);
	ok(l && strcmp(l->id, "c2") == 0 && r && strcmp(r->id, "c1") == 0, "exits of A");
	json_object *ex = connections_exits_json(s, B, 0);
	is_str(jv_to_string(ex),
	       "{\"left\":null,\"right\":{\"destination_server_id\":\"s1\",\"destination_tank_id\":\"" A
	       "\",\"connection_id\":\"c3\"}}",
	       "exits JSON of B");
	json_object_put(ex);
	/* A paused connection's wall: closed (budget 0), then one fish (budget 1). */
	struct connection *c3p = NULL;
	for (size_t i = 0; i < connections_count(s); i++)
		if (strcmp(connections_at(s, i)->id, "c3") == 0)
			c3p = connections_at(s, i);
	conn_refused(c3p, false, "409 tank_full", 50, 300);
	ex = connections_exits_json(s, B, 50.5);
	ok(strstr(jv_to_string(ex), "\"budget\":0") != NULL,
	   "a paused connection's wall has budget 0");
	json_object_put(ex);
	ex = connections_exits_json(s, B, 51);
	ok(strstr(jv_to_string(ex), "\"budget\":1") != NULL, "after the pause: budget 1 (a probe)");
	json_object_put(ex);
	json_object *st = json_object_new_object();
	connection_add_state_json(st, c3p, 50.5);
	ok(strstr(jv_to_string(st), "\"state\":\"backing_off\"") &&
		   strstr(jv_to_string(st), "409 tank_full"),
	   "the API shows it backing off, with the reason");
	json_object_put(st);
	conn_succeeded(c3p);
	ex = connections_exits_json(s, "nosuch", 0);
	is_str(jv_to_string(ex), "{\"left\":null,\"right\":null}",
	       "no connections: both walls closed");
	json_object_put(ex);

	/* Persistence round trip. */
	json_object *state = connections_to_state(s);
	struct connections *s2 = connections_new("s1");
	struct json_err e;
	ok(connections_from_state(s2, state, &e) == 0, "state round trip");
	is_int(connections_count(s2), 3, "three back");
	is_int(connections_get(s2, "c1")->probability, 90, "fields back");
	is_int(connections_get(s2, "c2")->direction, DIR_LEFT, "direction back");
	json_object_put(state);
	struct connections *other = connections_new("s9");
	state = connections_to_state(s);
	ok(connections_from_state(other, state, &e) < 0 && strstr(e.msg, "made on server s1") &&
		   strstr(e.msg, "server_id is now s9"),
	   "another server id refuses the file, saying server_id changed: %s", e.msg);
	json_object_put(state);
	connections_free(other);

	/* Bad files are reported and change nothing. */
	const char *bad[] = {
		"{}",
		"{\"version\":2,\"connections\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"connections\":{}}",
		"{\"version\":1,\"connections\":[{\"sourceId\":\"" A "\"}]}",
		"{\"version\":1,\"connections\":[{\"sourceId\":\"" A "\",\"destinationId\":\"" B
		"\"}]}",
		"{\"version\":1,\"connections\":[{\"id\":\"x\",\"sourceId\":\"" A
		"\",\"destinationId\":\"" B "\"},{\"id\":\"x\",\"sourceId\":\"" B
		"\",\"destinationId\":\"" A "\"}]}",
		"{\"version\":1,\"connections\":[{\"id\":\"x\",\"sourceId\":\"" A
		"\",\"destinationId\":\"" B "\"},{\"id\":\"y\",\"sourceId\":\"" A
		"\",\"destinationId\":\"" C "\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_object *o = jv_parse(bad[i], strlen(bad[i]), 16, &e);
		ok(o && connections_from_state(s2, o, &e) < 0 && e.msg[0],
		   "bad file %zu refused: %s", i, e.msg);
		json_object_put(o);
	}
	is_int(connections_count(s2), 3, "a refused file left the set as it was");
	connections_free(s2);

	/* Cascade: A goes; c1 and c2 leave from A, c3 arrives in A locally. */
	/* A on s2 is another tank */
	struct connection c4 = test_connection("c4", B, A, "s2", 50, DIR_LEFT);
	ok(connections_upsert(s, &c4, &created, NULL, conflict) == 0, "remote connection");
	connections_at(s, 0)->validated_at = 100; /* c1: confirmed after the check began */
	size_t n = connections_remove_tank(s, A, 50, NULL, NULL);
	is_int(n, 2, "cascade removed the two checked before the tank's absence was seen");
	ok(connections_get(s, "c1") != NULL, "one validated later stays");
	ok(connections_get(s, "c4") != NULL, "a remote tank of the same id is untouched");
	n = connections_remove_tank(s, A, 1e18, NULL, NULL);
	is_int(n, 1, "then it goes too");
	ok(connections_remove(s, "c4", &old) == 0 && strcmp(old.id, "c4") == 0, "remove");
	ok(connections_remove(s, "c4", NULL) == -ENOENT, "remove again: ENOENT");
	is_int(connections_count(s), 0, "empty");
	connections_free(s);
}

/* An edit of a connection (a new probability, PUT again by tankctl connect) keeps the
 * refusal state while the destination stays the same: the tank that refused is still
 * full, and the pause must not restart the flood it stopped. Pointed at another tank, the
 * connection starts afresh: the refusals were the old tank's. */
static void test_update_refusals(void)
{
	struct connections *s = connections_new("s1");
	bool created;
	char conflict[CONN_ID_MAX + 1];
	struct connection c = test_connection("p", A, B, "s2", 50, DIR_RIGHT);
	ok(connections_upsert(s, &c, &created, NULL, conflict) == 0 && created, "insert p");
	conn_refused(connections_at(s, 0), false, "409 tank_full", 100, 300);
	c.probability = 80;
	ok(connections_upsert(s, &c, &created, NULL, conflict) == 0 && !created, "update p");
	const struct connection *g = connections_get(s, "p");
	ok(g->probability == 80 && conn_gate(g, 100.5) == GATE_CLOSED && g->refusals == 1 &&
		   strcmp(g->reason, "409 tank_full") == 0,
	   "a new probability keeps the pause of the same destination");
	snprintf(c.destination_tank_id, sizeof c.destination_tank_id, "%s", C);
	ok(connections_upsert(s, &c, &created, NULL, conflict) == 0 && !created, "re-point p");
	g = connections_get(s, "p");
	ok(conn_gate(g, 100.5) == GATE_OPEN && g->refusals == 0 && !g->reason[0],
	   "pointed at another tank, a paused connection starts with no refusals");
	connections_free(s);
}

int main(void)
{
	test_parse();
	test_store();
	test_update_refusals();
	return tap_done();
}
