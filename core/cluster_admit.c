/* Cluster-wide admission: one EVALSHA per request decides, atomically on Redis, the key's
 * RPM and TPM windows, the key's and the gateway's budgets, and the first deployment's
 * rpm/tpm (see core/cluster_admit.h).
 *
 * The one idea: Redis holds the same sliding windows as shared memory does on one host
 * ({minute, prev, cur} per window; a key's RPM and TPM windows are one hash
 * "<ns>:{k:<key id>}:rl", fields m p c and tm tp tc, read and written once per admission), the script decides
 * with the same arithmetic as policy/ratelimit.c on the server's clock (TIME), and returns
 * the windows as it found them; the C side then replays policy's take on that copy, so the
 * headers, Retry-After and the verdict come from one implementation (a disagreement with
 * the script is logged: the unit and integration tests compare them). One host and N hosts
 * therefore answer the same.
 *
 * Budgets are integer micro-USD: "<ns>:{k:<id>}:spend:<period start>" is a hash with one
 * field per host (its ledger id: stable per data directory) = that host's own spend of the
 * period, and "<ns>:{k:<id>}:resv" holds in-flight reservations, one field per request
 * ("<instance>/<worker>/<seq>" = "<micro>:<expiry ms>"): a request is admitted while the
 * sum of the hosts' fields + the others' reservations < max_budget (its own estimate is not
 * counted against it, so sequential requests are exact), and a host that crashes leaves
 * reservations that expire with the request timeout. The gateway budget is the same under
 * "{gw}". A host only ever writes its own field, and only max(field, its spend): its
 * spend of a period only grows, so every write is idempotent and its workers cannot race.
 * Admission writes it (the admitting host's truth, from shared memory and its ledger),
 * settlement writes it (after the cost is added locally), and worker 0 writes every payer
 * it has spend for whenever Redis may have lost it: on each reconnect, and when its marker
 * "<ns>:{gw}:seeded:<ledger id>" is missing (checked each heartbeat: a Redis restarted
 * empty or flushed). So a Redis that comes back empty gets every host's spend back within
 * a heartbeat of the host reaching it, idle hosts included.
 *
 * Settlement is fire-and-forget (ops: window settle, spend field, reservation release),
 * batched per loop iteration: the ops ride on the next admission sent in the same iteration
 * (the admit script applies ops given after its own KEYS/ARGV first), else go as one ops
 * script from a uv_prepare (see "the settlement batch"). While degraded (Redis not up,
 * or the reply late) the request is decided on this host's shared-memory windows with
 * ceil(limit / live hosts); what it counted goes into a per-worker table (and the payers it
 * spent for, whose fields are written again) that is pushed to Redis when it returns
 * (sl_cluster_admit_on_up / tick), so the cluster count stays true.
 *
 * Deployments: the first choice is made at admission (sl_health_snapshot +
 * sl_policy_choose, as try_group does) and counted by the script; retries and hedges on
 * limited deployments use this host's share locally plus an asynchronous count into the
 * deployment's Redis windows.
 *
 * Redis keys carry hash tags ({k:..}, {d:..}, {gw}); the admission script touches several
 * tags, so it needs one Redis node (a primary; Redis Cluster startup nodes are refused by
 * the config). Extend: a new cluster-wide check is a pair of KEYS/ARGV in admit_lua, a
 * field in the reply, and its replay in on_admit_reply. */
#include "core/cluster_admit.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/cluster.h"
#include "core/cluster_features.h"
#include "core/health_shm.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/region.h"
#include "core/request_internal.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "policy/choose.h"
#include "policy/cost.h"
#include "policy/ratelimit.h"
#include "store/keys.h"
#include "store/spend.h"

/* ---- the scripts ---- */

#define LUA_WINDOW                                                                                                     \
  "local M = 60000\n"                                                                                                  \
  "local t = redis.call('TIME')\n"                                                                                     \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                                            \
  "local function fmt(x) return string.format('%d', x) end\n"                                                          \
  "local function nonneg(x) if x < 0 then return 0 end return x end\n"                                                 \
  "local function getw(k, f)\n"                                                                                        \
  "  local v = redis.call('HMGET', k, f .. 'm', f .. 'p', f .. 'c')\n"                                                 \
  "  local m = tonumber(v[1]) or 0\n"                                                                                  \
  "  return {m, tonumber(v[2]) or 0, tonumber(v[3]) or 0, m}\n"                                                        \
  "end\n"                                                                                                              \
  "local function getw2(k)\n"                                                                                          \
  "  local v = redis.call('HMGET', k, 'm', 'p', 'c', 'tm', 'tp', 'tc')\n"                                              \
  "  local m, tm = tonumber(v[1]) or 0, tonumber(v[4]) or 0\n"                                                         \
  "  return {m, tonumber(v[2]) or 0, tonumber(v[3]) or 0, m}, {tm, tonumber(v[5]) or 0, tonumber(v[6]) or 0, tm}\n"    \
  "end\n"                                                                                                              \
  "local function roll(w)\n"                                                                                           \
  "  local m = math.floor(now / M)\n"                                                                                  \
  "  if m > w[1] then\n"                                                                                               \
  "    if m == w[1] + 1 then w[2] = nonneg(w[3]) else w[2] = 0 end\n"                                                  \
  "    w[3] = 0; w[1] = m\n"                                                                                           \
  "  end\n"                                                                                                            \
  "end\n"                                                                                                              \
  "local function putw(k, f, w)\n"                                                                                     \
  "  redis.call('HSET', k, f .. 'm', fmt(w[1]), f .. 'p', fmt(w[2]), f .. 'c', fmt(w[3]))\n"                           \
  "  if w[1] ~= w[4] then redis.call('PEXPIRE', k, 180000); w[4] = w[1] end\n"                                         \
  "end\n"                                                                                                              \
  "local function putw2(k, r, t)\n"                                                                                    \
  "  redis.call('HSET', k, 'm', fmt(r[1]), 'p', fmt(r[2]), 'c', fmt(r[3]), 'tm', fmt(t[1]), 'tp', fmt(t[2]), 'tc', "   \
  "fmt(t[3]))\n"                                                                                                       \
  "  if r[1] ~= r[4] or t[1] ~= t[4] then redis.call('PEXPIRE', k, 180000); r[4] = r[1]; t[4] = t[1] end\n"            \
  "end\n"                                                                                                              \
  "local function apply_ops(kb, i)\n"                                                                                  \
  "  while i + 3 <= #ARGV do\n"                                                                                        \
  "    local op, k, a, b = ARGV[i], KEYS[kb + tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]\n"                      \
  "    if op == 'W' or op == 'T' then\n"                                                                               \
  "      local taken, delta, f = tonumber(a), tonumber(b), ''\n"                                                       \
  "      if op == 'T' then f = 't' end\n"                                                                              \
  "      if taken == 0 then taken = now end\n"                                                                         \
  "      local w = getw(k, f); roll(w)\n"                                                                              \
  "      local tm = math.floor(taken / M)\n"                                                                           \
  "      if tm >= w[1] then w[3] = nonneg(w[3] + delta); putw(k, f, w)\n"                                              \
  "      elseif tm + 1 == w[1] then w[2] = nonneg(w[2] + delta); putw(k, f, w) end\n"                                  \
  "    elseif op == 'M' then\n"                                                                                        \
  "      local v, cur = tonumber(b), tonumber(redis.call('HGET', k, a) or '0') or 0\n"                                 \
  "      if v > 0 and v > cur then redis.call('HSET', k, a, b) end\n"                                                  \
  "    elseif op == 'E' then\n"                                                                                        \
  "      if tonumber(a) > 0 and redis.call('TTL', k) == -1 then redis.call('EXPIRE', k, a) end\n"                      \
  "    elseif op == 'D' then\n"                                                                                        \
  "      redis.call('HDEL', k, a)\n"                                                                                   \
  "    end\n"                                                                                                          \
  "    i = i + 4\n"                                                                                                    \
  "  end\n"                                                                                                            \
  "end\n"

