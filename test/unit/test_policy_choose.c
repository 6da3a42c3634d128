/* policy/choose: availability, order levels, the reasons for "none", the half-open
 * probe share and each strategy's distribution, with a fake clock and fixed seeds. */
#include <math.h>

#include "check.h"
#include "policy/choose.h"
#include "policy/health.h"

#define NOW 1000000ULL
#define MINUTE_LEFT 12345ULL
#define PICKS 10000

static struct sl_choice pick(enum sl_strategy s, const struct sl_candidate *c, size_t n, int64_t est,
                             uint64_t *rng) {
  return sl_policy_choose(s, c, n, NOW, MINUTE_LEFT, est, rng);
}

/* Tally of PICKS choices into hits[]; returns how many were probes. */
static int tally(enum sl_strategy s, const struct sl_candidate *c, size_t n, uint64_t seed, int *hits) {
  uint64_t rng = seed;
  int probes = 0;
  for (size_t i = 0; i < n; i++) hits[i] = 0;
  for (int k = 0; k < PICKS; k++) {
    struct sl_choice ch = pick(s, c, n, 0, &rng);
    if (ch.index < 0) return -1;
    hits[ch.index]++;
    probes += ch.probe;
  }
  return probes;
}

static bool near(int hits, double share, double tol) { return fabs((double)hits / PICKS - share) <= tol; }

static void rand_is_deterministic_and_uniform(void) {
  uint64_t a = 42, b = 42, z = 0;
  for (int i = 0; i < 100; i++) CHECK(sl_policy_rand(&a) == sl_policy_rand(&b));
  CHECK(sl_policy_rand(&z) != 0 && z != 0); /* a zero state does not stay stuck */
  uint64_t r = 7;
  double sum = 0, lo = 1, hi = 0;
  int buckets[10] = {0};
  for (int i = 0; i < 100000; i++) {
    double x = sl_policy_rand01(&r);
    CHECK(x >= 0 && x < 1);
    sum += x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    buckets[(int)(x * 10)]++;
  }
  CHECK(fabs(sum / 100000 - 0.5) < 0.01);
  CHECK(lo < 0.001 && hi > 0.999);
  for (int i = 0; i < 10; i++) CHECK(buckets[i] > 9500 && buckets[i] < 10500);
}

static void empty_group(void) {
  uint64_t rng = 1;
  struct sl_choice ch = pick(SL_STRAT_SHUFFLE, NULL, 0, 0, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_EMPTY && !ch.probe && ch.retry_after_ms == 0);
}

static void single_healthy_is_chosen(void) {
  struct sl_candidate c[1] = {{0}};
  for (int s = SL_STRAT_SHUFFLE; s <= SL_STRAT_USAGE; s++) {
    uint64_t rng = 3;
    struct sl_choice ch = pick((enum sl_strategy)s, c, 1, 0, &rng);
    CHECK(ch.index == 0 && ch.why == SL_CHOSEN && !ch.probe);
  }
}

static void lower_order_wins(void) {
  struct sl_candidate c[3] = {{.order = 2}, {.order = 0}, {.order = 1}}; /* order 0 == 1 */
  int hits[3];
  CHECK(tally(SL_STRAT_SHUFFLE, c, 3, 5, hits) == 0);
  CHECK(hits[0] == 0 && near(hits[1], 0.5, 0.02) && near(hits[2], 0.5, 0.02));
  /* level 1 gone (excluded, cooling): level 2 takes over */
  c[1].excluded = true;
  c[2].cooldown_until_ms = NOW + 1;
  CHECK(tally(SL_STRAT_LATENCY, c, 3, 5, hits) == 0);
  CHECK(hits[0] == PICKS);
  /* a rate-limited lower level also yields */
  c[1].excluded = false, c[1].rpm = 10, c[1].requests_this_minute = 10;
  uint64_t rng = 9;
  CHECK(pick(SL_STRAT_COST, c, 3, 0, &rng).index == 0);
  /* weights do not cross levels: a heavy higher-order one gets nothing */
  struct sl_candidate w[2] = {{.order = 1, .weight = 1}, {.order = 2, .weight = 1000}};
  CHECK(tally(SL_STRAT_SHUFFLE, w, 2, 5, hits) == 0 && hits[0] == PICKS);
}

