/* Whether a 2xx body is the answer its route promises (see request_internal.h). The one
 * idea: a provider (or something in front of it: a captive portal, a proxy that cut the
 * connection) can say 200 with anything; only a JSON object of the endpoint's shape is an
 * answer. Anything else is a failed attempt: retried or failed over, never passed on or
 * cached. The check is one validating pass and a member scan, no tree (a cJSON parse of
 * every answer was the largest cost of a small proxied request). To check a new route, add
 * its required member to member_for(). */
#include <stdbool.h>
#include <string.h>

#include "core/request_internal.h"
#include "net/wire/json_scan.h"
#include "net/wire/json_valid.h"

/* The top-level member every answer of the route has, and whether it is an array. */
static const char *member_for(enum sl_route route, bool *array) {
  *array = true;
  switch (route) {
  case SL_R_CHAT:
  case SL_R_COMPLETIONS: return "choices";
  case SL_R_EMBEDDINGS: return "data";
  case SL_R_MESSAGES: return "content"; /* an Anthropic message */
  case SL_R_RESPONSES: return "output"; /* a response object */
  case SL_R_MODERATIONS:
  case SL_R_RERANK: return "results";
  case SL_R_IMAGES: return "data";
  default: return NULL;                 /* any JSON object */
  }
}

bool sl_attempt_body_is_answer(enum sl_route route, const char *p, size_t n, size_t *usage_at, size_t *usage_len) {
  bool array;
  struct sl_json_member m[2] = {{.key = "usage", .klen = 5}, {.key = member_for(route, &array)}};
  if (m[1].key) m[1].klen = strlen(m[1].key);
  *usage_len = 0;
  /* audio, or a transcript in the format asked (text, srt, vtt or JSON): any non-empty body */
  if (route == SL_R_SPEECH || route == SL_R_TRANSCRIPTIONS) return p && n > 0;
  if (!p || n == 0 || sl_json_validate_members(p, n, m, m[1].key ? 2 : 1) != SL_JSON_OBJECT) return false;
  if (m[0].found && p[m[0].vs] == '{') {
    *usage_at = m[0].vs;
    *usage_len = m[0].ve - m[0].vs;
  }
  if (!m[1].key) return true;
  return m[1].found && (!array || p[m[1].vs] == '[');
}
