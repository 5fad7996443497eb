/* The viewer's controls on a running tank: food dropped by hand and a random fish
 * added. Each is an input of the tank like an arrival, so each is applied and journaled
 * (with the tank's frame) in one critical section, and start-up replay applies it again
 * at that frame (jrec.c). Nothing waits for the record to be durable: a crash before it
 * is also before the tank's next durable frame mark, so the tank comes back as if the
 * control never happened, as it does for the ticks since. */
#include "config.h"

#include "jrec.h"
#include "simd.h"

int controls_drop_food(struct simd *sd, struct tank_slot *s, double x, int count,
		       struct tank_stats *st)
{
	gate_lock(s);
	int added = tank_drop_food(s->sim, x, count);
	if (added > 0) /* none: the tank drew nothing from its RNG either */
		s->applied_seq = jrec_put(sd, JREC_FOOD,
					  &(struct jrec){.slot = s, .x = x, .count = count}, NULL,
					  NULL);
	tank_get_stats(s->sim, st);
	tank_publish_status(s);
	pthread_mutex_unlock(&s->lock);
	return added;
}

int controls_add_fish(struct simd *sd, struct tank_slot *s, double x, double y,
		      json_object **ret_fish)
{
	const char *fid = NULL;
	gate_lock(s);
	int r = tank_add_random_fish(s->sim, x, y, &fid);
	if (r == 0) {
		*ret_fish = fish_to_json(tank_find_fish(s->sim, fid));
		s->applied_seq = jrec_put(sd, JREC_ADD_FISH,
					  &(struct jrec){.slot = s, .x = x, .y = y, .fish_id = fid},
					  NULL, NULL);
	}
	tank_publish_status(s);
	pthread_mutex_unlock(&s->lock);
	return r;
}
