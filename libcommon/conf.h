/* The tankworld configuration: one INI file plus drop-ins, read by every daemon
 * (DESIGN §2). One table (conf.c) names each key with its type, range and default;
 * it drives parsing, validation, --check-config output and the shipped example file.
 *
 * Precedence: built-in default < file < drop-ins (lexical order) < environment <
 * command line (--set section.key=value). */
#ifndef TW_CONF_H
#define TW_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_STR 256
#define CONF_PATH 4096

struct conf_listen {
	char spec[CONF_STR]; /* as written: "host:port", "none", or "" for the default */
	bool enabled;	    /* false for "none" */
	char host[CONF_STR]; /* IP literal or name; "" never after conf_load */
	int port;	    /* 0 lets the kernel pick (tests), reported in STATUS= */
};

struct conf {
	struct {
		char server_id[65];
		int base_port;
		char advertise_host[CONF_STR]; /* "" = detect */
		char state_dir[CONF_PATH];
		char runtime_dir[CONF_PATH];
		int log_level;
	} server;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		char hub_url[CONF_STR]; /* "" = this server is a hub */
		double heartbeat_interval;
		double heartbeat_timeout;
		double evict_after;
	} discovery;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		double tick_rate;
		double snapshot_interval;
		char default_tank_name[CONF_STR];
		uint64_t seed; /* 0 = draw one at first start */
		int max_fish;
		int width;
		int height;
	} sim;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		double check_interval;
		double max_per_second;
		double per_connection_per_second;
		double request_timeout;
	} migration;
	struct {
		char token_file[CONF_PATH];
		bool insecure;
		char token[CONF_STR]; /* loaded from token_file, "" when none */
	} security;
};

/* An override from the command line, "section.key=value". */
struct conf_override {
	const char *assignment;
};

/* Load defaults, then path (NULL = the default file, whose absence is fine; a named
 * file must exist), its drop-ins, the environment and the overrides. On error returns
 * -EINVAL and writes a "file:line: ..." message into err. Warnings (unknown keys) go
 * to the log. */
int conf_load(struct conf *c, const char *path, const char *const *overrides, size_t n_overrides,
	      char *err, size_t errlen);
/* Apply one "section.key=value" assignment (used by conf_load; exposed for tests). */
int conf_set(struct conf *c, const char *section, const char *key, const char *value,
	     char *err, size_t errlen);
/* Parse INI text (modified in place) as if read from path, on top of c. Returns 0 or
 * -EINVAL with a "path:line: ..." message. For drop-ins, tests and the fuzzer. */
int conf_parse_text(struct conf *c, const char *path, char *text, char *err, size_t errlen);
/* The default main file: $CONFIGURATION_DIRECTORY/tankworld.conf under systemd, else
 * SYSCONFDIR/tankworld/tankworld.conf. */
const char *conf_default_path(void);
/* Print the effective configuration as INI (token shown as "(set)"). */
void conf_print(const struct conf *c, FILE *f);
/* Print every key commented out with its default and help, for etc/tankworld.conf. */
void conf_print_example(FILE *f);
/* Fill just the built-in defaults (no files, no environment). */
void conf_defaults(struct conf *c);

#endif
