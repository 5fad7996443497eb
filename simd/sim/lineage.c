/* Lineage: one record per fish born, spawned or arrived here (who its parents were, where
 * and when it was born, how it died), bounded to the living fish and their ancestors up to
 * lineage_depth generations, and part of the saved state (docs/history.md).
 *
 * born_at is not read from a clock (the core has none): it is the tank's creation time,
 * given by the caller (tank_set_origin), plus born_frame / SIM_FPS. It is therefore the
 * same after a replay, and it runs behind the wall clock by the time the tank spent
 * paused or slowed. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "util.h"

static void index_put(struct lineage *l, size_t i)
{
	size_t mask = l->index_cap - 1, k = ids_hash(l->r[i].fish_id) & mask;
	while (l->index[k])
		k = (k + 1) & mask;
	l->index[k] = (int32_t)i + 1;
}

static void index_rebuild(struct lineage *l)
{
	size_t cap = 64;
	while (cap < 2 * l->n + 2)
		cap *= 2;
	free(l->index);
	l->index = sim_xcalloc(cap, sizeof *l->index);
	l->index_cap = cap;
	for (size_t i = 0; i < l->n; i++)
		index_put(l, i);
}

/* The record of id, whose ids_hash is h, or -1. */
static ssize_t find_hashed(const struct lineage *l, const char *id, uint32_t h)
{
	if (!l->index || !id || !*id)
		return -1;
	size_t mask = l->index_cap - 1, k = h & mask;
	for (; l->index[k]; k = (k + 1) & mask)
		if (strcmp(l->r[l->index[k] - 1].fish_id, id) == 0)
			return l->index[k] - 1;
	return -1;
}

ssize_t lineage_find(const struct lineage *l, const char *id)
{
	return id ? find_hashed(l, id, ids_hash(id)) : -1;
}

/* A new record, not dead (yet), indexed. */
static struct lineage_rec *append_rec(struct lineage *l, const char *id, const char *mother,
				      const char *father, int generation, int algo, int strategy)
{
	sim_grow((void **)&l->r, &l->cap, l->n + 1, sizeof *l->r);
	struct lineage_rec *rec = &l->r[l->n++];
	memset(rec, 0, sizeof *rec);
	memcpy(rec->fish_id, id, UUID_STR_LEN);
	memcpy(rec->mother_id, mother, UUID_STR_LEN);
	memcpy(rec->father_id, father, UUID_STR_LEN);
	rec->generation = generation;
	rec->algo = algo;
	rec->strategy = strategy;
	rec->died_frame = -1;
	rec->cause = -1;
	if (2 * l->n + 2 > l->index_cap)
		index_rebuild(l);
	else
		index_put(l, l->n - 1);
	return rec;
}

static struct lineage_rec *append(struct lineage *l, const struct fish *f)
{
	return append_rec(l, f->id, f->mother_id, f->father_id, f->generation, f->g.behavior.algo,
			  f->g.poker.id);
}

/* The father of a child on its way, from what its mother carries: not living here, his
 * death unknown here (the tank he lived in keeps that). */
static void append_mate(struct lineage *l, const struct fish *mother)
{
	const struct pregnancy *p = &mother->preg;
	append_rec(l, p->mate_id, p->mate_rec.mother_id, p->mate_rec.father_id,
		   p->mate_rec.generation, p->mate_genome.behavior.algo, p->mate_genome.poker.id)
		->born = p->mate_rec.born; /* all zero when unknown (lineage_mate_from_json) */
}

static void birth_here(const struct tank *t, struct fish_birth *b, int64_t frame)
{
	b->known = true;
	b->frame = frame;
	b->at = t->lin.created_at > 0 ? t->lin.created_at + (double)frame / SIM_FPS : 0;
	snprintf(b->tank_id, sizeof b->tank_id, "%s", t->id);
	snprintf(b->server_id, sizeof b->server_id, "%s", t->lin.server_id);
}

