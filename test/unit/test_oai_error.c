/* oai_error: error bodies are valid JSON of the OpenAI shape, whatever the message. */
#include <cjson/cJSON.h>

#include "check.h"
#include "net/wire/oai_error.h"

static void shape_and_escaping(void) {
  struct sl_buf b = {0};
  sl_oai_error_append(&b, "bad \"model\"\n\x01 \\ é", "invalid_request_error", "model_not_found");
  cJSON *j = cJSON_Parse(b.p);
  CHECK(j != NULL);
  cJSON *e = cJSON_GetObjectItem(j, "error");
  CHECK(e && cJSON_IsString(cJSON_GetObjectItem(e, "message")));
  CHECK_STR(cJSON_GetObjectItem(e, "message")->valuestring, "bad \"model\"\n\x01 \\ é");
  CHECK_STR(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
  CHECK_STR(cJSON_GetObjectItem(e, "code")->valuestring, "model_not_found");
  cJSON_Delete(j);
  sl_buf_free(&b);
  sl_oai_error_append(&b, "x", "server_error", NULL);
  j = cJSON_Parse(b.p);
  CHECK(j && cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")));
  cJSON_Delete(j);
  sl_buf_free(&b);
}

static void types_and_reasons(void) {
  CHECK_STR(sl_oai_error_type_for(401), "authentication_error");
  CHECK_STR(sl_oai_error_type_for(429), "rate_limit_error");
  CHECK_STR(sl_oai_error_type_for(418), "invalid_request_error");
  CHECK_STR(sl_http_reason(431), "Request Header Fields Too Large");
  CHECK_STR(sl_http_reason(599), "Server Error");
}

CHECK_MAIN(T(shape_and_escaping), T(types_and_reasons))
