/* Snapshots and recovery. Each tank has state_dir/sim/tanks/<id>/snapshot.json (its
 * metadata, exits and the complete simulation, plus the journal number it contains);
 * the outbox and inbox live in state_dir/sim/transfers.json. A snapshot round writes
 * them all from a thread of its own, each only after the journal is durable up to the
 * number it contains, then drops the journal segments every snapshot covers.
 *
 * Start-up loads the snapshots and replays the journal over them. A damaged snapshot
 * or journal stops the daemon with a message: it never guesses. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "jrec.h"
#include "lines.h"
#include "log.h"
#include "manifest.h"
#include "records.h"
#include "replay.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

#define MARK_INTERVAL 0.5 /* seconds of wall time between frame marks of a running tank */
/* Early snapshot rounds start at least this many times the last round's CPU time apart. */
#define SNAPSHOT_CPU_SPACING 2

static char *tank_dir(struct simd *sd, const char *id)
{
	return fs_path_join(sd->tanks_dir, id);
}

int store_remove_tank_dir(struct simd *sd, const char *tank_id)
{
	char *dir = tank_dir(sd, tank_id);
	char *snap = fs_path_join(dir, "snapshot.json");
	unlink(snap);
	int r = rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
	free(snap);
	free(dir);
	/* The deletion is journaled already (a replay removes the directory again), but a
	 * failed fsync says the disk is failing: stop, as the journal does. */
	fs_fsync_dir_or_die(sd->tanks_dir);
	return r;
}

/* A tank snapshot is JSON lines: a header object (version 2, seq, meta, exits, the
 * tank without its fish, fish_count), then one fish per line. Lines let start-up parse
 * the fish on several threads; parsing one 20 MB document was most of a restart.
 * Under the tank's lock only a copy of the tank is taken (tank_clone_in, a few memcpys
 * into memory made ready without the lock): the tick, and a change from the loop, wait
 * that long, not for the encoding nor for the pages of the copy. */
static void snapshot_tank(struct simd *sd, struct tank_slot *slot)
{
	struct tank_room room = {0};
	struct timespec held;
	tanks_lock_for_copy(slot, TANK_COPY_WHOLE, &room, &held);
	json_object *o = json_object_new_object();
	/* Every record of a tank is numbered and applied under its lock (jrec_put's
	 * callers), so with the lock held the copy holds every one of them up to the
	 * journal's newest. The tank's own newest record (applied_seq) was taken before: a
	 * quiet tank (paused, say) then held the journal at its last record, and the
	 * journal was never trimmed while simd ran (an adversarial probe: 34 MB an hour). */
	uint64_t seq = journal_last_seq(sd->journal);
	struct tank *copy = tank_clone_in(slot->sim, &room);
	json_object_object_add(o, "version", json_object_new_int(2));
	json_object_object_add(o, "seq", json_object_new_uint64(seq));
	/* Whose tank: a folder copied from another server's state was loaded, and its fish
	 * lived on both (a durability audit). */
	json_object_object_add(o, "server_id",
			       json_object_new_string(sd->daemon->conf.server.server_id));
	json_object_object_add(o, "meta", tank_meta_state_json(&slot->meta, slot->paused));
	json_object_object_add(o, "exits", xfer_exits_json(slot));
	/* Not part of the simulation's state, but its capacity depends on it: replay starts
	 * from it. Its presence also says every input since is journaled (replay_strict). */
	json_object_object_add(o, "in_transit", json_object_new_uint64(tank_in_transit(slot->sim)));
	json_object_object_add(o, "plants_in_transit",
			       json_object_new_uint64(tank_plants_in_transit(slot->sim)));
	json_object_object_add(o, "sim_rules", json_object_new_int(SIM_RULES));
	slot->resim_cost = 0; /* a restart re-simulates from here on */
	tanks_copy_held(sd, TANK_COPY_WHOLE, &held);
	pthread_mutex_unlock(&slot->lock);
	tank_room_free(&room);
	/* The fish, nearly all of the text, go straight from the structs to their lines:
	 * building, printing and freeing a json-c tree of them took seconds. */
	json_object *tank = tank_to_json_without_fish(copy);
	size_t n = tank_fish_count(copy);
	json_object_object_add(o, "fish_count", json_object_new_uint64(n));
	json_object_object_add(o, "tank", tank);

	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);
	if (!f)
		abort();
	const char *h = jv_to_string(o);
	line_put(f, h, strlen(h));
	struct sim_text ft = {0};
	for (size_t i = 0; i < n; i++) {
		ft.len = 0;
		fish_text_write(&ft, tank_fish_at(copy, i));
		line_put(f, ft.p, ft.len);
	}
	sim_text_free(&ft);
	tank_free(copy);
	if (fclose(f) != 0)
		abort();
	char *dir = tank_dir(sd, slot->meta.id);
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", dir, strerror(-r));
	char *path = fs_path_join(dir, "snapshot.json");
	/* The snapshot must not get ahead of the journal it claims to contain. */
	journal_wait_durable(sd->journal, seq);
	fs_write_atomic_or_die(path, text, text_len);
	free(text);
	json_object_put(o);
	free(path);
	free(dir);
	pthread_mutex_lock(&slot->lock);
	slot->snap_seq = seq;
	pthread_mutex_unlock(&slot->lock);
}

