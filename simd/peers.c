/* Which servers simd accepts fish from (issue 9): the ones this server's discoveryd
 * knows. discoveryd keeps them in state_dir/discovery/registry.journal, checksummed
 * JSON lines (lines.h; bare JSON from an older discoveryd): a record with "server_id"
 * per change, {"removed": id} when one goes, checkpoints (registry.json, the single
 * document of earlier versions, when there is no journal). simd reads the file again
 * only when a sender is not in its copy and the file has changed since, so a steady
 * stream of arrivals costs one stat each. Without a registry (simd run on its own, as
 * some tests and benches do) there is nothing to check against, and every sender is
 * accepted. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "jsonv.h"
#include "lines.h"
#include "log.h"
#include "simd.h"

struct peers {
	char *path;
	struct timespec mtime;
	off_t size;
	bool loaded;
	json_object *ids; /* server_id -> true */
};

static struct peers *peers_get(struct simd *sd)
{
	static struct peers p;
	if (!p.path)
		p.path = fs_path_join(sd->daemon->conf.server.state_dir,
				      "discovery/registry.journal");
	return &p;
}

static void fold_line(json_object *ids, const char *line, size_t len)
{
	struct json_err e;
	const char *json;
	size_t json_len;
	char why[100];
	/* Checksummed lines (lines.h), or an older discoveryd's bare JSON. One that fails
	 * its checksum is left out: discoveryd refuses the whole file at its next start. */
	if (line_check(line, len, &json, &json_len, why, sizeof why) == LINE_BAD)
		return;
	json_object *o = jv_parse_object(json, json_len, 16, &e), *list;
	if (!o)
		return; /* a torn last line, or a checkpoint we do not need */
	const char *id;
	if (jv_string(o, "removed", true, 1, 64, &id, &e) > 0)
		json_object_object_del(ids, id);
	else if (jv_string(o, "server_id", true, 1, SERVER_ID_MAX, &id, &e) > 0)
		json_object_object_add(ids, id, json_object_new_boolean(true));
	else if (json_object_object_get_ex(o, "servers", &list) &&
		 json_object_is_type(list, json_type_array)) /* the old registry.json */
		for (size_t i = 0; i < json_object_array_length(list); i++)
			if (jv_string(json_object_array_get_idx(list, i), "server_id", true, 1,
				      SERVER_ID_MAX, &id, &e) > 0)
				json_object_object_add(ids, id, json_object_new_boolean(true));
	json_object_put(o);
}

static void peers_reload(struct peers *p, const char *path, const struct stat *st)
{
	char *text;
	size_t len;
	if (fs_read_file(path, 256u << 20, &text, &len) < 0)
		return;
	json_object *ids = json_object_new_object();
	for (char *line = text, *end = text + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (n)
			fold_line(ids, line, n);
		line += n + 1;
	}
	free(text);
	json_object_put(p->ids);
	p->ids = ids;
	p->mtime = st->st_mtim;
	p->size = st->st_size;
	p->loaded = true;
}

int peers_check(struct simd *sd, const char *server_id)
{
	if (strcmp(server_id, sd->daemon->conf.server.server_id) == 0)
		return 0;
	struct peers *p = peers_get(sd);
	if (p->loaded && json_object_object_get_ex(p->ids, server_id, NULL))
		return 0;
	struct stat st;
	const char *path = p->path;
	char *legacy = NULL;
	if (stat(path, &st) < 0) {
		legacy = fs_path_join(sd->daemon->conf.server.state_dir, "discovery/registry.json");
		path = legacy;
		if (stat(path, &st) < 0) {
			free(legacy);
			return p->loaded ? -ENOENT : 0; /* no discoveryd here: nothing to check */
		}
	}
	if (!p->loaded || st.st_mtim.tv_sec != p->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != p->mtime.tv_nsec || st.st_size != p->size)
		peers_reload(p, path, &st);
	free(legacy);
	if (!p->loaded)
		return 0;
	return json_object_object_get_ex(p->ids, server_id, NULL) ? 0 : -ENOENT;
}
