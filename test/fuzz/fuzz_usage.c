/* libFuzzer target for net/usage. Input: a control byte (bits 0-1: strip flags; bits
 * 2-4: max_event, 0 = default else 8 << n), a cut byte, then the upstream bytes.
 * Properties of the streaming filter:
 *  - whatever the split (whole, two pieces at the cut, byte by byte) the output, the
 *    usage, the counters are the same, and nothing crashes, leaks or reads outside;
 *  - without strip flags the output is the input;
 *  - with strip flags the output is a subsequence of the input's bytes, and with only
 *    SL_USAGE_STRIP_CHUNK it is a concatenation of whole events of the input, in order
 *    (events framed here independently: an event ends after an empty line, the \n of
 *    a \r\n included; a leading BOM does not make the first line non-empty).
 * The same bytes also go through sl_usage_from_json and sl_usage_inject_stream_options:
 * when the body is a JSON object that cJSON accepts and a splice is asked for, the
 * spliced body is still accepted and asks for usage. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/usage.h"

struct result {
  struct sl_buf out;
  struct sl_usage u;
  int have;
  size_t chars, deltas, events, dropped;
  int rc;
};

/* step 0: one piece; else pieces of `step` after a first piece of `first` bytes. */
static void run(const char *in, size_t n, unsigned flags, size_t max_event, size_t first, size_t step,
                struct result *r) {
  struct sl_usage_filter f;
  sl_usage_filter_init(&f, flags, max_event);
  memset(r, 0, sizeof *r);
  int rc = 0;
  size_t i = 0;
  if (first > n) first = n;
  if (first) {
    rc = sl_usage_filter_feed(&f, in, first, &r->out);
    i = first;
  }
  while (!rc && i < n) {
    size_t k = step && n - i > step ? step : n - i;
    rc = sl_usage_filter_feed(&f, in + i, k, &r->out);
    i += k;
  }
  if (!rc) rc = sl_usage_filter_finish(&f, &r->out);
  r->rc = rc;
  r->have = sl_usage_filter_usage(&f, &r->u) == 0;
  r->chars = f.out_chars;
  r->deltas = f.out_deltas;
  r->events = f.events;
  r->dropped = f.dropped;
  sl_usage_filter_free(&f);
}

static int same(const struct result *a, const struct result *b) {
  return a->rc == b->rc && a->out.n == b->out.n && (a->out.n == 0 || memcmp(a->out.p, b->out.p, a->out.n) == 0) &&
         a->have == b->have && a->u.prompt_tokens == b->u.prompt_tokens &&
         a->u.completion_tokens == b->u.completion_tokens && a->u.total_tokens == b->u.total_tokens &&
         a->u.cached_tokens == b->u.cached_tokens && a->u.cache_write_tokens == b->u.cache_write_tokens &&
         a->u.reasoning_tokens == b->u.reasoning_tokens && a->chars == b->chars &&
         a->deltas == b->deltas && a->events == b->events && a->dropped == b->dropped;
}

static int is_subsequence(const char *o, size_t on, const char *in, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < n && j < on; i++)
    if (in[i] == o[j]) j++;
  return j == on;
}

/* Independent event framing: the end offsets of the events of in. */
static size_t frame(const char *in, size_t n, size_t *ends) {
  static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
  size_t k = 0, neutral = 0;
  while (neutral < 3 && neutral < n && (unsigned char)in[neutral] == bom[neutral]) neutral++;
  int line_empty = 1;
  size_t i = 0;
  while (i < n) {
    char c = in[i];
    if (c == '\n' || c == '\r') {
      size_t end = i + 1;
      if (c == '\r' && end < n && in[end] == '\n') end++;
      if (line_empty) ends[k++] = end;
      line_empty = 1;
      i = end;
      continue;
    }
    if (i >= neutral) line_empty = 0;
    i++;
  }
  if (k == 0 || ends[k - 1] != n) ends[k++] = n; /* the unterminated rest */
  return k;
}