/* policy/ratelimit.c, line for line: view_at, weigh_up, estimate, try_take's test. */
const char sl_cluster_admit_lua[] =
    LUA_WINDOW "local host\n"
               "local function view(w)\n"
               "  local m = math.floor(now / M)\n"
               "  local p, c, e = nonneg(w[2]), nonneg(w[3]), now % M\n"
               "  if m == w[1] then return p, c, e end\n"
               "  if m < w[1] then return p, c, 0 end\n"
               "  if m == w[1] + 1 then return c, 0, e end\n"
               "  return 0, 0, e\n"
               "end\n"
               "local function weigh_up(x, num)\n"
               "  local q = math.floor(x / M); local r = x % M\n"
               "  return q * num + math.floor((r * num + M - 1) / M)\n"
               "end\n"
               "local function fits(w, limit, amount)\n"
               "  if limit <= 0 then return true end\n"
               "  amount = nonneg(amount)\n"
               "  if amount > limit then return false end\n"
               "  local p, c, e = view(w)\n"
               "  return weigh_up(p, M - e) + c <= limit - amount\n"
               "end\n"
               "local function add(w, amount)\n"
               "  roll(w); w[3] = nonneg(w[3]) + nonneg(amount)\n"
               "end\n"
               "local function spent_of(k, seed, ttl)\n"
               "  local mine = tonumber(redis.call('HGET', k, host) or '0') or 0\n"
               "  if seed > mine then redis.call('HSET', k, host, fmt(seed)) end\n"
               "  if ttl > 0 and redis.call('TTL', k) == -1 then redis.call('EXPIRE', k, ttl) end\n"
               "  local sum = 0\n"
               "  for _, v in ipairs(redis.call('HVALS', k)) do sum = sum + (tonumber(v) or 0) end\n"
               "  return sum\n"
               "end\n"
               "local function others(k, field)\n"
               "  local h = redis.call('HGETALL', k)\n"
               "  local sum = 0\n"
               "  for i = 1, #h, 2 do\n"
               "    local micro, exp = string.match(h[i + 1], '^(%-?%d+):(%d+)$')\n"
               "    if not micro or tonumber(exp) < now then redis.call('HDEL', k, h[i])\n"
               "    elseif h[i] ~= field then sum = sum + tonumber(micro) end\n"
               "  end\n"
               "  return sum\n"
               "end\n"
               "local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
               "local kb, gb, resv, field, rttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], "
               "tonumber(ARGV[8])\n"
               "local drpm, dtpm, dtokens = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])\n"
               "local kseed, gseed, kttl, gttl = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), "
               "tonumber(ARGV[15])\n"
               "host = ARGV[16]\n"
               "apply_ops(6, 17)\n"
               "local kr, kt = getw2(KEYS[1])\n"
               "local out = {0, 0, now, kr[1], kr[2], kr[3], kt[1], kt[2], kt[3], 0}\n"
               "if gb > 0 then\n"
               "  local s = spent_of(KEYS[4], gseed, gttl) + others(KEYS[5], field)\n"
               "  if s >= gb then out[1] = 3; out[2] = s; return out end\n"
               "end\n"
               "if kb > 0 then\n"
               "  local s = spent_of(KEYS[2], kseed, kttl) + others(KEYS[3], field)\n"
               "  if s >= kb then out[1] = 2; out[2] = s; return out end\n"
               "end\n"
               "if not fits(kr, rpm, 1) or not fits(kt, tpm, tokens) then out[1] = 1; return out end\n"
               "if rpm > 0 then add(kr, 1) end\n"
               "if tpm > 0 then add(kt, tokens) end\n"
               "if rpm > 0 or tpm > 0 then putw2(KEYS[1], kr, kt) end\n"
               "local v = fmt(resv) .. ':' .. fmt(now + rttl)\n"
               "if gb > 0 then redis.call('HSET', KEYS[5], field, v); redis.call('PEXPIRE', KEYS[5], rttl) end\n"
               "if kb > 0 then redis.call('HSET', KEYS[3], field, v); redis.call('PEXPIRE', KEYS[3], rttl) end\n"
               "if drpm ~= 0 or dtpm ~= 0 then\n"
               "  local dr, dt = getw2(KEYS[6])\n"
               "  if fits(dr, drpm, 1) and fits(dt, dtpm, dtokens) then\n"
               "    if drpm ~= 0 then add(dr, 1) end\n"
               "    if dtpm ~= 0 then add(dt, dtokens) end\n"
               "    putw2(KEYS[6], dr, dt)\n"
               "    out[10] = 1\n"
               "  end\n"
               "end\n"
               "return out\n";

/* Ops, four ARGV each: W|T <key#> <taken ms, 0: now> <delta>: policy's settle (the count of
 * the minute the units were taken in) on the request (W: fields m p c) or token (T: fields
 * tm tp tc) window of a windows hash; M <key#> <host> <micro>: a host's spend field of a
 * spend hash set to max(field, micro); E <key#> <ttl s> -: the key's expiry, when it has
 * none (ttl > 0); D <key#> <field> -: drop a reservation. */
const char sl_cluster_ops_lua[] = LUA_WINDOW "apply_ops(0, 1)\n"
                                             "return 1\n";

/* ---- per-worker state ---- */

/* Counted while degraded, or spent for while Redis was away (then the payer's field is
 * written again), for reconciliation. */
enum rec_kind { REC_KEY, REC_KEY_SPEND, REC_GW_SPEND, REC_DEP };
struct rec {
  enum rec_kind kind;
  uint64_t id;      /* key id, or deployment index */
  int64_t at;       /* windows: the minute (wall ms / 60000); spend: the period start */
  int64_t req, tok; /* window counts */
  int64_t micro;    /* spend (what was spent meanwhile: the field is this host's total) */
  int64_t ttl_s;    /* spend: the hash's expiry (0: none) */
};

/* An op: "W|M|E|D", the key's number among the call's own keys (1-based), a, b. */
struct op {
  char op;
  int key;
  char a[160];
  int64_t b;
};

#define BATCH_KEYS 64
#define BATCH_OPS  128

