/* tankworld: run one server (discoveryd, simd, migrated) in the foreground, the way the
 * original ran with one command per server. It reads the same configuration as the
 * daemons (-c FILE, drop-ins, TANK_SERVER_ID, TANK_API_PORT, DISCOVERY_SERVER_URL,
 * --set). Without a configuration file it keeps state in ./data/<server_id>/, as the
 * original kept data/. systemd stays the supervisor in production. See tankworld(8). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "supervise.h"
#include "xalloc.h"

#define MAX_SETS 32
#define MAX_EXTRA 4

static const char *const names[3] = {"discoveryd", "simd", "migrated"};

_Static_assert(3 + 2 * (MAX_SETS + MAX_EXTRA) + 2 <= SUP_MAX_ARGS,
	       "a daemon's command line holds every option tankworld hands it");

struct opts {
	const char *file;
	const char *sets[MAX_SETS];
	size_t nsets;
	bool check_only;
	bool debug;
	char *extra[MAX_EXTRA]; /* --set options tankworld adds for a hand-run server */
	int nextra;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tankworld [-c FILE] [-s|--set section.key=value]... [-n|--check-config]\n"
		"                 [-d|--debug]\n"
		"       tankworld --print-example-config | -h|--help | -V|--version\n"
		"Runs this server's discoveryd, simd and migrated in the foreground, each with\n"
		"these options (as the daemons take them).\n");
}

/* The daemons' options (libcommon/daemon.c), which tankworld hands on. Returns -1 to go
 * on, else the exit status; what it refuses it names (it printed the usage alone). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int c;
	while ((c = getopt_long(argc, argv, DAEMON_SHORT_OPTIONS, daemon_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->file = optarg;
			break;
		case 's':
			if (!conf_override_shaped(optarg)) {
				fprintf(stderr,
					"tankworld: --set '%s': expected section.key=value\n",
					optarg);
				return 2;
			}
			if (o->nsets == MAX_SETS) {
				fprintf(stderr, "tankworld: at most %d --set options\n", MAX_SETS);
				return 2;
			}
			o->sets[o->nsets++] = optarg;
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'E':
			conf_print_example(stdout);
			return 0;
		case 'V':
			printf("tankworld %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default: /* getopt named it */
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tankworld: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* The daemons sit beside tankworld when installed (sbin), and in sibling folders of the
 * build tree (discoveryd/discoveryd) when run from there. */
static char *find_daemon(const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", self, name);
	if (access(path, X_OK) == 0)
		return strdup(path);
	snprintf(path, sizeof path, "%s/../%s/%s", self, name, name);
	if (access(path, X_OK) == 0)
		return realpath(path, NULL);
	return NULL;
}

static char *join3(const char *a, const char *b, const char *c)
{
	char *s = NULL;
	s = xasprintf("%s%s%s", a, b, c);
	return s;
}

static bool set_given(const struct opts *o, const char *prefix)
{
	for (size_t i = 0; i < o->nsets; i++)
		if (!strncmp(o->sets[i], prefix, strlen(prefix)))
			return true;
	return false;
}

/* No configuration file at all: state under ./data/<server_id>/ (absolute, since the
 * daemons need the same path whatever their working folder), as the original kept data/. */
static void hand_run_dirs(const struct conf *c, struct opts *o)
{
	char *base = conf_hand_run_base(c);
	if (!base)
		fatal("cannot read the working folder: %s", strerror(errno));
	if (!set_given(o, "server.state_dir="))
		o->extra[o->nextra++] = join3("server.state_dir=", base, "/state");
	if (!set_given(o, "server.runtime_dir="))
		o->extra[o->nextra++] = join3("server.runtime_dir=", base, "/run");
	int r = o->check_only ? 0 : fs_mkdir_p(base, 0750); /* a check creates nothing */
	if (r < 0)
		fatal("cannot create %s: %s", base, strerror(-r));
	free(base);
}