void lineage_born(struct tank *t, const struct fish *f)
{
	ssize_t i = lineage_find(&t->lin, f->id);
	struct lineage_rec *rec = i >= 0 ? &t->lin.r[i] : append(&t->lin, f);
	birth_here(t, &rec->born, (int64_t)t->frame);
}

void lineage_died(struct tank *t, const struct fish *f, int cause)
{
	ssize_t i = lineage_find(&t->lin, f->id);
	struct lineage_rec *rec = i >= 0 ? &t->lin.r[i] : append(&t->lin, f);
	rec->died_frame = (int64_t)t->frame;
	rec->cause = cause;
}

void lineage_arrived(struct tank *t, struct fish *f)
{
	ssize_t i = lineage_find(&t->lin, f->id);
	struct lineage_rec *rec = i >= 0 ? &t->lin.r[i] : append(&t->lin, f);
	/* What the fish carries is the newer word (a record kept here may be one that an
	 * older sender's fish, without birth data, left incomplete, or its copy that a
	 * mother carried here, which a peer could have made up). */
	if (f->born.known)
		rec->born = f->born;
	memcpy(rec->mother_id, f->mother_id, UUID_STR_LEN);
	memcpy(rec->father_id, f->father_id, UUID_STR_LEN);
	rec->generation = f->generation;
	rec->algo = f->g.behavior.algo;
	rec->strategy = f->g.poker.id;
	rec->died_frame = -1;
	rec->cause = -1;
	rec->left_until = 0; /* living here (again) */
	/* A record kept here is the better word on the father (it may know his death). */
	if (f->pregnant && f->preg.mate_rec.known && f->preg.mate_id[0] &&
	    lineage_find(&t->lin, f->preg.mate_id) < 0)
		append_mate(&t->lin, f);
	/* The fish keeps what it carries: it is the same fish, field for field, in the
	 * tank it reached as in the transfer that brought it. */
}

void lineage_stamp(struct tank *t, struct fish *f)
{
	ssize_t i = lineage_find(&t->lin, f->id);
	if (i >= 0) {
		f->born = t->lin.r[i].born;
		/* Its record and ancestors stay for as long as it could live: the tank it
		 * reaches sends a reader of its family back here for its parents, and the
		 * prune dropped them once no fish here descended from them (a new user's
		 * audit: 46 of 77 such look-ups found nothing). Counted in this tank's frames,
		 * as ages are counted in the frames of the tank the fish is in. */
		int left = f->max_age - f->age;
		t->lin.r[i].left_until = (int64_t)t->frame + (left > 0 ? left : 0);
	}
	/* Kept while she is pregnant (lineage_prune): a mate with no record here is one whose
	 * record she already carries, or from a state saved before lineage. */
	ssize_t m = f->pregnant ? lineage_find(&t->lin, f->preg.mate_id) : -1;
	if (m >= 0) {
		const struct lineage_rec *rec = &t->lin.r[m];
		struct lineage_mate *mr = &f->preg.mate_rec;
		mr->known = true;
		memcpy(mr->mother_id, rec->mother_id, UUID_STR_LEN);
		memcpy(mr->father_id, rec->father_id, UUID_STR_LEN);
		mr->generation = rec->generation;
		mr->born = rec->born;
	}
}

void tank_set_origin(struct tank *t, const char *server_id, double created_at)
{
	struct lineage *l = &t->lin;
	snprintf(l->server_id, sizeof l->server_id, "%s", server_id ? server_id : "");
	l->created_at = created_at > 0 ? created_at : 0;
	/* The initial fish were recorded by tank_new, before the caller could say where
	 * the tank lives: complete them (the same way on every start, so deterministic). */
	for (size_t i = 0; i < l->n; i++) {
		struct fish_birth *b = &l->r[i].born;
		if (!b->known || strcmp(b->tank_id, t->id) != 0)
			continue;
		if (!b->server_id[0])
			snprintf(b->server_id, sizeof b->server_id, "%s", l->server_id);
		if (b->at == 0 && l->created_at > 0)
			b->at = l->created_at + (double)b->frame / SIM_FPS;
	}
}

size_t tank_lineage_count(const struct tank *t)
{
	return t->lin.n;
}

