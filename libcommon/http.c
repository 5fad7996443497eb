#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stddef.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fetch.h"
#include "http-internal.h"
#include "http.h"
#include "jsonv.h"
#include "log.h"
#include "xalloc.h"

/* Runs once the reply has gone out, whether the handler answered at once or later. */
static void on_complete(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	int status = evhttp_request_get_response_code(req);
	http_conn_request_done(s, req);
	s->stats.requests++;
	if (status >= 500)
		s->stats.status_5xx++;
	else if (status >= 400)
		s->stats.status_4xx++;
	else
		s->stats.status_2xx++;
}

static const char *reason_for(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 421:
		return "Misdirected Request";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

static void free_taken(const void *data, size_t len, void *text)
{
	(void)data;
	(void)len;
	free(text);
}

/* HEAD: the GET's headers without its body. evhttp 2.1 would send the body, and no
 * Content-Length, so the length is set here and the body must be left out (true).
 * CONNECT too gets its length: evhttp 2.1 sends none for it, so the client could not
 * tell where the answer ends. */
static bool head_only(struct evhttp_request *req, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (m == EVHTTP_REQ_HEAD || m == EVHTTP_REQ_CONNECT) {
		char cl[24];
		snprintf(cl, sizeof cl, "%zu", len);
		evhttp_remove_header(h, "Content-Length");
		evhttp_add_header(h, "Content-Length", cl);
	}
	return m == EVHTTP_REQ_HEAD;
}

static void send_typed(struct evhttp_request *req, int status, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_send_reply(req, status, reason_for(status), NULL);
}

void http_reply_file(struct evhttp_request *req, const char *content_type, int fd, size_t size)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	if (head_only(req, size) || size == 0) {
		close(fd);
	} else if (evbuffer_add_file(out, fd, 0, (ev_off_t)size) < 0) { /* takes fd */
		http_reply_error(req, 500, "read_failed", "cannot read the file");
		return;
	}
	send_typed(req, 200, content_type);
}

/* Straight into the request's own output buffer: evhttp_send_reply would move a separate
 * buffer there anyway, so this saves an evbuffer per reply. */
void http_reply_text(struct evhttp_request *req, int status, const char *content_type,
		     const char *text, size_t len)
{
	if (!head_only(req, len) &&
	    evbuffer_add(evhttp_request_get_output_buffer(req), text, len) < 0)
		abort();
	send_typed(req, status, content_type);
}

/* Taken texts are sent from where they are. A reader's answer can be megabytes (GET /state
 * of 20,000 fish): copying it on the event loop into fresh buffer pages, each faulted in,
 * kept every other client waiting. */
void http_reply_pieces(struct evhttp_request *req, int status, const char *content_type,
		       struct http_piece *p, size_t n)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += p[i].len;
	bool head = head_only(req, len);
	for (size_t i = 0; i < n; i++)
		if (head || p[i].len == 0)
			free(p[i].text);
		else if (evbuffer_add_reference(out, p[i].text, p[i].len, free_taken, p[i].text) < 0)
			abort();
	send_typed(req, status, content_type);
}

void http_reply_taken(struct evhttp_request *req, int status, const char *content_type, char *text,
		      size_t len)
{
	http_reply_pieces(req, status, content_type, &(struct http_piece){text, len}, 1);
}

void http_reply_json(struct evhttp_request *req, int status, json_object *json)
{
	const char *text = jv_to_string(json);
	http_reply_text(req, status, "application/json", text, strlen(text));
	json_object_put(json);
}

static json_object *error_json(const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* Messages quote what the client sent (a path's id, a query value): bytes that are
	 * not UTF-8 would make the answer invalid JSON text, so they are shown as '?'. */
	size_t n = strlen(msg);
	if (!jv_utf8_valid(msg, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)msg[i] >= 0x80)
				msg[i] = '?';
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "code", json_object_new_string(code));
	return o;
}

json_object *http_error_json(const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_object *o = error_json(code, fmt, ap);
	va_end(ap);
	return o;
}

void http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_object *o = error_json(code, fmt, ap);
	va_end(ap);
	http_reply_json(req, status, o);
}

