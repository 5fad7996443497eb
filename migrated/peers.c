/* Other servers' addresses as discoveryd knows them (GET /api/discovery/servers/{id}),
 * cached: the scheduler asks whether a destination is known at all before it pulls a
 * fish out of the simulation for it, and delivery asks where to send the fish. A known
 * address is trusted for 5 s, a failed or negative lookup for 1 s, so a server that
 * registers is found quickly without asking discoveryd once per transfer. Concurrent
 * lookups of one server share a single request. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrated.h"
#include "util.h"
#include "xalloc.h"

#define PEER_TTL_OK 5.0
#define PEER_TTL_BAD 1.0

struct peer_waiter {
	peer_cb cb;
	void *arg;
	void (*drop)(void *arg); /* frees arg when the cache goes with the lookup unanswered */
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

struct peers {
	struct peer *list;
};

static struct peer *peer_find(const struct peers *ps, const char *id)
{
	for (struct peer *p = ps->list; p; p = p->next)
		if (strcmp(p->server_id, id) == 0)
			return p;
	return NULL;
}

static struct peer *peer_get(struct peers *ps, const char *id)
{
	struct peer *p = peer_find(ps, id);
	if (p)
		return p;
	p = xcalloc(1, sizeof *p);
	snprintf(p->server_id, sizeof p->server_id, "%s", id);
	p->next = ps->list;
	ps->list = p;
	return p;
}

static bool peer_fresh(const struct peer *p, double now)
{
	if (!p->fetched)
		return false;
	double ttl = p->state == PEER_OK || p->state == PEER_OFFLINE ? PEER_TTL_OK : PEER_TTL_BAD;
	return now - p->fetched < ttl;
}

enum peer_state peers_state(struct migrated *md, const char *server_id)
{
	struct peer *p = peer_get(md->peers, server_id);
	return peer_fresh(p, now_mono()) ? p->state : PEER_UNKNOWN;
}

bool peers_cannot_take(enum peer_state st, const struct strset *failing, const char *server_id)
{
	return st == PEER_MISSING || st == PEER_OFFLINE || strset_has(failing, server_id);
}

static void on_peer(const struct fetch_response *r, void *arg)
{
	struct peer *p = arg;
	p->busy = false;
	p->fetched = now_mono();
	if (r->status == 404) {
		p->state = PEER_MISSING;
	} else if (r->status == 200) {
		json_object *o = request_answer(r, "server info");
		const char *host, *status = NULL;
		int port;
		bool confirmed = true; /* an older discoveryd does not say */
		struct json_err e;
		if (o && jv_string(o, "host", true, 1, 253, &host, &e) > 0 &&
		    jv_int(o, "port", true, 1, 65535, &port, &e) > 0 && host_valid(host) &&
		    jv_string(o, "status", false, 0, 32, &status, &e) >= 0 &&
		    jv_bool(o, "confirmed", false, &confirmed, &e) >= 0) {
			snprintf(p->host, sizeof p->host, "%s", host);
			p->port = port;
			/* An offline nobody confirms is a worker's cache while every hub is
			 * down: the server may well live, so it gets fish, and deliveries that
			 * fail close its wall as for any server (failing). */
			p->state = status && strcmp(status, "offline") == 0 && confirmed
					   ? PEER_OFFLINE
					   : PEER_OK;
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
			 "the outbox and are retried until it registers",
			 p->server_id);
	}
	while (w) {
		struct peer_waiter *next = w->next;
		w->cb(st, w->arg);
		free(w);
		w = next;
	}
}

static void lookup(struct migrated *md, const char *server_id, bool force, peer_cb cb, void *arg,
		   void (*drop)(void *))
{
	struct peer *p = peer_get(md->peers, server_id);
	if (!force && peer_fresh(p, now_mono())) {
		cb(p->state, arg);
		return;
	}
	struct peer_waiter *w = xcalloc(1, sizeof *w);
	w->cb = cb;
	w->arg = arg;
	w->drop = drop;
	w->next = p->waiters;
	p->waiters = w;
	if (p->busy)
		return;
	char path[SERVER_ID_MAX + 64];
	snprintf(path, sizeof path, "/api/discovery/servers/%s", server_id);
	p->busy = true;
	if (request_discovery(md, "GET", path, on_peer, p) < 0) {
		struct fetch_response fail = {.status = 0, .body = "", .error = "cannot start"};
		on_peer(&fail, p);
	}
}

