/* The names table of attempt outcomes; see outcome.h. "http_<status>" names are one
 * constant string of fixed-width entries (9 bytes each: "http_NNN" and its NUL), built
 * by the preprocessor, so every name is static and nothing is formatted per request. */
#include "policy/outcome.h"

#include <stddef.h>

static const char *const names[SL_AO__COUNT] = {
  [SL_AO_RUNNING] = "running",
  [SL_AO_OK] = "ok",
  [SL_AO_HTTP_STATUS] = "http_status",
  [SL_AO_UPSTREAM_TIMEOUT] = "upstream_timeout",
  [SL_AO_UPSTREAM_TLS_ERROR] = "upstream_tls_error",
  [SL_AO_UPSTREAM_RESET] = "upstream_reset",
  [SL_AO_UPSTREAM_CONNECT_ERROR] = "upstream_connect_error",
  [SL_AO_UPSTREAM_PROTOCOL_ERROR] = "upstream_protocol_error",
  [SL_AO_UPSTREAM_ERROR] = "upstream_error",
  [SL_AO_OUT_OF_MEMORY] = "out_of_memory",
  [SL_AO_INVALID_REQUEST] = "invalid_request",
  [SL_AO_CLIENT_STALLED] = "client_stalled",
  [SL_AO_CLIENT_CLOSED] = "client_closed",
  [SL_AO_CANCELLED] = "cancelled",
  [SL_AO_LOST_RACE] = "lost_race",
  [SL_AO_CHECK_FAILED] = "check_failed",
};
_Static_assert(sizeof names / sizeof names[0] == SL_AO__COUNT, "one name per outcome");

#define D10(p) p "0\0" p "1\0" p "2\0" p "3\0" p "4\0" p "5\0" p "6\0" p "7\0" p "8\0" p "9\0"
#define D100(p) D10(p "0") D10(p "1") D10(p "2") D10(p "3") D10(p "4") D10(p "5") D10(p "6") D10(p "7") D10(p "8") D10(p "9")
#define HTTP_W 9 /* "http_NNN\0" */
static const char http_names[] = D100("http_1") D100("http_2") D100("http_3") D100("http_4") D100("http_5")
  D100("http_6") D100("http_7") D100("http_8") D100("http_9");
_Static_assert(sizeof http_names == 900 * HTTP_W + 1, "fixed-width http_NNN entries");

const char *sl_attempt_outcome_name(enum sl_attempt_outcome o, int status) {
  if ((unsigned)o >= SL_AO__COUNT) return "unknown";
  if (o == SL_AO_HTTP_STATUS && status >= 100 && status <= 999) return &http_names[(size_t)(status - 100) * HTTP_W];
  return names[o];
}
