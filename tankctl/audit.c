/* tankctl audit: walk every server discoveryd knows and prove that every fish id is in
 * exactly one place: one tank, or one outbox record (in flight). Plants migrate too
 * (issue 15): their ids are audited the same way and every count is also given per kind;
 * "fish" in what follows means either, except for --expect, which counts fish only.
 *
 * What a snapshot of the present can prove, and what it cannot:
 *  - Uniqueness, exactly: an id seen in two places (two tanks, or a tank and an
 *    outbox, on any servers) is duplicated. The reads are not one atomic snapshot of
 *    the network (each tank and outbox is read in turn, while fish may move), so an id
 *    counts only if it is duplicated in every one of up to three snapshots taken
 *    half a second apart; a migration under way cannot fake that.
 *  - Loss needs a reference: an id that is nowhere leaves no trace. With --baseline
 *    (a previous audit --save) or --expect N, "lost" is the baseline ids absent now
 *    (or the shortfall against N), again confirmed over the snapshots. Births and
 *    deaths change the set in running tanks, so the check is strict (and can fail the
 *    audit) only while every tank is paused; otherwise it is reported as advisory.
 *  - The migration balance, a reconciliation from simd's counters: every departure
 *    (migrations_out, undone by an abort) either arrived (migrations_in, somewhere in
 *    the audited network) or is still in an outbox, so
 *        sum(migrations_out) == sum(migrations_in) + records in outboxes.
 *    It is exact while no tank that sent or received fish has been deleted (a tank's
 *    counters go with it) and every server is audited. A difference that stays the same
 *    over the snapshots decides the exit status (EXIT_IMBALANCE); one that changes is a
 *    migration under way and is only reported. A per-tank reconciliation (fish == spawns + births +
 *    migrations_in - deaths - migrations_out) is not possible: TankStatus does not
 *    expose spawns. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "jsonv.h"
#include "tankctl.h"
#include "util.h"
#include "xalloc.h"

#define SNAPSHOTS 3
#define SNAPSHOT_PAUSE_MS 500

struct place {
	char fish[40]; /* the id: a fish's or a plant's */
	int srv;
	bool outbox;
	bool plant;
	char where[72]; /* tank id, or the transfer id of an outbox record */
};

struct server {
	char id[SERVER_ID_MAX + 1], status[16], host[CONF_STR];
	int port;
	bool local;
	struct endpoint sim;
	bool addr_ok;
	/* Another entry whose simd answers at this one's address (its index, -1 none): a
	 * server renamed, its old entry not yet evicted. Read once, under that entry; read
	 * under both, every fish was "duplicated". */
	int same_as;
	/* Why the simd gave no answer to that question ("" when it answered): it is then
	 * not asked again (a server that hangs would cost the timeout twice). */
	char silent[700];
	/* Per snapshot. */
	bool reachable;
	long http_status; /* the error it answered when not reachable, 0: no answer */
	bool public_only; /* read over TCP without the token: private tanks unseen */
	char err[700];
	size_t tanks, paused, fish, in_flight;
	size_t plants, plants_in_flight;
	uint64_t mig_in, mig_out; /* fish and plants */
	uint64_t plant_mig_in, plant_mig_out;
};

struct snapshot {
	struct place *pl;
	size_t npl, cap;
	json_object *inflight; /* outbox records, each with its "source_server_id" */
	size_t unreachable, public_only, tanks, paused;
	uint64_t mig_in, mig_out; /* fish and plants: the balance covers both */
	uint64_t plant_mig_in, plant_mig_out;
	size_t plants_in_flight, plants_in_tanks;
	size_t distinct;	/* distinct fish ids */
	size_t distinct_plants; /* distinct plant ids */
	char **dups;		/* sorted, distinct; fish and plants */
	size_t ndups;
};

/* A sorted list of ids. */
struct idset {
	char **v;
	size_t n;
};

