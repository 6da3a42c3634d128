/* Chat Completions answer -> Responses `response` object, and the builders the stream
 * and the replay share (items, parts, the response object, usage, and the SSE event
 * writers). The one idea: an answer is a list of output items (reasoning, message,
 * function_call) whatever path it takes, so one builder writes each item and the
 * response object for the whole response, the stream's events and the replay alike:
 * the same answer gives the same ids and the same bytes on every path. To extend: a new
 * item kind is one case in sl__resp_item_json (and its events in xlate_resp_stream.c);
 * a new echoed request field is one line in sl__resp_object. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

void sl__resp_item_id(char *dst, size_t n, const char *prefix, const char *resp_id, int index) {
  const char *r = resp_id ? resp_id : "";
  if (strncmp(r, "resp_", 5) == 0) r += 5;
  snprintf(dst, n, "%s_%.64s_%d", prefix, r[0] ? r : "sluice", index);
}

cJSON *sl__resp_part_json(struct sl_xl *x, enum sl__resp_kind kind, enum sl__resp_part p, const char *text) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    sl__xlate_oom(x);
    return NULL;
  }
  if (kind == SL_RI_REASONING) {
    sl__xlate_add_str(x, o, "type", "summary_text");
    sl__xlate_add_str(x, o, "text", text ? text : "");
  } else if (p == SL_RP_REFUSAL) {
    sl__xlate_add_str(x, o, "type", "refusal");
    sl__xlate_add_str(x, o, "refusal", text ? text : "");
  } else {
    sl__xlate_add_str(x, o, "type", "output_text");
    sl__xlate_add_str(x, o, "text", text ? text : "");
    sl__xlate_add_arr(x, o, "annotations");
    sl__xlate_add_arr(x, o, "logprobs");
  }
  if (x->rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static const char *bufstr(const struct sl_buf *b) { return b->p ? b->p : ""; }

cJSON *sl__resp_item_json(struct sl_xl *x, const struct sl__resp_item *it, bool done) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    sl__xlate_oom(x);
    return NULL;
  }
  sl__xlate_add_str(x, o, "id", it->id);
  switch (it->kind) {
  case SL_RI_MESSAGE: {
    sl__xlate_add_str(x, o, "type", "message");
    sl__xlate_add_str(x, o, "status", done ? "completed" : "in_progress");
    sl__xlate_add_str(x, o, "role", "assistant");
    cJSON *content = sl__xlate_add_arr(x, o, "content");
    for (int i = 0; done && i < it->nparts; i++)
      sl__xlate_put(x, content, NULL,
                    sl__resp_part_json(x, SL_RI_MESSAGE, it->parts[i],
                                       bufstr(it->parts[i] == SL_RP_TEXT ? &it->text : &it->refusal)));
    break;
  }
  case SL_RI_REASONING: {
    sl__xlate_add_str(x, o, "type", "reasoning");
    cJSON *summary = sl__xlate_add_arr(x, o, "summary");
    if (done) sl__xlate_put(x, summary, NULL, sl__resp_part_json(x, SL_RI_REASONING, SL_RP_TEXT, bufstr(&it->text)));
    break;
  }
  case SL_RI_CALL:
    sl__xlate_add_str(x, o, "type", "function_call");
    sl__xlate_add_str(x, o, "status", done ? "completed" : "in_progress");
    sl__xlate_add_str(x, o, "arguments", done ? bufstr(&it->text) : "");
    sl__xlate_add_str(x, o, "call_id", it->call_id ? it->call_id : "");
    sl__xlate_add_str(x, o, "name", it->name ? it->name : "");
    break;
  }
  if (it->text.oom || it->refusal.oom) sl__xlate_oom(x);
  if (x->rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Copies req[key] when it has one of the JSON types in mask, else def (NULL: null). */
static void echo(struct sl_xl *x, cJSON *o, const cJSON *req, const char *key, int mask, cJSON *def) {
  const cJSON *v = sl__xlate_get(req, key);
  if (v && (v->type & 0xFF & mask)) {
    cJSON_Delete(def);
    sl__xlate_add_copy(x, o, key, v);
  } else {
    sl__xlate_put(x, o, key, def ? def : cJSON_CreateNull());
  }
}

