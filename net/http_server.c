/* Client connections of one worker. Each connection is a small state machine:
 *   IDLE -> READING (request bytes seen) -> HANDLING (handler owns the request)
 *        -> FINISHING (response queued) -> IDLE, or closed.
 * One timer per connection enforces the keep-alive, head and body deadlines. Bytes that
 * arrive while a request is being handled (pipelining) wait in `pending` and are parsed
 * once the response has been written, so answers go out in request order. Reading
 * continues while a request is handled, so a client that goes away is noticed and the
 * handler can cancel its upstream call.
 * Closing after an answer (an error, Connection: close, a drain) is a lingering close,
 * as nginx does it: the answer is written, the write side is shut down (FIN), and what
 * the client still sends (the rest of an oversized body) is read and dropped until it
 * closes too, for at most LINGER_TOTAL_MS / LINGER_MAX_BYTES and LINGER_IDLE_MS of
 * silence. Closing with unread bytes in the receive buffer would send a reset, and the
 * reset can destroy the answer before the client has read it.
 * Request bodies share one per-worker budget (opts.body_budget): a body is charged when
 * its head is complete (its declared length, or its bytes so far when chunked) and
 * released when its response has been written; a body that would overspend gets 503
 * with Retry-After. A body must also keep a minimum rate and finish within an absolute
 * deadline (408), so slow clients cannot pin memory. The server counts what it released
 * (large bodies, closed connections) so the worker can give the heap back to the system
 * (sl_server_released_bytes).
 * With TLS (opts.tls), the same machine runs on plaintext: reads are decrypted into a
 * per-server buffer before they reach the parser (or `pending`), writes are encrypted as
 * they are queued, and the handshake runs first, under the head deadline. The plain path
 * only tests c->tls and is otherwise untouched. */
#include "net/http_server.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/base/buf.h"
#include "net/base/pool.h"
#include "net/listener.h"
#include "net/wire/oai_error.h"
#include "net/tls_server.h"
#include "net/wire/xlate.h"

enum conn_state { C_IDLE, C_READING, C_HANDLING, C_FINISHING };
enum timer_kind { T_NONE, T_IDLE, T_HEAD, T_BODY, T_LINGER };

#define PENDING_MAX (64u << 10) /* pipelined bytes buffered while handling a request; beyond, reading waits */
#define WRITE_LOW_WATER (64u << 10)
/* Draining: an idle keep-alive connection is not closed at once (nor one whose
 * last response, sent before the drain, promised keep-alive), because a client may
 * be sending its next request on it right now (closing would reset that request). It
 * gets a short grace instead: a request that arrives is answered with Connection: close,
 * and a connection that stays silent is closed when the grace ends. */
#define DRAIN_IDLE_GRACE_MS 1000
/* Lingering close bounds (nginx: lingering_time 30 s, lingering_timeout 5 s). */
#define LINGER_TOTAL_MS 30000
#define LINGER_IDLE_MS 2000
#define RATE_WINDOW_MS 10000
#define CONN_BYTES 8192 /* about what a connection holds (struct, parser, handles) */
#define LINGER_MAX_BYTES(s) ((s)->o.limits.max_body_bytes > (16u << 20) ? 4 * (s)->o.limits.max_body_bytes : (64u << 20))

struct sl_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  struct sl_server *srv;
  struct sl_http_parser *parser;
  struct sl_tls_sconn *tls; /* NULL on a plain listener */
  struct sl_conn *prev, *next;
  char *pending;
  size_t pending_n;
  void *req;
  uint64_t id;
  uint64_t linger_until_ms; /* lingering: absolute end (loop time) */
  size_t dropped;           /* discarding: bytes read and dropped */
  size_t body_charge;       /* this connection's share of srv->body_inuse */
  size_t body_seen;         /* raw bytes fed while in the body (chunked bodies) */
  size_t win_bytes;         /* body bytes in the current rate window */
  uint64_t body_start_ms, win_start_ms;
  enum conn_state state;
  enum timer_kind tkind;
  int open_handles;
  bool closing, close_after, reading, streaming, chunked, head_only, want_writable;
  bool tls_ready; /* handshake done */
  bool discard;   /* input is read and dropped (an error answer is on its way, or lingering) */
  bool lingering; /* answer written, write side shut down, waiting for the client's close */
  bool in_body;   /* a body is being read (accounted) */
  bool used;      /* a request has been received (before that, idle means header_timeout) */
  bool ended;     /* on srv->ended: the response's last write was taken whole, its end waits */
  struct sl_conn *eprev, *enext; /* srv->ended links */
};

#define SPARE_PARSERS 8 /* parsers kept for reuse (~6 KiB each): an idle keep-alive
                         * connection holds none, a new request takes one back */

