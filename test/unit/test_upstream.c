/* Unit tests of the upstream client (net/upstream.c, net/upstream_parse.c, net/tls.c).
 * The parser is driven directly with byte strings; the client talks to a small libuv
 * HTTP server running in the same loop on 127.0.0.1 that answers with canned responses
 * (content-length, chunked in many timed pieces, read-until-close, resets, endless
 * streams). TLS is checked against `openssl s_server` child processes with a throwaway
 * CA made by the openssl CLI, and against a small mbedtls keep-alive server thread.
 * Every test runs on a fresh loop and ends by requiring uv_loop_close() to succeed, so
 * a handle left open is a failure. Nothing leaves loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "check.h"
#include "net/upstream.h"
#include "net/upstream_parse.h"

/* ---- loop helpers ---- */

static uv_loop_t loop_;
static uv_loop_t *L;
static uv_timer_t wake;
static int in_send; /* set while inside sl_upstream_send: callbacks must not run */

static void wake_cb(uv_timer_t *t) {
  (void)t;
}

static void loop_begin(void) {
  uv_loop_init(&loop_);
  L = &loop_;
  uv_timer_init(L, &wake);
}

#define RUN_UNTIL(expr, ms)                                  \
  do {                                                       \
    uint64_t dl_ = uv_now(L) + (ms);                         \
    uv_timer_start(&wake, wake_cb, 5, 5);                    \
    while (!(expr) && uv_now(L) < dl_) uv_run(L, UV_RUN_ONCE); \
    uv_timer_stop(&wake);                                    \
  } while (0)

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  fprintf(stderr, "  open handle: %s%s\n", uv_handle_type_name(h->type),
          uv_is_closing(h) ? " (closing)" : "");
}

/* Closes the helper timer, lets pending closes finish, and requires an empty loop. */
static void loop_end(void) {
  uv_close((uv_handle_t *)&wake, NULL);
  for (int i = 0; i < 2000 && uv_loop_alive(L); i++) {
    uv_run(L, UV_RUN_NOWAIT);
    if (uv_loop_alive(L)) usleep(1000);
  }
  int rc = uv_loop_close(L);
  if (rc) uv_walk(L, walk_cb, NULL);
  CHECK(rc == 0);
}

/* ---- the canned HTTP server ---- */

enum mode {
  M_CL,          /* 200, Content-Length: 5, "hello", keep-alive */
  M_CLOSE_AFTER, /* like M_CL but closes the connection after writing (no Connection: close) */
  M_CHUNKED,     /* chunked "hello world" in many small writes, one per timer tick */
  M_EOF,         /* no length: the body ends when the server closes */
  M_RESET_MID,   /* Content-Length: 1000, 7 bytes, then RST */
  M_STREAM,      /* chunked, one chunk every 2 ms, forever */
  M_CHUNKS_ONE,  /* three chunks in a single write */
  M_BIG,         /* Content-Length: BIG_LEN in one write */
  M_100,         /* 100 Continue, then 200 */
  M_GARBAGE,     /* not HTTP */
  M_SILENT,      /* reads, never answers */
  M_HEAD,        /* 200 with Content-Length: 5 and no body (answer to HEAD) */
  M_CL_LONG,     /* Content-Length: 5 but 25 body bytes in the same write */
  M_CL_CRLF,     /* Content-Length: 5, then a stray CRLF (tolerated) */
  M_SINK,        /* request bodies of any size are hashed as they stream in, then M_CL */
};

#define BIG_LEN (1u << 20)

struct srv {
  uv_tcp_t tcp;
  int port;
  enum mode mode;
  int accepted, requests, peer_closed, writes_done, open;
  char last_req[8192];
  size_t last_req_len;
  size_t sink_len;    /* M_SINK: the last request body's length and FNV-1a hash */
  uint64_t sink_hash;
  bool closing;
  struct sconn *conns;
};

struct sconn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  struct srv *s;
  struct sconn *next;
  char buf[16384];
  size_t len;
  size_t sink_left; /* M_SINK: body bytes still to come */
  int step, nclosing;
  bool closing;
};

struct swrite {
  uv_write_t req;
  struct sconn *sc;
  int after; /* 0 nothing, 1 close, 2 reset */
  char data[];
};

static char *big_body;

static void sconn_closed(uv_handle_t *h) {
  struct sconn *sc = h->data;
  if (--sc->nclosing) return;
  struct srv *s = sc->s;
  for (struct sconn **pp = &s->conns; *pp; pp = &(*pp)->next)
    if (*pp == sc) {
      *pp = sc->next;
      break;
    }
  s->open--;
  free(sc);
}

static void sconn_close(struct sconn *sc, bool reset) {
  if (sc->closing) return;
  sc->closing = true;
  sc->nclosing = 2;
  if (reset)
    uv_tcp_close_reset(&sc->tcp, sconn_closed);
  else
    uv_close((uv_handle_t *)&sc->tcp, sconn_closed);
  uv_close((uv_handle_t *)&sc->timer, sconn_closed);
}

static void swrite_cb(uv_write_t *w, int status) {
  struct swrite *sw = (struct swrite *)w;
  struct sconn *sc = sw->sc;
  sc->s->writes_done++;
  if (status == 0 && sw->after && !sc->closing) sconn_close(sc, sw->after == 2);
  free(sw);
}

static void swrite(struct sconn *sc, const char *p, size_t n, int after) {
  if (sc->closing) return;
  struct swrite *sw = malloc(sizeof *sw + n);
  memcpy(sw->data, p, n);
  sw->sc = sc;
  sw->after = after;
  uv_buf_t b = uv_buf_init(sw->data, (unsigned)n);
  if (uv_write(&sw->req, (uv_stream_t *)&sc->tcp, &b, 1, swrite_cb)) free(sw);
}

static void swrites(struct sconn *sc, const char *p, int after) {
  swrite(sc, p, strlen(p), after);
}

static const char *chunked_pieces[] = {
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Test:  padded \r\n\r\n",
    "5\r\nhel", "lo\r\n", "6\r", "\n worl", "d\r\n0\r\n", "Trailer-X: t\r\n", "\r\n", NULL};

static void stimer_cb(uv_timer_t *t) {
  struct sconn *sc = t->data;
  if (sc->s->mode == M_CHUNKED) {
    const char *piece = chunked_pieces[sc->step++];
    if (!piece) {
      uv_timer_stop(t);
      return;
    }
    swrites(sc, piece, 0);
  } else if (sc->s->mode == M_STREAM) {
    swrites(sc, "9\r\ndata: x\n\n\r\n", 0);
  } else if (sc->s->mode == M_EOF) {
    swrites(sc, "and the rest", 1);
    uv_timer_stop(t);
  }
}

