/* simd's HTTP handlers that live outside api.c, one file per concern: the web app
 * (api-www.c), the live stream (api-stream.c), the viewer's controls (api-controls.c),
 * the read-only relay to this server's discoveryd and migrated (api-relay.c) and the
 * gate that holds changes until a tank's tick is done (api-gate.c). */
#ifndef TW_SIMD_API_EXTRA_H
#define TW_SIMD_API_EXTRA_H

#include <stdio.h>

#include "http.h"
#include "simd.h"

/* The tank a route's {id} names, or NULL (api.c); api_tank_param answers a JSON 404
 * then, and a 401 for a private tank the request may not see (api_tank_visible). */
struct tank_slot *api_path_tank(struct http_ctx *ctx);
struct tank_slot *api_tank_param(struct http_ctx *ctx);
/* Warns in the log when the web app's folder has no index.html (api-www.c). */
void api_www_check(struct simd *sd);
/* True when the request may see tank s; else answers 401. */
bool api_tank_visible(struct http_ctx *ctx, const struct tank_slot *s);
/* The same, then the request's JSON object body (*body, the caller's to put); NULL after
 * a JSON 404 or 400. */
struct tank_slot *api_tank_body(struct http_ctx *ctx, json_object **body);
/* Answer with what read returns on a reader thread (readers_run), so that the loop never
 * waits for the tank's lock: 200 and its text, or a JSON 404 with code404 and the
 * message. arg goes to read, then to free_arg (may be NULL) once answered. */
void api_read(struct http_ctx *ctx, struct tank_slot *s, readers_read_fn read, void *arg,
	      void (*free_arg)(void *), const char *code404, const char *fmt404, ...)
	__attribute__((format(printf, 7, 8)));
/* api-gate.c: run fn when the tick thread of s is parked between two ticks, holding the
 * request meanwhile (gate_run); at once when s is NULL. */
void api_gate(struct http_ctx *ctx, struct tank_slot *s, http_handler fn);
/* The same for a change to two tanks (one, or at once, when either is NULL), and for one
 * that looks into every tank here. */
void api_gate_two(struct http_ctx *ctx, struct tank_slot *a, struct tank_slot *b, http_handler fn);
void api_gate_every(struct http_ctx *ctx, http_handler fn);
/* The tank a request concerns, as its handler will find it (by the path's {id}:
 * api_path_tank): by a string field of the JSON body, by the source tank of the path's
 * {transfer_id} in the outbox. NULL when there is none (the handler then answers the
 * error). */
struct tank_slot *api_gate_body_tank(struct http_ctx *ctx, const char *field);
struct tank_slot *api_gate_transfer_tank(struct http_ctx *ctx);
void api_www_index(struct http_ctx *ctx);
void api_www_static(struct http_ctx *ctx);
void api_stream(struct http_ctx *ctx);
/* The stream's lines of GET /metrics. */
void api_stream_metrics(struct simd *sd, FILE *f);
void api_food(struct http_ctx *ctx);
void api_add_fish(struct http_ctx *ctx);
void api_relay(struct http_ctx *ctx);
/* api-lineage.c: GET /api/tanks/{id}/lineage and the original's GET /api/lineage. */
void api_lineage(struct http_ctx *ctx);
void api_lineage_legacy(struct http_ctx *ctx);
/* At shutdown: what the relay holds (its libcurl handle). */
void api_relay_free(void);

#endif
