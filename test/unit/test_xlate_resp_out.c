/* The Responses API translators that write Responses (net/wire/xlate.h, "the Responses
 * API"): chat.completion -> response object, the OAI_TO_RESP and ANTH_TO_RESP streams
 * (events, order, failures, stickiness, usage, the final object), the replay (equal to
 * the stream of the same answer), previous_response_id history and expansion, and the
 * Responses error shapes. Also the golden fixtures of test/fixtures/xlate_resp:
 *   <kind>_<name>.in.<ext> -> <kind>_<name>.out.<ext> (or .err.txt: a piece of the
 *   expected -EINVAL message), kind one of
 *     req          Responses request -> chat request (JSON)
 *     resp         chat.completion -> response object (JSON)
 *     stream_oai   chat chunk SSE -> Responses events (SSE; also fed byte by byte and
 *                  split in two at every offset: the same bytes must come out)
 *     stream_anth  Anthropic SSE -> Responses events (same checks)
 *     replay       response object -> Responses events
 *   <name>.opts.json (optional): {"model", "max_completion_tokens", "created", "resp_id",
 *   "resp_req" (an object), "json_tool"}
 * JSON is compared structurally; SSE event by event, data as JSON. SL_XLATE_REGEN=1
 * writes missing .out files (review them before committing). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/wire/sse.h"
#include "net/wire/usage.h"
#include "net/wire/xlate.h"
#include "test/unit/check.h"

/* ---- helpers ---- */

static cJSON *parse_buf(const struct sl_buf *b) { return b->p ? cJSON_ParseWithLength(b->p, b->n) : NULL; }

static const cJSON *at(const cJSON *o, const char *path) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", path);
  for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
    if (tok[0] >= '0' && tok[0] <= '9')
      o = cJSON_GetArrayItem(o, atoi(tok));
    else
      o = cJSON_GetObjectItemCaseSensitive(o, tok);
  }
  return o;
}

static const char *sat(const cJSON *o, const char *path) {
  const cJSON *v = at(o, path);
  return cJSON_IsString(v) ? v->valuestring : "<none>";
}

