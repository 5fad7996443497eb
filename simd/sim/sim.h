/* The tankworld simulation core: evolving fish in a tank, deterministic and complete.
 *
 * No I/O, no clocks: a tank is a pure function of its parameters, its id and the calls
 * made on it (a tank may use worker threads of its own, which change nothing but speed).
 * The caller (simd) serialises access to one tank (one lock per tank).
 * Every function returns 0 or a negative errno unless it says otherwise.
 *
 * Coordinates are pixels with the origin at the top-left corner; a fish's x,y is the centre
 * of its 50x50 collision box. Time is counted in frames (ticks) of 1/30 s of simulated time. */
#ifndef TW_SIM_H
#define TW_SIM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ids.h"
#include "rng.h"
#include "jsonv.h"

#define SIM_FPS 30
#define SIM_DAY_FRAMES 1800
/* The version of the rules that turn one frame into the next. Replay re-simulates the
 * frames a journal recorded, so a journal written under other rules cannot be reproduced
 * exactly: a change to what a tick computes raises this number. 1 is every simd before
 * the number was written; 2 inherits colour hue around its circle and makes speed's
 * upkeep grow with its square; 3 gives a world larger than the original's one share of
 * food per 20 fish of max_fish instead of 15 (food_supply_rate); 4 takes the steering's
 * sines and cosines from trig_sincos and the swim cost's size^1.2 from fish_size_pow,
 * which differ from libm's in the last bit or two, and deals each poker table from a
 * stream of its own, so that the tables of a frame are dealt on the tank's threads
 * (issue 13); 5 lets live food in a world larger than the original's expire after 900
 * frames uneaten (food.c), as the original's later versions do; 6 counts an arriving fish's
 * generation in max_generation (tank_note_generation). */
#define SIM_RULES 6

struct tank;
struct fish;

enum wall { WALL_NONE = -1, WALL_LEFT = 0, WALL_RIGHT = 1 };

enum life_stage { STAGE_BABY, STAGE_JUVENILE, STAGE_ADULT, STAGE_ELDER };

enum death_cause { DEATH_STARVATION, DEATH_PREDATION, DEATH_OLD_AGE, DEATH_CAUSE_COUNT };

/* Every way energy enters or leaves a tank. The invariant the tests check:
 * total_energy == sum(inflows) - sum(outflows), to floating-point rounding, at every
 * frame boundary. Moves inside the tank (eating, poker, births, nectar) are not flows. */
enum energy_flow {
	EIN_FOOD_SPAWN,	    /* automatic and initial food */
	EIN_PHOTOSYNTHESIS, /* plant growth */
	EIN_FISH_SPAWN,	    /* initial and emergency-spawned fish */
	EIN_PLANT_SPAWN,    /* initial plants */
	EIN_CRAB_SPAWN,	    /* initial crabs */
	EIN_MIGRATION,	    /* fish put into the tank */
	EOUT_METABOLISM,    /* fish existence, metabolism, swimming and turning */
	EOUT_CRAB_METABOLISM,
	EOUT_HOUSE_CUT,	    /* destroyed by the poker house cut */
	EOUT_FOOD_DECAY,    /* flakes reaching the bottom, crumbs left after a bite */
	EOUT_PREDATION,	    /* what a crab kill destroys beyond the crab's own gain */
	EOUT_DEATH_REMAINS, /* energy left in fish that die of old age */
	EOUT_MATING_COST,   /* the fee a fish pays to become pregnant */
	EOUT_PLANT_DEATH,   /* energy left in a plant that withers */
	EOUT_MIGRATION,	    /* fish taken out of the tank (exits, take) */
	EOUT_OVERFLOW,	    /* gains above a maximum (poker wins of a full fish) */
	ENERGY_FLOW_COUNT
};
#define ENERGY_FLOW_FIRST_OUT EOUT_METABOLISM

const char *energy_flow_name(enum energy_flow f);
const char *death_cause_name(enum death_cause c);
const char *life_stage_name(enum life_stage s);
const char *wall_name(enum wall w);
/* The wall a fish enters through after leaving another tank through w. */
enum wall wall_opposite(enum wall w);

