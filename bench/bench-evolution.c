/* Evolution experiment: 20 seeds x 1 simulated hour of a default tank, run on the core
 * directly (several seeds at once in forked children), and the figures of issue 15:
 *
 *   - every tank alive at every sample;
 *   - the share of living fish that are random spawns (no mother), averaged over the
 *     samples after the first 20 minutes;
 *   - generation depth counted as the original does (mother + 1), reached in the hour;
 *   - offspring per fish by origin (born of a mother, or spawned), counting a child for
 *     both its mother and its father, over fish first seen before the last 5 minutes
 *     (the others have not lived a whole life yet); and, since an emergency spawn only
 *     enters a tank of fewer than spawn_floor fish, the same for born fish that entered
 *     a tank of fewer than twice that: the like-for-like comparison;
 *   - for every genome trait, in how many seeds its mean over the living fish rose from
 *     the founders' to the last sample, and whether it ends pinned near a limit.
 *
 * The bench reads only the public API (ids, parent ids, traits) and derives the
 * generations itself, so the same program measures the code before and after a change.
 * BENCH_EVO_SEEDS, BENCH_EVO_MINUTES and BENCH_EVO_JOBS override 20, 60 and 2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simd/sim/sim.h"

#define SCAN_EVERY 30 /* a parent lives far longer than this before its first child */
#define SAMPLE_EVERY 300
#define NTRAITS 14
static const char *const traits[NTRAITS] = {"speed_modifier",  "size_modifier",	   "vision_range",
					    "metabolism_rate", "max_energy",	   "fertility",
					    "aggression",      "social_tendency",  "color_hue",
					    "fin_size",	       "tail_size",	   "body_aspect",
					    "eye_size",	       "pattern_intensity"};
/* The clamp ranges of genome.c, to say whether a mean ends pinned at a limit. */
static const double trait_lo[NTRAITS] = {0.5, 0.7, 0.7, 0.7, 0.7, 0.6, 0,
					 0,   0,   0.6, 0.6, 0.7, 0.7, 0};
static const double trait_hi[NTRAITS] = {1.5, 1.3, 1.3, 1.3, 1.5, 1.4, 1,
					 1,   1,   1.4, 1.4, 1.3, 1.3, 1};

struct result {
	int alive;	    /* fish at every sample */
	double spawn_share; /* mean share of spawned fish among the living after 20 min */
	double spawn_share_max;
	int depth; /* max mother+1 generation */
	double born_n, born_kids, spawned_n, spawned_kids, founder_n, founder_kids;
	double born_small_n, born_small_kids; /* born into a tank of < 2 x spawn_floor fish */
	double start[NTRAITS], end[NTRAITS];
	double ledger;
};

struct rec {
	char id[UUID_STR_LEN];
	int gen;
	int spawned;
	long first_seen;
	size_t entry_pop; /* the tank's fish when it was first seen */
	int kids;
};

