/* OpenAI chat request -> Bedrock Converse request body (POST /model/{modelId}/converse or
 * /converse-stream; the model id is in the path, never in the body). The one idea: like the
 * Anthropic translator, every OpenAI message becomes (role, content blocks) handed to one
 * emitter that merges consecutive turns of the same role (Converse wants user and assistant
 * turns alternating), with Converse's block shapes:
 *   text -> {text}; image_url data URL -> {image:{format, source:{bytes}}} (http URLs ->
 *   error: Converse takes bytes only); file with file_data -> {document:{format, name,
 *   source:{bytes}}}; cache_control on a part -> a {cachePoint:{type:default}} after it;
 *   assistant tool_calls -> {toolUse:{toolUseId, name, input}}; tool messages ->
 *   {toolResult:{toolUseId, content:[{text}|{image}], status:success}} in a user turn;
 *   assistant thinking_blocks (when thinking is on) -> {reasoningContent:{reasoningText:
 *   {text, signature}}} / {reasoningContent:{redactedContent}}.
 *   system/developer -> system [{text}]; max_tokens (or max_completion_tokens) / temperature
 *   (clamped to [0, 1]) / top_p / stop -> inferenceConfig; tools -> toolConfig.tools
 *   [{toolSpec:{name, description, inputSchema:{json}}}]; tool_choice auto -> {auto:{}},
 *   required -> {any:{}}, {function:{name}} -> {tool:{name}}, none -> no toolChoice and the
 *   tools withheld (kept only when the history holds tool blocks, which Converse then
 *   requires a toolConfig for); a history with tool blocks and no tools gets a placeholder
 *   tool (as LiteLLM does). response_format json -> the forced tool SL_XLATE_JSON_TOOL as in
 *   xlate_oai_to_anth_req.c. Claude models (o->model contains "claude"): reasoning_effort ->
 *   additionalModelRequestFields.thinking {type:enabled, budget_tokens} (temperature dropped,
 *   top_p below 0.95 dropped, maxTokens above the budget), top_k -> additionalModelRequest
 *   Fields.top_k; other models: both dropped. n > 1 -> error. Dropped like the Anthropic
 *   translator: stream (the path says it), stream_options, user, penalties, logit_bias,
 *   logprobs, seed, parallel_tool_calls, unknown fields.
 * Extend: a new part type is one branch in content_part(); a new scalar one line in
 * inference(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/wire/xlate_bedrock_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct ctx {
  struct sl_xl x;
  cJSON *system, *msgs, *last;
  enum sl__xlate_role last_role;
  bool thinking;    /* reasoning on: thinking_blocks are passed on */
  bool tool_blocks; /* the history holds toolUse / toolResult blocks */
  int ndocs;
};

/* media type -> Converse format */
static const struct {
  const char *mime, *fmt;
} image_fmts[] = {
    {"image/png", "png"}, {"image/jpeg", "jpeg"}, {"image/jpg", "jpeg"}, {"image/gif", "gif"}, {"image/webp", "webp"},
};
static const struct {
  const char *mime, *fmt;
} doc_fmts[] = {
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

static void cache_point(struct ctx *c, cJSON *arr, const cJSON *part) {
  if (!cJSON_IsObject(sl__xlate_get(part, "cache_control"))) return;
  cJSON *cp = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "cachePoint");
  sl__xlate_add_str(&c->x, cp, "type", "default");
}

static void text_block(struct ctx *c, cJSON *arr, const char *text, const cJSON *part) {
  if (!text || !text[0]) return; /* Converse rejects blank text blocks */
  sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "text", text);
  cache_point(c, arr, part);
}

/* A data URL's media type, looked up in a table; NULL (and x->rc) when not supported. */
static const char *data_format(struct ctx *c, const char *url, const char **data, bool image, const char *where) {
  const char *type;
  size_t tn;
  if (!sl__xlate_data_url(url, &type, &tn, data)) {
    sl__xlate_bad(&c->x, "%s: this deployment (Bedrock) takes %s only as base64 data URLs", where,
                  image ? "images" : "files");
    return NULL;
  }
  if (image)
    for (size_t i = 0; i < N(image_fmts); i++)
      if (strlen(image_fmts[i].mime) == tn && strncasecmp(image_fmts[i].mime, type, tn) == 0) return image_fmts[i].fmt;
  if (!image)
    for (size_t i = 0; i < N(doc_fmts); i++)
      if (strlen(doc_fmts[i].mime) == tn && strncasecmp(doc_fmts[i].mime, type, tn) == 0) return doc_fmts[i].fmt;
  sl__xlate_bad(&c->x, "%s: media type '%.*s' is not supported by this deployment (Bedrock)", where,
                (int)(tn > 100 ? 100 : tn), type);
  return NULL;
}

