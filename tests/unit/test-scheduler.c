/* Unit tests for migrated/scheduler: the roll, token buckets, backoff, the cooldown
 * set and the plan of a pass (rate limits, skips, conflicts). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connections.h"
#include "scheduler.h"
#include "connection-test.h"
#include "tap.h"

static void test_rng(void)
{
	struct rng r;
	rng_seed(&r, 42);
	int counts[101] = {0};
	for (int i = 0; i < 100000; i++) {
		int x = roll_1_100(&r);
		if (x < 1 || x > 100) {
			ok(0, "roll out of range: %d", x);
			return;
		}
		counts[x]++;
	}
	int lo = 100000, hi = 0;
	for (int i = 1; i <= 100; i++) {
		lo = counts[i] < lo ? counts[i] : lo;
		hi = counts[i] > hi ? counts[i] : hi;
	}
	ok(lo > 800 && hi < 1200, "rolls 1..100 roughly uniform (%d..%d per value)", lo, hi);
	ok(roll_hits(1, 1) && !roll_hits(2, 1), "p=1 hits only on 1");
	ok(!roll_hits(1, 0), "p=0 never hits");
	ok(roll_hits(100, 100), "p=100 always hits");
	int hits = 0;
	for (int i = 0; i < 100000; i++)
		hits += roll_hits(roll_1_100(&r), 25);
	ok(hits > 24000 && hits < 26000, "p=25 hits about a quarter (%d)", hits);
	struct rng a, b;
	rng_seed(&a, 1);
	rng_seed(&b, 2);
	ok(rng_next(&a) != rng_next(&b), "different seeds, different streams");
	double u = 0;
	for (int i = 0; i < 1000; i++) {
		u = rng_uniform(&r);
		if (u < 0 || u >= 1)
			break;
	}
	ok(u >= 0 && u < 1, "rng_unit in [0,1)");
	ok(rng_below(&r, 1) == 0, "rng_below(1) is 0");
}

static void test_bucket(void)
{
	struct tbucket b;
	tbucket_init(&b, 10, 0);
	int taken = 0;
	while (tbucket_take(&b, 0))
		taken++;
	is_int(taken, 10, "a full bucket holds one second's worth");
	ok(!tbucket_take(&b, 0.05), "nothing 50 ms later");
	ok(tbucket_take(&b, 0.1), "one token after 100 ms at 10/s");
	taken = 0;
	for (double t = 0.1; t < 10.1; t += 0.01)
		taken += tbucket_take(&b, t);
	ok(taken >= 99 && taken <= 101, "sustained 10/s over 10 s (%d)", taken);
	tbucket_init(&b, 0.5, 0);
	ok(tbucket_take(&b, 0), "a rate below 1/s still starts with one token");
	ok(!tbucket_take(&b, 1), "then one per 2 s");
	ok(tbucket_take(&b, 2.01), "after 2 s");
	tbucket_init(&b, 100, 0);
	for (int i = 0; i < 100; i++)
		tbucket_take(&b, 0);
	tbucket_set_rate(&b, 1, 0);
	ok(!tbucket_take(&b, 0.5), "a lower rate applies at once");
	tbucket_set_rate(&b, 1000, 1);
	ok(tbucket_take(&b, 1), "a higher rate keeps what was earned");
	ok(!tbucket_ready(&b, 1), "ready takes nothing and says no when empty");
	ok(b.tokens >= 0, "tokens never negative");
	tbucket_init(&b, 5, 100);
	ok(tbucket_ready(&b, 50), "a clock going backwards does not break it");
}

static void test_backoff(void)
{
	is_double(backoff_delay(1, 0.999999), BACKOFF_FIRST, 1e-3, "first retry at most 0.5 s");
	is_double(backoff_delay(1, 0), BACKOFF_FIRST / 2, 1e-9, "and at least 0.25 s");
	is_double(backoff_delay(2, 0.999999), 1.0, 1e-3, "doubles");
	is_double(backoff_delay(7, 0.999999), 30.0, 1e-3, "capped at 30 s");
	is_double(backoff_delay(1000, 0.5), 22.5, 1e-9, "stays capped, jittered");
	ok(backoff_delay(0, 0) > 0, "n=0 treated as the first");
	bool mono = true;
	for (int i = 1; i < 20; i++)
		mono = mono && backoff_delay(i + 1, 0.5) >= backoff_delay(i, 0.5);
	ok(mono, "never shrinks for the same jitter");
}

static void test_strset(void)
{
	struct strset s = {0};
	ok(strset_add(&s, "a"), "add");
	ok(!strset_add(&s, "a"), "add twice is false");
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		strset_add(&s, k);
	}
	ok(strset_has(&s, "k99") && strset_has(&s, "a") && !strset_has(&s, "b"), "membership");
	is_int(s.n, 101, "size");
	ok(strcmp(s.v[0], "a") == 0 && strcmp(s.v[100], "k99") == 0, "kept in the order added");
	ok(strset_remove(&s, "k5") && !strset_has(&s, "k5") && !strset_remove(&s, "k5") &&
		   s.n == 100 && strset_has(&s, "k99") && strset_has(&s, "k4"),
	   "remove: gone, the others still found");
	strset_clear(&s);
	is_int(s.n, 0, "cleared");
	/* A crowded tank's fish: the index keeps adding and finding linear in their number
	 * (a list searched from the start took the pass 170-260 ms at 6,000 fish). */
	for (int i = 0; i < 200000; i++) {
		char k[48];
		snprintf(k, sizeof k, "%08x-0000-4000-8000-%012d", i, i);
		strset_add(&s, k);
	}
	ok(s.n == 200000 && strset_has(&s, "00000000-0000-4000-8000-000000000000") &&
		   strset_has(&s, "00030d3f-0000-4000-8000-000000199999") &&
		   !strset_has(&s, "00030d40-0000-4000-8000-000000200000"),
	   "200,000 ids added and found");
	strset_clear(&s);
}

