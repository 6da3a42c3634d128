/* net/wire/usage: usage from whole bodies in every provider shape; the streaming filter
 * (strip mode gives exactly the stream the client would have got, at every split of the
 * input; observe mode is the identity; Azure's filter chunk, comments, CRLF and CR,
 * multi-line data, unterminated last events, oversized events; Anthropic merging; text
 * counting for estimates); and the stream_options splice. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "net/wire/oai_stream.h"
#include "net/wire/usage.h"

/* ---- whole bodies ---- */

static int from(const char *s, struct sl_usage *u) { return sl_usage_from_json(s, strlen(s), u); }

static void openai_body(void) {
  struct sl_usage u;
  CHECK(from("{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,"
             "\"completion_tokens\":300,\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920,"
             "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":128}}}",
             &u) == 0);
  CHECK(u.prompt_tokens == 2006 && u.completion_tokens == 300 && u.total_tokens == 2306 &&
        u.cached_tokens == 1920 && u.reasoning_tokens == 128 && u.cache_write_tokens == 0 && !u.estimated);
  /* embeddings: no completion tokens, total given */
  CHECK(from("{\"object\":\"list\",\"data\":[],\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}", &u) == 0);
  CHECK(u.prompt_tokens == 8 && u.completion_tokens == 0 && u.total_tokens == 8);
  /* total absent: computed; details null: ignored */
  CHECK(from("{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"prompt_tokens_details\":null}}", &u) == 0);
  CHECK(u.total_tokens == 12 && u.cached_tokens == 0);
}

static void anthropic_body(void) {
  struct sl_usage u;
  CHECK(from("{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":50,"
             "\"cache_creation_input_tokens\":1000,\"cache_read_input_tokens\":2000,\"output_tokens\":70,"
             "\"service_tier\":\"standard\"}}",
             &u) == 0);
  CHECK(u.prompt_tokens == 3050 && u.completion_tokens == 70 && u.cached_tokens == 2000 &&
        u.cache_write_tokens == 1000 && u.total_tokens == 3120);
  /* OpenAI Responses: input_tokens include the cache */
  CHECK(from("{\"object\":\"response\",\"usage\":{\"input_tokens\":328,\"input_tokens_details\":{\"cached_tokens\":"
             "256},\"output_tokens\":52,\"output_tokens_details\":{\"reasoning_tokens\":12},\"total_tokens\":380}}",
             &u) == 0);
  CHECK(u.prompt_tokens == 328 && u.cached_tokens == 256 && u.completion_tokens == 52 && u.reasoning_tokens == 12 &&
        u.total_tokens == 380);
  /* Gemini native */
  CHECK(from("{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":11500,\"candidatesTokenCount\":1000,"
             "\"totalTokenCount\":22500,\"cachedContentTokenCount\":10000,\"thoughtsTokenCount\":10000}}",
             &u) == 0);
  CHECK(u.prompt_tokens == 11500 && u.completion_tokens == 11000 && u.cached_tokens == 10000 &&
        u.reasoning_tokens == 10000 && u.total_tokens == 22500);
}

static void body_errors(void) {
  struct sl_usage u;
  u.prompt_tokens = 99;
  CHECK(from("{\"id\":\"x\",\"choices\":[]}", &u) == -ENOENT && u.prompt_tokens == 0);
  CHECK(from("{\"usage\":null}", &u) == -ENOENT);
  CHECK(from("{\"usage\":{}}", &u) == -ENOENT);
  CHECK(from("{\"usage\":{\"prompt_tokens\":\"12\",\"completion_tokens\":-3}}", &u) == -ENOENT);
  CHECK(from("{\"usage\":[1,2]}", &u) == -ENOENT);
  CHECK(from("[{\"usage\":{\"prompt_tokens\":1}}]", &u) == -EINVAL);
  CHECK(from("{\"usage\":{\"prompt_tokens\":1}", &u) == -EINVAL);
  CHECK(from("", &u) == -EINVAL);
  const char *pre = "{\"usage\":{\"prompt_tokens\":1}}";
  CHECK(sl_usage_from_json("{\"usage\":{\"prompt_tokens\":1}}xxxx", strlen(pre), &u) == 0 && u.prompt_tokens == 1);
  CHECK(sl_usage_from_json(pre, strlen(pre) - 1, &u) == -EINVAL); /* the length is honoured */
  /* a count with a fraction is truncated; a huge one is clamped to 9e15 (flagged as
   * implausible by the cost step, never read as "no usage") */
  CHECK(from("{\"usage\":{\"prompt_tokens\":3.9,\"completion_tokens\":1e300}}", &u) == 0);
  CHECK(u.prompt_tokens == 3 && u.completion_tokens == 9000000000000000LL);
}

