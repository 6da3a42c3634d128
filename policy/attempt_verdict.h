/* The decisions of a request's back half, as pure functions: what to do after an
 * attempt failed (wait for a hedge, retry in the group, fall back, give up), which
 * status and error code a request that gives up answers with, whether to arm or fire a
 * hedge, which attempts are billed, and whether a failure counts against the deployment.
 * The one idea: core/attempt.c gathers the facts (from the request and shared memory),
 * asks here, and only executes the verdict (timers, launches, responses); everything
 * time-dependent gets the time (or the time left) passed in and randomness is a seed
 * pointer, so each decision is a table-driven unit test.
 *
 * To add a step: add it to the verdict enum, decide it here (with a unit test in
 * test/unit/test_policy_attempt_verdict.c), and execute it in core/attempt.c. */
#ifndef SL_POLICY_ATTEMPT_VERDICT_H
#define SL_POLICY_ATTEMPT_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/choose.h"
#include "policy/classify.h"
#include "policy/health.h"
#include "policy/outcome.h"

/* What a failed status tells the cooldown breaker: 429 RATE_LIMIT; 401, 403, 404 AUTH;
 * anything else (including no status) ERROR. */
enum sl_failure_kind sl_policy_failure_kind(int status);

/* Whether a failure says something about the deployment's health: not a context-window
 * or content-policy refusal (the request's nature), and not when the client's own
 * deadline has passed (the client's outcome). */
bool sl_policy_failure_blames_deployment(enum sl_outcome kind, bool client_deadline_passed);

/* How a request that cannot go on answers. */
enum sl_give_up_kind {
  SL_GIVE_UP_PASS_THROUGH,    /* the last attempt's own HTTP error (>= 400), as it came */
  SL_GIVE_UP_ATTEMPT_FAILED,  /* the last attempt failed without an HTTP error: 504 after a
                               * timeout, else 502; code = the attempt's outcome name */
  SL_GIVE_UP_RATE_LIMITED,    /* no attempt; every deployment at its rpm/tpm: 429 */
  SL_GIVE_UP_TOO_LONG,        /* no attempt; the prompt fits no deployment: 400 */
  SL_GIVE_UP_NONE_AVAILABLE,  /* no attempt; all cooling down (or none): 503 */
};

struct sl_give_up {
  enum sl_give_up_kind kind;
  int status;
  const char *code;       /* the error code the client sees (a static string) */
  uint64_t retry_after_s; /* Retry-After to send (>= 1), 0 = none */
};

/* attempted: an attempt of this request failed last (its outcome and status follow);
 * else why the last choice found nothing and the retry_after_ms it gave. */
struct sl_give_up sl_policy_give_up(bool attempted, enum sl_attempt_outcome last_outcome, int last_status,
                                    enum sl_choose_why why, uint64_t choice_retry_after_ms);

/* What the request does after one of its attempts failed before anything reached the
 * client. */
enum sl_next_step {
  SL_NEXT_NONE = 0,         /* the request is already answered: nothing */
  SL_NEXT_WAIT_FOR_LIVE,    /* another attempt (a hedge) is still running: let it answer */
  SL_NEXT_RETRY_SAME,       /* after delay_ms, again in the group on a deployment already
                             * tried (no untried one is available) */
  SL_NEXT_ADVANCE_IN_GROUP, /* after delay_ms, an untried deployment of the group */
  SL_NEXT_FALL_BACK,        /* now, the next fallback group */
  SL_NEXT_GIVE_UP,          /* answer with `give_up` */
};

struct sl_failure_facts {
  enum sl_attempt_outcome outcome; /* what happened to the failed attempt */
  int status;                      /* its HTTP status, 0 = none */
  enum sl_outcome kind;            /* its classification (SL_OUT_RETRY for transport failures) */
  uint64_t retry_after_ms;         /* the provider's Retry-After, 0 = none */
  bool answered;                   /* the request has finished or has a winner */
  int live;                        /* attempts still running (a hedge) */
  uint64_t left_ms;                /* until the request's deadline; 0 = passed */
  int attempts_in_group;           /* attempts made in the current group, this one included */
  int max_retries;                 /* the group allows 1 + max_retries attempts */
  int natt, max_attempts;          /* attempts of the request so far, and the cap */
  bool untried_left;               /* the group has an untried deployment not cooling down */
  uint64_t min_retry_ms;           /* the router's retry_after: least wait before a retry */
};

struct sl_next {
  enum sl_next_step step;
  uint64_t delay_ms;         /* RETRY_SAME, ADVANCE_IN_GROUP: wait this long first (0: now) */
  bool retry_same;           /* RETRY_SAME, ADVANCE_IN_GROUP, FALL_BACK: the next launch may go
                              * back to a deployment of the group already tried */
  struct sl_give_up give_up; /* GIVE_UP */
};

/* The verdict after a failure. In order: answered -> NONE; a live attempt -> WAIT; the
 * deadline passed -> GIVE_UP. The group may take another attempt when the failure is not
 * a refusal (context window, content policy), attempts_in_group <= max_retries and natt <
 * max_attempts; it may then return to a tried deployment only for a retryable error
 * (SL_OUT_RETRY: 401/403/404 are the deployment's answer to any retry). With an untried
 * deployment left: ADVANCE_IN_GROUP; else with a retry on a tried one allowed: RETRY_SAME;
 * else FALL_BACK. The delay is sl_policy_retry_delay_ms (429 jitter, back-off on a tried
 * deployment, the provider's Retry-After only when returning to one) with rng; when no
 * time would be left for the call: GIVE_UP. */
struct sl_next sl_policy_after_failure(const struct sl_failure_facts *f, uint64_t *rng);

/* Hedging: arm a hedge timer after an attempt starts, and fire when it rings. */
enum sl_hedge_step { SL_HEDGE_NO = 0, SL_HEDGE_ARM, SL_HEDGE_FIRE };

struct sl_hedge_facts {
  bool ringing;          /* the hedge timer rang (decide FIRE); else decide ARM */
  bool enabled;          /* hedging is configured */
  bool off;              /* this request asked for no hedging */
  int fired, max_extra;  /* hedges fired so far, and the most allowed */
  bool answered;         /* the request has finished or has a winner */
  bool head_seen;        /* a live attempt already has its response head: it is answering */
  int64_t budget_milli;  /* the shared hedge budget as read (sl_policy_budget_withdraw) */
  uint64_t delay_ms;     /* the deployment's hedge delay (sl_policy_hedge_delay_ms), 0 = none */
  uint64_t left_ms;      /* until the request's deadline */
};

struct sl_hedge_verdict {
  enum sl_hedge_step step;
  uint64_t delay_ms; /* ARM: ring after this long */
};

/* ARM (ringing false): when enabled, not off, fired < max_extra, and 0 < delay < left.
 * FIRE (ringing true): when not answered, fired < max_extra, no live attempt has its
 * head, and the budget holds a hedge; the caller then takes the token (atomically: it
 * may still lose it to another worker, and then does not hedge). */
struct sl_hedge_verdict sl_policy_should_hedge(const struct sl_hedge_facts *f);

/* Whether an attempt is billed (its tokens count toward cost, spend and TPM): when the
 * provider reported usage; else not when it answered with an HTTP error (>= 400: it
 * refused); else when it was sent and got a response head, or was cut off after being
 * sent (lost a race, cancelled, the client left, timed out): the prompt was consumed. */
bool sl_policy_attempt_billed(bool has_usage, int status, bool head, enum sl_attempt_outcome o);

#endif
