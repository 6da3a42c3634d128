/* Google access tokens shared by the workers; see core/gcp_token.h for the design. Three
 * parts: the slot's pure logic (seqlock, lease, refresh decision, answers), the region the
 * master maps before fork (slots keyed by client_email + private_key_id, reused across
 * reloads), and the per-worker refresher (a uv timer: 1 s, or 10 ms while requests wait;
 * one exchange per credential at a time on sluice's own upstream client). */
#include "core/gcp_token.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "net/upstream.h"
#include "net/wire/gcp_sa.h"
#include "net/wire/jwt.h"

#define TICK_MS             1000
#define POLL_MS             10
#define EXCHANGE_TIMEOUT_MS 15000
static uint64_t g_timeout_ms = EXCHANGE_TIMEOUT_MS;

void sl_gcp_tokens_set_timeout(uint64_t ms) { g_timeout_ms = ms ? ms : EXCHANGE_TIMEOUT_MS; }
#define MAX_ANSWER (64u << 10)

/* ---- the slot's pure logic ---- */

void sl_gcp_slot_write(struct sl_gcp_slot *s, const struct sl_gcp_tok *t) {
  unsigned spins = 0;
  for (;;) {
    unsigned q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    /* A writer that died mid-write (it would take a kill inside a memcpy) is overtaken
     * after a while: its half write is rewritten whole here. */
    if (!(q & 1) || ++spins > 100000) {
      unsigned want = (q & 1) ? q + 2 : q + 1;
      if (atomic_compare_exchange_weak_explicit(&s->seq, &q, want, memory_order_acquire, memory_order_relaxed)) break;
    } else if (spins % 64 == 0) {
      sched_yield();
    }
  }
  atomic_thread_fence(memory_order_release);
  memcpy(&s->tok, t, sizeof *t);
  atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

int sl_gcp_slot_read(struct sl_gcp_slot *s, struct sl_gcp_tok *t) {
  for (int tries = 0; tries < 10000; tries++) {
    unsigned a = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (a & 1) {
      if (tries % 64 == 63) sched_yield();
      continue;
    }
    memcpy(t, &s->tok, sizeof *t);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) == a) {
      if (t->len >= sizeof t->token) t->len = 0; /* never trust a length blindly */
      t->token[t->len] = 0;
      t->err[sizeof t->err - 1] = 0;
      return 0;
    }
  }
  return -EAGAIN;
}

bool sl_gcp_token_valid(uint64_t expires_ms, uint64_t now_ms) { return expires_ms && now_ms < expires_ms; }

bool sl_gcp_needs_refresh(uint64_t expires_ms, uint64_t lifetime_ms, uint64_t now_ms) {
  if (!sl_gcp_token_valid(expires_ms, now_ms)) return true;
  uint64_t margin = lifetime_ms / 10;
  if (margin < 60000) margin = 60000;
  if (margin > lifetime_ms / 2) margin = lifetime_ms / 2; /* a short-lived token is not refreshed all the time */
  return expires_ms - now_ms <= margin;
}

uint64_t sl_gcp_backoff_ms(unsigned failures) {
  if (failures <= 1) return SL_GCP_BACKOFF_MIN_MS;
  if (failures > 6) return SL_GCP_BACKOFF_MAX_MS;
  uint64_t b = (uint64_t)SL_GCP_BACKOFF_MIN_MS << (failures - 1);
  return b > SL_GCP_BACKOFF_MAX_MS ? SL_GCP_BACKOFF_MAX_MS : b;
}

#define OWNER_BITS 22
bool sl_gcp_lease_take(struct sl_gcp_slot *s, uint32_t owner, uint64_t now_ms, uint64_t lease_ms, uint64_t *claim) {
  owner &= (1u << OWNER_BITS) - 1;
  if (!owner) owner = 1;
  uint64_t cur = atomic_load_explicit(&s->claim, memory_order_acquire);
  if (cur && (cur >> OWNER_BITS) > now_ms) return false; /* held, not expired */
  uint64_t mine = ((now_ms + lease_ms) << OWNER_BITS) | owner;
  if (!atomic_compare_exchange_strong_explicit(&s->claim, &cur, mine, memory_order_acq_rel, memory_order_acquire))
    return false;
  *claim = mine;
  return true;
}

