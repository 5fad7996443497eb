/* Unit tests for discoveryd/registry: the status state machine with an injected
 * clock, registration rules, ServerInfo validation, merging the hub's list, the
 * state file round trip, and an etcd key-value pair read as an entry (etcd-kv.c, in
 * the same library). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd/etcd-kv.h"
#include "discoveryd/registry.h"
#include "tap.h"

static const struct registry_timing timing = {
	.heartbeat_interval = 1,
	.heartbeat_timeout = 3,
	.evict_after = 10,
};

static struct server_info info(const char *id, const char *host, int port)
{
	struct server_info in;
	memset(&in, 0, sizeof in);
	snprintf(in.server_id, sizeof in.server_id, "%s", id);
	snprintf(in.host, sizeof in.host, "%s", host);
	in.port = port;
	return in;
}

struct event {
	char id[65];
	enum server_status from, to;
	bool evicted;
};

static struct event events[64];
static size_t n_events;

static void on_event(const struct server_entry *e, enum server_status from, enum server_status to,
		     bool evicted, void *arg)
{
	int *calls = arg;
	(*calls)++;
	if (n_events < sizeof events / sizeof events[0]) {
		struct event *ev = &events[n_events++];
		snprintf(ev->id, sizeof ev->id, "%s", e->info.server_id);
		ev->from = from;
		ev->to = to;
		ev->evicted = evicted;
	}
}

static bool event_is(size_t i, const char *id, enum server_status from, enum server_status to,
		     bool evicted)
{
	if (i >= n_events)
		return false;
	const struct event *ev = &events[i];
	bool same = strcmp(ev->id, id) == 0 && ev->from == from && ev->to == to &&
		    ev->evicted == evicted;
	if (!same)
		printf("#   event %zu: %s %s -> %s%s\n", i, ev->id, server_status_name(ev->from),
		       server_status_name(ev->to), ev->evicted ? " (evicted)" : "");
	return same;
}

static enum server_status status_of(struct registry *r, const char *id, double now)
{
	const struct server_entry *e = registry_get(r, id);
	return e ? registry_status(r, e, now) : (enum server_status) - 1;
}

static void test_state_machine(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info self = info("local", "127.0.0.1", 8001);
	bool created = false;
	is_int(registry_register(r, &self, 0, false, &created), 0, "register the local entry");
	ok(created, "local entry created");

	const double t0 = 1000;
	struct server_info peer = info("peer", "10.0.0.2", 8001);
	created = false;
	is_int(registry_register(r, &peer, t0, true, &created), 0, "register a peer");
	ok(created, "peer created");
	is_int(registry_count(r), 2, "two entries");
	const struct server_entry *e = registry_get(r, "peer");
	ok(e && e->last_heartbeat == t0 && e->registered_at == t0 && !e->learned,
	   "peer entry: heartbeat and registration time = now, not learned");

	is_int(status_of(r, "peer", t0), SERVER_ONLINE, "online at age 0");
	is_int(status_of(r, "peer", t0 + 2.0), SERVER_ONLINE, "online at age 2.0 (= 2 intervals)");
	is_int(status_of(r, "peer", t0 + 2.01), SERVER_DEGRADED, "degraded at age 2.01");
	is_int(status_of(r, "peer", t0 + 3.0), SERVER_DEGRADED, "degraded at age 3.0 (= timeout)");
	is_int(status_of(r, "peer", t0 + 3.01), SERVER_OFFLINE, "offline at age 3.01");
	is_int(status_of(r, "peer", t0 + 9.99), SERVER_OFFLINE, "offline at age 9.99");
	/* A clock that went backwards gives a negative age: online. */
	is_int(status_of(r, "peer", t0 - 5), SERVER_ONLINE, "online at a negative age");

	int calls = 0;
	n_events = 0;
	is_int(registry_sweep(r, t0 + 1, on_event, &calls), 0, "sweep at 1 s: no change");
	is_int(registry_sweep(r, t0 + 2.01, on_event, &calls), 1, "sweep at 2.01 s: one change");
	ok(event_is(0, "peer", SERVER_ONLINE, SERVER_DEGRADED, false), "event online -> degraded");
	is_int(registry_get(r, "peer")->last_status, SERVER_DEGRADED, "last_status degraded");
	is_int(registry_sweep(r, t0 + 2.5, on_event, &calls), 0, "sweep again while degraded: none");
	is_int(registry_sweep(r, t0 + 3.01, on_event, &calls), 1, "sweep at 3.01 s: one change");
	ok(event_is(1, "peer", SERVER_DEGRADED, SERVER_OFFLINE, false), "event degraded -> offline");
	is_int(registry_sweep(r, t0 + 10.0, on_event, &calls), 0,
	       "sweep at 10.0 s: not yet evicted");
	ok(registry_get(r, "peer") != NULL, "peer still present at age 10.0");
	is_int(registry_sweep(r, t0 + 10.01, on_event, &calls), 1, "sweep at 10.01 s: evicted");
	ok(event_is(2, "peer", SERVER_OFFLINE, SERVER_OFFLINE, true),
	   "event: evicted while offline");
	ok(registry_get(r, "peer") == NULL, "peer gone after eviction");
	is_int(registry_count(r), 1, "only the local entry remains");
	is_int(calls, 3, "callback called once per change");
	is_int(n_events, 3, "three events in all");

	/* The local entry never degrades and is never evicted. */
	is_int(status_of(r, "local", 1e9), SERVER_ONLINE, "local entry online at any age");
	is_int(registry_sweep(r, 1e9, on_event, &calls), 0, "sweep far in the future: no change");
	ok(registry_get(r, "local") != NULL, "local entry never evicted");
	is_int(registry_unregister(r, "local"), -EPERM, "unregister(local) is -EPERM");
	ok(registry_get(r, "local") != NULL, "local entry still there");

	/* Sweep without a callback still applies changes. */
	registry_register(r, &peer, 2000, true, NULL);
	is_int(registry_sweep(r, 2002.5, NULL, NULL), 1, "sweep with fn NULL counts the change");
	is_int(registry_get(r, "peer")->last_status, SERVER_DEGRADED, "and records the status");

	/* Skipping straight to offline gives a single online -> offline event. */
	struct server_info p2 = info("p2", "10.0.0.3", 8001);
	registry_register(r, &p2, 3000, true, NULL);
	n_events = 0;
	calls = 0;
	registry_sweep(r, 3005, on_event, &calls);
	bool found = false;
	for (size_t i = 0; i < n_events; i++)
		if (strcmp(events[i].id, "p2") == 0)
			found = event_is(i, "p2", SERVER_ONLINE, SERVER_OFFLINE, false);
	ok(found, "online -> offline in one sweep");

	/* A heartbeat brings it back. */
	struct server_info p2b = p2;
	p2b.tank_count = 7;
	is_int(registry_heartbeat(r, "p2", &p2b, 3006), 0, "heartbeat for an offline entry");
	is_int(status_of(r, "p2", 3006), SERVER_ONLINE, "online right after the heartbeat");
	is_int(registry_get(r, "p2")->info.tank_count, 7, "heartbeat with info updates it");
	is_int(registry_get(r, "p2")->registered_at, 3000, "heartbeat keeps registered_at");
	n_events = 0;
	calls = 0;
	registry_sweep(r, 3006, on_event, &calls);
	found = false;
	for (size_t i = 0; i < n_events; i++)
		if (strcmp(events[i].id, "p2") == 0)
			found = event_is(i, "p2", SERVER_OFFLINE, SERVER_ONLINE, false);
	ok(found, "sweep reports offline -> online");
	is_int(registry_heartbeat(r, "p2", NULL, 3007), 0, "heartbeat without info");
	is_int(registry_get(r, "p2")->info.tank_count, 7, "heartbeat without info keeps info");
	is_int(registry_get(r, "p2")->last_heartbeat, 3007, "heartbeat without info moves the time");

	/* A degraded entry that is evicted reports from = degraded. */
	struct server_info p3 = info("p3", "10.0.0.4", 8001);
	registry_register(r, &p3, 4000, true, NULL);
	registry_sweep(r, 4002.5, NULL, NULL);
	n_events = 0;
	registry_sweep(r, 4011, on_event, &calls);
	found = false;
	for (size_t i = 0; i < n_events; i++)
		if (strcmp(events[i].id, "p3") == 0)
			found = event_is(i, "p3", SERVER_DEGRADED, SERVER_OFFLINE, true);
	ok(found, "eviction of a degraded entry reports degraded -> offline, evicted");

	/* Unknown ids. */
	is_int(registry_heartbeat(r, "nobody", NULL, 5000), -ENOENT, "heartbeat unknown: -ENOENT");
	is_int(registry_unregister(r, "nobody"), -ENOENT, "unregister unknown: -ENOENT");
	ok(registry_get(r, "nobody") == NULL, "registry_get unknown: NULL");

	/* Re-registration. */
	struct server_info p4 = info("p4", "10.0.0.5", 8001);
	registry_register(r, &p4, 6000, true, &created);
	ok(created, "p4 created");
	p4.port = 9001;
	created = true;
	is_int(registry_register(r, &p4, 6005, true, &created), 0, "re-register p4");
	ok(!created, "re-register: created = false");
	e = registry_get(r, "p4");
	ok(e->info.port == 9001 && e->last_heartbeat == 6005 && e->registered_at == 6000,
	   "re-register replaces info and heartbeat, keeps registered_at");
	is_int(registry_unregister(r, "p4"), 0, "unregister p4");
	ok(registry_get(r, "p4") == NULL, "p4 gone");
	is_int(registry_unregister(r, "p4"), -ENOENT, "unregister p4 twice: -ENOENT");

	/* Changing the timing changes the statuses. */
	registry_register(r, &p4, 7000, true, NULL);
	is_int(status_of(r, "p4", 7005), SERVER_OFFLINE, "offline at age 5 with timeout 3");
	registry_set_timing(r, &(struct registry_timing){10, 30, 100});
	is_int(status_of(r, "p4", 7005), SERVER_ONLINE, "online at age 5 with interval 10");
	registry_free(r);
}

