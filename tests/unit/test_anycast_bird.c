/* Unit tests for src/anycast/anycast_bird.h's reply parser (the replies
 * BIRD 2.0.12 gave to birdc here) and anycast_selfcheck.h's query and
 * reply check. */
#include <string.h>

#include "anycast/anycast_bird.h"
#include "anycast/anycast_selfcheck.h"
#include "tap.h"

static void bird(struct tap *t)
{
    bool ok;
    char first[64];
    const char *banner = "0001 BIRD 2.0.12 ready.\n";
    TAP_CHECK(t,
              anycast_bird_parse(banner, strlen(banner), &ok, first, sizeof(first)) == 1 && ok &&
                  strcmp(first, "BIRD 2.0.12 ready.") == 0,
              "the banner is a whole reply (%s)", first);
    const char *en = "0011-gtmd_anycast: enabled\n0000 \n";
    TAP_CHECK(t,
              anycast_bird_parse(en, strlen(en), &ok, first, sizeof(first)) == 1 && ok &&
                  strcmp(first, "gtmd_anycast: enabled") == 0,
              "enable: ok, its first line (%s)", first);
    TAP_CHECK(t, anycast_bird_parse(en, 20, &ok, first, sizeof(first)) == 0,
              "a reply cut in a line: more is needed");
    TAP_CHECK(t, anycast_bird_parse(en, 27, &ok, first, sizeof(first)) == 0,
              "a reply without its last line: more is needed");
    const char *no = "8003 No protocols match\n";
    TAP_CHECK(t,
              anycast_bird_parse(no, strlen(no), &ok, first, sizeof(first)) == 1 && !ok &&
                  strcmp(first, "No protocols match") == 0,
              "an unknown protocol: an error (%s)", first);
    const char *syn = "9001 syntax error, unexpected CF_SYM_UNDEFINED\n";
    TAP_CHECK(t, anycast_bird_parse(syn, strlen(syn), &ok, first, sizeof(first)) == 1 && !ok,
              "a syntax error: an error");
    const char *cont = "1002-a\n b\n0000 \n";
    TAP_CHECK(t, anycast_bird_parse(cont, strlen(cont), &ok, first, sizeof(first)) == 1 && ok,
              "continuation lines are skipped");
    const char *http = "HTTP/1.1 400 Bad Request\n";
    TAP_CHECK(t, anycast_bird_parse(http, strlen(http), &ok, first, sizeof(first)) == -1,
              "not BIRD: -1");
}

static void selfcheck(struct tap *t)
{
    unsigned char q[300];
    size_t n = anycast_selfcheck_query("example.com.", 0x1234, q, sizeof(q));
    static const unsigned char want[] = {0x12, 0x34, 0,   0,   0,   1,   0,   0,   0,   0,
                                         0,    0,    7,   'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                         3,    'c',  'o', 'm', 0,   0,   6,   0,   1};
    TAP_CHECK(t, n == sizeof(want) && memcmp(q, want, n) == 0, "the SOA query's wire form");
    TAP_CHECK(t, anycast_selfcheck_query("example.com", 1, q, sizeof(q)) == n,
              "the trailing dot is optional");
    TAP_CHECK(t, anycast_selfcheck_query(".", 1, q, sizeof(q)) == 17, "the root");
    TAP_CHECK(t, anycast_selfcheck_query("a..b.", 1, q, sizeof(q)) == 0, "an empty label: none");
    TAP_CHECK(t, anycast_selfcheck_query(NULL, 1, q, sizeof(q)) == 0, "no zone: none");
    const char *why = NULL;
    unsigned char r[12] = {0x12, 0x34, 0x84, 0x00};
    TAP_CHECK(t, anycast_selfcheck_reply_ok(r, 12, 0x1234, &why), "NOERROR with AA: ok");
    r[2] = 0x80;
    TAP_CHECK(t, !anycast_selfcheck_reply_ok(r, 12, 0x1234, &why) && strcmp(why, "no AA flag") == 0,
              "no AA: failed (%s)", why);
    r[2] = 0x84;
    r[3] = 5;
    TAP_CHECK(t, !anycast_selfcheck_reply_ok(r, 12, 0x1234, &why) && strcmp(why, "REFUSED") == 0,
              "REFUSED: failed (%s)", why);
    r[3] = 0;
    TAP_CHECK(t, !anycast_selfcheck_reply_ok(r, 12, 0x1235, &why), "another id: failed");
    TAP_CHECK(t, !anycast_selfcheck_reply_ok(r, 11, 0x1234, &why), "too short: failed");
}

int main(void)
{
    struct tap t = {0, 0};
    bird(&t);
    selfcheck(&t);
    return tap_done(&t);
}
