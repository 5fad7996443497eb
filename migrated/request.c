/* Every request migrated sends is built here (request_send): to this server's simd and
 * discoveryd over their Unix sockets, and to other servers (peers.c gives their
 * addresses) over TCP with the shared token. One place also means one set of timeouts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "migrated.h"

/* Connecting is quick or not at all (a Unix socket, or a LAN peer): a daemon that is
 * down is found out in 3 s even when the request timeout is longer. */
#define CONNECT_TIMEOUT_MS 3000
/* What another server answers migrated (an arrival's acceptance, an inbox entry, a tank's
 * status) is a few hundred bytes; a larger answer is parsed on the event loop, and one of
 * 4 MiB (the fetch default) held it 1.7 s (an attacker's audit, 7 December). This
 * server's simd and discoveryd, on their Unix sockets, keep the default: an outbox
 * listing can be long. */
#define PEER_ANSWER_MAX (64u << 10)

int request_send(struct migrated *md, const char *method, const char *url, const char *sock,
		 bool with_token, json_object *body, fetch_cb cb, void *arg)
{
	if (md->stopping) {
		json_object_put(body);
		return -ESHUTDOWN; /* callers treat it as a failed request */
	}
	const struct conf *c = &md->daemon->conf;
	const char *text = body ? jv_to_string(body) : NULL;
	long timeout = (long)(c->migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = method,
		.url = url,
		.unix_path = sock,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.token = with_token ? c->security.token : NULL,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS,
		.max_response = sock ? 0 : PEER_ANSWER_MAX,
	};
	int r = fetch_start(md->fetch, &req, cb, arg);
	json_object_put(body);
	return r;
}

/* A distinct host name per daemon keeps curl's per-host connection limit from letting
 * a stalled discoveryd hold up requests to simd (both are "localhost"). */
int request_sim(struct migrated *md, const char *method, const char *path, json_object *body,
		fetch_cb cb, void *arg)
{
	char url[600];
	snprintf(url, sizeof url, "http://simd%s", path);
	return request_send(md, method, url, md->daemon->conf.sim.socket, false, body, cb, arg);
}

int request_discovery(struct migrated *md, const char *method, const char *path, fetch_cb cb,
		      void *arg)
{
	char url[600];
	snprintf(url, sizeof url, "http://discoveryd%s", path);
	return request_send(md, method, url, md->daemon->conf.discovery.socket, false, NULL, cb,
			    arg);
}

json_object *request_answer(const struct fetch_response *r, const char *what)
{
	struct json_err e;
	json_object *o = jv_parse_object(r->body, r->len, 64, &e);
	if (!o)
		log_debug("%s: the answer (%ld) is not a JSON object: %s", what, r->status, e.msg);
	return o;
}

const char *request_error_code(const struct fetch_response *r, char *buf, size_t len)
{
	struct json_err e;
	const char *code = NULL;
	buf[0] = '\0';
	json_object *o = jv_parse_object(r->body, r->len, 64, &e);
	if (o && jv_string(o, "code", false, 1, 63, &code, &e) > 0)
		snprintf(buf, len, "%s", code);
	json_object_put(o);
	return buf;
}

const char *request_refusal(const struct fetch_response *r, const char *who, char *code,
			    size_t code_len, char *buf, size_t len)
{
	json_object *o = request_answer(r, "refusal");
	const char *msg = NULL;
	struct json_err e;
	if (o)
		jv_string(o, "error", false, 0, 200, &msg, &e);
	request_error_code(r, code, code_len);
	if (who)
		snprintf(buf, len, "%s (%ld %s)%s%s", who, r->status, code, msg ? ": " : "",
			 msg ? msg : "");
	else
		snprintf(buf, len, "%ld %s%s%s", r->status, code, msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
	return buf;
}