static void respond(struct sconn *sc) {
  switch (sc->s->mode) {
  case M_CL:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello", 0);
    break;
  case M_CLOSE_AFTER:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1);
    break;
  case M_CHUNKED:
    sc->step = 0;
    uv_timer_start(&sc->timer, stimer_cb, 1, 1);
    break;
  case M_EOF:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ", 0);
    uv_timer_start(&sc->timer, stimer_cb, 5, 0);
    break;
  case M_RESET_MID:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial", 2);
    break;
  case M_STREAM:
    swrites(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0);
    uv_timer_start(&sc->timer, stimer_cb, 2, 2);
    break;
  case M_CHUNKS_ONE:
    swrites(sc,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n",
            0);
    break;
  case M_BIG: {
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG_LEN);
    swrite(sc, head, (size_t)n, 0);
    swrite(sc, big_body, BIG_LEN, 0);
    break;
  }
  case M_100:
    swrites(sc, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    break;
  case M_GARBAGE:
    swrites(sc, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0);
    break;
  case M_SILENT:
    break;
  case M_HEAD:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0);
    break;
  case M_CL_LONG:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and 20 more bytes", 0);
    break;
  case M_CL_CRLF:
    swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\r\n", 0);
    break;
  case M_SINK: /* answered by sink_read */
    break;
  }
}

static void salloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  struct sconn *sc = h->data;
  (void)hint;
  *b = uv_buf_init(sc->buf + sc->len, (unsigned)(sizeof sc->buf - sc->len));
}

#define FNV_BASIS 14695981039346656037ull
static uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

/* M_SINK: heads are parsed from sc->buf, bodies hashed and dropped as they arrive. */
static void sink_read(struct sconn *sc) {
  struct srv *s = sc->s;
  for (;;) {
    if (sc->sink_left) {
      size_t k = sc->len < sc->sink_left ? sc->len : sc->sink_left;
      s->sink_hash = fnv(s->sink_hash, sc->buf, k);
      s->sink_len += k;
      sc->sink_left -= k;
      memmove(sc->buf, sc->buf + k, sc->len - k);
      sc->len -= k;
      if (sc->sink_left) return;
      s->requests++;
      swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0);
      continue;
    }
    char *end = memmem(sc->buf, sc->len, "\r\n\r\n", 4);
    if (!end) {
      if (sc->len == sizeof sc->buf) sconn_close(sc, false);
      return;
    }
    size_t head = (size_t)(end + 4 - sc->buf);
    char *cl = memmem(sc->buf, head, "Content-Length: ", 16);
    sc->sink_left = cl ? strtoul(cl + 16, NULL, 10) : 0;
    s->sink_len = 0;
    s->sink_hash = FNV_BASIS;
    memmove(sc->buf, sc->buf + head, sc->len - head);
    sc->len -= head;
    if (!sc->sink_left) {
      s->requests++;
      swrites(sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0);
    }
  }
}

static void sread(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct sconn *sc = st->data;
  (void)b;
  if (n < 0) {
    sc->s->peer_closed++;
    sconn_close(sc, false);
    return;
  }
  sc->len += (size_t)n;
  if (sc->s->mode == M_SINK) {
    sink_read(sc);
    return;
  }
  for (;;) { /* complete requests: head + Content-Length body */
    char *end = memmem(sc->buf, sc->len, "\r\n\r\n", 4);
    if (!end) break;
    size_t head = (size_t)(end + 4 - sc->buf), body = 0;
    char *cl = memmem(sc->buf, head, "Content-Length: ", 16);
    if (cl) body = strtoul(cl + 16, NULL, 10);
    if (sc->len < head + body) break;
    struct srv *s = sc->s;
    s->last_req_len = head + body < sizeof s->last_req ? head + body : sizeof s->last_req - 1;
    memcpy(s->last_req, sc->buf, s->last_req_len);
    s->last_req[s->last_req_len] = '\0';
    s->requests++;
    memmove(sc->buf, sc->buf + head + body, sc->len - head - body);
    sc->len -= head + body;
    respond(sc);
  }
  if (sc->len == sizeof sc->buf) sconn_close(sc, false);
}

static void on_conn(uv_stream_t *l, int status) {
  struct srv *s = l->data;
  if (status < 0) return;
  struct sconn *sc = calloc(1, sizeof *sc);
  sc->s = s;
  uv_tcp_init(L, &sc->tcp);
  uv_timer_init(L, &sc->timer);
  sc->tcp.data = sc->timer.data = sc;
  if (uv_accept(l, (uv_stream_t *)&sc->tcp)) {
    sc->nclosing = 2;
    uv_close((uv_handle_t *)&sc->tcp, sconn_closed);
    uv_close((uv_handle_t *)&sc->timer, sconn_closed);
    s->open++;
    sc->next = s->conns;
    s->conns = sc;
    return;
  }
  s->accepted++;
  s->open++;
  sc->next = s->conns;
  s->conns = sc;
  uv_read_start((uv_stream_t *)&sc->tcp, salloc, sread);
}

static void srv_start(struct srv *s, enum mode m) {
  memset(s, 0, sizeof *s);
  s->mode = m;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(L, &s->tcp);
  s->tcp.data = s;
  uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&s->tcp, 64, on_conn);
  int len = sizeof a;
  uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&a, &len);
  s->port = ntohs(a.sin_port);
}

static void srv_stop(struct srv *s) {
  uv_close((uv_handle_t *)&s->tcp, NULL);
  for (struct sconn *sc = s->conns; sc; sc = sc->next) sconn_close(sc, false);
}

/* ---- a client exchange ---- */

struct res {
  int status, heads, bodies, dones, errs, cb_in_send;
  enum sl_upstream_err err;
  char msg[1024];
  char xtest[64];
  char *body;
  size_t blen, bcap;
  bool cancel_in_head, cancel_in_body, pause_in_body, destroy_in_body;
  struct sl_upstream_req *req;
  struct sl_upstream_pool *pool;
  void (*after_done)(struct res *);
};

static void res_free(struct res *r) {
  free(r->body);
  memset(r, 0, sizeof *r);
}

static void cb_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct res *r = ud;
  r->cb_in_send += in_send;
  r->heads++;
  r->status = status;
  for (size_t i = 0; i < n; i++)
    if (h[i].name.n == 6 && !strncasecmp(h[i].name.p, "x-test", 6))
      snprintf(r->xtest, sizeof r->xtest, "%.*s", (int)h[i].value.n, h[i].value.p);
  if (r->cancel_in_head) sl_upstream_cancel(r->req);
}

static void cb_body(void *ud, const char *p, size_t n) {
  struct res *r = ud;
  r->cb_in_send += in_send;
  r->bodies++;
  if (r->blen + n > r->bcap) {
    r->bcap = (r->blen + n) * 2;
    r->body = realloc(r->body, r->bcap + 1);
  }
  memcpy(r->body + r->blen, p, n);
  r->blen += n;
  r->body[r->blen] = '\0';
  if (r->cancel_in_body) sl_upstream_cancel(r->req);
  if (r->destroy_in_body) sl_upstream_pool_destroy(r->pool);
  if (r->pause_in_body) sl_upstream_pause(r->req);
}

static void cb_done(void *ud) {
  struct res *r = ud;
  r->cb_in_send += in_send;
  r->dones++;
  sl_upstream_cancel(r->req); /* must be a no-op here */
  if (r->after_done) r->after_done(r);
}

