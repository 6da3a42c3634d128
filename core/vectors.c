/* The vector store environment; see vectors.h. */
#include "core/vectors.h"

#include <stdio.h>

#include "core/log.h"
#include "core/worker.h"
#include "store/lmdb_env.h"

#define VECTORS_MAP_SIZE ((size_t)1 << 30)

int sl_worker_env_open(struct sl_worker *w, const char *sub, size_t map_size, const char *what, struct sl_lmdb **out) {
  const struct sl_config *c = w->cfg;
  char dir[4200], msg[512] = "";
  snprintf(dir, sizeof dir, "%s/%s", c->data_dir && c->data_dir[0] ? c->data_dir : ".", sub);
  int rc = sl_lmdb_open(dir, map_size, 0, out, msg, sizeof msg);
  if (msg[0]) sl_log(SL_LOG_WARN, what, "\"worker\":%u,\"detail\":\"%s\"", w->index, msg);
  if (rc) {
    sl_log(SL_LOG_ERROR, "a store is unavailable", "\"worker\":%u,\"store\":\"%s\",\"dir\":\"%s\",\"rc\":%d", w->index, what,
           dir, rc);
    *out = NULL;
  }
  return rc;
}

struct sl_lmdb *sl_vectors_env(struct sl_worker *w) {
  if (w->vec_lmdb || w->vec_lmdb_failed) return w->vec_lmdb;
  if (sl_worker_env_open(w, "vectors", VECTORS_MAP_SIZE, "vector store (embeddings are not kept)", &w->vec_lmdb))
    w->vec_lmdb_failed = true;
  return w->vec_lmdb;
}

void sl_vectors_close(struct sl_worker *w) {
  if (w->vec_lmdb) sl_lmdb_close(w->vec_lmdb);
  w->vec_lmdb = NULL;
}
