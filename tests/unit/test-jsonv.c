/* Unit tests for libcommon/jsonv: strict parsing and the field validators. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "tap.h"

/* Parse a literal (its length taken from sizeof, so embedded NULs count). */
#define PARSE(lit, depth, e) jv_parse((lit), sizeof(lit) - 1, (depth), (e))

static json_object *obj(const char *text)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object(text, strlen(text), 16, &e);
	if (!o) {
		printf("# fixture does not parse: %s: %s\n", text, e.msg);
		abort();
	}
	return o;
}

static bool msg_has(const struct json_err *e, const char *needle)
{
	bool found = strstr(e->msg, needle) != NULL;
	if (!found)
		printf("#   message '%s' lacks '%s'\n", e->msg, needle);
	return found;
}

/* Does jv_parse accept text? Frees the result. */
static bool parses(const char *text, size_t len, int depth)
{
	struct json_err e = {""};
	json_object *o = jv_parse(text, len, depth, &e);
	bool r = o != NULL;
	json_object_put(o);
	return r;
}

static void test_parse(void)
{
	struct json_err e = {""};
	json_object *o;

	/* Empty input. */
	o = jv_parse("", 0, 16, &e);
	ok(o == NULL, "empty input is rejected");
	ok(msg_has(&e, "empty"), "empty input: message says so");
	o = jv_parse("{}", 0, 16, &e);
	ok(o == NULL, "len 0 is empty even when buf holds text");

	/* Trailing garbage. */
	e.msg[0] = '\0';
	o = PARSE("{}x", 16, &e);
	ok(o == NULL && e.msg[0], "trailing garbage '{}x' is rejected with a message");
	ok(!parses("{}}", 3, 16), "trailing '}' is rejected");
	ok(!parses("[1] [2]", 7, 16), "two documents are rejected");
	ok(!parses("\"a\" \"b\"", 7, 16), "two strings are rejected");
	ok(!parses("1 2", 3, 16), "two numbers are rejected");
	/* Only the first len bytes are looked at: what follows is not "trailing". */
	ok(parses("{}xyz", 2, 16), "bytes after len are ignored");
	/* Whitespace around the document is fine (curl bodies end in a newline). */
	ok(parses("{}\n", 3, 16), "a trailing newline is accepted");
	ok(parses(" \t{} ", 5, 16), "surrounding whitespace is accepted");

	/* Truncated documents. */
	ok(!parses("{\"a\":", 5, 16), "truncated object is rejected");
	ok(!parses("[1,", 3, 16), "truncated array is rejected");
	ok(!parses("\"abc", 4, 16), "unterminated string is rejected");
	ok(!parses("tru", 3, 16), "truncated literal is rejected");

	/* Strictness. */
	ok(!parses("[1,]", 4, 16), "trailing comma in an array is rejected");
	ok(!parses("{\"a\":1,}", 8, 16), "trailing comma in an object is rejected");
	ok(!parses("/*c*/1", 6, 16), "comments are rejected");
	ok(!parses("01", 2, 16), "leading zeros are rejected");
	ok(!parses("[.5]", 4, 16), "'.5' is rejected");
	ok(!parses("[+1]", 4, 16), "'+1' is rejected");
	ok(!parses("[0x10]", 6, 16), "hex numbers are rejected");
	ok(!parses("'a'", 3, 16), "a single-quoted string value is rejected");
	ok(!parses("{\"a\":'b'}", 9, 16), "a single-quoted member value is rejected");
	/* json-c's strict mode takes these; jsonv refuses them before it. */
	ok(!parses("{'a':1}", 7, 16), "single-quoted keys are rejected");
	ok(!parses("[NaN]", 5, 16), "NaN is rejected");
	ok(!parses("[nan]", 5, 16), "nan is rejected");
	ok(!parses("{\"x\":Infinity}", 14, 16), "Infinity is rejected");
	ok(!parses("[-Infinity]", 11, 16), "-Infinity is rejected");
	ok(!parses("[True]", 6, 16), "True is rejected");
	ok(!parses("[1.]", 4, 16), "'1.' is rejected");
	ok(!parses("[1.e5]", 6, 16), "'1.e5' is rejected");
	ok(parses("[1e5,1E-5,2.5e+3,-0.25,true,false,null]", 39, 16),
	   "exponents, fractions and the three words are accepted");
	ok(parses("{\"a\":\"NaN Infinity 'x' 1. \\\" 'y'\"}", 34, 16),
	   "words, quotes and points inside strings are accepted");
	/* A key twice in one object: json-c keeps the last without a word. */
#define DUP(lit) parses((lit), sizeof(lit) - 1, 16)
	ok(!DUP("{\"n\":\"x\",\"n\":5}") && !DUP("[{\"a\":1},{\"b\":{\"c\":1,\"c\":2}}]") &&
		   !DUP("{\"a\":{},\"a\":{}}"),
	   "a key twice in one object is rejected, at any depth");
	ok(DUP("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}],\"c\":\"x:y:\\\":\"}"),
	   "the same key in different objects, and colons inside strings, are accepted");
#undef DUP

	/* Depth: max_depth counts value levels, a scalar leaf included, so max_depth 3
	 * allows [[1]] and [[[]]] but rejects [[[1]]]. */
	ok(parses("[[[]]]", 6, 3), "depth 3: [[[]]] is accepted");
	ok(parses("[[1]]", 5, 3), "depth 3: [[1]] is accepted");
	ok(parses("{\"a\":{\"b\":1}}", 13, 3), "depth 3: {a:{b:1}} is accepted");
	e.msg[0] = '\0';
	o = PARSE("[[[1]]]", 3, &e);
	ok(o == NULL, "depth 3: [[[1]]] is rejected");
	ok(msg_has(&e, "deep"), "depth overflow: message says nesting too deep");
	ok(!parses("{\"a\":{\"b\":{\"c\":1}}}", 19, 3), "depth 3: three nested objects rejected");
	ok(parses("1", 1, 1), "depth 1: a scalar is accepted");
	ok(!parses("[1]", 3, 1), "depth 1: an array is rejected");
	{
		/* A deep document against the usual limit of 16, and far beyond it. */
		char deep[4001];
		memset(deep, '[', 2000);
		memset(deep + 2000, ']', 2000);
		deep[4000] = '\0';
		ok(!parses(deep, 4000, 16), "2000 nested arrays are rejected at depth 16");
		/* Without a scalar leaf, max_depth empty arrays fit. */
		ok(parses(deep + 1984, 32, 16), "16 nested empty arrays are accepted at depth 16");
		ok(!parses(deep + 1983, 34, 16), "17 nested empty arrays are rejected at depth 16");
		ok(!parses("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", 33, 16),
		   "16 nested arrays around a number are rejected at depth 16");
	}

	/* NUL bytes anywhere. */
	e.msg[0] = '\0';
	o = PARSE("{\"a\":\"x\0y\"}", 16, &e);
	ok(o == NULL, "a raw NUL inside a string is rejected");
	ok(msg_has(&e, "NUL"), "NUL: message says so");
	ok(!parses("{}\0", 3, 16), "a NUL after the document is rejected");
	ok(!parses("\0{}", 3, 16), "a NUL before the document is rejected");

	/* UTF-8. */
	e.msg[0] = '\0';
	o = PARSE("\"\xff\"", 16, &e);
	ok(o == NULL, "byte 0xff is rejected");
	ok(msg_has(&e, "utf-8") || msg_has(&e, "UTF-8"), "invalid UTF-8: message says so");
	ok(!parses("{\"a\":\"\x80\"}", 9, 16), "a lone continuation byte is rejected");
	ok(!parses("\"\xc3\"", 3, 16), "a truncated two-byte sequence is rejected");
	ok(!parses("{\"\xfe\":1}", 7, 16), "invalid UTF-8 in a key is rejected");
	ok(parses("\"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x9f\"", 12, 16),
	   "valid 2-, 3- and 4-byte UTF-8 is accepted");
	/* A \u escape of half a surrogate pair: json-c would store U+FFFD in its place, so
	 * the client's string would be kept changed. Both ends of each half are refused,
	 * and a whole pair is still text. */
	ok(!parses("\"\\udc00\"", 8, 16), "a lone \\udc00 (first low half) is rejected");
	ok(!parses("\"\\udfff\"", 8, 16), "a lone \\udfff (last low half) is rejected");
	ok(!parses("\"\\ud800\"", 8, 16), "a lone \\ud800 (first high half) is rejected");
	ok(!parses("\"\\udbff\"", 8, 16), "a lone \\udbff (last high half) is rejected");
	ok(!parses("\"\\ud800\\ud7ff\"", 14, 16), "a high half before a non-low escape is rejected");
	ok(parses("\"\\ud800\\udc00\"", 14, 16), "a whole surrogate pair is accepted");
	/* BUG (json-c's JSON_TOKENER_VALIDATE_UTF8 checks only the byte structure): an
	 * overlong encoding and an encoded surrogate are accepted although jsonv.h says
	 * non-UTF-8 input is rejected:
	 * ok(!parses("\"\xc0\xaf\"", 4, 16), "overlong '/' is rejected");
	 * ok(!parses("\"\xed\xa0\x80\"", 5, 16), "encoded surrogate U+D800 is rejected");
	 */

	/* Scalars at the top. */
	o = PARSE("1", 16, &e);
	ok(o && json_object_is_type(o, json_type_int) && json_object_get_int(o) == 1,
	   "scalar 1 is accepted as an int");
	json_object_put(o);
	o = PARSE("-2.5", 16, &e);
	ok(o && json_object_is_type(o, json_type_double) && json_object_get_double(o) == -2.5,
	   "scalar -2.5 is accepted as a double");
	json_object_put(o);
	o = PARSE("\"s\"", 16, &e);
	ok(o && json_object_is_type(o, json_type_string) &&
		   strcmp(json_object_get_string(o), "s") == 0,
	   "scalar string is accepted");
	json_object_put(o);
	o = PARSE("true", 16, &e);
	ok(o && json_object_is_type(o, json_type_boolean) && json_object_get_boolean(o),
	   "scalar true is accepted");
	json_object_put(o);
	o = PARSE("[]", 16, &e);
	ok(o && json_object_is_type(o, json_type_array), "an empty array is accepted");
	json_object_put(o);
	/* json-c represents null as NULL, so jv_parse cannot return it: it is refused. */
	o = PARSE("null", 16, &e);
	ok(o == NULL, "top-level null yields NULL (refused)");

	/* Parsing does not need a NUL terminator: a buffer without one. */
	{
		char *buf = malloc(7);
		memcpy(buf, "{\"a\":1}", 7);
		o = jv_parse(buf, 7, 16, &e);
		ok(o != NULL, "a buffer without a NUL terminator parses");
		json_object_put(o);
		memcpy(buf, "[12345]", 7);
		o = jv_parse(buf, 6, 16, &e); /* "[12345" */
		ok(o == NULL, "len stops before the closing bracket: rejected");
		free(buf);
	}
	/* A top-level number at the very end of the buffer completes. */
	{
		char *buf = malloc(3);
		memcpy(buf, "123", 3);
		o = jv_parse(buf, 3, 16, &e);
		ok(o && json_object_get_int(o) == 123, "a trailing top-level number completes");
		json_object_put(o);
		free(buf);
	}

	/* A NULL error struct is allowed. */
	ok(jv_parse("x", 1, 16, NULL) == NULL, "invalid input with e == NULL does not crash");
}