struct tank_params {
	uint64_t seed;
	int width, height;    /* 200..100000 each */
	int max_fish;	      /* births, spawns and arrivals are refused at or above it */
	int initial_fish;     /* spawned by tank_new */
	int initial_food;     /* flakes spread over the tank by tank_new */
	int initial_plants;   /* full-grown plants on random root spots */
	int root_spots;	      /* plant spots spread along the bottom */
	int crabs;	      /* predators walking the bottom */
	double food_rate;     /* automatic food supply, in units of the original's 1088x612 tank */
	bool emergency_spawn; /* spawn fish when the population collapses */
	int spawn_floor;      /* ... below this many fish only (0..1000000; default 10) */
	int history_interval; /* frames between history samples (1..1000000; default 300) */
	int history_size;     /* samples kept (0..100000; default 10000; 0: no history) */
	int lineage_depth;    /* ancestors kept per living fish (0..1000; default 10) */
};

/* The original's tank: 1088x612, max 100 fish, 10 initial fish, 8 food, 3 plants on 25 root
 * spots, 1 crab, food rate 1. */
struct tank_params tank_params_default(uint64_t seed);
/* Resize the world and scale everything that depends on its size: food supply, initial
 * food by area; root spots, plants and crabs by width. A 10x wider and 10x taller world
 * behaves like 100 default tanks side by side (the fish share one ocean). */
void tank_params_scale_world(struct tank_params *p, int width, int height);
/* True when p's world gets the original's food supply (it is no larger than the
 * original's: food.c) yet may hold more than twice the original's density at capacity
 * (100 fish per 1088x612 px): such a tank cannot feed its max_fish, and most of its fish
 * starve. *width and *height are then a world at that density for max_fish (within
 * 100,000 px), whose food grows with it. */
bool tank_params_underfed(const struct tank_params *p, int *width, int *height);
/* 0 if every field is in range, else -EINVAL and why in e (may be NULL). */
int tank_params_check(const struct tank_params *p, struct json_err *e);

struct tank_stats {
	uint64_t frame;
	int fish_count, food_count, plant_count, crab_count;
	int in_transit; /* the tank's own fish away in transit (tank_set_in_transit) */
	/* Generations count as the original's: a fish's mother's + 1 (0 for a spawned fish). */
	int generation;		 /* the highest generation among living fish (0 if none) */
	double generation_mean;	 /* the mean generation of living fish */
	int max_generation;	 /* the highest generation ever seen in this tank */
	int generation_deepest;	 /* max over living fish of max(mother, father) + 1 */
	int gene_bank_size;	 /* genomes the emergency spawn draws from */
	uint64_t spawns_banked;	 /* emergency spawns drawn from the gene bank (part of spawns) */
	uint64_t births;	 /* fish born here (not spawned, not arrived) */
	uint64_t births_refused; /* pregnancies ended because the tank was full */
	uint64_t spawns;	 /* initial and emergency-spawned fish */
	uint64_t deaths;
	uint64_t deaths_by_cause[DEATH_CAUSE_COUNT];
	uint64_t migrations_in, migrations_out; /* fish */
	uint64_t plant_migrations_in, plant_migrations_out;
	int plants_in_transit; /* the tank's own plants away (tank_set_plants_in_transit) */
	uint64_t poker_games, plant_poker_games, plants_sprouted;
	uint64_t poker_hands;	   /* poker_games + plant_poker_games */
	double poker_energy_moved; /* energy lost by the losers of every hand */
	uint64_t poker_births;	   /* births from post-poker mating (part of births) */
	double total_energy;	   /* fish + plants + food + crabs */
	double fish_energy, plant_energy, food_energy, crab_energy;
	double energy_flow[ENERGY_FLOW_COUNT]; /* cumulative since the tank was created */
	double day_time;		       /* 0..1: 0.25 dawn, 0.5 noon, 0.75 dusk */
	double activity;		       /* 0.5 at midnight .. 1.0 at noon */
};

/* tank_id is the identity of the tank (a UUID string in simd; 1-64 characters of
 * [A-Za-z0-9._:>-]); fish ids are derived from it, so two tanks never mint the same fish id.
 * Returns NULL (errno EINVAL) on bad parameters. */
struct tank *tank_new(const struct tank_params *p, const char *tank_id);
void tank_free(struct tank *t);
/* A deep copy that serializes (tank_to_json, tank_state_hash) exactly like t: cheap
 * enough to take under the tank's lock and encode later without it. */
