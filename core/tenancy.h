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

/* Cluster mode (core/cluster_admit.c): what the admission took in Redis (mode redis), or
 * decided locally while degraded (mode degraded), settled when the request is accounted. */
enum sl_cluster_mode { SL_CLUSTER_NONE = 0, SL_CLUSTER_REDIS, SL_CLUSTER_DEGRADED };
struct sl_tenancy_cluster {
  enum sl_cluster_mode mode;
  bool key_tpm, key_budget, gw_budget; /* what Redis reserved: TPM tokens, budget estimates */
  uint64_t key_id;
  uint64_t taken_ms;       /* Redis TIME (redis) or the wall clock (degraded) of the admission */
  int64_t tok_reserved;    /* tokens reserved on the key's Redis TPM window */
  int64_t key_period, gw_period; /* budget periods (unix s) of the spend counters */
  int64_t key_spend_ttl_s, gw_spend_ttl_s;
  uint64_t resv_seq;       /* this request's reservation field: "<instance>/<worker>/<seq>" */
  int first_dep;           /* 1 + the deployment chosen at admission (index into cfg); 0: none */
  bool first_dep_ok;       /* Redis counted it in the deployment's window */
  int64_t dep_tokens;      /* the tokens counted on its TPM window */
  int full_dep;            /* 1 + the one Redis found full this minute (index into cfg); 0: none */
  uint64_t ticket;         /* the admission script in flight (0: none) */
};

/* What admission took on the payer's behalf, given back when the request is accounted:
 * a parallel-request slot and a TPM reservation on the key's shared-memory slot. */
struct sl_tenancy_hold {
  struct sl_shm_key *key_slot;      /* the virtual key's limiter/spend slot; NULL: none */
  int64_t tpm_reserved;             /* tokens reserved on the key's TPM window */
  uint64_t tpm_taken_ms;
  bool parallel_taken;              /* holds one of the key's max_parallel_requests */
  bool accounted;
  struct sl_tenancy_cluster cl;
};

/* What admission looks at. */
struct sl_admit_ask {
  const struct sl_key_record *key;  /* NULL: the master key, or no authentication */
  const char *model;                /* the model the client named */
  const struct sl_group *group;     /* the group it resolved to */
  int64_t est_tokens;               /* the prompt's estimated tokens */
  const cJSON *body;                /* for its max_tokens bound (TPM reservation) */
  /* Cluster mode (core/cluster_admit.c); zero: one host, everything decided here. */
  enum sl_admit_stage { SL_ADMIT_ALL = 0, SL_ADMIT_PRE, SL_ADMIT_LIMITS } stage; /* PRE: permission,
                                      table, parallel requests; LIMITS: budgets and windows */
  unsigned share_hosts;             /* > 1: each limit is ceil(limit / share_hosts) (degraded) */
  bool budget_unverifiable;         /* degraded with fail_closed_budget: a budget refuses */
};

/* The TPM reservation admission takes for a request (its prompt estimate + max output,
 * at most the key's tpm_limit). */
int64_t sl_tenancy_tpm_estimate(const struct sl_key_record *k, const struct sl_admit_ask *a);
/* The payer's (k, or the gateway when NULL) spend of the period in micro-USD rounded up,
 * as this host knows it (its ledger + what it has not flushed): this host's field of the
 * cluster's spend hash. Claims the payer's slot (as admission does). */
int64_t sl_tenancy_local_spend_micro(struct sl_worker *w, const struct sl_key_record *k, int64_t period_start);
/* The same for payer id (a key's id, or SL_SPEND_ID_GATEWAY with gateway true) without
 * claiming or moving a slot: the slot's spend when this host has the payer loaded, of the
 * slot's period when that is newer than *period (then *period is set to it; spend added
 * after a period turned counts in the new one, as on one host), 0 when the slot is of an
 * older period (nothing spent in *period yet); else the ledger's spend of *period. For
 * settlement and the re-push after Redis lost its data (core/cluster_admit.c). */
int64_t sl_tenancy_host_spend_micro(struct sl_worker *w, uint64_t id, bool gateway, int64_t *period);
/* The gateway budget's current period start (unix s). */
int64_t sl_tenancy_gateway_period(const struct sl_worker *w, int64_t now_unix);
/* Cluster mode: Redis admitted the request; count it in the key's local windows too
 * (without a check: they are this host's degraded-mode state and /key/info's view), and
 * keep the local TPM reservation for settling. */
void sl_tenancy_count_local(struct sl_worker *w, const struct sl_admit_ask *a, struct sl_tenancy_hold *hold);
/* x-ratelimit-* lines for a window (requests or tokens) as of now_ms. */
struct sl_rate_window;
void sl_tenancy_rl_headers(struct sl_buf *b, const char *what, int64_t limit, const struct sl_rate_window *rw,
                           uint64_t now_ms);
/* A budget refusal's verdict (spent in micro-USD). */
void sl_tenancy_budget_refusal(struct sl_admit_verdict *v, const char *who, int64_t spent_micro, double max);

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
