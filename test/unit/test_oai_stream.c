/* net/oai_stream: assembling chunk streams (content, tool calls, n > 1, logprobs,
 * legacy completions, incomplete and broken streams) and replaying stored completions,
 * with the round trip stream -> assemble -> replay -> assemble. */
#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "net/wire/oai_stream.h"
#include "net/wire/sse.h"

#define HEAD "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\",\"system_fingerprint\":\"fp_1\","

static const char CHAT_STREAM[] =
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    ": keep-alive\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\", w\\u00f6rld \\ud83d\\ude00!\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"xyz\"}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: " HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n"
    "data: [DONE]\n\n";

static const char TOOL_STREAM[] =
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"get_weather\",\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: [DONE]\n\n";

static const char N2_STREAM[] =
    "data: " HEAD "\"choices\":[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":\"B\"},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"A\"},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\",\"reasoning_content\":\"think\"},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"ing\"},\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n"
    "data: [DONE]\n\n";

static const char LOGPROBS_STREAM[] =
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],\"top_logprobs\":[]}],\"refusal\":null},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"},\"logprobs\":{\"content\":[{\"token\":\"!\",\"logprob\":-0.25,\"bytes\":[33],\"top_logprobs\":[]}],\"refusal\":null},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

#define THEAD "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000001,\"model\":\"davinci\","
static const char TEXT_STREAM[] =
    "data: " THEAD "\"choices\":[{\"text\":\"Once\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: " THEAD "\"choices\":[{\"text\":\" upon\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: " THEAD "\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n"
    "data: " THEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

