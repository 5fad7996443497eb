/* Unit tests for migrated/history: records, filters, stats, the memory bound, the
 * JSON-lines log with rotation, reload, and damaged lines. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "history.h"
#include "jsonv.h"
#include "tap.h"

static char dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static struct transfer_record rec(int i, const char *src, const char *dst, enum transfer_state st)
{
	struct transfer_record r = {.timestamp = 1764000000 + i,
				    .created_at = 1764000000 + i,
				    .state = st,
				    .attempts = 1};
	snprintf(r.transfer_id, sizeof r.transfer_id, "t-%06d", i);
	snprintf(r.entity_type, sizeof r.entity_type, "fish");
	snprintf(r.fish_id, sizeof r.fish_id, "f-%d", i);
	snprintf(r.source_server_id, sizeof r.source_server_id, "s1");
	snprintf(r.source_tank_id, sizeof r.source_tank_id, "%s", src);
	snprintf(r.destination_server_id, sizeof r.destination_server_id, "s2");
	snprintf(r.destination_tank_id, sizeof r.destination_tank_id, "%s", dst);
	snprintf(r.connection_id, sizeof r.connection_id, "%s->%s", src, dst);
	if (st == TS_ABORTED)
		snprintf(r.error, sizeof r.error, "409 tank_full");
	return r;
}

static void test_json(void)
{
	struct transfer_record r = rec(1, "A", "B", TS_COMMITTED), back;
	json_object *o = transfer_record_to_json(&r);
	const char *text = jv_to_string(o);
	ok(strstr(text, "\"entity_old_id\":\"f-1\"") && strstr(text, "\"entity_new_id\":\"f-1\""),
	   "old id == new id");
	ok(strstr(text, "\"success\":true") && strstr(text, "\"state\":\"committed\"") &&
		   strstr(text, "\"error\":null") && strstr(text, "\"timestamp\":\"2025-"),
	   "success, state, null error, ISO timestamp: %s", text);
	struct json_err e;
	ok(transfer_record_from_json(o, &back, &e) == 0, "parses back");
	ok(memcmp(&back, &r, sizeof r) == 0 ||
		   (strcmp(back.transfer_id, r.transfer_id) == 0 && back.state == r.state &&
		    back.timestamp == r.timestamp && strcmp(back.fish_id, r.fish_id) == 0),
	   "same record");
	json_object_put(o);
	const char *bad[] = {
		"{}", "{\"transfer_id\":\"x\"}",
		"{\"transfer_id\":\"x\",\"timestamp\":\"yesterday\",\"entity_type\":\"fish\","
		"\"source_server_id\":\"a\",\"source_tank_id\":\"a\",\"destination_server_id\":"
		"\"b\",\"destination_tank_id\":\"b\",\"state\":\"committed\"}",
		"{\"transfer_id\":\"x\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"entity_type\":"
		"\"fish\",\"source_server_id\":\"a\",\"source_tank_id\":\"a\","
		"\"destination_server_id\":\"b\",\"destination_tank_id\":\"b\",\"state\":\"lost\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_object *b = jv_parse(bad[i], strlen(bad[i]), 8, &e);
		ok(b && transfer_record_from_json(b, &back, &e) < 0, "bad record %zu refused", i);
		json_object_put(b);
	}
}

static void test_memory(void)
{
	struct history *h = history_new(&(struct history_opts){.memory = 100}, NULL, NULL);
	ok(h != NULL, "memory-only history");
	for (int i = 0; i < 250; i++) {
		const char *src = i % 2 ? "A" : "B", *dst = i % 2 ? "B" : "C";
		struct transfer_record r = rec(i, src, dst, i % 5 == 0 ? TS_ABORTED : TS_COMMITTED);
		history_record(h, &r);
	}
	ok(history_count(h) == 100, "memory bounded at 100 (%zu)", history_count(h));
	ok(history_get(h, "t-000249") != NULL, "newest kept");
	ok(history_get(h, "t-000100") == NULL, "oldest evicted");
	const struct transfer_record *out[300];
	size_t n = history_query(h, NULL, false, 10, out);
	is_int(n, 10, "limit respected");
	is_str(out[0]->transfer_id, "t-000249", "newest first");
	is_str(out[1]->transfer_id, "t-000248", "then the next");
	n = history_query(h, "C", false, 300, out);
	ok(n > 0, "filter by tank");
	bool all = true;
	for (size_t i = 0; i < n; i++)
		all = all && (strcmp(out[i]->source_tank_id, "C") == 0 ||
			      strcmp(out[i]->destination_tank_id, "C") == 0);
	ok(all, "tank_id matches the source or the destination");
	n = history_query(h, "A", true, 300, out);
	all = n > 0;
	for (size_t i = 0; i < n; i++)
		all = all && out[i]->state == TS_COMMITTED;
	ok(all, "success_only keeps committed ones");
	history_free(h);

	/* Updates keep a transfer's place and its created_at. */
	h = history_new(&(struct history_opts){.memory = 10}, NULL, NULL);
	struct transfer_record a = rec(1, "A", "B", TS_PENDING), b = rec(2, "A", "B", TS_PENDING);
	history_record(h, &a);
	history_record(h, &b);
	a.state = TS_COMMITTED;
	a.attempts = 3;
	a.timestamp += 100;
	a.created_at += 100;
	history_record(h, &a);
	is_int(history_count(h), 2, "an update is not a new transfer");
	n = history_query(h, NULL, false, 10, out);
	is_str(out[0]->transfer_id, "t-000002", "order is by reservation, not by update");
	is_int(history_get(h, "t-000001")->attempts, 3, "updated in place");
	is_double(history_get(h, "t-000001")->created_at, 1764000001, 1e-6, "created_at kept");

	/* Stats: tank ids compared alone. */
	struct transfer_record x = rec(3, "B", "A", TS_ABORTED), y = rec(4, "A", "B", TS_PENDING);
	history_record(h, &x);
	history_record(h, &y);
	struct tank_transfer_stats st;
	history_tank_stats(h, "A", &st);
	ok(st.out == 3 && st.out_success == 1 && st.out_failed == 0 && st.out_pending == 2,
	   "out counts for A");
	ok(st.in == 1 && st.in_failed == 1 && st.in_success == 0, "in counts for A");
	history_tank_stats(h, "nosuch", &st);
	ok(st.in == 0 && st.out == 0, "an unknown tank has no transfers");
	history_free(h);
}

