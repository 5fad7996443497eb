/* simd's journal records: every kind, written by the live operations and replayed at
 * start-up into a fresh simd, gives back the same tanks, outbox and inbox, and the
 * re-simulation matches every checkpoint (fish that bounced off a wall included); a
 * journal of every kind (tests/unit/data/journal-all-kinds/) still replays to the state
 * it was written from, and today's records keep its format; so does one written before
 * the viewer's controls and wall budgets were journaled (journal-before-inputs/); one
 * written under other simulation rules replays and reports its divergence
 * (journal-rules-1/, journal-rules-2/); an unknown op is refused by name.
 *
 * JREC_FIXTURE_OUT=DIR writes the fixture anew into DIR (only when its format changes
 * on purpose, with a note in docs/simd-state.md). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonv.h"
#include "simd/jrec.h"
#include "lines.h"
#include "simd/records.h"
#include "simd/replay.h"
#include "tap.h"

static struct daemon daemon_;

static void simd_init(struct simd *sd, const char *jdir)
{
	memset(sd, 0, sizeof *sd);
	sd->daemon = &daemon_;
	TAILQ_INIT(&sd->tanks);
	TAILQ_INIT(&sd->gate_all_sets);
	TAILQ_INIT(&sd->outbox);
	TAILQ_INIT(&sd->inbox);
	pthread_mutex_init(&sd->xfer_lock, NULL);
	pthread_mutex_init(&sd->list_lock, NULL);
	pthread_mutex_init(&sd->build_lock, NULL);
	rng_seed_kernel(&sd->pick_rng);
	sd->journal = journal_open(jdir, daemon_.base);
}

static void simd_done(struct simd *sd)
{
	sd->journal = journal_close(sd->journal);
	struct tank_slot *s;
	while ((s = TAILQ_FIRST(&sd->tanks)))
		tanks_remove(sd, s);
	xfer_free_all(sd);
}

/* Start-up's replay, as store_recover runs it over a journal with no snapshots. */
static int replay(struct simd *sd, struct json_err *e)
{
	struct journal_expect x = {0};
	int r = journal_replay(sd->journal, &x, jrec_replay, sd, e);
	if (r == 0)
		replay_finish(sd);
	return r;
}

static int by_first_string(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	return strcmp(json_object_get_string(json_object_array_get_idx(x, 0)),
		      json_object_get_string(json_object_array_get_idx(y, 0)));
}

/* What replay must reproduce: every tank's frame, pause, exits and fish (id, and with
 * "places" where it is and its energy, and the tank's walls), the outbox and the inbox.
 * The fixture is held to the ids alone: a change to the simulation moves the fish, not
 * the records, and its state.json predates the walls. */
static json_object *state_of(struct simd *sd, bool places)
{
	json_object *o = json_object_new_object(), *tanks = json_object_new_array();
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		json_object *t = json_object_new_object(), *fish = json_object_new_array();
		json_object_object_add(t, "tank_id", json_object_new_string(s->meta.id));
		json_object_object_add(t, "frame", json_object_new_uint64(tank_frame(s->sim)));
		json_object_object_add(t, "paused", json_object_new_boolean(s->paused));
		json_object_object_add(t, "exits", xfer_exits_json(s));
		if (places) {
			/* The walls as the tank has them: a gate record opens or closes them
			 * without changing the budgets above. */
			json_object *walls = json_object_new_array();
			json_object_array_add(walls, json_object_new_boolean(
							     tank_get_exit(s->sim, WALL_LEFT)));
			json_object_array_add(walls, json_object_new_boolean(
							     tank_get_exit(s->sim, WALL_RIGHT)));
			json_object_object_add(t, "walls", walls);
		}
		for (size_t i = 0; i < tank_fish_count(s->sim); i++) {
			const struct fish *f = tank_fish_at(s->sim, i);
			json_object *a = json_object_new_array();
			json_object_array_add(a, json_object_new_string(fish_id(f)));
			if (places) {
				json_object_array_add(a, json_object_new_double(fish_x(f)));
				json_object_array_add(a, json_object_new_double(fish_y(f)));
				json_object_array_add(a, json_object_new_double(fish_energy(f)));
			}
			json_object_array_add(fish, a);
		}
		json_object_array_sort(fish, by_first_string);
		json_object_object_add(t, "fish", fish);
		json_object_array_add(tanks, t);
	}
	json_object_object_add(o, "tanks", tanks);
	uint64_t seq;
	json_object *x = xfer_state_json(sd, &seq);
	json_object_object_del(x, "seq");
	json_object_object_add(o, "transfers", x);
	return o;
}

