/* Unit tests for the router's pattern matching (libcommon/http.c):
 * http_route_match and http_route_param_names. */
#include "config.h"

#include <string.h>

#include "http.h"
#include "tap.h"

static bool match(const char *pattern, const char *path)
{
	struct http_params p;
	memset(&p, 0x55, sizeof p);
	return http_route_match(pattern, path, &p);
}

static void test_exact(void)
{
	ok(match("/api/tanks", "/api/tanks"), "exact path matches");
	ok(match("/health", "/health"), "single segment matches");
	ok(match("/", "/"), "root matches root");
	ok(!match("/", ""), "root does not match an empty path");
	ok(!match("/api/tanks", "/api/tank"), "shorter last segment does not match");
	ok(!match("/api/tanks", "/api/tanksx"), "longer last segment does not match");
	ok(!match("/api/tanks", "/api"), "missing segment does not match");
	ok(!match("/api/tanks", "/api/tanks/x"), "extra segment does not match");
	ok(!match("/api/tanks", "/API/tanks"), "matching is case-sensitive");
	ok(!match("/api/tanks", "api/tanks"), "path without leading slash does not match");
	ok(!match("/api/tanks", "/api//tanks"), "doubled slash does not match");
	ok(!match("/api/tanks", "//api/tanks"), "leading doubled slash does not match");
	/* The router sees the path only: evhttp's URI parser strips the query first. */
	ok(!match("/api/tanks", "/api/tanks?x=1"), "a query string is part of the segment");
	ok(!match("/api/tanks", ""), "empty path does not match");

	struct http_params p;
	ok(http_route_match("/api/tanks", "/api/tanks", &p) && p.n == 0,
	   "a literal pattern yields no params");
}

/* Trailing slashes are not normalized: "/api/tanks/" and "/api/tanks" are different
 * paths, and neither matches the other's pattern. */
static void test_trailing_slash(void)
{
	ok(!match("/api/tanks", "/api/tanks/"), "'/api/tanks/' does not match pattern /api/tanks");
	ok(!match("/api/tanks/", "/api/tanks"), "'/api/tanks' does not match pattern /api/tanks/");
	ok(match("/api/tanks/", "/api/tanks/"), "a pattern with a trailing slash matches itself");
	ok(!match("/api/tanks/{id}", "/api/tanks/"),
	   "'/api/tanks/' does not match /api/tanks/{id} (empty parameter)");
	ok(!match("/api/tanks/{id}", "/api/tanks/t1/"),
	   "'/api/tanks/t1/' does not match /api/tanks/{id}");
	ok(!match("/", "//"), "'//' does not match root");
}

static void test_params(void)
{
	struct http_params p;
	const char *pat = "/api/tanks/{id}/fish/{fish_id}";
	ok(http_route_match(pat, "/api/tanks/t1/fish/f-2", &p), "two params match");
	is_int(p.n, 2, "two params captured");
	is_str(p.value[0], "t1", "first param value");
	is_str(p.value[1], "f-2", "second param value");
	http_route_param_names(pat, &p);
	is_str(p.name[0], "id", "first param name");
	is_str(p.name[1], "fish_id", "second param name");

	ok(!http_route_match(pat, "/api/tanks/t1/fish", &p), "missing trailing param");
	ok(!http_route_match(pat, "/api/tanks/t1/fish/f/x", &p), "extra segment after params");
	ok(!http_route_match(pat, "/api/tanks/t1/fishes/f", &p),
	   "literal between params must match");
	ok(!http_route_match(pat, "/api/tanks//fish/f", &p), "empty first param");
	ok(!http_route_match(pat, "/api/tanks/t1/fish/", &p), "empty last param");

	/* A param takes the raw segment: no percent-decoding, and dots are not special,
	 * so handlers must validate ids themselves. */
	ok(http_route_match("/api/tanks/{id}", "/api/tanks/a%20b", &p), "percent-encoded segment");
	is_str(p.value[0], "a%20b", "param is not percent-decoded");
	ok(http_route_match("/api/tanks/{id}", "/api/tanks/..", &p), "'..' is a param value");
	is_str(p.value[0], "..", "'..' captured literally");
	ok(http_route_match("/api/tanks/{id}", "/api/tanks/a:b>c", &p), "':' and '>' allowed");
	is_str(p.value[0], "a:b>c", "param with ':' and '>'");

	/* A parameter as the only segment, and at the start. */
	ok(http_route_match("/{x}", "/anything", &p) && p.n == 1, "'/{x}' matches one segment");
	is_str(p.value[0], "anything", "'/{x}' value");
	ok(!http_route_match("/{x}", "/", &p), "'/{x}' does not match '/'");
	ok(http_route_match("/{a}/tail", "/head/tail", &p) && p.n == 1, "param at the start");
	is_str(p.value[0], "head", "param at the start value");

	/* A segment that begins with '{' is a param whatever follows the name. */
	ok(http_route_match("/a/{id}.json", "/a/xyz", &p), "'{id}.json' is a whole-segment param");
	is_str(p.value[0], "xyz", "'{id}.json' takes the whole segment");
	/* A '{' later in a segment is literal. */
	ok(http_route_match("/a/x{id}", "/a/x{id}", &p) && p.n == 0, "'x{id}' is literal");
	ok(!http_route_match("/a/x{id}", "/a/xy", &p), "'x{id}' does not capture");

	/* Literal segments after a param still have to match exactly. */
	ok(http_route_match("/api/servers/{id}/heartbeat", "/api/servers/s1/heartbeat", &p),
	   "literal after param");
	ok(!http_route_match("/api/servers/{id}/heartbeat", "/api/servers/s1/heartbeatx", &p),
	   "literal after param must match exactly");
}

