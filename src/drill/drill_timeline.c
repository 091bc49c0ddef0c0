/*
 * drill_timeline.c -- the recovery timeline of a drill: its records, the
 * counters' baselines and samples, what gtmd's own queries saw, JSON.
 */
#include "drill/drill_timeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/rrtype.h"
#include "policy/policy_eval.h"

const char *const drill_tl_phase_names[DRILL_TL_PHASES] = {"measuring", "holding", "restoring",
                                                           "done"};

static char *drill_tl_dup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* Whether answers of region k come from a lost target: k is a target. */
static bool drill_tl_region_lost(const struct gslb *g, const struct drill_targets *t, size_t k)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->slots[i] == g->regions[k].slot)
            return true;
    return false;
}

/* The columns of record r: each of its regions, and "no serving region"
 * (lost when when_all_down "all" serves every endpoint, lost ones too). */
static void drill_tl_columns(const struct gslb *g, const struct drill_targets *t,
                             const struct policy_record *r, struct drill_tl_record *out)
{
    out->cols = calloc(r->n_regions + 1, sizeof(*out->cols));
    if (!out->cols)
        abort();
    for (size_t k = 0; k < r->n_regions; k++) {
        struct drill_tl_column *c = &out->cols[out->n_cols++];
        c->region = drill_tl_dup(g->regions[r->regions[k]].name);
        c->lost = drill_tl_region_lost(g, t, r->regions[k]);
        c->id = DRILL_COUNTER_NONE;
    }
    struct drill_tl_column *c = &out->cols[out->n_cols++];
    c->lost = r->when_all_down == DOWN_ALL;
    c->id = DRILL_COUNTER_NONE;
}

struct drill_timeline *drill_timeline_new(const struct gslb *g, const struct drill_targets *t,
                                          enum drill_mode mode, double now)
{
    if (mode == DRILL_SHADOW || !g)
        return NULL;
    struct drill_timeline *tl = calloc(1, sizeof(*tl));
    if (!tl)
        abort();
    tl->records = calloc(DRILL_TIMELINE_RECORDS, sizeof(*tl->records));
    if (!tl->records)
        abort();
    tl->phase = DRILL_TL_START;
    tl->canary = mode == DRILL_SCOPED;
    tl->started = now;
    tl->window_end = now + DRILL_TIMELINE_WINDOW;
    struct policy_overlay ov = drill_targets_overlay(t);
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        struct policy_client c = {.overlay = NULL};
        struct policy_result before, after;
        policy_eval_all(g, r, r->rtype, &c, &before);
        c.overlay = &ov;
        policy_eval_all(g, r, r->rtype, &c, &after);
        if (policy_result_same(&before, &after))
            continue;
        if (tl->n_records == DRILL_TIMELINE_RECORDS) {
            tl->not_measured++;
            continue;
        }
        struct drill_tl_record *rec = &tl->records[tl->n_records++];
        rec->name = drill_tl_dup(r->name_str);
        rec->rtype = r->rtype;
        rec->ttl = r->ttl;
        if (r->ttl > tl->ttl)
            tl->ttl = r->ttl;
        drill_tl_columns(g, t, r, rec);
    }
    if (tl->n_records == 0) {
        drill_timeline_free(tl);
        return NULL;
    }
    return tl;
}

void drill_timeline_free(struct drill_timeline *tl)
{
    if (!tl)
        return;
    for (size_t i = 0; i < tl->n_records; i++) {
        for (size_t k = 0; k < tl->records[i].n_cols; k++)
            free(tl->records[i].cols[k].region);
        free(tl->records[i].cols);
        free(tl->records[i].name);
    }
    free(tl->records);
    free(tl->points);
    free(tl);
}

void drill_timeline_baseline(struct drill_timeline *tl, struct serve *sv, bool resume)
{
    if (!sv)
        return;
    for (size_t i = 0; i < tl->n_records; i++) {
        struct drill_tl_record *r = &tl->records[i];
        for (size_t k = 0; k < r->n_cols; k++) {
            struct drill_tl_column *c = &r->cols[k];
            if (c->id == DRILL_COUNTER_NONE)
                c->id = serve_policy_id(sv, r->name, r->rtype, c->region, tl->canary);
            c->base = c->end_base = serve_sum_id(sv, c->id);
        }
        if (resume) {
            r->lost_before += r->lost;
            r->lost = 0;
        }
    }
    tl->counted = true;
}

