/* Simulation core benchmark (issue 13: performance whatever the crowd).
 *
 * Worlds have the density of the original tank at capacity, 100 fish per 1088x612 px,
 * unless said otherwise: N fish swim in (1088 x 612) x sqrt(N/100) px, and
 * tank_params_scale_world() scales food, plants and crabs with the world. max_fish is N
 * and all N fish are spawned at tick 0. Every case runs in a forked child, so its peak
 * RSS is its own, and is timed tick by tick after 10 warm-up ticks: wall clock, and the
 * CPU time of all the process's threads (the figure a busy shared machine moves less).
 *
 *   fish sizes   100 .. 100,000 fish, one thread (and 100,000 on two threads)
 *   dense        10,000 fish in the default 1088x612 world (the crowd of issue 13)
 *   snapshot     a 10,000-fish tank ticking on one thread while another takes copies
 *                of it under its lock and encodes them to JSON, as simd's snapshot does:
 *                the tick's median and p99 (lock wait included) during the snapshots
 *   population   a 10,000-fish tank after 36,000 ticks (20 simulated minutes): its
 *                population, then its tick on 1 and 2 threads (settled: schools formed,
 *                births and deaths in balance)
 *   steady       10,000 and 100,000 fish (1 and 2 threads) at the default density after
 *                1,800 ticks (a simulated minute): fed fish and schools forming, where
 *                the cases above time new tanks, the slowest stretch of a tank's life
 *                (the dense tank has no steady state: most of its crowd starves within
 *                that minute); and
 *                the warm-up's last tick, which samples the history and prunes the
 *                lineage, against the median of the ticks before it
 *   settled 100k the population case with 100,000 fish, about 30 minutes: run only when
 *                asked for (`bench-sim job 10`)
 *   snapshot 100k  the snapshot case with 100,000 fish on two threads
 *   reads        how long simd's big reads (GET /lineage, /poker/strategies, /events)
 *                hold a 100,000-fish tank's lock: their copies, and the answers built
 *                whole as they were under the lock before; and GET /history of a full
 *                ring of 100,000 samples, copied into room made first or allocated
 *                under the lock as before
 *
 * `bench-sim quick` skips the population run (about 3 minutes); `bench-sim job K` runs the
 * K-th case alone (from 0, in the order above), for perf record; `bench-sim save` and
 * `bench-sim saved` keep a tank's state and time it again (run_save). Every run fails (exit 1)
 * if the energy ledger does not balance, which is the core's own correctness check. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "simd/sim/sim.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (every thread): on a shared machine it moves far less
 * than the wall clock, so the bench prints both. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

static struct tank *make(int n, bool dense)
{
	struct tank_params p = tank_params_default(42);
	if (n > 100 && !dense) {
		double k = sqrt(n / 100.0);
		tank_params_scale_world(&p, (int)lround(1088 * k), (int)lround(612 * k));
	}
	p.max_fish = n;
	p.initial_fish = n;
	struct tank *t = tank_new(&p, "bench-tank");
	if (!t) {
		fprintf(stderr, "bench-sim: tank_new failed for %d fish\n", n);
		exit(1);
	}
	return t;
}

static int finish(struct tank *t)
{
	struct tank_stats s;
	tank_get_stats(t, &s);
	double err = ledger_error(&s);
	tank_free(t);
	if (err > 1e-9) {
		fprintf(stderr, "bench-sim: energy ledger off by %g (relative)\n", err);
		return 1;
	}
	return 0;
}

static void quantiles(double *dt, int n, double *median, double *p99)
{
	qsort(dt, (size_t)n, sizeof *dt, cmp_double);
	*median = dt[n / 2];
	*p99 = dt[(int)ceil(n * 0.99) - 1];
}

/* Ticks per second, median and p99 tick of t as it is (already on its threads, which the
 * caller set before its warm-up ticks); peak RSS. */
