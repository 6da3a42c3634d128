/* policy/cost and policy/prices: exact integer costs with half-up rounding (including
 * the halves that floating point gets wrong), cache reads and writes, clamping, the
 * price table's data sanity, and the name matching rules (prefixes, snapshots, longest
 * match, families never confused). */
#include <ctype.h>
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "policy/cost.h"
#include "policy/prices.h"

static struct sl_price per_m(double in, double out) {
  struct sl_price p = {in / 1e6, out / 1e6, 0, 0, false, false};
  return p;
}

static void basic_costs(void) {
  struct sl_price p = per_m(2.50, 10.00);
  CHECK(sl_policy_cost_micro(1000, 500, 0, &p) == 7500);       /* 2500 + 5000 */
  CHECK(sl_policy_cost_micro(1000000, 0, 0, &p) == 2500000);   /* $2.50 per million */
  CHECK(sl_policy_cost_micro(0, 1000000, 0, &p) == 10000000);
  CHECK(sl_policy_cost_micro(0, 0, 0, &p) == 0);
  CHECK(sl_policy_cost_micro(1, 1, 0, &p) == 13);              /* 2.5 + 10 = 12.5 -> 13 */
  /* the config's per-token form, as LiteLLM writes it */
  struct sl_price q = {0.00003, 0.00006, 0, 0, false, false};  /* gpt-4: $30 / $60 */
  CHECK(sl_policy_cost_micro(100, 10, 0, &q) == 3600);
  /* free */
  struct sl_price z = {0};
  CHECK(sl_policy_cost_micro(123456, 654321, 0, &z) == 0);
  CHECK(sl_policy_price_is_free(&z) && !sl_policy_price_is_free(&p) && sl_policy_price_is_free(NULL));
  CHECK(sl_policy_cost_micro(100, 100, 0, NULL) == 0);
}

/* Half up, computed exactly: 0.15 USD/M is 0.15 micro-USD per token; in doubles
 * 50 x 0.15e-6 x 1e6 is 7.499999999999999, which a float implementation rounds to 7. */
static void rounding_half_up(void) {
  struct sl_price p = per_m(0.15, 0.60);
  CHECK(sl_policy_cost_micro(3, 0, 0, &p) == 0);    /* 0.45 */
  CHECK(sl_policy_cost_micro(9, 0, 0, &p) == 1);    /* 1.35 */
  CHECK(sl_policy_cost_micro(10, 0, 0, &p) == 2);   /* 1.5 exactly -> 2 */
  CHECK(sl_policy_cost_micro(30, 0, 0, &p) == 5);   /* 4.5 -> 5 */
  CHECK(sl_policy_cost_micro(29, 0, 0, &p) == 4);   /* 4.35 */
  CHECK(sl_policy_cost_micro(0, 5, 0, &p) == 3);    /* 3.0 */
  CHECK(sl_policy_cost_micro(10, 5, 0, &p) == 5);   /* 1.5 + 3 = 4.5 -> 5: rounded once, at the end */
  CHECK(sl_policy_cost_micro(50, 0, 0, &p) == 8);   /* 7.5 (7.4999... in doubles) */
  CHECK(sl_policy_cost_micro(110, 0, 0, &p) == 17); /* 16.5 */
  CHECK(sl_policy_cost_micro(670, 0, 0, &p) == 101); /* 100.5 */
  struct sl_price g = per_m(0.075, 0.30);
  CHECK(sl_policy_cost_micro(20, 0, 0, &g) == 2);   /* 1.5 */
  CHECK(sl_policy_cost_micro(6, 0, 0, &g) == 0);    /* 0.45 */
  CHECK(sl_policy_cost_micro(7, 0, 0, &g) == 1);    /* 0.525 */
  /* a single token of a cheap embedding: 0.02 micro-USD -> 0, 25 -> 0.5 -> 1 */
  struct sl_price e = per_m(0.02, 0);
  CHECK(sl_policy_cost_micro(1, 0, 0, &e) == 0 && sl_policy_cost_micro(24, 0, 0, &e) == 0 &&
        sl_policy_cost_micro(25, 0, 0, &e) == 1);
  /* sums of many small costs vs one big one differ only by rounding: each <= 0.5 off */
  int64_t sum = 0;
  for (int i = 0; i < 1000; i++) sum += sl_policy_cost_micro(7, 3, 0, &p); /* 1.05 + 1.8 = 2.85 -> 3 */
  CHECK(sum == 3000);
  CHECK(sl_policy_cost_micro(7000, 3000, 0, &p) == 2850);
}

