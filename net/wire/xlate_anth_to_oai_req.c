/* Anthropic Messages request -> OpenAI chat request (the rules are listed in xlate.h).
 * The one idea: an Anthropic turn may hold several things OpenAI keeps in separate
 * messages (tool results, then the user's own words; text and tool calls of one
 * assistant turn), so each turn is split by block type and re-emitted in the order
 * OpenAI requires: tool messages right after the assistant's tool_calls, then the user's
 * parts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

struct ctx {
  struct sl_xl x;
  cJSON *msgs;
};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* Appends the text of string-or-text-blocks content to b, blocks joined with sep.
 * false when a block is not text. */
static bool join_text(const cJSON *content, const char *sep, struct sl_buf *b) {
  if (cJSON_IsString(content)) {
    sl_buf_puts(b, content->valuestring);
    return true;
  }
  if (!cJSON_IsArray(content)) return content == NULL || cJSON_IsNull(content);
  const cJSON *blk;
  bool first = true;
  cJSON_ArrayForEach(blk, content) {
    const char *text = sl__xlate_getstr(blk, "text");
    if (!is(sl__xlate_getstr(blk, "type"), "text") || !text) return false;
    if (!first) sl_buf_puts(b, sep);
    sl_buf_puts(b, text);
    first = false;
  }
  return true;
}

/* data:<media_type>;base64,<data> */
static cJSON *data_url(const char *media_type, const char *data) {
  struct sl_buf b = {0};
  sl_buf_printf(&b, "data:%s;base64,", media_type);
  sl_buf_puts(&b, data);
  cJSON *s = b.oom ? NULL : cJSON_CreateString(b.p);
  sl_buf_free(&b);
  return s;
}

/* An image block -> an image_url part appended to parts. */
static void image_part(struct ctx *c, cJSON *parts, const cJSON *blk, const char *where) {
  const cJSON *src = sl__xlate_get(blk, "source");
  const char *st = sl__xlate_getstr(src, "type");
  cJSON *url = NULL;
  if (is(st, "base64")) {
    const char *mt = sl__xlate_getstr(src, "media_type"), *data = sl__xlate_getstr(src, "data");
    if (!mt || !data) {
      sl__xlate_bad(&c->x, "%s: image source needs media_type and data", where);
      return;
    }
    url = data_url(mt, data);
  } else if (is(st, "url") && sl__xlate_getstr(src, "url")) {
    url = cJSON_CreateString(sl__xlate_getstr(src, "url"));
  } else {
    sl__xlate_bad(&c->x, "%s: image source type '%s' is not supported by this deployment", where, st ? st : "");
    return;
  }
  cJSON *p = sl__xlate_add_obj(&c->x, parts, NULL);
  sl__xlate_add_str(&c->x, p, "type", "image_url");
  sl__xlate_put(&c->x, sl__xlate_add_obj(&c->x, p, "image_url"), "url", url);
}

static void document_part(struct ctx *c, cJSON *parts, const cJSON *blk, const char *where) {
  const cJSON *src = sl__xlate_get(blk, "source");
  const char *st = sl__xlate_getstr(src, "type");
  if (is(st, "text") && sl__xlate_getstr(src, "data")) {
    cJSON *p = sl__xlate_add_obj(&c->x, parts, NULL);
    sl__xlate_add_str(&c->x, p, "type", "text");
    sl__xlate_add_str(&c->x, p, "text", sl__xlate_getstr(src, "data"));
    return;
  }
  const char *mt = sl__xlate_getstr(src, "media_type"), *data = sl__xlate_getstr(src, "data");
  if (!is(st, "base64") || !mt || !data) {
    sl__xlate_bad(&c->x, "%s: only base64 and text document sources are supported by this deployment", where);
    return;
  }
  cJSON *p = sl__xlate_add_obj(&c->x, parts, NULL);
  sl__xlate_add_str(&c->x, p, "type", "file");
  cJSON *f = sl__xlate_add_obj(&c->x, p, "file");
  const char *title = sl__xlate_getstr(blk, "title");
  sl__xlate_add_str(&c->x, f, "filename", title ? title : "document.pdf");
  sl__xlate_put(&c->x, f, "file_data", data_url(mt, data));
}

static void add_text_part(struct ctx *c, cJSON *parts, const char *text) {
  cJSON *p = sl__xlate_add_obj(&c->x, parts, NULL);
  sl__xlate_add_str(&c->x, p, "type", "text");
  sl__xlate_add_str(&c->x, p, "text", text);
}

