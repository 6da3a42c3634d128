/* Response cache glue; see reqcache.h. Single flight: the first miss for a key in a
 * worker becomes the leader and is registered in a small table; later identical misses
 * attach to it as followers and arm only their deadline. When the leader ends, each
 * follower is served the leader's complete answer (replayed as a stream if it asked
 * for one) or, if the leader failed, goes upstream itself. */
#include "core/reqcache.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/wire/cache_key.h"
#include "core/cluster_cache.h"
#include "core/log.h"
#include "core/request_internal.h"
#include "core/semcache.h"
#include "net/wire/oai_stream.h"
#include "store/cache.h"
#include "store/keys.h"
#include "store/lmdb_env.h"

void sl_reqcache_open(struct sl_worker *w) {
  const struct sl_config *c = w->cfg;
  if (!c->cache.enabled) return;
  char msg[512] = "";
  int rc = sl_lmdb_open(c->data_dir, c->cache.max_size, 0, &w->lmdb, msg, sizeof msg);
  if (msg[0]) sl_log(SL_LOG_WARN, "cache store", "\"worker\":%u,\"detail\":\"%s\"", w->index, msg);
  if (rc) {
    sl_log(SL_LOG_ERROR, "cache disabled: cannot open the LMDB environment", "\"worker\":%u,\"dir\":\"%s\",\"rc\":%d",
           w->index, c->data_dir, rc);
    w->lmdb = NULL;
    return;
  }
  if (sl_cache_open(w->lmdb, NULL, &w->cache)) {
    sl_log(SL_LOG_ERROR, "cache disabled: cannot start the cache", "\"worker\":%u", w->index);
    sl_lmdb_close(w->lmdb);
    w->lmdb = NULL;
    w->cache = NULL;
  }
}

void sl_reqcache_close(struct sl_worker *w) {
  sl_semcache_close(w);
  if (w->cache) sl_cache_close(w->cache);
  if (w->lmdb) sl_lmdb_close(w->lmdb);
  w->cache = NULL;
  w->lmdb = NULL;
}

static struct sl_request **bucket(struct sl_worker *w, const uint8_t *key) { return &w->sf_table[key[0]]; }

static struct sl_request *find_leader(struct sl_worker *w, const uint8_t *key) {
  for (struct sl_request *r = *bucket(w, key); r; r = r->sf_next)
    if (memcmp(r->ckey, key, sizeof r->ckey) == 0) return r;
  return NULL;
}

static void unlink_from(struct sl_request **head, struct sl_request *rq) {
  for (struct sl_request **p = head; *p; p = &(*p)->sf_next)
    if (*p == rq) {
      *p = rq->sf_next;
      rq->sf_next = NULL;
      return;
    }
}

/* A key the operator created with metadata {"cache_shared": true} uses the shared scope
 * (with the master key and every other such key) instead of its own. */
static bool key_shares_cache(const struct sl_key_record *k) {
  if (!k->metadata || !strstr(k->metadata, "cache_shared")) return false;
  cJSON *m = cJSON_Parse(k->metadata);
  bool yes = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "cache_shared"));
  cJSON_Delete(m);
  return yes;
}

