/* The door (issue 19): simd's TCP listener serves the server's whole API, relaying to
 * its siblings over their Unix sockets (libcommon/relay.h). The table below is the one
 * place that says which sibling owns which path; api.c's routes only admit the paths.
 * Every method goes, with the caller's Authorization: simd checks the token on a TCP
 * mutation before relaying it, by the same rule as the sibling's own listener. The web
 * app reads the registry, connections and transfers the same way. Created on first
 * use: a simd nobody calls through never loads libcurl. */
#include "config.h"

#include "api-extra.h"
#include "fetch.h"
#include "relay.h"

static struct fetch *relay_fetch;
static struct relay *relay;

void api_relay(struct http_ctx *ctx)
{
	struct simd *sd = ctx->arg;
	if (!relay) {
		const struct conf *c = &sd->daemon->conf;
		const int all = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH;
		const char *disc = c->discovery.socket, *mig = c->migration.socket;
		const struct relay_route routes[] = {
			{"/api/discovery", disc, all, true},
			{"/api/servers/local", disc, all, true},
			{"/api/connections", mig, all, true},
			{"/api/transfers", mig, all, true},
			{"/api/migrations", mig, all, true},
			{"/api/tanks/{id}/transfer-stats", mig, all, true},
		};
		relay_fetch = fetch_new(sd->daemon->base);
		relay = relay_new(relay_fetch, routes, sizeof routes / sizeof routes[0], NULL);
	}
	relay_forward(relay, ctx);
}

void api_relay_free(void)
{
	relay = relay_free(relay);
	relay_fetch = fetch_free(relay_fetch);
}