/* ---- the streaming filter ---- */

/* Runs the filter over in: split == 0 whole, SIZE_MAX byte by byte, else two pieces at
 * split. Returns the output (NUL-terminated, malloc'd). */
static char *run(const char *in, size_t n, unsigned flags, size_t max_event, size_t split,
                 struct sl_usage_filter *keep) {
  struct sl_usage_filter f;
  sl_usage_filter_init(&f, flags, max_event);
  struct sl_buf out = {0};
  int rc = 0;
  if (split == SIZE_MAX) {
    for (size_t i = 0; i < n && !rc; i++) rc = sl_usage_filter_feed(&f, in + i, 1, &out);
  } else if (split && split < n) {
    rc = sl_usage_filter_feed(&f, in, split, &out);
    if (!rc) rc = sl_usage_filter_feed(&f, in + split, n - split, &out);
  } else {
    rc = sl_usage_filter_feed(&f, in, n, &out);
  }
  if (!rc) rc = sl_usage_filter_finish(&f, &out);
  CHECK(rc == 0);
  sl_buf_append(&out, "", 1);
  if (keep) {
    *keep = f;
    keep->fr = (struct sl_sse_framer){0}; /* its buffers are freed below */
  }
  sl_usage_filter_free(&f);
  return sl_buf_take(&out, NULL);
}

/* The filter gives `want` at every split of `in`, and byte by byte. */
static void check_all_splits(const char *in, const char *want, unsigned flags) {
  size_t n = strlen(in);
  for (size_t s = 0; s <= n; s++) {
    char *got = run(in, n, flags, 0, s, NULL);
    CHECK_STR(got, want);
    if (strcmp(got, want)) {
      printf("  split %zu:\n--- got\n%s--- want\n%s---\n", s, got, want);
      free(got);
      return;
    }
    free(got);
  }
  char *got = run(in, n, flags, 0, SIZE_MAX, NULL);
  CHECK_STR(got, want);
  free(got);
}

#define HEAD "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o\"," \
             "\"system_fingerprint\":\"fp_1\",\"choices\":["
#define C_ROLE "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}"
#define C_HELLO "{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}"
#define C_WORLD "{\"index\":0,\"delta\":{\"content\":\" w\\u00f6rld\"},\"logprobs\":null,\"finish_reason\":null}"
#define C_STOP "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}"
#define USAGE "{\"prompt_tokens\":19,\"completion_tokens\":3,\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}"

/* What OpenAI sends with include_usage, and without it. */
static const char with_usage[] =
  "data: " HEAD C_ROLE "],\"usage\":null}\n\n"
  "data: " HEAD C_HELLO "],\"usage\":null}\n\n"
  "data: " HEAD C_WORLD "],\"usage\":null}\n\n"
  "data: " HEAD C_STOP "],\"usage\":null}\n\n"
  "data: " HEAD "],\"usage\":" USAGE "}\n\n"
  "data: [DONE]\n\n";
static const char without_usage[] =
  "data: " HEAD C_ROLE "]}\n\n"
  "data: " HEAD C_HELLO "]}\n\n"
  "data: " HEAD C_WORLD "]}\n\n"
  "data: " HEAD C_STOP "]}\n\n"
  "data: [DONE]\n\n";

