/* OpenAI chat.completion -> Anthropic message, for whole (non-streamed) responses. The
 * one idea: choice 0's message is unfolded into typed blocks in the order Anthropic
 * emits them (thinking, text, tool_use; LiteLLM's thinking_blocks keep signatures),
 * tool arguments are parsed back into objects, and cached tokens are taken out of
 * input_tokens as Anthropic counts them. */
#include <errno.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

/* OpenAI usage -> native counts (input without cached tokens). */
static void read_usage(const cJSON *usage, struct sl_xlate_usage *u) {
  memset(u, 0, sizeof *u);
  if (!cJSON_IsObject(usage)) return;
  u->known = true;
  int64_t prompt = sl__xlate_getint(usage, "prompt_tokens");
  u->cache_read = sl__xlate_getint(sl__xlate_get(usage, "prompt_tokens_details"), "cached_tokens");
  if (u->cache_read < 0) u->cache_read = 0;
  u->input = prompt > u->cache_read ? prompt - u->cache_read : 0;
  u->output = sl__xlate_getint(usage, "completion_tokens");
}

/* Writes Anthropic usage fields into obj. */
static void put_usage(struct sl_xl *x, cJSON *obj, const struct sl_xlate_usage *u) {
  sl__xlate_add_num(x, obj, "input_tokens", (double)u->input);
  sl__xlate_add_num(x, obj, "cache_creation_input_tokens", (double)u->cache_creation);
  sl__xlate_add_num(x, obj, "cache_read_input_tokens", (double)u->cache_read);
  sl__xlate_add_num(x, obj, "output_tokens", (double)u->output);
}

static void text_block(struct sl_xl *x, cJSON *arr, const char *text) {
  if (!text || !text[0]) return;
  cJSON *b = sl__xlate_add_obj(x, arr, NULL);
  sl__xlate_add_str(x, b, "type", "text");
  sl__xlate_add_str(x, b, "text", text);
}

/* LiteLLM's message.thinking_blocks -> thinking / redacted_thinking blocks; false when
 * there are none usable (then reasoning_content is used). */
static bool thinking_blocks(struct sl_xl *x, cJSON *arr, const cJSON *tbs) {
  const cJSON *tb;
  bool any = false;
  cJSON_ArrayForEach(tb, (cJSON_IsArray(tbs) ? tbs : NULL)) {
    const char *t = sl__xlate_getstr(tb, "type"), *text = sl__xlate_getstr(tb, "thinking");
    const char *data = sl__xlate_getstr(tb, "data");
    if (t && strcmp(t, "thinking") == 0 && text) {
      cJSON *b = sl__xlate_add_obj(x, arr, NULL);
      sl__xlate_add_str(x, b, "type", "thinking");
      sl__xlate_add_str(x, b, "thinking", text);
      sl__xlate_add_str(x, b, "signature", sl__xlate_getstr(tb, "signature"));
      any = true;
    } else if (t && strcmp(t, "redacted_thinking") == 0 && data) {
      cJSON *b = sl__xlate_add_obj(x, arr, NULL);
      sl__xlate_add_str(x, b, "type", "redacted_thinking");
      sl__xlate_add_str(x, b, "data", data);
      any = true;
    }
  }
  return any;
}

int sl_xlate_oai_to_anth_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o,
                                  struct sl_buf *out, struct sl_xlate_usage *u) {
  struct sl_xl x = {0};
  struct sl_xlate_usage us;
  memset(&us, 0, sizeof us);
  if (u) *u = us;
  cJSON *in = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *choice = cJSON_GetArrayItem(sl__xlate_get(in, "choices"), 0);
  const cJSON *msg = sl__xlate_get(choice, "message");
  if (!cJSON_IsArray(sl__xlate_get(in, "choices")) || !cJSON_IsObject(msg)) {
    cJSON_Delete(in);
    return -EBADMSG;
  }
  read_usage(sl__xlate_get(in, "usage"), &us);
  const char *id = sl__xlate_getstr(in, "id"), *model = sl__xlate_getstr(in, "model");

  cJSON *root = cJSON_CreateObject();
  if (!root) sl__xlate_oom(&x);
  sl__xlate_add_str(&x, root, "id", id ? id : "");
  sl__xlate_add_str(&x, root, "type", "message");
  sl__xlate_add_str(&x, root, "role", "assistant");
  sl__xlate_add_str(&x, root, "model", model ? model : "");
  cJSON *blocks = sl__xlate_add_arr(&x, root, "content");

  const char *reasoning = sl__xlate_getstr(msg, "reasoning_content");
  if (!reasoning) reasoning = sl__xlate_getstr(msg, "reasoning"); /* vLLM, OpenRouter */
  if (thinking_blocks(&x, blocks, sl__xlate_get(msg, "thinking_blocks"))) {
    /* LiteLLM's signed blocks (a LiteLLM upstream, or our own Anthropic translation) */
  } else if (reasoning && reasoning[0]) {
    cJSON *b = sl__xlate_add_obj(&x, blocks, NULL);
    sl__xlate_add_str(&x, b, "type", "thinking");
    sl__xlate_add_str(&x, b, "thinking", reasoning);
    sl__xlate_add_str(&x, b, "signature", "");
  }
  const cJSON *content = sl__xlate_get(msg, "content"), *part;
  if (cJSON_IsString(content)) {
    text_block(&x, blocks, content->valuestring);
  } else if (cJSON_IsArray(content)) {
    cJSON_ArrayForEach(part, content) {
      const char *t = sl__xlate_getstr(part, "type");
      if (t && strcmp(t, "text") == 0) text_block(&x, blocks, sl__xlate_getstr(part, "text"));
      else if (t && strcmp(t, "refusal") == 0) text_block(&x, blocks, sl__xlate_getstr(part, "refusal"));
    }
  }
  text_block(&x, blocks, sl__xlate_getstr(msg, "refusal"));
  const cJSON *tc;
  cJSON_ArrayForEach(tc, (cJSON_IsArray(sl__xlate_get(msg, "tool_calls")) ? sl__xlate_get(msg, "tool_calls") : NULL)) {
    const cJSON *fn = sl__xlate_get(tc, "function");
    const char *tid = sl__xlate_getstr(tc, "id"), *name = sl__xlate_getstr(fn, "name");
    cJSON *b = sl__xlate_add_obj(&x, blocks, NULL);
    sl__xlate_add_str(&x, b, "type", "tool_use");
    sl__xlate_add_str(&x, b, "id", tid ? tid : "");
    sl__xlate_add_str(&x, b, "name", name ? name : "");
    sl__xlate_put(&x, b, "input", sl__xlate_parse_args(sl__xlate_getstr(fn, "arguments")));
  }
  const char *fr = sl__xlate_getstr(choice, "finish_reason"), *sr = sl__xlate_stop_reason(fr);
  /* Some OpenAI-compatible servers say "stop" after tool calls. */
  if (strcmp(sr, "end_turn") == 0 && cJSON_GetArraySize(sl__xlate_get(msg, "tool_calls")) > 0) sr = "tool_use";
  sl__xlate_add_str(&x, root, "stop_reason", sr);
  sl__xlate_add_null(&x, root, "stop_sequence");
  put_usage(&x, sl__xlate_add_obj(&x, root, "usage"), &us);

  sl__xlate_print(&x, root, out);
  cJSON_Delete(root);
  cJSON_Delete(in);
  if (u && !x.rc) *u = us;
  return x.rc;
}
