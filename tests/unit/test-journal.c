/* Unit tests for discoveryd/journal: appends come back on load in order, a journal
 * that grows past its floor is compacted by the writer thread to one line per live
 * server (removals dropped, the last record of each kept), every line is checksummed,
 * a torn last line is ignored and cut, and damage elsewhere (a flipped bit too) is
 * reported with its line. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discoveryd/journal.h"
#include "fsutil.h"
#include "lines.h"
#include "tap.h"
#include "util.h"
#include "xalloc.h"

static const struct registry_timing timing = {1, 3, 1e6};
static char dir[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static off_t size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Appends the changes of r after *since as one batch with a checkpoint. */
static void batch(struct journal *j, struct registry *r, uint64_t *since, double now)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (const struct server_entry *e = registry_changed_first(r, *since); e;
	     e = registry_changed_next(e))
		registry_entry_append_record(r, e, now, &buf, &len, &cap);
	*since = registry_revision(r);
	char cp[128];
	snprintf(cp, sizeof cp,
		 "{\"checkpoint\":%.3f,\"epoch\":\"00000000000000ab\",\"rev\":%" PRIu64 "}\n", now,
		 *since);
	registry_append(&buf, &len, &cap, cp);
	journal_append(j, buf, len);
}

static struct server_info info(int i, int tanks)
{
	struct server_info in;
	memset(&in, 0, sizeof in);
	snprintf(in.server_id, sizeof in.server_id, "srv-%05d", i);
	snprintf(in.host, sizeof in.host, "10.0.%d.%d", i / 256, i % 256);
	snprintf(in.hostname, sizeof in.hostname,
		 "a host name long enough to make records of "
		 "a realistic size, number %d",
		 i);
	in.port = 8001;
	in.tank_count = tanks;
	return in;
}

/* A server's entry record with "removed": null in it, as a hand-edited journal may hold:
 * the loader reads null as no removal, and the compaction must fold it the same way
 * (it once dropped the line, and the server with it). */
static void append_null_removed(struct journal *j)
{
	struct registry *odd = registry_new("local", &timing);
	struct server_info in = info(9999, 1);
	snprintf(in.server_id, sizeof in.server_id, "odd-null");
	registry_register(odd, &in, 1000, true, NULL);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	registry_entry_append_record(odd, registry_get(odd, "odd-null"), 1000, &buf, &len, &cap);
	char *line = NULL;
	if (buf[0] != '{' || asprintf(&line, "{\"removed\":null,%s", buf + 1) < 0)
		abort();
	journal_append(j, line, strlen(line)); /* the journal takes the line */
	free(buf);
	registry_free(odd);
}

static void count_changes_of_1(const struct server_entry *e, enum server_status from,
			       enum server_status to, bool evicted, void *arg)
{
	if (strcmp(e->info.server_id, "srv-00001") == 0)
		(*(int *)arg)++;
}

/* A quick restart: heartbeats are not journaled, so a server whose last record says
 * online is taken as heard at the last checkpoint (journal.c's alive_at). Dated by its
 * record's heartbeat instead, it would come back offline and flap to online at its next
 * heartbeat, a false offline/online pair for every peer on each restart. */
static void test_restart_checkpoint(void)
{
	char *path = fs_path_join(dir, "restart.journal");
	double now = now_steady_wall();
	struct registry *r = registry_new("local", &timing);
	struct server_info up = info(1, 1), down = info(2, 1);
	registry_register(r, &up, now - 60, true, NULL);
	registry_register(r, &down, now - 120, true, NULL);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	/* up recorded while online (age 0), down once already offline (age 20). */
	registry_entry_append_record(r, registry_get(r, "srv-00001"), now - 60, &buf, &len, &cap);
	registry_entry_append_record(r, registry_get(r, "srv-00002"), now - 100, &buf, &len, &cap);
	char cp[128];
	snprintf(cp, sizeof cp,
		 "{\"checkpoint\":%.3f,\"epoch\":\"00000000000000ab\",\"rev\":%" PRIu64 "}\n",
		 now - 1, registry_revision(r));
	registry_append(&buf, &len, &cap, cp);
	FILE *f = fopen(path, "w");
	fwrite(buf, 1, len, f);
	fclose(f);
	free(buf);
	registry_free(r);

	/* The restarted registry reads with a 30 s timeout, so the check has half a minute
	 * of slack on a loaded machine; a server dated by its record (60 s ago) is offline
	 * under it all the same. */
	static const struct registry_timing roomy = {5, 30, 1e6};
	struct registry *back = registry_new("local", &roomy);
	uint64_t epoch = 0, rev = 0;
	bool clean = false;
	char err[300] = "";
	is_int(journal_load(path, back, &epoch, &rev, &clean, err, sizeof err), 0,
	       "a journal with a checkpoint after the records loads (%s)", err);
	const struct server_entry *e = registry_get(back, "srv-00001");
	ok(e && registry_status(back, e, now_steady_wall()) == SERVER_ONLINE,
	   "a server last recorded online, heard 60 s before a checkpoint 1 s ago, is online "
	   "after the restart");
	int flaps = 0;
	registry_sweep(back, now_steady_wall(), count_changes_of_1, &flaps);
	is_int(flaps, 0, "the first sweep after the restart reports no change for it");
	e = registry_get(back, "srv-00002");
	ok(e && registry_status(back, e, now_steady_wall()) == SERVER_OFFLINE,
	   "a server last recorded offline stays offline: the checkpoint does not revive it");
	registry_free(back);
	free(path);
}

