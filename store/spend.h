/* The spend ledger: what every virtual key, every model group and the whole gateway
 * has spent, per UTC day and in total, in the "spend" database of the shared LMDB
 * environment. The one idea: requests never write here. They add their cost to the
 * shared-memory slot of each payer (store/shm.h: spend_total_micro, with atomics), and
 * a flusher moves the growth of those counters into the ledger about once a second,
 * exactly once, even when the flushing process is killed at any instruction.
 *
 * Ids. A shm slot id names its payer and carries its kind in the top two bits:
 * id = kind << 62 | (first 8 bytes of a SHA-256, big-endian, low 62 bits), so the
 * flusher knows from the slot alone which ledger rows a slot feeds. Key ids come from
 * the SHA-256 of the secret (store/keys.h), group ids from the SHA-256 of the model
 * group name (sl_spend_id_name), the gateway is SL_SPEND_ID_GATEWAY. A slot id without
 * kind bits is flushed too, under kind SL_SPEND_OTHER.
 *
 * Exactly once. For each slot with spend_total_micro (T) != spend_flushed_micro (F),
 * the flusher, inside ONE write txn (LMDB serialises writers across every process),
 * reads the slot's meta row for the current shm epoch, (flushed = M): base = M if the
 * row exists, else F; delta = T - base; it adds delta to the day/total/period rows and
 * sets M = T; commits; and only then advances F to T (atomic max). Every committed txn
 * adds exactly the growth since the previous committed M, so the ledger holds exactly
 * the final M of the epoch: a process killed before the commit changed nothing (LMDB
 * drops the txn), one killed after it left M behind, and the next flusher (any worker)
 * starts from M and only catches F up. F is a cache of M that lets idle slots be
 * skipped without a txn. Meta rows are keyed by epoch, so a restart (new shm region,
 * F = 0) or a second sluice on the same data directory never confuses its progress
 * with another's; rows of other epochs untouched for 7 days are deleted.
 * Requirement on writers of the shm slot: spend_total_micro only grows (costs >= 0),
 * and nobody but a flusher writes spend_flushed_micro.
 *
 * Bounds. A delta is attributed to the UTC day (and to the slot's budget period) of
 * the flush that moves it: spend in the last flush interval before midnight (or before
 * a budget period rolls over) may land on the next day (period). A clean stop flushes
 * everything; kill -9 of a worker loses nothing (the counters live in shared memory and
 * any flusher moves them); a power loss loses at most the last flush interval plus the
 * commit that was being synced (the environment's MDB_NOMETASYNC), i.e. about a second
 * with the default interval.
 *
 * Counts. The ledger rows also hold request and token counts (fields 1..3). The shm
 * slot has no counters for them yet, so the flusher writes 0 there; the scheme above
 * extends to them unchanged (see slot_snapshot in spend_flush.c).
 *
 * Threads: every function here opens its own txn and may be called from any thread,
 * except that nothing may hold a txn of this environment in the same thread. Reads
 * (period load, report, totals) cost a read txn begin (microseconds, no disk wait);
 * writes (label_set, flush) wait for LMDB's writer lock and the commit's fdatasync,
 * so they belong on the flusher thread or a thread-pool job, not on the event loop. */
#ifndef SL_STORE_SPEND_H
#define SL_STORE_SPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/lmdb_env.h"
#include "store/shm.h"

enum sl_spend_kind {
  SL_SPEND_OTHER = 0,   /* a slot id without kind bits */
  SL_SPEND_KEY = 1,     /* a virtual key (group_by=key) */
  SL_SPEND_GROUP = 2,   /* a model group (group_by=model) */
  SL_SPEND_GATEWAY = 3, /* the whole gateway */
};

#define SL_SPEND_ID_KIND(id) ((enum sl_spend_kind)((uint64_t)(id) >> 62))
#define SL_SPEND_ID_GATEWAY (((uint64_t)SL_SPEND_GATEWAY << 62) | 1u)

/* The slot id of a named payer: kind << 62 | low 62 bits of the big-endian first 8
 * bytes of SHA-256(name). Never 0. */
uint64_t sl_spend_id_name(enum sl_spend_kind kind, const char *name, size_t n);
/* The same from a SHA-256 already computed (keys: the hash of the secret). */
uint64_t sl_spend_id_hash(enum sl_spend_kind kind, const uint8_t hash[32]);

enum { SL_SPEND_MICRO, SL_SPEND_REQUESTS, SL_SPEND_TOKENS_IN, SL_SPEND_TOKENS_OUT, SL_SPEND_NFIELDS };

struct sl_spend_row {
  int64_t micro;      /* micro-USD */
  int64_t requests;
  int64_t tokens_in;
  int64_t tokens_out;
};

/* Days are UTC days since 1970-01-01. */
uint32_t sl_spend_day(int64_t unix_s);
/* "YYYY-MM-DD" -> day; -EINVAL when malformed. */
int sl_spend_day_parse(const char *s, size_t n, uint32_t *day);
/* day -> "YYYY-MM-DD" (11 bytes with the NUL). */
void sl_spend_day_format(uint32_t day, char out[11]);

