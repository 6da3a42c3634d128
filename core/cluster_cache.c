/* The Redis cache tier; see cluster_cache.h. The one idea: the tier is only consulted by
 * a request that already missed locally and leads its single flight (so N identical
 * requests on one worker cost one GET), and only waits as long as one Redis command may
 * take (the cluster timeout): a miss, an error, a timeout or a Redis that is down is a
 * plain miss, at once, never a client error. A hit is written into the local LMDB cache
 * (with its original age and end) and served exactly as a local hit (whole, or replayed
 * as a stream: sl_request_serve_cached). Fills of the local cache are SET with PX = the
 * entry's TTL (cache_params.ttl bounds it), fire and forget.
 *
 * Flush (DELETE /cache in cluster mode): the tier's keys all share the {c} hash tag and
 * the "<ns>:{c}:" prefix, so one small script SCANs a batch of them and UNLINKs it, called
 * again with the returned cursor until it is back at 0 (Redis is never blocked by one
 * long scan); then "flush <instance>" on "<ns>:cache" makes every worker of every host
 * flush its local cache (each worker: each has its own queue of local puts to discard).
 *
 * Key: "<ns>:{c}:<hex of the local cache key>". Value: see
 * sl_cluster_cache_value_encode. To add a counter: a field in struct sl_shm_cluster_hc and
 * its line in sl_cluster_cache_metrics. */
#include "core/cluster_cache.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cluster.h"
#include "core/cluster_features.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/reqcache.h"
#include "core/request_internal.h"
#include "core/worker.h"
#include "net/base/buf.h"

/* ---- the value ---- */

#define VALUE_MAGIC "SLR1 "

int sl_cluster_cache_value_encode(int64_t stored_at, int64_t expires_at, const char *body, size_t len,
                                  struct sl_buf *out) {
  if (stored_at < 0 || expires_at < stored_at) return -EINVAL;
  sl_buf_printf(out, VALUE_MAGIC "%" PRId64 " %" PRId64 "\n", stored_at, expires_at);
  sl_buf_append(out, body, len);
  return out->oom ? -ENOMEM : 0;
}

/* A decimal of 1 to 19 digits (no sign, no leading zero unless it is "0"), then `end`. */
static bool parse_num(const char *p, size_t n, size_t *at, char end, int64_t *out) {
  size_t i = *at, start = i;
  int64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    if (i - start >= 18) return false; /* at most 18 digits: no overflow */
    v = v * 10 + (p[i] - '0');
    i++;
  }
  if (i == start || i >= n || p[i] != end) return false;
  if (p[start] == '0' && i - start > 1) return false;
  *out = v;
  *at = i + 1;
  return true;
}

int sl_cluster_cache_value_decode(const char *p, size_t n, int64_t *stored_at, int64_t *expires_at, size_t *body_off) {
  size_t at = sizeof VALUE_MAGIC - 1;
  if (n < at || memcmp(p, VALUE_MAGIC, at) != 0) return -EINVAL;
  int64_t s = 0, e = 0;
  if (!parse_num(p, n, &at, ' ', &s) || !parse_num(p, n, &at, '\n', &e) || e < s) return -EINVAL;
  *stored_at = s;
  *expires_at = e;
  *body_off = at;
  return 0;
}

/* ---- the tier ---- */

/* The tier's per-worker state: nothing but its being on. */
struct sl_cluster_cache {
  bool on;
};

static bool tier_on(const struct sl_worker *w) {
  return w->cluster && w->cluster->cache && w->cfg->cluster.cache_tier && w->cache;
}

static size_t key_of(struct sl_cluster *c, const uint8_t ckey[32], char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  char suffix[4 + 64 + 1];
  memcpy(suffix, "{c}:", 4);
  for (int i = 0; i < 32; i++) {
    suffix[4 + 2 * i] = hex[ckey[i] >> 4];
    suffix[4 + 2 * i + 1] = hex[ckey[i] & 15];
  }
  suffix[4 + 64] = 0;
  return sl_cluster_name(c, suffix, out, cap);
}

struct lookup {
  struct sl_request *rq;
};

