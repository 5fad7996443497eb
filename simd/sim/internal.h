/* Structures and constants shared by the files of the simulation core (not by simd). */
#ifndef TW_SIM_INTERNAL_H
#define TW_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "simd/sim/alloc.h"
#include "simd/sim/grid.h"
#include "rng.h"
#include "simd/sim/sim.h"

/* World constants of the original (spec §2.1, §2.9). */
#define FISH_BOX 50.0 /* collision box side; the box never scales with size */
#define FISH_HALF 25.0
#define FISH_TOP_MARGIN 20.0
#define FISH_BASE_SPEED 4.0
#define ARRIVAL_INSET 35.0 /* the original's x = 10 for a 50 px box, as a centre */
#define SOCIAL_RADIUS 120.0
#define NEIGHBOUR_RADIUS 200.0 /* poker-movement blend and "nearest fish" */
#define MATE_RADIUS 60.0
#define POKER_MATE_RADIUS 80.0
#define PLANT_POKER_RADIUS 200.0
#define FOOD_RADIUS 8.0
#define CRAB_HALF_W 30.0
#define CRAB_HALF_H 20.0
#define LIVE_FOOD_FLEE_RADIUS 180.0
/* Frames live food lives uneaten in a world larger than the original's (food.c). */
#define LIVE_FOOD_LIFESPAN 900
#define GRID_CELL 100.0

/* The highest generation a state holds (10^8: some million years of births at 30 ticks/s).
 * A fish can arrive at it from a peer; its children stay at it (generation_after), as a
 * child one generation past it made the tank's next snapshot one that no start accepts. */
#define GENERATION_MAX 100000000

/* Work caps (issue 13): how many candidates each neighbourhood query may visit, and how
 * large a poker table may grow. Queries visit the nearest cells first (grid_near), so a
 * cap only bites where a neighbourhood is far more crowded than the original tank ever
 * is; docs/simulation-model.md says why each value keeps the default tank's behaviour. */
#define NEIGHBOUR_BUDGET 48 /* schooling, nearest fish: plus the fish itself */
#define FOOD_BUDGET 32	    /* nearest food in sight */
#define EAT_BUDGET 8	    /* food within a bite */
#define MATE_BUDGET 8	    /* fish within MATE_RADIUS */
#define POKER_BUDGET 8	    /* fish whose boxes touch, per fish */
#define POKER_TABLE_MAX 6   /* players at one table */
#define CRAB_BUDGET 32	    /* food or fish a crab looks at, fish it touches */
#define FLEE_BUDGET 16	    /* fish live food looks at */
#define PLANT_POKER_BUDGET 32
/* The castle: a 225 px square decoration on the bottom near the left wall (the original's
 * (100, 420) in a 612 px tall tank); it covers the root spots under it. */
#define CASTLE_X 100.0
#define CASTLE_W 225.0
#define CASTLE_RISE 192.0

#define STAGE_BABY_END 300
#define STAGE_JUVENILE_END 900
#define STAGE_ADULT_END 3600
#define MAX_AGE_PER_TRAIT 5400.0

#define PREGNANCY_FRAMES 300
#define MATING_COOLDOWN 240
#define POKER_MATING_COOLDOWN 360
#define POKER_COOLDOWN 60
#define PLANT_POKER_COOLDOWN 90
#define NECTAR_COOLDOWN 600
#define NECTAR_ENERGY 50.0
#define CRAB_CONTACT_FRAMES 150
#define CRAB_HUNT_COOLDOWN 120
#define EMERGENCY_INTERVAL 180
#define CRITICAL_POPULATION 10
#define TARGET_POPULATION 15
#define MEMORY_UPDATE_EVERY 10
#define MEMORY_MAX_AGE 1800

/* Hard limits on what a JSON document may ask for. */
#define SIM_MAX_FISH_LIMIT 1000000
#define SIM_MAX_WORLD 100000
#define SIM_MAX_ROOT_SPOTS 10000
#define SIM_MAX_CRABS 1000

/* --- genome (genome.c) --- */
enum trait {
	T_SPEED,
	T_SIZE,
	T_VISION,
	T_METABOLISM,
	T_MAX_ENERGY,
	T_FERTILITY,
	T_AGGRESSION,
	T_SOCIAL,
	T_COLOR_HUE,
	T_FIN_SIZE,
	T_TAIL_SIZE,
	T_BODY_ASPECT,
	T_EYE_SIZE,
	T_PATTERN_INTENSITY,
	TRAIT_COUNT
};
struct trait_def {
	const char *name;
	double rand_lo, rand_hi; /* drawn at random creation */
	double lo, hi;		 /* clamp on inheritance and input */
};
extern const struct trait_def trait_defs[TRAIT_COUNT];

#define TEMPLATE_MAX 5
#define PATTERN_MAX 3

