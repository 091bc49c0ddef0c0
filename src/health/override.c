/*
 * override.c -- operators' forced states.
 */
#include "health/override.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* The counter never goes past this (2^53 - 1): ids stay exact as JSON
 * numbers and doubles, and N + 1 never wraps. */
#define OVERRIDE_COUNTER_MAX 9007199254740991ULL
/* How far ahead of the clock a restored time may be (clock skew). */
#define OVERRIDE_CLOCK_SLACK 86400.0

static char *override_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void override_free(struct override *o)
{
    free(o->node);
    free(o->target);
    free(o->reason);
    free(o->author);
    free(o);
}

void override_set_max(struct health_core *c, size_t max)
{
    pthread_mutex_lock(&c->lock);
    c->max_overrides = max;
    pthread_mutex_unlock(&c->lock);
}

size_t override_max(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    size_t m = c->max_overrides;
    pthread_mutex_unlock(&c->lock);
    return m;
}

int override_add(struct health_core *c, const char *target, enum health_state st,
                 const char *reason, const char *author, double expires, char id[32])
{
    return override_add_dial(c, target, st, OVERRIDE_FULL, 0, reason, author, expires, id);
}

int override_add_dial(struct health_core *c, const char *target, enum health_state st,
                      uint16_t share, uint32_t salt, const char *reason, const char *author,
                      double expires, char id[32])
{
    struct override *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->target = override_strdup(target);
    o->state = st;
    o->share = share >= OVERRIDE_FULL ? OVERRIDE_FULL : share;
    o->salt = o->share >= OVERRIDE_FULL ? 0 : salt;
    o->reason = override_strdup(reason);
    o->author = override_strdup(author);
    o->created = health_now();
    o->expires = expires;
    pthread_mutex_lock(&c->lock);
    if (c->n_overrides >= c->max_overrides || c->next_override_id > OVERRIDE_COUNTER_MAX) {
        pthread_mutex_unlock(&c->lock);
        override_free(o);
        id[0] = '\0';
        return -1;
    }
    snprintf(o->id, sizeof(o->id), "ovr-%llu", (unsigned long long)c->next_override_id++);
    snprintf(id, 32, "%s", o->id);
    o->next = c->overrides;
    c->overrides = o;
    c->n_overrides++;
    health_override_apply_locked(c, target);
    pthread_mutex_unlock(&c->lock);
    health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    /* o belongs to the list now: an expiry may free it at any moment. */
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s*}", "action", "added", "override", id,
                           "target", target, "state", health_state_name(st), "reason",
                           reason ? reason : "", "author", author);
    if (share < OVERRIDE_FULL)
        json_object_set_new(ev, "percent", json_real(share / 100.0));
    event_ring_push(c->events, "override", ev);
    char reason_q[1100], target_q[OVERRIDE_MAX_TARGET + 8];
    log_info("event=override_add id=%s target=\"%s\" state=%s percent=%.2f author=%s "
             "why=\"%s\"",
             id, log_quote(target, target_q, sizeof(target_q)), health_state_name(st),
             (share < OVERRIDE_FULL ? share : OVERRIDE_FULL) / 100.0, author ? author : "",
             log_quote(reason ? reason : "", reason_q, sizeof(reason_q)));
    return 0;
}

