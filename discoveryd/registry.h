/* The server registry: who is in the network and how recently each server was heard
 * from. Pure domain code: no HTTP, no event loop, no clock reads (callers pass now),
 * so the state machine is unit-tested with an injected clock. */
#ifndef TW_REGISTRY_H
#define TW_REGISTRY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "jsonv.h"

enum server_status {
	SERVER_ONLINE,
	SERVER_DEGRADED, /* two heartbeat intervals missed */
	SERVER_OFFLINE,	 /* silent longer than the timeout */
};

/* ServerInfo of DESIGN §3, as sent on the wire minus the computed fields. */
struct server_info {
	char server_id[65];
	char hostname[254];
	char host[254];
	int port;	    /* simd's TCP port */
	int discovery_port;
	int migration_port;
	int tank_count;
	char version[33];
	double uptime_seconds;
	char platform[65];
	char architecture[65];
	int logical_cpus;
};

struct server_entry {
	struct server_info info;
	double last_heartbeat; /* wall clock of this registry's host */
	double registered_at;
	bool learned;	       /* copied from the hub's list, not registered here */
	enum server_status last_status; /* as of the last sweep, to log transitions */
	TAILQ_ENTRY(server_entry) link;
};

struct registry_timing {
	double heartbeat_interval;
	double heartbeat_timeout;
	double evict_after;
};

struct registry;

struct registry *registry_new(const char *local_id, const struct registry_timing *t);
struct registry *registry_free(struct registry *r);
void registry_set_timing(struct registry *r, const struct registry_timing *t);

/* Parse and validate a ServerInfo body field by field. server_id, host and port are
 * required; the rest default. is_local and status in the body are ignored: they are
 * the receiver's to compute. Returns 0 or -EINVAL with e->msg. */
int server_info_from_json(json_object *o, struct server_info *ret, struct json_err *e);

/* Insert or replace. -EPERM when a peer tries to register this server's own id. */
int registry_register(struct registry *r, const struct server_info *info, double now,
		      bool from_peer, bool *ret_created);
/* -ENOENT when unknown (the sender must register again). info may be NULL. */
int registry_heartbeat(struct registry *r, const char *id, const struct server_info *info,
		       double now);
/* -ENOENT when unknown, -EPERM for this server's own entry. */
int registry_unregister(struct registry *r, const char *id);
const struct server_entry *registry_get(const struct registry *r, const char *id);
size_t registry_count(const struct registry *r);

enum server_status registry_status(const struct registry *r, const struct server_entry *e,
				   double now);
const char *server_status_name(enum server_status s);
int server_status_from_name(const char *name, enum server_status *ret);

/* Apply status transitions and evictions. Returns how many entries changed status or
 * were removed; calls log_fn for each transition when not NULL. */
typedef void (*registry_event_fn)(const struct server_entry *e, enum server_status from,
				  enum server_status to, bool evicted, void *arg);
size_t registry_sweep(struct registry *r, double now, registry_event_fn fn, void *arg);

/* Merge the hub's list: entries not registered here directly are added or refreshed
 * from it (age taken from the hub, so clocks need not agree), and learned entries the
 * hub no longer lists are dropped. Returns the number of changes. */
struct registry_learned {
	struct server_info info;
	double heartbeat_age; /* seconds since the hub last heard from it */
};
size_t registry_merge_learned(struct registry *r, const struct registry_learned *list, size_t n,
			      double now);

/* Iteration in registration order. */
const struct server_entry *registry_first(const struct registry *r);
const struct server_entry *registry_next(const struct server_entry *e);

/* Wire form: ServerInfo plus status, is_local, last_heartbeat_at and
 * heartbeat_age_seconds. */
json_object *registry_entry_to_json(const struct registry *r, const struct server_entry *e,
				    double now);
json_object *server_info_to_json(const struct server_info *info);

/* The state file (DESIGN §7): {"version":1,"servers":[...],"updated_at"}. */
json_object *registry_to_state(const struct registry *r, double now);
int registry_from_state(struct registry *r, json_object *state, struct json_err *e);

#endif
