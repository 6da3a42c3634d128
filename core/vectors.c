/* The vector store environment; see vectors.h. */
#include "core/vectors.h"

#include <stdio.h>

#include "core/log.h"
#include "core/worker.h"
#include "store/lmdb_env.h"

#define VECTORS_MAP_SIZE ((size_t)1 << 30)

struct sl_lmdb *sl_vectors_env(struct sl_worker *w) {
  if (w->vec_lmdb || w->vec_lmdb_failed) return w->vec_lmdb;
  const struct sl_config *c = w->cfg;
  char dir[4200], msg[512] = "";
  snprintf(dir, sizeof dir, "%s/vectors", c->data_dir && c->data_dir[0] ? c->data_dir : ".");
  int rc = sl_lmdb_open(dir, VECTORS_MAP_SIZE, 0, &w->vec_lmdb, msg, sizeof msg);
  if (msg[0]) sl_log(SL_LOG_WARN, "vector store", "\"worker\":%u,\"detail\":\"%s\"", w->index, msg);
  if (rc) {
    sl_log(SL_LOG_ERROR, "vector store unavailable: embeddings are not kept", "\"worker\":%u,\"dir\":\"%s\",\"rc\":%d",
           w->index, dir, rc);
    w->vec_lmdb = NULL;
    w->vec_lmdb_failed = true;
  }
  return w->vec_lmdb;
}

void sl_vectors_close(struct sl_worker *w) {
  if (w->vec_lmdb) sl_lmdb_close(w->vec_lmdb);
  w->vec_lmdb = NULL;
}
