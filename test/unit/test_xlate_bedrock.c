/* Bedrock translators (net/wire/xlate_bedrock.h), requests and whole answers: OpenAI chat
 * -> Converse (text, system, images, documents, multi-turn tools with results, tool_choice
 * variants, response_format's json tool, thinking for Claude, inference parameters),
 * Converse -> OpenAI (stop reasons, usage with cache tokens, tool calls, reasoning, the
 * json tool), Bedrock errors -> OpenAI error bodies, invoke bodies and chunks, Titan and
 * Cohere embeddings, and malformed input refused with an error. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate_bedrock.h"
#include "test/unit/check.h"

static char err[256];

/* request JSON text -> Converse tree (NULL on error; *rc gets the code) */
static cJSON *req(const char *json, const char *model, int *rc) {
  cJSON *in = cJSON_Parse(json);
  struct sl_buf b = {0};
  struct sl_xlate_req_opts o = {.model = model};
  *rc = sl_xlate_oai_to_converse_request(in, &o, &b, err, sizeof err);
  cJSON *out = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (*rc == 0 && !out) *rc = -999;
  sl_buf_free(&b);
  cJSON_Delete(in);
  return out;
}

static bool same(const cJSON *got, const char *want) {
  cJSON *w = cJSON_Parse(want);
  bool eq = w && cJSON_Compare(got, w, true);
  if (!eq) {
    char *g = cJSON_PrintUnformatted(got);
    fprintf(stderr, "got:  %s\nwant: %s\n", g ? g : "(null)", want);
    cJSON_free(g);
  }
  cJSON_Delete(w);
  return eq;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static void text_and_system(void) {
  int rc;
  cJSON *c = req("{\"model\":\"m\",\"stream\":true,\"user\":\"u\",\"seed\":3,\"messages\":["
                 "{\"role\":\"system\",\"content\":\"be brief\"},"
                 "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"and "
                 "kind\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
                 "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                 "\"there\"}]}],"
                 "\"max_tokens\":100,\"temperature\":1.7,\"top_p\":0.5,\"stop\":\"END\"}",
                 "amazon.nova-pro-v1:0", &rc);
  CHECK(rc == 0);
  CHECK(same(c, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"},{\"text\":\"there\"}]}],"
                "\"system\":[{\"text\":\"be brief\"},{\"text\":\"and kind\"},{\"cachePoint\":{\"type\":\"default\"}}],"
                "\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":1,\"topP\":0.5,\"stopSequences\":[\"END\"]}}"));
  cJSON_Delete(c);
  /* no model id in the body; max_completion_tokens; stop array */
  c = req("{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"max_completion_tokens\":7,"
          "\"stop\":[\"a\",\"b\"]}",
          NULL, &rc);
  CHECK(rc == 0 && get(c, "model") == NULL && get(c, "modelId") == NULL);
  CHECK(same(get(c, "inferenceConfig"), "{\"maxTokens\":7,\"stopSequences\":[\"a\",\"b\"]}"));
  cJSON_Delete(c);
}

static void images_and_documents(void) {
  int rc;
  cJSON *c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what?\"},"
                 "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
                 "{\"type\":\"image_url\",\"image_url\":\"data:image/jpg;base64,/9j/4A==\"},"
                 "{\"type\":\"file\",\"file\":{\"file_data\":\"data:application/pdf;base64,JVBERi0=\",\"filename\":\"a "
                 "b.pdf\"}}]}]}",
                 "m", &rc);
  CHECK(rc == 0);
  CHECK(same(get(c, "messages"),
             "[{\"role\":\"user\",\"content\":[{\"text\":\"what?\"},"
             "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"iVBORw0KGgo=\"}}},"
             "{\"image\":{\"format\":\"jpeg\",\"source\":{\"bytes\":\"/9j/4A==\"}}},"
             "{\"document\":{\"format\":\"pdf\",\"name\":\"document-1\",\"source\":{\"bytes\":\"JVBERi0=\"}}}]}]"));
  cJSON_Delete(c);
  /* an http URL: Converse takes bytes only */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/"
          "a.png\"}}]}]}",
          "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "base64 data URL"));
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/"
          "tiff;base64,AA==\"}}]}]}",
          "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "image/tiff"));
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{}}]}]}", "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "input_audio"));
}

