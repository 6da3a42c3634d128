/* Verdict -> refusal mapping for the spine's stages; see verdict.h. Pure: a table. */
#include "core/verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  int status;
  enum sl_err err;
} admit_rows[SL_ADMIT_N] = {
    [SL_ADMIT_OK] = {200, SL_ERR_NONE},
    [SL_ADMIT_FORBIDDEN] = {403, SL_ERR_MODEL_NOT_ALLOWED},
    [SL_ADMIT_BUDGET] = {429, SL_ERR_BUDGET_EXCEEDED},
    [SL_ADMIT_PARALLEL] = {429, SL_ERR_RATE_LIMIT_EXCEEDED},
    [SL_ADMIT_RATE] = {429, SL_ERR_RATE_LIMIT_EXCEEDED},
    [SL_ADMIT_TABLE_FULL] = {503, SL_ERR_KEY_TABLE_FULL},
};

void sl_admit_refusal(const struct sl_admit_verdict *v, struct sl_refusal *out) {
  memset(out, 0, sizeof *out);
  if ((unsigned)v->kind >= SL_ADMIT_N || v->kind == SL_ADMIT_OK) { /* never a silent yes */
    out->status = 500;
    out->err = SL_ERR_INTERNAL;
    snprintf(out->msg, sizeof out->msg, "admission gave no refusal");
    return;
  }
  out->status = admit_rows[v->kind].status;
  out->err = admit_rows[v->kind].err;
  if (v->retry_after_s)
    snprintf(out->hdrs, sizeof out->hdrs, "Retry-After: %llu\r\n", (unsigned long long)v->retry_after_s);
  snprintf(out->msg, sizeof out->msg, "%s", v->msg);
}

bool sl_refuse(struct sl_refusal *r, int status, enum sl_err err, const char *hdrs, const char *fmt, ...) {
  r->status = status;
  r->err = err;
  snprintf(r->hdrs, sizeof r->hdrs, "%s", hdrs ? hdrs : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->msg, sizeof r->msg, fmt, ap);
  va_end(ap);
  return false;
}
