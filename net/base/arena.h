/* A per-request arena: a bump allocator over a chain of blocks, all freed at once when
 * the request ends (DESIGN.md's memory rule). The one idea: the request, its attempts
 * and their small fixed-size state are carved out of blocks that come from a per-worker
 * free list (net/base/pool.h), so a request in steady state costs no malloc and its
 * teardown is one walk down the chain, never a free per object. An allocation larger
 * than a quarter of a block gets a block of its own from malloc (chained, freed with the
 * rest). The arena's own header lives in its first block. Memory is never freed one
 * object at a time: do not put things that grow (sl_buf) here. */
#ifndef SL_NET_ARENA_H
#define SL_NET_ARENA_H

#include <stddef.h>

#include "net/base/pool.h"

struct sl_arena;

/* A new arena whose blocks come from pool (NULL: malloc). NULL when out of memory. */
struct sl_arena *sl_arena_new(struct sl_pool *pool);
/* n bytes aligned for any type, valid until sl_arena_free; NULL when out of memory. */
void *sl_arena_alloc(struct sl_arena *a, size_t n);
/* The same, zeroed. */
void *sl_arena_calloc(struct sl_arena *a, size_t n);
/* Frees every allocation (standard blocks back to the pool). NULL is ignored. */
void sl_arena_free(struct sl_arena *a);
/* Bytes handed out so far; blocks in the chain (for tests and stats). */
size_t sl_arena_used(const struct sl_arena *a);
size_t sl_arena_blocks(const struct sl_arena *a);

#endif