struct sl_server {
  struct sl_listener *listener;
  uv_loop_t *loop;
  struct sl_server_opts o;
  struct sl_server_cbs cbs;
  void *ud;
  struct sl_conn *conns;
  size_t nconns;
  size_t body_inuse; /* sum of the connections' body_charge */
  size_t released;   /* bytes given back since sl_server_released_bytes last asked */
  uint64_t next_id;
  bool listener_open, draining, closing;
  char rbuf[65536];
  char *tls_plain; /* TLS only: decrypted input, and writes gathered into one record */
  char *tls_gather;
  struct sl_pool wpool, wpool_small; /* blocks for queued writes: large, and small (a
                                     * response's zero-length last write, a short tail) */
  struct sl_http_parser *spare[SPARE_PARSERS]; /* parsers of idle or closed connections, for reuse */
  size_t nspare;
  uint64_t writes, writes_copied; /* writes asked for; of those, how many had to copy bytes */
  /* Connections whose response's last write the socket took whole: their end
   * (after_response) runs from `check`, after this loop turn's poll phase, never inside
   * the caller. The check handle is active only while the list is not empty. */
  struct sl_conn *ended, *ended_tail;
  uv_check_t check;
  bool check_open;
};

#define TLS_PLAIN_BUF 16384

/* A queued write: the bytes the socket did not take at once, copied behind the header.
 * Small ones are blocks of the server's free list (wpool), larger ones malloc'd. */
struct wreq {
  uv_write_t w;
  struct sl_conn *c;
  bool last, pooled, small;
  char data[];
};

#define WBLOCK (16u << 10)  /* write-pool block: struct wreq + data */
#define LIT(s) ((struct sl_iov){s, sizeof s - 1})
#define MAX_TRY_IOV 64       /* gather lists longer than this are copied, not tried */

static void conn_close(struct sl_conn *c);
static void process_input(struct sl_conn *c, const char *data, size_t n);
static void start_reading(struct sl_conn *c);
static void parser_put(struct sl_server *s, struct sl_http_parser *p);

static void server_maybe_free(struct sl_server *s) {
  if (s->closing && !s->listener_open && s->nconns == 0 && !s->check_open) {
    free(s->tls_plain);
    sl_pool_drain(&s->wpool);
    sl_pool_drain(&s->wpool_small);
    while (s->nspare) sl_http_parser_free(s->spare[--s->nspare]);
    free(s);
  }
}

int sl_net_bind_reuseport(const char *host, uint16_t port, int *fd_out, uint16_t *port_out, char *err,
                          size_t errlen) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int rc = getaddrinfo(host, ps, &hints, &ai);
  if (rc) {
    snprintf(err, errlen, "cannot resolve listen host '%s': %s", host, gai_strerror(rc));
    return -EINVAL;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "socket: %s", strerror(errno));
    freeaddrinfo(ai);
    return rc;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
      bind(fd, ai->ai_addr, ai->ai_addrlen)) {
    rc = -errno;
    snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, strerror(errno));
    close(fd);
    freeaddrinfo(ai);
    return rc;
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  *fd_out = fd;
  return 0;
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t) {
  struct sl_conn *c = t->data;
  enum timer_kind k = c->tkind;
  c->tkind = T_NONE;
  if (k == T_IDLE || k == T_LINGER || (c->tls && !c->tls_ready)) { /* no 408 without a TLS session */
    conn_close(c);
  } else if (k == T_HEAD || k == T_BODY) {
    c->state = C_FINISHING;
    c->close_after = true;
    c->discard = true;
    bool late = k == T_BODY && c->srv->o.body_deadline_ms &&
                uv_now(c->srv->loop) >= c->body_start_ms + c->srv->o.body_deadline_ms;
    sl_conn_respond_error(c, 408, k == T_HEAD ? "Timed out reading the request headers"
                                  : late ? "The request body did not arrive within the body deadline"
                                         : "Timed out reading the request body",
                          "request_timeout", NULL);
  }
}

static void arm(struct sl_conn *c, enum timer_kind k) {
  uint64_t ms = k == T_IDLE ? c->srv->o.keepalive_timeout_ms
              : k == T_HEAD ? c->srv->o.header_timeout_ms
              : k == T_LINGER ? LINGER_IDLE_MS
              : c->srv->o.body_timeout_ms;
  uint64_t until = k == T_LINGER ? c->linger_until_ms
                 : k == T_BODY && c->in_body && c->srv->o.body_deadline_ms
                   ? c->body_start_ms + c->srv->o.body_deadline_ms : 0;
  if (until) {
    uint64_t now = uv_now(c->srv->loop);
    uint64_t left = until > now ? until - now : 1;
    if (left < ms) ms = left;
  }
  /* A connection that has never sent a request waits no longer than a head may take. */
  if (k == T_IDLE && !c->used && c->srv->o.header_timeout_ms && (ms == 0 || ms > c->srv->o.header_timeout_ms))
    ms = c->srv->o.header_timeout_ms;
  if (k == T_IDLE && c->srv->draining && (ms == 0 || ms > DRAIN_IDLE_GRACE_MS)) ms = DRAIN_IDLE_GRACE_MS;
  c->tkind = k;
  uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
}

