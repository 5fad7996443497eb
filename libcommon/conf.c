#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fsutil.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

enum conf_type {
	T_SERVER_ID,
	T_PORT,
	T_HOST,
	T_PATH,
	T_NAME,
	T_LOGLEVEL,
	T_LISTEN,
	T_DURATION,
	T_NUMBER,
	T_INT,
	T_U64,
	T_BOOL,
	T_URL,
	T_URLS,
	T_BACKEND,
	T_KEY_PREFIX,
};

struct conf_key {
	const char *section;
	const char *key;
	enum conf_type type;
	size_t offset;
	double min, max;
	const char *def; /* as it would be written in the file; "" = derived, see help */
	const char *help;
};

#define OFF(field) offsetof(struct conf, field)

static const struct conf_key conf_keys[] = {
	{"server", "server_id", T_SERVER_ID, OFF(server.server_id), 0, 0, "",
	 "This server's id, [A-Za-z0-9][A-Za-z0-9._-]{0,63}. Default: the host name."},
	{"server", "base_port", T_PORT, OFF(server.base_port), 1, 65533, "8000",
	 "discoveryd listens on base_port, simd on base_port+1, migrated on base_port+2."},
	{"server", "api_port", T_PORT, OFF(server.api_port), 0, 65535, "0",
	 "One door per server: simd listens here and relays discoveryd's and migrated's API, "
	 "which then listen on their Unix sockets only (unless their listen is set). "
	 "TANK_API_PORT sets it. 0: no door; ports follow base_port."},
	{"server", "advertise_host", T_HOST, OFF(server.advertise_host), 0, 0, "",
	 "Host name or address peers use to reach this server. Default: detected."},
	{"server", "state_dir", T_PATH, OFF(server.state_dir), 0, 0, LOCALSTATEDIR "/lib/tankworld",
	 "Durable state. $STATE_DIRECTORY wins when systemd sets it."},
	{"server", "runtime_dir", T_PATH, OFF(server.runtime_dir), 0, 0, RUNSTATEDIR "/tankworld",
	 "Unix sockets. $RUNTIME_DIRECTORY wins when systemd sets it."},
	{"server", "log_level", T_LOGLEVEL, OFF(server.log_level), 0, 0, "info",
	 "err, warning, notice, info or debug."},
	{"server", "max_connections", T_INT, OFF(server.max_connections), 1, 1000000, "4096",
	 "Connections one listener holds at once (fewer when the descriptor limit is low)."},
	{"server", "max_connections_per_address", T_INT, OFF(server.max_connections_per_address), 1,
	 1000000, "256", "TCP connections one client address holds at once; more are closed."},
	{"server", "max_unsent_mb", T_INT, OFF(server.max_unsent_mb), 1, 1000000, "256",
	 "Megabytes of answers their clients have not read yet, over all connections, past "
	 "which a large answer is refused with 503 busy."},
	{"server", "request_timeout", T_DURATION, OFF(server.request_timeout), 0.1, 3600, "10",
	 "A request's headers and body must arrive within this, however slowly they drip."},
	{"server", "idle_timeout", T_DURATION, OFF(server.idle_timeout), 0.1, 86400, "60",
	 "An idle keep-alive connection is closed after this."},

	{"discovery", "listen", T_LISTEN, OFF(discovery.listen), 0, 0, "",
	 "TCP address host:port, or none. Default: 127.0.0.1:base_port."},
	{"discovery", "socket", T_PATH, OFF(discovery.socket), 0, 0, "",
	 "Unix socket. Default: runtime_dir/discoveryd.sock."},
	{"discovery", "hub_url", T_URLS, OFF(discovery.hub_url), 0, 0, "",
	 "URLs of the hubs' discoveryd (http://host:8000), separated by commas and/or spaces. "
	 "Empty: this server is a hub."},
	{"discovery", "backend", T_BACKEND, OFF(discovery.backend), 0, 0, "hub",
	 "hub: hubs and workers (hub_url); etcd: the registry lives in etcd (etcd_endpoints)."},
	{"discovery", "etcd_endpoints", T_URLS, OFF(discovery.etcd_endpoints), 0, 0, "",
	 "With backend = etcd: the etcd cluster's client URLs (http://host:2379), separated "
	 "by commas and/or spaces."},
	{"discovery", "etcd_prefix", T_KEY_PREFIX, OFF(discovery.etcd_prefix), 0, 0, "/tankworld/",
	 "With backend = etcd: the key prefix of the registry, starting and ending with '/'."},
	{"discovery", "heartbeat_interval", T_DURATION, OFF(discovery.heartbeat_interval), 0.05,
	 86400, "30", "Seconds between heartbeats."},
	{"discovery", "heartbeat_timeout", T_DURATION, OFF(discovery.heartbeat_timeout), 0.1,
	 864000, "90", "A server silent this long is offline (degraded after 2 intervals)."},
	{"discovery", "evict_after", T_DURATION, OFF(discovery.evict_after), 0.1, 31536000, "86400",
	 "An offline server is removed from the registry after this long."},
	{"discovery", "max_servers", T_INT, OFF(discovery.max_servers), 1, 10000000, "100000",
	 "Servers the registry holds at most, this one included; a new one past it gets 503."},

	{"sim", "listen", T_LISTEN, OFF(sim.listen), 0, 0, "",
	 "TCP address host:port, or none. Default: 127.0.0.1:base_port+1."},
	{"sim", "socket", T_PATH, OFF(sim.socket), 0, 0, "",
	 "Unix socket. Default: runtime_dir/simd.sock."},
	{"sim", "tick_rate", T_NUMBER, OFF(sim.tick_rate), 1, 1000, "30", "Ticks per second."},
	{"sim", "snapshot_interval", T_DURATION, OFF(sim.snapshot_interval), 0.1, 86400, "60",
	 "Seconds between tank snapshots; the journal covers the time between."},
	{"sim", "replay_budget", T_DURATION, OFF(sim.replay_budget), 0.01, 3600, "0.3",
	 "A tank is snapshotted early once re-simulating it from its snapshot would take this long."},
	{"sim", "replay_strict", T_BOOL, OFF(sim.replay_strict), 0, 0, "yes",
	 "Refuse to start when replaying the journal disagrees with a tank's checkpoint."},
	{"sim", "default_tank_name", T_NAME, OFF(sim.default_tank_name), 1, 100, "Tank 1",
	 "Name of the tank created on first start."},
	{"sim", "seed", T_U64, OFF(sim.seed), 0, 0, "0",
	 "Seed of the first tank; 0 draws one at random."},
	{"sim", "max_fish", T_INT, OFF(sim.max_fish), 1, 1000000, "100",
	 "Default fish capacity of a new tank."},
	{"sim", "max_tanks", T_INT, OFF(sim.max_tanks), 1, 100000, "256",
	 "Tanks simd runs at most; creating one more is refused (409)."},
	{"sim", "max_fish_total", T_INT, OFF(sim.max_fish_total), 0, 100000000, "0",
	 "The sum of max_fish over the tanks; 0: one fish per 12 KiB of memory. A tank that "
	 "would pass it is refused (409)."},
	{"sim", "width", T_INT, OFF(sim.width), 200, 100000, "1088", "Default tank width."},
	{"sim", "spawn_floor", T_INT, OFF(sim.spawn_floor), 0, 1000000, "10",
	 "Emergency spawns only below this many fish (default of a new tank)."},
	{"sim", "history_interval", T_INT, OFF(sim.history_interval), 1, 1000000, "300",
	 "Frames between history samples (default of a new tank)."},
	{"sim", "history_size", T_INT, OFF(sim.history_size), 0, 100000, "10000",
	 "History samples a tank keeps (default of a new tank)."},
	{"sim", "lineage_depth", T_INT, OFF(sim.lineage_depth), 0, 1000, "10",
	 "Ancestors kept per living fish (default of a new tank)."},
	{"sim", "height", T_INT, OFF(sim.height), 200, 100000, "612", "Default tank height."},
	{"sim", "www_dir", T_PATH, OFF(sim.www_dir), 0, 0, "",
	 "Folder of the web app. Default: the installed one, or the source tree's www/ "
	 "when simd runs from its build tree."},

	{"migration", "listen", T_LISTEN, OFF(migration.listen), 0, 0, "",
	 "TCP address host:port, or none. Default: 127.0.0.1:base_port+2."},
	{"migration", "socket", T_PATH, OFF(migration.socket), 0, 0, "",
	 "Unix socket. Default: runtime_dir/migrated.sock."},
	{"migration", "check_interval", T_DURATION, OFF(migration.check_interval), 0.01, 86400,
	 "10", "Seconds between scheduler passes."},
	{"migration", "max_per_second", T_NUMBER, OFF(migration.max_per_second), 0.01, 1e6, "1000",
	 "Global limit on migrations started per second."},
	{"migration", "per_connection_per_second", T_NUMBER,
	 OFF(migration.per_connection_per_second), 0.01, 1e6, "100",
	 "Limit on migrations started per second on one connection."},
	{"migration", "plant_weight", T_NUMBER, OFF(migration.plant_weight), 0, 100, "1",
	 "How likely the scheduler moves a plant, against 1 for a fish (0: never)."},
	{"migration", "request_timeout", T_DURATION, OFF(migration.request_timeout), 0.1, 600, "10",
	 "Seconds before a delivery attempt is given up and retried later."},
	{"migration", "refusal_backoff_max", T_DURATION, OFF(migration.refusal_backoff_max), 1,
	 86400, "300",
	 "Longest pause of a connection whose destination keeps refusing fish "
	 "(1 s after the first refusal, doubling; a success resets it)."},
	{"migration", "broken_check_interval", T_DURATION, OFF(migration.broken_check_interval),
	 0.1, 86400, "60",
	 "How often a connection whose destination tank is gone looks for it "
	 "(it heals when the tank is back)."},

	{"security", "token_file", T_PATH, OFF(security.token_file), 0, 0, "",
	 "File holding the cluster token required on TCP mutations (not readable by others). "
	 "Empty: none, and TCP is read-only unless insecure = yes."},
	{"security", "insecure", T_BOOL, OFF(security.insecure), 0, 0, "no",
	 "yes accepts TCP mutations, and a non-loopback TCP listener, without a token."},
};

