/*
 * encode.c -- writes an answer plan as a DNS message.
 */
#include "answer/encode.h"

#include <string.h>

#include "dns/dns.h"
#include "dns/msg_build.h"
#include "dns/name.h"

#define ENCODE_COMP_MAX 64

struct encode_comp_entry {
    const uint8_t *name; /* suffix of an uncompressed wire name */
    uint16_t off;        /* where that suffix starts in the message */
    uint8_t len;
};

struct encode_ctx {
    uint8_t *out;
    size_t pos;
    size_t limit;    /* room left for records: max size minus the OPT we owe */
    uint16_t rclass; /* class of every record written */
    unsigned n_comp;
    struct encode_comp_entry comp[ENCODE_COMP_MAX];
};

/* Remembers where a suffix was written. A pointer holds a 14-bit offset,
 * so a name written at 0x3fff or later is never a target and later copies
 * of it are written out again (0x3fff itself would fit; it is skipped). */
static void encode_comp_add(struct encode_ctx *c, const uint8_t *name, size_t len, size_t off)
{
    if (c->n_comp < ENCODE_COMP_MAX && off < 0x3fff && len > 1) {
        struct encode_comp_entry *e = &c->comp[c->n_comp++];
        e->name = name;
        e->len = (uint8_t)len;
        e->off = (uint16_t)off;
    }
}

static int encode_comp_find(const struct encode_ctx *c, const uint8_t *name, size_t len)
{
    for (unsigned i = 0; i < c->n_comp; i++)
        if (dns_name_equal(c->comp[i].name, c->comp[i].len, name, len))
            return c->comp[i].off;
    return -1;
}

/* Writes name (uncompressed wire) compressed; false when it does not fit. */
static bool encode_name(struct encode_ctx *c, const uint8_t *name, size_t len)
{
    size_t p = 0;
    while (p < len && name[p] != 0) {
        int off = encode_comp_find(c, name + p, len - p);
        if (off >= 0) {
            if (c->pos + 2 > c->limit)
                return false;
            dns_put16(c->out + c->pos, (uint16_t)(0xc000 | off));
            c->pos += 2;
            return true;
        }
        size_t l = 1 + (size_t)name[p];
        if (c->pos + l > c->limit)
            return false;
        encode_comp_add(c, name + p, len - p, c->pos);
        memcpy(c->out + c->pos, name + p, l);
        c->pos += l;
        p += l;
    }
    if (c->pos + 1 > c->limit)
        return false;
    c->out[c->pos++] = 0;
    return true;
}

/* RDATA with its compressible names (RFC 3597 §4: NS, CNAME, PTR, MX, SOA). */
static bool encode_rdata(struct encode_ctx *c, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
    size_t start = c->pos;
    size_t name_off, names;
    switch (type) {
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
        name_off = 0, names = 1;
        break;
    case DNS_TYPE_MX:
        name_off = 2, names = 1;
        break;
    case DNS_TYPE_SOA:
        name_off = 0, names = 2;
        break;
    default:
        if (c->pos + 2 + rdlen > c->limit)
            return false;
        dns_put16(c->out + c->pos, rdlen);
        memcpy(c->out + c->pos + 2, rd, rdlen);
        c->pos += 2 + (size_t)rdlen;
        return true;
    }
    if (c->pos + 2 + name_off > c->limit || rdlen < name_off)
        return false;
    c->pos += 2;
    memcpy(c->out + c->pos, rd, name_off);
    c->pos += name_off;
    size_t p = name_off;
    for (size_t k = 0; k < names; k++) {
        size_t nl = dns_name_wire_len_max(rd + p, rdlen - p);
        if (nl == 0 || !encode_name(c, rd + p, nl))
            return false;
        p += nl;
    }
    if (c->pos + (rdlen - p) > c->limit)
        return false;
    memcpy(c->out + c->pos, rd + p, rdlen - p);
    c->pos += rdlen - p;
    dns_put16(c->out + start, (uint16_t)(c->pos - start - 2));
    return true;
}

/* Writes every record of set with r's owner; false (and c->pos may have
 * moved) when it does not fit. */