static void snapshot_transfers(struct simd *sd)
{
	uint64_t seq;
	json_object *o = xfer_state_json(sd, &seq);
	const char *json = jv_to_string(o);
	size_t len;
	char *text = line_frame(json, strlen(json), &len);
	journal_wait_durable(sd->journal, seq);
	fs_write_atomic_or_die(sd->meta_path, text, len);
	free(text);
	json_object_put(o);
	pthread_mutex_lock(&sd->xfer_lock);
	sd->xfer_snap_seq = seq;
	pthread_mutex_unlock(&sd->xfer_lock);
}

/* A tank's folder is named by its id. Anything else in tanks/ (an operator's backup, a
 * note) is neither loaded nor removed: a stray file stopped the start, and a stray
 * folder was deleted as a deleted tank's. */
static bool is_tank_dir(const char *tanks_dir, const struct dirent *de)
{
	if (!uuid_str_valid(de->d_name))
		return false;
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", tanks_dir, de->d_name);
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Tank folders whose tank is gone (deleted, or a crash between the journaled deletion
 * and the removal) go before the journal that records the deletion can be dropped. */
static void remove_orphan_dirs(struct simd *sd)
{
	DIR *d = opendir(sd->tanks_dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!is_tank_dir(sd->tanks_dir, de) || tanks_find(sd, de->d_name))
			continue;
		log_info("removing the folder of deleted tank %s", de->d_name);
		store_remove_tank_dir(sd, de->d_name);
	}
	if (d)
		closedir(d);
}

/* After every snapshot is on disk: a new journal segment, then the manifest naming
 * what the state now consists of, and only then the removal of what it no longer
 * needs (old segments, folders of deleted tanks). A crash anywhere in between leaves a
 * manifest whose every file still exists.
 *
 * The tank list lock is not held while snapshots wait for a tank's lock or the disk,
 * because the event loop takes it to add and remove tanks; a tank deleted meanwhile
 * stays allocated until the round lets go of it (tanks_hold). It is held from listing
 * the manifest's tanks to removing orphan folders, so that the manifest never names a
 * folder the same round removes; snap_seq is read without the tank's lock, since only
 * this thread writes it once simd runs. */
static void snapshot_round(struct simd *sd)
{
	double t0 = now_mono();
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	pthread_mutex_lock(&sd->list_lock);
	/* A tank created after the list below is taken has its create record after this
	 * one, and no snapshot in this round. */
	uint64_t before = journal_last_seq(sd->journal);
	size_t n = 0, cap = sd->n_tanks;
	struct tank_slot **held = xcalloc(cap ? cap : 1, sizeof *held);
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (n < cap) {
			s->hold++; /* tanks_hold, under the list lock already held */
			held[n++] = s;
		}
	pthread_mutex_unlock(&sd->list_lock);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&sd->list_lock);
		bool removed = held[i]->removed;
		pthread_mutex_unlock(&sd->list_lock);
		if (!removed)
			snapshot_tank(sd, held[i]);
	}
	snapshot_transfers(sd);
	uint64_t upto = sd->xfer_snap_seq;
	struct manifest m = {.transfers_seq = sd->xfer_snap_seq};
	pthread_mutex_lock(&sd->list_lock);
	m.tanks = xcalloc(sd->n_tanks + 1, sizeof *m.tanks);
	TAILQ_FOREACH (s, &sd->tanks, link) {
		uint64_t seq = s->snap_seq;
		/* Created after the list was taken (every tank on it now has a snapshot of
		 * `before` or newer): no snapshot yet, so the journal is kept from its
		 * creation, and the manifest does not list it, as start-up would look for
		 * its folder. It was listed with snapshot_seq 0, and the manifest then said
		 * the journal was kept from record 1, whose segments earlier rounds had
		 * removed: after a kill -9 simd refused to start (a crash-timing audit). */
		if (seq < before) {
			if (before < upto)
				upto = before;
			continue;
		}
		if (seq < upto)
			upto = seq;
		snprintf(m.tanks[m.n_tanks].id, sizeof m.tanks[0].id, "%s", s->meta.id);
		m.tanks[m.n_tanks++].seq = seq;
	}
	/* A new segment, with a header, as every later one: the manifest says so. */
	m.padded_from = journal_roll(sd->journal);
	m.journal_from = upto + 1;
	uint64_t *segs;
	size_t nseg = journal_segments(sd->journal, &segs);
	/* The segments holding records from journal_from on: the last one starting at or
	 * before it, and every later one. */
	size_t first = 0;
	for (size_t i = 0; i < nseg; i++)
		if (segs[i] <= m.journal_from)
			first = i;
	m.segments = segs + first;
	m.n_segments = nseg - first;
	snprintf(m.server_id, sizeof m.server_id, "%s", sd->daemon->conf.server.server_id);
	manifest_write_or_die(sd->manifest_path, &m);
	free(segs);
	free(m.tanks);
	remove_orphan_dirs(sd);
	for (size_t i = 0; i < n; i++)
		tanks_release_locked(held[i]);
	pthread_mutex_unlock(&sd->list_lock);
	free(held);
	journal_drop_upto(sd->journal, upto);
	sd->snapshot_last_seconds = now_mono() - t0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	sd->snapshot_last_cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	sd->snapshots_written++;
}

