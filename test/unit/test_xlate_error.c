/* Error translation (net/wire/xlate.h): the type table by status, in-band stream errors in
 * both formats, and well-formed output for any upstream body. */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate.h"
#include "test/unit/check.h"

static void type_table(void) {
  static const struct {
    int status;
    const char *anth, *oai;
  } rows[] = {
    {400, "invalid_request_error", "invalid_request_error"},
    {401, "authentication_error", "authentication_error"},
    {403, "permission_error", "permission_error"},
    {404, "not_found_error", "invalid_request_error"},
    {413, "request_too_large", "invalid_request_error"},
    {429, "rate_limit_error", "rate_limit_error"},
    {500, "api_error", "server_error"},
    {503, "overloaded_error", "service_unavailable"},
    {529, "overloaded_error", "service_unavailable"},
    {418, "invalid_request_error", "invalid_request_error"},
    {599, "api_error", "server_error"},
    {0, "api_error", "server_error"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    CHECK_STR(sl_xlate_error_type(SL_WIRE_ANTHROPIC, rows[i].status), rows[i].anth);
    CHECK_STR(sl_xlate_error_type(SL_WIRE_OPENAI, rows[i].status), rows[i].oai);
  }
}

static cJSON *body(enum sl_wire w, int status, const char *in, size_t n) {
  struct sl_buf b = {0};
  CHECK(sl_xlate_error_body(w, status, in, n, &b) == 0);
  cJSON *j = cJSON_ParseWithLength(b.p, b.n);
  CHECK(j != NULL);
  sl_buf_free(&b);
  return j;
}

static const char *get(const cJSON *j, const char *a, const char *b) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b));
  return s ? s : "(null)";
}

static void any_body_gives_a_well_formed_error(void) {
  static const char *const inputs[] = {"", "   ", "null", "[]", "{}", "{\"error\":null}", "{\"error\":{}}",
                                       "{\"error\":{\"message\":5,\"type\":[]}}", "\"quoted\"", "\x01\x02\"\\",
                                       "{\"type\":\"error\"}"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    cJSON *j = body(SL_WIRE_OPENAI, 502, inputs[i], strlen(inputs[i]));
    CHECK(strlen(get(j, "error", "message")) > 0);
    CHECK_STR(get(j, "error", "type"), "upstream_error");
    cJSON_Delete(j);
    j = body(SL_WIRE_ANTHROPIC, 429, inputs[i], strlen(inputs[i]));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")), "error");
    CHECK_STR(get(j, "error", "type"), "rate_limit_error");
    cJSON_Delete(j);
  }
  /* NUL bytes inside and a NULL body */
  cJSON *j = body(SL_WIRE_ANTHROPIC, 500, "a\0b", 3);
  cJSON_Delete(j);
  j = body(SL_WIRE_OPENAI, 500, NULL, 0);
  CHECK_STR(get(j, "error", "message"), "Upstream returned HTTP 500");
  cJSON_Delete(j);
}

static void long_raw_body_cut_on_a_character(void) {
  struct sl_buf in = {0};
  for (int i = 0; i < 600; i++) sl_buf_puts(&in, "\xc3\xa9"); /* 1200 bytes of e-acute */
  cJSON *j = body(SL_WIRE_OPENAI, 500, in.p, in.n);
  const char *m = get(j, "error", "message");
  CHECK(strlen(m) == 1000);
  CHECK(((unsigned char)m[999] & 0xC0) == 0x80); /* ends on the second byte of a pair */
  cJSON_Delete(j);
  sl_buf_free(&in);
}

static void keeps_openai_code_and_param(void) {
  const char *in = "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\",\"param\":\"messages\","
                   "\"code\":\"context_length_exceeded\"}}";
  cJSON *j = body(SL_WIRE_OPENAI, 400, in, strlen(in));
  CHECK_STR(get(j, "error", "param"), "messages");
  CHECK_STR(get(j, "error", "code"), "context_length_exceeded");
  cJSON_Delete(j);
}

