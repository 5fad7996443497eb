/* tankctl's commands about servers, tanks and fish. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tankctl.h"
#include "util.h"

/* ---- tanks ---- */

/* The TankStatus of a tank named by id, unique id prefix or name. NULL after printing
 * why not. */
json_object *find_tank(struct ctl *ctl, const char *arg)
{
	struct reply r;
	if (ctl_resolve(ctl) < 0)
		return NULL;
	if (object_id_valid(arg, 64)) {
		char path[128];
		snprintf(path, sizeof path, "/api/tanks/%s", arg);
		if (ctl_request(ctl, &ctl->sim, "GET", path, NULL, &r) < 0) {
			reply_report(&ctl->sim, &r);
			reply_free(&r);
			return NULL;
		}
		if (r.status == 200 && r.json) {
			json_object *o = json_object_get(r.json);
			reply_free(&r);
			return o;
		}
		if (r.status != 404) {
			reply_report(&ctl->sim, &r);
			reply_free(&r);
			return NULL;
		}
		reply_free(&r);
	}
	if (ctl_call(ctl, &ctl->sim, "GET", "/api/tanks?include_private=true", NULL, &r) < 0)
		return NULL;
	json_object *tanks = ja(r.json, "tanks"), *found = NULL;
	size_t n = tanks ? json_object_array_length(tanks) : 0, matches = 0, alen = strlen(arg);
	for (int exact = 1; exact >= 0 && matches == 0; exact--) {
		for (size_t i = 0; i < n; i++) {
			json_object *t = jo(json_object_array_get_idx(tanks, i), "tank");
			const char *id = js(t, "tank_id"), *name = js(t, "name");
			bool hit = exact ? strcmp(name, arg) == 0 : strncmp(id, arg, alen) == 0;
			if (hit) {
				matches++;
				found = json_object_array_get_idx(tanks, i);
			}
		}
	}
	if (matches == 1) {
		json_object_get(found);
		reply_free(&r);
		return found;
	}
	char clean[256];
	snprintf(clean, sizeof clean, "%s", arg);
	sanitize(clean);
	if (matches == 0)
		fprintf(stderr, "tankctl: unknown tank '%s' on %s\n", clean, ctl->sim.what);
	else
		fprintf(stderr, "tankctl: '%s' names %zu tanks; give more of the id\n", clean, matches);
	reply_free(&r);
	return NULL;
}

const char *tank_id_of(json_object *status)
{
	return js(jo(status, "tank"), "tank_id");
}

int cmd_servers(struct ctl *ctl)
{
	struct reply r;
	if (ctl_call(ctl, &ctl->disc, "GET", "/api/discovery/servers", NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
		reply_free(&r);
		return 0;
	}
	json_object *list = ja(r.json, "servers");
	struct table *t = table_new(7, "ID", "STATUS", "HOST", "PORTS", ">TANKS", ">AGE", "VERSION");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i);
		char age[32];
		fmt_age(jd(s, "heartbeat_age_seconds"), age, sizeof age);
		table_row(t);
		table_cell(t, "%s%s", js(s, "server_id"), jb(s, "is_local") ? " *" : "");
		table_cell(t, "%s", js(s, "status"));
		table_cell(t, "%s", js(s, "host"));
		table_cell(t, "%" PRId64 "/%" PRId64 "/%" PRId64, ji(s, "discovery_port"), ji(s, "port"),
			   ji(s, "migration_port"));
		table_cell(t, "%" PRId64, ji(s, "tank_count"));
		table_cell(t, "%s", age);
		table_cell(t, "%s", js(s, "version"));
	}
	table_print(t, stdout);
	printf("%zu server(s); * this server; ports: discoveryd/simd/migrated\n", table_rows(t));
	table_free(t);
	reply_free(&r);
	return 0;
}