#define N_KEYS (sizeof conf_keys / sizeof conf_keys[0])

static int errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_double(const char *v, double *ret)
{
	char *end;
	errno = 0;
	/* Decimal only: strtod also reads hex floats ("0x10" was 16 s, an operator's
	 * audit), which no duration or number of the configuration documents. */
	const char *p = v;
	while (*p == ' ' || *p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return -EINVAL;
	double x = strtod(v, &end);
	if (errno || end == v || !isfinite(x))
		return -EINVAL;
	*ret = x;
	return (int)(end - v);
}

/* "10", "0.5", "10s", "250ms", "2min", "1h". */
static int parse_duration(const char *v, double *ret)
{
	double x;
	int n = parse_double(v, &x);
	if (n < 0)
		return -EINVAL;
	const char *u = v + n;
	while (*u == ' ')
		u++;
	if (*u == '\0' || strcmp(u, "s") == 0 || strcmp(u, "sec") == 0)
		*ret = x;
	else if (strcmp(u, "ms") == 0)
		*ret = x / 1000.0;
	else if (strcmp(u, "min") == 0 || strcmp(u, "m") == 0)
		*ret = x * 60.0;
	else if (strcmp(u, "h") == 0)
		*ret = x * 3600.0;
	else
		return -EINVAL;
	return 0;
}

static int parse_port(const char *s, int min, int *ret)
{
	char *end;
	errno = 0;
	long p = strtol(s, &end, 10);
	if (errno || end == s || *end || p < min || p > 65535)
		return -EINVAL;
	*ret = (int)p;
	return 0;
}

/* "host:port", "[v6]:port", "*:port" (all addresses) or "none". */
static int parse_listen(const char *v, struct conf_listen *l)
{
	char host[CONF_STR];
	const char *colon;
	if (strcmp(v, "none") == 0) {
		l->enabled = false;
		return 0;
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof host)
			return -EINVAL;
		memcpy(host, v + 1, (size_t)(close - v - 1));
		host[close - v - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return -EINVAL;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	if (strcmp(host, "*") == 0)
		strcpy(host, "0.0.0.0");
	if (!host_valid(host))
		return -EINVAL;
	int port;
	if (parse_port(colon + 1, 0, &port) < 0)
		return -EINVAL;
	l->enabled = true;
	strcpy(l->host, host);
	l->port = port;
	return 0;
}

/* http(s)://host[:port][/]: the hub's discoveryd. */
static int parse_url(const char *v)
{
	const char *p;
	if (strncmp(v, "http://", 7) == 0)
		p = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		p = v + 8;
	else
		return -EINVAL;
	char host[CONF_STR];
	size_t n = strcspn(p, ":/");
	if (p[0] == '[') {
		const char *close = strchr(p, ']');
		if (!close)
			return -EINVAL;
		n = (size_t)(close - p) + 1;
		if (n - 2 >= sizeof host)
			return -EINVAL;
		memcpy(host, p + 1, n - 2);
		host[n - 2] = '\0';
	} else {
		if (n == 0 || n >= sizeof host)
			return -EINVAL;
		memcpy(host, p, n);
		host[n] = '\0';
	}
	if (!host_valid(host))
		return -EINVAL;
	p += n;
	if (*p == ':') {
		char port[8];
		size_t m = strcspn(p + 1, "/");
		if (m == 0 || m >= sizeof port)
			return -EINVAL;
		memcpy(port, p + 1, m);
		port[m] = '\0';
		int x;
		if (parse_port(port, 1, &x) < 0)
			return -EINVAL;
		p += 1 + m;
	}
	if (*p != '\0' && strcmp(p, "/") != 0)
		return -EINVAL;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Why the last URL list was refused, for the error message. */
static char urls_reason[160];

static const char *type_expectation(const struct conf_key *k, char *buf, size_t n)
{
	switch (k->type) {
	case T_SERVER_ID:
		return "expected [A-Za-z0-9][A-Za-z0-9._-]{0,63}";
	case T_PORT:
		snprintf(buf, n, "expected a port from %.10g to %.10g", k->min, k->max);
		return buf;
	case T_HOST:
		return "expected a host name or IP address";
	case T_PATH:
		return "expected an absolute path";
	case T_NAME:
		snprintf(buf, n, "expected %.10g to %.10g printable characters, not only spaces",
			 k->min, k->max);
		return buf;
	case T_LOGLEVEL:
		return "expected err, warning, notice, info or debug";
	case T_LISTEN:
		return "expected host:port, [v6]:port, *:port or none";
	case T_DURATION:
		snprintf(buf, n,
			 "expected a duration from %.10g to %.10g seconds (10, 0.5, 250ms, 2min)",
			 k->min, k->max);
		return buf;
	case T_NUMBER:
		snprintf(buf, n, "expected a number from %.10g to %.10g", k->min, k->max);
		return buf;
	case T_INT:
		snprintf(buf, n, "expected an integer from %.10g to %.10g", k->min, k->max);
		return buf;
	case T_U64:
		return "expected an integer from 0 to 18446744073709551614";
	case T_BOOL:
		return "expected yes or no (or true/false, on/off, 1/0)";
	case T_URL:
		return "expected http://host[:port]";
	case T_URLS:
		snprintf(buf, n, "%s",
			 urls_reason[0] ? urls_reason : "expected http://host[:port], ...");
		return buf;
	case T_BACKEND:
		return "expected hub or etcd";
	case T_KEY_PREFIX:
		return "expected a key prefix that starts and ends with '/', printable ASCII "
		       "without spaces, at most 200 characters";
	}
	return "invalid";
}

size_t conf_split_urls(const char *list, char (*out)[CONF_URLS], size_t max)
{
	size_t n = 0;
	const char *p = list;
	while (*p && n < max) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		snprintf(out[n++], CONF_URLS, "%.*s", (int)len, p);
		p += len;
	}
	return n;
}

static int check_urls(const char *v)
{
	urls_reason[0] = '\0';
	if (strlen(v) >= CONF_URLS) {
		snprintf(urls_reason, sizeof urls_reason, "longer than %d characters",
			 CONF_URLS - 1);
		return -EINVAL;
	}
	size_t n = 0;
	const char *p = v;
	while (*p) {
		const char *sep = p;
		p += strspn(p, " \t");
		if (*p == ',') {
			/* "a,,b" or a leading comma: an empty item is a typo, not a list. */
			const char *q = p + 1 + strspn(p + 1, " \t");
			if (sep == v || *q == ',' || *q == '\0') {
				snprintf(urls_reason, sizeof urls_reason, "empty item in the list");
				return -EINVAL;
			}
			p = q;
		}
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			continue;
		char one[CONF_URLS];
		snprintf(one, sizeof one, "%.*s", (int)len, p);
		if (++n > CONF_MAX_URLS) {
			snprintf(urls_reason, sizeof urls_reason, "more than %d URLs",
				 CONF_MAX_URLS);
			return -EINVAL;
		}
		if (strlen(one) >= CONF_STR || parse_url(one) < 0) {
			snprintf(urls_reason, sizeof urls_reason,
				 "item %zu '%.80s': expected http://host[:port]", n, one);
			return -EINVAL;
		}
		for (const char *q = v; q < p;) {
			q += strspn(q, ", \t");
			size_t l2 = strcspn(q, ", \t");
			if (q < p && l2 == len && strncmp(q, p, len) == 0) {
				snprintf(urls_reason, sizeof urls_reason, "'%.80s' listed twice",
					 one);
				return -EINVAL;
			}
			q += l2;
		}
		p += len;
	}
	return 0;
}

/* One parser per type: each checks the value against the key's limits and stores it in
 * the field only when it is valid, so a refused value changes nothing. */
typedef int conf_apply_fn(const struct conf_key *k, const char *v, void *field);

static int store_str(void *field, size_t size, const char *v)
{
	snprintf(field, size, "%s", v);
	return 0;
}

static int apply_server_id(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	return *v && !server_id_valid(v) ? -EINVAL : store_str(field, 65, v);
}

static int apply_port(const struct conf_key *k, const char *v, void *field)
{
	int p;
	if (parse_port(v, (int)k->min, &p) < 0 || p > (int)k->max)
		return -EINVAL;
	*(int *)field = p;
	return 0;
}

static int apply_host(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	return *v && !host_valid(v) ? -EINVAL : store_str(field, CONF_STR, v);
}

/* Empty means "derived" (a socket in runtime_dir, no token), so only keys whose default
 * is empty take it: an empty state_dir or runtime_dir put the state at the root. */
static int apply_path(const struct conf_key *k, const char *v, void *field)
{
	if (*v ? v[0] != '/' || strlen(v) >= CONF_PATH : *k->def != '\0')
		return -EINVAL;
	return store_str(field, CONF_PATH, v);
}

/* Characters, as for a name given to the API (jv_text): 100 Cyrillic letters fit. */
static int apply_name(const struct conf_key *k, const char *v, void *field)
{
	size_t n = strlen(v);
	if (n >= CONF_NAME || !jv_utf8_valid(v, n) || name_fault(v))
		return -EINVAL;
	size_t chars = utf8_chars(v, n);
	if (chars < k->min || chars > k->max)
		return -EINVAL;
	return store_str(field, CONF_NAME, v);
}

static int apply_loglevel(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	int l = log_level_from_string(v);
	if (l < 0)
		return -EINVAL;
	*(int *)field = l;
	return 0;
}

static int apply_listen(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	struct conf_listen tmp = {0};
	if (*v && (strlen(v) >= CONF_STR || parse_listen(v, &tmp) < 0))
		return -EINVAL;
	return store_str(((struct conf_listen *)field)->spec, CONF_STR, v);
}

static int apply_number(const struct conf_key *k, const char *v, void *field)
{
	double x = 0;
	int r = k->type == T_DURATION ? parse_duration(v, &x)
				      : (parse_double(v, &x) == (int)strlen(v) ? 0 : -EINVAL);
	if (r < 0 || x < k->min || x > k->max)
		return -EINVAL;
	*(double *)field = x;
	return 0;
}

static int apply_int(const struct conf_key *k, const char *v, void *field)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < k->min || x > k->max)
		return -EINVAL;
	*(int *)field = (int)x;
	return 0;
}

