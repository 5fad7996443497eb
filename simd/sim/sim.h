/* The tankworld simulation core: evolving fish in a tank, deterministic and complete.
 *
 * No I/O, no threads, no clocks: a tank is a pure function of its parameters, its id and
 * the calls made on it. The caller (simd) serialises access to one tank (one lock per tank).
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

#include "jsonv.h"

#define SIM_FPS 30
#define SIM_DAY_FRAMES 1800
#define SIM_ID_LEN 37 /* a UUID string and its NUL */
#define SIM_TANK_ID_MAX 64

struct tank;
struct fish;

enum wall { WALL_NONE = -1, WALL_LEFT = 0, WALL_RIGHT = 1 };

enum life_stage { STAGE_BABY, STAGE_JUVENILE, STAGE_ADULT, STAGE_ELDER };

enum death_cause { DEATH_STARVATION, DEATH_PREDATION, DEATH_OLD_AGE, DEATH_CAUSE_COUNT };

/* Every way energy enters or leaves a tank. The invariant the tests check:
 * total_energy == sum(inflows) - sum(outflows), to floating-point rounding, at every
 * frame boundary. Moves inside the tank (eating, poker, births, nectar) are not flows. */
enum energy_flow {
	EIN_FOOD_SPAWN,     /* automatic and initial food */
	EIN_PHOTOSYNTHESIS, /* plant growth */
	EIN_FISH_SPAWN,     /* initial and emergency-spawned fish */
	EIN_PLANT_SPAWN,    /* initial plants */
	EIN_CRAB_SPAWN,     /* initial crabs */
	EIN_MIGRATION,      /* fish put into the tank */
	EOUT_METABOLISM,    /* fish existence, metabolism, swimming and turning */
	EOUT_CRAB_METABOLISM,
	EOUT_HOUSE_CUT,    /* destroyed by the poker house cut */
	EOUT_FOOD_DECAY,   /* flakes reaching the bottom, crumbs left after a bite */
	EOUT_PREDATION,    /* what a crab kill destroys beyond the crab's own gain */
	EOUT_DEATH_REMAINS, /* energy left in fish that die of old age */
	EOUT_MATING_COST,  /* the fee a fish pays to become pregnant */
	EOUT_PLANT_DEATH,  /* energy left in a plant that withers */
	EOUT_MIGRATION,    /* fish taken out of the tank (exits, take) */
	EOUT_OVERFLOW,     /* gains above a maximum (poker wins of a full fish) */
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
	int width, height;   /* 200..100000 each */
	int max_fish;        /* births, spawns and arrivals are refused at or above it */
	int initial_fish;    /* spawned by tank_new */
	int initial_food;    /* flakes spread over the tank by tank_new */
	int initial_plants;  /* full-grown plants on random root spots */
	int root_spots;      /* plant spots spread along the bottom */
	int crabs;           /* predators walking the bottom */
	double food_rate;    /* automatic food supply, in units of the original's 1088x612 tank */
	bool emergency_spawn; /* spawn random fish when the population collapses */
};

/* The original's tank: 1088x612, max 100 fish, 10 initial fish, 8 food, 3 plants on 25 root
 * spots, 1 crab, food rate 1. */
struct tank_params tank_params_default(uint64_t seed);
/* Resize the world and scale everything that depends on its size: food supply, initial
 * food by area; root spots, plants and crabs by width. A 10x wider and 10x taller world
 * behaves like 100 default tanks side by side (the fish share one ocean). */
void tank_params_scale_world(struct tank_params *p, int width, int height);
/* 0 if every field is in range, else -EINVAL. */
int tank_params_check(const struct tank_params *p);

struct tank_stats {
	uint64_t frame;
	int fish_count, food_count, plant_count, crab_count;
	int generation;        /* the highest generation among living fish (0 if none) */
	double generation_mean; /* the mean generation of living fish */
	int max_generation;    /* the highest generation ever seen in this tank */
	uint64_t births;       /* fish born here (not spawned, not arrived) */
	uint64_t births_refused; /* pregnancies ended because the tank was full */
	uint64_t spawns;       /* initial and emergency-spawned fish */
	uint64_t deaths;
	uint64_t deaths_by_cause[DEATH_CAUSE_COUNT];
	uint64_t migrations_in, migrations_out;
	uint64_t poker_games, plant_poker_games, plants_sprouted;
	double total_energy; /* fish + plants + food + crabs */
	double fish_energy, plant_energy, food_energy, crab_energy;
	double energy_flow[ENERGY_FLOW_COUNT]; /* cumulative since the tank was created */
	double day_time;     /* 0..1: 0.25 dawn, 0.5 noon, 0.75 dusk */
	double activity;     /* 0.5 at midnight .. 1.0 at noon */
};

/* tank_id is the identity of the tank (a UUID string in simd; 1-64 characters of
 * [A-Za-z0-9._:>-]); fish ids are derived from it, so two tanks never mint the same fish id.
 * Returns NULL (errno EINVAL) on bad parameters. */
struct tank *tank_new(const struct tank_params *p, const char *tank_id);
void tank_free(struct tank *t);

/* One frame. */
void tank_step(struct tank *t);

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
 * migrations_in and books EIN_MIGRATION. tank_return_fish undoes a departure (an aborted
 * transfer): it reinserts the fish where it was and decrements migrations_out, so an
 * aborted transfer leaves no trace in the counters. No birth or death is ever recorded
 * for a migration. */
int tank_take_fish(struct tank *t, const char *fish_id, struct fish **ret);
/* A fish chosen with the tank's own RNG (deterministic), or NULL if the tank is empty. */
const char *tank_pick_fish(struct tank *t);
/* -ENOSPC at or above max_fish, -EEXIST if the id is already here (or waits in the exit
 * queue). On success the tank owns f and f must not be used again: the tank keeps its
 * fish by value, so it copies f into its array and frees it. On failure the caller still
 * owns f. arrival is the wall of THIS tank the fish comes through (it is placed 35 px
 * inside it, facing inwards, y kept): pass wall_opposite() of the wall it left by.
 * WALL_NONE keeps x,y (clamped to this tank). */
int tank_put_fish(struct tank *t, struct fish *f, enum wall arrival);
/* Like tank_put_fish(WALL_NONE) but for a fish coming back from an aborted transfer: no
 * capacity check (it has nowhere else to be), and the departure is undone in the counters.
 * Same ownership rules. -EEXIST if the id is here. */
int tank_return_fish(struct tank *t, struct fish *f);
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

/* Serialization (json-c). The tank JSON holds everything, so that a tank restored from it
 * continues bit-identically. */
json_object *tank_to_json(const struct tank *t);
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

/* Fish. */
void fish_free(struct fish *f);
struct fish *fish_clone(const struct fish *f);
const char *fish_id(const struct fish *f);
const char *fish_mother_id(const struct fish *f); /* NULL for a spawned fish */
const char *fish_father_id(const struct fish *f);
int fish_generation(const struct fish *f);
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

/* Names of the behaviour algorithms and poker strategies (for docs and tests). */
size_t sim_behavior_count(void);
const char *sim_behavior_name(size_t i);
const char *sim_behavior_family(size_t i);
size_t sim_poker_strategy_count(void);
const char *sim_poker_strategy_name(size_t i);

#endif
