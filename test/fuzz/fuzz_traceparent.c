/* libFuzzer target for net/wire/traceparent.c and the OTLP headers list
 * (net/wire/otlp_json.c). Properties: a traceparent that parses formats back to a valid
 * traceparent of the same ids (and, for a version-00 header without spaces, to the same
 * bytes); the headers parser returns a count whose pairs are all present in its output,
 * with no CR or LF in a value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/otlp_json.h"
#include "net/wire/traceparent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *s = (const char *)data;
  struct sl_traceparent t, u;
  if (sl_traceparent_parse(s, n, &t) == 0) {
    char out[SL_TRACEPARENT_LEN + 1];
    sl_traceparent_format(t.trace_id, t.span_id, t.flags, out);
    if (strlen(out) != SL_TRACEPARENT_LEN || sl_traceparent_parse(out, SL_TRACEPARENT_LEN, &u) != 0) abort();
    if (memcmp(&t, &u, sizeof t)) abort();
    if (n == SL_TRACEPARENT_LEN && s[0] == '0' && s[1] == '0' && memcmp(out, s, n)) abort();
  }
  (void)sl_tracestate_ok(s, n);
  struct sl_buf b = {0};
  const char *why = NULL;
  int k = sl_otlp_headers_parse(s, n, &b, &why);
  if (k < 0 && !why) abort();
  if (k >= 0) {
    size_t at = 0;
    for (int i = 0; i < 2 * k; i++) {
      if (at >= b.n) abort();
      size_t len = strlen(b.p + at);
      if (i % 2 && (memchr(b.p + at, '\r', len) || memchr(b.p + at, '\n', len))) abort();
      at += len + 1;
    }
    if (at != b.n) abort();
  }
  sl_buf_free(&b);
  return 0;
}
