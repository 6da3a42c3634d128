/* Anthropic message -> OpenAI chat.completion, for whole (non-streamed) responses. The
 * one idea: Anthropic's typed content blocks fold into the three places OpenAI keeps an
 * answer (content text, tool_calls, reasoning_content; thinking_blocks keeps the
 * signed blocks as LiteLLM does), in block order, and the usage
 * is re-added so that prompt_tokens counts cached tokens as OpenAI does. With
 * o->json_tool, the call of response_format's tool (SL_XLATE_JSON_TOOL) is content. */
#include <errno.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

/* Reads Anthropic usage into u. */
static void read_usage(const cJSON *usage, struct sl_xlate_usage *u) {
  memset(u, 0, sizeof *u);
  if (!cJSON_IsObject(usage)) return;
  u->known = true;
  u->input = sl__xlate_getint(usage, "input_tokens");
  u->output = sl__xlate_getint(usage, "output_tokens");
  u->cache_read = sl__xlate_getint(usage, "cache_read_input_tokens");
  u->cache_creation = sl__xlate_getint(usage, "cache_creation_input_tokens");
}

static bool name_is(const cJSON *blk, const char *name) {
  const char *n = sl__xlate_getstr(blk, "name");
  return n && strcmp(n, name) == 0;
}

int sl_xlate_anth_to_oai_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o,
                                  struct sl_buf *out, struct sl_xlate_usage *u) {
  struct sl_xl x = {0};
  struct sl_xlate_usage us;
  memset(&us, 0, sizeof us);
  if (u) *u = us;
  cJSON *in = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *content = sl__xlate_get(in, "content");
  if (!cJSON_IsArray(content)) {
    cJSON_Delete(in);
    return -EBADMSG;
  }
  read_usage(sl__xlate_get(in, "usage"), &us);
  const char *id = sl__xlate_getstr(in, "id"), *model = sl__xlate_getstr(in, "model");

  cJSON *root = cJSON_CreateObject();
  if (!root) sl__xlate_oom(&x);
  sl__xlate_add_str(&x, root, "id", id ? id : "");
  sl__xlate_add_str(&x, root, "object", "chat.completion");
  sl__xlate_add_num(&x, root, "created", o ? (double)o->created : 0);
  sl__xlate_add_str(&x, root, "model", model ? model : "");
  cJSON *choice = sl__xlate_add_obj(&x, sl__xlate_add_arr(&x, root, "choices"), NULL);
  sl__xlate_add_num(&x, choice, "index", 0);
  cJSON *msg = sl__xlate_add_obj(&x, choice, "message");
  sl__xlate_add_str(&x, msg, "role", "assistant");

  bool json_tool = o && o->json_tool;
  struct sl_buf text = {0}, thinking = {0};
  bool any_text = false, any_thinking = false;
  cJSON *calls = cJSON_CreateArray(), *blocks = cJSON_CreateArray(); /* blocks: thinking_blocks */
  if (!calls || !blocks) sl__xlate_oom(&x);
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    const char *t = sl__xlate_getstr(blk, "type");
    if (!t) continue;
    if (strcmp(t, "text") == 0 && sl__xlate_getstr(blk, "text")) {
      sl_buf_puts(&text, sl__xlate_getstr(blk, "text"));
      any_text = true;
    } else if (strcmp(t, "thinking") == 0 && sl__xlate_getstr(blk, "thinking")) {
      sl_buf_puts(&thinking, sl__xlate_getstr(blk, "thinking"));
      any_thinking = true;
      cJSON *tb = sl__xlate_add_obj(&x, blocks, NULL);
      sl__xlate_add_str(&x, tb, "type", "thinking");
      sl__xlate_add_str(&x, tb, "thinking", sl__xlate_getstr(blk, "thinking"));
      sl__xlate_add_str(&x, tb, "signature", sl__xlate_getstr(blk, "signature"));
    } else if (strcmp(t, "redacted_thinking") == 0 && sl__xlate_getstr(blk, "data")) {
      cJSON *tb = sl__xlate_add_obj(&x, blocks, NULL);
      sl__xlate_add_str(&x, tb, "type", "redacted_thinking");
      sl__xlate_add_str(&x, tb, "data", sl__xlate_getstr(blk, "data"));
    } else if (strcmp(t, "tool_use") == 0 && json_tool && name_is(blk, SL_XLATE_JSON_TOOL)) {
      /* response_format's tool: its input is the answer (compact JSON text) */
      const cJSON *input = sl__xlate_get(blk, "input");
      char *j = cJSON_IsObject(input) ? cJSON_PrintUnformatted(input) : NULL;
      if (cJSON_IsObject(input) && !j) sl__xlate_oom(&x);
      sl_buf_puts(&text, j ? j : "{}");
      cJSON_free(j);
      any_text = true;
    } else if (strcmp(t, "tool_use") == 0) {
      cJSON *tc = sl__xlate_add_obj(&x, calls, NULL);
      const char *tid = sl__xlate_getstr(blk, "id"), *name = sl__xlate_getstr(blk, "name");
      const cJSON *input = sl__xlate_get(blk, "input");
      sl__xlate_add_str(&x, tc, "id", tid ? tid : "");
      sl__xlate_add_str(&x, tc, "type", "function");
      cJSON *fn = sl__xlate_add_obj(&x, tc, "function");
      sl__xlate_add_str(&x, fn, "name", name ? name : "");
      char *args = input ? cJSON_PrintUnformatted(input) : NULL;
      if (input && !args) sl__xlate_oom(&x);
      sl__xlate_add_str(&x, fn, "arguments", args ? args : "{}");
      cJSON_free(args);
    }
    /* server tool blocks: no OpenAI form */
  }
  if (text.oom || thinking.oom) sl__xlate_oom(&x);
  if (any_text) sl__xlate_add_str(&x, msg, "content", text.p ? text.p : "");
  else sl__xlate_add_null(&x, msg, "content");
  sl__xlate_add_null(&x, msg, "refusal");
  if (any_thinking) sl__xlate_add_str(&x, msg, "reasoning_content", thinking.p ? thinking.p : "");
  /* LiteLLM's field: the blocks with their signatures, for the client to send back */
  if (blocks && cJSON_GetArraySize(blocks) > 0) sl__xlate_put(&x, msg, "thinking_blocks", blocks);
  else cJSON_Delete(blocks);
  int ncalls = calls ? cJSON_GetArraySize(calls) : 0;
  if (ncalls > 0) sl__xlate_put(&x, msg, "tool_calls", calls);
  else cJSON_Delete(calls);
  sl_buf_free(&text);
  sl_buf_free(&thinking);
  sl__xlate_add_null(&x, choice, "logprobs");
  const char *finish = sl__xlate_finish_reason(sl__xlate_getstr(in, "stop_reason"));
  /* the json tool's call is the answer: "stop" unless the client's tools were called */
  if (json_tool && ncalls == 0 && strcmp(finish, "tool_calls") == 0) finish = "stop";
  sl__xlate_add_str(&x, choice, "finish_reason", finish);

  cJSON *usage = sl__xlate_add_obj(&x, root, "usage");
  int64_t prompt = us.input + us.cache_read + us.cache_creation;
  sl__xlate_add_num(&x, usage, "prompt_tokens", (double)prompt);
  sl__xlate_add_num(&x, usage, "completion_tokens", (double)us.output);
  sl__xlate_add_num(&x, usage, "total_tokens", (double)(prompt + us.output));
  sl__xlate_add_num(&x, sl__xlate_add_obj(&x, usage, "prompt_tokens_details"), "cached_tokens", (double)us.cache_read);

  sl__xlate_print(&x, root, out);
  cJSON_Delete(root);
  cJSON_Delete(in);
  if (u && !x.rc) *u = us;
  return x.rc;
}
