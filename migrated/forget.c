/* Once the source has committed, the transfer id is never sent again, so the
 * destination's inbox entry for it (kept so a retry is answered without a second
 * insert) can go. This keeps the inbox small, so its retention limits are never what
 * stands between a late retry and a duplicate. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "delivery.h"

static void on_forgotten(const struct fetch_response *r, void *arg)
{
	/* Best effort: a destination that missed this forgets the entry at its retention. */
	(void)r;
	(void)arg;
}

void forget_at_destination(struct migrated *md, const char *server_id,
			   const char *transfer_id)
{
	const struct conf *c = &md->daemon->conf;
	bool here = strcmp(server_id, c->server.server_id) == 0;
	char url[512];
	if (here) {
		snprintf(url, sizeof url, "http://simd/api/inbox/%s", transfer_id);
	} else {
		char path[TRANSFER_ID_MAX + 16];
		snprintf(path, sizeof path, "/api/inbox/%s", transfer_id);
		if (!peers_url(md, server_id, path, url, sizeof url))
			return;
	}
	long timeout = (long)(c->migration.request_timeout * 1000);
	struct fetch_request req = {
		.method = "DELETE",
		.url = url,
		.unix_path = here ? c->sim.socket : NULL,
		.token = here ? NULL : c->security.token,
		.timeout_ms = timeout,
		.connect_timeout_ms = timeout < 3000 ? timeout : 3000,
	};
	if (!md->stopping)
		fetch_start(md->fetch, &req, on_forgotten, NULL);
}
