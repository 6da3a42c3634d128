/* libFuzzer target for the ->Responses stream translators (net/wire/xlate.h,
 * SL_XLATE_OAI_TO_RESP and SL_XLATE_ANTH_TO_RESP). The input, after one control byte
 * (bit 0: the Anthropic direction; the byte: where to cut), is an upstream SSE byte
 * stream. Properties: the output does not depend on how the input is split (whole, cut
 * where the control byte says, byte by byte); it is a sequence of complete events named
 * as their data's type and numbered 0, 1, 2, ...; response.created then
 * response.in_progress come first; items are added with consecutive output indexes and
 * each is done once, deltas only go to items added and not done; the last event is
 * response.completed / response.incomplete exactly when the result is SL_XLATE_END
 * (and sl_xlate_stream_response gives its response object, which replays into a stream
 * ending with the same object), and an error event then response.failed when it is
 * negative. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"
#include "net/wire/xlate.h"

static const char *nz(const char *s) { return s ? s : ""; }

#define MAX_ITEMS 2048

struct order {
  int n, items;
  unsigned char done[MAX_ITEMS];
  bool ended, failed, error_seen;
  cJSON *last_response;
};

static const char *str(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int on_event(void *ud, const struct sl_sse_event *ev) {
  struct order *o = ud;
  if (o->ended || o->failed) __builtin_trap(); /* nothing after the last event */
  cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
  const char *type = str(j, "type");
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "sequence_number");
  if (!type || strcmp(type, ev->event) || !cJSON_IsNumber(seq) || seq->valueint != o->n) __builtin_trap();
  if (o->n == 0 && strcmp(type, "response.created")) __builtin_trap();
  if (o->n == 1 && strcmp(type, "response.in_progress")) __builtin_trap();
  o->n++;
  const cJSON *oi = cJSON_GetObjectItemCaseSensitive(j, "output_index");
  int i = cJSON_IsNumber(oi) ? oi->valueint : -1;
  if (o->error_seen && strcmp(type, "response.failed")) __builtin_trap();
  if (!strcmp(type, "error")) {
    if (!str(j, "message") || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error"))) __builtin_trap();
    o->error_seen = true;
  } else if (!strcmp(type, "response.failed")) {
    if (!o->error_seen || strcmp(nz(str(cJSON_GetObjectItemCaseSensitive(j, "response"), "status")), "failed"))
      __builtin_trap();
    o->failed = true;
  } else if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete")) {
    for (int k = 0; k < o->items; k++)
      if (!o->done[k]) __builtin_trap();
    o->ended = true;
    o->last_response = cJSON_DetachItemFromObjectCaseSensitive(j, "response");
  } else if (!strcmp(type, "response.output_item.added")) {
    if (i != o->items || i >= MAX_ITEMS || !str(cJSON_GetObjectItemCaseSensitive(j, "item"), "id")) __builtin_trap();
    o->items++;
  } else if (!strcmp(type, "response.output_item.done")) {
    if (i < 0 || i >= o->items || o->done[i]) __builtin_trap();
    o->done[i] = 1;
  } else if (strcmp(type, "response.created") && strcmp(type, "response.in_progress")) {
    if (i < 0 || i >= o->items || o->done[i] || !str(j, "item_id")) __builtin_trap(); /* parts, deltas, dones */
    if (!strcmp(type, "response.output_text.delta") && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "logprobs")))
      __builtin_trap();
  }
  cJSON_Delete(j);
  return 0;
}

static int run(enum sl_xlate_dir d, const char *p, size_t n, size_t first, size_t step, struct sl_buf *out,
               struct sl_buf *final) {
  struct sl_xlate_stream *s;
  struct sl_xlate_resp_opts o = {.created = 1, .resp_id = "resp_f"};
  if (sl_xlate_stream_new(d, &o, &s)) return -ENOMEM;
  int rc = 0;
  size_t i = 0;
  if (first > n) first = n;
  if (first) rc = sl_xlate_stream_feed(s, p, first, out), i = first;
  while (!rc && i < n) {
    size_t k = step && n - i > step ? step : n - i;
    rc = sl_xlate_stream_feed(s, p + i, k, out);
    i += k;
  }
  size_t before = out->n;
  int r2 = sl_xlate_stream_finish(s, out);
  if (rc && (r2 != rc || out->n != before)) __builtin_trap();
  if (!rc) rc = r2;
  int fr = sl_xlate_stream_response(s, final);
  if ((fr == 0) != (rc == SL_XLATE_END) && !final->oom) __builtin_trap();
  sl_xlate_stream_free(s);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  enum sl_xlate_dir d = (data[0] & 1) ? SL_XLATE_ANTH_TO_RESP : SL_XLATE_OAI_TO_RESP;
  size_t n = size - 1;
  char *buf = malloc(n ? n : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, n);
  struct sl_buf a = {0}, b = {0}, c = {0}, fa = {0}, fb = {0}, fc = {0};
  int ra = run(d, buf, n, 0, 0, &a, &fa);
  int rb = run(d, buf, n, data[0] >> 1, 0, &b, &fb);
  int rc = run(d, buf, n, 0, 1, &c, &fc);
  if (!a.oom && !b.oom && !c.oom && ra != -ENOMEM) {
    if (ra != rb || ra != rc || a.n != b.n || a.n != c.n || memcmp(a.p, b.p, a.n) || memcmp(a.p, c.p, a.n))
      __builtin_trap();
    if (ra != SL_XLATE_END && ra != -EPROTO && ra != -EBADMSG && ra != -EPIPE) __builtin_trap();
    struct order *o = calloc(1, sizeof *o);
    if (!o) abort();
    struct sl_sse p;
    sl_sse_init(&p, 0);
    if (sl_sse_feed(&p, a.p ? a.p : "", a.n, on_event, o)) __builtin_trap();
    int before = o->n;
    if (sl_sse_finish(&p, on_event, o) || o->n != before) __builtin_trap(); /* complete events only */
    sl_sse_free(&p);
    if (o->ended != (ra == SL_XLATE_END) || o->failed != (ra < 0)) __builtin_trap();
    if (o->ended) {
      cJSON *f = cJSON_ParseWithLength(fa.p, fa.n);
      if (!cJSON_Compare(f, o->last_response, true)) __builtin_trap();
      struct sl_buf r = {0};
      if (sl_xlate_resp_replay(fa.p, fa.n, NULL, &r) == 0) { /* the replay ends with the same object */
        struct order *q = calloc(1, sizeof *q);
        if (!q) abort();
        sl_sse_init(&p, 0);
        if (sl_sse_feed(&p, r.p ? r.p : "", r.n, on_event, q) || sl_sse_finish(&p, on_event, q)) __builtin_trap();
        sl_sse_free(&p);
        if (!q->ended || q->items != o->items || !cJSON_Compare(q->last_response, f, true)) __builtin_trap();
        cJSON_Delete(q->last_response);
        free(q);
      } else if (!r.oom) {
        __builtin_trap();
      }
      sl_buf_free(&r);
      cJSON_Delete(f);
    }
    cJSON_Delete(o->last_response);
    free(o);
  }
  sl_buf_free(&a);
  sl_buf_free(&b);
  sl_buf_free(&c);
  sl_buf_free(&fa);
  sl_buf_free(&fb);
  sl_buf_free(&fc);
  free(buf);
  return 0;
}
