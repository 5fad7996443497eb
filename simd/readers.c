/* Reading a whole tank off the event loop: GET /state (issue 13, item 0).
 *
 * The answer lists every entity, and json-c builds and prints it at some 10 µs an
 * entity: about a second for a 20,000-fish tank and its food (t-simd-crowd), which the
 * loop spent with the tank's lock held, so neither /health nor that tank's tick moved
 * meanwhile (tankctl audit asks it of every tank). Now a thread of its own takes the
 * tank's lock only to copy what the answer shows (entities_copy: a few ms), builds the
 * text without it, and hands the text back to the loop through an event. One reader
 * runs at a time, so a queue of them holds one copy and one JSON tree; at most
 * READERS_MAX wait, and more are refused as busy. While a reader runs, the tank's slot
 * is held, so deleting the tank frees it only when the reader is done with it. */
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
	enum { READ_STATE, READ_FISH, READ_PLANT } what;
	char id[UUID_STR_LEN]; /* READ_FISH, READ_PLANT */
	readers_done_fn done;
	void *arg;
	char *text;
	size_t len;
	struct event *ev;
	pthread_t thread;
	struct reader *next;
};

static json_object *read_state(struct reader *r)
{
	pthread_mutex_lock(&r->sd->reader_run);
	pthread_mutex_lock(&r->s->lock);
	struct entities *e = entities_copy(r->s->sim);
	pthread_mutex_unlock(&r->s->lock);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(r->s->meta.id));
	json_object_object_add(o, "frame", json_object_new_uint64(entities_frame(e)));
	json_object_object_add(o, "entities", entities_json(e));
	entities_free(e);
	return o;
}

/* One fish or plant: quick once the lock is taken, so no queue; what a reader spares
 * the loop here is the wait for the lock, up to one tick of a big tank. */
static json_object *read_entity(struct reader *r)
{
	json_object *o = NULL;
	pthread_mutex_lock(&r->s->lock);
	if (r->what == READ_PLANT) {
		o = tank_plant_json(r->s->sim, r->id);
	} else {
		const struct fish *f = tank_find_fish(r->s->sim, r->id);
		o = f ? fish_to_json(f) : NULL;
	}
	pthread_mutex_unlock(&r->s->lock);
	return o;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	json_object *o = r->what == READ_STATE ? read_state(r) : read_entity(r);
	if (o) {
		r->text = xstrdup(jv_to_string(o));
		r->len = strlen(r->text);
		json_object_put(o);
	}
	if (r->what == READ_STATE)
		pthread_mutex_unlock(&r->sd->reader_run);
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
	if (deliver) {
		r->done(r->sd, r->text ? 200 : 404, r->text, r->len, r->arg);
	} else {
		free(r->text);
		r->done(r->sd, 503, NULL, 0, r->arg);
	}
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

static int reader_start(struct simd *sd, struct tank_slot *s, int what, const char *id,
			readers_done_fn done, void *arg)
{
	pthread_mutex_lock(&sd->build_lock);
	bool full = sd->n_readers >= READERS_MAX;
	pthread_mutex_unlock(&sd->build_lock);
	if (full)
		return -EBUSY;
	struct reader *r = xcalloc(1, sizeof *r);
	*r = (struct reader){.sd = sd, .s = s, .what = what, .done = done, .arg = arg};
	snprintf(r->id, sizeof r->id, "%s", id ? id : "");
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

int readers_state(struct simd *sd, struct tank_slot *s, readers_done_fn done, void *arg)
{
	return reader_start(sd, s, READ_STATE, NULL, done, arg);
}

int readers_entity(struct simd *sd, struct tank_slot *s, bool plant, const char *id,
		   readers_done_fn done, void *arg)
{
	return reader_start(sd, s, plant ? READ_PLANT : READ_FISH, id, done, arg);
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
