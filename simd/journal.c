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
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "log.h"

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
	pthread_t thread;
	pthread_mutex_t lock; /* queue, counters */
	pthread_cond_t wake, durable;
	pthread_mutex_t order; /* journal_lock */
	struct pending_list queue, completed;
	uint64_t next_seq, durable_seq;
	uint64_t compact_upto;
	bool compact_req, stop;
	struct event *complete_ev;
	struct journal_stats stats;
};

static char *segment_path(const struct journal *j, uint64_t first)
{
	char name[40];
	snprintf(name, sizeof name, "%020" PRIu64 ".log", first);
	return fs_path_join(j->dir, name);
}

static void open_segment(struct journal *j, uint64_t first)
{
	if (j->fd >= 0 && close(j->fd) < 0)
		fatal("journal: close failed: %s", strerror(errno));
	char *p = segment_path(j, first);
	/* Out of descriptors is transient (see fs_write_atomic_or_die): wait a while. */
	for (int waited_ms = 0;; waited_ms += 100) {
		j->fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (j->fd >= 0 || (errno != EMFILE && errno != ENFILE) || waited_ms >= 60000)
			break;
		usleep(100 * 1000);
	}
	if (j->fd < 0)
		fatal("journal: cannot open %s: %s", p, strerror(errno));
	free(p);
	int r = fs_fsync_dir(j->dir);
	if (r < 0)
		fatal("journal: cannot fsync %s: %s", j->dir, strerror(-r));
	j->seg_first = first;
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
		v = realloc(v, (n + 1) * sizeof *v);
		if (!v)
			abort();
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
	pthread_mutex_unlock(&j->lock);
	struct pending *p;
	while ((p = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, p, link);
		if (p->done)
			p->done(p->arg);
		free(p);
	}
}