static void cache_reads_and_writes(void) {
  struct sl_price p = {2.50 / 1e6, 10.00 / 1e6, 1.25 / 1e6, 0, true, false}; /* gpt-4o */
  /* prompt 2000 of which 1024 cached, completion 100: 976 x 2.5 + 1024 x 1.25 + 1000 */
  CHECK(sl_policy_cost_micro(2000, 100, 1024, &p) == 2440 + 1280 + 1000);
  /* without a cache-read price, cached tokens cost the input price */
  struct sl_price n = per_m(2.50, 10.00);
  CHECK(sl_policy_cost_micro(2000, 100, 1024, &n) == 5000 + 1000);
  /* a cache-read price of 0 that is set makes them free */
  struct sl_price f = {2.50 / 1e6, 10.00 / 1e6, 0, 0, true, false};
  CHECK(sl_policy_cost_micro(2000, 0, 1000, &f) == 2500);
  /* Anthropic: input 100 + cache read 1000 + cache write 2000, output 50 (sonnet) */
  struct sl_price a = {3.0 / 1e6, 15.0 / 1e6, 0.30 / 1e6, 3.75 / 1e6, true, true};
  struct sl_tokens t = {100 + 1000 + 2000, 50, 1000, 2000};
  CHECK(sl_policy_cost_micro_tokens(&t, &a) == 300 + 300 + 7500 + 750);
  /* the 3-count form treats writes as plain input */
  CHECK(sl_policy_cost_micro(3100, 50, 1000, &a) == 2100 * 3 + 300 + 750);
  /* write price unset: writes at the input price */
  struct sl_price a2 = a;
  a2.has_cache_write = false;
  CHECK(sl_policy_cost_micro_tokens(&t, &a2) == 300 + 300 + 6000 + 750);
  /* reads and writes capped at the prompt, reads first */
  struct sl_tokens over = {1000, 0, 800, 800};
  CHECK(sl_policy_cost_micro_tokens(&over, &a) == (int64_t)llround(800 * 0.30 + 200 * 3.75));
}

static void clamps_and_limits(void) {
  struct sl_price p = per_m(1.0, 2.0);
  CHECK(sl_policy_cost_micro(-5, -7, -1, &p) == 0);
  CHECK(sl_policy_cost_micro(100, -7, 0, &p) == 100);
  CHECK(sl_policy_cost_micro(100, 0, 500, &p) == 100); /* cached capped at prompt */
  struct sl_price c = {1.0 / 1e6, 0, 0.5 / 1e6, 0, true, false};
  CHECK(sl_policy_cost_micro(100, 0, 500, &c) == 50);
  /* negative and NaN prices are 0; absurd ones are capped at 1 USD per token */
  struct sl_price bad = {-1e-6, NAN, 0, 0, false, false};
  CHECK(sl_policy_cost_micro(1000, 1000, 0, &bad) == 0);
  CHECK(sl_policy_price_pico(2.5e-6) == 2500000 && sl_policy_price_pico(7.5e-8) == 75000 &&
        sl_policy_price_pico(1.875e-8) == 18750 && sl_policy_price_pico(0) == 0 &&
        sl_policy_price_pico(-1) == 0 && sl_policy_price_pico(NAN) == 0 &&
        sl_policy_price_pico(INFINITY) == 1000000000000LL && sl_policy_price_pico(1e-13) == 0);
  /* big counts: a trillion tokens at $600/M is 6e8 USD = 6e14 micro-USD, exact */
  struct sl_price pro = per_m(150, 600);
  CHECK(sl_policy_cost_micro(0, 1000000000000LL, 0, &pro) == 600000000000000LL);
  /* saturates instead of wrapping */
  struct sl_price dear = {1.0, 1.0, 0, 0, false, false};
  CHECK(sl_policy_cost_micro(INT64_MAX, INT64_MAX, 0, &dear) == INT64_MAX);
}

