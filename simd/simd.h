/* simd's state: tanks (each a simulation core instance ticking on its own thread),
 * the transfer outbox and inbox, and the journal that makes every transfer durable.
 *
 * Locking, always in this order: a tank's lock, then the transfer lock, then the
 * journal's ordering lock. The event loop thread owns the tank list itself (creation and
 * deletion happen there only); tick threads touch only their own tank and, for fish that
 * leave through an exit, the outbox. */
#ifndef TW_SIMD_H
#define TW_SIMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "daemon.h"
#include "journal.h"
#include "statefile.h"
#include "tbucket.h"
#include "sim/sim.h"
#include "util.h"

#define TANK_NAME_MAX 100
#define TANK_DESC_MAX 500

struct exit_dest {
	bool open;
	char server_id[SERVER_ID_MAX + 1];
	char tank_id[TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
};

struct tank_meta {
	char id[TANK_ID_MAX + 1];
	/* Characters, up to 4 bytes each in UTF-8 (jv_text). */
	char name[4 * TANK_NAME_MAX + 1];
	char description[4 * TANK_DESC_MAX + 1];
	double created_at;
	bool is_public;
	bool allow_transfers;
	bool fast_forward; /* ticks as fast as the CPU allows, for experiments */
};

struct recent_fish {
	char id[UUID_STR_LEN];
	double until; /* monotonic */
};

struct tank_slot {
	struct tank_meta meta;
	struct simd *sd;
	pthread_mutex_t lock; /* guards sim, paused, exits, applied_seq */
	pthread_cond_t wake;  /* signalled on resume and stop: a paused tank sleeps on it */
	struct tank *sim;
	bool paused;
	struct exit_dest exits[2]; /* WALL_LEFT, WALL_RIGHT */
	/* exitgate.c, under lock: what may leave through the walls. */
	int exit_budget[2];	       /* fish allowed out before migrated's next word; -1: any */
	struct tbucket exit_bucket[2]; /* per_connection_per_second */
	struct recent_fish *recent;    /* fish that arrived or came back lately (a ring) */
	size_t n_recent, cap_recent, recent_head;
	uint64_t applied_seq; /* newest journal record applied to this tank */
	uint64_t snap_seq;    /* newest record its snapshot file contains */
	bool snapshotting;    /* a snapshot of it is being written */
	/* Deterministic replay (replay.c, store_mark): frame marks, and the re-simulation a restart
	 * would need, in seconds of stepping since the snapshot. */
	double last_mark_mono;
	uint64_t last_mark_frame;
	double resim_cost;
	double snapshot_asked; /* now_mono() of its last request for an early snapshot */
	int lock_wanted; /* threads waiting for lock (tanks_lock_fair): the tick lets them in */
	uint64_t replayed_frames; /* start-up: frames re-simulated */
	bool replay_diverged;	  /* start-up: replay stopped matching the journal */
	bool replay_strict;	  /* every input since its snapshot is journaled: a
				   * divergence stops the start (replay.c) */
	/* Ticking. */
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	double tick_rate;
	/* What readers see without waiting for a tick: refreshed after every tick. */
	pthread_mutex_t status_lock;
	struct tank_stats stats;
	double *history_row; /* the newest history sample (/metrics), history_have if any */
	struct status_cache *status_text; /* tanks.c: the TankStatus text (loop only) */
	bool history_have;
	double fps;
	bool status_paused;
	double tick_median, tick_p99; /* seconds, over the last TICK_WINDOW ticks */
	double tick_seconds;	      /* every tick since the slot was made, summed */
	uint64_t ticks;		      /* and counted (the summary's _sum and _count) */
	bool lagging;		      /* could not keep tick_rate over the last second */
	/* Tick thread only: the durations of the last ticks, a ring. */
	double tick_ring[256];
	uint64_t tick_ring_n;
	double tick_sum; /* published as tick_seconds with the window */
	/* Holds by the snapshot round and by readers (tanks_hold, under sd->list_lock): a
	 * removed slot is freed by the last holder, so the event loop never waits for one
	 * of them to delete a tank. */
	int hold;
	bool removed;
	struct tank_stream *stream; /* live frames for viewers (stream.h) */
	/* The gate (gate.c): changes the loop makes while the tick thread waits between two
	 * ticks. gate_lock guards gate; the list of changes waiting is the loop's. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond; /* gate changed, or stop */
	int gate;
	bool gate_idle;	  /* the tick thread is in gate_sleep, between two ticks */
	bool gate_parked; /* and waits there for the loop to open the gate */
	struct event *gate_ev;
	struct gate_wait *gate_head, *gate_tail;
	/* Loop only. Kept: held for a change that waits for other tanks' gates too
	 * (gate_run_set); changes for this tank wait for it. Draining: the changes waiting
	 * are being run, further up the stack. Rank: the order in which a set takes gates. */
	bool gate_kept, gate_draining;
	int gate_rank;
	/* Loop only (gate_defers_start): sets of every tank numbered up to added_at began
	 * before this tank was added and do not hold it; while one of them waits, the tank
	 * does not start ticking (start_deferred). */
	uint64_t added_at;
	bool start_deferred;
	TAILQ_ENTRY(tank_slot) link;
};

struct outbox_rec {
	char transfer_id[UUID_STR_LEN];
	char fish_id[UUID_STR_LEN];
	char source_tank[TANK_ID_MAX + 1];
	char dest_server[SERVER_ID_MAX + 1];
	char dest_tank[TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
	double created_at;
	int attempts;
	enum wall exit_wall; /* the wall it swam through, WALL_NONE for a reservation */
	json_object *fish;   /* the whole fish, as it left */
	TAILQ_ENTRY(outbox_rec) link;
};

struct inbox_rec {
	char transfer_id[UUID_STR_LEN];
	char fish_id[UUID_STR_LEN];
	char dest_tank[TANK_ID_MAX + 1];
	char source_server[SERVER_ID_MAX + 1];
	char source_tank[TANK_ID_MAX + 1];
	double received_at;
	bool plant; /* what arrived was a plant: the answer, repeated, says so */
	TAILQ_ENTRY(inbox_rec) link;
};

struct tank_build;

struct simd {
	struct daemon *daemon;
	struct journal *journal;
	struct http_server *http;
	struct state_writer *summary;	   /* state_dir/sim/summary.json, for discoveryd */
	struct state_writer *public_tanks; /* state_dir/sim/public-tanks.json, for migrated */
	char *public_last;		   /* what was last written there */
	char *tanks_dir;		   /* state_dir/sim/tanks */
	char *meta_path;     /* state_dir/sim/transfers.json: outbox and inbox snapshot */
	char *manifest_path; /* state_dir/sim/manifest.json (manifest.h) */
	char *summary_path;
	char *journal_dir;
	bool legacy_state;	   /* started on state from before checksums (no manifest) */
	pthread_mutex_t list_lock; /* held by the loop to add or remove tanks, and by the
				    * snapshot thread while it walks them */
	TAILQ_HEAD(, tank_slot) tanks;
	size_t n_tanks;
	char default_tank[TANK_ID_MAX + 1];
	/* Transfers, under xfer_lock. */
	pthread_mutex_t xfer_lock;
	TAILQ_HEAD(, outbox_rec) outbox;
	TAILQ_HEAD(, inbox_rec) inbox;
	void *outbox_index, *inbox_index; /* tsearch trees by transfer_id */
	void *outbox_entities;		  /* a tsearch tree by entity id (records.c) */
	size_t outbox_count, inbox_count;
	uint64_t xfer_applied_seq, xfer_snap_seq;
	/* Counters for /metrics. */
	uint64_t reserves, commits, aborts, arrivals, duplicate_arrivals, local_moves, exits,
		exits_bounced;
	struct tbucket exit_bucket; /* max_per_second over every wall (exitgate.c), xfer_lock */
	/* now_mono() of the last outbox listing over the Unix socket, migrated's: the walls'
	 * lease (exitgate.c), xfer_lock. 0: none since the start. */
	double mover_seen;
	bool mover_lapsed; /* the lease ran out and that was logged */
	/* Snapshots. */
	struct event *snapshot_timer, *snapshot_now;
	double snapshot_period; /* as last armed (timer_every) */
	pthread_t snapshot_thread;
	bool snapshot_running;
	int snapshot_done; /* set by the snapshot thread as it ends (atomic) */
	/* Tanks being built, and read for GET /state, off the loop (tanks_build,
	 * readers_run), joined at shutdown; build_lock guards both lists. */
	pthread_mutex_t build_lock;
	struct tank_build *builds;
	struct reader *readers;
	int n_readers;
	pthread_mutex_t reader_run; /* one big read (state, lineage) copies and encodes at a time */
	double snapshot_last_seconds;
	double snapshot_last_cpu; /* the snapshot thread's CPU time in that round */
	double snapshot_started;  /* now_mono() of the last round's start */
	uint64_t snapshots_written;
	double replay_seconds; /* start-up: re-simulating tanks from their snapshots */
	uint64_t replay_frames;
	double started_mono;
	struct poker_games *poker_games; /* games people play against fish (event loop only) */
	struct rng pick_rng;		 /* fish_choice's except draws (event loop only) */
	/* gate.c, for /metrics: changes run at once, changes that waited for a tick's end,
	 * and the times the loop found a tank's lock taken (atomic). */
	uint64_t gate_direct, gate_queued, gate_starts_deferred;
	/* gate.c, loop only: the sets of every tank under way, oldest first, and the number
	 * of the last one begun. */
	TAILQ_HEAD(gate_all_sets, gate_set) gate_all_sets;
	uint64_t gate_all_seq;
	uint64_t loop_lock_waits[2]; /* [0]: the tank may have been ticking; [1]: between ticks */
	/* The longest a copy held a tank's lock, in ns (tanks_copy_held): the tick and a
	 * change from the loop wait that long. By enum tank_copy: a snapshot's, GET /state's. */
	uint64_t copy_held_max_ns[TANK_COPY_KINDS];
};

/* gate.c: a change to a tank, on the loop, without waiting for its tick. fn(arg, true)
 * runs on the loop while the tank's tick thread is parked between two ticks (at once if
 * nothing ticks it), in the order the changes came; fn(arg, false) drops it (shutdown).
 * fn must find its tank again: a change before it may have deleted it. */
typedef void (*gate_fn)(void *arg, bool run);
struct gate_wait;
struct gate_set;
void gate_run(struct simd *sd, struct tank_slot *slot, gate_fn fn, void *arg);
/* The same for a change that touches several tanks: fn runs once every one of them is
 * held (their tick threads all parked), and they go on after it. */
void gate_run_set(struct simd *sd, struct tank_slot *const *slots, size_t n, gate_fn fn, void *arg);
/* Every tank here, as the list stands. A tank added while the set waits is not held: it
 * starts ticking only once the set is done (gate_defers_start). */
void gate_run_all(struct simd *sd, gate_fn fn, void *arg);
/* tanks_start asks: true while a set of every tank that began before the tank was added
 * is under way. It marks the tank (start_deferred, counted once for /metrics); gate.c
 * starts it when the last such set is done. */
bool gate_defers_start(struct simd *sd, struct tank_slot *slot);
/* The loop takes a tank's lock (in a change, or to read what the tick changes): counted
 * in loop_lock_waits when it had to wait. */
void gate_lock(struct tank_slot *slot);
void gate_init(struct tank_slot *slot, struct event_base *base);
void gate_free(struct tank_slot *slot);
void gate_sleep(struct tank_slot *slot, const struct timespec *until); /* tick thread */
void gate_wake(struct tank_slot *slot);
void gate_after_stop(struct tank_slot *slot, bool shutdown);

/* tanks.c */
struct tank_slot *tanks_find(struct simd *sd, const char *id);
/* Writes state_dir/sim/public-tanks.json when the public tanks changed; done(arg), when
 * given, runs on the loop once the file names every public tank there is now. */
void tanks_publish_public(struct simd *sd, state_written_fn done, void *arg);
struct tank_slot *tanks_add(struct simd *sd, const struct tank_meta *meta, struct tank *sim,
			    bool paused);
void tanks_remove(struct simd *sd, struct tank_slot *slot);
void tanks_start(struct simd *sd, struct tank_slot *slot);
void tanks_stop_all(struct simd *sd);
void tank_publish_status(struct tank_slot *slot); /* call with slot->lock held */
/* Free a slot taken out of the list by tanks_remove (snapshot thread, last holder). */
void tanks_free_slot(struct tank_slot *slot);
/* Lock a slot from a thread other than its tick's: a tank behind its schedule relocks
 * at once, and mutexes are not fair, so the tick lets a waiter in first. */
void tanks_lock_fair(struct tank_slot *slot);
/* A copier's lock (snapshot, reader): room for the copy sized under the lock and made
 * without it (struct tank_room), then the lock again, taken at *since. Faulting the
 * copy's pages in under the lock held the tick, and a change from the loop, up to 200
 * ms at 20,000 fish. */
void tanks_lock_for_copy(struct tank_slot *slot, enum tank_copy what, struct tank_room *room,
			 struct timespec *since);
/* That copier is about to let the lock go: keeps the longest hold for /metrics. */
void tanks_copy_held(struct simd *sd, enum tank_copy what, const struct timespec *since);
/* Keep a slot allocated while another thread uses it; the last release of a removed
 * slot frees it. */
void tanks_hold(struct simd *sd, struct tank_slot *slot);
void tanks_release(struct simd *sd, struct tank_slot *slot);
/* The same with sd->list_lock held already (the snapshot round holds it). */
void tanks_release_locked(struct tank_slot *slot);
/* Build a tank off the event loop: tank_new runs on a thread of its own, then done runs
 * on the loop with the tank (or NULL if simd stops first; then the caller's arg must be
 * released). Small tanks are built at once, on the loop. */
typedef void (*tanks_built_fn)(struct simd *sd, struct tank *t, void *arg);
void tanks_build(struct simd *sd, const struct tank_params *p, const char *tank_id,
		 tanks_built_fn done, void *arg);
void tanks_build_shutdown(struct simd *sd); /* wait for builds, cancel their callbacks */
/* Room for one more tank of max_fish (sim.max_tanks, sim.max_fish_total), counting the
 * tanks being built: 0, or -ENOSPC with e saying which limit and *which its name. */
int tanks_room(struct simd *sd, int max_fish, const char **which, struct json_err *e);
/* A new tank's parameters from [sim]: the world of width x height with what grows with
 * it, max_fish and the evolution defaults. */
struct tank_params tanks_default_params(const struct conf *c, uint64_t seed);
/* daemon_check_fn: the default world must make a tank (tank_params_check), or the first
 * start, and every POST /api/tanks without a size, would fail. */
int tanks_conf_check(const struct conf *c, char *err, size_t errlen);
/* readers.c: reads of a tank off the loop. read runs on a reader thread, takes the
 * tank's lock itself (tanks_lock_fair) for as long as it copies, and fills the answer:
 * status 200 with its text (readers_answer_json for JSON) or 404. done then runs on the
 * loop with the answer (its text taken) and done_arg, or with status 503 and no text when simd stops
 * first. -EBUSY when too many readers wait already. */
struct readers_answer {
	int status;
	char *text;
	size_t len;
	const char *type; /* Content-Type */
};
typedef void (*readers_read_fn)(struct tank_slot *slot, void *arg, struct readers_answer *a);
typedef void (*readers_done_fn)(struct simd *sd, struct readers_answer *a, void *arg);
int readers_run(struct simd *sd, struct tank_slot *slot, readers_read_fn read, void *read_arg,
		readers_done_fn done, void *done_arg);
/* 200 and o as text (o taken), or 404 for NULL. */
void readers_answer_json(struct readers_answer *a, json_object *o);
/* GET /state's read (arg: the struct simd): every entity, one such read at a time, as
 * it builds seconds of JSON for a big tank. */
void readers_state(struct tank_slot *slot, void *arg, struct readers_answer *a);
void readers_shutdown(struct simd *sd); /* wait for readers, cancel their callbacks */
json_object *tank_status_json(struct simd *sd, struct tank_slot *slot);
/* The same as text, kept per tank while the status does not change (loop only), and
 * GET /api/tanks's answer made of those texts (malloc'd, *len bytes, no NUL). */
const char *tank_status_text(struct simd *sd, struct tank_slot *s, size_t *len);
char *tanks_list_text(struct simd *sd, bool include_private, size_t *len);
json_object *tank_meta_json(const struct tank_meta *m, const struct tank_params *p,
			    const char *server_id);
/* The fish of every tank, or of the public tanks only (what /health tells a caller
 * without the token, as the listings show such a caller the public tanks only); and,
 * where asked, how many tanks those are and their entities in transit. */
size_t tanks_count_fish(struct simd *sd, bool public_only, size_t *tanks, size_t *in_transit);
/* After recovery: the tanks in the order they were created (the tank folders are read
 * in the directory's order), and the default tank the first of them, as before the
 * restart. */
void tanks_order_by_creation(struct simd *sd);
/* created_at for a tank about to be added: the wall clock, but after every tank's. */
double tanks_creation_stamp(struct simd *sd);
size_t transfers_in_transit(struct simd *sd, const char *tank_id);

/* transfers.c: every operation that moves a fish, live and in replay. Results are
 * negative errno: -ENOENT unknown tank/transfer/fish, -EPERM transfers disabled,
 * -ENOSPC full, -EEXIST duplicate fish, -EINVAL bad input. */
/* Which fish a reservation or a local move takes: fish_id, or one drawn with the tank's
 * RNG (journaled as picked, so replay draws it again), or, when except is given, one
 * not in it drawn with simd's own RNG (journaled by id, like fish_id: the tank's course
 * does not depend on it). migrated passes except for a tank that received fish in the
 * same pass, so that no fish moves twice in one pass. */
struct fish_choice {
	const char *fish_id;
	const char *const *except;
	size_t n_except;
	bool plant; /* a plant (fish_id then names the plant), not a fish */
};
struct reserve_req {
	const char *source_tank, *dest_server, *dest_tank, *connection_id;
	struct fish_choice pick;
};
int xfer_reserve(struct simd *sd, const struct reserve_req *rq, json_object **ret,
		 journal_done_fn done, void *arg);
/* While its transfer runs, a departed fish keeps its slot (max_fish) in its tank and a
 * plant its root spot, so an abort always finds room: hold counts one more, !hold one
 * fewer (never below zero). Live transfers and their replay both keep the count here. */
void xfer_hold_transit(struct tank_slot *slot, bool plant, bool hold);
int xfer_resolve(struct simd *sd, const char *transfer_id, bool commit, json_object **ret,
		 journal_done_fn done, void *arg);
int xfer_attempt(struct simd *sd, const char *transfer_id, json_object **ret);
json_object *xfer_outbox_json(struct simd *sd, bool with_fish, const char *transfer_id);
/* The number of the newest transfer record applied to memory (the journal may not hold
 * it yet). */
uint64_t xfer_applied(struct simd *sd);
struct arrive_req {
	const char *transfer_id, *dest_tank, *source_server, *source_tank;
	enum wall arrival; /* the wall of the destination it enters through, or WALL_NONE */
	json_object *fish; /* borrowed */
};
/* 1 when the transfer had already arrived (nothing inserted), 0 when inserted. */
/* peers.c: 0 when server_id may send fish here (known to this server's discoveryd,
 * or no discoveryd state to ask), -ENOENT when it is unknown. */
int peers_check(struct simd *sd, const char *server_id);
enum peers_read { PEERS_READ_WHOLE, PEERS_READ_TAIL };
/* How often the registry was read, whole or from where the last read ended, and the
 * bytes read in all (/metrics). */
void peers_stats(struct simd *sd, uint64_t reads[2], uint64_t *bytes);

/* The slot of the tank a transfer in the outbox left, if both are still there. */
struct tank_slot *xfer_source_slot(struct simd *sd, const char *transfer_id);
/* Whether the transfer is in the inbox: it arrived, and was not forgotten yet. */
bool xfer_arrived(struct simd *sd, const char *transfer_id);
int xfer_arrive(struct simd *sd, const struct arrive_req *rq, json_object **ret,
		journal_done_fn done, void *arg, struct json_err *e);
json_object *xfer_inbox_json(struct simd *sd, const char *transfer_id);
/* The source committed: the entry is no longer needed. -ENOENT if unknown. */
int xfer_inbox_forget(struct simd *sd, const char *transfer_id, journal_done_fn done, void *arg);
int xfer_move(struct simd *sd, const char *src, const char *dst, const struct fish_choice *pick,
	      json_object **ret, journal_done_fn done, void *arg);
/* transfers-plant.c: xfer_reserve's part for a plant (slot->lock held): take it out of
 * the tank into a new outbox record (the caller inserts it), or NULL if there is none. */
struct outbox_rec *xfer_plant_reserve(struct tank_slot *slot, const struct reserve_req *rq);
/* xfer_move's part for a plant (both tanks locked): take it from a into b; *pj (the
 * caller's) is the plant as it moved. -ENOSPC: no free root spot in b. */
int xfer_plant_move(struct tank_slot *a, struct tank_slot *b, const char *plant_id,
		    json_object **pj, char moved_id[UUID_STR_LEN]);
/* An aborted plant back into its tank (slot->lock held): -ENOSPC if no spot is free. */
int xfer_plant_return(struct tank_slot *slot, json_object *plant);
/* The tank's entities of one kind in the outbox (both kinds: transfers_in_transit). */
size_t transfers_in_transit_of(struct simd *sd, const char *tank_id, bool plants);
/* budgets: per wall (left, right), -1 for open. Returns 1 when nothing needed journaling
 * (only budgets changed): done is not called then. */
int xfer_set_exits(struct simd *sd, const char *tank_id, const struct exit_dest *left,
		   const struct exit_dest *right, const int budgets[2], journal_done_fn done,
		   void *arg);
/* From a tick thread, slot->lock held: journal the fish that left through exits. */
void xfer_collect_exits(struct simd *sd, struct tank_slot *slot);
/* Tank life cycle, journaled. */
int xfer_tank_create(struct simd *sd, const struct tank_meta *meta, const struct tank_params *p,
		     bool paused, struct tank_slot **ret, journal_done_fn done, void *arg);
/* The same with a tank built already (tanks_build); on success the slot owns t. */
int xfer_tank_create_built(struct simd *sd, const struct tank_meta *meta,
			   const struct tank_params *p, struct tank *t, bool paused,
			   struct tank_slot **ret, journal_done_fn done, void *arg);
int xfer_tank_delete(struct simd *sd, const char *tank_id, journal_done_fn done, void *arg);
int xfer_tank_pause(struct simd *sd, const char *tank_id, bool paused, journal_done_fn done,
		    void *arg);
/* "left"/"right"/absent (WALL_NONE) field; 1 present, 0 absent, -EINVAL bad. */
int wall_from_json(json_object *o, const char *key, enum wall *ret, struct json_err *e);
void xfer_free_all(struct simd *sd);
json_object *xfer_state_json(struct simd *sd, uint64_t *ret_seq); /* xfer_lock taken inside */
int xfer_state_load(struct simd *sd, json_object *o, struct json_err *e);

/* exitgate.c: the limits on fish leaving through walls (slot->lock held; may_leave also
 * xfer_lock). */
void exitgate_note_fish(struct tank_slot *slot, const char *fish_id);	   /* arrived, returned */
void exitgate_set_budget(struct tank_slot *slot, enum wall w, int budget); /* -1: any */
/* The simulation's walls as the exits and budgets say, journaled when that changes
 * them (slot->lock held): after budgets changed or were spent, and at start. */
void exitgate_sync(struct simd *sd, struct tank_slot *slot);
int exitgate_budget(const struct tank_slot *slot, enum wall w);
/* May this fish, which just reached wall w, leave? Takes the tokens when it may. */
bool exitgate_may_leave(struct simd *sd, struct tank_slot *slot, enum wall w, const char *fish_id);
void exitgate_renew(struct simd *sd); /* migrated listed the outbox (takes xfer_lock) */
void exitgate_free(struct tank_slot *slot);

/* controls.c: the viewer's food and fish, applied and journaled. As tank_drop_food and
 * tank_add_random_fish; *st is the tank's stats after, *ret_fish the fish added. */
int controls_drop_food(struct simd *sd, struct tank_slot *s, double x, int count,
		       struct tank_stats *st);
int controls_add_fish(struct simd *sd, struct tank_slot *s, double x, double y,
		      json_object **ret_fish);

/* store.c: snapshots and start-up recovery. */
void store_recover(struct simd *sd, bool initialized);
void store_schedule(struct simd *sd);
void store_snapshot_all_sync(struct simd *sd); /* at shutdown */
void store_snapshot_soon(struct simd *sd);     /* any thread: a round now, not at the timer */
/* From a tick thread, slot->lock held: journal a frame mark with a checkpoint hash now
 * and then, and ask for an early snapshot when a restart would re-simulate too long. */
void store_mark(struct simd *sd, struct tank_slot *slot);
int store_remove_tank_dir(struct simd *sd, const char *tank_id);

/* api.c */
struct http_server *api_new(struct simd *sd);

#endif
