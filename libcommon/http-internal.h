/* What http.c (routing, replies) and http-conn.c (connection limits and timeouts)
 * share about one server. Nothing outside these two files includes it. */
#ifndef TW_HTTP_INTERNAL_H
#define TW_HTTP_INTERNAL_H

#include <event2/listener.h>
#include <sys/queue.h>

#include "http.h"

#define HTTP_SIDE_LISTENERS 8
/* evhttp itself answers 413 (in HTML) and drops the connection above opts.max_body and
 * this much more; routes answer a JSON 413 between the two. evhttp reads the whole body
 * before any handler sees the request, token or none: at a fixed 8 MiB, 256 idle
 * connections of one address that never finished their bodies held 2 GB of a
 * discoveryd whose own limit is 64 KiB (an adversarial probe). */
#define HTTP_BODY_SLACK (64u << 10)
#define HTTP_MAX_HEADERS (16u << 10)

struct http_conn;

struct http_listener_side {
	struct http_server *server;
	bool over_unix;
	struct evhttp *http;
	struct evconnlistener *listeners[HTTP_SIDE_LISTENERS];
	size_t n_listeners;
	size_t open, limit; /* connections held, and how many this side may hold */
	bool paused;	    /* listeners disabled while a burst of accepts is checked */
};

struct http_addr_count;

struct http_server {
	struct event_base *base;
	const struct http_route *routes;
	size_t n_routes;
	void *arg;
	struct http_server_opts opts;
	char token[256];
	struct http_listener_side unix_side, tcp_side;
	struct http_stats stats;
	char *unix_path;	/* bound by us, so unlinked by us */
	char adopted_unix[108]; /* the path of the first Unix socket systemd passed, or "" */

	/* http-conn.c */
	struct http_conn **by_fd; /* open connections by descriptor */
	size_t by_fd_len;
	TAILQ_HEAD(, http_conn) conns;
	struct bufferevent **pending; /* accepted, not yet checked against the limits */
	struct http_listener_side **pending_side;
	size_t n_pending, cap_pending;
	/* The connection whose request is being handed to its handler: the checks run then
	 * (http_conn_request_started) must not free it under the handler. */
	struct evhttp_connection *dispatching;
	unsigned closed_since_trim; /* connections closed since malloc_trim */
	struct event *check_ev, *sweep_ev;
	double sweep_period; /* of sweep_ev, seconds */
	struct http_addr_count **addr_buckets;
};

/* http-conn.c */
void http_conn_init(struct http_server *s);
void http_conn_setup_side(struct http_server *s, struct http_listener_side *side);
void http_conn_add_listener(struct http_listener_side *side, struct evconnlistener *lev);
void http_conn_request_started(struct http_server *s, struct evhttp_request *req);
void http_conn_request_done(struct http_server *s, struct evhttp_request *req);
/* Bytes of answers written to connections and not yet sent (their clients not reading). */
size_t http_conn_unsent(struct http_server *s);
void http_conn_free_all(struct http_server *s);
/* The deferred-reply guard's hook: called with d when the connection closes. */
struct http_deferred;
bool http_conn_watch(struct http_server *s, struct evhttp_request *req, struct http_deferred *d);
void http_conn_unwatch(struct http_server *s, struct evhttp_connection *evcon,
		       struct http_deferred *d);
void http_deferred_gone(struct http_deferred *d);

#endif
