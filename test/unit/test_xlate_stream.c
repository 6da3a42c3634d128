/* Stream translators (net/wire/xlate.h): the event order the official Anthropic SDK needs,
 * agreement between streamed and whole translations (a stream translated and then
 * assembled equals the whole response translated), sticky endings, and refusals of
 * malformed upstream events. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/oai_stream.h"
#include "net/wire/sse.h"
#include "net/wire/xlate.h"
#include "test/unit/check.h"

/* ---- an Anthropic event accumulator as strict as the SDK's MessageStream ---- */

struct acc {
  cJSON *msg;
  struct sl_buf json[64]; /* input_json_delta text per block */
  bool open[64], stopped;
  int nblocks, nevents;
  char why[200];
};

static int acc_fail(struct acc *a, const char *why) {
  if (!a->why[0]) snprintf(a->why, sizeof a->why, "event %d: %s", a->nevents, why);
  return 0;
}

static int acc_event(void *ud, const struct sl_sse_event *ev) {
  struct acc *a = ud;
  a->nevents++;
  if (a->why[0]) return 0;
  cJSON *d = cJSON_ParseWithLength(ev->data, ev->data_len);
  const cJSON *t = cJSON_GetObjectItem(d, "type");
  if (!cJSON_IsString(t)) {
    cJSON_Delete(d);
    return acc_fail(a, "data without type");
  }
  const char *type = t->valuestring;
  if (strcmp(ev->event, type) != 0) acc_fail(a, "event name differs from data.type");
  if (a->stopped) acc_fail(a, "event after message_stop");
  if (strcmp(type, "error") == 0) acc_fail(a, "error event");
  const cJSON *idx = cJSON_GetObjectItem(d, "index");
  int i = cJSON_IsNumber(idx) ? idx->valueint : -1;
  cJSON *content = a->msg ? cJSON_GetObjectItem(a->msg, "content") : NULL;
  if (strcmp(type, "message_start") == 0) {
    if (a->msg) acc_fail(a, "second message_start");
    else a->msg = cJSON_Duplicate(cJSON_GetObjectItem(d, "message"), 1);
    if (!cJSON_IsObject(cJSON_GetObjectItem(a->msg, "usage"))) acc_fail(a, "message_start without usage");
  } else if (!a->msg) {
    acc_fail(a, "event before message_start");
  } else if (strcmp(type, "content_block_start") == 0) {
    if (i != a->nblocks || i >= 64) acc_fail(a, "block index not sequential");
    else if (a->nblocks && a->open[a->nblocks - 1]) acc_fail(a, "block started while another is open");
    else {
      cJSON_AddItemToArray(content, cJSON_Duplicate(cJSON_GetObjectItem(d, "content_block"), 1));
      a->open[a->nblocks++] = true;
    }
  } else if (strcmp(type, "content_block_delta") == 0) {
    cJSON *blk = cJSON_GetArrayItem(content, i);
    const cJSON *delta = cJSON_GetObjectItem(d, "delta");
    const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(delta, "type"));
    if (!blk || i < 0 || i >= 64 || !a->open[i] || !dt) acc_fail(a, "delta to a block that is not open");
    else if (strcmp(dt, "text_delta") == 0 || strcmp(dt, "thinking_delta") == 0) {
      const char *field = dt[1] == 'e' ? "text" : "thinking";
      const char *piece = cJSON_GetStringValue(cJSON_GetObjectItem(delta, field));
      const char *have = cJSON_GetStringValue(cJSON_GetObjectItem(blk, field));
      if (!piece || !have) acc_fail(a, "text delta to a block of another kind");
      else {
        struct sl_buf s = {0};
        sl_buf_puts(&s, have);
        sl_buf_puts(&s, piece);
        cJSON_ReplaceItemInObject(blk, field, cJSON_CreateString(s.p));
        sl_buf_free(&s);
      }
    } else if (strcmp(dt, "input_json_delta") == 0) {
      const char *pj = cJSON_GetStringValue(cJSON_GetObjectItem(delta, "partial_json"));
      if (!pj) acc_fail(a, "input_json_delta without partial_json");
      else sl_buf_puts(&a->json[i], pj);
    }
  } else if (strcmp(type, "content_block_stop") == 0) {
    cJSON *blk = cJSON_GetArrayItem(content, i);
    if (!blk || i < 0 || i >= 64 || !a->open[i]) acc_fail(a, "stop of a block that is not open");
    else {
      a->open[i] = false;
      if (a->json[i].n) {
        cJSON *input = cJSON_ParseWithLength(a->json[i].p, a->json[i].n);
        if (!input) acc_fail(a, "tool input is not JSON");
        else cJSON_ReplaceItemInObject(blk, "input", input);
      }
    }
  } else if (strcmp(type, "message_delta") == 0) {
    const cJSON *u = cJSON_GetObjectItem(d, "usage"), *dl = cJSON_GetObjectItem(d, "delta");
    if (!cJSON_IsNumber(cJSON_GetObjectItem(u, "output_tokens"))) acc_fail(a, "message_delta without usage.output_tokens");
    cJSON_ReplaceItemInObject(a->msg, "stop_reason", cJSON_Duplicate(cJSON_GetObjectItem(dl, "stop_reason"), 1));
    cJSON_ReplaceItemInObject(a->msg, "stop_sequence", cJSON_Duplicate(cJSON_GetObjectItem(dl, "stop_sequence"), 1));
    cJSON *mu = cJSON_GetObjectItem(a->msg, "usage");
    const cJSON *f;
    cJSON_ArrayForEach(f, u) {
      cJSON_DeleteItemFromObject(mu, f->string);
      cJSON_AddItemToObject(mu, f->string, cJSON_Duplicate(f, 1));
    }
  } else if (strcmp(type, "message_stop") == 0) {
    for (int k = 0; k < a->nblocks; k++)
      if (a->open[k]) acc_fail(a, "message_stop with an open block");
    a->stopped = true;
  }
  cJSON_Delete(d);
  return 0;
}

