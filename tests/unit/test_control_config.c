/* Unit tests for src/control/config.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "control/config.h"
#include "daemon/load.h"
#include "health/scheduler.h"
#include "policy/policy.h"
#include "policy/policy_config.h"
#include "policy_conf_check.h"
#include "tap.h"

static void check_conf(struct tap *t, const char *json, const char *want, const char *what)
{
    char path[] = "/tmp/gtmd-conf-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t)strlen(json)) {
        TAP_CHECK(t, false, "temp file for %s", what);
        return;
    }
    close(fd);
    struct errlist e;
    errlist_init(&e);
    struct config *c = config_load(path, &e);
    bool found = want == NULL ? (c != NULL && e.count == 0) : false;
    for (size_t i = 0; i < e.count; i++) {
        printf("# %s\n", e.msgs[i]);
        if (want && strstr(e.msgs[i], want) && strstr(e.msgs[i], path))
            found = true;
    }
    TAP_CHECK(t, found, "%s", what);
    config_free(c);
    errlist_free(&e);
    unlink(path);
}

#define Z "\"zones\": [{\"origin\": \"example.com.\", \"file\": \"x.zone\"}]"

/* The admin limits' defaults follow max_connections (admin_config.c):
 * a reserve of an eighth (at most 8), streams on half the shared places. */
static void check_admin_limits(struct tap *t, const char *extra, unsigned reserve, unsigned streams)
{
    char path[] = "/tmp/gtmd-conf-XXXXXX", json[512];
    snprintf(json, sizeof(json),
             "{\"listen\": [\"127.0.0.1:53\"], " Z
             ", \"admin\": {\"listen\": \"unix:/tmp/gtmd-unit.sock\"%s}}",
             extra);
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t)strlen(json)) {
        TAP_CHECK(t, false, "temp file for the admin limits");
        return;
    }
    close(fd);
    struct errlist e;
    errlist_init(&e);
    struct config *c = config_load(path, &e);
    TAP_CHECK(t, c && c->admin.operate_reserve == reserve && c->admin.max_streams == streams,
              "admin limits with {%s}: reserve %u, streams %u (got %u, %u)", extra, reserve,
              streams, c ? c->admin.operate_reserve : 0, c ? c->admin.max_streams : 0);
    config_free(c);
    errlist_free(&e);
    unlink(path);
}
/* A configuration's equal records are one value once loaded (jsonshare.h);
 * an error in an equal value is still reported at each name's path. */
#define SHARED_POOLS                                                                               \
    "\"regions\": {\"us\": {}, \"eu\": {}}, \"pools\": {\"web\": {\"endpoints\": ["                \
    "{\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}, "                          \
    "{\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"eu\"}]}}"
static void check_shared(struct tap *t)
{
    char path[] = "/tmp/gtmd-conf-XXXXXX";
    const char *json = "{\"listen\": [\"127.0.0.1:53\"], " Z ", " SHARED_POOLS ", \"records\": {"
                       "\"a.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", "
                       "\"regions\": [\"us\", \"eu\"]},"
                       "\"b.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", "
                       "\"regions\": [\"us\", \"eu\"]},"
                       "\"c.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", "
                       "\"regions\": [\"eu\", \"us\"]}}}";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t)strlen(json)) {
        TAP_CHECK(t, false, "temp file for shared records");
        return;
    }
    close(fd);
    struct errlist e;
    errlist_init(&e);
    struct config *c = config_load(path, &e);
    json_t *recs = c ? json_object_get(c->root, "records") : NULL;
    TAP_CHECK(
        t,
        c && json_object_get(recs, "a.example.com.") == json_object_get(recs, "b.example.com.") &&
            json_object_get(recs, "a.example.com.") != json_object_get(recs, "c.example.com.") &&
            c->gslb && c->gslb->n_records == 3,
        "equal records are one value, each name compiled");
    config_free(c);
    errlist_free(&e);
    unlink(path);
    check_conf(t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z ", " SHARED_POOLS ", \"records\": {"
               "\"a.example.com.\": {\"pool\": \"nope\", \"policy\": \"failover\"},"
               "\"b.example.com.\": {\"pool\": \"nope\", \"policy\": \"failover\"}}}",
               "$.records[\"b.example.com.\"].pool: pool \"nope\" is not defined",
               "an error in a shared record is reported at the second name's path");
}

/* The prober's targets (load_probe_targets): one per checked endpoint
 * and child check of a composite, host names (without a final dot) in
 * the array's own block, addresses with the check's or the endpoint's
 * port; a pool without a check gives none. */