static size_t lines_in(const char *path)
{
	char *text;
	size_t len, n = 0;
	if (fs_read_file(path, 64 << 20, &text, &len) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

static void test_files(void)
{
	snprintf(dir, sizeof dir, "/tmp/tw-history-XXXXXX");
	ok(mkdtemp(dir) != NULL, "temp dir");
	struct history_opts opts = {.dir = dir, .memory = 1000, .rotate_bytes = 4096, .keep = 3};
	struct history_load_stats ls;
	int err = 0;
	struct history *h = history_new(&opts, &ls, &err);
	ok(h && ls.lines == 0, "fresh log");
	for (int i = 0; i < 200; i++) {
		struct transfer_record r = rec(i, "A", "B", TS_PENDING);
		history_record(h, &r);
		r.state = TS_COMMITTED;
		history_record(h, &r);
	}
	struct history_io_stats io;
	history_io_stats(h, &io);
	is_int(io.lines, 400, "400 lines appended");
	ok(io.rotations > 3, "rotated several times (%llu)", (unsigned long long)io.rotations);
	history_free(h);
	char *log = fs_path_join(dir, "transfers.log");
	char p1[512], p3[512], p4[512];
	snprintf(p1, sizeof p1, "%s.1", log);
	snprintf(p3, sizeof p3, "%s.3", log);
	snprintf(p4, sizeof p4, "%s.4", log);
	struct stat s;
	ok(stat(log, &s) == 0 && s.st_size <= 4096, "current log under the bound");
	ok(stat(p1, &s) == 0 && s.st_size <= 4096 && s.st_size > 2048, "rotated .1 full-ish");
	ok(stat(p3, &s) == 0, ".3 kept");
	ok(stat(p4, &s) < 0 && errno == ENOENT, ".4 never exists: at most keep files");

	/* Reload: the newest transfers come back with their last state. */
	h = history_new(&opts, &ls, &err);
	ok(h && ls.files == 4 && ls.bad_lines == 0, "reloaded four files");
	ok(history_get(h, "t-000199") && history_get(h, "t-000199")->state == TS_COMMITTED,
	   "the newest transfer came back committed");
	ok(history_get(h, "t-000000") == NULL, "the oldest rotated away");
	size_t before = history_count(h);
	history_free(h);

	/* A line cut short by a crash is skipped and reported. */
	FILE *f = fopen(log, "a");
	fputs("{\"transfer_id\":\"t-cut\",\"timest", f);
	fclose(f);
	h = history_new(&opts, &ls, &err);
	ok(h && ls.bad_lines == 1, "one damaged line reported");
	is_int(history_count(h), before, "the rest loaded");
	struct transfer_record r = rec(999, "A", "B", TS_COMMITTED);
	history_record(h, &r);
	history_free(h);
	h = history_new(&opts, &ls, &err);
	ok(history_get(h, "t-000999") != NULL, "appending after a damaged tail still works");
	history_free(h);
	size_t total = lines_in(log) + lines_in(p1);
	ok(total > 0, "lines on disk");

	/* A full disk cuts a line short (a file size limit does the same): the next line
	 * must not run on after the fragment, or both are lost. */
	char cut[512];
	snprintf(cut, sizeof cut, "%s/cut", dir);
	mkdir(cut, 0700);
	struct history_opts cutopts = {.dir = cut, .memory = 1000};
	char *clog = fs_path_join(cut, "transfers.log");
	h = history_new(&cutopts, &ls, &err);
	r = rec(1000, "A", "B", TS_COMMITTED);
	history_record(h, &r);
	struct stat st0;
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_IGN);
	ok(h && stat(clog, &st0) == 0, "the log before the short write");
	lim = old;
	lim.rlim_cur = (rlim_t)st0.st_size + 20;
	setrlimit(RLIMIT_FSIZE, &lim);
	r = rec(1001, "A", "B", TS_COMMITTED);
	history_record(h, &r); /* cut after 20 bytes */
	setrlimit(RLIMIT_FSIZE, &old);
	r = rec(1002, "A", "B", TS_COMMITTED);
	history_record(h, &r);
	struct stat st1;
	ok(stat(clog, &st1) == 0 && st1.st_size > st0.st_size + 20, "the cut line is on disk");
	history_free(h);
	h = history_new(&cutopts, &ls, &err);
	ok(h && history_get(h, "t-001002") != NULL && history_get(h, "t-001001") == NULL,
	   "after a short write the next line loads, only the cut one is lost (%zu bad)",
	   ls.bad_lines);
	history_free(h);
	/* The same when the disk is still full as the log is opened: the fragment cannot
	 * be ended then, and the first append ends it. */
	FILE *frag = fopen(clog, "a");
	fputs("{\"transfer_id\":\"t-0010", frag);
	fclose(frag);
	stat(clog, &st0);
	lim.rlim_cur = (rlim_t)st0.st_size;
	setrlimit(RLIMIT_FSIZE, &lim);
	h = history_new(&cutopts, &ls, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	r = rec(1003, "A", "B", TS_COMMITTED);
	history_record(h, &r);
	history_free(h);
	h = history_new(&cutopts, &ls, &err);
	ok(h && history_get(h, "t-001003") != NULL,
	   "a fragment the full disk kept from ending at open is ended by the next append");
	history_free(h);
	free(clog);

	/* A directory that cannot be used is an error, not a crash. */
	struct history_opts badopts = {.dir = "/nonexistent/dir/x"};
	h = history_new(&badopts, &ls, &err);
	ok(!h && err < 0, "unusable directory reported (%d)", err);
	free(log);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_json();
	test_memory();
	test_files();
	return tap_done();
}
