/* The viewer's frame encoder (view.h). Written by hand rather than through json-c: a
 * 1,000-fish frame is about 7,000 numbers, and building and printing json-c objects for
 * them costs several times the 1 ms a frame may take. Numbers are printed fixed-point
 * with the few decimals a drawing needs. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "simd/sim/view.h"

static void sb_put(struct sim_text *b, const char *s)
{
	sim_text_add(b, s, strlen(s));
}

static void sb_ch(struct sim_text *b, char c)
{
	sim_text_need(b, 1);
	b->p[b->len++] = c;
}

static void sb_uint(struct sim_text *b, uint64_t n)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	sim_text_need(b, (size_t)i);
	while (i)
		b->p[b->len++] = tmp[--i];
}

/* v with dec (0-3) decimals, no exponent; non-finite values print as 0. */
static void sb_fix(struct sim_text *b, double v, int dec)
{
	static const double scale[] = {1, 10, 100, 1000};
	static const uint64_t pow10[] = {1, 10, 100, 1000};
	if (!isfinite(v) || fabs(v) > 1e15)
		v = 0;
	long long n = llround(v * scale[dec]);
	if (n < 0) {
		sb_ch(b, '-');
		n = -n;
	}
	uint64_t u = (uint64_t)n;
	sb_uint(b, u / pow10[dec]);
	if (!dec)
		return;
	uint64_t f = u % pow10[dec];
	sim_text_need(b, (size_t)dec + 1);
	b->p[b->len++] = '.';
	for (int i = dec - 1; i >= 0; i--) {
		b->p[b->len + (size_t)i] = (char)('0' + f % 10);
		f /= 10;
	}
	b->len += (size_t)dec;
}

static void sb_key(struct sim_text *b, const char *key)
{
	sb_ch(b, '"');
	sb_put(b, key);
	sb_put(b, "\":");
}

/* One entity with looks: its key and the looks' text, in key order. */
struct view_ent {
	char id[UUID_STR_LEN];
	uint32_t key;
	uint64_t seen; /* the encode generation that last saw it */
	char *looks;
	size_t looks_len;
};

struct tank_view {
	struct view_ent *ent;
	size_t n, cap;
	int32_t *index; /* open addressing: position in ent[] + 1, 0 empty */
	size_t index_cap;
	uint32_t next_key;
	uint64_t gen;
	bool encoded_once;
	struct sim_text body; /* reused: its capacity is the size of the last frame */
};

static uint64_t id_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void index_rebuild(struct tank_view *v)
{
	size_t cap = 64;
	while (cap < v->n * 2 + 2)
		cap *= 2;
	if (cap != v->index_cap) {
		free(v->index);
		v->index = sim_xcalloc(cap, sizeof *v->index);
		v->index_cap = cap;
	} else {
		memset(v->index, 0, cap * sizeof *v->index);
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t h = id_hash(v->ent[i].id) & (cap - 1);
		while (v->index[h])
			h = (h + 1) & (cap - 1);
		v->index[h] = (int32_t)i + 1;
	}
}

static struct view_ent *ent_find(struct tank_view *v, const char *id)
{
	if (!v->index_cap)
		return NULL;
	size_t h = id_hash(id) & (v->index_cap - 1);
	while (v->index[h]) {
		struct view_ent *e = &v->ent[v->index[h] - 1];
		if (strcmp(e->id, id) == 0)
			return e;
		h = (h + 1) & (v->index_cap - 1);
	}
	return NULL;
}

