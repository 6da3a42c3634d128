/* core/redis_conn.c: one Redis connection on a worker's libuv loop (see redis_conn.h).
 *
 * One idea: a FIFO of commands in flight over one socket. Every command sent (the
 * caller's and our own: AUTH, SELECT, CLIENT SETNAME, SUBSCRIBE, keep-alive PING, SCRIPT
 * LOAD) is an entry at the tail; every reply pops the head (a subscriber's "message" and
 * "subscribe" pushes excepted). The head's deadline is the reply timeout: when it passes
 * the server is considered down. Anything that breaks the connection (timeout, EOF, a
 * read/write/TLS/protocol error, a failed AUTH) goes through broken(): it fails the whole
 * FIFO, reports the state change and schedules a reconnect with jittered back-off.
 *
 * Lifetimes: each connection attempt gets its own struct sock (the uv_tcp_t, the RESP
 * reader, the TLS state, the write buffers), freed in the handle's close callback, so a
 * libuv callback for a dead socket finds it still allocated and marked dead. The
 * sl_redis itself is freed when it is closing and its last handle (three timers, the write
 * flush prepare, the sockets, a getaddrinfo in flight) has closed: that only ever happens in a libuv close
 * callback, so a user callback that calls sl_redis_close never pulls the object from
 * under the code that called it (which checks r->closing / r->gen after each callback).
 *
 * Extend: a new internal command is an entry kind handled in on_reply(). */
#include "core/redis_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha1.h>

#include "core/log.h"
#include "net/tls_conn.h"
#include "net/upstream.h"
#include "store/redis_resp.h"

#define RC_READ_BUF       65536
#define RC_BACKOFF_MIN_MS 50
#define RC_BACKOFF_MAX_MS 2000
#define RC_PING_EVERY_MS  1000 /* an idle connection is checked this often */
#define RC_TLS_WBATCH     (256u << 10)
#define RC_MAX_ADDRS      4

enum rc_state { ST_WAIT, ST_RESOLVE, ST_CONNECT, ST_INIT, ST_UP, ST_CLOSED };

enum rc_kind {
  K_USER,      /* the caller's: reply to cb */
  K_INIT,      /* AUTH / SELECT / CLIENT SETNAME: an error breaks the connection */
  K_READY,     /* the last init command (PING): its reply means up */
  K_SUBSCRIBE, /* popped when every channel is confirmed: then up */
  K_PING,      /* keep-alive: reply ignored */
  K_LOAD,      /* SCRIPT LOAD after a NOSCRIPT: an error is logged */
};

struct rc_ent {
  uint64_t ticket;   /* 0 for internal entries */
  uint64_t deadline; /* loop time (ms) by which its reply must have arrived */
  sl_redis_cb cb;
  void *ud;
  char *cmd; /* the formatted EVALSHA, kept to resend it after a NOSCRIPT */
  size_t cmdlen;
  struct sl_redis_script *script;
  uint8_t kind;
  bool cancelled, retried;
};

struct rc_queue { /* ring buffer, cap a power of two */
  struct rc_ent *e;
  size_t head, n, cap;
};

struct rc_obuf {
  char *p;
  size_t len, cap;
};

struct rc_sock {
  struct sl_redis *r;
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  struct sl_resp_reader *rd;
  struct sl_tls_conn *tls;
  bool dead, writing, handshaking;
  struct rc_obuf out;  /* plaintext not yet written (or not yet encrypted) */
  struct rc_obuf wbuf; /* plain: the buffer in uv_write */
  char rbuf[RC_READ_BUF];
};

struct sl_redis {
  uv_loop_t *loop;
  struct sl_redis_opts o; /* strings below are our copies */
  char **channels;
  size_t nchannels;
  bool subscriber;
  struct sl_tls_ctx *tls_ctx;

  enum rc_state st;
  bool closing, reported_up, down_logged;
  unsigned nhandles; /* open timers + sockets + getaddrinfo in flight */
  struct rc_sock *s;
  uv_timer_t t_reply;   /* the head entry's deadline */
  uv_timer_t t_conn;    /* back-off wait, connect timeout, deferred break */
  uv_timer_t t_ping;    /* keep-alive of an idle connection */
  uv_prepare_t p_flush; /* writes what this loop iteration queued, before the loop waits */
  uv_getaddrinfo_t gai;
  bool gai_busy;
  struct sockaddr_storage addrs[RC_MAX_ADDRS]; /* the last lookup's, tried in turn */
  size_t naddrs, addr_i;
  char deferred_err[128]; /* a write failed inside a call: broken() runs from t_conn */

  struct rc_queue q;
  size_t nuser;
  uint64_t next_ticket;
  uint64_t gen; /* bumped on each disconnect / close */
  size_t sub_left;
  unsigned attempt;
  uint64_t rng;
};

