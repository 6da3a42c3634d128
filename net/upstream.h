/* Upstream HTTP/1.1 client: one keep-alive pool per origin (deployment), asynchronous
 * DNS with a small per-worker cache, a connect timeout, optional TLS (mbedtls, verified
 * against the system CA bundle or a configured CA file, with SNI). Responses are
 * delivered through callbacks as they arrive, so streams can be forwarded chunk by
 * chunk. Everything runs on the caller's single libuv loop; nothing here is shared
 * between threads or processes. */
#ifndef SL_NET_UPSTREAM_H
#define SL_NET_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/wire/http_common.h"

/* Why an exchange failed before a complete response arrived. */
enum sl_upstream_err {
  SL_UP_OK = 0,
  SL_UP_DNS = 1,        /* name did not resolve */
  SL_UP_CONNECT = 2,    /* refused / unreachable */
  SL_UP_CONNECT_TIMEOUT = 3,
  SL_UP_TLS = 4,        /* handshake failed, including certificate verification */
  SL_UP_RESET = 5,      /* connection closed or reset before the response ended */
  SL_UP_PROTOCOL = 6,   /* response did not parse as HTTP/1.1 */
  SL_UP_CANCELLED = 7,  /* never reported through callbacks; reserved */
};
const char *sl_upstream_err_str(enum sl_upstream_err e);

struct sl_tls_ctx; /* shared per worker: CA chain, RNG, mbedtls config */

/* Loads the CA bundle (ca_file, or the system bundle when NULL). Returns 0 or -errno
 * and writes a message into err. */
int sl_tls_ctx_create(const char *ca_file, struct sl_tls_ctx **out, char *err, size_t errlen);
/* Drops the caller's reference: pools (and their closing connections) keep their own,
 * so this may be called right after sl_upstream_pool_destroy. */
void sl_tls_ctx_free(struct sl_tls_ctx *t);

struct sl_upstream_pool_opts {
  const char *host;          /* DNS name or IP literal */
  uint16_t port;
  bool tls;
  struct sl_tls_ctx *tls_ctx; /* required when tls */
  uint64_t connect_timeout_ms; /* 0: default 5000 */
  uint64_t idle_timeout_ms;    /* idle keep-alive connection lifetime; 0: default 30000 */
  unsigned max_idle;           /* idle connections kept; 0: default 32 */
};

struct sl_upstream_pool;
/* The Host header's value the pool sends: "host[:port]" (the port only when not the scheme's
 * default, brackets around an IPv6 literal), written like snprintf. A request signature over
 * the Host header (AWS SigV4, core/dialect.c) must use exactly this. */
int sl_upstream_host_header(const char *host, uint16_t port, bool tls, char *out, size_t cap);
int sl_upstream_pool_create(uv_loop_t *loop, const struct sl_upstream_pool_opts *o,
                            struct sl_upstream_pool **out);
/* Closes idle connections; in-flight exchanges are cancelled without callbacks. The
 * pool frees itself once every handle has closed. Safe from inside a callback. */
void sl_upstream_pool_destroy(struct sl_upstream_pool *p);
/* Idle keep-alive connections currently pooled (for metrics and tests). */
unsigned sl_upstream_pool_idle(const struct sl_upstream_pool *p);

struct sl_upstream_cbs {
  /* Status line and headers arrived. Headers point into parser memory valid only
   * during the call. */
  void (*on_head)(void *ud, int status, const struct sl_header *h, size_t n);
  /* A piece of the (de-chunked) response body; valid only during the call. */
  void (*on_body)(void *ud, const char *p, size_t n);
  /* The response is complete; the connection went back to the pool (or was closed). */
  void (*on_done)(void *ud);
  /* The exchange failed; no further callbacks follow. Whether on_head ran before
   * tells the caller if any response had started (retry safety is its decision). */
  void (*on_error)(void *ud, enum sl_upstream_err err, const char *msg);
};

struct sl_upstream_req;

/* Sends `method path` with the given headers (Host, Content-Length and Connection are
 * added by the client; do not pass them: they, and Transfer-Encoding, are dropped) and a
 * body made of nbody buffers (the bytes must stay valid until on_done/on_error or
 * cancel; the uv_buf_t array itself and the headers are copied). Exactly one of
 * on_done / on_error is called later, never from inside this call; on a nonzero return
 * (-EINVAL for CR/LF in a header, method or path; -ENOMEM; a libuv error) none is.
 * The request handle is valid until its on_done/on_error returns or until cancel.
 * A request that dies on a reused keep-alive connection before any response byte is
 * retried once on a fresh connection (the server closed it while idle). */
int sl_upstream_send(struct sl_upstream_pool *p, const char *method, const char *path,
                     const struct sl_header *h, size_t nh, const uv_buf_t *body, size_t nbody,
                     const struct sl_upstream_cbs *cbs, void *ud, struct sl_upstream_req **out);

/* Abandons the exchange: its connection is closed (the upstream stops generating), no
 * callback runs afterwards. Safe to call from inside a callback; a no-op from inside
 * the request's own on_done / on_error. */
void sl_upstream_cancel(struct sl_upstream_req *r);

/* Stops / resumes reading the response (back-pressure from a slow client). Pausing
 * from inside on_head/on_body takes effect at once: no further on_body until resumed
 * (a response that cannot have a body, e.g. 204 or an answer to HEAD, still completes).
 * Resume delivers buffered bytes from the loop, never from inside the call. */
void sl_upstream_pause(struct sl_upstream_req *r);
void sl_upstream_resume(struct sl_upstream_req *r);

#endif
