/* The worker role ([discovery] hub_url / DISCOVERY_SERVER_URL, a list): with every hub
 * in the list, independently, register, heartbeat every interval, register again
 * whenever the hub answers 404 (it lost our entry, e.g. after a restart), and pull
 * what changed in its registry since the last pull (GET /api/discovery/servers?since=
 * with the hub's revision, in pages) so that workers learn about each other. Each hub
 * has its own cycle: a slow or dead hub only ever delays itself. A hub that answers
 * 409 own_id is this very server (one shared list on every machine): it is skipped.
 * The original registered once with one hub and never again (§1.14 item 19). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd.h"
#include "hubpage.h"
#include "jsonv.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

/* Entries per page: a page is written on the hub's loop (about 5 µs an entry, measured),
 * so a page holds the loop for about 5 ms; a first sync of 20,000 servers is 20 pages. */
#define PAGE_LIMIT 1000
/* A hub without revisions (the original) lists every server in one answer; a network of
 * the original's larger than this is not one anyone runs, and a hostile hub's list of
 * 95,000 held the loop 0.3-0.7 s at every pull (an audit). */
#define UNPAGED_LIMIT 10000

struct hub {
	struct worker *w;
	unsigned index; /* bit in the registry's hub masks */
	char url[CONF_URLS];
	bool busy;	   /* a cycle is in flight: never overlap them */
	bool registered;   /* the hub acknowledged us since the last 404 */
	bool down;	   /* to log a lost hub once, not every interval */
	bool self;	   /* the hub is this server */
	char garbage[128]; /* the nonsense last logged ("" none): logged once, again if it changes */
	bool dead;	   /* left the list while a request was in flight: freed by its answer */
	char epoch[40];	   /* the hub registry's identity; "" before the first sync */
	char listing[40];  /* the hub run's listing id, sent while paging a whole listing */
	uint64_t since;	   /* revision synced up to */
	bool full;	   /* the running sync lists everything */
	unsigned restarts; /* listings the hub started over in the running sync */
	unsigned pages;	   /* pages of the running sync */
	double reached;	   /* wall time of the last good answer, 0 = never */
};

struct worker {
	struct discoveryd *dd;
	struct hub *hubs[REGISTRY_MAX_HUBS];
	size_t n;
	struct event *timer;
	double period; /* of timer, as last armed (timer_every) */
};

static void hub_cycle(struct hub *h);
static void on_register(const struct fetch_response *r, void *arg);
static void on_heartbeat(const struct fetch_response *r, void *arg);

/* Answers for a hub that left the list meanwhile free it and go no further. */
static bool hub_gone(struct hub *h)
{
	if (!h->dead)
		return false;
	free(h);
	return true;
}

static void send_json(struct hub *h, const char *method, const char *path, json_object *body,
		      fetch_cb cb)
{
	char url[CONF_URLS + 256];
	size_t l = strlen(h->url);
	int trim = l > 0 && h->url[l - 1] == '/';
	snprintf(url, sizeof url, "%.*s%s", (int)(l - (size_t)trim), h->url, path);
	const struct conf *c = &h->w->dd->daemon->conf;
	const char *text = body ? jv_to_string(body) : NULL;
	struct fetch_request req = {
		.method = method,
		.url = url,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.token = c->security.token,
		.timeout_ms = (long)(c->discovery.heartbeat_interval * 1000),
		.connect_timeout_ms = 2000,
	};
	/* At least 2 s: a page of a big registry on a busy hub may take a while, and a
	 * slow hub only ever delays its own cycle. */
	if (req.timeout_ms < 2000)
		req.timeout_ms = 2000;
	if (fetch_start(h->w->dd->fetch, &req, cb, h) < 0) {
		log_err("cannot start a request to the hub %s", h->url);
		h->busy = false;
	}
	json_object_put(body);
}