/* Adds the sample at now to the series (see struct drill_timeline). */
static void drill_tl_point_add(struct drill_timeline *tl, double now, uint64_t answers,
                               uint64_t lost)
{
    if (!tl->points) {
        tl->points = calloc(DRILL_TIMELINE_POINTS, sizeof(*tl->points));
        if (!tl->points)
            abort();
        tl->point_step = DRILL_TIMELINE_POINT_S;
    }
    if (tl->n_points > 0 && now - tl->points[tl->n_points - 1].t < tl->point_step)
        return;
    if (tl->n_points == DRILL_TIMELINE_POINTS) {
        size_t k = 0;
        for (size_t i = 0; i < tl->n_points; i += 2)
            tl->points[k++] = tl->points[i];
        tl->n_points = k;
        tl->point_step *= 2;
    }
    tl->points[tl->n_points++] = (struct drill_tl_point){now, answers, lost};
}

void drill_timeline_sample(struct drill_timeline *tl, struct serve *sv, double now)
{
    if (!tl->counted || !sv || tl->phase == DRILL_TL_DONE)
        return;
    bool restore = tl->phase == DRILL_TL_RESTORE;
    uint64_t sum_answers = 0, sum_lost = 0;
    for (size_t i = 0; i < tl->n_records; i++) {
        struct drill_tl_record *r = &tl->records[i];
        uint64_t lost = 0, kept = 0, back = 0, all = 0;
        for (size_t k = 0; k < r->n_cols; k++) {
            const struct drill_tl_column *c = &r->cols[k];
            uint64_t v = serve_sum_id(sv, c->id);
            if (restore) {
                back += c->lost && v > c->end_base ? v - c->end_base : 0;
                continue;
            }
            uint64_t d = v > c->base ? v - c->base : 0;
            all += d;
            if (c->lost)
                lost += d;
            else
                kept += d;
        }
        if (restore) {
            if (back > 0 && r->restored == 0)
                r->restored = now;
            continue;
        }
        r->lost = lost;
        r->answers = all;
        sum_answers += all;
        sum_lost += r->lost_before + lost;
        if (kept > 0 && r->avoided == 0)
            r->avoided = now;
    }
    if (!restore)
        drill_tl_point_add(tl, now, sum_answers, sum_lost);
}

void drill_timeline_end(struct drill_timeline *tl, struct serve *sv, double now, bool end_sample)
{
    if (end_sample) {
        drill_timeline_sample(tl, sv, now);
        tl->ended = now;
        return;
    }
    for (size_t i = 0; tl->counted && sv && i < tl->n_records; i++)
        for (size_t k = 0; k < tl->records[i].n_cols; k++)
            tl->records[i].cols[k].end_base = serve_sum_id(sv, tl->records[i].cols[k].id);
    tl->phase = DRILL_TL_RESTORE;
    tl->window_end = now + DRILL_TIMELINE_WINDOW;
}

void drill_timeline_seen(struct drill_timeline *tl, size_t i, bool from_lost, double now)
{
    if (i >= tl->n_records || tl->phase == DRILL_TL_DONE)
        return;
    struct drill_tl_record *r = &tl->records[i];
    r->self_queries++;
    if (tl->phase == DRILL_TL_RESTORE) {
        if (from_lost && r->restored == 0)
            r->restored = now;
        return;
    }
    if (from_lost)
        r->self_lost++;
    else if (r->avoided == 0)
        r->avoided = now;
}

bool drill_timeline_settled(const struct drill_timeline *tl)
{
    for (size_t i = 0; i < tl->n_records; i++)
        if ((tl->phase == DRILL_TL_RESTORE ? tl->records[i].restored : tl->records[i].avoided) == 0)
            return false;
    return true;
}

/* The first and the last of the records' times (avoided or restored);
 * *last is 0 unless every record has one. */
static void drill_tl_span(const struct drill_timeline *tl, bool restore, double *first,
                          double *last)
{
    *first = *last = 0;
    bool all = tl->n_records > 0;
    for (size_t i = 0; i < tl->n_records; i++) {
        double t = restore ? tl->records[i].restored : tl->records[i].avoided;
        if (t == 0) {
            all = false;
            continue;
        }
        if (*first == 0 || t < *first)
            *first = t;
        if (t > *last)
            *last = t;
    }
    if (!all)
        *last = 0;
}