static void multi_turn_tools(void) {
  int rc;
  cJSON *c =
      req("{\"messages\":[{\"role\":\"user\",\"content\":\"weather in Paris and Rome?\"},"
          "{\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":["
          "{\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"wx\",\"arguments\":\"{\\\"city\\\":"
          "\\\"Paris\\\"}\"}},"
          "{\"id\":\"t2\",\"type\":\"function\",\"function\":{\"name\":\"wx\",\"arguments\":\"not json\"}}]},"
          "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"sunny\"},"
          "{\"role\":\"tool\",\"tool_call_id\":\"t2\",\"content\":[{\"type\":\"text\",\"text\":\"rain\"}]},"
          "{\"role\":\"user\",\"content\":\"thanks\"}],"
          "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"wx\",\"description\":\"weather\",\"parameters\":"
          "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
          "{\"type\":\"function\",\"function\":{\"name\":\"noargs\"}}],\"tool_choice\":\"auto\",\"parallel_tool_"
          "calls\":false}",
          "anthropic.claude-3-5-sonnet", &rc);
  CHECK(rc == 0);
  static const char want_msgs[] =
      "[{\"role\":\"user\",\"content\":[{\"text\":\"weather in Paris and Rome?\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"text\":\"Let me look.\"},"
      "{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"wx\",\"input\":{\"city\":\"Paris\"}}},"
      "{\"toolUse\":{\"toolUseId\":\"t2\",\"name\":\"wx\",\"input\":{}}}]},"
      "{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":\"t1\",\"content\":[{\"text\":\"sunny\"}],"
      "\"status\":\"success\"}},"
      "{\"toolResult\":{\"toolUseId\":\"t2\",\"content\":[{\"text\":\"rain\"}],\"status\":\"success\"}},"
      "{\"text\":\"thanks\"}]}]";
  CHECK(same(get(c, "messages"), want_msgs));
  CHECK(same(get(c, "toolConfig"),
             "{\"tools\":[{\"toolSpec\":{\"name\":\"wx\",\"description\":\"weather\",\"inputSchema\":{\"json\":"
             "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}},"
             "{\"toolSpec\":{\"name\":\"noargs\",\"inputSchema\":{\"json\":{\"type\":\"object\",\"properties\":{}}}}}],"
             "\"toolChoice\":{\"auto\":{}}}"));
  cJSON_Delete(c);
  /* a history with tool blocks but no tools offered: a placeholder keeps toolConfig */
  c = req("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\","
          "\"arguments\":\"{}\"}}]},"
          "{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"\"}]}",
          "m", &rc);
  CHECK(rc == 0);
  const cJSON *tools = get(get(c, "toolConfig"), "tools");
  CHECK(cJSON_GetArraySize(tools) == 1 && get(get(c, "toolConfig"), "toolChoice") == NULL);
  CHECK(same(cJSON_GetArrayItem(get(cJSON_GetArrayItem(get(c, "messages"), 1), "content"), 0),
             "{\"toolResult\":{\"toolUseId\":\"a\",\"content\":[{\"text\":\"\"}],\"status\":\"success\"}}"));
  cJSON_Delete(c);
  /* malformed tool history */
  c = req("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "tool_call_id"));
  c = req("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]}]}", "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "tool_calls[0]"));
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"web_search\"}]}", "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "web_search"));
}

static const char *choice_of(const char *tc) {
  static char buf[256];
  char body[512];
  int rc;
  snprintf(body, sizeof body,
           "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":"
           "{\"name\":\"f\"}}],\"tool_choice\":%s}",
           tc);
  cJSON *c = req(body, "m", &rc);
  if (rc)
    snprintf(buf, sizeof buf, "error %d", rc);
  else if (!get(c, "toolConfig"))
    snprintf(buf, sizeof buf, "no tools");
  else {
    char *t = cJSON_PrintUnformatted(get(get(c, "toolConfig"), "toolChoice"));
    snprintf(buf, sizeof buf, "%s", t ? t : "none");
    cJSON_free(t);
  }
  cJSON_Delete(c);
  return buf;
}

static void tool_choice_variants(void) {
  CHECK_STR(choice_of("\"auto\""), "{\"auto\":{}}");
  CHECK_STR(choice_of("\"required\""), "{\"any\":{}}");
  CHECK_STR(choice_of("{\"type\":\"function\",\"function\":{\"name\":\"f\"}}"), "{\"tool\":{\"name\":\"f\"}}");
  CHECK_STR(choice_of("\"none\""), "no tools");
  CHECK_STR(choice_of("null"), "none");
  CHECK_STR(choice_of("\"sometimes\""), "error -22");
  CHECK_STR(choice_of("{\"type\":\"function\"}"), "error -22");
  CHECK_STR(choice_of("3"), "error -22");
}

static void json_response_format(void) {
  int rc;
  cJSON *c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\","
                 "\"json_schema\":{\"name\":\"r\",\"schema\":{\"properties\":{\"a\":{\"type\":\"integer\"}}}}}}",
                 "m", &rc);
  CHECK(rc == 0);
  const cJSON *spec = get(cJSON_GetArrayItem(get(get(c, "toolConfig"), "tools"), 0), "toolSpec");
  CHECK_STR(cJSON_GetStringValue(get(spec, "name")) ?: "", SL_XLATE_JSON_TOOL);
  CHECK(same(get(get(spec, "inputSchema"), "json"),
             "{\"properties\":{\"a\":{\"type\":\"integer\"}},\"type\":\"object\"}"));
  CHECK(same(get(get(c, "toolConfig"), "toolChoice"), "{\"tool\":{\"name\":\"" SL_XLATE_JSON_TOOL "\"}}"));
  cJSON_Delete(c);
  /* json_object with client tools: both offered, any */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_object\"},"
          "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
          "m", &rc);
  CHECK(rc == 0 && cJSON_GetArraySize(get(get(c, "toolConfig"), "tools")) == 2);
  CHECK(same(get(get(c, "toolConfig"), "toolChoice"), "{\"any\":{}}"));
  cJSON_Delete(c);
  /* text: nothing; a non-object root or another type: error */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"text\"}}", "m", &rc);
  CHECK(rc == 0 && !get(c, "toolConfig"));
  cJSON_Delete(c);
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\","
          "\"json_schema\":{\"schema\":{\"type\":\"array\"}}}}",
          "m", &rc);
  CHECK(!c && rc == -EINVAL);
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"grammar\"}}", "m",
          &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "grammar"));
}

