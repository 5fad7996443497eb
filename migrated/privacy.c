/* What a caller without the token may see of this server's tanks through migrated: only
 * what concerns public ones, as simd shows them (docs/http.md). migrated does not know a
 * tank's privacy itself; simd writes the ids of its public tanks to
 * state_dir/sim/public-tanks.json (simd/main.c), read again here only when it changed
 * (a stat at most every 100 ms, as simd reads discoveryd's registry when it changed). A local tank not listed there
 * is taken as private: one made since simd last wrote is hidden for a moment, never
 * shown, and with no file at all (simd never ran here) nothing local is shown. Tanks of
 * other servers are theirs to hide: their ids in this server's records are shown. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "jsonv.h"
#include "migrated.h"
#include "util.h"

static struct {
	char *path;
	struct timespec mtime;
	off_t size;
	double checked;	  /* when it was last looked at (now_mono) */
	json_object *ids; /* tank id -> true; NULL until read */
} pub;

static void reload(const char *path, const struct stat *st)
{
	char *text;
	size_t len;
	json_object *ids = json_object_new_object();
	if (fs_read_file(path, 64u << 20, &text, &len) == 0) {
		struct json_err e;
		json_object *o = jv_parse_object_nul(text, len, 4, &e), *list;
		if (o && json_object_object_get_ex(o, "public", &list) &&
		    json_object_is_type(list, json_type_array))
			for (size_t i = 0; i < json_object_array_length(list); i++) {
				const char *id = jv_str(json_object_array_get_idx(list, i));
				if (id)
					json_object_object_add(ids, id,
							       json_object_new_boolean(true));
			}
		json_object_put(o);
		free(text);
	}
	json_object_put(pub.ids);
	pub.ids = ids;
	pub.mtime = st->st_mtim;
	pub.size = st->st_size;
}

bool privacy_tank_public(struct migrated *md, const char *tank_id)
{
	if (!pub.path)
		pub.path = fs_path_join(md->daemon->conf.server.state_dir, "sim/public-tanks.json");
	/* One stat for a whole list, not one for each of its records; sooner for a tank it
	 * would hide (simd names a new public tank there just before it answers). */
	double now = now_mono();
	bool known = pub.ids && json_object_object_get_ex(pub.ids, tank_id, NULL);
	if (now - pub.checked > (known ? 0.1 : 0.001)) {
		pub.checked = now;
		struct stat st;
		if (stat(pub.path, &st) < 0) {
			json_object_put(pub.ids);
			pub.ids = NULL; /* read again when it is back */
		} else if (!pub.ids || st.st_mtim.tv_sec != pub.mtime.tv_sec ||
			   st.st_mtim.tv_nsec != pub.mtime.tv_nsec || st.st_size != pub.size) {
			reload(pub.path, &st);
		}
	}
	return pub.ids && json_object_object_get_ex(pub.ids, tank_id, NULL);
}

static bool hides(struct migrated *md, const char *server_id, const char *tank_id)
{
	bool local = !server_id[0] || strcmp(server_id, md->daemon->conf.server.server_id) == 0;
	return local && !privacy_tank_public(md, tank_id);
}

bool privacy_hides_transfer(struct migrated *md, const struct transfer_record *r)
{
	return hides(md, r->source_server_id, r->source_tank_id) ||
	       hides(md, r->local ? "" : r->destination_server_id, r->destination_tank_id);
}

bool privacy_hides_connection(struct migrated *md, const struct connection *c)
{
	return !privacy_tank_public(md, c->source_tank_id) ||
	       (connection_is_local(c) && !privacy_tank_public(md, c->destination_tank_id));
}

static bool hides_json(struct migrated *md, json_object *o)
{
	const char *ss = jv_member_str(o, "source_server_id"),
		   *st = jv_member_str(o, "source_tank_id");
	const char *ds = jv_member_str(o, "destination_server_id");
	const char *dt = jv_member_str(o, "destination_tank_id");
	return (st && hides(md, ss ? ss : "", st)) || (dt && hides(md, ds ? ds : "", dt));
}

json_object *privacy_shown(struct migrated *md, json_object *list)
{
	json_object *shown = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);
		if (!hides_json(md, x))
			json_object_array_add(shown, json_object_get(x));
	}
	json_object_put(list);
	return shown;
}

void privacy_hide_pass(struct migrated *md, json_object *status)
{
	json_object *last, *ids;
	if (!json_object_object_get_ex(status, "last_pass", &last) ||
	    !json_object_object_get_ex(last, "transfer_ids", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return;
	/* The summary is the pass's own (shared): changed in a copy. An id whose record is
	 * gone from the history says nothing of its tanks and stays. */
	json_object *copy = NULL, *shown = json_object_new_array();
	json_object_deep_copy(last, &copy, NULL);
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		const char *x = jv_str(json_object_array_get_idx(ids, i));
		const struct transfer_record *r = x ? history_get(md->history, x) : NULL;
		if (x && (!r || !privacy_hides_transfer(md, r)))
			json_object_array_add(shown, json_object_new_string(x));
	}
	json_object_object_add(copy, "transfer_ids", shown);
	json_object_object_add(status, "last_pass", copy);
}

void privacy_free(void)
{
	json_object_put(pub.ids);
	free(pub.path);
	memset(&pub, 0, sizeof pub);
}
