/* core/gcp_token.c: the Vertex AI token cache. The slot's pure logic with a fake clock
 * (refresh decision, back-off, lease, seqlock, outcomes, the token endpoint's answers, the
 * form), the slot table across reloads, a seqlock hammered by a forked writer (no torn
 * read), and the worker's refresher against a token endpoint on loopback (this file's own
 * small libuv server): the request it sends byte for byte, the token it caches, and the
 * errors waiters hear for 4xx, garbage, a refused connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/config/config.h"
#include "core/gcp_token.h"
#include "core/log.h"
#include "core/worker.h"
#include "gcp_test_keys.h"
#include "net/base/buf.h"
#include "net/upstream.h"
#include "net/wire/gcp_sa.h"
#include "net/wire/jwt.h"

static void refresh_decision(void) {
  uint64_t now = 1000000;
  CHECK(sl_gcp_needs_refresh(0, 0, now));             /* no token */
  CHECK(sl_gcp_needs_refresh(now - 1, 3600000, now)); /* expired */
  CHECK(sl_gcp_needs_refresh(now, 3600000, now));
  /* An hour's token: 10 % (360 s) before expiry. */
  CHECK(!sl_gcp_needs_refresh(now + 361000, 3600000, now));
  CHECK(sl_gcp_needs_refresh(now + 360000, 3600000, now));
  /* A five-minute token: 60 s (more than 10 %). */
  CHECK(!sl_gcp_needs_refresh(now + 61000, 300000, now));
  CHECK(sl_gcp_needs_refresh(now + 60000, 300000, now));
  /* Shorter than two minutes: half its lifetime (60 s would refresh a 10 s token always). */
  CHECK(!sl_gcp_needs_refresh(now + 5001, 10000, now));
  CHECK(sl_gcp_needs_refresh(now + 5000, 10000, now));
  CHECK(!sl_gcp_needs_refresh(now + 60001, 120000, now));
  CHECK(sl_gcp_needs_refresh(now + 60000, 120000, now));
  CHECK(!sl_gcp_needs_refresh(now + 1501, 3000, now));
  CHECK(sl_gcp_needs_refresh(now + 1500, 3000, now));
  CHECK(sl_gcp_token_valid(now + 1, now) && !sl_gcp_token_valid(now, now) && !sl_gcp_token_valid(0, now));
}

static void backoff(void) {
  CHECK(sl_gcp_backoff_ms(1) == 1000);
  CHECK(sl_gcp_backoff_ms(2) == 2000);
  CHECK(sl_gcp_backoff_ms(3) == 4000);
  CHECK(sl_gcp_backoff_ms(4) == 8000);
  CHECK(sl_gcp_backoff_ms(5) == 16000);
  CHECK(sl_gcp_backoff_ms(6) == 30000);
  CHECK(sl_gcp_backoff_ms(7) == 30000);
  CHECK(sl_gcp_backoff_ms(1000000) == 30000);
}

static struct sl_gcp_slot *new_slot(void) {
  struct sl_gcp_slot *s = calloc(1, sizeof *s);
  return s;
}

static void lease(void) {
  struct sl_gcp_slot *s = new_slot();
  uint64_t a = 0, b = 0, c = 0;
  CHECK(sl_gcp_lease_take(s, 11, 5000, 20000, &a));
  CHECK(!sl_gcp_lease_take(s, 12, 5000, 20000, &b));  /* held */
  CHECK(!sl_gcp_lease_take(s, 12, 24999, 20000, &b)); /* still held */
  CHECK(!sl_gcp_lease_take(s, 11, 24999, 20000, &b)); /* even by the same owner */
  CHECK(sl_gcp_lease_take(s, 12, 25000, 20000, &b));  /* expired: a dead holder's claim passes on */
  CHECK(a != b);
  sl_gcp_lease_release(s, a); /* the old holder, late: does not free the new claim */
  CHECK(!sl_gcp_lease_take(s, 13, 26000, 20000, &c));
  sl_gcp_lease_release(s, b);
  CHECK(sl_gcp_lease_take(s, 13, 26000, 20000, &c)); /* released: free at once */
  free(s);
}