/* Assembles an Anthropic SSE transcript; NULL (and why) when the SDK would object. */
static cJSON *assemble_anth(const char *p, size_t n, char *why, size_t wn) {
  struct acc *a = calloc(1, sizeof *a);
  struct sl_sse sse;
  sl_sse_init(&sse, 0);
  sl_sse_feed(&sse, p, n, acc_event, a);
  sl_sse_finish(&sse, acc_event, a);
  sl_sse_free(&sse);
  if (!a->why[0] && !a->stopped) acc_fail(a, "no message_stop");
  snprintf(why, wn, "%s", a->why);
  cJSON *m = a->why[0] ? NULL : a->msg;
  if (!m) cJSON_Delete(a->msg);
  for (int i = 0; i < 64; i++) sl_buf_free(&a->json[i]);
  free(a);
  return m;
}

/* Runs a whole transcript through a translator; returns the final result. */
static int translate(enum sl_xlate_dir d, bool include_usage, const char *in, struct sl_buf *out) {
  struct sl_xlate_resp_opts o = {.created = 42, .include_usage = include_usage};
  struct sl_xlate_stream *s;
  if (sl_xlate_stream_new(d, &o, &s)) return -ENOMEM;
  int rc = sl_xlate_stream_feed(s, in, strlen(in), out);
  if (rc == 0) rc = sl_xlate_stream_finish(s, out);
  sl_xlate_stream_free(s);
  return rc;
}

static const char *const anth_stream =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":5,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
    "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"thinking_delta\",\"thinking\":\"plan\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
    "\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello \\\"there\\\"\\n\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":"
    "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": [1, \"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"2]}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":"
    "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"g\",\"input\":{}}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":"
    "null},\"usage\":{\"output_tokens\":33}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static bool same_json_text(const cJSON *a, const cJSON *b) {
  if (!cJSON_IsString(a) || !cJSON_IsString(b)) return false;
  cJSON *x = cJSON_Parse(a->valuestring), *y = cJSON_Parse(b->valuestring);
  bool eq = x && y && cJSON_Compare(x, y, true);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return eq;
}

