/* Start-up: the journal's records applied to the state loaded from snapshots, each
 * part only to the tank (or the transfer tables) whose snapshot does not contain it
 * yet, so replaying twice changes nothing. */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "records.h"

static struct tank_slot *replay_tank(struct simd *sd, const char *id, uint64_t seq)
{
	struct tank_slot *s = tanks_find(sd, id);
	return s && seq > s->snap_seq ? s : NULL;
}

static void replay_remove_fish(struct tank_slot *s, const char *fid, uint64_t serial)
{
	struct fish *f;
	if (tank_take_fish(s->sim, fid, &f) == 0)
		fish_free(f);
	/* A fish born after the snapshot and gone since: never mint its id again. */
	tank_raise_fish_serial(s->sim, serial);
}

static int replay_put(struct tank_slot *s, json_object *fishj, bool returning, enum wall arrival,
		      struct json_err *e)
{
	struct fish *f;
	if (fish_from_json(fishj, &f, e) < 0)
		return -EINVAL;
	int r = returning ? tank_return_fish(s->sim, f) : tank_put_fish(s->sim, f, arrival);
	if (r == -ENOSPC && !returning)
		r = tank_return_fish(s->sim, f); /* it was accepted then: capacity was checked */
	if (r < 0)
		fish_free(f); /* already there (its snapshot is newer): nothing to do */
	return 0;
}

