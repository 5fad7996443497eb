#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "util.h"
#include "xalloc.h"

/* Tombstones kept for diffs: enough for every worker that syncs once an interval; a
 * tombstone is a whole entry (about 1 KiB), and a reader further behind lists everything
 * again. */
#define TOMBSTONES_MAX 4096

TAILQ_HEAD(entry_list, server_entry);

struct registry {
	char local_id[SERVER_ID_MAX + 1];
	struct registry_timing timing;
	size_t max_servers;   /* entries a peer can make, this server's own included */
	size_t learn_refused; /* servers a hub listed past max_servers, since the last take */
	void *index;	      /* tsearch tree of entries keyed by server_id */
	size_t count;
	struct entry_list entries;    /* live, in registration order */
	struct entry_list by_rev;     /* live and tombstones, in revision order */
	struct entry_list tombstones; /* in removal order */
	size_t n_tombstones;
	uint64_t rev, horizon, epoch;
	uint64_t dropped;   /* newest tombstone dropped in this run (0: none) */
	uint64_t persisted; /* revision the journal holds: newer tombstones are kept */
	double hub_synced[REGISTRY_MAX_HUBS]; /* last complete answer of each hub, 0 = none */
	LIST_HEAD(, registry_cursor) cursors; /* open walks (registry_cursor_open) */
	uint64_t serial;		      /* the last entry's registration serial */
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct server_entry *)a)->info.server_id,
		      ((const struct server_entry *)b)->info.server_id);
}

static bool any_hub_answering(const struct registry *r, double now);

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static struct server_entry *lookup(const struct registry *r, const char *id)
{
	struct server_entry key;
	snprintf(key.info.server_id, sizeof key.info.server_id, "%s", id);
	void *const *found = tfind(&key, &r->index, entry_cmp);
	return found ? *(struct server_entry *const *)found : NULL;
}

struct registry *registry_new(const char *local_id, const struct registry_timing *t)
{
	struct registry *r = xcalloc(1, sizeof *r);
	snprintf(r->local_id, sizeof r->local_id, "%s", local_id);
	r->timing = *t;
	r->max_servers = REGISTRY_MAX_SERVERS;
	TAILQ_INIT(&r->entries);
	TAILQ_INIT(&r->by_rev);
	TAILQ_INIT(&r->tombstones);
	LIST_INIT(&r->cursors);
	return r;
}

static void bump(struct registry *r, struct server_entry *e)
{
	if (e->rev)
		TAILQ_REMOVE(&r->by_rev, e, rev_link);
	e->rev = ++r->rev;
	TAILQ_INSERT_TAIL(&r->by_rev, e, rev_link);
}

/* The entry becomes a tombstone: out of the index and the live list, still in the
 * revision order so that diffs report the removal. */
static void remove_entry(struct registry *r, struct server_entry *e)
{
	tdelete(e, &r->index, entry_cmp);
	struct registry_cursor *c;
	LIST_FOREACH (c, &r->cursors, link) {
		if (c->at == e) {
			c->at = TAILQ_NEXT(e, link);
		} else if (!c->at || e->serial < c->at->serial) {
			/* Given already: if it registers again, it comes at the end. */
			char *id = xstrdup(e->info.server_id);
			char **at = tsearch(id, &c->given, id_cmp);
			if (!at)
				abort();
			if (*at != id)
				free(id);
		}
	}
	TAILQ_REMOVE(&r->entries, e, link);
	r->count--;
	e->removed = true;
	bump(r, e);
	TAILQ_INSERT_TAIL(&r->tombstones, e, link);
	if (++r->n_tombstones <= TOMBSTONES_MAX)
		return;
	struct server_entry *old = TAILQ_FIRST(&r->tombstones);
	if (old->rev > r->persisted)
		return; /* the journal has not recorded this removal yet */
	TAILQ_REMOVE(&r->tombstones, old, link);
	TAILQ_REMOVE(&r->by_rev, old, rev_link);
	r->n_tombstones--;
	r->horizon = old->rev;
	r->dropped = old->rev;
	free(old);
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	assert(LIST_EMPTY(&r->cursors)); /* a walk left open would point into freed entries */
	struct server_entry *e;
	while ((e = TAILQ_FIRST(&r->by_rev))) {
		TAILQ_REMOVE(&r->by_rev, e, rev_link);
		if (!e->removed)
			tdelete(e, &r->index, entry_cmp);
		free(e);
	}
	free(r);
	return NULL;
}

