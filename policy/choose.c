/* Choosing a deployment within a group (see choose.h). The one idea: every candidate
 * first gets a single verdict at `now` (usable, half-open probe, or the one reason it is
 * not usable); everything else follows from those verdicts. The lowest order level with
 * a usable or probe candidate is the field; a half-open deployment there takes one
 * uniform share of the pick (so it is probed within a few requests even beside healthy
 * twins); otherwise the strategy picks among the usable ones. When no candidate is left,
 * the verdicts also say why and how long until one recovers. No allocation: a few passes
 * over the snapshot. */
#include "policy/choose.h"

#include <math.h>

enum verdict {
  V_USABLE = 0,
  V_PROBE,        /* cooldown over, no probe in flight: may be called as the probe */
  V_TOO_LONG,     /* est_prompt_tokens > max_input_tokens */
  V_EXCLUDED,     /* already tried by this request */
  V_COOLING,      /* open, or half-open with its probe in flight */
  V_RATE_LIMITED, /* at its rpm or tpm for this minute */
};

uint64_t sl_policy_rand(uint64_t *state) {
  uint64_t x = *state;
  if (x == 0) x = 0x9E3779B97F4A7C15ULL; /* the one state xorshift cannot leave */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

double sl_policy_rand01(uint64_t *state) { return (double)(sl_policy_rand(state) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, k), k > 0. */
static size_t rand_below(uint64_t *rng, size_t k) {
  size_t r = (size_t)(sl_policy_rand01(rng) * (double)k);
  return r < k ? r : k - 1;
}

static int level_of(const struct sl_candidate *c) { return c->order <= 0 ? 1 : c->order; }

static bool rate_limited(const struct sl_candidate *c, int64_t est) {
  if (c->rpm > 0 && c->requests_this_minute >= c->rpm) return true;
  if (c->tpm > 0 && c->tokens_this_minute + (est > 0 ? est : 0) > c->tpm) return true;
  return false;
}

/* The one verdict of a candidate. Checks run from the most permanent reason to the most
 * transient, so the reported cause of "none available" is the one waiting cannot fix. */
static enum verdict judge(const struct sl_candidate *c, uint64_t now, int64_t est) {
  if (c->max_input_tokens > 0 && est > 0 && est > c->max_input_tokens) return V_TOO_LONG;
  if (c->excluded) return V_EXCLUDED;
  if (c->cooldown_until_ms > now) return V_COOLING;
  bool half_open = c->cooldown_until_ms != 0; /* and <= now */
  if (half_open && c->probe_busy) return V_COOLING;
  if (rate_limited(c, est)) return V_RATE_LIMITED;
  return half_open ? V_PROBE : V_USABLE;
}

/* The milliseconds until an unusable candidate might become usable (cooling or rate
 * limited ones only; at least 1). */
static uint64_t wait_of(const struct sl_candidate *c, uint64_t now, uint64_t minute_left, int64_t est) {
  uint64_t w = c->cooldown_until_ms > now ? c->cooldown_until_ms - now : 0;
  if (rate_limited(c, est) && minute_left > w) w = minute_left;
  return w ? w : 1;
}

/* --- strategies: each picks among the V_USABLE candidates of one order level --- */

struct field {
  const struct sl_candidate *c;
  size_t n;
  int level;
  uint64_t now;
  int64_t est;
  size_t count; /* usable candidates in the level, > 0 */
};

static bool in_field(const struct field *f, size_t i) {
  return level_of(&f->c[i]) == f->level && judge(&f->c[i], f->now, f->est) == V_USABLE;
}

#define FOR_FIELD(f, i) \
  for (size_t i = 0; i < (f)->n; i++) \
    if (in_field((f), i))

/* The k-th usable candidate of the field (0-based). */
static size_t field_nth(const struct field *f, size_t k) {
  FOR_FIELD(f, i) {
    if (k == 0) return i;
    k--;
  }
  return 0; /* unreachable while k < count */
}

/* Weighted random: LiteLLM's simple-shuffle. The weight key is `weight` when any usable
 * candidate sets one, else rpm, else tpm; a candidate without the key weighs 0. */
static size_t pick_shuffle(const struct field *f, uint64_t *rng) {
  const struct sl_candidate *c = f->c;
  bool has_weight = false, has_rpm = false, has_tpm = false;
  FOR_FIELD(f, i) {
    has_weight |= c[i].weight > 0;
    has_rpm |= c[i].rpm > 0;
    has_tpm |= c[i].tpm > 0;
  }
  int key = has_weight ? 0 : has_rpm ? 1 : has_tpm ? 2 : 3; /* 3: uniform */
  if (key == 3) return field_nth(f, rand_below(rng, f->count));
  double total = 0;
  FOR_FIELD(f, i) {
    double w = key == 0 ? c[i].weight : key == 1 ? (double)c[i].rpm : (double)c[i].tpm;
    if (w > 0 && isfinite(w)) total += w;
  }
  if (!(total > 0)) return field_nth(f, rand_below(rng, f->count)); /* only unusable weights */
  double r = sl_policy_rand01(rng) * total;
  size_t last = 0;
  FOR_FIELD(f, i) {
    double w = key == 0 ? c[i].weight : key == 1 ? (double)c[i].rpm : (double)c[i].tpm;
    if (!(w > 0 && isfinite(w))) continue;
    if (r < w) return i;
    r -= w;
    last = i;
  }
  return last; /* rounding left r just above the sum */
}

/* The least candidate by `cmp` (<0: a before b), ties broken uniformly at random
 * (reservoir sampling over the tied ones). */
static size_t pick_min(const struct field *f, uint64_t *rng,
                       int (*cmp)(const struct sl_candidate *, const struct sl_candidate *)) {
  const struct sl_candidate *c = f->c;
  size_t best = 0, ties = 0;
  FOR_FIELD(f, i) {
    int d = ties ? cmp(&c[i], &c[best]) : -1;
    if (d < 0) {
      best = i, ties = 1;
    } else if (d == 0) {
      ties++;
      if (rand_below(rng, ties) == 0) best = i;
    }
  }
  return best;
}

static int cmp_d(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }
static int cmp_inflight(const struct sl_candidate *a, const struct sl_candidate *b) {
  return a->inflight < b->inflight ? -1 : a->inflight > b->inflight ? 1 : 0;
}
static int cmp_cost(const struct sl_candidate *a, const struct sl_candidate *b) {
  return cmp_d(a->input_cost + a->output_cost, b->input_cost + b->output_cost);
}
/* Usage: the share of its tpm used this minute (an unlimited one, tpm 0, has share 0),
 * then absolute tokens this minute (LiteLLM's usage-based routing among unlimited ones). */
static double usage_share(const struct sl_candidate *c) {
  return c->tpm > 0 && c->tokens_this_minute > 0 ? (double)c->tokens_this_minute / (double)c->tpm : 0;
}
static int cmp_usage(const struct sl_candidate *a, const struct sl_candidate *b) {
  int d = cmp_d(usage_share(a), usage_share(b));
  if (d) return d;
  return a->tokens_this_minute < b->tokens_this_minute ? -1 : a->tokens_this_minute > b->tokens_this_minute;
}

/* Peak-EWMA cost; no sample yet costs 0 so a new deployment gets explored. */
static double latency_cost(const struct sl_candidate *c) {
  if (!(c->ewma_ms > 0)) return 0;
  return c->ewma_ms * (double)((c->inflight > 0 ? c->inflight : 0) + 1);
}

/* Power of two choices: two distinct usable candidates at random, the cheaper wins (the
 * first drawn on a tie, which is itself random). */
static size_t pick_latency(const struct field *f, uint64_t *rng) {
  if (f->count == 1) return field_nth(f, 0);
  size_t a = rand_below(rng, f->count);
  size_t b = rand_below(rng, f->count - 1);
  if (b >= a) b++;
  size_t ia = field_nth(f, a), ib = field_nth(f, b);
  return latency_cost(&f->c[ib]) < latency_cost(&f->c[ia]) ? ib : ia;
}

struct sl_choice sl_policy_choose(enum sl_strategy s, const struct sl_candidate *c, size_t n,
                                  uint64_t now_ms, uint64_t minute_left_ms,
                                  int64_t est_prompt_tokens, uint64_t *rng) {
  struct sl_choice out = {.index = -1, .why = SL_NONE_EMPTY, .probe = false, .retry_after_ms = 0};
  if (n == 0 || c == NULL) return out;
  uint64_t now = now_ms;
  int64_t est = est_prompt_tokens;

  /* Pass 1: the best level, and the tallies that explain an empty answer. */
  bool any = false;
  int level = 0;
  size_t too_long = 0, excluded = 0, cooling = 0;
  uint64_t soonest = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    enum verdict v = judge(&c[i], now, est);
    switch (v) {
    case V_USABLE:
    case V_PROBE:
      if (!any || level_of(&c[i]) < level) level = level_of(&c[i]);
      any = true;
      break;
    case V_TOO_LONG: too_long++; break;
    case V_EXCLUDED: excluded++; break;
    case V_RATE_LIMITED:
    case V_COOLING: {
      if (v == V_COOLING) cooling++;
      uint64_t w = wait_of(&c[i], now, minute_left_ms, est);
      if (w < soonest) soonest = w;
      break;
    }
    }
  }
  if (!any) {
    if (too_long == n) out.why = SL_NONE_TOO_LONG;
    else if (too_long + excluded == n) out.why = SL_NONE_EXCLUDED;
    else if (cooling == 0) {
      out.why = SL_NONE_RATE_LIMITED;
      out.retry_after_ms = minute_left_ms ? minute_left_ms : 1;
    } else {
      out.why = SL_NONE_COOLING;
      out.retry_after_ms = soonest;
    }
    return out;
  }

  /* Pass 2: usable and probe candidates of the level. */
  size_t usable = 0, probes = 0;
  for (size_t i = 0; i < n; i++) {
    if (level_of(&c[i]) != level) continue;
    enum verdict v = judge(&c[i], now, est);
    if (v == V_USABLE) usable++;
    else if (v == V_PROBE) probes++;
  }

  /* A half-open deployment takes the share of one more uniform member: with h usable
   * and p probe candidates, some probe is chosen with probability p / (h + p). */
  out.why = SL_CHOSEN;
  if (probes > 0) {
    size_t r = usable ? rand_below(rng, usable + probes) : 0;
    if (usable == 0 || r < probes) {
      size_t k = usable ? r : rand_below(rng, probes);
      for (size_t i = 0; i < n; i++) {
        if (level_of(&c[i]) != level || judge(&c[i], now, est) != V_PROBE) continue;
        if (k-- == 0) {
          out.index = (int)i;
          out.probe = true;
          return out;
        }
      }
    }
  }

  struct field f = {c, n, level, now, est, usable};
  size_t pick;
  switch (s) {
  case SL_STRAT_LEAST_BUSY: pick = pick_min(&f, rng, cmp_inflight); break;
  case SL_STRAT_LATENCY: pick = pick_latency(&f, rng); break;
  case SL_STRAT_COST: pick = pick_min(&f, rng, cmp_cost); break;
  case SL_STRAT_USAGE: pick = pick_min(&f, rng, cmp_usage); break;
  case SL_STRAT_SHUFFLE:
  default: pick = pick_shuffle(&f, rng); break;
  }
  out.index = (int)pick;
  return out;
}
