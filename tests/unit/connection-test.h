/* A connection for migrated's unit tests (test-connections, test-scheduler): source
 * server s1, the other fields as given. */
#ifndef TW_CONNECTION_TEST_H
#define TW_CONNECTION_TEST_H

#include <stdio.h>

#include "connections.h"

static inline struct connection test_connection(const char *id, const char *src, const char *dst,
						const char *dserver, int prob, enum direction d)
{
	struct connection c = {.probability = prob, .direction = d};
	snprintf(c.id, sizeof c.id, "%s", id);
	snprintf(c.source_tank_id, sizeof c.source_tank_id, "%s", src);
	snprintf(c.destination_tank_id, sizeof c.destination_tank_id, "%s", dst);
	snprintf(c.source_server_id, sizeof c.source_server_id, "s1");
	snprintf(c.destination_server_id, sizeof c.destination_server_id, "%s", dserver);
	return c;
}

#endif
