/* The etcd backend ([discovery] backend = etcd): the registry lives in an etcd cluster,
 * reached through its v3 JSON gateway with the libcurl multi client. This server's
 * entry is the key <prefix>servers/<id> (value: its ServerInfo) under a lease whose TTL
 * is heartbeat_timeout, kept alive every heartbeat_interval; the entry is written again
 * only when the ServerInfo changes (uptime aside), so a fleet's steady state is one
 * keep-alive per server and interval. A range read fills the local registry, then a
 * watch of the prefix from the next revision keeps it current: a put is an online
 * server, a delete (its lease expired, or it left) an offline one. The local registry
 * stays the view the REST API, tankctl and migrated read.
 *
 * The range is read in pages of RANGE_PAGE keys, every page at the first one's revision,
 * so that a large registry is one snapshot without one huge answer parsed on the loop.
 * Learned entries are confirmed online only by what etcd says about them: a listing, a
 * watch message, and every interval while the watch is open and etcd answers; a lease
 * keep-alive says nothing about the others.
 *
 * Endpoints fail over in turn on any transport error, 5xx, or answer that does not
 * parse (a proxy's login page, a broken member); an unreachable cluster is logged once,
 * retried with backoff (doubling up to 8 intervals), and the last known registry is kept
 * meanwhile. Learned entries use hub index ETCD_HUB of the registry. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd.h"
#include "etcd-kv.h"
#include "hubpage.h"
#include "jsonv.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

#define ETCD_HUB 0
/* Keys a range page asks for: a few hundred KiB of typical entries, parsed in a few ms. */
#define RANGE_PAGE 500
/* The largest answer taken for anything but the watch: a page of RANGE_PAGE entries of
 * the largest value accepted fits; an endpoint that ignores the limit does not. */
#define ANSWER_MAX (8u << 20)
/* The longest watch message: one event batch of a registry is far smaller, and more
 * bytes without a newline are garbage, not a message still arriving. */
#define WATCH_MSG_MAX (4u << 20)

struct etcd {
	struct discoveryd *dd;
	char endpoints[CONF_MAX_URLS][CONF_URLS];
	size_t n, cur;
	char prefix[ETCD_KEY_MAX], range_end[ETCD_KEY_MAX];
	int64_t lease;	     /* 0: none yet, or lost */
	char put_info[1024]; /* the ServerInfo last written (uptime zeroed) */
	int64_t revision;    /* registry revision seen (range or watch); 0: not synced */
	int64_t last_rev;    /* the revision held before it was last reset to 0 */
	/* The listing in progress: its first page's revision (0: none yet), the key the
	 * next page starts at (raw bytes, malloc'd), and whether this server's own key was
	 * in it so far. */
	int64_t range_rev;
	char *range_key;
	size_t range_key_len;
	bool own_seen;
	bool busy;	      /* the lease/put/range chain is in flight */
	bool watching;	      /* a watch request is running */
	bool watch_live;      /* and etcd has answered on it */
	size_t watch_ep;      /* the endpoint it runs on */
	size_t watch_scanned; /* leading bytes of its unconsumed data known to hold no newline */
	bool down;	      /* logged as unreachable */
	bool garbage;	      /* logged an answer that does not parse */
	int failures;	      /* in a row, for the backoff */
	double next_try;      /* monotonic: no new chain before this */
	struct event *timer, *retry;
	double period; /* of timer, as last armed (timer_every) */
	bool regrant;  /* the timing changed: a new lease, whose TTL is the new timeout */
	/* the watch request's own argument, so that it can be cancelled alone */
	struct etcd_watch {
		struct etcd *e;
	} watch;
};

static void chain_next(struct etcd *e);
static void watch_start(struct etcd *e);

/* ---- requests ---- */

static const char *endpoint(const struct etcd *e)
{
	return e->endpoints[e->cur % e->n];
}

