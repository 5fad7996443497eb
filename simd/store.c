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
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "records.h"


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
	fs_fsync_dir(sd->tanks_dir);
	return r;
}

/* A tank snapshot is JSON lines: a header object (version 2, seq, meta, exits, the
 * tank without its fish, fish_count), then one fish per line. Lines let start-up parse
 * the fish on several threads; parsing one 20 MB document was most of a restart.
 * Serialize under the tank's lock (the tick waits that long), write without it. */
static void snapshot_tank(struct simd *sd, struct tank_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	json_object *o = json_object_new_object();
	uint64_t seq = slot->applied_seq;
	json_object *tank = tank_to_json(slot->sim), *fish = NULL;
	json_object_object_add(o, "version", json_object_new_int(2));
	json_object_object_add(o, "seq", json_object_new_uint64(seq));
	json_object_object_add(o, "meta", tank_meta_state_json(&slot->meta, slot->paused));
	json_object_object_add(o, "exits", xfer_exits_json(slot));
	pthread_mutex_unlock(&slot->lock);
	if (!json_object_object_get_ex(tank, "fish", &fish) || !json_object_is_type(fish, json_type_array))
		fatal("tank %s serialized without a fish array", slot->meta.id);
	json_object_get(fish);
	json_object_object_del(tank, "fish");
	size_t n = json_object_array_length(fish);
	json_object_object_add(o, "fish_count", json_object_new_uint64(n));
	json_object_object_add(o, "tank", tank);

	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);
	if (!f)
		abort();
	fputs(jv_to_string(o), f);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		fputs(jv_to_string(json_object_array_get_idx(fish, i)), f);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		abort();
	json_object_put(fish);
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
	const char *text = jv_to_string(o);
	journal_wait_durable(sd->journal, seq);
	fs_write_atomic_or_die(sd->meta_path, text, strlen(text));
	json_object_put(o);
	pthread_mutex_lock(&sd->xfer_lock);
	sd->xfer_snap_seq = seq;
	pthread_mutex_unlock(&sd->xfer_lock);
}

/* Tank folders whose tank is gone (deleted, or a crash between the journaled deletion
 * and the removal) go before the journal that records the deletion can be dropped. */
static void remove_orphan_dirs(struct simd *sd)
{
	DIR *d = opendir(sd->tanks_dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || tanks_find(sd, de->d_name))
			continue;
		log_info("removing the folder of deleted tank %s", de->d_name);
		store_remove_tank_dir(sd, de->d_name);
	}
	if (d)
		closedir(d);
}

static void snapshot_round(struct simd *sd)
{
	double t0 = now_mono();
	pthread_mutex_lock(&sd->list_lock);
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link)
		snapshot_tank(sd, s);
	snapshot_transfers(sd);
	remove_orphan_dirs(sd);
	uint64_t upto = sd->xfer_snap_seq;
	TAILQ_FOREACH(s, &sd->tanks, link)
		if (s->snap_seq < upto)
			upto = s->snap_seq;
	pthread_mutex_unlock(&sd->list_lock);
	journal_compact(sd->journal, upto);
	sd->snapshot_last_seconds = now_mono() - t0;
	sd->snapshots_written++;
}

static void *snapshot_main(void *arg)
{
	snapshot_round(arg);
	return NULL;
}

static void on_snapshot_timer(evutil_socket_t fd, short what, void *arg)
{
	struct simd *sd = arg;
	if (sd->snapshot_running) {
		pthread_join(sd->snapshot_thread, NULL);
		sd->snapshot_running = false;
	}
	if (pthread_create(&sd->snapshot_thread, NULL, snapshot_main, sd) != 0)
		fatal("cannot start the snapshot thread");
	sd->snapshot_running = true;
}

void store_schedule(struct simd *sd)
{
	double s = sd->daemon->conf.sim.snapshot_interval;
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
	if (!sd->snapshot_timer)
		sd->snapshot_timer = event_new(sd->daemon->base, -1, EV_PERSIST, on_snapshot_timer, sd);
	event_del(sd->snapshot_timer);
	event_add(sd->snapshot_timer, &tv);
}

