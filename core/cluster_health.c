/* Cooldowns across hosts; see cluster_health.h. The one idea: the shared-memory breaker
 * of each host stays the truth its requests read (core/health_shm.c, policy/health.c),
 * and Redis only carries what changes it: a cooldown entered on one host is PUBLISHed on
 * "<ns>:health" and every other host lengthens its own to match (never shortens; times
 * travel as durations since monotonic clocks differ), and a probe's success clears it.
 * The half-open probe is claimed off the request path: a timer fires a little before
 * the cooldown ends on each host that knows it, and SET "<ns>:{d:<id>}:probe" <instance>
 * NX PX decides; the winner lets its cooldown end (its next request is the probe, as on
 * one host), the losers lengthen theirs past the claim's expiry and wait for the
 * winner's outcome ("up", or a new cooldown); if none comes (the winner got no traffic),
 * the claim expires and the next round claims again. Redis down, or slow: nothing is
 * claimed and each host probes on its own (single-host behaviour). Latency EWMA, sketches
 * and the hedge budget stay per host: nothing here touches them.
 *
 * To add a message kind: a type in sl_health_msg, its encode/decode lines, its case in
 * sl_cluster_health_on_message. */
#include "core/cluster_health.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/cluster.h"
#include "core/cluster_features.h"
#include "core/health_shm.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/worker.h"
#include "net/base/buf.h"

/* ---- the message ---- */

static const char *const failure_names[] = {"error", "rate_limit", "auth"};
#define NFAIL (sizeof failure_names / sizeof failure_names[0])

const char *sl_health_failure_name(enum sl_failure_kind k) { return (unsigned)k < NFAIL ? failure_names[k] : "error"; }

int sl_cluster_health_msg_encode(const struct sl_health_msg *m, char *out, size_t cap) {
  if (m->type != SL_HMSG_COOL && m->type != SL_HMSG_UP) return -EINVAL;
  if (!m->dep[0] || strnlen(m->dep, SL_HMSG_ID_MAX) >= SL_HMSG_ID_MAX ||
      strnlen(m->from, SL_HMSG_FROM_MAX) >= SL_HMSG_FROM_MAX)
    return -EINVAL;
  cJSON *o = cJSON_CreateObject();
  if (!o) return -ENOMEM;
  bool ok = cJSON_AddNumberToObject(o, "v", 1) &&
            cJSON_AddStringToObject(o, "t", m->type == SL_HMSG_COOL ? "cool" : "up") &&
            cJSON_AddStringToObject(o, "dep", m->dep);
  if (ok && m->type == SL_HMSG_COOL) {
    uint64_t ms = m->remaining_ms < SL_HMSG_MS_MAX ? m->remaining_ms : SL_HMSG_MS_MAX;
    uint64_t len = m->len_ms < SL_HMSG_MS_MAX ? m->len_ms : SL_HMSG_MS_MAX;
    ok = cJSON_AddNumberToObject(o, "ms", (double)ms) && cJSON_AddNumberToObject(o, "len", (double)len) &&
         cJSON_AddStringToObject(o, "why", sl_health_failure_name(m->why));
  }
  ok = ok && cJSON_AddStringToObject(o, "from", m->from);
  char *txt = ok ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!txt) return -ENOMEM;
  size_t n = strlen(txt);
  int rc = n < cap ? (int)n : -ENOSPC;
  if (rc >= 0) memcpy(out, txt, n + 1);
  free(txt);
  return rc;
}

static bool get_str(const cJSON *o, const char *name, char *out, size_t cap) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsString(s)) return false;
  size_t n = strlen(s->valuestring);
  if (n == 0 || n >= cap) return false;
  memcpy(out, s->valuestring, n + 1);
  return true;
}

static bool get_ms(const cJSON *o, const char *name, uint64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
      v->valuedouble > (double)SL_HMSG_MS_MAX || v->valuedouble != floor(v->valuedouble))
    return false;
  *out = (uint64_t)v->valuedouble;
  return true;
}