static int post(struct etcd *e, const char *path, json_object *body, fetch_cb cb, void *arg,
		fetch_data_cb on_data)
{
	char url[CONF_URLS + 64];
	const char *base = endpoint(e);
	size_t l = strlen(base);
	snprintf(url, sizeof url, "%.*s%s", (int)(l && base[l - 1] == '/' ? l - 1 : l), base, path);
	const char *text = jv_to_string(body);
	double iv = e->dd->daemon->conf.discovery.heartbeat_interval;
	struct fetch_request req = {
		.method = "POST",
		.url = url,
		.body = text,
		.body_len = strlen(text),
		.timeout_ms = (long)(iv * 1000) < 1000 ? 1000 : (long)(iv * 1000),
		.connect_timeout_ms = 1000,
		.on_data = on_data,
		.no_timeout = on_data != NULL,
		/* A watch holds one message at a time; the rest are small answers or one page. */
		.max_response = on_data ? WATCH_MSG_MAX + (1u << 20) : ANSWER_MAX,
	};
	int r = fetch_start(e->dd->fetch, &req, cb, arg);
	json_object_put(body);
	return r;
}

/* A failed exchange: next endpoint, backoff, log once. */
static void failure(struct etcd *e, const char *what, const char *why)
{
	e->cur = (e->cur + 1) % e->n;
	e->failures++;
	double iv = e->dd->daemon->conf.discovery.heartbeat_interval;
	double back = iv * pow(2, e->failures > 3 ? 3 : e->failures - 1);
	e->next_try = now_mono() + (e->failures >= (int)e->n ? back : 0);
	if (!e->down && e->failures >= (int)e->n) {
		log_warn("etcd unreachable (%s failed: %s); keeping the last known registry and "
			 "retrying with backoff",
			 what, why);
		e->down = true;
	}
	/* A watch left on a member the others are failing over from may hang there without
	 * a word (a frozen member keeps its connections open): it would go on counting as
	 * live. It moves with them. */
	if (e->watching && e->watch_ep != e->cur % e->n) {
		fetch_cancel_arg(e->dd->fetch, &e->watch);
		e->watching = e->watch_live = false;
	}
	/* While other endpoints are left to try, try the next one now, not an interval
	 * later: one member's death must not show as a gap. */
	if (e->failures < (int)e->n) {
		struct timeval now0 = {0, 0};
		event_add(e->retry, &now0);
	}
}

static void failed(struct etcd *e, const struct fetch_response *r, const char *what)
{
	e->dd->hub_errors++;
	log_debug("etcd %s: %s failed (HTTP %ld %s)", endpoint(e), what, r->status,
		  r->status ? r->body : r->error);
	failure(e, what, r->status ? "unexpected HTTP status" : r->error);
}

/* An endpoint answered. It says nothing about the other servers (a keep-alive can
 * succeed while the registry cannot be read): see confirm. */
static void answered(struct etcd *e)
{
	if (e->down)
		log_notice("etcd reachable again");
	e->down = false;
	e->failures = 0;
}

/* etcd told us about the registry as of now: the entries it lists are online. */
static void confirm(struct etcd *e)
{
	registry_hub_synced(e->dd->reg, ETCD_HUB, now_steady_wall());
}

static void garbage(struct etcd *e, const char *what, const char *msg)
{
	e->dd->hub_errors++;
	if (!e->garbage)
		log_warn("etcd %s sent %s that does not parse: %s", endpoint(e), what, msg);
	e->garbage = true;
}

/* An answer to the lease, the entry or the range that does not parse: whatever sent it
 * (a proxy's login page, a broken member) is not a working etcd, so it fails like a 5xx
 * and the next endpoint is tried. Logged once. */
static void refused(struct etcd *e, const char *what, const char *msg)
{
	garbage(e, what, msg);
	failure(e, what, "an answer that does not parse");
}

static json_object *parse(struct etcd *e, const struct fetch_response *r, const char *what)
{
	struct json_err je;
	json_object *o = jv_parse_object(r->body, r->len, 32, &je);
	if (!o)
		refused(e, what, je.msg);
	return o;
}

/* etcd's int64s come as strings in the gateway's JSON. */
static bool get_i64(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*ret = json_object_get_int64(v);
		return true;
	}
	const char *s = json_object_get_string(v);
	char *end;
	if (!json_object_is_type(v, json_type_string) || !*s)
		return false;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (*end || errno == ERANGE)
		return false;
	*ret = x;
	return true;
}

/* A revision: etcd's start at 1 and grow by one a change. The watch asks for the one
 * after the newest seen, so INT64_MAX (or a negative) is refused, not overflowed; 0 is
 * refused too, since it means "not synced" here (taken, it read the range again at
 * once, for ever). */
static bool get_revision(json_object *o, const char *key, int64_t *ret)
{
	int64_t x;
	if (!get_i64(o, key, &x) || x < 1 || x == INT64_MAX)
		return false;
	*ret = x;
	return true;
}

