/* What the etcd backend reads from etcd's v3 JSON gateway, decoded without the daemon:
 * base64 keys and values, and a key-value pair as a registry entry. etcd.c uses it;
 * the fuzz target fuzz-etcd-kv feeds it untrusted bytes. No I/O, no HTTP. */
#ifndef TW_ETCD_KV_H
#define TW_ETCD_KV_H

#include <json-c/json.h>
#include <stddef.h>

#include "jsonv.h"
#include "registry.h"

#define ETCD_KEY_MAX 320    /* prefix (at most 200 + "servers/") and an id (64) fit */
#define ETCD_VALUE_MAX 8192 /* a ServerInfo, decoded */

/* Base64 as the gateway writes it (standard alphabet, '=' padding). The encoding is
 * malloc'd. The decoding goes into out (at most max bytes with the NUL added); -1 for
 * anything but base64, text after the padding, a NUL byte, or no room. */
char *etcd_b64_encode(const char *s, size_t n);
long etcd_b64_decode(const char *s, char *out, size_t max);
/* The same for bytes that are not text (any key etcd holds, when only its bytes
 * matter): a NUL is kept; the length returned says where the bytes end. */
long etcd_b64_decode_bytes(const char *s, char *out, size_t max);
/* o[key] = the base64 of the string s, as the gateway wants keys and values. */
void etcd_add_b64(json_object *o, const char *key, const char *s);

/* The server id of a base64 key under prefix, copied into buf; NULL if the key is not
 * one of ours (another prefix, not base64, not a valid server id). */
const char *etcd_key_id(const char *prefix, const char *key, char *buf, size_t n);

/* A put's key-value pair as a registry entry: the key names a server under prefix and
 * the value is that server's ServerInfo. 0 with *info and id (buf of n) filled;
 * -ENOENT when the key is not ours (ignored); -EINVAL when the value is not a
 * ServerInfo of the key's server (je->msg says why, when the value said anything). */
int etcd_entry_decode(const char *prefix, json_object *kv, struct server_info *info, char *id,
		      size_t n, struct json_err *je);

#endif
