/* Outgoing HTTP for every daemon: libcurl's multi interface driven by libevent, so
 * no request ever blocks the event loop. One multi handle per daemon keeps the
 * connection cache (keep-alive reuse) for its lifetime. Requests go over TCP or over
 * a Unix socket (unix_path), with timeouts and optional retries with backoff on
 * transport errors (never on an HTTP answer: the caller decides about those). */
#ifndef TW_FETCH_H
#define TW_FETCH_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct fetch;

/* The header a relay adds for a caller without the token (see untrusted_caller). Over a
 * Unix socket it makes the daemon answer as to such a caller; it can only lower trust,
 * and only processes that may use the socket can send it. */
#define HTTP_UNTRUSTED_CALLER "Tankworld-Caller"

struct fetch_response {
	long status;	  /* HTTP status, 0 when no answer arrived */
	const char *body; /* NUL-terminated, may be "" */
	size_t len;
	int transport_error; /* 0, or the CURLcode of the last attempt */
	const char *error;   /* human text when status == 0 */
	bool too_large;	     /* status 0 because the answer passed max_response */
	double seconds;	     /* total time of the last attempt */
	/* The answer's Allow and Retry-After headers, NULL when absent (a relay passes them
	 * on with a 405 or a 503). */
	const char *allow, *retry_after;
	struct fetch_job *job; /* for fetch_take_body */
};
/* The answer's body, which the caller then owns (malloc'd, NUL-terminated, *len bytes
 * before the NUL): called from the request's callback, so that a large answer is passed
 * on without being copied on the loop. At most once: r->body must not be read afterwards. */
char *fetch_take_body(const struct fetch_response *r, size_t *len);

typedef void (*fetch_cb)(const struct fetch_response *r, void *arg);
/* A streaming answer (etcd's watch): called on the loop as bytes arrive with all that is
 * buffered and not consumed yet; returns how many leading bytes it consumed (the rest
 * is kept and handed again with what follows). Return (size_t)-1 to abort the request
 * (its callback then reports a transport error). */
typedef size_t (*fetch_data_cb)(const char *data, size_t len, long status, void *arg);

struct fetch_request {
	const char *method;    /* "GET" when NULL */
	const char *url;       /* http://host:port/path, or http://localhost/path with unix_path */
	const char *unix_path; /* NULL for TCP */
	const char *body;      /* JSON, may be NULL */
	size_t body_len;
	const char *token;	 /* sends Authorization: Bearer when non-empty */
	long timeout_ms;	 /* whole request; default 10000 */
	long connect_timeout_ms; /* default 3000 */
	int retries;		 /* extra attempts on transport errors */
	long backoff_ms;	 /* first retry delay, doubled each time; default 200 */
	size_t max_response;	 /* default 4 MiB; larger answers fail */
	fetch_data_cb on_data;	 /* streaming: see above; max_response bounds the unconsumed */
	bool no_timeout;	 /* streaming: no whole-request timeout (connect timeout kept) */
	/* A relay's request for a caller without the token: sent with the header that
	 * makes the sibling answer over its Unix socket as to such a caller (http.h). */
	bool untrusted_caller;
};

struct fetch *fetch_new(struct event_base *base);
/* Cancels requests still running without calling their callbacks. */
struct fetch *fetch_free(struct fetch *f);
/* Starts a request; cb runs exactly once, later, on the loop (never from inside
 * fetch_start). Returns 0 or -errno. */
int fetch_start(struct fetch *f, const struct fetch_request *req, fetch_cb cb, void *arg);
/* Cancels every request whose callback argument is arg, without calling back. */
void fetch_cancel_arg(struct fetch *f, void *arg);
/* Requests in flight. */
size_t fetch_pending(const struct fetch *f);

#endif
