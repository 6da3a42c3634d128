/* POST /v1/feedback; see feedback.h. The body parser is a pure function (fuzzed in
 * test/fuzz/fuzz_feedback.c); the handler maps an outcome to `need` and hands it to the
 * feedback store, which checks the owner and queues it for the writer thread. */
#include "core/feedback.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "core/respond.h"
#include "core/router_online.h"
#include "net/base/buf.h"
#include "store/keys.h"

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (n) vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

int sl_feedback_parse(const char *body, size_t n, struct sl_feedback_body *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!body || !n)
    return fail(err, errlen,
                "the body must be a JSON object: {\"request_id\", and one of \"score\" "
                "(0..1), \"thumbs\" (up|down), \"label\" (weak_ok|strong_needed)}");
  cJSON *j = cJSON_ParseWithLength(body, n);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return fail(err, errlen,
                "the body must be a JSON object: {\"request_id\", and one of \"score\" (0..1), "
                "\"thumbs\" (up|down), \"label\" (weak_ok|strong_needed)}");
  }
  int rc = 0, given = 0;
  bool have_id = false;
  for (const cJSON *it = j->child; it && !rc; it = it->next) {
    const char *k = it->string ? it->string : "";
    if (strcmp(k, "request_id") == 0) {
      if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= SL_FB_ID_MAX)
        rc = fail(err, errlen,
                  "'request_id' must be a non-empty string of at most %d bytes (the x-request-id "
                  "of the routed request)",
                  SL_FB_ID_MAX - 1);
      else {
        snprintf(out->request_id, sizeof out->request_id, "%s", it->valuestring);
        have_id = true;
      }
    } else if (strcmp(k, "score") == 0) {
      given++;
      out->kind = SL_FEEDBACK_SCORE;
      if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= 1))
        rc = fail(err, errlen, "'score' must be a number from 0 (bad answer) to 1 (good answer)");
      else
        out->value = it->valuedouble;
    } else if (strcmp(k, "thumbs") == 0) {
      given++;
      out->kind = SL_FEEDBACK_THUMBS;
      if (cJSON_IsString(it) && strcmp(it->valuestring, "up") == 0)
        out->value = 1;
      else if (cJSON_IsString(it) && strcmp(it->valuestring, "down") == 0)
        out->value = 0;
      else
        rc = fail(err, errlen, "'thumbs' must be \"up\" or \"down\"");
    } else if (strcmp(k, "label") == 0) {
      given++;
      out->kind = SL_FEEDBACK_LABEL;
      if (cJSON_IsString(it) && strcmp(it->valuestring, "weak_ok") == 0)
        out->value = 0;
      else if (cJSON_IsString(it) && strcmp(it->valuestring, "strong_needed") == 0)
        out->value = 1;
      else
        rc = fail(err, errlen, "'label' must be \"weak_ok\" or \"strong_needed\"");
    } else if (strcmp(k, "comment") != 0) {
      rc = fail(err, errlen, "unknown field '%.60s' (request_id, score, thumbs, label, comment)", k);
    }
  }
  cJSON_Delete(j);
  if (rc) return rc;
  if (!have_id) return fail(err, errlen, "'request_id' is required (the x-request-id of the routed request)");
  if (given != 1)
    return fail(err, errlen,
                "give exactly one of 'score' (0..1), 'thumbs' (up|down) or 'label' "
                "(weak_ok|strong_needed)");
  return 0;
}

/* need (1: strong was needed .. 0: weak was fine), and whether it teaches anything. */
static double need_of(const struct sl_feedback_body *b, const struct sl_fb_decision *d, bool *learns) {
  if (b->kind == SL_FEEDBACK_LABEL) {
    *learns = true;
    return b->value;
  }
  *learns = !d->strong; /* a rating of the weak answer; a strong answer's says nothing about weak */
  return 1 - b->value;
}

static void not_found(struct sl_request *rq, const char *id) {
  sl_respond_error(rq, 404, SL_ERR_NOT_FOUND, NULL,
                   "No routed request with id '%.63s' (unknown, expired, or made with another key)", id);
}

/* A decision made by another worker reaches the disk when its writer commits (a few ms):
 * an id not found is looked up again after 20, 80 and 300 ms before the 404. The
 * request's retry timer is free on this route (it has no attempts); a client that leaves
 * meanwhile closes it, and this never runs. */
static const unsigned retry_ms[] = {20, 80, 300};
static void look_again(uv_timer_t *t) { sl_request_feedback(t->data); }

void sl_request_feedback(struct sl_request *rq) {
  const struct sl_http_request *hr = rq->hr;
  struct sl_feedback_body b;
  char err[256];
  if (sl_feedback_parse(hr->body, hr->body_len, &b, err, sizeof err)) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "%s", err);
    return;
  }
  struct sl_fb *fb = sl_learn_store(rq->w);
  if (!fb) {
    sl_respond_error(rq, 503, SL_ERR_STORE_UNAVAILABLE, NULL, "The feedback store is unavailable");
    return;
  }
  uint64_t owner = rq->key ? rq->key->id : 0;
  bool master = !rq->key;
  struct sl_fb_decision d;
  int rc = sl_fb_get(fb, b.request_id, &d);
  if (rc == 0 && !master && d.owner != owner) rc = -ENOENT;
  if (rc == -ENOENT && rq->learn.fb_tries < sizeof retry_ms / sizeof *retry_ms) {
    uv_timer_start(&rq->retry_timer, look_again, retry_ms[rq->learn.fb_tries++], 0);
    return;
  }
  bool learns = false;
  double need = rc ? 0 : need_of(&b, &d, &learns);
  if (!rc) rc = sl_fb_outcome(fb, b.request_id, owner, master, need, learns, &d);
  switch (rc) {
  case 0: break;
  case -ENOENT: not_found(rq, b.request_id); return;
  case -EALREADY:
    sl_respond_error_named(rq, 409, "feedback_exists", NULL, "Request '%.63s' already has feedback", b.request_id);
    return;
  case -ENOSPC:
    sl_respond_error(rq, 503, SL_ERR_STORE_FULL, "Retry-After: 1\r\n", "The feedback queue is full");
    return;
  default: sl_respond_error(rq, 503, SL_ERR_STORE_ERROR, NULL, "Cannot record the feedback (rc %d)", rc); return;
  }
  struct sl_buf o = {0};
  sl_buf_puts(&o, "{\"request_id\":\"");
  sl_buf_json_escape(&o, b.request_id, strlen(b.request_id));
  sl_buf_puts(&o, "\",\"recorded\":true,\"router\":\"");
  sl_buf_json_escape(&o, d.router, strnlen(d.router, sizeof d.router));
  sl_buf_puts(&o, "\",\"target\":\"");
  sl_buf_json_escape(&o, d.target, strnlen(d.target, sizeof d.target));
  sl_buf_printf(&o, "\",\"need\":%.4g,\"learns\":%s}", need, learns ? "true" : "false");
  if (o.oom)
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  else
    sl_respond_json(rq, 200, o.p, o.n);
  sl_buf_free(&o);
}
