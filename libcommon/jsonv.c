#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "util.h"
#include "xalloc.h"

int jv_fail(struct json_err *e, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Outside strings, at s[*i]: JSON text holds only structure, numbers and the words true,
 * false and null. json-c's strict mode still takes a single-quoted key ({'count':3}),
 * the words NaN and Infinity as numbers, and "1." as a number. A word is skipped whole. */
static const char *bare_fault(const char *s, size_t len, size_t *i)
{
	char c = s[*i];
	if (c == '\'')
		return "a single-quoted string";
	if (c == '.' && !(*i + 1 < len && isdigit((unsigned char)s[*i + 1])))
		return "a number with no digit after its point";
	if (!isalpha((unsigned char)c))
		return NULL;
	size_t n = 1;
	while (*i + n < len && isalpha((unsigned char)s[*i + n]))
		n++;
	bool exponent = n == 1 && (c == 'e' || c == 'E') && *i > 0 &&
			isdigit((unsigned char)s[*i - 1]);
	bool word = (n == 4 && (memcmp(s + *i, "true", 4) == 0 || memcmp(s + *i, "null", 4) == 0)) ||
		    (n == 5 && memcmp(s + *i, "false", 5) == 0);
	if (!exponent && !word)
		return "a word that is not true, false or null (NaN, Infinity...)";
	*i += n - 1;
	return NULL;
}

/* One pass over the text for what json-c gets wrong, before it reads it: outside
 * strings, what bare_fault refuses; inside, a lone \\ud800-\\udfff escape, which json-c
 * turns into U+FFFD without a word, so the client's string would be stored changed. */
static const char *text_fault(const char *s, size_t len, size_t *members)
{
	static const char half[] = "a \\u escape of half a UTF-16 surrogate pair is not text";
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			*members += s[i] == ':'; /* outside strings, only a member's own */
			const char *bare = in_str ? NULL : bare_fault(s, len, &i);
			if (bare)
				return bare;
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && i + 5 < len) {
				int v = hex4(s + i + 2);
				if (v >= 0xdc00 && v <= 0xdfff)
					return half;
				if (v >= 0xd800 && v <= 0xdbff) {
					int w = i + 11 < len && s[i + 6] == '\\' && s[i + 7] == 'u'
							? hex4(s + i + 8)
							: -1;
					if (w < 0xdc00 || w > 0xdfff)
						return half;
					i += 6;
				}
				i += 5;
			} else {
				i++;
			}
		}
	}
	return NULL;
}

/* The members of every object in o, at any depth: fewer than the text's colons when a
 * key came twice in one object (json-c keeps the last without a word, so a client's
 * {"max_fish":"x","max_fish":5} would be taken as 5, and the other order refused). */
