/* Responses API request -> Chat Completions request tree (the rules are listed in
 * xlate.h, "the Responses API"). The one idea: a Responses `input` is a flat list of
 * typed items where chat keeps role messages, so the items are walked in order and each
 * becomes a message, except that an assistant's function_call items (and the assistant
 * text right before them) gather into ONE assistant message with tool_calls, as chat
 * requires; everything chat cannot express is refused by name, never silently lost.
 * To extend: a new input item or content part type is one branch in item() / part(); a
 * new scalar parameter is one row in sl__xlate_resp_to_chat_params (xlate_tables.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

struct ctx {
  struct sl_xl x;
  cJSON *msgs;
  cJSON *asst; /* the open assistant message that function_call items join, or NULL */
};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void copy_str(struct ctx *c, const cJSON *req, cJSON *root, const char *key) {
  const char *v = sl__xlate_getstr(req, key);
  if (v) sl__xlate_add_str(&c->x, root, key, v);
}

/* One input content part -> a chat content part appended to parts. where names it. */
static void part(struct ctx *c, cJSON *parts, const cJSON *p, const char *role, const char *where) {
  const char *ty = sl__xlate_getstr(p, "type");
  if (!cJSON_IsObject(p) || !ty) {
    sl__xlate_bad(&c->x, "%s: a content part must be an object with a type", where);
    return;
  }
  if (is(ty, "input_text") || is(ty, "output_text") || is(ty, "text")) {
    const char *text = sl__xlate_getstr(p, "text");
    if (!text) {
      sl__xlate_bad(&c->x, "%s.text: a string is required", where);
      return;
    }
    cJSON *o = sl__xlate_add_obj(&c->x, parts, NULL);
    sl__xlate_add_str(&c->x, o, "type", "text");
    sl__xlate_add_str(&c->x, o, "text", text);
  } else if (is(ty, "refusal") && is(role, "assistant")) {
    const char *r = sl__xlate_getstr(p, "refusal");
    cJSON *o = sl__xlate_add_obj(&c->x, parts, NULL);
    sl__xlate_add_str(&c->x, o, "type", "refusal");
    sl__xlate_add_str(&c->x, o, "refusal", r ? r : "");
  } else if (is(ty, "input_image")) {
    const char *url = sl__xlate_getstr(p, "image_url");
    if (!url) {
      sl__xlate_bad(&c->x, "%s: input_image needs image_url (file_id is not supported by chat-completions deployments)",
                    where);
      return;
    }
    cJSON *o = sl__xlate_add_obj(&c->x, parts, NULL);
    sl__xlate_add_str(&c->x, o, "type", "image_url");
    cJSON *iu = sl__xlate_add_obj(&c->x, o, "image_url");
    sl__xlate_add_str(&c->x, iu, "url", url);
    const char *detail = sl__xlate_getstr(p, "detail");
    if (detail) sl__xlate_add_str(&c->x, iu, "detail", detail);
  } else if (is(ty, "input_file")) {
    const char *data = sl__xlate_getstr(p, "file_data");
    if (!data) {
      sl__xlate_bad(&c->x,
                    "%s: input_file needs file_data (file_id and file_url are not supported by chat-completions "
                    "deployments)",
                    where);
      return;
    }
    cJSON *o = sl__xlate_add_obj(&c->x, parts, NULL);
    sl__xlate_add_str(&c->x, o, "type", "file");
    cJSON *f = sl__xlate_add_obj(&c->x, o, "file");
    sl__xlate_add_str(&c->x, f, "file_data", data);
    const char *name = sl__xlate_getstr(p, "filename");
    if (name) sl__xlate_add_str(&c->x, f, "filename", name);
  } else {
    sl__xlate_bad(&c->x, "%s.type '%s' is not supported by chat-completions deployments", where, ty);
  }
}

