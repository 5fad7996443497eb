/* Phase 2 of a pass: roll every connection against the listed tanks (sched_plan, with
 * the global and per-connection rate limits) and learn what starting the hits needs:
 * whether each remote destination server is known to discoveryd. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "util.h"
#include "xalloc.h"

static void phase2_done(struct pass *p)
{
	if (--p->outstanding == 0)
		pass_start_hits(p);
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
		/* simd picks the plant; the fish not to take (conflicts) are fish. */
		op->conflict = plan[i].conflict && !op->plant;
	}
	free(conns);
	free(plan);
	free(st);

	/* Phase 2: destination lookups (cached). */
	p->phase = 2;
	p->outstanding = 1;
	struct strset asked = {0};
	for (size_t i = 0; i < p->nops; i++) {
		struct op *op = &p->ops[i];
		/* Ask discoveryd afresh once per destination server and pass, so a server
		 * that went away is noticed before fish are pulled out for it. */
		if (strcmp(op->c.destination_server_id, c->server.server_id) != 0 &&
		    strset_add(&asked, op->c.destination_server_id)) {
			p->outstanding++;
			peers_lookup(md, op->c.destination_server_id, true, on_peer_known, p);
		}
	}
	strset_clear(&asked);
	phase2_done(p);
}
