/* OpenAI embeddings <-> Bedrock embedding models' invoke bodies (Titan text v1/v2, Cohere
 * embed v3/v4). The one idea: each model family is a (request builder, response reader)
 * pair around one OpenAI list writer:
 *   Titan:  {input: "text" | ["text"], dimensions} -> {inputText, dimensions?}
 *           {embedding:[...], inputTextTokenCount} -> data[0], usage.prompt_tokens
 *   Cohere: {input: "text" | ["a", ...] (<= 96), input_type?, truncate?} ->
 *           {texts, input_type (search_document unless given), truncate?}
 *           {embeddings:[[...]] | {float:[[...]]}, id, texts} -> data[i]
 *           (usage from meta.billed_units.input_tokens when present, else unknown: 0)
 * Token-id inputs (arrays of integers) -> error: these models take text. encoding_format
 * base64 gives each vector as the base64 of its little-endian float32 values, as OpenAI
 * does. Extend: a new family is one enum value, one request branch, one reader. */
#include <errno.h>
#include <math.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock_internal.h"

#define COHERE_MAX_TEXTS 96

int sl_bedrock_embed_request(enum sl_bedrock_embed k, const cJSON *req, struct sl_buf *out, char *err, size_t errlen) {
  struct sl_xl x = {0, err, errlen};
  if (err && errlen) err[0] = 0;
  if (!cJSON_IsObject(req)) return sl__xlate_bad(&x, "the request body must be a JSON object");
  const cJSON *in = sl__xlate_get(req, "input"), *it;
  if (cJSON_IsString(in)) {
  } else if (cJSON_IsArray(in) && cJSON_GetArraySize(in) > 0) {
    cJSON_ArrayForEach(it, in) if (!cJSON_IsString(it)) return sl__xlate_bad(
        &x, "input must be a string or an array of strings for this deployment (Bedrock embedding models take text, "
            "not token ids)");
  } else {
    return sl__xlate_bad(&x, "input must be a non-empty string or array of strings");
  }
  const char *ef = sl__xlate_getstr(req, "encoding_format");
  if (ef && strcmp(ef, "float") != 0 && strcmp(ef, "base64") != 0)
    return sl__xlate_bad(&x, "encoding_format must be float or base64");
  cJSON *root = cJSON_CreateObject();
  if (!root) sl__xlate_oom(&x);
  if (k == SL_BEDROCK_EMBED_TITAN) {
    if (cJSON_IsArray(in) && cJSON_GetArraySize(in) > 1) {
      cJSON_Delete(root);
      return sl__xlate_bad(&x,
                           "this deployment (Amazon Titan embeddings) embeds one input per request; send the %d "
                           "inputs one by one",
                           cJSON_GetArraySize(in));
    }
    const char *text = cJSON_IsString(in) ? in->valuestring : cJSON_GetArrayItem(in, 0)->valuestring;
    sl__xlate_add_str(&x, root, "inputText", text);
    const cJSON *dim = sl__xlate_get(req, "dimensions");
    if (dim && !cJSON_IsNull(dim)) {
      double d;
      if (!sl__xlate_getnum(req, "dimensions", &d) || d < 1 || d > 1e6 || d != floor(d)) {
        cJSON_Delete(root);
        return sl__xlate_bad(&x, "dimensions must be a positive integer");
      }
      sl__xlate_add_num(&x, root, "dimensions", d);
    }
  } else {
    if (cJSON_IsArray(in) && cJSON_GetArraySize(in) > COHERE_MAX_TEXTS) {
      cJSON_Delete(root);
      return sl__xlate_bad(&x,
                           "this deployment (Cohere embeddings on Bedrock) takes at most %d inputs per request, "
                           "got %d",
                           COHERE_MAX_TEXTS, cJSON_GetArraySize(in));
    }
    cJSON *texts = sl__xlate_add_arr(&x, root, "texts");
    if (cJSON_IsString(in))
      sl__xlate_add_str(&x, texts, NULL, in->valuestring);
    else
      cJSON_ArrayForEach(it, in) sl__xlate_add_str(&x, texts, NULL, it->valuestring);
    const char *itype = sl__xlate_getstr(req, "input_type"), *trunc = sl__xlate_getstr(req, "truncate");
    sl__xlate_add_str(&x, root, "input_type", itype ? itype : "search_document");
    if (trunc) sl__xlate_add_str(&x, root, "truncate", trunc);
  }
  sl__xlate_print(&x, root, out);
  cJSON_Delete(root);
  return x.rc;
}

