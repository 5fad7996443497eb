/* tankctl: the operators' command-line tool (tankctl(1)). The command line and the
 * configuration; the commands are in tanks.c, migration.c and audit.c. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tankctl.h"
#include "util.h"
#include "xalloc.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tankctl [options] COMMAND [arguments]\n"
		"\n"
		"Commands:\n"
		"  servers                      the servers discoveryd knows\n"
		"  tanks                        this server's tanks\n"
		"  tank show TANK               one tank in detail\n"
		"  tank pause|resume TANK       stop or restart a tank's simulation\n"
		"  fish show [TANK] FISH        one fish (without TANK: searched in every tank)\n"
		"  connections [--tank TANK]    migration connections\n"
		"  connect SRC DST [-p|--probability N] [--direction left|right]\n"
		"          [--dest-server ID] [--id ID]\n"
		"                               create or update a connection\n"
		"  disconnect ID                delete a connection\n"
		"  transfers [--limit N] [--tank TANK] [--success-only]\n"
		"                               the transfer history, newest first\n"
		"  transfer show ID             one transfer record\n"
		"  migrate                      run one migration scheduler pass now\n"
		"  audit [--expect N] [--save FILE] [--baseline FILE]\n"
		"                               prove every fish is in exactly one place\n"
		"  lineage FISH [--depth N]     a fish's ancestors (default 10 generations),\n"
		"                               followed to the servers they were born on\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE        configuration (default %s)\n"
		"  -s, --set SECTION.KEY=V  override one configuration key (repeatable)\n"
		"      --server URL         a remote server's discoveryd, http://host:8000\n"
		"  -j, --json               print JSON instead of tables\n"
		"  -t, --timeout SECONDS    per request (default 30)\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               this text\n"
		"A TANK may be a tank id, a unique prefix of one, or a tank name.\n",
		conf_default_path());
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "tankctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'tankctl --help'.\n");
	va_end(ap);
	return EXIT_USAGE;
}

static int parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || end == s || *end || x < min || x > max)
		return -1;
	*ret = x;
	return 0;
}

static int load_conf(struct ctl *ctl, const char *path, const char **sets, size_t nsets)
{
	char err[1024];
	/* Warnings (unknown keys) go to stderr at most. */
	log_init("tankctl", LOG_WARNING);
	if (conf_load(&ctl->conf, path, sets, nsets, err, sizeof err) == 0) {
		ctl->token = ctl->conf.security.token[0] ? ctl->conf.security.token : NULL;
		return 0;
	}
	/* A token file the operator may not read must not stop read-only commands: load
	 * again without it and keep the reason for when a token is needed. */
	const char **more = xcalloc(nsets + 1, sizeof *more);
	memcpy(more, sets, nsets * sizeof *sets);
	more[nsets] = "security.token_file=";
	char err2[1024];
	int r = conf_load(&ctl->conf, path, more, nsets + 1, err2, sizeof err2);
	free(more);
	if (r < 0) {
		fprintf(stderr, "tankctl: %s\n", err);
		return -1;
	}
	snprintf(ctl->conf_err, sizeof ctl->conf_err, "%s", err);
	ctl->token = NULL;
	return 0;
}

/* Options are read in one getopt_long pass (they may come anywhere on the line);
 * global_option takes the ones every verb has, verb_option the ones a verb allows
 * (checked against the verb table once the verb is known). Each returns OPT_NEXT, or
 * OPT_NOT_MINE, or the exit code to stop with. */
enum { OPT_NEXT = -1, OPT_NOT_MINE = -2 };

