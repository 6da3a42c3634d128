/* The upstream HTTP/1.1 client: per-origin keep-alive pools on one libuv loop.
 *
 * The idea: a connection (struct conn) is a small state machine
 *   CONNECTING -> [HANDSHAKE] -> ACTIVE <-> IDLE -> CLOSING
 * that carries at most one exchange (struct sl_upstream_req) at a time. A request is
 * written from the caller's buffers (in plain mode tried at once, the rest queued with
 * uv_write, straight from them; in TLS mode encrypted in bounded batches), the response
 * is read into the connection's own buffer and parsed in place by upstream_parse.c,
 * which hands body spans to the caller without copying. When the response ends cleanly the connection goes back to the
 * pool's idle list (most recently used first) and keeps reading, so a server closing
 * it is noticed at once. The keep-alive race (a reused connection dies before any
 * response byte) is retried once on a fresh connection.
 *
 * Lifetimes: a conn's memory lives until both of its handles (tcp, timer) have closed,
 * so code that called out to the user can always look at its conn again and bail out
 * when the state turned CLOSING. A request is recycled right after its final callback
 * (on_done/on_error) returns, or at once on cancel; reqs are kept on a small per-pool
 * free list so that steady-state requests do not allocate. The pool is reference
 * counted by its conns and the DNS lookup and frees itself after destroy + last close.
 * User callbacks never run inside sl_upstream_send: errors found there are either
 * returned or deferred through the conn's timer. */
#include "net/upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/base/pool.h"
#include "net/tls_conn.h"
#include "net/upstream_parse.h"

#define SL_UP_READ_BUF 16384
#define SL_UP_MAX_ADDRS 8
#define SL_UP_DNS_TTL_MS 30000
#define SL_UP_HEAD_INLINE 1536
#define SL_UP_BUFS_INLINE 8
#define SL_UP_FREE_REQS 32
#define SL_UP_TLS_WBATCH 65536 /* ciphertext queued per write round */
#define SL_UP_HOST_MAX 255

/* ---- intrusive list ---- */

struct link {
  struct link *prev, *next;
};