int cmd_tanks(struct ctl *ctl)
{
	struct reply r;
	if (ctl_resolve(ctl) < 0 ||
	    ctl_call(ctl, &ctl->sim, "GET", "/api/tanks?include_private=true", NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
		reply_free(&r);
		return 0;
	}
	json_object *list = ja(r.json, "tanks");
	const char *def = js(r.json, "default_tank_id");
	struct table *t = table_new(10, "ID", "NAME", ">FISH", ">GEN", ">BIRTHS", ">DEATHS",
				    ">IN TRANSIT", "PAUSED", ">FPS", ">FRAME");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i), *m = jo(s, "tank"),
			    *st = jo(s, "stats");
		table_row(t);
		table_cell(t, "%s%s", js(m, "tank_id"), strcmp(js(m, "tank_id"), def) == 0 ? " *" : "");
		char name[256];
		table_cell(t, "%s", clip(js(m, "name"), 40, name, sizeof name));
		table_cell(t, "%" PRId64, ji(st, "fish_count"));
		table_cell(t, "%" PRId64, ji(st, "generation"));
		table_cell(t, "%" PRId64, ji(st, "births"));
		table_cell(t, "%" PRId64, ji(st, "deaths"));
		table_cell(t, "%" PRId64, ji(st, "in_transit"));
		table_cell(t, "%s", jb(s, "paused") ? "yes" : "no");
		table_cell(t, "%.1f", jd(s, "fps"));
		table_cell(t, "%" PRId64, ji(s, "frame"));
	}
	table_print(t, stdout);
	printf("%zu tank(s)%s\n", table_rows(t), *def ? "; * the default tank" : "");
	table_free(t);
	reply_free(&r);
	return 0;
}

static void print_exit(const char *wall, json_object *x)
{
	if (!x)
		kv(wall, "closed");
	else
		kv(wall, "open to %s/%s (connection %s)", js(x, "destination_server_id"),
		   js(x, "destination_tank_id"), js(x, "connection_id"));
}

int cmd_tank_show(struct ctl *ctl, const char *arg)
{
	json_object *s = find_tank(ctl, arg);
	if (!s)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(s);
		json_object_put(s);
		return 0;
	}
	json_object *m = jo(s, "tank"), *st = jo(s, "stats"), *dc = jo(st, "death_causes");
	const char *id = tank_id_of(s);
	kv("tank", "%s", id);
	kv("name", "%s", js(m, "name"));
	if (*js(m, "description"))
		kv("description", "%s", js(m, "description"));
	kv("server", "%s", js(m, "server_id"));
	kv("created", "%s", js(m, "created_at"));
	kv("public", "%s", jb(m, "is_public") ? "yes" : "no");
	kv("transfers", "%s", jb(m, "allow_transfers") ? "allowed" : "not allowed");
	json_object *seed;
	kv("size", "%" PRId64 " x %" PRId64 ", at most %" PRId64 " fish, seed %s",
	   ji(m, "width"), ji(m, "height"), ji(m, "max_fish"),
	   json_object_object_get_ex(m, "seed", &seed) ? json_object_get_string(seed) : "?");
	kv("state", "%s, frame %" PRId64 ", %.1f fps",
	   !jb(s, "running") ? "stopped" : jb(s, "paused") ? "paused" : "running", ji(s, "frame"),
	   jd(s, "fps"));
	kv("fish", "%" PRId64 " (generation %" PRId64 ", highest ever %" PRId64 ")",
	   ji(st, "fish_count"), ji(st, "generation"), ji(st, "max_generation"));
	kv("births", "%" PRId64, ji(st, "births"));
	char causes[512] = "";
	size_t off = 0;
	json_object_object_foreach(dc ? dc : st, k, v) {
		if (!dc)
			break;
		off += (size_t)snprintf(causes + off, off < sizeof causes ? sizeof causes - off : 0,
					"%s%s %s", off ? ", " : "", k, json_object_get_string(v));
		if (off >= sizeof causes)
			break;
	}
	kv("deaths", "%" PRId64 "%s%s%s", ji(st, "deaths"), *causes ? " (" : "", causes,
	   *causes ? ")" : "");
	kv("migrations", "%" PRId64 " in, %" PRId64 " out, %" PRId64 " in transit",
	   ji(st, "migrations_in"), ji(st, "migrations_out"), ji(st, "in_transit"));
	kv("energy", "%.2f (fish %.2f, plants %.2f)", jd(st, "total_energy"), jd(st, "fish_energy"),
	   jd(st, "plant_energy"));
	kv("food", "%" PRId64 " pieces, %" PRId64 " plants", ji(st, "food_count"),
	   ji(st, "plant_count"));

	char path[256];
	struct reply r;
	snprintf(path, sizeof path, "/api/tanks/%s/exits", id);
	if (ctl_request(ctl, &ctl->sim, "GET", path, NULL, &r) == 0 && r.status == 200) {
		json_object *ex = jo(r.json, "exits");
		print_exit("left wall", jo(ex, "left"));
		print_exit("right wall", jo(ex, "right"));
	}
	reply_free(&r);
	char *esc = url_escape(ctl, id);
	snprintf(path, sizeof path, "/api/connections?tank_id=%s", esc);
	free(esc);
	if (ctl_request(ctl, &ctl->mig, "GET", path, NULL, &r) == 0 && r.status == 200) {
		struct table *t = table_new(5, "CONNECTION", "FROM", "TO", ">PROB", "WALL");
		print_connections(t, ja(r.json, "connections"));
		if (table_rows(t)) {
			printf("\n");
			table_print(t, stdout);
		} else {
			kv("connections", "none");
		}
		table_free(t);
	} else {
		kv("connections", "unknown (%s did not answer)", ctl->mig.what);
	}
	reply_free(&r);
	json_object_put(s);
	return 0;
}