static void *snapshot_main(void *arg)
{
	struct simd *sd = arg;
	snapshot_round(sd);
	__atomic_store_n(&sd->snapshot_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start a round unless one is under way (the loop never waits for a round: one still
 * running, a tank's long tick or a slow disk, makes this one be skipped). */
static void start_round(struct simd *sd)
{
	if (sd->snapshot_running) {
		if (pthread_tryjoin_np(sd->snapshot_thread, NULL) != 0)
			return; /* under way: it is the round asked for, or the next one will be */
		sd->snapshot_running = false;
	}
	sd->snapshot_started = now_mono();
	if (pthread_create(&sd->snapshot_thread, NULL, snapshot_main, sd) != 0)
		fatal("cannot start the snapshot thread");
	sd->snapshot_running = true;
}

static void on_snapshot_timer(evutil_socket_t fd, short what, void *arg)
{
	start_round(arg);
}

/* A tank's re-simulation cost passed the budget. Early rounds are spaced by the CPU
 * the last one cost, so that snapshotting takes at most half of one core. Not by
 * its wall time: on a loaded machine a round waits for a core as long as it runs, and
 * spacing by that let the re-simulation a restart needs grow with the load. */
static void on_snapshot_now(evutil_socket_t fd, short what, void *arg)
{
	struct simd *sd = arg;
	double gap = SNAPSHOT_CPU_SPACING * sd->snapshot_last_cpu;
	if (now_mono() - sd->snapshot_started < (gap > 1.0 ? gap : 1.0))
		return; /* the tank asks again at a later mark */
	start_round(sd);
}

void store_mark(struct simd *sd, struct tank_slot *slot)
{
	double now = now_mono();
	uint64_t frame = tank_frame(slot->sim);
	if (now - slot->last_mark_mono < MARK_INTERVAL || frame == slot->last_mark_frame)
		return;
	slot->last_mark_mono = now;
	slot->last_mark_frame = frame;
	struct jrec jr = {.slot = slot};
	slot->applied_seq = jrec_put(sd, JREC_MARK, &jr, NULL, NULL);
	/* Bound the re-simulation a restart would need: snapshot early when it grows. */
	if (slot->resim_cost > sd->daemon->conf.sim.replay_budget &&
	    now - slot->snapshot_asked >= 1.0) {
		slot->snapshot_asked = now;
		store_snapshot_soon(sd);
	}
}

void store_snapshot_soon(struct simd *sd)
{
	if (sd->snapshot_now)
		event_active(sd->snapshot_now, EV_READ, 0);
}

void store_schedule(struct simd *sd)
{
	if (!sd->snapshot_now)
		sd->snapshot_now = event_new(sd->daemon->base, -1, 0, on_snapshot_now, sd);
	if (!sd->snapshot_timer)
		sd->snapshot_timer = event_new(sd->daemon->base, -1, EV_PERSIST, on_snapshot_timer,
					       sd);
	timer_every(sd->snapshot_timer, &sd->snapshot_period,
		    sd->daemon->conf.sim.snapshot_interval);
}

void store_snapshot_all_sync(struct simd *sd)
{
	if (sd->snapshot_timer) {
		event_free(sd->snapshot_timer);
		sd->snapshot_timer = NULL;
	}
	if (sd->snapshot_now) {
		event_free(sd->snapshot_now);
		sd->snapshot_now = NULL;
	}
	if (sd->snapshot_running) {
		pthread_join(sd->snapshot_thread, NULL);
		sd->snapshot_running = false;
	}
	snapshot_round(sd);
}

/* Freeing a big parsed snapshot takes nearly as long as parsing it; nothing needs to
 * wait for it, so a thread does it while simd gets on with starting. */
static void *free_tree_main(void *arg)
{
	json_object_put(arg);
#ifndef __SANITIZE_ADDRESS__
	/* Give the freed pages back. Not under ASan: its allocator replaces glibc's, whose
	 * arenas are then never set up, and malloc_trim walking them from this thread
	 * crashed a sanitizer run (SEGV in mtrim). */
	malloc_trim(0);
#endif
	return NULL;
}

static void free_tree_later(json_object *o)
{
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, free_tree_main, o) != 0)
		json_object_put(o);
	pthread_attr_destroy(&attr);
}

struct fish_lines {
	char **line;
	struct fish **out;
	size_t from, to;
	size_t bad; /* index of the first line that did not parse, or (size_t)-1 */
	bool legacy_ok;
	struct json_err e;
};

/* The JSON inside one snapshot line, or NULL with the reason in e. */
static const char *snapshot_line(char *line, bool legacy_ok, size_t *json_len, struct json_err *e)
{
	const char *json;
	char why[200];
	enum line_kind k = line_check(line, strlen(line), &json, json_len, why, sizeof why);
	if (k == LINE_LEGACY && !legacy_ok) {
		jv_fail(e, "it has no checksum, and only state from before checksums (no "
			   "manifest.json) may lack one");
		return NULL;
	}
	if (k == LINE_BAD) {
		jv_fail(e, "%s", why);
		return NULL;
	}
	return json;
}

static void *parse_fish_lines(void *arg)
{
	struct fish_lines *w = arg;
	w->bad = (size_t)-1;
	/* Parse, decode and free on this thread: all three cost about the same. */
	for (size_t i = w->from; i < w->to; i++) {
		size_t json_len;
		const char *json = snapshot_line(w->line[i], w->legacy_ok, &json_len, &w->e);
		json_object *o = json ? jv_parse_object_nul(json, json_len, 64, &w->e) : NULL;
		if (!o || fish_from_json(o, &w->out[i], &w->e) < 0) {
			json_object_put(o);
			w->bad = i;
			break;
		}
		json_object_put(o);
	}
	return NULL;
}

/* The text cut into its lines (NUL-terminated in place); NULL when it is not whole
 * lines or holds a NUL. */
static char **split_lines(char *text, size_t len, size_t *ret_n, struct json_err *e)
{
	if (len == 0 || text[len - 1] != '\n') {
		jv_fail(e, "the last line is cut short");
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		jv_fail(e, "byte %zu is a NUL", (size_t)((char *)memchr(text, '\0', len) - text));
		return NULL;
	}
	size_t nlines = 0;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	char **line = xmalloc(nlines * sizeof *line);
	size_t k = 0;
	for (char *p = text; k < nlines; k++) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		line[k] = p;
		p = nl + 1;
	}
	*ret_n = nlines;
	return line;
}