static int measure(struct tank *t, const char *name, int threads, double budget, bool rss)
{
	int max_ticks = 2000;
	double *dt = malloc(sizeof *dt * (size_t)max_ticks);
	double *ct = malloc(sizeof *ct * (size_t)max_ticks);
	if (!dt || !ct)
		abort();
	double start = now();
	int ticks = 0;
	while (ticks < max_ticks && (ticks < 5 || now() - start < budget)) {
		double t0 = now(), c0 = cpu_now();
		tank_step(t);
		dt[ticks] = now() - t0;
		ct[ticks++] = cpu_now() - c0;
	}
	double total = now() - start, median, p99, cpu_median, cpu_p99;
	quantiles(dt, ticks, &median, &p99);
	quantiles(ct, ticks, &cpu_median, &cpu_p99);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	const struct tank_params *p = tank_get_params(t);
	struct tank_stats st;
	tank_get_stats(t, &st);
	printf("# %d fish, %dx%d px, %d thread%s: %d ticks in %.2f s, %zu fish and %d food at "
	       "the end\n",
	       p->max_fish, p->width, p->height, threads, threads > 1 ? "s" : "", ticks, total,
	       tank_fish_count(t), st.food_count);
	printf("bench: sim_ticks_per_s_%s %.1f ticks/s\n", name, ticks / total);
	printf("bench: sim_tick_median_ms_%s %.2f ms\n", name, median * 1e3);
	printf("bench: sim_tick_p99_ms_%s %.2f ms\n", name, p99 * 1e3);
	printf("bench: sim_tick_cpu_median_ms_%s %.2f ms\n", name, cpu_median * 1e3);
	if (rss)
		printf("bench: sim_peak_rss_per_1000_fish_%s %.1f MB\n", name,
		       ru.ru_maxrss / 1024.0 / (p->max_fish / 1000.0));
	fflush(stdout);
	free(dt);
	free(ct);
	return finish(t);
}

/* A new tank, timed after 10 warm-up ticks. */
static int run_rate(int n, bool dense, int threads)
{
	struct tank *t = make(n, dense);
	tank_set_threads(t, threads);
	for (int i = 0; i < 10; i++)
		tank_step(t);
	char name[64];
	snprintf(name, sizeof name, "%s%d_fish%s", dense ? "dense_" : "", n,
		 threads > 1 ? "_2_threads" : "");
	return measure(t, name, threads, n >= 100000 ? 6.0 : 3.0, !dense && threads == 1);
}

/* Time a tank that has run its warm-up, once on each of 1..max_threads threads, each in
 * a child of its own (a forked child has none of the parent's threads, so the tank's pool
 * is let go first); the cases are named prefix, then prefix_2_threads. */
static int measure_warm(struct tank *t, const char *prefix, int max_threads)
{
	tank_set_threads(t, 1);
	int fail = 0;
	int n = tank_get_params(t)->max_fish;
	for (int threads = 1; threads <= max_threads; threads++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			char name[80];
			snprintf(name, sizeof name, "%s%s", prefix, threads > 1 ? "_2_threads" : "");
			/* The child's first ticks copy the pages it shares with its parent. */
			tank_set_threads(t, threads);
			for (int i = 0; i < 10; i++)
				tank_step(t);
			_exit(measure(t, name, threads, n >= 100000 ? 6.0 : 3.0, false));
		}
		int status;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail = 1;
	}
	return fail;
}

/* The same tank in its steady state: a new tank's fish are half fed and its food is
 * scarce; after a simulated minute the fed fish leave food about, live food (which never
 * sinks away) gathers, every query wades through it, and the schools are forming.
 * The warm-up runs once on two threads; each timed run is a child of its own from there
 * (measure_warm). The
 * warm-up's last tick, frame STEADY_WARMUP, takes the history sample and prunes the
 * lineage (every 300 frames), the tick that stalls the most: it is timed against the
 * median of the 100 before it (in the parent: a child's would copy the pages it writes). */
#define STEADY_WARMUP 1800