int cmd_tank_pause(struct ctl *ctl, const char *arg, bool pause)
{
	json_object *s = find_tank(ctl, arg);
	if (!s)
		return EXIT_FAIL;
	char path[256];
	snprintf(path, sizeof path, "/api/tanks/%s/%s", tank_id_of(s), pause ? "pause" : "resume");
	json_object_put(s);
	struct reply r;
	if (ctl_call(ctl, &ctl->sim, "POST", path, NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		print_json(r.json);
	else
		printf("tank %s %s\n", tank_id_of(r.json), jb(r.json, "paused") ? "paused" : "running");
	reply_free(&r);
	return 0;
}

/* ---- fish ---- */

static void print_fish(json_object *f, const char *where)
{
	json_object *g = jo(f, "genome"), *st = jo(f, "stats"), *mem = jo(f, "memory"),
		    *beh = jo(g, "behavior_algorithm"), *pk = jo(g, "poker_strategy_algorithm");
	kv("fish", "%s", js(f, "id"));
	kv("where", "%s", where);
	kv("generation", "%" PRId64, ji(f, "generation"));
	kv("life stage", "%s (age %" PRId64 " of %" PRId64 " frames)", js(f, "life_stage"),
	   ji(f, "age"), ji(f, "max_age"));
	kv("energy", "%.1f of %.1f", jd(f, "energy"), jd(f, "max_energy"));
	kv("size", "%.2f", jd(f, "size"));
	kv("speed", "%.2f (base %.2f)", jd(f, "speed"), jd(f, "base_speed"));
	kv("position", "%.1f, %.1f (velocity %.2f, %.2f)", jd(f, "x"), jd(f, "y"), jd(f, "vx"),
	   jd(f, "vy"));
	kv("parents", "%s, %s", *js(f, "mother_id") ? js(f, "mother_id") : "-",
	   *js(f, "father_id") ? js(f, "father_id") : "-");
	kv("pregnant", "%s", jo(f, "pregnancy") ? "yes" : "no");
	kv("fitness", "%.2f", jd(f, "fitness"));
	kv("behavior", "%s (%s)", js(beh, "algorithm_id"), js(beh, "family"));
	kv("poker", "%s", js(pk, "strategy_id"));
	kv("stats", "food eaten %" PRId64 ", poker %" PRId64 " won / %" PRId64 " lost, offspring %" PRId64,
	   ji(st, "food_eaten"), ji(st, "poker_wins"), ji(st, "poker_losses"), ji(st, "offspring"));
	json_object *food = ja(mem, "food"), *danger = ja(mem, "danger");
	kv("memory", "%zu food, %zu danger", food ? json_object_array_length(food) : 0,
	   danger ? json_object_array_length(danger) : 0);
	/* The genome's scalar traits, a few per line. */
	char line[256] = "";
	const char *label = "genome";
	json_object_object_foreach(g ? g : f, k, v) {
		if (!g)
			break;
		if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
			continue;
		char item[96];
		snprintf(item, sizeof item, "%s %.3g", k, json_object_get_double(v));
		if (strlen(line) + strlen(item) + 2 > 64) {
			kv(label, "%s", line);
			label = "";
			line[0] = '\0';
		}
		if (line[0])
			strcat(line, ", ");
		strcat(line, item);
	}
	if (line[0])
		kv(label, "%s", line);
}

static int show_fish_in(struct ctl *ctl, const char *tank_id, const char *fish_id, bool *found)
{
	char path[256];
	snprintf(path, sizeof path, "/api/tanks/%s/fish/%s", tank_id, fish_id);
	struct reply r;
	*found = false;
	if (ctl_request(ctl, &ctl->sim, "GET", path, NULL, &r) < 0 ||
	    (r.status != 200 && r.status != 404) || (r.status == 200 && !r.json)) {
		reply_report(&ctl->sim, &r);
		reply_free(&r);
		return -1;
	}
	if (r.status == 200) {
		*found = true;
		if (ctl->json) {
			print_json(r.json);
		} else {
			char where[160];
			snprintf(where, sizeof where, "tank %s", tank_id);
			print_fish(r.json, where);
		}
	}
	reply_free(&r);
	return 0;
}

/* Every fish id in the tank that starts with prefix: how many, and the first. */
static int fish_prefix(struct ctl *ctl, const char *tank_id, const char *prefix, char *out,
		       size_t *count)
{
	char path[256];
	snprintf(path, sizeof path, "/api/tanks/%s/state", tank_id);
	struct reply r;
	if (ctl_call(ctl, &ctl->sim, "GET", path, NULL, &r) < 0)
		return -1;
	json_object *ents = ja(r.json, "entities");
	size_t n = strlen(prefix);
	for (size_t i = 0; ents && i < json_object_array_length(ents); i++) {
		json_object *e = json_object_array_get_idx(ents, i);
		if (strcmp(js(e, "kind"), "fish") == 0 && strncmp(js(e, "id"), prefix, n) == 0) {
			if ((*count)++ == 0)
				snprintf(out, UUID_STR_LEN, "%s", js(e, "id"));
		}
	}
	reply_free(&r);
	return 0;
}

int cmd_fish_show(struct ctl *ctl, const char *tank_arg, const char *fish_arg)
{
	char fid[UUID_STR_LEN] = "";
	bool found = false;
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	if (!object_id_valid(fish_arg, 36)) {
		fprintf(stderr, "tankctl: '%.64s' is not a fish id\n", fish_arg);
		return EXIT_FAIL;
	}
	json_object *tanks = NULL;
	struct reply lr = {0};
	if (tank_arg) {
		json_object *s = find_tank(ctl, tank_arg);
		if (!s)
			return EXIT_FAIL;
		tanks = json_object_new_array();
		json_object_array_add(tanks, s);
	} else {
		if (ctl_call(ctl, &ctl->sim, "GET", "/api/tanks?include_private=true", NULL, &lr) < 0)
			return EXIT_FAIL;
		tanks = json_object_get(ja(lr.json, "tanks"));
		reply_free(&lr);
		if (!tanks)
			tanks = json_object_new_array();
	}
	size_t nt = json_object_array_length(tanks);
	/* A short id is a prefix: find the one fish it names. */
	if (strlen(fish_arg) < 36) {
		size_t count = 0;
		for (size_t i = 0; i < nt; i++)
			if (fish_prefix(ctl, tank_id_of(json_object_array_get_idx(tanks, i)), fish_arg,
					fid, &count) < 0) {
				json_object_put(tanks);
				return EXIT_FAIL;
			}
		if (count > 1) {
			fprintf(stderr, "tankctl: '%s' names %zu fish; give more of the id\n", fish_arg,
				count);
			json_object_put(tanks);
			return EXIT_FAIL;
		}
		if (count == 0)
			snprintf(fid, sizeof fid, "%s", fish_arg);
	} else {
		snprintf(fid, sizeof fid, "%s", fish_arg);
	}
	for (size_t i = 0; i < nt && !found; i++)
		if (show_fish_in(ctl, tank_id_of(json_object_array_get_idx(tanks, i)), fid, &found) < 0) {
			json_object_put(tanks);
			return EXIT_FAIL;
		}
	json_object_put(tanks);
	if (found)
		return 0;
	/* Not in a tank: perhaps in flight, in this server's outbox. */
	struct reply r;
	if (ctl_call(ctl, &ctl->sim, "GET", "/api/outbox", NULL, &r) < 0)
		return EXIT_FAIL;
	json_object *list = ja(r.json, "transfers");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);
		if (strcmp(js(x, "fish_id"), fid) != 0)
			continue;
		/* The whole fish is readable on the Unix socket only. */
		char path[128];
		struct reply fr = {0};
		json_object *fish = NULL;
		snprintf(path, sizeof path, "/api/outbox/%s", js(x, "transfer_id"));
		if (!ctl->sim.tcp && ctl_request(ctl, &ctl->sim, "GET", path, NULL, &fr) == 0 &&
		    fr.status == 200)
			fish = jo(fr.json, "entity_data");
		if (ctl->json) {
			print_json(fish ? fr.json : x);
		} else {
			char where[400];
			snprintf(where, sizeof where, "in flight: transfer %s from tank %s to %s/%s",
				 js(x, "transfer_id"), js(x, "source_tank_id"),
				 js(x, "destination_server_id"), js(x, "destination_tank_id"));
			if (fish)
				print_fish(fish, where);
			else {
				kv("fish", "%s", fid);
				kv("where", "%s", where);
			}
		}
		reply_free(&fr);
		reply_free(&r);
		return 0;
	}
	reply_free(&r);
	fprintf(stderr, "tankctl: no fish %s in %s on %s\n", fid,
		tank_arg ? "that tank" : "any tank or the outbox", ctl->sim.what);
	return EXIT_FAIL;
}
