/* Virtual keys across hosts (core/cluster_keys.c): the admin API's side. A key written on
 * this host (generate, update, block, unblock, regenerate, delete) is marked "to push" in
 * the same LMDB txn (store/keys.h); sl_cluster_keys_push then carries it to Redis at once.
 * A push that cannot be made now (Redis down, a timeout) is not lost: the mark stays and
 * worker 0 pushes every marked key when Redis is back. */
#ifndef SL_CORE_CLUSTER_KEYS_H
#define SL_CORE_CLUSTER_KEYS_H

#include <stdint.h>

struct sl_worker;

/* Loop thread, after the store write committed. A no-op outside cluster mode. */
void sl_cluster_keys_push(struct sl_worker *w, const uint8_t hash[32]);

#endif