static int apply_u64(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	char *end;
	errno = 0;
	if (v[0] == '-')
		return -EINVAL;
	unsigned long long x = strtoull(v, &end, 0);
	/* Not 2^64 - 1: a JSON reader cannot tell it from a larger number saturated to it, so
	 * the API refuses it (a first tank's seed then could not be given again). */
	if (errno || end == v || *end || x == UINT64_MAX)
		return -EINVAL;
	*(uint64_t *)field = x;
	return 0;
}

static int apply_bool(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	return parse_bool(v, (bool *)field);
}

static int apply_url(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	if (*v && (strlen(v) >= CONF_STR || parse_url(v) < 0))
		return -EINVAL;
	return store_str(field, CONF_STR, v);
}

static int apply_urls(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	return check_urls(v) < 0 ? -EINVAL : store_str(field, CONF_URLS, v);
}

static int apply_backend(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	if (strcmp(v, "hub") != 0 && strcmp(v, "etcd") != 0)
		return -EINVAL;
	return store_str(field, 8, v);
}

static int apply_key_prefix(const struct conf_key *k, const char *v, void *field)
{
	(void)k;
	size_t l = strlen(v);
	if (l < 1 || l > 200 || v[0] != '/' || v[l - 1] != '/')
		return -EINVAL;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~')
			return -EINVAL;
	return store_str(field, CONF_STR, v);
}

