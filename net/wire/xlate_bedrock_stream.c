/* ConverseStream events -> Anthropic Messages SSE bytes. The one idea: ConverseStream is
 * Anthropic's stream with other names, so each event becomes the Anthropic event it
 * stands for, and the only state is a map from Converse's contentBlockIndex to the
 * Anthropic block (index, kind) plus the block left open (Converse does not always say
 * contentBlockStart for text, so a block starts at its first delta):
 *   messageStart                         -> message_start (usage zero: Converse tells it last)
 *   contentBlockStart {toolUse}          -> content_block_start tool_use {id, name, input:{}}
 *   contentBlockDelta {text}             -> text_delta (a text block started first if none)
 *                     {toolUse:{input}}  -> input_json_delta
 *                     {reasoningContent:{text}|{signature}} -> thinking_delta / signature_delta
 *                     {reasoningContent:{redactedContent}}  -> a redacted_thinking block
 *   contentBlockStop                     -> content_block_stop
 *   messageStop {stopReason}             -> the open block stopped; stop_reason kept
 *   metadata {usage}                     -> usage kept
 * and once both messageStop and metadata came: message_delta {stop_reason, stop_sequence,
 * usage with input/output/cache tokens}, message_stop. *Exception events end the output
 * with an Anthropic `event: error` and -EPROTO. The payload may also come wrapped in its
 * event name ({"messageStart":{...}}, the shape of the SDKs' union). Errors (-EPROTO,
 * -EINVAL, -EPIPE) are sticky: later calls append nothing and return the same code.
 * Extend: a new event is one branch in sl_converse_stream_event; a new delta kind one in
 * block_delta(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/wire/xlate_bedrock_internal.h"

enum blk { BLK_TEXT, BLK_THINKING, BLK_REDACTED, BLK_TOOL };

struct map {
  int conv, anth;
  enum blk kind;
};

struct sl_converse_stream {
  struct sl_xlate_resp_opts o;
  char id[64];
  char *model, *stop_seq;
  int result;
  bool began, stopped, metadata, done;
  const char *reason;
  struct sl_xlate_usage usage;
  struct map *map;
  size_t nmap, cap;
  int open; /* the Anthropic index of the block left open, -1 none */
};

int sl_converse_stream_new(const struct sl_xlate_resp_opts *o, const char *model, struct sl_converse_stream **out) {
  struct sl_converse_stream *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return -ENOMEM;
  if (o) s->o = *o;
  s->o.resp_req = NULL;
  s->open = -1;
  s->model = strdup(model ? model : "");
  if (!s->model) {
    free(s);
    return -ENOMEM;
  }
  struct { /* two streams in the same second get different ids */
    uintptr_t self;
    char model[64];
  } seed = {(uintptr_t)s, {0}};
  strncpy(seed.model, s->model, sizeof seed.model - 1);
  sl__bedrock_msg_id(s->id, o, &seed, sizeof seed);
  *out = s;
  return 0;
}

void sl_converse_stream_free(struct sl_converse_stream *s) {
  if (!s) return;
  free(s->map);
  free(s->model);
  free(s->stop_seq);
  free(s);
}

static void event(struct sl_buf *out, const char *type) {
  sl_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", type, type);
}

static struct map *find(struct sl_converse_stream *s, int conv) {
  for (size_t i = 0; i < s->nmap; i++)
    if (s->map[i].conv == conv) return &s->map[i];
  return NULL;
}

static void stop_open(struct sl_converse_stream *s, struct sl_buf *out) {
  if (s->open < 0) return;
  event(out, "content_block_stop");
  sl_buf_printf(out, ",\"index\":%d}\n\n", s->open);
  s->open = -1;
}

/* A new Anthropic block for Converse block conv: the open one stopped, content_block_start
 * written up to its content_block object's members (the caller writes them and "}}\n\n"). */