static json_object *obj(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) &&
			       json_object_is_type(v, json_type_object)
		       ? v
		       : NULL;
}

/* ---- applying keys to the registry ---- */

/* Whether kv holds the ServerInfo this server last wrote, byte for byte. */
static bool own_entry_current(const struct etcd *e, json_object *kv)
{
	const char *value = jv_member_str(kv, "value");
	char *val = xmalloc(ETCD_VALUE_MAX);
	bool same = value && etcd_b64_decode(value, val, ETCD_VALUE_MAX) > 0 &&
		    strcmp(val, e->put_info) == 0;
	free(val);
	return same;
}

/* A key that is present: its server is online. listing: it comes from a full listing
 * (the range), not the watch. Returns whether the registry changed. */
static bool apply_put(struct etcd *e, json_object *kv, bool listing)
{
	char id[80];
	struct json_err je = {{0}};
	struct registry_learned l = {.status = SERVER_ONLINE, .direct = true};
	int r = etcd_entry_decode(e->prefix, kv, &l.info, id, sizeof id, &je);
	if (r == -ENOENT)
		return false;
	if (strcmp(id, registry_local_id(e->dd->reg)) == 0) {
		if (listing)
			e->own_seen = r == 0;
		/* Its entry, but not the one it last wrote: etcd restored from an older copy
		 * (the lease survived in it, so the keep-alives went on), or another writer.
		 * Peers read the old address and tank count until the ServerInfo changed
		 * again (an operator's audit), so it is written again. */
		if (e->put_info[0] && !own_entry_current(e, kv)) {
			log_notice("etcd: this server's entry holds another ServerInfo than it "
				   "wrote (etcd restored from a copy?); writing it again");
			e->put_info[0] = '\0';
		}
	}
	if (r < 0) {
		garbage(e, "a registry entry", je.msg[0] ? je.msg : id);
		/* The key exists, so its server still holds a lease: one bad value must not
		 * take a peer offline at the listing's end. It stays as it was. */
		if (listing)
			registry_hub_full_seen(e->dd->reg, ETCD_HUB, id);
		return false;
	}
	return registry_hub_report(e->dd->reg, ETCD_HUB, &l, now_steady_wall());
}

/* A deleted key: the lease expired (or the server left). Offline, not forgotten: the
 * registry evicts it after evict_after like any silent server. */
static bool apply_delete(struct etcd *e, json_object *kv)
{
	char idbuf[80];
	const char *id = etcd_key_id(e->prefix, jv_member_str(kv, "key"), idbuf, sizeof idbuf);
	if (!id)
		return false;
	if (strcmp(id, registry_local_id(e->dd->reg)) == 0) {
		/* Someone deleted this server's key (etcdctl del, a cleanup): it is alive, so
		 * the next step of the chain writes it again under the lease. */
		if (e->put_info[0])
			log_notice("etcd: this server's entry was deleted; writing it again");
		e->put_info[0] = '\0';
		return false;
	}
	const struct server_entry *en = registry_get(e->dd->reg, id);
	if (!en || !en->learned)
		return false;
	double now = now_steady_wall();
	bool was_offline = registry_status(e->dd->reg, en, now) == SERVER_OFFLINE;
	struct registry_learned l = {.info = en->info, .status = SERVER_OFFLINE, .direct = true};
	double timeout = e->dd->daemon->conf.discovery.heartbeat_timeout;
	double age = now - registry_heard(e->dd->reg, en);
	l.heartbeat_age = age > timeout ? age : timeout + 0.001;
	/* Reported even when already offline: etcd must stop counting as its confirmation. */
	registry_hub_report(e->dd->reg, ETCD_HUB, &l, now);
	if (was_offline)
		return false;
	log_info("server %s left etcd (lease expired or removed): offline", id);
	return true;
}

/* ---- the watch ---- */

/* The registry is read again from scratch: the next tick lists the range. */
static void resync(struct etcd *e)
{
	e->last_rev = e->revision;
	e->revision = 0;
}