int sl_cluster_health_msg_decode(const char *p, size_t n, struct sl_health_msg *m) {
  memset(m, 0, sizeof *m);
  cJSON *o = cJSON_ParseWithLength(p, n);
  int rc = -EINVAL;
  if (!cJSON_IsObject(o)) goto out;
  uint64_t v = 0;
  char t[8];
  if (!get_ms(o, "v", &v) || v != 1 || !get_str(o, "t", t, sizeof t) || !get_str(o, "dep", m->dep, sizeof m->dep) ||
      !get_str(o, "from", m->from, sizeof m->from))
    goto out;
  if (strcmp(t, "up") == 0) {
    m->type = SL_HMSG_UP;
  } else if (strcmp(t, "cool") == 0) {
    m->type = SL_HMSG_COOL;
    char why[16];
    if (!get_ms(o, "ms", &m->remaining_ms) || !get_ms(o, "len", &m->len_ms) || !get_str(o, "why", why, sizeof why))
      goto out;
    unsigned k = 0;
    while (k < NFAIL && strcmp(why, failure_names[k]) != 0) k++;
    if (k == NFAIL) goto out;
    m->why = (enum sl_failure_kind)k;
  } else {
    goto out;
  }
  rc = 0;
out:
  cJSON_Delete(o);
  if (rc) memset(m, 0, sizeof *m);
  return rc;
}

/* ---- per-worker state ---- */

#define PROBE_WINDOW_MIN_MS 2000
#define PROBE_WINDOW_MAX_MS 30000
#define CLAIM_SLACK_MS      100

struct sl_cluster_health;

/* One deployment's claim round. */
struct dep_claim {
  struct sl_cluster_health *h;
  uint64_t claim_at; /* monotonic ms when to claim (0: nothing to claim) */
  uint64_t until;    /* the cooldown end the claim is for */
  uint64_t ticket;   /* the SET or GET in flight (0: none) */
};

struct sl_cluster_health {
  struct sl_cluster *c;
  uv_timer_t *timer;  /* allocated: freed by its close callback */
  uint64_t timer_at;  /* when it is armed for (0: not armed) */
  uint64_t window_ms; /* how long a won claim lasts past the cooldown's end */
  uint64_t lead_ms;   /* how long before the end the claim is made */
  size_t n;
  struct dep_claim d[];
};

static struct sl_cluster_health *health_of(struct sl_worker *w) { return w->cluster ? w->cluster->health : NULL; }

static void noop_cb(void *ud, const struct redisReply *r, const char *err) {
  (void)ud;
  (void)r;
  (void)err;
}

static size_t key_of(struct sl_cluster *c, size_t dep, char *out, size_t cap) {
  char suffix[SL_HMSG_ID_MAX + 16];
  snprintf(suffix, sizeof suffix, "{d:%s}:probe", c->w->cfg->deployments[dep].id);
  return sl_cluster_name(c, suffix, out, cap);
}

static bool publish(struct sl_cluster *c, const struct sl_health_msg *m) {
  char msg[SL_HMSG_ID_MAX + SL_HMSG_FROM_MAX + 160], ch[96];
  int n = sl_cluster_health_msg_encode(m, msg, sizeof msg);
  if (n < 0 || !c->cmd || !c->up) return false;
  size_t chn = sl_cluster_name(c, SL_CLUSTER_CH_HEALTH, ch, sizeof ch);
  const char *argv[] = {"PUBLISH", ch, msg};
  const size_t lens[] = {7, chn, (size_t)n};
  return sl_redis_cmd(c->cmd, noop_cb, NULL, 3, argv, lens) != 0;
}

static void arm(struct sl_cluster_health *h);

/* Claims dep's probe at until - lead (at once when that has passed). */
static void schedule(struct sl_cluster_health *h, size_t dep, uint64_t until) {
  uint64_t now = sl_now_ms();
  if (until <= now) return;
  struct dep_claim *k = &h->d[dep];
  uint64_t lead = h->lead_ms < (until - now) / 2 ? h->lead_ms : (until - now) / 2;
  k->until = until;
  k->claim_at = until - lead;
  if (k->claim_at == 0) k->claim_at = 1;
  arm(h);
}

/* won: this host holds the claim (set: this worker set it; else another worker of this
 * host did and counted it). */
static void claimed(struct sl_cluster_health *h, size_t dep, bool won, bool set) {
  struct sl_worker *w = h->c->w;
  struct dep_claim *k = &h->d[dep];
  if (won) {
    if (set) atomic_fetch_add(&w->shm->cluster_hc.probe_won, 1);
    return; /* the cooldown ends here as on one host: the next request is the probe */
  }
  atomic_fetch_add(&w->shm->cluster_hc.probe_lost, 1);
  if (sl_health_cooldown_until(w, dep, NULL) == 0) return; /* the winner's "up" came first */
  /* Wait for the winner's outcome; a claim it never used (no traffic there) expires at
   * until + window, and this host claims again just after. */
  uint64_t ext = k->until + h->window_ms + h->lead_ms + CLAIM_SLACK_MS;
  sl_health_cooldown_extend(w, dep, ext, 0);
  schedule(h, dep, ext);
}

