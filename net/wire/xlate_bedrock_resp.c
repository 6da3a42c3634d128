/* Converse answer -> Anthropic message, for whole (non-streamed) responses. The one idea:
 * Converse's content blocks are Anthropic's spelled another way (text -> text, toolUse ->
 * tool_use, reasoningContent -> thinking with its signature / redacted_thinking), stopReason
 * goes through the table in xlate_bedrock_err.c, and usage maps field for field
 * (inputTokens -> input_tokens, cacheReadInputTokens -> cache_read_input_tokens,
 * cacheWriteInputTokens -> cache_creation_input_tokens). Converse answers carry no id: the
 * message id comes from sl__bedrock_msg_id. Everything OpenAI (json tool, finish_reason,
 * prompt_tokens) is the Anthropic -> OpenAI translator's, downstream.
 * Extend: a new block kind is one branch in the loop. */
#include <errno.h>
#include <string.h>

#include "net/wire/xlate_bedrock_internal.h"

int sl_xlate_converse_to_anth_response(const char *p, size_t n, const struct sl_xlate_resp_opts *o, const char *model,
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
  sl__bedrock_usage(sl__xlate_get(in, "usage"), &us);
  char id[64];
  sl__bedrock_msg_id(id, o, p, n);

  cJSON *root = cJSON_CreateObject();
  if (!root) sl__xlate_oom(&x);
  sl__xlate_add_str(&x, root, "id", id);
  sl__xlate_add_str(&x, root, "type", "message");
  sl__xlate_add_str(&x, root, "role", "assistant");
  sl__xlate_add_str(&x, root, "model", model ? model : "");
  cJSON *blocks = sl__xlate_add_arr(&x, root, "content");
  const cJSON *blk;
  cJSON_ArrayForEach(blk, content) {
    const cJSON *tu = sl__xlate_get(blk, "toolUse"), *rc = sl__xlate_get(blk, "reasoningContent");
    const char *t = sl__xlate_getstr(blk, "text");
    if (t) {
      cJSON *b = sl__xlate_add_obj(&x, blocks, NULL);
      sl__xlate_add_str(&x, b, "type", "text");
      sl__xlate_add_str(&x, b, "text", t);
    } else if (cJSON_IsObject(tu)) {
      const char *name = sl__xlate_getstr(tu, "name"), *tid = sl__xlate_getstr(tu, "toolUseId");
      const cJSON *input = sl__xlate_get(tu, "input");
      cJSON *b = sl__xlate_add_obj(&x, blocks, NULL);
      sl__xlate_add_str(&x, b, "type", "tool_use");
      sl__xlate_add_str(&x, b, "id", tid ? tid : "");
      sl__xlate_add_str(&x, b, "name", name ? name : "");
      if (cJSON_IsObject(input))
        sl__xlate_add_copy(&x, b, "input", input);
      else
        sl__xlate_add_obj(&x, b, "input");
    } else if (cJSON_IsObject(rc)) {
      const cJSON *rt = sl__xlate_get(rc, "reasoningText");
      const char *rtext = sl__xlate_getstr(rt, "text"), *sig = sl__xlate_getstr(rt, "signature");
      const char *red = sl__xlate_getstr(rc, "redactedContent");
      cJSON *b = rtext || red ? sl__xlate_add_obj(&x, blocks, NULL) : NULL;
      if (rtext) {
        sl__xlate_add_str(&x, b, "type", "thinking");
        sl__xlate_add_str(&x, b, "thinking", rtext);
        sl__xlate_add_str(&x, b, "signature", sig ? sig : "");
      } else if (red) {
        sl__xlate_add_str(&x, b, "type", "redacted_thinking");
        sl__xlate_add_str(&x, b, "data", red);
      }
    }
    /* image, document, guardContent, citations...: no Anthropic answer form */
  }
  const char *sr = sl__xlate_getstr(in, "stopReason");
  sl__xlate_add_str(&x, root, "stop_reason", sl__bedrock_stop_reason(sr));
  const char *seq = sl__xlate_getstr(sl__xlate_get(in, "additionalModelResponseFields"), "stop_sequence");
  if (seq)
    sl__xlate_add_str(&x, root, "stop_sequence", seq);
  else
    sl__xlate_add_null(&x, root, "stop_sequence");
  cJSON *usage = sl__xlate_add_obj(&x, root, "usage");
  sl__xlate_add_num(&x, usage, "input_tokens", (double)us.input);
  sl__xlate_add_num(&x, usage, "cache_creation_input_tokens", (double)us.cache_creation);
  sl__xlate_add_num(&x, usage, "cache_read_input_tokens", (double)us.cache_read);
  sl__xlate_add_num(&x, usage, "output_tokens", (double)us.output);

  sl__xlate_print(&x, root, out);
  cJSON_Delete(root);
  cJSON_Delete(in);
  if (u && !x.rc) *u = us;
  return x.rc;
}
