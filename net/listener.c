/* Accepting connections (see listener.h). Two handles: the poll on the listening socket
 * and the pause timer; the struct is freed when both have closed. */
#include "net/listener.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64
#define PAUSE_MS 250

struct sl_listener {
  uv_poll_t poll;
  uv_timer_t pause;
  int fd;
  int open_handles;
  sl_listener_accept_cb on_accept;
  sl_listener_error_cb on_error;
  void (*done)(void *ud);
  void *ud;
};

static void on_readable(uv_poll_t *p, int status, int events);

static void on_pause_end(uv_timer_t *t) {
  struct sl_listener *l = t->data;
  uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  struct sl_listener *l = p->data;
  (void)events;
  if (status < 0) return;
  for (int i = 0; i < ACCEPT_BATCH && l->fd >= 0; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      l->on_accept(l->ud, fd);
      continue;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) return;
    if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM) continue;
    /* Out of descriptors or memory (or worse): trying again at once would spin. */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, on_pause_end, PAUSE_MS, 0);
    if (l->on_error) l->on_error(l->ud, -e); /* libuv errors are -errno on Unix */
    return;
  }
}

int sl_listener_start(uv_loop_t *loop, int fd, int backlog, sl_listener_accept_cb on_accept,
                      sl_listener_error_cb on_error, void *ud, struct sl_listener **out) {
  struct sl_listener *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return UV_ENOMEM;
  }
  if (listen(fd, backlog)) {
    int rc = -errno;
    close(fd);
    free(l);
    return rc;
  }
  l->fd = fd;
  l->on_accept = on_accept;
  l->on_error = on_error;
  l->ud = ud;
  int rc = uv_poll_init_socket(loop, &l->poll, fd);
  if (rc) {
    close(fd);
    free(l);
    return rc;
  }
  uv_timer_init(loop, &l->pause);
  l->poll.data = l->pause.data = l;
  l->open_handles = 2;
  uv_poll_start(&l->poll, UV_READABLE, on_readable);
  *out = l;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  struct sl_listener *l = h->data;
  if (--l->open_handles) return;
  if (l->done) l->done(l->ud);
  free(l);
}

void sl_listener_close(struct sl_listener *l, void (*done)(void *ud)) {
  l->done = done;
  uv_close((uv_handle_t *)&l->poll, on_closed); /* stops polling the fd (synchronously) */
  uv_close((uv_handle_t *)&l->pause, on_closed);
  close(l->fd); /* now: after a drain, new connections must go to the other workers */
  l->fd = -1;
}
