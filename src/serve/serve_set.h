/*
 * serve_set.h -- what is served at one moment: the zones, the policy set,
 * the generation and the limits that a reload may change.
 *
 * A set is built beside the live one (the daemon's load.c), published with
 * serve_publish (serve.h) and immutable from then on: every query is
 * answered from one set, limits included.
 *
 * Ownership: a set owns its zone snapshot, one reference to its policy
 * set (gslb_unref when the set is freed; the prober's plans hold their own
 * references) and its geo data (the database and the records' compiled
 * tries, policy_geo.h: one reference; the loader sets it after
 * serve_set_new), its policy signature store (sigs, owned) and its
 * dnstap view (owned). serve_set_free releases everything;
 * a published set is freed by whoever serve_publish handed it back to.
 */
#ifndef GTM_SERVE_SERVE_SET_H
#define GTM_SERVE_SERVE_SET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"
#include "dnstap/dnstap_view.h"
#include "guard/cookie.h"
#include "guard/rrl.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"
#include "policy/policy_sign.h"
#include "serve/serve_bind.h"
#include "xfr/xfr_in.h"
#include "zone/snapshot.h"

struct serve_registry_row;

/* Limits that follow reloads (gtmd.conf(5): edns_udp_max, tcp). */
struct serve_limits {
    uint16_t edns_udp_max;        /* largest UDP reply with EDNS */
    unsigned tcp_max_connections; /* across all TCP workers */
    unsigned tcp_idle_ms;
    unsigned tcp_message_ms;
};

/* What gtmd tells about itself (gtmd.conf(5): identity, version): the CH
 * TXT answers of id.server and hostname.bind and the NSID option
 * (identity), version.bind and version.server (version). NULL = hidden:
 * those queries are REFUSED and no NSID is sent. At most 255 octets each. */
struct serve_identity {
    char *identity; /* owned */
    char *version;  /* owned */
};

struct serve_set {
    struct snapshot *zones; /* owned; never NULL */
    struct gslb *gslb;      /* one reference owned; NULL = no policy records */
    struct policy_geo *geo; /* one reference; NULL = no database, no geo records */
    /* The policy records of each name, by zone node (owned; the loader
     * fills it): the zones may be shared with other sets, the bindings
     * are this set's. */
    struct serve_bind bind;
    /* Signatures of the policy answers of zones signed at load (owned;
     * NULL = none to sign). Filled by the loader before publishing and by
     * the health thread after every state change (policy_sign.h). */
    struct policy_sigs *sigs;
    uint64_t generation; /* 1 at start, +1 per successful reload */
    struct serve_limits limits;
    struct serve_identity identity; /* filled by the loader after serve_set_new */
    struct cookie_params cookies;   /* DNS Cookies: on or off, the secrets */
    /* Response rate limiting: the parameters (owned; NULL = off) and the
     * bucket table (one reference owned; shared with the sets before and
     * after that have the same table_size, so a reload keeps the counts). */
    struct rrl_params *rrl;
    struct rrl_table *rrl_table;
    /* What the workers log to dnstap (owned; NULL: nothing), per listen
     * address: a reload changes it with the rest of the set. */
    struct dnstap_view *dnstap;
    /* TSIG keys (owned unless tsig_moved; the zones' xfr_key and update
     * rules point into it). */
    struct tsig_keyring tsig;
    /* The keyring went on to the next set (serve_set_take_tsig): a set
     * that shares zones with this one, or was re-signed from it. */
    bool tsig_moved;
    /* The MACs of signed transfer requests seen within their window (one
     * reference owned; shared with the sets before and after, so a reload
     * keeps them; NULL: not checked). tsig_replay.h. */
    struct tsig_replay *tsig_replay;
    /* Who takes a NOTIFY (RFC 1996) for a zone we are a secondary of: the
     * secondary thread (borrowed; xfr_in_notify gives the rcode to
     * answer). NULL: every NOTIFY is refused. */
    struct xfr_in *xfr_in;
    /* Counter ids of policy answers (serve_counters.h): the registry row
     * of each record, [record] (NULL: not counted), whose ids the DNS
     * workers read (serve_policy_id_of), and the registry column key of
     * each of the set's columns, [region], the last (policy_stride - 1)
     * counting answers with no serving region (+ 1: the same column's
     * answers to canary clients of scoped drills). Assigned by
     * serve_publish (NULL before, and for sets never published: nothing
     * is counted then). The rows are borrowed from the serve core's
     * registry, which outlives every set. Before issue #38's last round
     * each set held the ids themselves, two arrays of a record's columns
     * (4.8 MB at 100,000 records over five regions) beside the registry's
     * copy of them. */
    const struct serve_registry_row **policy_rows;
    uint32_t *policy_cols; /* owned */
    size_t policy_stride;
    /* policy_rows comes from the policy set's spare tables and goes back
     * there (bigalloc_table_take/give): mapped afresh, such an array was
     * faulted in page by page on every change (issue #38). Its length to
     * give back with; spare borrowed from the server (it outlives every
     * set). */
    size_t policy_rows_len;
    struct bigalloc_spare *policy_spare;
    /* How many sets hold policy_rows (issue #55: a change that moved no
     * record and whose compiled records keep their rows shares the running
     * set's array, serve_counters_assign); allocated with the array, freed
     * by its last holder. NULL with no array. */
    atomic_uint *policy_rows_refs;
};

/* Takes ownership of zones and of the caller's reference to gslb. The
 * loader fills the rest (identity, cookies, rrl) afterwards;
 * serve_set_free frees it. */
struct serve_set *serve_set_new(struct snapshot *zones, struct gslb *gslb, uint64_t generation,
                                const struct serve_limits *limits);
void serve_set_free(struct serve_set *s);

/* dst takes over src's keyring (the same keys at the same addresses: the
 * zones of both point at them); src, still published, keeps reading it
 * until it is freed, and then does not free it. */
void serve_set_take_tsig(struct serve_set *dst, struct serve_set *src);

#endif
