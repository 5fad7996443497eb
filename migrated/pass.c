/* Scheduler passes (DESIGN §5): every check_interval, list simd's tanks, keep the
 * connections and simd's exits in step with them, roll every connection and start
 * one migration per hit. A pass is "done" when its reservations (and local moves)
 * are answered; deliveries go on in delivery.c. Passes never overlap: a tick that
 * finds the previous pass still running is skipped (and counted).
 *
 * This file runs a pass from its start to its summary; the phases are pass-tanks.c (1: the
 * tank list, cascade checks and exits), pass-roll.c (2: the plan, destination lookups and
 * conflict tanks' fish) and pass-hits.c (3: reservations and local moves, and the per-fish
 * cooldown). Each phase counts its requests in p->outstanding; the last answer moves
 * the pass on. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pass.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

struct run_waiter {
	pass_done_fn done;
	void *arg;
	struct run_waiter *next;
};

static void pass_begin(struct pass *p, bool roll);

static json_object *summary_json(struct pass *p)
{
	json_object *o = json_object_new_object();
	char ts[32];
	iso8601_utc(p->started_wall, ts);
	json_object_object_add(o, "pass", json_object_new_int64((int64_t)p->seq));
	json_object_object_add(o, "started_at", json_object_new_string(ts));
	json_object_object_add(o, "duration_ms",
			       jv_new_decimal((now_mono() - p->started_mono) * 1000, 3));
	json_object_object_add(o, "tanks", json_object_new_int((int)p->ntanks));
	json_object_object_add(o, "connections", json_object_new_int((int)p->counts.connections));
	json_object_object_add(o, "hits", json_object_new_int((int)p->counts.hits));
	json_object_object_add(o, "misses", json_object_new_int((int)p->counts.misses));
	json_object_object_add(o, "reserved", json_object_new_int((int)p->reserved));
	json_object_object_add(o, "moved_local", json_object_new_int((int)p->moved_local));
	json_object_object_add(o, "refused", json_object_new_int((int)p->refused));
	json_object *sk = json_object_new_object();
	json_object_object_add(sk, "rate_limited", json_object_new_int((int)p->counts.rate_limited));
	json_object_object_add(sk, "backing_off", json_object_new_int((int)p->counts.backing_off));
	json_object_object_add(sk, "no_source_tank", json_object_new_int((int)p->counts.no_source));
	json_object_object_add(sk, "transfers_disabled",
			       json_object_new_int((int)p->counts.disabled));
	json_object_object_add(sk, "empty",
			       json_object_new_int((int)(p->counts.empty + p->no_fish)));
	json_object_object_add(sk, "destination_unavailable",
			       json_object_new_int((int)p->unavailable));
	json_object_object_add(sk, "cooldown", json_object_new_int((int)p->cooldown));
	json_object_object_add(o, "skipped", sk);
	json_object_object_add(o, "errors", json_object_new_int((int)p->errors));
	json_object_object_add(o, "transfer_ids", json_object_get(p->transfer_ids));
	json_object_object_add(o, "error", p->error[0] ? json_object_new_string(p->error) : NULL);
	return o;
}

static void pass_finish(struct pass *p)
{
	struct migrated *md = p->md;
	json_object *summary = summary_json(p);
	/* Every pass of a busy network moves something: debug, but for errors (the counts
	 * are in /api/migrations and /metrics; at info the log grew a line every 2 s). */
	if (p->roll && (p->reserved || p->moved_local || p->errors))
		log_msg(p->errors ? LOG_INFO : LOG_DEBUG,
			"pass %" PRIu64 ": %zu connection(s), %zu hit(s), %zu reserved, %zu moved "
			"locally, %zu refused, %zu rate-limited, %zu error(s)",
			p->seq, p->counts.connections, p->counts.hits, p->reserved, p->moved_local,
			p->refused, p->counts.rate_limited, p->errors);
	if (p->roll) {
		json_object_put(p->last_summary);
		p->last_summary = json_object_get(summary);
	}
	struct run_waiter *w = p->current;
	p->current = NULL;
	while (w) {
		struct run_waiter *n = w->next;
		w->done(json_object_get(summary), w->arg);
		free(w);
		w = n;
	}
	json_object_put(summary);
	free(p->chain);
	p->chain = NULL;
	p->nchain = p->chain_at = 0;
	free(p->ops);
	p->ops = NULL;
	p->nops = 0;
	strset_clear(&p->moved);
	json_object_put(p->transfer_ids);
	p->transfer_ids = NULL;
	p->running = false;
	daemon_status("%zu connection(s), %zu transfer(s) in flight, pass %" PRIu64,
		      connections_count(md->conns), delivery_in_flight(md->delivery), p->seq);
	if (p->next && !md->stopping) {
		p->current = p->next;
		p->next = NULL;
		pass_begin(p, true);
	}
}

