/* The fish array in space order (issue 13). The move takes the fish in the fish grid's
 * order, so that neighbouring queries share cells; it then reads each fish (half a kilobyte
 * of it) wherever the array holds it. Fish are created at random places, the last fish
 * fills each death's slot and newborns go to the end, so without help the array's order has
 * nothing to do with space and every fish the move reads is a cache miss of its own.
 * Every FISHORDER_EVERY frames (and on a tank's first frame) the array is put in the grid's
 * order, in place: then consecutive fish of the move are neighbours in memory too, and the
 * order decays only as fish die, are born and swim across cells.
 *
 * The order of the fish is part of the state (the order of the JSON "fish" array); this
 * runs at fixed frames, serially, so a tank stays deterministic whatever its threads, and
 * a restored tank does what the original did. */
#include "config.h"

#include "simd/sim/internal.h"

bool fishorder_due(const struct tank *t)
{
	return t->n_fish >= FISHORDER_FROM && t->frame % FISHORDER_EVERY == 1 &&
	       t->fish_grid.n == t->n_fish;
}

/* Called right after the fish grid was built from every fish: fish k of the grid's order
 * goes to slot k, by following the permutation's cycles (one fish in hand at a time, no
 * second array). The grid then needs only its indices renamed: its cells and their order
 * are what a rebuild would give, since within a cell the items keep ascending slots. */
void fishorder_sort(struct tank *t)
{
	size_t n = t->n_fish;
	struct grid *g = &t->fish_grid;
	sim_grow((void **)&t->work.bite, &t->work.cap_bite, n, sizeof *t->work.bite);
	/* Slot k takes the fish now in slot from[k] (the move rewrites it). */
	int *from = t->work.bite;
	for (size_t k = 0; k < n; k++)
		from[k] = g->items[k].idx;
	struct fish held;
	for (size_t start = 0; start < n; start++) {
		if (from[start] == (int)start)
			continue;
		held = t->fish[start];
		size_t k = start;
		for (;;) {
			size_t s = (size_t)from[k];
			from[k] = (int)k; /* done */
			if (s == start) {
				t->fish[k] = held;
				break;
			}
			t->fish[k] = t->fish[s];
			k = s;
		}
	}
	for (size_t k = 0; k < n; k++) {
		g->items[k].idx = (int)k;
		g->pos_of[k] = (int)k;
	}
	t->id_index_valid = false; /* rebuilt on the next lookup */
}
