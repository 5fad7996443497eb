#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "statefile.h"

struct state_writer {
	char *path;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	char *pending;
	size_t pending_len;
	uint64_t submitted, written;
	bool stop;
};

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
		fs_write_atomic_or_die(w->path, data, len);
		free(data);
		pthread_mutex_lock(&w->lock);
		w->written = seq;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct state_writer *state_writer_new(const char *path)
{
	struct state_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->path = strdup(path)))
		abort();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->done, NULL);
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
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	free(w->path);
	free(w);
	return NULL;
}
