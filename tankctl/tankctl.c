/* tankctl: the operators' command-line tool (tankctl(1)). The command line and the
 * configuration; the commands are in tanks.c, migration.c and audit.c. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tankctl.h"
#include "util.h"

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
	const char **more = calloc(nsets + 1, sizeof *more);
	if (!more)
		abort();
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

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
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
		{0},
	};
	static struct ctl ctl;
	struct cmd_opts o = {.audit = {.expect = -1}};
	const char *conf_path = NULL;
	static const char **sets; /* static: still reachable on every early return */
	size_t nsets = 0;
	ctl.timeout = 30;
	int c;
	while ((c = getopt_long(argc, argv, "c:s:jt:Vhp:", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 's':
			sets = realloc(sets, (nsets + 1) * sizeof *sets);
			if (!sets)
				abort();
			sets[nsets++] = optarg;
			break;
		case 'S':
			ctl.server_url = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 't': {
			char *end;
			ctl.timeout = strtod(optarg, &end);
			if (end == optarg || *end || !(ctl.timeout >= 0.1 && ctl.timeout <= 3600))
				return usage_error("--timeout '%s': expected seconds from 0.1 to 3600", optarg);
			break;
		}
		case 'V':
			printf("tankctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'L':
			o.given |= O_LIMIT;
			if (parse_long(optarg, 1, 10000, &o.limit) < 0)
				return usage_error("--limit '%s': expected 1 to 10000", optarg);
			break;
		case 'T':
			o.given |= O_TANK;
			o.tank = optarg;
			break;
		case 'O':
			o.given |= O_SUCCESS;
			break;
		case 'p':
			o.given |= O_PROB;
			if (parse_long(optarg, 0, 100, &o.probability) < 0)
				return usage_error("--probability '%s': expected 0 to 100", optarg);
			break;
		case 'D':
			o.given |= O_DIR;
			if (strcmp(optarg, "left") != 0 && strcmp(optarg, "right") != 0)
				return usage_error("--direction '%s': expected left or right", optarg);
			o.direction = optarg;
			break;
		case 'R':
			o.given |= O_DEST;
			if (!server_id_valid(optarg))
				return usage_error("--dest-server '%s': not a server id", optarg);
			o.dest_server = optarg;
			break;
		case 'I':
			o.given |= O_ID;
			o.id = optarg;
			break;
		case 'X':
			o.given |= O_EXPECT;
			if (parse_long(optarg, 0, 100000000, &o.audit.expect) < 0)
				return usage_error("--expect '%s': expected a fish count", optarg);
			break;
		case 'W':
			o.given |= O_SAVE;
			o.audit.save = optarg;
			break;
		case 'B':
			o.given |= O_BASELINE;
			o.audit.baseline = optarg;
			break;
		default:
			fprintf(stderr, "Try 'tankctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	int nargs = argc - optind;
	char **args = argv + optind;
	if (nargs < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = args[0];
	/* Which options each command takes, and how many arguments. */
	static const struct {
		const char *name, *sub;
		int min, max;
		unsigned allowed;
	} cmds[] = {
		{"servers", NULL, 0, 0, 0},
		{"tanks", NULL, 0, 0, 0},
		{"tank", "show", 1, 1, 0},
		{"tank", "pause", 1, 1, 0},
		{"tank", "resume", 1, 1, 0},
		{"fish", "show", 1, 2, 0},
		{"connections", NULL, 0, 0, O_TANK},
		{"connect", NULL, 2, 2, O_PROB | O_DIR | O_DEST | O_ID},
		{"disconnect", NULL, 1, 1, 0},
		{"transfers", NULL, 0, 0, O_LIMIT | O_TANK | O_SUCCESS},
		{"transfer", "show", 1, 1, 0},
		{"migrate", NULL, 0, 0, 0},
		{"audit", NULL, 0, 0, O_EXPECT | O_SAVE | O_BASELINE},
	};
	int k = -1;
	bool name_known = false;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(cmds[i].name, cmd) != 0)
			continue;
		name_known = true;
		if (!cmds[i].sub || (nargs > 1 && strcmp(cmds[i].sub, args[1]) == 0)) {
			k = (int)i;
			break;
		}
	}
	if (k < 0 && name_known)
		return usage_error("%s: unknown or missing subcommand", cmd);
	if (k < 0)
		return usage_error("unknown command '%s'", cmd);
	int skip = cmds[k].sub ? 2 : 1;
	nargs -= skip;
	args += skip;
	if (nargs < cmds[k].min || nargs > cmds[k].max)
		return usage_error("%s: wrong number of arguments", cmd);
	if (o.given & ~cmds[k].allowed)
		return usage_error("%s: an option given does not apply to this command", cmd);
	if (ctl.server_url) {
		char host[CONF_STR];
		int port;
		if (url_split(ctl.server_url, host, sizeof host, &port) < 0)
			return usage_error("--server '%s': expected http://host[:port]", ctl.server_url);
		if (port == 0)
			port = 8000;
		if (endpoint_tcp(&ctl.disc, "discoveryd", host, port) < 0)
			return usage_error("--server '%s': expected http://host[:port]", ctl.server_url);
	}
	int lr = load_conf(&ctl, conf_path, sets, nsets);
	free(sets);
	sets = NULL;
	if (lr < 0)
		return EXIT_USAGE;
	if (!ctl.server_url)
		endpoint_unix(&ctl.disc, "discoveryd", ctl.conf.discovery.socket);
	if (ctl_client_init(&ctl) < 0) {
		fprintf(stderr, "tankctl: cannot initialize libcurl\n");
		return EXIT_FAIL;
	}
	int rc;
	const char *sub = cmds[k].sub;
	bool mutating = strcmp(cmd, "connect") == 0 || strcmp(cmd, "disconnect") == 0 ||
			strcmp(cmd, "migrate") == 0 ||
			(strcmp(cmd, "tank") == 0 && strcmp(sub, "show") != 0);
	if (ctl.server_url && ctl.conf_err[0] && mutating)
		fprintf(stderr, "tankctl: warning: no cluster token: %s\n", ctl.conf_err);
	if (strcmp(cmd, "servers") == 0)
		rc = cmd_servers(&ctl);
	else if (strcmp(cmd, "tanks") == 0)
		rc = cmd_tanks(&ctl);
	else if (strcmp(cmd, "tank") == 0 && strcmp(sub, "show") == 0)
		rc = cmd_tank_show(&ctl, args[0]);
	else if (strcmp(cmd, "tank") == 0)
		rc = cmd_tank_pause(&ctl, args[0], strcmp(sub, "pause") == 0);
	else if (strcmp(cmd, "fish") == 0)
		rc = nargs == 2 ? cmd_fish_show(&ctl, args[0], args[1]) : cmd_fish_show(&ctl, NULL, args[0]);
	else if (strcmp(cmd, "connections") == 0)
		rc = cmd_connections(&ctl, &o);
	else if (strcmp(cmd, "connect") == 0)
		rc = cmd_connect(&ctl, args[0], args[1], &o);
	else if (strcmp(cmd, "disconnect") == 0)
		rc = cmd_disconnect(&ctl, args[0]);
	else if (strcmp(cmd, "transfers") == 0)
		rc = cmd_transfers(&ctl, &o);
	else if (strcmp(cmd, "transfer") == 0)
		rc = cmd_transfer_show(&ctl, args[0]);
	else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&ctl);
	else
		rc = cmd_audit(&ctl, &o.audit);
	ctl_client_done(&ctl);
	return rc;
}