static int cmp_place(const void *a, const void *b)
{
	const struct place *x = a, *y = b;
	int c = strcmp(x->fish, y->fish);
	if (c)
		return c;
	if (x->srv != y->srv)
		return x->srv - y->srv;
	return strcmp(x->where, y->where);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_place(struct snapshot *s, const char *fish, int srv, bool outbox, const char *where,
		      bool plant)
{
	if (s->npl == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->pl = xrealloc(s->pl, s->cap * sizeof *s->pl);
	}
	struct place *p = &s->pl[s->npl++];
	snprintf(p->fish, sizeof p->fish, "%s", fish);
	p->srv = srv;
	p->outbox = outbox;
	p->plant = plant;
	snprintf(p->where, sizeof p->where, "%s", where);
}

static void snapshot_free(struct snapshot *s)
{
	free(s->pl);
	if (s->inflight)
		json_object_put(s->inflight);
	for (size_t i = 0; i < s->ndups; i++)
		free(s->dups[i]);
	free(s->dups);
	memset(s, 0, sizeof *s);
}

static void set_unreachable(struct server *sv, const char *what, const struct reply *r)
{
	sv->reachable = false;
	sv->http_status = r->status;
	if (r->status == 0)
		snprintf(sv->err, sizeof sv->err, "%s: %s", what, r->err);
	else
		snprintf(sv->err, sizeof sv->err, "%s: HTTP %ld %s", what, r->status,
			 r->json ? field_str(r->json, "error") : r->err);
	sanitize(sv->err);
}

/* Read one server: its tanks' fish, then its outbox. */
/* One tank of the list: its counters and the ids of its fish and plants. -1 when its
 * state could not be read (the server is then unreachable). */
static int read_tank(struct ctl *ctl, struct server *sv, int idx, struct snapshot *s,
		     json_object *ts)
{
	json_object *st = field_obj(ts, "stats");
	const char *tid = field_str(field_obj(ts, "tank"), "tank_id");
	if (!object_id_valid(tid, 64))
		return 0;
	char path[128];
	snprintf(path, sizeof path, "/api/tanks/%s/state", tid);
	struct reply sr;
	if (ctl_request(ctl, &sv->sim, "GET", path, NULL, &sr) < 0 ||
	    (sr.status != 200 && sr.status != 404) || (sr.status == 200 && !sr.json)) {
		char what[200];
		snprintf(what, sizeof what, "state of tank %s", tid);
		set_unreachable(sv, what, &sr);
		reply_free(&sr);
		return -1;
	}
	if (sr.status == 404) { /* deleted since the list: its fish went with it */
		reply_free(&sr);
		return 0;
	}
	sv->tanks++;
	sv->paused += field_bool(ts, "paused");
	sv->mig_in += (uint64_t)field_int(st, "migrations_in");
	sv->mig_out += (uint64_t)field_int(st, "migrations_out");
	sv->plant_mig_in += (uint64_t)field_int(st, "plant_migrations_in");
	sv->plant_mig_out += (uint64_t)field_int(st, "plant_migrations_out");
	json_object *ents = field_arr(sr.json, "entities");
	for (size_t j = 0; ents && j < json_object_array_length(ents); j++) {
		json_object *e = json_object_array_get_idx(ents, j);
		bool plant = strcmp(field_str(e, "kind"), "plant") == 0;
		if ((!plant && strcmp(field_str(e, "kind"), "fish") != 0) || !*field_str(e, "id"))
			continue;
		add_place(s, field_str(e, "id"), idx, false, tid, plant);
		if (plant)
			sv->plants++;
		else
			sv->fish++;
	}
	reply_free(&sr);
	return 0;
}

/* The server's outbox: every fish and plant in flight from it. */
static void read_outbox(struct ctl *ctl, struct server *sv, int idx, struct snapshot *s)
{
	struct reply r;
	if (ctl_request(ctl, &sv->sim, "GET", "/api/outbox", NULL, &r) < 0 || r.status != 200 ||
	    !field_arr(r.json, "transfers")) {
		set_unreachable(sv, "outbox", &r);
		reply_free(&r);
		return;
	}
	json_object *list = field_arr(r.json, "transfers");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);
		if (!*field_str(x, "fish_id"))
			continue;
		bool plant = strcmp(field_str(x, "kind"), "plant") == 0;
		add_place(s, field_str(x, "fish_id"), idx, true, field_str(x, "transfer_id"), plant);
		sv->plants_in_flight += plant;
		json_object *copy = NULL;
		json_object_deep_copy(x, &copy, NULL);
		json_object_object_add(copy, "source_server_id", json_object_new_string(sv->id));
		json_object_array_add(s->inflight, copy);
		sv->in_flight++;
	}
	reply_free(&r);
}

static void read_server(struct ctl *ctl, struct server *sv, int idx, struct snapshot *s)
{
	struct reply r;
	sv->reachable = true;
	sv->http_status = 0;
	sv->public_only = false;
	sv->err[0] = '\0';
	sv->tanks = sv->paused = sv->fish = sv->in_flight = 0;
	sv->plants = sv->plants_in_flight = 0;
	sv->mig_in = sv->mig_out = sv->plant_mig_in = sv->plant_mig_out = 0;
	if (!sv->addr_ok) {
		sv->reachable = false;
		snprintf(sv->err, sizeof sv->err,
			 "discoveryd advertises an unusable address (%s:%d)", sv->host, sv->port);
		sanitize(sv->err);
		return;
	}
	if (sv->same_as >= 0)
		return; /* read under the entry its simd says it is */
	if (sv->silent[0]) {
		sv->reachable = false;
		snprintf(sv->err, sizeof sv->err, "%s", sv->silent);
		return;
	}
	sv->public_only = ctl_public_only(ctl, &sv->sim); /* asks the server: not before */
	if (ctl_request(ctl, &sv->sim, "GET", ctl_tanks_path(ctl, &sv->sim), NULL, &r) < 0 ||
	    r.status != 200 || !field_arr(r.json, "tanks")) {
		set_unreachable(sv, sv->sim.what, &r);
		reply_free(&r);
		return;
	}
	json_object *tanks = field_arr(r.json, "tanks");
	for (size_t i = 0; i < json_object_array_length(tanks); i++)
		if (read_tank(ctl, sv, idx, s, json_object_array_get_idx(tanks, i)) < 0) {
			reply_free(&r);
			return;
		}
	reply_free(&r);
	read_outbox(ctl, sv, idx, s);
}