/* One message of the watch stream (a line). Returns false to end the watch. */
static bool watch_message(struct etcd *e, const char *text, size_t n, bool *changed)
{
	struct json_err je;
	json_object *o = jv_parse_object(text, n, 32, &je), *res = obj(o, "result"), *events;
	int64_t hrev = 0, rev, compact;
	if (!res) {
		garbage(e, "a watch message", o ? "no result" : je.msg);
		json_object_put(o);
		return true;
	}
	answered(e);
	e->watch_live = true;
	if (get_revision(res, "compact_revision", &compact)) {
		/* Our revision was compacted away: read everything again. */
		log_notice("etcd compacted past revision %" PRId64 ": reading the registry again",
			   e->revision);
		resync(e);
		json_object_put(o);
		return false;
	}
	bool has_hrev = get_revision(obj(res, "header"), "revision", &hrev);
	if (has_hrev && hrev < e->revision) {
		/* etcd restored from an older copy of its data: it accepts a watch from a
		 * revision it has not reached yet without a word, and would deliver nothing
		 * until it got there. */
		log_notice("etcd's revision went back from %" PRId64 " to %" PRId64
			   " (restored from a backup?): reading the registry again",
			   e->revision, hrev);
		resync(e);
		e->last_rev = 0; /* logged: the listing need not say it again */
		json_object_put(o);
		return false;
	}
	confirm(e);
	if (json_object_object_get_ex(res, "events", &events) &&
	    json_object_is_type(events, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(events); i++) {
			json_object *ev = json_object_array_get_idx(events, i);
			json_object *kv = obj(ev, "kv");
			const char *type = jv_member_str(ev, "type");
			bool del = type && strcmp(type, "DELETE") == 0;
			if (kv)
				*changed |= del ? apply_delete(e, kv) : apply_put(e, kv, false);
			/* An event cannot be newer than the message that carries it: a larger
			 * mod_revision is a lie that would start every later watch where
			 * nothing is ever delivered. */
			if (kv && has_hrev && get_revision(kv, "mod_revision", &rev) &&
			    rev <= hrev && rev > e->revision)
				e->revision = rev;
		}
		hub_log_refused(e->dd->reg, "etcd", endpoint(e));
	}
	json_object_put(o);
	return true;
}

static size_t on_watch_data(const char *data, size_t len, long status, void *arg)
{
	struct etcd *e = ((struct etcd_watch *)arg)->e;
	if (status != 200)
		return 0; /* the error body comes whole to on_watch_done */
	size_t used = 0, ret;
	bool changed = false;
	for (;;) {
		/* The unconsumed tail comes again with every read: only the new bytes are
		 * searched, or a long line costs the square of its length. */
		size_t from = used + e->watch_scanned;
		const char *nl = from < len ? memchr(data + from, '\n', len - from) : NULL;
		if (!nl) {
			e->watch_scanned = len - used;
			break;
		}
		e->watch_scanned = 0;
		size_t n = (size_t)(nl - (data + used));
		bool go_on = watch_message(e, data + used, n, &changed);
		used += n + 1;
		if (!go_on) {
			ret = (size_t)-1;
			goto out;
		}
	}
	ret = used;
	if (len - used > WATCH_MSG_MAX) {
		garbage(e, "a watch message", "longer than 4 MiB");
		ret = (size_t)-1; /* on_watch_done counts it as a failure: reconnect */
	}
out:
	if (changed)
		discoveryd_schedule_save(e->dd, true);
	return ret;
}

static void on_watch_done(const struct fetch_response *r, void *arg)
{
	struct etcd *e = ((struct etcd_watch *)arg)->e;
	e->watching = e->watch_live = false;
	if (e->revision == 0)
		return; /* compacted or gone back: the next tick reads the range again */
	failed(e, r, "watch");
	/* Any member serves a watch (no leader needed, unlike a keep-alive while the
	 * cluster elects one): reconnect at once to the next, from the revision reached. */
	if (e->failures < (int)e->n)
		watch_start(e);
}

static void watch_start(struct etcd *e)
{
	json_object *body = json_object_new_object(), *cr = json_object_new_object();
	etcd_add_b64(cr, "key", e->prefix);
	etcd_add_b64(cr, "range_end", e->range_end);
	char rev[32];
	snprintf(rev, sizeof rev, "%" PRId64, e->revision + 1);
	json_object_object_add(cr, "start_revision", json_object_new_string(rev));
	json_object_object_add(body, "create_request", cr);
	e->watch.e = e;
	e->watch_ep = e->cur % e->n;
	e->watch_scanned = 0;
	if (post(e, "/v3/watch", body, on_watch_done, &e->watch, on_watch_data) == 0)
		e->watching = true;
}

/* ---- the chain: lease, own entry, range ---- */