static void broken(struct sl_redis *r, const char *why, const char *pending_err);
static int sock_flush(struct rc_sock *s, char *err, size_t errlen);

/* ---- small helpers ---- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int obuf_reserve(struct rc_obuf *b, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) return -ENOMEM;
    b->p = q;
    b->cap = cap;
  }
  return 0;
}

static int obuf_add(struct rc_obuf *b, const char *p, size_t n) {
  if (obuf_reserve(b, n)) return -ENOMEM;
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static struct rc_ent *q_at(struct rc_queue *q, size_t i) { return &q->e[(q->head + i) & (q->cap - 1)]; }

static int q_push(struct rc_queue *q, const struct rc_ent *x) {
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    struct rc_ent *e = malloc(cap * sizeof *e);
    if (!e) return -ENOMEM;
    for (size_t i = 0; i < q->n; i++) e[i] = *q_at(q, i);
    free(q->e);
    q->e = e;
    q->cap = cap;
    q->head = 0;
  }
  *q_at(q, q->n) = *x;
  q->n++;
  return 0;
}

static void q_pop(struct sl_redis *r, struct rc_ent *out) {
  *out = *q_at(&r->q, 0);
  r->q.head = (r->q.head + 1) & (r->q.cap - 1);
  r->q.n--;
  if (out->kind == K_USER) r->nuser--;
}

/* Copies text into a JSON string body, dropping what would need escaping. */
static void json_safe(char *dst, size_t cap, const char *src, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < n && j + 1 < cap; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[j++] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) ? ' ' : (char)c;
  }
  dst[j] = 0;
}

static const char *conn_name(const struct sl_redis *r) {
  return r->o.name ? r->o.name : (r->subscriber ? "subscriber" : "commands");
}

static void log_event(struct sl_redis *r, enum sl_log_level lv, const char *msg, const char *why) {
  char w[200], n[96], h[128];
  json_safe(w, sizeof w, why ? why : "", why ? strlen(why) : 0);
  json_safe(n, sizeof n, conn_name(r), strlen(conn_name(r)));
  json_safe(h, sizeof h, r->o.host, strlen(r->o.host));
  sl_log(lv, msg, "\"redis\":\"%s:%d\",\"conn\":\"%s\",\"tls\":%s%s%s%s", h, r->o.port, n, r->o.tls ? "true" : "false",
         why ? ",\"why\":\"" : "", w, why ? "\"" : "");
}

/* ---- sockets ---- */

static void maybe_free(struct sl_redis *r) {
  if (!r->closing || r->nhandles) return;
  free(r->q.e);
  for (size_t i = 0; i < r->nchannels; i++) free(r->channels[i]);
  free(r->channels);
  free((char *)r->o.host);
  free((char *)r->o.username);
  free((char *)r->o.password);
  free((char *)r->o.ca_file);
  free((char *)r->o.tls_server_name);
  free((char *)r->o.name);
  if (r->tls_ctx) sl_tls_ctx_free(r->tls_ctx);
  free(r);
}

static void on_handle_closed(uv_handle_t *h) {
  struct sl_redis *r = h->data;
  r->nhandles--;
  maybe_free(r);
}

static void on_sock_closed(uv_handle_t *h) {
  struct rc_sock *s = h->data;
  struct sl_redis *r = s->r;
  sl_resp_reader_free(s->rd);
  if (s->tls) sl_tls_conn_free(s->tls);
  free(s->out.p);
  free(s->wbuf.p);
  free(s);
  r->nhandles--;
  maybe_free(r);
}

static void sock_close(struct rc_sock *s) {
  if (!s || s->dead) return;
  s->dead = true;
  uv_close((uv_handle_t *)&s->tcp, on_sock_closed);
}

static void on_write(uv_write_t *req, int status) {
  struct rc_sock *s = req->data;
  s->writing = false;
  if (s->tls)
    sl_tls_conn_out_release(s->tls);
  else
    s->wbuf.len = 0;
  if (s->dead) return;
  char err[256];
  if (status < 0) {
    snprintf(err, sizeof err, "write failed: %s", uv_strerror(status));
    broken(s->r, err, "connection lost");
    return;
  }
  if (sock_flush(s, err, sizeof err)) broken(s->r, err, "connection lost");
}

