/* Unit tests for libcommon/conf: defaults, INI parsing, value types, precedence of
 * file < drop-ins < environment < --set, derived values and cross-field checks. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "fsutil.h"
#include "tap.h"

static char tmpdir[256];
static char emptydir[300]; /* CONFIGURATION_DIRECTORY without a tankworld.conf */

static const char *const env_vars[] = {
	"TANK_SERVER_ID",  "TANK_API_PORT",	"DISCOVERY_SERVER_URL",	   "TANKWORLD_LOG_LEVEL",
	"STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
};
#define N_ENV (sizeof env_vars / sizeof env_vars[0])
static char *saved_env[N_ENV];

static void env_save_and_clear(void)
{
	for (size_t i = 0; i < N_ENV; i++) {
		const char *v = getenv(env_vars[i]);
		saved_env[i] = v ? strdup(v) : NULL;
		unsetenv(env_vars[i]);
	}
}

static void env_restore(void)
{
	for (size_t i = 0; i < N_ENV; i++) {
		if (saved_env[i])
			setenv(env_vars[i], saved_env[i], 1);
		else
			unsetenv(env_vars[i]);
		free(saved_env[i]);
	}
}

/* Everything except CONFIGURATION_DIRECTORY, which points at the empty dir. */
static void env_reset(void)
{
	for (size_t i = 0; i < N_ENV; i++)
		unsetenv(env_vars[i]);
	setenv("CONFIGURATION_DIRECTORY", emptydir, 1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char *tpath(const char *name)
{
	return fs_path_join(tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
	if (fs_write_atomic(path, text, strlen(text), 0644) < 0) {
		printf("# cannot write %s\n", path);
		abort();
	}
}

/* Capture what the log writes to stderr while f runs. */
static int saved_stderr = -1;
static char capture_path[300];

static void capture_start(void)
{
	fflush(stderr);
	snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", tmpdir);
	int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *capture_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	char *text = NULL;
	if (fs_read_file(capture_path, 1 << 20, &text, NULL) < 0)
		text = strdup("");
	return text;
}

/* conf_parse_text on a copy of text, on top of the defaults. */
static int parse(struct conf *c, const char *text, char *err, size_t errlen)
{
	conf_defaults(c);
	char *copy = strdup(text);
	err[0] = '\0';
	int r = conf_parse_text(c, "t.conf", copy, err, errlen);
	free(copy);
	return r;
}

static void test_defaults(void)
{
	struct conf c;
	memset(&c, 0x5a, sizeof c);
	conf_defaults(&c);
	is_str(c.server.server_id, "", "default server_id empty (derived at load)");
	is_int(c.server.base_port, 8000, "default base_port");
	is_str(c.server.advertise_host, "", "default advertise_host empty");
	is_str(c.server.state_dir, LOCALSTATEDIR "/lib/tankworld", "default state_dir");
	is_str(c.server.runtime_dir, RUNSTATEDIR "/tankworld", "default runtime_dir");
	is_int(c.server.log_level, LOG_INFO, "default log_level info");
	is_str(c.discovery.listen.spec, "", "default discovery.listen spec empty");
	is_str(c.discovery.socket, "", "default discovery.socket empty (derived)");
	is_str(c.discovery.hub_url, "", "default hub_url empty (hub)");
	is_double(c.discovery.heartbeat_interval, 30, 0, "default heartbeat_interval");
	is_double(c.discovery.heartbeat_timeout, 90, 0, "default heartbeat_timeout");
	is_double(c.discovery.evict_after, 86400, 0, "default evict_after");
	is_double(c.sim.tick_rate, 30, 0, "default tick_rate");
	is_double(c.sim.snapshot_interval, 60, 0, "default snapshot_interval");
	is_str(c.sim.default_tank_name, "Tank 1", "default default_tank_name");
	ok(c.sim.seed == 0, "default seed 0");
	is_int(c.sim.max_fish, 100, "default max_fish");
	is_int(c.sim.width, 1088, "default width");
	is_int(c.sim.height, 612, "default height");
	is_double(c.migration.check_interval, 10, 0, "default check_interval");
	is_double(c.migration.max_per_second, 1000, 0, "default max_per_second");
	is_double(c.migration.per_connection_per_second, 100, 0,
		  "default per_connection_per_second");
	is_double(c.migration.request_timeout, 10, 0, "default request_timeout");
	is_str(c.security.token_file, "", "default token_file empty");
	ok(!c.security.insecure, "default insecure no");
	is_str(c.security.token, "", "default token empty");
}

static void test_parse_text(void)
{
	struct conf c;
	char err[512];
	const char *text = "# leading comment\n"
			   "; semicolon comment\n"
			   "\n"
			   "[server]\n"
			   "  base_port   =   9000  \n"
			   "\t# indented comment\n"
			   "server_id=node-7\n"
			   "[ sim ]\n"
			   "default_tank_name = \"  My Tank  \"\n"
			   "tick_rate = 60\n"
			   "\n"
			   "[discovery]\r\n"
			   "hub_url = http://hub.example:8000\r\n"
			   "heartbeat_interval = 250ms\r\n"
			   "[security]\n"
			   "insecure = YES"; /* no final newline */
	is_int(parse(&c, text, err, sizeof err), 0, "file with sections, comments, quotes: %s", err);
	is_int(c.server.base_port, 9000, "whitespace around key and value trimmed");
	is_str(c.server.server_id, "node-7", "key=value without spaces");
	is_str(c.sim.default_tank_name, "  My Tank  ", "quotes stripped, inner spaces kept");
	is_double(c.sim.tick_rate, 60, 0, "section name with spaces around it");
	is_str(c.discovery.hub_url, "http://hub.example:8000", "CRLF line endings");
	is_double(c.discovery.heartbeat_interval, 0.25, 1e-12, "duration with unit");
	ok(c.security.insecure, "last line without newline");

	/* Only a matching pair of quotes is stripped. */
	is_int(parse(&c, "[sim]\ndefault_tank_name = \"half\n", err, sizeof err), 0, "lone quote");
	is_str(c.sim.default_tank_name, "\"half", "a lone leading quote is kept");
	is_int(parse(&c, "[server]\nadvertise_host = \"\"\n", err, sizeof err), 0, "empty quotes");
	is_str(c.server.advertise_host, "", "\"\" is the empty string");
	is_int(parse(&c, "[sim]\ndefault_tank_name = \"a = b # c\"\n", err, sizeof err), 0,
	       "'=' and '#' inside a quoted value");
	is_str(c.sim.default_tank_name, "a = b # c", "'=' and '#' inside a value are kept");

	/* Later assignments win within a file. */
	is_int(parse(&c, "[server]\nbase_port = 1000\nbase_port = 2000\n", err, sizeof err), 0,
	       "repeated key");
	is_int(c.server.base_port, 2000, "the later assignment wins");
	/* A section may appear twice. */
	is_int(parse(&c, "[server]\nbase_port=1\n[sim]\nmax_fish=5\n[server]\nbase_port=2\n", err,
		     sizeof err),
	       0, "section repeated");
	ok(c.server.base_port == 2 && c.sim.max_fish == 5, "repeated section keeps applying");
	is_int(parse(&c, "", err, sizeof err), 0, "empty text");
	is_int(parse(&c, "\n\n  \n# only comments\n", err, sizeof err), 0, "only comments");

	/* Unknown key: a warning, not an error, and parsing goes on. */
	capture_start();
	int r = parse(&c, "[server]\nbogus_key = 1\nbase_port = 9100\n", err, sizeof err);
	char *log = capture_end();
	is_int(r, 0, "unknown key is not an error");
	is_int(c.server.base_port, 9100, "keys after an unknown key still apply");
	ok(strstr(log, "t.conf:2") && strstr(log, "unknown key 'bogus_key' in [server]"),
	   "unknown key logs a warning with file and line");
	free(log);

	/* Unknown section: warned about once; its keys are ignored, even invalid ones. */
	capture_start();
	r = parse(&c, "[future]\nanything = at all\nbase_port = x\n[server]\nbase_port = 9200\n",
		  err, sizeof err);
	log = capture_end();
	is_int(r, 0, "unknown section is not an error");
	is_int(c.server.base_port, 9200, "known section after an unknown one applies");
	ok(strstr(log, "t.conf:1") && strstr(log, "unknown section [future]"),
	   "unknown section logs a warning with file and line");
	free(log);

	/* Errors carry path:line. */
	r = parse(&c, "# c\n[server]\n\nbase_port = 8000\n\n; c\nbase_port = abc\nbase_port = 1\n",
		  err, sizeof err);
	is_int(r, -EINVAL, "invalid value is an error");
	is_str(err,
	       "t.conf:7: invalid value 'abc' for base_port in [server]: expected a port "
	       "from 1 to 65533",
	       "message: path:LINE: invalid value 'x' for KEY in [SECTION]: ...");
	is_int(c.server.base_port, 8000, "parsing stopped at the bad line");
	r = parse(&c, "[server]\r\n\r\nlog_level = loud\r\n", err, sizeof err);
	is_str(err,
	       "t.conf:3: invalid value 'loud' for log_level in [server]: expected err, "
	       "warning, notice, info or debug",
	       "line numbers count CRLF lines");
	r = parse(&c, "[sim]\nwidth = 50\n", err, sizeof err);
	is_str(err,
	       "t.conf:2: invalid value '50' for width in [sim]: expected an integer from 200 "
	       "to 100000",
	       "integer range message");
	r = parse(&c, "[sim]\nmax_fish = 0\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "expected an integer from 1 to 1000000"),
	   "a range's ends are written whole, not 1e+06: %s", err);
	r = parse(&c, "[security]\ninsecure = maybe\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "expected yes or no (or true/false, on/off, 1/0)"),
	   "a boolean's error names every spelling taken: %s", err);
	r = parse(&c, "\xEF\xBB\xBF[sim]\nwidth = 300\n", err, sizeof err);
	ok(r == 0 && c.sim.width == 300, "a byte order mark before the first line is skipped (%s)",
	   r ? err : "ok");
	r = parse(&c, "[discovery]\nheartbeat_interval = 0.01\n", err, sizeof err);
	ok(r == -EINVAL && strncmp(err,
				   "t.conf:2: invalid value '0.01' for heartbeat_interval in "
				   "[discovery]: expected a duration from 0.05 to 86400",
				   94) == 0,
	   "duration range message: %s", err);

	r = parse(&c, "base_port = 1\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "t.conf:1:") && strstr(err, "outside any section"),
	   "key before any section: %s", err);
	r = parse(&c, "[server]\njust a line\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "t.conf:2:") && strstr(err, "expected key = value"),
	   "line without '=': %s", err);
	r = parse(&c, "\n[server\nbase_port=1\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "t.conf:2:") && strstr(err, "malformed section header"),
	   "unterminated section header: %s", err);
	r = parse(&c, "[server] x\n", err, sizeof err);
	ok(r == -EINVAL && strstr(err, "malformed section header"),
	   "text after a section header: %s", err);
	{
		char big[200];
		snprintf(big, sizeof big, "[%070d]\n", 0);
		r = parse(&c, big, err, sizeof err);
		ok(r == -EINVAL && strstr(err, "malformed section header"),
		   "over-long section name is refused");
	}
	/* A tiny error buffer truncates, never overflows. */
	char small[8];
	char *copy = strdup("[server]\nbase_port = nope\n");
	conf_defaults(&c);
	is_int(conf_parse_text(&c, "t.conf", copy, small, sizeof small), -EINVAL,
	       "small error buffer");
	is_str(small, "t.conf:", "message truncated to the buffer");
	free(copy);
}

struct case_ {
	const char *section, *key, *value;
	bool valid;
};

/* 100 Cyrillic letters (200 bytes of UTF-8). */
#define CYR10 "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
#define CYR100 CYR10 CYR10 CYR10 CYR10 CYR10 CYR10 CYR10 CYR10 CYR10 CYR10

static void test_types(void)
{
	static const struct case_ cases[] = {
		/* durations */
		{"discovery", "heartbeat_interval", "10", true},
		{"discovery", "heartbeat_interval", "0.5", true},
		{"discovery", "heartbeat_interval", "250ms", true},
		{"discovery", "heartbeat_interval", "2min", true},
		{"discovery", "heartbeat_interval", "2m", true},
		{"discovery", "heartbeat_interval", "10s", true},
		{"discovery", "heartbeat_interval", "10sec", true},
		{"discovery", "heartbeat_interval", "1h", true},
		{"discovery", "heartbeat_interval", "5 s", true},
		{"discovery", "heartbeat_interval", "1e1", true},
		{"discovery", "heartbeat_interval", "0.05", true},
		{"discovery", "heartbeat_interval", "86400", true},
		{"discovery", "heartbeat_interval", "86401", false},
		{"discovery", "heartbeat_interval", "0.04", false},
		{"discovery", "heartbeat_interval", "49ms", false},
		{"discovery", "heartbeat_interval", "25h", false},
		{"discovery", "heartbeat_interval", "-1", false},
		{"discovery", "heartbeat_interval", "", false},
		{"discovery", "heartbeat_interval", "ten", false},
		{"discovery", "heartbeat_interval", "10x", false},
		{"discovery", "heartbeat_interval", "0x10", false},   /* a hex float, 16 s */
		{"discovery", "heartbeat_interval", "0x1p-3", false}, /* 0.125 s */
		{"discovery", "heartbeat_interval", "10 ms ms", false},
		{"discovery", "heartbeat_interval", "10d", false},
		{"discovery", "heartbeat_interval", "nan", false},
		{"discovery", "heartbeat_interval", "inf", false},
		{"discovery", "heartbeat_interval", "1e999", false},
		/* listen specs (validated at set time, resolved at load) */
		{"discovery", "listen", "127.0.0.1:8000", true},
		{"discovery", "listen", "localhost:80", true},
		{"discovery", "listen", "[::1]:80", true},
		{"discovery", "listen", "*:80", true},
		{"discovery", "listen", "none", true},
		{"discovery", "listen", "", true},
		{"discovery", "listen", "0.0.0.0:0", true},
		{"discovery", "listen", "127.0.0.1:65535", true},
		{"discovery", "listen", "127.0.0.1:65536", false},
		{"discovery", "listen", "127.0.0.1", false},
		{"discovery", "listen", "127.0.0.1:", false},
		{"discovery", "listen", ":80", false},
		{"discovery", "listen", "[::1]80", false},
		{"discovery", "listen", "[::1]", false},
		{"discovery", "listen", "[::1:80", false},
		{"discovery", "listen", "bad host:80", false},
		{"discovery", "listen", "host:http", false},
		{"discovery", "listen", "host:-1", false},
		{"discovery", "listen", "NONE", false},
		/* ports */
		{"server", "base_port", "1", true},
		{"server", "base_port", "65533", true},
		{"server", "base_port", "65534", false},
		{"server", "base_port", "0", false},
		{"server", "base_port", "-1", false},
		{"server", "base_port", "80x", false},
		{"server", "base_port", "8.0", false},
		{"server", "base_port", "", false},
		{"server", "base_port", "99999999999999999999", false},
		/* booleans */
		{"security", "insecure", "yes", true},
		{"security", "insecure", "no", true},
		{"security", "insecure", "true", true},
		{"security", "insecure", "off", true},
		{"security", "insecure", "1", true},
		{"security", "insecure", "On", true},
		{"security", "insecure", "maybe", false},
		{"security", "insecure", "", false},
		{"security", "insecure", "2", false},
		/* server ids */
		{"server", "server_id", "node-1.example_2", true},
		{"server", "server_id", "", true},
		{"server", "server_id",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
		{"server", "server_id",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"server", "server_id", "-node", false},
		{"server", "server_id", ".node", false},
		{"server", "server_id", "a/b", false},
		{"server", "server_id", "a b", false},
		/* hub urls */
		{"discovery", "hub_url", "http://hub:8000", true},
		{"discovery", "hub_url", "http://hub:8000/", true},
		{"discovery", "hub_url", "http://hub", true},
		{"discovery", "hub_url", "https://10.0.0.1:443", true},
		{"discovery", "hub_url", "http://[::1]:8000", true},
		{"discovery", "hub_url", "http://[::1]", true},
		{"discovery", "hub_url", "", true},
		{"discovery", "hub_url", "ftp://hub:8000", false},
		{"discovery", "hub_url", "hub:8000", false},
		{"discovery", "hub_url", "http://", false},
		{"discovery", "hub_url", "http://:8000", false},
		{"discovery", "hub_url", "http://hub:", false},
		{"discovery", "hub_url", "http://hub:0", false},
		{"discovery", "hub_url", "http://hub:65536", false},
		{"discovery", "hub_url", "http://hub:80a", false},
		{"discovery", "hub_url", "http://hub:8000/api", false},
		{"discovery", "hub_url", "http://hub_1:8000", false},
		{"discovery", "hub_url", "http://[::1:8000", false},
		{"discovery", "hub_url", "http://[]:8000", false},
		{"discovery", "hub_url", "HTTP://hub", false},
		/* hub url lists: commas and/or spaces */
		{"discovery", "hub_url", "http://a:1,http://b:2", true},
		{"discovery", "hub_url", "http://a:1, http://b:2", true},
		{"discovery", "hub_url", "http://a:1 http://b:2\thttp://c", true},
		{"discovery", "hub_url", " http://a:1 , http://b:2 ", true},
		{"discovery", "hub_url", "http://a:1,,http://b:2", false},
		{"discovery", "hub_url", ",http://a:1", false},
		{"discovery", "hub_url", "http://a:1,", false},
		{"discovery", "hub_url", "http://a:1, ftp://b:2", false},
		{"discovery", "hub_url", "http://a:1 http://a:1", false},
		{"discovery", "hub_url", "http://a:1;http://b:2", false},
		/* hosts, paths, names, log levels, numbers */
		{"server", "advertise_host", "10.0.0.1", true},
		{"server", "advertise_host", "node.example", true},
		{"server", "advertise_host", "::1", true},
		{"server", "advertise_host", "bad_host", false},
		{"server", "state_dir", "/var/lib/x", true},
		{"server", "state_dir", "relative/x", false},
		{"server", "state_dir", "", false}, /* state at the root */
		{"server", "runtime_dir", "", false},
		{"sim", "socket", "", true},	      /* derived from runtime_dir */
		{"security", "token_file", "", true}, /* no token */
		{"server", "log_level", "debug", true},
		{"server", "log_level", "warn", true},
		{"server", "log_level", "error", true},
		{"server", "log_level", "crit", false},
		{"server", "log_level", "DEBUG", false},
		{"sim", "default_tank_name", "A", true},
		{"sim", "default_tank_name", "", false},
		{"sim", "default_tank_name", "tab\there", false},
		{"sim", "default_tank_name", "del\x7f", false},
		/* the API's rule: a name of spaces is a blank card in every list */
		{"sim", "default_tank_name", "   ", false},
		{"sim", "default_tank_name", " A ", true},
		{"sim", "default_tank_name", "Caf\xc3\xa9", true},
		/* characters, not bytes: 100 two-byte letters fit, 101 do not; no broken UTF-8 */
		{"sim", "default_tank_name", CYR100, true},
		{"sim", "default_tank_name", CYR100 "\xd0\x96", false},
		{"sim", "default_tank_name", "Caf\xc3", false},
		{"sim", "tick_rate", "1", true},
		{"sim", "tick_rate", "1000", true},
		{"sim", "tick_rate", "0.5", false},
		{"sim", "tick_rate", "1001", false},
		{"sim", "tick_rate", "30Hz", false},
		{"sim", "tick_rate", "30 ", false},
		{"sim", "max_fish", "1000000", true},
		{"sim", "max_fish", "1000001", false},
		{"sim", "max_fish", "1.5", false},
		{"sim", "seed", "18446744073709551614", true},
		{"sim", "seed", "18446744073709551615", false}, /* the API cannot take it */
		{"sim", "seed", "0x10", true},
		{"sim", "seed", "18446744073709551616", false},
		{"sim", "seed", "-1", false},
		{"sim", "seed", "12abc", false},
		{"migration", "max_per_second", "0.01", true},
		{"migration", "max_per_second", "0.001", false},
		{"migration", "request_timeout", "600", true},
		{"migration", "request_timeout", "11min", false},
	};
	struct conf c;
	char err[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct case_ *k = &cases[i];
		conf_defaults(&c);
		err[0] = '\0';
		int r = conf_set(&c, k->section, k->key, k->value, err, sizeof err);
		if (k->valid) {
			ok(r == 0, "%s.%s = '%s' accepted%s%s", k->section, k->key, k->value,
			   err[0] ? ": " : "", err);
		} else {
			char want[400];
			snprintf(want, sizeof want, "invalid value '%s' for %s in [%s]: ", k->value,
				 k->key, k->section);
			ok(r == -EINVAL && strncmp(err, want, strlen(want)) == 0,
			   "%s.%s = '%s' rejected: %s", k->section, k->key, k->value, err);
		}
	}

	/* Parsed values. */
	static const struct {
		const char *v;
		double want;
	} durations[] = {{"10", 10},  {"0.5", 0.5}, {"250ms", 0.25}, {"2min", 120},
			 {"2m", 120}, {"1h", 3600}, {"10s", 10},     {"5 s", 5}};
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
		conf_defaults(&c);
		conf_set(&c, "discovery", "heartbeat_interval", durations[i].v, err, sizeof err);
		is_double(c.discovery.heartbeat_interval, durations[i].want, 1e-12,
			  "duration '%s' = %g s", durations[i].v, durations[i].want);
	}
	conf_defaults(&c);
	conf_set(&c, "security", "insecure", "yes", err, sizeof err);
	ok(c.security.insecure, "yes -> true");
	conf_set(&c, "security", "insecure", "no", err, sizeof err);
	ok(!c.security.insecure, "no -> false");
	conf_set(&c, "sim", "seed", "0x10", err, sizeof err);
	ok(c.sim.seed == 16, "seed 0x10 = 16");
	conf_set(&c, "sim", "seed", "18446744073709551614", err, sizeof err);
	ok(c.sim.seed == UINT64_MAX - 1, "seed UINT64_MAX - 1");
	ok(conf_set(&c, "sim", "seed", "18446744073709551615", err, sizeof err) < 0 &&
		   strstr(err, "expected an integer from 0 to 18446744073709551614"),
	   "seed UINT64_MAX refused, naming the range: %s", err);
	conf_set(&c, "server", "log_level", "debug", err, sizeof err);
	is_int(c.server.log_level, LOG_DEBUG, "log_level debug");
	conf_set(&c, "server", "log_level", "warn", err, sizeof err);
	is_int(c.server.log_level, LOG_WARNING, "log_level warn = warning");
	/* A rejected value leaves the field as it was. */
	conf_set(&c, "server", "base_port", "9000", err, sizeof err);
	conf_set(&c, "server", "base_port", "0", err, sizeof err);
	is_int(c.server.base_port, 9000, "a rejected value leaves the field alone");
	conf_set(&c, "sim", "default_tank_name", "Keep", err, sizeof err);
	conf_set(&c, "sim", "default_tank_name", "", err, sizeof err);
	is_str(c.sim.default_tank_name, "Keep", "rejected name leaves the field alone");

	is_int(conf_set(&c, "server", "nope", "1", err, sizeof err), -EINVAL,
	       "conf_set unknown key");
	is_str(err, "unknown key 'nope' in [server]", "unknown key message");
	is_int(conf_set(&c, "nosection", "base_port", "1", err, sizeof err), -EINVAL,
	       "conf_set key in the wrong section");

	/* Over-long values are refused rather than truncated. */
	char longv[CONF_PATH + 10];
	longv[0] = '/';
	memset(longv + 1, 'p', sizeof longv - 2);
	longv[sizeof longv - 1] = '\0';
	is_int(conf_set(&c, "server", "state_dir", longv, err, sizeof err), -EINVAL,
	       "path of %zu characters refused", strlen(longv));
	char longurl[400];
	snprintf(longurl, sizeof longurl, "http://%0300d", 0);
	is_int(conf_set(&c, "discovery", "hub_url", longurl, err, sizeof err), -EINVAL,
	       "over-long URL refused");
	char longname[120];
	memset(longname, 'n', 101);
	longname[101] = '\0';
	is_int(conf_set(&c, "sim", "default_tank_name", longname, err, sizeof err), -EINVAL,
	       "101-character tank name refused");
	longname[100] = '\0';
	is_int(conf_set(&c, "sim", "default_tank_name", longname, err, sizeof err), 0,
	       "100-character tank name accepted");
}

/* conf_load with NULL path (default file absent) and overrides. */
static int load(struct conf *c, const char *const *ov, size_t n, char *err, size_t errlen)
{
	err[0] = '\0';
	return conf_load(c, NULL, ov, n, err, errlen);
}

static void test_listen_and_derived(void)
{
	struct conf c;
	char err[512];
	env_reset();
	is_int(load(&c, NULL, 0, err, sizeof err), 0, "conf_load with no file at all: %s", err);
	ok(c.discovery.listen.enabled && strcmp(c.discovery.listen.host, "127.0.0.1") == 0 &&
		   c.discovery.listen.port == 8000,
	   "discovery listens on 127.0.0.1:base_port");
	ok(c.sim.listen.enabled && strcmp(c.sim.listen.host, "127.0.0.1") == 0 &&
		   c.sim.listen.port == 8001,
	   "sim listens on 127.0.0.1:base_port+1");
	ok(c.migration.listen.enabled && strcmp(c.migration.listen.host, "127.0.0.1") == 0 &&
		   c.migration.listen.port == 8002,
	   "migration listens on 127.0.0.1:base_port+2");
	is_str(c.discovery.socket, RUNSTATEDIR "/tankworld/discoveryd.sock", "discovery socket");
	is_str(c.sim.socket, RUNSTATEDIR "/tankworld/simd.sock", "sim socket");
	is_str(c.migration.socket, RUNSTATEDIR "/tankworld/migrated.sock", "migration socket");
	ok(c.server.server_id[0] != '\0', "server_id derived from the host name: '%s'",
	   c.server.server_id);
	{
		struct conf d;
		conf_defaults(&d);
		ok(conf_set(&d, "server", "server_id", c.server.server_id, err, sizeof err) == 0,
		   "the derived server_id is itself valid");
	}

	const char *ov1[] = {"server.base_port=9000", "server.runtime_dir=/run/tw-test",
			     "sim.socket=/tmp/explicit.sock"};
	is_int(load(&c, ov1, 3, err, sizeof err), 0, "load with base_port and runtime_dir");
	ok(c.discovery.listen.port == 9000 && c.sim.listen.port == 9001 &&
		   c.migration.listen.port == 9002,
	   "ports follow base_port: 9000/9001/9002");
	is_str(c.discovery.socket, "/run/tw-test/discoveryd.sock", "socket under runtime_dir");
	is_str(c.migration.socket, "/run/tw-test/migrated.sock",
	       "migrated socket under runtime_dir");
	is_str(c.sim.socket, "/tmp/explicit.sock", "explicit socket kept");
	const char *ov_max[] = {"server.base_port=65533"};
	is_int(load(&c, ov_max, 1, err, sizeof err), 0, "base_port 65533");
	is_int(c.migration.listen.port, 65535, "base_port 65533: migration on 65535");

	const char *ov2[] = {"discovery.listen=[::1]:80", "sim.listen=*:81",
			     "migration.listen=none"};
	is_int(load(&c, ov2, 3, err, sizeof err), 0, "load with listen specs");
	ok(c.discovery.listen.enabled && strcmp(c.discovery.listen.host, "::1") == 0 &&
		   c.discovery.listen.port == 80,
	   "[::1]:80 -> host ::1, port 80");
	is_str(c.discovery.listen.spec, "[::1]:80", "spec kept as written");
	ok(c.sim.listen.enabled && strcmp(c.sim.listen.host, "0.0.0.0") == 0 &&
		   c.sim.listen.port == 81,
	   "*:81 -> host 0.0.0.0, port 81");
	ok(!c.migration.listen.enabled, "none -> disabled");
	const char *ov3[] = {"discovery.listen=localhost:0", "sim.listen=10.1.2.3:8080"};
	is_int(load(&c, ov3, 2, err, sizeof err), 0, "load with host:port");
	ok(strcmp(c.discovery.listen.host, "localhost") == 0 && c.discovery.listen.port == 0,
	   "localhost:0 (kernel picks the port)");
	ok(strcmp(c.sim.listen.host, "10.1.2.3") == 0 && c.sim.listen.port == 8080, "10.1.2.3:8080");

	/* conf_print writes a file that parses back to the same configuration. */
	char *printed = NULL, *again = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f = open_memstream(&printed, &n1);
	conf_print(&c, f);
	fclose(f);
	ok(strstr(printed, "[discovery]\nlisten = localhost:0\n") != NULL,
	   "conf_print shows the effective listen address");
	ok(strstr(printed, "# cluster token: none") != NULL, "conf_print reports no token");
	/* Listen addresses are resolved by conf_load, so read it back with conf_load. */
	struct conf d;
	char *printed_file = tpath("printed.conf");
	write_file(printed_file, printed);
	is_int(conf_load(&d, printed_file, NULL, 0, err, sizeof err), 0,
	       "conf_print output loads: %s", err);
	free(printed_file);
	f = open_memstream(&again, &n2);
	conf_print(&d, f);
	fclose(f);
	is_str(again, printed, "conf_print output round-trips");
	free(printed);
	free(again);

	/* Uncommenting every key of the example gives the defaults. */
	char *example = NULL;
	f = open_memstream(&example, &n1);
	conf_print_example(f);
	fclose(f);
	char *un = malloc(strlen(example) + 1), *o = un;
	for (const char *p = example; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p + 1) : strlen(p);
		if (p[0] == '#' && p[1] != ' ' && p[1] != '\n') {
			p++;
			l--;
		}
		memcpy(o, p, l);
		o += l;
		p += l;
	}
	*o = '\0';
	conf_defaults(&d);
	int r = conf_parse_text(&d, "example", un, err, sizeof err);
	is_int(r, 0, "the example file with every key uncommented is valid: %s", err);
	struct conf defaults;
	conf_defaults(&defaults);
	ok(memcmp(&d, &defaults, sizeof d) == 0, "and equals the built-in defaults");
	free(un);
	free(example);
}

static void test_precedence(void)
{
	struct conf c;
	char err[512];
	env_reset();
	char *file = tpath("prec.conf");
	char *dropdir = tpath("prec.conf.d");
	char *da = tpath("prec.conf.d/10-a.conf");
	char *db = tpath("prec.conf.d/20-b.conf");
	char *dz = tpath("prec.conf.d/15-ignored.txt");
	char *dh = tpath("prec.conf.d/.05-hidden.conf");
	char *dsub = tpath("prec.conf.d/17-dir.conf.bak");
	write_file(file, "[server]\n"
			 "server_id = from-file\n"
			 "base_port = 9000\n"
			 "state_dir = /file/state\n"
			 "advertise_host = file.example\n"
			 "[discovery]\n"
			 "hub_url = http://file-hub:8000\n"
			 "[sim]\n"
			 "max_fish = 11\n");

	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0, "file only: %s", err);
	is_str(c.server.server_id, "from-file", "file sets server_id");
	is_int(c.server.base_port, 9000, "file sets base_port");
	is_int(c.discovery.listen.port, 9000, "derived listen port follows the file");

	mkdir(dropdir, 0755);
	/* An empty drop-in directory is ordinary (qsort on no names was undefined). */
	write_file(dz, "not a drop-in\n");
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0,
	       "a drop-in directory without *.conf files: %s", err);
	is_str(c.server.server_id, "from-file", "the file alone applies");

	/* Drop-ins in lexical order; non-.conf and hidden files ignored. */
	write_file(db, "[server]\nserver_id = from-20-b\n[sim]\nmax_fish = 22\n");
	write_file(da, "[server]\nserver_id = from-10-a\nbase_port = 9100\n[sim]\nmax_fish = 12\n");
	write_file(dz, "this is not INI at all and would fail to parse\n");
	/* The hidden one sets a key no other drop-in sets, or the later ones would hide it. */
	write_file(dh, "[server]\nserver_id = hidden\n[sim]\nwidth = 777\n");
	write_file(dsub, "garbage\n");
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0, "file + drop-ins: %s", err);
	is_str(c.server.server_id, "from-20-b", "20-b.conf wins over 10-a.conf");
	is_int(c.sim.max_fish, 22, "20-b.conf wins for max_fish too");
	is_int(c.server.base_port, 9100, "10-a.conf overrides the file where 20-b is silent");
	is_str(c.server.advertise_host, "file.example",
	       "the file still counts where drop-ins are silent");
	is_int(c.discovery.listen.port, 9100, "derived port follows the drop-in");
	is_int(c.sim.width, 1088, "a hidden drop-in (.05-hidden.conf) is ignored");

	/* Environment over drop-ins. */
	setenv("TANK_SERVER_ID", "from-env", 1);
	setenv("TANK_API_PORT", "9200", 1);
	setenv("DISCOVERY_SERVER_URL", "http://env-hub:8000", 1);
	setenv("STATE_DIRECTORY", "/env/state:/env/other", 1);
	setenv("RUNTIME_DIRECTORY", "/env/run", 1);
	setenv("TANKWORLD_LOG_LEVEL", "debug", 1);
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0, "+ environment: %s", err);
	is_str(c.server.server_id, "from-env", "TANK_SERVER_ID wins over drop-ins");
	is_int(c.server.api_port, 9200, "TANK_API_PORT names the door");
	is_int(c.sim.listen.port, 9200, "simd listens on the door");
	ok(!c.discovery.listen.enabled && !c.migration.listen.enabled,
	   "behind a door, discoveryd and migrated listen on their Unix sockets only");
	is_str(c.discovery.hub_url, "http://env-hub:8000",
	       "DISCOVERY_SERVER_URL kept whole (with ':')");
	is_str(c.server.state_dir, "/env/state", "STATE_DIRECTORY: the first of a ':' list");
	is_str(c.discovery.socket, "/env/run/discoveryd.sock", "RUNTIME_DIRECTORY moves sockets");
	is_int(c.server.log_level, LOG_DEBUG, "TANKWORLD_LOG_LEVEL");
	is_int(c.sim.max_fish, 22, "keys without a variable keep the drop-in value");
	/* Only the directory lists of systemd are cut at ':'; other variables are taken whole. */
	setenv("TANK_SERVER_ID", "node:1", 1);
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), -EINVAL,
	       "TANK_SERVER_ID with ':' is refused, not truncated");
	setenv("TANK_SERVER_ID", "from-env", 1);
	/* An empty variable counts as unset. */
	setenv("TANK_SERVER_ID", "", 1);
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0, "empty variable");
	is_str(c.server.server_id, "from-20-b", "an empty TANK_SERVER_ID is ignored");
	setenv("TANK_SERVER_ID", "from-env", 1);

	/* --set over everything; later overrides win over earlier ones. */
	const char *ov[] = {"server.server_id=from-cli-1", "server.base_port=9300",
			    "server.server_id=from-cli",   "discovery.hub_url=http://cli-hub:1",
			    "server.state_dir=/cli/state", "sim.max_fish=33"};
	is_int(conf_load(&c, file, ov, 6, err, sizeof err), 0, "+ --set: %s", err);
	is_str(c.server.server_id, "from-cli", "--set wins over the environment; last --set wins");
	is_int(c.server.base_port, 9300, "--set base_port wins");
	is_int(c.sim.listen.port, 9200, "the door from TANK_API_PORT stays simd's port");
	const char *ov_nodoor[] = {"server.base_port=9300", "server.api_port=0"};
	is_int(conf_load(&c, file, ov_nodoor, 2, err, sizeof err), 0, "--set api_port=0: %s", err);
	is_int(c.sim.listen.port, 9301, "without a door, derived ports follow --set base_port");
	ok(c.discovery.listen.enabled && c.discovery.listen.port == 9300,
	   "and discoveryd listens on base_port again");
	is_int(conf_load(&c, file, ov, 6, err, sizeof err), 0, "+ --set again: %s", err);
	is_str(c.discovery.hub_url, "http://cli-hub:1", "--set hub_url wins");
	is_str(c.server.state_dir, "/cli/state", "--set state_dir wins over STATE_DIRECTORY");
	is_int(c.sim.max_fish, 33, "--set max_fish wins");
	const char *ov_eq[] = {"sim.default_tank_name=a=b"};
	is_int(conf_load(&c, file, ov_eq, 1, err, sizeof err), 0, "--set value containing '='");
	is_str(c.sim.default_tank_name, "a=b", "value split at the first '='");

	/* Bad environment and overrides are errors that say where they came from. */
	setenv("TANK_API_PORT", "http", 1);
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), -EINVAL, "bad TANK_API_PORT");
	ok(strncmp(err, "environment TANK_API_PORT: invalid value 'http' for api_port in [server]",
		   71) == 0,
	   "message names the variable: %s", err);
	setenv("TANK_API_PORT", "9200", 1);
	setenv("TANK_SERVER_ID", "../etc", 1);
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), -EINVAL, "bad TANK_SERVER_ID");
	ok(strstr(err, "TANK_SERVER_ID") != NULL, "message names TANK_SERVER_ID: %s", err);
	env_reset();
	static const char *const bad_ov[] = {"noequals",       "server.base_port",   "base_port=1",
					     "server.nokey=1", "server.base_port=x", "=1",
					     "server.=1",      ".base_port=1"};
	for (size_t i = 0; i < sizeof bad_ov / sizeof bad_ov[0]; i++) {
		err[0] = '\0';
		int r = conf_load(&c, file, &bad_ov[i], 1, err, sizeof err);
		ok(r == -EINVAL && strstr(err, "--set") != NULL, "--set '%s' rejected: %s",
		   bad_ov[i], err);
	}
	{
		char longov[200];
		snprintf(longov, sizeof longov, "server.%0100d=1", 0);
		const char *p = longov;
		ok(conf_load(&c, file, &p, 1, err, sizeof err) == -EINVAL && strstr(err, "too long"),
		   "--set with an over-long key: %s", err);
	}

	/* An error in a drop-in names the drop-in and its line. */
	write_file(db, "[server]\nserver_id = ok\n\nbase_port = 0\n");
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), -EINVAL, "bad drop-in");
	char want[600];
	snprintf(want, sizeof want, "%s:4: invalid value '0' for base_port in [server]", db);
	ok(strncmp(err, want, strlen(want)) == 0, "message names the drop-in and line 4: %s", err);
	write_file(db, "[server]\nserver_id = from-20-b\n");

	/* An error in the main file names it. */
	char *badfile = tpath("bad.conf");
	write_file(badfile, "[sim]\nwidth = 1088\nheight = tall\n");
	is_int(conf_load(&c, badfile, NULL, 0, err, sizeof err), -EINVAL, "bad main file");
	snprintf(want, sizeof want, "%s:3: invalid value 'tall' for height in [sim]", badfile);
	ok(strncmp(err, want, strlen(want)) == 0, "message names the file and line 3: %s", err);

	/* The default path: $CONFIGURATION_DIRECTORY/tankworld.conf and its drop-ins. */
	char *cfgdir = tpath("cfgdir");
	char *cfgfile = tpath("cfgdir/tankworld.conf");
	char *cfgdrop = tpath("cfgdir/tankworld.conf.d");
	char *cfgdropfile = tpath("cfgdir/tankworld.conf.d/50-x.conf");
	mkdir(cfgdir, 0755);
	mkdir(cfgdrop, 0755);
	write_file(cfgfile, "[server]\nserver_id = default-path\nbase_port = 7000\n");
	write_file(cfgdropfile, "[server]\nbase_port = 7100\n");
	char cfgenv[400];
	snprintf(cfgenv, sizeof cfgenv, "%s:/somewhere/else", cfgdir);
	setenv("CONFIGURATION_DIRECTORY", cfgenv, 1);
	is_str(conf_default_path(), cfgfile, "default path from the first CONFIGURATION_DIRECTORY");
	is_int(conf_load(&c, NULL, NULL, 0, err, sizeof err), 0, "load the default path: %s", err);
	ok(strcmp(c.server.server_id, "default-path") == 0 && c.server.base_port == 7100,
	   "default file and its drop-ins are read");
	unsetenv("CONFIGURATION_DIRECTORY");
	is_str(conf_default_path(), SYSCONFDIR "/tankworld/tankworld.conf",
	       "default path without CONFIGURATION_DIRECTORY");
	env_reset();

	/* Missing files. */
	char *missing = tpath("missing.conf");
	is_int(conf_load(&c, missing, NULL, 0, err, sizeof err), -EINVAL,
	       "a named missing file is an error");
	ok(strstr(err, missing) && strstr(err, strerror(ENOENT)), "message: %s", err);
	is_int(conf_load(&c, NULL, NULL, 0, err, sizeof err), 0,
	       "a missing default file is fine (empty CONFIGURATION_DIRECTORY)");
	is_int(c.server.base_port, 8000, "and gives the defaults");
	strcpy(err, "stale");
	is_int(conf_load(&c, tmpdir, NULL, 0, err, sizeof err), -EINVAL, "a directory as the file");
	/* A named file that is not a regular file gets its own message. */
	ok(strstr(err, tmpdir) != NULL, "message names the directory: %s", err);

	free(file);
	free(dropdir);
	free(da);
	free(db);
	free(dz);
	free(dh);
	free(dsub);
	free(badfile);
	free(cfgdir);
	free(cfgfile);
	free(cfgdrop);
	free(cfgdropfile);
	free(missing);
}

