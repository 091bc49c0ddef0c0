/* Unit tests for src/zone/zone_journal.c: differences between loads, the
 * chain across reloads and restarts, the size limit, a broken file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "zone/zone.h"
#include "zone/zone_journal.h"
#include "zonefile.h"

/* A zone of serial s with names h0 .. h(n-1) and one name "only<s>". */
static struct zone *journal_zone(struct zonefile *zf, unsigned s, unsigned n)
{
    FILE *fp = zonefile_open(zf);
    fprintf(fp,
            "$ORIGIN j.test.\n$TTL 300\n@ IN SOA ns1 h %u 3600 600 86400 60\n@ IN NS ns1\n"
            "ns1 IN A 192.0.2.1\nonly%u IN A 192.0.2.%u\n",
            s, s, s % 250 + 1);
    for (unsigned i = 0; i < n; i++)
        fprintf(fp, "h%u IN TXT \"%u\"\n", i, i);
    return zonefile_load(zf, fp, "j.test.");
}

/* How many records of type t the entry holds (walking its wire). */
static unsigned journal_count(const struct zone_journal *j, size_t e, uint16_t t)
{
    unsigned n = 0;
    size_t p = j->entries[e].off, end = p + j->entries[e].len;
    while (p < end) {
        size_t nl = dns_name_wire_len_max(j->wire + p, end - p);
        if (!nl)
            return 9999;
        n += dns_get16(j->wire + p + nl) == t;
        p += nl + 10 + dns_get16(j->wire + p + nl + 8);
    }
    return n;
}

int main(void)
{
    struct tap t = {0, 0};
    struct zonefile zf;
    zonefile_init(&zf);
    char path[128];
    snprintf(path, sizeof(path), "%s/journal", zf.dir);
    char why[600] = "";
    struct zone *z1 = journal_zone(&zf, 1, 10), *z2 = journal_zone(&zf, 2, 10);
    struct zone *z3 = journal_zone(&zf, 3, 10);
    struct zone_journal j;
    TAP_CHECK(&t, z1 && z2 && z3, "zones load");
    if (!z1 || !z2 || !z3)
        return tap_done(&t);
    TAP_CHECK(&t, zone_journal_update(path, 1 << 20, NULL, z1, &j, why, sizeof(why)) && j.n == 0,
              "start without a journal: empty (%s)", why);
    zone_journal_free(&j);
    TAP_CHECK(&t,
              zone_journal_update(path, 1 << 20, z1, z2, &j, why, sizeof(why)) && j.n == 1 &&
                  j.entries[0].from == 1 && j.entries[0].to == 2,
              "reload 1 -> 2: one entry");
    TAP_CHECK(&t,
              journal_count(&j, 0, 6) == 2 && journal_count(&j, 0, 1) == 2 &&
                  journal_count(&j, 0, 16) == 0,
              "the entry: two SOAs, only1 deleted and only2 added, the TXTs unchanged");
    zone_journal_free(&j);
    TAP_CHECK(&t,
              zone_journal_update(path, 1 << 20, z2, z3, &j, why, sizeof(why)) && j.n == 2 &&
                  zone_journal_find(&j, 1) == 0 && zone_journal_find(&j, 2) == 1,
              "reload 2 -> 3: the chain 1 -> 2 -> 3");
    size_t one = j.entries[1].len + 12;
    zone_journal_free(&j);
    TAP_CHECK(&t, zone_journal_update(path, 1 << 20, NULL, z3, &j, why, sizeof(why)) && j.n == 2,
              "a restart at serial 3 keeps the journal");
    zone_journal_free(&j);
    TAP_CHECK(&t, zone_journal_update(path, 1 << 20, NULL, z1, &j, why, sizeof(why)) && j.n == 0,
              "a start at another serial than the journal's last begins anew");
    zone_journal_free(&j);
    zone_journal_update(path, 1 << 20, z1, z2, &j, why, sizeof(why));
    zone_journal_free(&j);
    TAP_CHECK(&t,
              zone_journal_update(path, 6 + one + 4, z2, z3, &j, why, sizeof(why)) && j.n == 1 &&
                  j.entries[0].from == 2 && zone_journal_find(&j, 1) < 0,
              "over its size limit the oldest entry goes");
    zone_journal_free(&j);
    FILE *fp = fopen(path, "wb");
    fputs("not a journal", fp);
    fclose(fp);
    TAP_CHECK(&t,
              !zone_journal_update(path, 1 << 20, NULL, z3, &j, why, sizeof(why)) && j.n == 0 &&
                  strstr(why, "not a journal"),
              "a broken file: an error, an empty journal (%s)", why);
    zone_journal_free(&j);
    unlink(path);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    zone_free(z1);
    zone_free(z2);
    zone_free(z3);
    zonefile_done(&zf);
    return tap_done(&t);
}
