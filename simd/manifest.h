/* state_dir/sim/manifest.json: what simd's state on disk must consist of, replaced
 * atomically after every snapshot round: each tank with the journal number its
 * snapshot contains, the number transfers.json contains, the first journal record
 * still needed and the journal segments that must exist. Start-up checks the state
 * against it, so a deleted tank folder, snapshot, segment or transfers.json (or one
 * put back from an older backup) stops simd with a message instead of rolling the
 * state back without a word. */
#ifndef TW_SIMD_MANIFEST_H
#define TW_SIMD_MANIFEST_H

#include <stdint.h>

#include "simd.h"

struct manifest_tank {
	char id[TANK_ID_MAX + 1];
	uint64_t seq;
	bool seen; /* start-up: its snapshot was found */
};

struct manifest {
	/* The server whose state this is: another's (a backup put back on the wrong machine)
	 * would bring its fish here while that server still has them. Empty in a manifest
	 * from before 7 December. */
	char server_id[SERVER_ID_MAX + 1];
	/* Every journal segment from this number on has a header (jseg.h): one without is a
	 * cut, even one cut to nothing. 0 in a manifest from before 7 December. */
	uint64_t padded_from;
	uint64_t journal_from; /* every record from here on must exist */
	uint64_t transfers_seq;
	uint64_t *segments;
	size_t n_segments;
	struct manifest_tank *tanks;
	size_t n_tanks;
};

/* 0 loaded, 1 absent, or exits through fatal() naming the file and the field. */
int manifest_load(const char *path, struct manifest *m);
void manifest_write_or_die(const char *path, const struct manifest *m);
struct manifest_tank *manifest_find_tank(struct manifest *m, const char *id);
void manifest_free(struct manifest *m);

#endif