static double nat(const cJSON *o, const char *path) {
  const cJSON *v = at(o, path);
  return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

/* An SSE transcript as a list of parsed events. */
struct evs {
  int n;
  char name[600][64];
  cJSON *data[600];
};

static int collect(void *ud, const struct sl_sse_event *ev) {
  struct evs *l = ud;
  if (l->n >= 600) return 0;
  snprintf(l->name[l->n], sizeof l->name[0], "%.*s", (int)ev->event_len, ev->event);
  l->data[l->n++] = cJSON_ParseWithLength(ev->data, ev->data_len);
  return 0;
}

static struct evs *evs_parse(const char *p, size_t n) {
  struct evs *l = calloc(1, sizeof *l);
  struct sl_sse sse;
  sl_sse_init(&sse, 0);
  sl_sse_feed(&sse, p ? p : "", n, collect, l);
  sl_sse_finish(&sse, collect, l);
  sl_sse_free(&sse);
  return l;
}

static void evs_free(struct evs *l) {
  for (int i = 0; l && i < l->n; i++) cJSON_Delete(l->data[i]);
  free(l);
}

/* Every event is named as its data's type, numbered 0, 1, 2, ... */
static bool evs_well_formed(const struct evs *l) {
  for (int i = 0; i < l->n; i++) {
    const char *t = sat(l->data[i], "type");
    if (strcmp(t, l->name[i]) != 0 || nat(l->data[i], "sequence_number") != i) return false;
  }
  return true;
}

static const char *const resp_req_json =
    "{\"model\":\"client\",\"input\":\"hi\",\"instructions\":\"be nice\",\"temperature\":0.2,"
    "\"max_output_tokens\":100,\"metadata\":{\"k\":\"v\"},\"tools\":[{\"type\":\"function\",\"name\":\"w\"}],"
    "\"tool_choice\":\"required\",\"reasoning\":{\"effort\":\"low\",\"summary\":\"auto\"},\"store\":false,"
    "\"parallel_tool_calls\":false,\"user\":\"u\",\"top_p\":0.5,\"text\":{\"format\":{\"type\":\"json_object\"}}}";

static int run_stream(enum sl_xlate_dir d, const struct sl_xlate_resp_opts *o, const char *in, size_t n,
                      struct sl_buf *out, struct sl_xlate_stream **keep) {
  struct sl_xlate_stream *s;
  int rc = sl_xlate_stream_new(d, o, &s);
  if (rc) return rc;
  rc = sl_xlate_stream_feed(s, in, n, out);
  int r2 = sl_xlate_stream_finish(s, out);
  if (rc == 0) rc = r2;
  if (keep)
    *keep = s;
  else
    sl_xlate_stream_free(s);
  return rc;
}

/* ---- chat.completion -> response ---- */

static const char *const chat_full =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-up\",\"choices\":[{\"index\":"
    "0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\",\"reasoning_content\":\"hmm\",\"tool_calls\":[{\"id\":"
    "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":\"{\\\"c\\\":1}\"}}]},"
    "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":7,\"total_tokens\":17,"
    "\"prompt_tokens_details\":{\"cached_tokens\":4},\"completion_tokens_details\":{\"reasoning_tokens\":3}}}";

static void response_items_and_usage(void) {
  cJSON *req = cJSON_Parse(resp_req_json);
  struct sl_xlate_resp_opts o = {.created = 1700000000, .resp_req = req, .resp_id = "resp_00ff"};
  struct sl_buf b = {0};
  struct sl_xlate_usage u;
  CHECK(sl_xlate_chat_to_resp_response(chat_full, strlen(chat_full), &o, &b, &u) == 0);
  cJSON *r = parse_buf(&b);
  CHECK_STR(sat(r, "id"), "resp_00ff");
  CHECK_STR(sat(r, "object"), "response");
  CHECK(nat(r, "created_at") == 1700000000);
  CHECK_STR(sat(r, "status"), "completed");
  CHECK(cJSON_IsNull(at(r, "error")));
  CHECK(cJSON_IsNull(at(r, "incomplete_details")));
  CHECK_STR(sat(r, "model"), "gpt-up");
  CHECK(cJSON_GetArraySize(at(r, "output")) == 3);
  CHECK_STR(sat(r, "output.0.type"), "reasoning");
  CHECK_STR(sat(r, "output.0.id"), "rs_00ff_0");
  CHECK_STR(sat(r, "output.0.summary.0.type"), "summary_text");
  CHECK_STR(sat(r, "output.0.summary.0.text"), "hmm");
  CHECK_STR(sat(r, "output.1.type"), "message");
  CHECK_STR(sat(r, "output.1.id"), "msg_00ff_1");
  CHECK_STR(sat(r, "output.1.status"), "completed");
  CHECK_STR(sat(r, "output.1.role"), "assistant");
  CHECK_STR(sat(r, "output.1.content.0.type"), "output_text");
  CHECK_STR(sat(r, "output.1.content.0.text"), "Hello");
  CHECK(cJSON_IsArray(at(r, "output.1.content.0.annotations")));
  CHECK(cJSON_IsArray(at(r, "output.1.content.0.logprobs")));
  CHECK_STR(sat(r, "output.2.type"), "function_call");
  CHECK_STR(sat(r, "output.2.id"), "fc_00ff_2");
  CHECK_STR(sat(r, "output.2.status"), "completed");
  CHECK_STR(sat(r, "output.2.call_id"), "call_1");
  CHECK_STR(sat(r, "output.2.name"), "w");
  CHECK_STR(sat(r, "output.2.arguments"), "{\"c\":1}");
  CHECK(nat(r, "usage.input_tokens") == 10);
  CHECK(nat(r, "usage.input_tokens_details.cached_tokens") == 4);
  CHECK(nat(r, "usage.output_tokens") == 7);
  CHECK(nat(r, "usage.output_tokens_details.reasoning_tokens") == 3);
  CHECK(nat(r, "usage.total_tokens") == 17);
  CHECK(u.known && u.input == 6 && u.cache_read == 4 && u.output == 7 && u.cache_creation == 0);
  /* echoed from the request */
  CHECK_STR(sat(r, "instructions"), "be nice");
  CHECK(nat(r, "max_output_tokens") == 100);
  CHECK_STR(sat(r, "metadata.k"), "v");
  CHECK(cJSON_IsFalse(at(r, "parallel_tool_calls")));
  CHECK_STR(sat(r, "reasoning.effort"), "low");
  CHECK_STR(sat(r, "reasoning.summary"), "auto");
  CHECK(cJSON_IsFalse(at(r, "store")));
  CHECK(nat(r, "temperature") == 0.2);
  CHECK(nat(r, "top_p") == 0.5);
  CHECK_STR(sat(r, "text.format.type"), "json_object");
  CHECK_STR(sat(r, "tool_choice"), "required");
  CHECK_STR(sat(r, "tools.0.name"), "w");
  CHECK_STR(sat(r, "truncation"), "disabled");
  CHECK_STR(sat(r, "user"), "u");
  CHECK(!at(r, "output_text"));
  cJSON_Delete(r);
  sl_buf_free(&b);
  cJSON_Delete(req);
}

static void response_defaults_and_status(void) {
  static const struct {
    const char *finish, *status, *reason;
  } cases[] = {
      {"stop", "completed", NULL},
      {"length", "incomplete", "max_output_tokens"},
      {"content_filter", "incomplete", "content_filter"},
  };
  for (size_t i = 0; i < 3; i++) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
             "\"content\":null,\"refusal\":\"no way\"},\"finish_reason\":\"%s\"}]}",
             cases[i].finish);
    struct sl_buf b = {0};
    struct sl_xlate_usage u = {.known = true, .input = 99};
    CHECK(sl_xlate_chat_to_resp_response(body, strlen(body), &(struct sl_xlate_resp_opts){.resp_id = "resp_1"}, &b,
                                         &u) == 0);
    cJSON *r = parse_buf(&b);
    CHECK_STR(sat(r, "status"), cases[i].status);
    if (cases[i].reason)
      CHECK_STR(sat(r, "incomplete_details.reason"), cases[i].reason);
    else
      CHECK(cJSON_IsNull(at(r, "incomplete_details")));
    CHECK_STR(sat(r, "output.0.content.0.type"), "refusal");
    CHECK_STR(sat(r, "output.0.content.0.refusal"), "no way");
    CHECK(cJSON_IsNull(at(r, "usage")));
    CHECK(!u.known && u.input == 0);
    /* defaults when the request said nothing */
    CHECK(cJSON_IsNull(at(r, "instructions")));
    CHECK(cJSON_IsObject(at(r, "metadata")) && !at(r, "metadata")->child);
    CHECK(cJSON_IsTrue(at(r, "parallel_tool_calls")));
    CHECK_STR(sat(r, "text.format.type"), "text");
    CHECK_STR(sat(r, "tool_choice"), "auto");
    CHECK(cJSON_IsArray(at(r, "tools")) && cJSON_GetArraySize(at(r, "tools")) == 0);
    CHECK(cJSON_IsNull(at(r, "reasoning.effort")));
    cJSON_Delete(r);
    sl_buf_free(&b);
  }
  struct sl_buf b = {0};
  CHECK(sl_xlate_chat_to_resp_response("{\"error\":{}}", 12, NULL, &b, NULL) == -EBADMSG);
  CHECK(sl_xlate_chat_to_resp_response("nope", 4, NULL, &b, NULL) == -EBADMSG);
  CHECK(sl_xlate_chat_to_resp_response(NULL, 0, NULL, &b, NULL) == -EBADMSG);
  CHECK(b.n == 0);
  sl_buf_free(&b);
}

/* ---- streams ---- */

static const char *const chunks_full =
    "data: "
    "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-up\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"hmm\"}}]}\n\n"
    "data: {\"id\":\"c1\",\"model\":\"gpt-up\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n"
    "data: {\"id\":\"c1\",\"model\":\"gpt-up\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
    "\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":\"{\\\"c\\\":1}\"}}]}}]}\n\n"
    "data: {\"id\":\"c1\",\"model\":\"gpt-up\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
    "\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"c1\",\"model\":\"gpt-up\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":7,"
    "\"total_tokens\":17,\"prompt_tokens_details\":{\"cached_tokens\":4},\"completion_tokens_details\":{"
    "\"reasoning_tokens\":3}}}\n\n"
    "data: [DONE]\n\n";

