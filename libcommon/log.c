#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "tankworld";
static int log_level = LOG_INFO;
static bool log_journal; /* stderr is the journal: prefix "<N>" instead of timestamps */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, int max_priority)
{
	log_ident = ident;
	log_level = max_priority;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(int max_priority)
{
	log_level = max_priority;
}

int log_get_level(void)
{
	return log_level;
}

int log_level_from_string(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "error") == 0)
		return LOG_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_WARNING;
	return -EINVAL;
}

const char *log_level_to_string(int priority)
{
	if (priority < LOG_EMERG || priority > LOG_DEBUG)
		return "?";
	return level_names[priority];
}

static void log_vmsg(int priority, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_journal) {
		fprintf(stderr, "<%d>%s\n", priority, line);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%s]: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, log_ident, level_names[priority], line);
	}
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

void log_msg(int priority, const char *fmt, ...)
{
	if (priority > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	/* _exit, not exit: after a failed fsync nothing more may run, neither another
	 * thread's work while exit handlers tear the process down nor a flush of stdio
	 * buffers. The message is already out (stderr is unbuffered). It also spares the
	 * sanitizer build a leak report of everything the process still held. */
	_exit(1);
}
