/* tankctl audit: walk every server discoveryd knows and prove that every fish id is in
 * exactly one place: one tank, or one outbox record (in flight).
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
 *    counters go with it) and every server is audited. It is reported but does not
 *    decide the exit status. A per-tank reconciliation (fish == spawns + births +
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

#define SNAPSHOTS 3
#define SNAPSHOT_PAUSE_MS 500

struct place {
	char fish[40];
	int srv;
	bool outbox;
	char where[72]; /* tank id, or the transfer id of an outbox record */
};

struct server {
	char id[65], status[16], host[CONF_STR];
	int port;
	bool local;
	struct endpoint sim;
	bool addr_ok;
	/* Per snapshot. */
	bool reachable;
	char err[700];
	size_t tanks, paused, fish, in_flight;
	uint64_t mig_in, mig_out;
};

struct snapshot {
	struct place *pl;
	size_t npl, cap;
	json_object *inflight; /* outbox records, each with its "source_server_id" */
	size_t unreachable, tanks, paused;
	uint64_t mig_in, mig_out;
	size_t distinct; /* distinct fish ids */
	char **dups;	 /* sorted, distinct */
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

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

static void add_place(struct snapshot *s, const char *fish, int srv, bool outbox, const char *where)
{
	if (s->npl == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->pl = realloc(s->pl, s->cap * sizeof *s->pl);
		if (!s->pl)
			abort();
	}
	struct place *p = &s->pl[s->npl++];
	snprintf(p->fish, sizeof p->fish, "%s", fish);
	p->srv = srv;
	p->outbox = outbox;
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
	if (r->status == 0)
		snprintf(sv->err, sizeof sv->err, "%s: %s", what, r->err);
	else
		snprintf(sv->err, sizeof sv->err, "%s: HTTP %ld %s", what, r->status,
			 r->json ? js(r->json, "error") : r->err);
	sanitize(sv->err);
}

/* Read one server: its tanks' fish, then its outbox. */
static void read_server(struct ctl *ctl, struct server *sv, int idx, struct snapshot *s)
{
	struct reply r;
	sv->reachable = true;
	sv->err[0] = '\0';
	sv->tanks = sv->paused = sv->fish = sv->in_flight = 0;
	sv->mig_in = sv->mig_out = 0;
	if (!sv->addr_ok) {
		sv->reachable = false;
		snprintf(sv->err, sizeof sv->err, "discoveryd advertises an unusable address (%s:%d)",
			 sv->host, sv->port);
		sanitize(sv->err);
		return;
	}
	if (ctl_request(ctl, &sv->sim, "GET", "/api/tanks?include_private=true", NULL, &r) < 0 ||
	    r.status != 200 || !ja(r.json, "tanks")) {
		set_unreachable(sv, sv->sim.what, &r);
		reply_free(&r);
		return;
	}
	json_object *tanks = ja(r.json, "tanks");
	for (size_t i = 0; i < json_object_array_length(tanks); i++) {
		json_object *ts = json_object_array_get_idx(tanks, i), *st = jo(ts, "stats");
		const char *tid = js(jo(ts, "tank"), "tank_id");
		if (!object_id_valid(tid, 64))
			continue;
		char path[128];
		snprintf(path, sizeof path, "/api/tanks/%s/state", tid);
		struct reply sr;
		if (ctl_request(ctl, &sv->sim, "GET", path, NULL, &sr) < 0 ||
		    (sr.status != 200 && sr.status != 404) || (sr.status == 200 && !sr.json)) {
			char what[200];
			snprintf(what, sizeof what, "state of tank %s", tid);
			set_unreachable(sv, what, &sr);
			reply_free(&sr);
			reply_free(&r);
			return;
		}
		if (sr.status == 404) { /* deleted since the list: its fish went with it */
			reply_free(&sr);
			continue;
		}
		sv->tanks++;
		sv->paused += jb(ts, "paused");
		sv->mig_in += (uint64_t)ji(st, "migrations_in");
		sv->mig_out += (uint64_t)ji(st, "migrations_out");
		json_object *ents = ja(sr.json, "entities");
		for (size_t j = 0; ents && j < json_object_array_length(ents); j++) {
			json_object *e = json_object_array_get_idx(ents, j);
			if (strcmp(js(e, "kind"), "fish") != 0 || !*js(e, "id"))
				continue;
			add_place(s, js(e, "id"), idx, false, tid);
			sv->fish++;
		}
		reply_free(&sr);
	}
	reply_free(&r);
	if (ctl_request(ctl, &sv->sim, "GET", "/api/outbox", NULL, &r) < 0 || r.status != 200 ||
	    !ja(r.json, "transfers")) {
		set_unreachable(sv, "outbox", &r);
		reply_free(&r);
		return;
	}
	json_object *list = ja(r.json, "transfers");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);
		if (!*js(x, "fish_id"))
			continue;
		add_place(s, js(x, "fish_id"), idx, true, js(x, "transfer_id"));
		json_object *copy = NULL;
		json_object_deep_copy(x, &copy, NULL);
		json_object_object_add(copy, "source_server_id", json_object_new_string(sv->id));
		json_object_array_add(s->inflight, copy);
		sv->in_flight++;
	}
	reply_free(&r);
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
		s->tanks += srv[i].tanks;
		s->paused += srv[i].paused;
		s->mig_in += srv[i].mig_in;
		s->mig_out += srv[i].mig_out;
	}
	qsort(s->pl, s->npl, sizeof *s->pl, cmp_place);
	for (size_t i = 0; i < s->npl;) {
		size_t j = i + 1;
		while (j < s->npl && strcmp(s->pl[j].fish, s->pl[i].fish) == 0)
			j++;
		s->distinct++;
		if (j - i > 1) {
			s->dups = realloc(s->dups, (s->ndups + 1) * sizeof *s->dups);
			if (!s->dups)
				abort();
			s->dups[s->ndups++] = xstrdup(s->pl[i].fish);
		}
		i = j;
	}
}