/* A user message from parts (owned): one text part becomes a plain string. */
static void user_message(struct ctx *c, cJSON *parts) {
  if (c->x.rc || !parts || cJSON_GetArraySize(parts) == 0) {
    cJSON_Delete(parts);
    return;
  }
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", "user");
  const cJSON *p0 = cJSON_GetArrayItem(parts, 0);
  if (cJSON_GetArraySize(parts) == 1 && is(sl__xlate_getstr(p0, "type"), "text")) {
    sl__xlate_add_str(&c->x, m, "content", sl__xlate_getstr(p0, "text"));
    cJSON_Delete(parts);
  } else {
    sl__xlate_put(&c->x, m, "content", parts);
  }
}

static void tool_result(struct ctx *c, const cJSON *blk, cJSON *extra, const char *where) {
  const char *id = sl__xlate_getstr(blk, "tool_use_id");
  if (!id) {
    sl__xlate_bad(&c->x, "%s: tool_result needs a string tool_use_id", where);
    return;
  }
  const cJSON *content = sl__xlate_get(blk, "content"), *inner;
  struct sl_buf text = {0};
  if (cJSON_IsString(content)) {
    sl_buf_puts(&text, content->valuestring);
  } else if (cJSON_IsArray(content)) {
    bool first = true;
    cJSON_ArrayForEach(inner, content) {
      const char *t = sl__xlate_getstr(inner, "type");
      if (is(t, "text") && sl__xlate_getstr(inner, "text")) {
        if (!first) sl_buf_puts(&text, "\n\n");
        sl_buf_puts(&text, sl__xlate_getstr(inner, "text"));
        first = false;
      } else if (is(t, "image")) {
        image_part(c, extra, inner, where); /* OpenAI tool messages carry text only */
      } else if (is(t, "document")) {
        document_part(c, extra, inner, where);
      } else {
        sl__xlate_bad(&c->x, "%s: tool_result content block type '%s' is not supported by this deployment", where,
                  t ? t : "");
      }
    }
  } else if (content && !cJSON_IsNull(content)) {
    sl__xlate_bad(&c->x, "%s: tool_result content must be a string or an array of blocks", where);
  }
  if (text.oom) sl__xlate_oom(&c->x);
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", "tool");
  sl__xlate_add_str(&c->x, m, "tool_call_id", id);
  sl__xlate_add_str(&c->x, m, "content", text.p ? text.p : "");
  sl_buf_free(&text);
}

static void user_turn(struct ctx *c, const cJSON *content, const char *where) {
  cJSON *extra = cJSON_CreateArray(), *parts = cJSON_CreateArray();
  if (!extra || !parts) sl__xlate_oom(&c->x);
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    const char *t = sl__xlate_getstr(blk, "type");
    if (is(t, "text")) {
      const char *text = sl__xlate_getstr(blk, "text");
      if (!text) sl__xlate_bad(&c->x, "%s: text block without a string text", where);
      else add_text_part(c, parts, text);
    } else if (is(t, "image")) image_part(c, parts, blk, where);
    else if (is(t, "document")) document_part(c, parts, blk, where);
    else if (is(t, "tool_result")) tool_result(c, blk, extra, where);
    else sl__xlate_bad(&c->x, "%s: content block type '%s' is not supported by this deployment", where, t ? t : "");
    if (c->x.rc) break;
  }
  /* tool messages were emitted in order; then images from tool results, then the rest */
  cJSON *p;
  while (parts && extra && (p = cJSON_DetachItemFromArray(parts, 0)) != NULL) sl__xlate_put(&c->x, extra, NULL, p);
  cJSON_Delete(parts);
  user_message(c, extra);
}

