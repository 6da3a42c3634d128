/* Anthropic Messages request -> Bedrock Converse request body (POST /model/{modelId}/converse
 * or /converse-stream; the model id is in the path, never in the body). The one idea: a
 * Converse deployment is an Anthropic-wire deployment, so every OpenAI semantic (json tool,
 * reasoning_effort, tool histories, n) was already settled by xlate_oai_to_anth_req.c and
 * this file only respells Anthropic's shapes in Converse's, one to one:
 *   system (string or text blocks) -> system [{text}]; messages -> messages, consecutive
 *   turns of one role merged (Converse wants them alternating), blank text dropped;
 *   text -> {text}; image base64 -> {image:{format, source:{bytes}}} (url -> error: Converse
 *   takes bytes only); document base64/text -> {document:{format, name, source:{bytes}}};
 *   tool_use -> {toolUse:{toolUseId, name, input}}; tool_result -> {toolResult:{toolUseId,
 *   content:[{text}|{image}|{document}], status success|error}}; thinking with a signature ->
 *   {reasoningContent:{reasoningText:{text, signature}}}; redacted_thinking ->
 *   {reasoningContent:{redactedContent}}; cache_control on a block or tool -> a
 *   {cachePoint:{type:default}} after it.
 *   tools -> toolConfig.tools [{toolSpec:{name, description, inputSchema:{json}}}] (server
 *   tools -> error); tool_choice auto -> {auto:{}}, any -> {any:{}}, tool -> {tool:{name}},
 *   none -> no toolChoice and the tools withheld (kept when the history holds tool blocks,
 *   which Converse then requires a toolConfig for; a placeholder tool when there are none);
 *   disable_parallel_tool_use dropped. max_tokens / temperature / top_p / stop_sequences ->
 *   inferenceConfig; thinking and top_k -> additionalModelRequestFields for Claude models
 *   (o->model names one; other models have no such field: dropped). model, stream (the path
 *   says it), metadata, service_tier, anthropic_version dropped; any other member has no
 *   Converse form: an error naming it.
 * Extend: a new block type is one branch in block(); a new top-level member one row in
 * top_keys[] and a line in sl_xlate_anth_to_converse_request. */
#include <errno.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/wire/xlate_bedrock_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct ctx {
  struct sl_xl x;
  cJSON *msgs, *last;
  bool last_assistant;
  bool tool_blocks; /* the history holds toolUse / toolResult blocks */
  int ndocs;
};

/* media type -> Converse format */
struct fmt {
  const char *mime, *fmt;
};
static const struct fmt image_fmts[] = {
    {"image/png", "png"}, {"image/jpeg", "jpeg"}, {"image/jpg", "jpeg"}, {"image/gif", "gif"}, {"image/webp", "webp"},
};
static const struct fmt doc_fmts[] = {
    {"application/pdf", "pdf"},
    {"text/csv", "csv"},
    {"application/msword", "doc"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    {"application/vnd.ms-excel", "xls"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    {"text/html", "html"},
    {"text/plain", "txt"},
    {"text/markdown", "md"},
};

static const char *format_of(struct ctx *c, const struct fmt *t, size_t n, const char *mime, const char *where) {
  for (size_t i = 0; mime && i < n; i++)
    if (strcasecmp(t[i].mime, mime) == 0) return t[i].fmt;
  sl__xlate_bad(&c->x, "%s: media type '%.100s' is not supported by this deployment (Bedrock)", where,
                mime ? mime : "");
  return NULL;
}

static void cache_point(struct ctx *c, cJSON *arr, const cJSON *blk) {
  if (!cJSON_IsObject(sl__xlate_get(blk, "cache_control"))) return;
  cJSON *cp = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "cachePoint");
  sl__xlate_add_str(&c->x, cp, "type", "default");
}

static void text_block(struct ctx *c, cJSON *arr, const char *text, const cJSON *blk) {
  if (!text || !text[0]) return; /* Converse rejects blank text blocks */
  sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "text", text);
  cache_point(c, arr, blk);
}

/* A source {type:base64, media_type, data} (or {type:text, data} for documents) -> the
 * Converse block {<kind>:{format, [name,] source:{bytes}}}. */
