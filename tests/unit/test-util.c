/* Unit tests for libcommon/util (ids, hosts, timestamps), fsutil (atomic files) and
 * statefile (the background writer). */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "statefile.h"
#include "tap.h"
#include "util.h"

static char tmpdir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static char *path_in_tmp(const char *name)
{
	return fs_path_join(tmpdir, name);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_uuid(void)
{
	char u[UUID_STR_LEN];
	uuid_random_str(u);
	is_int(strlen(u), 36, "uuid_random_str gives 36 characters");
	ok(uuid_str_valid(u), "uuid_random_str output is valid: %s", u);
	ok(u[14] == '4', "version nibble is 4");
	ok(strchr("89ab", u[19]) != NULL, "variant nibble is 8, 9, a or b");
	bool lower = true;
	for (int i = 0; i < 36; i++)
		if (u[i] >= 'A' && u[i] <= 'F')
			lower = false;
	ok(lower, "uuid_random_str is lower case");

	/* 1000 draws: all valid, all distinct. */
	enum { N = 1000 };
	static char all[N][UUID_STR_LEN];
	int invalid = 0, dups = 0;
	for (int i = 0; i < N; i++) {
		uuid_random_str(all[i]);
		if (!uuid_str_valid(all[i]) || all[i][14] != '4')
			invalid++;
	}
	qsort(all, N, UUID_STR_LEN, cmp_uuid);
	for (int i = 1; i < N; i++)
		if (strcmp(all[i - 1], all[i]) == 0)
			dups++;
	is_int(invalid, 0, "1000 random uuids are valid v4");
	is_int(dups, 0, "1000 random uuids are distinct");

	ok(uuid_str_valid("123e4567-e89b-12d3-a456-426614174000"), "canonical lower case valid");
	ok(uuid_str_valid("123E4567-E89B-12D3-A456-426614174000"), "upper case valid");
	ok(!uuid_str_valid(""), "empty invalid");
	ok(!uuid_str_valid(NULL), "NULL invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a456-42661417400"), "35 characters invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a456-4266141740000"), "37 characters invalid");
	ok(!uuid_str_valid("123e4567e89b-12d3-a456-4266141740000"), "missing first hyphen invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a456_426614174000"), "'_' instead of '-' invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a456-42661417400g"), "non-hex 'g' invalid");
	ok(!uuid_str_valid("{23e4567-e89b-12d3-a456-426614174000"), "brace invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a456-42661417400 "), "trailing space invalid");
	ok(!uuid_str_valid("123e4567-e89b-12d3-a4-56426614174000"), "hyphen misplaced invalid");
}

static void test_server_id(void)
{
	char id[80];
	ok(server_id_valid("a"), "one character valid");
	ok(server_id_valid("node-1.example_2"), "'.', '_', '-' inside valid");
	ok(server_id_valid("9lives"), "leading digit valid");
	ok(server_id_valid("a.."), "'..' after the first character is allowed by the pattern");
	memset(id, 'x', 64);
	id[64] = '\0';
	ok(server_id_valid(id), "64 characters valid");
	id[64] = 'x';
	id[65] = '\0';
	ok(!server_id_valid(id), "65 characters invalid");
	ok(!server_id_valid(""), "empty invalid");
	ok(!server_id_valid(NULL), "NULL invalid");
	ok(!server_id_valid(".hidden"), "leading '.' invalid");
	ok(!server_id_valid("-x"), "leading '-' invalid");
	ok(!server_id_valid("_x"), "leading '_' invalid");
	ok(!server_id_valid(".."), "'..' invalid");
	ok(!server_id_valid("../x"), "'../x' invalid");
	ok(!server_id_valid("a/b"), "'/' invalid");
	ok(!server_id_valid("a b"), "space invalid");
	ok(!server_id_valid("a:b"), "':' invalid");
	ok(!server_id_valid("a\nb"), "newline invalid");
	ok(!server_id_valid("caf\xc3\xa9"), "non-ASCII invalid");

	ok(object_id_valid("a->b", 10), "object id with '->' valid");
	ok(object_id_valid("t:1", 10), "object id with ':' valid");
	ok(!object_id_valid("abc", 2), "object id longer than max_len invalid");
	ok(object_id_valid("ab", 2), "object id of max_len valid");
	ok(!object_id_valid(">a", 10), "object id must start alphanumeric");
	ok(!object_id_valid("a/b", 10), "object id with '/' invalid");
	ok(!object_id_valid("", 10), "empty object id invalid");
	/* Epochs and listing ids in page queries: exactly 16 lower-case hex digits. A longer
	 * one taken as valid was never equal to ours, a silent reset instead of a 400. */
	ok(hex16_valid("0123456789abcdef"), "16 lower-case hex digits are an epoch");
	ok(!hex16_valid("0123456789abcdef0"), "17 hex digits are not an epoch");
	ok(!hex16_valid("0123456789abcdef "), "16 hex digits and a space are not an epoch");
	ok(!hex16_valid("0123456789abcdef&x=1"), "16 hex digits and more text are not an epoch");
	ok(!hex16_valid("0123456789abcde"), "15 hex digits are not an epoch");
	ok(!hex16_valid("0123456789ABCDEF"), "upper-case hex is not an epoch");
	ok(!hex16_valid("0123456789abcdeg"), "a non-hex digit is not an epoch");
}