static void disarm(struct sl_conn *c) {
  c->tkind = T_NONE;
  uv_timer_stop(&c->timer);
}

/* Chooses the deadline for where the parser stands: the head deadline is absolute
 * from the first byte of a request, the body deadline restarts on every read. */
static void rearm_for_parser(struct sl_conn *c) {
  if (!c->parser) { if (c->tkind != T_IDLE) arm(c, T_IDLE); }
  else if (sl_http_parser_in_body(c->parser)) arm(c, T_BODY);
  else if (sl_http_parser_in_request(c->parser)) { if (c->tkind != T_HEAD) arm(c, T_HEAD); }
  else if (c->tkind != T_IDLE) arm(c, T_IDLE);
}

/* ---- closing ---- */

/* The body's memory is no longer the connection's: give back its budget share. */
static void body_release(struct sl_conn *c) {
  c->srv->body_inuse -= c->body_charge;
  c->srv->released += c->body_charge;
  c->body_charge = c->body_seen = c->win_bytes = 0;
  c->in_body = false;
}

/* Drops one of the things that keep the connection's memory alive (its two handles and a
 * pending shutdown request); the last one frees it. */
static void conn_unref(struct sl_conn *c) {
  if (--c->open_handles) return;
  struct sl_server *s = c->srv;
  parser_put(s, c->parser);
  c->parser = NULL;
  body_release(c);
  if (c->prev) c->prev->next = c->next; else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  s->released += CONN_BYTES;
  sl_tls_sconn_free(c->tls);
  free(c->pending);
  free(c);
  server_maybe_free(s);
}

static void on_handle_closed(uv_handle_t *h) { conn_unref(h->data); }

/* A connection is done with its parser: kept for the next request of any connection
 * (a bounded number), else freed. */
static void parser_put(struct sl_server *s, struct sl_http_parser *p) {
  if (!p) return;
  if (s->nspare < SPARE_PARSERS && !s->closing) s->spare[s->nspare++] = p;
  else sl_http_parser_free(p);
}

static void ended_unlink(struct sl_conn *c);

static void conn_close(struct sl_conn *c) {
  if (c->closing) return;
  c->closing = true;
  ended_unlink(c); /* a closing (and so a freed) connection is never on srv->ended */
  if (c->req && c->state == C_HANDLING) {
    void *req = c->req;
    c->req = NULL;
    c->srv->cbs.on_abort(c->srv->ud, c, req);
  }
  c->req = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *sh, int status) {
  struct sl_conn *c = sh->data;
  if (status < 0 && !c->closing) conn_close(c);
  conn_unref(c);
}

/* The answer is out: half-close, then drop input until the client closes (EOF closes
 * in on_read), stays silent for LINGER_IDLE_MS, or exceeds the time or byte bound. */
static void conn_linger(struct sl_conn *c) {
  free(c->pending);
  c->pending = NULL;
  c->pending_n = 0;
  parser_put(c->srv, c->parser); /* not needed any more */
  c->parser = NULL;
  body_release(c);
  c->discard = c->lingering = true;
  c->shut.data = c;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown)) {
    conn_close(c);
    return;
  }
  c->open_handles++;
  c->linger_until_ms = uv_now(c->srv->loop) + LINGER_TOTAL_MS;
  start_reading(c);
  arm(c, T_LINGER);
}

static void after_response(struct sl_conn *c) {
  /* Not `|| draining`: a response whose head promised keep-alive (sent before the drain)
   * leaves the connection open for the drain grace (arm() shortens the idle timer). */
  if (c->close_after) {
    conn_linger(c);
    return;
  }
  body_release(c);
  c->state = C_IDLE;
  c->streaming = false;
  /* An idle connection keeps no parser (about 6 KiB): it is made again for the next request. */
  if (c->pending_n) sl_http_parser_next(c->parser);
  else {
    parser_put(c->srv, c->parser);
    c->parser = NULL;
    c->srv->released += CONN_BYTES;
  }
  char *p = c->pending;
  size_t n = c->pending_n;
  c->pending = NULL;
  c->pending_n = 0;
  start_reading(c);
  if (n) process_input(c, p, n);
  else rearm_for_parser(c);
  free(p);
}

/* ---- ends of responses taken whole by the socket ---- */

static void ended_unlink(struct sl_conn *c) {
  if (!c->ended) return;
  struct sl_server *s = c->srv;
  if (c->eprev) c->eprev->enext = c->enext;
  else s->ended = c->enext;
  if (c->enext) c->enext->eprev = c->eprev;
  else s->ended_tail = c->eprev;
  c->eprev = c->enext = NULL;
  c->ended = false;
  if (!s->ended) uv_check_stop(&s->check);
}

/* Runs the ends in order of arrival; an end may start the next (pipelined) request,
 * whose answer may end at once and put its connection back: loops until none is left. */
static void on_check(uv_check_t *h) {
  struct sl_server *s = h->data;
  while (s->ended) {
    struct sl_conn *c = s->ended;
    ended_unlink(c);
    after_response(c);
  }
}

