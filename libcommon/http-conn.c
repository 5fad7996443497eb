/* Connection limits and timeouts for the HTTP servers (issue 9, item 9).
 *
 * libevent 2.1's evhttp accepts every connection it can and holds it until its own
 * inactivity timeout, which a client dripping one byte at a time keeps resetting. A
 * flood of idle connections then uses up the descriptors, and the next state write
 * fails with EMFILE. evhttp 2.1 offers no hook at accept time, so this file watches
 * from the side:
 *
 * - evhttp_set_bevcb hands every new connection's bufferevent to us before evhttp
 *   sets its descriptor. One event, activated there, checks the batch right after the
 *   accept callback returns: over the side's total or the per-address limit, the
 *   connection is freed at once (descriptor closed) and counted. A burst of more than
 *   HTTP_ACCEPT_BURST accepts pauses the listeners until the check has run, so the
 *   descriptors in flight stay bounded.
 * - The limits come from RLIMIT_NOFILE: a reserve stays free for state files, the
 *   journal and outgoing calls, and the Unix socket has a share of its own, so a TCP
 *   flood can starve neither.
 * - A sweep closes a connection whose request (headers and body) has not fully
 *   arrived request_timeout after it began, answering a JSON 408, and one idle
 *   between requests for idle_timeout. The deadlines are absolute: trickling bytes
 *   does not move them. */
#include "config.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-internal.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

#define HTTP_ACCEPT_BURST 32
/* Connections closed before the sweep (at most once a second) returns freed memory to
 * the system: 0.2-0.5 ms with a 20,000-fish tank. */
#define HTTP_TRIM_AFTER 64
#define HTTP_ADDR_BUCKETS 1024
/* Descriptors kept free for everything that is not an incoming connection: state
 * files, the journal, outgoing calls, plus the accepts one burst may have in flight
 * on each listener. */
#define HTTP_FD_RESERVE (64 + 2 * (HTTP_ACCEPT_BURST + 8))

struct http_addr_count {
	unsigned char addr[16];
	size_t n;
	struct http_addr_count *next;
};

struct http_conn {
	struct http_server *server;
	struct http_listener_side *side;
	struct evhttp_connection *evcon;
	int fd;
	bool busy;    /* a request is with the handler, or its reply is going out */
	bool between; /* idle after a reply (idle_timeout), else reading one (request_timeout) */
	unsigned char addr[16];
	bool has_addr; /* TCP: counted per address */
	double deadline;
	struct evbuffer_cb_entry *input_cb; /* on_input */
	struct http_deferred *deferred;
	void (*on_close)(void *arg); /* http_watch_close */
	void *on_close_arg;
	TAILQ_ENTRY(http_conn) link;
};

struct http_deferred {
	struct evhttp_request *req;
	struct http_conn *conn;
	struct evhttp_connection *untracked;
	bool gone;
};

static unsigned addr_hash(const unsigned char *a)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % HTTP_ADDR_BUCKETS;
}

static struct http_addr_count **addr_slot(struct http_server *s, const unsigned char *a)
{
	struct http_addr_count **p = &s->addr_buckets[addr_hash(a)];
	while (*p && memcmp((*p)->addr, a, 16) != 0)
		p = &(*p)->next;
	return p;
}

static size_t addr_count(struct http_server *s, const unsigned char *a)
{
	struct http_addr_count **p = addr_slot(s, a);
	return *p ? (*p)->n : 0;
}

static void addr_add(struct http_server *s, const unsigned char *a, int delta)
{
	struct http_addr_count **p = addr_slot(s, a);
	if (!*p) {
		if (delta < 0)
			return;
		*p = xcalloc(1, sizeof **p);
		memcpy((*p)->addr, a, 16);
	}
	(*p)->n += (size_t)(long)delta;
	if ((*p)->n == 0) {
		struct http_addr_count *dead = *p;
		*p = dead->next;
		free(dead);
	}
}