static void delete_old_segments(struct journal *j, uint64_t upto)
{
	uint64_t *segs;
	size_t n = list_segments(j, &segs);
	/* Segment i holds [segs[i], segs[i+1]-1]; the current one is never deleted. */
	for (size_t i = 0; i + 1 < n; i++) {
		if (segs[i + 1] - 1 > upto || segs[i] == j->seg_first)
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
		while (TAILQ_EMPTY(&j->queue) && !j->stop && !j->compact_req)
			pthread_cond_wait(&j->wake, &j->lock);
		if (j->compact_req && TAILQ_EMPTY(&j->queue)) {
			uint64_t upto = j->compact_upto;
			j->compact_req = false;
			pthread_mutex_unlock(&j->lock);
			open_segment(j, j->durable_seq + 1);
			delete_old_segments(j, upto);
			pthread_mutex_lock(&j->lock);
			continue;
		}
		if (TAILQ_EMPTY(&j->queue) && j->stop)
			break;
		struct pending_list batch = TAILQ_HEAD_INITIALIZER(batch);
		TAILQ_CONCAT(&batch, &j->queue, link);
		pthread_mutex_unlock(&j->lock);

		size_t n = 0, bytes = 0;
		uint64_t last = 0;
		struct pending *p;
		TAILQ_FOREACH(p, &batch, link) {
			n++;
			bytes += p->len;
		}
		char *buf = malloc(bytes);
		if (!buf)
			abort();
		size_t off = 0;
		TAILQ_FOREACH(p, &batch, link) {
			memcpy(buf + off, p->line, p->len);
			off += p->len;
			free(p->line);
			p->line = NULL;
			last = p->seq;
		}
		for (off = 0; off < bytes;) {
			ssize_t w = write(j->fd, buf + off, bytes - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				fatal("journal: write failed: %s", strerror(errno));
			off += (size_t)w;
		}
		free(buf);
		if (fdatasync(j->fd) < 0)
			fatal("journal: fdatasync failed: %s; stopping so nothing unsafe is "
			      "acknowledged", strerror(errno));

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

struct journal *journal_open(const char *dir, struct event_base *base)
{
	struct journal *j = calloc(1, sizeof *j);
	if (!j || !(j->dir = strdup(dir)))
		abort();
	j->fd = -1;
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("journal: cannot create %s: %s", dir, strerror(-r));
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->order, NULL);
	pthread_cond_init(&j->wake, NULL);
	pthread_cond_init(&j->durable, NULL);
	TAILQ_INIT(&j->queue);
	TAILQ_INIT(&j->completed);
	j->next_seq = 1;
	if (base) {
		j->complete_ev = event_new(base, -1, 0, complete_on_loop, j);
		if (!j->complete_ev)
			abort();
	}
	return j;
}

/* Parse one segment; cut a torn tail when it is the last segment. */
static int replay_segment(struct journal *j, const char *path, bool last_segment, uint64_t after,
			  int (*fn)(void *, uint64_t, json_object *, struct json_err *), void *arg,
			  struct json_err *e)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, (size_t)1 << 34, &text, &len);
	if (r < 0)
		return jv_fail(e, "%s: %s", path, strerror(-r));
	size_t off = 0;
	r = 0;
	while (off < len) {
		char *nl = memchr(text + off, '\n', len - off);
		size_t line_len = nl ? (size_t)(nl - (text + off)) : len - off;
		e->msg[0] = '\0';
		json_object *rec = nl ? jv_parse_object(text + off, line_len, 64, e) : NULL;
		int64_t seq = 0;
		if (rec && jv_int64(rec, "seq", true, 1, INT64_MAX, &seq, e) < 0) {
			json_object_put(rec);
			rec = NULL;
		}
		if (!rec) {
			bool tail = !nl || (size_t)(nl - text) + 1 == len;
			if (last_segment && tail) {
				/* Never fsynced, so never acknowledged: safe to drop. */
				log_notice("journal %s: dropping a torn last record (%zu bytes) left by "
					   "a crash during a write", path, len - off);
				if (truncate(path, (off_t)off) < 0)
					fatal("cannot truncate %s: %s", path, strerror(errno));
				break;
			}
			char why[sizeof e->msg];
			snprintf(why, sizeof why, "%s", e->msg);
			r = jv_fail(e, "%s: record at byte %zu is damaged (%s); refusing to guess "
				       "what the state was", path, off, why);
			break;
		}
		if ((uint64_t)seq < j->next_seq) {
			json_object_put(rec);
			r = jv_fail(e, "%s: record %" PRId64 " is out of order", path, seq);
			break;
		}
		j->next_seq = (uint64_t)seq + 1;
		if ((uint64_t)seq > after)
			r = fn(arg, (uint64_t)seq, rec, e);
		json_object_put(rec);
		if (r < 0)
			break;
		off += line_len + 1;
	}
	free(text);
	return r;
}

int journal_replay(struct journal *j, uint64_t after,
		   int (*fn)(void *arg, uint64_t seq, json_object *rec, struct json_err *e),
		   void *arg, struct json_err *e)
{
	uint64_t *segs;
	size_t n = list_segments(j, &segs);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (segs[i] > j->next_seq)
			j->next_seq = segs[i];
		char *p = segment_path(j, segs[i]);
		r = replay_segment(j, p, i + 1 == n, after, fn, arg, e);
		free(p);
	}
	free(segs);
	if (r < 0)
		return r;
	if (j->next_seq <= after)
		j->next_seq = after + 1;
	j->durable_seq = j->next_seq - 1;
	open_segment(j, j->next_seq);
	if (pthread_create(&j->thread, NULL, writer_main, j) != 0)
		abort();
	return 0;
}

uint64_t journal_next_seq(struct journal *j)
{
	return j->next_seq++;
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
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->len = strlen(s) + 1;
	p->line = malloc(p->len);
	if (!p->line)
		abort();
	memcpy(p->line, s, p->len - 1);
	p->line[p->len - 1] = '\n';
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

void journal_compact(struct journal *j, uint64_t upto)
{
	pthread_mutex_lock(&j->lock);
	j->compact_upto = upto;
	j->compact_req = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
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
	free(j->dir);
	free(j);
	return NULL;
}
