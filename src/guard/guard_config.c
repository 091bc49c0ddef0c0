/*
 * guard_config.c -- parsing of the "rrl" and "cookies" sections.
 */
#include "guard/guard_config.h"

#include "common/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-class rates, RRL_ANSWER first, in the order of enum rrl_class. */
enum {
    RRL_K_RATE,
    RRL_K_REFERRAL_RATE,
    RRL_K_NODATA_RATE,
    RRL_K_NXDOMAIN_RATE,
    RRL_K_ERROR_RATE,
    RRL_K_SLIP,
    RRL_K_WINDOW,
    RRL_K_IPV4_PREFIX,
    RRL_K_IPV6_PREFIX,
    RRL_K_TABLE_SIZE,
    RRL_K_WHITELIST,
    RRL_K_N
};
_Static_assert(RRL_K_ERROR_RATE - RRL_K_RATE + 1 == RRL_CLASSES, "one rate per class");
static const struct cfgschema_key rrl_keys[RRL_K_N] = {
    [RRL_K_RATE] = {"rate", CFGSCHEMA_INT, 0, 1000000, RRL_DEFAULT_RATE, 0, NULL,
                    "answers per second to one client network"},
    [RRL_K_REFERRAL_RATE] = {"referral_rate", CFGSCHEMA_INT, 0, 1000000, 0,
                             CFGSCHEMA_DEFAULT_VARIES, NULL, "referrals per second (rate)"},
    [RRL_K_NODATA_RATE] = {"nodata_rate", CFGSCHEMA_INT, 0, 1000000, 0, CFGSCHEMA_DEFAULT_VARIES,
                           NULL, "NODATA answers per second (rate)"},
    [RRL_K_NXDOMAIN_RATE] = {"nxdomain_rate", CFGSCHEMA_INT, 0, 1000000, 0,
                             CFGSCHEMA_DEFAULT_VARIES, NULL, "NXDOMAIN answers per second (rate)"},
    [RRL_K_ERROR_RATE] = {"error_rate", CFGSCHEMA_INT, 0, 1000000, 0, CFGSCHEMA_DEFAULT_VARIES,
                          NULL, "errors per second (rate)"},
    [RRL_K_SLIP] = {"slip", CFGSCHEMA_INT, 0, 100, RRL_DEFAULT_SLIP, 0, NULL,
                    "every Nth answer over the rate goes out truncated"},
    [RRL_K_WINDOW] = {"window", CFGSCHEMA_INT, 1, 60, RRL_DEFAULT_WINDOW, 0, NULL,
                      "seconds the rate is averaged over"},
    [RRL_K_IPV4_PREFIX] = {"ipv4_prefix", CFGSCHEMA_INT, 8, 32, 24, 0, NULL,
                           "the IPv4 client network's prefix length"},
    [RRL_K_IPV6_PREFIX] = {"ipv6_prefix", CFGSCHEMA_INT, 16, 128, 56, 0, NULL,
                           "the IPv6 client network's prefix length"},
    [RRL_K_TABLE_SIZE] = {"table_size", CFGSCHEMA_INT, 1024, 16777216, RRL_DEFAULT_TABLE, 0, NULL,
                          "buckets (the next power of two)"},
    [RRL_K_WHITELIST] = {"whitelist", CFGSCHEMA_ARRAY, .what = "networks never limited"},
};
const struct cfgschema rrl_schema = CFGSCHEMA("$.rrl", rrl_keys);

static void guard_whitelist(const struct jsoncfg *j, json_t *v, struct rrl_params *p)
{
    if (!v)
        return;
    if (!json_is_array(v)) {
        cfgschema_err(j, &rrl_schema, RRL_K_WHITELIST, NULL,
                      "must be an array of networks such as \"192.0.2.0/24\"");
        return;
    }
    p->whitelist = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*p->whitelist));
    if (!p->whitelist)
        abort();
    char at[48];
    cfgschema_key_path(at, sizeof(at), &rrl_schema, RRL_K_WHITELIST, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        if (!json_is_string(e) || !addr_net_parse(json_string_value(e), &p->whitelist[i])) {
            jsoncfg_err(j, path,
                        "must be a network \"ADDRESS/PREFIX\" without host bits, such as "
                        "\"192.0.2.0/24\" or \"2001:db8::/32\"");
            continue;
        }
        p->n_whitelist++;
    }
}