/* The peer's address as 16 bytes (IPv4 mapped into IPv6), so both count alike. */
static bool peer_addr(int fd, unsigned char out[16])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return false;
	memset(out, 0, 16);
	if (ss.ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		return true;
	}
	if (ss.ss_family == AF_INET6) {
		memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		return true;
	}
	return false;
}

static void side_pause(struct http_listener_side *side, bool pause)
{
	if (side->paused == pause)
		return;
	side->paused = pause;
	for (size_t i = 0; i < side->n_listeners; i++) {
		if (pause)
			evconnlistener_disable(side->listeners[i]);
		else
			evconnlistener_enable(side->listeners[i]);
	}
}

/* The evhttp connection's input, which evhttp_connection_free frees. */
static struct evbuffer *conn_input(struct http_conn *c)
{
	return bufferevent_get_input(evhttp_connection_get_bufferevent(c->evcon));
}

static void input_cb_remove(struct http_conn *c)
{
	if (c->input_cb)
		evbuffer_remove_cb_entry(conn_input(c), c->input_cb);
	c->input_cb = NULL;
}

/* The first bytes after an answer begin the next request: request_timeout counts from
 * them. Without this the second request of a keep-alive connection could drip for the
 * whole idle_timeout and was closed without its 408 (an adversarial probe). */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	if (info->n_added == 0)
		return;
	struct http_conn *c = arg;
	if (c->between && c->deadline > 0) { /* 0: a CONNECT's, closed by the next sweep */
		c->between = false;
		c->deadline = now_mono() + c->server->opts.request_timeout;
	}
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->server;
	input_cb_remove(c);
	void (*fn)(void *) = c->on_close;
	c->on_close = NULL;
	if (fn)
		fn(c->on_close_arg);
	if (c->deferred)
		http_deferred_gone(c->deferred);
	if (c->has_addr)
		addr_add(s, c->addr, -1);
	c->side->open--;
	s->stats.conns_open--;
	if (c->fd >= 0 && (size_t)c->fd < s->by_fd_len && s->by_fd[c->fd] == c)
		s->by_fd[c->fd] = NULL;
	TAILQ_REMOVE(&s->conns, c, link);
	free(c);
	s->closed_since_trim++;
}

static struct http_conn *conn_of(struct http_server *s, struct evhttp_connection *evcon)
{
	if (!evcon)
		return NULL;
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd < 0 || (size_t)fd >= s->by_fd_len)
		return NULL;
	struct http_conn *c = s->by_fd[fd];
	return c && c->evcon == evcon ? c : NULL;
}

static void by_fd_put(struct http_server *s, int fd, struct http_conn *c)
{
	if ((size_t)fd >= s->by_fd_len) {
		size_t n = s->by_fd_len ? s->by_fd_len : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		s->by_fd = xrealloc(s->by_fd, n * sizeof *s->by_fd);
		memset(s->by_fd + s->by_fd_len, 0, (n - s->by_fd_len) * sizeof *s->by_fd);
		s->by_fd_len = n;
	}
	s->by_fd[fd] = c;
}

/* The side is full: make room by closing an idle connection (no request with the
 * handler) of the address that holds the most, its oldest. A flood from many
 * addresses then churns its own connections, while a client with a few (a health
 * check, a request arriving slowly) keeps them; a request in progress is never cut. */
static bool evict_one(struct http_server *s, struct http_listener_side *side)
{
	const unsigned char *heavy = NULL;
	size_t most = 0;
	for (size_t i = 0; !side->over_unix && i < HTTP_ADDR_BUCKETS; i++)
		for (struct http_addr_count *a = s->addr_buckets[i]; a; a = a->next)
			if (a->n > most) {
				most = a->n;
				heavy = a->addr;
			}
	struct http_conn *c;
	TAILQ_FOREACH (c, &s->conns, link)
		if (c->side == side && !c->busy && c->evcon != s->dispatching &&
		    (!heavy || (c->has_addr && memcmp(c->addr, heavy, 16) == 0)))
			break;
	if (!c)
		return false;
	s->stats.conns_evicted++;
	evhttp_connection_free(c->evcon); /* runs on_conn_close, which frees c */
	return true;
}