static char *state_text(struct simd *sd, bool places)
{
	json_object *o = state_of(sd, places);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static bool any_diverged(struct simd *sd)
{
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (s->replay_diverged)
			return true;
	return false;
}

/* A record's shape: its keys in order, and their types, all the way down, except in
 * what the simulation core writes (the fish, the tank parameters). */
static void shape(json_object *o, FILE *f)
{
	switch (json_object_get_type(o)) {
	case json_type_object:
		fputc('{', f);
		json_object_object_foreach (o, k, v) {
			fprintf(f, "%s:", k);
			if (strcmp(k, "fish") == 0 || strcmp(k, "entity_data") == 0 ||
			    strcmp(k, "params") == 0)
				fputs(json_type_to_name(json_object_get_type(v)), f);
			else
				shape(v, f);
			fputc(',', f);
		}
		fputc('}', f);
		break;
	case json_type_array:
		fputc('[', f);
		for (size_t i = 0; i < json_object_array_length(o); i++)
			shape(json_object_array_get_idx(o, i), f);
		fputc(']', f);
		break;
	default:
		fputs(json_type_to_name(json_object_get_type(o)), f);
	}
}

struct shapes {
	char *text;
	size_t len;
	FILE *f;
	char ops[400];
};

static int collect_shape(void *arg, uint64_t seq, json_object *rec, struct json_err *e)
{
	struct shapes *s = arg;
	json_object *op;
	if (json_object_object_get_ex(rec, "op", &op)) {
		size_t n = strlen(s->ops);
		snprintf(s->ops + n, sizeof s->ops - n, "%s%s", n ? " " : "",
			 json_object_get_string(op));
	}
	shape(rec, s->f);
	fputc('\n', s->f);
	return 0;
}

static void shapes_of(const char *jdir, struct shapes *s)
{
	memset(s, 0, sizeof *s);
	s->f = open_memstream(&s->text, &s->len);
	struct journal *j = journal_open(jdir, NULL);
	struct journal_expect x = {0};
	struct json_err e;
	if (journal_replay(j, &x, collect_shape, s, &e) < 0)
		printf("# %s\n", e.msg);
	journal_close(j);
	fclose(s->f);
}

static struct tank_slot *new_tank(struct simd *sd, const char *id, uint64_t seed)
{
	struct tank_meta m = {.is_public = true, .allow_transfers = true, .created_at = 1.7e9};
	snprintf(m.id, sizeof m.id, "%s", id);
	snprintf(m.name, sizeof m.name, "tank %s", id);
	struct tank_params p = tank_params_default(seed);
	tank_params_scale_world(&p, 400, 300);
	p.max_fish = 500;
	p.initial_fish = 12;
	struct tank_slot *slot = NULL;
	if (xfer_tank_create(sd, &m, &p, false, &slot, NULL, NULL) < 0)
		return NULL;
	return slot;
}

static void steps(struct tank_slot *s, int n)
{
	for (int i = 0; i < n; i++)
		tank_step(s->sim);
}

/* One live operation of every kind, each journaled. Returns the ops in journal order. */
static const char *write_every_kind(struct simd *sd)
{
	struct tank_slot *a = new_tank(sd, "tank-a", 11), *b = new_tank(sd, "tank-b", 12);
	steps(a, 5);
	steps(b, 3);
	xfer_tank_pause(sd, "tank-b", true, NULL, NULL);
	xfer_tank_pause(sd, "tank-b", false, NULL, NULL);
	struct exit_dest out = {
		.open = true, .server_id = "srv-x", .tank_id = "tank-x", .connection_id = "conn-1"};
	struct exit_dest shut = {0};
	int budgets[2] = {-1, -1};
	xfer_set_exits(sd, "tank-a", &out, &shut, budgets, NULL, NULL);
	steps(a, 2);

	json_object *r1 = NULL, *r2 = NULL, *o = NULL;
	struct reserve_req rq = {.source_tank = "tank-a",
				 .dest_server = "srv-y",
				 .dest_tank = "tank-y",
				 .connection_id = "conn-2"};
	xfer_reserve(sd, &rq, &r1, NULL, NULL); /* picked with the tank's RNG */
	steps(a, 1);
	char pick[UUID_STR_LEN];
	snprintf(pick, sizeof pick, "%s", fish_id(tank_fish_at(a->sim, 0)));
	rq.pick.fish_id = pick;
	xfer_reserve(sd, &rq, &r2, NULL, NULL);
	const char *t1 = json_object_get_string(json_object_object_get(r1, "transfer_id"));
	const char *t2 = json_object_get_string(json_object_object_get(r2, "transfer_id"));
	xfer_resolve(sd, t1, true, &o, NULL, NULL);
	json_object_put(o);
	steps(a, 1);
	xfer_resolve(sd, t2, false, &o, NULL, NULL);
	json_object_put(o);

	/* A fish from elsewhere, through b's left wall, twice (the second is a duplicate). */
	json_object *fish = fish_to_json(tank_fish_at(a->sim, 1));
	json_object_object_add(fish, "id",
			       json_object_new_string("7e57f150-0000-4000-8000-000000000001"));
	struct arrive_req ar = {.transfer_id = "7e57f150-0000-4000-8000-00000000000a",
				.dest_tank = "tank-b",
				.source_server = "srv-z",
				.source_tank = "tank-z",
				.arrival = WALL_LEFT,
				.fish = fish};
	struct json_err e;
	steps(b, 2);
	xfer_arrive(sd, &ar, &o, NULL, NULL, &e);
	json_object_put(o);
	xfer_arrive(sd, &ar, &o, NULL, NULL, &e);
	json_object_put(o);
	json_object_put(fish);
	xfer_inbox_forget(sd, ar.transfer_id, NULL, NULL);

	steps(b, 1);
	struct fish_choice any = {0};
	xfer_move(sd, "tank-a", "tank-b", &any, &o, NULL, NULL);
	json_object_put(o);

	/* Step a until a fish swims out through its open wall, and journal its exit; the
	 * wall's rate (one fish per 1000 s) then bounces the next ones back in, unjournaled,
	 * as the tick does. migrated has just listed the outbox: the walls' lease holds. */
	exitgate_renew(sd);
	for (int i = 0; i < 20000 && tank_exited_count(a->sim) == 0; i++)
		tank_step(a->sim);
	xfer_collect_exits(sd, a);
	for (int i = 0; i < 50000 && sd->exits_bounced < 2; i++) {
		tank_step(a->sim);
		if (tank_exited_count(a->sim) > 0)
			xfer_collect_exits(sd, a);
	}
	ok(sd->exits_bounced >= 2, "fish bounced off the wall (%zu)", (size_t)sd->exits_bounced);
	/* The viewer's controls, and migrated closing the wall with a budget of 0. */
	struct tank_stats st;
	json_object *added = NULL;
	controls_drop_food(sd, a, 100, 7, &st);
	steps(a, 1);
	ok(controls_add_fish(sd, a, 50, 60, &added) == 0, "a fish added by hand");
	json_object_put(added);
	budgets[0] = 0;
	xfer_set_exits(sd, "tank-a", &out, &shut, budgets, NULL, NULL);
	steps(a, 4);
	store_mark(sd, a);

	struct tank_slot *c = new_tank(sd, "tank-c", 13);
	if (c)
		xfer_tank_delete(sd, "tank-c", NULL, NULL);
	json_object_put(r1);
	json_object_put(r2);
	return "create create pause resume exits reserve reserve commit abort arrive noop forget "
	       "move exit food add_fish gate mark create delete";
}

/* A scenario run live against a journal in dir/name, then replayed by a fresh simd:
 * the same tanks and fish in the same places, with no divergence. The scenario leaves a
 * mark (store_mark) for the frame replay must reach. */
/* before_replay (or NULL) may rewrite the journal first, as an older simd wrote it. */
static void live_then_replay(const char *dir, const char *name, void (*scenario)(struct simd *sd),
			     void (*before_replay)(const char *jdir))
{
	char *path = fs_path_join(dir, name);
	struct simd live, again;
	struct json_err e;
	simd_init(&live, path);
	ok(replay(&live, &e) == 0, "%s: an empty journal replays", name);
	scenario(&live);
	char *live_state = state_text(&live, true);
	simd_done(&live);
	if (before_replay)
		before_replay(path);
	simd_init(&again, path);
	e.msg[0] = '\0';
	ok(replay(&again, &e) == 0, "%s: the journal replays%s%s", name, e.msg[0] ? ": " : "",
	   e.msg);
	char *replayed = state_text(&again, true);
	is_str(replayed, live_state, "%s: to the same tanks and fish, in the same places", name);
	ok(!any_diverged(&again), "%s: the re-simulation matched every frame", name);
	simd_done(&again);
	free(replayed);
	free(live_state);
	free(path);
}

/* A reservation or a move told which fish not to take ("except") takes another, drawn
 * with simd's RNG: journaled by id, it replays without a draw from the tank's RNG, so the
 * replayed tank goes on exactly as the live one. */
static void except_scenario(struct simd *sd)
{
	struct tank_slot *a = new_tank(sd, "tank-a", 21);
	new_tank(sd, "tank-b", 22);
	steps(a, 3);
	bool all_other = true;
	json_object *o = NULL;
	for (int i = 0; i < 8; i++) {
		/* Every fish but one listed: the one left is the only answer. */
		size_t n = tank_fish_count(a->sim);
		const char **except = calloc(n, sizeof *except);
		for (size_t k = 0; k + 1 < n; k++)
			except[k] = fish_id(tank_fish_at(a->sim, (k + (size_t)i) % n));
		char want[UUID_STR_LEN];
		snprintf(want, sizeof want, "%s",
			 fish_id(tank_fish_at(a->sim, (n - 1 + (size_t)i) % n)));
		struct fish_choice pick = {.except = except, .n_except = n - 1};
		if (i % 2) {
			struct reserve_req rq = {.source_tank = "tank-a",
						 .dest_server = "srv-y",
						 .dest_tank = "tank-y",
						 .pick = pick};
			xfer_reserve(sd, &rq, &o, NULL, NULL);
		} else {
			xfer_move(sd, "tank-a", "tank-b", &pick, &o, NULL, NULL);
		}
		const char *got = json_object_get_string(json_object_object_get(o, "fish_id"));
		all_other &= got && strcmp(got, want) == 0;
		json_object_put(o);
		free(except);
		steps(a, 1);
	}
	ok(all_other, "except: each took the one fish not listed");
	const char *none[] = {fish_id(tank_fish_at(a->sim, 0))};
	struct fish_choice pick = {.except = none, .n_except = 1};
	o = NULL;
	is_int(xfer_move(sd, "tank-a", "tank-b", &pick, &o, NULL, NULL), 0,
	       "except: a move with one fish listed");
	json_object_put(o);
	/* A draw from the tank's RNG after them: replay draws the same fish only if the
	 * picks above left that RNG alone. */
	struct fish_choice any = {0};
	for (int i = 0; i < 4; i++) {
		o = NULL;
		xfer_move(sd, "tank-a", "tank-b", &any, &o, NULL, NULL);
		json_object_put(o);
	}
	steps(a, 20);
	store_mark(sd, a); /* the frame replay must reach */
}

/* A fish that left through a wall and is sent back (an abort) comes back just inside
 * that wall, live and in replay alike: replay used to put it where it was, at the wall,
 * and a kill -9 after such an abort left simd unable to start (its checkpoint diverged;
 * found by an adversarial probe). */
/* Steps as the tick does: the fish at a wall are let out or bounced after each frame. */
static void ticks(struct simd *sd, struct tank_slot *s, int n)
{
	for (int i = 0; i < n; i++) {
		tank_step(s->sim);
		if (tank_exited_count(s->sim) > 0)
			xfer_collect_exits(sd, s);
	}
}

static void exit_abort_scenario(struct simd *sd)
{
	struct tank_slot *a = new_tank(sd, "tank-a", 31);
	struct exit_dest out = {
		.open = true, .server_id = "srv-x", .tank_id = "tank-x", .connection_id = "conn-1"};
	int budgets[2] = {-1, -1};
	xfer_set_exits(sd, "tank-a", &out, &out, budgets, NULL, NULL);
	exitgate_renew(sd); /* as migrated's listing does */
	for (int i = 0; i < 20000 && sd->outbox_count == 0; i++)
		ticks(sd, a, 1);
	ok(sd->outbox_count == 1, "exit-abort: a fish swam out through a wall");
	char tid[UUID_STR_LEN] = "";
	if (TAILQ_FIRST(&sd->outbox))
		snprintf(tid, sizeof tid, "%s", TAILQ_FIRST(&sd->outbox)->transfer_id);
	ticks(sd, a, 3);
	json_object *o = NULL;
	is_int(xfer_resolve(sd, tid, false, &o, NULL, NULL), 0, "exit-abort: sent back");
	json_object_put(o);
	ticks(sd, a, 30);
	store_mark(sd, a);
}

/* Every record of op in the journal files of jdir without key, framed anew: the journal
 * an older simd wrote, before that field existed (nor segment headers, batch markers and
 * padding; strtok stops at the padding's first NUL). */
static void journal_without(const char *jdir, const char *op, const char *key)
{
	uint64_t *segs;
	struct journal *j = journal_open(jdir, daemon_.base);
	size_t n = journal_segments(j, &segs);
	journal_close(j);
	for (size_t i = 0; i < n; i++) {
		char name[64], *path, *text;
		size_t len;
		snprintf(name, sizeof name, "%020llu.log", (unsigned long long)segs[i]);
		path = fs_path_join(jdir, name);
		if (fs_read_file(path, 1 << 24, &text, &len) < 0) {
			ok(0, "read %s", path);
			free(path);
			continue;
		}
		FILE *out = fopen(path, "w");
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			const char *json = strchr(strchr(line, ' ') + 1, ' ') + 1;
			json_object *o = json_tokener_parse(json);
			/* An older simd's segment: no header, no padding, no batch markers. */
			if (json_object_object_get_ex(o, "journal_segment", NULL) ||
			    !json_object_object_get_ex(o, "seq", NULL)) {
				json_object_put(o);
				continue;
			}
			const char *have = jv_member_str(o, "op");
			if (have && strcmp(have, op) == 0)
				json_object_object_del(o, key);
			const char *s = jv_to_string(o);
			size_t flen;
			char *framed = line_frame(s, strlen(s), &flen);
			fwrite(framed, 1, flen, out);
			free(framed);
			json_object_put(o);
		}
		fclose(out);
		free(text);
		free(path);
	}
	free(segs);
}