static void take_snapshot(struct ctl *ctl, struct server *srv, size_t n, struct snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->inflight = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		read_server(ctl, &srv[i], (int)i, s);
		if (!srv[i].reachable) {
			s->unreachable++;
			continue;
		}
		s->public_only += srv[i].public_only;
		s->tanks += srv[i].tanks;
		s->paused += srv[i].paused;
		/* Departures and arrivals of both kinds, as the outboxes hold both. */
		s->mig_in += srv[i].mig_in + srv[i].plant_mig_in;
		s->mig_out += srv[i].mig_out + srv[i].plant_mig_out;
		s->plant_mig_in += srv[i].plant_mig_in;
		s->plant_mig_out += srv[i].plant_mig_out;
		s->plants_in_flight += srv[i].plants_in_flight;
		s->plants_in_tanks += srv[i].plants;
	}
	qsort(s->pl, s->npl, sizeof *s->pl, cmp_place);
	for (size_t i = 0; i < s->npl;) {
		size_t j = i + 1;
		while (j < s->npl && strcmp(s->pl[j].fish, s->pl[i].fish) == 0)
			j++;
		if (s->pl[i].plant)
			s->distinct_plants++;
		else
			s->distinct++;
		if (j - i > 1) {
			s->dups = xrealloc(s->dups, (s->ndups + 1) * sizeof *s->dups);
			s->dups[s->ndups++] = xstrdup(s->pl[i].fish);
		}
		i = j;
	}
}

/* Departures not accounted for by an arrival or an outbox record. */
static int64_t balance_of(const struct snapshot *s)
{
	return (int64_t)s->mig_out - (int64_t)s->mig_in -
	       (int64_t)json_object_array_length(s->inflight);
}

static bool idset_has(const struct idset *set, const char *id)
{
	return set->n && bsearch(&id, set->v, set->n, sizeof *set->v, cmp_str);
}

/* Keep the ids of a that are in b (both sorted). */
static void idset_intersect(struct idset *a, char **b, size_t nb)
{
	struct idset bs = {b, nb};
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (idset_has(&bs, a->v[i]))
			a->v[k++] = a->v[i];
		else
			free(a->v[i]);
	}
	a->n = k;
}

static void idset_free(struct idset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static bool snapshot_has(const struct snapshot *s, const char *id)
{
	size_t lo = 0, hi = s->npl;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->pl[mid].fish, id);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Is id (present in the snapshot) a plant's? */
static bool snapshot_plant(const struct snapshot *s, const char *id)
{
	for (size_t i = 0; i < s->npl; i++)
		if (strcmp(s->pl[i].fish, id) == 0)
			return s->pl[i].plant;
	return false;
}

/* How many of the ids in set are plants (dups: by the snapshot; lost: by the baseline). */
static size_t dup_plants(const struct snapshot *s, const struct idset *dups)
{
	size_t n = 0;
	for (size_t i = 0; i < dups->n; i++)
		n += snapshot_plant(s, dups->v[i]);
	return n;
}

/* Baseline ids absent from the snapshot. */
static void missing_ids(const struct idset *base, const struct snapshot *s, char ***ret, size_t *n)
{
	*ret = NULL;
	*n = 0;
	for (size_t i = 0; i < base->n; i++)
		if (!snapshot_has(s, base->v[i])) {
			*ret = xrealloc(*ret, (*n + 1) * sizeof **ret);
			(*ret)[(*n)++] = base->v[i]; /* borrowed */
		}
}

static int load_baseline(const char *path, struct idset *set, struct idset *plants)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, 1u << 30, &text, &len);
	if (r < 0) {
		fprintf(stderr, "tankctl: baseline %s: %s\n", path, fs_read_error(r));
		return -1;
	}
	struct json_err e;
	json_object *o = jv_parse_object(text, len, 16, &e);
	free(text);
	json_object *fish = o ? field_arr(o, "fish") : NULL;
	if (!fish || strcmp(field_str(o, "format"), "tankctl-audit-baseline") != 0) {
		fprintf(stderr,
			"tankctl: baseline %s: not a file written by 'tankctl audit --save'%s%s\n",
			path, o ? "" : ": ", o ? "" : e.msg);
		json_object_put(o);
		return -1;
	}
	size_t n = json_object_array_length(fish);
	set->v = xcalloc(n ? n : 1, sizeof *set->v);
	plants->v = xcalloc(n ? n : 1, sizeof *plants->v);
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(fish, i);
		const char *id = field_str(x, "id");
		if (!*id)
			continue;
		set->v[set->n++] = xstrdup(id);
		if (strcmp(field_str(x, "kind"), "plant") == 0)
			plants->v[plants->n++] = xstrdup(id);
	}
	json_object_put(o);
	qsort(set->v, set->n, sizeof *set->v, cmp_str);
	qsort(plants->v, plants->n, sizeof *plants->v, cmp_str);
	return 0;
}

