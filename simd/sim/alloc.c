/* Allocation failure in the simulation core is fatal: a half-updated tank would be worse
 * than a crash, and simd restarts from its snapshot and journal. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>

#include "simd/sim/alloc.h"
#include "simd/sim/sim.h"

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

/* Large arrays (the fish of a big tank: 2.2 kB each, and the grids) are read in whole
 * passes every frame; with 4 kB pages nearly every fish costs a TLB miss. They are put
 * on 2 MB-aligned memory that the kernel may back with huge pages (where transparent
 * huge pages are enabled, even if only on request). */
#define HUGE_ARRAY (4u << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

void *sim_xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	size_t bytes = n * size;
	if (bytes >= HUGE_ARRAY) {
		void *q;
		if (posix_memalign(&q, HUGE_ALIGN, bytes) != 0)
			oom();
		madvise(q, bytes & ~(HUGE_ALIGN - 1), MADV_HUGEPAGE);
		if (p) {
			size_t old = malloc_usable_size(p);
			memcpy(q, p, old < bytes ? old : bytes);
			free(p);
		}
		return q;
	}
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

/* What the tank may add while the room is made (a few ticks): births, arrivals, food. */
void sim_room_size(struct sim_room *r, size_t n)
{
	*r = (struct sim_room){.cap = n + n / 16 + 64};
}

/* Allocated as the tank's own arrays (large ones on huge pages where the kernel gives
 * them), and every page written, so that the copy under the lock faults none in. */
void sim_room_make(struct sim_room *r, size_t elem)
{
	r->p = sim_xrealloc(NULL, r->cap, elem);
	memset(r->p, 0, r->cap * elem);
}

void *sim_room_take(struct sim_room *r, size_t n, size_t elem, size_t *cap)
{
	void *p = r->p;
	size_t c = r->cap;
	*r = (struct sim_room){0};
	if (p && n && c >= n) {
		*cap = c;
		return p;
	}
	free(p);
	*cap = n ? n : 1;
	return sim_xcalloc(*cap, elem);
}

void sim_room_free(struct sim_room *r)
{
	free(r->p);
	*r = (struct sim_room){0};
}

void sim_text_need(struct sim_text *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	b->p = sim_xrealloc(b->p, cap, 1);
	b->cap = cap;
}

void sim_text_free(struct sim_text *b)
{
	free(b->p);
	*b = (struct sim_text){0};
}