static void media_block(struct ctx *c, cJSON *arr, const cJSON *blk, bool image, const char *where) {
  const cJSON *src = sl__xlate_get(blk, "source");
  const char *st = sl__xlate_getstr(src, "type"), *data = sl__xlate_getstr(src, "data");
  const char *mime = sl__xlate_getstr(src, "media_type");
  char *b64 = NULL;
  if (!image && st && strcmp(st, "text") == 0 && data) { /* plain text: Converse wants its bytes */
    size_t dn = strlen(data), cap = 4 * ((dn + 2) / 3) + 1, on = 0;
    if (!(b64 = malloc(cap)) ||
        mbedtls_base64_encode((unsigned char *)b64, cap, &on, (const unsigned char *)data, dn) != 0) {
      free(b64);
      sl__xlate_oom(&c->x);
      return;
    }
    b64[on] = 0; /* mbedtls writes no NUL for an empty input */
    data = b64;
    if (!mime) mime = "text/plain";
  } else if (!st || strcmp(st, "base64") != 0 || !data) {
    sl__xlate_bad(&c->x, "%s: this deployment (Bedrock) takes %s only as base64 sources", where,
                  image ? "images" : "documents");
    return;
  }
  const char *fmt =
      image ? format_of(c, image_fmts, N(image_fmts), mime, where) : format_of(c, doc_fmts, N(doc_fmts), mime, where);
  if (fmt) {
    cJSON *m = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), image ? "image" : "document");
    sl__xlate_add_str(&c->x, m, "format", fmt);
    if (!image) { /* Converse restricts document names: a neutral one, unique in the request */
      char name[32];
      snprintf(name, sizeof name, "document-%d", ++c->ndocs);
      sl__xlate_add_str(&c->x, m, "name", name);
    }
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, m, "source"), "bytes", data);
    cache_point(c, arr, blk);
  }
  free(b64);
}

static void blocks(struct ctx *c, cJSON *arr, const cJSON *content, bool assistant, bool in_result, const char *where);

static void tool_result(struct ctx *c, cJSON *arr, const cJSON *blk, const char *where) {
  const char *id = sl__xlate_getstr(blk, "tool_use_id");
  if (!id) {
    sl__xlate_bad(&c->x, "%s: tool_result needs a string tool_use_id", where);
    return;
  }
  cJSON *tr = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "toolResult");
  sl__xlate_add_str(&c->x, tr, "toolUseId", id);
  cJSON *content = sl__xlate_add_arr(&c->x, tr, "content");
  blocks(c, content, sl__xlate_get(blk, "content"), false, true, where);
  /* a result always has content: an empty one is an empty text (as LiteLLM sends) */
  if (!c->x.rc && cJSON_GetArraySize(content) == 0)
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, content, NULL), "text", "");
  sl__xlate_add_str(&c->x, tr, "status", cJSON_IsTrue(sl__xlate_get(blk, "is_error")) ? "error" : "success");
  cache_point(c, arr, blk);
  c->tool_blocks = true;
}

/* One content block -> Converse blocks appended to arr. */
static void block(struct ctx *c, cJSON *arr, const cJSON *blk, bool assistant, bool in_result, const char *where) {
  const char *type = sl__xlate_getstr(blk, "type");
  if (!type) {
    sl__xlate_bad(&c->x, "%s: every content block needs a string type", where);
  } else if (strcmp(type, "text") == 0) {
    const char *text = sl__xlate_getstr(blk, "text");
    if (!text) sl__xlate_bad(&c->x, "%s: text block without a string text", where);
    text_block(c, arr, text, blk);
  } else if (strcmp(type, "image") == 0 && !assistant) {
    media_block(c, arr, blk, true, where);
  } else if (strcmp(type, "document") == 0 && !assistant) {
    media_block(c, arr, blk, false, where);
  } else if (strcmp(type, "tool_result") == 0 && !assistant && !in_result) {
    tool_result(c, arr, blk, where);
  } else if (strcmp(type, "tool_use") == 0 && assistant) {
    const char *id = sl__xlate_getstr(blk, "id"), *name = sl__xlate_getstr(blk, "name");
    const cJSON *input = sl__xlate_get(blk, "input");
    if (!id || !name) {
      sl__xlate_bad(&c->x, "%s: tool_use needs a string id and name", where);
      return;
    }
    cJSON *tu = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "toolUse");
    sl__xlate_add_str(&c->x, tu, "toolUseId", id);
    sl__xlate_add_str(&c->x, tu, "name", name);
    if (cJSON_IsObject(input))
      sl__xlate_add_copy(&c->x, tu, "input", input);
    else
      sl__xlate_add_obj(&c->x, tu, "input");
    cache_point(c, arr, blk);
    c->tool_blocks = true;
  } else if (strcmp(type, "thinking") == 0 && assistant) {
    const char *text = sl__xlate_getstr(blk, "thinking"), *sig = sl__xlate_getstr(blk, "signature");
    if (!text || !sig) {
      sl__xlate_bad(&c->x, "%s: a thinking block needs string thinking and signature", where);
      return;
    }
    cJSON *rt = sl__xlate_add_obj(
        &c->x, sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "reasoningContent"), "reasoningText");
    sl__xlate_add_str(&c->x, rt, "text", text);
    sl__xlate_add_str(&c->x, rt, "signature", sig);
  } else if (strcmp(type, "redacted_thinking") == 0 && assistant) {
    const char *data = sl__xlate_getstr(blk, "data");
    if (!data) {
      sl__xlate_bad(&c->x, "%s: a redacted_thinking block needs a string data", where);
      return;
    }
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "reasoningContent"),
                      "redactedContent", data);
  } else {
    sl__xlate_bad(&c->x, "%s: content block type '%.60s' is not supported %sby this deployment (Bedrock Converse)",
                  where, type,
                  in_result   ? "in a tool_result "
                  : assistant ? "in an assistant turn "
                              : "");
  }
}

