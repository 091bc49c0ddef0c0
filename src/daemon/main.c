/*
 * main.c -- command line of gtmd(8).
 */
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control/config_keys.h"
#include "daemon/drill_cmd.h"
#include "daemon/server.h"

#ifndef GTM_VERSION
#define GTM_VERSION "unknown"
#endif

static void main_usage(FILE *f)
{
    fprintf(f, "usage: gtmd -c FILE [--node NAME] run the server (foreground, logs on stderr);\n"
               "                                NAME: this node in a fleet (default: host name)\n"
               "       gtmd check -c FILE      validate the config and its zones\n"
               "       gtmd drill -c FILE --region R [--region R2 ...] [--az A ...]\n"
               "                  [--client IP | --ecs NET]... [--state FILE] [--json]\n"
               "                               what losing those regions/azs does to every\n"
               "                               policy record (exit 0, 3: some unserved, 1)\n"
               "       gtmd keys [--man]       the configuration's top-level keys (JSON, or\n"
               "                               gtmd.conf(5)'s TOP-LEVEL KEYS section)\n"
               "       gtmd --version\n");
}

/* gtmd keys [--man]: the table of config_keys.h. */
static int main_keys(int argc, char **argv)
{
    bool man = argc == 2 && strcmp(argv[1], "--man") == 0;
    if (argc > 2 || (argc == 2 && !man)) {
        main_usage(stderr);
        return 2;
    }
    if (man) {
        config_keys_man(stdout);
        return 0;
    }
    json_t *k = config_keys_json();
    json_dumpf(k, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(k);
    return 0;
}

int main(int argc, char **argv)
{
    /* Loading a large zone makes millions of short-lived allocations (ldns
     * parses record by record); without these glibc grows and trims the
     * heap around each one, which made a 1M-record load 3x slower.
     *
     * Each loading thread keeps glibc's arena of its own (the default).
     * One arena for all threads (M_ARENA_MAX 1, tried to bound RSS) made
     * the two parse threads take turns on its lock, tens of thousands of
     * futex hand-offs a second: start-up load of the 1M-record zone 3.6-3.9
     * s against 1.8 s, and during reloads under 50k QPS stalls of 200-900
     * ms in which the workers and the client hardly ran (3 of 3 rounds of
     * reload_bench.py on a quiet machine, lost queries in some). What an
     * arena keeps after a reload is its top pad, so the pad is 4 MB rather
     * than 16 (a 1M-record load is as fast) and a reload frees the old set
     * and trims the heap behind the workers (load_drop_behind): RSS 157 MB
     * before and 165 after 3 reloads (1.05x; 169 -> 201 MB, 1.19x, with
     * the 16 MB pad). contrib/bench/README.md ("Reloading under load"). */
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TOP_PAD, 4 * 1024 * 1024);
    /* No fast bins: a freed small chunk is merged with its neighbours when
     * freed (beyond the thread's tcache), not kept aside for a later sweep.
     * At 1,000,000 records a version let go (a document read from etcd,
     * the writer's copy, a replaced records object) left millions of
     * chunks in the fast bins, and the next large request or malloc_trim
     * swept them all holding the arena's lock: the dropper's trim at nice
     * 19 held it for seconds while the main thread's copy waited on it (a
     * fleet node's change 5-7 s after a start), and a DNS worker's request
     * swept them with its set held (issue #55). The cost measured for
     * malloc-bound work (`gtmd check` of a 1,000,000-record zone): 2 %. */
    mallopt(M_MXFAST, 0);
    /* No OpenSSL clean-up at exit: a NOTIFY thread (detached, it may still
     * be signing with TSIG while the process exits) would find OpenSSL's
     * locks freed under it (a SEGV in EVP_MAC_fetch seen in CI's
     * ThreadSanitizer run); the process's memory goes with it anyway. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    const char *cfg = NULL, *node = NULL;
    bool check = false;
    if (argc > 1 && strcmp(argv[1], "drill") == 0)
        return drill_cmd_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "keys") == 0)
        return main_keys(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "check") == 0 && i == 1)
            check = true;
        else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            cfg = argv[++i];
        else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc)
            node = argv[++i];
        else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("gtmd %s\n", GTM_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            main_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "gtmd: unexpected argument '%s'\n", argv[i]);
            main_usage(stderr);
            return 2;
        }
    }
    if (!cfg) {
        main_usage(stderr);
        return 2;
    }
    return check ? server_check(cfg) : server_run(cfg, node);
}
