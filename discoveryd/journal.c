#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "jsonv.h"
#include "lines.h"
#include "log.h"
#include "xalloc.h"

/* Compact when the journal reaches this many times its compacted size (and at least
 * the floor): appends stay cheap and the file stays within a small factor of the
 * registry. */
#define COMPACT_FACTOR 4
#define COMPACT_FLOOR (4u << 20)
#define JOURNAL_MAX (1u << 30)

struct chunk {
	char *text;
	size_t len;
	struct chunk *next;
};

struct journal {
	char *path;
	int fd;
	off_t size, compacted;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	struct chunk *head, **tail;
	uint64_t appended, written, compactions;
	bool stop;
};

/* ---- reading ---- */

static int64_t get_i64(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static bool parse_checkpoint(json_object *o, double *at, uint64_t *epoch, uint64_t *rev, bool *clean)
{
	json_object *c;
	const char *ep;
	struct json_err e;
	if (!json_object_object_get_ex(o, "checkpoint", &c))
		return false;
	int64_t r = get_i64(o, "rev");
	if (jv_double(o, "checkpoint", true, 0, 1e11, at, &e) < 0 ||
	    jv_string(o, "epoch", true, 1, 16, &ep, &e) < 0 || r < 0)
		return false;
	*epoch = strtoull(ep, NULL, 16);
	*rev = (uint64_t)r;
	*clean = false; /* absent, or not a boolean: jv_bool leaves it */
	jv_bool(o, "clean", false, clean, &e);
	return true;
}

/* Lines of text, NUL-terminated in place; the last may be torn. */
static char *next_line(char **p, char *end, bool *complete)
{
	if (*p >= end)
		return NULL;
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	*complete = nl != NULL;
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = end;
	}
	return s;
}

/* The JSON of one complete line (NUL-terminated in place): a checksummed line (lines.h)
 * or an older discoveryd's bare JSON. NULL, saying why, for a line that fails its length
 * or checksum: a flipped bit would otherwise be read as another server, host or port. */
static char *line_json(char *line, char *why, size_t why_len)
{
	const char *json;
	size_t json_len;
	if (line_check(line, strlen(line), &json, &json_len, why, why_len) == LINE_BAD)
		return NULL;
	return (char *)json; /* it ends where the line ends */
}

int journal_load(const char *path, struct registry *reg, uint64_t *epoch, uint64_t *rev,
		 bool *clean, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, JOURNAL_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s", fs_read_error(r));
		return r == -ENOENT ? -ENOENT : -EINVAL;
	}
	/* First the last checkpoint: it dates the records before it. */
	double alive_at = 0;
	*epoch = 0;
	*rev = 0;
	*clean = false;
	char *copy = xmalloc(len + 1);
	memcpy(copy, text, len + 1);
	char *p = copy, *end = copy + len, *line;
	bool complete;
	char why[120];
	while ((line = next_line(&p, end, &complete))) {
		if (!strstr(line, "\"checkpoint\"") || !(line = line_json(line, why, sizeof why)))
			continue;
		json_object *o = json_tokener_parse(line);
		if (o)
			parse_checkpoint(o, &alive_at, epoch, rev, clean);
		json_object_put(o);
	}
	free(copy);
	p = text;
	end = text + len;
	size_t lineno = 0;
	r = 0;
	while ((line = next_line(&p, end, &complete))) {
		lineno++;
		if (!*line)
			continue;
		char *json = line_json(line, why, sizeof why);
		if (!json && complete) {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			r = -EINVAL;
			break;
		}
		json_object *o = json ? json_tokener_parse(json) : NULL;
		struct json_err e = {{0}};
		double at;
		uint64_t ep, rv;
		bool cl;
		if (o && json_object_is_type(o, json_type_object) &&
		    (parse_checkpoint(o, &at, &ep, &rv, &cl) ||
		     registry_apply_record(reg, o, alive_at, &e) == 0)) {
			json_object_put(o);
			continue;
		}
		json_object_put(o);
		if (!complete)
			break; /* torn by a crash in the middle of an append */
		snprintf(err, errlen, "line %zu: %s", lineno,
			 e.msg[0] ? e.msg : "not a JSON object");
		r = -EINVAL;
		break;
	}
	free(text);
	struct json_err e = {{0}};
	if (r == 0 && registry_order_revisions(reg, &e) < 0) {
		snprintf(err, errlen, "%s", e.msg);
		r = -EINVAL;
	}
	return r;
}

