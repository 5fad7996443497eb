/* Publishing a tank's frames from its tick thread to the event loop (stream.h). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

struct tank_stream {
	pthread_mutex_t lock; /* guards latest, pending, spare, stop */
	pthread_cond_t wake;  /* pending or stop changed */
	struct stream_frame *latest;
	struct view_capture *pending; /* the newest capture not yet taken by the encoder */
	/* A capture done with, for the next tick to write over: at 100,000 fish a new one
	 * is 16 MB of fresh pages, which the tick paid for (bench-view). Kept while anyone
	 * watches. */
	struct view_capture *spare;
	bool stop;
	int n_subs;   /* atomic: read by the tick thread */
	int want;     /* atomic: encode at the next tick whatever happened */
	uint64_t seq; /* atomic: frames encoded */
	/* Tick thread only (under the tank's lock). */
	uint64_t last_frame;
	bool captured, started;
	pthread_t encoder;
	/* Encoder thread only. */
	struct tank_view *view;
	struct stream_looks *looks;
	/* Loop thread only. */
	struct event *notify;
	TAILQ_HEAD(, stream_sub) subs;
};

static void looks_unref(struct stream_looks *l)
{
	if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		view_looks_free(l->l);
		free(l);
	}
}

struct stream_frame *stream_frame_ref(struct stream_frame *f)
{
	if (f)
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	return f;
}

void stream_frame_unref(struct stream_frame *f)
{
	if (f && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		looks_unref(f->looks);
		free(f->body);
		free(f);
	}
}

static struct stream_frame *take_latest(struct tank_stream *ts)
{
	pthread_mutex_lock(&ts->lock);
	struct stream_frame *f = stream_frame_ref(ts->latest);
	pthread_mutex_unlock(&ts->lock);
	return f;
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct tank_stream *ts = arg;
	struct stream_frame *f = take_latest(ts);
	if (!f)
		return;
	struct stream_sub *s, *next;
	for (s = TAILQ_FIRST(&ts->subs); s; s = next) {
		next = TAILQ_NEXT(s, link);
		s->on_frame(s, f);
	}
	stream_frame_unref(f);
}

struct tank_stream *tank_stream_new(struct event_base *base)
{
	struct tank_stream *ts = xcalloc(1, sizeof *ts);
	pthread_mutex_init(&ts->lock, NULL);
	pthread_cond_init(&ts->wake, NULL);
	TAILQ_INIT(&ts->subs);
	ts->notify = event_new(base, -1, 0, on_notify, ts);
	if (!ts->notify)
		abort();
	return ts;
}

