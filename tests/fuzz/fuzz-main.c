/* Runs a libFuzzer target without libFuzzer, so the corpus is a regression test in
 * `make check` (the pattern of systemd's src/fuzz/fuzz-main.c). After replaying each
 * file it also feeds a bounded number of deterministic mutations of it (bit flips,
 * truncations, byte insertions and splices), which catches shallow parser crashes
 * even on machines without clang. `make fuzz` builds the real libFuzzer binaries. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static uint64_t mix_state = 0x9e3779b97f4a7c15ULL;

static uint64_t mix_next(void)
{
	uint64_t z = (mix_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void run_mutations(const uint8_t *data, size_t size, int rounds)
{
	static const char tokens[][8] = {"{",	 "}",  "[",	"]",	   "\"",   ":", ",",
					 "null", "-1", "1e999", "\\u0000", "true", "0", "\xff"};
	uint8_t *buf = malloc(size + 64);
	if (!buf)
		abort();
	for (int r = 0; r < rounds; r++) {
		size_t n = size;
		memcpy(buf, data, size);
		int edits = 1 + (int)(mix_next() % 4);
		for (int k = 0; k < edits && n > 0; k++) {
			size_t at = mix_next() % n;
			switch (mix_next() % 4) {
			case 0:
				buf[at] ^= (uint8_t)(1u << (mix_next() % 8));
				break;
			case 1:
				n = at;
				break;
			case 2: {
				const char *t =
					tokens[mix_next() % (sizeof tokens / sizeof tokens[0])];
				size_t tl = strlen(t);
				if (n + tl <= size + 64 - 1) {
					memmove(buf + at + tl, buf + at, n - at);
					memcpy(buf + at, t, tl);
					n += tl;
				}
				break;
			}
			default:
				buf[at] = (uint8_t)mix_next();
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
}

static int tap_n, tap_failed;

/* A corpus file named valid-* must be accepted, invalid-* refused; others only must not
 * crash. One TAP line per named file. */
static void check_verdict(const char *path, int verdict)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int want = !strncmp(base, "valid-", 6) ? 1 : !strncmp(base, "invalid-", 8) ? 0 : -1;
	if (want < 0)
		return;
	int ok = verdict == want;
	tap_failed += !ok;
	printf("%s %d - %s is %s\n", ok ? "ok" : "not ok", ++tap_n, base,
	       want ? "accepted" : "refused");
}

static int run_file(const char *path, int rounds)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	uint8_t *data = NULL;
	size_t size = 0, cap = 0;
	for (;;) {
		if (size == cap) {
			cap = cap ? cap * 2 : 4096;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		size_t got = fread(data + size, 1, cap - size, f);
		if (got == 0)
			break;
		size += got;
	}
	fclose(f);
	check_verdict(path, fuzz_verdict(data, size));
	run_mutations(data, size, rounds);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = getenv("FUZZ_ROUNDS") ? atoi(getenv("FUZZ_ROUNDS")) : 300;
	int files = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i], rounds) < 0;
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
			failed += run_file(path, rounds) < 0;
			files++;
		}
		if (d)
			closedir(d);
	}
	/* Reaching here means no input crashed the target. */
	printf("%s %d - %d corpus files, %d mutations each, no crash\n",
	       failed || files == 0 ? "not ok" : "ok", ++tap_n, files, rounds);
	printf("1..%d\n", tap_n);
	return failed || files == 0 || tap_failed;
}
