/*
 * Unit tests for src/common/digest.c: SHA-256 of FIPS 180-2's vectors as
 * lowercase hex, the empty input, and bytes past a NUL; digest_secret_eq
 * on equal, different, prefix and NULL secrets.
 */
#include <string.h>

#include "common/digest.h"
#include "tap.h"

int main(void)
{
    struct tap t = {0, 0};
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex("abc", 3, hex);
    TAP_CHECK(&t,
              strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
              "\"abc\" (%s)", hex);
    digest_sha256_hex("", 0, hex);
    TAP_CHECK(&t,
              strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
              "the empty input (%s)", hex);
    char other[DIGEST_SHA256_HEX];
    digest_sha256_hex("a\0b", 3, other);
    digest_sha256_hex("a\0c", 3, hex);
    TAP_CHECK(&t, strlen(hex) == 64 && strcmp(hex, other) != 0, "the length given, not the NUL");
    /* In pieces, as a dump gives them: the digest of the whole. */
    struct digest_sha256_run *d = digest_sha256_begin();
    digest_sha256_add(d, "a", 1);
    digest_sha256_add(d, "", 0);
    digest_sha256_add(d, "bc", 2);
    digest_sha256_end_hex(d, hex);
    TAP_CHECK(&t,
              strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
              "\"abc\" in pieces (%s)", hex);
    digest_sha256_end_hex(NULL, hex);
    TAP_CHECK(&t, hex[0] == '\0', "no run: no digest");
    TAP_CHECK(&t, digest_secret_eq("s3cret-token", "s3cret-token"), "equal secrets");
    TAP_CHECK(&t, !digest_secret_eq("s3cret-tokem", "s3cret-token"), "one byte differs");
    TAP_CHECK(&t, !digest_secret_eq("s3cret", "s3cret-token"), "a prefix is not equal");
    TAP_CHECK(&t, !digest_secret_eq("s3cret-token-and-more", "s3cret-token"), "a longer one");
    TAP_CHECK(&t, !digest_secret_eq("", "s3cret-token"), "the empty token");
    TAP_CHECK(&t, !digest_secret_eq(NULL, "x") && !digest_secret_eq("x", NULL), "NULL");
    return tap_done(&t);
}