static void thinking_for_claude(void) {
  int rc;
  cJSON *c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"medium\","
                 "\"temperature\":0.3,\"top_p\":0.5,\"max_tokens\":1000}",
                 "us.anthropic.claude-sonnet-4-20250514-v1:0", &rc);
  CHECK(rc == 0);
  CHECK(same(get(c, "additionalModelRequestFields"), "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}}"));
  CHECK(same(get(c, "inferenceConfig"), "{\"maxTokens\":3048}"));
  cJSON_Delete(c);
  /* another model: no thinking field (Converse would refuse it) */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"high\",\"top_k\":5}",
          "meta.llama3-70b", &rc);
  CHECK(rc == 0 && !get(c, "additionalModelRequestFields"));
  cJSON_Delete(c);
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_k\":5}", "anthropic.claude-3-haiku", &rc);
  CHECK(rc == 0 && same(get(c, "additionalModelRequestFields"), "{\"top_k\":5}"));
  cJSON_Delete(c);
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"lots\"}", "m", &rc);
  CHECK(!c && rc == -EINVAL);
  /* thinking_blocks of an assistant turn come back as reasoningContent */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\","
          "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"S\"},"
          "{\"type\":\"redacted_thinking\",\"data\":\"R\"}]},{\"role\":\"user\",\"content\":\"z\"}],"
          "\"reasoning_effort\":\"low\"}",
          "anthropic.claude-3-7-sonnet", &rc);
  CHECK(rc == 0);
  CHECK(same(get(cJSON_GetArrayItem(get(c, "messages"), 1), "content"),
             "[{\"reasoningContent\":{\"reasoningText\":{\"text\":\"hmm\",\"signature\":\"S\"}}},"
             "{\"reasoningContent\":{\"redactedContent\":\"R\"}},{\"text\":\"y\"}]"));
  cJSON_Delete(c);
  /* forced tool use with thinking: refused */
  c = req(
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"low\",\"tool_choice\":\"required\","
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
      "anthropic.claude-3-7-sonnet", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "reasoning_effort"));
}

static void malformed_requests(void) {
  int rc;
  static const char *const bad[] = {
      "[]",
      "{}",
      "{\"messages\":{}}",
      "{\"messages\":[1]}",
      "{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}",
      "{\"messages\":[{\"role\":\"wizard\"}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":{}}",
      "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    cJSON *c = req(bad[i], "m", &rc);
    CHECK(!c && rc == -EINVAL && err[0]);
  }
  struct sl_buf b = {0};
  CHECK(sl_xlate_oai_to_converse_request(NULL, NULL, &b, NULL, 0) == -EINVAL && b.n == 0);
}