/* Departures not accounted for by an arrival or an outbox record. */
static int64_t balance_of(const struct snapshot *s)
{
	return (int64_t)s->mig_out - (int64_t)s->mig_in - (int64_t)json_object_array_length(s->inflight);
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

/* Baseline ids absent from the snapshot. */
static void missing_ids(const struct idset *base, const struct snapshot *s, char ***ret, size_t *n)
{
	*ret = NULL;
	*n = 0;
	for (size_t i = 0; i < base->n; i++)
		if (!snapshot_has(s, base->v[i])) {
			*ret = realloc(*ret, (*n + 1) * sizeof **ret);
			if (!*ret)
				abort();
			(*ret)[(*n)++] = base->v[i]; /* borrowed */
		}
}

static int load_baseline(const char *path, struct idset *set)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, 1u << 30, &text, &len);
	if (r < 0) {
		fprintf(stderr, "tankctl: baseline %s: %s\n", path, strerror(-r));
		return -1;
	}
	struct json_err e;
	json_object *o = jv_parse_object(text, len, 16, &e);
	free(text);
	json_object *fish = o ? ja(o, "fish") : NULL;
	if (!fish || strcmp(js(o, "format"), "tankctl-audit-baseline") != 0) {
		fprintf(stderr, "tankctl: baseline %s: not a file written by 'tankctl audit --save'%s%s\n",
			path, o ? "" : ": ", o ? "" : e.msg);
		json_object_put(o);
		return -1;
	}
	size_t n = json_object_array_length(fish);
	set->v = calloc(n ? n : 1, sizeof *set->v);
	if (!set->v)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *id = js(json_object_array_get_idx(fish, i), "id");
		if (*id)
			set->v[set->n++] = xstrdup(id);
	}
	json_object_put(o);
	qsort(set->v, set->n, sizeof *set->v, cmp_str);
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
	for (size_t i = 0; i < s->npl; i++) {
		if (i && strcmp(s->pl[i].fish, s->pl[i - 1].fish) == 0)
			continue;
		json_object *f = json_object_new_object();
		json_object_object_add(f, "id", json_object_new_string(s->pl[i].fish));
		json_object_object_add(f, "server_id", json_object_new_string(srv[s->pl[i].srv].id));
		json_object_object_add(f, s->pl[i].outbox ? "transfer_id" : "tank_id",
				       json_object_new_string(s->pl[i].where));
		json_object_array_add(fish, f);
	}
	json_object_object_add(o, "fish", fish);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	char *data;
	if (asprintf(&data, "%s\n", text) < 0)
		abort();
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