static void assistant_turn(struct ctx *c, const cJSON *content, const char *where) {
  cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
  sl__xlate_add_str(&c->x, m, "role", "assistant");
  if (cJSON_IsString(content)) {
    sl__xlate_add_str(&c->x, m, "content", content->valuestring);
    return;
  }
  struct sl_buf text = {0};
  bool any_text = false;
  cJSON *calls = cJSON_CreateArray();
  if (!calls) sl__xlate_oom(&c->x);
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    const char *t = sl__xlate_getstr(blk, "type");
    if (is(t, "text") && sl__xlate_getstr(blk, "text")) {
      sl_buf_puts(&text, sl__xlate_getstr(blk, "text"));
      any_text = true;
    } else if (is(t, "tool_use")) {
      const char *id = sl__xlate_getstr(blk, "id"), *name = sl__xlate_getstr(blk, "name");
      const cJSON *input = sl__xlate_get(blk, "input");
      if (!id || !name) {
        sl__xlate_bad(&c->x, "%s: tool_use needs a string id and name", where);
        break;
      }
      cJSON *tc = sl__xlate_add_obj(&c->x, calls, NULL);
      sl__xlate_add_str(&c->x, tc, "id", id);
      sl__xlate_add_str(&c->x, tc, "type", "function");
      cJSON *fn = sl__xlate_add_obj(&c->x, tc, "function");
      sl__xlate_add_str(&c->x, fn, "name", name);
      char *args = input ? cJSON_PrintUnformatted(input) : NULL;
      if (input && !args) sl__xlate_oom(&c->x);
      sl__xlate_add_str(&c->x, fn, "arguments", args ? args : "{}");
      cJSON_free(args);
    }
    /* thinking / redacted_thinking: the model's own earlier reasoning, which OpenAI chat
     * takes no input for (and discards between turns itself); server tool blocks have no
     * OpenAI form. Dropped (see xlate.h). */
  }
  if (text.oom) sl__xlate_oom(&c->x);
  int ncalls = calls ? cJSON_GetArraySize(calls) : 0;
  if (any_text) sl__xlate_add_str(&c->x, m, "content", text.p ? text.p : "");
  else if (ncalls) sl__xlate_add_null(&c->x, m, "content");
  else sl__xlate_add_str(&c->x, m, "content", "");
  if (ncalls) sl__xlate_put(&c->x, m, "tool_calls", calls);
  else cJSON_Delete(calls);
  sl_buf_free(&text);
}

static void messages(struct ctx *c, const cJSON *req) {
  const cJSON *sys = sl__xlate_get(req, "system");
  if (sys && !cJSON_IsNull(sys)) {
    struct sl_buf b = {0};
    if (!join_text(sys, "\n\n", &b)) sl__xlate_bad(&c->x, "system must be a string or an array of text blocks");
    else if (b.oom) sl__xlate_oom(&c->x);
    else if (b.n) {
      cJSON *m = sl__xlate_add_obj(&c->x, c->msgs, NULL);
      sl__xlate_add_str(&c->x, m, "role", "system");
      sl__xlate_add_str(&c->x, m, "content", b.p);
    }
    sl_buf_free(&b);
  }
  const cJSON *m;
  int i = 0;
  char where[48];
  cJSON_ArrayForEach(m, sl__xlate_get(req, "messages")) {
    if (c->x.rc) return;
    snprintf(where, sizeof where, "messages[%d]", i++);
    const char *role = sl__xlate_getstr(m, "role");
    const cJSON *content = sl__xlate_get(m, "content");
    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
      sl__xlate_bad(&c->x, "%s: content must be a string or an array of blocks", where);
      return;
    }
    if (is(role, "user")) {
      if (cJSON_IsString(content)) {
        cJSON *u = sl__xlate_add_obj(&c->x, c->msgs, NULL);
        sl__xlate_add_str(&c->x, u, "role", "user");
        sl__xlate_add_str(&c->x, u, "content", content->valuestring);
      } else {
        user_turn(c, content, where);
      }
    } else if (is(role, "assistant")) {
      assistant_turn(c, content, where);
    } else {
      sl__xlate_bad(&c->x, "%s: role must be user or assistant", where);
    }
  }
}

