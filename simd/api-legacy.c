/* The original's clients (issue 19): their request forms rewritten into ours before
 * simd's handlers see them, so that every rule (validation, idempotency, durability)
 * is the same for both. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-legacy.h"
#include "legacy.h"

/* Copies query parameter key into body[key] as a string. -1 after replying an error. */
static int query_str(struct http_ctx *ctx, json_object *body, const char *key, const char *as)
{
	char *v;
	int r = http_query(ctx, key, &v);
	if (r < 0)
		return -1;
	if (r > 0)
		json_object_object_add(body, as ? as : key, json_object_new_string(v));
	free(v);
	return 0;
}

static int query_bool(struct http_ctx *ctx, json_object *body, const char *key)
{
	char *v;
	int r = http_query(ctx, key, &v);
	if (r <= 0)
		return r;
	bool b;
	/* FastAPI's spellings of a boolean. */
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		b = true;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
		 !strcasecmp(v, "off"))
		b = false;
	else {
		free(v);
		http_reply_error(ctx->req, 400, "invalid_query",
				 "%s must be true or false (or 1/0, yes/no, on/off)", key);
		return -1;
	}
	free(v);
	json_object_object_add(body, key, json_object_new_boolean(b));
	return 0;
}

json_object *api_legacy_tank_body(struct http_ctx *ctx, const char *server_id)
{
	size_t len;
	char *name = NULL, *sid = NULL, *seed = NULL;
	if (http_body(ctx, &len))
		return http_body_object(ctx);
	int r = http_query(ctx, "name", &name);
	if (r < 0) /* answered already */
		return NULL;
	if (r == 0)
		return http_body_object(ctx);
	json_object *body = json_object_new_object();
	json_object_object_add(body, "name", json_object_new_string(name));
	free(name);
	/* The original refused any server_id but its own, and its default "local-server"
	 * failed on every server with TANK_SERVER_ID set (spec §1.3.3): that default passes. */
	if (http_query(ctx, "server_id", &sid) < 0)
		goto fail;
	if (sid && strcmp(sid, server_id) != 0 && strcmp(sid, "local-server") != 0) {
		http_reply_error(ctx->req, 400, "wrong_server", "this is server %s, not %.64s",
				 server_id, sid);
		goto fail;
	}
	if (http_query(ctx, "seed", &seed) < 0)
		goto fail;
	if (seed) {
		char *end;
		errno = 0;
		long long n = strtoll(seed, &end, 10);
		if (errno || end == seed || *end || n < 0) {
			http_reply_error(ctx->req, 400, "invalid_query",
					 "seed must be a non-negative integer");
			goto fail;
		}
		json_object_object_add(body, "seed", json_object_new_int64(n));
	}
	/* owner has no counterpart here (docs/legacy.md): accepted and not kept. */
	if (query_str(ctx, body, "description", NULL) < 0 ||
	    query_bool(ctx, body, "is_public") < 0 || query_bool(ctx, body, "allow_transfers") < 0)
		goto fail;
	free(sid);
	free(seed);
	return body;
fail:
	free(sid);
	free(seed);
	json_object_put(body);
	return NULL;
}

json_object *api_legacy_transfer_body(struct http_ctx *ctx)
{
	json_object *in = http_body_object(ctx);
	if (!in)
		return NULL;
	char *dest = NULL;
	if (http_query(ctx, "destination_tank_id", &dest) < 0) {
		json_object_put(in);
		return NULL;
	}
	json_object *body = in;
	if (dest) {
		/* The query form: the body is the entity itself. */
		body = json_object_new_object();
		json_object_object_add(body, "destination_tank_id", json_object_new_string(dest));
		free(dest);
		if (query_str(ctx, body, "source_server_id", NULL) < 0 ||
		    query_str(ctx, body, "source_tank_id", NULL) < 0) {
			json_object_put(in);
			json_object_put(body);
			return NULL;
		}
		json_object_object_add(body, "entity_data", in);
	}
	json_object *entity;
	if (!json_object_object_get_ex(body, "entity_data", &entity))
		return body; /* the handler says what is missing */
	const char *ss = jv_member_str(body, "source_server_id"),
		   *st = jv_member_str(body, "source_tank_id"),
		   *dt = jv_member_str(body, "destination_tank_id");
	uint64_t h = legacy_hash(entity, ss, st, dt);
	json_object *given;
	/* Absent or null (as an original client may write an unset field): derived. */
	if (!json_object_object_get_ex(body, "transfer_id", &given) || !given) {
		char tid[UUID_STR_LEN];
		legacy_uuid(h, "transfer", tid);
		json_object_object_add(body, "transfer_id", json_object_new_string(tid));
	}
	if (legacy_is_original_fish(entity)) {
		struct json_err e;
		json_object *fish = legacy_fish_translate(entity, h, &e);
		if (!fish) {
			json_object_put(body);
			http_reply_error(ctx->req, 400, "invalid_entity", "%s", e.msg);
			return NULL;
		}
		json_object_object_add(body, "entity_data", fish);
	}
	return body;
}
