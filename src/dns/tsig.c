/*
 * tsig.c -- TSIG (RFC 8945): verification of a signed request and signing
 * of the replies, with OpenSSL's HMAC. OpenSSL allocates inside an HMAC
 * computation; signed messages are zone transfers and their SOA queries,
 * never the bulk of the query traffic.
 */
#include "dns/tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "dns/name.h"

struct tsig_alg {
    const char *name;   /* as in the configuration and in the TSIG record */
    const char *digest; /* OpenSSL's name */
    size_t mac_len;
    uint8_t wire[16]; /* the algorithm name, wire format */
    uint8_t wire_len;
};

static const struct tsig_alg tsig_algs[] = {
    {"hmac-sha256", "SHA256", 32, "\013hmac-sha256", 13},
    {"hmac-sha384", "SHA384", 48, "\013hmac-sha384", 13},
    {"hmac-sha512", "SHA512", 64, "\013hmac-sha512", 13},
    {"hmac-sha224", "SHA224", 28, "\013hmac-sha224", 13},
    {"hmac-sha1", "SHA1", 20, "\011hmac-sha1", 11},
};
#define TSIG_N_ALGS (sizeof(tsig_algs) / sizeof(tsig_algs[0]))

const struct tsig_alg *tsig_alg_by_name(const char *name)
{
    for (size_t i = 0; i < TSIG_N_ALGS; i++)
        if (strcasecmp(name, tsig_algs[i].name) == 0)
            return &tsig_algs[i];
    return NULL;
}

const char *tsig_alg_name(const struct tsig_alg *a)
{
    return a->name;
}

size_t tsig_alg_mac_len(const struct tsig_alg *a)
{
    return a->mac_len;
}

const struct tsig_key *tsig_keyring_find(const struct tsig_keyring *kr, const uint8_t *name,
                                         size_t len)
{
    for (size_t i = 0; kr && i < kr->n; i++)
        if (kr->keys[i].name_len == len && memcmp(kr->keys[i].name, name, len) == 0)
            return &kr->keys[i];
    return NULL;
}

void tsig_keyring_free(struct tsig_keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++) {
        OPENSSL_cleanse(kr->keys[i].secret, sizeof(kr->keys[i].secret));
        free(kr->keys[i].id);
    }
    free(kr->keys);
    kr->keys = NULL;
    kr->n = 0;
}

struct tsig_piece {
    const uint8_t *p;
    size_t len;
};

static bool tsig_hmac(const struct tsig_key *k, const struct tsig_piece *pcs, size_t n,
                      uint8_t *out)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)k->alg->digest, 0),
        OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    bool ok = ctx && EVP_MAC_init(ctx, k->secret, k->secret_len, params) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = pcs[i].len == 0 || EVP_MAC_update(ctx, pcs[i].p, pcs[i].len) == 1;
    ok = ok && EVP_MAC_final(ctx, out, &outlen, TSIG_MAX_MAC) == 1 && outlen == k->alg->mac_len;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

static uint64_t tsig_get48(const uint8_t *p)
{
    return ((uint64_t)dns_get16(p) << 32) | dns_get32(p + 2);
}

static void tsig_put48(uint8_t *p, uint64_t v)
{
    dns_put16(p, (uint16_t)(v >> 32));
    dns_put32(p + 2, (uint32_t)v);
}

/* The fields of a TSIG RDATA, parsed. */
struct tsig_rdata {
    struct dns_name alg;
    const uint8_t *times; /* time signed (6) and fudge (2) */
    uint16_t mac_len;
    const uint8_t *mac;
    uint16_t orig_id, error, other_len;
    const uint8_t *other;
};

static bool tsig_parse_rdata(const uint8_t *pkt, size_t len, const struct dns_query *q,
                             struct tsig_rdata *t)
{
    size_t p = q->tsig_rdata, end = q->tsig_rdata + q->tsig_rdlen;
    if (end > len || !dns_name_parse(pkt, end, &p, &t->alg, true) || end - p < 10)
        return false;
    t->times = pkt + p;
    t->mac_len = dns_get16(pkt + p + 8);
    p += 10;
    if (end - p < (size_t)t->mac_len + 6)
        return false;
    t->mac = pkt + p;
    p += t->mac_len;
    t->orig_id = dns_get16(pkt + p);
    t->error = dns_get16(pkt + p + 2);
    t->other_len = dns_get16(pkt + p + 4);
    t->other = pkt + p + 6;
    return end - p - 6 == t->other_len;
}

