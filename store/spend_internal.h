/* The two steps of a spend flush, separated for tests that stop a flusher between
 * them (a process killed after its commit and before it advanced the shm counters).
 * Not an API for other rooms: use sl_spend_flush or the flusher thread. */
#ifndef SL_STORE_SPEND_INTERNAL_H
#define SL_STORE_SPEND_INTERNAL_H

#include "store/spend.h"

struct sl_spend_flush_item {
  uint32_t slot;
  int64_t total[SL_SPEND_NFIELDS]; /* what the slot's flushed counters advance to */
};

/* Dirty slots moved by one write txn; a flush of more dirty slots takes several txns
 * (each exact on its own: the argument in spend.h is per slot). */
#define SL_SPEND_FLUSH_BATCH 4096

struct sl_spend_flush_plan {
  struct sl_spend_flush_item items[SL_SPEND_FLUSH_BATCH];
  size_t n;
  uint32_t next; /* the claim position (sl_shm_key_claimed) after the last one looked at */
  bool more;     /* the batch filled up before the end of the table */
  struct sl_spend_flush_stats st;
};

/* Step 1: the write txn (ledger rows + meta rows), committed. Fills plan with what
 * step 2 must do: the first SL_SPEND_FLUSH_BATCH dirty slots from slot 0 (plan->more:
 * there may be others after plan->next). gc: also drop meta rows of other epochs idle
 * for a week. */
int sl_spend_flush_commit(struct sl_lmdb *e, struct sl_shm *shm, int64_t now_unix, bool gc,
                          struct sl_spend_flush_plan *plan);
/* Step 2: advances the slots' flushed counters (atomic max) to the committed totals. */
void sl_spend_flush_apply(struct sl_shm *shm, const struct sl_spend_flush_plan *plan);

#endif
