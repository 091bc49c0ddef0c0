/*
 * notify_out.c -- NOTIFY to secondaries (RFC 1996 §3.6): every target of
 * every zone of a job is sent a NOTIFY; those that have not answered are
 * sent it again after 1, 2, 4, 8 and 8 s. All targets are asked in the
 * same rounds, so a dead secondary does not delay the others. A TSIG key
 * signs the message; the answer is matched by address, ID, QR and opcode
 * (its signature is not checked: an answer only stops the retries).
 */
#include "net/notify_out.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "dns/dns.h"
#include "dns/name.h"

#define NOTIFY_MAX_WAIT_MS 8000

/* One target of one zone. */
struct notify_slot {
    const struct notify_zone *zone;
    const struct sockaddr_storage *addr;
    socklen_t len;
    uint16_t id;
    int rcode;           /* -1 until answered */
    uint16_t tsig_error; /* the answer's TSIG error (BADKEY, BADSIG...), 0 without */
};

void notify_job_free(struct notify_job *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->n; i++) {
        free(job->zones[i].targets);
        free(job->zones[i].target_lens);
        memset(&job->zones[i].key, 0, sizeof(job->zones[i].key));
    }
    free(job->zones);
    free(job);
}

static uint64_t notify_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The NOTIFY message for slot into out; its length. */
static size_t notify_message(const struct notify_slot *sl, uint8_t *out, size_t cap)
{
    const struct notify_zone *z = sl->zone;
    memset(out, 0, DNS_HEADER_SIZE);
    dns_put16(out, sl->id);
    dns_put16(out + 2, (uint16_t)((DNS_OPCODE_NOTIFY << 11) | DNS_FLAG_AA));
    dns_put16(out + 4, 1);
    memcpy(out + DNS_HEADER_SIZE, z->origin, z->origin_len);
    size_t pos = DNS_HEADER_SIZE + z->origin_len;
    dns_put16(out + pos, DNS_TYPE_SOA);
    dns_put16(out + pos + 2, DNS_CLASS_IN);
    pos += 4;
    if (!z->signed_)
        return pos;
    struct tsig_ctx ctx = {.key = &z->key}; /* no MAC yet: a request */
    return tsig_sign(&ctx, out, pos, cap, true, (uint64_t)time(NULL), TSIG_OK);
}

static void notify_send_all(struct notify_slot *sl, size_t n, int fd4, int fd6)
{
    uint8_t msg[1024];
    for (size_t i = 0; i < n; i++) {
        if (sl[i].rcode >= 0)
            continue;
        size_t len = notify_message(&sl[i], msg, sizeof(msg));
        int fd = sl[i].addr->ss_family == AF_INET6 ? fd6 : fd4;
        if (fd >= 0)
            (void)sendto(fd, msg, len, 0, (const struct sockaddr *)sl[i].addr, sl[i].len);
    }
}

/* The error field of the TSIG record that ends answer msg (RFC 8945
 * §4.2: after the algorithm name, time, fudge, MAC, original ID), or 0
 * when it has none or it cannot be read: a secondary refuses a NOTIFY
 * whose key it does not share with NOTAUTH and such an error, and one for
 * a zone it does not serve with NOTAUTH alone (Knot). */
static uint16_t notify_tsig_error(const uint8_t *msg, size_t len)
{
    size_t pos = DNS_HEADER_SIZE,
           rrs = (size_t)dns_get16(msg + 6) + dns_get16(msg + 8) + dns_get16(msg + 10);
    for (uint16_t q = dns_get16(msg + 4); q > 0; q--) {
        if (!dns_name_skip(msg, len, &pos) || pos + 4 > len)
            return 0;
        pos += 4;
    }
    for (; rrs > 0; rrs--) {
        if (!dns_name_skip(msg, len, &pos) || pos + 10 > len)
            return 0;
        uint16_t type = dns_get16(msg + pos), rdlen = dns_get16(msg + pos + 8);
        size_t rd = pos + 10;
        pos = rd + rdlen;
        if (pos > len)
            return 0;
        if (type != DNS_TYPE_TSIG || rrs != 1)
            continue;
        if (!dns_name_skip(msg, pos, &rd) || rd + 10 > pos)
            return 0; /* the algorithm, then time (6), fudge (2), MAC size (2) */
        rd += 10 + dns_get16(msg + rd + 8);
        return rd + 4 <= pos ? dns_get16(msg + rd + 2) : 0; /* original ID, error */
    }
    return 0;
}

/* Reads one answer from fd and marks the slot it answers. */
static void notify_read(int fd, struct notify_slot *sl, size_t n)
{
    uint8_t buf[2048];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    if (r < DNS_HEADER_SIZE)
        return;
    uint16_t id = dns_get16(buf), flags = dns_get16(buf + 2);
    if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != DNS_OPCODE_NOTIFY)
        return;
    for (size_t i = 0; i < n; i++)
        if (sl[i].rcode < 0 && sl[i].id == id && addr_same(sl[i].addr, &from)) {
            sl[i].rcode = flags & 0xf;
            sl[i].tsig_error = notify_tsig_error(buf, (size_t)r);
        }
}

