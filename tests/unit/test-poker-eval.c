/* The hand evaluator: every five-card hand, every seven-card hand, and hands whose order
 * is known (the wheel, kickers, split boards), checked against published counts. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "simd/sim/cards.h"
#include "tap.h"

static uint32_t ev(const char *hand)
{
	uint8_t c[7];
	int n = 0;
	char buf[3] = {0, 0, 0};
	for (const char *p = hand; *p && n < 7; p += p[2] ? 3 : 2) {
		buf[0] = p[0];
		buf[1] = p[1];
		int k = cards_parse(buf);
		if (k < 0)
			abort();
		c[n++] = (uint8_t)k;
		if (!p[2])
			break;
	}
	return cards_eval(c, n);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* All C(52,5) hands: the classic counts per category, and 7,462 distinct values. */
static void test_five(void)
{
	static const long want[CARDS_CATEGORY_COUNT] = {1302540, 1098240, 123552, 54912, 10200,
							5108,	 3744,	  624,	  40};
	static const int want_distinct[CARDS_CATEGORY_COUNT] = {1277, 2860, 858, 858, 10,
								1277, 156,  156, 10};
	long count[CARDS_CATEGORY_COUNT] = {0};
	uint32_t *vals = malloc(sizeof *vals * 2598960);
	size_t n = 0;
	uint8_t h[5];
	for (h[0] = 0; h[0] < 52; h[0]++)
		for (h[1] = h[0] + 1; h[1] < 52; h[1]++)
			for (h[2] = h[1] + 1; h[2] < 52; h[2]++)
				for (h[3] = h[2] + 1; h[3] < 52; h[3]++)
					for (h[4] = h[3] + 1; h[4] < 52; h[4]++) {
						uint32_t v = cards_eval(h, 5);
						count[cards_category_of(v)]++;
						vals[n++] = v;
					}
	is_int(n, 2598960, "every five-card hand evaluated");
	for (int c = 0; c < CARDS_CATEGORY_COUNT; c++)
		is_int(count[c], want[c], "five cards: %s", cards_category_name(c));
	qsort(vals, n, sizeof *vals, cmp_u32);
	int distinct[CARDS_CATEGORY_COUNT] = {0}, total = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || vals[i] != vals[i - 1]) {
			distinct[cards_category_of(vals[i])]++;
			total++;
		}
	is_int(total, 7462, "five cards: 7,462 distinct hand values");
	for (int c = 0; c < CARDS_CATEGORY_COUNT; c++)
		is_int(distinct[c], want_distinct[c], "five cards: distinct %s",
		       cards_category_name(c));
	free(vals);
}

/* All C(52,7) hands: the published counts of the best five-card hand per category. */
static void test_seven(void)
{
	static const long want[CARDS_CATEGORY_COUNT] = {23294460, 58627800, 31433400,
							6461620,  6180020,  4047644,
							3473184,  224848,   41584};
	long count[CARDS_CATEGORY_COUNT] = {0};
	uint8_t h[7];
	for (h[0] = 0; h[0] < 52; h[0]++)
		for (h[1] = h[0] + 1; h[1] < 52; h[1]++)
			for (h[2] = h[1] + 1; h[2] < 52; h[2]++)
				for (h[3] = h[2] + 1; h[3] < 52; h[3]++)
					for (h[4] = h[3] + 1; h[4] < 52; h[4]++)
						for (h[5] = h[4] + 1; h[5] < 52; h[5]++)
							for (h[6] = h[5] + 1; h[6] < 52; h[6]++)
								count[cards_eval(h, 7) >> 20]++;
	for (int c = 0; c < CARDS_CATEGORY_COUNT; c++)
		is_int(count[c], want[c], "seven cards: %s", cards_category_name(c));
}

/* Seven cards equal the best of their 21 five-card subsets (random deals). */
static void test_best_of_21(uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	int bad = 0;
	for (int t = 0; t < 200000; t++) {
		uint8_t deck[52];
		for (int i = 0; i < 52; i++)
			deck[i] = (uint8_t)i;
		for (int i = 0; i < 7; i++) {
			int j = i + (int)rng_below(&r, (uint64_t)(52 - i));
			uint8_t x = deck[i];
			deck[i] = deck[j];
			deck[j] = x;
		}
		uint32_t best = 0;
		for (int a = 0; a < 7; a++)
			for (int b = a + 1; b < 7; b++) {
				uint8_t five[5];
				int k = 0;
				for (int i = 0; i < 7; i++)
					if (i != a && i != b)
						five[k++] = deck[i];
				uint32_t v = cards_eval(five, 5);
				if (v > best)
					best = v;
			}
		bad += cards_eval(deck, 7) != best;
		bad += cards_eval(deck, 6) < cards_eval(deck, 5);
	}
	is_int(bad, 0, "seven cards rank as their best five (200,000 deals, seed %llu)",
	       (unsigned long long)seed);
}

