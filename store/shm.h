/* The shared-memory region: created by the master before it forks, mapped in every
 * worker at the same address, updated only with atomics. It holds what every worker
 * must see at once: per-deployment health and per-worker counters. Nothing in it is a
 * pointer, so any process can read it. */
#ifndef SL_STORE_SHM_H
#define SL_STORE_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SHM_MAX_WORKERS 256

struct sl_shm_deployment {
  _Atomic uint64_t cooldown_until_ms; /* monotonic ms */
  _Atomic uint32_t consecutive_failures;
  _Atomic int64_t inflight;
  _Atomic uint64_t requests, failures;
};

struct sl_shm_worker {
  _Atomic int32_t pid;
  _Atomic uint64_t requests;
  _Atomic uint64_t restarts;
};

struct sl_shm {
  uint32_t magic;
  uint32_t ndeployments;
  struct sl_shm_worker workers[SL_SHM_MAX_WORKERS];
  struct sl_shm_deployment deployments[];
};

int sl_shm_create(size_t ndeployments, struct sl_shm **out);
void sl_shm_destroy(struct sl_shm *s);

#endif
