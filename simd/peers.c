/* Which servers simd accepts fish from (issue 9): the ones this server's discoveryd
 * knows. discoveryd keeps them in state_dir/discovery/registry.journal, checksummed
 * JSON lines (lines.h; bare JSON from an older discoveryd): a record with "server_id"
 * per change, {"removed": id} when one goes, checkpoints (registry.json, the single
 * document of earlier versions, when there is no journal). simd reads the file again
 * only when a sender is not in its copy and the file has changed since, so a steady
 * stream of arrivals costs one stat each. Without a registry (simd run on its own, as
 * some tests and benches do) there is nothing to check against, and every sender is
 * accepted.
 *
 * The journal only grows between discoveryd's compactions (a new file, renamed over
 * it), so what changed is read from where the last read ended: a registry of 60,000
 * servers is tens of MB, and reading it whole on the event loop for every fish from an
 * unknown sender held simd's loop 0.7-2.3 s each time (a hostile peer's audit, with a
 * token holder's registrations between its fish). The whole file is read again only
 * when it is another file (inode), shorter than what was read, or no longer holds the
 * last whole line read where it was: its head (the line's CRC-32C and length, lines.h)
 * is kept and compared, so that a compacted file that took the inode of an older one,
 * or a file edited in place, is not read on from a place that means something else
 * there. (discoveryd cuts only a torn end, after the last newline, at its start.) */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonv.h"
#include "lines.h"
#include "log.h"
#include "simd.h"

#define PEERS_MARK 32 /* bytes kept of the head of the last whole line read */

struct peers {
	char *path;
	struct timespec mtime;
	off_t size;
	bool loaded;
	json_object *ids; /* server_id -> true */
	/* The journal as far as it was folded: its file, the offset after its last whole
	 * line, where that line starts and its first bytes. */
	dev_t dev;
	ino_t ino;
	off_t done, mark_at;
	size_t mark_len;
	char mark[PEERS_MARK];
	bool warned;	   /* a failed read was logged (once until one succeeds) */
	uint64_t reads[2]; /* enum peers_read: for /metrics */
	uint64_t bytes_read;
};

static struct peers *peers_get(struct simd *sd)
{
	static struct peers p;
	if (!p.path)
		p.path = fs_path_join(sd->daemon->conf.server.state_dir,
				      "discovery/registry.journal");
	return &p;
}

static void fold_line(json_object *ids, const char *line, size_t len)
{
	struct json_err e;
	const char *json;
	size_t json_len;
	char why[100];
	/* Checksummed lines (lines.h), or an older discoveryd's bare JSON. One that fails
	 * its checksum is left out: discoveryd refuses the whole file at its next start. */
	if (line_check(line, len, &json, &json_len, why, sizeof why) == LINE_BAD)
		return;
	json_object *o = jv_parse_object(json, json_len, 16, &e), *list;
	if (!o)
		return; /* a torn last line, or a checkpoint we do not need */
	const char *id;
	if (jv_string(o, "removed", true, 1, 64, &id, &e) > 0)
		json_object_object_del(ids, id);
	else if (jv_string(o, "server_id", true, 1, SERVER_ID_MAX, &id, &e) > 0)
		json_object_object_add(ids, id, json_object_new_boolean(true));
	else if (json_object_object_get_ex(o, "servers", &list) &&
		 json_object_is_type(list, json_type_array)) /* the old registry.json */
		for (size_t i = 0; i < json_object_array_length(list); i++)
			if (jv_string(json_object_array_get_idx(list, i), "server_id", true, 1,
				      SERVER_ID_MAX, &id, &e) > 0)
				json_object_object_add(ids, id, json_object_new_boolean(true));
	json_object_put(o);
}

/* Reads [from, to) of fd into a new buffer; NULL on an error or a short read. */
static char *read_range(int fd, off_t from, off_t to, size_t *len)
{
	size_t n = (size_t)(to - from), got = 0;
	char *buf = malloc(n + 1);
	if (!buf)
		return NULL;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, from + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	*len = n;
	return buf;
}

