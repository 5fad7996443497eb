/* discoveryd: the registry of servers and their heartbeats (DESIGN §1, §3). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "discoveryd.h"
#include "fsutil.h"
#include "journal.h"
#include "statefile.h"
#include "statelock.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

static char *state_path, *legacy_path;

/* Journal records per batch: about 3 µs each, so a batch holds the loop a few ms. */
#define SAVE_BATCH 2000

static struct registry_timing timing_of(const struct conf *c)
{
	return (struct registry_timing){
		.heartbeat_interval = c->discovery.heartbeat_interval,
		.heartbeat_timeout = c->discovery.heartbeat_timeout,
		.evict_after = c->discovery.evict_after,
	};
}

/* A registry as the configuration sets it up, at the start and after a damaged journal. */
static struct registry *registry_of(const struct conf *c)
{
	struct registry_timing t = timing_of(c);
	struct registry *r = registry_new(c->server.server_id, &t);
	registry_set_max_servers(r, (size_t)c->discovery.max_servers);
	return r;
}

/* Appends what changed since the last batch and a checkpoint: the cost follows the
 * changes, not the size of the registry. At the stop (final), the checkpoint after the
 * last batch says "clean": every revision readers were given is in the journal. */
static void save_now(struct discoveryd *dd, bool final)
{
	double now = now_steady_wall();
	size_t cap = 0, len = 0;
	char *text = NULL;
	/* A burst (every server of a big registry changing status at once) goes out in
	 * batches, so the loop never holds still for the whole registry. */
	size_t n = 0;
	const struct server_entry *e = registry_changed_first(dd->reg, dd->saved_rev);
	for (; e && n < SAVE_BATCH; e = registry_changed_next(e), n++) {
		registry_entry_append_record(dd->reg, e, now, &text, &len, &cap);
		dd->saved_rev = e->rev;
	}
	if (!e)
		dd->saved_rev = registry_revision(dd->reg);
	/* Handed to the writer thread, which appends in order or dies: recorded. */
	registry_set_persisted(dd->reg, dd->saved_rev);
	char cp[160];
	int cl = snprintf(cp, sizeof cp,
			  "{\"checkpoint\":%.3f,\"epoch\":\"%016" PRIx64 "\",\"rev\":%" PRIu64
			  "%s}\n",
			  now, registry_epoch(dd->reg), dd->saved_rev,
			  final && !e ? ",\"clean\":true" : "");
	text = xrealloc(text, len + (size_t)cl + 1);
	memcpy(text + len, cp, (size_t)cl + 1);
	len += (size_t)cl;
	journal_append(dd->journal, text, len);
	dd->save_pending = false;
	if (e)
		discoveryd_schedule_save(dd, true); /* the rest of the burst */
}

static void on_save_timer(evutil_socket_t fd, short what, void *arg)
{
	save_now(arg, false);
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
	struct timeval tv = timer_tv(delay);
	evtimer_add(dd->save_timer, &tv);
}

static void on_transition(const struct server_entry *e, enum server_status from,
			  enum server_status to, bool evicted, void *arg)
{
	struct discoveryd *dd = arg;
	if (evicted) {
		dd->evictions++;
		log_notice("server %s evicted after %.0f s without a heartbeat", e->info.server_id,
			   now_steady_wall() - e->last_heartbeat);
	} else {
		log_info("server %s: %s -> %s", e->info.server_id, server_status_name(from),
			 server_status_name(to));
	}
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct discoveryd *dd = arg;
	/* A new tank count goes to the hubs (or etcd) now: a server just started advertised
	 * 0 tanks for a heartbeat interval, 30 s by default, as simd writes the count after
	 * discoveryd has read it (a new user's audit). */
	bool changed = self_read_tank_count(dd);
	self_refresh(dd);
	if (changed && dd->worker)
		worker_heartbeat_now(dd->worker);
	else if (changed && dd->etcd)
		etcd_heartbeat_now(dd->etcd);
	if (registry_sweep(dd->reg, now_steady_wall(), on_transition, dd) > 0)
		discoveryd_schedule_save(dd, true);
	daemon_status("%zu servers known, role %s", registry_count(dd->reg), discoveryd_role(dd));
}

