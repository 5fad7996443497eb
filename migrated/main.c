/* migrated: connections, the migration scheduler, exactly-once delivery and the
 * transfer history (DESIGN §1, §5, §6). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "fsutil.h"
#include "statelock.h"
#include "log.h"
#include "migrated.h"
#include "util.h"

static int on_reload(void *arg, const struct conf *newc)
{
	struct migrated *md = arg;
	daemon_http_reload(md->http, newc);
	md->daemon->conf = *newc;
	tbucket_set_rate(&md->global_bucket, newc->migration.max_per_second, now_mono());
	pass_schedule(md); /* armed again only for a new check_interval (timer_every) */
	return 0;
}

static struct event *drain_timer;
static double drain_deadline;

/* Requests already sent are allowed to finish (briefly), so their answers are used
 * and nothing is left half-done in memory; no new ones start once stopping is set. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct migrated *md = arg;
	if (fetch_pending(md->fetch) == 0 || now_mono() >= drain_deadline) {
		if (fetch_pending(md->fetch))
			log_info("stopping with %zu request(s) unanswered",
				 fetch_pending(md->fetch));
		daemon_exit(md->daemon);
		return;
	}
	struct timeval tv = {0, 20000};
	evtimer_add(drain_timer, &tv);
}

static void on_stop(void *arg)
{
	struct migrated *md = arg;
	/* Transfers in flight stay in simd's outbox; the next start resumes them. */
	md->stopping = true;
	if (delivery_in_flight(md->delivery))
		log_info("stopping with %zu transfer(s) in flight: they stay in simd's outbox and "
			 "resume on the next start",
			 delivery_in_flight(md->delivery));
	double wait = md->daemon->conf.migration.request_timeout;
	drain_deadline = now_mono() + (wait < 3 ? wait : 3);
	drain_timer = evtimer_new(md->daemon->base, on_drain, md);
	if (!drain_timer)
		abort();
	on_drain(-1, 0, md);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	static struct migrated md;
	daemon_init(&d, "migrated", NULL, argc, argv);
	const struct conf *c = &d.conf;
	md.daemon = &d;
	md.started_mono = now_mono();
	rng_seed_kernel(&md.rng);

	char *dir = fs_path_join(c->server.state_dir, "migration");
	state_lock_or_die(dir, "migrated");
	md.conn_path = fs_path_join(dir, "connections.json");

	migrated_open_history(&md, dir);
	free(dir);

	md.conns = connections_new(c->server.server_id);
	migrated_load_connections(&md);
	md.conn_writer = state_writer_new(md.conn_path);
	state_writer_set_framed(md.conn_writer);
	state_writer_attach(md.conn_writer, d.base);
	tbucket_init(&md.global_bucket, c->migration.max_per_second, now_mono());
	md.fetch = fetch_new(d.base);
	md.delivery = delivery_new(&md);
	md.peers = peers_new();
	md.pass = pass_new(&md);
	md.exits = exits_new(&md);
	md.refusals_timer = refusals_start(&md);
	md.http = api_new(&md);
	daemon_set_handlers(&d, on_reload, on_stop, &md);
	md.tcp_port = daemon_listen(&d, md.http, c->migration.socket, &c->migration.listen);
	pass_schedule(&md);
	/* At once: resume what a previous run left in the outbox, and bring simd's exits
	 * and the connections in step (a pass that rolls nothing). */
	delivery_resume_outbox(&md);
	forget_resume(&md);
	pass_sync_now(&md);
	daemon_ready(&d, "server %s, %zu connection(s), interval %g s, port %d",
		     c->server.server_id, connections_count(md.conns), c->migration.check_interval,
		     md.tcp_port);

	daemon_run(&d);

	md.stopping = true;
	log_info("stopping");
	if (drain_timer)
		event_free(drain_timer);
	md.fetch = fetch_free(md.fetch); /* cancels requests without calling back */
	forget_free_all();
	md.pass = pass_free(md.pass);
	md.exits = exits_free(md.exits);
	event_free(md.refusals_timer);
	strset_clear(&md.verifying_tanks);
	md.delivery = delivery_free(md.delivery);
	md.peers = peers_free(md.peers);
	md.http = http_server_free(md.http);
	privacy_free();
	md.conn_writer = state_writer_free(md.conn_writer); /* flushes */
	md.conns = connections_free(md.conns);
	md.history = history_free(md.history);
	free(md.conn_path);
	daemon_done(&d);
	log_info("stopped");
	return 0;
}
