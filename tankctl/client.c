/* tankctl's HTTP client: libcurl's easy interface (a command-line tool may block),
 * one handle reused for every request so keep-alive connections are reused. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "fsutil.h"
#include "jsonv.h"
#include "tankctl.h"
#include "xalloc.h"
#include "util.h"

#define MAX_RESPONSE (512u << 20)

int ctl_client_init(struct ctl *ctl)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	ctl->curl = curl_easy_init();
	return ctl->curl ? 0 : -1;
}

void ctl_client_done(struct ctl *ctl)
{
	if (ctl->curl)
		curl_easy_cleanup(ctl->curl);
	ctl->curl = NULL;
	curl_global_cleanup();
}

void endpoint_unix(struct endpoint *ep, const char *daemon, const char *path)
{
	memset(ep, 0, sizeof *ep);
	ep->tcp = false;
	snprintf(ep->unix_path, sizeof ep->unix_path, "%s", path);
	/* A host name per daemon: curl keys its connection cache by host, and the socket
	 * path alone would not keep the three apart on older versions. */
	snprintf(ep->base, sizeof ep->base, "http://%s", daemon);
	snprintf(ep->what, sizeof ep->what, "%s at %s", daemon, path);
}

int endpoint_tcp(struct endpoint *ep, const char *daemon, const char *host, int port)
{
	memset(ep, 0, sizeof *ep);
	if (!host_valid(host) || port < 1 || port > 65535)
		return -1;
	ep->tcp = true;
	if (strchr(host, ':'))
		snprintf(ep->base, sizeof ep->base, "http://[%s]:%d", host, port);
	else
		snprintf(ep->base, sizeof ep->base, "http://%s:%d", host, port);
	snprintf(ep->what, sizeof ep->what, "%s at %s", daemon, ep->base);
	return 0;
}

int url_split(const char *url, char *host, size_t hostlen, int *port)
{
	const char *p;
	if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return -1;
	size_t n;
	const char *rest;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close)
			return -1;
		n = (size_t)(close - p - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, p + 1, n);
		rest = close + 1;
	} else {
		n = strcspn(p, ":/");
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, p, n);
		rest = p + n;
	}
	host[n] = '\0';
	if (!host_valid(host))
		return -1;
	*port = 0;
	if (*rest == ':') {
		char *end;
		long x = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || x < 1 || x > 65535)
			return -1;
		*port = (int)x;
		rest = end;
	}
	if (*rest && strcmp(rest, "/") != 0)
		return -1;
	return 0;
}