int main(void)
{
	if (!tap_tmpdir(dir, sizeof dir, "test-journal"))
		return 1;
	char *path = fs_path_join(dir, "registry.journal");

	/* 2,000 servers written eight times over (about 5 MiB), then 500 removed. */
	struct registry *r = registry_new("local", &timing);
	struct journal *j = journal_new(path);
	uint64_t since = 0;
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 2000; i++) {
			struct server_info in = info(i, round);
			registry_register(r, &in, 1000 + round, true, NULL);
		}
		batch(j, r, &since, 1000 + round);
		if (round == 0)
			append_null_removed(j);
	}
	for (int i = 0; i < 500; i++) {
		char id[32];
		snprintf(id, sizeof id, "srv-%05d", i);
		registry_unregister(r, id);
	}
	batch(j, r, &since, 1010);
	journal_flush(j);
	ok(journal_compactions(j) >= 1, "the journal was compacted (%" PRIu64 " times)",
	   journal_compactions(j));
	off_t before_free = size_of(path);
	j = journal_free(j);
	ok(before_free > 0 && before_free < (4 << 20), "and stays under its floor (%lld bytes)",
	   (long long)before_free);

	/* The restarted registry reads with a 30 s timeout, so the check has half a minute
	 * of slack on a loaded machine; a server dated by its record (60 s ago) is offline
	 * under it all the same. */
	static const struct registry_timing roomy = {5, 30, 1e6};
	struct registry *back = registry_new("local", &roomy);
	uint64_t epoch = 0, rev = 0;
	bool clean = false;
	char err[300] = "";
	is_int(journal_load(path, back, &epoch, &rev, &clean, err, sizeof err), 0, "loads (%s)",
	       err);
	is_int(registry_count(back), 1501, "1,500 live servers, and the one with \"removed\": null");
	ok(registry_get(back, "odd-null") != NULL,
	   "a record with \"removed\": null is an entry to compaction too, as to the loader");
	ok(epoch == 0xab && rev == registry_revision(r),
	   "epoch and revision of the last checkpoint");
	const struct server_entry *e = registry_get(back, "srv-01999");
	ok(e && e->info.tank_count == 7 && strcmp(e->info.hostname, info(1999, 7).hostname) == 0,
	   "each server as last written");
	ok(!registry_get(back, "srv-00000"), "removed servers stay removed after compaction");
	/* The records alone may not carry the newest revision: when the compaction ran
	 * after the last batch, the removals (the newest changes) are folded away. The
	 * checkpoint carries it, and discoveryd restores it from there, as here. */
	ok(registry_revision(back) <= rev, "no record is newer than the checkpoint");
	registry_set_epoch(back, epoch, rev);
	ok(registry_revision(back) == registry_revision(r), "the revision comes back");
	registry_free(back);

	/* A torn last line: ignored on load, cut by the next writer. */
	FILE *f = fopen(path, "a");
	fputs("{\"server_id\":\"torn\",\"host\":\"1.2.3.4\",\"po", f);
	fclose(f);
	back = registry_new("local", &timing);
	is_int(journal_load(path, back, &epoch, &rev, &clean, err, sizeof err), 0,
	       "a torn last line is ignored (%s)", err);
	is_int(registry_count(back), 1501, "and nothing else is lost");
	registry_free(back);
	off_t torn = size_of(path);
	int rr;
	j = journal_new(path);
	ok(size_of(path) < torn, "the writer cuts the torn line before appending");
	j = journal_free(j);

	/* Every line is written checksummed, and a flipped bit is damage, not another port. */
	char *text;
	size_t len, lines = 0, framed = 0;
	ok(fs_read_file(path, (size_t)1 << 30, &text, &len) == 0, "the journal reads back");
	for (char *p = text, *nl; (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
		const char *json;
		size_t jl;
		char why[100];
		lines++;
		framed += line_check(p, (size_t)(nl - p), &json, &jl, why, sizeof why) == LINE_OK;
	}
	ok(lines > 1500 && framed == lines, "every one of its %zu lines is checksummed (%zu)",
	   lines, framed);
	char *port = strstr(text, "\"port\":");
	ok(port != NULL, "a record names a port");
	port[strlen("\"port\":")] ^= 1; /* 8 -> 9: still JSON, and a valid port */
	char *flipped = xasprintf("%s.flipped", path);
	fs_write_atomic_or_die(flipped, text, len);
	back = registry_new("local", &timing);
	rr = journal_load(flipped, back, &epoch, &rev, &clean, err, sizeof err);
	ok(rr == -EINVAL && strstr(err, "line ") && strstr(err, "checksum"),
	   "a flipped bit in a record is refused, naming the line: %s", err);
	registry_free(back);
	unlink(flipped);
	free(flipped);
	free(text);

	/* Damage inside the file. */
	f = fopen(path, "a");
	fputs("not json\n{\"removed\":\"srv-01999\",\"rev\":1}\n", f);
	fclose(f);
	back = registry_new("local", &timing);
	rr = journal_load(path, back, &epoch, &rev, &clean, err, sizeof err);
	ok(rr == -EINVAL && strstr(err, "line "), "a damaged line is reported with its number: %s",
	   err);
	registry_free(back);
	is_int(journal_load("/nonexistent/x", r, &epoch, &rev, &clean, err, sizeof err), -ENOENT,
	       "no journal: -ENOENT");

	registry_free(r);
	free(path);
	test_restart_checkpoint();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