/* Unlinks and frees every override for which pred(o, arg) holds; logs. */
static size_t override_remove_if(struct health_core *c,
                                 bool (*pred)(const struct override *, const void *),
                                 const void *arg, const char *why)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    struct override **pp = &c->overrides;
    while (*pp) {
        struct override *o = *pp;
        if (!pred(o, arg)) {
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        c->n_overrides--;
        char target_q[OVERRIDE_MAX_TARGET + 8];
        log_info("event=override_remove id=%s target=\"%s\" why=%s", o->id,
                 log_quote(o->target, target_q, sizeof(target_q)), why);
        char *target = o->target;
        o->target = NULL;
        event_ring_push(c->events, "override",
                        json_pack("{s:s, s:s, s:s}", "action",
                                  strcmp(why, "expired") == 0 ? "expired" : "removed", "override",
                                  o->id, "target", target));
        override_free(o);
        health_override_apply_locked(c, target);
        free(target);
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    if (n)
        health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    return n;
}

static bool override_has_id(const struct override *o, const void *id)
{
    return strcmp(o->id, id) == 0;
}

static bool override_expired(const struct override *o, const void *now)
{
    return o->expires > 0 && o->expires <= *(const double *)now;
}

bool override_remove(struct health_core *c, const char *id)
{
    return override_remove_if(c, override_has_id, id, "deleted") > 0;
}

bool override_state_without(struct health_core *c, const char *id, char *target, size_t len,
                            enum health_state *after)
{
    bool found = false;
    pthread_mutex_lock(&c->lock);
    const struct override *self = NULL;
    for (const struct override *o = c->overrides; o && !self; o = o->next)
        if (strcmp(o->id, id) == 0)
            self = o;
    if (self) {
        found = true;
        snprintf(target, len, "%s", self->target);
        /* The newest other override of the target decides without it. */
        *after = HEALTH_UNKNOWN;
        for (const struct override *o = c->overrides; o; o = o->next)
            if (o != self && strcmp(o->target, self->target) == 0) {
                *after = o->state;
                break;
            }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

size_t override_expire(struct health_core *c, double now)
{
    return override_remove_if(c, override_expired, &now, "expired");
}

double override_next_expiry(struct health_core *c, double now)
{
    bool any = false;
    double first = 0;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o; o = o->next)
        if (o->expires > 0 && (!any || o->expires < first)) {
            first = o->expires;
            any = true;
        }
    pthread_mutex_unlock(&c->lock);
    if (!any)
        return -1;
    /* One already due (or due within a millisecond) is due "now", never
     * in the past: the caller arms a timer with it. */
    return first - now < 0.001 ? 0.001 : first - now;
}

size_t override_count(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n_overrides;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static json_t *override_json(const struct override *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "id", o->id, "target", o->target,
                          "state", health_state_name(o->state), "reason", o->reason, "author",
                          o->author, "created", o->created);
    json_object_set_new(j, "expires", o->expires > 0 ? json_real(o->expires) : json_null());
    if (o->node)
        json_object_set_new(j, "node", json_string(o->node));
    if (!override_is_full(o)) {
        json_object_set_new(j, "percent", json_real(o->share / 100.0));
        json_object_set_new(j, "salt", json_integer(o->salt));
    }
    return j;
}

json_t *override_list_json_locked(struct health_core *c)
{
    json_t *arr = json_array();
    for (struct override *o = c->overrides; o; o = o->next)
        json_array_append_new(arr, override_json(o));
    return arr;
}

json_t *override_list_json(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    json_t *arr = override_list_json_locked(c);
    pthread_mutex_unlock(&c->lock);
    return arr;
}

json_t *override_get_json(struct health_core *c, const char *id)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o && !j; o = o->next)
        if (strcmp(o->id, id) == 0)
            j = override_json(o);
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *override_for_target_json(struct health_core *c, const char *target)
{
    json_t *j = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct override *o = c->overrides; o && !j; o = o->next)
        if (strcmp(o->target, target) == 0)
            j = override_json(o);
    pthread_mutex_unlock(&c->lock);
    return j;
}

/* ---- field rules ---------------------------------------------------------- */

static bool override_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

const char *override_check_target(const char *t)
{
    size_t len = strlen(t);
    const char *name = NULL;
    if (strncmp(t, "region:", 7) == 0)
        name = t + 7;
    else if (strncmp(t, "az:", 3) == 0)
        name = t + 3;
    else if (strncmp(t, "endpoint:", 9) == 0) {
        const char *slash = strchr(t + 9, '/');
        if (!slash || slash == t + 9 || slash[1] == '\0')
            return "an endpoint target must be \"endpoint:POOL/NAME\"";
        name = t + 9;
    } else
        return "a target must be \"region:NAME\", \"az:NAME\" or \"endpoint:POOL/NAME\"";
    if (*name == '\0')
        return "a target must name a region, az or endpoint";
    if (len > OVERRIDE_MAX_TARGET)
        return "a target must be at most 1024 octets";
    if (override_has_control(t))
        return "a target must not hold control characters";
    return NULL;
}

const char *override_check_percent(json_t *v, uint16_t *share)
{
    double p = json_number_value(v);
    double bp = p * 100.0;
    if (!json_is_number(v) || !isfinite(p) || p < 0 || p > 100 ||
        fabs(bp - round(bp)) > 1e-6 * (bp > 1 ? bp : 1))
        return "\"percent\" must be a number from 0 to 100 with at most two decimals";
    *share = (uint16_t)round(bp);
    return NULL;
}

const char *override_check_reason(const char *r)
{
    size_t len = strlen(r);
    if (len == 0)
        return "\"reason\" must be a non-empty string";
    if (len > OVERRIDE_MAX_REASON)
        return "\"reason\" must be at most 1024 octets";
    return NULL;
}

