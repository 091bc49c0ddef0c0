/*
 * spread.c -- steering of UDP queries to the worker of the receiving CPU.
 */
#include "net/spread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51 /* Linux 4.5; older headers lack it */
#endif

size_t spread_prog(unsigned workers, struct sock_filter *prog, size_t cap)
{
    if (workers == 0 || cap < SPREAD_PROG_LEN)
        return 0;
    /* A = the CPU the datagram was received on; A %= workers; return A. */
    prog[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_CPU);
    prog[1] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, workers);
    prog[2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
    return SPREAD_PROG_LEN;
}

bool spread_wanted(unsigned workers, unsigned ncpus, bool by_cpu, char *why, size_t whylen)
{
    if (!by_cpu)
        snprintf(why, whylen, "udp_steering is \"hash\"");
    else if (workers < 2)
        snprintf(why, whylen, "one UDP worker per address: nothing to steer");
    else if (workers > ncpus)
        snprintf(why, whylen,
                 "%u UDP workers per address on %u CPUs: steering by CPU would leave %u idle",
                 workers, ncpus, workers - ncpus);
    else if (ncpus % workers != 0)
        snprintf(why, whylen,
                 "%u CPUs do not divide evenly among %u UDP workers per address: steering by "
                 "CPU would give some workers more CPUs' queries than others",
                 ncpus, workers);
    else
        return true;
    return false;
}

int spread_attach(int fd, unsigned workers, char *why, size_t whylen)
{
    struct sock_filter code[SPREAD_PROG_LEN];
    struct sock_fprog prog = {.len = (unsigned short)spread_prog(workers, code, SPREAD_PROG_LEN),
                              .filter = code};
    if (prog.len == 0) {
        snprintf(why, whylen, "no program for %u workers", workers);
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0) {
        snprintf(why, whylen, "the kernel refused SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int spread_cpu(const cpu_set_t *allowed, unsigned k, unsigned workers)
{
    int count = CPU_COUNT(allowed);
    if (count == 0 || workers == 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, allowed) && (unsigned)c % workers == k)
            return c;
    int nth = (int)(k % (unsigned)count);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, allowed) && nth-- == 0)
            return c;
    return -1;
}

int spread_pin(pthread_t t, int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(t, sizeof(one), &one);
}
