/* simd's evolution API (docs/history.md): a tank's history samples. */
#ifndef TW_SIMD_API_HISTORY_H
#define TW_SIMD_API_HISTORY_H

#include <stdio.h>

#include "http.h"

struct simd;
struct conf;
struct tank_params;
struct json_err;
/* GET /api/tanks/{id}/history?since=FRAME&limit=N&format=json|csv */
void api_history(struct http_ctx *ctx);
/* GET /api/tanks/{id}/events?since=SEQ&limit=N */
void api_events(struct http_ctx *ctx);
/* The newest sample of every tank as gauges, for /metrics. */
void api_history_metrics(struct simd *sd, FILE *f);
/* The evolution parameters of a new tank: the config's defaults, then the body's
 * spawn_floor, history_interval, history_size and lineage_depth. -EINVAL with e set. */
int api_evolution_params(json_object *body, const struct conf *c, struct tank_params *p,
			 struct json_err *e);

#endif