int cmd_audit(struct ctl *ctl, const struct audit_opts *o)
{
	struct idset base = {0};
	if (o->baseline && load_baseline(o->baseline, &base) < 0)
		return EXIT_FAIL;
	struct reply r;
	if (ctl_call(ctl, &ctl->disc, "GET", "/api/discovery/servers", NULL, &r) < 0) {
		idset_free(&base);
		return EXIT_UNREACHABLE;
	}
	json_object *list = ja(r.json, "servers");
	size_t n = list ? json_object_array_length(list) : 0;
	struct server *srv = calloc(n ? n : 1, sizeof *srv);
	char url_host[CONF_STR] = "";
	int url_port;
	if (ctl->server_url)
		url_split(ctl->server_url, url_host, sizeof url_host, &url_port);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		struct server *sv = &srv[i];
		snprintf(sv->id, sizeof sv->id, "%s", js(e, "server_id"));
		snprintf(sv->status, sizeof sv->status, "%s", js(e, "status"));
		snprintf(sv->host, sizeof sv->host, "%s", js(e, "host"));
		sanitize(sv->id);
		sanitize(sv->host);
		sv->port = (int)ji(e, "port");
		sv->local = jb(e, "is_local");
		if (sv->local && !ctl->server_url) {
			endpoint_unix(&sv->sim, "simd", ctl->conf.sim.socket);
			sv->addr_ok = true;
		} else {
			/* The server --server names is reached at the host the operator gave. */
			const char *h = sv->local ? url_host : sv->host;
			sv->addr_ok = endpoint_tcp(&sv->sim, "simd", h, sv->port) == 0;
			if (sv->addr_ok)
				snprintf(sv->sim.what, sizeof sv->sim.what, "%s's simd at %.300s", sv->id,
					 sv->sim.base);
		}
	}
	reply_free(&r);

	/* Snapshots until nothing is suspicious, or until suspicions are confirmed. */
	struct snapshot s;
	take_snapshot(ctl, srv, n, &s);
	int snaps = 1;
	struct idset dups = {0}, lost = {0};
	dups.v = calloc(s.ndups + 1, sizeof *dups.v);
	for (size_t i = 0; i < s.ndups; i++)
		dups.v[dups.n++] = xstrdup(s.dups[i]);
	char **miss;
	size_t nmiss;
	missing_ids(&base, &s, &miss, &nmiss);
	lost.v = calloc(nmiss + 1, sizeof *lost.v);
	for (size_t i = 0; i < nmiss; i++)
		lost.v[lost.n++] = xstrdup(miss[i]);
	free(miss);
	int64_t balance = balance_of(&s);
	bool balance_moving = false;
	while ((dups.n || lost.n || balance != 0) && snaps < SNAPSHOTS && s.unreachable == 0) {
		sleep_ms(SNAPSHOT_PAUSE_MS);
		struct snapshot t;
		take_snapshot(ctl, srv, n, &t);
		snaps++;
		idset_intersect(&dups, t.dups, t.ndups);
		missing_ids(&base, &t, &miss, &nmiss);
		idset_intersect(&lost, miss, nmiss);
		free(miss);
		int64_t b = balance_of(&t);
		if (balance != 0 && b != 0 && b != balance)
			balance_moving = true;
		balance = balance != 0 ? b : 0;
		snapshot_free(&s);
		s = t;
	}
	size_t in_flight = json_object_array_length(s.inflight);
	bool complete = s.unreachable == 0;
	bool strict = complete && s.paused == s.tanks;
	bool lost_checked = o->baseline || o->expect >= 0;
	int64_t lost_n = 0, extra_n = 0;
	if (o->baseline)
		lost_n = (int64_t)lost.n;
	else if (o->expect >= 0) {
		lost_n = o->expect > (int64_t)s.distinct ? o->expect - (int64_t)s.distinct : 0;
		extra_n = (int64_t)s.distinct > o->expect ? (int64_t)s.distinct - o->expect : 0;
	}
	int rc = 0;
	if (dups.n)
		rc = EXIT_FAIL;
	else if (!complete)
		rc = EXIT_UNREACHABLE;
	else if (lost_checked && strict && (lost_n || extra_n))
		rc = EXIT_FAIL;
	bool saved = false;
	if (o->save) {
		if (!complete)
			fprintf(stderr, "tankctl: baseline not saved: not every server answered\n");
		else if (save_baseline(o->save, &s, srv, strict) == 0)
			saved = true;
		else if (rc == 0)
			rc = EXIT_FAIL;
	}

	if (ctl->json) {
		json_object *out = json_object_new_object(), *sa = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *x = json_object_new_object();
			json_object_object_add(x, "server_id", json_object_new_string(srv[i].id));
			json_object_object_add(x, "status", json_object_new_string(srv[i].status));
			json_object_object_add(x, "is_local", json_object_new_boolean(srv[i].local));
			json_object_object_add(x, "reachable", json_object_new_boolean(srv[i].reachable));
			json_object_object_add(x, "error", srv[i].reachable ? NULL : json_object_new_string(srv[i].err));
			json_object_object_add(x, "tanks", json_object_new_int64((int64_t)srv[i].tanks));
			json_object_object_add(x, "paused_tanks", json_object_new_int64((int64_t)srv[i].paused));
			json_object_object_add(x, "fish_in_tanks", json_object_new_int64((int64_t)srv[i].fish));
			json_object_object_add(x, "in_flight", json_object_new_int64((int64_t)srv[i].in_flight));
			json_object_array_add(sa, x);
		}
		json_object_object_add(out, "servers", sa);
		json_object_object_add(out, "complete", json_object_new_boolean(complete));
		json_object_object_add(out, "all_paused", json_object_new_boolean(strict));
		json_object_object_add(out, "snapshots", json_object_new_int(snaps));
		json_object_object_add(out, "fish", json_object_new_int64((int64_t)s.distinct));
		json_object_object_add(out, "in_tanks", json_object_new_int64((int64_t)(s.npl - in_flight)));
		json_object_object_add(out, "in_flight", json_object_get(s.inflight));
		json_object *da = json_object_new_array();
		for (size_t i = 0; i < dups.n; i++) {
			json_object *x = json_object_new_object();
			json_object_object_add(x, "fish_id", json_object_new_string(dups.v[i]));
			json_object_object_add(x, "places", places_json(&s, srv, dups.v[i]));
			json_object_array_add(da, x);
		}
		json_object_object_add(out, "duplicated", da);
		json_object *lo = json_object_new_object();
		json_object_object_add(lo, "checked", json_object_new_boolean(lost_checked));
		json_object_object_add(lo, "method", lost_checked ? json_object_new_string(o->baseline ? "baseline" : "expect") : NULL);
		json_object_object_add(lo, "strict", json_object_new_boolean(lost_checked && strict));
		json_object_object_add(lo, "count", lost_checked ? json_object_new_int64(lost_n) : NULL);
		if (o->baseline) {
			json_object *la = json_object_new_array();
			for (size_t i = 0; i < lost.n; i++)
				json_object_array_add(la, json_object_new_string(lost.v[i]));
			json_object_object_add(lo, "fish_ids", la);
			json_object_object_add(lo, "baseline_count", json_object_new_int64((int64_t)base.n));
		}
		if (o->expect >= 0) {
			json_object_object_add(lo, "expected", json_object_new_int64(o->expect));
			json_object_object_add(lo, "extra", json_object_new_int64(extra_n));
		}
		json_object_object_add(out, "lost", lo);
		json_object *bo = json_object_new_object();
		json_object_object_add(bo, "checked", json_object_new_boolean(complete));
		json_object_object_add(bo, "departures", json_object_new_uint64(s.mig_out));
		json_object_object_add(bo, "arrivals", json_object_new_uint64(s.mig_in));
		json_object_object_add(bo, "in_flight", json_object_new_int64((int64_t)in_flight));
		json_object_object_add(bo, "difference", json_object_new_int64(balance));
		json_object_object_add(bo, "settling", json_object_new_boolean(balance_moving));
		json_object_object_add(out, "migration_balance", bo);
		if (o->save)
			json_object_object_add(out, "saved", json_object_new_boolean(saved));
		json_object_object_add(out, "exit_status", json_object_new_int(rc));
		print_json(out);
		json_object_put(out);
		goto done;
	}

	struct table *t = table_new(6, "SERVER", "STATUS", ">TANKS", ">PAUSED", ">FISH", ">IN FLIGHT");
	for (size_t i = 0; i < n; i++) {
		table_row(t);
		table_cell(t, "%s%s", srv[i].id, srv[i].local ? " *" : "");
		if (!srv[i].reachable) {
			table_cell(t, "%s, NO ANSWER", srv[i].status);
			for (int k = 0; k < 4; k++)
				table_cell(t, "-");
			continue;
		}
		table_cell(t, "%s", srv[i].status);
		table_cell(t, "%zu", srv[i].tanks);
		table_cell(t, "%zu", srv[i].paused);
		table_cell(t, "%zu", srv[i].fish);
		table_cell(t, "%zu", srv[i].in_flight);
	}
	table_row(t);
	table_cell(t, "total");
	table_cell(t, "%s", "");
	table_cell(t, "%zu", s.tanks);
	table_cell(t, "%zu", s.paused);
	table_cell(t, "%zu", s.npl - in_flight);
	table_cell(t, "%zu", in_flight);
	table_print(t, stdout);
	table_free(t);
	for (size_t i = 0; i < n; i++)
		if (!srv[i].reachable)
			printf("%s: %s\n", srv[i].id, srv[i].err);

	if (in_flight) {
		printf("\nin flight (%zu):\n", in_flight);
		t = table_new(6, "TRANSFER", "FISH", "FROM", "TO", ">AGE", ">ATTEMPTS");
		double now = now_wall();
		for (size_t i = 0; i < in_flight; i++) {
			json_object *x = json_object_array_get_idx(s.inflight, i);
			double created;
			char age[32] = "-";
			if (iso8601_parse(js(x, "created_at"), &created) == 0)
				fmt_age(now - created, age, sizeof age);
			table_row(t);
			table_cell(t, "%s", js(x, "transfer_id"));
			table_cell(t, "%s", js(x, "fish_id"));
			table_cell(t, "%s/%s", js(x, "source_server_id"), js(x, "source_tank_id"));
			table_cell(t, "%s/%s", js(x, "destination_server_id"), js(x, "destination_tank_id"));
			table_cell(t, "%s", age);
			table_cell(t, "%" PRId64, ji(x, "attempts"));
		}
		table_print(t, stdout);
		table_free(t);
	}
	if (dups.n) {
		printf("\nDUPLICATED (%zu fish, in each of %d snapshots):\n", dups.n, snaps);
		for (size_t i = 0; i < dups.n; i++) {
			char where[2048];
			places_text(&s, srv, dups.v[i], where, sizeof where);
			sanitize(where);
			printf("  fish %s: %s\n", dups.v[i], where);
		}
	}
	printf("\n");
	if (!complete)
		printf("migration balance: not checked (not every server answered)\n");
	else if (balance == 0)
		printf("migration balance: %" PRIu64 " departures = %" PRIu64 " arrivals + %zu in flight\n",
		       s.mig_out, s.mig_in, in_flight);
	else
		printf("migration balance: %" PRIu64 " departures, %" PRIu64 " arrivals, %zu in flight: "
		       "off by %+" PRId64 "%s\n"
		       "  (more departures: fish lost in migration, or arrived in tanks since deleted;\n"
		       "   fewer: arrivals counted twice, or sent from tanks since deleted)\n",
		       s.mig_out, s.mig_in, in_flight, balance,
		       balance_moving ? " and changing: migrations under way" : "");
	if (o->baseline) {
		printf("baseline: %zu fish; %zu of them absent now%s\n", base.n, lost.n,
		       strict ? "" : " (advisory: some tanks are running, and deaths remove fish)");
		for (size_t i = 0; i < lost.n && i < 50; i++)
			printf("  absent: %s\n", lost.v[i]);
		if (lost.n > 50)
			printf("  ... and %zu more (--json lists them all)\n", lost.n - 50);
	} else if (o->expect >= 0) {
		printf("expected %ld fish, found %zu%s\n", o->expect, s.distinct,
		       strict ? "" : " (advisory: some tanks are running)");
	}
	if (saved)
		printf("baseline saved to %s (%zu fish%s)\n", o->save, s.distinct,
		       strict ? ", every tank paused" : "; some tanks running");
	if (lost_checked)
		printf("%zu fish, %" PRId64 " lost%s, %zu duplicated\n", s.distinct, lost_n,
		       strict ? "" : " (advisory)", dups.n);
	else if (complete && balance == 0)
		/* Without a baseline the ids cannot be compared, but the balance proves every
		 * fish that left a tank arrived in one or is in flight: none lost in migration. */
		printf("%zu fish, 0 lost in migration, %zu duplicated; lost otherwise: not checked "
		       "(no baseline)\n", s.distinct, dups.n);
	else
		printf("%zu fish, %zu duplicated; lost: not checked (no baseline)\n", s.distinct, dups.n);
	if (!complete) {
		printf("audit incomplete: %zu server(s) did not answer:", s.unreachable);
		for (size_t i = 0; i < n; i++)
			if (!srv[i].reachable)
				printf(" %s", srv[i].id);
		printf("\n");
	}
done:
	snapshot_free(&s);
	idset_free(&dups);
	idset_free(&lost);
	idset_free(&base);
	free(srv);
	return rc;
}
