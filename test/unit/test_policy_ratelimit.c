/* policy/ratelimit: the sliding-window counter with a fake clock: rolling, the
 * estimate and its rounding, exactly-limit admission, retry_after to the millisecond
 * (checked by retrying at that instant and one ms earlier), TPM settlement across
 * minute boundaries, the header helpers, and counts in the millions. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "policy/ratelimit.h"

#define MIN 60000ull
/* A fake clock: minute 28,333,333 (late 2023 in unix minutes), plus an offset. */
#define T0 (28333333ull * MIN)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545f4914f6cdd1dull;
}

static void roll(void) {
  struct sl_rate_window w = {0};
  sl_policy_rate_roll(&w, T0 + 5);
  CHECK(w.minute == T0 / MIN && w.prev == 0 && w.cur == 0);
  w.cur = 7;
  sl_policy_rate_roll(&w, T0 + 59999); /* same minute */
  CHECK(w.minute == T0 / MIN && w.prev == 0 && w.cur == 7);
  sl_policy_rate_roll(&w, T0 + MIN); /* next minute, first ms */
  CHECK(w.minute == T0 / MIN + 1 && w.prev == 7 && w.cur == 0);
  w.cur = 3;
  sl_policy_rate_roll(&w, T0 + 3 * MIN); /* two on: both gone */
  CHECK(w.minute == T0 / MIN + 3 && w.prev == 0 && w.cur == 0);
  w.prev = 4;
  w.cur = 5;
  sl_policy_rate_roll(&w, T0); /* clock stepped back: nothing rolls back */
  CHECK(w.minute == T0 / MIN + 3 && w.prev == 4 && w.cur == 5);
}

static void estimate_and_rounding(void) {
  struct sl_rate_window w = {T0 / MIN, 100, 10};
  CHECK(sl_policy_rate_estimate(&w, T0) == 110);              /* all of prev */
  CHECK(sl_policy_rate_estimate(&w, T0 + 30000) == 60);       /* half */
  CHECK(sl_policy_rate_estimate(&w, T0 + 15000) == 85);       /* 75 + 10 */
  CHECK(sl_policy_rate_estimate(&w, T0 + 59999) == 11);       /* ceil(100/60000) = 1 */
  CHECK(sl_policy_rate_estimate(&w, T0 + MIN) == 10);         /* cur became prev, whole */
  CHECK(sl_policy_rate_estimate(&w, T0 + MIN + 30000) == 5);
  CHECK(sl_policy_rate_estimate(&w, T0 + 2 * MIN) == 0);
  CHECK(sl_policy_rate_estimate(&w, T0 - 5000) == 110);       /* earlier: read as the start */
  /* rounding is up: 1 request 1 ms before the end still counts 1 */
  struct sl_rate_window one = {T0 / MIN, 1, 0};
  CHECK(sl_policy_rate_estimate(&one, T0 + 59999) == 1);
  /* 3 x 20000/60000 = 1 exactly, no rounding */
  struct sl_rate_window three = {T0 / MIN, 3, 0};
  CHECK(sl_policy_rate_estimate(&three, T0 + 40000) == 1);
  CHECK(sl_policy_rate_estimate(&three, T0 + 39999) == 2);
  /* the estimate did not modify the window */
  CHECK(w.minute == T0 / MIN && w.prev == 100 && w.cur == 10);
  /* huge counts neither overflow nor go negative */
  struct sl_rate_window big = {T0 / MIN, INT64_MAX, INT64_MAX};
  CHECK(sl_policy_rate_estimate(&big, T0 + 123) == INT64_MAX);
  big.cur = 0;
  int64_t e = sl_policy_rate_estimate(&big, T0 + 30000);
  CHECK(e >= INT64_MAX / 2 && e <= INT64_MAX / 2 + 1);
  struct sl_rate_window neg = {T0 / MIN, -5, -7};
  CHECK(sl_policy_rate_estimate(&neg, T0) == 0);
}

