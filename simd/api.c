/* simd's REST API (DESIGN §4, docs/simd-protocol.md): the only file here that sees HTTP.
 * Everything that moves a fish is answered only once its journal record is durable. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-history.h"
#include "api-legacy.h"
#include "api-poker.h"
#include "log.h"
#include "records.h"
#include "api-extra.h"
#include "xalloc.h"
#include "util.h"

static struct simd *sd_of(struct http_ctx *ctx)
{
	return ctx->arg;
}

/* A reply that waits for the journal. */
static struct http_held *durable_new(struct http_ctx *ctx, int status)
{
	return http_held_new(http_defer(ctx), status, NULL);
}

/* The tank a route's {id} names, or NULL after a JSON 404 (every api-*.c uses it). */
struct tank_slot *api_path_tank(struct http_ctx *ctx)
{
	const char *id = http_param(ctx, "id");
	return object_id_valid(id, TANK_ID_MAX) ? tanks_find(sd_of(ctx), id) : NULL;
}

/* A private tank is shown only to those who may list it (the token or the socket):
 * hidden from the listing alone, its state, fish, stream, history, lineage and poker were
 * all read over TCP without the token by anyone who had its id. */
bool api_tank_visible(struct http_ctx *ctx, const struct tank_slot *s)
{
	if (s->meta.is_public || ctx->trusted)
		return true;
	http_reply_unauthorized(ctx, "reading a private tank needs");
	return false;
}

struct tank_slot *api_tank_param(struct http_ctx *ctx)
{
	struct tank_slot *s = api_path_tank(ctx);
	if (!s)
		http_reply_error(ctx->req, 404, "unknown_tank", "Tank not found: %.100s",
				 http_param(ctx, "id"));
	return s && api_tank_visible(ctx, s) ? s : NULL;
}

struct tank_slot *api_tank_body(struct http_ctx *ctx, json_object **body)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return NULL;
	*body = http_body_object(ctx);
	return *body ? s : NULL;
}

static bool transfer_id_param(struct http_ctx *ctx, const char **ret)
{
	*ret = http_param(ctx, "transfer_id");
	if (uuid_str_valid(*ret))
		return true;
	http_reply_error(ctx->req, 400, "invalid_transfer_id", "transfer id must be a UUID");
	return false;
}

static void api_list_tanks(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	bool include_private = ctx->over_unix;
	if (http_query_bool(ctx, "include_private", &include_private) < 0)
		return;
	/* Private tanks are listed only to those who hold the token (or the socket). */
	if (include_private && !ctx->trusted) {
		http_reply_unauthorized(ctx, "listing private tanks needs");
		return;
	}
	size_t len;
	char *text = tanks_list_text(sd, include_private, &len);
	http_reply_taken(ctx->req, 200, "application/json", text, len);
}

struct create_req {
	struct http_held *dr;
	struct tank_meta m;
	struct tank_params p;
	bool paused;
	json_object *warnings; /* an array, or NULL when none */
};

/* A public tank's creation is answered once it is journaled and public-tanks.json names
 * it: migrated would otherwise hide its connections from callers without the token for
 * a moment after the answer (a test met that moment). */
struct created {
	struct simd *sd;
	struct http_held *dr;
};

static void on_created_durable(void *arg)
{
	struct created *c = arg;
	tanks_publish_public(c->sd, http_held_send, c->dr);
	free(c);
}

static void on_tank_built(struct simd *sd, struct tank *t, void *arg)
{
	struct create_req *cr = arg;
	struct tank_slot *slot;
	cr->m.created_at = tanks_creation_stamp(sd); /* when it is added, in the list's order */
	/* A public tank is answered once public-tanks.json names it as well (created). */
	struct created *c = NULL;
	if (t && cr->m.is_public) {
		c = xmalloc(sizeof *c);
		*c = (struct created){sd, cr->dr};
	}
	int r = t ? xfer_tank_create_built(sd, &cr->m, &cr->p, t, cr->paused, &slot,
					   c ? on_created_durable : http_held_send,
					   c ? (void *)c : cr->dr)
		  : -ECANCELED;
	if (r < 0)
		free(c);
	if (r < 0) {
		struct evhttp_request *req = http_deferred_request(cr->dr->d);
		if (req && t)
			http_reply_error(req, 500, "create_failed", "cannot create the tank: %s",
					 strerror(-r));
		http_held_cancel(cr->dr);
		tank_free(t);
		json_object_put(cr->warnings);
		free(cr);
		return;
	}
	/* Started first, so that the answer shows the tank running (or starting), as it is
	 * by the time the client reads it. */
	tanks_start(sd, slot);
	cr->dr->body = tank_status_json(sd, slot);
	if (cr->warnings) {
		for (size_t i = 0; i < json_object_array_length(cr->warnings); i++)
			log_warn("tank %s (%s): %s", cr->m.id, cr->m.name,
				 jv_str(json_object_array_get_idx(cr->warnings, i)));
		json_object_object_add(cr->dr->body, "warnings", cr->warnings);
	}
	log_info("tank %s (%s) created", cr->m.id, cr->m.name);
	free(cr);
}

/* What POST /api/tanks reads (here and in api_evolution_params); anything else is
 * answered with a warning. */
static const char *const tank_keys[] = {"name",
					"description",
					"seed",
					"max_fish",
					"initial_fish",
					"width",
					"height",
					"allow_transfers",
					"is_public",
					"fast_forward",
					"paused",
					"spawn_floor",
					"history_interval",
					"history_size",
					"lineage_depth",
					NULL};

static void create_warn(struct create_req *cr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void create_warn(struct create_req *cr, const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!cr->warnings)
		cr->warnings = json_object_new_array();
	json_object_array_add(cr->warnings, json_object_new_string(msg));
}

/* The tank is created as asked, with a warning: initial_fish above max_fish is cut to
 * it (silently, before); a small world full of fish is a fair experiment (the dense
 * benchmark is one), but a user who wanted a big living tank learns here why it starves,
 * and what world would feed it. */
static void create_warnings(struct create_req *cr, int initial)
{
	const struct tank_params *p = &cr->p;
	if (initial > p->max_fish)
		create_warn(cr, "initial_fish %d is above max_fish: %d fish made", initial,
			    p->max_fish);
	int w, h;
	if (tank_params_underfed(p, &w, &h))
		create_warn(cr,
			    "a %d x %d world gets the original's food supply, which feeds tens "
			    "of fish, not %d: most of them will starve. A world at the default "
			    "density feeds them: width %d, height %d",
			    p->width, p->height, p->max_fish, w, h);
}

