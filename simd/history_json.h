/* JSON and CSV of a tank's evolution: its history samples and the evolution counters a
 * TankStatus shows (docs/history.md). No HTTP here. */
#ifndef TW_SIMD_HISTORY_JSON_H
#define TW_SIMD_HISTORY_JSON_H

#include <json-c/json.h>
#include <stdio.h>

#include "simd/sim/sim.h"

/* What GET /history adds after the samples. */
struct history_head {
	const char *tank_id;
	uint64_t frame;
	int interval, size;
};
/* GET /history's answer, {"columns":[...],"samples":[{"frame":...,...}],"tank_id",
 * "frame","history_interval","history_size"}, written without json-c: through json-c a
 * full ring of 100,000 samples was 8.6 million objects, 3.4 GB for a 258 MB answer
 * (malloc'd text, *len set). */
char *history_json_text(const struct sim_history *h, const struct history_head *head, size_t *len);
/* A header line, then one line per sample (malloc'd text, *len set). */
char *history_csv(const struct sim_history *h, size_t *len);
/* Prometheus gauges of one tank's newest sample: tankworld_sim_history{tank,column}. */
void history_metrics(FILE *f, const char *tank_id, const double *row);
/* What the core counts beyond the basics, for TankStatus "stats". */
void tank_status_add_evolution(json_object *stats, const struct tank_stats *st);

#endif