void sl_reqcache_begin(struct sl_worker *w, const struct sl_cache_ask *a, struct sl_cache_verdict *v) {
  const struct sl_config *cfg = w->cfg;
  memset(v, 0, sizeof *v);
  /* The cache holds OpenAI-format answers; Anthropic-format requests go around it. */
  if (!w->cache || !a->upstream_path || !a->openai_wire) return;
  const struct sl_http_request *hr = a->hr;
  struct sl_cache_control cc;
  sl_cache_control_init(&cc);
  if (sl_cache_control_from_body(a->body, &cc) || sl_cache_control_from_headers(hr->headers, hr->nheaders, &cc))
    return; /* malformed controls: just do not cache */
  const cJSON *so = cJSON_GetObjectItemCaseSensitive(a->body, "stream_options");
  v->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
  if (cc.no_store) {
    v->kind = SL_CACHE_BYPASS;
    v->state = SL_CS_BYPASS;
    return;
  }
  const char *ns = cc.namespace_ ? cc.namespace_ : cfg->cache.namespace_ ? cfg->cache.namespace_ : "";
  /* Entries are per virtual key unless cache_params.shared (or the key's metadata says
   * cache_shared): another tenant sending the same prompt must not learn (from a hit and
   * its age) what was asked, and when. */
  char scope[4 + 65] = "";
  if (!cfg->cache.shared && a->key && !key_shares_cache(a->key)) {
    memcpy(scope, "key:", 4);
    sl_keys_hash_hex(a->key->hash, scope + 4);
  }
  if (sl_cache_key_scoped(scope, a->group, ns, a->upstream_path, hr->body, hr->body_len, v->ckey)) return;
  memcpy(v->scope, scope, sizeof scope);
  v->ns = ns;
  v->max_age_s = cc.max_age_s;
  v->ttl_s = sl_cache_control_ttl(&cc, (int64_t)cfg->cache.ttl_s);
  v->store = v->ttl_s > 0;
  if (cc.no_cache) {
    v->kind = SL_CACHE_BYPASS;
    v->state = SL_CS_BYPASS;
    return;
  }
  v->kind = SL_CACHE_MISS;
  v->state = SL_CS_MISS;
  int64_t now = (int64_t)time(NULL);
  struct sl_cache_entry e;
  if (sl_cache_get(w->cache, v->ckey, now, &e) == 0) {
    int64_t age = now - e.stored_at;
    if (cc.max_age_s < 0 || age <= cc.max_age_s) { /* fresh enough for this client */
      v->kind = SL_CACHE_HIT;
      v->state = SL_CS_HIT;
      v->value = e.value;
      v->len = e.len;
      v->age_s = age < 0 ? 0 : age;
      e.value = NULL;
    }
    sl_cache_entry_free(&e);
  }
}

enum sl_cache_kind sl_reqcache_join(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  struct sl_request *leader = find_leader(w, rq->ckey);
  if (leader && !leader->finished) {
    rq->sf_leader = leader;
    rq->sf_next = leader->sf_followers;
    leader->sf_followers = rq;
    sl_attempts_arm_deadline(rq);
    return SL_CACHE_FOLLOW;
  }
  if (!leader) {
    rq->sf_next = *bucket(w, rq->ckey);
    *bucket(w, rq->ckey) = rq;
    rq->sf_registered = true;
  }
  return SL_CACHE_MISS;
}

/* The writer thread cannot log: its failures (a full disk above all) are reported here,
 * on the loop, at most one line per interval while they go on. */
#define STORE_ERROR_LOG_MS 10000

static void log_store_errors(struct sl_worker *w) {
  struct sl_cache_error_report er;
  if (!sl_cache_errors_report(w->cache, sl_now_ms(), STORE_ERROR_LOG_MS, &er)) return;
  sl_log(SL_LOG_WARN,
         er.no_space ? "cache: the data dir's filesystem is full; evicting cache entries to make room"
                     : "cache: stores are failing",
         "\"worker\":%u,\"no_space\":%llu,\"map_full\":%llu,\"io\":%llu,\"last_error\":\"%s\",\"dir\":\"%s\"",
         w->index, (unsigned long long)er.no_space, (unsigned long long)er.map_full, (unsigned long long)er.io,
         mdb_strerror(er.last_errno), w->cfg->data_dir);
}

static void keep_for_followers(struct sl_request *rq, const char *json, size_t len) {
  if (rq->sf_followers && !rq->fill_json && (rq->fill_json = malloc(len + 1))) {
    memcpy(rq->fill_json, json, len);
    rq->fill_json[len] = 0;
    rq->fill_len = len;
  }
}

void sl_reqcache_fill(struct sl_request *rq, const char *json, size_t len) {
  struct sl_worker *w = rq->w;
  if (rq->cache_state == SL_CS_NONE || !w->cache) return;
  if (rq->cache_store) {
    int64_t now = (int64_t)time(NULL);
    sl_cache_put(w->cache, rq->ckey, json, len, rq->cache_ttl_s, now);
    log_store_errors(w);
    sl_semcache_fill(rq, rq->cache_ttl_s);
    sl_cluster_cache_store(w, rq->ckey, json, len, now, rq->cache_ttl_s); /* cluster mode's second tier */
  }
  keep_for_followers(rq, json, len);
}

void sl_reqcache_tier_hit(struct sl_request *rq, const char *json, size_t len, int64_t stored_at,
                          int64_t expires_at) {
  struct sl_worker *w = rq->w;
  if (!w->cache) return;
  if (rq->cache_store && expires_at > stored_at) {
    sl_cache_put(w->cache, rq->ckey, json, len, expires_at - stored_at, stored_at);
    log_store_errors(w);
    sl_semcache_fill(rq, expires_at - (int64_t)time(NULL));
  }
  keep_for_followers(rq, json, len);
}

