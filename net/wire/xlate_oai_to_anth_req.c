/* OpenAI chat request -> Anthropic Messages request (the rules are listed in xlate.h).
 * The one idea: Anthropic wants one system prompt and alternating user/assistant turns
 * of typed blocks, so every OpenAI message is turned into (role, blocks) and handed to
 * one emitter that lifts system text, skips empty turns and merges a turn into the
 * previous one when the roles match (which is how consecutive tool results become one
 * user message of tool_result blocks). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

struct ctx {
  struct sl_xl x;
  cJSON *system; /* array of text blocks, attached at the end when not empty */
  cJSON *msgs;   /* the output messages array */
  cJSON *last;   /* last output message, for merging */
  enum sl__xlate_role last_role;
  bool thinking_blocks; /* reasoning asked for: assistant thinking_blocks are passed on */
};

static void copy_cache_control(struct ctx *c, const cJSON *from, cJSON *to) {
  const cJSON *cc = sl__xlate_get(from, "cache_control");
  if (cJSON_IsObject(cc)) sl__xlate_add_copy(&c->x, to, "cache_control", cc);
}

static void text_block(struct ctx *c, cJSON *arr, const char *text, const cJSON *part) {
  if (!text || !text[0]) return; /* Anthropic rejects empty text blocks */
  cJSON *b = sl__xlate_add_obj(&c->x, arr, NULL);
  sl__xlate_add_str(&c->x, b, "type", "text");
  sl__xlate_add_str(&c->x, b, "text", text);
  if (part) copy_cache_control(c, part, b);
}

/* A base64 source for an image or document from a data URL. */
static void base64_source(struct ctx *c, cJSON *block, const char *url, const char *dflt_type) {
  const char *type, *data;
  size_t tn;
  char t[128];
  if (!sl__xlate_data_url(url, &type, &tn, &data)) return;
  if (tn >= sizeof t) {
    sl__xlate_bad(&c->x, "data URL media type too long");
    return;
  }
  memcpy(t, type, tn); /* the media type is a slice of url */
  t[tn] = 0;
  cJSON *src = sl__xlate_add_obj(&c->x, block, "source");
  sl__xlate_add_str(&c->x, src, "type", "base64");
  sl__xlate_add_str(&c->x, src, "media_type", tn ? t : dflt_type);
  sl__xlate_add_str(&c->x, src, "data", data);
}

static void image_part(struct ctx *c, cJSON *arr, const cJSON *part, const char *where) {
  const cJSON *iu = sl__xlate_get(part, "image_url");
  const char *url = cJSON_IsString(iu) ? iu->valuestring : sl__xlate_getstr(iu, "url");
  if (!url) {
    sl__xlate_bad(&c->x, "%s: image_url.url must be a string", where);
    return;
  }
  const char *t, *d;
  size_t tn;
  bool data = sl__xlate_data_url(url, &t, &tn, &d);
  if (!data && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    sl__xlate_bad(&c->x, "%s: image_url.url must be an http(s) URL or a base64 data URL", where);
    return;
  }
  cJSON *b = sl__xlate_add_obj(&c->x, arr, NULL);
  sl__xlate_add_str(&c->x, b, "type", "image");
  if (data) {
    base64_source(c, b, url, "image/jpeg");
  } else {
    cJSON *src = sl__xlate_add_obj(&c->x, b, "source");
    sl__xlate_add_str(&c->x, src, "type", "url");
    sl__xlate_add_str(&c->x, src, "url", url);
  }
  copy_cache_control(c, part, b);
}

static void file_part(struct ctx *c, cJSON *arr, const cJSON *part, const char *where) {
  const cJSON *f = sl__xlate_get(part, "file");
  const char *fd = sl__xlate_getstr(f, "file_data"), *t, *d;
  size_t tn;
  if (!fd || !sl__xlate_data_url(fd, &t, &tn, &d)) {
    sl__xlate_bad(&c->x, "%s: only file parts with file_data as a base64 data URL are supported by this deployment", where);
    return;
  }
  cJSON *b = sl__xlate_add_obj(&c->x, arr, NULL);
  sl__xlate_add_str(&c->x, b, "type", "document");
  base64_source(c, b, fd, "application/pdf");
  copy_cache_control(c, part, b);
}