static struct view_ent *ent_add(struct tank_view *v, const char *id, struct sim_text *looks)
{
	sim_grow((void **)&v->ent, &v->cap, v->n + 1, sizeof *v->ent);
	struct view_ent *e = &v->ent[v->n++];
	memset(e, 0, sizeof *e);
	memcpy(e->id, id, UUID_STR_LEN);
	e->key = ++v->next_key;
	/* The looks text starts with the key, which was not known when it was built. */
	struct sim_text t = {0};
	sb_put(&t, "{\"k\":");
	sb_uint(&t, e->key);
	sim_text_need(&t, looks->len);
	memcpy(t.p + t.len, looks->p, looks->len);
	t.len += looks->len;
	e->looks = t.p;
	e->looks_len = t.len;
	if ((v->n + 1) * 2 > v->index_cap)
		index_rebuild(v);
	else {
		size_t h = id_hash(id) & (v->index_cap - 1);
		while (v->index[h])
			h = (h + 1) & (v->index_cap - 1);
		v->index[h] = (int32_t)v->n;
	}
	return e;
}

/* What a frame shows of the tank, copied under its lock (view_capture): about 160 bytes
 * a fish against the 2.2 kB of the fish itself, and no text. Formatting the numbers and
 * finding each entity's key cost ten times the copy, and the stream does that on a
 * thread of its own, so the tick pays for the copy only. */
#define VIEW_FISH_TRAITS 7
#define VIEW_PLANT_TRAITS 8

struct view_fish {
	char id[UUID_STR_LEN];
	int generation, template_id, pattern_type;
	double x, y, vx, vy, size, energy; /* energy: of the fish's maximum */
	double looks[VIEW_FISH_TRAITS];
};

struct view_plant {
	char id[UUID_STR_LEN];
	int generation, fractal_type;
	double x, y, size, energy; /* energy: of the plant's maximum */
	double looks[VIEW_PLANT_TRAITS];
};

struct view_food {
	double x, y;
	int kind;
};

struct view_crab {
	double x, y, vx, energy; /* energy: of the crab's maximum */
};

struct view_capture {
	struct tank_stats st;
	uint64_t frame;
	bool paused;
	int width, height;
	struct view_fish *fish;
	struct view_plant *plants;
	struct view_food *food;
	struct view_crab *crabs;
	size_t n_fish, n_plants, n_food, n_crabs;
	size_t cap_fish, cap_plants, cap_food, cap_crabs;
};

/* The looks a frame's entities carry, in the order the looks' text lists them. */
static const int fish_traits[VIEW_FISH_TRAITS] = {T_COLOR_HUE, T_PATTERN_INTENSITY, T_FIN_SIZE,
						  T_TAIL_SIZE, T_BODY_ASPECT,	    T_EYE_SIZE,
						  T_SIZE};
static const int plant_traits[VIEW_PLANT_TRAITS] = {
	PT_ANGLE,     PT_LENGTH_RATIO,	   PT_BRANCH_PROBABILITY, PT_CURVE_FACTOR,
	PT_COLOR_HUE, PT_COLOR_SATURATION, PT_STEM_THICKNESS,	  PT_LEAF_DENSITY};

static void fish_looks(struct sim_text *b, const struct view_fish *f)
{
	b->len = 0;
	sb_put(b, ",\"kind\":\"fish\",\"id\":\"");
	sb_put(b, f->id);
	sb_put(b, "\",\"generation\":");
	sb_uint(b, (uint64_t)f->generation);
	sb_put(b, ",\"template_id\":");
	sb_uint(b, (uint64_t)f->template_id);
	sb_put(b, ",\"pattern_type\":");
	sb_uint(b, (uint64_t)f->pattern_type);
	for (size_t i = 0; i < VIEW_FISH_TRAITS; i++) {
		sb_put(b, ",");
		sb_key(b, trait_defs[fish_traits[i]].name);
		sb_fix(b, f->looks[i], 3);
	}
	sb_put(b, "}");
}