static void test_url_list(void)
{
	struct conf c;
	char err[512];
	is_int(parse(&c, "[discovery]\nhub_url = http://a:1, http://b:2  http://[::1]:3\n", err,
		     sizeof err),
	       0, "a list of three hubs parses (%s)", err);
	char urls[CONF_MAX_URLS][CONF_URLS];
	size_t n = conf_split_urls(c.discovery.hub_url, urls, CONF_MAX_URLS);
	ok(n == 3 && strcmp(urls[0], "http://a:1") == 0 && strcmp(urls[1], "http://b:2") == 0 &&
		   strcmp(urls[2], "http://[::1]:3") == 0,
	   "split into its three URLs");
	is_int(parse(&c, "[discovery]\n\nhub_url = http://a:1, http:/b\n", err, sizeof err),
	       -EINVAL, "a malformed item stops the load");
	ok(strstr(err, "t.conf:3") && strstr(err, "item 2") && strstr(err, "http:/b"),
	   "the error names file:line, the item and why: %s", err);
	is_int(parse(&c, "[discovery]\nhub_url = http://a:1,,http://b:2\n", err, sizeof err),
	       -EINVAL, "an empty item stops the load");
	ok(strstr(err, "t.conf:2") && strstr(err, "empty item"), "and says so: %s", err);
	char many[CONF_URLS] = "";
	for (int i = 0; i < CONF_MAX_URLS + 1; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "http://h%d ", i);
	is_int(conf_set(&c, "discovery", "hub_url", many, err, sizeof err), -EINVAL,
	       "more than %d hubs refused", CONF_MAX_URLS);
	ok(strstr(err, "more than") != NULL, "and says so: %s", err);
}

