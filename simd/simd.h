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

#include "daemon.h"
#include "journal.h"
#include "statefile.h"
#include "sim/sim.h"
#include "util.h"

#define TANK_NAME_MAX 100
#define TANK_DESC_MAX 500
#define CONN_ID_MAX 128

struct exit_dest {
	bool open;
	char server_id[65];
	char tank_id[SIM_TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
};

struct tank_meta {
	char id[SIM_TANK_ID_MAX + 1];
	char name[TANK_NAME_MAX + 1];
	char description[TANK_DESC_MAX + 1];
	double created_at;
	bool is_public;
	bool allow_transfers;
};

struct tank_slot {
	struct tank_meta meta;
	struct simd *sd;
	pthread_mutex_t lock; /* guards sim, paused, exits, applied_seq */
	struct tank *sim;
	bool paused;
	struct exit_dest exits[2]; /* WALL_LEFT, WALL_RIGHT */
	uint64_t applied_seq;	   /* newest journal record applied to this tank */
	uint64_t snap_seq;	   /* newest record its snapshot file contains */
	bool snapshotting;	   /* a snapshot of it is being written */
	/* Ticking. */
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	double tick_rate;
	/* What readers see without waiting for a tick: refreshed after every tick. */
	pthread_mutex_t status_lock;
	struct tank_stats stats;
	double fps;
	bool status_paused;
	TAILQ_ENTRY(tank_slot) link;
};

struct outbox_rec {
	char transfer_id[UUID_STR_LEN];
	char fish_id[SIM_ID_LEN];
	char source_tank[SIM_TANK_ID_MAX + 1];
	char dest_server[65];
	char dest_tank[SIM_TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
	double created_at;
	int attempts;
	enum wall exit_wall; /* the wall it swam through, WALL_NONE for a reservation */
	json_object *fish;   /* the whole fish, as it left */
	TAILQ_ENTRY(outbox_rec) link;
};

struct inbox_rec {
	char transfer_id[UUID_STR_LEN];
	char fish_id[SIM_ID_LEN];
	char dest_tank[SIM_TANK_ID_MAX + 1];
	char source_server[65];
	char source_tank[SIM_TANK_ID_MAX + 1];
	double received_at;
	TAILQ_ENTRY(inbox_rec) link;
};

struct simd {
	struct daemon *daemon;
	struct journal *journal;
	struct http_server *http;
	struct state_writer *summary; /* state_dir/sim/summary.json, for discoveryd */
	char *tanks_dir;   /* state_dir/sim/tanks */
	char *meta_path;   /* state_dir/sim/transfers.json: outbox and inbox snapshot */
	pthread_mutex_t list_lock; /* held by the loop to add or remove tanks, and by the
				    * snapshot thread while it walks them */
	TAILQ_HEAD(, tank_slot) tanks;
	size_t n_tanks;
	char default_tank[SIM_TANK_ID_MAX + 1];
	/* Transfers, under xfer_lock. */
	pthread_mutex_t xfer_lock;
	TAILQ_HEAD(, outbox_rec) outbox;
	TAILQ_HEAD(, inbox_rec) inbox;
	void *outbox_index, *inbox_index; /* tsearch trees by transfer_id */
	size_t outbox_count, inbox_count;
	uint64_t xfer_applied_seq, xfer_snap_seq;
	/* Counters for /metrics. */
	uint64_t reserves, commits, aborts, arrivals, duplicate_arrivals, local_moves, exits;
	/* Snapshots. */
	struct event *snapshot_timer;
	pthread_t snapshot_thread;
	bool snapshot_running;
	double snapshot_last_seconds;
	uint64_t snapshots_written;
	double started_mono;
};

/* tanks.c */
struct tank_slot *tanks_find(struct simd *sd, const char *id);
struct tank_slot *tanks_add(struct simd *sd, const struct tank_meta *meta, struct tank *sim,
			    bool paused);
void tanks_remove(struct simd *sd, struct tank_slot *slot);
void tanks_start(struct simd *sd, struct tank_slot *slot);
void tanks_stop_all(struct simd *sd);
void tank_publish_status(struct tank_slot *slot); /* call with slot->lock held */
json_object *tank_status_json(struct simd *sd, struct tank_slot *slot);
json_object *tank_meta_json(const struct tank_meta *m, const struct tank_params *p,
			    const char *server_id);
size_t tanks_total_fish(struct simd *sd);
size_t transfers_in_transit(struct simd *sd, const char *tank_id);

/* transfers.c: every operation that moves a fish, live and in replay. Results are
 * negative errno: -ENOENT unknown tank/transfer/fish, -EPERM transfers disabled,
 * -ENOSPC full, -EEXIST duplicate fish, -EINVAL bad input. */
struct reserve_req {
	const char *source_tank, *dest_server, *dest_tank, *connection_id, *fish_id;
};
int xfer_reserve(struct simd *sd, const struct reserve_req *rq, json_object **ret,
		 journal_done_fn done, void *arg);
int xfer_resolve(struct simd *sd, const char *transfer_id, bool commit, json_object **ret,
		 journal_done_fn done, void *arg);
int xfer_attempt(struct simd *sd, const char *transfer_id, json_object **ret);
json_object *xfer_outbox_json(struct simd *sd, bool with_fish, const char *transfer_id);
struct arrive_req {
	const char *transfer_id, *dest_tank, *source_server, *source_tank;
	enum wall arrival; /* the wall of the destination it enters through, or WALL_NONE */
	json_object *fish; /* borrowed */
};
/* 1 when the transfer had already arrived (nothing inserted), 0 when inserted. */
int xfer_arrive(struct simd *sd, const struct arrive_req *rq, json_object **ret,
		journal_done_fn done, void *arg, struct json_err *e);
json_object *xfer_inbox_json(struct simd *sd, const char *transfer_id);
/* The source committed: the entry is no longer needed. -ENOENT if unknown. */
int xfer_inbox_forget(struct simd *sd, const char *transfer_id);
int xfer_move(struct simd *sd, const char *src, const char *dst, const char *fish_id,
	      json_object **ret, journal_done_fn done, void *arg);
int xfer_set_exits(struct simd *sd, const char *tank_id, const struct exit_dest *left,
		   const struct exit_dest *right, journal_done_fn done, void *arg);
/* From a tick thread, slot->lock held: journal the fish that left through exits. */
void xfer_collect_exits(struct simd *sd, struct tank_slot *slot);
/* Tank life cycle, journaled. */
int xfer_tank_create(struct simd *sd, const struct tank_meta *meta, const struct tank_params *p,
		     bool paused, struct tank_slot **ret, journal_done_fn done, void *arg);
int xfer_tank_delete(struct simd *sd, const char *tank_id, journal_done_fn done, void *arg);
int xfer_tank_pause(struct simd *sd, const char *tank_id, bool paused, journal_done_fn done,
		    void *arg);
/* "left"/"right"/absent (WALL_NONE) field; 1 present, 0 absent, -EINVAL bad. */
int wall_from_json(json_object *o, const char *key, enum wall *ret, struct json_err *e);
/* Replay one journal record (start-up). */
int xfer_replay(void *arg, uint64_t seq, json_object *rec, struct json_err *e);
void xfer_free_all(struct simd *sd);
json_object *xfer_state_json(struct simd *sd, uint64_t *ret_seq); /* xfer_lock taken inside */
int xfer_state_load(struct simd *sd, json_object *o, struct json_err *e);

/* store.c: snapshots and start-up recovery. */
void store_recover(struct simd *sd);
void store_schedule(struct simd *sd);
void store_snapshot_all_sync(struct simd *sd); /* at shutdown */
int store_remove_tank_dir(struct simd *sd, const char *tank_id);

/* api.c */
struct http_server *api_new(struct simd *sd);

#endif
