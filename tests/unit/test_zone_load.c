/* Unit tests for src/zone (loading, compiling, validation). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errlist.h"
#include "dns/name.h"
#include "tap.h"
#include "zone/zone_load.h"

static const char *srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

static const struct zone_node *find(const struct zone *z, const char *name)
{
    struct dns_name n;
    dns_name_from_str(name, &n);
    return zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len));
}

static void test_good_zone(struct tap *t)
{
    char path[4096];
    struct errlist e;
    errlist_init(&e);
    snprintf(path, sizeof(path), "%s/tests/data/example.com.zone", srcdir());
    struct zone *z = zone_load("example.com.", path, path, NULL, 0, &e);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    TAP_CHECK(t, z != NULL && e.count == 0, "example.com loads without errors");
    if (!z)
        return;
    TAP_CHECK(t, z->serial == 2026112201u, "serial read from SOA");
    TAP_CHECK(t, z->neg_soa.ttl == 300, "negative TTL = min(SOA TTL, MINIMUM)");
    const struct zone_node *www = find(z, "www.example.com.");
    TAP_CHECK(t, www && zone_node_rrset(www, 1) && zone_node_rrset(www, 1)->count == 2,
              "www has two A records");
    TAP_CHECK(t, find(z, "c.ent.example.com.") && find(z, "c.ent.example.com.")->n_rrsets == 0,
              "empty non-terminal created");
    const struct zone_node *sub = find(z, "sub.example.com.");
    TAP_CHECK(t, sub && (sub->flags & ZONE_NODE_CUT), "delegation point flagged");
    const struct zone_node *wild = find(z, "wild.example.com.");
    TAP_CHECK(t, wild && wild->wildcard, "wildcard child linked to its parent");
    TAP_CHECK(t, find(z, "included.example.com.") != NULL, "$INCLUDE read with origin");
    TAP_CHECK(t,
              find(z, "unknown.example.com.") &&
                  zone_node_rrset(find(z, "unknown.example.com."), 65534),
              "RFC 3597 generic type");
    const struct zone_rrset *ns = zone_node_rrset(sub, 2);
    TAP_CHECK(t, ns && ns->n_additional == 1 && ns->additional[0].required,
              "in-bailiwick glue marked required");
    zone_free(z);
    errlist_free(&e);
}

/* Loads text as a zone for origin example.org.; returns the error count and
 * checks that the first error mentions want. */
static size_t load_text(struct tap *t, const char *text, const char *want, const char *what)
{
    char path[] = "/tmp/gtmd-zone-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        TAP_CHECK(t, false, "temp file for %s", what);
        return 0;
    }
    close(fd);
    struct errlist e;
    errlist_init(&e);
    struct zone *z = zone_load("example.org.", path, path, NULL, 0, &e);
    bool found = want == NULL ? e.count == 0 : false;
    for (size_t i = 0; i < e.count; i++) {
        printf("# %s\n", e.msgs[i]);
        if (want && strstr(e.msgs[i], want))
            found = true;
    }
    TAP_CHECK(t, found && (want ? z == NULL : z != NULL), "%s", what);
    size_t n = e.count;
    zone_free(z);
    errlist_free(&e);
    unlink(path);
    return n;
}

#define SOA "@ 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 5\n@ IN NS ns.example.net.\n"

