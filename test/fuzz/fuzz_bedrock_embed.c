/* libFuzzer target for the Bedrock embeddings translators (net/wire/xlate_bedrock.h). The
 * first byte picks Titan or Cohere, request or answer, float or base64; the rest is the
 * JSON body. Properties: an accepted request is the model's invoke body (Titan: inputText
 * a string; Cohere: texts an array of 1..96 strings and input_type); a refused one says
 * why; an accepted answer is an OpenAI list whose data entries are embeddings (arrays of
 * numbers, or base64 strings whose length is a multiple of 4) with indexes 0, 1, ...; a
 * refused answer writes nothing. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  enum sl_bedrock_embed k = (data[0] & 1) ? SL_BEDROCK_EMBED_COHERE : SL_BEDROCK_EMBED_TITAN;
  bool base64 = data[0] & 4;
  size_t n = size - 1;
  char *p = malloc(n ? n : 1);
  if (!p) return 0;
  memcpy(p, data + 1, n);
  struct sl_buf out = {0};
  if (data[0] & 2) {
    cJSON *req = cJSON_ParseWithLength(p, n);
    char err[256] = "";
    int rc = sl_bedrock_embed_request(k, req, &out, err, sizeof err);
    if (rc == 0) {
      cJSON *j = cJSON_ParseWithLength(out.p, out.n);
      if (k == SL_BEDROCK_EMBED_TITAN) {
        if (!cJSON_IsString(cJSON_GetObjectItem(j, "inputText"))) __builtin_trap();
      } else {
        const cJSON *t = cJSON_GetObjectItem(j, "texts");
        int nt = cJSON_GetArraySize(t);
        if (!cJSON_IsArray(t) || nt < 1 || nt > 96 || !cJSON_IsString(cJSON_GetObjectItem(j, "input_type")))
          __builtin_trap();
      }
      cJSON_Delete(j);
    } else if (rc == -EINVAL ? !err[0] : rc != -ENOMEM) {
      __builtin_trap();
    }
    cJSON_Delete(req);
  } else {
    struct sl_xlate_usage u;
    int rc = sl_bedrock_embed_response_fmt(k, "m", base64, p, n, &out, &u);
    if (rc == 0) {
      cJSON *j = cJSON_ParseWithLength(out.p, out.n);
      const cJSON *d = cJSON_GetObjectItem(j, "data"), *e;
      if (!cJSON_IsArray(d) || !cJSON_IsObject(cJSON_GetObjectItem(j, "usage"))) __builtin_trap();
      int i = 0;
      cJSON_ArrayForEach(e, d) {
        const cJSON *v = cJSON_GetObjectItem(e, "embedding"), *x;
        if (cJSON_GetObjectItem(e, "index")->valueint != i++) __builtin_trap();
        if (base64) {
          if (!cJSON_IsString(v) || strlen(v->valuestring) % 4) __builtin_trap();
        } else {
          if (!cJSON_IsArray(v)) __builtin_trap();
          cJSON_ArrayForEach(x, v) if (!cJSON_IsNumber(x)) __builtin_trap();
        }
      }
      cJSON_Delete(j);
    } else if (rc == -EINVAL) {
      if (out.n) __builtin_trap();
    } else if (rc != -ENOMEM) {
      __builtin_trap();
    }
  }
  sl_buf_free(&out);
  free(p);
  return 0;
}
