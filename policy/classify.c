/* What a failed attempt means (see classify.h): status and error-body classification,
 * Retry-After parsing, retry backoff and the prompt-token estimate. The one idea: a
 * status code alone decides almost everything; only a 400-class answer needs its body
 * read, and then a short list of phrases that providers actually send (matched without
 * regard to case, on raw bytes, with no JSON parse) tells a context-window or
 * content-policy refusal from an ordinary client error. */
#include "policy/classify.h"

#include <stdbool.h>

#include "policy/choose.h" /* sl_policy_rand01 */

#define HOUR_MS 3600000ULL
#define BACKOFF_BASE_MS 100ULL
#define BACKOFF_CAP_MS 10000ULL

/* ------------------------------------------------------------------ body phrases */

/* Context window exceeded, as worded by OpenAI (code context_length_exceeded, "This
 * model's maximum context length is"), Azure, vLLM ("maximum context length"), Anthropic
 * ("prompt is too long", "exceed context limit"), Bedrock ("too many tokens", "Input is
 * too long"), Gemini/Vertex ("exceeds the maximum number of tokens"), Mistral ("too large
 * for model with ... maximum context length"), OpenAI's "string too long". */
static const char *const context_phrases[] = {
  "context_length_exceeded", "context length", "context limit", "context window",
  "prompt is too long", "prompt too long", "too many tokens", "input is too long",
  "input too long", "string too long", "exceeds the maximum number of tokens",
  "too large for model", NULL,
};

/* Content policy refusals: OpenAI (content_policy_violation, "content policy", "safety
 * system", invalid_prompt "usage policy"), Azure (code content_filter, "content
 * management policy", ResponsibleAIPolicyViolation). */
static const char *const policy_phrases[] = {
  "content_policy_violation", "content_filter", "content management policy", "content policy",
  "safety system", "responsibleaipolicyviolation", "usage policy", NULL,
};

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }

/* Does hay[0..n) contain needle (lowercase ASCII), ignoring case? */
static bool has_ci(const char *hay, size_t n, const char *needle) {
  size_t m = 0;
  while (needle[m]) m++;
  if (m == 0) return true;
  if (n < m) return false;
  for (size_t i = 0; i + m <= n; i++) {
    if (lower(hay[i]) != needle[0]) continue;
    size_t j = 1;
    while (j < m && lower(hay[i + j]) == needle[j]) j++;
    if (j == m) return true;
  }
  return false;
}

static bool has_any(const char *hay, size_t n, const char *const *phrases) {
  if (!hay) return false;
  for (size_t i = 0; phrases[i]; i++)
    if (has_ci(hay, n, phrases[i])) return true;
  return false;
}

enum sl_outcome sl_policy_classify(int status, int transport_failed, const char *body, size_t n) {
  if (transport_failed || status <= 0) return SL_OUT_RETRY;
  if (status >= 200 && status <= 299) return SL_OUT_OK;
  switch (status) {
  case 408: case 429: case 500: case 502: case 503: case 504: case 529: return SL_OUT_RETRY;
  case 401: case 403: case 404: return SL_OUT_RETRY_COOLDOWN;
  case 400: case 413: case 422: /* 413/422: some servers (TGI, proxies) say "too long" so */
    if (has_any(body, n, context_phrases)) return SL_OUT_CONTEXT_WINDOW;
    if (has_any(body, n, policy_phrases)) return SL_OUT_CONTENT_POLICY;
    return SL_OUT_CLIENT;
  default: break;
  }
  if (status >= 400 && status <= 499) return SL_OUT_CLIENT;
  return SL_OUT_RETRY; /* other 5xx; and 1xx/3xx/nonsense: not an answer to pass on */
}

/* ------------------------------------------------------------------ Retry-After */

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* A non-negative decimal number of `unit_ms` units (1000 for seconds, 1 for ms), possibly
 * fractional, as whole ms rounded up and capped at an hour; false if s is not exactly
 * such a number. */