const char *http_body(struct http_ctx *ctx, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	*len = evbuffer_get_length(in);
	if (*len == 0)
		return NULL;
	return (const char *)evbuffer_pullup(in, -1);
}

/* The body parsed into ctx->body, once: NULL when there is none or it is not a JSON
 * object (why in *e, when it was parsed now). */
static json_object *body_parsed(struct http_ctx *ctx, struct json_err *e)
{
	size_t len;
	const char *body = ctx->body ? NULL : http_body(ctx, &len);
	if (body)
		ctx->body = jv_parse_object(body, len, 16, e);
	return ctx->body;
}

json_object *http_body_peek(struct http_ctx *ctx)
{
	struct json_err e;
	return body_parsed(ctx, &e);
}

json_object *http_body_object(struct http_ctx *ctx)
{
	size_t len;
	if (!ctx->body && !http_body(ctx, &len)) {
		http_reply_error(ctx->req, 400, "invalid_body", "a JSON object body is required");
		return NULL;
	}
	struct json_err e;
	if (!body_parsed(ctx, &e))
		http_reply_error(ctx->req, 400, "invalid_json", "%s", e.msg);
	return json_object_get(ctx->body);
}

int http_query(struct http_ctx *ctx, const char *key, char **ret)
{
	*ret = NULL;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (!q || !*q)
		return 0;
	/* A value is a C string once decoded: %00 would cut it short without a word. */
	if (strstr(q, "%00")) {
		http_reply_error(ctx->req, 400, "invalid_query",
				 "the query holds a NUL byte (%%00)");
		return -EINVAL;
	}
	struct evkeyvalq params;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(q, &params) < 0) {
		evhttp_clear_headers(&params);
		http_reply_error(ctx->req, 400, "invalid_query", "malformed query string");
		return -EINVAL;
	}
	const char *v = evhttp_find_header(&params, key);
	if (v) {
		*ret = xstrdup(v);
	}
	evhttp_clear_headers(&params);
	return *ret ? 1 : 0;
}

int http_query_bool(struct http_ctx *ctx, const char *key, bool *ret)
{
	char *v;
	int r = http_query(ctx, key, &v);
	if (r <= 0)
		return r;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
		*ret = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
		*ret = false;
	else
		r = -EINVAL;
	free(v);
	if (r < 0)
		http_reply_error(ctx->req, 400, "invalid_query",
				 "query parameter '%s' must be "
				 "true or false",
				 key);
	return r;
}

/* Reads query parameter key as a decimal long into *x. Returns what http_query returns;
 * on 1, *err is 0, ERANGE (too large for a long: *x is LONG_MIN or LONG_MAX) or EINVAL (not
 * an optional '-' then digits only). */
static int query_long(struct http_ctx *ctx, const char *key, long *x, int *err)
{
	char *v;
	int r = http_query(ctx, key, &v);
	if (r <= 0)
		return r;
	char *end;
	errno = 0;
	*x = strtol(v, &end, 10);
	/* strtol also takes leading blanks and a '+': " -5" must not pass for a number. */
	bool digits = isdigit((unsigned char)v[v[0] == '-']);
	*err = !digits || end == v || *end ? EINVAL : errno;
	free(v);
	return r;
}

int http_query_int(struct http_ctx *ctx, const char *key, long min, long max, long *ret)
{
	long x;
	int err;
	int r = query_long(ctx, key, &x, &err);
	if (r <= 0)
		return r;
	if (err || x < min || x > max) {
		http_reply_error(ctx->req, 400, "invalid_query",
				 "query parameter '%s' must be an "
				 "integer from %ld to %ld",
				 key, min, max);
		return -EINVAL;
	}
	*ret = x;
	return r;
}

int http_query_limit(struct http_ctx *ctx, const char *key, long max, long *ret)
{
	long x;
	int err;
	int r = query_long(ctx, key, &x, &err);
	if (r <= 0)
		return r;
	if (err == ERANGE && x > 0) /* a number too big for a long is still big */
		x = max;
	if ((err && err != ERANGE) || x < 1) {
		http_reply_error(ctx->req, 400, "invalid_query",
				 "query parameter '%s' must be a "
				 "whole number from 1 (larger values are cut to %ld)",
				 key, max);
		return -EINVAL;
	}
	*ret = x > max ? max : x;
	return r;
}

