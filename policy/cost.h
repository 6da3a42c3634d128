/* Cost arithmetic: tokens x prices -> integer micro-USD. The one idea: prices are
 * turned into exact integers (pico-USD per token) before anything is multiplied, so a
 * cost is the same integer on every machine and every run, the spend ledger can add
 * costs exactly, and the only rounding is one half-up step at the end. */
#ifndef SL_POLICY_COST_H
#define SL_POLICY_COST_H

#include <stdbool.h>
#include <stdint.h>

/* Prices in USD per token, as LiteLLM's model_info gives them (input_cost_per_token,
 * output_cost_per_token, cache_read_input_token_cost,
 * cache_creation_input_token_cost). A zeroed struct is free. */
struct sl_price {
  double input, output;
  double cache_read;  /* per cached prompt token read; used only when has_cache_read */
  double cache_write; /* per prompt token written to the cache; only when has_cache_write */
  bool has_cache_read, has_cache_write; /* unset: those tokens cost the input price */
};

/* Token counts of one call, in OpenAI's convention: prompt counts every input token,
 * including the cache_read and cache_write ones (Anthropic's input_tokens do not: add
 * them, as net/wire/usage does). completion counts every output token (reasoning included). */
struct sl_tokens {
  int64_t prompt, completion, cache_read, cache_write;
};

/* The most tokens one call may report in any count. A provider that reports more (a
 * bug, a hostile upstream: 9e15 tokens would cost billions and wrap counters) is not
 * believed: the caller estimates the call's usage from the request instead and flags
 * it (core/tenancy.c). 1e9 is ~1000x the largest context window of 2025. */
#define SL_USAGE_MAX_TOKENS 1000000000LL

/* True when every count of t is in [0, SL_USAGE_MAX_TOKENS]. */
bool sl_policy_tokens_plausible(const struct sl_tokens *t);

/* a + b, saturating at INT64_MAX / INT64_MIN instead of wrapping. */
int64_t sl_policy_add_sat(int64_t a, int64_t b);

/* Cost in pico-USD (the unit every price is converted to), exact, saturating at
 * INT64_MAX (~9.2 million USD). Budgets compare in this unit (core/tenancy.c). */
int64_t sl_policy_cost_pico_tokens(const struct sl_tokens *t, const struct sl_price *p);

/* A budget in USD as pico-USD, rounded to nearest; <= 0 or NaN: 0; saturates at
 * INT64_MAX. */
int64_t sl_policy_budget_pico(double usd);

/* Cost in micro-USD, rounded half up:
 *   (prompt - cached) x input + cached x cache_read + completion x output
 * computed exactly in pico-USD (each price rounded to the nearest 1e-12 USD per token),
 * then (pico + 500000) / 1000000. Negative counts are 0; cached is capped at prompt.
 * Saturates at INT64_MAX micro-USD (not reachable with real counts and prices). */
int64_t sl_policy_cost_micro(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_prompt_tokens,
                             const struct sl_price *p);

/* The same with cache writes (Anthropic cache_creation_input_tokens): prompt is
 * split into cache_read, cache_write and the rest (cache_read + cache_write capped at
 * prompt, reads first), each at its own price. */
int64_t sl_policy_cost_micro_tokens(const struct sl_tokens *t, const struct sl_price *p);

/* A price in USD per token as exact pico-USD per token (rounded to nearest; negative,
 * NaN or absurd (> 1 USD per token) prices give 0 / the cap). */
int64_t sl_policy_price_pico(double usd_per_token);

/* True when every price of p is 0 (a deployment that "costs 0", said at startup). */
bool sl_policy_price_is_free(const struct sl_price *p);

#endif