static bool encode_records(struct encode_ctx *c, const struct answer_rr *r,
                           const struct zone_rrset *set)
{
    size_t o = 0;
    for (uint16_t i = 0; i < set->count; i++) {
        uint16_t rdlen = dns_get16(set->rdata + o);
        bool ok;
        if (!r->owner) {
            ok = c->pos + 2 <= c->limit;
            if (ok) {
                dns_put16(c->out + c->pos, 0xc000 | DNS_HEADER_SIZE);
                c->pos += 2;
            }
        } else
            ok = encode_name(c, r->owner, r->owner_len);
        ok = ok && c->pos + 8 <= c->limit;
        if (!ok)
            return false;
        dns_put16(c->out + c->pos, set->type);
        dns_put16(c->out + c->pos + 2, c->rclass);
        dns_put32(c->out + c->pos + 4, set->ttl);
        c->pos += 8;
        if (!encode_rdata(c, set->type, set->rdata + o + 2, rdlen))
            return false;
        o += 2 + (size_t)rdlen;
    }
    return true;
}

/* Writes a whole RRset, and with DO its RRSIGs right after it (RFC 4035
 * §3.1.1: never one without the other), or nothing when they do not fit:
 * returns the number of records written, -1 for nothing. */
static int encode_rrset(struct encode_ctx *c, const struct answer_rr *r, bool dnssec)
{
    size_t save_pos = c->pos;
    unsigned save_comp = c->n_comp;
    const struct zone_rrset *sigs = dnssec ? r->rrset->sigs : NULL;
    if (!encode_records(c, r, r->rrset) || (sigs && !encode_records(c, r, sigs))) {
        c->pos = save_pos;
        c->n_comp = save_comp;
        return -1;
    }
    return r->rrset->count + (sigs ? sigs->count : 0);
}

/* The reply's OPT record as dns/msg_build writes it. */
static struct dns_opt encode_opt_of(const struct dns_query *q, uint16_t rcode,
                                    const struct encode_params *ep)
{
    struct dns_opt o = {.payload = ep->edns_advertise,
                        .ext_rcode = (uint8_t)(rcode >> 4),
                        .do_bit = q->edns_do,
                        .ecs = q->ecs.present ? &q->ecs : NULL,
                        .ecs_scope = ep->ecs_scope,
                        .nsid = ep->nsid,
                        .nsid_len = ep->nsid_len,
                        .cookie = ep->cookie,
                        .cookie_len = ep->cookie_len};
    return o;
}

static size_t encode_opt_len(const struct dns_query *q, const struct encode_params *ep)
{
    if (!q->edns)
        return 0;
    struct dns_opt o = encode_opt_of(q, 0, ep);
    return dns_msg_opt_size(&o);
}

/* Appends the reply's OPT record: our payload size, the extended rcode
 * bits, DO echoed, the query's client subnet echoed with our scope, and
 * the NSID and COOKIE options the caller gives. The callers keep
 * encode_opt_len() octets free below max_size, so it always fits (and the
 * parser has validated the ECS option). */
static void encode_opt(const struct dns_query *q, uint16_t rcode, const struct encode_params *ep,
                       uint8_t *out, size_t *pos)
{
    struct dns_opt o = encode_opt_of(q, rcode, ep);
    *pos += dns_msg_put_opt(&o, out + *pos, ep->max_size - *pos);
}

static void encode_header(const struct dns_query *q, uint16_t flags, uint16_t rcode, bool question,
                          uint8_t *out)
{
    dns_put16(out, q->id);
    /* Copy opcode and RD from the query. CD is cleared: an authoritative
     * response SHOULD clear it (RFC 4035 §3.1.6), as NSD and Knot do. */
    uint16_t f =
        (uint16_t)(DNS_FLAG_QR | (q->flags & (0x7800 | DNS_FLAG_RD)) | flags | (rcode & 0xf));
    dns_put16(out + 2, f);
    dns_put16(out + 4, question ? 1 : 0);
    memset(out + 6, 0, 6);
}