static void seqlock_and_outcomes(void) {
  struct sl_gcp_slot *s = new_slot();
  static struct sl_gcp_tok t;
  uint64_t now = 100000;
  CHECK(sl_gcp_slot_read(s, &t) == 0 && t.expires_ms == 0 && t.len == 0);
  CHECK(sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, now));
  sl_gcp_slot_ok(s, "ya29.one", 8, 3600, now);
  CHECK(sl_gcp_slot_read(s, &t) == 0);
  CHECK_STR(t.token, "ya29.one");
  CHECK(t.len == 8 && t.expires_ms == now + 3600000 && t.lifetime_ms == 3600000 && !t.err[0]);
  CHECK(atomic_load(&s->seq) % 2 == 0 && atomic_load(&s->ok_total) == 1);
  CHECK(!sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, now + 1000));
  uint64_t later = now + 3600000 - 360000;
  CHECK(sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, later));
  /* A failed refresh: the token stays usable, the error is kept, back-off 1 s then 2 s. */
  sl_gcp_slot_fail(s, 400, "token endpoint answered 400: invalid_grant", later);
  CHECK(sl_gcp_slot_read(s, &t) == 0);
  CHECK_STR(t.token, "ya29.one");
  CHECK_STR(t.err, "token endpoint answered 400: invalid_grant");
  CHECK(t.status == 400 && atomic_load(&s->failures) == 1 && atomic_load(&s->fail_gen) == 1);
  CHECK(atomic_load(&s->err_total) == 1);
  CHECK(!sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, later + 999));
  CHECK(sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, later + 1000));
  sl_gcp_slot_fail(s, 0, "timed out", later + 1000);
  CHECK(!sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, later + 2999));
  CHECK(sl_gcp_should_try(s, t.expires_ms, t.lifetime_ms, later + 3000));
  /* Success clears the error and the back-off. */
  sl_gcp_slot_ok(s, "ya29.two", 8, 60, later + 3000);
  CHECK(sl_gcp_slot_read(s, &t) == 0);
  CHECK_STR(t.token, "ya29.two");
  CHECK(!t.err[0] && atomic_load(&s->failures) == 0 && atomic_load(&s->next_try_ms) == 0);
  /* A writer in the middle of a write: readers give up (-EAGAIN) rather than wait. */
  atomic_fetch_add(&s->seq, 1);
  CHECK(sl_gcp_slot_read(s, &t) == -EAGAIN);
  /* ...and a writer that died mid-write is overtaken. */
  sl_gcp_slot_ok(s, "ya29.three", 10, 60, later);
  CHECK(atomic_load(&s->seq) % 2 == 0);
  CHECK(sl_gcp_slot_read(s, &t) == 0);
  CHECK_STR(t.token, "ya29.three");
  free(s);
}

/* A forked writer rewrites the token as fast as it can with tokens of one letter whose
 * length tells the letter; every read must be one whole token. */
static void seqlock_across_processes(void) {
  struct shared {
    struct sl_gcp_slot s;
    atomic_uint stop;
  } *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED);
  if (sh == MAP_FAILED) return;
  memset(sh, 0, sizeof *sh);
  struct sl_gcp_slot *s = &sh->s;
  atomic_uint *go = &sh->stop;
  pid_t pid = fork();
  if (pid == 0) {
    static char buf[SL_GCP_TOKEN_MAX];
    for (unsigned i = 0; !atomic_load(go); i++) {
      size_t n = 100 + (i % 26) * 100;
      memset(buf, 'A' + (int)(i % 26), n);
      sl_gcp_slot_ok(s, buf, n, 3600, 1);
    }
    _exit(0);
  }
  static struct sl_gcp_tok t;
  unsigned reads = 0, torn = 0, busy = 0;
  for (int i = 0; i < 200000; i++) {
    if (sl_gcp_slot_read(s, &t)) {
      busy++;
      continue;
    }
    if (!t.len) continue;
    reads++;
    char c = t.token[0];
    if (t.len != (size_t)(100 + (c - 'A') * 100)) torn++;
    for (size_t k = 0; k < t.len && !torn; k++)
      if (t.token[k] != c) torn++;
  }
  atomic_store(go, 1);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(torn == 0);
  CHECK(reads > 0);
  printf("  seqlock: %u whole reads, %u busy, %u torn, %llu writes\n", reads, busy, torn,
         (unsigned long long)atomic_load(&s->ok_total));
  munmap(sh, sizeof *sh);
}