/* User (or tool result) content -> a new array of blocks (NULL after a failure). */
static cJSON *user_blocks(struct ctx *c, const cJSON *content, const char *where) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    sl__xlate_oom(&c->x);
    return NULL;
  }
  if (cJSON_IsString(content)) {
    text_block(c, arr, content->valuestring, NULL);
  } else if (cJSON_IsArray(content)) {
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      const char *type = sl__xlate_getstr(part, "type");
      if (!type) sl__xlate_bad(&c->x, "%s: every content part needs a string type", where);
      else if (strcmp(type, "text") == 0) {
        const char *text = sl__xlate_getstr(part, "text");
        if (!text) sl__xlate_bad(&c->x, "%s: text part without a string text", where);
        text_block(c, arr, text, part);
      } else if (strcmp(type, "image_url") == 0) image_part(c, arr, part, where);
      else if (strcmp(type, "file") == 0) file_part(c, arr, part, where);
      else sl__xlate_bad(&c->x, "%s: content part type '%s' is not supported by this deployment", where, type);
      if (c->x.rc) break;
    }
  } else if (!cJSON_IsNull(content) && content) {
    sl__xlate_bad(&c->x, "%s: content must be a string or an array of parts", where);
  }
  if (c->x.rc) {
    cJSON_Delete(arr);
    return NULL;
  }
  return arr;
}

/* Adds blocks (owned) as a turn of role; merges with the previous turn of the same role.
 * A lone user string stays a string (content_str) when it starts a turn. */
