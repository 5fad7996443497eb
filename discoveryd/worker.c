/* The worker role (DISCOVERY_SERVER_URL / [discovery] hub_url): register with the
 * hub, heartbeat to it every interval, register again whenever it answers 404 (it
 * lost our entry, e.g. after a restart), and pull its list so that workers learn
 * about each other. The original registered once and never again (§1.14 item 19). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

struct worker {
	struct discoveryd *dd;
	char hub_url[CONF_STR];
	struct event *timer;
	bool busy;	 /* a cycle is in flight: never overlap them */
	bool registered; /* the hub acknowledged us since the last 404 */
	bool hub_down;	 /* to log a lost hub once, not every interval */
};

static void cycle_start(struct worker *w);

static void build_url(const struct worker *w, const char *path, char *out, size_t n)
{
	size_t l = strlen(w->hub_url);
	int trim = l > 0 && w->hub_url[l - 1] == '/';
	snprintf(out, n, "%.*s%s", (int)(l - (size_t)trim), w->hub_url, path);
}

static void send_json(struct worker *w, const char *method, const char *path, json_object *body,
		      fetch_cb cb)
{
	char url[CONF_STR + 128];
	build_url(w, path, url, sizeof url);
	const struct conf *c = &w->dd->daemon->conf;
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
	if (req.timeout_ms < 500)
		req.timeout_ms = 500;
	if (fetch_start(w->dd->fetch, &req, cb, w) < 0) {
		log_err("cannot start a request to the hub");
		w->busy = false;
	}
	json_object_put(body);
}

static void hub_failed(struct worker *w, const struct fetch_response *r, const char *what)
{
	w->dd->hub_errors++;
	w->busy = false;
	if (!w->hub_down)
		log_warn("hub %s: %s failed: %s", w->hub_url, what,
			 r->status ? "unexpected HTTP status" : r->error);
	if (r->status)
		log_debug("hub answered %ld: %.200s", r->status, r->body);
	w->hub_down = true;
}

static void hub_ok(struct worker *w)
{
	if (w->hub_down)
		log_notice("hub %s reachable again", w->hub_url);
	w->hub_down = false;
}

static void on_list(const struct fetch_response *r, void *arg)
{
	struct worker *w = arg;
	w->busy = false;
	if (r->status != 200)
		return hub_failed(w, r, "listing servers");
	struct json_err e;
	json_object *o = jv_parse_object(r->body, r->len, 16, &e), *list;
	if (!o || jv_array(o, "servers", true, 1000000, &list, &e) < 0) {
		log_warn("hub sent a server list that does not parse: %s", e.msg);
		json_object_put(o);
		return;
	}
	size_t n = json_object_array_length(list), used = 0;
	struct registry_learned *learned = calloc(n ? n : 1, sizeof *learned);
	if (!learned)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(list, i);
		double age = 0;
		if (server_info_from_json(s, &learned[used].info, &e) < 0 ||
		    jv_double(s, "heartbeat_age_seconds", false, 0, 1e10, &age, &e) < 0) {
			log_warn("hub listed an invalid server, ignoring it: %s", e.msg);
			continue;
		}
		learned[used++].heartbeat_age = age;
	}
	size_t changes = registry_merge_learned(w->dd->reg, learned, used, now_wall());
	if (changes) {
		log_info("learned %zu change(s) from the hub's list", changes);
		discoveryd_schedule_save(w->dd, true);
	}
	free(learned);
	json_object_put(o);
}

static void fetch_list(struct worker *w)
{
	w->busy = true;
	send_json(w, "GET", "/api/discovery/servers?include_local=true", NULL, on_list);
}

static void on_register(const struct fetch_response *r, void *arg)
{
	struct worker *w = arg;
	if (r->status != 200)
		return hub_failed(w, r, "registration");
	hub_ok(w);
	if (!w->registered)
		log_info("registered with the hub %s", w->hub_url);
	w->registered = true;
	fetch_list(w);
}

static void do_register(struct worker *w)
{
	self_refresh(w->dd);
	send_json(w, "POST", "/api/discovery/register", server_info_to_json(&w->dd->self),
		  on_register);
}

static void on_heartbeat(const struct fetch_response *r, void *arg)
{
	struct worker *w = arg;
	if (r->status == 404) {
		log_notice("the hub does not know this server (it may have restarted): "
			   "registering again");
		w->registered = false;
		do_register(w);
		return;
	}
	if (r->status != 200)
		return hub_failed(w, r, "heartbeat");
	hub_ok(w);
	fetch_list(w);
}

static void cycle_start(struct worker *w)
{
	if (w->busy)
		return;
	w->busy = true;
	if (!w->registered) {
		do_register(w);
		return;
	}
	self_refresh(w->dd);
	char path[128];
	snprintf(path, sizeof path, "/api/discovery/heartbeat/%s", w->dd->self.server_id);
	send_json(w, "POST", path, server_info_to_json(&w->dd->self), on_heartbeat);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	cycle_start(arg);
}

static void arm(struct worker *w)
{
	double s = w->dd->daemon->conf.discovery.heartbeat_interval;
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
	event_del(w->timer);
	event_add(w->timer, &tv);
}

struct worker *worker_new(struct discoveryd *dd, const char *hub_url)
{
	struct worker *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->dd = dd;
	if (!dd->fetch)
		dd->fetch = fetch_new(dd->daemon->base);
	snprintf(w->hub_url, sizeof w->hub_url, "%s", hub_url);
	w->timer = event_new(dd->daemon->base, -1, EV_PERSIST, on_timer, w);
	if (!w->timer)
		abort();
	arm(w);
	cycle_start(w); /* register at once, not one interval late */
	return w;
}

void worker_set_hub(struct worker *w, const char *hub_url)
{
	if (strcmp(w->hub_url, hub_url) != 0) {
		snprintf(w->hub_url, sizeof w->hub_url, "%s", hub_url);
		w->registered = false;
	}
	arm(w); /* the interval may have changed */
}

bool worker_registered(const struct worker *w)
{
	return w->registered;
}

struct worker *worker_free(struct worker *w)
{
	if (!w)
		return NULL;
	event_free(w->timer);
	free(w);
	return NULL;
}
