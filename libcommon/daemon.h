/* What every tankworld daemon does the same way: command line, configuration,
 * logging, signals (SIGTERM/SIGINT stop, SIGHUP reloads), listeners (systemd's or
 * our own), sd_notify READY/STATUS/STOPPING and the watchdog. main.c of each daemon
 * wires its own state into this. */
#ifndef TW_DAEMON_H
#define TW_DAEMON_H

#include <event2/event.h>
#include <getopt.h>
#include <stdbool.h>

#include "conf.h"
#include "http.h"

/* The daemons' command line (daemon_init reads it), which tankworld takes too and hands
 * on: -c, -s/--set, -n/--check-config, -d/--debug, --print-example-config ('E'), -V, -h. */
extern const struct option daemon_options[];
#define DAEMON_SHORT_OPTIONS "c:s:ndVh"

struct daemon;

typedef int (*daemon_reload_fn)(void *arg, const struct conf *newc); /* 0 accepts */
typedef void (*daemon_stop_fn)(void *arg);
/* What a daemon checks of a configuration beyond conf.c's own (0 accepts; else err says
 * why): at the start, in --check-config, and before a reload is taken. */
typedef int (*daemon_check_fn)(const struct conf *c, char *err, size_t errlen);

struct daemon {
	const char *name;
	struct conf conf;
	const char *conf_path; /* NULL: the default file */
	const char **overrides;
	size_t n_overrides;
	struct event_base *base;
	struct event *sig_term, *sig_int, *sig_hup, *watchdog;
	daemon_check_fn check;
	daemon_reload_fn on_reload;
	daemon_stop_fn on_stop;
	void *arg;
	bool stopping;
};

/* Parse argv, load the configuration (and check it with check, if not NULL) and set up
 * logging and the event base. Handles --help, --version, --check-config and
 * --print-example-config itself and exits. On a configuration error prints it and
 * exits 1. */
void daemon_init(struct daemon *d, const char *name, daemon_check_fn check, int argc, char **argv);
void daemon_set_handlers(struct daemon *d, daemon_reload_fn reload, daemon_stop_fn stop, void *arg);
/* True, with err saying which, when a listener of the configuration is off loopback and
 * there is no token (nor insecure): what the daemon serving it refuses when it binds.
 * --check-config (the daemons' and tankworld's) reports it. */
bool daemon_conf_exposed(const struct conf *c, char *err, size_t n);
/* Serve on systemd's sockets if any were passed, else bind unix_path and listen
 * (creating the socket's directory). Returns the TCP port bound (0 if none) or exits
 * with a clear message. */
int daemon_listen(struct daemon *d, struct http_server *http, const char *unix_path,
		  const struct conf_listen *listen);
/* A reload's token, connection limits and timeouts for a server daemon_http_server made:
 * only where the daemons listen waits for a restart. The limits were kept until one (an
 * operator's audit). */
void daemon_http_reload(struct http_server *s, const struct conf *newc);
/* The daemon's HTTP server on its loop, serving routes (arg goes to the handlers): the
 * caller's opts (max_body, CORS) completed with what the configuration says of the
 * token and the connection limits. */
struct http_server *daemon_http_server(struct daemon *d, const struct http_route *routes,
				       size_t n_routes, void *arg, struct http_server_opts opts);
/* READY=1 plus a STATUS line; starts the watchdog. */
void daemon_ready(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void daemon_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run the loop until stopped; frees the daemon's events. Returns the exit code. */
int daemon_run(struct daemon *d);
/* Leave the loop (after the stop handler's asynchronous work, if any). */
void daemon_exit(struct daemon *d);
void daemon_done(struct daemon *d);

#endif