void tank_stream_free(struct tank_stream *ts)
{
	if (!ts)
		return;
	struct stream_sub *s;
	while ((s = TAILQ_FIRST(&ts->subs))) {
		tank_stream_unsubscribe(ts, s);
		s->on_gone(s);
	}
	pthread_mutex_lock(&ts->lock);
	ts->stop = true;
	pthread_cond_signal(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	if (ts->started)
		pthread_join(ts->encoder, NULL);
	event_free(ts->notify);
	view_capture_free(ts->pending);
	view_capture_free(ts->spare);
	stream_frame_unref(ts->latest);
	looks_unref(ts->looks);
	tank_view_free(ts->view);
	pthread_cond_destroy(&ts->wake);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

void tank_stream_poke(struct tank_stream *ts)
{
	__atomic_store_n(&ts->want, 1, __ATOMIC_RELEASE);
}

/* Encoder thread: turn a capture into a frame and publish it. */
static void publish(struct tank_stream *ts, const struct view_capture *c)
{
	if (!ts->view)
		ts->view = tank_view_new();
	struct view_frame vf;
	tank_view_encode(ts->view, c, &vf);
	if (vf.looks) {
		looks_unref(ts->looks);
		ts->looks = xcalloc(1, sizeof *ts->looks);
		ts->looks->refs = 1;
		ts->looks->l = vf.looks;
	}
	struct stream_frame *f = xcalloc(1, sizeof *f);
	f->refs = 1;
	f->seq = __atomic_add_fetch(&ts->seq, 1, __ATOMIC_RELAXED);
	f->body = vf.body;
	f->body_len = vf.body_len;
	f->fish = vf.fish;
	f->looks = ts->looks;
	__atomic_add_fetch(&ts->looks->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&ts->lock);
	struct stream_frame *old = ts->latest;
	ts->latest = f;
	pthread_mutex_unlock(&ts->lock);
	stream_frame_unref(old);
	/* Thread-safe (evthread_use_pthreads); many activations before the loop runs
	 * collapse into one callback, which sends the newest frame only. */
	event_active(ts->notify, 0, 0);
}

/* With the lock held: keep a capture done with as the spare, unless there is one or
 * nobody watches. Returns what the caller frees once it has unlocked. */
static struct view_capture *keep_spare(struct tank_stream *ts, struct view_capture *c)
{
	if (ts->spare || __atomic_load_n(&ts->n_subs, __ATOMIC_ACQUIRE) == 0)
		return c;
	ts->spare = c;
	return NULL;
}

/* The stream's own thread encodes while the tank ticks on: formatting a frame costs ten
 * times copying it (38 ms against 4 ms at 100,000 fish), and the tick used to pay for
 * it with the tank's lock held. Captures that come while it encodes replace each other:
 * it always takes the newest, so a slow encoding skips frames rather than falls behind. */
static void *encoder_main(void *arg)
{
	struct tank_stream *ts = arg;
	pthread_mutex_lock(&ts->lock);
	for (;;) {
		while (!ts->pending && !ts->stop)
			pthread_cond_wait(&ts->wake, &ts->lock);
		if (ts->stop)
			break;
		struct view_capture *c = ts->pending;
		ts->pending = NULL;
		pthread_mutex_unlock(&ts->lock);
		publish(ts, c);
		pthread_mutex_lock(&ts->lock);
		c = keep_spare(ts, c);
		if (c) {
			pthread_mutex_unlock(&ts->lock);
			view_capture_free(c);
			pthread_mutex_lock(&ts->lock);
		}
	}
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

void tank_stream_tick(struct tank_stream *ts, const struct tank *t, const struct tank_stats *st,
		      bool paused)
{
	if (__atomic_load_n(&ts->n_subs, __ATOMIC_ACQUIRE) == 0)
		return;
	bool want = __atomic_exchange_n(&ts->want, 0, __ATOMIC_ACQ_REL);
	if (ts->captured && tank_frame(t) == ts->last_frame && !want)
		return;
	if (!ts->started) {
		if (pthread_create(&ts->encoder, NULL, encoder_main, ts) != 0)
			fatal("cannot start the stream's encoder thread");
		ts->started = true;
	}
	pthread_mutex_lock(&ts->lock);
	struct view_capture *c = ts->spare;
	ts->spare = NULL;
	pthread_mutex_unlock(&ts->lock);
	c = view_capture(t, st, paused, c);
	ts->captured = true;
	ts->last_frame = tank_frame(t);
	pthread_mutex_lock(&ts->lock);
	struct view_capture *old = keep_spare(ts, ts->pending);
	ts->pending = c;
	pthread_cond_signal(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	view_capture_free(old);
}

struct stream_frame *tank_stream_subscribe(struct tank_stream *ts, struct stream_sub *sub)
{
	TAILQ_INSERT_TAIL(&ts->subs, sub, link);
	bool first = __atomic_fetch_add(&ts->n_subs, 1, __ATOMIC_ACQ_REL) == 0;
	tank_stream_poke(ts);
	/* A frame kept from before anyone watched is old: the first watcher waits for the
	 * fresh one the next tick brings. */
	return first ? NULL : take_latest(ts);
}

void tank_stream_unsubscribe(struct tank_stream *ts, struct stream_sub *sub)
{
	TAILQ_REMOVE(&ts->subs, sub, link);
	if (__atomic_sub_fetch(&ts->n_subs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	/* Nobody watches: the spare capture's memory goes back. */
	pthread_mutex_lock(&ts->lock);
	struct view_capture *c = ts->spare;
	ts->spare = NULL;
	pthread_mutex_unlock(&ts->lock);
	view_capture_free(c);
}

uint64_t tank_stream_encoded(const struct tank_stream *ts)
{
	return __atomic_load_n(&ts->seq, __ATOMIC_RELAXED);
}

size_t tank_stream_subscribers(const struct tank_stream *ts)
{
	return (size_t)__atomic_load_n(&ts->n_subs, __ATOMIC_ACQUIRE);
}
