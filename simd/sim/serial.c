/* The fish serial counter, for crash recovery. simd replays departures recorded after
 * a tank's last snapshot; a fish born after that snapshot and sent away would otherwise
 * have its id minted again by the rewound tank. */
#include "config.h"

#include "simd/sim/internal.h"

uint64_t tank_fish_serial(const struct tank *t)
{
	return t->fish_serial;
}

void tank_raise_fish_serial(struct tank *t, uint64_t serial)
{
	if (serial > t->fish_serial)
		t->fish_serial = serial;
}