static void rpm_and_tpm_boundaries(void) {
  struct sl_candidate c[1] = {{.rpm = 10, .requests_this_minute = 9}};
  uint64_t rng = 1;
  CHECK(pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng).index == 0);
  c[0].requests_this_minute = 10; /* exactly at rpm: blocked */
  struct sl_choice ch = pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_RATE_LIMITED && ch.retry_after_ms == MINUTE_LEFT);
  /* tpm counts the prompt about to be sent */
  struct sl_candidate t[1] = {{.tpm = 1000, .tokens_this_minute = 900}};
  CHECK(pick(SL_STRAT_SHUFFLE, t, 1, 100, &rng).index == 0); /* 900 + 100 == tpm: fits */
  ch = pick(SL_STRAT_SHUFFLE, t, 1, 101, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_RATE_LIMITED);
  t[0].tokens_this_minute = 1000;
  CHECK(pick(SL_STRAT_SHUFFLE, t, 1, 0, &rng).index == 0); /* no prompt estimate: at tpm still fits */
  t[0].tokens_this_minute = 1001;
  CHECK(pick(SL_STRAT_SHUFFLE, t, 1, 0, &rng).why == SL_NONE_RATE_LIMITED);
  /* rpm/tpm 0 = unlimited */
  struct sl_candidate u[1] = {{.requests_this_minute = 1 << 30, .tokens_this_minute = 1LL << 40}};
  CHECK(pick(SL_STRAT_SHUFFLE, u, 1, 1000, &rng).index == 0);
  /* minute_left 0 still tells the client to wait a little */
  ch = sl_policy_choose(SL_STRAT_SHUFFLE, c, 1, NOW, 0, 0, &rng);
  CHECK(ch.why == SL_NONE_RATE_LIMITED && ch.retry_after_ms == 1);
}

static void max_input_tokens_boundary(void) {
  struct sl_candidate c[2] = {{.max_input_tokens = 4096}, {.max_input_tokens = 128000}};
  uint64_t rng = 11;
  for (int k = 0; k < 1000; k++) CHECK(pick(SL_STRAT_SHUFFLE, c, 2, 4097, &rng).index == 1);
  int small = 0;
  for (int k = 0; k < 1000; k++) small += pick(SL_STRAT_SHUFFLE, c, 2, 4096, &rng).index == 0; /* == max fits */
  CHECK(small > 400 && small < 600);
  struct sl_choice ch = pick(SL_STRAT_SHUFFLE, c, 2, 200000, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_TOO_LONG && ch.retry_after_ms == 0);
  /* unknown limit or unknown prompt size never skips */
  struct sl_candidate u[1] = {{.max_input_tokens = 0}};
  CHECK(pick(SL_STRAT_SHUFFLE, u, 1, 1 << 30, &rng).index == 0);
  CHECK(pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng).index == 0);
}

