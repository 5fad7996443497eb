/* Fuzz target: one line of migrated's transfer history (transfers.log), which it reads
 * back at start, as history.c's loader does: parsed as a JSON object, then decoded. A
 * crash may cut the last line short and a disk may damage any. What loads must write
 * the same line again (GET /api/transfers serves that form) and be found in the
 * history by its id. Built with fuzz-main.c for `make check` and with libFuzzer by
 * `make fuzz`. */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "migrated/history.h"

#include "fuzz.h"

/* Everything but the two times, which the written form keeps to the millisecond. */
static bool fuzz_same(const struct transfer_record *a, const struct transfer_record *b)
{
	return strcmp(a->transfer_id, b->transfer_id) == 0 &&
	       strcmp(a->entity_type, b->entity_type) == 0 && strcmp(a->fish_id, b->fish_id) == 0 &&
	       strcmp(a->source_server_id, b->source_server_id) == 0 &&
	       strcmp(a->source_tank_id, b->source_tank_id) == 0 &&
	       strcmp(a->destination_server_id, b->destination_server_id) == 0 &&
	       strcmp(a->destination_tank_id, b->destination_tank_id) == 0 &&
	       strcmp(a->connection_id, b->connection_id) == 0 && a->state == b->state &&
	       strcmp(a->error, b->error) == 0 && a->attempts == b->attempts &&
	       a->local == b->local;
}

int fuzz_verdict(const uint8_t *data, size_t size)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object((const char *)data, size, 8, &e);
	if (!o)
		return 0;
	struct transfer_record r;
	int rc = transfer_record_from_json(o, &r, &e);
	json_object_put(o);
	if (rc < 0) {
		if (!e.msg[0])
			abort(); /* a refusal says why */
		return 0;
	}

	/* Written and read back: the same record, its times to the millisecond; written
	 * again: the same text. */
	json_object *w = transfer_record_to_json(&r);
	struct transfer_record again;
	if (transfer_record_from_json(w, &again, &e) < 0 || !fuzz_same(&r, &again) ||
	    fabs(again.timestamp - r.timestamp) > 0.0006 ||
	    fabs(again.created_at - r.created_at) > 0.0006)
		abort();
	json_object *w2 = transfer_record_to_json(&again);
	if (strcmp(jv_to_string(w), jv_to_string(w2)) != 0)
		abort();
	json_object_put(w2);
	json_object_put(w);

	/* Into a memory-only history: found by its id, counted for its tanks. */
	struct history_opts opts = {.memory = 4};
	struct history *h = history_new(&opts, NULL, NULL);
	history_record(h, &r);
	const struct transfer_record *got = history_get(h, r.transfer_id);
	struct tank_transfer_stats st;
	history_tank_stats(h, r.source_tank_id, &st);
	if (!got || !fuzz_same(got, &r) || history_count(h) != 1 || st.out != 1)
		abort();
	history_free(h);
	return 1;
}