enum { PREF_SIMILAR_SIZE, PREF_DIFFERENT_COLOR, PREF_HIGH_ENERGY, PREF_HIGH_FITNESS, PREF_COUNT };
extern const char *const mate_pref_names[PREF_COUNT];
/* Epigenetic marks: experience of the parents that the child starts with (halved). */
enum { EPI_STARVATION, EPI_PREDATION, EPI_COUNT };
extern const char *const epi_names[EPI_COUNT];
/* Learned behaviours: skills a fish acquires in life; a quarter is "culturally" inherited. */
enum { LEARN_FOOD, LEARN_PREDATOR, LEARN_POKER, LEARN_COUNT };
extern const char *const learn_names[LEARN_COUNT];

#define BEHAVIOR_MAX_PARAMS 4
struct behavior {
	int algo;
	double p[BEHAVIOR_MAX_PARAMS];
};
#define POKER_PARAM_COUNT 5
struct poker_strategy {
	int id;
	double p[POKER_PARAM_COUNT];
};

struct genome {
	double t[TRAIT_COUNT];
	int template_id, pattern_type;
	double mate_pref[PREF_COUNT];
	double epi[EPI_COUNT];
	double learned[LEARN_COUNT];
	struct behavior behavior;	/* primary movement */
	struct behavior poker_behavior; /* movement blended in near other fish */
	struct poker_strategy poker;	/* betting */
};

/* Mutation pressure grows when the population is small (the original's adaptive rates). */
double genome_stress(int fish_count);
/* Crosses n parameters of one algorithm from two parents (genome.c). */
void cross_params(struct rng *r, double *c, const double *a, const double *b, int n, double w);
void genome_random(struct genome *g, struct rng *r);
/* Normal mating: recombination; winner_weight < 0 selects it. Post-poker mating:
 * a weighted average with a at weight winner_weight. */
void genome_inherit(struct genome *child, const struct genome *a, const struct genome *b,
		    double winner_weight, double stress, struct rng *r);
/* Mate compatibility of self towards mate, 0..1. */
double genome_compatibility(const struct genome *self, const struct genome *mate,
			    double mate_fitness, double mate_energy_ratio);
/* -EINVAL unless every value is finite and in range (used after JSON decoding). */
int genome_check(const struct genome *g, struct json_err *e);

/* --- behaviour algorithms (behavior.c) --- */
enum algo_family {
	FAM_FOOD,
	FAM_PREDATOR,
	FAM_SCHOOLING,
	FAM_ENERGY,
	FAM_TERRITORY,
	FAM_POKER,
	FAM_COUNT
};
enum param_kind { PK_SPEED, PK_DISTANCE, PK_RATIO, PK_WEIGHT, PK_FREQUENCY, PK_ENERGY, PK_DEFAULT };
struct param_def {
	const char *name;
	double lo, hi;
	enum param_kind kind;
};
struct percept;
struct fish;
struct tank;
struct plant;
struct algo_def {
	const char *name;
	enum algo_family family;
	int nparams;
	struct param_def params[BEHAVIOR_MAX_PARAMS];
	void (*exec)(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		     double *dx, double *dy);
};
extern const struct algo_def algo_defs[];
extern const int algo_count;
extern const char *const family_names[FAM_COUNT];
int algo_find(const char *name);
void behavior_random(struct behavior *b, struct rng *r);
void behavior_inherit(struct behavior *child, const struct behavior *a, const struct behavior *b,
		      double winner_weight, double switch_rate, struct rng *r);
int behavior_check(const struct behavior *b, struct json_err *e);

/* What a fish perceives this frame (computed once per fish per frame). */
struct percept {
	int food; /* index into tank food, -1 if none in sight */
	double food_dx, food_dy, food_d;
	int crab; /* -1 if no crab within the crab sight radius */
	double crab_dx, crab_dy, crab_d;
	int fish; /* nearest other fish within NEIGHBOUR_RADIUS, -1 if none */
	double fish_dx, fish_dy, fish_d, fish_energy_ratio;
	int n_social;	     /* fish within SOCIAL_RADIUS */
	double coh_x, coh_y; /* centroid offset */
	double ali_x, ali_y; /* mean velocity */
	double sep_x, sep_y; /* sum of 1/d pushes from close fish */
	double sep_d;	     /* distance of the closest social neighbour */
	double energy_ratio;
	struct rng *rng; /* the fish's random stream this frame (NULL: the tank's) */
};
void behavior_desire(struct tank *t, struct fish *f, const struct behavior *b,
		     const struct percept *pc, double *dx, double *dy);

/* --- poker (poker.c) --- */
struct poker_def {
	const char *name;
	double rand_lo[POKER_PARAM_COUNT], rand_hi[POKER_PARAM_COUNT];
};
extern const struct poker_def poker_defs[];
extern const int poker_count;
extern const char *const poker_param_names[POKER_PARAM_COUNT];
extern const double poker_param_lo[POKER_PARAM_COUNT], poker_param_hi[POKER_PARAM_COUNT];
int poker_find(const char *name);
void poker_random(struct poker_strategy *s, struct rng *r);
void poker_inherit(struct poker_strategy *child, const struct poker_strategy *a,
		   const struct poker_strategy *b, double winner_weight, double switch_rate,
		   struct rng *r);