static void image_part(struct ctx *c, cJSON *arr, const cJSON *part, const char *where) {
  const cJSON *iu = sl__xlate_get(part, "image_url");
  const char *url = cJSON_IsString(iu) ? iu->valuestring : sl__xlate_getstr(iu, "url"), *data;
  if (!url) {
    sl__xlate_bad(&c->x, "%s: image_url.url must be a string", where);
    return;
  }
  const char *fmt = data_format(c, url, &data, true, where);
  if (!fmt) return;
  cJSON *img = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "image");
  sl__xlate_add_str(&c->x, img, "format", fmt);
  sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, img, "source"), "bytes", data);
  cache_point(c, arr, part);
}

static void file_part(struct ctx *c, cJSON *arr, const cJSON *part, const char *where) {
  const cJSON *f = sl__xlate_get(part, "file");
  const char *fd = sl__xlate_getstr(f, "file_data"), *data;
  if (!fd) {
    sl__xlate_bad(&c->x, "%s: only file parts with file_data (a base64 data URL) are supported by this deployment",
                  where);
    return;
  }
  const char *fmt = data_format(c, fd, &data, false, where);
  if (!fmt) return;
  char name[32]; /* Converse restricts document names: a neutral one, unique in the request */
  snprintf(name, sizeof name, "document-%d", ++c->ndocs);
  cJSON *doc = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "document");
  sl__xlate_add_str(&c->x, doc, "format", fmt);
  sl__xlate_add_str(&c->x, doc, "name", name);
  sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, doc, "source"), "bytes", data);
  cache_point(c, arr, part);
}

/* User (or tool result) content -> blocks appended to arr. */
static void user_content(struct ctx *c, cJSON *arr, const cJSON *content, bool docs, const char *where) {
  if (cJSON_IsString(content)) {
    text_block(c, arr, content->valuestring, NULL);
    return;
  }
  if (!cJSON_IsArray(content)) {
    if (content && !cJSON_IsNull(content))
      sl__xlate_bad(&c->x, "%s: content must be a string or an array of parts", where);
    return;
  }
  const cJSON *part;
  cJSON_ArrayForEach(part, content) {
    const char *type = sl__xlate_getstr(part, "type");
    if (!type)
      sl__xlate_bad(&c->x, "%s: every content part needs a string type", where);
    else if (strcmp(type, "text") == 0) {
      const char *text = sl__xlate_getstr(part, "text");
      if (!text) sl__xlate_bad(&c->x, "%s: text part without a string text", where);
      text_block(c, arr, text, part);
    } else if (strcmp(type, "image_url") == 0)
      image_part(c, arr, part, where);
    else if (strcmp(type, "file") == 0 && docs)
      file_part(c, arr, part, where);
    else
      sl__xlate_bad(&c->x, "%s: content part type '%s' is not supported by this deployment", where, type);
    if (c->x.rc) return;
  }
}

/* Adds blocks (owned) as a turn of role, merged into the previous turn of the same role. */
static void emit(struct ctx *c, enum sl__xlate_role role, cJSON *blocks) {
  if (c->x.rc || !blocks || cJSON_GetArraySize(blocks) == 0) { /* Converse rejects empty turns */
    cJSON_Delete(blocks);
    if (!blocks) sl__xlate_oom(&c->x);
    return;
  }
  if (c->last && c->last_role == role) {
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(c->last, "content"), *b;
    while ((b = cJSON_DetachItemFromArray(blocks, 0)) != NULL) sl__xlate_put(&c->x, prev, NULL, b);
    cJSON_Delete(blocks);
    return;
  }
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", role == SL_XL_ROLE_ASSISTANT ? "assistant" : "user");
  sl__xlate_put(&c->x, m, "content", blocks);
  c->last = m;
  c->last_role = role;
}