json_object *http_health_json(const char *service, const char *server_id, double uptime_seconds)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("healthy"));
	json_object_object_add(o, "service", json_object_new_string(service));
	json_object_object_add(o, "server_id", json_object_new_string(server_id));
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "uptime_seconds", jv_new_seconds(uptime_seconds));
	return o;
}

/* Server ids are [A-Za-z0-9._-] and the other strings are ours, so nothing here needs
 * escaping; a stray character is still escaped by the slow path rather than trusted. */
static bool plain_json_string(const char *v)
{
	for (; *v; v++)
		if (*v < 0x20 || *v == '"' || *v == '\\' || (unsigned char)*v >= 0x7f)
			return false;
	return true;
}

void http_reply_health(struct evhttp_request *req, const char *service, const char *server_id,
		       double uptime_seconds, const char *extra)
{
	/* The JSON tree, its hash tables and the shortest-round-trip printing of a double
	 * cost more than the tank GET they were measured against; a fixed format does not. */
	if (!plain_json_string(service) || !plain_json_string(server_id)) {
		json_object *o = http_health_json(service, server_id, uptime_seconds);
		http_reply_json(req, 200, o);
		return;
	}
	char buf[1024];
	long long ms = (long long)(uptime_seconds * 1000.0 + 0.5);
	int n = snprintf(buf, sizeof buf,
			 "{\"status\":\"healthy\",\"service\":\"%s\",\"server_id\":\"%s\","
			 "\"version\":\"%s\",\"uptime_seconds\":%lld.%03lld%s}",
			 service, server_id, PACKAGE_VERSION, ms / 1000, ms % 1000,
			 extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof buf) {
		http_reply_error(req, 500, "internal", "health answer too long");
		return;
	}
	http_reply_text(req, 200, "application/json", buf, (size_t)n);
}

void http_cors_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_remove_header(h, "Access-Control-Allow-Origin");
	evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
}

void http_cors_preflight(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	http_cors_headers(req);
	evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
	evhttp_add_header(h, "Access-Control-Allow-Headers", "Accept, Cache-Control, Last-Event-ID");
	evhttp_add_header(h, "Access-Control-Max-Age", "600");
	evhttp_add_header(h, "Allow", "GET, HEAD, OPTIONS");
	evhttp_send_reply(req, 204, "No Content", NULL);
}

const char *http_param(const struct http_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->params.n; i++)
		if (strcmp(ctx->params.name[i], name) == 0)
			return ctx->params.value[i];
	return NULL;
}

/* Match "/api/tanks/{id}" against a path. Segments are compared raw: ids never need
 * percent-encoding, and a '%' or an empty segment simply fails validation later. */
