/* Learned routers that learn from outcomes (`learning: online`): the glue between the
 * route stage (core/router.c), the outcome store (store/feedback.h, DATA_DIR/feedback)
 * and the pure learner (policy/bandit.h).
 *
 * Where the learned state lives, and why: in LMDB ("learn_state", one ~4 KB record per
 * router), not in shared memory. Outcomes are applied by the feedback writer thread of
 * the process that received them, as a read-modify-write inside its LMDB write
 * transaction, so updates from every worker (and every reload generation, and the CLI's
 * import/rollback) serialise on LMDB's writer lock and persist with no second copy to
 * keep in sync; each worker re-reads the record at most once a second on the request
 * path (one read transaction). The request path never writes.
 *
 * The decision: score + the state's adjustment for the prompt's feature slots against the
 * router's threshold; then, with an exploration budget, Thompson sampling may choose the
 * other target (reason "explore"), within each worker's share of the daily budget.
 * Outcomes: POST /v1/feedback (core/feedback.c), and from inside sluice
 * sl_learn_request_outcome (while the request runs: a cascade check) or sl_learn_outcome
 * (by request id, later). */
#ifndef SL_CORE_ROUTER_ONLINE_H
#define SL_CORE_ROUTER_ONLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/feedback.h"

struct sl_request;
struct sl_worker;
struct sl_plan_router;
struct sl_group;

/* Per request: what the learner needs at the request's end (struct sl_request's learn). */
struct sl_learn_rq {
  uint16_t slots[SL_FB_SLOTS];
  uint8_t nslots;
  bool online;      /* an online router decided */
  bool explored;    /* the target is an exploration */
  bool has_outcome; /* sl_learn_request_outcome was called */
  uint8_t fb_tries; /* POST /v1/feedback: lookups of an id not found yet (core/feedback.c) */
  float need;
  double base, adjust; /* the model's score, and what learning added */
};

/* The route stage, for a router with learning: online. sl_online_score returns the
 * score the decision uses (s + adjustment) and remembers the prompt's slots;
 * sl_online_explore may replace *target by the other one (reason "explore"). thr is the
 * threshold the decision used (NAN: none, nothing to explore). */
double sl_online_score(struct sl_request *rq, const struct sl_plan_router *r, double s);
void sl_online_explore(struct sl_request *rq, const struct sl_plan_router *r, double thr,
                       const struct sl_group **target, const char **reason);

/* An outcome for a request still running (a cascade check on its answer): need 1 means
 * the strong model was needed, 0 the weak answer was fine. Recorded with the decision. */
void sl_learn_request_outcome(struct sl_request *rq, double need);
/* An outcome for a request by id, as the master key would give it: 0, -ENOENT,
 * -EALREADY, -EINVAL, -EIO. */
int sl_learn_outcome(struct sl_worker *w, const char *request_id, double need);

/* The request's end (sl_router_account): records its decision, if a router made one. */
void sl_learn_record(struct sl_request *rq);

/* The feedback store of the worker (opened on first use; NULL when it cannot be) and
 * its environment. Closed by sl_learn_close (worker teardown). */
struct sl_fb *sl_learn_store(struct sl_worker *w);
struct sl_lmdb *sl_learn_env(struct sl_worker *w);
void sl_learn_close(struct sl_worker *w);

/* The learn callback (store/feedback.h's sl_fb_learn_fn) for a plan: applies an outcome
 * to the state of the decision's router when that router learns online and is not
 * frozen. ud: the struct sl_worker. */
bool sl_learn_apply(void *ud, const struct sl_fb_decision *d, int64_t now_s, unsigned char *state, size_t *len,
                    size_t cap);

#endif
