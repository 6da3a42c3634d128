/* ConverseStream -> Anthropic SSE (net/wire/xlate_bedrock.h): the events an Anthropic
 * client expects (message_start with one stable msg_ id, a text block started at its first
 * delta, a tool_use block's head then input_json_delta pieces, thinking and signature
 * deltas, redacted thinking, content_block_stop, message_delta with stop_reason and the
 * usage of metadata with cache tokens, message_stop), the payload in both the bare and the
 * wrapped ({"eventName":{...}}) shapes, an exception event (-EPROTO and an Anthropic error
 * event), a stream cut before messageStop or metadata (-EPIPE), and malformed events
 * (-EINVAL), every error sticky and in-band. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate_bedrock.h"
#include "test/unit/check.h"

struct ev {
  const char *type, *payload;
};

/* Runs events then finish; out gets the SSE text; returns the first non-zero code (or the
 * finish's). */
static int run(const struct ev *evs, size_t n, struct sl_buf *out, struct sl_xlate_usage *u) {
  struct sl_converse_stream *s;
  struct sl_xlate_resp_opts o = {.created = 42};
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

/* The events of out: names[i] and their data parsed; returns how many (-1: not SSE as
 * Anthropic writes it, or an event name that differs from its data's type). */
static int events(const struct sl_buf *out, char names[][32], cJSON **arr, int max) {
  int n = 0;
  const char *p = out->p, *end = out->p + out->n;
  while (p && p < end && n < max) {
    const char *e = strstr(p, "\n\n"), *nl = strchr(p, '\n');
    if (!e || strncmp(p, "event: ", 7) != 0 || !nl || nl > e || strncmp(nl + 1, "data: ", 6) != 0) return -1;
    snprintf(names[n], 32, "%.*s", (int)(nl - p - 7), p + 7);
    arr[n] = cJSON_ParseWithLength(nl + 7, (size_t)(e - nl - 7));
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(arr[n], "type"));
    if (!t || strcmp(t, names[n]) != 0) return -1;
    n++;
    p = e + 2;
  }
  return n;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static const char *str(const cJSON *o, const char *k) { return cJSON_GetStringValue(get(o, k)) ?: ""; }
static int num(const cJSON *o, const char *k) { return cJSON_IsNumber(get(o, k)) ? get(o, k)->valueint : -1; }

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

static void free_all(cJSON **arr, int n) {
  for (int i = 0; i < n; i++) cJSON_Delete(arr[i]);
}

static void text_then_tool_call(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Let me \"},\"p\":\"ab\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"check.\"}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":0}"},
      {"contentBlockStart", "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{\"toolUseId\":\"tu1\",\"name\":\"f\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"{\\\"a\\\":\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"1}\"}}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":1}"},
      {"messageStop", "{\"stopReason\":\"tool_use\"}"},
      {"metadata", "{\"usage\":{\"inputTokens\":10,\"outputTokens\":5,\"totalTokens\":15,\"cacheReadInputTokens\":3,"
                   "\"cacheWriteInputTokens\":2},\"metrics\":{\"latencyMs\":9}}"},
  };
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  CHECK(run(evs, sizeof evs / sizeof evs[0], &out, &u) == 0);
  char names[16][32];
  cJSON *e[16] = {0};
  int n = events(&out, names, e, 16);
  CHECK(n == 11);
  if (n == 11) {
    const cJSON *m = get(e[0], "message");
    CHECK(strncmp(str(m, "id"), "msg_", 4) == 0 && strcmp(str(m, "model"), "bedrock/model") == 0 &&
          strcmp(str(m, "role"), "assistant") == 0 && cJSON_GetArraySize(get(m, "content")) == 0);
    CHECK(same(e[1],
               "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
    CHECK(same(e[2], "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
                     "\"Let me \"}}"));
    CHECK(same(e[3], "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
                     "\"check.\"}}"));
    CHECK(same(e[4], "{\"type\":\"content_block_stop\",\"index\":0}"));
    CHECK(same(e[5], "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":"
                     "\"tu1\",\"name\":\"f\",\"input\":{}}}"));
    CHECK(same(e[6], "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                     "\"partial_json\":\"{\\\"a\\\":\"}}"));
    CHECK(same(e[7], "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                     "\"partial_json\":\"1}\"}}"));
    CHECK(same(e[8], "{\"type\":\"content_block_stop\",\"index\":1}"));
    bool ok = same(e[9], "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
                         "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":2,"
                         "\"cache_read_input_tokens\":3,\"output_tokens\":5}}");
    CHECK(ok);
  }
  static const char last[] = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  CHECK(out.n > sizeof last && strcmp(out.p + out.n - (sizeof last - 1), last) == 0);
  CHECK(u.known && u.input == 10 && u.output == 5 && u.cache_read == 3 && u.cache_creation == 2);
  free_all(e, n);
  sl_buf_free(&out);
}

static void wrapped_payloads_and_reasoning(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"messageStart\":{\"role\":\"assistant\"}}"},
      {"contentBlockDelta", "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"text\":"
                            "\"hmm\"}}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"signature\":\"sig\"}}}"},
      {"contentBlockStop", "{\"contentBlockIndex\":0}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"reasoningContent\":{\"redactedContent\":\"enc\"}}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":2,\"delta\":{\"text\":\"ok\"}}"},
      {"unknownNewEvent", "{\"x\":1}"},
      {"metadata", "{\"metadata\":{\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}}"}, /* before messageStop */
      {"messageStop", "{\"messageStop\":{\"stopReason\":\"max_tokens\"}}"},
  };
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  CHECK(run(evs, sizeof evs / sizeof evs[0], &out, &u) == 0);
  char names[16][32];
  cJSON *e[16] = {0};
  int n = events(&out, names, e, 16);
  CHECK(n == 12);
  if (n == 12) {
    CHECK(same(get(e[1], "content_block"), "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}"));
    CHECK(same(get(e[2], "delta"), "{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}"));
    CHECK(same(get(e[3], "delta"), "{\"type\":\"signature_delta\",\"signature\":\"sig\"}"));
    CHECK(same(e[4], "{\"type\":\"content_block_stop\",\"index\":0}"));
    CHECK(same(e[5], "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\","
                     "\"data\":\"enc\"}}"));
    CHECK(same(e[6], "{\"type\":\"content_block_stop\",\"index\":1}")); /* closed by the next block */
    CHECK(num(e[7], "index") == 2 && strcmp(str(get(e[7], "content_block"), "type"), "text") == 0);
    CHECK(strcmp(str(get(e[8], "delta"), "text"), "ok") == 0);
    CHECK(same(e[9], "{\"type\":\"content_block_stop\",\"index\":2}")); /* closed by messageStop */
    CHECK(strcmp(str(get(e[10], "delta"), "stop_reason"), "max_tokens") == 0 &&
          num(get(e[10], "usage"), "output_tokens") == 2);
    CHECK(strcmp(names[11], "message_stop") == 0);
  }
  CHECK(u.input == 1 && u.output == 2);
  free_all(e, n);
  sl_buf_free(&out);
}