/* The n fish lines decoded into out[] on up to four threads. The header was parsed on
 * this thread first, so json-c's hash seed is set before the workers create objects of
 * their own. Returns the index of the first bad line, or (size_t)-1. */
static size_t decode_fish_lines(char **line, size_t n, struct fish **out, bool legacy_ok,
				struct json_err *e)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = cpus > 4 ? 4 : cpus < 1 ? 1 : (size_t)cpus;
	if (n < 1000)
		nthreads = 1;
	struct fish_lines w[4];
	pthread_t th[4];
	for (size_t t = 0; t < nthreads; t++) {
		w[t] = (struct fish_lines){.line = line,
					   .out = out,
					   .from = n * t / nthreads,
					   .to = n * (t + 1) / nthreads,
					   .legacy_ok = legacy_ok};
		if (t > 0 && pthread_create(&th[t], NULL, parse_fish_lines, &w[t]) != 0)
			abort();
	}
	parse_fish_lines(&w[0]);
	for (size_t t = 1; t < nthreads; t++)
		pthread_join(th[t], NULL);
	for (size_t t = 0; t < nthreads; t++)
		if (w[t].bad != (size_t)-1) {
			jv_fail(e, "fish line %zu: %s", w[t].bad + 2, w[t].e.msg);
			return w[t].bad;
		}
	return (size_t)-1;
}

/* Parse a version-2 snapshot (see snapshot_tank): the header, then the fish lines
 * decoded on up to four threads; the tank is built from both. NULL with a message in e
 * when anything is off, including a missing or extra line. */