/* ---- whole answers ---- */

static cJSON *resp(const char *body, bool json_tool, int *rc, struct sl_xlate_usage *u) {
  struct sl_buf b = {0};
  struct sl_xlate_resp_opts o = {.created = 99, .json_tool = json_tool};
  *rc = sl_xlate_converse_to_oai_response(body, body ? strlen(body) : 0, &o, "bedrock/claude", &b, u);
  cJSON *j = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (*rc == 0 && !j) *rc = -999;
  sl_buf_free(&b);
  return j;
}

static const cJSON *message(const cJSON *j) { return get(cJSON_GetArrayItem(get(j, "choices"), 0), "message"); }
static const char *finish(const cJSON *j) {
  return cJSON_GetStringValue(get(cJSON_GetArrayItem(get(j, "choices"), 0), "finish_reason"));
}

static void answer_text_and_usage(void) {
  int rc;
  struct sl_xlate_usage u;
  const char *body =
      "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"Hello\"},{\"text\":\" world\"}]}},"
      "\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":10,\"outputTokens\":3,\"totalTokens\":13,"
      "\"cacheReadInputTokens\":20,\"cacheWriteInputTokens\":5},\"metrics\":{\"latencyMs\":120}}";
  cJSON *j = resp(body, false, &rc, &u);
  CHECK(rc == 0);
  CHECK_STR(cJSON_GetStringValue(get(j, "object")) ?: "", "chat.completion");
  CHECK_STR(cJSON_GetStringValue(get(j, "model")) ?: "", "bedrock/claude");
  CHECK(strncmp(cJSON_GetStringValue(get(j, "id")) ?: "", "chatcmpl-", 9) == 0);
  CHECK(get(j, "created")->valueint == 99);
  CHECK_STR(cJSON_GetStringValue(get(message(j), "content")) ?: "", "Hello world");
  CHECK_STR(finish(j) ?: "", "stop");
  CHECK(same(get(j, "usage"), "{\"prompt_tokens\":35,\"completion_tokens\":3,\"total_tokens\":38,"
                              "\"prompt_tokens_details\":{\"cached_tokens\":20}}"));
  CHECK(u.known && u.input == 10 && u.output == 3 && u.cache_read == 20 && u.cache_creation == 5);
  /* the same answer gets the same id (derived, not random) */
  cJSON *k = resp(body, false, &rc, NULL);
  CHECK_STR(cJSON_GetStringValue(get(j, "id")) ?: "a", cJSON_GetStringValue(get(k, "id")) ?: "b");
  cJSON_Delete(k);
  cJSON_Delete(j);
  /* the caller's resp id, when minted, names the answer */
  struct sl_buf b = {0};
  struct sl_xlate_resp_opts o = {.resp_id = "resp_abc123"};
  CHECK(sl_xlate_converse_to_oai_response(body, strlen(body), &o, NULL, &b, NULL) == 0);
  CHECK(b.p && strstr(b.p, "\"id\":\"chatcmpl-abc123\""));
  sl_buf_free(&b);
  /* no usage: known false */
  j = resp("{\"output\":{\"message\":{\"content\":[]}}}", false, &rc, &u);
  CHECK(rc == 0 && !u.known && get(message(j), "content") && cJSON_IsNull(get(message(j), "content")));
  cJSON_Delete(j);
}

static const char *finish_for(const char *sr) {
  static char buf[64];
  char body[256];
  int rc;
  snprintf(body, sizeof body, "{\"output\":{\"message\":{\"content\":[{\"text\":\"x\"}]}},\"stopReason\":\"%s\"}", sr);
  cJSON *j = resp(body, false, &rc, NULL);
  snprintf(buf, sizeof buf, "%s", rc ? "error" : finish(j) ?: "null");
  cJSON_Delete(j);
  return buf;
}

static void stop_reasons(void) {
  CHECK_STR(finish_for("end_turn"), "stop");
  CHECK_STR(finish_for("stop_sequence"), "stop");
  CHECK_STR(finish_for("max_tokens"), "length");
  CHECK_STR(finish_for("tool_use"), "tool_calls");
  CHECK_STR(finish_for("guardrail_intervened"), "content_filter");
  CHECK_STR(finish_for("content_filtered"), "content_filter");
  CHECK_STR(finish_for("model_context_window_exceeded"), "length");
  CHECK_STR(finish_for("something_new"), "stop");
}

