/* Aligned text tables and small formatting helpers for tankctl's human output. */
#include "config.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "jsonv.h"
#include "tankctl.h"
#include "xalloc.h"

struct table {
	int ncols;
	char **head;
	bool *right;
	char **cells; /* nrows * ncols */
	size_t nrows, cap;
	int col; /* next cell of the current row */
};

struct table *table_new(int ncols, ...)
{
	struct table *t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->head = xcalloc((size_t)ncols, sizeof *t->head);
	t->right = xcalloc((size_t)ncols, sizeof *t->right);
	va_list ap;
	va_start(ap, ncols);
	for (int i = 0; i < ncols; i++) {
		const char *h = va_arg(ap, const char *);
		t->right[i] = h[0] == '>';
		t->head[i] = xstrdup(h + t->right[i]);
	}
	va_end(ap);
	t->col = ncols;
	return t;
}

void table_row(struct table *t)
{
	/* Pad an unfinished row. */
	while (t->nrows && t->col < t->ncols)
		table_cell(t, "%s", "");
	if ((t->nrows + 1) * (size_t)t->ncols > t->cap) {
		t->cap = t->cap ? t->cap * 2 : (size_t)t->ncols * 16;
		while (t->cap < (t->nrows + 1) * (size_t)t->ncols)
			t->cap *= 2;
		t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
	}
	t->nrows++;
	t->col = 0;
}

void table_cell(struct table *t, const char *fmt, ...)
{
	if (t->col >= t->ncols)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sanitize(buf);
	t->cells[(t->nrows - 1) * (size_t)t->ncols + (size_t)t->col++] = xstrdup(buf);
}

size_t table_rows(const struct table *t)
{
	return t->nrows;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
/* Columns on a terminal: a CJK character takes two, a combining mark none. wcwidth
 * needs a UTF-8 LC_CTYPE (only that category: numbers and messages stay C); without
 * one, a code point is a column. */
static size_t width(const char *s)
{
	static int utf8 = -1;
	if (utf8 < 0)
		utf8 = setlocale(LC_CTYPE, "C.UTF-8") != NULL;
	size_t n = 0, len = strlen(s);
	mbstate_t st;
	memset(&st, 0, sizeof st);
	while (len) {
		wchar_t wc;
		size_t k = utf8 ? mbrtowc(&wc, s, len, &st) : (size_t)-1;
		if (k == 0 || k > len) { /* not UTF-8 here: a byte that starts a character */
			n += ((unsigned char)*s & 0xc0) != 0x80;
			s++;
			len--;
			memset(&st, 0, sizeof st);
			continue;
		}
		int w = wcwidth(wc);
		n += w < 0 ? 1 : (size_t)w;
		s += k;
		len -= k;
	}
	return n;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

void table_print(struct table *t, FILE *f)
{
	while (t->nrows && t->col < t->ncols)
		table_cell(t, "%s", "");
	size_t *w = xcalloc((size_t)t->ncols, sizeof *w);
	for (int c = 0; c < t->ncols; c++) {
		w[c] = width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t x = width(t->cells[r * (size_t)t->ncols + (size_t)c]);
			if (x > w[c])
				w[c] = x;
		}
	}
	char *line = NULL;
	size_t cap = 0;
	for (size_t r = 0; r <= t->nrows; r++) {
		FILE *m = open_memstream(&line, &cap);
		if (!m)
			abort();
		for (int c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c]
					       : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c];
			size_t x = width(s);
			if (c)
				fputs("  ", m);
			if (t->right[c])
				pad(m, w[c] - x);
			fputs(s, m);
			if (!t->right[c])
				pad(m, w[c] - x);
		}
		fclose(m);
		/* No trailing blanks. */
		size_t n = strlen(line);
		while (n && line[n - 1] == ' ')
			line[--n] = '\0';
		fprintf(f, "%s\n", line);
		free(line);
		line = NULL;
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	for (int c = 0; c < t->ncols; c++)
		free(t->head[c]);
	free(t->cells);
	free(t->head);
	free(t->right);
	free(t);
}