/* The clock difference a message with this Fudge may have: the smaller
 * of its own and the key's (RFC 8945 5.2.3 checks the message's Fudge; a
 * requester that sends 65535 must not get 18 hours). */
static uint16_t tsig_window(const struct tsig_key *k, uint16_t fudge)
{
    uint16_t mine = k->fudge ? k->fudge : TSIG_FUDGE;
    return fudge < mine ? fudge : mine;
}

enum tsig_error tsig_verify(const struct tsig_keyring *kr, const uint8_t *pkt, size_t len,
                            const struct dns_query *q, uint64_t now, struct tsig_ctx *ctx)
{
    struct dns_name key;
    struct tsig_rdata t;
    size_t kpos = q->tsig_owner;
    memset(ctx, 0, sizeof(*ctx));
    if (!dns_name_parse(pkt, len, &kpos, &key, true) || !tsig_parse_rdata(pkt, len, q, &t))
        return ctx->error = TSIG_BADKEY;
    ctx->time_signed = tsig_get48(t.times);
    ctx->fudge = dns_get16(t.times + 6);
    const struct tsig_key *k = tsig_keyring_find(kr, key.wire, key.len);
    if (!k || t.alg.len != k->alg->wire_len || memcmp(t.alg.wire, k->alg->wire, t.alg.len) != 0)
        return ctx->error = TSIG_BADKEY;
    ctx->key = k;
    if (t.mac_len != k->alg->mac_len)
        return ctx->error = t.mac_len < k->alg->mac_len ? TSIG_BADTRUNC : TSIG_BADSIG;
    /* The request as signed: its original ID, and without the TSIG record. */
    uint8_t hdr[DNS_HEADER_SIZE], vars[2 + 4 + 6 + 2 + 2 + 2];
    memcpy(hdr, pkt, DNS_HEADER_SIZE);
    dns_put16(hdr, t.orig_id);
    dns_put16(hdr + 10, (uint16_t)(dns_get16(pkt + 10) - 1));
    dns_put16(vars, DNS_CLASS_ANY);
    dns_put32(vars + 2, 0);
    memcpy(vars + 6, t.times, 8);
    dns_put16(vars + 14, t.error);
    dns_put16(vars + 16, t.other_len);
    struct tsig_piece pcs[] = {
        {hdr, sizeof(hdr)},
        {pkt + DNS_HEADER_SIZE, q->tsig_owner - DNS_HEADER_SIZE},
        {key.wire, key.len},
        {vars, 6},
        {k->alg->wire, k->alg->wire_len},
        {vars + 6, 12},
        {t.other, t.other_len},
    };
    uint8_t want[TSIG_MAX_MAC];
    if (!tsig_hmac(k, pcs, sizeof(pcs) / sizeof(pcs[0]), want) ||
        CRYPTO_memcmp(want, t.mac, t.mac_len) != 0)
        return ctx->error = TSIG_BADSIG;
    memcpy(ctx->mac, t.mac, t.mac_len);
    ctx->mac_len = t.mac_len;
    ctx->window = tsig_window(k, ctx->fudge);
    uint64_t d = now > ctx->time_signed ? now - ctx->time_signed : ctx->time_signed - now;
    if (d > ctx->window)
        return ctx->error = TSIG_BADTIME;
    return ctx->error = TSIG_OK;
}

size_t tsig_record_len(const struct tsig_ctx *ctx)
{
    if (!ctx->key)
        return 0;
    return ctx->key->name_len + 10u + ctx->key->alg->wire_len + 16u + ctx->key->alg->mac_len + 6u;
}

/* The MAC of a reply: the previous MAC (the request's for the first),
 * the unsigned messages since it (before, a later message only), the
 * message, then every TSIG variable (first) or the timers only. */