static void cb_error(void *ud, enum sl_upstream_err e, const char *msg) {
  struct res *r = ud;
  r->cb_in_send += in_send;
  r->errs++;
  r->err = e;
  snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static const struct sl_upstream_cbs cbs = {cb_head, cb_body, cb_done, cb_error};

static int send_get(struct sl_upstream_pool *p, const char *method, struct res *r) {
  in_send = 1;
  int rc = sl_upstream_send(p, method, "/", NULL, 0, NULL, 0, &cbs, r, &r->req);
  in_send = 0;
  r->pool = p;
  return rc;
}

static struct sl_upstream_pool *pool_for(const char *host, int port) {
  struct sl_upstream_pool_opts o = {.host = host, .port = (uint16_t)port};
  struct sl_upstream_pool *p = NULL;
  CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
  return p;
}

#define FINISHED(r) ((r).dones + (r).errs > 0)

/* ---- parser tests (no sockets) ---- */

struct pres {
  int status, heads, dones, errs;
  size_t nh;
  char hdrs[512];
  char body[4096];
  size_t blen;
  enum sl_upstream_err err;
  bool stop_in_body, stop_in_head;
  struct sl_upstream_parse *ps;
};

static void p_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct pres *r = ud;
  r->heads++;
  r->status = status;
  r->nh = n;
  size_t o = 0;
  for (size_t i = 0; i < n && o < sizeof r->hdrs; i++)
    o += (size_t)snprintf(r->hdrs + o, sizeof r->hdrs - o, "%.*s=%.*s;", (int)h[i].name.n,
                          h[i].name.p, (int)h[i].value.n, h[i].value.p);
  if (r->stop_in_head) r->ps->stop = true;
}

static void p_body(void *ud, const char *p, size_t n) {
  struct pres *r = ud;
  if (r->blen + n < sizeof r->body) memcpy(r->body + r->blen, p, n);
  r->blen += n;
  r->body[r->blen < sizeof r->body ? r->blen : 0] = '\0';
  if (r->stop_in_body) r->ps->stop = true;
}

static void p_done(void *ud) {
  ((struct pres *)ud)->dones++;
}

static void p_error(void *ud, enum sl_upstream_err e, const char *msg) {
  struct pres *r = ud;
  (void)msg;
  r->errs++;
  r->err = e;
}

static const struct sl_upstream_cbs pcbs = {p_head, p_body, p_done, p_error};

static void parse_one(const char *s, bool eof, bool head_req, struct pres *r) {
  memset(r, 0, sizeof *r);
  sl_upstream_parse_run(s, strlen(s), eof, head_req, &pcbs, r);
}

static void test_parse_content_length(void) {
  struct pres r;
  parse_one("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1 \r\nx-b:\r\n\r\nhello", false, false, &r);
  CHECK(r.heads == 1 && r.status == 200 && r.dones == 1 && r.errs == 0);
  CHECK_STR(r.body, "hello");
  CHECK_STR(r.hdrs, "Content-Length=5;X-A=1;x-b=;");
}

static void test_parse_chunked_bytewise(void) {
  const char *s = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Long: abc\r\n\r\n"
                  "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: x\r\n\r\n";
  struct pres r;
  memset(&r, 0, sizeof r);
  struct sl_upstream_parse ps;
  sl_upstream_parse_init(&ps, &pcbs, &r, false);
  int rc = SL_UP_PARSE_MORE;
  size_t i, n = strlen(s);
  for (i = 0; i < n && rc == SL_UP_PARSE_MORE; i++) {
    size_t used;
    rc = sl_upstream_parse_feed(&ps, s + i, 1, &used);
    CHECK(used == 1);
  }
  CHECK(rc == SL_UP_PARSE_DONE && i == n);
  CHECK(r.status == 201);
  CHECK_STR(r.body, "hello world");
  CHECK_STR(r.hdrs, "Transfer-Encoding=chunked;X-Long=abc;"); /* trailer not a header */
  CHECK(ps.keep_alive);
}