/* Anthropic stream -> chunks -> assembled completion == whole message -> completion. */
static void a2o_stream_matches_whole(void) {
  struct sl_buf chunks = {0};
  CHECK(translate(SL_XLATE_ANTH_TO_OAI, true, anth_stream, &chunks) == SL_XLATE_END);
  struct sl_oai_asm *as;
  CHECK(sl_oai_asm_new(&as) == 0);
  CHECK(sl_oai_asm_feed_bytes(as, chunks.p, chunks.n) == 0);
  char *json;
  size_t len;
  bool complete;
  CHECK(sl_oai_asm_finish(as, &json, &len, &complete) == 0);
  CHECK(complete);
  sl_oai_asm_free(as);
  cJSON *streamed = cJSON_ParseWithLength(json, len);
  free(json);

  char why[200];
  cJSON *msg = assemble_anth(anth_stream, strlen(anth_stream), why, sizeof why);
  CHECK(msg != NULL);
  char *mtext = cJSON_PrintUnformatted(msg);
  struct sl_buf whole = {0};
  struct sl_xlate_resp_opts o = {.created = 42};
  CHECK(sl_xlate_anth_to_oai_response(mtext, strlen(mtext), &o, &whole, NULL) == 0);
  cJSON *w = cJSON_ParseWithLength(whole.p, whole.n);
  cJSON_free(mtext);
  cJSON_Delete(msg);

  const cJSON *sm = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(streamed, "choices"), 0), "message");
  const cJSON *wm = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "choices"), 0), "message");
  CHECK(cJSON_Compare(cJSON_GetObjectItem(sm, "content"), cJSON_GetObjectItem(wm, "content"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(sm, "reasoning_content"), cJSON_GetObjectItem(wm, "reasoning_content"), true));
  const cJSON *st = cJSON_GetObjectItem(sm, "tool_calls"), *wt = cJSON_GetObjectItem(wm, "tool_calls");
  CHECK(cJSON_GetArraySize(st) == 2 && cJSON_GetArraySize(wt) == 2);
  for (int i = 0; i < 2; i++) {
    const cJSON *a = cJSON_GetArrayItem(st, i), *b = cJSON_GetArrayItem(wt, i);
    CHECK(cJSON_Compare(cJSON_GetObjectItem(a, "id"), cJSON_GetObjectItem(b, "id"), true));
    const cJSON *fa = cJSON_GetObjectItem(a, "function"), *fb = cJSON_GetObjectItem(b, "function");
    CHECK(cJSON_Compare(cJSON_GetObjectItem(fa, "name"), cJSON_GetObjectItem(fb, "name"), true));
    CHECK(same_json_text(cJSON_GetObjectItem(fa, "arguments"), cJSON_GetObjectItem(fb, "arguments")));
  }
  const cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItem(streamed, "choices"), 0);
  const cJSON *wc = cJSON_GetArrayItem(cJSON_GetObjectItem(w, "choices"), 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(sc, "finish_reason")), "tool_calls");
  CHECK(cJSON_Compare(cJSON_GetObjectItem(sc, "finish_reason"), cJSON_GetObjectItem(wc, "finish_reason"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "usage"), cJSON_GetObjectItem(w, "usage"), true));
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "usage"), "prompt_tokens")->valueint == 15);
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "id"), cJSON_GetObjectItem(w, "id"), true));
  cJSON_Delete(streamed);
  cJSON_Delete(w);
  sl_buf_free(&whole);
  sl_buf_free(&chunks);
}

static const char *const oai_stream =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"content\":\"Sure \\u00e9\\n\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"q\\\":\"}}]},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"x\\\"}\"}},"
    "{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":1,\"delta\":{\"content\":\"other choice\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":"
    "[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":7,\"total_tokens\":57,\"prompt_tokens_details\":"
    "{\"cached_tokens\":20}}}\n\n"
    "data: [DONE]\n\n";

/* OpenAI stream -> Anthropic events the SDK accepts, assembling to the same message as
 * the whole completion (assembled by net/oai_stream) translated at once. */
