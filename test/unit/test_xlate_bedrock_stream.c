/* ConverseStream -> OpenAI SSE (net/wire/xlate_bedrock.h): the chunks an OpenAI client
 * expects (one stable chatcmpl id, the role first, text deltas, a tool call's head then its
 * arguments in pieces, the finish chunk, the usage chunk with cache tokens, [DONE]), the
 * payload in both the bare and the wrapped ({"eventName":{...}}) shapes, reasoning deltas,
 * response_format's json tool as content, an exception event, a stream cut before
 * messageStop (-EPIPE), and malformed events (-EINVAL), every error sticky and in-band. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate_bedrock.h"
#include "test/unit/check.h"

struct ev {
  const char *type, *payload;
};

/* Runs events then finish; out gets the SSE text; returns the first non-zero code (or the
 * finish's). */
static int run(const struct ev *evs, size_t n, bool json_tool, struct sl_buf *out, struct sl_xlate_usage *u) {
  struct sl_converse_stream *s;
  struct sl_xlate_resp_opts o = {.created = 42, .json_tool = json_tool};
  if (sl_converse_stream_new(&o, "bedrock/model", &s)) return -ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = sl_converse_stream_event(s, evs[i].type, strlen(evs[i].type), evs[i].payload, strlen(evs[i].payload), out);
  if (rc) {
    /* sticky: another event or finish appends nothing and says the same */
    size_t before = out->n;
    CHECK(sl_converse_stream_event(s, "messageStop", 11, "{}", 2, out) == rc);
    CHECK(sl_converse_stream_finish(s, out, u) == rc && out->n == before);
  } else {
    rc = sl_converse_stream_finish(s, out, u);
  }
  sl_converse_stream_free(s);
  return rc;
}

/* The data: lines of out, parsed (NULL for [DONE]); returns how many. */
static int chunks(const struct sl_buf *out, cJSON **arr, int max) {
  int n = 0;
  const char *p = out->p, *end = out->p + out->n;
  while (p && p < end && n < max) {
    const char *e = strstr(p, "\n\n");
    if (!e || strncmp(p, "data: ", 6) != 0) return -1;
    arr[n++] = strncmp(p + 6, "[DONE]", 6) == 0 ? NULL : cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
    p = e + 2;
  }
  return n;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static const cJSON *delta(const cJSON *c) { return get(cJSON_GetArrayItem(get(c, "choices"), 0), "delta"); }
static const char *str(const cJSON *o, const char *k) { return cJSON_GetStringValue(get(o, k)) ?: ""; }

static void text_then_tool_call(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Let me \"},\"p\":\"ab\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"check.\"}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":0}"},
      {"contentBlockStart",
       "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{\"toolUseId\":\"tooluse_1\",\"name\":\"wx\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"{\\\"ci\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"ty\\\":\\\"Oslo\\\"}\"}}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":1}"},
      {"contentBlockStart",
       "{\"contentBlockIndex\":2,\"start\":{\"toolUse\":{\"toolUseId\":\"tooluse_2\",\"name\":\"now\"}}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":2}"},
      {"messageStop", "{\"stopReason\":\"tool_use\"}"},
      {"metadata", "{\"usage\":{\"inputTokens\":12,\"outputTokens\":30,\"totalTokens\":42,\"cacheReadInputTokens\":100,"
                   "\"cacheWriteInputTokens\":8},\"metrics\":{\"latencyMs\":300}}"},
  };
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  CHECK(run(evs, sizeof evs / sizeof evs[0], false, &out, &u) == 0);
  cJSON *c[32] = {0};
  int n = chunks(&out, c, 32);
  CHECK(n == 11);
  if (n != 11) {
    fprintf(stderr, "%.*s", (int)out.n, out.p);
    sl_buf_free(&out);
    return;
  }
  const char *id = str(c[0], "id");
  CHECK(strncmp(id, "chatcmpl-", 9) == 0);
  for (int i = 0; i < n - 1; i++) {
    CHECK_STR(str(c[i], "id"), id);
    CHECK_STR(str(c[i], "object"), "chat.completion.chunk");
    CHECK_STR(str(c[i], "model"), "bedrock/model");
    CHECK(get(c[i], "created")->valueint == 42);
  }
  CHECK_STR(str(delta(c[0]), "role"), "assistant");
  CHECK_STR(str(delta(c[1]), "content"), "Let me ");
  CHECK_STR(str(delta(c[2]), "content"), "check.");
  const cJSON *tc = cJSON_GetArrayItem(get(delta(c[3]), "tool_calls"), 0);
  CHECK(get(tc, "index")->valueint == 0 && strcmp(str(tc, "id"), "tooluse_1") == 0 &&
        strcmp(str(tc, "type"), "function") == 0 && strcmp(str(get(tc, "function"), "name"), "wx") == 0 &&
        strcmp(str(get(tc, "function"), "arguments"), "") == 0);
  /* the arguments in pieces, put together by the client */
  char args[64];
  snprintf(args, sizeof args, "%s%s",
           str(get(cJSON_GetArrayItem(get(delta(c[4]), "tool_calls"), 0), "function"), "arguments"),
           str(get(cJSON_GetArrayItem(get(delta(c[5]), "tool_calls"), 0), "function"), "arguments"));
  CHECK_STR(args, "{\"city\":\"Oslo\"}");
  CHECK(get(cJSON_GetArrayItem(get(delta(c[5]), "tool_calls"), 0), "id") == NULL);
  tc = cJSON_GetArrayItem(get(delta(c[6]), "tool_calls"), 0);
  CHECK(get(tc, "index")->valueint == 1 && strcmp(str(tc, "id"), "tooluse_2") == 0);
  /* a call that got no input: arguments "{}" at its stop */
  tc = cJSON_GetArrayItem(get(delta(c[7]), "tool_calls"), 0);
  CHECK(get(tc, "index")->valueint == 1 && strcmp(str(get(tc, "function"), "arguments"), "{}") == 0);
  CHECK_STR(str(cJSON_GetArrayItem(get(c[8], "choices"), 0), "finish_reason"), "tool_calls");
  CHECK(cJSON_IsNull(get(c[8], "usage")));
  CHECK(cJSON_GetArraySize(get(c[9], "choices")) == 0);
  cJSON *want = cJSON_Parse("{\"prompt_tokens\":120,\"completion_tokens\":30,\"total_tokens\":150,"
                            "\"prompt_tokens_details\":{\"cached_tokens\":100}}");
  CHECK(cJSON_Compare(get(c[9], "usage"), want, true));
  cJSON_Delete(want);
  CHECK(c[10] == NULL); /* [DONE] */
  CHECK(u.known && u.input == 12 && u.output == 30 && u.cache_read == 100 && u.cache_creation == 8);
  for (int i = 0; i < n; i++) cJSON_Delete(c[i]);
  sl_buf_free(&out);
}

