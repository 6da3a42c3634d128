/* Cluster mode's core (see core/cluster.h): per worker, one command connection and one
 * subscriber connection to Redis, a heartbeat that counts the live hosts, the degraded
 * state, the pub/sub dispatch to the features, and the cluster metrics.
 *
 * The one idea: "up" is a fact about this worker's two connections (both up), and every
 * feature asks sl_cluster_degraded() before it relies on Redis; the connections reconnect
 * by themselves forever (core/redis_conn.c), and each change of `up` is one log line, a
 * shared-memory state the metrics read (one number per instance: store/shm.h's
 * workers[i].cluster_*), and, on the way up, the features' on_up (resync, reconcile).
 *
 * Live hosts: every worker's heartbeat runs one small script that, with the server's
 * clock, stamps this instance in the sorted set "<ns>:{hosts}:live" (score: ms), drops the
 * members older than 3 heartbeats and counts the rest. All workers of an instance stamp
 * the same member (the instance id), so the count is of instances. While degraded the
 * last count is kept (the limits' shares divide by it).
 *
 * Extend: a feature is a pointer in struct sl_cluster with open/close/on_up/tick hooks
 * (core/cluster_features.h) called from here; a channel is a name in `channels` and a
 * branch in on_message. */
#include "core/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster_features.h"
#include "core/config/config_cluster.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include <hiredis/hiredis.h>
#include "core/worker.h"
#include "net/base/buf.h"

/* Heartbeat: ARGV[1] instance, ARGV[2] the liveness window in ms. Returns the live count. */
static const char heartbeat_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))\n"
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)\n"
    "return redis.call('ZCARD', KEYS[1])\n";

struct cluster_priv {
  struct sl_cluster c;
  struct sl_redis_script hb_script;
  uint64_t hb_ticket;
  bool cmd_up, sub_up;
  char ch_keys[96], ch_health[96], ch_cache[96];
  const char *channels[4];
  char live_key[96];
  char name_cmd[200], name_sub[200];
};

static struct cluster_priv *priv(struct sl_cluster *c) { return (struct cluster_priv *)c; }

static struct sl_shm_worker *shm_slot(const struct sl_cluster *c) {
  const struct sl_worker *w = c->w;
  if (!w->shm || w->index >= SL_SHM_MAX_WORKERS) return NULL;
  return &w->shm->workers[w->index];
}

static void publish_state(struct sl_cluster *c) {
  struct sl_shm_worker *s = shm_slot(c);
  if (!s) return;
  atomic_store(&s->cluster_state, c->up ? 1u : 2u);
  atomic_store(&s->cluster_down_since_ms, c->down_since_ms);
  atomic_store(&s->cluster_live_hosts, c->live_hosts);
}

static void set_up(struct sl_cluster *c, bool up) {
  struct cluster_priv *p = priv(c);
  up = up && p->cmd_up && p->sub_up;
  if (up == c->up) return;
  uint64_t now = sl_now_ms();
  c->up = up;
  struct sl_shm_worker *s = shm_slot(c);
  if (up) {
    uint64_t was = c->down_since_ms ? now - c->down_since_ms : 0;
    if (s) atomic_fetch_add(&s->cluster_degraded_ms, was);
    c->down_since_ms = 0;
    sl_log(SL_LOG_INFO, "cluster: redis up, limits and budgets are cluster-wide",
           "\"worker\":%u,\"instance\":\"%s\",\"degraded_ms\":%llu", c->w->index, c->instance, (unsigned long long)was);
  } else {
    c->down_since_ms = now ? now : 1;
    sl_log(SL_LOG_WARN, "cluster: redis down, degraded: each host enforces its share of every limit",
           "\"worker\":%u,\"instance\":\"%s\",\"live_hosts\":%u", c->w->index, c->instance, c->live_hosts);
  }
  publish_state(c);
  if (up) {
    sl_cluster_admit_on_up(c);
    sl_cluster_keys_on_up(c);
    sl_cluster_spend_on_up(c);
    sl_cluster_health_on_up(c);
  }
}

static void on_cmd_state(void *ud, bool up) {
  struct sl_cluster *c = ud;
  priv(c)->cmd_up = up;
  set_up(c, up);
}

