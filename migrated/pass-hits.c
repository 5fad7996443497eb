/* Phase 3 of a pass: one migration per hit. A hit to this server is a local move (one
 * atomic step in simd, recorded in the history here); a hit to another server is a
 * reservation in simd's outbox, handed to delivery.c. The pass is done when every one
 * has been answered; deliveries go on without it.
 *
 * Per-fish cooldown: no fish moves twice in one pass. When a hit's source tank also
 * receives a fish by a local move in the same pass (sched_plan marks it), the pass
 * first takes that tank's state (pass-roll.c) and names the fish to send (fish_id), chosen
 * among the fish present before any move of the pass. Everywhere else simd picks a
 * random fish; as a safety net a reservation that returns a fish already moved in this
 * pass is aborted at once. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "util.h"
#include "xalloc.h"

static void record_local(struct op *op, const char *transfer_id, const char *fish_id,
			 enum transfer_state st, const char *error)
{
	struct transfer_record r;
	const struct transfer_route route = {
		op->c.source_server_id,
		op->c.source_tank_id,
		op->c.destination_server_id,
		op->c.destination_tank_id,
		op->c.id,
	};
	transfer_record_init(&r, transfer_id, fish_id, &route, st, error);
	if (op->plant)
		snprintf(r.entity_type, sizeof r.entity_type, "plant");
	r.local = true;
	history_record(op->p->md->history, &r);
}

static void on_move(const struct fetch_response *r, void *arg)
{
	struct op *op = arg;
	struct pass *p = op->p;
	struct migrated *md = p->md;
	if (r->status == 200) {
		json_object *o = request_answer(r, "move");
		const char *tid = NULL, *fish = NULL;
		struct json_err e;
		if (o) {
			jv_string(o, "transfer_id", false, 1, TRANSFER_ID_MAX, &tid, &e);
			jv_string(o, "fish_id", false, 1, TANK_ID_MAX, &fish, &e);
		}
		if (fish)
			strset_add(&p->moved, fish);
		record_local(op, tid, fish, TS_COMMITTED, NULL);
		refusals_success(md, op->c.id);
		if (tid)
			json_object_array_add(p->transfer_ids, json_object_new_string(tid));
		md->m.local_moves++;
		md->m.commits++;
		p->moved_local++;
		json_object_put(o);
	} else if (r->status == 404) {
		p->errors++;
		cascade_verify_tank(md, op->c.source_tank_id);
		cascade_verify_tank(md, op->c.destination_tank_id);
	} else if (r->status == 403 || r->status == 409) {
		char code[64], text[300];
		request_error_code(r, code, sizeof code);
		if (strcmp(code, "no_fish") == 0) {
			p->no_fish++;
		} else {
			request_refusal(r, NULL, code, sizeof code, text, sizeof text);
			record_local(op, NULL, op->fish_id, TS_ABORTED, text);
			/* No root spot says nothing about the connection: fish still go. */
			if (strcmp(code, "no_root_spot") != 0)
				refusals_note(md, op->c.id, op->c.destination_tank_id, r->status,
					      code, text);
			md->m.local_move_refusals++;
			md->m.aborts++;
			p->refused++;
		}
	} else {
		/* A move is one atomic step in simd: whatever happened, nothing is lost. */
		p->errors++;
		md->m.sim_errors++;
		if (r->status)
			log_warn("local move %s -> %s: simd answered %ld: %.200s",
				 op->c.source_tank_id, op->c.destination_tank_id, r->status,
				 r->body);
		else
			log_warn("local move %s -> %s: %s", op->c.source_tank_id,
				 op->c.destination_tank_id, r->error);
	}
	pass_op_done(p);
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
	char *tid = xstrdup(transfer_id);
	if (request_sim(md, "POST", path, NULL, on_abort_unwanted, tid) < 0)
		free(tid);
}

static void on_reserve(const struct fetch_response *r, void *arg)
{
	struct op *op = arg;
	struct pass *p = op->p;
	struct migrated *md = p->md;
	if (r->status == 200) {
		json_object *o = request_answer(r, "reservation");
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
		cascade_verify_tank(md, op->c.source_tank_id);
	} else if (r->status == 403 || r->status == 409) {
		char code[64];
		request_error_code(r, code, sizeof code);
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
			log_warn("reserve in tank %s: simd answered %ld: %.200s",
				 op->c.source_tank_id, r->status, r->body);
		else
			log_warn("reserve in tank %s: %s", op->c.source_tank_id, r->error);
		delivery_resume_outbox(md);
	}
	pass_op_done(p);
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
	if (op->plant)
		json_object_object_add(body, "kind", json_object_new_string("plant"));
	char path[TANK_ID_MAX + 64];
	int r;
	p->outstanding++;
	if (local) {
		snprintf(path, sizeof path, "/api/tanks/%s/move", op->c.source_tank_id);
		r = request_sim(md, "POST", path, body, on_move, op);
	} else {
		json_object_object_add(body, "source_tank_id",
				       json_object_new_string(op->c.source_tank_id));
		json_object_object_add(body, "destination_server_id",
				       json_object_new_string(op->c.destination_server_id));
		r = request_sim(md, "POST", "/api/outbox/reserve", body, on_reserve, op);
	}
	if (r < 0) {
		p->errors++;
		p->outstanding--;
	}
}

void pass_start_hits(struct pass *p)
{
	struct migrated *md = p->md;
	p->phase = 3;
	struct strset chosen = {0}, failing = {0};
	delivery_failing_servers(md->delivery, &failing);
	p->outstanding = 1; /* held until every op has started */
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		const char *self = md->daemon->conf.server.server_id;
		if (strcmp(op->c.destination_server_id, self) != 0) {
			enum peer_state st = peers_state(md, op->c.destination_server_id);
			/* Do not pull fish out of the simulation for a server nobody knows,
			 * one discoveryd says is offline, or one a delivery is failing to
			 * reach: they would wait in the outbox, out of their tank, until it
			 * answers (a dead peer emptied the tank so). Transfers already in
			 * flight keep retrying, and the first that arrives opens the way. */
			if (peers_cannot_take(st, &failing, op->c.destination_server_id)) {
				p->unavailable++;
				continue;
			}
		}
		if (op->conflict) {
			struct tank_state_req *s = pass_tank_state(p, op->c.source_tank_id);
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
					snprintf(op->fish_id, sizeof op->fish_id, "%s",
						 s->fish.v[k]);
					strset_add(&chosen, s->fish.v[k]);
					break;
				}
			}
		}
		start_op(op);
	}
	strset_clear(&chosen);
	strset_clear(&failing);
	pass_op_done(p);
}
