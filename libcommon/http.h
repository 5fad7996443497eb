/* The HTTP server side shared by the three daemons: evhttp on a Unix socket and a
 * TCP address (or on descriptors handed over by systemd), a router with path
 * parameters, JSON replies and errors, body limits and the cluster token.
 * This header and api.c files are the only places that see evhttp. */
#ifndef TW_HTTP_H
#define TW_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HTTP_MAX_PARAMS 4

struct http_params {
	/* By value, names too: a request held for later (simd's gate) keeps its copy while
	 * other requests are routed. Names in a static buffer were overwritten by the next
	 * request's, and a held move looked for its tank under another route's names. */
	char name[HTTP_MAX_PARAMS][32];
	char value[HTTP_MAX_PARAMS][160];
	size_t n;
};

/* What the handler knows about one request besides evhttp's own view. */
struct http_ctx {
	struct evhttp_request *req;
	struct http_params params;
	bool over_unix; /* arrived on the Unix socket (trusted by file permissions) */
	bool trusted;	/* over_unix, or TCP with the cluster token: may see private things */
	bool open_tcp;	/* TCP admitted without a token (insecure = yes): see route_admits */
	void *arg;	/* the daemon's state, from http_server_new */
	struct http_server *server;
	/* The body once parsed as a JSON object, or NULL: one parse serves every reader of
	 * the request (simd's gate reads a tank id in it before the handler runs). The ctx
	 * holds a reference, dropped once the request's handler is done; a held copy of the
	 * ctx takes its own. */
	json_object *body;
};

typedef void (*http_handler)(struct http_ctx *ctx);

enum {
	ROUTE_UNIX_ONLY = 1 << 0, /* protocol internals: 404 over TCP */
	ROUTE_NO_AUTH = 1 << 1,	  /* a mutation that needs no token (none so far) */
	ROUTE_TRUSTED = 1 << 2,	  /* a GET that needs the token over TCP too (/metrics) */
	ROUTE_CORS = 1 << 3,	  /* a read-only GET any web page may call (CORS) */
};

struct http_route {
	int methods;	     /* EVHTTP_REQ_GET | EVHTTP_REQ_POST ... */
	const char *pattern; /* "/api/tanks/{id}/fish/{fish_id}" */
	http_handler handler;
	unsigned flags;
};

struct http_server_opts {
	size_t max_body;     /* JSON 413 above this; default 1 MiB */
	int timeout_seconds; /* write timeout (and libevent's read inactivity), default 30 */
	const char *token;   /* cluster token for TCP mutations; NULL or "" = none */
	bool insecure;	     /* TCP mutations and non-loopback TCP without a token */
	bool cors_read_only; /* every GET route open to TCP and not ROUTE_TRUSTED is CORS */
	/* Connection limits (see http-conn.c); 0 takes the defaults in brackets. */
	int max_connections;	/* per listener [4096], clamped by RLIMIT_NOFILE */
	int max_per_address;	/* TCP connections per client address [256] */
	double request_timeout; /* headers + body of one request, absolute [10 s] */
	double idle_timeout;	/* keep-alive between requests [60 s] */
	size_t max_unsent;	/* bytes of unread answers before http_busy says so [256 MiB] */
};

struct http_server;

struct http_server *http_server_new(struct event_base *base, const struct http_route *routes,
				    size_t n_routes, void *arg,
				    const struct http_server_opts *opts);
struct http_server *http_server_free(struct http_server *s);
/* Replace the token (SIGHUP reload). */
void http_server_set_token(struct http_server *s, const char *token, bool insecure);
/* New connection limits and timeouts (a reload): max_connections, max_per_address,
 * max_unsent, request_timeout and idle_timeout of o. */
void http_server_set_limits(struct http_server *s, const struct http_server_opts *o);

/* Bind a Unix socket (unlinks a stale one, mode 0660). 0 or -errno. */
int http_server_listen_unix(struct http_server *s, const char *path);
/* Bind TCP; *ret_port gets the bound port (useful with port 0). Refuses (-EPERM) a
 * non-loopback address without a token unless insecure. */