int poker_check(const struct poker_strategy *s, struct json_err *e);
#define POKER_STRATEGY_COUNT 6
#define POKER_CHIPS 1000.0 /* chips per unit of energy */
struct holdem_style;
struct holdem_hand;
/* The decision parameters of a fish: its strategy genome and its aggression. */
void poker_fish_style(const struct fish *f, struct holdem_style *s);
/* Play the hands of one contact group of n fish (indices into the tank), in tables of at
 * most six; moves energy, books the house cut. */
void poker_play_fish(struct tank *t, const int *players, int n);
/* A contact group of 2..POKER_TABLE_MAX fish for this frame's poker_play_tables, which
 * plays every table listed, as poker_play_fish would one by one, and empties the list. */
void poker_table_add(struct tank *t, const int *players, int n);
void poker_play_tables(struct tank *t);
void poker_play_plant(struct tank *t, struct fish *f, struct plant *p);

/* --- the last hands played (poker_log.c): observation only, not part of the state --- */
#define POKER_LOG_SIZE 1000
/* ids[i] names seat i (a fish or, where plant_mask has bit i, a plant); net[i] is its
 * energy change after the house cut; cut the energy the house destroyed. */
void poker_log_add(struct tank *t, const struct holdem_hand *h, const char *const *ids,
		   unsigned plant_mask, const double *net, double cut);

/* --- memory (memory.c) --- */
#define MEMORY_SLOTS 10
struct memory_entry {
	double x, y, strength;
	int age, successes, failures;
};
struct memory_bank {
	int n;
	struct memory_entry e[MEMORY_SLOTS];
};
struct fish_memory {
	struct memory_bank food, danger;
};
void memory_remember(struct memory_bank *m, double x, double y);
void memory_update(struct memory_bank *m, int elapsed);
/* The strongest entry with strength >= min_strength, or NULL. */
const struct memory_entry *memory_strongest(const struct memory_bank *m, double min_strength);
int memory_check(const struct memory_bank *m, struct json_err *e);

/* --- lineage (lineage.c) --- */
#define LINEAGE_PRUNE_EVERY 300 /* frames between prunes of extinct branches */
struct fish_birth {
	bool known;
	int64_t frame; /* in the tank of birth */
	double at;     /* unix seconds on the birth tank's clock (0: unknown) */
	char tank_id[TANK_ID_MAX + 1];
	char server_id[SERVER_ID_MAX + 1];
};
/* The father's record as the tank of conception keeps it, carried by a pregnancy that
 * leaves that tank (lineage_stamp), so that the tank where the child is born records
 * the father too (lineage_arrived): the child's missing parents are otherwise looked
 * for where it was born, which is not where he lived. known false until then. */
struct lineage_mate {
	bool known;
	char mother_id[UUID_STR_LEN], father_id[UUID_STR_LEN];
	int generation;
	struct fish_birth born;
};
struct lineage_rec {
	char fish_id[UUID_STR_LEN], mother_id[UUID_STR_LEN], father_id[UUID_STR_LEN];
	int generation, algo, strategy;
	struct fish_birth born; /* known false: arrived without it (an older sender) */
	int64_t died_frame;	/* -1 unless it died here */
	/* A fish that left: the frame its age would end (it cannot live longer
	 * elsewhere), until which its record and ancestors are kept here, where its missing
	 * parents are looked up (docs/history.md). 0 for a fish that never left. */
	int64_t left_until;
	int cause; /* enum death_cause, -1 */
};
struct lineage {
	struct lineage_rec *r; /* in order of recording */
	size_t n, cap;
	int32_t *index;	  /* open addressing by fish id: record index + 1, 0 empty */
	size_t index_cap; /* a power of two, at least twice n */
	int32_t *found;	  /* lineage_prune's lookups, two per fish; NULL outside it */
	/* Set by the caller (tank_set_origin), never serialized. */
	char server_id[SERVER_ID_MAX + 1];
	double created_at;
};
struct fish;
/* A fish born or spawned here this frame. */
void lineage_born(struct tank *t, const struct fish *f);
void lineage_died(struct tank *t, const struct fish *f, int cause);
/* A fish put in or returned: its record from what it carries, and its unborn child's
 * father's when it carries his and there is none here. */
void lineage_arrived(struct tank *t, struct fish *f);
/* A fish leaving: what its record knows of its birth goes with it in f->born, and a
 * pregnant fish takes her mate's record (f->preg.mate_rec). */
void lineage_stamp(struct tank *t, struct fish *f);
/* Keep the records of living fish and their ancestors up to lineage_depth. */
void lineage_prune(struct tank *t);
/* Records for living fish that have none (a state saved before lineage). */
void lineage_cover_living(struct tank *t);
void lineage_free(struct lineage *l);
/* tank_room's part for entities_copy_in (entities.c). */
void entities_room_size(const struct tank *t, struct sim_room *r);
void entities_room_make(struct sim_room *r);
/* tank_room's part for lineage_pick_take (lineage_pick.c): at most limit records; none
 * for limit 0 (an ancestor query). */
