/* Unit tests for src/common/accept_backoff.h: which accept errors pause
 * the accept loops, and how long. */
#include <errno.h>

#include "common/accept_backoff.h"
#include "tap.h"

int main(void)
{
    struct tap t = {0, 0};
    TAP_CHECK(&t,
              accept_backoff_error(EMFILE) && accept_backoff_error(ENFILE) &&
                  accept_backoff_error(ENOBUFS) && accept_backoff_error(ENOMEM),
              "out of descriptors or memory: pause");
    TAP_CHECK(&t,
              !accept_backoff_error(EAGAIN) && !accept_backoff_error(ECONNABORTED) &&
                  !accept_backoff_error(EINTR) && !accept_backoff_error(EPERM) &&
                  !accept_backoff_error(EPROTO),
              "a connection that went away, or nothing pending: no pause");
    unsigned ms = 0, seq[6];
    for (int i = 0; i < 6; i++)
        seq[i] = ms = accept_backoff_next(ms);
    TAP_CHECK(&t,
              seq[0] == 100 && seq[1] == 200 && seq[2] == 400 && seq[3] == 800 && seq[4] == 1000 &&
                  seq[5] == 1000,
              "100 ms, doubling, at most 1 s (%u %u %u %u %u %u)", seq[0], seq[1], seq[2], seq[3],
              seq[4], seq[5]);
    return tap_done(&t);
}
