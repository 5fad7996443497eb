/* Fuzz target: a key-value pair of etcd's v3 gateway as discoveryd's etcd backend reads
 * it from a range or a watch (discoveryd/etcd-kv.c): a base64 key naming a server under
 * the prefix, and a base64 ServerInfo. What decodes must be the key's server, and
 * written back as discoveryd puts it (server_info_to_json, base64) it must decode to
 * the same entry; whatever base64 decodes must encode back to itself. Built with
 * fuzz-main.c for `make check` and with libFuzzer by `make fuzz`. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discoveryd/etcd-kv.h"
#include "jsonv.h"

#include "fuzz.h"

#define FUZZ_PREFIX "/tankworld/servers/"

/* s decodes, and encoding what it gave decodes to the same text. */
static void fuzz_b64_round_trip(const char *s)
{
	char out[ETCD_VALUE_MAX], again[ETCD_VALUE_MAX];
	long n = etcd_b64_decode(s, out, sizeof out);
	if (n < 0)
		return;
	if ((size_t)n != strlen(out))
		abort();
	char *enc = etcd_b64_encode(out, (size_t)n);
	if (etcd_b64_decode(enc, again, sizeof again) != n || strcmp(again, out) != 0)
		abort();
	free(enc);
}

int fuzz_verdict(const uint8_t *data, size_t size)
{
	struct json_err e = {""};
	json_object *kv = jv_parse_object((const char *)data, size, 8, &e);
	if (!kv)
		return 0;
	const char *key = jv_member_str(kv, "key"), *value = jv_member_str(kv, "value");
	if (key)
		fuzz_b64_round_trip(key);
	if (value)
		fuzz_b64_round_trip(value);

	struct server_info info;
	char id[80];
	int r = etcd_entry_decode(FUZZ_PREFIX, kv, &info, id, sizeof id, &e);
	json_object_put(kv);
	if (r == -ENOENT || r == -EINVAL)
		return 0;
	if (r != 0 || strcmp(info.server_id, id) != 0)
		abort();

	/* As discoveryd puts its own entry: key <prefix><id>, value its ServerInfo. */
	char k[ETCD_KEY_MAX + 80];
	snprintf(k, sizeof k, "%s%s", FUZZ_PREFIX, id);
	json_object *w = server_info_to_json(&info), *kv2 = json_object_new_object();
	etcd_add_b64(kv2, "key", k);
	etcd_add_b64(kv2, "value", jv_to_string(w));
	struct server_info again;
	char id2[80];
	if (etcd_entry_decode(FUZZ_PREFIX, kv2, &again, id2, sizeof id2, &e) != 0 ||
	    strcmp(id2, id) != 0 || strcmp(again.server_id, info.server_id) != 0)
		abort();
	json_object *w2 = server_info_to_json(&again);
	if (strcmp(jv_to_string(w), jv_to_string(w2)) != 0)
		abort();
	json_object_put(w2);
	json_object_put(kv2);
	json_object_put(w);
	return 1;
}
