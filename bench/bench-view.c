/* Stream frame encoding (issue 10): the cost of one live-stream frame of a 1,000-fish
 * tank, which simd's tick thread pays once per tick while anyone watches (target: under
 * 1 ms). The tank is the one simd makes for 1,000 fish in a 3441x1935
 * world (the density of the default tank at capacity), all 1,000 spawned; it steps between encodings so every frame is a new one. Also
 * prints the frame's size and the cost of a frame whose looks changed (a birth or death). */
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

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct tank_params p = tank_params_default(42);
	tank_params_scale_world(&p, 3441, 1935);
	p.max_fish = 1000;
	p.initial_fish = 1000;
	struct tank *t = tank_new(&p, "bench-view");
	if (!t)
		return 1;
	struct tank_view *v = tank_view_new();
	enum { N = 300 };
	static double dt[N];
	size_t bytes = 0, fish = 0, looks_frames = 0;
	double looks_time = 0;
	for (int i = 0; i < N + 5; i++) {
		tank_step(t);
		struct tank_stats st;
		tank_get_stats(t, &st);
		struct view_frame f;
		double t0 = now();
		tank_view_encode(v, t, &st, false, &f);
		double d = now() - t0;
		if (i >= 5) {
			dt[i - 5] = d;
			bytes += f.body_len;
			fish += f.fish;
			if (f.looks) {
				looks_frames++;
				looks_time += d;
			}
		}
		free(f.body);
		view_looks_free(f.looks);
	}
	qsort(dt, N, sizeof dt[0], cmp_double);
	printf("bench: stream_frame_encode_1000_fish_median %.3f ms\n", dt[N / 2] * 1e3);
	printf("bench: stream_frame_encode_1000_fish_p99 %.3f ms\n", dt[N * 99 / 100] * 1e3);
	printf("bench: stream_frame_bytes_1000_fish %.0f bytes\n", (double)bytes / N);
	if (looks_frames)
		printf("bench: stream_frame_encode_with_new_looks %.3f ms\n",
		       looks_time / looks_frames * 1e3);
	fprintf(stderr,
		"bench-view: %.0f fish per frame on average, %zu of %d frames carried new looks\n",
		(double)fish / N, looks_frames, N);
	tank_view_free(v);
	tank_free(t);
	return dt[N / 2] < 1e-3 ? 0 : 1;
}