static void test_known(void)
{
	ok(ev("As 2d 3c 4h 5s") >> 20 == CARDS_STRAIGHT, "A-2-3-4-5 is a straight (the wheel)");
	ok(ev("As 2d 3c 4h 5s") < ev("2d 3c 4h 5s 6d"), "the wheel is the lowest straight");
	ok(ev("Ts Jd Qc Kh As") > ev("9s Td Jc Qh Kd"), "broadway beats king-high");
	ok(ev("Qs Kd Ac 2h 3s") >> 20 == CARDS_HIGH_CARD, "no straight wraps round the ace");
	ok(ev("Ah 2h 3h 4h 5h") >> 20 == CARDS_STRAIGHT_FLUSH,
	   "the steel wheel is a straight flush");
	ok(ev("Ah 2h 3h 4h 5h") < ev("2c 3c 4c 5c 6c"), "and the lowest one");
	ok(ev("Ah Kh Qh Jh Th") > ev("9s 9d 9c 9h As"), "royal flush beats quads");
	ok(ev("9s 9d 9c 9h 2s") > ev("Ks Kd Kc Ah As"), "quads beat a full house");
	ok(ev("3s 3d 3c 2h 2s") > ev("As Ks 9s 7s 5s"), "a full house beats a flush");
	ok(ev("Ks Kd Kc 2h 2s") > ev("Qs Qd Qc Ah As"), "full houses rank by trips first");
	ok(ev("As Kd 9c 7h 5s") > ev("As Kd 9c 7h 4s"), "high card: the fifth card counts");
	ok(ev("As Ad Kc Qh 5s") > ev("As Ad Kc Qh 4d"), "pair: the third kicker counts");
	ok(ev("As Ad Kc Kh 5s") > ev("As Ad Qc Qh Js"), "two pair: the second pair counts");
	ok(ev("As Ad Kc Kh 5s") > ev("Ac Ah Kd Ks 4d"), "two pair: the kicker counts");
	ok(ev("As Ad Kc Kh 5s") == ev("Ac Ah Kd Ks 5d"), "equal hands tie");
	ok(ev("7s 7d 7c Ah 2s") > ev("7s 7d 7c Kh Qs"), "trips: the kicker counts");
	ok(ev("Ah Th 8h 4h 3h") > ev("Kh Qh Jh 9h 7h"), "flush: the ace is highest");
	/* Seven cards: the board plays, both split; a hole card improves the kicker. */
	ok(ev("2c 3d Ts Js Qs Kd Ah") == ev("4c 5d Ts Js Qs Kd Ah"), "board straight: a split");
	ok(ev("As 2d Kh Kd 7c 7s 4h") > ev("Qs 2c Kh Kd 7c 7s 4h"), "board two pair: the ace kicks");
	ok(ev("2s 2d Kh Kd 7c 7s 4h") == ev("3s 3d Kh Kd 7c 7s 4h"), "a third pair does not count");
	ok(ev("As 2d 3h 4c 5s 6d 9c") >> 20 == CARDS_STRAIGHT &&
		   ev("As 2d 3h 4c 5s 6d 9c") == ev("2d 3h 4c 5s 6d 9c 9s"),
	   "with a six the straight is six-high, not the wheel");
	ok(ev("Ks Kd Kc Qh Qs Qd 2c") == ev("Ks Kd Kc Qh Qs 3c 2c"),
	   "two sets make kings full of queens");
	ok(ev("9h 8h 7h 6h 5h 4h Ah") >> 20 == CARDS_STRAIGHT_FLUSH &&
		   (ev("9h 8h 7h 6h 5h 4h Ah") >> 16 & 15) == 7,
	   "six to a straight flush plays the nine-high one");
	char s[3];
	cards_str(cards_parse("Td"), s);
	is_str(s, "Td", "cards print as rank and suit");
	ok(cards_parse("1d") < 0 && cards_parse("Tx") < 0 && cards_parse("Tdd") < 0 &&
		   cards_parse("") < 0,
	   "bad card strings are refused");
}

static void test_preflop(void)
{
	int aa = cards_preflop_class(cards_parse("As"), cards_parse("Ah"));
	double s_aa = cards_preflop_strength(cards_parse("As"), cards_parse("Ah"));
	double s_72 = cards_preflop_strength(cards_parse("7s"), cards_parse("2h"));
	double s_aks = cards_preflop_strength(cards_parse("As"), cards_parse("Ks"));
	double s_ako = cards_preflop_strength(cards_parse("As"), cards_parse("Kd"));
	is_int(aa, 12, "AA is pair class 12");
	ok(s_aa > 0.99 && s_72 < 0.05, "AA ranks top (%.3f), 72o near the bottom (%.3f)", s_aa,
	   s_72);
	ok(s_aks > s_ako && s_ako > 0.9, "AKs (%.3f) above AKo (%.3f), both in the top tenth",
	   s_aks, s_ako);
	is_double(cards_preflop_equity(aa), 0.852, 0.005, "AA wins 85%% against a random hand");
	is_double(cards_preflop_equity(cards_preflop_class(cards_parse("7s"), cards_parse("2h"))),
		  0.346, 0.005, "72o wins 35%%");
	ok(cards_preflop_class(cards_parse("Kh"), cards_parse("Qh")) ==
		   cards_preflop_class(cards_parse("Qs"), cards_parse("Ks")),
	   "a class ignores the order and the suit");
	int seen[169] = {0}, classes = 0;
	for (int a = 0; a < 52; a++)
		for (int b = a + 1; b < 52; b++)
			seen[cards_preflop_class(a, b)]++;
	for (int c = 0; c < 169; c++)
		classes += seen[c] == (c < 13 ? 6 : c < 91 ? 4 : 12);
	is_int(classes, 169, "1,326 hole-card pairs fall into 169 classes of 6, 4 and 12");
}

int main(void)
{
	const char *env = getenv("SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 20261201;
	printf("# seed %llu\n", (unsigned long long)seed);
	test_known();
	test_preflop();
	test_five();
	test_best_of_21(seed);
	test_seven();
	return tap_done();
}