/* ---- writing ---- */

/* Each line of text (JSON, '\n'-ended) checksummed (lines.h), here on the writer thread
 * rather than on the event loop that made them. */
static char *frame_lines(const char *text, size_t len, size_t *ret_len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, ret_len);
	if (!f)
		abort();
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)((nl ? nl : end) - p);
		line_put(f, p, l);
		p += l + 1;
	}
	fclose(f);
	return out;
}

static void open_append(struct journal *j)
{
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->fd < 0)
		fatal("cannot open %s: %s", j->path, strerror(errno));
	struct stat st;
	if (fstat(j->fd, &st) < 0)
		fatal("cannot stat %s: %s", j->path, strerror(errno));
	j->size = st.st_size;
}

struct folded {
	char id[SERVER_ID_MAX + 1];
	uint64_t rev;
	const char *line;
};

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded *)a)->id, ((const struct folded *)b)->id);
}

static int rev_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct folded *const *)a)->rev, y = (*(struct folded *const *)b)->rev;
	return x < y ? -1 : x > y;
}

static struct folded **collected;
static size_t n_collected;

static void collect(const void *node, VISIT which, int depth)
{
	if (which == postorder || which == leaf)
		collected[n_collected++] = *(struct folded *const *)node;
}

/* One record into the fold: the latest line of each server wins, a removal drops it. */
static void fold_record(void **tree, size_t *n, const char *line, json_object *o)
{
	/* Read as registry_apply_record reads it: a string "removed" (null is none), else
	 * the entry's "server_id". A line it would refuse is left out of the fold. */
	const char *gone = NULL, *id = NULL;
	struct json_err e;
	if (jv_string(o, "removed", false, 1, SERVER_ID_MAX, &gone, &e) < 0 ||
	    (!gone && jv_string(o, "server_id", true, 1, SERVER_ID_MAX, &id, &e) < 0))
		return;
	if (gone)
		id = gone;
	struct folded key, *f;
	snprintf(key.id, sizeof key.id, "%s", id);
	void *found = tfind(&key, tree, folded_cmp);
	bool removed = gone != NULL;
	if (found && removed) {
		f = *(struct folded **)found;
		tdelete(f, tree, folded_cmp);
		free(f);
		(*n)--;
		return;
	}
	if (removed)
		return;
	if (found) {
		f = *(struct folded **)found;
	} else {
		f = xcalloc(1, sizeof *f);
		*f = key;
		if (!tsearch(f, tree, folded_cmp))
			abort();
		(*n)++;
	}
	f->line = line;
	f->rev = (uint64_t)get_i64(o, "rev");
}

/* The folded lines in revision order, then the checkpoint, as the new journal's text. */
static char *folded_text(void *tree, size_t n, const char *checkpoint, size_t *len)
{
	collected = xcalloc(n ? n : 1, sizeof *collected);
	n_collected = 0;
	twalk(tree, collect);
	qsort(collected, n_collected, sizeof *collected, rev_cmp);
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	if (!f)
		abort();
	for (size_t i = 0; i < n_collected; i++)
		line_put(f, collected[i]->line, strlen(collected[i]->line));
	if (checkpoint)
		line_put(f, checkpoint, strlen(checkpoint));
	fclose(f);
	return out;
}

/* Folds the journal to one line per live server, in revision order, and the last
 * checkpoint. Runs on the writer thread only (twalk's callback uses the statics). */
