/* policy/attempt_verdict and policy/outcome: the after-failure verdict as a table of
 * cases (429 with Retry-After, 500 retried then fallback, 401 not retried, refusals
 * fall back without touching health, timeouts give 504, a passed deadline gives up, a
 * hedge still running is waited for), with fixed seeds and a fake clock (the time left
 * is passed in); give-up statuses and codes; hedge arm/fire; which attempts are billed;
 * and the names table of attempt outcomes against the strings clients and the access
 * log have always seen. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "policy/attempt_verdict.h"

#define SEED 0x9e3779b97f4a7c15ull

/* ---- outcome names ---- */

static void outcome_names(void) {
  static const struct {
    enum sl_attempt_outcome o;
    int status;
    const char *name;
  } t[] = {
    {SL_AO_RUNNING, 0, "running"},
    {SL_AO_OK, 200, "ok"},
    {SL_AO_HTTP_STATUS, 500, "http_500"},
    {SL_AO_HTTP_STATUS, 429, "http_429"},
    {SL_AO_HTTP_STATUS, 400, "http_400"},
    {SL_AO_HTTP_STATUS, 302, "http_302"},
    {SL_AO_HTTP_STATUS, 100, "http_100"},
    {SL_AO_HTTP_STATUS, 999, "http_999"},
    {SL_AO_HTTP_STATUS, 0, "http_status"},
    {SL_AO_HTTP_STATUS, 1000, "http_status"},
    {SL_AO_HTTP_STATUS, -1, "http_status"},
    {SL_AO_UPSTREAM_TIMEOUT, 0, "upstream_timeout"},
    {SL_AO_UPSTREAM_TLS_ERROR, 0, "upstream_tls_error"},
    {SL_AO_UPSTREAM_RESET, 0, "upstream_reset"},
    {SL_AO_UPSTREAM_CONNECT_ERROR, 0, "upstream_connect_error"},
    {SL_AO_UPSTREAM_PROTOCOL_ERROR, 0, "upstream_protocol_error"},
    {SL_AO_UPSTREAM_ERROR, 200, "upstream_error"},
    {SL_AO_OUT_OF_MEMORY, 200, "out_of_memory"},
    {SL_AO_INVALID_REQUEST, 0, "invalid_request"},
    {SL_AO_CLIENT_STALLED, 200, "client_stalled"},
    {SL_AO_CLIENT_CLOSED, 0, "client_closed"},
    {SL_AO_CANCELLED, 0, "cancelled"},
    {SL_AO_LOST_RACE, 0, "lost_race"},
    {SL_AO__COUNT, 0, "unknown"},
    {(enum sl_attempt_outcome)-1, 0, "unknown"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) CHECK_STR(sl_attempt_outcome_name(t[i].o, t[i].status), t[i].name);
  /* every status of the table, and every name distinct (status ignored off HTTP_STATUS) */
  char want[16];
  for (int s = 100; s <= 999; s++) {
    snprintf(want, sizeof want, "http_%d", s);
    CHECK_STR(sl_attempt_outcome_name(SL_AO_HTTP_STATUS, s), want);
  }
  for (int a = 0; a < SL_AO__COUNT; a++) {
    CHECK(strcmp(sl_attempt_outcome_name((enum sl_attempt_outcome)a, 777), "unknown") != 0);
    for (int b = a + 1; b < SL_AO__COUNT; b++)
      CHECK(strcmp(sl_attempt_outcome_name((enum sl_attempt_outcome)a, 0), sl_attempt_outcome_name((enum sl_attempt_outcome)b, 0)));
  }
}

/* ---- failure kind and blame ---- */

static void failure_kind_and_blame(void) {
  CHECK(sl_policy_failure_kind(429) == SL_FAIL_RATE_LIMIT);
  CHECK(sl_policy_failure_kind(401) == SL_FAIL_AUTH && sl_policy_failure_kind(403) == SL_FAIL_AUTH &&
        sl_policy_failure_kind(404) == SL_FAIL_AUTH);
  CHECK(sl_policy_failure_kind(500) == SL_FAIL_ERROR && sl_policy_failure_kind(0) == SL_FAIL_ERROR &&
        sl_policy_failure_kind(400) == SL_FAIL_ERROR && sl_policy_failure_kind(408) == SL_FAIL_ERROR);
  CHECK(sl_policy_failure_blames_deployment(SL_OUT_RETRY, false));
  CHECK(sl_policy_failure_blames_deployment(SL_OUT_RETRY_COOLDOWN, false));
  CHECK(!sl_policy_failure_blames_deployment(SL_OUT_CONTEXT_WINDOW, false)); /* the request's nature */
  CHECK(!sl_policy_failure_blames_deployment(SL_OUT_CONTENT_POLICY, false));
  CHECK(!sl_policy_failure_blames_deployment(SL_OUT_RETRY, true)); /* the client's own deadline */
}

/* ---- give up ---- */

static void give_up_table(void) {
  static const struct {
    bool attempted;
    enum sl_attempt_outcome o;
    int status;
    enum sl_choose_why why;
    uint64_t ra_ms;
    enum sl_give_up_kind kind;
    int want_status;
    const char *code;
    uint64_t ra_s;
  } t[] = {
    /* the provider's error passes through: 429 (its Retry-After travels with its headers) */
    {true, SL_AO_HTTP_STATUS, 429, SL_NONE_EMPTY, 0, SL_GIVE_UP_PASS_THROUGH, 429, "upstream_error", 0},
    {true, SL_AO_HTTP_STATUS, 500, SL_NONE_EMPTY, 0, SL_GIVE_UP_PASS_THROUGH, 500, "upstream_error", 0},
    {true, SL_AO_HTTP_STATUS, 401, SL_NONE_COOLING, 9000, SL_GIVE_UP_PASS_THROUGH, 401, "upstream_error", 0},
    /* no HTTP error: 504 for a timeout, else 502, the outcome's name as the code */
    {true, SL_AO_UPSTREAM_TIMEOUT, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 504, "upstream_timeout", 0},
    {true, SL_AO_UPSTREAM_RESET, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "upstream_reset", 0},
    {true, SL_AO_UPSTREAM_CONNECT_ERROR, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "upstream_connect_error", 0},
    {true, SL_AO_UPSTREAM_TLS_ERROR, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "upstream_tls_error", 0},
    {true, SL_AO_UPSTREAM_PROTOCOL_ERROR, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "upstream_protocol_error", 0},
    {true, SL_AO_OUT_OF_MEMORY, 200, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "out_of_memory", 0},
    {true, SL_AO_HTTP_STATUS, 302, SL_NONE_EMPTY, 0, SL_GIVE_UP_ATTEMPT_FAILED, 502, "http_302", 0},
    /* nothing tried: why the choice found nobody */
    {false, SL_AO_RUNNING, 0, SL_NONE_RATE_LIMITED, 1500, SL_GIVE_UP_RATE_LIMITED, 429, "rate_limit_exceeded", 2},
    {false, SL_AO_RUNNING, 0, SL_NONE_RATE_LIMITED, 60000, SL_GIVE_UP_RATE_LIMITED, 429, "rate_limit_exceeded", 60},
    {false, SL_AO_RUNNING, 0, SL_NONE_RATE_LIMITED, 0, SL_GIVE_UP_RATE_LIMITED, 429, "rate_limit_exceeded", 1},
    {false, SL_AO_RUNNING, 0, SL_NONE_TOO_LONG, 5000, SL_GIVE_UP_TOO_LONG, 400, "context_length_exceeded", 0},
    {false, SL_AO_RUNNING, 0, SL_NONE_COOLING, 1, SL_GIVE_UP_NONE_AVAILABLE, 503, "no_healthy_deployment", 1},
    {false, SL_AO_RUNNING, 0, SL_NONE_COOLING, 4001, SL_GIVE_UP_NONE_AVAILABLE, 503, "no_healthy_deployment", 5},
    {false, SL_AO_RUNNING, 0, SL_NONE_EXCLUDED, 0, SL_GIVE_UP_NONE_AVAILABLE, 503, "no_healthy_deployment", 1},
    {false, SL_AO_RUNNING, 0, SL_NONE_EMPTY, 0, SL_GIVE_UP_NONE_AVAILABLE, 503, "no_healthy_deployment", 1},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    struct sl_give_up g = sl_policy_give_up(t[i].attempted, t[i].o, t[i].status, t[i].why, t[i].ra_ms);
    CHECK(g.kind == t[i].kind);
    CHECK(g.status == t[i].want_status);
    CHECK_STR(g.code, t[i].code);
    CHECK(g.retry_after_s == t[i].ra_s);
  }
}

/* ---- after a failure ---- */

/* A request in its first group of three deployments, num_retries 2, 30 s left. */
static struct sl_failure_facts facts(enum sl_attempt_outcome o, int status, enum sl_outcome kind) {
  return (struct sl_failure_facts){.outcome = o, .status = status, .kind = kind, .live = 0, .left_ms = 30000,
                                   .attempts_in_group = 1, .max_retries = 2, .natt = 1, .max_attempts = 16,
                                   .untried_left = true, .min_retry_ms = 0};
}

static void after_failure_table(void) {
  struct sl_failure_facts f;
  struct sl_next v;
  uint64_t rng = SEED;

  /* 500, an untried deployment left: at once, on it; a tried one is allowed later */
  f = facts(SL_AO_HTTP_STATUS, 500, SL_OUT_RETRY);
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_ADVANCE_IN_GROUP && v.delay_ms == 0 && v.retry_same);
  CHECK(rng == SEED); /* a non-429 retry on an untried deployment draws nothing */
  /* ... with the router's retry_after as the least wait */
  f.min_retry_ms = 250;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_ADVANCE_IN_GROUP && v.delay_ms == 250);
  /* 500 again, nobody untried: back to a tried one after a back-off in [100, 200] ms */
  f = facts(SL_AO_HTTP_STATUS, 500, SL_OUT_RETRY);
  f.attempts_in_group = 2;
  f.natt = 2;
  f.untried_left = false;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_RETRY_SAME && v.retry_same);
  CHECK(v.delay_ms >= 200 && v.delay_ms <= 400); /* retry 2: top = 400, equal jitter */
  /* 500 on the third attempt of 1 + 2: the group is done, the fallbacks now */
  f.attempts_in_group = 3;
  f.natt = 3;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK && !v.retry_same && v.delay_ms == 0);
  /* ... also with an untried deployment left */
  f.untried_left = true;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK);
  /* the request's attempt cap ends the group too */
  f = facts(SL_AO_UPSTREAM_RESET, 0, SL_OUT_RETRY);
  f.natt = 16;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK);

  /* 401: never again on the same deployment; an untried one yes, else fall back */
  f = facts(SL_AO_HTTP_STATUS, 401, SL_OUT_RETRY_COOLDOWN);
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_ADVANCE_IN_GROUP && !v.retry_same && v.delay_ms == 0);
  f.untried_left = false;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK && !v.retry_same);

  /* a context-window or content-policy refusal falls back at once, untried or not (and
   * does not touch health: failure_kind_and_blame) */
  f = facts(SL_AO_HTTP_STATUS, 400, SL_OUT_CONTEXT_WINDOW);
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK && !v.retry_same);
  f.kind = SL_OUT_CONTENT_POLICY;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_FALL_BACK);

  /* a hedge still running: wait for it, whatever else holds; an answered request: none */
  f = facts(SL_AO_UPSTREAM_TIMEOUT, 0, SL_OUT_RETRY);
  f.live = 1;
  f.left_ms = 0;
  CHECK(sl_policy_after_failure(&f, &rng).step == SL_NEXT_WAIT_FOR_LIVE);
  f.answered = true;
  CHECK(sl_policy_after_failure(&f, &rng).step == SL_NEXT_NONE);

  /* the deadline passed (the client's own or the request timeout): give up, 504 after a
   * timeout, 502 after a reset, the provider's own error passed through */
  f = facts(SL_AO_UPSTREAM_TIMEOUT, 0, SL_OUT_RETRY);
  f.left_ms = 0;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_GIVE_UP && v.give_up.status == 504 && !strcmp(v.give_up.code, "upstream_timeout"));
  f.outcome = SL_AO_UPSTREAM_RESET;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_GIVE_UP && v.give_up.status == 502 && !strcmp(v.give_up.code, "upstream_reset"));
  f = facts(SL_AO_HTTP_STATUS, 503, SL_OUT_RETRY);
  f.left_ms = 0;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_GIVE_UP && v.give_up.kind == SL_GIVE_UP_PASS_THROUGH && v.give_up.status == 503);
}

