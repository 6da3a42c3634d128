/* The request arena; see arena.h. Layout: each block starts with a struct block header;
 * the first block also holds struct sl_arena right after it. Allocation bumps `cur`
 * in the newest standard block; when it does not fit, a new block is pushed (the rest
 * of the old one is wasted, which is fine for request-sized lifetimes). */
#include "net/base/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN _Alignof(max_align_t)
#define UP(x) (((x) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct block {
  struct block *next;
  bool pooled; /* from the pool (standard size) or malloc'd (own size) */
};

struct sl_arena {
  struct sl_pool *pool;
  struct block *blocks; /* newest first */
  char *cur, *end;      /* free space in the newest standard block */
  size_t used, nblocks;
};

static size_t block_size(const struct sl_arena *a) {
  return a->pool ? sl_pool_block_size(a->pool) : SL_POOL_DEFAULT_BLOCK;
}

static struct block *get_block(struct sl_pool *pool, size_t size, bool standard) {
  struct block *b = standard && pool ? sl_pool_get(pool) : malloc(size);
  if (!b) return NULL;
  b->pooled = standard && pool;
  return b;
}

static void put_block(struct sl_pool *pool, struct block *b) {
  if (b->pooled) sl_pool_put(pool, b);
  else free(b);
}

struct sl_arena *sl_arena_new(struct sl_pool *pool) {
  size_t bs = pool ? sl_pool_block_size(pool) : SL_POOL_DEFAULT_BLOCK;
  struct block *b = get_block(pool, bs, true);
  if (!b) return NULL;
  b->next = NULL;
  struct sl_arena *a = (struct sl_arena *)((char *)b + UP(sizeof *b));
  a->pool = pool;
  a->blocks = b;
  a->cur = (char *)a + UP(sizeof *a);
  a->end = (char *)b + bs;
  a->used = 0;
  a->nblocks = 1;
  return a;
}

void *sl_arena_alloc(struct sl_arena *a, size_t n) {
  size_t need = UP(n ? n : 1);
  if (need < n) return NULL; /* overflow */
  if ((size_t)(a->end - a->cur) >= need) {
    void *p = a->cur;
    a->cur += need;
    a->used += need;
    return p;
  }
  size_t bs = block_size(a), hdr = UP(sizeof(struct block));
  if (need > (bs - hdr) / 4) { /* large: a block of its own, behind the newest one */
    if (need > SIZE_MAX - hdr) return NULL;
    struct block *b = get_block(a->pool, hdr + need, false);
    if (!b) return NULL;
    b->next = a->blocks->next;
    a->blocks->next = b;
    a->nblocks++;
    a->used += need;
    return (char *)b + hdr;
  }
  struct block *b = get_block(a->pool, bs, true);
  if (!b) return NULL;
  b->next = a->blocks;
  a->blocks = b;
  a->nblocks++;
  a->cur = (char *)b + hdr + need;
  a->end = (char *)b + bs;
  a->used += need;
  return (char *)b + hdr;
}

void *sl_arena_calloc(struct sl_arena *a, size_t n) {
  void *p = sl_arena_alloc(a, n);
  if (p) memset(p, 0, n);
  return p;
}

void sl_arena_free(struct sl_arena *a) {
  if (!a) return;
  struct sl_pool *pool = a->pool;
  struct block *b = a->blocks;
  while (b) { /* the first block (holding *a) is the last in the chain */
    struct block *next = b->next;
    put_block(pool, b);
    b = next;
  }
}

size_t sl_arena_used(const struct sl_arena *a) { return a->used; }
size_t sl_arena_blocks(const struct sl_arena *a) { return a->nblocks; }