const char *override_check_author(const char *a)
{
    size_t len = strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    if (len == 0 || a[len] != '\0' || len > OVERRIDE_MAX_AUTHOR)
        return "an author must be 1 to 64 letters, digits, '.', '_' or '-'";
    return NULL;
}

bool override_id_parse(const char *id, uint64_t *n)
{
    if (strncmp(id, "ovr-", 4) != 0)
        return false;
    const char *d = id + 4;
    size_t len = strspn(d, "0123456789");
    if (len == 0 || len > 16 || d[len] != '\0' || d[0] == '0')
        return false;
    unsigned long long v = strtoull(d, NULL, 10);
    if (v > OVERRIDE_ID_MAX)
        return false;
    *n = v;
    return true;
}

/* ---- restore ----------------------------------------------------------------- */

/* The dial fields of an entry: "percent" with "salt" (an integer below
 * 2^32), or neither (a full override). A dial names a region or an az. */
static const char *override_check_dial(json_t *e, const char *target, struct override *o)
{
    json_t *pc = json_object_get(e, "percent"), *sa = json_object_get(e, "salt");
    o->share = OVERRIDE_FULL;
    o->salt = 0;
    if (!pc && !sa)
        return NULL;
    if (!pc || !sa)
        return "\"percent\" and \"salt\" go together";
    const char *why = override_check_percent(pc, &o->share);
    if (why)
        return why;
    if (!json_is_integer(sa) || json_integer_value(sa) < 0 || json_integer_value(sa) > 4294967295LL)
        return "\"salt\" must be an integer from 0 to 2^32-1";
    if (o->share < OVERRIDE_FULL && strncmp(target, "endpoint:", 9) == 0)
        return "\"percent\" applies to region and az targets";
    o->salt = (uint32_t)json_integer_value(sa);
    if (o->share >= OVERRIDE_FULL)
        o->salt = 0;
    return NULL;
}

/* The fields of a saved override (state file, fleet record). */
static const char *const override_entry_keys[] = {"id",      "target",  "state",   "reason",
                                                  "author",  "created", "expires", "node",
                                                  "percent", "salt",    NULL};

void override_keep_known(json_t *e)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(e, tmp, k, v)
    {
        bool known = false;
        for (int i = 0; override_entry_keys[i] && !known; i++)
            known = strcmp(k, override_entry_keys[i]) == 0;
        if (!known)
            json_object_del(e, k);
    }
}

/* Checks one state-file entry as the API would; NULL when valid (o filled,
 * strings borrowed from e), else why not. */
static const char *override_check_entry(json_t *e, double now, struct override *o, uint64_t *num)
{
    const char *const *keys = override_entry_keys;
    if (!json_is_object(e))
        return "not an object";
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
    {
        bool known = false;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known)
            return "unknown key";
    }
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *target = json_string_value(json_object_get(e, "target"));
    const char *state = json_string_value(json_object_get(e, "state"));
    const char *reason = json_string_value(json_object_get(e, "reason"));
    const char *author = json_string_value(json_object_get(e, "author"));
    json_t *cr = json_object_get(e, "created"), *ex = json_object_get(e, "expires");
    if (!id || !override_id_parse(id, num))
        return "\"id\" must be \"ovr-N\" with N from 1 to 2^52-1";
    if (!target || override_check_target(target))
        return target ? override_check_target(target) : "\"target\" must be a string";
    if (!state || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
        return "\"state\" must be \"up\" or \"down\"";
    if (!reason || override_check_reason(reason))
        return reason ? override_check_reason(reason) : "\"reason\" must be a string";
    if (!author || override_check_author(author))
        return author ? override_check_author(author) : "\"author\" must be a string";
    double created = json_number_value(cr);
    if (!json_is_number(cr) || !isfinite(created) || created <= 0 ||
        created > now + OVERRIDE_CLOCK_SLACK)
        return "\"created\" must be a time no later than now";
    double expires = json_number_value(ex);
    if (ex && !json_is_null(ex) &&
        (!json_is_number(ex) || !isfinite(expires) || expires <= created ||
         expires > created + OVERRIDE_MAX_EXPIRES + 1))
        return "\"expires\" must be null or a time after \"created\", at most 3.2e7 s later";
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->target = (char *)target;
    o->state = strcmp(state, "up") == 0 ? HEALTH_UP : HEALTH_DOWN;
    o->reason = (char *)reason;
    o->author = (char *)author;
    /* A fleet override names the node that took the call. */
    json_t *nd = json_object_get(e, "node");
    if (nd && (!json_is_string(nd) || override_check_author(json_string_value(nd))))
        return "\"node\" must be a node name";
    o->created = created;
    o->expires = json_is_number(ex) ? expires : 0;
    o->node = nd ? (char *)json_string_value(nd) : NULL;
    return override_check_dial(e, target, o);
}

