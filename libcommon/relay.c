/* The relay to a sibling daemon (relay.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"
#include "xalloc.h"

#define RELAY_URL_MAX 2048

struct relay {
	struct fetch *fetch;
	struct relay_route *routes;
	size_t n;
	struct relay_opts opts;
};

struct relay_call {
	struct http_deferred *d;
};

struct relay *relay_new(struct fetch *f, const struct relay_route *routes, size_t n,
			const struct relay_opts *opts)
{
	struct relay *r = xcalloc(1, sizeof *r);
	r->routes = xcalloc(n ? n : 1, sizeof *routes);
	memcpy(r->routes, routes, n * sizeof *routes);
	r->n = n;
	r->fetch = f;
	if (opts)
		r->opts = *opts;
	if (!r->opts.timeout_ms)
		r->opts.timeout_ms = 5000;
	if (!r->opts.max_response)
		r->opts.max_response = 4u << 20;
	return r;
}

struct relay *relay_free(struct relay *r)
{
	if (r) {
		free(r->routes);
		free(r);
	}
	return NULL;
}

/* path is prefix or lies under it; a "{name}" segment of the prefix matches any one
 * non-empty segment ("/api/tanks/{id}/transfer-stats"). */
static bool under(const char *prefix, const char *path)
{
	while (*prefix) {
		if (*prefix != *path)
			return false;
		if (*prefix == '/' && prefix[1] == '{') {
			const char *end = strchr(prefix, '}');
			size_t seg = strcspn(path + 1, "/");
			if (!end || seg == 0)
				return false;
			prefix = end + 1;
			path += 1 + seg;
			continue;
		}
		prefix++;
		path++;
	}
	return *path == '\0' || *path == '/';
}

const struct relay_route *relay_match(const struct relay *r, int method, const char *path)
{
	for (size_t i = 0; i < r->n; i++)
		if (under(r->routes[i].prefix, path) && (r->routes[i].methods & method))
			return &r->routes[i];
	return NULL;
}

/* Unreserved URL characters, '/', '%' escapes, and in the query '=', '&', ',', '+', ':'.
 * The path may have escapes because connection ids hold '>' ("<src>-><dst>", sent as
 * %3E), and '>' itself, which the siblings take unescaped too (it is passed on as %3E);
 * an escaped '/' or '.' could hide a segment, so those are refused. */
