/* Exactly-once delivery (DESIGN §6; endpoints in docs/simd-protocol.md).
 *
 * Every outbox record of this server's simd is driven through
 *
 *   [fetch record] -> attempt -> [look up destination] -> deliver -> commit | abort
 *
 * by its own little state machine (struct xfer). Any number run at once, each waiting
 * only for its own requests, so a slow or dead destination never holds up the others.
 * An answer 200 from the destination commits; 400/401/403/404/409 with simd's error
 * code abort (the same fish returns to its tank); anything else (a timeout, a 5xx,
 * 421 wrong_server from a server that is not the destination, no connection) is an
 * unknown outcome: the record stays in the outbox and the same transfer_id is sent
 * again after a backoff (0.5 s doubling to 30 s, jittered), forever. The destination's
 * idempotency on transfer_id turns "at least once" into "exactly once".
 *
 * Transfers come from delivery-outbox.c (a fresh reservation, or the outbox listing
 * that resumes the rest); the destination's address comes from peers.c; after a commit
 * the destination's inbox entry is forgotten (forget_at_destination). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

static const char *step_name(enum xstep s)
{
	static const char *names[] = {"fetch", "attempt", "lookup", "deliver", "commit", "abort"};
	return names[s];
}

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct xfer *delivery_find(const struct delivery *d, const char *id)
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

void delivery_insert(struct delivery *d, struct xfer *x)
{
	if (d->n + 1 > d->nbuckets * 2) {
		struct xfer **old = d->buckets;
		size_t oldn = d->nbuckets;
		d->nbuckets *= 2;
		d->buckets = xcalloc(d->nbuckets, sizeof *d->buckets);
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

void delivery_xfer_free(struct xfer *x)
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
	delivery_xfer_free(x);
}

void delivery_record(struct xfer *x, enum transfer_state st, const char *error)
{
	struct migrated *md = x->d->md;
	struct transfer_record r;
	const struct transfer_route route = {
		md->daemon->conf.server.server_id,
		x->source_tank_id,
		x->destination_server_id,
		x->destination_tank_id,
		x->connection_id,
	};
	transfer_record_init(&r, x->transfer_id, x->fish_id, &route, st, error);
	if (x->plant)
		snprintf(r.entity_type, sizeof r.entity_type, "plant");
	r.created_at = x->created_at;
	r.attempts = x->attempts;
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
	delivery_run(x);
}

/* Something failed with an unknown or passing outcome: same step again later. */
static void x_retry_later(struct xfer *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
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
	struct timeval tv = timer_tv(delay);
	x->busy = true;
	x->waiting = true;
	x->retry_at = now_mono() + delay;
	evtimer_add(x->timer, &tv);
}

/* A refusal is final only in simd's own words about this transfer: a code its
 * remote-transfer answers after it looked in its inbox (where an earlier attempt whose
 * answer was lost would be found, and answered 200 again), or about the body, which is
 * the same at every attempt. Any other answer, a JSON 4xx included, leaves the outcome
 * unknown: a 401 after the destination's token changed, the 404 of another daemon of
 * ours now at that address, anything said before simd's handler ran. An abort on one of
 * them put back a fish the destination held (an attacker's audit, 7 December). */
static bool is_final_refusal(long status, const char *code)
{
	static const char *const final[] = {"unknown_tank",	 "transfers_disabled",
					    "tank_full",	 "no_root_spot",
					    "invalid_entity",	 "invalid_body",
					    "transfer_conflict", "unknown_server"};
	if (status != 400 && status != 403 && status != 404 && status != 409)
		return false;
	for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
		if (strcmp(code, final[i]) == 0)
			return true;
	return false;
}