static conf_apply_fn *const appliers[] = {
	[T_SERVER_ID] = apply_server_id,
	[T_PORT] = apply_port,
	[T_HOST] = apply_host,
	[T_PATH] = apply_path,
	[T_NAME] = apply_name,
	[T_LOGLEVEL] = apply_loglevel,
	[T_LISTEN] = apply_listen,
	[T_DURATION] = apply_number,
	[T_NUMBER] = apply_number,
	[T_INT] = apply_int,
	[T_U64] = apply_u64,
	[T_BOOL] = apply_bool,
	[T_URL] = apply_url,
	[T_URLS] = apply_urls,
	[T_BACKEND] = apply_backend,
	[T_KEY_PREFIX] = apply_key_prefix,
};

static int apply_value(struct conf *c, const struct conf_key *k, const char *v)
{
	return appliers[k->type](k, v, (char *)c + k->offset);
}

static const struct conf_key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(conf_keys[i].section, section) == 0 && strcmp(conf_keys[i].key, key) == 0)
			return &conf_keys[i];
	return NULL;
}

static bool known_section(const char *section)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(conf_keys[i].section, section) == 0)
			return true;
	return false;
}

/* A '#' after a value is part of it (a URL or a name may hold one), so a comment written
 * at the end of a line, as other formats allow, fails here: say so next to the error. */