static void strip_gives_the_stream_without_usage(void) {
  check_all_splits(with_usage, without_usage, SL_USAGE_STRIP);
  struct sl_usage_filter f;
  char *out = run(with_usage, strlen(with_usage), SL_USAGE_STRIP, 0, 0, &f);
  free(out);
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0);
  CHECK(u.prompt_tokens == 19 && u.completion_tokens == 3 && u.total_tokens == 22 && !u.estimated);
  CHECK(f.events == 6 && f.dropped == 1 && f.saw_done);
  /* "Hello" + " w\u00f6rld" = 5 + 7 bytes of UTF-8, in 2 deltas ("" counts nothing) */
  CHECK(f.out_chars == 12 && f.out_deltas == 2);
  /* the stream without usage is left alone by the strip filter too */
  check_all_splits(without_usage, without_usage, SL_USAGE_STRIP);
  /* only the chunk: the usage:null members stay */
  char *c = run(with_usage, strlen(with_usage), SL_USAGE_STRIP_CHUNK, 0, 0, NULL);
  CHECK(strstr(c, "\"usage\":null") && !strstr(c, "\"prompt_tokens\""));
  free(c);
  /* only the field: the usage chunk stays, minus its usage */
  c = run(with_usage, strlen(with_usage), SL_USAGE_STRIP_FIELD, 0, 0, NULL);
  CHECK(!strstr(c, "\"usage\"") && strstr(c, "data: " HEAD "]}\n\ndata: [DONE]"));
  free(c);
}

static void observe_is_identity(void) {
  check_all_splits(with_usage, with_usage, 0);
  check_all_splits(without_usage, without_usage, 0);
  /* out may be NULL when observing */
  struct sl_usage_filter f;
  sl_usage_filter_init(&f, 0, 0);
  CHECK(sl_usage_filter_feed(&f, with_usage, 100, NULL) == 0);
  CHECK(sl_usage_filter_feed(&f, with_usage + 100, strlen(with_usage) - 100, NULL) == 0);
  CHECK(sl_usage_filter_finish(&f, NULL) == 0);
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.total_tokens == 22 && f.dropped == 0);
  sl_usage_filter_free(&f);
  /* no usage in the stream */
  sl_usage_filter_init(&f, 0, 0);
  CHECK(sl_usage_filter_feed(&f, without_usage, strlen(without_usage), NULL) == 0);
  CHECK(sl_usage_filter_finish(&f, NULL) == 0);
  CHECK(sl_usage_filter_usage(&f, &u) == -ENOENT && u.prompt_tokens == 0);
  CHECK(f.out_chars == 12 && f.out_deltas == 2);
  CHECK(sl_usage_estimate_from_chars(f.out_chars, f.out_deltas) == 3);
  sl_usage_filter_free(&f);
}

/* The response cache's replayer writes OpenAI's exact shapes: stripping its
 * include_usage stream gives its plain stream, for every stored completion. */
static void strip_matches_replayer(void) {
  static const char *stored[] = {
    "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":"
    "0,\"message\":{\"role\":\"assistant\",\"content\":\"The quick brown fox jumps over the lazy dog, twice: the "
    "quick brown fox jumps over the lazy dog.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":24,\"total_tokens\":33}}",
    "{\"id\":\"c2\",\"object\":\"chat.completion\",\"created\":2,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"},{\"index\":1,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":"
    "40,\"completion_tokens\":17,\"total_tokens\":57,\"prompt_tokens_details\":{\"cached_tokens\":32}}}",
  };
  for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
    struct sl_buf a = {0}, b = {0};
    struct sl_oai_replay_opts with = {.include_usage = true, .piece = 8}, without = {.include_usage = false, .piece = 8};
    CHECK(sl_oai_replay(stored[i], strlen(stored[i]), &with, &a) == 0);
    CHECK(sl_oai_replay(stored[i], strlen(stored[i]), &without, &b) == 0);
    sl_buf_append(&a, "", 1);
    sl_buf_append(&b, "", 1);
    CHECK(strstr(a.p, "\"usage\":null") != NULL);
    check_all_splits(a.p, b.p, SL_USAGE_STRIP);
    struct sl_usage_filter f;
    free(run(a.p, a.n - 1, SL_USAGE_STRIP, 0, 0, &f));
    struct sl_usage u;
    cJSON *j = cJSON_Parse(stored[i]);
    int64_t pt = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "prompt_tokens")->valuedouble;
    cJSON_Delete(j);
    CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.prompt_tokens == pt);
    if (i == 1) CHECK(u.cached_tokens == 32 && u.completion_tokens == 17);
    if (i == 0) CHECK(f.out_chars == strlen("The quick brown fox jumps over the lazy dog, twice: the quick brown fox "
                                             "jumps over the lazy dog."));
    sl_buf_free(&a);
    sl_buf_free(&b);
  }
}

