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
  SL_STRAT_SHUFFLE = 0, /* weighted random by weight, else rpm, else tpm, else uniform (the
                         * key is the first that any usable candidate sets; one without
                         * it weighs 0 and is never picked) */
  SL_STRAT_LEAST_BUSY,  /* fewest in flight; ties broken at random */
  SL_STRAT_LATENCY,     /* power of two choices on peak-EWMA cost: ewma x (inflight + 1);
                         * two distinct candidates at random, the cheaper wins */
  SL_STRAT_COST,        /* cheapest (input + output price per token); ties at random */
  SL_STRAT_USAGE,       /* lowest tokens-this-minute / tpm (tpm 0 = share 0), then lowest
                         * tokens-this-minute; ties at random */
};

/* What the router knows of one candidate at decision time. */
struct sl_candidate {
  double weight;             /* litellm_params.weight, 0 = unset */
  int64_t rpm, tpm;          /* limits, 0 = unlimited */
  int order;                 /* 0 = unset (treated as 1) */
  double input_cost, output_cost; /* per token */
  int64_t max_input_tokens;  /* 0 = unknown */
  double ewma_ms;            /* latency EWMA (TTFT for streams), as decayed for idleness by
                              * sl_policy_ewma_decay; 0 = no sample yet (explored first) */
  int64_t inflight;
  int64_t requests_this_minute, tokens_this_minute;
  uint64_t cooldown_until_ms; /* 0 = closed; future = cooling; past or now = half-open */
  bool probe_busy;           /* half-open: a probe is in flight, others must wait (ignored
                              * when cooldown_until_ms is 0) */
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
 * current rate-limit minute (for retry_after when rate limited).
 *
 * A candidate is unavailable when (first match): the prompt is too long for it
 * (est_prompt_tokens > max_input_tokens, both > 0); it is excluded; it cools
 * (cooldown_until_ms > now, or half-open with probe_busy); it is at its limits
 * (requests_this_minute >= rpm, or tokens_this_minute + est_prompt_tokens > tpm).
 * A half-open candidate (cooldown over, no probe in flight, within limits) is a probe
 * candidate. The field is the lowest order level holding a usable or probe candidate.
 * Probes: with h usable and p probe candidates in the field, a probe (uniformly among
 * the p) is chosen with probability p / (h + p), i.e. a half-open deployment takes the
 * share of one more member picked uniformly, and with h = 0 it is chosen for sure; the
 * choice then has probe = true and the caller must claim the probe slot. So a recovered
 * deployment is probed within a few requests even beside healthy twins, and at most one
 * request per cooldown pays for a deployment that is still broken. Otherwise the
 * strategy picks among the h usable ones.
 * When none: why = TOO_LONG if every candidate is too long; else EXCLUDED if every other
 * one was tried; else RATE_LIMITED if every remaining one is only at its limits
 * (retry_after = minute_left_ms); else COOLING (retry_after = the soonest recovery among
 * the remaining: cooldown end, or the minute's end for a rate-limited one; at least 1). */
struct sl_choice sl_policy_choose(enum sl_strategy s, const struct sl_candidate *c, size_t n,
                                  uint64_t now_ms, uint64_t minute_left_ms,
                                  int64_t est_prompt_tokens, uint64_t *rng);

/* xorshift64* step and a uniform double in [0,1). */
uint64_t sl_policy_rand(uint64_t *state);
double sl_policy_rand01(uint64_t *state);

#endif
