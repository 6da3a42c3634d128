/* The Responses request translator (sl_xlate_resp_to_chat_request, net/wire/xlate.h):
 * every input item and part kind, the merging of function calls into one assistant
 * message, tools, tool_choice, text.format, the scalars, and the refusals with the field
 * they name. The golden fixtures (test/fixtures/xlate_resp/req_*) are run by
 * test_xlate_resp_out.c. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate.h"
#include "test/unit/check.h"

static char err[512];
static cJSON *got;

static int tr(const char *json, bool mct) {
  cJSON *in = cJSON_Parse(json);
  struct sl_xlate_req_opts o = {.model = "up-model", .max_completion_tokens = mct};
  cJSON_Delete(got);
  got = NULL;
  err[0] = 0;
  int rc = in ? sl_xlate_resp_to_chat_request(in, &o, &got, err, sizeof err) : -999;
  cJSON_Delete(in);
  return rc;
}

static void ok_tr(const char *json, bool mct) {
  int rc = tr(json, mct);
  if (rc) printf("  rc %d: %s\n", rc, err);
  CHECK(rc == 0);
}

static const cJSON *at(const cJSON *o, const char *path) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", path);
  for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
    if (tok[0] >= '0' && tok[0] <= '9')
      o = cJSON_GetArrayItem(o, atoi(tok));
    else
      o = cJSON_GetObjectItemCaseSensitive(o, tok);
  }
  return o;
}

static const char *str(const char *path) {
  const cJSON *v = at(got, path);
  return cJSON_IsString(v) ? v->valuestring : "<none>";
}

static double num(const char *path) {
  const cJSON *v = at(got, path);
  return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static int count(const char *path) { return cJSON_GetArraySize(at(got, path)); }

static void string_input(void) {
  ok_tr("{\"model\":\"x\",\"input\":\"hello\",\"instructions\":\"be brief\"}", false);
  CHECK_STR(str("model"), "up-model");
  CHECK(count("messages") == 2);
  CHECK_STR(str("messages.0.role"), "system");
  CHECK_STR(str("messages.0.content"), "be brief");
  CHECK_STR(str("messages.1.role"), "user");
  CHECK_STR(str("messages.1.content"), "hello");
  CHECK(!at(got, "stream"));
}

static void message_parts(void) {
  ok_tr("{\"input\":[{\"role\":\"developer\",\"content\":\"dev\"},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"look\"},"
        "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"},"
        "{\"type\":\"input_file\",\"file_data\":\"data:application/pdf;base64,BBBB\",\"filename\":\"a.pdf\"}]}]}",
        false);
  CHECK_STR(str("messages.0.role"), "developer");
  CHECK_STR(str("messages.1.content.0.type"), "text");
  CHECK_STR(str("messages.1.content.0.text"), "look");
  CHECK_STR(str("messages.1.content.1.type"), "image_url");
  CHECK_STR(str("messages.1.content.1.image_url.url"), "data:image/png;base64,AAAA");
  CHECK_STR(str("messages.1.content.1.image_url.detail"), "low");
  CHECK_STR(str("messages.1.content.2.type"), "file");
  CHECK_STR(str("messages.1.content.2.file.file_data"), "data:application/pdf;base64,BBBB");
  CHECK_STR(str("messages.1.content.2.file.filename"), "a.pdf");
}

static void assistant_and_calls_merge(void) {
  ok_tr("{\"input\":[{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"Let me \",\"annotations\":[]},{\"type\":\"output_text\",\"text\":\"check\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"w\",\"arguments\":\"{\\\"city\\\":\\\"P\\\"}\"},"
        "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"w\",\"arguments\":\"{}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"sunny\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":[{\"type\":\"input_text\",\"text\":\"ra\"},"
        "{\"type\":\"input_text\",\"text\":\"in\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"c3\",\"name\":\"x\",\"arguments\":\"{}\"}]}",
        false);
  CHECK(count("messages") == 5); /* user, assistant(text + 2 calls), tool, tool, assistant(call) */
  CHECK_STR(str("messages.1.role"), "assistant");
  CHECK_STR(str("messages.1.content"), "Let me check");
  CHECK(count("messages.1.tool_calls") == 2);
  CHECK_STR(str("messages.1.tool_calls.0.id"), "c1");
  CHECK_STR(str("messages.1.tool_calls.0.type"), "function");
  CHECK_STR(str("messages.1.tool_calls.0.function.name"), "w");
  CHECK_STR(str("messages.1.tool_calls.0.function.arguments"), "{\"city\":\"P\"}");
  CHECK_STR(str("messages.1.tool_calls.1.id"), "c2");
  CHECK_STR(str("messages.2.role"), "tool");
  CHECK_STR(str("messages.2.tool_call_id"), "c1");
  CHECK_STR(str("messages.2.content"), "sunny");
  CHECK_STR(str("messages.3.content"), "rain");
  CHECK_STR(str("messages.4.role"), "assistant");
  CHECK(cJSON_IsNull(at(got, "messages.4.content")));
  CHECK(count("messages.4.tool_calls") == 1);
}

