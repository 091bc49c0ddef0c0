/*
 * Unit tests for src/dnstap: a frame packed by dnstap_encode reads back
 * with protobuf-c as the dnstap schema says (AUTH_QUERY and
 * AUTH_RESPONSE, IPv4 and IPv6, UDP and TCP, identity and version); the
 * "dnstap" section's rules (one sink, sample range, queue size,
 * listeners bound to listen addresses); a view's per-listener settings
 * and its one-in-N sampling; and the writer: every frame queued through
 * the rings reaches the file whole and in order, however many wrap
 * around, and a queue that is full drops and counts instead of waiting.
 */
#include <arpa/inet.h>
#include <fstrm.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "dnstap/dnstap.h"
#include "dnstap/dnstap.pb-c.h"
#include "tap.h"

static struct dnstap_params test_params(const char *text, struct errlist *errs)
{
    struct dnstap_params p;
    struct jsoncfg j = {.errs = errs, .file = "t.json", .dir = "/tmp"};
    json_t *v = json_loads(text, 0, NULL);
    dnstap_params_parse(&j, v, &p);
    json_decref(v);
    return p;
}

static void test_encode(struct tap *t)
{
    struct errlist errs;
    errlist_init(&errs);
    struct dnstap_params p = test_params("{\"file\": \"x\", \"identity\": \"ns1\"}", &errs);
    struct dnstap_view *v = dnstap_view_new(&p, 1, "host", "gtmd 1");
    struct sockaddr_storage client, local;
    socklen_t len;
    addr_parse("192.0.2.7:40000", ADDR_PORT_REQUIRED, &client, &len);
    addr_parse("198.51.100.1:53", ADDR_PORT_REQUIRED, &local, &len);
    uint8_t q[40] = {0x12, 0x34, 1}, r[60] = {0x12, 0x34, 0x81}, out[512];
    struct dnstap_event e = {.client = &client,
                             .local = &local,
                             .query = q,
                             .query_len = sizeof(q),
                             .reply = r,
                             .reply_len = sizeof(r),
                             .qtime = {1700000000, 123},
                             .rtime = {1700000001, 456}};
    size_t n = dnstap_encode(v, &e, out, sizeof(out));
    Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, n, out);
    TAP_CHECK(t, n > 0 && d && d->message, "a query frame unpacks");
    if (d && d->message) {
        Dnstap__Message *m = d->message;
        TAP_CHECK(t,
                  d->type == DNSTAP__DNSTAP__TYPE__MESSAGE &&
                      m->type == DNSTAP__MESSAGE__TYPE__AUTH_QUERY,
                  "MESSAGE of type AUTH_QUERY");
        TAP_CHECK(t, d->has_identity && d->identity.len == 3 && !memcmp(d->identity.data, "ns1", 3),
                  "identity from the section");
        TAP_CHECK(t, d->has_version && d->version.len == 6, "version: the server's");
        TAP_CHECK(t,
                  m->socket_family == DNSTAP__SOCKET_FAMILY__INET &&
                      m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__UDP,
                  "INET, UDP");
        TAP_CHECK(t,
                  m->query_address.len == 4 && m->query_address.data[3] == 7 &&
                      m->query_port == 40000 && m->response_address.len == 4 &&
                      m->response_port == 53,
                  "addresses and ports");
        TAP_CHECK(t,
                  m->query_time_sec == 1700000000 && m->query_time_nsec == 123 &&
                      !m->has_response_time_sec,
                  "query time only");
        TAP_CHECK(t,
                  m->has_query_message && m->query_message.len == sizeof(q) &&
                      !memcmp(m->query_message.data, q, sizeof(q)) && !m->has_response_message,
                  "the query verbatim, no response");
    }
    dnstap__dnstap__free_unpacked(d, NULL);
    addr_parse("[2001:db8::5]:1234", ADDR_PORT_REQUIRED, &client, &len);
    e.response = e.tcp = true;
    e.local = NULL;
    n = dnstap_encode(v, &e, out, sizeof(out));
    d = dnstap__dnstap__unpack(NULL, n, out);
    TAP_CHECK(t,
              d && d->message && d->message->type == DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE &&
                  d->message->socket_family == DNSTAP__SOCKET_FAMILY__INET6 &&
                  d->message->socket_protocol == DNSTAP__SOCKET_PROTOCOL__TCP &&
                  d->message->query_address.len == 16 && !d->message->has_response_address &&
                  d->message->response_time_sec == 1700000001 &&
                  d->message->response_message.len == sizeof(r) && !d->message->has_query_message,
              "an IPv6 TCP response frame, server address unknown");
    dnstap__dnstap__free_unpacked(d, NULL);
    TAP_CHECK(t, dnstap_encode(v, &e, out, dnstap_encode_bound(v, &e) - 1) == 0,
              "a buffer below the bound is refused, not overrun");
    dnstap_view_free(v);
    dnstap_params_free(&p);
    errlist_free(&errs);
}

