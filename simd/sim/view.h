/* What a viewer draws, encoded once per tick as JSON text (the live stream's frames).
 *
 * Each entity that has looks (a fish's visual genome, a plant's L-system genome) gets a
 * small integer key the first time the view sees it; the frame carries only the key and
 * what moves, and the looks are kept as one text per key, encoded once per entity. Keys
 * only grow, and an entity that leaves the tank and comes back gets a new key, so a
 * reader who has seen the looks of every key up to K in one frame needs, for any later
 * frame, only the looks of that frame's keys above K (the stream relies on this).
 *
 * Pure like the rest of the core: no I/O, no threads. Only view_capture reads the tank;
 * the encoding works on its copy, so it need not hold the tank's lock. */
#ifndef TW_SIM_VIEW_H
#define TW_SIM_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simd/sim/sim.h"

struct tank_view;
struct view_capture;

/* The looks of every entity of one frame, in key order: entry i is the JSON object
 * text[off[i] .. off[i] + len[i]) of key key[i]. Owned by the caller once returned. */
/* Each entity's looks, in key order: text + off[i] holds len[i] bytes, and a comma
 * separates each from the next, so text + off[i] to text + text_len lists the looks of
 * entity i and every one after it. */
struct view_looks {
	char *text;
	size_t text_len;
	uint32_t *key;
	size_t *off, *len;
	size_t n;
};

struct view_frame {
	/* The frame object's members without the opening brace: "\"frame\":12,...}" */
	char *body;
	size_t body_len;
	size_t fish; /* fish in this frame */
	/* Set only when the looks changed since the previous frame (an entity came or
	 * went); otherwise NULL and the previous looks still hold. */
	struct view_looks *looks;
};

/* The tank's lock held: a copy of what a frame shows (no text yet), cheap enough for the
 * tick's thread to take every tick; st are the tank's stats (tank_get_stats), paused is
 * shown. It holds no pointer into the tank. reuse, if not NULL, is an earlier capture
 * done with: it is overwritten and returned, its arrays kept (at 100,000 fish a fresh
 * capture is 16 MB of new pages every tick). */
struct view_capture *view_capture(const struct tank *t, const struct tank_stats *st, bool paused,
				  struct view_capture *reuse);
void view_capture_free(struct view_capture *c);

struct tank_view *tank_view_new(void);
void tank_view_free(struct tank_view *v);
/* Encode a capture, on any thread (one at a time for each view). The buffers in out
 * become the caller's. */
void tank_view_encode(struct tank_view *v, const struct view_capture *c, struct view_frame *out);
void view_looks_free(struct view_looks *l);

#endif
