/* The semantic cache (cache_params.type: semantic): after a miss in the exact cache, the
 * prompt's embedding is searched among the vectors of earlier answers of the same scope
 * (the same virtual-key scope, model group, namespace, endpoint and non-message
 * parameters as the exact key, and the same embedder); a stored answer at or above
 * similarity_threshold is looked up in the exact cache by its key and served
 * (x-sluice-cache: semantic, x-sluice-cache-similarity). A successful answer filled into
 * the exact cache also adds its prompt's vector (store/vindex.h). An embedding that
 * fails or times out is a plain miss, never an error. */
#ifndef SL_CORE_SEMCACHE_H
#define SL_CORE_SEMCACHE_H

#include <stdint.h>

#include "core/verdict.h"

struct sl_request;
struct sl_worker;
struct sl_cache_verdict;

/* After an exact MISS (v from sl_reqcache_begin): SL_CACHE_HIT (served here),
 * SL_CACHE_PENDING (an embeddings group is asked: sl_request_cache_resume follows), or
 * SL_CACHE_MISS (go on: single flight, then upstream). */
enum sl_cache_kind sl_semcache_lookup(struct sl_request *rq, const struct sl_cache_verdict *v);
/* The exact cache was filled for rq: add its prompt's vector (when it has one). */
void sl_semcache_fill(struct sl_request *rq, int64_t ttl_s);
/* Vectors in this worker's index (after catching up): 0, or -ENOENT (none opened yet). */
#include <stddef.h>
int sl_semcache_vectors(struct sl_worker *w, size_t *n);
/* The request ends. */
void sl_semcache_finish(struct sl_request *rq);
/* Worker end (before the vectors environment closes). */
void sl_semcache_close(struct sl_worker *w);

/* The text that is embedded: the messages' (or the prompt's) text, one part per line.
 * Appends to out (malloc'd, NUL-terminated); 0, -ENOENT (no text: not for the semantic
 * cache), -ENOMEM. For tests. */
#include <cjson/cJSON.h>
#include <stddef.h>
int sl_semcache_prompt_text(const cJSON *body, char **out, size_t *len);

#endif
