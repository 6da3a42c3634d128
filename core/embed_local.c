/* A stand-in for core/embed.c while that is not there (core/meson.build builds this file
 * only then): the in-process embedder of core/embed.h, and for an embeddings group an
 * immediate -ENOTSUP (the caller's default: a semantic-cache miss). Delete this file
 * when core/embed.c lands. */
#include <errno.h>
#include <stdlib.h>

#include "core/embed.h"
#include "policy/embed_hash.h"

void sl_embed_start(struct sl_request *rq, const struct sl_embedder *e, const char *text, size_t n, sl_embed_done done,
                    void *ud) {
  if (e->group) {
    done(rq, ud, NULL, 0, -ENOTSUP);
    return;
  }
  unsigned dim = e->dim ? e->dim : SL_EMBED_HASH_DIM;
  if (dim > SL_EMBED_HASH_MAX_DIM) {
    done(rq, ud, NULL, 0, -EINVAL);
    return;
  }
  float *v = malloc(sizeof(float) * dim);
  if (!v) {
    done(rq, ud, NULL, 0, -ENOMEM);
    return;
  }
  sl_embed_hash(text, n, 0, v, dim);
  done(rq, ud, v, dim, 0);
  free(v);
}
