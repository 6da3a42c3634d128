/* The response cache as the request spine sees it: look up before choosing a
 * deployment (a verdict: off, bypass, miss, or a hit with the stored answer, which the
 * spine serves whole or replayed as a stream), coalesce identical misses in one worker
 * behind a single upstream call (single flight: follow or lead), and fill the cache
 * from a winning attempt's complete answer (a stream is assembled first). */
#ifndef SL_CORE_REQCACHE_H
#define SL_CORE_REQCACHE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verdict.h"

struct sl_request;
struct sl_worker;
struct sl_http_request;
struct sl_key_record;

enum sl_cache_state { SL_CS_NONE = 0, SL_CS_MISS, SL_CS_HIT, SL_CS_BYPASS, SL_CS_SEMANTIC };
/* Its one names table: "none", "miss", "hit", "bypass", "semantic" (x-sluice-cache, the
 * access log). */
static inline const char *sl_cache_state_name(enum sl_cache_state s) {
  static const char *const names[] = {"none", "miss", "hit", "bypass", "semantic"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "none";
}

/* What the cache lookup looks at. */
struct sl_cache_ask {
  const cJSON *body;                /* cache controls in the body, stream_options */
  const struct sl_http_request *hr; /* cache-control headers; the raw body for the key */
  const struct sl_key_record *key;  /* the virtual key (its own scope); NULL: shared */
  const char *group;                /* the model group */
  const char *upstream_path;        /* NULL: a route the cache does not serve */
  bool openai_wire;                 /* the cache holds OpenAI-format answers only */
};

/* The lookup's verdict: OFF, BYPASS, MISS or HIT (FOLLOW comes from sl_reqcache_join). */
struct sl_cache_verdict {
  enum sl_cache_kind kind;
  enum sl_cache_state state;        /* what x-sluice-cache will say */
  uint8_t ckey[32];                 /* the entry's key (MISS, HIT, BYPASS after no_cache) */
  int64_t ttl_s;
  bool store;                       /* fill the cache from a successful answer */
  bool include_usage;               /* stream_options.include_usage (for replays) */
  char *value;                      /* HIT: the stored answer (malloc'd, NUL-terminated) */
  size_t len;
  int64_t age_s;
  char scope[4 + 65];               /* the key scope ("key:<hash>", or "" when shared) */
  const char *ns;                   /* the namespace (lives as long as the request) */
  int64_t max_age_s;                /* the client's limit on a served entry's age; -1: any */
};

/* The cache stage: looks the request up. Never answers the client: the spine serves a
 * HIT (sl_request_serve_cached) and frees v->value. */
void sl_reqcache_begin(struct sl_worker *w, const struct sl_cache_ask *a, struct sl_cache_verdict *v);
/* After a MISS (rq->ckey set): SL_CACHE_FOLLOW when an identical request of this worker
 * is already upstream (rq now waits for its answer under its own deadline), else
 * SL_CACHE_MISS (rq leads: it calls upstream and its followers get its answer). */
enum sl_cache_kind sl_reqcache_join(struct sl_request *rq);
/* The winning attempt's answer: a whole JSON body (status 200). */
void sl_reqcache_fill(struct sl_request *rq, const char *json, size_t len);
/* A hit in the Redis cache tier (core/cluster_cache.c), before it is served: written into
 * the local cache with its own age and end, and kept for single-flight followers. */
void sl_reqcache_tier_hit(struct sl_request *rq, const char *json, size_t len, int64_t stored_at,
                          int64_t expires_at);
/* The winning attempt streams: assemble it as it passes. */
void sl_reqcache_stream_begin(struct sl_request *rq);
/* One upstream frame of a winning stream (the chain's cache tee, same wire format). */
struct sl_sse_frame;
void sl_reqcache_stream_frame(struct sl_request *rq, const struct sl_sse_frame *fr);
void sl_reqcache_stream_bytes(struct sl_request *rq, const char *p, size_t n);
void sl_reqcache_stream_end(struct sl_request *rq);
/* The request ends: release followers (with the answer, or to call upstream themselves). */
void sl_reqcache_finish(struct sl_request *rq);
/* GET /cache/stats body; DELETE /cache. */
int sl_reqcache_stats_json(struct sl_worker *w, char **out, size_t *len);
int sl_reqcache_flush(struct sl_worker *w);
/* Worker lifecycle. */
void sl_reqcache_open(struct sl_worker *w);
void sl_reqcache_close(struct sl_worker *w);

#endif