static void token_answers(void) {
  char tok[64], msg[SL_GCP_ERR_MAX];
  size_t len = 0;
  uint64_t exp = 0;
  const char *ok = "{\"access_token\":\"ya29.c.abc-_DEF\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
  CHECK(sl_gcp_parse_token_answer(200, ok, strlen(ok), tok, sizeof tok, &len, &exp, msg, sizeof msg) == 0);
  CHECK_STR(tok, "ya29.c.abc-_DEF");
  CHECK(len == 15 && exp == 3599);
  static const struct {
    int status;
    const char *body, *want;
  } bad[] = {
      {400, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}",
       "token endpoint answered 400: invalid_grant: Invalid JWT Signature."},
      {401, "{\"error\":\"unauthorized_client\"}", "token endpoint answered 401: unauthorized_client"},
      {403, "{\"error\":{\"code\":403,\"message\":\"Permission denied\",\"status\":\"PERMISSION_DENIED\"}}",
       "token endpoint answered 403: PERMISSION_DENIED: Permission denied"},
      {500, "<html>oops</html>", "token endpoint answered 500"},
      {503, "", "token endpoint answered 503"},
      {200, "<html>", "token endpoint answered 200 with a body that is not a JSON object"},
      {200, "", "token endpoint answered 200 with a body that is not a JSON object"},
      {200, "{\"expires_in\":3600}", "token endpoint answered 200 without an access_token"},
      {200, "{\"access_token\":\"\",\"expires_in\":3600}", "token endpoint answered 200 without an access_token"},
      {200, "{\"access_token\":\"a b\",\"expires_in\":3600}", "not a header value"},
      {200, "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":3600}", "not a header value"},
      {200, "{\"access_token\":\"abc\"}", "without a usable expires_in"},
      {200, "{\"access_token\":\"abc\",\"expires_in\":0}", "without a usable expires_in"},
      {200, "{\"access_token\":\"abc\",\"expires_in\":\"soon\"}", "without a usable expires_in"},
      {200, "{\"access_token\":\"abc\",\"expires_in\":60,\"token_type\":\"mac\"}", "token_type other than Bearer"},
      {200,
       "{\"access_token\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
       "\"expires_in\":60}",
       "access_token of 77 bytes (at most 63)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    msg[0] = 0;
    int rc = sl_gcp_parse_token_answer(bad[i].status, bad[i].body, strlen(bad[i].body), tok, sizeof tok, &len, &exp,
                                       msg, sizeof msg);
    CHECK(rc == -EIO);
    if (!strstr(msg, bad[i].want)) {
      printf("  case %zu: got \"%s\", want \"%s\"\n", i, msg, bad[i].want);
      CHECK(!"message");
    }
  }
  /* A quoted expires_in (some servers) is read. */
  const char *q = "{\"access_token\":\"t\",\"expires_in\":\"120\"}";
  CHECK(sl_gcp_parse_token_answer(200, q, strlen(q), tok, sizeof tok, &len, &exp, msg, sizeof msg) == 0 && exp == 120);
}

static void form(void) {
  struct sl_buf b = {0};
  sl_gcp_token_form(&b, "aa.bb.cc", 8);
  sl_buf_append(&b, "", 1);
  CHECK_STR(b.p, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aa.bb.cc");
  sl_buf_free(&b);
}

/* ---- the slot table (a process-wide mapping, like the master's) ---- */

static struct sl_gcp_sa mk_sa(const char *email, const char *kid, const char *uri) {
  return (struct sl_gcp_sa){.type = strdup("service_account"),
                            .project_id = strdup("proj"),
                            .private_key_id = kid ? strdup(kid) : NULL,
                            .private_key = strdup(TEST_RSA_PEM),
                            .client_email = strdup(email),
                            .token_uri = strdup(uri)};
}

static struct sl_config *mk_cfg(size_t n) {
  struct sl_config *c = calloc(1, sizeof *c);
  c->gcp_creds = calloc(n ? n : 1, sizeof *c->gcp_creds);
  c->ngcp_creds = n;
  return c;
}

static size_t count(const char *hay, const char *needle) {
  size_t k = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++) k++;
  return k;
}

static void slots_across_reloads(void) {
  char err[256];
  struct sl_config *a = mk_cfg(2);
  a->gcp_creds[0] = mk_sa("one@p.iam.gserviceaccount.com", "k1", "http://127.0.0.1:9/token");
  a->gcp_creds[1] = mk_sa("two@p.iam.gserviceaccount.com", NULL, "http://127.0.0.1:9/token");
  CHECK(sl_gcp_tokens_init(a, err, sizeof err) == 0);
  CHECK(sl_gcp_tokens_init(a, err, sizeof err) == 0); /* a reload with the same keys */
  struct sl_buf m = {0};
  sl_gcp_tokens_metrics(&m, 1);
  sl_buf_append(&m, "", 1);
  CHECK(count(m.p, "sluice_gcp_token_expires_in_seconds{credential=") == 2);
  CHECK(strstr(m.p, "sluice_gcp_token_expires_in_seconds{credential=\"one@p.iam.gserviceaccount.com\"} 0.000\n"));
  CHECK(strstr(m.p, "sluice_gcp_token_exchanges_total{result=\"ok\"} 0\n"));
  CHECK(strstr(m.p, "sluice_gcp_token_exchanges_total{result=\"error\"} 0\n"));
  /* The same email with a new key id (a rotated key) is another slot; 32 at most. */
  struct sl_config *b = mk_cfg(1);
  b->gcp_creds[0] = mk_sa("one@p.iam.gserviceaccount.com", "k2", "http://127.0.0.1:9/token");
  CHECK(sl_gcp_tokens_init(b, err, sizeof err) == 0);
  m.n = 0;
  sl_gcp_tokens_metrics(&m, 1);
  sl_buf_append(&m, "", 1);
  CHECK(count(m.p, "{credential=") == 3);
  struct sl_config *many = mk_cfg(SL_GCP_SLOTS);
  for (size_t i = 0; i < SL_GCP_SLOTS; i++) {
    char e[64];
    snprintf(e, sizeof e, "many%zu@p.iam.gserviceaccount.com", i);
    many->gcp_creds[i] = mk_sa(e, "k", "http://127.0.0.1:9/token");
  }
  CHECK(sl_gcp_tokens_init(many, err, sizeof err) == -ENOSPC);
  CHECK(strstr(err, "more than 32 distinct Vertex AI service accounts") != NULL);
  m.n = 0;
  sl_gcp_tokens_metrics(&m, 1);
  sl_buf_append(&m, "", 1);
  CHECK(count(m.p, "{credential=") == 3); /* a config that does not fit takes no slot */
  sl_buf_free(&m);
  sl_config_free(a);
  sl_config_free(b);
  sl_config_free(many);
}