/* A message's content (string or parts) -> a chat content value (string or parts). */
static cJSON *content(struct ctx *c, const cJSON *v, const char *role, const char *where) {
  if (cJSON_IsString(v)) return cJSON_CreateString(v->valuestring);
  if (!cJSON_IsArray(v)) {
    sl__xlate_bad(&c->x, "%s.content: a string or an array of parts is required", where);
    return NULL;
  }
  cJSON *parts = cJSON_CreateArray();
  if (!parts) sl__xlate_oom(&c->x);
  const cJSON *p;
  int j = 0;
  cJSON_ArrayForEach(p, v) {
    char w[96];
    snprintf(w, sizeof w, "%s.content[%d]", where, j++);
    part(c, parts, p, role, w);
  }
  return parts;
}

/* Chat wants an assistant's text as a string (or text/refusal parts): parts all of
 * type text are joined into a string, which every compatible server accepts. */
static cJSON *flatten_assistant(struct ctx *c, cJSON *v) {
  if (!cJSON_IsArray(v)) return v;
  struct sl_buf b = {0};
  const cJSON *p;
  cJSON_ArrayForEach(p, v) {
    if (!is(sl__xlate_getstr(p, "type"), "text")) {
      sl_buf_free(&b);
      return v;
    }
    sl_buf_puts(&b, sl__xlate_getstr(p, "text"));
  }
  cJSON *s = b.oom ? NULL : cJSON_CreateString(b.p ? b.p : "");
  sl_buf_free(&b);
  if (!s) {
    sl__xlate_oom(&c->x);
    return v;
  }
  cJSON_Delete(v);
  return s;
}

static void message(struct ctx *c, const cJSON *it, const char *where) {
  const char *role = sl__xlate_getstr(it, "role");
  if (!role) {
    sl__xlate_bad(&c->x, "%s.role: a string is required", where);
    return;
  }
  if (!is(role, "user") && !is(role, "assistant") && !is(role, "system") && !is(role, "developer")) {
    sl__xlate_bad(&c->x, "%s.role '%s' is not supported", where, role);
    return;
  }
  cJSON *v = content(c, sl__xlate_get(it, "content"), role, where);
  if (!v) {
    if (!c->x.rc) sl__xlate_oom(&c->x);
    return;
  }
  if (is(role, "assistant")) {
    v = flatten_assistant(c, v);
    cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
    sl__xlate_add_str(&c->x, m, "role", "assistant");
    sl__xlate_put(&c->x, m, "content", v);
    c->asst = m; /* function calls right after this text join it */
    return;
  }
  c->asst = NULL;
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", role);
  sl__xlate_put(&c->x, m, "content", v);
}

static void function_call(struct ctx *c, const cJSON *it, const char *where) {
  const char *call_id = sl__xlate_getstr(it, "call_id"), *name = sl__xlate_getstr(it, "name");
  const char *args = sl__xlate_getstr(it, "arguments");
  if (!call_id || !name) {
    sl__xlate_bad(&c->x, "%s: function_call needs call_id and name", where);
    return;
  }
  if (!c->asst) {
    c->asst = sl__xlate_add_obj(&c->x, c->msgs, NULL);
    sl__xlate_add_str(&c->x, c->asst, "role", "assistant");
    sl__xlate_add_null(&c->x, c->asst, "content");
  }
  cJSON *calls = (cJSON *)sl__xlate_get(c->asst, "tool_calls");
  if (!calls) calls = sl__xlate_add_arr(&c->x, c->asst, "tool_calls");
  cJSON *tc = sl__xlate_add_obj(&c->x, calls, NULL);
  sl__xlate_add_str(&c->x, tc, "id", call_id);
  sl__xlate_add_str(&c->x, tc, "type", "function");
  cJSON *fn = sl__xlate_add_obj(&c->x, tc, "function");
  sl__xlate_add_str(&c->x, fn, "name", name);
  sl__xlate_add_str(&c->x, fn, "arguments", args ? args : "{}");
}