bool http_route_match(const char *pattern, const char *path, struct http_params *p)
{
	p->n = 0;
	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
		if (pattern[0] == '{') {
			if (slen == 0 || slen >= sizeof p->value[0] || p->n >= HTTP_MAX_PARAMS)
				return false;
			p->name[p->n][0] = '\0';
			memcpy(p->value[p->n], path, slen);
			p->value[p->n][slen] = '\0';
			p->n++;
		} else if (plen != slen || strncmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

/* Names of parameters come from the pattern (the match fills only the values: it is
 * tried against every route). */
void http_route_param_names(const char *pattern, struct http_params *p)
{
	size_t i = 0;
	for (const char *c = pattern; *c && i < p->n; c++) {
		if (*c != '{')
			continue;
		size_t n = strcspn(c + 1, "}");
		snprintf(p->name[i], sizeof p->name[i], "%.*s", (int)n, c + 1);
		i++;
	}
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	default:
		return "OTHER";
	}
}

/* Constant-time comparison so the token cannot be guessed byte by byte from timing. */
static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

/* "Bearer <token>": the scheme is case-insensitive (RFC 7235), the token is not. */
static bool authorized(struct http_server *s, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!s->token[0] || !h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	return token_equal(h + 7, s->token);
}

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static bool content_type_json(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return false;
	ct += 16;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static bool has_body(struct evhttp_request *req)
{
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0)
		return true;
	const char *cl = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Length");
	return cl && strtoul(cl, NULL, 10) > 0;
}

static bool route_cors(const struct http_server *s, const struct http_route *r)
{
	if (r->flags & ROUTE_CORS)
		return true;
	return s->opts.cors_read_only && r->methods == EVHTTP_REQ_GET &&
	       !(r->flags & (ROUTE_UNIX_ONLY | ROUTE_TRUSTED));
}

static void allow_add(char *allow, size_t size, const char *m)
{
	if (strstr(allow, m))
		return;
	size_t n = strlen(allow);
	snprintf(allow + n, size - n, "%s%s", n ? ", " : "", m);
}

/* At most one Content-Length, of digits only (RFC 9112 6.3; optional whitespace after
 * them). evhttp 2.1 takes the first of several, and a sign: a proxy in front that took
 * another would frame the request differently, and the bytes between would be read here
 * as a request of its own (request smuggling). */
static bool content_length_sane(struct evhttp_request *req)
{
	const struct evkeyval *kv;
	int seen = 0;
	TAILQ_FOREACH (kv, evhttp_request_get_input_headers(req), next) {
		if (strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		const char *v = kv->value;
		if (++seen > 1 || *v < '0' || *v > '9')
			return false;
		while (*v >= '0' && *v <= '9')
			v++;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v)
			return false;
	}
	return true;
}

/* What every request must be before any route sees it. Replies and returns false when
 * it is not. */
static bool request_sane(struct evhttp_request *req, const struct http_server *s,
			 enum evhttp_cmd_type method, const char *path)
{
	/* No route takes CONNECT, and its target is host:port, not a path. */
	if (method == EVHTTP_REQ_CONNECT) {
		http_reply_error(req, 405, "method_not_allowed", "CONNECT is not allowed here");
		return false;
	}
	if (!path || path[0] != '/') {
		http_reply_error(req, 400, "invalid_path", "malformed request path");
		return false;
	}
	/* A NUL cannot be part of any id: a handler that decodes the path would stop at it
	 * and act on a prefix of what the client named. */
	if (strstr(path, "%00")) {
		http_reply_error(req, 400, "invalid_path", "a NUL (%%00) in the path");
		return false;
	}
	if (!content_length_sane(req)) {
		/* The connection's framing cannot be trusted: closed after this answer, so
		 * that nothing after the body is read as another request. */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_reply_error(req, 400, "invalid_content_length",
				 "a request may have one Content-Length, of digits only");
		return false;
	}
	size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (body_len > s->opts.max_body) {
		http_reply_error(req, 413, "body_too_large", "request body exceeds %zu bytes",
				 s->opts.max_body);
		return false;
	}
	return true;
}

/* The path goes back in error messages: only printable ASCII, so the JSON stays valid
 * UTF-8 whatever bytes the client sent. */
static void path_shown(const char *path, char *shown, size_t size)
{
	size_t k = 0;
	for (const char *p = path; *p && k < size - 1; p++)
		shown[k++] = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') ? *p : '?';
	shown[k] = '\0';
}

/* The methods a route takes, for a 405's Allow header. */
static void route_allow(const struct http_route *r, bool cors, char *allow, size_t size)
{
	for (int m = EVHTTP_REQ_GET; m <= EVHTTP_REQ_PATCH; m <<= 1)
		if (r->methods & m)
			allow_add(allow, size, method_name(m));
	if (r->methods & EVHTTP_REQ_GET)
		allow_add(allow, size, "HEAD");
	if (cors)
		allow_add(allow, size, "OPTIONS");
}

void http_reply_unauthorized(struct http_ctx *ctx, const char *what)
{
	struct evhttp_request *req = ctx->req;
	/* A token that was sent and is wrong is not a token that is missing: the fix
	 * differs (another cluster's token file, not none), so the answer says which,
	 * as RFC 6750's invalid_token does. */
	bool sent = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
			  sent ? "Bearer error=\"invalid_token\"" : "Bearer");
	if (sent)
		http_reply_error(req, 401, "unauthorized",
				 "%s the cluster token: the one sent is not this server's", what);
	else
		http_reply_error(req, 401, "unauthorized",
				 "%s the cluster token (Authorization: Bearer ...)", what);
}