void sl_gcp_lease_release(struct sl_gcp_slot *s, uint64_t claim) {
  uint64_t cur = claim;
  atomic_compare_exchange_strong_explicit(&s->claim, &cur, 0, memory_order_acq_rel, memory_order_relaxed);
}

bool sl_gcp_should_try(const struct sl_gcp_slot *s, uint64_t expires_ms, uint64_t lifetime_ms, uint64_t now_ms) {
  if (!sl_gcp_needs_refresh(expires_ms, lifetime_ms, now_ms)) return false;
  return now_ms >= atomic_load_explicit(&((struct sl_gcp_slot *)s)->next_try_ms, memory_order_acquire);
}

void sl_gcp_slot_ok(struct sl_gcp_slot *s, const char *token, size_t n, uint64_t expires_in_s, uint64_t now_ms) {
  static struct sl_gcp_tok t; /* 5 KB: not on the loop's stack; one worker is one thread */
  memset(&t, 0, sizeof t);
  if (n >= sizeof t.token) n = sizeof t.token - 1;
  memcpy(t.token, token, n);
  t.len = (uint32_t)n;
  t.lifetime_ms = expires_in_s * 1000;
  t.expires_ms = now_ms + t.lifetime_ms;
  sl_gcp_slot_write(s, &t);
  atomic_store_explicit(&s->failures, 0, memory_order_release);
  atomic_store_explicit(&s->next_try_ms, 0, memory_order_release);
  atomic_fetch_add_explicit(&s->ok_total, 1, memory_order_relaxed);
}

void sl_gcp_slot_fail(struct sl_gcp_slot *s, int status, const char *msg, uint64_t now_ms) {
  static struct sl_gcp_tok t;
  if (sl_gcp_slot_read(s, &t)) memset(&t, 0, sizeof t);
  t.status = status;
  snprintf(t.err, sizeof t.err, "%s", msg ? msg : "token exchange failed");
  sl_gcp_slot_write(s, &t); /* the current token (if any) stays usable until it expires */
  unsigned f = atomic_fetch_add_explicit(&s->failures, 1, memory_order_acq_rel) + 1;
  atomic_store_explicit(&s->next_try_ms, now_ms + sl_gcp_backoff_ms(f), memory_order_release);
  atomic_fetch_add_explicit(&s->fail_gen, 1, memory_order_release);
  atomic_fetch_add_explicit(&s->err_total, 1, memory_order_relaxed);
}

static void printable(char *dst, size_t cap, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < cap; i++) dst[k++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
  dst[k] = 0;
}