static void after_failure_429(void) {
  struct sl_failure_facts f;
  struct sl_next v;
  /* 429 with Retry-After 5 s, another deployment untried: the retry need not wait for
   * the Retry-After, only the 429 jitter (uniform in [0, 100] ms on the first retry) */
  for (uint64_t seed = 1; seed <= 200; seed++) {
    uint64_t rng = seed * SEED, rng2 = rng;
    f = facts(SL_AO_HTTP_STATUS, 429, SL_OUT_RETRY);
    f.retry_after_ms = 5000;
    v = sl_policy_after_failure(&f, &rng);
    CHECK(v.step == SL_NEXT_ADVANCE_IN_GROUP && v.retry_same && v.delay_ms <= 100);
    /* the verdict's delay is sl_policy_retry_delay_ms with the same draws */
    CHECK(v.delay_ms == sl_policy_retry_delay_ms(1, 1, 0, 5000, 0, 30000, &rng2) && rng == rng2);
  }
  /* 429 with Retry-After 5 s and nobody else: the same deployment, not before 5 s */
  uint64_t rng = SEED;
  f = facts(SL_AO_HTTP_STATUS, 429, SL_OUT_RETRY);
  f.retry_after_ms = 5000;
  f.untried_left = false;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_RETRY_SAME && v.delay_ms == 5000);
  /* a fake clock: 8 s left, then 5 s, then 4 s: the Retry-After fits, then does not */
  f.left_ms = 8000;
  CHECK(sl_policy_after_failure(&f, &rng).delay_ms == 5000);
  f.left_ms = 5001;
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_RETRY_SAME && v.delay_ms == 5000);
  f.left_ms = 5000; /* no time would be left for the call: give the 429 to the client */
  v = sl_policy_after_failure(&f, &rng);
  CHECK(v.step == SL_NEXT_GIVE_UP && v.give_up.kind == SL_GIVE_UP_PASS_THROUGH && v.give_up.status == 429);
  f.left_ms = 4000;
  CHECK(sl_policy_after_failure(&f, &rng).step == SL_NEXT_GIVE_UP);
}

