/*
 * ctl_watch.c -- gtmctl watch: GET /v1/events as lines.
 *
 * One line per event: "ID TYPE TIME key=value ..." (values with spaces
 * quoted), or with --json the event's JSON object. When the stream ends
 * (gtmd restarted, or it dropped us as a slow consumer) watch connects
 * again after a second with Last-Event-ID, so no kept event is missed;
 * the first connection failing, or any refusal (401, 403), ends it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"

/* gtmd sends a keep-alive comment every 15 s at most. */
#define CTL_WATCH_IDLE_S 45.0
#define CTL_WATCH_LINE_MAX (1024 * 1024)

struct ctl_watch {
    struct ctl *c;
    char *line; /* the line being read */
    size_t len, cap;
    char *data;    /* the event's data (one line from gtmd) */
    uint64_t last; /* newest id printed */
};

static void ctl_watch_print_human(json_t *ev)
{
    char when[32];
    ctl_time(json_object_get(ev, "time"), when, sizeof(when));
    printf("%" JSON_INTEGER_FORMAT " %s %s", json_integer_value(json_object_get(ev, "id")),
           ctl_s(ev, "type"), when);
    const char *k;
    json_t *v;
    json_object_foreach(ev, k, v)
    {
        if (strcmp(k, "id") == 0 || strcmp(k, "type") == 0 || strcmp(k, "time") == 0 ||
            json_is_null(v))
            continue;
        char *text =
            json_is_string(v) ? strdup(json_string_value(v)) : ctl_json_dumps(v, JSON_COMPACT);
        if (!text)
            continue;
        if (text[0] == '\0' || strpbrk(text, " \t\"="))
            printf(" %s=\"%s\"", k, text);
        else
            printf(" %s=%s", k, text);
        free(text);
    }
    printf("\n");
}

static void ctl_watch_event(struct ctl_watch *w)
{
    if (!w->data)
        return;
    json_t *ev = json_loads(w->data, 0, NULL);
    free(w->data);
    w->data = NULL;
    if (!json_is_object(ev)) {
        json_decref(ev);
        return;
    }
    json_int_t id = json_integer_value(json_object_get(ev, "id"));
    if (id > 0)
        w->last = (uint64_t)id;
    if (w->c->json) {
        char *text = ctl_json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        if (text)
            printf("%s\n", text);
        free(text);
    } else
        ctl_watch_print_human(ev);
    fflush(stdout);
    json_decref(ev);
}

/* One SSE line: "data: ..." keeps the data, a blank line ends the event;
 * comments (":"), "id:", "event:" and "retry:" need nothing (the data
 * holds the id and type). */
static void ctl_watch_line(struct ctl_watch *w)
{
    if (w->len && w->line[w->len - 1] == '\r')
        w->line[--w->len] = '\0';
    if (w->len == 0)
        ctl_watch_event(w);
    else if (strncmp(w->line, "data: ", 6) == 0) {
        free(w->data);
        w->data = strdup(w->line + 6);
    }
}

static int ctl_watch_data(void *arg, const char *data, size_t len)
{
    struct ctl_watch *w = arg;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            w->line[w->len] = '\0';
            ctl_watch_line(w);
            w->len = 0;
            continue;
        }
        if (w->len + 1 >= w->cap) {
            if (w->cap >= CTL_WATCH_LINE_MAX)
                return 1; /* not an event stream we understand */
            w->cap *= 2;
            char *nl = realloc(w->line, w->cap);
            if (!nl)
                return 1;
            w->line = nl;
        }
        w->line[w->len++] = data[i];
    }
    return 0;
}

int ctl_watch(struct ctl *c)
{
    struct ctl_watch w = {.c = c, .cap = 4096};
    w.line = malloc(w.cap);
    if (!w.line)
        return CTL_UNREACHABLE;
    int rc = CTL_OK;
    for (bool first = true;; first = false) {
        char header[64] = "";
        if (w.last)
            snprintf(header, sizeof(header), "Last-Event-ID: %" PRIu64, w.last);
        struct ctl_http_response r;
        w.len = 0;
        int t = ctl_http_stream(c->server, "/v1/events", c->token, w.last ? header : NULL,
                                c->timeout, CTL_WATCH_IDLE_S, ctl_watch_data, &w, &r);
        if (t != 0 && first) {
            fprintf(stderr, "gtmctl: %s\n", r.error);
            rc = CTL_UNREACHABLE;
            break;
        }
        if (t == 0 && r.status != 200) {
            json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
            json_t *e = json_object_get(j, "error");
            fprintf(stderr, "gtmctl: HTTP %d: %s\n", r.status,
                    e ? ctl_s(e, "message") : (r.body ? r.body : ""));
            json_decref(j);
            ctl_http_free(&r);
            rc = CTL_REFUSED;
            break;
        }
        ctl_http_free(&r);
        fprintf(stderr, "gtmctl: the event stream ended; connecting again\n");
        sleep(1);
    }
    free(w.line);
    free(w.data);
    return rc;
}
