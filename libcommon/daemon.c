#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

static void usage(const char *name, FILE *f)
{
	fprintf(f,
		"Usage: %s [options]\n"
		"  -c, --config FILE        main configuration file (drop-ins: FILE.d/*.conf)\n"
		"                           default: %s\n"
		"  -s, --set SECTION.KEY=V  override one key (repeatable; wins over files)\n"
		"  -n, --check-config       validate, print the effective configuration, exit\n"
		"  -d, --debug              log at debug level\n"
		"      --print-example-config  print every key with its default, exit\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               this text\n"
		"Runs in the foreground and logs to stderr; under systemd it uses socket\n"
		"activation, sd_notify and the watchdog.\n",
		name, conf_default_path());
}

/* The command line: options only; --help, --version and --print-example-config exit. */
const struct option daemon_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"set", required_argument, NULL, 's'},
	{"check-config", no_argument, NULL, 'n'},
	{"debug", no_argument, NULL, 'd'},
	{"print-example-config", no_argument, NULL, 'E'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{0},
};

static void parse_args(struct daemon *d, int argc, char **argv, bool *check, bool *debug)
{
	int c;
	while ((c = getopt_long(argc, argv, DAEMON_SHORT_OPTIONS, daemon_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->conf_path = optarg;
			break;
		case 's':
			if (!conf_override_shaped(optarg)) {
				fprintf(stderr, "%s: --set '%s': expected section.key=value\n",
					d->name, optarg);
				exit(2);
			}
			d->overrides = xrealloc(d->overrides,
						(d->n_overrides + 1) * sizeof *d->overrides);
			d->overrides[d->n_overrides++] = optarg;
			break;
		case 'n':
			*check = true;
			break;
		case 'd':
			*debug = true;
			break;
		case 'E':
			conf_print_example(stdout);
			exit(0);
		case 'V':
			printf("%s (%s) %s\n", d->name, PACKAGE_NAME, PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(d->name, stdout);
			exit(0);
		default:
			usage(d->name, stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", d->name, argv[optind]);
		exit(2);
	}
}

/* The event loop, once the process is set up for it. */
static struct event_base *loop_new(void)
{
	/* simd's worker threads wake the loop (journal completions): make libevent
	 * thread-aware before the base exists. */
	if (evthread_use_pthreads() < 0)
		fatal("libevent has no pthreads support");
	/* The changelist folds the read/write toggles evhttp makes within one loop
	 * iteration into one epoll_ctl: half the system calls per request. */
	struct event_config *cfg = event_config_new();
	if (!cfg)
		fatal("cannot create the event loop");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base)
		fatal("cannot create the event loop");
	return base;
}

/* A TCP listener off loopback without a token: each daemon refuses it when it binds
 * (daemon_listen); --check-config says so first, for all three, since they share the
 * file. Not at every load: a name would be resolved on each reload, and systemd may pass
 * sockets that replace the listeners. */
bool daemon_conf_exposed(const struct conf *c, char *err, size_t n)
{
	if (c->security.token[0] || c->security.insecure)
		return false;
	const struct {
		const char *section, *daemon;
		const struct conf_listen *l;
	} ls[] = {{"discovery", "discoveryd", &c->discovery.listen},
		  {"sim", "simd", &c->sim.listen},
		  {"migration", "migrated", &c->migration.listen}};
	for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
		const struct conf_listen *l = ls[i].l;
		if (!l->enabled || http_host_is_loopback(l->host))
			continue;
		bool v6 = strchr(l->host, ':') != NULL;
		snprintf(err, n,
			 "[%s] listen is %s%s%s:%d, not loopback, and there is no cluster token: "
			 "%s would refuse to start. Set [security] token_file, or insecure = yes",
			 ls[i].section, v6 ? "[" : "", l->host, v6 ? "]" : "", l->port,
			 ls[i].daemon);
		return true;
	}
	return false;
}

void daemon_init(struct daemon *d, const char *name, daemon_check_fn check_fn, int argc, char **argv)
{
	memset(d, 0, sizeof *d);
	d->name = name;
	d->check = check_fn;
	bool check = false, debug = false;
	log_init(name, LOG_INFO);
	parse_args(d, argc, argv, &check, &debug);
	char err[1024];
	if (conf_load(&d->conf, d->conf_path, d->overrides, d->n_overrides, err, sizeof err) < 0 ||
	    (d->check && d->check(&d->conf, err, sizeof err) < 0)) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(1);
	}
	if (check) {
		if (daemon_conf_exposed(&d->conf, err, sizeof err)) {
			fprintf(stderr, "%s: %s\n", name, err);
			exit(1);
		}
		conf_print(&d->conf, stdout);
		printf("# configuration OK\n");
		exit(0);
	}
	log_set_level(debug ? LOG_DEBUG : d->conf.server.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* Every client is a descriptor: use what the hard limit allows (systemd's default
	 * soft limit of 1024 is meant for select() users; we use epoll). */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	d->base = loop_new();
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	if (d->stopping) {
		log_notice("second signal %d: exiting at once", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = true;
	log_info("signal %d: stopping", (int)sig);
	sd_notify(0, "STOPPING=1");
	if (d->on_stop)
		d->on_stop(d->arg); /* calls daemon_exit when its work is done */
	else
		daemon_exit(d);
}

static bool listen_same(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->enabled == b->enabled && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Adds key to the comma-separated list in buf unless same. */
static void keys_note(char *buf, size_t len, bool same, const char *key)
{
	if (same)
		return;
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "%s%s", n ? ", " : "", key);
}

/* What a running daemon is built on: its identity, its state, and where the three
 * daemons listen (bound at the start). Changing them needs a restart, whatever the
 * daemon. A new base_port was taken and said "configuration reloaded" while every
 * daemon still listened on the old ports, and the daemons then looked for each other,
 * and discoveryd advertised this server, at the new ones. */
static bool reload_keeps_identity(const struct conf *old, const struct conf *newc)
{
	/* Each key that changed is named: an operator who edited several had to guess. */
	char keys[512] = "";
	keys_note(keys, sizeof keys, strcmp(newc->server.server_id, old->server.server_id) == 0,
		  "[server] server_id");
	keys_note(keys, sizeof keys, strcmp(newc->server.state_dir, old->server.state_dir) == 0,
		  "[server] state_dir");
	if (*keys) {
		log_err("%s cannot change on reload (the server's identity and state); restart "
			"instead",
			keys);
		return false;
	}
	keys_note(keys, sizeof keys, newc->server.base_port == old->server.base_port,
		  "[server] base_port");
	keys_note(keys, sizeof keys, newc->server.api_port == old->server.api_port,
		  "[server] api_port");
	keys_note(keys, sizeof keys, strcmp(newc->server.runtime_dir, old->server.runtime_dir) == 0,
		  "[server] runtime_dir");
	keys_note(keys, sizeof keys, listen_same(&newc->discovery.listen, &old->discovery.listen),
		  "[discovery] listen");
	keys_note(keys, sizeof keys, listen_same(&newc->sim.listen, &old->sim.listen),
		  "[sim] listen");
	keys_note(keys, sizeof keys, listen_same(&newc->migration.listen, &old->migration.listen),
		  "[migration] listen");
	keys_note(keys, sizeof keys, strcmp(newc->discovery.socket, old->discovery.socket) == 0,
		  "[discovery] socket");
	keys_note(keys, sizeof keys, strcmp(newc->sim.socket, old->sim.socket) == 0, "[sim] socket");
	keys_note(keys, sizeof keys, strcmp(newc->migration.socket, old->migration.socket) == 0,
		  "[migration] socket");
	if (*keys) {
		log_err("%s cannot change on reload (where the daemons listen); restart instead",
			keys);
		return false;
	}
	return true;
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	sd_notify(0, "RELOADING=1");
	struct conf *newc = xmalloc(sizeof *newc);
	char err[1024];
	if (conf_load(newc, d->conf_path, d->overrides, d->n_overrides, err, sizeof err) < 0 ||
	    (d->check && d->check(newc, err, sizeof err) < 0)) {
		log_err("reload failed, keeping the running configuration: %s", err);
	} else if (!reload_keeps_identity(&d->conf, newc) ||
		   (d->on_reload && d->on_reload(d->arg, newc) < 0)) {
		log_err("reload refused by %s, keeping the running configuration", d->name);
	} else {
		d->conf = *newc;
		log_set_level(d->conf.server.log_level);
		log_info("configuration reloaded");
	}
	free(newc);
	sd_notify(0, "READY=1");
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	/* Pinged from the loop itself, so a wedged loop trips systemd's watchdog. */
	sd_notify(0, "WATCHDOG=1");
}

void daemon_set_handlers(struct daemon *d, daemon_reload_fn reload, daemon_stop_fn stop, void *arg)
{
	d->on_reload = reload;
	d->on_stop = stop;
	d->arg = arg;
	d->sig_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_reload_signal, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup)
		fatal("cannot install signal handlers");
	event_add(d->sig_term, NULL);
	event_add(d->sig_int, NULL);
	event_add(d->sig_hup, NULL);
}

/* The original's one-host recipe (TANK_API_PORT 8000, 8001, 8002 for three servers)
 * collides here, since every server takes three ports: say which port, what chose it and
 * how to fix it, rather than a bare "Address already in use". */
static void daemon_port_in_use(struct daemon *d, const struct conf_listen *listen)
{
	const struct conf *c = &d->conf;
	const char *section = listen == &c->sim.listen	       ? "sim"
			      : listen == &c->migration.listen ? "migration"
							       : "discovery";
	int offset = listen == &c->sim.listen ? 1 : listen == &c->migration.listen ? 2 : 0;
	if (listen == &c->sim.listen && c->server.api_port && !listen->spec[0])
		fatal("cannot listen on %s:%d: the port is in use. It is this server's door, from "
		      "%s. Every server on one machine needs a door of its own (the original's "
		      "recipe: TANK_API_PORT=8000, 8001, 8002)",
		      listen->host, listen->port, c->server.api_port_origin);
	if (listen->spec[0])
		fatal("cannot listen on %s:%d: the port is in use (it comes from [%s] listen = %s); "
		      "another program or another tankworld server holds it: pick a free port",
		      listen->host, listen->port, section, listen->spec);
	fatal("cannot listen on %s:%d: the port is in use. It is base_port + %d, from %s. "
	      "Every server takes three ports, base_port to base_port + 2 (discoveryd, simd, "
	      "migrated), so servers on one machine need base ports at least 3 apart, for "
	      "example 8000, 8010 and 8020 ([server] base_port), or give each server one door "
	      "with TANK_API_PORT",
	      listen->host, listen->port, offset, c->server.base_port_origin);
}

static void listen_unix(const char *unix_path, struct http_server *http)
{
	char *dir = xstrdup(unix_path);
	int r = fs_mkdir_p(dirname(dir), 0755);
	free(dir);
	if (r < 0)
		fatal("cannot create the directory of %s: %s", unix_path, strerror(-r));
	r = http_server_listen_unix(http, unix_path);
	if (r < 0)
		fatal("cannot listen on %s: %s", unix_path,
		      r == -EADDRINUSE ? "another daemon is serving it" : strerror(-r));
}

int daemon_listen(struct daemon *d, struct http_server *http, const char *unix_path,
		  const struct conf_listen *listen)
{
	int port = 0;
	int n = http_server_adopt_systemd(http, &port);
	if (n == -EPERM)
		fatal("refusing a non-loopback TCP socket without a cluster token; set [security] "
		      "token_file, or insecure = yes");
	if (n < 0)
		fatal("cannot use the sockets passed by systemd: %s", strerror(-n));
	if (n > 0) {
		log_info("serving on %d socket(s) from systemd", n);
		/* The other daemons and tankctl look for this daemon at unix_path only.
		 * Activated with a TCP socket alone (the mistake the units' comments warn
		 * of), it said READY while they found nothing there (an operator's audit):
		 * it listens there itself. */
		const char *got = http_server_adopted_unix(http);
		if (got[0] && strcmp(got, unix_path) != 0)
			log_warn("systemd passed the Unix socket %s, but the other daemons and "
				 "tankctl look for %s (the configured socket)",
				 got, unix_path);
		if (got[0])
			return port;
		log_notice("systemd passed no Unix socket: listening on %s as well, where the "
			   "other daemons and tankctl look",
			   unix_path);
		listen_unix(unix_path, http);
		return port;
	}
	listen_unix(unix_path, http);
	if (listen->enabled) {
		int r = http_server_listen_tcp(http, listen->host, listen->port, &port);
		if (r == -EPERM)
			fatal("refusing to listen on %s:%d without a cluster token; set [security] "
			      "token_file, or insecure = yes",
			      listen->host, listen->port);
		if (r == -EADDRINUSE)
			daemon_port_in_use(d, listen);
		if (r < 0)
			fatal("cannot listen on %s:%d: %s", listen->host, listen->port,
			      strerror(-r));
		log_info("listening on %s and %s:%d", unix_path, listen->host, port);
	} else {
		log_info("listening on %s (TCP disabled)", unix_path);
	}
	return port;
}

static void http_opts(const struct conf *c, struct http_server_opts *o)
{
	o->token = c->security.token;
	o->insecure = c->security.insecure;
	o->max_connections = c->server.max_connections;
	o->max_per_address = c->server.max_connections_per_address;
	o->max_unsent = (size_t)c->server.max_unsent_mb << 20;
	o->request_timeout = c->server.request_timeout;
	o->idle_timeout = c->server.idle_timeout;
}

void daemon_status(const char *fmt, ...)
{
	/* Only changes are sent: sd_notify blocks when the receiver's queue is full, and
	 * the loop must not wait on a slow reader. */
	static char last[512];
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (strcmp(buf, last) == 0)
		return;
	memcpy(last, buf, sizeof last);
	sd_notifyf(0, "STATUS=%s", buf);
}

void daemon_ready(struct daemon *d, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", buf, (int)getpid());
	log_info("ready: %s", buf);
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		d->watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
		struct timeval tv = {(time_t)(usec / 2 / 1000000),
				     (suseconds_t)(usec / 2 % 1000000)};
		event_add(d->watchdog, &tv);
	}
}

void daemon_exit(struct daemon *d)
{
	event_base_loopexit(d->base, NULL);
}

int daemon_run(struct daemon *d)
{
	event_base_dispatch(d->base);
	return 0;
}

void daemon_done(struct daemon *d)
{
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->watchdog)
		event_free(d->watchdog);
	free(d->overrides);
	event_base_free(d->base);
}

void daemon_http_reload(struct http_server *s, const struct conf *newc)
{
	struct http_server_opts o = {0};
	http_opts(newc, &o);
	http_server_set_token(s, newc->security.token, newc->security.insecure);
	http_server_set_limits(s, &o);
}

struct http_server *daemon_http_server(struct daemon *d, const struct http_route *routes,
				       size_t n_routes, void *arg, struct http_server_opts opts)
{
	http_opts(&d->conf, &opts);
	return http_server_new(d->base, routes, n_routes, arg, &opts);
}
