/* Bedrock translators (net/wire/xlate_bedrock.h), requests and whole answers: Anthropic
 * Messages -> Converse (text, system with cache points, images and documents, multi-turn
 * tools with results and errors, tool_choice variants incl. none, thinking and top_k for
 * Claude only, inference parameters, blocks and members with no Converse form refused),
 * Converse -> Anthropic messages (stop reasons, usage with cache tokens, tool_use, thinking
 * with its signature, redacted thinking), Bedrock errors -> OpenAI and Anthropic error
 * bodies, invoke bodies and chunks, Titan and Cohere embeddings, and malformed input refused
 * with an error. */
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
  *rc = sl_xlate_anth_to_converse_request(in, &o, &b, err, sizeof err);
  cJSON *out = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (*rc == 0 && !out) *rc = -999;
  if (*rc) CHECK(b.n == 0);
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
  cJSON *c = req("{\"model\":\"m\",\"stream\":true,\"metadata\":{\"user_id\":\"u\"},"
                 "\"system\":[{\"type\":\"text\",\"text\":\"be brief\"},{\"type\":\"text\",\"text\":\"and kind\","
                 "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":["
                 "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                 "\"there\"},{\"type\":\"text\",\"text\":\"\"}]}],"
                 "\"max_tokens\":100,\"temperature\":0.7,\"top_p\":0.5,\"stop_sequences\":[\"END\"]}",
                 "amazon.nova-pro-v1:0", &rc);
  CHECK(rc == 0);
  CHECK(same(c,
             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"},{\"text\":\"there\"}]}],"
             "\"system\":[{\"text\":\"be brief\"},{\"text\":\"and kind\"},{\"cachePoint\":{\"type\":\"default\"}}],"
             "\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":0.7,\"topP\":0.5,\"stopSequences\":[\"END\"]}}"));
  cJSON_Delete(c);
  /* a string system; no model id in the body; an assistant turn; alternation kept */
  c = req("{\"model\":\"x\",\"system\":\"sys\",\"max_tokens\":7,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},{\"role\":\"user\",\"content\":"
          "\"r\"}]}",
          NULL, &rc);
  CHECK(rc == 0);
  CHECK(same(c,
             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"q\"}]},{\"role\":\"assistant\",\"content\":"
             "[{\"text\":\"a\"}]},{\"role\":\"user\",\"content\":[{\"text\":\"r\"}]}],\"system\":[{\"text\":\"sys\"}],"
             "\"inferenceConfig\":{\"maxTokens\":7}}"));
  cJSON_Delete(c);
}

static void images_and_documents(void) {
  int rc;
  cJSON *c = req("{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":["
                 "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBO\"},"
                 "\"cache_control\":{\"type\":\"ephemeral\"}},"
                 "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\","
                 "\"data\":\"JVBE\"}},"
                 "{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"hi\"}},"
                 "{\"type\":\"text\",\"text\":\"what?\"}]}]}",
                 "m", &rc);
  CHECK(rc == 0);
  CHECK(same(c,
             "{\"messages\":[{\"role\":\"user\",\"content\":["
             "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"iVBO\"}}},{\"cachePoint\":{\"type\":\"default\"}},"
             "{\"document\":{\"format\":\"pdf\",\"name\":\"document-1\",\"source\":{\"bytes\":\"JVBE\"}}},"
             "{\"document\":{\"format\":\"txt\",\"name\":\"document-2\",\"source\":{\"bytes\":\"aGk=\"}}},"
             "{\"text\":\"what?\"}]}],\"inferenceConfig\":{\"maxTokens\":5}}"));
  cJSON_Delete(c);
  /* an empty text document: empty bytes */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"text\","
          "\"data\":\"\"}}]}]}",
          "m", &rc);
  CHECK(rc == 0 &&
        same(get(cJSON_GetArrayItem(get(cJSON_GetArrayItem(get(c, "messages"), 0), "content"), 0), "document"),
             "{\"format\":\"txt\",\"name\":\"document-1\",\"source\":{\"bytes\":\"\"}}"));
  cJSON_Delete(c);
  /* a URL source: Converse takes bytes only */
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\","
          "\"url\":\"https://x/y.png\"}}]}]}",
          "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "base64"));
  c = req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
          "\"media_type\":\"image/tiff\",\"data\":\"AA\"}}]}]}",
          "m", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "image/tiff"));
}