double drill_timeline_rto(const struct drill_timeline *tl)
{
    double first, last;
    drill_tl_span(tl, false, &first, &last);
    return last > 0 ? (last > tl->started ? last - tl->started : 0) : -1;
}

double drill_timeline_restore_rto(const struct drill_timeline *tl)
{
    double first, last;
    drill_tl_span(tl, true, &first, &last);
    return last > 0 && tl->ended > 0 ? (last > tl->ended ? last - tl->ended : 0) : -1;
}

uint64_t drill_timeline_lost(const struct drill_timeline *tl)
{
    uint64_t n = 0;
    for (size_t i = 0; i < tl->n_records; i++)
        n += tl->records[i].lost_before + tl->records[i].lost;
    return n;
}

static json_t *drill_tl_time(double t)
{
    return t > 0 ? json_real(t) : json_null();
}

static json_t *drill_tl_record_json(const struct drill_tl_record *r)
{
    json_t *cols = json_array(), *lost = json_array();
    for (size_t k = 0; k < r->n_cols; k++) {
        const struct drill_tl_column *c = &r->cols[k];
        json_array_append_new(cols, json_pack("{s:s?, s:b}", "region", c->region, "lost", c->lost));
        if (c->lost)
            json_array_append_new(lost, json_string(c->region ? c->region : "none"));
    }
    return json_pack(
        "{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "record", r->name, "type",
        dns_type_name(r->rtype), "ttl", (json_int_t)r->ttl, "lost_regions", lost, "columns", cols,
        "avoided", drill_tl_time(r->avoided), "restored", drill_tl_time(r->restored),
        "lost_answers", (json_int_t)(r->lost_before + r->lost), "answers", (json_int_t)r->answers,
        "self_queries", (json_int_t)r->self_queries, "self_lost", (json_int_t)r->self_lost);
}

/* [[t, answers, lost], ...]: the series, oldest first. */
static json_t *drill_tl_series_json(const struct drill_timeline *tl)
{
    json_t *a = json_array();
    for (size_t i = 0; i < tl->n_points; i++) {
        const struct drill_tl_point *p = &tl->points[i];
        json_array_append_new(
            a, json_pack("[f, I, I]", p->t, (json_int_t)p->answers, (json_int_t)p->lost));
    }
    return a;
}

json_t *drill_timeline_json(const struct drill_timeline *tl)
{
    double first, last, rfirst, rlast;
    uint64_t self = 0, self_lost = 0;
    drill_tl_span(tl, false, &first, &last);
    drill_tl_span(tl, true, &rfirst, &rlast);
    json_t *recs = json_array();
    for (size_t i = 0; i < tl->n_records; i++) {
        json_array_append_new(recs, drill_tl_record_json(&tl->records[i]));
        self += tl->records[i].self_queries;
        self_lost += tl->records[i].self_lost;
    }
    double rto = drill_timeline_rto(tl), rrto = drill_timeline_restore_rto(tl);
    json_t *j = json_pack("{s:s, s:f, s:o, s:o, s:o, s:I, s:o}", "state",
                          drill_tl_phase_names[tl->phase], "started", tl->started, "first_avoiding",
                          drill_tl_time(first), "all_avoiding", drill_tl_time(last), "rto",
                          rto >= 0 ? json_real(rto) : json_null(), "ttl", (json_int_t)tl->ttl,
                          "rto_plus_ttl", rto >= 0 ? json_real(rto + tl->ttl) : json_null());
    json_object_set_new(j, "lost_answers", json_integer((json_int_t)drill_timeline_lost(tl)));
    json_object_set_new(j, "lost_answers_of",
                        json_string(!tl->counted ? "not counted"
                                    : tl->canary ? "canary clients"
                                                 : "all clients"));
    json_object_set_new(j, "self_queries", json_integer((json_int_t)self));
    json_object_set_new(j, "self_lost", json_integer((json_int_t)self_lost));
    json_object_set_new(j, "ended", drill_tl_time(tl->ended));
    json_object_set_new(j, "restore",
                        json_pack("{s:o, s:o, s:o}", "first", drill_tl_time(rfirst), "all",
                                  drill_tl_time(rlast), "rto",
                                  rrto >= 0 ? json_real(rrto) : json_null()));
    json_object_set_new(j, "records", recs);
    json_object_set_new(j, "records_not_measured", json_integer((json_int_t)tl->not_measured));
    json_object_set_new(j, "canary", json_boolean(tl->canary));
    json_object_set_new(j, "series", drill_tl_series_json(tl));
    return j;
}