static void looked_up(void *ud, const struct redisReply *r, const char *err) {
  struct lookup *l = ud;
  struct sl_request *rq = l->rq;
  struct sl_worker *w = rq->w;
  struct sl_shm_cluster_hc *m = &w->shm->cluster_hc;
  free(l);
  (void)err;
  if (rq->finished) { /* the client left meanwhile */
    sl_request_release(rq);
    return;
  }
  int64_t stored_at = 0, expires_at = 0, now = (int64_t)time(NULL);
  size_t off = 0;
  if (r && r->type == REDIS_REPLY_STRING &&
      sl_cluster_cache_value_decode(r->str, r->len, &stored_at, &expires_at, &off) == 0 && expires_at > now) {
    int64_t age = now - stored_at;
    if (age < 0) age = 0;
    if (rq->cache_max_age_s < 0 || age <= rq->cache_max_age_s) {
      size_t len = r->len - off;
      char *json = malloc(len + 1);
      if (json) {
        memcpy(json, r->str + off, len);
        json[len] = 0;
        sl_reqcache_tier_hit(rq, json, len, stored_at, expires_at);
        bool served = sl_request_serve_cached(rq, json, len, age);
        free(json);
        if (served) {
          atomic_fetch_add(&m->cache_hits, 1);
          sl_request_release(rq);
          return;
        }
      }
    }
    atomic_fetch_add(&m->cache_misses, 1); /* too old for this client, or cannot be replayed */
  } else if (r && r->type == REDIS_REPLY_NIL) {
    atomic_fetch_add(&m->cache_misses, 1);
  } else if (r && r->type == REDIS_REPLY_STRING) {
    atomic_fetch_add(&m->cache_misses, 1); /* expired, or not a value of ours */
  } else {
    atomic_fetch_add(&m->cache_errors, 1); /* timeout, connection lost, an error reply */
  }
  if (!rq->finished) sl_attempts_start(rq);
  sl_request_release(rq);
}

enum sl_cache_kind sl_cluster_cache_lookup(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  if (!tier_on(w) || rq->cache_state != SL_CS_MISS) return SL_CACHE_MISS;
  struct sl_cluster *c = w->cluster;
  if (!c->up || !c->cmd) {
    atomic_fetch_add(&w->shm->cluster_hc.cache_errors, 1); /* degraded: a miss at once */
    return SL_CACHE_MISS;
  }
  struct lookup *l = malloc(sizeof *l);
  if (!l) return SL_CACHE_MISS;
  l->rq = rq;
  char key[160];
  size_t kn = key_of(c, rq->ckey, key, sizeof key);
  const char *argv[] = {"GET", key};
  const size_t lens[] = {3, kn};
  rq->open_handles++; /* the reply keeps the request's memory alive */
  if (!sl_redis_cmd(c->cmd, looked_up, l, 2, argv, lens)) {
    rq->open_handles--;
    free(l);
    atomic_fetch_add(&w->shm->cluster_hc.cache_errors, 1);
    return SL_CACHE_MISS;
  }
  return SL_CACHE_PENDING;
}

static void stored(void *ud, const struct redisReply *r, const char *err) {
  struct sl_shm_cluster_hc *m = ud;
  (void)err;
  if (r && r->type == REDIS_REPLY_STATUS)
    atomic_fetch_add(&m->cache_stores, 1);
  else
    atomic_fetch_add(&m->cache_store_errors, 1);
}

void sl_cluster_cache_store(struct sl_worker *w, const uint8_t ckey[32], const char *json, size_t len,
                            int64_t stored_at, int64_t ttl_s) {
  if (!tier_on(w) || ttl_s <= 0) return;
  struct sl_cluster *c = w->cluster;
  struct sl_shm_cluster_hc *m = &w->shm->cluster_hc;
  if (len > SL_CLUSTER_CACHE_MAX_VALUE) {
    atomic_fetch_add(&m->cache_oversize, 1);
    return;
  }
  if (!c->up || !c->cmd) return; /* degraded: the local cache has it */
  struct sl_buf v = {0};
  int64_t expires_at = ttl_s > INT64_MAX / 2 - stored_at ? INT64_MAX / 2 : stored_at + ttl_s;
  if (sl_cluster_cache_value_encode(stored_at, expires_at, json, len, &v)) {
    sl_buf_free(&v);
    return;
  }
  char key[160], px[24];
  size_t kn = key_of(c, ckey, key, sizeof key);
  uint64_t ms = (uint64_t)ttl_s > UINT64_MAX / 2000 ? UINT64_MAX / 2000 : (uint64_t)ttl_s * 1000;
  int pn = snprintf(px, sizeof px, "%llu", (unsigned long long)ms);
  const char *argv[] = {"SET", key, v.p, "PX", px};
  const size_t lens[] = {3, kn, v.n, 2, (size_t)pn};
  if (!sl_redis_cmd(c->cmd, stored, m, 5, argv, lens)) atomic_fetch_add(&m->cache_store_errors, 1);
  sl_buf_free(&v);
}