/* Checks every entry: keeps the valid, unexpired ones in keep[] (borrowed
 * strings), logs the rejected ones. */
static size_t override_check_all(json_t *arr, double now, struct override *keep, uint64_t *nums,
                                 struct override_restore_stats *st)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct override o;
        uint64_t num = 0;
        const char *why = override_check_entry(e, now, &o, &num);
        for (size_t k = 0; !why && k < n; k++)
            if (nums[k] == num)
                why = "\"id\" used twice";
        if (why) {
            const char *id = json_string_value(json_object_get(e, "id"));
            char id_q[80], why_q[160];
            log_error("event=state_load override_rejected index=%zu id=\"%s\" why=\"%s\"", i,
                      log_quote(id ? id : "", id_q, sizeof(id_q)),
                      log_quote(why, why_q, sizeof(why_q)));
            st->rejected++;
            continue;
        }
        if (o.expires > 0 && o.expires <= now) {
            st->expired++;
            continue;
        }
        keep[n] = o;
        nums[n++] = num;
    }
    return n;
}

int override_restore(struct health_core *c, json_t *arr, double now,
                     struct override_restore_stats *st)
{
    memset(st, 0, sizeof(*st));
    size_t total = json_array_size(arr);
    struct override *keep = calloc(total + 1, sizeof(*keep));
    uint64_t *nums = calloc(total + 1, sizeof(*nums));
    if (!keep || !nums)
        abort();
    size_t n = override_check_all(arr, now, keep, nums, st);
    st->wanted = n;
    pthread_mutex_lock(&c->lock);
    bool too_many = c->n_overrides + n > HEALTH_MAX_OVERRIDES_LIMIT;
    for (size_t i = 0; i < n && !too_many; i++) {
        struct override *o = calloc(1, sizeof(*o));
        if (!o)
            abort();
        *o = keep[i];
        o->next = NULL;
        o->target = override_strdup(keep[i].target);
        o->reason = override_strdup(keep[i].reason);
        o->author = override_strdup(keep[i].author);
        o->node = keep[i].node ? override_strdup(keep[i].node) : NULL;
        if (nums[i] >= c->next_override_id)
            c->next_override_id = nums[i] + 1; /* at most 2^52: no wrap */
        /* Restored in file order (newest first): append to keep it. */
        struct override **pp = &c->overrides;
        while (*pp)
            pp = &(*pp)->next;
        *pp = o;
        c->n_overrides++;
        health_override_apply_locked(c, o->target);
        st->restored++;
    }
    if (!too_many && c->n_overrides > c->max_overrides)
        st->over_max = c->n_overrides - c->max_overrides;
    pthread_mutex_unlock(&c->lock);
    free(keep);
    free(nums);
    if (st->restored)
        health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    return too_many ? -1 : 0;
}

void override_cap_note(char *buf, size_t len, size_t n, size_t max)
{
    snprintf(buf, len,
             "max_overrides (%zu) is below the %zu overrides in force: all are kept, and "
             "restored at a restart; new overrides are refused until fewer than %zu remain",
             max, n, max);
}

size_t override_count_valid(json_t *arr, double now)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct override o;
        uint64_t num = 0;
        if (!override_check_entry(e, now, &o, &num) && !(o.expires > 0 && o.expires <= now))
            n++;
    }
    return n;
}

void override_raise_next_id(struct health_core *c, uint64_t n)
{
    pthread_mutex_lock(&c->lock);
    if (n > c->next_override_id && n <= OVERRIDE_COUNTER_MAX)
        c->next_override_id = n;
    pthread_mutex_unlock(&c->lock);
}

void override_floor_ids(struct health_core *c, double now)
{
    override_raise_next_id(c, (uint64_t)(now * 1000.0));
}

/* ---- from a shared store (the fleet) ---------------------------------------- */

static bool override_same(const struct override *a, const struct override *b)
{
    return strcmp(a->target, b->target) == 0 && a->state == b->state &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->author, b->author) == 0 &&
           a->created == b->created && a->expires == b->expires && a->share == b->share &&
           a->salt == b->salt && strcmp(a->node ? a->node : "", b->node ? b->node : "") == 0;
}

