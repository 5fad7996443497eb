#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

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
		copy = malloc(len + 1);
		if (!copy)
			abort();
		memcpy(copy, buf, len);
		copy[len] = '\0';
		text = copy;
	}
	struct json_tokener *tok = json_tokener_new_ex(max_depth);
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	if (len >= INT32_MAX) {
		json_tokener_free(tok);
		free(copy);
		jv_fail(e, "JSON document too large");
		return NULL;
	}
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

int jv_string(json_object *o, const char *key, bool required, size_t min_len, size_t max_len,
	      const char **ret, struct json_err *e)
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
	if (n < min_len || n > max_len)
		return jv_fail(e, "field '%s' must be %zu to %zu characters long", key, min_len,
			       max_len);
	*ret = s;
	return 1;
}

int jv_int64(json_object *o, const char *key, bool required, int64_t min, int64_t max,
	     int64_t *ret, struct json_err *e)
{
	json_object *v;
	int r = jv_lookup(o, key, required, &v, e);
	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_int))
		return jv_fail(e, "field '%s' must be an integer", key);
	/* json-c saturates numbers beyond 64 bits to the extremes without telling, so the
	 * extremes themselves cannot be trusted and count as out of range. */
	int64_t x = json_object_get_int64(v);
	if (x == INT64_MAX || x == INT64_MIN)
		return jv_fail(e, "field '%s' is out of range", key);
	if (x < min || x > max)
		return jv_fail(e, "field '%s' must be between %" PRId64 " and %" PRId64, key,
			       min, max);
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

int jv_double(json_object *o, const char *key, bool required, double min, double max,
	      double *ret, struct json_err *e)
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

int jv_object(json_object *o, const char *key, bool required, json_object **ret,
	      struct json_err *e)
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

void jv_add_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, json_object_new_string(value));
}

void jv_add_int(json_object *o, const char *key, int value)
{
	json_object_object_add(o, key, json_object_new_int(value));
}

const char *jv_to_string(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
}