static void test_local_id_rules(void)
{
	struct registry *r = registry_new("me", &timing);
	struct server_info self = info("me", "10.0.0.1", 8001);
	bool created = true;
	is_int(registry_register(r, &self, 10, true, &created), -EPERM,
	       "a peer registering the local id is -EPERM");
	is_int(registry_count(r), 0, "nothing registered");
	ok(registry_get(r, "me") == NULL, "no local entry after the refusal");
	is_int(registry_unregister(r, "me"), -EPERM, "unregister(local) is -EPERM even when absent");
	is_int(registry_register(r, &self, 10, false, &created), 0, "local registration itself");
	ok(created, "local entry created");
	self.port = 1;
	is_int(registry_register(r, &self, 20, true, NULL), -EPERM, "peer cannot replace it");
	is_int(registry_get(r, "me")->info.port, 8001, "local info unchanged by the refused peer");
	/* A similar but different id is not the local one. */
	struct server_info other = info("me2", "10.0.0.9", 8001);
	is_int(registry_register(r, &other, 10, true, NULL), 0, "'me2' is not the local id");
	is_int(server_status_from_name("degraded", &(enum server_status){0}), 0, "status by name");
	enum server_status st = SERVER_ONLINE;
	ok(server_status_from_name("offline", &st) == 0 && st == SERVER_OFFLINE, "offline by name");
	is_int(server_status_from_name("gone", &st), -EINVAL, "unknown status name");
	is_str(server_status_name(SERVER_DEGRADED), "degraded", "status name");
	registry_free(r);
	ok(registry_free(NULL) == NULL, "registry_free(NULL)");
}

/* Parse a JSON body and run server_info_from_json; returns its result. */
/* An entry's wire form, as the daemon writes it. */
static json_object *wire_of(const struct registry *r, const struct server_entry *en, double now)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	registry_entry_append_json(r, en, now, now, NULL, &buf, &len, &cap);
	struct json_err e;
	json_object *o = jv_parse_object(buf, len, 16, &e);
	free(buf);
	return o;
}

static int from_json(const char *text, struct server_info *ret, struct json_err *e)
{
	json_object *o = jv_parse_object(text, strlen(text), 16, e);
	if (!o) {
		printf("# fixture does not parse: %s: %s\n", text, e->msg);
		abort();
	}
	int r = server_info_from_json(o, ret, e);
	json_object_put(o);
	return r;
}

static void expect_invalid(const char *text, const char *field)
{
	struct server_info in = info("sentinel", "sentinel", 1);
	struct json_err e = {""};
	int r = from_json(text, &in, &e);
	ok(r == -EINVAL && strstr(e.msg, field) && strcmp(in.server_id, "sentinel") == 0,
	   "rejected, message names %s: %s -> %s", field, text, e.msg);
}

