/* GET /api/discovery/servers without since: the whole list, written a slice per turn of
 * the event loop. Built in one go it held the loop 24-130 ms at 20,000 servers and about
 * half a second at 100,000 (the max_servers default), for anyone who asked: heartbeats,
 * registrations and /health waited behind it. Each slice writes entries for a few
 * milliseconds and yields; the registry's cursor keeps its place while servers come and go in between, so
 * the answer is each server as it was when its slice was written. Part of the API, so
 * it sees HTTP (as api.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "discoveryd.h"
#include "util.h"
#include "xalloc.h"

/* A slice writes entries for LIST_SLICE_SECONDS of the loop, the clock read every
 * LIST_CLOCK_EVERY entries (about 2 µs each here, 5-10 times that under the sanitizers):
 * a count of entries bounded the loop in one build and not in a slower one (2,000 were
 * 2-5 ms, and 50 ms with ASan, three listings 150 ms a turn). At most LIST_BUILDS
 * listings are written at once (each holds its text, 38 MB at 100,000 servers, until it
 * is sent): more are a 503 busy, as answers clients do not read are (max_unsent_mb). */
#define LIST_SLICE_SECONDS 0.004
#define LIST_CLOCK_EVERY 64
#define LIST_BUILDS 8

/* Our hubs, read once a reply: each entry's "hubs" names those that list it, or for
 * this server those it reaches. Their URLs are escaped once, not once an entry. */
struct hub_names {
	size_t n;
	char *json[REGISTRY_MAX_HUBS];
	unsigned idx[REGISTRY_MAX_HUBS];
	bool reached[REGISTRY_MAX_HUBS], self[REGISTRY_MAX_HUBS];
};

static void hub_names_load(struct discoveryd *dd, struct hub_names *h)
{
	h->n = worker_hub_count(dd->worker);
	for (size_t i = 0; i < h->n; i++) {
		json_object *s = json_object_new_string(
			worker_hub_url(dd->worker, i, &h->idx[i], &h->reached[i], &h->self[i]));
		h->json[i] = xstrdup(json_object_to_json_string(s));
		json_object_put(s);
	}
}

static void hub_names_free(struct hub_names *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->json[i]);
}

/* e's JSON, its "hubs" included (none without hubs), appended to *buf. */
static void append_entry(struct discoveryd *dd, const struct hub_names *h,
			 const struct server_entry *e, double now, char **buf, size_t *len,
			 size_t *cap)
{
	char *hubs = NULL;
	size_t hlen = 0, hcap = 0;
	registry_append(&hubs, &hlen, &hcap, "");
	if (h->n) {
		bool local = strcmp(e->info.server_id, dd->self.server_id) == 0, first = true;
		registry_append(&hubs, &hlen, &hcap, ",\"hubs\":[");
		for (size_t i = 0; i < h->n; i++)
			if (local ? h->reached[i] || h->self[i] : (e->listed_by >> h->idx[i]) & 1) {
				registry_append(&hubs, &hlen, &hcap, first ? "" : ",");
				registry_append(&hubs, &hlen, &hcap, h->json[i]);
				first = false;
			}
		registry_append(&hubs, &hlen, &hcap, "]");
	}
	registry_entry_append_json(dd->reg, e, now, now_wall(), hubs, buf, len, cap);
	free(hubs);
}

/* One server's entry, as the list gives it. */
void api_list_entry(struct http_ctx *ctx, struct discoveryd *dd, const struct server_entry *e)
{
	struct hub_names h;
	hub_names_load(dd, &h);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	append_entry(dd, &h, e, now_steady_wall(), &buf, &len, &cap);
	http_reply_text(ctx->req, 200, "application/json", buf, len);
	free(buf);
	hub_names_free(&h);
}

/* A whole listing being written. */
struct listing {
	struct discoveryd *dd;
	struct http_deferred *d;
	struct event *ev; /* the next slice, a zero timer: I/O is polled between slices */
	struct registry_cursor cur;
	struct hub_names h;
	bool include_local;
	int want; /* the status to keep, or -1 for all */
	long n;
	struct http_piece *pieces; /* one a slice: see http_reply_pieces */
	size_t n_pieces, cap_pieces;
	LIST_ENTRY(listing) link;
};