static void test_name_fault(void)
{
	ok(name_fault("Tank 1") == NULL && name_fault(" a ") == NULL, "names with spaces pass");
	is_str(name_fault("   "), "is only spaces", "a name of spaces is refused");
	is_str(name_fault(""), "is only spaces", "an empty name is refused");
	is_str(name_fault("a\xe2\x80\xae"
			  "b"),
	       "has control characters", "bidi controls are refused");
	/* U+00A0, U+3000, U+2003, U+200D: blank however they are mixed. */
	is_str(name_fault("\xc2\xa0 \xe3\x80\x80\xe2\x80\x83\xe2\x80\x8d"), "is only spaces",
	       "a name of no-break, ideographic and typographic spaces is refused");
	ok(name_fault("Tank\xc2\xa0"
		      "1") == NULL,
	   "a no-break space inside a name passes");
	const char *hidden[] = {"Tank\xe2\x80\x8b"
				"1",
				"\xe2\x81\xa0Reef", "Reef\xef\xbb\xbf"};
	for (size_t i = 0; i < 3; i++)
		is_str(name_fault(hidden[i]),
		       "has invisible characters (zero-width space, word joiner or BOM)",
		       "a zero-width space, word joiner or BOM in a name is refused (%zu)", i);
	ok(name_fault("\xf0\x9f\x90\x9f\xe2\x80\x8d\xf0\x9f\x94\xa5") == NULL,
	   "a joiner inside a name (an emoji sequence) passes");
	ok(name_fault("\xc3\xa9t\xc3\xa9 \xe6\xb0\xb4\xe6\x97\x8f") == NULL,
	   "accented and CJK names pass");
}

