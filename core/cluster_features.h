/* The hooks core/cluster.c calls on each cluster feature (one file each, see
 * core/cluster.h). A feature's request-path API is in its own header
 * (core/cluster_admit.h, ...). open: 0 or -errno (a failure is logged, the feature off);
 * on_up: Redis (re)connected: resync / reconcile / republish; on_message: a pub/sub
 * message on the feature's channel; tick: once per heartbeat (cfg heartbeat_ms). */
#ifndef SL_CORE_CLUSTER_FEATURES_H
#define SL_CORE_CLUSTER_FEATURES_H

#include <stddef.h>

#include "core/cluster.h"

int sl_cluster_admit_open(struct sl_cluster *c);
void sl_cluster_admit_close(struct sl_cluster *c);
void sl_cluster_admit_on_up(struct sl_cluster *c);
void sl_cluster_admit_tick(struct sl_cluster *c);

int sl_cluster_keys_open(struct sl_cluster *c);
void sl_cluster_keys_close(struct sl_cluster *c);
void sl_cluster_keys_on_up(struct sl_cluster *c);
void sl_cluster_keys_on_message(struct sl_cluster *c, const char *msg, size_t n);
void sl_cluster_keys_tick(struct sl_cluster *c);

int sl_cluster_spend_open(struct sl_cluster *c);
void sl_cluster_spend_close(struct sl_cluster *c);
void sl_cluster_spend_on_up(struct sl_cluster *c);
void sl_cluster_spend_tick(struct sl_cluster *c);

int sl_cluster_health_open(struct sl_cluster *c);
void sl_cluster_health_close(struct sl_cluster *c);
void sl_cluster_health_on_up(struct sl_cluster *c);
void sl_cluster_health_on_message(struct sl_cluster *c, const char *msg, size_t n);

int sl_cluster_cache_open(struct sl_cluster *c);
void sl_cluster_cache_close(struct sl_cluster *c);
void sl_cluster_cache_on_message(struct sl_cluster *c, const char *msg, size_t n);

#endif
