/* Scheduler passes (DESIGN §5): every check_interval, list simd's tanks, keep the
 * connections and simd's exits in step with them, roll every connection and start
 * one migration per hit. A pass is "done" when its reservations (and local moves)
 * are answered; deliveries go on in delivery.c. Passes never overlap: a tick that
 * finds the previous pass still running is skipped (and counted).
 *
 * Per-fish cooldown: no fish moves twice in one pass. When a hit's source tank also
 * receives a fish by a local move in the same pass (sched_plan marks it), the pass
 * first takes that tank's state and names the fish to send (fish_id), chosen among
 * the fish present before any move of the pass. Everywhere else simd picks a random
 * fish; as a safety net a reservation that returns a fish already moved in this pass
 * is aborted at once. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"

struct tank_info {
	char id[TANK_ID_MAX + 1];
	bool paused, allow_transfers;
	int fish_count, max_fish;
};

struct op {
	struct pass *p;
	struct connection c; /* a copy: the set may change while the pass runs */
	char fish_id[TANK_ID_MAX + 1];
	bool conflict;
	bool skip;
};

struct tank_state_req {
	struct pass *p;
	char tank_id[TANK_ID_MAX + 1];
	struct strset fish; /* fish present before the pass moved any */
	bool ok;
};

struct run_waiter {
	pass_done_fn done;
	void *arg;
	struct run_waiter *next;
};

struct exits_entry {
	char tank_id[TANK_ID_MAX + 1];
	char *pushed; /* the body simd last accepted, NULL when unknown */
	bool busy, dirty;
	struct pass *p;
};

struct verify_req {
	struct pass *p;
	char tank_id[TANK_ID_MAX + 1];
	double sent;
};

struct pass {
	struct migrated *md;
	struct event *timer, *outbox_timer;
	bool running;
	int phase; /* 1: tank list, 2: lookups and states, 3: reservations */
	int outstanding;
	uint64_t seq;
	double started_mono, started_wall, listing_sent;
	struct tank_info *tanks;
	size_t ntanks;
	struct op *ops;
	size_t nops;
	struct tank_state_req *states;
	size_t nstates;
	struct strset moved;
	struct sched_counts counts;
	size_t reserved, moved_local, refused, errors, cooldown, unavailable, no_fish;
	json_object *transfer_ids;
	char error[256];
	struct run_waiter *current, *next;
	struct exits_entry *exits;
	size_t nexits, capexits;
	struct strset verifying;
	json_object *last_summary;
	bool sim_down;
	bool roll; /* false: only sync tanks, exits and connections (at start) */
	double skip_logged;
	uint64_t skipped_unlogged;
	double exits_refreshed; /* monotonic time the exits cache was last dropped */
};

static void pass_begin(struct pass *p, bool roll);