static void test_bad_zones(struct tap *t)
{
    load_text(t, "$ORIGIN example.org.\nwww 60 IN A 192.0.2.1\n", "no SOA", "no SOA");
    load_text(t, "$ORIGIN example.org.\n" SOA "@ IN SOA a. b. 2 2 3 4 5\n", "several SOA",
              "two SOA records");
    load_text(t, "$ORIGIN example.org.\n" SOA "www IN SOA a. b. 2 2 3 4 5\n",
              "SOA record outside the zone apex", "SOA below the apex");
    load_text(t, "$ORIGIN example.org.\n" SOA "www.example.net. IN A 192.0.2.1\n",
              ":4: www.example.net. is outside the zone", "record outside the origin, with line");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN CNAME y\nx IN A 192.0.2.1\n",
              "CNAME and other data", "CNAME beside other data");
    load_text(t, "$ORIGIN example.org.\n" SOA "d IN DNAME a.example.net.\nx.d IN A 192.0.2.1\n",
              ":5: x.d.example.org.: data below a DNAME", "data below a DNAME");
    load_text(t, "$ORIGIN example.org.\n" SOA "@ IN DNAME example.net.\nx IN A 192.0.2.1\n",
              "data below a DNAME", "data below an apex DNAME");
    load_text(t,
              "$ORIGIN example.org.\n" SOA "d IN DNAME a.example.net.\nd IN DNAME b.example.net.\n",
              "several DNAME records at one name", "two DNAMEs at one name");
    load_text(t, "$ORIGIN example.org.\n" SOA "d IN DNAME a.example.net.\nd IN CNAME x\n",
              "CNAME and other data", "DNAME beside a CNAME");
    load_text(t, "$ORIGIN example.org.\n" SOA "d IN DNAME a.example.net.\nd IN A 192.0.2.1\n", NULL,
              "a DNAME beside other data at its own name is fine");
    /* Meta and reserved types are no data (RFC 6895 §3.1): TYPE0 let an
     * ANY answer over TCP be a bad packet to dig (issue #53). */
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN TYPE0 \\# 0\n",
              ":4: x.example.org.: TYPE0: a meta or reserved record type", "TYPE0, with line");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN A 192.0.2.1\nx IN TYPE41 \\# 0\n",
              ":5: OPT is not a zone record type", "OPT (refused before)");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN TYPE128 \\# 1 00\n", "TYPE128: a meta",
              "TYPE128, the first meta type");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN TYPE250 \\# 0\n", "TSIG (TYPE250): a meta",
              "TSIG");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN TYPE255 \\# 0\n", "ANY (TYPE255): a meta",
              "ANY");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN TYPE65535 \\# 0\n", "TYPE65535: a meta",
              "TYPE65535, reserved");
    load_text(t,
              "$ORIGIN example.org.\n" SOA "x IN TYPE127 \\# 1 00\nx IN TYPE256 \\# 0\n"
              "x IN TYPE65534 \\# 0\n",
              NULL, "data types around them load");
    load_text(t, "$ORIGIN example.org.\n" SOA "d IN NS ns.d\n", "needs glue",
              "delegation without glue");
    load_text(t, "$ORIGIN example.org.\n" SOA "d IN NS ns.d\nns.d IN A 192.0.2.9\n", NULL,
              "delegation with glue is fine");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN A 300.1.1.1\n", ":4:", "bad A rdata, line");
    load_text(t, "$ORIGIN example.org.\n" SOA "x 4294967295 IN A 192.0.2.1\n", "TTL",
              "TTL above 2^31-1");
    load_text(t, "$ORIGIN example.org.\n" SOA "x IN BOGUSTYPE foo\n", ":4:", "unknown type name");
    load_text(t, "$ORIGIN example.org.\n" SOA "$INCLUDE /nonexistent/file\n", "$INCLUDE",
              "missing include file");
    /* A $ORIGIN ldns cannot parse left no origin, and the next $INCLUDE
     * aborted in ldns_rdf_clone (found by fuzz_zone). */
    char inc[4200];
    snprintf(inc, sizeof(inc),
             "$ORIGIN example.org.\n" SOA "$ORIGIN a..b.\n$INCLUDE %s/tests/data/example.com.inc\n",
             srcdir());
    load_text(t, inc, ":4:", "bad $ORIGIN, then $INCLUDE: an error, no crash");
    load_text(t, "$ORIGIN example.org.\n" SOA "$ORIGIN a..b.\nx IN A 192.0.2.1\n",
              ":4:", "bad $ORIGIN, then a relative name: an error, no crash");
    size_t n = load_text(t, "$ORIGIN example.org.\n" SOA "x IN A 1.2.3\ny IN A 300.0.0.1\n",
                         ":5:", "second error reported too");
    TAP_CHECK(t, n >= 2, "every error is reported, not only the first (%zu)", n);
}