static void system_msg(struct ctx *c, const cJSON *content, const char *where) {
  if (cJSON_IsString(content)) {
    text_block(c, c->system, content->valuestring, NULL);
    return;
  }
  const cJSON *part;
  if (!cJSON_IsArray(content)) {
    sl__xlate_bad(&c->x, "%s: system content must be a string or an array of text parts", where);
    return;
  }
  cJSON_ArrayForEach(part, content) {
    const char *type = sl__xlate_getstr(part, "type"), *text = sl__xlate_getstr(part, "text");
    if (!type || strcmp(type, "text") != 0 || !text) {
      sl__xlate_bad(&c->x, "%s: system content parts must be text", where);
      return;
    }
    text_block(c, c->system, text, part);
  }
}

static void thinking_blocks(struct ctx *c, cJSON *arr, const cJSON *m, const char *where) {
  const cJSON *tbs = sl__xlate_get(m, "thinking_blocks"), *tb;
  if (!c->thinking || !tbs || cJSON_IsNull(tbs)) return;
  if (!cJSON_IsArray(tbs)) {
    sl__xlate_bad(&c->x, "%s: thinking_blocks must be an array", where);
    return;
  }
  int j = 0;
  cJSON_ArrayForEach(tb, tbs) {
    const char *t = sl__xlate_getstr(tb, "type"), *text = sl__xlate_getstr(tb, "thinking");
    const char *sig = sl__xlate_getstr(tb, "signature"), *data = sl__xlate_getstr(tb, "data");
    if (t && strcmp(t, "thinking") == 0 && text && sig) {
      cJSON *rc = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "reasoningContent");
      cJSON *rt = sl__xlate_add_obj(&c->x, rc, "reasoningText");
      sl__xlate_add_str(&c->x, rt, "text", text);
      sl__xlate_add_str(&c->x, rt, "signature", sig);
    } else if (t && strcmp(t, "redacted_thinking") == 0 && data) {
      cJSON *rc = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "reasoningContent");
      sl__xlate_add_str(&c->x, rc, "redactedContent", data);
    } else {
      sl__xlate_bad(&c->x,
                    "%s: thinking_blocks[%d] must be {type:thinking, thinking, signature} or "
                    "{type:redacted_thinking, data}",
                    where, j);
      return;
    }
    j++;
  }
}

static void assistant_msg(struct ctx *c, const cJSON *m, const char *where) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    sl__xlate_oom(&c->x);
    return;
  }
  thinking_blocks(c, arr, m, where);
  int nthinking = cJSON_GetArraySize(arr);
  const cJSON *content = sl__xlate_get(m, "content"), *part;
  if (cJSON_IsString(content)) {
    text_block(c, arr, content->valuestring, NULL);
  } else if (cJSON_IsArray(content)) {
    cJSON_ArrayForEach(part, content) {
      const char *type = sl__xlate_getstr(part, "type");
      const char *text =
          type && strcmp(type, "refusal") == 0 ? sl__xlate_getstr(part, "refusal") : sl__xlate_getstr(part, "text");
      if (!type || (strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0) || !text) {
        sl__xlate_bad(&c->x, "%s: assistant content parts must be text or refusal", where);
        break;
      }
      text_block(c, arr, text, part);
    }
  } else if (content && !cJSON_IsNull(content)) {
    sl__xlate_bad(&c->x, "%s: content must be a string, an array of parts or null", where);
  }
  if (!cJSON_IsString(content) && !cJSON_IsArray(content)) text_block(c, arr, sl__xlate_getstr(m, "refusal"), NULL);
  const cJSON *fc = sl__xlate_get(m, "function_call");
  if (fc && !cJSON_IsNull(fc))
    sl__xlate_bad(&c->x, "%s: legacy function_call is not supported by this deployment; use tool_calls", where);
  const cJSON *calls = sl__xlate_get(m, "tool_calls"), *tc;
  if (calls && !cJSON_IsNull(calls) && !cJSON_IsArray(calls))
    sl__xlate_bad(&c->x, "%s: tool_calls must be an array", where);
  int j = 0;
  cJSON_ArrayForEach(tc, (cJSON_IsArray(calls) ? calls : NULL)) {
    const cJSON *fn = sl__xlate_get(tc, "function");
    const char *id = sl__xlate_getstr(tc, "id"), *name = sl__xlate_getstr(fn, "name");
    if (!id || !name) {
      sl__xlate_bad(&c->x, "%s: tool_calls[%d] needs a string id and function.name", where, j);
      break;
    }
    cJSON *tu = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "toolUse");
    sl__xlate_add_str(&c->x, tu, "toolUseId", id);
    sl__xlate_add_str(&c->x, tu, "name", name);
    sl__xlate_put(&c->x, tu, "input", sl__xlate_parse_args(sl__xlate_getstr(fn, "arguments")));
    c->tool_blocks = true;
    j++;
  }
  if (cJSON_GetArraySize(arr) == nthinking) /* thinking alone is not a turn */
    while (nthinking-- > 0) cJSON_DeleteItemFromArray(arr, 0);
  emit(c, SL_XL_ROLE_ASSISTANT, arr);
}