static struct map *start(struct sl_converse_stream *s, int conv, enum blk kind, struct sl_buf *out) {
  if (s->nmap >= SL_XL_MAX_BLOCKS) return NULL;
  if (s->nmap == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    struct map *m = realloc(s->map, cap * sizeof *m);
    if (!m) return NULL;
    s->map = m, s->cap = cap;
  }
  stop_open(s, out);
  struct map *m = &s->map[s->nmap];
  *m = (struct map){conv, (int)s->nmap, kind};
  s->nmap++;
  s->open = m->anth;
  static const char *const heads[] = {"{\"type\":\"text\",\"text\":\"\"",
                                      "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"",
                                      "{\"type\":\"redacted_thinking\",\"data\":", "{\"type\":\"tool_use\",\"id\":"};
  event(out, "content_block_start");
  sl_buf_printf(out, ",\"index\":%d,\"content_block\":%s", m->anth, heads[kind]);
  return m;
}

static void delta(struct sl_buf *out, int index, const char *type, const char *field, const char *v) {
  event(out, "content_block_delta");
  sl_buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":", index, type, field);
  sl__xlate_put_jstr(out, v);
  sl_buf_puts(out, "}}\n\n");
}

static void end(struct sl_converse_stream *s, struct sl_buf *out) {
  if (s->done) return;
  s->done = true;
  stop_open(s, out);
  const struct sl_xlate_usage *u = &s->usage;
  event(out, "message_delta");
  sl_buf_puts(out, ",\"delta\":{\"stop_reason\":");
  sl__xlate_put_jstr(out, s->reason ? s->reason : "end_turn");
  sl_buf_puts(out, ",\"stop_sequence\":");
  sl__xlate_put_jstr(out, s->stop_seq);
  sl_buf_printf(out,
                "},\"usage\":{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"
                "\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld}}\n\n",
                (long long)u->input, (long long)u->cache_creation, (long long)u->cache_read, (long long)u->output);
  event(out, "message_stop");
  sl_buf_puts(out, "}\n\n");
}

