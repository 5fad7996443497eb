/* Reading a tank off the event loop (issue 13, item 0): GET /state and every other read
 * that waits for the tank's lock.
 *
 * GET /state lists every entity, and json-c builds and prints that at some 10 µs an
 * entity: about a second for a 20,000-fish tank and its food (t-simd-crowd), which the
 * loop spent with the tank's lock held, so neither /health nor that tank's tick moved
 * meanwhile (tankctl audit asks it of every tank). Now a thread of its own takes the
 * tank's lock only to copy what the answer shows (entities_copy: a few ms), builds the
 * text without it, and hands the text back to the loop through an event. One reader
 * runs at a time, so a queue of them holds one copy and one JSON tree; at most
 * READERS_MAX wait, and more are refused as busy. While a reader runs, the tank's slot
 * is held, so deleting the tank frees it only when the reader is done with it. The other
 * reads (a fish, the history, the lineage, poker) copy quickly once they have the lock;
 * what a reader spares the loop there is the wait for it, up to one tick of the tank. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "log.h"
#include "simd.h"
#include "xalloc.h"

#define READERS_MAX 32

struct reader {
	struct simd *sd;
	struct tank_slot *s;
	readers_read_fn read;
	void *read_arg;
	readers_done_fn done;
	void *done_arg;
	struct readers_answer a;
	struct event *ev;
	pthread_t thread;
	struct reader *next;
};

void readers_answer_json(struct readers_answer *a, json_object *o)
{
	if (!o) {
		a->status = 404;
		return;
	}
	a->status = 200;
	a->type = "application/json";
	a->text = xstrdup(jv_to_string(o));
	a->len = strlen(a->text);
	json_object_put(o);
}

void readers_state(struct tank_slot *s, void *arg, struct readers_answer *a)
{
	struct simd *sd = arg;
	pthread_mutex_lock(&sd->reader_run);
	/* Copied into room made first without the lock (25 ms under it before, at 20,000
	 * fish; 2 ms now). */
	struct tank_room room = {0};
	struct timespec held;
	tanks_lock_for_copy(s, TANK_COPY_ENTITIES, &room, &held);
	struct entities *e = entities_copy_in(s->sim, &room);
	tanks_copy_held(sd, TANK_COPY_ENTITIES, &held);
	pthread_mutex_unlock(&s->lock);
	tank_room_free(&room);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(entities_frame(e)));
	json_object_object_add(o, "entities", entities_json(e));
	entities_free(e);
	readers_answer_json(a, o);
	pthread_mutex_unlock(&sd->reader_run);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	r->read(r->s, r->read_arg, &r->a);
	event_active(r->ev, EV_READ, 0);
	return NULL;
}

/* Take r out of the list; true if it was there (shutdown may have taken it). */
static bool reader_unlink(struct simd *sd, struct reader *r)
{
	bool found = false;
	pthread_mutex_lock(&sd->build_lock);
	for (struct reader **pp = &sd->readers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			sd->n_readers--;
			found = true;
			break;
		}
	pthread_mutex_unlock(&sd->build_lock);
	return found;
}

static void reader_finish(struct reader *r, bool deliver)
{
	pthread_join(r->thread, NULL);
	event_free(r->ev);
	tanks_release(r->sd, r->s);
	if (!deliver) {
		free(r->a.text);
		r->a = (struct readers_answer){.status = 503};
	}
	r->done(r->sd, &r->a, r->done_arg);
	free(r);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reader *r = arg;
	if (reader_unlink(r->sd, r))
		reader_finish(r, true);
}

int readers_run(struct simd *sd, struct tank_slot *s, readers_read_fn read, void *read_arg,
		readers_done_fn done, void *done_arg)
{
	pthread_mutex_lock(&sd->build_lock);
	bool full = sd->n_readers >= READERS_MAX;
	pthread_mutex_unlock(&sd->build_lock);
	if (full)
		return -EBUSY;
	struct reader *r = xcalloc(1, sizeof *r);
	*r = (struct reader){.sd = sd,
			     .s = s,
			     .read = read,
			     .read_arg = read_arg,
			     .done = done,
			     .done_arg = done_arg};
	r->ev = event_new(sd->daemon->base, -1, 0, on_read, r);
	if (!r->ev)
		abort();
	tanks_hold(sd, s);
	pthread_mutex_lock(&sd->build_lock);
	r->next = sd->readers;
	sd->readers = r;
	sd->n_readers++;
	pthread_mutex_unlock(&sd->build_lock);
	if (pthread_create(&r->thread, NULL, reader_main, r) != 0)
		fatal("cannot start a thread to read tank %s", s->meta.id);
	return 0;
}

void readers_shutdown(struct simd *sd)
{
	for (;;) {
		pthread_mutex_lock(&sd->build_lock);
		struct reader *r = sd->readers;
		if (r) {
			sd->readers = r->next;
			sd->n_readers--;
		}
		pthread_mutex_unlock(&sd->build_lock);
		if (!r)
			return;
		reader_finish(r, false);
	}
}
