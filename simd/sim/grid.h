/* A uniform spatial hash rebuilt every frame by counting sort: neighbour queries touch only
 * the cells a query box overlaps, so nothing in a frame is O(n^2). Items are copied into
 * cell order (position and index), so a query reads contiguous memory. */
#ifndef TW_SIM_GRID_H
#define TW_SIM_GRID_H

#include <stddef.h>

struct grid_item {
	double x, y;
	double vx, vy; /* copied so flocking never dereferences a neighbour */
	double aux;    /* fish: energy ratio (same reason) */
	int idx;
};

struct grid {
	double cell, inv_cell;
	int cols, rows;
	int *start;		 /* cols*rows+1 offsets into items */
	struct grid_item *items; /* sorted by cell */
	struct grid_item *tmp;	 /* unsorted, as pushed */
	int *cell_of;
	int *pos_of; /* idx -> position in items (pushed idx only) */
	size_t n, cap;
	size_t cap_pos;
	int *part_at; /* per part, per cell: items counted, then where the next one goes */
	size_t cap_part_at;
};

void grid_init(struct grid *g, double width, double height, double cell);
void grid_free(struct grid *g);
/* Start a rebuild for up to n items. */
void grid_prepare(struct grid *g, size_t n);
/* Fill slot i (< the n given to grid_prepare) from any thread, each slot once; idx -1
 * leaves a hole. Then set g->n to the number of slots and sort them. */
void grid_fill_at(struct grid *g, size_t i, double x, double y, double vx, double vy, double aux,
		  int idx);
/* The counting sort, in parts that threads can run at once: the slots are split into parts
 * contiguous runs; grid_parts_begin, grid_count_part for every part, grid_offsets,
 * grid_place_part for every part, then grid_parts_end. Each part writes only its own
 * slots' cells and items, and the items of one cell go to the parts in order, so the grid
 * is the same for any number of parts: within a cell, the items keep slot order, and the
 * holes are left out. */
void grid_parts_begin(struct grid *g, size_t parts);
void grid_count_part(struct grid *g, size_t part, size_t parts);
void grid_offsets(struct grid *g, size_t parts);
void grid_place_part(struct grid *g, size_t part, size_t parts);
void grid_parts_end(struct grid *g);

static inline int grid_col(const struct grid *g, double x)
{
	int c = (int)(x * g->inv_cell);
	return c < 0 ? 0 : c >= g->cols ? g->cols - 1 : c;
}
static inline int grid_row(const struct grid *g, double y)
{
	int r = (int)(y * g->inv_cell);
	return r < 0 ? 0 : r >= g->rows ? g->rows - 1 : r;
}

/* Iterate the items of every cell overlapping the box [x-r, x+r] x [y-r, y+r]:
 *   GRID_FOREACH(g, x, y, r, it) { use it->x, it->y, it->idx }
 * Cells are stored row by row, so the cells of one row of the box form one contiguous run
 * of items: one inner loop per row. The order is cell by cell, items in push order. */