static int save_baseline(const char *path, const struct snapshot *s, const struct server *srv,
			 bool strict)
{
	json_object *o = json_object_new_object(), *fish = json_object_new_array();
	char ts[32];
	iso8601_utc(now_wall(), ts);
	json_object_object_add(o, "format", json_object_new_string("tankctl-audit-baseline"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "created_at", json_object_new_string(ts));
	json_object_object_add(o, "all_paused", json_object_new_boolean(strict));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)s->distinct));
	json_object_object_add(o, "plants", json_object_new_int64((int64_t)s->distinct_plants));
	for (size_t i = 0; i < s->npl; i++) {
		if (i && strcmp(s->pl[i].fish, s->pl[i - 1].fish) == 0)
			continue;
		json_object *f = json_object_new_object();
		json_object_object_add(f, "id", json_object_new_string(s->pl[i].fish));
		if (s->pl[i].plant)
			json_object_object_add(f, "kind", json_object_new_string("plant"));
		json_object_object_add(f, "server_id", json_object_new_string(srv[s->pl[i].srv].id));
		json_object_object_add(f, s->pl[i].outbox ? "transfer_id" : "tank_id",
				       json_object_new_string(s->pl[i].where));
		json_object_array_add(fish, f);
	}
	json_object_object_add(o, "fish", fish);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE);
	char *data;
	data = xasprintf("%s\n", text);
	int r = fs_write_atomic(path, data, strlen(data), 0644);
	free(data);
	json_object_put(o);
	if (r < 0) {
		fprintf(stderr, "tankctl: cannot write %s: %s\n", path, strerror(-r));
		return -1;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static json_object *places_json(const struct snapshot *s, const struct server *srv, const char *id)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < s->npl; i++) {
		if (strcmp(s->pl[i].fish, id) != 0)
			continue;
		json_object *p = json_object_new_object();
		json_object_object_add(p, "server_id", json_object_new_string(srv[s->pl[i].srv].id));
		json_object_object_add(p, s->pl[i].outbox ? "transfer_id" : "tank_id",
				       json_object_new_string(s->pl[i].where));
		json_object_array_add(a, p);
	}
	return a;
}

static void places_text(const struct snapshot *s, const struct server *srv, const char *id,
			char *out, size_t n)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->npl && off < n; i++) {
		if (strcmp(s->pl[i].fish, id) != 0)
			continue;
		off += (size_t)snprintf(out + off, n - off, "%s%s %s %s", off ? ", " : "",
					srv[s->pl[i].srv].id, s->pl[i].outbox ? "outbox" : "tank",
					s->pl[i].where);
	}
}

/* One audit: the servers, the last snapshot and what the snapshots confirmed. */
struct audit {
	const struct audit_opts *o;
	struct server *srv;
	size_t n;
	struct snapshot s; /* the last one taken */
	int snaps;
	struct idset base, dups, lost;
	struct idset base_plants; /* the baseline's plant ids */
	size_t dups_plants, lost_plants;
	int64_t balance;
	bool balance_moving;
	/* The verdict (audit_balance). */
	size_t in_flight;
	bool complete, strict, lost_checked, saved;
	int64_t lost_n, extra_n;
	int rc;
};

/* Which entries reach a simd that says it is another listed server (GET /health's
 * server_id): those are left out of every snapshot, as that server's own entry reads
 * the same tanks. A simd that says nothing, or names no listed server, is read as its
 * entry: its fish are real. */
static void audit_identities(struct ctl *ctl, struct audit *a)
{
	for (size_t i = 0; i < a->n; i++)
		a->srv[i].same_as = -1;
	for (size_t i = 0; i < a->n; i++) {
		struct server *sv = &a->srv[i];
		if (!sv->addr_ok)
			continue;
		struct reply r;
		sv->silent[0] = '\0';
		if (ctl_request(ctl, &sv->sim, "GET", "/health", NULL, &r) == 0 && r.status == 200) {
			const char *id = field_str(r.json, "server_id");
			for (size_t j = 0; *id && strcmp(id, sv->id) != 0 && j < a->n; j++)
				if (j != i && strcmp(a->srv[j].id, id) == 0 &&
				    a->srv[j].same_as != (int)i) /* two swapped: read both */
					sv->same_as = (int)j;
		} else if (r.status == 0) {
			set_unreachable(sv, sv->sim.what, &r);
			snprintf(sv->silent, sizeof sv->silent, "%s", sv->err);
		}
		reply_free(&r);
	}
}

/* The servers discoveryd knows, and how to reach each one's simd. */
static int audit_servers(struct ctl *ctl, struct audit *a)
{
	struct ctl_server *cs;
	size_t n;
	if (ctl_servers(ctl, &cs, &n) < 0)
		return -1;
	struct server *srv = xcalloc(n ? n : 1, sizeof *srv);
	for (size_t i = 0; i < n; i++) {
		struct server *sv = &srv[i];
		memcpy(sv->id, cs[i].id, sizeof sv->id);
		memcpy(sv->status, cs[i].status, sizeof sv->status);
		memcpy(sv->host, cs[i].host, sizeof sv->host);
		sv->port = cs[i].port;
		sv->local = cs[i].local;
		sv->sim = cs[i].sim;
		sv->addr_ok = cs[i].ok;
	}
	free(cs);
	a->srv = srv;
	a->n = n;
	audit_identities(ctl, a);
	return 0;
}

