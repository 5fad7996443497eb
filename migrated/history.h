/* Transfer history (DESIGN §5, §7): every outcome of every transfer this migrated
 * handled, as TransferRecords. In memory: the newest transfers (one record per
 * transfer_id, holding its latest state) for the queries. On disk: an append-only
 * JSON-lines log, state_dir/migration/transfers.log, one line per outcome, rotated
 * by size (transfers.log.1, .2, ...; a bounded number is kept).
 *
 * The log is informational: appends are not fsynced (simd's outbox is the truth about
 * fish in flight), so a crash may lose the last lines. A failed write is logged once
 * and the daemon carries on. No HTTP and no event loop here. */
#ifndef TW_HISTORY_H
#define TW_HISTORY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connections.h"
#include "jsonv.h"

#define TRANSFER_ID_MAX 64
/* The most records one GET /api/transfers returns (larger limits are cut to it). */
#define HISTORY_QUERY_MAX 10000

enum transfer_state {
	TS_PENDING,
	TS_COMMITTED,
	TS_ABORTED,
};
const char *transfer_state_name(enum transfer_state s);

struct transfer_record {
	char transfer_id[TRANSFER_ID_MAX + 1];
	double timestamp;  /* wall clock of this state */
	double created_at; /* wall clock of the reservation */
	char entity_type[16];
	char fish_id[TANK_ID_MAX + 1]; /* entity_old_id == entity_new_id: ids are for life */
	char source_server_id[SERVER_ID_MAX + 1];
	char source_tank_id[TANK_ID_MAX + 1];
	char destination_server_id[SERVER_ID_MAX + 1];
	char destination_tank_id[TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1]; /* "" when none (e.g. a manual reservation) */
	enum transfer_state state;
	char error[256]; /* "" = none (null on the wire) */
	int attempts;
	bool local; /* a move inside this server's simd */
};

/* Where a transfer goes: the connection's ends (connection_id "" when none). */
struct transfer_route {
	const char *source_server_id, *source_tank_id;
	const char *destination_server_id, *destination_tank_id;
	const char *connection_id;
};
/* A fish's record in state st, stamped now (timestamp and created_at), attempts 1,
 * not local; a NULL or empty transfer_id gets a fresh one. error may be NULL. */
void transfer_record_init(struct transfer_record *r, const char *transfer_id, const char *fish_id,
			  const struct transfer_route *route, enum transfer_state st,
			  const char *error);
json_object *transfer_record_to_json(const struct transfer_record *r);
int transfer_record_from_json(json_object *o, struct transfer_record *r, struct json_err *e);

struct history_opts {
	const char *dir;     /* NULL: memory only (tests) */
	size_t memory;	     /* transfers kept in memory; default 10000 */
	size_t rotate_bytes; /* rotate transfers.log above this; default 4 MiB */
	int keep;	     /* rotated files kept; default 4 (so at most 5 files) */
};

struct history_load_stats {
	size_t lines, bad_lines, files;
};

struct history;

/* Opens (creating the directory's log if needed) and loads the existing log files into
 * memory, oldest file first. Returns NULL with *err set when the directory cannot be
 * used. */
struct history *history_new(const struct history_opts *opts, struct history_load_stats *st,
			    int *err);
struct history *history_free(struct history *h);

/* Insert or update by transfer_id (keeping its place in the order, and created_at)
 * and append the line to the log. */
void history_record(struct history *h, const struct transfer_record *r);
const struct transfer_record *history_get(const struct history *h, const char *transfer_id);
size_t history_count(const struct history *h);

/* Newest first (by reservation). tank_id (NULL = any) matches the source or the
 * destination tank; success_only keeps committed transfers. Returns how many went into
 * out (at most limit). */
size_t history_query(const struct history *h, const char *tank_id, bool success_only, size_t limit,
		     const struct transfer_record **out);
/* The same, leaving out the records hide(r, arg) is true of (before limit counts). */
size_t history_query_hiding(const struct history *h, const char *tank_id, bool success_only,
			    size_t limit, bool (*hide)(const struct transfer_record *, void *),
			    void *arg, const struct transfer_record **out);

struct tank_transfer_stats {
	uint64_t in, out, in_success, out_success, in_failed, out_failed, in_pending, out_pending;
};
/* Over the transfers in memory: "out" when the tank is the source, "in" when it is the
 * destination; success = committed, failed = aborted. Tank ids are compared alone
 * (they are UUIDs), never "server:tank" strings. */
void history_tank_stats(const struct history *h, const char *tank_id,
			struct tank_transfer_stats *ret);

/* Lines appended, rotations done, write errors: for /metrics. */
struct history_io_stats {
	uint64_t lines, rotations, write_errors;
};
void history_io_stats(const struct history *h, struct history_io_stats *ret);

#endif
