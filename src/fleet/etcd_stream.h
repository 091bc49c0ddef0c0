/*
 * etcd_stream.h -- splits a streaming HTTP response of etcd's JSON gateway
 * (watch) into JSON objects as the bytes arrive.
 *
 * The gateway writes one JSON object per message, usually one per chunk and
 * followed by a newline, but neither the chunking nor the newline is part of
 * any contract: a chunk may end in the middle of an object, or carry several.
 * The framer therefore follows the JSON text itself (braces outside strings,
 * with escapes), and hands each complete top-level object to a callback.
 * Whitespace between objects is skipped; anything else there is an error.
 *
 * Ownership: struct etcd_stream owns its buffer (etcd_stream_free). The
 * callback gets a parsed object it must not keep (it is freed after).
 */
#ifndef GTM_FLEET_ETCD_STREAM_H
#define GTM_FLEET_ETCD_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ETCD_STREAM_MAX (16u * 1024 * 1024) /* largest single message accepted */

struct etcd_stream {
    char *buf;
    size_t len, cap;
    size_t scan;  /* bytes of buf already scanned */
    size_t start; /* offset of the object being assembled */
    int depth;    /* nesting depth at 'scan' (0: between objects) */
    bool in_str, esc;
};

typedef void (*etcd_stream_cb)(void *arg, json_t *obj);

void etcd_stream_init(struct etcd_stream *s);
void etcd_stream_free(struct etcd_stream *s);
/* Adds n bytes; calls cb once per complete object, in order. Returns the
 * number of objects delivered, or -1 when the stream is not a sequence of
 * JSON objects or one message exceeds ETCD_STREAM_MAX (the stream is then
 * unusable: reset it with etcd_stream_free + etcd_stream_init). */
int etcd_stream_feed(struct etcd_stream *s, const char *data, size_t n, etcd_stream_cb cb,
                     void *arg);

#endif
