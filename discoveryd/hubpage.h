/* A hub's diff page (GET /api/discovery/servers?since=&epoch=, docs/discovery.md), as a
 * worker reads it: parsed and checked here, applied to the registry's view of that hub.
 * No HTTP: the worker fetches, this reads, so the reading can be fuzzed. */
#ifndef TW_DISCOVERYD_HUBPAGE_H
#define TW_DISCOVERYD_HUBPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonv.h"
#include "registry.h"

struct hub_page {
	json_object *root;		/* owned */
	json_object *servers, *removed; /* arrays; removed may be NULL */
	const char *epoch;		/* NULL: a hub without epochs */
	const char *listing;		/* NULL: a hub without listing ids */
	int64_t revision;		/* -1: a hub without revisions (the original) */
	bool more, reset;
};

/* 0 with *p filled, or -1 with e saying why (nothing to free then). */
int hub_page_parse(const char *body, size_t len, struct hub_page *p, struct json_err *e);
/* Removals first, then the listed servers, into the view of hub `hub`; an entry that
 * does not validate is logged (naming url) and skipped. Returns the changes made. */
size_t hub_page_apply(const struct hub_page *p, struct registry *reg, unsigned hub, const char *url,
		      double now);
void hub_page_free(struct hub_page *p);
/* Logs, in one line, the servers a hub (or etcd) listed since the last call that the
 * registry did not learn for its bound; what and name say who listed them. */
void hub_log_refused(struct registry *reg, const char *what, const char *name);

#endif