static json_object *parse_snapshot(char *text, size_t len, bool legacy_ok, struct tank **ret_tank,
				   struct json_err *e)
{
	size_t nlines;
	char **line = split_lines(text, len, &nlines, e);
	if (!line)
		return NULL;
	size_t hlen;
	const char *hjson = snapshot_line(line[0], legacy_ok, &hlen, e);
	json_object *o = hjson ? jv_parse_object_nul(hjson, hlen, 64, e) : NULL, *tank;
	int version;
	int64_t count;
	if (!o || jv_int(o, "version", true, 2, 2, &version, e) < 0 ||
	    jv_int64(o, "fish_count", true, 0, 10000000, &count, e) < 0 ||
	    jv_object(o, "tank", true, &tank, e) < 0) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%s", e->msg);
		jv_fail(e, "line 1 (the header): %s", m);
		json_object_put(o);
		free(line);
		return NULL;
	}
	if ((size_t)count != nlines - 1) {
		jv_fail(e, "the header announces %lld fish but %zu fish lines follow",
			(long long)count, nlines - 1);
		json_object_put(o);
		free(line);
		return NULL;
	}
	size_t n = nlines - 1;
	struct fish **out = xcalloc(n ? n : 1, sizeof *out);
	size_t bad = decode_fish_lines(line + 1, n, out, legacy_ok, e);
	free(line);
	if (bad == (size_t)-1 && tank_from_json_with_fish(tank, out, n, ret_tank, e) < 0) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%s", e->msg);
		jv_fail(e, "line 1 (the header), field 'tank': %s", m);
		bad = 0;
	}
	for (size_t i = 0; i < n; i++) /* left over only on failure */
		fish_free(out[i]);
	free(out);
	if (bad != (size_t)-1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Load one tank's snapshot; false when the folder has none, or (*ret_seq set) when its
 * snapshot is older than min_seq. */
static bool load_tank(struct simd *sd, const char *id, bool legacy_ok, uint64_t min_seq,
		      uint64_t *ret_seq)
{
	char *dir = tank_dir(sd, id);
	char *path = fs_path_join(dir, "snapshot.json");
	char *text;
	size_t len;
	int rr = fs_read_file(path, (size_t)1 << 34, &text, &len);
	if (rr == -ENOENT) {
		/* Created but never snapshotted: the journal recreates it (the manifest
		 * says whether a snapshot should be here). */
		free(path);
		free(dir);
		return false;
	}
	if (rr < 0)
		fatal("cannot read %s: %s", path, fs_read_error(rr));
	struct json_err e;
	struct tank *t = NULL;
	json_object *o = parse_snapshot(text, len, legacy_ok, &t, &e);
	free(text);
	if (!o)
		fatal("%s is damaged: %s. simd will not guess the state: restore it from a backup, "
		      "or move the folder %s away to start without that tank",
		      path, e.msg, dir);
	int64_t seq;
	int version;
	int64_t in_transit = -1, plants_in_transit = 0;
	int rules = 1;
	json_object *meta, *exits;
	struct tank_meta m;
	bool paused = false;
	if (jv_int(o, "version", true, 2, 2, &version, &e) < 0 ||
	    jv_int64(o, "seq", true, 0, INT64_MAX, &seq, &e) < 0 ||
	    jv_object(o, "meta", true, &meta, &e) < 0 ||
	    jv_object(o, "exits", true, &exits, &e) < 0 ||
	    jv_int64(o, "in_transit", false, 0, INT32_MAX, &in_transit, &e) < 0 ||
	    jv_int64(o, "plants_in_transit", false, 0, INT32_MAX, &plants_in_transit, &e) < 0 ||
	    jv_int(o, "sim_rules", false, 1, INT32_MAX, &rules, &e) < 0)
		fatal("%s is damaged: line 1 (the header): %s. simd will not guess the state: restore "
		      "it from a backup, or move the folder %s away to start without that tank",
		      path, e.msg, dir);
	if (tank_meta_from_json(meta, &m, &paused, &e) < 0)
		fatal("%s is damaged: line 1 (the header), field 'meta': %s. simd will not guess the "
		      "state: restore it from a backup, or move the folder %s away to start without "
		      "that tank",
		      path, e.msg, dir);
	if (strcmp(m.id, id) != 0)
		fatal("%s: line 1 (the header), field 'meta.tank_id': it holds tank %s, not %s",
		      path, m.id, id);
	const char *owner = NULL; /* absent before 7 December */
	if (jv_string(o, "server_id", false, 1, SERVER_ID_MAX, &owner, &e) < 0)
		fatal("%s is damaged: line 1 (the header): %s", path, e.msg);
	if (owner && strcmp(owner, sd->daemon->conf.server.server_id) != 0 &&
	    !sd->daemon->conf.server.server_id_from_host)
		fatal("%s is a snapshot of server %s's tank, not of this server's (%s): its fish "
		      "would live there and here at once. Move the folder %s away",
		      path, owner, sd->daemon->conf.server.server_id, dir);
	*ret_seq = (uint64_t)seq;
	if ((uint64_t)seq < min_seq) {
		json_object_put(o);
		tank_free(t);
		free(path);
		free(dir);
		return false;
	}
	struct tank_slot *slot = tanks_add(sd, &m, t, paused);
	slot->snap_seq = slot->applied_seq = (uint64_t)seq;
	/* Exits go through the journal's parser: one reader for one format. */
	struct exit_dest d[2];
	if (exits_from_json(exits, d, &e) < 0)
		fatal("%s: line 1 (the header), field 'exits': %s", path, e.msg);
	/* The walls as the tank had them (a budget may have closed one), not as the exits
	 * alone would set them: replay goes on from exactly the state snapshotted. */
	bool gate[2] = {tank_get_exit(t, WALL_LEFT), tank_get_exit(t, WALL_RIGHT)};
	apply_exits(slot, &d[0], &d[1]);
	tank_set_exit(t, WALL_LEFT, gate[0]);
	tank_set_exit(t, WALL_RIGHT, gate[1]);
	tank_set_plants_in_transit(t, (size_t)plants_in_transit);
	if (in_transit >= 0) {
		tank_set_in_transit(t, (size_t)in_transit);
		slot->replay_strict = replay_same_rules(id, rules);
	}
	free_tree_later(o);
	free(path);
	free(dir);
	return true;
}

/* transfers.json: one line. NULL when absent. */
static json_object *load_transfers(struct simd *sd, bool legacy_ok)
{
	const char *path = sd->meta_path;
	char *text;
	size_t len;
	int r = fs_read_file(path, (size_t)1 << 32, &text, &len);
	if (r == -ENOENT)
		return NULL;
	if (r < 0)
		fatal("cannot read %s: %s", path, fs_read_error(r));
	char why[300] = "";
	const char *json = text;
	size_t json_len = len;
	char *nl = memchr(text, '\n', len);
	enum line_kind k = LINE_LEGACY;
	if (len == 0 || text[0] != '{' || !legacy_ok) {
		if (!nl || (size_t)(nl - text) + 1 != len) {
			k = LINE_BAD;
			snprintf(why, sizeof why, "line 1 is not one complete line");
		} else {
			k = line_check(text, (size_t)(nl - text), &json, &json_len, why, sizeof why);
			if (k == LINE_LEGACY && !legacy_ok) {
				k = LINE_BAD;
				snprintf(why, sizeof why, "line 1 has no checksum");
			}
		}
	}
	struct json_err e;
	json_object *o = k == LINE_BAD ? NULL : jv_parse_object(json, json_len, 64, &e);
	if (k != LINE_BAD && !o)
		snprintf(why, sizeof why, "line 1: %.280s", e.msg);
	free(text);
	if (!o)
		fatal("%s is damaged: %s. simd will not guess which fish are in transit: restore it "
		      "from a backup",
		      path, why);
	return o;
}

/* Without a manifest the state is either new, or written by a simd from before
 * checksums (legacy lines start with '{'). Anything checksummed means the manifest
 * was lost. */
static void check_no_manifest(struct simd *sd, const char *why_path)
{
	fatal("%s is missing, but %s was written with checksums, so a manifest existed: "
	      "simd cannot tell which tanks, snapshots and journal segments the state must "
	      "hold. Restore manifest.json from a backup",
	      sd->manifest_path, why_path);
}

static bool file_is_checksummed(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	int c = fgetc(f);
	fclose(f);
	return c != EOF && c != '{';
}

static void set_aside(struct simd *sd, const char *id, uint64_t seq, uint64_t from)
{
	char dir[4200], aside[4300];
	snprintf(dir, sizeof dir, "%s/%s", sd->tanks_dir, id);
	snprintf(aside, sizeof aside, "%s/.%s.not-loaded", sd->tanks_dir, id);
	if (rename(dir, aside) < 0)
		fatal("cannot move %s aside to %s: %s", dir, aside, strerror(errno));
	log_warn("%s was not loaded: the manifest does not list tank %s, and its snapshot "
		 "(of journal record %" PRIu64 ") is older than the journal kept (from record "
		 "%" PRIu64 "), so it is a deleted tank's (a crash came before its removal) or "
		 "one put back. Moved to %s; remove it",
		 dir, id, seq, from, aside);
}

static void refuse_missing(struct simd *sd, const char *what, const char *advice)
{
	fatal("%s is missing. The manifest (%s) lists it, so simd would roll its state back "
	      "without it. %s",
	      what, sd->manifest_path, advice);
}

/* Every tank folder: its snapshot loaded, and checked against the manifest; a tank the
 * manifest lists but the disk lacks stops the start. */
static void recover_tanks(struct simd *sd, struct manifest *man, bool have_manifest)
{
	DIR *d = opendir(sd->tanks_dir);
	if (!d)
		fatal("cannot open %s: %s", sd->tanks_dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!is_tank_dir(sd->tanks_dir, de)) {
			log_warn("ignoring %s/%s: not a tank's folder (one named by a tank id)",
				 sd->tanks_dir, de->d_name);
			continue;
		}
		if (!have_manifest) {
			char snap[4200];
			snprintf(snap, sizeof snap, "%s/%s/snapshot.json", sd->tanks_dir,
				 de->d_name);
			if (file_is_checksummed(snap))
				check_no_manifest(sd, snap);
		}
		uint64_t seq = UINT64_MAX; /* load_tank sets it once it has read the header */
		struct manifest_tank *mt = have_manifest ? manifest_find_tank(man, de->d_name)
							 : NULL;
		/* Not listed, and older than the journal kept: the folder of a tank deleted
		 * before the round that wrote this manifest (a crash came before the round
		 * removed it), or one put back or copied in. Loaded, it came back to life
		 * with its fish, its deletion no longer in the journal (a durability audit).
		 * A tank created since the manifest has a snapshot of a record the journal
		 * holds. */
		uint64_t min_seq = have_manifest && !mt ? man->journal_from : 0;
		if (!load_tank(sd, de->d_name, !have_manifest, min_seq, &seq)) {
			if (seq != UINT64_MAX)
				set_aside(sd, de->d_name, seq, min_seq);
			continue;
		}
		if (mt && seq < mt->seq) {
			char dir[4200];
			snprintf(dir, sizeof dir, "%s/%s", sd->tanks_dir, de->d_name);
			fatal("%s/snapshot.json contains the journal up to record %" PRIu64
			      ", but the "
			      "manifest says its snapshot contains up to %" PRIu64
			      ": it was put back "
			      "from an older copy, and the journal between them is gone. Restore the "
			      "newer snapshot",
			      dir, seq, mt->seq);
		}
		if (mt)
			mt->seen = true;
	}
	closedir(d);
	for (size_t i = 0; have_manifest && i < man->n_tanks; i++) {
		/* snapshot_seq 0: created after the round took its snapshots and before it
		 * listed the tanks, so it has none, and the journal is kept from its first
		 * record (journal_from 1), its creation with it: replay recreates it. Its
		 * folder was "missing", and a kill -9 then left the server unable to start
		 * (a researcher's audit). */
		if (man->tanks[i].seen || man->tanks[i].seq == 0)
			continue;
		char dir[4200], what[4400], advice[800];
		snprintf(dir, sizeof dir, "%s/%s", sd->tanks_dir, man->tanks[i].id);
		if (access(dir, F_OK) == 0)
			snprintf(what, sizeof what, "%s/snapshot.json", dir);
		else
			snprintf(what, sizeof what, "the folder %s of tank %s", dir,
				 man->tanks[i].id);
		snprintf(advice, sizeof advice,
			 "Restore it from a backup; or, to give up tank %s and its fish on purpose, "
			 "remove its entry from the manifest (the operator's decision, not simd's)",
			 man->tanks[i].id);
		refuse_missing(sd, what, advice);
	}
}