static void test_server_info_from_json(void)
{
	struct server_info in;
	struct json_err e = {""};
	memset(&in, 0x7f, sizeof in);
	is_int(from_json("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1}", &in, &e), 0,
	       "minimal body accepted");
	ok(strcmp(in.server_id, "a") == 0 && strcmp(in.host, "h") == 0 && in.port == 1,
	   "required fields copied");
	ok(in.hostname[0] == '\0' && in.version[0] == '\0' && in.platform[0] == '\0' &&
		   in.architecture[0] == '\0' && in.discovery_port == 0 && in.migration_port == 0 &&
		   in.tank_count == 0 && in.uptime_seconds == 0 && in.logical_cpus == 0,
	   "optional fields default to empty / 0");

	const char *full = "{\"server_id\":\"node-1.example\",\"hostname\":\"node1\","
			   "\"host\":\"2001:db8::1\",\"port\":8001,\"discovery_port\":8000,"
			   "\"migration_port\":8002,\"tank_count\":3,\"version\":\"0.1.0\","
			   "\"uptime_seconds\":12.5,\"platform\":\"Linux\",\"architecture\":"
			   "\"x86_64\",\"logical_cpus\":8,\"status\":\"offline\",\"is_local\":true,"
			   "\"extra\":[1,2]}";
	is_int(from_json(full, &in, &e), 0, "full body accepted (status, is_local, extras ignored)");
	ok(strcmp(in.server_id, "node-1.example") == 0 && strcmp(in.hostname, "node1") == 0 &&
		   strcmp(in.host, "2001:db8::1") == 0 && in.port == 8001 &&
		   in.discovery_port == 8000 && in.migration_port == 8002 && in.tank_count == 3 &&
		   strcmp(in.version, "0.1.0") == 0 && in.uptime_seconds == 12.5 &&
		   strcmp(in.platform, "Linux") == 0 && strcmp(in.architecture, "x86_64") == 0 &&
		   in.logical_cpus == 8,
	   "every field copied");

	/* is_local and status in the body do not reach the registry: a body saying
	 * "offline, is_local" registers as an online peer. */
	struct registry *r = registry_new("local", &timing);
	registry_register(r, &in, 100, true, NULL);
	const struct server_entry *en = registry_get(r, "node-1.example");
	is_int(registry_status(r, en, 100), SERVER_ONLINE, "body status ignored: online");
	json_object *wire = wire_of(r, en, 100);
	json_object *v;
	ok(json_object_object_get_ex(wire, "is_local", &v) && !json_object_get_boolean(v),
	   "body is_local ignored: is_local false on the wire");
	ok(json_object_object_get_ex(wire, "status", &v) &&
		   strcmp(json_object_get_string(v), "online") == 0,
	   "wire status computed: online");
	ok(json_object_object_get_ex(wire, "last_heartbeat_at", &v) &&
		   strcmp(json_object_get_string(v), "1970-01-01T00:01:40.000Z") == 0,
	   "wire last_heartbeat_at in ISO 8601");
	json_object_put(wire);
	wire = wire_of(r, en, 50); /* clock behind the heartbeat */
	ok(json_object_object_get_ex(wire, "heartbeat_age_seconds", &v) &&
		   json_object_get_double(v) == 0,
	   "negative age reported as 0");
	json_object_put(wire);
	registry_free(r);

	/* Missing required fields. */
	expect_invalid("{\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid("{\"server_id\":\"a\",\"port\":1}", "host");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\"}", "port");
	expect_invalid("{\"server_id\":null,\"host\":\"h\",\"port\":1}", "server_id");
	/* Bad values. */
	expect_invalid("{\"server_id\":\"\",\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid("{\"server_id\":\"../x\",\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid("{\"server_id\":\".x\",\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid("{\"server_id\":\"a/b\",\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid(
		"{\"server_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"host\":\"h\",\"port\":1}",
		"server_id"); /* 65 characters */
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":0}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":70000}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":-1}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":65536}", "port");
	/* discovery_port 0 means "not advertised" and is accepted (a reload test covers it). */
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"migration_port\":70000}",
		       "migration_port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"tank_count\":-1}",
		       "tank_count");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"uptime_seconds\":-1}",
		       "uptime_seconds");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"logical_cpus\":-2}",
		       "logical_cpus");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"bad host\",\"port\":1}", "host");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h:80\",\"port\":1}", "host");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"\",\"port\":1}", "host");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":\"a\\u0001b\"}",
		       "hostname");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":\"a\\nb\"}",
		       "hostname");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":\"a\\u007fb\"}",
		       "hostname");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":\"a\\u0000b\"}",
		       "hostname");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"version\":"
		       "\"123456789012345678901234567890123\"}",
		       "version"); /* 33 characters */
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"platform\":\"\\t\"}",
		       "platform");
	/* Wrong types. */
	expect_invalid("{\"server_id\":1,\"host\":\"h\",\"port\":1}", "server_id");
	expect_invalid("{\"server_id\":\"a\",\"host\":[\"h\"],\"port\":1}", "host");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":\"80\"}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":80.5}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":true}", "port");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":5}", "hostname");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"uptime_seconds\":\"1\"}",
		       "uptime_seconds");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"is_local\":\"yes\"}",
		       "is_local");
	expect_invalid("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"status\":1}", "status");

	/* Boundaries that are fine. */
	ok(from_json("{\"server_id\":\"a\",\"host\":\"h\",\"port\":65535,\"tank_count\":0,"
		     "\"version\":\"12345678901234567890123456789012\",\"hostname\":\"\"}",
		     &in, &e) == 0 &&
		   in.port == 65535 && strlen(in.version) == 32,
	   "port 65535, 32-character version and empty hostname accepted");
	ok(from_json("{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"hostname\":\"caf\xc3\xa9\"}",
		     &in, &e) == 0 &&
		   strcmp(in.hostname, "caf\xc3\xa9") == 0,
	   "UTF-8 hostname accepted");

	/* Not an object. */
	json_object *arr = json_object_new_array();
	e.msg[0] = '\0';
	ok(server_info_from_json(arr, &in, &e) == -EINVAL && e.msg[0], "an array is rejected");
	json_object_put(arr);
	ok(server_info_from_json(NULL, &in, &e) == -EINVAL, "NULL is rejected");
}

/* One complete listing from hub 0, as the worker applies it. */
static size_t registry_merge_learned(struct registry *r, const struct registry_learned *list,
				     size_t n, double now)
{
	size_t changes = 0;
	registry_hub_full_begin(r, 0);
	for (size_t i = 0; i < n; i++)
		changes += registry_hub_report(r, 0, &list[i], now);
	changes += registry_hub_full_end(r, 0, now);
	registry_hub_synced(r, 0, now);
	return changes;
}

