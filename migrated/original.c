/* Fish never go to the original silently (issue 19, docs/legacy.md). simd translates the
 * original's fish into ours, but nothing translates ours into the original's: its
 * /api/remote-transfer would fail to read our fish (or, at its oldest, take it and answer
 * 500). So before the first delivery to a server, and again every minute, migrated asks
 * its /api/servers/local. Ours always carries discovery_port and migration_port (DESIGN
 * §3; through the door or discoveryd's own listener alike); the original's ServerInfo
 * has neither. A server answering anything else (404 from a door without the relay, an
 * error) is taken for ours: only a positive match refuses. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define KIND_TTL 60.0
#define KIND_TTL_NO_ANSWER 5.0

struct original_kind {
	char server_id[SERVER_ID_MAX + 1];
	enum original_verdict v;
	double until; /* monotonic */
	struct original_kind *next;
};

static struct original_kind *kind_get(struct delivery *d, const char *server_id)
{
	for (struct original_kind *k = d->kinds; k; k = k->next)
		if (strcmp(k->server_id, server_id) == 0)
			return k;
	struct original_kind *k = xcalloc(1, sizeof *k);
	snprintf(k->server_id, sizeof k->server_id, "%s", server_id);
	k->v = ORIGINAL_ASK;
	k->next = d->kinds;
	d->kinds = k;
	return k;
}

bool original_server_info(json_object *o)
{
	return jv_member_str(o, "server_id") &&
	       !json_object_object_get_ex(o, "discovery_port", NULL) &&
	       !json_object_object_get_ex(o, "migration_port", NULL);
}

enum original_verdict original_known(struct delivery *d, const char *server_id)
{
	struct original_kind *k = kind_get(d, server_id);
	return now_mono() < k->until ? k->v : ORIGINAL_ASK;
}

static void on_answer(const struct fetch_response *r, void *arg)
{
	struct xfer *x = arg;
	x->busy = false;
	struct original_kind *k = kind_get(x->d, x->destination_server_id);
	enum original_verdict was = k->v;
	k->v = ORIGINAL_NO;
	k->until = now_mono() + (r->status ? KIND_TTL : KIND_TTL_NO_ANSWER);
	if (r->status == 200) {
		json_object *o = request_answer(r, "server info");
		if (original_server_info(o))
			k->v = ORIGINAL_YES;
		json_object_put(o);
	}
	if (k->v == ORIGINAL_YES && was != ORIGINAL_YES)
		log_warn("server %s answers like the original (no discovery_port or migration_port "
			 "in its /api/servers/local): it cannot read our fish, so none is sent there",
			 x->destination_server_id);
	delivery_run(x);
}

void original_ask(struct xfer *x, const char *base_url)
{
	struct migrated *md = x->d->md;
	const struct conf *c = &md->daemon->conf;
	char url[600];
	snprintf(url, sizeof url, "%s/api/servers/local", base_url);
	long timeout = (long)(c->migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = "GET",
		.url = url,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < 3000 ? timeout : 3000,
		.max_response = 64 * 1024,
	};
	x->busy = true;
	int r = md->stopping ? -1 : fetch_start(md->fetch, &req, on_answer, x);
	if (r < 0) {
		x->busy = false;
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		if (!md->stopping)
			on_answer(&fail, x);
	}
}

void original_free(struct delivery *d)
{
	for (struct original_kind *k = d->kinds, *n; k; k = n) {
		n = k->next;
		free(k);
	}
	d->kinds = NULL;
}