static void stream_sequence(void) {
  cJSON *req = cJSON_Parse(resp_req_json);
  struct sl_xlate_resp_opts o = {.created = 1700000000, .resp_req = req, .resp_id = "resp_00ff"};
  struct sl_buf out = {0};
  struct sl_xlate_stream *s;
  CHECK(run_stream(SL_XLATE_OAI_TO_RESP, &o, chunks_full, strlen(chunks_full), &out, &s) == SL_XLATE_END);
  static const char *const want[] = {
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
  };
  struct evs *l = evs_parse(out.p, out.n);
  CHECK(l->n == (int)(sizeof want / sizeof want[0]));
  for (int i = 0; i < l->n && i < (int)(sizeof want / sizeof want[0]); i++) CHECK_STR(l->name[i], want[i]);
  CHECK(evs_well_formed(l));
  CHECK_STR(sat(l->data[0], "response.status"), "in_progress");
  CHECK(cJSON_GetArraySize(at(l->data[0], "response.output")) == 0);
  CHECK_STR(sat(l->data[0], "response.id"), "resp_00ff");
  CHECK_STR(sat(l->data[0], "response.model"), "gpt-up");
  CHECK_STR(sat(l->data[10], "delta"), "Hello");
  CHECK_STR(sat(l->data[10], "item_id"), "msg_00ff_1");
  CHECK(nat(l->data[10], "output_index") == 1 && nat(l->data[10], "content_index") == 0);
  CHECK(cJSON_IsArray(at(l->data[10], "logprobs")));
  CHECK_STR(sat(l->data[11], "text"), "Hello");
  CHECK_STR(sat(l->data[14], "item.arguments"), "");
  CHECK_STR(sat(l->data[14], "item.status"), "in_progress");
  CHECK_STR(sat(l->data[16], "arguments"), "{\"c\":1}");
  CHECK_STR(sat(l->data[16], "name"), "w");
  CHECK_STR(sat(l->data[17], "item.status"), "completed");
  CHECK(nat(l->data[18], "response.usage.input_tokens") == 10);
  CHECK_STR(sat(l->data[18], "response.status"), "completed");

  /* the final object is the whole response's, byte for byte */
  struct sl_buf fin = {0}, whole = {0};
  CHECK(sl_xlate_stream_response(s, &fin) == 0);
  CHECK(sl_xlate_chat_to_resp_response(chat_full, strlen(chat_full), &o, &whole, NULL) == 0);
  CHECK(fin.n == whole.n && memcmp(fin.p, whole.p, fin.n) == 0);
  struct sl_xlate_usage u;
  sl_xlate_stream_usage(s, &u);
  CHECK(u.known && u.input == 6 && u.cache_read == 4 && u.output == 7);

  /* replay of that response gives the same bytes (the stream had one delta per item) */
  struct sl_buf rp = {0};
  CHECK(sl_xlate_resp_replay(whole.p, whole.n, NULL, &rp) == 0);
  CHECK(rp.n == out.n && memcmp(rp.p, out.p, out.n) == 0);
  /* and with another id, only the ids of the response change */
  struct sl_buf rp2 = {0};
  CHECK(sl_xlate_resp_replay(whole.p, whole.n, "resp_new", &rp2) == 0);
  struct evs *l2 = evs_parse(rp2.p, rp2.n);
  CHECK(l2->n == l->n);
  CHECK_STR(sat(l2->data[0], "response.id"), "resp_new");
  CHECK_STR(sat(l2->data[l2->n - 1], "response.id"), "resp_new");
  evs_free(l2);

  /* sticky after the end */
  size_t before = out.n;
  CHECK(sl_xlate_stream_feed(s, "data: {}\n\n", 10, &out) == SL_XLATE_END);
  CHECK(sl_xlate_stream_finish(s, &out) == SL_XLATE_END);
  CHECK(out.n == before);
  evs_free(l);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);
  sl_buf_free(&fin);
  sl_buf_free(&whole);
  sl_buf_free(&rp);
  sl_buf_free(&rp2);
  cJSON_Delete(req);
}

/* The same input split in two at every offset gives the same bytes. */
static void stream_split_everywhere(void) {
  struct sl_xlate_resp_opts o = {.created = 5, .resp_id = "resp_9"};
  struct sl_buf ref = {0};
  size_t n = strlen(chunks_full);
  CHECK(run_stream(SL_XLATE_OAI_TO_RESP, &o, chunks_full, n, &ref, NULL) == SL_XLATE_END);
  for (size_t k = 0; k <= n; k++) {
    struct sl_xlate_stream *s;
    struct sl_buf b = {0};
    CHECK(sl_xlate_stream_new(SL_XLATE_OAI_TO_RESP, &o, &s) == 0);
    int rc = sl_xlate_stream_feed(s, chunks_full, k, &b);
    if (!rc) rc = sl_xlate_stream_feed(s, chunks_full + k, n - k, &b);
    if (!rc) rc = sl_xlate_stream_finish(s, &b);
    CHECK(rc == SL_XLATE_END);
    CHECK(b.n == ref.n && memcmp(b.p, ref.p, b.n) == 0);
    sl_xlate_stream_free(s);
    sl_buf_free(&b);
  }
  sl_buf_free(&ref);
}

