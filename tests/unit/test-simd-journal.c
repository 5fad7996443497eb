/* simd's journal, its waiters: journal_when_durable runs at once for what is durable,
 * and otherwise only once the writer made the asked record durable, in number order
 * whatever the order they were asked in; what waits for a record never written waits.
 * Its segments (jseg.h): a header and whole chunks of room ending in padding, grown as
 * records need; a segment cut short is refused, a torn write's remains are put back to
 * padding, and the records read are the records written. */
#include "config.h"

#include <event2/event.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simd/journal.h"
#include "fsutil.h"
#include "simd/jseg.h"
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

static int count_rec(void *arg, uint64_t seq, json_object *r, struct json_err *e)
{
	(*(int *)arg)++;
	return 0;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

/* Replay dir: the records read (-1 when refused, e's message then). */
static int replay_count(const char *dir, struct json_err *e, struct journal **keep)
{
	struct journal *j = journal_open(dir, NULL);
	struct journal_expect x = {0};
	int n = 0;
	int r = journal_replay(j, &x, count_rec, &n, e);
	if (r == 0 && keep)
		*keep = j;
	else
		journal_close(j);
	return r < 0 ? -1 : n;
}

static void put_at(const char *path, long at, const char *bytes)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, bytes, strlen(bytes), at) < 0)
		perror(path);
	close(fd);
}

static void test_segments(const char *dir)
{
	char seg[4200], copy[8600];
	snprintf(seg, sizeof seg, "%s/00000000000000000001.log", dir);
	long chunk = (long)JSEG_CHUNK;
	struct json_err e;
	ok(file_size(seg) == chunk, "a new segment is one chunk (%ld)", file_size(seg));
	struct journal *j = NULL;
	is_int(replay_count(dir, &e, &j), 3, "its three records are read back");
	/* Enough records to need two more chunks. */
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	uint64_t last = 0;
	for (int i = 0; i < 200; i++) {
		journal_lock(j);
		last = journal_next_seq(j);
		journal_unlock(j);
		json_object *o = rec(i);
		json_object_object_add(o, "pad", json_object_new_string(big));
		journal_append(j, last, o, NULL, NULL);
	}
	journal_wait_durable(j, last);
	journal_close(j);
	long size = file_size(seg);
	ok(size > 2 * chunk && size % chunk == 0, "grown in whole chunks (%ld)", size);
	is_int(replay_count(dir, &e, NULL), 203, "all 203 records read back");
	snprintf(copy, sizeof copy, "cp '%s' '%s.keep'", seg, seg);
	if (system(copy) != 0)
		return;

	/* Cut short, anywhere: refused, where it was dropped as torn or not seen at all. */
	long cuts[] = {size - 1, size - chunk, size - chunk - 1000, chunk};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		if (truncate(seg, cuts[i]) < 0)
			perror(seg);
		e.msg[0] = '\0';
		int n = replay_count(dir, &e, NULL);
		ok(n == -1 && strstr(e.msg, "cut short") && strstr(e.msg, seg),
		   "cut to %ld bytes: refused, naming the file (%s)", cuts[i], e.msg);
		snprintf(copy, sizeof copy, "cp '%s.keep' '%s'", seg, seg);
		if (system(copy) != 0)
			return;
	}

	/* A torn write: the start of a line with no end in the padding, then a torn batch's
	 * block beyond a hole. Both dropped; the records before them kept; writing goes on. */
	char *text = NULL;
	FILE *f = fopen(seg, "rb");
	text = malloc((size_t)size);
	if (!f || fread(text, 1, (size_t)size, f) != (size_t)size)
		return;
	fclose(f);
	long end = (long)(strchr(text, '\0') - text);
	free(text);
	put_at(seg, end, "1234abcd 77 {\"op\":\"te");
	put_at(seg, end + 5000, "a torn batch's block");
	is_int(replay_count(dir, &e, &j), 203, "a torn write after the records: the 203 read");
	f = fopen(seg, "rb");
	text = malloc((size_t)size);
	bool zeroed = f && fread(text, 1, (size_t)size, f) == (size_t)size;
	for (long i = end; zeroed && i < size; i++)
		zeroed = text[i] == '\0';
	free(text);
	if (f)
		fclose(f);
	ok(zeroed && file_size(seg) == size, "and put back to padding, the size kept");
	journal_lock(j);
	last = journal_next_seq(j);
	journal_unlock(j);
	journal_append(j, last, rec(9), NULL, NULL);
	journal_wait_durable(j, last);
	journal_close(j);
	is_int(replay_count(dir, &e, NULL), 204, "the next record goes where the torn one was");

	/* The newline after the last record flipped: whole, then a byte no torn write
	 * leaves. It was dropped as torn, and an acknowledged record with it. */
	f = fopen(seg, "rb");
	text = malloc((size_t)size);
	if (!f || fread(text, 1, (size_t)size, f) != (size_t)size)
		return;
	fclose(f);
	long nl = (long)(strchr(text + 1, '\0') - text) - 1; /* the header is not zero */
	bool was_nl = text[nl] == '\n';
	free(text);
	put_at(seg, nl, "\x0b");
	e.msg[0] = '\0';
	int n = replay_count(dir, &e, NULL);
	ok(was_nl && n == -1 && strstr(e.msg, "not its newline") && strstr(e.msg, seg),
	   "the last record's newline flipped: refused, naming the file (%s)", e.msg);
	put_at(seg, nl, "\n");
	is_int(replay_count(dir, &e, NULL), 204, "put back: the 204 read");
	snprintf(copy, sizeof copy, "rm -f '%s.keep'", seg);
	if (system(copy) != 0)
		return;
}