cJSON *sl__resp_object(struct sl_xl *x, const struct sl__resp_meta *m, cJSON *output) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(output);
    sl__xlate_oom(x);
    return NULL;
  }
  const cJSON *req = m->req;
  sl__xlate_add_str(x, o, "id", m->id ? m->id : "");
  sl__xlate_add_str(x, o, "object", "response");
  sl__xlate_add_num(x, o, "created_at", (double)m->created);
  sl__xlate_add_str(x, o, "status", m->status);
  if (m->err_message) {
    cJSON *e = sl__xlate_add_obj(x, o, "error");
    sl__xlate_add_str(x, e, "code", m->err_code ? m->err_code : "server_error");
    sl__xlate_add_str(x, e, "message", m->err_message);
  } else {
    sl__xlate_add_null(x, o, "error");
  }
  if (m->incomplete)
    sl__xlate_add_str(x, sl__xlate_add_obj(x, o, "incomplete_details"), "reason", m->incomplete);
  else
    sl__xlate_add_null(x, o, "incomplete_details");
  echo(x, o, req, "instructions", cJSON_String | cJSON_Array, NULL);
  echo(x, o, req, "max_output_tokens", cJSON_Number, NULL);
  sl__xlate_add_str(x, o, "model", m->model ? m->model : "");
  sl__xlate_put(x, o, "output", output ? output : cJSON_CreateArray());
  echo(x, o, req, "parallel_tool_calls", cJSON_True | cJSON_False, cJSON_CreateTrue());
  echo(x, o, req, "previous_response_id", cJSON_String, NULL);
  const cJSON *rq = sl__xlate_get(req, "reasoning");
  cJSON *r = sl__xlate_add_obj(x, o, "reasoning");
  echo(x, r, rq, "effort", cJSON_String, NULL);
  echo(x, r, rq, "summary", cJSON_String, NULL);
  echo(x, o, req, "store", cJSON_True | cJSON_False, cJSON_CreateTrue());
  echo(x, o, req, "temperature", cJSON_Number, NULL);
  cJSON *text = cJSON_CreateObject();
  if (text) {
    cJSON *f = cJSON_AddObjectToObject(text, "format");
    if (!f || !cJSON_AddStringToObject(f, "type", "text")) cJSON_Delete(text), text = NULL;
  }
  if (!text) sl__xlate_oom(x);
  echo(x, o, req, "text", cJSON_Object, text);
  echo(x, o, req, "tool_choice", cJSON_String | cJSON_Object, cJSON_CreateString("auto"));
  echo(x, o, req, "tools", cJSON_Array, cJSON_CreateArray());
  echo(x, o, req, "top_p", cJSON_Number, NULL);
  sl__xlate_add_str(x, o, "truncation", "disabled");
  const struct sl__resp_usage *u = m->usage;
  if (u && u->known) {
    cJSON *us = sl__xlate_add_obj(x, o, "usage");
    sl__xlate_add_num(x, us, "input_tokens", (double)u->input);
    sl__xlate_add_num(x, sl__xlate_add_obj(x, us, "input_tokens_details"), "cached_tokens", (double)u->cached);
    sl__xlate_add_num(x, us, "output_tokens", (double)u->output);
    sl__xlate_add_num(x, sl__xlate_add_obj(x, us, "output_tokens_details"), "reasoning_tokens", (double)u->reasoning);
    sl__xlate_add_num(x, us, "total_tokens", (double)(u->input + u->output));
  } else {
    sl__xlate_add_null(x, o, "usage");
  }
  echo(x, o, req, "user", cJSON_String, NULL);
  echo(x, o, req, "metadata", cJSON_Object, cJSON_CreateObject());
  if (x->rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

void sl__resp_usage_read(const cJSON *cu, struct sl__resp_usage *u) {
  memset(u, 0, sizeof *u);
  if (!cJSON_IsObject(cu)) return;
  u->known = true;
  u->input = sl__xlate_getint(cu, "prompt_tokens");
  u->output = sl__xlate_getint(cu, "completion_tokens");
  u->cached = sl__xlate_getint(sl__xlate_get(cu, "prompt_tokens_details"), "cached_tokens");
  u->reasoning = sl__xlate_getint(sl__xlate_get(cu, "completion_tokens_details"), "reasoning_tokens");
  if (u->input < 0) u->input = 0;
  if (u->output < 0) u->output = 0;
  if (u->cached < 0 || u->cached > u->input) u->cached = u->cached < 0 ? 0 : u->input;
  if (u->reasoning < 0) u->reasoning = 0;
}

void sl__resp_usage_native(const struct sl__resp_usage *r, struct sl_xlate_usage *u) {
  memset(u, 0, sizeof *u);
  if (!r->known) return;
  u->known = true;
  u->cache_read = r->cached;
  u->input = r->input - r->cached;
  u->output = r->output;
}

const char *sl__resp_status(const char *finish, const char **incomplete) {
  *incomplete = NULL;
  if (is(finish, "length"))
    *incomplete = "max_output_tokens";
  else if (is(finish, "content_filter"))
    *incomplete = "content_filter";
  return *incomplete ? "incomplete" : "completed";
}

/* ---- events ---- */

static void ev_begin(struct sl_buf *out, int *seq, const char *type) {
  sl_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d", type, type, (*seq)++);
}

static void put_key_json(struct sl_buf *out, const char *key, const cJSON *v) {
  sl_buf_printf(out, ",\"%s\":", key);
  sl__xlate_put_json(out, v);
}

void sl__resp_ev_response(struct sl_buf *out, int *seq, const char *type, const cJSON *resp) {
  ev_begin(out, seq, type);
  put_key_json(out, "response", resp);
  sl_buf_puts(out, "}\n\n");
}

void sl__resp_ev_item(struct sl_buf *out, int *seq, const char *type, int oi, const cJSON *item) {
  ev_begin(out, seq, type);
  sl_buf_printf(out, ",\"output_index\":%d", oi);
  put_key_json(out, "item", item);
  sl_buf_puts(out, "}\n\n");
}

/* item_id, output_index and the content or summary index. */
static void ev_where(struct sl_buf *out, const char *type, const char *item_id, int oi, int ci) {
  sl_buf_puts(out, ",\"item_id\":");
  sl__xlate_put_jstr(out, item_id);
  sl_buf_printf(out, ",\"output_index\":%d", oi);
  if (ci >= 0)
    sl_buf_printf(out, strstr(type, "reasoning_summary") ? ",\"summary_index\":%d" : ",\"content_index\":%d", ci);
}

void sl__resp_ev_part(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                      const cJSON *part) {
  ev_begin(out, seq, type);
  ev_where(out, type, item_id, oi, ci);
  put_key_json(out, "part", part);
  sl_buf_puts(out, "}\n\n");
}

void sl__resp_ev_delta(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                       const char *delta, size_t n) {
  ev_begin(out, seq, type);
  ev_where(out, type, item_id, oi, ci);
  sl_buf_puts(out, ",\"delta\":");
  sl__xlate_put_jstrn(out, delta, n);
  if (strcmp(type, "response.output_text.delta") == 0) sl_buf_puts(out, ",\"logprobs\":[]");
  sl_buf_puts(out, "}\n\n");
}

void sl__resp_ev_done(struct sl_buf *out, int *seq, const char *type, const char *item_id, int oi, int ci,
                      const char *key, const char *text, const char *name) {
  ev_begin(out, seq, type);
  ev_where(out, type, item_id, oi, ci);
  sl_buf_printf(out, ",\"%s\":", key);
  sl__xlate_put_jstr(out, text ? text : "");
  if (name) {
    sl_buf_puts(out, ",\"name\":");
    sl__xlate_put_jstr(out, name);
  }
  if (strcmp(type, "response.output_text.done") == 0) sl_buf_puts(out, ",\"logprobs\":[]");
  sl_buf_puts(out, "}\n\n");
}

/* ---- the whole response ---- */

static void item_free(struct sl__resp_item *it) {
  sl_buf_free(&it->text);
  sl_buf_free(&it->refusal);
}

int sl_xlate_chat_to_resp_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o, struct sl_buf *out,
                                   struct sl_xlate_usage *u) {
  struct sl_xl x = {0};
  if (u) memset(u, 0, sizeof *u);
  cJSON *in = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *choices = sl__xlate_get(in, "choices");
  const cJSON *choice = cJSON_GetArrayItem(choices, 0);
  const cJSON *msg = sl__xlate_get(choice, "message");
  if (!cJSON_IsArray(choices) || !cJSON_IsObject(msg)) {
    cJSON_Delete(in);
    return -EBADMSG;
  }
  const char *resp_id = o ? o->resp_id : NULL;
  struct sl__resp_usage us;
  sl__resp_usage_read(sl__xlate_get(in, "usage"), &us);
  cJSON *output = cJSON_CreateArray();
  if (!output) sl__xlate_oom(&x);
  int idx = 0;
  struct sl__resp_item it;

  const char *reasoning = sl__xlate_getstr(msg, "reasoning_content");
  if (!reasoning) reasoning = sl__xlate_getstr(msg, "reasoning"); /* vLLM's name */
  if (reasoning && reasoning[0]) {
    memset(&it, 0, sizeof it);
    it.kind = SL_RI_REASONING;
    sl__resp_item_id(it.id, sizeof it.id, "rs", resp_id, idx++);
    sl_buf_puts(&it.text, reasoning);
    sl__xlate_put(&x, output, NULL, sl__resp_item_json(&x, &it, true));
    item_free(&it);
  }
  const char *text = sl__xlate_getstr(msg, "content"), *refusal = sl__xlate_getstr(msg, "refusal");
  if ((text && text[0]) || (refusal && refusal[0])) {
    memset(&it, 0, sizeof it);
    it.kind = SL_RI_MESSAGE;
    sl__resp_item_id(it.id, sizeof it.id, "msg", resp_id, idx++);
    if (text && text[0]) {
      sl_buf_puts(&it.text, text);
      it.parts[it.nparts++] = SL_RP_TEXT;
    }
    if (refusal && refusal[0]) {
      sl_buf_puts(&it.refusal, refusal);
      it.parts[it.nparts++] = SL_RP_REFUSAL;
    }
    sl__xlate_put(&x, output, NULL, sl__resp_item_json(&x, &it, true));
    item_free(&it);
  }
  const cJSON *tc;
  int k = 0;
  cJSON_ArrayForEach(tc, sl__xlate_get(msg, "tool_calls")) {
    const cJSON *fn = sl__xlate_get(tc, "function");
    const char *args = sl__xlate_getstr(fn, "arguments");
    char synth[48];
    memset(&it, 0, sizeof it);
    it.kind = SL_RI_CALL;
    sl__resp_item_id(it.id, sizeof it.id, "fc", resp_id, idx++);
    it.call_id = (char *)sl__xlate_getstr(tc, "id");
    if (!it.call_id) {
      snprintf(synth, sizeof synth, "call_sluice_%d", k);
      it.call_id = synth;
    }
    it.name = (char *)sl__xlate_getstr(fn, "name");
    sl_buf_puts(&it.text, args ? args : "");
    sl__xlate_put(&x, output, NULL, sl__resp_item_json(&x, &it, true));
    item_free(&it);
    k++;
  }
  const char *incomplete;
  struct sl__resp_meta m = {
      .req = o ? o->resp_req : NULL,
      .id = resp_id,
      .model = sl__xlate_getstr(in, "model"),
      .created = o ? o->created : 0,
      .status = sl__resp_status(sl__xlate_getstr(choice, "finish_reason"), &incomplete),
      .usage = &us,
  };
  m.incomplete = incomplete;
  cJSON *root = x.rc ? (cJSON_Delete(output), NULL) : sl__resp_object(&x, &m, output);
  sl__xlate_print(&x, root, out);
  cJSON_Delete(root);
  cJSON_Delete(in);
  if (u && !x.rc) sl__resp_usage_native(&us, u);
  return x.rc;
}
