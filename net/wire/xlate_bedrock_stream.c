/* ConverseStream events -> OpenAI chat.completion.chunk SSE bytes. The one idea: like the
 * Anthropic stream translator, Converse addresses every delta to a content block by
 * contentBlockIndex; a small map from block index to (kind, tool_calls index) is all the
 * state a delta needs, and everything else is written as it comes. The stream is written
 * as if the client asked for stream_options.include_usage ("usage":null on every chunk, a
 * final usage chunk): sluice's usage filter strips it when the client did not ask.
 *   messageStart                      -> role chunk {"role":"assistant","content":""}
 *   contentBlockStart {toolUse}       -> tool call head (index, id, type, name, arguments "")
 *   contentBlockDelta {text}          -> delta.content
 *                     {toolUse:{input}} -> tool_calls[k].function.arguments piece
 *                     {reasoningContent:{text}} -> delta.reasoning_content (signature,
 *                                        redactedContent: no OpenAI stream field)
 *   contentBlockStop                  -> arguments "{}" for a tool call that got none
 *   messageStop {stopReason}          -> finish chunk (stopReason through the table)
 *   metadata {usage}                  -> usage chunk, then data: [DONE]
 *   *Exception {message}              -> data: {"error":{...}} and -EPROTO
 * The payload may also come wrapped in its event name ({"messageStart":{...}}, the shape of
 * the SDKs' union). With o.json_tool, the toolUse block named SL_XLATE_JSON_TOOL is content.
 * Errors (-EPROTO, -EINVAL, -EPIPE) end the output with an in-band OpenAI error event and
 * are sticky: later calls append nothing and return the same code.
 * Extend: a new event is one branch in sl_converse_stream_event; a new delta kind one in
 * block_delta(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/wire/xlate_bedrock_internal.h"

enum blk { BLK_TEXT, BLK_REASONING, BLK_TOOL, BLK_JSON };

struct map {
  int index, tool;
  enum blk kind;
  bool args;
};

struct sl_converse_stream {
  struct sl_xlate_resp_opts o;
  char id[64];
  char *model;
  int result;
  bool began, stopped, done, finish_sent, any_tool;
  const char *reason;
  struct sl_xlate_usage usage;
  struct map *map;
  size_t nmap, cap;
  int next_tool;
};

int sl_converse_stream_new(const struct sl_xlate_resp_opts *o, const char *model, struct sl_converse_stream **out) {
  struct sl_converse_stream *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return -ENOMEM;
  if (o) s->o = *o;
  s->o.resp_req = NULL;
  s->model = strdup(model ? model : "");
  if (!s->model) {
    free(s);
    return -ENOMEM;
  }
  uintptr_t self = (uintptr_t)s; /* two streams in the same second get different ids */
  struct {
    uintptr_t self;
    char model[64];
  } seed = {self, {0}};
  strncpy(seed.model, s->model, sizeof seed.model - 1);
  sl__bedrock_chat_id(s->id, o, &seed, sizeof seed);
  *out = s;
  return 0;
}

void sl_converse_stream_free(struct sl_converse_stream *s) {
  if (!s) return;
  free(s->map);
  free(s->model);
  free(s);
}

static struct map *find(struct sl_converse_stream *s, int index) {
  for (size_t i = 0; i < s->nmap; i++)
    if (s->map[i].index == index) return &s->map[i];
  return NULL;
}

static struct map *add(struct sl_converse_stream *s, int index, enum blk kind) {
  if (s->nmap >= SL_XL_MAX_BLOCKS) return NULL;
  if (s->nmap == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    struct map *m = realloc(s->map, cap * sizeof *m);
    if (!m) return NULL;
    s->map = m, s->cap = cap;
  }
  struct map *m = &s->map[s->nmap++];
  *m = (struct map){index, kind == BLK_TOOL ? s->next_tool++ : -1, kind, false};
  return m;
}

static void chunk_begin(struct sl_converse_stream *s, struct sl_buf *out) {
  sl_buf_puts(out, "data: {\"id\":");
  sl__xlate_put_jstr(out, s->id);
  sl_buf_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":", (long long)s->o.created);
  sl__xlate_put_jstr(out, s->model);
}

static void chunk(struct sl_converse_stream *s, struct sl_buf *out, const char *delta, const char *finish) {
  chunk_begin(s, out);
  sl_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":");
  sl_buf_puts(out, delta);
  sl_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":");
  sl__xlate_put_jstr(out, finish);
  sl_buf_puts(out, "}],\"usage\":null}\n\n");
}