static void arm_sweep(struct discoveryd *dd)
{
	double s = dd->daemon->conf.discovery.heartbeat_interval / 4;
	if (s < 0.05)
		s = 0.05;
	if (s > 5)
		s = 5;
	timer_every(dd->sweep_timer, &dd->sweep_period, s);
}

static void reset_registry(struct discoveryd *dd)
{
	registry_free(dd->reg);
	dd->reg = registry_of(&dd->daemon->conf);
}

static void report_set_aside(const char *path, const char *why, const char *moved)
{
	log_err("%s is damaged (%s); kept as %s, starting with an empty registry; servers "
		"register again on their next heartbeat",
		path, why, moved);
}

static int decode_registry(void *arg, json_object *o, struct json_err *e)
{
	return registry_from_state(arg, o, e);
}

/* The registry file of earlier versions, read once when there is no journal yet. */
static bool load_legacy(struct discoveryd *dd)
{
	char moved[CONF_PATH + 64];
	struct json_err e;
	int r = state_file_load(legacy_path, 256u << 20, decode_registry, dd->reg, moved,
				sizeof moved, &e);
	if (r > 0)
		log_info("loaded %zu servers from %s", registry_count(dd->reg), legacy_path);
	if (r < 0) {
		report_set_aside(legacy_path, e.msg, moved);
		reset_registry(dd);
	}
	return r > 0;
}

/* The registry is soft state that rebuilds itself (every server re-registers on its
 * next heartbeat), so a damaged journal is kept for inspection, reported, and replaced
 * instead of blocking the start. */
static uint64_t random_id(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof v, 0) != sizeof v)
		v = (uint64_t)(now_wall() * 1e6) ^ ((uint64_t)getpid() << 40);
	return v;
}

static void load_state(struct discoveryd *dd)
{
	uint64_t epoch = 0, rev = 0;
	bool clean = false;
	char err[300];
	int r = journal_load(state_path, dd->reg, &epoch, &rev, &clean, err, sizeof err);
	if (r == -ENOENT) {
		if (load_legacy(dd))
			dd->migrate_legacy = true;
	} else if (r < 0) {
		char moved[CONF_PATH + 64];
		state_file_set_aside(state_path, moved, sizeof moved);
		report_set_aside(state_path, err, moved);
		reset_registry(dd);
		epoch = 0;
	} else {
		log_info("loaded %zu servers from %s", registry_count(dd->reg), state_path);
	}
	/* A new epoch at every start tells readers that revisions start over, and every
	 * worker reads the registry whole again. After a crash the journal may end before
	 * revisions readers were given (a heartbeat's change is saved within an interval):
	 * counting on from its last checkpoint would give those revisions to new changes,
	 * which a worker that already read past them would never ask for. A clean stop
	 * kept its epoch once, but a copy of a cleanly stopped hub put back later looks the
	 * same, and the same revisions then named other changes: its workers kept servers
	 * it no longer knew online for good, and missed new ones (an operator's audit). */
	(void)clean; /* still written at a stop, and read by older discoveryd */
	epoch = 0;
	while (!epoch)
		epoch = random_id();
	registry_set_epoch(dd->reg, epoch, rev);
	/* Ours alone: a whole listing that names it began after the load (api.c). */
	snprintf(dd->listing, sizeof dd->listing, "%016" PRIx64, random_id());
}