/* Whether the file still holds, where the last whole line read started, that line's head. */
static bool mark_holds(const struct peers *p, int fd)
{
	char now[PEERS_MARK];
	size_t n = p->mark_len;
	return n > 0 && pread(fd, now, n, p->mark_at) == (ssize_t)n && memcmp(now, p->mark, n) == 0;
}

/* A failed read is logged once, until a read succeeds: every unknown sender asks again. */
static void peers_warn(struct peers *p, const char *path, const char *why)
{
	if (!p->warned)
		log_warn("cannot read the registry %s (%s): senders it does not list yet are "
			 "refused until it can be read",
			 path, why);
	p->warned = true;
}

/* Folds the journal's new whole lines into the copy, or the whole file into a new one;
 * legacy (registry.json, one document) is always read whole. */
static void peers_reload(struct peers *p, const char *path, bool legacy)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	/* The file opened is the one described: discoveryd may rename a compacted file over
	 * it between a stat by name and the open. */
	if (fd < 0 || fstat(fd, &st) < 0) {
		peers_warn(p, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_size > (off_t)(256u << 20)) {
		close(fd);
		return peers_warn(p, path, "larger than 256 MiB");
	}
	bool tail = !legacy && p->loaded && p->done > 0 && st.st_dev == p->dev &&
		    st.st_ino == p->ino && st.st_size >= p->done && mark_holds(p, fd);
	off_t from = tail ? p->done : 0;
	size_t len = 0;
	char *text = read_range(fd, from, st.st_size, &len);
	close(fd);
	if (!text)
		return peers_warn(p, path, "a short read");
	p->warned = false;
	json_object *ids = tail ? p->ids : json_object_new_object();
	size_t used = 0, last = 0; /* up to the last newline: a line still being written waits */
	for (char *line = text, *end = text + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl && !legacy)
			break;
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (n)
			fold_line(ids, line, n);
		if (nl) {
			last = (size_t)(line - text);
			used = last + n + 1;
		}
		line += n + 1;
	}
	if (!tail) {
		json_object_put(p->ids);
		p->ids = ids;
		p->mark_len = 0;
	}
	p->mtime = st.st_mtim;
	p->size = st.st_size;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->done = legacy ? 0 : from + (off_t)used;
	if (!legacy && used > 0) {
		p->mark_at = from + (off_t)last;
		p->mark_len = used - last < PEERS_MARK ? used - last : PEERS_MARK;
		memcpy(p->mark, text + last, p->mark_len);
	}
	p->loaded = true;
	p->reads[tail ? PEERS_READ_TAIL : PEERS_READ_WHOLE]++;
	p->bytes_read += len;
	free(text);
}

int peers_check(struct simd *sd, const char *server_id)
{
	if (strcmp(server_id, sd->daemon->conf.server.server_id) == 0)
		return 0;
	struct peers *p = peers_get(sd);
	if (p->loaded && json_object_object_get_ex(p->ids, server_id, NULL))
		return 0;
	struct stat st;
	const char *path = p->path;
	char *legacy = NULL;
	if (stat(path, &st) < 0) {
		legacy = fs_path_join(sd->daemon->conf.server.state_dir, "discovery/registry.json");
		path = legacy;
		if (stat(path, &st) < 0) {
			free(legacy);
			return p->loaded ? -ENOENT : 0; /* no discoveryd here: nothing to check */
		}
	}
	if (!p->loaded || st.st_mtim.tv_sec != p->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != p->mtime.tv_nsec || st.st_size != p->size)
		peers_reload(p, path, legacy != NULL);
	free(legacy);
	if (!p->loaded)
		return 0;
	return json_object_object_get_ex(p->ids, server_id, NULL) ? 0 : -ENOENT;
}

void peers_stats(struct simd *sd, uint64_t reads[2], uint64_t *bytes)
{
	const struct peers *p = peers_get(sd);
	reads[PEERS_READ_WHOLE] = p->reads[PEERS_READ_WHOLE];
	reads[PEERS_READ_TAIL] = p->reads[PEERS_READ_TAIL];
	*bytes = p->bytes_read;
}
