/* Allocation that cannot fail: the daemons treat running out of memory as fatal (there
 * is no useful way to go on with half a request or half a record), so every allocation
 * aborts on failure instead of each caller repeating the check. */
#ifndef TW_XALLOC_H
#define TW_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* realloc for an array of n elements, with the multiplication checked. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

#endif