/* Starts a write of what is queued, unless one is in flight (on_write calls again). */
static int sock_flush(struct rc_sock *s, char *err, size_t errlen) {
  if (s->writing || s->dead) return 0;
  uv_buf_t b;
  if (s->tls) {
    size_t off = 0;
    if (!s->handshaking) {
      while (off < s->out.len && sl_tls_conn_out_pending(s->tls) < RC_TLS_WBATCH) {
        int k = sl_tls_conn_write(s->tls, s->out.p + off, s->out.len - off, err, errlen);
        if (k < 0) return k;
        if (k == 0) break;
        off += (size_t)k;
      }
    }
    if (off) {
      memmove(s->out.p, s->out.p + off, s->out.len - off);
      s->out.len -= off;
    }
    if (sl_tls_conn_out_take(s->tls, &b) != 0) return 0;
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_write);
    if (rc) {
      sl_tls_conn_out_release(s->tls);
      snprintf(err, errlen, "write failed: %s", uv_strerror(rc));
      return rc;
    }
    s->writing = true;
    return 0;
  }
  if (!s->out.len) return 0;
  struct rc_obuf t = s->wbuf; /* swap: the filled buffer goes out, the empty one fills */
  s->wbuf = s->out;
  s->out = t;
  s->out.len = 0;
  b = uv_buf_init(s->wbuf.p, (unsigned)s->wbuf.len);
  int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_write);
  if (rc) {
    s->wbuf.len = 0;
    snprintf(err, errlen, "write failed: %s", uv_strerror(rc));
    return rc;
  }
  s->writing = true;
  return 0;
}

/* ---- the FIFO ---- */

/* The commands queued since the last write go out in one write, from the loop (a
 * uv_prepare: after this iteration's callbacks, before it waits again: no added delay). */
static void on_flush(uv_prepare_t *h) { sl_redis_flush(h->data); }

void sl_redis_flush(struct sl_redis *r) {
  if (!r) return;
  uv_prepare_stop(&r->p_flush);
  if (!r->s || r->s->dead || r->closing) return;
  char err[256];
  if (sock_flush(r->s, err, sizeof err)) broken(r, err, "connection lost");
}

static void arm_reply_timer(struct sl_redis *r);
static void on_conn_timer(uv_timer_t *t);

/* A command to format straight into the write buffer. */
struct rc_fmt {
  int argc;
  const char *const *argv;
  const size_t *lens;
};

/* Sends one command (cmd, or f formatted in place: len from sl_resp_format_len) and
 * queues its entry. Returns 0 or -errno (nothing queued). A write that fails here breaks
 * the connection later (from t_conn), so the entry is still accepted and gets its
 * callback then. */
static int enqueue_raw(struct sl_redis *r, struct rc_ent *e, const char *cmd, size_t len, const struct rc_fmt *f) {
  struct rc_sock *s = r->s;
  if (!s || s->dead) return -ENOTCONN;
  if (q_push(&r->q, e)) return -ENOMEM;
  if (e->kind == K_USER) r->nuser++;
  char err[256];
  int rc;
  if (f) {
    rc = obuf_reserve(&s->out, len);
    if (!rc) s->out.len += sl_resp_format_to(s->out.p + s->out.len, f->argc, f->argv, f->lens);
  } else
    rc = obuf_add(&s->out, cmd, len);
  if (rc)
    snprintf(err, sizeof err, "out of memory for the write buffer");
  else if (!uv_is_active((uv_handle_t *)&r->p_flush)) /* one write per loop iteration */
    uv_prepare_start(&r->p_flush, on_flush);
  if (rc && !r->deferred_err[0]) {
    snprintf(r->deferred_err, sizeof r->deferred_err, "%.120s", err);
    uv_timer_start(&r->t_conn, on_conn_timer, 0, 0);
  }
  arm_reply_timer(r);
  return 0;
}

static uint64_t enqueue(struct sl_redis *r, enum rc_kind kind, sl_redis_cb cb, void *ud, int argc,
                        const char *const *argv, const size_t *lens, struct sl_redis_script *script) {
  if (!script) { /* nothing to keep: formatted straight into the write buffer */
    size_t n = sl_resp_format_len(argc, argv, lens);
    if (!n) return 0;
    struct rc_ent e = {.deadline = uv_now(r->loop) + r->o.timeout_ms, .cb = cb, .ud = ud, .kind = (uint8_t)kind};
    if (kind == K_USER) e.ticket = r->next_ticket++;
    const struct rc_fmt f = {argc, argv, lens};
    if (enqueue_raw(r, &e, NULL, n, &f)) return 0;
    return kind == K_USER ? e.ticket : 1;
  }
  char *cmd;
  long len = sl_resp_format(&cmd, argc, argv, lens);
  if (len <= 0) return 0;
  struct rc_ent e = {.deadline = uv_now(r->loop) + r->o.timeout_ms, .cb = cb, .ud = ud, .kind = (uint8_t)kind};
  if (kind == K_USER) e.ticket = r->next_ticket++;
  if (script) { /* kept to resend after a NOSCRIPT */
    e.script = script;
    e.cmd = cmd;
    e.cmdlen = (size_t)len;
  }
  if (enqueue_raw(r, &e, cmd, (size_t)len, NULL)) {
    sl_resp_cmd_free(cmd);
    return 0;
  }
  if (!script) sl_resp_cmd_free(cmd);
  return kind == K_USER ? e.ticket : 1;
}