static void test_parse_until_close(void) {
  struct pres r;
  parse_one("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<html>", true, false, &r);
  CHECK(r.dones == 1 && r.errs == 0);
  CHECK_STR(r.body, "<html>");
  parse_one("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true, false, &r);
  CHECK(r.dones == 0 && r.errs == 1 && r.err == SL_UP_RESET && r.heads == 1);
  parse_one("HTTP/1.1 200 OK\r\nContent-Le", true, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_RESET && r.heads == 0);
}

static void test_parse_interim_and_head(void) {
  struct pres r;
  parse_one("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false, false, &r);
  CHECK(r.heads == 1 && r.status == 200 && r.dones == 1);
  CHECK_STR(r.hdrs, "Content-Length=2;");
  CHECK_STR(r.body, "ok");
  parse_one("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, true, &r);
  CHECK(r.heads == 1 && r.dones == 1 && r.blen == 0);
  parse_one("HTTP/1.1 204 No Content\r\n\r\n", false, false, &r);
  CHECK(r.dones == 1);
  parse_one("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\nETag: x\r\n\r\n", false, false, &r);
  CHECK(r.dones == 1 && r.blen == 0);
  parse_one("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL);
  /* an interim response never has a body, whatever it claims */
  parse_one("HTTP/1.1 199 Odd\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false, false, &r);
  CHECK(r.heads == 1 && r.status == 200 && r.dones == 1 && !strcmp(r.body, "ok"));
  parse_one("HTTP/1.1 1 204 No Content\r\n\r\n", false, false, &r); /* status below 100 */
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL && r.heads == 0);
  /* interim responses are bounded: an endless run of them is a protocol error, not a
   * parser spinning until some timeout; up to the bound they are skipped */
  static char many[64 * (SL_UP_PARSE_MAX_INTERIM + 2) + 64];
  size_t o = 0;
  for (int i = 0; i < SL_UP_PARSE_MAX_INTERIM; i++) o += (size_t)sprintf(many + o, "HTTP/1.1 103 Early Hints\r\n\r\n");
  strcpy(many + o, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  parse_one(many, false, false, &r);
  CHECK(r.heads == 1 && r.status == 200 && r.dones == 1 && r.errs == 0);
  o += (size_t)sprintf(many + o, "HTTP/1.1 100 Continue\r\n\r\n");
  strcpy(many + o, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  parse_one(many, false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL && r.heads == 0);
}

static void test_parse_errors_and_limits(void) {
  struct pres r;
  parse_one("garbage\r\n\r\n", false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL && r.heads == 0);
  parse_one("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL);
  parse_one("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL);
  /* a head bigger than the bound fails cleanly */
  size_t n = SL_UP_PARSE_HEAD_MAX + 100;
  char *big = malloc(n + 64);
  if (!big) {
    CHECK(!"malloc");
    return;
  }
  int o = sprintf(big, "HTTP/1.1 200 OK\r\nX-Big: ");
  memset(big + o, 'a', n);
  strcpy(big + o + n, "\r\n\r\n");
  parse_one(big, false, false, &r);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL && r.heads == 0);
  /* too many headers */
  o = sprintf(big, "HTTP/1.1 200 OK\r\n");
  for (int i = 0; i < SL_UP_PARSE_MAX_HEADERS + 1; i++) o += sprintf(big + o, "a:b\r\n");
  strcpy(big + o, "\r\n");
  parse_one(big, false, false, &r);
  CHECK(r.errs == 1 && r.heads == 0);
  free(big);
}

static void test_parse_leftover_and_stop(void) {
  const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
  struct pres r;
  memset(&r, 0, sizeof r);
  struct sl_upstream_parse ps;
  sl_upstream_parse_init(&ps, &pcbs, &r, false);
  size_t used;
  int rc = sl_upstream_parse_feed(&ps, s, strlen(s), &used);
  CHECK(rc == SL_UP_PARSE_DONE && used == strlen(s) - 5);
  /* stopping in the last on_body, then resuming with no more bytes, ends the response */
  s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  memset(&r, 0, sizeof r);
  r.stop_in_body = true;
  r.ps = &ps;
  sl_upstream_parse_init(&ps, &pcbs, &r, false);
  rc = sl_upstream_parse_feed(&ps, s, strlen(s), &used);
  CHECK(rc == SL_UP_PARSE_PAUSED && used == strlen(s));
  r.stop_in_body = false;
  sl_upstream_parse_resume(&ps);
  rc = sl_upstream_parse_feed(&ps, s + used, 0, &used);
  CHECK(rc == SL_UP_PARSE_DONE && r.dones == 0 && r.blen == 2);
  /* stop between chunks: the rest is not consumed */
  s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n";
  memset(&r, 0, sizeof r);
  r.stop_in_body = true;
  r.ps = &ps;
  sl_upstream_parse_init(&ps, &pcbs, &r, false);
  rc = sl_upstream_parse_feed(&ps, s, strlen(s), &used);
  CHECK(rc == SL_UP_PARSE_PAUSED && r.blen == 1 && used < strlen(s));
  r.stop_in_body = false;
  sl_upstream_parse_resume(&ps);
  size_t used2;
  rc = sl_upstream_parse_feed(&ps, s + used, strlen(s) - used, &used2);
  CHECK(rc == SL_UP_PARSE_DONE && used + used2 == strlen(s));
  CHECK_STR(r.body, "ab");
  /* stopping in on_head, then resuming with no more bytes, for bodyless responses */
  const char *bodyless[] = {"HTTP/1.1 204 No Content\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n" /* HEAD */};
  for (int i = 0; i < 4; i++) {
    memset(&r, 0, sizeof r);
    r.stop_in_head = true;
    r.ps = &ps;
    sl_upstream_parse_init(&ps, &pcbs, &r, i == 3);
    rc = sl_upstream_parse_feed(&ps, bodyless[i], strlen(bodyless[i]), &used);
    CHECK(used == strlen(bodyless[i]) && r.heads == 1);
    if (rc == SL_UP_PARSE_PAUSED) {
      sl_upstream_parse_resume(&ps);
      rc = sl_upstream_parse_feed(&ps, bodyless[i] + used, 0, &used);
    }
    CHECK(rc == SL_UP_PARSE_DONE);
    if (rc != SL_UP_PARSE_DONE) printf("# bodyless %d: rc=%d err=%s\n", i, rc, ps.err ? ps.err : "");
  }
  /* stopping in on_head with the body in the same buffer */
  s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  memset(&r, 0, sizeof r);
  r.stop_in_head = true;
  r.ps = &ps;
  sl_upstream_parse_init(&ps, &pcbs, &r, false);
  rc = sl_upstream_parse_feed(&ps, s, strlen(s), &used);
  CHECK(rc == SL_UP_PARSE_PAUSED && r.blen == 0 && used == strlen(s) - 3);
  r.stop_in_head = false;
  sl_upstream_parse_resume(&ps);
  rc = sl_upstream_parse_feed(&ps, s + used, strlen(s) - used, &used2);
  CHECK(rc == SL_UP_PARSE_DONE && used2 == 3);
  CHECK_STR(r.body, "abc");
}

/* ---- plain client tests ---- */

static void test_content_length(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.errs == 0 && r.heads == 1 && r.status == 200);
  CHECK(r.blen == 5 && r.body && !strcmp(r.body, "hello"));
  CHECK_STR(r.xtest, "yes");
  CHECK(r.cb_in_send == 0);
  char want[96];
  snprintf(want, sizeof want, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", s.port);
  CHECK_STR(s.last_req, want);
  CHECK(sl_upstream_pool_idle(p) == 1);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

/* Plain mode tries the socket first and queues only what it did not take: a body far
 * larger than the socket buffers (the server runs on the same loop, so it reads nothing
 * during the try) arrives whole and in order, whether the rest spans more buffers than
 * the local copy holds or fewer; then the connection carries the next request. */
static void test_large_body_partial_write(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_SINK);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  size_t big = 24u << 20;
  char *b = malloc(big);
  for (size_t i = 0; i < big; i++) b[i] = (char)(i * 7 + (i >> 12));
  uint64_t want = fnv(FNV_BASIS, b, big);
  size_t counts[] = {40, 3, 1};
  for (size_t t = 0; t < sizeof counts / sizeof *counts; t++) {
    size_t nb = counts[t], each = big / nb;
    uv_buf_t body[40];
    for (size_t i = 0; i < nb; i++)
      body[i] = uv_buf_init(b + i * each, (unsigned)(i + 1 < nb ? each : big - i * each));
    struct res r = {0};
    CHECK(sl_upstream_send(p, "POST", "/sink", NULL, 0, body, nb, &cbs, &r, &r.req) == 0);
    RUN_UNTIL(FINISHED(r), 20000);
    CHECK(r.dones == 1 && r.body && !strcmp(r.body, "hello"));
    CHECK(s.sink_len == big && s.sink_hash == want);
    if (s.sink_len != big || s.sink_hash != want) printf("# %zu buffers: got %zu bytes\n", nb, s.sink_len);
    res_free(&r);
  }
  /* and a small one, taken whole at once, on the same connection */
  struct res r = {0};
  char small[] = "{}";
  uv_buf_t sb = uv_buf_init(small, 2);
  CHECK(sl_upstream_send(p, "POST", "/sink", NULL, 0, &sb, 1, &cbs, &r, &r.req) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && s.sink_len == 2 && s.sink_hash == fnv(FNV_BASIS, "{}", 2));
  CHECK(s.accepted == 1 && s.requests == 4);
  res_free(&r);
  free(b);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  loop_end();
}

static void test_request_format(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct sl_header h[] = {
      {SL_SLICE_LIT("Authorization"), SL_SLICE_LIT("Bearer k")},
      {SL_SLICE_LIT("content-length"), SL_SLICE_LIT("999")}, /* reserved: dropped */
      {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")},
  };
  char b1[] = "{\"a\":", b2[] = "1}";
  uv_buf_t body[] = {uv_buf_init(b1, 5), uv_buf_init(NULL, 0), uv_buf_init(b2, 2)};
  struct res r = {0};
  in_send = 1;
  int rc = sl_upstream_send(p, "POST", "/v1/chat/completions", h, 3, body, 3, &cbs, &r, &r.req);
  in_send = 0;
  CHECK(rc == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1);
  char want[512];
  snprintf(want, sizeof want,
           "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 7\r\n"
           "Authorization: Bearer k\r\nContent-Type: application/json\r\n\r\n{\"a\":1}",
           s.port);
  CHECK_STR(s.last_req, want);
  /* header injection is refused synchronously, without callbacks */
  struct sl_header bad[] = {{SL_SLICE_LIT("X"), SL_SLICE_LIT("a\r\nEvil: 1")}};
  struct res r2 = {0};
  CHECK(sl_upstream_send(p, "GET", "/", bad, 1, NULL, 0, &cbs, &r2, &r2.req) == -EINVAL);
  CHECK(sl_upstream_send(p, "GET", "/a b", NULL, 0, NULL, 0, &cbs, &r2, &r2.req) == -EINVAL);
  /* POST without body still says Content-Length: 0 */
  CHECK(sl_upstream_send(p, "POST", "/x", NULL, 0, NULL, 0, &cbs, &r2, &r2.req) == 0);
  RUN_UNTIL(FINISHED(r2), 5000);
  CHECK(r2.dones == 1 && strstr(s.last_req, "Content-Length: 0\r\n"));
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  res_free(&r2);
  loop_end();
}

static void test_chunked_split(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CHUNKED);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.errs == 0 && r.status == 200);
  CHECK(r.body && !strcmp(r.body, "hello world"));
  CHECK(r.bodies >= 3); /* arrived in pieces */
  CHECK_STR(r.xtest, "padded");
  CHECK(sl_upstream_pool_idle(p) == 1);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

static void test_read_until_close(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_EOF);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.errs == 0);
  CHECK(r.body && !strcmp(r.body, "first part, and the rest"));
  CHECK(sl_upstream_pool_idle(p) == 0);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

static void test_keepalive_reuse(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  for (int i = 0; i < 3; i++) {
    struct res r = {0};
    CHECK(send_get(p, "GET", &r) == 0);
    RUN_UNTIL(FINISHED(r), 5000);
    CHECK(r.dones == 1 && r.blen == 5);
    res_free(&r);
  }
  CHECK(s.accepted == 1 && s.requests == 3);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  loop_end();
}

static void test_interim_and_head(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_100);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.heads == 1 && r.status == 200 && r.body && !strcmp(r.body, "ok"));
  res_free(&r);
  s.mode = M_HEAD;
  CHECK(send_get(p, "HEAD", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.heads == 1 && r.blen == 0);
  s.mode = M_CL; /* and the connection is still good */
  res_free(&r);
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.blen == 5 && s.accepted == 1);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

static void test_idle_close_detected(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CLOSE_AFTER);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1);
  /* the server closed the idle connection: the pool notices and drops it */
  RUN_UNTIL(sl_upstream_pool_idle(p) == 0, 5000);
  CHECK(sl_upstream_pool_idle(p) == 0);
  res_free(&r);
  s.mode = M_CL;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.blen == 5 && s.accepted == 2);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

/* The keep-alive race: the next request goes out (from inside on_done) on a connection
 * the server is closing; it must be retried once on a fresh connection. */
static struct res race2;
static void send_next(struct res *r) {
  r->after_done = NULL;
  in_send = 1;
  CHECK(sl_upstream_send(r->pool, "GET", "/", NULL, 0, NULL, 0, &cbs, &race2, &race2.req) == 0);
  in_send = 0;
  race2.pool = r->pool;
}

static void test_keepalive_race_retry(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CLOSE_AFTER);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  memset(&race2, 0, sizeof race2);
  r.after_done = send_next;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r) && FINISHED(race2), 5000);
  CHECK(r.dones == 1);
  CHECK(race2.dones == 1 && race2.errs == 0 && race2.blen == 5);
  CHECK(s.accepted == 2);
  CHECK(race2.cb_in_send == 0);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  res_free(&race2);
  loop_end();
}

