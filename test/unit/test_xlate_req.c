/* Request translators (net/wire/xlate.h) beyond the golden fixtures: refusals with their
 * messages, defaults, merging of turns, and the round trip OpenAI -> Anthropic ->
 * OpenAI keeping the conversation's meaning. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate.h"
#include "test/unit/check.h"

static char err[256];

/* Translates JSON text; returns rc and the parsed output in *out (NULL on error). */
static int o2a(const char *json, const struct sl_xlate_req_opts *o, cJSON **out) {
  cJSON *in = cJSON_Parse(json);
  struct sl_buf b = {0};
  err[0] = 0;
  int rc = sl_xlate_oai_to_anth_request(in, o, &b, err, sizeof err);
  *out = rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (rc == 0 && !*out) rc = -999; /* output must be JSON */
  sl_buf_free(&b);
  cJSON_Delete(in);
  return rc;
}

static int a2o(const char *json, const struct sl_xlate_req_opts *o, cJSON **out) {
  cJSON *in = cJSON_Parse(json);
  struct sl_buf b = {0};
  err[0] = 0;
  int rc = sl_xlate_anth_to_oai_request(in, o, &b, err, sizeof err);
  *out = rc == 0 ? cJSON_ParseWithLength(b.p, b.n) : NULL;
  if (rc == 0 && !*out) rc = -999;
  sl_buf_free(&b);
  cJSON_Delete(in);
  return rc;
}

static const cJSON *at(const cJSON *o, const char *path) {
  /* dotted path with numeric indexes: "messages.0.content" */
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", path);
  for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
    o = (*t >= '0' && *t <= '9') ? cJSON_GetArrayItem(o, atoi(t)) : cJSON_GetObjectItemCaseSensitive(o, t);
  return o;
}

static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = at(o, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double num(const cJSON *o, const char *path) {
  const cJSON *v = at(o, path);
  return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static void null_and_garbage_inputs(void) {
  struct sl_buf b = {0};
  CHECK(sl_xlate_oai_to_anth_request(NULL, NULL, &b, err, sizeof err) == -EINVAL);
  CHECK(strstr(err, "JSON object"));
  CHECK(sl_xlate_anth_to_oai_request(NULL, NULL, &b, NULL, 0) == -EINVAL);
  cJSON *arr = cJSON_Parse("[1,2]");
  CHECK(sl_xlate_oai_to_anth_request(arr, NULL, &b, NULL, 0) == -EINVAL);
  CHECK(sl_xlate_anth_to_oai_request(arr, NULL, &b, err, 1) == -EINVAL);
  CHECK(err[0] == 0); /* errlen 1: only the terminator */
  cJSON_Delete(arr);
  CHECK(b.n == 0);
  sl_buf_free(&b);
}

static void model_from_body_when_no_opts(void) {
  cJSON *out;
  CHECK(o2a("{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", NULL, &out) == 0);
  CHECK_STR(str(out, "model"), "claude-x");
  CHECK(num(out, "max_tokens") == 4096);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[]}", NULL, &out) == -EINVAL);
  CHECK(strstr(err, "model"));
  CHECK(a2o("{\"messages\":[]}", NULL, &out) == -EINVAL);
}

static void max_tokens_precedence(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m", .default_max_tokens = 77};
  CHECK(o2a("{\"messages\":[],\"max_tokens\":5,\"max_completion_tokens\":9}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 5);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[],\"max_completion_tokens\":9}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 9);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[]}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 77);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[],\"max_tokens\":1e300}", &o, &out) == 0); /* clamped, not UB */
  CHECK(num(out, "max_tokens") > 1e15);
  cJSON_Delete(out);
}

static void temperature_clamped(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a("{\"messages\":[],\"temperature\":-3}", &o, &out) == 0);
  CHECK(num(out, "temperature") == 0);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[],\"temperature\":\"hot\"}", &o, &out) == 0); /* wrong type: dropped */
  CHECK(at(out, "temperature") == NULL);
  cJSON_Delete(out);
}