static uint64_t enqueue_strs(struct sl_redis *r, enum rc_kind kind, int argc, const char *const *argv) {
  size_t lens[8];
  for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
  return enqueue(r, kind, NULL, NULL, argc, argv, lens, NULL);
}

static void fail_all(struct sl_redis *r, const char *err) {
  /* A callback may close r (then the nested fail_all drains the rest with "closed") or
   * cancel a later ticket (still in r->q, so the flag is seen when it is popped). */
  while (r->q.n) {
    struct rc_ent e;
    q_pop(r, &e);
    sl_resp_cmd_free(e.cmd);
    if (e.kind == K_USER && !e.cancelled && e.cb) e.cb(e.ud, NULL, err);
  }
}

static void on_reply_timer(uv_timer_t *t) {
  struct sl_redis *r = t->data;
  if (!r->q.n) return;
  uint64_t now = uv_now(r->loop), dl = q_at(&r->q, 0)->deadline;
  if (dl > now) {
    uv_timer_start(&r->t_reply, on_reply_timer, dl - now, 0);
    return;
  }
  char why[96];
  snprintf(why, sizeof why, "no reply within %llu ms", (unsigned long long)r->o.timeout_ms);
  broken(r, why, "timeout");
}

static void arm_reply_timer(struct sl_redis *r) {
  if (!r->q.n || uv_is_active((uv_handle_t *)&r->t_reply)) return;
  uint64_t now = uv_now(r->loop), dl = q_at(&r->q, 0)->deadline;
  uv_timer_start(&r->t_reply, on_reply_timer, dl > now ? dl - now : 0, 0);
}

/* ---- connection life cycle ---- */

static void start_connect(struct sl_redis *r);

static void report(struct sl_redis *r, bool up) {
  if (r->reported_up == up) return;
  r->reported_up = up;
  if (r->o.on_state) r->o.on_state(r->o.ud, up);
}

static void schedule_reconnect(struct sl_redis *r) {
  uint64_t base = RC_BACKOFF_MIN_MS << (r->attempt < 6 ? r->attempt : 6);
  if (base > RC_BACKOFF_MAX_MS) base = RC_BACKOFF_MAX_MS;
  if (r->attempt < 16) r->attempt++;
  r->rng ^= r->rng << 13;
  r->rng ^= r->rng >> 7;
  r->rng ^= r->rng << 17;
  uint64_t delay = base / 2 + r->rng % (base / 2 + 1); /* jitter: [base/2, base] */
  r->st = ST_WAIT;
  uv_timer_start(&r->t_conn, on_conn_timer, delay, 0);
}

static void broken(struct sl_redis *r, const char *why, const char *pending_err) {
  if (r->closing || r->st == ST_WAIT) return;
  bool was_up = r->st == ST_UP;
  r->gen++;
  sock_close(r->s);
  r->s = NULL;
  r->deferred_err[0] = 0;
  r->sub_left = 0;
  uv_timer_stop(&r->t_reply);
  uv_timer_stop(&r->t_conn);
  if (r->gai_busy) uv_cancel((uv_req_t *)&r->gai);
  if (was_up || !r->down_logged) {
    log_event(r, SL_LOG_WARN, was_up ? "redis connection lost" : "redis connect failed", why);
    r->down_logged = true;
  } else if (sl_log_enabled(SL_LOG_DEBUG)) {
    log_event(r, SL_LOG_DEBUG, "redis connect failed", why);
  }
  schedule_reconnect(r);
  fail_all(r, pending_err);
  if (r->closing) return;
  report(r, false);
}

static void go_up(struct sl_redis *r) {
  r->st = ST_UP;
  r->attempt = 0;
  r->naddrs = r->addr_i = 0; /* the next connection resolves the name again */
  uv_timer_stop(&r->t_conn);
  log_event(r, SL_LOG_INFO, "redis connected", NULL);
  r->down_logged = false;
  report(r, true);
}

static void on_conn_timer(uv_timer_t *t) {
  struct sl_redis *r = t->data;
  char why[160];
  switch (r->st) {
  case ST_WAIT: start_connect(r); return;
  case ST_RESOLVE:
  case ST_CONNECT:
  case ST_INIT:
  case ST_UP:
    if (r->deferred_err[0])
      snprintf(why, sizeof why, "%s", r->deferred_err);
    else
      snprintf(why, sizeof why, "not ready within %llu ms (connect timeout)",
               (unsigned long long)r->o.connect_timeout_ms);
    broken(r, why, "connection lost");
    return;
  case ST_CLOSED: return;
  }
}

