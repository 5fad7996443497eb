/* discoveryd: the registry of servers and their heartbeats (DESIGN §1, §3). */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discoveryd.h"
#include "fsutil.h"
#include "log.h"
#include "util.h"

static char *state_path;

static struct registry_timing timing_of(const struct conf *c)
{
	return (struct registry_timing){
		.heartbeat_interval = c->discovery.heartbeat_interval,
		.heartbeat_timeout = c->discovery.heartbeat_timeout,
		.evict_after = c->discovery.evict_after,
	};
}

static struct timeval tv_of(double s)
{
	return (struct timeval){(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

static void save_now(struct discoveryd *dd)
{
	json_object *state = registry_to_state(dd->reg, now_wall());
	char *text = strdup(jv_to_string(state));
	if (!text)
		abort();
	json_object_put(state);
	state_writer_submit(dd->writer, text, strlen(text));
	dd->save_pending = false;
	/* Building the state as json-c objects churns through many small blocks; give the
	 * freed ones back so a big registry does not leave a big idle footprint. */
	malloc_trim(0);
}

static void on_save_timer(evutil_socket_t fd, short what, void *arg)
{
	save_now(arg);
}

void discoveryd_schedule_save(struct discoveryd *dd, bool urgent)
{
	/* Membership changes go out within 20 ms (coalescing bursts of registrations);
	 * heartbeat times within one interval: after a crash a server merely looks a
	 * little older until its next heartbeat. */
	double delay = urgent ? 0.02 : dd->daemon->conf.discovery.heartbeat_interval;
	double due = now_mono() + delay;
	if (dd->save_pending && dd->save_due <= due)
		return;
	dd->save_pending = true;
	dd->save_due = due;
	struct timeval tv = tv_of(delay);
	evtimer_add(dd->save_timer, &tv);
}

static void on_transition(const struct server_entry *e, enum server_status from,
			  enum server_status to, bool evicted, void *arg)
{
	struct discoveryd *dd = arg;
	if (evicted) {
		dd->evictions++;
		log_notice("server %s evicted after %.0f s without a heartbeat", e->info.server_id,
			   now_wall() - e->last_heartbeat);
	} else {
		log_info("server %s: %s -> %s", e->info.server_id, server_status_name(from),
			 server_status_name(to));
	}
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct discoveryd *dd = arg;
	self_read_tank_count(dd);
	self_refresh(dd);
	if (registry_sweep(dd->reg, now_wall(), on_transition, dd) > 0)
		discoveryd_schedule_save(dd, true);
	daemon_status("%zu servers known, role %s", registry_count(dd->reg),
		      dd->worker ? "worker" : "hub");
}

static void arm_sweep(struct discoveryd *dd)
{
	double s = dd->daemon->conf.discovery.heartbeat_interval / 4;
	if (s < 0.05)
		s = 0.05;
	if (s > 5)
		s = 5;
	struct timeval tv = tv_of(s);
	event_del(dd->sweep_timer);
	event_add(dd->sweep_timer, &tv);
}

static void load_state(struct discoveryd *dd)
{
	char *text;
	size_t len;
	int r = fs_read_file(state_path, 256u << 20, &text, &len);
	if (r == -ENOENT)
		return;
	if (r < 0)
		fatal("cannot read %s: %s", state_path, strerror(-r));
	struct json_err e;
	json_object *o = jv_parse_object(text, len, 16, &e);
	free(text);
	if (o && registry_from_state(dd->reg, o, &e) == 0) {
		log_info("loaded %zu servers from %s", registry_count(dd->reg), state_path);
		json_object_put(o);
		return;
	}
	json_object_put(o);
	/* The registry is soft state that rebuilds itself (every server re-registers on
	 * its next heartbeat), so a damaged file is kept for inspection, reported, and
	 * replaced instead of blocking the start. */
	char moved[CONF_PATH + 64];
	snprintf(moved, sizeof moved, "%s.corrupt-%ld", state_path, (long)now_wall());
	if (rename(state_path, moved) < 0)
		fatal("%s is damaged (%s) and cannot be moved aside: %s", state_path, e.msg,
		      strerror(errno));
	log_err("%s is damaged (%s); kept as %s, starting with an empty registry; servers "
		"register again on their next heartbeat", state_path, e.msg, moved);
	registry_free(dd->reg);
	dd->reg = registry_new(dd->daemon->conf.server.server_id, &(struct registry_timing){
		.heartbeat_interval = dd->daemon->conf.discovery.heartbeat_interval,
		.heartbeat_timeout = dd->daemon->conf.discovery.heartbeat_timeout,
		.evict_after = dd->daemon->conf.discovery.evict_after});
}

static int on_reload(void *arg, const struct conf *newc)
{
	struct discoveryd *dd = arg;
	const struct conf *old = &dd->daemon->conf;
	if (strcmp(newc->server.server_id, old->server.server_id) != 0 ||
	    strcmp(newc->server.state_dir, old->server.state_dir) != 0) {
		log_err("server_id and state_dir cannot change on reload; restart instead");
		return -EINVAL;
	}
	registry_set_timing(dd->reg, &(struct registry_timing){
		.heartbeat_interval = newc->discovery.heartbeat_interval,
		.heartbeat_timeout = newc->discovery.heartbeat_timeout,
		.evict_after = newc->discovery.evict_after});
	http_server_set_token(dd->http, newc->security.token, newc->security.insecure);
	dd->daemon->conf = *newc; /* the worker and timers read the new values */
	arm_sweep(dd);
	if (dd->worker && newc->discovery.hub_url[0])
		worker_set_hub(dd->worker, newc->discovery.hub_url);
	else if (dd->worker)
		dd->worker = worker_free(dd->worker);
	else if (newc->discovery.hub_url[0])
		dd->worker = worker_new(dd, newc->discovery.hub_url);
	return 0;
}

static void on_stop(void *arg)
{
	struct discoveryd *dd = arg;
	daemon_exit(dd->daemon);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	static struct discoveryd dd;
	daemon_init(&d, "discoveryd", argc, argv);
	const struct conf *c = &d.conf;
	dd.daemon = &d;
	dd.started_mono = now_mono();

	char *dir = fs_path_join(c->server.state_dir, "discovery");
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", dir, strerror(-r));
	state_path = fs_path_join(dir, "registry.json");
	free(dir);

	struct registry_timing t = timing_of(c);
	dd.reg = registry_new(c->server.server_id, &t);
	load_state(&dd);
	dd.writer = state_writer_new(state_path);
	/* No outgoing HTTP client until the worker role needs one (worker.c): a hub never
	 * makes a request, and the client brings libcurl in. */
	dd.save_timer = evtimer_new(d.base, on_save_timer, &dd);
	dd.sweep_timer = event_new(d.base, -1, EV_PERSIST, on_sweep, &dd);
	dd.http = api_new(&dd);
	daemon_set_handlers(&d, on_reload, on_stop, &dd);
	dd.tcp_port = daemon_listen(&d, dd.http, c->discovery.socket, &c->discovery.listen);
	self_init(&dd);
	arm_sweep(&dd);
	discoveryd_schedule_save(&dd, true);
	if (c->discovery.hub_url[0])
		dd.worker = worker_new(&dd, c->discovery.hub_url);
	daemon_ready(&d, "server %s, %s, %zu servers known, port %d", dd.self.server_id,
		     dd.worker ? "worker" : "hub", registry_count(dd.reg), dd.tcp_port);

	daemon_run(&d);

	log_info("stopping: saving the registry");
	save_now(&dd);
	dd.fetch = fetch_free(dd.fetch);
	dd.worker = worker_free(dd.worker);
	dd.http = http_server_free(dd.http);
	dd.writer = state_writer_free(dd.writer);
	event_free(dd.save_timer);
	event_free(dd.sweep_timer);
	dd.reg = registry_free(dd.reg);
	free(state_path);
	daemon_done(&d);
	log_info("stopped");
	return 0;
}