/* Forget the listing in progress: the next range read starts at its first page. */
static void range_reset(struct etcd *e)
{
	e->range_rev = 0;
	free(e->range_key);
	e->range_key = NULL;
	e->range_key_len = 0;
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : al < bl ? -1 : al > bl;
}

/* Where the page after this one starts: its last key with a NUL byte added (the
 * smallest key after it). NULL, with why, when the page cannot be followed: then etcd
 * would be asked the same page again and again. */
static const char *next_page(struct etcd *e, json_object *kvs, char **ret, size_t *ret_len)
{
	size_t n = kvs ? json_object_array_length(kvs) : 0;
	const char *key = n ? jv_member_str(json_object_array_get_idx(kvs, n - 1), "key") : NULL;
	if (!key)
		return "\"more\" without keys";
	size_t max = strlen(key) / 4 * 3 + 8;
	char *k = xmalloc(max);
	long kl = etcd_b64_decode_bytes(key, k, max - 1);
	const char *start = e->range_key ? e->range_key : e->prefix;
	size_t start_len = e->range_key ? e->range_key_len : strlen(e->prefix);
	if (kl < 0 || key_cmp(k, (size_t)kl, start, start_len) < 0) {
		free(k);
		return kl < 0 ? "a last key that is not base64" : "keys before the page's start";
	}
	k[kl] = '\0';
	*ret = k;
	*ret_len = (size_t)kl + 1;
	return NULL;
}

static void range_start(struct etcd *e);

static void on_range(const struct fetch_response *r, void *arg)
{
	struct etcd *e = arg;
	e->busy = false;
	if (r->status != 200) {
		range_reset(e);
		return failed(e, r, "reading the registry");
	}
	json_object *o = parse(e, r, "a registry listing"), *kvs = NULL, *v;
	int64_t rev;
	if (!o)
		return range_reset(e);
	bool more = json_object_object_get_ex(o, "more", &v) &&
		    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
	const char *bad = NULL;
	char *next = NULL;
	size_t next_len = 0;
	if (!get_revision(obj(o, "header"), "revision", &rev))
		bad = "no header.revision, or one etcd cannot have";
	else if (json_object_object_get_ex(o, "kvs", &kvs) &&
		 !json_object_is_type(kvs, json_type_array))
		/* Taken as an empty listing, it would take every peer offline. */
		bad = "\"kvs\" is not an array";
	else if (more)
		bad = next_page(e, kvs, &next, &next_len);
	if (bad) {
		refused(e, "a registry listing", bad);
		json_object_put(o);
		return range_reset(e);
	}
	answered(e);
	struct registry *reg = e->dd->reg;
	if (e->range_rev && rev < e->range_rev) {
		log_notice("etcd's revision went back from %" PRId64 " to %" PRId64
			   " while reading the registry: reading it again",
			   e->range_rev, rev);
		json_object_put(o);
		free(next);
		range_reset(e);
		return range_start(e);
	}
	if (!e->range_rev) {
		/* The first page: the others are asked at its revision, one snapshot. */
		if (rev < e->last_rev)
			log_notice("etcd's revision went back from %" PRId64 " to %" PRId64
				   " (restored from a backup?)",
				   e->last_rev, rev);
		e->range_rev = rev;
		e->own_seen = false;
		registry_hub_full_begin(reg, ETCD_HUB);
	}
	size_t changes = 0;
	for (size_t i = 0; kvs && i < json_object_array_length(kvs); i++)
		changes += apply_put(e, json_object_array_get_idx(kvs, i), true);
	hub_log_refused(reg, "etcd", endpoint(e));
	json_object_put(o);
	if (more) {
		free(e->range_key);
		e->range_key = next;
		e->range_key_len = next_len;
		if (changes)
			discoveryd_schedule_save(e->dd, true);
		return range_start(e);
	}
	/* The last page. Entries etcd no longer has are offline (their leases expired
	 * meanwhile). */
	for (const struct server_entry *en = registry_first(reg); en; en = registry_next(en))
		if (en->learned && (en->listed_by & (1u << ETCD_HUB)) &&
		    !(en->full_seen & (1u << ETCD_HUB))) {
			json_object *kv = json_object_new_object();
			char key[ETCD_KEY_MAX + 80];
			snprintf(key, sizeof key, "%s%s", e->prefix, en->info.server_id);
			etcd_add_b64(kv, "key", key);
			changes += apply_delete(e, kv);
			json_object_put(kv);
		}
	e->revision = e->range_rev;
	range_reset(e);
	if (!e->own_seen && e->put_info[0]) {
		/* Deleted while no watch ran: this server is alive, so it is written again. */
		log_notice("etcd: this server's entry is missing; writing it again");
		e->put_info[0] = '\0';
	}
	confirm(e);
	if (changes)
		discoveryd_schedule_save(e->dd, true);
	log_info("etcd: %zu servers at revision %" PRId64, registry_count(reg), e->revision);
	chain_next(e);
}

