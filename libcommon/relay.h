/* A relay from a daemon's HTTP listener to a sibling daemon's Unix socket: the web app
 * gets everything from the simd that served it, and simd passes on what the page needs
 * from its own discoveryd and migrated.
 *
 * The relay is driven by a route table. A request is passed on only when its path is a
 * route's prefix or lies under it ("/api/connections" admits "/api/connections/abc") and
 * its method is one the route allows; its path and query must be plain URL characters
 * with no "." or ".." segment. The sibling's status and JSON body come back unchanged;
 * a sibling that does not answer in time is a JSON 504, one that cannot be reached a
 * 502, an answer above max_response a 502. Bodies (for routes that allow methods with
 * one) go through up to the listener's own body limit, with their Content-Type; with
 * pass_auth the caller's Authorization header goes too, so that a relayed mutation is
 * checked by the sibling as if it had been sent there. */
#ifndef TW_RELAY_H
#define TW_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "fetch.h"
#include "http.h"

struct relay_route {
	const char *prefix; /* "/api/connections" */
	const char *socket; /* the sibling's Unix socket; must outlive the relay */
	int methods;	    /* EVHTTP_REQ_GET | ... */
	bool pass_auth;	    /* forward the Authorization header */
};

struct relay_opts {
	long timeout_ms;     /* whole exchange with the sibling; default 5000 */
	size_t max_response; /* default 4 MiB */
};

struct relay;

/* routes is copied (the strings are not). f is the daemon's fetch client. */
struct relay *relay_new(struct fetch *f, const struct relay_route *routes, size_t n,
			const struct relay_opts *opts);
struct relay *relay_free(struct relay *r);
/* The route that admits this method and path, or NULL (exposed for tests). */
const struct relay_route *relay_match(const struct relay *r, int method, const char *path);
/* Pass the request on and answer it later; answers a JSON 404 (no route), 405 (method),
 * 400 (unsafe path or query) at once. */
void relay_forward(struct relay *r, struct http_ctx *ctx);

#endif
