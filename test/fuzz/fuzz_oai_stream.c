/* libFuzzer target for the stream assembler and the replayer (net/oai_stream.h). The
 * input (after one control byte) is fed to the assembler as raw SSE bytes, split at a
 * point chosen by the control byte. Whatever it assembles must be valid JSON, and
 * replaying it (with and without include_usage, pieces sized by the control byte) and
 * assembling the replay must give the same completion back: the round trip the cache
 * relies on. The input is also replayed as if it were a stored completion, which must
 * never crash and, when accepted, end with data: [DONE]. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/oai_stream.h"

/* cJSON_Compare finds object members by name, so an object with a duplicate name
 * never equals itself; compare the k-th member of each name instead. */
static const cJSON *nth_named(const cJSON *o, const char *name, int k) {
  for (const cJSON *c = o->child; c; c = c->next)
    if (!strcmp(c->string, name) && k-- == 0) return c;
  return NULL;
}

static bool json_eq(const cJSON *a, const cJSON *b) {
  if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
  if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
  if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
  if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
    const cJSON *x = a->child, *y = b->child;
    int na = 0, nb = 0;
    for (; x; x = x->next) na++;
    for (; y; y = y->next) nb++;
    if (na != nb) return false;
    for (x = a->child, y = b->child; x; x = x->next, y = y ? y->next : NULL) {
      const cJSON *other = y;
      if (cJSON_IsObject(a)) {
        int k = 0;
        for (const cJSON *p = a->child; p != x; p = p->next) k += !strcmp(p->string, x->string);
        other = nth_named(b, x->string, k);
      }
      if (!other || !json_eq(x, other)) return false;
    }
  }
  return true;
}

static cJSON *assemble(const char *p, size_t n, size_t cut, bool *complete) {
  struct sl_oai_asm *a;
  if (sl_oai_asm_new(&a)) return NULL;
  if (cut > n) cut = n;
  sl_oai_asm_feed_bytes(a, p, cut);
  sl_oai_asm_feed_bytes(a, p + cut, n - cut);
  char *json = NULL;
  size_t len = 0;
  cJSON *j = NULL;
  if (sl_oai_asm_finish(a, &json, &len, complete) == 0) {
    j = cJSON_ParseWithLength(json, len);
    if (!j) __builtin_trap(); /* the assembler printed invalid JSON */
  }
  free(json);
  sl_oai_asm_free(a);
  return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, len);

  bool complete = false;
  cJSON *first = assemble(buf, len, (size_t)ctl * 7, &complete);
  if (first) {
    char *stored = cJSON_PrintUnformatted(first);
    for (int usage = 1; stored && usage >= 0; usage--) {
      struct sl_buf sse = {0};
      struct sl_oai_replay_opts o = {.include_usage = usage, .piece = 4 + (ctl & 63)};
      if (sl_oai_replay(stored, strlen(stored), &o, &sse) != 0) __builtin_trap();
      bool c2 = false;
      cJSON *again = assemble(sse.p, sse.n, sse.n / 2, &c2);
      if (!usage) cJSON_DeleteItemFromObjectCaseSensitive(first, "usage");
      if (!again || !json_eq(again, first)) __builtin_trap();
      cJSON_Delete(again);
      sl_buf_free(&sse);
    }
    free(stored);
    cJSON_Delete(first);
  }

  struct sl_buf out = {0};
  struct sl_oai_replay_opts o = {.include_usage = ctl & 1, .piece = ctl >> 2};
  if (sl_oai_replay(buf, len, &o, &out) == 0 && !out.oom) {
    static const char done[] = "data: [DONE]\n\n";
    if (out.n < sizeof done - 1 || memcmp(out.p + out.n - (sizeof done - 1), done, sizeof done - 1)) __builtin_trap();
  }
  sl_buf_free(&out);
  free(buf);
  return 0;
}