struct tank *tank_clone(const struct tank *t);
/* Room for a copy, made without the tank's lock. On the 2-core VM a fresh 4 kB page costs
 * about 14 us to fault in: tank_clone of a 20,000-fish tank into new memory held the lock
 * 110-200 ms, nearly all of it faults, where the same copy into memory already touched
 * takes about 4 ms. So a copier sizes the room under the lock (a few reads), makes it
 * without the lock (every page written), and copies into it under the lock again. The
 * room has a margin for what a few ticks may add; an array that outgrew it anyway is
 * allocated as without room. */
struct sim_room {
	void *p;
	size_t cap; /* items */
};
/* Room for n items and the margin (sim_room_make allocates it). */
void sim_room_size(struct sim_room *r, size_t n);
void sim_room_make(struct sim_room *r, size_t elem);
/* Memory for n items: the room's if it holds them, else a new zeroed array for n (at
 * least one); its capacity in *cap. The room is emptied either way (memory it could not
 * use is freed). */
void *sim_room_take(struct sim_room *r, size_t n, size_t elem, size_t *cap);
void sim_room_free(struct sim_room *r);

/* What a copier takes: the whole tank (tank_clone_in: a snapshot), what GET /state
 * shows (entities_copy_in), what GET /lineage shows (lineage_pick_take), what GET
 * /poker/strategies shows (tank_poker_strategies_take) or what GET /history shows
 * (tank_history_take). */
enum tank_copy {
	TANK_COPY_WHOLE,
	TANK_COPY_ENTITIES,
	TANK_COPY_LINEAGE,
	TANK_COPY_STRATEGIES,
	TANK_COPY_HISTORY
};
#define TANK_COPY_KINDS 5
struct tank_room {
	struct sim_room fish, food, lin, hist, events; /* TANK_COPY_WHOLE; hist for HISTORY too */
	struct sim_room rows;			       /* TANK_COPY_ENTITIES */
	struct sim_room picks, living;		       /* TANK_COPY_LINEAGE */
	struct sim_room strats;			       /* TANK_COPY_STRATEGIES */
	/* What the answer asks for, set by the caller before tank_room_size, which keeps
	 * them. TANK_COPY_LINEAGE: limit, the most records shown (0 for an ancestor query,
	 * which needs no room). TANK_COPY_HISTORY: the samples after frame since, at most
	 * limit of them. */
	uint64_t since;
	size_t limit;
};
void tank_room_size(const struct tank *t, enum tank_copy what, struct tank_room *r);
void tank_room_make(struct tank_room *r);
/* Whether the sized room needs nothing made (a copy small enough to allocate as it goes). */
bool tank_room_empty(const struct tank_room *r);
/* tank_clone, into the room's arrays where they are large enough; the room is emptied. */
struct tank *tank_clone_in(const struct tank *t, struct tank_room *r);
void tank_room_free(struct tank_room *r);

/* One frame. */
void tank_step(struct tank *t);
/* Run the per-fish part of each frame on n threads (1: the caller's only; at most 16).
 * The state after any frame is the same for every n: determinism does not depend on it.
 * The threads belong to the tank (tank_free ends them). */
void tank_set_threads(struct tank *t, int n);

void tank_get_stats(const struct tank *t, struct tank_stats *ret);
const struct tank_params *tank_get_params(const struct tank *t);
const char *tank_get_id(const struct tank *t);
uint64_t tank_frame(const struct tank *t);
size_t tank_fish_count(const struct tank *t);
/* The i-th fish (0 <= i < tank_fish_count), borrowed, valid until the next call that
 * changes the tank (a step, a put, a take). The order is the simulation order. */
const struct fish *tank_fish_at(const struct tank *t, size_t i);
const struct fish *tank_find_fish(const struct tank *t, const char *fish_id);

/* Migration. tank_take_fish, tank_take_exited and exits in tank_step bump
 * migrations_out and book the fish's energy as EOUT_MIGRATION; tank_put_fish bumps
 * migrations_in and books EIN_MIGRATION. tank_return_fish_at undoes a departure (an aborted
 * transfer): it reinserts the fish where it was and decrements migrations_out, so an
 * aborted transfer leaves no trace in the counters. No birth or death is ever recorded
 * for a migration. */
