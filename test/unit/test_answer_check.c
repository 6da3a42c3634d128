/* Unit tests for the cascade's answer checks (net/wire/answer_check.h): each check failing
 * and passing, absent inputs passing, the enum order, names, and strip_logprobs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/answer_check.h"
#include "test/unit/check.h"

static char why[256];

#define ALL ((1u << SL_AC_N) - 2u)

static enum sl_answer_check run(unsigned mask, const char *req, const char *body) {
  struct sl_answer_check_cfg c = {.mask = mask, .min_mean_logprob = -1.0};
  cJSON *r = req ? cJSON_Parse(req) : NULL;
  enum sl_answer_check res = sl_answer_check_run(&c, r, body, strlen(body), why, sizeof why);
  cJSON_Delete(r);
  return res;
}

static const char *ans(const char *content, const char *finish) {
  static char b[4096];
  snprintf(b, sizeof b,
           "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
           "\"content\":%s},\"finish_reason\":\"%s\"}]}",
           content, finish);
  return b;
}

static void names(void) {
  static const char *const n[] = {"length", "empty", "refusal", "json", "tool_args", "logprob", "math"};
  for (int i = 1; i < SL_AC_N; i++) {
    CHECK_STR(sl_answer_check_name((enum sl_answer_check)i), n[i - 1]);
    enum sl_answer_check c = SL_AC_NONE;
    CHECK(sl_answer_check_parse(n[i - 1], &c) == 0 && c == (enum sl_answer_check)i);
  }
  enum sl_answer_check c;
  CHECK(sl_answer_check_parse("tools", &c) == 0 && c == SL_AC_TOOLS);
  CHECK(sl_answer_check_parse("judge", &c) == -EINVAL);
  CHECK(sl_answer_check_parse(NULL, &c) == -EINVAL);
  CHECK_STR(sl_answer_check_name(SL_AC_NONE), "none");
}

static void good_answer_passes_all(void) {
  CHECK(run(ALL, NULL, ans("\"Paris is the capital of France. #### 1\"", "stop")) == SL_AC_NONE);
  CHECK(why[0] == 0);
  CHECK(run(0, NULL, ans("\"\"", "length")) == SL_AC_NONE); /* nothing asked */
}

static void length(void) {
  CHECK(run(1u << SL_AC_LENGTH, NULL, ans("\"The answer is\"", "length")) == SL_AC_LENGTH);
  CHECK(strstr(why, "length") != NULL);
  CHECK(run(1u << SL_AC_LENGTH, NULL, ans("\"The answer is 4\"", "stop")) == SL_AC_NONE);
}

static void empty(void) {
  unsigned m = 1u << SL_AC_EMPTY;
  CHECK(run(m, NULL, ans("\"\"", "stop")) == SL_AC_EMPTY);
  CHECK(run(m, NULL, ans("\" \\n\\t \"", "stop")) == SL_AC_EMPTY);
  CHECK(run(m, NULL, ans("null", "stop")) == SL_AC_EMPTY);
  CHECK(run(m, NULL, ans("\"ok\"", "stop")) == SL_AC_NONE);
  CHECK(run(m, NULL, ans("[{\"type\":\"text\",\"text\":\"ok\"}]", "stop")) == SL_AC_NONE);
  /* content null with tool calls is not empty */
  CHECK(run(m, NULL,
            "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
            "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}") == SL_AC_NONE);
  /* not an answer at all: no content */
  CHECK(run(m, NULL, "{\"error\":{\"message\":\"x\"}}") == SL_AC_EMPTY);
  CHECK(run(m, NULL, "not json") == SL_AC_EMPTY);
  CHECK(run(1u << SL_AC_LENGTH, NULL, "not json") == SL_AC_NONE);
}

static void refusal(void) {
  unsigned m = 1u << SL_AC_REFUSAL;
  CHECK(run(m, NULL, ans("\"I'm sorry, but I can't help with that.\"", "stop")) == SL_AC_REFUSAL);
  CHECK(strstr(why, "refusal") != NULL);
  CHECK(run(m, NULL, ans("\"i\xe2\x80\x99m SORRY, but I can\xe2\x80\x99t do that\"", "stop")) == SL_AC_REFUSAL);
  CHECK(run(m, NULL, ans("\"Well. As an AI language model, I have no views.\"", "stop")) == SL_AC_REFUSAL);
  CHECK(run(m, NULL, ans("\"Here is the poem you asked for.\"", "stop")) == SL_AC_NONE);
  /* a phrase inside a word does not count; nor past the scanned prefix */
  CHECK(run(m, NULL, ans("\"Bias an AI model can have\"", "stop")) == SL_AC_NONE);
  char big[3000];
  memset(big, 'a', sizeof big);
  big[0] = '"';
  memcpy(big + 1500, " as an AI", 9);
  memcpy(big + sizeof big - 2, "\"", 2);
  CHECK(run(m, NULL, ans(big, "stop")) == SL_AC_NONE);
  /* a configured list replaces the built-in one */
  const char *const mine[] = {"nope"};
  struct sl_answer_check_cfg c = {.mask = m, .refusals = mine, .nrefusals = 1};
  const char *b = ans("\"Nope, not today\"", "stop");
  CHECK(sl_answer_check_run(&c, NULL, b, strlen(b), why, sizeof why) == SL_AC_REFUSAL);
  b = ans("\"I'm sorry, but I can't\"", "stop");
  CHECK(sl_answer_check_run(&c, NULL, b, strlen(b), why, sizeof why) == SL_AC_NONE);
}