void lineage_pick_room_size(const struct tank *t, size_t limit, struct sim_room *picks,
			    struct sim_room *living);
void lineage_pick_room_make(struct sim_room *picks, struct sim_room *living);
/* tank_room's part for tank_poker_strategies_take (poker_strategies.c). */
void strategies_room_size(const struct tank *t, struct sim_room *r);
void strategies_room_make(struct sim_room *r);
/* tank_room's part for tank_history_take (history.c): the window of samples, in doubles;
 * none for a small window. */
void history_room_size(const struct tank *t, uint64_t since, size_t limit, struct sim_room *r);
/* Into room's memory (sim_room_take) when it holds the records. */
void lineage_copy(struct lineage *dst, const struct lineage *src, struct sim_room *room);
json_object *lineage_to_json(const struct tank *t);
/* The record's index, -1 when id has none here. */
ssize_t lineage_find(const struct lineage *l, const char *id);
/* A record as GET /lineage and the saved state show it; a string member or null. */
json_object *lineage_record_json(const struct lineage_rec *rec);
json_object *lineage_str_or_null(const char *s);
int lineage_from_json(json_object *o, struct tank *t, struct json_err *e);
json_object *fish_birth_to_json(const struct fish_birth *b);
int fish_birth_from_json(json_object *o, struct fish_birth *b, struct json_err *e);
/* A pregnancy's "mate_lineage" (known mates only), and its reading, every field checked. */
json_object *lineage_mate_to_json(const struct lineage_mate *m);
int lineage_mate_from_json(json_object *o, struct lineage_mate *m, struct json_err *e);

/* --- fish (fish.c) --- */
/* Whether a fish is pregnant is hot (fish.pregnant); the rest is read only then. */
struct pregnancy {
	int timer;
	char mate_id[UUID_STR_LEN];
	int mate_generation; /* the mate's generation_deepest */
	struct genome mate_genome;
	struct lineage_mate mate_rec; /* after it left a tank (lineage.c) */
};
struct fish {
	/* Hot fields first: the per-frame loops touch these and the genome. A fish is a
	 * whole number of 64-byte lines (pad_), so that in the fish array (2 MB-aligned when
	 * large) every fish starts a line: its first line is position and velocity, its
	 * second (FISH_STATE_LINE) what the whole-tank passes ask of it (energy, age,
	 * clocks, flags), and the move's prefetch of 8 lines is the fish's first 512 bytes.
	 * At 2,184 bytes a fish straddled lines differently at every index and most passes
	 * read one line more than they needed: 3 % of a 100,000-fish tick (6 December). */
	double x, y, vx, vy;
	double dir_x, dir_y; /* heading last frame, for the turn cost */
	double base_speed;   /* never the effective speed (the original compounded it) */
	uint64_t key; /* derived from the id on adoption (never serialized): random streams */
	int age, max_age;
	int generation;		/* mother's + 1, at most GENERATION_MAX */
	int generation_deepest; /* max(mother's, father's) + 1, as bounded */
	int repro_cooldown, poker_cooldown, crab_contact;
	/* transient within one frame, never serialized (always 0 between frames) */
	int dead;      /* 1 + enum death_cause */
	int exited;    /* 1 + enum wall */
	bool pregnant; /* carrying a mate's young (preg holds the rest) */
	double energy; /* the state line ends here */
	/* pow(size_pow_of, 1.2), kept while g.t[T_SIZE] is size_pow_of (fish_size_pow; never
	 * serialized: 0 and 0 until the fish first moves) */
	double size_pow, size_pow_of;
	double fitness;
	/* behaviour state */
	double wander_angle;
	int algo_timer;
	double home_x, home_y;
	struct genome g;
	struct fish_memory mem;
	/* Cold: identity, pregnancy, life statistics. */
	struct pregnancy preg;
	int food_eaten, poker_wins, poker_losses, offspring;
	char id[UUID_STR_LEN];
	char mother_id[UUID_STR_LEN]; /* "" when none */
	char father_id[UUID_STR_LEN];
	/* Where the fish was born, filled when it first leaves a tank (lineage_stamp) and
	 * kept from then on; a fish that never left has it in its tank's record only. */
	struct fish_birth born;
	char pad_[40]; /* to a whole number of lines (the assertions below say if it is not) */
};
#define FISH_STATE_LINE 64
_Static_assert(sizeof(struct fish) % 64 == 0, "struct fish: resize pad_ to a multiple of 64");
_Static_assert(offsetof(struct fish, age) >= FISH_STATE_LINE &&
		       offsetof(struct fish, energy) + sizeof(double) <= FISH_STATE_LINE + 64,
	       "struct fish: the state line holds age .. energy");
