/* Rate-limit arithmetic: a sliding-window counter over one-minute windows (the
 * Cloudflare/nginx "sliding window" approximation). The one idea: keep only two
 * counts, the previous minute's and the current minute's, and weigh the previous one by
 * the part of it that the sliding 60-second window still covers:
 *
 *     estimate(now) = ceil(prev x (60000 - elapsed_ms) / 60000) + cur
 *
 * where elapsed_ms is the time since the current minute began. A request of `amount`
 * units is admitted iff estimate + amount <= limit. In a first window (prev = 0) this
 * admits exactly `limit` units; later, a real 60 s span holds at most 2 x limit (when
 * the previous minute's units all came at its very end) and about limit on average.
 *
 * Pure: the caller owns the window (in shared memory, under the slot's lock) and passes
 * the time. Windows are the integer minutes of now_ms (now_ms / 60000), so every
 * process must use the same clock (sluice's are minutes of CLOCK_MONOTONIC, for keys
 * and deployments alike: see store/shm.h). A clock that
 * steps back into an earlier minute does not roll a window back: such a `now` is read
 * as the start of the window's minute (the whole of prev counts), which only errs on
 * the side of refusing.
 *
 * Rounding: the weighted prev is rounded up, so the estimate never falls below the true
 * weighted count and the limit is never exceeded through rounding; durations
 * (retry_after, reset) are whole milliseconds and are the exact first millisecond at
 * which the condition holds (see sl_policy_rate_try_take). */
#ifndef SL_POLICY_RATELIMIT_H
#define SL_POLICY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_RATE_WINDOW_MS 60000

/* Same fields as struct sl_shm_window in store/shm.h. A zeroed window is empty. */
struct sl_rate_window {
  uint64_t minute; /* index of the current window: now_ms / 60000 */
  int64_t prev, cur;
};

/* Advances the window to now's minute: one minute on, prev = cur and cur = 0; two or
 * more, both 0. A now before the window's minute changes nothing. */
void sl_policy_rate_roll(struct sl_rate_window *w, uint64_t now_ms);

/* The sliding count at now (does not modify w: the window is read as if rolled). */
int64_t sl_policy_rate_estimate(const struct sl_rate_window *w, uint64_t now_ms);

/* Takes `amount` units (a request: 1; tokens: the reservation) if the window has room.
 * Rolls w, then:
 *  - 0: admitted (estimate + amount <= limit); cur += amount; *retry_after_ms = 0.
 *  - -EAGAIN: not now; nothing taken; *retry_after_ms = the time from now_ms until the
 *    same request would be admitted if nothing else were taken meanwhile, >= 1. While
 *    cur + amount <= limit that is when enough of prev has slid out; when cur alone
 *    leaves no room it is past the next minute boundary (where cur becomes prev and
 *    still counts in full), when enough of that has slid out. Exact to the millisecond:
 *    a take at now + retry_after succeeds and one at now + retry_after - 1 fails.
 *  - -E2BIG: amount > limit, never admissible; *retry_after_ms = 0.
 * limit < 0 means unlimited: always 0, and the amount is still counted. An amount < 0
 * is taken as 0. retry_after_ms may be NULL. Counts saturate at INT64_MAX. */
int sl_policy_rate_try_take(struct sl_rate_window *w, int64_t limit, int64_t amount, uint64_t now_ms,
                            uint64_t *retry_after_ms);

/* Replaces a reservation by the real amount (TPM: reserve prompt estimate + max_tokens,
 * settle with the reported usage). taken_ms is the now_ms the reservation was taken at.
 * Rolls w, then adds actual - reserved to the count that holds the reservation now:
 *  - cur when the reservation was taken in the current minute;
 *  - prev when it was taken in the previous minute (so the rest of the slide uses the
 *    real amount);
 *  - nothing when it is two or more minutes old: it has slid out of every window, and
 *    neither the surplus nor the refund can matter any more.
 * The adjusted count never goes below 0. */
void sl_policy_rate_settle(struct sl_rate_window *w, uint64_t taken_ms, int64_t reserved, int64_t actual,
                           uint64_t now_ms);

/* A request against a pair of windows, requests (one unit) and tokens (`tokens` units),
 * as both keys and deployments are limited: taken from both, or from neither. A limit
 * < 0 is unlimited (the units are still counted: usage-based routing reads them); a
 * limit of 0 leaves that window alone (neither checked nor counted). Returns 0 when
 * admitted; else the refusal of the first window that refused (requests first), as
 * sl_policy_rate_try_take returns it (-EAGAIN with *retry_after_ms, or -E2BIG), with
 * *denied = SL_RATE_DENIED_REQUESTS or _TOKENS, and both windows exactly as they were.
 * retry_after_ms and denied may be NULL. */
enum sl_rate_denied { SL_RATE_ADMITTED = 0, SL_RATE_DENIED_REQUESTS, SL_RATE_DENIED_TOKENS };
int sl_policy_rate_take_pair(struct sl_rate_window *req, int64_t rpm, struct sl_rate_window *tok, int64_t tpm,
                             int64_t tokens, uint64_t now_ms, uint64_t *retry_after_ms, enum sl_rate_denied *denied);

/* For x-ratelimit-remaining-*: limit - estimate, at least 0 (limit < 0: INT64_MAX). */
int64_t sl_policy_rate_remaining(const struct sl_rate_window *w, int64_t limit, uint64_t now_ms);

/* For x-ratelimit-reset-*: ms until the window is back to its initial state (estimate
 * 0, the full limit available) if nothing more is taken, as OpenAI defines the header:
 * 0 when empty; the next minute boundary when only prev counts; the boundary after that
 * when cur > 0 (cur becomes prev and slides out over the next minute). */
uint64_t sl_policy_rate_reset_ms(const struct sl_rate_window *w, uint64_t now_ms);

/* A duration as OpenAI writes x-ratelimit-reset-* (Go's time.Duration format, at
 * millisecond precision): "0s", "20ms", "1s", "8.64s", "6m0s", "1m30.5s", "1h0m0s".
 * Writes at most n bytes including the NUL; returns the length it needed (snprintf). */
size_t sl_policy_rate_format_duration(uint64_t ms, char *buf, size_t n);

/* Retry-After (delta-seconds) for a retry_after_ms: rounded up, at least 1. */
uint64_t sl_policy_rate_retry_after_s(uint64_t retry_after_ms);

#endif
