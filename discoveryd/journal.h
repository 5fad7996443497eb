/* The registry on disk: an append-only journal of JSON lines, one record per changed
 * entry (registry_entry_record) and a checkpoint line ({"checkpoint":time,"epoch",
 * "rev"}) each time a batch goes out. The loop hands over the text of what changed
 * since the last batch and goes on; a thread appends it (fdatasync, a failure is
 * fatal) and, when the journal has grown to several times its last compacted size,
 * compacts it by folding it to the last record of each live server (written
 * atomically: temporary file, fsync, rename, fsync of the directory). The loop never
 * serialises the whole registry. */
#ifndef TW_JOURNAL_H
#define TW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

struct journal;

/* Loads path into reg (a torn last line, from a crash in an append, is ignored).
 * Returns 0, -ENOENT when there is no journal, or -EINVAL with why in err (the
 * caller moves the file aside). *epoch and *rev are those of the last checkpoint, and
 * *clean whether it was written by a clean stop (every revision saved). */
int journal_load(const char *path, struct registry *reg, uint64_t *epoch, uint64_t *rev,
		 bool *clean, char *err, size_t errlen);
struct journal *journal_new(const char *path);
/* Takes ownership of text (malloc'd, whole lines). */
void journal_append(struct journal *j, char *text, size_t len);
/* Waits until everything appended so far is on disk. */
void journal_flush(struct journal *j);
struct journal *journal_free(struct journal *j);
/* Completed appends and compactions, for metrics and tests. */
uint64_t journal_writes(struct journal *j);
uint64_t journal_compactions(struct journal *j);

#endif
