/*
 * dnstap_msg.c -- one Dnstap frame, packed with protobuf-c from the
 * schema in dnstap.proto (dnstap.pb-c.h is generated at build time).
 *
 * The messages are built on the stack and packed straight into the
 * caller's buffer: nothing is allocated (protobuf-c's pack does not).
 */
#include <netinet/in.h>
#include <string.h>

#include "dnstap/dnstap.h"
#include "dnstap/dnstap.pb-c.h"

/* Octets a frame takes beyond its messages, identity and version, at
 * most: tags, lengths, the enums, two 16-octet addresses, two ports and
 * two times (a varint is at most 10 octets). */
#define DNSTAP_MSG_OVERHEAD 160
/* The key of Dnstap's field 14 (message), length-delimited. */
#define DNSTAP_MSG_KEY ((14 << 3) | 2)

/* The address and port of a (AF_INET or AF_INET6) into *addr and
 * *port; false for another family. */
static bool dnstap_msg_addr(const struct sockaddr_storage *a, ProtobufCBinaryData *addr,
                            uint32_t *port)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)a;
        addr->data = (uint8_t *)&s->sin_addr;
        addr->len = 4;
        *port = ntohs(s->sin_port);
        return true;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)a;
        addr->data = (uint8_t *)&s->sin6_addr;
        addr->len = 16;
        *port = ntohs(s->sin6_port);
        return true;
    }
    return false;
}

static void dnstap_msg_times(Dnstap__Message *m, const struct dnstap_event *e)
{
    m->has_query_time_sec = m->has_query_time_nsec = true;
    m->query_time_sec = (uint64_t)e->qtime.tv_sec;
    m->query_time_nsec = (uint32_t)e->qtime.tv_nsec;
    if (!e->response)
        return;
    m->has_response_time_sec = m->has_response_time_nsec = true;
    m->response_time_sec = (uint64_t)e->rtime.tv_sec;
    m->response_time_nsec = (uint32_t)e->rtime.tv_nsec;
}

size_t dnstap_encode_bound(const struct dnstap_view *v, const struct dnstap_event *e)
{
    size_t msg_len = e->response ? e->reply_len : e->query_len;
    return msg_len + v->identity_len + v->version_len + DNSTAP_MSG_OVERHEAD;
}

/* The Message of e (its binary fields borrow e's buffers). */
static void dnstap_msg_fill(Dnstap__Message *m, const struct dnstap_event *e)
{
    m->type =
        e->response ? DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE : DNSTAP__MESSAGE__TYPE__AUTH_QUERY;
    m->has_socket_protocol = true;
    m->socket_protocol = e->tcp ? DNSTAP__SOCKET_PROTOCOL__TCP : DNSTAP__SOCKET_PROTOCOL__UDP;
    if (dnstap_msg_addr(e->client, &m->query_address, &m->query_port)) {
        m->has_socket_family = m->has_query_address = m->has_query_port = true;
        m->socket_family = e->client->ss_family == AF_INET ? DNSTAP__SOCKET_FAMILY__INET
                                                           : DNSTAP__SOCKET_FAMILY__INET6;
    }
    /* The server's address only when it is of the client's family (a
     * v4-mapped client on a wildcard IPv6 socket is reported as IPv6). */
    if (e->local && e->local->ss_family == e->client->ss_family &&
        dnstap_msg_addr(e->local, &m->response_address, &m->response_port))
        m->has_response_address = m->has_response_port = true;
    dnstap_msg_times(m, e);
    if (e->response) {
        m->has_response_message = true;
        m->response_message = (ProtobufCBinaryData){e->reply_len, (uint8_t *)e->reply};
    } else {
        m->has_query_message = true;
        m->query_message = (ProtobufCBinaryData){e->query_len, (uint8_t *)e->query};
    }
}

size_t dnstap_encode_head(const char *identity, size_t identity_len, const char *version,
                          size_t version_len, uint8_t *out)
{
    Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
    d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    if (identity) {
        d.has_identity = true;
        d.identity = (ProtobufCBinaryData){identity_len, (uint8_t *)identity};
    }
    if (version) {
        d.has_version = true;
        d.version = (ProtobufCBinaryData){version_len, (uint8_t *)version};
    }
    return dnstap__dnstap__pack(&d, out);
}

/*
 * A frame is the view's head (identity, version and type, packed once by
 * dnstap_encode_head) followed by field 14, the Message: protobuf fields
 * may come in any order, and a message's encodings concatenated are the
 * message with both sets of fields. The Message is packed by protobuf-c
 * once, after room for its key and the longest length it can have (3
 * octets: under 2 MiB); the length is then written and the Message moved
 * back over the room it did not need. protobuf-c's own nesting would walk
 * the Message twice (its size, then its octets): a third of the time.
 */
size_t dnstap_encode(const struct dnstap_view *v, const struct dnstap_event *e, uint8_t *out,
                     size_t cap)
{
    if (dnstap_encode_bound(v, e) > cap)
        return 0;
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    dnstap_msg_fill(&m, e);
    memcpy(out, v->head, v->head_len);
    uint8_t *p = out + v->head_len;
    size_t n = dnstap__message__pack(&m, p + 4), k = 0;
    uint8_t len[3];
    for (size_t x = n; k == 0 || x; x >>= 7)
        len[k++] = (uint8_t)((x & 0x7f) | (x >> 7 ? 0x80 : 0));
    p[0] = DNSTAP_MSG_KEY;
    memcpy(p + 1, len, k);
    if (k < 3)
        memmove(p + 1 + k, p + 4, n);
    return v->head_len + 1 + k + n;
}