static bool tsig_reply_mac_after(const struct tsig_ctx *ctx, const uint8_t *before,
                                 size_t before_len, const uint8_t *msg, size_t len, bool first,
                                 const uint8_t *times, uint16_t error, const uint8_t *other,
                                 uint16_t other_len, uint8_t *out)
{
    const struct tsig_key *k = ctx->key;
    uint8_t prior[2], vars[2 + 4], tail[2 + 2];
    dns_put16(prior, ctx->mac_len);
    dns_put16(vars, DNS_CLASS_ANY);
    dns_put32(vars + 2, 0);
    dns_put16(tail, error);
    dns_put16(tail + 2, other_len);
    struct tsig_piece all[] = {
        {prior, 2},           {ctx->mac, ctx->mac_len},         {msg, len}, {k->name, k->name_len},
        {vars, sizeof(vars)}, {k->alg->wire, k->alg->wire_len}, {times, 8}, {tail, 4},
        {other, other_len},
    };
    struct tsig_piece timers[] = {
        {prior, 2}, {ctx->mac, ctx->mac_len}, {before, before_len}, {msg, len}, {times, 8}};
    /* A request we send (NOTIFY) has no MAC before it: no prior field. */
    if (first && ctx->mac_len == 0)
        return tsig_hmac(k, all + 2, sizeof(all) / sizeof(all[0]) - 2, out);
    if (first)
        return tsig_hmac(k, all, sizeof(all) / sizeof(all[0]), out);
    return tsig_hmac(k, timers, sizeof(timers) / sizeof(timers[0]), out);
}

static bool tsig_reply_mac(const struct tsig_ctx *ctx, const uint8_t *msg, size_t len, bool first,
                           const uint8_t *times, uint16_t error, const uint8_t *other,
                           uint16_t other_len, uint8_t *out)
{
    return tsig_reply_mac_after(ctx, NULL, 0, msg, len, first, times, error, other, other_len, out);
}

size_t tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t len, size_t cap, bool first,
                 uint64_t now, uint16_t error)
{
    const struct tsig_key *k = ctx->key;
    if (!k || len < DNS_HEADER_SIZE)
        return len;
    uint8_t times[8], other[6];
    uint16_t other_len = 0;
    /* A BADTIME reply carries the request's time as its Time Signed and
     * ours in Other Data (RFC 8945 5.2.3), so that the client can verify
     * it whatever the clocks say. */
    bool badtime = error == TSIG_BADTIME && ctx->mac_len > 0;
    tsig_put48(times, badtime ? ctx->time_signed : now);
    dns_put16(times + 6, k->fudge ? k->fudge : TSIG_FUDGE);
    if (error == TSIG_BADTIME) {
        tsig_put48(other, now);
        other_len = 6;
    }
    /* A request whose MAC did not verify gets an unsigned reply (§5.3.2). */
    bool sign = error != TSIG_BADSIG && error != TSIG_BADKEY && error != TSIG_BADTRUNC;
    uint16_t mac_len = sign ? (uint16_t)k->alg->mac_len : 0;
    size_t need = k->name_len + 10u + k->alg->wire_len + 16u + mac_len + other_len;
    if (len + need > cap)
        return len;
    uint8_t mac[TSIG_MAX_MAC];
    if (sign && !tsig_reply_mac(ctx, msg, len, first, times, error, other, other_len, mac))
        return len;
    uint8_t *p = msg + len;
    memcpy(p, k->name, k->name_len);
    p += k->name_len;
    dns_put16(p, DNS_TYPE_TSIG);
    dns_put16(p + 2, DNS_CLASS_ANY);
    dns_put32(p + 4, 0);
    dns_put16(p + 8, (uint16_t)(need - k->name_len - 10u));
    p += 10;
    memcpy(p, k->alg->wire, k->alg->wire_len);
    p += k->alg->wire_len;
    memcpy(p, times, 8);
    dns_put16(p + 8, mac_len);
    p += 10;
    memcpy(p, mac, mac_len);
    p += mac_len;
    dns_put16(p, dns_get16(msg)); /* original ID: the request's, which the reply keeps */
    dns_put16(p + 2, error);
    dns_put16(p + 4, other_len);
    memcpy(p + 6, other, other_len);
    dns_put16(msg + 10, (uint16_t)(dns_get16(msg + 10) + 1));
    if (sign) {
        memcpy(ctx->mac, mac, mac_len);
        ctx->mac_len = mac_len;
    }
    return len + need;
}

/* The offset of the last record of msg when it is a TSIG (0 otherwise),
 * and where its RDATA starts. */