int http_server_listen_tcp(struct http_server *s, const char *host, int port, int *ret_port);
/* Before building a large answer: true, having answered 503 busy (Retry-After: 1),
 * when the answers clients have not read yet, over all connections, reach max_unsent.
 * Clients that ask and never read otherwise made a daemon hold an answer each: 30 of
 * them held discoveryd's 40 MB listing of 100,000 servers, 1.3 GB. */
bool http_busy(struct http_ctx *ctx);
/* The same 503 busy, counted alike, for a daemon's own reason (a bound of its own). */
void http_reply_busy(struct http_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Whether http_server_listen_tcp would take host as loopback (its first address, as
 * there); false for a host that does not resolve. For --check-config. */
bool http_host_is_loopback(const char *host);
/* Adopt descriptors from sd_listen_fds(). Returns how many, or -errno. *ret_tcp_port is
 * set to the first TCP port found (0 if none). */
/* The path of the first Unix socket http_server_adopt_systemd took, or "". */
const char *http_server_adopted_unix(const struct http_server *s);
int http_server_adopt_systemd(struct http_server *s, int *ret_tcp_port);

/* Requests served, by status class, and connections, for /metrics. */
struct http_stats {
	uint64_t requests;
	uint64_t status_2xx, status_4xx, status_5xx;
	uint64_t conns_open;	  /* gauge: both listeners */
	uint64_t conns_accepted;  /* kept after the limits were checked */
	uint64_t conns_refused;	  /* over a limit: closed at once */
	uint64_t conns_evicted;	  /* oldest idle ones closed to make room at the total limit */
	uint64_t conns_timed_out; /* a request too slow, or idle too long */
	uint64_t busy;		  /* large answers refused 503 (http_busy) */
	int conns_limit_tcp, conns_limit_unix, conns_limit_per_address;
};
void http_server_stats(const struct http_server *s, struct http_stats *ret);
/* The tankworld_http_* lines every daemon's /metrics ends with. */
void http_server_write_metrics(const struct http_server *s, FILE *f);

/* Replies. json is consumed (its reference dropped). */
void http_reply_json(struct evhttp_request *req, int status, json_object *json);
/* 401 for a client without the cluster token; says whether one was sent. what: "this
 * request needs", ... */
void http_reply_unauthorized(struct http_ctx *ctx, const char *what);
void http_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
/* The body http_reply_error sends, for an error answered later (a struct http_held). */
json_object *http_error_json(const char *code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void http_reply_text(struct evhttp_request *req, int status, const char *content_type,
		     const char *text, size_t len);
/* The same for a malloc'd text, which the reply takes over and sends without copying. */
void http_reply_taken(struct evhttp_request *req, int status, const char *content_type, char *text,
		      size_t len);
struct http_piece {
	char *text; /* malloc'd; taken */
	size_t len;
};
/* The same with the body in n pieces, each taken: an answer written a slice at a time
 * (discoveryd's whole list) in one growing buffer paid a copy into fresh pages at every
 * doubling, 60-200 ms of the loop at 16-32 MB. */
void http_reply_pieces(struct evhttp_request *req, int status, const char *content_type,
		       struct http_piece *p, size_t n);
/* A 200 with a file's contents (fd, which the reply takes, of size bytes), sent from the
 * file; HEAD gets its headers and Content-Length only. */
void http_reply_file(struct evhttp_request *req, const char *content_type, int fd, size_t size);

/* The request body as a JSON object, validated for syntax and size. On error replies
 * 400/413 itself and returns NULL. */
json_object *http_body_object(struct http_ctx *ctx);
/* The body as http_body_object gives it, or NULL, without replying; borrowed from ctx. */
json_object *http_body_peek(struct http_ctx *ctx);
/* The body, or NULL if there is none; *len set. Points into evhttp's buffer. */
const char *http_body(struct http_ctx *ctx, size_t *len);
/* A decoded query parameter (malloc'd, free it), or NULL when absent. Returns -EINVAL
 * (and replies 400) when the query string itself is malformed. */
int http_query(struct http_ctx *ctx, const char *key, char **ret);
/* Query helpers with validation and a 400 reply on error: 1 present, 0 absent, <0 error. */
int http_query_bool(struct http_ctx *ctx, const char *key, bool *ret);
int http_query_int(struct http_ctx *ctx, const char *key, long min, long max, long *ret);
/* A "limit"-style count: absent leaves *ret; a value that is not a whole number, or is
 * below 1, is a 400 (returns -EINVAL); above max it is clamped to max, as most APIs do,
 * so a client asking for "everything" gets the most there is. Callers echo the applied
 * value in their answer. 1 when present. */
int http_query_limit(struct http_ctx *ctx, const char *key, long max, long *ret);
const char *http_param(const struct http_ctx *ctx, const char *name);

/* What every daemon's GET /health starts with: {"status":"healthy", "service",
 * "server_id", "version", "uptime_seconds"}; the daemon adds its own fields. */
json_object *http_health_json(const char *service, const char *server_id, double uptime_seconds);
/* GET /metrics: the Prometheus text format, with what write prints first and then this
 * server's own HTTP counters. */
typedef void (*http_metrics_fn)(void *arg, FILE *f);
void http_reply_metrics(struct http_ctx *ctx, http_metrics_fn write, void *arg);
/* GET /health without a JSON tree, so it stays the cheapest answer a daemon gives:
 * the fields above, then extra (",\"key\":value..." already JSON, or ""). */
void http_reply_health(struct evhttp_request *req, const char *service, const char *server_id,
		       double uptime_seconds, const char *extra);

/* CORS: let any web page read the answer (read-only GETs only). */
void http_cors_headers(struct evhttp_request *req);
/* The OPTIONS preflight for a CORS route: 204 with the allowed methods and headers. */
void http_cors_preflight(struct evhttp_request *req);

/* The router's matching, exposed for unit tests: true when path fits pattern; then
 * p holds the {parameter} values (names filled by http_route_param_names). */
bool http_route_match(const char *pattern, const char *path, struct http_params *p);
void http_route_param_names(const char *pattern, struct http_params *p);

/* A handler that keeps its request open (a stream) learns when the client goes: fn(arg)
 * runs as evhttp closes evcon (one of s's connections), before the server's own
 * accounting of it, which a handler must never replace with
 * evhttp_connection_set_closecb: the connection would then count against its address
 * for good. fn NULL stops watching. -ENOTCONN for a connection the server does not
 * track (none after the accept check). */
int http_watch_close(struct http_server *s, struct evhttp_connection *evcon, void (*fn)(void *arg),
		     void *arg);

/* Deferred replies: an api handler that waits on an outgoing call holds the request.
 * If the client goes away meanwhile, evhttp frees the request; the guard tells the
 * late completion not to touch it. */
struct http_deferred;
struct http_deferred *http_defer(struct http_ctx *ctx);
/* NULL if the client disconnected. Frees the guard either way when done is true. */
struct evhttp_request *http_deferred_request(struct http_deferred *d);
void http_deferred_free(struct http_deferred *d);
/* Whether the client still waits (long work for one that went away may stop). */
bool http_deferred_waiting(const struct http_deferred *d);
/* Give up a deferred request unanswered: frees d and closes the connection. */
void http_deferred_abort(struct http_deferred *d);
/* Answer a deferred request with body (taken) if its client is still there, else drop
 * the body; frees d either way. */
void http_deferred_reply_json(struct http_deferred *d, int status, json_object *body);
/* A deferred reply held until a write is done (an answer is sent only once what it
 * acknowledges is on disk): the status, and a body the caller may set later. */
struct http_held {
	struct http_deferred *d;
	int status;
	json_object *body; /* taken when sent */
};
struct http_held *http_held_new(struct http_deferred *d, int status, json_object *body);
/* Send it and free it: a write's done-callback (arg is the struct http_held). */
void http_held_send(void *held);
/* Drop it unsent (the write was refused and the caller answers otherwise). */
void http_held_cancel(struct http_held *h);

#endif
