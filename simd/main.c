/* simd: tanks, the simulation, and the durable transfer inbox and outbox (DESIGN §4, §6). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "poker_games.h"
#include "simd.h"
#include "statefile.h"
#include "api-extra.h"
#include "statelock.h"
#include "xalloc.h"

/* STATUS= for systemctl status, and state_dir/sim/summary.json for discoveryd, which
 * advertises this server's tank count in its ServerInfo without an HTTP round trip. */
static void status_line(struct simd *sd)
{
	size_t fish = tanks_count_fish(sd, false, NULL, NULL);
	daemon_status("%zu tanks, %zu fish, %zu in transit", sd->n_tanks, fish, sd->outbox_count);
	static size_t last_tanks = (size_t)-1, last_fish = (size_t)-1;
	if (sd->n_tanks == last_tanks && fish == last_fish)
		return;
	last_tanks = sd->n_tanks;
	last_fish = fish;
	char *text;
	text = xasprintf("{\"tank_count\":%zu,\"fish\":%zu}\n", sd->n_tanks, fish);
	state_writer_submit(sd->summary, text, strlen(text));
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
	status_line(arg);
}

/* The first start creates the default tank; an operator who deletes every tank later
 * does not get it back on the next start. */
static void first_start(struct simd *sd, const char *marker)
{
	if (access(marker, F_OK) == 0 || sd->n_tanks > 0)
		return;
	const struct conf *c = &sd->daemon->conf;
	struct tank_meta m = {.is_public = true, .allow_transfers = true, .created_at = now_wall()};
	uuid_random_str(m.id);
	snprintf(m.name, sizeof m.name, "%s", c->sim.default_tank_name); /* checked by conf.c */
	uint64_t seed = c->sim.seed;
	if (!seed) {
		char u[UUID_STR_LEN];
		uuid_random_str(u);
		for (const char *p = u; *p; p++)
			seed = seed * 131 + (unsigned char)*p;
	}
	struct tank_params p = tanks_default_params(c, seed);
	struct tank_slot *slot;
	if (xfer_tank_create(sd, &m, &p, false, &slot, NULL, NULL) < 0)
		fatal("cannot create the first tank"); /* its world was checked at the start */
	journal_wait_durable(sd->journal, slot->applied_seq);
	fs_write_atomic_or_die(marker, "", 0);
	log_info("first start: created tank %s (%s), seed %llu", m.id, m.name,
		 (unsigned long long)seed);
}

static int on_reload(void *arg, const struct conf *newc)
{
	struct simd *sd = arg;
	daemon_http_reload(sd->http, newc);
	sd->daemon->conf = *newc;
	/* Armed again only for a new snapshot_interval (timer_every): reloads that started
	 * it over stopped the rounds for good, and the journal and the restart's
	 * re-simulation grew without end (a crash-timing audit). */
	store_schedule(sd);
	return 0;
}

static void on_stop(void *arg)
{
	struct simd *sd = arg;
	daemon_exit(sd->daemon);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	static struct simd sd;
	daemon_init(&d, "simd", tanks_conf_check, argc, argv);
	const struct conf *c = &d.conf;
	sd.daemon = &d;
	sd.started_mono = now_mono();
	rng_seed_kernel(&sd.pick_rng);
	TAILQ_INIT(&sd.tanks);
	TAILQ_INIT(&sd.gate_all_sets);
	TAILQ_INIT(&sd.outbox);
	TAILQ_INIT(&sd.inbox);
	pthread_mutex_init(&sd.xfer_lock, NULL);
	pthread_mutex_init(&sd.list_lock, NULL);
	pthread_mutex_init(&sd.build_lock, NULL);
	pthread_mutex_init(&sd.reader_run, NULL);

	char *simdir = fs_path_join(c->server.state_dir, "sim");
	state_lock_or_die(simdir, "simd");
	char *jdir = fs_path_join(simdir, "journal");
	char *marker = fs_path_join(simdir, "initialized");
	sd.tanks_dir = fs_path_join(simdir, "tanks");
	sd.meta_path = fs_path_join(simdir, "transfers.json");
	sd.manifest_path = fs_path_join(simdir, "manifest.json");
	sd.summary_path = fs_path_join(simdir, "summary.json");
	sd.journal_dir = jdir;
	sd.summary = state_writer_new(sd.summary_path);
	char *public_path = fs_path_join(simdir, "public-tanks.json");
	sd.public_tanks = state_writer_new(public_path);
	state_writer_attach(sd.public_tanks, d.base);
	free(public_path);
	sd.journal = journal_open(jdir, d.base);
	store_recover(&sd, access(marker, F_OK) == 0);
	first_start(&sd, marker);
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd.tanks, link)
		tanks_start(&sd, s);
	store_schedule(&sd);

	sd.http = api_new(&sd);
	api_www_check(&sd);
	daemon_set_handlers(&d, on_reload, on_stop, &sd);
	int port = daemon_listen(&d, sd.http, c->sim.socket, &c->sim.listen);
	struct event *status_timer = event_new(d.base, -1, EV_PERSIST, on_status_timer, &sd);
	struct timeval two = {2, 0};
	event_add(status_timer, &two);
	status_line(&sd);
	/* On disk before simd says it is ready: migrated, reading it, would hide a public
	 * tank it does not find there. */
	tanks_publish_public(&sd, NULL, NULL);
	state_writer_flush(sd.public_tanks);
	daemon_ready(&d, "%zu tanks, %zu fish, %zu in transit, port %d", sd.n_tanks,
		     tanks_count_fish(&sd, false, NULL, NULL), sd.outbox_count, port);

	daemon_run(&d);

	log_info("stopping: final snapshot");
	tanks_build_shutdown(&sd);
	readers_shutdown(&sd);
	tanks_stop_all(&sd);
	store_snapshot_all_sync(&sd);
	event_free(status_timer);
	sd.http = http_server_free(sd.http);
	api_relay_free();
	sd.journal = journal_close(sd.journal);
	sd.summary = state_writer_free(sd.summary);
	sd.public_tanks = state_writer_free(sd.public_tanks);
	free(sd.public_last);
	while ((s = TAILQ_FIRST(&sd.tanks)))
		tanks_remove(&sd, s);
	xfer_free_all(&sd);
	poker_games_free(sd.poker_games);
	free(simdir);
	free(jdir);
	free(marker);
	free(sd.tanks_dir);
	free(sd.meta_path);
	free(sd.manifest_path);
	free(sd.summary_path);
	daemon_done(&d);
	log_info("stopped");
	return 0;
}