static void consecutive_user_strings_merge(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"},"
            "{\"role\":\"system\",\"content\":\"late system\"},{\"role\":\"user\",\"content\":\"\"},"
            "{\"role\":\"assistant\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}",
            &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "messages")) == 2);
  CHECK_STR(str(out, "messages.0.content.0.text"), "a");
  CHECK_STR(str(out, "messages.0.content.1.text"), "b");
  CHECK(cJSON_GetArraySize(at(out, "messages.0.content")) == 2);
  CHECK_STR(str(out, "messages.1.content.1.text"), "y");
  CHECK_STR(str(out, "system"), "late system");
  cJSON_Delete(out);
}

static void refusals_name_the_message(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"wizard\",\"content\":\"b\"}]}", &o, &out) ==
        -EINVAL);
  CHECK(strstr(err, "messages[1]") && strstr(err, "wizard"));
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":null}]}", &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[7]}", &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "tool_call_id"));
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/png,notbase64\"}}]}]}",
            &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":\"f\"}}]}]}", &o,
            &out) == -EINVAL);
  CHECK(strstr(err, "file_data"));
  CHECK(o2a("{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"function_call\":{\"name\":\"f\",\"arguments\":"
            "\"{}\"}}]}",
            &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[],\"stop\":[1]}", &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":3}}]}", &o,
            &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"maybe\"}",
            &o, &out) == -EINVAL);
  CHECK(o2a("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}]}", &o, &out) == -EINVAL);
  CHECK(a2o("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"mystery\"}]}]}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "mystery"));
  CHECK(a2o("{\"messages\":[{\"role\":\"user\"}]}", &o, &out) == -EINVAL);
  CHECK(a2o("{\"messages\":[],\"system\":[{\"type\":\"image\"}]}", &o, &out) == -EINVAL);
  CHECK(a2o("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}", &o, &out) == -EINVAL);
  CHECK(a2o("{\"messages\":[],\"tools\":[{\"name\":\"f\"}],\"tool_choice\":{\"type\":\"sometimes\"}}", &o, &out) ==
        -EINVAL);
}

static void tool_choice_without_tools_dropped(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a("{\"messages\":[],\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"tools\":[]}", &o, &out) == 0);
  CHECK(at(out, "tool_choice") == NULL && at(out, "tools") == NULL);
  cJSON_Delete(out);
  CHECK(o2a("{\"messages\":[],\"parallel_tool_calls\":false,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
            "\"f\"}}]}",
            &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "auto");
  CHECK(cJSON_IsTrue(at(out, "tool_choice.disable_parallel_tool_use")));
  cJSON_Delete(out);
  CHECK(a2o("{\"messages\":[],\"tool_choice\":{\"type\":\"any\"}}", &o, &out) == 0);
  CHECK(at(out, "tool_choice") == NULL);
  cJSON_Delete(out);
}

static void anth_stream_false_and_empty_system(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(a2o("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\"}]}],"
            "\"system\":\"\",\"stream\":false}",
            &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "messages")) == 1);
  CHECK_STR(str(out, "messages.0.role"), "assistant");
  CHECK_STR(str(out, "messages.0.content"), "");
  CHECK(cJSON_IsFalse(at(out, "stream")));
  CHECK(at(out, "stream_options") == NULL);
  cJSON_Delete(out);
}

static void invalid_arguments_become_empty_object(void) {
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\","
            "\"arguments\":\"[1,2]\"}},{\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{} trailing\"}},"
            "{\"id\":\"c\",\"function\":{\"name\":\"h\",\"arguments\":7}}]}]}",
            &o, &out) == 0);
  for (int i = 0; i < 3; i++) {
    char p[64];
    snprintf(p, sizeof p, "messages.0.content.%d.input", i);
    CHECK(cJSON_IsObject(at(out, p)) && at(out, p)->child == NULL);
  }
  cJSON_Delete(out);
}