struct rrl_params *rrl_params_parse(const struct jsoncfg *j, json_t *v)
{
    const struct cfgschema *s = &rrl_schema;
    if (!v)
        return NULL;
    if (!json_is_object(v)) {
        jsoncfg_err(j, s->path, "must be an object (leave it out to turn rate limiting off)");
        return NULL;
    }
    size_t before = j->errs->count;
    cfgschema_object(j, s, v, NULL);
    struct rrl_params *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->rate[RRL_ANSWER] = (uint32_t)cfgschema_int(j, s, RRL_K_RATE, v, NULL);
    for (int c = 1; c < RRL_CLASSES; c++) /* each class: the answers' rate unless given */
        p->rate[c] = cfgschema_value(s, RRL_K_RATE + c, v)
                         ? (uint32_t)cfgschema_int(j, s, RRL_K_RATE + c, v, NULL)
                         : p->rate[RRL_ANSWER];
    p->slip = (uint32_t)cfgschema_int(j, s, RRL_K_SLIP, v, NULL);
    p->window = (uint32_t)cfgschema_int(j, s, RRL_K_WINDOW, v, NULL);
    p->ipv4_prefix = (uint8_t)cfgschema_int(j, s, RRL_K_IPV4_PREFIX, v, NULL);
    p->ipv6_prefix = (uint8_t)cfgschema_int(j, s, RRL_K_IPV6_PREFIX, v, NULL);
    long size = cfgschema_int(j, s, RRL_K_TABLE_SIZE, v, NULL);
    p->table_size = 1024;
    while (p->table_size < size)
        p->table_size *= 2; /* the next power of two */
    guard_whitelist(j, cfgschema_value(s, RRL_K_WHITELIST, v), p);
    if (j->errs->count != before) {
        rrl_params_free(p);
        free(p);
        return NULL;
    }
    return p;
}

static bool guard_hex_secret(const char *s, uint8_t out[SIPHASH_KEY_LEN])
{
    if (strlen(s) != 2 * SIPHASH_KEY_LEN)
        return false;
    for (int i = 0; i < SIPHASH_KEY_LEN; i++) {
        unsigned v;
        char two[3] = {s[2 * i], s[2 * i + 1], '\0'};
        char *end;
        if (!strchr("0123456789abcdefABCDEF", two[0]) || !strchr("0123456789abcdefABCDEF", two[1]))
            return false;
        v = (unsigned)strtoul(two, &end, 16);
        out[i] = (uint8_t)v;
    }
    return true;
}

enum { CK_ENABLED, CK_SECRET, CK_ROTATE_ON_RELOAD, CK_REQUIRE, CK_N };
static const struct cfgschema_key cookie_keys[CK_N] = {
    [CK_ENABLED] = {"enabled", CFGSCHEMA_BOOL, .def = 1, .what = "DNS Cookies answered"},
    [CK_SECRET] = {"secret", CFGSCHEMA_STRING,
                   .what = "the server secret, 32 hexadecimal digits (random)"},
    [CK_ROTATE_ON_RELOAD] = {"rotate_on_reload", CFGSCHEMA_BOOL,
                             .what = "a new random secret at every reload"},
    [CK_REQUIRE] = {"require", CFGSCHEMA_BOOL,
                    .what = "UDP queries without a valid cookie get BADCOOKIE"},
};
const struct cfgschema cookie_schema = CFGSCHEMA("$.cookies", cookie_keys);

void cookie_params_parse(const struct jsoncfg *j, json_t *v, struct cookie_params *out)
{
    const struct cfgschema *s = &cookie_schema;
    memset(out, 0, sizeof(*out));
    out->enabled = true;
    if (!v)
        return;
    if (json_is_boolean(v)) {
        out->enabled = json_is_true(v);
        return;
    }
    if (!json_is_object(v)) {
        jsoncfg_err(j, s->path, "must be true, false or an object");
        return;
    }
    cfgschema_object(j, s, v, NULL);
    out->enabled = cfgschema_bool(j, s, CK_ENABLED, v, NULL);
    out->rotate_on_reload = cfgschema_bool(j, s, CK_ROTATE_ON_RELOAD, v, NULL);
    out->require = cfgschema_bool(j, s, CK_REQUIRE, v, NULL);
    json_t *sec = cfgschema_value(s, CK_SECRET, v);
    if (sec) {
        if (!json_is_string(sec) || !guard_hex_secret(json_string_value(sec), out->secret))
            cfgschema_err(j, s, CK_SECRET, NULL, "must be 32 hexadecimal digits (16 octets)");
        else
            out->secret_from_config = true;
    }
    if (out->secret_from_config && out->rotate_on_reload)
        cfgschema_err(j, s, CK_ROTATE_ON_RELOAD, NULL,
                      "cannot be true with a configured secret (change the secret to rotate it)");
}

bool cookie_params_carry(struct cookie_params *next, const struct cookie_params *prev)
{
    bool had = prev && prev->enabled;
    if (!next->enabled)
        return true;
    if (next->secret_from_config) {
        if (had && memcmp(prev->secret, next->secret, SIPHASH_KEY_LEN) != 0) {
            memcpy(next->previous, prev->secret, SIPHASH_KEY_LEN);
            next->has_previous = true;
        } else if (had && prev->has_previous) {
            memcpy(next->previous, prev->previous, SIPHASH_KEY_LEN);
            next->has_previous = true;
        }
        return true;
    }
    if (had && !next->rotate_on_reload) {
        memcpy(next->secret, prev->secret, SIPHASH_KEY_LEN);
        memcpy(next->previous, prev->previous, SIPHASH_KEY_LEN);
        next->has_previous = prev->has_previous;
        return true;
    }
    if (!siphash_random_key(next->secret))
        return false;
    if (had) {
        memcpy(next->previous, prev->secret, SIPHASH_KEY_LEN);
        next->has_previous = true;
    }
    return true;
}
