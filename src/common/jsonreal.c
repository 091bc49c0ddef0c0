/*
 * jsonreal.c -- JSON reals in their shortest round-trip form (see
 * jsonreal.h).
 */
#include "common/jsonreal.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *jsonreal_format(double v, char *buf, size_t len)
{
    if (!isfinite(v)) { /* jansson refuses them; never in its text */
        snprintf(buf, len, "%g", v);
        return buf;
    }
    /* Whole numbers as jansson writes them ("10.0", not "1e+01"): below
     * 1e17 "%.17g" writes every digit, and the double is that integer. */
    if (v == floor(v) && fabs(v) < 1e17) {
        snprintf(buf, len, "%.0f", v);
        if (strlen(buf) + 3 <= len)
            strcat(buf, ".0");
        return buf;
    }
    /* Any decimal of at most 15 significant digits (DBL_DIG) survives a
     * trip through a double: when v has such a form, "%.15g" writes it
     * (and drops the trailing zeros); else 16 or 17 digits do. So three
     * tries at most, not seventeen (timestamps take 17). Subnormals
     * (below DBL_MIN) have fewer digits of their own: every length. */
    for (int p = fabs(v) < DBL_MIN ? 1 : 15; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eE") && strlen(buf) + 3 <= len)
        strcat(buf, ".0"); /* "5" would read back as an integer */
    return buf;
}

/* Copies the number token at *in to *out: a real one (with '.' or an
 * exponent: how jansson tells them from integers) in its shortest form,
 * unless that is longer than jansson's (it never is, see below: kept
 * as written then, exact all the same), so the text never grows. */
static void jsonreal_token(const char **in, char **out)
{
    size_t n = strspn(*in, "-+.eE0123456789");
    char tok[64], buf[40];
    const char *src = *in;
    size_t m = n;
    if (n < sizeof(tok) && (memchr(*in, '.', n) || memchr(*in, 'e', n) || memchr(*in, 'E', n))) {
        memcpy(tok, *in, n);
        tok[n] = '\0';
        jsonreal_format(strtod(tok, NULL), buf, sizeof(buf));
        if (strlen(buf) <= n) {
            src = buf;
            m = strlen(buf);
        }
    }
    memcpy(*out, src, m);
    *out += m;
    *in += n;
}

char *jsonreal_dumps(const json_t *j, size_t flags)
{
    char *text = j ? json_dumps(j, flags | JSON_ENCODE_ANY) : NULL;
    if (!text)
        return NULL;
    /* jansson writes every real in "%.17g": fewer digits in the same
     * notation are never longer (a whole number keeps jansson's form; a
     * fraction stays in fixed notation; an exponent stays one, or a
     * rounding up makes it fixed and shorter), and jsonreal_token keeps
     * a token that would grow: the text only shrinks. */
    size_t len = strlen(text);
    char *res = malloc(len + 1), *out = res;
    if (!res)
        abort();
    const char *in = text;
    bool str = false;
    while (*in) {
        if (str) { /* inside a string: copied as is, escapes included */
            if (*in == '\\' && in[1])
                *out++ = *in++;
            else if (*in == '"')
                str = false;
            *out++ = *in++;
        } else if (*in == '-' || (*in >= '0' && *in <= '9')) {
            jsonreal_token(&in, &out);
        } else {
            str = *in == '"';
            *out++ = *in++;
        }
    }
    *out = '\0';
    free(text);
    return res;
}
