/* Chat Completions chunk stream -> Responses API event stream (SL_XLATE_OAI_TO_RESP),
 * and Anthropic Messages stream -> Responses events (SL_XLATE_ANTH_TO_RESP) by running
 * the ANTH_TO_OAI translator inside and feeding its chunks here (no second Anthropic
 * parser). The one idea: chat deltas are unordered fields of one choice, Responses
 * wants output items, each opened (output_item.added), filled (deltas) and closed
 * (output_item.done) in output order; so each delta field picks the item kind it
 * belongs to (reasoning for reasoning_content, message for content and refusal, a
 * function_call per tool_calls index) and a change of kind closes the open item and
 * opens the next. Events written, in order:
 *   response.created, response.in_progress               (first chunk)
 *   reasoning: output_item.added, reasoning_summary_part.added,
 *              reasoning_summary_text.delta..., reasoning_summary_text.done,
 *              reasoning_summary_part.done, output_item.done
 *   message:   output_item.added, content_part.added, output_text.delta...
 *              (refusal.delta... in a refusal part), output_text.done (refusal.done),
 *              content_part.done, output_item.done
 *   function:  output_item.added, function_call_arguments.delta...,
 *              function_call_arguments.done, output_item.done
 *   response.completed, or response.incomplete (finish_reason length/content_filter),
 *   with the whole response object (usage included)           ([DONE])
 *   failures:  error (with a nested "error" object, so that openai-node throws), then
 *              response.failed {status failed, error {code, message}}.
 * Function call items stay open until another kind of item opens or the stream ends (a
 * server may interleave arguments of parallel calls); arguments arriving for a call
 * already closed only reach the final response object. To extend: a new delta field is
 * one branch in choice(); a new item kind needs its open/close events in open_item() /
 * close_item() and its JSON in xlate_resp_resp.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

#define MAX_ITEMS 1024

struct sl__resp_stream {
  int seq;
  struct sl__resp_item *items;
  size_t n, cap;
  int cur;      /* the open message or reasoning item, -1 when none */
  char *finish; /* the upstream's finish_reason */
  struct sl__resp_usage usage;
  struct sl_buf final; /* the final response object, once ended well */
  bool ended;
};

int sl__xlate_o2r_init(struct sl_xlate_stream *s) {
  s->rs = calloc(1, sizeof *s->rs);
  if (!s->rs) return -ENOMEM;
  s->rs->cur = -1;
  if (s->dir == SL_XLATE_ANTH_TO_RESP) {
    struct sl_xlate_resp_opts io = {.created = s->o.created, .include_usage = true, .json_tool = s->o.json_tool};
    int rc = sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &io, &s->inner);
    if (rc) return rc;
  }
  return 0;
}

void sl__xlate_o2r_free(struct sl_xlate_stream *s) {
  if (s->rs) {
    for (size_t i = 0; i < s->rs->n; i++) {
      sl_buf_free(&s->rs->items[i].text);
      sl_buf_free(&s->rs->items[i].refusal);
      free(s->rs->items[i].call_id);
      free(s->rs->items[i].name);
    }
    free(s->rs->items);
    free(s->rs->finish);
    sl_buf_free(&s->rs->final);
    free(s->rs);
  }
  sl_xlate_stream_free(s->inner);
  sl_buf_free(&s->tmp);
}

/* The response object in its current state (items in their done form). */
static cJSON *object(struct sl_xlate_stream *s, struct sl_xl *x, const char *status, const char *incomplete,
                     const char *err_code, const char *err_msg, bool with_items) {
  struct sl__resp_stream *r = s->rs;
  cJSON *output = cJSON_CreateArray();
  if (!output) sl__xlate_oom(x);
  for (size_t i = 0; with_items && i < r->n; i++)
    sl__xlate_put(x, output, NULL, sl__resp_item_json(x, &r->items[i], true));
  struct sl__resp_meta m = {
      .req = s->o.resp_req,
      .id = s->o.resp_id,
      .model = s->model,
      .created = s->o.created,
      .status = status,
      .incomplete = incomplete,
      .err_code = err_code,
      .err_message = err_msg,
      .usage = with_items ? &r->usage : NULL,
  };
  if (x->rc) {
    cJSON_Delete(output);
    return NULL;
  }
  return sl__resp_object(x, &m, output);
}