static void hub_failed(struct hub *h, const struct fetch_response *r, const char *what)
{
	h->w->dd->hub_errors++;
	h->busy = false;
	if (!h->down && !r->status) {
		log_warn("hub %s: %s failed: %s", h->url, what, r->error);
	} else if (!h->down) {
		/* A hub of ours says why in its JSON error (registry_full, a bad token): the
		 * warning names it, where it said only "unexpected HTTP status". */
		struct json_err e;
		const char *msg = NULL;
		json_object *o = jv_parse_object(r->body, r->len, 16, &e);
		if (o)
			jv_string(o, "error", false, 1, 300, &msg, &e);
		log_warn("hub %s: %s failed: HTTP %ld%s%.300s", h->url, what, r->status,
			 msg ? ": " : "", msg ? msg : "");
		json_object_put(o);
	}
	if (r->status)
		log_debug("hub %s answered %ld: %.200s", h->url, r->status, r->body);
	h->down = true;
}

static void hub_garbage(struct hub *h, const char *what, const char *msg)
{
	h->w->dd->hub_errors++;
	h->busy = false;
	if (strncmp(h->garbage, msg, sizeof h->garbage - 1) != 0)
		log_warn("hub %s sent %s that does not parse, ignoring it: %s", h->url, what, msg);
	snprintf(h->garbage, sizeof h->garbage, "%s", msg);
}

static void hub_ok(struct hub *h)
{
	if (h->down)
		log_notice("hub %s reachable again", h->url);
	h->down = false;
	h->reached = now_steady_wall();
}

static void on_page(const struct fetch_response *r, void *arg);

/* A sync that goes nowhere ends here: the next interval lists everything again. */
static void hub_stuck(struct hub *h, const char *why)
{
	h->w->dd->hub_errors++;
	h->busy = false;
	h->full = false;
	h->since = 0;
	h->restarts = 0;
	log_warn("hub %s: %s; listing it again next interval", h->url, why);
}

static void fetch_page(struct hub *h)
{
	char path[256];
	bool whole = h->full && h->listing[0];
	snprintf(path, sizeof path,
		 "/api/discovery/servers?include_local=true&since=%" PRIu64 "&limit=%d%s%s%s%s",
		 h->since, PAGE_LIMIT, h->epoch[0] ? "&epoch=" : "", h->epoch,
		 whole ? "&listing=" : "", whole ? h->listing : "");
	send_json(h, "GET", path, NULL, on_page);
}

/* A sync: the pages after the registration or heartbeat, until one says no more. */
static void sync_start(struct hub *h)
{
	h->pages = 0;
	fetch_page(h);
}