static void azure_comments_done(void) {
  /* Azure's first chunk has choices [] and no usage: it is content, kept */
  const char *in =
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{"
    "\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n"
    "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
    ":keep-alive\n\n"
    "data: {\"id\":\"a\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n"
    "data: [DONE]\n\n";
  const char *want =
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{"
    "\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n"
    "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
    ":keep-alive\n\n"
    "data: [DONE]\n\n";
  check_all_splits(in, want, SL_USAGE_STRIP);
  /* usage first in the object: the member and the comma after it go */
  check_all_splits("data: {\"usage\":null, \"id\":\"b\",\"choices\":[{\"delta\":{}}]}\n\n",
                   "data: { \"id\":\"b\",\"choices\":[{\"delta\":{}}]}\n\n", SL_USAGE_STRIP);
  /* a usage chunk without a choices key is usage-only too; an error event passes */
  check_all_splits("data: {\"id\":\"x\",\"usage\":{\"prompt_tokens\":1}}\n\n"
                   "data: {\"error\":{\"message\":\"boom\"}}\n\n",
                   "data: {\"error\":{\"message\":\"boom\"}}\n\n", SL_USAGE_STRIP);
  /* events without data, with other fields, and malformed JSON pass unchanged */
  const char *odd = "event: ping\n\nid: 7\nretry: 100\n\ndata: {not json, \"usage\":{}}\n\ndata: \n\n";
  check_all_splits(odd, odd, SL_USAGE_STRIP);
}

static void line_endings(void) {
  /* CRLF: same stream, same decisions */
  const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\n\r\n"
                   "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\r\n\r\n"
                   "data: [DONE]\r\n\r\n";
  const char *want = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
                     "data: [DONE]\r\n\r\n";
  check_all_splits(in, want, SL_USAGE_STRIP);
  /* CR only */
  in = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\r"
       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\r\r"
       "data: [DONE]\r\r";
  want = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\r"
         "data: [DONE]\r\r";
  check_all_splits(in, want, SL_USAGE_STRIP);
  /* mixed, with a \r\n split over an event end and extra blank lines */
  in = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\n\r\n\n\r"
       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\r\n"
       "data: [DONE]\n\n";
  want = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n\n\r"
         "data: [DONE]\n\n";
  check_all_splits(in, want, SL_USAGE_STRIP);
  /* a leading BOM stays with the first event */
  in = "\xEF\xBB\xBF" "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n";
  want = "\xEF\xBB\xBF" "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
  check_all_splits(in, want, SL_USAGE_STRIP);
  /* a BOM-led usage chunk is still recognised (and dropped with its BOM) */
  in = "\xEF\xBB\xBF" "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n";
  check_all_splits(in, "data: [DONE]\n\n", SL_USAGE_STRIP);
}

static void usage_on_content_chunk(void) {
  /* some servers put usage on the last content chunk: captured; stripped of its usage */
  const char *in = "data: {\"id\":\"v\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":"
                   "\"stop\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5}}\n\n"
                   "data: [DONE]\n\n";
  check_all_splits(in, "data: {\"id\":\"v\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":"
                       "\"stop\"}]}\n\ndata: [DONE]\n\n",
                   SL_USAGE_STRIP);
  check_all_splits(in, in, 0);
  struct sl_usage_filter f;
  free(run(in, strlen(in), SL_USAGE_STRIP, 0, 0, &f));
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.prompt_tokens == 4 && u.total_tokens == 5);
  CHECK(f.out_chars == 2 && f.out_deltas == 1 && f.dropped == 0);
  /* vLLM continuous usage: every chunk carries it; the last one wins */
  const char *v = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n"
                  "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n";
  free(run(v, strlen(v), 0, 0, 0, &f));
  CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.completion_tokens == 2 && u.total_tokens == 6);
}

