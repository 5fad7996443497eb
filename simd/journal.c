#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "jseg.h"
#include "lines.h"
#include "log.h"
#include "xalloc.h"

struct pending {
	uint64_t seq;
	char *line; /* with its '\n' */
	size_t len;
	journal_done_fn done;
	void *arg;
	TAILQ_ENTRY(pending) link;
};
TAILQ_HEAD(pending_list, pending);

struct journal {
	char *dir;
	int fd;
	uint64_t seg_first;
	char *seg_path;	 /* the segment written to */
	bool padded;	 /* it has a header and room (jseg.h); else an older simd's, appended */
	bool marked;	 /* version 3: each batch starts with what was durable (jseg_marker) */
	off_t off, size; /* where the next record goes in a padded segment, and its size */
	struct jseg_layout tail; /* the newest segment's, as replay left it */
	pthread_t thread;
	pthread_mutex_t lock; /* queue, counters */
	pthread_cond_t wake, durable, rolled;
	pthread_mutex_t order; /* journal_lock */
	struct pending_list queue, completed;
	uint64_t next_seq, durable_seq;
	uint64_t roll_done; /* rolls completed, for journal_roll's wait */
	bool roll_req, stop;
	struct event *complete_ev;
	struct journal_stats stats;
	struct pending_list waiters; /* journal_when_durable's, on the loop only, by seq */
};

static char *segment_path(const struct journal *j, uint64_t first)
{
	char name[40];
	snprintf(name, sizeof name, "%020" PRIu64 ".log", first);
	return fs_path_join(j->dir, name);
}

/* A new segment (a roll, or the first): padded, so that a cut is told from a torn write. */
static void open_segment(struct journal *j, uint64_t first)
{
	if (j->fd >= 0 && close(j->fd) < 0)
		fatal("journal: close failed: %s", strerror(errno));
	char *p = segment_path(j, first);
	j->fd = jseg_create(j->dir, p, &j->off, &j->size);
	free(j->seg_path);
	j->seg_path = p;
	j->padded = true;
	j->marked = true;
	pthread_mutex_lock(&j->lock);
	j->seg_first = first;
	pthread_mutex_unlock(&j->lock);
}

/* Go on writing to the newest segment where replay found its records end: after them in a
 * padded one, appended to an older simd's (until the next roll). */
static void reopen_segment(struct journal *j, uint64_t first)
{
	char *p = segment_path(j, first);
	j->padded = j->tail.padded;
	j->marked = j->tail.marked;
	j->fd = fs_open_or_die(p, O_WRONLY | (j->padded ? 0 : O_APPEND), 0);
	if (j->padded) {
		j->off = (off_t)j->tail.end;
		j->size = (off_t)j->tail.size;
	}
	free(j->seg_path);
	j->seg_path = p;
	pthread_mutex_lock(&j->lock);
	j->seg_first = first;
	pthread_mutex_unlock(&j->lock);
}

/* Segments sorted by their first sequence number. */
static size_t list_segments(const struct journal *j, uint64_t **ret)
{
	DIR *d = opendir(j->dir);
	if (!d)
		fatal("journal: cannot open %s: %s", j->dir, strerror(errno));
	uint64_t *v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		unsigned long long x = strtoull(de->d_name, &end, 10);
		if (end == de->d_name || strcmp(end, ".log") != 0)
			continue;
		v = xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = x;
	}
	closedir(d);
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
			uint64_t t = v[b];
			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	*ret = v;
	return n;
}

static void complete_on_loop(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;
	struct pending_list done = TAILQ_HEAD_INITIALIZER(done);
	pthread_mutex_lock(&j->lock);
	TAILQ_CONCAT(&done, &j->completed, link);
	uint64_t durable = j->durable_seq;
	pthread_mutex_unlock(&j->lock);
	struct pending *p;
	while ((p = TAILQ_FIRST(&j->waiters)) && p->seq <= durable) {
		TAILQ_REMOVE(&j->waiters, p, link);
		TAILQ_INSERT_TAIL(&done, p, link);
	}
	while ((p = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, p, link);
		if (p->done)
			p->done(p->arg);
		free(p);
	}
}

