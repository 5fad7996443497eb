/* trig_sincos (SIM_RULES 4): the steering's sines and cosines, within an ulp or two of
 * libm's wherever the rules ask, the same bits on every call, and libm's own answer where
 * the reduction would not be exact. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "simd/sim/trig.h"
#include "tap.h"

/* The largest error against libm over n angles evenly spread in [lo, hi]. */
static double worst_error(double lo, double hi, long n, double *at)
{
	double worst = 0;
	for (long i = 0; i <= n; i++) {
		double a = lo + (hi - lo) * (double)i / (double)n, s, c;
		trig_sincos(a, &s, &c);
		double e = fmax(fabs(s - sin(a)), fabs(c - cos(a)));
		if (e > worst) {
			worst = e;
			*at = a;
		}
	}
	return worst;
}

int main(void)
{
	double at = 0;
	/* 2.3e-16 is about an ulp of 1: the values are in [-1, 1]. */
	double e = worst_error(-M_PI, M_PI, 2000000, &at);
	ok(e <= 2.3e-16,
	   "wander's headings, [-pi, pi]: within 2.3e-16 of libm (worst %.3g at %.17g)", e, at);
	e = worst_error(-1000, 1000, 2000000, &at);
	ok(e <= 4.5e-16, "angles to +-1000: within 4.5e-16 (worst %.3g at %.17g)", e, at);

	/* Where the quadrant changes, and the angles the rules name. */
	const double edges[] = {0,	   M_PI / 4,	  M_PI / 2, 3 * M_PI / 4, M_PI,
				-M_PI / 4, -M_PI / 2,	  -M_PI,    1e-300,	  -1e-300,
				0.5,	   0.78539816339, 2.35619,  5.4977871437, -2.3561944902};
	bool close = true;
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		for (int k = -2; k <= 2; k++) {
			double a = nextafter(edges[i], k < 0 ? -INFINITY : INFINITY), s, c;
			if (k == 0)
				a = edges[i];
			trig_sincos(a, &s, &c);
			if (fabs(s - sin(a)) > 2.3e-16 || fabs(c - cos(a)) > 2.3e-16) {
				printf("# at %.17g: %.17g %.17g against %.17g %.17g\n", a, s, c,
				       sin(a), cos(a));
				close = false;
			}
		}
	}
	ok(close, "at and beside the quadrants' edges");
	double s, c;
	trig_sincos(0, &s, &c);
	ok(s == 0 && c == 1, "sin 0 = 0 and cos 0 = 1 exactly");
	double s1, c1, s2, c2;
	trig_sincos(-0.7, &s1, &c1);
	trig_sincos(0.7, &s2, &c2);
	ok(s1 == -s2 && c1 == c2, "odd sine, even cosine, to the bit");

	/* Beyond the exact reduction, libm answers. */
	trig_sincos(1e7, &s, &c);
	ok(s == sin(1e7) && c == cos(1e7), "1e7 rad: libm's answer");
	trig_sincos(NAN, &s, &c);
	ok(isnan(s) && isnan(c), "NaN in, NaN out");
	trig_sincos(INFINITY, &s, &c);
	ok(isnan(s) && isnan(c), "infinity in, NaN out");
	return tap_done();
}
