/*
 * log.c -- one line per event on stderr.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_DEBUG:
        return "debug";
    case LOG_LEVEL_INFO:
        return "info";
    case LOG_LEVEL_WARN:
        return "warn";
    default:
        return "error";
    }
}

size_t log_escape(const char *in, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (n == 0)
        return 0;
    for (; *in; in++) {
        unsigned char c = (unsigned char)*in;
        if (c >= 0x20 && c != 0x7f) {
            if (o + 1 >= n)
                break;
            out[o++] = (char)c;
            continue;
        }
        /* \n, \r, \t by name, every other control octet as \xHH: the
         * line stays one line and the value can still be read back. */
        char esc = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        size_t need = esc ? 2 : 4;
        if (o + need >= n)
            break;
        out[o++] = '\\';
        if (esc)
            out[o++] = esc;
        else {
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", (long)(tv.tv_usec / 1000),
                          log_level_name(level));
    va_start(ap, fmt);
    int w = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w < 0)
        msg[0] = '\0';
    /* Whatever a caller passed (a name from a file, a client's bytes), a
     * control character never reaches the log raw: a newline in a value
     * cannot end the line early and forge the next one. */
    n += log_escape(msg, line + n, sizeof(line) - n - 1);
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}

const char *log_quote(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else
            out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[o] = '\0';
    return out;
}