static int begin(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->began) return 0;
  s->began = true;
  struct sl_xl x = {0};
  cJSON *o = object(s, &x, "in_progress", NULL, NULL, NULL, false);
  if (!o) return -ENOMEM;
  sl__resp_ev_response(out, &s->rs->seq, "response.created", o);
  sl__resp_ev_response(out, &s->rs->seq, "response.in_progress", o);
  cJSON_Delete(o);
  return 0;
}

static void ev_item(struct sl_xlate_stream *s, struct sl_buf *out, const char *type, size_t i, bool done) {
  struct sl_xl x = {0};
  cJSON *j = sl__resp_item_json(&x, &s->rs->items[i], done);
  if (!j)
    out->oom = true;
  else
    sl__resp_ev_item(out, &s->rs->seq, type, (int)i, j);
  cJSON_Delete(j);
}

static void ev_part(struct sl_xlate_stream *s, struct sl_buf *out, const char *type, size_t i, int ci,
                    enum sl__resp_part p, const char *text) {
  struct sl_xl x = {0};
  struct sl__resp_item *it = &s->rs->items[i];
  cJSON *j = sl__resp_part_json(&x, it->kind, p, text);
  if (!j)
    out->oom = true;
  else
    sl__resp_ev_part(out, &s->rs->seq, type, it->id, (int)i, ci, j);
  cJSON_Delete(j);
}

static const char *bufstr(const struct sl_buf *b) { return b->p ? b->p : ""; }

/* Ends the open content part of message item i. */
static void close_part(struct sl_xlate_stream *s, struct sl_buf *out, size_t i) {
  struct sl__resp_item *it = &s->rs->items[i];
  if (!it->nparts) return;
  int ci = it->nparts - 1;
  enum sl__resp_part p = it->parts[ci];
  const char *text = bufstr(p == SL_RP_TEXT ? &it->text : &it->refusal);
  if (p == SL_RP_TEXT)
    sl__resp_ev_done(out, &s->rs->seq, "response.output_text.done", it->id, (int)i, ci, "text", text, NULL);
  else
    sl__resp_ev_done(out, &s->rs->seq, "response.refusal.done", it->id, (int)i, ci, "refusal", text, NULL);
  ev_part(s, out, "response.content_part.done", i, ci, p, text);
}

static void open_part(struct sl_xlate_stream *s, struct sl_buf *out, size_t i, enum sl__resp_part p) {
  struct sl__resp_item *it = &s->rs->items[i];
  it->parts[it->nparts++] = p;
  ev_part(s, out, "response.content_part.added", i, it->nparts - 1, p, NULL);
}

static void close_item(struct sl_xlate_stream *s, struct sl_buf *out, size_t i) {
  struct sl__resp_item *it = &s->rs->items[i];
  if (it->done) return;
  it->done = true;
  switch (it->kind) {
  case SL_RI_MESSAGE: close_part(s, out, i); break;
  case SL_RI_REASONING:
    sl__resp_ev_done(out, &s->rs->seq, "response.reasoning_summary_text.done", it->id, (int)i, 0, "text",
                     bufstr(&it->text), NULL);
    ev_part(s, out, "response.reasoning_summary_part.done", i, 0, SL_RP_TEXT, bufstr(&it->text));
    break;
  case SL_RI_CALL:
    sl__resp_ev_done(out, &s->rs->seq, "response.function_call_arguments.done", it->id, (int)i, -1, "arguments",
                     bufstr(&it->text), it->name ? it->name : "");
    break;
  }
  ev_item(s, out, "response.output_item.done", i, true);
}

static void close_open(struct sl_xlate_stream *s, struct sl_buf *out) {
  for (size_t i = 0; i < s->rs->n; i++) close_item(s, out, i);
  s->rs->cur = -1;
}

/* Adds a new item (the caller closed what must be closed); its index, or -1 when there
 * are too many or out of memory. */
