/* The names table of request error codes; see errors.h. */
#include "core/errors.h"

#include <string.h>

static const char *const names[SL_ERR_N] = {
    [SL_ERR_NONE] = NULL,
    [SL_ERR_NOT_FOUND] = "not_found",
    [SL_ERR_METHOD_NOT_ALLOWED] = "method_not_allowed",
    [SL_ERR_MISDIRECTED_REQUEST] = "misdirected_request",
    [SL_ERR_UNSUPPORTED_MEDIA_TYPE] = "unsupported_media_type",
    [SL_ERR_INVALID_API_KEY] = "invalid_api_key",
    [SL_ERR_ADMIN_ONLY] = "admin_only",
    [SL_ERR_INVALID_JSON] = "invalid_json",
    [SL_ERR_JSON_TOO_DEEP] = "json_too_deep",
    [SL_ERR_JSON_TOO_MANY_VALUES] = "json_too_many_values",
    [SL_ERR_INVALID_REQUEST] = "invalid_request_error",
    [SL_ERR_MODEL_NOT_FOUND] = "model_not_found",
    [SL_ERR_MODEL_NOT_ALLOWED] = "model_not_allowed",
    [SL_ERR_PREVIOUS_RESPONSE_NOT_FOUND] = "previous_response_not_found",
    [SL_ERR_RESPONSE_NOT_FOUND] = "response_not_found",
    [SL_ERR_ROUTER_OVERRIDE_FORBIDDEN] = "router_override_forbidden",
    [SL_ERR_BUDGET_EXCEEDED] = "budget_exceeded",
    [SL_ERR_RATE_LIMIT_EXCEEDED] = "rate_limit_exceeded",
    [SL_ERR_KEY_TABLE_FULL] = "key_table_full",
    [SL_ERR_REGION_NOT_PERMITTED] = "region_not_permitted",
    [SL_ERR_CONTEXT_LENGTH_EXCEEDED] = "context_length_exceeded",
    [SL_ERR_NO_HEALTHY_DEPLOYMENT] = "no_healthy_deployment",
    [SL_ERR_RESIDENCY_UNAVAILABLE] = "residency_unavailable",
    [SL_ERR_UPSTREAM_TIMEOUT] = "upstream_timeout",
    [SL_ERR_UPSTREAM_ERROR] = "upstream_error",
    [SL_ERR_UPSTREAM_PROTOCOL_ERROR] = "upstream_protocol_error",
    [SL_ERR_CLIENT_CLOSED] = "client_closed",
    [SL_ERR_CLIENT_STALLED] = "client_stalled",
    [SL_ERR_KEY_EXISTS] = "key_exists",
    [SL_ERR_KEY_NOT_FOUND] = "key_not_found",
    [SL_ERR_STORE_UNAVAILABLE] = "store_unavailable",
    [SL_ERR_STORE_FULL] = "store_full",
    [SL_ERR_STORE_ERROR] = "store_error",
    [SL_ERR_INVALID_CONFIG] = "invalid_config",
    [SL_ERR_RELOAD_TIMEOUT] = "reload_timeout",
    [SL_ERR_RELOAD_UNAVAILABLE] = "reload_unavailable",
    [SL_ERR_RELOAD_FAILED] = "reload_failed",
    [SL_ERR_INTERNAL] = "internal_error",
    [SL_ERR_OUTCOME] = NULL,
};

const char *sl_err_name(enum sl_err e) { return (unsigned)e < SL_ERR_N ? names[e] : NULL; }

enum sl_err sl_err_parse(const char *name) {
  if (!name) return SL_ERR_NONE;
  for (int i = 1; i < SL_ERR_N; i++)
    if (names[i] && strcmp(names[i], name) == 0) return (enum sl_err)i;
  return SL_ERR_OUTCOME;
}
