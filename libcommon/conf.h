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

#include "ids.h"

#define CONF_STR 256
#define CONF_NAME (4 * 100 + 1) /* a name of up to 100 characters of UTF-8 */
#define CONF_PATH 4096
#define CONF_URLS 1024 /* a list of URLs (hub_url) */
#define CONF_MAX_URLS 16

struct conf_listen {
	char spec[CONF_STR]; /* as written: "host:port", "none", or "" for the default */
	bool enabled;	     /* false for "none" */
	char host[CONF_STR]; /* IP literal or name; "" never after conf_load */
	int port;	     /* 0 lets the kernel pick (tests), reported in STATUS= */
};

struct conf {
	struct {
		char server_id[SERVER_ID_MAX + 1];
		bool server_id_from_host; /* not set: the host's name (it may change) */
		int base_port;
		int api_port; /* the door (simd's TCP port); 0 = none, ports follow base_port */
		char api_port_origin[96]; /* "TANK_API_PORT=8000", for messages */
		/* Where base_port came from, for messages: "TANK_API_PORT=8000",
		 * "--set server.base_port=8000", "base_port = 8000 in the configuration" or
		 * "the default base_port 8000" (set by conf_load). */
		char base_port_origin[96];
		char advertise_host[CONF_STR]; /* "" = detect */
		char state_dir[CONF_PATH];
		char runtime_dir[CONF_PATH];
		int log_level;
		int max_connections; /* per listener, clamped by the descriptor limit */
		int max_connections_per_address;
		int max_unsent_mb;	/* unread answers, all connections, before large ones 503 */
		double request_timeout; /* a request's headers and body, from its start */
		double idle_timeout;	/* a keep-alive connection between requests */
	} server;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		char hub_url[CONF_URLS]; /* "" = this server is a hub; else URLs, see below */
		char backend[8];	 /* "hub" (hubs and workers) or "etcd" */
		char etcd_endpoints[CONF_URLS];
		char etcd_prefix[CONF_STR]; /* starts and ends with '/' */
		double heartbeat_interval;
		double heartbeat_timeout;
		double evict_after;
		int max_servers;
	} discovery;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		double tick_rate;
		double snapshot_interval;
		double replay_budget; /* seconds of re-simulation a restart may need */
		bool replay_strict;   /* a replay that diverges stops the start */
		char default_tank_name[CONF_NAME];
		uint64_t seed; /* 0 = draw one at first start */
		int max_fish;
		int max_tanks;	    /* POST /api/tanks refused beyond (409) */
		int max_fish_total; /* the sum of max_fish; 0: from the machine's memory */
		int spawn_floor, history_interval, history_size, lineage_depth;
		int width;
		int height;
		char www_dir[CONF_PATH]; /* "" = installed or build-tree default */
	} sim;
	struct {
		struct conf_listen listen;
		char socket[CONF_PATH];
		double check_interval;
		double max_per_second;
		double per_connection_per_second;
		double plant_weight; /* a plant's chance to be picked against a fish's */
		double request_timeout;
		double refusal_backoff_max;
		double broken_check_interval;
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

/* Whether a --set argument has the shape section.key=value (a command-line error, exit
 * 2, when not; its key and value are checked with the configuration). */
bool conf_override_shaped(const char *arg);
/* Load defaults, then path (NULL = the default file, whose absence is fine; a named
 * file must exist), its drop-ins, the environment and the overrides. On error returns
 * -EINVAL and writes a "file:line: ..." message into err. Warnings (unknown keys) go
 * to the log. */
int conf_load(struct conf *c, const char *path, const char *const *overrides, size_t n_overrides,
	      char *err, size_t errlen);
/* Apply one "section.key=value" assignment (used by conf_load; exposed for tests). */
int conf_set(struct conf *c, const char *section, const char *key, const char *value, char *err,
	     size_t errlen);
/* Parse INI text (modified in place) as if read from path, on top of c. Returns 0 or
 * -EINVAL with a "path:line: ..." message. For drop-ins, tests and the fuzzer. */
int conf_parse_text(struct conf *c, const char *path, char *text, char *err, size_t errlen);
/* The default main file: $CONFIGURATION_DIRECTORY/tankworld.conf under systemd, else
 * SYSCONFDIR/tankworld/tankworld.conf. */
const char *conf_default_path(void);
/* Where a server run by hand without a configuration file (tankworld, as the original's
 * recipe runs) keeps its state and sockets: <working folder>/data/<server_id>, absolute
 * (the caller's to free), or NULL when the working folder cannot be read. */
char *conf_hand_run_base(const struct conf *c);
/* Print the effective configuration as INI (token shown as "(set)"). */
void conf_print(const struct conf *c, FILE *f);
/* Print every key commented out with its default and help, for etc/tankworld.conf. */
void conf_print_example(FILE *f);
/* Fill just the built-in defaults (no files, no environment). */
void conf_defaults(struct conf *c);
/* Splits a URL list as written (commas and/or spaces; validated by conf_set) into at
 * most max URLs of CONF_URLS bytes; returns how many. */
size_t conf_split_urls(const char *list, char (*out)[CONF_URLS], size_t max);

#endif
