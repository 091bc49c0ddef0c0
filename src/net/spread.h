/*
 * spread.h -- which UDP worker answers a datagram, and on which CPU it runs.
 *
 * Every UDP worker has its own SO_REUSEPORT socket per listen address
 * (net.h). Left to itself the kernel picks the socket by a hash of the
 * datagram's addresses and ports: a few busy clients (a resolver farm, a
 * load balancer) can put most queries on one worker while another idles,
 * and a worker reads queries whose socket buffer was filled by the softirq
 * of another CPU, so the buffer's cache lines move between CPUs on every
 * datagram. Here a classic BPF program on each address's reuseport group
 * (SO_ATTACH_REUSEPORT_CBPF) returns the receiving CPU modulo the workers:
 * a worker gets the queries its CPU's softirq received (Knot DNS's
 * socket-affinity does the same). Pinning (config pin_workers) keeps each
 * worker's thread on that CPU.
 *
 * Steering is left to the kernel's hash, with the reason logged, when
 * there is one worker per address (nothing to steer), when there are more
 * workers per address than CPUs (some would receive nothing) or the CPUs
 * do not divide evenly among them (3 workers on 4 CPUs: one would get
 * two CPUs' queries), when the
 * configuration asks for the hash (udp_steering "hash": fewer NIC queues
 * than workers, without RPS, would put everything on a few workers), and
 * when the kernel refuses the program (older than 4.5, or no
 * SO_REUSEPORT BPF).
 *
 * Ownership: nothing here allocates. spread_attach sets a program on a
 * socket the caller owns; the kernel keeps its own copy for the whole
 * reuseport group until the group's last socket closes.
 */
#ifndef GTM_NET_SPREAD_H
#define GTM_NET_SPREAD_H

#include <linux/filter.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

/* Instructions in the steering program. */
#define SPREAD_PROG_LEN 3

/* Writes the program that returns (receiving CPU) % workers into prog
 * (cap instructions); returns its length, or 0 when cap is too small or
 * workers is 0. The index it returns is a socket's place in its group:
 * the order the sockets were bound in. */
size_t spread_prog(unsigned workers, struct sock_filter *prog, size_t cap);

/* Whether the program should steer workers sockets per address on a host
 * with ncpus online CPUs (by_cpu: udp_steering is "cpu"); when not, why
 * in why (for the log). */
bool spread_wanted(unsigned workers, unsigned ncpus, bool by_cpu, char *why, size_t whylen);

/* Sets the program for workers sockets on fd's reuseport group (any one
 * socket of the group, once all are bound). Returns 0, or -1 with the
 * kernel's reason in why. */
int spread_attach(int fd, unsigned workers, char *why, size_t whylen);

/* The CPU that worker k of workers runs on when pinned: the first CPU of
 * allowed whose number modulo workers is k (the CPU whose queries the
 * program steers to it), or, with no such CPU, allowed's (k mod count)th
 * CPU. -1 when allowed is empty. */
int spread_cpu(const cpu_set_t *allowed, unsigned k, unsigned workers);

/* Pins thread t to cpu. Returns 0 or an errno value. */
int spread_pin(pthread_t t, int cpu);

#endif