/* Host names an address (an IPv4 or bracketed IPv6 literal) or localhost, with or
 * without a port. */
static bool host_is_address(const char *host)
{
	char name[256];
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		if (!end || (size_t)(end - host) >= sizeof name)
			return false;
		memcpy(name, host + 1, (size_t)(end - host - 1));
		name[end - host - 1] = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, name, &a6) == 1 && (!end[1] || end[1] == ':');
	}
	size_t n = strcspn(host, ":");
	if (n >= sizeof name)
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	struct in_addr a4;
	return strcmp(name, "localhost") == 0 || inet_pton(AF_INET, name, &a4) == 1;
}

/* A mutation over TCP that no token guards (insecure = yes: the original's hand-run
 * recipe) must not come from a web page. A page of any site can make its visitor's
 * browser send a POST without a body or with text/plain (no preflight asked), and the
 * side effect happens even though the page never reads the answer: creating tanks,
 * pausing them. Browsers name the page's origin in Origin on every POST: it must be this
 * very server, and, since a site that rebinds its name to 127.0.0.1 is then "this very
 * server" by name, Host must be an address. Clients that are not browsers (peers,
 * scripts, tankctl) send no Origin and are not concerned. */
static bool open_mutation_admitted(struct http_ctx *ctx)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(ctx->req);
	const char *host = evhttp_find_header(h, "Host"), *origin = evhttp_find_header(h, "Origin");
	if (!origin)
		return true;
	if (!host || !host_is_address(host)) {
		http_reply_error(ctx->req, 403, "forbidden_host",
				 "this server has no token: it takes changes from a browser "
				 "only when the page's address is an IP address or localhost, "
				 "not a name a web site could point at it");
		return false;
	}
	if (strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0) {
		http_reply_error(ctx->req, 403, "cross_origin",
				 "this server has no token: it takes no changes from another "
				 "web origin ([security] token_file guards them)");
		return false;
	}
	return true;
}

/* Whether this client may call this route with this method; replies 401, 403 or 415 and
 * returns false when not. */
static bool route_admits(struct http_ctx *ctx, const struct http_route *r, int want)
{
	struct evhttp_request *req = ctx->req;
	bool mutation = want != EVHTTP_REQ_GET;
	if (mutation && ctx->open_tcp && !open_mutation_admitted(ctx))
		return false;
	if (!ctx->trusted &&
	    ((mutation && !(r->flags & ROUTE_NO_AUTH)) || (r->flags & ROUTE_TRUSTED))) {
		if (!ctx->server->token[0] && mutation) {
			http_reply_error(req, 403, "read_only",
					 "TCP is read-only: this server has no cluster token "
					 "([security] token_file); use the Unix socket, or "
					 "configure a token");
			return false;
		}
		/* A 401 asking for a token that no one can have: say where the answer is. */
		if (!ctx->server->token[0]) {
			http_reply_error(req, 403, "trusted_only",
					 "over TCP this is served only with the cluster token, and "
					 "this server has none ([security] token_file); ask on the "
					 "Unix socket");
			return false;
		}
		http_reply_unauthorized(ctx, "this request needs");
		return false;
	}
	if (mutation && has_body(req) && !content_type_json(req)) {
		http_reply_error(req, 415, "unsupported_media_type",
				 "a request body must be sent as Content-Type: "
				 "application/json");
		return false;
	}
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_listener_side *side = arg;
	struct http_server *s = side->server;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct http_ctx ctx = {.req = req, .over_unix = side->over_unix, .arg = s->arg, .server = s};
	http_conn_request_started(s, req);
	evhttp_request_set_on_complete_cb(req, on_complete, s);
	if (!request_sane(req, s, method, path))
		return;
	bool token_ok = !side->over_unix && authorized(s, req);
	bool open_tcp = !s->token[0] && s->opts.insecure; /* the operator chose no token */
	ctx.trusted = side->over_unix || token_ok || open_tcp;
	ctx.open_tcp = !side->over_unix && !token_ok && open_tcp;
	/* A sibling relaying for a caller without the token (fetch.h): answered as that
	 * caller would be on TCP, so the door shows no more than each listener does. */
	const char *caller = evhttp_find_header(evhttp_request_get_input_headers(req),
						HTTP_UNTRUSTED_CALLER);
	if (side->over_unix && caller && strcmp(caller, "untrusted") == 0)
		ctx.trusted = false;
	/* HEAD runs the GET route; http_reply_text leaves the body out. */
	int want = method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : (int)method;
	char allow[96] = "";
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct http_route *r = &s->routes[i];
		if (!http_route_match(r->pattern, path, &ctx.params))
			continue;
		if ((r->flags & ROUTE_UNIX_ONLY) && !side->over_unix)
			continue;
		bool cors = route_cors(s, r);
		if (method == EVHTTP_REQ_OPTIONS && cors) {
			http_cors_preflight(req);
			return;
		}
		if (!(r->methods & want)) {
			route_allow(r, cors, allow, sizeof allow);
			continue;
		}
		http_route_param_names(r->pattern, &ctx.params);
		if (!route_admits(&ctx, r, want))
			return;
		if (cors)
			http_cors_headers(req);
		r->handler(&ctx);
		json_object_put(ctx.body);
		return;
	}
	char shown[128];
	path_shown(path, shown, sizeof shown);
	if (allow[0]) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		http_reply_error(req, 405, "method_not_allowed",
				 "%s is not allowed on %s (allowed: %s)", method_name(method),
				 shown, allow);
		return;
	}
	http_reply_error(req, 404, "not_found", "no such endpoint: %s", shown);
}

