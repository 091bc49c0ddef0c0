/*
 * zone_split.c -- cutting a master file in two for parallel parsing.
 */
#include "zone/zone_split.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends the directive line buf[s, e) and a newline to out->prefix. */
static bool split_add_directive(struct zone_split *out, const char *buf, size_t s, size_t e)
{
    char *p = realloc(out->prefix, out->prefix_len + (e - s) + 2);
    if (!p)
        return false;
    out->prefix = p;
    memcpy(p + out->prefix_len, buf + s, e - s);
    out->prefix_len += e - s;
    p[out->prefix_len++] = '\n';
    p[out->prefix_len] = '\0';
    return true;
}

/* At the start of a line outside parentheses: true to go on scanning, with
 * *cut set when this line is the cut. False to give up. */
static bool split_line_start(const char *buf, size_t len, size_t pos, size_t from,
                             struct zone_split *out, bool *cut)
{
    char ch = pos < len ? buf[pos] : '\n';
    if (ch == '$') {
        size_t e = pos;
        while (e < len && buf[e] != '\n')
            e++;
        if (e - pos >= 8 && strncasecmp(buf + pos, "$INCLUDE", 8) == 0)
            return false; /* the included file's state is not scanned */
        if ((e - pos >= 7 && strncasecmp(buf + pos, "$ORIGIN", 7) == 0) ||
            (e - pos >= 4 && strncasecmp(buf + pos, "$TTL", 4) == 0))
            return split_add_directive(out, buf, pos, e);
        return true;
    }
    /* A blank first character continues the previous owner: no cut there. */
    *cut = pos >= from && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && ch != ';' &&
           ch != '(';
    return true;
}

bool zone_split_find(const char *buf, size_t len, size_t from, struct zone_split *out)
{
    int depth = 0, line = 1;
    bool quoted = false, cut = false;
    memset(out, 0, sizeof(*out));
    if (!split_line_start(buf, len, 0, from, out, &cut))
        goto fail;
    for (size_t i = 0; i < len && !cut; i++) {
        char ch = buf[i];
        if (ch == '\\') { /* an escaped character is never syntax */
            if (i + 1 < len && buf[i + 1] == '\n')
                line++;
            i++;
        } else if (quoted) {
            quoted = ch != '"';
            line += ch == '\n';
        } else if (ch == '"') {
            quoted = true;
        } else if (ch == ';') {
            while (i + 1 < len && buf[i + 1] != '\n')
                i++;
        } else if (ch == '(') {
            depth++;
        } else if (ch == ')') {
            if (--depth < 0)
                goto fail;
        } else if (ch == '\n') {
            line++;
            if (depth == 0 && i + 1 < len) {
                if (!split_line_start(buf, len, i + 1, from, out, &cut))
                    goto fail;
                if (cut) {
                    out->at = i + 1;
                    out->line = line;
                }
            }
        }
    }
    if (cut)
        return true;
fail:
    free(out->prefix);
    memset(out, 0, sizeof(*out));
    return false;
}
