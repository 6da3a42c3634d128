/* OpenAI-shaped error JSON and reason phrases: one table, one builder. */
#include "net/wire/oai_error.h"

#include <string.h>

void sl_oai_error_append(struct sl_buf *b, const char *message, const char *type, const char *code) {
  sl_buf_puts(b, "{\"error\":{\"message\":\"");
  sl_buf_json_escape(b, message, strlen(message));
  sl_buf_puts(b, "\",\"type\":\"");
  sl_buf_json_escape(b, type, strlen(type));
  sl_buf_puts(b, "\",\"param\":null,\"code\":");
  if (code) {
    sl_buf_puts(b, "\"");
    sl_buf_json_escape(b, code, strlen(code));
    sl_buf_puts(b, "\"}}");
  } else {
    sl_buf_puts(b, "null}}");
  }
}

static const struct {
  int status;
  const char *reason, *type;
} statuses[] = {
  {100, "Continue", NULL},
  {200, "OK", NULL},
  {400, "Bad Request", "invalid_request_error"},
  {401, "Unauthorized", "authentication_error"},
  {403, "Forbidden", "permission_error"},
  {404, "Not Found", "invalid_request_error"},
  {405, "Method Not Allowed", "invalid_request_error"},
  {408, "Request Timeout", "invalid_request_error"},
  {409, "Conflict", "invalid_request_error"},
  {413, "Payload Too Large", "invalid_request_error"},
  {415, "Unsupported Media Type", "invalid_request_error"},
  {417, "Expectation Failed", "invalid_request_error"},
  {421, "Misdirected Request", "invalid_request_error"},
  {422, "Unprocessable Entity", "invalid_request_error"},
  {429, "Too Many Requests", "rate_limit_error"},
  {431, "Request Header Fields Too Large", "invalid_request_error"},
  {500, "Internal Server Error", "server_error"},
  {501, "Not Implemented", "server_error"},
  {502, "Bad Gateway", "upstream_error"},
  {503, "Service Unavailable", "service_unavailable"},
  {504, "Gateway Timeout", "upstream_error"},
  {505, "HTTP Version Not Supported", "invalid_request_error"},
  {529, "Overloaded", "service_unavailable"},
};

const char *sl_http_reason(int status) {
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (statuses[i].status == status) return statuses[i].reason;
  return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

const char *sl_oai_error_type_for(int status) {
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (statuses[i].status == status && statuses[i].type) return statuses[i].type;
  return status < 500 ? "invalid_request_error" : "server_error";
}