/* A wall exit aborted, journaled by a simd from before aborts named the wall: the fish
 * goes back inside the wall it left by, as the live abort put it, and the replay matches
 * (it diverged, and a simd of the same rules refused to start after an upgrade). */
static void aborts_without_wall(const char *jdir)
{
	journal_without(jdir, "abort", "exit_wall");
}

static char *read_text(const char *path)
{
	char *text = NULL;
	size_t len;
	if (fs_read_file(path, 1 << 24, &text, &len) < 0)
		return NULL;
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	return text;
}

/* The fixture's journal files into dir: a missing one is a failed check that says which,
 * not an exit without a word (a clone once lost one to the .gitignore's *.log). */
static void copy_fixture(const char *fixture, const char *dir)
{
	char *cmd;
	int rc = -1;
	if (asprintf(&cmd, "mkdir -p '%s' && cp '%s'/*.log '%s'/", dir, fixture, dir) >= 0) {
		rc = system(cmd);
		free(cmd);
	}
	ok(rc == 0, "the fixture's journal files are there (%s/*.log)", fixture);
}

/* The journal in tests/unit/data/<name>, written by an earlier simd, replays to the
 * state it was written from (the fixture's state.json). */
static void replays_to_its_state(const char *srcdir, const char *dir, const char *name,
				 const char *what)
{
	char *fixture = fs_path_join(srcdir, "tests/unit/data"),
	     *from = fs_path_join(fixture, name);
	char *to = fs_path_join(dir, name), *p = fs_path_join(from, "state.json");
	copy_fixture(from, to);
	char *want = read_text(p);
	struct simd old;
	struct json_err e;
	simd_init(&old, to);
	ok(want && replay(&old, &e) == 0, "%s replays", what);
	char *got = state_text(&old, false);
	is_str(got, want, "to the state it was written from");
	simd_done(&old);
	free(got);
	free(want);
	free(p);
	free(to);
	free(from);
	free(fixture);
}

