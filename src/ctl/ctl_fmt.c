/*
 * ctl_fmt.c -- how gtmctl prints times and numbers: Unix times as ISO 8601
 * UTC, and real numbers in the fewest digits that read back as the same
 * double (38.9, not jansson's 17-digit 38.899999999999999), in human
 * output and in --json output alike.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

const char *ctl_time(json_t *v, char *buf, size_t len)
{
    if (!json_is_number(v))
        return "-";
    time_t t = (time_t)json_number_value(v);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *ctl_real(double v, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%g", v);
        return buf;
    }
    /* Whole numbers as integers, not "1e+05". */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* Copies the number token at *in to *out, a real one in its shortest
 * form (still with a '.' or an exponent, so it stays a real). */
static void ctl_fmt_number(const char **in, char **out)
{
    size_t n = strspn(*in, "-+.eE0123456789");
    char tok[64], buf[40];
    if (n >= sizeof(tok) ||
        (!memchr(*in, '.', n) && !memchr(*in, 'e', n) && !memchr(*in, 'E', n))) {
        memcpy(*out, *in, n);
        *out += n;
        *in += n;
        return;
    }
    memcpy(tok, *in, n);
    tok[n] = '\0';
    ctl_real(strtod(tok, NULL), buf, sizeof(buf));
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    size_t m = strlen(buf);
    memcpy(*out, buf, m);
    *out += m;
    *in += n;
}

char *ctl_json_dumps(json_t *j, size_t flags)
{
    char *text = json_dumps(j, flags | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    /* A real never grows by more than its ".0": twice the size is room. */
    char *res = malloc(2 * strlen(text) + 1), *out = res;
    if (!res)
        abort();
    const char *in = text;
    bool str = false;
    while (*in) {
        if (str) {
            if (*in == '\\' && in[1])
                *out++ = *in++;
            else if (*in == '"')
                str = false;
            *out++ = *in++;
        } else if (*in == '-' || (*in >= '0' && *in <= '9')) {
            ctl_fmt_number(&in, &out);
        } else {
            str = *in == '"';
            *out++ = *in++;
        }
    }
    *out = '\0';
    free(text);
    return res;
}