static bool parse_number_ms(const char *s, size_t n, uint64_t unit_ms, uint64_t *out) {
  size_t i = 0;
  uint64_t whole = 0;
  bool digits = false;
  while (i < n && is_digit(s[i])) {
    if (whole < HOUR_MS) whole = whole * 10 + (uint64_t)(s[i] - '0');
    i++, digits = true;
  }
  uint64_t frac_ms = 0; /* fractional part in ms, rounded up */
  if (i < n && s[i] == '.') {
    i++;
    uint64_t scale = unit_ms; /* ms worth of the next digit x 10 */
    bool rest = false;
    while (i < n && is_digit(s[i])) {
      unsigned d = (unsigned)(s[i] - '0');
      if (scale >= 10) {
        scale /= 10;
        frac_ms += d * scale;
      } else if (d) {
        rest = true;
      }
      i++, digits = true;
    }
    if (rest) frac_ms++;
  }
  if (!digits || i != n) return false;
  uint64_t ms = whole >= HOUR_MS ? HOUR_MS : whole * unit_ms + frac_ms;
  *out = ms > HOUR_MS ? HOUR_MS : ms;
  return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

struct cur {
  const char *s;
  size_t n, i;
};

static void skip_spaces(struct cur *c) {
  while (c->i < c->n && c->s[c->i] == ' ') c->i++;
}
static bool eat(struct cur *c, char ch) {
  if (c->i < c->n && c->s[c->i] == ch) return c->i++, true;
  return false;
}
/* 1..max digits; the count read goes to *nd. */
static bool num(struct cur *c, unsigned max, unsigned *v, unsigned *nd) {
  unsigned k = 0, x = 0;
  while (k < max && c->i < c->n && is_digit(c->s[c->i])) x = x * 10 + (unsigned)(c->s[c->i++] - '0'), k++;
  if (nd) *nd = k;
  *v = x;
  return k > 0;
}
static size_t letters(struct cur *c) {
  size_t k = 0;
  while (c->i < c->n && ((c->s[c->i] | 0x20) >= 'a' && (c->s[c->i] | 0x20) <= 'z')) c->i++, k++;
  return k;
}
static bool month(struct cur *c, unsigned *m) {
  static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  if (c->n - c->i < 3) return false;
  for (unsigned k = 0; k < 12; k++) {
    if (lower(c->s[c->i]) == names[3 * k] && lower(c->s[c->i + 1]) == names[3 * k + 1] &&
        lower(c->s[c->i + 2]) == names[3 * k + 2]) {
      c->i += 3;
      *m = k + 1;
      return true;
    }
  }
  return false;
}
static bool hms(struct cur *c, unsigned *h, unsigned *mi, unsigned *se) {
  unsigned nd;
  return num(c, 2, h, &nd) && nd == 2 && eat(c, ':') && num(c, 2, mi, &nd) && nd == 2 && eat(c, ':') &&
         num(c, 2, se, &nd) && nd == 2 && *h < 24 && *mi < 60 && *se <= 60;
}
static bool gmt(struct cur *c) {
  skip_spaces(c);
  size_t at = c->i;
  size_t k = letters(c);
  if (k != 3) return false;
  return has_ci(c->s + at, 3, "gmt") || has_ci(c->s + at, 3, "utc");
}

/* An HTTP-date (RFC 9110 5.6.7) in seconds since the epoch: IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37
 * GMT" and asctime "Sun Nov  6 08:49:37 1994" that recipients must also accept. */
static bool parse_http_date(const char *s, size_t n, int64_t *out) {
  struct cur c = {s, n, 0};
  unsigned day, mon, year, h, mi, se, nd;
  if (letters(&c) < 3) return false; /* weekday, not checked against the date */
  bool comma = eat(&c, ',');
  skip_spaces(&c);
  if (comma) {
    /* IMF-fixdate or RFC 850: day, month, year separated by ' ' or '-' */
    if (!num(&c, 2, &day, NULL)) return false;
    char sep = c.i < c.n ? c.s[c.i] : 0;
    if (sep != ' ' && sep != '-') return false;
    c.i++;
    if (!month(&c, &mon) || !eat(&c, sep) || !num(&c, 4, &year, &nd)) return false;
    if (nd == 2) year += year < 70 ? 2000 : 1900; /* RFC 850 two-digit year */
    else if (nd != 4) return false;
    skip_spaces(&c);
    if (!hms(&c, &h, &mi, &se) || !gmt(&c)) return false;
  } else {
    /* asctime: month, day (space padded), time, year; no zone (GMT by definition) */
    if (!month(&c, &mon)) return false;
    skip_spaces(&c);
    if (!num(&c, 2, &day, NULL)) return false;
    skip_spaces(&c);
    if (!hms(&c, &h, &mi, &se)) return false;
    skip_spaces(&c);
    if (!num(&c, 4, &year, &nd) || nd != 4) return false;
  }
  skip_spaces(&c);
  if (c.i != c.n) return false;
  static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day < 1 || day > mdays[mon - 1] || (mon == 2 && day == 29 && !leap)) return false;
  *out = days_from_civil(year, mon, day) * 86400 + (int64_t)(h * 3600 + mi * 60 + se);
  return true;
}

