/*
 * zone_fast.c -- the one-line master-file scanner in front of ldns.
 *
 * Every test here errs towards ZONE_FAST_NO: a line this scanner is not
 * sure of costs an ldns parse, a line it reads differently from ldns
 * would change what gtmd serves.
 */
#include "zone/zone_fast.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

#define FAST_MAX_TOKENS 32

struct fast_tok {
    const char *s; /* without the quotes of a quoted string */
    size_t len;
    bool quoted;
};

/* Splits a line into tokens; false when it holds anything but plain
 * words and quoted strings (parentheses, escapes, control characters,
 * a quote inside a word, too many tokens). A ';' outside quotes ends it. */
static bool fast_tokens(const char *p, size_t n, struct fast_tok *t, size_t *nt)
{
    size_t i = 0, k = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == ' ' || ch == '\t') {
            i++;
            continue;
        }
        if (ch == ';')
            break;
        if (k == FAST_MAX_TOKENS)
            return false;
        if (ch == '"') {
            size_t s = ++i;
            while (i < n && p[i] != '"') {
                unsigned char c = (unsigned char)p[i];
                if (c < 0x20 || c >= 0x7f || c == '\\')
                    return false;
                i++;
            }
            /* unclosed, empty, or not followed by a blank or the end */
            if (i == n || i == s || (i + 1 < n && p[i + 1] != ' ' && p[i + 1] != '\t'))
                return false;
            t[k++] = (struct fast_tok){p + s, i - s, true};
            i++;
            continue;
        }
        size_t s = i;
        while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != ';') {
            unsigned char c = (unsigned char)p[i];
            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '(' || c == ')')
                return false;
            i++;
        }
        t[k++] = (struct fast_tok){p + s, i - s, false};
    }
    *nt = k;
    return true;
}

/* A name character this scanner passes on as it is (ldns takes more, with
 * escapes: those lines go to ldns). */
static bool fast_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '*' || c == '/';
}

/* A name token to wire form at out (room for 255), relative names under
 * the origin; its length, or 0 to leave the line to ldns. */
static size_t fast_name(const struct zone_fast_state *st, const struct fast_tok *t, uint8_t *out)
{
    if (t->quoted || t->len == 0)
        return 0;
    if (t->len == 1 && t->s[0] == '@') {
        memcpy(out, st->origin, st->origin_len);
        return st->origin_len;
    }
    if (t->len == 1 && t->s[0] == '.') {
        out[0] = 0;
        return 1;
    }
    size_t o = 0, i = 0;
    bool absolute = false;
    while (i < t->len) {
        size_t s = i;
        while (i < t->len && t->s[i] != '.') {
            if (!fast_name_char(t->s[i]))
                return 0;
            i++;
        }
        size_t ll = i - s;
        if (ll == 0 || ll > 63 || o + 1 + ll + 1 > 255)
            return 0;
        out[o++] = (uint8_t)ll;
        memcpy(out + o, t->s + s, ll);
        o += ll;
        if (i < t->len) { /* at a dot */
            i++;
            if (i == t->len)
                absolute = true;
        }
    }
    if (absolute) {
        out[o++] = 0;
        return o;
    }
    if (o + st->origin_len > 255)
        return 0;
    memcpy(out + o, st->origin, st->origin_len);
    return o + st->origin_len;
}

/* Decimal digits only, at most max_digits of them; false otherwise. */
static bool fast_number(const struct fast_tok *t, size_t max_digits, uint64_t *v)
{
    if (t->quoted || t->len == 0 || t->len > max_digits)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(t->s[i] - '0');
    }
    *v = x;
    return true;
}

static bool fast_is(const struct fast_tok *t, const char *word)
{
    return !t->quoted && t->len == strlen(word) && strncasecmp(t->s, word, t->len) == 0;
}