static void test_merge_learned(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info self = info("local", "127.0.0.1", 8001);
	registry_register(r, &self, 100, false, NULL);
	struct server_info direct = info("direct", "d.example", 8001);
	direct.tank_count = 1;
	registry_register(r, &direct, 100, true, NULL);

	struct registry_learned list[4];
	memset(list, 0, sizeof list);
	list[0].info = info("direct", "hub-view.example", 9999);
	list[0].heartbeat_age = 1;
	list[1].info = info("local", "hub-thinks-local", 1);
	list[1].heartbeat_age = 0;
	list[2].info = info("l1", "l1.example", 8001);
	list[2].heartbeat_age = 2;
	list[3].info = info("l2", "l2.example", 8001);
	list[3].heartbeat_age = 5;
	list[3].status = SERVER_OFFLINE;

	/* It talks to us too (a heartbeat within the timeout): its own data holds. The
	 * case of one silent here for longer is test_registered_then_hub's. */
	registry_heartbeat(r, "direct", NULL, 198);
	is_int(registry_merge_learned(r, list, 4, 200), 2, "merge adds two learned entries");
	is_int(registry_count(r), 4, "local, direct, l1, l2");
	const struct server_entry *e = registry_get(r, "direct");
	ok(e && strcmp(e->info.host, "d.example") == 0 && e->info.port == 8001 && !e->learned,
	   "direct entry's data not overridden, still direct");
	ok(e && e->last_heartbeat == 199,
	   "direct entry's heartbeat advanced to the hub's newer one");
	e = registry_get(r, "local");
	ok(e && strcmp(e->info.host, "127.0.0.1") == 0 && e->info.port == 8001,
	   "local entry untouched by the hub's list");
	e = registry_get(r, "l1");
	ok(e && e->learned && strcmp(e->info.host, "l1.example") == 0 && e->last_heartbeat == 198,
	   "l1 learned, heartbeat from the hub's age");
	ok(e && e->registered_at == 198, "l1 registered_at = when the hub heard from it");
	is_int(registry_status(r, e, 200), SERVER_ONLINE, "l1 online (age 2)");
	e = registry_get(r, "l2");
	ok(e && e->learned && e->last_heartbeat == 195, "l2 learned");
	is_int(registry_status(r, e, 200), SERVER_OFFLINE, "l2 offline (age 5)");
	is_int(e->last_status, SERVER_OFFLINE, "l2 last_status set, so no spurious sweep event");
	is_int(registry_sweep(r, 200, NULL, NULL), 0, "sweep right after the merge: no changes");

	/* The hub's direct entry is older than ours: ours stays. */
	list[0].heartbeat_age = 50;
	registry_hub_report(r, 0, &list[0], 210);
	is_int(registry_get(r, "direct")->last_heartbeat, 199,
	       "an older hub heartbeat does not move a direct entry back");

	/* Refresh l1, drop l2 (no longer listed). */
	struct registry_learned list2[2];
	memset(list2, 0, sizeof list2);
	list2[0].info = info("l1", "l1-new.example", 8001);
	list2[0].info.tank_count = 7;
	list2[0].heartbeat_age = 0;
	list2[1].info = info("direct", "elsewhere", 1);
	list2[1].heartbeat_age = 0;
	registry_heartbeat(r, "direct", NULL, 299);
	is_int(registry_merge_learned(r, list2, 2, 300), 2,
	       "second merge: two changes (l1 changed, l2 dropped)");
	e = registry_get(r, "l1");
	ok(e && e->learned && strcmp(e->info.host, "l1-new.example") == 0 &&
		   e->info.tank_count == 7 && e->last_heartbeat == 300,
	   "l1 refreshed from the hub");
	ok(registry_get(r, "l2") == NULL, "l2 removed");
	e = registry_get(r, "direct");
	ok(e && strcmp(e->info.host, "d.example") == 0 && !e->learned && e->last_heartbeat == 300,
	   "direct entry keeps its data");

	/* An empty list drops every learned entry, never a direct one or the local one. */
	is_int(registry_merge_learned(r, NULL, 0, 400), 1, "empty list: l1 dropped");
	ok(registry_get(r, "l1") == NULL, "l1 gone");
	ok(registry_get(r, "direct") && registry_get(r, "local"), "direct and local stay");

	/* A learned entry that registers (or heartbeats) directly is no longer learned. */
	registry_merge_learned(r, list2, 1, 500);
	ok(registry_get(r, "l1")->learned, "l1 learned again");
	struct server_info l1 = info("l1", "l1-direct", 8001);
	registry_register(r, &l1, 501, true, NULL);
	ok(!registry_get(r, "l1")->learned, "registering directly clears learned");
	is_int(registry_merge_learned(r, NULL, 0, 502), 0, "merge of nothing keeps direct l1");
	ok(registry_get(r, "l1") != NULL, "l1 stays");
	struct registry_learned l3 = {.info = info("l3", "l3", 1), .heartbeat_age = 0};
	registry_merge_learned(r, &l3, 1, 600);
	is_int(registry_heartbeat(r, "l3", NULL, 601), 0, "heartbeat from a learned entry");
	ok(!registry_get(r, "l3")->learned, "heartbeat clears learned");
	is_int(registry_merge_learned(r, NULL, 0, 602), 0, "l3 now direct: not dropped");

	/* When the local entry is absent the hub's copy of it is still not added. */
	struct registry *r2 = registry_new("local", &timing);
	struct registry_learned only_local = {.info = info("local", "x", 1), .heartbeat_age = 0};
	is_int(registry_merge_learned(r2, &only_local, 1, 10), 0, "local id in the list: no change");
	ok(registry_get(r2, "local") == NULL, "the local id is never learned");
	registry_free(r2);
	registry_free(r);
}

static struct registry_learned learned(const char *id, double age, enum server_status st)
{
	struct registry_learned l = {.info = info(id, "h.example", 8001),
				     .heartbeat_age = age,
				     .status = st,
				     .direct = true};
	return l;
}

/* Several hubs: an entry goes only when no hub lists it and it is stale here; a hub
 * that lost its state does not make the worker forget a live peer; with no hub
 * answering, learned entries are the cache and stay. */
