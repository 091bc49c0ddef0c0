/*
 * probe_grpc_msg.c -- the grpc.health.v1 messages of the grpc probe and
 * the texts of its reasons (probe_grpc.h).
 *
 * The protobuf wire format is read as far as these messages need: a
 * field key is a varint (field number << 3 | wire type); fields other
 * than status = 1 are skipped by their wire type (varint, 64-bit,
 * length-delimited, 32-bit), so a newer server's extra fields are
 * harmless; groups (wire types 3 and 4) and anything cut short are
 * malformed.
 */
#include "health/probe_grpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* gRPC's message prefix: a compressed flag, then a 4-octet length. */
#define PROBE_GRPC_PREFIX 5

size_t probe_grpc_request(const char *service, uint8_t *out, size_t len)
{
    size_t n = service ? strlen(service) : 0, body = 0, at = PROBE_GRPC_PREFIX;
    uint8_t vl[10];
    size_t nv = 0;
    if (n > 0) {
        /* Field 1, wire type 2 (length-delimited), then the length. */
        for (size_t v = n; nv == 0 || v; v >>= 7)
            vl[nv++] = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
        body = 1 + nv + n;
    }
    if (len < PROBE_GRPC_PREFIX + body || body > UINT32_MAX)
        return 0;
    out[0] = 0; /* not compressed */
    out[1] = (uint8_t)(body >> 24);
    out[2] = (uint8_t)(body >> 16);
    out[3] = (uint8_t)(body >> 8);
    out[4] = (uint8_t)body;
    if (n > 0) {
        out[at++] = 0x0a;
        memcpy(out + at, vl, nv);
        memcpy(out + at + nv, service, n);
    }
    return PROBE_GRPC_PREFIX + body;
}

/* A varint at *p (before end); false when cut short or over 10 octets. */
static bool probe_grpc_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Skips a field's value of wire type wt; false when malformed. */
static bool probe_grpc_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return probe_grpc_varint(p, end, &v);
    case 1:
    case 5: {
        size_t n = wt == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return false;
        *p += n;
        return true;
    }
    case 2:
        if (!probe_grpc_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return false;
        *p += v;
        return true;
    }
    return false;
}

int probe_grpc_reply(const uint8_t *msg, size_t len, long *status, char *why, size_t whylen)
{
    *status = 0;
    if (len < PROBE_GRPC_PREFIX) {
        snprintf(why, whylen, len ? "grpc: reply message cut short" : "grpc: no reply message");
        return -1;
    }
    if (msg[0] != 0) {
        snprintf(why, whylen, "grpc: compressed reply (not asked for)");
        return -1;
    }
    size_t n = (size_t)msg[1] << 24 | (size_t)msg[2] << 16 | (size_t)msg[3] << 8 | msg[4];
    if (n != len - PROBE_GRPC_PREFIX) {
        snprintf(why, whylen, "grpc: reply message of %zu octets announced, %zu sent", n,
                 len - PROBE_GRPC_PREFIX);
        return -1;
    }
    const uint8_t *p = msg + PROBE_GRPC_PREFIX, *end = msg + len;
    bool ok = true;
    while (ok && p < end) {
        uint64_t key = 0, v = 0;
        ok = probe_grpc_varint(&p, end, &key) && key >> 3 != 0;
        unsigned wt = (unsigned)(key & 7);
        if (ok && key >> 3 == 1) {
            ok = wt == 0 && probe_grpc_varint(&p, end, &v);
            /* An enum is an int32 on the wire; a value out of it is
             * just not one of the known statuses. */
            *status = v > 0x7fffffff ? -1 : (long)v;
        } else if (ok) {
            ok = probe_grpc_skip(&p, end, wt);
        }
    }
    if (!ok) {
        snprintf(why, whylen, "grpc: malformed HealthCheckResponse");
        return -1;
    }
    return 0;
}

const char *probe_grpc_serving_name(long st)
{
    static const char *const names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
    return st >= 0 && st < 4 ? names[st] : NULL;
}

const char *probe_grpc_code_name(long code)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    return code >= 0 && code < (long)(sizeof(names) / sizeof(names[0])) ? names[code] : NULL;
}

static int probe_grpc_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void probe_grpc_message(const char *in, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        int hi, lo;
        if (c == '%' && i + 2 < len && (hi = probe_grpc_hex(in[i + 1])) >= 0 &&
            (lo = probe_grpc_hex(in[i + 2])) >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        /* The reason goes into log lines and JSON: plain ASCII only. */
        out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    out[o] = 0;
}