static void multi_turn_tools(void) {
  int rc;
  cJSON *c = req(
      "{\"max_tokens\":9,\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":"
      "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"cache_control\":{\"type\":\"ephemeral\"}}],"
      "\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":true},\"messages\":["
      "{\"role\":\"user\",\"content\":\"weather in Paris?\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"checking\"},{\"type\":\"tool_use\",\"id\":"
      "\"tu1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"tu1\",\"content\":\"sunny\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"tu2\",\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":"
      "\"boom\"}]},{\"type\":\"tool_result\",\"tool_use_id\":\"tu3\"},{\"type\":\"text\",\"text\":\"and?\"}]}]}",
      "anthropic.claude-3", &rc);
  CHECK(rc == 0);
  bool ok = same(
      c, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"weather in Paris?\"}]},"
         "{\"role\":\"assistant\",\"content\":[{\"text\":\"checking\"},{\"toolUse\":{\"toolUseId\":\"tu1\","
         "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}}]},"
         "{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":\"tu1\",\"content\":[{\"text\":\"sunny\"}],"
         "\"status\":\"success\"}},{\"toolResult\":{\"toolUseId\":\"tu2\",\"content\":[{\"text\":\"boom\"}],"
         "\"status\":\"error\"}},{\"toolResult\":{\"toolUseId\":\"tu3\",\"content\":[{\"text\":\"\"}],"
         "\"status\":\"success\"}},{\"text\":\"and?\"}]}],"
         "\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\",\"description\":\"Weather\","
         "\"inputSchema\":{\"json\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}},"
         "{\"cachePoint\":{\"type\":\"default\"}}],\"toolChoice\":{\"auto\":{}}},"
         "\"inferenceConfig\":{\"maxTokens\":9}}");
  CHECK(ok);
  cJSON_Delete(c);
  /* a tool history without tools: Converse still wants a toolConfig (a placeholder) */
  c = req("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
          "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\","
          "\"content\":\"ok\"}]}]}",
          "m", &rc);
  CHECK(rc == 0);
  CHECK(same(get(c, "toolConfig"),
             "{\"tools\":[{\"toolSpec\":{\"name\":\"sluice_no_tool\",\"description\":"
             "\"Not a real tool: do not call it.\",\"inputSchema\":{\"json\":{\"type\":\"object\","
             "\"properties\":{}}}}}]}"));
  cJSON_Delete(c);
}

/* tool_choice JSON -> the Converse toolChoice printed ("" when none) or NULL on error */
static char choice_buf[256];
static const char *choice_of(const char *tc) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":%s,"
           "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
           tc);
  int rc;
  cJSON *c = req(body, "m", &rc);
  if (rc) return NULL;
  const cJSON *cfg = get(c, "toolConfig"), *ch = get(cfg, "toolChoice");
  char *t = ch ? cJSON_PrintUnformatted(ch) : NULL;
  snprintf(choice_buf, sizeof choice_buf, "%s%s", cfg ? "" : "no-tools:", t ? t : "");
  cJSON_free(t);
  cJSON_Delete(c);
  return choice_buf;
}

static void tool_choice_variants(void) {
  CHECK_STR(choice_of("{\"type\":\"auto\"}") ?: "?", "{\"auto\":{}}");
  CHECK_STR(choice_of("{\"type\":\"any\"}") ?: "?", "{\"any\":{}}");
  CHECK_STR(choice_of("{\"type\":\"tool\",\"name\":\"f\"}") ?: "?", "{\"tool\":{\"name\":\"f\"}}");
  CHECK_STR(choice_of("null") ?: "?", "");
  CHECK_STR(choice_of("{\"type\":\"none\"}") ?: "?", "no-tools:"); /* the tools withheld */
  CHECK(choice_of("{\"type\":\"tool\"}") == NULL && strstr(err, "tool_choice"));
  CHECK(choice_of("\"auto\"") == NULL);
  /* none with a tool history: the tools stay (Converse needs them), no choice */
  int rc;
  cJSON *c = req("{\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":"
                 "\"none\"},\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
                 "\"name\":\"f\",\"input\":{}}]}]}",
                 "m", &rc);
  CHECK(rc == 0 && cJSON_GetArraySize(get(get(c, "toolConfig"), "tools")) == 1 &&
        !get(get(c, "toolConfig"), "toolChoice"));
  cJSON_Delete(c);
}

