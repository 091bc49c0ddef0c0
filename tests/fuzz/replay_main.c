/*
 * replay_main.c -- runs a fuzz target over every file given on the command
 * line (or in the directories given), so the seed corpus replays in 'make
 * check' without libFuzzer. Prints one TAP line per input.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_n;

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 20];
    if (!f) {
        printf("not ok %d - cannot open %s\n", ++replay_n, path);
        return;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    printf("ok %d - %s\n", ++replay_n, path);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            struct dirent **ents;
            int n = scandir(argv[i], &ents, NULL, alphasort);
            for (int k = 0; k < n; k++) {
                if (ents[k]->d_name[0] != '.') {
                    char p[4096];
                    snprintf(p, sizeof(p), "%s/%s", argv[i], ents[k]->d_name);
                    replay_file(p);
                }
                free(ents[k]);
            }
            free(ents);
        } else
            replay_file(argv[i]);
    }
    printf("1..%d\n", replay_n);
    return 0;
}