int sl_gcp_parse_token_answer(int status, const char *body, size_t n, char *tok, size_t cap, size_t *len,
                              uint64_t *expires_in_s, char *msg, size_t msglen) {
  cJSON *o = body && n ? cJSON_ParseWithLength(body, n) : NULL;
  int rc = -EIO;
  if (status < 200 || status > 299) {
    const cJSON *e = o ? cJSON_GetObjectItemCaseSensitive(o, "error") : NULL;
    const cJSON *d = o ? cJSON_GetObjectItemCaseSensitive(o, "error_description") : NULL;
    char es[128] = "", ds[256] = "";
    if (cJSON_IsString(e))
      printable(es, sizeof es, e->valuestring, strlen(e->valuestring));
    else if (cJSON_IsObject(e)) { /* some Google endpoints: {"error":{"message","status"}} */
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
      const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
      if (cJSON_IsString(st)) printable(es, sizeof es, st->valuestring, strlen(st->valuestring));
      if (cJSON_IsString(m)) printable(ds, sizeof ds, m->valuestring, strlen(m->valuestring));
    }
    if (cJSON_IsString(d)) printable(ds, sizeof ds, d->valuestring, strlen(d->valuestring));
    if (es[0] && ds[0])
      snprintf(msg, msglen, "token endpoint answered %d: %s: %s", status, es, ds);
    else if (es[0] || ds[0])
      snprintf(msg, msglen, "token endpoint answered %d: %s", status, es[0] ? es : ds);
    else
      snprintf(msg, msglen, "token endpoint answered %d", status);
    goto out;
  }
  if (!cJSON_IsObject(o)) {
    snprintf(msg, msglen, "token endpoint answered %d with a body that is not a JSON object", status);
    goto out;
  }
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "access_token");
  const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "expires_in");
  const cJSON *tt = cJSON_GetObjectItemCaseSensitive(o, "token_type");
  if (!cJSON_IsString(at) || !at->valuestring[0]) {
    snprintf(msg, msglen, "token endpoint answered %d without an access_token", status);
    goto out;
  }
  size_t tl = strlen(at->valuestring);
  for (size_t i = 0; i < tl; i++)
    if ((unsigned char)at->valuestring[i] <= 0x20 || (unsigned char)at->valuestring[i] >= 0x7f) {
      snprintf(msg, msglen, "token endpoint answered %d with an access_token that is not a header value", status);
      goto out;
    }
  if (tl + 1 > cap) {
    snprintf(msg, msglen, "token endpoint answered %d with an access_token of %zu bytes (at most %zu)", status, tl,
             cap ? cap - 1 : 0);
    goto out;
  }
  double e = cJSON_IsNumber(ex) ? ex->valuedouble : -1;
  if (cJSON_IsString(ex)) e = strtod(ex->valuestring, NULL); /* some servers quote it */
  if (!(e >= 1 && e <= 86400.0 * 366)) {
    snprintf(msg, msglen, "token endpoint answered %d without a usable expires_in", status);
    goto out;
  }
  if (tt && (!cJSON_IsString(tt) || strcasecmp(tt->valuestring, "Bearer") != 0)) {
    snprintf(msg, msglen, "token endpoint answered %d with token_type other than Bearer", status);
    goto out;
  }
  memcpy(tok, at->valuestring, tl + 1);
  *len = tl;
  *expires_in_s = (uint64_t)e;
  rc = 0;
out:
  cJSON_Delete(o);
  return rc;
}

