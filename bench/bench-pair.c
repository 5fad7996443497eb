/* bench-pair A.so B.so TANK.json TICKS THREADS: two builds of the simulation core, each a
 * shared object of its own (bench/sim-pair.sh makes them), restore the same saved tank
 * and step it in one process, tick by tick, taking turns at going first. On a shared,
 * virtualised machine the same binary's median tick moves by 10-20 % from one minute to
 * the next, more than most changes being measured; two runs side by side meet the same
 * moment of the machine, so the ratio of each tick's pair is what compares them. Prints
 * each build's mean and median tick, its state hash at the end (the same when the change
 * keeps the course), and the median of B/A over the pairs with its quartiles. */
#include "config.h"

#include <dlfcn.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "simd/sim/sim.h"
#include "util.h"

struct core {
	const char *path;
	__typeof__(tank_from_json) *from_json;
	__typeof__(tank_step) *step;
	__typeof__(tank_set_threads) *set_threads;
	__typeof__(tank_state_hash) *state_hash;
	__typeof__(tank_free) *free_tank;
	struct tank *t;
	double *ms;
};

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void *need(void *h, const char *path, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "bench-pair: %s has no %s\n", path, name);
		exit(2);
	}
	return p;
}

/* RTLD_LOCAL keeps each object's symbols to itself, and the objects are linked with
 * -Bsymbolic, so each one's functions call their own. (RTLD_DEEPBIND would do the same,
 * but the sanitizers' runtime refuses it.) */
static void core_open(struct core *c, const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "bench-pair: %s\n", dlerror());
		exit(2);
	}
	c->path = path;
	c->from_json = (__typeof__(tank_from_json) *)need(h, path, "tank_from_json");
	c->step = (__typeof__(tank_step) *)need(h, path, "tank_step");
	c->set_threads = (__typeof__(tank_set_threads) *)need(h, path, "tank_set_threads");
	c->state_hash = (__typeof__(tank_state_hash) *)need(h, path, "tank_state_hash");
	c->free_tank = (__typeof__(tank_free) *)need(h, path, "tank_free");
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench-pair A.so B.so TANK.json TICKS THREADS\n");
		return 2;
	}
	int ticks = atoi(argv[4]), threads = atoi(argv[5]);
	if (ticks < 1 || threads < 1) {
		fprintf(stderr, "bench-pair: TICKS and THREADS must be positive\n");
		return 2;
	}
	struct core c[2];
	core_open(&c[0], argv[1]);
	core_open(&c[1], argv[2]);
	json_object *o = json_object_from_file(argv[3]);
	if (!o) {
		fprintf(stderr, "bench-pair: cannot read %s: %s\n", argv[3],
			json_util_get_last_err());
		return 2;
	}
	for (int k = 0; k < 2; k++) {
		struct json_err e = {{0}};
		if (c[k].from_json(o, &c[k].t, &e) != 0) {
			fprintf(stderr, "bench-pair: %s cannot restore %s: %s\n", c[k].path,
				argv[3], e.msg);
			return 2;
		}
		c[k].set_threads(c[k].t, threads);
		c[k].ms = malloc(sizeof(double) * (size_t)ticks);
		if (!c[k].ms)
			abort();
	}
	json_object_put(o);
	double *ratio = malloc(sizeof(double) * (size_t)ticks);
	if (!ratio)
		abort();
	for (int i = 0; i < ticks; i++) {
		for (int j = 0; j < 2; j++) {
			struct core *x = &c[(i + j) & 1];
			double t0 = now_mono();
			x->step(x->t);
			x->ms[i] = (now_mono() - t0) * 1e3;
		}
		ratio[i] = c[1].ms[i] / c[0].ms[i];
	}
	for (int k = 0; k < 2; k++) {
		double sum = 0;
		for (int i = 0; i < ticks; i++)
			sum += c[k].ms[i];
		qsort(c[k].ms, (size_t)ticks, sizeof(double), by_value);
		printf("%s: %s mean %.2f ms, median %.2f ms, state hash %016llx\n", k ? "B" : "A",
		       c[k].path, sum / ticks, c[k].ms[ticks / 2],
		       (unsigned long long)c[k].state_hash(c[k].t));
		c[k].free_tank(c[k].t);
		free(c[k].ms);
	}
	qsort(ratio, (size_t)ticks, sizeof(double), by_value);
	printf("B/A per tick: median %.3f, quartiles %.3f-%.3f, %d ticks on %d thread%s\n",
	       ratio[ticks / 2], ratio[ticks / 4], ratio[(3 * ticks) / 4], ticks, threads,
	       threads == 1 ? "" : "s");
	free(ratio);
	return 0;
}
