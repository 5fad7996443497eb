/* tankctl: the operators' command-line tool. It talks to the three daemons of one
 * server (their Unix sockets, or over TCP with --server) with blocking libcurl easy
 * requests, and prints aligned tables or, with --json, the daemons' JSON. */
#ifndef TW_TANKCTL_H
#define TW_TANKCTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "ids.h"

/* Exit statuses (tankctl(1)). */
#define EXIT_FAIL 1	   /* an error answer, an unknown object, an unreachable daemon */
#define EXIT_USAGE 2	   /* bad command line or configuration */
#define EXIT_UNREACHABLE 2 /* audit: some server did not answer */
/* audit's findings, one code each (tankctl(1)); when several hold, the first listed wins. */
#define EXIT_DUPLICATE 3 /* a fish id in two places */
#define EXIT_LOST 4	 /* strict loss: every tank paused and fish missing (or the count off) */
#define EXIT_IMBALANCE 5 /* departures != arrivals + in flight, and not moving */

/* Where one daemon is reached. */
struct endpoint {
	bool tcp;
	int private_reads; /* TCP without a token: 0 not asked yet, 1 shown (insecure), -1 not */
	char unix_path[CONF_PATH]; /* for !tcp */
	char base[320];		   /* "http://host:port", or "http://simd" over the socket */
	char what[CONF_PATH + 64]; /* "simd at /run/tankworld/simd.sock", for messages */
};

/* One answer. status is 0 when none arrived (then err says why). json is the parsed
 * body when it is a JSON object. */
struct reply {
	long status;
	char *body;
	size_t len;
	json_object *json;
	char err[512];
	bool token_sent; /* a 401 then means a wrong token, not a missing one */
};

struct ctl {
	struct conf conf;
	char conf_err[1024];	/* why the token could not be read, "" if it could */
	bool json;		/* --json */
	double timeout;		/* seconds per request */
	const char *server_url; /* --server, NULL for the local sockets */
	struct endpoint disc, sim, mig;
	bool resolved; /* sim and mig known (remote: after asking discoveryd) */
	void *curl;
	const char *token; /* cluster token, NULL when none */
};

/* client.c */
int ctl_client_init(struct ctl *ctl);
void ctl_client_done(struct ctl *ctl);
void endpoint_unix(struct endpoint *ep, const char *daemon, const char *path);
int endpoint_tcp(struct endpoint *ep, const char *daemon, const char *host, int port);
/* Split "http://host[:port][/]" into host (brackets removed for IPv6) and port (0 when
 * absent). 0 or -1. */
int url_split(const char *url, char *host, size_t hostlen, int *port);
/* Whether the endpoint shows public tanks only to us (TCP without the token, to a server
 * that is not insecure; asked once), and the GET path of the tank list accordingly. */
bool ctl_public_only(struct ctl *ctl, struct endpoint *ep);
const char *ctl_tanks_path(struct ctl *ctl, struct endpoint *ep);
/* Perform one request. body may be NULL. Always fills r; returns 0 when an HTTP answer
 * arrived (any status), -1 on a transport failure. */
int ctl_request(struct ctl *ctl, const struct endpoint *ep, const char *method, const char *path,
		json_object *body, struct reply *r);
void reply_free(struct reply *r);
/* Request and insist on a 2xx JSON object. On anything else prints
 * "tankctl: <what>: <message>" to stderr and returns -1 (r is freed). */
int ctl_call(struct ctl *ctl, const struct endpoint *ep, const char *method, const char *path,
	     json_object *body, struct reply *r);
/* Print the error of a failed request (transport or HTTP). */
void reply_report(const struct endpoint *ep, const struct reply *r);
/* Percent-encode a path segment; the result is malloc'd. */
char *url_escape(struct ctl *ctl, const char *s);
/* simd and migrated of the target server (for --server, asks its discoveryd once). */
int ctl_resolve(struct ctl *ctl);
/* A server the target's discoveryd knows, and how to reach its simd. */
struct ctl_server {
	char id[SERVER_ID_MAX + 1], status[16], host[CONF_STR];
	int port;
	bool local; /* the target server itself */
	struct endpoint sim;
	bool ok; /* sim is usable */
};
/* Every server the target's discoveryd lists. The target is reached as ctl_resolve
 * reaches it (its socket, or the host the operator named with --server), the others
 * at the host and port they registered. *ret is malloc'd; 0, or -1 after a message. */
