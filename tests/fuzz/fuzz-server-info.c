/* Fuzz target: an untrusted ServerInfo body (POST /api/servers), an untrusted registry
 * state file and journal record, and a hub's diff page as a worker applies it, all
 * from the same bytes. Built with fuzz-main.c for
 * `make check` (corpus replay plus mutations) and with libFuzzer by `make fuzz`. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "log.h"
#include "discoveryd/hubpage.h"
#include "discoveryd/registry.h"
#include "util.h"

#include "fuzz.h"

/* Accepted: as a ServerInfo body or as a registry state file. */
int fuzz_verdict(const uint8_t *data, size_t size)
{
	int accepted = 0;
	static const struct registry_timing timing = {1, 3, 10};
	struct json_err e = {""};
	json_object *o = jv_parse_object((const char *)data, size, 16, &e);
	if (!o)
		return 0;

	struct server_info info;
	if (server_info_from_json(o, &info, &e) == 0) {
		accepted = 1;
		/* Whatever validated must be storable and serializable. */
		struct registry *r = registry_new("local", &timing);
		bool created;
		if (registry_register(r, &info, 100, true, &created) == 0) {
			const struct server_entry *en = registry_get(r, info.server_id);
			if (!en || strcmp(en->info.server_id, info.server_id) != 0)
				abort();
			/* The hand-written wire text must be JSON that says the same. */
			char *buf = NULL;
			size_t len = 0, cap = 0;
			registry_entry_append_json(r, en, 101, 101, NULL, &buf, &len, &cap);
			struct json_err pe;
			json_object *back = jv_parse_object(buf, len, 16, &pe);
			struct server_info again;
			if (!back || server_info_from_json(back, &again, &pe) < 0 ||
			    strcmp(again.hostname, info.hostname) != 0 ||
			    strcmp(again.platform, info.platform) != 0)
				abort();
			json_object_put(back);
			free(buf);
		}
		registry_free(r);
	}

	/* The same bytes as a journal record (a journal line is outside input too). */
	struct registry *rj = registry_new("local", &timing);
	struct json_err je = {""};
	if (registry_apply_record(rj, o, 100, &je) < 0 && je.msg[0] == '\0')
		abort();
	for (const struct server_entry *en = registry_changed_first(rj, 0); en;
	     en = registry_changed_next(en)) {
		char *buf = NULL;
		size_t len = 0, cap = 0;
		registry_entry_append_record(rj, en, 101, &buf, &len, &cap);
		free(buf);
	}
	registry_free(rj);

	/* The same bytes as a hub's diff page, applied to a worker's view of hub 1 as a
	 * full sync, then once more (a page pulled again after a lost answer). Whatever
	 * it lists must be a server the registry can keep and save. */
	struct hub_page pg;
	struct json_err ge = {""};
	if (hub_page_parse((const char *)data, size, &pg, &ge) == 0) {
		accepted = 1;
		struct registry *w = registry_new("local", &timing);
		registry_hub_full_begin(w, 1);
		hub_page_apply(&pg, w, 1, "fuzz", 100);
		registry_hub_full_end(w, 1, 100);
		hub_page_apply(&pg, w, 1, "fuzz", 101);
		for (const struct server_entry *en = registry_first(w); en; en = registry_next(en))
			if (!server_id_valid(en->info.server_id))
				abort();
		json_object *st = registry_to_state(w, 102);
		if (!jv_to_string(st))
			abort();
		json_object_put(st);
		registry_free(w);
		hub_page_free(&pg);
	} else if (ge.msg[0] == '\0') {
		abort(); /* a refused page says why */
	}

	/* The same bytes as a state file, into a fresh registry. */
	struct registry *r = registry_new("local", &timing);
	if (registry_from_state(r, o, &e) == 0) {
		accepted = 1;
		registry_sweep(r, 1e6, NULL, NULL);
		json_object *st = registry_to_state(r, 1e6);
		if (!jv_to_string(st))
			abort();
		json_object_put(st);
	} else if (e.msg[0] == '\0') {
		abort(); /* an error always says why */
	}
	registry_free(r);
	json_object_put(o);
	return accepted;
}
