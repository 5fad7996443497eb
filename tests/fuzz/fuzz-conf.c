/* Fuzz target: the INI parser on arbitrary text (a hostile or broken
 * /etc/tankworld.conf must give an error, never a crash). Built with fuzz-main.c for
 * `make check` and with libFuzzer by `make fuzz`. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "log.h"

#include "fuzz.h"

int fuzz_verdict(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		log_set_level(LOG_ERR); /* unknown keys warn: keep the replay log small */
		quiet = 1;
	}
	if (size > (1 << 20))
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	static struct conf c; /* about 25 KiB: keep it off the stack */
	char err[512];
	err[0] = '\0';
	conf_defaults(&c);
	int r = conf_parse_text(&c, "fuzz.conf", text, err, sizeof err);
	if (r < 0 && strncmp(err, "fuzz.conf:", 10) != 0)
		abort(); /* every parse error names the file and line */
	if (r == 0) {
		/* Everything accepted must print. */
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			conf_print(&c, f);
			fclose(f);
		}
	}
	free(text);
	return r == 0;
}
