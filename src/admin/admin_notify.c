/*
 * admin_notify.c -- the metrics of external verdicts, outgoing webhooks
 * and the dnstap log (doc/admin-api.md#get-metrics).
 */
#include <event2/buffer.h>
#include <stdio.h>

#include "admin/admin_int.h"
#include "dnstap/dnstap.h"
#include "health/verdict.h"
#include "webhook/webhook.h"

static void notify_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The dnstap writer's counters (doc/dnstap.md), when it runs. */
static void notify_dnstap(struct admin *a, struct evbuffer *b)
{
    if (!a->env.dnstap)
        return;
    struct dnstap_stats st;
    dnstap_stats(a->env.dnstap, &st);
    notify_head(b, "gtmd_dnstap_messages_total", "counter",
                "dnstap messages handed to the writer thread (queued), not logged because a "
                "worker's queue was full, a slow or stopped reader (dropped), or because no "
                "reader was connected (no_reader); of the queued, those never written because "
                "the reader went away first (lost).");
    evbuffer_add_printf(b, "gtmd_dnstap_messages_total{result=\"queued\"} %llu\n",
                        (unsigned long long)st.queued);
    evbuffer_add_printf(b, "gtmd_dnstap_messages_total{result=\"dropped\"} %llu\n",
                        (unsigned long long)st.dropped);
    evbuffer_add_printf(b, "gtmd_dnstap_messages_total{result=\"no_reader\"} %llu\n",
                        (unsigned long long)st.no_reader);
    evbuffer_add_printf(b, "gtmd_dnstap_messages_total{result=\"lost\"} %llu\n",
                        (unsigned long long)st.lost);
    notify_head(b, "gtmd_dnstap_reader_connected", "gauge",
                "1 while a dnstap reader is connected (the file is open).");
    evbuffer_add_printf(b, "gtmd_dnstap_reader_connected %d\n", st.connected ? 1 : 0);
    notify_head(b, "gtmd_dnstap_queues", "gauge", "dnstap queues, one per worker thread.");
    evbuffer_add_printf(b, "gtmd_dnstap_queues %u\n", st.queues);
}

void admin_notify_metrics(struct admin *a, struct evbuffer *b)
{
    notify_dnstap(a, b);
    notify_head(b, "gtmd_verdicts_active", "gauge", "External verdicts in force.");
    evbuffer_add_printf(b, "gtmd_verdicts_active %zu\n", verdict_count(a->env.health));
    struct webhook_stat st[WEBHOOK_MAX];
    size_t n = webhook_stats(a->env.webhooks, st, WEBHOOK_MAX);
    if (n == 0)
        return;
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"gtmd_webhook_sent_total", "counter", "Notifications delivered (2xx), by webhook."},
        {"gtmd_webhook_failed_total", "counter",
         "Notifications dropped after their last retry failed, by webhook."},
        {"gtmd_webhook_dropped_total", "counter",
         "Notifications dropped because the webhook's queue was full, by webhook."},
        {"gtmd_webhook_retries_total", "counter", "Retried attempts, by webhook."},
        {"gtmd_webhook_queue_length", "gauge", "Notifications waiting, by webhook."},
    };
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        notify_head(b, m[k].name, m[k].type, m[k].help);
        for (size_t i = 0; i < n; i++) {
            unsigned long long v = k == 0   ? st[i].sent
                                   : k == 1 ? st[i].failed
                                   : k == 2 ? st[i].dropped
                                   : k == 3 ? st[i].retries
                                            : (unsigned long long)st[i].queued;
            /* The label has no path (a secret for Slack) and no quotes. */
            evbuffer_add_printf(b, "%s{webhook=\"%zu\",target=\"%s\"} %llu\n", m[k].name, i,
                                st[i].label, v);
        }
    }
}
