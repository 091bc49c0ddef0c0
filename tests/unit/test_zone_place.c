/* Unit tests for src/zone/zone_place.c: random sequences of policy names
 * added, removed and retyped, applied to the running version by
 * zone_place (a full load where it declines, as the loader does), give
 * exactly the zone a full load of the same file and names gives (nodes,
 * flags, RRsets, empty non-terminals, wildcard children, the count of
 * policy names); the cases it must decline are declined; an old version
 * held while a thousand later ones come and go reads as it did; and
 * every version's memory goes with its last holder (ASan's leak check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errlist.h"
#include "dns/name.h"
#include "tap.h"
#include "zone/zone_load.h"
#include "zone/zone_place.h"

static const char zone_text[] = "$ORIGIN example.org.\n"
                                "$TTL 300\n"
                                "@ IN SOA ns1 host 1 3600 600 86400 60\n"
                                "@ IN NS ns1\n"
                                "ns1 IN A 192.0.2.53\n"
                                "www IN A 192.0.2.1\n"
                                "deep.a.b IN A 192.0.2.2\n"
                                "*.wild IN A 192.0.2.3\n"
                                "sub IN NS ns.sub\n"
                                "ns.sub IN A 192.0.2.4\n"
                                "dn IN DNAME example.net.\n";

/* The names a sequence picks from: free names at every depth, names
 * above and below each other, an empty non-terminal of the file (b,
 * a.b), and the wildcard's parent. */
static const char *const pool[] = {
    "p0",      "p1",   "p2",     "p3",   "q.p3", "r.q.p3", "s.r.q.p3", "x.y.z", "y.z",
    "z",       "m.n1", "m.n2",   "n1",   "b",    "a.b",    "e.b",      "f.e.b", "wild",
    "w2.wild", "t.p0", "u.t.p0", "v.p1", "p4",   "p5",     "p6",       "p7",
};
#define POOL_N (sizeof(pool) / sizeof(pool[0]))

/* Names zone_place must decline: the file's data there, a "*" label, at
 * or below a delegation or a DNAME, the apex. */
static const char *const declined[] = {"www", "*.p0", "a.*.p1", "x.sub", "sub", "x.dn", "@"};

static const uint16_t kinds[] = {ZONE_NODE_POLICY_A, ZONE_NODE_POLICY_AAAA,
                                 ZONE_NODE_POLICY_A | ZONE_NODE_POLICY_AAAA,
                                 ZONE_NODE_POLICY_CNAME};

static char zone_path[64];

static void place_name(const char *rel, struct dns_name *out)
{
    char full[300];
    if (strcmp(rel, "@") == 0)
        snprintf(full, sizeof(full), "example.org.");
    else
        snprintf(full, sizeof(full), "%s.example.org.", rel);
    if (!dns_name_from_str(full, out))
        abort();
}

/* The full load of the file with the names whose flags[] are set. */
static struct zone *place_full(const uint16_t *flags)
{
    struct dns_name extra[POOL_N];
    uint16_t ef[POOL_N];
    size_t n = 0;
    for (size_t i = 0; i < POOL_N; i++)
        if (flags[i]) {
            place_name(pool[i], &extra[n]);
            ef[n++] = flags[i];
        }
    struct errlist errs;
    errlist_init(&errs);
    struct zone *z =
        zone_load_signed("example.org.", zone_path, zone_path, extra, ef, n, NULL, &errs);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    errlist_free(&errs);
    if (!z)
        abort();
    return z;
}

/* Whether a and b are the same zone to a query: zone_records_equal, the
 * policy names counted alike, every wildcard child the same name. */
static void place_dump(const char *what, const struct zone *z)
{
    fprintf(stderr, "%s: %zu nodes, %zu policy names\n", what, z->n_nodes, z->n_policy_names);
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        char s[1100];
        if (!n)
            continue;
        dns_name_to_str(n->name, s, sizeof(s));
        fprintf(stderr, "  %s flags=%x rrsets=%u wild=%d\n", s, n->flags, n->n_rrsets,
                n->wildcard != NULL);
    }
}