static void list_init(struct link *h) {
  h->prev = h->next = h;
}
static bool list_empty(const struct link *h) {
  return h->next == h;
}
static void list_insert(struct link *prev, struct link *n) {
  n->prev = prev;
  n->next = prev->next;
  prev->next->prev = n;
  prev->next = n;
}
static void list_unlink(struct link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- types ---- */

enum conn_state { C_CONNECTING, C_HANDSHAKE, C_ACTIVE, C_IDLE, C_CLOSING };
enum req_state { R_FREE, R_DNS, R_CONN, R_FINAL };

struct conn {
  struct link link; /* pool->busy or pool->idle */
  struct sl_upstream_pool *pool;
  struct sl_upstream_req *req;
  struct sl_tls_conn *tls;
  enum conn_state state;
  int nclosing;
  int pending_err; /* uv error to report from the timer (deferred failure) */
  unsigned addr_idx;
  bool reused;        /* came from the idle list */
  bool reading;       /* uv_read_start is in effect */
  bool writing;       /* a uv_write is in flight */
  bool broken;        /* a write failed after the response started: never reuse */
  bool drain_pending; /* resume scheduled a drain of buffered bytes */
  size_t rd_off, rd_len; /* response bytes in buf not yet parsed */
  size_t w_idx, w_off;   /* TLS: progress through req->bufs */
  uv_tcp_t tcp;
  uv_timer_t timer; /* connect timeout, idle timeout, or deferred work */
  uv_connect_t creq;
  uv_write_t wreq;
  struct sl_upstream_parse ps;
  char *buf; /* SL_UP_READ_BUF bytes from the pool's free list while the connection carries
              * an exchange (plain: raw bytes; TLS: plaintext); an idle one holds none */
};

struct sl_upstream_req {
  struct link link; /* pool->dns_wait or pool->free_reqs */
  struct sl_upstream_pool *pool;
  struct conn *conn;
  struct sl_upstream_cbs cbs;
  void *ud;
  enum req_state state;
  unsigned dns_gen;
  unsigned addr_tries;
  bool head_req, got_bytes, retried, paused;
  uv_buf_t *bufs; /* [0] is the head, then the caller's body buffers */
  size_t nbufs;
  char *head;
  size_t head_cap;
  uv_buf_t bufs_inline[SL_UP_BUFS_INLINE];
  char head_inline[SL_UP_HEAD_INLINE];
};

struct sl_upstream_pool {
  uv_loop_t *loop;
  struct sl_tls_ctx *tls_ctx;
  struct sl_tls_session *sess;
  bool tls, literal, destroyed, gai_busy;
  uint16_t port;
  uint64_t connect_timeout_ms, idle_timeout_ms;
  unsigned max_idle, nidle, nfree, refs;
  struct link idle, busy, dns_wait, free_reqs;
  unsigned naddrs, rr, dns_gen;
  uint64_t dns_expiry;
  struct sockaddr_storage addrs[SL_UP_MAX_ADDRS];
  uv_getaddrinfo_t gai;
  char port_str[8];
  size_t host_hdr_len;
  char host[SL_UP_HOST_MAX + 1];
  char host_hdr[SL_UP_HOST_MAX + 16]; /* "host[:port]", brackets for IPv6 */
  struct sl_pool rbufs; /* read buffers of the pool's connections (net/base/pool.h) */
};

const char *sl_upstream_err_str(enum sl_upstream_err e) {
  switch (e) {
  case SL_UP_OK: return "ok";
  case SL_UP_DNS: return "name resolution failed";
  case SL_UP_CONNECT: return "connection failed";
  case SL_UP_CONNECT_TIMEOUT: return "connect timed out";
  case SL_UP_TLS: return "TLS failure";
  case SL_UP_RESET: return "connection closed before the response ended";
  case SL_UP_PROTOCOL: return "malformed response";
  case SL_UP_CANCELLED: return "cancelled";
  }
  return "unknown error";
}

static void conn_close(struct conn *c, bool orderly);
static void conn_fail(struct conn *c, enum sl_upstream_err err, const char *msg);
static bool conn_deliver(struct conn *c, bool kick);
static int conn_open(struct sl_upstream_req *r, unsigned idx);
static int req_connect(struct sl_upstream_req *r);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void on_write(uv_write_t *w, int status);
static void on_timer(uv_timer_t *t);
static void tls_process(struct conn *c);
static void tls_drain(struct conn *c, bool kick);
static int tls_flush(struct conn *c, char *err, size_t errlen);
static int tls_pump(struct conn *c, char *err, size_t errlen);

/* ---- pool reference counting ---- */

static void pool_free(struct sl_upstream_pool *p) {
  while (!list_empty(&p->free_reqs)) {
    struct sl_upstream_req *r = container_of(p->free_reqs.next, struct sl_upstream_req, link);
    list_unlink(&r->link);
    free(r);
  }
  sl_pool_drain(&p->rbufs);
  sl_tls_session_free(p->sess);
  sl_tls_ctx_free(p->tls_ctx); /* drops the pool's reference */
  free(p);
}

static void pool_ref(struct sl_upstream_pool *p) {
  p->refs++;
}

static void pool_unref(struct sl_upstream_pool *p) {
  if (--p->refs == 0) pool_free(p);
}

/* ---- requests ---- */

static struct sl_upstream_req *req_alloc(struct sl_upstream_pool *p) {
  struct sl_upstream_req *r;
  if (!list_empty(&p->free_reqs)) {
    r = container_of(p->free_reqs.next, struct sl_upstream_req, link);
    list_unlink(&r->link);
    p->nfree--;
  } else {
    r = malloc(sizeof *r);
    if (!r) return NULL;
    list_init(&r->link);
  }
  r->pool = p;
  r->conn = NULL;
  r->state = R_FREE;
  r->dns_gen = 0;
  r->addr_tries = 0;
  r->head_req = r->got_bytes = r->retried = r->paused = false;
  r->bufs = r->bufs_inline;
  r->nbufs = 0;
  r->head = r->head_inline;
  r->head_cap = sizeof r->head_inline;
  return r;
}

/* Returns r to the free list (or frees it). Never touch r afterwards. */
static void req_release(struct sl_upstream_req *r) {
  struct sl_upstream_pool *p = r->pool;
  if (r->head != r->head_inline) free(r->head);
  if (r->bufs != r->bufs_inline) free(r->bufs);
  r->head = r->head_inline;
  r->bufs = r->bufs_inline;
  r->state = R_FREE;
  r->conn = NULL;
  if (!p->destroyed && p->nfree < SL_UP_FREE_REQS) {
    list_insert(&p->free_reqs, &r->link);
    p->nfree++;
  } else {
    free(r);
  }
}

/* Reports the end of the exchange to the caller, then recycles r. */
static void req_final(struct sl_upstream_req *r, enum sl_upstream_err err, const char *msg) {
  struct sl_upstream_pool *p = r->pool;
  pool_ref(p);
  r->state = R_FINAL;
  r->conn = NULL;
  if (err != SL_UP_OK)
    r->cbs.on_error(r->ud, err, msg && *msg ? msg : sl_upstream_err_str(err));
  else
    r->cbs.on_done(r->ud);
  req_release(r);
  pool_unref(p);
}

static bool hdr_is(const struct sl_slice *s, const char *lit, size_t n) {
  return s->n == n && strncasecmp(s->p, lit, n) == 0;
}

/* Headers the client owns: dropped when a caller passes them anyway. */
static bool hdr_reserved(const struct sl_slice *name) {
  return hdr_is(name, "host", 4) || hdr_is(name, "content-length", 14) ||
         hdr_is(name, "connection", 10) || hdr_is(name, "transfer-encoding", 17);
}

/* One pass over a (short) header name or value for bytes that would break the head. */
static bool has_crlf(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') return true;
  return false;
}

static bool method_has_body(const char *m, size_t n) {
  return (n == 4 && !memcmp(m, "POST", 4)) || (n == 3 && !memcmp(m, "PUT", 3)) ||
         (n == 5 && !memcmp(m, "PATCH", 5));
}

static void put(char **w, const char *s, size_t n) {
  if (n) memcpy(*w, s, n);
  *w += n;
}

/* Builds the request head into r->head and the write vector [head, body...]. */
static int req_format(struct sl_upstream_req *r, const char *method, const char *path,
                      const struct sl_header *h, size_t nh, const uv_buf_t *body, size_t nbody) {
  struct sl_upstream_pool *p = r->pool;
  size_t mlen = strlen(method), plen = strlen(path);
  if (mlen == 0 || plen == 0 || mlen > 32) return -EINVAL;
  if (strpbrk(method, " \t\r\n") || strpbrk(path, " \t\r\n")) return -EINVAL;
  size_t blen = 0, nparts = 0;
  for (size_t i = 0; i < nbody; i++) {
    blen += body[i].len;
    if (body[i].len) nparts++;
  }
  bool cl = blen > 0 || method_has_body(method, mlen);
  size_t need = mlen + 1 + plen + sizeof " HTTP/1.1\r\nHost: " + p->host_hdr_len + 2 +
                (cl ? sizeof "Content-Length: \r\n" + 20 : 0) + 2;
  for (size_t i = 0; i < nh; i++) {
    if (h[i].name.n == 0 || has_crlf(h[i].name.p, h[i].name.n) ||
        memchr(h[i].name.p, ':', h[i].name.n) || has_crlf(h[i].value.p, h[i].value.n))
      return -EINVAL;
    need += h[i].name.n + 2 + h[i].value.n + 2;
  }
  if (need > r->head_cap) {
    char *m = malloc(need);
    if (!m) return -ENOMEM;
    r->head = m;
    r->head_cap = need;
  }
  if (1 + nparts > SL_UP_BUFS_INLINE) {
    r->bufs = malloc((1 + nparts) * sizeof *r->bufs);
    if (!r->bufs) {
      r->bufs = r->bufs_inline;
      return -ENOMEM;
    }
  }
  char *w = r->head;
  put(&w, method, mlen);
  *w++ = ' ';
  put(&w, path, plen);
  put(&w, " HTTP/1.1\r\nHost: ", sizeof " HTTP/1.1\r\nHost: " - 1);
  put(&w, p->host_hdr, p->host_hdr_len);
  put(&w, "\r\n", 2);
  if (cl) { /* "Content-Length: N\r\n" without printf (every request has one) */
    char t[20];
    size_t k = 0;
    size_t v = blen;
    do t[k++] = (char)('0' + v % 10); while ((v /= 10));
    memcpy(w, "Content-Length: ", 16);
    w += 16;
    while (k) *w++ = t[--k];
    *w++ = '\r';
    *w++ = '\n';
  }
  for (size_t i = 0; i < nh; i++) {
    if (hdr_reserved(&h[i].name)) continue;
    put(&w, h[i].name.p, h[i].name.n);
    put(&w, ": ", 2);
    put(&w, h[i].value.p, h[i].value.n);
    put(&w, "\r\n", 2);
  }
  put(&w, "\r\n", 2);
  r->bufs[0] = uv_buf_init(r->head, (unsigned)(w - r->head));
  r->nbufs = 1;
  for (size_t i = 0; i < nbody; i++)
    if (body[i].len) r->bufs[r->nbufs++] = body[i];
  r->head_req = mlen == 4 && !memcmp(method, "HEAD", 4);
  return 0;
}

/* ---- connections: lifecycle ---- */

static void on_conn_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->nclosing) return;
  struct sl_upstream_pool *p = c->pool;
  sl_tls_conn_free(c->tls);
  sl_pool_put(&p->rbufs, c->buf);
  free(c);
  pool_unref(p);
}