static void answer_tools_reasoning_json(void) {
  int rc;
  cJSON *j =
      resp("{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
           "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"think\",\"signature\":\"SIG\"}}},"
           "{\"reasoningContent\":{\"redactedContent\":\"RED\"}},"
           "{\"text\":\"calling\"},{\"toolUse\":{\"toolUseId\":\"tu1\",\"name\":\"wx\",\"input\":{\"city\":\"Oslo\"}}},"
           "{\"toolUse\":{\"toolUseId\":\"tu2\",\"name\":\"now\",\"input\":{}}}]}},\"stopReason\":\"tool_use\"}",
           false, &rc, NULL);
  CHECK(rc == 0);
  const cJSON *m = message(j);
  CHECK_STR(cJSON_GetStringValue(get(m, "content")) ?: "", "calling");
  CHECK_STR(cJSON_GetStringValue(get(m, "reasoning_content")) ?: "", "think");
  CHECK(same(get(m, "thinking_blocks"), "[{\"type\":\"thinking\",\"thinking\":\"think\",\"signature\":\"SIG\"},"
                                        "{\"type\":\"redacted_thinking\",\"data\":\"RED\"}]"));
  CHECK(same(get(m, "tool_calls"), "[{\"id\":\"tu1\",\"type\":\"function\",\"function\":{\"name\":\"wx\",\"arguments\":"
                                   "\"{\\\"city\\\":\\\"Oslo\\\"}\"}},{\"id\":\"tu2\",\"type\":\"function\","
                                   "\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]"));
  CHECK_STR(finish(j) ?: "", "tool_calls");
  cJSON_Delete(j);
  /* the json tool is content, finish stop */
  j = resp("{\"output\":{\"message\":{\"content\":[{\"toolUse\":{\"toolUseId\":\"x\",\"name\":\"" SL_XLATE_JSON_TOOL
           "\",\"input\":{\"a\":1}}}]}},\"stopReason\":\"tool_use\"}",
           true, &rc, NULL);
  CHECK(rc == 0 && !get(message(j), "tool_calls"));
  CHECK_STR(cJSON_GetStringValue(get(message(j), "content")) ?: "", "{\"a\":1}");
  CHECK_STR(finish(j) ?: "", "stop");
  cJSON_Delete(j);
}

static void malformed_answers(void) {
  int rc;
  static const char *const bodies[] = {NULL,
                                       "",
                                       "{",
                                       "[]",
                                       "{\"output\":{}}",
                                       "{\"output\":{\"message\":{\"content\":\"x\"}}}",
                                       "{\"message\":\"ValidationException\"}"};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct sl_xlate_usage u = {.known = true};
    CHECK(resp(bodies[i], false, &rc, &u) == NULL && rc == -EINVAL && !u.known);
  }
}

/* ---- a round trip: the Converse request a chat history gives, answered, back to chat ---- */

static void round_trip_tool_loop(void) {
  int rc;
  cJSON *c =
      req("{\"messages\":[{\"role\":\"user\",\"content\":\"wx?\"}],\"tools\":[{\"type\":\"function\",\"function\":"
          "{\"name\":\"wx\",\"parameters\":{\"type\":\"object\"}}}]}",
          "m", &rc);
  CHECK(rc == 0 && get(c, "toolConfig"));
  cJSON_Delete(c);
  cJSON *a = resp("{\"output\":{\"message\":{\"content\":[{\"toolUse\":{\"toolUseId\":\"q1\",\"name\":\"wx\",\"input\":"
                  "{\"d\":2}}}]}},"
                  "\"stopReason\":\"tool_use\"}",
                  false, &rc, NULL);
  CHECK(rc == 0);
  /* the client sends the answer's message back with its tool result */
  cJSON *next = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"wx?\"}],\"tools\":[{\"type\":\"function\","
                            "\"function\":{\"name\":\"wx\"}}]}");
  cJSON *msgs = cJSON_GetObjectItem(next, "messages");
  cJSON_AddItemToArray(msgs, cJSON_Duplicate(message(a), 1));
  cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"tool\",\"tool_call_id\":\"q1\",\"content\":\"cold\"}"));
  char *t = cJSON_PrintUnformatted(next);
  c = req(t, "m", &rc);
  CHECK(rc == 0);
  CHECK(same(
      get(c, "messages"),
      "[{\"role\":\"user\",\"content\":[{\"text\":\"wx?\"}]},{\"role\":\"assistant\",\"content\":[{\"toolUse\":"
      "{\"toolUseId\":\"q1\",\"name\":\"wx\",\"input\":{\"d\":2}}}]},{\"role\":\"user\",\"content\":[{\"toolResult\":"
      "{\"toolUseId\":\"q1\",\"content\":[{\"text\":\"cold\"}],\"status\":\"success\"}}]}]"));
  cJSON_free(t);
  cJSON_Delete(c);
  cJSON_Delete(next);
  cJSON_Delete(a);
}