static void plant_looks(struct sim_text *b, const struct view_plant *p)
{
	b->len = 0;
	sb_put(b, ",\"kind\":\"plant\",\"id\":\"");
	sb_put(b, p->id);
	sb_put(b, "\",\"x\":");
	sb_fix(b, p->x, 1);
	sb_put(b, ",\"y\":");
	sb_fix(b, p->y, 1);
	sb_put(b, ",\"generation\":");
	sb_uint(b, (uint64_t)p->generation);
	sb_put(b, ",\"fractal_type\":\"");
	sb_put(b, plant_fractal_names[p->fractal_type]);
	sb_put(b, "\"");
	for (size_t i = 0; i < VIEW_PLANT_TRAITS; i++) {
		sb_put(b, ",");
		sb_key(b, plant_trait_defs[plant_traits[i]].name);
		sb_fix(b, p->looks[i], 3);
	}
	sb_put(b, "}");
}

struct view_capture *view_capture(const struct tank *t, const struct tank_stats *st, bool paused,
				  struct view_capture *reuse)
{
	struct view_capture *c = reuse ? reuse : sim_xcalloc(1, sizeof *c);
	c->n_fish = c->n_plants = c->n_food = c->n_crabs = 0;
	/* Every field of every entry is written below: the arrays need no clearing. */
	sim_grow((void **)&c->fish, &c->cap_fish, t->n_fish, sizeof *c->fish);
	sim_grow((void **)&c->plants, &c->cap_plants, t->n_plants, sizeof *c->plants);
	sim_grow((void **)&c->food, &c->cap_food, t->n_food, sizeof *c->food);
	sim_grow((void **)&c->crabs, &c->cap_crabs, t->n_crabs, sizeof *c->crabs);
	c->st = *st;
	c->frame = t->frame;
	c->paused = paused;
	c->width = t->p.width;
	c->height = t->p.height;
	for (size_t i = 0; i < t->n_fish; i++) {
		const struct fish *f = &t->fish[i];
		struct view_fish *v = &c->fish[c->n_fish++];
		memcpy(v->id, f->id, UUID_STR_LEN);
		v->generation = f->generation;
		v->template_id = f->g.template_id;
		v->pattern_type = f->g.pattern_type;
		v->x = f->x;
		v->y = f->y;
		v->vx = f->vx;
		v->vy = f->vy;
		v->size = fish_size_of(f);
		v->energy = f->energy / fish_max_energy_of(f);
		for (size_t k = 0; k < VIEW_FISH_TRAITS; k++)
			v->looks[k] = f->g.t[fish_traits[k]];
	}
	for (size_t i = 0; i < t->n_plants; i++) {
		const struct plant *p = &t->plants[i];
		struct view_plant *v = &c->plants[c->n_plants++];
		memcpy(v->id, p->id, UUID_STR_LEN);
		v->x = spot_x(t, p->spot);
		v->y = spot_y(t);
		v->generation = p->generation;
		v->fractal_type = p->g.fractal_type;
		v->size = plant_size(p);
		v->energy = p->energy / plant_max_energy(p);
		for (size_t k = 0; k < VIEW_PLANT_TRAITS; k++)
			v->looks[k] = p->g.t[plant_traits[k]];
	}
	for (size_t i = 0; i < t->n_food; i++)
		c->food[c->n_food++] = (struct view_food){t->food[i].x, t->food[i].y,
							  (int)t->food[i].kind};
	for (size_t i = 0; i < t->n_crabs; i++) {
		const struct crab *cr = &t->crabs[i];
		c->crabs[c->n_crabs++] = (struct view_crab){cr->x, cr->y, cr->vx,
							    cr->energy / crab_max_energy(cr)};
	}
	return c;
}

void view_capture_free(struct view_capture *c)
{
	if (!c)
		return;
	free(c->fish);
	free(c->plants);
	free(c->food);
	free(c->crabs);
	free(c);
}

struct tank_view *tank_view_new(void)
{
	return sim_xcalloc(1, sizeof(struct tank_view));
}

void tank_view_free(struct tank_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->ent[i].looks);
	free(v->ent);
	free(v->index);
	free(v->body.p);
	free(v);
}

void view_looks_free(struct view_looks *l)
{
	if (!l)
		return;
	free(l->text);
	free(l->key);
	free(l->off);
	free(l->len);
	free(l);
}

