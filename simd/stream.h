/* A tank's live stream, without HTTP (api-stream.c serves it): while anyone watches, the
 * tank's tick thread copies what a frame shows once per tick (view_capture), and the
 * stream's encoder thread turns the newest copy into a frame and publishes it; the event
 * loop hands the newest frame to every subscriber. A frame is immutable and
 * reference-counted, so one encoding serves every client. The tick never waits for a
 * client nor for the encoding: it pays for the copy and swaps a pointer under a short
 * lock. */
#ifndef TW_SIMD_STREAM_H
#define TW_SIMD_STREAM_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "sim/sim.h"
#include "sim/view.h"

struct stream_looks {
	int refs; /* atomic */
	struct view_looks *l;
};

struct stream_frame {
	int refs; /* atomic */
	uint64_t seq;
	char *body; /* view_frame.body: the members after the opening brace */
	size_t body_len;
	size_t fish;
	struct stream_looks *looks; /* the looks of every entity of this frame, key order */
};

struct stream_sub {
	/* Loop thread. on_frame may unsubscribe (and free) the subscriber; on_gone says the
	 * tank is going away: the subscriber is already unsubscribed and must let go. */
	void (*on_frame)(struct stream_sub *sub, struct stream_frame *f);
	void (*on_gone)(struct stream_sub *sub);
	TAILQ_ENTRY(stream_sub) link;
};

struct tank_stream;

struct tank_stream *tank_stream_new(struct event_base *base);
/* Loop thread, after the tick thread stopped: every subscriber gets on_gone, and the
 * encoder thread finishes the frame it is on and ends. */
void tank_stream_free(struct tank_stream *ts);
/* Tick thread, the tank's lock held: when someone watches and the tank changed (or a
 * poke asked for it), copy the frame and hand it to the encoder thread (started at the
 * first). st: the stats just published. */
void tank_stream_tick(struct tank_stream *ts, const struct tank *t, const struct tank_stats *st,
		      bool paused);
/* Ask for a frame at the next tick even if the tank did not step (paused tanks). */
void tank_stream_poke(struct tank_stream *ts);
/* Loop thread. Returns a reference to the newest frame (NULL if none yet). */
struct stream_frame *tank_stream_subscribe(struct tank_stream *ts, struct stream_sub *sub);
void tank_stream_unsubscribe(struct tank_stream *ts, struct stream_sub *sub);
size_t tank_stream_subscribers(const struct tank_stream *ts);
/* Frames encoded so far (one per tick at most, however many subscribers). */
uint64_t tank_stream_encoded(const struct tank_stream *ts);

struct stream_frame *stream_frame_ref(struct stream_frame *f);
void stream_frame_unref(struct stream_frame *f);

#endif