static void json(void) {
  unsigned m = 1u << SL_AC_JSON;
  const char *obj = "{\"response_format\":{\"type\":\"json_object\"}}";
  CHECK(run(m, obj, ans("\"{\\\"a\\\":1}\"", "stop")) == SL_AC_NONE);
  CHECK(run(m, obj, ans("\"{\\\"a\\\":1\"", "stop")) == SL_AC_JSON);
  CHECK(strstr(why, "not valid JSON") != NULL);
  CHECK(run(m, obj, ans("\"[1,2]\"", "stop")) == SL_AC_JSON);
  CHECK(strstr(why, "not a JSON object") != NULL);
  CHECK(run(m, obj, ans("\"{} trailing\"", "stop")) == SL_AC_JSON);
  /* absent response_format: anything passes */
  CHECK(run(m, NULL, ans("\"not json\"", "stop")) == SL_AC_NONE);
  CHECK(run(m, "{\"response_format\":{\"type\":\"text\"}}", ans("\"not json\"", "stop")) == SL_AC_NONE);
  const char *sch = "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\",\"schema\":"
                    "{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\"}},\"required\":[\"age\"]}}}}";
  CHECK(run(m, sch, ans("\"{\\\"age\\\":3}\"", "stop")) == SL_AC_NONE);
  CHECK(run(m, sch, ans("\"{\\\"age\\\":\\\"3\\\"}\"", "stop")) == SL_AC_JSON);
  CHECK(strstr(why, "schema") != NULL && strstr(why, "age") != NULL);
  CHECK(run(m, sch, ans("\"{}\"", "stop")) == SL_AC_JSON);
  CHECK(run(m, sch, ans("\"nope\"", "stop")) == SL_AC_JSON);
}

static const char *tool_req =
    "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]}";

static const char *call(const char *name, const char *args) {
  static char b[2048];
  snprintf(
      b, sizeof b,
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
      "\"type\":\"function\",\"function\":{\"name\":\"%s\",\"arguments\":%s}}]},\"finish_reason\":\"tool_calls\"}]}",
      name, args);
  return b;
}

static void tools(void) {
  unsigned m = 1u << SL_AC_TOOLS;
  CHECK(run(m, tool_req, call("get_weather", "\"{\\\"city\\\":\\\"Paris\\\"}\"")) == SL_AC_NONE);
  CHECK(run(m, tool_req, call("get_weather", "\"{\\\"city\\\":\"")) == SL_AC_TOOLS);
  CHECK(strstr(why, "not a JSON object") != NULL);
  CHECK(run(m, tool_req, call("get_weather", "\"[]\"")) == SL_AC_TOOLS);
  CHECK(run(m, tool_req, call("get_weather", "\"{\\\"town\\\":\\\"Paris\\\"}\"")) == SL_AC_TOOLS);
  CHECK(strstr(why, "schema") != NULL && strstr(why, "city") != NULL);
  CHECK(run(m, tool_req, call("launch", "\"{}\"")) == SL_AC_TOOLS);
  CHECK(strstr(why, "did not offer") != NULL);
  /* no tools in the request: only the arguments' syntax is checked */
  CHECK(run(m, NULL, call("anything", "\"{}\"")) == SL_AC_NONE);
  CHECK(run(m, NULL, call("anything", "\"{\"")) == SL_AC_TOOLS);
  /* no tool calls: passes */
  CHECK(run(m, tool_req, ans("\"hello\"", "stop")) == SL_AC_NONE);
}

static const char *lp_ans(double a, double b) {
  static char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"choices\":[{\"message\":{\"content\":\"Hi there\"},\"finish_reason\":\"stop\",\"logprobs\":{\"content\":"
           "[{\"token\":\"Hi\",\"logprob\":%g,\"bytes\":[72,105],\"top_logprobs\":[]},{\"token\":\" "
           "there\",\"logprob\":%g}]}}]}",
           a, b);
  return buf;
}

