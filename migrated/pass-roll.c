/* Phase 2 of a pass: roll every connection against the listed tanks (sched_plan, with
 * the global and per-connection rate limits) and learn what starting the hits needs:
 * whether each remote destination server is known to discoveryd, and for a conflict
 * hit (its source tank also receives a fish by a local move of this pass) which fish
 * that tank holds before any move, so pass-hits.c can name one that has not moved. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "util.h"
#include "xalloc.h"

struct tank_state_req *pass_tank_state(struct pass *p, const char *tank_id)
{
	for (size_t i = 0; i < p->nstates; i++)
		if (strcmp(p->states[i].tank_id, tank_id) == 0)
			return &p->states[i];
	return NULL;
}

static void phase2_done(struct pass *p)
{
	if (--p->outstanding == 0)
		pass_start_hits(p);
}

static void on_state(const struct fetch_response *r, void *arg)
{
	struct tank_state_req *s = arg;
	struct pass *p = s->p;
	json_object *o = r->status == 200 ? request_answer(r, "tank state") : NULL, *list;
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
		cascade_verify_tank(p->md, s->tank_id);
	}
	json_object_put(o);
	phase2_done(p);
}

static void on_peer_known(enum peer_state st, void *arg)
{
	phase2_done(arg);
}

void pass_roll(struct pass *p)
{
	struct migrated *md = p->md;
	size_t nc = connections_count(md->conns);
	struct connection **conns = xcalloc(nc ? nc : 1, sizeof *conns);
	struct sched_decision *plan = xcalloc(nc ? nc : 1, sizeof *plan);
	struct sched_tank *st = xcalloc(p->ntanks ? p->ntanks : 1, sizeof *st);
	for (size_t i = 0; i < nc; i++)
		conns[i] = connections_at(md->conns, i);
	for (size_t i = 0; i < p->ntanks; i++)
		st[i] = (struct sched_tank){
			p->tanks[i].id,		p->tanks[i].paused,   p->tanks[i].allow_transfers,
			p->tanks[i].fish_count, p->tanks[i].max_fish, p->tanks[i].plant_count};
	const struct conf *c = &md->daemon->conf;
	for (size_t i = 0; i < p->ntanks; i++)
		if (!(c->migration.plant_weight > 0))
			st[i].plant_count = 0; /* plants stay: a tank of plants only is empty */
	double now = now_mono();
	tbucket_set_rate(&md->global_bucket, c->migration.max_per_second, now);
	sched_plan(conns, nc, st, p->ntanks, c->server.server_id, &md->rng, &md->global_bucket,
		   c->migration.per_connection_per_second, now, plan, &p->counts);
	md->m.rolls += nc;
	md->m.hits += p->counts.hits;
	md->m.rate_limited += p->counts.rate_limited;
	p->ops = xcalloc(p->counts.hits ? p->counts.hits : 1, sizeof *p->ops);
	for (size_t i = 0; i < nc; i++) {
		if (plan[i].verdict != SV_HIT)
			continue;
		struct op *op = &p->ops[p->nops++];
		op->p = p;
		op->c = *plan[i].c;
		for (size_t k = 0; k < p->ntanks; k++)
			if (strcmp(st[k].tank_id, op->c.source_tank_id) == 0)
				op->plant = sched_pick_plant(&st[k], c->migration.plant_weight,
							     &md->rng);
		/* simd picks the plant; naming the one to send (conflicts) is for fish. */
		op->conflict = plan[i].conflict && !op->plant;
	}
	free(conns);
	free(plan);
	free(st);

	/* Phase 2: destination lookups (cached) and the states of conflict tanks. */
	p->phase = 2;
	p->outstanding = 1;
	struct strset asked = {0};
	p->states = xcalloc(p->nops ? p->nops : 1, sizeof *p->states);
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		/* Ask discoveryd afresh once per destination server and pass, so a server
		 * that went away is noticed before fish are pulled out for it. */
		if (strcmp(op->c.destination_server_id, c->server.server_id) != 0 &&
		    strset_add(&asked, op->c.destination_server_id)) {
			p->outstanding++;
			peers_lookup(md, op->c.destination_server_id, true, on_peer_known, p);
		}
		if (op->conflict && !pass_tank_state(p, op->c.source_tank_id)) {
			struct tank_state_req *s = &p->states[p->nstates++];
			s->p = p;
			snprintf(s->tank_id, sizeof s->tank_id, "%s", op->c.source_tank_id);
			char path[TANK_ID_MAX + 32];
			snprintf(path, sizeof path, "/api/tanks/%s/state", s->tank_id);
			p->outstanding++;
			if (request_sim(md, "GET", path, NULL, on_state, s) < 0)
				p->outstanding--;
		}
	}
	strset_clear(&asked);
	phase2_done(p);
}
