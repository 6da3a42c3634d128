/* policy/classify: status and body classification with real provider error bodies,
 * Retry-After in all its forms, backoff with fixed seeds, the token estimate. */
#include "check.h"
#include "policy/classify.h"

static enum sl_outcome cls(int status, const char *body) {
  return sl_policy_classify(status, 0, body, body ? strlen(body) : 0);
}

static void statuses(void) {
  CHECK(sl_policy_classify(0, 1, NULL, 0) == SL_OUT_RETRY);  /* connect failure, reset, timeout */
  CHECK(sl_policy_classify(0, 0, NULL, 0) == SL_OUT_RETRY);  /* no status at all */
  CHECK(sl_policy_classify(200, 1, NULL, 0) == SL_OUT_RETRY); /* cut before complete */
  CHECK(cls(200, NULL) == SL_OUT_OK && cls(201, "") == SL_OUT_OK && cls(299, NULL) == SL_OUT_OK);
  int retry[] = {408, 429, 500, 502, 503, 504, 529, 501, 520, 599};
  for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) CHECK(cls(retry[i], "{}") == SL_OUT_RETRY);
  CHECK(cls(401, NULL) == SL_OUT_RETRY_COOLDOWN && cls(403, "") == SL_OUT_RETRY_COOLDOWN &&
        cls(404, "{\"error\":{\"message\":\"The model `gpt-9` does not exist\"}}") == SL_OUT_RETRY_COOLDOWN);
  CHECK(cls(400, "{\"error\":{\"message\":\"Invalid 'messages': empty array\"}}") == SL_OUT_CLIENT);
  CHECK(cls(400, NULL) == SL_OUT_CLIENT && cls(409, "") == SL_OUT_CLIENT && cls(422, "{}") == SL_OUT_CLIENT &&
        cls(499, NULL) == SL_OUT_CLIENT);
  CHECK(cls(302, NULL) == SL_OUT_RETRY && cls(100, NULL) == SL_OUT_RETRY);
  /* a 500 mentioning context length is still a 500 */
  CHECK(cls(500, "maximum context length") == SL_OUT_RETRY);
  /* a 401 saying content policy is still auth */
  CHECK(cls(401, "content_policy_violation") == SL_OUT_RETRY_COOLDOWN);
}

static void context_window_bodies(void) {
  const char *bodies[] = {
    /* OpenAI */
    "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens. However, your messages "
    "resulted in 9000 tokens. Please reduce the length of the messages.\",\"type\":\"invalid_request_error\","
    "\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}",
    "{\"error\":{\"code\":\"CONTEXT_LENGTH_EXCEEDED\"}}",
    /* Anthropic */
    "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: "
    "215000 tokens > 200000 maximum\"}}",
    "{\"type\":\"error\",\"error\":{\"message\":\"input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000\"}}",
    /* Bedrock */
    "{\"message\":\"Input is too long for requested model.\"}",
    "{\"message\":\"too many tokens\"}",
    /* Gemini / Vertex */
    "{\"error\":{\"code\":400,\"message\":\"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).\"}}",
    /* Mistral */
    "{\"message\":\"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length\"}",
    /* vLLM */
    "{\"object\":\"error\",\"message\":\"This model's Maximum Context Length is 4096 tokens.\"}",
    "{\"error\":{\"message\":\"Request exceeds the context window of this model\"}}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    CHECK(cls(400, bodies[i]) == SL_OUT_CONTEXT_WINDOW);
    if (cls(400, bodies[i]) != SL_OUT_CONTEXT_WINDOW) printf("  not context: %s\n", bodies[i]);
  }
  CHECK(cls(413, "prompt is too long") == SL_OUT_CONTEXT_WINDOW);
  CHECK(cls(422, "Input validation error: inputs tokens + max_new_tokens must be <= 4096; context length") ==
        SL_OUT_CONTEXT_WINDOW);
  /* the length given is honoured: the phrase cut short is not found */
  const char *b = "... maximum context length ...";
  CHECK(sl_policy_classify(400, 0, b, 12) == SL_OUT_CLIENT);
  CHECK(sl_policy_classify(400, 0, b, strlen(b)) == SL_OUT_CONTEXT_WINDOW);
}