static void on_sub_state(void *ud, bool up) {
  struct sl_cluster *c = ud;
  priv(c)->sub_up = up;
  set_up(c, up);
}

static void on_message(void *ud, const char *ch, size_t chn, const char *msg, size_t n) {
  struct sl_cluster *c = ud;
  struct cluster_priv *p = priv(c);
  if (chn == strlen(p->ch_keys) && memcmp(ch, p->ch_keys, chn) == 0)
    sl_cluster_keys_on_message(c, msg, n);
  else if (chn == strlen(p->ch_health) && memcmp(ch, p->ch_health, chn) == 0)
    sl_cluster_health_on_message(c, msg, n);
  else if (chn == strlen(p->ch_cache) && memcmp(ch, p->ch_cache, chn) == 0)
    sl_cluster_cache_on_message(c, msg, n);
}

static void on_heartbeat_reply(void *ud, const struct redisReply *r, const char *err) {
  struct sl_cluster *c = ud;
  priv(c)->hb_ticket = 0;
  if (!r || r->type != REDIS_REPLY_INTEGER) {
    if (r && r->type == REDIS_REPLY_ERROR)
      sl_log(SL_LOG_WARN, "cluster: heartbeat refused", "\"worker\":%u,\"error\":\"%.200s\"", c->w->index, r->str);
    (void)err; /* a lost connection reports itself through on_state */
    return;
  }
  c->live_hosts = r->integer >= 1 ? (unsigned)r->integer : 1;
  publish_state(c);
}

static void on_tick(uv_timer_t *t) {
  struct sl_cluster *c = t->data;
  struct cluster_priv *p = priv(c);
  if (c->up && !p->hb_ticket) {
    char win[32];
    int wn = snprintf(win, sizeof win, "%llu", (unsigned long long)(3 * c->w->cfg->cluster.redis.heartbeat_ms));
    const char *argv[] = {p->live_key, c->instance, win};
    size_t lens[] = {strlen(p->live_key), strlen(c->instance), (size_t)wn};
    p->hb_ticket = sl_redis_eval(c->cmd, &p->hb_script, on_heartbeat_reply, c, 1, 2, argv, lens);
  }
  sl_cluster_admit_tick(c);
  sl_cluster_keys_tick(c);
  sl_cluster_spend_tick(c);
}