/* transfers.json: the outbox and inbox as of its snapshot. */
static void recover_transfers(struct simd *sd, const struct manifest *man, bool have_manifest)
{
	if (!have_manifest && file_is_checksummed(sd->meta_path))
		check_no_manifest(sd, sd->meta_path);
	json_object *o = load_transfers(sd, !have_manifest);
	if (o) {
		struct json_err e;
		if (xfer_state_load(sd, o, &e) < 0)
			fatal("%s is damaged: line 1: %s. simd will not guess which fish are in "
			      "transit: restore it from a backup",
			      sd->meta_path, e.msg);
		json_object_put(o);
		if (have_manifest && sd->xfer_snap_seq < man->transfers_seq)
			fatal("%s contains the journal up to record %" PRIu64
			      ", but the manifest says "
			      "up to %" PRIu64
			      ": it was put back from an older copy. Restore the newer "
			      "one",
			      sd->meta_path, sd->xfer_snap_seq, man->transfers_seq);
	} else if (have_manifest) {
		refuse_missing(
			sd, sd->meta_path,
			"It holds the fish in transit. Restore it from a backup; simd will not "
			"start without it");
	}
}

/* Without a manifest, a checksummed segment means the manifest was lost, not that this
 * is an old state. */
static void check_legacy_segments(struct simd *sd)
{
	uint64_t *segs;
	size_t n = journal_segments(sd->journal, &segs);
	for (size_t i = 0; i < n; i++) {
		char name[40];
		snprintf(name, sizeof name, "%020" PRIu64 ".log", segs[i]);
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", sd->journal_dir, name);
		if (file_is_checksummed(p))
			check_no_manifest(sd, p);
	}
	free(segs);
}

