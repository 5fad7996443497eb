/* The one line format of the state files: simd's journal records, snapshot lines,
 * transfers.json and manifest, migrated's connections.json and discoveryd's
 * registry.journal are all lines of
 *
 *     <crc32c as 8 hex digits> <length in bytes> <JSON object>\n
 *
 * where the checksum and the length are of the JSON text. A line whose terminator is
 * missing can only be a write that a crash cut short; a complete line that fails its
 * length or checksum is damage, and simd refuses to guess past it. Lines written before
 * checksums existed start with '{' ("legacy"); readers accept them only while upgrading
 * a state directory that has no manifest yet (see store.c). */
#ifndef TW_LINES_H
#define TW_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Append the framed line for json (len bytes, no newline) to f. */
void line_put(FILE *f, const char *json, size_t len);
/* The framed line as a malloc'd buffer with its '\n'. */
char *line_frame(const char *json, size_t len, size_t *ret_len);

enum line_kind { LINE_OK, LINE_LEGACY, LINE_BAD };
/* Check one line (len bytes without its '\n'). On LINE_OK and LINE_LEGACY *json and
 * *json_len are the JSON text inside; on LINE_BAD why says which part is wrong. */
enum line_kind line_check(const char *line, size_t len, const char **json, size_t *json_len,
			  char *why, size_t why_len);
/* The length the line announces, or 0 when it announces none that can be read: a
 * last line shorter than announced was cut by a crash. */
size_t line_stated_len(const char *line, size_t len);

#endif
