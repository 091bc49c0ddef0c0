/*
 * probe.h -- one health probe of one endpoint: tcp, http, https, dns or grpc.
 *
 * Probers report only pass/fail plus the kind of failure, a short reason and
 * the latency (as in gdnsd's monitoring model); damping (rise/fall) and state belong to the
 * health core (health.h). Every probe runs on the prober thread's libevent
 * base, never blocks, and calls its completion callback exactly once, no
 * later than the spec's timeout (+ a few ms of scheduling), whatever the
 * target does: refuse, reset, black-hole, drip bytes slowly, send garbage or
 * TLS junk, send a huge body (we read at most PROBE_MAX_READ octets), or
 * redirect (a 3xx is judged by expect_status like any status).
 *
 * Ownership: struct probe_spec is built by probe_spec_parse() and owned by
 * the caller (probe_spec_free). struct prober owns the event-loop helpers
 * (TLS contexts, c-ares channels) it creates; probe_run() copies what it
 * needs, so the spec and address must only outlive the call when noted.
 */
#ifndef GTM_HEALTH_PROBE_H
#define GTM_HEALTH_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/cfgschema.h"
#include "common/errlist.h"
#include "health/health.h"
#include "health/probe_load.h"

#define PROBE_MAX_READ (64 * 1024)
/* The most echoes one icmp probe sends ("count"). */
#define PROBE_SPEC_ICMP_MAX_COUNT 20
/* exec_max_running: its default and bound. */
#define PROBE_EXEC_MAX_DEFAULT 16
#define PROBE_EXEC_MAX_LIMIT 1024

enum probe_type {
    PROBE_TCP = 0,
    PROBE_HTTP,
    PROBE_HTTPS,
    PROBE_DNS,
    PROBE_GRPC,
    PROBE_ICMP,
    PROBE_EXEC
};

struct probe_status_range {
    uint16_t lo, hi;
};

struct probe_spec {
    enum probe_type type;
    uint16_t port;        /* default port for endpoints of this check */
    uint32_t interval_ms; /* >= 100 */
    uint32_t timeout_ms;  /* < interval_ms */
    /* "fast_interval": the time from a result to the next probe's start
     * while a fall or a rise is in progress (an up endpoint failing, a
     * down one passing); <= interval_ms, default interval_ms (no change). */
    uint32_t fast_interval_ms;
    uint8_t rise, fall; /* >= 1 */
    /* "latency_half_life": a round-trip sample this old weighs half in the
     * endpoint's moving average (health/rtt.h). */
    uint32_t rtt_half_life_ms;
    /* http / https */
    char *method;   /* "GET" (default) or "HEAD" */
    char *path;     /* default "/" */
    char *host;     /* Host header and TLS SNI; NULL = endpoint address */
    char **headers; /* "Name: value" lines */
    size_t n_headers;
    struct probe_status_range *status; /* default 200-299 */
    size_t n_status;
    char *body_contains;    /* searched in the first PROBE_MAX_READ octets of the body */
    struct probe_load load; /* where the reply says the endpoint's load (probe_load.h) */
    char *ca_file;          /* https: verify against this CA; NULL = no verification */
    /* dns */
    char *dns_name;    /* query name (absolute) */
    uint16_t dns_type; /* default A */
    int dns_rcode;     /* expected rcode, default 0 (NOERROR) */
    char *dns_expect;  /* optional: an answer rdata in presentation form, e.g. "192.0.2.1" */
    /* grpc (probe_grpc.c): grpc.health.v1.Health/Check over h2c, or over
     * TLS (ALPN h2) when grpc_tls, verified like https (ca_file, host). */
    char *grpc_service; /* the HealthCheckRequest's service; NULL: "" (the server) */
    bool grpc_tls;
    /* https and grpc over TLS (probe_cert.c): fail when fewer than
     * cert_min_days remain on the leaf certificate; warn (health_cert.h)
     * when fewer than cert_warn_days do. Each only when its _set. */
    bool cert_min_set, cert_warn_set;
    uint16_t cert_min_days, cert_warn_days;
    /* icmp (probe_icmp.c): "count" echoes, "echo_interval" apart; down
     * when more than max_loss of them (a fraction) got no reply. */
    uint8_t icmp_count;
    uint32_t icmp_echo_interval_ms;
    double icmp_max_loss;
    /* exec (probe_exec.c): "command", argv with placeholders, NULL-ended
     * (owned); "user", resolved when the check is parsed. */
    char **exec_argv;
    char *exec_user; /* NULL: whoever gtmd runs as */
    uint32_t exec_uid, exec_gid;
    uint32_t *exec_groups; /* its supplementary groups (owned) */
    size_t n_exec_groups;
};