/* The listen backlog: the kernel's maximum (net.core.somaxconn caps it), as systemd's
 * Backlog= default. With 128, a burst of connections faster than the loop accepts
 * overflows the queue; the kernel then answers SYNs with syncookies and drops the
 * client's ACK while the queue is full, and such a client believes it is connected
 * to a server that never sees it (t-flood's one-address burst showed it under ASan). */
#define HTTP_BACKLOG SOMAXCONN

static void reenable_listener(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	/* EMFILE/ENFILE: stop accepting for a second instead of spinning (relayd). */
	int err = EVUTIL_SOCKET_ERROR();
	log_warn("accept failed: %s; pausing the listener for 1 s",
		 evutil_socket_error_to_string(err));
	evconnlistener_disable(lev);
	struct timeval one = {1, 0};
	event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT, reenable_listener, lev, &one);
}

static struct evhttp *side_http(struct http_server *s, struct http_listener_side *side)
{
	if (side->http)
		return side->http;
	side->http = evhttp_new(s->base);
	if (!side->http)
		abort();
	evhttp_set_gencb(side->http, on_request, side);
	http_conn_setup_side(s, side);
	evhttp_set_max_body_size(side->http, s->opts.max_body + HTTP_BODY_SLACK);
	evhttp_set_max_headers_size(side->http, HTTP_MAX_HEADERS);
	evhttp_set_timeout(side->http, s->opts.timeout_seconds);
	evhttp_set_default_content_type(side->http, "application/json");
	/* Every method libevent 2.1 knows reaches the router, which answers a JSON 405;
	 * left out, evhttp would answer 405 (or 501) in HTML itself. */
	evhttp_set_allowed_methods(side->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						       EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						       EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_flags(side->http, EVHTTP_SERVER_LINGERING_CLOSE);
	return side->http;
}

struct http_server *http_server_new(struct event_base *base, const struct http_route *routes,
				    size_t n_routes, void *arg, const struct http_server_opts *opts)
{
	struct http_server *s = xcalloc(1, sizeof *s);
	s->base = base;
	s->routes = routes;
	s->n_routes = n_routes;
	s->arg = arg;
	if (opts)
		s->opts = *opts;
	if (!s->opts.max_body)
		s->opts.max_body = 1u << 20;
	if (!s->opts.timeout_seconds)
		s->opts.timeout_seconds = 30;
	s->unix_side = (struct http_listener_side){.server = s, .over_unix = true};
	s->tcp_side = (struct http_listener_side){.server = s, .over_unix = false};
	http_conn_init(s);
	http_server_set_token(s, s->opts.token, s->opts.insecure);
	return s;
}

void http_server_set_token(struct http_server *s, const char *token, bool insecure)
{
	snprintf(s->token, sizeof s->token, "%s", token ? token : "");
	s->opts.insecure = insecure;
	s->opts.token = NULL;
}

struct http_server *http_server_free(struct http_server *s)
{
	if (!s)
		return NULL;
	/* evhttp_free closes the connections, whose close callbacks still need s. */
	if (s->unix_side.http)
		evhttp_free(s->unix_side.http);
	if (s->tcp_side.http)
		evhttp_free(s->tcp_side.http);
	http_conn_free_all(s);
	if (s->unix_path) {
		unlink(s->unix_path);
		free(s->unix_path);
	}
	free(s);
	return NULL;
}

void http_server_stats(const struct http_server *s, struct http_stats *ret)
{
	*ret = s->stats;
}

void http_server_write_metrics(const struct http_server *s, FILE *f)
{
	const struct http_stats *st = &s->stats;
	fprintf(f,
		"# HELP tankworld_http_requests_total Requests answered, by listener.\n# TYPE tankworld_http_requests_total counter\n"
		"tankworld_http_requests_total{class=\"2xx\"} %" PRIu64 "\n"
		"tankworld_http_requests_total{class=\"4xx\"} %" PRIu64 "\n"
		"tankworld_http_requests_total{class=\"5xx\"} %" PRIu64 "\n"
		"# HELP tankworld_http_connections Connections held now, by listener.\n# TYPE tankworld_http_connections gauge\n"
		"tankworld_http_connections %" PRIu64 "\n"
		"# HELP tankworld_http_connections_accepted_total Connections accepted after the limits were checked.\n# TYPE tankworld_http_connections_accepted_total counter\n"
		"tankworld_http_connections_accepted_total %" PRIu64 "\n"
		"# HELP tankworld_http_connections_refused_total Connections closed at once, over a limit.\n# TYPE tankworld_http_connections_refused_total counter\n"
		"tankworld_http_connections_refused_total %" PRIu64 "\n"
		"# HELP tankworld_http_connections_evicted_total Idle connections closed to make room at the limit.\n# TYPE tankworld_http_connections_evicted_total counter\n"
		"tankworld_http_connections_evicted_total %" PRIu64 "\n"
		"# HELP tankworld_http_connections_timed_out_total Connections closed for a request too slow or idle too long.\n# TYPE tankworld_http_connections_timed_out_total counter\n"
		"tankworld_http_connections_timed_out_total %" PRIu64 "\n"
		"# HELP tankworld_http_busy_total Large answers refused with 503 busy.\n# TYPE tankworld_http_busy_total counter\n"
		"tankworld_http_busy_total %" PRIu64 "\n"
		"# HELP tankworld_http_connection_limit Connections each listener, and each client address, may hold.\n# TYPE tankworld_http_connection_limit gauge\n"
		"tankworld_http_connection_limit{listener=\"tcp\"} %d\n"
		"tankworld_http_connection_limit{listener=\"unix\"} %d\n"
		"tankworld_http_connection_limit{listener=\"tcp_per_address\"} %d\n",
		st->status_2xx, st->status_4xx, st->status_5xx, st->conns_open, st->conns_accepted,
		st->conns_refused, st->conns_evicted, st->conns_timed_out, st->busy,
		st->conns_limit_tcp, st->conns_limit_unix, st->conns_limit_per_address);
}

void http_reply_metrics(struct http_ctx *ctx, http_metrics_fn write, void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	write(arg, f);
	http_server_write_metrics(ctx->server, f);
	fclose(f);
	http_reply_text(ctx->req, 200, "text/plain; version=0.0.4", buf, len);
	free(buf);
}

int http_server_listen_unix(struct http_server *s, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path)
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	/* A stale socket from a killed daemon would make bind fail; a live one we must not
	 * steal, so probe it first. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
			close(probe);
			return -EADDRINUSE;
		}
		close(probe);
	}
	unlink(path);
	mode_t old = umask(0117);
	struct evconnlistener *lev = evconnlistener_new_bind(
		s->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, HTTP_BACKLOG,
		(struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (!lev)
		return -errno ? -errno : -EIO;
	evconnlistener_set_error_cb(lev, on_accept_error);
	if (!evhttp_bind_listener(side_http(s, &s->unix_side), lev)) {
		evconnlistener_free(lev);
		return -EIO;
	}
	http_conn_add_listener(&s->unix_side, lev);
	free(s->unix_path);
	s->unix_path = strdup(path);
	return 0;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static int check_exposure(struct http_server *s, const struct sockaddr *sa)
{
	if (addr_is_loopback(sa) || s->token[0] || s->opts.insecure)
		return 0;
	return -EPERM;
}

bool http_busy(struct http_ctx *ctx)
{
	struct http_server *s = ctx->server;
	size_t unsent = http_conn_unsent(s);
	if (unsent < s->opts.max_unsent)
		return false;
	http_reply_busy(ctx,
			"%zu MB of answers are still waiting for their clients to read them "
			"(max_unsent_mb): try again shortly",
			unsent >> 20);
	return true;
}

void http_reply_busy(struct http_ctx *ctx, const char *fmt, ...)
{
	ctx->server->stats.busy++;
	evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "1");
	va_list ap;
	va_start(ap, fmt);
	json_object *o = error_json("busy", fmt, ap);
	va_end(ap);
	http_reply_json(ctx->req, 503, o);
}

/* The addresses a listener on host:port binds (the first is used); NULL when host does
 * not resolve. */
static struct addrinfo *listen_addrs(const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return NULL;
	return res;
}

bool http_host_is_loopback(const char *host)
{
	struct addrinfo *res = listen_addrs(host, 1);
	if (!res)
		return false;
	bool lo = addr_is_loopback(res->ai_addr);
	freeaddrinfo(res);
	return lo;
}

int http_server_listen_tcp(struct http_server *s, const char *host, int port, int *ret_port)
{
	struct addrinfo *res = listen_addrs(host, port);
	if (!res)
		return -EADDRNOTAVAIL;
	int r = check_exposure(s, res->ai_addr);
	if (r < 0) {
		freeaddrinfo(res);
		return r;
	}
	struct evconnlistener *lev = evconnlistener_new_bind(
		s->base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, HTTP_BACKLOG,
		res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (!lev)
		return -errno ? -errno : -EIO;
	evconnlistener_set_error_cb(lev, on_accept_error);
	if (ret_port) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss, &sl);
		*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	}
	if (!evhttp_bind_listener(side_http(s, &s->tcp_side), lev)) {
		evconnlistener_free(lev);
		return -EIO;
	}
	http_conn_add_listener(&s->tcp_side, lev);
	return 0;
}

