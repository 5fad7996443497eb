/* simd's write-ahead journal: one append-only sequence of JSON records for all tanks,
 * the outbox and the inbox, so that a move between two tanks is one record and replay
 * order is the order things happened. Records are numbered; every snapshot says up to
 * which number it already contains, and replay applies only what is newer.
 *
 * Appending is asynchronous: a writer thread takes everything queued, writes it, and
 * makes it durable with ONE fdatasync for the whole batch (group commit); then each
 * record's completion runs on the event loop, where the API answers the client. The
 * loop never waits for the disk. A failed write or fsync is fatal (DESIGN §7). */
#ifndef TW_JOURNAL_H
#define TW_JOURNAL_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "jsonv.h"

struct journal;

typedef void (*journal_done_fn)(void *arg);

/* Opens (creating) dir; segments are named <first-seq>.log. next_seq continues after
 * the highest record found by journal_replay. */
struct journal *journal_open(const char *dir, struct event_base *base);
/* What start-up knows the journal must hold (from the manifest). */
struct journal_expect {
	uint64_t after;		  /* fn sees only records with seq > after */
	uint64_t from;		  /* records from this number on must all be there (0: no check) */
	const uint64_t *required; /* segments (by first number) that must exist */
	size_t n_required;
	bool legacy_ok;	      /* unchecksummed lines of an older simd are accepted (upgrade) */
	uint64_t padded_from; /* segments from this number on have a header (0: unknown) */
};
/* Calls fn for each durable record with seq > x->after, in order, before any append.
 * Only a last record without its terminator (a crash in the middle of an append that
 * was never acknowledged) is cut off; a complete record that fails its checksum, a gap
 * in the numbers or a missing segment is an error (-EINVAL, message in e naming the
 * file and byte offset). */
int journal_replay(struct journal *j, const struct journal_expect *x,
		   int (*fn)(void *arg, uint64_t seq, json_object *rec, struct json_err *e),
		   void *arg, struct json_err *e);
/* Reserve the next number. Call with the caller's own ordering lock held, and enqueue
 * in the same critical section, so file order equals number order. */
uint64_t journal_next_seq(struct journal *j);
/* Queue rec (takes the reference) as record seq; done (may be NULL) runs on the loop
 * once it is durable. Thread-safe. */
void journal_append(struct journal *j, uint64_t seq, json_object *rec, journal_done_fn done,
		    void *arg);
/* The newest number given out, 0 when none (takes the ordering lock). */
uint64_t journal_last_seq(struct journal *j);
/* The ordering lock callers hold across "apply to memory" + journal_next_seq +
 * journal_append. */
void journal_lock(struct journal *j);
void journal_unlock(struct journal *j);
/* Block (not on the loop!) until every record up to seq is durable. */
void journal_wait_durable(struct journal *j, uint64_t seq);
uint64_t journal_durable_seq(struct journal *j);
/* On the loop: done(arg) once every record up to seq is durable (at once if they are),
 * without waiting for it. For an answer that reads memory a record has already changed
 * (an outbox listing, "no such transfer"), so that it never tells what a crash could
 * still take back. */
void journal_when_durable(struct journal *j, uint64_t seq, journal_done_fn done, void *arg);
/* Start a new segment (named after the next record) and return its number; waits for
 * the writer thread, so not on the loop. */
uint64_t journal_roll(struct journal *j);
/* Delete the segments holding only records <= upto (all snapshots contain them); never
 * the current one. */
void journal_drop_upto(struct journal *j, uint64_t upto);
/* The segments on disk, by first number, sorted; *ret is malloc'd. */
size_t journal_segments(struct journal *j, uint64_t **ret);
/* Flush, stop the thread, run pending completions. NULL-safe. */
struct journal *journal_close(struct journal *j);
/* Statistics for /metrics and the bench. */
struct journal_stats {
	uint64_t records, syncs, bytes;
};
void journal_get_stats(struct journal *j, struct journal_stats *ret);

#endif
