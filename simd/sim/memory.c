/* Fish memory (spec §2.7): remembered food spots and danger zones. A new sighting near an
 * old memory reinforces it (positions averaged); memories fade and are forgotten with age,
 * and a food memory that proves empty is weakened by the seeker that visits it. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"

#define MEMORY_REINFORCE_RADIUS 50.0
#define MEMORY_REINFORCE 0.05
#define MEMORY_DECAY_PER_FRAME 0.0001 /* the original's 0.001 per 10-frame update */

void memory_remember(struct memory_bank *m, double x, double y)
{
	for (int i = 0; i < m->n; i++) {
		struct memory_entry *e = &m->e[i];
		double dx = e->x - x, dy = e->y - y;
		if (dx * dx + dy * dy <= MEMORY_REINFORCE_RADIUS * MEMORY_REINFORCE_RADIUS) {
			e->x = (e->x + x) * 0.5;
			e->y = (e->y + y) * 0.5;
			e->strength = fmin(1.0, e->strength + MEMORY_REINFORCE);
			e->successes++;
			e->age = 0;
			return;
		}
	}
	int slot = m->n;
	if (m->n == MEMORY_SLOTS) {
		/* Full: replace the weakest (oldest on a tie). */
		slot = 0;
		for (int i = 1; i < m->n; i++)
			if (m->e[i].strength < m->e[slot].strength ||
			    (m->e[i].strength == m->e[slot].strength &&
			     m->e[i].age > m->e[slot].age))
				slot = i;
	} else {
		m->n++;
	}
	m->e[slot] = (struct memory_entry){.x = x, .y = y, .strength = 0.5, .successes = 1};
}

void memory_update(struct memory_bank *m, int elapsed)
{
	int k = 0;
	for (int i = 0; i < m->n; i++) {
		struct memory_entry e = m->e[i];
		e.age += elapsed;
		e.strength -= MEMORY_DECAY_PER_FRAME * elapsed;
		if (e.age > MEMORY_MAX_AGE || e.strength <= 0.0)
			continue;
		m->e[k++] = e;
	}
	m->n = k;
}

const struct memory_entry *memory_strongest(const struct memory_bank *m, double min_strength)
{
	const struct memory_entry *best = NULL;
	for (int i = 0; i < m->n; i++)
		if (m->e[i].strength >= min_strength && (!best || m->e[i].strength > best->strength))
			best = &m->e[i];
	return best;
}

int memory_check(const struct memory_bank *m, struct json_err *e)
{
	if (m->n < 0 || m->n > MEMORY_SLOTS)
		return jv_fail(e, "too many memories");
	for (int i = 0; i < m->n; i++) {
		const struct memory_entry *x = &m->e[i];
		if (!isfinite(x->x) || !isfinite(x->y) || fabs(x->x) > SIM_MAX_WORLD ||
		    fabs(x->y) > SIM_MAX_WORLD)
			return jv_fail(e, "memory position out of range");
		/* 0 is legal: a seeker may empty a memory between two 10-frame updates. */
		if (!(x->strength >= 0.0 && x->strength <= 1.0))
			return jv_fail(e, "memory strength must be in [0, 1]");
		if (x->age < 0 || x->age > MEMORY_MAX_AGE || x->successes < 0 || x->failures < 0)
			return jv_fail(e, "memory age or counts out of range");
	}
	return 0;
}