static void test_idle_timeout_and_max_idle(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL);
  struct sl_upstream_pool_opts o = {.host = "127.0.0.1", .port = (uint16_t)s.port,
                                    .idle_timeout_ms = 50, .max_idle = 2};
  struct sl_upstream_pool *p = NULL;
  CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
  struct res r[4] = {{0}};
  for (int i = 0; i < 4; i++) CHECK(send_get(p, "GET", &r[i]) == 0); /* 4 in parallel */
  RUN_UNTIL(FINISHED(r[0]) && FINISHED(r[1]) && FINISHED(r[2]) && FINISHED(r[3]), 5000);
  for (int i = 0; i < 4; i++) CHECK(r[i].dones == 1 && r[i].blen == 5);
  CHECK(s.accepted == 4);
  CHECK(sl_upstream_pool_idle(p) == 2); /* max_idle */
  RUN_UNTIL(sl_upstream_pool_idle(p) == 0 && s.peer_closed == 4, 5000);
  CHECK(sl_upstream_pool_idle(p) == 0 && s.peer_closed == 4); /* idle timeout closed them */
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  for (int i = 0; i < 4; i++) res_free(&r[i]);
  loop_end();
}

static void test_connect_refused(void) {
  loop_begin();
  /* a port that was just free: bind, read the port, close */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", ntohs(a.sin_port));
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.errs == 1 && r.err == SL_UP_CONNECT && r.heads == 0 && r.cb_in_send == 0);
  CHECK(strstr(r.msg, "refused") != NULL);
  sl_upstream_pool_destroy(p);
  res_free(&r);
  loop_end();
}

/* A listener with backlog 0 whose accept queue is full drops further SYNs, so a
 * connect to it stays pending: the connect timer must fire. Loopback only. */
static void test_connect_timeout(void) {
  loop_begin();
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  listen(lfd, 0);
  getsockname(lfd, (struct sockaddr *)&a, &al);
  int fill[16], nfill = 0;
  bool stalled = false;
  while (nfill < 16 && !stalled) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, (struct sockaddr *)&a, sizeof a);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    stalled = poll(&pfd, 1, 300) == 0; /* bounded wait for this connect to complete */
    fill[nfill++] = fd;
  }
  if (!stalled) {
    printf("# connect_timeout: accept-queue trick unavailable here, skipped\n");
  } else {
    struct sl_upstream_pool_opts o = {.host = "127.0.0.1", .port = ntohs(a.sin_port),
                                      .connect_timeout_ms = 100};
    struct sl_upstream_pool *p = NULL;
    CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
    struct res r = {0};
    CHECK(send_get(p, "GET", &r) == 0);
    RUN_UNTIL(FINISHED(r), 5000);
    CHECK(r.errs == 1 && r.err == SL_UP_CONNECT_TIMEOUT);
    sl_upstream_pool_destroy(p);
    res_free(&r);
  }
  for (int i = 0; i < nfill; i++) close(fill[i]);
  close(lfd);
  loop_end();
}

static void test_reset_mid_body(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_RESET_MID);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.heads == 1 && r.errs == 1 && r.dones == 0 && r.err == SL_UP_RESET);
  CHECK(s.accepted == 1); /* a started response is never retried */
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

static void test_protocol_error(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_GARBAGE);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.errs == 1 && r.err == SL_UP_PROTOCOL && r.heads == 0);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

/* More body bytes than Content-Length said, in the same read: the server lied about the
 * length, so the answer cut at Content-Length is not trusted (a protocol error, never a
 * silently truncated on_done). A stray CRLF after the body is tolerated. */
static void test_body_longer_than_length(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL_LONG);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.heads == 1 && r.errs == 1 && r.dones == 0 && r.err == SL_UP_PROTOCOL);
  CHECK(sl_upstream_pool_idle(p) == 0);
  res_free(&r);
  s.mode = M_CL_CRLF;
  struct res r2 = {0};
  CHECK(send_get(p, "GET", &r2) == 0);
  RUN_UNTIL(FINISHED(r2), 5000);
  CHECK(r2.dones == 1 && r2.errs == 0 && r2.blen == 5 && r2.body && !strcmp(r2.body, "hello"));
  CHECK(sl_upstream_pool_idle(p) == 0); /* never reused after extra bytes */
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r2);
  loop_end();
}