/* Closes the connection and detaches its request (the caller decides what happens
 * to it). orderly: a TLS session says close_notify when that costs one try_write. */
static void conn_close(struct conn *c, bool orderly) {
  if (c->state == C_CLOSING) return;
  struct sl_upstream_pool *p = c->pool;
  if (c->state == C_IDLE) p->nidle--;
  list_unlink(&c->link);
  if (c->req) {
    c->req->conn = NULL;
    c->req = NULL;
  }
  c->ps.stop = true; /* if we are inside a parser callback, llhttp stops after it */
  if (c->tls && orderly && !c->writing && (c->state == C_ACTIVE || c->state == C_IDLE)) {
    uv_buf_t b;
    sl_tls_conn_close_notify(c->tls);
    if (sl_tls_conn_out_take(c->tls, &b) == 0) {
      (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
      sl_tls_conn_out_release(c->tls);
    }
  }
  c->state = C_CLOSING;
  c->nclosing = 2;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}


/* Reading is on while a handshake runs, while idle (to notice a close), and while
 * active unless the caller paused or buffered bytes still wait for a drain. */
static void conn_update_reading(struct conn *c) {
  bool want = c->state == C_HANDSHAKE || c->state == C_IDLE ||
              (c->state == C_ACTIVE && c->req && !c->req->paused && !c->drain_pending);
  if (want == c->reading) return;
  if (want) {
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) { /* reported from the timer: we may be inside sl_upstream_send */
      c->pending_err = rc;
      uv_timer_start(&c->timer, on_timer, 0, 0);
      return;
    }
  } else {
    uv_read_stop((uv_stream_t *)&c->tcp);
  }
  c->reading = want;
}

/* ---- parser callbacks: forwarded to the request's owner ---- */

static void t_on_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct conn *c = ud;
  struct sl_upstream_req *r = c->req;
  if (r && r->cbs.on_head) r->cbs.on_head(r->ud, status, h, n);
  /* r may be gone now (cancel / pool destroy): not touched again */
}

static void t_on_body(void *ud, const char *p, size_t n) {
  struct conn *c = ud;
  struct sl_upstream_req *r = c->req;
  if (r && r->cbs.on_body) r->cbs.on_body(r->ud, p, n);
}

