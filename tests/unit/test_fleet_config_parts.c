/*
 * Unit tests for fleet_config_parts_ok (src/fleet/fleet_config_parts.c):
 * what a configuration version may name as the parts of its whole
 * document. A record is signed, but what it names is still checked: its
 * own version's slices only, one NODE.NONCE segment, a digest of 64 hex
 * digits, a count in range; anything else is refused before a key is read.
 */
#include <string.h>

#include "fleet/fleet_int.h"
#include "tap.h"

static bool parts(const char *prefix, json_int_t n, const char *sum, uint64_t v)
{
    json_t *p = json_pack("{s:s, s:I, s:s}", "prefix", prefix, "n", n, "sha256", sum);
    bool ok = fleet_config_parts_ok(p, v);
    json_decref(p);
    return ok;
}

int main(void)
{
    struct tap t = {0, 0};
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    TAP_CHECK(&t, parts("000000000042/n1.0badcafe/", 3, hex, 42), "its own version's parts");
    TAP_CHECK(&t, !parts("000000000041/n1.0badcafe/", 3, hex, 42), "another version's parts");
    TAP_CHECK(&t, !parts("000000000042/", 3, hex, 42), "no writer segment");
    TAP_CHECK(&t, !parts("000000000042/n1/x/", 3, hex, 42), "two segments");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe", 3, hex, 42), "no closing slash");
    TAP_CHECK(&t, !parts("000000000042/../", 3, hex, 42), "a \"..\" segment");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 0, hex, 42), "no parts");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 100000, hex, 42), "too many parts");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 3, "abc", 42), "a short digest");
    TAP_CHECK(&t, !fleet_config_parts_ok(NULL, 42), "no parts object");
    json_t *bad = json_pack("{s:i, s:I, s:s}", "prefix", 7, "n", (json_int_t)3, "sha256", hex);
    TAP_CHECK(&t, !fleet_config_parts_ok(bad, 42), "a prefix that is not a string");
    json_decref(bad);
    return tap_done(&t);
}
