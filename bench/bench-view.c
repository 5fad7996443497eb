/* Stream frame encoding (issue 10; issue 13: a tick never waits for a viewer). While
 * anyone watches a tank, its tick thread copies what a frame shows (view_capture) and
 * the stream's encoder thread turns the copy into the frame's text (tank_view_encode).
 * For 1,000, 10,000 and 100,000 fish at the default density (the world simd makes for
 * that many, all spawned), this times both halves on every tick of a running tank: the
 * copy is what the tick pays, the encoding what the encoder thread does meanwhile. The
 * 1,000-fish frame, copy and encoding together, must stay under 1 ms (the exit status).
 * Also prints the frame's size and the cost of a frame whose looks changed (a birth or
 * death). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simd/sim/sim.h"
#include "simd/sim/view.h"

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

enum { MAX_FRAMES = 300 };

/* Times n_frames frames of a new n-fish tank; returns the median of copy + encoding. */
static double run(int n, int n_frames)
{
	double k = sqrt(n / 100.0);
	struct tank_params p = tank_params_default(42);
	tank_params_scale_world(&p, (int)lround(1088 * k), (int)lround(612 * k));
	p.max_fish = n;
	p.initial_fish = n;
	struct tank *t = tank_new(&p, "bench-view");
	if (!t)
		exit(1);
	struct tank_view *v = tank_view_new();
	struct view_capture *c = NULL; /* reused, as the stream does */
	static double copy[MAX_FRAMES], enc[MAX_FRAMES], both[MAX_FRAMES];
	size_t bytes = 0, fish = 0, looks_frames = 0;
	double looks_time = 0;
	/* The first frame gives every entity its looks: timed apart, as it comes once. */
	for (int i = 0; i < n_frames + 1; i++) {
		tank_step(t);
		struct tank_stats st;
		tank_get_stats(t, &st);
		struct view_frame f;
		double t0 = now();
		c = view_capture(t, &st, false, c);
		double t1 = now();
		tank_view_encode(v, c, &f);
		double t2 = now();
		if (i >= 1) {
			copy[i - 1] = t1 - t0;
			enc[i - 1] = t2 - t1;
			both[i - 1] = t2 - t0;
			bytes += f.body_len;
			fish += f.fish;
			if (f.looks) {
				looks_frames++;
				looks_time += t2 - t1;
			}
		}
		free(f.body);
		view_looks_free(f.looks);
	}
	qsort(copy, n_frames, sizeof copy[0], cmp_double);
	qsort(enc, n_frames, sizeof enc[0], cmp_double);
	qsort(both, n_frames, sizeof both[0], cmp_double);
	int p99 = n_frames * 99 / 100;
	printf("bench: stream_frame_copy_on_tick_%d_fish_median %.3f ms\n", n,
	       copy[n_frames / 2] * 1e3);
	printf("bench: stream_frame_copy_on_tick_%d_fish_p99 %.3f ms\n", n, copy[p99] * 1e3);
	printf("bench: stream_frame_encode_off_tick_%d_fish_median %.3f ms\n", n,
	       enc[n_frames / 2] * 1e3);
	printf("bench: stream_frame_encode_off_tick_%d_fish_p99 %.3f ms\n", n, enc[p99] * 1e3);
	printf("bench: stream_frame_bytes_%d_fish %.0f bytes\n", n, (double)bytes / n_frames);
	if (looks_frames)
		printf("bench: stream_frame_encode_with_new_looks_%d_fish %.3f ms\n", n,
		       looks_time / looks_frames * 1e3);
	fprintf(stderr,
		"bench-view: %d fish: %.0f fish per frame on average, %zu of %d frames carried new "
		"looks\n",
		n, (double)fish / n_frames, looks_frames, n_frames);
	view_capture_free(c);
	tank_view_free(v);
	tank_free(t);
	return both[n_frames / 2];
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	double small = run(1000, MAX_FRAMES);
	printf("bench: stream_frame_encode_1000_fish_median %.3f ms\n", small * 1e3);
	run(10000, 100);
	run(100000, 20);
	return small < 1e-3 ? 0 : 1;
}
