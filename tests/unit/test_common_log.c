/*
 * Unit tests for src/common/log.c: every event is exactly one line, so a
 * value holding a newline (a target restored from a crafted state file, a
 * client's bytes) cannot end the line early and forge the next one:
 * control characters are written as \n, \r, \t or \xHH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tap.h"

/* Runs one log_info with stderr sent to a pipe; returns what it wrote. */
static void capture(const char *value, char *out, size_t n)
{
    int p[2], saved = dup(STDERR_FILENO);
    if (pipe(p) != 0 || saved < 0)
        abort();
    dup2(p[1], STDERR_FILENO);
    log_info("event=test target=%s tail=1", value);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    ssize_t got = read(p[0], out, n - 1);
    out[got > 0 ? got : 0] = '\0';
    close(p[0]);
}

static int count(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

int main(void)
{
    struct tap t = {0, 0};
    char out[4096];
    capture("region:us\n2026-01-01T00:00:00.000Z info event=forged", out, sizeof(out));
    TAP_CHECK(&t, count(out, '\n') == 1 && out[strlen(out) - 1] == '\n',
              "a newline in a value does not start a new line");
    TAP_CHECK(&t,
              strstr(out, "target=region:us\\n2026-01-01T00:00:00.000Z info event=forged tail=1"),
              "it is written as \\n and the rest of the line follows: %s", out);
    capture("a\rb\tc\x01"
            "d\x7f"
            "e",
            out, sizeof(out));
    TAP_CHECK(&t, strstr(out, "target=a\\rb\\tc\\x01d\\x7fe tail=1") != NULL,
              "CR, tab, other control octets and DEL are escaped: %s", out);
    capture("caf\xc3\xa9 ok", out, sizeof(out));
    TAP_CHECK(&t, strstr(out, "target=caf\xc3\xa9 ok tail=1") != NULL, "UTF-8 passes unchanged");
    char big[3000];
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture(big, out, sizeof(out));
    TAP_CHECK(&t, count(out, '\n') == 1 && strlen(out) <= 2048,
              "a long value full of newlines is cut, still one line (%zu octets)", strlen(out));
    char esc[8];
    TAP_CHECK(&t, log_escape("\n\n\n", esc, sizeof(esc)) == 6 && strcmp(esc, "\\n\\n\\n") == 0,
              "log_escape fits whole escapes only");
    TAP_CHECK(&t, log_escape("ab\x01", esc, 5) == 2 && strcmp(esc, "ab") == 0,
              "an escape that does not fit is left out, never cut in half");
    return tap_done(&t);
}