struct buf {
	char *p;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	if (b->len + n + 1 > MAX_RESPONSE) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = xrealloc(b->p, cap);
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* Over TCP without the token, simd lists public tanks only and refuses to be asked for
 * more (401), unless it runs with insecure = yes, when it shows everything: asked once
 * per endpoint. The listings say when they are public only, or a private tank would look
 * absent (taking every server without a token for one, an audit of insecure servers
 * missed their private tanks and always ended "incomplete"). */
bool ctl_public_only(struct ctl *ctl, struct endpoint *ep)
{
	if (!ep->tcp || ctl->token)
		return false;
	if (ep->private_reads == 0) {
		struct reply r;
		if (ctl_request(ctl, ep, "GET", "/api/tanks?include_private=true", NULL, &r) == 0)
			ep->private_reads = r.status == 200 ? 1 : -1;
		reply_free(&r);
	}
	return ep->private_reads <= 0; /* not known (unreachable): as before */
}

const char *ctl_tanks_path(struct ctl *ctl, struct endpoint *ep)
{
	return ctl_public_only(ctl, ep) ? "/api/tanks" : "/api/tanks?include_private=true";
}

int ctl_request(struct ctl *ctl, const struct endpoint *ep, const char *method, const char *path,
		json_object *body, struct reply *r)
{
	CURL *c = ctl->curl;
	memset(r, 0, sizeof *r);
	char url[sizeof ep->base + 2048];
	snprintf(url, sizeof url, "%s%s", ep->base, path);
	curl_easy_reset(c);
	struct buf b = {0};
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tankctl/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	long ms = (long)(ctl->timeout * 1000);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms < 5000 ? ms : 5000L);
	if (!ep->tcp)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ep->unix_path);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	const char *text = body ? jv_to_string(body) : NULL;
	if (text) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	char auth[CONF_STR + 32];
	/* The token guards mutations over TCP, and private tanks and /metrics there too;
	 * the socket needs none. */
	if (ep->tcp && ctl->token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", ctl->token);
		hdr = curl_slist_append(hdr, auth);
		r->token_sent = true;
	}
	hdr = curl_slist_append(hdr, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	r->body = b.p ? b.p : strdup("");
	r->len = b.len;
	if (rc == CURLE_COULDNT_CONNECT && !ep->tcp) {
		fs_socket_fault(ep->unix_path, r->err, sizeof r->err);
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(r->err, sizeof r->err, "%s",
			 b.too_big   ? "the answer is too large"
			 : errbuf[0] ? errbuf
				     : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	struct json_err e;
	r->json = jv_parse_object(r->body, r->len, 128, &e);
	if (!r->json)
		snprintf(r->err, sizeof r->err, "the answer is not a JSON object: %.400s", e.msg);
	return 0;
}

void reply_free(struct reply *r)
{
	free(r->body);
	if (r->json)
		json_object_put(r->json);
	memset(r, 0, sizeof *r);
}

void reply_report(const struct endpoint *ep, const struct reply *r)
{
	if (r->status == 0) {
		fprintf(stderr, "tankctl: cannot reach %s: %s\n", ep->what, r->err);
		return;
	}
	const char *msg = r->json ? field_str(r->json, "error") : "";
	const char *code = r->json ? field_str(r->json, "code") : "";
	if (!*msg && r->json)
		msg = field_str(r->json, "message");
	char clean[600];
	snprintf(clean, sizeof clean, "%s", *msg ? msg : r->err[0] ? r->err : "no details");
	sanitize(clean);
	fprintf(stderr, "tankctl: %s: %s (HTTP %ld%s%s)\n", ep->what, clean, r->status,
		*code ? ", " : "", code);
	if (r->status == 401 && r->token_sent)
		fprintf(stderr, "tankctl: the cluster token was refused: [security] token_file "
				"must hold the same token as that server's\n");
	else if (r->status == 401)
		fprintf(stderr,
			"tankctl: this needs the cluster token: set [security] token_file in "
			"the configuration (-c), or run on the server itself\n");
}

int ctl_call(struct ctl *ctl, const struct endpoint *ep, const char *method, const char *path,
	     json_object *body, struct reply *r)
{
	if (ctl_request(ctl, ep, method, path, body, r) == 0 && r->status >= 200 &&
	    r->status < 300 && r->json)
		return 0;
	reply_report(ep, r);
	reply_free(r);
	return -1;
}

char *url_escape(struct ctl *ctl, const char *s)
{
	char *e = curl_easy_escape(ctl->curl, s, 0);
	if (!e)
		abort();
	char *out = xstrdup(e);
	curl_free(e);
	return out;
}

int ctl_resolve(struct ctl *ctl)
{
	if (ctl->resolved)
		return 0;
	if (!ctl->server_url) {
		endpoint_unix(&ctl->sim, "simd", ctl->conf.sim.socket);
		endpoint_unix(&ctl->mig, "migrated", ctl->conf.migration.socket);
		ctl->resolved = true;
		return 0;
	}
	/* A remote server: its discoveryd says where its simd and migrated listen. The
	 * host is the one the operator named, which is proven to reach that machine. */
	struct reply r;
	if (ctl_call(ctl, &ctl->disc, "GET", "/api/servers/local", NULL, &r) < 0)
		return -1;
	char host[CONF_STR];
	int dport;
	url_split(ctl->server_url, host, sizeof host, &dport);
	int sp = (int)field_int(r.json, "port"), mp = (int)field_int(r.json, "migration_port");
	int ok = endpoint_tcp(&ctl->sim, "simd", host, sp) == 0 &&
		 endpoint_tcp(&ctl->mig, "migrated", host, mp) == 0;
	if (!ok)
		fprintf(stderr, "tankctl: %s advertises invalid ports (simd %d, migrated %d)\n",
			ctl->disc.what, sp, mp);
	reply_free(&r);
	if (!ok)
		return -1;
	ctl->resolved = true;
	return 0;
}

int ctl_servers(struct ctl *ctl, struct ctl_server **ret, size_t *ret_n)
{
	struct reply r;
	if (ctl_call(ctl, &ctl->disc, "GET", "/api/discovery/servers", NULL, &r) < 0)
		return -1;
	json_object *list = field_arr(r.json, "servers");
	size_t n = list ? json_object_array_length(list) : 0;
	struct ctl_server *srv = xcalloc(n + 1, sizeof *srv);
	char url_host[CONF_STR] = "";
	int url_port;
	if (ctl->server_url)
		url_split(ctl->server_url, url_host, sizeof url_host, &url_port);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		struct ctl_server *sv = &srv[i];
		snprintf(sv->id, sizeof sv->id, "%s", field_str(e, "server_id"));
		snprintf(sv->status, sizeof sv->status, "%s", field_str(e, "status"));
		snprintf(sv->host, sizeof sv->host, "%s", field_str(e, "host"));
		sanitize(sv->id);
		sanitize(sv->host);
		sv->port = (int)field_int(e, "port");
		sv->local = field_bool(e, "is_local");
		if (sv->local && !ctl->server_url) {
			endpoint_unix(&sv->sim, "simd", ctl->conf.sim.socket);
			sv->ok = true;
		} else {
			/* The server --server names is reached at the host the operator gave. */
			const char *h = sv->local ? url_host : sv->host;
			sv->ok = endpoint_tcp(&sv->sim, "simd", h, sv->port) == 0;
			if (sv->ok)
				snprintf(sv->sim.what, sizeof sv->sim.what, "%s's simd at %.300s",
					 sv->id, sv->sim.base);
		}
	}
	reply_free(&r);
	*ret = srv;
	*ret_n = n;
	return 0;
}