int main(void)
{
	char dir[4096];
	if (!tap_tmpdir(dir, sizeof dir, "test-simd-records"))
		return 1;
	conf_defaults(&daemon_.conf);
	/* One fish through a wall, then the wall's rate bounces the others. */
	daemon_.conf.migration.max_per_second = 1e6;
	daemon_.conf.migration.per_connection_per_second = 0.001;
	daemon_.base = event_base_new();
	const char *fixture_out = getenv("JREC_FIXTURE_OUT");
	char *live_dir = fs_path_join(dir, "live");

	/* Live: one of every kind, then a fresh simd replays them. */
	struct simd live, again;
	struct json_err e;
	simd_init(&live, live_dir);
	ok(replay(&live, &e) == 0, "an empty journal replays");
	const char *want_ops = write_every_kind(&live);
	char *live_state = state_text(&live, true), *live_ids = state_text(&live, false);
	simd_done(&live);
	struct shapes now;
	shapes_of(live_dir, &now);
	is_str(now.ops, want_ops, "the live operations journal one record of every kind");

	simd_init(&again, live_dir);
	e.msg[0] = '\0';
	ok(replay(&again, &e) == 0, "the journal of every kind replays%s%s", e.msg[0] ? ": " : "",
	   e.msg);
	char *replayed = state_text(&again, true);
	is_str(replayed, live_state, "to the same tanks, fish, outbox and inbox");
	ok(!any_diverged(&again), "the re-simulation matched every frame and checkpoint");
	is_int(again.n_tanks, 2, "two tanks: the third was created and deleted");
	is_int(again.outbox_count, 1, "one fish in the outbox: the exit");
	is_int(again.inbox_count, 0, "the inbox entry was forgotten");
	free(replayed);

	json_object *rec = json_object_new_object();
	json_object_object_add(rec, "op", json_object_new_string("frobnicate"));
	int r = jrec_replay(&again, 99, rec, &e);
	ok(r == -EINVAL, "an unknown op is refused");
	is_str(e.msg, "unknown journal operation 'frobnicate'", "by name");
	json_object_put(rec);
	rec = json_object_new_object();
	r = jrec_replay(&again, 99, rec, &e);
	ok(r == -EINVAL && strstr(e.msg, "'op'"), "a record without an op is refused: %s", e.msg);
	json_object_put(rec);
	simd_done(&again);

	live_then_replay(dir, "except", except_scenario, NULL);
	live_then_replay(dir, "exit-abort", exit_abort_scenario, NULL);
	live_then_replay(dir, "exit-abort-without-wall", exit_abort_scenario, aborts_without_wall);

	if (fixture_out) {
		/* Keep the journal and the state it replays to. */
		struct shapes s;
		shapes_of(live_dir, &s);
		char *cmd;
		if (asprintf(&cmd, "mkdir -p '%s' && cp '%s'/*.log '%s'/", fixture_out, live_dir,
			     fixture_out) < 0 ||
		    system(cmd) != 0)
			return 1;
		free(cmd);
		char *p = fs_path_join(fixture_out, "state.json");
		FILE *f = fopen(p, "w");
		fprintf(f, "%s\n", live_ids);
		fclose(f);
		free(p);
		p = fs_path_join(fixture_out, "shapes.txt");
		f = fopen(p, "w");
		fwrite(s.text, 1, s.len, f);
		fclose(f);
		free(p);
		free(s.text);
	}

	/* The journal an earlier simd wrote replays to the state it was written from, and
	 * today's records have its shape. */
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char *fixture = fs_path_join(srcdir, "tests/unit/data/journal-all-kinds");
	char *old_dir = fs_path_join(dir, "old");
	char *cmd;
	copy_fixture(fixture, old_dir);
	char *p = fs_path_join(fixture, "state.json");
	char *old_state = read_text(p);
	free(p);
	p = fs_path_join(fixture, "shapes.txt");
	char *old_shapes = read_text(p);
	free(p);
	ok(old_state && old_shapes, "the fixture is there (%s)", fixture);
	struct shapes then;
	shapes_of(old_dir, &then);
	is_str(then.ops, want_ops, "the fixture holds one record of every kind");
	while (now.len && now.text[now.len - 1] == '\n')
		now.text[--now.len] = '\0';
	is_str(now.text, old_shapes, "today's records have the fixture's keys, in its order");
	free(old_state);
	free(fixture);
	free(old_dir);
	replays_to_its_state(srcdir, dir, "journal-all-kinds", "the fixture's journal");
	/* Before food, added fish and gates were journaled: it replays, without them. */
	replays_to_its_state(srcdir, dir, "journal-before-inputs",
			     "the journal from before inputs were journaled");

	/* The same kinds written under simulation rules 1 (before sim_rules was written) and
	 * 2 (the fixture of every kind until rules 4): today's rules cannot re-simulate them
	 * exactly, so each replays and says so. */
	for (int rules = 1; rules <= 2; rules++) {
		char name[64];
		snprintf(name, sizeof name, "tests/unit/data/journal-rules-%d", rules);
		fixture = fs_path_join(srcdir, name);
		snprintf(name, sizeof name, "rules-%d", rules);
		old_dir = fs_path_join(dir, name);
		copy_fixture(fixture, old_dir);
		struct simd old;
		simd_init(&old, old_dir);
		e.msg[0] = '\0';
		ok(replay(&old, &e) == 0, "a journal written under rules %d replays%s%s", rules,
		   e.msg[0] ? ": " : "", e.msg);
		ok(any_diverged(&old), "and its divergence is reported, not fatal");
		is_int(old.n_tanks, 2, "with its two tanks");
		simd_done(&old);
		free(fixture);
		free(old_dir);
	}

	free(old_shapes);
	free(now.text);
	free(then.text);
	free(live_state);
	free(live_ids);
	free(live_dir);
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && system(cmd) == 0)
		free(cmd);
	event_base_free(daemon_.base);
	return tap_done();
}