static void stream_refusal_and_interleaving(void) {
  const char *in =
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"r\"}}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"x\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{\"}},{\"index\":1,\"id\":\"y\",\"function\":{\"name\":\"g\","
      "\"arguments\":\"\"}}]}}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{"
      "\"arguments\":\"{}\"}},{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n";
  struct sl_buf out = {0};
  struct sl_xlate_stream *s;
  /* no [DONE] after a finish_reason: still a clean end */
  CHECK(run_stream(SL_XLATE_OAI_TO_RESP, &(struct sl_xlate_resp_opts){.resp_id = "resp_2"}, in, strlen(in), &out, &s) ==
        SL_XLATE_END);
  struct evs *l = evs_parse(out.p, out.n);
  CHECK(evs_well_formed(l));
  CHECK_STR(l->name[l->n - 1], "response.incomplete");
  const cJSON *r = at(l->data[l->n - 1], "response");
  CHECK_STR(sat(r, "status"), "incomplete");
  CHECK_STR(sat(r, "incomplete_details.reason"), "max_output_tokens");
  CHECK(cJSON_GetArraySize(at(r, "output")) == 3);
  CHECK_STR(sat(r, "output.0.content.0.text"), "a");
  CHECK_STR(sat(r, "output.0.content.1.type"), "refusal");
  CHECK_STR(sat(r, "output.0.content.1.refusal"), "r");
  CHECK_STR(sat(r, "output.1.arguments"), "{}");
  CHECK_STR(sat(r, "output.1.call_id"), "x");
  CHECK_STR(sat(r, "output.2.arguments"), "{}");
  CHECK_STR(sat(r, "output.2.name"), "g");
  int refusal_deltas = 0, arg_deltas = 0;
  for (int i = 0; i < l->n; i++) {
    if (!strcmp(l->name[i], "response.refusal.delta")) {
      refusal_deltas++;
      CHECK(nat(l->data[i], "content_index") == 1);
    }
    if (!strcmp(l->name[i], "response.function_call_arguments.delta")) arg_deltas++;
    if (!strcmp(l->name[i], "response.output_text.delta")) CHECK_STR(sat(l->data[i], "delta"), "a");
  }
  CHECK(refusal_deltas == 1 && arg_deltas == 3);
  /* the two calls were open together, both closed at the end, in output order */
  int d1 = -1, d2 = -1, last_delta = -1;
  for (int i = 0; i < l->n; i++) {
    if (!strcmp(l->name[i], "response.function_call_arguments.delta")) last_delta = i;
    if (strcmp(l->name[i], "response.output_item.done")) continue;
    if (nat(l->data[i], "output_index") == 1) d1 = i;
    if (nat(l->data[i], "output_index") == 2) d2 = i;
  }
  CHECK(d1 > last_delta);
  CHECK(d1 > 0 && d2 > d1);
  evs_free(l);
  sl_xlate_stream_free(s);
  sl_buf_free(&out);
}

/* Failures end with an error event and response.failed; each is sticky. */
static void stream_failures(void) {
  static const struct {
    const char *in;
    int rc;
    const char *code, *msg;
  } cases[] = {
      {"data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
       "data: {\"error\":{\"message\":\"Rate limited\",\"type\":\"rate_limit_error\"}}\n\n",
       -EPROTO, "rate_limit_exceeded", "Rate limited"},
      {"data: {not json\n\n", -EBADMSG, "server_error", "not OpenAI JSON"},
      {"data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n", -EPIPE, "server_error",
       "ended before"},
      {"", -EPIPE, "server_error", "ended before"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sl_buf out = {0};
    struct sl_xlate_stream *s;
    int rc = run_stream(SL_XLATE_OAI_TO_RESP, &(struct sl_xlate_resp_opts){.resp_id = "resp_f"}, cases[i].in,
                        strlen(cases[i].in), &out, &s);
    CHECK(rc == cases[i].rc);
    struct evs *l = evs_parse(out.p, out.n);
    CHECK(evs_well_formed(l));
    CHECK(l->n >= 4);
    CHECK_STR(l->name[0], "response.created");
    if (l->n >= 2) {
      const cJSON *e = l->data[l->n - 2], *f = l->data[l->n - 1];
      CHECK_STR(l->name[l->n - 2], "error");
      CHECK_STR(sat(e, "code"), cases[i].code);
      CHECK(strstr(sat(e, "message"), cases[i].msg) != NULL);
      CHECK(cJSON_IsNull(at(e, "param")));
      CHECK_STR(sat(e, "error.message"), sat(e, "message")); /* openai-node throws on data.error */
      CHECK_STR(l->name[l->n - 1], "response.failed");
      CHECK_STR(sat(f, "response.status"), "failed");
      CHECK_STR(sat(f, "response.error.code"), cases[i].code);
      CHECK(strstr(sat(f, "response.error.message"), cases[i].msg) != NULL);
    }
    size_t before = out.n;
    CHECK(sl_xlate_stream_feed(s, "data: [DONE]\n\n", 14, &out) == cases[i].rc);
    CHECK(sl_xlate_stream_finish(s, &out) == cases[i].rc);
    CHECK(out.n == before);
    CHECK(sl_xlate_stream_response(s, &out) == -EAGAIN);
    evs_free(l);
    sl_xlate_stream_free(s);
    sl_buf_free(&out);
  }
  struct sl_xlate_stream *s;
  struct sl_buf out = {0};
  CHECK(sl_xlate_stream_new(SL_XLATE_OAI_TO_RESP, NULL, &s) == 0);
  CHECK(sl_xlate_stream_response(s, &out) == -EAGAIN);
  CHECK(!sl_xlate_stream_started(s));
  sl_xlate_stream_free(s);
  CHECK(sl_xlate_stream_new((enum sl_xlate_dir)99, NULL, &s) == -EINVAL);
}

static const char *const anth_events =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":{\"input_tokens\":5,"
    "\"cache_read_input_tokens\":3,\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
    "\"thinking\",\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"thinking_delta\",\"thinking\":\"ponder\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
    "\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"Hi there\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":"
    "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"w\",\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"c\\\":2}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{"
    "\"output_tokens\":9}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void anth_composition(void) {
  struct sl_xlate_resp_opts o = {.created = 7, .resp_id = "resp_a"};
  struct sl_buf out = {0};
  struct sl_xlate_stream *s;
  CHECK(run_stream(SL_XLATE_ANTH_TO_RESP, &o, anth_events, strlen(anth_events), &out, &s) == SL_XLATE_END);
  struct evs *l = evs_parse(out.p, out.n);
  CHECK(evs_well_formed(l));
  CHECK_STR(l->name[l->n - 1], "response.completed");
  const cJSON *r = at(l->data[l->n - 1], "response");
  CHECK_STR(sat(r, "model"), "claude-x");
  CHECK_STR(sat(r, "output.0.type"), "reasoning");
  CHECK_STR(sat(r, "output.0.summary.0.text"), "ponder");
  CHECK_STR(sat(r, "output.1.content.0.text"), "Hi there");
  CHECK_STR(sat(r, "output.2.type"), "function_call");
  CHECK_STR(sat(r, "output.2.call_id"), "toolu_1");
  CHECK_STR(sat(r, "output.2.arguments"), "{\"c\":2}");
  CHECK(nat(r, "usage.input_tokens") == 10); /* 5 + cache read 3 + cache creation 2 */
  CHECK(nat(r, "usage.input_tokens_details.cached_tokens") == 3);
  CHECK(nat(r, "usage.output_tokens") == 9);
  struct sl_xlate_usage u;
  sl_xlate_stream_usage(s, &u); /* Anthropic's own counts, cache creation kept apart */
  CHECK(u.known && u.input == 5 && u.cache_read == 3 && u.cache_creation == 2 && u.output == 9);
  struct sl_buf fin = {0};
  CHECK(sl_xlate_stream_response(s, &fin) == 0);
  cJSON *f = parse_buf(&fin);
  CHECK(cJSON_Compare(f, r, true));
  cJSON_Delete(f);
  sl_buf_free(&fin);
  evs_free(l);
  sl_xlate_stream_free(s);

  /* byte by byte: the same */
  struct sl_buf b = {0};
  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_RESP, &o, &s) == 0);
  int rc = 0;
  for (size_t i = 0; i < strlen(anth_events) && !rc; i++) rc = sl_xlate_stream_feed(s, anth_events + i, 1, &b);
  if (!rc) rc = sl_xlate_stream_finish(s, &b);
  CHECK(rc == SL_XLATE_END);
  CHECK(b.n == out.n && memcmp(b.p, out.p, b.n) == 0);
  sl_xlate_stream_free(s);
  sl_buf_free(&b);
  sl_buf_free(&out);

  /* an Anthropic error event, a bad event, a cut stream */
  static const struct {
    const char *in;
    int rc;
    const char *code;
  } bad[] = {
      {"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"
       "\n\n",
       -EPROTO, "service_unavailable"},
      {"event: message_start\ndata: [1]\n\n", -EBADMSG, "upstream_protocol_error"},
      {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n",
       -EPIPE, "upstream_protocol_error"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_buf e = {0};
    CHECK(run_stream(SL_XLATE_ANTH_TO_RESP, &o, bad[i].in, strlen(bad[i].in), &e, &s) == bad[i].rc);
    struct evs *el = evs_parse(e.p, e.n);
    CHECK(evs_well_formed(el));
    CHECK(el->n >= 2 && !strcmp(el->name[el->n - 1], "response.failed"));
    if (el->n >= 2) CHECK_STR(sat(el->data[el->n - 1], "response.error.code"), bad[i].code);
    evs_free(el);
    sl_xlate_stream_free(s);
    sl_buf_free(&e);
  }
}

