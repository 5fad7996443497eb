/* migrated's shared state, wired in main.c (DESIGN §1, §5, §6). */
#ifndef TW_MIGRATED_H
#define TW_MIGRATED_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "connections.h"
#include "daemon.h"
#include "fetch.h"
#include "history.h"
#include "http.h"
#include "scheduler.h"
#include "statefile.h"

struct pass;
struct exits;
struct delivery;
struct peers;

#define LATENCY_BUCKETS 10 /* delivery latency histogram (metrics.c) */

struct migrated_metrics {
	uint64_t passes, passes_skipped, rolls, hits, rate_limited, reserves, reserve_refusals,
		local_moves, local_move_refusals, cooldown_aborts, attempts, commits, aborts,
		retries, resumed, cascades, exits_pushes, exits_errors, sim_errors,
		unknown_destination, connection_refusals, connections_broken;
	double latency_sum;
	uint64_t latency_count, latency_le[LATENCY_BUCKETS];
};

struct migrated {
	struct daemon *daemon;
	struct http_server *http;
	struct fetch *fetch;
	struct connections *conns;
	struct history *history;
	struct state_writer *conn_writer;
	char *conn_path;
	char conn_file_error[2 * CONF_PATH +
			     512]; /* why connections.json was set aside at start, or "" */
	struct rng rng;
	struct tbucket global_bucket;
	struct pass *pass;
	struct exits *exits;
	struct strset verifying_tanks; /* cascade.c: tanks whose existence check is in flight */
	struct delivery *delivery;
	struct peers *peers;
	struct event *refusals_timer;
	double started_mono;
	int tcp_port;
	bool stopping;
	struct migrated_metrics m;
};

/* privacy.c: what a caller without the token is not shown (tanks simd does not list as
 * public, on this server). */
bool privacy_tank_public(struct migrated *md, const char *tank_id);
bool privacy_hides_transfer(struct migrated *md, const struct transfer_record *r);
bool privacy_hides_connection(struct migrated *md, const struct connection *c);
/* list (taken) less the objects whose source/destination server and tank ids it hides. */
json_object *privacy_shown(struct migrated *md, json_object *list);
/* The scheduler's status (pass_status_json) less the last pass's hidden transfers. */
void privacy_hide_pass(struct migrated *md, json_object *status);
void privacy_free(void);

/* migrated.c: connections.json. */
void migrated_save_connections(struct migrated *md);
/* At start: load it, or set a damaged one aside (conn_file_error says so). */
void migrated_load_connections(struct migrated *md);
/* At start: the transfer history in dir, or a fatal error. */
void migrated_open_history(struct migrated *md, const char *dir);
/* Save, then call done(arg) on the loop once the table is on disk. */
void migrated_save_connections_then(struct migrated *md, void (*done)(void *), void *arg);

/* request.c: every outgoing request. body may be NULL and is consumed in every case.
 * Each returns 0, or -errno when the request did not start (-ESHUTDOWN once stopping);
 * cb runs later, only after 0. */
/* To this server's simd or discoveryd over its Unix socket. */
int request_sim(struct migrated *md, const char *method, const char *path, json_object *body,
		fetch_cb cb, void *arg);
int request_discovery(struct migrated *md, const char *method, const char *path, fetch_cb cb,
		      void *arg);
/* To url; over the Unix socket sock when not NULL; with the cluster token if asked. */
int request_send(struct migrated *md, const char *method, const char *url, const char *sock,
		 bool with_token, json_object *body, fetch_cb cb, void *arg);
/* Parse a peer's JSON object answer; NULL (and logs at debug) when it does not parse. */
json_object *request_answer(const struct fetch_response *r, const char *what);
/* "code" of a JSON error answer, or "". */
const char *request_error_code(const struct fetch_response *r, char *buf, size_t len);
/* A refusal as "STATUS CODE: error" (or "who (STATUS CODE): error") into buf; its code
 * into code. */
const char *request_refusal(const struct fetch_response *r, const char *who, char *code,
			    size_t code_len, char *buf, size_t len);

/* metrics.c */
void metrics_observe_latency(struct migrated *md, double seconds);
/* The Prometheus text of every counter; what api.c adds: the HTTP server's counts and
 * the transfers in flight. */
/* The migration metrics; in_flight comes from delivery (the HTTP counters are added
 * by http_reply_metrics). */
void metrics_write(struct migrated *md, size_t in_flight, FILE *f);

/* pass.c: scheduler passes (their phases: pass-tanks.c, pass-roll.c, pass-hits.c;
 * see pass.h). */
struct pass *pass_new(struct migrated *md);
struct pass *pass_free(struct pass *p);
/* Start a pass now unless one is running (then the tick is skipped and logged). */
void pass_tick(struct migrated *md);
/* Sync tanks, exits and connections without rolling (at start). */
void pass_sync_now(struct migrated *md);
/* Run a fresh pass (after the running one, if any) and call done with its summary when
 * its reservations are made. done may get NULL summary if migrated is stopping. */
