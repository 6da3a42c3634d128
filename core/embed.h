/* Embeddings for the request path (semantic routes, the semantic cache): a prompt's vector
 * from the in-process embedder (policy/embed_hash.h: no network) or from a configured
 * embeddings group THROUGH SLUICE ITSELF (a loopback call to this worker's own listener
 * with the master key, so the call is balanced, retried, cached and costed like any
 * request), under its own timeout. The one idea: the caller gets one callback, always,
 * exactly once: a vector, or an error code it answers with its default (a semantic route
 * falls back to its default target, the semantic cache to a miss): never a client error.
 * To add an embedder kind: a field in sl_embedder and a case in sl_embed_start. */
#ifndef SL_CORE_EMBED_H
#define SL_CORE_EMBED_H

#include <stddef.h>
#include <stdint.h>

struct sl_request;

struct sl_embedder {
  const char *group;   /* an embeddings model group; NULL: the in-process embedder */
  unsigned dim;        /* in-process: the dimension (0: SL_EMBED_HASH_DIM); a group: set from its answer */
  uint64_t timeout_ms; /* a group: the call's own timeout (0: 2000) */
};

/* rc 0 and v[0..dim) (valid during the call only); or rc < 0 (-ETIMEDOUT, -EIO, -ENOMEM...)
 * and v NULL. The request is alive during the call (it may have finished meanwhile:
 * check rq->finished). */
typedef void (*sl_embed_done)(struct sl_request *rq, void *ud, const float *v, unsigned dim, int rc);

/* Embeds text[0..n) for rq. The in-process embedder calls done before returning; a group
 * embedder calls it from the loop later and keeps rq alive meanwhile (open_handles). */
void sl_embed_start(struct sl_request *rq, const struct sl_embedder *e, const char *text, size_t n, sl_embed_done done,
                    void *ud);

/* The same without a request (a router embedding its utterances at first use): texts[0..n)
 * in ONE call (a group: one POST /v1/embeddings with an input list). done gets n unit
 * vectors of dim floats one after another (valid during the call only), or rc < 0 and NULL.
 * The in-process embedder calls done before returning; a group embedder always later, from
 * the loop (failures too), exactly once. */
struct sl_worker;
typedef void (*sl_embed_batch_done)(void *ud, const float *v, size_t n, unsigned dim, int rc);
void sl_embed_batch(struct sl_worker *w, const struct sl_embedder *e, const char *const *texts, const size_t *lens,
                    size_t n, sl_embed_batch_done done, void *ud);

/* A stable name of the embedder for keeping its vectors ("hash1:256", "group:<name>"). */
void sl_embed_id(const struct sl_embedder *e, char *out, size_t outlen);

#endif