static void test_hubs(void)
{
	struct registry *r = registry_new("local", &timing);
	struct registry_learned a = learned("a", 0, SERVER_ONLINE),
				b = learned("b", 0, SERVER_ONLINE);
	registry_hub_full_begin(r, 0);
	ok(registry_hub_report(r, 0, &a, 100), "hub 0 lists a");
	registry_hub_full_end(r, 0, 100);
	registry_hub_synced(r, 0, 100);
	registry_hub_full_begin(r, 1);
	registry_hub_report(r, 1, &a, 100);
	ok(registry_hub_report(r, 1, &b, 100), "hub 1 lists b");
	registry_hub_full_end(r, 1, 100);
	registry_hub_synced(r, 1, 100);
	const struct server_entry *e = registry_get(r, "a");
	is_int(e->listed_by, 3, "a listed by both hubs");
	/* Hub 0 keeps answering without news: a stays online long after its age. */
	registry_hub_synced(r, 0, 150);
	is_int(registry_status(r, e, 151), SERVER_ONLINE, "a online while hub 0 confirms it");
	is_int(registry_status(r, registry_get(r, "b"), 151), SERVER_OFFLINE,
	       "b offline: hub 1 stopped answering");

	/* Hub 0 is wiped: an empty full listing. a is still listed by hub 1... */
	registry_hub_full_begin(r, 0);
	registry_hub_full_end(r, 0, 151);
	ok(registry_get(r, "a") != NULL, "a kept: hub 1 still lists it");
	/* ...and once hub 1 drops it too, a was heard recently: kept, unlisted. */
	is_int(registry_hub_removed(r, 1, "a", 151.5), 0, "hub 1 removes a: not dropped yet");
	e = registry_get(r, "a");
	ok(e && e->unlisted && e->listed_by == 0, "a unlisted but known (fresh here)");
	registry_hub_synced(r, 0, 152);
	registry_sweep(r, 152, NULL, NULL);
	ok(registry_get(r, "a") != NULL, "sweep keeps a while fresh");
	/* b was listed only by hub 1, silent for longer than evict_after while hub 0
	 * answers: the silence is real, b goes. */
	ok(registry_get(r, "b") == NULL, "b evicted after evict_after while a hub answers");
	registry_hub_report(r, 0, &a, 152.5);
	ok(!registry_get(r, "a")->unlisted, "a listed again by the wiped hub");
	registry_hub_removed(r, 0, "a", 153);
	registry_sweep(r, 160, NULL, NULL);
	ok(registry_get(r, "a") == NULL, "a dropped once unlisted and stale");

	/* The cache: no hub answers, a learned entry survives any age. */
	struct registry *c = registry_new("local", &timing);
	struct registry_learned p = learned("p", 0, SERVER_ONLINE);
	registry_hub_report(c, 0, &p, 100);
	registry_sweep(c, 100000, NULL, NULL);
	ok(registry_get(c, "p") != NULL, "with no hub answering, a cached peer is kept");
	is_int(registry_status(c, registry_get(c, "p"), 100000), SERVER_OFFLINE,
	       "and shown offline");
	/* Only a hub that hears a server itself keeps it online by answering: two hubs
	 * that learned it from each other do not keep a dead server alive. */
	struct registry_learned relayed = learned("relayed", 0, SERVER_ONLINE);
	relayed.direct = false;
	registry_hub_report(c, 1, &relayed, 100000);
	registry_hub_synced(c, 1, 100010);
	is_int(registry_status(c, registry_get(c, "relayed"), 100010), SERVER_OFFLINE,
	       "a relayed online is not confirmed by its hub's answers");
	struct registry_learned heard = learned("heard", 0, SERVER_ONLINE);
	registry_hub_report(c, 1, &heard, 100000);
	is_int(registry_status(c, registry_get(c, "heard"), 100010), SERVER_ONLINE,
	       "a direct online is");
	/* An entry long given up on is not learned again. */
	struct registry_learned z = learned("z", 1000, SERVER_OFFLINE);
	ok(!registry_hub_report(c, 0, &z, 100000) && !registry_get(c, "z"),
	   "a stale offline entry is not learned");
	registry_free(c);

	/* Two hubs that disagree on an address: the fresher word wins, whichever hub
	 * answers last. A hub that heard s 30 s ago must not move it back to the address
	 * it had then. */
	struct registry *h = registry_new("local", &timing);
	struct registry_learned fresh = learned("s", 0, SERVER_ONLINE),
				stale = learned("s", 30, SERVER_ONLINE);
	snprintf(fresh.info.host, sizeof fresh.info.host, "new.example");
	snprintf(stale.info.host, sizeof stale.info.host, "old.example");
	registry_hub_report(h, 0, &fresh, 200);
	ok(!registry_hub_report(h, 1, &stale, 200),
	   "hub 1's report of s heard 30 s ago is no change");
	is_str(registry_get(h, "s")->info.host, "new.example",
	       "s stays at the address hub 0 heard just now, not hub 1's older one");
	registry_free(h);

	/* A hub dropping a learned server loses only that hub: while another hub still
	 * lists it, it stays, even when it has been silent here longer than the timeout. */
	h = registry_new("local", &timing);
	struct registry_learned both = learned("s", 0, SERVER_ONLINE);
	for (unsigned hub = 0; hub < 2; hub++) {
		registry_hub_full_begin(h, hub);
		registry_hub_report(h, hub, &both, 100);
		registry_hub_full_end(h, hub, 100);
		registry_hub_synced(h, hub, 100);
	}
	ok(!registry_hub_removed(h, 0, "s", 105), "hub 0 removing s is no change: hub 1 lists it");
	e = registry_get(h, "s");
	ok(e && e->listed_by == 2 && !e->unlisted,
	   "s still there, listed by hub 1 only, not marked unlisted");
	registry_hub_synced(h, 1, 106);
	registry_sweep(h, 106, NULL, NULL);
	ok(registry_get(h, "s") != NULL, "and a sweep while hub 1 answers keeps it");
	registry_free(h);
	registry_free(r);
}

