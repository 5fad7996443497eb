/* Transfer history: a ring of the newest transfers with a hash index by transfer_id,
 * and the rotated JSON-lines log. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "history.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define NIL UINT32_MAX

struct slot {
	struct transfer_record r;
	uint32_t next; /* hash chain */
	bool used;
};

struct history {
	struct slot *slots;
	size_t cap, n, head; /* head: where the next new transfer goes (the oldest when full) */
	uint32_t *buckets;
	size_t nbuckets;
	char *path; /* transfers.log, NULL when memory only */
	int fd;
	size_t size, rotate_bytes;
	int keep;
	struct history_io_stats io;
	bool write_failed_logged;
	bool torn; /* the file ends in a line a short write cut (a full disk) */
};

const char *transfer_state_name(enum transfer_state s)
{
	switch (s) {
	case TS_PENDING:
		return "pending";
	case TS_COMMITTED:
		return "committed";
	case TS_ABORTED:
		return "aborted";
	}
	return "?";
}

static int state_from_name(const char *s, enum transfer_state *ret)
{
	for (int i = TS_PENDING; i <= TS_ABORTED; i++)
		if (strcmp(s, transfer_state_name((enum transfer_state)i)) == 0) {
			*ret = (enum transfer_state)i;
			return 0;
		}
	return -EINVAL;
}

void transfer_record_init(struct transfer_record *r, const char *transfer_id, const char *fish_id,
			  const struct transfer_route *route, enum transfer_state st,
			  const char *error)
{
	double now = now_wall();
	*r = (struct transfer_record){
		.timestamp = now,
		.created_at = now,
		.state = st,
		.attempts = 1,
	};
	if (transfer_id && *transfer_id)
		snprintf(r->transfer_id, sizeof r->transfer_id, "%s", transfer_id);
	else
		uuid_random_str(r->transfer_id);
	snprintf(r->entity_type, sizeof r->entity_type, "fish");
	snprintf(r->fish_id, sizeof r->fish_id, "%s", fish_id ? fish_id : "");
	snprintf(r->source_server_id, sizeof r->source_server_id, "%s", route->source_server_id);
	snprintf(r->source_tank_id, sizeof r->source_tank_id, "%s", route->source_tank_id);
	snprintf(r->destination_server_id, sizeof r->destination_server_id, "%s",
		 route->destination_server_id);
	snprintf(r->destination_tank_id, sizeof r->destination_tank_id, "%s",
		 route->destination_tank_id);
	snprintf(r->connection_id, sizeof r->connection_id, "%s", route->connection_id);
	snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

json_object *transfer_record_to_json(const struct transfer_record *r)
{
	char ts[32], created[32];
	iso8601_utc(r->timestamp, ts);
	iso8601_utc(r->created_at, created);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "transfer_id", json_object_new_string(r->transfer_id));
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "created_at", json_object_new_string(created));
	json_object_object_add(o, "entity_type", json_object_new_string(r->entity_type));
	json_object_object_add(o, "entity_old_id", str_or_null(r->fish_id));
	json_object_object_add(o, "entity_new_id", str_or_null(r->fish_id));
	json_object_object_add(o, "source_server_id", json_object_new_string(r->source_server_id));
	json_object_object_add(o, "source_tank_id", json_object_new_string(r->source_tank_id));
	json_object_object_add(o, "destination_server_id",
			       json_object_new_string(r->destination_server_id));
	json_object_object_add(o, "destination_tank_id",
			       json_object_new_string(r->destination_tank_id));
	json_object_object_add(o, "connection_id", str_or_null(r->connection_id));
	json_object_object_add(o, "state", json_object_new_string(transfer_state_name(r->state)));
	json_object_object_add(o, "success", json_object_new_boolean(r->state == TS_COMMITTED));
	json_object_object_add(o, "error", str_or_null(r->error));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "local", json_object_new_boolean(r->local));
	return o;
}

