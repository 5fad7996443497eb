/* Wall exits are a way out like any other: the same limits hold for them as for the
 * scheduler's migrations (issue 9, DESIGN §5), so that a refusing destination or a crowd
 * at a wall cannot make fish churn through the outbox.
 *
 *  - Budget: migrated pauses a connection whose destination refuses fish by giving its
 *    wall a budget (0: fish bounce off it; 1: one fish may go, a probe). The budget is
 *    runtime state: after a restart walls are open until migrated's next sync.
 *  - Rate: at most [migration] per_connection_per_second fish through one wall and
 *    max_per_second through all walls of this simd (token buckets).
 *  - Per fish: a fish that just arrived in a tank, or came back to it from an aborted
 *    transfer, stays check_interval (at most EXITGATE_STAY_MAX s) before it may leave
 *    through a wall.
 *
 *  - Lease: fish leave through walls only while migrated has listed the outbox (GET
 *    /api/outbox?lease=true on the Unix socket) within EXITGATE_LEASE s; it lists at
 *    least every 2 s. Without it a tank whose migrated was down drained into the outbox
 *    through its open walls (26 of 32 fish in 30 s): no fish was lost, but they sat
 *    there unseen until migrated came back. A restarted simd lets none out until the
 *    first listing.
 *
 * A fish that may not leave bounces: it is returned inside the wall, heading away from
 * it, and nothing is journaled (replay returns every fish of the exit queue that no exit
 * record takes, in the same order: replay.c). A budget of 0 closes the wall in the
 * simulation itself, an input of the tank: exitgate_sync journals it (a gate record). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jrec.h"
#include "log.h"
#include "simd.h"
#include "xalloc.h"

#define EXITGATE_STAY_MAX 10.0
#define EXITGATE_LEASE 10.0 /* five of migrated's listings missed */

static double stay_seconds(const struct simd *sd)
{
	double s = sd->daemon->conf.migration.check_interval;
	return s < EXITGATE_STAY_MAX ? s : EXITGATE_STAY_MAX;
}

/* The recent arrivals are a ring in time order: expired entries leave from its head. */
static void recent_prune(struct tank_slot *slot, double now)
{
	while (slot->n_recent && slot->recent[slot->recent_head].until <= now) {
		slot->recent_head = (slot->recent_head + 1) % slot->cap_recent;
		slot->n_recent--;
	}
}

void exitgate_note_fish(struct tank_slot *slot, const char *fish_id)
{
	double now = now_mono(), stay = stay_seconds(slot->sd);
	recent_prune(slot, now);
	if (stay <= 0)
		return;
	if (slot->n_recent == slot->cap_recent) {
		size_t cap = slot->cap_recent ? slot->cap_recent * 2 : 64;
		struct recent_fish *v = xmalloc(cap * sizeof *v);
		for (size_t i = 0; i < slot->n_recent; i++)
			v[i] = slot->recent[(slot->recent_head + i) % slot->cap_recent];
		free(slot->recent);
		slot->recent = v;
		slot->cap_recent = cap;
		slot->recent_head = 0;
	}
	struct recent_fish *r =
		&slot->recent[(slot->recent_head + slot->n_recent) % slot->cap_recent];
	snprintf(r->id, sizeof r->id, "%s", fish_id);
	r->until = now + stay;
	slot->n_recent++;
}

static bool recent_has(struct tank_slot *slot, const char *fish_id, double now)
{
	recent_prune(slot, now);
	for (size_t i = 0; i < slot->n_recent; i++)
		if (strcmp(slot->recent[(slot->recent_head + i) % slot->cap_recent].id, fish_id) ==
		    0)
			return true;
	return false;
}

void exitgate_set_budget(struct tank_slot *slot, enum wall w, int budget)
{
	slot->exit_budget[w == WALL_LEFT ? 0 : 1] = budget;
}

void exitgate_sync(struct simd *sd, struct tank_slot *slot)
{
	bool changed = false;
	for (int i = 0; i < 2; i++) {
		enum wall w = i ? WALL_RIGHT : WALL_LEFT;
		bool open = slot->exits[i].open && slot->exit_budget[i] != 0;
		if (tank_get_exit(slot->sim, w) != open) {
			tank_set_exit(slot->sim, w, open);
			changed = true;
		}
	}
	if (changed)
		slot->applied_seq = jrec_put(sd, JREC_GATE, &(struct jrec){.slot = slot}, NULL,
					     NULL);
}

int exitgate_budget(const struct tank_slot *slot, enum wall w)
{
	return slot->exit_budget[w == WALL_LEFT ? 0 : 1];
}

bool exitgate_may_leave(struct simd *sd, struct tank_slot *slot, enum wall w, const char *fish_id)
{
	int i = w == WALL_LEFT ? 0 : 1;
	const struct conf *c = &sd->daemon->conf;
	double now = now_mono();
	if (!slot->exits[i].open || slot->exit_budget[i] == 0)
		return false;
	if (recent_has(slot, fish_id, now))
		return false;
	if (!sd->mover_seen || now - sd->mover_seen > EXITGATE_LEASE) {
		if (!sd->mover_lapsed && sd->mover_seen)
			log_warn("fish bounce off the open walls: nothing has listed the outbox for "
				 "%.0f s (is migrated running?)",
				 EXITGATE_LEASE);
		else if (!sd->mover_lapsed)
			log_info("fish bounce off the open walls until migrated lists the outbox");
		sd->mover_lapsed = true;
		return false;
	}
	struct tbucket *b = &slot->exit_bucket[i];
	if (!b->init || b->rate != c->migration.per_connection_per_second)
		tbucket_set_rate(b, c->migration.per_connection_per_second, now);
	if (!sd->exit_bucket.init || sd->exit_bucket.rate != c->migration.max_per_second)
		tbucket_set_rate(&sd->exit_bucket, c->migration.max_per_second, now);
	if (!tbucket_ready(b, now) || !tbucket_ready(&sd->exit_bucket, now))
		return false;
	tbucket_take(b, now);
	tbucket_take(&sd->exit_bucket, now);
	if (slot->exit_budget[i] > 0)
		--slot->exit_budget[i]; /* spent: the caller's exitgate_sync closes the wall */
	return true;
}

void exitgate_renew(struct simd *sd)
{
	pthread_mutex_lock(&sd->xfer_lock);
	sd->mover_seen = now_mono();
	if (sd->mover_lapsed)
		log_info("the outbox is listed again: fish may leave through the walls");
	sd->mover_lapsed = false;
	pthread_mutex_unlock(&sd->xfer_lock);
}

void exitgate_free(struct tank_slot *slot)
{
	free(slot->recent);
	slot->recent = NULL;
	slot->n_recent = slot->cap_recent = slot->recent_head = 0;
}
