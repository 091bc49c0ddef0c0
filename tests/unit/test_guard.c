/*
 * Unit tests for src/guard: SipHash-2-4 against the reference vectors of
 * the paper (key 00..0f, messages 00..(n-1)) and SipHash-1-3 against
 * published values, DNS server cookies against
 * the test vectors of RFC 9018 Appendix A and the RFC 7873 length rules,
 * the response rate limiting buckets (rate, debt, window, slip, networks,
 * whitelist, concurrent updates), and the parsing of the "rrl" and
 * "cookies" sections.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/cookie.h"
#include "guard/guard_config.h"
#include "guard/rrl.h"
#include "guard/siphash.h"
#include "tap.h"

static void unhex(const char *s, uint8_t *out)
{
    for (size_t i = 0; s[2 * i]; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static struct sockaddr_storage ip(const char *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(s, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, s, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, s, &a->sin_addr);
    }
    return ss;
}

/* ---- SipHash ---------------------------------------------------------- */

static void test_siphash(struct tap *t)
{
    /* vectors_sip64[0..15] of the reference implementation. */
    static const char *const want[16] = {
        "310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
        "b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
        "6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
        "fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1"};
    uint8_t key[16], msg[16];
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t)i;
    for (int n = 0; n < 16; n++) {
        uint8_t out[8];
        char got[17];
        siphash_put_le(siphash24(key, msg, (size_t)n), out);
        hex(out, 8, got);
        TAP_CHECK(t, strcmp(got, want[n]) == 0, "siphash24 of %d octets = %s (want %s)", n, got,
                  want[n]);
    }
    /* SipHash-1-3 under the all-zero key, as the 64-bit values another
     * implementation's tests publish (the paper has no vectors for it). */
    static const struct {
        const char *msg;
        uint64_t want;
    } v13[] = {{"", 0xd1fba762150c532cULL},
               {"siphash", 0x8264ceeccb16bcbeULL},
               {"digest-sip_hash", 0xce31007e34130c0aULL}};
    uint8_t zero[16] = {0};
    for (size_t i = 0; i < sizeof(v13) / sizeof(v13[0]); i++) {
        uint64_t got = siphash13(zero, v13[i].msg, strlen(v13[i].msg));
        TAP_CHECK(t, got == v13[i].want, "siphash13 of \"%s\" = %016llx (want %016llx)", v13[i].msg,
                  (unsigned long long)got, (unsigned long long)v13[i].want);
    }
    uint8_t a[16], b[16];
    TAP_CHECK(t, siphash_random_key(a) && siphash_random_key(b) && memcmp(a, b, 16) != 0,
              "two random keys differ");
}

/* ---- cookies ------------------------------------------------------------ */

static struct cookie_params params_with(const char *secret, const char *previous)
{
    struct cookie_params p;
    memset(&p, 0, sizeof(p));
    p.enabled = true;
    unhex(secret, p.secret);
    if (previous) {
        unhex(previous, p.previous);
        p.has_previous = true;
    }
    return p;
}

static enum cookie_status check(const struct cookie_params *p, const char *opt_hex,
                                const char *addr, uint32_t now, char *reply_hex)
{
    uint8_t opt[40], reply[COOKIE_REPLY_LEN];
    size_t len = strlen(opt_hex) / 2;
    struct sockaddr_storage ss = ip(addr);
    unhex(opt_hex, opt);
    enum cookie_status st = cookie_check(p, opt, len, &ss, now, reply);
    hex(reply, COOKIE_REPLY_LEN, reply_hex);
    return st;
}

#define RFC_SECRET "e5e973e5a6b2a43f48e7dc849e37bfcf"

