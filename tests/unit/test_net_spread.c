/*
 * test_net_spread.c -- the UDP steering of net/spread.h: the program
 * (run here by a small interpreter of the few classic BPF instructions it
 * may use, written apart from the builder), the checks that decide when
 * it is used, the CPU a pinned worker gets, and, where the kernel takes
 * the program, that datagrams sent from CPU c reach socket c % 2 of a
 * reuseport group of two.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/spread.h"
#include "tap.h"

/* Runs prog with the receiving CPU cpu; -1 on an instruction it does not
 * know (the builder must use none other). */
static long run_prog(const struct sock_filter *prog, size_t len, unsigned cpu)
{
    uint32_t a = 0;
    for (size_t pc = 0; pc < len; pc++) {
        const struct sock_filter *f = &prog[pc];
        if (f->code == (BPF_LD | BPF_W | BPF_ABS) && f->k == (uint32_t)(SKF_AD_OFF + SKF_AD_CPU))
            a = cpu;
        else if (f->code == (BPF_ALU | BPF_MOD | BPF_K) && f->k != 0)
            a %= f->k;
        else if (f->code == (BPF_RET | BPF_A))
            return a;
        else
            return -1;
    }
    return -1; /* fell off the end: the kernel refuses such a program */
}

static void check_prog(struct tap *t)
{
    struct sock_filter prog[SPREAD_PROG_LEN + 2];
    bool all = true;
    for (unsigned w = 1; w <= 8; w++) {
        size_t len = spread_prog(w, prog, sizeof(prog) / sizeof(prog[0]));
        all &= len == SPREAD_PROG_LEN;
        for (unsigned cpu = 0; cpu < 64; cpu++)
            all &= run_prog(prog, len, cpu) == (long)(cpu % w);
    }
    TAP_CHECK(t, all, "the program returns cpu %% workers for 1..8 workers and CPUs 0..63");
    TAP_CHECK(t, spread_prog(0, prog, SPREAD_PROG_LEN) == 0, "no program for 0 workers");
    TAP_CHECK(t, spread_prog(2, prog, SPREAD_PROG_LEN - 1) == 0, "no program past cap");
}

static void check_wanted(struct tap *t)
{
    char why[160] = "";
    TAP_CHECK(t, spread_wanted(2, 2, true, why, sizeof(why)), "2 workers on 2 CPUs: steered");
    TAP_CHECK(t, spread_wanted(4, 16, true, why, sizeof(why)), "4 workers on 16 CPUs: steered");
    TAP_CHECK(t, !spread_wanted(2, 2, false, why, sizeof(why)) && strstr(why, "hash"),
              "udp_steering hash: not steered, and why says so (%s)", why);
    TAP_CHECK(t, !spread_wanted(1, 8, true, why, sizeof(why)) && strstr(why, "one UDP worker"),
              "one worker: not steered (%s)", why);
    TAP_CHECK(t, !spread_wanted(4, 2, true, why, sizeof(why)) && strstr(why, "2 idle"),
              "4 workers on 2 CPUs: not steered, 2 would idle (%s)", why);
    TAP_CHECK(t, !spread_wanted(3, 4, true, why, sizeof(why)) && strstr(why, "evenly"),
              "3 workers on 4 CPUs: not steered, uneven (%s)", why);
    TAP_CHECK(t, spread_wanted(2, 8, true, why, sizeof(why)), "2 workers on 8 CPUs: steered");
}

static void check_cpu(struct tap *t)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    TAP_CHECK(t, spread_cpu(&s, 0, 2) == -1, "no CPU allowed: -1");
    CPU_SET(0, &s);
    CPU_SET(1, &s);
    TAP_CHECK(t, spread_cpu(&s, 0, 2) == 0 && spread_cpu(&s, 1, 2) == 1,
              "CPUs 0,1 and 2 workers: worker k on CPU k");
    CPU_ZERO(&s);
    CPU_SET(2, &s);
    CPU_SET(3, &s);
    CPU_SET(5, &s);
    TAP_CHECK(t, spread_cpu(&s, 0, 2) == 2 && spread_cpu(&s, 1, 2) == 3,
              "CPUs 2,3,5: worker 0 on 2, worker 1 on 3 (cpu %% 2 is k)");
    TAP_CHECK(t, spread_cpu(&s, 2, 4) == 2 && spread_cpu(&s, 1, 4) == 5,
              "CPUs 2,3,5 and 4 workers: 2 %% 4 == 2, 5 %% 4 == 1");
    TAP_CHECK(t, spread_cpu(&s, 0, 4) == 2, "no CPU %% 4 == 0: the first allowed (k mod 3 = 0)");
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    TAP_CHECK(t, spread_cpu(&s, 1, 2) == 0, "one CPU: every worker on it");
}

