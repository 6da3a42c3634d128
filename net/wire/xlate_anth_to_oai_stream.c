/* Anthropic Messages stream -> OpenAI chat.completion.chunk stream. The one idea:
 * Anthropic addresses every delta to a content block by index, OpenAI to the one choice
 * (text) or to a tool call by its own index; a small map from block index to (kind, tool
 * index) is all the state a delta needs, and everything else is written as it comes:
 *   message_start        -> role chunk {"role":"assistant","content":""}
 *   content_block_start  -> tool_use: tool call head (id, type, name, arguments "")
 *   text_delta           -> delta.content; input_json_delta -> tool_calls[k].arguments;
 *                           thinking_delta -> delta.reasoning_content
 *   message_delta        -> finish chunk (stop_reason through the table); usage kept
 *   message_stop         -> usage chunk (when asked for), then data: [DONE]
 *   content_block_stop   -> arguments "{}" for a tool call that got none
 *   ping, signature/citations deltas -> nothing
 * With o.json_tool, the tool_use block named SL_XLATE_JSON_TOOL is content: its
 * input_json_delta pieces are content deltas ("{}" when it got none), and the finish
 * reason tool_use is "stop" when no other tool was called.
 *   error                -> data: {"error":{...}} and the stream is over (-EPROTO). */
#include <errno.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

static void chunk_begin(struct sl_xlate_stream *s, struct sl_buf *out) {
  sl_buf_puts(out, "data: {\"id\":");
  sl__xlate_put_jstr(out, s->id ? s->id : "");
  sl_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":", (long long)s->o.created);
  sl__xlate_put_jstr(out, s->model ? s->model : "");
}

/* A chunk with one choice: delta is JSON text, finish a table string or NULL. */
static void chunk(struct sl_xlate_stream *s, struct sl_buf *out, const char *delta, const char *finish) {
  chunk_begin(s, out);
  sl_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
  sl_buf_puts(out, delta);
  sl_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
  sl__xlate_put_jstr(out, finish);
  sl_buf_puts(out, s->o.include_usage ? "}],\"usage\":null}\n\n" : "}]}\n\n");
}

/* A delta with one string field (content or reasoning_content). */
static void text_chunk(struct sl_xlate_stream *s, struct sl_buf *out, const char *field, const char *text) {
  if (!text || !text[0]) return;
  chunk_begin(s, out);
  sl_buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{\"%s\":", field);
  sl__xlate_put_jstr(out, text);
  sl_buf_puts(out, s->o.include_usage ? "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
                                      : "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

/* A tool_calls delta: the head (id and name non-NULL) or an arguments piece. */
static void tool_chunk(struct sl_xlate_stream *s, struct sl_buf *out, int index, const char *id, const char *name,
                       const char *args) {
  chunk_begin(s, out);
  sl_buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d", index);
  if (id) {
    sl_buf_puts(out, ",\"id\":");
    sl__xlate_put_jstr(out, id);
    sl_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":");
    sl__xlate_put_jstr(out, name ? name : "");
    sl_buf_puts(out, ",\"arguments\":");
  } else {
    sl_buf_puts(out, ",\"function\":{\"arguments\":");
  }
  sl__xlate_put_jstr(out, args ? args : "");
  sl_buf_puts(out, s->o.include_usage ? "}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
                                      : "}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

/* Present counters are whole-message totals: they overwrite, never add. */
static void usage_from(struct sl_xlate_stream *s, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  const struct {
    const char *key;
    int64_t *dst;
  } fields[] = {
    {"input_tokens", &s->usage.input},
    {"output_tokens", &s->usage.output},
    {"cache_read_input_tokens", &s->usage.cache_read},
    {"cache_creation_input_tokens", &s->usage.cache_creation},
  };
  s->usage.known = true;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (cJSON_IsNumber(sl__xlate_get(u, fields[i].key))) *fields[i].dst = sl__xlate_getint(u, fields[i].key);
}

/* A tool call whose input never arrived in pieces gets "{}" (as OpenAI sends for a
 * call without arguments) so that clients can always parse arguments. */
static void tool_done(struct sl_xlate_stream *s, struct sl__xlate_map *m, struct sl_buf *out) {
  if ((m->kind != SL_XL_BLK_TOOL && m->kind != SL_XL_BLK_JSON) || m->args) return;
  m->args = true;
  if (m->kind == SL_XL_BLK_JSON) text_chunk(s, out, "content", "{}");
  else tool_chunk(s, out, m->val, NULL, NULL, "{}");
}

static void finish_chunk(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->finish_sent) return;
  s->finish_sent = true;
  for (size_t i = 0; i < s->nmap; i++) tool_done(s, &s->map[i], out);
  chunk(s, out, "{}", s->reason ? s->reason : "stop");
}

static int end(struct sl_xlate_stream *s, struct sl_buf *out) {
  finish_chunk(s, out);
  if (s->o.include_usage) {
    const struct sl_xlate_usage *u = &s->usage;
    int64_t prompt = u->input + u->cache_read + u->cache_creation;
    chunk_begin(s, out);
    sl_buf_printf(out,
                  ",\"choices\":[],\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":%lld}}}\n\n",
                  (long long)prompt, (long long)u->output, (long long)(prompt + u->output), (long long)u->cache_read);
  }
  sl_buf_puts(out, "data: [DONE]\n\n");
  return SL_XLATE_END;
}

