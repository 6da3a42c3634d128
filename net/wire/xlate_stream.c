/* The stream translator object: SSE framing, the sticky result and the shared state;
 * the per-direction event rules live in xlate_anth_to_oai_stream.c,
 * xlate_oai_to_anth_stream.c and xlate_resp_stream.c (both ->Responses directions). The
 * one idea: once a stream has ended (well or badly) it stays ended, so a caller that
 * keeps feeding bytes after the final event, or after an error, gets the same answer
 * and never a second ending. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

static bool is_resp(enum sl_xlate_dir d) { return d == SL_XLATE_OAI_TO_RESP || d == SL_XLATE_ANTH_TO_RESP; }

int sl_xlate_stream_new(enum sl_xlate_dir dir, const struct sl_xlate_resp_opts *o, struct sl_xlate_stream **out) {
  *out = NULL;
  if (dir != SL_XLATE_ANTH_TO_OAI && dir != SL_XLATE_OAI_TO_ANTH && dir != SL_XLATE_OAI_TO_RESP &&
      dir != SL_XLATE_ANTH_TO_RESP)
    return -EINVAL;
  struct sl_xlate_stream *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->dir = dir;
  if (o) s->o = *o;
  s->open_block = -1;
  sl_sse_init(&s->sse, 0);
  if (is_resp(dir)) {
    int rc = sl__xlate_o2r_init(s);
    if (rc) {
      sl_xlate_stream_free(s);
      return rc;
    }
  }
  *out = s;
  return 0;
}

void sl_xlate_stream_free(struct sl_xlate_stream *s) {
  if (!s) return;
  sl_sse_free(&s->sse);
  sl_buf_free(&s->scratch);
  if (is_resp(s->dir)) sl__xlate_o2r_free(s);
  free(s->id);
  free(s->model);
  free(s->map);
  free(s);
}

struct sl__xlate_map *sl__xlate_map_find(struct sl_xlate_stream *s, int key) {
  for (size_t i = 0; i < s->nmap; i++)
    if (s->map[i].key == key) return &s->map[i];
  return NULL;
}

struct sl__xlate_map *sl__xlate_map_add(struct sl_xlate_stream *s, int key, int val, enum sl__xlate_blk kind) {
  if (s->nmap >= SL_XL_MAX_BLOCKS) return NULL;
  if (s->nmap == s->capmap) {
    size_t cap = s->capmap ? s->capmap * 2 : 8;
    struct sl__xlate_map *m = realloc(s->map, cap * sizeof *m);
    if (!m) return NULL;
    s->map = m;
    s->capmap = cap;
  }
  s->map[s->nmap] = (struct sl__xlate_map){key, val, kind, false};
  return &s->map[s->nmap++];
}

bool sl__xlate_strset(char **dst, const char *src) {
  char *c = NULL;
  if (src && !(c = strdup(src))) return false;
  free(*dst);
  *dst = c;
  return true;
}

int sl__xlate_stream_fail(struct sl_xlate_stream *s, int code, int status, const char *message, struct sl_buf *out) {
  if (is_resp(s->dir)) return sl__xlate_o2r_fail(s, code, NULL, "server_error", message, out);
  enum sl_wire client = s->dir == SL_XLATE_ANTH_TO_OAI ? SL_WIRE_OPENAI : SL_WIRE_ANTHROPIC;
  sl_xlate_error_event(client, status, NULL, message, "upstream_protocol_error", out);
  return code;
}

/* Keeps the first non-zero result; -ENOMEM when out ran out of memory. */
static int settle(struct sl_xlate_stream *s, int rc, struct sl_buf *out, size_t before) {
  if (out->n != before) s->started = true;
  if (out->oom) rc = -ENOMEM;
  if (rc && !s->result) s->result = rc;
  return s->result;
}