static void ended_add(struct sl_conn *c) {
  struct sl_server *s = c->srv;
  if (c->ended) return;
  if (!s->ended) uv_check_start(&s->check, on_check);
  /* appended: ends run in the order the responses were written */
  c->eprev = s->ended_tail;
  c->enext = NULL;
  if (s->ended_tail) s->ended_tail->enext = c;
  else s->ended = c;
  s->ended_tail = c;
  c->ended = true;
}

static struct wreq *wreq_new(struct sl_server *s, size_t n) {
  struct sl_pool *p = sizeof(struct wreq) + n <= sl_pool_block_size(&s->wpool_small) ? &s->wpool_small
                      : sizeof(struct wreq) + n <= sl_pool_block_size(&s->wpool)     ? &s->wpool
                                                                                     : NULL;
  struct wreq *wr = p ? sl_pool_get(p) : malloc(sizeof *wr + n);
  if (wr) {
    wr->pooled = p != NULL;
    wr->small = p == &s->wpool_small;
  }
  return wr;
}

static void wreq_free(struct sl_server *s, struct wreq *wr) {
  if (!wr->pooled) free(wr);
  else if (wr->small) sl_pool_put(&s->wpool_small, wr);
  else sl_pool_put(&s->wpool, wr);
}

static void on_write(uv_write_t *w, int status) {
  struct wreq *wr = (struct wreq *)w;
  struct sl_conn *c = wr->c;
  bool last = wr->last;
  wreq_free(c->srv, wr);
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (last) {
    after_response(c);
  } else if (c->want_writable && c->req &&
             uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= WRITE_LOW_WATER) {
    c->want_writable = false;
    if (c->srv->cbs.on_writable) c->srv->cbs.on_writable(c->srv->ud, c, c->req);
  }
}

/* TLS: queues the ciphertext produced so far (handshake messages, encrypted records). */
static void tls_flush(struct sl_conn *c, bool last) {
  const char *p;
  size_t n = sl_tls_sconn_out(c->tls, &p);
  if (!n && !last) return;
  struct wreq *wr = wreq_new(c->srv, n);
  if (!wr) {
    conn_close(c);
    return;
  }
  wr->c = c;
  wr->last = last;
  if (n) memcpy(wr->data, p, n);
  sl_tls_sconn_out_clear(c->tls);
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)n);
  if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write)) {
    wreq_free(c->srv, wr);
    conn_close(c);
  }
}

/* TLS: small pieces (a chunk header, its data, its CRLF) go out as one record; a large
 * body is encrypted and queued a slice at a time, so the ciphertext buffer stays small. */
#define TLS_WRITE_SLICE (256u << 10)
static void tls_writev(struct sl_conn *c, const struct sl_iov *v, size_t nv, size_t total, bool last) {
  int rc = 0;
  if (total <= TLS_PLAIN_BUF) {
    char *g = c->srv->tls_gather;
    size_t off = 0;
    for (size_t i = 0; i < nv; i++) {
      if (v[i].n) memcpy(g + off, v[i].p, v[i].n);
      off += v[i].n;
    }
    if (total) rc = sl_tls_sconn_write(c->tls, g, total);
  } else {
    for (size_t i = 0; i < nv && !rc && !c->closing; i++)
      for (size_t off = 0; off < v[i].n && !rc && !c->closing; off += TLS_WRITE_SLICE) {
        size_t k = v[i].n - off < TLS_WRITE_SLICE ? v[i].n - off : TLS_WRITE_SLICE;
        rc = sl_tls_sconn_write(c->tls, v[i].p + off, k);
        if (!rc && off + k < v[i].n) tls_flush(c, false);
      }
    if (c->closing) return;
  }
  if (rc) {
    conn_close(c);
    return;
  }
  if (last && c->close_after) sl_tls_sconn_close_notify(c->tls);
  tls_flush(c, last);
}

/* Queues a gather list. The bytes are the caller's only for the call: when the socket's
 * queue is empty they are written at once from where they lie (uv_try_write, no copy);
 * what the socket does not take (a slow client) is copied into one queued write. The
 * end of a response is never seen inside the caller: when its last write was taken
 * whole it runs from the server's check handle (on_check, after this loop turn's poll
 * phase), else from on_write. A write error is also left to on_write (uv_write reports
 * it there), so no caller sees its connection close under it. */
