/*
 * test_fleet_sign.c -- the fleet's signatures (fleet/fleet_sign.h): keys
 * from the configuration, records signed by one node and checked by
 * another, and every way a record can fail: unsigned, a stranger, a
 * tampered record or key, a member signing in another member's name; and
 * records bound to their life (fleet/fleet_life.c): sealed with the create
 * revision of their key, refused when read at a key created at another.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errlist.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_sign.h"
#include "tap.h"

struct node_key {
    char path[64];
    char pub[64]; /* base64 of the raw public key */
};

/* A fresh Ed25519 key in a 0600 PEM file. */
static void make_key(struct node_key *k, const char *dir, const char *name, int mode)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY_keygen_init(c);
    EVP_PKEY_keygen(c, &pk);
    EVP_PKEY_CTX_free(c);
    snprintf(k->path, sizeof(k->path), "%s/%s.key", dir, name);
    FILE *fp = fopen(k->path, "w");
    PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    chmod(k->path, (mode_t)mode);
    unsigned char raw[32];
    size_t rl = sizeof(raw);
    EVP_PKEY_get_raw_public_key(pk, raw, &rl);
    EVP_EncodeBlock((unsigned char *)k->pub, raw, 32);
    EVP_PKEY_free(pk);
}

/* Parses a fleet object for node; the number of errors. */
static size_t parse(const char *json, const char *node, struct fleet_keys *out, const char *dir)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {&e, "test.json", dir};
    json_t *v = json_loads(json, 0, NULL);
    fleet_keys_parse(&j, v, node, out);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    size_t n = e.count;
    json_decref(v);
    errlist_free(&e);
    return n;
}

/* fleet_life.c's rules with k1 (ns1's keys, borrowed) checking and k2's
 * node verifying the seal. */
static void life(struct tap *t, const struct fleet_keys *k1, const struct fleet_keys *k2)
{
    struct fleet *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    f->p.keys = *k1;
    const char *key = "/gtmd/overrides/ovr-1", *who = NULL;
    json_t *rec = json_pack("{s:s, s:i}", "id", "ovr-1", FLEET_LIFE_FORMAT, FLEET_FORMAT_PREV);
    fleet_sign(k1, key, rec);
    bool pending = false;
    char why[300] = "";
    TAP_CHECK(t,
              fleet_life_record(f, rec, 7, &pending, why, sizeof(why)) == FLEET_SIG_OK && pending,
              "created, not sealed yet: absent, not refused");
    json_t *s = fleet_life_seal(f, key, rec, 7);
    TAP_CHECK(t, fleet_verify(k2, key, s, NULL, &who) == FLEET_SIG_OK && strcmp(who, "ns1") == 0,
              "the sealed record is signed again, by ns1");
    TAP_CHECK(t, json_integer_value(json_object_get(s, FLEET_LIFE_BORN)) == 7, "born: 7");
    TAP_CHECK(t, fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_SIG_OK && !pending,
              "read at the key created at revision 7: applies");
    TAP_CHECK(t,
              fleet_life_record(f, s, 12, &pending, why, sizeof(why)) == FLEET_REJ_REPLAY &&
                  strstr(why, "put back"),
              "read at a key created at 12 (deleted and put back): a replay");
    json_object_set_new(s, FLEET_LIFE_BORN, json_string("7"));
    TAP_CHECK(t, fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_REJ_REPLAY,
              "a born that is not a number: refused");
    json_object_set_new(s, FLEET_LIFE_FORMAT, json_integer(FLEET_FORMAT_READ_MAX + 1));
    TAP_CHECK(t,
              fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_REJ_NEW_FORMAT &&
                  strstr(why, "is newer than this gtmd reads"),
              "a format past the version-skew window: refused as new_format (%s)", why);
    json_object_set_new(s, FLEET_LIFE_FORMAT, json_integer(1));
    TAP_CHECK(t, fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_REJ_OLD_FORMAT,
              "format 1 written out: refused as old_format");
    json_object_del(s, FLEET_LIFE_FORMAT);
    TAP_CHECK(t,
              fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_REJ_OLD_FORMAT &&
                  strstr(why, "before format 2"),
              "a record of a gtmd before format 2: refused");
    /* This node's own reports as the watch brings them back: the echo of
     * n=5 after n=6 was sent is no replay; n=5 after n=6 came back is. */
    json_t *r5 = json_pack("{s:i}", FLEET_LIFE_N, 5), *r6 = json_pack("{s:i}", FLEET_LIFE_N, 6);
    uint64_t seen = 4;
    TAP_CHECK(t, !fleet_life_own_replayed(f, r5, false, &seen) && seen == 5,
              "an echo newer than any seen: kept (seen 5)");
    TAP_CHECK(t, !fleet_life_own_replayed(f, r6, false, &seen) && seen == 6, "then 6");
    TAP_CHECK(t, fleet_life_own_replayed(f, r5, false, &seen) && seen == 6,
              "5 after 6 came back: put back, a replay");
    TAP_CHECK(t, !fleet_life_own_replayed(f, r5, true, &seen) && seen == 6,
              "not on a fresh read (a failed write's number)");
    f->p.keys.enabled = false;
    TAP_CHECK(t, !fleet_life_own_replayed(f, r5, false, &seen), "without members: never");
    json_decref(r5);
    json_decref(r6);
    TAP_CHECK(t, fleet_life_record(f, s, 7, &pending, why, sizeof(why)) == FLEET_SIG_OK,
              "without members nothing is checked");
    fleet_life_strip(rec);
    TAP_CHECK(t, !json_object_get(rec, FLEET_LIFE_FORMAT), "stripped before it is applied");
    TAP_CHECK(t,
              strcmp(fleet_verdict_name(FLEET_REJ_REPLAY), "replay") == 0 &&
                  strcmp(fleet_verdict_name(FLEET_REJ_OLD_FORMAT), "old_format") == 0 &&
                  strcmp(fleet_verdict_name(FLEET_REJ_NEW_FORMAT), "new_format") == 0,
              "the reasons' names");
    json_decref(rec);
    json_decref(s);
    free(f);
}

