/* Token buckets (tbucket.h). */
#include "config.h"

#include "tbucket.h"

void tbucket_init(struct tbucket *b, double rate, double now)
{
	b->rate = rate > 0 ? rate : 0;
	b->burst = rate > 1 ? rate : 1; /* one second's worth, at least one token */
	b->tokens = b->burst;
	b->last = now;
	b->init = true;
}

static void refill(struct tbucket *b, double now)
{
	if (now > b->last) {
		b->tokens += (now - b->last) * b->rate;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last = now;
}

void tbucket_set_rate(struct tbucket *b, double rate, double now)
{
	if (!b->init) {
		tbucket_init(b, rate, now);
		return;
	}
	refill(b, now);
	b->rate = rate > 0 ? rate : 0;
	b->burst = rate > 1 ? rate : 1;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

bool tbucket_ready(struct tbucket *b, double now)
{
	refill(b, now);
	return b->tokens >= 1.0;
}

bool tbucket_take(struct tbucket *b, double now)
{
	if (!tbucket_ready(b, now))
		return false;
	b->tokens -= 1.0;
	return true;
}