static void test_parse_object(void)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object("{\"a\":1}", 7, 16, &e);
	ok(o && json_object_is_type(o, json_type_object), "jv_parse_object accepts an object");
	json_object_put(o);
	static const char *const not_objects[] = {"[]", "1", "\"s\"", "true", "[{}]"};
	for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
		e.msg[0] = '\0';
		o = jv_parse_object(not_objects[i], strlen(not_objects[i]), 16, &e);
		ok(o == NULL && strstr(e.msg, "object"), "jv_parse_object rejects %s: %s",
		   not_objects[i], e.msg);
	}
	o = jv_parse_object("{", 1, 16, &e);
	ok(o == NULL && strstr(e.msg, "invalid JSON"), "jv_parse_object passes parse errors on");
}

static void test_string(void)
{
	json_object *o = obj(
		"{\"s\":\"hello\",\"n\":1,\"nul\":null,\"empty\":\"\",\"z\":\"a\\u0000b\","
		"\"uni\":\"\\u00e9\"}");
	struct json_err e = {""};
	const char *s = "preset";
	is_int(jv_string(o, "s", true, 1, 10, &s, &e), 1, "jv_string present: 1");
	is_str(s, "hello", "jv_string value");

	s = "preset";
	is_int(jv_string(o, "missing", false, 1, 10, &s, &e), 0, "jv_string absent optional: 0");
	is_str(s, "preset", "jv_string absent: *ret untouched");
	is_int(jv_string(o, "nul", false, 1, 10, &s, &e), 0, "jv_string explicit null = absent");
	is_str(s, "preset", "jv_string null: *ret untouched");

	e.msg[0] = '\0';
	is_int(jv_string(o, "missing", true, 1, 10, &s, &e), -EINVAL, "jv_string absent required");
	ok(msg_has(&e, "'missing'") && msg_has(&e, "missing field"), "message names the field");
	e.msg[0] = '\0';
	is_int(jv_string(o, "nul", true, 1, 10, &s, &e), -EINVAL, "jv_string null required");
	ok(msg_has(&e, "'nul'"), "null required: message names the field");

	e.msg[0] = '\0';
	is_int(jv_string(o, "n", true, 0, 10, &s, &e), -EINVAL, "jv_string on a number");
	ok(msg_has(&e, "'n'") && msg_has(&e, "string"), "wrong type: message names field and type");

	e.msg[0] = '\0';
	is_int(jv_string(o, "s", true, 6, 10, &s, &e), -EINVAL, "jv_string shorter than min");
	ok(msg_has(&e, "'s'") && msg_has(&e, "6 to 10"), "too short: message gives the range");
	is_int(jv_string(o, "s", true, 1, 4, &s, &e), -EINVAL, "jv_string longer than max");
	is_int(jv_string(o, "s", true, 5, 5, &s, &e), 1, "jv_string exactly min = max = len");
	is_int(jv_string(o, "empty", true, 0, 5, &s, &e), 1, "empty string with min 0");
	is_str(s, "", "empty string value");
	is_int(jv_string(o, "empty", true, 1, 5, &s, &e), -EINVAL, "empty string with min 1");
	/* "uni" is one character in two bytes: jv_text counts characters, jv_string bytes. */
	is_int(jv_text(o, "uni", true, 1, 1, &s, &e), 1,
	       "jv_text: one character of two bytes fits 1");
	e.msg[0] = '\0';
	is_int(jv_string(o, "uni", true, 1, 1, &s, &e), -EINVAL, "jv_string: two bytes do not");
	ok(msg_has(&e, "1 to 1 bytes"), "and its message says bytes");
	e.msg[0] = '\0';
	is_int(jv_text(o, "s", true, 1, 4, &s, &e), -EINVAL, "jv_text longer than max");
	ok(msg_has(&e, "1 to 4 characters"), "and its message says characters");

	e.msg[0] = '\0';
	is_int(jv_string(o, "z", false, 0, 10, &s, &e), -EINVAL, "escaped NUL in a string");
	ok(msg_has(&e, "'z'") && msg_has(&e, "NUL"), "escaped NUL: message names the field");

	/* Length is in bytes: "é" is two. */
	is_int(jv_string(o, "uni", true, 2, 2, &s, &e), 1, "length counts UTF-8 bytes");

	/* Not an object around the key. */
	json_object *arr = json_object_new_array();
	e.msg[0] = '\0';
	is_int(jv_string(arr, "k", false, 0, 5, &s, &e), -EINVAL, "jv_string on an array");
	ok(msg_has(&e, "'k'"), "non-object: message names the key");
	json_object_put(arr);
	is_int(jv_string(NULL, "k", false, 0, 5, &s, &e), -EINVAL, "jv_string on NULL");
	is_int(jv_string(o, "n", true, 0, 5, &s, NULL), -EINVAL, "e == NULL is allowed");
	json_object_put(o);
}