void store_snapshot_all_sync(struct simd *sd)
{
	if (sd->snapshot_timer) {
		event_free(sd->snapshot_timer);
		sd->snapshot_timer = NULL;
	}
	if (sd->snapshot_running) {
		pthread_join(sd->snapshot_thread, NULL);
		sd->snapshot_running = false;
	}
	snapshot_round(sd);
}

static json_object *read_json_or_die(const char *path, bool *missing)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, (size_t)1 << 32, &text, &len);
	if (r == -ENOENT) {
		*missing = true;
		return NULL;
	}
	if (r < 0)
		fatal("cannot read %s: %s", path, strerror(-r));
	struct json_err e;
	json_object *o = jv_parse_object_nul(text, len, 64, &e);
	free(text);
	if (!o)
		fatal("%s is damaged (%s). simd will not guess the state: restore it from a backup, "
		      "or move it away to start without it", path, e.msg);
	*missing = false;
	return o;
}

/* Freeing a big parsed snapshot takes nearly as long as parsing it; nothing needs to
 * wait for it, so a thread does it while simd gets on with starting. */
static void *free_tree_main(void *arg)
{
	json_object_put(arg);
	malloc_trim(0);
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
	struct json_err e;
};

static void *parse_fish_lines(void *arg)
{
	struct fish_lines *w = arg;
	w->bad = (size_t)-1;
	/* Parse, decode and free on this thread: all three cost about the same. */
	for (size_t i = w->from; i < w->to; i++) {
		json_object *o = jv_parse_object_nul(w->line[i], strlen(w->line[i]), 64, &w->e);
		if (!o || fish_from_json(o, &w->out[i], &w->e) < 0) {
			json_object_put(o);
			w->bad = i;
			break;
		}
		json_object_put(o);
	}
	return NULL;
}

/* Parse a version-2 snapshot (see snapshot_tank): the header, then the fish lines
 * decoded on up to four threads; the tank is built from both. NULL with a message in e
 * when anything is off, including a missing or extra line. */