static void table_sanity(void) {
  size_t n = sl_prices_count();
  CHECK(n >= 40);
  CHECK(sl_prices_at(n) == NULL);
  /* the date: YYYY-MM-DD */
  const char *d = SL_PRICES_CHECKED;
  CHECK(strlen(d) == 10 && d[4] == '-' && d[7] == '-' && isdigit((unsigned char)d[0]));
  int openai = 0, anthropic = 0, gemini = 0, bedrock = 0, vertex = 0;
  for (size_t i = 0; i < n; i++) {
    const struct sl_price_entry *e = sl_prices_at(i);
    const struct sl_price *p = &e->price;
    for (const char *c = e->model; *c; c++) CHECK(!isupper((unsigned char)*c) && *c != '/');
    /* every name finds itself */
    CHECK(sl_prices_lookup(e->model) == e);
    for (size_t j = 0; j < i; j++) CHECK(strcmp(sl_prices_at(j)->model, e->model) != 0);
    int64_t in = sl_policy_price_pico(p->input), out = sl_policy_price_pico(p->output);
    CHECK(in > 0);
    /* per-million prices with at most 5 decimals: whole tens of pico-USD per token (a
     * conversion that lost precision would give ...9999) */
    CHECK(in % 10 == 0 && out % 10 == 0);
    if (strncmp(e->model, "text-embedding", 14) == 0 || strstr(e->model, ".titan-embed") || strstr(e->model, ".embed-"))
      CHECK(out == 0);
    else
      CHECK(out >= in); /* output never cheaper than input for these models */
    if (p->has_cache_read) {
      int64_t cr = sl_policy_price_pico(p->cache_read);
      CHECK(cr > 0 && cr < in && cr % 10 == 0);
    }
    if (!strcmp(e->provider, "anthropic") || (!strcmp(e->provider, "bedrock") && !strncmp(e->model, "anthropic.", 10))) {
      anthropic += !strcmp(e->provider, "anthropic");
      bedrock += !strcmp(e->provider, "bedrock");
      /* reads 0.1x, 5-minute writes 1.25x; Claude 3 Haiku is listed rounded (0.03, 0.30) */
      CHECK(p->has_cache_read && p->has_cache_write);
      if (strcmp(e->model, "claude-3-haiku") != 0) {
        CHECK(sl_policy_price_pico(p->cache_read) * 10 == in);
        CHECK(sl_policy_price_pico(p->cache_write) * 4 == in * 5);
      }
    } else {
      CHECK(!p->has_cache_write);
      openai += !strcmp(e->provider, "openai");
      gemini += !strcmp(e->provider, "gemini");
      bedrock += !strcmp(e->provider, "bedrock");
      vertex += !strcmp(e->provider, "vertex_ai");
    }
  }
  CHECK(openai >= 20 && anthropic >= 10 && gemini >= 8 && bedrock >= 13 && vertex >= 2 &&
        openai + anthropic + gemini + bedrock + vertex == (int)n);
}

static const char *match(const char *model) {
  const struct sl_price_entry *e = sl_prices_lookup(model);
  return e ? e->model : "(none)";
}