static void emit(struct ctx *c, enum sl__xlate_role role, cJSON *blocks, const char *content_str) {
  if (c->x.rc || !blocks) {
    cJSON_Delete(blocks);
    return;
  }
  if (cJSON_GetArraySize(blocks) == 0) { /* Anthropic rejects empty turns */
    cJSON_Delete(blocks);
    return;
  }
  if (c->last && c->last_role == role) {
    cJSON *prev = cJSON_GetObjectItemCaseSensitive(c->last, "content");
    if (cJSON_IsString(prev)) { /* turn the earlier string into a text block */
      cJSON *arr = cJSON_CreateArray();
      if (arr) text_block(c, arr, prev->valuestring, NULL);
      if (!arr || !cJSON_ReplaceItemInObjectCaseSensitive(c->last, "content", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(blocks);
        sl__xlate_oom(&c->x);
        return;
      }
      prev = arr;
    }
    cJSON *b;
    while ((b = cJSON_DetachItemFromArray(blocks, 0)) != NULL) sl__xlate_put(&c->x, prev, NULL, b);
    cJSON_Delete(blocks);
    return;
  }
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", role == SL_XL_ROLE_ASSISTANT ? "assistant" : "user");
  if (content_str) {
    sl__xlate_add_str(&c->x, m, "content", content_str);
    cJSON_Delete(blocks);
  } else {
    sl__xlate_put(&c->x, m, "content", blocks);
  }
  c->last = m;
  c->last_role = role;
}

static void system_msg(struct ctx *c, const cJSON *content, const char *where) {
  if (cJSON_IsString(content)) {
    text_block(c, c->system, content->valuestring, NULL);
    return;
  }
  if (!cJSON_IsArray(content)) {
    sl__xlate_bad(&c->x, "%s: system content must be a string or an array of text parts", where);
    return;
  }
  const cJSON *part;
  cJSON_ArrayForEach(part, content) {
    const char *type = sl__xlate_getstr(part, "type"), *text = sl__xlate_getstr(part, "text");
    if (!type || strcmp(type, "text") != 0 || !text) {
      sl__xlate_bad(&c->x, "%s: system content parts must be text", where);
      return;
    }
    text_block(c, c->system, text, part);
  }
}

/* LiteLLM's assistant thinking_blocks (the signed blocks a response gave) -> thinking /
 * redacted_thinking blocks at the start of the turn, appended to arr. */
static void thinking_blocks(struct ctx *c, cJSON *arr, const cJSON *m, const char *where) {
  const cJSON *tbs = sl__xlate_get(m, "thinking_blocks"), *tb;
  if (!c->thinking_blocks || !tbs || cJSON_IsNull(tbs)) return;
  if (!cJSON_IsArray(tbs)) {
    sl__xlate_bad(&c->x, "%s: thinking_blocks must be an array", where);
    return;
  }
  int j = 0;
  cJSON_ArrayForEach(tb, tbs) {
    const char *t = sl__xlate_getstr(tb, "type"), *text = sl__xlate_getstr(tb, "thinking");
    const char *sig = sl__xlate_getstr(tb, "signature"), *data = sl__xlate_getstr(tb, "data");
    cJSON *b = NULL;
    if (t && strcmp(t, "thinking") == 0 && text && sig) {
      b = sl__xlate_add_obj(&c->x, arr, NULL);
      sl__xlate_add_str(&c->x, b, "type", "thinking");
      sl__xlate_add_str(&c->x, b, "thinking", text);
      sl__xlate_add_str(&c->x, b, "signature", sig);
    } else if (t && strcmp(t, "redacted_thinking") == 0 && data) {
      b = sl__xlate_add_obj(&c->x, arr, NULL);
      sl__xlate_add_str(&c->x, b, "type", "redacted_thinking");
      sl__xlate_add_str(&c->x, b, "data", data);
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
  const cJSON *content = sl__xlate_get(m, "content");
  if (cJSON_IsString(content)) {
    text_block(c, arr, content->valuestring, NULL);
  } else if (cJSON_IsArray(content)) {
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      const char *type = sl__xlate_getstr(part, "type");
      const char *text = type && strcmp(type, "refusal") == 0 ? sl__xlate_getstr(part, "refusal") : sl__xlate_getstr(part, "text");
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
  if (sl__xlate_get(m, "function_call") && !cJSON_IsNull(sl__xlate_get(m, "function_call")))
    sl__xlate_bad(&c->x, "%s: legacy function_call is not supported by this deployment; use tool_calls", where);
  const cJSON *calls = sl__xlate_get(m, "tool_calls"), *tc;
  if (calls && !cJSON_IsNull(calls) && !cJSON_IsArray(calls)) sl__xlate_bad(&c->x, "%s: tool_calls must be an array", where);
  int j = 0;
  cJSON_ArrayForEach(tc, (cJSON_IsArray(calls) ? calls : NULL)) {
    const cJSON *fn = sl__xlate_get(tc, "function");
    const char *id = sl__xlate_getstr(tc, "id"), *name = sl__xlate_getstr(fn, "name");
    if (!id || !name) {
      sl__xlate_bad(&c->x, "%s: tool_calls[%d] needs a string id and function.name", where, j);
      break;
    }
    cJSON *b = sl__xlate_add_obj(&c->x, arr, NULL);
    sl__xlate_add_str(&c->x, b, "type", "tool_use");
    sl__xlate_add_str(&c->x, b, "id", id);
    sl__xlate_add_str(&c->x, b, "name", name);
    sl__xlate_put(&c->x, b, "input", sl__xlate_parse_args(sl__xlate_getstr(fn, "arguments")));
    j++;
  }
  if (cJSON_GetArraySize(arr) == nthinking) /* thinking alone is not a turn */
    while (nthinking-- > 0) cJSON_DeleteItemFromArray(arr, 0);
  emit(c, SL_XL_ROLE_ASSISTANT, arr, NULL);
}

static void tool_msg(struct ctx *c, const cJSON *m, const char *where) {
  const char *id = sl__xlate_getstr(m, "tool_call_id");
  if (!id) {
    sl__xlate_bad(&c->x, "%s: tool message needs a string tool_call_id", where);
    return;
  }
  cJSON *arr = cJSON_CreateArray();
  cJSON *b = sl__xlate_add_obj(&c->x, arr, NULL);
  if (!arr) sl__xlate_oom(&c->x);
  sl__xlate_add_str(&c->x, b, "type", "tool_result");
  sl__xlate_add_str(&c->x, b, "tool_use_id", id);
  const cJSON *content = sl__xlate_get(m, "content");
  if (cJSON_IsString(content)) {
    if (content->valuestring[0]) sl__xlate_add_str(&c->x, b, "content", content->valuestring);
  } else {
    cJSON *inner = user_blocks(c, content, where);
    if (inner && cJSON_GetArraySize(inner) > 0) sl__xlate_put(&c->x, b, "content", inner);
    else cJSON_Delete(inner);
  }
  emit(c, SL_XL_ROLE_USER, arr, NULL);
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
    case SL_XL_ROLE_SYSTEM:
      system_msg(c, content, where);
      break;
    case SL_XL_ROLE_USER:
      if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
        sl__xlate_bad(&c->x, "%s: user content must be a string or an array of parts", where);
        break;
      }
      emit(c, SL_XL_ROLE_USER, user_blocks(c, content, where),
           cJSON_IsString(content) ? content->valuestring : NULL);
      break;
    case SL_XL_ROLE_ASSISTANT:
      assistant_msg(c, m, where);
      break;
    case SL_XL_ROLE_TOOL:
      tool_msg(c, m, where);
      break;
    case SL_XL_ROLE_UNSUPPORTED:
      sl__xlate_bad(&c->x, "%s: role '%s' is not supported by this deployment", where, role);
      break;
    default:
      sl__xlate_bad(&c->x, "%s: unknown role%s%s", where, role ? " " : "", role ? role : "");
    }
    if (c->x.rc) return;
  }
}

/* response_format as the forced tool SL_XLATE_JSON_TOOL (see xlate.h). */
struct rf {
  cJSON *schema;    /* the tool's input_schema (owned until put); NULL: no json tool */
  const char *desc; /* json_schema.description, or NULL */
};

static const char json_tool_desc[] =
    "Give your final answer by calling this tool: its input is the answer, as JSON that follows the input schema.";
static const char json_tool_hint[] =
    "Give your final answer by calling the " SL_XLATE_JSON_TOOL
    " tool (its input is the answer, as JSON that follows the tool's input schema), not as text.";

static void response_format(struct ctx *c, const cJSON *req, struct rf *rf) {
  const cJSON *v = sl__xlate_get(req, "response_format");
  if (!v || cJSON_IsNull(v)) return;
  const char *type = sl__xlate_getstr(v, "type");
  if (!cJSON_IsObject(v) || !type) {
    sl__xlate_bad(&c->x, "response_format must be an object with a string type");
    return;
  }
  if (strcmp(type, "text") == 0) return;
  const cJSON *schema = NULL;
  if (strcmp(type, "json_schema") == 0) {
    const cJSON *js = sl__xlate_get(v, "json_schema");
    if (!cJSON_IsObject(js)) {
      sl__xlate_bad(&c->x, "response_format.json_schema must be an object");
      return;
    }
    schema = sl__xlate_get(js, "schema");
    if (cJSON_IsNull(schema)) schema = NULL;
    if (schema && !cJSON_IsObject(schema)) {
      sl__xlate_bad(&c->x, "response_format.json_schema.schema must be an object");
      return;
    }
    const cJSON *root_type = sl__xlate_get(schema, "type");
    if (root_type && !(cJSON_IsString(root_type) && strcmp(root_type->valuestring, "object") == 0)) {
      sl__xlate_bad(&c->x, "response_format.json_schema.schema: this deployment (Anthropic) needs an object at the "
                           "root (\"type\":\"object\")");
      return;
    }
    rf->desc = sl__xlate_getstr(js, "description");
  } else if (strcmp(type, "json_object") != 0) {
    sl__xlate_bad(&c->x, "response_format.type '%s' is not supported by this deployment", type);
    return;
  }
  rf->schema = schema ? cJSON_Duplicate(schema, 1) : cJSON_CreateObject();
  if (!rf->schema) {
    sl__xlate_oom(&c->x);
    return;
  }
  if (!sl__xlate_get(rf->schema, "type")) sl__xlate_add_str(&c->x, rf->schema, "type", "object");
}

/* tools, tool_choice and parallel_tool_calls, with the json tool of rf (taken) and the
 * limits of extended thinking (no forced tool use). */
static void tools(struct ctx *c, const cJSON *req, cJSON *root, struct rf *rf, bool thinking) {
  cJSON *schema = rf->schema;
  rf->schema = NULL;
  const cJSON *ts = sl__xlate_get(req, "tools"), *t;
  if (ts && !cJSON_IsNull(ts) && !cJSON_IsArray(ts)) {
    cJSON_Delete(schema);
    sl__xlate_bad(&c->x, "tools must be an array");
    return;
  }
  if (cJSON_GetArraySize(ts) == 0 && !schema) return;
  /* tool_choice and parallel_tool_calls, only meaningful with tools */
  const cJSON *tc = sl__xlate_get(req, "tool_choice");
  const cJSON *ptc = sl__xlate_get(req, "parallel_tool_calls");
  const char *mode = NULL, *named = NULL; /* the client's choice in Anthropic's words */
  if (cJSON_IsString(tc)) {
    static const struct {
      const char *oai, *anth;
    } modes[] = {{"auto", "auto"}, {"required", "any"}, {"none", "none"}};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
      if (strcmp(tc->valuestring, modes[k].oai) == 0) mode = modes[k].anth;
    if (!mode) sl__xlate_bad(&c->x, "tool_choice '%s' is not supported", tc->valuestring);
  } else if (cJSON_IsObject(tc)) {
    named = sl__xlate_getstr(sl__xlate_get(tc, "function"), "name");
    if (!named)
      sl__xlate_bad(&c->x, "tool_choice must be auto, required, none or {\"type\":\"function\",\"function\":{\"name\":...}}");
    mode = "tool";
  } else if (tc && !cJSON_IsNull(tc)) {
    sl__xlate_bad(&c->x, "tool_choice must be a string or an object");
  }
  /* tool_choice none with response_format: the client's tools are not offered */
  bool client = cJSON_GetArraySize(ts) > 0 && !(schema && mode && strcmp(mode, "none") == 0);
  if (c->x.rc || (!client && !schema)) {
    cJSON_Delete(schema);
    return;
  }
  cJSON *out = sl__xlate_add_arr(&c->x, root, "tools");
  int i = 0;
  cJSON_ArrayForEach(t, (client ? ts : NULL)) {
    const char *type = sl__xlate_getstr(t, "type");
    const cJSON *fn = sl__xlate_get(t, "function");
    const char *name = sl__xlate_getstr(fn, "name");
    if (!type || strcmp(type, "function") != 0) {
      sl__xlate_bad(&c->x, "tools[%d]: tool type '%s' is not supported by this deployment", i, type ? type : "");
      break;
    }
    if (!name) {
      sl__xlate_bad(&c->x, "tools[%d]: function.name must be a string", i);
      break;
    }
    if (schema && strcmp(name, SL_XLATE_JSON_TOOL) == 0) {
      sl__xlate_bad(&c->x, "tools[%d]: the name '%s' is taken on this deployment by response_format; rename the tool", i,
                    name);
      break;
    }
    const cJSON *params = sl__xlate_get(fn, "parameters");
    if (params && !cJSON_IsObject(params)) {
      sl__xlate_bad(&c->x, "tools[%d]: function.parameters must be an object", i);
      break;
    }
    cJSON *o = sl__xlate_add_obj(&c->x, out, NULL);
    sl__xlate_add_str(&c->x, o, "name", name);
    const char *desc = sl__xlate_getstr(fn, "description");
    if (desc) sl__xlate_add_str(&c->x, o, "description", desc);
    if (params) {
      sl__xlate_add_copy(&c->x, o, "input_schema", params);
    } else {
      cJSON *s = sl__xlate_add_obj(&c->x, o, "input_schema");
      sl__xlate_add_str(&c->x, s, "type", "object");
      sl__xlate_add_obj(&c->x, s, "properties");
    }
    copy_cache_control(c, t, o);
    i++;
  }
  if (schema) {
    cJSON *o = sl__xlate_add_obj(&c->x, out, NULL);
    sl__xlate_add_str(&c->x, o, "name", SL_XLATE_JSON_TOOL);
    sl__xlate_add_str(&c->x, o, "description", rf->desc ? rf->desc : json_tool_desc);
    sl__xlate_put(&c->x, o, "input_schema", schema);
    schema = NULL;
  }
  if (c->x.rc) return;

  bool json = cJSON_GetArraySize(out) > i; /* the json tool is offered */
  const char *type = mode, *name = named;
  if (json && !client) {
    type = "tool", name = SL_XLATE_JSON_TOOL; /* only the json tool: forced */
  } else if (json && (!mode || strcmp(mode, "auto") == 0)) {
    type = "any"; /* a client tool or the json tool */
  }
  if (thinking && type && (strcmp(type, "any") == 0 || strcmp(type, "tool") == 0)) {
    if (client && mode && (strcmp(mode, "any") == 0 || strcmp(mode, "tool") == 0)) {
      sl__xlate_bad(&c->x, "tool_choice %s cannot be combined with reasoning_effort on this deployment (Anthropic "
                           "refuses forced tool use with extended thinking)",
                    named ? "naming a function" : "'required'");
      return;
    }
    type = "auto", name = NULL; /* forced tool use is refused with thinking: ask instead */
    text_block(c, c->system, json_tool_hint, NULL);
  }
  if (!type && cJSON_IsFalse(ptc)) type = "auto";
  if (!type) return;
  cJSON *choice = sl__xlate_add_obj(&c->x, root, "tool_choice");
  sl__xlate_add_str(&c->x, choice, "type", type);
  if (name) sl__xlate_add_str(&c->x, choice, "name", name);
  /* one answer: the json tool alone is never called twice */
  if (strcmp(type, "none") != 0 && (cJSON_IsFalse(ptc) || (json && !client)))
    sl__xlate_add_bool(&c->x, choice, "disable_parallel_tool_use", true);
}

static bool is_thinking(const cJSON *b) {
  const char *t = sl__xlate_getstr(b, "type");
  return t && (strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0);
}

/* The last assistant turn of the output calls a tool without starting with the thinking
 * block that led to the call, which Anthropic then requires with thinking on (an OpenAI
 * history holds it only as LiteLLM's thinking_blocks). */
static bool last_turn_lacks_thinking(const cJSON *msgs) {
  const cJSON *m = NULL, *it, *b;
  cJSON_ArrayForEach(it, msgs) {
    const char *role = sl__xlate_getstr(it, "role");
    if (role && strcmp(role, "assistant") == 0) m = it;
  }
  const cJSON *content = sl__xlate_get(m, "content");
  if (is_thinking(cJSON_GetArrayItem(content, 0))) return false;
  cJSON_ArrayForEach(b, (cJSON_IsArray(content) ? content : NULL)) {
    const char *t = sl__xlate_getstr(b, "type");
    if (t && strcmp(t, "tool_use") == 0) return true;
  }
  return false;
}

/* Thinking left off: the thinking blocks of the history are not sent either. */
static void strip_thinking(cJSON *msgs) {
  cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    for (int i = cJSON_GetArraySize(content) - 1; i >= 0; i--)
      if (is_thinking(cJSON_GetArrayItem(content, i))) cJSON_DeleteItemFromArray(content, i);
  }
}