/* The usage filter that watches native Responses streams reads the translated stream the
 * same way: the usage of response.completed, and the text of the delta events. */
static void usage_filter_agrees(void) {
  struct sl_buf out = {0};
  CHECK(run_stream(SL_XLATE_OAI_TO_RESP, &(struct sl_xlate_resp_opts){.resp_id = "resp_u"}, chunks_full,
                   strlen(chunks_full), &out, NULL) == SL_XLATE_END);
  struct sl_usage_filter f;
  sl_usage_filter_init(&f, 0, 0);
  CHECK(sl_usage_filter_feed(&f, out.p, out.n, NULL) == 0);
  CHECK(sl_usage_filter_finish(&f, NULL) == 0);
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0);
  CHECK(u.prompt_tokens == 10 && u.cached_tokens == 4 && u.completion_tokens == 7 && u.reasoning_tokens == 3 &&
        u.total_tokens == 17);
  CHECK(f.out_chars == strlen("hmm") + strlen("Hello") + strlen("{\"c\":1}"));
  CHECK(f.out_deltas == 3);
  sl_usage_filter_free(&f);
  sl_buf_free(&out);
}

/* Frames from a shared framer (the filter chain's path) give what feeding bytes gives. */
struct frame_ctx {
  struct sl_xlate_stream *s;
  struct sl_buf *out;
};

static int on_frame(void *ud, const struct sl_sse_frame *fr) {
  struct frame_ctx *c = ud;
  sl_xlate_stream_frame(c->s, fr, c->out);
  return 0;
}

static void stream_frames(void) {
  static const enum sl_xlate_dir dirs[] = {SL_XLATE_OAI_TO_RESP, SL_XLATE_ANTH_TO_RESP};
  for (size_t i = 0; i < 2; i++) {
    const char *in = i == 0 ? chunks_full : anth_events;
    struct sl_xlate_resp_opts o = {.created = 3, .resp_id = "resp_fr"};
    struct sl_buf ref = {0}, b = {0};
    CHECK(run_stream(dirs[i], &o, in, strlen(in), &ref, NULL) == SL_XLATE_END);
    struct sl_xlate_stream *s;
    CHECK(sl_xlate_stream_new(dirs[i], &o, &s) == 0);
    struct sl_sse_framer fr;
    sl_sse_framer_init(&fr, 0);
    struct frame_ctx c = {s, &b};
    size_t n = strlen(in);
    for (size_t k = 0; k < n; k += 7) sl_sse_framer_feed(&fr, in + k, n - k < 7 ? n - k : 7, on_frame, &c);
    sl_sse_framer_finish(&fr, on_frame, &c);
    sl_sse_framer_free(&fr);
    CHECK(sl_xlate_stream_finish_framed(s, &b) == SL_XLATE_END);
    CHECK(b.n == ref.n && memcmp(b.p, ref.p, b.n) == 0);
    sl_xlate_stream_free(s);
    sl_buf_free(&ref);
    sl_buf_free(&b);
  }
}

/* ---- replay of responses not written by sluice ---- */