/* Decide on one accepted connection: keep and watch it, or close it now. */
static void check_one(struct http_server *s, struct bufferevent *bev,
		      struct http_listener_side *side)
{
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;
	void *cbarg = NULL;
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &cbarg);
	int fd = bufferevent_getfd(bev);
	if (!cbarg || fd < 0)
		return; /* evhttp gave up on it already */
	struct evhttp_connection *evcon = cbarg;
	unsigned char addr[16];
	bool has_addr = !side->over_unix && peer_addr(fd, addr);
	bool refuse = has_addr && addr_count(s, addr) >= (size_t)s->opts.max_per_address;
	if (!refuse && side->open >= side->limit)
		refuse = !evict_one(s, side);
	/* A connection whose request is already with its handler is kept, over the limit
	 * for as long as it stays (it is idle, and so evictable, after its answer): freeing
	 * it freed the request the handler was reading (an audit crashed all three daemons
	 * so, with a full listener). */
	if (refuse && evcon == s->dispatching)
		refuse = false;
	if (refuse) {
		s->stats.conns_refused++;
		evhttp_connection_free(evcon); /* closes the descriptor */
		return;
	}
	struct http_conn *c = xcalloc(1, sizeof *c);
	c->server = s;
	c->side = side;
	c->evcon = evcon;
	c->fd = fd;
	c->has_addr = has_addr;
	if (has_addr) {
		memcpy(c->addr, addr, 16);
		addr_add(s, addr, 1);
	}
	c->deadline = now_mono() + s->opts.request_timeout;
	c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
	side->open++;
	s->stats.conns_open++;
	s->stats.conns_accepted++;
	by_fd_put(s, fd, c);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	evhttp_connection_set_closecb(evcon, on_conn_close, c);
}

static void check_pending(struct http_server *s)
{
	/* Each one is taken off the batch before its check: freeing a connection may run
	 * callbacks. In the order they came, so that past a limit the newest are refused, as
	 * documented (the batch was taken from its end: of five connections at once from an
	 * address allowed three, the second and third were closed). At most a burst or two. */
	while (s->n_pending > 0) {
		struct bufferevent *bev = s->pending[0];
		struct http_listener_side *side = s->pending_side[0];
		s->n_pending--;
		memmove(s->pending, s->pending + 1, s->n_pending * sizeof *s->pending);
		memmove(s->pending_side, s->pending_side + 1,
			s->n_pending * sizeof *s->pending_side);
		check_one(s, bev, side);
		bufferevent_decref(bev);
	}
	side_pause(&s->unix_side, false);
	side_pause(&s->tcp_side, false);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	check_pending(arg);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	struct http_listener_side *side = arg;
	struct http_server *s = side->server;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0); /* as evhttp's own */
	if (!bev)
		return NULL;
	/* The most the connection's input buffer holds before its reading pauses: one whole
	 * request, the largest evhttp accepts (it leaves a body there until all of it has
	 * come, then parses it). Without the mark, what a client sent ahead while its request
	 * was answered (pipelined requests, read for evhttp's close detection) was all kept:
	 * one connection that never read its replies had discoveryd hold 340 MB in 3 s. Past
	 * it, TCP makes the sender wait, and evhttp takes the next request from the buffer as
	 * before; a connection holds no more than one unfinished body could. */
	bufferevent_setwatermark(bev, EV_READ, 0,
				 s->opts.max_body + HTTP_BODY_SLACK + 2 * HTTP_MAX_HEADERS);
	/* Our reference keeps the bufferevent readable until the check, even if evhttp
	 * frees the connection first. */
	bufferevent_incref(bev);
	if (s->n_pending == s->cap_pending) {
		s->cap_pending = s->cap_pending ? 2 * s->cap_pending : 64;
		s->pending = xreallocarray(s->pending, s->cap_pending, sizeof *s->pending);
		s->pending_side = xreallocarray(s->pending_side, s->cap_pending,
						sizeof *s->pending_side);
	}
	s->pending[s->n_pending] = bev;
	s->pending_side[s->n_pending] = side;
	s->n_pending++;
	if (s->n_pending == 1)
		event_active(s->check_ev, EV_TIMEOUT, 1);
	if (s->n_pending >= HTTP_ACCEPT_BURST)
		side_pause(side, true);
	return bev;
}