static void stops(struct ctx *c, const cJSON *req, cJSON *root) {
  const cJSON *stop = sl__xlate_get(req, "stop"), *s;
  if (cJSON_IsString(stop)) {
    cJSON *arr = sl__xlate_add_arr(&c->x, root, "stop_sequences");
    sl__xlate_add_str(&c->x, arr, NULL, stop->valuestring);
  } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON *arr = sl__xlate_add_arr(&c->x, root, "stop_sequences");
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

int sl_xlate_oai_to_anth_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                 char *err, size_t errlen) {
  struct ctx c = {.x = {0, err, errlen}};
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&c.x, "the request body must be a JSON object");
  const cJSON *msgs = sl__xlate_get(req, "messages");
  if (!cJSON_IsArray(msgs)) return sl__xlate_bad(&c.x, "'messages' must be an array");
  double n;
  if (sl__xlate_getnum(req, "n", &n) && n > 1) return sl__xlate_bad(&c.x, "n > 1 is not supported by this deployment");
  const char *model = o && o->model ? o->model : sl__xlate_getstr(req, "model");
  if (!model) return sl__xlate_bad(&c.x, "'model' must be a string");

  /* reasoning_effort -> thinking.budget_tokens */
  const cJSON *re = sl__xlate_get(req, "reasoning_effort");
  int budget = 0;
  if (re && !cJSON_IsNull(re)) {
    budget = sl__xlate_effort_budget(cJSON_IsString(re) ? re->valuestring : NULL);
    if (budget < 0)
      return sl__xlate_bad(&c.x, "reasoning_effort must be none, minimal, low, medium, high, xhigh or max");
  }

  cJSON *root = cJSON_CreateObject();
  c.system = cJSON_CreateArray();
  if (!root || !c.system) {
    cJSON_Delete(root);
    cJSON_Delete(c.system);
    sl__xlate_oom(&c.x);
    return c.x.rc;
  }
  sl__xlate_add_str(&c.x, root, "model", model);
  c.msgs = sl__xlate_add_arr(&c.x, root, "messages");
  c.thinking_blocks = budget > 0;
  messages(&c, msgs);
  /* thinking is left off for a turn that continues tool calls without their thinking */
  bool thinking = budget > 0 && !last_turn_lacks_thinking(c.msgs);
  if (budget > 0 && !thinking) strip_thinking(c.msgs);

  struct rf rf = {0};
  if (!c.x.rc) response_format(&c, req, &rf);
  tools(&c, req, root, &rf, thinking);
  cJSON_Delete(rf.schema);

  /* system: a string for one text block without cache_control, else the blocks */
  int ns = cJSON_GetArraySize(c.system);
  if (ns == 1 && !sl__xlate_get(cJSON_GetArrayItem(c.system, 0), "cache_control")) {
    sl__xlate_add_str(&c.x, root, "system", sl__xlate_getstr(cJSON_GetArrayItem(c.system, 0), "text"));
    cJSON_Delete(c.system);
  } else if (ns > 0) {
    sl__xlate_put(&c.x, root, "system", c.system);
  } else {
    cJSON_Delete(c.system);
  }
  c.system = NULL;

  int64_t max = 0;
  if (sl__xlate_get(req, "max_tokens") && !cJSON_IsNull(sl__xlate_get(req, "max_tokens"))) max = sl__xlate_getint(req, "max_tokens");
  else if (sl__xlate_get(req, "max_completion_tokens") && !cJSON_IsNull(sl__xlate_get(req, "max_completion_tokens")))
    max = sl__xlate_getint(req, "max_completion_tokens");
  else max = o && o->default_max_tokens > 0 ? o->default_max_tokens : SL_XLATE_DEFAULT_MAX_TOKENS;
  /* Anthropic wants max_tokens > budget_tokens: the budget comes on top of the answer's */
  if (thinking && max <= budget) max += budget;
  sl__xlate_add_num(&c.x, root, "max_tokens", (double)max);

  stops(&c, req, root);
  sl__xlate_copy_params(&c.x, req, root, sl__xlate_oai_to_anth_params, sl__xlate_n_oai_to_anth_params);
  if (thinking) {
    /* refused with thinking: temperature and top_k at all, top_p below 0.95 */
    double top_p;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "temperature");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "top_k");
    if (sl__xlate_getnum(root, "top_p", &top_p) && top_p < 0.95) cJSON_DeleteItemFromObjectCaseSensitive(root, "top_p");
    cJSON *th = sl__xlate_add_obj(&c.x, root, "thinking");
    sl__xlate_add_str(&c.x, th, "type", "enabled");
    sl__xlate_add_num(&c.x, th, "budget_tokens", budget);
  }
  const char *user = sl__xlate_getstr(req, "user");
  if (user) sl__xlate_add_str(&c.x, sl__xlate_add_obj(&c.x, root, "metadata"), "user_id", user);

  sl__xlate_print(&c.x, root, out);
  cJSON_Delete(root);
  return c.x.rc;
}
