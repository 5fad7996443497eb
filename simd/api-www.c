/* The web app: GET / is www/index.html, GET /static/... the files beside it. The folder
 * is sim.www_dir, or by default the installed $(pkgdatadir)/www, or the source tree's
 * www/ when this simd runs from its build tree (so a build works without installing).
 *
 * Names are checked segment by segment ([A-Za-z0-9_-] and dots, never first) before
 * anything touches the file system, so "..", encoded or not, cannot name anything, and
 * the file is opened without following a symbolic link. Replies carry an ETag and
 * Last-Modified and answer 304 to a matching If-None-Match or If-Modified-Since. */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api-extra.h"
#include "log.h"

#define WWW_MAX_FILE (8u << 20)

static const char *www_dir(struct simd *sd)
{
	static char dir[PATH_MAX];
	const char *conf = sd->daemon->conf.sim.www_dir;
	if (conf[0])
		return conf;
	if (dir[0])
		return dir;
	/* Installed (the binary runs from sbindir): the installed files. Otherwise a build
	 * tree: its source tree's www/, when there is one. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	bool installed = strcmp(exe, SBINDIR "/simd") == 0;
	if (!installed && access(TW_SRCDIR "/www/index.html", R_OK) == 0)
		snprintf(dir, sizeof dir, "%s", TW_SRCDIR "/www");
	else
		snprintf(dir, sizeof dir, "%s", PKGDATADIR "/www");
	log_info("web app: serving %s", dir);
	return dir;
}

/* Said once at the start: a www_dir without the app (a typo, or an install without its
 * data) otherwise showed only as a 404 in the browser, with nothing in the log. */
void api_www_check(struct simd *sd)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/index.html", www_dir(sd));
	if (access(path, R_OK) < 0)
		log_warn("web app: %s cannot be read (%s): the viewer answers 404; set [sim] "
			 "www_dir to the folder that holds index.html",
			 path, strerror(errno));
}

static bool name_ok(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
		{".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

static void http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static time_t parse_http_date(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
	return end && !*end ? timegm(&tm) : (time_t)-1;
}

/* www/<name> when top, else www/static/[<sub>/]<name>. */
static void serve(struct http_ctx *ctx, bool top, const char *sub, const char *name)
{
	struct simd *sd = ctx->arg;
	const char *type = content_type(name);
	if ((sub && !name_ok(sub)) || !name_ok(name) || !type) {
		http_reply_error(ctx->req, 404, "not_found", "no such file");
		return;
	}
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s%s%s%s", www_dir(sd), top ? "" : "static/",
			 sub ? sub : "", sub ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof path) {
		http_reply_error(ctx->req, 404, "not_found", "no such file");
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WWW_MAX_FILE) {
		if (fd >= 0)
			close(fd);
		http_reply_error(ctx->req, 404, "not_found", "no such file");
		return;
	}
	char etag[96], lm[64];
	snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec);
	http_date(st.st_mtime, lm, sizeof lm);
	struct evkeyvalq *in = evhttp_request_get_input_headers(ctx->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(ctx->req);
	evhttp_add_header(out, "ETag", etag);
	evhttp_add_header(out, "Last-Modified", lm);
	/* Revalidate every time: a new install must show at once, and a 304 is cheap. */
	evhttp_add_header(out, "Cache-Control", "no-cache");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	const char *inm = evhttp_find_header(in, "If-None-Match");
	const char *ims = evhttp_find_header(in, "If-Modified-Since");
	time_t since = inm ? (time_t)-1 : parse_http_date(ims);
	if ((inm && strstr(inm, etag)) || (since != (time_t)-1 && st.st_mtime <= since)) {
		close(fd);
		evhttp_send_reply(ctx->req, 304, "Not Modified", NULL);
		return;
	}
	http_reply_file(ctx->req, type, fd, (size_t)st.st_size);
}

void api_www_index(struct http_ctx *ctx)
{
	serve(ctx, true, NULL, "index.html");
}

void api_www_static(struct http_ctx *ctx)
{
	serve(ctx, false, http_param(ctx, "dir"), http_param(ctx, "name"));
}