/* Forget entities this encode did not see, and say whether any came or went. */
static bool sweep(struct tank_view *v, size_t before)
{
	size_t w = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->ent[i].seen == v->gen)
			v->ent[w++] = v->ent[i];
		else
			free(v->ent[i].looks);
	}
	bool changed = w != v->n || v->n != before;
	if (w != v->n) {
		v->n = w;
		index_rebuild(v);
	}
	return changed;
}

/* The looks' texts are laid out with a comma between each two, so that the looks from
 * any entity to the last are one slice of text, a JSON array's members: a stream sends
 * a new client that slice by reference, where it used to copy each entity's looks
 * (3 MB at 10,000 fish, on the event loop, for every client that connected). */
static struct view_looks *looks_build(const struct tank_view *v)
{
	struct view_looks *l = sim_xcalloc(1, sizeof *l);
	size_t total = v->n;
	for (size_t i = 0; i < v->n; i++)
		total += v->ent[i].looks_len;
	l->text = sim_xcalloc(total + 1, 1);
	l->n = v->n;
	l->key = sim_xcalloc(v->n + 1, sizeof *l->key);
	l->off = sim_xcalloc(v->n + 1, sizeof *l->off);
	l->len = sim_xcalloc(v->n + 1, sizeof *l->len);
	for (size_t i = 0; i < v->n; i++) {
		if (i > 0)
			l->text[l->text_len++] = ',';
		l->key[i] = v->ent[i].key;
		l->off[i] = l->text_len;
		l->len[i] = v->ent[i].looks_len;
		memcpy(l->text + l->text_len, v->ent[i].looks, v->ent[i].looks_len);
		l->text_len += v->ent[i].looks_len;
	}
	return l;
}

static uint32_t see(struct tank_view *v, const char *id, struct sim_text *tmp,
		    const struct view_fish *f, const struct view_plant *p)
{
	struct view_ent *e = ent_find(v, id);
	if (!e) {
		if (f)
			fish_looks(tmp, f);
		else
			plant_looks(tmp, p);
		e = ent_add(v, id, tmp);
	}
	e->seen = v->gen;
	return e->key;
}

static void sb_key_uint(struct sim_text *b, const char *key, uint64_t x)
{
	sb_put(b, key);
	sb_uint(b, x);
}

/* Frame, size, time of day, counters and the castle: what is not an entity. */
static void encode_header(struct sim_text *b, const struct view_capture *c)
{
	const struct tank_stats *st = &c->st;
	sb_key_uint(b, "\"frame\":", c->frame);
	sb_put(b, c->paused ? ",\"paused\":true" : ",\"paused\":false");
	sb_key_uint(b, ",\"width\":", (uint64_t)c->width);
	sb_key_uint(b, ",\"height\":", (uint64_t)c->height);
	sb_put(b, ",\"day_time\":");
	sb_fix(b, st->day_time, 3);
	sb_key_uint(b, ",\"stats\":{\"fish_count\":", (uint64_t)st->fish_count);
	sb_key_uint(b, ",\"generation\":", (uint64_t)st->generation);
	sb_key_uint(b, ",\"max_generation\":", (uint64_t)st->max_generation);
	sb_key_uint(b, ",\"births\":", st->births);
	sb_key_uint(b, ",\"deaths\":", st->deaths);
	sb_key_uint(b, ",\"food_count\":", (uint64_t)st->food_count);
	sb_key_uint(b, ",\"plant_count\":", (uint64_t)st->plant_count);
	sb_key_uint(b, ",\"poker_games\":", st->poker_games);
	sb_put(b, "},\"castle\":[");
	sb_fix(b, CASTLE_X, 0);
	sb_ch(b, ',');
	sb_fix(b, c->height - CASTLE_RISE, 0);
	sb_ch(b, ',');
	sb_fix(b, CASTLE_W, 0);
	sb_ch(b, ',');
	sb_fix(b, CASTLE_W, 0);
	sb_ch(b, ']');
}

