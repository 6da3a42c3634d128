/* Whole-response translators (net/xlate.h): refusal of bodies that are not the
 * upstream's format, usage out-parameters, the reason tables in both directions, and
 * the round trip Anthropic -> OpenAI -> Anthropic. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate.h"
#include "test/unit/check.h"

static cJSON *run(bool a2o, const char *body, int *rc, struct sl_xlate_usage *u) {
  struct sl_buf b = {0};
  struct sl_xlate_resp_opts o = {.created = 1234};
  *rc = a2o ? sl_xlate_anth_to_oai_response(body, body ? strlen(body) : 0, &o, &b, u)
            : sl_xlate_oai_to_anth_response(body, body ? strlen(body) : 0, &o, &b, u);
  cJSON *j = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (*rc == 0 && !j) *rc = -999;
  sl_buf_free(&b);
  return j;
}

static void not_the_upstream_format(void) {
  int rc;
  static const char *const bodies[] = {NULL, "", "null", "[]", "{\"content\":\"text\"}", "{\"choices\":[]}",
                                       "{\"choices\":[{\"message\":\"x\"}]}", "{\"error\":{\"message\":\"x\"}}", "{"};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct sl_xlate_usage u = {.known = true, .input = 5};
    CHECK(run(true, bodies[i], &rc, &u) == NULL && rc == -EBADMSG);
    CHECK(!u.known && u.input == 0);
    CHECK(run(false, bodies[i], &rc, NULL) == NULL && rc == -EBADMSG);
  }
}

static void usage_out_parameter(void) {
  int rc;
  struct sl_xlate_usage u;
  cJSON *j = run(true,
                 "{\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":4,\"cache_read_input_tokens\":5,"
                 "\"cache_creation_input_tokens\":6}}",
                 &rc, &u);
  CHECK(rc == 0 && u.known && u.input == 3 && u.output == 4 && u.cache_read == 5 && u.cache_creation == 6);
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "prompt_tokens")->valueint == 14);
  CHECK(cJSON_GetObjectItem(j, "created")->valueint == 1234);
  cJSON_Delete(j);
  j = run(true, "{\"content\":[]}", &rc, &u);
  CHECK(rc == 0 && !u.known);
  cJSON_Delete(j);
  /* cached more than prompt (a confused server): input clamps at 0 */
  j = run(false,
          "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,"
          "\"prompt_tokens_details\":{\"cached_tokens\":9}}}",
          &rc, &u);
  CHECK(rc == 0 && u.known && u.input == 0 && u.cache_read == 9 && u.output == 1);
  cJSON_Delete(j);
}

static const char *finish_for(const char *stop_reason) {
  static char buf[64];
  char body[256];
  int rc;
  snprintf(body, sizeof body, "{\"content\":[],\"stop_reason\":%s%s%s}", stop_reason ? "\"" : "",
           stop_reason ? stop_reason : "null", stop_reason ? "\"" : "");
  cJSON *j = run(true, body, &rc, NULL);
  const char *f = cJSON_GetStringValue(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "finish_reason"));
  snprintf(buf, sizeof buf, "%s", f ? f : "(null)");
  cJSON_Delete(j);
  return buf;
}

static const char *stop_for(const char *finish_reason) {
  static char buf[64];
  char body[256];
  int rc;
  snprintf(body, sizeof body, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":%s%s%s}]}",
           finish_reason ? "\"" : "", finish_reason ? finish_reason : "null", finish_reason ? "\"" : "");
  cJSON *j = run(false, body, &rc, NULL);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(j, "stop_reason"));
  snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
  cJSON_Delete(j);
  return buf;
}

