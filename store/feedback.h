/* Router decisions and their outcomes, and routers' learned state, in LMDB (its own
 * environment, DATA_DIR/feedback, opened by core/feedback.c). The one idea: the request
 * path only copies a decision into a bounded in-process queue; a writer thread (one per
 * process) commits the queue in batches (group commit: whatever queued while the last
 * commit ran; idle, it wakes at least every SL_FB_FLUSH_MS), and that same thread
 * applies outcomes to the learned state (through a callback the caller owns, inside the
 * write transaction, so two processes never lose each other's updates). A crash may lose
 * what was queued but not yet committed (milliseconds under load); a full queue drops (and counts) decisions.
 *
 * Databases: "feedback" (request id -> struct sl_fb_decision), "feedback_age" (be64 unix
 * seconds + id -> nothing: the TTL and the bound remove the oldest first), "learn_state"
 * (router name -> state bytes, opaque here) and "learn_snap" (router name, NUL, be64
 * unix seconds -> state bytes: the last `keep_snapshots` states, one taken before a
 * change when the newest is older than snapshot_every_s, and before every import or
 * rollback).
 * An outcome is accepted once per decision, from its owner (the key that made the
 * request) or the master key; to anyone else the id is unknown. */
#ifndef SL_STORE_FEEDBACK_H
#define SL_STORE_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_lmdb;
struct sl_fb;

#define SL_FB_ID_MAX    64 /* request ids, bytes with the NUL */
#define SL_FB_NAME_MAX  64 /* router and group names kept (cut beyond) */
#define SL_FB_SLOTS     48 /* feature slots kept per decision */
#define SL_FB_STATE_MAX 65536
#define SL_FB_FLUSH_MS  100

struct sl_fb_decision {
  int64_t ts_s;    /* unix seconds of the decision */
  uint64_t owner;  /* the key's id (store/keys.h); 0: the master key or no keys */
  double score;    /* the router's score (NAN: none) */
  double cost_usd; /* estimated cost of the call */
  char router[SL_FB_NAME_MAX], target[SL_FB_NAME_MAX], reason[32];
  uint8_t strong;   /* the target was the router's strong model */
  uint8_t explored; /* an exploration (a target the policy would not have chosen) */
  uint8_t has_outcome;
  uint8_t learns; /* the outcome says something about the weak/strong choice */
  float need;     /* the outcome: 1 strong was needed .. 0 weak was fine */
  int64_t outcome_ts_s;
  uint16_t nslots;
  uint16_t slots[SL_FB_SLOTS];
};

/* Applies an outcome to a router's state on the writer thread: state holds the current
 * bytes (*len 0: none yet), cap bytes of room; returns true when it changed them. */
typedef bool (*sl_fb_learn_fn)(void *ud, const struct sl_fb_decision *d, int64_t now_s, unsigned char *state,
                               size_t *len, size_t cap);

struct sl_fb_opts {
  int64_t ttl_s;            /* decisions older than this are forgotten; 0: 7 days */
  size_t max_decisions;     /* the bound: the oldest go first; 0: 500000 */
  size_t queue_max;         /* queued operations at most; 0: 4096 */
  unsigned keep_snapshots;  /* per router; 0: 24 */
  int64_t snapshot_every_s; /* 0: 600 */
  sl_fb_learn_fn learn;     /* NULL: outcomes are recorded, nothing learns */
  void *learn_ud;
  int64_t (*now_s)(void); /* unix seconds; NULL: time(NULL) (tests pass a fake) */
  bool manual;            /* tests: no writer thread; sl_fb_flush commits on the caller's thread */
};

int sl_fb_open(struct sl_lmdb *e, const struct sl_fb_opts *o, struct sl_fb **out);
/* Commits what is queued, stops the writer thread, frees. */
void sl_fb_close(struct sl_fb *fb);

/* The request path: queues the decision of request id (never blocks on the disk).
 * 0, -ENOSPC (queue full: dropped and counted), -EINVAL (bad id). */
int sl_fb_record(struct sl_fb *fb, const char *id, const struct sl_fb_decision *d);
/* An outcome for id from a caller with key id `owner` (master: any owner): need in [0,1].
 * Looks the decision up (the queue, then the database), checks owner and age, and queues
 * the outcome (learns: the learn callback may use it). 0; -ENOENT (unknown, expired, or another key's); -EALREADY (it
 * has an outcome already); -EINVAL; -ENOSPC (queue full); -EIO. d (may be NULL) receives the decision. */
int sl_fb_outcome(struct sl_fb *fb, const char *id, uint64_t owner, bool master, double need, bool learns,
                  struct sl_fb_decision *d);
/* The decision as stored (for tests and tools): 0 or -ENOENT. */
int sl_fb_get(struct sl_fb *fb, const char *id, struct sl_fb_decision *out);
/* Waits until everything queued before the call is committed. */
void sl_fb_flush(struct sl_fb *fb);
/* Counters since open. */
struct sl_fb_stats {
  uint64_t recorded, outcomes, dropped, expired, evicted, errors, learned;
};
void sl_fb_stats(struct sl_fb *fb, struct sl_fb_stats *out);

/* ---- learned state (any thread, any process; each call is its own transaction) ---- */

/* The current state of router: 0 (*len set), -ENOENT, -ENOSPC (cap too small), -EIO. */
int sl_fb_state_get(struct sl_lmdb *e, const char *router, void *buf, size_t cap, size_t *len);
/* Replaces the state of router (import, rollback) after snapshotting the current one at
 * now_s (keeping keep snapshots). */
int sl_fb_state_put(struct sl_lmdb *e, const char *router, const void *bytes, size_t len, int64_t now_s, unsigned keep);
/* Snapshot times of router, newest first: how many (at most max), or -errno. */
int sl_fb_snapshots(struct sl_lmdb *e, const char *router, int64_t *ts, size_t max);
/* The snapshot at or before `at` (INT64_MAX: the newest): 0 (*ts_out, *len set), -ENOENT. */
int sl_fb_snapshot_get(struct sl_lmdb *e, const char *router, int64_t at, void *buf, size_t cap, size_t *len,
                       int64_t *ts_out);

#endif