static void send_408(struct http_server *s, int fd)
{
	char body[160], msg[400];
	int bl = snprintf(
		body, sizeof body,
		"{\"error\":\"the request did not arrive within %g s\",\"code\":\"request_timeout\"}",
		s->opts.request_timeout);
	int ml = snprintf(msg, sizeof msg,
			  "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
			  "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			  bl, body);
	/* Best effort: a peer that does not read gets nothing, the close still happens. */
	ssize_t n = send(fd, msg, (size_t)ml, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;
	double now = now_mono();
	/* What a burst of connections held (a body each, up to the limit, read in small
	 * chains) stays in malloc's arenas after they close: 500 MB in simd after 600 large
	 * unfinished bodies (an audit). Give it back to the system once such a burst is over. */
	if (s->closed_since_trim >= HTTP_TRIM_AFTER) {
		s->closed_since_trim = 0;
		double t0 = now_mono();
		malloc_trim(0);
		log_debug("memory of closed connections returned in %.2f ms",
			  (now_mono() - t0) * 1e3);
	}
	struct http_conn *c = TAILQ_FIRST(&s->conns), *next;
	for (; c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->busy || c->deadline > now)
			continue;
		s->stats.conns_timed_out++;
		if (!c->between)
			send_408(s, c->fd);
		evhttp_connection_free(c->evcon); /* runs on_conn_close, which frees c */
	}
}

static int nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 1 << 20)
		return 1 << 20;
	return (int)rl.rlim_cur;
}

/* The limits and timeouts from s->opts, with their defaults: at the start, and again
 * at a reload (http_server_set_limits). Connections open then keep going; the next
 * deadline of each, and every new connection, follows the new values. */
static void conn_limits(struct http_server *s)
{
	if (!s->opts.max_connections)
		s->opts.max_connections = 4096;
	if (!s->opts.max_per_address)
		s->opts.max_per_address = 256;
	if (!(s->opts.request_timeout > 0))
		s->opts.request_timeout = 10;
	if (!(s->opts.idle_timeout > 0))
		s->opts.idle_timeout = 60;
	if (!s->opts.max_unsent)
		s->opts.max_unsent = (size_t)256 << 20;
	/* A daemon's descriptors: the reserve, then a quarter of the rest for the Unix
	 * socket and three quarters for TCP. */
	int nofile = nofile_limit();
	int budget = nofile > 2 * HTTP_FD_RESERVE ? nofile - HTTP_FD_RESERVE : nofile / 2;
	int unix_max = budget / 4, tcp_max = budget - unix_max;
	s->unix_side.limit = (size_t)(unix_max < s->opts.max_connections ? unix_max
									 : s->opts.max_connections);
	s->tcp_side.limit = (size_t)(tcp_max < s->opts.max_connections ? tcp_max
								       : s->opts.max_connections);
	if (s->unix_side.limit < 1)
		s->unix_side.limit = 1;
	if (s->tcp_side.limit < 1)
		s->tcp_side.limit = 1;
	s->stats.conns_limit_unix = (int)s->unix_side.limit;
	s->stats.conns_limit_tcp = (int)s->tcp_side.limit;
	s->stats.conns_limit_per_address = s->opts.max_per_address;
	double period = s->opts.request_timeout < s->opts.idle_timeout ? s->opts.request_timeout
								       : s->opts.idle_timeout;
	period /= 4;
	if (period < 0.05)
		period = 0.05;
	if (period > 1)
		period = 1;
	/* Armed again only for a new period: a reload more often than it would otherwise
	 * start it over each time, and no connection would ever time out. */
	timer_every(s->sweep_ev, &s->sweep_period, period);
}

