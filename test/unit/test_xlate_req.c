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

CHECK_MAIN(T(null_and_garbage_inputs), T(model_from_body_when_no_opts), T(max_tokens_precedence),
           T(temperature_clamped), T(consecutive_user_strings_merge), T(refusals_name_the_message),
           T(tool_choice_without_tools_dropped), T(anth_stream_false_and_empty_system),
           T(invalid_arguments_become_empty_object), T(round_trip_keeps_the_conversation), T(deep_schema_copied))
