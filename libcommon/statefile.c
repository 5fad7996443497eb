#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "lines.h"
#include "log.h"
#include "statefile.h"
#include "util.h"
#include "xalloc.h"

struct state_writer {
	char *path;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	char *pending;
	size_t pending_len;
	uint64_t submitted, written;
	bool stop;
	bool framed; /* written as one checksummed line (lines.h) */
	/* Callbacks waiting for their submission to reach the disk, oldest first. */
	struct written_waiter *waiters, **waiters_tail;
	struct event *wake_loop;
};

struct written_waiter {
	struct written_waiter *next;
	uint64_t seq;
	state_written_fn done;
	void *arg;
};

/* On the loop: run every callback whose submission is written. */
static void run_waiters(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct state_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	struct written_waiter *ready = NULL, **tail = &ready;
	while (w->waiters && w->waiters->seq <= w->written) {
		*tail = w->waiters;
		tail = &w->waiters->next;
		w->waiters = w->waiters->next;
	}
	*tail = NULL;
	if (!w->waiters)
		w->waiters_tail = &w->waiters;
	pthread_mutex_unlock(&w->lock);
	while (ready) {
		struct written_waiter *n = ready->next;
		ready->done(ready->arg);
		free(ready);
		ready = n;
	}
}

static void *writer_main(void *arg)
{
	struct state_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->pending && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->pending && w->stop)
			break;
		char *data = w->pending;
		size_t len = w->pending_len;
		uint64_t seq = w->submitted;
		w->pending = NULL;
		pthread_mutex_unlock(&w->lock);
		if (w->framed) {
			size_t flen;
			char *f = line_frame(data, len, &flen);
			free(data);
			data = f;
			len = flen;
		}
		fs_write_atomic_or_die(w->path, data, len);
		free(data);
		pthread_mutex_lock(&w->lock);
		w->written = seq;
		pthread_cond_broadcast(&w->done);
		if (w->wake_loop && w->waiters)
			event_active(w->wake_loop, 0, 0);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void state_writer_set_framed(struct state_writer *w)
{
	w->framed = true;
}

struct state_writer *state_writer_new(const char *path)
{
	struct state_writer *w = xcalloc(1, sizeof *w);
	w->path = xstrdup(path);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->done, NULL);
	w->waiters_tail = &w->waiters;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
		abort();
	return w;
}

void state_writer_submit(struct state_writer *w, char *data, size_t len)
{
	pthread_mutex_lock(&w->lock);
	free(w->pending);
	w->pending = data;
	w->pending_len = len;
	w->submitted++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void state_writer_attach(struct state_writer *w, struct event_base *base)
{
	w->wake_loop = event_new(base, -1, 0, run_waiters, w);
	if (!w->wake_loop)
		abort();
}

void state_writer_submit_then(struct state_writer *w, char *data, size_t len, state_written_fn done,
			      void *arg)
{
	if (!w->wake_loop)
		abort(); /* a caller's bug: no loop to wake */
	struct written_waiter *n = xcalloc(1, sizeof *n);
	n->done = done;
	n->arg = arg;
	pthread_mutex_lock(&w->lock);
	free(w->pending);
	w->pending = data;
	w->pending_len = len;
	n->seq = ++w->submitted;
	*w->waiters_tail = n;
	w->waiters_tail = &n->next;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void state_writer_flush(struct state_writer *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->written < w->submitted)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

uint64_t state_writer_writes(struct state_writer *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t n = w->written;
	pthread_mutex_unlock(&w->lock);
	return n;
}

struct state_writer *state_writer_free(struct state_writer *w)
{
	if (!w)
		return NULL;
	state_writer_flush(w);
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (w->wake_loop) {
		run_waiters(-1, 0, w); /* everything is written: answer whoever still waits */
		event_free(w->wake_loop);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	free(w->path);
	free(w);
	return NULL;
}

void state_file_set_aside(const char *path, char *moved, size_t moved_len)
{
	snprintf(moved, moved_len, "%s.corrupt-%ld", path, (long)now_wall());
	if (rename(path, moved) < 0)
		fatal("%s is damaged and cannot be moved aside: %s", path, strerror(errno));
}

int state_file_load(const char *path, size_t max, state_decode_fn decode, void *arg, char *moved,
		    size_t moved_len, struct json_err *e)
{
	char *text;
	size_t len;
	int r = fs_read_file(path, max, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		fatal("cannot read %s: %s", path, fs_read_error(r));
	/* A checksummed line (state_writer_set_framed), or the bare JSON an older version
	 * wrote: a flipped bit inside a value still parsed, and pointed a connection at a
	 * tank that does not exist without a word. */
	const char *nl = memchr(text, '\n', len), *json = text;
	size_t json_len = len;
	char why[200];
	json_object *o = NULL;
	enum line_kind k = line_check(text, nl ? (size_t)(nl - text) : len, &json, &json_len, why,
				      sizeof why);
	if (k == LINE_BAD)
		jv_fail(e, "%s", why);
	else if (k == LINE_LEGACY)
		o = jv_parse_object(text, len, 16, e);
	else
		o = jv_parse_object(json, json_len, 16, e);
	free(text);
	r = o ? decode(arg, o, e) : -1;
	json_object_put(o);
	if (r == 0)
		return 1;
	state_file_set_aside(path, moved, moved_len);
	return -1;
}
