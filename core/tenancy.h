/* Tenancy on the request path: who is calling (master key or a virtual key), whether
 * they may (model list, budgets, exact RPM/TPM windows shared by every worker), and
 * what it cost (usage from the provider, prices, spend added to the key's, the group's
 * and the gateway's shared-memory slots, which a flusher thread writes to the LMDB
 * ledger exactly once). */
#ifndef SL_CORE_TENANCY_H
#define SL_CORE_TENANCY_H

#include <stdbool.h>
#include <stdint.h>

#include "net/base/buf.h"

struct sl_request;
struct sl_attempt;
struct sl_worker;

void sl_tenancy_open(struct sl_worker *w);
void sl_tenancy_close(struct sl_worker *w);

/* 0: the caller may use the API (rq->key set for a virtual key); else 401 and *why. */
int sl_tenancy_authenticate(struct sl_request *rq, const char **why);
/* After the model group is known: model permission (403), budgets (429
 * budget_exceeded) and the key's RPM/TPM (429 with Retry-After). False when it has
 * replied. */
bool sl_tenancy_admit(struct sl_request *rq);
/* The model group a virtual key's `aliases` map `model` to (LiteLLM's key-level model
 * aliases), copied into buf; model itself when the key has no such alias. */
const char *sl_tenancy_key_alias(const struct sl_request *rq, const char *model, char *buf, size_t n);
/* GET /v1/models for rq: every group and visible alias, or, for a virtual key with a
 * models list, only those it may call. 0 and *out (malloc'd JSON), or -1. */
int sl_tenancy_models_json(const struct sl_request *rq, char **out, size_t *n);
/* Usage and cost of every attempt so far into rq->tokens_* and rq->cost_micro. */
void sl_tenancy_cost(struct sl_request *rq);
/* Once, when the request ends: spend into the shared slots, TPM settled. */
void sl_tenancy_account(struct sl_request *rq);
/* "0.000123" */
void sl_tenancy_format_cost(int64_t micro, char out[32]);

#endif
