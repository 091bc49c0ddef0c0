/*
 * cert.h -- certificate expiry of endpoints probed over TLS (https, grpc
 * with "tls"): the leaf certificate's notAfter each probe saw last, and
 * whether the endpoint is inside its check's cert_warn_days.
 *
 * Kept beside the slots, not in them: a slot is sized for 10,000
 * endpoints (health.h) and most are not probed over TLS. One entry per
 * slot that has had a certificate, in a table of the core keyed by the
 * slot's address, freed with the slot (health_cert_forget_locked).
 *
 * Warnings: an endpoint whose certificate has fewer than cert_warn_days
 * left logs "event=cert_expiring" once when it crosses into that window
 * (its first probe included), and "event=cert_expiring_cleared" once when
 * it leaves it (a renewed certificate, a check without the warning); nothing in between, however
 * often it is probed. gtmd_probe_cert_expiry_seconds (admin_metrics.c) exports the notAfter.
 *
 * Locking: everything under the core's lock. Ownership: the core owns
 * the table (health_cert_free at health_core_free).
 */
#ifndef GTM_HEALTH_CERT_H
#define GTM_HEALTH_CERT_H

#include <stdbool.h>
#include <stdint.h>

#include "health/health.h"

/* Notes a probe's certificate (not_after: Unix seconds, not 0) for s;
 * warn_days < 0: the check has no cert_warn_days. Logs a crossing. Takes
 * the core's lock: the prober thread, holding no lock of the core. */
void health_cert_note(struct health_core *c, struct health_slot *s, int64_t not_after,
                      int warn_days);

/* The notAfter last noted for s, and whether s is inside its warning
 * window; false when none was noted. Caller holds c->lock. */
bool health_cert_get_locked(const struct health_core *c, const struct health_slot *s,
                            int64_t *not_after, bool *warned);

/* Drops s's entry (s is being freed). Caller holds c->lock. */
void health_cert_forget_locked(struct health_core *c, const struct health_slot *s);

/* Frees the table (health_core_free). */
void health_cert_free(struct health_core *c);

#endif