/* Spend of (kind, id) in the budget period that started at period_start_unix, to
 * initialise period_spend_micro of a slot on its first use in this shm epoch. The
 * flusher keeps one period row per payer, restarted whenever the slot's
 * period_start moves forward, so a period of any length (1h, 30d) is exact up to the
 * flush-interval bound above. When the stored period is older than the one asked for,
 * nothing was spent in it (0). When it is newer (asking about a past period), the daily
 * rows since period_start's day are summed (whole days: an upper bound). No row: 0.
 * period_start 0 means "since the beginning" (keys without budget_duration). Any
 * thread (the loop thread included: a read txn, no disk wait). */
int sl_spend_period_load(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, int64_t period_start_unix,
                         int64_t *micro);

/* All-time totals of (kind, id) (zeros when none). Any thread. */
int sl_spend_total(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, struct sl_spend_row *out);

/* Sum of the daily rows of (kind, id) with start_day <= day <= end_day. Any thread. */
int sl_spend_sum(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, uint32_t start_day, uint32_t end_day,
                 struct sl_spend_row *out);

struct sl_spend_report_row {
  enum sl_spend_kind kind;
  uint64_t id;
  uint32_t day;
  struct sl_spend_row v;
  const char *label; /* key alias/display prefix, group name; "" when none was stored */
};
/* Nonzero return stops the report (and is returned). */
typedef int (*sl_spend_report_cb)(void *ctx, const struct sl_spend_report_row *r);

/* The daily rows of every payer of one kind (SL_SPEND_KEY for group_by=key,
 * SL_SPEND_GROUP for group_by=model) with start_day <= day <= end_day, ordered by id
 * then day. The rows are gathered in a read txn and the callback runs after it has
 * ended, so it may call anything. Any thread; admin path (not on the event loop for a
 * big ledger). Returns 0, the callback's nonzero value, or -errno. */
int sl_spend_report(struct sl_lmdb *e, enum sl_spend_kind kind, uint32_t start_day, uint32_t end_day,
                    sl_spend_report_cb cb, void *ctx);

/* Stores a human label for (kind, id), shown in reports (model group names at
 * startup; keys store theirs themselves). A write txn: not on the event loop. */
int sl_spend_label_set(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, const char *label);

/* ---- cluster mode (core/cluster_spend.c publishes this ledger per host) ---- */

/* Every all-time total row of every payer, in one read txn (cb must not call the
 * store; nonzero stops). Any thread. */
typedef int (*sl_spend_total_cb)(void *ctx, enum sl_spend_kind kind, uint64_t id, const struct sl_spend_row *r);
int sl_spend_totals_list(struct sl_lmdb *e, sl_spend_total_cb cb, void *ctx);
/* The day rows of (kind, id) from from_day on, in one read txn. Any thread. */
typedef int (*sl_spend_day_cb)(void *ctx, uint32_t day, const struct sl_spend_row *r);
int sl_spend_days_list(struct sl_lmdb *e, enum sl_spend_kind kind, uint64_t id, uint32_t from_day,
                       sl_spend_day_cb cb, void *ctx);
/* This ledger's id (32 hex digits + NUL), made at random on first use and kept in the
 * file ('E' 's'): the name of its copy in Redis, so a host that restarts under another
 * instance name is never counted twice. A write txn the first time only. */
int sl_spend_ledger_id(struct sl_lmdb *e, char out[33]);

/* ---- flushing shm -> ledger ---- */

struct sl_spend_flush_stats {
  unsigned slots;      /* slots that had something to move */
  int64_t micro;       /* micro-USD added to the ledger by this flush */
  unsigned recovered;  /* slots whose previous flush had committed but not advanced F */
};

/* One flush of every slot of shm, attributing deltas to day sl_spend_day(now_unix).
 * Skips the txn when no slot changed. Any thread except the event loop (waits for the
 * writer lock and the commit). Returns 0 or -errno. st may be NULL. */
int sl_spend_flush(struct sl_lmdb *e, struct sl_shm *shm, int64_t now_unix, struct sl_spend_flush_stats *st);

struct sl_spend_flusher;

/* Starts a thread that flushes every interval_ms (0: 1000) using the wall clock for
 * the day. Call in the worker after fork (never fork while it runs), from any thread;
 * e and shm must outlive it. Any number of processes may run one at the same time. */
int sl_spend_flusher_start(struct sl_lmdb *e, struct sl_shm *shm, unsigned interval_ms,
                           struct sl_spend_flusher **out);
/* Asks for a flush now (returns at once). Any thread. */
void sl_spend_flusher_kick(struct sl_spend_flusher *f);
/* Counters of the thread so far (any thread). last_error is 0 or the last flush's -errno. */
void sl_spend_flusher_stats(struct sl_spend_flusher *f, uint64_t *flushes, uint64_t *errors, int *last_error);
/* Stops the thread after a final flush and frees it; returns that flush's result. */
int sl_spend_flusher_stop(struct sl_spend_flusher *f);

#endif