static void conn_writev(struct sl_conn *c, const struct sl_iov *v, size_t nv, bool last) {
  if (c->closing) return;
  size_t total = sl_iov_total(v, nv);
  c->srv->writes++;
  if (c->tls) {
    tls_writev(c, v, nv, total, last);
    return;
  }
  size_t done = 0;
  bool empty = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0;
  if (total && nv <= MAX_TRY_IOV && empty) {
    uv_buf_t bufs[MAX_TRY_IOV];
    unsigned nb = 0;
    for (size_t i = 0; i < nv; i++)
      if (v[i].n) bufs[nb++] = uv_buf_init((char *)v[i].p, (unsigned)v[i].n);
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (r > 0) done = (size_t)r;
  }
  if (done == total && (!last || empty)) {
    /* Not queued: no write callback, and no epoll_ctl when it would have completed. */
    if (last) ended_add(c);
    return;
  }
  if (done < total) c->srv->writes_copied++;
  struct wreq *wr = wreq_new(c->srv, total - done);
  if (!wr) {
    conn_close(c);
    return;
  }
  wr->c = c;
  wr->last = last;
  size_t off = 0, skip = done;
  for (size_t i = 0; i < nv; i++) {
    size_t k = v[i].n;
    if (skip >= k) {
      skip -= k;
      continue;
    }
    memcpy(wr->data + off, v[i].p + skip, k - skip);
    off += k - skip;
    skip = 0;
  }
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)off);
  int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
  if (rc) {
    wreq_free(c->srv, wr);
    conn_close(c);
  }
}

static void conn_write3(struct sl_conn *c, const char *a, size_t an, const char *b, size_t bn,
                        const char *d, size_t dn, bool last) {
  struct sl_iov v[3] = {{a, an}, {b, bn}, {d, dn}};
  conn_writev(c, v, 3, last);
}

/* Decimal digits of v into out (at most 20); returns how many. */
static size_t fmt_u(uint64_t v, char *out) {
  char t[20];
  size_t n = 0, k = 0;
  do t[n++] = (char)('0' + v % 10); while ((v /= 10));
  while (n) out[k++] = t[--n];
  return k;
}

/* The response head as a gather list (the caller's strings are referenced, not
 * copied): status line, Content-Type, the extra headers, Connection. `line` is scratch
 * for the status line (at least 64 bytes). Returns the number of slices (at most 6). */
static size_t head_iov(struct sl_conn *c, struct sl_iov *v, char *line, size_t cap, int status, const char *ctype,
                       const char *headers, size_t hlen) {
  const struct sl_http_request *r = c->parser ? sl_http_parser_request(c->parser) : NULL;
  bool http10 = r && r->http_major == 1 && r->http_minor == 0;
  if (!r || !r->keep_alive || c->srv->draining) c->close_after = true;
  size_t n = 0, k = 0;
  const char *reason = sl_http_reason(status);
  size_t rn = strlen(reason);
  if (rn + 32 > cap) rn = cap - 32; /* never: the reasons are short (cap >= 64) */
  { /* "HTTP/1.1 " status " " reason CRLF, without printf */
    memcpy(line, "HTTP/1.1 ", 9);
    k = 9 + fmt_u((uint64_t)(status < 0 ? 0 : status), line + 9);
    line[k++] = ' ';
    memcpy(line + k, reason, rn);
    k += rn;
    line[k++] = '\r';
    line[k++] = '\n';
  }
  v[n++] = (struct sl_iov){line, k};
  if (ctype) {
    v[n++] = LIT("Content-Type: ");
    v[n++] = (struct sl_iov){ctype, strlen(ctype)};
    v[n++] = LIT("\r\n");
  }
  if (hlen) v[n++] = (struct sl_iov){headers, hlen};
  if (c->close_after) v[n++] = LIT("Connection: close\r\n");
  else if (http10) v[n++] = LIT("Connection: keep-alive\r\n");
  return n;
}

void sl_conn_respond(struct sl_conn *c, int status, const char *content_type, const char *headers,
                     size_t hlen, const char *body, size_t blen) {
  if (c->closing) return;
  struct sl_iov v[8];
  char line[96], cl[48];
  size_t n = head_iov(c, v, line, sizeof line, status, content_type, headers, hlen);
  memcpy(cl, "Content-Length: ", 16);
  size_t k = 16 + fmt_u(blen, cl + 16);
  memcpy(cl + k, "\r\n\r\n", 4);
  v[n++] = (struct sl_iov){cl, k + 4};
  if (!c->head_only) v[n++] = (struct sl_iov){body, blen};
  c->state = C_FINISHING;
  c->req = NULL;
  disarm(c);
  conn_writev(c, v, n, true);
}

/* Whether the request being read is for Anthropic's Messages API (`/v1/messages` or
 * `/messages`, and its `/messages/count_tokens`): its errors go out in Anthropic's shape even when they come from this
 * layer (a body too large, too slow, malformed chunks), before any route ran. Only once
 * the head has ended, so the path is whole. */
static bool anthropic_request(const struct sl_conn *c) {
  const struct sl_slice *path = c->parser ? sl_http_parser_path(c->parser) : NULL;
  if (!path) return false;
  struct sl_slice p = *path;
  if (p.n >= 3 && memcmp(p.p, "/v1", 3) == 0 && (p.n == 3 || p.p[3] == '/')) {
    p.p += 3;
    p.n -= 3;
  }
  if (p.n > 1 && p.p[p.n - 1] == '/') p.n--; /* as core/routes.c */
  return (p.n == 9 && memcmp(p.p, "/messages", 9) == 0) ||
         (p.n == 22 && memcmp(p.p, "/messages/count_tokens", 22) == 0);
}