static void tool_msg(struct ctx *c, const cJSON *m, const char *where) {
  const char *id = sl__xlate_getstr(m, "tool_call_id");
  if (!id) {
    sl__xlate_bad(&c->x, "%s: tool message needs a string tool_call_id", where);
    return;
  }
  cJSON *arr = cJSON_CreateArray();
  cJSON *tr = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, arr, NULL), "toolResult");
  if (!arr) sl__xlate_oom(&c->x);
  sl__xlate_add_str(&c->x, tr, "toolUseId", id);
  cJSON *content = sl__xlate_add_arr(&c->x, tr, "content");
  const cJSON *mc = sl__xlate_get(m, "content");
  user_content(c, content, mc, false, where);
  /* a result always has content: an empty one is an empty text (as LiteLLM sends) */
  if (!c->x.rc && cJSON_GetArraySize(content) == 0)
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, content, NULL), "text", "");
  sl__xlate_add_str(&c->x, tr, "status", "success");
  c->tool_blocks = true;
  emit(c, SL_XL_ROLE_USER, arr);
}

static void messages(struct ctx *c, const cJSON *msgs) {
  const cJSON *m;
  int i = 0;
  char where[48];
  cJSON_ArrayForEach(m, msgs) {
    snprintf(where, sizeof where, "messages[%d]", i++);
    if (!cJSON_IsObject(m)) {
      sl__xlate_bad(&c->x, "%s must be an object", where);
      return;
    }
    const char *role = sl__xlate_getstr(m, "role");
    const cJSON *content = sl__xlate_get(m, "content");
    switch (sl__xlate_oai_role(role)) {
    case SL_XL_ROLE_SYSTEM: system_msg(c, content, where); break;
    case SL_XL_ROLE_USER: {
      if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
        sl__xlate_bad(&c->x, "%s: user content must be a string or an array of parts", where);
        break;
      }
      cJSON *arr = cJSON_CreateArray();
      if (arr) user_content(c, arr, content, true, where);
      emit(c, SL_XL_ROLE_USER, arr);
      break;
    }
    case SL_XL_ROLE_ASSISTANT: assistant_msg(c, m, where); break;
    case SL_XL_ROLE_TOOL: tool_msg(c, m, where); break;
    case SL_XL_ROLE_UNSUPPORTED:
      sl__xlate_bad(&c->x, "%s: role '%s' is not supported by this deployment", where, role);
      break;
    default: sl__xlate_bad(&c->x, "%s: unknown role%s%s", where, role ? " " : "", role ? role : "");
    }
    if (c->x.rc) return;
  }
}

static const char json_tool_desc[] =
    "Give your final answer by calling this tool: its input is the answer, as JSON that follows the input schema.";
static const char json_tool_hint[] =
    "Give your final answer by calling the " SL_XLATE_JSON_TOOL
    " tool (its input is the answer, as JSON that follows the tool's input schema), not as text.";