void pass_op_done(struct pass *p)
{
	if (--p->outstanding == 0)
		pass_finish(p);
}

static void pass_begin(struct pass *p, bool roll)
{
	struct migrated *md = p->md;
	p->running = true;
	p->roll = roll;
	p->phase = 1;
	if (roll) {
		p->seq++;
		md->m.passes++;
	}
	p->started_mono = now_mono();
	p->started_wall = now_wall();
	p->listing_sent = now_mono();
	free(p->tanks);
	p->tanks = NULL;
	p->ntanks = 0;
	memset(&p->counts, 0, sizeof p->counts);
	p->reserved = p->moved_local = p->refused = p->errors = p->cooldown = 0;
	p->unavailable = p->no_fish = 0;
	p->error[0] = '\0';
	p->transfer_ids = json_object_new_array();
	delivery_resume_outbox(md);
	pass_list_tanks(p);
}

void pass_tick(struct migrated *md)
{
	struct pass *p = md->pass;
	if (md->stopping)
		return;
	if (p->running) {
		/* Logged once a minute at most: with short intervals this can be frequent. */
		md->m.passes_skipped++;
		p->skipped_unlogged++;
		double now = now_mono();
		if (now - p->skip_logged >= 60) {
			log_info("scheduler tick skipped: pass %" PRIu64
				 " is still running (%.1f s); "
				 "%" PRIu64 " tick(s) skipped since the last report",
				 p->seq, now - p->started_mono, p->skipped_unlogged);
			p->skip_logged = now;
			p->skipped_unlogged = 0;
		}
		return;
	}
	pass_begin(p, true);
}

void pass_sync_now(struct migrated *md)
{
	if (!md->pass->running && !md->stopping)
		pass_begin(md->pass, false);
}

void pass_run_now(struct migrated *md, pass_done_fn done, void *arg)
{
	struct pass *p = md->pass;
	struct run_waiter *w = xcalloc(1, sizeof *w);
	w->done = done;
	w->arg = arg;
	if (p->running) { /* a fresh pass right after this one */
		w->next = p->next;
		p->next = w;
		return;
	}
	w->next = p->current;
	p->current = w;
	pass_begin(p, true);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	pass_tick(arg);
}

static void on_outbox_timer(evutil_socket_t fd, short what, void *arg)
{
	struct migrated *md = arg;
	if (!md->stopping)
		delivery_resume_outbox(md);
}

void pass_schedule(struct migrated *md)
{
	struct pass *p = md->pass;
	double s = md->daemon->conf.migration.check_interval;
	timer_every(p->timer, &p->timer_period, s);
	/* Fish that left through a wall wait in the outbox: look there at least every 2 s. */
	timer_every(p->outbox_timer, &p->outbox_period, s < 2.0 ? s : 2.0);
}

struct pass *pass_new(struct migrated *md)
{
	struct pass *p = xcalloc(1, sizeof *p);
	p->md = md;
	p->timer = event_new(md->daemon->base, -1, EV_PERSIST, on_timer, md);
	p->outbox_timer = event_new(md->daemon->base, -1, EV_PERSIST, on_outbox_timer, md);
	if (!p->timer || !p->outbox_timer)
		abort();
	return p;
}

static void free_waiters(struct run_waiter *w)
{
	while (w) {
		struct run_waiter *n = w->next;
		w->done(NULL, w->arg);
		free(w);
		w = n;
	}
}

struct pass *pass_free(struct pass *p)
{
	if (!p)
		return NULL;
	event_free(p->timer);
	event_free(p->outbox_timer);
	free_waiters(p->current);
	free_waiters(p->next);
	free(p->chain);
	free(p->ops);
	free(p->tanks);
	strset_clear(&p->moved);
	json_object_put(p->transfer_ids);
	json_object_put(p->last_summary);
	free(p);
	return NULL;
}

json_object *pass_status_json(struct migrated *md)
{
	struct pass *p = md->pass;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "check_interval",
			       json_object_new_double(md->daemon->conf.migration.check_interval));
	json_object_object_add(o, "running", json_object_new_boolean(p->running));
	json_object_object_add(o, "passes", json_object_new_int64((int64_t)p->seq));
	json_object_object_add(o, "last_pass", json_object_get(p->last_summary));
	return o;
}