struct batch {
  char *keys[BATCH_KEYS];
  size_t nkeys;
  struct op ops[BATCH_OPS];
  size_t nops;
  uv_prepare_t *flush; /* allocated: the handle outlives the state while it closes */
};

struct sl_cluster_admit_state {
  struct sl_redis_script admit, ops;
  uint64_t seq;
  struct rec *recs;
  size_t n, cap;
  bool pushing;
  char host[136];   /* this host's field in the spend hashes: its ledger id (else instance) */
  char marker[224]; /* "<ns>:{gw}:seeded:<host>": set after worker 0 wrote every field */
  bool marker_busy; /* worker 0: the marker's EXISTS is in flight */
  unsigned repushes;
  struct batch *batch; /* settlements of this loop iteration (NULL: each sent alone) */
};

/* A pending admission: the request is kept alive until the reply. */
struct pending {
  struct sl_request *rq;
  struct sl_admit_ask ask;
  int64_t rpm, tpm, tokens;
};

static void batch_send(struct sl_worker *w, struct batch *b);

/* v's decimal digits into b (at least 22 bytes), NUL-terminated; returns how many (no printf:
 * an admission formats a dozen numbers). */
static size_t i64s(char *b, int64_t v) {
  if (v >= 0) return sl_fmt_u64((uint64_t)v, b);
  b[0] = '-';
  return 1 + sl_fmt_u64((uint64_t)0 - (uint64_t)v, b + 1);
}

int64_t sl_cluster_budget_micro(double usd) {
  int64_t p = sl_policy_budget_pico(usd);
  return p / 1000000 + (p % 1000000 != 0);
}

int sl_cluster_admit_open(struct sl_cluster *c) {
  struct sl_cluster_admit_state *a = calloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  sl_redis_script_init(&a->admit, "admit", sl_cluster_admit_lua);
  sl_redis_script_init(&a->ops, "settle", sl_cluster_ops_lua);
  char ledger[33] = "";
  if (c->w->tenancy && sl_spend_ledger_id(c->w->tenancy, ledger)) ledger[0] = 0;
  /* the ledger id: a host restarted under another instance name keeps its field */
  snprintf(a->host, sizeof a->host, "%s", ledger[0] ? ledger : c->instance);
  snprintf(a->marker, sizeof a->marker, "%s:{gw}:seeded:%s", c->ns, a->host);
  a->batch = calloc(1, sizeof *a->batch);
  if (a->batch) {
    a->batch->flush = malloc(sizeof *a->batch->flush);
    if (!a->batch->flush || uv_prepare_init(&c->w->loop, a->batch->flush)) {
      free(a->batch->flush);
      free(a->batch);
      a->batch = NULL;
    } else
      a->batch->flush->data = c->w;
  }
  c->admit = a;
  return 0;
}

static void free_handle(uv_handle_t *h) { free(h); }

void sl_cluster_admit_close(struct sl_cluster *c) {
  if (!c->admit) return;
  if (c->admit->n)
    sl_log(SL_LOG_WARN, "cluster: degraded-mode counts not reconciled (Redis did not return before exit)",
           "\"worker\":%u,\"entries\":%zu", c->w->index, c->admit->n);
  struct batch *b = c->admit->batch;
  if (b) {
    batch_send(c->w, b); /* before the connection closes */
    uv_close((uv_handle_t *)b->flush, free_handle);
    free(b);
  }
  free(c->admit->recs);
  free(c->admit);
  c->admit = NULL;
}

static struct sl_cluster_admit_state *st(const struct sl_worker *w) { return w->cluster ? w->cluster->admit : NULL; }

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rec_add(struct sl_worker *w, enum rec_kind kind, uint64_t id, int64_t at, int64_t req, int64_t tok,
                    int64_t micro, int64_t ttl_s) {
  struct sl_cluster_admit_state *a = st(w);
  if (!a || (!req && !tok && !micro)) return;
  for (size_t i = 0; i < a->n; i++) {
    struct rec *r = &a->recs[i];
    if (r->kind == kind && r->id == id && r->at == at) {
      r->req += req;
      r->tok += tok;
      r->micro += micro;
      if (ttl_s > r->ttl_s) r->ttl_s = ttl_s;
      return;
    }
  }
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    if (cap > 1u << 20) return; /* a bound: an outage cannot eat the worker's memory */
    struct rec *r = realloc(a->recs, cap * sizeof *r);
    if (!r) return;
    a->recs = r;
    a->cap = cap;
  }
  a->recs[a->n++] = (struct rec){kind, id, at, req, tok, micro, ttl_s};
}

/* ---- key names ---- */

struct names {
  char kwin[160], kspend[180], kresv[160], gspend[160], gresv[160], dwin[400];
};

static void key_names(const struct sl_cluster *c, uint64_t id, int64_t period, struct names *n) {
  snprintf(n->kwin, sizeof n->kwin, "%s:{k:%016" PRIx64 "}:rl", c->ns, id);
  snprintf(n->kspend, sizeof n->kspend, "%s:{k:%016" PRIx64 "}:spend:%" PRId64, c->ns, id, period);
  snprintf(n->kresv, sizeof n->kresv, "%s:{k:%016" PRIx64 "}:resv", c->ns, id);
}

static void gw_names(const struct sl_cluster *c, int64_t period, struct names *n) {
  snprintf(n->gspend, sizeof n->gspend, "%s:{gw}:spend:%" PRId64, c->ns, period);
  snprintf(n->gresv, sizeof n->gresv, "%s:{gw}:resv", c->ns);
}

static void dep_names(const struct sl_worker *w, size_t dep, struct names *n) {
  const char *id = w->cfg->deployments[dep].id ? w->cfg->deployments[dep].id : "?";
  snprintf(n->dwin, sizeof n->dwin, "%s:{d:%.300s}:rl", w->cluster->ns, id);
}

static void resv_field(const struct sl_worker *w, uint64_t seq, char *out, size_t cap) {
  snprintf(out, cap, "%s/%u/%" PRIu64, w->cluster->instance, w->index, seq);
}

/* ---- ops (settle, reconcile) ---- */

struct ops {
  const char *keys[8];
  size_t nkeys;
  struct op ops[16];
  size_t nops;
};

static int ops_key(struct ops *o, const char *k) {
  for (size_t i = 0; i < o->nkeys; i++)
    if (o->keys[i] == k || strcmp(o->keys[i], k) == 0) return (int)i + 1;
  if (o->nkeys == 8) return 0;
  o->keys[o->nkeys++] = k;
  return (int)o->nkeys;
}

static void ops_add(struct ops *o, char op, const char *key, const char *a, int64_t b) {
  int ki = ops_key(o, key);
  if (!ki || o->nops == 16) return;
  struct op *x = &o->ops[o->nops++];
  x->op = op;
  x->key = ki;
  snprintf(x->a, sizeof x->a, "%s", a);
  x->b = b;
}

static void on_ops_reply(void *ud, const struct redisReply *r, const char *err) {
  struct sl_worker *w = ud;
  if (r && r->type == REDIS_REPLY_ERROR)
    sl_log(SL_LOG_WARN, "cluster: settle script refused", "\"worker\":%u,\"error\":\"%.200s\"", w->index, r->str);
  (void)err; /* lost with the connection: the reservation expires, the window slides */
}

