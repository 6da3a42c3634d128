/* The systemd notification protocol (sd_notify(3)) without libsystemd: a datagram of
 * "KEY=VALUE\n" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for the abstract namespace). When the variable is unset every call is a no-op,
 * so the master calls these unconditionally. The watchdog interval comes from
 * $WATCHDOG_USEC (honoured only when $WATCHDOG_PID is unset or names this process). */
#ifndef SL_CORE_NOTIFY_H
#define SL_CORE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sl_notify {
  int fd;                    /* -1: no NOTIFY_SOCKET */
  struct sockaddr_un addr;
  socklen_t addrlen;
  uint64_t watchdog_usec;    /* 0: no watchdog requested */
};

/* Reads NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID and removes them from the environment
 * (child processes must not notify in our name). Returns 0, or -EINVAL with err filled when
 * NOTIFY_SOCKET is set but unusable (n->fd stays -1: the caller logs and carries on). */
int sl_notify_open(struct sl_notify *n, char *err, size_t errlen);
/* Sends one datagram; fmt produces the "KEY=VALUE\n..." lines. Returns 0 or -errno. */
int sl_notify_send(const struct sl_notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool sl_notify_enabled(const struct sl_notify *n);
void sl_notify_close(struct sl_notify *n);

#endif