/* OpenAI -> Anthropic -> OpenAI: the same conversation, turn for turn. */
static void round_trip_keeps_the_conversation(void) {
  const char *conv =
      "{\"model\":\"m\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"sys\"},"
      "{\"role\":\"user\",\"content\":\"q\"},"
      "{\"role\":\"assistant\",\"content\":\"thinking aloud\",\"tool_calls\":["
      "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}},"
      "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"one\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"two\"},"
      "{\"role\":\"assistant\",\"content\":\"done\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/gif;base64,R0lG\"}}]}],"
      "\"max_tokens\":50,\"stop\":[\"Z\"],\"temperature\":0.5,\"stream\":true,"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\",\"parameters\":"
      "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"}}}}}],\"tool_choice\":\"auto\"}";
  cJSON *in = cJSON_Parse(conv), *mid, *back;
  struct sl_xlate_req_opts o = {.model = "m"};
  struct sl_buf b = {0};
  CHECK(sl_xlate_oai_to_anth_request(in, &o, &b, err, sizeof err) == 0);
  mid = cJSON_ParseWithLength(b.p, b.n);
  sl_buf_free(&b);
  CHECK(sl_xlate_anth_to_oai_request(mid, &o, &b, err, sizeof err) == 0);
  back = cJSON_ParseWithLength(b.p, b.n);
  sl_buf_free(&b);
  CHECK(back != NULL);
  const cJSON *want = cJSON_GetObjectItem(in, "messages");
  CHECK(cJSON_Compare(want, cJSON_GetObjectItem(back, "messages"), true));
  CHECK(cJSON_Compare(cJSON_GetObjectItem(in, "tools"), cJSON_GetObjectItem(back, "tools"), true));
  CHECK_STR(str(back, "tool_choice"), "auto");
  CHECK(num(back, "max_tokens") == 50 && num(back, "temperature") == 0.5);
  CHECK_STR(str(back, "stop.0"), "Z");
  CHECK(cJSON_IsTrue(at(back, "stream_options.include_usage")));
  cJSON_Delete(in);
  cJSON_Delete(mid);
  cJSON_Delete(back);
}

static void deep_schema_copied(void) {
  struct sl_buf deep = {0};
  sl_buf_puts(&deep, "{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":");
  for (int i = 0; i < 200; i++) sl_buf_puts(&deep, "{\"a\":");
  sl_buf_puts(&deep, "1");
  for (int i = 0; i < 200; i++) sl_buf_puts(&deep, "}");
  sl_buf_puts(&deep, "}}]}");
  cJSON *out;
  struct sl_xlate_req_opts o = {.model = "m"};
  CHECK(o2a(deep.p, &o, &out) == 0);
  CHECK(cJSON_IsObject(at(out, "tools.0.input_schema.a.a.a")));
  cJSON_Delete(out);
  sl_buf_free(&deep);
}

/* ---- structured output and reasoning ---- */

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]"
#define TOOL_F "{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}"
#define RF_SCHEMA                                                                                                      \
  "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"description\":\"A person\","  \
  "\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":"     \
  "[\"name\"]}}}"

static void reasoning_effort_budgets(void) {
  static const struct {
    const char *effort;
    int budget;
  } table[] = {{"minimal", 1024}, {"low", 1024}, {"medium", 2048}, {"high", 4096}, {"xhigh", 8192}, {"max", 16384}};
  struct sl_xlate_req_opts o = {.model = "m"};
  char body[256];
  cJSON *out;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    snprintf(body, sizeof body, "{" MSGS ",\"max_tokens\":100000,\"reasoning_effort\":\"%s\"}", table[i].effort);
    CHECK(o2a(body, &o, &out) == 0);
    CHECK_STR(str(out, "thinking.type"), "enabled");
    CHECK(num(out, "thinking.budget_tokens") == table[i].budget);
    CHECK(num(out, "max_tokens") == 100000); /* above the budget: kept */
    cJSON_Delete(out);
  }
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":\"none\",\"temperature\":0.5}", &o, &out) == 0);
  CHECK(at(out, "thinking") == NULL && num(out, "temperature") == 0.5);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":null}", &o, &out) == 0);
  CHECK(at(out, "thinking") == NULL);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":\"extreme\"}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "reasoning_effort"));
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":3}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "reasoning_effort"));
}