static const struct sl_upstream_cbs parse_cbs = {t_on_head, t_on_body, NULL, NULL};

static void conn_attach(struct conn *c, struct sl_upstream_req *r) {
  c->req = r;
  r->conn = c;
  r->state = R_CONN;
  c->rd_off = c->rd_len = 0;
  c->w_idx = c->w_off = 0;
  c->broken = c->drain_pending = false;
  sl_upstream_parse_init(&c->ps, &parse_cbs, c, r->head_req);
  c->ps.stop = r->paused;
}

/* ---- connections: the exchange ---- */

static void conn_make_idle(struct conn *c) {
  struct sl_upstream_pool *p = c->pool;
  list_unlink(&c->link);
  list_insert(&p->idle, &c->link); /* front: most recently used is reused first */
  p->nidle++;
  c->state = C_IDLE;
  c->reused = true;
  c->drain_pending = false;
  c->rd_off = c->rd_len = 0;
  sl_pool_put(&p->rbufs, c->buf); /* an idle connection holds no read buffer */
  c->buf = NULL;
  uv_timer_start(&c->timer, on_timer, p->idle_timeout_ms, 0);
  conn_update_reading(c);
  while (p->nidle > p->max_idle) conn_close(container_of(p->idle.prev, struct conn, link), true);
}

/* The response is complete: the connection goes back to the pool when it can carry
 * another exchange, then the caller hears on_done. */
static void conn_finish(struct conn *c, bool leftover) {
  struct sl_upstream_pool *p = c->pool;
  struct sl_upstream_req *r = c->req;
  bool keep = c->ps.keep_alive && !leftover && !c->broken && !c->writing && !p->destroyed &&
              p->max_idle > 0;
  if (keep && c->tls)
    keep = c->w_idx >= r->nbufs && sl_tls_conn_out_pending(c->tls) == 0 &&
           !sl_tls_conn_has_input(c->tls);
  c->req = NULL;
  r->conn = NULL;
  if (keep)
    conn_make_idle(c);
  else
    conn_close(c, true);
  req_final(r, SL_UP_OK, NULL);
}

/* The exchange on c failed. A reused connection that died before any response byte is
 * the keep-alive race: retried once on a fresh connection. A refused connect moves on
 * to the next resolved address. Otherwise the caller hears on_error. */
static void conn_fail(struct conn *c, enum sl_upstream_err err, const char *msg) {
  struct sl_upstream_req *r = c->req;
  bool reused = c->reused;
  unsigned idx = c->addr_idx;
  conn_close(c, false);
  if (!r) return;
  struct sl_upstream_pool *p = r->pool;
  if (err == SL_UP_RESET && reused && !r->got_bytes && !r->retried) {
    r->retried = true;
    r->addr_tries = 0;
    if (req_connect(r) == 0) return;
  } else if (err == SL_UP_CONNECT && !reused && ++r->addr_tries < p->naddrs) {
    if (conn_open(r, (idx + 1) % p->naddrs) == 0) return;
  }
  req_final(r, err, msg);
}

/* Bytes after a complete response, not counting stray CR/LF (which some servers send
 * after a body and which are harmless). We send one request per connection at a time,
 * so any other byte there means the response's framing lied (Content-Length too short). */
static size_t stray_bytes(const char *p, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += p[i] != '\r' && p[i] != '\n';
  return k;
}

/* Feeds buffered response bytes to the parser. Returns true when all were consumed and
 * the exchange goes on; false when it ended, failed, was cancelled or paused. kick:
 * feed even when nothing is buffered, so llhttp can finish a response it was paused
 * in the middle of (e.g. paused in the last on_body). */
static bool conn_deliver(struct conn *c, bool kick) {
  if (c->req->paused) return false;
  while (c->rd_off < c->rd_len || kick) {
    size_t used = 0;
    kick = false;
    int rc = sl_upstream_parse_feed(&c->ps, c->buf + c->rd_off, c->rd_len - c->rd_off, &used);
    c->rd_off += used;
    if (c->state != C_ACTIVE) return false; /* closed from inside a callback */
    if (rc == SL_UP_PARSE_DONE) {
      size_t extra = stray_bytes(c->buf + c->rd_off, c->rd_len - c->rd_off);
      if (extra) { /* nothing was asked for after this response: the length was a lie */
        char msg[128];
        snprintf(msg, sizeof msg, "upstream sent %zu bytes past the end of its response "
                 "(body longer than its Content-Length?)", extra);
        conn_fail(c, SL_UP_PROTOCOL, msg);
        return false;
      }
      conn_finish(c, c->rd_off < c->rd_len || (c->tls && sl_tls_conn_has_input(c->tls)));
      return false;
    }
    if (rc < 0) {
      conn_fail(c, SL_UP_PROTOCOL, c->ps.err);
      return false;
    }
    if (rc == SL_UP_PARSE_PAUSED) {
      if (c->req->paused) return false;
      sl_upstream_parse_resume(&c->ps);
    }
  }
  c->rd_off = c->rd_len = 0;
  return true;
}