/* Revisions: changes in order, tombstones, and no revision for a heartbeat alone. */
static void test_revisions(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info x = info("x", "x", 1), y = info("y", "y", 1);
	registry_register(r, &x, 100, true, NULL);
	registry_register(r, &y, 100, true, NULL);
	is_int(registry_revision(r), 2, "two registrations, two revisions");
	registry_heartbeat(r, "x", &x, 101);
	is_int(registry_revision(r), 2, "a heartbeat with the same info: no revision");
	x.tank_count = 3;
	registry_heartbeat(r, "x", &x, 102);
	is_int(registry_revision(r), 3, "a changed tank_count: a revision");
	const struct server_entry *e = registry_changed_first(r, 2);
	ok(e && strcmp(e->info.server_id, "x") == 0 && !registry_changed_next(e), "since 2: only x");
	e = registry_changed_first(r, 0);
	ok(e && strcmp(e->info.server_id, "y") == 0, "since 0: y first (older revision)");
	registry_unregister(r, "y");
	e = registry_changed_first(r, 3);
	ok(e && e->removed && strcmp(e->info.server_id, "y") == 0, "the removal is a tombstone");
	ok(registry_changed_first(r, registry_revision(r)) == NULL, "nothing after the newest");
	/* Status transitions are revisions too. */
	uint64_t before = registry_revision(r);
	registry_sweep(r, 105, NULL, NULL);
	ok(registry_revision(r) > before, "x going degraded is a revision");
	/* Journal records round-trip, with their revisions. */
	struct registry *r2 = registry_new("local", &timing);
	struct json_err je;
	for (e = registry_changed_first(r, 0); e; e = registry_changed_next(e)) {
		json_object *rec = registry_entry_record(r, e, 105);
		if (registry_apply_record(r2, rec, 105, &je) < 0)
			printf("# %s\n", je.msg);
		json_object_put(rec);
	}
	ok(registry_get(r2, "x") && !registry_get(r2, "y") &&
		   registry_revision(r2) == registry_revision(r),
	   "records rebuild the registry and its revision");
	registry_set_epoch(r2, 7, registry_revision(r2));
	is_int(registry_horizon(r2), registry_revision(r2), "after a load, older readers reset");
	registry_free(r2);
	registry_free(r);
}

static bool same_info(const struct server_info *a, const struct server_info *b)
{
	return strcmp(a->server_id, b->server_id) == 0 && strcmp(a->hostname, b->hostname) == 0 &&
	       strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       a->discovery_port == b->discovery_port && a->migration_port == b->migration_port &&
	       a->tank_count == b->tank_count && strcmp(a->version, b->version) == 0 &&
	       a->uptime_seconds == b->uptime_seconds && strcmp(a->platform, b->platform) == 0 &&
	       strcmp(a->architecture, b->architecture) == 0 && a->logical_cpus == b->logical_cpus;
}

static struct server_info full_info(const char *id, int k)
{
	struct server_info in = info(id, "", 8001 + k);
	snprintf(in.host, sizeof in.host, "10.0.%d.%d", k / 250, k % 250 + 1);
	snprintf(in.hostname, sizeof in.hostname, "host-%d", k);
	in.discovery_port = 8000 + k;
	in.migration_port = 8002 + k;
	in.tank_count = k;
	snprintf(in.version, sizeof in.version, "0.1.%d", k);
	/* Whole milliseconds: uptimes travel and are kept to the millisecond (jv_new_seconds,
	 * registry-text.c), and a division gives the same double strtod reads back. */
	in.uptime_seconds = (1234567 + 1000 * k) / 1000.0;
	snprintf(in.platform, sizeof in.platform, "Linux");
	snprintf(in.architecture, sizeof in.architecture, "aarch64");
	in.logical_cpus = 1 + k;
	return in;
}

/* Serialize the registry's state to text and load it into a fresh registry. */
static struct registry *reload(const struct registry *r, double now, struct json_err *e, int *ret)
{
	json_object *st = registry_to_state(r, now);
	char *text = strdup(jv_to_string(st));
	json_object_put(st);
	json_object *o = jv_parse_object(text, strlen(text), 16, e);
	free(text);
	struct registry *r2 = registry_new("local", &timing);
	*ret = o ? registry_from_state(r2, o, e) : -EINVAL;
	json_object_put(o);
	return r2;
}

static void test_state_round_trip(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info self = full_info("local", 0);
	registry_register(r, &self, 1700000000.123, false, NULL);
	struct server_info a = full_info("alpha", 1), b = full_info("beta.example", 2);
	registry_register(r, &a, 1700000001.5, true, NULL);
	registry_heartbeat(r, "alpha", NULL, 1700000045.987654321);
	registry_register(r, &b, 1700000042.25, true, NULL);
	struct registry_learned l = {.info = full_info("gamma", 3), .heartbeat_age = 0.75};
	registry_merge_learned(r, &l, 1, 1700000048.5);
	registry_sweep(r, 1700000048.5, NULL, NULL);
	ok(registry_get(r, "alpha")->last_status == SERVER_DEGRADED &&
		   registry_get(r, "beta.example")->last_status == SERVER_OFFLINE,
	   "fixture: alpha degraded, beta offline");

	/* The state document itself. */
	json_object *st = registry_to_state(r, 1700000060.5);
	struct json_err e = {""};
	int version = 0;
	json_object *servers = NULL;
	double updated = 0;
	ok(jv_int(st, "version", true, 1, 1, &version, &e) == 1 &&
		   jv_array(st, "servers", true, 100, &servers, &e) == 1 &&
		   json_object_array_length(servers) == 4 &&
		   jv_double(st, "updated_at", true, 0, 1e11, &updated, &e) == 1 &&
		   updated == 1700000060.5,
	   "state: version 1, four servers, updated_at");
	json_object_put(st);

	int rr = -1;
	struct registry *r2 = reload(r, 1700000060.5, &e, &rr);
	is_int(rr, 0, "registry_from_state accepts registry_to_state's output (%s)", e.msg);
	is_int(registry_count(r2), registry_count(r), "same number of entries");
	const struct server_entry *x = registry_first(r), *y = registry_first(r2);
	int i = 0;
	for (; x && y; x = registry_next(x), y = registry_next(y), i++) {
		ok(same_info(&x->info, &y->info), "entry %d (%s): every info field equal", i,
		   x->info.server_id);
		ok(x->last_heartbeat == y->last_heartbeat, "entry %d: last_heartbeat %.9f == %.9f",
		   i, x->last_heartbeat, y->last_heartbeat);
		ok(x->registered_at == y->registered_at && x->learned == y->learned,
		   "entry %d: registered_at and learned equal", i);
		/* last_status is not part of the state file: registry_from_state recomputes
		 * it at the entry's own heartbeat, so it is online for every entry and the
		 * first sweep after a restart reports the transitions again. */
		ok(y->last_status == SERVER_ONLINE, "entry %d: last_status online after loading", i);
	}
	ok(x == NULL && y == NULL, "same order, same length");
	ok(registry_get(r2, "gamma") && registry_get(r2, "gamma")->learned,
	   "learned flag survives (gamma)");
	registry_free(r2);

	/* An entry that registered with only the required fields. */
	struct server_info minimal = info("minimal", "m.example", 8001);
	registry_register(r, &minimal, 1700000070, true, NULL);
	r2 = reload(r, 1700000070, &e, &rr);
	(void)rr;
	/* Servers that advertise no discovery/migration port (0) survive a reload. */
	is_int(rr, 0, "state with a minimal entry reloads (%s)", e.msg);
	ok(registry_get(r2, "minimal") != NULL, "minimal entry reloaded");
	registry_free(r2);
	registry_free(r);

	/* Empty registry. */
	r = registry_new("local", &timing);
	r2 = reload(r, 5, &e, &rr);
	ok(rr == 0 && registry_count(r2) == 0, "empty registry round trip");
	registry_free(r2);
	registry_free(r);
}