/* Snapshots until nothing is suspicious, or until suspicions are confirmed. */
static void audit_collect(struct ctl *ctl, struct audit *a)
{
	take_snapshot(ctl, a->srv, a->n, &a->s);
	a->snaps = 1;
	a->dups.v = calloc(a->s.ndups + 1, sizeof *a->dups.v);
	for (size_t i = 0; i < a->s.ndups; i++)
		a->dups.v[a->dups.n++] = xstrdup(a->s.dups[i]);
	char **miss;
	size_t nmiss;
	missing_ids(&a->base, &a->s, &miss, &nmiss);
	a->lost.v = calloc(nmiss + 1, sizeof *a->lost.v);
	for (size_t i = 0; i < nmiss; i++)
		a->lost.v[a->lost.n++] = xstrdup(miss[i]);
	free(miss);
	a->balance = balance_of(&a->s);
	while ((a->dups.n || a->lost.n || a->balance != 0) && a->snaps < SNAPSHOTS &&
	       a->s.unreachable == 0) {
		sleep_ms(SNAPSHOT_PAUSE_MS);
		struct snapshot t;
		take_snapshot(ctl, a->srv, a->n, &t);
		a->snaps++;
		idset_intersect(&a->dups, t.dups, t.ndups);
		missing_ids(&a->base, &t, &miss, &nmiss);
		idset_intersect(&a->lost, miss, nmiss);
		free(miss);
		int64_t b = balance_of(&t);
		if (a->balance != 0 && b != 0 && b != a->balance)
			a->balance_moving = true;
		a->balance = a->balance != 0 ? b : 0;
		snapshot_free(&a->s);
		a->s = t;
	}
}

/* What the snapshots prove, the exit status, and the baseline saved if asked. */
static void audit_balance(struct audit *a)
{
	const struct audit_opts *o = a->o;
	a->in_flight = json_object_array_length(a->s.inflight);
	a->dups_plants = dup_plants(&a->s, &a->dups);
	a->lost_plants = 0;
	for (size_t i = 0; i < a->lost.n; i++)
		a->lost_plants += idset_has(&a->base_plants, a->lost.v[i]);
	/* A private tank unseen is fish unseen: its departures and arrivals too. */
	a->complete = a->s.unreachable == 0 && a->s.public_only == 0;
	a->strict = a->complete && a->s.paused == a->s.tanks;
	a->lost_checked = o->baseline || o->expect >= 0;
	int64_t distinct = (int64_t)a->s.distinct;
	if (o->baseline)
		a->lost_n = (int64_t)a->lost.n;
	else if (o->expect >= 0) {
		a->lost_n = o->expect > distinct ? o->expect - distinct : 0;
		a->extra_n = distinct > o->expect ? distinct - o->expect : 0;
	}
	/* One code per finding, so scripts can tell them apart (tankctl(1)). A balance
	 * that changed between snapshots is a migration under way, not a finding. */
	a->rc = 0;
	if (a->dups.n)
		a->rc = EXIT_DUPLICATE;
	else if (a->lost_checked && a->strict && (a->lost_n || a->extra_n))
		a->rc = EXIT_LOST;
	else if (a->complete && a->balance != 0 && !a->balance_moving)
		a->rc = EXIT_IMBALANCE;
	else if (!a->complete)
		a->rc = EXIT_UNREACHABLE;
	if (o->save) {
		if (!a->complete)
			fprintf(stderr, "tankctl: baseline not saved: not every tank was read\n");
		else if (save_baseline(o->save, &a->s, a->srv, a->strict) == 0)
			a->saved = true;
		else if (a->rc == 0)
			a->rc = EXIT_FAIL;
	}
}

static json_object *audit_servers_json(const struct audit *a)
{
	json_object *sa = json_object_new_array();
	for (size_t i = 0; i < a->n; i++) {
		const struct server *sv = &a->srv[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "server_id", json_object_new_string(sv->id));
		json_object_object_add(x, "status", json_object_new_string(sv->status));
		json_object_object_add(x, "is_local", json_object_new_boolean(sv->local));
		json_object_object_add(x, "reachable", json_object_new_boolean(sv->reachable));
		json_object_object_add(x, "same_simd_as",
				       sv->same_as >= 0
					       ? json_object_new_string(a->srv[sv->same_as].id)
					       : NULL);
		json_object_object_add(x, "public_only",
				       json_object_new_boolean(sv->reachable && sv->public_only));
		json_object_object_add(x, "error",
				       sv->reachable ? NULL : json_object_new_string(sv->err));
		json_object_object_add(x, "tanks", json_object_new_int64((int64_t)sv->tanks));
		json_object_object_add(x, "paused_tanks",
				       json_object_new_int64((int64_t)sv->paused));
		json_object_object_add(x, "fish_in_tanks", json_object_new_int64((int64_t)sv->fish));
		json_object_object_add(x, "in_flight",
				       json_object_new_int64((int64_t)sv->in_flight));
		json_object_object_add(x, "plants_in_tanks",
				       json_object_new_int64((int64_t)sv->plants));
		json_object_object_add(x, "plants_in_flight",
				       json_object_new_int64((int64_t)sv->plants_in_flight));
		json_object_array_add(sa, x);
	}
	return sa;
}

