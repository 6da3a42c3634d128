/* A free list of fixed-size memory blocks, one per worker and purpose (request arenas,
 * queued socket writes). The one idea: a block that is released goes back on the list
 * (up to max_free of them) instead of to malloc, so a worker in steady state serves
 * requests without calling malloc for them. Single-threaded, like the worker's loop.
 * A zero-initialised pool works: block_size 0 means SL_POOL_DEFAULT_BLOCK, max_free 0
 * means SL_POOL_DEFAULT_FREE. To add a pool, embed a struct sl_pool where the owner
 * lives and call sl_pool_drain when the owner goes away. */
#ifndef SL_NET_POOL_H
#define SL_NET_POOL_H

#include <stddef.h>
#include <stdint.h>

#define SL_POOL_DEFAULT_BLOCK (8u << 10)
#define SL_POOL_DEFAULT_FREE 16 /* a burst's blocks beyond this go back to malloc (and the
                                 * heap trim): idle workers keep little */

struct sl_pool {
  size_t block_size; /* bytes per block (0: default) */
  size_t max_free;   /* blocks kept on the list at most (0: default) */
  void *free;        /* singly linked through the first word of each block */
  size_t nfree;
  uint64_t gets, mallocs; /* blocks handed out; of those, how many came from malloc */
};

/* The block size of p (its default applied). */
size_t sl_pool_block_size(const struct sl_pool *p);
/* A block of sl_pool_block_size(p) bytes (uninitialised, max_align_t aligned), or NULL. */
void *sl_pool_get(struct sl_pool *p);
/* Gives a block from sl_pool_get back (NULL is ignored). */
void sl_pool_put(struct sl_pool *p, void *block);
/* Frees the blocks on the list (blocks still out are the holders'). */
void sl_pool_drain(struct sl_pool *p);

#endif