static int run_steady(int n, bool dense, int max_threads)
{
	struct tank *t = make(n, dense);
	tank_set_threads(t, 2);
	double w0 = now();
	enum { BEFORE = 100 }; /* ticks timed before the sampling one */
	double before[BEFORE], median, p99;
	for (int i = 0; i < STEADY_WARMUP - 1; i++) {
		double t0 = now();
		tank_step(t);
		int k = i - (STEADY_WARMUP - 1 - BEFORE);
		if (k >= 0)
			before[k] = now() - t0;
	}
	double t0 = now();
	tank_step(t);
	double sample = now() - t0;
	quantiles(before, BEFORE, &median, &p99);
	struct tank_stats st;
	tank_get_stats(t, &st);
	printf("# steady state: %d ticks of warm-up on 2 threads in %.0f s, %d fish and %d food "
	       "after them\n",
	       STEADY_WARMUP, now() - w0, st.fish_count, st.food_count);
	printf("bench: sim_tick_ms_sample_frame_steady_%s%d_fish_2_threads %.2f ms (median of the "
	       "100 ticks before: %.2f ms)\n",
	       dense ? "dense_" : "", n, sample * 1e3, median * 1e3);
	fflush(stdout);
	char name[64];
	snprintf(name, sizeof name, "steady_%s%d_fish", dense ? "dense_" : "", n);
	return measure_warm(t, name, max_threads) | finish(t);
}

/* simd's snapshot, without the disk: room for the copy made without the lock, the copy
 * taken under it (store.c), encoded without it. The time the copy holds the lock is
 * what the tick, and a change from simd's event loop, wait for. */
struct snap {
	struct tank *t;
	pthread_mutex_t lock;
	volatile int stop;
	int copies;
	double held[4096];
};

static void *snapshotter(void *arg)
{
	struct snap *s = arg;
	while (!s->stop) {
		struct tank_room room = {0};
		pthread_mutex_lock(&s->lock);
		tank_room_size(s->t, TANK_COPY_WHOLE, &room);
		pthread_mutex_unlock(&s->lock);
		tank_room_make(&room);
		pthread_mutex_lock(&s->lock);
		double t0 = now();
		struct tank *c = tank_clone_in(s->t, &room);
		double held = now() - t0;
		pthread_mutex_unlock(&s->lock);
		tank_room_free(&room);
		json_object *o = tank_to_json(c);
		tank_free(c);
		size_t len = strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		if (len > 0 && s->copies < 4096)
			s->held[s->copies++] = held;
	}
	return NULL;
}

static int run_snapshot(int n, int threads)
{
	static struct snap s;
	s.t = make(n, false);
	tank_set_threads(s.t, threads);
	pthread_mutex_init(&s.lock, NULL);
	for (int i = 0; i < 10; i++)
		tank_step(s.t);
	/* The tank ticks at 30 ticks/s as in simd (back to back when it cannot); each tick
	 * is timed from the moment it wants the lock. First without snapshots, then with one
	 * after the other. */
	double dt[2][300], median[2], p99[2];
	for (int phase = 0; phase < 2; phase++) {
		pthread_t th;
		if (phase == 1 && pthread_create(&th, NULL, snapshotter, &s) != 0)
			abort();
		double next = now();
		for (int i = 0; i < 300; i++) {
			next += 1.0 / 30;
			double wait = next - now();
			if (wait > 0) {
				struct timespec ts = {0, (long)(wait * 1e9)};
				nanosleep(&ts, NULL);
			}
			double t0 = now();
			pthread_mutex_lock(&s.lock);
			tank_step(s.t);
			pthread_mutex_unlock(&s.lock);
			dt[phase][i] = now() - t0;
		}
		if (phase == 1) {
			s.stop = 1;
			pthread_join(th, NULL);
		}
		quantiles(dt[phase], 300, &median[phase], &p99[phase]);
	}
	qsort(s.held, (size_t)s.copies, sizeof s.held[0], cmp_double);
	printf("# %d fish on %d thread%s at 30 ticks/s for 300 ticks, then 300 with %d snapshots "
	       "taken back to back\n",
	       n, threads, threads > 1 ? "s" : "", s.copies);
	printf("bench: sim_tick_median_ms_%d_fish_quiet %.2f ms\n", n, median[0] * 1e3);
	printf("bench: sim_tick_p99_ms_%d_fish_quiet %.2f ms\n", n, p99[0] * 1e3);
	printf("bench: sim_tick_median_ms_%d_fish_snapshots %.2f ms\n", n, median[1] * 1e3);
	printf("bench: sim_tick_p99_ms_%d_fish_snapshots %.2f ms\n", n, p99[1] * 1e3);
	printf("bench: sim_tick_p99_over_median_%d_fish_snapshots %.2f x\n", n, p99[1] / median[1]);
	if (s.copies > 0)
		printf("bench: sim_snapshot_lock_held_ms_%d_fish median %.2f ms, max %.2f ms\n", n,
		       s.held[s.copies / 2] * 1e3, s.held[s.copies - 1] * 1e3);
	fflush(stdout);
	return finish(s.t);
}

