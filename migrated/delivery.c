/* Exactly-once delivery (DESIGN §6; endpoints in docs/simd-protocol.md).
 *
 * Every outbox record of this server's simd is driven through
 *
 *   [fetch record] -> attempt -> [look up destination] -> deliver -> commit | abort
 *
 * by its own little state machine (struct xfer). Any number run at once, each waiting
 * only for its own requests, so a slow or dead destination never holds up the others.
 * An answer 200 from the destination commits; 400/401/403/404/409 abort (the same
 * fish returns to its tank); anything else (a timeout, a 5xx, no connection) is an
 * unknown outcome: the record stays in the outbox and the same transfer_id is sent
 * again after a backoff (0.5 s doubling to 30 s, jittered), forever. The destination's
 * idempotency on transfer_id turns "at least once" into "exactly once".
 *
 * simd's outbox is the truth: nothing here is persisted. On start and on every pass
 * the outbox is listed and every record not in flight is resumed, which covers
 * records left by a crash of migrated and fish that left through a wall (exits). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"

enum xstep {
	XS_FETCH,   /* resumed: get entity_data from GET /api/outbox/{id} */
	XS_ATTEMPT, /* POST /api/outbox/{id}/attempt */
	XS_LOOKUP,  /* the destination's address from discoveryd */
	XS_DELIVER, /* POST /api/remote-transfer at the destination */
	XS_COMMIT,
	XS_ABORT,
};

static const char *step_name(enum xstep s)
{
	static const char *names[] = {"fetch", "attempt", "lookup", "deliver", "commit", "abort"};
	return names[s];
}

struct xfer {
	struct delivery *d;
	struct xfer *next; /* hash chain */
	char transfer_id[TRANSFER_ID_MAX + 1];
	char fish_id[TANK_ID_MAX + 1];
	char source_tank_id[TANK_ID_MAX + 1];
	char destination_server_id[SERVER_ID_MAX + 1];
	char destination_tank_id[TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
	char arrival_wall[8]; /* "left"/"right" for a fish that swam through a wall, else "" */
	double created_at;   /* wall clock, from simd */
	double started_mono; /* for the latency metric */
	int attempts;	     /* simd's count */
	int failures;	     /* consecutive, for the backoff */
	enum xstep step;
	bool busy;	     /* a request or a timer is outstanding */
	bool waiting;	     /* in backoff */
	double retry_at;     /* monotonic */
	json_object *entity; /* entity_data */
	char last_error[256];
	char refusal[256]; /* why the destination refused (for the aborted record) */
	char note[160];	   /* said about a commit that is not plain */
	struct event *timer;
};

struct peer_waiter {
	peer_cb cb;
	void *arg;
	struct peer_waiter *next;
};

struct peer {
	char server_id[SERVER_ID_MAX + 1];
	enum peer_state state;
	char host[256];
	int port;
	double fetched; /* monotonic; 0 = never */
	bool busy;
	double warned; /* last "unknown destination" warning */
	struct peer_waiter *waiters;
	struct peer *next;
};

struct delivery {
	struct migrated *md;
	struct xfer **buckets;
	size_t nbuckets, n;
	struct peer *peers;
	bool listing; /* an outbox listing is in flight */
	bool relist;  /* another was asked for meanwhile */
};

#define PEER_TTL_OK 5.0
#define PEER_TTL_BAD 1.0

static void x_run(struct xfer *x);

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct xfer *x_find(const struct delivery *d, const char *id)
{
	for (struct xfer *x = d->buckets[hash_id(id) & (d->nbuckets - 1)]; x; x = x->next)
		if (strcmp(x->transfer_id, id) == 0)
			return x;
	return NULL;
}

static void x_insert_raw(struct delivery *d, struct xfer *x)
{
	struct xfer **b = &d->buckets[hash_id(x->transfer_id) & (d->nbuckets - 1)];
	x->next = *b;
	*b = x;
}

static void x_insert(struct delivery *d, struct xfer *x)
{
	if (d->n + 1 > d->nbuckets * 2) {
		struct xfer **old = d->buckets;
		size_t oldn = d->nbuckets;
		d->nbuckets *= 2;
		d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
		if (!d->buckets)
			abort();
		for (size_t i = 0; i < oldn; i++)
			for (struct xfer *y = old[i], *nx; y; y = nx) {
				nx = y->next;
				x_insert_raw(d, y);
			}
		free(old);
	}
	x_insert_raw(d, x);
	d->n++;
}

static void x_free(struct xfer *x)
{
	if (x->timer)
		event_free(x->timer);
	json_object_put(x->entity);
	free(x);
}

static void x_remove(struct xfer *x)
{
	struct delivery *d = x->d;
	struct xfer **p = &d->buckets[hash_id(x->transfer_id) & (d->nbuckets - 1)];
	while (*p && *p != x)
		p = &(*p)->next;
	if (*p)
		*p = x->next;
	d->n--;
	x_free(x);
}

static void x_record(struct xfer *x, enum transfer_state st, const char *error)
{
	struct migrated *md = x->d->md;
	struct transfer_record r = {
		.timestamp = now_wall(),
		.created_at = x->created_at,
		.state = st,
		.attempts = x->attempts,
		.local = false,
	};
	snprintf(r.transfer_id, sizeof r.transfer_id, "%s", x->transfer_id);
	snprintf(r.entity_type, sizeof r.entity_type, "fish");
	snprintf(r.fish_id, sizeof r.fish_id, "%s", x->fish_id);
	snprintf(r.source_server_id, sizeof r.source_server_id, "%s",
		 md->daemon->conf.server.server_id);
	snprintf(r.source_tank_id, sizeof r.source_tank_id, "%s", x->source_tank_id);
	snprintf(r.destination_server_id, sizeof r.destination_server_id, "%s",
		 x->destination_server_id);
	snprintf(r.destination_tank_id, sizeof r.destination_tank_id, "%s",
		 x->destination_tank_id);
	snprintf(r.connection_id, sizeof r.connection_id, "%s", x->connection_id);
	snprintf(r.error, sizeof r.error, "%s", error ? error : "");
	history_record(md->history, &r);
}

static void on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	x->waiting = false;
	if (x->step == XS_DELIVER || x->step == XS_LOOKUP)
		x->step = XS_ATTEMPT; /* every new delivery attempt is announced to simd */
	x->d->md->m.retries++;
	x_run(x);
}

