/*
 * dnstap_int.h -- what the files of src/dnstap share (not for use
 * outside the module): the sink fstrm's I/O thread writes through.
 *
 * Ownership: the fstrm_writer returned owns the sink; fstrm_iothr_init
 * takes it.
 */
#ifndef GTM_DNSTAP_DNSTAP_INT_H
#define GTM_DNSTAP_DNSTAP_INT_H

#include <fstrm.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "dnstap/dnstap_params.h"

#define DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

/* A frame passes from a worker to fstrm's I/O thread through fstrm's
 * queue, whose ordering ThreadSanitizer cannot see (the library is not
 * instrumented): the worker announces the hand-over after writing a
 * frame and before submitting it, the I/O thread before it reads one
 * (dnstap_sink_write, dnstap_ring_release). One address for every frame
 * (dnstap_tsan_handover, never written). Nothing in other builds. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern const char dnstap_tsan_handover;
#define DNSTAP_TSAN_RELEASE() __tsan_release((void *)&dnstap_tsan_handover)
#define DNSTAP_TSAN_ACQUIRE() __tsan_acquire((void *)&dnstap_tsan_handover)
#else
#define DNSTAP_TSAN_RELEASE() ((void)0)
#define DNSTAP_TSAN_ACQUIRE() ((void)0)
#endif

/* A Frame Streams writer to p's socket (bidirectional, as dnstap readers
 * expect) or file; *connected follows whether it is open (written by the
 * I/O thread, read by the workers). NULL when fstrm refuses. */
struct fstrm_writer *dnstap_sink_writer(const struct dnstap_params *p, _Atomic bool *connected);

#endif
