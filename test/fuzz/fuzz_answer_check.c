/* libFuzzer target for the cascade's answer checks (net/wire/answer_check.h, answer_math.h):
 * the input is a chat request and an answer body, separated by the first newline. Every check
 * runs (built-in and a configured refusal list); the result is a check in range with a
 * NUL-terminated reason, empty exactly when it passed; strip_logprobs either refuses the body or
 * gives a body that strips to itself (idempotent) and has no "logprobs" in its choices; the
 * maths analysis of the raw bytes stays in bounds and its score is finite and >= 0. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/answer_check.h"
#include "net/wire/answer_math.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  const char *nl = memchr(in, '\n', size);
  size_t rn = nl ? (size_t)(nl - in) : 0;
  char *body = malloc(size ? size : 1); /* an exact-size copy: reads past it are caught */
  size_t bn = nl ? size - rn - 1 : size;
  if (!body) return 0;
  memcpy(body, nl ? nl + 1 : in, bn);
  cJSON *req = nl ? cJSON_ParseWithLength(in, rn) : NULL;
  static const char *const mine[] = {"nope", "", "x"};
  for (int k = 0; k < 2; k++) {
    struct sl_answer_check_cfg c = {.mask = (1u << SL_AC_N) - 2u, .min_mean_logprob = -1.0};
    if (k) {
      c.refusals = mine;
      c.nrefusals = 3;
      c.min_mean_logprob = -1e300;
    }
    char why[128];
    memset(why, 'x', sizeof why);
    enum sl_answer_check r = sl_answer_check_run(&c, req, body, bn, why, sizeof why);
    if ((unsigned)r >= SL_AC_N || !memchr(why, 0, sizeof why)) __builtin_trap();
    if ((r == SL_AC_NONE) != (why[0] == 0)) __builtin_trap();
    if (sl_answer_check_run(&c, req, body, bn, NULL, 0) != r) __builtin_trap();
  }
  struct sl_buf out = {0};
  int rc = sl_answer_strip_logprobs(body, bn, &out);
  if (rc == 0) {
    struct sl_buf again = {0};
    if (sl_answer_strip_logprobs(out.p, out.n, &again) != 0) __builtin_trap();
    if (again.n != out.n || memcmp(again.p, out.p, out.n) != 0) __builtin_trap();
    sl_buf_free(&again);
  } else if (rc != -EBADMSG && rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&out);
  struct sl_answer_math m;
  sl_answer_math_analyze(body, bn, in, rn, &m);
  if (m.wrong > m.checked || m.checked > SL_ANSWER_MATH_MAX_EXPRS) __builtin_trap();
  unsigned f;
  double s = sl_answer_math_score(body, bn, &f);
  if (!(s >= 0) || !isfinite(s) || f != m.fails) __builtin_trap();
  double v;
  if (sl_answer_math_eval(body, bn < 512 ? bn : 512, &v) == 0 && !isfinite(v)) __builtin_trap();
  cJSON_Delete(req);
  free(body);
  return 0;
}
