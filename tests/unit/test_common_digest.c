/*
 * Unit tests for src/common/digest.c: SHA-256 of FIPS 180-2's vectors as
 * lowercase hex, the empty input, and bytes past a NUL.
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
    return tap_done(&t);
}