static void on_get(void *ud, const struct redisReply *r, const char *err) {
  struct dep_claim *k = ud;
  struct sl_cluster_health *h = k->h;
  size_t dep = (size_t)(k - h->d);
  k->ticket = 0;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    atomic_fetch_add(&h->c->w->shm->cluster_hc.probe_errors, 1);
    arm(h);
    return;
  }
  /* nil: the claim expired between SET and GET: nobody holds it, probe here */
  bool mine = r->type != REDIS_REPLY_STRING ||
              (r->len == strlen(h->c->instance) && memcmp(r->str, h->c->instance, r->len) == 0);
  (void)err;
  claimed(h, dep, mine, r->type != REDIS_REPLY_STRING); /* nil: expired meanwhile, nobody's */
  arm(h);
}

static void on_set(void *ud, const struct redisReply *r, const char *err) {
  struct dep_claim *k = ud;
  struct sl_cluster_health *h = k->h;
  size_t dep = (size_t)(k - h->d);
  struct sl_cluster *c = h->c;
  k->ticket = 0;
  (void)err;
  if (!r || r->type == REDIS_REPLY_ERROR) { /* Redis slow or down: probe locally, as on one host */
    atomic_fetch_add(&c->w->shm->cluster_hc.probe_errors, 1);
    arm(h);
    return;
  }
  if (r->type == REDIS_REPLY_STATUS) { /* OK: set, ours */
    claimed(h, dep, true, true);
    arm(h);
    return;
  }
  /* nil: someone holds it: this host's other worker, or another host */
  char key[SL_HMSG_ID_MAX + 96];
  size_t kn = key_of(c, dep, key, sizeof key);
  const char *argv[] = {"GET", key};
  const size_t lens[] = {3, kn};
  k->ticket = c->cmd ? sl_redis_cmd(c->cmd, on_get, k, 2, argv, lens) : 0;
  if (!k->ticket) atomic_fetch_add(&c->w->shm->cluster_hc.probe_errors, 1);
  arm(h);
}

static void claim(struct sl_cluster_health *h, size_t dep, uint64_t now) {
  struct sl_cluster *c = h->c;
  struct dep_claim *k = &h->d[dep];
  uint64_t until = sl_health_cooldown_until(c->w, dep, NULL);
  if (until == 0) return;                                 /* closed meanwhile (a remote "up") */
  if (until > k->until + CLAIM_SLACK_MS && until > now) { /* lengthened meanwhile: claim at its new end */
    schedule(h, dep, until);
    return;
  }
  if (!c->up || !c->cmd) return; /* degraded: the host probes on its own */
  char key[SL_HMSG_ID_MAX + 96], px[24];
  size_t kn = key_of(c, dep, key, sizeof key);
  uint64_t hold = (until > now ? until - now : 0) + h->window_ms;
  int pn = snprintf(px, sizeof px, "%llu", (unsigned long long)hold);
  const char *argv[] = {"SET", key, c->instance, "NX", "PX", px};
  const size_t lens[] = {3, kn, strlen(c->instance), 2, 2, (size_t)pn};
  k->until = until;
  k->ticket = sl_redis_cmd(c->cmd, on_set, k, 6, argv, lens);
  if (!k->ticket) atomic_fetch_add(&c->w->shm->cluster_hc.probe_errors, 1);
}

static void on_timer(uv_timer_t *t) {
  struct sl_cluster_health *h = t->data;
  uint64_t now = sl_now_ms();
  h->timer_at = 0;
  for (size_t i = 0; i < h->n; i++) {
    struct dep_claim *k = &h->d[i];
    if (!k->claim_at || k->claim_at > now || k->ticket) continue;
    k->claim_at = 0;
    claim(h, i, now);
  }
  arm(h);
}

/* Arms the timer for the earliest claim due. */
static void arm(struct sl_cluster_health *h) {
  uint64_t next = 0;
  for (size_t i = 0; i < h->n; i++)
    if (h->d[i].claim_at && !h->d[i].ticket && (!next || h->d[i].claim_at < next)) next = h->d[i].claim_at;
  if (!next || (h->timer_at && h->timer_at <= next)) return;
  uint64_t now = sl_now_ms();
  h->timer_at = next;
  uv_timer_start(h->timer, on_timer, next > now ? next - now : 0, 0);
}