static inline double fish_max_energy_of(const struct fish *f)
{
	return 100.0 * f->g.t[T_MAX_ENERGY];
}
static inline double fish_speed_of(const struct fish *f)
{
	return f->base_speed * f->g.t[T_SPEED];
}
enum life_stage stage_of_age(int age);
double fish_size_of(const struct fish *f);
struct fish *fish_alloc(void);
/* A generation-0 fish with a random genome, half energy. */
struct fish *fish_new_random(struct tank *t, double x, double y);
/* Memory, learning and fitness bookkeeping every MEMORY_UPDATE_EVERY frames. */
void fish_periodic(const struct tank *t, struct fish *f);
/* idx is the fish's index in the tank (to skip itself in the grid). */
void fish_perceive(const struct tank *t, int idx, struct percept *pc);
/* Steer, move and pay for it; returns true if the fish reached a wall with an exit. */
bool fish_move(struct tank *t, struct fish *f, const struct percept *pc, enum wall *exit_wall,
	       double *paid);
/* The part of a fish's tick that touches only the fish (age, cooldowns, the pregnancy's
 * clock): it runs on the tank's threads, as the fish moves. True when fish_tick has work:
 * a birth, or a death by age or hunger. fish_periodic is the rest of its clocks. */
bool fish_grow_older(struct fish *f);
/* The rest, in fish order, for the fish fish_grow_older named: births and deaths change the
 * tank. */
void fish_tick(struct tank *t, struct fish *f);
int fish_check(const struct fish *f, struct json_err *e);

/* --- food (food.c) --- */
enum food_kind {
	FOOD_ALGAE,
	FOOD_PROTEIN,
	FOOD_VITAMIN,
	FOOD_ENERGY,
	FOOD_RARE,
	FOOD_NECTAR,
	FOOD_LIVE,
	FOOD_KIND_COUNT
};
extern const char *const food_kind_names[FOOD_KIND_COUNT];
struct food {
	uint64_t id;
	int kind;
	double x, y, vx, vy;
	double energy, max_energy;
	int timer;	       /* live food: frames to the next change of direction */
	int age;	       /* live food: frames lived, where it expires (food.c) */
	int source_spot;       /* nectar: root spot of the plant that made it */
	uint64_t source_plant; /* nectar: serial of that plant */
	bool dead;
};
/* The nearest fish live food sees: offset from it and squared distance (d2 is the flee
 * radius squared, and dx, dy 0, when it sees none); and whether the item's move was left
 * to food_update_all's serial pass. */
struct flee {
	double dx, dy, d2;
	bool serial; /* left for the serial pass: a new heading to draw, or a flake rots */
};
/* Append a food item (no energy booking: the caller says where the energy came from). */
struct food *food_push(struct tank *t, int kind, double x, double y, double energy);
size_t food_cap(const struct tank *t);
#define FOODORDER_EVERY 128  /* frames between sorts of the food array (food.c) */
#define FOODORDER_FROM 16384 /* fewer items (under 1.5 MB) stay in cache: no sort */
/* Right after the food grid was built: every FOODORDER_EVERY frames, the food array in the
 * grid's order. */
void food_order(struct tank *t);
/* Shares of the original's automatic food supply this tank gets (food.c). */
double food_supply_rate(const struct tank *t);
void food_spawn_auto(struct tank *t);
/* One spawned item (live or a weighted flake), booked as EIN_FOOD_SPAWN. */
void food_spawn_one(struct tank *t, bool anywhere);
/* The energy a fresh item of this kind holds. */
double food_kind_energy(int kind);
void food_update_all(struct tank *t);
/* The fish takes one bite of food fd: the food's side and the fish's energy, with nectar
 * sprouting; false if it could take nothing. What the fish learns of its meal is
 * food_digest's, which reads only the fish and the food's place (fixed for the frame). */
bool food_bite(struct tank *t, struct fish *f, struct food *fd);
void food_digest(struct fish *f, const struct food *fd);