static int copy_str(json_object *o, const char *key, bool required, char *out, size_t size,
		    struct json_err *e)
{
	const char *v = NULL;
	int r = jv_string(o, key, required, required ? 1 : 0, size - 1, &v, e);
	if (r < 0)
		return r;
	snprintf(out, size, "%s", r > 0 ? v : "");
	return 0;
}

int transfer_record_from_json(json_object *o, struct transfer_record *r, struct json_err *e)
{
	struct transfer_record x = {0};
	const char *ts, *created = NULL, *state;
	if (copy_str(o, "transfer_id", true, x.transfer_id, sizeof x.transfer_id, e) < 0 ||
	    jv_string(o, "timestamp", true, 1, 40, &ts, e) < 0 ||
	    jv_string(o, "created_at", false, 1, 40, &created, e) < 0 ||
	    copy_str(o, "entity_type", true, x.entity_type, sizeof x.entity_type, e) < 0 ||
	    copy_str(o, "entity_old_id", false, x.fish_id, sizeof x.fish_id, e) < 0 ||
	    copy_str(o, "source_server_id", true, x.source_server_id, sizeof x.source_server_id,
		     e) < 0 ||
	    copy_str(o, "source_tank_id", true, x.source_tank_id, sizeof x.source_tank_id, e) < 0 ||
	    copy_str(o, "destination_server_id", true, x.destination_server_id,
		     sizeof x.destination_server_id, e) < 0 ||
	    copy_str(o, "destination_tank_id", true, x.destination_tank_id,
		     sizeof x.destination_tank_id, e) < 0 ||
	    copy_str(o, "connection_id", false, x.connection_id, sizeof x.connection_id, e) < 0 ||
	    jv_string(o, "state", true, 1, 16, &state, e) < 0 ||
	    copy_str(o, "error", false, x.error, sizeof x.error, e) < 0 ||
	    jv_int(o, "attempts", false, 0, 1 << 30, &x.attempts, e) < 0 ||
	    jv_bool(o, "local", false, &x.local, e) < 0)
		return -EINVAL;
	if (iso8601_parse(ts, &x.timestamp) < 0)
		return jv_fail(e, "'timestamp' is not an ISO 8601 time");
	if (created && iso8601_parse(created, &x.created_at) < 0)
		return jv_fail(e, "'created_at' is not an ISO 8601 time");
	if (!created)
		x.created_at = x.timestamp;
	if (state_from_name(state, &x.state) < 0)
		return jv_fail(e, "'state' must be pending, committed or aborted");
	*r = x;
	return 0;
}

static uint32_t find_slot(const struct history *h, const char *id)
{
	uint32_t i = h->buckets[str_hash(id) & (h->nbuckets - 1)];
	while (i != NIL && strcmp(h->slots[i].r.transfer_id, id) != 0)
		i = h->slots[i].next;
	return i;
}

static void unlink_slot(struct history *h, uint32_t idx)
{
	uint32_t *p = &h->buckets[str_hash(h->slots[idx].r.transfer_id) & (h->nbuckets - 1)];
	while (*p != NIL && *p != idx)
		p = &h->slots[*p].next;
	if (*p == idx)
		*p = h->slots[idx].next;
}

static void upsert_memory(struct history *h, const struct transfer_record *r)
{
	uint32_t i = find_slot(h, r->transfer_id);
	if (i != NIL) {
		double created = h->slots[i].r.created_at;
		h->slots[i].r = *r;
		if (created > 0 && created < r->created_at)
			h->slots[i].r.created_at = created;
		return;
	}
	uint32_t idx = (uint32_t)h->head;
	if (h->slots[idx].used)
		unlink_slot(h, idx);
	else
		h->n++;
	h->slots[idx].r = *r;
	h->slots[idx].used = true;
	uint32_t *b = &h->buckets[str_hash(r->transfer_id) & (h->nbuckets - 1)];
	h->slots[idx].next = *b;
	*b = idx;
	h->head = (h->head + 1) % h->cap;
}