static void refusal_part_kept(void) {
  ok_tr("{\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}]}]}", false);
  CHECK_STR(str("messages.0.content.0.type"), "refusal");
  CHECK_STR(str("messages.0.content.0.refusal"), "no");
}

static void tools_and_choice(void) {
  ok_tr("{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\"},\"strict\":true}],\"tool_choice\":{\"type\":\"function\","
        "\"name\":\"f\"},\"parallel_tool_calls\":false}",
        false);
  CHECK_STR(str("tools.0.type"), "function");
  CHECK_STR(str("tools.0.function.name"), "f");
  CHECK_STR(str("tools.0.function.description"), "d");
  CHECK_STR(str("tools.0.function.parameters.type"), "object");
  CHECK(cJSON_IsTrue(at(got, "tools.0.function.strict")));
  CHECK_STR(str("tool_choice.type"), "function");
  CHECK_STR(str("tool_choice.function.name"), "f");
  CHECK(cJSON_IsFalse(at(got, "parallel_tool_calls")));
  const char *modes[] = {"auto", "none", "required"};
  for (int i = 0; i < 3; i++) {
    char b[200];
    snprintf(b, sizeof b, "{\"input\":\"x\",\"tool_choice\":\"%s\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"}]}",
             modes[i]);
    ok_tr(b, false);
    CHECK_STR(str("tool_choice"), modes[i]);
  }
}

/* Without tools, tool_choice and parallel_tool_calls are dropped (chat servers refuse
 * them), but a tool_choice chat cannot express is still refused. */
static void choice_without_tools(void) {
  ok_tr("{\"input\":\"x\",\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"},\"parallel_tool_calls\":true,"
        "\"tools\":[]}",
        false);
  CHECK(!at(got, "tool_choice") && !at(got, "parallel_tool_calls") && !at(got, "tools"));
  CHECK(tr("{\"input\":\"x\",\"tool_choice\":{\"type\":\"web_search_preview\"}}", false) == -EINVAL);
  CHECK(strstr(err, "tool_choice type 'web_search_preview'") != NULL);
}

static void text_formats(void) {
  ok_tr("{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\",\"description\":\"dd\","
        "\"schema\":{\"type\":\"object\"},\"strict\":true},\"verbosity\":\"low\"}}",
        false);
  CHECK_STR(str("response_format.type"), "json_schema");
  CHECK_STR(str("response_format.json_schema.name"), "n");
  CHECK_STR(str("response_format.json_schema.description"), "dd");
  CHECK_STR(str("response_format.json_schema.schema.type"), "object");
  CHECK(cJSON_IsTrue(at(got, "response_format.json_schema.strict")));
  CHECK(!at(got, "verbosity"));
  ok_tr("{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_object\"}}}", false);
  CHECK_STR(str("response_format.type"), "json_object");
  ok_tr("{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"text\"}}}", false);
  CHECK(!at(got, "response_format"));
  CHECK(tr("{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\"}}}", false) == -EINVAL);
  CHECK(strstr(err, "text.format") != NULL);
}