void sanitize(char *s)
{
	/* Names come from daemons, possibly remote ones: no terminal escapes. C1 controls
	 * (U+0080..U+009F, UTF-8 C2 80..C2 9F) become "??". */
	for (unsigned char *p = (unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = '?';
			p[1] = '?';
			p++;
		}
	}
}

const char *clip(const char *s, size_t max, char *out, size_t n)
{
	/* Count code points, never cutting one in the middle. */
	size_t cps = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && cps++ == max)
			break;
	}
	if (!s[i]) {
		snprintf(out, n, "%s", s);
		return out;
	}
	/* Keep max-1 code points and an ellipsis. */
	size_t keep = 0;
	cps = 0;
	for (keep = 0; s[keep]; keep++)
		if (((unsigned char)s[keep] & 0xc0) != 0x80 && cps++ == max - 1)
			break;
	snprintf(out, n, "%.*s\u2026", (int)keep, s);
	return out;
}

static void vkv(int width, const char *label, const char *fmt, va_list ap)
{
	char buf[4096], lab[128];
	vsnprintf(buf, sizeof buf, fmt, ap);
	snprintf(lab, sizeof lab, "%s", label); /* a daemon's key, in transfer show */
	sanitize(buf);
	sanitize(lab);
	printf("%-*s %s\n", width, lab, buf);
}

void kv(const char *label, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vkv(13, label, fmt, ap);
	va_end(ap);
}

void kv_wide(int width, const char *label, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vkv(width, label, fmt, ap);
	va_end(ap);
}

void print_json(json_object *o)
{
	printf("%s\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

void fmt_age(double s, char *out, size_t n)
{
	if (!(s >= 0))
		snprintf(out, n, "-");
	else if (s < 10)
		snprintf(out, n, "%.1fs", s);
	else if (s < 120)
		snprintf(out, n, "%.0fs", s);
	else if (s < 7200)
		snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else if (s < 172800)
		snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else
		snprintf(out, n, "%dd%02dh", (int)(s / 86400), (int)(s / 3600) % 24);
}

const char *short_id(const char *id, char out[16])
{
	snprintf(out, 16, "%.8s", id);
	return out;
}

const char *field_str(json_object *o, const char *key)
{
	const char *s = jv_member_str(o, key);
	return s ? s : "";
}

const char *value_text(json_object *v)
{
	const char *s = jv_str(v);
	return s ? s : v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "-";
}

int64_t field_int(json_object *o, const char *key)
{
	json_object *x;
	if (o && json_object_object_get_ex(o, key, &x) &&
	    (json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return json_object_get_int64(x);
	return 0;
}

double field_num(json_object *o, const char *key)
{
	json_object *x;
	if (o && json_object_object_get_ex(o, key, &x) &&
	    (json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)))
		return json_object_get_double(x);
	return 0;
}

bool field_bool(json_object *o, const char *key)
{
	json_object *x;
	return o && json_object_object_get_ex(o, key, &x) &&
	       json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x);
}

json_object *field_obj(json_object *o, const char *key)
{
	json_object *x;
	if (o && json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_object))
		return x;
	return NULL;
}

json_object *field_arr(json_object *o, const char *key)
{
	json_object *x;
	if (o && json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_array))
		return x;
	return NULL;
}

json_object *prefix_match(json_object *list, const char *key, const char *prefix, size_t *count)
{
	json_object *hit = NULL;
	size_t n = strlen(prefix);
	*count = 0;
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);
		/* Ids are UUIDs, which are case-insensitive on input (RFC 9562): a person
		 * may paste one in capitals. */
		if (strncasecmp(field_str(x, key), prefix, n) == 0 && (*count)++ == 0)
			hit = x;
	}
	return *count == 1 ? hit : NULL;
}
