/* core/cluster_keys.c: STUB (to be written): see core/cluster.h. */
#include "core/cluster_features.h"

int sl_cluster_keys_open(struct sl_cluster *c) { (void)c; return 0; }
void sl_cluster_keys_close(struct sl_cluster *c) { (void)c; }
void sl_cluster_keys_on_up(struct sl_cluster *c) { (void)c; }
void sl_cluster_keys_on_message(struct sl_cluster *c, const char *msg, size_t n) { (void)c; (void)msg; (void)n; }
void sl_cluster_keys_tick(struct sl_cluster *c) { (void)c; }