static void logprob(void) {
  unsigned m = 1u << SL_AC_LOGPROB;
  CHECK(run(m, NULL, lp_ans(-0.1, -0.3)) == SL_AC_NONE);
  CHECK(run(m, NULL, lp_ans(-0.5, -3.0)) == SL_AC_LOGPROB); /* mean -1.75 < -1 */
  CHECK(strstr(why, "-1.750") != NULL);
  CHECK(run(m, NULL, ans("\"no logprobs here\"", "stop")) == SL_AC_NONE);
  /* a threshold that is not a negative number means the default, -1 */
  struct sl_answer_check_cfg z = {.mask = m};
  const char *b = lp_ans(-0.5, -0.7);
  CHECK(sl_answer_check_run(&z, NULL, b, strlen(b), why, sizeof why) == SL_AC_NONE);
  b = lp_ans(-0.5, -3.0);
  CHECK(sl_answer_check_run(&z, NULL, b, strlen(b), why, sizeof why) == SL_AC_LOGPROB);
  struct sl_answer_check_cfg strict = {.mask = m, .min_mean_logprob = -0.2};
  b = lp_ans(-0.1, -0.4);
  CHECK(sl_answer_check_run(&strict, NULL, b, strlen(b), why, sizeof why) == SL_AC_LOGPROB);
  CHECK(run(m, NULL, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"logprobs\":null}]}") == SL_AC_NONE);
  CHECK(run(m, NULL, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"logprobs\":{\"content\":[]}}]}") == SL_AC_NONE);
}

static void math(void) {
  unsigned m = 1u << SL_AC_MATH;
  const char *q = "{\"messages\":[{\"role\":\"user\",\"content\":\"How many bolts in total does it take?\"}]}";
  CHECK(run(m, q, ans("\"It takes 2 + 1 = 3 bolts.\\n#### 3\"", "stop")) == SL_AC_NONE);
  CHECK(run(m, q, ans("\"It takes 2 + 1 = 4 bolts.\\n#### 4\"", "stop")) == SL_AC_MATH);
  CHECK(strstr(why, "bad_arithmetic") != NULL);
  CHECK(run(m, q, ans("\"It takes 2 + 1/2 = 2.5 bolts.\\n#### 2.5\"", "stop")) == SL_AC_MATH);
  CHECK(strstr(why, "non_integer") != NULL);
  CHECK(run(m, q, ans("\"It takes 2 + 1 = 3 bolts\"", "stop")) == SL_AC_MATH);
  CHECK(strstr(why, "no_final_marker") != NULL);
  CHECK(run(m, q, "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}") == SL_AC_NONE);
}

static void first_in_enum_order(void) {
  /* both cut and a refusal: length comes first; without length, refusal */
  const char *b = ans("\"I'm sorry, but I can't\"", "length");
  CHECK(run(ALL, NULL, b) == SL_AC_LENGTH);
  CHECK(run(ALL & ~(1u << SL_AC_LENGTH), NULL, b) == SL_AC_REFUSAL);
  /* every choice is checked */
  CHECK(run(1u << SL_AC_EMPTY, NULL,
            "{\"choices\":[{\"message\":{\"content\":\"ok\"}},{\"message\":{\"content\":\"  \"}}]}") == SL_AC_EMPTY);
  CHECK(run(1u << SL_AC_EMPTY, NULL, "{\"choices\":[]}") == SL_AC_EMPTY);
}

static void strip_logprobs(void) {
  struct sl_buf out = {0};
  const char *b = lp_ans(-0.1, -0.2);
  CHECK(sl_answer_strip_logprobs(b, strlen(b), &out) == 0);
  sl_buf_append(&out, "", 1);
  CHECK(out.p && strstr(out.p, "logprobs") == NULL);
  CHECK(strstr(out.p, "\"content\":\"Hi there\"") != NULL);
  CHECK(strstr(out.p, "\"finish_reason\":\"stop\"") != NULL);
  sl_buf_free(&out);
  const char *plain = "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"total_tokens\":3}}";
  CHECK(sl_answer_strip_logprobs(plain, strlen(plain), &out) == 0);
  sl_buf_append(&out, "", 1);
  CHECK(strcmp(out.p, plain) == 0);
  sl_buf_free(&out);
  CHECK(sl_answer_strip_logprobs("[1]", 3, &out) == -EBADMSG);
  CHECK(sl_answer_strip_logprobs("{\"a\":", 5, &out) == -EBADMSG);
  CHECK(sl_answer_strip_logprobs(NULL, 0, &out) == -EBADMSG);
  sl_buf_free(&out);
}

int main(void) {
  static const struct check_case cases[] = {
      {"names", names},
      {"good_answer_passes_all", good_answer_passes_all},
      {"length", length},
      {"empty", empty},
      {"refusal", refusal},
      {"json", json},
      {"tools", tools},
      {"logprob", logprob},
      {"math", math},
      {"first_in_enum_order", first_in_enum_order},
      {"strip_logprobs", strip_logprobs},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
