/* The worker's vector store environment (DATA_DIR/vectors): embeddings kept for semantic
 * routes (their utterances, embedded once) and the semantic cache's prompt vectors. One
 * LMDB environment per process (LMDB forbids opening one twice), opened on first use and
 * shared by whatever keeps vectors; each user owns its own databases in it (listed in
 * store/lmdb_env.c). To keep another kind of vector: a database there and a module that
 * takes this environment. */
#ifndef SL_CORE_VECTORS_H
#define SL_CORE_VECTORS_H

struct sl_worker;
struct sl_lmdb;

/* The environment, opened on the first call; NULL when it cannot be opened (logged once;
 * callers then work without persistence). */
struct sl_lmdb *sl_vectors_env(struct sl_worker *w);
void sl_vectors_close(struct sl_worker *w);

#endif