static void content_policy_bodies(void) {
  const char *bodies[] = {
    /* Azure OpenAI */
    "{\"error\":{\"message\":\"The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy.\",\"type\":null,\"param\":\"prompt\",\"code\":\"content_filter\",\"status\":400,"
    "\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\"}}}",
    /* OpenAI images */
    "{\"error\":{\"code\":\"content_policy_violation\",\"message\":\"Your request was rejected as a result of "
    "our safety system.\"}}",
    "{\"error\":{\"message\":\"Invalid prompt: your prompt was flagged as potentially violating our usage policy.\","
    "\"code\":\"invalid_prompt\"}}",
    "{\"error\":{\"message\":\"This request violates our Content Policy.\"}}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) CHECK(cls(400, bodies[i]) == SL_OUT_CONTENT_POLICY);
}

static uint64_t ra(const char *v, int64_t now) { return sl_policy_retry_after_ms(v, strlen(v), now); }

static void retry_after_seconds(void) {
  CHECK(ra("120", 0) == 120000);
  CHECK(ra("0", 0) == 0);
  CHECK(ra(" 7 ", 0) == 7000 && ra("\t3", 0) == 3000);
  CHECK(ra("1.5", 0) == 1500 && ra("0.25", 0) == 250 && ra(".5", 0) == 500 && ra("2.", 0) == 2000);
  CHECK(ra("0.0001", 0) == 1);     /* fractions round up: never wait less than asked */
  CHECK(ra("1.0005", 0) == 1001);
  CHECK(ra("0.0000", 0) == 0);
  CHECK(ra("3600", 0) == 3600000 && ra("3601", 0) == 3600000 && ra("99999999999999999999999", 0) == 3600000);
  CHECK(ra("", 0) == 0 && ra("   ", 0) == 0 && sl_policy_retry_after_ms(NULL, 0, 0) == 0);
  CHECK(ra("-1", 0) == 0 && ra("10s", 0) == 0 && ra("1 2", 0) == 0 && ra("1e3", 0) == 0 && ra(".", 0) == 0);
  /* n limits the read: "12" of "120" */
  CHECK(sl_policy_retry_after_ms("120", 2, 0) == 12000);
}

static void retry_after_dates(void) {
  /* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) */
  const int64_t t = 784111777;
  CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT", t - 30) == 30000);
  CHECK(ra("Sunday, 06-Nov-94 08:49:37 GMT", t - 30) == 30000); /* RFC 850 */
  CHECK(ra("Sun Nov  6 08:49:37 1994", t - 30) == 30000);       /* asctime */
  CHECK(ra("Sun Nov 6 08:49:37 1994", t - 30) == 30000);
  CHECK(ra("sun, 06 nov 1994 08:49:37 gmt", t - 1) == 1000);
  CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT", t) == 0);     /* now: no wait */
  CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT", t + 5) == 0); /* past */
  CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT", t - 7200) == 3600000); /* capped */
  /* more dates against timegm-free arithmetic: leap days, century rules, year ends */
  CHECK(ra("Thu, 01 Jan 1970 00:00:10 GMT", 0) == 10000);
  CHECK(ra("Thu, 29 Feb 2024 12:00:00 GMT", 1709207990) == 10000);     /* 2024-02-29T12:00:00Z = 1709208000 */
  CHECK(ra("Tue, 29 Feb 2000 00:00:00 GMT", 951782400 - 1) == 1000);   /* 2000 is a leap year */
  CHECK(ra("Fri, 31 Dec 2038 23:59:59 GMT", 2177452799 - 2) == 2000);  /* past 2^31 */
  CHECK(ra("Wed, 01 Mar 2100 00:00:00 GMT", 4107542400 - 3) == 3000);
  CHECK(ra("Mon, 29 Feb 2100 00:00:00 GMT", 0) == 0);                  /* 2100 is not */
  CHECK(ra("Sat, 31 Apr 2021 00:00:00 GMT", 0) == 0);
  CHECK(ra("Sun, 06 Nov 1994 24:00:00 GMT", 0) == 0);
  CHECK(ra("Sun, 06 Nov 1994 08:49:37", 0) == 0);      /* IMF-fixdate needs its zone */
  CHECK(ra("Sun, 06 Xyz 1994 08:49:37 GMT", 0) == 0);
  CHECK(ra("Sun, 06 Nov 1994 08:49:37 GMT trailing", 0) == 0);
  CHECK(ra("Sun, 6 Nov 1994 8:49:37 GMT", 0) == 0);
  CHECK(ra("tomorrow", 0) == 0);
}

static void retry_after_ms_header(void) {
  CHECK(sl_policy_retry_after_ms_value("250", 3) == 250);
  CHECK(sl_policy_retry_after_ms_value(" 12.2 ", 6) == 13);
  CHECK(sl_policy_retry_after_ms_value("99999999", 8) == 3600000);
  CHECK(sl_policy_retry_after_ms_value("x", 1) == 0 && sl_policy_retry_after_ms_value(NULL, 0) == 0);
}

static void backoff_rate_limited(void) {
  uint64_t rng = 12345;
  /* attempt a: uniform in [0, min(10000, 100 * 2^(a-1))] */
  for (int a = 1; a <= 12; a++) {
    uint64_t top = a >= 8 ? 10000 : 100ULL << (a - 1);
    uint64_t lo = UINT64_MAX, hi = 0;
    double sum = 0;
    for (int k = 0; k < 10000; k++) {
      uint64_t d = sl_policy_backoff_ms(a, 1, 0, 0, UINT64_MAX, &rng);
      CHECK(d <= top);
      if (d < lo) lo = d;
      if (d > hi) hi = d;
      sum += (double)d;
    }
    CHECK(lo <= top / 50 && hi >= top - top / 50);
    CHECK(sum / 10000 > top * 0.47 && sum / 10000 < top * 0.53);
  }
  /* Retry-After and min_ms are floors */
  for (int k = 0; k < 1000; k++) {
    uint64_t d = sl_policy_backoff_ms(1, 1, 3000, 0, UINT64_MAX, &rng);
    CHECK(d == 3000);
    d = sl_policy_backoff_ms(20, 1, 3000, 4000, UINT64_MAX, &rng);
    CHECK(d >= 4000 && d <= 10000);
  }
  CHECK(sl_policy_backoff_ms(0, 1, 0, 0, UINT64_MAX, &rng) <= 100);  /* attempt < 1 acts as 1 */
  CHECK(sl_policy_backoff_ms(-5, 1, 0, 0, UINT64_MAX, &rng) <= 100);
  /* same seed, same waits */
  uint64_t a = 99, b = 99;
  for (int k = 0; k < 20; k++)
    CHECK(sl_policy_backoff_ms(k, 1, 0, 0, UINT64_MAX, &a) == sl_policy_backoff_ms(k, 1, 0, 0, UINT64_MAX, &b));
}

static void backoff_other_and_deadline(void) {
  uint64_t rng = 5, before = rng;
  CHECK(sl_policy_backoff_ms(1, 0, 0, 0, 10000, &rng) == 0);
  CHECK(sl_policy_backoff_ms(3, 0, 5000, 0, 10000, &rng) == 0); /* Retry-After only for 429 */
  CHECK(sl_policy_backoff_ms(3, 0, 0, 250, 10000, &rng) == 250);
  CHECK(rng == before); /* no randomness spent */
  /* the floor must leave time for the call */
  CHECK(sl_policy_backoff_ms(1, 1, 5000, 0, 5000, &rng) == UINT64_MAX);
  CHECK(sl_policy_backoff_ms(1, 1, 5000, 0, 4000, &rng) == UINT64_MAX);
  CHECK(sl_policy_backoff_ms(1, 1, 4999, 0, 5000, &rng) == 4999);
  CHECK(sl_policy_backoff_ms(1, 0, 0, 300, 300, &rng) == UINT64_MAX);
  CHECK(sl_policy_backoff_ms(1, 0, 0, 0, 0, &rng) == UINT64_MAX); /* no time left at all */
  /* jitter longer than the deadline allows is cut to floor + half of what is left */
  int cut = 0;
  for (int k = 0; k < 1000; k++) {
    uint64_t d = sl_policy_backoff_ms(10, 1, 0, 0, 1000, &rng);
    CHECK(d < 1000);
    d = sl_policy_backoff_ms(10, 1, 600, 0, 1000, &rng); /* jitter in [0, 10000] */
    CHECK(d >= 600 && d < 1000);
    cut += d == 800;
  }
  CHECK(cut > 900); /* ~90% of the jitter did not fit and was cut to 600 + 400/2 */
}

/* The wait before the next attempt: retry_after is a floor, never added to a back-off;
 * going back to a tried deployment backs off with jitter and honours its Retry-After. */
static void retry_delay(void) {
  uint64_t rng = 7;
  /* an untried deployment: other errors wait only the floor, 429s the full jitter */
  CHECK(sl_policy_retry_delay_ms(1, 0, 0, 9000, 0, 60000, &rng) == 0);
  CHECK(sl_policy_retry_delay_ms(1, 0, 0, 9000, 5000, 60000, &rng) == 5000);
  for (int k = 0; k < 1000; k++) CHECK(sl_policy_retry_delay_ms(1, 1, 0, 9000, 0, 60000, &rng) <= 100);
  /* the same deployment: equal jitter in [top/2, top], top = 200 ms x 2^(retry-1), cap 10 s */
  for (int r = 1; r <= 9; r++) {
    uint64_t top = r >= 7 ? 10000 : 200ULL << (r - 1), lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 2000; k++) {
      uint64_t d = sl_policy_retry_delay_ms(r, 0, 1, 0, 0, UINT64_MAX, &rng);
      CHECK(d >= top / 2 && d <= top);
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    CHECK(lo <= top / 2 + top / 40 && hi >= top - top / 40); /* it is jittered */
  }
  /* floors: retry_after and the provider's Retry-After, the larger; not added to the jitter */
  for (int k = 0; k < 200; k++) {
    uint64_t d = sl_policy_retry_delay_ms(1, 0, 1, 0, 5000, 60000, &rng);
    CHECK(d == 5000);
    d = sl_policy_retry_delay_ms(1, 1, 1, 3000, 1000, 60000, &rng);
    CHECK(d == 3000);
    d = sl_policy_retry_delay_ms(9, 0, 1, 0, 1000, UINT64_MAX, &rng);
    CHECK(d >= 5000 && d <= 10000);
  }
  /* a floor that leaves no time for the call: give up now */
  CHECK(sl_policy_retry_delay_ms(1, 0, 1, 0, 5000, 5000, &rng) == UINT64_MAX);
  CHECK(sl_policy_retry_delay_ms(1, 1, 1, 8000, 0, 5000, &rng) == UINT64_MAX);
  CHECK(sl_policy_retry_delay_ms(1, 0, 0, 0, 5000, 4000, &rng) == UINT64_MAX);
  /* jitter that does not fit is cut to floor + half of what is left */
  CHECK(sl_policy_retry_delay_ms(9, 0, 1, 0, 100, 1000, &rng) == 550);
  /* same seed, same waits */
  uint64_t a = 3, b = 3;
  for (int k = 1; k < 20; k++)
    CHECK(sl_policy_retry_delay_ms(k, 0, 1, 0, 0, UINT64_MAX, &a) == sl_policy_retry_delay_ms(k, 0, 1, 0, 0, UINT64_MAX, &b));
}

static void token_estimate(void) {
  CHECK(sl_policy_estimate_tokens(0) == 0);
  CHECK(sl_policy_estimate_tokens(1) == 1 && sl_policy_estimate_tokens(4) == 1 && sl_policy_estimate_tokens(5) == 2);
  CHECK(sl_policy_estimate_tokens(400000) == 100000);
}

CHECK_MAIN(T(statuses), T(context_window_bodies), T(content_policy_bodies), T(retry_after_seconds),
           T(retry_after_dates), T(retry_after_ms_header), T(backoff_rate_limited), T(backoff_other_and_deadline),
           T(retry_delay), T(token_estimate))
