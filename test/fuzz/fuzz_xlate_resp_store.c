/* libFuzzer target for the stored-response helpers (net/wire/xlate.h): the replay of a
 * response object, the history kept for previous_response_id and the expansion of a
 * request with it. The input, after one control byte, is a request JSON and a stored
 * text, separated by the first NUL byte (or the request alone). Properties: each call
 * gives 0 or its documented errors; a replay is complete events named as their type,
 * numbered from 0, starting with response.created and ending with the response's
 * final event; a history is a JSON array that starts with the request's input items;
 * an expansion has an input array (the stored items then the request's) and no
 * previous_response_id; and a history that was written can always be expanded. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"
#include "net/wire/xlate.h"

struct evc {
  int n;
  char last[64];
};

static int on_event(void *ud, const struct sl_sse_event *ev) {
  struct evc *c = ud;
  cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "type"));
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "sequence_number");
  if (!type || strcmp(type, ev->event) || !cJSON_IsNumber(seq) || seq->valueint != c->n) __builtin_trap();
  if (c->n == 0 && strcmp(type, "response.created")) __builtin_trap();
  snprintf(c->last, sizeof c->last, "%s", type);
  c->n++;
  cJSON_Delete(j);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const char *p = (const char *)data + 1;
  size_t n = size - 1;
  const char *nul = memchr(p, 0, n);
  size_t rn = nul ? (size_t)(nul - p) : n;
  const char *stored = nul ? nul + 1 : p;
  size_t sn = nul ? n - rn - 1 : n;
  cJSON *req = cJSON_ParseWithLength(p, rn);

  struct sl_buf r = {0};
  int rc = sl_xlate_resp_replay(stored, sn, (data[0] & 1) ? "resp_new" : NULL, &r);
  if (rc == 0) {
    struct evc c = {0};
    struct sl_sse sse;
    sl_sse_init(&sse, 0);
    if (sl_sse_feed(&sse, r.p ? r.p : "", r.n, on_event, &c)) __builtin_trap();
    int before = c.n;
    if (sl_sse_finish(&sse, on_event, &c) || c.n != before || c.n < 3) __builtin_trap();
    sl_sse_free(&sse);
    if (strcmp(c.last, "response.completed") && strcmp(c.last, "response.incomplete") &&
        strcmp(c.last, "response.failed"))
      __builtin_trap();
  } else if (rc != -EBADMSG && rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&r);

  struct sl_buf h = {0};
  rc = sl_xlate_resp_history(req, stored, sn, &h);
  if (rc == 0) {
    cJSON *arr = cJSON_ParseWithLength(h.p, h.n);
    if (!cJSON_IsArray(arr)) __builtin_trap();
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "input");
    if (cJSON_IsArray(in) && cJSON_GetArraySize(arr) < cJSON_GetArraySize(in)) __builtin_trap();
    cJSON_Delete(arr);
    if (cJSON_IsObject(req)) {
      cJSON *x = NULL;
      int e = sl_xlate_resp_expand(req, h.p, h.n, &x, NULL, 0);
      if (e != 0 && e != -ENOMEM) __builtin_trap();
      cJSON_Delete(x);
    }
  } else if (rc != -EBADMSG && rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&h);

  cJSON *x = NULL;
  char err[256] = "";
  rc = sl_xlate_resp_expand(req, stored, sn, &x, err, sizeof err);
  if (rc == 0) {
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(x, "input")) ||
        cJSON_GetObjectItemCaseSensitive(x, "previous_response_id"))
      __builtin_trap();
  } else if (x || (rc == -EINVAL && !err[0]) || (rc != -EINVAL && rc != -ENOMEM)) {
    __builtin_trap();
  }
  cJSON_Delete(x);
  cJSON_Delete(req);
  return 0;
}
