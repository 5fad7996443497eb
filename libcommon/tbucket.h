/* Token buckets: the rate limits of migrated's scheduler and of simd's wall exits. */
#ifndef TW_TBUCKET_H
#define TW_TBUCKET_H

#include <stdbool.h>

/* A token bucket: rate tokens per second, holding at most burst (at least 1), full at
 * start. Times are monotonic seconds supplied by the caller. */
struct tbucket {
	double rate, burst, tokens, last;
	bool init;
};
void tbucket_init(struct tbucket *b, double rate, double now);
/* Change the rate (SIGHUP) keeping the tokens already earned, capped to the new burst. */
void tbucket_set_rate(struct tbucket *b, double rate, double now);
/* True when a token is available now (refills first; takes nothing). */
bool tbucket_ready(struct tbucket *b, double now);
/* Take a token if there is one. */
bool tbucket_take(struct tbucket *b, double now);

#endif