void store_recover(struct simd *sd, bool initialized)
{
	double t0 = now_mono();
	int r = fs_mkdir_p(sd->tanks_dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", sd->tanks_dir, strerror(-r));
	/* discoveryd reads the tank count from summary.json: never let it advertise a
	 * state that did not start. What cannot be removed (a folder put there) could not
	 * be written either: say so now rather than after loading every tank. */
	if (unlink(sd->summary_path) < 0 && errno != ENOENT)
		fatal("cannot remove %s, which simd rewrites: %s; move it away", sd->summary_path,
		      strerror(errno));
	struct manifest man;
	bool have_manifest = manifest_load(sd->manifest_path, &man) == 0;
	const char *me = sd->daemon->conf.server.server_id;
	if (have_manifest && man.server_id[0] && strcmp(man.server_id, me) != 0) {
		/* An id taken from the host's name changes with it (a container made anew on
		 * the same volume): that is this server renamed, not another server's state. */
		if (!sd->daemon->conf.server.server_id_from_host)
			fatal("%s is the state of server %s, not of this one (%s): its fish would "
			      "live here and there at once. A server's state cannot take another id "
			      "(its transfers name it): set [server] server_id back to %s, or point "
			      "state_dir at this server's own state",
			      sd->manifest_path, man.server_id, me, man.server_id);
		log_warn("%s is the state of server %s; this server takes its id from the host's "
			 "name, now %s, and goes on as that (peers knew it as %s: set [server] "
			 "server_id = %s to keep that id)",
			 sd->manifest_path, man.server_id, me, man.server_id, man.server_id);
	}
	sd->legacy_state = !have_manifest;
	recover_tanks(sd, &man, have_manifest);
	double loaded = now_mono() - t0;
	recover_transfers(sd, &man, have_manifest);
	if (!have_manifest)
		check_legacy_segments(sd);
	struct journal_expect x = {
		.legacy_ok = !have_manifest,
		.from = have_manifest ? man.journal_from : 0,
		.required = man.segments,
		.n_required = man.n_segments,
		.padded_from = man.padded_from,
	};
	struct json_err e;
	if (journal_replay(sd->journal, &x, jrec_replay, sd, &e) < 0)
		fatal("the journal cannot be replayed: %s", e.msg);
	manifest_free(&man);
	/* Started before (its first start left the marker, and wrote a manifest first), yet
	 * no manifest, no tank, no transfer and no journal record: the state was wiped, and
	 * starting empty would lose every fish it held without a word. */
	if (initialized && !have_manifest && sd->n_tanks == 0 && sd->outbox_count == 0 &&
	    journal_durable_seq(sd->journal) == 0)
		fatal("%s is gone, and so is every tank, transfer and journal record, yet this "
		      "server was started on that state before (the file 'initialized' beside it "
		      "says so): the state was removed. Restore it from a backup; to start this "
		      "server afresh, remove 'initialized' as well",
		      sd->manifest_path);
	replay_finish(sd);
	tanks_order_by_creation(sd);
	/* Every state in memory now contains the whole journal. */
	uint64_t last = journal_durable_seq(sd->journal);
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		if (s->applied_seq < last)
			s->applied_seq = last;
		tank_publish_status(s);
	}
	if (sd->xfer_applied_seq < last)
		sd->xfer_applied_seq = last;
	/* The parts an operator can act on: snapshot size, and re-simulation (replay_budget). */
	log_info("recovered %zu tanks with %zu fish and %zu fish in transit in %.3f s (snapshots "
		 "%.3f s, re-simulating %" PRIu64 " frames %.3f s)",
		 sd->n_tanks, tanks_count_fish(sd, false, NULL, NULL), sd->outbox_count,
		 now_mono() - t0, loaded, sd->replay_frames, sd->replay_seconds);
	/* A new or upgraded state gets its manifest (and checksummed snapshots) now. */
	if (!have_manifest)
		snapshot_round(sd);
}
