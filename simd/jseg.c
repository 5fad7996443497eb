/* Journal segment files: header, preallocated room, padding (jseg.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jseg.h"
#include "lines.h"
#include "log.h"
#include "xalloc.h"

/* Version 3 adds the batch markers (jseg_marker); version 2 segments are read as before
 * and written on without markers until the next roll, so an older simd reads them. */
#define JSEG_VERSION 3
#define JSEG_HEADER "{\"journal_segment\":%d,\"chunk\":%zu}"

/* The header says the segment is padded, and in which chunks it grows; a record is never
 * a header (every record has "seq"). 1 header, 0 none, -1 damaged. */
static int read_header(const char *path, const char *text, size_t len, size_t *chunk,
		       size_t *header_len, int *version, struct json_err *e)
{
	const char *nl = memchr(text, '\n', len);
	const char *json;
	size_t json_len;
	char why[200];
	if (!nl ||
	    line_check(text, (size_t)(nl - text), &json, &json_len, why, sizeof why) != LINE_OK)
		return 0; /* a record's line, or none: replay judges it */
	json_object *o = jv_parse_object(json, json_len, 4, e), *v;
	if (!o || json_object_object_get_ex(o, "seq", NULL) ||
	    !json_object_object_get_ex(o, "journal_segment", &v)) {
		json_object_put(o);
		return 0;
	}
	int64_t ver = json_object_get_int64(v), c = 0;
	int r = jv_int64(o, "chunk", true, 4096, (int64_t)1 << 30, &c, e);
	json_object_put(o);
	if (r < 0 || ver < 2 || ver > JSEG_VERSION) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%s", r < 0 ? e->msg : "an unknown version");
		return jv_fail(e, "%s: its header is not one this simd reads (%s)", path, m);
	}
	*chunk = (size_t)c;
	*header_len = (size_t)(nl - text) + 1;
	*version = (int)ver;
	return 1;
}

int jseg_layout(const char *path, const char *text, size_t len, struct jseg_layout *lay,
		struct json_err *e)
{
	memset(lay, 0, sizeof *lay);
	lay->end = len;
	lay->size = len;
	size_t chunk = 0, header_len = 0;
	int version = 0;
	int r = read_header(path, text, len, &chunk, &header_len, &version, e);
	if (r <= 0)
		return r;
	/* Written whole, grown in whole chunks before anything needs the room, the last byte
	 * never written: any other shape is a cut. */
	if (len % chunk != 0 || text[len - 1] != '\0')
		return jv_fail(e,
			       "%s is %zu bytes, not whole %zu-byte chunks ending in padding: it "
			       "was cut short after it was written, and acknowledged records may "
			       "be gone. simd will not guess what it said: restore the journal "
			       "from a backup",
			       path, len, chunk);
	lay->padded = true;
	lay->marked = version >= 3;
	lay->start = header_len;
	const char *nul = memchr(text + header_len, '\0', len - header_len);
	lay->end = (size_t)(nul - text);
	for (size_t i = lay->end; i < len && !lay->after_padding; i++)
		lay->after_padding = text[i] != '\0';
	return 0;
}

/* Room up to size: reserved where the file system can (so a full disk fails here, not
 * at a write), else a sparse extension, which reads as NULs all the same. Either sets the
 * size in one step: glibc's posix_fallocate, where the file system has no fallocate,
 * writes a byte a block, and a crash in between would leave a size that is not whole
 * chunks, which reads as a cut. */
static void grow(int fd, const char *path, off_t from, off_t to)
{
	int r = fallocate(fd, 0, from, to - from) < 0 ? errno : 0;
	if (r == EOPNOTSUPP || r == ENOSYS)
		r = ftruncate(fd, to) < 0 ? errno : 0;
	if (r != 0)
		fatal("journal: cannot make room in %s: %s", path, strerror(r));
}

static void write_at(int fd, const char *path, off_t off, const char *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = pwrite(fd, buf + done, len - done, off + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			fatal("journal: write to %s failed: %s", path, strerror(errno));
		done += (size_t)w;
	}
}

int jseg_create(const char *dir, const char *path, off_t *ret_off, off_t *ret_size)
{
	char *tmp = xasprintf("%s.tmp", path);
	if (unlink(tmp) < 0 && errno != ENOENT)
		fatal("journal: cannot remove %s: %s", tmp, strerror(errno));
	int fd = fs_open_or_die(tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
	char json[64];
	int jl = snprintf(json, sizeof json, JSEG_HEADER, JSEG_VERSION, JSEG_CHUNK);
	size_t hl;
	char *header = line_frame(json, (size_t)jl, &hl);
	grow(fd, tmp, 0, (off_t)JSEG_CHUNK);
	write_at(fd, tmp, 0, header, hl);
	free(header);
	if (fdatasync(fd) < 0)
		fatal("journal: fdatasync of %s failed: %s", tmp, strerror(errno));
	if (rename(tmp, path) < 0)
		fatal("journal: cannot rename %s: %s", tmp, strerror(errno));
	free(tmp);
	fs_fsync_dir_or_die(dir);
	*ret_off = (off_t)hl;
	*ret_size = (off_t)JSEG_CHUNK;
	return fd;
}

void jseg_write(int fd, const char *path, off_t *off, off_t *size, const char *buf, size_t len)
{
	off_t need = *off + (off_t)len;
	if (need >= *size) {
		off_t to = (need / (off_t)JSEG_CHUNK + 1) * (off_t)JSEG_CHUNK;
		grow(fd, path, *size, to);
		*size = to;
	}
	write_at(fd, path, *off, buf, len);
	*off = need;
}

char *jseg_marker(uint64_t durable, size_t *len)
{
	char json[48];
	int n = snprintf(json, sizeof json, "{\"durable\":%" PRIu64 "}", durable);
	return line_frame(json, (size_t)n, len);
}

int jseg_marker_read(const char *line, size_t len, uint64_t *durable)
{
	const char *json;
	size_t json_len;
	char why[200];
	/* Cheap refusals first: replay asks this of every line, and a record's checksum is
	 * checked once, by the caller. */
	const char *brace = len < 24 ? NULL : memchr(line, '{', 24);
	if (!brace || (size_t)(line + len - brace) < 12 ||
	    strncmp(brace, "{\"durable\":", 11) != 0 ||
	    line_check(line, len, &json, &json_len, why, sizeof why) != LINE_OK)
		return 0;
	if (json_len < 12 || strncmp(json, "{\"durable\":", 11) != 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long long d = strtoull(json + 11, &end, 10);
	if (errno || end == json + 11 || end != json + json_len - 1 || *end != '}')
		return 0;
	*durable = d;
	return 1;
}

void jseg_zero(const char *path, size_t from, size_t to)
{
	int fd = fs_open_or_die(path, O_WRONLY, 0);
	static const char zeros[65536];
	for (size_t at = from; at < to;) {
		size_t n = to - at < sizeof zeros ? to - at : sizeof zeros;
		write_at(fd, path, (off_t)at, zeros, n);
		at += n;
	}
	if (fdatasync(fd) < 0)
		fatal("journal: fdatasync of %s failed: %s", path, strerror(errno));
	close(fd);
}