/* ---- hooks from core/health_shm.c ---- */

void sl_cluster_health_cooldown(struct sl_worker *w, size_t dep, uint64_t remaining_ms, uint64_t len_ms,
                                enum sl_failure_kind kind, bool probe) {
  struct sl_cluster_health *h = health_of(w);
  if (!h || dep >= h->n) return;
  struct sl_cluster *c = h->c;
  struct sl_health_msg m = {.type = SL_HMSG_COOL, .remaining_ms = remaining_ms, .len_ms = len_ms, .why = kind};
  snprintf(m.dep, sizeof m.dep, "%s", w->cfg->deployments[dep].id);
  snprintf(m.from, sizeof m.from, "%s", c->instance);
  if (publish(c, &m)) atomic_fetch_add(&w->shm->cluster_hc.cooldowns_published, 1);
  if (probe && c->up && c->cmd) { /* this host's probe failed: its claim is spent */
    char key[SL_HMSG_ID_MAX + 96];
    size_t kn = key_of(c, dep, key, sizeof key);
    const char *argv[] = {"DEL", key};
    const size_t lens[] = {3, kn};
    sl_redis_cmd(c->cmd, noop_cb, NULL, 2, argv, lens);
  }
  schedule(h, dep, sl_now_ms() + remaining_ms);
}

void sl_cluster_health_recovered(struct sl_worker *w, size_t dep) {
  struct sl_cluster_health *h = health_of(w);
  if (!h || dep >= h->n) return;
  struct sl_cluster *c = h->c;
  struct sl_health_msg m = {.type = SL_HMSG_UP};
  snprintf(m.dep, sizeof m.dep, "%s", w->cfg->deployments[dep].id);
  snprintf(m.from, sizeof m.from, "%s", c->instance);
  publish(c, &m);
  h->d[dep].claim_at = 0;
  if (c->up && c->cmd) {
    char key[SL_HMSG_ID_MAX + 96];
    size_t kn = key_of(c, dep, key, sizeof key);
    const char *argv[] = {"DEL", key};
    const size_t lens[] = {3, kn};
    sl_redis_cmd(c->cmd, noop_cb, NULL, 2, argv, lens);
  }
}

/* ---- feature hooks (core/cluster.c) ---- */

static int dep_by_id(const struct sl_config *cfg, const char *id) {
  for (size_t i = 0; i < cfg->ndeployments; i++)
    if (cfg->deployments[i].id && strcmp(cfg->deployments[i].id, id) == 0) return (int)i;
  return -1;
}

void sl_cluster_health_on_message(struct sl_cluster *c, const char *msg, size_t n) {
  struct sl_cluster_health *h = c->health;
  struct sl_health_msg m;
  if (!h || sl_cluster_health_msg_decode(msg, n, &m)) return;
  if (strcmp(m.from, c->instance) == 0) return; /* this host's own: its shared memory has it */
  int dep = dep_by_id(c->w->cfg, m.dep);
  if (dep < 0) return; /* a deployment this host's config does not have */
  struct sl_worker *w = c->w;
  uint64_t now = sl_now_ms();
  if (m.type == SL_HMSG_COOL) {
    if (m.remaining_ms == 0) return;
    if (sl_health_cooldown_extend(w, (size_t)dep, now + m.remaining_ms, m.len_ms)) {
      atomic_fetch_add(&w->shm->cluster_hc.cooldowns_applied, 1);
      schedule(h, (size_t)dep, now + m.remaining_ms);
    }
  } else {
    /* Clears what a lost claim added; a longer cooldown of this host's own stays. */
    if (sl_health_cooldown_clear(w, (size_t)dep, now + h->window_ms + 2 * (h->lead_ms + CLAIM_SLACK_MS)))
      atomic_fetch_add(&w->shm->cluster_hc.recoveries_applied, 1);
    h->d[dep].claim_at = 0;
  }
}