/* Connected (and TLS handshaken): AUTH, SELECT, CLIENT SETNAME, then PING or SUBSCRIBE. */
static void transport_ready(struct sl_redis *r) {
  r->st = ST_INIT;
  if (r->o.password) {
    const char *a[3] = {"AUTH", r->o.username ? r->o.username : r->o.password, r->o.password};
    enqueue_strs(r, K_INIT, r->o.username ? 3 : 2, a);
  }
  if (r->o.db > 0) {
    char db[16];
    snprintf(db, sizeof db, "%d", r->o.db);
    const char *a[2] = {"SELECT", db};
    enqueue_strs(r, K_INIT, 2, a);
  }
  if (r->o.name) {
    const char *a[3] = {"CLIENT", "SETNAME", r->o.name};
    enqueue_strs(r, K_INIT, 3, a);
  }
  if (!r->subscriber) {
    const char *a[1] = {"PING"};
    if (!enqueue_strs(r, K_READY, 1, a)) broken(r, "out of memory", "connection lost");
    return;
  }
  size_t n = r->nchannels + 1;
  const char **argv = malloc(n * sizeof *argv);
  size_t *lens = malloc(n * sizeof *lens);
  uint64_t ok = 0;
  if (argv && lens) {
    argv[0] = "SUBSCRIBE";
    lens[0] = 9;
    for (size_t i = 0; i < r->nchannels; i++) {
      argv[i + 1] = r->channels[i];
      lens[i + 1] = strlen(r->channels[i]);
    }
    ok = enqueue(r, K_SUBSCRIBE, NULL, NULL, (int)n, argv, lens, NULL);
  }
  free(argv);
  free(lens);
  if (!ok) {
    broken(r, "out of memory", "connection lost");
    return;
  }
  r->sub_left = r->nchannels;
}

static void on_message_push(struct sl_redis *r, const redisReply *rep) {
  const redisReply *ch = rep->element[1], *msg = rep->element[2];
  if (!r->o.on_message || ch->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING) return;
  r->o.on_message(r->o.ud, ch->str, ch->len, msg->str, msg->len);
}

/* One reply from the server (freed here). */
static void on_reply(struct sl_redis *r, redisReply *rep) {
  char why[256];
  if (r->subscriber && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1) {
    const redisReply *k = rep->element[0];
    if (rep->elements == 3 && sl_resp_str_eq(k, "message")) {
      on_message_push(r, rep);
      sl_resp_reply_free(rep);
      return;
    }
    if (sl_resp_str_eq(k, "subscribe")) {
      sl_resp_reply_free(rep);
      if (r->sub_left == 0) return;
      if (--r->sub_left > 0) return;
      if (!r->q.n || q_at(&r->q, 0)->kind != K_SUBSCRIBE) {
        broken(r, "a subscribe confirmation out of order", "connection lost");
        return;
      }
      struct rc_ent e;
      q_pop(r, &e);
      go_up(r);
      return;
    }
  }
  if (!r->q.n) {
    sl_resp_reply_free(rep);
    broken(r, "a reply nobody asked for", "connection lost");
    return;
  }
  struct rc_ent e;
  q_pop(r, &e); /* t_reply stays armed for an older deadline: on_reply_timer moves it on */
  switch ((enum rc_kind)e.kind) {
  case K_USER:
    if (e.script && !e.retried && !e.cancelled && sl_resp_is_error(rep, "NOSCRIPT")) {
      /* the server lost the script (restart, SCRIPT FLUSH): load it and run again */
      const char *a[3] = {"SCRIPT", "LOAD", e.script->source};
      size_t l[3] = {6, 4, strlen(e.script->source)};
      sl_resp_reply_free(rep);
      struct rc_ent again = e;
      again.retried = true;
      again.deadline = uv_now(r->loop) + r->o.timeout_ms;
      if (enqueue(r, K_LOAD, NULL, e.script, 3, a, l, NULL) && enqueue_raw(r, &again, e.cmd, e.cmdlen, NULL) == 0)
        return;
      sl_resp_cmd_free(e.cmd);
      if (e.cb) e.cb(e.ud, NULL, "connection lost");
      return;
    }
    sl_resp_cmd_free(e.cmd);
    if (!e.cancelled && e.cb) e.cb(e.ud, rep, NULL);
    sl_resp_reply_free(rep);
    return;
  case K_INIT:
  case K_READY:
  case K_SUBSCRIBE:
    if (rep->type == REDIS_REPLY_ERROR) {
      snprintf(why, sizeof why, "connection setup refused: %.*s", (int)(rep->len < 200 ? rep->len : 200),
               rep->str ? rep->str : "");
      sl_resp_reply_free(rep);
      broken(r, why, "connection lost");
      return;
    }
    sl_resp_reply_free(rep);
    if (e.kind == K_READY) go_up(r);
    return;
  case K_LOAD:
    if (rep->type == REDIS_REPLY_ERROR) {
      struct sl_redis_script *sc = e.ud;
      snprintf(why, sizeof why, "SCRIPT LOAD %s: %.*s", sc->name ? sc->name : "?",
               (int)(rep->len < 200 ? rep->len : 200), rep->str ? rep->str : "");
      log_event(r, SL_LOG_ERROR, "redis script load failed", why);
    }
    sl_resp_reply_free(rep);
    return;
  case K_PING: sl_resp_reply_free(rep); return;
  }
  sl_resp_reply_free(rep);
}

