/* What start-up replay needs beyond the records themselves (replay.c): stepping a tank
 * to a record's frame, drawing a picked fish again, the checkpoint hash, and saying
 * when the re-simulation stopped matching. jrec.c's replay of each kind uses them. */
#ifndef TW_SIMD_REPLAY_H
#define TW_SIMD_REPLAY_H

#include "simd.h"

/* The tank a record with number seq still has to change: NULL when its snapshot
 * contains the record already, or the tank is gone. */
struct tank_slot *replay_tank(struct simd *sd, const char *id, uint64_t seq);
/* Step s's tank to the frame in rec[key] (absent in records from before frames were
 * journaled: then apply at once). The exit queue of that frame is left for an exit
 * record to take from (replay_exit); replay_at also returns the fish that bounced. */
int replay_advance(struct tank_slot *s, json_object *rec, const char *key, struct json_err *e);
int replay_at(struct tank_slot *s, json_object *rec, const char *key, struct json_err *e);
/* Take fish fid from the exit queue; the fish ahead of it bounced and go back in. */
int replay_exit(struct tank_slot *s, const char *fid, struct json_err *e);
/* Every fish left in the exit queue bounced: back in, in queue order. */
void replay_settle(struct tank_slot *s);
/* A fish the live tank chose with its RNG ("picked"): draw the same number again. */
int replay_pick(struct tank_slot *s, json_object *rec, const char *fid, struct json_err *e);
/* Whether a tank's state written under simulation rules `rules` replays strictly (it
 * logs why not). */
bool replay_same_rules(const char *tank_id, int rules);
/* The re-simulation no longer matches the journal: -EINVAL with the message in e (the
 * start stops), or 0 and a warning for a tank not replayed strictly. */
int replay_diverged(struct tank_slot *s, const char *why, struct json_err *e);
void replay_remove_fish(struct tank_slot *s, const char *fid, uint64_t serial);
/* A fish arriving through wall arrival, or returning (an abort) to just inside the wall
 * it had left by (WALL_NONE: where it was), as it did live. */
int replay_put(struct tank_slot *s, json_object *fishj, bool returning, enum wall arrival,
	       struct json_err *e);
/* replay-plant.c: the same for an entity that may be a fish or a plant (its JSON says).
 * replay_put_entity returns 1 when a returning plant finds no root spot: keep its
 * outbox record. */
int replay_pick_entity(struct tank_slot *s, json_object *rec, json_object *entity, const char *id,
		       struct json_err *e);
void replay_remove_entity(struct tank_slot *s, json_object *entity, const char *id, uint64_t serial);
int replay_put_entity(struct tank_slot *s, json_object *entity, bool returning, enum wall arrival,
		      struct json_err *e);
/* A cheap checkpoint of a tank, which a mark carries and replay must reproduce. */
uint64_t replay_hash(const struct tank *t);
/* Start-up, after the journal: report what was re-simulated; marks go on from here. */
void replay_finish(struct simd *sd);

#endif