/* ---- back from the state file ----------------------------------------- */

static double drill_tl_read_time(json_t *v)
{
    double t = json_is_number(v) ? json_number_value(v) : 0;
    return isfinite(t) && t > 0 ? t : 0;
}

static uint64_t drill_tl_read_count(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* One saved record; false when malformed. */
static bool drill_tl_record_from_json(json_t *j, struct drill_tl_record *r)
{
    const char *name = json_string_value(json_object_get(j, "record"));
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *cols = json_object_get(j, "columns");
    if (!name || strlen(name) > 255 || !type || !json_is_array(cols) ||
        json_array_size(cols) == 0 || json_array_size(cols) > 1025)
        return false;
    r->name = drill_tl_dup(name);
    r->rtype = dns_type_from_name(type);
    json_t *ttl = json_object_get(j, "ttl");
    r->ttl = json_is_integer(ttl) && json_integer_value(ttl) >= 0 &&
                     json_integer_value(ttl) <= 0x7fffffff
                 ? (uint32_t)json_integer_value(ttl)
                 : 0;
    r->cols = calloc(json_array_size(cols), sizeof(*r->cols));
    if (!r->cols)
        abort();
    size_t k;
    json_t *c;
    json_array_foreach(cols, k, c)
    {
        const char *region = json_string_value(json_object_get(c, "region"));
        if (region && strlen(region) > DRILL_MAX_NAME)
            return false;
        struct drill_tl_column *col = &r->cols[r->n_cols++];
        col->region = region ? drill_tl_dup(region) : NULL;
        col->lost = json_is_true(json_object_get(c, "lost"));
        col->id = DRILL_COUNTER_NONE;
    }
    r->avoided = drill_tl_read_time(json_object_get(j, "avoided"));
    r->restored = drill_tl_read_time(json_object_get(j, "restored"));
    r->lost_before = drill_tl_read_count(json_object_get(j, "lost_answers"));
    r->self_queries = (uint32_t)drill_tl_read_count(json_object_get(j, "self_queries"));
    r->self_lost = (uint32_t)drill_tl_read_count(json_object_get(j, "self_lost"));
    return r->rtype != 0;
}

struct drill_timeline *drill_timeline_from_json(json_t *j)
{
    json_t *recs = json_object_get(j, "records");
    const char *state = json_string_value(json_object_get(j, "state"));
    if (!json_is_object(j) || !json_is_array(recs) || json_array_size(recs) == 0 ||
        json_array_size(recs) > DRILL_TIMELINE_RECORDS || !state)
        return NULL;
    struct drill_timeline *tl = calloc(1, sizeof(*tl));
    if (!tl)
        abort();
    tl->records = calloc(DRILL_TIMELINE_RECORDS, sizeof(*tl->records));
    if (!tl->records)
        abort();
    tl->phase = DRILL_TL_PHASES;
    for (int p = 0; p < DRILL_TL_PHASES; p++)
        if (strcmp(state, drill_tl_phase_names[p]) == 0)
            tl->phase = (enum drill_tl_phase)p;
    tl->canary = json_is_true(json_object_get(j, "canary"));
    tl->started = drill_tl_read_time(json_object_get(j, "started"));
    tl->ended = drill_tl_read_time(json_object_get(j, "ended"));
    tl->not_measured = drill_tl_read_count(json_object_get(j, "records_not_measured"));
    bool ok = tl->phase != DRILL_TL_PHASES && tl->started > 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (!ok)
            break;
        ok = drill_tl_record_from_json(r, &tl->records[tl->n_records++]);
        if (ok && tl->records[i].ttl > tl->ttl)
            tl->ttl = tl->records[i].ttl;
    }
    if (!ok) {
        drill_timeline_free(tl);
        return NULL;
    }
    return tl;
}
