/* net/base: the request arena (alignment, growth into new blocks, large allocations,
 * everything back to the pool at once) and the block free list (reuse, its bound). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/base/arena.h"
#include "net/base/pool.h"

static void pool_reuses_blocks(void) {
  struct sl_pool p = {.block_size = 256, .max_free = 2};
  void *a = sl_pool_get(&p), *b = sl_pool_get(&p), *c = sl_pool_get(&p);
  CHECK(a && b && c && a != b && b != c);
  CHECK(p.gets == 3 && p.mallocs == 3);
  memset(a, 1, 256); /* the whole block is usable */
  sl_pool_put(&p, a);
  sl_pool_put(&p, b);
  sl_pool_put(&p, c); /* over max_free: freed */
  CHECK(p.nfree == 2);
  void *d = sl_pool_get(&p), *e = sl_pool_get(&p);
  CHECK((d == a || d == b) && (e == a || e == b) && d != e);
  CHECK(p.mallocs == 3 && p.gets == 5);
  sl_pool_put(&p, NULL); /* ignored */
  CHECK(p.nfree == 0);
  sl_pool_put(&p, d);
  sl_pool_put(&p, e);
  sl_pool_drain(&p);
  CHECK(p.nfree == 0 && p.free == NULL);
  struct sl_pool z = {0}; /* zero-initialised: defaults */
  CHECK(sl_pool_block_size(&z) == SL_POOL_DEFAULT_BLOCK);
  void *f = sl_pool_get(&z);
  CHECK(f != NULL);
  sl_pool_put(&z, f);
  sl_pool_drain(&z);
}

static void arena_allocations_are_aligned_and_disjoint(void) {
  struct sl_arena *a = sl_arena_new(NULL);
  CHECK(a != NULL);
  char *prev = NULL;
  for (int i = 1; i < 200; i++) {
    char *p = sl_arena_alloc(a, (size_t)i);
    CHECK(p != NULL);
    CHECK((uintptr_t)p % _Alignof(max_align_t) == 0);
    memset(p, i & 0xff, (size_t)i);
    if (prev) CHECK(prev[0] == (char)((i - 1) & 0xff)); /* not overwritten by the next one */
    prev = p;
  }
  CHECK(sl_arena_blocks(a) > 1); /* 200 * ~100 bytes does not fit one 16 KiB block */
  int *z = sl_arena_calloc(a, 64 * sizeof *z);
  int sum = 0;
  for (int i = 0; i < 64; i++) sum += z[i];
  CHECK(sum == 0);
  sl_arena_free(a);
  sl_arena_free(NULL);
}

static void arena_large_allocations_get_their_own_block(void) {
  struct sl_pool p = {.block_size = 4096};
  struct sl_arena *a = sl_arena_new(&p);
  CHECK(a && p.gets == 1);
  char *small = sl_arena_alloc(a, 100);
  char *big = sl_arena_alloc(a, 100000); /* malloc'd, not from the pool */
  CHECK(small && big && p.gets == 1);
  memset(big, 7, 100000);
  char *after = sl_arena_alloc(a, 100); /* still bumps in the first block */
  CHECK(after > small && after < small + 256);
  CHECK(sl_arena_used(a) >= 100200);
  CHECK(sl_arena_alloc(a, SIZE_MAX) == NULL); /* overflow is refused, not wrapped */
  sl_arena_free(a);
  CHECK(p.nfree == 1); /* the pool block came back; the big one was freed */
  sl_pool_drain(&p);
}

static void arena_blocks_come_back_to_the_pool(void) {
  struct sl_pool p = {.block_size = 1024};
  for (int round = 0; round < 3; round++) {
    struct sl_arena *a = sl_arena_new(&p);
    CHECK(a != NULL);
    for (int i = 0; i < 40; i++) CHECK(sl_arena_alloc(a, 200) != NULL); /* ~5 per block */
    size_t blocks = sl_arena_blocks(a);
    CHECK(blocks >= 8);
    sl_arena_free(a);
    CHECK(p.nfree == blocks);
  }
  CHECK(p.mallocs == p.nfree); /* rounds 2 and 3 were served from the list alone */
  sl_pool_drain(&p);
}

CHECK_MAIN(T(pool_reuses_blocks), T(arena_allocations_are_aligned_and_disjoint),
           T(arena_large_allocations_get_their_own_block), T(arena_blocks_come_back_to_the_pool))