void lineage_cover_living(struct tank *t)
{
	for (size_t i = 0; i < t->n_fish; i++)
		if (lineage_find(&t->lin, t->fish[i].id) < 0)
			append(&t->lin, &t->fish[i]);
	for (size_t i = 0; i < t->n_exited; i++)
		if (lineage_find(&t->lin, t->exited[i].f->id) < 0)
			append(&t->lin, t->exited[i].f);
}

static void reach(int32_t k, int d, int *left, size_t **queue, size_t *qn, size_t *qcap)
{
	if (k < 0 || left[k] >= d)
		return;
	left[k] = d;
	sim_grow((void **)queue, qcap, *qn + 1, sizeof **queue);
	(*queue)[(*qn)++] = (size_t)k;
}

/* The records of m ids ("" for none) into out[], made PRUNE_BATCH at a time: each
 * lookup is two random reads (the index slot, then the record it names), and asking for
 * every step of a batch ahead of the next lets the misses overlap. Read-only. */
#define PRUNE_BATCH 32

static void find_batch(const struct lineage *l, const char *const *id, size_t m, int32_t *out)
{
	if (!l->index) {
		for (size_t j = 0; j < m; j++)
			out[j] = -1;
		return;
	}
	size_t mask = l->index_cap - 1;
	for (size_t b = 0; b < m; b += PRUNE_BATCH) {
		size_t e = m - b < PRUNE_BATCH ? m : b + PRUNE_BATCH;
		uint32_t h[PRUNE_BATCH];
		for (size_t j = b; j < e; j++) {
			h[j - b] = id[j][0] ? ids_hash(id[j]) : 0;
			if (id[j][0])
				__builtin_prefetch(&l->index[h[j - b] & mask], 0, 3);
		}
		for (size_t j = b; j < e; j++)
			if (id[j][0] && l->index[h[j - b] & mask])
				__builtin_prefetch(l->r[l->index[h[j - b] & mask] - 1].fish_id, 0,
						   3);
		for (size_t j = b; j < e; j++)
			out[j] = (int32_t)find_hashed(l, id[j], h[j - b]);
	}
}

static const struct fish *prune_fish(const struct tank *t, size_t i)
{
	return i < t->n_fish ? &t->fish[i] : t->exited[i - t->n_fish].f;
}

/* The records of every fish and of the father of its unborn child, on the tank's threads
 * (into l->found, two per fish). The fish are in space order, the records in order of
 * birth: one after the other, these lookups took 480 ns a fish at 100,000 fish. */
static void prune_find(struct tank *t, size_t lo, size_t hi)
{
	const char *id[2 * PRUNE_BATCH];
	for (size_t b = lo; b < hi; b += PRUNE_BATCH) {
		size_t m = hi - b < PRUNE_BATCH ? hi - b : PRUNE_BATCH;
		for (size_t j = 0; j < m; j++) {
			if (b + j + PRUNE_BATCH < t->n_fish) /* the id is a cold line of the fish */
				__builtin_prefetch(t->fish[b + j + PRUNE_BATCH].id, 0, 3);
			const struct fish *f = prune_fish(t, b + j);
			id[2 * j] = f->id;
			id[2 * j + 1] = f->pregnant ? f->preg.mate_id : "";
		}
		find_batch(&t->lin, id, 2 * m, t->lin.found + 2 * b);
	}
}

/* From every living fish (and the father of every child on the way: the mate of a
 * pregnant fish) up its ancestry. A record is expanded again only when reached with more
 * generations left, so each is expanded at most lineage_depth times. The lookups are
 * made ahead (those of the fish in parallel, the parents' a batch of the queue at a
 * time); the walk takes them in the order it always did, so the queue and what is kept
 * do not depend on the thread count. */