static void compact(struct journal *j)
{
	char *text;
	size_t len;
	int r = fs_read_file(j->path, JOURNAL_MAX, &text, &len);
	if (r < 0)
		fatal("cannot read %s to compact it: %s", j->path, fs_read_error(r));
	void *tree = NULL;
	size_t n = 0;
	const char *checkpoint = NULL;
	char *p = text, *end = text + len, *line;
	bool complete;
	while ((line = next_line(&p, end, &complete))) {
		char why[120];
		if (!*line || !complete || !(line = line_json(line, why, sizeof why)))
			continue;
		json_object *o = json_tokener_parse(line);
		if (!o)
			continue;
		if (json_object_object_get_ex(o, "checkpoint", NULL))
			checkpoint = line;
		else
			fold_record(&tree, &n, line, o);
		json_object_put(o);
	}
	size_t used;
	char *out = folded_text(tree, n, checkpoint, &used);
	fs_write_atomic_or_die(j->path, out, used);
	free(out);
	for (size_t i = 0; i < n_collected; i++) {
		tdelete(collected[i], &tree, folded_cmp);
		free(collected[i]);
	}
	free(collected);
	collected = NULL;
	free(text);
	close(j->fd);
	open_append(j);
	j->compacted = j->size;
	j->compactions++;
}

static void *journal_main(void *arg)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->head && !j->stop)
			pthread_cond_wait(&j->wake, &j->lock);
		if (!j->head && j->stop)
			break;
		struct chunk *c = j->head;
		uint64_t seq = j->appended;
		j->head = NULL;
		j->tail = &j->head;
		pthread_mutex_unlock(&j->lock);
		while (c) {
			struct chunk *next = c->next;
			size_t len;
			char *framed = frame_lines(c->text, c->len, &len);
			int w = fs_write_all(j->fd, framed, len);
			if (w < 0)
				fatal("cannot append to %s: %s", j->path, strerror(-w));
			j->size += (off_t)len;
			free(framed);
			free(c->text);
			free(c);
			c = next;
		}
		if (fdatasync(j->fd) < 0)
			fatal("cannot sync %s: %s", j->path, strerror(errno));
		off_t limit = j->compacted * COMPACT_FACTOR;
		if (limit < (off_t)COMPACT_FLOOR)
			limit = COMPACT_FLOOR;
		if (j->size > limit)
			compact(j);
		pthread_mutex_lock(&j->lock);
		j->written = seq;
		pthread_cond_broadcast(&j->done);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* A crash in the middle of an append leaves a torn last line; appending after it would
 * glue the next record to it. */
static void cut_torn_tail(const char *path)
{
	char *text;
	size_t len;
	if (fs_read_file(path, JOURNAL_MAX, &text, &len) < 0)
		return;
	if (len > 0 && text[len - 1] != '\n') {
		char *nl = memrchr(text, '\n', len);
		off_t keep = nl ? (off_t)(nl - text) + 1 : 0;
		if (truncate(path, keep) < 0)
			fatal("cannot truncate the torn end of %s: %s", path, strerror(errno));
		log_notice("%s: dropped a torn last record (%zu bytes)", path, len - (size_t)keep);
	}
	free(text);
}

struct journal *journal_new(const char *path)
{
	struct journal *j = xcalloc(1, sizeof *j);
	j->path = xstrdup(path);
	cut_torn_tail(path);
	open_append(j);
	/* A fresh journal file must survive a crash: its directory entry too. */
	char *dir = strdup(path), *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		fs_fsync_dir_or_die(dir);
	}
	free(dir);
	j->compacted = j->size;
	j->tail = &j->head;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->wake, NULL);
	pthread_cond_init(&j->done, NULL);
	if (pthread_create(&j->thread, NULL, journal_main, j) != 0)
		abort();
	return j;
}

void journal_append(struct journal *j, char *text, size_t len)
{
	struct chunk *c = xcalloc(1, sizeof *c);
	c->text = text;
	c->len = len;
	pthread_mutex_lock(&j->lock);
	*j->tail = c;
	j->tail = &c->next;
	j->appended++;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
}

void journal_flush(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	while (j->written < j->appended)
		pthread_cond_wait(&j->done, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

uint64_t journal_writes(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	uint64_t n = j->written;
	pthread_mutex_unlock(&j->lock);
	return n;
}

uint64_t journal_compactions(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	uint64_t n = j->compactions;
	pthread_mutex_unlock(&j->lock);
	return n;
}

struct journal *journal_free(struct journal *j)
{
	if (!j)
		return NULL;
	journal_flush(j);
	pthread_mutex_lock(&j->lock);
	j->stop = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	close(j->fd);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->done);
	free(j->path);
	free(j);
	return NULL;
}
