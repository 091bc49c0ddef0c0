/*
 * anycast_bird.h -- a client of BIRD 2's control socket (what birdc
 * speaks): connect, read the banner ("0001 BIRD 2.0.12 ready."), send one
 * command line, read the reply up to its last line ("NNNN text": a space
 * after the four-digit code; "NNNN-text" and " text" lines continue it;
 * codes 8xxx and 9xxx are errors), close. One command per connection,
 * asynchronous on the caller's event base, with a timeout over the whole.
 *
 * Threads: the controller's event base. Ownership: the client owns its
 * socket and event; anycast_bird_free ends a command under way without
 * its callback.
 */
#ifndef GTM_ANYCAST_ANYCAST_BIRD_H
#define GTM_ANYCAST_ANYCAST_BIRD_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct anycast_bird;

/* ok: BIRD answered without an error code; text: the reply's first line
 * without its code, or why it failed (connect, timeout, an error reply). */
typedef void (*anycast_bird_done_fn)(void *arg, bool ok, const char *text);

struct anycast_bird *anycast_bird_new(struct event_base *base, const char *path, double timeout_s,
                                      anycast_bird_done_fn done, void *arg);
/* Sends cmd (one line, without its newline). False, and nothing sent,
 * while a command is under way. The callback may come before this
 * returns (a socket that does not exist). */
bool anycast_bird_send(struct anycast_bird *b, const char *cmd);
bool anycast_bird_busy(const struct anycast_bird *b);
void anycast_bird_free(struct anycast_bird *b);

/* Feeds the reply text buf (n octets, complete lines or not): 1 when its
 * last line came (ok tells whether any code was 8xxx/9xxx; first: the
 * first line's text, up to len octets), 0 when more is needed, -1 when it
 * is not BIRD's protocol. For the unit test and the client. */
int anycast_bird_parse(const char *buf, size_t n, bool *ok, char *first, size_t len);

#endif