/* One vector: a JSON array of numbers, or the base64 of its float32 values. */
static bool put_vector(struct sl_buf *out, const cJSON *vec, bool base64) {
  if (!cJSON_IsArray(vec)) return false;
  const cJSON *v;
  cJSON_ArrayForEach(v, vec) if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return false;
  if (!base64) {
    sl_buf_puts(out, "[");
    bool first = true;
    cJSON_ArrayForEach(v, vec) {
      char num[32];
      snprintf(num, sizeof num, "%.9g", v->valuedouble);
      if (!first) sl_buf_puts(out, ",");
      sl_buf_puts(out, num);
      first = false;
    }
    sl_buf_puts(out, "]");
    return true;
  }
  size_t n = (size_t)cJSON_GetArraySize(vec), i = 0, olen = 0;
  unsigned char *raw = malloc(n * 4 + 1), *b64 = malloc((n * 4 + 2) / 3 * 4 + 1);
  if (!raw || !b64) {
    free(raw), free(b64);
    out->oom = true;
    return true;
  }
  cJSON_ArrayForEach(v, vec) {
    float f = (float)v->valuedouble;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    for (int b = 0; b < 4; b++) raw[i * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b)); /* little-endian */
    i++;
  }
  if (mbedtls_base64_encode(b64, (n * 4 + 2) / 3 * 4 + 1, &olen, raw, n * 4) != 0)
    out->oom = true;
  else
    sl_buf_puts(out, "\""), sl_buf_append(out, b64, olen), sl_buf_puts(out, "\"");
  free(raw);
  free(b64);
  return true;
}

int sl_bedrock_embed_response_fmt(enum sl_bedrock_embed k, const char *model, bool base64, const char *p, size_t n,
                                  struct sl_buf *out, struct sl_xlate_usage *u) {
  if (u) memset(u, 0, sizeof *u);
  cJSON *j = p && n ? cJSON_ParseWithLength(p, n) : NULL;
  const cJSON *vecs = NULL, *one = NULL;
  int64_t tokens = 0;
  bool known = false;
  if (k == SL_BEDROCK_EMBED_TITAN) {
    one = sl__xlate_get(j, "embedding");
    if (!cJSON_IsArray(one)) one = NULL;
    known = cJSON_IsNumber(sl__xlate_get(j, "inputTextTokenCount"));
    tokens = sl__xlate_getint(j, "inputTextTokenCount");
  } else {
    vecs = sl__xlate_get(j, "embeddings");
    if (cJSON_IsObject(vecs)) vecs = sl__xlate_get(vecs, "float"); /* embedding_types given */
    if (!cJSON_IsArray(vecs)) vecs = NULL;
    const cJSON *bu = sl__xlate_get(sl__xlate_get(j, "meta"), "billed_units");
    known = cJSON_IsNumber(sl__xlate_get(bu, "input_tokens"));
    tokens = sl__xlate_getint(bu, "input_tokens");
  }
  if (!one && !vecs) {
    cJSON_Delete(j);
    return -EINVAL;
  }
  if (tokens < 0) tokens = 0;
  size_t start = out->n;
  sl_buf_puts(out, "{\"object\":\"list\",\"data\":[");
  int i = 0;
  const cJSON *v;
  bool ok = true;
  cJSON_ArrayForEach(v, (one ? NULL : vecs)) {
    sl_buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
    ok = ok && put_vector(out, v, base64);
    sl_buf_puts(out, "}");
    i++;
  }
  if (one) {
    sl_buf_puts(out, "{\"object\":\"embedding\",\"index\":0,\"embedding\":");
    ok = put_vector(out, one, base64);
    sl_buf_puts(out, "}");
  }
  sl_buf_puts(out, "],\"model\":");
  sl__xlate_put_jstr(out, model ? model : "");
  sl_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}", (long long)tokens,
                (long long)tokens);
  cJSON_Delete(j);
  if (!ok) {
    out->n = start; /* a vector that is not numbers: not an embeddings answer */
    return -EINVAL;
  }
  if (out->oom) return -ENOMEM;
  if (u) *u = (struct sl_xlate_usage){.input = tokens, .known = known};
  return 0;
}

int sl_bedrock_embed_response(enum sl_bedrock_embed k, const char *model, const char *p, size_t n, struct sl_buf *out,
                              struct sl_xlate_usage *u) {
  return sl_bedrock_embed_response_fmt(k, model, false, p, n, out, u);
}
