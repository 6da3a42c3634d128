/* Converse answer -> OpenAI chat.completion, for whole (non-streamed) responses. The one
 * idea: Converse's content blocks fold into OpenAI's three places as the Anthropic
 * translator folds Anthropic's (text -> content, toolUse -> tool_calls, reasoningContent
 * -> reasoning_content plus LiteLLM's thinking_blocks with signatures), stopReason goes
 * through the table in xlate_bedrock_err.c, and usage is re-added so prompt_tokens counts
 * cached tokens as OpenAI does (prompt = inputTokens + cacheReadInputTokens +
 * cacheWriteInputTokens; struct sl_xlate_usage keeps them apart). Converse answers carry no
 * id: the chat id comes from sl__bedrock_chat_id. With o->json_tool the call of
 * SL_XLATE_JSON_TOOL is content. Extend: a new block kind is one branch in the loop. */
#include <errno.h>
#include <string.h>

#include "net/wire/xlate_bedrock_internal.h"

static void read_usage(const cJSON *usage, struct sl_xlate_usage *u) {
  memset(u, 0, sizeof *u);
  if (!cJSON_IsObject(usage)) return;
  u->known = true;
  u->input = sl__xlate_getint(usage, "inputTokens");
  u->output = sl__xlate_getint(usage, "outputTokens");
  u->cache_read = sl__xlate_getint(usage, "cacheReadInputTokens");
  u->cache_creation = sl__xlate_getint(usage, "cacheWriteInputTokens");
}

int sl_xlate_converse_to_oai_response(const char *p, size_t n, const struct sl_xlate_resp_opts *o, const char *model,
                                      struct sl_buf *out, struct sl_xlate_usage *u) {
  struct sl_xl x = {0};
  struct sl_xlate_usage us;
  memset(&us, 0, sizeof us);
  if (u) *u = us;
  cJSON *in = p && n ? cJSON_ParseWithLength(p, n) : NULL;
  const cJSON *content = sl__xlate_get(sl__xlate_get(sl__xlate_get(in, "output"), "message"), "content");
  if (!cJSON_IsArray(content)) {
    cJSON_Delete(in);
    return -EINVAL;
  }
  read_usage(sl__xlate_get(in, "usage"), &us);
  char id[64];
  sl__bedrock_chat_id(id, o, p, n);

  cJSON *root = cJSON_CreateObject();
  if (!root) sl__xlate_oom(&x);
  sl__xlate_add_str(&x, root, "id", id);
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
  cJSON *calls = cJSON_CreateArray(), *blocks = cJSON_CreateArray();
  if (!calls || !blocks) sl__xlate_oom(&x);
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    const cJSON *tu = sl__xlate_get(blk, "toolUse"), *rc = sl__xlate_get(blk, "reasoningContent");
    const char *t = sl__xlate_getstr(blk, "text");
    if (t) {
      sl_buf_puts(&text, t);
      any_text = true;
    } else if (cJSON_IsObject(tu)) {
      const char *name = sl__xlate_getstr(tu, "name"), *tid = sl__xlate_getstr(tu, "toolUseId");
      const cJSON *input = sl__xlate_get(tu, "input");
      char *args = input ? cJSON_PrintUnformatted(input) : NULL;
      if (input && !args) sl__xlate_oom(&x);
      if (json_tool && name && strcmp(name, SL_XLATE_JSON_TOOL) == 0) {
        sl_buf_puts(&text, args && cJSON_IsObject(input) ? args : "{}");
        any_text = true;
      } else {
        cJSON *tc = sl__xlate_add_obj(&x, calls, NULL);
        sl__xlate_add_str(&x, tc, "id", tid ? tid : "");
        sl__xlate_add_str(&x, tc, "type", "function");
        cJSON *fn = sl__xlate_add_obj(&x, tc, "function");
        sl__xlate_add_str(&x, fn, "name", name ? name : "");
        sl__xlate_add_str(&x, fn, "arguments", args ? args : "{}");
      }
      cJSON_free(args);
    } else if (cJSON_IsObject(rc)) {
      const cJSON *rt = sl__xlate_get(rc, "reasoningText");
      const char *rtext = sl__xlate_getstr(rt, "text"), *sig = sl__xlate_getstr(rt, "signature");
      const char *red = sl__xlate_getstr(rc, "redactedContent");
      if (rtext) {
        sl_buf_puts(&thinking, rtext);
        any_thinking = true;
        cJSON *tb = sl__xlate_add_obj(&x, blocks, NULL);
        sl__xlate_add_str(&x, tb, "type", "thinking");
        sl__xlate_add_str(&x, tb, "thinking", rtext);
        sl__xlate_add_str(&x, tb, "signature", sig ? sig : "");
      } else if (red) {
        cJSON *tb = sl__xlate_add_obj(&x, blocks, NULL);
        sl__xlate_add_str(&x, tb, "type", "redacted_thinking");
        sl__xlate_add_str(&x, tb, "data", red);
      }
    }
    /* image, document, guardContent, citations...: no OpenAI chat form */
  }
  if (text.oom || thinking.oom) sl__xlate_oom(&x);
  if (any_text)
    sl__xlate_add_str(&x, msg, "content", text.p ? text.p : "");
  else
    sl__xlate_add_null(&x, msg, "content");
  sl__xlate_add_null(&x, msg, "refusal");
  if (any_thinking) sl__xlate_add_str(&x, msg, "reasoning_content", thinking.p ? thinking.p : "");
  if (blocks && cJSON_GetArraySize(blocks) > 0)
    sl__xlate_put(&x, msg, "thinking_blocks", blocks);
  else
    cJSON_Delete(blocks);
  int ncalls = calls ? cJSON_GetArraySize(calls) : 0;
  if (ncalls > 0)
    sl__xlate_put(&x, msg, "tool_calls", calls);
  else
    cJSON_Delete(calls);
  sl_buf_free(&text);
  sl_buf_free(&thinking);
  sl__xlate_add_null(&x, choice, "logprobs");
  const char *finish = sl__bedrock_finish_reason(sl__xlate_getstr(in, "stopReason"));
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
