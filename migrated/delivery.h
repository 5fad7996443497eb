/* What the files of exactly-once delivery share, and nothing else includes: delivery.c
 * drives each transfer (struct xfer) from its step to a commit or an abort; delivery-outbox.c
 * creates them from simd's outbox records. The rest of migrated sees migrated.h. */
#ifndef TW_MIGRATED_DELIVERY_H
#define TW_MIGRATED_DELIVERY_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "migrated.h"

enum xstep {
	XS_FETCH,   /* resumed: get entity_data from GET /api/outbox/{id} */
	XS_ATTEMPT, /* POST /api/outbox/{id}/attempt */
	XS_LOOKUP,  /* the destination's address from discoveryd */
	XS_DELIVER, /* POST /api/remote-transfer at the destination */
	XS_COMMIT,
	XS_ABORT,
};

struct xfer {
	struct delivery *d;
	struct xfer *next; /* hash chain */
	char transfer_id[TRANSFER_ID_MAX + 1];
	char fish_id[TANK_ID_MAX + 1];
	char source_tank_id[TANK_ID_MAX + 1];
	char destination_server_id[SERVER_ID_MAX + 1];
	char destination_tank_id[TANK_ID_MAX + 1];
	char connection_id[CONN_ID_MAX + 1];
	char arrival_wall[8]; /* "left"/"right" for a fish that swam through a wall, else "" */
	bool plant;	      /* the entity is a plant (simd's "kind") */
	double created_at;    /* wall clock, from simd */
	double started_mono;  /* for the latency metric */
	int attempts;	      /* simd's count */
	int failures;	      /* consecutive, for the backoff */
	enum xstep step;
	bool busy;	     /* a request or a timer is outstanding */
	bool waiting;	     /* in backoff */
	double retry_at;     /* monotonic */
	json_object *entity; /* entity_data */
	char last_error[256];
	char refusal[256]; /* why the destination refused (for the aborted record) */
	char note[160];	   /* said about a commit that is not plain */
	struct event *timer;
};

struct delivery {
	struct migrated *md;
	struct xfer **buckets; /* the transfers in flight by transfer_id */
	size_t nbuckets, n;
	bool listing;		     /* an outbox listing is in flight */
	bool relist;		     /* another was asked for meanwhile */
	bool listed;		     /* a listing has been read since start */
	struct original_kind *kinds; /* original.c: what kind of server each destination is */
};

/* delivery.c: the table of transfers in flight, and running one. */
struct xfer *delivery_find(const struct delivery *d, const char *id);
/* The table owns x from here; it leaves (and is freed) when done. */
void delivery_insert(struct delivery *d, struct xfer *x);
/* Outside delivery.c, only for an x never inserted. */
void delivery_xfer_free(struct xfer *x);
void delivery_record(struct xfer *x, enum transfer_state st, const char *error);
/* Make x's step's request (or wait for its lookup); its answer moves x on. */
void delivery_run(struct xfer *x);

/* delivery-forget.c: after a commit, DELETE the destination's inbox entry (retried a
 * while). */
void forget_at_destination(struct migrated *md, const char *server_id, const char *transfer_id);
/* At exit, after fetch_free (which cancels without calling back). */
void forget_free_all(void);
/* At start: send the forgets of the newest commits again. */
void forget_resume(struct migrated *md);
/* After the first outbox listing: the forgets of pending transfers no longer in it. */
void forget_resolved(struct migrated *md);
/* The forget of a transfer simd's outbox no longer holds (resolved for good); its
 * record, if pending, becomes committed when the destination held it. */
void forget_resolved_transfer(struct migrated *md, const char *server_id, const char *transfer_id);

/* original.c: a destination that answers like the original (its /api/servers/local has
 * neither discovery_port nor migration_port) would not understand our fish, so none is
 * sent there: the transfer is refused, with a clear error, before delivery. */
enum original_verdict { ORIGINAL_NO, ORIGINAL_YES, ORIGINAL_ASK };
/* From the cache: ORIGINAL_ASK when it must be asked first. */
enum original_verdict original_known(struct delivery *d, const char *server_id);
/* Ask GET base_url/api/servers/local (x->busy meanwhile), note the verdict, then run x's
 * step again. No answer counts as ORIGINAL_NO for a few seconds, so delivery tries and
 * fails in its own way. */
void original_ask(struct xfer *x, const char *base_url);
/* Does this ServerInfo look like the original's? */
bool original_server_info(json_object *o);
void original_free(struct delivery *d);

#endif