static bool place_same(const struct zone *a, const struct zone *b)
{
    if (getenv("PLACE_DEBUG") &&
        (!zone_records_equal(a, b) || a->n_policy_names != b->n_policy_names)) {
        place_dump("got", a);
        place_dump("expected", b);
    }
    if (!zone_records_equal(a, b) || a->n_policy_names != b->n_policy_names)
        return false;
    for (uint32_t i = 0; i <= a->mask; i++) {
        const struct zone_node *na = a->table[i].node;
        if (!na)
            continue;
        const struct zone_node *nb =
            zone_find_node(b, na->name, na->name_len, dns_name_hash(na->name, na->name_len));
        if (!nb || !na->wildcard != !nb->wildcard ||
            (na->wildcard && na->wildcard->name_len != nb->wildcard->name_len))
            return false;
    }
    return true;
}

/* One step: 1-4 names of the pool changed (added, removed, retyped) in
 * flags, as entries for zone_place (a name gone is an entry not present;
 * one retyped is two, the old gone and the new present, as the delta
 * gives them). */
static size_t place_step(uint16_t *flags, struct zone_place_name *e, struct dns_name *names,
                         unsigned *seed)
{
    size_t k = 1 + (size_t)(rand_r(seed) % 4), n = 0, picked[4];
    for (size_t x = 0; x < k; x++) {
        size_t i = (size_t)rand_r(seed) % POOL_N;
        bool again = false;
        for (size_t y = 0; y < x; y++)
            again |= picked[y] == i;
        picked[x] = i;
        if (again)
            continue; /* a name is one binding of a change: one entry present at most */
        /* A name there goes (or, one time in six, is retyped: declined). */
        uint16_t now = !flags[i]               ? kinds[rand_r(seed) % 4]
                       : rand_r(seed) % 6 == 0 ? kinds[rand_r(seed) % 4]
                                               : 0;
        place_name(pool[i], &names[n]);
        if (flags[i] && now != flags[i]) {
            e[n] = (struct zone_place_name){names[n].wire, (uint8_t)names[n].len, flags[i], false};
            names[n + 1] = names[n];
            n++;
        }
        flags[i] = now;
        e[n] = (struct zone_place_name){names[n].wire, (uint8_t)names[n].len, now, now != 0};
        n++;
    }
    return n;
}

static void test_random(struct tap *t, unsigned seed, size_t steps)
{
    uint16_t flags[POOL_N] = {0};
    unsigned first_seed = seed;
    struct zone *cur = place_full(flags), *held = NULL, *held_full = NULL;
    size_t placed = 0, full = 0, wrong = 0, first_wrong = 0;
    for (size_t s = 0; s < steps; s++) {
        struct zone_place_name e[8];
        struct dns_name names[8];
        size_t n = place_step(flags, e, names, &seed);
        struct zone *next = zone_place(cur, e, n, NULL, NULL);
        placed += next != NULL;
        if (!next) {
            full++;
            next = place_full(flags);
        }
        struct zone *expect = place_full(flags);
        if (!place_same(next, expect) && wrong++ == 0)
            first_wrong = s;
        zone_free(expect);
        if (s == 10) { /* a reader holds this version through the rest */
            held = next;
            zone_ref(held);
            held_full = place_full(flags);
        }
        zone_free(cur);
        cur = next;
    }
    TAP_CHECK(t, wrong == 0,
              "seed %u: %zu steps, %zu placed, %zu read again: every version "
              "equals the full load (first wrong at step %zu, %zu wrong)",
              first_seed, steps, placed, full, first_wrong, wrong);
    /* Retyping a policy name, or placing on the file's data, declines: a
     * sequence that never placed would prove nothing. */
    TAP_CHECK(t, placed > steps / 2, "seed %u: most steps placed (%zu of %zu)", first_seed, placed,
              steps);
    TAP_CHECK(t, held && place_same(held, held_full),
              "seed %u: the version held since step 10 reads as it was", first_seed);
    zone_free(held);
    zone_free(held_full);
    zone_free(cur);
}