/* Something failed with an unknown or passing outcome: same step again later. */
static void x_retry_later(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void x_retry_later(struct xfer *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->last_error, sizeof x->last_error, fmt, ap);
	va_end(ap);
	struct migrated *md = x->d->md;
	x->failures++;
	double delay = backoff_delay(x->failures, rng_uniform(&md->rng));
	log_debug("transfer %s: %s failed (%s); retry %d in %.2f s", x->transfer_id,
		  step_name(x->step), x->last_error, x->failures, delay);
	if (!x->timer) {
		x->timer = evtimer_new(md->daemon->base, on_retry_timer, x);
		if (!x->timer)
			abort();
	}
	struct timeval tv = {(time_t)delay, (suseconds_t)((delay - (double)(time_t)delay) * 1e6)};
	x->busy = true;
	x->waiting = true;
	x->retry_at = now_mono() + delay;
	evtimer_add(x->timer, &tv);
}

static bool is_refusal(long status)
{
	return status == 400 || status == 401 || status == 403 || status == 404 || status == 409;
}

static void x_done(struct xfer *x, bool committed)
{
	struct migrated *md = x->d->md;
	if (committed) {
		md->m.commits++;
		migrated_observe_latency(md, now_mono() - x->started_mono);
		x_record(x, TS_COMMITTED, x->note[0] ? x->note : NULL);
		log_debug("transfer %s: fish %s committed to %s/%s after %d attempt(s)",
			  x->transfer_id, x->fish_id, x->destination_server_id,
			  x->destination_tank_id, x->attempts);
	} else {
		md->m.aborts++;
		x_record(x, TS_ABORTED, x->refusal[0] ? x->refusal : "aborted");
		log_info("transfer %s: fish %s returned to tank %s: %s", x->transfer_id, x->fish_id,
			 x->source_tank_id, x->refusal);
	}
	x_remove(x);
}

/* ---- the steps ---- */

static void x_start_request(struct xfer *x, int r)
{
	if (r < 0)
		x_retry_later(x, "cannot start a request: %s", strerror(-r));
}

