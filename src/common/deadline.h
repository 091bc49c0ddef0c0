/*
 * deadline.h -- the absolute time a timed wait gives up at.
 *
 * pthread_cond_timedwait() takes an absolute CLOCK_REALTIME time; threads
 * that wait for another thread "at most N seconds" (start-up's first probe
 * round, the fleet's first sync, a fleet write) compute it here.
 *
 * Ownership: nothing allocated.
 */
#ifndef GTM_COMMON_DEADLINE_H
#define GTM_COMMON_DEADLINE_H

#include <time.h>

/* CLOCK_REALTIME now plus seconds (fractions kept), for pthread_cond_timedwait. */
struct timespec deadline_after(double seconds);
/* CLOCK_MONOTONIC now, in seconds: what a deadline handed between threads
 * is expressed in (the shared store's writes). */
double deadline_mono(void);
/* The calling thread's CPU time so far, in ms: what a step's cost is
 * measured by where waiting (a disk's sync, another thread) is nobody's
 * CPU (the store's writer, a retired set freed by its caller). */
double deadline_thread_cpu_ms(void);

#endif