static void lookup_rules(void) {
  /* exact */
  CHECK_STR(match("gpt-4o"), "gpt-4o");
  CHECK_STR(match("gpt-4o-mini"), "gpt-4o-mini");
  CHECK_STR(match("o1"), "o1");
  CHECK_STR(match("text-embedding-3-small"), "text-embedding-3-small");
  /* dated snapshots */
  CHECK_STR(match("gpt-4o-2024-08-06"), "gpt-4o");
  CHECK_STR(match("gpt-4o-2024-11-20"), "gpt-4o");
  CHECK_STR(match("gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  CHECK_STR(match("gpt-4o-2024-05-13"), "gpt-4o-2024-05-13"); /* its own, dearer entry */
  CHECK_STR(match("gpt-4.1-2025-04-14"), "gpt-4.1");
  CHECK_STR(match("gpt-4.1-nano-2025-04-14"), "gpt-4.1-nano");
  CHECK_STR(match("o1-2024-12-17"), "o1");
  CHECK_STR(match("o3-mini-2025-01-31"), "o3-mini");
  CHECK_STR(match("o4-mini-2025-04-16"), "o4-mini");
  CHECK_STR(match("gpt-3.5-turbo-0125"), "gpt-3.5-turbo");
  CHECK_STR(match("gpt-4-0613"), "gpt-4");
  CHECK_STR(match("gpt-4-1106-preview"), "gpt-4-1106-preview");
  CHECK_STR(match("gpt-4-turbo-2024-04-09"), "gpt-4-turbo");
  CHECK_STR(match("claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
  CHECK_STR(match("claude-3-5-haiku-latest"), "claude-3-5-haiku");
  CHECK_STR(match("claude-3-7-sonnet-20250219"), "claude-3-7-sonnet");
  CHECK_STR(match("claude-3-haiku-20240307"), "claude-3-haiku");
  CHECK_STR(match("claude-3-opus-20240229"), "claude-3-opus");
  CHECK_STR(match("claude-sonnet-4-20250514"), "claude-sonnet-4");
  CHECK_STR(match("claude-sonnet-4-0"), "claude-sonnet-4");
  CHECK_STR(match("claude-opus-4-0"), "claude-opus-4");
  CHECK_STR(match("claude-opus-4-1-20250805"), "claude-opus-4-1");
  CHECK_STR(match("claude-opus-4-5-20251101"), "claude-opus-4-5");
  CHECK_STR(match("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  CHECK_STR(match("claude-haiku-4-5-20251001"), "claude-haiku-4-5");
  CHECK_STR(match("gemini-1.5-pro-002"), "gemini-1.5-pro");
  CHECK_STR(match("gemini-1.5-flash-latest"), "gemini-1.5-flash");
  CHECK_STR(match("gemini-1.5-flash-8b-001"), "gemini-1.5-flash-8b");
  CHECK_STR(match("gemini-2.0-flash-001"), "gemini-2.0-flash");
  CHECK_STR(match("gemini-2.0-flash-lite-001"), "gemini-2.0-flash-lite");
  CHECK_STR(match("gemini-2.5-pro-preview-06-05"), "gemini-2.5-pro-preview");
  CHECK_STR(match("gemini-2.5-flash-lite"), "gemini-2.5-flash-lite");
  /* provider prefixes, Vertex '@' versions, case */
  CHECK_STR(match("openai/gpt-4o"), "gpt-4o");
  CHECK_STR(match("anthropic/claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
  CHECK_STR(match("gemini/gemini-2.5-flash"), "gemini-2.5-flash");
  CHECK_STR(match("vertex_ai/claude-3-5-sonnet-v2@20241022"), "claude-3-5-sonnet");
  CHECK_STR(match("vertex_ai/claude-3-7-sonnet@20250219"), "claude-3-7-sonnet");
  CHECK_STR(match("azure/gpt-4o-mini"), "gpt-4o-mini");
  CHECK_STR(match("GPT-4o-Mini"), "gpt-4o-mini");
  /* different models that share a prefix are not priced as the family */
  CHECK_STR(match("gpt-4o-realtime-preview"), "(none)");
  CHECK_STR(match("gpt-4o-audio-preview-2024-12-17"), "(none)");
  CHECK_STR(match("claude-opus-4-6"), "(none)");
  CHECK_STR(match("claude-sonnet-4-7-20270101"), "(none)");
  CHECK_STR(match("gemini-2.5-flash-preview-05-20"), "(none)");
  CHECK_STR(match("gemini-2.0-flash-exp"), "(none)");
  CHECK_STR(match("o3-deep-research"), "(none)");
  CHECK_STR(match("gpt-4-32k"), "(none)");
  CHECK_STR(match("gpt-4ox"), "(none)");
  CHECK_STR(match("gpt-4o-"), "(none)");
  CHECK_STR(match("gpt-5.1"), "(none)");
  CHECK_STR(match("gpt"), "(none)");
  CHECK_STR(match(""), "(none)");
  CHECK_STR(match("azure/my-deployment"), "(none)");
  CHECK_STR(match("openai/"), "(none)");
  CHECK(sl_prices_lookup(NULL) == NULL);
  /* Bedrock model ids (as sluice sends them: "bedrock/", "bedrock/converse/", "bedrock/invoke/"
   * dropped) and cross-region inference profiles; Vertex names */
  CHECK_STR(match("anthropic.claude-3-5-sonnet-20240620-v1:0"), "anthropic.claude-3-5-sonnet");
  CHECK_STR(match("anthropic.claude-3-5-sonnet-20241022-v2:0"), "anthropic.claude-3-5-sonnet");
  CHECK_STR(match("bedrock/anthropic.claude-3-5-haiku-20241022-v1:0"), "anthropic.claude-3-5-haiku");
  CHECK_STR(match("bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0"), "anthropic.claude-3-haiku");
  CHECK_STR(match("bedrock/invoke/anthropic.claude-sonnet-4-20250514-v1:0"), "anthropic.claude-sonnet-4");
  CHECK_STR(match("us.anthropic.claude-sonnet-4-20250514-v1:0"), "anthropic.claude-sonnet-4");
  CHECK_STR(match("bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"), "anthropic.claude-3-5-sonnet");
  CHECK_STR(match("apac.anthropic.claude-3-haiku-20240307-v1:0"), "anthropic.claude-3-haiku");
  CHECK_STR(match("amazon.nova-micro-v1:0"), "amazon.nova-micro");
  CHECK_STR(match("us.amazon.nova-lite-v1:0"), "amazon.nova-lite");
  CHECK_STR(match("bedrock/converse/amazon.nova-pro-v1:0"), "amazon.nova-pro");
  CHECK_STR(match("meta.llama3-1-8b-instruct-v1:0"), "meta.llama3-1-8b-instruct");
  CHECK_STR(match("us.meta.llama3-1-70b-instruct-v1:0"), "meta.llama3-1-70b-instruct");
  CHECK_STR(match("mistral.mistral-large-2407-v1:0"), "mistral.mistral-large-2407");
  CHECK_STR(match("amazon.titan-embed-text-v2:0"), "amazon.titan-embed-text-v2");
  CHECK_STR(match("cohere.embed-english-v3"), "cohere.embed-english-v3");
  CHECK_STR(match("cohere.embed-multilingual-v3"), "cohere.embed-multilingual-v3");
  CHECK_STR(match("anthropic.claude-sonnet-4-5-20250929-v1:0"), "(none)"); /* not sonnet-4 */
  CHECK_STR(match("amazon.titan-embed-text-v1"), "(none)");
  CHECK_STR(match("mistral.mistral-large-2402-v1:0"), "(none)");
  CHECK_STR(match("us.gpt-4o"), "(none)"); /* a profile prefix only before a dotted Bedrock id */
  CHECK_STR(match("vertex_ai/claude-sonnet-4@20250514"), "claude-sonnet-4");
  CHECK_STR(match("claude-3-5-haiku@20241022"), "claude-3-5-haiku@20241022"); /* Vertex's own */
  CHECK_STR(match("vertex_ai/text-embedding-005"), "text-embedding-005");
  CHECK_STR(match("vertex_ai/gemini-2.0-flash-lite"), "gemini-2.0-flash-lite");
  CHECK_STR(match("google/gemini-2.5-flash"), "gemini-2.5-flash");
  const struct sl_price_entry *b = sl_prices_lookup("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0");
  CHECK(b && sl_policy_cost_micro(1000000, 1000000, 0, &b->price) == 800000 + 4000000);
  b = sl_prices_lookup("amazon.nova-micro-v1:0");
  CHECK(b && sl_policy_cost_micro(1000000, 1000000, 0, &b->price) == 35000 + 140000);
  /* the looked-up prices are the right ones */
  const struct sl_price_entry *e = sl_prices_lookup("gpt-4o-mini-2024-07-18");
  CHECK(e && sl_policy_cost_micro(1000000, 1000000, 0, &e->price) == 150000 + 600000);
  e = sl_prices_lookup("claude-opus-4-5-20251101");
  CHECK(e && sl_policy_cost_micro(1000000, 1000000, 0, &e->price) == 5000000 + 25000000);
  e = sl_prices_lookup("claude-opus-4-20250514");
  CHECK(e && sl_policy_cost_micro(1000000, 1000000, 0, &e->price) == 15000000 + 75000000);
  e = sl_prices_lookup("gemini-2.5-pro");
  CHECK(e && sl_policy_cost_micro(1000, 1000, 0, &e->price) == 1250 + 10000);
  e = sl_prices_lookup("text-embedding-3-large");
  CHECK(e && sl_policy_cost_micro(1000000, 0, 0, &e->price) == 130000);
}

/* Issue 11.3: absurd usage is recognised, sums saturate, pico costs are exact. */
static void plausibility_and_saturation(void) {
  struct sl_tokens ok = {SL_USAGE_MAX_TOKENS, 5, 0, 0}, big = {9000000000000000LL, 5, 0, 0};
  struct sl_tokens neg = {10, -1, 0, 0}, bigc = {10, 10, 0, SL_USAGE_MAX_TOKENS + 1};
  CHECK(sl_policy_tokens_plausible(&ok));
  CHECK(!sl_policy_tokens_plausible(&big) && !sl_policy_tokens_plausible(&neg) && !sl_policy_tokens_plausible(&bigc));
  CHECK(sl_policy_add_sat(INT64_MAX - 1, 5) == INT64_MAX && sl_policy_add_sat(INT64_MIN + 1, -5) == INT64_MIN);
  CHECK(sl_policy_add_sat(40, 2) == 42);
  /* 9e15 tokens at $3/M: 2.7e10 USD = 2.7e16 micro; a few hundred of them wrap int64 unless
   * the running sum saturates */
  struct sl_price p = per_m(3, 15);
  struct sl_tokens t = {9000000000000000LL, 0, 0, 0};
  int64_t one = sl_policy_cost_micro_tokens(&t, &p), sum = 0;
  CHECK(one == 27000000000000000LL);
  for (int i = 0; i < 1000; i++) sum = sl_policy_add_sat(sum, one);
  CHECK(sum == INT64_MAX);
  /* pico: exact below a micro-USD, saturating far above */
  struct sl_price tiny = {1e-8, 0, 0, 0, false, false};
  struct sl_tokens three = {3, 0, 0, 0};
  CHECK(sl_policy_cost_pico_tokens(&three, &tiny) == 30000 && sl_policy_cost_micro_tokens(&three, &tiny) == 0);
  CHECK(sl_policy_cost_pico_tokens(&t, &p) == INT64_MAX);
  CHECK(sl_policy_budget_pico(0.0000001) == 100000 && sl_policy_budget_pico(0) == 0 &&
        sl_policy_budget_pico(-1) == 0 && sl_policy_budget_pico(NAN) == 0 && sl_policy_budget_pico(1e30) == INT64_MAX);
  CHECK(sl_policy_budget_pico(12.5) == 12500000000000LL);
}

CHECK_MAIN(T(basic_costs), T(rounding_half_up), T(cache_reads_and_writes), T(clamps_and_limits),
           T(table_sanity), T(lookup_rules), T(plausibility_and_saturation))
