/* Anonymous shared mapping made before fork(): children inherit it at the same
 * address, so plain struct offsets work in every process. */
#include "store/shm.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define SL_CPU_RELAX() __builtin_ia32_pause()
#else
#define SL_CPU_RELAX() ((void)0)
#endif

static size_t keys_offset(size_t ndeployments) {
  size_t off = sizeof(struct sl_shm) + ndeployments * sizeof(struct sl_shm_deployment);
  size_t a = _Alignof(struct sl_shm_key);
  return (off + a - 1) / a * a;
}

static size_t claimed_offset(size_t keys_off, size_t nkeys) {
  size_t off = keys_off + nkeys * sizeof(struct sl_shm_key);
  return (off + 7) / 8 * 8;
}

static size_t shm_size(const struct sl_shm *s) {
  return s->claimed_off + (size_t)s->nkeys * sizeof(_Atomic uint32_t);
}

static _Atomic uint32_t *claims(struct sl_shm *s) { return (_Atomic uint32_t *)(void *)((char *)s + s->claimed_off); }

size_t sl_shm_key_claims(struct sl_shm *s) {
  size_t n = atomic_load(&s->nkeys_used);
  return n < s->nkeys ? n : s->nkeys;
}

int64_t sl_shm_key_claimed(struct sl_shm *s, size_t pos) {
  uint32_t v = pos < s->nkeys ? atomic_load(&claims(s)[pos]) : 0;
  return v ? (int64_t)v - 1 : -1;
}

void sl_shm_carry_limits(struct sl_shm *from, struct sl_shm *to) {
  if (!from || !to) return;
  struct sl_shm_key *keys = sl_shm_keys(from);
  size_t n = sl_shm_key_claims(from);
  for (size_t pos = 0; pos < n; pos++) {
    int64_t at = sl_shm_key_claimed(from, pos);
    if (at < 0) continue;
    struct sl_shm_key *k = &keys[at];
    uint64_t id = atomic_load(&k->id);
    struct sl_shm_key *d = id ? sl_shm_key_slot(to, id) : NULL;
    if (!d) continue;
    sl_shm_lock(&k->lock);
    struct sl_shm_window req = k->req, tok = k->tok;
    sl_shm_unlock(&k->lock);
    sl_shm_lock(&d->lock);
    d->req = req;
    d->tok = tok;
    sl_shm_unlock(&d->lock);
  }
}

int sl_shm_create(size_t ndeployments, size_t max_keys, struct sl_shm **out) {
  if (max_keys == 0) max_keys = SL_SHM_KEY_SLOTS_DEFAULT;
  if (max_keys > SL_SHM_KEY_SLOTS_MAX) return -EINVAL;
  struct sl_shm head = {.keys_off = keys_offset(ndeployments), .nkeys = (uint32_t)(2 * max_keys)};
  head.claimed_off = claimed_offset(head.keys_off, head.nkeys);
  void *p = mmap(NULL, shm_size(&head), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  struct sl_shm *s = p; /* zero-filled by the kernel */
  s->magic = 0x736c6963; /* "slic" */
  s->epoch = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)p;
  s->ndeployments = (uint32_t)ndeployments;
  s->nkeys = head.nkeys;
  s->keys_off = head.keys_off;
  s->claimed_off = head.claimed_off;
  *out = s;
  return 0;
}

void sl_shm_destroy(struct sl_shm *s) {
  if (s) munmap(s, shm_size(s));
}

void sl_shm_lock(_Atomic uint32_t *l) {
  for (unsigned spins = 0;; spins++) {
    uint32_t z = 0;
    if (atomic_compare_exchange_weak_explicit(l, &z, 1, memory_order_acquire, memory_order_relaxed)) return;
    if (spins > 100000) { /* the holder is gone: the state it guarded is still well-formed */
      atomic_store(l, 1);
      return;
    }
    SL_CPU_RELAX();
  }
}

void sl_shm_unlock(_Atomic uint32_t *l) { atomic_store_explicit(l, 0, memory_order_release); }

/* Open addressing with linear probing; a slot is claimed by CAS on its id and never
 * released (ids are keys and groups, a bounded set). The table has twice the slots
 * max_keys asks for, and a claim is refused once max_keys are taken, so a probe for a
 * new id always ends at a free slot after a short run. */
struct sl_shm_key *sl_shm_key_find(struct sl_shm *s, uint64_t id) {
  if (id == 0) id = 1;
  struct sl_shm_key *keys = sl_shm_keys(s);
  for (size_t i = 0; i < s->nkeys; i++) {
    struct sl_shm_key *k = &keys[(id + i) % s->nkeys];
    uint64_t cur = atomic_load(&k->id);
    if (cur == id) return k;
    if (cur == 0) return NULL;
  }
  return NULL;
}

struct sl_shm_key *sl_shm_key_slot(struct sl_shm *s, uint64_t id) {
  if (id == 0) id = 1;
  struct sl_shm_key *keys = sl_shm_keys(s);
  for (size_t i = 0; i < s->nkeys; i++) {
    size_t at = (id + i) % s->nkeys;
    struct sl_shm_key *k = &keys[at];
    uint64_t cur = atomic_load(&k->id);
    if (cur == id) return k;
    if (cur == 0) {
      /* a budget of nkeys / 2 claims (a few racing claims may pass it by one each) */
      if (atomic_load(&s->nkeys_used) >= s->nkeys / 2) return NULL;
      uint64_t z = 0;
      if (atomic_compare_exchange_strong(&k->id, &z, id)) {
        /* A process killed between the CAS and the store below leaves its position 0:
         * that slot still limits and counts, but the flusher never sees it (its spend
         * in this generation stays out of the ledger). Two stores apart, accepted. */
        uint32_t pos = atomic_fetch_add(&s->nkeys_used, 1); /* < nkeys: one per slot */
        atomic_store(&claims(s)[pos], (uint32_t)at + 1);
        return k;
      }
      if (z == id) return k;
    }
  }
  return NULL;
}