void journal_when_durable(struct journal *j, uint64_t seq, journal_done_fn done, void *arg)
{
	pthread_mutex_lock(&j->lock);
	bool now = j->durable_seq >= seq;
	pthread_mutex_unlock(&j->lock);
	if (now) {
		done(arg);
		return;
	}
	/* The writer makes seq durable later and then wakes complete_on_loop, which runs
	 * after this (both on the loop). Waiters come in mostly rising order. */
	struct pending *p = xcalloc(1, sizeof *p), *q;
	p->seq = seq;
	p->done = done;
	p->arg = arg;
	q = TAILQ_LAST(&j->waiters, pending_list);
	while (q && q->seq > seq)
		q = TAILQ_PREV(q, pending_list, link);
	if (q)
		TAILQ_INSERT_AFTER(&j->waiters, q, p, link);
	else
		TAILQ_INSERT_HEAD(&j->waiters, p, link);
}

void journal_drop_upto(struct journal *j, uint64_t upto)
{
	uint64_t *segs;
	size_t n = list_segments(j, &segs);
	pthread_mutex_lock(&j->lock);
	uint64_t current = j->seg_first;
	pthread_mutex_unlock(&j->lock);
	/* Segment i holds [segs[i], segs[i+1]-1]; the current one is never deleted. */
	for (size_t i = 0; i + 1 < n; i++) {
		if (segs[i + 1] - 1 > upto || segs[i] == current)
			break;
		char *p = segment_path(j, segs[i]);
		if (unlink(p) < 0)
			log_warn("journal: cannot remove %s: %s", p, strerror(errno));
		free(p);
	}
	free(segs);
}

static void *writer_main(void *arg)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (TAILQ_EMPTY(&j->queue) && !j->stop && !j->roll_req)
			pthread_cond_wait(&j->wake, &j->lock);
		if (j->roll_req) {
			/* Everything written so far is durable and the queue is in number order,
			 * so the next record written is durable_seq + 1: the new segment's name. */
			uint64_t first = j->durable_seq + 1;
			j->roll_req = false;
			pthread_mutex_unlock(&j->lock);
			open_segment(j, first);
			pthread_mutex_lock(&j->lock);
			j->roll_done++;
			pthread_cond_broadcast(&j->rolled);
			continue;
		}
		if (TAILQ_EMPTY(&j->queue) && j->stop)
			break;
		struct pending_list batch = TAILQ_HEAD_INITIALIZER(batch);
		TAILQ_CONCAT(&batch, &j->queue, link);
		pthread_mutex_unlock(&j->lock);

		size_t n = 0, bytes = 0, mlen = 0;
		uint64_t last = 0;
		struct pending *p;
		TAILQ_FOREACH (p, &batch, link) {
			n++;
			bytes += p->len;
		}
		/* What this batch follows was durable: after a hole, replay tells damage to
		 * acknowledged records from a torn write by this line (jseg_marker). */
		char *marker = j->marked && j->durable_seq ? jseg_marker(j->durable_seq, &mlen)
							   : NULL;
		bytes += mlen;
		char *buf = xmalloc(bytes);
		size_t off = 0;
		if (marker) {
			memcpy(buf, marker, mlen);
			off = mlen;
			free(marker);
		}
		TAILQ_FOREACH (p, &batch, link) {
			memcpy(buf + off, p->line, p->len);
			off += p->len;
			free(p->line);
			p->line = NULL;
			last = p->seq;
		}
		if (j->padded)
			jseg_write(j->fd, j->seg_path, &j->off, &j->size, buf, bytes);
		else {
			int w = fs_write_all(j->fd, buf, bytes);
			if (w < 0)
				fatal("journal: write failed: %s", strerror(-w));
		}
		free(buf);
		if (fdatasync(j->fd) < 0)
			fatal("journal: fdatasync failed: %s; stopping so nothing unsafe is "
			      "acknowledged",
			      strerror(errno));

		pthread_mutex_lock(&j->lock);
		j->durable_seq = last;
		j->stats.records += n;
		j->stats.syncs++;
		j->stats.bytes += bytes;
		TAILQ_CONCAT(&j->completed, &batch, link);
		pthread_cond_broadcast(&j->durable);
		if (j->complete_ev)
			event_active(j->complete_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* A segment is made as NAME.log.tmp and renamed once its header and room are durable: a
 * .tmp left over is one a crash or a full disk stopped (never a segment). They piled up
 * after each stop on a full disk. */
static void remove_unfinished(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= 8 || strcmp(de->d_name + n - 8, ".log.tmp") != 0)
			continue;
		char *p = fs_path_join(dir, de->d_name);
		if (unlink(p) == 0)
			log_notice("journal: removed %s, a segment a stop left unfinished", p);
		else
			log_warn("journal: cannot remove %s: %s", p, strerror(errno));
		free(p);
	}
	closedir(d);
}