static void o2a_stream_sdk_order_and_matches_whole(void) {
  struct sl_buf events = {0};
  CHECK(translate(SL_XLATE_OAI_TO_ANTH, false, oai_stream, &events) == SL_XLATE_END);
  char why[200];
  cJSON *streamed = assemble_anth(events.p, events.n, why, sizeof why);
  if (!streamed) printf("  %s\n", why);
  CHECK(streamed != NULL);

  struct sl_oai_asm *as;
  CHECK(sl_oai_asm_new(&as) == 0);
  sl_oai_asm_feed_bytes(as, oai_stream, strlen(oai_stream));
  char *json;
  size_t len;
  bool complete;
  CHECK(sl_oai_asm_finish(as, &json, &len, &complete) == 0);
  sl_oai_asm_free(as);
  struct sl_buf whole = {0};
  struct sl_xlate_usage u;
  CHECK(sl_xlate_oai_to_anth_response(json, len, NULL, &whole, &u) == 0);
  free(json);
  cJSON *w = cJSON_ParseWithLength(whole.p, whole.n);
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "content"), cJSON_GetObjectItem(w, "content"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "stop_reason"), cJSON_GetObjectItem(w, "stop_reason"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "usage"), cJSON_GetObjectItem(w, "usage"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(streamed, "id"), cJSON_GetObjectItem(w, "id"), true));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(w, "content")) == 3);
  CHECK(u.known && u.input == 30 && u.cache_read == 20 && u.output == 7);
  cJSON_Delete(streamed);
  cJSON_Delete(w);
  sl_buf_free(&whole);
  sl_buf_free(&events);
}

static void sticky_end_and_usage(void) {
  struct sl_xlate_stream *s;
  struct sl_buf out = {0};
  CHECK(sl_xlate_stream_new(SL_XLATE_OAI_TO_ANTH, NULL, &s) == 0);
  CHECK(!sl_xlate_stream_started(s));
  CHECK(sl_xlate_stream_feed(s, oai_stream, strlen(oai_stream), &out) == SL_XLATE_END);
  CHECK(sl_xlate_stream_started(s));
  size_t n = out.n;
  CHECK(sl_xlate_stream_feed(s, "data: [DONE]\n\n", 14, &out) == SL_XLATE_END);
  CHECK(sl_xlate_stream_finish(s, &out) == SL_XLATE_END);
  CHECK(sl_xlate_stream_event(s, NULL, 0, "[DONE]", 6, &out) == SL_XLATE_END);
  CHECK(out.n == n);
  struct sl_xlate_usage u;
  sl_xlate_stream_usage(s, &u);
  CHECK(u.known && u.input == 30 && u.output == 7 && u.cache_read == 20);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);

  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, NULL, &s) == 0);
  CHECK(sl_xlate_stream_feed(s, anth_stream, strlen(anth_stream), &out) == SL_XLATE_END);
  sl_xlate_stream_usage(s, &u);
  CHECK(u.known && u.input == 10 && u.output == 33 && u.cache_read == 5);
  CHECK(strstr(out.p, "\"usage\"") == NULL); /* not asked for */
  CHECK(out.n > 14 && strcmp(out.p + out.n - 14, "data: [DONE]\n\n") == 0);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);
  CHECK(sl_xlate_stream_new((enum sl_xlate_dir)7, NULL, &s) == -EINVAL && s == NULL);
  sl_xlate_stream_free(NULL);
}

static void sticky_errors(void) {
  struct sl_xlate_stream *s;
  struct sl_buf out = {0};
  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, NULL, &s) == 0);
  const char *err = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
  CHECK(sl_xlate_stream_feed(s, err, strlen(err), &out) == -EPROTO);
  CHECK(strncmp(out.p, "data: {\"error\":", 15) == 0);
  CHECK(strstr(out.p, "service_unavailable"));
  size_t n = out.n;
  CHECK(sl_xlate_stream_feed(s, anth_stream, strlen(anth_stream), &out) == -EPROTO);
  CHECK(sl_xlate_stream_finish(s, &out) == -EPROTO);
  CHECK(out.n == n);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);

  /* an empty upstream body */
  CHECK(sl_xlate_stream_new(SL_XLATE_OAI_TO_ANTH, NULL, &s) == 0);
  CHECK(sl_xlate_stream_finish(s, &out) == -EPIPE);
  CHECK(strncmp(out.p, "event: error\ndata: {\"type\":\"error\"", 34) == 0);
  CHECK(sl_xlate_stream_finish(s, &out) == -EPIPE);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);
}