/* The ops' four ARGV each into argv/lens (num: 48 bytes per op for the numbers). */
static size_t ops_argv(const struct op *ops, size_t n, const char **argv, size_t *lens, char (*num)[48]) {
  static const char *const names[] = {"W", "M", "E", "D", "T"};
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const struct op *x = &ops[i];
    const char *nm = x->op == 'W'   ? names[0]
                     : x->op == 'M' ? names[1]
                     : x->op == 'E' ? names[2]
                     : x->op == 'T' ? names[4]
                                    : names[3];
    size_t l1 = i64s(num[i], x->key);
    size_t l2 = i64s(num[i] + 24, x->b);
    argv[k] = nm;
    lens[k++] = 1;
    argv[k] = num[i];
    lens[k++] = l1;
    argv[k] = x->a;
    lens[k++] = strlen(x->a);
    argv[k] = num[i] + 24;
    lens[k++] = l2;
  }
  return k;
}

/* 0 when sent. */
static int ops_send(struct sl_worker *w, struct ops *o) {
  if (!o->nops || !w->cluster || !w->cluster->up) return o->nops ? -ENOTCONN : 0;
  const char *argv[8 + 64];
  size_t lens[8 + 64], n = 0;
  char num[16][48];
  for (size_t i = 0; i < o->nkeys; i++) {
    argv[n] = o->keys[i];
    lens[n++] = strlen(o->keys[i]);
  }
  n += ops_argv(o->ops, o->nops, argv + n, lens + n, num);
  uint64_t t = sl_redis_eval(w->cluster->cmd, &w->cluster->admit->ops, on_ops_reply, w, (int)o->nkeys,
                             (int)(o->nops * 4), argv, lens);
  return t ? 0 : -ENOTCONN;
}

/* ---- the settlement batch: every settlement of one loop iteration in one call ----
 *
 * Settlements (and the asynchronous deployment counts) are not sent one script each: they
 * go into this worker's batch, which rides on the next admission sent in the same loop
 * iteration (the admission script applies the ops first), or else is sent as one ops script
 * from a uv_prepare handle, i.e. before the loop next waits: no added delay. */

static void batch_clear(struct batch *b) {
  for (size_t i = 0; i < b->nkeys; i++) free(b->keys[i]);
  b->nkeys = b->nops = 0;
  if (b->flush) uv_prepare_stop(b->flush);
}

/* The batch's keys and ops into argv/lens: keys at kv, op args at av (num: BATCH_OPS). */
static size_t batch_keys(const struct batch *b, const char **kv, size_t *kl) {
  for (size_t i = 0; i < b->nkeys; i++) {
    kv[i] = b->keys[i];
    kl[i] = strlen(b->keys[i]);
  }
  return b->nkeys;
}

static void batch_send(struct sl_worker *w, struct batch *b) {
  if (!b->nops) return;
  const char *argv[BATCH_KEYS + 4 * BATCH_OPS];
  size_t lens[BATCH_KEYS + 4 * BATCH_OPS];
  char num[BATCH_OPS][48];
  size_t nk = batch_keys(b, argv, lens);
  size_t na = ops_argv(b->ops, b->nops, argv + nk, lens + nk, num);
  if (w->cluster && w->cluster->up)
    sl_redis_eval(w->cluster->cmd, &w->cluster->admit->ops, on_ops_reply, w, (int)nk, (int)na, argv, lens);
  /* not sent (went down within the iteration): as a sent call lost with the connection */
  batch_clear(b);
}

static void on_batch_flush(uv_prepare_t *h) {
  struct sl_worker *w = h->data;
  struct sl_cluster_admit_state *a = w->cluster ? w->cluster->admit : NULL;
  if (!a) {
    uv_prepare_stop(h);
    return;
  }
  batch_send(w, a->batch);
  sl_redis_flush(w->cluster->cmd); /* now: a prepare started from a prepare runs next iteration */
}

/* o into the batch (0), or -ENOTCONN (Redis down: the caller keeps the numbers). */
static int batch_add(struct sl_worker *w, struct ops *o) {
  if (!o->nops) return 0;
  if (!w->cluster || !w->cluster->up) return -ENOTCONN;
  struct batch *b = w->cluster->admit->batch;
  if (!b) return ops_send(w, o);
  if (b->nops + o->nops > BATCH_OPS || b->nkeys + o->nkeys > BATCH_KEYS) batch_send(w, b);
  int map[8];
  for (size_t i = 0; i < o->nkeys; i++) {
    size_t j = 0;
    while (j < b->nkeys && strcmp(b->keys[j], o->keys[i]) != 0) j++;
    if (j == b->nkeys) {
      char *k = strdup(o->keys[i]);
      if (!k) return ops_send(w, o);
      b->keys[b->nkeys++] = k;
    }
    map[i] = (int)j + 1;
  }
  for (size_t i = 0; i < o->nops; i++) {
    b->ops[b->nops] = o->ops[i];
    b->ops[b->nops++].key = map[o->ops[i].key - 1];
  }
  if (b->flush && !uv_is_active((uv_handle_t *)b->flush)) uv_prepare_start(b->flush, on_batch_flush);
  return 0;
}

/* The expiry of a spend hash: its period's end + a day (0: a period without end). */
static int64_t spend_ttl(int64_t period, int64_t duration_s, int64_t now) {
  return duration_s > 0 ? period + duration_s - now + 86400 : 0;
}

/* This host's spend field of a payer (key id, or the gateway) into o: M (the field to
 * max(field, this host's spend of the period)) and E (the hash's expiry when it has none).
 * The period is the slot's when that turned since admission (spend added after a period
 * turned counts in the new one, as on one host). name (cap >= 200) must outlive o.
 * False when this host has spent nothing there (nothing to write). */
static bool spend_field(struct sl_worker *w, struct ops *o, bool gw, uint64_t id, int64_t period, int64_t ttl_s,
                        char *name) {
  int64_t p = period;
  int64_t v = sl_tenancy_host_spend_micro(w, gw ? SL_SPEND_ID_GATEWAY : id, gw, &p);
  if (v <= 0 || o->nkeys >= 8 || o->nops + 2 > 16) return false;
  if (gw)
    snprintf(name, 200, "%s:{gw}:spend:%" PRId64, w->cluster->ns, p);
  else
    snprintf(name, 200, "%s:{k:%016" PRIx64 "}:spend:%" PRId64, w->cluster->ns, id, p);
  char ttl[48];
  i64s(ttl, ttl_s > 0 ? ttl_s + (p - period) : 0);
  ops_add(o, 'M', name, w->cluster->admit->host, v);
  ops_add(o, 'E', name, ttl, 0);
  return true;
}

