/* Worker threads for one tank (issue 13): the per-fish phase of a frame (perceive, steer,
 * move) runs on up to tank_set_threads() threads. Every fish of that phase reads only
 * the frame's immutable view (the grids built before it, food, crabs) and writes only
 * itself, with its own random stream (tank seed, fish id, frame): the result is the
 * same for any number of threads, and whatever they share is summed afterwards in fish
 * order on the calling thread. Chunks are handed out dynamically for balance. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "simd/sim/internal.h"

#define POOL_CHUNK 512

struct sim_pool {
	int nworkers;
	pthread_t *th;
	pthread_mutex_t m;
	pthread_cond_t go, done;
	unsigned gen;
	int busy;
	bool quit;
	pool_fn fn;
	struct tank *t;
	size_t n, chunk;
	size_t next; /* atomic: the next unclaimed item */
};

static void run_chunks(struct sim_pool *p)
{
	for (;;) {
		size_t lo = __atomic_fetch_add(&p->next, p->chunk, __ATOMIC_RELAXED);
		if (lo >= p->n)
			return;
		size_t hi = lo + p->chunk < p->n ? lo + p->chunk : p->n;
		p->fn(p->t, lo, hi);
	}
}

static void *worker(void *arg)
{
	struct sim_pool *p = arg;
	unsigned seen = 0;
	pthread_mutex_lock(&p->m);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->m);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->m);
		run_chunks(p);
		pthread_mutex_lock(&p->m);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->m);
	return NULL;
}

struct sim_pool *pool_new(int threads)
{
	if (threads < 2)
		return NULL;
	struct sim_pool *p = sim_xcalloc(1, sizeof *p);
	p->nworkers = threads - 1;
	p->th = sim_xcalloc((size_t)p->nworkers, sizeof *p->th);
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 0; i < p->nworkers; i++)
		if (pthread_create(&p->th[i], NULL, worker, p) != 0)
			abort();
	return p;
}

void pool_free(struct sim_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->m);
	p->quit = true;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->m);
	for (int i = 0; i < p->nworkers; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->m);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->th);
	free(p);
}

static void dispatch(struct sim_pool *p, struct tank *t, size_t n, size_t chunk, pool_fn fn)
{
	pthread_mutex_lock(&p->m);
	p->fn = fn;
	p->t = t;
	p->n = n;
	p->chunk = chunk;
	p->next = 0;
	p->busy = p->nworkers;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->m);
	run_chunks(p);
	pthread_mutex_lock(&p->m);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->m);
	pthread_mutex_unlock(&p->m);
}

void pool_run(struct sim_pool *p, struct tank *t, size_t n, pool_fn fn)
{
	if (!p || n < 2 * POOL_CHUNK) {
		if (n > 0)
			fn(t, 0, n);
		return;
	}
	dispatch(p, t, n, POOL_CHUNK, fn);
}

void pool_run_parts(struct sim_pool *p, struct tank *t, size_t parts, pool_fn fn)
{
	if (!p) {
		for (size_t k = 0; k < parts; k++)
			fn(t, k, k + 1);
		return;
	}
	dispatch(p, t, parts, 1, fn);
}