static const struct sched_decision *find(const struct sched_decision *d, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].c->id, id) == 0)
			return &d[i];
	return NULL;
}

static void test_plan(void)
{
	struct rng r;
	rng_seed(&r, 7);
	struct connection cs[] = {
		test_connection("ab", "A", "B", "s1", 100, DIR_RIGHT),
		test_connection("ba", "B", "A", "s1", 100, DIR_RIGHT),
		test_connection("bx", "B", "X", "s2", 100, DIR_LEFT),
		test_connection("never", "C", "A", "s1", 0, DIR_RIGHT),
		test_connection("gone", "G", "A", "s1", 100, DIR_RIGHT),
		test_connection("off", "D", "A", "s1", 100, DIR_RIGHT),
		test_connection("empty", "E", "A", "s1", 100, DIR_RIGHT),
	};
	size_t n = sizeof cs / sizeof cs[0];
	struct connection *ptrs[16];
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &cs[i];
	struct sched_tank tanks[] = {
		{"A", false, true, 10, 100, 0}, {"B", true, true, 5, 100, 0},
		{"C", false, true, 5, 100, 0},	{"D", false, false, 5, 100, 0},
		{"E", false, true, 0, 100, 0},
	};
	struct tbucket global;
	tbucket_init(&global, 1000, 0);
	struct sched_decision plan[16];
	struct sched_counts counts;
	sched_plan(ptrs, n, tanks, 5, "s1", &r, &global, 100, 0, plan, &counts);
	is_int(counts.connections, n, "every connection rolled");
	is_int(find(plan, n, "ab")->verdict, SV_HIT, "p=100 hits");
	is_int(find(plan, n, "ba")->verdict, SV_HIT, "a paused source still sends (DESIGN §4)");
	is_int(find(plan, n, "never")->verdict, SV_MISS, "p=0 misses");
	is_int(find(plan, n, "gone")->verdict, SV_NO_SOURCE, "an unlisted source is skipped");
	is_int(find(plan, n, "off")->verdict, SV_TRANSFERS_DISABLED,
	       "allow_transfers false skipped");
	is_int(find(plan, n, "empty")->verdict, SV_EMPTY, "an empty tank skipped");
	ok(find(plan, n, "ba")->conflict && find(plan, n, "bx")->conflict,
	   "B receives by a local move and sends: its hits name their fish");
	ok(find(plan, n, "ab")->conflict, "A too (B->A is local)");
	is_int(counts.hits, 3, "three hits");

	/* Global limit: 2 per second, so of 5 hits only 2 go. */
	struct connection many[5];
	struct connection *mp[5];
	struct sched_tank mt[5];
	char names[5][8];
	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof names[i], "T%d", i);
		many[i] = test_connection(names[i], names[i], "Z", "s2", 100, DIR_RIGHT);
		mp[i] = &many[i];
		mt[i] = (struct sched_tank){names[i], false, true, 10, 100, 0};
	}
	tbucket_init(&global, 2, 0);
	sched_plan(mp, 5, mt, 5, "s1", &r, &global, 100, 0, plan, &counts);
	ok(counts.hits == 2 && counts.rate_limited == 3, "global limit 2/s: 2 hits, 3 limited");
	/* Which ones win changes from pass to pass (fresh order each time). */
	int first_wins[5] = {0};
	for (int pass = 0; pass < 200; pass++) {
		tbucket_init(&global, 1, 0);
		sched_plan(mp, 5, mt, 5, "s1", &r, &global, 100, 0, plan, &counts);
		for (int i = 0; i < 5; i++)
			if (plan[i].verdict == SV_HIT)
				first_wins[plan[i].c->id[1] - '0']++;
	}
	bool fair = true;
	for (int i = 0; i < 5; i++)
		fair = fair && first_wins[i] > 15;
	ok(fair, "a rate limit does not starve any connection (%d %d %d %d %d)", first_wins[0],
	   first_wins[1], first_wins[2], first_wins[3], first_wins[4]);

	/* Per-connection limit: 1/s; passes every 0.25 s fire once a second. */
	tbucket_init(&global, 1000, 0);
	struct connection one = test_connection("one", "T0", "Z", "s2", 100, DIR_RIGHT);
	struct connection *op = &one;
	int fired = 0;
	for (int k = 0; k < 40; k++) {
		sched_plan(&op, 1, mt, 5, "s1", &r, &global, 1, k * 0.25, plan, &counts);
		fired += counts.hits;
	}
	ok(fired >= 10 && fired <= 11, "per-connection 1/s over 10 s of 0.25 s passes: %d", fired);
	/* A reload (SIGHUP) that lowers per_connection_per_second applies to the connections
	 * already running: their buckets were made at the old rate, 1000/s here. */
	struct connection re = test_connection("re", "T0", "Z", "s2", 100, DIR_RIGHT), *rp = &re;
	tbucket_init(&global, 1000, 0);
	sched_plan(&rp, 1, mt, 5, "s1", &r, &global, 1000, 0, plan, &counts);
	int after = 0;
	for (int k = 1; k <= 20; k++) {
		sched_plan(&rp, 1, mt, 5, "s1", &r, &global, 1, k * 0.1, plan, &counts);
		after += counts.hits;
	}
	ok(after >= 1 && after <= 3,
	   "a reload from 1000/s to 1/s per connection limits a running connection at once "
	   "(%d hits in 2 s)",
	   after);
	/* A refused hit takes no global token. */
	tbucket_init(&global, 1, 100);
	tbucket_take(&one.bucket, 100); /* the connection's own bucket is empty */
	sched_plan(&op, 1, mt, 5, "s1", &r, &global, 1, 100, plan, &counts);
	ok(counts.rate_limited == 1 && tbucket_ready(&global, 100),
	   "a hit limited per connection left the global token");
}