const char *registry_local_id(const struct registry *r)
{
	return r->local_id;
}

void registry_set_persisted(struct registry *r, uint64_t rev)
{
	r->persisted = rev;
}

uint64_t registry_revision(const struct registry *r)
{
	return r->rev;
}

uint64_t registry_horizon(const struct registry *r)
{
	return r->horizon;
}

uint64_t registry_dropped(const struct registry *r)
{
	return r->dropped;
}

uint64_t registry_epoch(const struct registry *r)
{
	return r->epoch;
}

void registry_set_epoch(struct registry *r, uint64_t epoch, uint64_t revision)
{
	r->epoch = epoch;
	if (revision > r->rev)
		r->rev = revision;
	/* Tombstones are not kept across a restart: readers older than this start over. */
	r->horizon = r->rev;
}

const struct server_entry *registry_changed_first(const struct registry *r, uint64_t since)
{
	/* From the nearer end, as revisions go: a diff is near the newest, while the pages
	 * of a whole listing start near the oldest (walked back from the newest, each page
	 * cost the whole registry: 39 % of the loop paging 20,000 servers, a probe). */
	struct server_entry *e = TAILQ_LAST(&r->by_rev, entry_list);
	if (!e || e->rev <= since)
		return NULL;
	struct server_entry *first = TAILQ_FIRST(&r->by_rev);
	if (since < first->rev)
		return first;
	if (since - first->rev < e->rev - since) {
		for (e = first; e->rev <= since;)
			e = TAILQ_NEXT(e, rev_link);
		return e;
	}
	struct server_entry *prev;
	while ((prev = TAILQ_PREV(e, entry_list, rev_link)) && prev->rev > since)
		e = prev;
	return e;
}

const struct server_entry *registry_changed_next(const struct server_entry *e)
{
	return TAILQ_NEXT(e, rev_link);
}

void registry_set_timing(struct registry *r, const struct registry_timing *t)
{
	r->timing = *t;
}

void registry_set_max_servers(struct registry *r, size_t n)
{
	r->max_servers = n;
}

size_t registry_max_servers(const struct registry *r)
{
	return r->max_servers;
}

size_t registry_take_refused(struct registry *r)
{
	size_t n = r->learn_refused;
	r->learn_refused = 0;
	return n;
}

const char *server_status_name(enum server_status s)
{
	switch (s) {
	case SERVER_ONLINE:
		return "online";
	case SERVER_DEGRADED:
		return "degraded";
	case SERVER_OFFLINE:
		return "offline";
	}
	return "unknown";
}

int server_status_from_name(const char *name, enum server_status *ret)
{
	for (int s = SERVER_ONLINE; s <= SERVER_OFFLINE; s++)
		if (strcmp(name, server_status_name(s)) == 0) {
			*ret = s;
			return 0;
		}
	return -EINVAL;
}

static int copy_field(json_object *o, const char *key, bool required, size_t max, char *dst,
		      struct json_err *e)
{
	const char *s;
	int r = jv_string(o, key, required, required ? 1 : 0, max, &s, e);
	if (r == 1) {
		if (text_has_control(s))
			return jv_fail(e, "field '%s' contains control characters", key);
		memcpy(dst, s, strlen(s) + 1);
	}
	return r < 0 ? r : 0;
}