static void tools(struct ctx *c, const cJSON *req, cJSON *root) {
  const cJSON *ts = sl__xlate_get(req, "tools"), *t;
  if (!ts || cJSON_IsNull(ts)) return;
  if (!cJSON_IsArray(ts)) {
    sl__xlate_bad(&c->x, "tools must be an array");
    return;
  }
  if (cJSON_GetArraySize(ts) == 0) return;
  cJSON *out = sl__xlate_add_arr(&c->x, root, "tools");
  int i = 0;
  cJSON_ArrayForEach(t, ts) {
    const char *type = sl__xlate_getstr(t, "type"), *name = sl__xlate_getstr(t, "name");
    if (type && !is(type, "custom")) {
      sl__xlate_bad(&c->x, "tools[%d]: tool type '%s' is not supported by this deployment", i, type);
      return;
    }
    const cJSON *schema = sl__xlate_get(t, "input_schema");
    if (!name || (schema && !cJSON_IsObject(schema))) {
      sl__xlate_bad(&c->x, "tools[%d] needs a string name and an object input_schema", i);
      return;
    }
    cJSON *o = sl__xlate_add_obj(&c->x, out, NULL);
    sl__xlate_add_str(&c->x, o, "type", "function");
    cJSON *fn = sl__xlate_add_obj(&c->x, o, "function");
    sl__xlate_add_str(&c->x, fn, "name", name);
    const char *desc = sl__xlate_getstr(t, "description");
    if (desc) sl__xlate_add_str(&c->x, fn, "description", desc);
    if (cJSON_IsTrue(sl__xlate_get(t, "strict"))) sl__xlate_add_bool(&c->x, fn, "strict", true);
    if (schema) {
      sl__xlate_add_copy(&c->x, fn, "parameters", schema);
    } else {
      cJSON *s = sl__xlate_add_obj(&c->x, fn, "parameters");
      sl__xlate_add_str(&c->x, s, "type", "object");
      sl__xlate_add_obj(&c->x, s, "properties");
    }
    i++;
  }
  const cJSON *tc = sl__xlate_get(req, "tool_choice");
  if (!tc || cJSON_IsNull(tc)) return;
  const char *ty = sl__xlate_getstr(tc, "type");
  static const struct {
    const char *anth, *oai;
  } modes[] = {{"auto", "auto"}, {"any", "required"}, {"none", "none"}};
  bool done = false;
  for (size_t k = 0; ty && k < sizeof modes / sizeof modes[0]; k++)
    if (is(ty, modes[k].anth)) {
      sl__xlate_add_str(&c->x, root, "tool_choice", modes[k].oai);
      done = true;
    }
  if (!done && is(ty, "tool") && sl__xlate_getstr(tc, "name")) {
    cJSON *o = sl__xlate_add_obj(&c->x, root, "tool_choice");
    sl__xlate_add_str(&c->x, o, "type", "function");
    sl__xlate_add_str(&c->x, sl__xlate_add_obj(&c->x, o, "function"), "name", sl__xlate_getstr(tc, "name"));
    done = true;
  }
  if (!done) {
    sl__xlate_bad(&c->x, "tool_choice must be {\"type\":\"auto\"|\"any\"|\"none\"} or {\"type\":\"tool\",\"name\":...}");
    return;
  }
  if (cJSON_IsTrue(sl__xlate_get(tc, "disable_parallel_tool_use")) && !is(ty, "none"))
    sl__xlate_add_bool(&c->x, root, "parallel_tool_calls", false);
}

/* A structured-output format {type:"json_schema", schema} -> response_format. */
static void output_format(struct ctx *c, const cJSON *fmt, const char *where, cJSON *root) {
  const char *type = sl__xlate_getstr(fmt, "type");
  const cJSON *schema = sl__xlate_get(fmt, "schema");
  if (!cJSON_IsObject(fmt) || !is(type, "json_schema")) {
    sl__xlate_bad(&c->x, "%s.type '%s' is not supported by OpenAI-format deployments (only json_schema)", where,
                  type ? type : "");
    return;
  }
  if (!cJSON_IsObject(schema)) {
    sl__xlate_bad(&c->x, "%s.schema must be an object", where);
    return;
  }
  cJSON *rf = sl__xlate_add_obj(&c->x, root, "response_format");
  sl__xlate_add_str(&c->x, rf, "type", "json_schema");
  cJSON *js = sl__xlate_add_obj(&c->x, rf, "json_schema");
  sl__xlate_add_str(&c->x, js, "name", "response");
  sl__xlate_add_copy(&c->x, js, "schema", schema);
  sl__xlate_add_bool(&c->x, js, "strict", true);
}

/* thinking, output_config (effort, format) and output_format -> reasoning_effort and
 * response_format; what has no OpenAI form is refused by name. */