static int open_item(struct sl_xlate_stream *s, struct sl_buf *out, enum sl__resp_kind kind) {
  struct sl__resp_stream *r = s->rs;
  if (r->n >= MAX_ITEMS) return -1;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 4;
    struct sl__resp_item *m = realloc(r->items, cap * sizeof *m);
    if (!m) {
      out->oom = true;
      return -1;
    }
    r->items = m;
    r->cap = cap;
  }
  size_t i = r->n++;
  struct sl__resp_item *it = &r->items[i];
  memset(it, 0, sizeof *it);
  it->kind = kind;
  it->tool_index = -1;
  static const char *const prefix[] = {[SL_RI_MESSAGE] = "msg", [SL_RI_REASONING] = "rs", [SL_RI_CALL] = "fc"};
  sl__resp_item_id(it->id, sizeof it->id, prefix[kind], s->o.resp_id, (int)i);
  return (int)i;
}

static int too_many(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (out->oom) return -ENOMEM;
  return sl__xlate_o2r_fail(s, -EBADMSG, NULL, "server_error", "Upstream sent too many output items", out);
}

/* A piece of reasoning (p ignored) or message text/refusal. */
static int piece(struct sl_xlate_stream *s, struct sl_buf *out, enum sl__resp_kind kind, enum sl__resp_part p,
                 const char *text) {
  if (!text || !text[0]) return 0;
  struct sl__resp_stream *r = s->rs;
  struct sl__resp_item *it = r->cur >= 0 ? &r->items[r->cur] : NULL;
  bool fits = it && it->kind == kind;
  if (fits && kind == SL_RI_MESSAGE && it->parts[it->nparts - 1] != p) {
    /* a second kind of part in the same message, once */
    if (it->nparts == 2)
      fits = false;
    else {
      close_part(s, out, (size_t)r->cur);
      open_part(s, out, (size_t)r->cur, p);
    }
  }
  if (!fits) {
    close_open(s, out);
    int i = open_item(s, out, kind);
    if (i < 0) return too_many(s, out);
    r->cur = i;
    ev_item(s, out, "response.output_item.added", (size_t)i, false);
    if (kind == SL_RI_MESSAGE)
      open_part(s, out, (size_t)i, p);
    else
      ev_part(s, out, "response.reasoning_summary_part.added", (size_t)i, 0, SL_RP_TEXT, NULL);
    it = &r->items[i];
  }
  int ci = it->nparts ? it->nparts - 1 : 0;
  struct sl_buf *b = kind == SL_RI_MESSAGE && p == SL_RP_REFUSAL ? &it->refusal : &it->text;
  sl_buf_puts(b, text);
  if (b->oom) return -ENOMEM;
  const char *type = kind == SL_RI_REASONING ? "response.reasoning_summary_text.delta"
                     : p == SL_RP_TEXT       ? "response.output_text.delta"
                                             : "response.refusal.delta";
  sl__resp_ev_delta(out, &r->seq, type, it->id, r->cur, ci, text, strlen(text));
  return 0;
}

static struct sl__resp_item *find_call(struct sl__resp_stream *r, int index, size_t *at) {
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].kind == SL_RI_CALL && r->items[i].tool_index == index) {
      *at = i;
      return &r->items[i];
    }
  return NULL;
}

static int tool_calls(struct sl_xlate_stream *s, const cJSON *calls, struct sl_buf *out) {
  struct sl__resp_stream *r = s->rs;
  const cJSON *tc;
  int pos = 0;
  cJSON_ArrayForEach(tc, calls) {
    int idx;
    if (!sl__xlate_getidx(tc, "index", &idx)) idx = pos;
    pos++;
    const cJSON *fn = sl__xlate_get(tc, "function");
    size_t at;
    struct sl__resp_item *it = find_call(r, idx, &at);
    if (!it) {
      /* a new call closes the open message or reasoning item, not other calls */
      if (r->cur >= 0) close_item(s, out, (size_t)r->cur);
      r->cur = -1;
      if (r->n >= MAX_ITEMS) return too_many(s, out);
      int i = open_item(s, out, SL_RI_CALL);
      if (i < 0) return too_many(s, out);
      it = &r->items[i];
      at = (size_t)i;
      it->tool_index = idx;
      char synth[48];
      const char *id = sl__xlate_getstr(tc, "id");
      if (!id) {
        snprintf(synth, sizeof synth, "call_sluice_%d", idx);
        id = synth;
      }
      if (!sl__xlate_strset(&it->call_id, id) || !sl__xlate_strset(&it->name, sl__xlate_getstr(fn, "name")))
        return -ENOMEM;
      ev_item(s, out, "response.output_item.added", at, false);
    } else if (!it->name && sl__xlate_getstr(fn, "name")) {
      if (!sl__xlate_strset(&it->name, sl__xlate_getstr(fn, "name"))) return -ENOMEM;
    }
    const char *args = sl__xlate_getstr(fn, "arguments");
    if (args && args[0]) {
      sl_buf_puts(&it->text, args);
      if (it->text.oom) return -ENOMEM;
      if (!it->done)
        sl__resp_ev_delta(out, &r->seq, "response.function_call_arguments.delta", it->id, (int)at, -1, args,
                          strlen(args));
    }
  }
  return 0;
}

