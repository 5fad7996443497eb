/* Once the source has committed, the transfer id is never sent again, so the
 * destination's inbox entry for it (kept so a retry is answered without a second
 * insert) can go. This keeps the inbox small, so its retention limits are never what
 * stands between a late retry and a duplicate. The destination journals the forget;
 * a forget that finds the destination down is retried with backoff for a few minutes
 * and those of the newest commits are sent again at every start (a destination that
 * forgot already answers 404). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "delivery.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xalloc.h"

#define FORGET_ATTEMPTS 12
#define FORGET_MAX_DELAY 30.0
#define FORGET_RESUME 200

struct pending_forget {
	struct migrated *md;
	char server_id[SERVER_ID_MAX + 1];
	char transfer_id[TRANSFER_ID_MAX + 1];
	int attempts;
	/* A transfer the history left pending (forget_resolved): its record, written again
	 * as committed if the destination holds it, before the destination is told to
	 * forget it (see on_held). NULL once written, or for a plain forget. */
	struct transfer_record *pending_rec;
	struct event *timer;
	LIST_ENTRY(pending_forget) link;
};
static LIST_HEAD(, pending_forget) pending = LIST_HEAD_INITIALIZER(pending);

static void send_forget(struct pending_forget *p);

static void forget_done(struct pending_forget *p)
{
	LIST_REMOVE(p, link);
	if (p->timer)
		event_free(p->timer);
	free(p->pending_rec);
	free(p);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	send_forget(arg);
}

static void retry_later(struct pending_forget *p)
{
	if (p->md->stopping || p->attempts >= FORGET_ATTEMPTS) {
		log_debug("forget %s at %s: giving up after %d attempts", p->transfer_id,
			  p->server_id, p->attempts);
		forget_done(p);
		return;
	}
	double delay = 0.5;
	for (int i = 1; i < p->attempts && delay < FORGET_MAX_DELAY; i++)
		delay *= 2;
	if (delay > FORGET_MAX_DELAY)
		delay = FORGET_MAX_DELAY;
	if (!p->timer && !(p->timer = evtimer_new(p->md->daemon->base, on_retry, p)))
		abort();
	struct timeval tv = timer_tv(delay);
	evtimer_add(p->timer, &tv);
}

/* A destination holds a transfer only once it took the fish, and a transfer it took is
 * never aborted: so a transfer the history left pending that its destination held was
 * committed. (A 404 says nothing: aborted, or committed and forgotten already.) */
static void record_committed(struct pending_forget *p)
{
	struct transfer_record *rec = p->pending_rec;
	rec->state = TS_COMMITTED;
	rec->timestamp = now_wall();
	snprintf(rec->error, sizeof rec->error,
		 "committed while migrated was down; its destination held it");
	history_record(p->md->history, rec);
	log_info("transfer %s: committed while migrated was down (%s held it)", rec->transfer_id,
		 rec->destination_server_id);
}

static void on_forgotten(const struct fetch_response *r, void *arg)
{
	struct pending_forget *p = arg;
	/* 200 forgotten, 404 not remembered (already forgotten): done. A 4xx other than
	 * that will not change with a retry either. */
	if (r->status >= 200 && r->status < 500)
		forget_done(p);
	else
		retry_later(p);
}

/* Does the destination hold a transfer the history left pending? The history says
 * committed before the destination forgets: the other way round, a kill between the
 * forget and the history's line left the transfer pending for good (the next start's
 * forget finds nothing: 404). 404 here: it was never held (aborted) or was forgotten
 * already; it stays pending, as nothing tells which. */
static void on_held(const struct fetch_response *r, void *arg)
{
	struct pending_forget *p = arg;
	if (r->status == 200) {
		record_committed(p);
		free(p->pending_rec);
		p->pending_rec = NULL;
		p->attempts = 0;
		send_forget(p);
	} else if (r->status >= 400 && r->status < 500) {
		forget_done(p);
	} else {
		retry_later(p);
	}
}

/* Right after a start no delivery has asked discoveryd where the destination is yet:
 * peers_request asks it then. */
static void send_forget(struct pending_forget *p)
{
	struct migrated *md = p->md;
	p->attempts++;
	char path[TRANSFER_ID_MAX + 16];
	snprintf(path, sizeof path, "/api/inbox/%s", p->transfer_id);
	if (md->stopping || peers_request(md, p->server_id, p->pending_rec ? "GET" : "DELETE", path,
					  NULL, p->pending_rec ? on_held : on_forgotten, p) < 0)
		retry_later(p);
}

static void forget_send(struct migrated *md, const char *server_id, const char *transfer_id,
			const struct transfer_record *pending_rec)
{
	if (md->stopping)
		return;
	struct pending_forget *p = xcalloc(1, sizeof *p);
	p->md = md;
	snprintf(p->server_id, sizeof p->server_id, "%s", server_id);
	snprintf(p->transfer_id, sizeof p->transfer_id, "%s", transfer_id);
	if (pending_rec) {
		p->pending_rec = xmalloc(sizeof *p->pending_rec);
		*p->pending_rec = *pending_rec;
	}
	LIST_INSERT_HEAD(&pending, p, link);
	send_forget(p);
}

void forget_at_destination(struct migrated *md, const char *server_id, const char *transfer_id)
{
	forget_send(md, server_id, transfer_id, NULL);
}

void forget_free_all(void)
{
	while (!LIST_EMPTY(&pending))
		forget_done(LIST_FIRST(&pending));
}

/* The newest transfers this server sent, in state st, whose forgets go out again: a
 * destination that forgot already answers 404. A pending one is skipped while it is
 * being delivered. Returns how many. */
static size_t forget_state(struct migrated *md, enum transfer_state st)
{
	const struct transfer_record *out[FORGET_RESUME];
	size_t n = history_query(md->history, NULL, st == TS_COMMITTED, FORGET_RESUME, out),
	       sent = 0;
	const char *self = md->daemon->conf.server.server_id;
	for (size_t i = 0; i < n; i++)
		if (out[i]->state == st && strcmp(out[i]->source_server_id, self) == 0 &&
		    !(st == TS_PENDING && delivery_find(md->delivery, out[i]->transfer_id))) {
			forget_send(md, out[i]->destination_server_id, out[i]->transfer_id,
				    st == TS_PENDING ? out[i] : NULL);
			sent++;
		}
	return sent;
}

/* At start: forgets still pending when migrated last stopped (or was killed) are not
 * remembered, so send them again for the newest commits this server made. */
void forget_resume(struct migrated *md)
{
	forget_state(md, TS_COMMITTED);
}

void forget_resolved_transfer(struct migrated *md, const char *server_id, const char *transfer_id)
{
	const struct transfer_record *known = history_get(md->history, transfer_id);
	forget_send(md, server_id, transfer_id, known && known->state == TS_PENDING ? known : NULL);
}

/* After the first outbox listing since start: a transfer the history left pending that
 * is not in simd's outbox (so not running now) was resolved while migrated was down or
 * as it was killed, most often a commit whose answer never came back, so the history
 * holds no commit to resend a forget for. simd lists only what its journal holds, so a
 * transfer missing from its outbox is never sent again and its forget is safe. */
void forget_resolved(struct migrated *md)
{
	size_t n = forget_state(md, TS_PENDING);
	if (n)
		log_info("%zu transfer(s) left pending are no longer in simd's outbox: resolved; "
			 "their destinations are told to forget them",
			 n);
}