/* The same seed gives the same verdicts: a sequence of failures replays exactly. */
static void after_failure_replays(void) {
  uint64_t a = SEED, b = SEED;
  for (int i = 1; i <= 50; i++) {
    struct sl_failure_facts f = facts(SL_AO_HTTP_STATUS, i % 2 ? 429 : 502, SL_OUT_RETRY);
    f.attempts_in_group = 1 + i % 3;
    f.untried_left = i % 4 == 0;
    f.left_ms = 1000u * (uint64_t)i;
    struct sl_next x = sl_policy_after_failure(&f, &a), y = sl_policy_after_failure(&f, &b);
    CHECK(x.step == y.step && x.delay_ms == y.delay_ms && x.retry_same == y.retry_same);
    CHECK(x.step == SL_NEXT_GIVE_UP || x.delay_ms < f.left_ms);
  }
  CHECK(a == b && a != SEED);
}

/* ---- hedging ---- */

static struct sl_hedge_facts hedge(bool ringing) {
  return (struct sl_hedge_facts){.ringing = ringing, .enabled = true, .off = false, .fired = 0, .max_extra = 1,
                                 .answered = false, .head_seen = false, .budget_milli = 5000, .delay_ms = 300,
                                 .left_ms = 30000};
}

static void should_hedge_arm(void) {
  struct sl_hedge_facts f = hedge(false);
  struct sl_hedge_verdict v = sl_policy_should_hedge(&f);
  CHECK(v.step == SL_HEDGE_ARM && v.delay_ms == 300);
  f = hedge(false), f.enabled = false;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(false), f.off = true; /* the request said no */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(false), f.fired = 1; /* max_extra reached */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f.max_extra = 2;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_ARM);
  f = hedge(false), f.delay_ms = 0; /* no delay known (too few samples) */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(false), f.left_ms = 300; /* the hedge would ring at the deadline */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f.left_ms = 301;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_ARM);
  f = hedge(false), f.budget_milli = 0; /* the budget is asked when firing, not arming */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_ARM);
}