/* Drop-ins apply in lexical order whatever order the directory lists them in: 40 files,
 * created in a scrambled order (a fixed permutation), each setting max_fish to its own
 * rank and a key of its own. Only lexical order makes the last one win and leaves every
 * earlier key that no later file touched. With two files, directory order could pass by
 * luck; with 40 scrambled ones it cannot. */
static void test_dropin_order(void)
{
	enum { N = 40 };
	struct conf c;
	char err[512];
	env_reset();
	char *file = tpath("order.conf");
	char *dir = tpath("order.conf.d");
	write_file(file, "[sim]\nmax_fish = 1\n");
	mkdir(dir, 0755);
	for (int k = 0; k < N; k++) {
		int rank = (k * 17 + 11) % N; /* 17 is prime to 40: a permutation of 0..39 */
		char name[64], text[160];
		snprintf(name, sizeof name, "order.conf.d/%02d-part.conf", rank);
		/* Rank 7 alone sets seed; rank 39 (the last) sets max_fish last. */
		snprintf(text, sizeof text, "[sim]\nmax_fish = %d\n%s", 100 + rank,
			 rank == 7 ? "seed = 4242\n" : "");
		char *path = tpath(name);
		write_file(path, text);
		free(path);
	}
	is_int(conf_load(&c, file, NULL, 0, err, sizeof err), 0, "40 scrambled drop-ins load: %s",
	       err);
	is_int(c.sim.max_fish, 100 + N - 1, "the lexically last of 40 scrambled drop-ins wins");
	ok(c.sim.seed == 4242, "a key set by one early drop-in survives the later ones");
	free(file);
	free(dir);
}

