/* Learning from outcomes, the pure part: a learned router's online correction and its
 * exploration. The one idea: the offline model's score stays the base; what outcomes
 * teach is a per-feature bias on top of it, and every move of that bias is bounded.
 *
 * State (struct sl_learn_state, a flat POD: stored as bytes in LMDB, shared by every
 * worker through it): SL_LEARN_SLOTS slots, a prompt's hashed n-gram buckets folded
 * (bucket & (SL_LEARN_SLOTS - 1)). Each slot keeps decayed evidence, `ok` (the weak
 * model was fine) and `need` (the strong model was needed), and a `bias`. The bias
 * follows its target K * (need - ok) / (need + ok + 2) but moves at most
 * max_shift_per_hour per slot per (UTC) hour. A request's adjustment is the mean bias of
 * its slots (clamped to [-1, 1]); the router sends it to strong when
 * score + adjustment >= threshold.
 *
 * Evidence also fades with time (half_life_s): a slot nobody reports on (a prompt kind the
 * policy sends to strong, whose good answers teach nothing) grows uncertain again, so
 * exploration comes back to it and a shift in the models' quality can be seen.
 * Exploration is Thompson sampling: the request's mean evidence is a Beta posterior on
 * P(strong needed); a draw from it in place of its mean gives a sampled adjustment. When
 * the sampled decision differs from the policy's (an exploration), it is taken only if
 * the day's exploration budget (USD, struct sl_bandit_budget) still covers the call.
 * Randomness (struct sl_rng) and time (unix seconds) are passed in.
 * To change the state's layout: bump SL_LEARN_VERSION (old records are then ignored). */
#ifndef SL_POLICY_BANDIT_H
#define SL_POLICY_BANDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_LEARN_SLOTS   1024u
#define SL_LEARN_MAGIC   0x4e524c53u /* "SLRN" */
#define SL_LEARN_VERSION 1u
#define SL_LEARN_DECAY   0.97f /* evidence kept per new outcome on a slot */
#define SL_LEARN_GAIN    1.0   /* K: the bias a slot reaches with certain evidence */

struct sl_learn_state {
  uint32_t magic, version;
  uint64_t updated_s; /* unix seconds of the last applied outcome */
  uint64_t hour;      /* the hour (unix s / 3600) that `moved` counts */
  uint64_t outcomes;  /* outcomes applied */
  float bias[SL_LEARN_SLOTS];
  float ok[SL_LEARN_SLOTS], need[SL_LEARN_SLOTS];
  float moved[SL_LEARN_SLOTS];     /* |bias change| spent this hour */
  uint32_t seen_s[SL_LEARN_SLOTS]; /* unix seconds of each slot's last outcome (0: none) */
};

void sl_learn_init(struct sl_learn_state *st);
/* True when bytes hold a state of this version (size, magic, version, finite numbers). */
bool sl_learn_valid(const void *bytes, size_t n);

/* Folds route buckets into distinct slots (out: at most max, order of first use);
 * returns how many. */
size_t sl_learn_slots(const uint32_t *buckets, size_t n, uint16_t *out, size_t max);

/* The mean bias of slots, clamped to [-1, 1]; 0 for none. */
double sl_learn_adjust(const struct sl_learn_state *st, const uint16_t *slots, size_t n);

/* Applies one outcome: need in [0, 1] (1: the strong model was needed, 0: the weak one
 * was fine) on the request's slots, at now_s. Each slot's bias moves toward its target
 * by at most what is left of max_shift_per_hour this hour. */
void sl_learn_observe(struct sl_learn_state *st, const uint16_t *slots, size_t n, double need, uint64_t now_s,
                      double max_shift_per_hour, double half_life_s);

/* ---- randomness and Thompson sampling ---- */

struct sl_rng {
  uint64_t s;
};
uint64_t sl_rng_next(struct sl_rng *r); /* splitmix64 */
double sl_rng_unit(struct sl_rng *r);   /* uniform in (0, 1) */
double sl_rng_normal(struct sl_rng *r);
/* A draw from Beta(a, b), a, b > 0 (two Gamma draws, Marsaglia-Tsang). */
double sl_bandit_beta(struct sl_rng *r, double a, double b);

/* The request's adjustment with its evidence sampled: the mean adjustment moved by
 * SL_LEARN_GAIN * (p - mean p) * 2, p ~ Beta(1 + need, 1 + ok) of the slots' mean
 * evidence; clamped to [-1, 1]. */
double sl_bandit_sample_adjust(const struct sl_learn_state *st, const uint16_t *slots, size_t n, struct sl_rng *r,
                               uint64_t now_s, double half_life_s);

/* The weight evidence last updated at seen_s keeps at now_s: 2^(-age / half_life); 1
 * with no half-life. */
double sl_learn_keep(uint64_t seen_s, uint64_t now_s, double half_life_s);

/* ---- the exploration budget (per day, USD) ---- */

struct sl_bandit_budget {
  uint64_t day; /* unix s / 86400 that spent_usd counts */
  double spent_usd;
  uint64_t explorations;
};
/* Takes cost_usd from the day's budget (limit_usd) when it fits: true, and counts it;
 * false when it would go over (nothing taken). A new day starts from zero. */
bool sl_bandit_budget_take(struct sl_bandit_budget *b, uint64_t now_s, double cost_usd, double limit_usd);

#endif
