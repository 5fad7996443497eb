/* Connections: parsing, validation, the one-per-wall rule, exits and the state file. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections.h"
#include "util.h"
#include "xalloc.h"

struct connections {
	char local_server_id[SERVER_ID_MAX + 1];
	struct connection *v;
	size_t n, cap;
};

const char *direction_name(enum direction d)
{
	return d == DIR_LEFT ? "left" : "right";
}

int direction_from_name(const char *s, enum direction *ret)
{
	if (strcmp(s, "left") == 0)
		*ret = DIR_LEFT;
	else if (strcmp(s, "right") == 0)
		*ret = DIR_RIGHT;
	else
		return -EINVAL;
	return 0;
}

/* One field under either of two names; both present and different is an error. */
static int string_either(json_object *o, const char *camel, const char *snake, bool required,
			 size_t max_len, const char **ret, struct json_err *e)
{
	const char *a = NULL, *b = NULL;
	int ra = jv_string(o, camel, false, 0, max_len, &a, e);
	if (ra < 0)
		return ra;
	int rb = jv_string(o, snake, false, 0, max_len, &b, e);
	if (rb < 0)
		return rb;
	/* null means absent, as the original's optional server ids. */
	if (ra > 0 && rb > 0 && strcmp(a, b) != 0)
		return jv_fail(e, "'%s' and '%s' disagree", camel, snake);
	const char *v = ra > 0 ? a : b;
	if (!v || !*v) {
		if (required)
			return jv_fail(e, "'%s' (or '%s') is required", camel, snake);
		return 0;
	}
	*ret = v;
	return 1;
}

/* An absent or null server id (the original sends null) means this server. */
static int opt_server(json_object *o, const char *camel, const char *snake, const char *local,
		      char *out, struct json_err *e)
{
	const char *v = NULL;
	int r = string_either(o, camel, snake, false, SERVER_ID_MAX, &v, e);
	if (r > 0 && !server_id_valid(v))
		return jv_fail(e, "'%s' must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}", camel);
	if (r < 0)
		return r;
	snprintf(out, SERVER_ID_MAX + 1, "%s", r > 0 ? v : local);
	return 0;
}

int connection_from_json(json_object *o, const char *local_server_id, bool stored,
			 struct connection *ret, struct json_err *e)
{
	struct connection c = {.probability = 25, .direction = DIR_RIGHT};
	const char *src = NULL, *dst = NULL, *id = NULL, *dir = NULL;
	if (!json_object_is_type(o, json_type_object))
		return jv_fail(e, "a JSON object is required");
	if (string_either(o, "sourceId", "source_tank_id", true, TANK_ID_MAX, &src, e) < 0 ||
	    string_either(o, "destinationId", "destination_tank_id", true, TANK_ID_MAX, &dst, e) < 0)
		return -EINVAL;
	if (!object_id_valid(src, TANK_ID_MAX))
		return jv_fail(e, "'sourceId' is not a valid tank id");
	if (!object_id_valid(dst, TANK_ID_MAX))
		return jv_fail(e, "'destinationId' is not a valid tank id");
	snprintf(c.source_tank_id, sizeof c.source_tank_id, "%s", src);
	snprintf(c.destination_tank_id, sizeof c.destination_tank_id, "%s", dst);
	if (opt_server(o, "sourceServerId", "source_server_id", local_server_id, c.source_server_id,
		       e) < 0 ||
	    opt_server(o, "destinationServerId", "destination_server_id", local_server_id,
		       c.destination_server_id, e) < 0)
		return -EINVAL;
	int r = jv_string(o, "id", false, 1, CONN_ID_MAX, &id, e);
	if (r < 0)
		return r;
	if (r > 0) {
		if (!object_id_valid(id, CONN_ID_MAX))
			return jv_fail(e,
				       "'id' must be 1-%d characters of A-Z a-z 0-9 . _ - > : "
				       "starting with a letter or digit",
				       CONN_ID_MAX);
		snprintf(c.id, sizeof c.id, "%s", id);
	} else if (snprintf(c.id, sizeof c.id, "%s->%s", src, dst) >= (int)sizeof c.id) {
		/* Two tank ids of 64 characters make 130: cut to CONN_ID_MAX, the ids of two
		 * connections from one tank to two such tanks could be the same, and the
		 * second would silently replace the first. */
		return jv_fail(e,
			       "'sourceId' and 'destinationId' are too long for the default id "
			       "\"<source>-><destination>\" (at most %d characters): give an 'id'",
			       CONN_ID_MAX);
	}
	if (jv_int(o, "probability", false, 0, 100, &c.probability, e) < 0)
		return -EINVAL;
	r = jv_string(o, "direction", false, 0, 16, &dir, e);
	if (r < 0)
		return r;
	if (r > 0 && direction_from_name(dir, &c.direction) < 0)
		return jv_fail(e, "'direction' must be \"left\" or \"right\"");
	/* In the file, a change of server_id shows up here, and is said as such: the
	 * connections are not re-homed silently. */
	if (strcmp(c.source_server_id, local_server_id) != 0 && stored)
		return jv_fail(e,
			       "made on server %s, and this server's server_id is now %s: set "
			       "server_id back to keep the connections, or create them again",
			       c.source_server_id, local_server_id);
	if (strcmp(c.source_server_id, local_server_id) != 0)
		return jv_fail(e,
			       "the source tank is on server %s: a connection is stored on the "
			       "server of its source tank, so create it on %s's migrated",
			       c.source_server_id, c.source_server_id);
	if (strcmp(c.source_tank_id, c.destination_tank_id) == 0 &&
	    strcmp(c.source_server_id, c.destination_server_id) == 0)
		return jv_fail(e, "a connection cannot lead from a tank to itself");
	*ret = c;
	return 0;
}