static void test_cookie_vectors(struct tap *t)
{
    struct cookie_params p = params_with(RFC_SECRET, NULL);
    char reply[2 * COOKIE_REPLY_LEN + 1];
    enum cookie_status st;

    /* A.1: learning a new server cookie. */
    st = check(&p, "2464c4abcf10c957", "198.51.100.100", 1559731985, reply);
    TAP_CHECK(t,
              st == COOKIE_CLIENT_ONLY &&
                  strcmp(reply, "2464c4abcf10c957010000005cf79f111f8130c3eee29480") == 0,
              "RFC 9018 A.1: client cookie alone gets %s", reply);
    /* A.2: 40 minutes later the cookie is valid, and renewed. */
    st = check(&p, "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100", 1559734385,
               reply);
    TAP_CHECK(t,
              st == COOKIE_VALID &&
                  strcmp(reply, "2464c4abcf10c957010000005cf7a871d4a564a1442aca77") == 0,
              "RFC 9018 A.2: valid after 40 min, renewed to %s", reply);
    /* The same cookie 10 minutes after it was made is echoed as is. */
    st = check(&p, "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100",
               1559731985 + 600, reply);
    TAP_CHECK(t,
              st == COOKIE_VALID &&
                  strcmp(reply, "2464c4abcf10c957010000005cf79f111f8130c3eee29480") == 0,
              "a valid cookie younger than 30 min is echoed");
    /* A.3: the reserved octets the client sent are part of the hash; its
     * cookie is valid when fresh, and past an hour a fresh one is made. */
    st = check(&p, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203",
               0x5cf78f71 + 60, reply);
    TAP_CHECK(t, st == COOKIE_VALID, "RFC 9018 A.3: reserved octets hashed as received");
    st = check(&p, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559734700,
               reply);
    TAP_CHECK(t,
              st == COOKIE_BAD &&
                  strcmp(reply, "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e") == 0,
              "RFC 9018 A.3: 1h52m old is expired, fresh cookie %s", reply);
    st = check(&p, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.204",
               0x5cf78f71 + 60, reply);
    TAP_CHECK(t, st == COOKIE_BAD, "the cookie from another address is not valid");

    /* A.4: IPv6, the secret rolled over; the old one is still accepted. */
    const char *v6 = "2001:db8:220:1:59de:d0f4:8769:82b8";
    const char *q4 = "22681ab97d52c298010000005cf7c57926556bd0934c72f8";
    struct cookie_params rolled =
        params_with("445536bcd2513298075a5d379663c962", "dd3bdf9344b678b185a6f5cb60fca715");
    st = check(&rolled, q4, v6, 1559741961, reply);
    TAP_CHECK(t,
              st == COOKIE_VALID &&
                  strcmp(reply, "22681ab97d52c298010000005cf7c609a6bb79d16625507a") == 0,
              "RFC 9018 A.4: valid under the previous secret, remade under the new: %s", reply);
    struct cookie_params only_new = params_with("445536bcd2513298075a5d379663c962", NULL);
    st = check(&only_new, q4, v6, 1559741961, reply);
    TAP_CHECK(t, st == COOKIE_BAD, "RFC 9018 A.4: without the previous secret it is not valid");
}

static void test_cookie_rules(struct tap *t)
{
    static const struct {
        size_t len;
        bool ok;
    } lens[] = {{0, false},  {7, false}, {8, true},  {9, false},
                {15, false}, {16, true}, {40, true}, {41, false}};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        TAP_CHECK(t, cookie_len_ok(lens[i].len) == lens[i].ok, "RFC 7873 §5.2.2: length %zu %s",
                  lens[i].len, lens[i].ok ? "accepted" : "malformed");

    struct cookie_params p = params_with(RFC_SECRET, NULL);
    struct sockaddr_storage a = ip("192.0.2.7");
    uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8}, opt[24], reply[24];
    memcpy(opt, client, 8);
    static const struct {
        int32_t age;
        enum cookie_status want;
    } ages[] = {{0, COOKIE_VALID},
                {3600, COOKIE_VALID},
                {3601, COOKIE_BAD},
                {-300, COOKIE_VALID},
                {-301, COOKIE_BAD}};
    uint32_t now = 4294964696u; /* the timestamp wraps in these cases */
    for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
        cookie_make(p.secret, client, &a, now - (uint32_t)ages[i].age, opt + 8);
        enum cookie_status st = cookie_check(&p, opt, 24, &a, now, reply);
        TAP_CHECK(t, st == ages[i].want, "a cookie %d s old is %s", ages[i].age,
                  st == COOKIE_VALID ? "valid" : "not valid");
    }
    cookie_make(p.secret, client, &a, now, opt + 8);
    opt[8] = 2; /* version 2: not ours */
    TAP_CHECK(t, cookie_check(&p, opt, 24, &a, now, reply) == COOKIE_BAD,
              "a server cookie of another version is not valid");
    uint8_t long_opt[40];
    memcpy(long_opt, opt, 24);
    memset(long_opt + 24, 0, 16);
    TAP_CHECK(t, cookie_check(&p, long_opt, 40, &a, now, reply) == COOKIE_BAD,
              "a 32-octet server cookie is not ours (bad, not malformed)");
}