static void thinking_max_tokens_and_sampling(void) {
  struct sl_xlate_req_opts o = {.model = "m", .default_max_tokens = 77};
  cJSON *out;
  /* max_tokens not above the budget: the budget comes on top */
  CHECK(o2a("{" MSGS ",\"max_tokens\":1000,\"reasoning_effort\":\"high\"}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 5096 && num(out, "thinking.budget_tokens") == 4096);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"max_completion_tokens\":4096,\"reasoning_effort\":\"high\"}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 8192);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"max_tokens\":4097,\"reasoning_effort\":\"high\"}", &o, &out) == 0);
  CHECK(num(out, "max_tokens") == 4097);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":\"low\"}", &o, &out) == 0); /* the default, 77 */
  CHECK(num(out, "max_tokens") == 1101);
  cJSON_Delete(out);
  /* temperature and top_k are refused with thinking, top_p below 0.95 too */
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":\"medium\",\"temperature\":0.2,\"top_k\":5,\"top_p\":0.5,\"stop\":\"Z\"}",
            &o, &out) == 0);
  CHECK(at(out, "temperature") == NULL && at(out, "top_k") == NULL && at(out, "top_p") == NULL);
  CHECK_STR(str(out, "stop_sequences.0"), "Z");
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"reasoning_effort\":\"medium\",\"top_p\":0.97}", &o, &out) == 0);
  CHECK(num(out, "top_p") == 0.97);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"temperature\":0.2,\"top_k\":5,\"top_p\":0.5}", &o, &out) == 0); /* no thinking: all kept */
  CHECK(num(out, "temperature") == 0.2 && num(out, "top_k") == 5 && num(out, "top_p") == 0.5);
  cJSON_Delete(out);
}

/* A turn that continues tool calls would need the thinking block that led to them. */
static void thinking_off_when_continuing_tool_calls(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
            "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}],\"tools\":[" TOOL_F "],"
            "\"reasoning_effort\":\"high\",\"temperature\":0.3,\"max_tokens\":100}",
            &o, &out) == 0);
  CHECK(at(out, "thinking") == NULL);
  CHECK(num(out, "temperature") == 0.3 && num(out, "max_tokens") == 100);
  cJSON_Delete(out);
  /* an earlier tool loop that ended in text does not count */
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
            "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"},{\"role\":\"assistant\",\"content\":\"ok\"},"
            "{\"role\":\"user\",\"content\":\"more\"}],\"reasoning_effort\":\"high\"}",
            &o, &out) == 0);
  CHECK(num(out, "thinking.budget_tokens") == 4096);
  cJSON_Delete(out);
}

static void response_format_json_schema(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(o2a("{" MSGS "," RF_SCHEMA "}", &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 1);
  CHECK_STR(str(out, "tools.0.name"), SL_XLATE_JSON_TOOL);
  CHECK_STR(str(out, "tools.0.description"), "A person");
  CHECK_STR(str(out, "tools.0.input_schema.properties.name.type"), "string");
  CHECK_STR(str(out, "tools.0.input_schema.required.0"), "name");
  CHECK_STR(str(out, "tool_choice.type"), "tool");
  CHECK_STR(str(out, "tool_choice.name"), SL_XLATE_JSON_TOOL);
  CHECK(cJSON_IsTrue(at(out, "tool_choice.disable_parallel_tool_use")));
  CHECK(at(out, "thinking") == NULL && at(out, "system") == NULL);
  cJSON_Delete(out);
  /* no description: a fixed sentence; a schema without a type gets "object" */
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":"
            "{\"properties\":{}}}}}",
            &o, &out) == 0);
  CHECK(strstr(str(out, "tools.0.description"), "calling this tool"));
  CHECK_STR(str(out, "tools.0.input_schema.type"), "object");
  CHECK(cJSON_IsObject(at(out, "tools.0.input_schema.properties")));
  cJSON_Delete(out);
  /* json_schema without a schema: any object */
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}", &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "tools.0.input_schema")) == 1);
  CHECK_STR(str(out, "tools.0.input_schema.type"), "object");
  cJSON_Delete(out);
}

