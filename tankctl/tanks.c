/* tankctl's commands about servers, tanks and fish. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tankctl.h"
#include "util.h"

/* ---- tanks ---- */

/* The TankStatus of a tank named by id, unique id prefix or name. NULL after printing
 * why not. */
json_object *find_tank(struct ctl *ctl, const char *arg)
{
	struct reply r;
	if (!*arg) { /* a prefix of every id */
		fprintf(stderr, "tankctl: an empty tank name or id names no tank\n");
		return NULL;
	}
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
	if (ctl_call(ctl, &ctl->sim, "GET", ctl_tanks_path(ctl, &ctl->sim), NULL, &r) < 0)
		return NULL;
	json_object *tanks = field_arr(r.json, "tanks"), *found = NULL, *by_name = NULL,
		    *by_id = NULL;
	size_t n = tanks ? json_object_array_length(tanks) : 0, names = 0, ids = 0,
	       alen = strlen(arg);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(tanks, i), *t = field_obj(s, "tank");
		if (strcmp(field_str(t, "name"), arg) == 0 && names++ == 0)
			by_name = s;
		/* A UUID in capitals is the same id (RFC 9562); a name is matched exactly. */
		if (strncasecmp(field_str(t, "tank_id"), arg, alen) == 0 && ids++ == 0)
			by_id = s;
	}
	/* A name that is also the start of another tank's id (the short id the tables
	 * print) names two tanks: picking the name silently acted on the wrong one. */
	size_t matches = names ? names : ids;
	found = names ? by_name : by_id;
	if (names == 1 && ids > 0 && !(ids == 1 && by_id == by_name))
		matches = 1 + ids;
	if (matches == 1) {
		json_object_get(found);
		reply_free(&r);
		return found;
	}
	char clean[256];
	snprintf(clean, sizeof clean, "%s", arg);
	sanitize(clean);
	if (matches == 0)
		fprintf(stderr, "tankctl: unknown tank '%s' on %s%s\n", clean, ctl->sim.what,
			ctl_public_only(ctl, &ctl->sim)
				? " (without the token only public tanks are listed)"
				: "");
	else
		fprintf(stderr, "tankctl: '%s' names %zu tanks; give more of the id\n", clean,
			matches);
	reply_free(&r);
	return NULL;
}

const char *tank_id_of(json_object *status)
{
	return field_str(field_obj(status, "tank"), "tank_id");
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
	json_object *list = field_arr(r.json, "servers");
	struct table *t = table_new(8, "ID", "STATUS", "HOST", "PORTS", ">TANKS", ">AGE", "VERSION",
				    "HUBS");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i);
		/* With several hubs: for this server the hubs it reaches, for the others the
		 * hubs that list them; "-" on a hub without hubs of its own. */
		char hubs[512] = "-";
		json_object *h = NULL;
		if (json_object_object_get_ex(s, "hubs", &h) &&
		    json_object_is_type(h, json_type_array)) {
			size_t used = 0;
			hubs[0] = '\0';
			for (size_t k = 0; k < json_object_array_length(h) && used < sizeof hubs;
			     k++) {
				const char *u = json_object_get_string(
					json_object_array_get_idx(h, k));
				if (!u)
					continue;
				if (strncmp(u, "http://", 7) == 0)
					u += 7;
				used += (size_t)snprintf(hubs + used, sizeof hubs - used, "%s%s",
							 used ? "," : "", u);
			}
			if (!hubs[0])
				snprintf(hubs, sizeof hubs, "none");
		}
		char age[32];
		fmt_age(field_num(s, "heartbeat_age_seconds"), age, sizeof age);
		table_row(t);
		table_cell(t, "%s%s", field_str(s, "server_id"),
			   field_bool(s, "is_local") ? " *" : "");
		table_cell(t, "%s", field_str(s, "status"));
		table_cell(t, "%s", field_str(s, "host"));
		table_cell(t, "%" PRId64 "/%" PRId64 "/%" PRId64, field_int(s, "discovery_port"),
			   field_int(s, "port"), field_int(s, "migration_port"));
		table_cell(t, "%" PRId64, field_int(s, "tank_count"));
		table_cell(t, "%s", age);
		table_cell(t, "%s", field_str(s, "version"));
		table_cell(t, "%s", hubs);
	}
	table_print(t, stdout);
	printf("%zu server(s); * this server; ports: discoveryd/simd/migrated; hubs: reached "
	       "by this server, or listing the others\n",
	       table_rows(t));
	table_free(t);
	reply_free(&r);
	return 0;
}

