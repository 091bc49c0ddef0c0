/*
 * main.c -- command line of gtmd(8).
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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
               "       gtmd --version\n");
}

int main(int argc, char **argv)
{
    /* Loading a large zone makes millions of short-lived allocations (ldns
     * parses record by record); without these glibc grows and trims the
     * heap around each one, which made a 1M-record load 3x slower. */
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TOP_PAD, 16 * 1024 * 1024);
    /* One malloc arena for every thread. With glibc's default (an arena
     * per thread, up to 8 per core), each thread that loads a zone on a
     * reload (load_run_behind, the two-thread parse) kept a heap of its
     * own, grown by the 16 MB pad above and never trimmed below the
     * threshold: RSS 169 MB before, 201 MB after two reloads of the
     * 1M-record zone (1.19x). With one arena a reload reuses the memory
     * the last one freed: 154 MB before and after (1.00x, 3 rounds of 3
     * reloads). No thread mallocs on the query path; the two-thread parse
     * takes a few percent more CPU on the shared malloc lock (gtmd check:
     * 2.53-2.77 s against 2.39-2.56 s). contrib/bench/README.md
     * ("Reloading under load"). */
    mallopt(M_ARENA_MAX, 1);
    const char *cfg = NULL, *node = NULL;
    bool check = false;
    if (argc > 1 && strcmp(argv[1], "drill") == 0)
        return drill_cmd_main(argc - 1, argv + 1);
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
