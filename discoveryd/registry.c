#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "util.h"

struct registry {
	char local_id[65];
	struct registry_timing timing;
	void *index; /* tsearch tree of entries keyed by server_id */
	size_t count;
	TAILQ_HEAD(, server_entry) entries;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct server_entry *)a)->info.server_id,
		      ((const struct server_entry *)b)->info.server_id);
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
	struct registry *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	snprintf(r->local_id, sizeof r->local_id, "%s", local_id);
	r->timing = *t;
	TAILQ_INIT(&r->entries);
	return r;
}

static void remove_entry(struct registry *r, struct server_entry *e)
{
	tdelete(e, &r->index, entry_cmp);
	TAILQ_REMOVE(&r->entries, e, link);
	r->count--;
	free(e);
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	struct server_entry *e;
	while ((e = TAILQ_FIRST(&r->entries)))
		remove_entry(r, e);
	free(r);
	return NULL;
}

void registry_set_timing(struct registry *r, const struct registry_timing *t)
{
	r->timing = *t;
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
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return jv_fail(e, "field '%s' contains control characters", key);
		memcpy(dst, s, strlen(s) + 1);
	}
	return r < 0 ? r : 0;
}

int server_info_from_json(json_object *o, struct server_info *ret, struct json_err *e)
{
	struct server_info in = {.discovery_port = 0, .logical_cpus = 0};
	int r;
	if ((r = copy_field(o, "server_id", true, 64, in.server_id, e)) < 0)
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

int registry_register(struct registry *r, const struct server_info *info, double now,
		      bool from_peer, bool *ret_created)
{
	if (from_peer && strcmp(info->server_id, r->local_id) == 0)
		return -EPERM;
	struct server_entry *e = lookup(r, info->server_id);
	bool created = !e;
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e)
			abort();
		e->info = *info;
		if (!tsearch(e, &r->index, entry_cmp))
			abort();
		TAILQ_INSERT_TAIL(&r->entries, e, link);
		r->count++;
		e->registered_at = now;
	}
	e->info = *info;
	e->last_heartbeat = now;
	e->learned = false;
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
	if (info)
		e->info = *info;
	e->last_heartbeat = now;
	e->learned = false; /* it talks to us directly now */
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
	double age = now - e->last_heartbeat;
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
		bool evict = strcmp(e->info.server_id, r->local_id) != 0 &&
			     now - e->last_heartbeat > r->timing.evict_after;
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
			changes++;
		}
	}
	return changes;
}

size_t registry_merge_learned(struct registry *r, const struct registry_learned *list, size_t n,
			      double now)
{
	size_t changes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct server_info *info = &list[i].info;
		if (strcmp(info->server_id, r->local_id) == 0)
			continue;
		double heard = now - list[i].heartbeat_age;
		struct server_entry *e = lookup(r, info->server_id);
		if (e && !e->learned) {
			/* Registered here directly; the hub may still know something newer. */
			if (heard > e->last_heartbeat)
				e->last_heartbeat = heard;
			continue;
		}
		if (!e) {
			bool created;
			registry_register(r, info, heard, true, &created);
			e = lookup(r, info->server_id);
			e->last_status = registry_status(r, e, now);
			changes++;
		}
		e->info = *info;
		e->last_heartbeat = heard;
		e->learned = true;
	}
	/* Learned entries the hub no longer lists were evicted or unregistered there. */
	struct server_entry *e, *next;
	for (e = TAILQ_FIRST(&r->entries); e; e = next) {
		next = TAILQ_NEXT(e, link);
		if (!e->learned)
			continue;
		bool listed = false;
		for (size_t i = 0; i < n && !listed; i++)
			listed = strcmp(list[i].info.server_id, e->info.server_id) == 0;
		if (!listed) {
			remove_entry(r, e);
			changes++;
		}
	}
	return changes;
}

const struct server_entry *registry_first(const struct registry *r)
{
	return TAILQ_FIRST(&r->entries);
}

const struct server_entry *registry_next(const struct server_entry *e)
{
	return TAILQ_NEXT(e, link);
}

json_object *server_info_to_json(const struct server_info *in)
{
	json_object *o = json_object_new_object();
	jv_add_str(o, "server_id", in->server_id);
	jv_add_str(o, "hostname", in->hostname);
	jv_add_str(o, "host", in->host);
	jv_add_int(o, "port", in->port);
	jv_add_int(o, "discovery_port", in->discovery_port);
	jv_add_int(o, "migration_port", in->migration_port);
	jv_add_int(o, "tank_count", in->tank_count);
	jv_add_str(o, "version", in->version);
	json_object_object_add(o, "uptime_seconds", json_object_new_double(in->uptime_seconds));
	jv_add_str(o, "platform", in->platform);
	jv_add_str(o, "architecture", in->architecture);
	jv_add_int(o, "logical_cpus", in->logical_cpus);
	return o;
}

json_object *registry_entry_to_json(const struct registry *r, const struct server_entry *e,
				    double now)
{
	json_object *o = server_info_to_json(&e->info);
	char ts[32];
	iso8601_utc(e->last_heartbeat, ts);
	jv_add_str(o, "status", server_status_name(registry_status(r, e, now)));
	json_object_object_add(o, "is_local",
			       json_object_new_boolean(strcmp(e->info.server_id, r->local_id) == 0));
	jv_add_str(o, "last_heartbeat_at", ts);
	double age = now - e->last_heartbeat;
	json_object_object_add(o, "heartbeat_age_seconds",
			       json_object_new_double(age < 0 ? 0 : age));
	return o;
}

json_object *registry_to_state(const struct registry *r, double now)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	for (const struct server_entry *e = registry_first(r); e; e = registry_next(e)) {
		json_object *s = server_info_to_json(&e->info);
		json_object_object_add(s, "last_heartbeat", json_object_new_double(e->last_heartbeat));
		json_object_object_add(s, "registered_at", json_object_new_double(e->registered_at));
		json_object_object_add(s, "learned", json_object_new_boolean(e->learned));
		json_object_array_add(list, s);
	}
	jv_add_int(o, "version", 1);
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
		registry_register(r, &info, hb, false, NULL);
		struct server_entry *en = lookup(r, info.server_id);
		en->registered_at = reg;
		en->learned = learned;
		en->last_status = registry_status(r, en, hb);
	}
	return 0;
}
