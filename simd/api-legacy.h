/* The original's request forms (issue 19, docs/legacy.md): the HTTP side of legacy.c. */
#ifndef TW_SIMD_API_LEGACY_H
#define TW_SIMD_API_LEGACY_H

#include <stdbool.h>

#include "http.h"

/* POST /api/tanks: our JSON body for the request. A request without a body whose query
 * names the tank is the original's (name, description, seed, owner, is_public,
 * allow_transfers, server_id). NULL after replying an error. */
json_object *api_legacy_tank_body(struct http_ctx *ctx, const char *server_id);

/* POST /api/remote-transfer: our JSON body (transfer_id, destination_tank_id,
 * source_server_id, source_tank_id, entity_data in our format) for any accepted form:
 * ours; the original's all-in-body form; its query form with the entity as the body.
 * Without a transfer_id one is derived from the source, destination and entity, so an
 * identical retry is the same transfer. NULL after replying an error. */
json_object *api_legacy_transfer_body(struct http_ctx *ctx);

#endif
