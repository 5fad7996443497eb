/* tankctl's commands for migrated: connections, the transfer history, passes. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tankctl.h"
#include "util.h"

void print_connections(struct table *t, json_object *list)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *c = json_object_array_get_idx(list, i);
		char a[16], b[16];
		table_row(t);
		table_cell(t, "%s", field_str(c, "id"));
		table_cell(t, "%s/%s", field_str(c, "sourceServerId"),
			   short_id(field_str(c, "sourceId"), a));
		table_cell(t, "%s/%s", field_str(c, "destinationServerId"),
			   short_id(field_str(c, "destinationId"), b));
		table_cell(t, "%" PRId64 "%%", field_int(c, "probability"));
		table_cell(t, "%s", field_str(c, "direction"));
		/* migrated's runtime state: paused after refusals, broken (tank gone), or
		 * unreachable (the destination server cannot take fish: wall closed). */
		const char *state = field_str(c, "state"), *reason = field_str(c, "reason");
		json_object *retry;
		if (!*state || strcmp(state, "ok") == 0)
			table_cell(t, "ok");
		else if (strcmp(state, "broken") == 0)
			table_cell(t, "BROKEN: %s", *reason ? reason : "destination tank gone");
		else if (strcmp(state, "unreachable") == 0)
			table_cell(t, "unreachable: server %s cannot take fish",
				   field_str(c, "destinationServerId"));
		else if (json_object_object_get_ex(c, "retryInSeconds", &retry) && retry)
			table_cell(t, "backing off %.0f s: %s", json_object_get_double(retry),
				   reason);
		else
			table_cell(t, "probing: %s", reason);
	}
}

/* The tank id a --tank filter names. Connections and the history name remote tanks
 * too, which this server cannot look up: a whole id is taken as it is, a name or a prefix
 * is looked up among this server's tanks (*held keeps the tank found, the caller's to
 * put). NULL after saying why. */
static const char *filter_tank(struct ctl *ctl, const char *tank, json_object **held)
{
	*held = NULL;
	if (object_id_valid(tank, 64) && strlen(tank) >= 36)
		return tank;
	if (!(*held = find_tank(ctl, tank)))
		return NULL;
	return tank_id_of(*held);
}

/* ---- connections ---- */