json_object *connection_to_json(const struct connection *c)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "sourceId", json_object_new_string(c->source_tank_id));
	json_object_object_add(o, "destinationId", json_object_new_string(c->destination_tank_id));
	json_object_object_add(o, "sourceServerId", json_object_new_string(c->source_server_id));
	json_object_object_add(o, "destinationServerId",
			       json_object_new_string(c->destination_server_id));
	json_object_object_add(o, "probability", json_object_new_int(c->probability));
	json_object_object_add(o, "direction", json_object_new_string(direction_name(c->direction)));
	return o;
}

bool connection_is_local(const struct connection *c)
{
	return strcmp(c->source_server_id, c->destination_server_id) == 0;
}

struct connections *connections_new(const char *local_server_id)
{
	struct connections *s = xcalloc(1, sizeof *s);
	snprintf(s->local_server_id, sizeof s->local_server_id, "%s", local_server_id);
	return s;
}

struct connections *connections_free(struct connections *s)
{
	if (s) {
		free(s->v);
		free(s);
	}
	return NULL;
}

size_t connections_count(const struct connections *s)
{
	return s->n;
}

static ssize_t index_of(const struct connections *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

const struct connection *connections_get(const struct connections *s, const char *id)
{
	ssize_t i = index_of(s, id);
	return i < 0 ? NULL : &s->v[i];
}

struct connection *connections_at(struct connections *s, size_t i)
{
	return i < s->n ? &s->v[i] : NULL;
}

int connections_upsert(struct connections *s, const struct connection *c, bool *ret_created,
		       struct connection *ret_old, char ret_conflict[CONN_ID_MAX + 1])
{
	for (size_t i = 0; i < s->n; i++) {
		const struct connection *o = &s->v[i];
		if (strcmp(o->id, c->id) != 0 && o->direction == c->direction &&
		    strcmp(o->source_tank_id, c->source_tank_id) == 0) {
			if (ret_conflict)
				snprintf(ret_conflict, CONN_ID_MAX + 1, "%s", o->id);
			return -EEXIST;
		}
	}
	ssize_t i = index_of(s, c->id);
	if (i >= 0) {
		if (ret_old)
			*ret_old = s->v[i];
		struct connection keep = s->v[i];
		s->v[i] = *c;
		s->v[i].bucket = keep.bucket;
		/* The refusal state belongs to the destination: kept while it is the same. */
		if (strcmp(keep.destination_server_id, c->destination_server_id) == 0 &&
		    strcmp(keep.destination_tank_id, c->destination_tank_id) == 0) {
			s->v[i].refusals = keep.refusals;
			s->v[i].paused_until = keep.paused_until;
			s->v[i].broken = keep.broken;
			s->v[i].next_check = keep.next_check;
			s->v[i].checking = keep.checking;
			memcpy(s->v[i].reason, keep.reason, sizeof keep.reason);
		}
		*ret_created = false;
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n] = *c;
	s->v[s->n].bucket = (struct tbucket){0};
	s->v[s->n].refusals = 0;
	s->v[s->n].paused_until = 0;
	s->v[s->n].broken = s->v[s->n].checking = false;
	s->v[s->n].gate_synced = GATE_OPEN;
	s->v[s->n].reason[0] = '\0';
	s->n++;
	*ret_created = true;
	return 0;
}

static void remove_at(struct connections *s, size_t i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
	s->n--;
}

int connections_remove(struct connections *s, const char *id, struct connection *ret_old)
{
	ssize_t i = index_of(s, id);
	if (i < 0)
		return -ENOENT;
	if (ret_old)
		*ret_old = s->v[i];
	remove_at(s, (size_t)i);
	return 0;
}

size_t connections_remove_tank(struct connections *s, const char *tank_id, double not_after,
			       connection_fn fn, void *arg)
{
	size_t removed = 0;
	for (size_t i = 0; i < s->n;) {
		struct connection *c = &s->v[i];
		bool touches = (strcmp(c->source_tank_id, tank_id) == 0 &&
				strcmp(c->source_server_id, s->local_server_id) == 0) ||
			       (strcmp(c->destination_tank_id, tank_id) == 0 &&
				strcmp(c->destination_server_id, s->local_server_id) == 0);
		if (!touches || c->validated_at > not_after) {
			i++;
			continue;
		}
		struct connection old = *c;
		remove_at(s, i);
		removed++;
		if (fn)
			fn(&old, arg);
	}
	return removed;
}

void connections_exits(const struct connections *s, const char *tank_id,
		       const struct connection **left, const struct connection **right)
{
	*left = *right = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct connection *c = &s->v[i];
		if (strcmp(c->source_tank_id, tank_id) != 0 ||
		    strcmp(c->source_server_id, s->local_server_id) != 0)
			continue;
		if (c->direction == DIR_LEFT && !*left)
			*left = c;
		else if (c->direction == DIR_RIGHT && !*right)
			*right = c;
	}
}