/* The test: rpm_limit 120, 400 requests at once, exactly 120 admitted. */
static void first_window_exactly_limit(void) {
  struct sl_rate_window w = {0};
  int ok = 0, again = 0;
  uint64_t ra_first = 0;
  for (int i = 0; i < 400; i++) {
    uint64_t ra = 12345;
    int rc = sl_policy_rate_try_take(&w, 120, 1, T0 + 1000, &ra);
    if (rc == 0) {
      ok++;
      CHECK(ra == 0);
    } else {
      CHECK(rc == -EAGAIN);
      CHECK(ra > 0);
      if (!again) ra_first = ra;
      CHECK(ra == ra_first); /* nothing changed between refusals */
      again++;
    }
  }
  CHECK(ok == 120 && again == 280);
  CHECK(w.cur == 120 && w.prev == 0);
  /* Retry: past the boundary, cur (120) is prev and must slide down to 119:
   * ceil(120 x (60000 - e') / 60000) <= 119  <=>  e' >= 500. From T0 + 1000: 59000 + 500. */
  CHECK(ra_first == 59500);
  struct sl_rate_window a = w, b = w;
  CHECK(sl_policy_rate_try_take(&a, 120, 1, T0 + 1000 + ra_first, NULL) == 0);
  CHECK(sl_policy_rate_try_take(&b, 120, 1, T0 + 1000 + ra_first - 1, NULL) == -EAGAIN);
  /* different starting times in the minute */
  for (uint64_t at = 0; at < MIN; at += 7919) {
    struct sl_rate_window x = {0};
    int n = 0;
    for (int i = 0; i < 400; i++) n += sl_policy_rate_try_take(&x, 120, 1, T0 + at, NULL) == 0;
    CHECK(n == 120);
  }
}

static void exact_limit_and_amounts(void) {
  struct sl_rate_window w = {0};
  uint64_t ra = 99;
  CHECK(sl_policy_rate_try_take(&w, 10, 11, T0, &ra) == -E2BIG && ra == 0 && w.cur == 0);
  CHECK(sl_policy_rate_try_take(&w, 10, 10, T0, &ra) == 0 && w.cur == 10); /* exactly the limit */
  CHECK(sl_policy_rate_try_take(&w, 10, 1, T0, &ra) == -EAGAIN && w.cur == 10);
  CHECK(sl_policy_rate_try_take(&w, 10, 0, T0, &ra) == 0); /* 10 + 0 <= 10 */
  /* TPM: 1000, reservations of various sizes */
  struct sl_rate_window t = {0};
  CHECK(sl_policy_rate_try_take(&t, 1000, 600, T0, NULL) == 0);
  CHECK(sl_policy_rate_try_take(&t, 1000, 401, T0, NULL) == -EAGAIN);
  CHECK(sl_policy_rate_try_take(&t, 1000, 400, T0, NULL) == 0);
  CHECK(t.cur == 1000);
  /* limit 0 admits nothing (but an amount of 0) */
  struct sl_rate_window z = {0};
  CHECK(sl_policy_rate_try_take(&z, 0, 1, T0, NULL) == -E2BIG);
  CHECK(sl_policy_rate_try_take(&z, 0, 0, T0, NULL) == 0);
  /* unlimited counts but never refuses */
  struct sl_rate_window u = {0};
  for (int i = 0; i < 1000; i++) CHECK(sl_policy_rate_try_take(&u, -1, 5, T0, &ra) == 0);
  CHECK(u.cur == 5000 && ra == 0);
  CHECK(sl_policy_rate_remaining(&u, -1, T0) == INT64_MAX);
  /* a negative amount is 0 */
  struct sl_rate_window n = {0};
  CHECK(sl_policy_rate_try_take(&n, 5, -3, T0, NULL) == 0 && n.cur == 0);
  /* the second minute: prev 120 counts in full at its start, half at its middle */
  struct sl_rate_window s = {T0 / MIN, 0, 120};
  int ok = 0;
  for (int i = 0; i < 400; i++) ok += sl_policy_rate_try_take(&s, 120, 1, T0 + MIN, NULL) == 0;
  CHECK(ok == 0);
  for (int i = 0; i < 400; i++) ok += sl_policy_rate_try_take(&s, 120, 1, T0 + MIN + 30000, NULL) == 0;
  CHECK(ok == 60);
}

