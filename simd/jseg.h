/* The layout of one journal segment file (docs/simd-state.md, "Segments").
 *
 * A segment simd writes now starts with a header line and is preallocated in whole
 * chunks: records follow the header, then NUL bytes to the end of the file. Its size
 * only grows, in whole chunks, before the records that need the room are written, and
 * the fdatasync that makes records durable makes the size durable with them. So a
 * segment that is shorter than whole chunks, or does not end in padding, was cut after
 * it was written: that is damage, where a line without its end in the padding is a
 * torn write (never synced, never acknowledged). A segment an older simd wrote has no
 * header and no padding, and keeps the older rules until the next snapshot round starts
 * a new one. */
#ifndef TW_JSEG_H
#define TW_JSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jsonv.h"

/* The room a new segment gets, and each growth; at most a round's records in a few. */
#define JSEG_CHUNK ((size_t)256 * 1024)

struct jseg_layout {
	bool padded;	    /* a segment with a header, preallocated */
	bool marked;	    /* version 3: each batch after the first says what was durable */
	size_t start;	    /* the first record's offset (after the header) */
	size_t end;	    /* where the records end: the first NUL, or the file's end */
	size_t size;	    /* the file's size, as read */
	bool after_padding; /* bytes other than NUL after end: a torn batch's leftovers */
};

/* Reads the layout of a segment's text (len bytes); -1 with e naming path when a padded
 * segment was cut short or its header is damaged. */
int jseg_layout(const char *path, const char *text, size_t len, struct jseg_layout *lay,
		struct json_err *e);
/* Creates path (through a temporary file, so it appears whole): the header, one chunk of
 * room, durable, its directory too. Returns the descriptor, open for writing at *ret_off
 * (the end of the header); *ret_size is the file's size. Exits on failure. */
int jseg_create(const char *dir, const char *path, off_t *ret_off, off_t *ret_size);
/* Writes len bytes at *off, first growing the file in whole chunks so that at least one
 * NUL stays after them. Not durable until the caller's fdatasync. Exits on failure. */
void jseg_write(int fd, const char *path, off_t *off, off_t *size, const char *buf, size_t len);
/* The line a batch starts with in a version-3 segment: every record up to durable was on
 * disk (fdatasync returned) before this batch was written. After a hole of NULs, such a
 * line proves the hole held durable records (damage), where a torn write only ever
 * leaves a hole inside the batch that was being written. A malloc'd framed line. */
char *jseg_marker(uint64_t durable, size_t *len);
/* 1 when line (len bytes, without its newline) is a framed marker, with *durable set. */
int jseg_marker_read(const char *line, size_t len, uint64_t *durable);
/* Overwrites [from, to) of path with NUL bytes, durably: a torn write's remains. */
void jseg_zero(const char *path, size_t from, size_t to);

#endif