/* A hand-run server with no token at all, listening on loopback only: the original's
 * recipe (environment variables only) must work, and its servers register with each
 * other through their doors. Under systemd, and with a config file, TCP stays read-only
 * without a token (tankworld.conf(5)). */
static void hand_run_insecure(const struct conf *c, struct opts *o)
{
	const char *h = c->sim.listen.host;
	bool loopback = !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "localhost");
	if (c->security.token_file[0] || c->security.insecure || !loopback || o->nextra >= MAX_EXTRA)
		return;
	o->extra[o->nextra++] = join3("security.insecure=yes", "", "");
	log_warn("no token_file: TCP mutations on %s are open to every local user of this "
		 "machine, as in the original; set [security] token_file to guard them",
		 h);
}

/* Each daemon gets tankworld's own -c and --set options, then the added ones. */
static void child_argv(struct sup_child *ch, const char *name, const struct opts *o)
{
	int a = 0;
	if (!(ch->argv[a++] = find_daemon(name)))
		fatal("cannot find %s beside tankworld or in the build tree", name);
	if (o->file) {
		ch->argv[a++] = "-c";
		ch->argv[a++] = (char *)o->file;
	}
	for (size_t i = 0; i < o->nsets; i++) {
		ch->argv[a++] = "--set";
		ch->argv[a++] = (char *)o->sets[i];
	}
	for (int i = 0; i < o->nextra; i++) {
		ch->argv[a++] = "--set";
		ch->argv[a++] = o->extra[i];
	}
	if (o->debug)
		ch->argv[a++] = "--debug";
	if (o->check_only)
		ch->argv[a++] = "--check-config";
	ch->argv[a] = NULL;
}

/* --check-config is each daemon's own check, with the options tankworld hands it: simd
 * refuses a world too large for its food supply, which the file alone passed here, and
 * the configuration printed is the one the daemons get, the state folders and insecure
 * tankworld adds included (it printed the file's). Each says what it refuses on stderr;
 * the last one's copy of the configuration is shown. */
static int check_daemons(struct sup_child *kids, int n)
{
	for (int k = 0; k < n; k++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			fatal("cannot fork: %s", strerror(errno));
		if (pid == 0) {
			int fd = k < n - 1 ? open("/dev/null", O_WRONLY) : -1;
			if (fd >= 0)
				dup2(fd, STDOUT_FILENO);
			execv(kids[k].argv[0], kids[k].argv);
			fprintf(stderr, "tankworld: cannot run %s: %s\n", kids[k].argv[0],
				strerror(errno));
			_exit(1);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				fatal("waitpid: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	log_init("tankworld", LOG_INFO);

	bool have_file = o.file || access(conf_default_path(), F_OK) == 0;
	static struct conf c;
	char err[1024];
	if (conf_load(&c, o.file, o.sets, o.nsets, err, sizeof err) < 0) {
		fprintf(stderr, "tankworld: %s\n", err);
		return 1;
	}
	if (!have_file) {
		hand_run_dirs(&c, &o);
		hand_run_insecure(&c, &o);
	}
	struct sup_child kids[3];
	memset(kids, 0, sizeof kids);
	for (int k = 0; k < 3; k++) {
		kids[k].name = names[k];
		kids[k].out_fd = -1;
		child_argv(&kids[k], names[k], &o);
	}
	if (o.check_only) {
		for (int i = 0; i < o.nextra; i++)
			printf("# tankworld adds --set %s\n", o.extra[i]);
		rc = check_daemons(kids, 3);
		for (int k = 0; k < 3; k++)
			free(kids[k].argv[0]);
		for (int i = 0; i < o.nextra; i++)
			free(o.extra[i]);
		return rc;
	}
	log_info("server %s: starting discoveryd, simd and migrated", c.server.server_id);
	rc = sup_run(kids, 3);
	log_info("server %s stopped", c.server.server_id);
	for (int k = 0; k < 3; k++)
		free(kids[k].argv[0]);
	for (int i = 0; i < o.nextra; i++)
		free(o.extra[i]);
	return rc;
}