static void test_lengths(void)
{
	struct http_params p;
	char path[512];
	size_t max = sizeof p.value[0] - 1; /* 159 */

	strcpy(path, "/api/tanks/");
	memset(path + 11, 'a', max);
	path[11 + max] = '\0';
	ok(http_route_match("/api/tanks/{id}", path, &p), "a %zu-character param fits", max);
	is_int(strlen(p.value[0]), max, "the whole %zu characters are captured", max);

	memset(path + 11, 'a', max + 1);
	path[11 + max + 1] = '\0';
	ok(!http_route_match("/api/tanks/{id}", path, &p), "a %zu-character param is refused",
	   max + 1);

	memset(path + 11, 'b', 300);
	path[311] = '\0';
	ok(!http_route_match("/api/tanks/{id}", path, &p), "a 300-character param is refused");

	/* Literal segments have no length limit of their own. */
	char pat[512];
	strcpy(pat, "/x/");
	memset(pat + 3, 'c', 400);
	pat[403] = '\0';
	ok(http_route_match(pat, pat, &p), "a 400-character literal segment matches itself");
}

static void test_max_params(void)
{
	struct http_params p;
	const char *four = "/{a}/{b}/{c}/{d}";
	ok(http_route_match(four, "/1/2/3/4", &p), "four params match");
	is_int(p.n, 4, "four params captured");
	http_route_param_names(four, &p);
	ok(strcmp(p.name[0], "a") == 0 && strcmp(p.name[1], "b") == 0 &&
		   strcmp(p.name[2], "c") == 0 && strcmp(p.name[3], "d") == 0,
	   "four names filled");
	ok(strcmp(p.value[0], "1") == 0 && strcmp(p.value[3], "4") == 0, "four values");
	ok(!http_route_match("/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5", &p),
	   "a fifth param is refused (HTTP_MAX_PARAMS = %d)", HTTP_MAX_PARAMS);
	ok(http_route_match("/x/{a}/y/{b}/z/{c}/w/{d}/v", "/x/1/y/2/z/3/w/4/v", &p) && p.n == 4,
	   "four params mixed with literals");
}

static void test_param_names(void)
{
	struct http_params p;
	ok(http_route_match("/api/{tank}/x/{fish}", "/api/t/x/f", &p), "match for names");
	ok(p.name[0][0] == '\0' && p.name[1][0] == '\0',
	   "names are empty until param_names is called");
	http_route_param_names("/api/{tank}/x/{fish}", &p);
	is_str(p.name[0], "tank", "name 0");
	is_str(p.name[1], "fish", "name 1");

	/* Only p->n names are filled. */
	p.n = 1;
	p.name[1][0] = '\0';
	http_route_param_names("/api/{first}/x/{second}", &p);
	is_str(p.name[0], "first", "with n = 1 the first name is filled");
	ok(p.name[1][0] == '\0', "with n = 1 the second name is left alone");

	/* A request held for later keeps its names while other requests are routed (simd's
	 * gate holds a copy of the request's context). */
	struct http_params held, next;
	ok(http_route_match("/api/tanks/{id}/move", "/api/tanks/t1/move", &held), "match a move");
	http_route_param_names("/api/tanks/{id}/move", &held);
	ok(http_route_match("/api/outbox/{transfer_id}/commit", "/api/outbox/x/commit", &next),
	   "then a commit");
	http_route_param_names("/api/outbox/{transfer_id}/commit", &next);
	is_str(held.name[0], "id", "the held move still names its parameter id");
	is_str(next.name[0], "transfer_id", "and the commit its own");

	/* A long name is truncated to 31 characters rather than overflowing. */
	const char *longpat = "/{abcdefghijklmnopqrstuvwxyz0123456789}";
	ok(http_route_match(longpat, "/v", &p), "match with a 36-character name");
	http_route_param_names(longpat, &p);
	is_str(p.name[0], "abcdefghijklmnopqrstuvwxyz01234", "name truncated to 31 characters");
}

int main(void)
{
	test_exact();
	test_trailing_slash();
	test_params();
	test_lengths();
	test_max_params();
	test_param_names();
	return tap_done();
}