int cmd_connections(struct ctl *ctl, const struct cmd_opts *o)
{
	char path[256] = "/api/connections";
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	if (o->tank) {
		json_object *s;
		const char *tid = filter_tank(ctl, o->tank, &s);
		if (!tid)
			return EXIT_FAIL;
		char *esc = url_escape(ctl, tid);
		snprintf(path, sizeof path, "/api/connections?tank_id=%s", esc);
		free(esc);
		json_object_put(s);
	}
	struct reply r;
	if (ctl_call(ctl, &ctl->mig, "GET", path, NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
	} else {
		struct table *t = table_new(6, "ID", "FROM", "TO", ">PROB", "WALL", "STATE");
		print_connections(t, field_arr(r.json, "connections"));
		table_print(t, stdout);
		printf("%zu connection(s)\n", table_rows(t));
		table_free(t);
	}
	reply_free(&r);
	return 0;
}

/* The id of the tank arg names on server_id, asked of that server's simd as a local
 * tank is (an id, a unique prefix, a name): a prefix taken as given made a connection
 * to a tank that does not exist, broken two seconds later. A server that cannot be
 * asked now (unknown, down) has arg taken as its tank's id, with a warning: a
 * connection may be made before its destination is up. Written to id; -1 after a
 * message. */
static int remote_tank_id(struct ctl *ctl, const char *server_id, const char *arg, char *id,
			  size_t n)
{
	struct ctl_server *srv;
	size_t ns;
	if (ctl_servers(ctl, &srv, &ns) < 0)
		return -1;
	const struct ctl_server *sv = NULL;
	for (size_t i = 0; i < ns && !sv; i++)
		if (strcmp(srv[i].id, server_id) == 0 && srv[i].ok)
			sv = &srv[i];
	struct reply r = {0};
	if (!sv || ctl_request(ctl, &sv->sim, "GET", "/api/tanks", NULL, &r) < 0) {
		fprintf(stderr,
			"tankctl: warning: cannot look up tank '%.64s' on %.64s (%s): taken as "
			"its id\n",
			arg, server_id, sv ? r.err : "a server discoveryd does not list");
		reply_free(&r);
		free(srv);
		snprintf(id, n, "%s", arg);
		return 0;
	}
	reply_free(&r);
	struct endpoint mine = ctl->sim;
	ctl->sim = sv->sim;
	json_object *s = find_tank(ctl, arg);
	ctl->sim = mine;
	free(srv);
	if (!s)
		return -1;
	snprintf(id, n, "%s", tank_id_of(s));
	json_object_put(s);
	return 0;
}

int cmd_connect(struct ctl *ctl, const char *src, const char *dst, const struct cmd_opts *o)
{
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	json_object *s = find_tank(ctl, src);
	if (!s)
		return EXIT_FAIL;
	json_object *body = json_object_new_object();
	json_object_object_add(body, "source_tank_id", json_object_new_string(tank_id_of(s)));
	json_object_put(s);
	if (o->dest_server) {
		char id[256];
		if (remote_tank_id(ctl, o->dest_server, dst, id, sizeof id) < 0) {
			json_object_put(body);
			return EXIT_FAIL;
		}
		json_object_object_add(body, "destination_tank_id", json_object_new_string(id));
		json_object_object_add(body, "destination_server_id",
				       json_object_new_string(o->dest_server));
	} else {
		json_object *d = find_tank(ctl, dst);
		if (!d) {
			json_object_put(body);
			return EXIT_FAIL;
		}
		json_object_object_add(body, "destination_tank_id",
				       json_object_new_string(tank_id_of(d)));
		json_object_put(d);
	}
	if (o->given & O_PROB)
		json_object_object_add(body, "probability",
				       json_object_new_int((int)o->probability));
	if (o->direction)
		json_object_object_add(body, "direction", json_object_new_string(o->direction));
	if (o->id)
		json_object_object_add(body, "id", json_object_new_string(o->id));
	struct reply r;
	int rc = ctl_call(ctl, &ctl->mig, "POST", "/api/connections", body, &r);
	json_object_put(body);
	if (rc < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
	} else {
		char a[16], b[16];
		printf("connection %s %s: %s/%s -> %s/%s, %" PRId64 "%%, %s wall\n",
		       field_str(r.json, "id"), r.status == 201 ? "created" : "updated",
		       field_str(r.json, "sourceServerId"),
		       short_id(field_str(r.json, "sourceId"), a),
		       field_str(r.json, "destinationServerId"),
		       short_id(field_str(r.json, "destinationId"), b),
		       field_int(r.json, "probability"), field_str(r.json, "direction"));
	}
	reply_free(&r);
	return 0;
}

int cmd_disconnect(struct ctl *ctl, const char *id)
{
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	char *esc = url_escape(ctl, id);
	char path[512];
	snprintf(path, sizeof path, "/api/connections/%s", esc);
	free(esc);
	struct reply r;
	if (ctl_call(ctl, &ctl->mig, "DELETE", path, NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		print_json(r.json);
	else
		printf("connection %s deleted\n",
		       field_str(r.json, "id")[0] ? field_str(r.json, "id") : id);
	reply_free(&r);
	return 0;
}

/* ---- transfers ---- */

static void transfer_row(struct table *t, json_object *x)
{
	char a[16], b[16], c[16], d[16], ts[24];
	/* The reservation's time: the list is in that order (the last change's time,
	 * "timestamp", read out of order). */
	snprintf(ts, sizeof ts, "%.19s", field_str(x, "created_at"));
	if (strlen(ts) > 10)
		ts[10] = ' ';
	table_row(t);
	table_cell(t, "%s", ts);
	table_cell(t, "%s", short_id(field_str(x, "transfer_id"), a));
	bool plant = strcmp(field_str(x, "entity_type"), "plant") == 0;
	const char *old = field_str(x, "entity_old_id"); /* none: a refused move in a server */
	table_cell(t, "%s%s", *old ? short_id(old, b) : "-", plant ? " (plant)" : "");
	table_cell(t, "%s/%s", field_str(x, "source_server_id"),
		   short_id(field_str(x, "source_tank_id"), c));
	table_cell(t, "%s/%s", field_str(x, "destination_server_id"),
		   short_id(field_str(x, "destination_tank_id"), d));
	table_cell(t, "%s", field_str(x, "state"));
	table_cell(t, "%" PRId64, field_int(x, "attempts"));
	char err[256];
	table_cell(t, "%s", clip(field_str(x, "error"), 60, err, sizeof err));
}

int cmd_transfers(struct ctl *ctl, const struct cmd_opts *o)
{
	char path[512];
	int n = snprintf(path, sizeof path, "/api/transfers?limit=%ld",
			 o->given & O_LIMIT ? o->limit : 20);
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	if (o->tank) {
		json_object *s;
		const char *tid = filter_tank(ctl, o->tank, &s);
		if (!tid)
			return EXIT_FAIL;
		char *esc = url_escape(ctl, tid);
		n += snprintf(path + n, sizeof path - (size_t)n, "&tank_id=%s", esc);
		free(esc);
		json_object_put(s);
	}
	if (o->given & O_SUCCESS)
		snprintf(path + n, sizeof path - (size_t)n, "&success_only=true");
	struct reply r;
	if (ctl_call(ctl, &ctl->mig, "GET", path, NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
	} else {
		struct table *t = table_new(8, "CREATED (UTC)", "TRANSFER", "FISH", "FROM", "TO",
					    "STATE", ">ATTEMPTS", "ERROR");
		json_object *list = field_arr(r.json, "transfers");
		for (size_t i = 0; list && i < json_object_array_length(list); i++)
			transfer_row(t, json_object_array_get_idx(list, i));
		table_print(t, stdout);
		printf("%zu transfer(s), newest first; ids shortened (--json for whole ones)\n",
		       table_rows(t));
		table_free(t);
	}
	reply_free(&r);
	return 0;
}

/* The transfer a short id (as the tables print it) names among the newest 10,000
 * records; written to full. 0, or an exit status after a message. */
static int transfer_prefix(struct ctl *ctl, const char *prefix, char *full, size_t n)
{
	struct reply r;
	if (ctl_call(ctl, &ctl->mig, "GET", "/api/transfers?limit=10000", NULL, &r) < 0)
		return EXIT_FAIL;
	size_t hits;
	json_object *x = prefix_match(field_arr(r.json, "transfers"), "transfer_id", prefix, &hits);
	if (x)
		snprintf(full, n, "%s", field_str(x, "transfer_id"));
	reply_free(&r);
	if (hits == 1)
		return 0;
	if (hits == 0)
		fprintf(stderr, "tankctl: no transfer %s among the newest 10000\n", prefix);
	else
		fprintf(stderr, "tankctl: '%s' names %zu transfers; give more of the id\n", prefix,
			hits);
	return EXIT_FAIL;
}

int cmd_transfer_show(struct ctl *ctl, const char *id)
{
	char full[UUID_STR_LEN];
	size_t len = strlen(id);
	if (len == 0 || len > 36 || strspn(id, "0123456789abcdef-") != len) {
		fprintf(stderr, "tankctl: '%.64s' is not a transfer id (a UUID, or its start)\n",
			id);
		return EXIT_USAGE;
	}
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	snprintf(full, sizeof full, "%s", id);
	int rc;
	if (len < 36 && (rc = transfer_prefix(ctl, id, full, sizeof full)) != 0)
		return rc;
	char path[128];
	snprintf(path, sizeof path, "/api/transfers/%s", full);
	struct reply r;
	if (ctl_call(ctl, &ctl->mig, "GET", path, NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
	} else {
		/* Its keys are longer than kv's column (source_server_id): one column of
		 * their own width. */
		int w = 0;
		json_object_object_foreach (r.json, k0, v0) {
			(void)v0;
			w = (int)strlen(k0) > w ? (int)strlen(k0) : w;
		}
		json_object_object_foreach (r.json, k, v) {
			kv_wide(w, k, "%s", value_text(v));
		}
	}
	reply_free(&r);
	return 0;
}

int cmd_migrate(struct ctl *ctl)
{
	struct reply r;
	if (ctl_resolve(ctl) < 0 ||
	    ctl_call(ctl, &ctl->mig, "POST", "/api/migrations/run", NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
	} else {
		printf("pass %" PRId64 ": %" PRId64 " connection(s), %" PRId64 " hit(s), %" PRId64
		       " reserved, %" PRId64 " moved locally, %" PRId64 " refused, %" PRId64
		       " error(s)\n",
		       field_int(r.json, "pass"), field_int(r.json, "connections"),
		       field_int(r.json, "hits"), field_int(r.json, "reserved"),
		       field_int(r.json, "moved_local"), field_int(r.json, "refused"),
		       field_int(r.json, "errors"));
		json_object *ids = field_arr(r.json, "transfer_ids");
		for (size_t i = 0; ids && i < json_object_array_length(ids); i++)
			printf("  transfer %s\n", value_text(json_object_array_get_idx(ids, i)));
	}
	/* A pass that could not run (simd not answering) is still a 200 with its summary;
	 * its "error" says why, and printing "0 connection(s)" with exit 0 hid it. */
	const char *err = field_str(r.json, "error");
	bool failed = *err != '\0';
	if (failed)
		fprintf(stderr, "tankctl: the pass did not run: %s\n", err);
	reply_free(&r); /* err points into it */
	return failed ? EXIT_FAIL : 0;
}