static void blocks(struct ctx *c, cJSON *arr, const cJSON *content, bool assistant, bool in_result, const char *where) {
  if (!content || cJSON_IsNull(content)) return;
  if (cJSON_IsString(content)) {
    text_block(c, arr, content->valuestring, NULL);
    return;
  }
  if (!cJSON_IsArray(content)) {
    sl__xlate_bad(&c->x, "%s: content must be a string or an array of blocks", where);
    return;
  }
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    if (!cJSON_IsObject(blk)) {
      sl__xlate_bad(&c->x, "%s: every content block must be an object", where);
      return;
    }
    block(c, arr, blk, assistant, in_result, where);
    if (c->x.rc) return;
  }
}

/* Adds blocks (owned) as a turn, merged into the previous turn of the same role. */
static void emit(struct ctx *c, bool assistant, cJSON *arr) {
  if (c->x.rc || !arr || cJSON_GetArraySize(arr) == 0) { /* Converse rejects empty turns */
    if (!arr) sl__xlate_oom(&c->x);
    cJSON_Delete(arr);
    return;
  }
  if (c->last && c->last_assistant == assistant) {
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(c->last, "content"), *b;
    while ((b = cJSON_DetachItemFromArray(arr, 0)) != NULL) sl__xlate_put(&c->x, prev, NULL, b);
    cJSON_Delete(arr);
    return;
  }
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", assistant ? "assistant" : "user");
  sl__xlate_put(&c->x, m, "content", arr);
  c->last = m;
  c->last_assistant = assistant;
}

static void messages(struct ctx *c, const cJSON *msgs) {
  const cJSON *m;
  int i = 0;
  char where[48];
  cJSON_ArrayForEach(m, msgs) {
    snprintf(where, sizeof where, "messages[%d]", i++);
    const char *role = sl__xlate_getstr(m, "role");
    bool assistant = role && strcmp(role, "assistant") == 0;
    if (!cJSON_IsObject(m) || !role || (!assistant && strcmp(role, "user") != 0)) {
      sl__xlate_bad(&c->x, "%s must be an object with role user or assistant", where);
      return;
    }
    const cJSON *content = sl__xlate_get(m, "content");
    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
      sl__xlate_bad(&c->x, "%s: content must be a string or an array of blocks", where);
      return;
    }
    cJSON *arr = cJSON_CreateArray();
    if (arr) blocks(c, arr, content, assistant, false, where);
    emit(c, assistant, arr);
    if (c->x.rc) return;
  }
}

