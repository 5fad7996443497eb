/* Reading a hub's diff page (hubpage.h). */
#include "config.h"

#include <string.h>

#include "hubpage.h"
#include "log.h"
#include "util.h"

int hub_page_parse(const char *body, size_t len, struct hub_page *p, struct json_err *e)
{
	memset(p, 0, sizeof *p);
	p->revision = -1;
	json_object *o = jv_parse_object(body, len, 16, e), *rv;
	if (!o || jv_array(o, "servers", true, 1000000, &p->servers, e) < 0 ||
	    jv_string(o, "epoch", false, 1, 32, &p->epoch, e) < 0 ||
	    jv_string(o, "listing", false, 1, 32, &p->listing, e) < 0 ||
	    jv_array(o, "removed", false, 1000000, &p->removed, e) < 0 ||
	    jv_bool(o, "more", false, &p->more, e) < 0 ||
	    jv_bool(o, "reset", false, &p->reset, e) < 0)
		goto bad;
	/* The epoch goes back into the next page's URL: one that is not 16 hex digits (a
	 * hub's own format) drew a 400 or a URL curl refused on every later pull, and the
	 * worker never synced with that hub again. */
	if ((p->epoch && !hex16_valid(p->epoch)) || (p->listing && !hex16_valid(p->listing))) {
		jv_fail(e, "field 'epoch' or 'listing' is not 16 hex digits");
		goto bad;
	}
	/* json-c caps a larger number at 2^63-1: a worker took that for a revision, asked
	 * for the same page for ever and stopped heartbeating that hub. */
	if (json_object_object_get_ex(o, "revision", &rv)) {
		if (!json_object_is_type(rv, json_type_int) || json_object_get_int64(rv) < 0 ||
		    (uint64_t)json_object_get_int64(rv) > REGISTRY_REV_MAX) {
			jv_fail(e, "field 'revision' is not a revision (0 to 2^53)");
			goto bad;
		}
		p->revision = json_object_get_int64(rv);
	}
	p->root = o;
	return 0;
bad:
	json_object_put(o);
	memset(p, 0, sizeof *p);
	return -1;
}

static bool parse_listed(json_object *s, struct registry_learned *l, struct json_err *e)
{
	const char *status = NULL;
	double age = 0;
	bool direct = true; /* a hub without the field (the original) hears all it lists */
	if (server_info_from_json(s, &l->info, e) < 0 ||
	    jv_double(s, "heartbeat_age_seconds", false, 0, 1e10, &age, e) < 0 ||
	    jv_string(s, "status", false, 1, 16, &status, e) < 0 ||
	    jv_bool(s, "direct", false, &direct, e) < 0)
		return false;
	l->direct = direct;
	l->heartbeat_age = age;
	l->status = SERVER_ONLINE;
	if (status && server_status_from_name(status, &l->status) < 0) {
		jv_fail(e, "unknown status '%s'", status);
		return false;
	}
	return true;
}

size_t hub_page_apply(const struct hub_page *p, struct registry *reg, unsigned hub, const char *url,
		      double now)
{
	/* Removals first: a page may hold a server both live and removed (unregistered,
	 * then registered again: the old entry's tombstone and the new entry are two
	 * changes), and the live entry is always the newer one. Applied the other way, the
	 * server came back unlisted and was dropped 3 s later while it heartbeated. */
	size_t changes = 0, nr = p->removed ? json_object_array_length(p->removed) : 0;
	for (size_t i = 0; i < nr; i++) {
		const char *id = jv_str(json_object_array_get_idx(p->removed, i));
		if (id && server_id_valid(id))
			changes += registry_hub_removed(reg, hub, id, now);
	}
	size_t n = json_object_array_length(p->servers), bad = 0;
	struct json_err first;
	for (size_t i = 0; i < n; i++) {
		struct registry_learned l;
		struct json_err e;
		if (!parse_listed(json_object_array_get_idx(p->servers, i), &l, &e)) {
			if (bad++ == 0)
				first = e;
			continue;
		}
		changes += registry_hub_report(reg, hub, &l, now);
	}
	/* One line a page, not one an entry: a hub listing thousands of bad entries
	 * wrote thousands of lines a pull. */
	if (bad)
		log_warn("hub %s listed %zu invalid server(s), ignoring them: %s%s", url, bad,
			 first.msg, bad > 1 ? " (the first)" : "");
	hub_log_refused(reg, "hub", url);
	return changes;
}

void hub_log_refused(struct registry *reg, const char *what, const char *name)
{
	size_t n = registry_take_refused(reg);
	if (n)
		log_warn("%s %s listed %zu server(s) past [discovery] max_servers (%zu): not "
			 "learned",
			 what, name, n, registry_max_servers(reg));
}

void hub_page_free(struct hub_page *p)
{
	json_object_put(p->root);
	memset(p, 0, sizeof *p);
}