static void range_start(struct etcd *e)
{
	json_object *body = json_object_new_object();
	if (e->range_rev) {
		char *k = etcd_b64_encode(e->range_key, e->range_key_len), rev[32];
		json_object_object_add(body, "key", json_object_new_string(k));
		free(k);
		snprintf(rev, sizeof rev, "%" PRId64, e->range_rev);
		json_object_object_add(body, "revision", json_object_new_string(rev));
	} else
		etcd_add_b64(body, "key", e->prefix);
	etcd_add_b64(body, "range_end", e->range_end);
	json_object_object_add(body, "limit", json_object_new_int64(RANGE_PAGE));
	e->busy = true;
	if (post(e, "/v3/kv/range", body, on_range, e, NULL) < 0) {
		e->busy = false;
		range_reset(e);
	}
}

/* The ServerInfo as written, uptime aside (it changes every second). */
static void own_info(struct etcd *e, char *buf, size_t n)
{
	self_refresh(e->dd);
	struct server_info s = e->dd->self;
	s.uptime_seconds = 0;
	json_object *o = server_info_to_json(&s);
	snprintf(buf, n, "%s", jv_to_string(o));
	json_object_put(o);
}

static void on_put(const struct fetch_response *r, void *arg)
{
	struct etcd *e = arg;
	e->busy = false;
	if (r->status != 200)
		return failed(e, r, "writing this server's entry");
	json_object *o = parse(e, r, "a put answer");
	if (!o)
		return;
	json_object_put(o);
	answered(e);
	chain_next(e);
}

static void put_start(struct etcd *e, const char *info)
{
	json_object *body = json_object_new_object();
	char key[ETCD_KEY_MAX + 80], lease[32];
	snprintf(key, sizeof key, "%s%s", e->prefix, e->dd->self.server_id);
	etcd_add_b64(body, "key", key);
	etcd_add_b64(body, "value", info);
	snprintf(lease, sizeof lease, "%" PRId64, e->lease);
	json_object_object_add(body, "lease", json_object_new_string(lease));
	snprintf(e->put_info, sizeof e->put_info, "%s", info);
	e->busy = true;
	if (post(e, "/v3/kv/put", body, on_put, e, NULL) < 0)
		e->busy = false;
}

static void on_grant(const struct fetch_response *r, void *arg)
{
	struct etcd *e = arg;
	e->busy = false;
	if (r->status != 200)
		return failed(e, r, "granting a lease");
	json_object *o = parse(e, r, "a lease grant");
	int64_t id;
	if (!o || !get_i64(o, "ID", &id) || id <= 0) {
		if (o)
			refused(e, "a lease grant", "no ID");
		json_object_put(o);
		return;
	}
	json_object_put(o);
	answered(e);
	e->lease = id;
	e->put_info[0] = '\0'; /* the entry goes under the new lease */
	log_info("etcd: lease %" PRId64 " granted", id);
	chain_next(e);
}

static void on_keepalive(const struct fetch_response *r, void *arg)
{
	struct etcd *e = arg;
	e->busy = false;
	if (r->status != 200)
		return failed(e, r, "keeping the lease alive");
	json_object *o = parse(e, r, "a keep-alive answer");
	if (!o)
		return;
	int64_t ttl = 0;
	json_object *res = obj(o, "result");
	if (!res) {
		refused(e, "a keep-alive answer", "no result");
		json_object_put(o);
		return;
	}
	answered(e);
	if (!get_i64(res, "TTL", &ttl) || ttl <= 0) {
		/* Expired (etcd was unreachable longer than the TTL): a new lease and entry. */
		log_notice("etcd: lease %" PRId64 " expired; registering again", e->lease);
		e->lease = 0;
	}
	json_object_put(o);
	chain_next(e);
}

