/* Small helpers every daemon needs: ids, clocks, timestamps. */
#ifndef TW_UTIL_H
#define TW_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

/* A random (version 4) UUID in lower-case text form. */
void uuid_random_str(char out[UUID_STR_LEN]);
/* True for a canonical lower- or upper-case 8-4-4-4-12 hex UUID. */
bool uuid_str_valid(const char *s);
/* Server ids: [A-Za-z0-9][A-Za-z0-9._-]{0,63} (DESIGN §3). */
bool server_id_valid(const char *s);
/* Tank, fish and connection ids: the server-id alphabet plus ">" and ":" (the original
 * names connections "<src>-><dst>"), 1 to max_len characters. */
bool object_id_valid(const char *s, size_t max_len);
/* Whether a UTF-8 text holds a control character: C0, DEL, C1 (U+0080 to U+009F), a
 * bidi control (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) or a line or paragraph
 * separator (U+2028-2029). Names people read (tank names, hostnames, config names)
 * refuse them. */
bool text_has_control(const char *s);
/* The same, but newlines are taken: for text that runs over lines (a tank's description). */
bool lines_have_control(const char *s);
/* Why a name people read is refused ("has control characters", "is only spaces"), or
 * NULL: the one rule for the API's names and the configuration's. */
const char *name_fault(const char *s);
/* FNV-1a of a string, for hash tables of ids. */
uint32_t str_hash(const char *s);
/* 16 lowercase hex digits: discoveryd's epochs and listing ids. */
bool hex16_valid(const char *s);
/* The characters (code points) of n bytes of valid UTF-8: the bytes that do not continue
 * a character. */
size_t utf8_chars(const char *s, size_t n);
/* Host names (RFC 1123 labels) or IPv4/IPv6 literals, at most 253 characters. */
bool host_valid(const char *s);

/* A condition variable whose timed waits take CLOCK_MONOTONIC deadlines (now_mono's
 * clock), which a wall clock step does not move. */
void cond_init_monotonic(pthread_cond_t *c);
/* Wall-clock seconds since the epoch, and a monotonic clock, both as doubles. The wall
 * clock is held within [0, WALL_MAX]: a clock set before 1970 or past the year 3000 is
 * wrong, and a stamp outside what the state files accept (0 to 1e11) made simd and
 * discoveryd refuse their own journals at the next start. Within those bounds a lineage
 * stamp (a tank's creation plus its frames) stays below 1e11. */
#define WALL_MAX 32503680000.0 /* 3000-01-01T00:00:00Z */
double now_wall(void);
double now_mono(void);
/* Wall-clock seconds as they were at the first call, advanced by the monotonic clock
 * since: a step of the wall clock (an NTP correction, an operator) does not move it, so
 * ages measured with it neither freeze nor jump. Thread-safe. */
double now_steady_wall(void);
/* ISO 8601 UTC with milliseconds and a Z: "2026-11-25T21:58:48.123Z". */
void iso8601_utc(double epoch_seconds, char out[32]);
/* Parse the form above (fraction optional); returns 0 or -EINVAL. */
int iso8601_parse(const char *s, double *ret);

#endif