/* ---- the refresher against a token endpoint on loopback ---- */

struct mock {
  uv_tcp_t srv;
  uint16_t port;
  const char *answer; /* the whole HTTP response */
  struct sl_buf req;  /* what the last connection sent */
  int conns;
};

struct conn {
  uv_tcp_t h;
  struct mock *m;
  uv_write_t wr;
  bool answered;
};

static void conn_closed(uv_handle_t *h) { free(h->data); }

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)h;
  b->base = malloc(sz);
  b->len = sz;
}

static void wrote(uv_write_t *w, int st) {
  (void)st;
  struct conn *c = w->data;
  uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct conn *c = s->data;
  if (n > 0) sl_buf_append(&c->m->req, b->base, (size_t)n);
  free(b->base);
  if (n < 0) {
    if (!uv_is_closing((uv_handle_t *)&c->h) && (!c->answered || !c->m->answer[0]))
      uv_close((uv_handle_t *)&c->h, conn_closed);
    return;
  }
  /* Answer once the head and Content-Length bytes are in. */
  struct sl_buf *r = &c->m->req;
  sl_buf_append(r, "", 1);
  r->n--;
  const char *end = strstr(r->p, "\r\n\r\n");
  const char *cl = strstr(r->p, "Content-Length: ");
  if (!end || !cl || c->answered) return;
  size_t want = (size_t)(end + 4 - r->p) + strtoul(cl + 16, NULL, 10);
  if (r->n < want) return;
  c->answered = true;
  if (!c->m->answer[0]) return; /* a server that never answers */
  uv_buf_t out = uv_buf_init((char *)c->m->answer, (unsigned)strlen(c->m->answer));
  c->wr.data = c;
  uv_write(&c->wr, s, &out, 1, wrote);
}

static void on_conn(uv_stream_t *srv, int st) {
  struct mock *m = srv->data;
  if (st) return;
  struct conn *c = calloc(1, sizeof *c);
  c->m = m;
  uv_tcp_init(srv->loop, &c->h);
  c->h.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->h)) {
    uv_close((uv_handle_t *)&c->h, conn_closed);
    return;
  }
  m->conns++;
  m->req.n = 0;
  uv_read_start((uv_stream_t *)&c->h, alloc_cb, on_read);
}

static void mock_start(uv_loop_t *loop, struct mock *m, const char *answer) {
  memset(m, 0, sizeof *m);
  m->answer = answer;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &m->srv);
  m->srv.data = m;
  uv_tcp_bind(&m->srv, (const struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&m->srv, 8, on_conn);
  struct sockaddr_in got;
  int len = sizeof got;
  uv_tcp_getsockname(&m->srv, (struct sockaddr *)&got, &len);
  m->port = ntohs(got.sin_port);
}

struct waited {
  struct sl_gcp_waiter wt;
  int rc, calls;
  uv_loop_t *loop;
};

static void waited_cb(struct sl_gcp_waiter *wt, int rc) {
  struct waited *w = (struct waited *)wt;
  w->rc = rc;
  w->calls++;
  uv_stop(w->loop);
}

static void dump(uv_handle_t *h, void *ud);
static void guard_fired(uv_timer_t *t) { uv_stop(t->loop); }

/* An HTTP answer with the right Content-Length (freed by the caller). */
static char *http_answer(const char *status_line, const char *body) {
  struct sl_buf b = {0};
  sl_buf_printf(&b, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", status_line,
                strlen(body), body);
  sl_buf_append(&b, "", 1);
  return b.p;
}