/* A number inside an entity's array: a comma, then the number with that many decimals. */
static void sb_next_fix(struct sim_text *b, double x, int decimals)
{
	sb_ch(b, ',');
	sb_fix(b, x, decimals);
}

/* fish: [key, x, y, vx, vy, size, energy/max] */
static void encode_fish(struct tank_view *v, struct sim_text *tmp, const struct view_capture *c)
{
	struct sim_text *b = &v->body;
	sb_put(b, ",\"fish\":[");
	for (size_t i = 0; i < c->n_fish; i++) {
		const struct view_fish *f = &c->fish[i];
		sb_put(b, i ? ",[" : "[");
		sb_uint(b, see(v, f->id, tmp, f, NULL));
		sb_next_fix(b, f->x, 1);
		sb_next_fix(b, f->y, 1);
		sb_next_fix(b, f->vx, 2);
		sb_next_fix(b, f->vy, 2);
		sb_next_fix(b, f->size, 2);
		sb_next_fix(b, f->energy, 2);
		sb_ch(b, ']');
	}
	sb_ch(b, ']');
}

/* plants: [key, growth 0.3..1, energy/max] */
static void encode_plants(struct tank_view *v, struct sim_text *tmp, const struct view_capture *c)
{
	struct sim_text *b = &v->body;
	sb_put(b, ",\"plants\":[");
	for (size_t i = 0; i < c->n_plants; i++) {
		const struct view_plant *p = &c->plants[i];
		sb_put(b, i ? ",[" : "[");
		sb_uint(b, see(v, p->id, tmp, NULL, p));
		sb_next_fix(b, p->size, 2);
		sb_next_fix(b, p->energy, 2);
		sb_ch(b, ']');
	}
	sb_ch(b, ']');
}

/* food: [x, y, kind] with kind an index into "food_types"; crabs: [x, y, vx, energy/max] */
static void encode_food_and_crabs(struct sim_text *b, const struct view_capture *c)
{
	sb_put(b, ",\"food\":[");
	for (size_t i = 0; i < c->n_food; i++) {
		const struct view_food *fd = &c->food[i];
		sb_put(b, i ? ",[" : "[");
		sb_fix(b, fd->x, 1);
		sb_next_fix(b, fd->y, 1);
		sb_ch(b, ',');
		sb_uint(b, (uint64_t)fd->kind);
		sb_ch(b, ']');
	}
	sb_put(b, "],\"crabs\":[");
	for (size_t i = 0; i < c->n_crabs; i++) {
		const struct view_crab *cr = &c->crabs[i];
		sb_put(b, i ? ",[" : "[");
		sb_fix(b, cr->x, 1);
		sb_next_fix(b, cr->y, 1);
		sb_next_fix(b, cr->vx, 2);
		sb_next_fix(b, cr->energy, 2);
		sb_ch(b, ']');
	}
	sb_put(b, "],\"food_types\":[");
	for (int k = 0; k < FOOD_KIND_COUNT; k++) {
		sb_put(b, k ? ",\"" : "\"");
		sb_put(b, food_kind_names[k]);
		sb_ch(b, '"');
	}
	sb_ch(b, ']');
}

void tank_view_encode(struct tank_view *v, const struct view_capture *c, struct view_frame *out)
{
	struct sim_text *b = &v->body, tmp = {0};
	size_t before = v->n;
	v->gen++;
	b->len = 0;
	encode_header(b, c);
	encode_fish(v, &tmp, c);
	encode_plants(v, &tmp, c);
	encode_food_and_crabs(b, c);
	sb_ch(b, '}');
	free(tmp.p);

	bool changed = sweep(v, before) || !v->encoded_once;
	v->encoded_once = true;
	out->body = sim_xcalloc(b->len + 1, 1);
	memcpy(out->body, b->p, b->len);
	out->body_len = b->len;
	out->fish = c->n_fish;
	out->looks = changed ? looks_build(v) : NULL;
}