/* Refusals (issue 9): a definitive refusal pauses a connection, 1 s doubling to the cap,
 * reset by a success; a vanished destination tank makes it broken. */
static void test_refusals(void)
{
	is_double(conn_refusal_pause(1, 300), 1, 1e-9, "first refusal: 1 s");
	is_double(conn_refusal_pause(2, 300), 2, 1e-9, "second: 2 s");
	is_double(conn_refusal_pause(5, 300), 16, 1e-9, "fifth: 16 s");
	is_double(conn_refusal_pause(30, 300), 300, 1e-9, "capped at the maximum");
	struct connection c = test_connection("ab", "A", "B", "s1", 100, DIR_RIGHT);
	is_int(conn_gate(&c, 0), GATE_OPEN, "a fresh connection is open");
	ok(!conn_refused(&c, false, "409 tank_full", 100, 300), "a full tank does not break it");
	is_int(conn_gate(&c, 100.5), GATE_CLOSED, "paused for 1 s");
	is_int(conn_gate(&c, 101), GATE_PROBE, "then one fish may probe");
	conn_refused(&c, false, "409 tank_full", 101, 300);
	is_int(conn_gate(&c, 102.9), GATE_CLOSED, "the next refusal pauses it 2 s");
	is_int(conn_gate(&c, 103), GATE_PROBE, "and no longer");
	is_str(c.reason, "409 tank_full", "the reason is kept");
	ok(conn_succeeded(&c) && conn_gate(&c, 103) == GATE_OPEN && c.refusals == 0 && !c.reason[0],
	   "a success resets it");
	ok(!conn_succeeded(&c), "a success on an open connection changes nothing");
	ok(conn_refused(&c, true, "404 unknown_tank", 200, 300) && c.broken,
	   "a vanished destination tank breaks it (reported once)");
	ok(!conn_refused(&c, true, "404 unknown_tank", 201, 300), "... only once");
	is_int(conn_gate(&c, 200 + 299), GATE_CLOSED, "broken: paused for the whole maximum");

	/* The scheduler skips a paused connection and probes one whose pause is over. */
	struct rng r;
	rng_seed(&r, 9);
	struct connection p = test_connection("p", "A", "B", "s1", 100, DIR_RIGHT), *pp = &p;
	struct sched_tank mt[] = {{"A", false, true, 10, 100, 0}, {"B", false, true, 10, 100, 0}};
	struct tbucket global;
	tbucket_init(&global, 1000, 0);
	struct sched_decision plan[1];
	struct sched_counts counts;
	conn_refused(&p, false, "409 tank_full", 10, 300);
	sched_plan(&pp, 1, mt, 2, "s1", &r, &global, 100, 10.5, plan, &counts);
	ok(plan[0].verdict == SV_BACKING_OFF && counts.backing_off == 1,
	   "a paused connection is skipped by the scheduler");
	sched_plan(&pp, 1, mt, 2, "s1", &r, &global, 100, 11.5, plan, &counts);
	is_int(plan[0].verdict, SV_HIT, "once the pause is over a hit probes the destination");
}

