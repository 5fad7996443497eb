/* Fish and plant ids: UUID-shaped strings derived from (tank id, domain, serial).
 * Runs stay deterministic (no clock, no /dev/urandom), and ids stay globally unique
 * because tank ids are: two tanks hash to unrelated 128-bit streams. The version nibble
 * is 8 ("custom", RFC 9562) and the variant bits are 10. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "util.h"

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t mix64(uint64_t z)
{
	return splitmix64(&z);
}

void ids_make(const char *tank_id, uint32_t domain, uint64_t serial, char out[UUID_STR_LEN])
{
	uint64_t h1 = fnv1a(tank_id, 0xcbf29ce484222325ULL);
	uint64_t h2 = fnv1a(tank_id, 0x84222325cbf29ce4ULL ^ h1);
	uint64_t a = mix64(h1 ^ mix64(serial ^ ((uint64_t)domain << 56)));
	uint64_t b = mix64(h2 ^ mix64(a + serial * 0x9e3779b97f4a7c15ULL + domain));
	a = (a & ~0xf000ULL) | 0x8000ULL;			 /* version 8 */
	b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
	snprintf(out, UUID_STR_LEN, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff), (unsigned)(b >> 48),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

/* Eight bytes at a time: an id is 36 characters, and FNV's byte-by-byte hash is a chain
 * of 36 dependent multiplies, paid for every fish when lineage_prune looks them all up.
 * Only in-memory indexes use it (the fish-id index, the lineage records'), never anything
 * saved, so it may change. */
uint32_t ids_hash(const char *id)
{
	size_t len = strlen(id);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	for (; len >= 8; id += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, id, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	uint64_t w = 0;
	memcpy(&w, id, len);
	h = mix64(h ^ w);
	return (uint32_t)(h ^ (h >> 32));
}

bool ids_valid(const char *s)
{
	return s && strlen(s) == UUID_STR_LEN - 1 && uuid_str_valid(s);
}