/* --- plants (plant.c) --- */
enum plant_trait {
	PT_ANGLE,
	PT_LENGTH_RATIO,
	PT_BRANCH_PROBABILITY,
	PT_CURVE_FACTOR,
	PT_COLOR_HUE,
	PT_COLOR_SATURATION,
	PT_STEM_THICKNESS,
	PT_LEAF_DENSITY,
	PT_AGGRESSION,
	PT_BLUFF_FREQUENCY,
	PT_RISK_TOLERANCE,
	PT_BASE_ENERGY_RATE,
	PT_GROWTH_EFFICIENCY,
	PT_NECTAR_THRESHOLD,
	PLANT_TRAIT_COUNT
};
extern const struct trait_def plant_trait_defs[PLANT_TRAIT_COUNT];
#define PLANT_FRACTAL_TYPES 5
#define PLANT_COSMIC_FERN 3
extern const char *const plant_fractal_names[PLANT_FRACTAL_TYPES];
struct plant_genome {
	int fractal_type;
	double t[PLANT_TRAIT_COUNT];
};
struct plant {
	char id[UUID_STR_LEN];
	char parent_id[UUID_STR_LEN];
	uint64_t serial;
	int spot;
	double energy;
	int age, generation;
	int poker_cooldown, nectar_cooldown;
	int poker_wins, poker_losses, nectar_produced;
	struct plant_genome g;
	bool dead;
};
static inline double plant_max_energy(const struct plant *p)
{
	return 120.0 * p->g.t[PT_GROWTH_EFFICIENCY];
}
double plant_size(const struct plant *p);
double spot_x(const struct tank *t, int spot);
double spot_y(const struct tank *t);
bool spot_blocked(const struct tank *t, int spot);
void plant_add_random(struct tank *t, int spot, double energy);
void plant_update_all(struct tank *t);
/* A mutated child of the plant at nectar's source, near it; false if no room. */
bool plant_sprout(struct tank *t, const struct food *nectar);
void plants_reindex(struct tank *t);
int plant_check(const struct plant *p, int nspots, struct json_err *e);
/* Free root spots beyond those held for the tank's plants in transit (plant_move.c). */
int plant_free_spots(const struct tank *t);
/* A plant's saved form (tank_json.c), also the body of a migrating plant. */
json_object *plant_to_json(const struct plant *p);
int plant_from_json(json_object *it, struct plant *p, struct json_err *e);

/* --- crabs (crab.c) --- */
struct crab {
	uint64_t id;
	double x, y, vx;
	double energy;
	double g_speed, g_metabolism, g_energy;
	int hunt_cooldown;
};
static inline double crab_max_energy(const struct crab *c)
{
	return 150.0 * c->g_energy;
}
void crab_add_random(struct tank *t);
void crab_update_all(struct tank *t);
/* Fish-crab contacts: predation and danger memories. */
void crab_collide_fish(struct tank *t);

/* --- the gene bank (evolution.c) --- */
#define GENE_BANK_SIZE 16
struct gene_bank {
	int n;
	struct {
		struct genome g;
		int offspring;
		uint64_t frame;
	} e[GENE_BANK_SIZE];
};
/* A dying fish with offspring enters the bank if it beats the weakest (oldest on ties). */
void gene_bank_offer(struct tank *t, const struct fish *f);
/* A mutated copy of a banked genome (weighted by offspring); false if the bank is empty. */
bool gene_bank_draw(struct tank *t, struct genome *g);
json_object *gene_bank_to_json(const struct tank *t);
int gene_bank_from_json(json_object *o, struct tank *t, struct json_err *e);

/* --- history (history.c) --- */
#define HISTORY_MARKS 23 /* cumulative counters whose change each sample records */
struct history {
	double *rows;		    /* ring of size x sim_history_column_count() values */
	size_t n, head;		    /* rows held; index of the oldest */
	size_t cap;		    /* rows allocated (grows up to the tank's history_size) */
	double mark[HISTORY_MARKS]; /* the counters at the last sample */
};
/* Every history_interval frames, at the end of the frame. */
void history_sample(struct tank *t);
void history_free(struct history *h);
json_object *history_to_json(const struct tank *t);
int history_from_json(json_object *o, struct tank *t, struct json_err *e);

/* --- events (events.c) --- */
#define EVENTS_SIZE 4096
struct sim_event_rec {
	uint64_t seq, frame;
	int type;  /* enum sim_event_type */
	int cause; /* deaths: enum death_cause; migrations: enum wall; else -1 */
	int generation, algo, strategy;
	double speed, size, vision, max_energy;
	char fish_id[UUID_STR_LEN], mother_id[UUID_STR_LEN], father_id[UUID_STR_LEN];
};
struct event_ring {
	struct sim_event_rec *e; /* EVENTS_SIZE slots, allocated on the first event */
	size_t n, head;
	uint64_t next_seq; /* the seq the next event gets (from 1) */
};
void events_add(struct tank *t, int type, const struct fish *f, int cause);
void events_free(struct event_ring *r);
json_object *events_to_json(const struct tank *t);
int events_from_json(json_object *o, struct tank *t, struct json_err *e);
/* --- the fish array in space order (fishorder.c) --- */
#define FISHORDER_EVERY 128 /* frames between sorts */
#define FISHORDER_FROM 1024 /* fewer fish (under 2 MB) stay in cache: no sort */
bool fishorder_due(const struct tank *t);
void fishorder_sort(struct tank *t);

/* --- the fish-id index (fishidx.c) --- */
struct fishidx_slot {
	uint32_t hash; /* 0: empty */
	int pos;
};
struct tank;
/* Position of the fish with this id, or -1; builds the index if it is not valid. */
ssize_t fishidx_find(struct tank *t, const char *id);
void fishidx_rebuild(struct tank *t);
void fishidx_added(struct tank *t, size_t pos);	      /* t->fish[pos] was appended */
void fishidx_removed(struct tank *t, const char *id); /* before the slot is overwritten */
void fishidx_taken(struct tank *t, size_t pos); /* before t->fish[pos] goes, the rest shift down */
void fishidx_moved(struct tank *t, size_t pos); /* t->fish[pos] came from elsewhere */