static int end(struct sl_xlate_stream *s, struct sl_buf *out) {
  struct sl__resp_stream *r = s->rs;
  int rc = begin(s, out);
  if (rc) return rc;
  close_open(s, out);
  const char *incomplete;
  const char *status = sl__resp_status(r->finish, &incomplete);
  struct sl_xl x = {0};
  cJSON *o = object(s, &x, status, incomplete, NULL, NULL, true);
  if (!o) return -ENOMEM;
  sl__xlate_print(&x, o, &r->final);
  sl__resp_ev_response(out, &r->seq, incomplete ? "response.incomplete" : "response.completed", o);
  cJSON_Delete(o);
  if (x.rc) return x.rc;
  r->ended = true;
  return SL_XLATE_END;
}

int sl__xlate_o2r_fail(struct sl_xlate_stream *s, int code, const char *type, const char *err_code, const char *message,
                       struct sl_buf *out) {
  if (begin(s, out)) return -ENOMEM;
  struct sl__resp_stream *r = s->rs;
  sl__xlate_resp_error_event(out, r->seq++, 502, type, err_code, message);
  struct sl_xl x = {0};
  cJSON *o = object(s, &x, "failed", NULL, err_code, message, true);
  if (!o) return -ENOMEM;
  sl__resp_ev_response(out, &r->seq, "response.failed", o);
  cJSON_Delete(o);
  return code;
}

static int bad(struct sl_xlate_stream *s, struct sl_buf *out, const char *why) {
  return sl__xlate_o2r_fail(s, -EBADMSG, NULL, "server_error", why, out);
}

static void set_usage(struct sl_xlate_stream *s, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  sl__resp_usage_read(u, &s->rs->usage);
  if (s->dir == SL_XLATE_OAI_TO_RESP) sl__resp_usage_native(&s->rs->usage, &s->usage);
}

static int choice(struct sl_xlate_stream *s, const cJSON *ch, struct sl_buf *out) {
  const cJSON *d = sl__xlate_get(ch, "delta");
  int rc = 0;
  const char *reasoning = sl__xlate_getstr(d, "reasoning_content");
  if (!reasoning) reasoning = sl__xlate_getstr(d, "reasoning");
  if (!rc) rc = piece(s, out, SL_RI_REASONING, SL_RP_TEXT, reasoning);
  if (!rc) rc = piece(s, out, SL_RI_MESSAGE, SL_RP_TEXT, sl__xlate_getstr(d, "content"));
  if (!rc) rc = piece(s, out, SL_RI_MESSAGE, SL_RP_REFUSAL, sl__xlate_getstr(d, "refusal"));
  const cJSON *calls = sl__xlate_get(d, "tool_calls");
  if (!rc && cJSON_IsArray(calls)) rc = tool_calls(s, calls, out);
  const char *fr = sl__xlate_getstr(ch, "finish_reason");
  if (!rc && fr) {
    if (!sl__xlate_strset(&s->rs->finish, fr)) return -ENOMEM;
    s->final_known = true;
  }
  return rc;
}