size_t answer_encode(const struct dns_query *q, const struct answer_plan *plan,
                     const struct encode_params *ep, uint8_t *out)
{
    struct encode_ctx c;
    uint16_t counts[3] = {0, 0, 0};
    uint16_t flags = plan->aa ? DNS_FLAG_AA : 0;
    size_t optlen = encode_opt_len(q, ep);

    encode_header(q, 0, plan->rcode, true, out);
    memcpy(out + DNS_HEADER_SIZE, q->question, q->question_len);
    c.out = out;
    c.pos = DNS_HEADER_SIZE + q->question_len;
    c.limit = ep->max_size - optlen;
    c.rclass = plan->rclass;
    c.n_comp = 0;
    for (unsigned i = 0; i < q->qname.count; i++)
        encode_comp_add(&c, q->qname.wire + q->qname.label[i], q->qname.len - q->qname.label[i],
                        DNS_HEADER_SIZE + q->qname.label[i]);
    /* Section by section: the plan lists RRsets in the order they were
     * decided, and DNSSEC proofs join the authority section late. */
    bool full = false;
    for (unsigned sec = ANSWER_SEC_ANSWER; sec <= ANSWER_SEC_ADDITIONAL && !full; sec++) {
        for (uint16_t i = 0; i < plan->n; i++) {
            const struct answer_rr *r = &plan->rrs[i];
            if (r->section != sec)
                continue;
            int written = encode_rrset(&c, r, plan->dnssec);
            if (written >= 0) {
                counts[sec] = (uint16_t)(counts[sec] + written);
                continue;
            }
            if (sec == ANSWER_SEC_ADDITIONAL) {
                /* Missing in-bailiwick glue sets TC (RFC 9471), but a
                 * smaller RRset further on may still fit: NSD and Knot
                 * add it, and a resolver can use every address it gets. */
                if (r->required)
                    flags |= DNS_FLAG_TC;
                continue;
            }
            flags |= DNS_FLAG_TC;
            full = true;
            break;
        }
    }
    encode_header(q, flags, plan->rcode, true, out);
    dns_put16(out + 6, counts[0]);
    dns_put16(out + 8, counts[1]);
    dns_put16(out + 10, counts[2]);
    if (q->edns) {
        encode_opt(q, plan->rcode, ep, out, &c.pos);
        dns_put16(out + 10, (uint16_t)(counts[2] + 1));
    }
    return c.pos;
}

/* Header, question (when it fits) and OPT, with the given header flags. */
static size_t encode_bare(const struct dns_query *q, uint16_t rcode, uint16_t flags,
                          const struct encode_params *ep, uint8_t *out)
{
    size_t pos = DNS_HEADER_SIZE;
    bool question = q->qname_ok && DNS_HEADER_SIZE + q->question_len + 11 <= ep->max_size;
    encode_header(q, flags, rcode, question, out);
    if (question) {
        memcpy(out + pos, q->question, q->question_len);
        pos += q->question_len;
    }
    if (q->edns && pos + encode_opt_len(q, ep) <= ep->max_size) {
        encode_opt(q, rcode, ep, out, &pos);
        dns_put16(out + 10, 1);
    }
    return pos;
}

size_t answer_encode_error(const struct dns_query *q, uint16_t rcode,
                           const struct encode_params *ep, uint8_t *out)
{
    return encode_bare(q, rcode, 0, ep, out);
}

size_t answer_encode_slip(const struct dns_query *q, uint16_t rcode, const struct encode_params *ep,
                          uint8_t *out)
{
    return encode_bare(q, rcode, DNS_FLAG_TC, ep, out);
}

size_t answer_encode_tsig_error(const struct dns_query *q, const uint8_t *pkt, size_t pktlen,
                                uint16_t error, const struct encode_params *ep, uint8_t *out)
{
    struct dns_name key, alg;
    size_t kpos = q->tsig_owner, apos = q->tsig_rdata;
    size_t pos = answer_encode_error(q, DNS_RCODE_NOTAUTH, ep, out);
    if (!dns_name_parse(pkt, pktlen, &kpos, &key, false) ||
        !dns_name_parse(pkt, pktlen, &apos, &alg, false))
        return pos;
    /* time signed (6) and fudge (2) are echoed from the request */
    const uint8_t *tf = pkt + apos;
    size_t need = key.len + 10 + alg.len + 6 + 2 + 2 + 2 + 2 + 2;
    if (pos + need > ep->max_size)
        return pos;
    uint8_t *p = out + pos;
    memcpy(p, key.wire, key.len);
    p += key.len;
    dns_put16(p, DNS_TYPE_TSIG);
    dns_put16(p + 2, DNS_CLASS_ANY);
    dns_put32(p + 4, 0);
    dns_put16(p + 8, (uint16_t)(alg.len + 16));
    p += 10;
    memcpy(p, alg.wire, alg.len);
    p += alg.len;
    memcpy(p, tf, 8);
    dns_put16(p + 8, 0); /* MAC size: unsigned */
    dns_put16(p + 10, q->id);
    dns_put16(p + 12, error);
    dns_put16(p + 14, 0);
    pos += need;
    dns_put16(out + 10, (uint16_t)(dns_get16(out + 10) + 1));
    return pos;
}