typedef void (*pass_done_fn)(json_object *summary, void *arg);
void pass_run_now(struct migrated *md, pass_done_fn done, void *arg);
void pass_schedule(struct migrated *md); /* at the start and each reload */
json_object *pass_status_json(struct migrated *md);

/* exits.c: simd's exits kept equal to the connections. */
struct exits *exits_new(struct migrated *md);
struct exits *exits_free(struct exits *xs);
/* Re-send the exits of one source tank after its connections changed. */
void exits_sync(struct migrated *md, const char *tank_id);
/* A tank listing arrived (after_outage: simd was not answering before it): the next
 * syncs may need to send everything again. */
void exits_listing_seen(struct migrated *md, bool after_outage);
/* The tank is gone: forget what its exits were. */
void exits_forget(struct migrated *md, const char *tank_id);

/* cascade.c: a tank that is gone takes its connections with it. simd said a tank is
 * unknown: confirm it (GET /api/tanks/{id} answers 404) and then remove its
 * connections. */
void cascade_verify_tank(struct migrated *md, const char *tank_id);

/* refusals.c: connections whose destination refuses fish pause, and broken ones (their
 * destination tank is gone) wait for it (scheduler.h has the rules). status and code are
 * the destination's answer; why is kept for the API. */
void refusals_note(struct migrated *md, const char *connection_id, const char *dest_tank,
		   long status, const char *code, const char *why);
void refusals_success(struct migrated *md, const char *connection_id);
/* The timer that reopens walls when pauses end and looks for broken connections' tanks. */
struct event *refusals_start(struct migrated *md);

/* delivery.c, delivery-outbox.c: reservations to commits, exactly once (DESIGN §6; the
 * transfers' internals are in delivery.h). */
struct delivery *delivery_new(struct migrated *md);
struct delivery *delivery_free(struct delivery *d);
/* A fresh reservation: simd's reserve answer (with entity_data); takes a reference. */
void delivery_start(struct migrated *md, json_object *reservation);
/* List simd's outbox and resume every record not already in flight. */
void delivery_resume_outbox(struct migrated *md);
size_t delivery_in_flight(const struct delivery *d);
/* Adds to out each server a transfer in flight is failing to reach (its delivery, or the
 * lookup of its address, has failed and is being tried again): one walk of them. */
void delivery_failing_servers(const struct delivery *d, struct strset *out);
json_object *delivery_list_json(const struct delivery *d);

/* peers.c: other servers' TCP bases as known to discoveryd: cached lookups. */
enum peer_state {
	PEER_UNKNOWN,	  /* not looked up yet, or the cache entry is stale */
	PEER_OK,	  /* known with a host and port */
	PEER_MISSING,	  /* discoveryd answered 404 */
	PEER_OFFLINE,	  /* known but offline */
	PEER_LOOKUP_FAIL, /* discoveryd did not answer */
};
struct peers *peers_new(void);
struct peers *peers_free(struct peers *ps);
enum peer_state peers_state(struct migrated *md, const char *server_id);
/* Whether server_id cannot take fish now: discoveryd does not know it (st MISSING) or
 * says it is offline, or a transfer in flight is failing to reach it (it is in failing,
 * delivery_failing_servers). The scheduler sends it no fish then (pass-hits.c) and its
 * connections' walls close (refusals.c). */
bool peers_cannot_take(enum peer_state st, const struct strset *failing, const char *server_id);
typedef void (*peer_cb)(enum peer_state st, void *arg);
/* Refresh the cache entry if stale (or always, with force), then call cb: later, or
 * at once when the entry is fresh. */
void peers_lookup(struct migrated *md, const char *server_id, bool force, peer_cb cb, void *arg);
/* "http://host:port" + path into buf for a server discoveryd has ever given an
 * address for (the entry may be stale); false when it never has. */
bool peers_url(struct migrated *md, const char *server_id, const char *path, char *buf, size_t len);

/* A request to server_id's simd (body and result as for request_send): this server's
 * over its Unix socket, another over TCP with the token. A server discoveryd never gave
 * an address for is looked up first (cb then reports a failed lookup as status 0, before
 * this returns when discoveryd cannot even be asked); -EHOSTUNREACH when discoveryd has
 * just said it has no address for it. */
int peers_request(struct migrated *md, const char *server_id, const char *method, const char *path,
		  json_object *body, fetch_cb cb, void *arg);
/* Over TCP with the token even when server_id is this server. */
int peers_request_remote(struct migrated *md, const char *server_id, const char *method,
			 const char *path, json_object *body, fetch_cb cb, void *arg);

/* api.c */
struct http_server *api_new(struct migrated *md);

#endif
