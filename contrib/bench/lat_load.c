/*
 * lat_load.c -- a paced UDP DNS load generator that keeps every query's
 * latency, for contrib/bench/reload_bench.py.
 *
 * dnsperf -S gives per-interval rates and an average latency, not
 * percentiles, so a reload's effect on the tail cannot be read from it.
 * This sends the queries of a dnsperf query file ("NAME TYPE" lines, EDNS
 * with a 1232-octet payload) at a fixed rate, round-robin over several
 * connected sockets (so SO_REUSEPORT spreads them over the workers), and
 * times each answer. Per window of send time (default 100 ms) it prints
 *
 *   W <start ms> <sent> <answered> <lost> <failed> <p50 us> <p99 us> <max us>
 *     <read p99 us> <read max us>
 *
 * where lost = no answer within the timeout, failed = an answer with
 * SERVFAIL, REFUSED, FORMERR or TC. The latency is from the send to the
 * answer's arrival at our socket (the kernel's receive timestamp,
 * SO_TIMESTAMPNS); the read figures are from the send to the moment this
 * program read the answer, which also holds however long the client itself
 * waited for a CPU (on a 2-core machine shared with the server under test,
 * up to 8 ms in perf sched timehist during a reload). Then one line
 *
 *   T <sent> <answered> <lost> <failed> <late> <t0 ns>
 *
 * (on SIGINT or SIGTERM it stops sending and ends the same way; late: sends that ran more than 1 ms
 * behind the schedule -- the client, not the server, was short of CPU; t0: the CLOCK_MONOTONIC time
 * of the first send, to align the windows with other events).
 *
 *   lat_load -p PORT -f QUERYFILE [-s 127.0.0.1] [-r 50000] [-d 10]
 *            [-w 100] [-t 1000] [-n 8]
 *
 * A benchmark tool: build with cc -O2 (reload_bench.py does).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 64
#define IDS 65536

struct query {
    unsigned char wire[300];
    size_t len;
};

struct window {
    uint32_t *lat;  /* microseconds from send to arrival, each answer */
    uint32_t *read; /* microseconds from send to our read, each answer */
    size_t n, cap;
    uint64_t sent, lost, failed;
};

struct slot {
    int64_t sent_ns; /* CLOCK_MONOTONIC; 0: free (answered or given up) */
    int64_t sent_rt; /* CLOCK_REALTIME, the clock of receive timestamps */
};

/* SIGINT or SIGTERM: stop sending, wait for the answers, print. */
static volatile sig_atomic_t lat_stop;

static void lat_on_signal(int sig)
{
    (void)sig;
    lat_stop = 1;
}

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static int qtype_code(const char *t)
{
    static const struct {
        const char *name;
        int code;
    } types[] = {{"A", 1},       {"NS", 2},    {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
                 {"MX", 15},     {"TXT", 16},  {"AAAA", 28}, {"SRV", 33}, {"DS", 43},
                 {"DNSKEY", 48}, {"CAA", 257}, {"ANY", 255}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcasecmp(t, types[i].name))
            return types[i].code;
    return -1;
}

/* Wire form of "name type" with EDNS; 0 if the line cannot be encoded. */
static size_t query_encode(const char *name, int type, unsigned char *w, size_t cap)
{
    size_t n = 12;
    memset(w, 0, 12);
    w[5] = 1;  /* QDCOUNT */
    w[11] = 1; /* ARCOUNT: OPT */
    const char *p = name;
    while (*p && !(p[0] == '.' && p[1] == 0)) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || n + l + 1 + 16 > cap)
            return 0;
        w[n++] = (unsigned char)l;
        memcpy(w + n, p, l);
        n += l;
        p += l + (dot ? 1 : 0);
    }
    w[n++] = 0;
    w[n++] = (unsigned char)(type >> 8);
    w[n++] = (unsigned char)type;
    w[n++] = 0;
    w[n++] = 1;
    /* OPT: root owner, type 41, payload 1232, no flags, no options. */
    static const unsigned char opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(w + n, opt, sizeof(opt));
    return n + sizeof(opt);
}

static struct query *read_queries(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t n = 0, cap = 1024;
    struct query *q = malloc(cap * sizeof(*q));
    char line[1024], name[512], type[32];
    while (q && fgets(line, sizeof(line), f)) {
        int t;
        if (sscanf(line, "%511s %31s", name, type) != 2 || (t = qtype_code(type)) < 0)
            continue;
        if (n == cap)
            q = realloc(q, (cap *= 2) * sizeof(*q));
        if (q && (q[n].len = query_encode(name, t, q[n].wire, sizeof(q[n].wire))))
            n++;
    }
    fclose(f);
    if (!q || n == 0) {
        fprintf(stderr, "%s: no queries\n", path);
        exit(2);
    }
    *count = n;
    return q;
}