static const char WANT_CHAT[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                   "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"Hello, w\xc3\xb6rld \xf0\x9f\x98\x80!\",\"refusal\":null},\"logprobs\":null,"
                   "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}";

static const char WANT_TOOLS[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                   "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":null,\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
                   "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"call_b\",\"type\":"
                   "\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
                   "\"finish_reason\":\"tool_calls\"}]}";

static const char WANT_N2[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                   "\"system_fingerprint\":\"fp_1\",\"choices\":["
                   "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Aa\",\"reasoning_content\":\"thinking\"},"
                   "\"finish_reason\":\"stop\",\"stop_reason\":null},"
                   "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"Bb\"},\"finish_reason\":\"length\"}]}";

static const char WANT_LOGPROBS[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                   "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"Hi!\"},\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],"
                   "\"top_logprobs\":[]},{\"token\":\"!\",\"logprob\":-0.25,\"bytes\":[33],\"top_logprobs\":[]}],"
                   "\"refusal\":null},\"finish_reason\":\"stop\"}]}";

static const char WANT_TEXT[] =
    "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000001,\"model\":\"davinci\","
                   "\"choices\":[{\"text\":\"Once upon\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],"
                   "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}";

/* Assembles bytes fed in pieces; returns the parsed completion or NULL. */
static cJSON *assemble(const char *s, size_t n, size_t piece, bool *complete, int *rc) {
  struct sl_oai_asm *a;
  if (sl_oai_asm_new(&a)) return NULL;
  for (size_t i = 0; i < n; i += piece) sl_oai_asm_feed_bytes(a, s + i, n - i < piece ? n - i : piece);
  char *json = NULL;
  size_t len;
  *rc = sl_oai_asm_finish(a, &json, &len, complete);
  sl_oai_asm_free(a);
  if (*rc) return NULL;
  cJSON *j = cJSON_ParseWithLength(json, len);
  free(json);
  return j;
}

static cJSON *assemble_str(const char *s, bool *complete) {
  int rc;
  return assemble(s, strlen(s), strlen(s), complete, &rc);
}

static bool json_eq(const cJSON *a, const char *want) {
  cJSON *w = cJSON_Parse(want);
  bool eq = w && cJSON_Compare(a, w, true);
  if (!eq) {
    char *s = cJSON_PrintUnformatted(a);
    printf("  got  %s\n  want %s\n", s ? s : "(null)", want);
    free(s);
  }
  cJSON_Delete(w);
  return eq;
}

static void assembles_content_and_usage(void) {
  bool complete;
  cJSON *j = assemble_str(CHAT_STREAM, &complete);
  CHECK(j && complete);
  CHECK(json_eq(j, WANT_CHAT));
  cJSON_Delete(j);
  /* any split of the bytes gives the same completion */
  cJSON *whole = assemble_str(CHAT_STREAM, &complete);
  for (size_t piece = 1; piece < 50; piece += 3) {
    int rc;
    bool c2;
    cJSON *k = assemble(CHAT_STREAM, sizeof CHAT_STREAM - 1, piece, &c2, &rc);
    CHECK(k && c2 && cJSON_Compare(k, whole, true));
    cJSON_Delete(k);
  }
  cJSON_Delete(whole);
}

static void merges_tool_calls(void) {
  bool complete;
  cJSON *j = assemble_str(TOOL_STREAM, &complete);
  CHECK(j && complete);
  CHECK(json_eq(j, WANT_TOOLS));
  cJSON_Delete(j);
}

static void merges_choices_and_unknown_fields(void) {
  bool complete;
  cJSON *j = assemble_str(N2_STREAM, &complete);
  CHECK(j && complete);
  CHECK(json_eq(j, WANT_N2));
  cJSON_Delete(j);
}

static void concatenates_logprobs(void) {
  bool complete;
  cJSON *j = assemble_str(LOGPROBS_STREAM, &complete);
  CHECK(j && complete);
  CHECK(json_eq(j, WANT_LOGPROBS));
  cJSON_Delete(j);
}

static void assembles_text_completion(void) {
  bool complete;
  cJSON *j = assemble_str(TEXT_STREAM, &complete);
  CHECK(j && complete);
  CHECK(json_eq(j, WANT_TEXT));
  cJSON_Delete(j);
}

static void incomplete_and_broken_streams(void) {
  bool complete;
  /* no [DONE] */
  size_t n = strlen(CHAT_STREAM) - strlen("data: [DONE]\n\n");
  int rc;
  cJSON *j = assemble(CHAT_STREAM, n, n, &complete, &rc);
  CHECK(j && !complete);
  cJSON_Delete(j);
  /* [DONE] but no finish_reason */
  j = assemble_str("data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n"
                   "data: [DONE]\n\n", &complete);
  CHECK(j && !complete);
  cJSON_Delete(j);
  /* [DONE] without its blank line still counts (finish) */
  j = assemble_str("data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n"
                   "data: [DONE]", &complete);
  CHECK(j && complete);
  cJSON_Delete(j);
  /* an error event mid-stream */
  const char *err = "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n"
                    "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"
                    "data: [DONE]\n\n";
  CHECK(assemble(err, strlen(err), strlen(err), &complete, &rc) == NULL && rc == -EBADMSG && !complete);
  const char *ev = "event: error\ndata: {}\n\n";
  CHECK(assemble(ev, strlen(ev), 3, &complete, &rc) == NULL && rc == -EBADMSG);
  /* not JSON, wrong shapes, nothing at all */
  const char *bad[] = {"data: {nope\n\n", "data: [1]\n\n", "data: {\"choices\":{}}\n\n",
                       "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":-1,\"delta\":{}}]}\n\n",
                       "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":999,\"delta\":{}}]}\n\n",
                       "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"tool_calls\":[5]}}]}\n\n",
                       "data: [DONE]\n\n", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(assemble(bad[i], strlen(bad[i]), 7, &complete, &rc) == NULL && rc < 0);
  }
  /* a chat chunk then a text chunk */
  const char *mix = "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
                    "data: " THEAD "\"choices\":[{\"text\":\"y\",\"index\":0}]}\n\n";
  CHECK(assemble(mix, strlen(mix), 100, &complete, &rc) == NULL && rc == -EBADMSG);
}

/* ---- replay ---- */

struct collect {
  cJSON *events[512];
  int n, done, bad;
};

static int collect_cb(void *ud, const struct sl_sse_event *ev) {
  struct collect *c = ud;
  if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
    c->done++;
    return 0;
  }
  if (c->done) c->bad++; /* nothing after [DONE] */
  cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
  if (!j || c->n >= 512) {
    c->bad++;
    cJSON_Delete(j);
    return 0;
  }
  c->events[c->n++] = j;
  return 0;
}

static void collect_free(struct collect *c) {
  for (int i = 0; i < c->n; i++) cJSON_Delete(c->events[i]);
}

static bool replay_parse(const char *json, bool usage, size_t piece, struct collect *c, struct sl_buf *out) {
  memset(c, 0, sizeof *c);
  struct sl_oai_replay_opts o = {.include_usage = usage, .piece = piece};
  if (sl_oai_replay(json, strlen(json), &o, out)) return false;
  struct sl_sse p;
  sl_sse_init(&p, 0);
  int rc = sl_sse_feed(&p, out->p, out->n, collect_cb, c);
  sl_sse_free(&p);
  return rc == 0 && c->done == 1 && c->bad == 0;
}

/* assemble -> replay -> assemble is the identity, for both usage settings. */
static void round_trip(const char *stream) {
  bool complete;
  cJSON *first = assemble_str(stream, &complete);
  CHECK(first && complete);
  if (!first) return;
  char *stored = cJSON_PrintUnformatted(first);
  for (int usage = 1; usage >= 0; usage--) {
    struct sl_buf sse = {0};
    struct collect c;
    CHECK(replay_parse(stored, usage, 0, &c, &sse));
    collect_free(&c);
    bool c2;
    int rc;
    cJSON *again = assemble(sse.p, sse.n, 13, &c2, &rc);
    CHECK(again && c2);
    if (!usage) cJSON_DeleteItemFromObjectCaseSensitive(first, "usage");
    CHECK(again && cJSON_Compare(again, first, true));
    if (again && !cJSON_Compare(again, first, true)) {
      char *a = cJSON_PrintUnformatted(again);
      printf("  round trip: %s\n  stored:     %s\n", a, stored);
      free(a);
    }
    cJSON_Delete(again);
    sl_buf_free(&sse);
  }
  cJSON_Delete(first);
  free(stored);
}

static void round_trips(void) {
  round_trip(CHAT_STREAM);
  round_trip(TOOL_STREAM);
  round_trip(N2_STREAM);
  round_trip(LOGPROBS_STREAM);
  round_trip(TEXT_STREAM);
}

static const char STORED[] =
    "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"The quick brown fox jumps over "
    "the lazy dog. \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 Supercalifragilisticexpialidocious-and-more!\","
    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":20,\"total_tokens\":25},\"service_tier\":\"default\"}";

/* A whole (non-streamed) completion replays as a valid stream shaped like OpenAI's. */
static void replays_a_stored_completion(void) {
  struct sl_buf sse = {0};
  struct collect c;
  CHECK(replay_parse(STORED, true, 0, &c, &sse));
  CHECK(c.n >= 5);
  /* first: the role; every chunk: chat.completion.chunk with id/model/created and usage null */
  const cJSON *d0 = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c.events[0], "choices"), 0), "delta");
  CHECK(cJSON_IsString(cJSON_GetObjectItem(d0, "role")));
  size_t content_bytes = 0;
  for (int i = 0; i < c.n; i++) {
    const cJSON *e = c.events[i];
    CHECK(!strcmp(cJSON_GetObjectItem(e, "object")->valuestring, "chat.completion.chunk"));
    CHECK(!strcmp(cJSON_GetObjectItem(e, "id")->valuestring, "chatcmpl-9"));
    CHECK(!strcmp(cJSON_GetObjectItem(e, "model")->valuestring, "gpt-4o-mini"));
    CHECK(cJSON_GetObjectItem(e, "created")->valuedouble == 1700000000);
    const cJSON *u = cJSON_GetObjectItem(e, "usage");
    const cJSON *ch = cJSON_GetObjectItem(e, "choices");
    if (i == c.n - 1) {
      CHECK(cJSON_IsObject(u) && cJSON_GetArraySize(ch) == 0);
    } else {
      CHECK(cJSON_IsNull(u) && cJSON_GetArraySize(ch) == 1);
      const cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "delta"), "content");
      if (cJSON_IsString(content)) {
        size_t k = strlen(content->valuestring);
        CHECK(k <= 32);
        content_bytes += k;
      }
    }
  }
  /* finish chunk right before the usage chunk */
  const cJSON *fin = cJSON_GetArrayItem(cJSON_GetObjectItem(c.events[c.n - 2], "choices"), 0);
  CHECK(!strcmp(cJSON_GetObjectItem(fin, "finish_reason")->valuestring, "stop"));
  cJSON *stored = cJSON_Parse(STORED);
  CHECK(content_bytes == strlen(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                             cJSON_GetObjectItem(stored, "choices"), 0), "message"), "content")->valuestring));
  collect_free(&c);
  /* and assembling it gives back the stored completion */
  bool complete;
  int rc;
  cJSON *again = assemble(sse.p, sse.n, sse.n, &complete, &rc);
  CHECK(again && complete && cJSON_Compare(again, stored, true));
  cJSON_Delete(again);
  sl_buf_free(&sse);

  /* without include_usage: no usage anywhere */
  CHECK(replay_parse(STORED, false, 0, &c, &sse));
  for (int i = 0; i < c.n; i++) CHECK(cJSON_GetObjectItem(c.events[i], "usage") == NULL);
  collect_free(&c);
  sl_buf_free(&sse);
  cJSON_Delete(stored);
}

