/* core/cluster_admit.c: STUB (to be written): see core/cluster.h. */
#include "core/cluster_features.h"

int sl_cluster_admit_open(struct sl_cluster *c) { (void)c; return 0; }
void sl_cluster_admit_close(struct sl_cluster *c) { (void)c; }
void sl_cluster_admit_on_up(struct sl_cluster *c) { (void)c; }
void sl_cluster_admit_tick(struct sl_cluster *c) { (void)c; }