static void test_int(void)
{
	json_object *o = obj("{\"i\":42,\"neg\":-7,\"d\":1.5,\"d0\":2.0,\"s\":\"42\",\"b\":true,"
			     "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
			     "\"over\":9223372036854775808,\"huge\":99999999999999999999,"
			     "\"big\":2147483648,\"e\":1e3,\"nul\":null,\"arr\":[1]}");
	struct json_err e = {""};
	int64_t x = -1;
	is_int(jv_int64(o, "i", true, 0, 100, &x, &e), 1, "jv_int64 present: 1");
	is_int(x, 42, "jv_int64 value");
	is_int(jv_int64(o, "neg", true, -10, 10, &x, &e), 1, "jv_int64 negative");
	is_int(x, -7, "jv_int64 negative value");
	x = 5;
	is_int(jv_int64(o, "missing", false, 0, 1, &x, &e), 0, "jv_int64 absent optional: 0");
	is_int(x, 5, "jv_int64 absent: *ret untouched");
	is_int(jv_int64(o, "nul", false, 0, 1, &x, &e), 0, "jv_int64 null optional: 0");
	e.msg[0] = '\0';
	is_int(jv_int64(o, "missing", true, 0, 1, &x, &e), -EINVAL, "jv_int64 absent required");
	ok(msg_has(&e, "'missing'"), "message names the field");

	static const char *const wrong[] = {"d", "d0", "s", "b", "e", "arr"};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		e.msg[0] = '\0';
		x = 5;
		int r = jv_int64(o, wrong[i], true, INT64_MIN, INT64_MAX, &x, &e);
		char want[16];
		snprintf(want, sizeof want, "'%s'", wrong[i]);
		ok(r == -EINVAL && x == 5 && msg_has(&e, want) && msg_has(&e, "integer"),
		   "jv_int64 rejects non-integer field %s", wrong[i]);
	}

	/* Range, with bounds inclusive. */
	e.msg[0] = '\0';
	is_int(jv_int64(o, "i", true, 0, 41, &x, &e), -EINVAL, "jv_int64 above max");
	ok(msg_has(&e, "'i'") && msg_has(&e, "between 0 and 41"), "range message gives bounds");
	is_int(jv_int64(o, "i", true, 43, 100, &x, &e), -EINVAL, "jv_int64 below min");
	is_int(jv_int64(o, "i", true, 42, 42, &x, &e), 1, "jv_int64 bounds are inclusive");

	/* Extremes: json-c gives the same INT64_MAX/INT64_MIN for the bounds and for any
	 * number beyond them, so the bounds themselves are refused too. */
	x = 5;
	is_int(jv_int64(o, "max", true, INT64_MIN, INT64_MAX, &x, &e), -EINVAL, "INT64_MAX refused");
	ok(x == 5, "INT64_MAX refused without touching *ret");
	is_int(jv_int64(o, "min", true, INT64_MIN, INT64_MAX, &x, &e), -EINVAL, "INT64_MIN refused");
	ok(x == 5, "INT64_MIN refused without touching *ret");
	e.msg[0] = '\0';
	x = 5;
	is_int(jv_int64(o, "over", true, INT64_MIN, INT64_MAX, &x, &e), -EINVAL,
	       "INT64_MAX + 1 is an error, not saturated");
	ok(x == 5 && msg_has(&e, "'over'") &&
		   msg_has(&e, "between -9223372036854775807 and 9223372036854775806"),
	   "INT64_MAX + 1: *ret untouched, the message names the field and the range taken");
	e.msg[0] = '\0';
	x = 5;
	is_int(jv_int64(o, "huge", true, INT64_MIN, INT64_MAX, &x, &e), -EINVAL,
	       "99999999999999999999 is an error, not saturated");
	ok(x == 5 && msg_has(&e, "'huge'"), "huge: *ret untouched, message names the field");
	{
		/* Negative overflow: json-c saturates it to INT64_MIN. */
		json_object *n = obj("{\"nhuge\":-99999999999999999999}");
		x = 5;
		is_int(jv_int64(n, "nhuge", true, -1000, 1000, &x, &e), -EINVAL,
		       "-99999999999999999999 with a narrow range is an error");
		/* json-c saturates silently, so the extremes count as out of range. */
		is_int(jv_int64(n, "nhuge", true, INT64_MIN, INT64_MAX, &x, &e), -EINVAL,
		       "-99999999999999999999 is an error, not saturated to INT64_MIN");
		json_object_put(n);
	}

	/* jv_uint64: the whole unsigned range but its saturated top. */
	{
		json_object *u = obj("{\"top\":18446744073709551614,\"sat\":18446744073709551615,"
				     "\"beyond\":99999999999999999999,\"neg\":-1,\"mid\":"
				     "9223372036854775808,\"d\":1.5}");
		uint64_t v = 5;
		is_int(jv_uint64(u, "top", true, UINT64_MAX, &v, &e), 1, "jv_uint64 2^64 - 2");
		ok(v == UINT64_MAX - 1, "jv_uint64 2^64 - 2: value");
		is_int(jv_uint64(u, "mid", true, UINT64_MAX, &v, &e), 1, "jv_uint64 2^63");
		ok(v == 9223372036854775808ULL, "jv_uint64 2^63: value");
		v = 5;
		e.msg[0] = '\0';
		is_int(jv_uint64(u, "sat", true, UINT64_MAX, &v, &e), -EINVAL,
		       "jv_uint64 2^64 - 1 refused (json-c's saturation)");
		ok(v == 5 && msg_has(&e, "between 0 and 18446744073709551614"),
		   "the message names the range taken");
		is_int(jv_uint64(u, "beyond", true, UINT64_MAX, &v, &e), -EINVAL,
		       "jv_uint64 beyond 64 bits refused");
		is_int(jv_uint64(u, "neg", true, UINT64_MAX, &v, &e), -EINVAL,
		       "jv_uint64 -1 refused");
		is_int(jv_uint64(u, "mid", true, 100, &v, &e), -EINVAL, "jv_uint64 above max");
		is_int(jv_uint64(u, "d", true, 100, &v, &e), -EINVAL, "jv_uint64 1.5 refused");
		ok(v == 5, "refusals leave *ret untouched");
		json_object_put(u);
	}

	/* jv_int narrows through jv_int64 with int bounds. */
	int y = -1;
	is_int(jv_int(o, "i", true, 0, 100, &y, &e), 1, "jv_int present");
	is_int(y, 42, "jv_int value");
	y = 9;
	is_int(jv_int(o, "missing", false, 0, 100, &y, &e), 0, "jv_int absent optional");
	is_int(y, 9, "jv_int absent: *ret untouched");
	e.msg[0] = '\0';
	is_int(jv_int(o, "big", true, INT32_MIN, INT32_MAX, &y, &e), -EINVAL,
	       "jv_int rejects 2^31 instead of truncating");
	ok(y == 9 && msg_has(&e, "'big'"), "jv_int 2^31: *ret untouched, field named");
	is_int(jv_int(o, "huge", true, INT32_MIN, INT32_MAX, &y, &e), -EINVAL,
	       "jv_int rejects a huge number");
	is_int(jv_int(o, "d", true, 0, 10, &y, &e), -EINVAL, "jv_int rejects 1.5");
	is_int(jv_int(o, "s", true, 0, 100, &y, &e), -EINVAL, "jv_int rejects \"42\"");
	json_object_put(o);
}