static void replay_pieces_respect_utf8(void) {
  /* 40 two-byte characters, no spaces: pieces must end on character boundaries */
  struct sl_buf body = {0};
  sl_buf_puts(&body, "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
  for (int i = 0; i < 40; i++) sl_buf_puts(&body, "\xc3\xa9");
  sl_buf_puts(&body, "\"},\"finish_reason\":\"stop\"}]}");
  struct sl_buf sse = {0};
  struct collect c;
  CHECK(replay_parse(body.p, false, 5, &c, &sse));
  int pieces = 0;
  for (int i = 0; i < c.n; i++) {
    const cJSON *content = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c.events[i], "choices"), 0), "delta"), "content");
    if (cJSON_IsString(content) && content->valuestring[0]) {
      pieces++;
      CHECK(strlen(content->valuestring) == 4); /* 5 bytes max, 2-byte characters */
    }
  }
  CHECK(pieces == 20);
  collect_free(&c);
  sl_buf_free(&sse);
  sl_buf_free(&body);
}

static void replay_refuses_non_completions(void) {
  struct sl_buf out = {0};
  const char *bad[] = {"", "[]", "{}", "{\"choices\":5}", "{\"choices\":[{\"x\":1}]}",
                       "{\"object\":\"chat.completion\",\"choices\":[7]}", "{\"data\":[{\"embedding\":[0.1]}]}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(sl_oai_replay(bad[i], strlen(bad[i]), NULL, &out) == -EINVAL);
  CHECK(out.n == 0);
  sl_buf_free(&out);
}


/* Found by fuzz_oai_stream: a delta.role that is not a string was assembled into the
 * message but replayed as "assistant", so a cached stream differed from the provider's.
 * Such a stream is not an OpenAI chunk stream: it is not assembled (never cached), and a
 * stored completion with such a role replays it as it is. */
static void role_not_a_string(void) {
  static const char s[] =
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":{\"x\":1},"
      "\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"
      "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  bool complete = true;
  int rc = 0;
  cJSON *j = assemble(s, strlen(s), 7, &complete, &rc);
  CHECK(j == NULL && rc == -EBADMSG);
  cJSON_Delete(j);
  /* a string role, then null ones, stays a clean round trip */
  round_trip("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
             "\"content\":\"a\"}}]}\n\ndata: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
             "{\"role\":null,\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
  /* a stored completion whose role is an object replays that role */
  static const char stored[] = "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":[1],"
                               "\"content\":\"x\"},\"finish_reason\":\"stop\"}]}";
  struct sl_buf out = {0};
  CHECK(sl_oai_replay(stored, strlen(stored), NULL, &out) == 0);
  CHECK(out.p && strstr(out.p, "\"role\":[1]") != NULL);
  sl_buf_free(&out);
}

CHECK_MAIN(T(assembles_content_and_usage), T(merges_tool_calls), T(merges_choices_and_unknown_fields),
           T(concatenates_logprobs), T(assembles_text_completion), T(incomplete_and_broken_streams), T(round_trips),
           T(replays_a_stored_completion), T(replay_pieces_respect_utf8), T(replay_refuses_non_completions),
           T(role_not_a_string))