/* One event fed directly, from buffers that are not NUL-terminated. */
static void framed_events_need_no_terminator(void) {
  struct sl_xlate_stream *s;
  struct sl_buf out = {0};
  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, NULL, &s) == 0);
  char ev[] = "message_startXXXX";
  char data[] = "{\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}XXXX";
  /* no "type" in the data: the event name is used */
  CHECK(sl_xlate_stream_event(s, ev, 13, data, strlen(data) - 4, &out) == 0);
  CHECK(strstr(out.p, "\"role\":\"assistant\""));
  char stop[] = "{\"type\":\"message_stop\"}garbage";
  CHECK(sl_xlate_stream_event(s, "message_stop", 12, stop, 23, &out) == SL_XLATE_END);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);
}

static int anth_after_start(const char *tail, struct sl_buf *out) {
  struct sl_buf in = {0};
  sl_buf_puts(&in, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n");
  sl_buf_puts(&in, tail);
  int rc = translate(SL_XLATE_ANTH_TO_OAI, false, in.p, out);
  sl_buf_free(&in);
  return rc;
}

static void malformed_anthropic_events(void) {
  struct sl_buf out = {0};
  static const char *const bad[] = {
    "data: {\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":\"text\"}}\n\n",
    "data: {\"type\":\"content_block_start\",\"index\":1e300,\"content_block\":{\"type\":\"text\"}}\n\n",
    "data: {\"type\":\"content_block_start\",\"index\":0.5,\"content_block\":{\"type\":\"text\"}}\n\n",
    "data: {\"type\":\"content_block_start\",\"index\":0}\n\n",
    "data: {\"type\":\"content_block_delta\",\"index\":\"0\",\"delta\":{}}\n\n",
    "data: [1,2]\n\n",
    "data: \"message_stop\"\n\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    out.n = 0;
    CHECK(anth_after_start(bad[i], &out) == -EBADMSG);
    CHECK(strstr(out.p, "\"code\":\"upstream_protocol_error\""));
  }
  /* before message_start */
  out.n = 0;
  CHECK(translate(SL_XLATE_ANTH_TO_OAI, false,
                  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
                  &out) == -EBADMSG);
  /* tolerated: deltas to unknown blocks, unknown events, unknown delta types */
  out.n = 0;
  CHECK(anth_after_start("data: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"
                         "data: {\"type\":\"brand_new_event\"}\n\n"
                         "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\"}}\n\n"
                         "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
                         "data: {\"type\":\"message_stop\"}\n\n",
                         &out) == SL_XLATE_END);
  CHECK(strstr(out.p, "\"x\"") == NULL && strstr(out.p, "tool_calls") == NULL);
  CHECK(strstr(out.p, "\"finish_reason\":\"stop\""));
  sl_buf_free(&out);
}

static void too_many_blocks(void) {
  struct sl_buf in = {0}, out = {0};
  for (int i = 0; i < 1100; i++)
    sl_buf_printf(&in, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"c\","
                       "\"function\":{\"name\":\"f\"}}]}}]}\n\n", i);
  CHECK(translate(SL_XLATE_OAI_TO_ANTH, false, in.p, &out) == -EBADMSG);
  CHECK(strstr(out.p, "too many tool calls"));
  sl_buf_free(&in);
  sl_buf_free(&out);
}

/* Text after a tool call (or a second tool call index interleaved) keeps the SDK order. */
static void o2a_interleaving_keeps_order(void) {
  struct sl_buf out = {0};
  const char *in =
      "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"name\":\"f\","
      "\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n"
      "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"then text\",\"reasoning\":\"hm\"}}]}\n\n"
      "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  CHECK(translate(SL_XLATE_OAI_TO_ANTH, false, in, &out) == SL_XLATE_END);
  char why[200];
  cJSON *m = assemble_anth(out.p, out.n, why, sizeof why);
  if (!m) printf("  %s\n", why);
  CHECK(m != NULL);
  const cJSON *c = cJSON_GetObjectItem(m, "content");
  CHECK(cJSON_GetArraySize(c) == 3);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "id")), "toolu_sluice_3");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 1), "type")), "thinking");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 2), "text")), "then text");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(m, "stop_reason")), "tool_use");
  cJSON_Delete(m);
  sl_buf_free(&out);
}