static int on_reload(void *arg, const struct conf *newc)
{
	struct discoveryd *dd = arg;
	const struct conf *old = &dd->daemon->conf;
	/* Compared before the running configuration is replaced below: it was replaced
	 * first, so the old values compared were the new ones, new etcd endpoints were never
	 * used and a backend change was never refused (an operator's audit). Refused before
	 * anything is applied, as the daemon then keeps the running configuration. */
	if (strcmp(newc->discovery.backend, old->discovery.backend) != 0) {
		log_err("backend cannot change on reload; restart instead");
		return -EINVAL;
	}
	bool timing_changed = newc->discovery.heartbeat_interval !=
				      old->discovery.heartbeat_interval ||
			      newc->discovery.heartbeat_timeout != old->discovery.heartbeat_timeout;
	bool etcd_changed = strcmp(newc->discovery.etcd_endpoints, old->discovery.etcd_endpoints) !=
				    0 ||
			    strcmp(newc->discovery.etcd_prefix, old->discovery.etcd_prefix) != 0;
	struct registry_timing timing = timing_of(newc);
	registry_set_timing(dd->reg, &timing);
	registry_set_max_servers(dd->reg, (size_t)newc->discovery.max_servers);
	daemon_http_reload(dd->http, newc);
	dd->daemon->conf = *newc; /* the worker, timers and etcd read the new values */
	/* What this server advertises: a new advertise_host was ignored until a restart,
	 * and peers kept the old address (an operator's audit). */
	self_init(dd);
	arm_sweep(dd); /* again only for a new heartbeat_interval (timer_every) */
	if (dd->etcd && etcd_changed) {
		log_notice("etcd endpoints or prefix changed: connecting again");
		dd->etcd = etcd_free(dd->etcd);
		dd->etcd = etcd_new(dd);
	}
	if (dd->etcd)
		etcd_reload(dd->etcd, timing_changed); /* no hubs with etcd */
	else if (dd->worker && newc->discovery.hub_url[0])
		worker_set_hub(dd->worker, newc->discovery.hub_url); /* new hubs, or the interval */
	else if (dd->worker)
		dd->worker = worker_free(dd->worker);
	else if (newc->discovery.hub_url[0])
		dd->worker = worker_new(dd, newc->discovery.hub_url);
	return 0;
}

const char *discoveryd_role(const struct discoveryd *dd)
{
	return dd->etcd ? "etcd" : dd->worker ? "worker" : "hub";
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
	daemon_init(&d, "discoveryd", NULL, argc, argv);
	const struct conf *c = &d.conf;
	dd.daemon = &d;
	dd.started_mono = now_mono();

	char *dir = fs_path_join(c->server.state_dir, "discovery");
	state_lock_or_die(dir, "discoveryd");
	state_path = fs_path_join(dir, "registry.journal");
	legacy_path = fs_path_join(dir, "registry.json");
	free(dir);

	dd.reg = registry_of(c);
	load_state(&dd);
	dd.journal = journal_new(state_path);
	/* Before the first save: a registry of more than one batch schedules the rest. */
	dd.save_timer = evtimer_new(d.base, on_save_timer, &dd);
	/* Before anyone reads a revision: a checkpoint with the new epoch, which is not
	 * clean (for an older discoveryd started on this journal). The legacy registry
	 * goes in with it. */
	do
		save_now(&dd, false);
	while (dd.saved_rev < registry_revision(dd.reg));
	journal_flush(dd.journal);
	if (dd.migrate_legacy && unlink(legacy_path) == 0)
		log_notice("registry moved from %s to %s", legacy_path, state_path);
	/* No outgoing HTTP client until the worker role needs one (worker.c): a hub never
	 * makes a request, and the client brings libcurl in. */
	dd.sweep_timer = event_new(d.base, -1, EV_PERSIST, on_sweep, &dd);
	dd.http = api_new(&dd);
	daemon_set_handlers(&d, on_reload, on_stop, &dd);
	dd.tcp_port = daemon_listen(&d, dd.http, c->discovery.socket, &c->discovery.listen);
	self_init(&dd);
	arm_sweep(&dd);
	discoveryd_schedule_save(&dd, true);
	if (strcmp(c->discovery.backend, "etcd") == 0)
		dd.etcd = etcd_new(&dd);
	else if (c->discovery.hub_url[0])
		dd.worker = worker_new(&dd, c->discovery.hub_url);
	daemon_ready(&d, "server %s, %s, %zu servers known, port %d", dd.self.server_id,
		     discoveryd_role(&dd), registry_count(dd.reg), dd.tcp_port);

	daemon_run(&d);

	log_info("stopping: saving the registry");
	do
		save_now(&dd, true);
	while (dd.saved_rev < registry_revision(dd.reg));
	dd.etcd = etcd_free(dd.etcd);
	dd.fetch = fetch_free(dd.fetch);
	dd.worker = worker_free(dd.worker);
	api_list_free(&dd);
	dd.http = http_server_free(dd.http);
	dd.journal = journal_free(dd.journal);
	event_free(dd.save_timer);
	event_free(dd.sweep_timer);
	dd.reg = registry_free(dd.reg);
	free(state_path);
	free(legacy_path);
	daemon_done(&d);
	log_info("stopped");
	return 0;
}
