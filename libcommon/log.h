/* Logging to stderr. Under systemd (JOURNAL_STREAM set) each line carries a
 * "<N>" syslog priority prefix so the journal keeps the level. */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <syslog.h>

void log_init(const char *ident, int max_priority);
void log_set_level(int max_priority);
int log_get_level(void);
/* Parse "err", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int priority);

void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Log at LOG_CRIT and exit(1). For broken invariants and failed fsyncs. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