/* Files that never end or block (a directory, a device, a FIFO without a
 * writer) are refused instead of hanging the load; alarm() turns a
 * regression into a failure rather than a hung test. */
static void test_not_regular_files(struct tap *t)
{
    char fifo[] = "/tmp/gtmd-fifo-XXXXXX", text[256];
    alarm(30);
    load_text(t, "$ORIGIN example.org.\n" SOA "$INCLUDE /\n", "Is a directory",
              "$INCLUDE of a directory: error, no hang");
    load_text(t, "$ORIGIN example.org.\n" SOA "$INCLUDE /dev/zero\n", "not a regular file",
              "$INCLUDE of /dev/zero: error, no hang");
    int fd = mkstemp(fifo);
    if (fd >= 0) {
        close(fd);
        unlink(fifo);
    }
    if (fd < 0 || mkfifo(fifo, 0600) != 0) {
        TAP_CHECK(t, false, "mkfifo %s", fifo);
    } else {
        snprintf(text, sizeof(text), "$ORIGIN example.org.\n" SOA "$INCLUDE %s\n", fifo);
        load_text(t, text, "not a regular file", "$INCLUDE of a FIFO without a writer: error");
        unlink(fifo);
    }
    struct errlist e;
    errlist_init(&e);
    struct zone *z = zone_load("example.org.", "/", "/", NULL, 0, &e);
    TAP_CHECK(t, !z && e.count == 1 && strstr(e.msgs[0], "cannot open zone file: Is a directory"),
              "a directory as the zone file: error, no hang");
    errlist_free(&e);
    alarm(0);
}

/* A file that includes itself 4 times: 4^8 reads within the depth limit;
 * the count of included files stops it (alarm() catches a regression). */
static void test_include_bomb(struct tap *t)
{
    char path[] = "/tmp/gtmd-zone-XXXXXX", text[512];
    int fd = mkstemp(path);
    const char *base = strrchr(path, '/') + 1;
    int n = snprintf(text, sizeof(text),
                     "$ORIGIN example.org.\n" SOA "$INCLUDE %s\n$INCLUDE %s\n$INCLUDE %s\n"
                     "$INCLUDE %s\n",
                     base, base, base, base);
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        TAP_CHECK(t, false, "temp file for the include bomb");
        return;
    }
    close(fd);
    alarm(30);
    struct errlist e;
    errlist_init(&e);
    struct zone *z = zone_load("example.org.", path, path, NULL, 0, &e);
    bool found = false;
    for (size_t i = 0; i < e.count; i++)
        found = found || strstr(e.msgs[i], "more than 63 $INCLUDE files in one zone");
    TAP_CHECK(t, !z && found, "a file including itself 4 times stops at 63 included files");
    alarm(0);
    zone_free(z);
    errlist_free(&e);
    unlink(path);
}

/* A zone file of more than 4 MB (so zone_load cuts it in two): $TTL and
 * $ORIGIN changes all along, lines with a blank owner, records in
 * parentheses over several lines, quotes holding ';' and '('. A bad_line
 * puts a bad A record at the first record line from *bad_line on and sets
 * *bad_line to it. Returns the file's line count. */
static int big_zone_write(FILE *f, int *bad_line)
{
    int line = 1;
    fprintf(f, "$ORIGIN example.org.\n" SOA);
    line += 3;
    for (int i = 0; i < 60000; i++) {
        if (i % 1000 == 0) {
            fprintf(f, "$TTL %d\n", 100 + i / 1000);
            line++;
        }
        if (i % 7000 == 0) {
            fprintf(f, "$ORIGIN example.org.\n$ORIGIN s%d.example.org.\n", i);
            line += 2;
        }
        if (bad_line && line >= *bad_line) {
            fprintf(f, "bad IN A 999.0.2.1\n");
            *bad_line = line++;
            bad_line = NULL;
        }
        fprintf(f, "h%d IN A 192.0.%d.%d\n  IN TXT \"x ( y ; %d\"\n", i, i % 256, i / 256 % 256, i);
        fprintf(f, "m%d 60 IN MX ( 10 ; pref\n    mail%d )\n", i, i % 10);
        line += 4;
    }
    return line;
}

