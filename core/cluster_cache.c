/* core/cluster_cache.c: STUB (to be written): see core/cluster.h. */
#include "core/cluster_features.h"

int sl_cluster_cache_open(struct sl_cluster *c) { (void)c; return 0; }
void sl_cluster_cache_close(struct sl_cluster *c) { (void)c; }