static void x_done(struct xfer *x, bool committed)
{
	struct migrated *md = x->d->md;
	if (committed) {
		md->m.commits++;
		metrics_observe_latency(md, now_mono() - x->started_mono);
		delivery_record(x, TS_COMMITTED, x->note[0] ? x->note : NULL);
		log_debug("transfer %s: %s %s committed to %s/%s after %d attempt(s)",
			  x->transfer_id, x->plant ? "plant" : "fish", x->fish_id,
			  x->destination_server_id, x->destination_tank_id, x->attempts);
	} else {
		md->m.aborts++;
		delivery_record(x, TS_ABORTED, x->refusal[0] ? x->refusal : "aborted");
		log_info("transfer %s: %s %s returned to tank %s: %s", x->transfer_id,
			 x->plant ? "plant" : "fish", x->fish_id, x->source_tank_id, x->refusal);
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
		/* Resolved meanwhile, and durably (simd says so only then): never sent again,
		 * so the destination may forget it, if it holds it at all. */
		log_debug("transfer %s: no longer in the outbox (resolved meanwhile)",
			  x->transfer_id);
		forget_resolved_transfer(x->d->md, x->destination_server_id, x->transfer_id);
		x_remove(x);
		return;
	}
	if (r->status != 200)
		return x_retry_later(x, "simd: %s", r->status ? "unexpected answer" : r->error);
	json_object *o = request_answer(r, "outbox record"), *entity;
	struct json_err e;
	if (!o || jv_object(o, "entity_data", true, &entity, &e) < 0) {
		json_object_put(o);
		return x_retry_later(x, "simd sent an outbox record without entity_data");
	}
	json_object_put(x->entity);
	x->entity = json_object_get(entity);
	json_object_put(o);
	x->step = XS_ATTEMPT;
	delivery_run(x);
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
		return x_retry_later(x, "simd attempt: %s",
				     r->status ? "unexpected answer" : r->error);
	json_object *o = request_answer(r, "attempt");
	struct json_err e;
	int attempts;
	if (o && jv_int(o, "attempts", false, 0, 1 << 30, &attempts, &e) > 0)
		x->attempts = attempts;
	else
		x->attempts++;
	json_object_put(o);
	x->d->md->m.attempts++;
	x->step = XS_LOOKUP;
	delivery_run(x);
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
		delivery_run(x);
		return;
	}
	if (st == PEER_MISSING) {
		md->m.unknown_destination++;
		delivery_record(x, TS_PENDING, "destination server unknown to discoveryd; retrying");
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
		 * proxy, another service on that port) would otherwise lose the fish. simd
		 * always names the transfer it accepted, so an answer that names none is
		 * not one (migrated never delivers to the original program: docs/legacy.md). */
		json_object *o = request_answer(r, "remote-transfer answer");
		const char *tid = NULL;
		bool success = false;
		struct json_err e;
		bool good = o && jv_bool(o, "success", true, &success, &e) > 0 && success &&
			    jv_string(o, "transfer_id", true, 1, TRANSFER_ID_MAX, &tid, &e) > 0 &&
			    strcmp(tid, x->transfer_id) == 0;
		/* And of this very fish: simd names the entity it holds under the transfer
		 * id, and one that names another is not holding ours. */
		json_object *ent;
		const char *old_id = NULL;
		if (good && json_object_object_get_ex(o, "entity", &ent) &&
		    jv_string(ent, "old_id", true, 1, 64, &old_id, &e) > 0 &&
		    strcmp(old_id, x->fish_id) != 0)
			good = false;
		json_object_put(o);
		if (good) {
			x->failures = 0;
			refusals_success(x->d->md, x->connection_id);
			x->step = XS_COMMIT;
			delivery_run(x);
			return;
		}
		delivery_record(x, TS_PENDING,
				"the destination answered 200 without accepting this "
				"transfer; will retry");
		return x_retry_later(x, "200 without {\"success\":true} for this transfer");
	}
	char dcode[64];
	request_error_code(r, dcode, sizeof dcode);
	if (r->status == 409 && strcmp(dcode, "duplicate_fish") == 0) {
		/* The destination already holds this very fish (same id for life), under a
		 * transfer id it no longer remembers: our earlier attempt arrived and its
		 * answer was lost. Aborting would put a second copy back in the source;
		 * committing leaves exactly one. */
		log_warn("transfer %s: %s already holds fish %s: committing instead of aborting "
			 "(an abort would copy it)",
			 x->transfer_id, x->destination_server_id, x->fish_id);
		snprintf(x->note, sizeof x->note,
			 "destination already held the fish "
			 "(409 duplicate_fish): committed, not aborted");
		x->failures = 0;
		x->step = XS_COMMIT;
		delivery_run(x);
		return;
	}
	/* A 404 page of another service now at that address is not a refusal either: an
	 * abort on it would copy a fish an earlier attempt delivered. */
	if (is_final_refusal(r->status, dcode)) {
		char code[64];
		request_refusal(r, "destination refused", code, sizeof code, x->refusal,
				sizeof x->refusal);
		/* Pause the connection (its wall closes) before the fish is returned; no
		 * root spot for a plant says nothing about fish, which still go. */
		if (strcmp(code, "no_root_spot") != 0)
			refusals_note(x->d->md, x->connection_id, x->destination_tank_id, r->status,
				      code, x->refusal);
		x->failures = 0;
		x->step = XS_ABORT;
		delivery_run(x);
		return;
	}
	char err[200];
	if (r->status)
		snprintf(err, sizeof err,
			 "destination answered %ld%s%s: outcome unknown, will retry", r->status,
			 dcode[0] ? " " : "", dcode);
	else
		snprintf(err, sizeof err,
			 "no answer from the destination (%s): outcome unknown, "
			 "will retry",
			 r->error);
	delivery_record(x, TS_PENDING, err);
	x_retry_later(x, "%s", err);
}

