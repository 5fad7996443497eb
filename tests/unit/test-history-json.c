/* GET /history's text (simd/history_json.c), written without json-c, is what json-c
 * wrote before: the same keys in the same order and every number printed alike. */
#include "config.h"

#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "simd/history_json.h"
#include "tap.h"

/* The answer as it was built: json-c objects, printed by jv_to_string. */
static char *through_json_c(const struct sim_history *h, const struct history_head *head)
{
	size_t nc = sim_history_column_count();
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < nc; i++)
		json_object_array_add(a, json_object_new_string(sim_history_column(i)));
	json_object_object_add(o, "columns", a);
	a = json_object_new_array();
	for (size_t k = 0; k < h->n; k++) {
		json_object *x = json_object_new_object();
		for (size_t i = 0; i < nc; i++) {
			double v = h->rows[k * nc + i];
			json_object_object_add(x, sim_history_column(i),
					       v == floor(v) && fabs(v) < 9e15
						       ? json_object_new_int64((int64_t)v)
						       : json_object_new_double(v));
		}
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "samples", a);
	json_object_object_add(o, "tank_id", json_object_new_string(head->tank_id));
	json_object_object_add(o, "frame", json_object_new_uint64(head->frame));
	json_object_object_add(o, "history_interval", json_object_new_int(head->interval));
	json_object_object_add(o, "history_size", json_object_new_int(head->size));
	char *text = strdup(jv_to_string(o));
	json_object_put(o);
	return text;
}

int main(void)
{
	static const double odd[] = {0,
				     -0.0,
				     1,
				     -1,
				     0.1,
				     -2.5,
				     1e15,
				     9e15,
				     -9e15,
				     1e16,
				     1e300,
				     1e-300,
				     1.0 / 3,
				     123456.789,
				     2e22,
				     DBL_MAX,
				     DBL_MIN,
				     0.30000000000000004,
				     4503599627370497.5,
				     NAN,
				     INFINITY,
				     -INFINITY};
	size_t nc = sim_history_column_count(), nodd = sizeof odd / sizeof odd[0];
	struct sim_history h = {.n = 40};
	h.rows = calloc(h.n * nc, sizeof *h.rows);
	for (size_t k = 0; k < h.n * nc; k++)
		h.rows[k] = k % 3 == 0 ? odd[k % nodd] : (double)k * (k % 2 ? 0.37 : 3);
	const struct history_head head = {"tank-1:a>b", 123456789012ULL, 300, 10000};
	size_t len = 0;
	char *mine = history_json_text(&h, &head, &len);
	char *theirs = through_json_c(&h, &head);
	is_str(mine, theirs, "the text is json-c's, byte for byte");
	ok(len == strlen(mine), "its length is given");
	free(mine);
	free(theirs);
	struct sim_history none = {0};
	mine = history_json_text(&none, &head, &len);
	theirs = through_json_c(&none, &head);
	is_str(mine, theirs, "no samples: the same too");
	free(mine);
	free(theirs);
	free(h.rows);
	return tap_done();
}
