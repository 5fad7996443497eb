/* GET /api/tanks/{id}/stream: Server-Sent Events over an evhttp chunked reply. Every
 * event is one frame, "data: {...}\n\n", at the client's ?fps= (1-30, default 15). The
 * frame text is the tank's shared encoding, added to each client's output by reference;
 * the looks of entities the client has not seen yet go first in the same object.
 *
 * A client that reads slower than frames come skips frames: while more than two frames
 * of its output are unsent it gets no new one, so what simd holds for it stays bounded.
 * A client still that far behind after STREAM_STALL_SECONDS is dropped.
 *
 * A stream with nothing to send (a paused tank sends no frame) gets a comment line,
 * ": keep-alive", after STREAM_KEEPALIVE_SECONDS of quiet: a viewer then tells a quiet
 * stream from a server that stopped answering (a hung simd kept the page's pill "live"
 * on a frozen frame for good), and proxies do not close an idle connection. */
#include "config.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api-extra.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define STREAM_MAX_CLIENTS 4096
#define STREAM_BACKLOG_FRAMES 2
#define STREAM_STALL_SECONDS 5.0
#define STREAM_KEEPALIVE_SECONDS 2.0

struct stream_client {
	struct stream_sub sub; /* first: the callbacks get it */
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct http_server *server;
	struct tank_stream *ts;
	double period, next_due;
	double behind_since; /* when it started skipping frames, 0 when it keeps up */
	double last_sent;    /* when a frame or a keep-alive went out */
	struct event *keepalive;
	uint32_t seen_key; /* the client has the looks of every key up to this one */
	bool sent_any;
};

static size_t n_clients;
static uint64_t dropped_slow, frames_sent, frames_skipped, keepalives_sent;

void api_stream_metrics(struct simd *sd, FILE *f)
{
	fprintf(f,
		"# HELP tankworld_sim_stream_clients Viewers connected to tank streams.\n# TYPE tankworld_sim_stream_clients gauge\ntankworld_sim_stream_clients %zu\n"
		"# HELP tankworld_sim_stream_events_total Stream events sent.\n# TYPE tankworld_sim_stream_events_total counter\n"
		"tankworld_sim_stream_events_total %" PRIu64 "\n"
		"# HELP tankworld_sim_stream_dropped_total Stream clients dropped for falling behind.\n# TYPE tankworld_sim_stream_dropped_total counter\n"
		"tankworld_sim_stream_dropped_total %" PRIu64 "\n"
		"# HELP tankworld_sim_stream_skipped_total Frames a slow stream client skipped.\n# TYPE tankworld_sim_stream_skipped_total counter\n"
		"tankworld_sim_stream_skipped_total %" PRIu64 "\n"
		"# HELP tankworld_sim_stream_keepalives_total Keep-alive comments sent on quiet streams.\n# TYPE tankworld_sim_stream_keepalives_total counter\n"
		"tankworld_sim_stream_keepalives_total %" PRIu64 "\n"
		"# HELP tankworld_sim_stream_frames_encoded_total Frames encoded for viewers, by tank.\n# TYPE tankworld_sim_stream_frames_encoded_total counter\n",
		n_clients, frames_sent, dropped_slow, frames_skipped, keepalives_sent);
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		fprintf(f, "tankworld_sim_stream_frames_encoded_total{tank=\"%s\"} %" PRIu64 "\n",
			s->meta.id, tank_stream_encoded(s->stream));
}

static void frame_release(const void *data, size_t len, void *arg)
{
	stream_frame_unref(arg);
}

static void client_free(struct stream_client *c)
{
	n_clients--;
	if (c->keepalive)
		event_free(c->keepalive);
	free(c);
}

/* evhttp closes the connection: the client went away, or simd shuts down. */
static void on_close(void *arg)
{
	struct stream_client *c = arg;
	tank_stream_unsubscribe(c->ts, &c->sub);
	/* When the peer closed, evhttp has detached the unfinished request from the
	 * connection and leaves it to us; when the connection itself is being freed with
	 * the request still queued, evhttp frees both. */
	if (!evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	client_free(c);
}

static void drop(struct stream_client *c)
{
	/* Frees the connection; on_close frees the client. */
	evhttp_connection_free(c->conn);
}

static size_t first_unseen(const struct view_looks *l, uint32_t seen)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->key[mid] <= seen)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void send_frame(struct stream_client *c, struct stream_frame *f)
{
	struct evbuffer *out = bufferevent_get_output(evhttp_connection_get_bufferevent(c->conn));
	size_t backlog = evbuffer_get_length(out);
	if (backlog > STREAM_BACKLOG_FRAMES * f->body_len) {
		double now = now_mono();
		if (!c->behind_since)
			c->behind_since = now;
		if (now - c->behind_since > STREAM_STALL_SECONDS) {
			dropped_slow++;
			log_info("stream: dropping a client that read nothing for %.0f s (%zu bytes "
				 "unsent)",
				 now - c->behind_since, backlog);
			drop(c);
		} else {
			frames_skipped++;
		}
		return;
	}
	c->behind_since = 0;
	struct evbuffer *b = evbuffer_new();
	if (!b)
		abort();
	evbuffer_add(b, "data: {", 7);
	const struct view_looks *l = f->looks->l;
	size_t i = first_unseen(l, c->seen_key);
	if (i < l->n) {
		/* The looks from the first the client has not seen to the last are one slice
		 * (view.h), held by the frame: no copy, however many clients connect. */
		evbuffer_add(b, "\"looks\":[", 9);
		evbuffer_add_reference(b, l->text + l->off[i], l->text_len - l->off[i],
				       frame_release, stream_frame_ref(f));
		evbuffer_add(b, "],", 2);
		c->seen_key = l->key[l->n - 1];
	}
	evbuffer_add_reference(b, f->body, f->body_len, frame_release, stream_frame_ref(f));
	evbuffer_add(b, "\n\n", 2);
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
	c->sent_any = true;
	c->last_sent = now_mono();
	frames_sent++;
}

