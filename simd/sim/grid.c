#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/grid.h"
#include "simd/sim/internal.h"

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
	g->n = 0;
}

void grid_push(struct grid *g, double x, double y, double vx, double vy, double aux, int idx)
{
	struct grid_item *it = &g->tmp[g->n++];
	it->x = x;
	it->y = y;
	it->vx = vx;
	it->vy = vy;
	it->aux = aux;
	it->idx = idx;
}

void grid_finish(struct grid *g)
{
	size_t ncells = (size_t)g->cols * g->rows;
	memset(g->start, 0, (ncells + 1) * sizeof *g->start);
	for (size_t i = 0; i < g->n; i++) {
		int c = grid_row(g, g->tmp[i].y) * g->cols + grid_col(g, g->tmp[i].x);
		g->cell_of[i] = c;
		g->start[c + 1]++;
	}
	for (size_t c = 0; c < ncells; c++)
		g->start[c + 1] += g->start[c];
	/* Stable: within a cell, items keep push order (ascending index), so queries are
	 * deterministic. start[] is shifted while placing, then restored. */
	for (size_t i = 0; i < g->n; i++)
		g->items[g->start[g->cell_of[i]]++] = g->tmp[i];
	for (size_t c = ncells; c > 0; c--)
		g->start[c] = g->start[c - 1];
	g->start[0] = 0;
}