void lineage_prune(struct tank *t)
{
	struct lineage *l = &t->lin;
	if (l->n == 0)
		return;
	int depth = t->p.lineage_depth;
	size_t nf = t->n_fish + t->n_exited;
	int *left = malloc(l->n * sizeof *left);
	l->found = malloc((2 * nf + 1) * sizeof *l->found);
	size_t *queue = NULL, qn = 0, qcap = 0;
	if (!left || !l->found)
		abort();
	for (size_t i = 0; i < l->n; i++)
		left[i] = -1;
	pool_run(t->pool, t, nf, prune_find);
	for (size_t i = 0; i < nf; i++) {
		reach(l->found[2 * i], depth, left, &queue, &qn, &qcap);
		if (depth > 0)
			reach(l->found[2 * i + 1], depth - 1, left, &queue, &qn, &qcap);
	}
	free(l->found);
	l->found = NULL;
	for (size_t i = 0; i < l->n; i++) /* and from the fish that left and may live */
		if (l->r[i].left_until > (int64_t)t->frame && l->r[i].died_frame < 0)
			reach((int32_t)i, depth, left, &queue, &qn, &qcap);
	/* The queue grows as it is walked: the parents of a batch of its records are looked
	 * up ahead, for those with generations left then; one raised by the batch's own walk
	 * (reached again with more left) is looked up in turn. */
	const char *id[2 * PRUNE_BATCH];
	int32_t parent[2 * PRUNE_BATCH];
	bool asked[PRUNE_BATCH];
	for (size_t q0 = 0, m; q0 < qn; q0 += m) { /* m: what the batch began with */
		m = qn - q0 < PRUNE_BATCH ? qn - q0 : PRUNE_BATCH;
		for (size_t j = 0; j < m; j++) {
			const struct lineage_rec *rec = &l->r[queue[q0 + j]];
			asked[j] = left[queue[q0 + j]] > 0;
			id[2 * j] = asked[j] ? rec->mother_id : "";
			id[2 * j + 1] = asked[j] ? rec->father_id : "";
		}
		find_batch(l, id, 2 * m, parent);
		for (size_t j = 0; j < m; j++) {
			const struct lineage_rec *rec = &l->r[queue[q0 + j]];
			int d = left[queue[q0 + j]];
			if (d <= 0)
				continue;
			int32_t mother = asked[j] ? parent[2 * j]
						  : (int32_t)lineage_find(l, rec->mother_id);
			int32_t father = asked[j] ? parent[2 * j + 1]
						  : (int32_t)lineage_find(l, rec->father_id);
			reach(mother, d - 1, left, &queue, &qn, &qcap);
			reach(father, d - 1, left, &queue, &qn, &qcap);
		}
	}
	/* The records before the first pruned one stay where they are (at 100,000 records,
	 * copying each onto itself was 30 MB of traffic a prune). */
	size_t n = 0;
	while (n < l->n && left[n] >= 0)
		n++;
	for (size_t i = n; i < l->n; i++)
		if (left[i] >= 0)
			l->r[n++] = l->r[i];
	free(left);
	free(queue);
	if (n != l->n) {
		l->n = n;
		index_rebuild(l);
	}
}

void lineage_free(struct lineage *l)
{
	free(l->r);
	free(l->index);
	l->r = NULL;
	l->index = NULL;
	l->n = l->cap = l->index_cap = 0;
}

void lineage_copy(struct lineage *dst, const struct lineage *src, struct sim_room *room)
{
	*dst = *src;
	dst->r = sim_room_take(room, src->n, sizeof *dst->r, &dst->cap);
	dst->index = NULL;
	dst->index_cap = 0;
	if (src->n)
		memcpy(dst->r, src->r, src->n * sizeof *dst->r);
	if (src->index) {
		dst->index = sim_xcalloc(src->index_cap, sizeof *dst->index);
		memcpy(dst->index, src->index, src->index_cap * sizeof *dst->index);
		dst->index_cap = src->index_cap;
	}
}

/* --- JSON --- */

json_object *lineage_str_or_null(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

json_object *fish_birth_to_json(const struct fish_birth *b)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "born_frame", json_object_new_int64(b->frame));
	json_object_object_add(o, "born_at", b->at > 0 ? json_object_new_double(b->at) : NULL);
	json_object_object_add(o, "born_tank_id", lineage_str_or_null(b->tank_id));
	json_object_object_add(o, "born_server_id", lineage_str_or_null(b->server_id));
	return o;
}

