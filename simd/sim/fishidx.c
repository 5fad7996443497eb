/* The fish-id index (issue 13): fish id -> position in the fish array, so that arrivals,
 * duplicate checks and lookups by id cost O(1) instead of a scan of every fish.
 *
 * Open addressing with linear probing and backward-shift deletion; a slot keeps the id's
 * hash (to probe without touching the fish) and the position. The index is derived state,
 * never serialized: it is built on the first lookup after a restore or a clone, then kept
 * up to date by every change of the fish array (append, swap-removal, and a take, which
 * shifts the fish after it down by one). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

static uint32_t id_hash(const char *id)
{
	return ids_hash(id) | 1u; /* never 0: 0 marks an empty slot */
}

static void idx_insert(struct tank *t, uint32_t h, int pos)
{
	size_t mask = t->id_index_cap - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask)
		if (t->id_index[s].hash == 0) {
			t->id_index[s] = (struct fishidx_slot){h, pos};
			return;
		}
}

void fishidx_rebuild(struct tank *t)
{
	size_t need = 64;
	while (need < 2 * (t->n_fish + 1))
		need *= 2;
	if (need != t->id_index_cap) {
		free(t->id_index);
		t->id_index = sim_xcalloc(need, sizeof *t->id_index);
		t->id_index_cap = need;
	} else {
		memset(t->id_index, 0, need * sizeof *t->id_index);
	}
	for (size_t i = 0; i < t->n_fish; i++)
		idx_insert(t, id_hash(t->fish[i].id), (int)i);
	t->id_index_n = t->n_fish;
	t->id_index_valid = true;
}

static size_t idx_slot(const struct tank *t, const char *id, uint32_t h)
{
	size_t mask = t->id_index_cap - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		const struct fishidx_slot *e = &t->id_index[s];
		if (e->hash == 0)
			return (size_t)-1;
		if (e->hash == h && strcmp(t->fish[e->pos].id, id) == 0)
			return s;
	}
}

ssize_t fishidx_find(struct tank *t, const char *id)
{
	if (!t->id_index_valid)
		fishidx_rebuild(t);
	size_t s = idx_slot(t, id, id_hash(id));
	return s == (size_t)-1 ? -1 : t->id_index[s].pos;
}

void fishidx_added(struct tank *t, size_t pos)
{
	if (!t->id_index_valid)
		return;
	if (2 * (t->id_index_n + 1) > t->id_index_cap) {
		fishidx_rebuild(t); /* includes the new fish */
		return;
	}
	idx_insert(t, id_hash(t->fish[pos].id), (int)pos);
	t->id_index_n++;
}

void fishidx_removed(struct tank *t, const char *id)
{
	if (!t->id_index_valid)
		return;
	size_t s = idx_slot(t, id, id_hash(id));
	if (s == (size_t)-1)
		return;
	size_t mask = t->id_index_cap - 1, i = s;
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (size_t j = (i + 1) & mask; t->id_index[j].hash != 0; j = (j + 1) & mask) {
		size_t home = t->id_index[j].hash & mask;
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			t->id_index[i] = t->id_index[j];
			i = j;
		}
	}
	t->id_index[i] = (struct fishidx_slot){0, 0};
	t->id_index_n--;
}

void fishidx_taken(struct tank *t, size_t pos)
{
	if (!t->id_index_valid)
		return;
	fishidx_removed(t, t->fish[pos].id);
	/* One pass over the slots, no hashing: a rebuild, as before, hashed every id again
	 * (about half of a 100,000-fish tank's 20 ms a migration, on the event loop). */
	for (size_t s = 0; s < t->id_index_cap; s++)
		if (t->id_index[s].hash && (size_t)t->id_index[s].pos > pos)
			t->id_index[s].pos--;
}

void fishidx_moved(struct tank *t, size_t pos)
{
	if (!t->id_index_valid)
		return;
	size_t s = idx_slot(t, t->fish[pos].id, id_hash(t->fish[pos].id));
	if (s != (size_t)-1)
		t->id_index[s].pos = (int)pos;
}