static void test_double(void)
{
	json_object *o = obj(
		"{\"d\":1.5,\"i\":3,\"neg\":-0.25,\"exp\":1e3,\"s\":\"1.5\",\"b\":false,"
		"\"a\":[1],\"o\":{},\"inf\":1e999,\"ninf\":-1e999,\"nul\":null,"
		"\"tiny\":4.9e-324}");
	struct json_err e = {""};
	double x = -1;
	is_int(jv_double(o, "d", true, 0, 10, &x, &e), 1, "jv_double on a double");
	is_double(x, 1.5, 0, "jv_double value");
	is_int(jv_double(o, "i", true, 0, 10, &x, &e), 1, "jv_double accepts an integer");
	is_double(x, 3, 0, "jv_double integer value");
	is_int(jv_double(o, "neg", true, -1, 0, &x, &e), 1, "jv_double negative");
	is_double(x, -0.25, 0, "jv_double negative value");
	is_int(jv_double(o, "exp", true, 0, 1000, &x, &e), 1, "jv_double 1e3 within inclusive max");
	is_double(x, 1000, 0, "jv_double 1e3 value");
	is_int(jv_double(o, "tiny", true, 0, 1, &x, &e), 1, "jv_double denormal");
	x = 7;
	is_int(jv_double(o, "missing", false, 0, 1, &x, &e), 0, "jv_double absent optional");
	is_int(jv_double(o, "nul", false, 0, 1, &x, &e), 0, "jv_double null optional");
	is_double(x, 7, 0, "jv_double absent: *ret untouched");
	e.msg[0] = '\0';
	is_int(jv_double(o, "missing", true, 0, 1, &x, &e), -EINVAL, "jv_double absent required");
	ok(msg_has(&e, "'missing'"), "message names the field");

	static const char *const wrong[] = {"s", "b", "a", "o"};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		e.msg[0] = '\0';
		int r = jv_double(o, wrong[i], true, -1e300, 1e300, &x, &e);
		char want[16];
		snprintf(want, sizeof want, "'%s'", wrong[i]);
		ok(r == -EINVAL && msg_has(&e, want) && msg_has(&e, "number"),
		   "jv_double rejects non-number field %s", wrong[i]);
	}
	is_double(x, 7, 0, "rejections leave *ret untouched");

	e.msg[0] = '\0';
	is_int(jv_double(o, "inf", true, -1e308, 1e308, &x, &e), -EINVAL, "1e999 (inf) rejected");
	ok(msg_has(&e, "'inf'") && msg_has(&e, "finite"), "inf: message says finite");
	is_int(jv_double(o, "ninf", true, -INFINITY, INFINITY, &x, &e), -EINVAL,
	       "-1e999 rejected even with infinite bounds");
	e.msg[0] = '\0';
	is_int(jv_double(o, "d", true, 2, 10, &x, &e), -EINVAL, "jv_double below min");
	ok(msg_has(&e, "'d'") && msg_has(&e, "between 2 and 10"), "range message");
	is_int(jv_double(o, "d", true, 0, 1.4, &x, &e), -EINVAL, "jv_double above max");
	is_double(x, 7, 0, "out of range leaves *ret untouched");
	{
		/* NaN cannot be written in strict JSON, but a built object can hold it. */
		json_object *n = json_object_new_object();
		json_object_object_add(n, "nan", json_object_new_double(NAN));
		is_int(jv_double(n, "nan", true, -INFINITY, INFINITY, &x, &e), -EINVAL,
		       "NaN rejected");
		json_object_put(n);
	}
	json_object_put(o);
}

