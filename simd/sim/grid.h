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
	int *start;             /* cols*rows+1 offsets into items */
	struct grid_item *items; /* sorted by cell */
	struct grid_item *tmp;   /* unsorted, as pushed */
	int *cell_of;
	size_t n, cap;
};

void grid_init(struct grid *g, double width, double height, double cell);
void grid_free(struct grid *g);
/* Start a rebuild for up to n items. */
void grid_prepare(struct grid *g, size_t n);
void grid_push(struct grid *g, double x, double y, double vx, double vy, double aux, int idx);
void grid_finish(struct grid *g);

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
#define GRID_FOREACH(g, qx, qy, qr, it)                                                            \
	for (int gc_r0_ = grid_row((g), (qy) - (qr)), gc_r1_ = grid_row((g), (qy) + (qr)),         \
		 gc_c0_ = grid_col((g), (qx) - (qr)), gc_c1_ = grid_col((g), (qx) + (qr)),         \
		 gc_row_ = gc_r0_;                                                                 \
	     gc_row_ <= gc_r1_; gc_row_++)                                                         \
		for (const struct grid_item *it = (g)->items +                                     \
						  (g)->start[gc_row_ * (g)->cols + gc_c0_],        \
					    *gc_end_##it = (g)->items +                            \
							   (g)->start[gc_row_ * (g)->cols +        \
								      gc_c1_ + 1];                 \
		     it < gc_end_##it; it++)

#endif
