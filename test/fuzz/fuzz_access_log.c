/* libFuzzer target for the access-log line (core/summary.h, sl_summary_access_log).
 * The input is split at NUL bytes into the client's method, path, the key's alias, the
 * group name, the deployment id and the fallback group; its first bytes pick the
 * numbers and flags. Whatever the bytes, the line must be one valid JSON object (every
 * string escaped, the path cut at 256 bytes) ending in a closing brace. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  const char *part[6] = {"", "", "", "", "", ""};
  size_t plen[6] = {0};
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= size && k < 6; i++)
    if (i == size || buf[i] == 0) {
      part[k] = buf + start;
      plen[k++] = i - start;
      start = i + 1;
    }
  uint8_t f = size ? data[0] : 0;
  struct sl_request_summary s = {
      .request_id = "0-1",
      .method = {part[0], plen[0]},
      .path = {part[1], plen[1]},
      .key = (f & 1) ? part[2] : NULL,
      .group = (f & 2) ? part[3] : NULL,
      .deployment = (f & 4) ? part[4] : NULL,
      .fallback = (f & 8) ? part[5] : NULL,
      .status = size > 1 ? data[1] * 3 : 0,
      .cache = (enum sl_cache_state)(f >> 4 & 3),
      .stream = f & 64,
      .attempts = f & 128 ? 2 : 0,
      .t0_ms = 100,
      .t_end_ms = size > 2 ? data[2] : 0, /* may be before t0 */
      .has_upstream_ms = size > 3 && data[3] & 1,
      .upstream_ms = size > 3 ? data[3] : 0,
      .cost_micro = size > 4 ? (int64_t)data[4] * 1000003 : 0,
      .err_code = f & 32 ? "upstream_reset" : NULL,
      .attempts_json = "[]",
      .attempts_json_len = 2,
  };
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"msg\":\"access\"");
  sl_summary_access_log(&s, &b);
  if (!b.oom) {
    if (b.n == 0 || b.p[b.n - 1] != '}') __builtin_trap();
    cJSON *j = cJSON_ParseWithLength(b.p, b.n);
    if (!j || !cJSON_IsObject(j)) __builtin_trap();
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
    if (!cJSON_IsString(p)) __builtin_trap();
    cJSON_Delete(j);
  }
  sl_buf_free(&b);
  free(buf);
  return 0;
}