static void test_bool_object_array(void)
{
	json_object *o = obj("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"o\":{\"x\":1},"
			     "\"a\":[1,2,3],\"nul\":null}");
	struct json_err e = {""};
	bool b = false;
	is_int(jv_bool(o, "t", true, &b, &e), 1, "jv_bool true");
	ok(b == true, "jv_bool value true");
	is_int(jv_bool(o, "f", true, &b, &e), 1, "jv_bool false");
	ok(b == false, "jv_bool value false");
	b = true;
	is_int(jv_bool(o, "missing", false, &b, &e), 0, "jv_bool absent optional");
	ok(b == true, "jv_bool absent: *ret untouched");
	is_int(jv_bool(o, "missing", true, &b, &e), -EINVAL, "jv_bool absent required");
	e.msg[0] = '\0';
	is_int(jv_bool(o, "one", true, &b, &e), -EINVAL, "jv_bool rejects 1");
	ok(msg_has(&e, "'one'") && msg_has(&e, "true or false"), "jv_bool message");
	is_int(jv_bool(o, "s", true, &b, &e), -EINVAL, "jv_bool rejects \"true\"");

	json_object *v = NULL;
	is_int(jv_object(o, "o", true, &v, &e), 1, "jv_object present");
	ok(v && json_object_is_type(v, json_type_object), "jv_object returns the object");
	v = NULL;
	is_int(jv_object(o, "missing", false, &v, &e), 0, "jv_object absent optional");
	ok(v == NULL, "jv_object absent: *ret untouched");
	is_int(jv_object(o, "missing", true, &v, &e), -EINVAL, "jv_object absent required");
	e.msg[0] = '\0';
	is_int(jv_object(o, "a", true, &v, &e), -EINVAL, "jv_object rejects an array");
	ok(msg_has(&e, "'a'") && msg_has(&e, "object"), "jv_object message");

	is_int(jv_array(o, "a", true, 3, &v, &e), 1, "jv_array with max_len = length");
	ok(v && json_object_array_length(v) == 3, "jv_array returns the array");
	e.msg[0] = '\0';
	is_int(jv_array(o, "a", true, 2, &v, &e), -EINVAL, "jv_array longer than max_len");
	ok(msg_has(&e, "'a'") && msg_has(&e, "more than 2"), "jv_array length message");
	is_int(jv_array(o, "missing", false, 2, &v, &e), 0, "jv_array absent optional");
	is_int(jv_array(o, "nul", true, 2, &v, &e), -EINVAL, "jv_array null required");
	e.msg[0] = '\0';
	is_int(jv_array(o, "o", true, 2, &v, &e), -EINVAL, "jv_array rejects an object");
	ok(msg_has(&e, "'o'") && msg_has(&e, "array"), "jv_array type message");
	json_object_put(o);
}

