/* libFuzzer target for the dashboard's two header readers (core/ui_assets.h): Accept-Encoding
 * and If-None-Match. Input: the header value (not NUL-terminated: read by length only).
 * Properties: never reads past the value; a value that names gzip alone is accepted; a
 * value holding the ETag as one comma-separated element matches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ui_assets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *v = malloc(n ? n : 1);
  if (!v) return 0;
  memcpy(v, data, n);
  (void)sl_ui_accepts_gzip(v, n);
  (void)sl_ui_etag_matches(v, n, "\"0123456789abcdef\"");
  free(v);
  if (n < 200) { /* appended elements are still found */
    static const char tag[] = ", \"0123456789abcdef\"";
    static const char gz[] = ", gzip";
    char *w = malloc(n + sizeof tag);
    if (!w) return 0;
    memcpy(w, data, n);
    memcpy(w + n, tag, sizeof tag - 1);
    if (!sl_ui_etag_matches(w, n + sizeof tag - 1, "\"0123456789abcdef\"")) abort();
    memcpy(w + n, gz, sizeof gz - 1);
    if (!sl_ui_accepts_gzip(w, n + sizeof gz - 1)) abort();
    free(w);
  }
  return 0;
}
