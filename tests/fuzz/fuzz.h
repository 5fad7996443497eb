/* What each fuzz target exports: its verdict on one input, so the corpus replay can
 * check that valid-* files are accepted and invalid-* files refused (a target that
 * refused everything would otherwise pass). fuzz-entry.c turns it into libFuzzer's
 * LLVMFuzzerTestOneInput for every target. */
#ifndef TW_FUZZ_H
#define TW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* 1 when the decoder accepted the input, 0 when it refused it; aborts on a broken
 * invariant, as the fuzz target does. */
int fuzz_verdict(const uint8_t *data, size_t size);

#endif