static struct zone *big_zone_load(const char *path, struct errlist *e)
{
    struct zone *z = zone_load("example.org.", path, path, NULL, 0, e);
    for (size_t i = 0; i < e->count && i < 3; i++)
        printf("# %s\n", e->msgs[i]);
    return z;
}

/* True when a and b hold the same names with the same RRsets. */
static bool zone_same(const struct zone *a, const struct zone *b)
{
    if (a->n_nodes != b->n_nodes || a->n_records != b->n_records)
        return false;
    for (uint32_t i = 0; i <= a->mask; i++) {
        const struct zone_node *x = a->table[i].node, *y;
        if (!x)
            continue;
        y = zone_find_node(b, x->name, x->name_len, a->table[i].hash);
        if (!y || y->n_rrsets != x->n_rrsets || y->flags != x->flags)
            return false;
        for (uint16_t k = 0; k < x->n_rrsets; k++) {
            const struct zone_rrset *r = &x->rrsets[k], *q = &y->rrsets[k];
            if (r->type != q->type || r->ttl != q->ttl || r->count != q->count ||
                r->rdata_len != q->rdata_len || memcmp(r->rdata, q->rdata, r->rdata_len) != 0)
                return false;
        }
    }
    return true;
}

/* The two-thread parse of a big file builds the same zone as the one-
 * thread parse of the same text (read through $INCLUDE, which is never
 * cut), and an error in its second half is still reported at its line. */
static void test_parallel_parse(struct tap *t)
{
    char big[] = "/tmp/gtmd-zone-XXXXXX", inc[] = "/tmp/gtmd-zone-XXXXXX";
    int fb = mkstemp(big), fi = mkstemp(inc);
    FILE *f = fb >= 0 ? fdopen(fb, "w") : NULL, *g = fi >= 0 ? fdopen(fi, "w") : NULL;
    if (!f || !g) {
        TAP_CHECK(t, false, "temp files for the parallel parse");
        return;
    }
    int lines = big_zone_write(f, NULL);
    fprintf(g, "$INCLUDE %s\n", big);
    fclose(f);
    fclose(g);
    struct stat st;
    TAP_CHECK(t, stat(big, &st) == 0 && st.st_size > (4 << 20),
              "the big file is over 4 MB (%d lines)", lines);
    struct errlist e1, e2;
    errlist_init(&e1);
    errlist_init(&e2);
    struct zone *z1 = big_zone_load(big, &e1), *z2 = big_zone_load(inc, &e2);
    TAP_CHECK(t, z1 && z2 && e1.count == 0 && e2.count == 0, "both parses load");
    TAP_CHECK(t, z1 && z2 && zone_same(z1, z2) && zone_same(z2, z1) && z1->n_records > 180000,
              "two-thread and one-thread parses give the same zone (%zu records)",
              z1 ? z1->n_records : 0);
    zone_free(z1);
    zone_free(z2);
    errlist_free(&e1);
    errlist_free(&e2);
    f = fopen(big, "w");
    int bad = lines * 9 / 10 + 1;
    if (f) {
        big_zone_write(f, &bad);
        fclose(f);
    }
    errlist_init(&e1);
    z1 = big_zone_load(big, &e1);
    char want[64];
    snprintf(want, sizeof(want), ":%d: ", bad);
    TAP_CHECK(t, !z1 && e1.count == 1 && strstr(e1.msgs[0], want) && strstr(e1.msgs[0], big),
              "an error in the second half names its line (%s)", want);
    zone_free(z1);
    errlist_free(&e1);
    unlink(big);
    unlink(inc);
}

int main(void)
{
    struct tap t = {0, 0};
    test_good_zone(&t);
    test_bad_zones(&t);
    test_not_regular_files(&t);
    test_include_bomb(&t);
    test_parallel_parse(&t);
    return tap_done(&t);
}
