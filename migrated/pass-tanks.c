/* Phase 1 of a pass: list simd's tanks. Every pass, rolling or not, uses the listing to
 * keep migrated in step with simd: connections whose tanks are missing are checked
 * (cascade.c) and every listed tank's exits are synced (exits.c). A pass that rolls then
 * goes on to pass-roll.c with the tanks' states. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "util.h"
#include "xalloc.h"

static const struct tank_info *tank_find(const struct pass *p, const char *id)
{
	for (size_t i = 0; i < p->ntanks; i++)
		if (strcmp(p->tanks[i].id, id) == 0)
			return &p->tanks[i];
	return NULL;
}

static bool parse_tanks(struct pass *p, const struct fetch_response *r)
{
	json_object *o = request_answer(r, "tank list"), *list;
	struct json_err e;
	if (!o || jv_array(o, "tanks", true, 1000000, &list, &e) < 0) {
		snprintf(p->error, sizeof p->error, "simd's tank list does not parse");
		json_object_put(o);
		return false;
	}
	size_t n = json_object_array_length(list);
	p->tanks = xcalloc(n ? n : 1, sizeof *p->tanks);
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
		if (jv_object(t, "stats", false, &stats, &e) > 0) {
			jv_int(stats, "fish_count", false, 0, 100000000, &ti.fish_count, &e);
			jv_int(stats, "plant_count", false, 0, 100000000, &ti.plant_count, &e);
		}
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
		pass_op_done(p);
		return;
	}
	if (p->sim_down)
		log_notice("simd answers again");
	exits_listing_seen(md, p->sim_down);
	p->sim_down = false;

	/* Cascade: a connection whose local tank simd does not list is checked one by
	 * one (the list may omit private tanks, and may predate a new connection). */
	size_t nc = connections_count(md->conns);
	for (size_t i = 0; i < nc; i++) {
		const struct connection *c = connections_at(md->conns, i);
		if (c->validated_at > p->listing_sent)
			continue;
		if (!tank_find(p, c->source_tank_id))
			cascade_verify_tank(md, c->source_tank_id);
		if (connection_is_local(c) && !tank_find(p, c->destination_tank_id))
			cascade_verify_tank(md, c->destination_tank_id);
	}
	/* Exits: every listed tank's walls as the connections say. */
	for (size_t i = 0; i < p->ntanks; i++)
		exits_sync(md, p->tanks[i].id);
	if (!p->roll) {
		p->outstanding = 1;
		pass_op_done(p);
		return;
	}
	pass_roll(p);
}

void pass_list_tanks(struct pass *p)
{
	if (request_sim(p->md, "GET", "/api/tanks", NULL, on_tanks, p) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_tanks(&fail, p);
	}
}