static bool safe(const char *s, bool query)
{
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return false;
			if (!query && (!strncasecmp(p, "%2f", 3) || !strncasecmp(p, "%2e", 3) ||
				       !strncasecmp(p, "%5c", 3)))
				return false;
			p += 2;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' ||
			  c == ':' || (!query && (c == '/' || c == '>')) ||
			  (query && (c == '=' || c == '&' || c == ',' || c == '+'));
		if (!ok)
			return false;
	}
	if (query)
		return true;
	/* No empty, "." or ".." segment. */
	for (const char *p = s; *p;) {
		if (*p != '/')
			return false;
		p++;
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

/* A sibling's header passed on as it is, when it has one that is printable ASCII of a
 * sane length. */
static void pass_header(struct evhttp_request *req, const char *name, const char *v)
{
	if (!v)
		return;
	for (size_t n = 0; v[n]; n++)
		if (n >= 256 || v[n] < 0x20 || v[n] > 0x7e)
			return;
	evhttp_add_header(evhttp_request_get_output_headers(req), name, v);
}

static bool put(char *url, size_t size, size_t *n, const char *s, size_t len)
{
	if (*n + len >= size)
		return false;
	memcpy(url + *n, s, len);
	*n += len;
	url[*n] = '\0';
	return true;
}

/* http://localhost<path>[?<query>] with '>' written %3E (libcurl sends what it is given,
 * and a URL may not hold '>'); false when it does not fit. */
static bool relay_url(char *url, size_t size, const char *path, const char *query)
{
	size_t n = 0;
	if (!put(url, size, &n, "http://localhost", 16))
		return false;
	for (const char *p = path; *p; p++)
		if (!(*p == '>' ? put(url, size, &n, "%3E", 3) : put(url, size, &n, p, 1)))
			return false;
	return !query || (put(url, size, &n, "?", 1) && put(url, size, &n, query, strlen(query)));
}

static void on_answer(const struct fetch_response *resp, void *arg)
{
	struct relay_call *c = arg;
	struct evhttp_request *req = http_deferred_request(c->d);
	if (req) {
		if (resp->status > 0) {
			pass_header(req, "Allow", resp->allow);
			pass_header(req, "Retry-After", resp->retry_after);
			/* Taken, not copied: up to the relay's cap of megabytes, which copied
			 * into fresh buffer pages held the hub's loop about 14 ms. */
			size_t len;
			char *body = fetch_take_body(resp, &len);
			http_reply_taken(req, (int)resp->status, "application/json", body, len);
		} else if (resp->too_large) {
			/* It answered: saying it cannot be reached sent people looking for
			 * a dead daemon. */
			http_reply_error(req, 502, "answer_too_large",
					 "the local daemon's answer is too large to relay (%s); ask "
					 "for less",
					 resp->error);
		} else if (resp->transport_error == 28) { /* CURLE_OPERATION_TIMEDOUT */
			http_reply_error(req, 504, "sibling_timeout",
					 "the local daemon did not answer in time");
		} else {
			http_reply_error(req, 502, "sibling_unreachable",
					 "the local daemon cannot be reached: %s",
					 resp->error ? resp->error : "no answer");
		}
	}
	http_deferred_free(c->d);
	free(c);
}

void relay_forward(struct relay *r, struct http_ctx *ctx)
{
	struct evhttp_request *req = ctx->req;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	int method = (int)evhttp_request_get_command(req);
	if (!path || !safe(path, false) || (query && !safe(query, true))) {
		http_reply_error(req, 400, "invalid_path",
				 "the path or query has characters the "
				 "relay does not pass on");
		return;
	}
	const struct relay_route *rt = relay_match(r, method, path);
	if (!rt) {
		bool known = false;
		for (size_t i = 0; i < r->n; i++)
			known |= under(r->routes[i].prefix, path);
		if (known)
			http_reply_error(req, 405, "method_not_allowed",
					 "this method is not relayed");
		else
			http_reply_error(req, 404, "not_found", "no such endpoint: %s", path);
		return;
	}
	char url[RELAY_URL_MAX];
	if (!relay_url(url, sizeof url, path, query)) {
		http_reply_error(req, 414, "uri_too_long", "the request URI is too long to relay");
		return;
	}
	const char *methods[] = {"GET",	    "POST",  "HEAD",	"PUT",	"DELETE",
				 "OPTIONS", "TRACE", "CONNECT", "PATCH"};
	int mi = 0;
	while (mi < 8 && !(method & (1 << mi)))
		mi++;
	struct fetch_request fr = {
		/* HEAD goes as a GET: the answer's head is sent here, without its body
		 * (http_reply_text), and every sibling route that takes GET takes HEAD. */
		.method = method == EVHTTP_REQ_HEAD ? "GET" : methods[mi],
		.url = url,
		.unix_path = rt->socket,
		.timeout_ms = r->opts.timeout_ms,
		.connect_timeout_ms = r->opts.timeout_ms,
		.max_response = r->opts.max_response,
	};
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
		fr.body = http_body(ctx, &fr.body_len);
	/* Over the sibling's Unix socket every request is trusted: a caller here without
	 * the token must not read through it what the sibling's own TCP listener would not
	 * show it (a private tank's transfers). */
	fr.untrusted_caller = !ctx->trusted;
	const char *auth = NULL;
	if (rt->pass_auth) {
		auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
		if (auth && strncmp(auth, "Bearer ", 7) == 0)
			fr.token = auth + 7;
	}
	struct relay_call *c = xcalloc(1, sizeof *c);
	c->d = http_defer(ctx);
	if (fetch_start(r->fetch, &fr, on_answer, c) < 0) {
		http_deferred_free(c->d);
		free(c);
		http_reply_error(req, 502, "sibling_unreachable", "cannot start the request");
	}
}
