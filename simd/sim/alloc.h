/* Allocation in the simulation core (alloc.c): out of memory is fatal in the core, as in
 * libcommon. A header of its own so that low-level parts (the grid) need not see the
 * core's internals. */
#ifndef TW_SIM_ALLOC_H
#define TW_SIM_ALLOC_H

#include <stddef.h>

void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t n, size_t size);
/* Grow *arr (element size elem) so that it holds at least need elements. */
void sim_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
