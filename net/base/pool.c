/* The block free list; see pool.h. The list is threaded through the free blocks
 * themselves, so the pool costs nothing beyond the blocks it keeps. */
#include "net/base/pool.h"

#include <stdlib.h>

size_t sl_pool_block_size(const struct sl_pool *p) {
  return p->block_size ? p->block_size : SL_POOL_DEFAULT_BLOCK;
}

void *sl_pool_get(struct sl_pool *p) {
  p->gets++;
  if (p->free) {
    void *b = p->free;
    p->free = *(void **)b;
    p->nfree--;
    return b;
  }
  p->mallocs++;
  return malloc(sl_pool_block_size(p));
}

void sl_pool_put(struct sl_pool *p, void *block) {
  if (!block) return;
  if (p->nfree >= (p->max_free ? p->max_free : SL_POOL_DEFAULT_FREE)) {
    free(block);
    return;
  }
  *(void **)block = p->free;
  p->free = block;
  p->nfree++;
}

void sl_pool_drain(struct sl_pool *p) {
  while (p->free) {
    void *b = p->free;
    p->free = *(void **)b;
    free(b);
  }
  p->nfree = 0;
}
