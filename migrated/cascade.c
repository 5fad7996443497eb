/* A tank that is gone takes its connections with it (DESIGN §5).
 *
 * Any sign that simd no longer knows a tank (a 404 to a move, a reservation, an exits
 * update or a tank state request, or a tank list without it) only starts a check: GET
 * /api/tanks/{id}, one at a time per tank. A 404 to that check removes every connection
 * touching the tank and validated before the check was sent, so a connection validated
 * meanwhile (which saw the tank exist) survives. Anything else leaves the connections
 * alone: a busy or restarting simd must not cost the operator their configuration. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"
#include "xalloc.h"

struct verify_req {
	struct migrated *md;
	char tank_id[TANK_ID_MAX + 1];
	double sent;
};

static void on_removed(const struct connection *c, void *arg)
{
	struct migrated *md = arg;
	log_notice("connection %s (%s -> %s:%s) removed: its tank is gone", c->id,
		   c->source_tank_id, c->destination_server_id, c->destination_tank_id);
	md->m.cascades++;
}

static void on_verify(const struct fetch_response *r, void *arg)
{
	struct verify_req *v = arg;
	struct migrated *md = v->md;
	strset_remove(&md->verifying_tanks, v->tank_id);
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
		size_t n = connections_remove_tank(md->conns, v->tank_id, v->sent, on_removed, md);
		if (n) {
			log_notice("tank %s no longer exists: %zu connection(s) removed",
				   v->tank_id, n);
			migrated_save_connections(md);
			for (size_t i = 0; i < sources.n; i++)
				exits_sync(md, sources.v[i]);
		}
		exits_forget(md, v->tank_id);
		strset_clear(&sources);
	}
	free(v);
}

void cascade_verify_tank(struct migrated *md, const char *tank_id)
{
	if (md->stopping || strset_has(&md->verifying_tanks, tank_id))
		return;
	strset_add(&md->verifying_tanks, tank_id);
	struct verify_req *v = xcalloc(1, sizeof *v);
	v->md = md;
	v->sent = now_mono();
	snprintf(v->tank_id, sizeof v->tank_id, "%s", tank_id);
	char path[TANK_ID_MAX + 32];
	snprintf(path, sizeof path, "/api/tanks/%s", tank_id);
	if (request_sim(md, "GET", path, NULL, on_verify, v) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_verify(&fail, v);
	}
}
