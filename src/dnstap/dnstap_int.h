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

/* A Frame Streams writer to p's socket (bidirectional, as dnstap readers
 * expect) or file; *connected follows whether it is open (written by the
 * I/O thread, read by the workers). NULL when fstrm refuses. */
struct fstrm_writer *dnstap_sink_writer(const struct dnstap_params *p, _Atomic bool *connected);

#endif