static void test_u64hex(void)
{
	static const uint64_t values[] = {0,
					  1,
					  0xf,
					  0x0123456789abcdefULL,
					  0xfedcba9876543210ULL,
					  0x8000000000000000ULL,
					  UINT64_MAX};
	struct json_err e = {""};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		json_object *o = json_object_new_object();
		json_object *h = jv_new_u64hex(values[i]);
		const char *text = json_object_get_string(h);
		ok(strlen(text) == 16, "jv_new_u64hex gives 16 digits: %s", text);
		json_object_object_add(o, "h", h);
		/* Through text and back, as state files do. */
		char *serialized = strdup(jv_to_string(o));
		json_object_put(o);
		o = obj(serialized);
		uint64_t x = 42;
		int r = jv_u64hex(o, "h", true, &x, &e);
		ok(r == 1 && x == values[i], "u64hex round trip of %016llx via %s",
		   (unsigned long long)values[i], serialized);
		free(serialized);
		json_object_put(o);
	}
	{
		json_object *h = jv_new_u64hex(0xabcULL);
		is_str(json_object_get_string(h), "0000000000000abc",
		       "jv_new_u64hex is lower case, zero padded");
		json_object_put(h);
	}

	json_object *o = obj("{\"up\":\"ABCDEF\",\"short\":\"a\",\"empty\":\"\",\"long\":"
			     "\"00000000000000001\",\"x\":\"0x10\",\"neg\":\"-1\",\"sp\":\" 1\","
			     "\"g\":\"12g4\",\"num\":255}");
	uint64_t x = 42;
	is_int(jv_u64hex(o, "up", true, &x, &e), 1, "upper case hex accepted");
	ok(x == 0xabcdef, "upper case value");
	is_int(jv_u64hex(o, "short", true, &x, &e), 1, "one digit accepted");
	ok(x == 0xa, "one digit value");
	x = 42;
	is_int(jv_u64hex(o, "missing", false, &x, &e), 0, "absent optional: 0");
	ok(x == 42, "absent: *ret untouched");
	is_int(jv_u64hex(o, "missing", true, &x, &e), -EINVAL, "absent required");
	static const char *const bad[] = {"empty", "long", "x", "neg", "sp", "g", "num"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.msg[0] = '\0';
		char want[16];
		snprintf(want, sizeof want, "'%s'", bad[i]);
		int r = jv_u64hex(o, bad[i], true, &x, &e);
		ok(r == -EINVAL && x == 42 && msg_has(&e, want), "u64hex rejects field %s", bad[i]);
	}
	json_object_put(o);
}