static void on_fetch(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	if (r->status == 404) {
		log_debug("transfer %s: no longer in the outbox (resolved meanwhile)",
			  x->transfer_id);
		x_remove(x);
		return;
	}
	if (r->status != 200)
		return x_retry_later(x, "simd: %s", r->status ? "unexpected answer" : r->error);
	json_object *o = migrated_parse_answer(r, "outbox record"), *entity;
	struct json_err e;
	if (!o || jv_object(o, "entity_data", true, &entity, &e) < 0) {
		json_object_put(o);
		return x_retry_later(x, "simd sent an outbox record without entity_data");
	}
	json_object_put(x->entity);
	x->entity = json_object_get(entity);
	json_object_put(o);
	x->step = XS_ATTEMPT;
	x_run(x);
}

static void on_attempt(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	if (r->status == 404) {
		log_debug("transfer %s: no longer in the outbox", x->transfer_id);
		x_remove(x);
		return;
	}
	if (r->status != 200)
		return x_retry_later(x, "simd attempt: %s", r->status ? "unexpected answer" : r->error);
	json_object *o = migrated_parse_answer(r, "attempt");
	struct json_err e;
	int attempts;
	if (o && jv_int(o, "attempts", false, 0, 1 << 30, &attempts, &e) > 0)
		x->attempts = attempts;
	else
		x->attempts++;
	json_object_put(o);
	x->d->md->m.attempts++;
	x->step = XS_LOOKUP;
	x_run(x);
}

static void on_lookup(enum peer_state st, void *arg)
{
	struct xfer *x = arg;
	struct delivery *d = x->d;
	struct migrated *md = d->md;
	x->busy = false;
	if (st == PEER_OK || st == PEER_OFFLINE) {
		/* An "offline" peer may still answer (heartbeats can lag): try it. */
		x->step = XS_DELIVER;
		x_run(x);
		return;
	}
	if (st == PEER_MISSING) {
		md->m.unknown_destination++;
		x_record(x, TS_PENDING, "destination server unknown to discoveryd; retrying");
		return x_retry_later(x, "destination server %s is unknown to discoveryd",
				     x->destination_server_id);
	}
	x_retry_later(x, "discoveryd did not answer");
}

static void on_deliver(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	if (r->status == 200) {
		/* Only simd's own acceptance of this very transfer commits: a stray 200 (a
		 * proxy, another service on that port) would otherwise lose the fish. */
		json_object *o = migrated_parse_answer(r, "remote-transfer answer");
		const char *tid = NULL;
		bool success = false;
		struct json_err e;
		bool good = o && jv_bool(o, "success", true, &success, &e) > 0 && success &&
			    jv_string(o, "transfer_id", false, 1, TRANSFER_ID_MAX, &tid, &e) >= 0 &&
			    (!tid || strcmp(tid, x->transfer_id) == 0);
		json_object_put(o);
		if (good) {
			x->failures = 0;
			x->step = XS_COMMIT;
			x_run(x);
			return;
		}
		x_record(x, TS_PENDING, "the destination answered 200 without accepting this "
			 "transfer; will retry");
		return x_retry_later(x, "200 without {\"success\":true} for this transfer");
	}
	char dcode[64];
	if (r->status == 409 && strcmp(migrated_error_code(r, dcode, sizeof dcode),
					"duplicate_fish") == 0) {
		/* The destination already holds this very fish (same id for life), under a
		 * transfer id it no longer remembers: our earlier attempt arrived and its
		 * answer was lost. Aborting would put a second copy back in the source;
		 * committing leaves exactly one. */
		log_warn("transfer %s: %s already holds fish %s: committing instead of aborting "
			 "(an abort would copy it)", x->transfer_id, x->destination_server_id,
			 x->fish_id);
		snprintf(x->note, sizeof x->note, "destination already held the fish "
			 "(409 duplicate_fish): committed, not aborted");
		x->failures = 0;
		x->step = XS_COMMIT;
		x_run(x);
		return;
	}
	if (is_refusal(r->status)) {
		char code[64];
		json_object *o = migrated_parse_answer(r, "remote-transfer refusal");
		const char *msg = NULL;
		struct json_err e;
		if (o)
			jv_string(o, "error", false, 0, 200, &msg, &e);
		snprintf(x->refusal, sizeof x->refusal, "destination refused (%ld %s)%s%s", r->status,
			 migrated_error_code(r, code, sizeof code), msg ? ": " : "", msg ? msg : "");
		json_object_put(o);
		x->failures = 0;
		x->step = XS_ABORT;
		x_run(x);
		return;
	}
	char err[200];
	if (r->status)
		snprintf(err, sizeof err, "destination answered %ld: outcome unknown, will retry",
			 r->status);
	else
		snprintf(err, sizeof err, "no answer from the destination (%s): outcome unknown, "
			 "will retry", r->error);
	x_record(x, TS_PENDING, err);
	x_retry_later(x, "%s", err);
}