/* One chat chunk (data is NUL-terminated). */
static int chunk(struct sl_xlate_stream *s, const char *data, size_t dlen, struct sl_buf *out) {
  size_t a = 0, b = dlen;
  while (a < b && (data[a] == ' ' || data[a] == '\n' || data[a] == '\r' || data[a] == '\t')) a++;
  while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\n' || data[b - 1] == '\r' || data[b - 1] == '\t')) b--;
  if (b - a == 6 && memcmp(data + a, "[DONE]", 6) == 0) return end(s, out);
  cJSON *ev = cJSON_ParseWithLength(data, dlen);
  int rc = 0;
  if (!cJSON_IsObject(ev)) {
    rc = bad(s, out, "Upstream sent a stream event that is not OpenAI JSON");
  } else if (sl__xlate_get(ev, "error") && !cJSON_IsNull(sl__xlate_get(ev, "error"))) {
    struct sl__xlate_err e;
    char msg[1024];
    if (!sl__xlate_err_read(ev, &e)) e.message = "Upstream stream error", e.message_len = strlen(e.message);
    snprintf(msg, sizeof msg, "%.*s", (int)(e.message_len < 1000 ? e.message_len : 1000), e.message);
    const char *code = NULL;
    const char *type = sl__xlate_err_type_oai(502, e.type, msg, &code);
    if (e.code) code = e.code;
    rc = sl__xlate_o2r_fail(s, -EPROTO, type, code ? code : type, msg, out);
  } else {
    const char *model = sl__xlate_getstr(ev, "model");
    if (model && !s->model && !sl__xlate_strset(&s->model, model)) rc = -ENOMEM;
    if (!rc) rc = begin(s, out);
    set_usage(s, sl__xlate_get(ev, "usage"));
    const cJSON *ch;
    cJSON_ArrayForEach(ch, sl__xlate_get(ev, "choices")) {
      int idx = 0;
      if (sl__xlate_get(ch, "index") && !sl__xlate_getidx(ch, "index", &idx)) continue;
      if (idx != 0 || rc) continue; /* only the first answer (Responses has one) */
      rc = choice(s, ch, out);
    }
  }
  cJSON_Delete(ev);
  return rc;
}

/* The inner translator's output: complete `data: ...\n\n` events it wrote itself. */
static int drain_inner(struct sl_xlate_stream *s, int inner_rc, struct sl_buf *out) {
  int rc = 0;
  size_t i = 0;
  struct sl_buf *t = &s->tmp;
  if (t->oom) return -ENOMEM;
  while (!rc && t->p && i < t->n) {
    char *e = strstr(t->p + i, "\n\n");
    size_t end_at = e ? (size_t)(e - t->p) : t->n;
    if (t->n - i > 6 && memcmp(t->p + i, "data: ", 6) == 0) {
      t->p[end_at] = 0;
      rc = chunk(s, t->p + i + 6, end_at - i - 6, out);
    }
    i = end_at + 2;
  }
  t->n = 0;
  s->usage = s->inner->usage;
  if (rc == -EPROTO && inner_rc < 0) rc = inner_rc; /* the inner's own failure, in our words */
  if (!rc && inner_rc < 0)
    rc = inner_rc == -ENOMEM ? -ENOMEM
                             : sl__xlate_o2r_fail(s, inner_rc, NULL, "server_error", "Upstream stream failed", out);
  return rc;
}

int sl__xlate_o2r_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                        struct sl_buf *out) {
  if (s->dir == SL_XLATE_OAI_TO_RESP) return chunk(s, data, dlen, out);
  s->tmp.n = 0;
  int irc = sl_xlate_stream_event(s->inner, event, elen, data, dlen, &s->tmp);
  return drain_inner(s, irc, out);
}

int sl__xlate_o2r_finish(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->dir == SL_XLATE_ANTH_TO_RESP) {
    s->tmp.n = 0;
    int irc = sl_xlate_stream_finish_framed(s->inner, &s->tmp);
    int rc = drain_inner(s, irc, out);
    if (rc) return rc;
  }
  if (s->final_known) return end(s, out); /* only [DONE] was missing */
  return sl__xlate_o2r_fail(s, -EPIPE, NULL, "server_error", "Upstream stream ended before its final chunk", out);
}

int sl_xlate_stream_response(const struct sl_xlate_stream *s, struct sl_buf *out) {
  if (!s->rs || !s->rs->ended || s->result != SL_XLATE_END) return -EAGAIN;
  sl_buf_append(out, s->rs->final.p ? s->rs->final.p : "", s->rs->final.n);
  return out->oom ? -ENOMEM : 0;
}
