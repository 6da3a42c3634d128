/* Request error codes: what a client reads in error.code and what the access log's
 * "error" field says. One enum, one names table (errors.c); the wire strings never
 * change (clients and tests match on them). To add a code: an enum value here and its
 * string in the table, in the same order (a unit test checks every value has a
 * distinct name). Attempt outcomes ("upstream_reset", "http_500", ...) are a different
 * enum (policy/); when the last attempt's outcome is the request's error its string is
 * carried as is (SL_ERR_OUTCOME with the outcome's own name). */
#ifndef SL_CORE_ERRORS_H
#define SL_CORE_ERRORS_H

enum sl_err {
  SL_ERR_NONE = 0,
  /* the front half: routing, origin, authentication, parsing */
  SL_ERR_NOT_FOUND,
  SL_ERR_METHOD_NOT_ALLOWED,
  SL_ERR_MISDIRECTED_REQUEST,
  SL_ERR_UNSUPPORTED_MEDIA_TYPE,
  SL_ERR_INVALID_API_KEY,
  SL_ERR_ADMIN_ONLY,
  SL_ERR_INVALID_JSON,
  SL_ERR_JSON_TOO_DEEP,
  SL_ERR_JSON_TOO_MANY_VALUES,
  SL_ERR_INVALID_REQUEST,
  SL_ERR_MODEL_NOT_FOUND,
  SL_ERR_ROUTER_OVERRIDE_FORBIDDEN,
  /* admission: keys, limits, budgets */
  SL_ERR_MODEL_NOT_ALLOWED,
  SL_ERR_PREVIOUS_RESPONSE_NOT_FOUND, /* previous_response_id names no stored response (or an expired one) */
  SL_ERR_RESPONSE_NOT_FOUND,          /* GET/DELETE /v1/responses/{id}: no such stored response */
  SL_ERR_BUDGET_EXCEEDED,
  SL_ERR_RATE_LIMIT_EXCEEDED,
  SL_ERR_KEY_TABLE_FULL,
  SL_ERR_REGION_NOT_PERMITTED, /* a request asked for a region its key does not permit */
  /* attempts */
  SL_ERR_CONTEXT_LENGTH_EXCEEDED,
  SL_ERR_NO_HEALTHY_DEPLOYMENT,
  SL_ERR_RESIDENCY_UNAVAILABLE, /* no deployment in the permitted regions could serve */
  SL_ERR_UPSTREAM_TIMEOUT,
  SL_ERR_UPSTREAM_ERROR,
  SL_ERR_UPSTREAM_PROTOCOL_ERROR,
  SL_ERR_CLIENT_CLOSED,
  SL_ERR_CLIENT_STALLED,
  /* admin API */
  SL_ERR_KEY_EXISTS,
  SL_ERR_KEY_NOT_FOUND,
  SL_ERR_STORE_UNAVAILABLE,
  SL_ERR_STORE_FULL,
  SL_ERR_STORE_ERROR,
  SL_ERR_INVALID_CONFIG,
  SL_ERR_RELOAD_TIMEOUT,
  SL_ERR_RELOAD_UNAVAILABLE,
  SL_ERR_RELOAD_FAILED,
  SL_ERR_INTERNAL,
  /* an attempt outcome passed through as the request's error (its string is kept) */
  SL_ERR_OUTCOME,
  SL_ERR_N
};

/* The wire string ("rate_limit_exceeded"); NULL for SL_ERR_NONE and SL_ERR_OUTCOME
 * (whose string is the outcome's). */
const char *sl_err_name(enum sl_err e);
/* The code a wire string names; SL_ERR_NONE for NULL, SL_ERR_OUTCOME for any other
 * string (an attempt outcome). */
enum sl_err sl_err_parse(const char *name);

#endif
