/* The viewer's frame encoder: every frame and every looks entry is valid JSON with the
 * fields the page draws, keys are stable for an entity and never reused, looks come only
 * when an entity comes or goes, and a reader that saw the looks up to key K needs only
 * the keys above K later (view.h's promise, which the stream relies on). A capture holds
 * no pointer into the tank: the stream's encoder thread encodes it while the tank ticks
 * on, and after the tank is gone; the text is the same as when encoded at once. A capture
 * written over an earlier one (the stream reuses them) encodes as a fresh one does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim-test.h"
#include "simd/sim/view.h"
#include "tap.h"

static json_object *parse_frame(const struct view_frame *f)
{
	char *text = malloc(f->body_len + 2);
	text[0] = '{';
	memcpy(text + 1, f->body, f->body_len);
	text[f->body_len + 1] = '\0';
	json_object *o = json_tokener_parse(text);
	free(text);
	return o;
}

int main(void)
{
	struct tank_params p = tank_params_default(7);
	struct tank *t = tank_new(&p, "view-tank");
	struct tank_view *v = tank_view_new();
	struct tank_stats st;
	bool all_json = true, fields = true, looks_json = true, covered = true, ordered = true;
	bool slices = true;
	int looks_frames = 0, frames = 0;
	uint32_t seen = 0; /* the reader's highest key */
	uint32_t max_key = 0;
	json_object *known = json_object_new_object(); /* key -> fish id, as the reader saw */
	bool stable = true;
	/* A second view encodes every capture a frame late, after the tank moved on. */
	struct tank_view *late = tank_view_new();
	struct view_capture *held = NULL;
	char *held_body = NULL;
	bool same_later = true;
	/* A third view encodes a fresh capture of every frame, to compare with the reused one. */
	struct tank_view *fresh_view = tank_view_new();
	bool same_fresh = true;
	for (int i = 0; i < 1500; i++) {
		tank_step(t);
		if (i == 700)
			tank_drop_food(t, 100, 5);
		if (held) {
			struct view_frame lf;
			tank_view_encode(late, held, &lf);
			same_later &= strcmp(lf.body, held_body) == 0;
			free(lf.body);
			view_looks_free(lf.looks);
			free(held_body);
		}
		tank_get_stats(t, &st);
		struct view_frame f;
		/* The capture encoded late is written over, as the stream reuses its captures:
		 * what it held before must not show through (the food count grows at 700). */
		struct view_capture *c = view_capture(t, &st, i % 2 == 0, held);
		tank_view_encode(v, c, &f);
		struct view_capture *fc = view_capture(t, &st, i % 2 == 0, NULL);
		struct view_frame ff;
		tank_view_encode(fresh_view, fc, &ff);
		same_fresh &= ff.body_len == f.body_len && memcmp(ff.body, f.body, f.body_len) == 0;
		free(ff.body);
		view_looks_free(ff.looks);
		view_capture_free(fc);
		held = c;
		held_body = strdup(f.body);
		json_object *o = parse_frame(&f);
		frames++;
		if (!o) {
			all_json = false;
			free(f.body);
			view_looks_free(f.looks);
			continue;
		}
		json_object *fish, *plants, *food, *x;
		fields &= json_object_object_get_ex(o, "fish", &fish) &&
			  json_object_object_get_ex(o, "plants", &plants) &&
			  json_object_object_get_ex(o, "food", &food) &&
			  json_object_object_get_ex(o, "crabs", &x) &&
			  json_object_object_get_ex(o, "castle", &x) &&
			  json_object_object_get_ex(o, "day_time", &x) &&
			  json_object_object_get_ex(o, "frame", &x) &&
			  (uint64_t)json_object_get_int64(x) == tank_frame(t) &&
			  json_object_array_length(fish) == tank_fish_count(t) &&
			  (int)json_object_array_length(food) == st.food_count;
		if (f.looks) {
			looks_frames++;
			for (size_t j = 0; j < f.looks->n; j++) {
				char *e = strndup(f.looks->text + f.looks->off[j], f.looks->len[j]);
				json_object *l = json_tokener_parse(e);
				free(e);
				json_object *k, *id;
				if (!l || !json_object_object_get_ex(l, "k", &k) ||
				    (uint32_t)json_object_get_int64(k) != f.looks->key[j] ||
				    !json_object_object_get_ex(l, "id", &id)) {
					looks_json = false;
				} else {
					char ks[16];
					snprintf(ks, sizeof ks, "%u", f.looks->key[j]);
					json_object *prev;
					if (json_object_object_get_ex(known, ks, &prev))
						stable &= strcmp(json_object_get_string(prev),
								 json_object_get_string(id)) == 0;
					else if (f.looks->key[j] > seen)
						json_object_object_add(known, ks,
								       json_object_get(id));
				}
				json_object_put(l);
				if (j && f.looks->key[j] <= f.looks->key[j - 1])
					ordered = false;
				if (f.looks->key[j] > max_key)
					max_key = f.looks->key[j];
			}
			if (f.looks->n)
				seen = f.looks->key[f.looks->n - 1];
			/* From any entity to the last, the text is one slice of an array's
			 * members (the stream sends a new client that slice as it is). */
			for (size_t j = 0; j < f.looks->n; j += 1 + f.looks->n / 7) {
				size_t len = f.looks->text_len - f.looks->off[j];
				char *a = malloc(len + 3);
				a[0] = '[';
				memcpy(a + 1, f.looks->text + f.looks->off[j], len);
				memcpy(a + 1 + len, "]", 2);
				json_object *arr = json_tokener_parse(a);
				free(a);
				slices &= arr && json_object_is_type(arr, json_type_array) &&
					  json_object_array_length(arr) == f.looks->n - j;
				json_object_put(arr);
			}
		}
		/* Every fish key of this frame is one the reader has looks for. */
		for (size_t j = 0; j < json_object_array_length(fish); j++) {
			json_object *a = json_object_array_get_idx(fish, j);
			char ks[16];
			snprintf(ks, sizeof ks, "%d",
				 json_object_get_int(json_object_array_get_idx(a, 0)));
			json_object *id;
			covered &= json_object_array_length(a) == 7 &&
				   json_object_object_get_ex(known, ks, &id) &&
				   tank_find_fish(t, json_object_get_string(id)) != NULL;
		}
		json_object_put(o);
		free(f.body);
		view_looks_free(f.looks);
	}
	ok(all_json, "every frame is a JSON object");
	ok(fields, "frames carry frame, fish, plants, food, crabs, castle and day_time, in number");
	ok(looks_json, "every looks entry is JSON with its key and id");
	ok(ordered, "looks come in key order");
	ok(slices, "the looks from any entity to the last are one slice of a JSON array");
	ok(stable, "a key always names the same entity");
	ok(covered, "every fish drawn has looks the reader received, for the right fish");
	ok(looks_frames > 1 && looks_frames < frames / 2,
	   "looks come only when entities come or go (%d of %d frames)", looks_frames, frames);
	ok(max_key > tank_fish_count(t), "keys are never reused (%u keys for %zu fish now)",
	   max_key, tank_fish_count(t));
	ok(same_fresh, "a capture written over an earlier one gives the frame a fresh one gives");
	json_object_put(known);
	tank_view_free(fresh_view);
	tank_view_free(v);
	tank_free(t);
	/* The last capture, encoded once the tank is freed (ASan would see a stale pointer). */
	struct view_frame lf;
	tank_view_encode(late, held, &lf);
	same_later &= strcmp(lf.body, held_body) == 0;
	ok(same_later,
	   "a capture encoded later, even after the tank is freed, gives the same frame");
	free(lf.body);
	view_looks_free(lf.looks);
	view_capture_free(held);
	free(held_body);
	tank_view_free(late);
	return tap_done();
}
