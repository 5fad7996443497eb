/* Decoding what etcd's v3 gateway holds: see etcd-kv.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd-kv.h"
#include "util.h"
#include "xalloc.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const char *s, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

void etcd_add_b64(json_object *o, const char *key, const char *s)
{
	char *b = etcd_b64_encode(s, strlen(s));
	json_object_object_add(o, key, json_object_new_string(b));
	free(b);
}

static long decode(const char *s, char *out, size_t max, bool nul_ok)
{
	size_t n = 0;
	unsigned v = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		const char *c = strchr(b64, *s);
		if (!c)
			return -1;
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char ch = (char)(v >> bits & 255);
			if ((ch == '\0' && !nul_ok) || n + 1 >= max)
				return -1;
			out[n++] = ch;
		}
	}
	for (int pad = 0; *s == '='; s++)
		if (++pad > 2)
			return -1;
	if (*s || max == 0)
		return -1;
	out[n] = '\0';
	return (long)n;
}

/* Keys and values are text, read as C strings: a NUL inside would cut them short, so
 * it is refused, as is anything after the padding. */
long etcd_b64_decode(const char *s, char *out, size_t max)
{
	return decode(s, out, max, false);
}

long etcd_b64_decode_bytes(const char *s, char *out, size_t max)
{
	return decode(s, out, max, true);
}

const char *etcd_key_id(const char *prefix, const char *key, char *buf, size_t n)
{
	char k[ETCD_KEY_MAX];
	if (!key || etcd_b64_decode(key, k, sizeof k) < 0)
		return NULL;
	size_t pl = strlen(prefix);
	if (strncmp(k, prefix, pl) != 0 || !server_id_valid(k + pl))
		return NULL;
	snprintf(buf, n, "%s", k + pl);
	return buf;
}

int etcd_entry_decode(const char *prefix, json_object *kv, struct server_info *info, char *id,
		      size_t n, struct json_err *je)
{
	if (!etcd_key_id(prefix, jv_member_str(kv, "key"), id, n))
		return -ENOENT;
	const char *value = jv_member_str(kv, "value");
	char *val = xmalloc(ETCD_VALUE_MAX);
	json_object *o = NULL;
	bool ok = value && etcd_b64_decode(value, val, ETCD_VALUE_MAX) > 0 &&
		  (o = jv_parse_object(val, strlen(val), 8, je)) &&
		  server_info_from_json(o, info, je) == 0 && strcmp(info->server_id, id) == 0;
	json_object_put(o);
	free(val);
	return ok ? 0 : -EINVAL;
}
