/* spine: the pure parts of the request spine. Error codes and their one names table;
 * admission verdicts mapped to refusals (status, code, Retry-After); the summary record
 * built from a fake request (no loop, no sockets); the access-log line formatted from a
 * summary, byte for byte. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "core/errors.h"
#include "core/request_internal.h"
#include "core/summary.h"
#include "core/verdict.h"
#include "store/keys.h"

/* ---- error codes ---- */

static void every_code_has_one_distinct_name(void) {
  for (int i = 1; i < SL_ERR_N; i++) {
    if (i == SL_ERR_OUTCOME) continue;
    const char *n = sl_err_name((enum sl_err)i);
    CHECK(n != NULL && n[0]);
    if (!n) continue;
    CHECK(sl_err_parse(n) == (enum sl_err)i); /* round trip: no two codes share a name */
  }
  CHECK(sl_err_name(SL_ERR_NONE) == NULL);
  CHECK(sl_err_name(SL_ERR_OUTCOME) == NULL);
  CHECK(sl_err_name(SL_ERR_N) == NULL);
  CHECK(sl_err_name((enum sl_err) - 1) == NULL);
  CHECK(sl_err_parse(NULL) == SL_ERR_NONE);
  CHECK(sl_err_parse("upstream_reset") == SL_ERR_OUTCOME); /* an attempt outcome */
  CHECK(sl_err_parse("http_500") == SL_ERR_OUTCOME);
}

/* The wire strings clients and tests match on. */
static void wire_strings_are_unchanged(void) {
  CHECK_STR(sl_err_name(SL_ERR_INVALID_REQUEST), "invalid_request_error");
  CHECK_STR(sl_err_name(SL_ERR_INTERNAL), "internal_error");
  CHECK_STR(sl_err_name(SL_ERR_INVALID_API_KEY), "invalid_api_key");
  CHECK_STR(sl_err_name(SL_ERR_RATE_LIMIT_EXCEEDED), "rate_limit_exceeded");
  CHECK_STR(sl_err_name(SL_ERR_BUDGET_EXCEEDED), "budget_exceeded");
  CHECK_STR(sl_err_name(SL_ERR_MODEL_NOT_FOUND), "model_not_found");
  CHECK_STR(sl_err_name(SL_ERR_MODEL_NOT_ALLOWED), "model_not_allowed");
  CHECK_STR(sl_err_name(SL_ERR_KEY_TABLE_FULL), "key_table_full");
  CHECK_STR(sl_err_name(SL_ERR_ADMIN_ONLY), "admin_only");
  CHECK_STR(sl_err_name(SL_ERR_UPSTREAM_ERROR), "upstream_error");
  CHECK_STR(sl_err_name(SL_ERR_CLIENT_CLOSED), "client_closed");
  CHECK_STR(sl_err_name(SL_ERR_NO_HEALTHY_DEPLOYMENT), "no_healthy_deployment");
  CHECK_STR(sl_err_name(SL_ERR_JSON_TOO_MANY_VALUES), "json_too_many_values");
}

/* ---- verdicts ---- */