static void should_hedge_fire(void) {
  struct sl_hedge_facts f = hedge(true);
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_FIRE);
  f.head_seen = true; /* an attempt already has its head: it is answering */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(true), f.answered = true;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(true), f.fired = 1;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f = hedge(true), f.budget_milli = 999; /* less than one hedge in the budget */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_NO);
  f.budget_milli = 1000;
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_FIRE);
  f = hedge(true), f.delay_ms = 0, f.left_ms = 0; /* the timer rang: delay and time are the arming's */
  CHECK(sl_policy_should_hedge(&f).step == SL_HEDGE_FIRE);
}

/* ---- billing ---- */

static void billed_table(void) {
  static const struct {
    bool has_usage;
    int status;
    bool head;
    enum sl_attempt_outcome o;
    bool billed;
  } t[] = {
    {true, 200, true, SL_AO_OK, true},
    {true, 400, true, SL_AO_HTTP_STATUS, true}, /* reported usage always counts */
    {false, 200, true, SL_AO_OK, true},         /* an answer without usage: estimated */
    {false, 500, true, SL_AO_HTTP_STATUS, false},
    {false, 429, true, SL_AO_HTTP_STATUS, false},
    {false, 429, true, SL_AO_LOST_RACE, false}, /* refused, then cancelled: still nothing */
    {false, 0, false, SL_AO_LOST_RACE, true},   /* sent, cut off: the prompt was consumed */
    {false, 0, false, SL_AO_CANCELLED, true},
    {false, 0, false, SL_AO_CLIENT_CLOSED, true},
    {false, 0, false, SL_AO_UPSTREAM_TIMEOUT, true},
    {false, 0, false, SL_AO_UPSTREAM_CONNECT_ERROR, false},
    {false, 0, false, SL_AO_UPSTREAM_RESET, false},
    {false, 0, false, SL_AO_INVALID_REQUEST, false},
    {false, 0, false, SL_AO_RUNNING, false},
    {false, 200, true, SL_AO_UPSTREAM_PROTOCOL_ERROR, true}, /* a head came: it answered something */
    {false, 200, true, SL_AO_CLIENT_STALLED, true},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    CHECK(sl_policy_attempt_billed(t[i].has_usage, t[i].status, t[i].head, t[i].o) == t[i].billed);
}

CHECK_MAIN(T(outcome_names), T(failure_kind_and_blame), T(give_up_table), T(after_failure_table),
           T(after_failure_429), T(after_failure_replays), T(should_hedge_arm), T(should_hedge_fire),
           T(billed_table))
