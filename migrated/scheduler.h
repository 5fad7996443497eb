/* The scheduler's decisions, free of I/O so they are unit tested directly: the
 * random roll, the token buckets of the global and per-connection rate limits, the
 * retry backoff, the per-pass fish cooldown and the plan of one pass. pass-roll.c makes the
 * plan and pass-hits.c runs it against simd. */
#ifndef TW_SCHEDULER_H
#define TW_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The scheduler's own generator (libcommon's xoshiro256**), seeded from the kernel at
 * start. Nothing needs to be reproducible, it only must not share state with anyone. */
#include "rng.h"
#include "tbucket.h"

/* The original's roll: uniform 1..100; a connection fires when roll <= probability,
 * so probability 0 never fires and 100 always does. */
int roll_1_100(struct rng *r);
static inline bool roll_hits(int roll, int probability)
{
	return roll <= probability;
}

/* Retry delay after the n-th consecutive failure (n >= 1): 0.5 s doubling up to a
 * 30 s cap, with "equal jitter": a uniform draw in [d/2, d] so retries of many
 * transfers to one destination spread out instead of arriving together. u in [0,1). */
#define BACKOFF_FIRST 0.5
#define BACKOFF_CAP 30.0
double backoff_delay(int failures, double u);

/* A small set of strings (fish ids moved in this pass, ids of tanks...). */
/* A set of strings in the order they were added (v[0..n)), with a hash index: a pass
 * adds every fish of a crowded tank, and a list searched linearly made that quadratic
 * (6,000 fish: 170-260 ms of the loop a pass). */
struct strset {
	char **v;
	size_t n, cap;
	size_t *slot; /* open addressing: 1 + an index into v, 0 for none */
	size_t nslot; /* a power of two, at least twice n */
};
bool strset_has(const struct strset *s, const char *x);
/* True when added, false when it was already there. */
bool strset_add(struct strset *s, const char *x);
/* True when it was there; the last string takes its place in v. */
bool strset_remove(struct strset *s, const char *x);
void strset_clear(struct strset *s);

/* One pass's plan. The caller lists the local tanks simd reported and the
 * connections; sched_plan rolls each connection (in a fresh random order, so a rate
 * limit never starves the same connections), applies the limits and says what to do. */
struct sched_tank {
	const char *tank_id;
	bool paused;
	bool allow_transfers;
	int fish_count;
	int max_fish;
	int plant_count;
};

enum sched_verdict {
	SV_MISS,	       /* the roll missed */
	SV_HIT,		       /* migrate one fish */
	SV_NO_SOURCE,	       /* simd did not list the source tank */
	SV_TRANSFERS_DISABLED, /* the source tank has allow_transfers false */
	SV_EMPTY,	       /* no fish to send */
	SV_RATE_LIMITED,       /* a hit, but a rate limit said no */
	SV_BACKING_OFF,	       /* its destination refused lately: paused (or broken) */
};
const char *sched_verdict_name(enum sched_verdict v);

struct connection;

struct sched_decision {
	struct connection *c;
	enum sched_verdict verdict;
	int roll;
	/* The hit's source tank also receives a fish by a local move of this same pass:
	 * pass-hits.c tells simd which fish not to take (those moved into it), so no fish
	 * hops twice in one pass. */
	bool conflict;
	/* A hit moves a plant rather than a fish: each movable entity of the source tank
	 * is equally likely (docs/migrated.md, "Plants"). */
	bool plant;
};

struct sched_counts {
	size_t connections, hits, misses, no_source, disabled, empty, rate_limited, backing_off;
};

/* conns: n connections; out: room for n decisions, filled in the order rolled.
 * Paused source tanks are not skipped: DESIGN §4 says a paused tank still sends and
 * receives fish (pausing freezes births and deaths, which is what audits need). */
size_t sched_plan(struct connection **conns, size_t n, const struct sched_tank *tanks,
		  size_t ntanks, const char *local_server_id, struct rng *rng,
		  struct tbucket *global, double conn_rate, double now, struct sched_decision *out,
		  struct sched_counts *counts);
/* Whether a hit on a tank with fish and plants moves a plant: each plant weighs
 * plant_weight against 1 for each fish ([migration] plant_weight). Draws from rng only
 * when a plant can be chosen. */
bool sched_pick_plant(const struct sched_tank *src, double plant_weight, struct rng *rng);

#endif