static void test_host(void)
{
	char h[300];
	ok(!text_has_control("Tank 1") && !text_has_control("Étang \xe2\x80\x94 bleu") &&
		   !text_has_control(""),
	   "names with spaces and non-ASCII letters have no control character");
	ok(text_has_control("a\tb") && text_has_control("a\x7f") && text_has_control("a\xc2\x85") &&
		   text_has_control("\xc2\x9f"),
	   "C0, DEL and C1 (U+0085, U+009F) are control characters");
	ok(!text_has_control("\xc2\xa0") && !text_has_control("\xc2"),
	   "U+00A0 is not, nor a text that ends inside a sequence");
	ok(text_has_control("Tank\xe2\x80\xae"
			    "1") &&
		   text_has_control("\xe2\x80\xaa") &&
		   text_has_control("a\xe2\x81\xa6"
				    "b") &&
		   text_has_control("\xe2\x81\xa9") && text_has_control("\xe2\x80\x8e") &&
		   text_has_control("\xe2\x80\x8f") && text_has_control("\xd8\x9c") &&
		   text_has_control("a\xe2\x80\xa8") && text_has_control("\xe2\x80\xa9"),
	   "bidi controls (RLO, LRE, LRI, PDI, LRM, RLM, ALM) and U+2028/2029 are refused");
	ok(lines_have_control("a\tb") &&
		   lines_have_control("a\xe2\x80\xae"
				      "b") &&
		   !lines_have_control("first line\nsecond line") && !lines_have_control(""),
	   "lines_have_control: the same, newlines taken");
	ok(!text_has_control("\xe2\x80\x8d") && !text_has_control("\xe2\x80\xb0") &&
		   !text_has_control("\xe2\x81\xa5") && !text_has_control("\xe2\x80\xa7") &&
		   !text_has_control("\xe2\x80") && !text_has_control("\xe2") &&
		   !text_has_control("\xd8\x9b"),
	   "their neighbours (ZWJ, U+2030, U+2065, U+2027, U+061B) and cut sequences are not");
	ok(host_valid("127.0.0.1"), "IPv4 valid");
	ok(host_valid("0.0.0.0"), "IPv4 any valid");
	ok(host_valid("::1"), "IPv6 loopback valid");
	ok(host_valid("2001:db8::8a2e:370:7334"), "IPv6 valid");
	ok(host_valid("::ffff:192.0.2.1"), "IPv4-mapped IPv6 valid");
	ok(host_valid("localhost"), "single label valid");
	ok(host_valid("node-1.example.com"), "dotted name valid");
	ok(host_valid("a"), "one character name valid");
	ok(host_valid("1a.b2"), "labels with digits valid");
	ok(!host_valid(""), "empty invalid");
	ok(!host_valid(NULL), "NULL invalid");
	ok(!host_valid("a-"), "trailing hyphen invalid");
	ok(!host_valid("a-.b"), "label ending in a hyphen invalid");
	ok(!host_valid("-a"), "leading hyphen invalid");
	ok(host_valid("a-b"), "inner hyphen valid");
	ok(!host_valid("a..b"), "empty label invalid");
	ok(!host_valid(".a"), "leading dot invalid");
	ok(!host_valid("a."), "trailing dot (FQDN form) invalid");
	ok(!host_valid("a_b"), "underscore invalid");
	ok(!host_valid("a b"), "space invalid");
	ok(!host_valid("a\tb"), "tab invalid");
	ok(!host_valid("host:80"), "host:port invalid");
	ok(!host_valid("[::1]"), "bracketed IPv6 invalid");
	ok(!host_valid("fe80::1%eth0"), "IPv6 with zone invalid");
	ok(!host_valid("a/b"), "'/' invalid");
	ok(!host_valid("caf\xc3\xa9"), "non-ASCII invalid");

	memset(h, 'a', 63);
	h[63] = '\0';
	ok(host_valid(h), "63-character label valid");
	memset(h, 'a', 64);
	h[64] = '\0';
	ok(!host_valid(h), "64-character label invalid");
	strcpy(h, "x.");
	memset(h + 2, 'b', 64);
	h[66] = '\0';
	ok(!host_valid(h), "64-character second label invalid");

	/* 253 characters total is the limit: four labels of 63 with dots = 255. */
	size_t k = 0;
	for (int l = 0; l < 4; l++) {
		if (l)
			h[k++] = '.';
		memset(h + k, 'c', 63);
		k += 63;
	}
	h[k] = '\0'; /* 255 */
	h[253] = '\0';
	ok(h[252] != '.' && host_valid(h), "253 characters valid");
	h[253] = 'c';
	h[254] = '\0';
	is_int(strlen(h), 254, "254-character name built");
	ok(!host_valid(h), "254 characters invalid");
}