static int load_state_text(const char *text, struct json_err *e, size_t *count)
{
	json_object *o = jv_parse_object(text, strlen(text), 16, e);
	if (!o) {
		printf("# fixture does not parse: %s: %s\n", text, e->msg);
		abort();
	}
	struct registry *r = registry_new("local", &timing);
	int ret = registry_from_state(r, o, e);
	if (count)
		*count = registry_count(r);
	registry_free(r);
	json_object_put(o);
	return ret;
}

#define GOOD "{\"server_id\":\"a\",\"host\":\"h\",\"port\":1,\"last_heartbeat\":5}"

static void test_from_state_errors(void)
{
	struct json_err e = {""};
	size_t n = 0;
	is_int(load_state_text("{\"version\":1,\"servers\":[" GOOD "]}", &e, &n), 0,
	       "minimal state accepted");
	is_int(n, 1, "one entry");

	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1,\"servers\":[" GOOD ",{\"server_id\":\"b\"}]}", &e,
			       NULL),
	       -EINVAL, "bad second entry rejected");
	ok(strstr(e.msg, "server 1") && strstr(e.msg, "host"),
	   "message names the index and the field: %s", e.msg);
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1,\"servers\":[{\"server_id\":\"a\",\"host\":\"h\","
			       "\"port\":1}]}",
			       &e, NULL),
	       -EINVAL, "entry without last_heartbeat rejected");
	ok(strstr(e.msg, "server 0") && strstr(e.msg, "last_heartbeat"), "message: %s", e.msg);
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1,\"servers\":[" GOOD ",1]}", &e, NULL), -EINVAL,
	       "non-object entry rejected");
	ok(strstr(e.msg, "server 1") != NULL, "message names index 1: %s", e.msg);
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1,\"servers\":[{\"server_id\":\"a\",\"host\":\"h\","
			       "\"port\":1,\"last_heartbeat\":5,\"learned\":\"no\"}]}",
			       &e, NULL),
	       -EINVAL, "learned of the wrong type rejected");
	ok(strstr(e.msg, "server 0") && strstr(e.msg, "learned"), "message: %s", e.msg);
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1,\"servers\":[{\"server_id\":\"a\",\"host\":\"h\","
			       "\"port\":1,\"last_heartbeat\":-1}]}",
			       &e, NULL),
	       -EINVAL, "negative last_heartbeat rejected");
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":2,\"servers\":[]}", &e, NULL), -EINVAL,
	       "version 2 rejected");
	ok(strstr(e.msg, "version") != NULL, "message names version: %s", e.msg);
	is_int(load_state_text("{\"servers\":[]}", &e, NULL), -EINVAL, "missing version rejected");
	e.msg[0] = '\0';
	is_int(load_state_text("{\"version\":1}", &e, NULL), -EINVAL, "missing servers rejected");
	ok(strstr(e.msg, "servers") != NULL, "message names servers: %s", e.msg);
	is_int(load_state_text("{\"version\":1,\"servers\":{}}", &e, NULL), -EINVAL,
	       "servers as an object rejected");
	/* Duplicates: the later one wins, as with re-registration. */
	is_int(load_state_text("{\"version\":1,\"servers\":[" GOOD "," GOOD "]}", &e, &n), 0,
	       "duplicate ids accepted");
	is_int(n, 1, "duplicates collapse into one entry");
}

static void test_many(void)
{
	enum { N = 10000 };
	struct registry *r = registry_new("local", &timing);
	char id[32];
	int created_all = 1;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "srv-%05d", (i * 7919) % N); /* not in sorted order */
		struct server_info in = info(id, "10.1.2.3", 1 + i % 65535);
		in.discovery_port = 8000;
		in.migration_port = 8002;
		bool created = false;
		if (registry_register(r, &in, 100 + i * 0.0001, true, &created) < 0 || !created)
			created_all = 0;
	}
	ok(created_all, "10,000 registrations all created");
	is_int(registry_count(r), N, "count is 10,000");
	int found = 0;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "srv-%05d", i);
		const struct server_entry *e = registry_get(r, id);
		if (e && strcmp(e->info.server_id, id) == 0)
			found++;
	}
	is_int(found, N, "registry_get finds each of the 10,000");
	ok(registry_get(r, "srv-10000") == NULL, "an id never registered is not found");
	int iter = 0;
	for (const struct server_entry *e = registry_first(r); e; e = registry_next(e))
		iter++;
	is_int(iter, N, "iteration visits 10,000 entries");
	snprintf(id, sizeof id, "srv-%05d", (1 * 7919) % N);
	ok(strcmp(registry_next(registry_first(r))->info.server_id, id) == 0,
	   "iteration is in registration order");

	/* Unregister the even ones. */
	int removed = 0;
	for (int i = 0; i < N; i += 2) {
		snprintf(id, sizeof id, "srv-%05d", i);
		removed += registry_unregister(r, id) == 0;
	}
	is_int(removed, N / 2, "5,000 unregistered");
	int odd_ok = 0, even_gone = 0;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "srv-%05d", i);
		const struct server_entry *e = registry_get(r, id);
		if (i % 2 && e)
			odd_ok++;
		if (!(i % 2) && !e)
			even_gone++;
	}
	ok(odd_ok == N / 2 && even_gone == N / 2, "lookups after removal are right");

	int rr = -1;
	struct json_err e = {""};
	struct registry *r2 = reload(r, 200, &e, &rr);
	ok(rr == 0 && registry_count(r2) == N / 2, "5,000 entries survive the state round trip");
	registry_free(r2);

	is_int(registry_sweep(r, 200, NULL, NULL), N / 2, "sweep evicts all 5,000");
	is_int(registry_count(r), 0, "registry empty");
	registry_free(r);
}

/* A server registered here once, that since talks to a hub only: once it has been
 * silent here for longer than the timeout, the hub's newer word (its new address) is
 * taken, and the hub's to drop. A server heard here too is not handed over. */