static void multiline_and_unterminated(void) {
  /* a usage-only chunk over two data lines is dropped whole */
  const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\n"
                   "data: \"usage\":null}\n\n"
                   "data: {\"choices\":[],\n"
                   "data:  \"usage\":{\"prompt_tokens\":6,\"completion_tokens\":2}}\n\n"
                   "data: [DONE]\n\n";
  /* the first (two data lines, usage null) cannot be cut byte-exactly: kept as is */
  const char *want = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\n"
                     "data: \"usage\":null}\n\n"
                     "data: [DONE]\n\n";
  check_all_splits(in, want, SL_USAGE_STRIP);
  struct sl_usage_filter f;
  free(run(in, strlen(in), SL_USAGE_STRIP, 0, 0, &f));
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.prompt_tokens == 6 && u.completion_tokens == 2);
  CHECK(f.out_chars == 1);
  /* the stream ends without the last blank line: judged all the same */
  check_all_splits("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n"
                   "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}",
                   "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", SL_USAGE_STRIP);
  check_all_splits("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n",
                   "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n", SL_USAGE_STRIP);
  check_all_splits("data: [DONE]", "data: [DONE]", SL_USAGE_STRIP);
  check_all_splits("", "", SL_USAGE_STRIP);
}

static void oversized_event(void) {
  /* max_event 64: a long content chunk is forwarded as it came (usage:null and all), the
   * usage chunk after it still goes */
  struct sl_buf in = {0};
  sl_buf_puts(&in, "data: {\"choices\":[{\"delta\":{\"content\":\"");
  for (int i = 0; i < 50; i++) sl_buf_puts(&in, "long text ");
  sl_buf_puts(&in, "\"}}],\"usage\":null}\n\n");
  size_t first = in.n;
  sl_buf_puts(&in, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7}}\n\ndata: [DONE]\n\n");
  sl_buf_append(&in, "", 1);
  for (size_t split = 0; split <= in.n - 1; split += 13) {
    struct sl_usage_filter f;
    char *out = run(in.p, in.n - 1, SL_USAGE_STRIP, 64, split, &f);
    CHECK(strlen(out) == first + strlen("data: [DONE]\n\n"));
    CHECK(memcmp(out, in.p, first) == 0);
    CHECK_STR(out + first, "data: [DONE]\n\n");
    struct sl_usage u;
    CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.prompt_tokens == 7);
    CHECK(f.out_chars == 0); /* the oversized event was not read */
    free(out);
  }
  sl_buf_free(&in);
}

static void anthropic_stream(void) {
  const char *in =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[],\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello!\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
    "\"{\\\"a\\\":1}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":"
    "{\"output_tokens\":15}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  check_all_splits(in, in, 0);
  struct sl_usage_filter f;
  free(run(in, strlen(in), 0, 0, 0, &f));
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0);
  CHECK(u.prompt_tokens == 135 && u.cached_tokens == 100 && u.cache_write_tokens == 10 && u.completion_tokens == 15 &&
        u.total_tokens == 150);
  CHECK(f.out_chars == 6 + 7 && f.out_deltas == 2 && f.events == 8);
}

static void text_counting(void) {
  struct sl_usage_filter f;
  /* tool call arguments, reasoning, refusal, legacy completions' text; names not counted */
  const char *in =
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"q\\\":1}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"refusal\":\"no\"}}]}\n\n"
    "data: {\"choices\":[{\"text\":\"abc\",\"index\":0}],\"object\":\"text_completion\"}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud83d\\ude00 \\n\\\"\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":null}}],\"content\":{\"text\":1}}\n\n";
  free(run(in, strlen(in), 0, 0, 0, &f));
  /* 7 ({"q":1}) + 3 + 2 + 3 + (4 + 1 + 1 + 1) */
  CHECK(f.out_chars == 7 + 3 + 2 + 3 + 7);
  CHECK(f.out_deltas == 5);
  CHECK(sl_usage_estimate_from_chars(0, 0) == 0);
  CHECK(sl_usage_estimate_from_chars(1, 0) == 1);
  CHECK(sl_usage_estimate_from_chars(8, 1) == 2);
  CHECK(sl_usage_estimate_from_chars(9, 1) == 3);
  CHECK(sl_usage_estimate_from_chars(10, 7) == 7); /* one token per delta at least */
}

/* A native Responses stream: usage from response.completed (input_tokens include the
 * cache), text counted once, from the delta events only (the done events, parts, items
 * and the final response repeat it). */