static void conn_eof(struct conn *c) {
  if (!c->req->got_bytes) {
    conn_fail(c, SL_UP_RESET, "connection closed before any response byte");
  } else if (sl_upstream_parse_eof(&c->ps) == SL_UP_PARSE_DONE) {
    conn_finish(c, true);
  } else {
    conn_fail(c, SL_UP_RESET, c->ps.err);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  struct conn *c = h->data;
  if (c->tls)
    *b = sl_tls_conn_rspace(c->tls);
  else if (c->buf || (c->buf = sl_pool_get(&c->pool->rbufs)))
    *b = uv_buf_init(c->buf, SL_UP_READ_BUF);
  else
    *b = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS to on_read */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  struct conn *c = s->data;
  char msg[160];
  if (nread == 0 || c->state == C_CLOSING) return;
  if (c->state == C_IDLE) { /* the server closed it, or sent bytes nobody asked for */
    conn_close(c, false);
    return;
  }
  if (nread < 0) {
    if (c->state == C_HANDSHAKE) {
      snprintf(msg, sizeof msg, "connection %s during the TLS handshake",
               nread == UV_EOF ? "closed" : uv_strerror((int)nread));
      conn_fail(c, SL_UP_TLS, msg);
    } else if (nread == UV_EOF) {
      conn_eof(c);
    } else {
      snprintf(msg, sizeof msg, "read failed: %s", uv_strerror((int)nread));
      conn_fail(c, SL_UP_RESET, msg);
    }
    return;
  }
  if (c->tls) {
    sl_tls_conn_rcommit(c->tls, (size_t)nread);
    tls_process(c);
    return;
  }
  c->req->got_bytes = true;
  c->rd_off = 0;
  c->rd_len = (size_t)nread;
  conn_deliver(c, false);
}

/* Starts writing the request on a connected (and, for TLS, handshaken) connection.
 * Plain mode tries the socket first (uv_try_write): a request the socket takes whole
 * costs one syscall and leaves no write in flight (a queued uv_write on a stream that is
 * also reading costs an epoll_ctl when it completes). The rest is queued with uv_write,
 * from an adjusted copy of r->bufs (libuv copies the array; the bytes stay the caller's
 * until the request ends; r->bufs itself stays whole for a retry). An error other than
 * EAGAIN queues everything, so it is reported through on_write as before. */
#define SEND_IOV 16
static int conn_send(struct conn *c, char *err, size_t errlen) {
  struct sl_upstream_req *r = c->req;
  if (c->tls) return tls_pump(c, err, errlen);
  int rc, n = uv_try_write((uv_stream_t *)&c->tcp, r->bufs, (unsigned)r->nbufs);
  size_t done = n > 0 ? (size_t)n : 0, i = 0;
  while (i < r->nbufs && done >= r->bufs[i].len) done -= r->bufs[i++].len;
  if (i == r->nbufs) return 0; /* all taken: nothing in flight */
  if (i == 0 && done == 0) {
    rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, r->bufs, (unsigned)r->nbufs, on_write);
  } else {
    uv_buf_t local[SEND_IOV], *rest = r->nbufs - i <= SEND_IOV ? local : malloc((r->nbufs - i) * sizeof *rest);
    if (!rest) {
      snprintf(err, errlen, "write failed: out of memory");
      return UV_ENOMEM;
    }
    for (size_t k = i; k < r->nbufs; k++) rest[k - i] = r->bufs[k];
    rest[0].base += done;
    rest[0].len -= done;
    rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, rest, (unsigned)(r->nbufs - i), on_write);
    if (rest != local) free(rest);
  }
  if (rc) {
    snprintf(err, errlen, "write failed: %s", uv_strerror(rc));
    return rc;
  }
  c->writing = true;
  return 0;
}

static void on_write(uv_write_t *w, int status) {
  struct conn *c = container_of(w, struct conn, wreq);
  char msg[256];
  c->writing = false;
  if (c->tls) sl_tls_conn_out_release(c->tls);
  if (c->state == C_CLOSING) return;
  if (status < 0) {
    if (c->state == C_ACTIVE && c->req && c->req->got_bytes) {
      c->broken = true; /* the response started: let the read side finish or fail it */
      return;
    }
    snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(status));
    conn_fail(c, c->state == C_HANDSHAKE ? SL_UP_TLS : SL_UP_RESET, msg);
    return;
  }
  if (!c->tls) return;
  int rc = (c->state == C_ACTIVE && c->req && !c->broken) ? tls_pump(c, msg, sizeof msg)
                                                         : tls_flush(c, msg, sizeof msg);
  if (rc) conn_fail(c, c->state == C_HANDSHAKE ? SL_UP_TLS : SL_UP_RESET, msg);
}

static void on_connect(uv_connect_t *cr, int status) {
  struct conn *c = container_of(cr, struct conn, creq);
  struct sl_upstream_pool *p = c->pool;
  char msg[512];
  if (c->state != C_CONNECTING) return; /* closed meanwhile (UV_ECANCELED) */
  if (status < 0) {
    snprintf(msg, sizeof msg, "connect to %s port %u failed: %s", p->host, p->port,
             uv_strerror(status));
    conn_fail(c, status == UV_ETIMEDOUT ? SL_UP_CONNECT_TIMEOUT : SL_UP_CONNECT, msg);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 60);
  if (!p->tls) {
    uv_timer_stop(&c->timer);
    c->state = C_ACTIVE;
    conn_update_reading(c);
    if (conn_send(c, msg, sizeof msg)) conn_fail(c, SL_UP_RESET, msg);
    return;
  }
  c->state = C_HANDSHAKE; /* the connect timer keeps running: it bounds the handshake too */
  if (sl_tls_conn_new(p->tls_ctx, p->host, p->sess, &c->tls, msg, sizeof msg)) {
    conn_fail(c, SL_UP_TLS, msg);
    return;
  }
  conn_update_reading(c);
  tls_process(c); /* sends the ClientHello */
}