static json_object *audit_lost_json(const struct audit *a)
{
	const struct audit_opts *o = a->o;
	bool checked = a->lost_checked;
	json_object *lo = json_object_new_object();
	json_object_object_add(lo, "checked", json_object_new_boolean(checked));
	json_object_object_add(lo, "method",
			       checked ? json_object_new_string(o->baseline ? "baseline" : "expect")
				       : NULL);
	json_object_object_add(lo, "strict", json_object_new_boolean(checked && a->strict));
	json_object_object_add(lo, "count", checked ? json_object_new_int64(a->lost_n) : NULL);
	if (o->baseline) {
		json_object *la = json_object_new_array();
		for (size_t i = 0; i < a->lost.n; i++)
			json_object_array_add(la, json_object_new_string(a->lost.v[i]));
		json_object_object_add(lo, "fish_ids", la);
		json_object_object_add(lo, "baseline_count",
				       json_object_new_int64((int64_t)a->base.n));
		json_object_object_add(lo, "plants", json_object_new_int64((int64_t)a->lost_plants));
	}
	if (o->expect >= 0) {
		json_object_object_add(lo, "expected", json_object_new_int64(o->expect));
		json_object_object_add(lo, "extra", json_object_new_int64(a->extra_n));
	}
	return lo;
}

/* The balance of one kind: departures, arrivals and in flight (the total is the sum). */
struct kind_books {
	uint64_t out, in;
	size_t flying;
	int64_t diff;
};

static struct kind_books kind_books(const struct audit *a, bool plants)
{
	const struct snapshot *s = &a->s;
	struct kind_books k;
	k.out = plants ? s->plant_mig_out : s->mig_out - s->plant_mig_out;
	k.in = plants ? s->plant_mig_in : s->mig_in - s->plant_mig_in;
	k.flying = plants ? s->plants_in_flight : a->in_flight - s->plants_in_flight;
	k.diff = (int64_t)k.out - (int64_t)k.in - (int64_t)k.flying;
	return k;
}

static json_object *kind_balance_json(const struct audit *a, bool plants)
{
	struct kind_books k = kind_books(a, plants);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "departures", json_object_new_uint64(k.out));
	json_object_object_add(o, "arrivals", json_object_new_uint64(k.in));
	json_object_object_add(o, "in_flight", json_object_new_int64((int64_t)k.flying));
	json_object_object_add(o, "difference", json_object_new_int64(k.diff));
	return o;
}

static void audit_print_json(const struct audit *a)
{
	const struct snapshot *s = &a->s;
	json_object *out = json_object_new_object();
	json_object_object_add(out, "servers", audit_servers_json(a));
	json_object_object_add(out, "complete", json_object_new_boolean(a->complete));
	json_object_object_add(out, "all_paused", json_object_new_boolean(a->strict));
	json_object_object_add(out, "snapshots", json_object_new_int(a->snaps));
	json_object_object_add(out, "fish", json_object_new_int64((int64_t)s->distinct));
	json_object_object_add(out, "plants", json_object_new_int64((int64_t)s->distinct_plants));
	json_object_object_add(out, "in_tanks",
			       json_object_new_int64(
				       (int64_t)(s->npl - a->in_flight - s->plants_in_tanks)));
	json_object_object_add(out, "in_flight", json_object_get(s->inflight));
	json_object *da = json_object_new_array();
	for (size_t i = 0; i < a->dups.n; i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "fish_id", json_object_new_string(a->dups.v[i]));
		json_object_object_add(x, "kind",
				       json_object_new_string(
					       snapshot_plant(s, a->dups.v[i]) ? "plant" : "fish"));
		json_object_object_add(x, "places", places_json(s, a->srv, a->dups.v[i]));
		json_object_array_add(da, x);
	}
	json_object_object_add(out, "duplicated", da);
	json_object_object_add(out, "lost", audit_lost_json(a));
	json_object *bo = json_object_new_object();
	json_object_object_add(bo, "checked", json_object_new_boolean(a->complete));
	json_object_object_add(bo, "departures", json_object_new_uint64(s->mig_out));
	json_object_object_add(bo, "arrivals", json_object_new_uint64(s->mig_in));
	json_object_object_add(bo, "in_flight", json_object_new_int64((int64_t)a->in_flight));
	json_object_object_add(bo, "difference", json_object_new_int64(a->balance));
	json_object_object_add(bo, "settling", json_object_new_boolean(a->balance_moving));
	json_object_object_add(bo, "fish", kind_balance_json(a, false));
	json_object_object_add(bo, "plants", kind_balance_json(a, true));
	json_object_object_add(out, "migration_balance", bo);
	if (a->o->save)
		json_object_object_add(out, "saved", json_object_new_boolean(a->saved));
	json_object_object_add(out, "exit_status", json_object_new_int(a->rc));
	print_json(out);
	json_object_put(out);
}

