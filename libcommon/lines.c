/* The checksummed line format (see lines.h). */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "lines.h"
#include "xalloc.h"

#define PREFIX_MAX 32

static int prefix(char *buf, const char *json, size_t len)
{
	return snprintf(buf, PREFIX_MAX, "%08" PRIx32 " %zu ", crc32c(0, json, len), len);
}

void line_put(FILE *f, const char *json, size_t len)
{
	char p[PREFIX_MAX];
	fwrite(p, 1, (size_t)prefix(p, json, len), f);
	fwrite(json, 1, len, f);
	fputc('\n', f);
}

char *line_frame(const char *json, size_t len, size_t *ret_len)
{
	char p[PREFIX_MAX];
	size_t n = (size_t)prefix(p, json, len);
	char *out = xmalloc(n + len + 1);
	memcpy(out, p, n);
	memcpy(out + n, json, len);
	out[n + len] = '\n';
	*ret_len = n + len + 1;
	return out;
}

static bool parse_prefix(const char *line, size_t len, uint32_t *crc, size_t *stated,
			 size_t *body_off)
{
	if (len < 12)
		return false;
	uint32_t c = 0;
	for (int i = 0; i < 8; i++) {
		char ch = line[i];
		int v = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						 : -1;
		if (v < 0)
			return false;
		c = c << 4 | (uint32_t)v;
	}
	if (line[8] != ' ')
		return false;
	size_t i = 9, n = 0;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9' && i < 9 + 19; i++)
		n = n * 10 + (size_t)(line[i] - '0');
	if (i >= len || line[i] != ' ')
		return false;
	*crc = c;
	*stated = n;
	*body_off = i + 1;
	return true;
}

size_t line_stated_len(const char *line, size_t len)
{
	uint32_t crc;
	size_t stated, off;
	return parse_prefix(line, len, &crc, &stated, &off) ? off + stated : 0;
}

enum line_kind line_check(const char *line, size_t len, const char **json, size_t *json_len,
			  char *why, size_t why_len)
{
	if (len > 0 && line[0] == '{') {
		*json = line;
		*json_len = len;
		return LINE_LEGACY;
	}
	uint32_t crc;
	size_t stated, off;
	if (!parse_prefix(line, len, &crc, &stated, &off)) {
		snprintf(why, why_len, "its checksum and length prefix is unreadable");
		return LINE_BAD;
	}
	if (stated != len - off) {
		snprintf(why, why_len, "it announces %zu bytes but holds %zu", stated, len - off);
		return LINE_BAD;
	}
	uint32_t actual = crc32c(0, line + off, stated);
	if (actual != crc) {
		snprintf(why, why_len, "its checksum is %08" PRIx32 " but the line says %08" PRIx32,
			 actual, crc);
		return LINE_BAD;
	}
	*json = line + off;
	*json_len = stated;
	return LINE_OK;
}