/* Room sized and made before the lock, as readers.c's order has it. */
static void room_ready(struct tank *t, enum tank_copy what, struct tank_room *room)
{
	tank_room_size(t, what, room);
	tank_room_make(room);
}

/* The big reads of simd (GET /lineage, /poker/strategies, /events) as they hold a
 * tank's lock: the copy each takes into room made before the lock (readers.c's order),
 * against the answer built whole, which is what the lock held until 5 December. */
static double held_lineage(struct tank *t, size_t limit)
{
	struct tank_room room = {.limit = limit};
	room_ready(t, TANK_COPY_LINEAGE, &room);
	double t0 = now();
	struct lineage_pick *p = lineage_pick_take(t, NULL, 0, limit, &room);
	double held = now() - t0;
	tank_room_free(&room);
	json_object_put(lineage_pick_json(p));
	return held;
}

static double held_strategies(struct tank *t)
{
	struct tank_room room = {0};
	room_ready(t, TANK_COPY_STRATEGIES, &room);
	double t0 = now();
	struct strategies_pick *p = tank_poker_strategies_take(t, &room);
	double held = now() - t0;
	tank_room_free(&room);
	json_object_put(poker_strategies_json(p));
	return held;
}

static double held_events(struct tank *t)
{
	struct events_copy *c = events_copy_new();
	double t0 = now();
	tank_events_take(t, c);
	double held = now() - t0;
	json_object_put(events_copy_json(c, 0, 4096));
	return held;
}

/* GET /history's copy of a window of samples; whole: into memory allocated under the
 * lock, as until 5 December. */
static double held_history(struct tank *t, bool room_first)
{
	struct tank_room room = {.since = 0, .limit = 100000};
	if (room_first)
		room_ready(t, TANK_COPY_HISTORY, &room);
	double t0 = now();
	struct sim_history *h = tank_history_take(t, &room);
	double held = now() - t0;
	tank_room_free(&room);
	sim_history_free(h);
	return held;
}

/* A small tank whose ring of samples is full at its largest (100,000, one a frame). */
static struct tank *make_history(void)
{
	struct tank_params p = tank_params_default(42);
	p.max_fish = p.initial_fish = 10;
	p.history_interval = 1;
	p.history_size = 100000;
	struct tank *t = tank_new(&p, "bench-history");
	if (!t) {
		fprintf(stderr, "bench-sim: tank_new failed for the history tank\n");
		exit(1);
	}
	for (int i = 0; i < 100000; i++)
		tank_step(t);
	return t;
}

static double whole(json_object *(*build)(const struct tank *, size_t), struct tank *t, size_t arg)
{
	double t0 = now();
	json_object *o = build(t, arg);
	double took = now() - t0;
	json_object_put(o);
	return took;
}

static json_object *whole_lineage(const struct tank *t, size_t limit)
{
	return tank_lineage_json(t, NULL, 0, limit);
}

static json_object *whole_strategies(const struct tank *t, size_t unused)
{
	(void)unused;
	return tank_poker_strategies_json(t);
}

static json_object *whole_events(const struct tank *t, size_t limit)
{
	return tank_events_json(t, 0, limit);
}