static void on_page(const struct fetch_response *r, void *arg)
{
	struct hub *h = arg;
	if (hub_gone(h))
		return;
	struct discoveryd *dd = h->w->dd;
	h->busy = false;
	if (r->status != 200)
		return hub_failed(h, r, "listing servers");
	struct hub_page p;
	struct json_err e;
	if (hub_page_parse(r->body, r->len, &p, &e) < 0)
		return hub_garbage(h, "a server list", e.msg);
	/* A hub with revisions pages as asked; one that sends more than a page held the loop
	 * for 100-250 ms a page applying 12,000 entries (an audit's hostile hub). A hub
	 * without revisions (the original) lists everything, as it always did. */
	size_t entries = json_object_array_length(p.servers) +
			 (p.removed ? json_object_array_length(p.removed) : 0);
	if (entries > (p.revision >= 0 ? PAGE_LIMIT : UNPAGED_LIMIT)) {
		char why[96];
		snprintf(why, sizeof why,
			 p.revision >= 0 ? "a page of %zu entries, more than the %d asked for"
					 : "a list of %zu entries without revisions, more than %d",
			 entries, p.revision >= 0 ? PAGE_LIMIT : UNPAGED_LIMIT);
		hub_page_free(&p);
		return hub_garbage(h, "a server list", why);
	}
	hub_ok(h);
	h->garbage[0] = '\0';
	double now = now_steady_wall();
	struct registry *reg = dd->reg;
	/* A hub without revisions (the original, or an older tankworld) lists everything
	 * every time; a hub with another epoch, or one that dropped the tombstones since
	 * our revision, starts over. Either way what it no longer lists is unlisted. */
	bool start_full = p.revision < 0 || p.reset || !p.epoch || strcmp(p.epoch, h->epoch) != 0 ||
			  h->since == 0;
	/* A listing the hub starts over (it restarted meanwhile) is marked afresh: what it
	 * listed before may have gone since. */
	if (start_full && h->full && h->restarts++ >= 3) {
		hub_page_free(&p);
		return hub_stuck(h, "it started the listing over 3 times in one sync");
	}
	if (start_full) {
		registry_hub_full_begin(reg, h->index);
		h->full = true;
	}
	/* Each page must move on: a hub answering "more" at the revision asked for made
	 * the worker ask again at once, for ever, and never heartbeat it again. */
	if (p.more && !start_full && (uint64_t)p.revision <= h->since) {
		hub_page_free(&p);
		return hub_stuck(h, "its pages do not advance");
	}
	/* Nor may they go on for ever: pages that advance but never end kept the worker
	 * asking, and heartbeating the hub once where it should have every interval (an
	 * audit's hub). A whole listing of a full registry, started over as often as allowed
	 * above, with a diff's removals before it (a hub keeps 4,096 tombstones), takes no
	 * more than this; and never fewer than 64 pages, for a small max_servers. */
	unsigned most = 4 * (unsigned)(registry_max_servers(reg) / PAGE_LIMIT + 2) + 8;
	most = most < 64 ? 64 : most;
	if (++h->pages > most) {
		hub_page_free(&p);
		char why[96];
		snprintf(why, sizeof why, "it sent more than %u pages in one sync", most);
		return hub_stuck(h, why);
	}
	size_t changes = hub_page_apply(&p, reg, h->index, h->url, now);
	if (p.epoch)
		snprintf(h->epoch, sizeof h->epoch, "%s", p.epoch);
	snprintf(h->listing, sizeof h->listing, "%s", p.listing ? p.listing : "");
	h->since = p.revision < 0 ? 0 : (uint64_t)p.revision;
	bool more = p.more && p.revision >= 0;
	hub_page_free(&p);
	if (more) {
		h->busy = true;
		fetch_page(h);
	} else {
		h->restarts = 0;
		if (h->full)
			changes += registry_hub_full_end(reg, h->index, now);
		h->full = false;
		registry_hub_synced(reg, h->index, now);
	}
	if (changes) {
		log_info("learned %zu change(s) from the hub %s", changes, h->url);
		discoveryd_schedule_save(dd, true);
	}
}

static bool own_id_answer(struct hub *h, const struct fetch_response *r)
{
	if (r->status != 409 || !strstr(r->body, "\"own_id\""))
		return false;
	log_info("hub %s is this server: not registering with it", h->url);
	h->self = true;
	h->busy = false;
	return true;
}

static void on_register(const struct fetch_response *r, void *arg)
{
	struct hub *h = arg;
	if (hub_gone(h))
		return;
	if (own_id_answer(h, r))
		return;
	if (r->status != 200)
		return hub_failed(h, r, "registration");
	hub_ok(h);
	if (!h->registered)
		log_info("registered with the hub %s", h->url);
	h->registered = true;
	sync_start(h);
}

static void do_register(struct hub *h)
{
	self_refresh(h->w->dd);
	send_json(h, "POST", "/api/discovery/register", server_info_to_json(&h->w->dd->self),
		  on_register);
}

static void on_heartbeat(const struct fetch_response *r, void *arg)
{
	struct hub *h = arg;
	if (hub_gone(h))
		return;
	if (r->status == 404) {
		log_notice("the hub %s does not know this server (it may have restarted): "
			   "registering again",
			   h->url);
		h->registered = false;
		do_register(h);
		return;
	}
	if (own_id_answer(h, r))
		return;
	if (r->status != 200)
		return hub_failed(h, r, "heartbeat");
	hub_ok(h);
	sync_start(h);
}