static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"set", required_argument, NULL, 's'},
	{"server", required_argument, NULL, 'S'},
	{"json", no_argument, NULL, 'j'},
	{"timeout", required_argument, NULL, 't'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{"limit", required_argument, NULL, 'L'},
	{"tank", required_argument, NULL, 'T'},
	{"success-only", no_argument, NULL, 'O'},
	{"probability", required_argument, NULL, 'p'},
	{"direction", required_argument, NULL, 'D'},
	{"dest-server", required_argument, NULL, 'R'},
	{"id", required_argument, NULL, 'I'},
	{"expect", required_argument, NULL, 'X'},
	{"save", required_argument, NULL, 'W'},
	{"baseline", required_argument, NULL, 'B'},
	{"depth", required_argument, NULL, 'N'},
	{0},
};

/* The long name of the lowest O_* bit in bits, for a message. */
static const char *option_name(unsigned bits)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{O_LIMIT, "limit"},	  {O_TANK, "tank"},	   {O_PROB, "probability"},
		     {O_DIR, "direction"},	  {O_DEST, "dest-server"}, {O_ID, "id"},
		     {O_EXPECT, "expect"},	  {O_SAVE, "save"},	   {O_BASELINE, "baseline"},
		     {O_SUCCESS, "success-only"}, {O_DEPTH, "depth"}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bits & names[i].bit)
			return names[i].name;
	return "an option";
}

struct global_opts {
	const char *conf_path;
	const char **sets; /* -s: in a static struct, so still reachable on every early return */
	size_t nsets;
};

/* With no configuration file, a server run by hand in this folder (tankworld without
 * one, as the original's recipe) has its sockets under ./data/<server_id>/run: used
 * when there, unless --set names the runtime folder. Without this, tankctl looked in
 * /run/tankworld and could not reach such a server. */
static int hand_run_sockets(struct ctl *ctl, struct global_opts *g)
{
	if (g->conf_path || access(conf_default_path(), F_OK) == 0)
		return 0;
	for (size_t i = 0; i < g->nsets; i++)
		if (strncmp(g->sets[i], "server.runtime_dir=", 19) == 0)
			return 0;
	static char set[PATH_MAX + 32];
	char *base = conf_hand_run_base(&ctl->conf);
	int n = base ? snprintf(set, sizeof set, "server.runtime_dir=%s/run", base) : -1;
	free(base);
	if (n < 0 || (size_t)n >= sizeof set || access(set + 19, F_OK) != 0)
		return 0;
	g->sets = xreallocarray(g->sets, g->nsets + 1, sizeof *g->sets);
	g->sets[g->nsets++] = set;
	return load_conf(ctl, g->conf_path, g->sets, g->nsets);
}