static void test_iso8601(void)
{
	char out[32];
	double t = -1;
	iso8601_utc(0, out);
	is_str(out, "1970-01-01T00:00:00.000Z", "epoch formats");
	iso8601_utc(1700000000.5, out);
	is_str(out, "2023-11-14T22:13:20.500Z", "half second formats");
	iso8601_utc(1700000000.999999, out);
	is_str(out, "2023-11-14T22:13:21.000Z",
	       "a fraction within 0.5 ms of the next second rounds up");
	iso8601_utc(1700000000.9994, out);
	is_str(out, "2023-11-14T22:13:20.999Z", "and one farther away rounds down");
	iso8601_utc(951782400.25, out); /* leap day 2000 */
	is_str(out, "2000-02-29T00:00:00.250Z", "leap day formats");
	iso8601_utc(-0.25, out); /* once written as "...:59.-250Z" */
	is_str(out, "1969-12-31T23:59:59.750Z", "before 1970: the second below and its fraction");
	double w = now_wall();
	ok(w > 1.7e9 && w <= WALL_MAX, "now_wall is the clock, within [0, WALL_MAX]");

	ok(iso8601_parse("2023-11-14T22:13:20.500Z", &t) == 0 && t == 1700000000.5,
	   "parse with millis");
	ok(iso8601_parse("2023-11-14T22:13:20Z", &t) == 0 && t == 1700000000,
	   "parse without fraction");
	ok(iso8601_parse("2023-11-14T22:13:20", &t) == 0 && t == 1700000000, "parse without Z");
	ok(iso8601_parse("2023-11-14T22:13:20+00:00", &t) == 0 && t == 1700000000,
	   "parse with +00:00");
	ok(iso8601_parse("2023-11-14T22:13:20.123456Z", &t) == 0 &&
		   fabs(t - 1700000000.123456) < 1e-6,
	   "parse microseconds");
	ok(iso8601_parse("1970-01-01T00:00:00Z", &t) == 0 && t == 0, "parse the epoch");

	/* Round trips at millisecond values exact in binary. */
	static const double exact[] = {0,	    1.5, 86399.25, 1700000000.125, 1700000000.875,
				       4102444799.5 /* 2099-12-31T23:59:59.5 */};
	for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
		double back = -1;
		iso8601_utc(exact[i], out);
		ok(iso8601_parse(out, &back) == 0 && back == exact[i], "round trip %.3f via %s",
		   exact[i], out);
	}
	/* Text -> double -> text for every millisecond value in one second. */
	int text_mismatch = 0;
	for (int ms = 0; ms < 1000; ms++) {
		char in[32], again[32];
		double v;
		snprintf(in, sizeof in, "2024-02-29T12:00:00.%03dZ", ms);
		if (iso8601_parse(in, &v) < 0) {
			text_mismatch++;
			continue;
		}
		iso8601_utc(v, again);
		if (strcmp(in, again) != 0)
			text_mismatch++;
	}
	(void)text_mismatch;
	/* Formatting rounds to the millisecond instead of truncating. */
	is_int(text_mismatch, 0, "text round trip keeps every millisecond value");
	{
		double v = 0;
		iso8601_parse("2023-11-14T22:13:20.123Z", &v);
		iso8601_utc(v, out);
		ok(strncmp(out, "2023-11-14T22:13:20.12", 22) == 0,
		   "text round trip keeps the value to within a millisecond (%s)", out);
	}

	static const char *const bad[] = {
		"",
		"2023",
		"2023-11-14",
		"2023-11-14 22:13:20Z",
		"2023-11-14T22:13Z",
		"2023-13-01T00:00:00Z",
		"2023-00-01T00:00:00Z",
		"2023-01-00T00:00:00Z",
		"2023-01-32T00:00:00Z",
		"2023-01-01T24:00:00Z",
		"2023-01-01T00:60:00Z",
		"2023-01-01T00:00:61Z",
		"1969-12-31T23:59:59Z",
		"2023-01-01T00:00:00.Z",
		"2023-01-01T00:00:00.5z",
		"2023-01-01T00:00:00+01:00",
		"2023-01-01T00:00:00Zjunk",
		"2023-01-01T00:00:00 ",
		"yyyy-01-01T00:00:00Z",
		"2023-01-01T00:00:00.5.5Z",
		"9999-12-31T23:59:59.9995Z", /* written to the millisecond: year 10000 */
		/* Signs, spaces and short fields that sscanf's %d would take. */
		"2023-01-01T10:-5:+3Z",
		"2023-01-01T 1:00:00Z",
		"+023-01-01T00:00:00Z",
		"2023-1-01T00:00:00Z",
		"2023-01-01T00:00:0Z",
		"2023-01-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 42;
		ok(iso8601_parse(bad[i], &t) == -EINVAL && t == 42, "iso8601_parse rejects '%s'",
		   bad[i]);
	}
	/* Dates that do not exist are refused, not normalized by timegm. */
	ok(iso8601_parse("2023-02-31T00:00:00Z", &t) == -EINVAL, "February 31 rejected");
	t = 42;
	ok(iso8601_parse(NULL, &t) == -EINVAL && t == 42, "iso8601_parse rejects NULL");
}