static int run_reads(int n)
{
	struct tank *t = make(n, false);
	tank_set_threads(t, 2);
	for (int i = 0; i < 30; i++)
		tank_step(t);
	enum { ROUNDS = 5 };
	const char *names[] = {"lineage_100000", "lineage_10000", "strategies", "events",
			       "history_100000"};
	double copy[5][ROUNDS], built[5][ROUNDS];
	struct tank *ht = make_history();
	for (int r = 0; r < ROUNDS; r++) {
		copy[4][r] = held_history(ht, true);
		built[4][r] = held_history(ht, false);
		copy[0][r] = held_lineage(t, 100000);
		built[0][r] = whole(whole_lineage, t, 100000);
		copy[1][r] = held_lineage(t, 10000);
		built[1][r] = whole(whole_lineage, t, 10000);
		copy[2][r] = held_strategies(t);
		built[2][r] = whole(whole_strategies, t, 0);
		copy[3][r] = held_events(t);
		built[3][r] = whole(whole_events, t, 4096);
	}
	printf("# %d fish, %zu lineage records: a read's hold on the lock, %d rounds (median, "
	       "max): its copy, and the answer built whole (the hold before 5 December)\n",
	       n, tank_lineage_count(t), ROUNDS);
	for (int k = 0; k < 5; k++) {
		double cm, cx, bm, bx;
		quantiles(copy[k], ROUNDS, &cm, &cx);
		quantiles(built[k], ROUNDS, &bm, &bx);
		if (k < 4) {
			printf("bench: sim_read_lock_held_ms_%s_%d_fish %.2f ms (max %.2f); built "
			       "whole %.2f ms (max %.2f)\n",
			       names[k], n, cm * 1e3, cx * 1e3, bm * 1e3, bx * 1e3);
			continue;
		}
		printf("# a tank of 10 fish whose history is full, 100,000 samples of %zu columns: "
		       "GET /history's copy into room made before the lock, and into memory "
		       "allocated under it (the hold until 5 December)\n",
		       sim_history_column_count());
		printf("bench: sim_read_lock_held_ms_%s_samples %.2f ms (max %.2f); allocated under "
		       "the lock %.2f ms (max %.2f)\n",
		       names[k], cm * 1e3, cx * 1e3, bm * 1e3, bx * 1e3);
	}
	fflush(stdout);
	return finish(ht) | finish(t);
}

static int run_population(int n)
{
	struct tank *t = make(n, false);
	tank_set_threads(t, 2);
	for (int i = 0; i < 36000; i++)
		tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	printf("# %d fish (max_fish %d) at the default density, 36,000 ticks: %d fish, "
	       "%d food, %d plants, max generation %d, %llu births, %llu deaths\n",
	       n, n, s.fish_count, s.food_count, s.plant_count, s.max_generation,
	       (unsigned long long)s.births, (unsigned long long)s.deaths);
	printf("bench: sim_population_after_36000_ticks_%d_fish %.1f %% of max_fish\n", n,
	       100.0 * s.fish_count / n);
	fflush(stdout);
	/* The same tank timed: the tick of a tank that has lived 20 simulated minutes, past
	 * the slow stretch the steady cases time (schools forming, the first regrowth). */
	char name[64];
	snprintf(name, sizeof name, "settled_%d_fish", n);
	return measure_warm(t, name, 2) | finish(t);
}

enum kind { RATE, SNAPSHOT, POPULATION, STEADY, READS };
struct job {
	enum kind kind;
	int n, threads;
	bool dense;
	bool asked; /* runs only as `bench-sim job K` (too long for make bench) */
};

/* A tank state to time again and again: `bench-sim save N FRAMES FILE` runs a new tank of
 * N fish at the default density for FRAMES ticks on two threads and writes its state
 * (tank_to_json) to FILE; `bench-sim saved FILE` restores it and times it on 1 and 2
 * threads (measure_warm). A restore is bit-identical, so two builds time the very same
 * state: a settled 100,000-fish tank costs half an hour to grow once (its state is
 * about 400 MB) and under two minutes to time. */