static int global_option(int c, const char *arg, struct ctl *ctl, struct global_opts *g)
{
	switch (c) {
	case 'c':
		g->conf_path = arg;
		return OPT_NEXT;
	case 's':
		g->sets = xrealloc(g->sets, (g->nsets + 1) * sizeof *g->sets);
		g->sets[g->nsets++] = arg;
		return OPT_NEXT;
	case 'S':
		ctl->server_url = arg;
		return OPT_NEXT;
	case 'j':
		ctl->json = true;
		return OPT_NEXT;
	case 't': {
		char *end;
		ctl->timeout = strtod(arg, &end);
		if (end == arg || *end || !(ctl->timeout >= 0.1 && ctl->timeout <= 3600))
			return usage_error("--timeout '%s': expected seconds from 0.1 to 3600", arg);
		return OPT_NEXT;
	}
	case 'V':
		printf("tankctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	case 'h':
		usage(stdout);
		return 0;
	}
	return OPT_NOT_MINE;
}

static int verb_option(int c, const char *arg, struct cmd_opts *o)
{
	switch (c) {
	case 'L':
		o->given |= O_LIMIT;
		if (parse_long(arg, 1, 1000000000, &o->limit) < 0)
			return usage_error("--limit '%s': expected a whole number from 1 "
					   "(migrated cuts it to its maximum)",
					   arg);
		return OPT_NEXT;
	case 'T':
		o->given |= O_TANK;
		o->tank = arg;
		return OPT_NEXT;
	case 'O':
		o->given |= O_SUCCESS;
		return OPT_NEXT;
	case 'p':
		o->given |= O_PROB;
		if (parse_long(arg, 0, 100, &o->probability) < 0)
			return usage_error("--probability '%s': expected 0 to 100", arg);
		return OPT_NEXT;
	case 'D':
		o->given |= O_DIR;
		if (strcmp(arg, "left") != 0 && strcmp(arg, "right") != 0)
			return usage_error("--direction '%s': expected left or right", arg);
		o->direction = arg;
		return OPT_NEXT;
	case 'R':
		o->given |= O_DEST;
		if (!server_id_valid(arg))
			return usage_error("--dest-server '%s': not a server id", arg);
		o->dest_server = arg;
		return OPT_NEXT;
	case 'I':
		o->given |= O_ID;
		o->id = arg;
		return OPT_NEXT;
	case 'X':
		o->given |= O_EXPECT;
		if (parse_long(arg, 0, 100000000, &o->audit.expect) < 0)
			return usage_error("--expect '%s': expected a fish count", arg);
		return OPT_NEXT;
	case 'W':
		o->given |= O_SAVE;
		o->audit.save = arg;
		return OPT_NEXT;
	case 'N':
		o->given |= O_DEPTH;
		if (parse_long(arg, 0, 1000, &o->depth) < 0)
			return usage_error("--depth '%s': expected 0 to 1000 generations", arg);
		return OPT_NEXT;
	case 'B':
		o->given |= O_BASELINE;
		o->audit.baseline = arg;
		return OPT_NEXT;
	}
	return OPT_NOT_MINE;
}

/* The verbs: each one's handler gets the arguments after its name (and subcommand). */
typedef int (*verb_fn)(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o);

static int run_servers(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_servers(ctl);
}

static int run_tanks(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_tanks(ctl);
}

static int run_tank_show(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_tank_show(ctl, args[0]);
}

static int run_tank_pause(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_tank_pause(ctl, args[0], true);
}

static int run_tank_resume(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_tank_pause(ctl, args[0], false);
}

static int run_fish_show(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return nargs == 2 ? cmd_fish_show(ctl, args[0], args[1])
			  : cmd_fish_show(ctl, NULL, args[0]);
}

static int run_connections(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_connections(ctl, o);
}

static int run_connect(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_connect(ctl, args[0], args[1], o);
}

static int run_disconnect(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_disconnect(ctl, args[0]);
}

static int run_transfers(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_transfers(ctl, o);
}

static int run_transfer_show(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_transfer_show(ctl, args[0]);
}

static int run_migrate(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_migrate(ctl);
}

static int run_audit(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_audit(ctl, &o->audit);
}

static int run_lineage(struct ctl *ctl, char **args, int nargs, const struct cmd_opts *o)
{
	return cmd_lineage(ctl, args[0], o->given & O_DEPTH ? o->depth : 10);
}

static const struct verb {
	const char *name, *sub;
	int min, max;	  /* arguments after name and sub */
	unsigned allowed; /* O_* options it takes */
	bool mutating;	  /* needs the cluster token */
	verb_fn run;
} verbs[] = {
	{"servers", NULL, 0, 0, 0, false, run_servers},
	{"tanks", NULL, 0, 0, 0, false, run_tanks},
	{"tank", "show", 1, 1, 0, false, run_tank_show},
	{"tank", "pause", 1, 1, 0, true, run_tank_pause},
	{"tank", "resume", 1, 1, 0, true, run_tank_resume},
	{"fish", "show", 1, 2, 0, false, run_fish_show},
	{"connections", NULL, 0, 0, O_TANK, false, run_connections},
	{"connect", NULL, 2, 2, O_PROB | O_DIR | O_DEST | O_ID, true, run_connect},
	{"disconnect", NULL, 1, 1, 0, true, run_disconnect},
	{"transfers", NULL, 0, 0, O_LIMIT | O_TANK | O_SUCCESS, false, run_transfers},
	{"transfer", "show", 1, 1, 0, false, run_transfer_show},
	{"migrate", NULL, 0, 0, 0, true, run_migrate},
	{"audit", NULL, 0, 0, O_EXPECT | O_SAVE | O_BASELINE, false, run_audit},
	{"lineage", NULL, 1, 1, O_DEPTH, false, run_lineage},
};

/* The verb args name, or NULL after a usage error (*rc set). */
static const struct verb *verb_find(char **args, int nargs, int *rc)
{
	bool name_known = false;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verbs[i].name, args[0]) != 0)
			continue;
		name_known = true;
		if (!verbs[i].sub || (nargs > 1 && strcmp(verbs[i].sub, args[1]) == 0))
			return &verbs[i];
	}
	if (name_known)
		*rc = usage_error("%s: unknown or missing subcommand", args[0]);
	else
		*rc = usage_error("unknown command '%s'", args[0]);
	return NULL;
}