/* One record, durable before the next is written: a batch of its own. */
static void append_durable(struct journal *j, int i)
{
	journal_lock(j);
	uint64_t seq = journal_next_seq(j);
	journal_unlock(j);
	journal_append(j, seq, rec(i), NULL, NULL);
	journal_wait_durable(j, seq);
}

/* A hole of zeros over acknowledged records, with later batches after it: damage, told
 * from a torn write by the marker the next batch starts with. It was taken for a torn
 * write, and every later record dropped with a notice (an audit: 174 acknowledged records
 * gone, fish lost and duplicated across servers). A hole inside the last batch, with no
 * marker after it, is still a torn write. */
static void test_hole(const char *dir)
{
	char seg[4400];
	snprintf(seg, sizeof seg, "%s/00000000000000000001.log", dir);
	/* A segment a full disk stopped before its rename: removed at the next open. */
	char tmp[4400];
	snprintf(tmp, sizeof tmp, "%s/00000000000000000009.log.tmp", dir);
	if (mkdir(dir, 0750) < 0)
		perror(dir);
	FILE *f = fopen(tmp, "w");
	if (f)
		fclose(f);
	struct journal *j = journal_open(dir, NULL);
	ok(access(tmp, F_OK) < 0, "an unfinished segment (.log.tmp) is removed at open");
	struct journal_expect x = {0};
	struct json_err e;
	ok(journal_replay(j, &x, NULL, NULL, &e) == 0, "a new journal for holes");
	for (int i = 0; i < 6; i++)
		append_durable(j, i);
	journal_close(j);
	char *text = NULL;
	size_t len;
	if (fs_read_file(seg, 1 << 22, &text, &len) < 0)
		return;
	/* The third record's line: after the header, the first record, then a marker and a
	 * record per batch. */
	const char *third = strstr(text, "\"i\":2");
	const char *from = third;
	while (from > text && from[-1] != '\n')
		from--;
	const char *to = strchr(third, '\n') + 1;
	char zeros[4096] = {0};
	int fd = open(seg, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, zeros, (size_t)(to - from), from - text) == to - from,
	   "the third record zeroed (%ld bytes at %ld)", (long)(to - from), (long)(from - text));
	close(fd);
	int n = replay_count(dir, &e, NULL);
	ok(n == -1 && strstr(e.msg, "damaged after it was written") && strstr(e.msg, seg),
	   "a hole over a record that later batches say was durable: refused (%s)", e.msg);
	/* The same hole with nothing after it: the last batch torn by a crash. */
	fd = open(seg, O_WRONLY);
	size_t rest = len - (size_t)(from - text);
	char *none = calloc(1, rest);
	ok(fd >= 0 && pwrite(fd, none, rest, from - text) == (ssize_t)rest,
	   "everything after it zeroed");
	close(fd);
	free(none);
	put_at(seg, (long)(from - text) + 300, "a torn batch's block");
	is_int(replay_count(dir, &e, NULL), 2,
	       "a hole with no marker after it: torn, the two before kept");
	free(text);
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
	test_segments(dir);
	char hole[4200];
	snprintf(hole, sizeof hole, "%s/hole", dir);
	test_hole(hole);
	char *cmd;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
	return tap_done();
}
