/*
 * test_fleet_peer_wire.c -- the direct channel's datagrams
 * (fleet/fleet_peer_wire.h): a message encoded and parsed back is the
 * same message, the bounds the encoder must refuse, and 200,000 randomly
 * damaged datagrams (flipped, cut, grown, spliced octets) that each parse
 * to a message within its bounds or to a named reason, never a crash (the
 * ASan build reads past nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fleet/fleet_peer_wire.h"
#include "tap.h"

/* xorshift64*: the same damage on every run (a failure replays). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* A message with n records keyed "endpoint:pool/epN". */
static void make_msg(struct fleet_peer_msg *m, size_t n, char keys[][32])
{
    memset(m, 0, sizeof(*m));
    snprintf(m->from, sizeof(m->from), "ns1");
    snprintf(m->to, sizeof(m->to), "probe-sin.2");
    m->run = 1790000000123456ull;
    m->seq = 77;
    m->stamp_us = 1790000001000000;
    m->lo = 10;
    m->upto = 10 + n;
    m->hi = m->upto + 5;
    m->ack_run = 1790000000999999ull;
    m->ack_have = 42;
    m->n_recs = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], 32, "endpoint:pool/ep%zu", i);
        m->recs[i].key = keys[i];
        m->recs[i].key_len = strlen(keys[i]);
        m->recs[i].state = i % 3 ? FLEET_PEER_UP : FLEET_PEER_DOWN;
        m->recs[i].as_of_us = 1790000000500000 + (int64_t)i;
        m->recs[i].cseq = 11 + i;
    }
}

static bool same(const struct fleet_peer_msg *a, const struct fleet_peer_msg *b)
{
    bool ok = strcmp(a->from, b->from) == 0 && strcmp(a->to, b->to) == 0 && a->run == b->run &&
              a->seq == b->seq && a->stamp_us == b->stamp_us && a->hi == b->hi && a->lo == b->lo &&
              a->upto == b->upto && a->ack_run == b->ack_run && a->ack_have == b->ack_have &&
              a->n_recs == b->n_recs && a->is_signed == b->is_signed;
    for (size_t i = 0; ok && i < a->n_recs; i++)
        ok = a->recs[i].key_len == b->recs[i].key_len &&
             memcmp(a->recs[i].key, b->recs[i].key, a->recs[i].key_len) == 0 &&
             a->recs[i].state == b->recs[i].state && a->recs[i].as_of_us == b->recs[i].as_of_us &&
             a->recs[i].cseq == b->recs[i].cseq;
    return ok;
}

static void test_round_trip(struct tap *t)
{
    static char keys[FLEET_PEER_RECS_MAX][32];
    struct fleet_peer_msg m, back;
    uint8_t buf[FLEET_PEER_DGRAM_MAX];
    for (size_t n = 0; n <= 30; n += 10) {
        make_msg(&m, n, keys);
        size_t len = fleet_peer_encode(&m, buf, sizeof(buf));
        size_t want = fleet_peer_header_size(m.from, m.to);
        for (size_t i = 0; i < n; i++)
            want += fleet_peer_rec_size(m.recs[i].key_len);
        TAP_CHECK(t, len == want, "%zu records: %zu octets, as the sizes say (%zu)", n, len, want);
        enum fleet_peer_parse e = fleet_peer_parse(buf, len, &back);
        TAP_CHECK(t, e == FLEET_PEER_PARSE_OK && same(&m, &back), "%zu records round trip (%s)", n,
                  fleet_peer_parse_name(e));
    }
    make_msg(&m, 3, keys);
    m.is_signed = true;
    size_t len = fleet_peer_encode(&m, buf, sizeof(buf));
    memset(buf + len, 0xab, FLEET_PEER_SIG_LEN);
    enum fleet_peer_parse e = fleet_peer_parse(buf, len + FLEET_PEER_SIG_LEN, &back);
    TAP_CHECK(t,
              e == FLEET_PEER_PARSE_OK && same(&m, &back) && back.signed_len == len &&
                  back.sig == buf + len,
              "a signed datagram: the signature found after what it covers");
    TAP_CHECK(t, fleet_peer_parse(buf, len, &back) == FLEET_PEER_PARSE_SHORT,
              "signed without its signature: short");
}