static void response_format_json_object_and_text(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_object\"}}", &o, &out) == 0);
  CHECK_STR(str(out, "tools.0.name"), SL_XLATE_JSON_TOOL);
  CHECK(cJSON_GetArraySize(at(out, "tools.0.input_schema")) == 1);
  CHECK_STR(str(out, "tools.0.input_schema.type"), "object");
  CHECK_STR(str(out, "tool_choice.type"), "tool");
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"text\"}}", &o, &out) == 0);
  CHECK(at(out, "tools") == NULL && at(out, "tool_choice") == NULL);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"response_format\":null}", &o, &out) == 0);
  CHECK(at(out, "tools") == NULL);
  cJSON_Delete(out);
}

static void response_format_refusals(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"yaml\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "response_format.type") && strstr(err, "yaml"));
  CHECK(o2a("{" MSGS ",\"response_format\":\"json\"}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "response_format"));
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_schema\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "response_format.json_schema"));
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":[1]}}}", &o, &out) ==
        -EINVAL);
  CHECK(strstr(err, "response_format.json_schema.schema"));
  CHECK(o2a("{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":"
            "\"array\"}}}}",
            &o, &out) == -EINVAL);
  CHECK(strstr(err, "response_format.json_schema.schema") && strstr(err, "object"));
  /* a client tool already named like the json tool */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F ",{\"type\":\"function\",\"function\":{\"name\":\""
            SL_XLATE_JSON_TOOL "\"}}]}",
            &o, &out) == -EINVAL);
  CHECK(strstr(err, "tools[1]") && strstr(err, SL_XLATE_JSON_TOOL) && strstr(err, "response_format"));
  /* ... is the client's own business without response_format */
  CHECK(o2a("{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"" SL_XLATE_JSON_TOOL "\"}}]}", &o,
            &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 1);
  cJSON_Delete(out);
}

static void response_format_with_client_tools(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  /* auto (or nothing): a client tool or the json tool */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "]}", &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 2);
  CHECK_STR(str(out, "tools.0.name"), "f");
  CHECK_STR(str(out, "tools.1.name"), SL_XLATE_JSON_TOOL);
  CHECK_STR(str(out, "tool_choice.type"), "any");
  CHECK(at(out, "tool_choice.disable_parallel_tool_use") == NULL);
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"tool_choice\":\"auto\",\"parallel_tool_calls\":false}",
            &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "any");
  CHECK(cJSON_IsTrue(at(out, "tool_choice.disable_parallel_tool_use")));
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"tool_choice\":\"required\"}", &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "any");
  cJSON_Delete(out);
  /* a named function stays forced */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"tool_choice\":{\"type\":\"function\",\"function\":"
            "{\"name\":\"f\"}}}",
            &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "tool");
  CHECK_STR(str(out, "tool_choice.name"), "f");
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 2);
  cJSON_Delete(out);
  /* none: only the json tool, forced */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"tool_choice\":\"none\"}", &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 1);
  CHECK_STR(str(out, "tools.0.name"), SL_XLATE_JSON_TOOL);
  CHECK_STR(str(out, "tool_choice.type"), "tool");
  CHECK_STR(str(out, "tool_choice.name"), SL_XLATE_JSON_TOOL);
  cJSON_Delete(out);
}

