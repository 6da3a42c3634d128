/* A listening TCP socket on a libuv loop that accepts by hand (accept4 under a uv_poll_t),
 * so that running out of descriptors is handled here instead of inside libuv: on EMFILE,
 * ENFILE, ENOBUFS or ENOMEM the listener tells its owner and pauses for PAUSE_MS, and the
 * connections that arrive meanwhile wait in the kernel's accept queue until descriptors
 * free up (rather than being accepted and reset). At most ACCEPT_BATCH connections are
 * taken per wakeup, so a connection storm cannot starve the connections already open. */
#ifndef SL_NET_LISTENER_H
#define SL_NET_LISTENER_H

#include <uv.h>

struct sl_listener;

/* A new connection: fd is non-blocking and close-on-exec, owned by the callee. */
typedef void (*sl_listener_accept_cb)(void *ud, int fd);
/* Accepting failed with a negative libuv error (UV_EMFILE, ...); accepting is paused. */
typedef void (*sl_listener_error_cb)(void *ud, int err);

/* Starts listening on a bound socket (the listener owns fd from now on, also on failure). */
int sl_listener_start(uv_loop_t *loop, int fd, int backlog, sl_listener_accept_cb on_accept,
                      sl_listener_error_cb on_error, void *ud, struct sl_listener **out);
/* Stops accepting and closes the socket at once; `done(ud)` runs once the handles have
 * closed and the listener is freed. */
void sl_listener_close(struct sl_listener *l, void (*done)(void *ud));

#endif