static void replay_native(void) {
  const char *r =
      "{\"id\":\"resp_x\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt\",\"usage\":{\"input_"
      "tokens\""
      ":1,\"output_tokens\":2,\"total_tokens\":3},\"output\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":"
      "\"completed\"},{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"a\"},"
      "{\"type\":\"summary_text\",\"text\":\"b\"}]},{\"type\":\"message\",\"id\":\"m1\",\"status\":\"completed\","
      "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"x\",\"annotations\":[{\"type\":"
      "\"url_citation\",\"url\":\"u\",\"title\":\"t\",\"start_index\":0,\"end_index\":1}]},{\"type\":\"output_text\","
      "\"text\":\"y\",\"annotations\":[]}]}]}";
  struct sl_buf out = {0};
  CHECK(sl_xlate_resp_replay(r, strlen(r), "resp_y", &out) == 0);
  struct evs *l = evs_parse(out.p, out.n);
  CHECK(evs_well_formed(l));
  static const char *const want[] = {"response.created",
                                     "response.in_progress",
                                     "response.output_item.added",
                                     "response.output_item.done",
                                     "response.output_item.added",
                                     "response.reasoning_summary_part.added",
                                     "response.reasoning_summary_text.delta",
                                     "response.reasoning_summary_text.done",
                                     "response.reasoning_summary_part.done",
                                     "response.reasoning_summary_part.added",
                                     "response.reasoning_summary_text.delta",
                                     "response.reasoning_summary_text.done",
                                     "response.reasoning_summary_part.done",
                                     "response.output_item.done",
                                     "response.output_item.added",
                                     "response.content_part.added",
                                     "response.output_text.delta",
                                     "response.output_text.done",
                                     "response.content_part.done",
                                     "response.content_part.added",
                                     "response.output_text.delta",
                                     "response.output_text.done",
                                     "response.content_part.done",
                                     "response.output_item.done",
                                     "response.completed"};
  CHECK(l->n == (int)(sizeof want / sizeof want[0]));
  for (int i = 0; i < l->n && i < (int)(sizeof want / sizeof want[0]); i++) CHECK_STR(l->name[i], want[i]);
  CHECK(cJSON_IsNull(at(l->data[0], "response.usage")));
  CHECK_STR(sat(l->data[0], "response.status"), "in_progress");
  CHECK_STR(sat(l->data[0], "response.id"), "resp_y");
  CHECK(nat(l->data[11], "summary_index") == 1);
  CHECK_STR(sat(l->data[11], "text"), "b");
  CHECK_STR(sat(l->data[15], "part.text"), "");
  CHECK_STR(sat(l->data[18], "part.annotations.0.url"), "u");
  CHECK(nat(l->data[19], "content_index") == 1);
  CHECK(nat(l->data[24], "response.usage.output_tokens") == 2);
  CHECK_STR(sat(l->data[24], "response.id"), "resp_y");
  evs_free(l);
  sl_buf_free(&out);
  CHECK(sl_xlate_resp_replay("{\"status\":\"in_progress\",\"output\":[]}", 35, NULL, &out) == -EBADMSG);
  CHECK(sl_xlate_resp_replay("{\"status\":\"completed\"}", 22, NULL, &out) == -EBADMSG);
  CHECK(sl_xlate_resp_replay("xx", 2, NULL, &out) == -EBADMSG);
  const char *failed = "{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"m\"},"
                       "\"output\":[]}";
  CHECK(sl_xlate_resp_replay(failed, strlen(failed), NULL, &out) == 0);
  l = evs_parse(out.p, out.n);
  CHECK(l->n == 3 && !strcmp(l->name[2], "response.failed"));
  CHECK(cJSON_IsNull(at(l->data[0], "response.error")));
  CHECK_STR(sat(l->data[2], "response.error.code"), "server_error");
  evs_free(l);
  sl_buf_free(&out);
}

/* ---- previous_response_id ---- */

