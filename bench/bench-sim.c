/* Simulation core benchmark: ticks per second for 100, 1,000, 10,000 and 100,000 fish.
 *
 * World: every size has the density of the original tank at capacity, 100 fish per
 * 1088x612 px. 100 fish use the default tank. Larger counts scale both sides by
 * sqrt(N/100), so 10,000 fish swim in 10880x6120 px. tank_params_scale_world() scales the
 * food supply, initial food, root spots, plants and crabs with the world (for 10,000 fish:
 * food rate x100, 800 initial flakes, 250 root spots, 30 plants, 10 crabs). max_fish is N
 * and all N fish are spawned at tick 0.
 *
 * Each size runs in a forked child, so its peak RSS is its own. The child runs 10 warm-up
 * ticks, then ticks until its time budget is spent (3 s, or 6 s for 100,000 fish), with
 * at most 2,000 ticks. Every tick is timed on its own. The run fails (exit 1) if the
 * energy ledger does not balance, which is the core's own correctness check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simd/sim/sim.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double ledger_error(const struct tank_stats *s)
{
	double net = 0;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		net += i < ENERGY_FLOW_FIRST_OUT ? s->energy_flow[i] : -s->energy_flow[i];
	return fabs(s->total_energy - net) / fmax(1.0, s->total_energy);
}

static int run(int n)
{
	struct tank_params p = tank_params_default(42);
	if (n > 100) {
		double k = sqrt(n / 100.0);
		tank_params_scale_world(&p, (int)lround(1088 * k), (int)lround(612 * k));
	}
	p.max_fish = n;
	p.initial_fish = n;
	struct tank *t = tank_new(&p, "bench-tank");
	if (!t) {
		fprintf(stderr, "bench-sim: tank_new failed for %d fish\n", n);
		return 1;
	}
	for (int i = 0; i < 10; i++)
		tank_step(t);

	double budget = n >= 100000 ? 6.0 : 3.0;
	int max_ticks = 2000;
	double *dt = malloc(sizeof *dt * (size_t)max_ticks);
	if (!dt)
		abort();
	double start = now(), updates = 0;
	int ticks = 0;
	while (ticks < max_ticks && (ticks < 5 || now() - start < budget)) {
		updates += (double)tank_fish_count(t);
		double t0 = now();
		tank_step(t);
		dt[ticks++] = now() - t0;
	}
	double total = now() - start;
	qsort(dt, (size_t)ticks, sizeof *dt, cmp_double);
	double median = dt[ticks / 2];
	double p99 = dt[(int)ceil(ticks * 0.99) - 1];

	struct tank_stats s;
	tank_get_stats(t, &s);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("# %d fish: %dx%d px, %d ticks in %.2f s, %d fish alive at the end\n", n, p.width,
	       p.height, ticks, total, s.fish_count);
	printf("bench: sim_ticks_per_s_%d_fish %.1f ticks/s\n", n, ticks / total);
	printf("bench: sim_tick_median_ms_%d_fish %.2f ms\n", n, median * 1e3);
	printf("bench: sim_tick_p99_ms_%d_fish %.2f ms\n", n, p99 * 1e3);
	printf("bench: sim_fish_updates_per_s_%d_fish %.0f updates/s\n", n, updates / total);
	printf("bench: sim_peak_rss_%d_fish %.1f MB\n", n, ru.ru_maxrss / 1024.0);
	fflush(stdout);
	double err = ledger_error(&s);
	free(dt);
	tank_free(t);
	if (err > 1e-9) {
		fprintf(stderr, "bench-sim: energy ledger off by %g (relative)\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {100, 1000, 10000, 100000};
	int fail = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench-sim: fork");
			return 1;
		}
		if (pid == 0)
			_exit(run(sizes[i]));
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench-sim: the %d-fish run failed\n", sizes[i]);
			fail = 1;
		}
	}
	return fail;
}