static void test_bounds(struct tap *t)
{
    static char keys[FLEET_PEER_RECS_MAX][32];
    struct fleet_peer_msg m, back;
    uint8_t buf[2048];
    make_msg(&m, 60, keys);
    TAP_CHECK(t, fleet_peer_encode(&m, buf, sizeof(buf)) == 0,
              "60 records (over %d octets) are refused by the encoder", FLEET_PEER_DGRAM_MAX);
    make_msg(&m, 2, keys);
    m.recs[1].cseq = m.upto + 1;
    TAP_CHECK(t, fleet_peer_encode(&m, buf, sizeof(buf)) == 0, "a record past upto: refused");
    make_msg(&m, 2, keys);
    snprintf(m.from, sizeof(m.from), "a b");
    TAP_CHECK(t, fleet_peer_encode(&m, buf, sizeof(buf)) == 0, "a bad node name: refused");
    make_msg(&m, 2, keys);
    m.recs[0].state = 0;
    TAP_CHECK(t, fleet_peer_encode(&m, buf, sizeof(buf)) == 0, "an unknown state: refused");
    make_msg(&m, 2, keys);
    size_t len = fleet_peer_encode(&m, buf, sizeof(buf));
    TAP_CHECK(t, fleet_peer_parse(buf, FLEET_PEER_DGRAM_MAX + 1, &back) == FLEET_PEER_PARSE_TOO_BIG,
              "over %d octets: too_big", FLEET_PEER_DGRAM_MAX);
    buf[len] = 0;
    TAP_CHECK(t, fleet_peer_parse(buf, len + 1, &back) == FLEET_PEER_PARSE_TRAILING,
              "an octet after the last record: trailing");
    buf[0] = 'X';
    TAP_CHECK(t, fleet_peer_parse(buf, len, &back) == FLEET_PEER_PARSE_MAGIC, "another magic");
    TAP_CHECK(t, fleet_peer_parse(buf, 0, &back) == FLEET_PEER_PARSE_SHORT, "empty: short");
}

/* What a parse that said ok must hold. */
static bool msg_sane(const struct fleet_peer_msg *m, const uint8_t *buf, size_t len)
{
    bool ok = m->n_recs <= FLEET_PEER_RECS_MAX && m->lo <= m->upto && m->upto <= m->hi &&
              m->from[0] && m->to[0] && m->signed_len <= len;
    for (size_t i = 0; ok && i < m->n_recs; i++) {
        const struct fleet_peer_rec *r = &m->recs[i];
        ok = r->key_len > 0 && (const uint8_t *)r->key >= buf &&
             (const uint8_t *)r->key + r->key_len <= buf + len && r->cseq > m->lo &&
             r->cseq <= m->upto && (r->state == FLEET_PEER_UP || r->state == FLEET_PEER_DOWN);
    }
    return ok;
}

static void test_damage(struct tap *t)
{
    static char keys[FLEET_PEER_RECS_MAX][32];
    struct fleet_peer_msg m, back;
    uint8_t good[FLEET_PEER_DGRAM_MAX], buf[FLEET_PEER_DGRAM_MAX + 8];
    make_msg(&m, 20, keys);
    m.is_signed = true;
    size_t glen = fleet_peer_encode(&m, good, sizeof(good));
    memset(good + glen, 0x5a, FLEET_PEER_SIG_LEN);
    glen += FLEET_PEER_SIG_LEN;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    unsigned long counts[FLEET_PEER_PARSES] = {0}, insane = 0, bad_reason = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len = glen;
        memcpy(buf, good, glen);
        unsigned hits = 1 + (unsigned)(rnd(&s) % 4);
        for (unsigned h = 0; h < hits; h++) {
            uint64_t r = rnd(&s);
            size_t at = (size_t)((r >> 8) % len);
            switch (r % 4) {
            case 0:
                buf[at] ^= (uint8_t)(1u << ((r >> 40) % 8));
                break;
            case 1:
                buf[at] = (uint8_t)(r >> 32);
                break;
            case 2:
                len = at;
                break; /* cut */
            default:
                len += (size_t)((r >> 32) % 8);
                break; /* grown by what the buffer held */
            }
            if (len == 0)
                len = 1;
        }
        enum fleet_peer_parse e = fleet_peer_parse(buf, len, &back);
        if ((unsigned)e >= FLEET_PEER_PARSES) {
            bad_reason++;
            continue;
        }
        counts[e]++;
        if (e == FLEET_PEER_PARSE_OK && !msg_sane(&back, buf, len))
            insane++;
    }
    TAP_CHECK(t, bad_reason == 0 && insane == 0,
              "200,000 damaged datagrams: each a sane message or a named reason (%lu unnamed, "
              "%lu insane)",
              bad_reason, insane);
    for (int e = 0; e < FLEET_PEER_PARSES; e++)
        printf("# %-8s %lu\n", fleet_peer_parse_name((enum fleet_peer_parse)e), counts[e]);
    TAP_CHECK(t,
              counts[FLEET_PEER_PARSE_SHORT] > 0 && counts[FLEET_PEER_PARSE_RANGE] > 0 &&
                  counts[FLEET_PEER_PARSE_TRAILING] > 0 && counts[FLEET_PEER_PARSE_NAME] > 0,
              "the damage reached the length, range and name checks");
}

int main(void)
{
    struct tap t = {0};
    test_round_trip(&t);
    test_bounds(&t);
    test_damage(&t);
    return tap_done(&t);
}
