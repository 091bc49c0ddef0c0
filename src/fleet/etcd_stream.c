/*
 * etcd_stream.c -- incremental framing of a stream of JSON objects.
 */
#include "fleet/etcd_stream.h"

#include <stdlib.h>
#include <string.h>

void etcd_stream_init(struct etcd_stream *s)
{
    memset(s, 0, sizeof(*s));
}

void etcd_stream_free(struct etcd_stream *s)
{
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

static int etcd_stream_append(struct etcd_stream *s, const char *data, size_t n)
{
    if (n == 0) /* memcpy with a NULL buffer is undefined even for 0 bytes */
        return 0;
    if (s->len + n > ETCD_STREAM_MAX)
        return -1;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            abort();
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return 0;
}

/* Scans one byte of an object (depth > 0). Returns 1 when the object ended. */
static int etcd_stream_step(struct etcd_stream *s, char c)
{
    if (s->in_str) {
        if (s->esc)
            s->esc = false;
        else if (c == '\\')
            s->esc = true;
        else if (c == '"')
            s->in_str = false;
        return 0;
    }
    if (c == '"')
        s->in_str = true;
    else if (c == '{' || c == '[')
        s->depth++;
    else if (c == '}' || c == ']')
        return --s->depth == 0;
    return 0;
}

/* Parses buf[start, end) and hands it to cb; -1 when it is not an object. */
static int etcd_stream_emit(struct etcd_stream *s, size_t end, etcd_stream_cb cb, void *arg)
{
    json_error_t err;
    json_t *o = json_loadb(s->buf + s->start, end - s->start, 0, &err);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    cb(arg, o);
    json_decref(o);
    return 0;
}

int etcd_stream_feed(struct etcd_stream *s, const char *data, size_t n, etcd_stream_cb cb,
                     void *arg)
{
    int delivered = 0;
    if (etcd_stream_append(s, data, n) != 0)
        return -1;
    while (s->scan < s->len) {
        char c = s->buf[s->scan];
        if (s->depth == 0) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                s->scan++;
                continue;
            }
            if (c != '{')
                return -1;
            s->start = s->scan;
            s->depth = 1;
            s->scan++;
            continue;
        }
        s->scan++;
        if (etcd_stream_step(s, c) == 1) {
            if (etcd_stream_emit(s, s->scan, cb, arg) != 0)
                return -1;
            delivered++;
        }
    }
    /* Keep only the unfinished object (or nothing) for the next feed. */
    size_t keep_from = s->depth > 0 ? s->start : s->len;
    if (keep_from > 0 && s->len > keep_from)
        memmove(s->buf, s->buf + keep_from, s->len - keep_from);
    s->len -= keep_from;
    s->scan -= keep_from;
    s->start = 0;
    return delivered;
}
