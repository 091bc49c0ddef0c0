/* Unit tests for src/dns/name.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "tap.h"

static void test_parse_plain(struct tap *t)
{
    const uint8_t pkt[] = {3, 'W', 'w', 'W', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    struct dns_name n;
    size_t pos = 0;
    TAP_CHECK(t, dns_name_parse(pkt, sizeof(pkt), &pos, &n, true), "plain name parses");
    TAP_CHECK(t, pos == sizeof(pkt), "position after name");
    TAP_CHECK(t, n.count == 2 && n.len == 13, "two labels, 13 octets");
    TAP_CHECK(t, memcmp(n.wire, "\3www\7example", 12) == 0, "lowercased");
}

static void test_parse_pointer(struct tap *t)
{
    /* "example" at 0, then "www" + pointer to 0 at 9 */
    const uint8_t pkt[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 3, 'w', 'w', 'w', 0xc0, 0};
    struct dns_name n;
    size_t pos = 9;
    TAP_CHECK(t, dns_name_parse(pkt, sizeof(pkt), &pos, &n, true), "compressed name parses");
    TAP_CHECK(t, pos == sizeof(pkt), "position after the pointer");
    TAP_CHECK(t, n.count == 2, "labels through the pointer");
}

static void test_parse_bad(struct tap *t)
{
    const uint8_t loop[] = {0xc0, 0};
    const uint8_t fwd[] = {0xc0, 2, 0};
    const uint8_t trunc[] = {5, 'a', 'b'};
    const uint8_t ext[] = {0x41, 0};
    uint8_t longname[300];
    struct dns_name n;
    size_t pos = 0;
    TAP_CHECK(t, !dns_name_parse(loop, sizeof(loop), &pos, &n, true), "self pointer rejected");
    pos = 0;
    TAP_CHECK(t, !dns_name_parse(fwd, sizeof(fwd), &pos, &n, true), "forward pointer rejected");
    pos = 0;
    TAP_CHECK(t, !dns_name_parse(trunc, sizeof(trunc), &pos, &n, true), "truncated label");
    pos = 0;
    TAP_CHECK(t, !dns_name_parse(ext, sizeof(ext), &pos, &n, true), "extended label type");
    for (size_t i = 0; i < 296; i += 2) {
        longname[i] = 1;
        longname[i + 1] = 'a';
    }
    longname[296] = 0;
    pos = 0;
    TAP_CHECK(t, !dns_name_parse(longname, 297, &pos, &n, true), "name over 255 octets");
}

static void test_strings(struct tap *t)
{
    struct dns_name n;
    char buf[300];
    TAP_CHECK(t, dns_name_from_str("WWW.Example.COM.", &n), "from_str");
    dns_name_to_str(n.wire, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "www.example.com.") == 0, "round trip: %s", buf);
    TAP_CHECK(t, dns_name_from_str("example.com", &n) && n.count == 2, "no trailing dot");
    TAP_CHECK(t, dns_name_from_str(".", &n) && n.count == 0 && n.len == 1, "root");
    TAP_CHECK(t, !dns_name_from_str("a..b", &n), "empty label rejected");
    TAP_CHECK(t, dns_name_from_str("a\\.b.c.", &n) && n.count == 2, "escaped dot");
}

static void test_sub(struct tap *t)
{
    struct dns_name a, b;
    dns_name_from_str("x.y.example.com.", &a);
    dns_name_from_str("example.com.", &b);
    TAP_CHECK(t, dns_name_is_sub(a.wire, a.len, b.wire, b.len), "subdomain");
    TAP_CHECK(t, dns_name_is_sub(b.wire, b.len, b.wire, b.len), "equal counts as sub");
    TAP_CHECK(t, !dns_name_is_sub(b.wire, b.len, a.wire, a.len), "parent is not sub");
    dns_name_from_str("badexample.com.", &a);
    TAP_CHECK(t, !dns_name_is_sub(a.wire, a.len, b.wire, b.len), "label boundary respected");
}

static void test_wire_len_max(struct tap *t)
{
    const uint8_t name[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0xff};
    const uint8_t ptr[] = {3, 'w', 'w', 'w', 0xc0, 12};
    const uint8_t ext[] = {0x41, 0};
    uint8_t longname[300];
    TAP_CHECK(t, dns_name_wire_len_max(name, sizeof(name)) == 13, "name inside a longer buffer");
    TAP_CHECK(t, dns_name_wire_len_max(name, 13) == 13, "name filling the buffer");
    TAP_CHECK(t, dns_name_wire_len_max(name, 12) == 0 && dns_name_wire_len_max(name, 0) == 0,
              "root label past the end: 0");
    TAP_CHECK(t, dns_name_wire_len_max(ptr, sizeof(ptr)) == 0, "compression pointer: 0");
    TAP_CHECK(t, dns_name_wire_len_max(ext, sizeof(ext)) == 0, "extended label type: 0");
    for (size_t i = 0; i < 298; i += 2) {
        longname[i] = 1;
        longname[i + 1] = 'a';
    }
    longname[254] = 0; /* 127 labels + root: 255 octets */
    TAP_CHECK(t, dns_name_wire_len_max(longname, sizeof(longname)) == 255, "255 octets");
    longname[254] = 1;
    longname[256] = 0;
    TAP_CHECK(t, dns_name_wire_len_max(longname, sizeof(longname)) == 0, "257 octets: 0");
}

/* dns_name_hash reads exactly len octets (each buffer is allocated at its
 * length, so ASan sees an overread), every octet of every length changes
 * it, and table-like names spread over a power-of-two table's low bits. */
static void test_hash(struct tap *t)
{
    bool every_octet = true;
    for (size_t len = 1; len <= 255; len++) {
        uint8_t *b = malloc(len);
        if (!b)
            abort();
        for (size_t i = 0; i < len; i++)
            b[i] = (uint8_t)('a' + (i * 7) % 26);
        uint32_t h = dns_name_hash(b, len);
        for (size_t i = 0; i < len; i++) {
            b[i] ^= 1;
            every_octet = every_octet && dns_name_hash(b, len) != h;
            b[i] ^= 1;
        }
        free(b);
    }
    TAP_CHECK(t, every_octet, "hash: flipping any octet of any length 1-255 changes it");
    enum { N = 65536, SLOTS = 2 * N };
    static uint16_t load[SLOTS];
    unsigned most = 0;
    memset(load, 0, sizeof(load));
    for (unsigned k = 0; k < N; k++) {
        char s[64];
        struct dns_name n;
        snprintf(s, sizeof(s), "host-%u.example.com.", k);
        dns_name_from_str(s, &n);
        uint32_t slot = dns_name_hash(n.wire, n.len) & (SLOTS - 1);
        if (++load[slot] > most)
            most = load[slot];
    }
    /* A uniform hash puts at most 8 of 65,536 keys into one of 131,072
     * slots with overwhelming probability; FNV-1a gave 6 here. */
    TAP_CHECK(t, most <= 8, "hash: 65,536 similar names, at most 8 in one of 131,072 slots (%u)",
              most);
}

int main(void)
{
    struct tap t = {0, 0};
    test_parse_plain(&t);
    test_parse_pointer(&t);
    test_parse_bad(&t);
    test_strings(&t);
    test_sub(&t);
    test_wire_len_max(&t);
    test_hash(&t);
    return tap_done(&t);
}