static void admission_verdicts_map_to_refusals(void) {
  static const struct {
    enum sl_admit_kind kind;
    uint64_t retry_after_s;
    int status;
    const char *code, *hdrs;
  } rows[] = {
      {SL_ADMIT_FORBIDDEN, 0, 403, "model_not_allowed", ""},
      {SL_ADMIT_BUDGET, 0, 429, "budget_exceeded", ""},
      {SL_ADMIT_PARALLEL, 1, 429, "rate_limit_exceeded", "Retry-After: 1\r\n"},
      {SL_ADMIT_RATE, 37, 429, "rate_limit_exceeded", "Retry-After: 37\r\n"},
      {SL_ADMIT_TABLE_FULL, 60, 503, "key_table_full", "Retry-After: 60\r\n"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct sl_admit_verdict v = {.kind = rows[i].kind, .retry_after_s = rows[i].retry_after_s};
    snprintf(v.msg, sizeof v.msg, "why %zu", i);
    struct sl_refusal r;
    sl_admit_refusal(&v, &r);
    CHECK(r.status == rows[i].status);
    CHECK_STR(sl_err_name(r.err), rows[i].code);
    CHECK_STR(r.hdrs, rows[i].hdrs);
    CHECK_STR(r.msg, v.msg);
  }
  /* OK or a kind out of range is never said as a success by mistake */
  struct sl_admit_verdict ok = {.kind = SL_ADMIT_OK};
  struct sl_refusal r;
  sl_admit_refusal(&ok, &r);
  CHECK(r.status == 500 && r.err == SL_ERR_INTERNAL);
  struct sl_admit_verdict bad = {.kind = (enum sl_admit_kind)99};
  sl_admit_refusal(&bad, &r);
  CHECK(r.status == 500 && r.err == SL_ERR_INTERNAL);
}

static void refuse_fills_and_says_no(void) {
  struct sl_refusal r;
  CHECK(!sl_refuse(&r, 405, SL_ERR_METHOD_NOT_ALLOWED, "Allow: POST\r\n", "use %s", "POST"));
  CHECK(r.status == 405 && r.err == SL_ERR_METHOD_NOT_ALLOWED);
  CHECK_STR(r.hdrs, "Allow: POST\r\n");
  CHECK_STR(r.msg, "use POST");
  CHECK(!sl_refuse(&r, 404, SL_ERR_NOT_FOUND, NULL, "x"));
  CHECK_STR(r.hdrs, "");
  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  sl_refuse(&r, 400, SL_ERR_MODEL_NOT_FOUND, NULL, "%s", big); /* truncated, terminated */
  CHECK(strlen(r.msg) == sizeof r.msg - 1);
}

/* ---- the summary record ---- */

static struct sl_deployment deps[2] = {{.model_name = "alpha", .id = "alpha-0"},
                                       {.model_name = "alpha", .id = "alpha-1"}};
static struct sl_config cfg = {.deployments = deps, .ndeployments = 2};
static size_t ga[2] = {0, 1};
static struct sl_group groups[2] = {{"beta", ga, 0, 11}, {"alpha", ga, 2, 22}};

static void summary_from_a_fake_request(void) {
  struct sl_worker w = {.cfg = &cfg, .groups = groups, .ngroups = 2};
  static struct sl_attempt a0, a1;
  struct sl_key_record key = {.id = 77, .display = "sk-ab...wxyz", .key_alias = "team-a"};
  struct sl_http_request hr = {.method_name = {"POST", 4}, .path = {"/v1/chat/completions", 20}};
  struct sl_request rq = {.w = &w,
                          .hr = &hr,
                          .route = SL_R_CHAT,
                          .group = &groups[1],
                          .status = 200,
                          .cache_state = SL_CS_MISS,
                          .stream = true,
                          .key = &key,
                          .t0_ms = 1000,
                          .tokens_in = 5,
                          .tokens_out = 7,
                          .cost_micro = 12,
                          .cost_pico = 12000000,
                          .usage_estimated = true,
                          .hedges_fired = 1,
                          .hedge_won = true,
                          .fallback_used = "beta"};
  snprintf(rq.id, sizeof rq.id, "0-1");
  a0 = (struct sl_attempt){.dep = 0, .t_start = 1001, .t_end = 1500};
  a1 = (struct sl_attempt){.dep = 1, .streaming = true, .t_start = 1100, .t_first = 1130, .t_end = 1400};
  rq.att[0] = &a0;
  rq.att[1] = &a1;
  rq.natt = 2;
  rq.winner = &a1;
  struct sl_request_summary s;
  sl_request_summarize(&rq, 1600, &s);
  CHECK_STR(s.request_id, "0-1");
  CHECK(s.route == SL_R_CHAT && s.stream && s.status == 200 && s.cache == SL_CS_MISS);
  CHECK(s.method.n == 4 && s.path.n == 20);
  CHECK_STR(s.group, "alpha");
  CHECK(s.group_index == 1 && s.group_spend_id == 22);
  CHECK_STR(s.deployment, "alpha-1"); /* the winner's, not the last started */
  CHECK(s.deployment_index == 1);
  CHECK_STR(s.fallback, "beta");
  CHECK(s.attempts == 2 && s.hedges_fired == 1 && s.hedge_won);
  CHECK(s.t0_ms == 1000 && s.t_end_ms == 1600 && s.t_first_ms == 1130);
  CHECK(s.has_upstream_ms && s.upstream_ms == 300);
  CHECK(s.tokens_in == 5 && s.tokens_out == 7 && s.cost_micro == 12 && s.cost_pico == 12000000);
  CHECK(s.usage_estimated && !s.usage_implausible);
  CHECK_STR(s.key, "team-a");
  CHECK(s.key_id == 77);
  CHECK(s.err == SL_ERR_NONE && s.err_code == NULL);
  CHECK(s.attempts_json == NULL);

  /* no winner: the last attempt's deployment; an attempt outcome as the error; a key
   * without an alias shows its display form; not a stream: no first byte */
  rq.winner = NULL;
  rq.stream = false;
  rq.status = 502;
  rq.err_code = "upstream_reset";
  key.key_alias = "";
  sl_request_summarize(&rq, 1600, &s);
  CHECK_STR(s.deployment, "alpha-1");
  CHECK(!s.has_upstream_ms && s.t_first_ms == 0);
  CHECK(s.err == SL_ERR_OUTCOME);
  CHECK_STR(s.err_code, "upstream_reset");
  CHECK_STR(s.key, "sk-ab...wxyz");
  rq.err_code = "upstream_error"; /* attempt.c sets only the string: the enum follows it */
  sl_request_summarize(&rq, 1600, &s);
  CHECK(s.err == SL_ERR_UPSTREAM_ERROR);

  /* nothing: no group, no attempts, no key */
  struct sl_request bare = {.w = &w, .status = 404, .err = SL_ERR_NOT_FOUND, .err_code = "not_found"};
  sl_request_summarize(&bare, 5, &s);
  CHECK(s.group == NULL && s.group_index == -1 && s.deployment == NULL && s.deployment_index == -1);
  CHECK(s.key == NULL && s.attempts == 0 && s.err == SL_ERR_NOT_FOUND);
  CHECK(s.method.n == 0 && s.path.n == 0);
}

/* ---- the access-log line ---- */

static char *line(const struct sl_request_summary *s) {
  static struct sl_buf b;
  sl_buf_free(&b);
  sl_summary_access_log(s, &b);
  sl_buf_append(&b, "", 1);
  return b.p;
}

static void access_log_fields_in_order(void) {
  const char att[] = "[{\"deployment\":\"alpha-1\",\"start_ms\":1,\"latency_ms\":2,\"outcome\":\"ok\"}]";
  struct sl_request_summary s = {.request_id = "0-1",
                                 .method = {"POST", 4},
                                 .path = {"/v1/chat/\"x\"", 12},
                                 .status = 200,
                                 .group = "alpha",
                                 .deployment = "alpha-1",
                                 .fallback = "beta",
                                 .cache = SL_CS_HIT,
                                 .t0_ms = 1000,
                                 .t_end_ms = 1250,
                                 .has_upstream_ms = true,
                                 .upstream_ms = 200,
                                 .stream = true,
                                 .hedges_fired = 1,
                                 .key = "team\"a",
                                 .attempts = 1,
                                 .tokens_in = 5,
                                 .tokens_out = 7,
                                 .cost_micro = 1234567,
                                 .usage_estimated = true,
                                 .usage_implausible = true,
                                 .err_code = "upstream_reset",
                                 .attempts_json = att,
                                 .attempts_json_len = sizeof att - 1};
  static const char want[] =
      ",\"request_id\":\"0-1\",\"method\":\"POST\",\"path\":\"/v1/chat/\\\"x\\\"\",\"status\":200,"
      "\"model_group\":\"alpha\",\"deployment\":\"alpha-1\",\"fallback\":\"beta\",\"cache\":\"hit\","
      "\"overhead_ms\":50,\"stream\":true,\"latency_ms\":250,\"hedge\":\"fired\",\"key\":\"team\\\"a\","
      "\"tokens_in\":5,\"tokens_out\":7,\"cost_usd\":1.234567,\"usage_estimated\":true,"
      "\"usage_implausible\":true,\"error\":\"upstream_reset\",\"attempts\":[{\"deployment\":"
      "\"alpha-1\",\"start_ms\":1,\"latency_ms\":2,\"outcome\":\"ok\"}]}";
  CHECK_STR(line(&s), want);
  /* a request that never reached an attempt: no tokens, no cost, no attempts */
  struct sl_request_summary e = {.request_id = "0-2",
                                 .method = {"GET", 3},
                                 .path = {"/nope", 5},
                                 .status = 404,
                                 .t0_ms = 10,
                                 .t_end_ms = 13,
                                 .err_code = "not_found"};
  CHECK_STR(line(&e), ",\"request_id\":\"0-2\",\"method\":\"GET\",\"path\":\"/nope\",\"status\":404,\"cache\":\"none\","
                      "\"stream\":false,\"latency_ms\":3,\"hedge\":\"none\",\"error\":\"not_found\"}");
  /* the provider took longer than the whole request measured: overhead 0, never negative */
  e.has_upstream_ms = true;
  e.upstream_ms = 99;
  e.hedge_won = true;
  e.err_code = NULL;
  CHECK(strstr(line(&e), ",\"overhead_ms\":0,\"stream\":false,\"latency_ms\":3,\"hedge\":\"won\"}") != NULL);
  /* a long path is cut at 256 bytes */
  char path[400];
  memset(path, 'p', sizeof path);
  e.path = (struct sl_slice){path, sizeof path};
  char *l = line(&e);
  char *q = strstr(l, "\"path\":\"");
  CHECK(q && strspn(q + 8, "p") == 256);
}

CHECK_MAIN(T(every_code_has_one_distinct_name), T(wire_strings_are_unchanged), T(admission_verdicts_map_to_refusals),
           T(refuse_fills_and_says_no), T(summary_from_a_fake_request), T(access_log_fields_in_order))
