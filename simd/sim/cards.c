/* The poker hand evaluator (cards.h): rank masks and two small tables. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "simd/sim/cards.h"

#define MASK_SIZE 8192 /* 13 rank bits */

/* The rank of the highest card of the best straight in a rank mask, plus one (0: none). */
static uint8_t straight_tab[MASK_SIZE];
/* The five highest ranks of a mask, packed four bits each from bit 16 down (missing: 0). */
static uint32_t top5_tab[MASK_SIZE];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* All-in equity (in 1/10,000) of each of the 169 starting-hand classes against one random
 * hand: 300,000 random deals per class with this evaluator (AA 0.852, AKs 0.671, 72o 0.346,
 * 32o 0.322, which agree with the published figures to Monte Carlo precision). Order: pairs
 * 22..AA, then suited, then offsuit, each as hi = 1..12 with lo = 0..hi-1. */
static const uint16_t preflop_equity[169] = {
	5034, 5350, 5709, 6023, 6333, 6617, 6920, 7220, 7497, 7750, 7988, 8240, 8517, 3585, 3676,
	3849, 3782, 3970, 4134, 3766, 3971, 4111, 4303, 3807, 3998, 4185, 4378, 4528, 4028, 4100,
	4266, 4454, 4638, 4803, 4248, 4304, 4390, 4566, 4746, 4911, 5072, 4486, 4578, 4659, 4730,
	4887, 5067, 5220, 5389, 4751, 4804, 4907, 4994, 5056, 5216, 5404, 5561, 5744, 5020, 5083,
	5178, 5274, 5353, 5433, 5595, 5758, 5950, 6030, 5314, 5414, 5472, 5566, 5680, 5759, 5834,
	5995, 6168, 6255, 6355, 5739, 5829, 5917, 6002, 5987, 6097, 6198, 6279, 6455, 6542, 6630,
	6707, 3219, 3318, 3516, 3417, 3623, 3807, 3414, 3596, 3797, 4003, 3456, 3665, 3865, 4043,
	4245, 3694, 3740, 3941, 4146, 4325, 4499, 3904, 4003, 4072, 4259, 4457, 4622, 4819, 4163,
	4256, 4336, 4431, 4612, 4789, 4990, 5153, 4449, 4540, 4621, 4718, 4778, 4958, 5146, 5320,
	5532, 4720, 4819, 4920, 5023, 5110, 5180, 5361, 5533, 5745, 5817, 5053, 5137, 5235, 5336,
	5435, 5508, 5607, 5791, 5954, 6057, 6144, 5482, 5596, 5677, 5766, 5769, 5893, 5982, 6089,
	6263, 6342, 6436, 6552,
};
static double preflop_rank[169]; /* cards_preflop_strength by class */

static void build(void)
{
	for (unsigned m = 0; m < MASK_SIZE; m++) {
		int best = 0;
		for (int hi = 12; hi >= 4 && !best; hi--) {
			unsigned run = 0x1Fu << (hi - 4);
			if ((m & run) == run)
				best = hi + 1;
		}
		if (!best && (m & 0x100Fu) == 0x100Fu) /* the wheel: A-2-3-4-5, five high */
			best = 3 + 1;
		straight_tab[m] = (uint8_t)best;
		uint32_t packed = 0;
		int k = 0;
		for (int r = 12; r >= 0 && k < 5; r--)
			if (m & (1u << r))
				packed |= (uint32_t)r << (16 - 4 * k++);
		top5_tab[m] = packed;
	}
	/* The share of the 1,326 two-card hands below each class (half of its own). */
	for (int c = 0; c < 169; c++) {
		double below = 0;
		for (int o = 0; o < 169; o++) {
			double combos = o < 13 ? 6 : o < 91 ? 4 : 12;
			if (preflop_equity[o] < preflop_equity[c])
				below += combos;
			else if (preflop_equity[o] == preflop_equity[c])
				below += combos / 2;
		}
		preflop_rank[c] = below / 1326.0;
	}
}

void cards_init(void)
{
	pthread_once(&once, build);
}

static inline int high_bit(unsigned m)
{
	return 31 - __builtin_clz(m);
}

/* The k highest ranks of m, packed from bit 16 down. */
static inline uint32_t top(unsigned m, int k)
{
	return top5_tab[m] >> (4 * (5 - k)) << (4 * (5 - k));
}