int sl_cluster_open(struct sl_worker *w) {
  w->cluster = NULL;
  const struct sl_redis_settings *rs = &w->cfg->cluster.redis;
  if (!rs->enabled) return 0;
  struct cluster_priv *p = calloc(1, sizeof *p);
  struct sl_cluster *c = &p->c;
  if (p) c->heartbeat = calloc(1, sizeof *c->heartbeat);
  if (!p || !c->heartbeat) {
    if (p) free(p);
    sl_log(SL_LOG_ERROR, "cluster: out of memory: this worker runs as a single host", "\"worker\":%u", w->index);
    return -ENOMEM;
  }
  c->w = w;
  sl_config_cluster_instance(w->cfg, w->listen_port, c->instance, sizeof c->instance);
  snprintf(c->ns, sizeof c->ns, "%s", rs->ns && rs->ns[0] ? rs->ns : "sluice");
  c->live_hosts = 1;
  c->down_since_ms = sl_now_ms();
  if (!c->down_since_ms) c->down_since_ms = 1;
  sl_cluster_name(c, SL_CLUSTER_CH_KEYS, p->ch_keys, sizeof p->ch_keys);
  sl_cluster_name(c, SL_CLUSTER_CH_HEALTH, p->ch_health, sizeof p->ch_health);
  sl_cluster_name(c, SL_CLUSTER_CH_CACHE, p->ch_cache, sizeof p->ch_cache);
  sl_cluster_name(c, "{hosts}:live", p->live_key, sizeof p->live_key);
  p->channels[0] = p->ch_keys;
  p->channels[1] = p->ch_health;
  p->channels[2] = p->ch_cache;
  p->channels[3] = NULL;
  snprintf(p->name_cmd, sizeof p->name_cmd, "sluice:%s:w%u", c->instance, w->index);
  snprintf(p->name_sub, sizeof p->name_sub, "sluice:%s:w%u:sub", c->instance, w->index);
  for (char *q = p->name_cmd; *q; q++)
    if (*q == ' ') *q = '_'; /* CLIENT SETNAME takes no spaces */
  for (char *q = p->name_sub; *q; q++)
    if (*q == ' ') *q = '_';
  sl_redis_script_init(&p->hb_script, "heartbeat", heartbeat_lua);
  w->cluster = c;
  publish_state(c);

  struct sl_redis_opts o = {
      .host = rs->host ? rs->host : "127.0.0.1",
      .port = rs->port ? rs->port : 6379,
      .username = rs->username,
      .password = rs->password,
      .db = rs->db,
      .tls = rs->ssl,
      .ca_file = w->cfg->ca_file,
      .timeout_ms = rs->timeout_ms,
      .connect_timeout_ms = rs->connect_timeout_ms,
      .name = p->name_cmd,
      .on_state = on_cmd_state,
      .ud = c,
  };
  int rc = sl_redis_open(&w->loop, &o, &c->cmd);
  if (!rc) {
    struct sl_redis_opts so = o;
    so.name = p->name_sub;
    so.channels = p->channels;
    so.on_message = on_message;
    so.on_state = on_sub_state;
    rc = sl_redis_open(&w->loop, &so, &c->sub);
  }
  if (rc) /* never a silent single host: said, and the degraded shares apply */
    sl_log(SL_LOG_ERROR, "cluster: cannot start the redis connections: degraded", "\"worker\":%u,\"error\":%d",
           w->index, rc);
  if (sl_cluster_admit_open(c)) sl_log(SL_LOG_ERROR, "cluster: admission off", "\"worker\":%u", w->index);
  if (sl_cluster_keys_open(c)) sl_log(SL_LOG_ERROR, "cluster: key sync off", "\"worker\":%u", w->index);
  if (sl_cluster_spend_open(c)) sl_log(SL_LOG_ERROR, "cluster: spend sync off", "\"worker\":%u", w->index);
  if (sl_cluster_health_open(c)) sl_log(SL_LOG_ERROR, "cluster: health sync off", "\"worker\":%u", w->index);
  if (sl_cluster_cache_open(c)) sl_log(SL_LOG_ERROR, "cluster: cache tier off", "\"worker\":%u", w->index);
  uv_timer_init(&w->loop, c->heartbeat);
  c->heartbeat->data = c;
  uint64_t hb = rs->heartbeat_ms ? rs->heartbeat_ms : 1000;
  uv_timer_start(c->heartbeat, on_tick, hb / 4 ? hb / 4 : 1, hb);
  return 0;
}

static void free_timer(uv_handle_t *h) { free(h); }

void sl_cluster_close(struct sl_worker *w) {
  struct sl_cluster *c = w->cluster;
  if (!c) return;
  uv_timer_stop(c->heartbeat);
  uv_close((uv_handle_t *)c->heartbeat, free_timer);
  c->heartbeat = NULL;
  /* features first: their pending commands are cancelled before the connections close */
  sl_cluster_cache_close(c);
  sl_cluster_health_close(c);
  sl_cluster_spend_close(c);
  sl_cluster_keys_close(c);
  sl_cluster_admit_close(c);
  struct cluster_priv *p = priv(c);
  if (p->hb_ticket && c->cmd) sl_redis_cancel(c->cmd, p->hb_ticket);
  p->hb_ticket = 0;
  if (c->sub) sl_redis_close(c->sub);
  if (c->cmd) sl_redis_close(c->cmd);
  c->sub = c->cmd = NULL;
  struct sl_shm_worker *s = shm_slot(c);
  if (s) { /* this worker's time so far stays in the counter; its state leaves the gauges */
    if (c->down_since_ms) atomic_fetch_add(&s->cluster_degraded_ms, sl_now_ms() - c->down_since_ms);
    atomic_store(&s->cluster_state, 0u);
  }
  w->cluster = NULL;
  free(p);
}

bool sl_cluster_degraded(const struct sl_worker *w) { return w->cluster && !w->cluster->up; }

int64_t sl_cluster_share(const struct sl_worker *w, int64_t limit) {
  unsigned n = w->cluster && w->cluster->live_hosts ? w->cluster->live_hosts : 1;
  return limit <= 0 ? limit : limit / n + (limit % n != 0); /* no overflow near INT64_MAX */
}

