/* Tenancy on the request path: who is calling (master key or a virtual key), whether
 * they may (model list, budgets, exact RPM/TPM windows shared by every worker), and
 * what it cost (usage from the provider, prices, spend added to the key's, the group's
 * and the gateway's shared-memory slots, which a flusher thread writes to the LMDB
 * ledger exactly once). */
#ifndef SL_CORE_TENANCY_H
#define SL_CORE_TENANCY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/summary.h"
#include "core/verdict.h"
#include "net/base/buf.h"

struct sl_request;
struct sl_attempt;
struct sl_worker;
struct sl_group;
struct sl_key_record;
struct sl_shm_key;

/* What admission took on the payer's behalf, given back when the request is accounted:
 * a parallel-request slot and a TPM reservation on the key's shared-memory slot. */
struct sl_tenancy_hold {
  struct sl_shm_key *key_slot;      /* the virtual key's limiter/spend slot; NULL: none */
  int64_t tpm_reserved;             /* tokens reserved on the key's TPM window */
  uint64_t tpm_taken_ms;
  bool parallel_taken;              /* holds one of the key's max_parallel_requests */
  bool accounted;
};

/* What admission looks at. */
struct sl_admit_ask {
  const struct sl_key_record *key;  /* NULL: the master key, or no authentication */
  const char *model;                /* the model the client named */
  const struct sl_group *group;     /* the group it resolved to */
  int64_t est_tokens;               /* the prompt's estimated tokens */
  const cJSON *body;                /* for its max_tokens bound (TPM reservation) */
};

void sl_tenancy_open(struct sl_worker *w);
void sl_tenancy_close(struct sl_worker *w);

/* 0: the caller may use the API (*key: the virtual key's record, malloc'd, or NULL for
 * the master key / no master key configured); else -1 (a 401) and *why. */
struct sl_http_request;
int sl_tenancy_authenticate(struct sl_worker *w, const struct sl_http_request *hr, struct sl_key_record **key,
                            const char **why);
/* After the model group is known: model permission, budgets, the key's parallel
 * requests and RPM/TPM windows. The verdict (core/verdict.h) says OK or why not; the
 * caller answers. What was taken goes into hold (given back by sl_tenancy_account);
 * x-ratelimit-* header lines are appended to rl_hdrs. */
void sl_tenancy_admit(struct sl_worker *w, const struct sl_admit_ask *a, struct sl_tenancy_hold *hold,
                      struct sl_buf *rl_hdrs, struct sl_admit_verdict *v);
/* The model group a virtual key's `aliases` map `model` to (LiteLLM's key-level model
 * aliases), copied into buf; model itself when the key has no such alias. */
const char *sl_tenancy_key_alias(const struct sl_key_record *key, const char *model, char *buf, size_t n);
/* GET /v1/models: every group and visible alias, or, for a virtual key with a models
 * list, only those it may call. 0 and *out (malloc'd JSON), or -1. */
/* The most output tokens a request body asks for: the first of max_completion_tokens,
 * max_tokens, max_output_tokens that is a number decides (at most cap: a cast of 1e308 is
 * undefined); dflt when none is, or when that number is not positive. The TPM reservation
 * and the routers' cost estimate read it. */
int64_t sl_tenancy_max_output(const cJSON *body, int64_t dflt, int64_t cap);
int sl_tenancy_models_json(const struct sl_worker *w, const struct sl_key_record *key, char **out, size_t *n);
/* Usage and cost of every attempt so far into rq->tokens_* and rq->cost_micro. */
void sl_tenancy_cost(struct sl_request *rq);
/* Once per request (hold->accounted), before its answer's last bytes leave: the
 * summary's spend into the key's, the group's and the gateway's shared slots, the
 * parallel slot given back, the TPM reservation settled to the tokens used. */
void sl_tenancy_account(struct sl_worker *w, struct sl_tenancy_hold *hold, const struct sl_request_summary *s);
/* "0.000123" */
void sl_tenancy_format_cost(int64_t micro, char out[32]);

#endif
