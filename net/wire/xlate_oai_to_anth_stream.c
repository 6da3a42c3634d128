/* OpenAI chat.completion.chunk stream -> Anthropic Messages stream, in the event order
 * the official SDK's MessageStream assembles: message_start, then per content block
 * content_block_start / content_block_delta... / content_block_stop, then message_delta
 * (stop_reason, usage) and message_stop. The one idea: OpenAI deltas are unordered
 * fields of one choice, Anthropic wants one open block at a time, so each delta field
 * picks the block kind it belongs to (thinking for reasoning_content, text for content
 * and refusal, a tool_use block per tool call index) and a change of kind closes the
 * open block and starts the next. Usage comes last in an OpenAI stream (the request
 * translator asks for it with stream_options.include_usage), so message_delta is
 * written only at [DONE], carrying input and output tokens. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

static void ev_begin(struct sl_buf *out, const char *name) {
  sl_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", name, name);
}

static void message_start(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->began) return;
  s->began = true;
  ev_begin(out, "message_start");
  sl_buf_puts(out, ",\"message\":{\"id\":");
  sl__xlate_put_jstr(out, s->id ? s->id : "");
  sl_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
  sl__xlate_put_jstr(out, s->model ? s->model : "");
  sl_buf_printf(out,
                ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":%lld,"
                "\"output_tokens\":0}}}\n\n",
                (long long)s->usage.input);
}

static void close_block(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->open_block < 0) return;
  ev_begin(out, "content_block_stop");
  sl_buf_printf(out, ",\"index\":%d}\n\n", s->open_block);
  s->open_block = -1;
  s->open_kind = SL_XL_BLK_NONE;
}

/* Closes the open block and starts one of kind; returns its index. */
static int open_block(struct sl_xlate_stream *s, struct sl_buf *out, enum sl__xlate_blk kind, const char *id,
                      const char *name) {
  close_block(s, out);
  int idx = s->next_block++;
  ev_begin(out, "content_block_start");
  sl_buf_printf(out, ",\"index\":%d,\"content_block\":", idx);
  if (kind == SL_XL_BLK_THINKING) {
    sl_buf_puts(out, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n");
  } else if (kind == SL_XL_BLK_TOOL) {
    sl_buf_puts(out, "{\"type\":\"tool_use\",\"id\":");
    sl__xlate_put_jstr(out, id);
    sl_buf_puts(out, ",\"name\":");
    sl__xlate_put_jstr(out, name ? name : "");
    sl_buf_puts(out, ",\"input\":{}}}\n\n");
  } else {
    sl_buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
  }
  s->open_block = idx;
  s->open_kind = kind;
  s->any_block = true;
  return idx;
}

static void block_delta(struct sl_buf *out, int idx, enum sl__xlate_blk kind, const char *piece) {
  static const char *const shapes[][2] = {
    [SL_XL_BLK_TEXT] = {"text_delta", "text"},
    [SL_XL_BLK_THINKING] = {"thinking_delta", "thinking"},
    [SL_XL_BLK_TOOL] = {"input_json_delta", "partial_json"},
  };
  ev_begin(out, "content_block_delta");
  sl_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":", idx, shapes[kind][0], shapes[kind][1]);
  sl__xlate_put_jstr(out, piece);
  sl_buf_puts(out, "}}\n\n");
}

/* A piece of text or thinking: into the open block of that kind, or a new one. */
static void text_piece(struct sl_xlate_stream *s, struct sl_buf *out, enum sl__xlate_blk kind, const char *piece) {
  if (!piece || !piece[0]) return;
  if (s->open_kind != kind) open_block(s, out, kind, NULL, NULL);
  block_delta(out, s->open_block, kind, piece);
}

static void read_usage(struct sl_xlate_stream *s, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  s->usage.known = true;
  int64_t prompt = sl__xlate_getint(u, "prompt_tokens");
  int64_t cached = sl__xlate_getint(sl__xlate_get(u, "prompt_tokens_details"), "cached_tokens");
  if (cached < 0) cached = 0;
  s->usage.cache_read = cached;
  s->usage.input = prompt > cached ? prompt - cached : 0;
  s->usage.output = sl__xlate_getint(u, "completion_tokens");
}

static int bad(struct sl_xlate_stream *s, struct sl_buf *out, const char *why) {
  return sl__xlate_stream_fail(s, -EBADMSG, 502, why, out);
}

