/*
 * guard_config.c -- parsing of the "rrl" and "cookies" sections.
 */
#include "guard/guard_config.h"

#include "common/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void guard_whitelist(const struct jsoncfg *j, json_t *v, struct rrl_params *p)
{
    if (!v)
        return;
    if (!json_is_array(v)) {
        jsoncfg_err(j, "$.rrl.whitelist", "must be an array of networks such as \"192.0.2.0/24\"");
        return;
    }
    p->whitelist = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*p->whitelist));
    if (!p->whitelist)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[48];
        snprintf(path, sizeof(path), "$.rrl.whitelist[%zu]", i);
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
    static const char *const keys[] = {
        "rate",   "referral_rate", "nodata_rate", "nxdomain_rate", "error_rate", "slip",
        "window", "ipv4_prefix",   "ipv6_prefix", "table_size",    "whitelist",  NULL};
    static const char *const class_keys[RRL_CLASSES] = {"rate", "referral_rate", "nodata_rate",
                                                        "nxdomain_rate", "error_rate"};
    if (!v)
        return NULL;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.rrl", "must be an object (leave it out to turn rate limiting off)");
        return NULL;
    }
    size_t before = j->errs->count;
    jsoncfg_check_keys(j, v, "$.rrl", keys);
    struct rrl_params *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    char path[48];
    p->rate[RRL_ANSWER] =
        (uint32_t)jsoncfg_int(j, v, "rate", "$.rrl.rate", 0, 1000000, RRL_DEFAULT_RATE);
    for (int c = 1; c < RRL_CLASSES; c++) {
        snprintf(path, sizeof(path), "$.rrl.%s", class_keys[c]);
        p->rate[c] =
            (uint32_t)jsoncfg_int(j, v, class_keys[c], path, 0, 1000000, p->rate[RRL_ANSWER]);
    }
    p->slip = (uint32_t)jsoncfg_int(j, v, "slip", "$.rrl.slip", 0, 100, RRL_DEFAULT_SLIP);
    p->window = (uint32_t)jsoncfg_int(j, v, "window", "$.rrl.window", 1, 60, RRL_DEFAULT_WINDOW);
    p->ipv4_prefix = (uint8_t)jsoncfg_int(j, v, "ipv4_prefix", "$.rrl.ipv4_prefix", 8, 32, 24);
    p->ipv6_prefix = (uint8_t)jsoncfg_int(j, v, "ipv6_prefix", "$.rrl.ipv6_prefix", 16, 128, 56);
    long size =
        jsoncfg_int(j, v, "table_size", "$.rrl.table_size", 1024, 16777216, RRL_DEFAULT_TABLE);
    p->table_size = 1024;
    while (p->table_size < size)
        p->table_size *= 2; /* the next power of two */
    guard_whitelist(j, json_object_get(v, "whitelist"), p);
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

void cookie_params_parse(const struct jsoncfg *j, json_t *v, struct cookie_params *out)
{
    static const char *const keys[] = {"enabled", "secret", "rotate_on_reload", "require", NULL};
    memset(out, 0, sizeof(*out));
    out->enabled = true;
    if (!v)
        return;
    if (json_is_boolean(v)) {
        out->enabled = json_is_true(v);
        return;
    }
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.cookies", "must be true, false or an object");
        return;
    }
    jsoncfg_check_keys(j, v, "$.cookies", keys);
    static const char *const flags[] = {"enabled", "rotate_on_reload", "require"};
    bool *dst[] = {&out->enabled, &out->rotate_on_reload, &out->require};
    for (int i = 0; i < 3; i++) {
        json_t *b = json_object_get(v, flags[i]);
        char path[48];
        snprintf(path, sizeof(path), "$.cookies.%s", flags[i]);
        if (b && !json_is_boolean(b))
            jsoncfg_err(j, path, "must be true or false");
        else if (b)
            *dst[i] = json_is_true(b);
    }
    json_t *sec = json_object_get(v, "secret");
    if (sec) {
        if (!json_is_string(sec) || !guard_hex_secret(json_string_value(sec), out->secret))
            jsoncfg_err(j, "$.cookies.secret", "must be 32 hexadecimal digits (16 octets)");
        else
            out->secret_from_config = true;
    }
    if (out->secret_from_config && out->rotate_on_reload)
        jsoncfg_err(j, "$.cookies.rotate_on_reload",
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
