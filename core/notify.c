/* sd_notify protocol; see notify.h. One unconnected SOCK_DGRAM socket, one sendto() per
 * message: systemd reads each datagram as a whole, so a message is never split. */
#include "core/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sl_notify_open(struct sl_notify *n, char *err, size_t errlen) {
  memset(n, 0, sizeof *n);
  n->fd = -1;
  const char *wd = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
  if (wd && *wd) {
    char *end;
    unsigned long long v = strtoull(wd, &end, 10);
    bool ours = !wpid || !*wpid || strtol(wpid, NULL, 10) == (long)getpid();
    if (!*end && v > 0 && ours) n->watchdog_usec = v;
  }
  const char *s = getenv("NOTIFY_SOCKET");
  int rc = 0;
  if (s && *s) {
    size_t len = strlen(s);
    if ((s[0] != '/' && s[0] != '@') || len < 2 || len >= sizeof n->addr.sun_path) {
      snprintf(err, errlen, "NOTIFY_SOCKET must be an absolute path or '@name' (at most %zu bytes)",
               sizeof n->addr.sun_path - 1);
      rc = -EINVAL;
    } else {
      n->addr.sun_family = AF_UNIX;
      memcpy(n->addr.sun_path, s, len);
      if (s[0] == '@') n->addr.sun_path[0] = 0; /* abstract: no trailing NUL is part of the name */
      n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (s[0] == '/'));
      n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (n->fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
        rc = -errno;
      }
    }
  }
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  if (n->fd < 0) n->watchdog_usec = 0; /* nobody to ping */
  return rc;
}

bool sl_notify_enabled(const struct sl_notify *n) { return n->fd >= 0; }

int sl_notify_send(const struct sl_notify *n, const char *fmt, ...) {
  if (n->fd < 0) return 0;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (len < 0) return -EINVAL;
  if ((size_t)len >= sizeof msg) len = (int)sizeof msg - 1;
  ssize_t k;
  do {
    k = sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen);
  } while (k < 0 && errno == EINTR);
  return k < 0 ? -errno : 0;
}

void sl_notify_close(struct sl_notify *n) {
  if (n->fd >= 0) close(n->fd);
  n->fd = -1;
}
