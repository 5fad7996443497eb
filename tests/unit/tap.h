/* Minimal TAP producer for unit tests (chrony and libevent keep theirs in-tree too). */
#ifndef TW_TAP_H
#define TW_TAP_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

#define ok(cond, ...)                                                                   \
	do {                                                                            \
		int ok_ = (cond) ? 1 : 0;                                               \
		printf("%s %d - ", ok_ ? "ok" : "not ok", ++tap_count);                 \
		printf(__VA_ARGS__);                                                    \
		printf("\n");                                                           \
		if (!ok_) {                                                             \
			tap_failed++;                                                   \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
		fflush(stdout);                                                         \
	} while (0)

#define is_int(got, want, ...)                                           \
	do {                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		ok(g_ == w_, __VA_ARGS__);                               \
		if (g_ != w_)                                            \
			printf("#   got %lld, want %lld\n", g_, w_);     \
	} while (0)

#define is_str(got, want, ...)                                                  \
	do {                                                                    \
		const char *g_ = (got), *w_ = (want);                           \
		int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;        \
		ok(same_, __VA_ARGS__);                                         \
		if (!same_)                                                     \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", \
			       w_ ? w_ : "(null)");                             \
	} while (0)

#define is_double(got, want, eps, ...)                               \
	do {                                                         \
		double g_ = (got), w_ = (want);                      \
		ok(fabs(g_ - w_) <= (eps), __VA_ARGS__);             \
		if (!(fabs(g_ - w_) <= (eps)))                       \
			printf("#   got %.9g, want %.9g\n", g_, w_); \
	} while (0)

/* A new directory for a test's files, under $TMPDIR (or /tmp), named after the test:
 * false when it cannot be made. */
static inline bool tap_tmpdir(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, len, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", name);
	return mkdtemp(dir) != NULL;
}

/* Print the plan at the end ("done testing"), so tests need not count in advance. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