/* Pushes the reconciliation table to Redis (on up, and on each tick while it has rows). */
static void reconcile(struct sl_cluster *c) {
  struct sl_cluster_admit_state *a = c->admit;
  struct sl_worker *w = c->w;
  if (!a || !a->n || !c->up) return;
  size_t done = 0;
  for (; done < a->n; done++) {
    struct rec *r = &a->recs[done];
    struct names nm;
    struct ops o = {0};
    char at[48];
    i64s(at, r->at * SL_RATE_WINDOW_MS);
    if (r->kind == REC_KEY) {
      key_names(c, r->id, 0, &nm);
      if (r->req) ops_add(&o, 'W', nm.kwin, at, r->req);
      if (r->tok) ops_add(&o, 'T', nm.kwin, at, r->tok);
    } else if (r->kind == REC_DEP) {
      if (r->id >= w->cfg->ndeployments) continue;
      dep_names(w, (size_t)r->id, &nm);
      if (r->req) ops_add(&o, 'W', nm.dwin, at, r->req);
      if (r->tok) ops_add(&o, 'T', nm.dwin, at, r->tok);
    } else { /* this host's whole spend of the period: its field, not a delta */
      char name[200];
      if (!spend_field(w, &o, r->kind == REC_GW_SPEND, r->id, r->at, r->ttl_s, name)) continue;
      if (ops_send(w, &o)) break;
      sl_cluster_count(w, SL_SHM_CLUSTER_RECONCILED);
      continue;
    }
    if (ops_send(w, &o)) break;
    sl_cluster_count(w, SL_SHM_CLUSTER_RECONCILED);
  }
  if (done)
    sl_log(SL_LOG_INFO, "cluster: degraded-mode counts reconciled into Redis", "\"worker\":%u,\"entries\":%zu",
           w->index, done);
  memmove(a->recs, a->recs + done, (a->n - done) * sizeof *a->recs);
  a->n -= done;
}

static void on_load_reply(void *ud, const struct redisReply *r, const char *err) {
  (void)ud;
  (void)r;
  (void)err; /* EVALSHA loads it again on NOSCRIPT anyway */
}

/* Loads the scripts on a fresh connection, so that the first settlement (which nobody
 * waits for) is not a NOSCRIPT round trip later than the answer it settles. */
static void load_scripts(struct sl_cluster *c) {
  const struct sl_redis_script *s[] = {&c->admit->admit, &c->admit->ops};
  for (size_t i = 0; i < 2; i++) {
    const char *argv[] = {"SCRIPT", "LOAD", s[i]->source};
    size_t lens[] = {6, 4, strlen(s[i]->source)};
    sl_redis_cmd(c->cmd, on_load_reply, NULL, 3, argv, lens);
  }
}

/* ---- this host's spend fields written again (worker 0) ---- */

struct payer {
  uint64_t id;
  bool gw;
  int64_t period, ttl_s;
};
struct payers {
  struct payer *v;
  size_t n, cap;
  int64_t now;
};

static int payer_add(struct payers *p, struct payer x) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    struct payer *v = realloc(p->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = x;
  return 0;
}

static int payer_cb(void *ctx, const struct sl_key_record *k) {
  struct payers *p = ctx;
  if (!(k->max_budget > 0)) return 0; /* no budget: admission never reads its hash */
  int64_t period = sl_key_period_start(k, p->now);
  return payer_add(p, (struct payer){k->id, false, period, spend_ttl(period, k->budget_duration_s, p->now)});
}

static void on_marker_set(void *ud, const struct redisReply *r, const char *err) {
  (void)ud;
  (void)r;
  (void)err; /* not set: the next heartbeat finds it missing and writes everything again */
}

/* Every payer with a budget this host has spent for in its current period gets its field
 * (max) again, then the marker says so. Redis may have lost them (restarted empty, flushed):
 * without this, another host's admission would see only the hosts that spoke since. */
static void repush(struct sl_cluster *c) {
  struct sl_worker *w = c->w;
  struct sl_cluster_admit_state *a = c->admit;
  if (!a || !c->up || w->index != 0) return;
  struct payers p = {.now = (int64_t)time(NULL)};
  int rc = 0;
  if (w->cfg->max_budget > 0) {
    int64_t period = sl_tenancy_gateway_period(w, p.now);
    rc = payer_add(&p, (struct payer){0, true, period, spend_ttl(period, w->cfg->plan->budget_period_s, p.now)});
  }
  if (!rc && w->keys) rc = sl_keys_list(w->keys, payer_cb, &p);
  size_t written = 0, i = 0;
  while (!rc && i < p.n) {
    struct ops o = {0};
    char names[8][200];
    size_t used = 0;
    for (; i < p.n && used < 8; i++)
      if (spend_field(w, &o, p.v[i].gw, p.v[i].id, p.v[i].period, p.v[i].ttl_s, names[used])) used++;
    if (ops_send(w, &o)) rc = -ENOTCONN; /* down again: the next on_up writes them */
    written += used;
  }
  free(p.v);
  if (rc) {
    sl_log(SL_LOG_WARN, "cluster: this host's spend not written again into Redis (retried on reconnect)",
           "\"worker\":%u,\"error\":%d", w->index, rc);
    return;
  }
  const char *argv[] = {"SET", a->marker, "1"};
  size_t lens[] = {3, strlen(a->marker), 1};
  sl_redis_cmd(c->cmd, on_marker_set, NULL, 3, argv, lens);
  if (a->repushes++ && written) { /* not the first connection: Redis may have lost them */
    sl_cluster_count(w, SL_SHM_CLUSTER_RECONCILED);
    sl_log(SL_LOG_INFO, "cluster: this host's spend written again into Redis", "\"payers\":%zu", written);
  }
}

static void on_marker(void *ud, const struct redisReply *r, const char *err) {
  struct sl_worker *w = ud;
  struct sl_cluster_admit_state *a = st(w);
  (void)err;
  if (!a) return;
  a->marker_busy = false;
  if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
    sl_log(SL_LOG_WARN, "cluster: Redis lost this host's spend (restarted empty or flushed): writing it again",
           "\"worker\":%u,\"host\":\"%s\"", w->index, a->host);
    repush(w->cluster);
  }
}

void sl_cluster_admit_on_up(struct sl_cluster *c) {
  if (!c->admit) return;
  c->admit->marker_busy = false;
  load_scripts(c);
  reconcile(c);
  repush(c);
}

void sl_cluster_admit_tick(struct sl_cluster *c) {
  struct sl_cluster_admit_state *a = c->admit;
  reconcile(c);
  if (!a || !c->up || c->w->index != 0 || a->marker_busy) return;
  const char *argv[] = {"EXISTS", a->marker};
  size_t lens[] = {6, strlen(a->marker)};
  if (sl_redis_cmd(c->cmd, on_marker, c->w, 2, argv, lens)) a->marker_busy = true;
}

/* ---- admission ---- */

static bool dep_limited(const struct sl_worker *w, size_t dep) {
  return w->cfg->deployments[dep].rpm > 0 || w->cfg->deployments[dep].tpm > 0;
}

/* The first deployment, chosen as try_group chooses (not a half-open probe: that one is
 * claimed when the attempt starts); -1 when the group has no limited deployment. */
