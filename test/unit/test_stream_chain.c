/* core/stream_chain: the filters wired together. Every split of the upstream bytes (and
 * byte by byte) gives the client the same bytes; one write per upstream read; a
 * passthrough read is written from the input itself (no copy); stripping gives the
 * stream without the usage chunk while the cache tee still sees it; a translated stream
 * is what the translator gives on its own. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/stream_chain.h"
#include "net/wire/oai_stream.h"

struct sink {
  struct sl_buf out;
  int writes;
  const char *in; /* the current input, to see that passthrough slices point into it */
  size_t in_n;
  int in_place; /* writes whose only slice was the input itself */
  struct sl_oai_asm *tee;
  int tee_frames;
};

static void s_write(void *ud, const struct sl_iov *v, size_t n) {
  struct sink *s = ud;
  s->writes++;
  if (n == 1 && v[0].p == s->in && v[0].n == s->in_n) s->in_place++;
  for (size_t i = 0; i < n; i++) sl_buf_append(&s->out, v[i].p, v[i].n);
}
static void s_tee_frame(void *ud, const struct sl_sse_frame *fr) {
  struct sink *s = ud;
  s->tee_frames++;
  if (s->tee) sl_oai_asm_feed_frame(s->tee, fr);
}
static void s_tee_bytes(void *ud, const char *p, size_t n) {
  struct sink *s = ud;
  if (s->tee) sl_oai_asm_feed_bytes(s->tee, p, n);
}

#define HEAD "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\",\"choices\":["
static const char with_usage[] =
    "data: " HEAD "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: " HEAD "{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: " HEAD "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: " HEAD "],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n"
    "data: [DONE]\n\n";
static const char without_usage[] =
    "data: " HEAD "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
    "data: " HEAD "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

/* Runs `in` through a chain in pieces of `piece` bytes (0: whole). */
static void run(const char *in, size_t piece, struct sl_xlate_stream *xs, unsigned flags, struct sink *s,
                struct sl_usage_filter *uf, int *xr) {
  size_t n = strlen(in);
  sl_usage_filter_init(uf, flags, 0);
  struct sl_stream_sink sk = {s_write, s_tee_frame, s_tee_bytes, s};
  struct sl_stream_chain ch;
  sl_stream_chain_init(&ch, xs, xs ? NULL : uf, &sk);
  if (!piece) piece = n;
  int rc = 0;
  for (size_t i = 0; i < n; i += piece) {
    size_t k = n - i < piece ? n - i : piece;
    s->in = in + i;
    s->in_n = k;
    int r = sl_stream_chain_feed(&ch, in + i, k);
    if (r && !rc) rc = r;
  }
  s->in = NULL;
  int r = sl_stream_chain_finish(&ch);
  if (r && !rc) rc = r;
  if (xr) *xr = rc;
  sl_stream_chain_free(&ch);
  sl_buf_append(&s->out, "", 1);
}

static void strip_every_split(void) {
  size_t n = strlen(with_usage);
  for (size_t piece = 0; piece <= n; piece += piece < 40 ? 1 : 7) {
    struct sink s = {0};
    struct sl_usage_filter uf;
    sl_oai_asm_new(&s.tee);
    run(with_usage, piece, NULL, SL_USAGE_STRIP, &s, &uf, NULL);
    CHECK_STR(s.out.p, without_usage);
    struct sl_usage u;
    CHECK(sl_usage_filter_usage(&uf, &u) == 0 && u.prompt_tokens == 9 && u.completion_tokens == 1);
    CHECK(uf.saw_done && uf.dropped == 1);
    CHECK(s.tee_frames == 5); /* the tee saw the usage chunk the client did not get */
    char *json = NULL;
    size_t len = 0;
    bool complete = false;
    CHECK(sl_oai_asm_finish(s.tee, &json, &len, &complete) == 0 && complete);
    CHECK(json && strstr(json, "\"prompt_tokens\":9") && strstr(json, "\"content\":\"Hello\""));
    free(json);
    sl_oai_asm_free(s.tee);
    sl_usage_filter_free(&uf);
    sl_buf_free(&s.out);
  }
}

static void observe_is_the_input_written_in_place(void) {
  size_t n = strlen(with_usage);
  for (size_t piece = 1; piece <= n; piece += 13) {
    struct sink s = {0};
    struct sl_usage_filter uf;
    run(with_usage, piece, NULL, 0, &s, &uf, NULL);
    CHECK_STR(s.out.p, with_usage);
    size_t reads = (n + piece - 1) / piece;
    CHECK((size_t)s.writes == reads);   /* one write per upstream read */
    CHECK((size_t)s.in_place == reads); /* each from the input itself */
    CHECK(uf.have_usage && uf.saw_done && uf.dropped == 0);
    sl_usage_filter_free(&uf);
    sl_buf_free(&s.out);
  }
}

static void one_write_per_read_when_stripping(void) {
  struct sink s = {0};
  struct sl_usage_filter uf;
  run(with_usage, 0, NULL, SL_USAGE_STRIP, &s, &uf, NULL);
  CHECK(s.writes == 1);
  sl_usage_filter_free(&uf);
  sl_buf_free(&s.out);
}

static const char anth[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":2}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void translate_matches_the_translator_alone(void) {
  struct sl_xlate_resp_opts o = {.created = 1700000000, .include_usage = true};
  struct sl_xlate_stream *ref;
  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &o, &ref) == 0);
  struct sl_buf want = {0};
  sl_xlate_stream_feed(ref, anth, strlen(anth), &want);
  int want_rc = sl_xlate_stream_finish(ref, &want);
  sl_buf_append(&want, "", 1);
  sl_xlate_stream_free(ref);
  CHECK(want_rc == SL_XLATE_END && strstr(want.p, "\"content\":\"Hi\"") && strstr(want.p, "[DONE]"));
  size_t n = strlen(anth);
  for (size_t piece = 0; piece <= n; piece += piece < 30 ? 1 : 11) {
    struct sl_xlate_stream *xs;
    CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &o, &xs) == 0);
    struct sink s = {0};
    struct sl_usage_filter uf;
    int xr = 0;
    run(anth, piece, xs, 0, &s, &uf, &xr);
    CHECK_STR(s.out.p, want.p);
    CHECK(xr == SL_XLATE_END);
    CHECK(s.tee_frames == 0); /* translating: the tee gets the client's bytes instead */
    struct sl_xlate_usage xu;
    sl_xlate_stream_usage(xs, &xu);
    CHECK(xu.known && xu.input == 5 && xu.output == 2);
    sl_xlate_stream_free(xs);
    sl_usage_filter_free(&uf);
    sl_buf_free(&s.out);
  }
  sl_buf_free(&want);
}

static void translate_bad_event_ends_the_stream(void) {
  struct sl_xlate_resp_opts o = {.created = 1700000000};
  struct sl_xlate_stream *xs;
  CHECK(sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &o, &xs) == 0);
  struct sink s = {0};
  struct sl_usage_filter uf;
  int xr = 0;
  run("event: message_start\ndata: {not json\n\n", 0, xs, 0, &s, &uf, &xr);
  CHECK(xr < 0);
  CHECK(strstr(s.out.p, "error") != NULL); /* the error event in the client's format */
  sl_xlate_stream_free(xs);
  sl_usage_filter_free(&uf);
  sl_buf_free(&s.out);
}

CHECK_MAIN(T(strip_every_split), T(observe_is_the_input_written_in_place), T(one_write_per_read_when_stripping),
           T(translate_matches_the_translator_alone), T(translate_bad_event_ends_the_stream))
