/* tankctl lineage FISH_ID: a fish's family across servers. The fish (or its record) is
 * looked for in this server's tanks, then in every server discoveryd knows; each
 * ancestor the tank does not know is asked of the server and tank where its child was
 * born, which is where that child's parents lived (docs/history.md). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tankctl.h"
#include "util.h"
#include "xalloc.h"

struct family {
	struct ctl_server *srv;
	size_t nsrv;
	char silent[512]; /* the servers the search for the fish could not read, named */
	size_t n_silent;
	json_object *records; /* what was found, each with "server_id" and "tank_id" added */
	json_object *unknown; /* ancestors no server knows */
	json_object *seen;    /* fish id -> true */
	int asks;	      /* lineage requests sent to follow ancestors */
};

/* A family is followed by one request per tank its ancestors' children were born in, so
 * a few dozen at most. A server that answers every request with a new missing parent
 * (at depth 0 of its own answer, or an ever deeper one) kept tankctl asking for good,
 * its memory growing (an attacker's audit, 7 December): an ancestor is followed only
 * within the depth asked for, and after LINEAGE_MAX_ASKS requests the rest are listed
 * unknown, and stderr says why. */
#define LINEAGE_MAX_ASKS 1000

/* The servers discoveryd knows, with their simd; without discoveryd, this server alone
 * (its tanks hold most of what anyone looks up here; the search failed outright). */
static void servers_load(struct ctl *ctl, struct family *fam)
{
	if (ctl_servers(ctl, &fam->srv, &fam->nsrv) == 0)
		return;
	fprintf(stderr, "tankctl: looking in this server's tanks only\n");
	fam->srv = xcalloc(1, sizeof *fam->srv);
	fam->nsrv = 1;
	snprintf(fam->srv->id, sizeof fam->srv->id, "%s", ctl->conf.server.server_id);
	fam->srv->local = fam->srv->ok = true;
	fam->srv->sim = ctl->sim;
}

/* A server the search could not read: counted and named for the verdict. */
static void silent(struct family *fam, const struct ctl_server *p)
{
	size_t len = strlen(fam->silent);
	if (len < sizeof fam->silent - 1)
		snprintf(fam->silent + len, sizeof fam->silent - len, "%s%s", len ? ", " : "",
			 p->id);
	fam->n_silent++;
}

static struct ctl_server *server_find(struct family *fam, const char *id)
{
	for (size_t i = 0; i < fam->nsrv; i++)
		if (fam->srv[i].ok && strcmp(fam->srv[i].id, id) == 0)
			return &fam->srv[i];
	return NULL;
}

/* GET .../lineage?fish_id=F&depth=N on one tank: 1 found (*ret set), 0 not there, -1
 * unreachable. */
static int ask(struct ctl *ctl, struct ctl_server *p, const char *tank, const char *fish,
	       long depth, json_object **ret)
{
	char *t = url_escape(ctl, tank), *f = url_escape(ctl, fish);
	char path[512];
	snprintf(path, sizeof path, "/api/tanks/%s/lineage?fish_id=%s&depth=%ld", t, f, depth);
	free(t);
	free(f);
	struct reply r;
	if (ctl_request(ctl, &p->sim, "GET", path, NULL, &r) < 0) {
		reply_free(&r);
		return -1;
	}
	int found = r.status == 200 && r.json;
	if (found)
		*ret = json_object_get(r.json);
	reply_free(&r);
	return found;
}

/* The tank ids of a server, or NULL if it does not answer. */
static json_object *tanks_of(struct ctl *ctl, struct ctl_server *p)
{
	struct reply r;
	if (ctl_request(ctl, &p->sim, "GET", ctl_tanks_path(ctl, &p->sim), NULL, &r) < 0 ||
	    r.status != 200) {
		reply_free(&r);
		return NULL;
	}
	json_object *ids = json_object_new_array();
	json_object *list = field_arr(r.json, "tanks");
	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		json_object_array_add(ids, json_object_new_string(
						   tank_id_of(json_object_array_get_idx(list, i))));
	reply_free(&r);
	return ids;
}

/* Adds one answer's records (shifted by base generations) and follows its missing
 * parents to where their children were born. */
static void take(struct ctl *ctl, struct family *fam, struct ctl_server *p, json_object *ans,
		 int base, long depth);