static json_object *exit_json(const struct connection *c, double now)
{
	if (!c)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "destination_server_id",
			       json_object_new_string(c->destination_server_id));
	json_object_object_add(o, "destination_tank_id",
			       json_object_new_string(c->destination_tank_id));
	json_object_object_add(o, "connection_id", json_object_new_string(c->id));
	enum conn_gate g = conn_gate(c, now);
	if (c->unreachable)
		json_object_object_add(o, "budget", json_object_new_int(0));
	else if (g != GATE_OPEN)
		json_object_object_add(o, "budget", json_object_new_int(g == GATE_PROBE ? 1 : 0));
	return o;
}

json_object *connections_exits_json(const struct connections *s, const char *tank_id, double now)
{
	const struct connection *l, *r;
	connections_exits(s, tank_id, &l, &r);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "left", exit_json(l, now));
	json_object_object_add(o, "right", exit_json(r, now));
	return o;
}

void connection_add_state_json(json_object *o, const struct connection *c, double now)
{
	enum conn_gate g = conn_gate(c, now);
	const char *state = c->broken	     ? "broken"
			    : g != GATE_OPEN ? "backing_off"
			    : c->unreachable ? "unreachable"
					     : "ok";
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "refusals", json_object_new_int(c->refusals));
	json_object_object_add(o, "reason", c->reason[0] ? json_object_new_string(c->reason) : NULL);
	double wait = c->paused_until - now;
	json_object_object_add(o, "retryInSeconds",
			       g == GATE_CLOSED && wait > 0 ? jv_new_decimal(wait, 1) : NULL);
}

json_object *connections_to_state(const struct connections *s)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(list, connection_to_json(&s->v[i]));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "connections", list);
	return o;
}

int connections_from_state(struct connections *s, json_object *state, struct json_err *e)
{
	int version;
	json_object *list;
	if (jv_int(state, "version", true, 1, 1, &version, e) < 0 ||
	    jv_array(state, "connections", true, 100000, &list, e) < 0)
		return -EINVAL;
	struct connections *fresh = connections_new(s->local_server_id);
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct connection c;
		struct json_err ie;
		json_object *item = json_object_array_get_idx(list, i);
		if (connection_from_json(item, s->local_server_id, true, &c, &ie) < 0) {
			connections_free(fresh);
			return jv_fail(e, "connection %zu: %s", i, ie.msg);
		}
		if (!json_object_object_get_ex(item, "id", NULL)) {
			connections_free(fresh);
			return jv_fail(e, "connection %zu: 'id' is missing", i);
		}
		bool created = false;
		char conflict[CONN_ID_MAX + 1];
		if (connections_upsert(fresh, &c, &created, NULL, conflict) < 0) {
			connections_free(fresh);
			return jv_fail(e,
				       "connection %zu (%s) leaves tank %s through the same wall "
				       "as %s",
				       i, c.id, c.source_tank_id, conflict);
		}
		if (!created) {
			connections_free(fresh);
			return jv_fail(e, "connection %zu: duplicate id %s", i, c.id);
		}
	}
	free(s->v);
	s->v = fresh->v;
	s->n = fresh->n;
	s->cap = fresh->cap;
	fresh->v = NULL;
	connections_free(fresh);
	return 0;
}

double conn_refusal_pause(int refusals, double cap)
{
	double d = REFUSAL_FIRST;
	for (int i = 1; i < refusals && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

enum conn_gate conn_gate(const struct connection *c, double now)
{
	if (c->refusals == 0 && !c->broken)
		return GATE_OPEN;
	return now < c->paused_until ? GATE_CLOSED : GATE_PROBE;
}

bool conn_refused(struct connection *c, bool gone, const char *why, double now, double cap)
{
	bool newly_broken = gone && !c->broken;
	c->refusals++;
	if (gone)
		c->broken = true;
	c->paused_until = now + (c->broken ? cap : conn_refusal_pause(c->refusals, cap));
	snprintf(c->reason, sizeof c->reason, "%s", why ? why : "refused");
	return newly_broken;
}

bool conn_succeeded(struct connection *c)
{
	bool was = c->refusals > 0 || c->broken;
	c->refusals = 0;
	c->broken = false;
	c->paused_until = 0;
	c->reason[0] = '\0';
	return was;
}