static void retry_after_values(void) {
  /* Within the minute: prev 100, cur 50, limit 100, at e = 0. Need
   * ceil(100 x (60000 - t) / 60000) <= 49  <=>  t >= 30600. */
  struct sl_rate_window w = {T0 / MIN, 100, 50};
  uint64_t ra = 0;
  CHECK(sl_policy_rate_try_take(&w, 100, 1, T0, &ra) == -EAGAIN);
  CHECK(ra == 30600);
  /* same from 10 s into the minute: 20600 */
  CHECK(sl_policy_rate_try_take(&w, 100, 1, T0 + 10000, &ra) == -EAGAIN && ra == 20600);
  /* a bigger amount waits longer: 49 -> 40 of room, 100 x (60000 - t) <= 40 x 60000 -> 36000 */
  CHECK(sl_policy_rate_try_take(&w, 100, 10, T0, &ra) == -EAGAIN && ra == 36000);
  /* cur alone at the limit: past the boundary (prev' = 100 must reach 99: e' >= 600) */
  struct sl_rate_window c = {T0 / MIN, 0, 100};
  CHECK(sl_policy_rate_try_take(&c, 100, 1, T0 + 20000, &ra) == -EAGAIN && ra == 40000 + 600);
  /* cur alone above what the amount allows: amount 30 of 100 with cur 80 -> prev' 80 must
   * reach 70: 80 x (60000 - e') <= 70 x 60000 -> e' >= 7500 */
  struct sl_rate_window d = {T0 / MIN, 0, 80};
  CHECK(sl_policy_rate_try_take(&d, 100, 30, T0 + 59000, &ra) == -EAGAIN && ra == 1000 + 7500);
  /* the very last ms of a minute with prev: t = 1 at least */
  struct sl_rate_window e = {T0 / MIN, 1, 99};
  CHECK(sl_policy_rate_try_take(&e, 100, 1, T0 + 59999, &ra) == -EAGAIN && ra == 1);
  CHECK(sl_policy_rate_try_take(&e, 100, 1, T0 + 60000, &ra) == 0);
  /* retry-after seconds */
  CHECK(sl_policy_rate_retry_after_s(0) == 1 && sl_policy_rate_retry_after_s(1) == 1 &&
        sl_policy_rate_retry_after_s(1000) == 1 && sl_policy_rate_retry_after_s(1001) == 2 &&
        sl_policy_rate_retry_after_s(59500) == 60);
}

/* retry_after is the exact first admissible millisecond, for random states. */
static void retry_after_exact_random(void) {
  int refused = 0, crossed = 0;
  for (int it = 0; it < 200000; it++) {
    int64_t limit = 1 + (int64_t)(rnd() % (it % 3 == 0 ? 5 : it % 3 == 1 ? 200 : 2000000));
    int64_t amount = (int64_t)(rnd() % (uint64_t)(limit + 1));
    struct sl_rate_window w = {T0 / MIN, (int64_t)(rnd() % (uint64_t)(2 * limit + 2)),
                               (int64_t)(rnd() % (uint64_t)(limit + 2))};
    uint64_t now = T0 + rnd() % MIN, ra = 0;
    struct sl_rate_window x = w;
    int rc = sl_policy_rate_try_take(&x, limit, amount, now, &ra);
    if (rc == 0) {
      CHECK(sl_policy_rate_estimate(&w, now) + amount <= limit);
      CHECK(x.cur == w.cur + amount);
      continue;
    }
    CHECK(rc == -EAGAIN);
    CHECK(ra >= 1 && ra <= 2 * MIN);
    CHECK(x.cur == w.cur && x.prev == w.prev); /* nothing taken */
    refused++;
    if ((now + ra) / MIN != now / MIN) crossed++;
    struct sl_rate_window a = w, b = w;
    CHECK(sl_policy_rate_try_take(&a, limit, amount, now + ra, NULL) == 0);
    if (ra > 1) CHECK(sl_policy_rate_try_take(&b, limit, amount, now + ra - 1, NULL) == -EAGAIN);
    if (check_failed_) {
      printf("  limit %lld amount %lld prev %lld cur %lld now+%llu ra %llu\n", (long long)limit,
             (long long)amount, (long long)w.prev, (long long)w.cur, (unsigned long long)(now % MIN),
             (unsigned long long)ra);
      return;
    }
  }
  CHECK(refused > 10000 && crossed > 1000); /* both cases were exercised */
}