static void wrapped_payloads_and_reasoning(void) {
  static const struct ev evs[] = {
      {"", "{\"messageStart\":{\"role\":\"assistant\"}}"},
      {"contentBlockDelta",
       "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"text\":\"hm\"}}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"signature\":\"SIG\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"text\":\"hi\"}}"},
      {"somethingNew", "{\"x\":1}"},
      {"messageStop", "{\"stopReason\":\"max_tokens\"}"},
  };
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  /* no metadata: finish writes the usage chunk (zeros, usage unknown) and [DONE] */
  CHECK(run(evs, sizeof evs / sizeof evs[0], false, &out, &u) == 0);
  cJSON *c[16] = {0};
  int n = chunks(&out, c, 16);
  CHECK(n == 6);
  if (n == 6) {
    CHECK_STR(str(delta(c[0]), "role"), "assistant");
    CHECK_STR(str(delta(c[1]), "reasoning_content"), "hm");
    CHECK_STR(str(delta(c[2]), "content"), "hi");
    CHECK_STR(str(cJSON_GetArrayItem(get(c[3], "choices"), 0), "finish_reason"), "length");
    CHECK(get(get(c[4], "usage"), "total_tokens")->valueint == 0 && c[5] == NULL);
  }
  CHECK(!u.known);
  for (int i = 0; i < n; i++) cJSON_Delete(c[i]);
  sl_buf_free(&out);
}

static void json_tool_is_content(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\"}"},
      {"contentBlockStart",
       "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":\"j\",\"name\":\"" SL_XLATE_JSON_TOOL "\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"{\\\"a\\\":\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"1}\"}}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":0}"},
      {"messageStop", "{\"stopReason\":\"tool_use\"}"},
      {"metadata", "{\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}"},
  };
  struct sl_buf out = {0};
  CHECK(run(evs, sizeof evs / sizeof evs[0], true, &out, NULL) == 0);
  cJSON *c[16] = {0};
  int n = chunks(&out, c, 16);
  CHECK(n == 6);
  if (n == 6) {
    CHECK_STR(str(delta(c[1]), "content"), "{\"a\":");
    CHECK_STR(str(delta(c[2]), "content"), "1}");
    CHECK_STR(str(cJSON_GetArrayItem(get(c[3], "choices"), 0), "finish_reason"), "stop");
  }
  CHECK(!strstr(out.p ? out.p : "", "tool_calls"));
  for (int i = 0; i < n; i++) cJSON_Delete(c[i]);
  sl_buf_free(&out);
}