int tank_take_fish(struct tank *t, const char *fish_id, struct fish **ret);
/* A fish chosen with the tank's own RNG (deterministic), or NULL if the tank is empty. */
const char *tank_pick_fish(struct tank *t);
/* A fish not among except, drawn from rng (not the tank's: the tank's course does not
 * depend on it), or NULL if every fish is listed. */
const char *tank_pick_fish_except(const struct tank *t, struct rng *rng, const char *const *except,
				  size_t n_except);
/* -ENOSPC at or above max_fish, -EEXIST if the id is already here (or waits in the exit
 * queue). On success the tank owns f and f must not be used again: the tank keeps its
 * fish by value, so it copies f into its array and frees it. On failure the caller still
 * owns f. arrival is the wall of THIS tank the fish comes through (it is placed 35 px
 * inside it, facing inwards, y kept): pass wall_opposite() of the wall it left by.
 * WALL_NONE keeps x,y (clamped to this tank). */
int tank_put_fish(struct tank *t, struct fish *f, enum wall arrival);
/* tank_put_fish without the capacity check, for an arrival replayed from the journal: it
 * was accepted then, and replay cannot see every slot that limited it (transit), so it is
 * admitted and counted as the arrival it was (migrations_in), never as a return. */
int tank_readmit_fish(struct tank *t, struct fish *f, enum wall arrival);
/* Like tank_put_fish but for a fish coming back from an aborted transfer: no capacity
 * check (its slot stayed reserved: see tank_set_in_transit), and the departure is undone
 * in the counters. Same ownership rules. -EEXIST if the id is here. A fish that left
 * through wall `left_by` comes back just inside it, heading away from it, so it does not
 * leave again on the next frame; WALL_NONE keeps x,y. */
int tank_return_fish_at(struct tank *t, struct fish *f, enum wall left_by);
/* Capacity (max_fish) counts the fish in the tank, newborns and exited fish waiting, and
 * the tank's own fish in transit elsewhere, whose slots stay reserved until the transfer
 * ends. The core cannot see transit (simd's outbox), so simd keeps this count: it is not
 * serialized. Births, spawns and arrivals are refused when it would pass max_fish. */
void tank_set_in_transit(struct tank *t, size_t n);
size_t tank_in_transit(const struct tank *t);
/* Room for one more fish by any way in (births, spawns, arrivals, local moves). */
bool tank_has_room(const struct tank *t);
/* A fish that reaches a wall with an exit leaves the simulation and waits in a queue;
 * walls without an exit bounce. */
void tank_set_exit(struct tank *t, enum wall w, bool open);
bool tank_get_exit(const struct tank *t, enum wall w);
/* Moves up to max exited fish (oldest first) to out[] (the caller owns them) and the wall
 * each left through to walls[] (may be NULL). Returns how many. */
size_t tank_take_exited(struct tank *t, struct fish **out, enum wall *walls, size_t max);
size_t tank_exited_count(const struct tank *t);
/* The serial counter fish ids are minted from (serial.c). simd records it with departures,
 * so that a tank rewound to an older snapshot never mints an id it already gave out:
 * tank_raise_fish_serial only ever moves it forwards. */
uint64_t tank_fish_serial(const struct tank *t);
void tank_raise_fish_serial(struct tank *t, uint64_t serial);

/* Plants that migrate (plant_move.c), with the same exactly-once protocol as fish. A
 * migrating plant is its saved JSON plus "kind":"plant": id, genome, energy, age and
 * generation travel; its serial and root spot are the tank's, so the receiver gives it a
 * fresh serial and a free root spot (the carried one, or the nearest free one). Plants
 * never leave through walls. Departures and arrivals book the energy as EOUT_MIGRATION
 * and EIN_MIGRATION and count in plant_migrations_out/in; no death or sprout is recorded.
 *
 * A plant away keeps a root spot free in its own tank (simd keeps the count, as for
 * fish: tank_set_plants_in_transit), so an aborted plant always finds a spot to come
 * back to: sprouts and arrivals use only the spots beyond those held. */
size_t tank_live_plant_count(const struct tank *t);
/* A live plant chosen with the tank's own RNG (deterministic), or NULL if none. */
const char *tank_pick_plant(struct tank *t);
bool tank_has_plant(const struct tank *t, const char *plant_id);
/* The live plant's JSON as it would migrate, or NULL. */
json_object *tank_plant_json(const struct tank *t, const char *plant_id);
/* -ENOENT if no live plant has that id. *ret: the plant's JSON (the caller's). */
int tank_take_plant(struct tank *t, const char *plant_id, json_object **ret);
/* Validates a migrating plant's JSON (every field, and no key beyond the plant's own):
 * -EINVAL with e->msg. */