static bool present(json_object *o, const char *key)
{
	json_object *x;
	return json_object_object_get_ex(o, key, &x) && x != NULL;
}

static int opt_name(json_object *o, const char *key, char *out, size_t size, struct json_err *e)
{
	const char *s;
	int r;
	out[0] = 0;
	if (!present(o, key))
		return 0;
	if ((r = jv_string(o, key, true, 1, size - 1, &s, e)) < 0)
		return r;
	if (!object_id_valid(s, size - 1))
		return jv_fail(e, "field '%s' has invalid characters", key);
	strcpy(out, s);
	return 0;
}

/* From another server too: every field is checked. */
int fish_birth_from_json(json_object *o, struct fish_birth *b, struct json_err *e)
{
	int r;
	memset(b, 0, sizeof *b);
	if (!json_object_is_type(o, json_type_object))
		return jv_fail(e, "lineage must be an object");
	b->at = 0;
	if ((r = jv_int64(o, "born_frame", true, -1, INT64_MAX / 4, &b->frame, e)) < 0 ||
	    (present(o, "born_at") && (r = jv_double(o, "born_at", true, 0, 1e11, &b->at, e)) < 0) ||
	    (r = opt_name(o, "born_tank_id", b->tank_id, sizeof b->tank_id, e)) < 0 ||
	    (r = opt_name(o, "born_server_id", b->server_id, sizeof b->server_id, e)) < 0)
		return r;
	b->known = b->frame >= 0;
	return 0;
}

/* The birth fields of a record, nulls when unknown. */
static json_object *birth_or_nulls(const struct fish_birth *b)
{
	if (b->known)
		return fish_birth_to_json(b);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "born_frame", NULL);
	json_object_object_add(o, "born_at", NULL);
	json_object_object_add(o, "born_tank_id", NULL);
	json_object_object_add(o, "born_server_id", NULL);
	return o;
}

/* Parents and generation, as a record and a mate's carried record both write and read
 * them: the two must not drift apart, since a carried record becomes a record. */
static void parents_to_json(json_object *o, const char *mother, const char *father, int generation)
{
	json_object_object_add(o, "mother_id", json_id_or_null(mother));
	json_object_object_add(o, "father_id", json_id_or_null(father));
	json_object_object_add(o, "generation", json_object_new_int(generation));
}

static int parents_from_json(json_object *o, char *mother, char *father, int *generation,
			     struct json_err *e)
{
	int r;
	if ((r = json_get_id(o, "mother_id", false, mother, e)) < 0 ||
	    (r = json_get_id(o, "father_id", false, father, e)) < 0 ||
	    (r = jv_int(o, "generation", true, 0, GENERATION_MAX, generation, e)) < 0)
		return r;
	return 0;
}

json_object *lineage_mate_to_json(const struct lineage_mate *m)
{
	json_object *o = birth_or_nulls(&m->born);
	parents_to_json(o, m->mother_id, m->father_id, m->generation);
	return o;
}

int lineage_mate_from_json(json_object *o, struct lineage_mate *m, struct json_err *e)
{
	int r;
	memset(m, 0, sizeof *m);
	if (!json_object_is_type(o, json_type_object))
		return jv_fail(e, "mate_lineage must be an object");
	if ((r = parents_from_json(o, m->mother_id, m->father_id, &m->generation, e)) < 0 ||
	    (present(o, "born_frame") && (r = fish_birth_from_json(o, &m->born, e)) < 0))
		return r;
	if (!m->born.known) /* as a restart would read the nulls it is saved as */
		memset(&m->born, 0, sizeof m->born);
	m->known = true;
	return 0;
}