struct journal *journal_open(const char *dir, struct event_base *base)
{
	struct journal *j = xcalloc(1, sizeof *j);
	j->dir = xstrdup(dir);
	j->fd = -1;
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("journal: cannot create %s: %s", dir, strerror(-r));
	remove_unfinished(dir);
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->order, NULL);
	pthread_cond_init(&j->wake, NULL);
	pthread_cond_init(&j->durable, NULL);
	pthread_cond_init(&j->rolled, NULL);
	TAILQ_INIT(&j->queue);
	TAILQ_INIT(&j->completed);
	TAILQ_INIT(&j->waiters);
	j->next_seq = 1;
	if (base) {
		j->complete_ev = event_new(base, -1, 0, complete_on_loop, j);
		if (!j->complete_ev)
			abort();
	}
	return j;
}

/* One complete line of a segment as a record with its number: its checksum checked,
 * parsed, its "seq" read. NULL with the reason in e. */
static json_object *read_record(const char *path, const char *line, size_t line_len, size_t off,
				uint64_t expect, const struct journal_expect *x, int64_t *seq,
				struct json_err *e)
{
	const char *json;
	size_t json_len;
	char why[200];
	enum line_kind k = line_check(line, line_len, &json, &json_len, why, sizeof why);
	if (k == LINE_LEGACY && !x->legacy_ok) {
		k = LINE_BAD;
		snprintf(why, sizeof why,
			 "it has no checksum, and only state from before "
			 "checksums (no manifest.json) may lack one");
	}
	if (k == LINE_BAD) {
		jv_fail(e,
			"%s: the record at byte %zu (after record %" PRIu64 ") is damaged: "
			"%s. simd will not guess what it said: restore the journal from a "
			"backup",
			path, off, expect - 1, why);
		return NULL;
	}
	e->msg[0] = '\0';
	json_object *rec = jv_parse_object(json, json_len, 64, e);
	if (rec && jv_int64(rec, "seq", true, 1, INT64_MAX, seq, e) < 0) {
		json_object_put(rec);
		rec = NULL;
	}
	if (!rec) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%s", e->msg);
		jv_fail(e,
			"%s: the record at byte %zu passes its checksum but does not "
			"parse (%s)",
			path, off, m);
	}
	return rec;
}

/* What follows the last whole record of the newest segment is a torn write (a crash
 * during an append, never fsynced, so never acknowledged): dropped and reported. An
 * older simd's segment is cut there; a padded one is put back to padding, its size kept
 * (a torn line, or a torn batch's blocks beyond a hole). Anywhere but the newest segment
 * the journal is damaged. */
static int torn(const char *path, size_t off, size_t len, bool padded, bool last_segment,
		struct json_err *e)
{
	if (!last_segment)
		return jv_fail(e,
			       "%s: after byte %zu it holds no whole record, but later segments "
			       "follow: the journal is damaged",
			       path, off);
	log_notice("journal %s: dropping a torn last record (%zu bytes at byte %zu) "
		   "left by a crash during a write",
		   path, len - off, off);
	if (padded)
		jseg_zero(path, off, len);
	else if (truncate(path, (off_t)off) < 0)
		fatal("cannot truncate %s: %s", path, strerror(errno));
	return 0;
}

/* A hole of NULs where records should go: a torn write leaves one only inside the batch it
 * was writing, so a marker after it saying records from expect on were durable before it
 * was written proves the hole held acknowledged records. 1 (with where and what it says)
 * when one does. */