#define VALUE(cat, payload) (((uint32_t)(cat) << 20) | (payload))

uint32_t cards_eval(const uint8_t *cards, int n)
{
	cards_init();
	unsigned suit[4] = {0, 0, 0, 0};
	unsigned ones = 0, twos = 0, threes = 0, fours;
	for (int i = 0; i < n; i++)
		suit[CARDS_SUIT(cards[i])] |= 1u << CARDS_RANK(cards[i]);
	for (int s = 0; s < 4; s++) {
		threes |= twos & suit[s];
		twos |= ones & suit[s];
		ones |= suit[s];
	}
	fours = suit[0] & suit[1] & suit[2] & suit[3];
	for (int s = 0; s < 4; s++) {
		if (__builtin_popcount(suit[s]) >= 5) {
			/* Beside five cards of one suit, seven cards leave two: too few for
			 * quads or a full house, so a flush is the best unless it is straight. */
			int sf = straight_tab[suit[s]];
			if (sf)
				return VALUE(CARDS_STRAIGHT_FLUSH, (uint32_t)(sf - 1) << 16);
			return VALUE(CARDS_FLUSH, top(suit[s], 5));
		}
	}
	if (fours) {
		int q = high_bit(fours);
		return VALUE(CARDS_QUADS, (uint32_t)q << 16 | top(ones & ~(1u << q), 1) >> 4);
	}
	if (threes) {
		int t = high_bit(threes);
		unsigned pairs = twos & ~(1u << t);
		if (pairs)
			return VALUE(CARDS_FULL_HOUSE, (uint32_t)t << 16 | (uint32_t)high_bit(pairs)
										   << 12);
	}
	int st = straight_tab[ones];
	if (st)
		return VALUE(CARDS_STRAIGHT, (uint32_t)(st - 1) << 16);
	if (threes) {
		int t = high_bit(threes);
		return VALUE(CARDS_TRIPS, (uint32_t)t << 16 | top(ones & ~(1u << t), 2) >> 4);
	}
	if (twos) {
		int p = high_bit(twos);
		unsigned rest = twos & ~(1u << p);
		if (rest) {
			int p2 = high_bit(rest);
			return VALUE(CARDS_TWO_PAIR,
				     (uint32_t)p << 16 | (uint32_t)p2 << 12 |
					     top(ones & ~(1u << p) & ~(1u << p2), 1) >> 8);
		}
		return VALUE(CARDS_PAIR, (uint32_t)p << 16 | top(ones & ~(1u << p), 3) >> 4);
	}
	return VALUE(CARDS_HIGH_CARD, top(ones, 5));
}

int cards_straight_high(unsigned rank_mask)
{
	cards_init();
	return straight_tab[rank_mask & (MASK_SIZE - 1)] - 1;
}

static const char *const category_names[CARDS_CATEGORY_COUNT] = {
	"high_card", "pair",	   "two_pair", "trips",		"straight",
	"flush",     "full_house", "quads",    "straight_flush"};

const char *cards_category_name(enum cards_category c)
{
	return (unsigned)c < CARDS_CATEGORY_COUNT ? category_names[c] : "unknown";
}

static const char ranks[] = "23456789TJQKA";
static const char suits[] = "cdhs";

void cards_str(int card, char out[3])
{
	out[0] = ranks[CARDS_RANK(card)];
	out[1] = suits[CARDS_SUIT(card)];
	out[2] = 0;
}

int cards_parse(const char *s)
{
	if (!s || !s[0] || !s[1] || s[2])
		return -1;
	const char *r = strchr(ranks, s[0]), *u = strchr(suits, s[1]);
	if (!r || !u)
		return -1;
	return (int)(r - ranks) * 4 + (int)(u - suits);
}

int cards_preflop_class(int c1, int c2)
{
	int a = CARDS_RANK(c1), b = CARDS_RANK(c2);
	if (a == b)
		return a;
	int hi = a > b ? a : b, lo = a > b ? b : a;
	return (CARDS_SUIT(c1) == CARDS_SUIT(c2) ? 13 : 91) + hi * (hi - 1) / 2 + lo;
}

double cards_preflop_equity(int cls)
{
	return (unsigned)cls < 169 ? preflop_equity[cls] / 10000.0 : 0;
}

double cards_preflop_strength(int c1, int c2)
{
	cards_init();
	return preflop_rank[cards_preflop_class(c1, c2)];
}