int server_info_from_json(json_object *o, struct server_info *ret, struct json_err *e)
{
	struct server_info in = {.discovery_port = 0, .logical_cpus = 0};
	int r;
	if ((r = copy_field(o, "server_id", true, SERVER_ID_MAX, in.server_id, e)) < 0)
		return r;
	if (!server_id_valid(in.server_id))
		return jv_fail(e, "field 'server_id' must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	if ((r = copy_field(o, "host", true, 253, in.host, e)) < 0)
		return r;
	if (!host_valid(in.host))
		return jv_fail(e, "field 'host' must be a host name or IP address");
	if ((r = copy_field(o, "hostname", false, 253, in.hostname, e)) < 0 ||
	    (r = copy_field(o, "version", false, 32, in.version, e)) < 0 ||
	    (r = copy_field(o, "platform", false, 64, in.platform, e)) < 0 ||
	    (r = copy_field(o, "architecture", false, 64, in.architecture, e)) < 0)
		return r;
	if (jv_int(o, "port", true, 1, 65535, &in.port, e) < 0 ||
	    /* 0: not advertised (the original's ServerInfo has no such fields). */
	    jv_int(o, "discovery_port", false, 0, 65535, &in.discovery_port, e) < 0 ||
	    jv_int(o, "migration_port", false, 0, 65535, &in.migration_port, e) < 0 ||
	    jv_int(o, "tank_count", false, 0, 1000000, &in.tank_count, e) < 0 ||
	    jv_int(o, "logical_cpus", false, 0, 1 << 20, &in.logical_cpus, e) < 0 ||
	    jv_double(o, "uptime_seconds", false, 0, 1e12, &in.uptime_seconds, e) < 0)
		return -EINVAL;
	/* status and is_local may be present (the original sends them); they are ours to
	 * compute, but a wrong type is still an error. */
	const char *status;
	bool is_local;
	if (jv_string(o, "status", false, 0, 32, &status, e) < 0 ||
	    jv_bool(o, "is_local", false, &is_local, e) < 0)
		return -EINVAL;
	*ret = in;
	return 0;
}

/* Whether a change is worth a revision: uptime moves with every heartbeat. */
static bool info_same(const struct server_info *a, const struct server_info *b)
{
	return strcmp(a->server_id, b->server_id) == 0 && strcmp(a->hostname, b->hostname) == 0 &&
	       strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       a->discovery_port == b->discovery_port && a->migration_port == b->migration_port &&
	       a->tank_count == b->tank_count && strcmp(a->version, b->version) == 0 &&
	       strcmp(a->platform, b->platform) == 0 &&
	       strcmp(a->architecture, b->architecture) == 0 && a->logical_cpus == b->logical_cpus;
}

int registry_register(struct registry *r, const struct server_info *info, double now,
		      bool from_peer, bool *ret_created)
{
	if (from_peer && strcmp(info->server_id, r->local_id) == 0)
		return -EPERM;
	struct server_entry *e = lookup(r, info->server_id);
	bool created = !e;
	/* A peer's new server past the bound is refused: with the token, registrations under
	 * fresh ids grew the registry, its journal and every full listing without end (20,000
	 * in 4 s, a 15 MB listing). The journal's and this server's own are never refused:
	 * lowering the bound forgets nobody, it only stops newcomers until there is room. */
	if (!e && from_peer && r->count >= r->max_servers)
		return -ENOSPC;
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->info = *info;
		e->serial = ++r->serial;
		if (!tsearch(e, &r->index, entry_cmp))
			abort();
		TAILQ_INSERT_TAIL(&r->entries, e, link);
		r->count++;
		e->registered_at = now;
	}
	if (created || e->learned || e->last_status != SERVER_ONLINE || !info_same(&e->info, info))
		bump(r, e);
	e->info = *info;
	e->last_heartbeat = e->heard_direct = now;
	e->learned = false;
	e->unlisted = false;
	e->last_status = SERVER_ONLINE;
	if (ret_created)
		*ret_created = created;
	return 0;
}

int registry_heartbeat(struct registry *r, const char *id, const struct server_info *info,
		       double now)
{
	struct server_entry *e = lookup(r, id);
	if (!e)
		return -ENOENT;
	if ((info && !info_same(&e->info, info)) || e->learned)
		bump(r, e);
	if (info)
		e->info = *info;
	e->last_heartbeat = e->heard_direct = now;
	e->learned = false; /* it talks to us directly now */
	e->unlisted = false;
	return 0;
}

int registry_unregister(struct registry *r, const char *id)
{
	if (strcmp(id, r->local_id) == 0)
		return -EPERM;
	struct server_entry *e = lookup(r, id);
	if (!e)
		return -ENOENT;
	remove_entry(r, e);
	return 0;
}

