/* simd's journal, its waiters: journal_when_durable runs at once for what is durable,
 * and otherwise only once the writer made the asked record durable, in number order
 * whatever the order they were asked in; what waits for a record never written waits. */
#include "config.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simd/journal.h"
#include "tap.h"

struct waiter {
	int *order, *n, name;
};

static void note(void *arg)
{
	struct waiter *w = arg;
	w->order[(*w->n)++] = w->name;
}

static json_object *rec(int i)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "op", json_object_new_string("test"));
	json_object_object_add(o, "i", json_object_new_int(i));
	return o;
}

/* Run the loop until the journal's completions for seq arrived. */
static void loop_until_durable(struct event_base *base, struct journal *j, uint64_t seq)
{
	journal_wait_durable(j, seq);
	for (int i = 0; i < 100; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

int main(void)
{
	char dir[4096];
	if (!tap_tmpdir(dir, sizeof dir, "test-simd-journal"))
		return 1;
	struct event_base *base = event_base_new();
	struct journal *j = journal_open(dir, base);
	struct journal_expect x = {0};
	struct json_err e;
	ok(journal_replay(j, &x, NULL, NULL, &e) == 0, "an empty journal opens");
	int order[8], n = 0;
	struct waiter w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (struct waiter){order, &n, i};

	journal_when_durable(j, 0, note, &w[0]);
	ok(n == 1 && order[0] == 0, "nothing written yet: record 0 is durable, run at once");

	/* Hold the writer back: the records queue while the waiters are asked for. */
	journal_lock(j);
	uint64_t s1 = journal_next_seq(j), s2 = journal_next_seq(j);
	journal_unlock(j);
	journal_when_durable(j, s2, note, &w[2]);
	journal_when_durable(j, s1, note, &w[1]);
	journal_when_durable(j, s2 + 1, note, &w[3]); /* never written */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ok(n == 1, "before any record is written, nobody runs (%d)", n);

	journal_append(j, s1, rec(1), NULL, NULL);
	loop_until_durable(base, j, s1);
	ok(n == 2 && order[1] == 1, "record 1 durable: its waiter runs, not record 2's (%d)", n);
	journal_append(j, s2, rec(2), NULL, NULL);
	loop_until_durable(base, j, s2);
	ok(n == 3 && order[2] == 2, "record 2 durable: its waiter runs (%d)", n);
	ok(journal_durable_seq(j) == s2, "the journal says so too");
	journal_when_durable(j, s1, note, &w[4]);
	ok(n == 4 && order[3] == 4, "a waiter for a durable record runs at once");
	ok(n == 4, "the one for a record never written still waits");

	uint64_t s3 = journal_next_seq(j);
	journal_append(j, s3, rec(3), NULL, NULL);
	loop_until_durable(base, j, s3);
	ok(n == 5 && order[4] == 3, "and runs once that record is written");

	journal_close(j);
	event_base_free(base);
	char *cmd;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
	return tap_done();
}
