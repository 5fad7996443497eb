#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* A zero size may legitimately give NULL; only a failed non-empty allocation aborts. */
static void *check(void *p, int nonempty)
{
	if (!p && nonempty)
		abort();
	return p;
}

void *xmalloc(size_t size)
{
	return check(malloc(size), size != 0);
}

void *xcalloc(size_t n, size_t size)
{
	return check(calloc(n, size), n && size);
}

void *xrealloc(void *p, size_t size)
{
	return check(realloc(p, size), size != 0);
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	return check(reallocarray(p, n, size), n && size);
}

char *xstrdup(const char *s)
{
	return check(strdup(s), 1);
}

char *xstrndup(const char *s, size_t n)
{
	return check(strndup(s, n), 1);
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}