static void test_registered_then_hub(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info old = info("ghost", "h.example", 1111);
	registry_register(r, &old, 100, true, NULL);
	struct registry_learned moved = {.info = info("ghost", "h.example", 2222),
					 .heartbeat_age = 0,
					 .status = SERVER_ONLINE,
					 .direct = true};
	registry_hub_report(r, 0, &moved, 102);
	const struct server_entry *e = registry_get(r, "ghost");
	ok(e->info.port == 1111 && !e->learned, "heard here 2 s ago: its own registration holds");
	uint64_t rev = registry_revision(r);
	registry_heartbeat(r, "ghost", NULL, 102.5);
	registry_hub_report(r, 0, &moved, 103);
	is_int((int)(registry_revision(r) - rev), 0, "a server heard here and by a hub: no churn");
	ok(registry_hub_report(r, 0, &moved, 106), "silent here 3.5 s, heard by the hub: changed");
	e = registry_get(r, "ghost");
	ok(e->info.port == 2222 && e->learned, "the hub's address is taken, learned from now on");
	registry_hub_removed(r, 0, "ghost", 120);
	registry_sweep(r, 120, NULL, NULL);
	ok(registry_get(r, "ghost") == NULL, "and once the hub drops it and it is stale, it goes");
	registry_free(r);
}

/* An etcd put as the gateway sends it: base64 key and value. */
static int etcd_decode(const char *key, const char *value, struct server_info *in, char *id,
		       size_t n)
{
	json_object *kv = json_object_new_object();
	etcd_add_b64(kv, "key", key);
	etcd_add_b64(kv, "value", value);
	struct json_err e = {""};
	int r = etcd_entry_decode("/tankworld/servers/", kv, in, id, n, &e);
	json_object_put(kv);
	return r;
}

/* A server's etcd key is the only place its entry may come from: its lease ends with
 * it. A value under a's key that names b would let whoever can write any key under
 * the prefix impersonate or re-address b, and keep b online through etcd after a's
 * lease, and key, are gone. */
static void test_etcd_entry_decode(void)
{
	struct server_info in;
	char id[80];
	is_int(etcd_decode("/tankworld/servers/a",
			   "{\"server_id\":\"a\",\"host\":\"a.example\",\"port\":8001}", &in, id,
			   sizeof id),
	       0, "a's key with a's ServerInfo decodes");
	ok(strcmp(id, "a") == 0 && strcmp(in.server_id, "a") == 0 &&
		   strcmp(in.host, "a.example") == 0,
	   "as server a at a.example");
	is_int(etcd_decode("/tankworld/servers/a",
			   "{\"server_id\":\"b\",\"host\":\"evil.example\",\"port\":8001}", &in, id,
			   sizeof id),
	       -EINVAL, "a's key with a value naming server b is refused");
	is_int(etcd_decode("/elsewhere/a",
			   "{\"server_id\":\"a\",\"host\":\"a.example\",\"port\":8001}", &in, id,
			   sizeof id),
	       -ENOENT, "a key outside the prefix is not ours");
}

/* A hub listing more than max_servers: what fits is learned, the rest is counted for the
 * caller's log and nothing else changes (the first one past the bound crashed the worker). */
static void test_learn_bounded(void)
{
	struct registry *r = registry_new("local", &timing);
	struct server_info self = info("local", "127.0.0.1", 8001);
	registry_register(r, &self, 100, false, NULL);
	registry_set_max_servers(r, 3);
	struct registry_learned list[4];
	memset(list, 0, sizeof list);
	for (int i = 0; i < 4; i++) {
		char id[8];
		snprintf(id, sizeof id, "h%d", i);
		list[i].info = info(id, "h.example", 8001 + i);
		list[i].heartbeat_age = 1;
	}
	is_int(registry_merge_learned(r, list, 4, 200), 2, "two of four learned beside local");
	is_int(registry_count(r), 3, "the registry stops at max_servers");
	ok(registry_get(r, "h1") && !registry_get(r, "h2") && !registry_get(r, "h3"),
	   "the first two listed are the ones learned");
	is_int(registry_take_refused(r), 2, "the two left out are counted");
	is_int(registry_take_refused(r), 0, "once");
	is_int(registry_merge_learned(r, list, 4, 201), 0, "the same list again changes nothing");
	is_int(registry_take_refused(r), 2, "and counts the same two");
	registry_free(r);
}

/* A cursor paused in a walk: servers removed under it, before it and after it, and one
 * registered meanwhile; the walk gives each live server once, in registration order. */
static void test_cursor(void)
{
	struct registry *r = registry_new("local", &timing);
	char id[8];
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "s%d", i);
		struct server_info in = info(id, "h.example", 8001 + i);
		registry_register(r, &in, 100, true, NULL);
	}
	struct registry_cursor c, other;
	registry_cursor_open(r, &c);
	registry_cursor_open(r, &other);
	const struct server_entry *e = registry_cursor_next(&c);
	is_str(e->info.server_id, "s0", "the walk starts at the first registered");
	ok(registry_unregister(r, "s0") == 0 && registry_unregister(r, "s1") == 0,
	   "the server just given and the one the cursor stands on are removed");
	is_str(registry_cursor_next(&other)->info.server_id, "s2",
	       "another cursor standing on the first one removed moves on as well");
	registry_unregister(r, "s4");
	struct server_info late = info("s6", "h.example", 8010),
			   again = info("s0", "h.example", 8011),
			   back = info("s1", "h.example", 8012);
	registry_register(r, &late, 101, true, NULL);
	registry_register(r, &again, 101, true, NULL);
	registry_register(r, &back, 101, true, NULL);
	char seen[64] = "";
	while ((e = registry_cursor_next(&c)))
		strcat(strcat(seen, e->info.server_id), " ");
	is_str(seen, "s2 s3 s5 s6 s1 ",
	       "the rest: the removed skipped, newcomers at the end, and the server given, "
	       "then removed and registered again, not given twice");
	ok(!registry_cursor_next(&c), "and the walk stays at its end");
	registry_cursor_close(&c);
	registry_cursor_close(&other);
	registry_free(r);
}

int main(void)
{
	test_cursor();
	test_learn_bounded();
	test_registered_then_hub();
	test_state_machine();
	test_local_id_rules();
	test_server_info_from_json();
	test_merge_learned();
	test_hubs();
	test_revisions();
	test_state_round_trip();
	test_from_state_errors();
	test_many();
	test_etcd_entry_decode();
	return tap_done();
}