void sl_conn_respond_error(struct sl_conn *c, int status, const char *message, const char *code,
                           const char *headers) {
  struct sl_buf body = {0}, anth = {0};
  sl_oai_error_append(&body, message, sl_oai_error_type_for(status), code);
  const struct sl_buf *out = &body;
  if (anthropic_request(c) && !body.oom && sl_xlate_error_body(SL_WIRE_ANTHROPIC, status, body.p, body.n, &anth) == 0)
    out = &anth;
  sl_conn_respond(c, status, "application/json", headers, headers ? strlen(headers) : 0,
                  out->p, out->n);
  sl_buf_free(&body);
  sl_buf_free(&anth);
}

void sl_conn_stream_start(struct sl_conn *c, int status, const char *content_type,
                          const char *headers, size_t hlen) {
  if (c->closing) return;
  const struct sl_http_request *r = c->parser ? sl_http_parser_request(c->parser) : NULL;
  c->chunked = r && (r->http_major > 1 || r->http_minor >= 1);
  if (!c->chunked) c->close_after = true;
  struct sl_iov v[8];
  char line[96];
  size_t n = head_iov(c, v, line, sizeof line, status, content_type, headers, hlen);
  v[n++] = c->chunked ? LIT("Transfer-Encoding: chunked\r\n\r\n") : LIT("\r\n");
  c->streaming = true;
  disarm(c);
  conn_writev(c, v, n, false);
}

#define STREAM_IOV 62 /* slices per chunk written in one call (plus the chunk's head and CRLF) */

void sl_conn_stream_writev(struct sl_conn *c, const struct sl_iov *v, size_t nv) {
  if (c->closing || !c->streaming) return;
  while (nv) { /* a long list goes out as several chunks */
    size_t k = nv < STREAM_IOV ? nv : STREAM_IOV;
    size_t total = sl_iov_total(v, k);
    if (total) {
      struct sl_iov w[STREAM_IOV + 2];
      char hdr[24];
      size_t m = 0;
      if (c->chunked) w[m++] = (struct sl_iov){hdr, (size_t)snprintf(hdr, sizeof hdr, "%zx\r\n", total)};
      for (size_t i = 0; i < k; i++) w[m++] = v[i];
      if (c->chunked) w[m++] = LIT("\r\n");
      conn_writev(c, w, m, false);
    }
    v += k;
    nv -= k;
  }
}

void sl_conn_stream_write(struct sl_conn *c, const char *p, size_t n) {
  struct sl_iov v = {p, n};
  sl_conn_stream_writev(c, &v, 1);
}

void sl_conn_stream_end_trailers(struct sl_conn *c, const char *trailers) {
  if (c->closing || !c->streaming) return;
  c->state = C_FINISHING;
  c->req = NULL;
  if (c->chunked) {
    size_t tn = trailers ? strlen(trailers) : 0;
    conn_write3(c, "0\r\n", 3, trailers, tn, "\r\n", 2, true);
  } else {
    c->close_after = true;
    conn_write3(c, NULL, 0, NULL, 0, NULL, 0, true);
  }
}

void sl_conn_stream_end(struct sl_conn *c) { sl_conn_stream_end_trailers(c, NULL); }

size_t sl_conn_pending_bytes(const struct sl_conn *c) {
  return c->closing ? 0 : uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}
void sl_conn_close_after(struct sl_conn *c) { c->close_after = true; }
void sl_conn_abort(struct sl_conn *c) { conn_close(c); }
void sl_conn_want_writable(struct sl_conn *c) { c->want_writable = true; }
void sl_conn_attach(struct sl_conn *c, void *req) { c->req = req; }
uint64_t sl_conn_id(const struct sl_conn *c) { return c->id; }

int sl_conn_local_addr(const struct sl_conn *c, char *ip, size_t iplen, uint16_t *port) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc = uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len);
  if (rc) return rc;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    *port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return uv_inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, iplen);
    return uv_inet_ntop(AF_INET6, &a->sin6_addr, ip, iplen);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  *port = ntohs(a->sin_port);
  return uv_inet_ntop(AF_INET, &a->sin_addr, ip, iplen);
}

/* ---- reading ---- */

static void stash(struct sl_conn *c, const char *data, size_t n) {
  if (!n) return;
  char *p = realloc(c->pending, c->pending_n + n);
  if (!p) {
    conn_close(c);
    return;
  }
  memcpy(p + c->pending_n, data, n);
  c->pending = p;
  c->pending_n += n;
}

/* Answers early, while the body may still be arriving (the rest is dropped). */
static void body_refuse(struct sl_conn *c, int status, const char *msg, const char *code,
                        const char *headers) {
  c->state = C_FINISHING;
  c->close_after = true;
  c->discard = true;
  sl_conn_respond_error(c, status, msg, code, headers);
}