static void api_create_tank(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	const struct conf *c = &sd->daemon->conf;
	json_object *body = api_legacy_tank_body(ctx, c->server.server_id);
	if (!body)
		return;
	struct json_err e;
	struct tank_meta m = {.is_public = true, .allow_transfers = true};
	const char *name, *desc = "";
	uint64_t seed = 0;
	int max_fish = c->sim.max_fish, width = c->sim.width, height = c->sim.height;
	int initial = -1;
	bool paused = false;
	struct tank_params evo;
	if (jv_text(body, "name", true, 1, TANK_NAME_MAX, &name, &e) < 0 ||
	    api_evolution_params(body, c, &evo, &e) < 0 ||
	    jv_text(body, "description", false, 0, TANK_DESC_MAX, &desc, &e) < 0 ||
	    jv_uint64(body, "seed", false, UINT64_MAX, &seed, &e) < 0 ||
	    jv_int(body, "max_fish", false, 1, 1000000, &max_fish, &e) < 0 ||
	    jv_int(body, "initial_fish", false, 0, 1000000, &initial, &e) < 0 ||
	    jv_int(body, "width", false, 200, 100000, &width, &e) < 0 ||
	    jv_int(body, "height", false, 200, 100000, &height, &e) < 0 ||
	    jv_bool(body, "allow_transfers", false, &m.allow_transfers, &e) < 0 ||
	    jv_bool(body, "is_public", false, &m.is_public, &e) < 0 ||
	    jv_bool(body, "fast_forward", false, &m.fast_forward, &e) < 0 ||
	    jv_bool(body, "paused", false, &paused, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_tank", "%s", e.msg);
		return;
	}
	const char *fault = name_fault(name);
	if (fault || lines_have_control(desc)) {
		json_object_put(body);
		/* A description is shown beside the name: the bidi controls would reorder it
		 * there too. Lines are its own. */
		http_reply_error(ctx->req, 400, "invalid_tank", "%s %s",
				 fault ? "name" : "description",
				 fault ? fault : "has control characters (other than newlines)");
		return;
	}
	uuid_random_str(m.id);
	snprintf(m.name, sizeof m.name, "%s", name);
	snprintf(m.description, sizeof m.description, "%s", desc);
	json_object *warnings = jv_ignored_keys(body, tank_keys);
	json_object_put(body);
	uint64_t s = seed ? seed : ((uint64_t)random() << 32 ^ (uint64_t)random());
	struct tank_params p = tank_params_default(s);
	tank_params_scale_world(&p, width, height);
	p.max_fish = max_fish;
	if (initial >= 0)
		p.initial_fish = initial;
	if (p.initial_fish > p.max_fish)
		p.initial_fish = p.max_fish;
	p.spawn_floor = evo.spawn_floor;
	p.history_interval = evo.history_interval;
	p.history_size = evo.history_size;
	p.lineage_depth = evo.lineage_depth;
	if (tank_params_check(&p, &e) < 0) {
		json_object_put(warnings);
		http_reply_error(ctx->req, 400, "invalid_tank", "%s", e.msg);
		return;
	}
	const char *which;
	if (tanks_room(sd, p.max_fish, &which, &e) < 0) {
		json_object_put(warnings);
		http_reply_error(ctx->req, 409, which, "%s", e.msg);
		return;
	}
	/* A large tank is built off the loop; the reply waits for it, other requests do not. */
	struct create_req *cr = xcalloc(1, sizeof *cr);
	cr->dr = durable_new(ctx, 201);
	cr->m = m;
	cr->p = p;
	cr->paused = paused;
	cr->warnings = warnings;
	create_warnings(cr, initial);
	tanks_build(sd, &p, m.id, on_tank_built, cr);
}

static void api_get_tank(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	size_t len;
	if (s) {
		/* The same text as tank_status_json, kept while the status does not change. */
		const char *text = tank_status_text(sd_of(ctx), s, &len);
		http_reply_text(ctx->req, 200, "application/json", text, len);
	}
}

static void api_delete_tank(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	char id[TANK_ID_MAX + 1];
	snprintf(id, sizeof id, "%s", s->meta.id);
	struct http_held *dr = durable_new(ctx, 200);
	int r = xfer_tank_delete(sd, id, http_held_send, dr);
	if (r == -EBUSY) {
		http_held_cancel(dr);
		http_reply_error(ctx->req, 409, "fish_in_transit",
				 "tank %s has fish in transit; delete it once they are delivered",
				 id);
		return;
	}
	json_object *o = json_object_new_object();
	char msg[160];
	snprintf(msg, sizeof msg, "Tank %s deleted", id);
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_object_add(o, "tank_id", json_object_new_string(id));
	dr->body = o;
	tanks_publish_public(sd, NULL, NULL);
	log_info("tank %s deleted", id);
}

static void pause_resume(struct http_ctx *ctx, bool paused)
{
	struct simd *sd = sd_of(ctx);
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	struct http_held *dr = durable_new(ctx, 200);
	xfer_tank_pause(sd, s->meta.id, paused, http_held_send, dr);
	dr->body = tank_status_json(sd, s);
}

static void api_pause(struct http_ctx *ctx)
{
	pause_resume(ctx, true);
}

static void api_resume(struct http_ctx *ctx)
{
	pause_resume(ctx, false);
}

/* A read of a tank, answered when a reader thread has it (readers.c). */
struct api_read {
	struct http_deferred *d;
	void *arg;
	void (*free_arg)(void *);
	char code[32]; /* the 404's */
	char msg[256];
};

static void on_read(struct simd *sd, struct readers_answer *a, void *arg)
{
	(void)sd;
	struct api_read *rd = arg;
	struct evhttp_request *req = http_deferred_request(rd->d);
	if (req && a->status == 200) {
		http_reply_taken(req, 200, a->type, a->text, a->len);
		a->text = NULL;
	} else if (req && a->status == 404) {
		http_reply_error(req, 404, rd->code, "%s", rd->msg);
	} else if (req) {
		http_reply_error(req, 503, "shutting_down", "simd is stopping");
	}
	http_deferred_free(rd->d);
	if (rd->free_arg)
		rd->free_arg(rd->arg);
	free(rd);
	free(a->text);
}

void api_read(struct http_ctx *ctx, struct tank_slot *s, readers_read_fn read, void *arg,
	      void (*free_arg)(void *), const char *code404, const char *fmt404, ...)
{
	struct api_read *rd = xcalloc(1, sizeof *rd);
	rd->arg = arg;
	rd->free_arg = free_arg;
	snprintf(rd->code, sizeof rd->code, "%s", code404);
	va_list ap;
	va_start(ap, fmt404);
	vsnprintf(rd->msg, sizeof rd->msg, fmt404, ap);
	va_end(ap);
	rd->d = http_defer(ctx);
	if (readers_run(sd_of(ctx), s, read, arg, on_read, rd) < 0) {
		http_deferred_free(rd->d);
		if (free_arg)
			free_arg(arg);
		free(rd);
		evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "1");
		http_reply_error(ctx->req, 503, "busy", "too many reads of tanks are waiting");
	}
}