/* Anthropic refuses forced tool use with thinking: the json tool is asked for instead. */
static void response_format_with_thinking(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(o2a("{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"q\"}],"
            RF_SCHEMA ",\"reasoning_effort\":\"low\"}",
            &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "auto");
  CHECK(at(out, "tool_choice.name") == NULL);
  CHECK(cJSON_IsTrue(at(out, "tool_choice.disable_parallel_tool_use")));
  CHECK_STR(str(out, "tools.0.name"), SL_XLATE_JSON_TOOL);
  CHECK_STR(str(out, "system.0.text"), "Be brief.");
  CHECK(strstr(str(out, "system.1.text"), "calling the " SL_XLATE_JSON_TOOL " tool"));
  CHECK(num(out, "thinking.budget_tokens") == 1024);
  cJSON_Delete(out);
  /* with client tools too */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"reasoning_effort\":\"high\"}", &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "auto");
  CHECK(at(out, "tool_choice.disable_parallel_tool_use") == NULL);
  CHECK(strstr(str(out, "system"), SL_XLATE_JSON_TOOL));
  CHECK(cJSON_GetArraySize(at(out, "tools")) == 2);
  cJSON_Delete(out);
  /* the client's own forced tool use cannot be kept: refused, naming both fields */
  CHECK(o2a("{" MSGS ",\"tools\":[" TOOL_F "],\"tool_choice\":\"required\",\"reasoning_effort\":\"high\"}", &o,
            &out) == -EINVAL);
  CHECK(strstr(err, "tool_choice") && strstr(err, "reasoning_effort"));
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tools\":[" TOOL_F "],\"tool_choice\":{\"type\":\"function\",\"function\":"
            "{\"name\":\"f\"}},\"reasoning_effort\":\"low\"}",
            &o, &out) == -EINVAL);
  CHECK(strstr(err, "tool_choice") && strstr(err, "reasoning_effort"));
  /* ... but a tool_choice without tools is dropped as ever */
  CHECK(o2a("{" MSGS "," RF_SCHEMA ",\"tool_choice\":\"required\",\"reasoning_effort\":\"low\"}", &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "auto");
  cJSON_Delete(out);
  CHECK(o2a("{" MSGS ",\"tools\":[" TOOL_F "],\"tool_choice\":\"auto\",\"reasoning_effort\":\"high\"}", &o, &out) == 0);
  CHECK_STR(str(out, "tool_choice.type"), "auto");
  CHECK(at(out, "system") == NULL);
  cJSON_Delete(out);
}

