/* The registry's hot texts written straight into a growing buffer instead of through
 * json-c objects, several times faster: every answer that lists servers (the wire form:
 * ServerInfo plus status, is_local, last_heartbeat_at, heartbeat_age_seconds and
 * direct) and journal batches (the text of registry_entry_record).
 * Values passed validation (no control characters) but may hold quotes and
 * backslashes, which are escaped. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "util.h"
#include "xalloc.h"

static void out_reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
	if (*len + more + 1 <= *cap)
		return;
	size_t c = *cap ? *cap : 4096;
	while (*len + more + 1 > c)
		c *= 2;
	*buf = xrealloc(*buf, c);
	*cap = c;
}

static void out_raw(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	out_reserve(buf, len, cap, n);
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

void registry_append(char **buf, size_t *len, size_t *cap, const char *s)
{
	out_raw(buf, len, cap, s, strlen(s));
}

static void out_fmt(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void out_fmt(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	out_reserve(buf, len, cap, 128);
	va_start(ap, fmt);
	int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	if ((size_t)n >= *cap - *len) {
		out_reserve(buf, len, cap, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
	}
	*len += (size_t)n;
}

/* ,"key":"value" with JSON escaping (values passed validation: no control characters,
 * but quotes and backslashes are allowed). */
static void out_str(char **buf, size_t *len, size_t *cap, const char *key, const char *v)
{
	out_fmt(buf, len, cap, ",\"%s\":\"", key);
	out_reserve(buf, len, cap, strlen(v) * 6 + 1);
	char *o = *buf + *len;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p;
		} else if (*p < 0x20) {
			o += sprintf(o, "\\u%04x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o++ = '"';
	*len = (size_t)(o - *buf);
	(*buf)[*len] = '\0';
}

static void out_info(char **buf, size_t *len, size_t *cap, const struct server_info *in)
{
	out_raw(buf, len, cap, "{\"server_id\":\"", 14);
	out_raw(buf, len, cap, in->server_id, strlen(in->server_id)); /* [A-Za-z0-9._-] */
	out_raw(buf, len, cap, "\"", 1);
	out_str(buf, len, cap, "hostname", in->hostname);
	out_str(buf, len, cap, "host", in->host);
	out_fmt(buf, len, cap,
		",\"port\":%d,\"discovery_port\":%d,\"migration_port\":%d,"
		"\"tank_count\":%d",
		in->port, in->discovery_port, in->migration_port, in->tank_count);
	out_str(buf, len, cap, "version", in->version);
	out_fmt(buf, len, cap, ",\"uptime_seconds\":%.3f", in->uptime_seconds);
	out_str(buf, len, cap, "platform", in->platform);
	out_str(buf, len, cap, "architecture", in->architecture);
	out_fmt(buf, len, cap, ",\"logical_cpus\":%d", in->logical_cpus);
}

void registry_entry_append_json(const struct registry *r, const struct server_entry *e, double now,
				double wall_now, const char *extra, char **buf, size_t *len,
				size_t *cap)
{
	out_info(buf, len, cap, &e->info);
	double heard = registry_heard(r, e), age = now - heard;
	char ts[32];
	/* Stamps are on now_steady_wall's clock, the wall clock of the start: printed as
	 * they are, a clock set right after the start (a board before NTP) would date every
	 * heartbeat in that old time. The age is right whatever the clock did. */
	iso8601_utc(wall_now - (age < 0 ? 0 : age), ts);
	out_fmt(buf, len, cap,
		",\"status\":\"%s\",\"is_local\":%s,\"last_heartbeat_at\":\"%s\","
		"\"heartbeat_age_seconds\":%.3f,\"direct\":%s,\"confirmed\":%s%s}",
		server_status_name(registry_status(r, e, now)),
		strcmp(e->info.server_id, registry_local_id(r)) == 0 ? "true" : "false", ts,
		age < 0 ? 0 : age, e->learned ? "false" : "true",
		registry_confirmed(r, e, now) ? "true" : "false", extra ? extra : "");
}

void registry_entry_append_record(const struct registry *r, const struct server_entry *e,
				  double now, char **buf, size_t *len, size_t *cap)
{
	if (e->removed) {
		out_fmt(buf, len, cap, "{\"removed\":\"%s\",\"rev\":%" PRIu64 "}\n",
			e->info.server_id, e->rev);
		return;
	}
	out_info(buf, len, cap, &e->info);
	out_fmt(buf, len, cap,
		",\"last_heartbeat\":%.6f,\"registered_at\":%.6f,\"learned\":%s,"
		"\"status\":\"%s\",\"rev\":%" PRIu64 "}\n",
		registry_heard(r, e), e->registered_at, e->learned ? "true" : "false",
		server_status_name(registry_status(r, e, now)), e->rev);
}