void http_conn_init(struct http_server *s)
{
	TAILQ_INIT(&s->conns);
	s->addr_buckets = xcalloc(HTTP_ADDR_BUCKETS, sizeof *s->addr_buckets);
	s->check_ev = event_new(s->base, -1, 0, on_check, s);
	s->sweep_ev = event_new(s->base, -1, EV_PERSIST, on_sweep, s);
	if (!s->check_ev || !s->sweep_ev)
		abort();
	conn_limits(s);
}

void http_server_set_limits(struct http_server *s, const struct http_server_opts *o)
{
	s->opts.max_connections = o->max_connections;
	s->opts.max_per_address = o->max_per_address;
	s->opts.max_unsent = o->max_unsent;
	s->opts.request_timeout = o->request_timeout;
	s->opts.idle_timeout = o->idle_timeout;
	conn_limits(s);
}

void http_conn_setup_side(struct http_server *s, struct http_listener_side *side)
{
	evhttp_set_bevcb(side->http, new_bev, side);
}

void http_conn_add_listener(struct http_listener_side *side, struct evconnlistener *lev)
{
	if (side->n_listeners < HTTP_SIDE_LISTENERS)
		side->listeners[side->n_listeners++] = lev;
}

void http_conn_request_started(struct http_server *s, struct evhttp_request *req)
{
	/* A request can come before its connection was checked (the check runs after the
	 * accept callback, the request may be read in the same pass): check the batch now,
	 * so it is tracked, without letting the checks free this very connection. */
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	s->dispatching = evcon;
	if (s->n_pending)
		check_pending(s);
	s->dispatching = NULL;
	struct http_conn *c = conn_of(s, evcon);
	if (c)
		c->busy = true;
}

size_t http_conn_unsent(struct http_server *s)
{
	size_t n = 0;
	struct http_conn *c;
	TAILQ_FOREACH (c, &s->conns, link)
		n += evbuffer_get_length(
			bufferevent_get_output(evhttp_connection_get_bufferevent(c->evcon)));
	return n;
}

void http_conn_request_done(struct http_server *s, struct evhttp_request *req)
{
	struct http_conn *c = conn_of(s, evhttp_request_get_connection(req));
	if (!c)
		return;
	c->busy = false;
	/* Bytes already here (pipelined) are the next request, which has begun. */
	c->between = evbuffer_get_length(conn_input(c)) == 0;
	c->deadline = now_mono() + (c->between ? s->opts.idle_timeout : s->opts.request_timeout);
	/* evhttp 2.1 keeps a CONNECT connection open whatever the answer (a tunnel): the
	 * sweep closes it instead. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT)
		c->deadline = 0;
}

void http_conn_free_all(struct http_server *s)
{
	for (size_t i = 0; i < s->n_pending; i++)
		bufferevent_decref(s->pending[i]);
	s->n_pending = 0;
	struct http_conn *c;
	while ((c = TAILQ_FIRST(&s->conns))) {
		/* Left only if evhttp freed a connection without its close callback (2.1
		 * runs it: the list is empty by now). */
		TAILQ_REMOVE(&s->conns, c, link);
		c->input_cb = NULL; /* went with the bufferevent, if evhttp freed it */
		if (c->deferred)
			http_deferred_gone(c->deferred);
		free(c);
	}
	for (size_t i = 0; i < HTTP_ADDR_BUCKETS; i++) {
		struct http_addr_count *a = s->addr_buckets[i], *n;
		for (; a; a = n) {
			n = a->next;
			free(a);
		}
	}
	free(s->addr_buckets);
	free(s->by_fd);
	free(s->pending);
	free(s->pending_side);
	if (s->check_ev)
		event_free(s->check_ev);
	if (s->sweep_ev)
		event_free(s->sweep_ev);
}