/* A UDP socket of the reuseport group at addr (port 0: takes one). */
static int bound_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    socklen_t len = sizeof(*addr);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Why the kernel check cannot be made here (NULL: it can). */
static const char *kernel_skip(const cpu_set_t *mine)
{
    if (!CPU_ISSET(0, mine) || !CPU_ISSET(1, mine))
        return "CPUs 0 and 1 are not both allowed";
    /* With RPS on lo, the softirq may run on another CPU than the sender. */
    FILE *f = fopen("/sys/class/net/lo/queues/rx-0/rps_cpus", "r");
    char buf[64] = "";
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    for (char *p = buf; *p; p++)
        if (*p != '0' && *p != ',' && *p != '\n')
            return "RPS is on for lo";
    return NULL;
}

/* Sends n datagrams to addr from CPU cpu and counts, within a deadline,
 * what each of fds[0..1] receives into got[]. */
static void send_from(int cpu, const struct sockaddr_in *addr, const int fds[2], int n, int got[2])
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    got[0] = got[1] = 0;
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
        return;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (int i = 0; i < n && s >= 0; i++)
        (void)sendto(s, "q", 1, 0, (const struct sockaddr *)addr, sizeof(*addr));
    if (s >= 0)
        close(s);
    /* Loopback delivers before sendto returns; the deadline (2 s, far
     * beyond that even under a sanitizer) only bounds a lost datagram. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(p, 2, 100) > 0)
            for (int k = 0; k < 2; k++) {
                char b[8];
                while (recv(fds[k], b, sizeof(b), 0) > 0)
                    got[k]++;
            }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (got[0] + got[1] < n && now.tv_sec - t0.tv_sec < 2);
}

static void check_kernel(struct tap *t)
{
    cpu_set_t mine;
    char why[160];
    if (sched_getaffinity(0, sizeof(mine), &mine) != 0 || kernel_skip(&mine)) {
        printf("# kernel check skipped: %s\n",
               sched_getaffinity(0, sizeof(mine), &mine) ? "no affinity" : kernel_skip(&mine));
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fds[2] = {bound_socket(&a), -1};
    fds[1] = fds[0] >= 0 ? bound_socket(&a) : -1;
    TAP_CHECK(t, fds[0] >= 0 && fds[1] >= 0, "two reuseport sockets on 127.0.0.1:%u",
              ntohs(a.sin_port));
    if (fds[1] >= 0 && spread_attach(fds[0], 2, why, sizeof(why)) != 0) {
        printf("# kernel check skipped: %s\n", why);
    } else if (fds[1] >= 0) {
        for (int cpu = 0; cpu < 2; cpu++) {
            int got[2];
            send_from(cpu, &a, fds, 50, got);
            TAP_CHECK(t, got[cpu] == 50 && got[1 - cpu] == 0,
                      "50 datagrams sent from CPU %d all reach socket %d (got %d and %d)", cpu, cpu,
                      got[0], got[1]);
        }
        sched_setaffinity(0, sizeof(mine), &mine);
    }
    for (int k = 0; k < 2; k++)
        if (fds[k] >= 0)
            close(fds[k]);
}

/* The fallback's reason: a descriptor that is no socket is refused, and
 * why says the kernel refused the program. */
static void check_refused(struct tap *t)
{
    int p[2];
    char why[160] = "";
    if (pipe(p) != 0) {
        TAP_CHECK(t, false, "pipe: %s", strerror(errno));
        return;
    }
    TAP_CHECK(t, spread_attach(p[0], 2, why, sizeof(why)) == -1 && strstr(why, "refused"),
              "a pipe is refused, with the reason (%s)", why);
    TAP_CHECK(t, spread_attach(p[0], 0, why, sizeof(why)) == -1 && strstr(why, "no program"),
              "0 workers: no program (%s)", why);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    struct tap t = {0};
    check_prog(&t);
    check_wanted(&t);
    check_cpu(&t);
    check_refused(&t);
    check_kernel(&t);
    return tap_done(&t);
}
