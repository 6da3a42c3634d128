/* A slice of bytes to be written: the gather-list element that flows down a stream's
 * filter chain and into the client writer. net/wire cannot include uv.h, so this is
 * sluice's own (layout-independent) iovec; the HTTP server turns it into uv_buf_t. */
#ifndef SL_NET_IOV_H
#define SL_NET_IOV_H

#include <stddef.h>

struct sl_iov {
  const char *p;
  size_t n;
};

static inline size_t sl_iov_total(const struct sl_iov *v, size_t n) {
  size_t t = 0;
  for (size_t i = 0; i < n; i++) t += v[i].n;
  return t;
}

#endif