int plant_entity_check(json_object *o, struct json_err *e);
/* An arrival: -EINVAL (bad plant), -EEXIST (a plant with its id is here), -ENOSPC (no
 * free root spot beyond those held). readmit: an arrival replayed from the journal,
 * which was accepted then: it may use a held spot. */
int tank_put_plant(struct tank *t, json_object *o, bool readmit, struct json_err *e);
/* An aborted departure undone: back to its own root spot, or the nearest free one; the
 * departure is taken back in the counters. -EEXIST if it is here; -ENOSPC only when a
 * replay that diverged filled every spot (the caller then decides). */
int tank_return_plant(struct tank *t, json_object *o, struct json_err *e);
/* Free root spots beyond those held for plants in transit: room for an arrival. */
int tank_free_root_spots(const struct tank *t);
void tank_set_plants_in_transit(struct tank *t, size_t n);
size_t tank_plants_in_transit(const struct tank *t);
/* "fish" or "plant" for a migrating entity's JSON (its "kind"); "fish" when absent. */
bool entity_is_plant(json_object *o);

/* Viewer controls (controls.c). Drop count (1-100) flakes of random kinds near x at
 * the surface, booked as food spawn; returns how many fitted under the food cap, or
 * -EINVAL. Add a random generation-0 fish at x,y (clamped into the tank): -ENOSPC when
 * full, -EINVAL for a point outside; *ret_id (may be NULL) points at its id, valid until
 * the tank changes. */
int tank_drop_food(struct tank *t, double x, int count);
int tank_add_random_fish(struct tank *t, double x, double y, const char **ret_id);

/* Serialization (json-c). The tank JSON holds everything, so that a tank restored from it
 * continues bit-identically. */
json_object *tank_to_json(const struct tank *t);
/* tank_to_json without the "fish" array (a snapshot writes the fish with fish_text). */
json_object *tank_to_json_without_fish(const struct tank *t);
int tank_from_json(json_object *o, struct tank **ret, struct json_err *e);
/* The same for a tank JSON without its "fish" array, whose fish the caller decoded
 * already (fish_from_json, possibly on several threads): they are adopted in order and
 * owned by the tank; on failure they are freed. The result equals tank_from_json's. */
int tank_from_json_with_fish(json_object *o, struct fish **fish, size_t n, struct tank **ret,
			     struct json_err *e);
/* 64-bit FNV-1a over the canonical tank JSON: equal hashes mean equal states. */
uint64_t tank_state_hash(const struct tank *t);
/* [{"kind","id","x","y","vx","vy","size","energy",...}] for every entity (viewers). */
json_object *tank_entities_json(const struct tank *t);
/* The same in two steps (entities.c): a copy of what it shows, quick to take under the
 * tank's lock, and its JSON, built from the copy alone (on any thread). */
struct entities;
struct entities *entities_copy(const struct tank *t);
/* The same into room sized (TANK_COPY_ENTITIES) and made as for tank_clone_in. */
struct entities *entities_copy_in(const struct tank *t, struct tank_room *r);
json_object *entities_json(const struct entities *e);
uint64_t entities_frame(const struct entities *e); /* the tank's frame when copied */
void entities_free(struct entities *e);

/* Poker. The last hands (newest first, at most limit and at most 1,000):
 * {"hands":[{"frame","players":[{"fish_id","kind","hole","folded","stack_before","won",
 * "net"}],"board","actions":[{"fish_id","street","action","amount","all_in"}],"pot",
 * "big_blind","house_cut","winners","showdown","winning_hand"}]}. The history is not part
 * of the saved state: a restored tank starts with none. */
json_object *tank_poker_hands_json(const struct tank *t, size_t limit);
/* The same in two steps, so that a reader holds the tank only for a copy: the newest
 * limit hands (malloc'd; never NULL), then their JSON (any thread), then free. */
struct poker_history;
struct poker_history *tank_poker_history(const struct tank *t, size_t limit);
/* The same, only hands where player_id (a fish or a plant) sat. */
struct poker_history *tank_poker_history_of(const struct tank *t, size_t limit,
					    const char *player_id);