/* --- worker threads (pool.c) --- */
struct sim_pool;
typedef void (*pool_fn)(struct tank *t, size_t lo, size_t hi);
struct sim_pool *pool_new(int threads); /* NULL for fewer than 2 */
void pool_free(struct sim_pool *p);
/* fn over [0, n) in chunks, on the pool's threads and the caller's; returns when done. */
void pool_run(struct sim_pool *p, struct tank *t, size_t n, pool_fn fn);
/* fn(t, k, k + 1) for every part k < parts, one part at a time on each thread. */
void pool_run_parts(struct sim_pool *p, struct tank *t, size_t parts, pool_fn fn);

/* --- the tank (tank.c) --- */
struct exited {
	struct fish *f;
	enum wall wall;
};

/* A frame's poker tables (poker_play_tables): POKER_TABLE_MAX player slots a table. */
struct holdem_hand;
struct poker_tables {
	int *players, *size;
	size_t n, cap;
	size_t batch;		   /* the first table of the batch being dealt */
	struct holdem_hand *hands; /* the batch's hands, and whether each was played */
	bool *dealt;
	size_t cap_hands;
};

/* A frame's working buffers: filled and read within a frame, never serialized, grown
 * as needed and kept between frames to save the allocations. Kept apart from the
 * tank's state so that nothing else need know them: a clone starts with none
 * (tank_clone zeroes the whole struct, so a buffer added here cannot end up shared,
 * and freed twice), and tank_work_free frees them all. */
struct tank_work {
	struct fish **born; /* newborns, inserted at the end of the frame */
	size_t n_born, cap_born;
	int *uf; /* poker contact groups: union-find parent, list links */
	int *group_next, *group_tail;
	int *pick; /* per fish, what a query on the threads found (tank_eat, tank_poker) */
	size_t cap_scratch;
	double *paid; /* per fish: metabolism paid this frame (summed in order) */
	size_t cap_paid;
	bool *tick_due; /* per fish: fish_tick has work this frame (fish_grow_older) */
	size_t cap_tick_due;
	int *bite; /* per fish: the food it may bite, found as it moved (eat_plan) */
	size_t cap_bite;
	struct grid *sorting; /* the grid whose counting sort the threads run (tank.c) */
	size_t sorting_parts;
	struct flee *flee; /* per food: what live food sees, what is left to move (food_update_all) */
	size_t cap_flee;
	struct food *food_spare; /* food_order writes the sorted array here, then swaps */
	size_t cap_food_spare;
	double *energy_runs; /* the fish's energy by runs of fish (food_spawn_auto) */
	size_t cap_energy_runs;
	unsigned char *gone; /* per fish: leaves at the end of the frame (tank_compact) */
	size_t cap_gone;
	struct poker_tables tables;
};

struct tank {
	struct tank_params p;
	char id[TANK_ID_MAX + 1];
	uint64_t frame;
	struct rng rng;
	uint64_t fish_serial, food_serial, plant_serial, crab_serial;

	/* The fish, by value and in simulation order. Pointers into it are valid only until
	 * the array changes (the end of a frame, a put or a take). */
	struct fish *fish;
	size_t n_fish, cap_fish;
	struct food *food;
	size_t n_food, cap_food;
	struct plant *plants;
	size_t n_plants, cap_plants;
	struct crab *crabs;
	size_t n_crabs;
	struct exited *exited;
	size_t n_exited, cap_exited;
	bool exit[2];
	size_t in_transit;	  /* kept by simd (tank_set_in_transit), never serialized */
	size_t plants_in_transit; /* the same for plants: root spots held for them */

	double food_accum;     /* automatic food: fractional spawns carried over */
	struct gene_bank bank; /* successful genomes for the emergency spawn (serialized) */
	uint64_t spawns_banked;
	struct history hist;	  /* serialized */
	struct event_ring events; /* serialized */
	struct lineage lin;	  /* serialized */
	uint64_t last_emergency;  /* frame of the last emergency spawn */

	uint64_t births, births_refused, spawns, deaths, deaths_by_cause[DEATH_CAUSE_COUNT];
	uint64_t migrations_in, migrations_out;
	uint64_t plant_migrations_in, plant_migrations_out; /* plant_move.c */
	uint64_t poker_games, plant_poker_games, plants_sprouted;
	int max_generation;
	/* Poker books (serialized): energy lost by the losers of every hand, and per
	 * strategy the fish-hands played, won and the net energy after the house cut. */
	double poker_energy_moved;
	uint64_t poker_births; /* children of post-poker mating (also counted in births) */
	uint64_t strat_hands[POKER_STRATEGY_COUNT], strat_wins[POKER_STRATEGY_COUNT];
	double strat_net[POKER_STRATEGY_COUNT];
	/* The last POKER_LOG_SIZE hands, a ring (allocated on the first hand; not
	 * serialized: a restored tank starts with an empty history). */
	struct poker_log_entry *poker_log;
	size_t poker_log_next, poker_log_n;
	double flow[ENERGY_FLOW_COUNT];