/* Accounts `used` bytes that went into a request with a body: charges the budget (the
 * declared length at once, or what arrived of a chunked body) and checks the rate and
 * the deadline. Returns false when the request was refused. */
static bool body_account(struct sl_conn *c, size_t used) {
  struct sl_server *s = c->srv;
  const struct sl_http_request *r = sl_http_parser_request(c->parser);
  if (!r || (r->content_length <= 0 && !r->chunked)) return true;
  uint64_t now = uv_now(s->loop);
  if (!c->in_body) {
    c->in_body = true;
    c->body_start_ms = c->win_start_ms = now;
  }
  c->body_seen += used;
  c->win_bytes += used;
  size_t want = r->content_length > 0 ? (size_t)r->content_length : c->body_seen;
  if (want > c->body_charge) {
    size_t others = s->body_inuse - c->body_charge;
    if (s->o.body_budget && others > 0 && others + want > s->o.body_budget) {
      body_refuse(c, 503, "The server is buffering too many request bodies; retry shortly",
                  "server_busy", "Retry-After: 1\r\n");
      return false;
    }
    s->body_inuse += want - c->body_charge;
    c->body_charge = want;
  }
  if (sl_http_parser_in_body(c->parser)) {
    if (s->o.body_deadline_ms && now >= c->body_start_ms + s->o.body_deadline_ms) {
      body_refuse(c, 408, "The request body did not arrive within the body deadline", "request_timeout", NULL);
      return false;
    }
    if (s->o.body_min_rate && now - c->win_start_ms >= RATE_WINDOW_MS) {
      if (c->win_bytes < s->o.body_min_rate * ((now - c->win_start_ms) / 1000)) {
        body_refuse(c, 408, "The request body arrived too slowly", "request_timeout", NULL);
        return false;
      }
      c->win_start_ms = now;
      c->win_bytes = 0;
    }
  }
  return true;
}

static void process_input(struct sl_conn *c, const char *data, size_t n) {
  if (!c->parser && c->srv->nspare) {
    c->parser = c->srv->spare[--c->srv->nspare];
    sl_http_parser_reset(c->parser);
  }
  if (!c->parser && sl_http_parser_create(&c->srv->o.limits, &c->parser)) {
    conn_close(c);
    return;
  }
  while (!c->closing) {
    size_t used = 0;
    bool was_body = sl_http_parser_in_body(c->parser);
    enum sl_http_parse_event ev = sl_http_parser_feed(c->parser, data, n, &used);
    data += used;
    n -= used;
    if (ev != SL_HP_ERROR && (was_body || sl_http_parser_in_body(c->parser) || ev == SL_HP_REQUEST) &&
        !body_account(c, used))
      return;
    switch (ev) {
    case SL_HP_NEED_MORE:
      c->state = sl_http_parser_in_request(c->parser) ? C_READING : C_IDLE;
      rearm_for_parser(c);
      return;
    case SL_HP_HEAD: {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      conn_write3(c, cont, sizeof cont - 1, NULL, 0, NULL, 0, false);
      arm(c, T_BODY);
      continue;
    }
    case SL_HP_REQUEST: {
      stash(c, data, n);
      const struct sl_http_request *r = sl_http_parser_request(c->parser);
      c->state = C_HANDLING;
      c->used = true;
      c->head_only = r->method == SL_M_HEAD;
      disarm(c);
      c->srv->cbs.on_request(c->srv->ud, c, r);
      return;
    }
    case SL_HP_ERROR: {
      const char *msg = NULL;
      int st = sl_http_parser_error(c->parser, &msg);
      c->state = C_FINISHING;
      c->close_after = true;
      c->discard = true; /* keep reading (and dropping) so the client is not reset */
      const char *code = st == 413 ? "request_too_large"
                       : st == 431 ? "request_header_fields_too_large"
                       : st == 417 ? "expectation_failed"
                       : st == 501 ? "not_implemented"
                       : st == 505 ? "http_version_not_supported"
                       : st == 500 ? "internal_error" : "bad_request";
      sl_conn_respond_error(c, st, msg ? msg : "Malformed HTTP request", code, NULL);
      return;
    }
    }
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct sl_conn *c = h->data;
  *buf = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

/* Request bytes (plaintext): parsed now, or kept for after the current response. */
static void drop_input(struct sl_conn *c, size_t n);
static inline void take_input(struct sl_conn *c, const char *p, size_t n) {
  if (c->discard) { /* TLS: records decrypted in the same read as a fatal error */
    drop_input(c, n);
    return;
  }
  if (c->state == C_HANDLING || c->state == C_FINISHING) {
    stash(c, p, n);
    if (c->pending_n > PENDING_MAX && c->reading) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = false;
    }
    return;
  }
  process_input(c, p, n);
}

/* TLS: the ciphertext in p is lent to mbedtls and used up before returning (mbedtls keeps
 * any partial record itself): first the handshake, then every whole record is decrypted
 * and handed on. A failed handshake (a plain-HTTP client, an untrusting client) closes. */
static void tls_on_read(struct sl_conn *c, const char *p, size_t n) {
  sl_tls_sconn_feed(c->tls, p, n);
  if (!c->tls_ready) {
    char err[256];
    int rc = sl_tls_sconn_handshake(c->tls, err, sizeof err);
    if (rc == -EAGAIN || rc == 0) tls_flush(c, false);
    if (rc == -EAGAIN || c->closing) return;
    if (rc) {
      conn_close(c);
      return;
    }
    c->tls_ready = true;
    rearm_for_parser(c); /* from the handshake's deadline to the idle one */
  }
  while (!c->closing) {
    int m = sl_tls_sconn_read(c->tls, c->srv->tls_plain, TLS_PLAIN_BUF);
    if (m == 0) break;
    if (m < 0) {
      conn_close(c);
      break;
    }
    take_input(c, c->srv->tls_plain, (size_t)m);
  }
  sl_tls_sconn_feed(c->tls, NULL, 0);
}

/* Input after an early answer: dropped, within the lingering bounds. */
static void drop_input(struct sl_conn *c, size_t n) {
  c->dropped += n;
  if (c->dropped > LINGER_MAX_BYTES(c->srv)) {
    conn_close(c);
    return;
  }
  if (c->lingering) {
    if (uv_now(c->srv->loop) >= c->linger_until_ms) conn_close(c);
    else arm(c, T_LINGER);
  }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct sl_conn *c = st->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (c->discard) {
    drop_input(c, (size_t)nread);
    return;
  }
  if (c->tls) {
    tls_on_read(c, buf->base, (size_t)nread);
    return;
  }
  take_input(c, buf->base, (size_t)nread);
}

static void start_reading(struct sl_conn *c) {
  if (c->reading || c->closing) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
}

static void on_accept_error(void *ud, int err) {
  struct sl_server *s = ud;
  if (s->cbs.on_accept_error) s->cbs.on_accept_error(s->ud, err);
}

static void on_connection(void *ud, int fd) {
  struct sl_server *s = ud;
  struct sl_conn *c = s->draining ? NULL : calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  c->id = ++s->next_id;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_tcp_open(&c->tcp, fd)) {
    close(fd);
    conn_close(c);
    return;
  }
  if ((s->o.tls && !(c->tls = sl_tls_sconn_new(s->o.tls)))) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  start_reading(c);
  arm(c, c->tls ? T_HEAD : T_IDLE); /* the handshake counts against the head deadline */
}

