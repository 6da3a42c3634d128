/* Choosing a deployment within a group. Pure: the caller passes a snapshot of every
 * candidate (health, load, prices), the time and a random state; the function returns
 * which candidate to call, or why none can be called and when one will be able to.
 * Strategies are LiteLLM's routing_strategy values. `order` is applied first: a higher
 * order is considered only when no candidate of a lower order is available. */
#ifndef SL_POLICY_CHOOSE_H
#define SL_POLICY_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_strategy {
  SL_STRAT_SHUFFLE = 0, /* weighted random by weight, else rpm, else tpm, else uniform */
  SL_STRAT_LEAST_BUSY,  /* fewest in flight; ties broken at random */
  SL_STRAT_LATENCY,     /* power of two choices on peak-EWMA cost: ewma x (inflight + 1) */
  SL_STRAT_COST,        /* cheapest (input + output price per token); ties at random */
  SL_STRAT_USAGE,       /* lowest tokens-this-minute / tpm */
};

/* What the router knows of one candidate at decision time. */
struct sl_candidate {
  double weight;             /* litellm_params.weight, 0 = unset */
  int64_t rpm, tpm;          /* limits, 0 = unlimited */
  int order;                 /* 0 = unset (treated as 1) */
  double input_cost, output_cost; /* per token */
  int64_t max_input_tokens;  /* 0 = unknown */
  double ewma_ms;            /* latency EWMA (TTFT for streams); 0 = no sample yet */
  int64_t inflight;
  int64_t requests_this_minute, tokens_this_minute;
  uint64_t cooldown_until_ms; /* 0 or past = not cooling */
  bool probe_busy;           /* half-open: a probe is in flight, others must wait */
  bool excluded;             /* already tried by this request */
};

enum sl_choose_why {
  SL_CHOSEN = 0,
  SL_NONE_COOLING,      /* every candidate cools down (Retry-After = soonest end) */
  SL_NONE_RATE_LIMITED, /* every candidate is at its rpm/tpm for this minute -> 429 */
  SL_NONE_TOO_LONG,     /* the prompt exceeds every candidate's max_input_tokens */
  SL_NONE_EXCLUDED,     /* every candidate was tried already */
  SL_NONE_EMPTY,
};

struct sl_choice {
  int index;                 /* chosen candidate, -1 when none */
  enum sl_choose_why why;
  bool probe;                /* the choice is the half-open probe of a cooled deployment */
  uint64_t retry_after_ms;   /* when none: time until the soonest candidate may be usable */
};

/* rng: caller-owned xorshift64* state (never 0). now_ms: monotonic. est_prompt_tokens
 * skips candidates whose max_input_tokens is smaller. minute_left_ms: time left in the
 * current rate-limit minute (for retry_after when rate limited). */
struct sl_choice sl_policy_choose(enum sl_strategy s, const struct sl_candidate *c, size_t n,
                                  uint64_t now_ms, uint64_t minute_left_ms,
                                  int64_t est_prompt_tokens, uint64_t *rng);

/* xorshift64* step and a uniform double in [0,1). */
uint64_t sl_policy_rand(uint64_t *state);
double sl_policy_rand01(uint64_t *state);

#endif