size_t sl_cluster_name(const struct sl_cluster *c, const char *suffix, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s:%s", c->ns, suffix);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void sl_cluster_metrics(const struct sl_worker *w, struct sl_buf *b) {
  if (!w->cfg->cluster.redis.enabled || !w->shm) return;
  const struct sl_shm *s = w->shm;
  /* one instance: up only when every worker's connections are; degraded time is each
   * worker's (they live through the same outage), so the instance's is the largest */
  bool up = true, any = false;
  unsigned live = 1;
  uint64_t degraded_ms = 0, adm[SL_SHM_CLUSTER_ADMIT_N] = {0}, now = sl_now_ms();
  for (unsigned i = 0; i < SL_SHM_MAX_WORKERS; i++) {
    const struct sl_shm_worker *x = &s->workers[i];
    if (!atomic_load(&x->pid)) continue;
    for (int k = 0; k < SL_SHM_CLUSTER_ADMIT_N; k++) adm[k] += atomic_load(&x->cluster_admissions[k]);
    uint32_t st = atomic_load(&x->cluster_state);
    uint64_t d = atomic_load(&x->cluster_degraded_ms), since = atomic_load(&x->cluster_down_since_ms);
    if (st == 2 && since && now > since) d += now - since;
    if (d > degraded_ms) degraded_ms = d;
    if (!st) continue;
    any = true;
    if (st != 1) up = false;
    uint32_t l = atomic_load(&x->cluster_live_hosts);
    if (l > live) live = l;
  }
  if (!any) up = false;
  sl_buf_puts(
      b, "# HELP sluice_cluster_redis_up 1 when every worker of this instance reaches Redis (cluster-wide limits); "
         "0 when degraded (each host enforces ceil(limit / live hosts)).\n# TYPE sluice_cluster_redis_up gauge\n");
  sl_buf_printf(b, "sluice_cluster_redis_up %d\n", up ? 1 : 0);
  sl_buf_puts(b,
              "# HELP sluice_cluster_degraded_seconds_total Seconds this instance ran degraded (Redis unreachable).\n"
              "# TYPE sluice_cluster_degraded_seconds_total counter\n");
  sl_buf_printf(b, "sluice_cluster_degraded_seconds_total %llu.%03llu\n", (unsigned long long)(degraded_ms / 1000),
                (unsigned long long)(degraded_ms % 1000));
  sl_buf_puts(
      b, "# HELP sluice_cluster_live_hosts Instances with a fresh heartbeat in Redis (the last count while degraded).\n"
         "# TYPE sluice_cluster_live_hosts gauge\n");
  sl_buf_printf(b, "sluice_cluster_live_hosts %u\n", live);
  sl_buf_puts(b, "# HELP sluice_cluster_admissions_total Requests whose limits and budgets were decided in Redis "
                 "(mode=redis) or locally on this host's share (mode=degraded).\n"
                 "# TYPE sluice_cluster_admissions_total counter\n");
  sl_buf_printf(b, "sluice_cluster_admissions_total{mode=\"redis\"} %llu\n",
                (unsigned long long)adm[SL_SHM_CLUSTER_ADMIT_REDIS]);
  sl_buf_printf(b, "sluice_cluster_admissions_total{mode=\"degraded\"} %llu\n",
                (unsigned long long)adm[SL_SHM_CLUSTER_ADMIT_DEGRADED]);
  sl_buf_puts(b, "# HELP sluice_cluster_reconciled_total Degraded-mode counts and spend deltas pushed to Redis "
                 "after it came back (one per key and minute).\n# TYPE sluice_cluster_reconciled_total counter\n");
  sl_buf_printf(b, "sluice_cluster_reconciled_total %llu\n", (unsigned long long)adm[SL_SHM_CLUSTER_RECONCILED]);
}

/* Counters the admission adds to (core/cluster_admit.c). */
void sl_cluster_count(const struct sl_worker *w, int which) {
  if (!w->shm || w->index >= SL_SHM_MAX_WORKERS || which < 0 || which >= SL_SHM_CLUSTER_ADMIT_N) return;
  atomic_fetch_add_explicit(&w->shm->workers[w->index].cluster_admissions[which], 1, memory_order_relaxed);
}