/* out is a concatenation of a subsequence of the events of in. */
static int whole_events(const char *o, size_t on, const char *in, size_t n) {
  size_t *ends = malloc((n + 1) * sizeof *ends);
  unsigned char *reach = calloc(on + 1, 1);
  if (!ends || !reach) {
    free(ends);
    free(reach);
    return 1;
  }
  size_t k = frame(in, n, ends);
  reach[0] = 1;
  size_t start = 0;
  for (size_t e = 0; e < k; e++) {
    size_t len = ends[e] - start;
    if (len)
      for (size_t p = on + 1; p-- > 0;)
        if (reach[p] && p + len <= on && memcmp(o + p, in + start, len) == 0) reach[p + len] = 1;
    start = ends[e];
  }
  int ok = reach[on];
  free(ends);
  free(reach);
  return ok;
}

static void check_inject(const char *in, size_t n) {
  struct sl_usage u;
  (void)sl_usage_from_json(in, n, &u);
  struct sl_usage_splice sp;
  int ask = sl_usage_inject_stream_options(in, n, &sp);
  if (ask != SL_USAGE_ASK_SPLICE) {
    if (sp.text || sp.len) __builtin_trap();
    return;
  }
  if (!sp.text || sp.at == 0 || sp.at > n || in[sp.at - 1] != '{') __builtin_trap();
  cJSON *orig = cJSON_ParseWithLength(in, n);
  int was_object = cJSON_IsObject(orig);
  cJSON_Delete(orig);
  if (!was_object) return;
  struct sl_buf b = {0};
  sl_buf_append(&b, in, sp.at);
  sl_buf_append(&b, sp.text, sp.len);
  sl_buf_append(&b, in + sp.at, n - sp.at);
  if (b.oom) {
    sl_buf_free(&b);
    return;
  }
  cJSON *j = cJSON_ParseWithLength(b.p, b.n);
  if (!cJSON_IsObject(j) ||
      !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "stream_options"),
                                                     "include_usage")))
    __builtin_trap();
  cJSON_Delete(j);
  /* asking again: the client now asks */
  if (sl_usage_inject_stream_options(b.p, b.n, &sp) != SL_USAGE_ASK_CLIENT) __builtin_trap();
  sl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  unsigned flags = data[0] & 3;
  unsigned sel = (data[0] >> 2) & 7;
  size_t max_event = sel ? (size_t)8 << sel : 0;
  size_t cut = data[1];
  size_t n = size - 2;
  char *in = malloc(n ? n : 1); /* exact size: reads past the end are caught */
  if (!in) return 0;
  memcpy(in, data + 2, n);

  struct result a, b, c;
  run(in, n, flags, max_event, 0, 0, &a);
  run(in, n, flags, max_event, cut, 0, &b);
  run(in, n, flags, max_event, 0, 1, &c);
  if (!a.out.oom && !b.out.oom && !c.out.oom) {
    if (!same(&a, &b) || !same(&a, &c)) __builtin_trap();
    if (a.rc == 0) {
      if (flags == 0 && (a.out.n != n || (n && memcmp(a.out.p, in, n)))) __builtin_trap();
      if (flags != 0 && !is_subsequence(a.out.p, a.out.n, in, n)) __builtin_trap();
      if (flags == SL_USAGE_STRIP_CHUNK && n <= 16384 && !whole_events(a.out.p, a.out.n, in, n)) __builtin_trap();
      if (a.dropped == 0 && flags == SL_USAGE_STRIP_CHUNK && (a.out.n != n || (n && memcmp(a.out.p, in, n))))
        __builtin_trap();
      if (a.dropped > a.events) __builtin_trap();
      if (a.have && (a.u.prompt_tokens < 0 || a.u.completion_tokens < 0 || a.u.total_tokens < 0)) __builtin_trap();
    }
  }
  sl_buf_free(&a.out);
  sl_buf_free(&b.out);
  sl_buf_free(&c.out);
  check_inject(in, n);
  free(in);
  return 0;
}