static struct timeval tv_of(double s)
{
	return (struct timeval){(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

/* ---- exits ---- */

static struct exits_entry *exits_get(struct pass *p, const char *tank_id, bool create)
{
	for (size_t i = 0; i < p->nexits; i++)
		if (strcmp(p->exits[i].tank_id, tank_id) == 0)
			return &p->exits[i];
	if (!create)
		return NULL;
	if (p->nexits == p->capexits) {
		/* Entries are addressed by index in callbacks, so growing is safe. */
		p->capexits = p->capexits ? p->capexits * 2 : 16;
		p->exits = realloc(p->exits, p->capexits * sizeof *p->exits);
		if (!p->exits)
			abort();
	}
	struct exits_entry *e = &p->exits[p->nexits++];
	memset(e, 0, sizeof *e);
	e->p = p;
	snprintf(e->tank_id, sizeof e->tank_id, "%s", tank_id);
	return e;
}

struct exits_ctx {
	struct pass *p;
	char tank_id[TANK_ID_MAX + 1];
	char *sent;
};

static void sync_exits_entry(struct pass *p, struct exits_entry *e);

static void on_exits(const struct fetch_response *r, void *arg)
{
	struct exits_ctx *ctx = arg;
	struct pass *p = ctx->p;
	struct migrated *md = p->md;
	struct exits_entry *e = exits_get(p, ctx->tank_id, false);
	if (!e) { /* the tank was forgotten meanwhile */
		free(ctx->sent);
		free(ctx);
		return;
	}
	e->busy = false;
	free(e->pushed);
	e->pushed = NULL;
	if (r->status == 200) {
		e->pushed = ctx->sent;
		ctx->sent = NULL;
		md->m.exits_pushes++;
	} else {
		md->m.exits_errors++;
		if (r->status == 404)
			pass_verify_tank(md, ctx->tank_id);
		else
			log_debug("setting the exits of tank %s failed: %s", ctx->tank_id,
				  r->status ? "unexpected answer" : r->error);
	}
	free(ctx->sent);
	free(ctx);
	if (e->dirty && !md->stopping) {
		e->dirty = false;
		sync_exits_entry(p, e);
	}
}

static void sync_exits_entry(struct pass *p, struct exits_entry *e)
{
	struct migrated *md = p->md;
	if (e->busy) {
		e->dirty = true;
		return;
	}
	json_object *body = connections_exits_json(md->conns, e->tank_id);
	char *text = strdup(jv_to_string(body));
	if (!text)
		abort();
	if (e->pushed && strcmp(e->pushed, text) == 0) {
		free(text);
		json_object_put(body);
		return;
	}
	struct exits_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		abort();
	ctx->p = p;
	ctx->sent = text;
	snprintf(ctx->tank_id, sizeof ctx->tank_id, "%s", e->tank_id);
	char path[TANK_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/tanks/%s/exits", e->tank_id);
	e->busy = true;
	if (migrated_sim(md, "PUT", path, body, on_exits, ctx) < 0) {
		e->busy = false;
		free(ctx->sent);
		free(ctx);
	}
}

void pass_sync_exits(struct migrated *md, const char *tank_id)
{
	sync_exits_entry(md->pass, exits_get(md->pass, tank_id, true));
}

static void exits_forget(struct pass *p, const char *tank_id)
{
	for (size_t i = 0; i < p->nexits; i++)
		if (strcmp(p->exits[i].tank_id, tank_id) == 0) {
			free(p->exits[i].pushed);
			p->exits[i] = p->exits[--p->nexits];
			return;
		}
}

/* ---- cascade ---- */

static void on_removed(const struct connection *c, void *arg)
{
	struct pass *p = arg;
	log_notice("connection %s (%s -> %s:%s) removed: its tank is gone", c->id,
		   c->source_tank_id, c->destination_server_id, c->destination_tank_id);
	p->md->m.cascades++;
}

static void on_verify(const struct fetch_response *r, void *arg)
{
	struct verify_req *v = arg;
	struct pass *p = v->p;
	struct migrated *md = p->md;
	for (size_t i = 0; i < p->verifying.n; i++)
		if (strcmp(p->verifying.v[i], v->tank_id) == 0) {
			free(p->verifying.v[i]);
			p->verifying.v[i] = p->verifying.v[--p->verifying.n];
			break;
		}
	if (r->status == 404) {
		/* Sources of the removed connections (other than the gone tank) need their
		 * walls closed: collect them before removing. */
		struct strset sources = {0};
		for (size_t i = 0; i < connections_count(md->conns); i++) {
			const struct connection *c = connections_at(md->conns, i);
			if (strcmp(c->destination_tank_id, v->tank_id) == 0 &&
			    strcmp(c->source_tank_id, v->tank_id) != 0)
				strset_add(&sources, c->source_tank_id);
		}
		size_t n = connections_remove_tank(md->conns, v->tank_id, v->sent, on_removed, p);
		if (n) {
			log_notice("tank %s no longer exists: %zu connection(s) removed", v->tank_id, n);
			migrated_save_connections(md);
			for (size_t i = 0; i < sources.n; i++)
				pass_sync_exits(md, sources.v[i]);
		}
		exits_forget(p, v->tank_id);
		strset_clear(&sources);
	}
	free(v);
}

void pass_verify_tank(struct migrated *md, const char *tank_id)
{
	struct pass *p = md->pass;
	if (md->stopping || strset_has(&p->verifying, tank_id))
		return;
	strset_add(&p->verifying, tank_id);
	struct verify_req *v = calloc(1, sizeof *v);
	if (!v)
		abort();
	v->p = p;
	v->sent = now_mono();
	snprintf(v->tank_id, sizeof v->tank_id, "%s", tank_id);
	char path[TANK_ID_MAX + 32];
	snprintf(path, sizeof path, "/api/tanks/%s", tank_id);
	if (migrated_sim(md, "GET", path, NULL, on_verify, v) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_verify(&fail, v);
	}
}

/* ---- the pass ---- */

static const struct tank_info *tank_find(const struct pass *p, const char *id)
{
	for (size_t i = 0; i < p->ntanks; i++)
		if (strcmp(p->tanks[i].id, id) == 0)
			return &p->tanks[i];
	return NULL;
}

static json_object *summary_json(struct pass *p)
{
	json_object *o = json_object_new_object();
	char ts[32];
	iso8601_utc(p->started_wall, ts);
	json_object_object_add(o, "pass", json_object_new_int64((int64_t)p->seq));
	json_object_object_add(o, "started_at", json_object_new_string(ts));
	json_object_object_add(o, "duration_ms",
			       json_object_new_double((now_mono() - p->started_mono) * 1000));
	json_object_object_add(o, "tanks", json_object_new_int((int)p->ntanks));
	json_object_object_add(o, "connections", json_object_new_int((int)p->counts.connections));
	json_object_object_add(o, "hits", json_object_new_int((int)p->counts.hits));
	json_object_object_add(o, "misses", json_object_new_int((int)p->counts.misses));
	json_object_object_add(o, "reserved", json_object_new_int((int)p->reserved));
	json_object_object_add(o, "moved_local", json_object_new_int((int)p->moved_local));
	json_object_object_add(o, "refused", json_object_new_int((int)p->refused));
	json_object *sk = json_object_new_object();
	json_object_object_add(sk, "rate_limited", json_object_new_int((int)p->counts.rate_limited));
	json_object_object_add(sk, "no_source_tank", json_object_new_int((int)p->counts.no_source));
	json_object_object_add(sk, "transfers_disabled", json_object_new_int((int)p->counts.disabled));
	json_object_object_add(sk, "empty", json_object_new_int((int)(p->counts.empty + p->no_fish)));
	json_object_object_add(sk, "destination_unavailable",
			       json_object_new_int((int)p->unavailable));
	json_object_object_add(sk, "cooldown", json_object_new_int((int)p->cooldown));
	json_object_object_add(o, "skipped", sk);
	json_object_object_add(o, "errors", json_object_new_int((int)p->errors));
	json_object_object_add(o, "transfer_ids", json_object_get(p->transfer_ids));
	json_object_object_add(o, "error", p->error[0] ? json_object_new_string(p->error) : NULL);
	return o;
}

static void pass_finish(struct pass *p)
{
	struct migrated *md = p->md;
	json_object *summary = summary_json(p);
	if (p->roll && (p->reserved || p->moved_local || p->errors))
		log_info("pass %" PRIu64 ": %zu connection(s), %zu hit(s), %zu reserved, %zu moved "
			 "locally, %zu refused, %zu rate-limited, %zu error(s)", p->seq,
			 p->counts.connections, p->counts.hits, p->reserved, p->moved_local,
			 p->refused, p->counts.rate_limited, p->errors);
	if (p->roll) {
		json_object_put(p->last_summary);
		p->last_summary = json_object_get(summary);
	}
	struct run_waiter *w = p->current;
	p->current = NULL;
	while (w) {
		struct run_waiter *n = w->next;
		w->done(json_object_get(summary), w->arg);
		free(w);
		w = n;
	}
	json_object_put(summary);
	for (size_t i = 0; i < p->nstates; i++)
		strset_clear(&p->states[i].fish);
	free(p->states);
	p->states = NULL;
	p->nstates = 0;
	free(p->ops);
	p->ops = NULL;
	p->nops = 0;
	strset_clear(&p->moved);
	json_object_put(p->transfer_ids);
	p->transfer_ids = NULL;
	p->running = false;
	daemon_status("%zu connection(s), %zu transfer(s) in flight, pass %" PRIu64,
		      connections_count(md->conns), delivery_in_flight(md->delivery), p->seq);
	if (p->next && !md->stopping) {
		p->current = p->next;
		p->next = NULL;
		pass_begin(p, true);
	}
}

static void op_done(struct pass *p)
{
	if (--p->outstanding == 0)
		pass_finish(p);
}

static void record_local(struct op *op, const char *transfer_id, const char *fish_id,
			 enum transfer_state st, const char *error)
{
	struct migrated *md = op->p->md;
	struct transfer_record r = {
		.timestamp = now_wall(),
		.created_at = now_wall(),
		.state = st,
		.attempts = 1,
		.local = true,
	};
	if (transfer_id && *transfer_id)
		snprintf(r.transfer_id, sizeof r.transfer_id, "%s", transfer_id);
	else
		uuid_random_str(r.transfer_id);
	snprintf(r.entity_type, sizeof r.entity_type, "fish");
	snprintf(r.fish_id, sizeof r.fish_id, "%s", fish_id ? fish_id : "");
	snprintf(r.source_server_id, sizeof r.source_server_id, "%s", op->c.source_server_id);
	snprintf(r.source_tank_id, sizeof r.source_tank_id, "%s", op->c.source_tank_id);
	snprintf(r.destination_server_id, sizeof r.destination_server_id, "%s",
		 op->c.destination_server_id);
	snprintf(r.destination_tank_id, sizeof r.destination_tank_id, "%s",
		 op->c.destination_tank_id);
	snprintf(r.connection_id, sizeof r.connection_id, "%s", op->c.id);
	snprintf(r.error, sizeof r.error, "%s", error ? error : "");
	history_record(md->history, &r);
}

static void refusal_text(const struct fetch_response *r, char *buf, size_t len)
{
	char code[64];
	json_object *o = migrated_parse_answer(r, "refusal");
	const char *msg = NULL;
	struct json_err e;
	if (o)
		jv_string(o, "error", false, 0, 200, &msg, &e);
	snprintf(buf, len, "%ld %s%s%s", r->status, migrated_error_code(r, code, sizeof code),
		 msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
}

static void on_move(const struct fetch_response *r, void *arg)
{
	struct op *op = arg;
	struct pass *p = op->p;
	struct migrated *md = p->md;
	if (r->status == 200) {
		json_object *o = migrated_parse_answer(r, "move");
		const char *tid = NULL, *fish = NULL;
		struct json_err e;
		if (o) {
			jv_string(o, "transfer_id", false, 1, TRANSFER_ID_MAX, &tid, &e);
			jv_string(o, "fish_id", false, 1, TANK_ID_MAX, &fish, &e);
		}
		if (fish)
			strset_add(&p->moved, fish);
		record_local(op, tid, fish, TS_COMMITTED, NULL);
		if (tid)
			json_object_array_add(p->transfer_ids, json_object_new_string(tid));
		md->m.local_moves++;
		md->m.commits++;
		p->moved_local++;
		json_object_put(o);
	} else if (r->status == 404) {
		p->errors++;
		pass_verify_tank(md, op->c.source_tank_id);
		pass_verify_tank(md, op->c.destination_tank_id);
	} else if (r->status == 403 || r->status == 409) {
		char code[64], text[300];
		migrated_error_code(r, code, sizeof code);
		if (strcmp(code, "no_fish") == 0) {
			p->no_fish++;
		} else {
			refusal_text(r, text, sizeof text);
			record_local(op, NULL, op->fish_id, TS_ABORTED, text);
			md->m.local_move_refusals++;
			md->m.aborts++;
			p->refused++;
		}
	} else {
		/* A move is one atomic step in simd: whatever happened, nothing is lost. */
		p->errors++;
		md->m.sim_errors++;
		if (r->status)
			log_warn("local move %s -> %s: simd answered %ld: %.200s", op->c.source_tank_id,
				 op->c.destination_tank_id, r->status, r->body);
		else
			log_warn("local move %s -> %s: %s", op->c.source_tank_id,
				 op->c.destination_tank_id, r->error);
	}
	op_done(p);
}

static void abort_unwanted(struct migrated *md, const char *transfer_id);

static void on_reserve(const struct fetch_response *r, void *arg)
{
	struct op *op = arg;
	struct pass *p = op->p;
	struct migrated *md = p->md;
	if (r->status == 200) {
		json_object *o = migrated_parse_answer(r, "reservation");
		const char *tid = NULL, *fish = NULL;
		struct json_err e;
		if (!o || jv_string(o, "transfer_id", true, 1, TRANSFER_ID_MAX, &tid, &e) < 0 ||
		    jv_string(o, "fish_id", true, 1, TANK_ID_MAX, &fish, &e) < 0) {
			/* The outbox listing will find the record and deliver it. */
			log_warn("simd's reservation answer does not parse; the outbox listing will "
				 "pick the transfer up");
			p->errors++;
			delivery_resume_outbox(md);
		} else if (strset_has(&p->moved, fish)) {
			p->cooldown++;
			md->m.cooldown_aborts++;
			abort_unwanted(md, tid);
		} else {
			strset_add(&p->moved, fish);
			md->m.reserves++;
			p->reserved++;
			json_object_array_add(p->transfer_ids, json_object_new_string(tid));
			delivery_start(md, o);
		}
		json_object_put(o);
	} else if (r->status == 404) {
		p->errors++;
		pass_verify_tank(md, op->c.source_tank_id);
	} else if (r->status == 403 || r->status == 409) {
		char code[64];
		migrated_error_code(r, code, sizeof code);
		if (strcmp(code, "no_fish") == 0)
			p->no_fish++;
		else
			p->refused++;
		md->m.reserve_refusals++;
	} else {
		/* Unknown outcome: if simd did reserve, the record is in its outbox and the
		 * listing resumes it. */
		p->errors++;
		md->m.sim_errors++;
		if (r->status)
			log_warn("reserve in tank %s: simd answered %ld: %.200s", op->c.source_tank_id,
				 r->status, r->body);
		else
			log_warn("reserve in tank %s: %s", op->c.source_tank_id, r->error);
		delivery_resume_outbox(md);
	}
	op_done(p);
}

static void on_abort_unwanted(const struct fetch_response *r, void *arg)
{
	char *tid = arg;
	if (r->status != 200 && r->status != 404)
		log_debug("abort of %s failed; the outbox listing resumes it", tid);
	free(tid);
}

static void abort_unwanted(struct migrated *md, const char *transfer_id)
{
	char path[TRANSFER_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/outbox/%s/abort", transfer_id);
	char *tid = strdup(transfer_id);
	if (!tid)
		abort();
	if (migrated_sim(md, "POST", path, NULL, on_abort_unwanted, tid) < 0)
		free(tid);
}

static void start_op(struct op *op)
{
	struct pass *p = op->p;
	struct migrated *md = p->md;
	const char *self = md->daemon->conf.server.server_id;
	bool local = strcmp(op->c.destination_server_id, self) == 0;
	json_object *body = json_object_new_object();
	json_object_object_add(body, "destination_tank_id",
			       json_object_new_string(op->c.destination_tank_id));
	json_object_object_add(body, "connection_id", json_object_new_string(op->c.id));
	if (op->fish_id[0])
		json_object_object_add(body, "fish_id", json_object_new_string(op->fish_id));
	char path[TANK_ID_MAX + 64];
	int r;
	p->outstanding++;
	if (local) {
		snprintf(path, sizeof path, "/api/tanks/%s/move", op->c.source_tank_id);
		r = migrated_sim(md, "POST", path, body, on_move, op);
	} else {
		json_object_object_add(body, "source_tank_id",
				       json_object_new_string(op->c.source_tank_id));
		json_object_object_add(body, "destination_server_id",
				       json_object_new_string(op->c.destination_server_id));
		r = migrated_sim(md, "POST", "/api/outbox/reserve", body, on_reserve, op);
	}
	if (r < 0) {
		p->errors++;
		p->outstanding--;
	}
}

static struct tank_state_req *state_of(struct pass *p, const char *tank_id)
{
	for (size_t i = 0; i < p->nstates; i++)
		if (strcmp(p->states[i].tank_id, tank_id) == 0)
			return &p->states[i];
	return NULL;
}

/* Phase 3: everything needed is known; start the reservations and moves. */
static void phase_reserve(struct pass *p)
{
	struct migrated *md = p->md;
	p->phase = 3;
	struct strset chosen = {0};
	p->outstanding = 1; /* held until every op has started */
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		const char *self = md->daemon->conf.server.server_id;
		if (strcmp(op->c.destination_server_id, self) != 0) {
			enum peer_state st = delivery_peer_state(md, op->c.destination_server_id);
			if (st == PEER_MISSING) {
				/* Do not pull fish out of the simulation for a server nobody
				 * knows; transfers already in flight keep retrying. */
				p->unavailable++;
				continue;
			}
		}
		if (op->conflict) {
			struct tank_state_req *s = state_of(p, op->c.source_tank_id);
			if (!s || !s->ok) {
				p->errors++;
				continue;
			}
			/* A random fish among those present before the pass, not yet chosen. */
			size_t avail = 0;
			for (size_t k = 0; k < s->fish.n; k++)
				avail += !strset_has(&chosen, s->fish.v[k]);
			if (!avail) {
				p->no_fish++;
				continue;
			}
			size_t pick = rng_below(&md->rng, (uint32_t)avail);
			for (size_t k = 0; k < s->fish.n; k++) {
				if (strset_has(&chosen, s->fish.v[k]))
					continue;
				if (pick-- == 0) {
					snprintf(op->fish_id, sizeof op->fish_id, "%s", s->fish.v[k]);
					strset_add(&chosen, s->fish.v[k]);
					break;
				}
			}
		}
		start_op(op);
	}
	strset_clear(&chosen);
	op_done(p);
}

static void phase2_done(struct pass *p)
{
	if (--p->outstanding == 0)
		phase_reserve(p);
}

static void on_state(const struct fetch_response *r, void *arg)
{
	struct tank_state_req *s = arg;
	struct pass *p = s->p;
	json_object *o = r->status == 200 ? migrated_parse_answer(r, "tank state") : NULL, *list;
	struct json_err e;
	if (o && jv_array(o, "entities", true, 10000000, &list, &e) > 0) {
		size_t n = json_object_array_length(list);
		for (size_t i = 0; i < n; i++) {
			json_object *ent = json_object_array_get_idx(list, i);
			const char *kind, *id;
			if (jv_string(ent, "kind", true, 1, 32, &kind, &e) > 0 &&
			    strcmp(kind, "fish") == 0 &&
			    jv_string(ent, "id", true, 1, TANK_ID_MAX, &id, &e) > 0 &&
			    object_id_valid(id, TANK_ID_MAX))
				strset_add(&s->fish, id);
		}
		s->ok = true;
	} else if (r->status == 404) {
		pass_verify_tank(p->md, s->tank_id);
	}
	json_object_put(o);
	phase2_done(p);
}

static void on_peer_known(enum peer_state st, void *arg)
{
	phase2_done(arg);
}

static bool parse_tanks(struct pass *p, const struct fetch_response *r)
{
	json_object *o = migrated_parse_answer(r, "tank list"), *list;
	struct json_err e;
	if (!o || jv_array(o, "tanks", true, 1000000, &list, &e) < 0) {
		snprintf(p->error, sizeof p->error, "simd's tank list does not parse");
		json_object_put(o);
		return false;
	}
	size_t n = json_object_array_length(list);
	p->tanks = calloc(n ? n : 1, sizeof *p->tanks);
	if (!p->tanks)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(list, i), *tank, *stats;
		const char *id;
		struct tank_info ti = {.allow_transfers = true, .fish_count = 1};
		if (jv_object(t, "tank", true, &tank, &e) < 0 ||
		    jv_string(tank, "tank_id", true, 1, TANK_ID_MAX, &id, &e) < 0 ||
		    !object_id_valid(id, TANK_ID_MAX)) {
			log_debug("ignoring a tank simd listed: %s", e.msg);
			continue;
		}
		snprintf(ti.id, sizeof ti.id, "%s", id);
		jv_bool(tank, "allow_transfers", false, &ti.allow_transfers, &e);
		jv_int(tank, "max_fish", false, 0, 100000000, &ti.max_fish, &e);
		jv_bool(t, "paused", false, &ti.paused, &e);
		if (jv_object(t, "stats", false, &stats, &e) > 0)
			jv_int(stats, "fish_count", false, 0, 100000000, &ti.fish_count, &e);
		p->tanks[p->ntanks++] = ti;
	}
	json_object_put(o);
	return true;
}

static void on_tanks(const struct fetch_response *r, void *arg)
{
	struct pass *p = arg;
	struct migrated *md = p->md;
	if (r->status != 200 || !parse_tanks(p, r)) {
		if (r->status != 200)
			snprintf(p->error, sizeof p->error, "simd is not answering on %.80s: %s",
				 md->daemon->conf.sim.socket,
				 r->status ? "unexpected status" : r->error);
		if (!p->sim_down)
			log_warn("pass skipped: %s (logged once until it answers again)", p->error);
		p->sim_down = true;
		md->m.sim_errors++;
		p->outstanding = 1;
		op_done(p);
		return;
	}
	if (p->sim_down)
		log_notice("simd answers again");
	/* simd keeps exits across restarts, but a restart may have lost the last update:
	 * send them all again after an outage, and every 30 s anyway (one small PUT per
	 * tank), so a restart we did not notice is repaired too. */
	double now_m = now_mono();
	if (p->sim_down || now_m - p->exits_refreshed >= 30) {
		for (size_t i = 0; i < p->nexits; i++) {
			free(p->exits[i].pushed);
			p->exits[i].pushed = NULL;
		}
		p->exits_refreshed = now_m;
	}
	p->sim_down = false;

	/* Cascade: a connection whose local tank simd does not list is checked one by
	 * one (the list may omit private tanks, and may predate a new connection). */
	size_t nc = connections_count(md->conns);
	for (size_t i = 0; i < nc; i++) {
		const struct connection *c = connections_at(md->conns, i);
		if (c->validated_at > p->listing_sent)
			continue;
		if (!tank_find(p, c->source_tank_id))
			pass_verify_tank(md, c->source_tank_id);
		if (connection_is_local(c) && !tank_find(p, c->destination_tank_id))
			pass_verify_tank(md, c->destination_tank_id);
	}
	/* Exits: every listed tank's walls as the connections say. */
	for (size_t i = 0; i < p->ntanks; i++)
		pass_sync_exits(md, p->tanks[i].id);
	if (!p->roll) {
		p->outstanding = 1;
		op_done(p);
		return;
	}

	/* Roll. */
	struct connection **conns = calloc(nc ? nc : 1, sizeof *conns);
	struct sched_decision *plan = calloc(nc ? nc : 1, sizeof *plan);
	struct sched_tank *st = calloc(p->ntanks ? p->ntanks : 1, sizeof *st);
	if (!conns || !plan || !st)
		abort();
	for (size_t i = 0; i < nc; i++)
		conns[i] = connections_at(md->conns, i);
	for (size_t i = 0; i < p->ntanks; i++)
		st[i] = (struct sched_tank){p->tanks[i].id, p->tanks[i].paused,
					    p->tanks[i].allow_transfers, p->tanks[i].fish_count,
					    p->tanks[i].max_fish};
	const struct conf *c = &md->daemon->conf;
	double now = now_mono();
	tbucket_set_rate(&md->global_bucket, c->migration.max_per_second, now);
	sched_plan(conns, nc, st, p->ntanks, c->server.server_id, &md->rng, &md->global_bucket,
		   c->migration.per_connection_per_second, now, plan, &p->counts);
	md->m.rolls += nc;
	md->m.hits += p->counts.hits;
	md->m.rate_limited += p->counts.rate_limited;
	p->ops = calloc(p->counts.hits ? p->counts.hits : 1, sizeof *p->ops);
	if (!p->ops)
		abort();
	for (size_t i = 0; i < nc; i++) {
		if (plan[i].verdict != SV_HIT)
			continue;
		struct op *op = &p->ops[p->nops++];
		op->p = p;
		op->c = *plan[i].c;
		op->conflict = plan[i].conflict;
	}
	free(conns);
	free(plan);
	free(st);

	/* Phase 2: destination lookups (cached) and the states of conflict tanks. */
	p->phase = 2;
	p->outstanding = 1;
	struct strset asked = {0};
	p->states = calloc(p->nops ? p->nops : 1, sizeof *p->states);
	if (!p->states)
		abort();
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		/* Ask discoveryd afresh once per destination server and pass, so a server
		 * that went away is noticed before fish are pulled out for it. */
		if (strcmp(op->c.destination_server_id, c->server.server_id) != 0 &&
		    strset_add(&asked, op->c.destination_server_id)) {
			p->outstanding++;
			delivery_peer_lookup(md, op->c.destination_server_id, true, on_peer_known, p);
		}
		if (op->conflict && !state_of(p, op->c.source_tank_id)) {
			struct tank_state_req *s = &p->states[p->nstates++];
			s->p = p;
			snprintf(s->tank_id, sizeof s->tank_id, "%s", op->c.source_tank_id);
			char path[TANK_ID_MAX + 32];
			snprintf(path, sizeof path, "/api/tanks/%s/state", s->tank_id);
			p->outstanding++;
			if (migrated_sim(md, "GET", path, NULL, on_state, s) < 0)
				p->outstanding--;
		}
	}
	strset_clear(&asked);
	phase2_done(p);
}

static void pass_begin(struct pass *p, bool roll)
{
	struct migrated *md = p->md;
	p->running = true;
	p->roll = roll;
	p->phase = 1;
	if (roll) {
		p->seq++;
		md->m.passes++;
	}
	p->started_mono = now_mono();
	p->started_wall = now_wall();
	p->listing_sent = now_mono();
	free(p->tanks);
	p->tanks = NULL;
	p->ntanks = 0;
	memset(&p->counts, 0, sizeof p->counts);
	p->reserved = p->moved_local = p->refused = p->errors = p->cooldown = 0;
	p->unavailable = p->no_fish = 0;
	p->error[0] = '\0';
	p->transfer_ids = json_object_new_array();
	delivery_resume_outbox(md);
	if (migrated_sim(md, "GET", "/api/tanks", NULL, on_tanks, p) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_tanks(&fail, p);
	}
}

void pass_tick(struct migrated *md)
{
	struct pass *p = md->pass;
	if (md->stopping)
		return;
	if (p->running) {
		/* Logged once a minute at most: with short intervals this can be frequent. */
		md->m.passes_skipped++;
		p->skipped_unlogged++;
		double now = now_mono();
		if (now - p->skip_logged >= 60) {
			log_info("scheduler tick skipped: pass %" PRIu64 " is still running (%.1f s); "
				 "%" PRIu64 " tick(s) skipped since the last report", p->seq,
				 now - p->started_mono, p->skipped_unlogged);
			p->skip_logged = now;
			p->skipped_unlogged = 0;
		}
		return;
	}
	pass_begin(p, true);
}

void pass_sync_now(struct migrated *md)
{
	if (!md->pass->running && !md->stopping)
		pass_begin(md->pass, false);
}

void pass_run_now(struct migrated *md, pass_done_fn done, void *arg)
{
	struct pass *p = md->pass;
	struct run_waiter *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->done = done;
	w->arg = arg;
	if (p->running) { /* a fresh pass right after this one */
		w->next = p->next;
		p->next = w;
		return;
	}
	w->next = p->current;
	p->current = w;
	pass_begin(p, true);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	pass_tick(arg);
}

static void on_outbox_timer(evutil_socket_t fd, short what, void *arg)
{
	struct migrated *md = arg;
	if (!md->stopping)
		delivery_resume_outbox(md);
}

void pass_rearm(struct migrated *md)
{
	struct pass *p = md->pass;
	double s = md->daemon->conf.migration.check_interval;
	struct timeval tv = tv_of(s);
	event_del(p->timer);
	event_add(p->timer, &tv);
	/* Fish that left through a wall wait in the outbox: look there at least every 2 s. */
	double o = s < 2.0 ? s : 2.0;
	tv = tv_of(o);
	event_del(p->outbox_timer);
	event_add(p->outbox_timer, &tv);
}

struct pass *pass_new(struct migrated *md)
{
	struct pass *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->md = md;
	p->timer = event_new(md->daemon->base, -1, EV_PERSIST, on_timer, md);
	p->outbox_timer = event_new(md->daemon->base, -1, EV_PERSIST, on_outbox_timer, md);
	if (!p->timer || !p->outbox_timer)
		abort();
	return p;
}

static void free_waiters(struct run_waiter *w)
{
	while (w) {
		struct run_waiter *n = w->next;
		w->done(NULL, w->arg);
		free(w);
		w = n;
	}
}

struct pass *pass_free(struct pass *p)
{
	if (!p)
		return NULL;
	event_free(p->timer);
	event_free(p->outbox_timer);
	free_waiters(p->current);
	free_waiters(p->next);
	for (size_t i = 0; i < p->nstates; i++)
		strset_clear(&p->states[i].fish);
	free(p->states);
	free(p->ops);
	free(p->tanks);
	strset_clear(&p->moved);
	strset_clear(&p->verifying);
	json_object_put(p->transfer_ids);
	json_object_put(p->last_summary);
	for (size_t i = 0; i < p->nexits; i++)
		free(p->exits[i].pushed);
	free(p->exits);
	free(p);
	return NULL;
}

json_object *pass_status_json(struct migrated *md)
{
	struct pass *p = md->pass;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "check_interval",
			       json_object_new_double(md->daemon->conf.migration.check_interval));
	json_object_object_add(o, "running", json_object_new_boolean(p->running));
	json_object_object_add(o, "passes", json_object_new_int64((int64_t)p->seq));
	json_object_object_add(o, "last_pass", json_object_get(p->last_summary));
	return o;
}
