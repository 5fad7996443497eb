/* JSON and CSV of a tank's history and evolution counters (docs/history.md). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "history_json.h"

/* Counts are whole numbers: printed as integers, the rest as json-c prints a double
 * (17 digits, and ".0" when those look whole), which is what the answer was. */
static void put_number(FILE *f, double v)
{
	if (v == floor(v) && fabs(v) < 9e15) {
		fprintf(f, "%" PRId64, (int64_t)v);
	} else if (isnan(v)) {
		fputs("NaN", f);
	} else if (isinf(v)) {
		fputs(v > 0 ? "Infinity" : "-Infinity", f);
	} else {
		char b[40];
		snprintf(b, sizeof b, "%.17g", v);
		fputs(b, f);
		if (!strpbrk(b, ".e"))
			fputs(".0", f);
	}
}

char *history_json_text(const struct sim_history *h, const struct history_head *head, size_t *len)
{
	size_t nc = sim_history_column_count();
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	/* Column names and tank ids need no escaping (letters, digits, _ - . > :). */
	fputs("{\"columns\":[", f);
	for (size_t i = 0; i < nc; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", sim_history_column(i));
	fputs("],\"samples\":[", f);
	for (size_t k = 0; k < h->n; k++) {
		fputs(k ? ",{" : "{", f);
		for (size_t i = 0; i < nc; i++) {
			fprintf(f, "%s\"%s\":", i ? "," : "", sim_history_column(i));
			put_number(f, h->rows[k * nc + i]);
		}
		fputc('}', f);
	}
	fprintf(f,
		"],\"tank_id\":\"%s\",\"frame\":%" PRIu64
		",\"history_interval\":%d,\"history_size\":%d}",
		head->tank_id, head->frame, head->interval, head->size);
	fclose(f);
	return buf;
}

char *history_csv(const struct sim_history *h, size_t *len)
{
	size_t nc = sim_history_column_count();
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	for (size_t i = 0; i < nc; i++)
		fprintf(f, "%s%s", i ? "," : "", sim_history_column(i));
	fputc('\n', f);
	for (size_t k = 0; k < h->n; k++) {
		for (size_t i = 0; i < nc; i++)
			fprintf(f, "%s%.10g", i ? "," : "", h->rows[k * nc + i]);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

void history_metrics(FILE *f, const char *tank_id, const double *row)
{
	size_t nc = sim_history_column_count();
	for (size_t i = 0; i < nc; i++)
		fprintf(f, "tankworld_sim_history{tank=\"%s\",column=\"%s\"} %.10g\n", tank_id,
			sim_history_column(i), row[i]);
}

void tank_status_add_evolution(json_object *stats, const struct tank_stats *st)
{
	json_object_object_add(stats, "generation_mean", jv_new_decimal(st->generation_mean, 3));
	json_object_object_add(stats, "generation_deepest",
			       json_object_new_int(st->generation_deepest));
	json_object_object_add(stats, "spawns", json_object_new_uint64(st->spawns));
	json_object_object_add(stats, "spawns_from_gene_bank",
			       json_object_new_uint64(st->spawns_banked));
	json_object_object_add(stats, "gene_bank_size", json_object_new_int(st->gene_bank_size));
	json_object_object_add(stats, "births_refused", json_object_new_uint64(st->births_refused));
	json_object_object_add(stats, "poker_births", json_object_new_uint64(st->poker_births));
	json_object_object_add(stats, "poker_games", json_object_new_uint64(st->poker_games));
	json_object_object_add(stats, "plant_poker_games",
			       json_object_new_uint64(st->plant_poker_games));
	json_object_object_add(stats, "plants_sprouted",
			       json_object_new_uint64(st->plants_sprouted));
	json_object_object_add(stats, "food_energy", jv_new_decimal(st->food_energy, 3));
	json_object_object_add(stats, "crab_energy", jv_new_decimal(st->crab_energy, 3));
	json_object *l = json_object_new_object();
	double net = 0;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++) {
		json_object_object_add(l, energy_flow_name(i),
				       jv_new_decimal(st->energy_flow[i], 3));
		net += i < ENERGY_FLOW_FIRST_OUT ? st->energy_flow[i] : -st->energy_flow[i];
	}
	/* total_energy - (inflows - outflows): zero to rounding when the books balance. */
	json_object_object_add(l, "imbalance", json_object_new_double(st->total_energy - net));
	json_object_object_add(stats, "energy_ledger", l);
}