static void api_state(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (s && !http_busy(ctx)) /* a 10,000-fish state is megabytes */
		api_read(ctx, s, readers_state, sd_of(ctx), NULL, "unknown_tank", "no tank %s",
			 s->meta.id);
}

struct entity_read {
	bool plant;
	char id[UUID_STR_LEN];
};

/* On a reader thread: the whole fish or plant. */
static void read_entity(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	const struct entity_read *er = arg;
	json_object *o = NULL;
	tanks_lock_fair(s);
	if (er->plant) {
		o = tank_plant_json(s->sim, er->id);
	} else {
		const struct fish *f = tank_find_fish(s->sim, er->id);
		o = f ? fish_to_json(f) : NULL;
	}
	pthread_mutex_unlock(&s->lock);
	readers_answer_json(a, o);
}

/* The full fish or plant, the same JSON that migration carries. */
static void reply_entity(struct http_ctx *ctx, bool plant)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	const char *id = http_param(ctx, plant ? "plant_id" : "fish_id");
	const char *what = plant ? "plant" : "fish",
		   *code = plant ? "unknown_plant" : "unknown_fish";
	if (!uuid_str_valid(id)) {
		http_reply_error(ctx->req, 404, code, "no %s %.40s in tank %s", what, id,
				 s->meta.id);
		return;
	}
	struct entity_read *er = xcalloc(1, sizeof *er);
	er->plant = plant;
	snprintf(er->id, sizeof er->id, "%s", id);
	api_read(ctx, s, read_entity, er, free, code, "no %s %s in tank %s", what, id, s->meta.id);
}

static void api_fish(struct http_ctx *ctx)
{
	reply_entity(ctx, false);
}

static void api_plant(struct http_ctx *ctx)
{
	reply_entity(ctx, true);
}

static int exit_from_json(json_object *body, const char *key, struct exit_dest *d, bool *present,
			  int *budget, struct json_err *e)
{
	json_object *x;
	*present = json_object_object_get_ex(body, key, &x);
	memset(d, 0, sizeof *d);
	*budget = -1;
	if (!*present || !x)
		return 0;
	const char *ds, *dt, *cid = "";
	if (jv_object(body, key, true, &x, e) < 0 ||
	    jv_string(x, "destination_server_id", true, 1, SERVER_ID_MAX, &ds, e) < 0 ||
	    jv_string(x, "destination_tank_id", true, 1, TANK_ID_MAX, &dt, e) < 0 ||
	    jv_string(x, "connection_id", false, 0, CONN_ID_MAX, &cid, e) < 0 ||
	    jv_int(x, "budget", false, 0, 1000000, budget, e) < 0)
		return -EINVAL;
	if (!server_id_valid(ds) || !object_id_valid(dt, TANK_ID_MAX) ||
	    (*cid && !object_id_valid(cid, CONN_ID_MAX)))
		return jv_fail(e, "exit '%s' has an invalid id", key);
	d->open = true;
	strcpy(d->server_id, ds);
	strcpy(d->tank_id, dt);
	strcpy(d->connection_id, cid);
	return 0;
}

/* The exits as journaled, plus each open wall's budget when it has one (runtime). */
static json_object *exits_reply(struct tank_slot *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	gate_lock(s);
	json_object *ex = xfer_exits_json(s);
	for (int w = 0; w < 2; w++) {
		json_object *x;
		int b = exitgate_budget(s, w ? WALL_RIGHT : WALL_LEFT);
		if (b >= 0 && json_object_object_get_ex(ex, w ? "right" : "left", &x) && x)
			json_object_object_add(x, "budget", json_object_new_int(b));
	}
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "exits", ex);
	return o;
}

