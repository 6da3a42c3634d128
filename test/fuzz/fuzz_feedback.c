/* libFuzzer target for core/feedback.c's body parser (POST /v1/feedback bodies, straight
 * from clients). Properties: on success the request id is a non-empty NUL-terminated
 * string shorter than SL_FB_ID_MAX and the value is within 0..1 (0 or 1 for thumbs and
 * labels); on failure there is a message; no read past n. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/feedback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n ? n : 1); /* exactly n bytes: ASan catches any read past them */
  if (!s) return 0;
  if (n) memcpy(s, data, n);
  struct sl_feedback_body b;
  char err[256] = "";
  int rc = sl_feedback_parse(s, n, &b, err, sizeof err);
  if (rc == 0) {
    size_t len = strnlen(b.request_id, sizeof b.request_id);
    if (!len || len >= sizeof b.request_id) abort();
    if (!(b.value >= 0 && b.value <= 1)) abort();
    if (b.kind != SL_FEEDBACK_SCORE && b.value != 0 && b.value != 1) abort();
  } else if (!err[0]) {
    abort();
  }
  free(s);
  return 0;
}