#define GRID_FOREACH(g, qx, qy, qr, it)                                                        \
	for (int gc_r0_ = grid_row((g), (qy) - (qr)), gc_r1_ = grid_row((g), (qy) + (qr)),     \
		 gc_c0_ = grid_col((g), (qx) - (qr)), gc_c1_ = grid_col((g), (qx) + (qr)),     \
		 gc_row_ = gc_r0_;                                                             \
	     gc_row_ <= gc_r1_; gc_row_++)                                                     \
		for (const struct grid_item *                                                  \
			     it = (g)->items + (g)->start[gc_row_ * (g)->cols + gc_c0_],       \
			    *gc_end_##it =                                                     \
				    (g)->items + (g)->start[gc_row_ * (g)->cols + gc_c1_ + 1]; \
		     it < gc_end_##it; it++)

/* How many items the cells overlapping the box hold (what GRID_FOREACH would visit). */
static inline size_t grid_count_box(const struct grid *g, double x, double y, double r)
{
	int c0 = grid_col(g, x - r), c1 = grid_col(g, x + r);
	size_t total = 0;
	for (int row = grid_row(g, y - r), r1 = grid_row(g, y + r); row <= r1; row++)
		total += (size_t)(g->start[row * g->cols + c1 + 1] - g->start[row * g->cols + c0]);
	return total;
}

/* Bounded neighbourhood queries (issue 13): a query visits at most max candidates, so a
 * fish's work per frame stays bounded however crowded its cell is. Candidates come from
 * the cells overlapping the box [x-r, x+r] x [y-r, y+r], nearest cells first: ring 0 is
 * the query's own cell, ring k the cells k steps away (Chebyshev distance), each ring row
 * by row. Within a cell, items are visited from position rot (modulo the cell's count)
 * onwards, wrapping, where rot is grid_rot(rot_grid, rot_idx) (0 without a rot_grid): a
 * fish passes itself in the fish grid, so that in a crowded cell each fish sees the fish
 * that follow it, not everyone the same first few. The choice is a
 * pure function of the grid and the arguments: deterministic. When the box holds no more
 * than max items they are all taken, in GRID_FOREACH's order (so a sparse tank behaves
 * exactly as before the caps).
 * Writes pointers into out[] and returns how many. */
size_t grid_near(const struct grid *g, double x, double y, double r, const struct grid *rot_grid,
		 int rot_idx, const struct grid_item **out, size_t max);

/* Cells [c0, c1] of one row for grid_ring_walk, each from rot on, wrapping. */
static inline __attribute__((always_inline)) size_t
grid_ring_cells(const struct grid *g, int row, int c0, int c1, unsigned rot, size_t n, size_t max,
		void (*visit)(void *, const struct grid_item *), void *ctx)
{
	for (int c = c0; c <= c1 && n < max; c++) {
		int a = g->start[row * g->cols + c], b = g->start[row * g->cols + c + 1];
		int m = b - a;
		if (m <= 0)
			continue;
		/* rot is a rank within a cell, mostly below the cell's count: skip the division. */
		int s = a + (int)(rot < (unsigned)m ? rot : rot % (unsigned)m);
		for (int k = s; k < b && n < max; k++, n++)
			visit(ctx, &g->items[k]);
		for (int k = a; k < s && n < max; k++, n++)
			visit(ctx, &g->items[k]);
	}
	return n;
}

/* grid_near's walk of a box that holds more than max items: visit(ctx, item) for the items
 * grid_near would write, in its order, where rot is the rotation it would use. Inlined
 * into its caller, so that a hot query's visit is inlined into the walk, and nothing is
 * collected (at 100,000 fish, nearly every fish's schooling query is crowded). */
static inline __attribute__((always_inline)) void
grid_ring_walk(const struct grid *g, double x, double y, double r, unsigned rot, size_t max,
	       void (*visit)(void *, const struct grid_item *), void *ctx)
{
	int cx = grid_col(g, x), cy = grid_row(g, y);
	int c0 = grid_col(g, x - r), c1 = grid_col(g, x + r);
	int r0 = grid_row(g, y - r), r1 = grid_row(g, y + r);
	int maxring = cx - c0;
	if (c1 - cx > maxring)
		maxring = c1 - cx;
	if (cy - r0 > maxring)
		maxring = cy - r0;
	if (r1 - cy > maxring)
		maxring = r1 - cy;
	size_t n = 0;
	for (int ring = 0; ring <= maxring && n < max; ring++) {
		int lo = cy - ring < r0 ? r0 : cy - ring, hi = cy + ring > r1 ? r1 : cy + ring;
		for (int row = lo; row <= hi && n < max; row++) {
			if (row == cy - ring || row == cy + ring) {
				int a = cx - ring < c0 ? c0 : cx - ring;
				int b = cx + ring > c1 ? c1 : cx + ring;
				n = grid_ring_cells(g, row, a, b, rot, n, max, visit, ctx);
			} else {
				if (cx - ring >= c0)
					n = grid_ring_cells(g, row, cx - ring, cx - ring, rot, n,
							    max, visit, ctx);
				if (cx + ring <= c1)
					n = grid_ring_cells(g, row, cx + ring, cx + ring, rot, n,
							    max, visit, ctx);
			}
		}
	}
}
/* The rotation for a query made by item idx (its rank in its cell + 1); 0 if not pushed. */
unsigned grid_rot(const struct grid *g, int idx);

/* grid_near without collecting: visit(ctx, item) for each item grid_near would write, in
 * its order (every item of a box that holds no more than max, else the ring walk from
 * the rotation rot_grid gives rot_idx). */
static inline __attribute__((always_inline)) void
grid_visit_near(const struct grid *g, double x, double y, double r, const struct grid *rot_grid,
		int rot_idx, size_t max, void (*visit)(void *, const struct grid_item *), void *ctx)
{
	if (grid_count_box(g, x, y, r) <= max) {
		GRID_FOREACH (g, x, y, r, it)
			visit(ctx, it);
	} else {
		grid_ring_walk(g, x, y, r, rot_grid ? grid_rot(rot_grid, rot_idx) : 0, max, visit,
			       ctx);
	}
}

#endif