	/* Derived per frame, never serialized. */
	double day_time, activity, food_sight;
	double area_scale;
	struct grid fish_grid, food_grid;
	int *spot_plant;	       /* root spot -> plant index or -1 */
	struct fishidx_slot *id_index; /* fish id -> position (fishidx.c) */
	size_t id_index_cap, id_index_n;
	bool id_index_valid;
	struct sim_pool *pool; /* tank_set_threads; NULL: one thread */
	int threads;
	double crab_top; /* the highest crab's y, as the fish move (tank_step) */
	struct tank_work work;
};

/* A fish is 2.2 kB, so a pass over the fish array takes a cache miss per fish that the
 * hardware prefetcher does not hide (the stride crosses pages). Passes that read the
 * first lines of every fish (position, energy, age, flags, traits) ask for the fish
 * FISH_PREFETCH_AHEAD places ahead; the lines beyond are read by few passes. */
#define FISH_PREFETCH_AHEAD 8
#define FISH_HOT_LINES 3 /* bytes 0-191: x .. g.t[] */
static inline void fish_prefetch(const struct tank *t, size_t i)
{
	if (i < t->n_fish) {
		const char *a = (const char *)&t->fish[i];
		for (int l = 0; l < FISH_HOT_LINES; l++)
			__builtin_prefetch(a + 64 * l, 1, 3);
	}
}

/* max_generation: the highest generation the tank has held, born here or arrived (SIM_RULES
 * 6: before, arrivals did not count, and a tank could report a living generation above
 * its highest). */
static inline void tank_note_generation(struct tank *t, const struct fish *f)
{
	if (f->generation > t->max_generation)
		t->max_generation = f->generation;
}

enum day_phase { PHASE_NIGHT, PHASE_DAWN, PHASE_DAY, PHASE_DUSK };
enum day_phase tank_day_phase(const struct tank *t);
void tank_time_update(struct tank *t);
/* Add a fish to the pending-birth list (inserted at the end of the frame). */
void tank_add_newborn(struct tank *t, struct fish *f);
/* Would one more fish exceed max_fish? Counts newborns and exited fish waiting and the
 * tank's fish in transit. */
bool tank_full(const struct tank *t);
void tank_kill_fish(struct tank *t, struct fish *f, enum death_cause cause);
/* Energy changes: every gain and loss passes here, so the ledger stays exact. */
void fish_gain(struct tank *t, struct fish *f, double amount);
double fish_spend(struct tank *t, struct fish *f, double amount, enum energy_flow out);
void tank_fish_death_check(struct tank *t, struct fish *f);
void tank_mating(struct tank *t);
void tank_birth(struct tank *t, struct fish *mother);
void tank_poker_birth(struct tank *t, struct fish *winner, struct fish *loser);
void tank_emergency_spawn(struct tank *t);
void tank_rebuild_fish_grid(struct tank *t);
void tank_rebuild_food_grid(struct tank *t);
/* A random generation-0 fish (NULL if the tank is full), booked as EIN_FISH_SPAWN. */
struct fish *tank_spawn_fish(struct tank *t, double x, double y);
/* Frame phases (life.c). */
int eat_plan(const struct tank *t, size_t i);
void tank_eat(struct tank *t);
void tank_poker(struct tank *t);
void tank_plant_poker(struct tank *t);
/* Copy a heap fish into the fish array and free it; returns the slot (migrate.c). */
struct fish *tank_adopt_fish(struct tank *t, struct fish *f);
/* Derived state after construction or restore (grids, spot index, scratch, time). */
void tank_init_derived(struct tank *t);

/* --- JSON helpers (fish_json.c) --- */
/* Prefix e->msg with "where: " and return r (for errors in nested objects). */
int json_err_in(struct json_err *e, const char *where, int r);
json_object *genome_to_json(const struct genome *g);
int genome_from_json(json_object *o, struct genome *g, struct json_err *e);
/* Optional UUID string or null into out ("" for null/absent). */
int json_get_id(json_object *o, const char *key, bool required, char out[UUID_STR_LEN],
		struct json_err *e);
json_object *json_id_or_null(const char *id);

/* --- ids (ids.c) --- */
/* The domain separates fish, plant and other id sequences of one tank. */
void ids_make(const char *tank_id, uint32_t domain, uint64_t serial, char out[UUID_STR_LEN]);
bool ids_valid(const char *s);
uint32_t ids_hash(const char *id); /* for in-memory indexes only */
enum { ID_DOMAIN_FISH = 1, ID_DOMAIN_PLANT = 2 };

static inline double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}
static inline int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

#endif