static void api_exits(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	json_object *body;
	struct tank_slot *s = api_tank_body(ctx, &body);
	if (!s)
		return;
	struct exit_dest l, r;
	bool has_l, has_r;
	int budgets[2];
	struct json_err e;
	if (exit_from_json(body, "left", &l, &has_l, &budgets[0], &e) < 0 ||
	    exit_from_json(body, "right", &r, &has_r, &budgets[1], &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_exits", "%s", e.msg);
		return;
	}
	json_object_put(body);
	struct http_held *dr = durable_new(ctx, 200);
	int done = xfer_set_exits(sd, s->meta.id, has_l ? &l : NULL, has_r ? &r : NULL, budgets,
				  http_held_send, dr);
	dr->body = exits_reply(s);
	if (done == 1) /* nothing was journaled */
		http_held_send(dr);
}

static void api_get_exits(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	http_reply_json(ctx->req, 200, exits_reply(s));
}

static void reply_xfer_error(struct http_ctx *ctx, int r, const char *what)
{
	switch (r) {
	case -ENOENT:
		http_reply_error(ctx->req, 404, "unknown_tank", "%s: unknown tank", what);
		break;
	case -EPERM:
		http_reply_error(ctx->req, 403, "transfers_disabled",
				 "%s: the tank does not allow "
				 "transfers",
				 what);
		break;
	case -ESRCH:
		http_reply_error(ctx->req, 409, "no_fish", "%s: no such fish in the tank", what);
		break;
	case -ENOSPC:
		if (strstr(what, "plant"))
			http_reply_error(ctx->req, 409, "no_root_spot",
					 "%s: the destination tank has no free root spot", what);
		else
			http_reply_error(ctx->req, 409, "tank_full",
					 "%s: the destination tank is full", what);
		break;
	case -EEXIST:
		http_reply_error(ctx->req, 409, "duplicate_fish", "%s: that fish is already here",
				 what);
		break;
	case -EAGAIN:
		http_reply_error(ctx->req, 503, "entity_in_transit",
				 "%s: that fish is in flight from this server; try again once its "
				 "transfer has ended",
				 what);
		break;
	case -EALREADY:
		http_reply_error(ctx->req, 409, "transfer_conflict",
				 "%s: this transfer_id arrived here before with another fish",
				 what);
		break;
	default:
		http_reply_error(ctx->req, 400, "invalid_request", "%s: %s", what, strerror(-r));
	}
}

static bool id_field(struct http_ctx *ctx, json_object *body, const char *key, bool required,
		     bool server, const char **ret)
{
	struct json_err e;
	/* Connection ids join two tank ids ("<src>-><dst>"), so they may be longer. */
	size_t max = server				 ? SERVER_ID_MAX
		     : strcmp(key, "connection_id") == 0 ? CONN_ID_MAX
							 : TANK_ID_MAX;
	*ret = NULL;
	if (jv_string(body, key, required, 1, max, ret, &e) < 0) {
		http_reply_error(ctx->req, 400, "invalid_body", "%s", e.msg);
		return false;
	}
	if (*ret && !(server ? server_id_valid(*ret) : object_id_valid(*ret, CONN_ID_MAX))) {
		http_reply_error(ctx->req, 400, "invalid_body", "field '%s' is not a valid id", key);
		return false;
	}
	return true;
}

/* "kind": "fish" (the default) or "plant". */
static bool kind_field(struct http_ctx *ctx, json_object *body, bool *plant)
{
	struct json_err e;
	if (kind_from_json(body, plant, &e) < 0) {
		http_reply_error(ctx->req, 400, "invalid_body",
				 "field 'kind' must be \"fish\" or \"plant\"");
		return false;
	}
	return true;
}

/* The fish to take: "fish_id", or "except" (fish not to take: those that arrived in
 * this migration pass), or neither (simd draws one); "kind". *except is the caller's to
 * free; its strings live as long as body. */
static bool choice_fields(struct http_ctx *ctx, json_object *body, struct fish_choice *pick,
			  const char ***except)
{
	struct json_err e;
	json_object *list = NULL;
	*pick = (struct fish_choice){0};
	*except = NULL;
	if (!id_field(ctx, body, "fish_id", false, false, &pick->fish_id) ||
	    !kind_field(ctx, body, &pick->plant))
		return false;
	if (jv_array(body, "except", false, PICK_EXCEPT_MAX, &list, &e) < 0) {
		http_reply_error(ctx->req, 400, "invalid_body", "%s", e.msg);
		return false;
	}
	if (!list)
		return true;
	if (pick->fish_id || pick->plant) {
		http_reply_error(ctx->req, 400, "invalid_body",
				 "field 'except' goes with neither 'fish_id' nor a plant");
		return false;
	}
	size_t n = json_object_array_length(list);
	*except = xcalloc(n ? n : 1, sizeof **except);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(list, i);
		const char *id = json_object_get_string(item);
		if (!json_object_is_type(item, json_type_string) ||
		    !object_id_valid(id, TANK_ID_MAX)) {
			http_reply_error(ctx->req, 400, "invalid_body",
					 "field 'except' holds fish ids only (item %zu is not one)",
					 i);
			free(*except);
			*except = NULL;
			return false;
		}
		(*except)[i] = id;
	}
	pick->except = *except;
	pick->n_except = n;
	return true;
}

static void api_reserve(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	json_object *body = http_body_object(ctx);
	if (!body)
		return;
	struct reserve_req rq;
	const char **except = NULL;
	if (!id_field(ctx, body, "source_tank_id", true, false, &rq.source_tank) ||
	    !id_field(ctx, body, "destination_server_id", true, true, &rq.dest_server) ||
	    !id_field(ctx, body, "destination_tank_id", true, false, &rq.dest_tank) ||
	    !id_field(ctx, body, "connection_id", false, false, &rq.connection_id) ||
	    !choice_fields(ctx, body, &rq.pick, &except)) {
		json_object_put(body);
		return;
	}
	struct http_held *dr = durable_new(ctx, 200);
	int r = xfer_reserve(sd, &rq, &dr->body, http_held_send, dr);
	json_object_put(body);
	free(except);
	if (r < 0) {
		http_held_cancel(dr);
		reply_xfer_error(ctx, r, rq.pick.plant ? "reserve plant" : "reserve");
	}
}

/* What the outbox no longer holds is told only once that is durable: migrated takes a
 * transfer missing from the outbox as resolved for good and has its destination forget
 * it, and a commit or abort is in memory before the journal holds it. Every record up to
 * the newest applied is waited for, read after the answer was built. */
static void reply_outbox(struct http_ctx *ctx, int status, json_object *body)
{
	struct simd *sd = sd_of(ctx);
	journal_when_durable(sd->journal, xfer_applied(sd), http_held_send,
			     http_held_new(http_defer(ctx), status, body));
}

static void reply_not_in_outbox(struct http_ctx *ctx, const char *tid)
{
	reply_outbox(ctx, 404,
		     http_error_json("unknown_transfer", "no transfer %s in the outbox", tid));
}

static void resolve(struct http_ctx *ctx, bool commit)
{
	const char *tid;
	if (!transfer_id_param(ctx, &tid))
		return;
	struct http_held *dr = durable_new(ctx, 200);
	int r = xfer_resolve(sd_of(ctx), tid, commit, &dr->body, http_held_send, dr);
	if (r < 0) {
		http_held_cancel(dr);
		if (r == -EBUSY)
			http_reply_error(ctx->req, 409, "source_tank_gone",
					 "the source tank is gone");
		else if (r == -ENOSPC)
			http_reply_error(ctx->req, 409, "no_root_spot",
					 "no free root spot for the plant in its tank yet");
		else
			reply_not_in_outbox(ctx, tid);
	}
}

static void api_commit(struct http_ctx *ctx)
{
	resolve(ctx, true);
}

static void api_abort(struct http_ctx *ctx)
{
	resolve(ctx, false);
}

static void api_attempt(struct http_ctx *ctx)
{
	const char *tid;
	json_object *o;
	if (!transfer_id_param(ctx, &tid))
		return;
	if (xfer_attempt(sd_of(ctx), tid, &o) < 0)
		http_reply_error(ctx->req, 404, "unknown_transfer", "no transfer %s in the outbox",
				 tid);
	else
		http_reply_json(ctx->req, 200, o);
}

/* A reader who may not list private tanks is not told of the fish leaving one either:
 * the listing gave away a private tank's id and its fish's ids over TCP without the token.
 * A tank deleted since keeps its records shown (nothing of it is left to hide). */
static void outbox_hide_private(struct simd *sd, json_object *o)
{
	json_object *list = json_object_object_get(o, "transfers"), *kept = json_object_new_array();
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(list, i);
		const struct tank_slot *s = tanks_find(
			sd, json_object_get_string(json_object_object_get(r, "source_tank_id")));
		if (!s || s->meta.is_public)
			json_object_array_add(kept, json_object_get(r));
	}
	json_object_object_add(o, "count", json_object_new_int((int)json_object_array_length(kept)));
	json_object_object_add(o, "transfers", kept);
}

