/* Fuzz target: one line of simd's state files (libcommon/lines.c: "<crc32c> <length> <JSON>"),
 * the framing every journal record, snapshot line, transfers.json and the manifest go
 * through when simd starts; the input up to its first newline is the line, as the
 * journal's replay splits a segment. A line accepted as checksummed must point inside
 * itself, and framing the JSON again must give a line that checks. Accepted: a line
 * that checks (or an old unchecksummed one) holding a JSON object, as the journal reads
 * it. The whole input is also read as a journal segment's text (simd/jseg.c): a layout
 * it accepts must lie inside it, end at its first NUL after the header, and say whether
 * anything follows the padding. Built with fuzz-main.c for `make check` and with
 * libFuzzer by `make fuzz`. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "simd/jseg.h"
#include "lines.h"

#include "fuzz.h"

static void segment_layout(const char *text, size_t size)
{
	struct jseg_layout lay;
	struct json_err e;
	e.msg[0] = '\0';
	if (jseg_layout("fuzz.log", text, size, &lay, &e) < 0) {
		if (!e.msg[0])
			abort(); /* a refusal says why */
		return;
	}
	if (lay.start > lay.end || lay.end > size)
		abort();
	if (!lay.padded) {
		if (lay.start != 0 || lay.end != size || lay.after_padding)
			abort(); /* an older simd's segment is read whole */
		return;
	}
	const char *nul = memchr(text + lay.start, '\0', size - lay.start);
	if (!nul || (size_t)(nul - text) != lay.end || text[size - 1] != '\0')
		abort();
	bool after = false;
	for (size_t i = lay.end; i < size; i++)
		after |= text[i] != '\0';
	if (after != lay.after_padding)
		abort();
}

int fuzz_verdict(const uint8_t *data, size_t size)
{
	segment_layout((const char *)data, size);
	const char *line = (const char *)data;
	const char *nl = memchr(line, '\n', size);
	size_t len = nl ? (size_t)(nl - line) : size;
	const char *json = NULL;
	size_t json_len = 0;
	char why[200] = "";
	enum line_kind k = line_check(line, len, &json, &json_len, why, sizeof why);
	if (k == LINE_BAD) {
		if (!why[0])
			abort(); /* a damaged line says what is wrong */
		return 0;
	}
	if (json < line || json_len > len || json + json_len != line + len)
		abort(); /* the JSON is the rest of the line */
	if (k == LINE_OK) {
		if (line_stated_len(line, len) != len)
			abort();
		size_t framed_len;
		char *framed = line_frame(json, json_len, &framed_len);
		const char *json2;
		size_t json2_len;
		if (framed[framed_len - 1] != '\n' ||
		    line_check(framed, framed_len - 1, &json2, &json2_len, why, sizeof why) !=
			    LINE_OK ||
		    json2_len != json_len || memcmp(json2, json, json_len) != 0)
			abort();
		free(framed);
	}
	struct json_err e;
	json_object *o = jv_parse_object(json, json_len, 64, &e);
	int accepted = o != NULL;
	json_object_put(o);
	return accepted;
}