/* ---- flush across the cluster ---- */

/* One SCAN step: ARGV[1] cursor, ARGV[2] MATCH pattern, ARGV[3] COUNT. UNLINKs what the
 * step found (in slices: unpack has a stack limit). Returns {next cursor, deleted}. */
static const char flush_lua[] =
    "local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])\n"
    "local ks, n = r[2], 0\n"
    "for i = 1, #ks, 500 do\n"
    "  n = n + redis.call('UNLINK', unpack(ks, i, math.min(i + 499, #ks)))\n"
    "end\n"
    "return {r[1], n}\n";
static struct sl_redis_script flush_script; /* static: a command may outlive the tier's state */

#define FLUSH_SCAN_COUNT "1000"

struct flush_op {
  struct sl_worker *w;
  sl_cluster_cache_flush_cb done;
  void *ud;
  struct sl_cluster_cache_flushed f;
  char pattern[2 * sizeof(((struct sl_cluster *)0)->ns) + 8];
  char cursor[24];
  char err[160];
};

static void flush_end(struct flush_op *op, const char *err) {
  if (err) {
    snprintf(op->err, sizeof op->err, "%s", err);
    op->f.err = op->err;
  }
  op->f.ok = !err;
  op->done(op->ud, &op->f);
  free(op);
}

static void flush_published(void *ud, const struct redisReply *r, const char *err) {
  struct flush_op *op = ud;
  if (r && r->type == REDIS_REPLY_INTEGER)
    flush_end(op, NULL);
  else
    flush_end(op, r && r->type == REDIS_REPLY_ERROR ? r->str : err ? err : "unexpected reply to PUBLISH");
}

static void flush_publish(struct flush_op *op) {
  struct sl_cluster *c = op->w->cluster;
  if (!c || !c->up || !c->cmd) {
    flush_end(op, "not connected");
    return;
  }
  char ch[96], msg[8 + sizeof c->instance];
  size_t chn = sl_cluster_name(c, SL_CLUSTER_CH_CACHE, ch, sizeof ch);
  int mn = snprintf(msg, sizeof msg, "flush %s", c->instance);
  const char *argv[] = {"PUBLISH", ch, msg};
  const size_t lens[] = {7, chn, (size_t)mn};
  if (!sl_redis_cmd(c->cmd, flush_published, op, 3, argv, lens)) flush_end(op, "not connected");
}

static void flush_step(struct flush_op *op);

static void flush_scanned(void *ud, const struct redisReply *r, const char *err) {
  struct flush_op *op = ud;
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    flush_end(op, r && r->type == REDIS_REPLY_ERROR ? r->str : err ? err : "unexpected reply to the flush script");
    return;
  }
  const struct redisReply *cur = r->elements == 2 ? r->element[0] : NULL;
  const struct redisReply *n = r->elements == 2 ? r->element[1] : NULL;
  if (!cur || cur->type != REDIS_REPLY_STRING || cur->len == 0 || cur->len >= sizeof op->cursor || !n ||
      n->type != REDIS_REPLY_INTEGER || n->integer < 0) {
    flush_end(op, "unexpected reply to the flush script");
    return;
  }
  op->f.deleted += (uint64_t)n->integer;
  memcpy(op->cursor, cur->str, cur->len);
  op->cursor[cur->len] = 0;
  if (strcmp(op->cursor, "0") == 0)
    flush_publish(op);
  else
    flush_step(op);
}

static void flush_step(struct flush_op *op) {
  struct sl_cluster *c = op->w->cluster;
  if (!c || !c->up || !c->cmd) {
    flush_end(op, "not connected");
    return;
  }
  const char *argv[] = {op->cursor, op->pattern, FLUSH_SCAN_COUNT};
  const size_t lens[] = {strlen(op->cursor), strlen(op->pattern), sizeof FLUSH_SCAN_COUNT - 1};
  if (!sl_redis_eval(c->cmd, &flush_script, flush_scanned, op, 0, 3, argv, lens)) flush_end(op, "not connected");
}