static int bad(struct sl_xlate_stream *s, struct sl_buf *out, const char *why) {
  return sl__xlate_stream_fail(s, -EBADMSG, 502, why, out);
}

static int block_start(struct sl_xlate_stream *s, const cJSON *ev, struct sl_buf *out) {
  const cJSON *cb = sl__xlate_get(ev, "content_block");
  int idx;
  if (!sl__xlate_getidx(ev, "index", &idx) || !cJSON_IsObject(cb)) return bad(s, out, "Upstream sent a malformed content_block_start");
  if (sl__xlate_map_find(s, idx)) return 0; /* a repeated start: keep the first */
  const char *type = sl__xlate_getstr(cb, "type");
  enum sl__xlate_blk kind = !type ? SL_XL_BLK_OTHER
                      : strcmp(type, "text") == 0 ? SL_XL_BLK_TEXT
                      : strcmp(type, "tool_use") == 0 ? SL_XL_BLK_TOOL
                      : strcmp(type, "thinking") == 0 ? SL_XL_BLK_THINKING : SL_XL_BLK_OTHER;
  const char *tname = sl__xlate_getstr(cb, "name");
  if (kind == SL_XL_BLK_TOOL && s->o.json_tool && tname && strcmp(tname, SL_XLATE_JSON_TOOL) == 0)
    kind = SL_XL_BLK_JSON;
  int tool = kind == SL_XL_BLK_TOOL ? s->next_tool : -1;
  if (!sl__xlate_map_add(s, idx, tool, kind)) return bad(s, out, "Upstream sent too many content blocks");
  switch (kind) {
  case SL_XL_BLK_TEXT:
    text_chunk(s, out, "content", sl__xlate_getstr(cb, "text"));
    break;
  case SL_XL_BLK_THINKING:
    text_chunk(s, out, "reasoning_content", sl__xlate_getstr(cb, "thinking"));
    break;
  case SL_XL_BLK_TOOL: {
    s->next_tool++;
    s->any_tool = true;
    const char *id = sl__xlate_getstr(cb, "id");
    const cJSON *input = sl__xlate_get(cb, "input");
    /* The input is {} when deltas follow; a non-empty one is the whole input. */
    char *args = cJSON_IsObject(input) && input->child ? cJSON_PrintUnformatted(input) : NULL;
    if (cJSON_IsObject(input) && input->child && !args) return -ENOMEM;
    tool_chunk(s, out, tool, id ? id : "", sl__xlate_getstr(cb, "name"), args ? args : "");
    if (args) s->map[s->nmap - 1].args = true;
    cJSON_free(args);
    break;
  }
  case SL_XL_BLK_JSON: {
    const cJSON *input = sl__xlate_get(cb, "input");
    char *j = cJSON_IsObject(input) && input->child ? cJSON_PrintUnformatted(input) : NULL;
    if (cJSON_IsObject(input) && input->child && !j) return -ENOMEM;
    if (j) {
      text_chunk(s, out, "content", j);
      s->map[s->nmap - 1].args = true;
    }
    cJSON_free(j);
    break;
  }
  default:
    break;
  }
  return 0;
}