/* Waits up to ms for answers; true when every slot has one. */
static bool notify_wait(struct notify_slot *sl, size_t n, int fd4, int fd6, unsigned ms)
{
    uint64_t end = notify_now_ms() + ms;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += sl[i].rcode < 0;
        uint64_t now = notify_now_ms();
        if (left == 0 || now >= end)
            return left == 0;
        struct pollfd p[2] = {{.fd = fd4, .events = POLLIN}, {.fd = fd6, .events = POLLIN}};
        if (poll(p, 2, (int)(end - now)) <= 0)
            continue;
        for (int k = 0; k < 2; k++)
            if (p[k].revents & POLLIN)
                notify_read(p[k].fd, sl, n);
    }
}

static struct notify_slot *notify_slots(const struct notify_job *job, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < job->n; i++)
        total += job->zones[i].n_targets;
    struct notify_slot *sl = calloc(total ? total : 1, sizeof(*sl));
    if (!sl)
        return NULL;
    for (size_t i = 0, k = 0; i < job->n; i++)
        for (size_t t = 0; t < job->zones[i].n_targets; t++, k++) {
            const struct notify_zone *z = &job->zones[i];
            sl[k] = (struct notify_slot){
                .zone = z, .addr = &z->targets[t], .len = z->target_lens[t], .rcode = -1};
            if (getrandom(&sl[k].id, sizeof(sl[k].id), 0) != sizeof(sl[k].id))
                sl[k].id = (uint16_t)(notify_now_ms() + k);
        }
    *n = total;
    return sl;
}

static void notify_log(const struct notify_slot *sl, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char a[INET6_ADDRSTRLEN + 8] = "?";
        const struct sockaddr_storage *s = sl[i].addr;
        const void *ip = s->ss_family == AF_INET6
                             ? (const void *)&((const struct sockaddr_in6 *)s)->sin6_addr
                             : (const void *)&((const struct sockaddr_in *)s)->sin_addr;
        uint16_t port = ntohs(s->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)s)->sin6_port
                                                       : ((const struct sockaddr_in *)s)->sin_port);
        inet_ntop(s->ss_family, ip, a, sizeof(a));
        if (sl[i].rcode == DNS_RCODE_NOERROR)
            log_info("event=notify zone=%s serial=%u target=%s port=%u result=ok rcode=0",
                     sl[i].zone->origin_str, sl[i].zone->serial, a, port);
        else if (sl[i].rcode == DNS_RCODE_NOTAUTH && !sl[i].tsig_error)
            /* Not a failure: a secondary that has not taken the zone yet
             * (a catalog's new member, before its first transfer) says it
             * is not authoritative for it. */
            log_info("event=notify zone=%s serial=%u target=%s port=%u result=not_yet_served "
                     "rcode=9 why=\"the secondary does not serve the zone (yet): expected "
                     "until its first transfer of it, as for a catalog's new member\"",
                     sl[i].zone->origin_str, sl[i].zone->serial, a, port);
        else if (sl[i].rcode >= 0)
            log_warn("event=notify zone=%s serial=%u target=%s port=%u result=refused rcode=%d "
                     "tsig_error=%u",
                     sl[i].zone->origin_str, sl[i].zone->serial, a, port, sl[i].rcode,
                     sl[i].tsig_error);
        else
            log_warn("event=notify zone=%s serial=%u target=%s port=%u result=no_answer tries=%d",
                     sl[i].zone->origin_str, sl[i].zone->serial, a, port, NOTIFY_OUT_TRIES);
    }
}

size_t notify_out_run(struct notify_job *job)
{
    size_t n = 0, ok = 0;
    struct notify_slot *sl = notify_slots(job, &n);
    int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsigned wait = job->first_wait_ms ? job->first_wait_ms : 1000;
    for (int t = 0; sl && t < NOTIFY_OUT_TRIES; t++) {
        notify_send_all(sl, n, fd4, fd6);
        if (notify_wait(sl, n, fd4, fd6, wait))
            break;
        wait = wait * 2 > NOTIFY_MAX_WAIT_MS ? NOTIFY_MAX_WAIT_MS : wait * 2;
    }
    if (sl) {
        notify_log(sl, n);
        for (size_t i = 0; i < n; i++)
            ok += sl[i].rcode == 0;
    }
    if (fd4 >= 0)
        close(fd4);
    if (fd6 >= 0)
        close(fd6);
    free(sl);
    return ok;
}

static void *notify_thread(void *arg)
{
    struct notify_job *job = arg;
    notify_out_run(job);
    notify_job_free(job);
    return NULL;
}

void notify_out_send(struct notify_job *job)
{
    pthread_t t;
    pthread_attr_t at;
    if (!job || job->n == 0) {
        notify_job_free(job);
        return;
    }
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, notify_thread, job) != 0) {
        log_warn("event=notify result=not_sent why=\"no thread: %s\"", strerror(errno));
        notify_job_free(job);
    }
    pthread_attr_destroy(&at);
}
