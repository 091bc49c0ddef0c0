/*
 * xfr_catalog_gen.c -- the text of a catalog zone gtmd generates (see
 * xfr_catalog_gen.h).
 */
#include "xfr/xfr_catalog_gen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"

/* The member's name in lowercase (names compare case-insensitively). */
static void catgen_lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = 0;
}

/* The member's unique ID label: 16 hex digits of SHA-256(lowercase name). */
static void catgen_id(const char *member, char id[17])
{
    char low[1024], hex[DIGEST_SHA256_HEX];
    catgen_lower(member, low, sizeof(low));
    digest_sha256_hex(low, strlen(low), hex);
    memcpy(id, hex, 16);
    id[16] = 0;
}

static int catgen_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *xfr_catalog_text(const char *origin, char *const *members, size_t n, uint32_t serial)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    fprintf(f, "$ORIGIN %s\n", origin);
    fprintf(f, "@ 0 IN SOA invalid. invalid. %u 3600 600 2419200 0\n", serial);
    fprintf(f, "@ 0 IN NS invalid.\n");
    fprintf(f, "version 0 IN TXT \"2\"\n");
    for (size_t i = 0; i < n; i++) {
        char id[17];
        catgen_id(members[i], id);
        fprintf(f, "%s.zones 0 IN PTR %s\n", id, members[i]);
    }
    if (fclose(f) != 0 || !buf)
        abort();
    return buf;
}

uint64_t xfr_catalog_digest(char *const *members, size_t n)
{
    char **low = calloc(n ? n : 1, sizeof(*low));
    if (!low)
        abort();
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(members[i]) + 1;
        if (!(low[i] = malloc(l)))
            abort();
        catgen_lower(members[i], low[i], l);
        total += l;
    }
    qsort(low, n, sizeof(*low), catgen_cmp);
    char *all = malloc(total), *p = all;
    if (!all)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(low[i]);
        memcpy(p, low[i], l);
        p[l] = '\n'; /* names hold no newline: the join is unambiguous */
        p += l + 1;
        free(low[i]);
    }
    free(low);
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(all, (size_t)(p - all), hex);
    free(all);
    char head[17];
    memcpy(head, hex, 16);
    head[16] = 0;
    return strtoull(head, NULL, 16);
}

uint32_t xfr_catalog_serial(bool had_prev, uint64_t prev_digest, uint32_t prev_serial,
                            uint64_t digest, uint32_t now)
{
    if (!had_prev)
        return now;
    if (prev_digest == digest)
        return prev_serial;
    uint32_t next = prev_serial + 1;
    /* now is ahead of next in serial arithmetic (RFC 1982): take it. */
    return (int32_t)(now - next) > 0 ? now : next;
}
