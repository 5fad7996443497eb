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

#include "ids.h"

#include "jsonv.h"

enum server_status {
	SERVER_ONLINE,
	SERVER_DEGRADED, /* two heartbeat intervals missed */
	SERVER_OFFLINE,	 /* silent longer than the timeout */
};

/* ServerInfo of DESIGN §3, as sent on the wire minus the computed fields. */
struct server_info {
	char server_id[SERVER_ID_MAX + 1];
	char hostname[254];
	char host[254];
	int port; /* simd's TCP port */
	int discovery_port;
	int migration_port;
	int tank_count;
	char version[33];
	double uptime_seconds;
	char platform[65];
	char architecture[65];
	int logical_cpus;
};

/* At most this many hubs per worker: their sets are bit masks. */
#define REGISTRY_MAX_HUBS 16
/* Revisions stay integers every JSON reader holds exactly (a double's 53 bits): a
 * journal or a hub page beyond it is damaged, not a registry that grew that far. */
#define REGISTRY_REV_MAX (UINT64_C(1) << 53)

struct server_entry {
	struct server_info info;
	double last_heartbeat; /* wall clock of this registry's host */
	double heard_direct;   /* the last registration or heartbeat sent here (0: none) */
	double registered_at;
	bool learned;  /* copied from a hub's list, not registered here */
	bool removed;  /* a tombstone, kept so that diffs can report the removal */
	bool unlisted; /* learned, and every hub that answered stopped listing it */
	enum server_status last_status;	    /* as of the last sweep, to log transitions */
	uint64_t rev;			    /* registry revision of the last change */
	uint64_t serial;		    /* registration order: rises along `link` */
	uint32_t listed_by;		    /* hubs whose list holds it (bit i = hub i) */
	uint32_t online_by;		    /* hubs whose list says it is online */
	uint32_t full_seen;		    /* hubs whose running full sync listed it */
	TAILQ_ENTRY(server_entry) link;	    /* registration order, or the tombstone list */
	TAILQ_ENTRY(server_entry) rev_link; /* revision order, tombstones included */
};

struct registry_timing {
	double heartbeat_interval;
	double heartbeat_timeout;
	double evict_after;
};

struct registry;

struct registry *registry_new(const char *local_id, const struct registry_timing *t);
struct registry *registry_free(struct registry *r);
const char *registry_local_id(const struct registry *r);
void registry_set_timing(struct registry *r, const struct registry_timing *t);

/* Parse and validate a ServerInfo body field by field. server_id, host and port are
 * required; the rest default. is_local and status in the body are ignored: they are
 * the receiver's to compute. Returns 0 or -EINVAL with e->msg. */
int server_info_from_json(json_object *o, struct server_info *ret, struct json_err *e);

/* The default of [discovery] max_servers. */
#define REGISTRY_MAX_SERVERS 100000
/* How many entries peers (a registration, a hub's list) can bring the registry to. */
void registry_set_max_servers(struct registry *r, size_t n);
size_t registry_max_servers(const struct registry *r);
/* How many servers hubs listed that registry_hub_report could not learn for the bound,
 * since the last call (a caller logs them once a page, not once an entry). */
size_t registry_take_refused(struct registry *r);

/* Insert or replace. -EPERM when a peer tries to register this server's own id, -ENOSPC
 * when a peer's server is new and the registry holds max_servers. */
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
/* Whether e's status is news: it is heard here (registered, or this server), or some
 * hub (or etcd) answered within heartbeat_timeout. A worker whose every hub is down keeps
 * what it learned as a cache; those entries age into "offline" because nobody tells of
 * them, which says nothing about the servers themselves (listed as "confirmed": false,
 * and migrated keeps delivering to them). */
bool registry_confirmed(const struct registry *r, const struct server_entry *e, double now);
const char *server_status_name(enum server_status s);
int server_status_from_name(const char *name, enum server_status *ret);

/* Apply status transitions and evictions. Returns how many entries changed status or
 * were removed; calls log_fn for each transition when not NULL. */
typedef void (*registry_event_fn)(const struct server_entry *e, enum server_status from,
				  enum server_status to, bool evicted, void *arg);
size_t registry_sweep(struct registry *r, double now, registry_event_fn fn, void *arg);

/* Learning from hubs (worker role). Each hub has an index below REGISTRY_MAX_HUBS and
 * is merged independently: an entry a hub lists is added or refreshed (the freshest
 * heartbeat wins; ages come from the hub, so clocks need not agree); an entry a hub
 * stops listing loses that hub only. A learned entry that no hub lists any more is
 * dropped once it is also stale here: silent longer than heartbeat_timeout when a hub
 * reported its removal, longer than evict_after when a full listing (a hub that lost
 * its state, or one without revisions) merely lacks it. A wiped hub therefore never
 * makes a worker forget a live peer. While no hub answers at all, learned entries are
 * kept: they are the worker's cache. A hub's
 * "online" holds for as long as that hub keeps answering (its diffs only report
 * changes), so a learned entry's heartbeat is the later of what a hub reported and
 * the last answer of a hub that hears it directly and lists it online. */