static void api_outbox(struct http_ctx *ctx)
{
	/* ?lease=true is migrated's listing, which renews the walls' lease (exitgate.c);
	 * tankctl's (audit, fish show) lists without it: an operator looking while migrated
	 * is down must not let fish out. Over TCP it renews nothing. */
	bool lease = false;
	if (http_query_bool(ctx, "lease", &lease) < 0)
		return;
	if (lease && ctx->over_unix)
		exitgate_renew(sd_of(ctx));
	json_object *o = xfer_outbox_json(sd_of(ctx), false, NULL);
	if (!ctx->trusted)
		outbox_hide_private(sd_of(ctx), o);
	reply_outbox(ctx, 200, o);
}

static void api_outbox_one(struct http_ctx *ctx)
{
	const char *tid;
	if (!transfer_id_param(ctx, &tid))
		return;
	json_object *o = xfer_outbox_json(sd_of(ctx), true, tid);
	if (!o)
		reply_not_in_outbox(ctx, tid);
	else
		http_reply_json(ctx->req, 200, o);
}

static void api_move(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	json_object *body;
	struct tank_slot *s = api_tank_body(ctx, &body);
	if (!s)
		return;
	const char *dst, *cid, **except = NULL;
	struct fish_choice pick;
	if (!id_field(ctx, body, "destination_tank_id", true, false, &dst) ||
	    !id_field(ctx, body, "connection_id", false, false, &cid) ||
	    !choice_fields(ctx, body, &pick, &except)) {
		json_object_put(body);
		return;
	}
	struct http_held *dr = durable_new(ctx, 200);
	int r = xfer_move(sd, s->meta.id, dst, &pick, &dr->body, http_held_send, dr);
	json_object_put(body);
	free(except);
	if (r < 0) {
		http_held_cancel(dr);
		reply_xfer_error(ctx, r, pick.plant ? "move plant" : "move");
	}
}

/* A fish may carry only what our own serializer writes: anything else would be kept
 * in the journal and snapshots for ever (a 900 KB junk key was seen). A fish that does
 * not parse passes here and is refused, with the reason, by xfer_arrive. */
static bool fish_known_keys_only(json_object *given, struct json_err *e)
{
	struct fish *f;
	struct json_err ignored;
	if (entity_is_plant(given)) /* checked field by field, unknown keys too, on arrival */
		return true;
	if (fish_from_json(given, &f, &ignored) < 0)
		return true;
	json_object *known = fish_to_json(f);
	fish_free(f);
	int r = jv_no_unknown_keys(given, known, "entity_data", e);
	json_object_put(known);
	return r == 0;
}

static void api_remote_transfer(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	json_object *body = api_legacy_transfer_body(ctx);
	if (!body)
		return;
	struct arrive_req rq;
	struct json_err e;
	/* A transfer meant for another server is neither refused nor taken: 421, which
	 * its sender takes as an unknown outcome and retries once it has asked the
	 * registry again. This server may stand at the destination's old address, or
	 * behind a stale registry entry. A refusal from it (404 unknown_tank) was final to
	 * the sender, which put the fish back, while the real destination held it from an
	 * earlier attempt whose answer was lost (an operator's audit found the copy). A
	 * sender that does not name the destination (the original, older migrated) is
	 * taken as before. Checked first, before anything here could refuse. */
	const char *dest_server = NULL;
	const char *self = sd->daemon->conf.server.server_id;
	if (jv_string(body, "destination_server_id", false, 1, SERVER_ID_MAX, &dest_server, &e) <
		    0 ||
	    (dest_server && strcmp(dest_server, self) != 0)) {
		if (dest_server)
			http_reply_error(ctx->req, 421, "wrong_server",
					 "this is server '%s', not '%s': ask the registry again",
					 self, dest_server);
		else
			http_reply_error(ctx->req, 421, "wrong_server", "%s", e.msg);
		json_object_put(body);
		return;
	}
	if (jv_string(body, "transfer_id", true, 36, 36, &rq.transfer_id, &e) < 0 ||
	    !uuid_str_valid(rq.transfer_id)) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_body",
				 "field 'transfer_id' must be a UUID");
		return;
	}
	if (!id_field(ctx, body, "destination_tank_id", true, false, &rq.dest_tank) ||
	    !id_field(ctx, body, "source_server_id", true, true, &rq.source_server) ||
	    !id_field(ctx, body, "source_tank_id", true, false, &rq.source_tank)) {
		json_object_put(body);
		return;
	}
	if (wall_from_json(body, "arrival_wall", &rq.arrival, &e) < 0) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_body", "%s", e.msg);
		return;
	}
	if (jv_object(body, "entity_data", true, &rq.fish, &e) < 0 ||
	    !fish_known_keys_only(rq.fish, &e)) {
		json_object_put(body);
		http_reply_error(ctx->req, 400, "invalid_entity", "%s", e.msg);
		return;
	}
	/* A transfer that arrived already is answered as it was, whatever the registry says
	 * of its sender now: its first answer was lost, and a refusal here (unknown_server
	 * once the registry had forgotten the sender) was final to it, and it put back a fish
	 * this tank held (an attacker's audit, 7 December). */
	if (!xfer_arrived(sd, rq.transfer_id) && peers_check(sd, rq.source_server) < 0) {
		http_reply_error(ctx->req, 403, "unknown_server",
				 "source_server_id '%s' is not a server this server knows",
				 rq.source_server);
		json_object_put(body);
		return;
	}
	struct http_held *dr = durable_new(ctx, 200);
	int r = xfer_arrive(sd, &rq, &dr->body, http_held_send, dr, &e);
	if (r < 0) {
		http_held_cancel(dr);
		if (r == -EINVAL)
			http_reply_error(ctx->req, 400, "invalid_entity", "%s", e.msg);
		else if (r == -ENOENT) /* rq's strings live in body: reply before freeing it */
			http_reply_error(ctx->req, 404, "unknown_tank",
					 "Destination tank not found: %s", rq.dest_tank);
		else
			reply_xfer_error(ctx, r,
					 entity_is_plant(rq.fish) ? "remote plant transfer"
								  : "remote transfer");
	}
	json_object_put(body);
}

