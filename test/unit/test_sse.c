/* net/sse: the incremental parser (every split of the input gives the same events),
 * line endings, fields, comments, the BOM, finish, limits, and the writer. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "net/wire/sse.h"

/* Events serialised as "event|data|id;" for easy comparison. */
struct rec {
  struct sl_buf out;
  int n, stop_after;
};

static int rec_cb(void *ud, const struct sl_sse_event *ev) {
  struct rec *r = ud;
  sl_buf_append(&r->out, ev->event, ev->event_len);
  sl_buf_puts(&r->out, "|");
  sl_buf_append(&r->out, ev->data, ev->data_len);
  CHECK(ev->data[ev->data_len] == 0);
  sl_buf_puts(&r->out, "|");
  sl_buf_append(&r->out, ev->id, ev->id_len);
  if (ev->retry_ms >= 0) sl_buf_printf(&r->out, "|r%ld", ev->retry_ms);
  sl_buf_puts(&r->out, ";");
  r->n++;
  return r->stop_after && r->n >= r->stop_after ? 7 : 0;
}

/* Parses s fed in pieces of the given sizes (cycled), then finish when asked. */
static char *parse_split(const char *s, size_t len, size_t piece, bool finish, int *rc) {
  struct sl_sse p;
  sl_sse_init(&p, 0);
  struct rec r = {0};
  *rc = 0;
  for (size_t i = 0; i < len && !*rc; i += piece) {
    size_t k = len - i < piece ? len - i : piece;
    *rc = sl_sse_feed(&p, s + i, k, rec_cb, &r);
  }
  if (!*rc && finish) *rc = sl_sse_finish(&p, rec_cb, &r);
  sl_sse_free(&p);
  sl_buf_puts(&r.out, "");
  return sl_buf_take(&r.out, NULL);
}

static bool events_are(const char *s, bool finish, const char *want) {
  int rc;
  char *got = parse_split(s, strlen(s), strlen(s) ? strlen(s) : 1, finish, &rc);
  bool ok = rc == 0 && strcmp(got, want) == 0;
  if (!ok) printf("  got '%s' (rc %d), want '%s'\n", got, rc, want);
  free(got);
  return ok;
}

static void basic_events(void) {
  CHECK(events_are("data: hello\n\n", false, "|hello|;"));
  CHECK(events_are("data: a\n\ndata: b\n\n", false, "|a|;|b|;"));
  CHECK(events_are("data:no-space\n\n", false, "|no-space|;"));
  CHECK(events_are("data:  two spaces\n\n", false, "| two spaces|;"));
  CHECK(events_are("data\n\n", false, "||;"));
  CHECK(events_are("data:\n\n", false, "||;"));
  CHECK(events_are("data: line1\ndata: line2\ndata:\n\n", false, "|line1\nline2\n|;"));
  CHECK(events_are("event: ping\ndata: {}\n\n", false, "ping|{}|;"));
  CHECK(events_are("event: a\n\ndata: x\n\n", false, "|x|;")); /* no data: not dispatched, type reset */
  CHECK(events_are("\n\n\n", false, ""));
  CHECK(events_are("id: 7\ndata: x\n\ndata: y\n\nid\ndata: z\n\n", false, "|x|7;|y|7;|z|;"));
  CHECK(events_are("retry: 1500\ndata: x\n\ndata: y\n\n", false, "|x||r1500;|y|;"));
  CHECK(events_are("retry: 15x\ndata: x\n\n", false, "|x|;"));
  CHECK(events_are("foo: bar\ndata: x\n\n", false, "|x|;"));
}

static void comments_and_line_endings(void) {
  CHECK(events_are(": keep-alive\n\n: x\ndata: a\n: y\n\n", false, "|a|;"));
  CHECK(events_are(":\n:OPENROUTER PROCESSING\n\ndata: a\n\n", false, "|a|;"));
  CHECK(events_are("data: a\r\n\r\ndata: b\r\r", false, "|a|;|b|;"));
  CHECK(events_are("data: a\r\ndata: b\n\r\n", false, "|a\nb|;"));
  CHECK(events_are("data: a\rdata: b\r\n\n", false, "|a\nb|;"));
}

static void finish_dispatches_unterminated_event(void) {
  CHECK(events_are("data: a\n\ndata: [DONE]", false, "|a|;"));
  CHECK(events_are("data: a\n\ndata: [DONE]", true, "|a|;|[DONE]|;"));
  CHECK(events_are("data: a\n\ndata: [DONE]\n", true, "|a|;|[DONE]|;"));
  CHECK(events_are("data: a\n\n", true, "|a|;"));
  CHECK(events_are("data: a\n\n: trailing comment", true, "|a|;"));
}

static void bom_skipped(void) {
  CHECK(events_are("\xEF\xBB\xBF" "data: a\n\n", false, "|a|;"));
  int rc;
  char *got = parse_split("\xEF\xBB\xBF" "data: a\n\n", 12, 1, false, &rc);
  CHECK(rc == 0 && strcmp(got, "|a|;") == 0);
  free(got);
  /* a BOM later in the stream is not special; a BOM-like start that is not one stays text */
  CHECK(events_are("\xEF" "data: a\n\ndata: b\n\n", false, "|b|;"));
}