json_object *poker_history_json(const struct poker_history *h);
void poker_history_free(struct poker_history *h);
/* {"strategies":[{"strategy","fish_count","fish","hands_played","hands_won","net_energy",
 * "energy_per_hand"}],"poker_hands","poker_energy_moved"}. */
json_object *tank_poker_strategies_json(const struct tank *t);
/* The same in two steps, as lineage_pick_take: the fish ids and the books are copied
 * under the lock into room sized for TANK_COPY_STRATEGIES (the room is emptied), and
 * poker_strategies_json builds the answer without the tank and frees the copy. */
struct strategies_pick;
struct strategies_pick *tank_poker_strategies_take(const struct tank *t, struct tank_room *r);
json_object *poker_strategies_json(struct strategies_pick *p);

/* The standard series: the top fish by poker record (at most top of them), copied out of
 * the tank (hold its lock for this call only), then each plays `hands` heads-up hands
 * against three baselines (always_call, tight_aggressive, random) from its own RNG seeded
 * with seed; the tank is never touched. The answer: {"hands_per_match","seed","big_blind",
 * "stack","players":[{"fish_id","strategy","tank_wins","tank_losses","against":[{"baseline",
 * "hands","won","lost","win_rate","win_rate_ci95":[lo,hi],"energy_per_hand",
 * "energy_per_hand_ci95":[lo,hi]}]}]}. */
struct poker_series;
struct poker_series *tank_poker_series(const struct tank *t, int top);
json_object *poker_series_run(const struct poker_series *s, int hands, uint64_t seed);
void poker_series_free(struct poker_series *s);

/* History: every history_interval frames the tank records one sample, a row of numbers
 * whose columns are named by sim_history_column() ("frame", "population", "births",
 * "deaths_starvation", "speed_modifier_mean", "algo_<name>", "strategy_<name>",
 * "flow_<name>", ...): see docs/history.md. Counts and flows are changes since the
 * previous sample; the rest are values at the sample. */
size_t sim_history_column_count(void);
const char *sim_history_column(size_t i);
struct sim_history {
	size_t n;     /* rows */
	double *rows; /* n x sim_history_column_count(), oldest first */
};
/* A copy of at most limit samples with frame > since, oldest first (hold the tank's lock
 * for this call only). Never NULL. */
struct sim_history *tank_history(const struct tank *t, uint64_t since, size_t limit);
/* The same into room sized for TANK_COPY_HISTORY (since and limit are the room's) and
 * made without the lock; the room is emptied. */
struct sim_history *tank_history_take(const struct tank *t, struct tank_room *r);
void sim_history_free(struct sim_history *h);
/* The newest sample into row (sim_history_column_count() values); false if none yet. */
bool tank_history_latest(const struct tank *t, double *row);

/* Events: births (with parents and a genome summary), deaths (with cause), spawns and
 * migrations in, out and back, in a ring of the last 4,096 with rising sequence numbers
 * (part of the saved state). */
enum sim_event_type {
	SIM_EV_BIRTH,
	SIM_EV_SPAWN,
	SIM_EV_DEATH,
	SIM_EV_MIGRATION_IN,
	SIM_EV_MIGRATION_OUT,
	SIM_EV_MIGRATION_RETURNED, /* an aborted departure undone */
	SIM_EV_TYPE_COUNT
};
const char *sim_event_type_name(int type);
/* {"events":[{"seq","frame","type","fish_id",...}],"next_seq","oldest_seq"}: the events
 * with seq > since, oldest first, at most limit. */
json_object *tank_events_json(const struct tank *t, uint64_t since, size_t limit);
/* The same in two steps, as lineage_pick_take: the ring is copied under the tank's lock
 * into a copy made without it (events_copy_new), and events_copy_json builds the answer
 * without the tank and frees the copy. */
struct events_copy;
struct events_copy *events_copy_new(void);
void tank_events_take(const struct tank *t, struct events_copy *c);
json_object *events_copy_json(struct events_copy *c, uint64_t since, size_t limit);