static void system_blocks(struct ctx *c, cJSON *root, const cJSON *sys) {
  if (!sys || cJSON_IsNull(sys)) return;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    sl__xlate_oom(&c->x);
    return;
  }
  if (cJSON_IsString(sys)) {
    text_block(c, arr, sys->valuestring, NULL);
  } else if (cJSON_IsArray(sys)) {
    const cJSON *b;
    cJSON_ArrayForEach(b, sys) {
      const char *type = sl__xlate_getstr(b, "type"), *text = sl__xlate_getstr(b, "text");
      if (!type || strcmp(type, "text") != 0 || !text) {
        sl__xlate_bad(&c->x, "system: every block must be {type:text, text}");
        break;
      }
      text_block(c, arr, text, b);
    }
  } else {
    sl__xlate_bad(&c->x, "system must be a string or an array of text blocks");
  }
  if (c->x.rc || cJSON_GetArraySize(arr) == 0)
    cJSON_Delete(arr);
  else
    sl__xlate_put(&c->x, root, "system", arr);
}

static void tool_config(struct ctx *c, const cJSON *req, cJSON *root) {
  const cJSON *ts = sl__xlate_get(req, "tools"), *tc = sl__xlate_get(req, "tool_choice"), *t;
  if (ts && !cJSON_IsNull(ts) && !cJSON_IsArray(ts)) {
    sl__xlate_bad(&c->x, "tools must be an array");
    return;
  }
  const char *type = NULL, *name = NULL;
  if (tc && !cJSON_IsNull(tc)) {
    type = sl__xlate_getstr(tc, "type");
    name = sl__xlate_getstr(tc, "name");
    if (!type || (strcmp(type, "auto") != 0 && strcmp(type, "any") != 0 && strcmp(type, "none") != 0 &&
                  !(strcmp(type, "tool") == 0 && name))) {
      sl__xlate_bad(&c->x, "tool_choice must be {type: auto|any|none} or {type: tool, name}");
      return;
    }
  }
  bool none = type && strcmp(type, "none") == 0;
  /* tool_choice none: Converse has no such choice, so the tools are not offered (unless
   * the history needs a toolConfig) */
  bool offer = cJSON_GetArraySize(ts) > 0 && (!none || c->tool_blocks);
  if (!offer && !c->tool_blocks) return;
  cJSON *cfg = sl__xlate_add_obj(&c->x, root, "toolConfig");
  cJSON *tools = sl__xlate_add_arr(&c->x, cfg, "tools");
  int i = 0;
  cJSON_ArrayForEach(t, (offer ? ts : NULL)) {
    const char *tt = sl__xlate_getstr(t, "type"), *tn = sl__xlate_getstr(t, "name");
    const cJSON *schema = sl__xlate_get(t, "input_schema");
    if (tt && strcmp(tt, "custom") != 0) {
      sl__xlate_bad(&c->x, "tools[%d]: tool type '%.60s' has no Bedrock Converse form", i, tt);
      return;
    }
    if (!tn || !cJSON_IsObject(schema)) {
      sl__xlate_bad(&c->x, "tools[%d] needs a string name and an input_schema object", i);
      return;
    }
    cJSON *spec = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, tools, NULL), "toolSpec");
    sl__xlate_add_str(&c->x, spec, "name", tn);
    const char *desc = sl__xlate_getstr(t, "description");
    if (desc && desc[0]) sl__xlate_add_str(&c->x, spec, "description", desc);
    sl__xlate_add_copy(&c->x, sl__xlate_add_obj(&c->x, spec, "inputSchema"), "json", schema);
    cache_point(c, tools, t);
    i++;
  }
  if (i == 0) { /* the history holds tool blocks and no tool is offered: Converse still wants one */
    cJSON *spec = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, tools, NULL), "toolSpec");
    sl__xlate_add_str(&c->x, spec, "name", "sluice_no_tool");
    sl__xlate_add_str(&c->x, spec, "description", "Not a real tool: do not call it.");
    cJSON *js = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, spec, "inputSchema"), "json");
    sl__xlate_add_str(&c->x, js, "type", "object");
    sl__xlate_add_obj(&c->x, js, "properties");
    return;
  }
  if (!type || none) return;
  cJSON *v = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, cfg, "toolChoice"), type);
  if (strcmp(type, "tool") == 0) sl__xlate_add_str(&c->x, v, "name", name);
}