static void why_priority(void) {
  uint64_t rng = 1;
  struct sl_choice ch;
  /* too long beats everything only when it covers all */
  struct sl_candidate a[2] = {{.max_input_tokens = 10, .excluded = true}, {.max_input_tokens = 10}};
  ch = pick(SL_STRAT_SHUFFLE, a, 2, 11, &rng);
  CHECK(ch.why == SL_NONE_TOO_LONG);
  /* too long + tried: excluded */
  struct sl_candidate b[2] = {{.max_input_tokens = 10}, {.excluded = true}};
  ch = pick(SL_STRAT_SHUFFLE, b, 2, 11, &rng);
  CHECK(ch.why == SL_NONE_EXCLUDED && ch.retry_after_ms == 0 && ch.index == -1);
  /* excluded + rate limited: rate limited (the remaining one would recover) */
  struct sl_candidate c[2] = {{.excluded = true, .cooldown_until_ms = NOW + 99999}, {.rpm = 1, .requests_this_minute = 5}};
  ch = pick(SL_STRAT_SHUFFLE, c, 2, 0, &rng);
  CHECK(ch.why == SL_NONE_RATE_LIMITED && ch.retry_after_ms == MINUTE_LEFT);
  /* rate limited + cooling: cooling, with the soonest recovery of either */
  struct sl_candidate d[3] = {{.rpm = 1, .requests_this_minute = 1},
                              {.cooldown_until_ms = NOW + 30000},
                              {.cooldown_until_ms = NOW + 20000}};
  ch = pick(SL_STRAT_SHUFFLE, d, 3, 0, &rng);
  CHECK(ch.why == SL_NONE_COOLING && ch.retry_after_ms == MINUTE_LEFT); /* 12345 < 20000 */
  d[0].excluded = true;
  ch = pick(SL_STRAT_SHUFFLE, d, 3, 0, &rng);
  CHECK(ch.why == SL_NONE_COOLING && ch.retry_after_ms == 20000);
  /* cooling and over its rpm at once: usable only when both have passed */
  struct sl_candidate e[1] = {{.rpm = 1, .requests_this_minute = 1, .cooldown_until_ms = NOW + 5000}};
  ch = pick(SL_STRAT_SHUFFLE, e, 1, 0, &rng);
  CHECK(ch.why == SL_NONE_COOLING && ch.retry_after_ms == MINUTE_LEFT);
  e[0].cooldown_until_ms = NOW + 50000;
  CHECK(pick(SL_STRAT_SHUFFLE, e, 1, 0, &rng).retry_after_ms == 50000);
}

static void cooldown_boundary_and_probe(void) {
  uint64_t rng = 1;
  struct sl_candidate c[1] = {{.cooldown_until_ms = NOW + 1}};
  struct sl_choice ch = pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_COOLING && ch.retry_after_ms == 1);
  c[0].cooldown_until_ms = NOW; /* exactly at its end: half-open, the probe may go */
  ch = pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng);
  CHECK(ch.index == 0 && ch.why == SL_CHOSEN && ch.probe);
  c[0].probe_busy = true; /* a probe in flight: everyone else waits */
  ch = pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_COOLING && ch.retry_after_ms == 1);
  c[0].cooldown_until_ms = 0; /* closed: a stale probe_busy means nothing */
  ch = pick(SL_STRAT_SHUFFLE, c, 1, 0, &rng);
  CHECK(ch.index == 0 && !ch.probe);
  /* a half-open one over its rpm is rate limited, not probed */
  struct sl_candidate r[1] = {{.cooldown_until_ms = NOW - 5, .rpm = 2, .requests_this_minute = 2}};
  ch = pick(SL_STRAT_SHUFFLE, r, 1, 0, &rng);
  CHECK(ch.index == -1 && ch.why == SL_NONE_RATE_LIMITED);
}

