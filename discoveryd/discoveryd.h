/* discoveryd's shared state, wired in main.c. */
#ifndef TW_DISCOVERYD_H
#define TW_DISCOVERYD_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "fetch.h"
#include "http.h"
#include "registry.h"
#include "journal.h"

struct worker;
struct etcd;
struct api_lists;

struct discoveryd {
	struct daemon *daemon;
	struct registry *reg;
	struct http_server *http;
	struct fetch *fetch;
	struct journal *journal;
	uint64_t saved_rev; /* registry revision the journal holds */
	char listing[17];   /* this run's id, for readers paging a whole listing */
	bool migrate_legacy;
	struct worker *worker;	 /* NULL on a hub */
	struct etcd *etcd;	 /* backend = etcd, else NULL */
	struct api_lists *lists; /* whole listings being written (api-list.c) */
	struct event *sweep_timer, *save_timer;
	double sweep_period; /* as last armed (timer_every) */
	bool save_pending;
	double save_due; /* monotonic time the pending save is due */
	double started_mono;
	int tcp_port; /* bound TCP port of this daemon, 0 if none */
	struct server_info self;
	uint64_t heartbeats, registrations, unregistrations, evictions, saves;
	uint64_t hub_errors;
};

/* self.c: this server's own ServerInfo. */
void self_init(struct discoveryd *dd);
void self_refresh(struct discoveryd *dd);
/* True when the count changed. */
bool self_read_tank_count(struct discoveryd *dd);
const char *self_detect_host(char *buf, size_t len);

/* Persistence (main.c): urgent saves go out within a few ms, routine ones within a
 * heartbeat interval. */
void discoveryd_schedule_save(struct discoveryd *dd, bool urgent);

/* worker.c: the worker role, talking to the hub. */
struct worker *worker_new(struct discoveryd *dd, const char *hub_url);
struct worker *worker_free(struct worker *w);
void worker_set_hub(struct worker *w, const char *hub_urls);
/* Heartbeat every hub now, not at the next interval (what this server advertises changed). */
void worker_heartbeat_now(struct worker *w);
bool worker_registered(const struct worker *w);
size_t worker_hub_count(const struct worker *w);
/* Hub i of the list: its URL, its index in the registry's hub masks, whether it
 * answered this server within heartbeat_timeout, whether it is this server. */
const char *worker_hub_url(const struct worker *w, size_t i, unsigned *index, bool *reached,
			   bool *self);

/* etcd.c: the etcd backend. */
struct etcd *etcd_new(struct discoveryd *dd);
struct etcd *etcd_free(struct etcd *e);
/* A reload: keep-alives at the new heartbeat_interval, and, when the interval or the
 * timeout changed, a new lease with the new TTL at once. */
void etcd_reload(struct etcd *e, bool timing_changed);
/* Write this server's entry now if it changed, not at the next interval. */
void etcd_heartbeat_now(struct etcd *e);
bool etcd_connected(const struct etcd *e);
const char *etcd_endpoint(const struct etcd *e);

/* "hub", "worker" or "etcd" */
const char *discoveryd_role(const struct discoveryd *dd);

/* api.c */
struct http_server *api_new(struct discoveryd *dd);

/* api-list.c: the whole list a slice per turn of the loop, one server's entry. */
void api_list_init(struct discoveryd *dd);
void api_list_free(struct discoveryd *dd);
void api_list_all(struct http_ctx *ctx, struct discoveryd *dd, bool include_local, int want);
void api_list_entry(struct http_ctx *ctx, struct discoveryd *dd, const struct server_entry *e);

#endif