/* --server URL: discoveryd's TCP endpoint instead of the local socket. */
static int server_endpoint(struct ctl *ctl)
{
	char host[CONF_STR];
	int port;
	if (url_split(ctl->server_url, host, sizeof host, &port) < 0)
		return usage_error("--server '%s': expected http://host[:port]", ctl->server_url);
	if (port == 0)
		port = 8000;
	if (endpoint_tcp(&ctl->disc, "discoveryd", host, port) < 0)
		return usage_error("--server '%s': expected http://host[:port]", ctl->server_url);
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctl ctl;
	static struct global_opts g;
	struct cmd_opts o = {.audit = {.expect = -1}};
	ctl.timeout = 30;
	argv[0] = (char *)"tankctl"; /* getopt's messages name the program, not its path */
	int c;
	while ((c = getopt_long(argc, argv, "c:s:jt:Vhp:", long_options, NULL)) != -1) {
		int r = global_option(c, optarg, &ctl, &g);
		if (r == OPT_NOT_MINE)
			r = verb_option(c, optarg, &o);
		if (r == OPT_NOT_MINE) {
			fprintf(stderr, "Try 'tankctl --help'.\n");
			return EXIT_USAGE;
		}
		if (r != OPT_NEXT)
			return r;
	}
	int nargs = argc - optind, rc;
	char **args = argv + optind;
	if (nargs < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const struct verb *v = verb_find(args, nargs, &rc);
	if (!v)
		return rc;
	int skip = v->sub ? 2 : 1;
	nargs -= skip;
	args += skip;
	if (nargs < v->min || nargs > v->max)
		return usage_error("%s: wrong number of arguments", v->name);
	if (o.given & ~v->allowed)
		return usage_error("%s: --%s does not apply to this command", v->name,
				   option_name(o.given & ~v->allowed));
	if (ctl.server_url && (rc = server_endpoint(&ctl)) != 0)
		return rc;
	int lr = load_conf(&ctl, g.conf_path, g.sets, g.nsets);
	if (lr == 0)
		lr = hand_run_sockets(&ctl, &g);
	free(g.sets);
	g.sets = NULL;
	if (lr < 0)
		return EXIT_USAGE;
	if (!ctl.server_url)
		endpoint_unix(&ctl.disc, "discoveryd", ctl.conf.discovery.socket);
	if (ctl_client_init(&ctl) < 0) {
		fprintf(stderr, "tankctl: cannot initialize libcurl\n");
		return EXIT_FAIL;
	}
	if (ctl.server_url && ctl.conf_err[0] && v->mutating)
		fprintf(stderr, "tankctl: warning: no cluster token: %s\n", ctl.conf_err);
	rc = v->run(&ctl, args, nargs, &o);
	ctl_client_done(&ctl);
	/* Output lost (a full disk under a redirect) is a failure a script must see; a
	 * reader that closed the pipe early (| head) is not. */
	if ((fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE) {
		fprintf(stderr, "tankctl: cannot write the output: %s\n", strerror(errno));
		if (rc == 0)
			rc = EXIT_FAIL;
	}
	return rc;
}