static const char STREAM[] =
    "\xEF\xBB\xBF: hi\r\n"
    "event: message\r\n"
    "id: 1\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n"
    "\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r"
    "\r"
    "data: multi\n"
    "data: line\n"
    "retry: 10\n"
    "\n"
    ":comment\n"
    "data\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static void every_split_gives_the_same_events(void) {
  size_t len = sizeof STREAM - 1;
  int rc;
  char *whole = parse_split(STREAM, len, len, true, &rc);
  CHECK(rc == 0);
  CHECK_STR(whole, "message|{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}|1;"
                   "|{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}|1;"
                   "|multi\nline|1|r10;||1;|[DONE]|1;");
  for (size_t piece = 1; piece < 40; piece++) {
    char *got = parse_split(STREAM, len, piece, true, &rc);
    CHECK(rc == 0 && strcmp(got, whole) == 0);
    free(got);
  }
  /* every two-piece split */
  for (size_t cut = 0; cut <= len; cut++) {
    struct sl_sse p;
    sl_sse_init(&p, 0);
    struct rec r = {0};
    CHECK(sl_sse_feed(&p, STREAM, cut, rec_cb, &r) == 0);
    CHECK(sl_sse_feed(&p, STREAM + cut, len - cut, rec_cb, &r) == 0);
    CHECK(sl_sse_finish(&p, rec_cb, &r) == 0);
    sl_buf_puts(&r.out, "");
    CHECK(strcmp(r.out.p, whole) == 0);
    sl_buf_free(&r.out);
    sl_sse_free(&p);
  }
  free(whole);
}

static void limits_and_stop(void) {
  struct sl_sse p;
  sl_sse_init(&p, 16);
  struct rec r = {0};
  CHECK(sl_sse_feed(&p, "data: 0123456789\n\n", 18, rec_cb, &r) == 0);
  CHECK(sl_sse_feed(&p, "data: 0123456789abcdef\n\n", 24, rec_cb, &r) == -EMSGSIZE);
  CHECK(sl_sse_feed(&p, "data: x\n\n", 9, rec_cb, &r) == -EMSGSIZE); /* sticky */
  CHECK(r.n == 1);
  sl_sse_free(&p);
  sl_buf_free(&r.out);
  /* data accumulated across lines counts too */
  sl_sse_init(&p, 16);
  r = (struct rec){0};
  CHECK(sl_sse_feed(&p, "data: 01234567\ndata: 01234567\n", 30, rec_cb, &r) == -EMSGSIZE);
  sl_sse_free(&p);
  /* an unterminated line over the limit */
  sl_sse_init(&p, 16);
  CHECK(sl_sse_feed(&p, "data: 0123456789", 16, rec_cb, &r) == 0);
  CHECK(sl_sse_feed(&p, "abc", 3, rec_cb, &r) == -EMSGSIZE);
  sl_sse_free(&p);
  sl_buf_free(&r.out);
  /* the callback stops the parser */
  sl_sse_init(&p, 0);
  r = (struct rec){.stop_after = 2};
  CHECK(sl_sse_feed(&p, "data: a\n\ndata: b\n\ndata: c\n\n", 27, rec_cb, &r) == 7);
  CHECK(r.n == 2);
  sl_sse_free(&p);
  sl_buf_free(&r.out);
}

static void writer_round_trip(void) {
  struct sl_buf b = {0};
  sl_sse_append_event(&b, NULL, "{\"a\":1}", 7);
  sl_sse_append_event(&b, "ping", "x\ny\n", 4);
  sl_sse_append_event(&b, NULL, "", 0);
  CHECK_STR(b.p, "data: {\"a\":1}\n\nevent: ping\ndata: x\ndata: y\ndata: \n\ndata: \n\n");
  int rc;
  char *got = parse_split(b.p, b.n, 3, false, &rc);
  CHECK(rc == 0);
  CHECK_STR(got, "|{\"a\":1}|;ping|x\ny\n|;||;");
  free(got);
  sl_buf_free(&b);
}

/* ---- the framer ---- */

/* Frames serialised as "K[raw]{event|data}" (K: E event, T tail, O oversize); the raw
 * bytes of every frame are also concatenated into `cat`. */
struct frec {
  struct sl_buf out, cat;
};

static int frame_cb(void *ud, const struct sl_sse_frame *fr) {
  struct frec *r = ud;
  sl_buf_puts(&r->out, fr->kind == SL_SSE_EVENT ? "E[" : fr->kind == SL_SSE_TAIL ? "T[" : "O[");
  sl_buf_append(&r->out, fr->raw, fr->raw_len);
  sl_buf_append(&r->cat, fr->raw, fr->raw_len);
  sl_buf_puts(&r->out, "]");
  if (fr->kind == SL_SSE_EVENT) {
    sl_buf_puts(&r->out, "{");
    sl_buf_append(&r->out, fr->event, fr->event_len);
    sl_buf_puts(&r->out, "|");
    if (fr->data) sl_buf_append(&r->out, fr->data, fr->data_len);
    else sl_buf_puts(&r->out, "-");
    if (fr->data_lines == 1) CHECK(fr->raw + fr->data_off == fr->data);
    sl_buf_puts(&r->out, "}");
  }
  return 0;
}