int http_watch_close(struct http_server *s, struct evhttp_connection *evcon, void (*fn)(void *arg),
		     void *arg)
{
	struct http_conn *c = conn_of(s, evcon);
	if (!c)
		return -ENOTCONN;
	c->on_close = fn;
	c->on_close_arg = arg;
	return 0;
}

/* ---- deferred replies ---------------------------------------------------------------- */

void http_deferred_gone(struct http_deferred *d)
{
	d->gone = true;
	d->req = NULL;
	if (d->conn)
		d->conn->deferred = NULL;
	d->conn = NULL;
}

static void on_untracked_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_deferred *d = arg;
	d->untracked = NULL;
	http_deferred_gone(d);
}

struct http_deferred *http_defer(struct http_ctx *ctx)
{
	struct http_deferred *d = xcalloc(1, sizeof *d);
	d->req = ctx->req;
	struct evhttp_connection *evcon = evhttp_request_get_connection(ctx->req);
	struct http_conn *c = conn_of(ctx->server, evcon);
	if (c) {
		c->deferred = d;
		d->conn = c;
	} else {
		/* Not one of ours (cannot happen after the accept check): watch directly. */
		evhttp_connection_set_closecb(evcon, on_untracked_close, d);
		d->untracked = evcon;
	}
	return d;
}

struct evhttp_request *http_deferred_request(struct http_deferred *d)
{
	if (d->gone)
		return NULL;
	if (d->conn)
		d->conn->deferred = NULL;
	d->conn = NULL;
	if (d->untracked)
		evhttp_connection_set_closecb(d->untracked, NULL, NULL);
	d->untracked = NULL;
	return d->req;
}

/* evhttp reads nothing from a connection while its request is with the handler, so a
 * client that left is noticed only when its answer is written; long work asks the socket
 * itself. Only a reset (or another error) is taken for a client gone; the end of its
 * data (which a client that half-closed after its request also sends) is left to evhttp,
 * which acts on it when it writes the answer, as for every other answer. */
bool http_deferred_waiting(const struct http_deferred *d)
{
	if (d->gone)
		return false;
	if (!d->conn)
		return true;
	char c;
	ssize_t n = recv(d->conn->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

void http_deferred_abort(struct http_deferred *d)
{
	struct evhttp_connection *evcon = d->gone ? NULL : evhttp_request_get_connection(d->req);
	http_deferred_free(d);
	/* Its request is with us, so evhttp never closes it by itself: without this, it
	 * kept its descriptor and its place in the per-address limit for good. */
	if (evcon)
		evhttp_connection_free(evcon);
}

void http_deferred_free(struct http_deferred *d)
{
	if (d && d->conn)
		d->conn->deferred = NULL;
	if (d && d->untracked)
		evhttp_connection_set_closecb(d->untracked, NULL, NULL);
	free(d);
}

void http_deferred_reply_json(struct http_deferred *d, int status, json_object *body)
{
	struct evhttp_request *req = http_deferred_request(d);
	if (req)
		http_reply_json(req, status, body);
	else
		json_object_put(body);
	http_deferred_free(d);
}

struct http_held *http_held_new(struct http_deferred *d, int status, json_object *body)
{
	struct http_held *h = xcalloc(1, sizeof *h);
	*h = (struct http_held){d, status, body};
	return h;
}

void http_held_send(void *held)
{
	struct http_held *h = held;
	http_deferred_reply_json(h->d, h->status, h->body);
	free(h);
}

void http_held_cancel(struct http_held *h)
{
	http_deferred_free(h->d);
	json_object_put(h->body);
	free(h);
}