static int tool_calls(struct sl_xlate_stream *s, const cJSON *calls, struct sl_buf *out) {
  const cJSON *tc;
  int pos = 0;
  cJSON_ArrayForEach(tc, calls) {
    int idx;
    if (!sl__xlate_getidx(tc, "index", &idx)) idx = pos;
    pos++;
    const cJSON *fn = sl__xlate_get(tc, "function");
    struct sl__xlate_map *m = sl__xlate_map_find(s, idx);
    if (!m) {
      char synth[32];
      const char *id = sl__xlate_getstr(tc, "id");
      if (!id) {
        snprintf(synth, sizeof synth, "toolu_sluice_%d", idx);
        id = synth;
      }
      int bi = open_block(s, out, SL_XL_BLK_TOOL, id, sl__xlate_getstr(fn, "name"));
      if (!(m = sl__xlate_map_add(s, idx, bi, SL_XL_BLK_TOOL))) return bad(s, out, "Upstream sent too many tool calls");
      s->any_tool = true;
    }
    const char *args = sl__xlate_getstr(fn, "arguments");
    if (args && args[0]) block_delta(out, m->val, SL_XL_BLK_TOOL, args);
  }
  return 0;
}

static int end(struct sl_xlate_stream *s, struct sl_buf *out) {
  message_start(s, out);
  if (!s->any_block) open_block(s, out, SL_XL_BLK_TEXT, NULL, NULL); /* SDKs expect a block */
  close_block(s, out);
  const char *reason = s->reason ? s->reason : "end_turn";
  /* Some OpenAI-compatible servers say "stop" after tool calls. */
  if (s->any_tool && strcmp(reason, "end_turn") == 0) reason = "tool_use";
  const struct sl_xlate_usage *u = &s->usage;
  ev_begin(out, "message_delta");
  sl_buf_printf(out,
                ",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":%lld,"
                "\"cache_creation_input_tokens\":%lld,\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld}}\n\n",
                reason, (long long)u->input, (long long)u->cache_creation, (long long)u->cache_read,
                (long long)u->output);
  ev_begin(out, "message_stop");
  sl_buf_puts(out, "}\n\n");
  return SL_XLATE_END;
}

int sl__xlate_o2a_event(struct sl_xlate_stream *s, const char *event, size_t elen, const char *data, size_t dlen,
                    struct sl_buf *out) {
  if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0) return end(s, out);
  cJSON *ev = cJSON_ParseWithLength(data, dlen);
  if (!cJSON_IsObject(ev)) {
    cJSON_Delete(ev);
    return bad(s, out, "Upstream sent a stream event that is not OpenAI JSON");
  }
  const cJSON *err = sl__xlate_get(ev, "error");
  if ((err && !cJSON_IsNull(err)) || (elen == 5 && memcmp(event, "error", 5) == 0)) {
    struct sl__xlate_err e;
    if (!sl__xlate_err_read(ev, &e)) e.message = "Upstream stream error", e.message_len = strlen(e.message);
    sl_buf_puts(out, "event: error\ndata: ");
    sl__xlate_err_write(SL_WIRE_ANTHROPIC, 0, &e, out);
    sl_buf_puts(out, "\n\n");
    cJSON_Delete(ev);
    return -EPROTO;
  }
  int rc = 0;
  read_usage(s, sl__xlate_get(ev, "usage"));
  if (!s->began) {
    if (!sl__xlate_strset(&s->id, sl__xlate_getstr(ev, "id")) || !sl__xlate_strset(&s->model, sl__xlate_getstr(ev, "model"))) {
      cJSON_Delete(ev);
      return -ENOMEM;
    }
    message_start(s, out);
  }
  const cJSON *choices = sl__xlate_get(ev, "choices"), *ch, *choice = NULL;
  cJSON_ArrayForEach(ch, (cJSON_IsArray(choices) ? choices : NULL)) {
    int idx;
    if (!sl__xlate_getidx(ch, "index", &idx) || idx == 0) { /* the Anthropic format has one answer */
      choice = ch;
      break;
    }
  }
  const cJSON *delta = sl__xlate_get(choice, "delta");
  if (cJSON_IsObject(delta)) {
    const char *r = sl__xlate_getstr(delta, "reasoning_content");
    text_piece(s, out, SL_XL_BLK_THINKING, r ? r : sl__xlate_getstr(delta, "reasoning"));
    text_piece(s, out, SL_XL_BLK_TEXT, sl__xlate_getstr(delta, "content"));
    text_piece(s, out, SL_XL_BLK_TEXT, sl__xlate_getstr(delta, "refusal"));
    const cJSON *calls = sl__xlate_get(delta, "tool_calls");
    if (cJSON_IsArray(calls)) rc = tool_calls(s, calls, out);
  }
  const char *fr = sl__xlate_getstr(choice, "finish_reason");
  if (fr) {
    s->reason = sl__xlate_stop_reason(fr);
    s->final_known = true;
  }
  cJSON_Delete(ev);
  return rc;
}

int sl__xlate_o2a_finish(struct sl_xlate_stream *s, struct sl_buf *out) {
  if (s->final_known) return end(s, out); /* only [DONE] was missing */
  return sl__xlate_stream_fail(s, -EPIPE, 502, "Upstream stream ended before its finish_reason", out);
}