static size_t tsig_find(const uint8_t *msg, size_t len, size_t *rdata, uint16_t *rdlen)
{
    if (len < DNS_HEADER_SIZE)
        return 0;
    unsigned qd = dns_get16(msg + 4);
    unsigned rrs = dns_get16(msg + 6) + dns_get16(msg + 8) + dns_get16(msg + 10);
    size_t p = DNS_HEADER_SIZE, last = 0;
    for (unsigned i = 0; i < qd; i++) {
        if (!dns_name_skip(msg, len, &p) || len - p < 4)
            return 0;
        p += 4;
    }
    for (unsigned i = 0; i < rrs; i++) {
        last = p;
        if (!dns_name_skip(msg, len, &p) || len - p < 10)
            return 0;
        *rdata = p + 10;
        *rdlen = dns_get16(msg + p + 8);
        if (*rdlen > len - p - 10)
            return 0;
        if (i + 1 == rrs && dns_get16(msg + p) == DNS_TYPE_TSIG && dns_get16(msg + 10) > 0)
            return last;
        p += 10u + *rdlen;
    }
    return 0;
}

bool tsig_present(const uint8_t *msg, size_t len)
{
    size_t rdata;
    uint16_t rdlen;
    return tsig_find(msg, len, &rdata, &rdlen) != 0;
}

enum tsig_error tsig_verify_reply(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, bool first,
                                  uint64_t now, size_t *tsig_at)
{
    return tsig_verify_reply_after(ctx, NULL, 0, msg, len, first, now, tsig_at);
}

enum tsig_error tsig_verify_reply_after(struct tsig_ctx *ctx, const uint8_t *before,
                                        size_t before_len, const uint8_t *msg, size_t len,
                                        bool first, uint64_t now, size_t *tsig_at)
{
    struct dns_query q;
    memset(&q, 0, sizeof(q));
    *tsig_at = tsig_find(msg, len, &q.tsig_rdata, &q.tsig_rdlen);
    if (!*tsig_at || !ctx->key)
        return TSIG_BADSIG;
    struct dns_name key;
    struct tsig_rdata t;
    size_t kpos = *tsig_at;
    q.tsig_owner = *tsig_at;
    if (!dns_name_parse(msg, len, &kpos, &key, true) || !tsig_parse_rdata(msg, len, &q, &t))
        return TSIG_BADSIG;
    const struct tsig_key *k = ctx->key;
    if (key.len != k->name_len || memcmp(key.wire, k->name, key.len) != 0 ||
        t.alg.len != k->alg->wire_len || memcmp(t.alg.wire, k->alg->wire, t.alg.len) != 0)
        return TSIG_BADKEY;
    if (t.error != TSIG_OK)
        return (enum tsig_error)t.error;
    if (t.mac_len != k->alg->mac_len)
        return TSIG_BADSIG;
    /* The reply as signed: its original ID, and without the TSIG record. */
    uint8_t head[DNS_HEADER_SIZE], want[TSIG_MAX_MAC];
    memcpy(head, msg, DNS_HEADER_SIZE);
    dns_put16(head, t.orig_id);
    dns_put16(head + 10, (uint16_t)(dns_get16(msg + 10) - 1));
    uint8_t body[DNS_TCP_MAX];
    size_t blen = *tsig_at;
    memcpy(body, head, DNS_HEADER_SIZE);
    memcpy(body + DNS_HEADER_SIZE, msg + DNS_HEADER_SIZE, blen - DNS_HEADER_SIZE);
    if (first && before_len)
        return TSIG_BADSIG; /* the first message is signed, nothing before it */
    if (!tsig_reply_mac_after(ctx, before, before_len, body, blen, first, t.times, t.error, t.other,
                              t.other_len, want) ||
        CRYPTO_memcmp(want, t.mac, t.mac_len) != 0)
        return TSIG_BADSIG;
    memcpy(ctx->mac, t.mac, t.mac_len);
    ctx->mac_len = t.mac_len;
    uint64_t ts = tsig_get48(t.times);
    uint16_t fudge = tsig_window(ctx->key, dns_get16(t.times + 6));
    uint64_t d = now > ts ? now - ts : ts - now;
    return d > fudge ? TSIG_BADTIME : TSIG_OK;
}