static uint16_t fast_type(const struct fast_tok *t)
{
    static const struct {
        const char *name;
        uint16_t type;
    } types[] = {{"A", DNS_TYPE_A},         {"AAAA", DNS_TYPE_AAAA}, {"NS", DNS_TYPE_NS},
                 {"CNAME", DNS_TYPE_CNAME}, {"PTR", DNS_TYPE_PTR},   {"MX", DNS_TYPE_MX},
                 {"TXT", DNS_TYPE_TXT}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (fast_is(t, types[i].name))
            return types[i].type;
    return 0;
}

/* An address token (no quotes, short) to 4 or 16 octets. */
static bool fast_addr(const struct fast_tok *t, int af, uint8_t *out)
{
    char buf[64];
    if (t->quoted || t->len >= sizeof(buf))
        return false;
    memcpy(buf, t->s, t->len);
    buf[t->len] = '\0';
    return inet_pton(af, buf, out) == 1;
}

/* The RDATA of type from the tokens t[0, n); false to leave it to ldns. */
static bool fast_rdata(const struct zone_fast_state *st, uint16_t type, const struct fast_tok *t,
                       size_t n, struct zone_fast_rr *out)
{
    size_t len;
    uint64_t v;
    switch (type) {
    case DNS_TYPE_A:
        out->rdlen = 4;
        return n == 1 && fast_addr(&t[0], AF_INET, out->rdata);
    case DNS_TYPE_AAAA:
        out->rdlen = 16;
        return n == 1 && fast_addr(&t[0], AF_INET6, out->rdata);
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
        if (n != 1 || !(len = fast_name(st, &t[0], out->rdata)))
            return false;
        out->rdlen = (uint16_t)len;
        return true;
    case DNS_TYPE_MX:
        if (n != 2 || !fast_number(&t[0], 5, &v) || v > 65535 ||
            !(len = fast_name(st, &t[1], out->rdata + 2)))
            return false;
        out->rdata[0] = (uint8_t)(v >> 8);
        out->rdata[1] = (uint8_t)v;
        out->rdlen = (uint16_t)(len + 2);
        return true;
    case DNS_TYPE_TXT:
        len = 0;
        for (size_t i = 0; i < n; i++) {
            /* unquoted words: ldns's rules for them are its own */
            if (!t[i].quoted || t[i].len > 255 || len + 1 + t[i].len > sizeof(out->rdata))
                return false;
            out->rdata[len++] = (uint8_t)t[i].len;
            memcpy(out->rdata + len, t[i].s, t[i].len);
            len += t[i].len;
        }
        out->rdlen = (uint16_t)len;
        return n > 0;
    default:
        return false;
    }
}

enum zone_fast_result zone_fast_parse(const struct zone_fast_state *st, const char *line,
                                      size_t len, struct zone_fast_rr *out)
{
    struct fast_tok t[FAST_MAX_TOKENS];
    size_t nt = 0, i = 0;
    uint64_t v;
    if (len > ZONE_FAST_MAX_LINE || (len > 0 && line[0] == '$'))
        return ZONE_FAST_NO;
    if (!fast_tokens(line, len, t, &nt))
        return ZONE_FAST_NO;
    if (nt == 0)
        return ZONE_FAST_EMPTY;
    if (line[0] == ' ' || line[0] == '\t') { /* the previous record's owner */
        if (st->prev_len == 0)
            return ZONE_FAST_NO;
        memcpy(out->owner, st->prev, st->prev_len);
        out->owner_len = st->prev_len;
    } else {
        size_t ol = fast_name(st, &t[i++], out->owner);
        if (!ol)
            return ZONE_FAST_NO;
        out->owner_len = (uint8_t)ol;
    }
    /* [TTL] [IN] TYPE: the TTL first. A class first (followed by a TTL or
     * not) is left to ldns, which has its own view of that order. */
    out->ttl = st->default_ttl ? st->default_ttl : 3600; /* ldns's LDNS_DEFAULT_TTL */
    if (i < nt && fast_number(&t[i], 10, &v)) {
        if (v > 0x7fffffffu)
            return ZONE_FAST_NO;
        out->ttl = (uint32_t)v;
        i++;
        if (i < nt && fast_is(&t[i], "IN"))
            i++;
    } else if (i < nt && fast_is(&t[i], "IN")) {
        i++;
        if (i < nt && t[i].len > 0 && t[i].s[0] >= '0' && t[i].s[0] <= '9')
            return ZONE_FAST_NO;
    }
    /* a $TTL above 2^31-1: the loader's message is about ldns's record */
    if (out->ttl > 0x7fffffffu || i >= nt || !(out->type = fast_type(&t[i])))
        return ZONE_FAST_NO;
    i++;
    if (!fast_rdata(st, out->type, t + i, nt - i, out))
        return ZONE_FAST_NO;
    return ZONE_FAST_RECORD;
}