static void follow(struct ctl *ctl, struct family *fam, json_object *m, const char *from_server,
		   const char *from_tank, int base, long depth)
{
	const char *fish = field_str(m, "fish_id");
	long own = field_int(m, "depth");
	int d = base + (int)own;
	const char *srv = field_str(m, "child_born_server_id"),
		   *tank = field_str(m, "child_born_tank_id");
	/* A parent is one generation or more from the fish asked for, never beyond the depth
	 * asked for: anything else is no ancestor of this family. */
	if (!*fish || own < 1 || own > depth || d > depth ||
	    json_object_object_get_ex(fam->seen, fish, NULL))
		return;
	struct ctl_server *p = *srv ? server_find(fam, srv) : NULL;
	json_object *ans = NULL;
	/* The tank that answered already said it does not know the fish. */
	bool elsewhere = p && *tank &&
			 !(strcmp(srv, from_server) == 0 && strcmp(tank, from_tank) == 0);
	if (elsewhere && fam->asks == LINEAGE_MAX_ASKS) {
		fprintf(stderr,
			"tankctl: stopped following ancestors after %d requests; the rest are "
			"listed unknown\n",
			LINEAGE_MAX_ASKS);
		fam->asks++;
	}
	if (elsewhere && fam->asks < LINEAGE_MAX_ASKS && ++fam->asks &&
	    ask(ctl, p, tank, fish, depth - d, &ans) == 1) {
		take(ctl, fam, p, ans, d, depth);
		json_object_put(ans);
		return;
	}
	json_object *u = json_object_new_object();
	json_object_object_add(u, "fish_id", json_object_new_string(fish));
	json_object_object_add(u, "depth", json_object_new_int(d));
	json_object_object_add(u, "child_id", json_object_new_string(field_str(m, "child_id")));
	json_object_object_add(u, "looked_on", json_object_new_string(*srv ? srv : from_server));
	json_object_array_add(fam->unknown, u);
	json_object_object_add(fam->seen, fish, json_object_new_boolean(1));
}

static void take(struct ctl *ctl, struct family *fam, struct ctl_server *p, json_object *ans,
		 int base, long depth)
{
	const char *tank = field_str(ans, "tank_id");
	json_object *recs = field_arr(ans, "records");
	for (size_t i = 0; recs && i < json_object_array_length(recs); i++) {
		json_object *rec = json_object_array_get_idx(recs, i);
		const char *id = field_str(rec, "fish_id");
		/* Another server's answer: a record that is no object (json-c asserts on
		 * adding to it) or names no fish is skipped. */
		if (!json_object_is_type(rec, json_type_object) || !*id ||
		    json_object_object_get_ex(fam->seen, id, NULL))
			continue;
		json_object_object_add(fam->seen, id, json_object_new_boolean(1));
		json_object *c = json_object_get(rec);
		json_object_object_add(c, "depth",
				       json_object_new_int(base + (int)field_int(rec, "depth")));
		json_object_object_add(c, "server_id", json_object_new_string(p->id));
		json_object_object_add(c, "tank_id", json_object_new_string(tank));
		json_object_array_add(fam->records, c);
	}
	json_object *miss = field_arr(ans, "missing");
	for (size_t i = 0; miss && i < json_object_array_length(miss); i++)
		follow(ctl, fam, json_object_array_get_idx(miss, i), p->id, tank, base, depth);
}

/* The fish's own record: this server first, then the others. */
static int find_start(struct ctl *ctl, struct family *fam, const char *fish, long depth,
		      struct ctl_server **where, json_object **ans)
{
	struct ctl_server *local = NULL;
	for (size_t i = 0; i < fam->nsrv; i++)
		if (fam->srv[i].ok && memcmp(&fam->srv[i].sim, &ctl->sim, sizeof ctl->sim) == 0)
			local = &fam->srv[i];
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < fam->nsrv; i++) {
			struct ctl_server *p = &fam->srv[i];
			if (!p->ok || (pass == 0) != (p == local))
				continue;
			json_object *ids = tanks_of(ctl, p);
			bool answered = ids != NULL;
			for (size_t k = 0; ids && k < json_object_array_length(ids); k++) {
				const char *tank = json_object_get_string(
					json_object_array_get_idx(ids, k));
				int r = ask(ctl, p, tank, fish, depth, ans);
				if (r == 1) {
					json_object_put(ids);
					*where = p;
					return 1;
				}
				answered &= r == 0;
			}
			json_object_put(ids);
			if (!answered)
				silent(fam, p);
		}
	for (size_t i = 0; i < fam->nsrv; i++)
		if (!fam->srv[i].ok)
			silent(fam, &fam->srv[i]);
	return 0;
}