void sl_gcp_token_form(struct sl_buf *out, const char *jwt, size_t n) {
  sl_buf_puts(out, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
  sl_buf_append(out, jwt, n); /* base64url and dots: nothing to escape */
}

/* ---- the region (master, before fork) ---- */

static struct sl_gcp_slot *g_slots; /* SL_GCP_SLOTS, shared by every process forked after */

static struct sl_gcp_slot *slot_find(const struct sl_gcp_sa *sa) {
  if (!g_slots) return NULL;
  const char *kid = sa->private_key_id ? sa->private_key_id : "";
  for (unsigned i = 0; i < SL_GCP_SLOTS; i++) {
    struct sl_gcp_slot *s = &g_slots[i];
    if (atomic_load(&s->in_use) && !strcmp(s->client_email, sa->client_email) && !strcmp(s->private_key_id, kid))
      return s;
  }
  return NULL;
}

int sl_gcp_tokens_init(const struct sl_config *cfg, char *err, size_t errlen) {
  if (!cfg->ngcp_creds) return 0;
  if (!g_slots) {
    void *p = mmap(NULL, SL_GCP_SLOTS * sizeof *g_slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      snprintf(err, errlen, "cannot map the token cache: %s", strerror(errno));
      return -errno;
    }
    g_slots = p; /* kept for the master's life: reloads reuse the slots of unchanged keys */
  }
  /* Room first: a config that does not fit takes no slot at all. */
  unsigned free_slots = 0, need = 0;
  for (unsigned k = 0; k < SL_GCP_SLOTS; k++) free_slots += !atomic_load(&g_slots[k].in_use);
  for (size_t i = 0; i < cfg->ngcp_creds; i++) {
    const struct sl_gcp_sa *sa = &cfg->gcp_creds[i];
    const char *kid = sa->private_key_id ? sa->private_key_id : "";
    if (strlen(sa->client_email) >= sizeof g_slots->client_email || strlen(kid) >= sizeof g_slots->private_key_id) {
      snprintf(err, errlen, "service account %.80s: client_email or private_key_id too long", sa->client_email);
      return -EINVAL;
    }
    bool dup = slot_find(sa) != NULL;
    for (size_t j = 0; j < i && !dup; j++) /* the same key twice in one config: one slot */
      dup = !strcmp(cfg->gcp_creds[j].client_email, sa->client_email) &&
            !strcmp(cfg->gcp_creds[j].private_key_id ? cfg->gcp_creds[j].private_key_id : "", kid);
    need += !dup;
  }
  if (need > free_slots) {
    snprintf(err, errlen, "more than %d distinct Vertex AI service accounts since start (restart to reset)",
             SL_GCP_SLOTS);
    return -ENOSPC;
  }
  for (size_t i = 0; i < cfg->ngcp_creds; i++) {
    const struct sl_gcp_sa *sa = &cfg->gcp_creds[i];
    if (slot_find(sa)) continue;
    unsigned k = 0;
    while (k < SL_GCP_SLOTS && atomic_load(&g_slots[k].in_use)) k++;
    if (k == SL_GCP_SLOTS) return -ENOSPC; /* (counted above: never) */
    struct sl_gcp_slot *s = &g_slots[k];
    snprintf(s->client_email, sizeof s->client_email, "%s", sa->client_email);
    snprintf(s->private_key_id, sizeof s->private_key_id, "%s", sa->private_key_id ? sa->private_key_id : "");
    atomic_store(&s->in_use, 1);
  }
  return 0;
}

/* ---- the per-worker refresher ---- */

struct cred {
  const struct sl_gcp_sa *sa;
  struct sl_gcp_slot *slot;
  bool tls;
  char host[256];
  uint16_t port;
  char *path;
  struct sl_upstream_pool *pool;
  struct sl_upstream_req *up; /* the exchange in flight */
  uint64_t claim, sent_ms;
  int status;
  bool too_big;
  struct sl_buf form, answer;
  int wstate; /* check_waiters' scratch */
};

struct gcp_state {
  struct sl_worker *w;
  uv_timer_t timer;
  uint64_t timer_every;
  struct sl_gcp_waiter head; /* a ring: head.next is the first waiter */
  struct cred *creds;
  size_t n;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  bool drbg_ok;
};

static struct gcp_state *g_w; /* this worker's (one worker per process) */

static int parse_uri(struct cred *c, const char *uri) {
  const char *p;
  if (!strncmp(uri, "https://", 8))
    c->tls = true, c->port = 443, p = uri + 8;
  else if (!strncmp(uri, "http://", 7))
    c->tls = false, c->port = 80, p = uri + 7;
  else
    return -EINVAL;
  const char *hs = p, *he;
  if (*p == '[') {
    hs = p + 1;
    if (!(he = strchr(hs, ']'))) return -EINVAL;
    p = he + 1;
  } else {
    he = p + strcspn(p, ":/?#");
    p = he;
  }
  if (he == hs || (size_t)(he - hs) >= sizeof c->host) return -EINVAL;
  memcpy(c->host, hs, (size_t)(he - hs));
  c->host[he - hs] = 0;
  if (*p == ':') {
    char *end;
    long v = strtol(p + 1, &end, 10);
    if (end == p + 1 || v < 1 || v > 65535) return -EINVAL;
    c->port = (uint16_t)v;
    p = end;
  }
  if (*p && *p != '/' && *p != '?') return -EINVAL;
  const char *path = *p == '/' ? p : "/";
  size_t pl = strcspn(path, "#");
  if (!(c->path = malloc(pl + (*p == '?' ? 2 : 1)))) return -ENOMEM;
  if (*p == '?')
    snprintf(c->path, pl + 2, "/%.*s", (int)pl, p);
  else
    snprintf(c->path, pl + 1, "%.*s", (int)pl, path);
  return 0;
}

static void on_tick(uv_timer_t *h);

static void arm(struct gcp_state *g) {
  if (uv_is_closing((uv_handle_t *)&g->timer)) return;
  uint64_t every = g->head.next != &g->head ? POLL_MS : TICK_MS;
  if (every == g->timer_every) return;
  g->timer_every = every;
  uv_timer_start(&g->timer, on_tick, every == POLL_MS ? 0 : every, every);
}

/* Waiters' answer for credential i at now: 0 a token, -EIO the exchange failed (backing
 * off), -ENOENT no such credential, 1 still waiting. */
static int cred_state(struct gcp_state *g, unsigned i, uint64_t now) {
  static struct sl_gcp_tok t;
  if (i >= g->n || !g->creds[i].slot) return -ENOENT;
  struct sl_gcp_slot *s = g->creds[i].slot;
  if (!sl_gcp_slot_read(s, &t) && sl_gcp_token_valid(t.expires_ms, now)) return 0;
  if (atomic_load(&s->failures) && now < atomic_load(&s->next_try_ms)) return -EIO;
  return 1;
}

/* Calls back the waiters whose credential has a token or just failed. The ready ones move
 * to a ring of their own first, so that a callback may cancel (and free) any other waiter,
 * or stop the worker, while the rest are answered. */
static void check_waiters(struct gcp_state *g, uint64_t now) {
  if (g->head.next == &g->head) {
    arm(g);
    return;
  }
  for (size_t i = 0; i < g->n; i++) g->creds[i].wstate = 2; /* not looked at yet */
  struct sl_gcp_waiter ready = {.next = &ready, .prev = &ready};
  struct sl_gcp_waiter *wt = g->head.next;
  while (wt != &g->head) {
    struct sl_gcp_waiter *nx = wt->next;
    int rc;
    if (wt->cred >= g->n)
      rc = -ENOENT;
    else {
      struct cred *c = &g->creds[wt->cred];
      if (c->wstate == 2) c->wstate = cred_state(g, wt->cred, now);
      rc = c->wstate;
    }
    if (rc <= 0) {
      sl_gcp_token_cancel(wt);
      wt->rc = rc;
      wt->prev = ready.prev;
      wt->next = &ready;
      ((struct sl_gcp_waiter *)ready.prev)->next = wt;
      ready.prev = wt;
    }
    wt = nx;
  }
  while (ready.next != &ready) {
    wt = ready.next;
    sl_gcp_token_cancel(wt);
    wt->cb(wt, wt->rc);
  }
  if (g_w == g) arm(g);
}

static void exchange_end(struct gcp_state *g, struct cred *c, bool ok, int status, const char *msg) {
  uint64_t now = sl_now_ms();
  c->up = NULL;
  if (!ok) {
    sl_gcp_slot_fail(c->slot, status, msg, now);
    struct sl_buf e = {0}, who = {0};
    sl_buf_json_escape(&e, msg, strlen(msg));
    sl_buf_json_escape(&who, c->slot->client_email, strlen(c->slot->client_email));
    sl_log(SL_LOG_WARN, "vertex token exchange failed", "\"worker\":%u,\"credential\":\"%.*s\",\"error\":\"%.*s\"",
           g->w->index, (int)who.n, who.p ? who.p : "", (int)e.n, e.p ? e.p : "");
    sl_buf_free(&e);
    sl_buf_free(&who);
  }
  sl_gcp_lease_release(c->slot, c->claim);
  c->claim = 0;
  c->answer.n = 0;
  check_waiters(g, now); /* this worker's waiters hear at once */
}

static void up_head(void *ud, int status, const struct sl_header *h, size_t n) {
  (void)h, (void)n;
  ((struct cred *)ud)->status = status;
}
static void up_body(void *ud, const char *p, size_t n) {
  struct cred *c = ud;
  if (c->answer.n + n > MAX_ANSWER)
    c->too_big = true;
  else
    sl_buf_append(&c->answer, p, n);
}
static void up_done(void *ud) {
  struct cred *c = ud;
  struct gcp_state *g = g_w;
  char msg[SL_GCP_ERR_MAX];
  static char tok[SL_GCP_TOKEN_MAX];
  size_t len = 0;
  uint64_t exp = 0;
  int rc = -EIO;
  if (c->too_big || c->answer.oom)
    snprintf(msg, sizeof msg, "token endpoint answered %d with a body too large", c->status);
  else
    rc = sl_gcp_parse_token_answer(c->status, c->answer.p, c->answer.n, tok, sizeof tok, &len, &exp, msg, sizeof msg);
  if (!rc) {
    sl_gcp_slot_ok(c->slot, tok, len, exp, sl_now_ms());
    sl_log(SL_LOG_DEBUG, "vertex token refreshed", "\"worker\":%u,\"credential\":%u,\"expires_in\":%llu", g->w->index,
           (unsigned)(c - g->creds), (unsigned long long)exp);
  }
  exchange_end(g, c, rc == 0, c->status, msg);
}
static void up_error(void *ud, enum sl_upstream_err e, const char *m) {
  struct cred *c = ud;
  char msg[SL_GCP_ERR_MAX];
  snprintf(msg, sizeof msg, "token exchange with %s failed: %s%s%s", c->sa->token_uri, sl_upstream_err_str(e),
           m && *m ? ": " : "", m ? m : "");
  exchange_end(g_w, c, false, 0, msg);
}
static const struct sl_upstream_cbs up_cbs = {up_head, up_body, up_done, up_error};

static void exchange_start(struct gcp_state *g, struct cred *c, uint64_t now) {
  char err[256] = "";
  struct sl_buf jwt = {0};
  c->sent_ms = now;
  c->status = 0;
  c->too_big = false;
  c->answer.n = 0;
  if (!g->drbg_ok) {
    exchange_end(g, c, false, 0, "token exchange: no random number generator for RSA blinding");
    return;
  }
  if (sl_jwt_rs256_assertion(c->sa, SL_GCP_SCOPE_CLOUD, (int64_t)time(NULL), mbedtls_ctr_drbg_random, &g->drbg, &jwt,
                             err, sizeof err)) {
    sl_buf_free(&jwt);
    exchange_end(g, c, false, 0, err);
    return;
  }
  c->form.n = 0;
  sl_gcp_token_form(&c->form, jwt.p, jwt.n);
  sl_buf_free(&jwt);
  if (c->form.oom) {
    c->form.oom = false;
    exchange_end(g, c, false, 0, "token exchange: out of memory");
    return;
  }
  if (!c->pool) {
    /* The worker's TLS context (CA bundle, RNG), made here when no deployment made it yet;
     * the worker frees it (core/worker.c). */
    if (c->tls && !g->w->tls && sl_tls_ctx_create(g->w->cfg->ca_file, &g->w->tls, err, sizeof err)) g->w->tls = NULL;
    struct sl_tls_ctx *tls = g->w->tls;
    struct sl_upstream_pool_opts o = {
        .host = c->host, .port = c->port, .tls = c->tls, .tls_ctx = tls, .connect_timeout_ms = 5000, .max_idle = 1};
    if ((c->tls && !tls) || sl_upstream_pool_create(&g->w->loop, &o, &c->pool)) {
      c->pool = NULL;
      char m[SL_GCP_ERR_MAX];
      if (c->tls && !tls)
        snprintf(m, sizeof m, "token exchange with %s: the CA bundle did not load (%s)", c->sa->token_uri, err);
      else
        snprintf(m, sizeof m, "token exchange with %s: cannot create a connection pool", c->sa->token_uri);
      exchange_end(g, c, false, 0, m);
      return;
    }
  }
  struct sl_header hs[] = {
      {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/x-www-form-urlencoded")},
      {SL_SLICE_LIT("Accept"), SL_SLICE_LIT("application/json")},
      {SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")},
  };
  uv_buf_t body = uv_buf_init(c->form.p, (unsigned)c->form.n);
  int rc = sl_upstream_send(c->pool, "POST", c->path, hs, sizeof hs / sizeof hs[0], &body, 1, &up_cbs, c, &c->up);
  if (rc) {
    c->up = NULL;
    char m[SL_GCP_ERR_MAX];
    snprintf(m, sizeof m, "token exchange with %s: cannot send (%s)", c->sa->token_uri, strerror(-rc));
    exchange_end(g, c, false, 0, m);
  }
}

static void on_tick(uv_timer_t *h) {
  struct gcp_state *g = h->data;
  static struct sl_gcp_tok t;
  uint64_t now = sl_now_ms();
  for (size_t i = 0; i < g->n; i++) {
    if (g_w != g) return; /* a waiter's callback stopped the worker */
    struct cred *c = &g->creds[i];
    if (!c->slot) continue;
    if (c->up) {
      if (now - c->sent_ms >= g_timeout_ms) {
        sl_upstream_cancel(c->up);
        char m[SL_GCP_ERR_MAX];
        snprintf(m, sizeof m, "token exchange with %s timed out after %llu ms", c->sa->token_uri,
                 (unsigned long long)g_timeout_ms);
        exchange_end(g, c, false, 0, m);
      }
      continue;
    }
    if (c->claim) continue; /* (never: a claim lives only while an exchange does) */
    if (sl_gcp_slot_read(c->slot, &t)) continue;
    if (!sl_gcp_should_try(c->slot, t.expires_ms, t.lifetime_ms, now)) continue;
    /* The owner id only has to differ between processes: the pid does. */
    if (!sl_gcp_lease_take(c->slot, (uint32_t)getpid(), now, SL_GCP_LEASE_MS, &c->claim)) continue;
    /* Another worker may have finished an exchange between the read and the lease. */
    if (sl_gcp_slot_read(c->slot, &t) || !sl_gcp_should_try(c->slot, t.expires_ms, t.lifetime_ms, now)) {
      sl_gcp_lease_release(c->slot, c->claim);
      c->claim = 0;
      continue;
    }
    exchange_start(g, c, now);
  }
  if (g_w == g) check_waiters(g, now);
}

static bool g_stopped; /* after worker_stop: nothing starts again */

static struct gcp_state *state_new(struct sl_worker *w) {
  const struct sl_config *cfg = w->cfg;
  struct gcp_state *g = calloc(1, sizeof *g);
  if (!g || (cfg->ngcp_creds && !(g->creds = calloc(cfg->ngcp_creds, sizeof *g->creds)))) {
    free(g);
    sl_log(SL_LOG_ERROR, "vertex tokens: out of memory", "\"worker\":%u", w->index);
    return NULL;
  }
  g->w = w;
  g->head.next = g->head.prev = &g->head;
  mbedtls_entropy_init(&g->entropy);
  mbedtls_ctr_drbg_init(&g->drbg);
  static const char pers[] = "sluice gcp jwt";
  g->drbg_ok =
      !mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->entropy, (const unsigned char *)pers, sizeof pers - 1);
  for (size_t i = 0; i < cfg->ngcp_creds; i++) {
    struct cred *c = &g->creds[g->n++];
    c->sa = &cfg->gcp_creds[i];
    c->slot = slot_find(c->sa);
    if (!c->slot || parse_uri(c, c->sa->token_uri)) {
      sl_log(SL_LOG_ERROR, "vertex tokens: credential has no slot or a bad token_uri",
             "\"worker\":%u,\"credential\":%zu", w->index, i);
      free(c->path);
      c->path = NULL;
      c->slot = NULL; /* its waiters hear -ENOENT */
    }
  }
  uv_timer_init(&w->loop, &g->timer);
  g->timer.data = g;
  uv_timer_start(&g->timer, on_tick, 0, TICK_MS); /* the first exchange at once */
  g->timer_every = TICK_MS;
  uv_unref((uv_handle_t *)&g->timer); /* never keeps a draining worker alive */
  g_w = g;
  return g;
}

void sl_gcp_tokens_worker_start(struct sl_worker *w) {
  if (!w->cfg->ngcp_creds || g_w) return;
  g_stopped = false;
  state_new(w);
}

static void state_free(uv_handle_t *h) {
  struct gcp_state *g = h->data;
  for (size_t i = 0; i < g->n; i++) {
    free(g->creds[i].path);
    sl_buf_free(&g->creds[i].form);
    sl_buf_free(&g->creds[i].answer);
  }
  free(g->creds);
  mbedtls_ctr_drbg_free(&g->drbg);
  mbedtls_entropy_free(&g->entropy);
  free(g);
}

void sl_gcp_tokens_worker_stop(struct sl_worker *w) {
  struct gcp_state *g = g_w;
  g_stopped = true;
  if (!g || g->w != w) return;
  g_w = NULL;
  g_stopped = true;
  while (g->head.next != &g->head) { /* every waiter hears back once */
    struct sl_gcp_waiter *wt = g->head.next;
    sl_gcp_token_cancel(wt);
    wt->cb(wt, -ECANCELED);
  }
  for (size_t i = 0; i < g->n; i++) {
    struct cred *c = &g->creds[i];
    if (c->up) sl_upstream_cancel(c->up);
    c->up = NULL;
    if (c->claim) sl_gcp_lease_release(c->slot, c->claim); /* another worker takes over at once */
    if (c->pool) sl_upstream_pool_destroy(c->pool);
    c->pool = NULL;
  }
  uv_timer_stop(&g->timer);
  uv_close((uv_handle_t *)&g->timer, state_free);
}

int sl_gcp_token_get(unsigned cred, char *out, size_t cap, size_t *len, char *err, size_t errlen) {
  static struct sl_gcp_tok t;
  if (err && errlen) err[0] = 0;
  struct gcp_state *g = g_w;
  if (!g || cred >= g->n || !g->creds[cred].slot) {
    snprintf(err, errlen, "no Vertex AI credential %u in this worker", cred);
    return -ENOENT;
  }
  if (sl_gcp_slot_read(g->creds[cred].slot, &t)) return -EAGAIN;
  if (!sl_gcp_token_valid(t.expires_ms, sl_now_ms())) {
    if (t.err[0]) snprintf(err, errlen, "service account %s: %s", g->creds[cred].slot->client_email, t.err);
    return -EAGAIN;
  }
  if (t.len + 1 > cap) return -ENOSPC;
  memcpy(out, t.token, t.len + 1);
  *len = t.len;
  return 0;
}

void sl_gcp_token_wait(struct sl_worker *w, struct sl_gcp_waiter *wt) {
  struct gcp_state *g = g_w;
  /* Without a refresher (no credentials) one is made all the same, so the answer (-ENOENT)
   * comes from the loop, never from inside this call. */
  if (!g && (g_stopped || !(g = state_new(w)))) {
    wt->next = wt->prev = NULL;
    wt->cb(wt, -ECANCELED); /* stopped or out of memory: there is no loop turn to wait for */
    return;
  }
  struct sl_gcp_waiter *h = &g->head;
  wt->prev = h->prev;
  wt->next = h;
  ((struct sl_gcp_waiter *)h->prev)->next = wt;
  h->prev = wt;
  arm(g);
}

void sl_gcp_token_cancel(struct sl_gcp_waiter *wt) {
  if (!wt->next) return;
  ((struct sl_gcp_waiter *)wt->prev)->next = wt->next;
  ((struct sl_gcp_waiter *)wt->next)->prev = wt->prev;
  wt->next = wt->prev = NULL;
}

static void label(struct sl_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') sl_buf_append(b, "\\", 1);
    if (*s == '\n')
      sl_buf_puts(b, "\\n");
    else
      sl_buf_append(b, s, 1);
  }
}

void sl_gcp_tokens_metrics(struct sl_buf *b, uint64_t now_ms) {
  static struct sl_gcp_tok t;
  if (!g_slots) return;
  uint64_t ok = 0, bad = 0;
  for (unsigned i = 0; i < SL_GCP_SLOTS; i++)
    if (atomic_load(&g_slots[i].in_use)) {
      ok += atomic_load_explicit(&g_slots[i].ok_total, memory_order_relaxed);
      bad += atomic_load_explicit(&g_slots[i].err_total, memory_order_relaxed);
    }
  sl_buf_puts(b, "# HELP sluice_gcp_token_exchanges_total Google service-account token exchanges (Vertex AI).\n"
                 "# TYPE sluice_gcp_token_exchanges_total counter\n");
  sl_buf_printf(b, "sluice_gcp_token_exchanges_total{result=\"ok\"} %llu\n", (unsigned long long)ok);
  sl_buf_printf(b, "sluice_gcp_token_exchanges_total{result=\"error\"} %llu\n", (unsigned long long)bad);
  sl_buf_puts(b, "# HELP sluice_gcp_token_expires_in_seconds Seconds until the cached access token expires (0: none).\n"
                 "# TYPE sluice_gcp_token_expires_in_seconds gauge\n");
  for (unsigned i = 0; i < SL_GCP_SLOTS; i++) {
    if (!atomic_load(&g_slots[i].in_use)) continue;
    double left = 0;
    if (!sl_gcp_slot_read(&g_slots[i], &t) && sl_gcp_token_valid(t.expires_ms, now_ms))
      left = (double)(t.expires_ms - now_ms) / 1000.0;
    sl_buf_puts(b, "sluice_gcp_token_expires_in_seconds{credential=\"");
    label(b, g_slots[i].client_email);
    sl_buf_printf(b, "\"} %.3f\n", left);
  }
}