struct registry_learned {
	struct server_info info;
	double heartbeat_age; /* seconds since the hub last heard from it */
	enum server_status status;
	/* The hub hears this server itself ("direct" in its list; a hub without the field
	 * hears everything it lists). Only a direct "online" is a confirmation that lasts
	 * while the hub answers: two hubs that learned a server from each other must not
	 * keep it alive for each other after it died. */
	bool direct;
};
/* One listed entry; returns true when this registry changed. */
bool registry_hub_report(struct registry *r, unsigned hub, const struct registry_learned *l,
			 double now);
/* The hub reports that it no longer has id. */
bool registry_hub_removed(struct registry *r, unsigned hub, const char *id, double now);
/* A full listing starts (first sync, a changed epoch, or a hub without revisions);
 * registry_hub_full_end drops the hub from every entry it did not list. */
void registry_hub_full_begin(struct registry *r, unsigned hub);
size_t registry_hub_full_end(struct registry *r, unsigned hub, double now);
/* The running full listing holds id, but in a form that does not decode: the entry is
 * kept as it was (neither refreshed nor dropped by the listing's end). */
void registry_hub_full_seen(struct registry *r, unsigned hub, const char *id);
/* The hub answered a sync completely at now; forget the hub when it leaves the list. */
void registry_hub_synced(struct registry *r, unsigned hub, double now);
void registry_hub_forget(struct registry *r, unsigned hub, double now);
/* The heartbeat time the status is computed from (see above). */
double registry_heard(const struct registry *r, const struct server_entry *e);

/* Revisions: every membership change, ServerInfo change (uptime aside) and status
 * transition gets the next revision, so a reader holding revision R can ask for what
 * changed after it. Removals stay as tombstones for a while; a reader whose R is older
 * than the oldest dropped tombstone (registry_horizon) must list everything again. */
uint64_t registry_revision(const struct registry *r);
uint64_t registry_horizon(const struct registry *r);
/* The part of the horizon this run made (tombstones it dropped): a reader whose whole
 * listing began in this run missed nothing from before it (see list_since). */
uint64_t registry_dropped(const struct registry *r);
uint64_t registry_epoch(const struct registry *r);
/* After loading: the epoch, and a revision no reader may diff against across the
 * restart (tombstones are not on disk). */
void registry_set_epoch(struct registry *r, uint64_t epoch, uint64_t revision);
/* After applying a journal's records: the revision list in order (diffs page it so), or
 * -EINVAL when two entries share a revision (damage: one would hide from readers). */
int registry_order_revisions(struct registry *r, struct json_err *e);
/* The journal holds everything up to rev: tombstones newer than that are kept, past the
 * usual bound if need be, until it has recorded them. */
void registry_set_persisted(struct registry *r, uint64_t rev);
/* Entries and tombstones with rev > since, in revision order. */
const struct server_entry *registry_changed_first(const struct registry *r, uint64_t since);
const struct server_entry *registry_changed_next(const struct server_entry *e);

/* Iteration in registration order. */
const struct server_entry *registry_first(const struct registry *r);
const struct server_entry *registry_next(const struct server_entry *e);

/* A walk in registration order that may pause while the registry changes (the whole
 * listing is written a slice per turn of the loop): a server removed meanwhile moves
 * every cursor standing on it to the next one, servers registered meanwhile come at the
 * end, and a server given, then removed and registered again meanwhile, is not given
 * twice. Close each cursor before registry_free. */
struct registry_cursor {
	struct server_entry *at; /* the next entry to give; NULL at the end */
	uint64_t opened;	 /* the registry's serial when it was opened */
	void *given; /* tsearch tree of the ids of servers given, then removed, meanwhile */
	LIST_ENTRY(registry_cursor) link;
};
void registry_cursor_open(struct registry *r, struct registry_cursor *c);
const struct server_entry *registry_cursor_next(struct registry_cursor *c);
void registry_cursor_close(struct registry_cursor *c);

json_object *server_info_to_json(const struct server_info *info);

/* The same texts written straight into a growing buffer (*buf of *cap bytes, *len
 * used; realloc'd as needed), several times faster than through json-c objects: the
 * hot paths (diff pages, journal batches) of a registry of tens of thousands. */
/* extra: members written before the closing brace (",\"hubs\":[...]"), or NULL.
 * wall_now: the wall clock now, which last_heartbeat_at is counted back from. */
void registry_entry_append_json(const struct registry *r, const struct server_entry *e, double now,
				double wall_now, const char *extra, char **buf, size_t *len,
				size_t *cap);
void registry_append(char **buf, size_t *len, size_t *cap, const char *s);
void registry_entry_append_record(const struct registry *r, const struct server_entry *e,
				  double now, char **buf, size_t *len, size_t *cap);

/* One entry as a journal record (journal.c): ServerInfo plus last_heartbeat,
 * registered_at, learned, status and rev; or {"rev","removed":id} for a tombstone. */
json_object *registry_entry_record(const struct registry *r, const struct server_entry *e,
				   double now);
/* Applies a record; alive_at is the journal's last checkpoint (the writer was up and
 * the entry, if listed online there, was heard within two intervals of it). */
int registry_apply_record(struct registry *r, json_object *rec, double alive_at, struct json_err *e);

/* The old state file (DESIGN §7): {"version":1,"servers":[...],"updated_at"}. */
json_object *registry_to_state(const struct registry *r, double now);
int registry_from_state(struct registry *r, json_object *state, struct json_err *e);

#endif
