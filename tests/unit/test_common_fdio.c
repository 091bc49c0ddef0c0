/*
 * Unit tests for src/common/fdio.c: a write of 4 MB into a pipe whose
 * reader takes it in small reads arrives whole and in order (the pipe
 * takes 64 KB at a time: short writes); a write to a descriptor that
 * cannot take it fails with its errno; a read stops at the end of a file
 * with what was there and says nothing failed, and a read of a
 * descriptor that cannot be read says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fdio.h"
#include "tap.h"

#define TEST_LEN (4u << 20)

struct test_reader {
    int fd;
    unsigned char *got;
    size_t n;
};

/* Reads the pipe to its end in reads of at most 1000 octets. */
static void *test_read_pipe(void *arg)
{
    struct test_reader *r = arg;
    for (;;) {
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
    pthread_t th;
    bool started = pthread_create(&th, NULL, test_read_pipe, &r) == 0;
    int rc = started ? fdio_write_all(p[1], data, TEST_LEN) : -1;
    close(p[1]);
    if (started)
        pthread_join(th, NULL);
    TAP_CHECK(t, rc == 0 && r.n == TEST_LEN && memcmp(data, r.got, TEST_LEN) == 0,
              "4 MB through a pipe arrive whole and in order (%zu octets)", r.n);
    close(p[0]);
    free(data);
    free(r.got);
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
    test_failures(&t);
    test_read_file(&t);
    return tap_done(&t);
}