static struct cookie_params parse_cookies(const char *json, size_t *errors)
{
    struct errlist errs;
    errlist_init(&errs);
    struct jsoncfg j = {.errs = &errs, .file = "t.json", .dir = "."};
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    struct cookie_params p;
    cookie_params_parse(&j, v, &p);
    *errors = errs.count;
    for (size_t i = 0; i < errs.count; i++)
        printf("# %s\n", errs.msgs[i]);
    json_decref(v);
    errlist_free(&errs);
    return p;
}

static void test_cookie_config(struct tap *t)
{
    size_t errs;
    struct cookie_params p = parse_cookies(NULL, &errs);
    TAP_CHECK(t, errs == 0 && p.enabled && !p.secret_from_config && !p.require,
              "cookies absent: on, random secret");
    struct cookie_params start = p;
    TAP_CHECK(t, cookie_params_carry(&start, NULL), "a random secret at start");
    struct cookie_params next = p;
    cookie_params_carry(&next, &start);
    TAP_CHECK(t, memcmp(next.secret, start.secret, 16) == 0 && !next.has_previous,
              "a reload keeps the secret");
    next = parse_cookies("{\"rotate_on_reload\": true}", &errs);
    cookie_params_carry(&next, &start);
    TAP_CHECK(t,
              memcmp(next.secret, start.secret, 16) != 0 && next.has_previous &&
                  memcmp(next.previous, start.secret, 16) == 0,
              "rotate_on_reload: a new secret, the old one still accepted");
    p = parse_cookies("{\"secret\": \"" RFC_SECRET "\", \"require\": true}", &errs);
    uint8_t want[16];
    unhex(RFC_SECRET, want);
    TAP_CHECK(t, errs == 0 && p.secret_from_config && p.require && memcmp(p.secret, want, 16) == 0,
              "configured secret and require");
    cookie_params_carry(&p, &start);
    TAP_CHECK(t, p.has_previous && memcmp(p.previous, start.secret, 16) == 0,
              "a configured secret replacing another keeps the old one as previous");
    p = parse_cookies("false", &errs);
    TAP_CHECK(t, errs == 0 && !p.enabled, "cookies: false turns them off");
    parse_cookies("{\"secret\": \"abc\"}", &errs);
    TAP_CHECK(t, errs == 1, "a short secret is an error");
    parse_cookies("{\"secret\": \"" RFC_SECRET "\", \"rotate_on_reload\": true}", &errs);
    TAP_CHECK(t, errs == 1, "a configured secret with rotate_on_reload is an error");
    parse_cookies("{\"enable\": true}", &errs);
    TAP_CHECK(t, errs == 1, "an unknown key is an error");
}

/* ---- rate limiting -------------------------------------------------------- */

static struct rrl_params rrl_with(uint32_t rate, uint32_t slip, uint32_t window)
{
    struct rrl_params p;
    memset(&p, 0, sizeof(p));
    for (int c = 0; c < RRL_CLASSES; c++)
        p.rate[c] = rate;
    p.slip = slip;
    p.window = window;
    p.ipv4_prefix = 24;
    p.ipv6_prefix = 56;
    p.table_size = 1024;
    return p;
}

/* How many of n responses at second now pass. */
static int passes(struct rrl_table *tb, const struct rrl_params *p, struct rrl_thread *th,
                  const char *addr, enum rrl_class c, const char *name, int n, uint32_t now)
{
    struct sockaddr_storage a = ip(addr);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok +=
            rrl_account(tb, p, th, &a, c, (const uint8_t *)name, strlen(name) + 1, now) == RRL_PASS;
    return ok;
}

