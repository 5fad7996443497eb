/* Start-up replay's machinery; each kind of record is replayed in jrec.c. The
 * journal's records are applied to the state loaded from snapshots, each part only to the tank (or the transfer tables) whose snapshot does not contain it
 * yet, so replaying twice changes nothing.
 *
 * A tank is deterministic: its state at any frame follows from its snapshot and the
 * inputs it got, each at its frame. So every record that changes a tank carries the
 * frame it was applied at, and replay steps the tank to that frame before applying
 * it; frame marks (at least once a second while a tank runs) carry a checkpoint hash
 * and bring the tank to where it was just before a crash. A hash that disagrees stops
 * the start: the state would no longer be the one clients saw.
 *
 * Fish that reached an open wall and bounced (exitgate.c said not now) are not
 * journaled: live, every fish the step put in the exit queue either left (an `exit`
 * record of that frame) or went back in at once, in queue order, before anything else
 * touched the tank. Replay does the same: an exit record takes its fish from the queue,
 * returning the ones before it, and any other record, or the next step, returns what
 * is left (replay_settle). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "replay.h"

/* The checkpoint: every fish's id, place and energy, and the counters. Replay
 * reproduces it bit for bit or has gone wrong. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t replay_hash(const struct tank *t)
{
	struct tank_stats st;
	tank_get_stats(t, &st);
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv(h, &st.frame, sizeof st.frame);
	h = fnv(h, &st.fish_count, sizeof st.fish_count);
	h = fnv(h, &st.food_count, sizeof st.food_count);
	h = fnv(h, &st.births, sizeof st.births);
	h = fnv(h, &st.deaths, sizeof st.deaths);
	h = fnv(h, &st.total_energy, sizeof st.total_energy);
	size_t n = tank_fish_count(t);
	for (size_t i = 0; i < n; i++) {
		const struct fish *f = tank_fish_at(t, i);
		double v[3] = {fish_x(f), fish_y(f), fish_energy(f)};
		h = fnv(h, fish_id(f), strlen(fish_id(f)));
		h = fnv(h, v, sizeof v);
	}
	return h;
}

void replay_settle(struct tank_slot *s)
{
	struct fish *f;
	enum wall w;
	while (tank_take_exited(s->sim, &f, &w, 1) == 1)
		if (tank_return_fish_at(s->sim, f, w) < 0)
			fish_free(f);
}

int replay_exit(struct tank_slot *s, const char *fid, struct json_err *e)
{
	struct fish *f;
	enum wall w;
	while (tank_take_exited(s->sim, &f, &w, 1) == 1) {
		if (strcmp(fish_id(f), fid) == 0) {
			fish_free(f);
			return 0;
		}
		if (tank_return_fish_at(s->sim, f, w) < 0) /* it bounced */
			fish_free(f);
	}
	return replay_diverged(s, "the fish that left through the wall did not reach it", e);
}

int replay_at(struct tank_slot *s, json_object *rec, const char *key, struct json_err *e)
{
	if (replay_advance(s, rec, key, e) < 0)
		return -EINVAL;
	replay_settle(s);
	return 0;
}

/* Below this many fish a frame is too short for a second thread to pay off. */
#define REPLAY_THREADS_FROM_FISH 2000

static int replay_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus >= 2 ? 2 : 1;
}

