/* Tokens x prices in exact integers; see cost.h. The one idea: convert each price once
 * to pico-USD per token, multiply and add in 128-bit integers, round once. */
#include "policy/cost.h"

#include <math.h>

#define PICO_PER_USD 1e12
#define PICO_PER_MICRO 1000000
#define MAX_PICO_PER_TOKEN 1000000000000LL /* 1 USD per token */

int64_t sl_policy_price_pico(double usd_per_token) {
  if (!(usd_per_token > 0)) return 0; /* negative, zero, NaN */
  double v = usd_per_token * PICO_PER_USD;
  if (!(v < (double)MAX_PICO_PER_TOKEN)) return MAX_PICO_PER_TOKEN;
  return (int64_t)llround(v);
}

bool sl_policy_price_is_free(const struct sl_price *p) {
  if (!p) return true;
  return sl_policy_price_pico(p->input) == 0 && sl_policy_price_pico(p->output) == 0 &&
         (!p->has_cache_read || sl_policy_price_pico(p->cache_read) == 0) &&
         (!p->has_cache_write || sl_policy_price_pico(p->cache_write) == 0);
}

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

/* The exact cost in pico-USD (never negative; far below 2^127: four products of a
 * count < 2^63 and a price <= 1e12 < 2^40). */
static __int128 cost_pico(const struct sl_tokens *t, const struct sl_price *p) {
  int64_t prompt = nonneg(t->prompt), completion = nonneg(t->completion);
  int64_t cr = nonneg(t->cache_read), cw = nonneg(t->cache_write);
  if (cr > prompt) cr = prompt;
  if (cw > prompt - cr) cw = prompt - cr;
  int64_t in = sl_policy_price_pico(p->input);
  int64_t pr = p->has_cache_read ? sl_policy_price_pico(p->cache_read) : in;
  int64_t pw = p->has_cache_write ? sl_policy_price_pico(p->cache_write) : in;
  int64_t out = sl_policy_price_pico(p->output);
  return (__int128)(prompt - cr - cw) * in + (__int128)cr * pr + (__int128)cw * pw + (__int128)completion * out;
}

int64_t sl_policy_cost_micro_tokens(const struct sl_tokens *t, const struct sl_price *p) {
  if (!t || !p) return 0;
  __int128 micro = (cost_pico(t, p) + PICO_PER_MICRO / 2) / PICO_PER_MICRO;
  return micro > INT64_MAX ? INT64_MAX : (int64_t)micro;
}

int64_t sl_policy_cost_pico_tokens(const struct sl_tokens *t, const struct sl_price *p) {
  if (!t || !p) return 0;
  __int128 pico = cost_pico(t, p);
  return pico > INT64_MAX ? INT64_MAX : (int64_t)pico;
}

bool sl_policy_tokens_plausible(const struct sl_tokens *t) {
  const int64_t v[4] = {t->prompt, t->completion, t->cache_read, t->cache_write};
  for (int i = 0; i < 4; i++)
    if (v[i] < 0 || v[i] > SL_USAGE_MAX_TOKENS) return false;
  return true;
}

int64_t sl_policy_add_sat(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

int64_t sl_policy_budget_pico(double usd) {
  if (!(usd > 0)) return 0;
  double v = usd * PICO_PER_USD;
  if (!(v < 9223372036854775807.0)) return INT64_MAX;
  return (int64_t)llround(v);
}

int64_t sl_policy_cost_micro(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_prompt_tokens,
                             const struct sl_price *p) {
  struct sl_tokens t = {prompt_tokens, completion_tokens, cached_prompt_tokens, 0};
  return sl_policy_cost_micro_tokens(&t, p);
}