static void test_seconds(void)
{
	static const struct {
		double in;
		const char *text;
		double value;
	} cases[] = {{3.337860107421875e-06, "0.000", 0},
		     {0.0169043679998, "0.017", 0.017},
		     {1234.5678, "1234.568", 1234.568},
		     {0, "0.000", 0},
		     {NAN, "0.000", 0},
		     {INFINITY, "0.000", 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "s", jv_new_seconds(cases[i].in));
		char want[64];
		snprintf(want, sizeof want, "{\"s\":%s}", cases[i].text);
		is_str(jv_to_string(o), want, "jv_new_seconds(%g) is written to the millisecond",
		       cases[i].in);
		json_object *v;
		ok(json_object_object_get_ex(o, "s", &v) &&
			   json_object_get_double(v) == cases[i].value,
		   "and holds the rounded value %s", cases[i].text);
		json_object_put(o);
	}
}

/* A figure rounded for people: the text has the asked decimals, never json-c's 17
 * digits of binary noise, and the value is what that text reads back as. */
static void test_decimal(void)
{
	static const struct {
		double in;
		int places;
		const char *text;
	} cases[] = {{0.04, 2, "0.04"},
		     {0.1 + 0.2, 2, "0.30"},
		     {6344.4700000000003, 2, "6344.47"},
		     {29.96, 1, "30.0"},
		     {-0.0004, 3, "0.000"},
		     {-1e-300, 2, "0.00"},
		     {-2.5, 1, "-2.5"},
		     {NAN, 2, "0.00"},
		     {-INFINITY, 1, "0.0"},
		     {1e300, 0, NULL},
		     {7, 40, "7.00000000000000000000"},
		     {7, -3, "7"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *o = jv_new_decimal(cases[i].in, cases[i].places);
		const char *text = json_object_to_json_string(o);
		if (cases[i].text)
			is_str(text, cases[i].text, "jv_new_decimal(%g, %d)", cases[i].in,
			       cases[i].places);
		else
			ok(strlen(text) == 301 && text[0] == '1',
			   "jv_new_decimal(1e300, 0) is "
			   "written whole (%zu characters)",
			   strlen(text));
		ok(json_object_get_double(o) == strtod(text, NULL),
		   "and holds the value its text reads back as (%s)",
		   cases[i].text ? text : "1e300");
		json_object_put(o);
	}
}

/* The lenient readers: a string, or NULL for anything else, a JSON null included
 * (json-c reads it as a NULL object, which json_object_get_string passes on). */
static void test_lenient_str(void)
{
	json_object *o = json_tokener_parse(
		"{\"s\":\"x\",\"n\":null,\"i\":7,\"a\":[\"y\"],\"o\":{},\"e\":\"\"}");
	is_str(jv_member_str(o, "s"), "x", "jv_member_str of a string");
	is_str(jv_member_str(o, "e"), "", "of an empty string");
	ok(!jv_member_str(o, "n"), "NULL for a JSON null");
	ok(!jv_member_str(o, "i") && !jv_member_str(o, "a") && !jv_member_str(o, "o"),
	   "NULL for a number, an array, an object");
	ok(!jv_member_str(o, "missing"), "NULL for a missing member");
	json_object *a;
	ok(json_object_object_get_ex(o, "a", &a) && !jv_member_str(a, "s") &&
		   !jv_member_str(NULL, "s"),
	   "NULL when the container is no object, or none");
	is_str(jv_str(json_object_array_get_idx(a, 0)), "y", "jv_str of a string element");
	ok(!jv_str(NULL) && !jv_str(json_object_array_get_idx(a, 5)), "NULL for none");
	json_object_put(o);
}

static void test_to_string_and_fail(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string("http://hub:8000/api/servers"));
	json_object_object_add(o, "n", json_object_new_int(1));
	json_object_object_add(o, "q", json_object_new_string("a\"b\\c\n"));
	const char *s = jv_to_string(o);
	is_str(s, "{\"url\":\"http://hub:8000/api/servers\",\"n\":1,\"q\":\"a\\\"b\\\\c\\n\"}",
	       "jv_to_string: compact, '/' not escaped, quotes and controls escaped");
	ok(strstr(s, "\\/") == NULL, "no escaped slash");
	json_object_put(o);

	/* Doubles survive the text form exactly. */
	o = json_object_new_object();
	json_object_object_add(o, "d", json_object_new_double(1700000000.123));
	char *text = strdup(jv_to_string(o));
	json_object_put(o);
	o = obj(text);
	double d = 0;
	struct json_err e = {""};
	ok(jv_double(o, "d", true, 0, 1e11, &d, &e) == 1 && d == 1700000000.123,
	   "a double round-trips exactly through jv_to_string (%s)", text);
	free(text);
	json_object_put(o);

	e.msg[0] = '\0';
	is_int(jv_fail(&e, "field '%s' is %d", "k", 7), -EINVAL, "jv_fail returns -EINVAL");
	is_str(e.msg, "field 'k' is 7", "jv_fail formats");
	is_int(jv_fail(NULL, "x"), -EINVAL, "jv_fail with NULL e");
	{
		/* A message longer than msg is truncated, not overflowed. */
		char big[600];
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		jv_fail(&e, "%s", big);
		ok(strlen(e.msg) == sizeof e.msg - 1, "long message truncated to msg size");
	}
}