/* A hit moves a plant with the plant share of the tank's movable entities, each plant
 * weighing plant_weight against 1 for a fish. */
static void test_plant_share(void)
{
	struct rng r;
	rng_seed(&r, 15);
	struct sched_tank mixed = {"A", false, true, 20, 100, 10};
	int plants = 0, heavy = 0;
	for (int k = 0; k < 3000; k++) {
		plants += sched_pick_plant(&mixed, 1, &r);
		heavy += sched_pick_plant(&mixed, 2, &r);
	}
	ok(plants > 850 && plants < 1150,
	   "20 fish, 10 plants, weight 1: a third move a plant (%d of 3000)", plants);
	ok(heavy > 1350 && heavy < 1650, "weight 2: half of them (%d of 3000)", heavy);
	struct sched_tank only_plants = {"A", false, true, 0, 100, 3};
	ok(sched_pick_plant(&only_plants, 1, &r), "no fish, 3 plants: a plant");
	struct sched_tank only_fish = {"A", false, true, 5, 100, 0};
	struct rng before = r;
	ok(!sched_pick_plant(&only_fish, 1, &r) && memcmp(&before, &r, sizeof r) == 0,
	   "no plants: a fish, and no draw (plant-free worlds roll as before)");
	ok(!sched_pick_plant(&mixed, 0, &r), "weight 0: never a plant");

	struct connection c = test_connection("c", "A", "B", "s2", 100, DIR_RIGHT), *cp = &c;
	struct tbucket global;
	struct sched_decision plan[1];
	struct sched_counts counts;
	tbucket_init(&global, 1000, 0);
	sched_plan(&cp, 1, &only_plants, 1, "s1", &r, &global, 1000, 0, plan, &counts);
	is_int(plan[0].verdict, SV_HIT, "a tank of plants only is not empty");
	struct sched_tank none = {"A", false, true, 0, 100, 0};
	sched_plan(&cp, 1, &none, 1, "s1", &r, &global, 1000, 0, plan, &counts);
	is_int(plan[0].verdict, SV_EMPTY, "no fish and no plants: empty");
}

int main(void)
{
	/* A bucket that never empties makes the draining loops spin: fail in seconds
	 * instead of hanging the suite. */
	alarm(60);
	test_rng();
	test_bucket();
	test_backoff();
	test_strset();
	test_plan();
	test_refusals();
	test_plant_share();
	return tap_done();
}