/* Lineage (lineage.c): a record per fish born, spawned or arrived here, {fish_id,
 * mother_id, father_id, generation, born_frame, born_at, born_tank_id, born_server_id,
 * algorithm, poker_strategy, died_frame, cause}, kept for the living fish and their
 * ancestors up to lineage_depth generations (pruned every 300 frames), part of the saved
 * state. A fish that leaves carries its own birth data in its JSON ("lineage").
 *
 * Where the tank lives, for the records of fish born here: this server's id and the
 * tank's creation time (unix seconds), from which born_at = created_at + born_frame / 30
 * (the core has no clock; this keeps replay exact). Not serialized: call it after every
 * tank_new and tank_from_json, before the first step. */
void tank_set_origin(struct tank *t, const char *server_id, double created_at);
size_t tank_lineage_count(const struct tank *t);
/* fish_id NULL: {"records":[...],"total"}, the first limit records in order of birth.
 * Else {"fish_id","depth","records":[F's record, its parents', ... each with "depth"],
 * "missing":[{"fish_id","child_id","depth","child_born_tank_id","child_born_server_id"}]}
 * (parents not recorded here), or NULL if F has no record here. Records add "living". */
json_object *tank_lineage_json(const struct tank *t, const char *fish_id, int depth, size_t limit);
/* The same in two steps, so that a big answer (up to 100,000 records, a second of
 * json-c's work) is not built under the tank's lock: lineage_pick_take copies what the
 * answer shows (the records it names, the parents not recorded, and the living fish's
 * ids, which tell after whether each record's fish lives; an ancestor query's few
 * records are looked up at once) into room sized with .limit = limit
 * (TANK_COPY_LINEAGE) and made without the lock (the room is emptied);
 * lineage_pick_json builds the answer from the copy without the tank and frees it.
 * NULL, as above, when fish_id has no record. */
struct lineage_pick;
struct lineage_pick *lineage_pick_take(const struct tank *t, const char *fish_id, int depth,
				       size_t limit, struct tank_room *r);
json_object *lineage_pick_json(struct lineage_pick *p);

/* Fish. */
void fish_free(struct fish *f);
struct fish *fish_clone(const struct fish *f);
const char *fish_id(const struct fish *f);
const char *fish_mother_id(const struct fish *f); /* NULL for a spawned fish */
const char *fish_father_id(const struct fish *f);
int fish_generation(const struct fish *f);	   /* mother's + 1, 0 if spawned */
int fish_generation_deepest(const struct fish *f); /* max(mother's, father's) + 1 */
double fish_energy(const struct fish *f);
double fish_max_energy(const struct fish *f);
int fish_age(const struct fish *f);
int fish_max_age(const struct fish *f);
enum life_stage fish_stage(const struct fish *f);
double fish_x(const struct fish *f);
double fish_y(const struct fish *f);
double fish_size(const struct fish *f);
double fish_speed(const struct fish *f); /* effective: base speed x speed_modifier */
bool fish_is_pregnant(const struct fish *f);
const char *fish_behavior_name(const struct fish *f);
const char *fish_poker_strategy_name(const struct fish *f);
/* A genome trait by its JSON name ("speed_modifier", ...); NaN if unknown. */
double fish_trait(const struct fish *f, const char *name);

/* The full fish, the same JSON migration carries: {"kind":"fish","id",...}. */
json_object *fish_to_json(const struct fish *f);
/* Validates every field (types, ranges, names, array lengths); unknown keys are ignored.
 * -EINVAL with e->msg on bad input. */
int fish_from_json(json_object *o, struct fish **ret, struct json_err *e);
/* Text built by hand (the viewer's frames, snapshot lines): p grows as needed. */
struct sim_text {
	char *p;
	size_t len, cap;
};
void sim_text_need(struct sim_text *b, size_t more); /* room for more bytes after len */
void sim_text_free(struct sim_text *b);
/* n bytes of s after len (no NUL): inline, as the text writers call it for every key. */
static inline void sim_text_add(struct sim_text *b, const char *s, size_t n)
{
	sim_text_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}
/* The same fish as JSON text, byte for byte what fish_to_json prints (jv_to_string),
 * appended to b (and NUL-terminated) without building a json-c tree: what snapshots
 * write (fish_text.c). */
void fish_text_write(struct sim_text *b, const struct fish *f);

/* Names of the behaviour algorithms and poker strategies (for docs and tests). */
size_t sim_behavior_count(void);
const char *sim_behavior_name(size_t i);
const char *sim_behavior_family(size_t i);
size_t sim_poker_strategy_count(void);
const char *sim_poker_strategy_name(size_t i);

#endif
