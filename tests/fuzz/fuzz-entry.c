/* libFuzzer's entry point, one for every target: the target's verdict, whose value only
 * the corpus replay (fuzz-main.c) looks at; libFuzzer wants 0. */
#include "config.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