json_object *lineage_record_json(const struct lineage_rec *rec)
{
	json_object *o = birth_or_nulls(&rec->born);
	json_object_object_add(o, "fish_id", json_object_new_string(rec->fish_id));
	parents_to_json(o, rec->mother_id, rec->father_id, rec->generation);
	json_object_object_add(o, "algorithm", json_object_new_string(algo_defs[rec->algo].name));
	json_object_object_add(o, "poker_strategy",
			       json_object_new_string(poker_defs[rec->strategy].name));
	json_object_object_add(o, "died_frame",
			       rec->died_frame >= 0 ? json_object_new_int64(rec->died_frame) : NULL);
	json_object_object_add(o, "cause",
			       rec->cause >= 0
				       ? json_object_new_string(death_cause_name(rec->cause))
				       : NULL);
	return o;
}

json_object *lineage_to_json(const struct tank *t)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < t->lin.n; i++) {
		json_object *rec = lineage_record_json(&t->lin.r[i]);
		if (t->lin.r[i].left_until > 0) /* the saved state's, not the API's */
			json_object_object_add(rec, "left_until_frame",
					       json_object_new_int64(t->lin.r[i].left_until));
		json_object_array_add(a, rec);
	}
	json_object_object_add(o, "records", a);
	return o;
}

static int record_from_json(json_object *it, struct lineage_rec *rec, uint64_t frame,
			    struct json_err *e)
{
	const char *alg, *st;
	int r;
	if (!json_object_is_type(it, json_type_object))
		return jv_fail(e, "records must be objects");
	memset(rec, 0, sizeof *rec);
	if ((r = json_get_id(it, "fish_id", true, rec->fish_id, e)) < 0 ||
	    (r = parents_from_json(it, rec->mother_id, rec->father_id, &rec->generation, e)) < 0 ||
	    (r = jv_string(it, "algorithm", true, 1, 64, &alg, e)) < 0 ||
	    (r = jv_string(it, "poker_strategy", true, 1, 64, &st, e)) < 0)
		return r;
	rec->algo = algo_find(alg);
	rec->strategy = poker_find(st);
	if (rec->algo < 0 || rec->strategy < 0)
		return jv_fail(e, "unknown algorithm or poker strategy");
	if (present(it, "born_frame") && (r = fish_birth_from_json(it, &rec->born, e)) < 0)
		return r;
	rec->died_frame = -1;
	rec->cause = -1;
	/* A fish's age ends within INT_MAX frames of its leaving. */
	if (present(it, "left_until_frame") &&
	    (r = jv_int64(it, "left_until_frame", true, 0, (int64_t)frame + INT_MAX,
			  &rec->left_until, e)) < 0)
		return r;
	if (present(it, "died_frame")) {
		const char *cause;
		if ((r = jv_int64(it, "died_frame", true, 0, (int64_t)frame, &rec->died_frame, e)) <
			    0 ||
		    (r = jv_string(it, "cause", true, 1, 32, &cause, e)) < 0)
			return r;
		for (int c = 0; c < DEATH_CAUSE_COUNT; c++)
			if (strcmp(cause, death_cause_name(c)) == 0)
				rec->cause = c;
		if (rec->cause < 0)
			return jv_fail(e, "unknown cause");
	}
	return 0;
}

/* Optional: tanks saved before lineage start with records of their living fish only
 * (lineage_cover_living). */
int lineage_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *x, *a;
	int r;
	if (!present(o, "lineage"))
		return 0;
	if ((r = jv_object(o, "lineage", true, &x, e)) < 0 ||
	    (r = jv_array(x, "records", true, 100000000, &a, e)) < 0)
		return json_err_in(e, "lineage", r);
	size_t n = json_object_array_length(a);
	struct lineage *l = &t->lin;
	if (n) {
		l->r = sim_xcalloc(n, sizeof *l->r);
		l->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = record_from_json(json_object_array_get_idx(a, i), &l->r[i], t->frame, e)) <
		    0)
			return json_err_in(e, "lineage", r);
		l->n = i + 1;
		if (lineage_find(l, l->r[i].fish_id) >= 0)
			return jv_fail(e, "lineage: fish %s recorded twice", l->r[i].fish_id);
		if (2 * l->n + 2 > l->index_cap)
			index_rebuild(l);
		else
			index_put(l, i);
	}
	return 0;
}
