/* The manifest (see manifest.h). One checksummed line (lines.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "lines.h"
#include "log.h"
#include "manifest.h"
#include "xalloc.h"

#define MANIFEST_VERSION 1

void manifest_write_or_die(const char *path, const struct manifest *m)
{
	json_object *o = json_object_new_object(), *segs = json_object_new_array(),
		    *tanks = json_object_new_array();
	json_object_object_add(o, "version", json_object_new_int(MANIFEST_VERSION));
	json_object_object_add(o, "server_id", json_object_new_string(m->server_id));
	json_object_object_add(o, "padded_from", json_object_new_uint64(m->padded_from));
	json_object_object_add(o, "journal_from", json_object_new_uint64(m->journal_from));
	for (size_t i = 0; i < m->n_segments; i++)
		json_object_array_add(segs, json_object_new_uint64(m->segments[i]));
	json_object_object_add(o, "journal_segments", segs);
	json_object_object_add(o, "transfers_seq", json_object_new_uint64(m->transfers_seq));
	for (size_t i = 0; i < m->n_tanks; i++) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "tank_id", json_object_new_string(m->tanks[i].id));
		json_object_object_add(t, "snapshot_seq", json_object_new_uint64(m->tanks[i].seq));
		json_object_array_add(tanks, t);
	}
	json_object_object_add(o, "tanks", tanks);
	const char *text = jv_to_string(o);
	size_t len;
	char *line = line_frame(text, strlen(text), &len);
	fs_write_atomic_or_die(path, line, len);
	free(line);
	json_object_put(o);
}

__attribute__((noreturn)) static void damaged(const char *path, const char *what)
{
	fatal("%s is damaged: %s. It lists what simd's state must hold; restore it from a "
	      "backup (or, knowing that nothing then checks for lost files, move it away)",
	      path, what);
}

int manifest_load(const char *path, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	char *text;
	size_t len;
	int r = fs_read_file(path, 1u << 26, &text, &len);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		fatal("cannot read %s: %s", path, fs_read_error(r));
	char why[600];
	const char *json;
	size_t json_len;
	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len - 1)) {
		free(text);
		damaged(path, "line 1: it is not exactly one complete line");
	}
	if (line_check(text, len - 1, &json, &json_len, why, sizeof why) != LINE_OK) {
		char m2[700];
		snprintf(m2, sizeof m2, "line 1: %s", why);
		free(text);
		damaged(path, m2);
	}
	struct json_err e;
	json_object *o = jv_parse_object(json, json_len, 16, &e), *segs, *tanks;
	free(text);
	int version;
	int64_t from, xseq, padded = 0;
	const char *sid = "";
	if (!o ||
	    jv_int(o, "version", true, MANIFEST_VERSION, MANIFEST_VERSION, &version, &e) < 0 ||
	    jv_string(o, "server_id", false, 0, SERVER_ID_MAX, &sid, &e) < 0 ||
	    jv_int64(o, "padded_from", false, 0, INT64_MAX, &padded, &e) < 0 ||
	    jv_int64(o, "journal_from", true, 0, INT64_MAX, &from, &e) < 0 ||
	    jv_int64(o, "transfers_seq", true, 0, INT64_MAX, &xseq, &e) < 0 ||
	    jv_array(o, "journal_segments", true, 1000000, &segs, &e) < 0 ||
	    jv_array(o, "tanks", true, 1000000, &tanks, &e) < 0) {
		json_object_put(o);
		snprintf(why, sizeof why, "line 1: %s", e.msg);
		damaged(path, why);
	}
	snprintf(m->server_id, sizeof m->server_id, "%s", sid);
	m->padded_from = (uint64_t)padded;
	m->journal_from = (uint64_t)from;
	m->transfers_seq = (uint64_t)xseq;
	m->n_segments = json_object_array_length(segs);
	m->segments = xcalloc(m->n_segments + 1, sizeof *m->segments);
	m->n_tanks = json_object_array_length(tanks);
	m->tanks = xcalloc(m->n_tanks + 1, sizeof *m->tanks);
	for (size_t i = 0; i < m->n_segments; i++) {
		json_object *s = json_object_array_get_idx(segs, i);
		if (!json_object_is_type(s, json_type_int) || json_object_get_int64(s) < 1) {
			snprintf(why, sizeof why,
				 "line 1: field 'journal_segments[%zu]' is not a "
				 "segment number",
				 i);
			damaged(path, why);
		}
		m->segments[i] = (uint64_t)json_object_get_int64(s);
	}
	for (size_t i = 0; i < m->n_tanks; i++) {
		json_object *t = json_object_array_get_idx(tanks, i);
		const char *id;
		int64_t seq;
		if (!json_object_is_type(t, json_type_object) ||
		    jv_string(t, "tank_id", true, 1, TANK_ID_MAX, &id, &e) < 0 ||
		    jv_int64(t, "snapshot_seq", true, 0, INT64_MAX, &seq, &e) < 0) {
			snprintf(why, sizeof why, "line 1: field 'tanks[%zu]': %s", i,
				 json_object_is_type(t, json_type_object) ? e.msg : "not an object");
			damaged(path, why);
		}
		snprintf(m->tanks[i].id, sizeof m->tanks[i].id, "%s", id);
		m->tanks[i].seq = (uint64_t)seq;
	}
	json_object_put(o);
	return 0;
}

struct manifest_tank *manifest_find_tank(struct manifest *m, const char *id)
{
	for (size_t i = 0; i < m->n_tanks; i++)
		if (strcmp(m->tanks[i].id, id) == 0)
			return &m->tanks[i];
	return NULL;
}

void manifest_free(struct manifest *m)
{
	free(m->segments);
	free(m->tanks);
	memset(m, 0, sizeof *m);
}