static void on_forgotten(const struct fetch_response *r, void *arg)
{
	/* Best effort: a destination that missed this forgets the entry at its retention. */
	(void)r;
	(void)arg;
}

/* Once the source has committed, the transfer id is never sent again, so the
 * destination's inbox entry for it (kept so a retry is answered without a second
 * insert) can go. This keeps the inbox small, so its retention limits are never what
 * stands between a late retry and a duplicate. */
static void forget_at_destination(struct xfer *x)
{
	struct migrated *md = x->d->md;
	const struct conf *c = &md->daemon->conf;
	bool here = strcmp(x->destination_server_id, c->server.server_id) == 0;
	char url[512];
	if (here) {
		snprintf(url, sizeof url, "http://simd/api/inbox/%s", x->transfer_id);
	} else {
		struct peer *p;
		for (p = x->d->peers; p; p = p->next)
			if (strcmp(p->server_id, x->destination_server_id) == 0)
				break;
		if (!p || !p->port)
			return;
		bool v6 = strchr(p->host, ':') != NULL;
		snprintf(url, sizeof url, "http://%s%s%s:%d/api/inbox/%s", v6 ? "[" : "", p->host,
			 v6 ? "]" : "", p->port, x->transfer_id);
	}
	long timeout = (long)(c->migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = "DELETE",
		.url = url,
		.unix_path = here ? c->sim.socket : NULL,
		.token = here ? NULL : c->security.token,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < 3000 ? timeout : 3000,
	};
	if (!md->stopping)
		fetch_start(md->fetch, &req, on_forgotten, NULL);
}

static void on_commit(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	/* 404: the record is already gone (a commit whose answer we lost). */
	if (r->status == 200 || r->status == 404) {
		forget_at_destination(x);
		return x_done(x, true);
	}
	x_retry_later(x, "simd commit: %s", r->status ? "unexpected answer" : r->error);
}

static void on_abort(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	if (r->status == 200 || r->status == 404)
		return x_done(x, false);
	x_retry_later(x, "simd abort: %s", r->status ? "unexpected answer" : r->error);
}

static void deliver(struct xfer *x)
{
	struct migrated *md = x->d->md;
	const struct conf *c = &md->daemon->conf;
	bool here = strcmp(x->destination_server_id, c->server.server_id) == 0;
	char url[512];
	struct peer *p = NULL;
	if (!here) {
		for (p = x->d->peers; p; p = p->next)
			if (strcmp(p->server_id, x->destination_server_id) == 0)
				break;
		if (!p || !p->port)
			return x_retry_later(x, "no address for server %s", x->destination_server_id);
		bool v6 = strchr(p->host, ':') != NULL;
		snprintf(url, sizeof url, "http://%s%s%s:%d/api/remote-transfer", v6 ? "[" : "",
			 p->host, v6 ? "]" : "", p->port);
	} else {
		snprintf(url, sizeof url, "http://simd/api/remote-transfer");
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "transfer_id", json_object_new_string(x->transfer_id));
	json_object_object_add(body, "destination_tank_id",
			       json_object_new_string(x->destination_tank_id));
	json_object_object_add(body, "source_server_id",
			       json_object_new_string(c->server.server_id));
	json_object_object_add(body, "source_tank_id", json_object_new_string(x->source_tank_id));
	if (x->arrival_wall[0]) /* boundary migration: enter through the opposite wall */
		json_object_object_add(body, "arrival_wall", json_object_new_string(x->arrival_wall));
	json_object_object_add(body, "entity_data", json_object_get(x->entity));
	const char *text = jv_to_string(body);
	long timeout = (long)(c->migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = "POST",
		.url = url,
		.unix_path = here ? c->sim.socket : NULL,
		.body = text,
		.body_len = strlen(text),
		.token = here ? NULL : c->security.token,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < 3000 ? timeout : 3000,
	};
	x->busy = true;
	int r = md->stopping ? -ESHUTDOWN : fetch_start(md->fetch, &req, on_deliver, x);
	json_object_put(body);
	if (r < 0) {
		x->busy = false;
		x_start_request(x, r);
	}
}