static const char *comment_hint(const char *v)
{
	const char *h = strchr(v, '#');
	return h && h > v && isspace((unsigned char)h[-1])
		       ? " (a comment takes its own line: a '#' after a value is part of it)"
		       : "";
}

int conf_set(struct conf *c, const char *section, const char *key, const char *value, char *err,
	     size_t errlen)
{
	const struct conf_key *k = find_key(section, key);
	if (!k)
		return errf(err, errlen, "unknown key '%s' in [%s]", key, section);
	if (apply_value(c, k, value) < 0) {
		char buf[192];
		return errf(err, errlen, "invalid value '%s' for %s in [%s]: %s%s", value, key,
			    section, type_expectation(k, buf, sizeof buf), comment_hint(value));
	}
	return 0;
}

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_KEYS; i++)
		if (apply_value(c, &conf_keys[i], conf_keys[i].def) < 0)
			fatal("built-in default of %s.%s is invalid", conf_keys[i].section,
			      conf_keys[i].key);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, 1 << 20, &text, &len);
	if (r == -ENOENT)
		return r; /* the caller decides whether absence is fine */
	if (r < 0)
		return errf(err, errlen, "%s: %s", path, fs_read_error(r));
	/* The text is read as a C string: a NUL would end a value, or the file, unseen. */
	if (memchr(text, '\0', len))
		r = errf(err, errlen, "%s: holds a NUL byte", path);
	else
		r = conf_parse_text(c, path, text, err, errlen);
	free(text);
	return r;
}