static void api_inbox(struct http_ctx *ctx)
{
	const char *tid;
	if (!transfer_id_param(ctx, &tid))
		return;
	json_object *o = xfer_inbox_json(sd_of(ctx), tid);
	/* An arrival names its tank: a private one (or one gone, whose privacy is not known
	 * any more) only to those who may read it. */
	const struct tank_slot *dst = o ? tanks_find(sd_of(ctx),
						     jv_member_str(o, "destination_tank_id"))
					: NULL;
	if (!o) {
		http_reply_error(ctx->req, 404, "unknown_transfer",
				 "transfer %s did not arrive here", tid);
	} else if (!ctx->trusted && (!dst || !dst->meta.is_public)) {
		json_object_put(o);
		http_reply_unauthorized(ctx, "reading an arrival in a private tank needs");
	} else {
		http_reply_json(ctx->req, 200, o);
	}
}

static void api_inbox_forget(struct http_ctx *ctx)
{
	const char *tid;
	if (!transfer_id_param(ctx, &tid))
		return;
	/* Answered once the forget is journaled: a forget never comes back after a crash. */
	struct http_held *dr = durable_new(ctx, 200);
	if (xfer_inbox_forget(sd_of(ctx), tid, http_held_send, dr) < 0) {
		http_held_cancel(dr);
		http_reply_error(ctx->req, 404, "unknown_transfer",
				 "transfer %s is not remembered here", tid);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "transfer_id", json_object_new_string(tid));
	json_object_object_add(o, "forgotten", json_object_new_boolean(true));
	dr->body = o;
}

static void api_health(struct http_ctx *ctx)
{
	struct simd *sd = sd_of(ctx);
	size_t tanks = sd->n_tanks, fish, transit = sd->outbox_count;
	/* Without the token, the public tanks: it told how many private tanks and fish
	 * there were (an attacker's audit, 7 December), which the listings hide. */
	if (ctx->trusted)
		fish = tanks_count_fish(sd, false, NULL, NULL);
	else
		fish = tanks_count_fish(sd, true, &tanks, &transit);
	char extra[128];
	snprintf(extra, sizeof extra, ",\"tank_count\":%zu,\"population\":%zu,\"in_transit\":%zu",
		 tanks, fish, transit);
	http_reply_health(ctx->req, "simd", sd->daemon->conf.server.server_id,
			  now_mono() - sd->started_mono, extra);
}