void sl_reqcache_stream_begin(struct sl_request *rq) {
  /* a Responses stream's answer is its final response object (core/responses.c) */
  if (rq->cache_state == SL_CS_NONE || !rq->w->cache || rq->asm_ || rq->route == SL_R_RESPONSES) return;
  if (sl_oai_asm_new(&rq->asm_)) rq->asm_ = NULL;
}

void sl_reqcache_stream_bytes(struct sl_request *rq, const char *p, size_t n) {
  if (rq->asm_) sl_oai_asm_feed_bytes(rq->asm_, p, n);
}

void sl_reqcache_stream_frame(struct sl_request *rq, const struct sl_sse_frame *fr) {
  if (rq->asm_) sl_oai_asm_feed_frame(rq->asm_, fr);
}

void sl_reqcache_stream_end(struct sl_request *rq) {
  if (!rq->asm_) return;
  char *json = NULL;
  size_t len = 0;
  bool complete = false;
  if (sl_oai_asm_finish(rq->asm_, &json, &len, &complete) == 0 && complete) sl_reqcache_fill(rq, json, len);
  free(json);
  sl_oai_asm_free(rq->asm_);
  rq->asm_ = NULL;
}

void sl_reqcache_finish(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  sl_semcache_finish(rq);
  if (rq->asm_) {
    sl_oai_asm_free(rq->asm_);
    rq->asm_ = NULL;
  }
  if (rq->sf_leader) {
    unlink_from(&rq->sf_leader->sf_followers, rq);
    rq->sf_leader = NULL;
  }
  if (rq->sf_registered) {
    unlink_from(bucket(w, rq->ckey), rq);
    rq->sf_registered = false;
  }
  /* Release the followers: each gets the answer, or calls upstream on its own. */
  while (rq->sf_followers) {
    struct sl_request *f = rq->sf_followers;
    rq->sf_followers = f->sf_next;
    f->sf_next = NULL;
    f->sf_leader = NULL;
    if (f->finished) continue;
    if (rq->fill_json && sl_request_serve_cached(f, rq->fill_json, rq->fill_len, 0)) continue;
    sl_attempts_start(f);
  }
  free(rq->fill_json);
  rq->fill_json = NULL;
}

int sl_reqcache_stats_json(struct sl_worker *w, char **out, size_t *len) {
  struct sl_buf b = {0};
  if (!w->cache) {
    sl_buf_puts(&b, "{\"enabled\":false}");
  } else {
    struct sl_cache_stats st;
    if (sl_cache_stats_get(w->cache, &st)) return -1;
    double ratio = st.hits + st.misses ? (double)st.hits / (double)(st.hits + st.misses) : 0.0;
    sl_buf_printf(&b,
                  "{\"enabled\":true,\"entries\":%llu,\"bytes\":%llu,\"used_bytes\":%llu,\"max_bytes\":%llu,"
                  "\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":%.4f,\"stores\":%llu,\"evictions\":%llu,"
                  "\"expired\":%llu,\"dropped_writes\":%llu,\"oversize\":%llu,\"errors\":%llu,"
                  "\"store_errors\":{\"no_space\":%llu,\"map_full\":%llu,\"io\":%llu},\"broken\":%s}",
                  (unsigned long long)st.entries, (unsigned long long)st.bytes, (unsigned long long)st.used_bytes,
                  (unsigned long long)st.max_bytes, (unsigned long long)st.hits, (unsigned long long)st.misses, ratio,
                  (unsigned long long)st.stores, (unsigned long long)st.evictions, (unsigned long long)st.expired,
                  (unsigned long long)st.dropped_writes, (unsigned long long)st.oversize,
                  (unsigned long long)st.errors, (unsigned long long)st.err_no_space,
                  (unsigned long long)st.err_map_full, (unsigned long long)st.err_io, st.broken ? "true" : "false");
    size_t nv = 0;
    if (w->cfg->cache.semantic) { /* "semantic": {"vectors": N} inside the object */
      if (sl_semcache_vectors(w, &nv)) nv = 0;
      if (b.n && b.p[b.n - 1] == '}') b.n--;
      sl_buf_printf(&b, ",\"semantic\":{\"vectors\":%zu}}", nv);
    }
  }
  if (b.oom) {
    sl_buf_free(&b);
    return -1;
  }
  *out = sl_buf_take(&b, len);
  return 0;
}

int sl_reqcache_flush(struct sl_worker *w) { return w->cache ? sl_cache_flush(w->cache) : 0; }