static void responses_stream(void) {
  const char *in =
      "event: response.created\n"
      "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":"
      "\"in_progress\",\"instructions\":\"be brief\",\"output\":[],\"usage\":null}}\n\n"
      "event: response.output_text.delta\n"
      "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"m\",\"output_index\":0,"
      "\"content_index\":0,\"delta\":\"Hello\",\"logprobs\":[]}\n\n"
      "event: response.reasoning_summary_text.delta\n"
      "data: {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":2,\"item_id\":\"r\","
      "\"output_index\":1,\"summary_index\":0,\"delta\":\"hm\"}\n\n"
      "event: response.function_call_arguments.delta\n"
      "data: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":3,\"item_id\":\"f\","
      "\"output_index\":2,\"delta\":\"{\\\"a\\\":1}\"}\n\n"
      "event: response.output_text.done\n"
      "data: {\"type\":\"response.output_text.done\",\"sequence_number\":4,\"item_id\":\"m\",\"output_index\":0,"
      "\"content_index\":0,\"text\":\"Hello\"}\n\n"
      "event: response.output_item.done\n"
      "data: {\"type\":\"response.output_item.done\",\"sequence_number\":5,\"output_index\":0,\"item\":{\"type\":"
      "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\"}]}}\n\n"
      "event: response.completed\n"
      "data: {\"type\":\"response.completed\",\"sequence_number\":6,\"response\":{\"id\":\"resp_1\",\"output\":[{"
      "\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\"}]}],\"usage\":{"
      "\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":60},\"output_tokens\":20,"
      "\"output_tokens_details\":{\"reasoning_tokens\":5},\"total_tokens\":120}}}\n\n";
  check_all_splits(in, in, 0);
  struct sl_usage_filter f;
  free(run(in, strlen(in), 0, 0, 0, &f));
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0);
  CHECK(u.prompt_tokens == 100 && u.cached_tokens == 60 && u.completion_tokens == 20 && u.reasoning_tokens == 5 &&
        u.total_tokens == 120 && u.cache_write_tokens == 0);
  CHECK(f.out_chars == 5 + 2 + 7 && f.out_deltas == 3 && f.events == 7);
  /* response.incomplete and response.failed carry it too; a created event's null does not */
  static const char *const finals[] = {"response.incomplete", "response.failed"};
  for (int i = 0; i < 2; i++) {
    char ev[512];
    snprintf(ev, sizeof ev,
             "data: {\"type\":\"%s\",\"sequence_number\":9,\"response\":{\"status\":\"x\",\"usage\":{"
             "\"input_tokens\":7,\"output_tokens\":3}}}\n\n",
             finals[i]);
    free(run(ev, strlen(ev), 0, 0, 0, &f));
    CHECK(sl_usage_filter_usage(&f, &u) == 0);
    CHECK(u.prompt_tokens == 7 && u.completion_tokens == 3);
  }
  const char *none = "data: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n"
                     "data: {\"type\":\"response.in_progress\",\"response\":{\"usage\":{\"input_tokens\":1}}}\n\n";
  free(run(none, strlen(none), 0, 0, 0, &f));
  CHECK(sl_usage_filter_usage(&f, &u) == -ENOENT);
  CHECK(f.out_chars == 0);
}

/* ---- stream_options ---- */

static int ask(const char *body, struct sl_usage_splice *sp) {
  return sl_usage_inject_stream_options(body, strlen(body), sp);
}