/* One step of what this server owes etcd, in order: a lease, its entry under the
 * lease (again whenever the ServerInfo changed), a range read when not synced, a watch. */
static void chain_next(struct etcd *e)
{
	if (e->busy)
		return;
	if (!e->lease || e->regrant) {
		e->regrant = false;
		json_object *body = json_object_new_object();
		double t = e->dd->daemon->conf.discovery.heartbeat_timeout;
		json_object_object_add(body, "TTL", json_object_new_int64((int64_t)ceil(t)));
		e->busy = true;
		if (post(e, "/v3/lease/grant", body, on_grant, e, NULL) < 0)
			e->busy = false;
		return;
	}
	char info[sizeof e->put_info];
	own_info(e, info, sizeof info);
	if (strcmp(info, e->put_info) != 0)
		return put_start(e, info);
	if (!e->revision)
		return range_start(e);
	if (!e->watching)
		watch_start(e);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct etcd *e = arg;
	/* An open watch is a live connection to the cluster, and a key that exists has an
	 * unexpired lease: the entries etcd lists are confirmed online as of now. Not while
	 * etcd fails to answer: a frozen member keeps the watch's connection open without a
	 * word, and the deletes it would send are not arriving. */
	if (e->watch_live && !e->down && e->lease)
		confirm(e);
	if (e->busy || now_mono() < e->next_try)
		return;
	if (!e->revision && e->watching) {
		fetch_cancel_arg(e->dd->fetch, &e->watch);
		e->watching = e->watch_live = false;
	}
	if (e->lease && e->put_info[0] && !e->regrant) {
		/* The keep-alive first; chain_next follows its answer. */
		json_object *body = json_object_new_object();
		char id[32];
		snprintf(id, sizeof id, "%" PRId64, e->lease);
		json_object_object_add(body, "ID", json_object_new_string(id));
		e->busy = true;
		if (post(e, "/v3/lease/keepalive", body, on_keepalive, e, NULL) < 0)
			e->busy = false;
		return;
	}
	chain_next(e);
}

struct etcd *etcd_new(struct discoveryd *dd)
{
	const struct conf *c = &dd->daemon->conf;
	struct etcd *e = xcalloc(1, sizeof *e);
	e->dd = dd;
	if (!dd->fetch)
		dd->fetch = fetch_new(dd->daemon->base);
	e->n = conf_split_urls(c->discovery.etcd_endpoints, e->endpoints, CONF_MAX_URLS);
	snprintf(e->prefix, sizeof e->prefix, "%sservers/", c->discovery.etcd_prefix);
	/* The end of the prefix range: the prefix with its last byte incremented. */
	snprintf(e->range_end, sizeof e->range_end, "%s", e->prefix);
	e->range_end[strlen(e->range_end) - 1]++;
	e->timer = event_new(dd->daemon->base, -1, EV_PERSIST, on_tick, e);
	e->retry = evtimer_new(dd->daemon->base, on_tick, e);
	if (!e->timer || !e->retry)
		abort();
	timer_every(e->timer, &e->period, c->discovery.heartbeat_interval);
	on_tick(-1, 0, e);
	return e;
}

void etcd_heartbeat_now(struct etcd *e)
{
	on_tick(-1, 0, e); /* a chain in flight, or a backoff, is left to finish */
}

/* The lease keeps the TTL it was granted with, the old heartbeat_timeout: kept alive at
 * a longer new interval it expired, and etcd deleted this server's entry for a while (a
 * review found it offline 22 s after 1 s/3 s became 8 s/30 s). A new lease carries the
 * new TTL; the entry moves to it when written, and the old lease expires with no key. */
void etcd_reload(struct etcd *e, bool timing_changed)
{
	timer_every(e->timer, &e->period, e->dd->daemon->conf.discovery.heartbeat_interval);
	if (!timing_changed)
		return;
	e->regrant = true;
	on_tick(-1, 0, e);
}

bool etcd_connected(const struct etcd *e)
{
	return e && !e->down && e->lease && e->watch_live;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return endpoint(e);
}

struct etcd *etcd_free(struct etcd *e)
{
	if (!e)
		return NULL;
	if (e->dd->fetch) {
		fetch_cancel_arg(e->dd->fetch, e);
		fetch_cancel_arg(e->dd->fetch, &e->watch);
	}
	event_free(e->timer);
	event_free(e->retry);
	free(e->range_key);
	free(e);
	return NULL;
}