int conf_parse_text(struct conf *c, const char *path, char *text, char *err, size_t errlen)
{
	int r;
	char section[64] = "";
	int lineno = 0;
	char *save = NULL;
	r = 0;
	/* A byte order mark, as some Windows editors write, is not part of the first line. */
	if (!strncmp(text, "\xEF\xBB\xBF", 3))
		text += 3;
	for (char *line = text; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != '\0' ||
			    (size_t)(close - s - 1) >= sizeof section) {
				r = errf(err, errlen, "%s:%d: malformed section header '%s'", path,
					 lineno, s);
				break;
			}
			*close = '\0';
			snprintf(section, sizeof section, "%s", trim(s + 1));
			if (!known_section(section))
				log_warn("%s:%d: unknown section [%s], ignoring", path, lineno,
					 section);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			r = errf(err, errlen, "%s:%d: expected key = value, got '%s'", path, lineno,
				 s);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		if (section[0] == '\0') {
			r = errf(err, errlen, "%s:%d: key '%s' outside any section", path, lineno,
				 key);
			break;
		}
		if (!known_section(section))
			continue;
		if (!find_key(section, key)) {
			log_warn("%s:%d: unknown key '%s' in [%s], ignoring", path, lineno, key,
				 section);
			continue;
		}
		char msg[512];
		if (conf_set(c, section, key, value, msg, sizeof msg) < 0) {
			r = errf(err, errlen, "%s:%d: %s", path, lineno, msg);
			break;
		}
	}
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dropins(struct conf *c, const char *path, char *err, size_t errlen)
{
	char dir[CONF_PATH + 8];
	snprintf(dir, sizeof dir, "%s.d", path);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR
			       ? 0
			       : errf(err, errlen, "%s: %s", dir, strerror(errno));
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n] = xstrdup(de->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (r == 0) {
			char *p = fs_path_join(dir, names[i]);
			r = load_file(c, p, err, errlen);
			if (r == -ENOENT)
				r = errf(err, errlen, "%s: %s", p, strerror(-r));
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

char *conf_hand_run_base(const struct conf *c)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	return xasprintf("%s/data/%s", cwd, c->server.server_id);
}

const char *conf_default_path(void)
{
	static char path[CONF_PATH + 32];
	const char *dir = secure_getenv("CONFIGURATION_DIRECTORY");
	if (dir && *dir) {
		size_t n = strcspn(dir, ":");
		snprintf(path, sizeof path, "%.*s/tankworld.conf", (int)n, dir);
	} else {
		snprintf(path, sizeof path, "%s/tankworld/tankworld.conf", SYSCONFDIR);
	}
	return path;
}

static int apply_env(struct conf *c, char *err, size_t errlen)
{
	static const struct {
		const char *var, *section, *key;
	} env[] = {
		{"TANK_SERVER_ID", "server", "server_id"},
		{"TANK_API_PORT", "server", "api_port"},
		{"DISCOVERY_SERVER_URL", "discovery", "hub_url"},
		{"TANKWORLD_LOG_LEVEL", "server", "log_level"},
		{"STATE_DIRECTORY", "server", "state_dir"},
		{"RUNTIME_DIRECTORY", "server", "runtime_dir"},
	};
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
		const char *v = secure_getenv(env[i].var);
		if (!v || !*v)
			continue;
		char first[CONF_PATH];
		/* systemd lists several directories separated by ':'; the first is ours. Other
		 * variables are taken whole, so a stray ':' is an error, not a truncation. */
		bool dir_list = strcmp(env[i].key, "state_dir") == 0 ||
				strcmp(env[i].key, "runtime_dir") == 0;
		snprintf(first, sizeof first, "%.*s", (int)(dir_list ? strcspn(v, ":") : strlen(v)),
			 v);
		char msg[512];
		if (conf_set(c, env[i].section, env[i].key, first, msg, sizeof msg) < 0)
			return errf(err, errlen, "environment %s: %s", env[i].var, msg);
	}
	return 0;
}

bool conf_override_shaped(const char *a)
{
	const char *dot = strchr(a, '.'), *eq = strchr(a, '=');
	return dot && eq && dot < eq;
}

static int apply_override(struct conf *c, const char *a, char *err, size_t errlen)
{
	const char *dot = strchr(a, '.'), *eq = strchr(a, '=');
	if (!conf_override_shaped(a))
		return errf(err, errlen, "--set '%s': expected section.key=value", a);
	char section[64], key[64];
	if ((size_t)(dot - a) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key)
		return errf(err, errlen, "--set '%s': name too long", a);
	snprintf(section, sizeof section, "%.*s", (int)(dot - a), a);
	snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
	char msg[512];
	if (conf_set(c, section, key, eq + 1, msg, sizeof msg) < 0)
		return errf(err, errlen, "--set: %s", msg);
	return 0;
}