static void test_rrl_buckets(struct tap *t)
{
    struct rrl_params p = rrl_with(5, 0, 2);
    struct rrl_table *tb = rrl_table_new(1024);
    struct rrl_thread th = {0};
    uint32_t now = 1000;
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 8, now) == 5,
              "rate 5: 5 of 8 responses in one second pass");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.200", RRL_ANSWER, "www", 1, now) == 0,
              "another host of the same /24 shares the bucket");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.3.1", RRL_ANSWER, "www", 5, now) == 5,
              "another /24 has its own bucket");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "mail", 5, now) == 5,
              "another name has its own bucket");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_NXDOMAIN, "www", 5, now) == 5,
              "another class has its own bucket");
    /* The flood went on: 4 more limited responses, debt floored at
     * window x rate = 10. Each second adds 5 tokens. */
    passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 20, now);
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 1, now + 1) == 0,
              "in debt: still limited one second later");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 1, now + 2) == 0,
              "two seconds later, still in debt");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 5, now + 4) == 5,
              "once the debt is paid, a second's worth passes again");
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ANSWER, "www", 6, now + 100) == 5,
              "after more than window seconds idle, a full bucket");
    /* A steady client just under the rate is never limited. */
    int steady = 0;
    for (uint32_t s = 0; s < 30; s++)
        steady += passes(tb, &p, &th, "198.51.100.9", RRL_ANSWER, "www", 5, 2000 + s);
    TAP_CHECK(t, steady == 150, "5 responses a second for 30 s at rate 5: all pass (%d)", steady);

    /* IPv6: /56 networks; v4-mapped addresses count as IPv4. */
    TAP_CHECK(t, passes(tb, &p, &th, "2001:db8:0:ff::1", RRL_ANSWER, "www", 6, now) == 5,
              "IPv6 rate 5");
    TAP_CHECK(t, passes(tb, &p, &th, "2001:db8:0:aa::2", RRL_ANSWER, "www", 1, now) == 0,
              "another host of the same /56 shares it");
    TAP_CHECK(t, passes(tb, &p, &th, "2001:db8:0:100::1", RRL_ANSWER, "www", 1, now) == 1,
              "another /56 does not");
    TAP_CHECK(t, passes(tb, &p, &th, "::ffff:192.0.3.77", RRL_ANSWER, "www", 1, now) == 0,
              "a v4-mapped address shares its IPv4 /24's bucket");

    p.rate[RRL_ERROR] = 0;
    TAP_CHECK(t, passes(tb, &p, &th, "192.0.2.1", RRL_ERROR, "", 50, now) == 50,
              "a class with rate 0 is not limited");
    rrl_table_unref(tb);
}

static void test_rrl_slip_whitelist(struct tap *t)
{
    struct rrl_params p = rrl_with(1, 3, 1);
    struct rrl_table *tb = rrl_table_new(1024);
    struct rrl_thread th = {0};
    struct sockaddr_storage a = ip("203.0.113.5");
    int drop = 0, slip = 0;
    rrl_account(tb, &p, &th, &a, RRL_ANSWER, (const uint8_t *)"x", 2, 7);
    for (int i = 0; i < 9; i++) {
        enum rrl_verdict v = rrl_account(tb, &p, &th, &a, RRL_ANSWER, (const uint8_t *)"x", 2, 7);
        drop += v == RRL_DROP;
        slip += v == RRL_SLIP;
    }
    TAP_CHECK(t, drop == 6 && slip == 3, "slip 3: every third limited response slips (%d/%d)", drop,
              slip);
    p.slip = 0;
    TAP_CHECK(t, rrl_account(tb, &p, &th, &a, RRL_ANSWER, (const uint8_t *)"x", 2, 7) == RRL_DROP,
              "slip 0: never");
    struct addr_net net = {.family = AF_INET, .prefix = 16};
    inet_pton(AF_INET, "203.0.0.0", net.addr);
    p.whitelist = &net;
    p.n_whitelist = 1;
    TAP_CHECK(t, rrl_account(tb, &p, &th, &a, RRL_ANSWER, (const uint8_t *)"x", 2, 7) == RRL_PASS,
              "a whitelisted network is never limited");
    p.whitelist = NULL;
    p.n_whitelist = 0;
    TAP_CHECK(t, rrl_table_reuse(tb, 1024) == tb, "a reload keeping table_size keeps the table");
    struct rrl_table *other = rrl_table_reuse(tb, 2048);
    TAP_CHECK(t, other && other != tb, "another table_size makes a new table");
    rrl_table_unref(other);
    rrl_table_unref(tb);
    rrl_table_unref(tb);
}