/* Feeds bytes to the reader and dispatches every whole reply. False when the
 * connection went away meanwhile (broken or closed by a callback). */
static bool feed_and_dispatch(struct rc_sock *s, const char *p, size_t n) {
  struct sl_redis *r = s->r;
  uint64_t gen = r->gen;
  char err[160];
  if (sl_resp_reader_feed(s->rd, p, n, err, sizeof err)) {
    broken(r, err, "connection lost");
    return false;
  }
  for (;;) {
    redisReply *rep;
    int rc = sl_resp_reader_next(s->rd, &rep, err, sizeof err);
    if (rc < 0) {
      broken(r, err, "connection lost");
      return false;
    }
    if (rc == 0) return true;
    on_reply(r, rep);
    if (r->gen != gen || r->closing || s->dead) return false;
  }
}

static void tls_step(struct rc_sock *s) {
  struct sl_redis *r = s->r;
  char msg[768];
  if (s->handshaking) {
    int rc = sl_tls_conn_handshake(s->tls, msg, sizeof msg);
    if (rc != 0 && rc != -EAGAIN) {
      broken(r, msg, "connection lost");
      return;
    }
    if (rc == 0) s->handshaking = false;
    if (sock_flush(s, msg, sizeof msg)) {
      broken(r, msg, "connection lost");
      return;
    }
    if (rc == -EAGAIN) return;
    transport_ready(r);
    if (s->dead) return;
  }
  for (;;) {
    int n = sl_tls_conn_read(s->tls, s->rbuf, sizeof s->rbuf, msg, sizeof msg);
    if (n > 0) {
      if (!feed_and_dispatch(s, s->rbuf, (size_t)n)) return;
      continue;
    }
    if (n == 0) break;
    broken(r, n == -EPIPE ? "the server closed the TLS session" : msg, "connection lost");
    return;
  }
  if (sock_flush(s, msg, sizeof msg)) broken(r, msg, "connection lost");
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct rc_sock *s = h->data;
  if (s->tls)
    *b = sl_tls_conn_rspace(s->tls);
  else
    *b = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
  struct rc_sock *s = st->data;
  if (s->dead || nread == 0) return;
  if (nread < 0) {
    char why[128];
    if (nread == UV_EOF)
      snprintf(why, sizeof why, "the server closed the connection");
    else
      snprintf(why, sizeof why, "read failed: %s", uv_strerror((int)nread));
    broken(s->r, why, "connection lost");
    return;
  }
  if (s->tls) {
    sl_tls_conn_rcommit(s->tls, (size_t)nread);
    tls_step(s);
    return;
  }
  feed_and_dispatch(s, b->base, (size_t)nread);
}

static void on_connect(uv_connect_t *req, int status) {
  struct rc_sock *s = req->data;
  if (s->dead) return;
  struct sl_redis *r = s->r;
  char why[160];
  if (status < 0) {
    snprintf(why, sizeof why, "connect failed: %s", uv_strerror(status));
    broken(r, why, "connection lost");
    return;
  }
  int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
  if (rc) {
    snprintf(why, sizeof why, "read failed: %s", uv_strerror(rc));
    broken(r, why, "connection lost");
    return;
  }
  if (s->tls) {
    s->handshaking = true;
    tls_step(s);
    return;
  }
  transport_ready(r);
}

