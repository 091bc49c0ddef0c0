/*
 * ctl_dnssec.c -- gtmctl dnssec status (gtmctl(8), doc/dnssec.md): the
 * signing policies and the zones that name one, through GET /v1/dnssec.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

void ctl_dnssec_usage(FILE *f)
{
    fprintf(f, "signing policies (doc/dnssec.md):\n"
               "  dnssec status                       each policy's intervals, each zone's keys\n"
               "                                      and what its policy makes due\n"
               "  dnssec rollover ZONE [--ksk | --algorithm] [--force]\n"
               "                                      roll the zone's ZSK now (pre-publication);\n"
               "                                      --force: the new key signs at once\n");
}

static long long ctl_dnssec_int(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A lifetime: seconds, or "none". */
static const char *ctl_dnssec_life(json_t *p, const char *k, char *buf, size_t len)
{
    json_t *v = json_object_get(p, k);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld s", (long long)json_integer_value(v));
    else
        snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : "-");
    return buf;
}

static void ctl_dnssec_policy(json_t *p)
{
    char a[32], b[32];
    json_t *iv = json_object_get(p, "intervals");
    printf("policy %s: algorithm %lld, denial %s, zsk_lifetime %s, ksk_lifetime %s\n",
           ctl_s(p, "name"), ctl_dnssec_int(p, "algorithm"), ctl_s(p, "denial"),
           ctl_dnssec_life(p, "zsk_lifetime", a, sizeof(a)),
           ctl_dnssec_life(p, "ksk_lifetime", b, sizeof(b)));
    printf("  Ipub %lld s, Iret %lld s, IretK %lld s; shortest safe zsk_lifetime %lld s, "
           "ksk_lifetime %lld s; algorithm rollover %lld s\n",
           ctl_dnssec_int(iv, "ipub"), ctl_dnssec_int(iv, "iret"), ctl_dnssec_int(iv, "iret_ksk"),
           ctl_dnssec_int(iv, "min_zsk_lifetime"), ctl_dnssec_int(iv, "min_ksk_lifetime"),
           ctl_dnssec_int(iv, "algorithm_rollover"));
}

static void ctl_dnssec_key(json_t *k)
{
    char t0[40], t1[40], t2[40];
    json_t *d = json_object_get(k, "due");
    printf("  %s %lld algorithm %lld%s: %s since %s; successor published %s, retired %s\n",
           ctl_s(k, "role"), ctl_dnssec_int(k, "tag"), ctl_dnssec_int(k, "algorithm"),
           json_is_false(json_object_get(k, "algorithm_matches")) ? " (not the policy's)" : "",
           ctl_s(k, "state"), ctl_time(json_object_get(k, "since"), t0, sizeof(t0)),
           ctl_time(json_object_get(d, "successor_published"), t1, sizeof(t1)),
           ctl_time(json_object_get(d, "retired"), t2, sizeof(t2)));
}

/* A key of gtmd's key store: its state and the times of its timeline
 * still to come (or passed, for the last one reached). */
static void ctl_dnssec_store_key(json_t *k)
{
    static const char *const times[] = {"published",     "ready",   "active",
                                        "retire_active", "retired", "removed"};
    printf("  %s %lld algorithm %lld: %s%s (%s)\n", ctl_s(k, "role"), ctl_dnssec_int(k, "tag"),
           ctl_dnssec_int(k, "algorithm"), ctl_s(k, "state"),
           json_is_true(json_object_get(k, "signs")) ? ", signs" : "", ctl_s(k, "file"));
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char t[40];
        json_t *v = json_object_get(k, times[i]);
        if (json_is_integer(v))
            printf("    %-14s %s\n", times[i], ctl_time(v, t, sizeof(t)));
    }
}