int ctl_servers(struct ctl *ctl, struct ctl_server **ret, size_t *ret_n);

/* table.c: aligned text tables; a heading starting with '>' is right-aligned. */
struct table;
struct table *table_new(int ncols, ...);
void table_row(struct table *t);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);
size_t table_rows(const struct table *t);
/* Printing helpers. */
void kv(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a label column of width characters (kv's is 13). */
void kv_wide(int width, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void print_json(json_object *o);
void sanitize(char *s); /* control characters become '?' */
void fmt_age(double seconds, char *out, size_t n);
/* s cut to at most max code points (the last an ellipsis when cut), in out. */
const char *clip(const char *s, size_t max, char *out, size_t n);
const char *short_id(const char *id, char out[16]); /* the first 8 characters */
/* Field access that tolerates absent or mistyped fields (daemons are trusted to send
 * the documented shapes, remote ones not to crash us). */
const char *field_str(json_object *o, const char *key); /* "" when absent */
/* A value as a table cell: a string as it is, JSON null or none as "-", anything else as
 * its JSON text (never NULL, which printf's %s must not get). */
const char *value_text(json_object *v);
int64_t field_int(json_object *o, const char *key);
double field_num(json_object *o, const char *key);
bool field_bool(json_object *o, const char *key);
json_object *field_obj(json_object *o, const char *key); /* NULL when absent or not an object */
json_object *field_arr(json_object *o, const char *key); /* NULL when absent or not an array */
/* The one object of list whose key starts with prefix (the short ids the tables
 * print); NULL with *count 0 (none) or above 1 (ambiguous). */
json_object *prefix_match(json_object *list, const char *key, const char *prefix, size_t *count);

struct audit_opts {
	long expect; /* -1 when not given */
	const char *save, *baseline;
};

/* Command options (a bit each, to refuse those a command does not take). */
enum {
	O_JSON = 1 << 0,
	O_LIMIT = 1 << 1,
	O_TANK = 1 << 2,
	O_PROB = 1 << 3,
	O_DIR = 1 << 4,
	O_DEST = 1 << 5,
	O_ID = 1 << 6,
	O_EXPECT = 1 << 7,
	O_SAVE = 1 << 8,
	O_BASELINE = 1 << 9,
	O_SUCCESS = 1 << 10,
	O_DEPTH = 1 << 11,
};

struct cmd_opts {
	unsigned given;
	long limit;
	const char *tank, *direction, *dest_server, *id;
	long probability;
	long depth; /* lineage --depth */
	struct audit_opts audit;
};

/* tanks.c */
/* The TankStatus of a tank named by id, unique id prefix or name (a new reference);
 * NULL after printing why not. */
json_object *find_tank(struct ctl *ctl, const char *arg);
const char *tank_id_of(json_object *status);
int cmd_servers(struct ctl *ctl);
int cmd_tanks(struct ctl *ctl);
int cmd_tank_show(struct ctl *ctl, const char *arg);
int cmd_tank_pause(struct ctl *ctl, const char *arg, bool pause);
int cmd_fish_show(struct ctl *ctl, const char *tank_arg, const char *fish_arg);

/* migration.c */
void print_connections(struct table *t, json_object *list);
int cmd_connections(struct ctl *ctl, const struct cmd_opts *o);
int cmd_connect(struct ctl *ctl, const char *src, const char *dst, const struct cmd_opts *o);
int cmd_disconnect(struct ctl *ctl, const char *id);
int cmd_transfers(struct ctl *ctl, const struct cmd_opts *o);
int cmd_transfer_show(struct ctl *ctl, const char *id);
int cmd_migrate(struct ctl *ctl);

/* lineage.c */
int cmd_lineage(struct ctl *ctl, const char *fish, long depth);

/* audit.c */
int cmd_audit(struct ctl *ctl, const struct audit_opts *o);

#endif