static void oversized_event(void) {
  struct sl_buf in = {0}, out = {0};
  sl_buf_puts(&in, "data: \"");
  char kb[1024];
  memset(kb, 'x', sizeof kb);
  for (int i = 0; i < (17 << 10); i++) sl_buf_append(&in, kb, sizeof kb);
  CHECK(translate(SL_XLATE_ANTH_TO_OAI, false, in.p, &out) == -EBADMSG);
  CHECK(strstr(out.p, "16 MiB"));
  sl_buf_free(&in);
  sl_buf_free(&out);
}

/* ---- response_format's tool (o.json_tool) in an Anthropic stream ---- */

#define EV(name, json) "event: " name "\ndata: " json "\n\n"
static const char *const json_stream =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_j\",\"type\":\"message\",\"role\":"
                        "\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                        "\"usage\":{\"input_tokens\":9,"
                        "\"output_tokens\":1}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\","
                              "\"thinking\":\"\",\"signature\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
                              "\"thinking\":\"plan\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
                              "\"signature\":\"SIGNATURE\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
                              "\"id\":\"toolu_j\",\"name\":\"" SL_XLATE_JSON_TOOL "\",\"input\":{}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":\"{\\\"name\\\": \\\"A\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":\"nn\\u00e9\\\", \\\"n\\\": [1, \"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":\"2]}\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
                        "\"usage\":{\"output_tokens\":20}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");
static const char json_text[] = "{\"name\": \"Ann\xc3\xa9\", \"n\": [1, 2]}";

/* Chunks -> the assembled completion (NULL when the assembler refuses them). */
static cJSON *assemble_oai(const struct sl_buf *chunks) {
  struct sl_oai_asm *as;
  if (sl_oai_asm_new(&as)) return NULL;
  char *json = NULL;
  size_t len;
  bool complete = false;
  int rc = sl_oai_asm_feed_bytes(as, chunks->p, chunks->n);
  if (rc == 0) rc = sl_oai_asm_finish(as, &json, &len, &complete);
  sl_oai_asm_free(as);
  cJSON *j = rc == 0 && complete ? cJSON_ParseWithLength(json, len) : NULL;
  free(json);
  return j;
}

static int translate_json(const char *in, size_t n, size_t cut, struct sl_buf *out) {
  struct sl_xlate_resp_opts o = {.created = 42, .include_usage = true, .json_tool = true};
  struct sl_xlate_stream *s;
  if (sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &o, &s)) return -ENOMEM;
  int rc = sl_xlate_stream_feed(s, in, cut, out);
  if (rc == 0) rc = sl_xlate_stream_feed(s, in + cut, n - cut, out);
  if (rc == 0) rc = sl_xlate_stream_finish(s, out);
  sl_xlate_stream_free(s);
  return rc;
}

static const cJSON *msg0(const cJSON *j) {
  return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
}