void peers_lookup(struct migrated *md, const char *server_id, bool force, peer_cb cb, void *arg)
{
	lookup(md, server_id, force, cb, arg, NULL);
}

bool peers_url(struct migrated *md, const char *server_id, const char *path, char *buf, size_t len)
{
	const struct peer *p = peer_find(md->peers, server_id);
	if (!p || !p->port)
		return false;
	bool v6 = strchr(p->host, ':') != NULL; /* an IPv6 literal goes in brackets */
	snprintf(buf, len, "http://%s%s%s:%d%s", v6 ? "[" : "", p->host, v6 ? "]" : "", p->port,
		 path);
	return true;
}

/* A request waiting for discoveryd to say where its server is. */
struct held_request {
	struct migrated *md;
	char server_id[SERVER_ID_MAX + 1];
	char method[8];
	char path[512];
	json_object *body;
	fetch_cb cb;
	void *arg;
};

static void held_drop(void *arg)
{
	struct held_request *h = arg;
	json_object_put(h->body);
	free(h);
}

static void held_fail(struct held_request *h, const char *why)
{
	struct fetch_response fail = {.status = 0, .body = "", .error = why};
	h->cb(&fail, h->arg);
}

static void on_held_peer(enum peer_state st, void *arg)
{
	struct held_request *h = arg;
	char url[1024];
	/* An "offline" peer may still answer (heartbeats can lag): try it. */
	if ((st == PEER_OK || st == PEER_OFFLINE) &&
	    peers_url(h->md, h->server_id, h->path, url, sizeof url)) {
		int r = request_send(h->md, h->method, url, NULL, true, h->body, h->cb, h->arg);
		h->body = NULL; /* request_send took it, whatever it returned */
		if (r < 0)
			held_fail(h, "cannot start the request");
	} else {
		held_fail(h, "no address for the server");
	}
	held_drop(h);
}

int peers_request_remote(struct migrated *md, const char *server_id, const char *method,
			 const char *path, json_object *body, fetch_cb cb, void *arg)
{
	char url[1024];
	if (peers_url(md, server_id, path, url, sizeof url))
		return request_send(md, method, url, NULL, true, body, cb, arg);
	if (peers_state(md, server_id) != PEER_UNKNOWN) { /* discoveryd just said it has none */
		json_object_put(body);
		return -EHOSTUNREACH;
	}
	/* Never given an address (right after a start, most often): ask discoveryd first,
	 * so no caller has to remember to. */
	struct held_request *h = xcalloc(1, sizeof *h);
	h->md = md;
	snprintf(h->server_id, sizeof h->server_id, "%s", server_id);
	snprintf(h->method, sizeof h->method, "%s", method);
	snprintf(h->path, sizeof h->path, "%s", path);
	h->body = body;
	h->cb = cb;
	h->arg = arg;
	lookup(md, server_id, false, on_held_peer, h, held_drop);
	return 0;
}

int peers_request(struct migrated *md, const char *server_id, const char *method, const char *path,
		  json_object *body, fetch_cb cb, void *arg)
{
	if (strcmp(server_id, md->daemon->conf.server.server_id) == 0)
		return request_sim(md, method, path, body, cb, arg);
	return peers_request_remote(md, server_id, method, path, body, cb, arg);
}

struct peers *peers_new(void)
{
	struct peers *ps = xcalloc(1, sizeof *ps);
	return ps;
}

struct peers *peers_free(struct peers *ps)
{
	if (!ps)
		return NULL;
	for (struct peer *p = ps->list, *np; p; p = np) {
		np = p->next;
		for (struct peer_waiter *w = p->waiters, *nw; w; w = nw) {
			nw = w->next;
			if (w->drop)
				w->drop(w->arg);
			free(w);
		}
		free(p);
	}
	free(ps);
	return NULL;
}