static void trim(const char **v, size_t *n) {
  while (*n && is_ows((*v)[0])) (*v)++, (*n)--;
  while (*n && is_ows((*v)[*n - 1])) (*n)--;
}

uint64_t sl_policy_retry_after_ms(const char *v, size_t n, int64_t now_unix) {
  if (!v) return 0;
  trim(&v, &n);
  if (n == 0) return 0;
  uint64_t ms;
  if (is_digit(v[0]) || v[0] == '.') return parse_number_ms(v, n, 1000, &ms) ? ms : 0;
  int64_t at;
  if (!parse_http_date(v, n, &at) || at <= now_unix) return 0;
  uint64_t delta = (uint64_t)(at - now_unix);
  return delta >= HOUR_MS / 1000 ? HOUR_MS : delta * 1000;
}

uint64_t sl_policy_retry_after_ms_value(const char *v, size_t n) {
  if (!v) return 0;
  trim(&v, &n);
  uint64_t ms;
  return n && parse_number_ms(v, n, 1, &ms) ? ms : 0;
}

/* ------------------------------------------------------------------ backoff */

uint64_t sl_policy_backoff_ms(int attempt, int was_rate_limited, uint64_t retry_after_ms,
                              uint64_t min_ms, uint64_t deadline_left_ms, uint64_t *rng) {
  uint64_t floor = min_ms, jitter = 0;
  if (was_rate_limited) {
    if (retry_after_ms > floor) floor = retry_after_ms;
    unsigned shift = attempt > 1 ? (unsigned)(attempt - 1) : 0;
    uint64_t top = shift >= 7 ? BACKOFF_CAP_MS : BACKOFF_BASE_MS << shift; /* 100 << 7 > cap */
    if (top > BACKOFF_CAP_MS) top = BACKOFF_CAP_MS;
    jitter = (uint64_t)(sl_policy_rand01(rng) * (double)(top + 1)); /* full jitter: [0, top] */
    if (jitter > top) jitter = top;
  }
  if (floor >= deadline_left_ms) return UINT64_MAX; /* no time would be left for the call */
  uint64_t d = jitter > floor ? jitter : floor;
  if (d >= deadline_left_ms) d = floor + (deadline_left_ms - floor) / 2; /* jitter only: shorten */
  return d;
}

#define RETRY_SAME_BASE_MS 200ULL

uint64_t sl_policy_retry_delay_ms(int retry, int was_rate_limited, int same_deployment,
                                  uint64_t provider_retry_after_ms, uint64_t min_ms,
                                  uint64_t deadline_left_ms, uint64_t *rng) {
  if (!same_deployment) return sl_policy_backoff_ms(retry, was_rate_limited, 0, min_ms, deadline_left_ms, rng);
  uint64_t floor = min_ms > provider_retry_after_ms ? min_ms : provider_retry_after_ms;
  unsigned shift = retry > 1 ? (unsigned)(retry - 1) : 0;
  uint64_t top = shift >= 6 ? BACKOFF_CAP_MS : RETRY_SAME_BASE_MS << shift; /* 200 << 6 > cap */
  if (top > BACKOFF_CAP_MS) top = BACKOFF_CAP_MS;
  uint64_t half = top / 2, jitter = half + (uint64_t)(sl_policy_rand01(rng) * (double)(top - half + 1));
  if (jitter > top) jitter = top;
  if (floor >= deadline_left_ms) return UINT64_MAX;
  uint64_t d = jitter > floor ? jitter : floor;
  if (d >= deadline_left_ms) d = floor + (deadline_left_ms - floor) / 2;
  return d;
}

int64_t sl_policy_estimate_tokens(size_t text_chars) {
  return (int64_t)(text_chars / 4 + (text_chars % 4 != 0)); /* rounded up */
}