const char *http_server_adopted_unix(const struct http_server *s)
{
	return s->adopted_unix;
}

int http_server_adopt_systemd(struct http_server *s, int *ret_tcp_port)
{
	int n = sd_listen_fds(1);
	if (n <= 0)
		return n;
	if (ret_tcp_port)
		*ret_tcp_port = 0;
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
			return -errno;
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		bool is_unix = ss.ss_family == AF_UNIX;
		if (is_unix && !s->adopted_unix[0] && sl > offsetof(struct sockaddr_un, sun_path))
			snprintf(s->adopted_unix, sizeof s->adopted_unix, "%.*s",
				 (int)(sl - offsetof(struct sockaddr_un, sun_path)),
				 ((struct sockaddr_un *)&ss)->sun_path);
		if (!is_unix) {
			int r = check_exposure(s, (struct sockaddr *)&ss);
			if (r < 0)
				return r;
			if (ret_tcp_port && !*ret_tcp_port)
				*ret_tcp_port = ntohs(
					ss.ss_family == AF_INET6
						? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
		}
		struct http_listener_side *side = is_unix ? &s->unix_side : &s->tcp_side;
		struct evhttp_bound_socket *b = evhttp_accept_socket_with_handle(side_http(s, side),
										 fd);
		if (!b)
			return -EIO;
		evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(b), on_accept_error);
		http_conn_add_listener(side, evhttp_bound_socket_get_listener(b));
	}
	return n;
}