static void stream_error_events(void) {
  struct sl_buf b = {0};
  sl_xlate_error_event(SL_WIRE_OPENAI, 504, NULL, "Upstream stream went silent", "upstream_timeout", &b);
  CHECK(strncmp(b.p, "data: {\"error\":{", 16) == 0 && b.n > 2 && strcmp(b.p + b.n - 2, "\n\n") == 0);
  cJSON *j = cJSON_ParseWithLength(b.p + 6, b.n - 8);
  CHECK_STR(get(j, "error", "code"), "upstream_timeout");
  CHECK_STR(get(j, "error", "type"), "upstream_error");
  cJSON_Delete(j);
  sl_buf_free(&b);
  sl_xlate_error_event(SL_WIRE_ANTHROPIC, 0, "upstream_error", "reset \"mid\"\nstream", NULL, &b);
  CHECK(strncmp(b.p, "event: error\ndata: {", 20) == 0);
  j = cJSON_ParseWithLength(b.p + 19, b.n - 21);
  CHECK_STR(get(j, "error", "type"), "api_error");
  CHECK_STR(get(j, "error", "message"), "reset \"mid\"\nstream");
  cJSON_Delete(j);
  sl_buf_free(&b);
  sl_xlate_error_event(SL_WIRE_ANTHROPIC, 529, NULL, NULL, NULL, &b);
  CHECK(strstr(b.p, "overloaded_error") && strstr(b.p, "HTTP 529"));
  sl_buf_free(&b);
}

/* Gemini's OpenAI-compatible endpoint: [{"error":{"code":429,"message":...,"status":...}}]
 * becomes an OpenAI error object, or Anthropic's shape; only a one-element array is unwrapped. */
static void gemini_array_errors(void) {
  const char *in = "[{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"Resource has been exhausted "
                   "(e.g. check quota).\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n]";
  CHECK(sl_xlate_error_wrapped(in, strlen(in)));
  CHECK(sl_xlate_error_wrapped(" \n[1]", 5));
  CHECK(!sl_xlate_error_wrapped("{\"error\":{}}", 12) && !sl_xlate_error_wrapped("", 0) && !sl_xlate_error_wrapped("  ", 2));
  cJSON *j = body(SL_WIRE_OPENAI, 429, in, strlen(in));
  CHECK_STR(get(j, "error", "message"), "Resource has been exhausted (e.g. check quota).");
  CHECK_STR(get(j, "error", "type"), "rate_limit_error");
  CHECK(cJSON_IsObject(j) && !cJSON_IsArray(j));
  cJSON_Delete(j);
  j = body(SL_WIRE_ANTHROPIC, 429, in, strlen(in));
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")), "error");
  CHECK_STR(get(j, "error", "type"), "rate_limit_error");
  CHECK_STR(get(j, "error", "message"), "Resource has been exhausted (e.g. check quota).");
  cJSON_Delete(j);
  const char *bad = "[{\"error\":{\"code\":400,\"message\":\"API key not valid\",\"status\":\"INVALID_ARGUMENT\"}}]";
  j = body(SL_WIRE_OPENAI, 400, bad, strlen(bad));
  CHECK_STR(get(j, "error", "message"), "API key not valid");
  CHECK_STR(get(j, "error", "type"), "invalid_request_error");
  cJSON_Delete(j);
  /* two elements: not an error object sluice can read; the text itself is the message */
  const char *two = "[{\"error\":{\"message\":\"a\"}},{\"error\":{\"message\":\"b\"}}]";
  j = body(SL_WIRE_OPENAI, 500, two, strlen(two));
  CHECK_STR(get(j, "error", "message"), two);
  cJSON_Delete(j);
}

CHECK_MAIN(T(type_table), T(any_body_gives_a_well_formed_error), T(long_raw_body_cut_on_a_character),
           T(keeps_openai_code_and_param), T(stream_error_events), T(gemini_array_errors))