static int resolve_listen(struct conf_listen *l, const char *name, int port, char *err,
			  size_t errlen)
{
	if (l->spec[0] == '\0') {
		l->enabled = true;
		strcpy(l->host, "127.0.0.1");
		l->port = port;
		return 0;
	}
	if (parse_listen(l->spec, l) < 0)
		return errf(err, errlen, "invalid %s.listen '%s'", name, l->spec);
	return 0;
}

static void default_socket(char *sock, const char *runtime_dir, const char *name)
{
	if (sock[0] == '\0')
		snprintf(sock, CONF_PATH, "%.*s/%s", CONF_PATH - 32, runtime_dir, name);
}

static int load_token(struct conf *c, char *err, size_t errlen)
{
	c->security.token[0] = '\0';
	if (c->security.token_file[0] == '\0')
		return 0;
	char *text;
	/* The token is the only thing between a TCP peer and every mutation: a file any
	 * local user can read gives it away, so refuse it rather than warn. */
	struct stat st;
	if (stat(c->security.token_file, &st) == 0 && (st.st_mode & 0007))
		return errf(err, errlen,
			    "token_file %s is readable by others (mode %04o); fix it "
			    "with: chmod o-rwx %s",
			    c->security.token_file, (unsigned)(st.st_mode & 07777),
			    c->security.token_file);
	size_t len;
	int r = fs_read_file(c->security.token_file, 4096, &text, &len);
	if (r < 0)
		return errf(err, errlen, "token_file %s: %s%s", c->security.token_file,
			    fs_read_error(r), comment_hint(c->security.token_file));
	bool nul = memchr(text, '\0', len) != NULL; /* before trim writes its own */
	char *t = trim(text);
	size_t n = strlen(t);
	r = 0;
	if (nul)
		r = errf(err, errlen, "token_file %s: holds a NUL byte", c->security.token_file);
	else if (n < 16 || n >= sizeof c->security.token)
		r = errf(err, errlen, "token_file %s: the token must be 16 to %zu characters",
			 c->security.token_file, sizeof c->security.token - 1);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!isgraph((unsigned char)t[i]))
			r = errf(err, errlen,
				 "token_file %s: the token must be printable ASCII "
				 "without spaces",
				 c->security.token_file);
	if (r == 0)
		memcpy(c->security.token, t, n + 1);
	free(text);
	return r;
}

static void default_server_id(struct conf *c)
{
	if (c->server.server_id[0])
		return;
	c->server.server_id_from_host = true;
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	size_t j = 0;
	for (size_t i = 0; host[i] && j < 64; i++) {
		char ch = host[i];
		if (isalnum((unsigned char)ch) || ((ch == '.' || ch == '_' || ch == '-') && j > 0))
			c->server.server_id[j++] = ch;
	}
	c->server.server_id[j] = '\0';
	if (j == 0)
		strcpy(c->server.server_id, "local-server");
}