const struct server_entry *registry_get(const struct registry *r, const char *id)
{
	return lookup(r, id);
}

size_t registry_count(const struct registry *r)
{
	return r->count;
}

enum server_status registry_status(const struct registry *r, const struct server_entry *e,
				   double now)
{
	if (strcmp(e->info.server_id, r->local_id) == 0)
		return SERVER_ONLINE; /* we are alive by definition */
	double age = now - registry_heard(r, e);
	if (age > r->timing.heartbeat_timeout)
		return SERVER_OFFLINE;
	if (age > 2 * r->timing.heartbeat_interval)
		return SERVER_DEGRADED;
	return SERVER_ONLINE;
}

size_t registry_sweep(struct registry *r, double now, registry_event_fn fn, void *arg)
{
	size_t changes = 0;
	struct server_entry *e, *next;
	for (e = TAILQ_FIRST(&r->entries); e; e = next) {
		next = TAILQ_NEXT(e, link);
		enum server_status s = registry_status(r, e, now);
		double age = now - registry_heard(r, e);
		bool evict = strcmp(e->info.server_id, r->local_id) != 0 &&
			     age > r->timing.evict_after;
		/* A learned entry is the hubs' to drop; the cache keeps it while no hub
		 * answers (a worker restarted with every hub down still knows its peers). */
		if (e->learned)
			evict = (evict && any_hub_answering(r, now)) ||
				(e->unlisted && age > r->timing.heartbeat_timeout);
		if (evict) {
			if (fn)
				fn(e, e->last_status, s, true, arg);
			remove_entry(r, e);
			changes++;
			continue;
		}
		if (s != e->last_status) {
			if (fn)
				fn(e, e->last_status, s, false, arg);
			e->last_status = s;
			bump(r, e);
			changes++;
		}
	}
	return changes;
}

/* A time saved before the wall clock was set back (between two runs) lies ahead of
 * now: taken as is, the age of that server is negative, which reads as fresh, and it
 * stays online for as long as the step. It is taken as now instead. */
static double not_ahead(double t)
{
	double now = now_steady_wall();
	return t > now ? now : t;
}

double registry_heard(const struct registry *r, const struct server_entry *e)
{
	double t = e->last_heartbeat;
	for (uint32_t m = e->online_by; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		if (r->hub_synced[i] > t)
			t = r->hub_synced[i];
	}
	return t;
}

static bool any_hub_answering(const struct registry *r, double now)
{
	for (unsigned i = 0; i < REGISTRY_MAX_HUBS; i++)
		if (r->hub_synced[i] > 0 && now - r->hub_synced[i] <= r->timing.heartbeat_timeout)
			return true;
	return false;
}

bool registry_confirmed(const struct registry *r, const struct server_entry *e, double now)
{
	return !e->learned || any_hub_answering(r, now);
}

/* hub stops listing e: keep what it told us as a heartbeat time, and drop e when no
 * hub lists it and it is stale here too: silent longer than heartbeat_timeout when the
 * hub removed it (unregistered or evicted there), longer than evict_after when it is
 * merely missing from a full listing (the hub may have lost its state: a live server
 * registers there again within an interval, and until then this worker keeps it). */
static bool hub_unlist(struct registry *r, struct server_entry *e, unsigned hub, double now,
		       bool removed)
{
	uint32_t bit = 1u << hub;
	if (!(e->listed_by & bit))
		return false;
	e->last_heartbeat = registry_heard(r, e);
	e->listed_by &= ~bit;
	e->online_by &= ~bit;
	if (!e->learned || e->listed_by)
		return false;
	double age = now - e->last_heartbeat;
	if (age > r->timing.evict_after || (removed && age > r->timing.heartbeat_timeout)) {
		remove_entry(r, e);
		return true;
	}
	e->unlisted = removed; /* the sweep drops it when it goes stale */
	return false;
}

