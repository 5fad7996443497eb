#include "config.h"

/* The functions are called through the table below, never the type-checking macros. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "fetch.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

/* libcurl is opened on first use, not linked: discoveryd as a hub and simd never make
 * an outgoing request, and libcurl's dependencies (TLS, Kerberos, LDAP, SSH libraries)
 * would otherwise be mapped into every daemon, several megabytes of resident memory
 * each. systemd loads its heavy optional libraries the same way. */
static struct {
	void *lib;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	/* libcurl 7.83 and later; without it an answer's headers are not reported. */
	CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int,
				 struct curl_header **);
} cu;

static void load_curl(void)
{
	if (cu.lib)
		return;
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		fatal("cannot load libcurl (libcurl.so.4): %s", dlerror());
#define SYM(field, name)                                 \
	do {                                             \
		*(void **)&cu.field = dlsym(lib, name);  \
		if (!cu.field)                           \
			fatal("libcurl lacks %s", name); \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_assign, "curl_multi_assign");
	SYM(multi_socket_action, "curl_multi_socket_action");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
	*(void **)&cu.easy_header = dlsym(lib, "curl_easy_header");
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
	cu.lib = lib;
}

struct fetch_job {
	struct fetch *f;
	CURL *easy;
	struct curl_slist *headers;
	char *url, *unix_path, *method, *body;
	size_t body_len;
	char *resp;
	size_t resp_len, resp_cap, max_response;
	bool too_large; /* the answer passed max_response: a failure that retrying repeats */
	long timeout_ms, connect_timeout_ms, backoff_ms;
	int retries_left;
	char errbuf[CURL_ERROR_SIZE];
	fetch_data_cb on_data;
	fetch_cb cb;
	void *arg;
	struct event *retry_timer;
	LIST_ENTRY(fetch_job) link;
};

struct fetch_sock {
	struct event *ev;
};

struct fetch {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	LIST_HEAD(, fetch_job) jobs;
	size_t pending;
};

static void check_done(struct fetch *f);

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_job *j = arg;
	size_t len = size * n;
	if (j->resp_len + len > j->max_response) {
		j->too_large = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (j->resp_len + len + 1 > j->resp_cap) {
		size_t cap = j->resp_cap ? j->resp_cap : 1024;
		while (cap < j->resp_len + len + 1)
			cap *= 2;
		j->resp = xrealloc(j->resp, cap);
		j->resp_cap = cap;
	}
	memcpy(j->resp + j->resp_len, data, len);
	j->resp_len += len;
	j->resp[j->resp_len] = '\0';
	if (j->on_data) {
		long status = 0;
		cu.easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
		size_t used = j->on_data(j->resp, j->resp_len, status, j->arg);
		if (used == (size_t)-1)
			return 0; /* the caller gave up on this stream */
		if (used > j->resp_len)
			used = j->resp_len;
		memmove(j->resp, j->resp + used, j->resp_len - used);
		j->resp_len -= used;
		j->resp[j->resp_len] = '\0';
	}
	return len;
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
		     (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	cu.multi_socket_action(f->multi, fd, action, &running);
	check_done(f);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct fetch *f = userp;
	struct fetch_sock *fs = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (fs) {
			event_free(fs->ev);
			free(fs);
			cu.multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
			     (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
	if (!fs) {
		fs = xcalloc(1, sizeof *fs);
		cu.multi_assign(f->multi, s, fs);
	} else {
		event_free(fs->ev);
	}
	fs->ev = event_new(f->base, s, kind, on_socket_event, f);
	if (!fs->ev)
		abort();
	event_add(fs->ev, NULL);
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	int running;
	cu.multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetch *f = userp;
	if (timeout_ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	/* Never call curl from here (CURLMOPT_TIMERFUNCTION): fire from the loop. */
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(f->timer, &tv);
	return 0;
}

static void job_free(struct fetch_job *j)
{
	if (j->retry_timer)
		event_free(j->retry_timer);
	if (j->easy)
		cu.easy_cleanup(j->easy);
	cu.slist_free_all(j->headers);
	free(j->url);
	free(j->unix_path);
	free(j->method);
	free(j->body);
	free(j->resp);
	free(j);
}

static int job_launch(struct fetch_job *j)
{
	if (j->easy)
		cu.easy_cleanup(j->easy);
	j->resp_len = 0;
	j->too_large = false;
	if (j->resp)
		j->resp[0] = '\0';
	j->errbuf[0] = '\0';
	CURL *e = cu.easy_init();
	if (!e)
		return -ENOMEM;
	j->easy = e;
	cu.easy_setopt(e, CURLOPT_URL, j->url);
	if (j->unix_path)
		cu.easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, j->unix_path);
	cu.easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
	if (strcmp(j->method, "HEAD") == 0)
		cu.easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (j->body) {
		cu.easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
		cu.easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)j->body_len);
	}
	cu.easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
	cu.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, j->connect_timeout_ms);
	cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	cu.easy_setopt(e, CURLOPT_WRITEDATA, j);
	cu.easy_setopt(e, CURLOPT_PRIVATE, j);
	cu.easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	cu.easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	/* A peer that answers slowly must not pin a connection forever; our own proxies
	 * (none) are never used for cluster traffic. */
	cu.easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (cu.multi_add_handle(j->f->multi, e) != CURLM_OK)
		return -EIO;
	return 0;
}