static int block_delta(struct sl_xlate_stream *s, const cJSON *ev, struct sl_buf *out) {
  int idx;
  const cJSON *d = sl__xlate_get(ev, "delta");
  if (!sl__xlate_getidx(ev, "index", &idx) || !cJSON_IsObject(d)) return bad(s, out, "Upstream sent a malformed content_block_delta");
  struct sl__xlate_map *m = sl__xlate_map_find(s, idx);
  const char *type = sl__xlate_getstr(d, "type");
  if (!m || !type) return 0; /* a delta for a block never started: nothing to attach it to */
  if (strcmp(type, "text_delta") == 0 && m->kind == SL_XL_BLK_TEXT)
    text_chunk(s, out, "content", sl__xlate_getstr(d, "text"));
  else if (strcmp(type, "thinking_delta") == 0 && m->kind == SL_XL_BLK_THINKING)
    text_chunk(s, out, "reasoning_content", sl__xlate_getstr(d, "thinking"));
  else if (strcmp(type, "input_json_delta") == 0 && m->kind == SL_XL_BLK_JSON) {
    const char *pj = sl__xlate_getstr(d, "partial_json");
    if (pj && pj[0]) {
      text_chunk(s, out, "content", pj);
      m->args = true;
    }
  } else if (strcmp(type, "input_json_delta") == 0 && m->kind == SL_XL_BLK_TOOL) {
    const char *pj = sl__xlate_getstr(d, "partial_json");
    if (pj && pj[0]) {
      tool_chunk(s, out, m->val, NULL, NULL, pj);
      m->args = true;
    }
  }
  return 0;
}

int sl__xlate_a2o_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                    struct sl_buf *out) {
  char name[32] = "";
  if (elen < sizeof name) memcpy(name, event, elen), name[elen] = 0;
  cJSON *ev = cJSON_ParseWithLength(data, dlen);
  const char *type = sl__xlate_getstr(ev, "type");
  if (!type && name[0]) type = name;
  int rc = 0;
  if (!cJSON_IsObject(ev) || !type) {
    rc = bad(s, out, "Upstream sent a stream event that is not Anthropic JSON");
  } else if (strcmp(type, "error") == 0 || strcmp(name, "error") == 0) {
    struct sl__xlate_err e;
    if (!sl__xlate_err_read(ev, &e)) e.message = "Upstream stream error", e.message_len = strlen(e.message);
    sl_buf_puts(out, "data: ");
    sl__xlate_err_write(SL_WIRE_OPENAI, 0, &e, out);
    sl_buf_puts(out, "\n\n");
    rc = -EPROTO;
  } else if (strcmp(type, "ping") == 0) {
    rc = 0;
  } else if (strcmp(type, "message_start") == 0) {
    const cJSON *msg = sl__xlate_get(ev, "message");
    if (!s->began) {
      if (!sl__xlate_strset(&s->id, sl__xlate_getstr(msg, "id")) || !sl__xlate_strset(&s->model, sl__xlate_getstr(msg, "model")))
        rc = -ENOMEM;
      usage_from(s, sl__xlate_get(msg, "usage"));
      s->began = true;
      chunk(s, out, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    }
  } else if (!s->began) {
    rc = bad(s, out, "Upstream stream did not begin with message_start");
  } else if (strcmp(type, "content_block_start") == 0) {
    rc = block_start(s, ev, out);
  } else if (strcmp(type, "content_block_delta") == 0) {
    rc = block_delta(s, ev, out);
  } else if (strcmp(type, "content_block_stop") == 0) {
    int idx;
    struct sl__xlate_map *m = sl__xlate_getidx(ev, "index", &idx) ? sl__xlate_map_find(s, idx) : NULL;
    if (m) tool_done(s, m, out);
  } else if (strcmp(type, "message_delta") == 0) {
    const cJSON *d = sl__xlate_get(ev, "delta");
    const char *sr = sl__xlate_getstr(d, "stop_reason");
    if (sr) s->reason = sl__xlate_finish_reason(sr);
    /* the json tool's call is the answer: "stop" unless the client's tools were called */
    if (s->o.json_tool && !s->any_tool && s->reason && strcmp(s->reason, "tool_calls") == 0) s->reason = "stop";
    s->final_known = true;
    usage_from(s, sl__xlate_get(ev, "usage"));
    finish_chunk(s, out);
  } else if (strcmp(type, "message_stop") == 0) {
    rc = end(s, out);
  }
  /* unknown (newer) event types: nothing to say */
  cJSON_Delete(ev);
  return rc;
}

int sl__xlate_a2o_finish(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->final_known) return end(s, out); /* only message_stop was missing */
  return sl__xlate_stream_fail(s, -EPIPE, 502, "Upstream stream ended before message_stop", out);
}