static void probe_takes_one_uniform_share(void) {
  int hits[4];
  /* one healthy twin: the probe is chosen half the time */
  struct sl_candidate two[2] = {{.weight = 1000}, {.cooldown_until_ms = NOW - 1, .weight = 1}};
  int probes = tally(SL_STRAT_SHUFFLE, two, 2, 17, hits);
  CHECK(probes == hits[1] && near(hits[1], 0.5, 0.02));
  /* three healthy: a quarter, whatever the strategy thinks of it */
  struct sl_candidate four[4] = {{.ewma_ms = 10}, {.ewma_ms = 10}, {.ewma_ms = 10}, {.cooldown_until_ms = NOW, .ewma_ms = 5000}};
  probes = tally(SL_STRAT_LATENCY, four, 4, 19, hits);
  CHECK(probes == hits[3] && near(hits[3], 0.25, 0.02));
  /* two half-open among two healthy: half are probes, split evenly */
  four[2].cooldown_until_ms = NOW - 100;
  probes = tally(SL_STRAT_COST, four, 4, 23, hits);
  CHECK(probes == hits[2] + hits[3] && near(probes, 0.5, 0.02) && near(hits[2], 0.25, 0.02));
  /* the probe lives in a higher order: the healthy lower level keeps all traffic */
  struct sl_candidate lv[2] = {{.order = 1}, {.order = 2, .cooldown_until_ms = NOW - 1}};
  CHECK(tally(SL_STRAT_SHUFFLE, lv, 2, 29, hits) == 0 && hits[0] == PICKS);
  /* ...and a probe in the lower level is always preferred to a healthy higher one */
  lv[0].cooldown_until_ms = NOW - 1, lv[1].cooldown_until_ms = 0;
  CHECK(tally(SL_STRAT_SHUFFLE, lv, 2, 29, hits) == PICKS && hits[0] == PICKS);
  /* a recovered deployment beside three healthy twins is probed within a few requests,
   * for every seed tried (P(miss 40 in a row) = 0.75^40 ~ 1e-5) */
  struct sl_candidate g[4] = {{.weight = 0}, {.weight = 0}, {.weight = 0}, {.cooldown_until_ms = NOW}};
  for (uint64_t seed = 1; seed <= 200; seed++) {
    uint64_t rng = seed;
    int k = 0;
    while (k < 40 && !pick(SL_STRAT_SHUFFLE, g, 4, 0, &rng).probe) k++;
    CHECK(k < 40);
  }
}

static void shuffle_by_weight(void) {
  int hits[3];
  struct sl_candidate c[3] = {{.weight = 1}, {.weight = 3}, {.weight = 0, .rpm = 1000000}};
  CHECK(tally(SL_STRAT_SHUFFLE, c, 3, 31, hits) == 0);
  CHECK(near(hits[0], 0.25, 0.02) && near(hits[1], 0.75, 0.02) && hits[2] == 0); /* weight 0 gets nothing */
  /* the heavy one tried: the rest share by their weights */
  c[1].excluded = true;
  tally(SL_STRAT_SHUFFLE, c, 3, 31, hits);
  CHECK(hits[0] == PICKS);
}

static void shuffle_by_rpm_then_tpm_then_uniform(void) {
  int hits[3];
  struct sl_candidate r[3] = {{.rpm = 100, .tpm = 1}, {.rpm = 300, .tpm = 1}, {.tpm = 100000}};
  tally(SL_STRAT_SHUFFLE, r, 3, 37, hits);
  CHECK(near(hits[0], 0.25, 0.02) && near(hits[1], 0.75, 0.02) && hits[2] == 0);
  struct sl_candidate t[3] = {{.tpm = 1000}, {.tpm = 1000}, {.tpm = 2000}};
  tally(SL_STRAT_SHUFFLE, t, 3, 41, hits);
  CHECK(near(hits[0], 0.25, 0.02) && near(hits[1], 0.25, 0.02) && near(hits[2], 0.5, 0.02));
  struct sl_candidate u[3] = {{.weight = 0}, {.weight = 0}, {.weight = 0}};
  tally(SL_STRAT_SHUFFLE, u, 3, 43, hits);
  for (int i = 0; i < 3; i++) CHECK(near(hits[i], 1.0 / 3, 0.02));
  /* same seed, same sequence */
  int again[3];
  tally(SL_STRAT_SHUFFLE, u, 3, 43, again);
  CHECK(again[0] == hits[0] && again[1] == hits[1]);
}

static void least_busy(void) {
  int hits[3];
  struct sl_candidate c[3] = {{.inflight = 3}, {.inflight = 1}, {.inflight = 1}};
  tally(SL_STRAT_LEAST_BUSY, c, 3, 47, hits);
  CHECK(hits[0] == 0 && near(hits[1], 0.5, 0.02) && near(hits[2], 0.5, 0.02));
  c[0].inflight = 0;
  tally(SL_STRAT_LEAST_BUSY, c, 3, 47, hits);
  CHECK(hits[0] == PICKS);
}