static void function_call_output(struct ctx *c, const cJSON *it, const char *where) {
  const char *call_id = sl__xlate_getstr(it, "call_id");
  const cJSON *out = sl__xlate_get(it, "output");
  if (!call_id) {
    sl__xlate_bad(&c->x, "%s: function_call_output needs call_id", where);
    return;
  }
  c->asst = NULL;
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", "tool");
  sl__xlate_add_str(&c->x, m, "tool_call_id", call_id);
  if (cJSON_IsString(out)) {
    sl__xlate_add_str(&c->x, m, "content", out->valuestring);
    return;
  }
  if (!cJSON_IsArray(out)) {
    sl__xlate_bad(&c->x, "%s.output: a string or an array of parts is required", where);
    return;
  }
  /* chat tool messages carry text: text parts are joined */
  struct sl_buf b = {0};
  const cJSON *p;
  int j = 0;
  cJSON_ArrayForEach(p, out) {
    const char *ty = sl__xlate_getstr(p, "type"), *text = sl__xlate_getstr(p, "text");
    if (!(is(ty, "input_text") || is(ty, "output_text") || is(ty, "text")) || !text) {
      sl__xlate_bad(
          &c->x,
          "%s.output[%d]: only text parts are supported in a function_call_output by chat-completions deployments",
          where, j);
      break;
    }
    sl_buf_puts(&b, text);
    j++;
  }
  if (b.oom) sl__xlate_oom(&c->x);
  sl__xlate_add_str(&c->x, m, "content", b.p ? b.p : "");
  sl_buf_free(&b);
}

static void item(struct ctx *c, const cJSON *it, int i) {
  char where[48];
  snprintf(where, sizeof where, "input[%d]", i);
  if (!cJSON_IsObject(it)) {
    sl__xlate_bad(&c->x, "%s: an input item must be an object", where);
    return;
  }
  const char *ty = sl__xlate_getstr(it, "type");
  if (!ty || is(ty, "message"))
    message(c, it, where); /* EasyInputMessage has no type */
  else if (is(ty, "function_call"))
    function_call(c, it, where);
  else if (is(ty, "function_call_output"))
    function_call_output(c, it, where);
  else if (is(ty, "reasoning"))
    return; /* chat takes no reasoning input: dropped */
  else
    sl__xlate_bad(&c->x, "%s.type '%s' is not supported by chat-completions deployments", where, ty);
}

static void input(struct ctx *c, const cJSON *req) {
  const cJSON *instr = sl__xlate_get(req, "instructions");
  if (cJSON_IsString(instr) && instr->valuestring[0]) {
    cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
    sl__xlate_add_str(&c->x, m, "role", "system");
    sl__xlate_add_str(&c->x, m, "content", instr->valuestring);
  } else if (instr && !cJSON_IsNull(instr) && !cJSON_IsString(instr)) {
    sl__xlate_bad(&c->x, "instructions: a string is required");
    return;
  }
  const cJSON *in = sl__xlate_get(req, "input");
  if (cJSON_IsString(in)) {
    cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
    sl__xlate_add_str(&c->x, m, "role", "user");
    sl__xlate_add_str(&c->x, m, "content", in->valuestring);
    return;
  }
  if (!cJSON_IsArray(in)) {
    sl__xlate_bad(&c->x, "input: a string or an array of items is required");
    return;
  }
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, in) {
    item(c, it, i++);
    if (c->x.rc) return;
  }
}