static void on_timer(uv_timer_t *t) {
  struct conn *c = t->data;
  struct sl_upstream_pool *p = c->pool;
  char msg[512];
  if (c->state == C_CLOSING) return;
  if (c->pending_err) {
    int e = c->pending_err;
    bool connecting = c->state == C_CONNECTING;
    c->pending_err = 0;
    snprintf(msg, sizeof msg, "%s %s port %u: %s", connecting ? "cannot connect to" : "socket error on",
             p->host, p->port, uv_strerror(e));
    conn_fail(c, connecting ? SL_UP_CONNECT : SL_UP_RESET, msg);
    return;
  }
  switch (c->state) {
  case C_CONNECTING:
  case C_HANDSHAKE:
    snprintf(msg, sizeof msg, "%s %s port %u timed out after %llu ms",
             c->state == C_CONNECTING ? "connect to" : "TLS handshake with", p->host, p->port,
             (unsigned long long)p->connect_timeout_ms);
    conn_fail(c, SL_UP_CONNECT_TIMEOUT, msg);
    break;
  case C_IDLE:
    conn_close(c, true);
    break;
  case C_ACTIVE: /* a drain scheduled by resume */
    if (!c->drain_pending || c->req->paused) break;
    c->drain_pending = false;
    if (c->tls)
      tls_drain(c, true);
    else if (conn_deliver(c, true))
      conn_update_reading(c);
    break;
  case C_CLOSING:
    break;
  }
}

static int conn_open(struct sl_upstream_req *r, unsigned idx) {
  struct sl_upstream_pool *p = r->pool;
  struct conn *c = malloc(sizeof *c);
  if (!c) return -ENOMEM;
  memset(c, 0, offsetof(struct conn, ps));
  c->buf = NULL; /* after ps: not cleared above */
  int rc = uv_tcp_init(p->loop, &c->tcp);
  if (rc) {
    free(c);
    return rc;
  }
  uv_timer_init(p->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->pool = p;
  pool_ref(p);
  c->state = C_CONNECTING;
  c->addr_idx = idx;
  list_insert(&p->busy, &c->link);
  conn_attach(c, r);
  rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&p->addrs[idx], on_connect);
  if (rc) {
    c->pending_err = rc; /* reported from the timer, never from inside send */
    uv_timer_start(&c->timer, on_timer, 0, 0);
  } else {
    uv_timer_start(&c->timer, on_timer, p->connect_timeout_ms, 0);
  }
  return 0;
}

/* ---- TLS mode ---- */

static int tls_flush(struct conn *c, char *err, size_t errlen) {
  uv_buf_t b;
  if (c->writing || sl_tls_conn_out_take(c->tls, &b) != 0) return 0;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc) {
    sl_tls_conn_out_release(c->tls);
    snprintf(err, errlen, "write failed: %s", uv_strerror(rc));
    return rc;
  }
  c->writing = true;
  return 0;
}

/* Encrypts the request in batches of about SL_UP_TLS_WBATCH; on_write calls again. */
static int tls_pump(struct conn *c, char *err, size_t errlen) {
  struct sl_upstream_req *r = c->req;
  while (r && c->w_idx < r->nbufs && sl_tls_conn_out_pending(c->tls) < SL_UP_TLS_WBATCH) {
    const uv_buf_t *b = &r->bufs[c->w_idx];
    if (c->w_off >= b->len) {
      c->w_idx++;
      c->w_off = 0;
      continue;
    }
    int n = sl_tls_conn_write(c->tls, b->base + c->w_off, b->len - c->w_off, err, errlen);
    if (n < 0) return n;
    if (n == 0) break;
    c->w_off += (size_t)n;
  }
  return tls_flush(c, err, errlen);
}

static void tls_process(struct conn *c) {
  char msg[768];
  if (c->state == C_HANDSHAKE) {
    int rc = sl_tls_conn_handshake(c->tls, msg, sizeof msg);
    if (rc == 0 || rc == -EAGAIN) {
      if (tls_flush(c, msg, sizeof msg)) {
        conn_fail(c, SL_UP_TLS, msg);
        return;
      }
      if (rc == -EAGAIN) return;
    } else {
      conn_fail(c, SL_UP_TLS, msg);
      return;
    }
    uv_timer_stop(&c->timer);
    c->state = C_ACTIVE;
    sl_tls_session_save(c->tls, &c->pool->sess);
    if (tls_pump(c, msg, sizeof msg)) {
      conn_fail(c, SL_UP_RESET, msg);
      return;
    }
    conn_update_reading(c);
  }
  tls_drain(c, false);
}

/* Decrypts and delivers until mbedtls needs more ciphertext, the caller pauses, or the
 * exchange ends. */