static int hole_was_durable(const char *text, size_t from, size_t len, uint64_t expect, size_t *at,
			    uint64_t *durable)
{
	size_t start = from;
	for (const char *nl; start < len && (nl = memchr(text + start, '\n', len - start));
	     start = (size_t)(nl - text) + 1) {
		size_t s = start;
		while (s < (size_t)(nl - text) && text[s] == '\0')
			s++;
		uint64_t d;
		if (jseg_marker_read(text + s, (size_t)(nl - text) - s, &d) && d >= expect) {
			*at = s;
			*durable = d;
			return 1;
		}
	}
	return 0;
}

/* What follows the last whole record (at off) of a segment: a torn write, cut at cut_len
 * as torn() does, unless a marker from hole on proves the hole held durable records. */
static int after_records(const char *path, const char *text, const struct jseg_layout *lay,
			 size_t off, size_t hole, size_t cut_len, uint64_t expect,
			 bool last_segment, struct json_err *e)
{
	size_t at;
	uint64_t d;
	if (lay->marked && hole_was_durable(text, hole, lay->size, expect, &at, &d))
		return jv_fail(
			e,
			"%s: from byte %zu the records from number %" PRIu64 " on are gone "
			"(zeros), yet a later write at byte %zu says every record up to "
			"%" PRIu64 " was durable before it: the segment was damaged after it "
			"was written, not torn by a crash, and acknowledged records are lost. "
			"simd will not guess what it said: restore the journal from a backup",
			path, off, expect, at, d);
	return torn(path, off, cut_len, lay->padded, last_segment, e);
}

/* A torn write leaves the end of the file or zeros where it stopped, never another byte:
 * a whole record (its length and checksum agree) followed by one that is not its newline
 * was damaged after it was written. Dropped as torn, an acknowledged arrival was lost
 * (a durability audit flipped that newline, 7 December). -EINVAL then. */
static int whole_then_not_newline(const char *path, const char *text, size_t off, size_t end,
				  struct json_err *e)
{
	size_t whole = line_stated_len(text + off, end - off);
	const char *json;
	size_t json_len;
	char why[200];
	if (!whole || whole >= end - off || text[off + whole] == '\0' ||
	    line_check(text + off, whole, &json, &json_len, why, sizeof why) != LINE_OK)
		return 0;
	return jv_fail(e,
		       "%s: the record at byte %zu is whole (its length and checksum agree) but "
		       "byte 0x%02x follows it, not its newline: the segment was damaged after "
		       "it was written, not torn by a crash, and the record may have been "
		       "acknowledged. simd will not guess what it said: restore the journal "
		       "from a backup",
		       path, off, (unsigned char)text[off + whole]);
}

/* Parse one segment; cut a torn tail when it is the last segment. Every record must
 * carry the number after the one before it: a gap is a lost record. */