struct table {
	struct rec *r;
	size_t cap, n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct rec *lookup(struct table *t, const char *id, int insert)
{
	if (insert && (t->n + 1) * 2 > t->cap) {
		struct table nt = {calloc(t->cap * 2, sizeof *nt.r), t->cap * 2, 0};
		for (size_t i = 0; i < t->cap; i++)
			if (t->r[i].id[0]) {
				struct rec *d = lookup(&nt, t->r[i].id, 1);
				*d = t->r[i];
			}
		free(t->r);
		*t = nt;
	}
	size_t i = hash(id) & (t->cap - 1);
	while (t->r[i].id[0]) {
		if (strcmp(t->r[i].id, id) == 0)
			return &t->r[i];
		i = (i + 1) & (t->cap - 1);
	}
	if (!insert)
		return NULL;
	snprintf(t->r[i].id, UUID_STR_LEN, "%s", id);
	t->n++;
	return &t->r[i];
}

/* Colour hue is a circle (genome.c inherits it so): its mean is the direction of the
 * mean of the points on the circle, its change is the shorter way round, and it has
 * no limit to be pinned at. */
static bool trait_circular(int k)
{
	return strcmp(traits[k], "color_hue") == 0;
}

static void trait_means(const struct tank *t, double *m)
{
	size_t n = tank_fish_count(t);
	for (int k = 0; k < NTRAITS; k++) {
		double sum = 0, c = 0, s = 0;
		for (size_t i = 0; i < n; i++) {
			double v = fish_trait(tank_fish_at(t, i), traits[k]);
			sum += v;
			c += cos(2 * M_PI * v);
			s += sin(2 * M_PI * v);
		}
		if (!n)
			m[k] = NAN;
		else if (trait_circular(k))
			m[k] = fmod(atan2(s, c) / (2 * M_PI) + 1.0, 1.0);
		else
			m[k] = sum / n;
	}
}

static void run(uint64_t seed, long frames, struct result *res)
{
	struct tank_params p = tank_params_default(seed);
	char name[32];
	snprintf(name, sizeof name, "evo-%llu", (unsigned long long)seed);
	struct tank *t = tank_new(&p, name);
	struct table tab = {calloc(1024, sizeof(struct rec)), 1024, 0};
	memset(res, 0, sizeof *res);
	res->alive = 1;
	trait_means(t, res->start);
	long late_samples = 0;
	for (long fr = 0; fr <= frames; fr++) {
		if (fr % SCAN_EVERY == 0) {
			size_t n = tank_fish_count(t), spawned = 0;
			for (size_t i = 0; i < n; i++) {
				const struct fish *f = tank_fish_at(t, i);
				struct rec *r = lookup(&tab, fish_id(f), 0);
				if (!r) {
					const char *m = fish_mother_id(f), *fa = fish_father_id(f);
					struct rec *mr = m ? lookup(&tab, m, 0) : NULL;
					struct rec *fr2 = fa ? lookup(&tab, fa, 0) : NULL;
					int gen = mr ? mr->gen + 1 : 0;
					if (mr)
						mr->kids++;
					if (fr2 && fr2 != mr)
						fr2->kids++;
					r = lookup(&tab, fish_id(f), 1);
					r->gen = gen;
					r->spawned = m == NULL;
					r->first_seen = fr;
					r->entry_pop = n;
					if (gen > res->depth)
						res->depth = gen;
				}
				spawned += r->spawned;
			}
			if (fr % SAMPLE_EVERY == 0) {
				if (n == 0)
					res->alive = 0;
				if (fr >= 20 * 60 * 30 && n > 0) {
					double s = (double)spawned / n;
					res->spawn_share += s;
					if (s > res->spawn_share_max)
						res->spawn_share_max = s;
					late_samples++;
				}
			}
		}
		if (fr < frames)
			tank_step(t);
	}
	if (late_samples)
		res->spawn_share /= late_samples;
	for (size_t i = 0; i < tab.cap; i++) {
		struct rec *r = &tab.r[i];
		if (!r->id[0] || r->first_seen > frames - 5 * 60 * 30)
			continue;
		if (r->spawned && r->first_seen == 0) {
			res->founder_n++;
			res->founder_kids += r->kids;
		} else if (r->spawned) {
			res->spawned_n++;
			res->spawned_kids += r->kids;
		} else {
			res->born_n++;
			res->born_kids += r->kids;
			if (r->entry_pop < 2 * (size_t)p.spawn_floor) {
				res->born_small_n++;
				res->born_small_kids += r->kids;
			}
		}
	}
	trait_means(t, res->end);
	struct tank_stats s;
	tank_get_stats(t, &s);
	double net = 0;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		net += i < ENERGY_FLOW_FIRST_OUT ? s.energy_flow[i] : -s.energy_flow[i];
	res->ledger = fabs(s.total_energy - net) / fmax(1.0, s.total_energy);
	free(tab.r);
	tank_free(t);
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v && atoi(v) > 0 ? atoi(v) : def;
}

/* Runs every seed in a child process, jobs at a time, and collects the results in seed
 * order. False when a seed failed. */
static bool run_seeds(struct result *res, int seeds, int jobs, long frames)
{
	int running = 0, next = 0, done = 0;
	int fds[256];
	pid_t pids[256];
	while (done < seeds) {
		while (running < jobs && next < seeds) {
			int pfd[2];
			if (pipe(pfd) < 0)
				return false;
			pid_t pid = fork();
			if (pid == 0) {
				struct result r;
				close(pfd[0]);
				run(1000 + (uint64_t)next, frames, &r);
				ssize_t w = write(pfd[1], &r, sizeof r);
				_exit(w == (ssize_t)sizeof r ? 0 : 1);
			}
			close(pfd[1]);
			fds[next] = pfd[0];
			pids[next] = pid;
			next++;
			running++;
		}
		/* Collect in order: the oldest child first. */
		int k = done;
		size_t got = 0;
		while (got < sizeof res[k]) {
			ssize_t r = read(fds[k], (char *)&res[k] + got, sizeof res[k] - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fds[k]);
		int st;
		waitpid(pids[k], &st, 0);
		if (got != sizeof res[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench-evolution: seed %d failed\n", k);
			return false;
		}
		done++;
		running--;
	}
	return true;
}

/* The traits: how many moved the same way in 80 % of the seeds, and how many seed-trait
 * means ended within 3 % of a limit. */
static void print_traits(const struct result *res, int seeds)
{
	int consistent = 0, pinned_any = 0;
	for (int k = 0; k < NTRAITS; k++) {
		int up = 0, pinned = 0, valid = 0;
		double d = 0;
		for (int i = 0; i < seeds; i++) {
			const struct result *r = &res[i];
			if (!isfinite(r->end[k]))
				continue;
			valid++;
			double change = r->end[k] - r->start[k];
			if (trait_circular(k))
				change = remainder(change, 1.0);
			up += change > 0;
			d += change;
			double span = trait_hi[k] - trait_lo[k];
			pinned += !trait_circular(k) && (r->end[k] < trait_lo[k] + 0.03 * span ||
							 r->end[k] > trait_hi[k] - 0.03 * span);
		}
		int major = up > valid - up ? up : valid - up;
		if (valid && major >= (valid * 4 + 4) / 5)
			consistent++;
		pinned_any += pinned;
		printf("# %-18s up in %2d of %2d seeds, mean change %+.3f, pinned in %d\n",
		       traits[k], up, valid, valid ? d / valid : 0, pinned);
	}
	printf("bench: evolution_traits_consistent_80pct %d traits\n", consistent);
	printf("bench: evolution_trait_means_pinned %d seed_traits\n", pinned_any);
}

/* Survival, spawns, generation depth and offspring by origin; the worst ledger error. */
static double print_population(const struct result *res, int seeds, int minutes)
{
	int alive = 0;
	double share = 0, share_max = 0, depth = 0, bn = 0, bk = 0, sn = 0, sk = 0, ledger = 0;
	double fn = 0, fk = 0, bsn = 0, bsk = 0;
	int depth_min = 1 << 30;
	for (int i = 0; i < seeds; i++) {
		const struct result *r = &res[i];
		alive += r->alive;
		share += r->spawn_share;
		share_max = fmax(share_max, r->spawn_share);
		depth += r->depth;
		if (r->depth < depth_min)
			depth_min = r->depth;
		bn += r->born_n;
		bk += r->born_kids;
		sn += r->spawned_n;
		sk += r->spawned_kids;
		fn += r->founder_n;
		fk += r->founder_kids;
		bsn += r->born_small_n;
		bsk += r->born_small_kids;
		ledger = fmax(ledger, r->ledger);
		printf("# seed %d: alive %d, spawned share %.3f, depth %d, born %.0f (%.2f kids), "
		       "spawned %.0f (%.2f kids)\n",
		       1000 + i, r->alive, r->spawn_share, r->depth, r->born_n,
		       r->born_n ? r->born_kids / r->born_n : 0, r->spawned_n,
		       r->spawned_n ? r->spawned_kids / r->spawned_n : 0);
	}
	double hours = minutes / 60.0;
	printf("bench: evolution_seeds %d seeds\n", seeds);
	printf("bench: evolution_simulated_minutes %d min\n", minutes);
	printf("bench: evolution_tanks_alive %d of_%d\n", alive, seeds);
	printf("bench: evolution_spawned_share_after_20min %.1f %%\n", 100 * share / seeds);
	printf("bench: evolution_spawned_share_worst_seed %.1f %%\n", 100 * share_max);
	printf("bench: evolution_generation_depth_per_hour %.1f generations\n",
	       depth / seeds / hours);
	printf("bench: evolution_generation_depth_min_seed %.1f generations\n", depth_min / hours);
	printf("bench: evolution_offspring_born %.2f per_fish\n", bn ? bk / bn : 0);
	/* The founders grow into an empty tank, so they are shown apart: the comparison
	 * that matters is with fish spawned later, in the same tank as the born. */
	printf("bench: evolution_offspring_emergency_spawned %.2f per_fish\n", sn ? sk / sn : 0);
	printf("bench: evolution_emergency_spawned_fish %.0f fish\n", sn);
	printf("bench: evolution_offspring_founders %.2f per_fish\n", fn ? fk / fn : 0);
	/* Like for like: a spawn only enters a nearly empty tank, where any fish leaves
	 * more children than in a full one; born fish that entered a small tank too. */
	printf("bench: evolution_offspring_born_into_small_tank %.2f per_fish\n",
	       bsn ? bsk / bsn : 0);
	printf("bench: evolution_born_into_small_tank_fish %.0f fish\n", bsn);
	return ledger;
}

int main(void)
{
	int seeds = env_int("BENCH_EVO_SEEDS", 20), minutes = env_int("BENCH_EVO_MINUTES", 60);
	int jobs = env_int("BENCH_EVO_JOBS", 2);
	long frames = (long)minutes * 60 * 30;
	if (seeds > 256)
		seeds = 256;
	struct result *res = calloc((size_t)seeds, sizeof *res);
	if (!res || !run_seeds(res, seeds, jobs, frames))
		return 1;
	double ledger = print_population(res, seeds, minutes);
	print_traits(res, seeds);
	printf("bench: evolution_ledger_error_max %.2e relative\n", ledger);
	free(res);
	return ledger < 1e-6 ? 0 : 1;
}
