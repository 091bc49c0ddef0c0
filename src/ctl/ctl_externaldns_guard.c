/*
 * ctl_externaldns_guard.c -- content negotiation, the shared secret and
 * the listen address of gtmctl externaldns (ctl_externaldns_guard.h).
 */
#include "ctl/ctl_externaldns_guard.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One media type or range [s, end), parsed: its type/subtype and the
 * values of its version and q parameters (absent: "" and q 1). */
struct edns_media {
    char type[128];
    char version[32];
    double q;
};

static const char *edns_skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* Copies [s, e) without surrounding spaces or quotes into out. */
static void edns_copy_trim(const char *s, const char *e, char *out, size_t len)
{
    s = edns_skip_ws(s, e);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {
        s++;
        e--;
    }
    size_t n = (size_t)(e - s) < len - 1 ? (size_t)(e - s) : len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void edns_media_parse(const char *s, const char *end, struct edns_media *m)
{
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *te = semi ? semi : end;
    edns_copy_trim(s, te, m->type, sizeof(m->type));
    m->version[0] = '\0';
    m->q = 1;
    while (semi) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (!eq)
            continue;
        char name[32], value[32];
        edns_copy_trim(p, eq, name, sizeof(name));
        edns_copy_trim(eq + 1, pe, value, sizeof(value));
        if (strcasecmp(name, "version") == 0)
            snprintf(m->version, sizeof(m->version), "%s", value);
        else if (strcasecmp(name, "q") == 0)
            m->q = atof(value);
    }
}

bool edns_guard_accepts(const char *accept)
{
    if (!accept)
        return true; /* RFC 9110 12.5.1: no Accept, any media type */
    const char *s = accept, *end = accept + strlen(accept);
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        struct edns_media m;
        edns_media_parse(s, e, &m);
        bool ours = strcasecmp(m.type, EDNS_MEDIA_TYPE) == 0 &&
                    (!m.version[0] || strcmp(m.version, "1") == 0);
        bool any = strcmp(m.type, "*/*") == 0 || strcasecmp(m.type, "application/*") == 0;
        if ((ours || any) && m.q > 0)
            return true;
        s = comma ? comma + 1 : end;
    }
    return false;
}

bool edns_guard_content_type(const char *ctype)
{
    if (!ctype)
        return false;
    struct edns_media m;
    edns_media_parse(ctype, ctype + strlen(ctype), &m);
    return strcasecmp(m.type, EDNS_MEDIA_TYPE) == 0 && strcmp(m.version, "1") == 0;
}

bool edns_guard_secret_eq(const char *given, const char *secret)
{
    if (!given || !secret)
        return false;
    size_t gl = strnlen(given, EDNS_SECRET_MAX + 1), sl = strnlen(secret, EDNS_SECRET_MAX);
    unsigned char d = (unsigned char)(gl != sl);
    /* A fixed number of rounds: the time says nothing of either length. */
    for (size_t i = 0; i < EDNS_SECRET_MAX; i++) {
        unsigned char a = i < gl ? (unsigned char)given[i] : 0;
        unsigned char b = i < sl ? (unsigned char)secret[i] : 0;
        d |= (unsigned char)(a ^ b);
    }
    return d == 0;
}

bool edns_guard_loopback(const char *host)
{
    char h[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(h, sizeof(h), "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(h, sizeof(h), "%s", host);
    if (strcasecmp(h, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}