int main(void)
{
    struct tap t = {0, 0};
    char dir[] = "/tmp/gtmd-sign-XXXXXX", cfg[1024], bad[1024];
    if (!mkdtemp(dir))
        return 1;
    struct node_key a, b, c;
    make_key(&a, dir, "ns1", 0600);
    make_key(&b, dir, "ns2", 0600);
    make_key(&c, dir, "other", 0644);
    snprintf(cfg, sizeof(cfg),
             "{\"key_file\": \"%%s\", \"members\": {\"ns1\": \"%s\", \"ns2\": \"%s\"}}", a.pub,
             b.pub);
    struct fleet_keys k1, k2, k3;
    char one[1100], two[1100];
    snprintf(one, sizeof(one), cfg, a.path);
    snprintf(two, sizeof(two), cfg, b.path);
    TAP_CHECK(&t, parse(one, "ns1", &k1, dir) == 0 && k1.enabled && k1.n == 2, "ns1 loads");
    TAP_CHECK(&t, parse(two, "ns2", &k2, dir) == 0, "ns2 loads");

    json_t *v = json_pack("{s:s, s:i}", "state", "down", "at", 1795000000);
    TAP_CHECK(&t, fleet_sign(&k1, "/gtmd/obs/web/e1/ns1", v), "ns1 signs its observation");
    const char *who = NULL;
    TAP_CHECK(&t,
              fleet_verify(&k2, "/gtmd/obs/web/e1/ns1", v, "ns1", &who) == FLEET_SIG_OK && who &&
                  strcmp(who, "ns1") == 0,
              "ns2 accepts it");
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/obs/web/e1/ns2", v, "ns2", &who) == FLEET_SIG_BAD,
              "the same record under another key does not verify");
    json_object_set_new(v, "state", json_string("up"));
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/obs/web/e1/ns1", v, "ns1", &who) == FLEET_SIG_BAD,
              "a changed record does not verify");
    json_t *u = json_pack("{s:s}", "state", "down");
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/obs/web/e1/ns1", u, "ns1", &who) == FLEET_SIG_MISSING,
              "an unsigned record is refused");
    json_object_set_new(u, "signer", json_string("fake7"));
    json_object_set_new(u, "sig", json_string("AAAA"));
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/nodes/fake7", u, "fake7", &who) == FLEET_SIG_STRANGER,
              "a signer the configuration does not list is refused");
    json_t *w = json_pack("{s:s}", "id", "ovr-1");
    fleet_sign(&k1, "/gtmd/nodes/ns2", w);
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/nodes/ns2", w, "ns2", &who) == FLEET_SIG_IMPERSONATION,
              "ns1 signing ns2's node record is impersonation");
    TAP_CHECK(&t, fleet_verify(&k2, "/gtmd/nodes/ns2", w, NULL, &who) == FLEET_SIG_OK,
              "an override any member may have written: ok");

    life(&t, &k1, &k2);

    snprintf(bad, sizeof(bad), cfg, c.path);
    TAP_CHECK(&t, parse(bad, "ns1", &k3, dir) >= 1, "a key file others can read is refused");
    fleet_keys_free(&k3);
    TAP_CHECK(&t, parse(two, "ns1", &k3, dir) == 1, "ns1 with ns2's key file: refused");
    fleet_keys_free(&k3);
    TAP_CHECK(&t, parse(one, "ns3", &k3, dir) == 1, "a node the members do not list: refused");
    fleet_keys_free(&k3);
    TAP_CHECK(&t, parse("{\"members\": {\"ns1\": \"short\"}}", "ns1", &k3, dir) == 3,
              "a bad public key (so ns1 is not listed) and no key_file: three errors");
    fleet_keys_free(&k3);
    TAP_CHECK(&t, parse("{}", "ns1", &k3, dir) == 0 && !k3.enabled, "no members: signing off");
    TAP_CHECK(&t, fleet_verify(&k3, "k", u, NULL, &who) == FLEET_SIG_OK, "off: anything passes");
    fleet_keys_free(&k3);
    json_decref(v);
    json_decref(u);
    json_decref(w);
    fleet_keys_free(&k1);
    fleet_keys_free(&k2);
    unlink(a.path);
    unlink(b.path);
    unlink(c.path);
    rmdir(dir);
    return tap_done(&t);
}
