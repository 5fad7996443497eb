/* Writes a state file in the background: the event loop hands over the serialized
 * text and goes on, a thread replaces the file atomically (fsync, rename, fsync the
 * directory). Submissions that arrive while a write is running are coalesced: only
 * the newest text is written next. A failed write is fatal (DESIGN §7). */
#ifndef TW_STATEFILE_H
#define TW_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

struct state_writer;

struct state_writer *state_writer_new(const char *path);
/* Takes ownership of data (malloc'd). */
void state_writer_submit(struct state_writer *w, char *data, size_t len);
/* Wait until everything submitted so far is on disk. */
void state_writer_flush(struct state_writer *w);
/* Flushes, then stops the thread. NULL-safe. */
struct state_writer *state_writer_free(struct state_writer *w);
/* Completed writes, for metrics and tests. */
uint64_t state_writer_writes(struct state_writer *w);

#endif