/* Runs one worker with one credential until its waiter hears. With an answer, a mock token
 * endpoint listens on the worker's loop and the token_uri names it; without one, token_uri
 * is uri (a closed port). */
static int run_worker(const char *email, const char *answer, const char *uri, struct mock *m, char *tok, size_t cap,
                      char *err, size_t errlen, struct sl_buf *metrics) {
  struct sl_worker *w = calloc(1, sizeof *w);
  uv_loop_init(&w->loop);
  char at[128];
  if (answer) {
    mock_start(&w->loop, m, answer);
    snprintf(at, sizeof at, "http://127.0.0.1:%u/oauth/token?x=1", m->port);
    uri = at;
  }
  struct sl_config *cfg = mk_cfg(1);
  cfg->gcp_creds[0] = mk_sa(email, "kid-9", uri);
  char ierr[256];
  CHECK(sl_gcp_tokens_init(cfg, ierr, sizeof ierr) == 0);
  w->cfg = cfg;
  sl_gcp_tokens_worker_start(w);
  /* A guard (the refresher's timer does not keep a loop alive): gives up after 20 s. */
  uv_timer_t guard;
  uv_timer_init(&w->loop, &guard);
  uv_timer_start(&guard, guard_fired, 20000, 0);
  struct waited wd = {.wt = {.cred = 0, .cb = waited_cb}, .loop = &w->loop};
  struct waited none = {.wt = {.cred = 7, .cb = waited_cb}, .loop = &w->loop};
  sl_gcp_token_wait(w, &wd.wt);
  CHECK(wd.calls == 0); /* never from inside the call */
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(wd.calls == 1);
  sl_gcp_token_wait(w, &none.wt); /* no such credential */
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(none.calls == 1 && none.rc == -ENOENT);
  size_t len = 0;
  err[0] = 0;
  int got = sl_gcp_token_get(0, tok, cap, &len, err, errlen);
  CHECK((got == 0) == (wd.rc == 0));
  if (got == 0)
    CHECK(strlen(tok) == len);
  else
    CHECK(got == -EAGAIN);
  if (metrics) sl_gcp_tokens_metrics(metrics, sl_now_ms());
  sl_gcp_token_cancel(&wd.wt); /* after its callback: a no-op */
  sl_gcp_tokens_worker_stop(w);
  uv_close((uv_handle_t *)&guard, NULL);
  if (answer) uv_close((uv_handle_t *)&m->srv, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&w->loop) == 0);
  free(w);
  sl_config_free(cfg);
  return wd.rc;
}

static void exchange_ok(void) {
  static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 74\r\n\r\n"
                               "{\"access_token\":\"ya29.mock-token\",\"expires_in\":3600,\"token_type\":\"Bearer\"}";
  CHECK(strlen(strstr(answer, "\r\n\r\n") + 4) == 74);
  struct mock m;
  char tok[256], err[512];
  struct sl_buf met = {0};
  int rc = run_worker("ok@p.iam.gserviceaccount.com", answer, NULL, &m, tok, sizeof tok, err, sizeof err, &met);
  CHECK(rc == 0);
  CHECK_STR(tok, "ya29.mock-token");
  CHECK(m.conns == 1);
  /* The request, as the token endpoint sees it. */
  sl_buf_append(&m.req, "", 1);
  const char *r = m.req.p ? m.req.p : "";
  CHECK(strncmp(r, "POST /oauth/token?x=1 HTTP/1.1\r\n", 32) == 0);
  CHECK(strstr(r, "\r\nContent-Type: application/x-www-form-urlencoded\r\n") != NULL);
  CHECK(strstr(r, "\r\nHost: 127.0.0.1:") != NULL);
  const char *body = strstr(r, "\r\n\r\n");
  CHECK(body != NULL);
  if (body) {
    body += 4;
    const char *pre = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    CHECK(strncmp(body, pre, strlen(pre)) == 0);
    const char *jwt = body + strlen(pre);
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    CHECK(d1 && d2);
    if (d1 && d2) {
      struct sl_buf c = {0}, sig = {0};
      CHECK(sl_jwt_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &c) == 0);
      sl_buf_append(&c, "", 1);
      CHECK(strstr(c.p, "\"iss\":\"ok@p.iam.gserviceaccount.com\"") != NULL);
      CHECK(strstr(c.p, "\"scope\":\"https://www.googleapis.com/auth/cloud-platform\"") != NULL);
      char aud[128];
      snprintf(aud, sizeof aud, "\"aud\":\"http://127.0.0.1:%u/oauth/token?x=1\"", m.port);
      CHECK(strstr(c.p, aud) != NULL);
      CHECK(sl_jwt_b64url_decode(d2 + 1, strlen(d2 + 1), &sig) == 0);
      mbedtls_pk_context pk;
      mbedtls_pk_init(&pk);
      CHECK(mbedtls_pk_parse_key(&pk, (const unsigned char *)TEST_RSA_PEM, sizeof TEST_RSA_PEM, NULL, 0) == 0);
      unsigned char h[32];
      mbedtls_sha256_ret((const unsigned char *)jwt, (size_t)(d2 - jwt), h, 0);
      CHECK(mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, h, 32, (unsigned char *)sig.p, sig.n) == 0);
      mbedtls_pk_free(&pk);
      sl_buf_free(&c);
      sl_buf_free(&sig);
    }
  }
  sl_buf_append(&met, "", 1);
  const char *e = strstr(met.p, "sluice_gcp_token_expires_in_seconds{credential=\"ok@p.iam.gserviceaccount.com\"} ");
  CHECK(e != NULL);
  if (e) {
    double left = strtod(strchr(e, '}') + 2, NULL);
    CHECK(left > 3500 && left <= 3600);
  }
  CHECK(strstr(met.p, "sluice_gcp_token_exchanges_total{result=\"ok\"} 1\n") != NULL);
  sl_buf_free(&met);
  sl_buf_free(&m.req);
}