static void scalars(void) {
  ok_tr("{\"input\":\"x\",\"max_output_tokens\":77,\"temperature\":0.5,\"top_p\":0.9,\"user\":\"u1\","
        "\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"},\"stream\":true,\"service_tier\":\"flex\","
        "\"prompt_cache_key\":\"pk\",\"safety_identifier\":\"si\",\"top_logprobs\":3,\"metadata\":{\"a\":\"b\"},"
        "\"store\":true,\"include\":[\"x\"],\"truncation\":\"auto\",\"timeout\":5,\"cache\":{\"ttl\":1},"
        "\"sluice\":{}}",
        false);
  CHECK(num("max_tokens") == 77);
  CHECK(!at(got, "max_completion_tokens"));
  CHECK(num("temperature") == 0.5);
  CHECK(num("top_p") == 0.9);
  CHECK_STR(str("user"), "u1");
  CHECK_STR(str("reasoning_effort"), "high");
  CHECK(cJSON_IsTrue(at(got, "stream")));
  CHECK(cJSON_IsTrue(at(got, "stream_options.include_usage")));
  CHECK_STR(str("service_tier"), "flex");
  CHECK_STR(str("prompt_cache_key"), "pk");
  CHECK_STR(str("safety_identifier"), "si");
  CHECK(num("top_logprobs") == 3);
  CHECK(cJSON_IsTrue(at(got, "logprobs")));
  static const char *const dropped[] = {"metadata", "store",     "include", "truncation", "timeout",     "cache",
                                        "sluice",   "reasoning", "text",    "input",      "instructions"};
  for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) CHECK(!at(got, dropped[i]));
  ok_tr("{\"input\":\"x\",\"max_output_tokens\":10}", true);
  CHECK(num("max_completion_tokens") == 10);
  CHECK(!at(got, "max_tokens"));
}

/* Each refused request and a piece of the message it must carry. */
static void refusals(void) {
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"type\":\"item_reference\",\"id\":\"x\"}]}",
       "input[1].type 'item_reference' is not supported by chat-completions deployments"},
      {"{\"input\":[{\"type\":\"web_search_call\",\"id\":\"x\"}]}", "input[0].type 'web_search_call'"},
      {"{\"input\":[{\"type\":\"computer_call\"}]}", "input[0].type 'computer_call'"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"},{\"type\":\"web_search_preview\"}]}",
       "tools[1].type 'web_search_preview'"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"file_search\"}]}", "only deployments speaking the Responses API"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"mcp\"}]}", "tools[0].type 'mcp'"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"custom\",\"name\":\"c\"}]}", "tools[0].type 'custom'"},
      {"{\"input\":\"x\",\"tool_choice\":{\"type\":\"file_search\"}}", "tool_choice type 'file_search'"},
      {"{\"input\":\"x\",\"tool_choice\":\"sometimes\"}", "tool_choice"},
      {"{\"input\":\"x\",\"background\":true}", "background"},
      {"{\"input\":\"x\",\"conversation\":\"conv_1\"}", "conversation"},
      {"{\"input\":\"x\",\"prompt\":{\"id\":\"p\"}}", "prompt"},
      {"{\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", "previous_response_id"},
      {"{\"input\":\"x\",\"n\":2}", "n:"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"file_id\":\"f\"}]}]}",
       "input[0].content[0]: input_image needs image_url"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"file_id\":\"f\"}]}]}",
       "input[0].content[0]: input_file needs file_data"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"file_url\":\"https://x\"}]}]}",
       "file_url"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
       "input[0].content[0].type 'input_audio'"},
      {"{\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "input[0].role 'tool'"},
      {"{\"input\":[{\"type\":\"function_call\",\"name\":\"f\"}]}", "input[0]: function_call needs call_id"},
      {"{\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}", "function_call_output needs call_id"},
      {"{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":[{\"type\":\"input_image\","
       "\"image_url\":\"x\"}]}]}",
       "input[0].output[0]"},
      {"{\"input\":[3]}", "input[0]: an input item must be an object"},
      {"{\"input\":5}", "input:"},
      {"{}", "input:"},
      {"{\"input\":\"x\",\"instructions\":5}", "instructions"},
      {"{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"grammar\"}}}", "text.format.type 'grammar'"},
      {"[1]", "JSON object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = tr(cases[i].json, false);
    CHECK(rc == -EINVAL);
    CHECK(got == NULL);
    if (!strstr(err, cases[i].want)) {
      printf("  case %zu: got \"%s\"\n", i, err);
      CHECK(!"error message names the field");
    }
  }
}

static void model_from_request_without_opts(void) {
  cJSON *in = cJSON_Parse("{\"model\":\"client-model\",\"input\":\"x\"}");
  cJSON *out = NULL;
  CHECK(sl_xlate_resp_to_chat_request(in, NULL, &out, NULL, 0) == 0);
  CHECK_STR(cJSON_GetObjectItem(out, "model")->valuestring, "client-model");
  cJSON_Delete(out);
  cJSON_Delete(in);
}

static void cleanup(void) {
  cJSON_Delete(got);
  got = NULL;
}

CHECK_MAIN(T(string_input), T(message_parts), T(assistant_and_calls_merge), T(refusal_part_kept), T(tools_and_choice),
           T(choice_without_tools), T(text_formats), T(scalars), T(refusals), T(model_from_request_without_opts),
           T(cleanup))