/* response_format -> the json tool's schema (new, owned) or NULL; *desc its description. */
static cJSON *response_format(struct ctx *c, const cJSON *req, const char **desc) {
  const cJSON *v = sl__xlate_get(req, "response_format");
  if (!v || cJSON_IsNull(v)) return NULL;
  const char *type = sl__xlate_getstr(v, "type");
  if (!cJSON_IsObject(v) || !type) {
    sl__xlate_bad(&c->x, "response_format must be an object with a string type");
    return NULL;
  }
  if (strcmp(type, "text") == 0) return NULL;
  const cJSON *schema = NULL;
  if (strcmp(type, "json_schema") == 0) {
    const cJSON *js = sl__xlate_get(v, "json_schema");
    if (!cJSON_IsObject(js)) {
      sl__xlate_bad(&c->x, "response_format.json_schema must be an object");
      return NULL;
    }
    schema = sl__xlate_get(js, "schema");
    if (cJSON_IsNull(schema)) schema = NULL;
    if (schema && !cJSON_IsObject(schema)) {
      sl__xlate_bad(&c->x, "response_format.json_schema.schema must be an object");
      return NULL;
    }
    const cJSON *rt = sl__xlate_get(schema, "type");
    if (rt && !(cJSON_IsString(rt) && strcmp(rt->valuestring, "object") == 0)) {
      sl__xlate_bad(&c->x, "response_format.json_schema.schema: this deployment (Bedrock) needs an object at the root "
                           "(\"type\":\"object\")");
      return NULL;
    }
    *desc = sl__xlate_getstr(js, "description");
  } else if (strcmp(type, "json_object") != 0) {
    sl__xlate_bad(&c->x, "response_format.type '%s' is not supported by this deployment", type);
    return NULL;
  }
  cJSON *s = schema ? cJSON_Duplicate(schema, 1) : cJSON_CreateObject();
  if (!s)
    sl__xlate_oom(&c->x);
  else if (!sl__xlate_get(s, "type"))
    sl__xlate_add_str(&c->x, s, "type", "object");
  return s;
}

static void tool_spec(struct ctx *c, cJSON *tools, const char *name, const char *desc, const cJSON *params,
                      cJSON *owned) {
  cJSON *ts = sl__xlate_add_obj(&c->x, sl__xlate_add_obj(&c->x, tools, NULL), "toolSpec");
  sl__xlate_add_str(&c->x, ts, "name", name);
  if (desc && desc[0]) sl__xlate_add_str(&c->x, ts, "description", desc);
  cJSON *is = sl__xlate_add_obj(&c->x, ts, "inputSchema");
  if (owned) {
    sl__xlate_put(&c->x, is, "json", owned);
  } else if (params) {
    sl__xlate_add_copy(&c->x, is, "json", params);
  } else {
    cJSON *s = sl__xlate_add_obj(&c->x, is, "json");
    sl__xlate_add_str(&c->x, s, "type", "object");
    sl__xlate_add_obj(&c->x, s, "properties");
  }
}