static void outbox_call(struct xfer *x, const char *what, fetch_cb cb)
{
	char path[TRANSFER_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/outbox/%s%s%s", x->transfer_id, what[0] ? "/" : "", what);
	x->busy = true;
	int r = migrated_sim(x->d->md, what[0] ? "POST" : "GET", path, NULL, cb, x);
	if (r < 0) {
		x->busy = false;
		x_start_request(x, r);
	}
}

static void x_run(struct xfer *x)
{
	if (x->d->md->stopping)
		return;
	switch (x->step) {
	case XS_FETCH:
		return outbox_call(x, "", on_fetch);
	case XS_ATTEMPT:
		return outbox_call(x, "attempt", on_attempt);
	case XS_LOOKUP:
		if (strcmp(x->destination_server_id, x->d->md->daemon->conf.server.server_id) == 0) {
			x->step = XS_DELIVER;
			return deliver(x);
		}
		x->busy = true;
		return delivery_peer_lookup(x->d->md, x->destination_server_id, false, on_lookup,
					    x);
	case XS_DELIVER:
		return deliver(x);
	case XS_COMMIT:
		return outbox_call(x, "commit", on_commit);
	case XS_ABORT:
		return outbox_call(x, "abort", on_abort);
	}
}

/* ---- entry points ---- */

/* The fields every outbox record (reserve answer or listing entry) carries. */
static struct xfer *x_from_json(struct delivery *d, json_object *o, struct json_err *e)
{
	const char *tid, *fish, *src, *dserver, *dtank, *conn = NULL, *created = NULL, *wall = NULL;
	int attempts = 0;
	if (jv_string(o, "transfer_id", true, 1, TRANSFER_ID_MAX, &tid, e) < 0 ||
	    jv_string(o, "fish_id", true, 1, TANK_ID_MAX, &fish, e) < 0 ||
	    jv_string(o, "source_tank_id", true, 1, TANK_ID_MAX, &src, e) < 0 ||
	    jv_string(o, "destination_server_id", true, 1, SERVER_ID_MAX, &dserver, e) < 0 ||
	    jv_string(o, "destination_tank_id", true, 1, TANK_ID_MAX, &dtank, e) < 0 ||
	    jv_string(o, "connection_id", false, 0, CONN_ID_MAX, &conn, e) < 0 ||
	    jv_string(o, "created_at", false, 0, 40, &created, e) < 0 ||
	    jv_int(o, "attempts", false, 0, 1 << 30, &attempts, e) < 0 ||
	    jv_string(o, "arrival_wall", false, 4, 5, &wall, e) < 0)
		return NULL;
	if (wall && strcmp(wall, "left") != 0 && strcmp(wall, "right") != 0) {
		jv_fail(e, "arrival_wall must be left or right");
		return NULL;
	}
	if (!object_id_valid(tid, TRANSFER_ID_MAX) || !object_id_valid(fish, TANK_ID_MAX) ||
	    !object_id_valid(src, TANK_ID_MAX) || !server_id_valid(dserver) ||
	    !object_id_valid(dtank, TANK_ID_MAX)) {
		jv_fail(e, "an id has characters outside the id alphabet");
		return NULL;
	}
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		abort();
	x->d = d;
	snprintf(x->transfer_id, sizeof x->transfer_id, "%s", tid);
	snprintf(x->fish_id, sizeof x->fish_id, "%s", fish);
	snprintf(x->source_tank_id, sizeof x->source_tank_id, "%s", src);
	snprintf(x->destination_server_id, sizeof x->destination_server_id, "%s", dserver);
	snprintf(x->destination_tank_id, sizeof x->destination_tank_id, "%s", dtank);
	snprintf(x->connection_id, sizeof x->connection_id, "%s", conn ? conn : "");
	snprintf(x->arrival_wall, sizeof x->arrival_wall, "%s", wall ? wall : "");
	x->attempts = attempts;
	if (!created || iso8601_parse(created, &x->created_at) < 0)
		x->created_at = now_wall();
	x->started_mono = now_mono();
	return x;
}

void delivery_start(struct migrated *md, json_object *reservation)
{
	struct delivery *d = md->delivery;
	struct json_err e;
	json_object *entity;
	if (jv_object(reservation, "entity_data", true, &entity, &e) < 0) {
		log_warn("simd's reservation has no entity_data: %s", e.msg);
		return;
	}
	struct xfer *x = x_from_json(d, reservation, &e);
	if (!x) {
		log_warn("simd's reservation does not parse: %s", e.msg);
		return;
	}
	struct xfer *old = x_find(d, x->transfer_id);
	if (old) { /* the outbox listing found it first */
		if (!old->entity)
			old->entity = json_object_get(entity);
		x_free(x);
		return;
	}
	x->entity = json_object_get(entity);
	x->step = XS_ATTEMPT;
	x_insert(d, x);
	x_record(x, TS_PENDING, NULL);
	x_run(x);
}

static void on_outbox(const struct fetch_response *r, void *arg)
{
	struct delivery *d = arg;
	struct migrated *md = d->md;
	d->listing = false;
	if (r->status != 200) {
		md->m.sim_errors++;
		log_debug("listing simd's outbox failed: %s", r->status ? "unexpected answer" : r->error);
	} else {
		json_object *o = migrated_parse_answer(r, "outbox"), *list;
		struct json_err e;
		if (o && jv_array(o, "transfers", true, 10000000, &list, &e) > 0) {
			size_t n = json_object_array_length(list), resumed = 0;
			for (size_t i = 0; i < n; i++) {
				json_object *item = json_object_array_get_idx(list, i);
				struct xfer *x = x_from_json(d, item, &e);
				if (!x) {
					log_warn("ignoring an outbox record of simd: %s", e.msg);
					continue;
				}
				if (x_find(d, x->transfer_id)) {
					x_free(x);
					continue;
				}
				x->step = XS_FETCH;
				x_insert(d, x);
				const struct transfer_record *known =
					history_get(md->history, x->transfer_id);
				if (!known || known->state != TS_PENDING)
					x_record(x, TS_PENDING, NULL);
				md->m.resumed++;
				resumed++;
				x_run(x);
			}
			if (resumed)
				log_info("resumed %zu transfer(s) from simd's outbox", resumed);
		} else if (o) {
			log_warn("simd's outbox listing does not parse: %s", e.msg);
		}
		json_object_put(o);
	}
	if (d->relist && !md->stopping) {
		d->relist = false;
		delivery_resume_outbox(md);
	}
}

void delivery_resume_outbox(struct migrated *md)
{
	struct delivery *d = md->delivery;
	if (d->listing) {
		d->relist = true;
		return;
	}
	d->listing = true;
	if (migrated_sim(md, "GET", "/api/outbox", NULL, on_outbox, d) < 0)
		d->listing = false;
}

/* ---- destination lookups ---- */

static struct peer *peer_get(struct delivery *d, const char *id)
{
	for (struct peer *p = d->peers; p; p = p->next)
		if (strcmp(p->server_id, id) == 0)
			return p;
	struct peer *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	snprintf(p->server_id, sizeof p->server_id, "%s", id);
	p->next = d->peers;
	d->peers = p;
	return p;
}

static bool peer_fresh(const struct peer *p, double now)
{
	if (!p->fetched)
		return false;
	double ttl = p->state == PEER_OK || p->state == PEER_OFFLINE ? PEER_TTL_OK : PEER_TTL_BAD;
	return now - p->fetched < ttl;
}

enum peer_state delivery_peer_state(struct migrated *md, const char *server_id)
{
	struct peer *p = peer_get(md->delivery, server_id);
	return peer_fresh(p, now_mono()) ? p->state : PEER_UNKNOWN;
}

static void on_peer(const struct fetch_response *r, void *arg)
{
	struct peer *p = arg;
	p->busy = false;
	p->fetched = now_mono();
	if (r->status == 404) {
		p->state = PEER_MISSING;
	} else if (r->status == 200) {
		json_object *o = migrated_parse_answer(r, "server info");
		const char *host, *status = NULL;
		int port;
		struct json_err e;
		if (o && jv_string(o, "host", true, 1, 253, &host, &e) > 0 &&
		    jv_int(o, "port", true, 1, 65535, &port, &e) > 0 && host_valid(host) &&
		    jv_string(o, "status", false, 0, 32, &status, &e) >= 0) {
			snprintf(p->host, sizeof p->host, "%s", host);
			p->port = port;
			p->state = status && strcmp(status, "offline") == 0 ? PEER_OFFLINE : PEER_OK;
		} else {
			log_warn("discoveryd's entry for %s does not parse", p->server_id);
			p->state = PEER_LOOKUP_FAIL;
		}
		json_object_put(o);
	} else {
		/* discoveryd down: keep a known address usable. */
		p->state = p->port ? PEER_OK : PEER_LOOKUP_FAIL;
		if (!p->port)
			p->fetched = now_mono();
	}
	struct peer_waiter *w = p->waiters;
	p->waiters = NULL;
	enum peer_state st = p->state;
	if (st == PEER_MISSING && (p->warned == 0 || now_mono() - p->warned > 60)) {
		p->warned = now_mono();
		log_warn("destination server %s is unknown to discoveryd: its transfers wait in "
			 "the outbox and are retried until it registers", p->server_id);
	}
	while (w) {
		struct peer_waiter *next = w->next;
		w->cb(st, w->arg);
		free(w);
		w = next;
	}
}

void delivery_peer_lookup(struct migrated *md, const char *server_id, bool force, peer_cb cb,
			  void *arg)
{
	struct peer *p = peer_get(md->delivery, server_id);
	if (!force && peer_fresh(p, now_mono())) {
		cb(p->state, arg);
		return;
	}
	struct peer_waiter *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->cb = cb;
	w->arg = arg;
	w->next = p->waiters;
	p->waiters = w;
	if (p->busy)
		return;
	char path[SERVER_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/discovery/servers/%s", server_id);
	p->busy = true;
	if (migrated_discovery(md, "GET", path, on_peer, p) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_peer(&fail, p);
	}
}

/* ---- lifetime and introspection ---- */

struct delivery *delivery_new(struct migrated *md)
{
	struct delivery *d = calloc(1, sizeof *d);
	if (!d)
		abort();
	d->md = md;
	d->nbuckets = 1024;
	d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
	if (!d->buckets)
		abort();
	return d;
}

struct delivery *delivery_free(struct delivery *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct xfer *x = d->buckets[i], *nx; x; x = nx) {
			nx = x->next;
			x_free(x);
		}
	free(d->buckets);
	for (struct peer *p = d->peers, *np; p; p = np) {
		np = p->next;
		for (struct peer_waiter *w = p->waiters, *nw; w; w = nw) {
			nw = w->next;
			free(w);
		}
		free(p);
	}
	free(d);
	return NULL;
}

size_t delivery_in_flight(const struct delivery *d)
{
	return d->n;
}

json_object *delivery_list_json(const struct delivery *d)
{
	json_object *list = json_object_new_array();
	double now = now_mono();
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct xfer *x = d->buckets[i]; x; x = x->next) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "transfer_id", json_object_new_string(x->transfer_id));
			json_object_object_add(o, "fish_id", json_object_new_string(x->fish_id));
			json_object_object_add(o, "source_tank_id",
					       json_object_new_string(x->source_tank_id));
			json_object_object_add(o, "destination_server_id",
					       json_object_new_string(x->destination_server_id));
			json_object_object_add(o, "destination_tank_id",
					       json_object_new_string(x->destination_tank_id));
			json_object_object_add(o, "step", json_object_new_string(step_name(x->step)));
			json_object_object_add(o, "attempts", json_object_new_int(x->attempts));
			json_object_object_add(o, "failures", json_object_new_int(x->failures));
			json_object_object_add(o, "retry_in_seconds",
					       x->waiting ? json_object_new_double(x->retry_at - now)
							  : NULL);
			json_object_object_add(o, "last_error",
					       x->last_error[0] ? json_object_new_string(x->last_error)
								: NULL);
			json_object_array_add(list, o);
		}
	return list;
}