static void tls_drain(struct conn *c, bool kick) {
  char msg[256];
  while (c->state == C_ACTIVE) {
    if ((c->rd_off < c->rd_len || kick) && !conn_deliver(c, kick)) return;
    kick = false;
    if (c->req->paused) return;
    if (!c->buf && !(c->buf = sl_pool_get(&c->pool->rbufs))) {
      conn_fail(c, SL_UP_RESET, "out of memory for a read buffer");
      return;
    }
    int n = sl_tls_conn_read(c->tls, c->buf, SL_UP_READ_BUF, msg, sizeof msg);
    if (n > 0) {
      c->req->got_bytes = true;
      c->rd_off = 0;
      c->rd_len = (size_t)n;
      continue;
    }
    if (n == 0) break;
    if (n == -EPIPE) {
      conn_eof(c);
      return;
    }
    conn_fail(c, SL_UP_TLS, msg);
    return;
  }
  if (c->state == C_ACTIVE) {
    if (tls_flush(c, msg, sizeof msg)) {
      conn_fail(c, SL_UP_RESET, msg);
      return;
    }
    conn_update_reading(c);
  }
}

/* ---- DNS ---- */

static void on_gai(uv_getaddrinfo_t *g, int status, struct addrinfo *res);

static int dns_start(struct sl_upstream_pool *p) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = uv_getaddrinfo(p->loop, &p->gai, on_gai, p->host, p->port_str, &hints);
  if (rc) return rc;
  p->gai_busy = true;
  pool_ref(p);
  return 0;
}

static void on_gai(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  struct sl_upstream_pool *p = container_of(g, struct sl_upstream_pool, gai);
  unsigned gen = p->dns_gen++;
  char msg[320];
  p->gai_busy = false;
  if (p->destroyed) { /* waiters were released by destroy */
    uv_freeaddrinfo(res);
    pool_unref(p);
    return;
  }
  if (status == 0) {
    unsigned n = 0;
    for (struct addrinfo *a = res; a && n < SL_UP_MAX_ADDRS; a = a->ai_next) {
      if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
          a->ai_addrlen > sizeof p->addrs[0])
        continue;
      memcpy(&p->addrs[n++], a->ai_addr, a->ai_addrlen);
    }
    if (n) {
      p->naddrs = n;
      p->dns_expiry = uv_now(p->loop) + SL_UP_DNS_TTL_MS;
    } else {
      status = UV_EAI_NODATA;
    }
  }
  uv_freeaddrinfo(res);
  if (status != 0 && p->naddrs > 0) { /* resolver trouble: keep using the stale answer a bit */
    p->dns_expiry = uv_now(p->loop) + SL_UP_DNS_TTL_MS / 6;
    status = 0;
  }
  if (status) snprintf(msg, sizeof msg, "cannot resolve %s: %s", p->host, uv_strerror(status));
  /* Only the requests that waited for this lookup; ones queued from inside callbacks
   * below carry the next generation and wait for the next lookup. */
  while (!list_empty(&p->dns_wait) && !p->destroyed) {
    struct sl_upstream_req *r = container_of(p->dns_wait.next, struct sl_upstream_req, link);
    if (r->dns_gen != gen) break;
    list_unlink(&r->link);
    r->state = R_CONN;
    int rc = status;
    if (status == 0) {
      rc = conn_open(r, p->rr++ % p->naddrs);
      if (rc) snprintf(msg, sizeof msg, "cannot open a connection: %s", uv_strerror(rc));
    }
    if (rc) req_final(r, status ? SL_UP_DNS : SL_UP_CONNECT, msg);
  }
  if (!p->destroyed && !p->gai_busy && !list_empty(&p->dns_wait)) {
    int rc = dns_start(p);
    if (rc) {
      snprintf(msg, sizeof msg, "cannot resolve %s: %s", p->host, uv_strerror(rc));
      unsigned g2 = p->dns_gen++;
      while (!list_empty(&p->dns_wait) && !p->destroyed) {
        struct sl_upstream_req *r = container_of(p->dns_wait.next, struct sl_upstream_req, link);
        if (r->dns_gen != g2) break;
        list_unlink(&r->link);
        req_final(r, SL_UP_DNS, msg);
      }
    }
  }
  pool_unref(p);
}

static int req_connect(struct sl_upstream_req *r) {
  struct sl_upstream_pool *p = r->pool;
  if (p->literal || (p->naddrs > 0 && uv_now(p->loop) < p->dns_expiry))
    return conn_open(r, p->rr++ % p->naddrs);
  r->state = R_DNS;
  r->dns_gen = p->dns_gen;
  list_insert(p->dns_wait.prev, &r->link); /* append: FIFO */
  if (!p->gai_busy) {
    int rc = dns_start(p);
    if (rc) {
      list_unlink(&r->link);
      r->state = R_CONN;
      return rc;
    }
  }
  return 0;
}

/* ---- public API ---- */

int sl_upstream_host_header(const char *host, uint16_t port, bool tls, char *out, size_t cap) {
  int n = snprintf(out, cap, strchr(host, ':') ? "[%s]" : "%s", host);
  if (n >= 0 && (size_t)n < cap && port != (tls ? 443 : 80))
    n += snprintf(out + n, cap - (size_t)n, ":%u", (unsigned)port);
  return n;
}