static void audit_print_servers(const struct audit *a)
{
	const struct server *srv = a->srv;
	struct table *t = table_new(7, "SERVER", "STATUS", ">TANKS", ">PAUSED", ">FISH",
				    ">IN FLIGHT", ">PLANTS");
	for (size_t i = 0; i < a->n; i++) {
		table_row(t);
		table_cell(t, "%s%s", srv[i].id, srv[i].local ? " *" : "");
		if (srv[i].same_as >= 0) {
			table_cell(t, "%s, the simd of %s", srv[i].status, srv[srv[i].same_as].id);
			for (int k = 0; k < 5; k++)
				table_cell(t, "-");
			continue;
		}
		if (!srv[i].reachable) {
			if (srv[i].http_status)
				table_cell(t, "%s, HTTP %ld", srv[i].status, srv[i].http_status);
			else
				table_cell(t, "%s, NO ANSWER", srv[i].status);
			for (int k = 0; k < 5; k++)
				table_cell(t, "-");
			continue;
		}
		table_cell(t, "%s", srv[i].status);
		table_cell(t, "%zu", srv[i].tanks);
		table_cell(t, "%zu", srv[i].paused);
		table_cell(t, "%zu", srv[i].fish);
		table_cell(t, "%zu", srv[i].in_flight - srv[i].plants_in_flight);
		table_cell(t, "%zu", srv[i].plants + srv[i].plants_in_flight);
	}
	table_row(t);
	table_cell(t, "total");
	table_cell(t, "%s", "");
	table_cell(t, "%zu", a->s.tanks);
	table_cell(t, "%zu", a->s.paused);
	table_cell(t, "%zu", a->s.npl - a->in_flight - a->s.plants_in_tanks);
	table_cell(t, "%zu", a->in_flight - a->s.plants_in_flight);
	table_cell(t, "%zu", a->s.distinct_plants);
	table_print(t, stdout);
	table_free(t);
	for (size_t i = 0; i < a->n; i++)
		if (!srv[i].reachable)
			printf("%s: %s\n", srv[i].id, srv[i].err);
		else if (srv[i].same_as >= 0)
			printf("%s: its address reaches the simd of %s, read under that entry (a "
			       "renamed server's old entry?)\n",
			       srv[i].id, srv[srv[i].same_as].id);
}

static void audit_print_in_flight(const struct audit *a)
{
	printf("\nin flight (%zu):\n", a->in_flight);
	struct table *t = table_new(6, "TRANSFER", "FISH", "FROM", "TO", ">AGE", ">ATTEMPTS");
	double now = now_wall();
	for (size_t i = 0; i < a->in_flight; i++) {
		json_object *x = json_object_array_get_idx(a->s.inflight, i);
		double created;
		char age[32] = "-";
		if (iso8601_parse(field_str(x, "created_at"), &created) == 0)
			fmt_age(now - created, age, sizeof age);
		table_row(t);
		table_cell(t, "%s", field_str(x, "transfer_id"));
		table_cell(t, "%s%s", field_str(x, "fish_id"),
			   strcmp(field_str(x, "kind"), "plant") == 0 ? " (plant)" : "");
		table_cell(t, "%s/%s", field_str(x, "source_server_id"),
			   field_str(x, "source_tank_id"));
		table_cell(t, "%s/%s", field_str(x, "destination_server_id"),
			   field_str(x, "destination_tank_id"));
		table_cell(t, "%s", age);
		table_cell(t, "%" PRId64, field_int(x, "attempts"));
	}
	table_print(t, stdout);
	table_free(t);
}

static void audit_print_balance(const struct audit *a)
{
	const struct snapshot *s = &a->s;
	if (!a->complete)
		printf("migration balance: not checked (not every tank was read)\n");
	else if (a->balance == 0)
		printf("migration balance: %" PRIu64 " departures = %" PRIu64
		       " arrivals + %zu in flight\n",
		       s->mig_out, s->mig_in, a->in_flight);
	else
		printf("migration balance: %" PRIu64 " departures, %" PRIu64
		       " arrivals, %zu in flight: "
		       "off by %+" PRId64 "%s\n"
		       "  (more departures: fish lost in migration, or arrived in tanks since deleted;\n"
		       "   fewer: arrivals counted twice, or sent from tanks since deleted)\n",
		       s->mig_out, s->mig_in, a->in_flight, a->balance,
		       a->balance_moving ? " and changing: migrations under way" : "");
	if (a->complete && (s->plant_mig_out || s->distinct_plants)) {
		struct kind_books f = kind_books(a, false), p = kind_books(a, true);
		printf("  fish: %" PRIu64 " departures, %" PRIu64
		       " arrivals, %zu in flight (%+" PRId64 "); plants: %" PRIu64
		       " departures, %" PRIu64 " arrivals, %zu in flight (%+" PRId64 ")\n",
		       f.out, f.in, f.flying, f.diff, p.out, p.in, p.flying, p.diff);
	}
}