int replay_advance(struct tank_slot *s, json_object *rec, const char *key, struct json_err *e)
{
	int64_t frame = -1;
	if (jv_int64(rec, key, false, 0, INT64_MAX, &frame, e) < 0)
		return -EINVAL;
	if (frame < 0)
		return 0;
	uint64_t now = tank_frame(s->sim);
	if ((uint64_t)frame < now)
		return jv_fail(e,
			       "field '%s': tank %s is at frame %" PRIu64 " already, past the "
			       "record's frame %" PRId64 ": replay has diverged",
			       key, s->meta.id, now, frame);
	if (now == (uint64_t)frame)
		return 0;
	uint64_t steps = (uint64_t)frame - now;
	/* Nothing else runs during the start, so a big tank re-simulates on every core it
	 * may use (the state is the same on any number of threads); tanks_start sets the
	 * tank's own number afterwards. */
	if (tank_fish_count(s->sim) >= REPLAY_THREADS_FROM_FISH)
		tank_set_threads(s->sim, replay_threads());
	double t0 = now_mono();
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (uint64_t i = 0; i < steps; i++) {
		/* What the last frame put in the exit queue and no record took bounced,
		 * before the next step, as the tick returned them. */
		if (tank_exited_count(s->sim) > 0)
			replay_settle(s);
		tank_step(s->sim);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	double took = now_mono() - t0;
	/* What the next restart would re-simulate too (CPU time, as the ticks count it). */
	s->resim_cost += (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	s->replayed_frames += steps;
	s->sd->replay_seconds += took;
	s->sd->replay_frames += steps;
	return 0;
}

/* A tank whose snapshot or create record was written under other simulation rules (an
 * upgrade after a crash: a clean stop snapshots every tank, so nothing is re-simulated)
 * cannot be reproduced frame for frame. Its replay is checked but not enforced, like a
 * tank from before every input was journaled. */
bool replay_same_rules(const char *tank_id, int rules)
{
	if (rules == SIM_RULES)
		return true;
	log_info("tank %s: its state was written under simulation rules %d and this simd runs "
		 "rules %d; a divergence in replaying its journal is reported, not fatal",
		 tank_id, rules, SIM_RULES);
	return false;
}

/* Replay no longer reproduces what the live tank did. Every input of a tank is
 * journaled, so that is a bug or a damaged state, and the start stops: going on would
 * serve a tank clients never saw. A tank whose snapshot (or create record) was
 * written before every input was journaled (replay_strict false) could not be
 * reproduced then; it is reported and goes on from the re-simulated state, with every
 * journaled move applied by fish id (departures raise the id serial, so no id is
 * minted twice). */
int replay_diverged(struct tank_slot *s, const char *why, struct json_err *e)
{
	if (s->replay_strict && s->sd->daemon->conf.sim.replay_strict)
		return jv_fail(e,
			       "tank %s: replay diverged from the journal at frame %" PRIu64
			       ": %s. The re-simulated tank is not the one clients saw, so simd "
			       "will not start. Keep the tank's snapshot and this journal for a "
			       "bug report; to give up the tank's state since its snapshot, set "
			       "[sim] replay_strict = no",
			       s->meta.id, tank_frame(s->sim), why);
	if (!s->replay_diverged)
		log_warn("tank %s: replay diverged from the journal at frame %" PRIu64
			 " (%s); it goes "
			 "on from the re-simulated state",
			 s->meta.id, tank_frame(s->sim), why);
	s->replay_diverged = true;
	return 0;
}

int replay_pick(struct tank_slot *s, json_object *rec, const char *fid, struct json_err *e)
{
	bool picked = false;
	if (jv_bool(rec, "picked", false, &picked, e) < 0)
		return -EINVAL;
	if (!picked)
		return 0;
	const char *got = tank_pick_fish(s->sim);
	if (!got || strcmp(got, fid) != 0)
		return replay_diverged(s, "the fish its RNG picks differs from the journaled one",
				       e);
	return 0;
}

struct tank_slot *replay_tank(struct simd *sd, const char *id, uint64_t seq)
{
	struct tank_slot *s = tanks_find(sd, id);
	return s && seq > s->snap_seq ? s : NULL;
}

void replay_remove_fish(struct tank_slot *s, const char *fid, uint64_t serial)
{
	struct fish *f;
	if (tank_take_fish(s->sim, fid, &f) == 0)
		fish_free(f);
	/* A fish born after the snapshot and gone since: never mint its id again. */
	tank_raise_fish_serial(s->sim, serial);
}

int replay_put(struct tank_slot *s, json_object *fishj, bool returning, enum wall arrival,
	       struct json_err *e)
{
	struct fish *f;
	if (fish_from_json(fishj, &f, e) < 0)
		return -EINVAL;
	int r = returning ? tank_return_fish_at(s->sim, f, arrival)
			  : tank_put_fish(s->sim, f, arrival);
	/* It was accepted then: capacity was checked. Still an arrival (migrations_in), not
	 * a return, which would take back a departure and leave the audit's balance off by 2. */
	if (r == -ENOSPC && !returning)
		r = tank_readmit_fish(s->sim, f, arrival);
	if (r < 0)
		fish_free(f); /* already there (its snapshot is newer): nothing to do */
	return 0;
}

void replay_finish(struct simd *sd)
{
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		replay_settle(s);
		if (s->replayed_frames)
			log_info("tank %s: re-simulated %" PRIu64
				 " frames from its snapshot to frame "
				 "%" PRIu64,
				 s->meta.id, s->replayed_frames, tank_frame(s->sim));
		s->last_mark_frame = tank_frame(s->sim);
		s->last_mark_mono = now_mono();
	}
}