/* ---- errors ---- */

static cJSON *error_of(int status, const char *type, const char *body) {
  struct sl_buf b = {0};
  int rc = sl_bedrock_error_to_oai(status, type, type ? strlen(type) : 0, body, body ? strlen(body) : 0, &b);
  cJSON *j = rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  sl_buf_free(&b);
  return get(j, "error") ? j : (cJSON_Delete(j), NULL);
}

static bool error_is(int status, const char *type, const char *body, const char *otype, const char *code,
                     const char *msg) {
  cJSON *j = error_of(status, type, body);
  const cJSON *e = get(j, "error");
  const char *c = cJSON_GetStringValue(get(e, "code"));
  bool ok = e && strcmp(cJSON_GetStringValue(get(e, "type")) ?: "", otype) == 0 &&
            (code ? c && strcmp(c, code) == 0 : cJSON_IsNull(get(e, "code"))) &&
            strstr(cJSON_GetStringValue(get(e, "message")) ?: "", msg);
  if (!ok) {
    char *t = cJSON_PrintUnformatted(j);
    fprintf(stderr, "error body: %s\n", t ? t : "(none)");
    cJSON_free(t);
  }
  cJSON_Delete(j);
  return ok;
}

static void bedrock_errors(void) {
  CHECK(error_is(400, "ValidationException", "{\"message\":\"Malformed input request\"}", "invalid_request_error",
                 "ValidationException", "Malformed input"));
  CHECK(error_is(400, "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                 "{\"message\":\"Input is too long for requested model.\"}", "invalid_request_error",
                 "context_length_exceeded", "too long"));
  CHECK(error_is(429, "ThrottlingException", "{\"message\":\"Too many requests\"}", "rate_limit_error",
                 "rate_limit_exceeded", "Too many"));
  CHECK(error_is(403, "AccessDeniedException", "{\"Message\":\"no access\"}", "permission_error",
                 "AccessDeniedException", "no access"));
  CHECK(error_is(403, "InvalidSignatureException",
                 "{\"message\":\"The request signature we calculated does not match\"}", "authentication_error",
                 "InvalidSignatureException", "signature"));
  CHECK(error_is(404, "ResourceNotFoundException", "{\"message\":\"Model not found\"}", "not_found_error",
                 "ResourceNotFoundException", "not found"));
  CHECK(error_is(408, "ModelTimeoutException", "{\"message\":\"slow\"}", "timeout_error", "ModelTimeoutException",
                 "slow"));
  CHECK(error_is(503, "ServiceUnavailableException", "{\"message\":\"down\"}", "service_unavailable",
                 "ServiceUnavailableException", "down"));
  CHECK(error_is(429, "ModelNotReadyException", "{\"message\":\"warming\"}", "service_unavailable",
                 "ModelNotReadyException", "warming"));
  /* the stream's lowerCamel names */
  CHECK(error_is(0, "throttlingException", "{\"message\":\"slow down\"}", "rate_limit_error", "rate_limit_exceeded",
                 "slow down"));
  CHECK(sl_bedrock_error_status("throttlingException", 19) == 429);
  CHECK(sl_bedrock_error_status("internalServerException", 23) == 500);
  CHECK(sl_bedrock_error_status("whatever", 8) == 0);
  /* no type: by status; an unreadable body: a generic message */
  CHECK(error_is(401, NULL, "{\"message\":\"bad key\"}", "authentication_error", NULL, "bad key"));
  CHECK(error_is(500, NULL, "<html>oops", "api_error", NULL, "HTTP 500"));
  CHECK(error_is(502, NULL, NULL, "api_error", NULL, "Bedrock returned an error"));
  CHECK(error_is(418, NULL, "{}", "invalid_request_error", NULL, "HTTP 418"));
  CHECK(error_is(0, "newKindOfException", "", "api_error", NULL, "(newKindOfException)"));
  CHECK(error_is(0, NULL, NULL, "api_error", NULL, "(unknown)"));
}

/* ---- invoke ---- */

static void anthropic_invoke_body(void) {
  struct sl_buf b = {0};
  bool stream = false;
  const char *in =
      "{\"model\":\"claude\",\"stream\":true,\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
  CHECK(sl_anthropic_body_for_version(in, strlen(in), "bedrock-2023-05-31", &b, &stream, err, sizeof err) == 0);
  cJSON *j = cJSON_ParseWithLength(b.p, b.n);
  CHECK(stream && same(j, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"anthropic_version\":\"bedrock-2023-05-31\"}"));
  cJSON_Delete(j);
  sl_buf_free(&b);
  in = "{\"model\":\"c\",\"anthropic_version\":\"mine\",\"messages\":[]}";
  CHECK(sl_anthropic_body_for_version(in, strlen(in), "vertex-2023-10-16", &b, &stream, err, sizeof err) == 0);
  j = cJSON_ParseWithLength(b.p, b.n);
  CHECK(!stream && same(j, "{\"anthropic_version\":\"mine\",\"messages\":[]}"));
  cJSON_Delete(j);
  sl_buf_free(&b);
  CHECK(sl_anthropic_body_for_version("[1]", 3, "v", &b, &stream, err, sizeof err) == -EINVAL && err[0]);
  CHECK(sl_anthropic_body_for_version("{", 1, "v", &b, &stream, err, sizeof err) == -EINVAL);
  sl_buf_free(&b);
}

static void invoke_chunks(void) {
  struct sl_buf b = {0};
  /* {"type":"message_stop"} and a pretty-printed event */
  const char *c1 = "{\"bytes\":\"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=\"}";
  CHECK(sl_bedrock_invoke_chunk_to_sse(c1, strlen(c1), &b) == 0);
  CHECK(b.n == strlen("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") &&
        memcmp(b.p, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", b.n) == 0);
  sl_buf_free(&b);
  const char *c2 = "{\"bytes\":\"eyJ0eXBlIjoicGluZyIsCiAiYSI6MX0=\"}"; /* {"type":"ping",\n "a":1} */
  CHECK(sl_bedrock_invoke_chunk_to_sse(c2, strlen(c2), &b) == 0);
  CHECK(b.n && memcmp(b.p, "event: ping\ndata: {\"type\":\"ping\",\"a\":1}\n\n", b.n) == 0);
  sl_buf_free(&b);
  static const char *const bad[] = {"",
                                    "{}",
                                    "{\"bytes\":3}",
                                    "{\"bytes\":\"!!!\"}",
                                    "{\"bytes\":\"e30=\"}" /* {} */,
                                    "{\"bytes\":\"bm90IGpzb24=\"}" /* not json */};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(sl_bedrock_invoke_chunk_to_sse(bad[i], strlen(bad[i]), &b) == -EINVAL && b.n == 0);
  }
  sl_buf_free(&b);
}

/* ---- embeddings ---- */

static cJSON *embed_req(enum sl_bedrock_embed k, const char *json, int *rc) {
  cJSON *in = cJSON_Parse(json);
  struct sl_buf b = {0};
  err[0] = 0;
  *rc = sl_bedrock_embed_request(k, in, &b, err, sizeof err);
  cJSON *out = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  sl_buf_free(&b);
  cJSON_Delete(in);
  return out;
}

static void embeddings_requests(void) {
  int rc;
  cJSON *j = embed_req(SL_BEDROCK_EMBED_TITAN, "{\"model\":\"e\",\"input\":\"hello\",\"dimensions\":256}", &rc);
  CHECK(rc == 0 && same(j, "{\"inputText\":\"hello\",\"dimensions\":256}"));
  cJSON_Delete(j);
  j = embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":[\"one\"]}", &rc);
  CHECK(rc == 0 && same(j, "{\"inputText\":\"one\"}"));
  cJSON_Delete(j);
  CHECK(!embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":[\"a\",\"b\"]}", &rc) && rc == -EINVAL &&
        strstr(err, "one input"));
  CHECK(!embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":\"a\",\"dimensions\":-1}", &rc) && rc == -EINVAL);
  CHECK(!embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":[1,2,3]}", &rc) && rc == -EINVAL && strstr(err, "token ids"));
  CHECK(!embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":[]}", &rc) && rc == -EINVAL);
  CHECK(!embed_req(SL_BEDROCK_EMBED_TITAN, "{\"input\":\"a\",\"encoding_format\":\"hex\"}", &rc) && rc == -EINVAL);
  j = embed_req(SL_BEDROCK_EMBED_COHERE, "{\"input\":[\"a\",\"b\"]}", &rc);
  CHECK(rc == 0 && same(j, "{\"texts\":[\"a\",\"b\"],\"input_type\":\"search_document\"}"));
  cJSON_Delete(j);
  j = embed_req(SL_BEDROCK_EMBED_COHERE, "{\"input\":\"q\",\"input_type\":\"search_query\",\"truncate\":\"END\"}", &rc);
  CHECK(rc == 0 && same(j, "{\"texts\":[\"q\"],\"input_type\":\"search_query\",\"truncate\":\"END\"}"));
  cJSON_Delete(j);
  struct sl_buf many = {0};
  sl_buf_puts(&many, "{\"input\":[");
  for (int i = 0; i < 97; i++) sl_buf_puts(&many, i ? ",\"x\"" : "\"x\"");
  sl_buf_puts(&many, "]}");
  CHECK(!embed_req(SL_BEDROCK_EMBED_COHERE, many.p, &rc) && rc == -EINVAL && strstr(err, "96"));
  sl_buf_free(&many);
}