static void anth_thinking_to_reasoning_effort(void) {
  static const struct {
    int budget;
    const char *effort;
  } table[] = {{1024, "low"}, {2047, "low"}, {2048, "medium"}, {4095, "medium"}, {4096, "high"}, {32000, "high"}};
  struct sl_xlate_req_opts o = {.model = "m"};
  char body[256];
  cJSON *out;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    snprintf(body, sizeof body, "{" MSGS ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":%d}}", table[i].budget);
    CHECK(a2o(body, &o, &out) == 0);
    CHECK_STR(str(out, "reasoning_effort"), table[i].effort);
    cJSON_Delete(out);
  }
  CHECK(a2o("{" MSGS ",\"thinking\":{\"type\":\"disabled\"}}", &o, &out) == 0);
  CHECK(at(out, "reasoning_effort") == NULL);
  cJSON_Delete(out);
  CHECK(a2o("{" MSGS ",\"thinking\":{\"type\":\"adaptive\"}}", &o, &out) == 0);
  CHECK(at(out, "reasoning_effort") == NULL);
  cJSON_Delete(out);
  CHECK(a2o("{" MSGS ",\"thinking\":{\"type\":\"furious\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "thinking.type") && strstr(err, "furious"));
  CHECK(a2o("{" MSGS ",\"thinking\":{\"type\":\"enabled\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "thinking.budget_tokens"));
  CHECK(a2o("{" MSGS ",\"thinking\":true}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "thinking"));
}

static void anth_output_config(void) {
  static const struct {
    const char *effort, *want;
  } table[] = {{"low", "low"}, {"medium", "medium"}, {"high", "high"}, {"xhigh", "high"}, {"max", "high"}};
  struct sl_xlate_req_opts o = {.model = "m"};
  char body[256];
  cJSON *out;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    snprintf(body, sizeof body, "{" MSGS ",\"output_config\":{\"effort\":\"%s\"}}", table[i].effort);
    CHECK(a2o(body, &o, &out) == 0);
    CHECK_STR(str(out, "reasoning_effort"), table[i].want);
    cJSON_Delete(out);
  }
  /* effort wins over a thinking budget */
  CHECK(a2o("{" MSGS ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"output_config\":{\"effort\":"
            "\"high\"}}",
            &o, &out) == 0);
  CHECK_STR(str(out, "reasoning_effort"), "high");
  cJSON_Delete(out);
  const char *schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"],"
                       "\"additionalProperties\":false}";
  char big[512];
  snprintf(big, sizeof big, "{" MSGS ",\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":%s}}}", schema);
  CHECK(a2o(big, &o, &out) == 0);
  CHECK_STR(str(out, "response_format.type"), "json_schema");
  CHECK_STR(str(out, "response_format.json_schema.name"), "response");
  CHECK(cJSON_IsTrue(at(out, "response_format.json_schema.strict")));
  cJSON *want = cJSON_Parse(schema);
  CHECK(cJSON_Compare(want, at(out, "response_format.json_schema.schema"), true));
  cJSON_Delete(out);
  snprintf(big, sizeof big, "{" MSGS ",\"output_format\":{\"type\":\"json_schema\",\"schema\":%s}}", schema);
  CHECK(a2o(big, &o, &out) == 0);
  CHECK(cJSON_Compare(want, at(out, "response_format.json_schema.schema"), true));
  cJSON_Delete(out);
  cJSON_Delete(want);
  CHECK(a2o("{" MSGS ",\"output_config\":{\"effort\":null,\"format\":null}}", &o, &out) == 0);
  CHECK(at(out, "reasoning_effort") == NULL && at(out, "response_format") == NULL);
  cJSON_Delete(out);
  /* refused by name */
  CHECK(a2o("{" MSGS ",\"output_config\":{\"task_budget\":{\"type\":\"tokens\",\"total\":1000}}}", &o, &out) == -EINVAL);
  CHECK_STR(err, "output_config.task_budget is not supported by OpenAI-format deployments");
  CHECK(a2o("{" MSGS ",\"output_config\":{\"effort\":\"huge\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "output_config.effort"));
  CHECK(a2o("{" MSGS ",\"output_config\":{\"format\":{\"type\":\"regex\"}}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "output_config.format.type") && strstr(err, "regex"));
  CHECK(a2o("{" MSGS ",\"output_format\":{\"type\":\"json_schema\"}}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "output_format.schema"));
  CHECK(a2o("{" MSGS ",\"output_config\":[]}", &o, &out) == -EINVAL);
  CHECK(strstr(err, "output_config"));
}

static void anth_fields_refused_or_dropped(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  CHECK(a2o("{" MSGS ",\"container\":\"cntr_1\"}", &o, &out) == -EINVAL);
  CHECK_STR(err, "container is not supported by OpenAI-format deployments");
  CHECK(a2o("{" MSGS ",\"mcp_servers\":[{\"type\":\"url\",\"url\":\"https://x\",\"name\":\"x\"}]}", &o, &out) ==
        -EINVAL);
  CHECK_STR(err, "mcp_servers is not supported by OpenAI-format deployments");
  /* hints: dropped */
  CHECK(a2o("{" MSGS ",\"mcp_servers\":[],\"top_k\":3,\"service_tier\":\"auto\",\"context_management\":{\"edits\":[]}}",
            &o, &out) == 0);
  CHECK(at(out, "top_k") == NULL && at(out, "service_tier") == NULL && at(out, "context_management") == NULL);
  cJSON_Delete(out);
  /* strict tools stay strict */
  CHECK(a2o("{" MSGS ",\"tools\":[{\"name\":\"f\",\"strict\":true,\"input_schema\":{\"type\":\"object\"}},"
            "{\"name\":\"g\",\"strict\":false}]}",
            &o, &out) == 0);
  CHECK(cJSON_IsTrue(at(out, "tools.0.function.strict")));
  CHECK(at(out, "tools.1.function.strict") == NULL);
  cJSON_Delete(out);
}

/* reasoning_effort -> thinking -> reasoning_effort is the identity for low..high. */
static void reasoning_round_trip(void) {
  static const char *const efforts[] = {"low", "medium", "high"};
  struct sl_xlate_req_opts o = {.model = "m"};
  for (size_t i = 0; i < 3; i++) {
    char body[256];
    snprintf(body, sizeof body, "{" MSGS ",\"reasoning_effort\":\"%s\"}", efforts[i]);
    cJSON *in = cJSON_Parse(body), *mid, *back;
    struct sl_buf b = {0};
    CHECK(sl_xlate_oai_to_anth_request(in, &o, &b, err, sizeof err) == 0);
    mid = cJSON_ParseWithLength(b.p, b.n);
    sl_buf_free(&b);
    CHECK(sl_xlate_anth_to_oai_request(mid, &o, &b, err, sizeof err) == 0);
    back = cJSON_ParseWithLength(b.p, b.n);
    sl_buf_free(&b);
    CHECK_STR(str(back, "reasoning_effort"), efforts[i]);
    cJSON_Delete(in);
    cJSON_Delete(mid);
    cJSON_Delete(back);
  }
}

/* LiteLLM's thinking_blocks on assistant messages carry the signed thinking back. */
static void thinking_blocks_passed_back(void) {
  struct sl_xlate_req_opts o = {.model = "m"};
  cJSON *out;
  const char *loop =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
      "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"plan\",\"signature\":\"SIG\"},"
      "{\"type\":\"redacted_thinking\",\"data\":\"RED\"}],"
      "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}],\"tools\":[" TOOL_F "]%s}";
  char body[1024];
  snprintf(body, sizeof body, loop, ",\"reasoning_effort\":\"medium\"");
  CHECK(o2a(body, &o, &out) == 0);
  CHECK(num(out, "thinking.budget_tokens") == 2048); /* the tool loop keeps its thinking */
  CHECK_STR(str(out, "messages.1.content.0.type"), "thinking");
  CHECK_STR(str(out, "messages.1.content.0.thinking"), "plan");
  CHECK_STR(str(out, "messages.1.content.0.signature"), "SIG");
  CHECK_STR(str(out, "messages.1.content.1.type"), "redacted_thinking");
  CHECK_STR(str(out, "messages.1.content.1.data"), "RED");
  CHECK_STR(str(out, "messages.1.content.2.type"), "tool_use");
  cJSON_Delete(out);
  /* without reasoning asked for: not sent (as before) */
  snprintf(body, sizeof body, loop, "");
  CHECK(o2a(body, &o, &out) == 0);
  CHECK_STR(str(out, "messages.1.content.0.type"), "tool_use");
  CHECK(cJSON_GetArraySize(at(out, "messages.1.content")) == 1);
  cJSON_Delete(out);
  /* malformed: refused by name when they would be used */
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\","
            "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"no signature\"}]}],\"reasoning_effort\":\"low\"}",
            &o, &out) == -EINVAL);
  CHECK(strstr(err, "messages[1]: thinking_blocks[0]"));
  CHECK(o2a("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"thinking_blocks\":{}}],"
            "\"reasoning_effort\":\"low\"}",
            &o, &out) == -EINVAL);
  CHECK(strstr(err, "thinking_blocks must be an array"));
  /* thinking left off (the last tool turn has no thinking): none in the history either */
  const char *off = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\","
                    "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"}]},"
                    "{\"role\":\"user\",\"content\":\"q2\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
                    "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}],\"reasoning_effort\":\"high\"}";
  CHECK(o2a(off, &o, &out) == 0);
  CHECK(at(out, "thinking") == NULL);
  CHECK(cJSON_GetArraySize(at(out, "messages.1.content")) == 1);
  CHECK_STR(str(out, "messages.1.content.0.type"), "text");
  cJSON_Delete(out);
  /* thinking alone is not a turn */
  CHECK(o2a("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
            "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"}]},"
            "{\"role\":\"user\",\"content\":\"q2\"}],\"reasoning_effort\":\"high\"}",
            &o, &out) == 0);
  CHECK(cJSON_GetArraySize(at(out, "messages")) == 1);
  cJSON_Delete(out);
}

CHECK_MAIN(T(null_and_garbage_inputs), T(model_from_body_when_no_opts), T(max_tokens_precedence),
           T(temperature_clamped), T(consecutive_user_strings_merge), T(refusals_name_the_message),
           T(tool_choice_without_tools_dropped), T(anth_stream_false_and_empty_system),
           T(invalid_arguments_become_empty_object), T(round_trip_keeps_the_conversation), T(deep_schema_copied),
           T(reasoning_effort_budgets), T(thinking_max_tokens_and_sampling), T(thinking_off_when_continuing_tool_calls),
           T(response_format_json_schema), T(response_format_json_object_and_text), T(response_format_refusals),
           T(response_format_with_client_tools), T(response_format_with_thinking), T(anth_thinking_to_reasoning_effort),
           T(anth_output_config), T(anth_fields_refused_or_dropped), T(reasoning_round_trip),
           T(thinking_blocks_passed_back))
