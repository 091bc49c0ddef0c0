/*
 * Unit tests for src/health/probe_grpc_msg.c: the grpc.health.v1 messages
 * encoded and decoded by hand (the request's service field, the reply's
 * status, fields to skip, and every way a reply may be malformed), the
 * names of statuses and codes, and grpc-message as reason text.
 */
#include <string.h>

#include "health/probe_grpc.h"
#include "tap.h"

/* The status of a reply message (prefix added here), or -100 when it is
 * refused. */
static long reply(const char *body, size_t n)
{
    uint8_t m[64] = {0, 0, 0, 0, (uint8_t)n};
    char why[128];
    long st;
    memcpy(m + 5, body, n);
    return probe_grpc_reply(m, n + 5, &st, why, sizeof(why)) == 0 ? st : -100;
}

static void requests(struct tap *t)
{
    uint8_t b[700];
    size_t n = probe_grpc_request(NULL, b, sizeof(b));
    TAP_CHECK(t, n == 5 && memcmp(b, "\0\0\0\0\0", 5) == 0, "no service: an empty message");
    n = probe_grpc_request("svc.A", b, sizeof(b));
    TAP_CHECK(t, n == 12 && memcmp(b, "\0\0\0\0\x07\x0a\x05svc.A", 12) == 0,
              "field 1, its length, the name, after the 5-octet prefix");
    char name[300];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    n = probe_grpc_request(name, b, sizeof(b));
    TAP_CHECK(t,
              n == 5 + 1 + 2 + 299 && b[4] == 302 - 256 && b[3] == 1 && b[6] == (0x80 | 43) &&
                  b[7] == 2,
              "a length of 299 as a two-octet varint, the message length big-endian");
    TAP_CHECK(t, probe_grpc_request("svc.A", b, 11) == 0, "refused when it does not fit");
}

static void replies(struct tap *t)
{
    TAP_CHECK(t, reply("\x08\x01", 2) == 1, "SERVING");
    TAP_CHECK(t, reply("\x08\x02", 2) == 2, "NOT_SERVING");
    TAP_CHECK(t, reply("", 0) == 0, "an empty message is status 0 (UNKNOWN), as proto3 reads it");
    TAP_CHECK(t, reply("\x10\x05\x08\x01\x1a\x02hi\x25\0\0\0\0\x29\0\0\0\0\0\0\0\0", 22) == 1,
              "unknown varint, string, 32- and 64-bit fields are skipped");
    TAP_CHECK(t, reply("\x08\x03\x08\x01", 4) == 1, "the last status wins");
    TAP_CHECK(t, reply("\x08", 1) == -100, "a key without its value");
    TAP_CHECK(t, reply("\x08\xff", 2) == -100, "a varint cut short");
    TAP_CHECK(t, reply("\x0a\x01\x01", 3) == -100, "status with the wrong wire type");
    TAP_CHECK(t, reply("\x1a\x05hi", 4) == -100, "a string longer than the message");
    TAP_CHECK(t, reply("\x0b\x0c", 2) == -100, "a group (wire type 3)");
    TAP_CHECK(t, reply("\x00\x01", 2) == -100, "field number 0");
    TAP_CHECK(t, reply("\x08\xff\xff\xff\xff\x0f", 6) == -1, "a status past int32 is none known");

    uint8_t m[16] = {1, 0, 0, 0, 2, 8, 1};
    char why[128];
    long st;
    TAP_CHECK(t, probe_grpc_reply(m, 7, &st, why, sizeof(why)) == -1 && strstr(why, "compressed"),
              "a compressed message is refused: %s", why);
    m[0] = 0;
    m[4] = 3;
    TAP_CHECK(t,
              probe_grpc_reply(m, 7, &st, why, sizeof(why)) == -1 &&
                  strstr(why, "3 octets announced, 2 sent"),
              "a length that is not the message's: %s", why);
    TAP_CHECK(t, probe_grpc_reply(m, 0, &st, why, sizeof(why)) == -1 && strstr(why, "no reply"),
              "no message at all: %s", why);
    TAP_CHECK(t, probe_grpc_reply(m, 3, &st, why, sizeof(why)) == -1 && strstr(why, "cut short"),
              "a prefix cut short: %s", why);
}

static void texts(struct tap *t)
{
    TAP_CHECK(t, strcmp(probe_grpc_serving_name(2), "NOT_SERVING") == 0, "NOT_SERVING");
    TAP_CHECK(t, strcmp(probe_grpc_serving_name(3), "SERVICE_UNKNOWN") == 0, "SERVICE_UNKNOWN");
    TAP_CHECK(t, !probe_grpc_serving_name(4) && !probe_grpc_serving_name(-1), "others: none");
    TAP_CHECK(t, strcmp(probe_grpc_code_name(12), "UNIMPLEMENTED") == 0, "code 12");
    TAP_CHECK(t, strcmp(probe_grpc_code_name(16), "UNAUTHENTICATED") == 0, "code 16");
    TAP_CHECK(t, !probe_grpc_code_name(17), "code 17: none");
    char out[16];
    const char *in = "a%20b%0Ac%zz%4";
    probe_grpc_message(in, strlen(in), out, sizeof(out));
    TAP_CHECK(t, strcmp(out, "a b?c%zz%4") == 0, "percent-decoded, controls as ?: %s", out);
    probe_grpc_message("0123456789abcdefgh", 18, out, 8);
    TAP_CHECK(t, strcmp(out, "0123456") == 0, "cut to fit");
    probe_grpc_message("\xc3\xa9", 2, out, sizeof(out));
    TAP_CHECK(t, strcmp(out, "??") == 0, "non-ASCII as ?");
}

int main(void)
{
    struct tap t = {0, 0};
    requests(&t);
    replies(&t);
    texts(&t);
    return tap_done(&t);
}
