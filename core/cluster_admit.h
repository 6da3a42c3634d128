/* Cluster-wide admission (core/cluster_admit.c): a key's RPM/TPM windows, the key's and
 * the gateway's budgets, and the first deployment's rpm/tpm, decided in one EVALSHA on
 * Redis; settled asynchronously; decided locally on this host's share while degraded.
 * With w->cluster NULL every call here is the single-host path. */
#ifndef SL_CORE_CLUSTER_ADMIT_H
#define SL_CORE_CLUSTER_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/summary.h"
#include "core/tenancy.h"
#include "core/verdict.h"

struct sl_request;
struct sl_worker;
struct sl_group;

/* The admission stage of rq. SL_CLUSTER_ADMIT_DONE: *v is the verdict (decided here, or
 * locally). SL_CLUSTER_ADMIT_PENDING: the script is in flight; the request is kept alive and
 * sl_request_admit_resume(rq, verdict) is called from the loop (also when the request ended
 * meanwhile: then it does nothing). */
enum sl_cluster_admit_rc { SL_CLUSTER_ADMIT_DONE = 0, SL_CLUSTER_ADMIT_PENDING };
enum sl_cluster_admit_rc sl_cluster_admit(struct sl_request *rq, const struct sl_admit_ask *a,
                                          struct sl_admit_verdict *v);

/* Accounting (from sl_tenancy_account): actual minus estimate into the Redis TPM window,
 * spend into the key's and the gateway's counters, reservations released; no waiting.
 * While degraded the same goes into this worker's reconciliation table. */
void sl_cluster_admit_settle(struct sl_worker *w, struct sl_tenancy_hold *hold, const struct sl_request_summary *s);

/* try_group's first choice: the group position of the deployment chosen (and counted by
 * Redis) at admission, or -1 (then choose as usual). */
int sl_cluster_first_choice(struct sl_request *rq, const struct sl_group *g, bool *tried);
/* After each health snapshot: the deployment Redis found full is shown at its limit to
 * this request's choice (so a group with nothing else answers 429 as one host does). */
struct sl_candidate;
void sl_cluster_mark_full(const struct sl_request *rq, const struct sl_group *g, struct sl_candidate *c);
/* An attempt starts on dep (try_group): sl_health_begin, in cluster mode with this host's
 * share of the deployment's limits, plus an asynchronous count into its Redis windows (or
 * the reconciliation table while degraded). counted: Redis already counted it (the first
 * choice): count locally without a check. */
bool sl_cluster_dep_begin(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens, bool counted);

/* Pure arithmetic shared with the unit tests: a budget in USD as whole micro-USD, rounded
 * up (a budget below a micro-USD still refuses once anything is spent). */
int64_t sl_cluster_budget_micro(double usd);

/* The scripts' Lua (exported for test/unit/test_cluster_admit.c, which runs them on a
 * real redis-server against policy/ratelimit.c). admit: KEYS kwin kspend kresv gspend
 * gresv dwin (kwin, dwin: one hash, request window m p c + token window tm tp tc); ARGV rpm tpm tokens key_budget
 * gw_budget resv_micro resv_field resv_ttl_ms dep_rpm dep_tpm dep_tokens key_seed gw_seed key_ttl_s gw_ttl_s host
 * (kspend and gspend are hashes: one field per host, its spend; the seeds are the admitting host's own spend, written
 * as max(field, seed) into its field `host`; the budget checks the fields' sum); reply {verdict (0 ok, 1 rate, 2 key
 * budget, 3 gateway budget), spent, now_ms, the key's request window m p c and token window m p c as found, deployment
 * counted (0/1)}; ops (settlements of the same loop iteration) may follow: KEYS 7.., ARGV 17.., applied first. ops: see
 * the file. */
extern const char sl_cluster_admit_lua[], sl_cluster_ops_lua[];

#endif
