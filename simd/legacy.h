/* The original's fish and transfer requests, translated into ours (issue 19, docs/legacy.md).
 * Domain code: no HTTP. Everything here is a pure function of its input, so the original's
 * identical retries become identical requests, and the inbox's transfer-id check makes
 * them insert once. */
#ifndef TW_SIMD_LEGACY_H
#define TW_SIMD_LEGACY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "jsonv.h"
#include "util.h"

/* Does this entity look like the original's ({"type":"fish","genome_data":{...}}) rather
 * than ours ({"kind":"fish","genome":{...}})? */
bool legacy_is_original_fish(json_object *entity);

/* 64-bit FNV-1a of the canonical JSON of entity, mixed with the transfer's source and
 * destination: the seed of everything derived below. */
uint64_t legacy_hash(json_object *entity, const char *source_server, const char *source_tank,
		     const char *dest_tank);

/* A UUID string (version 8, "custom") derived from h and a salt. */
void legacy_uuid(uint64_t h, const char *salt, char out[UUID_STR_LEN]);

/* Our fish for the original's fish entity: the fields that map are carried over (clamped
 * to our ranges), the others come from a fish drawn deterministically from seed h. Returns
 * a new fish JSON object (fish_from_json accepts it), or NULL with e set if the entity is
 * not an original fish. */
json_object *legacy_fish_translate(json_object *entity, uint64_t h, struct json_err *e);

#endif
