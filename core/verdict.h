/* Stage verdicts: what a stage of the request spine decided, as plain data. Stages
 * (tenancy's admission, the cache lookup) never reply to the client; they return a
 * verdict, and the spine (core/request.c) turns it into a response through
 * core/respond.c. A refusal is the common shape of every "no": status, error code,
 * extra header lines and a message. To add a kind of refusal to a stage: a kind in its
 * enum, its row in the mapping (verdict.c), and a unit test row. */
#ifndef SL_CORE_VERDICT_H
#define SL_CORE_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/errors.h"

struct sl_refusal {
  int status;
  enum sl_err err;
  char hdrs[96]; /* whole header lines ("Retry-After: 1\r\n"), or "" */
  char msg[1024];
};

/* Fills r (hdrs: NULL or whole header lines) and returns false, so a stage can say
 * `return sl_refuse(r, ...)`. */
bool sl_refuse(struct sl_refusal *r, int status, enum sl_err err, const char *hdrs, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- admission (core/tenancy.c): model permission, budgets, limits ---- */

enum sl_admit_kind {
  SL_ADMIT_OK = 0,
  SL_ADMIT_FORBIDDEN,  /* the key may not call this model: 403 model_not_allowed */
  SL_ADMIT_BUDGET,     /* the key's or the gateway's budget is spent: 429 budget_exceeded */
  SL_ADMIT_PARALLEL,   /* max_parallel_requests reached: 429 rate_limit_exceeded */
  SL_ADMIT_RATE,       /* the key's RPM or TPM window is full: 429 rate_limit_exceeded */
  SL_ADMIT_TABLE_FULL, /* no limiter slot for the payer: 503 key_table_full */
  SL_ADMIT_N
};

struct sl_admit_verdict {
  enum sl_admit_kind kind;
  uint64_t retry_after_s; /* 0: no Retry-After */
  char msg[512];          /* the human message (names the key, the limit) */
};

/* The refusal a non-OK admission verdict is said as (status, code, Retry-After). */
void sl_admit_refusal(const struct sl_admit_verdict *v, struct sl_refusal *out);

/* ---- cache lookup (core/reqcache.c) ---- */

enum sl_cache_kind {
  SL_CACHE_OFF = 0, /* no cache for this request (disabled, another wire format, bad controls) */
  SL_CACHE_BYPASS,  /* the client said no-store / no-cache: call upstream */
  SL_CACHE_MISS,    /* not stored: call upstream (and fill) */
  SL_CACHE_HIT,     /* a stored answer: serve it */
  SL_CACHE_FOLLOW,  /* an identical request is on its way upstream: wait for its answer */
  SL_CACHE_PENDING, /* the semantic cache waits for an embedding (sl_request_cache_resume follows),
                     * or the Redis tier for its GET (core/cluster_cache.c goes on by itself) */
};

#endif
