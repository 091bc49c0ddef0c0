/*
 * accept_sink.c -- TCP listeners that accept every connection and close it
 * at once: the cheapest possible "up" target for gtmd's tcp probes in
 * probe_scale.py.
 *
 *   cc -O2 -o accept_sink accept_sink.c
 *   accept_sink [-b BACKLOG] [-s SECONDS] PORT ADDR [ADDR...]
 *
 * Listens on every ADDR:PORT (IPv4; loopback addresses only are meant),
 * one thread, epoll, non-blocking accept4() in a loop until EAGAIN. Prints
 * "ready" once listening, then one line a second:
 *   "sec=N accepts=A errors=E"
 * and on SIGTERM/SIGINT (or after -s SECONDS, default 600, so it always
 * stops by itself) a line "phase_ms_10 C0 C1 ... C99": the accepts counted
 * by their position in the second (CLOCK_MONOTONIC modulo 1 s, 10 ms bins;
 * a prober with a 1 s interval whose targets are evenly spread gives a flat
 * histogram; SIGUSR1 clears it, to leave start-up out, and SIGUSR2 prints
 * it at once), then
 * "total accepts=A errors=E seconds=S", and exits. The backlog asked for
 * (default 65535) is clamped by the kernel to net.core.somaxconn.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 64

static volatile sig_atomic_t stop, reset_phase, dump_phase;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        reset_phase = 1;
    else if (sig == SIGUSR2)
        dump_phase = 1;
    else
        stop = 1;
}

static void print_phase(const unsigned long long *phase)
{
    printf("phase_ms_10");
    for (int i = 0; i < 100; i++)
        printf(" %llu", phase[i]);
    printf("\n");
    fflush(stdout);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int backlog = 65535, opt;
    double limit = 600;
    while ((opt = getopt(argc, argv, "b:s:")) != -1) {
        if (opt == 'b')
            backlog = atoi(optarg);
        else if (opt == 's')
            limit = atof(optarg);
        else {
            fprintf(stderr, "usage: accept_sink [-b BACKLOG] [-s SECONDS] PORT ADDR...\n");
            return 2;
        }
    }
    if (argc - optind < 2 || argc - optind - 1 > MAX_LISTEN) {
        fprintf(stderr, "usage: accept_sink [-b BACKLOG] [-s SECONDS] PORT ADDR...\n");
        return 2;
    }
    int port = atoi(argv[optind]);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    for (int i = optind + 1; i < argc; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, argv[i], &sa.sin_addr) != 1) {
            fprintf(stderr, "accept_sink: bad address %s\n", argv[i]);
            return 2;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0) {
            fprintf(stderr, "accept_sink: %s:%d: %s\n", argv[i], port, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("epoll_ctl");
            return 1;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("ready\n");
    fflush(stdout);

    static unsigned long long phase[100];
    unsigned long long total = 0, errors = 0, sec_acc = 0, sec_err = 0;
    double t0 = mono(), next = t0 + 1.0;
    int sec = 0, cur_bin = 0;
    struct epoll_event evs[MAX_LISTEN];
    while (!stop) {
        double now = mono();
        if (now >= next) {
            printf("sec=%d accepts=%llu errors=%llu\n", ++sec, sec_acc, sec_err);
            fflush(stdout);
            sec_acc = sec_err = 0;
            next += 1.0;
            if (now - t0 >= limit)
                break;
        }
        int ms = (int)((next - now) * 1000) + 1;
        int n = epoll_wait(ep, evs, MAX_LISTEN, ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        if (reset_phase) {
            memset(phase, 0, sizeof(phase));
            reset_phase = 0;
        }
        if (dump_phase) {
            print_phase(phase);
            dump_phase = 0;
        }
        if (n > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            cur_bin = (int)(ts.tv_nsec / 10000000);
        }
        for (int k = 0; k < n; k++) {
            for (int burst = 0; burst < 1024; burst++) {
                int c = accept4(evs[k].data.fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        errors++;
                        sec_err++;
                    }
                    break;
                }
                close(c);
                phase[cur_bin]++;
                total++;
                sec_acc++;
            }
        }
    }
    print_phase(phase);
    printf("total accepts=%llu errors=%llu seconds=%.1f\n", total, errors, mono() - t0);
    fflush(stdout);
    return 0;
}