static int replay_segment(struct journal *j, const char *path, uint64_t name, bool last_segment,
			  const struct journal_expect *x,
			  int (*fn)(void *, uint64_t, json_object *, struct json_err *), void *arg,
			  struct json_err *e)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, (size_t)1 << 34, &text, &len);
	if (r < 0)
		return jv_fail(e, "%s: %s", path, fs_read_error(r));
	struct jseg_layout lay;
	if (jseg_layout(path, text, len, &lay, e) < 0) {
		free(text);
		return -EINVAL;
	}
	/* Written with a header, as the manifest says: without one (cut to nothing, or
	 * overwritten) it reads as an older simd's segment that holds less, or nothing. */
	if (x->padded_from && name >= x->padded_from && !lay.padded) {
		free(text);
		return jv_fail(e,
			       "%s has no segment header (%zu bytes), yet simd wrote every segment "
			       "from number %" PRIu64 " on with one: it was cut short or "
			       "overwritten, and acknowledged records may be gone. simd will not "
			       "guess what it said: restore the journal from a backup",
			       path, len, x->padded_from);
	}
	size_t off = lay.start, end = lay.end;
	uint64_t expect = name;
	r = 0;
	bool cut = false;
	while (off < end) {
		char *nl = memchr(text + off, '\n', end - off);
		size_t line_len = nl ? (size_t)(nl - (text + off)) : end - off;
		uint64_t d;
		if (!nl) {
			if (whole_then_not_newline(path, text, off, end, e) < 0) {
				r = -EINVAL;
				break;
			}
			cut = true;
			r = after_records(path, text, &lay, off, end, lay.padded ? len : end,
					  expect, last_segment, e);
			break;
		}
		if (lay.marked && jseg_marker_read(text + off, line_len, &d)) {
			/* Records it says were durable must all be before it. */
			if (d >= expect) {
				r = jv_fail(e,
					    "%s: the write at byte %zu says records up to %" PRIu64
					    " were durable, but the segment holds them only up to "
					    "%" PRIu64 ": records are missing",
					    path, off, d, expect - 1);
				break;
			}
			off += line_len + 1;
			continue;
		}
		int64_t seq = 0;
		json_object *rec = read_record(path, text + off, line_len, off, expect, x, &seq, e);
		if (!rec) {
			r = -EINVAL;
			break;
		}
		bool gap = x->legacy_ok ? (uint64_t)seq < j->next_seq : (uint64_t)seq != expect;
		if (gap) {
			json_object_put(rec);
			r = jv_fail(e,
				    "%s: the record at byte %zu is number %" PRId64 " but %" PRIu64
				    " was expected: records are missing",
				    path, off, seq, expect);
			break;
		}
		expect = (uint64_t)seq + 1;
		j->next_seq = (uint64_t)seq + 1;
		if ((uint64_t)seq > x->after) {
			r = fn(arg, (uint64_t)seq, rec, e);
			if (r < 0) {
				char m[sizeof e->msg];
				snprintf(m, sizeof m, "%s", e->msg);
				r = jv_fail(e, "%s: record %" PRId64 " at byte %zu: %s", path, seq,
					    off, m);
			}
		}
		json_object_put(rec);
		if (r < 0)
			break;
		off += line_len + 1;
	}
	if (r == 0 && !cut && lay.padded && lay.after_padding)
		r = after_records(path, text, &lay, off, off, len, expect, last_segment, e);
	lay.end = off; /* the records end here now: the next is written here */
	j->tail = lay;
	free(text);
	return r;
}

/* Every segment the manifest lists must be there: without one, replay would roll tanks
 * back to their snapshots without a word. Records before the oldest one needed may be
 * gone (compaction), later ones not. */
static int check_segments_present(struct journal *j, const struct journal_expect *x,
				  const uint64_t *segs, size_t n, struct json_err *e)
{
	for (size_t i = 0; i < x->n_required; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = segs[k] == x->required[i];
		if (!found) {
			char *p = segment_path(j, x->required[i]);
			int r = jv_fail(e,
					"journal segment %s is missing (the manifest lists it; it "
					"holds records that no snapshot contains). Restore it from a "
					"backup; simd will not start without it, since the state "
					"would silently roll back",
					p);
			free(p);
			return r;
		}
	}
	if (!x->legacy_ok && x->from && n > 0 && segs[0] > x->from) {
		char *p = segment_path(j, segs[0]);
		int r = jv_fail(
			e,
			"the journal starts at %s, but the snapshots need records from %" PRIu64
			" on: segments are missing. Restore them from a backup",
			p, x->from);
		free(p);
		return r;
	}
	return 0;
}

/* Segment i must start right after the records read so far (a gap is a lost segment,
 * an overlap a foreign one); a legacy state may have gaps. */
static int check_segment_follows(struct journal *j, const struct journal_expect *x,
				 const uint64_t *segs, size_t i, struct json_err *e)
{
	int r = 0;
	char *p = segment_path(j, segs[i]);
	if (segs[i] > j->next_seq) {
		if (!x->legacy_ok && i > 0)
			r = jv_fail(e,
				    "%s starts at record %" PRIu64 " but the segment before it "
				    "ends at %" PRIu64 ": a segment is missing. Restore it from "
				    "a backup",
				    p, segs[i], j->next_seq - 1);
		else
			j->next_seq = segs[i];
	} else if (i > 0 && !x->legacy_ok && segs[i] < j->next_seq) {
		r = jv_fail(e, "%s starts at record %" PRIu64 ", inside the segment before it", p,
			    segs[i]);
	}
	free(p);
	return r;
}