struct api_lists {
	LIST_HEAD(, listing) all;
	size_t n;
};

static void listing_free(struct listing *l)
{
	struct api_lists *ls = l->dd->lists;
	LIST_REMOVE(l, link);
	ls->n--;
	registry_cursor_close(&l->cur);
	event_free(l->ev);
	hub_names_free(&l->h);
	for (size_t i = 0; i < l->n_pieces; i++)
		free(l->pieces[i].text);
	free(l->pieces);
	http_deferred_free(l->d);
	free(l);
}

static void listing_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct listing *l = arg;
	struct discoveryd *dd = l->dd;
	if (!http_deferred_waiting(l->d)) {
		http_deferred_abort(l->d);
		l->d = NULL;
		listing_free(l);
		return;
	}
	double now = now_steady_wall();
	char *buf = NULL;
	size_t len = 0, cap = 0;
	registry_append(&buf, &len, &cap, l->n_pieces ? "" : "{\"servers\":[");
	const struct server_entry *e = NULL;
	double until = now_mono() + LIST_SLICE_SECONDS;
	/* Stopped for time, e is the last entry written: another slice follows. */
	for (int k = 1;
	     (k % LIST_CLOCK_EVERY || now_mono() < until) && (e = registry_cursor_next(&l->cur));
	     k++) {
		bool local = strcmp(e->info.server_id, dd->self.server_id) == 0;
		if ((local && !l->include_local) ||
		    (l->want >= 0 &&
		     registry_status(dd->reg, e, now) != (enum server_status)l->want))
			continue;
		if (l->n++)
			registry_append(&buf, &len, &cap, ",");
		append_entry(dd, &l->h, e, now, &buf, &len, &cap);
	}
	if (!e) {
		char tail[64];
		snprintf(tail, sizeof tail, "],\"count\":%ld}", l->n);
		registry_append(&buf, &len, &cap, tail);
	}
	if (l->n_pieces == l->cap_pieces) {
		l->cap_pieces = l->cap_pieces ? 2 * l->cap_pieces : 16;
		l->pieces = xreallocarray(l->pieces, l->cap_pieces, sizeof *l->pieces);
	}
	l->pieces[l->n_pieces++] = (struct http_piece){buf, len};
	if (e) {
		event_add(l->ev, &(struct timeval){0, 0});
		return;
	}
	struct evhttp_request *req = http_deferred_request(l->d);
	if (req) {
		http_reply_pieces(req, 200, "application/json", l->pieces, l->n_pieces);
		l->n_pieces = 0;
	}
	listing_free(l);
}

void api_list_all(struct http_ctx *ctx, struct discoveryd *dd, bool include_local, int want)
{
	if (http_busy(ctx))
		return;
	struct api_lists *ls = dd->lists;
	if (ls->n >= LIST_BUILDS) {
		http_reply_busy(ctx, "%d whole listings are being written: try again shortly",
				LIST_BUILDS);
		return;
	}
	struct listing *l = xcalloc(1, sizeof *l);
	l->dd = dd;
	l->include_local = include_local;
	l->want = want;
	hub_names_load(dd, &l->h);
	registry_cursor_open(dd->reg, &l->cur);
	l->ev = evtimer_new(dd->daemon->base, listing_slice, l);
	l->d = http_defer(ctx);
	LIST_INSERT_HEAD(&ls->all, l, link);
	ls->n++;
	listing_slice(-1, 0, l);
}

void api_list_init(struct discoveryd *dd)
{
	dd->lists = xcalloc(1, sizeof *dd->lists);
	LIST_INIT(&dd->lists->all);
}

/* At shutdown, before the registry and the HTTP server go: listings unfinished are
 * dropped with their connections. */
void api_list_free(struct discoveryd *dd)
{
	if (!dd->lists)
		return;
	while (!LIST_EMPTY(&dd->lists->all))
		listing_free(LIST_FIRST(&dd->lists->all));
	free(dd->lists);
	dd->lists = NULL;
}
