#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "util.h"

void uuid_random_str(char out[UUID_STR_LEN])
{
	uuid_t u;
	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool uuid_str_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

bool server_id_valid(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]))
		return false;
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= SERVER_ID_MAX || !id_char(s[n]))
			return false;
	return n >= 1;
}

bool object_id_valid(const char *s, size_t max_len)
{
	if (!s || !isalnum((unsigned char)s[0]))
		return false;
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= max_len || !(id_char(s[n]) || s[n] == '>' || s[n] == ':'))
			return false;
	return true;
}

/* The bidi controls are the Trojan Source characters: in a name they reorder the text
 * around them (the viewer, tankctl's tables, a journal read in a terminal), so a tank
 * can read as another. U+2028/2029 break a line as a newline does. */
static bool format_control(const unsigned char *p)
{
	if (p[0] == 0xd8 && p[1] == 0x9c) /* U+061C arabic letter mark */
		return true;
	if (p[0] != 0xe2 || (p[1] != 0x80 && p[1] != 0x81))
		return false;
	if (p[1] == 0x80) /* U+200E-200F marks, U+2028-2029 separators, U+202A-202E */
		return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae);
	return p[2] >= 0xa6 && p[2] <= 0xa9; /* U+2066-2069 isolates */
}

static bool has_control(const char *s, bool lines)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(lines && *p == '\n')) || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) || format_control(p))
			return true;
	return false;
}

bool text_has_control(const char *s)
{
	return has_control(s, false);
}

bool lines_have_control(const char *s)
{
	return has_control(s, true);
}

uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

bool hex16_valid(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

/* The byte length of the code point at p when it shows as nothing or as a blank: the
 * space, no-break and typographic spaces (U+00A0, U+1680, U+2000-200A, U+202F, U+205F,
 * U+3000) and the invisible ones (U+200B-200D, U+2060, U+FEFF); else 0. */
static size_t blank_len(const unsigned char *p)
{
	if (p[0] == ' ')
		return 1;
	if (p[0] == 0xc2 && p[1] == 0xa0)
		return 2;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8d) || p[2] == 0xaf)) ||
	    (p[0] == 0xe2 && p[1] == 0x81 && (p[2] == 0x9f || p[2] == 0xa0)) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) ||
	    (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf))
		return 3;
	return 0;
}

/* U+200B zero-width space, U+2060 word joiner, U+FEFF BOM: nothing shows, and no
 * script needs them inside a name. strncmp stops at the string's end. */
static bool hides_char(const unsigned char *p)
{
	static const char *const cps[] = {"\u200b", "\u2060", "\ufeff"};
	for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++)
		if (strncmp((const char *)p, cps[i], 3) == 0)
			return true;
	return false;
}

/* One rule for a name people read, wherever it comes from (the API, the config): it is
 * shown in lists, so it must neither rewrite the text around it nor be a blank card, nor
 * hide a character: "Tank<U+200B>1" showed as "Tank1" and was another tank. Joiners
 * (U+200C, U+200D) stay allowed inside a name: some scripts and emoji need them. */
const char *name_fault(const char *s)
{
	if (text_has_control(s))
		return "has control characters";
	const unsigned char *p = (const unsigned char *)s;
	bool seen = false;
	for (size_t n; *p; p += n ? n : 1) {
		if (hides_char(p))
			return "has invisible characters (zero-width space, word joiner or BOM)";
		n = blank_len(p);
		seen |= n == 0;
	}
	return seen ? NULL : "is only spaces";
}

size_t utf8_chars(const char *s, size_t n)
{
	size_t k = n;
	for (size_t i = 0; i < n; i++)
		k -= ((unsigned char)s[i] & 0xc0) == 0x80;
	return k;
}

bool host_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
		return true;
	/* RFC 1123 names: labels of 1-63 alphanumerics and inner hyphens. */
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || (c == '-' && label > 0)))
			return false;
		label++;
	}
	return true;
}

void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double t = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	return t < 0 ? 0 : t > WALL_MAX ? WALL_MAX : t;
}

double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double steady_base;
static pthread_once_t steady_once = PTHREAD_ONCE_INIT;

static void steady_init(void)
{
	steady_base = now_wall() - now_mono();
}

double now_steady_wall(void)
{
	pthread_once(&steady_once, steady_init);
	return steady_base + now_mono();
}

void iso8601_utc(double t, char out[32])
{
	/* Round to the millisecond, carrying into the seconds: 20.9996 is 21.000. */
	long long total_ms = llround(t * 1000.0);
	long long ms = total_ms % 1000;
	if (ms < 0) /* before 1970: the second below, and what is left of it */
		ms += 1000;
	time_t sec = (time_t)((total_ms - ms) / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char date[24];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03lldZ", date, ms);
}

/* sscanf's %2d takes a sign or a space too ("10:-5:+3"): the fields must be digits, at
 * their full width, as iso8601_utc writes them and the original's isoformat() did. */
static bool iso8601_shape(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; i < sizeof pat - 1; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return false;
	return true;
}

int iso8601_parse(const char *s, double *ret)
{
	struct tm tm = {0};
	int used = 0;
	if (!s || !iso8601_shape(s) ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6)
		return -EINVAL;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return -EINVAL;
	const char *p = s + used;
	double frac = 0, scale = 0.1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			frac += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 && *p != '\0')
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	struct tm check = tm;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	/* timegm normalizes February 31 into March: refuse dates that do not exist. */
	if (tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon)
		return -EINVAL;
	/* iso8601_utc writes to the millisecond: from 9999-12-31T23:59:59.9995 on that is
	 * year 10000, which four digits cannot write, and the text would not parse back. */
	if (llround(((double)t + frac) * 1000.0) >= 253402300800000LL)
		return -EINVAL;
	*ret = (double)t + frac;
	return 0;
}