int sl_server_start(uv_loop_t *loop, int fd, const struct sl_server_opts *o,
                    const struct sl_server_cbs *cbs, void *ud, struct sl_server **out) {
  struct sl_server *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->loop = loop;
  s->o = *o;
  s->wpool = (struct sl_pool){.block_size = WBLOCK, .max_free = 8};
  s->wpool_small = (struct sl_pool){.block_size = 1024, .max_free = 32};
  s->cbs = *cbs;
  s->ud = ud;
  if (o->tls) {
    s->tls_plain = malloc(2 * TLS_PLAIN_BUF);
    if (!s->tls_plain) {
      free(s);
      return -ENOMEM;
    }
    s->tls_gather = s->tls_plain + TLS_PLAIN_BUF;
  }
  int rc = sl_listener_start(loop, fd, 1024, on_connection, on_accept_error, s, &s->listener);
  if (rc) {
    free(s->tls_plain);
    free(s);
    return rc;
  }
  s->listener_open = true;
  uv_check_init(loop, &s->check);
  s->check.data = s;
  s->check_open = true;
  *out = s;
  return 0;
}

static void on_listener_closed(void *ud) {
  struct sl_server *s = ud;
  s->listener_open = false;
  server_maybe_free(s);
}


void sl_server_drain(struct sl_server *s) {
  if (s->draining) return;
  s->draining = true;
  sl_listener_close(s->listener, on_listener_closed);
  for (struct sl_conn *c = s->conns, *nx; c; c = nx) {
    nx = c->next;
    /* Heads sent from now on say Connection: close (head_append checks draining). */
    if (c->state == C_IDLE && (!c->parser || !sl_http_parser_in_request(c->parser))) arm(c, T_IDLE);
  }
}

static void on_check_closed(uv_handle_t *h) {
  struct sl_server *s = h->data;
  s->check_open = false;
  server_maybe_free(s);
}

void sl_server_close(struct sl_server *s) {
  sl_server_drain(s);
  bool was_closing = s->closing;
  s->closing = true;
  for (struct sl_conn *c = s->conns, *nx; c; c = nx) {
    nx = c->next;
    conn_close(c); /* takes it off srv->ended */
  }
  if (!was_closing && s->check_open) uv_close((uv_handle_t *)&s->check, on_check_closed);
  server_maybe_free(s);
}

size_t sl_server_connections(const struct sl_server *s) { return s->nconns; }

size_t sl_server_released_bytes(struct sl_server *s) {
  size_t n = s->released;
  s->released = 0;
  return n;
}