static void window_add(struct window *w, uint32_t us, uint32_t read_us)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
        w->read = realloc(w->read, w->cap * sizeof(*w->read));
        if (!w->lat || !w->read)
            abort();
    }
    w->lat[w->n] = us;
    w->read[w->n++] = read_us;
}

/* The kernel's receive time of message m (CLOCK_REALTIME), else -1. */
static int64_t msg_rx_ns(struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    return -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct run {
    int socks[MAX_SOCKS];
    unsigned nsocks;
    struct slot *slots; /* nsocks * IDS, indexed by seq % (nsocks * IDS) */
    struct window *win;
    size_t nwin;
    int64_t t0, window_ns, timeout_ns;
    uint64_t answered, lost, failed;
};

/* The window of a send time; the last one catches anything beyond. */
static struct window *run_window(struct run *r, int64_t sent_ns)
{
    size_t i = (size_t)((sent_ns - r->t0) / r->window_ns);
    return &r->win[i < r->nwin ? i : r->nwin - 1];
}

static void run_receive(struct run *r, unsigned s)
{
    enum { BATCH = 32 };
    unsigned char bufs[BATCH][512];
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
                                                   .msg_iovlen = 1,
                                                   .msg_control = ctl[i].buf,
                                                   .msg_controllen = sizeof(ctl[i].buf)}};
        }
        int got = recvmmsg(r->socks[s], msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            return;
        int64_t t = clock_ns(CLOCK_REALTIME);
        for (int i = 0; i < got; i++) {
            const unsigned char *b = bufs[i];
            if (msgs[i].msg_len < 12 || !(b[2] & 0x80))
                continue;
            unsigned id = (unsigned)b[0] << 8 | b[1];
            struct slot *sl = &r->slots[(size_t)id * r->nsocks + s];
            if (!sl->sent_ns)
                continue; /* late answer of a query given up, or a stray */
            struct window *w = run_window(r, sl->sent_ns);
            int rcode = b[3] & 15;
            if ((b[2] & 0x02) || (rcode != 0 && rcode != 3)) {
                w->failed++;
                r->failed++;
            }
            int64_t rx = msg_rx_ns(&msgs[i].msg_hdr);
            if (rx < sl->sent_rt || rx > t)
                rx = t; /* no timestamp, or the clock was set meanwhile */
            window_add(w, (uint32_t)((rx - sl->sent_rt) / 1000),
                       (uint32_t)((t - sl->sent_rt) / 1000));
            r->answered++;
            sl->sent_ns = 0;
        }
        if (got < BATCH)
            return;
    }
}

static int open_socks(struct run *r, const char *server, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, server, &sa.sin_addr) != 1) {
        fprintf(stderr, "bad server address %s\n", server);
        return -1;
    }
    for (unsigned i = 0; i < r->nsocks; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        int big = 4 << 20, on = 1;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            perror("socket");
            return -1;
        }
        r->socks[i] = fd;
    }
    return 0;
}