static int choose_first(struct sl_request *rq) {
  const struct sl_group *g = rq->group;
  struct sl_worker *w = rq->w;
  if (!g || !g->n || g->router) return -1;
  bool any = false;
  for (size_t i = 0; i < g->n && !any; i++) any = dep_limited(w, g->deps[i]);
  if (!any) return -1;
  struct sl_candidate small[16], *cands = g->n <= 16 ? small : malloc(g->n * sizeof *cands);
  bool nt[16] = {0}, *tried = g->n <= 16 ? nt : calloc(g->n, sizeof *tried);
  int dep = -1;
  if (cands && tried) {
    sl_health_snapshot(w, g, tried, rq->stream, cands);
    sl_region_apply(rq, g, cands);
    struct sl_choice ch = sl_policy_choose(w->cfg->plan->strategy, cands, g->n, sl_now_ms(), sl_health_minute_left(),
                                           rq->est_tokens, &w->rng);
    if (ch.index >= 0 && !ch.probe && dep_limited(w, g->deps[ch.index])) dep = (int)g->deps[ch.index];
  }
  if (cands != small) free(cands);
  if (tried != nt) free(tried);
  return dep;
}

/* The most this request may cost (its prompt estimate + max output at the group's dearest
 * price), in micro-USD: its budget reservation. */
static int64_t estimate_micro(const struct sl_request *rq, const struct sl_admit_ask *a) {
  const struct sl_worker *w = rq->w;
  const struct sl_group *g = rq->group;
  int64_t best = 0;
  if (!w->prices || !g) return 0;
  struct sl_tokens t = {a->est_tokens, sl_tenancy_max_output(a->body, 1024, (int64_t)1e9), 0, 0};
  for (size_t i = 0; i < g->n; i++) {
    int64_t m = sl_policy_cost_micro_tokens(&t, &w->prices[g->deps[i]]);
    if (m > best) best = m;
  }
  return best;
}

static bool needs_cluster(const struct sl_worker *w, const struct sl_admit_ask *a, int first_dep) {
  if (w->cfg->max_budget > 0 || first_dep >= 0) return true;
  const struct sl_key_record *k = a->key;
  return k && (k->max_budget > 0 || k->rpm_limit > 0 || k->tpm_limit > 0);
}

/* Decided here on this host's share (Redis unreachable or late). */
static void decide_degraded(struct sl_request *rq, const struct sl_admit_ask *ask, struct sl_admit_verdict *v) {
  struct sl_worker *w = rq->w;
  struct sl_admit_ask a = *ask;
  a.stage = SL_ADMIT_LIMITS;
  a.share_hosts = w->cluster->live_hosts;
  a.budget_unverifiable = w->cfg->cluster.fail_closed_budget;
  sl_tenancy_admit(w, &a, &rq->hold, &rq->rl_hdrs, v);
  sl_cluster_count(w, SL_SHM_CLUSTER_ADMIT_DEGRADED);
  if (v->kind != SL_ADMIT_OK) return;
  struct sl_tenancy_cluster *cl = &rq->hold.cl;
  const struct sl_key_record *k = a.key;
  cl->mode = SL_CLUSTER_DEGRADED;
  cl->first_dep = 0;
  cl->taken_ms = wall_ms();
  int64_t now = (int64_t)time(NULL);
  if (k) {
    cl->key_id = k->id;
    cl->key_tpm = k->tpm_limit > 0;
    cl->key_budget = k->max_budget > 0;
    cl->key_period = sl_key_period_start(k, now);
    cl->tok_reserved = k->tpm_limit > 0 ? rq->hold.tpm_reserved : 0;
    if (k->rpm_limit > 0 || k->tpm_limit > 0)
      rec_add(w, REC_KEY, k->id, (int64_t)(cl->taken_ms / SL_RATE_WINDOW_MS), k->rpm_limit > 0, cl->tok_reserved, 0, 0);
  }
  cl->gw_budget = w->cfg->max_budget > 0;
  cl->gw_period = sl_tenancy_gateway_period(w, now);
  cl->key_spend_ttl_s = k ? spend_ttl(cl->key_period, k->budget_duration_s, now) : 0;
  cl->gw_spend_ttl_s = spend_ttl(cl->gw_period, w->cfg->plan->budget_period_s, now);
}

static void on_admit_reply(void *ud, const struct redisReply *r, const char *err);