/* Inserts o by creation time, newest first (caller holds c->lock),
 * replacing an override with the same id. Returns false (and frees o)
 * when an identical one is there already. The etcd store holds the
 * records, so max_overrides is not applied here: the API checks it
 * before it creates one. */
static bool override_insert_locked(struct health_core *c, struct override *o, uint64_t num)
{
    for (struct override **pp = &c->overrides; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, o->id) == 0) {
            struct override *old = *pp;
            if (override_same(old, o)) {
                override_free(o);
                return false;
            }
            *pp = old->next;
            c->n_overrides--;
            char *target = old->target;
            old->target = NULL;
            override_free(old);
            health_override_apply_locked(c, target);
            free(target);
            break;
        }
    struct override **pp = &c->overrides;
    while (*pp && (*pp)->created > o->created)
        pp = &(*pp)->next;
    o->next = *pp;
    *pp = o;
    c->n_overrides++;
    if (num >= c->next_override_id)
        c->next_override_id = num + 1;
    health_override_apply_locked(c, o->target);
    return true;
}

int override_upsert_json(struct health_core *c, json_t *e, double now)
{
    struct override chk;
    uint64_t num = 0;
    const char *why = override_check_entry(e, now, &chk, &num);
    if (why || (chk.expires > 0 && chk.expires <= now)) {
        if (why) {
            const char *id = json_string_value(json_object_get(e, "id"));
            char why_q[160], id_q[80];
            log_error("event=override_rejected source=fleet id=\"%s\" why=\"%s\"",
                      log_quote(id ? id : "", id_q, sizeof(id_q)),
                      log_quote(why, why_q, sizeof(why_q)));
        }
        return why ? OVERRIDE_UPSERT_INVALID : OVERRIDE_UPSERT_EXPIRED;
    }
    struct override *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    *o = chk; /* strings borrowed from e: copied below */
    o->target = override_strdup(chk.target);
    o->reason = override_strdup(chk.reason);
    o->author = override_strdup(chk.author);
    o->node = chk.node ? override_strdup(chk.node) : NULL;
    char id[32], target_q[OVERRIDE_MAX_TARGET + 8];
    snprintf(id, sizeof(id), "%s", chk.id);
    log_quote(chk.target, target_q, sizeof(target_q));
    enum health_state st = chk.state;
    pthread_mutex_lock(&c->lock);
    /* A new one past max_overrides is refused here as on the node that
     * took it (a forged or runaway fleet cannot grow the list, and the
     * state file stays one that a start accepts). */
    bool known = false;
    for (const struct override *x = c->overrides; x && !known; x = x->next)
        known = strcmp(x->id, id) == 0;
    if (!known && c->max_overrides && c->n_overrides >= c->max_overrides) {
        size_t max = c->max_overrides;
        pthread_mutex_unlock(&c->lock);
        override_free(o);
        log_error("event=override_rejected source=fleet id=%s why=\"max_overrides (%zu) are in "
                  "force\"",
                  id, max);
        return OVERRIDE_UPSERT_FULL;
    }
    bool changed = override_insert_locked(c, o, num); /* o may be freed */
    pthread_mutex_unlock(&c->lock);
    if (!changed)
        return 0;
    health_hooks_tell(c, HEALTH_HOOK_OVERRIDES);
    event_ring_push(c->events, "override",
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", "added", "override", id,
                              "target", json_string_value(json_object_get(e, "target")), "state",
                              health_state_name(st), "source", "fleet"));
    log_info("event=override_add id=%s target=\"%s\" state=%s source=fleet", id, target_q,
             health_state_name(st));
    return 1;
}

static bool override_not_in(const struct override *o, const void *arg)
{
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)arg, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (id && strcmp(id, o->id) == 0)
            return false;
    }
    return true;
}

size_t override_remove_not_in_json(struct health_core *c, json_t *arr)
{
    return override_remove_if(c, override_not_in, arr, "not_in_fleet");
}

size_t override_sync_json(struct health_core *c, json_t *arr, double now)
{
    size_t n = override_remove_not_in_json(c, arr);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) n += override_upsert_json(c, e, now) > 0;
    return n;
}

bool override_remove_why(struct health_core *c, const char *id, const char *why)
{
    return override_remove_if(c, override_has_id, id, why) > 0;
}

void override_free_all(struct health_core *c)
{
    while (c->overrides) {
        struct override *o = c->overrides;
        c->overrides = o->next;
        override_free(o);
    }
    c->n_overrides = 0;
}