static void connect_addr(struct sl_redis *r, const struct sockaddr *addr) {
  char why[800];
  struct rc_sock *s = calloc(1, sizeof *s);
  if (!s || !(s->rd = sl_resp_reader_new())) {
    if (s) free(s);
    broken(r, "out of memory", "connection lost");
    return;
  }
  s->r = r;
  if (r->o.tls) {
    const char *sni = r->o.tls_server_name ? r->o.tls_server_name : r->o.host;
    if (sl_tls_conn_new(r->tls_ctx, sni, NULL, &s->tls, why, sizeof why)) {
      sl_resp_reader_free(s->rd);
      free(s);
      broken(r, why, "connection lost");
      return;
    }
  }
  int rc = uv_tcp_init(r->loop, &s->tcp);
  if (rc) {
    sl_resp_reader_free(s->rd);
    if (s->tls) sl_tls_conn_free(s->tls);
    free(s);
    snprintf(why, sizeof why, "socket: %s", uv_strerror(rc));
    broken(r, why, "connection lost");
    return;
  }
  r->nhandles++;
  s->tcp.data = s;
  s->creq.data = s;
  s->wreq.data = s;
  r->s = s;
  r->st = ST_CONNECT;
  rc = uv_tcp_connect(&s->creq, &s->tcp, addr, on_connect);
  if (rc) {
    snprintf(why, sizeof why, "connect failed: %s", uv_strerror(rc));
    broken(r, why, "connection lost");
    return;
  }
  uv_tcp_nodelay(&s->tcp, 1);
  uv_tcp_keepalive(&s->tcp, 1, 15);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct sl_redis *r = req->data;
  r->gai_busy = false;
  r->nhandles--;
  if (r->closing || r->st != ST_RESOLVE) {
    if (res) uv_freeaddrinfo(res);
    maybe_free(r);
    return;
  }
  if (status < 0 || !res) {
    char why[200];
    snprintf(why, sizeof why, "cannot resolve %s: %s", r->o.host, uv_strerror(status));
    if (res) uv_freeaddrinfo(res);
    broken(r, why, "connection lost");
    return;
  }
  /* keep the addresses: a failed attempt moves on to the next one (e.g. ::1 then 127.0.0.1) */
  r->naddrs = 0;
  for (struct addrinfo *a = res; a && r->naddrs < RC_MAX_ADDRS; a = a->ai_next) {
    if (a->ai_addrlen > sizeof r->addrs[0] || (a->ai_family != AF_INET && a->ai_family != AF_INET6)) continue;
    memcpy(&r->addrs[r->naddrs++], a->ai_addr, a->ai_addrlen);
  }
  uv_freeaddrinfo(res);
  if (!r->naddrs) {
    char why[200];
    snprintf(why, sizeof why, "cannot resolve %s: no IPv4 or IPv6 address", r->o.host);
    broken(r, why, "connection lost");
    return;
  }
  r->addr_i = 1;
  connect_addr(r, (struct sockaddr *)&r->addrs[0]);
}

static void start_connect(struct sl_redis *r) {
  if (r->closing) return;
  r->st = ST_RESOLVE;
  r->deferred_err[0] = 0;
  uv_timer_start(&r->t_conn, on_conn_timer, r->o.connect_timeout_ms, 0);
  struct sockaddr_storage ss;
  if (uv_ip4_addr(r->o.host, r->o.port, (struct sockaddr_in *)&ss) == 0 ||
      uv_ip6_addr(r->o.host, r->o.port, (struct sockaddr_in6 *)&ss) == 0) {
    connect_addr(r, (struct sockaddr *)&ss);
    return;
  }
  if (r->addr_i < r->naddrs) { /* the next address of the last lookup */
    connect_addr(r, (struct sockaddr *)&r->addrs[r->addr_i++]);
    return;
  }
  if (r->gai_busy) { /* the previous lookup is still running */
    broken(r, "name lookup still in progress", "connection lost");
    return;
  }
  char port[16];
  snprintf(port, sizeof port, "%d", r->o.port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  r->gai.data = r;
  int rc = uv_getaddrinfo(r->loop, &r->gai, on_gai, r->o.host, port, &hints);
  if (rc) {
    char why[200];
    snprintf(why, sizeof why, "cannot resolve %s: %s", r->o.host, uv_strerror(rc));
    broken(r, why, "connection lost");
    return;
  }
  r->gai_busy = true;
  r->nhandles++;
}

static void on_ping_timer(uv_timer_t *t) {
  struct sl_redis *r = t->data;
  if (r->st != ST_UP || r->q.n) return; /* pending commands already prove liveness */
  const char *a[1] = {"PING"};
  enqueue_strs(r, K_PING, 1, a);
}

/* ---- API ---- */

int sl_redis_open(uv_loop_t *loop, const struct sl_redis_opts *o, struct sl_redis **out) {
  *out = NULL;
  if (!loop || !o || !o->host || !*o->host || o->port <= 0 || o->port > 65535) return -EINVAL;
  struct sl_redis *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->loop = loop;
  r->o = *o;
  r->o.host = dup_or_null(o->host);
  r->o.username = dup_or_null(o->username);
  r->o.password = dup_or_null(o->password);
  r->o.ca_file = dup_or_null(o->ca_file);
  r->o.tls_server_name = dup_or_null(o->tls_server_name);
  r->o.name = dup_or_null(o->name);
  r->o.channels = NULL;
  if (r->o.name) /* Redis refuses client names with spaces or control bytes */
    for (char *p = (char *)r->o.name; *p; p++)
      if (*p < '!' || *p > '~') *p = '_';
  if (!r->o.timeout_ms) r->o.timeout_ms = 1000;
  if (!r->o.connect_timeout_ms) r->o.connect_timeout_ms = 1000;
  r->next_ticket = 1;
  r->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)r) | 1;
  r->closing = true; /* until fully built: maybe_free frees what there is */
  bool oom = !r->o.host || (o->username && !r->o.username) || (o->password && !r->o.password) ||
             (o->ca_file && !r->o.ca_file) || (o->tls_server_name && !r->o.tls_server_name) || (o->name && !r->o.name);
  if (!oom && o->channels && o->channels[0]) {
    while (o->channels[r->nchannels]) r->nchannels++;
    r->channels = calloc(r->nchannels, sizeof *r->channels);
    if (!r->channels) oom = true;
    for (size_t i = 0; !oom && i < r->nchannels; i++)
      if (!(r->channels[i] = strdup(o->channels[i]))) oom = true;
    r->subscriber = true;
  }
  if (oom) {
    if (!r->channels) r->nchannels = 0;
    maybe_free(r);
    return -ENOMEM;
  }
  if (o->tls) {
    char err[256];
    int rc = sl_tls_ctx_create(r->o.ca_file, &r->tls_ctx, err, sizeof err);
    if (rc) {
      log_event(r, SL_LOG_ERROR, "redis TLS setup failed", err);
      maybe_free(r);
      return rc;
    }
  }
  uv_timer_t *timers[3] = {&r->t_reply, &r->t_conn, &r->t_ping};
  for (int i = 0; i < 3; i++) {
    uv_timer_init(loop, timers[i]);
    timers[i]->data = r;
    r->nhandles++;
  }
  r->closing = false;
  uv_prepare_init(loop, &r->p_flush);
  r->p_flush.data = r;
  r->nhandles++;
  uv_timer_start(&r->t_ping, on_ping_timer, RC_PING_EVERY_MS, RC_PING_EVERY_MS);
  start_connect(r);
  *out = r;
  return 0;
}