static void hub_cycle(struct hub *h)
{
	if (h->busy || h->self)
		return;
	h->busy = true;
	if (!h->registered) {
		do_register(h);
		return;
	}
	self_refresh(h->w->dd);
	char path[128];
	snprintf(path, sizeof path, "/api/discovery/heartbeat/%s", h->w->dd->self.server_id);
	send_json(h, "POST", path, server_info_to_json(&h->w->dd->self), on_heartbeat);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	for (size_t i = 0; i < w->n; i++)
		hub_cycle(w->hubs[i]);
}

void worker_heartbeat_now(struct worker *w)
{
	on_timer(-1, 0, w); /* a hub with a request in flight is left to it */
}

static void arm(struct worker *w)
{
	timer_every(w->timer, &w->period, w->dd->daemon->conf.discovery.heartbeat_interval);
}

static void hub_drop(struct worker *w, struct hub *h)
{
	registry_hub_forget(w->dd->reg, h->index, now_steady_wall());
	if (h->busy)
		h->dead = true;
	else
		free(h);
}

/* A hub kept across a reload keeps its index and its state; a new one takes a free
 * index; one that left the list is forgotten by the registry. */
static void set_hubs(struct worker *w, const char *list)
{
	char urls[REGISTRY_MAX_HUBS][CONF_URLS];
	size_t n = conf_split_urls(list, urls, REGISTRY_MAX_HUBS);
	struct hub *next[REGISTRY_MAX_HUBS] = {NULL};
	bool used[REGISTRY_MAX_HUBS] = {false};
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < w->n; k++)
			if (w->hubs[k] && strcmp(w->hubs[k]->url, urls[i]) == 0) {
				next[i] = w->hubs[k];
				w->hubs[k] = NULL;
				used[next[i]->index] = true;
				break;
			}
	for (size_t k = 0; k < w->n; k++)
		if (w->hubs[k])
			hub_drop(w, w->hubs[k]);
	for (size_t i = 0; i < n; i++) {
		if (next[i])
			continue;
		unsigned idx = 0;
		while (used[idx])
			idx++;
		used[idx] = true;
		struct hub *h = xcalloc(1, sizeof *h);
		h->w = w;
		h->index = idx;
		snprintf(h->url, sizeof h->url, "%s", urls[i]);
		next[i] = h;
	}
	memcpy(w->hubs, next, sizeof next);
	w->n = n;
}

struct worker *worker_new(struct discoveryd *dd, const char *hub_urls)
{
	struct worker *w = xcalloc(1, sizeof *w);
	w->dd = dd;
	if (!dd->fetch)
		dd->fetch = fetch_new(dd->daemon->base);
	set_hubs(w, hub_urls);
	w->timer = event_new(dd->daemon->base, -1, EV_PERSIST, on_timer, w);
	if (!w->timer)
		abort();
	arm(w);
	on_timer(-1, 0, w); /* register at once, not one interval late */
	return w;
}

void worker_set_hub(struct worker *w, const char *hub_urls)
{
	set_hubs(w, hub_urls);
	arm(w); /* the interval may have changed */
	on_timer(-1, 0, w);
}

bool worker_registered(const struct worker *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->hubs[i]->registered)
			return true;
	return false;
}

size_t worker_hub_count(const struct worker *w)
{
	return w ? w->n : 0;
}

const char *worker_hub_url(const struct worker *w, size_t i, unsigned *index, bool *reached,
			   bool *self)
{
	const struct hub *h = w->hubs[i];
	double timeout = w->dd->daemon->conf.discovery.heartbeat_timeout;
	*index = h->index;
	*reached = h->registered && h->reached > 0 && now_steady_wall() - h->reached <= timeout;
	*self = h->self;
	return h->url;
}

struct worker *worker_free(struct worker *w)
{
	if (!w)
		return NULL;
	event_free(w->timer);
	for (size_t i = 0; i < w->n; i++) {
		/* After fetch_free no answer comes any more. */
		if (w->hubs[i]->busy && w->dd->fetch)
			w->hubs[i]->dead = true;
		else
			free(w->hubs[i]);
	}
	free(w);
	return NULL;
}
