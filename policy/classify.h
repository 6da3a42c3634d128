/* What a failed attempt means for the request: retry elsewhere, go to a special
 * fallback list, or hand the upstream's answer to the client as it came. Pure: it looks
 * only at the status, the transport outcome and the error body text. */
#ifndef SL_POLICY_CLASSIFY_H
#define SL_POLICY_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

enum sl_outcome {
  SL_OUT_OK = 0,          /* 2xx */
  SL_OUT_RETRY,           /* connect failure, reset, timeout, 408, 429, 500, 502, 503, 504, 529 */
  SL_OUT_RETRY_COOLDOWN,  /* 401, 403, 404 from the upstream: retry elsewhere, cool this one down */
  SL_OUT_CONTEXT_WINDOW,  /* 400 whose body says the context length was exceeded */
  SL_OUT_CONTENT_POLICY,  /* 400 whose body says a content policy / filter refused it */
  SL_OUT_CLIENT,          /* other 4xx: the client's fault, passed through */
};

/* transport_failed: the exchange failed before a complete status (status is then 0). */
enum sl_outcome sl_policy_classify(int status, int transport_failed, const char *body, size_t n);

/* Retry-After header value (delta-seconds, possibly fractional, or an HTTP date given
 * now_unix) in milliseconds; 0 when absent or unparseable. Capped at one hour. */
uint64_t sl_policy_retry_after_ms(const char *v, size_t n, int64_t now_unix);

/* Delay before retry `attempt` (1 = first retry): exponential with full jitter for 429s
 * (base 100 ms, cap 10 s), at least retry_after_ms and at least min_ms; 0 for other
 * retryable errors unless min_ms. Never more than deadline_left_ms; returns UINT64_MAX
 * when the wait does not fit in the deadline (do not retry). */
uint64_t sl_policy_backoff_ms(int attempt, int was_rate_limited, uint64_t retry_after_ms,
                              uint64_t min_ms, uint64_t deadline_left_ms, uint64_t *rng);

/* Rough prompt-token estimate from the characters of the request's text (~4 per token). */
int64_t sl_policy_estimate_tokens(size_t text_chars);

#endif