static void reasoning(struct ctx *c, const cJSON *req, cJSON *root) {
  const char *effort = NULL;
  const cJSON *th = sl__xlate_get(req, "thinking");
  if (th && !cJSON_IsNull(th)) {
    const char *type = sl__xlate_getstr(th, "type");
    double budget;
    if (!cJSON_IsObject(th) || !type) {
      sl__xlate_bad(&c->x, "thinking must be an object with a string type");
      return;
    }
    if (is(type, "enabled")) {
      if (!sl__xlate_getnum(th, "budget_tokens", &budget)) {
        sl__xlate_bad(&c->x, "thinking.budget_tokens must be a number");
        return;
      }
      effort = sl__xlate_budget_effort(sl__xlate_getint(th, "budget_tokens"));
    } else if (!is(type, "disabled") && !is(type, "adaptive")) { /* adaptive: the model's default */
      sl__xlate_bad(&c->x, "thinking.type '%s' is not supported by OpenAI-format deployments", type);
      return;
    }
  }
  const cJSON *oc = sl__xlate_get(req, "output_config"), *m, *fmt = NULL;
  if (oc && !cJSON_IsNull(oc) && !cJSON_IsObject(oc)) {
    sl__xlate_bad(&c->x, "output_config must be an object");
    return;
  }
  cJSON_ArrayForEach(m, (cJSON_IsObject(oc) ? oc : NULL)) {
    if (cJSON_IsNull(m)) continue;
    if (is(m->string, "effort")) {
      effort = sl__xlate_anth_effort(cJSON_IsString(m) ? m->valuestring : NULL); /* wins over a budget */
      if (!effort) {
        sl__xlate_bad(&c->x, "output_config.effort must be low, medium, high, xhigh or max");
        return;
      }
    } else if (is(m->string, "format")) {
      fmt = m;
    } else {
      sl__xlate_bad(&c->x, "output_config.%s is not supported by OpenAI-format deployments", m->string);
      return;
    }
  }
  if (fmt) {
    output_format(c, fmt, "output_config.format", root);
  } else {
    const cJSON *old = sl__xlate_get(req, "output_format"); /* the structured-outputs beta's name */
    if (old && !cJSON_IsNull(old)) output_format(c, old, "output_format", root);
  }
  if (effort) sl__xlate_add_str(&c->x, root, "reasoning_effort", effort);
}

/* Fields whose meaning an OpenAI-format deployment cannot give: refused, never dropped. */
static void refused_fields(struct ctx *c, const cJSON *req) {
  static const char *const fields[] = {
    "container",   /* a code-execution container / skills: no OpenAI equivalent */
    "mcp_servers", /* remote MCP tools run by Anthropic's API */
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const cJSON *v = sl__xlate_get(req, fields[i]);
    if (v && !cJSON_IsNull(v) && !(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0)) {
      sl__xlate_bad(&c->x, "%s is not supported by OpenAI-format deployments", fields[i]);
      return;
    }
  }
}

int sl_xlate_anth_to_oai_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                 char *err, size_t errlen) {
  struct ctx c = {.x = {0, err, errlen}};
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&c.x, "the request body must be a JSON object");
  if (!cJSON_IsArray(sl__xlate_get(req, "messages"))) return sl__xlate_bad(&c.x, "messages: an array is required");
  cJSON *root = sl__xlate_chat_root(&c.x, req, o, &c.msgs);
  if (!root) return c.x.rc;
  messages(&c, req);
  double max;
  if (sl__xlate_getnum(req, "max_tokens", &max))
    sl__xlate_add_num(&c.x, root, o && o->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
                  (double)sl__xlate_getint(req, "max_tokens"));
  const cJSON *stop = sl__xlate_get(req, "stop_sequences"), *s;
  if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON *arr = sl__xlate_add_arr(&c.x, root, "stop");
    cJSON_ArrayForEach(s, stop) {
      if (cJSON_IsString(s)) sl__xlate_add_str(&c.x, arr, NULL, s->valuestring);
      else sl__xlate_bad(&c.x, "stop_sequences must be an array of strings");
    }
  }
  sl__xlate_copy_params(&c.x, req, root, sl__xlate_anth_to_oai_params, sl__xlate_n_anth_to_oai_params);
  if (cJSON_IsTrue(sl__xlate_get(req, "stream")))
    sl__xlate_add_bool(&c.x, sl__xlate_add_obj(&c.x, root, "stream_options"), "include_usage", true);
  const char *user = sl__xlate_getstr(sl__xlate_get(req, "metadata"), "user_id");
  if (user) sl__xlate_add_str(&c.x, root, "user", user);
  tools(&c, req, root);
  reasoning(&c, req, root);
  refused_fields(&c, req);
  sl__xlate_print(&c.x, root, out);
  cJSON_Delete(root);
  return c.x.rc;
}