static void inject(void) {
  struct sl_usage_splice sp;
  const char *b = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  CHECK(ask(b, &sp) == SL_USAGE_ASK_SPLICE);
  CHECK(sp.at == 1 && sp.text && sp.len == strlen(sp.text));
  /* the spliced body is the same request with stream_options.include_usage */
  struct sl_buf out = {0};
  sl_buf_append(&out, b, sp.at);
  sl_buf_append(&out, sp.text, sp.len);
  sl_buf_puts(&out, b + sp.at);
  sl_buf_append(&out, "", 1);
  CHECK_STR(out.p, "{\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o\",\"stream\":true,\"messages\":"
                   "[{\"role\":\"user\",\"content\":\"hi\"}]}");
  cJSON *j = cJSON_Parse(out.p);
  CHECK(j && cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
  cJSON_Delete(j);
  sl_buf_free(&out);
  /* whitespace before the brace */
  CHECK(ask("  \n{ \"stream\" : true }", &sp) == SL_USAGE_ASK_SPLICE && sp.at == 4);
  /* the client asked */
  CHECK(ask("{\"stream\":true,\"stream_options\":{\"include_usage\":true}}", &sp) == SL_USAGE_ASK_CLIENT &&
        sp.text == NULL && sp.len == 0);
  CHECK(ask("{\"stream_options\": { \"x\": [1], \"include_usage\" : true },\"stream\":true}", &sp) ==
        SL_USAGE_ASK_CLIENT);
  /* stream_options without include_usage true: re-serialise */
  CHECK(ask("{\"stream\":true,\"stream_options\":{\"include_usage\":false}}", &sp) == SL_USAGE_ASK_RESERIALISE);
  CHECK(ask("{\"stream\":true,\"stream_options\":{}}", &sp) == SL_USAGE_ASK_RESERIALISE);
  CHECK(ask("{\"stream\":true,\"stream_options\":null}", &sp) == SL_USAGE_ASK_RESERIALISE);
  CHECK(ask("{\"stream\":true,\"stream_options\":{\"include_usage\":\"true\"}}", &sp) == SL_USAGE_ASK_RESERIALISE);
  CHECK(sp.text == NULL);
  /* not streaming */
  CHECK(ask("{\"model\":\"m\"}", &sp) == SL_USAGE_ASK_NOT_STREAM && sp.text == NULL);
  CHECK(ask("{\"stream\":false,\"stream_options\":{\"include_usage\":true}}", &sp) == SL_USAGE_ASK_NOT_STREAM);
  CHECK(ask("{\"stream\":\"true\"}", &sp) == SL_USAGE_ASK_NOT_STREAM);
  CHECK(ask("{}", &sp) == SL_USAGE_ASK_NOT_STREAM);
  /* not an object */
  CHECK(ask("", &sp) == -EINVAL);
  CHECK(ask("[1]", &sp) == -EINVAL);
  CHECK(ask("{\"model\":", &sp) == -EINVAL);
  CHECK(ask("{\"stream\":true,\"x\":[}", &sp) == -EINVAL);
}

/* Gemini's OpenAI-compatible stream (gemini/ deployments): usage comes only when
 * stream_options.include_usage is asked (sluice asks for every OpenAI-wire deployment,
 * request.c), on the last content chunk after "object"; captured, and cut when sluice asked. */
static void gemini_stream(void) {
  const char *in =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\",\"role\":\"assistant\"},\"index\":0}],\"created\":1,"
      "\"id\":\"g1\",\"model\":\"gemini-2.5-flash\",\"object\":\"chat.completion.chunk\"}\r\n\r\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\",\"role\":\"assistant\"},\"finish_reason\":\"stop\",\"index\":0}],"
      "\"created\":1,\"id\":\"g1\",\"model\":\"gemini-2.5-flash\",\"object\":\"chat.completion.chunk\","
      "\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":7,\"total_tokens\":9}}\r\n\r\n"
      "data: [DONE]\r\n\r\n";
  struct sl_usage_filter f;
  char *out = run(in, strlen(in), SL_USAGE_STRIP, 0, 0, &f);
  struct sl_usage u;
  CHECK(sl_usage_filter_usage(&f, &u) == 0 && u.prompt_tokens == 7 && u.completion_tokens == 2);
  CHECK(!strstr(out, "usage") && strstr(out, "\"lo\"") && strstr(out, "[DONE]") && f.dropped == 0);
  CHECK(f.out_chars == 5 && f.out_deltas == 2);
  free(out);
  /* the ask for such a request: stream_options spliced into the client's body */
  const char *req = "{\"model\":\"gemini/gemini-2.5-flash\",\"stream\":true,\"messages\":[]}";
  struct sl_usage_splice sp;
  CHECK(sl_usage_inject_stream_options(req, strlen(req), &sp) == SL_USAGE_ASK_SPLICE && sp.text &&
        strstr(sp.text, "include_usage"));
}

CHECK_MAIN(T(openai_body), T(anthropic_body), T(body_errors), T(strip_gives_the_stream_without_usage),
           T(observe_is_identity), T(strip_matches_replayer), T(azure_comments_done), T(line_endings),
           T(usage_on_content_chunk), T(multiline_and_unterminated), T(oversized_event), T(anthropic_stream),
           T(text_counting), T(responses_stream), T(inject), T(gemini_stream))