static void test_ignored_keys(void)
{
	static const char *const known[] = {"name", "seed", NULL};
	json_object *o = obj("{\"name\":\"a\",\"seed\":1}");
	ok(!jv_ignored_keys(o, known), "no unknown keys: NULL");
	json_object_put(o);
	o = obj("{\"name\":\"a\",\"max_fsh\":10}");
	json_object *w = jv_ignored_keys(o, known);
	ok(w && json_object_array_length(w) == 1, "one unknown key: one warning");
	is_str(jv_str(json_object_array_get_idx(w, 0)), "unknown field 'max_fsh' ignored",
	       "it names the key");
	json_object_put(w);
	json_object_put(o);
	o = obj("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
		"\"k7\":7,\"k8\":8,\"k9\":9,\"name\":\"x\"}");
	w = jv_ignored_keys(o, known);
	ok(w && json_object_array_length(w) == 9, "ten unknown keys: eight named and one more line");
	is_str(jv_str(json_object_array_get_idx(w, 8)), "and 2 more unknown fields ignored",
	       "the rest counted");
	json_object_put(w);
	json_object_put(o);
	/* A long key is cut on a character's first byte: the warning stays UTF-8. */
	char key[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(key, "\xc3\xa9"); /* 80 bytes of "é" */
	o = json_object_new_object();
	json_object_object_add(o, key, json_object_new_int(1));
	w = jv_ignored_keys(o, known);
	const char *m = w ? jv_str(json_object_array_get_idx(w, 0)) : "";
	ok(jv_utf8_valid(m, strlen(m)) && strlen(m) == strlen("unknown field '' ignored") + 64,
	   "a long key is cut to 64 bytes, on a character boundary (%zu)", strlen(m));
	json_object_put(w);
	json_object_put(o);
	ok(!jv_ignored_keys(NULL, known), "no object: NULL");
}

int main(void)
{
	test_parse();
	test_parse_object();
	test_string();
	test_int();
	test_double();
	test_bool_object_array();
	test_u64hex();
	test_seconds();
	test_decimal();
	test_lenient_str();
	test_to_string_and_fail();
	test_ignored_keys();
	return tap_done();
}