bool registry_hub_report(struct registry *r, unsigned hub, const struct registry_learned *l,
			 double now)
{
	const struct server_info *info = &l->info;
	if (hub >= REGISTRY_MAX_HUBS || strcmp(info->server_id, r->local_id) == 0)
		return false;
	uint32_t bit = 1u << hub;
	double heard = now - l->heartbeat_age;
	struct server_entry *e = lookup(r, info->server_id);
	bool changed = false;
	if (!e) {
		/* Do not bring back what every hub has long given up on. */
		if (l->heartbeat_age > r->timing.evict_after)
			return false;
		/* Past max_servers a hub's server is not learned (a worker below its hub's
		 * list dereferenced the entry that was never made, and crashed). */
		if (registry_register(r, info, heard, true, NULL) < 0) {
			r->learn_refused++;
			return false;
		}
		e = lookup(r, info->server_id);
		e->learned = true;
		e->heard_direct = 0;
		e->last_status = registry_status(r, e, now);
		changed = true;
	} else if (e->learned && heard >= registry_heard(r, e) && !info_same(&e->info, info)) {
		e->info = *info;
		bump(r, e);
		changed = true;
	} else if (!e->learned && heard > e->heard_direct + r->timing.heartbeat_timeout) {
		/* Registered here once (by hand, or before it moved to a hub) and silent here
		 * for longer than the timeout, while the hub still hears it: the hub's word is
		 * the newer. Kept as registered here, its old address stayed for ever while the
		 * hub's heartbeats kept it online. Learned from now on, until it talks to us
		 * again. (A server that heartbeats here too never gets here: two hubs that
		 * both hear it do not hand it back and forth.) */
		e->info = *info;
		e->learned = true;
		bump(r, e);
		changed = true;
	}
	if (heard > e->last_heartbeat)
		e->last_heartbeat = heard;
	e->listed_by |= bit;
	e->full_seen |= bit;
	if (l->status == SERVER_ONLINE && l->direct)
		e->online_by |= bit;
	else
		e->online_by &= ~bit;
	e->unlisted = false;
	return changed;
}

bool registry_hub_removed(struct registry *r, unsigned hub, const char *id, double now)
{
	struct server_entry *e = lookup(r, id);
	return e && hub < REGISTRY_MAX_HUBS && hub_unlist(r, e, hub, now, true);
}

void registry_hub_full_begin(struct registry *r, unsigned hub)
{
	if (hub >= REGISTRY_MAX_HUBS)
		return;
	for (struct server_entry *e = TAILQ_FIRST(&r->entries); e; e = TAILQ_NEXT(e, link))
		e->full_seen &= ~(1u << hub);
}

size_t registry_hub_full_end(struct registry *r, unsigned hub, double now)
{
	if (hub >= REGISTRY_MAX_HUBS)
		return 0;
	size_t changes = 0;
	struct server_entry *e, *next;
	for (e = TAILQ_FIRST(&r->entries); e; e = next) {
		next = TAILQ_NEXT(e, link);
		if (!(e->full_seen & (1u << hub)))
			changes += hub_unlist(r, e, hub, now, false);
	}
	return changes;
}

void registry_hub_full_seen(struct registry *r, unsigned hub, const char *id)
{
	struct server_entry *e = lookup(r, id);
	if (e && hub < REGISTRY_MAX_HUBS)
		e->full_seen |= 1u << hub;
}

void registry_hub_synced(struct registry *r, unsigned hub, double now)
{
	if (hub < REGISTRY_MAX_HUBS)
		r->hub_synced[hub] = now;
}

void registry_hub_forget(struct registry *r, unsigned hub, double now)
{
	if (hub >= REGISTRY_MAX_HUBS)
		return;
	struct server_entry *e, *next;
	for (e = TAILQ_FIRST(&r->entries); e; e = next) {
		next = TAILQ_NEXT(e, link);
		hub_unlist(r, e, hub, now, false);
	}
	r->hub_synced[hub] = 0;
}

const struct server_entry *registry_first(const struct registry *r)
{
	return TAILQ_FIRST(&r->entries);
}

const struct server_entry *registry_next(const struct server_entry *e)
{
	return TAILQ_NEXT(e, link);
}

void registry_cursor_open(struct registry *r, struct registry_cursor *c)
{
	*c = (struct registry_cursor){.at = TAILQ_FIRST(&r->entries), .opened = r->serial};
	LIST_INSERT_HEAD(&r->cursors, c, link);
}