void sl_redis_close(struct sl_redis *r) {
  if (!r || r->closing) return;
  r->closing = true;
  r->st = ST_CLOSED;
  r->gen++;
  if (r->s && !r->s->dead) { /* what was queued this iteration (fire-and-forget) still goes */
    char err[256];
    (void)sock_flush(r->s, err, sizeof err);
  }
  fail_all(r, "closed");
  sock_close(r->s);
  r->s = NULL;
  if (r->gai_busy) uv_cancel((uv_req_t *)&r->gai);
  uv_close((uv_handle_t *)&r->t_reply, on_handle_closed);
  uv_close((uv_handle_t *)&r->t_conn, on_handle_closed);
  uv_close((uv_handle_t *)&r->t_ping, on_handle_closed);
  uv_close((uv_handle_t *)&r->p_flush, on_handle_closed);
}

bool sl_redis_up(const struct sl_redis *r) { return r && r->st == ST_UP && !r->closing; }

size_t sl_redis_pending(const struct sl_redis *r) { return r ? r->nuser : 0; }

uint64_t sl_redis_cmd(struct sl_redis *r, sl_redis_cb cb, void *ud, int argc, const char *const *argv,
                      const size_t *lens) {
  if (!sl_redis_up(r) || r->subscriber || argc <= 0) return 0;
  return enqueue(r, K_USER, cb, ud, argc, argv, lens, NULL);
}

void sl_redis_cancel(struct sl_redis *r, uint64_t t) {
  if (!r || !t) return;
  for (size_t i = 0; i < r->q.n; i++) {
    struct rc_ent *e = q_at(&r->q, i);
    if (e->ticket == t) {
      e->cancelled = true;
      return;
    }
  }
}

void sl_redis_script_init(struct sl_redis_script *s, const char *name, const char *source) {
  static const char hex[] = "0123456789abcdef";
  unsigned char d[20];
  s->name = name;
  s->source = source;
  mbedtls_sha1_ret((const unsigned char *)source, strlen(source), d);
  for (int i = 0; i < 20; i++) {
    s->sha1[2 * i] = hex[d[i] >> 4];
    s->sha1[2 * i + 1] = hex[d[i] & 15];
  }
  s->sha1[40] = 0;
}

uint64_t sl_redis_eval(struct sl_redis *r, struct sl_redis_script *s, sl_redis_cb cb, void *ud, int nkeys, int nargs,
                       const char *const *argv, const size_t *lens) {
  if (!sl_redis_up(r) || r->subscriber || !s || !s->source || nkeys < 0 || nargs < 0) return 0;
  if (!s->sha1[0]) sl_redis_script_init(s, s->name, s->source);
  int n = 3 + nkeys + nargs;
  const char *sa[32];
  size_t sl[32];
  const char **a = n <= 32 ? sa : malloc((size_t)n * sizeof *a);
  size_t *l = n <= 32 ? sl : malloc((size_t)n * sizeof *l);
  uint64_t t = 0;
  if (a && l) {
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = s->sha1;
    l[1] = 40;
    a[2] = nk;
    l[2] = strlen(nk);
    for (int i = 0; i < nkeys + nargs; i++) {
      a[3 + i] = argv[i];
      l[3 + i] = lens[i];
    }
    t = enqueue(r, K_USER, cb, ud, n, a, l, s);
  }
  if (a != sa) free(a);
  if (l != sl) free(l);
  return t;
}