static void thinking_for_claude(void) {
  int rc;
  const char *body = "{\"max_tokens\":3000,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"top_k\":5,"
                     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":["
                     "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"sig\"},{\"type\":"
                     "\"redacted_thinking\",\"data\":\"enc\"},{\"type\":\"text\",\"text\":\"y\"}]}]}";
  cJSON *c = req(body, "us.anthropic.claude-sonnet-4", &rc);
  CHECK(rc == 0);
  CHECK(same(get(c, "additionalModelRequestFields"),
             "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"top_k\":5}"));
  CHECK(same(get(cJSON_GetArrayItem(get(c, "messages"), 1), "content"),
             "[{\"reasoningContent\":{\"reasoningText\":{\"text\":\"hmm\",\"signature\":\"sig\"}}},"
             "{\"reasoningContent\":{\"redactedContent\":\"enc\"}},{\"text\":\"y\"}]"));
  cJSON_Delete(c);
  /* another model has no such fields: dropped */
  c = req(body, "meta.llama3-70b", &rc);
  CHECK(rc == 0 && !get(c, "additionalModelRequestFields"));
  cJSON_Delete(c);
  /* thinking disabled: nothing to pass */
  c = req("{\"thinking\":{\"type\":\"disabled\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "claude", &rc);
  CHECK(rc == 0 && !get(c, "additionalModelRequestFields"));
  cJSON_Delete(c);
  /* a thinking block without its signature cannot be replayed */
  c = req("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"h\"}]}]}",
          "claude", &rc);
  CHECK(!c && rc == -EINVAL && strstr(err, "signature"));
}

static void malformed_requests(void) {
  static const struct {
    const char *body, *why;
  } bad[] = {
      {"[]", "JSON object"},
      {"{}", "'messages'"},
      {"{\"messages\":{}}", "'messages'"},
      {"{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "role"},
      {"{\"messages\":[{\"role\":\"user\"}]}", "content"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}", "type"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}", "object"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\"}]}]}",
       "tool_use"},
      {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"image\",\"source\":{}}]}]}", "image"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}", "tool_use_id"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"search_result\"}]}]}", "search_result"},
      {"{\"messages\":[],\"mcp_servers\":[]}", "mcp_servers"},
      {"{\"messages\":[],\"container\":\"c\"}", "container"},
      {"{\"messages\":[],\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}", "web_search"},
      {"{\"messages\":[],\"tools\":[{\"name\":\"f\"}]}", "input_schema"},
      {"{\"messages\":[],\"tools\":{}}", "tools"},
      {"{\"messages\":[],\"system\":[{\"type\":\"image\"}]}", "system"},
      {"{\"messages\":[],\"system\":5}", "system"},
      {"{\"messages\":[],\"stop_sequences\":\"x\"}", "stop_sequences"},
      {"{\"messages\":[],\"stop_sequences\":[1]}", "stop_sequences"},
      {"{\"messages\":[],\"max_tokens\":\"5\"}", "max_tokens"},
      {"{\"messages\":[],\"thinking\":true}", "thinking"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc;
    cJSON *c = req(bad[i].body, "claude", &rc);
    if (c || rc != -EINVAL || !strstr(err, bad[i].why)) fprintf(stderr, "case %zu: rc %d err '%s'\n", i, rc, err);
    CHECK(!c && rc == -EINVAL && strstr(err, bad[i].why));
    cJSON_Delete(c);
  }
}

/* ---- answers ---- */

static cJSON *resp(const char *body, int *rc, struct sl_xlate_usage *u) {
  struct sl_buf b = {0};
  struct sl_xlate_resp_opts o = {.created = 1700000000};
  *rc = sl_xlate_converse_to_anth_response(body, strlen(body), &o, "bedrock/m", &b, u);
  cJSON *j = *rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  sl_buf_free(&b);
  return j;
}

static void answer_text_and_usage(void) {
  int rc;
  struct sl_xlate_usage u;
  cJSON *j = resp("{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"Hello\"},{\"text\":\" "
                  "there\"}]}},\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":10,\"outputTokens\":4,"
                  "\"totalTokens\":30,\"cacheReadInputTokens\":12,\"cacheWriteInputTokens\":4},\"metrics\":{}}",
                  &rc, &u);
  CHECK(rc == 0);
  const char *id = cJSON_GetStringValue(get(j, "id"));
  CHECK(id && strncmp(id, "msg_", 4) == 0 && strlen(id) > 12);
  cJSON_DeleteItemFromObject(j, "id");
  CHECK(same(j, "{\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bedrock/m\",\"content\":["
                "{\"type\":\"text\",\"text\":\"Hello\"},{\"type\":\"text\",\"text\":\" there\"}],"
                "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
                "\"cache_creation_input_tokens\":4,\"cache_read_input_tokens\":12,\"output_tokens\":4}}"));
  CHECK(u.known && u.input == 10 && u.output == 4 && u.cache_read == 12 && u.cache_creation == 4);
  cJSON_Delete(j);
  /* the same answer twice: the same id (a pure function of the bytes and created) */
  const char *b = "{\"output\":{\"message\":{\"content\":[]}}}";
  cJSON *a1 = resp(b, &rc, NULL), *a2 = resp(b, &rc, NULL);
  CHECK(a1 && a2 && strcmp(cJSON_GetStringValue(get(a1, "id")), cJSON_GetStringValue(get(a2, "id"))) == 0);
  CHECK(same(get(a1, "usage"), "{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                               "\"output_tokens\":0}"));
  cJSON_Delete(a1);
  cJSON_Delete(a2);
  /* a caller-minted id */
  struct sl_buf bb = {0};
  struct sl_xlate_resp_opts o = {.resp_id = "resp_abc123"};
  CHECK(sl_xlate_converse_to_anth_response(b, strlen(b), &o, "m", &bb, NULL) == 0 && strstr(bb.p, "\"msg_abc123\""));
  sl_buf_free(&bb);
}

static const char *stop_for(const char *sr) {
  static char out[64];
  char body[256];
  snprintf(body, sizeof body, "{\"output\":{\"message\":{\"content\":[]}},\"stopReason\":\"%s\"}", sr);
  int rc;
  cJSON *j = resp(body, &rc, NULL);
  snprintf(out, sizeof out, "%s", cJSON_GetStringValue(get(j, "stop_reason")) ?: "?");
  cJSON_Delete(j);
  return out;
}

static void stop_reasons(void) {
  CHECK_STR(stop_for("end_turn"), "end_turn");
  CHECK_STR(stop_for("stop_sequence"), "stop_sequence");
  CHECK_STR(stop_for("max_tokens"), "max_tokens");
  CHECK_STR(stop_for("model_context_window_exceeded"), "model_context_window_exceeded");
  CHECK_STR(stop_for("tool_use"), "tool_use");
  CHECK_STR(stop_for("guardrail_intervened"), "refusal");
  CHECK_STR(stop_for("content_filtered"), "refusal");
  CHECK_STR(stop_for("something_new"), "end_turn");
  int rc;
  cJSON *j = resp("{\"output\":{\"message\":{\"content\":[]}},\"stopReason\":\"stop_sequence\","
                  "\"additionalModelResponseFields\":{\"stop_sequence\":\"END\"}}",
                  &rc, NULL);
  CHECK(rc == 0 && strcmp(cJSON_GetStringValue(get(j, "stop_sequence")) ?: "", "END") == 0);
  cJSON_Delete(j);
}

static void answer_tools_reasoning(void) {
  int rc;
  cJSON *j = resp("{\"output\":{\"message\":{\"content\":[{\"reasoningContent\":{\"reasoningText\":{\"text\":"
                  "\"think\",\"signature\":\"sig\"}}},{\"reasoningContent\":{\"redactedContent\":\"enc\"}},"
                  "{\"text\":\"ok\"},{\"toolUse\":{\"toolUseId\":\"tu1\",\"name\":\"f\",\"input\":{\"a\":1}}},"
                  "{\"toolUse\":{\"toolUseId\":\"tu2\",\"name\":\"g\",\"input\":\"x\"}},{\"image\":{}}]}},"
                  "\"stopReason\":\"tool_use\"}",
                  &rc, NULL);
  CHECK(rc == 0);
  CHECK(same(get(j, "content"),
             "[{\"type\":\"thinking\",\"thinking\":\"think\",\"signature\":\"sig\"},{\"type\":\"redacted_thinking\","
             "\"data\":\"enc\"},{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":"
             "\"f\",\"input\":{\"a\":1}},{\"type\":\"tool_use\",\"id\":\"tu2\",\"name\":\"g\",\"input\":{}}]"));
  CHECK_STR(cJSON_GetStringValue(get(j, "stop_reason")) ?: "", "tool_use");
  cJSON_Delete(j);
}

static void malformed_answers(void) {
  static const char *const bad[] = {"",
                                    "{",
                                    "[]",
                                    "{}",
                                    "{\"output\":{}}",
                                    "{\"output\":{\"message\":{}}}",
                                    "{\"output\":{\"message\":{\"content\":{}}}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_buf b = {0};
    struct sl_xlate_usage u = {.known = true};
    CHECK(sl_xlate_converse_to_anth_response(bad[i], strlen(bad[i]), NULL, "m", &b, &u) == -EINVAL && b.n == 0 &&
          !u.known);
    sl_buf_free(&b);
  }
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

static void bedrock_errors_anthropic(void) {
  static const struct {
    int status;
    const char *type, *body, *atype, *msg;
  } cases[] = {
      {400, "ValidationException", "{\"message\":\"Input is too long for requested model.\"}", "invalid_request_error",
       "too long"},
      {429, "ThrottlingException", "{\"message\":\"Too many requests\"}", "rate_limit_error", "Too many"},
      {403, "InvalidSignatureException", "{\"message\":\"The request signature we calculated does not match\"}",
       "authentication_error", "signature"},
      {403, "AccessDeniedException", "{\"Message\":\"no access\"}", "permission_error", "no access"},
      {404, "ResourceNotFoundException", "{\"message\":\"Model not found\"}", "not_found_error", "not found"},
      {503, "ServiceUnavailableException", "{\"message\":\"down\"}", "overloaded_error", "down"},
      {500, NULL, "<html>oops", "api_error", "HTTP 500"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sl_buf b = {0};
    const char *t = cases[i].type;
    CHECK(sl_bedrock_error_to_anth(cases[i].status, t, t ? strlen(t) : 0, cases[i].body, strlen(cases[i].body), &b) ==
          0);
    cJSON *j = cJSON_ParseWithLength(b.p, b.n);
    const cJSON *e = get(j, "error");
    bool ok = strcmp(cJSON_GetStringValue(get(j, "type")) ?: "", "error") == 0 &&
              strcmp(cJSON_GetStringValue(get(e, "type")) ?: "", cases[i].atype) == 0 &&
              strstr(cJSON_GetStringValue(get(e, "message")) ?: "", cases[i].msg);
    if (!ok) fprintf(stderr, "case %zu: %.*s\n", i, (int)b.n, b.p);
    CHECK(ok);
    cJSON_Delete(j);
    sl_buf_free(&b);
  }
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
           T(thinking_for_claude), T(malformed_requests), T(answer_text_and_usage), T(stop_reasons),
           T(answer_tools_reasoning), T(malformed_answers), T(bedrock_errors), T(bedrock_errors_anthropic),
           T(anthropic_invoke_body), T(invoke_chunks), T(embeddings_requests), T(embeddings_responses))