static void history_and_expand(void) {
  cJSON *req1 = cJSON_Parse("{\"model\":\"m\",\"input\":\"first\",\"instructions\":\"sys\"}");
  struct sl_buf whole = {0}, hist = {0};
  CHECK(sl_xlate_chat_to_resp_response(chat_full, strlen(chat_full),
                                       &(struct sl_xlate_resp_opts){.resp_id = "resp_1", .resp_req = req1}, &whole,
                                       NULL) == 0);
  CHECK(sl_xlate_resp_history(req1, whole.p, whole.n, &hist) == 0);
  cJSON *h = parse_buf(&hist);
  /* the reasoning item (no encrypted_content: state of the provider that made it) is not
   * kept; the others go on without ids (the next turn may reach another deployment) */
  CHECK(cJSON_GetArraySize(h) == 3);
  CHECK_STR(sat(h, "0.role"), "user");
  CHECK_STR(sat(h, "0.content"), "first");
  CHECK_STR(sat(h, "1.type"), "message");
  CHECK_STR(sat(h, "2.type"), "function_call");
  CHECK(!at(h, "1.id") && !at(h, "2.id") && !at(h, "2.status"));
  CHECK_STR(sat(h, "2.call_id"), "call_1");
  {
    const char *enc = "{\"id\":\"r\",\"output\":[{\"type\":\"reasoning\",\"id\":\"rs_x\",\"summary\":[],"
                      "\"encrypted_content\":\"gAAA\"}]}";
    struct sl_buf hb = {0};
    CHECK(sl_xlate_resp_history(req1, enc, strlen(enc), &hb) == 0);
    cJSON *eh = parse_buf(&hb);
    CHECK(cJSON_GetArraySize(eh) == 2);
    CHECK_STR(sat(eh, "1.encrypted_content"), "gAAA");
    cJSON_Delete(eh);
    sl_buf_free(&hb);
  }

  cJSON *req2 = cJSON_Parse("{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":[{\"type\":"
                            "\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"ok\"}],\"stream\":true}");
  cJSON *x = NULL;
  char err[256];
  CHECK(sl_xlate_resp_expand(req2, hist.p, hist.n, &x, err, sizeof err) == 0);
  CHECK(!at(x, "previous_response_id"));
  CHECK(cJSON_IsTrue(at(x, "stream")));
  CHECK(cJSON_GetArraySize(at(x, "input")) == 4);
  CHECK_STR(sat(x, "input.3.type"), "function_call_output");

  /* the expanded request translates: output items are valid input items */
  cJSON *chat = NULL;
  CHECK(sl_xlate_resp_to_chat_request(x, &(struct sl_xlate_req_opts){.model = "up"}, &chat, err, sizeof err) == 0);
  CHECK(cJSON_GetArraySize(at(chat, "messages")) == 3); /* user, assistant(text + call), tool */
  CHECK_STR(sat(chat, "messages.1.content"), "Hello");
  CHECK_STR(sat(chat, "messages.1.tool_calls.0.id"), "call_1");
  CHECK_STR(sat(chat, "messages.2.role"), "tool");
  cJSON_Delete(chat);
  cJSON_Delete(x);

  /* a string input becomes one user message after the history */
  cJSON *req3 = cJSON_Parse("{\"previous_response_id\":\"resp_1\",\"input\":\"next\"}");
  CHECK(sl_xlate_resp_expand(req3, hist.p, hist.n, &x, err, sizeof err) == 0);
  CHECK(cJSON_GetArraySize(at(x, "input")) == 4);
  CHECK_STR(sat(x, "input.3.role"), "user");
  CHECK_STR(sat(x, "input.3.content"), "next");
  cJSON_Delete(x);
  x = NULL;
  CHECK(sl_xlate_resp_expand(req3, "{}", 2, &x, err, sizeof err) == -EINVAL && !x);
  CHECK(strstr(err, "previous_response_id") != NULL);
  cJSON *req4 = cJSON_Parse("{\"input\":5}");
  CHECK(sl_xlate_resp_expand(req4, "[]", 2, &x, err, sizeof err) == -EINVAL && !x);
  CHECK(strstr(err, "input") != NULL);
  struct sl_buf bad = {0};
  CHECK(sl_xlate_resp_history(req4, whole.p, whole.n, &bad) == -EBADMSG);
  CHECK(sl_xlate_resp_history(req1, "{}", 2, &bad) == -EBADMSG);
  CHECK(bad.n == 0);

  cJSON_Delete(req4);
  cJSON_Delete(req3);
  cJSON_Delete(req2);
  cJSON_Delete(h);
  cJSON_Delete(req1);
  sl_buf_free(&whole);
  sl_buf_free(&hist);
}

/* ---- errors ---- */

static void errors(void) {
  struct sl_buf b = {0};
  sl_xlate_error_event(SL_WIRE_RESPONSES, 429, NULL, "slow down", NULL, &b);
  CHECK(strncmp(b.p, "event: error\ndata: ", 19) == 0);
  CHECK(b.n > 2 && b.p[b.n - 1] == '\n' && b.p[b.n - 2] == '\n');
  cJSON *e = cJSON_ParseWithLength(b.p + 19, b.n - 21);
  CHECK_STR(sat(e, "type"), "error");
  CHECK(nat(e, "sequence_number") == 0);
  CHECK_STR(sat(e, "code"), "rate_limit_exceeded");
  CHECK_STR(sat(e, "message"), "slow down");
  CHECK(cJSON_IsNull(at(e, "param")));
  CHECK_STR(sat(e, "error.type"), "rate_limit_error");
  cJSON_Delete(e);
  b.n = 0;
  sl_xlate_error_event(SL_WIRE_RESPONSES, 502, NULL, "gone", "upstream_reset", &b);
  e = cJSON_ParseWithLength(b.p + 19, b.n - 21);
  CHECK_STR(sat(e, "code"), "upstream_reset");
  cJSON_Delete(e);
  b.n = 0;
  const char *anth = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}";
  CHECK(sl_xlate_error_body(SL_WIRE_RESPONSES, 529, anth, strlen(anth), &b) == 0);
  e = parse_buf(&b);
  CHECK_STR(sat(e, "error.message"), "busy");
  CHECK_STR(sat(e, "error.type"), "service_unavailable");
  cJSON_Delete(e);
  CHECK_STR(sl_xlate_error_type(SL_WIRE_RESPONSES, 529), sl_xlate_error_type(SL_WIRE_OPENAI, 529));
  CHECK_STR(sl_xlate_error_type(SL_WIRE_RESPONSES, 401), sl_xlate_error_type(SL_WIRE_OPENAI, 401));
  sl_buf_free(&b);
}

/* ---- golden fixtures ---- */

static char dir[8192];

static bool find_dir(void) {
  const char *env = getenv("SL_XLATE_RESP_FIXTURES");
  if (env) {
    snprintf(dir, sizeof dir, "%s", env);
    return true;
  }
  char src[2048];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *slash = strrchr(src, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(src, sizeof src, ".");
  char exe[2048];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  struct stat st;
  if (k > 0 && src[0] != '/') {
    exe[k] = 0;
    for (int up = 0; up < 3; up++) {
      char *sl = strrchr(exe, '/');
      if (sl) *sl = 0;
    }
    snprintf(dir, sizeof dir, "%s/%s/../fixtures/xlate_resp", exe, src);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return true;
  }
  snprintf(dir, sizeof dir, "%s/../fixtures/xlate_resp", src);
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct sl_buf b = {0};
  char tmp[4096];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) sl_buf_append(&b, tmp, k);
  fclose(f);
  if (!b.p) sl_buf_append(&b, "", 0);
  return sl_buf_take(&b, len);
}

static bool json_equal(const char *a, size_t an, const char *b, size_t bn) {
  cJSON *x = cJSON_ParseWithLength(a, an), *y = cJSON_ParseWithLength(b, bn);
  bool eq = x && y ? cJSON_Compare(x, y, true) : false;
  cJSON_Delete(x);
  cJSON_Delete(y);
  return eq;
}

static bool sse_equal(const char *a, size_t an, const char *b, size_t bn, char *why, size_t wn) {
  struct evs *x = evs_parse(a, an), *y = evs_parse(b, bn);
  bool eq = x->n == y->n;
  if (!eq) snprintf(why, wn, "%d events, expected %d", x->n, y->n);
  for (int i = 0; eq && i < x->n; i++)
    if (strcmp(x->name[i], y->name[i]) || !cJSON_Compare(x->data[i], y->data[i], true)) {
      char *s = cJSON_PrintUnformatted(x->data[i]);
      snprintf(why, wn, "event %d differs: got [%s] %.300s", i, x->name[i], s ? s : "");
      free(s);
      eq = false;
    }
  evs_free(x);
  evs_free(y);
  return eq;
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int golden_failures, golden_cases;

static void golden_case(const char *file) {
  char base[1024], ext[16], path[10000];
  const char *dot = strstr(file, ".in.");
  if (!dot || (size_t)(dot - file) >= sizeof base) return;
  memcpy(base, file, (size_t)(dot - file));
  base[dot - file] = 0;
  snprintf(ext, sizeof ext, "%s", dot + 4);
  snprintf(path, sizeof path, "%s/%s.opts.json", dir, base);
  size_t on;
  char *os = slurp(path, &on);
  cJSON *oj = os ? cJSON_ParseWithLength(os, on) : NULL;
  free(os);
  struct sl_xlate_req_opts ro = {.model = "upstream-model"};
  struct sl_xlate_resp_opts po = {.created = 1700000000, .resp_id = "resp_0123456789abcdef"};
  const cJSON *v;
  if ((v = cJSON_GetObjectItem(oj, "model")) && cJSON_IsString(v)) ro.model = v->valuestring;
  if ((v = cJSON_GetObjectItem(oj, "max_completion_tokens"))) ro.max_completion_tokens = cJSON_IsTrue(v);
  if ((v = cJSON_GetObjectItem(oj, "created"))) po.created = (int64_t)v->valuedouble;
  if ((v = cJSON_GetObjectItem(oj, "resp_id")) && cJSON_IsString(v)) po.resp_id = v->valuestring;
  if ((v = cJSON_GetObjectItem(oj, "json_tool"))) po.json_tool = cJSON_IsTrue(v);
  po.resp_req = cJSON_GetObjectItem(oj, "resp_req");

  snprintf(path, sizeof path, "%s/%s", dir, file);
  size_t n;
  char *in = slurp(path, &n);
  if (!in) {
    cJSON_Delete(oj);
    return;
  }
  golden_cases++;
  struct sl_buf out = {0};
  char err[512] = "", why[800] = "";
  int rc = 0;
  bool sse = false;
  if (has_prefix(base, "req_")) {
    cJSON *j = cJSON_ParseWithLength(in, n), *t = NULL;
    rc = sl_xlate_resp_to_chat_request(j, &ro, &t, err, sizeof err);
    if (t) {
      char *s = cJSON_PrintUnformatted(t);
      sl_buf_puts(&out, s ? s : "");
      free(s);
    }
    cJSON_Delete(t);
    cJSON_Delete(j);
  } else if (has_prefix(base, "resp_")) {
    rc = sl_xlate_chat_to_resp_response(in, n, &po, &out, NULL);
  } else if (has_prefix(base, "replay_")) {
    sse = true;
    rc = sl_xlate_resp_replay(in, n, NULL, &out);
  } else if (has_prefix(base, "stream_oai_") || has_prefix(base, "stream_anth_")) {
    sse = true;
    enum sl_xlate_dir d = has_prefix(base, "stream_oai_") ? SL_XLATE_OAI_TO_RESP : SL_XLATE_ANTH_TO_RESP;
    rc = run_stream(d, &po, in, n, &out, NULL);
    /* byte by byte: the same bytes */
    struct sl_xlate_stream *s;
    struct sl_buf b = {0};
    if (sl_xlate_stream_new(d, &po, &s) == 0) {
      int r = 0;
      for (size_t i = 0; i < n && !r; i++) r = sl_xlate_stream_feed(s, in + i, 1, &b);
      if (!r) r = sl_xlate_stream_finish(s, &b);
      if (r != rc || b.n != out.n || (b.n && memcmp(b.p, out.p, b.n)))
        snprintf(why, sizeof why, "byte-by-byte feeding gave a different stream");
      sl_xlate_stream_free(s);
    }
    sl_buf_free(&b);
    if (rc > 0) rc = 0;
  } else {
    snprintf(why, sizeof why, "unknown fixture kind");
  }

  snprintf(path, sizeof path, "%s/%s.err.txt", dir, base);
  size_t en;
  char *want_err = slurp(path, &en);
  if (why[0]) {
  } else if (want_err) {
    while (en && (want_err[en - 1] == '\n' || want_err[en - 1] == ' ')) want_err[--en] = 0;
    if (rc != -EINVAL || !strstr(err, want_err))
      snprintf(why, sizeof why, "want -EINVAL with \"%s\", got %d \"%s\"", want_err, rc, err);
  } else {
    snprintf(path, sizeof path, "%s/%s.out.%s", dir, base, ext);
    size_t wn;
    char *want = slurp(path, &wn);
    if (!want && getenv("SL_XLATE_REGEN") && out.p) {
      FILE *f = fopen(path, "wb");
      if (f) fwrite(out.p, 1, out.n, f), fclose(f);
      printf("wrote %s\n", path);
      want = slurp(path, &wn);
    }
    if (!want)
      snprintf(why, sizeof why, "missing %.600s", path);
    else if (!sse && rc != 0)
      snprintf(why, sizeof why, "rc %d (%s)", rc, err);
    else if (!sse && !json_equal(out.p ? out.p : "", out.n, want, wn))
      snprintf(why, sizeof why, "output differs: %.600s", out.p ? out.p : "");
    else if (sse)
      sse_equal(out.p, out.n, want, wn, why, sizeof why);
    free(want);
  }
  free(want_err);
  if (why[0]) {
    printf("  FAIL golden %s: %s\n", base, why);
    golden_failures++;
  }
  sl_buf_free(&out);
  free(in);
  cJSON_Delete(oj);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void golden(void) {
  CHECK(find_dir());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  char *names[512];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && nn < 512)
    if (strstr(e->d_name, ".in.")) names[nn++] = strdup(e->d_name);
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_str);
  for (size_t i = 0; i < nn; i++) {
    golden_case(names[i]);
    free(names[i]);
  }
  printf("  golden: %d cases, %d failed\n", golden_cases, golden_failures);
  CHECK(golden_cases >= 10);
  CHECK(golden_failures == 0);
}

CHECK_MAIN(T(response_items_and_usage), T(response_defaults_and_status), T(stream_sequence), T(stream_split_everywhere),
           T(stream_refusal_and_interleaving), T(stream_failures), T(anth_composition), T(stream_frames),
           T(usage_filter_agrees), T(replay_native), T(history_and_expand), T(errors), T(golden))