static void latency_slow_one_loses_and_wins_back(void) {
  int hits[3];
  /* 10x the EWMA with equal in-flight: (almost) no traffic */
  struct sl_candidate two[2] = {{.ewma_ms = 20, .inflight = 2}, {.ewma_ms = 200, .inflight = 2}};
  tally(SL_STRAT_LATENCY, two, 2, 53, hits);
  CHECK(hits[1] < PICKS / 10);
  struct sl_candidate three[3] = {{.ewma_ms = 20}, {.ewma_ms = 22}, {.ewma_ms = 200}};
  tally(SL_STRAT_LATENCY, three, 3, 59, hits);
  CHECK(hits[2] < PICKS / 10 && hits[0] > hits[1] && hits[1] > PICKS / 4);
  /* its EWMA drops back: it wins its share back */
  three[2].ewma_ms = 20; /* ties with the fastest, both beat the 22 ms one */
  tally(SL_STRAT_LATENCY, three, 3, 59, hits);
  CHECK(near(hits[2], 0.5, 0.03) && near(hits[0], 0.5, 0.03) && hits[1] == 0);
  /* load counts: a fast but busy one loses to a slow idle one */
  struct sl_candidate busy[2] = {{.ewma_ms = 20, .inflight = 20}, {.ewma_ms = 200, .inflight = 0}};
  tally(SL_STRAT_LATENCY, busy, 2, 61, hits);
  CHECK(hits[1] == PICKS);
  /* no sample yet costs 0: it is explored */
  struct sl_candidate fresh[3] = {{.ewma_ms = 20}, {.ewma_ms = 20}, {.ewma_ms = 0}};
  tally(SL_STRAT_LATENCY, fresh, 3, 67, hits);
  CHECK(near(hits[2], 2.0 / 3, 0.03)); /* it is in 2 of the 3 pairs and wins each */
  /* one available: it, whatever its cost */
  struct sl_candidate one[2] = {{.ewma_ms = 5, .excluded = true}, {.ewma_ms = 9000, .inflight = 50}};
  tally(SL_STRAT_LATENCY, one, 2, 71, hits);
  CHECK(hits[1] == PICKS);
}

/* Latency routing over time with the health arithmetic, as the gateway runs it: 200
 * requests per second, each in flight for its latency, its latency fed into the peak
 * EWMA when it completes, and snapshots decaying idle EWMAs. B slows from 20 to 200 ms
 * for 20 s, then recovers: it loses (almost) all traffic, is still tried now and then,
 * and wins its share back. */
#define SIM_MAX 4096
struct sim_req {
  uint64_t end;
  int dep;
  double lat;
};

static void latency_routing_over_time(void) {
  const double tau = 5000;
  double ewma[2] = {0, 0};
  uint64_t at[2] = {0, 0}, rng = 73, t = 0;
  int64_t inflight[2] = {0, 0};
  static struct sim_req q[SIM_MAX];
  size_t nq = 0;
  int phase_hits[3][2] = {{0}};
  for (int phase = 0; phase < 3; phase++) {
    double lat_b = phase == 1 ? 200 : 20;
    for (int k = 0; k < 4000; k++, t += 5) {
      /* completions up to now */
      for (size_t j = 0; j < nq;) {
        if (q[j].end > t) {
          j++;
          continue;
        }
        int d = q[j].dep;
        ewma[d] = sl_policy_ewma(ewma[d], q[j].lat, at[d] ? q[j].end - at[d] : 0, tau);
        at[d] = q[j].end;
        inflight[d]--;
        q[j] = q[--nq];
      }
      struct sl_candidate c[2];
      for (int i = 0; i < 2; i++)
        c[i] = (struct sl_candidate){.ewma_ms = sl_policy_ewma_decay(ewma[i], t - at[i], tau),
                                     .inflight = inflight[i]};
      struct sl_choice ch = sl_policy_choose(SL_STRAT_LATENCY, c, 2, t, 1000, 0, &rng);
      int i = ch.index;
      double lat = i == 0 ? 20 + (k % 5) : lat_b + (k % 7);
      CHECK(nq < SIM_MAX);
      if (nq < SIM_MAX) q[nq++] = (struct sim_req){t + (uint64_t)lat, i, lat};
      inflight[i]++;
      if (k >= 1000) phase_hits[phase][i]++; /* after 5 s in the phase */
    }
  }
  int n = 3000;
  CHECK(phase_hits[0][1] > n / 4);  /* equal: B has a fair part */
  CHECK(phase_hits[1][1] < n / 20); /* slow: B lost (almost) all of it */
  CHECK(phase_hits[1][1] > 0);      /* ...but is still tried now and then */
  CHECK(phase_hits[2][1] > n / 4);  /* recovered: B won it back */
  printf("  phases (A,B): %d,%d  %d,%d  %d,%d\n", phase_hits[0][0], phase_hits[0][1], phase_hits[1][0],
         phase_hits[1][1], phase_hits[2][0], phase_hits[2][1]);
}

