/*
 * test_fleet_keyseal.c -- the fleet's key set envelopes
 * (fleet/fleet_keyseal.h): a secret read as hex or base64 and refused
 * otherwise; a sealed set opened by the same secret; and every way an
 * envelope must fail: another secret (told apart from corruption), a
 * flipped ciphertext or tag byte, an envelope moved to another zone or
 * relabelled with another revision; and no plaintext in the envelope.
 */
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_keyseal.h"
#include "tap.h"

static const char *const HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* Opens env for zone; the status, the plaintext freed. */
static enum fleet_keyseal_status try_open(const unsigned char *sec, const char *zone, json_t *env,
                                          char *got, size_t gotlen)
{
    char *pt = NULL, digest[65], err[200];
    size_t len = 0;
    uint64_t rev = 0;
    enum fleet_keyseal_status st =
        fleet_keyseal_open(sec, zone, env, &pt, &len, &rev, digest, err, sizeof(err));
    if (got)
        snprintf(got, gotlen, "%s", pt ? pt : err);
    free(pt);
    return st;
}

/* env with field name's base64 value changed in its first character. */
static json_t *flip(json_t *env, const char *name)
{
    json_t *c = json_deep_copy(env);
    char *s = strdup(json_string_value(json_object_get(c, name)));
    s[0] = s[0] == 'A' ? 'B' : 'A';
    json_object_set_new(c, name, json_string(s));
    free(s);
    return c;
}

int main(void)
{
    struct tap t = {0};
    unsigned char a[32], b[32], c[32];
    char err[200];
    TAP_CHECK(&t, fleet_keyseal_parse_secret(HEX, a, err, sizeof(err)) && a[31] == 0x1f,
              "a secret of 64 hex digits");
    TAP_CHECK(&t,
              fleet_keyseal_parse_secret(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", c, err,
                                         sizeof(err)) &&
                  memcmp(a, c, 32) == 0,
              "the same secret in base64, with white space");
    TAP_CHECK(&t, !fleet_keyseal_parse_secret("00ff", c, err, sizeof(err)) && strstr(err, "32"),
              "a short secret is refused: %s", err);
    TAP_CHECK(&t, !fleet_keyseal_parse_secret("AAEC", c, err, sizeof(err)),
              "base64 of 3 bytes is refused");
    memcpy(b, a, 32);
    b[0] ^= 1;

    const char *set = "{\"keys\": [{\"private\": \"PrivateKey: SECRETMATERIAL\"}]}";
    json_t *env = fleet_keyseal_seal(a, "example.com.", 7, set, strlen(set));
    TAP_CHECK(&t, env != NULL, "a key set is sealed");
    char *dump = json_dumps(env, 0);
    TAP_CHECK(&t, dump && !strstr(dump, "SECRETMATERIAL") && !strstr(dump, "PrivateKey"),
              "the envelope holds no plaintext");
    free(dump);
    json_t *env2 = fleet_keyseal_seal(a, "example.com.", 7, set, strlen(set));
    TAP_CHECK(&t,
              strcmp(json_string_value(json_object_get(env, "nonce")),
                     json_string_value(json_object_get(env2, "nonce"))) != 0,
              "every seal has its own nonce");
    json_decref(env2);

    char got[300];
    TAP_CHECK(&t,
              try_open(a, "example.com.", env, got, sizeof(got)) == FLEET_KEYSEAL_OK &&
                  strcmp(got, set) == 0,
              "the same secret opens it");
    TAP_CHECK(&t, try_open(b, "example.com.", env, got, sizeof(got)) == FLEET_KEYSEAL_WRONG_SECRET,
              "another secret is told as such: %s", got);
    TAP_CHECK(&t, try_open(a, "example.net.", env, got, sizeof(got)) == FLEET_KEYSEAL_WRONG_ZONE,
              "another zone's name refuses it: %s", got);

    /* Relabelled to look like another zone's blob: the AD no longer fits. */
    json_t *moved = json_deep_copy(env);
    json_object_set_new(moved, "zone", json_string("example.net."));
    TAP_CHECK(&t, try_open(a, "example.net.", moved, got, sizeof(got)) == FLEET_KEYSEAL_CORRUPT,
              "a blob moved to another zone does not open: %s", got);
    json_decref(moved);
    json_t *rerev = json_deep_copy(env);
    json_object_set_new(rerev, "rev", json_integer(8));
    TAP_CHECK(&t, try_open(a, "example.com.", rerev, NULL, 0) == FLEET_KEYSEAL_CORRUPT,
              "a blob relabelled with another revision does not open");
    json_decref(rerev);
    json_t *x = flip(env, "ct");
    TAP_CHECK(&t, try_open(a, "example.com.", x, NULL, 0) == FLEET_KEYSEAL_CORRUPT,
              "a changed ciphertext does not open");
    json_decref(x);
    x = flip(env, "tag");
    TAP_CHECK(&t, try_open(a, "example.com.", x, NULL, 0) == FLEET_KEYSEAL_CORRUPT,
              "a changed tag does not open");
    json_decref(x);
    x = json_deep_copy(env);
    json_object_set_new(x, "nonce", json_string("AAAA"));
    TAP_CHECK(&t, try_open(a, "example.com.", x, NULL, 0) == FLEET_KEYSEAL_CORRUPT,
              "a nonce of the wrong size does not open");
    json_decref(x);
    /* Fields of the wrong JSON type (an etcd value written by hand, by
     * another version): refused with a reason, never opened, no crash. */
    static const struct {
        const char *field, *text;
    } types[] = {{"v", "\"1\""},  {"v", "1.0"},    {"rev", "\"7\""}, {"rev", "-1"},
                 {"rev", "7.5"},  {"zone", "5"},   {"kid", "[]"},    {"digest", "{}"},
                 {"nonce", "5"},  {"tag", "null"}, {"ct", "true"},   {"digest", "\"ab\""},
                 {"ct", "\"!!\""}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        x = json_deep_copy(env);
        json_object_set_new(x, types[i].field, json_loads(types[i].text, JSON_DECODE_ANY, NULL));
        enum fleet_keyseal_status st = try_open(a, "example.com.", x, got, sizeof(got));
        TAP_CHECK(&t,
                  (st == FLEET_KEYSEAL_MALFORMED || st == FLEET_KEYSEAL_CORRUPT) && got[0] != '\0',
                  "%s: %s is refused (%s: %s)", types[i].field, types[i].text,
                  fleet_keyseal_status_name(st), got);
        json_decref(x);
    }
    static const char *const not_objects[] = {"[1, 2]", "\"envelope\"", "null", "7"};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        x = json_loads(not_objects[i], JSON_DECODE_ANY, NULL);
        TAP_CHECK(&t, try_open(a, "example.com.", x, got, sizeof(got)) == FLEET_KEYSEAL_MALFORMED,
                  "an envelope that is %s is malformed: %s", not_objects[i], got);
        json_decref(x);
    }
    x = json_pack("{s:i}", "v", 2);
    TAP_CHECK(&t, try_open(a, "example.com.", x, NULL, 0) == FLEET_KEYSEAL_MALFORMED,
              "another version is malformed");
    json_decref(x);
    json_decref(env);
    return tap_done(&t);
}
