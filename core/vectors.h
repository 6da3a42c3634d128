/* The worker's vector store environment (DATA_DIR/vectors): embeddings kept for semantic
 * routes (their utterances, embedded once) and the semantic cache's prompt vectors. One
 * LMDB environment per process (LMDB forbids opening one twice), opened on first use and
 * shared by whatever keeps vectors; each user owns its own databases in it (listed in
 * store/lmdb_env.c). To keep another kind of vector: a database there and a module that
 * takes this environment. */
#ifndef SL_CORE_VECTORS_H
#define SL_CORE_VECTORS_H

#include <stddef.h>

struct sl_worker;
struct sl_lmdb;

/* A worker's own LMDB environment DATA_DIR/<sub> with a map of map_size bytes, opened now
 * into *out: 0; or a negative code, logged (what: the feature it carries). The stores
 * that open one lazily (vectors, stored responses, router feedback) share this. */
int sl_worker_env_open(struct sl_worker *w, const char *sub, size_t map_size, const char *what, struct sl_lmdb **out);

/* The environment, opened on the first call; NULL when it cannot be opened (logged once;
 * callers then work without persistence). */
struct sl_lmdb *sl_vectors_env(struct sl_worker *w);
void sl_vectors_close(struct sl_worker *w);

#endif