static void cost_cheapest(void) {
  int hits[3];
  struct sl_candidate c[3] = {{.input_cost = 3e-6, .output_cost = 6e-6},
                              {.input_cost = 1e-6, .output_cost = 2e-6},
                              {.input_cost = 2e-6, .output_cost = 1e-6}};
  tally(SL_STRAT_COST, c, 3, 79, hits);
  CHECK(hits[0] == 0 && near(hits[1], 0.5, 0.02) && near(hits[2], 0.5, 0.02)); /* 3e-6 tie */
  c[2].output_cost = 0.5e-6;
  tally(SL_STRAT_COST, c, 3, 79, hits);
  CHECK(hits[2] == PICKS);
  c[2].excluded = true;
  tally(SL_STRAT_COST, c, 3, 79, hits);
  CHECK(hits[1] == PICKS);
}

static void usage_lowest_share(void) {
  int hits[3];
  struct sl_candidate c[3] = {{.tpm = 1000, .tokens_this_minute = 500},  /* 0.5 */
                              {.tpm = 2000, .tokens_this_minute = 600},  /* 0.3 */
                              {.tpm = 100, .tokens_this_minute = 40}};   /* 0.4 */
  tally(SL_STRAT_USAGE, c, 3, 83, hits);
  CHECK(hits[1] == PICKS);
  /* unlimited ones: by absolute tokens; they beat any limited one with use */
  struct sl_candidate u[3] = {{.tokens_this_minute = 900}, {.tokens_this_minute = 300}, {.tpm = 10000, .tokens_this_minute = 1}};
  tally(SL_STRAT_USAGE, u, 3, 89, hits);
  CHECK(hits[1] == PICKS);
  /* equal shares: ties at random */
  struct sl_candidate e[2] = {{.tpm = 1000, .tokens_this_minute = 100}, {.tpm = 2000, .tokens_this_minute = 200}};
  tally(SL_STRAT_USAGE, e, 2, 97, hits);
  CHECK(hits[0] == PICKS); /* shares tie at 0.1; then fewer tokens wins */
  e[1].tpm = 1000, e[1].tokens_this_minute = 100; /* a full tie: at random */
  tally(SL_STRAT_USAGE, e, 2, 97, hits);
  CHECK(near(hits[0], 0.5, 0.02));
}

CHECK_MAIN(T(rand_is_deterministic_and_uniform), T(empty_group), T(single_healthy_is_chosen),
           T(lower_order_wins), T(rpm_and_tpm_boundaries), T(max_input_tokens_boundary), T(why_priority),
           T(cooldown_boundary_and_probe), T(probe_takes_one_uniform_share), T(shuffle_by_weight),
           T(shuffle_by_rpm_then_tpm_then_uniform), T(least_busy), T(latency_slow_one_loses_and_wins_back),
           T(latency_routing_over_time), T(cost_cheapest), T(usage_lowest_share))