static bool cursor_gave(const struct registry_cursor *c, const char *id)
{
	return tfind(id, &c->given, id_cmp) != NULL;
}

const struct server_entry *registry_cursor_next(struct registry_cursor *c)
{
	struct server_entry *e;
	do {
		e = c->at;
		if (e)
			c->at = TAILQ_NEXT(e, link);
	} while (e && e->serial > c->opened && cursor_gave(c, e->info.server_id));
	return e;
}

void registry_cursor_close(struct registry_cursor *c)
{
	LIST_REMOVE(c, link);
	tdestroy(c->given, free);
	c->given = NULL;
}

json_object *server_info_to_json(const struct server_info *in)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "server_id", json_object_new_string(in->server_id));
	json_object_object_add(o, "hostname", json_object_new_string(in->hostname));
	json_object_object_add(o, "host", json_object_new_string(in->host));
	json_object_object_add(o, "port", json_object_new_int(in->port));
	json_object_object_add(o, "discovery_port", json_object_new_int(in->discovery_port));
	json_object_object_add(o, "migration_port", json_object_new_int(in->migration_port));
	json_object_object_add(o, "tank_count", json_object_new_int(in->tank_count));
	json_object_object_add(o, "version", json_object_new_string(in->version));
	json_object_object_add(o, "uptime_seconds", jv_new_seconds(in->uptime_seconds));
	json_object_object_add(o, "platform", json_object_new_string(in->platform));
	json_object_object_add(o, "architecture", json_object_new_string(in->architecture));
	json_object_object_add(o, "logical_cpus", json_object_new_int(in->logical_cpus));
	return o;
}

json_object *registry_entry_record(const struct registry *r, const struct server_entry *e,
				   double now)
{
	json_object *o;
	if (e->removed) {
		o = json_object_new_object();
		json_object_object_add(o, "removed", json_object_new_string(e->info.server_id));
	} else {
		o = server_info_to_json(&e->info);
		json_object_object_add(o, "last_heartbeat",
				       json_object_new_double(registry_heard(r, e)));
		json_object_object_add(o, "registered_at", json_object_new_double(e->registered_at));
		json_object_object_add(o, "learned", json_object_new_boolean(e->learned));
		json_object_object_add(o, "status",
				       json_object_new_string(
					       server_status_name(registry_status(r, e, now))));
	}
	json_object_object_add(o, "rev", json_object_new_int64((int64_t)e->rev));
	return o;
}

int registry_apply_record(struct registry *r, json_object *rec, double alive_at, struct json_err *e)
{
	const char *removed = NULL, *status = NULL;
	int64_t rev;
	if (jv_string(rec, "removed", false, 1, 64, &removed, e) < 0)
		return -EINVAL;
	json_object *revo;
	if (!json_object_object_get_ex(rec, "rev", &revo) ||
	    !json_object_is_type(revo, json_type_int) || (rev = json_object_get_int64(revo)) < 1 ||
	    (uint64_t)rev > REGISTRY_REV_MAX)
		return jv_fail(e, "field 'rev' must be a revision from 1 to 2^53");
	if ((uint64_t)rev > r->rev)
		r->rev = (uint64_t)rev;
	if (removed) {
		struct server_entry *en = lookup(r, removed);
		if (en && strcmp(removed, r->local_id) != 0) {
			uint64_t top = r->rev;
			remove_entry(r, en);
			en->rev = (uint64_t)rev; /* ordered at the end of the load */
			r->rev = top;
		}
		return 0;
	}
	struct server_info info;
	double hb, reg = 0;
	bool learned = false;
	enum server_status st = SERVER_OFFLINE;
	if (server_info_from_json(rec, &info, e) < 0 ||
	    jv_double(rec, "last_heartbeat", true, 0, 1e11, &hb, e) < 0 ||
	    jv_double(rec, "registered_at", false, 0, 1e11, &reg, e) < 0 ||
	    jv_bool(rec, "learned", false, &learned, e) < 0 ||
	    jv_string(rec, "status", false, 1, 16, &status, e) < 0)
		return -EINVAL;
	if (status && server_status_from_name(status, &st) < 0)
		return jv_fail(e, "field 'status' must be online, degraded or offline");
	/* Heartbeats are not journaled one by one: an entry whose last record says online
	 * stayed online until the last checkpoint, or a transition would follow it. It is
	 * taken as heard then (as a hub's "online" is taken by its workers), so a quick
	 * restart does not flap every server to offline and back. */
	if (st == SERVER_ONLINE && alive_at > hb)
		hb = alive_at;
	hb = not_ahead(hb);
	uint64_t top = r->rev;
	registry_register(r, &info, hb, false, NULL);
	struct server_entry *en = lookup(r, info.server_id);
	en->registered_at = reg;
	en->learned = learned;
	if (learned)
		en->heard_direct = 0;
	en->last_status = registry_status(r, en, hb);
	/* The record's revision, not a new one; the load orders the list once at its end
	 * (registry_order_revisions): a start writes the registry again after records
	 * of newer revisions. */
	TAILQ_REMOVE(&r->by_rev, en, rev_link);
	en->rev = (uint64_t)rev;
	TAILQ_INSERT_TAIL(&r->by_rev, en, rev_link);
	r->rev = top;
	return 0;
}

