/*
 * fdio.c -- whole writes and reads on blocking descriptors (fdio.h).
 */
#include "common/fdio.h"

#include <errno.h>
#include <unistd.h>

int fdio_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

size_t fdio_read_full(int fd, void *buf, size_t len, int *err)
{
    char *p = buf;
    size_t off = 0;
    int e = 0;
    while (off < len) {
        ssize_t n = read(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            e = errno;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (err)
        *err = e;
    return off;
}