int sl_upstream_pool_create(uv_loop_t *loop, const struct sl_upstream_pool_opts *o,
                            struct sl_upstream_pool **out) {
  *out = NULL;
  if (!loop || !o || !o->host || o->port == 0 || (o->tls && !o->tls_ctx)) return -EINVAL;
  const char *host = o->host;
  size_t hlen = strlen(host);
  if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
    host++;
    hlen -= 2;
  }
  if (hlen == 0 || hlen > SL_UP_HOST_MAX || has_crlf(host, hlen) || memchr(host, ' ', hlen) ||
      memchr(host, '/', hlen) || memchr(host, '[', hlen))
    return -EINVAL;
  struct sl_upstream_pool *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  memcpy(p->host, host, hlen);
  p->host[hlen] = '\0';
  p->loop = loop;
  p->tls = o->tls;
  p->tls_ctx = o->tls ? o->tls_ctx : NULL;
  if (p->tls_ctx) sl_tls_ctx_ref(p->tls_ctx);
  p->port = o->port;
  p->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
  p->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 30000;
  p->max_idle = o->max_idle ? o->max_idle : 32;
  p->rbufs = (struct sl_pool){.block_size = SL_UP_READ_BUF, .max_free = 4};
  p->refs = 1;
  list_init(&p->idle);
  list_init(&p->busy);
  list_init(&p->dns_wait);
  list_init(&p->free_reqs);
  snprintf(p->port_str, sizeof p->port_str, "%u", (unsigned)o->port);
  bool v6 = memchr(p->host, ':', hlen) != NULL;
  if (uv_ip4_addr(p->host, o->port, (struct sockaddr_in *)&p->addrs[0]) == 0 ||
      (v6 && uv_ip6_addr(p->host, o->port, (struct sockaddr_in6 *)&p->addrs[0]) == 0)) {
    p->literal = true;
    p->naddrs = 1;
  }
  p->host_hdr_len = (size_t)sl_upstream_host_header(p->host, o->port, o->tls, p->host_hdr, sizeof p->host_hdr);
  *out = p;
  return 0;
}

void sl_upstream_pool_destroy(struct sl_upstream_pool *p) {
  if (!p || p->destroyed) return;
  p->destroyed = true;
  while (!list_empty(&p->dns_wait)) {
    struct sl_upstream_req *r = container_of(p->dns_wait.next, struct sl_upstream_req, link);
    list_unlink(&r->link);
    req_release(r);
  }
  if (p->gai_busy) uv_cancel((uv_req_t *)&p->gai);
  while (!list_empty(&p->idle)) conn_close(container_of(p->idle.next, struct conn, link), true);
  while (!list_empty(&p->busy)) {
    struct conn *c = container_of(p->busy.next, struct conn, link);
    struct sl_upstream_req *r = c->req;
    conn_close(c, false);
    if (r) req_release(r);
  }
  pool_unref(p);
}

unsigned sl_upstream_pool_idle(const struct sl_upstream_pool *p) {
  return p->nidle;
}

static int req_dispatch(struct sl_upstream_req *r) {
  struct sl_upstream_pool *p = r->pool;
  char msg[256];
  while (!list_empty(&p->idle)) {
    struct conn *c = container_of(p->idle.next, struct conn, link);
    list_unlink(&c->link);
    list_insert(&p->busy, &c->link);
    p->nidle--;
    uv_timer_stop(&c->timer);
    c->state = C_ACTIVE;
    conn_attach(c, r);
    if (conn_send(c, msg, sizeof msg) == 0) {
      conn_update_reading(c);
      return 0;
    }
    conn_close(c, false); /* detaches r; try the next one */
  }
  return req_connect(r);
}

int sl_upstream_send(struct sl_upstream_pool *p, const char *method, const char *path,
                     const struct sl_header *h, size_t nh, const uv_buf_t *body, size_t nbody,
                     const struct sl_upstream_cbs *cbs, void *ud, struct sl_upstream_req **out) {
  if (out) *out = NULL;
  if (!p || p->destroyed || !method || !path || !cbs || !cbs->on_done || !cbs->on_error ||
      (nh && !h) || (nbody && !body))
    return -EINVAL;
  struct sl_upstream_req *r = req_alloc(p);
  if (!r) return -ENOMEM;
  int rc = req_format(r, method, path, h, nh, body, nbody);
  if (rc == 0) {
    r->cbs = *cbs;
    r->ud = ud;
    rc = req_dispatch(r);
  }
  if (rc) {
    req_release(r);
    return rc;
  }
  if (out) *out = r;
  return 0;
}

void sl_upstream_cancel(struct sl_upstream_req *r) {
  if (!r || r->state == R_FREE || r->state == R_FINAL) return;
  if (r->state == R_DNS)
    list_unlink(&r->link);
  else if (r->conn)
    conn_close(r->conn, false); /* the upstream sees the close and stops generating */
  req_release(r);
}

void sl_upstream_pause(struct sl_upstream_req *r) {
  if (!r || r->state == R_FREE || r->state == R_FINAL || r->paused) return;
  r->paused = true;
  struct conn *c = r->conn;
  if (!c) return;
  c->ps.stop = true; /* inside a parser callback: llhttp stops right after it */
  conn_update_reading(c);
}

void sl_upstream_resume(struct sl_upstream_req *r) {
  if (!r || r->state == R_FREE || r->state == R_FINAL || !r->paused) return;
  r->paused = false;
  struct conn *c = r->conn;
  if (!c) return;
  sl_upstream_parse_resume(&c->ps);
  if (c->state == C_ACTIVE) { /* buffered bytes first, from the loop, not from here */
    c->drain_pending = true;
    uv_timer_start(&c->timer, on_timer, 0, 0);
  }
}