static void test_cross_field(void)
{
	struct conf c;
	char err[512];
	env_reset();
	const char *eq[] = {"discovery.heartbeat_interval=30", "discovery.heartbeat_timeout=30"};
	is_int(load(&c, eq, 2, err, sizeof err), -EINVAL, "timeout = interval is refused");
	ok(strstr(err, "heartbeat_timeout (30) must exceed heartbeat_interval (30)") != NULL,
	   "message: %s", err);
	const char *less[] = {"discovery.heartbeat_interval=1min", "discovery.heartbeat_timeout=30"};
	is_int(load(&c, less, 2, err, sizeof err), -EINVAL, "timeout < interval is refused");
	const char *okt[] = {"discovery.heartbeat_interval=30", "discovery.heartbeat_timeout=30.5"};
	is_int(load(&c, okt, 2, err, sizeof err), 0, "timeout just above interval is fine");
	const char *ev[] = {"discovery.heartbeat_timeout=90", "discovery.evict_after=89"};
	is_int(load(&c, ev, 2, err, sizeof err), -EINVAL, "evict_after < timeout is refused");
	ok(strstr(err, "evict_after (89) must be at least heartbeat_timeout (90)") != NULL,
	   "message: %s", err);
	const char *eveq[] = {"discovery.heartbeat_timeout=90", "discovery.evict_after=90"};
	is_int(load(&c, eveq, 2, err, sizeof err), 0, "evict_after = timeout is fine");
	/* The check applies to the final values, not to each step. */
	const char *order[] = {"discovery.heartbeat_timeout=2", "discovery.heartbeat_interval=1",
			       "discovery.evict_after=2"};
	is_int(load(&c, order, 3, err, sizeof err), 0, "checks run after all overrides: %s", err);
}