/* Built-in tool types that only a Responses deployment runs. */
static void tools(struct ctx *c, const cJSON *req, cJSON *root) {
  const cJSON *ts = sl__xlate_get(req, "tools"), *t;
  if (ts && !cJSON_IsNull(ts) && !cJSON_IsArray(ts)) {
    sl__xlate_bad(&c->x, "tools: an array is required");
    return;
  }
  int i = 0;
  cJSON *arr = NULL;
  cJSON_ArrayForEach(t, ts) {
    const char *ty = sl__xlate_getstr(t, "type");
    if (!is(ty, "function")) {
      sl__xlate_bad(&c->x,
                    "tools[%d].type '%s' is a built-in tool that only deployments speaking the Responses API serve; "
                    "this model is served through chat completions",
                    i, ty ? ty : "");
      return;
    }
    const char *name = sl__xlate_getstr(t, "name");
    if (!name) {
      sl__xlate_bad(&c->x, "tools[%d].name: a string is required", i);
      return;
    }
    if (!arr) arr = sl__xlate_add_arr(&c->x, root, "tools");
    cJSON *o = sl__xlate_add_obj(&c->x, arr, NULL);
    sl__xlate_add_str(&c->x, o, "type", "function");
    cJSON *fn = sl__xlate_add_obj(&c->x, o, "function");
    sl__xlate_add_str(&c->x, fn, "name", name);
    copy_str(c, t, fn, "description");
    const cJSON *p = sl__xlate_get(t, "parameters");
    if (cJSON_IsObject(p)) sl__xlate_add_copy(&c->x, fn, "parameters", p);
    const cJSON *strict = sl__xlate_get(t, "strict");
    if (cJSON_IsBool(strict)) sl__xlate_add_bool(&c->x, fn, "strict", cJSON_IsTrue(strict));
    i++;
  }
  const cJSON *tc = sl__xlate_get(req, "tool_choice");
  cJSON *choice = NULL;
  if (!tc || cJSON_IsNull(tc)) {
  } else if (cJSON_IsString(tc) &&
             (is(tc->valuestring, "auto") || is(tc->valuestring, "none") || is(tc->valuestring, "required"))) {
    choice = cJSON_CreateString(tc->valuestring);
  } else if (is(sl__xlate_getstr(tc, "type"), "function") && sl__xlate_getstr(tc, "name")) {
    choice = cJSON_CreateObject();
    sl__xlate_add_str(&c->x, choice, "type", "function");
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, choice, "function"), "name", sl__xlate_getstr(tc, "name"));
  } else {
    const char *ty = sl__xlate_getstr(tc, "type");
    sl__xlate_bad(&c->x,
                  "tool_choice%s%s%s is not supported by chat-completions deployments (use \"auto\", \"none\", "
                  "\"required\" or {\"type\":\"function\",\"name\":...})",
                  ty ? " type '" : "", ty ? ty : "", ty ? "'" : "");
    return;
  }
  /* chat servers refuse tool_choice and parallel_tool_calls without tools: dropped then */
  if (!arr) {
    cJSON_Delete(choice);
    return;
  }
  if (tc && !cJSON_IsNull(tc)) sl__xlate_put(&c->x, root, "tool_choice", choice);
  const cJSON *ptc = sl__xlate_get(req, "parallel_tool_calls");
  if (cJSON_IsBool(ptc)) sl__xlate_add_bool(&c->x, root, "parallel_tool_calls", cJSON_IsTrue(ptc));
}

static void text_format(struct ctx *c, const cJSON *req, cJSON *root) {
  const cJSON *f = sl__xlate_get(sl__xlate_get(req, "text"), "format");
  if (!f || cJSON_IsNull(f)) return;
  const char *ty = sl__xlate_getstr(f, "type");
  if (is(ty, "text")) return;
  if (is(ty, "json_object")) {
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, root, "response_format"), "type", "json_object");
    return;
  }
  if (!is(ty, "json_schema")) {
    sl__xlate_bad(&c->x, "text.format.type '%s' is not supported (text, json_object or json_schema)", ty ? ty : "");
    return;
  }
  const char *name = sl__xlate_getstr(f, "name");
  const cJSON *schema = sl__xlate_get(f, "schema");
  if (!name || !cJSON_IsObject(schema)) {
    sl__xlate_bad(&c->x, "text.format: json_schema needs name and schema");
    return;
  }
  cJSON *rf = sl__xlate_add_obj(&c->x, root, "response_format");
  sl__xlate_add_str(&c->x, rf, "type", "json_schema");
  cJSON *js = sl__xlate_add_obj(&c->x, rf, "json_schema");
  sl__xlate_add_str(&c->x, js, "name", name);
  copy_str(c, f, js, "description");
  sl__xlate_add_copy(&c->x, js, "schema", schema);
  const cJSON *strict = sl__xlate_get(f, "strict");
  if (cJSON_IsBool(strict)) sl__xlate_add_bool(&c->x, js, "strict", cJSON_IsTrue(strict));
}

