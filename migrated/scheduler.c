/* The scheduler's I/O-free logic: roll, rate limits, backoff, cooldown set, plan. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections.h"
#include "scheduler.h"
#include "util.h"
#include "xalloc.h"

int roll_1_100(struct rng *r)
{
	return 1 + (int)rng_below(r, 100);
}

double backoff_delay(int failures, double u)
{
	if (failures < 1)
		failures = 1;
	double d = BACKOFF_FIRST;
	for (int i = 1; i < failures && d < BACKOFF_CAP; i++)
		d *= 2;
	if (d > BACKOFF_CAP)
		d = BACKOFF_CAP;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.999999;
	return d / 2 + u * d / 2;
}

/* The slot holding x, or the empty slot where it would go. */
static size_t strset_probe(const struct strset *s, const char *x)
{
	size_t mask = s->nslot - 1, i = str_hash(x) & mask;
	while (s->slot[i] && strcmp(s->v[s->slot[i] - 1], x) != 0)
		i = (i + 1) & mask;
	return i;
}

static void strset_reindex(struct strset *s, size_t nslot)
{
	free(s->slot);
	s->nslot = nslot;
	s->slot = xcalloc(nslot, sizeof *s->slot);
	for (size_t k = 0; k < s->n; k++)
		s->slot[strset_probe(s, s->v[k])] = k + 1;
}

bool strset_has(const struct strset *s, const char *x)
{
	return s->nslot && s->slot[strset_probe(s, x)] != 0;
}

bool strset_add(struct strset *s, const char *x)
{
	if (strset_has(s, x))
		return false;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n] = xstrdup(x);
	s->n++;
	if (2 * s->n > s->nslot)
		strset_reindex(s, s->nslot ? s->nslot * 2 : 32);
	else
		s->slot[strset_probe(s, x)] = s->n;
	return true;
}

bool strset_remove(struct strset *s, const char *x)
{
	if (!strset_has(s, x))
		return false;
	size_t k = s->slot[strset_probe(s, x)] - 1;
	free(s->v[k]);
	s->v[k] = s->v[--s->n];
	strset_reindex(s, s->nslot); /* open addressing has no simple delete; sets that
					* shrink (tanks being checked) are small */
	return true;
}

void strset_clear(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

const char *sched_verdict_name(enum sched_verdict v)
{
	switch (v) {
	case SV_MISS:
		return "miss";
	case SV_HIT:
		return "hit";
	case SV_NO_SOURCE:
		return "no_source";
	case SV_TRANSFERS_DISABLED:
		return "transfers_disabled";
	case SV_EMPTY:
		return "empty";
	case SV_RATE_LIMITED:
		return "rate_limited";
	case SV_BACKING_OFF:
		return "backing_off";
	}
	return "?";
}

static const struct sched_tank *find_tank(const struct sched_tank *tanks, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tanks[i].tank_id, id) == 0)
			return &tanks[i];
	return NULL;
}

bool sched_pick_plant(const struct sched_tank *src, double plant_weight, struct rng *rng)
{
	if (src->plant_count <= 0 || !(plant_weight > 0))
		return false;
	double fish = src->fish_count > 0 ? src->fish_count : 0;
	double plants = src->plant_count * plant_weight;
	return rng_uniform(rng) * (fish + plants) >= fish;
}

size_t sched_plan(struct connection **conns, size_t n, const struct sched_tank *tanks,
		  size_t ntanks, const char *local_server_id, struct rng *rng,
		  struct tbucket *global, double conn_rate, double now, struct sched_decision *out,
		  struct sched_counts *counts)
{
	memset(counts, 0, sizeof *counts);
	counts->connections = n;
	/* A fresh random order every pass (Fisher-Yates on the output). */
	for (size_t i = 0; i < n; i++)
		out[i] = (struct sched_decision){.c = conns[i]};
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(rng, (uint32_t)i);
		struct sched_decision t = out[i - 1];
		out[i - 1] = out[j];
		out[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		struct sched_decision *d = &out[i];
		struct connection *c = d->c;
		d->roll = roll_1_100(rng);
		if (!roll_hits(d->roll, c->probability)) {
			d->verdict = SV_MISS;
			counts->misses++;
			continue;
		}
		const struct sched_tank *src = find_tank(tanks, ntanks, c->source_tank_id);
		if (!src) {
			d->verdict = SV_NO_SOURCE;
			counts->no_source++;
			continue;
		}
		if (!src->allow_transfers) {
			d->verdict = SV_TRANSFERS_DISABLED;
			counts->disabled++;
			continue;
		}
		if (src->fish_count <= 0 && src->plant_count <= 0) {
			d->verdict = SV_EMPTY;
			counts->empty++;
			continue;
		}
		if (conn_gate(c, now) == GATE_CLOSED) {
			d->verdict = SV_BACKING_OFF;
			counts->backing_off++;
			continue;
		}
		if (!c->bucket.init)
			tbucket_init(&c->bucket, conn_rate, now);
		else if (c->bucket.rate != conn_rate) /* reloaded */
			tbucket_set_rate(&c->bucket, conn_rate, now);
		if (!tbucket_ready(global, now) || !tbucket_ready(&c->bucket, now)) {
			d->verdict = SV_RATE_LIMITED;
			counts->rate_limited++;
			continue;
		}
		tbucket_take(global, now);
		tbucket_take(&c->bucket, now);
		d->verdict = SV_HIT;
		counts->hits++;
	}
	/* Mark hits whose source tank receives a fish by a local move in this pass. */
	for (size_t i = 0; i < n; i++) {
		if (out[i].verdict != SV_HIT)
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct connection *o = out[j].c;
			if (j == i || out[j].verdict != SV_HIT)
				continue;
			if (strcmp(o->destination_server_id, local_server_id) == 0 &&
			    strcmp(o->destination_tank_id, out[i].c->source_tank_id) == 0) {
				out[i].conflict = true;
				break;
			}
		}
	}
	return n;
}