static json_object *parse_snapshot(char *text, size_t len, struct tank **ret_tank,
				   struct json_err *e)
{
	if (len == 0 || text[len - 1] != '\n') {
		jv_fail(e, "the last line is cut short");
		return NULL;
	}
	size_t nlines = 0;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	char **line = malloc(nlines * sizeof *line);
	if (!line)
		abort();
	size_t k = 0;
	for (char *p = text; k < nlines; k++) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		line[k] = p;
		p = nl + 1;
	}
	json_object *o = jv_parse_object_nul(line[0], strlen(line[0]), 64, e), *tank;
	int version;
	int64_t count;
	if (!o || jv_int(o, "version", true, 2, 2, &version, e) < 0 ||
	    jv_int64(o, "fish_count", true, 0, 10000000, &count, e) < 0 ||
	    jv_object(o, "tank", true, &tank, e) < 0) {
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
	/* The header was parsed on this thread, so json-c's hash seed is set before the
	 * workers create objects of their own. */
	size_t n = nlines - 1;
	struct fish **out = calloc(n ? n : 1, sizeof *out);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = cpus > 4 ? 4 : cpus < 1 ? 1 : (size_t)cpus;
	if (n < 1000)
		nthreads = 1;
	struct fish_lines w[4];
	pthread_t th[4];
	if (!out)
		abort();
	for (size_t t = 0; t < nthreads; t++) {
		w[t] = (struct fish_lines){.line = line + 1, .out = out, .from = n * t / nthreads,
					   .to = n * (t + 1) / nthreads};
		if (t > 0 && pthread_create(&th[t], NULL, parse_fish_lines, &w[t]) != 0)
			abort();
	}
	parse_fish_lines(&w[0]);
	for (size_t t = 1; t < nthreads; t++)
		pthread_join(th[t], NULL);
	size_t bad = (size_t)-1;
	for (size_t t = 0; t < nthreads && bad == (size_t)-1; t++)
		if (w[t].bad != (size_t)-1) {
			bad = w[t].bad;
			jv_fail(e, "fish line %zu: %s", bad + 2, w[t].e.msg);
		}
	free(line);
	if (bad == (size_t)-1 && tank_from_json_with_fish(tank, out, n, ret_tank, e) < 0)
		bad = 0;
	for (size_t i = 0; i < n; i++) /* left over only on failure */
		fish_free(out[i]);
	free(out);
	if (bad != (size_t)-1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void load_tank(struct simd *sd, const char *id)
{
	char *dir = tank_dir(sd, id);
	char *path = fs_path_join(dir, "snapshot.json");
	char *text;
	size_t len;
	int rr = fs_read_file(path, (size_t)1 << 34, &text, &len);
	if (rr == -ENOENT) {
		/* Created but never snapshotted: the journal recreates it. */
		free(path);
		free(dir);
		return;
	}
	if (rr < 0)
		fatal("cannot read %s: %s", path, strerror(-rr));
	struct json_err e;
	struct tank *t = NULL;
	json_object *o = parse_snapshot(text, len, &t, &e);
	free(text);
	if (!o)
		fatal("%s is damaged (%s). simd will not guess the state: restore it from a backup, "
		      "or move the folder %s away to start without that tank", path, e.msg, dir);
	int64_t seq;
	int version;
	json_object *meta, *exits;
	struct tank_meta m;
	bool paused = false;
	if (jv_int(o, "version", true, 2, 2, &version, &e) < 0 ||
	    jv_int64(o, "seq", true, 0, INT64_MAX, &seq, &e) < 0 ||
	    jv_object(o, "meta", true, &meta, &e) < 0 ||
	    tank_meta_from_json(meta, &m, &paused, &e) < 0 ||
	    jv_object(o, "exits", true, &exits, &e) < 0)
		fatal("%s is damaged (%s). simd will not guess the state: restore it from a backup, "
		      "or move the folder %s away to start without that tank", path, e.msg, dir);
	if (strcmp(m.id, id) != 0)
		fatal("%s holds tank %s, not %s", path, m.id, id);
	struct tank_slot *slot = tanks_add(sd, &m, t, paused);
	slot->snap_seq = slot->applied_seq = (uint64_t)seq;
	/* Exits go through the replay path's parser: one reader for one format. */
	json_object *rec = json_object_new_object();
	json_object_object_add(rec, "op", json_object_new_string("exits"));
	json_object_object_add(rec, "tank_id", json_object_new_string(id));
	json_object_object_add(rec, "exits", json_object_get(exits));
	slot->snap_seq = (uint64_t)seq - (seq > 0);
	if (xfer_replay(sd, (uint64_t)seq, rec, &e) < 0)
		fatal("%s: exits are damaged: %s", path, e.msg);
	slot->snap_seq = (uint64_t)seq;
	json_object_put(rec);
	free_tree_later(o);
	free(path);
	free(dir);
}

void store_recover(struct simd *sd)
{
	double t0 = now_mono();
	int r = fs_mkdir_p(sd->tanks_dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", sd->tanks_dir, strerror(-r));
	DIR *d = opendir(sd->tanks_dir);
	if (!d)
		fatal("cannot open %s: %s", sd->tanks_dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			load_tank(sd, de->d_name);
	closedir(d);

	bool missing;
	json_object *o = read_json_or_die(sd->meta_path, &missing);
	if (o) {
		struct json_err e;
		if (xfer_state_load(sd, o, &e) < 0)
			fatal("%s is damaged (%s). simd will not guess which fish are in transit: "
			      "restore it from a backup", sd->meta_path, e.msg);
		json_object_put(o);
	}

	struct json_err e;
	if (journal_replay(sd->journal, 0, xfer_replay, sd, &e) < 0)
		fatal("the journal cannot be replayed: %s", e.msg);
	/* Every state in memory now contains the whole journal. */
	uint64_t last = journal_durable_seq(sd->journal);
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link) {
		if (s->applied_seq < last)
			s->applied_seq = last;
		tank_publish_status(s);
	}
	if (sd->xfer_applied_seq < last)
		sd->xfer_applied_seq = last;
	log_info("recovered %zu tanks with %zu fish and %zu fish in transit in %.3f s",
		 sd->n_tanks, tanks_total_fish(sd), sd->outbox_count, now_mono() - t0);
}