static void inference(struct ctx *c, const cJSON *req, cJSON *root) {
  cJSON *ic = cJSON_CreateObject();
  if (!ic) {
    sl__xlate_oom(&c->x);
    return;
  }
  double v;
  static const struct {
    const char *anth, *conv;
  } nums[] = {{"max_tokens", "maxTokens"}, {"temperature", "temperature"}, {"top_p", "topP"}};
  for (size_t i = 0; i < N(nums); i++) {
    const cJSON *j = sl__xlate_get(req, nums[i].anth);
    if (sl__xlate_getnum(req, nums[i].anth, &v))
      sl__xlate_add_num(&c->x, ic, nums[i].conv, i == 0 ? (double)sl__xlate_getint(req, nums[i].anth) : v);
    else if (j && !cJSON_IsNull(j))
      sl__xlate_bad(&c->x, "%s must be a number", nums[i].anth);
  }
  const cJSON *stop = sl__xlate_get(req, "stop_sequences"), *s;
  if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON *arr = sl__xlate_add_arr(&c->x, ic, "stopSequences");
    cJSON_ArrayForEach(s, stop) {
      if (!cJSON_IsString(s))
        sl__xlate_bad(&c->x, "stop_sequences must be an array of strings");
      else
        sl__xlate_add_str(&c->x, arr, NULL, s->valuestring);
    }
  } else if (stop && !cJSON_IsNull(stop) && !cJSON_IsArray(stop)) {
    sl__xlate_bad(&c->x, "stop_sequences must be an array of strings");
  }
  if (cJSON_GetArraySize(ic) > 0 && !c->x.rc)
    sl__xlate_put(&c->x, root, "inferenceConfig", ic);
  else
    cJSON_Delete(ic);
}

/* thinking and top_k: Claude's own fields, passed in additionalModelRequestFields. */
static void model_fields(struct ctx *c, const cJSON *req, cJSON *root, bool claude) {
  const cJSON *th = sl__xlate_get(req, "thinking"), *tk = sl__xlate_get(req, "top_k");
  if (th && !cJSON_IsNull(th) && !cJSON_IsObject(th)) sl__xlate_bad(&c->x, "thinking must be an object");
  if (tk && !cJSON_IsNull(tk) && !cJSON_IsNumber(tk)) sl__xlate_bad(&c->x, "top_k must be a number");
  const char *tt = sl__xlate_getstr(th, "type");
  bool thinking = cJSON_IsObject(th) && !(tt && strcmp(tt, "disabled") == 0);
  if (c->x.rc || !claude || (!thinking && !cJSON_IsNumber(tk))) return;
  cJSON *amf = sl__xlate_add_obj(&c->x, root, "additionalModelRequestFields");
  if (thinking) sl__xlate_add_copy(&c->x, amf, "thinking", th);
  if (cJSON_IsNumber(tk)) sl__xlate_add_num(&c->x, amf, "top_k", (double)sl__xlate_getint(req, "top_k"));
}

/* The top-level members this file reads or drops; any other has no Converse form. */
static const char *const top_keys[] = {"model",    "messages", "system",         "max_tokens",   "temperature",
                                       "top_p",    "top_k",    "stop_sequences", "tools",        "tool_choice",
                                       "thinking", "stream",   "metadata",       "service_tier", "anthropic_version"};

int sl_xlate_anth_to_converse_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                      char *err, size_t errlen) {
  struct ctx c = {.x = {0, err, errlen}};
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&c.x, "the request body must be a JSON object");
  const cJSON *msgs = sl__xlate_get(req, "messages"), *k;
  if (!cJSON_IsArray(msgs)) return sl__xlate_bad(&c.x, "'messages' must be an array");
  cJSON_ArrayForEach(k, req) {
    size_t i = 0;
    while (i < N(top_keys) && strcmp(top_keys[i], k->string) != 0) i++;
    if (i == N(top_keys))
      return sl__xlate_bad(&c.x, "'%.60s' has no Bedrock Converse form: this deployment cannot take it", k->string);
  }
  const char *model = o && o->model ? o->model : sl__xlate_getstr(req, "model");
  bool claude = model && (strstr(model, "claude") || strstr(model, "anthropic"));

  cJSON *root = cJSON_CreateObject();
  if (!root) {
    sl__xlate_oom(&c.x);
    return c.x.rc;
  }
  c.msgs = sl__xlate_add_arr(&c.x, root, "messages");
  messages(&c, msgs);
  if (!c.x.rc) system_blocks(&c, root, sl__xlate_get(req, "system"));
  if (!c.x.rc) tool_config(&c, req, root);
  if (!c.x.rc) inference(&c, req, root);
  if (!c.x.rc) model_fields(&c, req, root, claude);
  if (!c.x.rc) sl__xlate_print(&c.x, root, out);
  cJSON_Delete(root);
  return c.x.rc;
}
