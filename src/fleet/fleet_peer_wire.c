/*
 * fleet_peer_wire.c -- the direct channel's datagrams (fleet_peer_wire.h).
 * Pure: every bound is checked before a read, so any octets parse to a
 * message or to a reason.
 */
#include "fleet/fleet_peer_wire.h"

#include <string.h>

#define FLEET_PEER_MAGIC "GTP1"
#define FLEET_PEER_FLAG_SIGNED 1u

const char *fleet_peer_parse_name(enum fleet_peer_parse e)
{
    static const char *const names[] = {"ok",       "too_big", "short",  "magic",   "flags",
                                        "bad_name", "range",   "record", "trailing"};
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

size_t fleet_peer_header_size(const char *from, const char *to)
{
    return 4 + 1 + 1 + strlen(from) + 1 + strlen(to) + 8 * 8 + 2;
}

size_t fleet_peer_rec_size(size_t key_len)
{
    return 1 + key_len + 1 + 8 + 8;
}

/* A writer or reader over a buffer: off never passes len. */
struct fleet_peer_buf {
    uint8_t *w;       /* writing: the buffer, else NULL */
    const uint8_t *r; /* reading */
    size_t len, off;
    bool bad;
};

static void fleet_peer_put(struct fleet_peer_buf *b, const void *p, size_t n)
{
    if (b->bad || n > b->len - b->off) {
        b->bad = true;
        return;
    }
    memcpy(b->w + b->off, p, n);
    b->off += n;
}

static void fleet_peer_put_u64(struct fleet_peer_buf *b, uint64_t v)
{
    uint8_t o[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        o[i] = (uint8_t)(v & 0xff);
    fleet_peer_put(b, o, 8);
}

static void fleet_peer_put_str(struct fleet_peer_buf *b, const char *s, size_t n)
{
    uint8_t l = (uint8_t)n;
    fleet_peer_put(b, &l, 1);
    fleet_peer_put(b, s, n);
}

static bool fleet_peer_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > FLEET_PEER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool fleet_peer_rec_ok(const struct fleet_peer_rec *r, uint64_t lo, uint64_t upto)
{
    return r->key && r->key_len > 0 && r->key_len <= FLEET_PEER_KEY_MAX &&
           memchr(r->key, '\0', r->key_len) == NULL &&
           (r->state == FLEET_PEER_UP || r->state == FLEET_PEER_DOWN) && r->cseq > lo &&
           r->cseq <= upto;
}

size_t fleet_peer_encode(const struct fleet_peer_msg *m, uint8_t *buf, size_t cap)
{
    size_t fl = strlen(m->from), tl = strlen(m->to);
    if (!fleet_peer_name_ok(m->from, fl) || !fleet_peer_name_ok(m->to, tl) ||
        m->n_recs > FLEET_PEER_RECS_MAX || m->lo > m->upto || m->upto > m->hi)
        return 0;
    struct fleet_peer_buf b = {.w = buf, .len = cap};
    uint8_t flags = m->is_signed ? FLEET_PEER_FLAG_SIGNED : 0;
    fleet_peer_put(&b, FLEET_PEER_MAGIC, 4);
    fleet_peer_put(&b, &flags, 1);
    fleet_peer_put_str(&b, m->from, fl);
    fleet_peer_put_str(&b, m->to, tl);
    const uint64_t nums[] = {m->run,     m->seq,     (uint64_t)m->stamp_us, m->hi, m->lo, m->upto,
                             m->ack_run, m->ack_have};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        fleet_peer_put_u64(&b, nums[i]);
    uint8_t n[2] = {(uint8_t)(m->n_recs >> 8), (uint8_t)(m->n_recs & 0xff)};
    fleet_peer_put(&b, n, 2);
    for (size_t i = 0; i < m->n_recs; i++) {
        const struct fleet_peer_rec *r = &m->recs[i];
        if (!fleet_peer_rec_ok(r, m->lo, m->upto))
            return 0;
        fleet_peer_put_str(&b, r->key, r->key_len);
        fleet_peer_put(&b, &r->state, 1);
        fleet_peer_put_u64(&b, (uint64_t)r->as_of_us);
        fleet_peer_put_u64(&b, r->cseq);
    }
    size_t total = b.off + (m->is_signed ? FLEET_PEER_SIG_LEN : 0);
    return b.bad || total > FLEET_PEER_DGRAM_MAX || total > cap ? 0 : b.off;
}

static const uint8_t *fleet_peer_get(struct fleet_peer_buf *b, size_t n)
{
    if (b->bad || n > b->len - b->off) {
        b->bad = true;
        return NULL;
    }
    const uint8_t *p = b->r + b->off;
    b->off += n;
    return p;
}

static uint64_t fleet_peer_get_u64(struct fleet_peer_buf *b)
{
    const uint8_t *p = fleet_peer_get(b, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A length-prefixed string: its octets (NULL at the end), *n its length. */
static const char *fleet_peer_get_str(struct fleet_peer_buf *b, size_t *n)
{
    const uint8_t *l = fleet_peer_get(b, 1);
    *n = l ? *l : 0;
    return l ? (const char *)fleet_peer_get(b, *n) : NULL;
}

static enum fleet_peer_parse fleet_peer_get_name(struct fleet_peer_buf *b, char *out)
{
    size_t n = 0;
    const char *s = fleet_peer_get_str(b, &n);
    if (!s)
        return FLEET_PEER_PARSE_SHORT;
    if (!fleet_peer_name_ok(s, n))
        return FLEET_PEER_PARSE_NAME;
    memcpy(out, s, n);
    out[n] = '\0';
    return FLEET_PEER_PARSE_OK;
}

static enum fleet_peer_parse fleet_peer_get_recs(struct fleet_peer_buf *b, struct fleet_peer_msg *m)
{
    const uint8_t *n = fleet_peer_get(b, 2);
    if (!n)
        return FLEET_PEER_PARSE_SHORT;
    size_t count = ((size_t)n[0] << 8) | n[1];
    if (count > FLEET_PEER_RECS_MAX)
        return FLEET_PEER_PARSE_RECORD;
    for (size_t i = 0; i < count; i++) {
        struct fleet_peer_rec *r = &m->recs[i];
        r->key = fleet_peer_get_str(b, &r->key_len);
        const uint8_t *st = fleet_peer_get(b, 1);
        r->as_of_us = (int64_t)fleet_peer_get_u64(b);
        r->cseq = fleet_peer_get_u64(b);
        if (b->bad)
            return FLEET_PEER_PARSE_SHORT;
        r->state = *st;
        if (r->cseq <= m->lo || r->cseq > m->upto)
            return FLEET_PEER_PARSE_RANGE;
        if (!fleet_peer_rec_ok(r, m->lo, m->upto))
            return FLEET_PEER_PARSE_RECORD;
    }
    m->n_recs = count;
    return FLEET_PEER_PARSE_OK;
}

enum fleet_peer_parse fleet_peer_parse(const uint8_t *buf, size_t len, struct fleet_peer_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len > FLEET_PEER_DGRAM_MAX)
        return FLEET_PEER_PARSE_TOO_BIG;
    struct fleet_peer_buf b = {.r = buf, .len = len};
    const uint8_t *magic = fleet_peer_get(&b, 4), *flags = fleet_peer_get(&b, 1);
    if (!flags)
        return FLEET_PEER_PARSE_SHORT;
    if (memcmp(magic, FLEET_PEER_MAGIC, 4) != 0)
        return FLEET_PEER_PARSE_MAGIC;
    if (*flags & ~FLEET_PEER_FLAG_SIGNED)
        return FLEET_PEER_PARSE_FLAGS;
    m->is_signed = (*flags & FLEET_PEER_FLAG_SIGNED) != 0;
    enum fleet_peer_parse e = fleet_peer_get_name(&b, m->from);
    if (e == FLEET_PEER_PARSE_OK)
        e = fleet_peer_get_name(&b, m->to);
    if (e != FLEET_PEER_PARSE_OK)
        return e;
    m->run = fleet_peer_get_u64(&b);
    m->seq = fleet_peer_get_u64(&b);
    m->stamp_us = (int64_t)fleet_peer_get_u64(&b);
    m->hi = fleet_peer_get_u64(&b);
    m->lo = fleet_peer_get_u64(&b);
    m->upto = fleet_peer_get_u64(&b);
    m->ack_run = fleet_peer_get_u64(&b);
    m->ack_have = fleet_peer_get_u64(&b);
    if (b.bad)
        return FLEET_PEER_PARSE_SHORT;
    if (m->lo > m->upto || m->upto > m->hi)
        return FLEET_PEER_PARSE_RANGE;
    if ((e = fleet_peer_get_recs(&b, m)) != FLEET_PEER_PARSE_OK)
        return e;
    m->signed_len = b.off;
    if (m->is_signed && !(m->sig = fleet_peer_get(&b, FLEET_PEER_SIG_LEN)))
        return FLEET_PEER_PARSE_SHORT;
    return b.off == len ? FLEET_PEER_PARSE_OK : FLEET_PEER_PARSE_TRAILING;
}