/* Replays the script's decision with policy's arithmetic on the windows it returned. */
static void apply_reply(struct pending *p, const struct redisReply *r, struct sl_admit_verdict *v) {
  struct sl_request *rq = p->rq;
  struct sl_worker *w = rq->w;
  const struct sl_key_record *k = p->ask.key;
  struct sl_tenancy_cluster *cl = &rq->hold.cl;
  int64_t x[10];
  for (int i = 0; i < 10; i++) x[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
  memset(v, 0, sizeof *v);
  uint64_t now = (uint64_t)x[2];
  struct sl_rate_window req = {(uint64_t)x[3], x[4], x[5]}, tok = {(uint64_t)x[6], x[7], x[8]};
  const char *who = k ? (k->key_alias[0] ? k->key_alias : k->display) : "";
  if (x[0] == 3) {
    sl_tenancy_budget_refusal(v, "the gateway", x[1], w->cfg->max_budget);
    return;
  }
  if (x[0] == 2) {
    sl_tenancy_budget_refusal(v, who, x[1], k ? k->max_budget : 0);
    return;
  }
  uint64_t ra = 0;
  enum sl_rate_denied which = SL_RATE_ADMITTED;
  int rc = 0;
  if (p->rpm > 0 || p->tpm > 0) rc = sl_policy_rate_take_pair(&req, p->rpm, &tok, p->tpm, p->tokens, now, &ra, &which);
  if ((rc != 0) != (x[0] == 1)) /* never expected: the tests compare the two */
    sl_log(SL_LOG_ERROR, "cluster: the admission script and policy/ratelimit.c disagree (Redis decides)",
           "\"script\":%lld,\"policy\":%d", (long long)x[0], rc);
  if (k && k->rpm_limit > 0) sl_tenancy_rl_headers(&rq->rl_hdrs, "requests", k->rpm_limit, &req, now);
  if (k && k->tpm_limit > 0) sl_tenancy_rl_headers(&rq->rl_hdrs, "tokens", k->tpm_limit, &tok, now);
  if (x[0] == 1) {
    if (!rc) { /* policy would admit: say the window's own wait */
      which = SL_RATE_DENIED_REQUESTS;
      ra = 1000;
    }
    v->kind = SL_ADMIT_RATE;
    v->retry_after_s = sl_policy_rate_retry_after_s(ra);
    snprintf(v->msg, sizeof v->msg, "Rate limit exceeded for key %s: %s %lld per minute", who,
             which == SL_RATE_DENIED_TOKENS ? "tpm_limit" : "rpm_limit",
             (long long)(which == SL_RATE_DENIED_TOKENS ? k->tpm_limit : k->rpm_limit));
    return;
  }
  /* admitted: this host's windows count it too (degraded-mode state, /key/info) */
  cl->mode = SL_CLUSTER_REDIS;
  cl->taken_ms = now;
  cl->first_dep_ok = x[9] == 1;
  sl_tenancy_count_local(w, &p->ask, &rq->hold);
}

static void on_admit_reply(void *ud, const struct redisReply *r, const char *err) {
  struct pending *p = ud;
  struct sl_request *rq = p->rq;
  struct sl_worker *w = rq->w;
  struct sl_tenancy_cluster *cl = &rq->hold.cl;
  cl->ticket = 0;
  bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 10;
  if (r && !ok)
    sl_log(SL_LOG_WARN, "cluster: admission script failed: decided on this host's share",
           "\"worker\":%u,\"error\":\"%.200s\"", w->index, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
  struct sl_admit_verdict v;
  if (rq->finished) { /* the client left: give back what the script may have reserved */
    if (ok && r->element[0]->integer == 0) {
      cl->mode = SL_CLUSTER_REDIS;
      cl->taken_ms = (uint64_t)r->element[2]->integer;
      cl->first_dep_ok = r->element[9]->integer == 1;
      struct sl_request_summary s;
      memset(&s, 0, sizeof s);
      sl_cluster_admit_settle(w, &rq->hold, &s);
    }
    free(p);
    sl_request_release(rq);
    return;
  }
  if (ok) {
    sl_cluster_count(w, SL_SHM_CLUSTER_ADMIT_REDIS);
    apply_reply(p, r, &v);
  } else {
    (void)err;
    decide_degraded(rq, &p->ask, &v);
    cl->first_dep = 0;
  }
  free(p);
  sl_request_admit_resume(rq, &v);
  sl_request_release(rq);
}

enum sl_cluster_admit_rc sl_cluster_admit(struct sl_request *rq, const struct sl_admit_ask *ask,
                                          struct sl_admit_verdict *v) {
  struct sl_worker *w = rq->w;
  struct sl_cluster *c = w->cluster;
  struct sl_tenancy_cluster *cl = &rq->hold.cl;
  memset(cl, 0, sizeof *cl);
  if (!c || !c->admit) {
    sl_tenancy_admit(w, ask, &rq->hold, &rq->rl_hdrs, v);
    return SL_CLUSTER_ADMIT_DONE;
  }
  int first = c->up ? choose_first(rq) : -1;
  if (!needs_cluster(w, ask, first)) {
    sl_tenancy_admit(w, ask, &rq->hold, &rq->rl_hdrs, v);
    return SL_CLUSTER_ADMIT_DONE;
  }
  /* permission, the limiter slot, parallel requests: this host's business */
  struct sl_admit_ask a = *ask;
  a.stage = SL_ADMIT_PRE;
  sl_tenancy_admit(w, &a, &rq->hold, &rq->rl_hdrs, v);
  if (v->kind != SL_ADMIT_OK) return SL_CLUSTER_ADMIT_DONE;
  if (!c->up) {
    decide_degraded(rq, ask, v);
    return SL_CLUSTER_ADMIT_DONE;
  }
  const struct sl_key_record *k = ask->key;
  struct pending *p = calloc(1, sizeof *p);
  if (!p) {
    decide_degraded(rq, ask, v);
    return SL_CLUSTER_ADMIT_DONE;
  }
  p->rq = rq;
  p->ask = *ask;
  p->ask.stage = SL_ADMIT_ALL;
  int64_t now = (int64_t)time(NULL);
  p->rpm = k && k->rpm_limit > 0 ? k->rpm_limit : 0;
  p->tpm = k && k->tpm_limit > 0 ? k->tpm_limit : 0;
  p->tokens = sl_tenancy_tpm_estimate(k, ask);
  int64_t kb = k && k->max_budget > 0 ? sl_cluster_budget_micro(k->max_budget) : 0;
  int64_t gb = w->cfg->max_budget > 0 ? sl_cluster_budget_micro(w->cfg->max_budget) : 0;
  cl->key_id = k ? k->id : 0;
  cl->key_tpm = p->tpm > 0;
  cl->key_budget = kb > 0;
  cl->gw_budget = gb > 0;
  cl->tok_reserved = p->tpm > 0 ? p->tokens : 0;
  cl->key_period = k ? sl_key_period_start(k, now) : 0;
  cl->gw_period = sl_tenancy_gateway_period(w, now);
  cl->key_spend_ttl_s = k ? spend_ttl(cl->key_period, k->budget_duration_s, now) : 0;
  cl->gw_spend_ttl_s = spend_ttl(cl->gw_period, w->cfg->plan->budget_period_s, now);
  cl->resv_seq = ++c->admit->seq;
  cl->first_dep = first + 1;
  cl->dep_tokens = rq->est_tokens;
  int64_t kseed = kb ? sl_tenancy_local_spend_micro(w, k, cl->key_period) : 0;
  int64_t gseed = gb ? sl_tenancy_local_spend_micro(w, NULL, cl->gw_period) : 0;

  struct names nm;
  memset(&nm, 0, sizeof nm);
  key_names(c, cl->key_id, cl->key_period, &nm);
  gw_names(c, cl->gw_period, &nm);
  if (first >= 0)
    dep_names(w, (size_t)first, &nm);
  else {
    snprintf(nm.dwin, sizeof nm.dwin, "%s:{d:}:rl", c->ns);
  }
  char args[16][160];
  const struct sl_deployment *d = first >= 0 ? &w->cfg->deployments[first] : NULL;
  i64s(args[0], p->rpm);
  i64s(args[1], p->tpm);
  i64s(args[2], p->tokens);
  i64s(args[3], kb);
  i64s(args[4], gb);
  i64s(args[5], estimate_micro(rq, ask));
  resv_field(w, cl->resv_seq, args[6], 160);
  i64s(args[7], (int64_t)(w->cfg->timeout_s * 1000) + 60000);
  i64s(args[8], d ? (d->rpm > 0 ? d->rpm : -1) : 0);
  i64s(args[9], d ? (d->tpm > 0 ? d->tpm : -1) : 0);
  i64s(args[10], rq->est_tokens);
  i64s(args[11], kseed);
  i64s(args[12], gseed);
  i64s(args[13], cl->key_spend_ttl_s);
  i64s(args[14], cl->gw_spend_ttl_s);
  memcpy(args[15], c->admit->host, strlen(c->admit->host) + 1); /* host[136] fits args[15] */
  /* this iteration's settlements ride along (applied first): KEYS 7.., ARGV 17.. */
  const char *argv[6 + 16 + BATCH_KEYS + 4 * BATCH_OPS] = {nm.kwin, nm.kspend, nm.kresv, nm.gspend, nm.gresv, nm.dwin};
  size_t lens[6 + 16 + BATCH_KEYS + 4 * BATCH_OPS];
  char num[BATCH_OPS][48];
  struct batch *b = c->admit->batch;
  size_t nk = 6, na = 16;
  if (b && b->nops) nk += batch_keys(b, argv + 6, lens + 6);
  for (int i = 0; i < 16; i++) argv[nk + (size_t)i] = args[i];
  for (size_t i = 0; i < nk + 16; i++)
    if (i < 6 || i >= nk) lens[i] = strlen(argv[i]);
  if (b && b->nops) na += ops_argv(b->ops, b->nops, argv + nk + 16, lens + nk + 16, num);
  rq->open_handles++; /* the request lives until the reply (or its timeout) comes */
  cl->ticket = sl_redis_eval(c->cmd, &c->admit->admit, on_admit_reply, p, (int)nk, (int)na, argv, lens);
  if (cl->ticket && b && b->nops) batch_clear(b);
  if (!cl->ticket) { /* not connected after all: decided here, now */
    rq->open_handles--;
    free(p);
    decide_degraded(rq, ask, v);
    cl->first_dep = 0;
    return SL_CLUSTER_ADMIT_DONE;
  }
  return SL_CLUSTER_ADMIT_PENDING;
}

/* ---- settlement ---- */

void sl_cluster_admit_settle(struct sl_worker *w, struct sl_tenancy_hold *hold, const struct sl_request_summary *s) {
  struct sl_tenancy_cluster *cl = &hold->cl;
  enum sl_cluster_mode mode = cl->mode;
  cl->mode = SL_CLUSTER_NONE; /* once */
  if (!w->cluster || !w->cluster->admit || mode == SL_CLUSTER_NONE) return;
  int64_t used = sl_policy_add_sat(s->tokens_in, s->tokens_out);
  int64_t tok_delta = cl->key_tpm ? used - cl->tok_reserved : 0;
  int64_t micro = s->cost_micro > 0 ? s->cost_micro : 0;
  struct names nm;
  struct ops o = {0};
  char taken[48], field[160], kname[200], gname[200];
  key_names(w->cluster, cl->key_id, cl->key_period, &nm);
  gw_names(w->cluster, cl->gw_period, &nm);
  i64s(taken, (int64_t)cl->taken_ms);
  if (mode == SL_CLUSTER_REDIS) {
    resv_field(w, cl->resv_seq, field, sizeof field);
    if (tok_delta) ops_add(&o, 'T', nm.kwin, taken, tok_delta);
    if (cl->key_budget) ops_add(&o, 'D', nm.kresv, field, 0);
    if (cl->gw_budget) ops_add(&o, 'D', nm.gresv, field, 0);
    if (cl->first_dep > 0 && cl->first_dep_ok && (size_t)cl->first_dep <= w->cfg->ndeployments) {
      /* counted for a first attempt that never started (a cache hit, a client gone): one
       * host would not have counted it either */
      const struct sl_deployment *d = &w->cfg->deployments[cl->first_dep - 1];
      dep_names(w, (size_t)cl->first_dep - 1, &nm);
      if (d->rpm != 0 || d->tpm != 0) {
        ops_add(&o, 'W', nm.dwin, taken, -1);
        if (cl->dep_tokens > 0) ops_add(&o, 'T', nm.dwin, taken, -cl->dep_tokens);
      }
    }
    cl->first_dep = 0;
  }
  /* this host's spend of the period (the cost is already in its slots): its field */
  if (cl->key_budget) spend_field(w, &o, false, cl->key_id, cl->key_period, cl->key_spend_ttl_s, kname);
  if (cl->gw_budget) spend_field(w, &o, true, 0, cl->gw_period, cl->gw_spend_ttl_s, gname);
  bool sent = batch_add(w, &o) == 0;
  /* A settlement leaves now, not at the end of the loop iteration: this runs before the
   * answer's last bytes are written (core/respond.c), so the client's next request, to any
   * host, reaches Redis after it, and sequential requests see exactly what one host would
   * (a settlement still in a batch let a request on another host meet the previous one's
   * reservation). It carries whatever else the iteration batched. */
  if (sent) {
    if (w->cluster->admit->batch) batch_send(w, w->cluster->admit->batch);
    sl_redis_flush(w->cluster->cmd);
  }
  if (mode == SL_CLUSTER_REDIS && sent) return;
  /* degraded, or Redis went away meanwhile (the reservations expire): the numbers wait */
  if (tok_delta) rec_add(w, REC_KEY, cl->key_id, (int64_t)(cl->taken_ms / SL_RATE_WINDOW_MS), 0, tok_delta, 0, 0);
  if (sent) return; /* the spend fields went */
  if (cl->key_budget && micro) rec_add(w, REC_KEY_SPEND, cl->key_id, cl->key_period, 0, 0, micro, cl->key_spend_ttl_s);
  if (cl->gw_budget && micro) rec_add(w, REC_GW_SPEND, 0, cl->gw_period, 0, 0, micro, cl->gw_spend_ttl_s);
}

/* ---- deployments ---- */

int sl_cluster_first_choice(struct sl_request *rq, const struct sl_group *g, bool *tried) {
  struct sl_tenancy_cluster *cl = &rq->hold.cl;
  int dep = cl->first_dep - 1;
  cl->first_dep = 0;
  if (dep < 0 || rq->natt != 0 || g != rq->group) return -1;
  for (size_t i = 0; i < g->n; i++) {
    if (g->deps[i] != (size_t)dep || tried[i]) continue;
    if (cl->first_dep_ok) return (int)i;
    cl->full_dep = dep + 1; /* full cluster-wide this minute: choose another */
    return -1;
  }
  return -1;
}

void sl_cluster_mark_full(const struct sl_request *rq, const struct sl_group *g, struct sl_candidate *c) {
  int dep = rq->hold.cl.full_dep - 1;
  if (dep < 0 || !rq->w->cluster) return;
  for (size_t i = 0; i < g->n; i++) {
    if (g->deps[i] != (size_t)dep) continue;
    if (c[i].rpm > 0 && c[i].requests_this_minute < c[i].rpm) c[i].requests_this_minute = c[i].rpm;
    if (c[i].rpm <= 0 && c[i].tpm > 0 && c[i].tokens_this_minute < c[i].tpm) c[i].tokens_this_minute = c[i].tpm;
  }
}

bool sl_cluster_dep_begin(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens, bool counted) {
  const struct sl_deployment *d = &w->cfg->deployments[dep];
  if (!w->cluster) return sl_health_begin(w, dep, probe, est_tokens);
  if (counted) return sl_health_begin_limits(w, dep, probe, est_tokens, -1, -1);
  int64_t rpm = d->rpm > 0 ? sl_cluster_share(w, d->rpm) : -1, tpm = d->tpm > 0 ? sl_cluster_share(w, d->tpm) : -1;
  if (!sl_health_begin_limits(w, dep, probe, est_tokens, rpm, tpm)) return false;
  if (!dep_limited(w, dep)) return true;
  /* the cluster's count stays true: this attempt goes into the deployment's Redis windows */
  struct names nm;
  struct ops o = {0};
  dep_names(w, dep, &nm);
  if (d->rpm > 0) ops_add(&o, 'W', nm.dwin, "0", 1);
  if (d->tpm > 0 && est_tokens > 0) ops_add(&o, 'T', nm.dwin, "0", est_tokens);
  if (batch_add(w, &o))
    rec_add(w, REC_DEP, dep, (int64_t)(wall_ms() / SL_RATE_WINDOW_MS), d->rpm > 0, d->tpm > 0 ? est_tokens : 0, 0, 0);
  return true;
}