static int one_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                     struct sl_buf *out) {
  if (is_resp(s->dir)) return sl__xlate_o2r_event(s, event, elen, data, dlen, out);
  return s->dir == SL_XLATE_ANTH_TO_OAI ? sl__xlate_a2o_event(s, event, elen, data, dlen, out)
                                        : sl__xlate_o2a_event(s, event, elen, data, dlen, out);
}

int sl_xlate_stream_event(struct sl_xlate_stream *s, const char *event, size_t event_len, const char *data,
                          size_t data_len, struct sl_buf *out) {
  if (s->result) return s->result;
  size_t before = out->n;
  /* the handlers want NUL-terminated data: a copy in a buffer that is reused */
  s->scratch.n = 0;
  sl_buf_append(&s->scratch, data, data_len);
  if (s->scratch.oom || !s->scratch.p) return settle(s, -ENOMEM, out, before);
  int rc = one_event(s, event ? event : "", event ? event_len : 0, s->scratch.p, data_len, out);
  return settle(s, rc, out, before);
}

struct feed_ctx {
  struct sl_xlate_stream *s;
  struct sl_buf *out;
};

static int on_event(void *ud, const struct sl_sse_event *ev) {
  struct feed_ctx *f = ud;
  size_t before = f->out->n;
  int rc = one_event(f->s, ev->event, ev->event_len, ev->data, ev->data_len, f->out);
  return settle(f->s, rc, f->out, before);
}

static int sse_result(struct sl_xlate_stream *s, int rc, struct sl_buf *out) {
  if (rc >= 0 || s->result) return s->result ? s->result : rc;
  size_t before = out->n;
  if (rc == -EMSGSIZE)
    rc = sl__xlate_stream_fail(s, -EBADMSG, 502, "Upstream sent a stream event larger than 16 MiB", out);
  return settle(s, rc, out, before);
}

int sl_xlate_stream_feed(struct sl_xlate_stream *s, const char *p, size_t n, struct sl_buf *out) {
  if (s->result) return s->result;
  struct feed_ctx f = {s, out};
  int rc = sl_sse_feed(&s->sse, p, n, on_event, &f);
  return sse_result(s, rc, out);
}

int sl_xlate_stream_frame(struct sl_xlate_stream *s, const struct sl_sse_frame *fr, struct sl_buf *out) {
  if (s->result) return s->result;
  if (fr->kind == SL_SSE_OVERSIZE) return sse_result(s, -EMSGSIZE, out);
  if (fr->kind != SL_SSE_EVENT || !fr->data_lines) return 0; /* no data: not an event */
  if (fr->data_lines > 1) { /* joined by the framer: NUL-terminated already */
    size_t before = out->n;
    return settle(s, one_event(s, fr->event, fr->event_len, fr->data, fr->data_len, out), out, before);
  }
  return sl_xlate_stream_event(s, fr->event, fr->event_len, fr->data, fr->data_len, out);
}

static int finish_dir(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (is_resp(s->dir)) return sl__xlate_o2r_finish(s, out);
  return s->dir == SL_XLATE_ANTH_TO_OAI ? sl__xlate_a2o_finish(s, out) : sl__xlate_o2a_finish(s, out);
}

int sl_xlate_stream_finish(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->result) return s->result;
  struct feed_ctx f = {s, out};
  int rc = sse_result(s, sl_sse_finish(&s->sse, on_event, &f), out);
  if (rc) return rc;
  size_t before = out->n;
  rc = finish_dir(s, out);
  return settle(s, rc, out, before);
}

int sl_xlate_stream_finish_framed(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->result) return s->result;
  size_t before = out->n;
  int rc = finish_dir(s, out);
  return settle(s, rc, out, before);
}

void sl_xlate_stream_usage(const struct sl_xlate_stream *s, struct sl_xlate_usage *u) { *u = s->usage; }

int sl_xlate_stream_result(const struct sl_xlate_stream *s) { return s->result; }

bool sl_xlate_stream_started(const struct sl_xlate_stream *s) { return s->started; }
