/* Writes a state file in the background: the event loop hands over the serialized
 * text and goes on, a thread replaces the file atomically (fsync, rename, fsync the
 * directory). Submissions that arrive while a write is running are coalesced: only
 * the newest text is written next. A failed write is fatal (DESIGN §7). */
#ifndef TW_STATEFILE_H
#define TW_STATEFILE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonv.h"

struct state_writer;
struct event_base;

typedef void (*state_written_fn)(void *arg);

struct state_writer *state_writer_new(const char *path);
/* Write the file as one checksummed line (lines.h), which state_file_load checks. */
void state_writer_set_framed(struct state_writer *w);
/* Takes ownership of data (malloc'd). */
void state_writer_submit(struct state_writer *w, char *data, size_t len);
/* Lets submit_then call back on base's loop (libevent threads must be enabled). */
void state_writer_attach(struct state_writer *w, struct event_base *base);
/* Like submit, then calls done(arg) on the attached loop once a write that contains
 * this submission is on disk: an answer that promises durability waits for it. */
void state_writer_submit_then(struct state_writer *w, char *data, size_t len, state_written_fn done,
			      void *arg);
/* Wait until everything submitted so far is on disk. */
void state_writer_flush(struct state_writer *w);
/* Flushes, then stops the thread. NULL-safe. */
struct state_writer *state_writer_free(struct state_writer *w);
/* Completed writes, for metrics and tests. */
uint64_t state_writer_writes(struct state_writer *w);

/* Soft state (discoveryd's registry, migrated's connections) is never worth refusing to
 * start for: a damaged file is renamed to <path>.corrupt-<unix time> for the operator to
 * inspect, and the daemon starts without it. The new name goes in moved. Fatal when the
 * rename fails (starting empty would overwrite the only copy). */
void state_file_set_aside(const char *path, char *moved, size_t moved_len);

typedef int (*state_decode_fn)(void *arg, json_object *o, struct json_err *e);
/* Reads the JSON object in path (at most max bytes; a checksummed line, or bare JSON)
 * and gives it to decode. Returns 1
 * when decode accepted it, 0 when there is no file, and -1 when it did not parse or
 * decode refused it: it is then set aside (above), and e says why. A file that exists
 * but cannot be read is fatal. */
int state_file_load(const char *path, size_t max, state_decode_fn decode, void *arg, char *moved,
		    size_t moved_len, struct json_err *e);

#endif