static void test_cancel_in_body(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_STREAM);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  r.cancel_in_body = true;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(s.peer_closed == 1, 5000);
  CHECK(s.peer_closed == 1); /* the upstream saw the close: it stops generating */
  CHECK(r.bodies == 1 && r.dones == 0 && r.errs == 0);
  /* cancel inside on_head, and cancel while connecting: no callbacks at all */
  struct res r2 = {0}, r3 = {0};
  r2.cancel_in_head = true;
  CHECK(send_get(p, "GET", &r2) == 0);
  CHECK(send_get(p, "GET", &r3) == 0);
  sl_upstream_cancel(r3.req);
  RUN_UNTIL(s.peer_closed == 3, 5000);
  CHECK(r2.heads == 1 && r2.bodies == 0 && r2.dones + r2.errs == 0);
  CHECK(r3.heads + r3.dones + r3.errs == 0);
  CHECK(sl_upstream_pool_idle(p) == 0);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  res_free(&r2);
  res_free(&r3);
  loop_end();
}

static void test_destroy_in_flight(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_STREAM);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0}, r2 = {0}, r3 = {0};
  r.destroy_in_body = true; /* destroy the pool from inside a callback */
  CHECK(send_get(p, "GET", &r) == 0);
  CHECK(send_get(p, "GET", &r2) == 0);
  RUN_UNTIL(s.peer_closed == 2, 5000);
  CHECK(r.bodies == 1 && r.dones + r.errs == 0 && r2.dones + r2.errs == 0);
  /* destroy with a request still connecting and one still resolving */
  struct sl_upstream_pool *p2 = pool_for("localhost", s.port);
  struct sl_upstream_pool *p3 = pool_for("127.0.0.1", s.port);
  CHECK(send_get(p2, "GET", &r2) == 0);
  CHECK(send_get(p3, "GET", &r3) == 0);
  sl_upstream_pool_destroy(p2);
  sl_upstream_pool_destroy(p3);
  RUN_UNTIL(false, 50);
  CHECK(r2.dones + r2.errs == 0 && r3.dones + r3.errs == 0);
  srv_stop(&s);
  res_free(&r);
  res_free(&r2);
  res_free(&r3);
  loop_end();
}

static bool resume_called_inside;
static void test_pause_resume(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CHUNKS_ONE);
  struct sl_upstream_pool *p = pool_for("127.0.0.1", s.port);
  struct res r = {0};
  r.pause_in_body = true;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(r.bodies == 1, 5000);
  /* all three chunks arrived in one read; while paused nothing more is delivered */
  RUN_UNTIL(false, 30);
  CHECK(r.bodies == 1 && r.dones == 0 && !strcmp(r.body, "abc"));
  r.pause_in_body = false;
  in_send = 1; /* resume must not call back from inside either */
  sl_upstream_resume(r.req);
  in_send = 0;
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.body && !strcmp(r.body, "abcdefghi") && r.cb_in_send == 0);
  CHECK(sl_upstream_pool_idle(p) == 1);
  res_free(&r);

  /* paused in the last on_body: resume must still finish the response */
  s.mode = M_CL;
  r.pause_in_body = true;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(r.bodies == 1, 5000);
  RUN_UNTIL(false, 20);
  CHECK(r.bodies == 1 && r.dones == 0);
  r.pause_in_body = false;
  sl_upstream_resume(r.req);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.blen == 5);
  res_free(&r);

  /* a large body: paused after the first piece, the rest stays in the kernel */
  s.mode = M_BIG;
  r.pause_in_body = true;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(r.bodies == 1, 5000);
  size_t got = r.blen;
  RUN_UNTIL(false, 30);
  CHECK(r.bodies == 1 && r.blen == got && got < BIG_LEN);
  r.pause_in_body = false;
  sl_upstream_resume(r.req);
  RUN_UNTIL(FINISHED(r), 5000);
  CHECK(r.dones == 1 && r.blen == BIG_LEN && memcmp(r.body, big_body, BIG_LEN) == 0);
  CHECK(s.accepted == 1);
  (void)resume_called_inside;
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  res_free(&r);
  loop_end();
}

static void test_dns_localhost(void) {
  loop_begin();
  struct srv s;
  srv_start(&s, M_CL);
  struct sl_upstream_pool *p = pool_for("localhost", s.port);
  struct res r[3] = {{0}};
  CHECK(send_get(p, "GET", &r[0]) == 0); /* two wait for the same lookup */
  CHECK(send_get(p, "GET", &r[1]) == 0);
  RUN_UNTIL(FINISHED(r[0]) && FINISHED(r[1]), 5000);
  CHECK(r[0].dones == 1 && r[1].dones == 1 && r[0].cb_in_send + r[1].cb_in_send == 0);
  CHECK(strstr(s.last_req, "\r\nHost: localhost:") != NULL);
  CHECK(send_get(p, "GET", &r[2]) == 0); /* cached: reuses an idle connection */
  RUN_UNTIL(FINISHED(r[2]), 5000);
  CHECK(r[2].dones == 1 && s.accepted == 2);
  sl_upstream_pool_destroy(p);
  srv_stop(&s);
  for (int i = 0; i < 3; i++) res_free(&r[i]);
  loop_end();
}

/* ---- TLS ---- */

static char tmpdir[64];
static bool tls_ready;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

static bool make_certs(void) {
  if (tls_ready) return true;
  strcpy(tmpdir, "/tmp/sl-up-XXXXXX");
  if (!mkdtemp(tmpdir)) return false;
  int rc = sh("cd %s && cat > ca.cnf <<'EOF'\n"
              "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = sluice test CA\n"
              "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
              "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
              "EOF\n"
              "openssl req -x509 -config ca.cnf -extensions v3_ca -newkey ec "
              "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
              "-days 2 2>/dev/null || exit 1\n"
              "for n in localhost other; do\n"
              "  if [ $n = localhost ]; then san='DNS:localhost,IP:127.0.0.1'; "
              "else san='DNS:other.example'; fi\n"
              "  printf 'subjectAltName=%%s\\nbasicConstraints=CA:FALSE\\n"
              "extendedKeyUsage=serverAuth\\n' \"$san\" > $n.ext\n"
              "  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
              "-keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null || exit 1\n"
              "  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
              "-days 2 -out $n.pem -extfile $n.ext 2>/dev/null || exit 1\n"
              "done\n",
              tmpdir);
  tls_ready = rc == 0;
  return tls_ready;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* Starts `openssl s_server -www` with the named certificate; returns its pid. */
static pid_t s_server(const char *name, int port) {
  char accept[32], cert[128], key[128];
  snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
  snprintf(cert, sizeof cert, "%s/%s.pem", tmpdir, name);
  snprintf(key, sizeof key, "%s/%s.key", tmpdir, name);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
    int dn = open("/dev/null", O_RDWR);
    dup2(dn, 0);
    dup2(dn, 1);
    dup2(dn, 2);
    execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
           "-www", "-quiet", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500 && pid > 0; i++) { /* wait until it accepts: bounded */
    if (port_accepts(port)) return pid;
    if (waitpid(pid, NULL, WNOHANG) == pid) return -1;
    usleep(20000);
  }
  return pid;
}

static void s_server_stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