static void test_fsutil(void)
{
	char *p = path_in_tmp("state.json");
	char *tmp = path_in_tmp("state.json.tmp");
	const char data[] = "{\"version\":1}\n";
	is_int(fs_write_atomic(p, data, sizeof data - 1, 0600), 0, "fs_write_atomic");
	ok(!exists(tmp), "no .tmp file left behind");
	struct stat st;
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600 applied");

	char *text = NULL;
	size_t len = 0;
	is_int(fs_read_file(p, 1024, &text, &len), 0, "fs_read_file");
	is_int(len, sizeof data - 1, "length matches");
	ok(text && memcmp(text, data, len) == 0 && text[len] == '\0',
	   "content matches and is NUL-terminated");
	free(text);

	/* Replace: the new content wins, still no temp file. */
	const char data2[] = "second";
	is_int(fs_write_atomic(p, data2, 6, 0600), 0, "fs_write_atomic over an existing file");
	text = NULL;
	is_int(fs_read_file(p, 1024, &text, NULL), 0, "read again (ret_len NULL is allowed)");
	is_str(text, "second", "replaced content");
	free(text);
	ok(!exists(tmp), "no .tmp file after replacing");

	/* Binary content with NULs. */
	const char bin[] = {'a', '\0', 'b', '\xff', '\0'};
	is_int(fs_write_atomic(p, bin, sizeof bin, 0600), 0, "write binary");
	text = NULL;
	is_int(fs_read_file(p, 1024, &text, &len), 0, "read binary");
	ok(len == sizeof bin && memcmp(text, bin, len) == 0, "binary content survives");
	free(text);

	/* Empty file. */
	is_int(fs_write_atomic(p, "", 0, 0600), 0, "write empty");
	text = NULL;
	is_int(fs_read_file(p, 0, &text, &len), 0, "read empty with max 0");
	ok(len == 0 && text && text[0] == '\0', "empty file reads as empty string");
	free(text);

	/* Size limit: exactly max is fine, one byte over is -EFBIG. */
	char big[100];
	memset(big, 'z', sizeof big);
	is_int(fs_write_atomic(p, big, sizeof big, 0600), 0, "write 100 bytes");
	text = NULL;
	is_int(fs_read_file(p, 100, &text, &len), 0, "read with max = size");
	is_int(len, 100, "all 100 bytes");
	free(text);
	text = (char *)"untouched";
	is_int(fs_read_file(p, 99, &text, &len), -EFBIG, "read with max = size - 1 is -EFBIG");
	is_str(text, "untouched", "-EFBIG leaves *ret untouched");

	/* Files whose size stat() does not know (procfs) are bounded too. */
	text = NULL;
	ok(fs_read_file("/proc/self/status", 1 << 20, &text, &len) == 0 && len > 0 &&
		   strlen(text) == len,
	   "procfs file read fully (%zu bytes)", len);
	free(text);
	text = NULL;
	is_int(fs_read_file("/proc/self/status", 10, &text, &len), -EFBIG,
	       "procfs file larger than max is -EFBIG");
	free(text);

	/* Missing and non-regular files. */
	char *missing = path_in_tmp("missing");
	is_int(fs_read_file(missing, 10, &text, &len), -ENOENT, "missing file is -ENOENT");
	is_int(fs_read_file(tmpdir, 10, &text, &len), -EINVAL, "directory is -EINVAL");
	char *nodir = path_in_tmp("nodir/x");
	char *nodirtmp = path_in_tmp("nodir/x.tmp");
	is_int(fs_write_atomic(nodir, "x", 1, 0600), -ENOENT, "write into a missing dir is -ENOENT");
	ok(!exists(nodirtmp), "failed write leaves no temp file");

	/* mkdir -p. */
	char *nested = path_in_tmp("a/b/c/d");
	is_int(fs_mkdir_p(nested, 0755), 0, "fs_mkdir_p nested");
	ok(stat(nested, &st) == 0 && S_ISDIR(st.st_mode), "nested directory exists");
	is_int(fs_mkdir_p(nested, 0755), 0, "fs_mkdir_p on an existing directory");
	char *slash = path_in_tmp("e/f/");
	is_int(fs_mkdir_p(slash, 0755), 0, "fs_mkdir_p with a trailing slash");
	ok(stat(slash, &st) == 0 && S_ISDIR(st.st_mode), "trailing-slash directory exists");
	char *file_parent = path_in_tmp("state.json/sub");
	is_int(fs_mkdir_p(file_parent, 0755), -ENOTDIR, "a file as a parent is -ENOTDIR");
	/* Like mkdir -p, an existing non-directory is an error. */
	ok(fs_mkdir_p(p, 0755) < 0, "fs_mkdir_p on an existing regular file fails");
	char longpath[5000];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	is_int(fs_mkdir_p(longpath, 0755), -ENAMETOOLONG, "over-long path is -ENAMETOOLONG");

	char *joined = fs_path_join("/a/b", "c.json");
	is_str(joined, "/a/b/c.json", "fs_path_join");
	free(joined);
	is_int(fs_fsync_dir(tmpdir), 0, "fs_fsync_dir");
	ok(fs_fsync_dir(missing) == -ENOENT, "fs_fsync_dir on a missing dir");

	free(p);
	free(tmp);
	free(missing);
	free(nodir);
	free(nodirtmp);
	free(nested);
	free(slash);
	free(file_parent);
}