int xfer_replay(void *arg, uint64_t seq, json_object *rec, struct json_err *e)
{
	struct simd *sd = arg;
	const char *op, *s1 = NULL, *s2 = NULL;
	if (jv_string(rec, "op", true, 1, 16, &op, e) < 0)
		return -EINVAL;
	bool xfer_new = seq > sd->xfer_snap_seq;
	struct tank_slot *slot;
	json_object *o;

	if (strcmp(op, "reserve") == 0 || strcmp(op, "exit") == 0) {
		struct outbox_rec *r;
		if (jv_object(rec, "transfer", true, &o, e) < 0 || outbox_from_json(o, &r, e) < 0)
			return -EINVAL;
		int64_t s64 = 0;
		if (jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &s64, e) < 0) {
			json_object_put(r->fish);
			free(r);
			return -EINVAL;
		}
		if ((slot = replay_tank(sd, r->source_tank, seq)))
			replay_remove_fish(slot, r->fish_id, (uint64_t)s64);
		if (xfer_new && !outbox_find(sd, r->transfer_id)) {
			outbox_insert(sd, r);
		} else {
			json_object_put(r->fish);
			free(r);
		}
	} else if (strcmp(op, "commit") == 0 || strcmp(op, "abort") == 0) {
		if (jv_string(rec, "transfer_id", true, 36, 36, &s1, e) < 0)
			return -EINVAL;
		if (strcmp(op, "abort") == 0) {
			json_object *fishj;
			if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
			    jv_object(rec, "fish", true, &fishj, e) < 0)
				return -EINVAL;
			if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, true, WALL_NONE, e) < 0)
				return -EINVAL;
		}
		struct outbox_rec *r = outbox_find(sd, s1);
		if (xfer_new && r)
			outbox_drop(sd, r);
	} else if (strcmp(op, "arrive") == 0) {
		json_object *fishj;
		struct inbox_rec in = {0};
		const char *ss, *st;
		if (jv_string(rec, "transfer_id", true, 1, 36, &s1, e) < 0 ||
		    jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
		    jv_string(rec, "source_server", true, 1, 64, &ss, e) < 0 ||
		    jv_string(rec, "source_tank", true, 1, SIM_TANK_ID_MAX, &st, e) < 0 ||
		    jv_double(rec, "received_at", true, 0, 1e11, &in.received_at, e) < 0 ||
		    jv_object(rec, "fish", true, &fishj, e) < 0)
			return -EINVAL;
		enum wall arrival;
		if (wall_from_json(rec, "arrival_wall", &arrival, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, false, arrival, e) < 0)
			return -EINVAL;
		if (xfer_new && !inbox_find(sd, s1)) {
			struct inbox_rec *n = calloc(1, sizeof *n);
			const char *fid;
			if (!n)
				abort();
			*n = in;
			if (jv_string(fishj, "id", true, 36, 36, &fid, e) < 0) {
				free(n);
				return -EINVAL;
			}
			strcpy(n->transfer_id, s1);
			strcpy(n->fish_id, fid);
			strcpy(n->dest_tank, s2);
			strcpy(n->source_server, ss);
			strcpy(n->source_tank, st);
			inbox_insert(sd, n);
		}
	} else if (strcmp(op, "move") == 0) {
		json_object *fishj;
		const char *fid;
		int64_t serial = 0;
		if (jv_string(rec, "from", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0 ||
		    jv_string(rec, "to", true, 1, SIM_TANK_ID_MAX, &s2, e) < 0 ||
		    jv_int64(rec, "fish_serial", false, 0, INT64_MAX, &serial, e) < 0 ||
		    jv_object(rec, "fish", true, &fishj, e) < 0 ||
		    jv_string(fishj, "id", true, 36, 36, &fid, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq)))
			replay_remove_fish(slot, fid, (uint64_t)serial);
		if ((slot = replay_tank(sd, s2, seq)) && replay_put(slot, fishj, false, WALL_NONE, e) < 0)
			return -EINVAL;
	} else if (strcmp(op, "exits") == 0) {
		json_object *ex;
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0 ||
		    jv_object(rec, "exits", true, &ex, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq))) {
			struct exit_dest d[2] = {{0}};
			for (int w = 0; w < 2; w++) {
				json_object *x;
				const char *ds, *dt, *cid = "";
				if (jv_object(ex, w ? "right" : "left", false, &x, e) < 0)
					return -EINVAL;
				if (json_object_object_get_ex(ex, w ? "right" : "left", &x) && x) {
					if (jv_string(x, "destination_server_id", true, 1, 64, &ds, e) < 0 ||
					    jv_string(x, "destination_tank_id", true, 1, SIM_TANK_ID_MAX, &dt, e) < 0 ||
					    jv_string(x, "connection_id", false, 0, CONN_ID_MAX, &cid, e) < 0)
						return -EINVAL;
					d[w].open = true;
					strcpy(d[w].server_id, ds);
					strcpy(d[w].tank_id, dt);
					strcpy(d[w].connection_id, cid);
				}
			}
			apply_exits(slot, &d[0], &d[1]);
		}
	} else if (strcmp(op, "create") == 0) {
		struct tank_meta m;
		struct tank_params p;
		bool paused = false;
		json_object *pj;
		if (jv_object(rec, "tank", true, &o, e) < 0 || tank_meta_from_json(o, &m, &paused, e) < 0 ||
		    jv_object(rec, "params", true, &pj, e) < 0 || params_from_json(pj, &p, e) < 0)
			return -EINVAL;
		if (!tanks_find(sd, m.id)) {
			struct tank *t = tank_new(&p, m.id);
			if (!t)
				return jv_fail(e, "cannot recreate tank %s", m.id);
			tanks_add(sd, &m, t, paused)->snap_seq = seq;
		}
	} else if (strcmp(op, "delete") == 0) {
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0)
			return -EINVAL;
		if ((slot = tanks_find(sd, s1))) {
			tanks_remove(sd, slot);
			store_remove_tank_dir(sd, s1);
		}
	} else if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0) {
		if (jv_string(rec, "tank_id", true, 1, SIM_TANK_ID_MAX, &s1, e) < 0)
			return -EINVAL;
		if ((slot = replay_tank(sd, s1, seq)))
			slot->paused = strcmp(op, "pause") == 0;
	} else if (strcmp(op, "noop") != 0) {
		return jv_fail(e, "unknown journal operation '%s'", op);
	}
	return 0;
}
