/* Sine and cosine for the per-frame steering (SIM_RULES 4). A fish that wanders turns by a
 * random angle every frame, so glibc's sincos ran for most fish in every frame: about 5 %
 * of a 100,000-fish tank's tick. trig_sincos is plain arithmetic (no table, no libm),
 * within 2 ulp of the exact values over the angles the rules use, and a few times
 * cheaper; being arithmetic only, it gives the same bits on every thread. The angle is
 * reduced to [-pi/4, pi/4] by its nearest multiple of pi/2 (pi/2 split in two parts, so
 * the reduction itself is exact enough for |a| up to about 1e6), then the Taylor series
 * of both are summed far enough that the first term left out is below 1e-16 of the
 * result (a reduced angle is at most 0.786). */
#ifndef TW_SIM_TRIG_H
#define TW_SIM_TRIG_H

#include <math.h>
#include <stdbool.h>

static inline void trig_sincos(double a, double *s, double *c)
{
	if (!(fabs(a) < 1e6)) { /* not reached by the rules; NaN and huge angles too */
		*s = sin(a);
		*c = cos(a);
		return;
	}
	double q = a * 0.63661977236758134308; /* 2/pi */
	long k = (long)(q + (q >= 0 ? 0.5 : -0.5));
	/* pi/2 = PIO2_HI + PIO2_LO, PIO2_HI with its last 20 bits zero: k * PIO2_HI is exact. */
	double r = (a - (double)k * 1.57079632673412561417) -
		   (double)k * 6.07710050650619224932e-11;
	/* Estrin's scheme: the terms in pairs, so that the multiplications do not wait on
	 * each other down one long chain. */
	double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
	double s01 = -1.0 / 6 + r2 * (1.0 / 120), s23 = -1.0 / 5040 + r2 * (1.0 / 362880);
	double s45 = -1.0 / 39916800 + r2 * (1.0 / 6227020800.0), s6 = -1.0 / 1307674368000.0;
	double sr = r + r * r2 * ((s01 + r4 * s23) + r8 * (s45 + r4 * s6));
	double c01 = -0.5 + r2 * (1.0 / 24), c23 = -1.0 / 720 + r2 * (1.0 / 40320);
	double c45 = -1.0 / 3628800 + r2 * (1.0 / 479001600.0);
	double c67 = -1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0);
	double cr = 1.0 + r2 * ((c01 + r4 * c23) + r8 * (c45 + r4 * c67));
	/* The quadrant without a branch: it is as random as the angle. */
	bool odd = k & 1;
	double sv = odd ? cr : sr, cv = odd ? sr : cr;
	*s = (k & 2) ? -sv : sv;
	*c = ((k + 1) & 2) ? -cv : cv;
}

#endif
