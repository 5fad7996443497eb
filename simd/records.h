/* simd's transfer records: the outbox and inbox tables and the JSON forms that the
 * journal, the snapshots and the API share. Private to simd: transfers.c (live
 * operations), jrec.c (journal records) and store.c use it. Callers hold xfer_lock for
 * the tables. */
#ifndef TW_SIMD_RECORDS_H
#define TW_SIMD_RECORDS_H

#include "simd.h"

struct outbox_rec *outbox_find(struct simd *sd, const char *id);
struct inbox_rec *inbox_find(struct simd *sd, const char *id);
void outbox_insert(struct simd *sd, struct outbox_rec *r);
/* Whether a fish or plant with this id is in the outbox under a transfer other than
 * except_transfer (xfer_lock held). */
bool outbox_has_entity(struct simd *sd, const char *entity_id, const char *except_transfer);
void outbox_drop(struct simd *sd, struct outbox_rec *r);
void inbox_drop(struct simd *sd, struct inbox_rec *r);
void inbox_insert(struct simd *sd, struct inbox_rec *r);
json_object *outbox_json(const struct outbox_rec *r, bool with_fish);
json_object *outbox_state_json(const struct outbox_rec *r);
int outbox_from_json(json_object *o, struct outbox_rec **ret, struct json_err *e);
struct outbox_rec *outbox_new(const char *fish_id, const char *src, const char *ds, const char *dt,
			      const char *cid, json_object *fish);
json_object *exit_json(const struct exit_dest *d);
void apply_exits(struct tank_slot *slot, const struct exit_dest *left,
		 const struct exit_dest *right);
json_object *xfer_exits_json(const struct tank_slot *slot);
/* The form xfer_exits_json writes: {"left","right"}, each null, absent or an exit. */
int exits_from_json(json_object *ex, struct exit_dest d[2], struct json_err *e);
json_object *params_json(const struct tank_params *p);
int params_from_json(json_object *o, struct tank_params *p, struct json_err *e);
json_object *tank_meta_state_json(const struct tank_meta *m, bool paused);
int tank_meta_from_json(json_object *o, struct tank_meta *m, bool *paused, struct json_err *e);
json_object *arrival_reply(const struct inbox_rec *r);
/* An optional "kind" of o: "fish" or "plant", a fish when absent (a reservation's body;
 * an inbox record of transfers.json, whose records before plants told them apart are
 * all fish's). */
int kind_from_json(json_object *o, bool *plant, struct json_err *e);

#endif