/* Ends the stream with an in-band Anthropic error event; returns code (sticky). */
static int fail(struct sl_converse_stream *s, int code, int status, const char *type, size_t tn, const char *payload,
                size_t pn, struct sl_buf *out) {
  sl_buf_puts(out, "event: error\ndata: ");
  sl_bedrock_error_to_anth(status, type, tn, payload, pn, out);
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

static const char too_many[] = "Bedrock sent too many content blocks";

static int block_start(struct sl_converse_stream *s, const cJSON *ev, struct sl_buf *out) {
  int idx;
  const cJSON *st = sl__xlate_get(ev, "start");
  if (!sl__xlate_getidx(ev, "contentBlockIndex", &idx) || !cJSON_IsObject(st))
    return bad(s, out, "Bedrock sent a malformed contentBlockStart");
  const cJSON *tu = sl__xlate_get(st, "toolUse");
  if (!cJSON_IsObject(tu) || find(s, idx)) return 0; /* other starts carry nothing to say; a repeat: keep the first */
  const char *name = sl__xlate_getstr(tu, "name"), *id = sl__xlate_getstr(tu, "toolUseId");
  if (!start(s, idx, BLK_TOOL, out)) return bad(s, out, too_many);
  sl__xlate_put_jstr(out, id ? id : "");
  sl_buf_puts(out, ",\"name\":");
  sl__xlate_put_jstr(out, name ? name : "");
  sl_buf_puts(out, ",\"input\":{}}}\n\n");
  return 0;
}

static int block_delta(struct sl_converse_stream *s, const cJSON *ev, struct sl_buf *out) {
  int idx;
  const cJSON *d = sl__xlate_get(ev, "delta");
  if (!sl__xlate_getidx(ev, "contentBlockIndex", &idx) || !cJSON_IsObject(d))
    return bad(s, out, "Bedrock sent a malformed contentBlockDelta");
  struct map *m = find(s, idx);
  if (m && m->anth != s->open) return 0; /* a block already stopped: nothing to attach it to */
  const char *text = sl__xlate_getstr(d, "text");
  const cJSON *tu = sl__xlate_get(d, "toolUse"), *rc = sl__xlate_get(d, "reasoningContent");
  if (text) {
    if (!m) {
      if (!(m = start(s, idx, BLK_TEXT, out))) return bad(s, out, too_many);
      sl_buf_puts(out, "}}\n\n");
    }
    if (m->kind == BLK_TEXT && text[0]) delta(out, m->anth, "text_delta", "text", text);
  } else if (cJSON_IsObject(rc)) {
    const char *red = sl__xlate_getstr(rc, "redactedContent");
    if (!m && red) {
      if (!start(s, idx, BLK_REDACTED, out)) return bad(s, out, too_many);
      sl__xlate_put_jstr(out, red);
      sl_buf_puts(out, "}}\n\n");
      return 0;
    }
    if (!m) {
      if (!(m = start(s, idx, BLK_THINKING, out))) return bad(s, out, too_many);
      sl_buf_puts(out, "}}\n\n");
    }
    const char *t = sl__xlate_getstr(rc, "text"), *sig = sl__xlate_getstr(rc, "signature");
    if (m->kind == BLK_THINKING && t && t[0]) delta(out, m->anth, "thinking_delta", "thinking", t);
    if (m->kind == BLK_THINKING && sig && sig[0]) delta(out, m->anth, "signature_delta", "signature", sig);
  } else if (cJSON_IsObject(tu) && m && m->kind == BLK_TOOL) {
    const char *in = sl__xlate_getstr(tu, "input");
    if (in && in[0]) delta(out, m->anth, "input_json_delta", "partial_json", in);
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
  if (s->done) return 0; /* after message_stop: the answer is over, nothing more to say */
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
    if (!s->began) {
      event(out, "message_start");
      sl_buf_puts(out, ",\"message\":{\"id\":");
      sl__xlate_put_jstr(out, s->id);
      sl_buf_puts(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
      sl__xlate_put_jstr(out, s->model);
      sl_buf_puts(out, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                       "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n");
    }
    s->began = true;
  } else if (strcmp(name, "metadata") == 0) {
    sl__bedrock_usage(sl__xlate_get(ev, "usage"), &s->usage);
    s->metadata = true;
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
    if (m && m->anth == s->open) stop_open(s, out);
  } else if (strcmp(name, "messageStop") == 0) {
    s->reason = sl__bedrock_stop_reason(sl__xlate_getstr(ev, "stopReason"));
    const char *seq = sl__xlate_getstr(sl__xlate_get(ev, "additionalModelResponseFields"), "stop_sequence");
    if (seq && !s->stop_seq && !(s->stop_seq = strdup(seq))) out->oom = true;
    s->stopped = true;
    stop_open(s, out);
    if (s->metadata) end(s, out);
  }
  /* unknown (newer) event types: nothing to say */
  cJSON_Delete(root);
  if (!rc && out->oom) rc = s->result = -ENOMEM;
  return rc;
}

int sl_converse_stream_finish(struct sl_converse_stream *s, struct sl_buf *out, struct sl_xlate_usage *u) {
  if (u) *u = s->usage;
  if (s->result) return s->result;
  if (!s->done) {
    static const char msg_stop[] = "{\"message\":\"Bedrock stream ended before messageStop\"}";
    static const char msg_meta[] = "{\"message\":\"Bedrock stream ended before its metadata (usage) event\"}";
    return s->stopped ? fail(s, -EPIPE, 502, NULL, 0, msg_meta, sizeof msg_meta - 1, out)
                      : fail(s, -EPIPE, 502, NULL, 0, msg_stop, sizeof msg_stop - 1, out);
  }
  return out->oom ? (s->result = -ENOMEM) : 0;
}