static void settle(void) {
  /* same minute: a reservation of 1000 settled at 300 frees 700 */
  struct sl_rate_window w = {0};
  CHECK(sl_policy_rate_try_take(&w, 1000, 1000, T0 + 100, NULL) == 0);
  CHECK(sl_policy_rate_try_take(&w, 1000, 1, T0 + 200, NULL) == -EAGAIN);
  sl_policy_rate_settle(&w, T0 + 100, 1000, 300, T0 + 5000);
  CHECK(w.cur == 300);
  CHECK(sl_policy_rate_try_take(&w, 1000, 700, T0 + 5000, NULL) == 0 && w.cur == 1000);
  /* more than reserved: the surplus counts (and blocks) */
  struct sl_rate_window o = {0};
  CHECK(sl_policy_rate_try_take(&o, 1000, 100, T0, NULL) == 0);
  sl_policy_rate_settle(&o, T0, 100, 1500, T0 + 1);
  CHECK(o.cur == 1500);
  CHECK(sl_policy_rate_try_take(&o, 1000, 0, T0 + 2, NULL) == -EAGAIN);
  CHECK(sl_policy_rate_remaining(&o, 1000, T0 + 2) == 0);
  /* over a minute boundary: the reservation is in prev now, and prev is corrected */
  struct sl_rate_window b = {0};
  CHECK(sl_policy_rate_try_take(&b, 1000, 800, T0 + 59000, NULL) == 0);
  sl_policy_rate_settle(&b, T0 + 59000, 800, 200, T0 + MIN + 30000);
  CHECK(b.minute == T0 / MIN + 1 && b.prev == 200 && b.cur == 0);
  CHECK(sl_policy_rate_estimate(&b, T0 + MIN + 30000) == 100);
  /* surplus across the boundary lands in prev as well */
  struct sl_rate_window s = {0};
  CHECK(sl_policy_rate_try_take(&s, 1000, 10, T0 + 59000, NULL) == 0);
  CHECK(sl_policy_rate_try_take(&s, 1000, 5, T0 + MIN + 1, NULL) == 0);
  sl_policy_rate_settle(&s, T0 + 59000, 10, 70, T0 + MIN + 2);
  CHECK(s.prev == 70 && s.cur == 5);
  /* two minutes later: dropped, nothing changes */
  struct sl_rate_window d = {0};
  CHECK(sl_policy_rate_try_take(&d, 1000, 500, T0, NULL) == 0);
  CHECK(sl_policy_rate_try_take(&d, 1000, 7, T0 + 2 * MIN, NULL) == 0);
  sl_policy_rate_settle(&d, T0, 500, 0, T0 + 2 * MIN + 10);
  CHECK(d.prev == 0 && d.cur == 7);
  /* never below 0 */
  struct sl_rate_window n = {T0 / MIN, 0, 100};
  sl_policy_rate_settle(&n, T0, 500, 0, T0 + 1);
  CHECK(n.cur == 0);
  /* a settle that rolls: taken this minute, settled in the next */
  struct sl_rate_window r = {T0 / MIN, 0, 300};
  sl_policy_rate_settle(&r, T0 + 10, 300, 100, T0 + MIN + 1);
  CHECK(r.minute == T0 / MIN + 1 && r.prev == 100 && r.cur == 0);
}

static void remaining_and_reset(void) {
  struct sl_rate_window w = {0};
  CHECK(sl_policy_rate_remaining(&w, 120, T0) == 120);
  CHECK(sl_policy_rate_reset_ms(&w, T0) == 0);
  for (int i = 0; i < 20; i++) sl_policy_rate_try_take(&w, 120, 1, T0 + 15000, NULL);
  CHECK(sl_policy_rate_remaining(&w, 120, T0 + 15000) == 100);
  /* cur > 0: back to empty when it has slid out of the next minute too */
  CHECK(sl_policy_rate_reset_ms(&w, T0 + 15000) == 2 * MIN - 15000);
  /* next minute, 20 in prev: 30 s in, 10 of it count */
  CHECK(sl_policy_rate_remaining(&w, 120, T0 + MIN + 30000) == 110);
  CHECK(sl_policy_rate_reset_ms(&w, T0 + MIN + 30000) == 30000);
  CHECK(sl_policy_rate_estimate(&w, T0 + MIN + 30000 + 30000) == 0);
  CHECK(sl_policy_rate_estimate(&w, T0 + MIN + 30000 + 29999) == 1);
  /* over the limit: 0, never negative */
  struct sl_rate_window o = {T0 / MIN, 0, 500};
  CHECK(sl_policy_rate_remaining(&o, 120, T0) == 0);
}

static const char *dur(uint64_t ms) {
  static char b[64];
  size_t n = sl_policy_rate_format_duration(ms, b, sizeof b);
  if (n != strlen(b)) return "length mismatch";
  return b;
}