int cmd_tanks(struct ctl *ctl)
{
	struct reply r;
	if (ctl_resolve(ctl) < 0 ||
	    ctl_call(ctl, &ctl->sim, "GET", ctl_tanks_path(ctl, &ctl->sim), NULL, &r) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(r.json);
		reply_free(&r);
		return 0;
	}
	json_object *list = field_arr(r.json, "tanks");
	const char *def = field_str(r.json, "default_tank_id");
	struct table *t = table_new(10, "ID", "NAME", ">FISH", ">GEN", ">BIRTHS", ">DEATHS",
				    ">IN TRANSIT", "PAUSED", ">FPS", ">FRAME");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i), *m = field_obj(s, "tank"),
			    *st = field_obj(s, "stats");
		table_row(t);
		table_cell(t, "%s%s", field_str(m, "tank_id"),
			   strcmp(field_str(m, "tank_id"), def) == 0 ? " *" : "");
		char name[256];
		table_cell(t, "%s", clip(field_str(m, "name"), 40, name, sizeof name));
		table_cell(t, "%" PRId64, field_int(st, "fish_count"));
		table_cell(t, "%" PRId64, field_int(st, "generation"));
		table_cell(t, "%" PRId64, field_int(st, "births"));
		table_cell(t, "%" PRId64, field_int(st, "deaths"));
		table_cell(t, "%" PRId64, field_int(st, "in_transit"));
		table_cell(t, "%s", field_bool(s, "paused") ? "yes" : "no");
		table_cell(t, "%.1f", field_num(s, "fps"));
		table_cell(t, "%" PRId64, field_int(s, "frame"));
	}
	table_print(t, stdout);
	printf("%zu tank(s)%s%s\n", table_rows(t), *def ? "; * the default tank" : "",
	       ctl_public_only(ctl, &ctl->sim) ? "; public tanks only: no token" : "");
	table_free(t);
	reply_free(&r);
	return 0;
}

/* A wall with a budget lets that many more fish through: migrated sets 0 while the
 * destination cannot take fish (paused after refusals, its server offline, deliveries
 * failing) and 1 for a probe; fish bounce off a wall at 0, so it is closed for them. */
static void print_exit(const char *wall, json_object *x)
{
	if (!x) {
		kv(wall, "closed");
		return;
	}
	const char *server = field_str(x, "destination_server_id"),
		   *tank = field_str(x, "destination_tank_id"),
		   *conn = field_str(x, "connection_id");
	json_object *b;
	if (!json_object_object_get_ex(x, "budget", &b))
		kv(wall, "open to %s/%s (connection %s)", server, tank, conn);
	else if (json_object_get_int64(b) == 0)
		kv(wall,
		   "closed to %s/%s for now (connection %s: its destination cannot take fish)",
		   server, tank, conn);
	else
		kv(wall, "open to %s/%s (connection %s) for %" PRId64 " more fish", server, tank,
		   conn, (int64_t)json_object_get_int64(b));
}

/* "starvation 3, old_age 1" from {"starvation": 3, "old_age": 1}. */
static void join_causes(json_object *dc, char *out, size_t size)
{
	size_t off = 0;
	out[0] = '\0';
	if (!dc)
		return;
	json_object_object_foreach (dc, k, v) {
		off += (size_t)snprintf(out + off, off < size ? size - off : 0, "%s%s %s",
					off ? ", " : "", k, value_text(v));
		if (off >= size)
			break;
	}
}

/* What GET /api/tanks/{id} says, as key: value lines. */
static void print_tank_status(json_object *s)
{
	json_object *m = field_obj(s, "tank"), *st = field_obj(s, "stats");
	kv("tank", "%s", tank_id_of(s));
	kv("name", "%s", field_str(m, "name"));
	if (*field_str(m, "description"))
		kv("description", "%s", field_str(m, "description"));
	kv("server", "%s", field_str(m, "server_id"));
	kv("created", "%s", field_str(m, "created_at"));
	kv("public", "%s", field_bool(m, "is_public") ? "yes" : "no");
	kv("transfers", "%s", field_bool(m, "allow_transfers") ? "allowed" : "not allowed");
	json_object *seed;
	kv("size", "%" PRId64 " x %" PRId64 ", at most %" PRId64 " fish, seed %s",
	   field_int(m, "width"), field_int(m, "height"), field_int(m, "max_fish"),
	   json_object_object_get_ex(m, "seed", &seed) ? value_text(seed) : "?");
	kv("state", "%s, frame %" PRId64 ", %.1f fps",
	   !field_bool(s, "running") ? (field_bool(s, "starting") ? "starting" : "stopped")
	   : field_bool(s, "paused") ? "paused"
				     : "running",
	   field_int(s, "frame"), field_num(s, "fps"));
	kv("fish", "%" PRId64 " (generation %" PRId64 ", highest ever %" PRId64 ")",
	   field_int(st, "fish_count"), field_int(st, "generation"),
	   field_int(st, "max_generation"));
	kv("births", "%" PRId64, field_int(st, "births"));
	char causes[512];
	join_causes(field_obj(st, "death_causes"), causes, sizeof causes);
	kv("deaths", "%" PRId64 "%s%s%s", field_int(st, "deaths"), *causes ? " (" : "", causes,
	   *causes ? ")" : "");
	kv("migrations", "%" PRId64 " in, %" PRId64 " out, %" PRId64 " in transit",
	   field_int(st, "migrations_in"), field_int(st, "migrations_out"),
	   field_int(st, "in_transit"));
	kv("energy", "%.2f (fish %.2f, plants %.2f)", field_num(st, "total_energy"),
	   field_num(st, "fish_energy"), field_num(st, "plant_energy"));
	kv("food", "%" PRId64 " pieces, %" PRId64 " plants", field_int(st, "food_count"),
	   field_int(st, "plant_count"));
}