/* tools, tool_choice and response_format's json tool (schema taken) -> toolConfig. */
static void tool_config(struct ctx *c, const cJSON *req, cJSON *root, cJSON *schema, const char *rf_desc) {
  const cJSON *ts = sl__xlate_get(req, "tools"), *t;
  const cJSON *tc = sl__xlate_get(req, "tool_choice");
  if (ts && !cJSON_IsNull(ts) && !cJSON_IsArray(ts)) {
    cJSON_Delete(schema);
    sl__xlate_bad(&c->x, "tools must be an array");
    return;
  }
  const char *mode = NULL, *named = NULL; /* auto, any, tool, none */
  if (cJSON_IsString(tc)) {
    static const struct { const char *oai, *conv; } modes[] = {{"auto", "auto"}, {"required", "any"}, {"none", "none"}};
    for (size_t k = 0; k < N(modes); k++)
      if (strcmp(tc->valuestring, modes[k].oai) == 0) mode = modes[k].conv;
    if (!mode) sl__xlate_bad(&c->x, "tool_choice '%s' is not supported", tc->valuestring);
  } else if (cJSON_IsObject(tc)) {
    named = sl__xlate_getstr(sl__xlate_get(tc, "function"), "name");
    if (!named)
      sl__xlate_bad(&c->x,
                    "tool_choice must be auto, required, none or {\"type\":\"function\",\"function\":{\"name\":...}}");
    mode = "tool";
  } else if (tc && !cJSON_IsNull(tc)) {
    sl__xlate_bad(&c->x, "tool_choice must be a string or an object");
  }
  if (c->x.rc) {
    cJSON_Delete(schema);
    return;
  }
  bool none = mode && strcmp(mode, "none") == 0;
  /* tool_choice none: Converse has no such choice, so the client's tools are not offered
   * (unless the history needs a toolConfig) */
  bool client = cJSON_GetArraySize(ts) > 0 && (!none || c->tool_blocks) && !(schema && none);
  if (!client && !schema && !c->tool_blocks) return;
  cJSON *cfg = sl__xlate_add_obj(&c->x, root, "toolConfig");
  cJSON *tools = sl__xlate_add_arr(&c->x, cfg, "tools");
  int i = 0;
  cJSON_ArrayForEach(t, (client ? ts : NULL)) {
    const char *type = sl__xlate_getstr(t, "type");
    const cJSON *fn = sl__xlate_get(t, "function");
    const char *name = sl__xlate_getstr(fn, "name");
    const cJSON *params = sl__xlate_get(fn, "parameters");
    if (!type || strcmp(type, "function") != 0)
      sl__xlate_bad(&c->x, "tools[%d]: tool type '%s' is not supported by this deployment", i, type ? type : "");
    else if (!name)
      sl__xlate_bad(&c->x, "tools[%d]: function.name must be a string", i);
    else if (schema && strcmp(name, SL_XLATE_JSON_TOOL) == 0)
      sl__xlate_bad(&c->x, "tools[%d]: the name '%s' is taken on this deployment by response_format; rename the tool",
                    i, name);
    else if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params))
      sl__xlate_bad(&c->x, "tools[%d]: function.parameters must be an object", i);
    if (c->x.rc) break;
    tool_spec(c, tools, name, sl__xlate_getstr(fn, "description"), cJSON_IsObject(params) ? params : NULL, NULL);
    i++;
  }
  if (schema) {
    tool_spec(c, tools, SL_XLATE_JSON_TOOL, rf_desc ? rf_desc : json_tool_desc, NULL, schema);
    schema = NULL;
  }
  if (c->x.rc) return;
  bool json = cJSON_GetArraySize(tools) > i;
  if (cJSON_GetArraySize(tools) == 0) {
    /* the history holds tool blocks and no tool is offered: Converse still wants a toolConfig */
    tool_spec(c, tools, "sluice_no_tool", "Not a real tool: do not call it.", NULL, NULL);
    return;
  }
  const char *type = none ? NULL : mode, *name = named;
  if (json && !client)
    type = "tool", name = SL_XLATE_JSON_TOOL;
  else if (json && (!mode || strcmp(mode, "auto") == 0))
    type = "any";
  if (c->thinking && type && strcmp(type, "auto") != 0) {
    if (client && mode && (strcmp(mode, "any") == 0 || strcmp(mode, "tool") == 0)) {
      sl__xlate_bad(&c->x,
                    "tool_choice %s cannot be combined with reasoning_effort on this deployment (Claude "
                    "refuses forced tool use with extended thinking)",
                    named ? "naming a function" : "'required'");
      return;
    }
    type = "auto", name = NULL;
    text_block(c, c->system, json_tool_hint, NULL);
  }
  if (!type) return;
  cJSON *choice = sl__xlate_add_obj(&c->x, cfg, "toolChoice");
  cJSON *v = sl__xlate_add_obj(&c->x, choice, type);
  if (name) sl__xlate_add_str(&c->x, v, "name", name);
}

static void stops(struct ctx *c, const cJSON *req, cJSON *ic) {
  const cJSON *stop = sl__xlate_get(req, "stop"), *s;
  if (cJSON_IsString(stop)) {
    sl__xlate_add_str(&c->x, sl__xlate_add_arr(&c->x, ic, "stopSequences"), NULL, stop->valuestring);
  } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON *arr = sl__xlate_add_arr(&c->x, ic, "stopSequences");
    cJSON_ArrayForEach(s, stop) {
      if (!cJSON_IsString(s)) {
        sl__xlate_bad(&c->x, "stop must be a string or an array of strings");
        return;
      }
      sl__xlate_add_str(&c->x, arr, NULL, s->valuestring);
    }
  } else if (stop && !cJSON_IsNull(stop) && !cJSON_IsArray(stop)) {
    sl__xlate_bad(&c->x, "stop must be a string or an array of strings");
  }
}

