/* Sliding-window-counter arithmetic over one-minute windows; see ratelimit.h. The one
 * idea: every question (admit? how long until? how much is left?) is answered from a
 * view of the window at `now` (prev, cur and the ms elapsed in the current minute), and
 * the times are solved exactly in integers, never by stepping a clock. */
#include "policy/ratelimit.h"

#include <errno.h>
#include <stdio.h>

#define M ((uint64_t)SL_RATE_WINDOW_MS)

/* The window as seen at now, without modifying it. */
struct view {
  int64_t prev, cur;
  uint64_t elapsed; /* ms since the current minute began, < M */
};

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static struct view view_at(const struct sl_rate_window *w, uint64_t now_ms) {
  uint64_t m = now_ms / M;
  struct view v = {nonneg(w->prev), nonneg(w->cur), now_ms % M};
  if (m == w->minute) return v;
  if (m < w->minute) { /* clock stepped back: read as the start of the window's minute */
    v.elapsed = 0;
    return v;
  }
  if (m == w->minute + 1) {
    v.prev = v.cur;
    v.cur = 0;
  } else {
    v.prev = v.cur = 0;
  }
  return v;
}

/* ceil(x * num / M) for x >= 0, num <= M, without overflow (x / M * num <= x). */
static int64_t weigh_up(int64_t x, uint64_t num) {
  uint64_t q = (uint64_t)x / M, r = (uint64_t)x % M;
  return (int64_t)(q * num + (r * num + M - 1) / M);
}

static int64_t estimate(const struct view *v) { return sat_add(weigh_up(v->prev, M - v->elapsed), v->cur); }

/* floor(b * M / x) for b >= 0, x > 0, capped at M (only values below M matter). */
static uint64_t slide_room(int64_t b, int64_t x) {
  if (b >= x) return M;
  /* b < x, so b * M / x < M; b * M fits when b < 2^63 / 60000, else use the split. */
  uint64_t ub = (uint64_t)b, ux = (uint64_t)x;
  if (ub <= UINT64_MAX / M) return ub * M / ux;
  /* b*M/x = (b/x)*M + (b%x)*M/x with b/x == 0 here; compute via long division. */
  unsigned __int128 p = (unsigned __int128)ub * M;
  return (uint64_t)(p / ux);
}

void sl_policy_rate_roll(struct sl_rate_window *w, uint64_t now_ms) {
  uint64_t m = now_ms / M;
  if (m <= w->minute) return;
  if (m == w->minute + 1) {
    w->prev = nonneg(w->cur);
  } else {
    w->prev = 0;
  }
  w->cur = 0;
  w->minute = m;
}

int64_t sl_policy_rate_estimate(const struct sl_rate_window *w, uint64_t now_ms) {
  struct view v = view_at(w, now_ms);
  return estimate(&v);
}

/* Time from the view's now until estimate + amount <= limit, given it does not hold
 * now and amount <= limit. See the header for the two cases. */
static uint64_t wait_ms(const struct view *v, int64_t limit, int64_t amount) {
  int64_t budget = limit - amount; /* >= 0 */
  if (v->cur <= budget) {
    /* Within this minute: need ceil(prev * (M - e - t) / M) <= budget - cur, i.e.
     * prev * (M - e - t) <= (budget - cur) * M, i.e. M - e - t <= floor(...). At the
     * boundary (t = M - e) the estimate is cur, which fits, so t <= M - e. prev > 0
     * here, or the estimate would be cur and fit already. */
    uint64_t k = slide_room(budget - v->cur, v->prev);
    uint64_t t = M - v->elapsed - (k < M - v->elapsed ? k : M - v->elapsed);
    return t ? t : 1;
  }
  /* cur leaves no room: in the next minute prev' = cur, cur' = 0, and at e' ms into it
   * the estimate is ceil(cur * (M - e') / M); need M - e' <= floor(budget * M / cur).
   * budget < cur, so that floor is < M and e' >= 1. */
  uint64_t k = slide_room(budget, v->cur);
  return (M - v->elapsed) + (M - k);
}