int journal_replay(struct journal *j, const struct journal_expect *x,
		   int (*fn)(void *arg, uint64_t seq, json_object *rec, struct json_err *e),
		   void *arg, struct json_err *e)
{
	uint64_t *segs;
	size_t n = list_segments(j, &segs);
	int r = check_segments_present(j, x, segs, n, e);
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((r = check_segment_follows(j, x, segs, i, e)) < 0)
			break;
		char *p = segment_path(j, segs[i]);
		r = replay_segment(j, p, segs[i], i + 1 == n, x, fn, arg, e);
		free(p);
	}
	if (r < 0) {
		free(segs);
		return r;
	}
	if (j->next_seq <= x->after)
		j->next_seq = x->after + 1;
	j->durable_seq = j->next_seq - 1;
	/* Go on appending to the newest segment: a segment appears only where the manifest
	 * learns of it (journal_roll), so a missing newest segment is noticed too. */
	if (n > 0 && segs[n - 1] <= j->next_seq) {
		reopen_segment(j, segs[n - 1]);
		/* What replay read may have come from the page cache alone (a kill -9 between
		 * a batch's write and its fdatasync): it is applied now and taken as durable,
		 * and the next batch's marker says so, so it must be on disk before anything
		 * is written after it. */
		if (fdatasync(j->fd) < 0)
			fatal("journal: fdatasync of %s failed: %s", j->seg_path, strerror(errno));
	} else {
		open_segment(j, j->next_seq);
	}
	free(segs);
	if (pthread_create(&j->thread, NULL, writer_main, j) != 0)
		abort();
	return 0;
}

uint64_t journal_next_seq(struct journal *j)
{
	return j->next_seq++;
}

uint64_t journal_last_seq(struct journal *j)
{
	journal_lock(j);
	uint64_t s = j->next_seq - 1;
	journal_unlock(j);
	return s;
}

void journal_lock(struct journal *j)
{
	pthread_mutex_lock(&j->order);
}

void journal_unlock(struct journal *j)
{
	pthread_mutex_unlock(&j->order);
}

void journal_append(struct journal *j, uint64_t seq, json_object *rec, journal_done_fn done,
		    void *arg)
{
	json_object_object_add(rec, "seq", json_object_new_int64((int64_t)seq));
	const char *s = jv_to_string(rec);
	struct pending *p = xcalloc(1, sizeof *p);
	p->line = line_frame(s, strlen(s), &p->len);
	p->seq = seq;
	p->done = done;
	p->arg = arg;
	json_object_put(rec);
	pthread_mutex_lock(&j->lock);
	TAILQ_INSERT_TAIL(&j->queue, p, link);
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
}

void journal_wait_durable(struct journal *j, uint64_t seq)
{
	pthread_mutex_lock(&j->lock);
	while (j->durable_seq < seq)
		pthread_cond_wait(&j->durable, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

uint64_t journal_durable_seq(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	uint64_t s = j->durable_seq;
	pthread_mutex_unlock(&j->lock);
	return s;
}

uint64_t journal_roll(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	uint64_t want = j->roll_done + 1;
	j->roll_req = true;
	pthread_cond_signal(&j->wake);
	while (j->roll_done < want)
		pthread_cond_wait(&j->rolled, &j->lock);
	uint64_t first = j->seg_first;
	pthread_mutex_unlock(&j->lock);
	return first;
}

size_t journal_segments(struct journal *j, uint64_t **ret)
{
	return list_segments(j, ret);
}

void journal_get_stats(struct journal *j, struct journal_stats *ret)
{
	pthread_mutex_lock(&j->lock);
	*ret = j->stats;
	pthread_mutex_unlock(&j->lock);
}

struct journal *journal_close(struct journal *j)
{
	if (!j)
		return NULL;
	if (j->fd >= 0) {
		pthread_mutex_lock(&j->lock);
		j->stop = true;
		pthread_cond_signal(&j->wake);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
		close(j->fd);
	}
	complete_on_loop(-1, 0, j);
	if (j->complete_ev)
		event_free(j->complete_ev);
	pthread_mutex_destroy(&j->lock);
	pthread_mutex_destroy(&j->order);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->durable);
	pthread_cond_destroy(&j->rolled);
	free(j->seg_path);
	free(j->dir);
	free(j);
	return NULL;
}