/* Fields a chat deployment cannot honour: refused with why. */
static bool refused(struct ctx *c, const cJSON *req) {
  if (cJSON_IsTrue(sl__xlate_get(req, "background")))
    return sl__xlate_bad(&c->x, "background: true is not supported by chat-completions deployments"), true;
  static const struct {
    const char *key, *why;
  } no[] = {
      {"previous_response_id", "previous_response_id must be expanded before translation"},
      {"conversation", "conversation is not supported by chat-completions deployments"},
      {"prompt", "prompt (stored prompt templates) is not supported by chat-completions deployments"},
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
    const cJSON *v = sl__xlate_get(req, no[i].key);
    if (v && !cJSON_IsNull(v)) return sl__xlate_bad(&c->x, "%s", no[i].why), true;
  }
  double n;
  if (sl__xlate_getnum(req, "n", &n) && n != 1) return sl__xlate_bad(&c->x, "n: only 1 is supported"), true;
  return false;
}

int sl_xlate_resp_to_chat_request(const cJSON *req, const struct sl_xlate_req_opts *o, cJSON **out, char *err,
                                  size_t errlen) {
  struct ctx c = {.x = {0, err, errlen}};
  *out = NULL;
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&c.x, "the request body must be a JSON object");
  if (refused(&c, req)) return c.x.rc;
  cJSON *root = sl__xlate_chat_root(&c.x, req, o, &c.msgs);
  if (!root) return c.x.rc;
  input(&c, req);
  const cJSON *mot = sl__xlate_get(req, "max_output_tokens");
  if (mot && !cJSON_IsNull(mot) && (!cJSON_IsNumber(mot) || mot->valuedouble < 1 || mot->valuedouble > 1e9 ||
                                    mot->valuedouble != (double)(int64_t)mot->valuedouble)) {
    cJSON_Delete(root);
    return sl__xlate_bad(&c.x, "max_output_tokens: a positive integer is required");
  }
  if (cJSON_IsNumber(mot))
    sl__xlate_add_num(&c.x, root, o && o->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
                      (double)sl__xlate_getint(req, "max_output_tokens"));
  sl__xlate_copy_params(&c.x, req, root, sl__xlate_resp_to_chat_params, sl__xlate_n_resp_to_chat_params);
  if (cJSON_IsNumber(sl__xlate_get(req, "top_logprobs"))) sl__xlate_add_bool(&c.x, root, "logprobs", true);
  const char *effort = sl__xlate_getstr(sl__xlate_get(req, "reasoning"), "effort");
  if (effort) sl__xlate_add_str(&c.x, root, "reasoning_effort", effort);
  copy_str(&c, req, root, "user");
  copy_str(&c, req, root, "service_tier");
  copy_str(&c, req, root, "prompt_cache_key");
  copy_str(&c, req, root, "safety_identifier");
  if (cJSON_IsTrue(sl__xlate_get(req, "stream"))) {
    sl__xlate_add_bool(&c.x, root, "stream", true);
    sl__xlate_add_bool(&c.x, sl__xlate_add_obj(&c.x, root, "stream_options"), "include_usage", true);
  }
  tools(&c, req, root);
  text_format(&c, req, root);
  if (c.x.rc) {
    cJSON_Delete(root);
    return c.x.rc;
  }
  *out = root;
  return 0;
}