static void write_metrics(void *arg, FILE *f)
{
	struct simd *sd = arg;
	struct journal_stats js;
	journal_get_stats(sd->journal, &js);
	fprintf(f,
		"# HELP tankworld_sim_tanks Tanks on this server.\n# TYPE tankworld_sim_tanks gauge\ntankworld_sim_tanks %zu\n",
		sd->n_tanks);
	/* Per tank, family by family: the exposition format wants each family's samples in one
	 * group after its TYPE line, where they came tank by tank (a frame, then births... of
	 * the first tank, then the second's), and six families had no TYPE at all. The values
	 * are taken under each tank's status lock first, so that every family reads the same
	 * moment of a tank. */
	size_t n = 0, cap = sd->n_tanks;
	struct tank_metrics {
		const char *id;
		int fish, lagging;
		uint64_t frame, births, deaths;
		double fps, median, p99, tick_sum;
		uint64_t ticks;
	} *m = xcalloc(cap ? cap : 1, sizeof *m);
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		if (n == cap)
			break;
		pthread_mutex_lock(&s->status_lock);
		m[n++] = (struct tank_metrics){
			s->meta.id,	 s->stats.fish_count, s->lagging, s->stats.frame,
			s->stats.births, s->stats.deaths,     s->fps,	  s->tick_median,
			s->tick_p99,	 s->tick_seconds,     s->ticks};
		pthread_mutex_unlock(&s->status_lock);
	}
	fprintf(f, "# HELP tankworld_sim_fish Fish in the tank.\n# TYPE tankworld_sim_fish gauge\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_fish{tank=\"%s\"} %d\n", m[i].id, m[i].fish);
	fprintf(f,
		"# HELP tankworld_sim_frame The tank's frame number.\n# TYPE tankworld_sim_frame gauge\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_frame{tank=\"%s\"} %" PRIu64 "\n", m[i].id, m[i].frame);
	fprintf(f,
		"# HELP tankworld_sim_births_total Fish born in the tank.\n# TYPE tankworld_sim_births_total counter\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_births_total{tank=\"%s\"} %" PRIu64 "\n", m[i].id,
			m[i].births);
	fprintf(f,
		"# HELP tankworld_sim_deaths_total Fish that died in the tank.\n# TYPE tankworld_sim_deaths_total counter\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_deaths_total{tank=\"%s\"} %" PRIu64 "\n", m[i].id,
			m[i].deaths);
	fprintf(f,
		"# HELP tankworld_sim_fps Ticks per second over the last second.\n# TYPE tankworld_sim_fps gauge\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_fps{tank=\"%s\"} %.1f\n", m[i].id, m[i].fps);
	/* The quantiles over the last 256 ticks (what the tank's status says), and the sum
	 * and count of every tick since simd started, as a summary has them. */
	fprintf(f,
		"# HELP tankworld_sim_tick_seconds Tick duration: quantiles over the last 256 ticks.\n# TYPE tankworld_sim_tick_seconds summary\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"tankworld_sim_tick_seconds{tank=\"%s\",quantile=\"0.5\"} %.6f\n"
			"tankworld_sim_tick_seconds{tank=\"%s\",quantile=\"0.99\"} %.6f\n"
			"tankworld_sim_tick_seconds_sum{tank=\"%s\"} %.6f\n"
			"tankworld_sim_tick_seconds_count{tank=\"%s\"} %" PRIu64 "\n",
			m[i].id, m[i].median, m[i].id, m[i].p99, m[i].id, m[i].tick_sum, m[i].id,
			m[i].ticks);
	fprintf(f,
		"# HELP tankworld_sim_tick_lagging 1 while the tank cannot keep its tick rate.\n# TYPE tankworld_sim_tick_lagging gauge\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "tankworld_sim_tick_lagging{tank=\"%s\"} %d\n", m[i].id, m[i].lagging);
	free(m);
	/* The gate (gate.c): changes made at once (nothing ticked the tank) or after the end
	 * of its tick, new tanks that waited for an arrival's set of every tank before their
	 * first tick, and the times the loop found a tank's lock taken and waited. */
	fprintf(f,
		"# HELP tankworld_sim_gate_changes_total Changes to tanks, made at once or between two ticks.\n# TYPE tankworld_sim_gate_changes_total counter\n"
		"tankworld_sim_gate_changes_total{way=\"direct\"} %" PRIu64 "\n"
		"tankworld_sim_gate_changes_total{way=\"between_ticks\"} %" PRIu64 "\n"
		"# HELP tankworld_sim_gate_starts_deferred_total New tanks that waited for an arrival before their first tick.\n# TYPE tankworld_sim_gate_starts_deferred_total counter\n"
		"tankworld_sim_gate_starts_deferred_total %" PRIu64 "\n"
		"# HELP tankworld_sim_loop_lock_waits_total Times the event loop waited for a tank's lock.\n# TYPE tankworld_sim_loop_lock_waits_total counter\n"
		"tankworld_sim_loop_lock_waits_total{when=\"ticking\"} %" PRIu64 "\n"
		"tankworld_sim_loop_lock_waits_total{when=\"between_ticks\"} %" PRIu64 "\n",
		sd->gate_direct, sd->gate_queued, sd->gate_starts_deferred,
		__atomic_load_n(&sd->loop_lock_waits[0], __ATOMIC_RELAXED),
		__atomic_load_n(&sd->loop_lock_waits[1], __ATOMIC_RELAXED));
	/* What those waits can last: the longest a copy held a tank's lock, by enum
	 * tank_copy (a new kind of copy gets its label here). */
	static const char *const copy_label[TANK_COPY_KINDS] = {[TANK_COPY_WHOLE] = "snapshot",
								[TANK_COPY_ENTITIES] = "state",
								[TANK_COPY_LINEAGE] = "lineage",
								[TANK_COPY_STRATEGIES] =
									"strategies",
								[TANK_COPY_HISTORY] = "history"};
	fprintf(f,
		"# HELP tankworld_sim_copy_lock_held_seconds_max Longest time a copy for a snapshot or a reader held a tank's lock.\n# TYPE tankworld_sim_copy_lock_held_seconds_max gauge\n");
	for (int k = 0; k < TANK_COPY_KINDS; k++)
		fprintf(f, "tankworld_sim_copy_lock_held_seconds_max{copy=\"%s\"} %.6f\n",
			copy_label[k],
			__atomic_load_n(&sd->copy_held_max_ns[k], __ATOMIC_RELAXED) * 1e-9);
	uint64_t reg_reads[2], reg_bytes;
	peers_stats(sd, reg_reads, &reg_bytes);
	fprintf(f,
		"# HELP tankworld_sim_registry_reads_total Reads of the registry for a sender not known yet, the whole file or what was appended since the last.\n# TYPE tankworld_sim_registry_reads_total counter\n"
		"tankworld_sim_registry_reads_total{part=\"whole\"} %" PRIu64 "\n"
		"tankworld_sim_registry_reads_total{part=\"appended\"} %" PRIu64 "\n"
		"# HELP tankworld_sim_registry_read_bytes_total Bytes of the registry those reads read.\n# TYPE tankworld_sim_registry_read_bytes_total counter\ntankworld_sim_registry_read_bytes_total %" PRIu64
		"\n",
		reg_reads[PEERS_READ_WHOLE], reg_reads[PEERS_READ_TAIL], reg_bytes);
	pthread_mutex_lock(&sd->xfer_lock);
	fprintf(f,
		"# HELP tankworld_sim_outbox Records in the outbox (reserved, not yet committed or aborted).\n# TYPE tankworld_sim_outbox gauge\ntankworld_sim_outbox %zu\n"
		"# HELP tankworld_sim_inbox_remembered Arrivals remembered for duplicate checks.\n# TYPE tankworld_sim_inbox_remembered gauge\ntankworld_sim_inbox_remembered %zu\n"
		"# HELP tankworld_sim_reserves_total Transfer reservations made.\n# TYPE tankworld_sim_reserves_total counter\ntankworld_sim_reserves_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_commits_total Transfer reservations committed (the fish left).\n# TYPE tankworld_sim_commits_total counter\ntankworld_sim_commits_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_aborts_total Transfer reservations aborted (the fish went back).\n# TYPE tankworld_sim_aborts_total counter\ntankworld_sim_aborts_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_arrivals_total Fish and plants that arrived from other tanks.\n# TYPE tankworld_sim_arrivals_total counter\ntankworld_sim_arrivals_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_duplicate_arrivals_total Arrivals answered again from the inbox, not inserted twice.\n# TYPE tankworld_sim_duplicate_arrivals_total counter\ntankworld_sim_duplicate_arrivals_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_local_moves_total Fish moved between tanks of this server.\n# TYPE tankworld_sim_local_moves_total counter\ntankworld_sim_local_moves_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_exits_total Fish that left through a wall into the outbox.\n# TYPE tankworld_sim_exits_total counter\ntankworld_sim_exits_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_exits_bounced_total Fish that swam into a wall they could not pass.\n# TYPE tankworld_sim_exits_bounced_total counter\n"
		"tankworld_sim_exits_bounced_total %" PRIu64 "\n",
		sd->outbox_count, sd->inbox_count, sd->reserves, sd->commits, sd->aborts,
		sd->arrivals, sd->duplicate_arrivals, sd->local_moves, sd->exits,
		sd->exits_bounced);
	pthread_mutex_unlock(&sd->xfer_lock);
	fprintf(f,
		"# HELP tankworld_sim_journal_records_total Journal records written.\n# TYPE tankworld_sim_journal_records_total counter\ntankworld_sim_journal_records_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_journal_syncs_total Journal fsyncs.\n# TYPE tankworld_sim_journal_syncs_total counter\ntankworld_sim_journal_syncs_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_snapshots_total Snapshot rounds completed.\n# TYPE tankworld_sim_snapshots_total counter\ntankworld_sim_snapshots_total %" PRIu64
		"\n"
		"# HELP tankworld_sim_snapshot_seconds Duration of the last snapshot round.\n# TYPE tankworld_sim_snapshot_seconds gauge\ntankworld_sim_snapshot_seconds %.3f\n"
		"# HELP tankworld_sim_snapshot_cpu_seconds CPU time of the last snapshot round.\n# TYPE tankworld_sim_snapshot_cpu_seconds gauge\n"
		"tankworld_sim_snapshot_cpu_seconds %.3f\n",
		js.records, js.syncs, sd->snapshots_written, sd->snapshot_last_seconds,
		sd->snapshot_last_cpu);
	fprintf(f,
		"# HELP tankworld_sim_replay_seconds Time the last start spent replaying the journal.\n# TYPE tankworld_sim_replay_seconds gauge\ntankworld_sim_replay_seconds %.3f\n"
		"# HELP tankworld_sim_replay_frames Frames replayed from the journal at the last start.\n# TYPE tankworld_sim_replay_frames gauge\ntankworld_sim_replay_frames %" PRIu64
		"\n",
		sd->replay_seconds, sd->replay_frames);
	api_history_metrics(sd, f);
	api_stream_metrics(sd, f);
}

static void api_metrics(struct http_ctx *ctx)
{
	http_reply_metrics(ctx, write_metrics, sd_of(ctx));
}

/* Routes that change a tank, or read what its tick changes under its lock, wait for the
 * end of its tick off the loop (api-gate.c). */
#define GATED(h, tank)                              \
	static void h##_gated(struct http_ctx *ctx) \
	{                                           \
		api_gate(ctx, tank, h);             \
	}
GATED(api_food, api_path_tank(ctx))
GATED(api_add_fish, api_path_tank(ctx))
GATED(api_delete_tank, api_path_tank(ctx))
GATED(api_pause, api_path_tank(ctx))
GATED(api_resume, api_path_tank(ctx))
GATED(api_get_exits, api_path_tank(ctx))
GATED(api_poker_game_new, api_path_tank(ctx))
GATED(api_exits, api_path_tank(ctx))
GATED(api_reserve, api_gate_body_tank(ctx, "source_tank_id"))
GATED(api_commit, api_gate_transfer_tank(ctx))
GATED(api_abort, api_gate_transfer_tank(ctx))

/* A local move changes two tanks: both are held, so that neither is locked while it ticks.
 * The handler answers a missing tank itself, at once. */
static void api_move_gated(struct http_ctx *ctx)
{
	struct tank_slot *src = api_path_tank(ctx);
	api_gate_two(ctx, src, src ? api_gate_body_tank(ctx, "destination_tank_id") : NULL,
		     api_move);
}

/* An arrival looks for the fish's id in every tank here before it puts it in one
 * (xfer_arrive): every tank is held, so that none is locked in the middle of its tick. */
static void api_remote_transfer_gated(struct http_ctx *ctx)
{
	if (api_gate_body_tank(ctx, "destination_tank_id"))
		api_gate_every(ctx, api_remote_transfer);
	else
		api_remote_transfer(ctx);
}

#define U ROUTE_UNIX_ONLY
#define C ROUTE_CORS
#define R (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH)
static const struct http_route routes[] = {
	{EVHTTP_REQ_GET, "/", api_www_index, 0},
	{EVHTTP_REQ_GET, "/static/{name}", api_www_static, 0},
	{EVHTTP_REQ_GET, "/static/{dir}/{name}", api_www_static, 0},
	{EVHTTP_REQ_GET, "/api/tanks", api_list_tanks, C},
	{EVHTTP_REQ_POST, "/api/tanks", api_create_tank, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}", api_get_tank, C},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/stream", api_stream, C},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/food", api_food_gated, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/fish", api_add_fish_gated, 0},
	/* The door: paths of the siblings, relayed (api-relay.c says whose they are). */
	{R, "/api/discovery/{a}", api_relay, C},
	{R, "/api/discovery/{a}/{b}", api_relay, C},
	{R, "/api/servers/local", api_relay, C},
	{R, "/api/connections", api_relay, C},
	{R, "/api/connections/{id}", api_relay, C},
	{R, "/api/transfers", api_relay, C},
	{R, "/api/transfers/{id}", api_relay, C},
	{R, "/api/migrations", api_relay, C},
	{R, "/api/migrations/{a}", api_relay, C},
	{R, "/api/tanks/{id}/transfer-stats", api_relay, C},
	{EVHTTP_REQ_DELETE, "/api/tanks/{id}", api_delete_tank_gated, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/pause", api_pause_gated, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/resume", api_resume_gated, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/state", api_state, C},
	/* The original's names for the same (spec §1.3.3; docs/legacy.md). */
	{EVHTTP_REQ_POST, "/api/tanks/{id}/start", api_resume_gated, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/stop", api_pause_gated, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/snapshot", api_state, C},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/fish/{fish_id}", api_fish, C},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/plants/{plant_id}", api_plant, C},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/exits", api_get_exits_gated, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/poker", api_poker_hands, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/poker/strategies", api_poker_strategies, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/poker/series", api_poker_series, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/poker/games", api_poker_game_new_gated, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/poker/games/{game_id}", api_poker_game_get, 0},
	{EVHTTP_REQ_DELETE, "/api/tanks/{id}/poker/games/{game_id}", api_poker_game_delete, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/poker/games/{game_id}/action", api_poker_game_action, 0},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/poker/games/{game_id}/deal", api_poker_game_deal, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/history", api_history, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/events", api_events, 0},
	{EVHTTP_REQ_GET, "/api/tanks/{id}/lineage", api_lineage, C},
	{EVHTTP_REQ_GET, "/api/lineage", api_lineage_legacy, C},
	{EVHTTP_REQ_PUT, "/api/tanks/{id}/exits", api_exits_gated, U},
	{EVHTTP_REQ_POST, "/api/tanks/{id}/move", api_move_gated, U},
	{EVHTTP_REQ_GET, "/api/outbox", api_outbox, 0},
	{EVHTTP_REQ_POST, "/api/outbox/reserve", api_reserve_gated, U},
	{EVHTTP_REQ_GET, "/api/outbox/{transfer_id}", api_outbox_one, U},
	{EVHTTP_REQ_POST, "/api/outbox/{transfer_id}/commit", api_commit_gated, U},
	{EVHTTP_REQ_POST, "/api/outbox/{transfer_id}/abort", api_abort_gated, U},
	{EVHTTP_REQ_POST, "/api/outbox/{transfer_id}/attempt", api_attempt, U},
	{EVHTTP_REQ_POST, "/api/remote-transfer", api_remote_transfer_gated, 0},
	{EVHTTP_REQ_GET, "/api/inbox/{transfer_id}", api_inbox, 0},
	{EVHTTP_REQ_DELETE, "/api/inbox/{transfer_id}", api_inbox_forget, 0},
	{EVHTTP_REQ_GET, "/health", api_health, 0},
	{EVHTTP_REQ_GET, "/metrics", api_metrics, ROUTE_TRUSTED},
};

struct http_server *api_new(struct simd *sd)
{
	/* DESIGN §9: read-only GETs allow CORS (the web viewer may live elsewhere). The
	 * largest body any route takes is a fish, a few kB; a body is parsed on the event
	 * loop, and 950 kB of small objects held it 180 ms (an attacker's audit with the
	 * token, 7 December), so bodies stop at 256 KiB (1 MiB before). */
	return daemon_http_server(sd->daemon, routes, sizeof routes / sizeof routes[0], sd,
				  (struct http_server_opts){.max_body = 256u << 10,
							    .cors_read_only = true});
}