static void print_windows(struct run *r)
{
    for (size_t i = 0; i < r->nwin; i++) {
        struct window *w = &r->win[i];
        if (!w->sent)
            continue;
        uint32_t p50 = 0, p99 = 0, max = 0, rp99 = 0, rmax = 0;
        if (w->n) {
            size_t k99 = (w->n * 99 + 99) / 100 - 1;
            qsort(w->lat, w->n, sizeof(*w->lat), cmp_u32);
            qsort(w->read, w->n, sizeof(*w->read), cmp_u32);
            p50 = w->lat[(w->n - 1) / 2];
            p99 = w->lat[k99];
            max = w->lat[w->n - 1];
            rp99 = w->read[k99];
            rmax = w->read[w->n - 1];
        }
        printf("W %lld %llu %zu %llu %llu %u %u %u %u %u\n",
               (long long)(i * (uint64_t)r->window_ns / 1000000), (unsigned long long)w->sent, w->n,
               (unsigned long long)w->lost, (unsigned long long)w->failed, p50, p99, max, rp99,
               rmax);
    }
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1", *qfile = NULL;
    int port = 0, opt;
    double rate = 50000, seconds = 10, window_ms = 100, timeout_ms = 1000;
    struct run r = {.nsocks = 8};
    while ((opt = getopt(argc, argv, "s:p:f:r:d:w:t:n:")) != -1) {
        switch (opt) {
        case 's':
            server = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'f':
            qfile = optarg;
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'w':
            window_ms = atof(optarg);
            break;
        case 't':
            timeout_ms = atof(optarg);
            break;
        case 'n':
            r.nsocks = (unsigned)atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: lat_load -p PORT -f QUERYFILE [-s ADDR] [-r QPS] [-d SECONDS] "
                            "[-w WINDOW_MS] [-t TIMEOUT_MS] [-n SOCKETS]\n");
            return 2;
        }
    }
    if (!qfile || port <= 0 || rate <= 0 || seconds <= 0 || window_ms <= 0 || r.nsocks < 1 ||
        r.nsocks > MAX_SOCKS) {
        fprintf(stderr, "lat_load: -p PORT and -f QUERYFILE are required (see the source)\n");
        return 2;
    }
    size_t nq;
    struct query *q = read_queries(qfile, &nq);
    r.window_ns = (int64_t)(window_ms * 1e6);
    r.timeout_ns = (int64_t)(timeout_ms * 1e6);
    r.nwin = (size_t)(seconds * 1000 / window_ms) + 1;
    r.win = calloc(r.nwin, sizeof(*r.win));
    r.slots = calloc((size_t)r.nsocks * IDS, sizeof(*r.slots));
    if (!r.win || !r.slots || open_socks(&r, server, port) != 0)
        return 1;
    struct pollfd pf[MAX_SOCKS];
    for (unsigned i = 0; i < r.nsocks; i++)
        pf[i] = (struct pollfd){.fd = r.socks[i], .events = POLLIN};
    uint64_t total = (uint64_t)(rate * seconds), sent = 0, oldest = 0, late = 0;
    size_t ring = (size_t)r.nsocks * IDS;
    if ((double)ring < rate * timeout_ms / 1000 * 2) {
        fprintf(stderr, "lat_load: too few sockets for this rate and timeout (-n)\n");
        return 2;
    }
    signal(SIGINT, lat_on_signal);
    signal(SIGTERM, lat_on_signal);
    r.t0 = now_ns();
    for (;;) {
        int64_t t = now_ns();
        if (lat_stop && total > sent)
            total = sent;
        uint64_t due = (uint64_t)((double)(t - r.t0) * rate / 1e9) + 1;
        if (due > total)
            due = total;
        if (due > sent + (uint64_t)(rate / 1000))
            late++;
        for (; sent < due; sent++) {
            size_t k = sent % ring;
            unsigned s = (unsigned)(k % r.nsocks), id = (unsigned)(k / r.nsocks);
            unsigned char *w = q[sent % nq].wire;
            w[0] = (unsigned char)(id >> 8);
            w[1] = (unsigned char)id;
            /* The latency counts from the real send: the client's own
             * lag (batches of up to 100 us, "late") is not the server's. */
            r.slots[k].sent_ns = t;
            r.slots[k].sent_rt = clock_ns(CLOCK_REALTIME);
            run_window(&r, t)->sent++;
            /* A failed send (full socket buffer) times out like a drop. */
            (void)send(r.socks[s], w, q[sent % nq].len, 0);
        }
        /* Give up on queries older than the timeout, oldest first. */
        for (t = now_ns(); oldest < sent; oldest++) {
            struct slot *sl = &r.slots[oldest % ring];
            if (sl->sent_ns && t - sl->sent_ns < r.timeout_ns)
                break;
            if (sl->sent_ns) {
                run_window(&r, sl->sent_ns)->lost++;
                r.lost++;
                sl->sent_ns = 0;
            }
        }
        if (sent == total && oldest == sent)
            break;
        /* Sleep until the next send is due or an answer arrives. */
        int64_t next = r.t0 + (int64_t)((double)sent * 1e9 / rate);
        int64_t wait = sent < total ? next - now_ns() : 1000000;
        /* At least 100 us: a wake-up per query would cost the client (and
         * the shared cores) more than the server's work. */
        struct timespec ts = {0, wait > 100000 ? wait : 100000};
        if (ppoll(pf, r.nsocks, &ts, NULL) > 0)
            for (unsigned i = 0; i < r.nsocks; i++)
                if (pf[i].revents & POLLIN)
                    run_receive(&r, i);
    }
    print_windows(&r);
    printf("T %llu %llu %llu %llu %llu %lld\n", (unsigned long long)sent,
           (unsigned long long)r.answered, (unsigned long long)r.lost, (unsigned long long)r.failed,
           (unsigned long long)late, (long long)r.t0);
    return 0;
}