static bool given(const cJSON *req, const char *key) {
  const cJSON *v = sl__xlate_get(req, key);
  return v && !cJSON_IsNull(v);
}

int sl_xlate_oai_to_converse_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out, char *err,
                                     size_t errlen) {
  struct ctx c = {.x = {0, err, errlen}};
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&c.x, "the request body must be a JSON object");
  const cJSON *msgs = sl__xlate_get(req, "messages");
  if (!cJSON_IsArray(msgs)) return sl__xlate_bad(&c.x, "'messages' must be an array");
  double n;
  if (sl__xlate_getnum(req, "n", &n) && n > 1) return sl__xlate_bad(&c.x, "n > 1 is not supported by this deployment");
  const char *model = o && o->model ? o->model : sl__xlate_getstr(req, "model");
  bool claude = model && strstr(model, "claude");
  const cJSON *re = sl__xlate_get(req, "reasoning_effort");
  int budget = 0;
  if (re && !cJSON_IsNull(re)) {
    budget = sl__xlate_effort_budget(cJSON_IsString(re) ? re->valuestring : NULL);
    if (budget < 0)
      return sl__xlate_bad(&c.x, "reasoning_effort must be none, minimal, low, medium, high, xhigh or max");
    if (!claude) budget = 0; /* only Claude models take a thinking budget through Converse */
  }
  c.thinking = budget > 0;

  cJSON *root = cJSON_CreateObject();
  c.system = cJSON_CreateArray();
  if (!root || !c.system) {
    cJSON_Delete(root);
    cJSON_Delete(c.system);
    sl__xlate_oom(&c.x);
    return c.x.rc;
  }
  c.msgs = sl__xlate_add_arr(&c.x, root, "messages");
  messages(&c, msgs);
  const char *rf_desc = NULL;
  cJSON *schema = c.x.rc ? NULL : response_format(&c, req, &rf_desc);
  if (!c.x.rc)
    tool_config(&c, req, root, schema, rf_desc);
  else
    cJSON_Delete(schema);
  if (cJSON_GetArraySize(c.system) > 0)
    sl__xlate_put(&c.x, root, "system", c.system);
  else
    cJSON_Delete(c.system);

  cJSON *ic = cJSON_CreateObject();
  if (!ic) sl__xlate_oom(&c.x);
  int64_t max = given(req, "max_tokens")              ? sl__xlate_getint(req, "max_tokens")
                : given(req, "max_completion_tokens") ? sl__xlate_getint(req, "max_completion_tokens")
                                                      : 0;
  if (c.thinking && max <= budget)
    max += max > 0 ? budget
                   : budget + (o && o->default_max_tokens > 0 ? o->default_max_tokens : SL_XLATE_DEFAULT_MAX_TOKENS);
  if (max > 0) sl__xlate_add_num(&c.x, ic, "maxTokens", (double)max);
  double v;
  if (!c.thinking && sl__xlate_getnum(req, "temperature", &v))
    sl__xlate_add_num(&c.x, ic, "temperature", v < 0 ? 0 : v > 1 ? 1 : v);
  if (sl__xlate_getnum(req, "top_p", &v) && !(c.thinking && v < 0.95)) sl__xlate_add_num(&c.x, ic, "topP", v);
  stops(&c, req, ic);
  if (cJSON_GetArraySize(ic) > 0)
    sl__xlate_put(&c.x, root, "inferenceConfig", ic);
  else
    cJSON_Delete(ic);

  if (claude && (c.thinking || (!c.thinking && sl__xlate_getnum(req, "top_k", &v)))) {
    cJSON *amf = sl__xlate_add_obj(&c.x, root, "additionalModelRequestFields");
    if (c.thinking) {
      cJSON *th = sl__xlate_add_obj(&c.x, amf, "thinking");
      sl__xlate_add_str(&c.x, th, "type", "enabled");
      sl__xlate_add_num(&c.x, th, "budget_tokens", budget);
    } else {
      sl__xlate_add_num(&c.x, amf, "top_k", (double)sl__xlate_getint(req, "top_k"));
    }
  }
  sl__xlate_print(&c.x, root, out);
  cJSON_Delete(root);
  return c.x.rc;
}