/* Binds p's listeners to the listen addresses 127.0.0.1:53 and [::1]:53. */
static void test_bind(struct dnstap_params *p, struct errlist *errs)
{
    struct sockaddr_storage a, b;
    socklen_t len;
    addr_parse("127.0.0.1:53", ADDR_PORT_REQUIRED, &a, &len);
    addr_parse("[::1]:53", ADDR_PORT_REQUIRED, &b, &len);
    const struct sockaddr_storage *listen[] = {&a, &b};
    struct jsoncfg j = {.errs = errs, .file = "t.json", .dir = "/tmp"};
    dnstap_params_bind(&j, p, listen, 2);
}

/* Whether text gives an error containing want (NULL: no error). */
static bool test_param_error(const char *text, const char *want)
{
    struct errlist errs;
    errlist_init(&errs);
    struct dnstap_params p = test_params(text, &errs);
    test_bind(&p, &errs);
    bool ok = want ? errs.count > 0 && strstr(errs.msgs[0], want) != NULL : errs.count == 0;
    if (!ok && errs.count)
        printf("# got: %s\n", errs.msgs[0]);
    dnstap_params_free(&p);
    errlist_free(&errs);
    return ok;
}

static void test_params_rules(struct tap *t)
{
    TAP_CHECK(t, test_param_error("{\"socket\": \"s\"}", NULL), "a socket alone is enough");
    TAP_CHECK(t, test_param_error("{}", "needs one of"), "no sink is refused");
    TAP_CHECK(t, test_param_error("{\"socket\": \"s\", \"file\": \"f\"}", "needs one of"),
              "two sinks are refused");
    TAP_CHECK(t, test_param_error("{\"file\": \"f\", \"sample\": 0}", "$.dnstap.sample"),
              "sample 0 is refused at its path");
    TAP_CHECK(t, test_param_error("{\"file\": \"f\", \"queue_size\": 100}", "power of two"),
              "a queue size that is not a power of two is refused");
    TAP_CHECK(t, test_param_error("{\"file\": \"f\", \"bogus\": 1}", "unknown key"),
              "an unknown key is refused");
    TAP_CHECK(t,
              test_param_error("{\"file\": \"f\", \"listeners\": {\"127.0.0.1:54\": {}}}",
                               "$.dnstap.listeners[\"127.0.0.1:54\"]"),
              "a listener that is not a listen address is refused at its path");
    TAP_CHECK(t,
              test_param_error("{\"file\": \"f\", \"listeners\": {\"[::1]:53\": {\"x\": 1}}}",
                               "unknown key"),
              "an unknown key of a listener is refused");
    TAP_CHECK(
        t,
        test_param_error("{\"file\": \"f\", \"identity\": \"" /* 256 octets */
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
                         "255 octets"),
        "an identity over 255 octets is refused");
}

static void test_view(struct tap *t)
{
    struct errlist errs;
    errlist_init(&errs);
    struct dnstap_params p =
        test_params("{\"file\": \"f\", \"sample\": 3, \"identity\": \"\","
                    " \"listeners\": {\"[::1]:53\": {\"responses\": false, \"sample\": 1}}}",
                    &errs);
    test_bind(&p, &errs);
    struct dnstap_view *v = dnstap_view_new(&p, 2, "host", NULL);
    uint32_t count = 0;
    TAP_CHECK(t, errs.count == 0 && v && !dnstap_view_sample(v, 0, &count),
              "a listener the map does not name logs nothing");
    const struct dnstap_what *w = dnstap_view_sample(v, 1, &count);
    TAP_CHECK(t, w && w->what == DNSTAP_QUERIES, "a named listener: its own settings");
    unsigned hits = 0;
    count = 0;
    for (int i = 0; i < 30; i++)
        hits += dnstap_view_sample(v, 9, &count) != NULL; /* unknown: the section's, 1 in 3 */
    TAP_CHECK(t, hits == 10, "one in three sampled (%u of 30)", hits);
    TAP_CHECK(t, v && !v->identity && !v->version, "\"\" and a hidden server version: left out");
    dnstap_view_free(v);
    dnstap_params_free(&p);
    p = test_params("{\"socket\": \"s\", \"queries\": false}", &errs);
    v = dnstap_view_new(&p, 0, NULL, NULL);
    TAP_CHECK(t, v && v->what[0].what == DNSTAP_RESPONSES, "responses only");
    dnstap_view_free(v);
    dnstap_params_free(&p);
    errlist_free(&errs);
}