static void reason_tables(void) {
  CHECK_STR(finish_for("end_turn"), "stop");
  CHECK_STR(finish_for("stop_sequence"), "stop");
  CHECK_STR(finish_for("max_tokens"), "length");
  CHECK_STR(finish_for("tool_use"), "tool_calls");
  CHECK_STR(finish_for("pause_turn"), "stop");
  CHECK_STR(finish_for("refusal"), "content_filter");
  CHECK_STR(finish_for("model_context_window_exceeded"), "length");
  CHECK_STR(finish_for("something_new"), "stop");
  CHECK_STR(finish_for(NULL), "stop");
  CHECK_STR(stop_for("stop"), "end_turn");
  CHECK_STR(stop_for("length"), "max_tokens");
  CHECK_STR(stop_for("tool_calls"), "tool_use");
  CHECK_STR(stop_for("function_call"), "tool_use");
  CHECK_STR(stop_for("content_filter"), "refusal");
  CHECK_STR(stop_for("eos"), "end_turn");
  CHECK_STR(stop_for(NULL), "end_turn");
}

static void round_trip_anthropic(void) {
  const char *msg =
      "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":["
      "{\"type\":\"thinking\",\"thinking\":\"why\",\"signature\":\"\"},"
      "{\"type\":\"text\",\"text\":\"Here \\u2603\"},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"f\",\"input\":{\"nested\":{\"a\":[1,\"two\",null,true]}}}],"
      "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,"
      "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":7,\"output_tokens\":3}}";
  int rc;
  cJSON *oai = run(true, msg, &rc, NULL);
  CHECK(rc == 0);
  char *t = cJSON_PrintUnformatted(oai);
  cJSON *back = run(false, t, &rc, NULL);
  CHECK(rc == 0);
  cJSON *want = cJSON_Parse(msg);
  CHECK(cJSON_Compare(want, back, true));
  cJSON_free(t);
  cJSON_Delete(oai);
  cJSON_Delete(back);
  cJSON_Delete(want);
}

static void content_parts_and_refusal(void) {
  int rc;
  cJSON *j = run(false,
                 "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"},"
                 "{\"type\":\"refusal\",\"refusal\":\"no\"}],\"reasoning\":\"r\",\"tool_calls\":{\"bad\":1}}}]}",
                 &rc, NULL);
  CHECK(rc == 0);
  const cJSON *c = cJSON_GetObjectItem(j, "content");
  CHECK(cJSON_GetArraySize(c) == 3);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "thinking")), "r");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2), "text")), "no");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")), "");
  cJSON_Delete(j);
  /* tool_use without id/name/input still yields well-formed tool_calls */
  j = run(true, "{\"content\":[{\"type\":\"tool_use\"},{\"type\":5},{\"text\":\"no type\"}]}", &rc, NULL);
  CHECK(rc == 0);
  const cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                                           cJSON_GetObjectItem(j, "choices"), 0), "message"), "tool_calls"), 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments")), "{}");
  cJSON_Delete(j);
}

static cJSON *run_json(bool json_tool, const char *body) {
  struct sl_buf b = {0};
  struct sl_xlate_resp_opts o = {.created = 1, .json_tool = json_tool};
  int rc = sl_xlate_anth_to_oai_response(body, strlen(body), &o, &b, NULL);
  cJSON *j = rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  sl_buf_free(&b);
  return j;
}

static const cJSON *choice0(const cJSON *j, const char *key) {
  return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), key);
}

/* response_format's tool call comes back as the message content. */
static void json_tool_is_content(void) {
  const char *body = "{\"id\":\"m\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"sig\"},"
                     "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"" SL_XLATE_JSON_TOOL "\",\"input\":"
                     "{\"name\":\"Ann\",\"tags\":[1, 2],\"s\":\"\\u00e9\\\"\"}}],\"stop_reason\":\"tool_use\"}";
  cJSON *j = run_json(true, body);
  const cJSON *msg = choice0(j, "message");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "content")),
            "{\"name\":\"Ann\",\"tags\":[1,2],\"s\":\"\xc3\xa9\\\"\"}");
  CHECK(cJSON_GetObjectItem(msg, "tool_calls") == NULL);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "reasoning_content")), "hm");
  CHECK_STR(cJSON_GetStringValue(choice0(j, "finish_reason")), "stop");
  cJSON_Delete(j);
  /* without the flag it is a tool call like any other */
  j = run_json(false, body);
  msg = choice0(j, "message");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(msg, "content")));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(msg, "tool_calls")) == 1);
  CHECK_STR(cJSON_GetStringValue(choice0(j, "finish_reason")), "tool_calls");
  cJSON_Delete(j);
  /* an input that is not an object: {} */
  j = run_json(true, "{\"content\":[{\"type\":\"tool_use\",\"name\":\"" SL_XLATE_JSON_TOOL "\"}],\"stop_reason\":"
                     "\"tool_use\"}");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(choice0(j, "message"), "content")), "{}");
  cJSON_Delete(j);
  /* a text answer (the model did not call it) stays text; max_tokens stays length */
  j = run_json(true, "{\"content\":[{\"type\":\"text\",\"text\":\"no\"}],\"stop_reason\":\"max_tokens\"}");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(choice0(j, "message"), "content")), "no");
  CHECK_STR(cJSON_GetStringValue(choice0(j, "finish_reason")), "length");
  cJSON_Delete(j);
}

