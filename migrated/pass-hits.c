/* Phase 3 of a pass: one migration per hit. A hit to this server is a local move (one
 * atomic step in simd, recorded in the history here); a hit to another server is a
 * reservation in simd's outbox, handed to delivery.c. The pass is done when every one
 * has been answered; deliveries go on without it.
 *
 * Per-fish cooldown: no fish moves twice in one pass. When a hit's source tank also
 * receives a fish by a local move in the same pass (sched_plan marks it "conflict"),
 * that hit and the local moves into its tank run one at a time, in the pass's order
 * (the chain), and the hit tells simd which fish not to take ("except"): those the moves
 * before it brought in. A move after it cannot bring in the fish it sends, which has
 * left. Everything else starts at once and simd picks a random fish; as a safety net a
 * reservation that returns a fish already moved in this pass is aborted at once.
 *
 * The pass used to read the conflict tank's whole state (GET /state) to name a fish that
 * had not moved: megabytes parsed on the event loop for a big tank, and above the 4 MiB
 * answer limit (about 8,000 fish) the hit always failed. */
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

static void op_answered(struct op *op);

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
		if (fish) {
			strset_add(&p->moved, fish);
			snprintf(op->moved, sizeof op->moved, "%s", fish);
		} else {
			op->unknown = true;
		}
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
			record_local(op, NULL, NULL, TS_ABORTED, text);
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
		op->unknown = true;
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
	op_answered(op);
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
	op_answered(op);
}

/* except: the fish simd must not take, or NULL (consumed). false when the request could
 * not be sent (counted as an error). */
static bool start_op(struct op *op, json_object *except)
{
	struct pass *p = op->p;
	struct migrated *md = p->md;
	const char *self = md->daemon->conf.server.server_id;
	bool local = strcmp(op->c.destination_server_id, self) == 0;
	json_object *body = json_object_new_object();
	json_object_object_add(body, "destination_tank_id",
			       json_object_new_string(op->c.destination_tank_id));
	json_object_object_add(body, "connection_id", json_object_new_string(op->c.id));
	if (except)
		json_object_object_add(body, "except", except);
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
		return false;
	}
	return true;
}

static bool local_fish_move(const struct pass *p, const struct op *op)
{
	return !op->plant &&
	       strcmp(op->c.destination_server_id, p->md->daemon->conf.server.server_id) == 0;
}

/* A conflict hit's "except": the fish the chain's moves before it brought into its source
 * tank. NULL when one of those moves has an unknown outcome: it may have brought in a
 * fish nobody can name, so the hit waits for a later pass. */
static json_object *except_list(struct pass *p, const struct op *op)
{
	json_object *except = json_object_new_array();
	for (size_t k = 0; k + 1 < p->chain_at; k++) {
		const struct op *in = &p->ops[p->chain[k]];
		if (!local_fish_move(p, in) ||
		    strcmp(in->c.destination_tank_id, op->c.source_tank_id) != 0)
			continue;
		if (in->unknown || json_object_array_length(except) >= PICK_EXCEPT_MAX) {
			json_object_put(except);
			return NULL;
		}
		if (in->moved[0])
			json_object_array_add(except, json_object_new_string(in->moved));
	}
	return except;
}

/* Start the chain's next op; the chain holds one outstanding count until it ends. */
static void chain_next(struct pass *p)
{
	while (p->chain_at < p->nchain) {
		struct op *op = &p->ops[p->chain[p->chain_at++]];
		json_object *except = op->conflict ? except_list(p, op) : NULL;
		if (op->conflict && !except) {
			p->errors++;
			continue;
		}
		if (start_op(op, except))
			return;
	}
	pass_op_done(p);
}

static void op_answered(struct op *op)
{
	struct pass *p = op->p;
	if (op->chained)
		chain_next(p);
	pass_op_done(p);
}

/* Which ops run in the chain: every conflict hit and every local fish move into the
 * source tank of one. */
static void mark_chain(struct pass *p)
{
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		op->chained = op->conflict;
		for (size_t j = 0; j < p->nops && !op->chained && local_fish_move(p, op); j++)
			op->chained = p->ops[j].conflict && strcmp(p->ops[j].c.source_tank_id,
								   op->c.destination_tank_id) == 0;
	}
}

void pass_start_hits(struct pass *p)
{
	struct migrated *md = p->md;
	p->phase = 3;
	struct strset failing = {0};
	delivery_failing_servers(md->delivery, &failing);
	mark_chain(p);
	p->chain = xcalloc(p->nops ? p->nops : 1, sizeof *p->chain);
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
		if (op->chained)
			p->chain[p->nchain++] = i;
		else
			start_op(op, NULL);
	}
	strset_clear(&failing);
	if (p->nchain) {
		p->outstanding++;
		chain_next(p);
	}
	pass_op_done(p);
}
