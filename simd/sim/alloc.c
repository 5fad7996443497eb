/* Allocation failure in the simulation core is fatal: a half-updated tank would be worse
 * than a crash, and simd restarts from its snapshot and journal. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "simd/sim/internal.h"

static void oom(void)
{
	fputs("sim: out of memory\n", stderr);
	abort();
}

void *sim_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *sim_xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	size_t bytes = n * size;
	void *q = realloc(p, bytes ? bytes : 1);
	if (!q)
		oom();
	return q;
}

void sim_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	*arr = sim_xrealloc(*arr, c, elem);
	*cap = c;
}