/* The tank's walls (simd) and its connections (migrated). */
static void print_tank_links(struct ctl *ctl, const char *id)
{
	char path[256];
	struct reply r;
	snprintf(path, sizeof path, "/api/tanks/%s/exits", id);
	if (ctl_request(ctl, &ctl->sim, "GET", path, NULL, &r) == 0 && r.status == 200) {
		json_object *ex = field_obj(r.json, "exits");
		print_exit("left wall", field_obj(ex, "left"));
		print_exit("right wall", field_obj(ex, "right"));
	}
	reply_free(&r);
	char *esc = url_escape(ctl, id);
	snprintf(path, sizeof path, "/api/connections?tank_id=%s", esc);
	free(esc);
	if (ctl_request(ctl, &ctl->mig, "GET", path, NULL, &r) == 0 && r.status == 200) {
		struct table *t = table_new(6, "CONNECTION", "FROM", "TO", ">PROB", "WALL", "STATE");
		print_connections(t, field_arr(r.json, "connections"));
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
}

int cmd_tank_show(struct ctl *ctl, const char *arg)
{
	json_object *s = find_tank(ctl, arg);
	if (!s)
		return EXIT_FAIL;
	if (ctl->json) {
		print_json(s);
	} else {
		print_tank_status(s);
		print_tank_links(ctl, tank_id_of(s));
	}
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
		printf("tank %s %s\n", tank_id_of(r.json),
		       field_bool(r.json, "paused") ? "paused" : "running");
	reply_free(&r);
	return 0;
}

/* ---- fish ---- */

static void print_fish(json_object *f, const char *where)
{
	json_object *g = field_obj(f, "genome"), *st = field_obj(f, "stats"),
		    *mem = field_obj(f, "memory"), *beh = field_obj(g, "behavior_algorithm"),
		    *pk = field_obj(g, "poker_strategy_algorithm");
	kv("fish", "%s", field_str(f, "id"));
	kv("where", "%s", where);
	kv("generation", "%" PRId64, field_int(f, "generation"));
	kv("life stage", "%s (age %" PRId64 " of %" PRId64 " frames)", field_str(f, "life_stage"),
	   field_int(f, "age"), field_int(f, "max_age"));
	kv("energy", "%.1f of %.1f", field_num(f, "energy"), field_num(f, "max_energy"));
	kv("size", "%.2f", field_num(f, "size"));
	kv("speed", "%.2f (base %.2f)", field_num(f, "speed"), field_num(f, "base_speed"));
	kv("position", "%.1f, %.1f (velocity %.2f, %.2f)", field_num(f, "x"), field_num(f, "y"),
	   field_num(f, "vx"), field_num(f, "vy"));
	kv("parents", "%s, %s", *field_str(f, "mother_id") ? field_str(f, "mother_id") : "-",
	   *field_str(f, "father_id") ? field_str(f, "father_id") : "-");
	kv("pregnant", "%s", field_obj(f, "pregnancy") ? "yes" : "no");
	kv("fitness", "%.2f", field_num(f, "fitness"));
	kv("behavior", "%s (%s)", field_str(beh, "algorithm_id"), field_str(beh, "family"));
	kv("poker", "%s", field_str(pk, "strategy_id"));
	kv("stats",
	   "food eaten %" PRId64 ", poker %" PRId64 " won / %" PRId64 " lost, offspring %" PRId64,
	   field_int(st, "food_eaten"), field_int(st, "poker_wins"), field_int(st, "poker_losses"),
	   field_int(st, "offspring"));
	json_object *food = field_arr(mem, "food"), *danger = field_arr(mem, "danger");
	kv("memory", "%zu food, %zu danger", food ? json_object_array_length(food) : 0,
	   danger ? json_object_array_length(danger) : 0);
	/* The genome's scalar traits, a few per line. */
	char line[256] = "";
	const char *label = "genome";
	json_object_object_foreach (g ? g : f, k, v) {
		if (!g)
			break;
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
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
	json_object *ents = field_arr(r.json, "entities");
	size_t n = strlen(prefix);
	for (size_t i = 0; ents && i < json_object_array_length(ents); i++) {
		json_object *e = json_object_array_get_idx(ents, i);
		if (strcmp(field_str(e, "kind"), "fish") == 0 &&
		    strncasecmp(field_str(e, "id"), prefix, n) == 0) {
			if ((*count)++ == 0)
				snprintf(out, UUID_STR_LEN, "%s", field_str(e, "id"));
		}
	}
	reply_free(&r);
	return 0;
}

/* Fish fid (or a unique prefix of its id) in flight, in this server's outbox: printed
 * (1), not there (0), or -1. A plant in flight is shown as one: its fields are not a
 * fish's. */
static int show_fish_in_outbox(struct ctl *ctl, const char *fid)
{
	struct reply r;
	if (ctl_call(ctl, &ctl->sim, "GET", "/api/outbox", NULL, &r) < 0)
		return -1;
	size_t count;
	json_object *x = prefix_match(field_arr(r.json, "transfers"), "fish_id", fid, &count);
	if (count > 1) {
		fprintf(stderr, "tankctl: '%s' names %zu entities in flight; give more of the id\n",
			fid, count);
		reply_free(&r);
		return -1;
	}
	if (x) {
		bool plant = strcmp(field_str(x, "kind"), "plant") == 0;
		/* The whole fish is readable on the Unix socket only. */
		char path[128];
		struct reply fr = {0};
		json_object *fish = NULL;
		snprintf(path, sizeof path, "/api/outbox/%s", field_str(x, "transfer_id"));
		if (!ctl->sim.tcp && ctl_request(ctl, &ctl->sim, "GET", path, NULL, &fr) == 0 &&
		    fr.status == 200)
			fish = field_obj(fr.json, "entity_data");
		if (ctl->json) {
			print_json(fish ? fr.json : x);
		} else {
			char where[400];
			snprintf(where, sizeof where,
				 "in flight: transfer %s from tank %s to %s/%s",
				 field_str(x, "transfer_id"), field_str(x, "source_tank_id"),
				 field_str(x, "destination_server_id"),
				 field_str(x, "destination_tank_id"));
			if (fish && !plant)
				print_fish(fish, where);
			else {
				kv(plant ? "plant" : "fish", "%s", field_str(x, "fish_id"));
				kv("where", "%s", where);
				if (fish)
					kv("energy", "%.1f", field_num(fish, "energy"));
			}
		}
		reply_free(&fr);
		reply_free(&r);
		return 1;
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
		return EXIT_USAGE;
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
		if (ctl_call(ctl, &ctl->sim, "GET", ctl_tanks_path(ctl, &ctl->sim), NULL, &lr) < 0)
			return EXIT_FAIL;
		tanks = json_object_get(field_arr(lr.json, "tanks"));
		reply_free(&lr);
		if (!tanks)
			tanks = json_object_new_array();
	}
	size_t nt = json_object_array_length(tanks);
	/* A short id is a prefix: find the one fish it names. */
	if (strlen(fish_arg) < 36) {
		size_t count = 0;
		for (size_t i = 0; i < nt; i++)
			if (fish_prefix(ctl, tank_id_of(json_object_array_get_idx(tanks, i)),
					fish_arg, fid, &count) < 0) {
				json_object_put(tanks);
				return EXIT_FAIL;
			}
		if (count > 1) {
			fprintf(stderr, "tankctl: '%s' names %zu fish; give more of the id\n",
				fish_arg, count);
			json_object_put(tanks);
			return EXIT_FAIL;
		}
		if (count == 0)
			snprintf(fid, sizeof fid, "%s", fish_arg);
	} else {
		snprintf(fid, sizeof fid, "%s", fish_arg);
		if (strspn(fid, "0123456789abcdefABCDEF-") == strlen(fid))
			for (char *c = fid; *c; c++) /* a UUID in capitals: ours are lower case */
				*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
	}
	for (size_t i = 0; i < nt && !found; i++)
		if (show_fish_in(ctl, tank_id_of(json_object_array_get_idx(tanks, i)), fid,
				 &found) < 0) {
			json_object_put(tanks);
			return EXIT_FAIL;
		}
	json_object_put(tanks);
	if (found)
		return 0;
	/* Not in a tank: perhaps in flight, in this server's outbox. */
	int r = show_fish_in_outbox(ctl, fid);
	if (r != 0)
		return r > 0 ? 0 : EXIT_FAIL;
	fprintf(stderr, "tankctl: no fish %s in %s on %s\n", fid,
		tank_arg ? "that tank" : "any tank or the outbox", ctl->sim.what);
	return EXIT_FAIL;
}
