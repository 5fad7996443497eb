/* The gene bank: the genomes of recent successful fish, which the emergency spawn draws
 * from before it falls back to random genomes, so that a tank recovering from a collapse
 * restarts from what worked rather than from scratch. */
#include "config.h"

#include <string.h>

#include "simd/sim/internal.h"

void gene_bank_offer(struct tank *t, const struct fish *f)
{
	struct gene_bank *b = &t->bank;
	if (f->offspring < 1)
		return;
	int slot = b->n;
	if (b->n == GENE_BANK_SIZE) {
		/* Replace the weakest; among equals the oldest, so the bank stays recent. */
		slot = 0;
		for (int i = 1; i < b->n; i++)
			if (b->e[i].offspring < b->e[slot].offspring ||
			    (b->e[i].offspring == b->e[slot].offspring &&
			     b->e[i].frame < b->e[slot].frame))
				slot = i;
		if (b->e[slot].offspring > f->offspring)
			return;
	} else {
		b->n++;
	}
	b->e[slot].g = f->g;
	b->e[slot].offspring = f->offspring;
	b->e[slot].frame = t->frame;
}

bool gene_bank_draw(struct tank *t, struct genome *g)
{
	struct gene_bank *b = &t->bank;
	if (b->n == 0)
		return false;
	long total = 0;
	for (int i = 0; i < b->n; i++)
		total += b->e[i].offspring;
	long pick = rng_int(&t->rng, 0, (int)(total - 1));
	int i = 0;
	while (pick >= b->e[i].offspring) {
		pick -= b->e[i].offspring;
		i++;
	}
	/* A mutated copy: inheritance from the genome and itself, at the stress of a tank
	 * in trouble (more and stronger mutations). */
	genome_inherit(g, &b->e[i].g, &b->e[i].g, -1, genome_stress((int)t->n_fish), &t->rng);
	return true;
}

json_object *gene_bank_to_json(const struct tank *t)
{
	json_object *a = json_object_new_array_ext(t->bank.n);
	for (int i = 0; i < t->bank.n; i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "offspring", json_object_new_int(t->bank.e[i].offspring));
		json_object_object_add(x, "frame",
				       json_object_new_int64((int64_t)t->bank.e[i].frame));
		json_object_object_add(x, "genome", genome_to_json(&t->bank.e[i].g));
		json_object_array_add(a, x);
	}
	return a;
}

/* Optional: tanks saved before the bank start with an empty one. */
int gene_bank_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *a, *x, *gj;
	int r;
	if (!json_object_object_get_ex(o, "gene_bank", &a))
		return 0;
	if ((r = jv_array(o, "gene_bank", true, GENE_BANK_SIZE, &a, e)) < 0)
		return r;
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		int64_t frame;
		x = json_object_array_get_idx(a, i);
		if (!json_object_is_type(x, json_type_object))
			return jv_fail(e, "gene_bank: entries must be objects");
		if ((r = jv_int(x, "offspring", true, 1, INT32_MAX, &t->bank.e[i].offspring, e)) <
			    0 ||
		    (r = jv_int64(x, "frame", true, 0, (int64_t)t->frame, &frame, e)) < 0 ||
		    (r = jv_object(x, "genome", true, &gj, e)) < 0)
			return json_err_in(e, "gene_bank", r);
		t->bank.e[i].frame = (uint64_t)frame;
		if ((r = genome_from_json(gj, &t->bank.e[i].g, e)) < 0)
			return json_err_in(e, "gene_bank", r);
		t->bank.n = (int)i + 1;
	}
	return 0;
}
