/*
 * name.c -- domain names in wire form.
 */
#include "dns/name.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static inline uint8_t name_lower_byte(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool dns_name_parse(const uint8_t *pkt, size_t pktlen, size_t *pos, struct dns_name *out,
                    bool lower)
{
    size_t p = *pos;
    size_t end_pos = 0; /* where the name ends in the original stream */
    bool jumped = false;
    unsigned hops = 0;
    size_t n = 0;

    out->count = 0;
    for (;;) {
        if (p >= pktlen)
            return false;
        uint8_t len = pkt[p];
        if ((len & 0xc0) == 0xc0) {
            if (p + 1 >= pktlen)
                return false;
            size_t target = ((size_t)(len & 0x3f) << 8) | pkt[p + 1];
            /* Each hop must point strictly backwards: no loop can survive. */
            if (target >= p || ++hops > DNS_MAX_LABELS)
                return false;
            if (!jumped) {
                end_pos = p + 2;
                jumped = true;
            }
            p = target;
            continue;
        }
        if (len & 0xc0)
            return false; /* extended label types are not supported */
        if (out->count >= DNS_MAX_LABELS - 1 && len != 0)
            return false;
        if (n + 1 + len > DNS_MAX_NAME || p + 1 + len > pktlen)
            return false;
        out->label[out->count] = (uint8_t)n;
        out->wire[n++] = len;
        if (len == 0)
            break;
        out->count++;
        if (lower) {
            for (unsigned i = 0; i < len; i++)
                out->wire[n + i] = name_lower_byte(pkt[p + 1 + i]);
        } else
            memcpy(out->wire + n, pkt + p + 1, len);
        n += len;
        p += 1 + (size_t)len;
    }
    out->len = (uint8_t)n;
    *pos = jumped ? end_pos : p + 1;
    return true;
}

bool dns_name_skip(const uint8_t *pkt, size_t pktlen, size_t *pos)
{
    size_t p = *pos;
    size_t total = 0;
    for (;;) {
        if (p >= pktlen)
            return false;
        uint8_t len = pkt[p];
        if ((len & 0xc0) == 0xc0) {
            if (p + 1 >= pktlen)
                return false;
            *pos = p + 2;
            return true;
        }
        if (len & 0xc0)
            return false;
        total += 1 + (size_t)len;
        if (total > DNS_MAX_NAME)
            return false;
        p += 1 + (size_t)len;
        if (len == 0) {
            if (p > pktlen)
                return false;
            *pos = p;
            return true;
        }
    }
}

bool dns_name_index(const uint8_t *wire, size_t len, struct dns_name *out)
{
    size_t p = 0;
    if (len > DNS_MAX_NAME)
        return false;
    out->count = 0;
    while (p < len) {
        uint8_t l = wire[p];
        if (l & 0xc0)
            return false;
        if (out->count >= DNS_MAX_LABELS - 1 && l)
            return false;
        out->label[out->count] = (uint8_t)p;
        if (l == 0) {
            if (p + 1 != len)
                return false;
            memcpy(out->wire, wire, len);
            out->len = (uint8_t)len;
            return true;
        }
        out->count++;
        p += 1 + (size_t)l;
    }
    return false;
}

size_t dns_name_wire_len(const uint8_t *wire)
{
    size_t p = 0;
    while (wire[p])
        p += 1 + (size_t)wire[p];
    return p + 1;
}

size_t dns_name_wire_len_max(const uint8_t *wire, size_t max)
{
    size_t p = 0;
    while (p < max && p < DNS_MAX_NAME) {
        uint8_t l = wire[p];
        if (l & 0xc0)
            return 0;
        if (l == 0)
            return p + 1;
        p += 1 + (size_t)l;
    }
    return 0;
}

void dns_name_lower(uint8_t *wire, size_t len)
{
    size_t p = 0;
    while (p < len && wire[p]) {
        uint8_t l = wire[p];
        for (size_t i = 1; i <= l && p + i < len; i++)
            wire[p + i] = name_lower_byte(wire[p + i]);
        p += 1 + (size_t)l;
    }
}

bool dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (name_lower_byte(a[i]) != name_lower_byte(b[i]))
            return false;
    return true;
}

bool dns_name_is_sub(const uint8_t *child, size_t clen, const uint8_t *name, size_t nlen)
{
    size_t p = 0;
    if (clen < nlen)
        return false;
    /* Walk child's labels until the remaining suffix has name's length. */
    while (clen - p > nlen) {
        if (child[p] == 0)
            return false;
        p += 1 + (size_t)child[p];
    }
    return clen - p == nlen && dns_name_equal(child + p, nlen, name, nlen);
}

unsigned dns_name_label_count(const uint8_t *wire)
{
    unsigned n = 0;
    size_t p = 0;
    while (wire[p]) {
        n++;
        p += 1 + (size_t)wire[p];
    }
    return n;
}

void dns_name_to_str(const uint8_t *wire, char *buf, size_t buflen)
{
    size_t o = 0, p = 0;
    if (buflen == 0)
        return;
    if (wire[0] == 0) {
        snprintf(buf, buflen, ".");
        return;
    }
    while (wire[p] && o + 5 < buflen) {
        uint8_t l = wire[p++];
        for (unsigned i = 0; i < l && o + 5 < buflen; i++) {
            uint8_t c = wire[p + i];
            if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';')
                o += (size_t)snprintf(buf + o, buflen - o, "\\%c", c);
            else if (c <= 0x20 || c >= 0x7f)
                o += (size_t)snprintf(buf + o, buflen - o, "\\%03u", c);
            else
                buf[o++] = (char)c;
        }
        p += l;
        buf[o++] = '.';
    }
    buf[o < buflen ? o : buflen - 1] = '\0';
}

bool dns_name_from_str(const char *s, struct dns_name *out)
{
    uint8_t wire[DNS_MAX_NAME + 1];
    size_t n = 0, lstart = 0;
    unsigned llen = 0;

    if (strcmp(s, ".") == 0 || *s == '\0') {
        wire[0] = 0;
        return dns_name_index(wire, 1, out);
    }
    wire[n++] = 0;
    while (*s) {
        uint8_t c;
        if (*s == '.') {
            if (llen == 0)
                return false;
            wire[lstart] = (uint8_t)llen;
            lstart = n;
            if (n >= DNS_MAX_NAME)
                return false;
            wire[n++] = 0;
            llen = 0;
            s++;
            continue;
        }
        if (*s == '\\') {
            s++;
            if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
                isdigit((unsigned char)s[2])) {
                unsigned v = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
                if (v > 255)
                    return false;
                c = (uint8_t)v;
                s += 3;
            } else if (*s) {
                c = (uint8_t)*s++;
            } else
                return false;
        } else
            c = (uint8_t)*s++;
        if (++llen > 63 || n >= DNS_MAX_NAME)
            return false;
        wire[n++] = name_lower_byte(c);
    }
    if (llen > 0) {
        wire[lstart] = (uint8_t)llen;
        if (n >= DNS_MAX_NAME)
            return false;
        wire[n++] = 0;
    }
    return dns_name_index(wire, n, out);
}
