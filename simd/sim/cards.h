/* Playing cards and the poker hand evaluator (Texas Hold'em, spec §2.8).
 *
 * A card is 0..51: rank = c / 4 (0 is a two, 12 an ace), suit = c % 4 (clubs, diamonds,
 * hearts, spades). It is written as its rank ("23456789TJQKA") and suit ("cdhs"): "As".
 *
 * cards_eval() ranks the best five-card hand among 5 to 7 cards as one integer: a higher
 * value is a better hand, equal values tie. The value is the category (CARDS_* below) times
 * 2^20 plus up to five ranks packed four bits each, most significant first (for a full
 * house: trips rank, pair rank; for two pair: high pair, low pair, kicker; and so on). The
 * evaluation is table-driven: rank bit masks per suit, and two 8,192-entry tables (the
 * straight in a rank mask, the top five ranks of a mask) built once. No allocation, no
 * locks after cards_init(), which every entry point calls itself (thread-safe). */
#ifndef TW_SIM_CARDS_H
#define TW_SIM_CARDS_H

#include <stdbool.h>
#include <stdint.h>

enum cards_category {
	CARDS_HIGH_CARD,
	CARDS_PAIR,
	CARDS_TWO_PAIR,
	CARDS_TRIPS,
	CARDS_STRAIGHT,
	CARDS_FLUSH,
	CARDS_FULL_HOUSE,
	CARDS_QUADS,
	CARDS_STRAIGHT_FLUSH,
	CARDS_CATEGORY_COUNT
};

#define CARDS_DECK 52
#define CARDS_RANK(c) ((c) >> 2)
#define CARDS_SUIT(c) ((c)&3)

/* Builds the tables; cheap and idempotent. */
void cards_init(void);
/* The value of the best five of n cards (5 <= n <= 7, distinct, each 0..51). */
uint32_t cards_eval(const uint8_t *cards, int n);
static inline enum cards_category cards_category_of(uint32_t value)
{
	return (enum cards_category)(value >> 20);
}
/* The highest rank of the best straight among the ranks in a 13-bit mask, or -1 (the
 * wheel A-2-3-4-5 counts, five high). */
int cards_straight_high(unsigned rank_mask);
/* "straight_flush", "quads", ..., "high_card". */
const char *cards_category_name(enum cards_category c);
/* Writes "As" (and a NUL) into out[3]. */
void cards_str(int card, char out[3]);
/* The card for "As", or -1. */
int cards_parse(const char *s);

/* Pre-flop strength of two hole cards: the share (0..1) of the 1,326 starting hands that
 * are worse than this one in the standard 169-class ranking (by all-in equity against one
 * random hand), counting half of the hands of its own class. AA is near 1, 72o near 0. */
double cards_preflop_strength(int c1, int c2);
/* The 169-class index of two hole cards: pairs 0..12 (by rank), then suited, then offsuit
 * (hi*13+lo ordering). And its equity (0..1) against one random hand. */
int cards_preflop_class(int c1, int c2);
double cards_preflop_equity(int cls);

#endif