static char *rotated_name(const struct history *h, int k)
{
	size_t n = strlen(h->path) + 16;
	char *p = xmalloc(n);
	snprintf(p, n, "%s.%d", h->path, k);
	return p;
}

static void load_file(struct history *h, const char *path, struct history_load_stats *st)
{
	char *text;
	size_t len;
	if (fs_read_file(path, h->rotate_bytes * 2 + (1u << 20), &text, &len) < 0)
		return;
	st->files++;
	char *line = text;
	while (line < text + len) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
		if (l > 0) {
			struct json_err e;
			struct transfer_record r;
			json_object *o = jv_parse_object(line, l, 8, &e);
			st->lines++;
			if (o && transfer_record_from_json(o, &r, &e) == 0)
				upsert_memory(h, &r);
			else
				st->bad_lines++; /* e.g. a line cut short by a crash */
			json_object_put(o);
		}
		line += l + 1;
	}
	free(text);
}

static int open_log(struct history *h)
{
	h->fd = open(h->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (h->fd < 0)
		return -errno;
	struct stat s;
	h->size = fstat(h->fd, &s) == 0 ? (size_t)s.st_size : 0;
	/* A line cut short by a crash: end it, so the next line starts clean (or, on a disk
	 * still full, let the next append end it). */
	char last;
	h->torn = false;
	if (h->size > 0 && pread(h->fd, &last, 1, (off_t)h->size - 1) == 1 && last != '\n') {
		if (write(h->fd, "\n", 1) == 1)
			h->size++;
		else
			h->torn = true;
	}
	return 0;
}

struct history *history_new(const struct history_opts *opts, struct history_load_stats *st, int *err)
{
	struct history_load_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	struct history *h = xcalloc(1, sizeof *h);
	h->cap = opts->memory ? opts->memory : 10000;
	h->rotate_bytes = opts->rotate_bytes ? opts->rotate_bytes : (4u << 20);
	h->keep = opts->keep > 0 ? opts->keep : 4;
	h->fd = -1;
	h->slots = xcalloc(h->cap, sizeof *h->slots);
	for (h->nbuckets = 16; h->nbuckets < h->cap * 2; h->nbuckets *= 2)
		;
	h->buckets = xreallocarray(NULL, h->nbuckets, sizeof *h->buckets);
	memset(h->buckets, 0xff, h->nbuckets * sizeof *h->buckets);
	if (!opts->dir)
		return h;
	h->path = fs_path_join(opts->dir, "transfers.log");
	for (int k = h->keep; k >= 1; k--) {
		char *p = rotated_name(h, k);
		load_file(h, p, st);
		free(p);
	}
	load_file(h, h->path, st);
	int r = open_log(h);
	if (r < 0) {
		if (err)
			*err = r;
		history_free(h);
		return NULL;
	}
	return h;
}

struct history *history_free(struct history *h)
{
	if (!h)
		return NULL;
	if (h->fd >= 0)
		close(h->fd);
	free(h->path);
	free(h->slots);
	free(h->buckets);
	free(h);
	return NULL;
}

static void write_failed(struct history *h, const char *what, int errnum)
{
	h->io.write_errors++;
	if (!h->write_failed_logged)
		log_err("transfer history: %s %s: %s (history is informational: going on, "
			"further errors are counted in /metrics only)",
			what, h->path, strerror(errnum));
	h->write_failed_logged = true;
}

static void rotate(struct history *h)
{
	close(h->fd);
	h->fd = -1;
	for (int k = h->keep; k >= 1; k--) {
		char *from = k == 1 ? xstrdup(h->path) : rotated_name(h, k - 1);
		char *to = rotated_name(h, k);
		if (rename(from, to) < 0 && errno != ENOENT)
			write_failed(h, "cannot rotate", errno);
		free(from);
		free(to);
	}
	h->io.rotations++;
	int r = open_log(h);
	if (r < 0)
		write_failed(h, "cannot reopen", -r);
}

static void append_line(struct history *h, const struct transfer_record *r)
{
	if (!h->path)
		return;
	json_object *o = transfer_record_to_json(r);
	const char *text = jv_to_string(o);
	size_t len = strlen(text);
	char *line = xmalloc(len + 3);
	/* After a short write the cut line is ended first: without it the next line ran on
	 * after the fragment, and load_file dropped both (an adversarial probe's reading). */
	size_t start = h->torn ? 0 : 1;
	line[0] = '\n';
	memcpy(line + 1, text, len);
	len += 1;
	line[len++] = '\n';
	len -= start;
	json_object_put(o);
	if (h->fd >= 0 && h->size > 0 && h->size + len > h->rotate_bytes)
		rotate(h);
	if (h->fd < 0 && open_log(h) < 0) {
		free(line);
		h->io.write_errors++;
		return;
	}
	/* One write() per line: O_APPEND keeps lines whole; no fsync (see history.h). */
	ssize_t w = write(h->fd, line + start, len);
	if (w < 0) {
		write_failed(h, "cannot append to", errno);
	} else if ((size_t)w != len) {
		write_failed(h, "short write to", ENOSPC);
		h->torn = true;
	} else {
		h->io.lines++;
		h->torn = false;
	}
	if (w > 0)
		h->size += (size_t)w;
	free(line);
}

void history_record(struct history *h, const struct transfer_record *r)
{
	upsert_memory(h, r);
	append_line(h, r);
}

const struct transfer_record *history_get(const struct history *h, const char *transfer_id)
{
	uint32_t i = find_slot(h, transfer_id);
	return i == NIL ? NULL : &h->slots[i].r;
}

size_t history_count(const struct history *h)
{
	return h->n;
}

static bool matches_tank(const struct transfer_record *r, const char *tank_id)
{
	return !tank_id || strcmp(r->source_tank_id, tank_id) == 0 ||
	       strcmp(r->destination_tank_id, tank_id) == 0;
}

size_t history_query_hiding(const struct history *h, const char *tank_id, bool success_only,
			    size_t limit, bool (*hide)(const struct transfer_record *, void *),
			    void *arg, const struct transfer_record **out)
{
	size_t got = 0;
	for (size_t k = 1; k <= h->n && got < limit; k++) {
		const struct transfer_record *r = &h->slots[(h->head + h->cap - k) % h->cap].r;
		if (!matches_tank(r, tank_id))
			continue;
		if (success_only && r->state != TS_COMMITTED)
			continue;
		if (hide && hide(r, arg))
			continue;
		out[got++] = r;
	}
	return got;
}

size_t history_query(const struct history *h, const char *tank_id, bool success_only, size_t limit,
		     const struct transfer_record **out)
{
	return history_query_hiding(h, tank_id, success_only, limit, NULL, NULL, out);
}

void history_tank_stats(const struct history *h, const char *tank_id,
			struct tank_transfer_stats *ret)
{
	memset(ret, 0, sizeof *ret);
	for (size_t k = 1; k <= h->n; k++) {
		const struct transfer_record *r = &h->slots[(h->head + h->cap - k) % h->cap].r;
		if (strcmp(r->source_tank_id, tank_id) == 0) {
			ret->out++;
			ret->out_success += r->state == TS_COMMITTED;
			ret->out_failed += r->state == TS_ABORTED;
			ret->out_pending += r->state == TS_PENDING;
		}
		if (strcmp(r->destination_tank_id, tank_id) == 0) {
			ret->in++;
			ret->in_success += r->state == TS_COMMITTED;
			ret->in_failed += r->state == TS_ABORTED;
			ret->in_pending += r->state == TS_PENDING;
		}
	}
}

void history_io_stats(const struct history *h, struct history_io_stats *ret)
{
	*ret = h->io;
}