/* Four times a STREAM_KEEPALIVE_SECONDS: a comment when nothing went out for that long,
 * unless the client has not read what it has (send_frame's stall rule deals with that). */
static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct stream_client *c = arg;
	double now = now_mono();
	if (now - c->last_sent < STREAM_KEEPALIVE_SECONDS)
		return;
	struct evbuffer *out = bufferevent_get_output(evhttp_connection_get_bufferevent(c->conn));
	if (evbuffer_get_length(out) > 0)
		return;
	struct evbuffer *b = evbuffer_new();
	if (!b)
		abort();
	evbuffer_add(b, ": keep-alive\n\n", 14);
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
	c->last_sent = now;
	keepalives_sent++;
}

static void on_frame(struct stream_sub *sub, struct stream_frame *f)
{
	struct stream_client *c = (struct stream_client *)sub;
	double now = now_mono();
	/* Half a tick of slack so that 15 fps on a 30 Hz tank is every other tick. */
	if (c->sent_any && now < c->next_due - 0.012)
		return;
	c->next_due = c->sent_any && now - c->next_due < c->period ? c->next_due + c->period
								   : now + c->period;
	send_frame(c, f);
}

static void on_gone(struct stream_sub *sub)
{
	struct stream_client *c = (struct stream_client *)sub;
	http_watch_close(c->server, c->conn, NULL, NULL);
	evhttp_send_reply_end(c->req);
	client_free(c);
}

void api_stream(struct http_ctx *ctx)
{
	struct tank_slot *s = api_tank_param(ctx);
	if (!s)
		return;
	long fps = 15;
	if (http_query_int(ctx, "fps", 1, 30, &fps) < 0)
		return;
	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD) {
		/* The head a GET would get, and no stream: the connection goes on. */
		evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Cache-Control",
				  "no-cache");
		http_reply_text(ctx->req, 200, "text/event-stream", "", 0);
		return;
	}
	if (n_clients >= STREAM_MAX_CLIENTS) {
		http_reply_error(ctx->req, 503, "too_many_streams",
				 "this server already streams to %d clients", STREAM_MAX_CLIENTS);
		return;
	}
	struct stream_client *c = xcalloc(1, sizeof *c);
	n_clients++;
	c->req = ctx->req;
	c->conn = evhttp_request_get_connection(ctx->req);
	c->server = ctx->server;
	/* Watched before the reply starts: a connection the server does not track is
	 * refused while an error can still be sent. */
	if (http_watch_close(c->server, c->conn, on_close, c) < 0) {
		client_free(c);
		http_reply_error(ctx->req, 500, "untracked_connection",
				 "this connection cannot carry a stream");
		return;
	}
	c->ts = s->stream;
	c->period = 1.0 / (double)fps;
	c->sub.on_frame = on_frame;
	c->sub.on_gone = on_gone;
	struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(ctx->req, 200, "OK");
	/* A stream only writes: no read timeout (the client sends nothing more), but a
	 * client that stops reading is still caught by the write timeout and the cap. */
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
	struct timeval wt = {30, 0};
	bufferevent_set_timeouts(bev, NULL, &wt);
	/* libevent writes 16 KiB per turn by default; a frame of a big tank is more. */
	bufferevent_set_max_single_write(bev, 256u << 10);
	c->last_sent = now_mono();
	c->keepalive = event_new(evhttp_connection_get_base(c->conn), -1, EV_PERSIST, on_keepalive,
				 c);
	struct timeval ka = {0, (suseconds_t)(STREAM_KEEPALIVE_SECONDS / 4 * 1e6)};
	if (!c->keepalive || event_add(c->keepalive, &ka) < 0)
		fatal("cannot arm a stream's keep-alive timer");
	struct stream_frame *f = tank_stream_subscribe(c->ts, &c->sub);
	if (f) {
		c->next_due = now_mono() + c->period;
		send_frame(c, f);
		stream_frame_unref(f);
	}
}