static void json_tool_stream_is_content(void) {
  size_t n = strlen(json_stream);
  struct sl_buf whole = {0};
  CHECK(translate_json(json_stream, n, n, &whole) == SL_XLATE_END);
  CHECK(strstr(whole.p, "SIGNATURE") == NULL && strstr(whole.p, "tool_calls") == NULL);
  cJSON *c = assemble_oai(&whole);
  CHECK(c != NULL);
  /* the content is exactly the concatenated pieces */
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "content")) ?: "(null)", json_text);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "reasoning_content")) ?: "(null)", "plan");
  CHECK(cJSON_GetObjectItem(msg0(c), "tool_calls") == NULL);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0),
                                                     "finish_reason")) ?: "(null)",
            "stop");
  /* ... which is the same JSON as the whole message translated */
  char why[200];
  cJSON *m = assemble_anth(json_stream, n, why, sizeof why);
  char *mt = cJSON_PrintUnformatted(m);
  struct sl_buf wb = {0};
  struct sl_xlate_resp_opts o = {.json_tool = true};
  CHECK(sl_xlate_anth_to_oai_response(mt, strlen(mt), &o, &wb, NULL) == 0);
  cJSON *w = cJSON_ParseWithLength(wb.p, wb.n);
  cJSON *a = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "content")) ?: "");
  cJSON *b = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(w), "content")) ?: "");
  CHECK(a && b && cJSON_Compare(a, b, true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "finish_reason"),
                      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "choices"), 0), "finish_reason"),
                      true));
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(w);
  cJSON_free(mt);
  cJSON_Delete(m);
  cJSON_Delete(c);
  sl_buf_free(&wb);

  /* split at every byte offset: the same bytes out */
  bool same = true;
  for (size_t cut = 0; cut <= n && same; cut++) {
    struct sl_buf part = {0};
    int rc = translate_json(json_stream, n, cut, &part);
    same = rc == SL_XLATE_END && part.n == whole.n && memcmp(part.p, whole.p, whole.n) == 0;
    if (!same) printf("  differs when cut at %zu\n", cut);
    sl_buf_free(&part);
  }
  CHECK(same);
  sl_buf_free(&whole);
}

static void json_tool_stream_without_deltas_and_with_tools(void) {
  const char *start = EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}");
  const char *stop = EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
                                         "\"usage\":{\"output_tokens\":2}}") EV("message_stop", "{\"type\":\"message_stop\"}");
  struct sl_buf in = {0}, out = {0};
  /* no deltas: "{}" */
  sl_buf_puts(&in, start);
  sl_buf_puts(&in, EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                                             "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"" SL_XLATE_JSON_TOOL "\","
                                             "\"input\":{}}}")
                       EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
  sl_buf_puts(&in, stop);
  CHECK(translate_json(in.p, in.n, 0, &out) == SL_XLATE_END);
  cJSON *c = assemble_oai(&out);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "content")) ?: "(null)", "{}");
  cJSON_Delete(c);
  /* a client tool first, then the json tool given whole in its start: tool_calls stay */
  in.n = out.n = 0;
  sl_buf_puts(&in, start);
  sl_buf_puts(&in, EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                                             "{\"type\":\"tool_use\",\"id\":\"t0\",\"name\":\"f\",\"input\":{}}}")
                       EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
                       EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
                                                 "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"" SL_XLATE_JSON_TOOL
                                                 "\",\"input\":{\"k\":[true]}}}")
                       EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}"));
  sl_buf_puts(&in, stop);
  CHECK(translate_json(in.p, in.n, 0, &out) == SL_XLATE_END);
  c = assemble_oai(&out);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "content")) ?: "(null)", "{\"k\":[true]}");
  const cJSON *tc = cJSON_GetObjectItem(msg0(c), "tool_calls");
  CHECK(cJSON_GetArraySize(tc) == 1);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(tc, 0), "id")) ?: "", "t0");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0),
                                                     "finish_reason")) ?: "(null)",
            "tool_calls");
  cJSON_Delete(c);
  /* without the flag the json tool is a tool call */
  in.n = out.n = 0;
  sl_buf_puts(&in, json_stream);
  CHECK(translate(SL_XLATE_ANTH_TO_OAI, false, in.p, &out) == SL_XLATE_END);
  c = assemble_oai(&out);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(msg0(c), "tool_calls")) == 1);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(msg0(c), "content")) || cJSON_GetObjectItem(msg0(c), "content") == NULL ||
        strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(msg0(c), "content")) ?: "", "") == 0);
  cJSON_Delete(c);
  sl_buf_free(&in);
  sl_buf_free(&out);
}

CHECK_MAIN(T(a2o_stream_matches_whole), T(o2a_stream_sdk_order_and_matches_whole), T(sticky_end_and_usage),
           T(sticky_errors), T(framed_events_need_no_terminator), T(malformed_anthropic_events), T(too_many_blocks),
           T(o2a_interleaving_keeps_order), T(oversized_event),
           T(json_tool_stream_is_content), T(json_tool_stream_without_deltas_and_with_tools))
