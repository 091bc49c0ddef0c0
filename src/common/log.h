/*
 * log.h -- one line per event on stderr.
 *
 * Every line is "TIMESTAMP LEVEL message". Every level is written (there
 * is no minimum level to configure), and the logger holds no state at all,
 * so there is no process-wide mutable global here.
 */
#ifndef GTM_COMMON_LOG_H
#define GTM_COMMON_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Writes one line to stderr; fmt must not end in a newline (control
 * characters in the formatted message are escaped, see log_escape).
 * Thread-safe (a single write(2) per line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies in to out (size n) with '"' and '\\' escaped and control
 * characters replaced, for a key="value" field; returns out. */
const char *log_quote(const char *in, char *out, size_t n);

/* Copies in to out (size n > 0, always NUL-terminated) with every control
 * character (< 0x20, 0x7f) written as \n, \r, \t or \xHH, cut at a whole
 * character when out is full; returns the length written. log_msg applies
 * it to every message, so no value can break a log line. */
size_t log_escape(const char *in, char *out, size_t n);

#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