static void exception_event(void) {
  static const struct ev evs[] = {
      {"messageStart", "{\"role\":\"assistant\"}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"par\"}}"},
      {"throttlingException", "{\"message\":\"Too many tokens, slow down\"}"},
  };
  struct sl_buf out = {0};
  CHECK(run(evs, 3, &out, NULL) == -EPROTO);
  char names[8][32];
  cJSON *e[8] = {0};
  int n = events(&out, names, e, 8);
  CHECK(n == 4);
  if (n == 4) {
    CHECK(strcmp(names[3], "error") == 0);
    CHECK(strcmp(str(get(e[3], "error"), "type"), "rate_limit_error") == 0 &&
          strstr(str(get(e[3], "error"), "message"), "slow down"));
  }
  free_all(e, n);
  sl_buf_free(&out);
}

static void cut_streams(void) {
  static const struct ev no_stop[] = {{"messageStart", "{}"},
                                      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"}}"}};
  struct sl_buf out = {0};
  CHECK(run(no_stop, 2, &out, NULL) == -EPIPE);
  CHECK(strstr(out.p, "event: error\n") && strstr(out.p, "before messageStop") && !strstr(out.p, "message_stop"));
  sl_buf_free(&out);
  static const struct ev no_meta[] = {{"messageStart", "{}"}, {"messageStop", "{\"stopReason\":\"end_turn\"}"}};
  CHECK(run(no_meta, 2, &out, NULL) == -EPIPE);
  CHECK(strstr(out.p, "event: error\n") && strstr(out.p, "metadata") && !strstr(out.p, "message_delta"));
  sl_buf_free(&out);
  CHECK(run(NULL, 0, &out, NULL) == -EPIPE);
  sl_buf_free(&out);
}

static void malformed_events(void) {
  static const struct ev cases[][2] = {
      {{"messageStart", "not json"}, {"metadata", "{}"}},
      {{"messageStart", "[]"}, {"metadata", "{}"}},
      {{"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"}}"}, {"metadata", "{}"}},
      {{"messageStart", "{}"}, {"contentBlockDelta", "{\"delta\":{\"text\":\"x\"}}"}},
      {{"messageStart", "{}"}, {"contentBlockDelta", "{\"contentBlockIndex\":-1,\"delta\":{}}"}},
      {{"messageStart", "{}"}, {"contentBlockStart", "{\"contentBlockIndex\":0}"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sl_buf out = {0};
    CHECK(run(cases[i], 2, &out, NULL) == -EINVAL);
    CHECK(strstr(out.p, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""));
    sl_buf_free(&out);
  }
}

static void two_streams_two_ids(void) {
  struct sl_converse_stream *a, *b;
  struct sl_xlate_resp_opts o = {.created = 7};
  CHECK(sl_converse_stream_new(&o, "m", &a) == 0 && sl_converse_stream_new(&o, "m", &b) == 0);
  struct sl_buf oa = {0}, ob = {0};
  sl_converse_stream_event(a, "messageStart", 12, "{}", 2, &oa);
  sl_converse_stream_event(b, "messageStart", 12, "{}", 2, &ob);
  CHECK(oa.n > 60 && ob.n > 60 && strcmp(oa.p, ob.p) != 0);
  sl_converse_stream_free(a);
  sl_converse_stream_free(b);
  sl_buf_free(&oa);
  sl_buf_free(&ob);
}

static void silent_after_done(void) {
  static const struct ev evs[] = {
      {"messageStart", "{}"},
      {"messageStop", "{\"stopReason\":\"end_turn\"}"},
      {"metadata", "{\"usage\":{\"inputTokens\":1,\"outputTokens\":1}}"},
      {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"late\"}}"},
      {"metadata", "{\"usage\":{\"inputTokens\":9,\"outputTokens\":9}}"},
  };
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  CHECK(run(evs, 5, &out, &u) == 0 && !strstr(out.p, "late") && u.input == 1);
  CHECK(strstr(out.p, "\"stop_reason\":\"end_turn\"") && strstr(out.p, "event: message_stop\n"));
  sl_buf_free(&out);
}

CHECK_MAIN(T(text_then_tool_call), T(wrapped_payloads_and_reasoning), T(exception_event), T(cut_streams),
           T(malformed_events), T(two_streams_two_ids), T(silent_after_done))