int sl_cluster_cache_flush(struct sl_worker *w, sl_cluster_cache_flush_cb done, void *ud) {
  struct sl_cluster *c = w->cluster;
  if (!c || !c->up || !c->cmd) return -ENOTCONN;
  struct flush_op *op = calloc(1, sizeof *op);
  if (!op) return -ENOMEM;
  op->w = w;
  op->done = done;
  op->ud = ud;
  op->f.tier = tier_on(w);
  if (!op->f.tier) {
    flush_publish(op);
    return 0;
  }
  /* "<ns>:{c}:*" with the namespace's glob characters escaped */
  size_t k = 0;
  for (const char *q = c->ns; *q && k + 2 < sizeof op->pattern; q++) {
    if (*q == '*' || *q == '?' || *q == '[' || *q == ']' || *q == '\\') op->pattern[k++] = '\\';
    op->pattern[k++] = *q;
  }
  snprintf(op->pattern + k, sizeof op->pattern - k, ":{c}:*");
  snprintf(op->cursor, sizeof op->cursor, "0");
  flush_step(op);
  return 0;
}

void sl_cluster_cache_on_message(struct sl_cluster *c, const char *msg, size_t n) {
  if (n < 5 || memcmp(msg, "flush", 5) != 0 || (n > 5 && msg[5] != ' ')) return;
  /* Every worker, the sender's included: each discards its own queued puts, and the
   * sender's second flush drops what a local miss brought back from Redis meanwhile. */
  if (sl_reqcache_flush(c->w))
    sl_log(SL_LOG_WARN, "cache: cannot flush the local cache on a cluster flush", "\"worker\":%u", c->w->index);
}

int sl_cluster_cache_open(struct sl_cluster *c) {
  sl_redis_script_init(&flush_script, "cache_flush", flush_lua);
  if (!c->w->cfg->cluster.cache_tier) return 0;
  struct sl_cluster_cache *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->on = true;
  c->cache = t;
  return 0;
}

void sl_cluster_cache_close(struct sl_cluster *c) {
  free(c->cache);
  c->cache = NULL;
}

/* ---- metrics ---- */

void sl_cluster_cache_metrics(const struct sl_worker *w, struct sl_buf *b) {
  if (!w->cfg->cluster.redis.enabled || !w->cfg->cluster.cache_tier) return;
  const struct sl_shm_cluster_hc *m = &w->shm->cluster_hc;
  sl_buf_printf(b,
                "# HELP sluice_cache_redis_hits_total Local cache misses answered by the Redis cache tier.\n"
                "# TYPE sluice_cache_redis_hits_total counter\nsluice_cache_redis_hits_total %llu\n"
                "# HELP sluice_cache_redis_misses_total Local cache misses the Redis cache tier did not have "
                "either.\n# TYPE sluice_cache_redis_misses_total counter\nsluice_cache_redis_misses_total %llu\n"
                "# HELP sluice_cache_redis_errors_total Redis cache tier lookups that failed (Redis down, a "
                "timeout, an error): each a miss at once.\n# TYPE sluice_cache_redis_errors_total counter\n"
                "sluice_cache_redis_errors_total %llu\n"
                "# HELP sluice_cache_redis_stores_total Answers stored in the Redis cache tier.\n"
                "# TYPE sluice_cache_redis_stores_total counter\nsluice_cache_redis_stores_total %llu\n"
                "# HELP sluice_cache_redis_store_errors_total Stores in the Redis cache tier that failed.\n"
                "# TYPE sluice_cache_redis_store_errors_total counter\nsluice_cache_redis_store_errors_total %llu\n"
                "# HELP sluice_cache_redis_oversize_total Answers above 8 MiB kept out of the Redis cache tier "
                "(local only).\n# TYPE sluice_cache_redis_oversize_total counter\n"
                "sluice_cache_redis_oversize_total %llu\n",
                (unsigned long long)atomic_load(&m->cache_hits), (unsigned long long)atomic_load(&m->cache_misses),
                (unsigned long long)atomic_load(&m->cache_errors), (unsigned long long)atomic_load(&m->cache_stores),
                (unsigned long long)atomic_load(&m->cache_store_errors),
                (unsigned long long)atomic_load(&m->cache_oversize));
}
