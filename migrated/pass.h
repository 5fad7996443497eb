/* What the files of a scheduler pass share, and nothing else includes: pass.c runs a
 * pass from tick to summary; its three phases are pass-tanks.c (list simd's tanks and sync
 * with them), pass-roll.c (roll the connections, then learn what the hits need) and pass-hits.c
 * (start the reservations and local moves). The rest of migrated sees migrated.h. */
#ifndef TW_MIGRATED_PASS_H
#define TW_MIGRATED_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrated.h"

struct tank_info {
	char id[TANK_ID_MAX + 1];
	bool paused, allow_transfers;
	int fish_count, max_fish, plant_count;
};

/* One hit of the pass: a reservation (remote destination) or a local move. */
struct op {
	struct pass *p;
	struct connection c; /* a copy: the set may change while the pass runs */
	bool conflict;	     /* its source tank receives a fish by a local move of this pass */
	bool skip;
	bool plant;   /* move a plant (simd picks it) */
	bool chained; /* run one at a time, in order (pass-hits.c) */
	/* A chained local move's outcome: the fish it moved, or unknown (simd's answer lost:
	 * it may have moved one). */
	bool unknown;
	char moved[TANK_ID_MAX + 1];
};

struct pass {
	struct migrated *md;
	struct event *timer, *outbox_timer;
	double timer_period, outbox_period; /* as last armed (timer_every) */
	bool running;
	int phase; /* 1: tank list, 2: destination lookups, 3: reservations and moves */
	int outstanding;
	uint64_t seq;
	double started_mono, started_wall, listing_sent;
	struct tank_info *tanks;
	size_t ntanks;
	struct op *ops;
	size_t nops;
	size_t *chain, nchain, chain_at; /* the chained ops, in order (pass-hits.c) */
	struct strset moved;
	struct sched_counts counts;
	size_t reserved, moved_local, refused, errors, cooldown, unavailable, no_fish;
	json_object *transfer_ids;
	char error[256];
	struct run_waiter *current, *next; /* pass.c */
	json_object *last_summary;
	bool sim_down;
	bool roll; /* false: only sync tanks, exits and connections (at start) */
	double skip_logged;
	uint64_t skipped_unlogged;
};

/* pass.c: one answer fewer outstanding; the last one finishes the pass. */
void pass_op_done(struct pass *p);

/* pass-tanks.c: phase 1, GET /api/tanks; on its answer the cascade checks and the exits,
 * then pass_roll (or the end of a pass that does not roll). */
void pass_list_tanks(struct pass *p);

/* pass-roll.c: phase 2, the plan and what it needs; ends in pass_start_hits. */
void pass_roll(struct pass *p);

/* pass-hits.c: phase 3, one reservation or local move per hit. */
void pass_start_hits(struct pass *p);

#endif