static struct res tls_get(struct sl_tls_ctx *t, const char *host, int port) {
  struct sl_upstream_pool_opts o = {.host = host, .port = (uint16_t)port, .tls = true,
                                    .tls_ctx = t};
  struct sl_upstream_pool *p = NULL;
  struct res r = {0};
  CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
  if (!p) return r;
  CHECK(send_get(p, "GET", &r) == 0);
  RUN_UNTIL(FINISHED(r), 10000);
  sl_upstream_pool_destroy(p);
  return r;
}

static void test_tls_s_server(void) {
  if (!make_certs()) {
    CHECK(!"cannot make test certificates with the openssl CLI");
    return;
  }
  int port = free_port(), port2 = free_port();
  pid_t good = s_server("localhost", port);
  pid_t other = s_server("other", port2);
  CHECK(good > 0 && other > 0);
  loop_begin();
  char ca[128], err[256];
  snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
  struct sl_tls_ctx *t = NULL, *sys = NULL;
  CHECK(sl_tls_ctx_create(ca, &t, err, sizeof err) == 0);
  unsetenv("SSL_CERT_FILE");
  CHECK(sl_tls_ctx_create(NULL, &sys, err, sizeof err) == 0);
  if (t && sys) {
    struct res r = tls_get(t, "localhost", port); /* our CA: accepted */
    CHECK(r.dones == 1 && r.status == 200 && r.blen > 0);
    CHECK(r.body && strstr(r.body, "<HTML>") != NULL);
    if (r.errs) printf("# tls error: %s\n", r.msg);
    res_free(&r);
    /* s_server closes after each answer: the second request needs a new connection,
     * which resumes the pool's saved session (its status page says "Reused,") */
    struct sl_upstream_pool_opts o = {.host = "localhost", .port = (uint16_t)port, .tls = true,
                                      .tls_ctx = t};
    struct sl_upstream_pool *p = NULL;
    CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
    for (int i = 0; i < 2 && p; i++) {
      CHECK(send_get(p, "GET", &r) == 0);
      RUN_UNTIL(FINISHED(r), 10000);
      CHECK(r.dones == 1 && r.body);
      if (r.body) CHECK(strstr(r.body, i ? "Reused," : "New,") != NULL);
      res_free(&r);
    }
    sl_upstream_pool_destroy(p);
    r = tls_get(sys, "localhost", port); /* unknown CA */
    CHECK(r.errs == 1 && r.err == SL_UP_TLS && r.heads == 0);
    CHECK(strstr(r.msg, "certificate verification failed") != NULL);
    CHECK(strstr(r.msg, "not correctly signed") != NULL);
    printf("# unknown CA: %s\n", r.msg);
    res_free(&r);
    r = tls_get(t, "localhost", port2); /* certificate for another name */
    CHECK(r.errs == 1 && r.err == SL_UP_TLS && r.heads == 0);
    CHECK(strstr(r.msg, "CN") != NULL);
    printf("# wrong name: %s\n", r.msg);
    res_free(&r);
    r = tls_get(t, "127.0.0.1", port); /* IP literal: matched against the IP SAN */
    CHECK(r.dones == 1 && r.status == 200);
    if (r.errs) printf("# tls error: %s\n", r.msg);
    res_free(&r);
    r = tls_get(t, "127.0.0.1", port2); /* no IP SAN for 127.0.0.1 */
    CHECK(r.errs == 1 && r.err == SL_UP_TLS && strstr(r.msg, "127.0.0.1") != NULL);
    printf("# wrong IP: %s\n", r.msg);
    res_free(&r);
    r = tls_get(sys, "127.0.0.1", port); /* right IP, unknown CA: still refused */
    CHECK(r.errs == 1 && r.err == SL_UP_TLS && strstr(r.msg, "not correctly signed") != NULL);
    res_free(&r);
  }
  /* SSL_CERT_FILE is honoured when no CA file is given */
  struct sl_tls_ctx *env = NULL;
  setenv("SSL_CERT_FILE", ca, 1);
  CHECK(sl_tls_ctx_create(NULL, &env, err, sizeof err) == 0);
  unsetenv("SSL_CERT_FILE");
  if (env) {
    struct res r = tls_get(env, "localhost", port);
    CHECK(r.dones == 1 && r.status == 200);
    res_free(&r);
  }
  struct sl_tls_ctx *none = NULL;
  CHECK(sl_tls_ctx_create("/nonexistent/ca.pem", &none, err, sizeof err) == -ENOENT);
  CHECK(none == NULL && strstr(err, "/nonexistent/ca.pem") != NULL);
  sl_tls_ctx_free(t);
  sl_tls_ctx_free(sys);
  sl_tls_ctx_free(env);
  loop_end();
  s_server_stop(good);
  s_server_stop(other);
}

/* A small blocking mbedtls server on a thread: keep-alive, answers each request with a
 * chunked body "len=<request body length>" split over several records. */
struct tsrv {
  int lfd, port;
  atomic_int accepted, stop, requests;
};

static int tls_read_req(mbedtls_ssl_context *ssl, size_t *body_len, bool *cl_mode) {
  static char buf[65536];
  size_t n = 0;
  for (;;) {
    int rc = mbedtls_ssl_read(ssl, (unsigned char *)buf + n, sizeof buf - n);
    if (rc <= 0) return -1;
    n += (size_t)rc;
    char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (!end) {
      if (n == sizeof buf) return -1;
      continue;
    }
    size_t head = (size_t)(end + 4 - buf), cl = 0;
    char *p = memmem(buf, head, "Content-Length: ", 16);
    if (p) cl = strtoul(p + 16, NULL, 10);
    size_t have = n - head; /* keep-alive requests are sequential: no pipelining here */
    while (have < cl) {
      rc = mbedtls_ssl_read(ssl, (unsigned char *)buf, sizeof buf);
      if (rc <= 0) return -1;
      have += (size_t)rc;
    }
    *body_len = cl;
    *cl_mode = !strncmp(buf, "GET /cl ", 8);
    return 0;
  }
}

static void *tsrv_main(void *arg) {
  struct tsrv *ts = arg;
  char path[160], path2[160];
  mbedtls_entropy_context ent;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&crt);
  mbedtls_pk_init(&key);
  mbedtls_ssl_config_init(&conf);
  mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
  snprintf(path, sizeof path, "%s/localhost.pem", tmpdir);
  snprintf(path2, sizeof path2, "%s/localhost.key", tmpdir);
  int ok = mbedtls_x509_crt_parse_file(&crt, path) == 0 &&
           mbedtls_pk_parse_keyfile(&key, path2, NULL) == 0 &&
           mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT) == 0;
  if (ok) {
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    ok = mbedtls_ssl_conf_own_cert(&conf, &crt, &key) == 0;
  }
  while (ok && !atomic_load(&ts->stop)) {
    struct pollfd pfd = {.fd = ts->lfd, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0) continue;
    int fd = accept(ts->lfd, NULL, NULL);
    if (fd < 0) continue;
    atomic_fetch_add(&ts->accepted, 1);
    mbedtls_net_context nc = {.fd = fd};
    mbedtls_ssl_context ssl;
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_setup(&ssl, &conf);
    mbedtls_ssl_set_bio(&ssl, &nc, mbedtls_net_send, mbedtls_net_recv, NULL);
    if (mbedtls_ssl_handshake(&ssl) == 0) {
      size_t blen;
      bool cl_mode;
      while (tls_read_req(&ssl, &blen, &cl_mode) == 0) {
        atomic_fetch_add(&ts->requests, 1);
        if (cl_mode) {
          const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
          mbedtls_ssl_write(&ssl, (const unsigned char *)resp, strlen(resp));
          continue;
        }
        char body[64], chunk[96];
        int bn = snprintf(body, sizeof body, "len=%zu", blen);
        const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        mbedtls_ssl_write(&ssl, (const unsigned char *)head, strlen(head));
        int cn = snprintf(chunk, sizeof chunk, "3\r\n%.3s\r\n", body); /* one record */
        mbedtls_ssl_write(&ssl, (const unsigned char *)chunk, (size_t)cn);
        cn = snprintf(chunk, sizeof chunk, "%x\r\n%s\r\n0\r\n\r\n", bn - 3, body + 3);
        mbedtls_ssl_write(&ssl, (const unsigned char *)chunk, (size_t)cn);
      }
      mbedtls_ssl_close_notify(&ssl);
    }
    mbedtls_ssl_free(&ssl);
    close(fd);
  }
  mbedtls_ssl_config_free(&conf);
  mbedtls_pk_free(&key);
  mbedtls_x509_crt_free(&crt);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  return NULL;
}