/* As make install writes it: owner and group only. */
static void write_token(const char *path, const char *text)
{
	if (fs_write_atomic(path, text, strlen(text), 0600) < 0) {
		printf("# cannot write %s\n", path);
		abort();
	}
}

static void test_token(void)
{
	struct conf c;
	char err[512];
	env_reset();
	char *tok = tpath("token");
	char ov[600];
	const char *ovp[] = {ov};
	snprintf(ov, sizeof ov, "security.token_file=%s", tok);

	write_token(tok, "0123456789abcdef\n");
	is_int(load(&c, ovp, 1, err, sizeof err), 0, "16-character token: %s", err);
	is_str(c.security.token, "0123456789abcdef", "token loaded, newline trimmed");
	{
		char *printed = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&printed, &n);
		conf_print(&c, f);
		fclose(f);
		ok(strstr(printed, "# cluster token: set") && !strstr(printed, "0123456789abcdef"),
		   "conf_print hides the token");
		free(printed);
	}
	write_token(tok, "  \t s3cr3t-T0ken-with-punct!@#$%  \n\n");
	is_int(load(&c, ovp, 1, err, sizeof err), 0, "token with surrounding whitespace");
	is_str(c.security.token, "s3cr3t-T0ken-with-punct!@#$%", "surrounding whitespace trimmed");

	write_token(tok, "short\n");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "5-character token refused");
	ok(strstr(err, tok) && strstr(err, "16 to 255 characters"), "message: %s", err);
	is_str(c.security.token, "", "no token set after the error");
	write_token(tok, "0123456789abcde");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "15-character token refused");
	write_token(tok, "");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "empty token file refused");
	{
		char t[300];
		memset(t, 'k', 255);
		t[255] = '\0';
		write_token(tok, t);
		is_int(load(&c, ovp, 1, err, sizeof err), 0, "255-character token accepted");
		is_int(strlen(c.security.token), 255, "all 255 characters kept");
		memset(t, 'k', 256);
		t[256] = '\0';
		write_token(tok, t);
		is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "256-character token refused");
	}
	write_token(tok, "0123456789 abcdef\n");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "token with an inner space refused");
	ok(strstr(err, "printable") != NULL, "message: %s", err);
	write_token(tok, "0123456789abcdef\xc3\xa9");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "non-ASCII token refused");

	/* A NUL would end the token where strlen stops: refused, not cut. */
	if (fs_write_atomic(tok, "0123456789abcdefg\0zz\n", 21, 0600) < 0)
		abort();
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "a token file with a NUL refused");
	ok(strstr(err, "NUL") != NULL, "message: %s", err);
	{
		char *conf = tpath("nul.conf");
		if (fs_write_atomic(conf, "[server]\nserver_id = a\0b\n", 25, 0644) < 0)
			abort();
		is_int(conf_load(&c, conf, NULL, 0, err, sizeof err), -EINVAL,
		       "a config file with a NUL refused");
		ok(strstr(err, conf) && strstr(err, "NUL"), "message: %s", err);
		free(conf);
		char *dir = tpath("tokdir");
		mkdir(dir, 0700);
		char ovd[600];
		const char *ovdp[] = {ovd};
		snprintf(ovd, sizeof ovd, "security.token_file=%s", dir);
		is_int(load(&c, ovdp, 1, err, sizeof err), -EINVAL,
		       "a folder as token_file refused");
		ok(strstr(err, "not a regular file") != NULL, "message: %s", err);
		free(dir);
	}

	/* A token any local user could read is refused, with the fix in the message. */
	write_file(tok, "0123456789abcdef\n");
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "token file readable by others refused");
	ok(strstr(err, "readable by others") && strstr(err, "chmod o-rwx") && strstr(err, tok),
	   "message: %s", err);
	write_token(tok, "0123456789abcdef\n");
	chmod(tok, 0604);
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "mode 0604 refused too");
	chmod(tok, 0640);
	is_int(load(&c, ovp, 1, err, sizeof err), 0, "mode 0640 (group tankworld) accepted: %s",
	       err);

	char *missing = tpath("no-token");
	snprintf(ov, sizeof ov, "security.token_file=%s", missing);
	is_int(load(&c, ovp, 1, err, sizeof err), -EINVAL, "missing token file refused");
	ok(strstr(err, missing) && strstr(err, strerror(ENOENT)), "message: %s", err);

	is_int(load(&c, NULL, 0, err, sizeof err), 0, "no token_file");
	is_str(c.security.token, "", "no token");
	free(tok);
	free(missing);
}

int main(void)
{
	test_url_list();
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test-conf-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(emptydir, sizeof emptydir, "%s/empty", tmpdir);
	mkdir(emptydir, 0755);
	env_save_and_clear();

	test_defaults();
	test_parse_text();
	test_types();
	test_listen_and_derived();
	test_precedence();
	test_dropin_order();
	test_cross_field();
	test_token();

	env_restore();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