static void text_chunk(struct sl_converse_stream *s, struct sl_buf *out, const char *field, const char *text) {
  if (!text || !text[0]) return;
  chunk_begin(s, out);
  sl_buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{\"%s\":", field);
  sl__xlate_put_jstr(out, text);
  sl_buf_puts(out, "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
}

static void tool_chunk(struct sl_converse_stream *s, struct sl_buf *out, int index, const char *id, const char *name,
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
  sl_buf_puts(out, "}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
}

static void tool_done(struct sl_converse_stream *s, struct map *m, struct sl_buf *out) {
  if ((m->kind != BLK_TOOL && m->kind != BLK_JSON) || m->args) return;
  m->args = true;
  if (m->kind == BLK_JSON)
    text_chunk(s, out, "content", "{}");
  else
    tool_chunk(s, out, m->tool, NULL, NULL, "{}");
}

static void finish_chunk(struct sl_converse_stream *s, struct sl_buf *out) {
  if (s->finish_sent) return;
  s->finish_sent = true;
  for (size_t i = 0; i < s->nmap; i++) tool_done(s, &s->map[i], out);
  chunk(s, out, "{}", s->reason ? s->reason : "stop");
}

static void end(struct sl_converse_stream *s, struct sl_buf *out) {
  if (s->done) return;
  s->done = true;
  finish_chunk(s, out);
  const struct sl_xlate_usage *u = &s->usage;
  int64_t prompt = u->input + u->cache_read + u->cache_creation;
  chunk_begin(s, out);
  sl_buf_printf(out,
                ",\"choices\":[],\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
                "\"prompt_tokens_details\":{\"cached_tokens\":%lld}}}\n\n",
                (long long)prompt, (long long)u->output, (long long)(prompt + u->output), (long long)u->cache_read);
  sl_buf_puts(out, "data: [DONE]\n\n");
}

/* Ends the stream with an in-band error; returns code (sticky). */
static int fail(struct sl_converse_stream *s, int code, int status, const char *type, size_t tn, const char *payload,
                size_t pn, struct sl_buf *out) {
  sl_buf_puts(out, "data: ");
  sl_bedrock_error_to_oai(status, type, tn, payload, pn, out);
  sl_buf_puts(out, "\n\n");
  s->result = code;
  return code;
}

static int bad(struct sl_converse_stream *s, struct sl_buf *out, const char *why) {
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"message\":");
  sl__xlate_put_jstr(&b, why);
  sl_buf_puts(&b, "}");
  int rc = b.oom ? -ENOMEM : fail(s, -EINVAL, 502, NULL, 0, b.p, b.n, out);
  sl_buf_free(&b);
  if (rc == -ENOMEM) s->result = rc;
  return rc;
}

static void usage_from(struct sl_converse_stream *s, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  const struct {
    const char *key;
    int64_t *dst;
  } fields[] = {
      {"inputTokens", &s->usage.input},
      {"outputTokens", &s->usage.output},
      {"cacheReadInputTokens", &s->usage.cache_read},
      {"cacheWriteInputTokens", &s->usage.cache_creation},
  };
  s->usage.known = true;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (cJSON_IsNumber(sl__xlate_get(u, fields[i].key))) *fields[i].dst = sl__xlate_getint(u, fields[i].key);
}

static int block_start(struct sl_converse_stream *s, const cJSON *ev, struct sl_buf *out) {
  int idx;
  const cJSON *st = sl__xlate_get(ev, "start");
  if (!sl__xlate_getidx(ev, "contentBlockIndex", &idx) || !cJSON_IsObject(st))
    return bad(s, out, "Bedrock sent a malformed contentBlockStart");
  const cJSON *tu = sl__xlate_get(st, "toolUse");
  if (!cJSON_IsObject(tu) || find(s, idx)) return 0; /* other starts carry nothing to say; a repeat: keep the first */
  const char *name = sl__xlate_getstr(tu, "name"), *id = sl__xlate_getstr(tu, "toolUseId");
  bool json = s->o.json_tool && name && strcmp(name, SL_XLATE_JSON_TOOL) == 0;
  struct map *m = add(s, idx, json ? BLK_JSON : BLK_TOOL);
  if (!m) return bad(s, out, "Bedrock sent too many content blocks");
  if (!json) {
    s->any_tool = true;
    tool_chunk(s, out, m->tool, id ? id : "", name, "");
  }
  return 0;
}

static int block_delta(struct sl_converse_stream *s, const cJSON *ev, struct sl_buf *out) {
  int idx;
  const cJSON *d = sl__xlate_get(ev, "delta");
  if (!sl__xlate_getidx(ev, "contentBlockIndex", &idx) || !cJSON_IsObject(d))
    return bad(s, out, "Bedrock sent a malformed contentBlockDelta");
  struct map *m = find(s, idx);
  const char *text = sl__xlate_getstr(d, "text");
  const cJSON *tu = sl__xlate_get(d, "toolUse"), *rc = sl__xlate_get(d, "reasoningContent");
  if (text) {
    if (!m && !(m = add(s, idx, BLK_TEXT))) return bad(s, out, "Bedrock sent too many content blocks");
    if (m->kind == BLK_TEXT) text_chunk(s, out, "content", text);
  } else if (cJSON_IsObject(rc)) {
    if (!m && !(m = add(s, idx, BLK_REASONING))) return bad(s, out, "Bedrock sent too many content blocks");
    if (m->kind == BLK_REASONING) text_chunk(s, out, "reasoning_content", sl__xlate_getstr(rc, "text"));
  } else if (cJSON_IsObject(tu) && m && (m->kind == BLK_TOOL || m->kind == BLK_JSON)) {
    const char *in = sl__xlate_getstr(tu, "input");
    if (in && in[0]) {
      if (m->kind == BLK_JSON)
        text_chunk(s, out, "content", in);
      else
        tool_chunk(s, out, m->tool, NULL, NULL, in);
      m->args = true;
    }
  }
  /* a toolUse delta for a block never started: nothing to attach it to */
  return 0;
}

static const char *const events[] = {"messageStart",     "contentBlockStart", "contentBlockDelta",
                                     "contentBlockStop", "messageStop",       "metadata"};

static bool is_exception(const char *t, size_t n) {
  static const char suffix[] = "exception";
  const char *colon = memchr(t, ':', n);
  if (colon) n = (size_t)(colon - t);
  return n >= sizeof suffix - 1 && strncasecmp(t + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
}

int sl_converse_stream_event(struct sl_converse_stream *s, const char *type, size_t tn, const char *payload, size_t pn,
                             struct sl_buf *out) {
  if (s->result) return s->result;
  if (s->done) return 0; /* after the usage chunk and [DONE]: the answer is over, nothing more to say */
  if (!type) tn = 0;
  if (tn && is_exception(type, tn)) {
    int st = sl_bedrock_error_status(type, tn);
    return fail(s, -EPROTO, st ? st : 500, type, tn, payload, pn, out);
  }
  cJSON *root = payload && pn ? cJSON_ParseWithLength(payload, pn) : NULL;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bad(s, out, "Bedrock sent a stream event that is not a JSON object");
  }
  char name[32] = "";
  if (tn && tn < sizeof name) memcpy(name, type, tn), name[tn] = 0;
  const cJSON *ev = root;
  if (!name[0] || cJSON_IsObject(sl__xlate_get(root, name))) { /* the union shape {"messageStart":{...}} */
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
      const cJSON *inner = sl__xlate_get(root, events[i]);
      if (cJSON_IsObject(inner) && (!name[0] || strcmp(name, events[i]) == 0)) {
        ev = inner;
        if (!name[0]) strcpy(name, events[i]);
        break;
      }
    }
  }
  int rc = 0;
  if (strcmp(name, "messageStart") == 0) {
    if (!s->began) chunk(s, out, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
    s->began = true;
  } else if (strcmp(name, "metadata") == 0) {
    usage_from(s, sl__xlate_get(ev, "usage"));
    if (s->stopped) end(s, out);
  } else if (!s->began) {
    if (strcmp(name, "contentBlockStart") == 0 || strcmp(name, "contentBlockDelta") == 0 ||
        strcmp(name, "contentBlockStop") == 0 || strcmp(name, "messageStop") == 0)
      rc = bad(s, out, "Bedrock stream did not begin with messageStart");
  } else if (s->stopped) {
    rc = 0; /* content after messageStop: the answer is over */
  } else if (strcmp(name, "contentBlockStart") == 0) {
    rc = block_start(s, ev, out);
  } else if (strcmp(name, "contentBlockDelta") == 0) {
    rc = block_delta(s, ev, out);
  } else if (strcmp(name, "contentBlockStop") == 0) {
    int idx;
    struct map *m = sl__xlate_getidx(ev, "contentBlockIndex", &idx) ? find(s, idx) : NULL;
    if (m) tool_done(s, m, out);
  } else if (strcmp(name, "messageStop") == 0) {
    const char *sr = sl__xlate_getstr(ev, "stopReason");
    s->reason = sl__bedrock_finish_reason(sr);
    if (s->o.json_tool && !s->any_tool && strcmp(s->reason, "tool_calls") == 0) s->reason = "stop";
    s->stopped = true;
    finish_chunk(s, out);
  }
  /* unknown (newer) event types: nothing to say */
  cJSON_Delete(root);
  if (!rc && out->oom) rc = s->result = -ENOMEM;
  return rc;
}

int sl_converse_stream_finish(struct sl_converse_stream *s, struct sl_buf *out, struct sl_xlate_usage *u) {
  if (u) *u = s->usage;
  if (s->result) return s->result;
  if (!s->stopped) {
    static const char msg[] = "{\"message\":\"Bedrock stream ended before messageStop\"}";
    return fail(s, -EPIPE, 502, NULL, 0, msg, sizeof msg - 1, out);
  }
  end(s, out);
  if (out->oom) return s->result = -ENOMEM;
  return 0;
}
