/* What this server says about itself. The advertised host is configured
 * (advertise_host); detection is only a fallback and reads the interfaces, sending
 * nothing on the network (the original "connected" a UDP socket to 8.8.8.8). */
#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "discoveryd.h"
#include "fsutil.h"
#include "jsonv.h"
#include "util.h"

const char *self_detect_host(char *buf, size_t len)
{
	struct ifaddrs *ifs = NULL, *i;
	snprintf(buf, len, "127.0.0.1");
	if (getifaddrs(&ifs) < 0)
		return buf;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
			  (socklen_t)len);
		break;
	}
	freeifaddrs(ifs);
	return buf;
}

/* Advertise what simd (the server's public face) listens on: a loopback listener can
 * only be reached from this machine, so detecting an interface address would send
 * peers where nothing answers. Detection is for wildcard listeners only. */
static void self_advertised_host(const struct conf *c, char *buf, size_t len)
{
	const struct conf_listen *l = &c->sim.listen;
	const char *h = l->enabled ? l->host : "";
	if (c->server.advertise_host[0])
		snprintf(buf, len, "%.253s", c->server.advertise_host);
	else if (!strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1"))
		snprintf(buf, len, "%.253s", !strcmp(h, "localhost") ? "127.0.0.1" : h);
	else if (h[0] && strcmp(h, "0.0.0.0") && strcmp(h, "::") && strcmp(h, "*"))
		snprintf(buf, len, "%.253s", h);
	else
		self_detect_host(buf, len);
}

void self_init(struct discoveryd *dd)
{
	const struct conf *c = &dd->daemon->conf;
	struct server_info *s = &dd->self;
	memset(s, 0, sizeof *s);
	snprintf(s->server_id, sizeof s->server_id, "%s", c->server.server_id);
	gethostname(s->hostname, sizeof s->hostname - 1);
	self_advertised_host(c, s->host, sizeof s->host);
	s->port = c->sim.listen.enabled ? c->sim.listen.port : c->server.base_port + 1;
	/* Behind a door, the siblings answer through simd's port. */
	int door = c->server.api_port;
	s->discovery_port = dd->tcp_port ? dd->tcp_port : door ? s->port : c->server.base_port;
	s->migration_port = c->migration.listen.enabled ? c->migration.listen.port
			    : door			? s->port
							: c->server.base_port + 2;
	snprintf(s->version, sizeof s->version, "%s", PACKAGE_VERSION);
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(s->platform, sizeof s->platform, "%s", u.sysname);
		snprintf(s->architecture, sizeof s->architecture, "%s", u.machine);
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->logical_cpus = cpus > 0 ? (int)cpus : 0;
	self_read_tank_count(dd);
	self_refresh(dd);
}

/* simd keeps state_dir/sim/summary.json current ({"tank_count","fish"}); reading a
 * few bytes of the shared state directory is cheaper than asking simd over HTTP. */
bool self_read_tank_count(struct discoveryd *dd)
{
	int before = dd->self.tank_count;
	char *path = fs_path_join(dd->daemon->conf.server.state_dir, "sim/summary.json");
	char *text;
	size_t len;
	if (fs_read_file(path, 4096, &text, &len) == 0) {
		struct json_err e;
		json_object *o = jv_parse_object_nul(text, len, 4, &e);
		int n;
		if (o && jv_int(o, "tank_count", true, 0, 1000000, &n, &e) > 0)
			dd->self.tank_count = n;
		json_object_put(o);
		free(text);
	}
	free(path);
	return dd->self.tank_count != before;
}

void self_refresh(struct discoveryd *dd)
{
	dd->self.uptime_seconds = now_mono() - dd->started_mono;
	registry_register(dd->reg, &dd->self, now_steady_wall(), false, NULL);
}