/* Reads the frames of file back: how many, whether each unpacks as an
 * AUTH_QUERY whose message is the one logged (id i, i % 3000 + 12
 * octets of i's pattern) and the ids increase. */
static size_t test_read_back(const char *file, bool *ok)
{
    struct fstrm_file_options *fo = fstrm_file_options_init();
    fstrm_file_options_set_file_path(fo, file);
    struct fstrm_reader *r = fstrm_file_reader_init(fo, NULL);
    fstrm_file_options_destroy(&fo);
    size_t n = 0;
    long last = -1;
    const uint8_t *data;
    size_t len;
    *ok = r != NULL;
    while (r && fstrm_reader_read(r, &data, &len) == fstrm_res_success) {
        Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);
        const ProtobufCBinaryData *m = d && d->message ? &d->message->query_message : NULL;
        long id = m && m->len >= 12 ? (long)m->data[0] << 16 | m->data[1] << 8 | m->data[2] : -1;
        if (!m || id <= last || m->len != (size_t)(id % 3000 + 12) ||
            m->data[m->len - 1] != (uint8_t)id)
            *ok = false;
        last = id;
        dnstap__dnstap__free_unpacked(d, NULL);
        n++;
    }
    fstrm_reader_destroy(&r);
    return n;
}

static void test_writer(struct tap *t)
{
    char file[] = "/tmp/gtmd-dnstap-unit-XXXXXX";
    int fd = mkstemp(file);
    close(fd);
    struct errlist errs;
    errlist_init(&errs);
    struct dnstap_params p = test_params("{\"file\": \"x\", \"queue_size\": 16}", &errs);
    free(p.file);
    p.file = strdup(file);
    char err[256];
    struct dnstap *dt = dnstap_open(&p, 2, err, sizeof(err));
    struct dnstap_view *v = dnstap_view_new(&p, 1, "host", "v");
    struct dnstap_stats st;
    for (int i = 0; i < 500 && (dnstap_stats(dt, &st), !st.connected); i++)
        usleep(10000); /* the I/O thread opens the file */
    TAP_CHECK(t, st.connected, "the file is open");
    struct sockaddr_storage client;
    socklen_t len;
    addr_parse("192.0.2.7:40000", ADDR_PORT_REQUIRED, &client, &len);
    static uint8_t q[3100];
    struct dnstap_event e = {.client = &client, .query = q};
    /* As fast as the loop goes: the writer cannot keep up, so the queue
     * fills and messages drop, without the loop ever waiting. Then paced
     * (a dropped message is retried after 200 us): the ring wraps many
     * times. */
    enum { FAST = 40000, PACED = 4000 };
    for (long i = 0; i < FAST + PACED; i++) {
        e.query_len = (size_t)(i % 3000 + 12);
        memset(q, (uint8_t)i, e.query_len);
        q[0] = (uint8_t)(i >> 16), q[1] = (uint8_t)(i >> 8), q[2] = (uint8_t)i;
        struct dnstap_stats before, after;
        for (int k = 0; k < (i < FAST ? 1 : 1000); k++) {
            dnstap_stats(dt, &before);
            dnstap_log(dnstap_queue_get(dt, 0), v, &e);
            dnstap_stats(dt, &after);
            if (after.queued > before.queued)
                break;
            usleep(200);
        }
    }
    dnstap_stats(dt, &st);
    TAP_CHECK(t, dt && st.dropped > 0 && st.queues == 2, "a full queue drops (%llu of %d)",
              (unsigned long long)st.dropped, FAST);
    TAP_CHECK(t, st.queued >= PACED, "paced, the ring wraps and is reused (%llu queued)",
              (unsigned long long)st.queued);
    json_t *js = dnstap_status_json(dt);
    TAP_CHECK(t, json_integer_value(json_object_get(js, "queued")) == (json_int_t)st.queued,
              "status says it");
    json_decref(js);
    dnstap_close(dt);
    bool ok;
    size_t frames = test_read_back(file, &ok);
    TAP_CHECK(t, ok && frames == st.queued,
              "the file holds every queued frame, whole, in order "
              "(%zu of %llu)",
              frames, (unsigned long long)st.queued);
    unlink(file);
    dnstap_view_free(v);
    dnstap_params_free(&p);
    errlist_free(&errs);
}

int main(void)
{
    struct tap t = {0};
    test_encode(&t);
    test_params_rules(&t);
    test_view(&t);
    test_writer(&t);
    return tap_done(&t);
}
