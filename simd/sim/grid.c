#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/alloc.h"
#include "simd/sim/grid.h"

void grid_init(struct grid *g, double width, double height, double cell)
{
	memset(g, 0, sizeof *g);
	g->cell = cell;
	g->inv_cell = 1.0 / cell;
	g->cols = (int)ceil(width / cell);
	g->rows = (int)ceil(height / cell);
	if (g->cols < 1)
		g->cols = 1;
	if (g->rows < 1)
		g->rows = 1;
	g->start = sim_xcalloc((size_t)g->cols * g->rows + 1, sizeof *g->start);
}

void grid_free(struct grid *g)
{
	free(g->start);
	free(g->items);
	free(g->tmp);
	free(g->cell_of);
	free(g->pos_of);
	free(g->part_at);
	memset(g, 0, sizeof *g);
}

void grid_prepare(struct grid *g, size_t n)
{
	if (n > g->cap) {
		size_t cap = n + n / 2 + 16;
		g->items = sim_xrealloc(g->items, cap, sizeof *g->items);
		g->tmp = sim_xrealloc(g->tmp, cap, sizeof *g->tmp);
		g->cell_of = sim_xrealloc(g->cell_of, cap, sizeof *g->cell_of);
		g->cap = cap;
	}
	if (n > g->cap_pos) {
		size_t cap = n + n / 2 + 16;
		g->pos_of = sim_xrealloc(g->pos_of, cap, sizeof *g->pos_of);
		g->cap_pos = cap;
	}
	if (n > 0) /* an empty tank has no pos_of yet, and memset(NULL, ...) is undefined */
		memset(g->pos_of, 0xff, n * sizeof *g->pos_of); /* -1: not pushed */
	g->n = 0;
}

void grid_parts_begin(struct grid *g, size_t parts)
{
	size_t need = parts * ((size_t)g->cols * g->rows);
	if (need > g->cap_part_at) {
		g->part_at = sim_xrealloc(g->part_at, need, sizeof *g->part_at);
		g->cap_part_at = need;
	}
}

/* Part k holds the items [n k / parts, n (k + 1) / parts). */
static size_t part_lo(const struct grid *g, size_t part, size_t parts)
{
	return g->n * part / parts;
}

void grid_count_part(struct grid *g, size_t part, size_t parts)
{
	size_t ncells = (size_t)g->cols * g->rows;
	int *count = g->part_at + part * ncells;
	memset(count, 0, ncells * sizeof *count);
	for (size_t i = part_lo(g, part, parts), hi = part_lo(g, part + 1, parts); i < hi; i++) {
		if (g->tmp[i].idx < 0) { /* a hole left by grid_fill_at */
			g->cell_of[i] = -1;
			continue;
		}
		int c = grid_row(g, g->tmp[i].y) * g->cols + grid_col(g, g->tmp[i].x);
		g->cell_of[i] = c;
		count[c]++;
	}
}

/* start[] from the counts, and each part's counts turned into where its first item of
 * each cell goes: after the earlier parts' items of that cell. */
void grid_offsets(struct grid *g, size_t parts)
{
	size_t ncells = (size_t)g->cols * g->rows;
	int at = 0;
	for (size_t c = 0; c < ncells; c++) {
		g->start[c] = at;
		for (size_t k = 0; k < parts; k++) {
			int *slot = &g->part_at[k * ncells + c];
			int count = *slot;
			*slot = at;
			at += count;
		}
	}
	g->start[ncells] = at;
}

/* Stable: within a cell, items keep push order (ascending index), so queries are
 * deterministic. */
void grid_place_part(struct grid *g, size_t part, size_t parts)
{
	int *next = g->part_at + part * ((size_t)g->cols * g->rows);
	for (size_t i = part_lo(g, part, parts), hi = part_lo(g, part + 1, parts); i < hi; i++) {
		if (g->cell_of[i] < 0)
			continue;
		int at = next[g->cell_of[i]]++;
		g->items[at] = g->tmp[i];
		if (g->tmp[i].idx >= 0 && (size_t)g->tmp[i].idx < g->cap_pos)
			g->pos_of[g->tmp[i].idx] = at;
	}
}

void grid_parts_end(struct grid *g)
{
	g->n = (size_t)g->start[(size_t)g->cols * g->rows]; /* the holes are left out */
}

void grid_fill_at(struct grid *g, size_t i, double x, double y, double vx, double vy, double aux,
		  int idx)
{
	g->tmp[i] = (struct grid_item){x, y, vx, vy, aux, idx};
}

unsigned grid_rot(const struct grid *g, int idx)
{
	if (idx < 0 || (size_t)idx >= g->cap_pos)
		return 0;
	int at = g->pos_of[idx];
	if (at < 0 || (size_t)at >= g->n || g->items[at].idx != idx)
		return 0;
	const struct grid_item *it = &g->items[at];
	int c = grid_row(g, it->y) * g->cols + grid_col(g, it->x);
	return (unsigned)(at - g->start[c]) + 1;
}

struct grid_collect {
	const struct grid_item **out;
	size_t n;
};

static void grid_collect(void *ctx, const struct grid_item *it)
{
	struct grid_collect *c = ctx;
	c->out[c->n++] = it;
}

size_t grid_near(const struct grid *g, double x, double y, double r, const struct grid *rot_grid,
		 int rot_idx, const struct grid_item **out, size_t max)
{
	struct grid_collect c = {out, 0};
	grid_visit_near(g, x, y, r, rot_grid, rot_idx, max, grid_collect, &c);
	return c.n;
}