/* Room for a probe's reason, with its terminating NUL. */
#define PROBE_REASON_LEN 128

struct probe_result {
    bool ok;
    /* The probe could not be run here: no descriptor, socket or memory
     * left (EMFILE, ENFILE, ENOBUFS, ENOMEM, no local port). It says nothing
     * about the endpoint, so the caller must not count it (ok is false,
     * reason says why). */
    bool local;
    /* Why it failed, set by the probe type where the failure happens (the
     * reason text is for people; metrics count this). Unused when ok. */
    enum health_fail_kind kind;
    uint32_t latency_us;
    /* The round-trip time the type measures, from the probe's start (0:
     * none; only on a pass): tcp the connect, https the TLS handshake
     * (connect included), http the first octet of the reply, dns the
     * reply. The latency policy steers by its moving average. */
    uint32_t rtt_us;
    char reason[PROBE_REASON_LEN]; /* "ok", "connection refused", "timeout", "status 503", ... */
    double load; /* the load figure of the reply (a check with "load"); NAN: none */
    /* TLS probes: the leaf certificate's notAfter (Unix seconds) when the
     * handshake got that far, pass or fail; 0: none seen. */
    int64_t cert_not_after;
};

struct event_base;
struct prober;

/* The source addresses probes leave from ("probe_source"): a vantage
 * point's own address on a multi-homed host. Probes of a family without
 * one use the kernel's choice. */
struct probe_source {
    bool has_v4, has_v6;
    struct sockaddr_storage v4, v6; /* port 0 */
    socklen_t v4_len, v6_len;
};

typedef void (*probe_done_cb)(void *arg, const struct probe_result *r);

/*
 * Parses one entry of the config's "checks" object (obj at JSON path
 * 'path', in config file 'file'); errors go to errs as
 * "FILE: $.checks.NAME.key: message". Relative ca_file paths are resolved
 * against dir. Returns true when valid.
 */
/* The keys of a check: "type" alone (a composite's too), and all of them
 * (every probe type's) for `gtmd keys`. */
extern const struct cfgschema probe_type_schema, probe_check_schema;

bool probe_spec_parse(json_t *obj, const char *file, const char *dir, const char *path,
                      struct probe_spec *out, struct errlist *errs);
void probe_spec_free(struct probe_spec *s);

/* Creates the probe runner on the prober thread's base. NULL on failure. */
struct prober *prober_new(struct event_base *base);
void prober_free(struct prober *p);
/* Binds every later probe socket (tcp, http, https, dns) to src (copied;
 * NULL: none). Before the first probe, on the thread that owns p. */
void prober_set_source(struct prober *p, const struct probe_source *src);
/* How many exec checks' programs may run at once ("exec_max_running");
 * the others wait their turn (probe_exec.c). */
void prober_set_exec_max(struct prober *p, unsigned n);

/*
 * Starts one probe of spec against addr (port already set in addr). host
 * (may be NULL) is the endpoint's host name for Host/SNI when spec->host is
 * NULL. done(arg, result) is called exactly once, from the event loop
 * (never from inside probe_run). spec must stay valid until done is called.
 * Returns 0, or -1 if the probe could not even start (done is then still
 * called, from the loop, with ok=false).
 */
int probe_run(struct prober *p, const struct probe_spec *spec, const struct sockaddr_storage *addr,
              socklen_t addr_len, const char *host, probe_done_cb done, void *arg);

/* True when no socket can be opened right now for want of descriptors or
 * memory (checked by opening and closing one): a failure seen meanwhile is
 * probably ours, not the target's. */
bool probe_out_of_sockets(void);

/*
 * Resolves a host name with c-ares (A and AAAA) on the prober's base; done
 * is called once with the first address found (family AF_INET or AF_INET6,
 * port 0) or ok=false. Used for endpoints whose check target is a name.
 */
typedef void (*probe_resolve_cb)(void *arg, bool ok, const struct sockaddr_storage *addr,
                                 socklen_t len);
int probe_resolve(struct prober *p, const char *host, probe_resolve_cb done, void *arg);

/*
 * Makes probe_resolve ask these DNS servers only ("127.0.0.1:5353" or a
 * c-ares server list "IP:PORT,[IPv6]:PORT"), by DNS only (no /etc/hosts);
 * NULL goes back to the system resolver. Takes effect at the next
 * resolution that starts with no other one pending. For outcome checks
 * (src/drill), whose point is to test the path through DNS.
 */
void prober_set_resolver(struct prober *p, const char *servers);

#endif
