/* The client-facing HTTP/1.1 server of one worker: an SO_REUSEPORT listener on the
 * worker's loop, connections with keep-alive, in-order pipelining, 100-continue,
 * size limits and read timeouts. It knows nothing about LLMs: a complete request is
 * handed to on_request, and the handler answers through the sl_conn_* calls, whole or
 * as a chunked stream, at any later time on the same loop. */
#ifndef SL_NET_HTTP_SERVER_H
#define SL_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/base/iov.h"
#include "net/http_parse.h"

struct sl_tls_server;

struct sl_server_opts {
  struct sl_http_limits limits;
  uint64_t header_timeout_ms;    /* whole request head must arrive within this */
  uint64_t body_timeout_ms;      /* longest silence while reading a body */
  uint64_t keepalive_timeout_ms; /* idle connection lifetime */
  /* Request bodies being read or handled, summed over the worker's connections (declared
   * Content-Length, or bytes so far when chunked), may not exceed this; a body that would
   * go over gets 503 with Retry-After (one body alone is always admitted). 0: no budget. */
  size_t body_budget;
  uint64_t body_deadline_ms; /* a whole body must arrive within this; 0: no deadline */
  size_t body_min_rate;      /* bytes/s a body must average over each 10 s window; 0: off */
  /* NULL: plain HTTP. Otherwise every connection speaks TLS (net/tls_server.h); the
   * handshake must finish within header_timeout_ms. Borrowed: must outlive the server. */
  struct sl_tls_server *tls;
};

struct sl_server;
struct sl_conn;

struct sl_server_cbs {
  /* A complete request. The handler must end it with sl_conn_respond or
   * sl_conn_stream_end (or the connection closes under it: see on_abort). The request
   * memory stays valid until then. */
  void (*on_request)(void *ud, struct sl_conn *c, const struct sl_http_request *r);
  /* The client connection died while a request was being handled; `req` is what the
   * handler attached with sl_conn_attach. The connection must not be used again. */
  void (*on_abort)(void *ud, struct sl_conn *c, void *req);
  /* Optional: after sl_conn_want_writable, the queued output fell under the low
   * watermark (back-pressure for streams from fast upstreams to slow clients). */
  void (*on_writable)(void *ud, struct sl_conn *c, void *req);
  /* Optional: accepting a connection failed (a negative libuv error, e.g. UV_EMFILE when
   * the process is out of descriptors). The server pauses accepting for a moment. */
  void (*on_accept_error)(void *ud, int err);
};

/* Creates a TCP socket bound to host:port with SO_REUSEPORT, not yet listening.
 * *port_out receives the bound port (useful with port 0). */
int sl_net_bind_reuseport(const char *host, uint16_t port, int *fd_out, uint16_t *port_out,
                          char *err, size_t errlen);

/* Starts listening on an fd from sl_net_bind_reuseport (the server owns it). */
int sl_server_start(uv_loop_t *loop, int fd, const struct sl_server_opts *o,
                    const struct sl_server_cbs *cbs, void *ud, struct sl_server **out);
/* Graceful drain: stop accepting, close idle connections, finish the rest
 * (each closes after its current response). */
void sl_server_drain(struct sl_server *s);
/* Closes everything (in-flight requests get on_abort) and frees the server once the
 * handles are closed. */
void sl_server_close(struct sl_server *s);
size_t sl_server_connections(const struct sl_server *s);
/* Bytes of request bodies and connections released since the last call (the worker
 * trims its heap when this is large). */
size_t sl_server_released_bytes(struct sl_server *s);

void sl_conn_attach(struct sl_conn *c, void *req);
/* A complete response. `headers` holds extra preformatted "Name: value\r\n" lines. */
void sl_conn_respond(struct sl_conn *c, int status, const char *content_type,
                     const char *headers, size_t hlen, const char *body, size_t blen);
/* An OpenAI-shaped JSON error response. */
void sl_conn_respond_error(struct sl_conn *c, int status, const char *message, const char *code,
                           const char *headers);
/* A streamed response (chunked on HTTP/1.1, close-delimited on HTTP/1.0). The bytes are
 * the caller's only for the call: each write goes to the socket at once from where the
 * bytes lie, and only what the socket does not take is copied (into a pooled block). */
void sl_conn_stream_start(struct sl_conn *c, int status, const char *content_type,
                          const char *headers, size_t hlen);
void sl_conn_stream_write(struct sl_conn *c, const char *p, size_t n);
/* The same for a gather list: the slices form one chunk (a long list: a few). */
void sl_conn_stream_writev(struct sl_conn *c, const struct sl_iov *v, size_t nv);
void sl_conn_stream_end(struct sl_conn *c);
/* Ends a chunked stream with trailer fields ("Name: value\r\n" lines), which the
 * stream's head must have announced in a Trailer header. Without chunking (HTTP/1.0)
 * the trailers are dropped. */
void sl_conn_stream_end_trailers(struct sl_conn *c, const char *trailers);
/* Bytes queued to the client and not yet written (for back-pressure). */
size_t sl_conn_pending_bytes(const struct sl_conn *c);
/* Asks for one on_writable call once queued output drains below the low watermark. */
void sl_conn_want_writable(struct sl_conn *c);
/* Asks the connection to close after the current response. */
void sl_conn_close_after(struct sl_conn *c);
/* Closes the connection now, queued output dropped (a client that stopped reading a
 * stream); a request still attached gets on_abort. */
void sl_conn_abort(struct sl_conn *c);
/* The local address the client connected to (numeric) and its port. */
int sl_conn_local_addr(const struct sl_conn *c, char *ip, size_t iplen, uint16_t *port);
/* A short per-worker connection id, for logs. */
uint64_t sl_conn_id(const struct sl_conn *c);

#endif