struct hammer {
    struct rrl_table *tb;
    const struct rrl_params *p;
    int passed;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct rrl_thread th = {0};
    struct sockaddr_storage a = ip("192.0.2.99");
    for (int i = 0; i < 200000; i++)
        h->passed += rrl_account(h->tb, h->p, &th, &a, RRL_ANSWER, (const uint8_t *)"hot", 4, 42) ==
                     RRL_PASS;
    return NULL;
}

/* Two threads on one key within one second: the compare-and-swap keeps the
 * count (a lost update would let far more through). */
static void test_rrl_concurrent(struct tap *t)
{
    struct rrl_params p = rrl_with(1000, 0, 5);
    struct rrl_table *tb = rrl_table_new(1024);
    struct hammer h[2] = {{tb, &p, 0}, {tb, &p, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hammer_main, &h[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int total = h[0].passed + h[1].passed;
    TAP_CHECK(t, total >= 1000 && total <= 1010,
              "400000 responses from two threads, rate 1000: %d passed", total);
    rrl_table_unref(tb);
}

static struct rrl_params *parse_rrl(const char *json, size_t *errors)
{
    struct errlist errs;
    errlist_init(&errs);
    struct jsoncfg j = {.errs = &errs, .file = "t.json", .dir = "."};
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    struct rrl_params *p = rrl_params_parse(&j, v);
    *errors = errs.count;
    for (size_t i = 0; i < errs.count; i++)
        printf("# %s\n", errs.msgs[i]);
    json_decref(v);
    errlist_free(&errs);
    return p;
}

static void test_rrl_config(struct tap *t)
{
    size_t errs;
    struct rrl_params *p = parse_rrl("{}", &errs);
    TAP_CHECK(t,
              p && errs == 0 && p->rate[RRL_ANSWER] == RRL_DEFAULT_RATE &&
                  p->rate[RRL_ERROR] == RRL_DEFAULT_RATE && p->slip == 2 && p->window == 15 &&
                  p->ipv4_prefix == 24 && p->ipv6_prefix == 56 && p->table_size == 65536,
              "rrl {}: defaults");
    rrl_params_free(p);
    free(p);
    p = parse_rrl("{\"rate\": 20, \"nxdomain_rate\": 5, \"error_rate\": 0, \"slip\": 0, "
                  "\"table_size\": 5000, \"ipv4_prefix\": 32, "
                  "\"whitelist\": [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.1\"]}",
                  &errs);
    TAP_CHECK(t,
              p && errs == 0 && p->rate[RRL_ANSWER] == 20 && p->rate[RRL_REFERRAL] == 20 &&
                  p->rate[RRL_NXDOMAIN] == 5 && p->rate[RRL_ERROR] == 0 && p->slip == 0 &&
                  p->table_size == 8192 && p->ipv4_prefix == 32 && p->n_whitelist == 3 &&
                  p->whitelist[2].prefix == 32,
              "rrl: rates per class, slip, table size rounded up, whitelist");
    struct sockaddr_storage in = ip("10.9.8.7"), out = ip("11.0.0.1");
    TAP_CHECK(t,
              p && addr_net_contains(&p->whitelist[0], &in) &&
                  !addr_net_contains(&p->whitelist[0], &out),
              "whitelist 10.0.0.0/8 contains 10.9.8.7, not 11.0.0.1");
    rrl_params_free(p);
    free(p);
    p = parse_rrl("{\"whitelist\": [\"10.0.0.1/8\"], \"window\": 0, \"rates\": 1}", &errs);
    TAP_CHECK(t, !p && errs == 3, "host bits, window 0 and an unknown key are errors (%zu)", errs);
    p = parse_rrl("[1]", &errs);
    TAP_CHECK(t, !p && errs == 1, "rrl must be an object");
}

int main(void)
{
    struct tap t = {0, 0};
    test_siphash(&t);
    test_cookie_vectors(&t);
    test_cookie_rules(&t);
    test_cookie_config(&t);
    test_rrl_buckets(&t);
    test_rrl_slip_whitelist(&t);
    test_rrl_concurrent(&t);
    test_rrl_config(&t);
    return tap_done(&t);
}