static void test_declined(struct tap *t)
{
    uint16_t flags[POOL_N] = {0};
    struct zone *z = place_full(flags);
    for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        struct dns_name n;
        place_name(declined[i], &n);
        struct zone_place_name e = {n.wire, (uint8_t)n.len, ZONE_NODE_POLICY_A, true};
        struct zone *v = zone_place(z, &e, 1, NULL, NULL);
        TAP_CHECK(t, v == NULL, "adding %s is declined (the full load decides it)", declined[i]);
        zone_free(v);
    }
    struct dns_name n;
    place_name("p0", &n);
    struct zone_place_name e = {n.wire, (uint8_t)n.len, ZONE_NODE_POLICY_A, true};
    struct zone *v = zone_place(z, &e, 1, NULL, NULL);
    e.flags = ZONE_NODE_POLICY_AAAA;
    struct zone *w = v ? zone_place(v, &e, 1, NULL, NULL) : NULL;
    TAP_CHECK(t, v && !w, "a policy name's types changed on its node is declined");
    zone_free(w);
    zone_free(v);
    zone_free(z);
}

/* Versions freed in any order: the nodes each reads stay until its last
 * holder goes (ASan reports a use after free or a leak otherwise). */
static void test_free_order(struct tap *t)
{
    uint16_t flags[POOL_N] = {0};
    struct zone *v[40];
    v[0] = place_full(flags);
    unsigned seed = 7;
    size_t made = 1;
    for (size_t i = 1; i < 40; i++) {
        struct zone_place_name e[8];
        struct dns_name names[8];
        size_t n = place_step(flags, e, names, &seed);
        v[i] = zone_place(v[i - 1], e, n, NULL, NULL);
        if (!v[i])
            v[i] = place_full(flags);
        made++;
    }
    zone_free(v[0]); /* the file-loaded zone first: its arena stays for the others */
    bool ok = true;
    for (int i = 39; i >= 1; i -= 2) {
        for (uint32_t s = 0; s <= v[i]->mask; s++) /* every node still readable */
            if (v[i]->table[s].node && v[i]->table[s].node->name_len == 0)
                ok = false;
        zone_free(v[i]);
    }
    for (size_t i = 2; i < 40; i += 2)
        zone_free(v[i]);
    TAP_CHECK(t, ok && made == 40, "40 versions freed out of order, each read before");
}

/* A version made and dropped unpublished (a change that failed, a
 * what-if) takes the kids map it was handed; the next version made from
 * the same one counts again and is still exact. */
static void test_dropped_version(struct tap *t)
{
    uint16_t flags[POOL_N] = {0};
    flags[4] = flags[5] = ZONE_NODE_POLICY_A; /* q.p3, r.q.p3 */
    struct zone *z = place_full(flags);
    struct dns_name n;
    place_name("r.q.p3", &n);
    struct zone_place_name gone = {n.wire, (uint8_t)n.len, ZONE_NODE_POLICY_A, false};
    struct zone *v = zone_place(z, &gone, 1, NULL, NULL);            /* counts kids, takes them */
    struct zone *w = v ? zone_place(v, &gone, 1, NULL, NULL) : NULL; /* nothing left to take */
    zone_free(w);
    zone_free(v); /* dropped: z made the next version without a map */
    flags[5] = 0;
    struct zone *again = zone_place(z, &gone, 1, NULL, NULL), *expect = place_full(flags);
    TAP_CHECK(t, v && w && again && place_same(again, expect),
              "a version dropped unpublished leaves the one it was made from exact");
    zone_free(again);
    zone_free(expect);
    zone_free(z);
}

int main(void)
{
    struct tap t = {0};
    snprintf(zone_path, sizeof(zone_path), "/tmp/test_zone_place.XXXXXX");
    int fd = mkstemp(zone_path);
    if (fd < 0 || write(fd, zone_text, sizeof(zone_text) - 1) != (ssize_t)(sizeof(zone_text) - 1))
        return 1;
    close(fd);
    test_declined(&t);
    for (unsigned seed = 1; seed <= 4; seed++)
        test_random(&t, seed, 1000);
    test_free_order(&t);
    test_dropped_version(&t);
    unlink(zone_path);
    return tap_done(&t);
}