static int run_save(int n, int frames, const char *file)
{
	struct tank *t = make(n, false);
	tank_set_threads(t, 2);
	for (int i = 0; i < frames; i++)
		tank_step(t);
	tank_set_threads(t, 1);
	json_object *o = tank_to_json(t);
	int written = json_object_to_file_ext(file, o, JSON_C_TO_STRING_PLAIN);
	json_object_put(o);
	if (written != 0) {
		fprintf(stderr, "bench-sim: cannot write %s: %s\n", file, json_util_get_last_err());
		tank_free(t);
		return 1;
	}
	printf("# saved %s: frame %llu, %zu fish, state hash %016llx\n", file,
	       (unsigned long long)tank_frame(t), tank_fish_count(t),
	       (unsigned long long)tank_state_hash(t));
	return finish(t);
}

static int run_saved(const char *file)
{
	json_object *o = json_object_from_file(file);
	struct tank *t = NULL;
	struct json_err e = {{0}};
	if (!o || tank_from_json(o, &t, &e) != 0) {
		fprintf(stderr, "bench-sim: cannot restore %s: %s\n", file,
			o ? e.msg : json_util_get_last_err());
		json_object_put(o);
		return 1;
	}
	json_object_put(o);
	char name[64];
	snprintf(name, sizeof name, "saved_%zu_fish", tank_fish_count(t));
	printf("# %s: frame %llu, state hash %016llx\n", file, (unsigned long long)tank_frame(t),
	       (unsigned long long)tank_state_hash(t));
	fflush(stdout); /* before measure_warm forks */
	return measure_warm(t, name, 2) | finish(t);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "save") == 0)
		return run_save(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 3 && strcmp(argv[1], "saved") == 0)
		return run_saved(argv[2]);
	static const struct job jobs[] = {
		{RATE, 100, 1, false, false},
		{RATE, 1000, 1, false, false},
		{RATE, 10000, 1, false, false},
		{RATE, 10000, 1, true, false},
		{RATE, 100000, 1, false, false},
		{RATE, 100000, 2, false, false},
		{SNAPSHOT, 10000, 1, false, false},
		{POPULATION, 10000, 2, false, false},
		{STEADY, 10000, 2, false, false},
		{STEADY, 100000, 2, false, false},
		/* 100,000 fish settled: about 30 minutes on two cores. */
		{POPULATION, 100000, 2, false, true},
		{SNAPSHOT, 100000, 2, false, false},
		{READS, 100000, 2, false, false},
	};
	/* Anything else is refused: a mistyped option (`--help`) used to start the whole
	 * bench, half an hour of both cores. */
	const long n_jobs = (long)(sizeof jobs / sizeof jobs[0]);
	bool quick = argc == 2 && strcmp(argv[1], "quick") == 0;
	long only = -1;
	if (argc == 3 && strcmp(argv[1], "job") == 0) {
		char *end;
		only = strtol(argv[2], &end, 10);
		if (*end || end == argv[2] || only < 0 || only >= n_jobs)
			only = -2;
	}
	if (only == -2 || (argc > 1 && !quick && only < 0)) {
		fprintf(stderr,
			"usage: bench-sim [quick | job K | save N FRAMES FILE | saved FILE]\n"
			"  K from 0 to %ld (the cases in bench/bench-sim.c's order)\n",
			n_jobs - 1);
		return 2;
	}
	int fail = 0;
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
		const struct job *j = &jobs[i];
		if ((quick && j->kind == POPULATION) || (only >= 0 && (long)i != only) ||
		    (only < 0 && j->asked))
			continue;
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench-sim: fork");
			return 1;
		}
		if (pid == 0)
			_exit(j->kind == RATE	    ? run_rate(j->n, j->dense, j->threads)
			      : j->kind == STEADY   ? run_steady(j->n, j->dense, j->threads)
			      : j->kind == SNAPSHOT ? run_snapshot(j->n, j->threads)
			      : j->kind == READS    ? run_reads(j->n)
						    : run_population(j->n));
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench-sim: job %zu failed\n", i);
			fail = 1;
		}
	}
	return fail;
}
