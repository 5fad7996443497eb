/* Strict JSON parsing and field-by-field validation of untrusted input.
 *
 * Every getter returns 1 when the field was present and valid (and sets *ret),
 * 0 when an optional field is absent (*ret untouched, so callers preset defaults),
 * and -EINVAL when the field is missing but required, has the wrong type, or is out
 * of range; then e->msg says which field and why, in words fit for an API error. */
#ifndef TW_JSONV_H
#define TW_JSONV_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_err {
	char msg[512]; /* a replay refusal with its advice and the file's path is about 400 */
};

/* Parse a complete JSON document of exactly len bytes (no NUL needed). Rejects
 * trailing garbage, nesting deeper than max_depth and non-UTF-8 input. */
json_object *jv_parse(const char *buf, size_t len, int max_depth, struct json_err *e);
/* Parse and require a JSON object at the top. */
json_object *jv_parse_object(const char *buf, size_t len, int max_depth, struct json_err *e);
/* The same for a buffer with buf[len] == '\0' (fs_read_file's): parsed in place. */
json_object *jv_parse_object_nul(const char *buf, size_t len, int max_depth, struct json_err *e);

/* A string of min_len to max_len bytes, valid UTF-8 and without NUL. */
int jv_string(json_object *o, const char *key, bool required, size_t min_len, size_t max_len,
	      const char **ret, struct json_err *e);
/* The same measured in characters (code points), for text people write: a name of 60
 * Cyrillic letters is 120 bytes. Up to 4 bytes a character. */
int jv_text(json_object *o, const char *key, bool required, size_t min_chars, size_t max_chars,
	    const char **ret, struct json_err *e);
/* Where a missing or mistyped value is simply passed over, not refused: the string v
 * holds, or NULL when v is NULL (absent, or JSON null: json-c gives NULL for it) or no
 * string. jv_member_str does the same for member key of o (NULL when o is no object). */
const char *jv_str(json_object *v);
const char *jv_member_str(json_object *o, const char *key);
int jv_int64(json_object *o, const char *key, bool required, int64_t min, int64_t max, int64_t *ret,
	     struct json_err *e);
int jv_int(json_object *o, const char *key, bool required, int min, int max, int *ret,
	   struct json_err *e);
/* 0 to max (at most UINT64_MAX - 1: json-c saturates larger numbers to UINT64_MAX). */
int jv_uint64(json_object *o, const char *key, bool required, uint64_t max, uint64_t *ret,
	      struct json_err *e);
/* Accepts JSON integers and doubles; rejects NaN and infinities. */
int jv_double(json_object *o, const char *key, bool required, double min, double max, double *ret,
	      struct json_err *e);
int jv_bool(json_object *o, const char *key, bool required, bool *ret, struct json_err *e);
/* Hex-encoded unsigned 64-bit value ("0123abcd..."), for RNG state and hashes that
 * must survive a round trip through JSON exactly. */
int jv_u64hex(json_object *o, const char *key, bool required, uint64_t *ret, struct json_err *e);
int jv_object(json_object *o, const char *key, bool required, json_object **ret, struct json_err *e);
int jv_array(json_object *o, const char *key, bool required, size_t max_len, json_object **ret,
	     struct json_err *e);

/* True when s (len bytes) is well-formed UTF-8 without NUL. jv_string checks it. */
bool jv_utf8_valid(const char *s, size_t len);
/* -EINVAL (naming the path) when given has a key, at any depth, that known lacks:
 * known is what our serializer writes for the value parsed from given. */
int jv_no_unknown_keys(json_object *given, json_object *known, const char *what, struct json_err *e);
/* The keys of object o that are not in known (NULL-terminated), as warnings a client
 * shows ("unknown field 'max_fsh' ignored"); NULL when there are none. A misspelt
 * optional field would otherwise fall back to its default without a word. */
json_object *jv_ignored_keys(json_object *o, const char *const *known);

/* Set e->msg (printf style); returns -EINVAL for tail calls. */
int jv_fail(struct json_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A 64-bit value as 16 hex digits (JSON numbers lose bits above 2^53). Objects are
 * built with json-c's own calls everywhere (json_object_object_add and the
 * json_object_new_* constructors): one way to build JSON. Only the two hot writers,
 * the viewer's stream frames (sim/view.c) and the snapshot's fish lines
 * (sim/fish_text.c), print text directly, for speed; tests parse both back, and hold
 * the fish lines to json-c's text byte for byte. */
json_object *jv_new_u64hex(uint64_t v);
/* v written with places decimals, as text and as the value that text reads back as (0
 * for NaN and infinities, never "-0"): a figure rounded for people (a tick's median in
 * ms, a share) printed by json-c's "%.17g" shows its binary noise, 0.04 as
 * 0.040000000000000001. Not for state, whose doubles must round-trip exactly. */
json_object *jv_new_decimal(double v, int places);
/* A duration in seconds written to the millisecond, as the hand-written texts (health,
 * discovery's diff pages) write it: 17 digits of a heartbeat's age are noise, and a
 * length that jumps with them (3.3e-06 against 0.25) makes one listing's two paths
 * and two reads of it differ for nothing. */
json_object *jv_new_seconds(double s);
/* Serialize compactly without escaping '/'; the string belongs to o. */
const char *jv_to_string(json_object *o);

#endif