static void test_tls_keepalive_pause_bigbody(void) {
  if (!make_certs()) {
    CHECK(!"cannot make test certificates with the openssl CLI");
    return;
  }
  struct tsrv ts = {0};
  ts.lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  bind(ts.lfd, (struct sockaddr *)&a, sizeof a);
  listen(ts.lfd, 16);
  getsockname(ts.lfd, (struct sockaddr *)&a, &al);
  ts.port = ntohs(a.sin_port);
  pthread_t th;
  pthread_create(&th, NULL, tsrv_main, &ts);

  loop_begin();
  char ca[128], err[256];
  snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
  struct sl_tls_ctx *t = NULL;
  CHECK(sl_tls_ctx_create(ca, &t, err, sizeof err) == 0);
  struct sl_upstream_pool_opts o = {.host = "localhost", .port = (uint16_t)ts.port, .tls = true,
                                    .tls_ctx = t};
  struct sl_upstream_pool *p = NULL;
  if (t) CHECK(sl_upstream_pool_create(L, &o, &p) == 0);
  if (p) {
    for (int i = 0; i < 3; i++) { /* keep-alive over TLS */
      struct res r = {0};
      CHECK(send_get(p, "GET", &r) == 0);
      RUN_UNTIL(FINISHED(r), 10000);
      CHECK(r.dones == 1 && r.body && !strcmp(r.body, "len=0"));
      if (r.errs) printf("# tls error: %s\n", r.msg);
      res_free(&r);
    }
    CHECK(atomic_load(&ts.accepted) == 1);
    /* pause in the first on_body: the second chunk (already received) waits */
    struct res r = {0};
    r.pause_in_body = true;
    CHECK(send_get(p, "GET", &r) == 0);
    RUN_UNTIL(r.bodies == 1, 10000);
    RUN_UNTIL(false, 30);
    CHECK(r.bodies == 1 && r.dones == 0 && r.body && !strcmp(r.body, "len"));
    r.pause_in_body = false;
    sl_upstream_resume(r.req);
    RUN_UNTIL(FINISHED(r), 10000);
    CHECK(r.dones == 1 && r.body && !strcmp(r.body, "len=0"));
    res_free(&r);
    /* paused in the last on_body of a Content-Length response */
    r.pause_in_body = true;
    in_send = 1;
    CHECK(sl_upstream_send(p, "GET", "/cl", NULL, 0, NULL, 0, &cbs, &r, &r.req) == 0);
    in_send = 0;
    RUN_UNTIL(r.bodies == 1, 10000);
    RUN_UNTIL(false, 20);
    CHECK(r.bodies == 1 && r.dones == 0);
    r.pause_in_body = false;
    sl_upstream_resume(r.req);
    RUN_UNTIL(FINISHED(r), 10000);
    CHECK(r.dones == 1 && r.body && !strcmp(r.body, "hello") && r.cb_in_send == 0);
    res_free(&r);
    /* a 3 MB body, written in bounded encrypted batches */
    size_t big = 3u << 20;
    char *b = malloc(big);
    memset(b, 'x', big);
    uv_buf_t body[] = {uv_buf_init(b, (unsigned)(big / 2)), uv_buf_init(b + big / 2, (unsigned)(big - big / 2))};
    CHECK(sl_upstream_send(p, "POST", "/big", NULL, 0, body, 2, &cbs, &r, &r.req) == 0);
    RUN_UNTIL(FINISHED(r), 20000);
    CHECK(r.dones == 1 && r.body && !strcmp(r.body, "len=3145728"));
    if (!r.dones) printf("# big body: errs=%d err=%d msg=%s body=%s\n", r.errs, r.err, r.msg, r.body ? r.body : "");
    CHECK(atomic_load(&ts.accepted) == 1 && atomic_load(&ts.requests) == 6);
    res_free(&r);
    free(b);
    sl_upstream_pool_destroy(p);
  }
  sl_tls_ctx_free(t); /* before the pool's connection has closed: it holds a reference */
  loop_end();
  atomic_store(&ts.stop, 1);
  pthread_join(th, NULL);
  close(ts.lfd);
}

static void test_err_str(void) {
  CHECK(strcmp(sl_upstream_err_str(SL_UP_TLS), "TLS failure") == 0);
  CHECK(sl_upstream_err_str((enum sl_upstream_err)99) != NULL);
  struct sl_upstream_pool_opts o = {.host = "127.0.0.1", .port = 0};
  struct sl_upstream_pool *p = NULL;
  CHECK(sl_upstream_pool_create(NULL, &o, &p) == -EINVAL);
  o.port = 443;
  o.tls = true; /* tls without a context */
  loop_begin();
  CHECK(sl_upstream_pool_create(L, &o, &p) == -EINVAL && p == NULL);
  loop_end();
}

static void cleanup(void) {
  if (tls_ready) sh("rm -rf %s", tmpdir);
  free(big_body);
}

static const struct check_case cases[] = {
    T(test_parse_content_length),
    T(test_parse_chunked_bytewise),
    T(test_parse_until_close),
    T(test_parse_interim_and_head),
    T(test_parse_errors_and_limits),
    T(test_parse_leftover_and_stop),
    T(test_body_longer_than_length),
    T(test_err_str),
    T(test_content_length),
    T(test_request_format),
    T(test_large_body_partial_write),
    T(test_chunked_split),
    T(test_read_until_close),
    T(test_keepalive_reuse),
    T(test_interim_and_head),
    T(test_idle_close_detected),
    T(test_keepalive_race_retry),
    T(test_idle_timeout_and_max_idle),
    T(test_connect_refused),
    T(test_connect_timeout),
    T(test_reset_mid_body),
    T(test_protocol_error),
    T(test_cancel_in_body),
    T(test_destroy_in_flight),
    T(test_pause_resume),
    T(test_dns_localhost),
    T(test_tls_s_server),
    T(test_tls_keepalive_pause_bigbody),
};

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  big_body = malloc(BIG_LEN);
  for (size_t i = 0; i < BIG_LEN; i++) big_body[i] = (char)('a' + i % 26);
  int rc = check_run(cases, sizeof cases / sizeof cases[0]);
  cleanup();
  return rc;
}