static int rev_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct server_entry *const *)a)->rev,
		 y = (*(struct server_entry *const *)b)->rev;
	return x < y ? -1 : x > y;
}

int registry_order_revisions(struct registry *r, struct json_err *e)
{
	size_t n = 0;
	struct server_entry *en;
	TAILQ_FOREACH (en, &r->by_rev, rev_link)
		n++;
	if (n == 0)
		return 0;
	struct server_entry **v = xcalloc(n, sizeof *v);
	size_t i = 0;
	TAILQ_FOREACH (en, &r->by_rev, rev_link)
		v[i++] = en;
	qsort(v, n, sizeof *v, rev_cmp);
	for (i = 1; i < n; i++)
		if (v[i]->rev == v[i - 1]->rev) {
			jv_fail(e, "servers %s and %s share revision %" PRIu64,
				v[i - 1]->info.server_id, v[i]->info.server_id, v[i]->rev);
			free(v);
			return -EINVAL;
		}
	TAILQ_INIT(&r->by_rev);
	for (i = 0; i < n; i++)
		TAILQ_INSERT_TAIL(&r->by_rev, v[i], rev_link);
	free(v);
	return 0;
}

json_object *registry_to_state(const struct registry *r, double now)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	for (const struct server_entry *e = registry_first(r); e; e = registry_next(e)) {
		json_object *s = server_info_to_json(&e->info);
		json_object_object_add(s, "last_heartbeat",
				       json_object_new_double(e->last_heartbeat));
		json_object_object_add(s, "registered_at", json_object_new_double(e->registered_at));
		json_object_object_add(s, "learned", json_object_new_boolean(e->learned));
		json_object_array_add(list, s);
	}
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "servers", list);
	json_object_object_add(o, "updated_at", json_object_new_double(now));
	return o;
}

int registry_from_state(struct registry *r, json_object *state, struct json_err *e)
{
	int version;
	json_object *list;
	if (jv_int(state, "version", true, 1, 1, &version, e) < 0 ||
	    jv_array(state, "servers", true, 1000000, &list, e) < 0)
		return -EINVAL;
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(list, i);
		struct server_info info;
		double hb, reg = 0;
		bool learned = false;
		if (server_info_from_json(s, &info, e) < 0 ||
		    jv_double(s, "last_heartbeat", true, 0, 1e11, &hb, e) < 0 ||
		    jv_double(s, "registered_at", false, 0, 1e11, &reg, e) < 0 ||
		    jv_bool(s, "learned", false, &learned, e) < 0) {
			char msg[sizeof e->msg];
			snprintf(msg, sizeof msg, "%s", e->msg);
			return jv_fail(e, "server %zu: %s", i, msg);
		}
		hb = not_ahead(hb);
		registry_register(r, &info, hb, false, NULL);
		struct server_entry *en = lookup(r, info.server_id);
		en->registered_at = reg;
		en->learned = learned;
		en->last_status = registry_status(r, en, hb);
	}
	return 0;
}