/* With the client's tools called too, those stay tool_calls and the JSON is content. */
static void json_tool_with_client_tools(void) {
  cJSON *j = run_json(true, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"x\":1}},"
                            "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"" SL_XLATE_JSON_TOOL "\",\"input\":"
                            "{\"a\":true}}],\"stop_reason\":\"tool_use\"}");
  const cJSON *msg = choice0(j, "message");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "content")), "{\"a\":true}");
  const cJSON *tc = cJSON_GetObjectItem(msg, "tool_calls");
  CHECK(cJSON_GetArraySize(tc) == 1);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(tc, 0), "id")), "t1");
  CHECK_STR(cJSON_GetStringValue(choice0(j, "finish_reason")), "tool_calls");
  cJSON_Delete(j);
  /* only a client tool: unchanged */
  j = run_json(true, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{}}],\"stop_reason\":"
                     "\"tool_use\"}");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(choice0(j, "message"), "content")));
  CHECK_STR(cJSON_GetStringValue(choice0(j, "finish_reason")), "tool_calls");
  cJSON_Delete(j);
}

/* Signed thinking survives Anthropic -> OpenAI -> Anthropic through thinking_blocks. */
static void thinking_signatures_round_trip(void) {
  const char *msg =
      "{\"id\":\"msg_s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":["
      "{\"type\":\"thinking\",\"thinking\":\"first\",\"signature\":\"SIG1\"},"
      "{\"type\":\"redacted_thinking\",\"data\":\"REDACTED\"},"
      "{\"type\":\"thinking\",\"thinking\":\"second\",\"signature\":\"SIG2\"},"
      "{\"type\":\"text\",\"text\":\"answer\"}],"
      "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"
      "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":2}}";
  int rc;
  cJSON *oai = run(true, msg, &rc, NULL);
  const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(oai, "choices"), 0), "message");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "reasoning_content")) ?: "", "firstsecond");
  const cJSON *tb = cJSON_GetObjectItem(m, "thinking_blocks");
  CHECK(cJSON_GetArraySize(tb) == 3);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(tb, 0), "signature")) ?: "", "SIG1");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(tb, 1), "data")) ?: "", "REDACTED");
  char *t = cJSON_PrintUnformatted(oai);
  cJSON *back = run(false, t, &rc, NULL), *want = cJSON_Parse(msg);
  CHECK(rc == 0 && cJSON_Compare(want, back, true));
  cJSON_free(t);
  cJSON_Delete(oai);
  cJSON_Delete(back);
  cJSON_Delete(want);
  /* no thinking: no thinking_blocks */
  oai = run(true, "{\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}", &rc, NULL);
  m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(oai, "choices"), 0), "message");
  CHECK(cJSON_GetObjectItem(m, "thinking_blocks") == NULL && cJSON_GetObjectItem(m, "reasoning_content") == NULL);
  cJSON_Delete(oai);
}

CHECK_MAIN(T(not_the_upstream_format), T(usage_out_parameter), T(reason_tables), T(round_trip_anthropic),
           T(content_parts_and_refusal), T(json_tool_is_content),
           T(json_tool_with_client_tools), T(thinking_signatures_round_trip))
