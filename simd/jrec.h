/* simd's journal records. Every kind of record is one row of a table in jrec.c: its
 * op, how it is written, and how start-up replays it. The live operations
 * (transfers.c, store.c) describe what changed in a struct jrec and call jrec_put;
 * start-up hands each record of the journal to jrec_replay. The format is in
 * docs/simd-state.md. */
#ifndef TW_SIMD_JREC_H
#define TW_SIMD_JREC_H

#include "simd.h"

enum jrec_kind {
	JREC_RESERVE, /* a fish taken from its tank into the outbox, for migrated */
	JREC_EXIT,    /* a fish that swam through an open wall, into the outbox */
	JREC_COMMIT,  /* the destination has it: the outbox entry goes */
	JREC_ABORT,   /* it did not go: back into its tank, the outbox entry goes */
	JREC_ARRIVE,  /* a fish from another server, into its tank and the inbox */
	JREC_FORGET,  /* its source committed: the inbox entry goes */
	JREC_MOVE,    /* from one tank here to another */
	JREC_EXITS,   /* a tank's walls opened or closed */
	JREC_CREATE,
	JREC_DELETE,
	JREC_PAUSE,
	JREC_RESUME,
	JREC_MARK,     /* a running tank's frame and checkpoint hash */
	JREC_NOOP,     /* orders a duplicate arrival's answer behind the first */
	JREC_FOOD,     /* the viewer dropped food */
	JREC_ADD_FISH, /* the viewer added a random fish */
	JREC_GATE,     /* a wall's budget opened or closed it to fish (exitgate.c) */
};

/* What a record says. Each kind reads only the fields its writer names below; the
 * tanks' locks are held, so the frames written are those the changes happened at. */
struct jrec {
	struct tank_slot *slot;	      /* the tank changed (a move's source, a commit's
				       * source); all but forget, create, noop */
	struct tank_slot *to;	      /* move: the destination */
	bool picked;		      /* reserve, move: the fish was chosen with slot's RNG */
	const char *transfer_id;      /* commit, abort, forget, move */
	const struct outbox_rec *out; /* reserve, exit */
	const struct inbox_rec *in;   /* arrive */
	enum wall arrival;	      /* arrive: the wall it came in through, or WALL_NONE */
	json_object *fish;	      /* abort, arrive, move (borrowed) */
	enum wall exit_wall;	      /* abort: the wall the fish had left by (set it) */
	const struct tank_meta *meta; /* create, with params and paused */
	const struct tank_params *params;
	bool paused;
	double x, y;	     /* food (x), add_fish: where */
	int count;	     /* food: how many pieces */
	const char *fish_id; /* add_fish: the fish it made */
};

/* Number and queue the record (r may be NULL for a noop). Call with the locks of
 * everything it changed held, so journal order is the order of the changes. */
uint64_t jrec_put(struct simd *sd, enum jrec_kind k, const struct jrec *r, journal_done_fn done,
		  void *arg);
/* Replay one journal record at start-up (journal_replay's callback; arg is the simd).
 * An unknown op is refused. */
int jrec_replay(void *arg, uint64_t seq, json_object *rec, struct json_err *e);

#endif