static void check_probe_targets(struct tap *t)
{
    const char *text =
        "{\"regions\": {\"us\": {}}, \"checks\": {\"h\": {\"type\": \"tcp\", \"port\": 81}, "
        "\"k\": {\"type\": \"tcp\", \"port\": 82}, "
        "\"c\": {\"type\": \"composite\", \"of\": [\"h\", \"k\"]}}, \"pools\": {"
        "\"p\": {\"check\": \"h\", \"endpoints\": ["
        "{\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\", "
        "\"check_target\": {\"host\": \"probe.example.\", \"port\": 8080}}, "
        "{\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"us\"}]}, "
        "\"q\": {\"check\": \"c\", \"endpoints\": [{\"name\": \"c\", \"address\": "
        "\"2001:db8::3\", \"region\": \"us\", \"check_target\": {\"host\": \"x\"}}]}, "
        "\"u\": {\"endpoints\": [{\"name\": \"d\", \"address\": \"192.0.2.4\", "
        "\"region\": \"us\"}]}}}";
    struct gslb *g = policy_conf_parse(text);
    TAP_CHECK(t, g != NULL, "the probe targets' configuration parses");
    size_t n = 0;
    uint32_t max_ms = 0;
    struct sched_target *x = g ? load_probe_targets(g, &n, &max_ms) : NULL;
    TAP_CHECK(t, x && n == 4, "four targets: a, b, and c twice (got %zu)", n);
    if (x && n == 4) {
        const struct sockaddr_in *b = (const struct sockaddr_in *)&x[1].addr;
        TAP_CHECK(t, x[0].host && strcmp(x[0].host, "probe.example") == 0 && x[0].port == 8080,
                  "a: its host without the final dot, its port (%s, %u)",
                  x[0].host ? x[0].host : "(none)", x[0].port);
        TAP_CHECK(t,
                  !x[1].host && x[1].addr_len == sizeof(*b) && b->sin_family == AF_INET &&
                      ntohs(b->sin_port) == 81 && ntohl(b->sin_addr.s_addr) == 0xC0000202u,
                  "b: its address and the check's port");
        TAP_CHECK(t,
                  x[2].host && x[3].host && strcmp(x[2].host, "x") == 0 &&
                      strcmp(x[3].host, "x") == 0 && x[2].port == 81 && x[3].port == 82,
                  "c: one target per child check, each with the host and its check's port");
        char *lo = (char *)x, *hi = lo + 4 * sizeof(*x) + 32;
        TAP_CHECK(t, x[0].host > lo && x[0].host < hi && x[3].host > lo && x[3].host < hi,
                  "the names are in the array's block (freed with it)");
    }
    free(x);
    gslb_unref(g);
}

#define LONG64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LONG256 LONG64 LONG64 LONG64 LONG64

int main(void)
{
    struct tap t = {0, 0};
    check_shared(&t);
    check_probe_targets(&t);
    check_admin_limits(&t, "", 8, 28);
    check_admin_limits(&t, ", \"max_connections\": 4", 0, 2);
    check_admin_limits(&t, ", \"max_connections\": 16", 2, 7);
    check_admin_limits(&t, ", \"max_connections\": 1000", 8, 496);
    check_admin_limits(&t, ", \"operate_reserve\": 0, \"max_streams\": 3", 0, 3);
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z
               ", \"admin\": {\"listen\": \"unix:/tmp/gtmd-unit.sock\", \"max_connections\": 4, "
               "\"operate_reserve\": 4}}",
               "$.admin.operate_reserve: must be below max_connections (4)",
               "operate_reserve must leave read clients a place");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z
               ", \"admin\": {\"listen\": \"unix:/tmp/gtmd-unit.sock\", \"max_streams\": 0}}",
               "$.admin.max_streams", "max_streams is at least 1");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\", \"[::1]:53\"], " Z "}", NULL,
               "valid minimal config with IPv4 and IPv6");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], \"bogus\": 1, " Z "}",
               "$: unknown key \"bogus\"", "unknown top-level key");
    check_conf(&t, "{\"listen\": [\"127.0.0.1\"], " Z "}", "$.listen[0]: bad address",
               "address without port");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\", 5], " Z "}", "$.listen[1]",
               "wrong type in listen");
    check_conf(&t, "{\"listen\": [\"[::1]:99999\"], " Z "}", "$.listen[0]", "port out of range");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], \"workers\": \"2\", " Z "}", "$.workers",
               "workers must be an integer");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], \"zones\": [{\"origin\": 3, \"file\": \"x\"}]}",
               "$.zones[0].origin", "zone origin type");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], \"zones\": [{\"origin\": \"a.\", \"file\": \"x\", "
               "\"x\": 1}]}",
               "$.zones[0]: unknown key \"x\"", "unknown zone key");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"tcp\": {\"idle_timeout\": -1}}",
               "$.tcp.idle_timeout", "negative timeout");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"geoip\": \"x.mmdb\"}",
               "$.geoip: must be an object", "geoip must be an object");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"geoip\": {}}",
               "$.geoip: needs \"database\", \"asn_database\" or both", "geoip needs a database");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"geoip\": {\"asn_database\": \"\"}}",
               "$.geoip.asn_database: must be a file name", "an empty asn_database");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"geoip\": {\"database\": 1}}",
               "$.geoip.database: must be a string", "geoip database must be a string");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z
               ", \"geoip\": {\"database\": \"x.mmdb\", \"db\": 1}}",
               "$.geoip: unknown key \"db\"", "unknown geoip key");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z
               ", \"geoip\": {\"database\": \"x\"}, \"ecs\": false}",
               NULL, "geoip and ecs keys are accepted (the file is opened at load)");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"],\n \"listen\": [], " Z "}", "duplicate",
               "duplicate key rejected");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"],\n " Z ",\n}",
               ":3:", "syntax error has a line");
    check_conf(&t, "{" Z "}", "$.listen: is required", "listen required");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"identity\": 5}", "$.identity",
               "identity must be a string or false");
    check_conf(&t, "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"version\": \"" LONG256 "\"}",
               "$.version: must be a string of at most 255 octets", "version of 256 octets");
    check_conf(&t,
               "{\"listen\": [\"127.0.0.1:53\"], " Z ", \"identity\": false, \"version\": \"\"}",
               NULL, "identity false and version \"\" hide them");
    return tap_done(&t);
}