/* A zone's "parent" (a KSK rollover's DS check and push), when it has one. */
static void ctl_dnssec_parent(json_t *p)
{
    char t[40];
    if (!json_is_object(p))
        return;
    if (json_is_string(json_object_get(p, "waiting")))
        printf("  parent: %s\n", ctl_s(p, "waiting"));
    json_t *od = json_object_get(p, "ds_overdue");
    const char *what = json_string_value(json_object_get(od, "what"));
    if (json_is_object(od) && what && strcmp(what, "old DS still at parent") == 0)
        printf("  ALARM: old DS still at parent: the DS of KSK %lld is unwanted since %lld and "
               "still listed (past parent.ds_wait_warn); KSK %lld stays in the zone\n",
               ctl_dnssec_int(od, "tag"), ctl_dnssec_int(od, "waiting_since"),
               ctl_dnssec_int(od, "tag"));
    else if (json_is_object(od))
        printf("  ALARM: the DS of KSK %lld is not at the parent, waiting since %lld "
               "(past parent.ds_wait_warn)\n",
               ctl_dnssec_int(od, "tag"), ctl_dnssec_int(od, "waiting_since"));
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(p, "ds"), i, d)
        printf("  parent DS of KSK %lld: %s\n", ctl_dnssec_int(d, "tag"),
               json_is_true(json_object_get(d, "at_every_server"))
                   ? "at every parent server"
                   : (ctl_dnssec_int(d, "gone_since") >= 0 ? "at no parent server"
                                                           : "not at every parent server"));
    json_t *push = json_object_get(p, "ds_push");
    json_t *tries = json_object_get(push, "tries");
    json_t *last = json_array_get(tries, json_array_size(tries) - 1);
    if (json_is_object(last))
        printf("  DS push: last %s of KSK %lld %s (rcode %s%s%s), %lld failures in a row, next "
               "try %s\n",
               ctl_s(last, "action"), ctl_dnssec_int(last, "tag"),
               json_is_true(json_object_get(last, "ok")) ? "ok" : "failed", ctl_s(last, "rcode"),
               json_is_true(json_object_get(last, "ok")) ? "" : ": ",
               json_is_true(json_object_get(last, "ok")) ? "" : ctl_s(last, "why"),
               ctl_dnssec_int(push, "failures_in_row"),
               ctl_time(json_object_get(push, "next_try"), t, sizeof(t)));
}

/* fleet_keys: the fleet's shared key sets as this node holds them. */
static void ctl_dnssec_fleet(json_t *fk)
{
    if (!json_is_object(fk))
        return;
    printf("fleet keys (node %s): lock %s\n", ctl_s(fk, "node"),
           json_is_true(json_object_get(fk, "lock_held")) ? "held here"
           : ctl_s(fk, "lock_holder")[0]                  ? ctl_s(fk, "lock_holder")
                                                          : "free");
    size_t i;
    json_t *z;
    json_array_foreach(json_object_get(fk, "zones"), i, z)
    {
        printf("  zone %s: %s, set revision %lld", ctl_s(z, "zone"), ctl_s(z, "state"),
               ctl_dnssec_int(z, "rev"));
        if (json_is_string(json_object_get(z, "error")))
            printf(" (%s)", ctl_s(z, "error"));
        /* Why this node's key manager waits (every decision explained). */
        if (json_is_false(json_object_get(z, "may_step")))
            printf("; may not step: %s", ctl_s(z, "why_not"));
        printf("\n");
    }
}

static void ctl_dnssec_print(json_t *j)
{
    size_t i, k;
    json_t *v, *key;
    char t[40];
    json_array_foreach(json_object_get(j, "policies"), i, v) ctl_dnssec_policy(v);
    json_array_foreach(json_object_get(j, "zones"), i, v)
    {
        printf("zone %s (policy %s, keys from the %s)\n", ctl_s(v, "zone"), ctl_s(v, "policy"),
               ctl_s(v, "keys_from"));
        if (json_is_string(json_object_get(v, "error")))
            printf("  error: %s\n", ctl_s(v, "error"));
        json_array_foreach(json_object_get(v, "keys"), k, key)
        {
            if (json_object_get(key, "file"))
                ctl_dnssec_store_key(key);
            else
                ctl_dnssec_key(key);
        }
        ctl_dnssec_parent(json_object_get(v, "parent"));
        json_t *due = json_object_get(v, "policy_due");
        if (json_is_object(due))
            printf("  policy due: %s at %s\n", ctl_s(due, "event"),
                   ctl_time(json_object_get(due, "at"), t, sizeof(t)));
        json_t *next = json_object_get(v, "next_action");
        if (json_is_integer(json_object_get(next, "at")))
            printf("  next action: %s at %s\n", ctl_s(next, "action"),
                   ctl_time(json_object_get(next, "at"), t, sizeof(t)));
        else
            printf("  next action: %s\n", ctl_s(next, "action"));
    }
    ctl_dnssec_fleet(json_object_get(j, "fleet_keys"));
    if (json_array_size(json_object_get(j, "policies")) == 0)
        printf("no signing policy (dnssec_policies) in the configuration\n");
}