static void on_commit(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	/* 404: the record is already gone (a commit whose answer we lost). */
	if (r->status == 200 || r->status == 404) {
		forget_at_destination(x->d->md, x->destination_server_id, x->transfer_id);
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

/* original.c found the destination to be the original's: the fish goes home, and the
 * connection pauses as for any refusal. */
static void refuse_original(struct xfer *x)
{
	snprintf(x->refusal, sizeof x->refusal,
		 "destination server %s answers like the original "
		 "(its /api/servers/local has no discovery_port or migration_port): it cannot read "
		 "our fish, so none is sent there",
		 x->destination_server_id);
	refusals_note(x->d->md, x->connection_id, x->destination_tank_id, 0, "original_server",
		      x->refusal);
	x->failures = 0;
	x->step = XS_ABORT;
	delivery_run(x);
}

static void deliver(struct xfer *x)
{
	struct migrated *md = x->d->md;
	const struct conf *c = &md->daemon->conf;
	if (strcmp(x->destination_server_id, c->server.server_id) != 0) {
		char url[512];
		if (!peers_url(md, x->destination_server_id, "", url, sizeof url))
			return x_retry_later(x, "no address for server %s",
					     x->destination_server_id);
		switch (original_known(x->d, x->destination_server_id)) {
		case ORIGINAL_ASK:
			return original_ask(x, url);
		case ORIGINAL_YES:
			return refuse_original(x);
		case ORIGINAL_NO:
			break;
		}
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "transfer_id", json_object_new_string(x->transfer_id));
	json_object_object_add(body, "destination_tank_id",
			       json_object_new_string(x->destination_tank_id));
	/* Whom it is for: a server at the destination's old address answers 421 (an
	 * unknown outcome, retried) instead of a refusal that would abort it. */
	json_object_object_add(body, "destination_server_id",
			       json_object_new_string(x->destination_server_id));
	json_object_object_add(body, "source_server_id",
			       json_object_new_string(c->server.server_id));
	json_object_object_add(body, "source_tank_id", json_object_new_string(x->source_tank_id));
	if (x->arrival_wall[0]) /* boundary migration: enter through the opposite wall */
		json_object_object_add(body, "arrival_wall",
				       json_object_new_string(x->arrival_wall));
	json_object_object_add(body, "entity_data", json_object_get(x->entity));
	x->busy = true;
	int r = peers_request(md, x->destination_server_id, "POST", "/api/remote-transfer", body,
			      on_deliver, x);
	if (r == -EHOSTUNREACH) {
		x->busy = false;
		return x_retry_later(x, "no address for server %s", x->destination_server_id);
	}
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
	int r = request_sim(x->d->md, what[0] ? "POST" : "GET", path, NULL, cb, x);
	if (r < 0) {
		x->busy = false;
		x_start_request(x, r);
	}
}

void delivery_run(struct xfer *x)
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
		return peers_lookup(x->d->md, x->destination_server_id, false, on_lookup, x);
	case XS_DELIVER:
		return deliver(x);
	case XS_COMMIT:
		return outbox_call(x, "commit", on_commit);
	case XS_ABORT:
		return outbox_call(x, "abort", on_abort);
	}
}

/* ---- lifetime and introspection ---- */

struct delivery *delivery_new(struct migrated *md)
{
	struct delivery *d = xcalloc(1, sizeof *d);
	d->md = md;
	d->nbuckets = 1024;
	d->buckets = xcalloc(d->nbuckets, sizeof *d->buckets);
	return d;
}

struct delivery *delivery_free(struct delivery *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct xfer *x = d->buckets[i], *nx; x; x = nx) {
			nx = x->next;
			delivery_xfer_free(x);
		}
	free(d->buckets);
	original_free(d);
	free(d);
	return NULL;
}

/* failures counts from the last time the destination accepted or refused, so a retry
 * that is announcing itself to simd again (XS_ATTEMPT, between two failed deliveries) is
 * still failing: left out, the wall of a dead server's connection reopened for a tick
 * at every retry. */
void delivery_failing_servers(const struct delivery *d, struct strset *out)
{
	for (size_t b = 0; b < d->nbuckets; b++)
		for (const struct xfer *x = d->buckets[b]; x; x = x->next)
			if (x->failures > 0 && (x->step == XS_ATTEMPT || x->step == XS_LOOKUP ||
						x->step == XS_DELIVER))
				strset_add(out, x->destination_server_id);
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
			json_object_object_add(o, "transfer_id",
					       json_object_new_string(x->transfer_id));
			json_object_object_add(o, "fish_id", json_object_new_string(x->fish_id));
			json_object_object_add(o, "source_tank_id",
					       json_object_new_string(x->source_tank_id));
			json_object_object_add(o, "destination_server_id",
					       json_object_new_string(x->destination_server_id));
			json_object_object_add(o, "destination_tank_id",
					       json_object_new_string(x->destination_tank_id));
			json_object_object_add(o, "step",
					       json_object_new_string(step_name(x->step)));
			json_object_object_add(o, "attempts", json_object_new_int(x->attempts));
			json_object_object_add(o, "failures", json_object_new_int(x->failures));
			json_object_object_add(o, "retry_in_seconds",
					       x->waiting ? jv_new_seconds(x->retry_at - now)
							  : NULL);
			json_object_object_add(o, "last_error",
					       x->last_error[0]
						       ? json_object_new_string(x->last_error)
						       : NULL);
			json_object_array_add(list, o);
		}
	return list;
}