static size_t members_of(json_object *o)
{
	size_t n = 0;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach (o, k, v) {
			(void)k;
			n += 1 + members_of(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t len = json_object_array_length(o);
		for (size_t i = 0; i < len; i++)
			n += members_of(json_object_array_get_idx(o, i));
	}
	return n;
}

static json_object *parse(const char *buf, size_t len, bool nul_terminated, int max_depth,
			  struct json_err *e)
{
	if (len == 0) {
		jv_fail(e, "empty body: expected JSON");
		return NULL;
	}
	/* No size limit here: callers bound their input (HTTP bodies, state files). */
	if (memchr(buf, '\0', len)) {
		jv_fail(e, "JSON contains a NUL byte");
		return NULL;
	}
	/* json-c completes a trailing scalar only when the NUL is part of the input,
	 * so parse from a NUL-terminated buffer and pass len + 1 (conventions §5.3). A
	 * buffer that is already terminated (fs_read_file's) is parsed in place: copying a
	 * big snapshot costs real time at start-up. */
	char *copy = NULL;
	const char *text = buf;
	if (!nul_terminated) {
		copy = xmalloc(len + 1);
		memcpy(copy, buf, len);
		copy[len] = '\0';
		text = copy;
	}
	if (len >= INT32_MAX) {
		free(copy);
		jv_fail(e, "JSON document too large");
		return NULL;
	}
	size_t members = 0;
	const char *fault = text_fault(text, len, &members);
	if (fault) {
		free(copy);
		jv_fail(e, "invalid JSON: %s", fault);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(max_depth);
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, text, (int)len + 1);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (!o || err != json_tokener_success) {
		jv_fail(e, "invalid JSON: %s",
			err == json_tokener_success ? "the document is null"
						    : json_tokener_error_desc(err));
		json_object_put(o);
		o = NULL;
	} else if (end < len) {
		jv_fail(e, "invalid JSON: trailing data after the document");
		json_object_put(o);
		o = NULL;
	} else if (members_of(o) != members) {
		jv_fail(e, "invalid JSON: a key appears twice in one object");
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	free(copy);
	return o;
}

json_object *jv_parse(const char *buf, size_t len, int max_depth, struct json_err *e)
{
	return parse(buf, len, false, max_depth, e);
}

static json_object *require_object(json_object *o, struct json_err *e)
{
	if (o && !json_object_is_type(o, json_type_object)) {
		jv_fail(e, "expected a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *jv_parse_object_nul(const char *buf, size_t len, int max_depth, struct json_err *e)
{
	return require_object(parse(buf, len, true, max_depth, e), e);
}

json_object *jv_parse_object(const char *buf, size_t len, int max_depth, struct json_err *e)
{
	json_object *o = jv_parse(buf, len, max_depth, e);
	if (o && !json_object_is_type(o, json_type_object)) {
		jv_fail(e, "expected a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Looks up key; returns 1 found, 0 absent and optional, -EINVAL absent and required.
 * An explicit null counts as absent. */
static int jv_lookup(json_object *o, const char *key, bool required, json_object **v,
		     struct json_err *e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return jv_fail(e, "expected a JSON object around '%s'", key);
	if (!json_object_object_get_ex(o, key, v) || *v == NULL) {
		if (required)
			return jv_fail(e, "missing field '%s'", key);
		return 0;
	}
	return 1;
}

bool jv_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		size_t n;
		unsigned min;
		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, c &= 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, UTF-16 surrogates and beyond U+10FFFF are not UTF-8 */
		if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			return false;
		p += n + 1;
	}
	return true;
}

/* A key of given (at any depth) that known lacks: what our own serializer would not
 * write is not ours to keep. Arrays are compared element by element. */
static bool unknown_key(json_object *given, json_object *known, char *path, size_t size)
{
	if (json_object_is_type(given, json_type_object)) {
		if (!json_object_is_type(known, json_type_object))
			return false;
		json_object_object_foreach (given, k, v) {
			json_object *kv;
			size_t n = strlen(path);
			snprintf(path + n, size - n, "%s%.64s", n ? "." : "", k);
			if (!json_object_object_get_ex(known, k, &kv) ||
			    unknown_key(v, kv, path, size))
				return true;
			path[n] = '\0';
		}
	} else if (json_object_is_type(given, json_type_array) &&
		   json_object_is_type(known, json_type_array)) {
		size_t n = json_object_array_length(given);
		if (n > json_object_array_length(known))
			n = json_object_array_length(known);
		for (size_t i = 0; i < n; i++)
			if (unknown_key(json_object_array_get_idx(given, i),
					json_object_array_get_idx(known, i), path, size))
				return true;
	}
	return false;
}

int jv_no_unknown_keys(json_object *given, json_object *known, const char *what, struct json_err *e)
{
	char path[256] = "";
	if (unknown_key(given, known, path, sizeof path))
		return jv_fail(e, "%s has an unknown field '%s'", what, path);
	return 0;
}

#define IGNORED_NAMED 8 /* then "and N more": an answer stays short whatever was sent */

json_object *jv_ignored_keys(json_object *o, const char *const *known)
{
	json_object *w = NULL;
	size_t n = 0;
	if (!json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_foreach (o, k, v) {
		(void)v;
		size_t i = 0;
		while (known[i] && strcmp(known[i], k) != 0)
			i++;
		if (known[i])
			continue;
		if (!w)
			w = json_object_new_array();
		if (n++ < IGNORED_NAMED) {
			char name[65], msg[128];
			size_t len = strlen(k) < 64 ? strlen(k) : 64;
			while (len && ((unsigned char)k[len] & 0xc0) == 0x80)
				len--; /* cut on a character's first byte: stays UTF-8 */
			memcpy(name, k, len);
			name[len] = '\0';
			snprintf(msg, sizeof msg, "unknown field '%s' ignored", name);
			json_object_array_add(w, json_object_new_string(msg));
		}
	}
	if (n > IGNORED_NAMED) {
		char msg[64];
		snprintf(msg, sizeof msg, "and %zu more unknown fields ignored", n - IGNORED_NAMED);
		json_object_array_add(w, json_object_new_string(msg));
	}
	return w;
}

const char *jv_str(json_object *v)
{
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *jv_member_str(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? jv_str(v) : NULL;
}

static int string_field(json_object *o, const char *key, bool required, size_t min_len,
			size_t max_len, bool chars, const char **ret, struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_string))
		return jv_fail(e, "field '%s' must be a string", key);
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (strlen(s) != n)
		return jv_fail(e, "field '%s' contains a NUL character", key);
	/* json-c lets escapes such as \udc80 through as bytes that are not UTF-8; stored,
	 * they would make every later answer unreadable to strict clients. */
	if (!jv_utf8_valid(s, n))
		return jv_fail(e, "field '%s' is not valid UTF-8", key);
	size_t len = chars ? utf8_chars(s, n) : n;
	if (len < min_len || len > max_len)
		return jv_fail(e, "field '%s' must be %zu to %zu %s long", key, min_len, max_len,
			       chars ? "characters" : "bytes");
	*ret = s;
	return 1;
}

int jv_string(json_object *o, const char *key, bool required, size_t min_len, size_t max_len,
	      const char **ret, struct json_err *e)
{
	return string_field(o, key, required, min_len, max_len, false, ret, e);
}

int jv_text(json_object *o, const char *key, bool required, size_t min_chars, size_t max_chars,
	    const char **ret, struct json_err *e)
{
	return string_field(o, key, required, min_chars, max_chars, true, ret, e);
}

/* The integer member key: 1 with *v, 0 absent (optional), <0 with e set. */
static int int_field(json_object *o, const char *key, bool required, json_object **v,
		     struct json_err *e)
{
	int r = jv_lookup(o, key, required, v, e);
	if (r > 0 && !json_object_is_type(*v, json_type_int))
		return jv_fail(e, "field '%s' must be an integer", key);
	return r;
}

int jv_int64(json_object *o, const char *key, bool required, int64_t min, int64_t max, int64_t *ret,
	     struct json_err *e)
{
	json_object *v;
	int r = int_field(o, key, required, &v, e);
	if (r <= 0)
		return r;
	/* json-c saturates numbers beyond 64 bits to the extremes without telling, so the
	 * extremes themselves cannot be trusted and are out of range; the message names the
	 * range that is taken (it said "between 0 and 9223372036854775807" of a range that
	 * refused 9223372036854775807). */
	int64_t x = json_object_get_int64(v);
	if (min == INT64_MIN)
		min++;
	if (max == INT64_MAX)
		max--;
	if (x < min || x > max)
		return jv_fail(e, "field '%s' must be between %" PRId64 " and %" PRId64, key, min,
			       max);
	*ret = x;
	return 1;
}

int jv_uint64(json_object *o, const char *key, bool required, uint64_t max, uint64_t *ret,
	      struct json_err *e)
{
	json_object *v;
	int r = int_field(o, key, required, &v, e);
	if (r <= 0)
		return r;
	/* json-c keeps a number above INT64_MAX as unsigned (json_object_get_int64 then
	 * saturates) and saturates beyond 64 bits to UINT64_MAX, which is therefore refused. */
	if (max == UINT64_MAX)
		max--;
	uint64_t x = json_object_get_uint64(v);
	if (json_object_get_int64(v) < 0 || x > max)
		return jv_fail(e, "field '%s' must be between 0 and %" PRIu64, key, max);
	*ret = x;
	return 1;
}

int jv_int(json_object *o, const char *key, bool required, int min, int max, int *ret,
	   struct json_err *e)
{
	int64_t x;
	int r = jv_int64(o, key, required, min, max, &x, e);
	if (r == 1)
		*ret = (int)x;
	return r;
}

int jv_double(json_object *o, const char *key, bool required, double min, double max, double *ret,
	      struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return jv_fail(e, "field '%s' must be a number", key);
	double x = json_object_get_double(v);
	if (!isfinite(x))
		return jv_fail(e, "field '%s' must be finite", key);
	if (x < min || x > max)
		return jv_fail(e, "field '%s' must be between %g and %g", key, min, max);
	*ret = x;
	return 1;
}

int jv_bool(json_object *o, const char *key, bool required, bool *ret, struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_boolean))
		return jv_fail(e, "field '%s' must be true or false", key);
	*ret = json_object_get_boolean(v);
	return 1;
}

int jv_u64hex(json_object *o, const char *key, bool required, uint64_t *ret, struct json_err *e)
{
	const char *s;
	int r = jv_string(o, key, required, 1, 16, &s, e);
	if (r <= 0)
		return r;
	uint64_t x = 0;
	for (const char *p = s; *p; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return jv_fail(e, "field '%s' must be hexadecimal", key);
		x = (x << 4) | (uint64_t)d;
	}
	*ret = x;
	return 1;
}

int jv_object(json_object *o, const char *key, bool required, json_object **ret, struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_object))
		return jv_fail(e, "field '%s' must be an object", key);
	*ret = v;
	return 1;
}

int jv_array(json_object *o, const char *key, bool required, size_t max_len, json_object **ret,
	     struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_array))
		return jv_fail(e, "field '%s' must be an array", key);
	if (json_object_array_length(v) > max_len)
		return jv_fail(e, "field '%s' has more than %zu elements", key, max_len);
	*ret = v;
	return 1;
}

json_object *jv_new_u64hex(uint64_t v)
{
	char buf[17];
	snprintf(buf, sizeof buf, "%016" PRIx64, v);
	json_object *o = json_object_new_string(buf);
	if (!o)
		abort();
	return o;
}

json_object *jv_new_decimal(double v, int places)
{
	char buf[DBL_MAX_10_EXP + 24]; /* the widest %.*f of a double, up to 20 places */
	if (!isfinite(v))
		v = 0;
	places = places < 0 ? 0 : places > 20 ? 20 : places;
	snprintf(buf, sizeof buf, "%.*f", places, v);
	double r = strtod(buf, NULL);
	if (r == 0) /* not "-0.00" for a small negative value */
		snprintf(buf, sizeof buf, "%.*f", places, 0.0);
	json_object *o = json_object_new_double_s(r == 0 ? 0.0 : r, buf);
	if (!o)
		abort();
	return o;
}

json_object *jv_new_seconds(double s)
{
	return jv_new_decimal(s, 3);
}

const char *jv_to_string(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}