/* The reply to {"key": "algorithm"} as a line. */
static void ctl_dnssec_print_algroll(json_t *j)
{
    char t0[40], t1[40], t2[40];
    json_t *k = json_object_get(j, "new_ksk"), *z = json_object_get(j, "new_zsk");
    printf("%s: algorithm rollover to %lld: ZSK %lld signs from %s, its DNSKEY and KSK %lld's "
           "published %s, KSK %lld ready %s (its DS goes to the parent then)\n",
           ctl_s(j, "zone"), ctl_dnssec_int(j, "algorithm"), ctl_dnssec_int(z, "tag"),
           ctl_time(json_object_get(z, "signs"), t0, sizeof(t0)), ctl_dnssec_int(k, "tag"),
           ctl_time(json_object_get(k, "published"), t1, sizeof(t1)), ctl_dnssec_int(k, "tag"),
           ctl_time(json_object_get(k, "ready"), t2, sizeof(t2)));
}

/* dnssec rollover ZONE [--ksk | --algorithm] [--force]: POST
 * /v1/dnssec/ZONE/rollover. */
static int ctl_dnssec_rollover(struct ctl *c, int argc, char **argv)
{
    const char *zone = NULL;
    bool ksk = false, force = false, alg = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--ksk") == 0)
            ksk = true;
        else if (strcmp(argv[i], "--algorithm") == 0)
            alg = true;
        else if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (!zone && argv[i][0] != '-' && strlen(argv[i]) < 256 && !strchr(argv[i], '/'))
            zone = argv[i];
        else {
            ctl_dnssec_usage(stderr);
            return CTL_USAGE;
        }
    }
    if (!zone || (ksk && alg)) {
        ctl_dnssec_usage(stderr);
        return CTL_USAGE;
    }
    char path[300];
    snprintf(path, sizeof(path), "/v1/dnssec/%s/rollover", zone);
    json_t *body = json_pack("{s:s, s:b}", "key",
                             alg   ? "algorithm"
                             : ksk ? "ksk"
                                   : "zsk",
                             "force", force);
    int rc;
    json_t *j = ctl_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j && rc == 0) {
        if (c->json)
            ctl_output(c, j, NULL);
        else {
            char t0[40], t1[40];
            json_t *n = json_object_get(j, "new"), *o = json_object_get(j, "old");
            if (alg)
                ctl_dnssec_print_algroll(j);
            else if (ksk)
                printf("%s: KSK %lld published %s, ready %s (its CDS published and its DS pushed "
                       "then); KSK %lld retires once the parent's servers have the new DS%s\n",
                       ctl_s(j, "zone"), ctl_dnssec_int(n, "tag"),
                       ctl_time(json_object_get(n, "published"), t0, sizeof(t0)),
                       ctl_time(json_object_get(n, "ready"), t1, sizeof(t1)),
                       ctl_dnssec_int(o, "tag"),
                       json_is_true(json_object_get(j, "forced")) ? " (forced)" : "");
            else
                printf("%s: ZSK %lld published %s, active %s; ZSK %lld retires then%s\n",
                       ctl_s(j, "zone"), ctl_dnssec_int(n, "tag"),
                       ctl_time(json_object_get(n, "published"), t0, sizeof(t0)),
                       ctl_time(json_object_get(n, "active"), t1, sizeof(t1)),
                       ctl_dnssec_int(o, "tag"),
                       json_is_true(json_object_get(j, "forced")) ? " (forced)" : "");
        }
    }
    json_decref(j);
    return rc;
}

int ctl_dnssec(struct ctl *c, int argc, char **argv)
{
    int rc;
    if (argc >= 3 && strcmp(argv[1], "rollover") == 0)
        return ctl_dnssec_rollover(c, argc, argv);
    if (argc == 2 && strcmp(argv[1], "status") == 0) {
        json_t *j = ctl_call(c, "GET", "/v1/dnssec", NULL, &rc);
        if (j && rc == 0)
            ctl_output(c, j, ctl_dnssec_print);
        json_decref(j);
        return rc;
    }
    ctl_dnssec_usage(stderr);
    return CTL_USAGE;
}