static void exchange_failures(void) {
  static const struct {
    const char *status, *body, *want;
  } cases[] = {
      {"400 Bad Request", "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}\n",
       "service account fail0@p.iam.gserviceaccount.com: token endpoint answered 400: invalid_grant: Invalid JWT "
       "Signature."},
      {"200 OK", "<html>", "token endpoint answered 200 with a body that is not a JSON object"},
      {"503 Service Unavailable", "", "token endpoint answered 503"},
      {"200 OK", "{\"access_token\":\"x\"}", "token endpoint answered 200 without a usable expires_in"},
      {NULL, "garbage\r\n\r\n", "failed: "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mock m;
    char tok[256], err[512], email[64];
    snprintf(email, sizeof email, "fail%zu@p.iam.gserviceaccount.com", i);
    char *answer = cases[i].status ? http_answer(cases[i].status, cases[i].body) : strdup(cases[i].body);
    int rc = run_worker(email, answer, NULL, &m, tok, sizeof tok, err, sizeof err, NULL);
    CHECK(rc == -EIO);
    if (!strstr(err, cases[i].want)) {
      printf("  case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
      CHECK(!"message");
    }
    CHECK(m.conns == 1); /* one exchange, then back-off */
    free(answer);
    sl_buf_free(&m.req);
  }
}

static void exchange_refused(void) {
  /* A port that was just free: bound and closed again. */
  uv_loop_t probe;
  uv_loop_init(&probe);
  struct mock p;
  mock_start(&probe, &p, "");
  uint16_t port = p.port;
  uv_close((uv_handle_t *)&p.srv, NULL);
  uv_run(&probe, UV_RUN_DEFAULT);
  uv_loop_close(&probe);
  char uri[64], tok[64], err[512];
  snprintf(uri, sizeof uri, "http://127.0.0.1:%u/token", port);
  int rc = run_worker("refused@p.iam.gserviceaccount.com", NULL, uri, NULL, tok, sizeof tok, err, sizeof err, NULL);
  CHECK(rc == -EIO);
  char want[128];
  snprintf(want, sizeof want, "token exchange with %s failed: ", uri);
  if (!strstr(err, want)) {
    printf("  got \"%s\"\n", err);
    CHECK(!"message");
  }
}

/* Waiters: two wait for the first token and the first one's callback cancels the second
 * (which then never hears); one that comes during the back-off after a failure hears -EIO
 * from the loop without another exchange. */
static struct waited *victim;
static void cancelling_cb(struct sl_gcp_waiter *wt, int rc) {
  waited_cb(wt, rc);
  if (victim) sl_gcp_token_cancel(&victim->wt);
}

static void counting_cb(struct sl_gcp_waiter *wt, int rc) {
  struct waited *w = (struct waited *)wt;
  w->rc = rc;
  w->calls++;
}

static void waiters(void) {
  struct sl_worker *w = calloc(1, sizeof *w);
  uv_loop_init(&w->loop);
  struct mock m;
  char *answer = http_answer("401 Unauthorized", "{\"error\":\"invalid_client\",\"error_description\":\"bad key\"}");
  mock_start(&w->loop, &m, answer);
  char uri[96];
  snprintf(uri, sizeof uri, "http://127.0.0.1:%u/token", m.port);
  struct sl_config *cfg = mk_cfg(2);
  cfg->gcp_creds[0] = mk_sa("waiters@p.iam.gserviceaccount.com", "k", uri);
  cfg->gcp_creds[1] = mk_sa("waiters@p.iam.gserviceaccount.com", "k", uri); /* the same account twice */
  char err[512];
  CHECK(sl_gcp_tokens_init(cfg, err, sizeof err) == 0);
  w->cfg = cfg;
  sl_gcp_tokens_worker_start(w);
  uv_timer_t guard;
  uv_timer_init(&w->loop, &guard);
  uv_timer_start(&guard, guard_fired, 20000, 0);
  struct waited a = {.wt = {.cred = 0, .cb = cancelling_cb}, .loop = &w->loop};
  struct waited b = {.wt = {.cred = 1, .cb = waited_cb}, .loop = &w->loop};
  victim = &b;
  sl_gcp_token_wait(w, &a.wt);
  sl_gcp_token_wait(w, &b.wt);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  victim = NULL;
  CHECK(a.calls == 1 && a.rc == -EIO);
  CHECK(b.calls == 0); /* cancelled by a's callback before its own turn */
  CHECK(m.conns == 1); /* one slot for the account given twice: one exchange */
  size_t len;
  char tok[64];
  CHECK(sl_gcp_token_get(1, tok, sizeof tok, &len, err, sizeof err) == -EAGAIN);
  CHECK(strstr(err, "token endpoint answered 401: invalid_client: bad key") != NULL);
  /* During the back-off: -EIO at once, from the loop, no new exchange. */
  struct waited c = {.wt = {.cred = 1, .cb = waited_cb}, .loop = &w->loop};
  sl_gcp_token_wait(w, &c.wt);
  CHECK(c.calls == 0);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(c.calls == 1 && c.rc == -EIO && m.conns == 1);
  /* A waiter still queued when the worker stops hears -ECANCELED. */
  struct waited d = {.wt = {.cred = 0, .cb = counting_cb}, .loop = &w->loop};
  sl_gcp_token_wait(w, &d.wt);
  sl_gcp_tokens_worker_stop(w);
  CHECK(d.calls == 1 && d.rc == -ECANCELED);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_close((uv_handle_t *)&m.srv, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_walk(&w->loop, dump, NULL); /* (nothing when all is well) */
  CHECK(uv_loop_close(&w->loop) == 0);
  free(w);
  free(answer);
  sl_buf_free(&m.req);
  sl_config_free(cfg);
}

/* An https token_uri is spoken TLS to (and verified): a plain-HTTP server fails it. */
static void dump(uv_handle_t *h, void *ud) {
  (void)ud;
  printf("  open handle: %s closing=%d active=%d\n", uv_handle_type_name(h->type), uv_is_closing(h), uv_is_active(h));
}

static void exchange_tls(void) {
  struct mock m;
  char *answer = http_answer("200 OK", "{\"access_token\":\"x\",\"expires_in\":60}");
  struct sl_worker *w = calloc(1, sizeof *w);
  uv_loop_init(&w->loop);
  mock_start(&w->loop, &m, answer);
  char uri[96];
  snprintf(uri, sizeof uri, "https://127.0.0.1:%u/token", m.port);
  struct sl_config *cfg = mk_cfg(1);
  cfg->gcp_creds[0] = mk_sa("tls@p.iam.gserviceaccount.com", "k", uri);
  char err[512];
  CHECK(sl_gcp_tokens_init(cfg, err, sizeof err) == 0);
  w->cfg = cfg;
  sl_gcp_tokens_worker_start(w);
  uv_timer_t guard;
  uv_timer_init(&w->loop, &guard);
  uv_timer_start(&guard, guard_fired, 20000, 0);
  struct waited a = {.wt = {.cred = 0, .cb = waited_cb}, .loop = &w->loop};
  sl_gcp_token_wait(w, &a.wt);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(a.calls == 1 && a.rc == -EIO);
  size_t len;
  char tok[64];
  CHECK(sl_gcp_token_get(0, tok, sizeof tok, &len, err, sizeof err) == -EAGAIN);
  if (!strstr(err, "failed: ")) {
    printf("  got \"%s\"\n", err);
    CHECK(!"message");
  }
  CHECK(w->tls != NULL); /* the worker's context, made for the exchange */
  sl_gcp_tokens_worker_stop(w);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_close((uv_handle_t *)&m.srv, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&w->loop) == 0);
  if (w->tls) sl_tls_ctx_free(w->tls);
  free(w);
  free(answer);
  sl_buf_free(&m.req);
  sl_config_free(cfg);
}

/* An endpoint that takes the request and never answers: the exchange times out (the
 * limit shortened for the test) and the connection is dropped. */
static void exchange_timeout(void) {
  sl_gcp_tokens_set_timeout(150);
  struct mock m;
  char tok[64], err[512];
  int rc = run_worker("slow@p.iam.gserviceaccount.com", "", NULL, &m, tok, sizeof tok, err, sizeof err, NULL);
  sl_gcp_tokens_set_timeout(0);
  CHECK(rc == -EIO);
  if (!strstr(err, "timed out after 150 ms")) {
    printf("  got \"%s\"\n", err);
    CHECK(!"message");
  }
  CHECK(m.conns == 1);
  sl_buf_free(&m.req);
}

/* One exchange for all: three worker processes that start at once and each wait for the
 * same account's token make exactly one request to the token endpoint (the lease), and all
 * three get its token from the shared slot. */
struct herd {
  uv_signal_t sigchld;
  uv_timer_t guard;
  int reaped, ok;
  struct mock *m;
};

static void herd_child(uv_signal_t *h, int sig) {
  (void)sig;
  struct herd *hd = h->data;
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    hd->reaped++;
    hd->ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  if (hd->reaped == 3) {
    uv_close((uv_handle_t *)&hd->sigchld, NULL);
    uv_close((uv_handle_t *)&hd->guard, NULL);
    uv_close((uv_handle_t *)&hd->m->srv, NULL);
  }
}

static void herd_guard(uv_timer_t *t) { uv_stop(t->loop); }

static void one_exchange_for_all(void) {
  static const char body[] = "{\"access_token\":\"ya29.shared\",\"expires_in\":3600,\"token_type\":\"Bearer\"}";
  char *answer = http_answer("200 OK", body);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct mock m;
  mock_start(&loop, &m, answer);
  char uri[96];
  snprintf(uri, sizeof uri, "http://127.0.0.1:%u/token", m.port);
  struct sl_config *cfg = mk_cfg(1);
  cfg->gcp_creds[0] = mk_sa("herd@p.iam.gserviceaccount.com", "k", uri);
  char err[256];
  CHECK(sl_gcp_tokens_init(cfg, err, sizeof err) == 0); /* the master, before fork */
  struct herd hd = {.m = &m};
  uv_signal_init(&loop, &hd.sigchld);
  hd.sigchld.data = &hd;
  uv_signal_start(&hd.sigchld, herd_child, SIGCHLD);
  uv_timer_init(&loop, &hd.guard);
  uv_timer_start(&hd.guard, herd_guard, 20000, 0);
  for (int i = 0; i < 3; i++) {
    if (fork() == 0) {
      struct sl_worker *w = calloc(1, sizeof *w);
      uv_loop_init(&w->loop);
      w->cfg = cfg;
      w->index = (unsigned)i;
      sl_gcp_tokens_worker_start(w);
      uv_timer_t guard;
      uv_timer_init(&w->loop, &guard);
      uv_timer_start(&guard, guard_fired, 15000, 0);
      struct waited wd = {.wt = {.cred = 0, .cb = waited_cb}, .loop = &w->loop};
      sl_gcp_token_wait(w, &wd.wt);
      uv_run(&w->loop, UV_RUN_DEFAULT);
      char tok[64];
      size_t len = 0;
      int ok = wd.calls == 1 && wd.rc == 0 && sl_gcp_token_get(0, tok, sizeof tok, &len, err, sizeof err) == 0 &&
               strcmp(tok, "ya29.shared") == 0;
      _exit(ok ? 0 : 1);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(hd.reaped == 3);
  CHECK(hd.ok == 3);
  CHECK(m.conns == 1);
  if (hd.reaped != 3) { /* the guard fired: close what is open */
    uv_close((uv_handle_t *)&hd.sigchld, NULL);
    uv_close((uv_handle_t *)&hd.guard, NULL);
    uv_close((uv_handle_t *)&m.srv, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  /* The parent sees the token the children's exchange left in the shared slot. */
  struct sl_buf met = {0};
  sl_gcp_tokens_metrics(&met, sl_now_ms());
  sl_buf_append(&met, "", 1);
  const char *e = strstr(met.p, "{credential=\"herd@p.iam.gserviceaccount.com\"} ");
  CHECK(e && strtod(strchr(e, '}') + 2, NULL) > 3500);
  sl_buf_free(&met);
  free(answer);
  sl_buf_free(&m.req);
  sl_config_free(cfg);
}

int main(void) {
  sl_log_set_level(SL_LOG_ERROR);
  static const struct check_case cases[] = {
      {"refresh_decision", refresh_decision},
      {"backoff", backoff},
      {"lease", lease},
      {"seqlock_and_outcomes", seqlock_and_outcomes},
      {"seqlock_across_processes", seqlock_across_processes},
      {"token_answers", token_answers},
      {"form", form},
      {"slots_across_reloads", slots_across_reloads},
      {"exchange_ok", exchange_ok},
      {"exchange_failures", exchange_failures},
      {"exchange_refused", exchange_refused},
      {"waiters", waiters},
      {"exchange_timeout", exchange_timeout},
      {"exchange_tls", exchange_tls},
      {"one_exchange_for_all", one_exchange_for_all},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