/* Frames s fed in pieces of `piece` bytes (0: whole), then finish. */
static char *frame_split(const char *s, size_t len, size_t piece, size_t max, struct sl_buf *cat) {
  struct sl_sse_framer f;
  sl_sse_framer_init(&f, max);
  struct frec r = {0};
  if (!piece) piece = len ? len : 1;
  for (size_t i = 0; i < len; i += piece) {
    size_t k = len - i < piece ? len - i : piece;
    CHECK(sl_sse_framer_feed(&f, s + i, k, frame_cb, &r) == 0);
  }
  CHECK(sl_sse_framer_finish(&f, frame_cb, &r) == 0);
  sl_sse_framer_free(&f);
  sl_buf_append(&r.out, "", 1);
  if (cat) *cat = r.cat;
  else sl_buf_free(&r.cat);
  return sl_buf_take(&r.out, NULL);
}

static const char framer_in[] =
    "\xEF\xBB\xBF: hi\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "event: ping\ndata: x\ndata: y\n\n"
    "id: 3\n\n"
    "data:z\r\r\n"
    "data: last";
static const char framer_want[] =
    "E[\xEF\xBB\xBF: hi\r\ndata: {\"a\":1}\r\n\r]{|{\"a\":1}}"
    "T[\n]"
    "E[event: ping\ndata: x\ndata: y\n\n]{ping|x\ny}"
    "E[id: 3\n\n]{|-}"
    "E[data:z\r\r]{|z}"
    "T[\n]"
    "E[data: last]{|last}";

static void framer_every_split_same_frames(void) {
  size_t n = sizeof framer_in - 1;
  for (size_t piece = 0; piece <= n; piece++) {
    struct sl_buf cat;
    char *got = frame_split(framer_in, n, piece, 0, &cat);
    CHECK_STR(got, framer_want);
    if (strcmp(got, framer_want)) printf("  piece %zu: %s\n", piece, got);
    /* nothing lost, nothing added: the frames' bytes are the input */
    CHECK(cat.n == n && memcmp(cat.p, framer_in, n) == 0);
    sl_buf_free(&cat);
    free(got);
  }
}

static void framer_in_place_and_held(void) {
  /* one input with two whole events: both referenced inside the input, nothing held */
  static const char in[] = "data: a\n\ndata: b\n\n";
  struct sl_sse_framer f;
  sl_sse_framer_init(&f, 0);
  struct frec r = {0};
  CHECK(sl_sse_framer_feed(&f, in, sizeof in - 1, frame_cb, &r) == 0);
  CHECK(f.held.n == 0 && f.done.p == NULL);
  /* an event split across inputs is held, then handed out from the framer's buffer */
  CHECK(sl_sse_framer_feed(&f, "data: c", 7, frame_cb, &r) == 0);
  CHECK(f.held.n == 7);
  CHECK(sl_sse_framer_feed(&f, "\n\n", 2, frame_cb, &r) == 0);
  CHECK(f.held.n == 0 && f.done.n == 9);
  sl_buf_append(&r.out, "", 1);
  CHECK_STR(r.out.p, "E[data: a\n\n]{|a}E[data: b\n\n]{|b}E[data: c\n\n]{|c}");
  sl_sse_framer_free(&f);
  sl_buf_free(&r.out);
  sl_buf_free(&r.cat);
}

static void framer_oversize_passes_unread(void) {
  static const char in[] = "data: 0123456789abcdef\n\ndata: ok\n\n";
  size_t n = sizeof in - 1;
  for (size_t piece = 1; piece <= n; piece++) {
    struct sl_buf cat;
    char *got = frame_split(in, n, piece, 12, &cat);
    /* the long event comes as OVERSIZE pieces (however split), the next one as an event */
    const char *tail = strstr(got, "E[data: ok\n\n]{|ok}");
    CHECK(tail != NULL && tail[strlen("E[data: ok\n\n]{|ok}")] == 0);
    CHECK(strncmp(got, "O[", 2) == 0 && !strstr(got, "E[data: 0"));
    CHECK(cat.n == n && memcmp(cat.p, in, n) == 0);
    sl_buf_free(&cat);
    free(got);
  }
}

CHECK_MAIN(T(basic_events), T(comments_and_line_endings), T(finish_dispatches_unterminated_event), T(bom_skipped),
           T(every_split_gives_the_same_events), T(limits_and_stop), T(writer_round_trip),
           T(framer_every_split_same_frames), T(framer_in_place_and_held), T(framer_oversize_passes_unread))