int conf_load(struct conf *c, const char *path, const char *const *overrides, size_t n_overrides,
	      char *err, size_t errlen)
{
	conf_defaults(c);
	const char *file = path ? path : conf_default_path();
	int r = load_file(c, file, err, errlen);
	if (r == -ENOENT && !path)
		r = 0;
	else if (r == -ENOENT)
		return errf(err, errlen, "%s: %s", file, strerror(-r));
	if (r < 0)
		return r;
	if ((r = load_dropins(c, file, err, errlen)) < 0)
		return r;
	int file_base = c->server.base_port;
	if ((r = apply_env(c, err, errlen)) < 0)
		return r;
	int env_base = c->server.base_port;
	bool base_set = false;
	for (size_t i = 0; i < n_overrides; i++) {
		if ((r = apply_override(c, overrides[i], err, errlen)) < 0)
			return r;
		base_set |= strncmp(overrides[i], "server.base_port=", 17) == 0;
	}
	/* Remember who chose base_port: a port collision names it (daemon_listen). */
	const char *env_port = secure_getenv("TANK_API_PORT");
	int b = c->server.base_port;
	char *o = c->server.base_port_origin;
	size_t ol = sizeof c->server.base_port_origin;
	if (env_port && *env_port && c->server.api_port == atoi(env_port))
		snprintf(c->server.api_port_origin, sizeof c->server.api_port_origin,
			 "TANK_API_PORT=%d", c->server.api_port);
	else
		snprintf(c->server.api_port_origin, sizeof c->server.api_port_origin,
			 "[server] api_port = %d", c->server.api_port);
	if (base_set || b != env_base)
		snprintf(o, ol, "--set server.base_port=%d", b);
	else if (file_base != 8000)
		snprintf(o, ol, "base_port = %d in the configuration", b);
	else
		snprintf(o, ol, "base_port %d (the default, or set so in the configuration)", b);

	default_server_id(c);
	int base = c->server.base_port, door = c->server.api_port;
	if (door) {
		/* One door: the siblings are reached through simd's relay, as the original's
		 * single port was, unless their own listen is set. */
		if (!c->discovery.listen.spec[0])
			strcpy(c->discovery.listen.spec, "none");
		if (!c->migration.listen.spec[0])
			strcpy(c->migration.listen.spec, "none");
	}
	if ((r = resolve_listen(&c->discovery.listen, "discovery", base, err, errlen)) < 0 ||
	    (r = resolve_listen(&c->sim.listen, "sim", door ? door : base + 1, err, errlen)) < 0 ||
	    (r = resolve_listen(&c->migration.listen, "migration", base + 2, err, errlen)) < 0)
		return r;
	/* The door is simd's port. A [sim] listen elsewhere won silently: simd listened and
	 * advertised there, and nothing answered at the door (an operator's audit). */
	if (door && (!c->sim.listen.enabled || c->sim.listen.port != door))
		return errf(err, errlen,
			    "[sim] listen = %s, but %s makes port %d simd's (the door): set one "
			    "of them",
			    c->sim.listen.spec, c->server.api_port_origin, door);
	default_socket(c->discovery.socket, c->server.runtime_dir, "discoveryd.sock");
	default_socket(c->sim.socket, c->server.runtime_dir, "simd.sock");
	default_socket(c->migration.socket, c->server.runtime_dir, "migrated.sock");
	if (c->discovery.heartbeat_timeout <= c->discovery.heartbeat_interval)
		return errf(err, errlen,
			    "heartbeat_timeout (%g) must exceed heartbeat_interval (%g)",
			    c->discovery.heartbeat_timeout, c->discovery.heartbeat_interval);
	if (c->discovery.evict_after < c->discovery.heartbeat_timeout)
		return errf(err, errlen, "evict_after (%g) must be at least heartbeat_timeout (%g)",
			    c->discovery.evict_after, c->discovery.heartbeat_timeout);
	bool etcd = strcmp(c->discovery.backend, "etcd") == 0;
	if (etcd && !c->discovery.etcd_endpoints[0])
		return errf(err, errlen, "backend = etcd needs etcd_endpoints");
	if (etcd && c->discovery.hub_url[0])
		return errf(err, errlen,
			    "backend = etcd and hub_url exclude each other: with etcd "
			    "there are no hubs (unset hub_url or DISCOVERY_SERVER_URL)");
	return load_token(c, err, errlen);
}

static void print_value(const struct conf *c, const struct conf_key *k, FILE *f)
{
	const char *field = (const char *)c + k->offset;
	switch (k->type) {
	case T_SERVER_ID:
	case T_HOST:
	case T_NAME:
	case T_URL:
	case T_URLS:
	case T_BACKEND:
	case T_KEY_PREFIX:
		fprintf(f, "%s", field);
		break;
	case T_PATH:
		fprintf(f, "%s", field);
		break;
	case T_PORT:
	case T_INT:
		fprintf(f, "%d", *(const int *)field);
		break;
	case T_LOGLEVEL:
		fprintf(f, "%s", log_level_to_string(*(const int *)field));
		break;
	case T_LISTEN: {
		const struct conf_listen *l = (const void *)field;
		if (!l->enabled)
			fprintf(f, "none");
		else if (strchr(l->host, ':'))
			fprintf(f, "[%s]:%d", l->host, l->port);
		else
			fprintf(f, "%s:%d", l->host, l->port);
		break;
	}
	case T_DURATION:
	case T_NUMBER:
		fprintf(f, "%g", *(const double *)field);
		break;
	case T_U64:
		fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)field);
		break;
	case T_BOOL:
		fprintf(f, "%s", *(const bool *)field ? "yes" : "no");
		break;
	}
}

void conf_print(const struct conf *c, FILE *f)
{
	const char *section = "";
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(section, k->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		fprintf(f, "%s = ", k->key);
		print_value(c, k, f);
		fputc('\n', f);
	}
	fprintf(f, "# cluster token: %s\n", c->security.token[0] ? "set" : "none");
}

void conf_print_example(FILE *f)
{
	fprintf(f, "# tankworld configuration, read by discoveryd, simd and migrated.\n"
		   "# Every key is shown commented out with its built-in default.\n"
		   "# Drop-ins in tankworld.conf.d/*.conf override this file, in lexical order.\n"
		   "# Environment (TANK_SERVER_ID, TANK_API_PORT, DISCOVERY_SERVER_URL) and\n"
		   "# --set section.key=value override both. Durations are in seconds.\n");
	const char *section = "";
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(section, k->section) != 0) {
			fprintf(f, "\n[%s]\n", k->section);
			section = k->section;
		}
		fprintf(f, "# %s\n#%s = %s\n", k->help, k->key, k->def);
	}
}
