/* What a failed attempt means for the request: retry elsewhere, go to a special
 * fallback list, or hand the upstream's answer to the client as it came. Pure: it looks
 * only at the status, the transport outcome and the error body text. */
#ifndef SL_POLICY_CLASSIFY_H
#define SL_POLICY_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

/* The class of an upstream answer (what it means for retrying), not what happened to the
 * attempt: that is enum sl_attempt_outcome (policy/outcome.h, the access log's names). */
enum sl_outcome {
  SL_OUT_OK = 0,          /* 2xx */
  SL_OUT_RETRY,           /* connect failure, reset, timeout, 408, 429, 500, 502, 503, 504, 529 */
  SL_OUT_RETRY_COOLDOWN,  /* 401, 403, 404 from the upstream: retry elsewhere, cool this one down */
  SL_OUT_CONTEXT_WINDOW,  /* 400 whose body says the context length was exceeded */
  SL_OUT_CONTENT_POLICY,  /* 400 whose body says a content policy / filter refused it */
  SL_OUT_CLIENT,          /* other 4xx: the client's fault, passed through */
};

/* transport_failed: the exchange failed before a complete status (status is then 0);
 * any transport failure or status <= 0 is RETRY. 400 (and 413, 422, which some servers
 * use for the same refusals) look at the body: phrases of context-window errors
 * ("context_length_exceeded", "maximum context length", "prompt is too long", "too many
 * tokens", "input is too long", ...) give CONTEXT_WINDOW, else content-policy phrases
 * ("content_policy_violation", "content_filter", "content management policy", "safety
 * system", ...) give CONTENT_POLICY, else CLIENT; matched ignoring case. Other 4xx are
 * CLIENT, other 5xx RETRY; 1xx/3xx (never a proper answer from an LLM API) RETRY. */
enum sl_outcome sl_policy_classify(int status, int transport_failed, const char *body, size_t n);

/* Retry-After header value (delta-seconds, possibly fractional, or an HTTP date given
 * now_unix) in milliseconds; 0 when absent or unparseable. Capped at one hour.
 * Fractions round up to the next ms; a date in the past (or now) gives 0. Dates: the
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and the obsolete RFC 850 and asctime
 * forms (RFC 9110 5.6.7); surrounding spaces are ignored. */
uint64_t sl_policy_retry_after_ms(const char *v, size_t n, int64_t now_unix);
/* The `retry-after-ms` header (OpenAI, Azure): milliseconds, possibly fractional (rounded
 * up), capped at one hour; 0 when absent or unparseable. Prefer it to Retry-After when
 * both are present. */
uint64_t sl_policy_retry_after_ms_value(const char *v, size_t n);

/* Delay before retry `attempt` (1 = first retry): exponential with full jitter for 429s
 * (uniform in [0, min(10 s, 100 ms x 2^(attempt-1))]), at least retry_after_ms and at
 * least min_ms; for other retryable errors min_ms (retry_after_ms is ignored there).
 * Pass retry_after_ms only when the retry may land where it was said (e.g. no other
 * deployment is available): a retry on another deployment need not wait for it.
 * deadline_left_ms: UINT64_MAX for no deadline. Returns UINT64_MAX when the floor
 * (retry_after_ms, min_ms) is not less than deadline_left_ms (do not retry: no time
 * would be left for the call); a jittered wait that would not fit is cut to the floor
 * plus half of what is left. rng is used only for 429s. */
uint64_t sl_policy_backoff_ms(int attempt, int was_rate_limited, uint64_t retry_after_ms,
                              uint64_t min_ms, uint64_t deadline_left_ms, uint64_t *rng);

/* Delay before the next attempt of a request after a failure (retry = how many attempts
 * already ran in the group, 1 for the first retry). min_ms is the router's retry_after:
 * the least wait before any retry, never added on top of a back-off. same_deployment:
 * the retry goes back to a deployment this request already tried (none other is
 * available): back-off with equal jitter for any retryable error (uniform in [top/2, top],
 * top = min(10 s, 200 ms x 2^(retry-1))), at least provider_retry_after_ms (its
 * Retry-After). Otherwise (an untried deployment): a 429 waits the full jitter of
 * sl_policy_backoff_ms, any other error none, both at least min_ms. Returns UINT64_MAX
 * when the floor does not leave time for the call within deadline_left_ms (give up now
 * rather than wait for nothing); a jittered wait that would not fit is cut to the floor
 * plus half of what is left. */
uint64_t sl_policy_retry_delay_ms(int retry, int was_rate_limited, int same_deployment,
                                  uint64_t provider_retry_after_ms, uint64_t min_ms,
                                  uint64_t deadline_left_ms, uint64_t *rng);

/* Rough prompt-token estimate from the characters of the request's text (~4 per token). */
int64_t sl_policy_estimate_tokens(size_t text_chars);

#endif