static void audit_print_lost(const struct audit *a)
{
	const struct audit_opts *o = a->o;
	bool strict = a->strict;
	size_t distinct = a->s.distinct;
	if (o->baseline) {
		printf("baseline: %zu fish and %zu plants; %zu of them absent now%s\n",
		       a->base.n - a->base_plants.n, a->base_plants.n, a->lost.n,
		       strict ? "" : " (advisory: some tanks are running, and deaths remove fish)");
		for (size_t i = 0; i < a->lost.n && i < 50; i++)
			printf("  absent: %s\n", a->lost.v[i]);
		if (a->lost.n > 50)
			printf("  ... and %zu more (--json lists them all)\n", a->lost.n - 50);
	} else if (o->expect >= 0) {
		printf("expected %ld fish, found %zu%s\n", o->expect, distinct,
		       strict ? "" : " (advisory: some tanks are running)");
	}
	if (a->saved)
		printf("baseline saved to %s (%zu fish, %zu plants%s)\n", o->save, distinct,
		       a->s.distinct_plants,
		       strict ? ", every tank paused" : "; some tanks running");
	/* One line per kind; --expect counts fish only. */
	size_t dup_fish = a->dups.n - a->dups_plants;
	int64_t lost_fish = o->baseline ? a->lost_n - (int64_t)a->lost_plants : a->lost_n;
	struct kind_books pb = kind_books(a, true);
	if (a->lost_checked)
		printf("%zu fish, %" PRId64 " lost%s, %zu duplicated\n", distinct, lost_fish,
		       strict ? "" : " (advisory)", dup_fish);
	else if (a->complete && a->balance == 0)
		/* Without a baseline the ids cannot be compared, but the balance proves every
		 * fish that left a tank arrived in one or is in flight: none lost in migration. */
		printf("%zu fish, 0 lost in migration, %zu duplicated; lost otherwise: not checked "
		       "(no baseline)\n",
		       distinct, dup_fish);
	else
		printf("%zu fish, %zu duplicated; lost: not checked (no baseline)\n", distinct,
		       dup_fish);
	if (o->baseline)
		printf("%zu plants, %zu lost%s, %zu duplicated\n", a->s.distinct_plants,
		       a->lost_plants, strict ? "" : " (advisory)", a->dups_plants);
	else if (a->complete && pb.diff == 0)
		printf("%zu plants, 0 lost in migration, %zu duplicated\n", a->s.distinct_plants,
		       a->dups_plants);
	else
		printf("%zu plants, %zu duplicated; lost: not checked\n", a->s.distinct_plants,
		       a->dups_plants);
}

static void audit_print_text(const struct audit *a)
{
	audit_print_servers(a);
	if (a->in_flight)
		audit_print_in_flight(a);
	if (a->dups.n) {
		printf("\nDUPLICATED (%zu fish, in each of %d snapshots):\n", a->dups.n, a->snaps);
		for (size_t i = 0; i < a->dups.n; i++) {
			char where[2048];
			places_text(&a->s, a->srv, a->dups.v[i], where, sizeof where);
			sanitize(where);
			printf("  %s %s: %s\n",
			       snapshot_plant(&a->s, a->dups.v[i]) ? "plant" : "fish", a->dups.v[i],
			       where);
		}
	}
	printf("\n");
	audit_print_balance(a);
	audit_print_lost(a);
	if (a->s.unreachable) {
		printf("audit incomplete: %zu server(s) could not be read:", a->s.unreachable);
		for (size_t i = 0; i < a->n; i++)
			if (!a->srv[i].reachable)
				printf(" %s", a->srv[i].id);
		printf("\n");
	}
	if (a->s.public_only) {
		printf("audit incomplete: without the cluster token only public tanks are listed "
		       "on:");
		for (size_t i = 0; i < a->n; i++)
			if (a->srv[i].reachable && a->srv[i].public_only)
				printf(" %s", a->srv[i].id);
		printf("\n");
	}
}

int cmd_audit(struct ctl *ctl, const struct audit_opts *o)
{
	struct audit a = {.o = o};
	if (o->baseline && load_baseline(o->baseline, &a.base, &a.base_plants) < 0)
		return EXIT_FAIL;
	if (audit_servers(ctl, &a) < 0) {
		idset_free(&a.base);
		idset_free(&a.base_plants);
		return EXIT_UNREACHABLE;
	}
	audit_collect(ctl, &a);
	audit_balance(&a);
	if (ctl->json)
		audit_print_json(&a);
	else
		audit_print_text(&a);
	snapshot_free(&a.s);
	idset_free(&a.dups);
	idset_free(&a.lost);
	idset_free(&a.base);
	idset_free(&a.base_plants);
	free(a.srv);
	return a.rc;
}