static void test_statefile(void)
{
	char *p = path_in_tmp("writer.json");
	char *tmp = path_in_tmp("writer.json.tmp");
	struct state_writer *w = state_writer_new(p);
	ok(w != NULL, "state_writer_new");
	is_int(state_writer_writes(w), 0, "no writes yet");
	state_writer_flush(w); /* nothing submitted: returns at once */
	ok(!exists(p), "nothing written before a submit");

	enum { N = 50 };
	for (int i = 1; i <= N; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "{\"seq\":%d}", i);
		state_writer_submit(w, strdup(buf), (size_t)n);
	}
	state_writer_flush(w);
	char *text = NULL;
	size_t len = 0;
	is_int(fs_read_file(p, 1024, &text, &len), 0, "file exists after flush");
	is_str(text, "{\"seq\":50}", "file holds the last submission");
	free(text);
	uint64_t writes = state_writer_writes(w);
	ok(writes >= 1 && writes <= N, "writes counted (%llu of %d submissions, coalesced)",
	   (unsigned long long)writes, N);
	ok(!exists(tmp), "no temp file left");

	/* After a flush, the next submission is written by free (which flushes). */
	state_writer_submit(w, strdup("final"), 5);
	w = state_writer_free(w);
	ok(w == NULL, "state_writer_free returns NULL");
	text = NULL;
	is_int(fs_read_file(p, 1024, &text, &len), 0, "file readable after free");
	is_str(text, "final", "free flushed the last submission");
	free(text);
	ok(state_writer_free(NULL) == NULL, "state_writer_free(NULL)");

	/* A writer that never writes. */
	char *p2 = path_in_tmp("idle.json");
	w = state_writer_new(p2);
	state_writer_free(w);
	ok(!exists(p2), "an idle writer creates no file");
	free(p);
	free(p2);
	free(tmp);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test-util-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_uuid();
	test_server_id();
	test_name_fault();
	test_host();
	test_iso8601();
	test_fsutil();
	test_statefile();
	rm_rf(tmpdir);
	return tap_done();
}