/* Reconnected: the cooldowns made while Redis was away reach the other hosts. */
void sl_cluster_health_on_up(struct sl_cluster *c) {
  struct sl_cluster_health *h = c->health;
  if (!h) return;
  uint64_t now = sl_now_ms();
  for (size_t i = 0; i < h->n; i++) {
    uint64_t len = 0, until = sl_health_cooldown_until(c->w, i, &len);
    if (until <= now) continue;
    struct sl_health_msg m = {.type = SL_HMSG_COOL, .remaining_ms = until - now, .len_ms = len, .why = SL_FAIL_ERROR};
    snprintf(m.dep, sizeof m.dep, "%s", c->w->cfg->deployments[i].id);
    snprintf(m.from, sizeof m.from, "%s", c->instance);
    if (publish(c, &m)) atomic_fetch_add(&c->w->shm->cluster_hc.cooldowns_published, 1);
    if (!h->d[i].claim_at && !h->d[i].ticket) schedule(h, i, until);
  }
}

int sl_cluster_health_open(struct sl_cluster *c) {
  const struct sl_config *cfg = c->w->cfg;
  size_t n = cfg->ndeployments;
  struct sl_cluster_health *h = calloc(1, sizeof *h + n * sizeof h->d[0]);
  if (!h) return -ENOMEM;
  h->timer = malloc(sizeof *h->timer);
  if (!h->timer) {
    free(h);
    return -ENOMEM;
  }
  h->c = c;
  h->n = n;
  for (size_t i = 0; i < n; i++) h->d[i].h = h;
  uint64_t cd = (uint64_t)(cfg->cooldown_time_s * 1000.0);
  h->window_ms = cd < PROBE_WINDOW_MIN_MS ? PROBE_WINDOW_MIN_MS : cd > PROBE_WINDOW_MAX_MS ? PROBE_WINDOW_MAX_MS : cd;
  uint64_t tmo = cfg->cluster.redis.timeout_ms ? cfg->cluster.redis.timeout_ms : 100;
  h->lead_ms = 2 * tmo + 50; /* a SET and a GET, each within its timeout */
  uv_timer_init(&c->w->loop, h->timer);
  uv_unref((uv_handle_t *)h->timer); /* never keeps a draining worker alive */
  h->timer->data = h;
  c->health = h;
  return 0;
}

static void timer_closed(uv_handle_t *t) { free(t); }

void sl_cluster_health_close(struct sl_cluster *c) {
  struct sl_cluster_health *h = c->health;
  if (!h) return;
  for (size_t i = 0; i < h->n; i++)
    if (h->d[i].ticket && c->cmd) sl_redis_cancel(c->cmd, h->d[i].ticket);
  uv_close((uv_handle_t *)h->timer, timer_closed);
  c->health = NULL;
  free(h);
}

/* ---- metrics ---- */

void sl_cluster_health_metrics(const struct sl_worker *w, struct sl_buf *b) {
  if (!w->cfg->cluster.redis.enabled) return;
  const struct sl_shm_cluster_hc *m = &w->shm->cluster_hc;
  sl_buf_printf(b,
                "# HELP sluice_cluster_cooldowns_published_total Deployment cooldowns this host published to the "
                "other hosts.\n# TYPE sluice_cluster_cooldowns_published_total counter\n"
                "sluice_cluster_cooldowns_published_total %llu\n"
                "# HELP sluice_cluster_cooldowns_applied_total Other hosts' cooldowns that lengthened one here "
                "(counted by each worker that heard it).\n# TYPE sluice_cluster_cooldowns_applied_total counter\n"
                "sluice_cluster_cooldowns_applied_total %llu\n"
                "# HELP sluice_cluster_recoveries_applied_total Other hosts' successful probes that ended a "
                "cooldown here.\n# TYPE sluice_cluster_recoveries_applied_total counter\n"
                "sluice_cluster_recoveries_applied_total %llu\n"
                "# HELP sluice_cluster_probe_claims_total Half-open probe claims by result: won (this host "
                "probes; once per round), lost (another host probes; the cooldown waits for its outcome; per "
                "worker), error (Redis did not answer: this host probes on its own; per worker).\n# TYPE "
                "sluice_cluster_probe_claims_total counter\n"
                "sluice_cluster_probe_claims_total{result=\"won\"} %llu\n"
                "sluice_cluster_probe_claims_total{result=\"lost\"} %llu\n"
                "sluice_cluster_probe_claims_total{result=\"error\"} %llu\n",
                (unsigned long long)atomic_load(&m->cooldowns_published),
                (unsigned long long)atomic_load(&m->cooldowns_applied),
                (unsigned long long)atomic_load(&m->recoveries_applied), (unsigned long long)atomic_load(&m->probe_won),
                (unsigned long long)atomic_load(&m->probe_lost), (unsigned long long)atomic_load(&m->probe_errors));
}