static void duration_format(void) {
  CHECK_STR(dur(0), "0s");
  CHECK_STR(dur(1), "1ms");
  CHECK_STR(dur(20), "20ms");
  CHECK_STR(dur(999), "999ms");
  CHECK_STR(dur(1000), "1s");
  CHECK_STR(dur(1500), "1.5s");
  CHECK_STR(dur(8640), "8.64s");
  CHECK_STR(dur(2512), "2.512s");
  CHECK_STR(dur(1001), "1.001s");
  CHECK_STR(dur(59999), "59.999s");
  CHECK_STR(dur(60000), "1m0s");
  CHECK_STR(dur(360000), "6m0s");
  CHECK_STR(dur(90500), "1m30.5s");
  CHECK_STR(dur(119500), "1m59.5s");
  CHECK_STR(dur(3600000), "1h0m0s");
  CHECK_STR(dur(3723004), "1h2m3.004s");
  CHECK_STR(dur(90000000), "25h0m0s");
  /* snprintf semantics: truncated, NUL-terminated, needed length returned */
  char small[4];
  CHECK(sl_policy_rate_format_duration(90500, small, sizeof small) == 7);
  CHECK_STR(small, "1m3");
  CHECK(sl_policy_rate_format_duration(8640, NULL, 0) == 5);
}

/* A million requests in one window, then the slide, at one instant each. */
static void millions(void) {
  struct sl_rate_window w = {0};
  int64_t ok = 0;
  for (int i = 0; i < 1000001; i++) ok += sl_policy_rate_try_take(&w, 1000000, 1, T0 + 5, NULL) == 0;
  CHECK(ok == 1000000 && w.cur == 1000000);
  /* next minute, half way: half of the million still counts, half is free */
  ok = 0;
  for (int i = 0; i < 1000000; i++) ok += sl_policy_rate_try_take(&w, 1000000, 1, T0 + MIN + 30000, NULL) == 0;
  CHECK(ok == 500000);
  CHECK(w.prev == 1000000 && w.cur == 500000);
  CHECK(sl_policy_rate_remaining(&w, 1000000, T0 + MIN + 30000) == 0);
  /* tokens: a million-token limit in reservations of 1000 with settlement at 250 */
  struct sl_rate_window t = {0};
  int taken = 0;
  for (int i = 0; i < 100000; i++) {
    if (sl_policy_rate_try_take(&t, 1000000, 1000, T0 + 7, NULL) == 0) {
      taken++;
      sl_policy_rate_settle(&t, T0 + 7, 1000, 250, T0 + 8);
    }
  }
  /* each admitted reservation ends as 250, and one is admitted while 250 k + 1000 <=
   * 1000000, i.e. k <= 3996: 3997 of them, 999250 in use */
  CHECK(taken == 3997 && t.cur == 999250);
}

/* Steady over-limit traffic for ten minutes: every ms one attempt, limit 1000/min.
 * The sliding window never admits more than 2 x limit in any real 60 s, and the
 * minutes after the first admit about the limit each. */
static void steady_traffic_bounds(void) {
  enum { LIMIT = 1000, MINUTES = 10 };
  static uint8_t admitted[MINUTES * 60000];
  struct sl_rate_window w = {0};
  int64_t per_minute[MINUTES] = {0};
  for (uint64_t t = 0; t < MINUTES * MIN; t++) {
    admitted[t] = sl_policy_rate_try_take(&w, LIMIT, 1, T0 + t, NULL) == 0;
    per_minute[t / MIN] += admitted[t];
  }
  CHECK(per_minute[0] == LIMIT); /* the first LIMIT ms, then nothing */
  int64_t in_window = 0, max_window = 0;
  for (uint64_t t = 0; t < MINUTES * MIN; t++) {
    in_window += admitted[t];
    if (t >= MIN) in_window -= admitted[t - MIN];
    if (in_window > max_window) max_window = in_window;
  }
  CHECK(max_window <= 2 * LIMIT);
  int64_t later = 0;
  for (int m = 1; m < MINUTES; m++) {
    CHECK(per_minute[m] >= LIMIT / 2 && per_minute[m] <= 3 * LIMIT / 2);
    later += per_minute[m];
  }
  /* on average the limit: within 10% over nine minutes */
  CHECK(later >= (MINUTES - 1) * LIMIT * 9 / 10 && later <= (MINUTES - 1) * LIMIT * 11 / 10);
}