static void finish(struct fetch_job *j, const struct fetch_response *r)
{
	struct fetch *f = j->f;
	LIST_REMOVE(j, link);
	f->pending--;
	fetch_cb cb = j->cb;
	void *arg = j->arg;
	cb(r, arg);
	job_free(j);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_job *j = arg;
	if (job_launch(j) < 0) {
		struct fetch_response r = {.status = 0,
					   .body = "",
					   .error = "cannot start request",
					   .transport_error = -1,
					   .job = j};
		finish(j, &r);
	}
}

/* A header of the final answer, valid until the handle is freed (after the callback). */
static const char *answer_header(CURL *easy, const char *name)
{
	struct curl_header *h;
	if (!cu.easy_header || cu.easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return h->value;
}

static void check_done(struct fetch *f)
{
	CURLMsg *msg;
	int left;
	while ((msg = cu.multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* Copy before remove_handle: msg is invalid afterwards (multi-event.c). */
		CURL *easy = msg->easy_handle;
		CURLcode res = msg->data.result;
		struct fetch_job *j;
		cu.easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
		cu.multi_remove_handle(f->multi, easy);
		struct fetch_response r = {.body = j->resp ? j->resp : "",
					   .len = j->resp_len,
					   .job = j};
		cu.easy_getinfo(easy, CURLINFO_TOTAL_TIME, &r.seconds);
		if (res == CURLE_OK) {
			cu.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
			r.allow = answer_header(easy, "Allow");
			r.retry_after = answer_header(easy, "Retry-After");
		} else {
			r.status = 0;
			r.transport_error = (int)res;
			r.error = j->errbuf[0] ? j->errbuf : cu.easy_strerror(res);
			if (res == CURLE_COULDNT_CONNECT && j->unix_path)
				r.error = fs_socket_fault(j->unix_path, j->errbuf, sizeof j->errbuf);
			r.too_large = j->too_large;
			if (j->too_large) {
				snprintf(j->errbuf, sizeof j->errbuf,
					 "the answer is larger than %zu bytes", j->max_response);
				r.error = j->errbuf;
			}
			if (j->retries_left > 0 && !j->too_large) {
				j->retries_left--;
				struct timeval tv = {j->backoff_ms / 1000,
						     (j->backoff_ms % 1000) * 1000};
				j->backoff_ms *= 2;
				if (!j->retry_timer)
					j->retry_timer = evtimer_new(f->base, on_retry, j);
				evtimer_add(j->retry_timer, &tv);
				continue;
			}
		}
		finish(j, &r);
	}
}

char *fetch_take_body(const struct fetch_response *r, size_t *len)
{
	struct fetch_job *j = r->job;
	if (!j || !j->resp || r->body != j->resp) { /* an answer made up by the caller */
		char *copy = xmalloc(r->len + 1);
		memcpy(copy, r->body, r->len);
		copy[r->len] = '\0';
		*len = r->len;
		return copy;
	}
	char *body = j->resp;
	*len = j->resp_len;
	j->resp = NULL;
	j->resp_len = j->resp_cap = 0;
	return body;
}

struct fetch *fetch_new(struct event_base *base)
{
	struct fetch *f = xcalloc(1, sizeof *f);
	load_curl();
	f->base = base;
	f->multi = cu.multi_init();
	f->timer = evtimer_new(base, on_timer, f);
	if (!f->multi || !f->timer)
		abort();
	LIST_INIT(&f->jobs);
	cu.multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	cu.multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	cu.multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	cu.multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	cu.multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	cu.multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, 64L);
	return f;
}

struct fetch *fetch_free(struct fetch *f)
{
	if (!f)
		return NULL;
	struct fetch_job *j;
	while ((j = LIST_FIRST(&f->jobs))) {
		LIST_REMOVE(j, link);
		if (j->easy)
			cu.multi_remove_handle(f->multi, j->easy);
		job_free(j);
	}
	cu.multi_cleanup(f->multi);
	event_free(f->timer);
	free(f);
	return NULL;
}

void fetch_cancel_arg(struct fetch *f, void *arg)
{
	struct fetch_job *j, *next;
	for (j = LIST_FIRST(&f->jobs); j; j = next) {
		next = LIST_NEXT(j, link);
		if (j->arg != arg)
			continue;
		LIST_REMOVE(j, link);
		f->pending--;
		if (j->easy)
			cu.multi_remove_handle(f->multi, j->easy);
		job_free(j);
	}
}

size_t fetch_pending(const struct fetch *f)
{
	return f->pending;
}

static char *xstrdup0(const char *s)
{
	if (!s)
		return NULL;
	return xstrdup(s);
}

int fetch_start(struct fetch *f, const struct fetch_request *req, fetch_cb cb, void *arg)
{
	if (!req->url)
		return -EINVAL;
	struct fetch_job *j = xcalloc(1, sizeof *j);
	j->f = f;
	j->url = xstrdup0(req->url);
	j->unix_path = xstrdup0(req->unix_path);
	j->method = xstrdup0(req->method ? req->method : "GET");
	if (req->body) {
		j->body = xmalloc(req->body_len + 1);
		memcpy(j->body, req->body, req->body_len);
		j->body[req->body_len] = '\0';
		j->body_len = req->body_len;
		j->headers = cu.slist_append(j->headers, "Content-Type: application/json");
	}
	j->headers = cu.slist_append(j->headers, "Accept: application/json");
	/* Expect: 100-continue costs a round trip per POST; our bodies are small. */
	j->headers = cu.slist_append(j->headers, "Expect:");
	if (req->token && req->token[0]) {
		char h[320];
		snprintf(h, sizeof h, "Authorization: Bearer %s", req->token);
		j->headers = cu.slist_append(j->headers, h);
	}
	if (req->untrusted_caller)
		j->headers = cu.slist_append(j->headers, HTTP_UNTRUSTED_CALLER ": untrusted");
	j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 10000;
	j->connect_timeout_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 3000;
	if (j->connect_timeout_ms > j->timeout_ms)
		j->connect_timeout_ms = j->timeout_ms;
	j->retries_left = req->retries;
	j->backoff_ms = req->backoff_ms > 0 ? req->backoff_ms : 200;
	j->max_response = req->max_response ? req->max_response : (4u << 20);
	j->on_data = req->on_data;
	if (req->no_timeout)
		j->timeout_ms = 0; /* curl: no limit */
	j->cb = cb;
	j->arg = arg;
	int r = job_launch(j);
	if (r < 0) {
		job_free(j);
		return r;
	}
	LIST_INSERT_HEAD(&f->jobs, j, link);
	f->pending++;
	return 0;
}