int sl_policy_rate_try_take(struct sl_rate_window *w, int64_t limit, int64_t amount, uint64_t now_ms,
                            uint64_t *retry_after_ms) {
  uint64_t dummy;
  if (!retry_after_ms) retry_after_ms = &dummy;
  *retry_after_ms = 0;
  amount = nonneg(amount);
  sl_policy_rate_roll(w, now_ms);
  if (limit < 0) {
    w->cur = sat_add(nonneg(w->cur), amount);
    return 0;
  }
  if (amount > limit) return -E2BIG;
  struct view v = view_at(w, now_ms);
  if (estimate(&v) <= limit - amount) {
    w->cur = sat_add(v.cur, amount);
    return 0;
  }
  *retry_after_ms = wait_ms(&v, limit, amount);
  return -EAGAIN;
}

void sl_policy_rate_settle(struct sl_rate_window *w, uint64_t taken_ms, int64_t reserved, int64_t actual,
                           uint64_t now_ms) {
  sl_policy_rate_roll(w, now_ms);
  uint64_t tm = taken_ms / M;
  int64_t delta = nonneg(actual) - nonneg(reserved);
  int64_t *slot;
  if (tm >= w->minute) /* this minute (or a clock step made it look later) */
    slot = &w->cur;
  else if (tm + 1 == w->minute)
    slot = &w->prev;
  else
    return; /* slid out of every window */
  int64_t v = sat_add(nonneg(*slot), delta);
  *slot = v < 0 ? 0 : v;
}

int sl_policy_rate_take_pair(struct sl_rate_window *req, int64_t rpm, struct sl_rate_window *tok, int64_t tpm,
                             int64_t tokens, uint64_t now_ms, uint64_t *retry_after_ms, enum sl_rate_denied *denied) {
  struct sl_rate_window r0 = *req, t0 = *tok;
  uint64_t dummy;
  enum sl_rate_denied dd;
  if (!retry_after_ms) retry_after_ms = &dummy;
  if (!denied) denied = &dd;
  *retry_after_ms = 0;
  *denied = SL_RATE_ADMITTED;
  int rc = rpm != 0 ? sl_policy_rate_try_take(req, rpm, 1, now_ms, retry_after_ms) : 0;
  if (rc) {
    *denied = SL_RATE_DENIED_REQUESTS;
  } else {
    rc = tpm != 0 ? sl_policy_rate_try_take(tok, tpm, tokens, now_ms, retry_after_ms) : 0;
    if (rc) *denied = SL_RATE_DENIED_TOKENS;
  }
  if (rc) { /* neither: both as they were */
    *req = r0;
    *tok = t0;
  }
  return rc;
}

int64_t sl_policy_rate_remaining(const struct sl_rate_window *w, int64_t limit, uint64_t now_ms) {
  if (limit < 0) return INT64_MAX;
  int64_t e = sl_policy_rate_estimate(w, now_ms);
  return e >= limit ? 0 : limit - e;
}

uint64_t sl_policy_rate_reset_ms(const struct sl_rate_window *w, uint64_t now_ms) {
  struct view v = view_at(w, now_ms);
  if (v.cur > 0) return 2 * M - v.elapsed;
  if (v.prev > 0) return M - v.elapsed;
  return 0;
}

size_t sl_policy_rate_format_duration(uint64_t ms, char *buf, size_t n) {
  int r;
  if (ms == 0) {
    r = snprintf(buf, n, "0s");
  } else if (ms < 1000) {
    r = snprintf(buf, n, "%llums", (unsigned long long)ms);
  } else {
    uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[32];
    if (frac == 0) {
      snprintf(sec, sizeof sec, "%llus", (unsigned long long)s);
    } else {
      /* Go trims trailing zeros of the fraction: 8.640 -> 8.64 */
      char f[4] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10), 0};
      int len = 3;
      while (f[len - 1] == '0') f[--len] = 0;
      snprintf(sec, sizeof sec, "%llu.%ss", (unsigned long long)s, f);
    }
    if (h)
      r = snprintf(buf, n, "%lluh%llum%s", (unsigned long long)h, (unsigned long long)m, sec);
    else if (m)
      r = snprintf(buf, n, "%llum%s", (unsigned long long)m, sec);
    else
      r = snprintf(buf, n, "%s", sec);
  }
  return r < 0 ? 0 : (size_t)r;
}

uint64_t sl_policy_rate_retry_after_s(uint64_t retry_after_ms) {
  uint64_t s = retry_after_ms / 1000 + (retry_after_ms % 1000 != 0);
  return s ? s : 1;
}