static void print_family(json_object *recs, json_object *unknown)
{
	struct table *t = table_new(8, ">DEPTH", "FISH", ">GEN", "MOTHER", "FATHER",
				    "BORN (SERVER/TANK, FRAME)", "DIED", "RECORDED ON");
	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		json_object *r = json_object_array_get_idx(recs, i);
		char a[16], b[16], c[16], tk[16], on[16], born[200], died[64];
		table_row(t);
		table_cell(t, "%d", (int)field_int(r, "depth"));
		table_cell(t, "%s", short_id(field_str(r, "fish_id"), a));
		table_cell(t, "%d", (int)field_int(r, "generation"));
		table_cell(t, "%s",
			   *field_str(r, "mother_id") ? short_id(field_str(r, "mother_id"), b)
						      : "-");
		table_cell(t, "%s",
			   *field_str(r, "father_id") ? short_id(field_str(r, "father_id"), c)
						      : "-");
		if (*field_str(r, "born_tank_id"))
			snprintf(born, sizeof born, "%.64s/%s, %lld",
				 field_str(r, "born_server_id"),
				 short_id(field_str(r, "born_tank_id"), tk),
				 (long long)field_int(r, "born_frame"));
		else
			snprintf(born, sizeof born, "unknown");
		sanitize(born);
		table_cell(t, "%s", born);
		if (*field_str(r, "cause"))
			snprintf(died, sizeof died, "%.20s at %lld", field_str(r, "cause"),
				 (long long)field_int(r, "died_frame"));
		else
			snprintf(died, sizeof died, "%s", field_bool(r, "living") ? "living" : "-");
		sanitize(died);
		table_cell(t, "%s", died);
		snprintf(born, sizeof born, "%.64s/%s", field_str(r, "server_id"),
			 short_id(field_str(r, "tank_id"), on));
		sanitize(born);
		table_cell(t, "%s", born);
	}
	table_print(t, stdout);
	table_free(t);
	for (size_t i = 0; i < json_object_array_length(unknown); i++) {
		json_object *u = json_object_array_get_idx(unknown, i);
		char a[16], b[16], s[80];
		snprintf(s, sizeof s, "%.64s", field_str(u, "looked_on"));
		sanitize(s);
		printf("unknown: %s (parent of %s, depth %d; not recorded on %s)\n",
		       short_id(field_str(u, "fish_id"), a), short_id(field_str(u, "child_id"), b),
		       (int)field_int(u, "depth"), s);
	}
}

int cmd_lineage(struct ctl *ctl, const char *fish, long depth)
{
	/* Lineage records outlive their fish, so a short id cannot be looked up among the
	 * living: the whole one is needed (--json prints whole ids). */
	if (!uuid_str_valid(fish)) {
		fprintf(stderr,
			"tankctl: '%.64s' is not a whole fish id (a UUID; tankctl --json prints "
			"whole ids)\n",
			fish);
		return EXIT_USAGE;
	}
	if (ctl_resolve(ctl) < 0)
		return EXIT_FAIL;
	struct family fam = {0};
	servers_load(ctl, &fam);
	fam.records = json_object_new_array();
	fam.unknown = json_object_new_array();
	fam.seen = json_object_new_object();
	struct ctl_server *p = NULL;
	json_object *ans = NULL;
	int rc = 0;
	if (find_start(ctl, &fam, fish, depth, &p, &ans) != 1) {
		/* A server that did not answer may hold the record: said, so that "no record"
		 * is not read as the fish never having lived. */
		if (fam.n_silent)
			fprintf(stderr,
				"tankctl: no tank on the %zu server(s) that answered has a record of "
				"fish %s; %zu could not be read: %s\n",
				fam.nsrv - fam.n_silent, fish, fam.n_silent, fam.silent);
		else
			fprintf(stderr,
				"tankctl: no tank on %zu server(s) has a record of fish %s\n",
				fam.nsrv, fish);
		rc = EXIT_FAIL;
	} else {
		take(ctl, &fam, p, ans, 0, depth);
		json_object_put(ans);
		if (ctl->json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "fish_id", json_object_new_string(fish));
			json_object_object_add(o, "depth", json_object_new_int((int)depth));
			json_object_object_add(o, "records", json_object_get(fam.records));
			json_object_object_add(o, "unknown", json_object_get(fam.unknown));
			print_json(o);
			json_object_put(o);
		} else {
			print_family(fam.records, fam.unknown);
		}
	}
	json_object_put(fam.records);
	json_object_put(fam.unknown);
	json_object_put(fam.seen);
	free(fam.srv);
	return rc;
}