static void embeddings_responses(void) {
  struct sl_buf b = {0};
  struct sl_xlate_usage u;
  const char *t = "{\"embedding\":[0.5,-1.25,3],\"inputTextTokenCount\":4}";
  CHECK(sl_bedrock_embed_response(SL_BEDROCK_EMBED_TITAN, "titan", t, strlen(t), &b, &u) == 0);
  cJSON *j = cJSON_ParseWithLength(b.p, b.n);
  CHECK(same(j, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-1.25,3]}],"
                "\"model\":\"titan\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}"));
  CHECK(u.known && u.input == 4 && u.output == 0);
  cJSON_Delete(j);
  sl_buf_free(&b);
  /* base64: little-endian float32 (0.5 = 00 00 00 3f, -1.25 = 00 00 a0 bf, 3 = 00 00 40 40) */
  CHECK(sl_bedrock_embed_response_fmt(SL_BEDROCK_EMBED_TITAN, "titan", true, t, strlen(t), &b, &u) == 0);
  j = cJSON_ParseWithLength(b.p, b.n);
  CHECK_STR(cJSON_GetStringValue(get(cJSON_GetArrayItem(get(j, "data"), 0), "embedding")) ?: "", "AAAAPwAAoL8AAEBA");
  cJSON_Delete(j);
  sl_buf_free(&b);
  const char *c =
      "{\"embeddings\":[[1,2],[3,4]],\"id\":\"x\",\"response_type\":\"embeddings_floats\",\"texts\":[\"a\",\"b\"]}";
  CHECK(sl_bedrock_embed_response(SL_BEDROCK_EMBED_COHERE, "cohere", c, strlen(c), &b, &u) == 0);
  j = cJSON_ParseWithLength(b.p, b.n);
  CHECK(same(j, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[1,2]},"
                "{\"object\":\"embedding\",\"index\":1,\"embedding\":[3,4]}],\"model\":\"cohere\","
                "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}"));
  CHECK(!u.known);
  cJSON_Delete(j);
  sl_buf_free(&b);
  c = "{\"embeddings\":{\"float\":[[1]]},\"meta\":{\"billed_units\":{\"input_tokens\":2}}}";
  CHECK(sl_bedrock_embed_response(SL_BEDROCK_EMBED_COHERE, "cohere", c, strlen(c), &b, &u) == 0 && u.known &&
        u.input == 2);
  sl_buf_free(&b);
  static const char *const bad[] = {
      "", "{", "{}", "{\"embedding\":\"x\"}", "{\"embedding\":[\"a\"]}", "{\"embeddings\":[[1,\"b\"]]}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    enum sl_bedrock_embed k = strstr(bad[i], "embeddings") ? SL_BEDROCK_EMBED_COHERE : SL_BEDROCK_EMBED_TITAN;
    CHECK(sl_bedrock_embed_response(k, "m", bad[i], strlen(bad[i]), &b, NULL) == -EINVAL && b.n == 0);
  }
  sl_buf_free(&b);
}

CHECK_MAIN(T(text_and_system), T(images_and_documents), T(multi_turn_tools), T(tool_choice_variants),
           T(json_response_format), T(thinking_for_claude), T(malformed_requests), T(answer_text_and_usage),
           T(stop_reasons), T(answer_tools_reasoning_json), T(malformed_answers), T(round_trip_tool_loop),
           T(bedrock_errors), T(anthropic_invoke_body), T(invoke_chunks), T(embeddings_requests),
           T(embeddings_responses))
