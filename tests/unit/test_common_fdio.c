/*
 * Unit tests for src/common/fdio.c: a write of 4 MB into a pipe whose
 * reader takes it slowly, interrupted by a timer's signal without
 * SA_RESTART every 200 us (short writes and EINTR, as a blocking write
 * meets them), arrives whole and in order; a read of a pipe fed in pieces
 * gets them all; a write to a descriptor that cannot take it fails with
 * its errno; a read stops at the end of a file with what was there and
 * says nothing failed, and a read of a descriptor that cannot be read
 * says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/fdio.h"
#include "tap.h"

#define TEST_LEN (4u << 20)

struct test_reader {
    int fd;
    unsigned char *got;
    size_t n;
};

static volatile sig_atomic_t test_alarms;

static void test_on_alarm(int sig)
{
    (void)sig;
    test_alarms++;
}

/* Reads the pipe to its end in reads of at most 1000 octets, resting
 * 50 us every 16 of them, so that the writer blocks again and again. */
static void *test_read_pipe(void *arg)
{
    struct test_reader *r = arg;
    struct timespec rest = {0, 50000L};
    for (unsigned k = 1;; k++) {
        if (k % 16 == 0)
            nanosleep(&rest, NULL);
        ssize_t n = read(r->fd, r->got + r->n, r->n + 1000 <= TEST_LEN ? 1000 : TEST_LEN - r->n);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        r->n += (size_t)n;
    }
    return NULL;
}

static void test_write_pipe(struct tap *t)
{
    unsigned char *data = malloc(TEST_LEN);
    struct test_reader r = {.got = calloc(1, TEST_LEN + 1000)};
    int p[2];
    if (!data || !r.got || pipe(p) != 0)
        abort();
    for (size_t i = 0; i < TEST_LEN; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));
    r.fd = p[0];
    /* The timer's signal comes to this thread only: the reader is made
     * with it blocked. No SA_RESTART: a blocked write returns short, or
     * fails with EINTR when it wrote nothing yet. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    pthread_t th;
    bool started = pthread_create(&th, NULL, test_read_pipe, &r) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    struct sigaction sa = {.sa_handler = test_on_alarm}, was;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &was);
    struct itimerval every = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    int rc = started ? fdio_write_all(p[1], data, TEST_LEN) : -1;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &was, NULL);
    close(p[1]);
    if (started)
        pthread_join(th, NULL);
    TAP_CHECK(t, rc == 0 && r.n == TEST_LEN && memcmp(data, r.got, TEST_LEN) == 0,
              "4 MB through a pipe arrive whole and in order (%zu octets)", r.n);
    TAP_CHECK(t, test_alarms > 0, "... written while %d signals interrupted it", (int)test_alarms);
    close(p[0]);
    free(data);
    free(r.got);
}

/* Writes 10 pieces of 100 octets into the pipe, 1 ms apart, and closes it. */
static void *test_feed_pipe(void *arg)
{
    int fd = *(int *)arg;
    char piece[100];
    struct timespec ms = {0, 1000000L};
    for (int i = 0; i < 10; i++) {
        memset(piece, 'a' + i, sizeof(piece));
        nanosleep(&ms, NULL);
        if (fdio_write_all(fd, piece, sizeof(piece)) != 0)
            break;
    }
    close(fd);
    return NULL;
}

static void test_read_pieces(struct tap *t)
{
    int p[2];
    if (pipe(p) != 0)
        abort();
    pthread_t th;
    bool started = pthread_create(&th, NULL, test_feed_pipe, &p[1]) == 0;
    char buf[1200];
    int err = -1;
    size_t n = started ? fdio_read_full(p[0], buf, sizeof(buf), &err) : 0;
    if (started)
        pthread_join(th, NULL);
    bool whole = n == 1000;
    for (size_t i = 0; whole && i < n; i++)
        whole = buf[i] == 'a' + (char)(i / 100);
    TAP_CHECK(t, whole && err == 0, "a read of a pipe fed in 10 pieces gets all 1000 octets (%zu)",
              n);
    close(p[0]);
}

static void test_failures(struct tap *t)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    errno = 0;
    TAP_CHECK(t, fd >= 0 && fdio_write_all(fd, "x", 1) == -1 && errno == EBADF,
              "a write to a descriptor opened for reading fails with EBADF");
    TAP_CHECK(t, fdio_write_all(fd, "", 0) == 0, "nothing to write is no failure");
    close(fd);
    char buf[16];
    int err = -1;
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    size_t n = fd >= 0 ? fdio_read_full(fd, buf, sizeof(buf), &err) : 1;
    TAP_CHECK(t, n == 0 && err == EBADF,
              "a read of a descriptor opened for writing says EBADF (%d)", err);
    close(fd);
}

static void test_read_file(struct tap *t)
{
    char path[] = "/tmp/gtm-test-fdio-XXXXXX";
    int fd = mkstemp(path);
    static const char text[] = "ten octets";
    bool made = fd >= 0 && fdio_write_all(fd, text, 10) == 0 && lseek(fd, 0, SEEK_SET) == 0;
    char buf[64] = "";
    int err = -1;
    size_t n = made ? fdio_read_full(fd, buf, sizeof(buf), &err) : 0;
    TAP_CHECK(t, made && n == 10 && err == 0 && memcmp(buf, text, 10) == 0,
              "a read stops at the end of the file with what was there (%zu, err %d)", n, err);
    made = made && lseek(fd, 0, SEEK_SET) == 0;
    n = made ? fdio_read_full(fd, buf, 4, NULL) : 0;
    TAP_CHECK(t, n == 4 && memcmp(buf, "ten ", 4) == 0, "a read of less than the file takes that");
    if (fd >= 0)
        close(fd);
    unlink(path);
}

int main(void)
{
    struct tap t = {0, 0};
    test_write_pipe(&t);
    test_read_pieces(&t);
    test_failures(&t);
    test_read_file(&t);
    return tap_done(&t);
}