static void exception_event(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"par\"}}"},
      {"throttlingException", "{\"message\":\"Too many tokens, please wait before trying again.\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"never\"}}"},
  };
  struct sl_buf out = {0};
  CHECK(run(evs, sizeof evs / sizeof evs[0], false, &out, NULL) == -EPROTO);
  cJSON *c[8] = {0};
  int n = chunks(&out, c, 8);
  CHECK(n == 3);
  if (n == 3) {
    const cJSON *e = get(c[2], "error");
    CHECK_STR(str(e, "type"), "rate_limit_error");
    CHECK_STR(str(e, "code"), "rate_limit_exceeded");
    CHECK(strstr(str(e, "message"), "Too many tokens"));
  }
  CHECK(!strstr(out.p, "never") && !strstr(out.p, "[DONE]"));
  for (int i = 0; i < n; i++) cJSON_Delete(c[i]);
  sl_buf_free(&out);
  /* each exception kind the stream may send */
  static const struct {
    const char *type, *otype;
  } kinds[] = {{"internalServerException", "api_error"},
               {"modelStreamErrorException", "api_error"},
               {"validationException", "invalid_request_error"},
               {"serviceUnavailableException", "service_unavailable"}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    struct ev e2[] = {{"messageStart", "{}"}, {kinds[i].type, "{\"message\":\"m\"}"}};
    CHECK(run(e2, 2, false, &out, NULL) == -EPROTO);
    CHECK(strstr(out.p, kinds[i].otype) != NULL);
    sl_buf_free(&out);
  }
}

static void cut_before_message_stop(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"half\"}}"},
  };
  struct sl_buf out = {0};
  CHECK(run(evs, 2, false, &out, NULL) == -EPIPE);
  CHECK(strstr(out.p, "\"error\"") && strstr(out.p, "before messageStop") && !strstr(out.p, "[DONE]"));
  sl_buf_free(&out);
  /* nothing at all */
  CHECK(run(evs, 0, false, &out, NULL) == -EPIPE);
  sl_buf_free(&out);
}

static void malformed_events(void) {
  static const struct ev bad[][2] = {
      {{"messageStart", "{}"}, {"contentBlockDelta", "not json"}},
      {{"messageStart", "{}"}, {"contentBlockDelta", "[1]"}},
      {{"messageStart", "{}"}, {"contentBlockDelta", "{\"delta\":{\"text\":\"x\"}}"}},
      {{"messageStart", "{}"}, {"contentBlockDelta", "{\"contentBlockIndex\":-1,\"delta\":{\"text\":\"x\"}}"}},
      {{"messageStart", "{}"}, {"contentBlockStart", "{\"contentBlockIndex\":0}"}},
      {{"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"}}"}, {"messageStop", "{}"}},
      {{"messageStart", ""}, {"messageStop", "{}"}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_buf out = {0};
    CHECK(run(bad[i], 2, false, &out, NULL) == -EINVAL);
    CHECK(out.p && strstr(out.p, "\"error\"") && !strstr(out.p, "[DONE]"));
    sl_buf_free(&out);
  }
}

static void two_streams_two_ids(void) {
  struct sl_converse_stream *a, *b;
  struct sl_xlate_resp_opts o = {.created = 1};
  CHECK(sl_converse_stream_new(&o, "m", &a) == 0 && sl_converse_stream_new(&o, "m", &b) == 0);
  struct sl_buf x = {0}, y = {0};
  sl_converse_stream_event(a, "messageStart", 12, "{}", 2, &x);
  sl_converse_stream_event(b, "messageStart", 12, "{}", 2, &y);
  CHECK(x.n == y.n && memcmp(x.p, y.p, x.n) != 0); /* same shape, different ids */
  sl_buf_free(&x);
  sl_buf_free(&y);
  sl_converse_stream_free(a);
  sl_converse_stream_free(b);
}

/* After [DONE] the answer is over: a later event (even a bad one) writes nothing. */
static void silent_after_done(void) {
  struct sl_converse_stream *s;
  struct sl_xlate_resp_opts o = {0};
  CHECK(sl_converse_stream_new(&o, "m", &s) == 0);
  struct sl_buf out = {0};
  CHECK(sl_converse_stream_event(s, "messageStart", 12, "{}", 2, &out) == 0);
  CHECK(sl_converse_stream_event(s, "messageStop", 11, "{\"stopReason\":\"end_turn\"}", 25, &out) == 0);
  CHECK(sl_converse_stream_event(s, "metadata", 8, "{\"usage\":{}}", 12, &out) == 0);
  CHECK(out.n > 14 && memcmp(out.p + out.n - 14, "data: [DONE]\n\n", 14) == 0);
  size_t n = out.n;
  CHECK(sl_converse_stream_event(s, "metadata", 8, "not json", 8, &out) == 0);
  CHECK(sl_converse_stream_event(s, "throttlingException", 19, "{}", 2, &out) == 0);
  CHECK(sl_converse_stream_finish(s, &out, NULL) == 0 && out.n == n);
  sl_buf_free(&out);
  sl_converse_stream_free(s);
}

CHECK_MAIN(T(silent_after_done), T(text_then_tool_call), T(wrapped_payloads_and_reasoning), T(json_tool_is_content),
           T(exception_event), T(cut_before_message_stop), T(malformed_events), T(two_streams_two_ids))