/* A request against a pair of windows (requests and tokens, as a key or a deployment is
 * limited): both or neither, the first refusal named, limit 0 untouched, < 0 counted. */
static void take_pair_both_or_neither(void) {
  struct sl_rate_window r = {0}, t = {0};
  uint64_t ra = 77;
  enum sl_rate_denied d = SL_RATE_DENIED_TOKENS;
  CHECK(sl_policy_rate_take_pair(&r, 2, &t, 1000, 400, T0, &ra, &d) == 0 && d == SL_RATE_ADMITTED && ra == 0);
  CHECK(r.cur == 1 && t.cur == 400);
  /* tokens refuse: the request is not taken either, and both windows are as they were */
  struct sl_rate_window r0 = r, t0 = t;
  CHECK(sl_policy_rate_take_pair(&r, 2, &t, 1000, 700, T0 + 1000, &ra, &d) == -EAGAIN && d == SL_RATE_DENIED_TOKENS);
  CHECK(!memcmp(&r, &r0, sizeof r) && !memcmp(&t, &t0, sizeof t));
  CHECK(ra == 2 * MIN - 1000 - MIN * 300 / 400); /* 400 must slide down to 300: 15 s into the next minute */
  CHECK(sl_policy_rate_take_pair(&r, 2, &t, 1000, 600, T0 + 1000, &ra, &d) == 0 && r.cur == 2 && t.cur == 1000);
  /* requests refuse first: tokens untouched */
  t0 = t;
  CHECK(sl_policy_rate_take_pair(&r, 2, &t, 5000, 1, T0 + 2000, &ra, &d) == -EAGAIN && d == SL_RATE_DENIED_REQUESTS);
  CHECK(!memcmp(&t, &t0, sizeof t) && r.cur == 2 && ra > 0);
  /* more tokens than the limit can ever admit */
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 1001, T0 + 2000, &ra, &d) == -E2BIG && d == SL_RATE_DENIED_TOKENS &&
        r.cur == 2);
  /* limit 0: that window is left alone; limit < 0: unlimited but counted */
  struct sl_rate_window a = {0}, b = {0};
  CHECK(sl_policy_rate_take_pair(&a, 0, &b, 0, 50, T0, NULL, NULL) == 0 && a.cur == 0 && b.cur == 0 && a.minute == 0);
  CHECK(sl_policy_rate_take_pair(&a, -1, &b, -1, 50, T0, NULL, NULL) == 0 && a.cur == 1 && b.cur == 50);
}

/* A deployment with tpm 1000 on a fake monotonic clock: what it took late in one minute
 * still counts (weighted) early in the next, and slides out exactly when the arithmetic
 * says; a fixed window would have reopened at the boundary. */
static void deployment_tpm_slides_across_minute(void) {
  struct sl_rate_window r = {0}, t = {0};
  uint64_t ra = 0;
  enum sl_rate_denied d;
  uint64_t m = 12345 * MIN; /* monotonic minutes since boot */
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 600, m + 50000, &ra, &d) == 0);
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 500, m + 55000, &ra, &d) == -EAGAIN && d == SL_RATE_DENIED_TOKENS);
  /* 1 s into the next minute: ceil(600 x 59/60) = 590, and 590 + 500 > 1000 */
  CHECK(sl_policy_rate_estimate(&t, m + MIN + 1000) == 590);
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 500, m + MIN + 1000, &ra, &d) == -EAGAIN);
  /* room for 500 once 600 x (60000 - e) / 60000 <= 500: e >= 10000 */
  CHECK(ra == 9000);
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 500, m + MIN + 9999, NULL, NULL) == -EAGAIN);
  CHECK(sl_policy_rate_take_pair(&r, -1, &t, 1000, 500, m + MIN + 10000, NULL, NULL) == 0);
  CHECK(t.prev == 600 && t.cur == 500 && r.prev == 1 && r.cur == 1); /* requests counted, unlimited */
  CHECK(sl_policy_rate_estimate(&t, m + MIN + 10000) == 1000);
}

CHECK_MAIN(T(roll), T(estimate_and_rounding), T(first_window_exactly_limit), T(exact_limit_and_amounts),
           T(retry_after_values), T(retry_after_exact_random), T(settle), T(remaining_and_reset),
           T(duration_format), T(millions), T(steady_traffic_bounds), T(take_pair_both_or_neither),
           T(deployment_tpm_slides_across_minute))
