/* POST /v1/feedback: an outcome for a routed request, which online routers learn from
 * (core/router_online.h). Body: {"request_id": "<x-request-id of the routed request>"}
 * and exactly one of "score" (0..1, the answer's quality), "thumbs" ("up" | "down") or
 * "label" ("weak_ok": the weak model is enough for such prompts | "strong_needed").
 * A score or thumbs rates the answer given: on the weak target it teaches (need = 1 -
 * quality); on the strong target it is recorded but teaches nothing (a good strong answer
 * says nothing about the weak one). A label teaches whichever target answered.
 * Who may: the master key, or the virtual key that made the request; to any other key the
 * id is unknown (404). To add an outcome kind: a value of sl_feedback_kind, its case in
 * sl_feedback_parse and in need_of() (core/feedback.c). */
#ifndef SL_CORE_FEEDBACK_H
#define SL_CORE_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "store/feedback.h"

enum sl_feedback_kind { SL_FEEDBACK_SCORE, SL_FEEDBACK_THUMBS, SL_FEEDBACK_LABEL };

struct sl_feedback_body {
  char request_id[SL_FB_ID_MAX];
  enum sl_feedback_kind kind;
  double value; /* score: 0..1; thumbs: 1 up, 0 down; label: 1 strong_needed, 0 weak_ok */
};

/* Parses a feedback body (n bytes, not NUL-terminated): 0, or -EINVAL with a message for
 * the client in err. */
int sl_feedback_parse(const char *body, size_t n, struct sl_feedback_body *out, char *err, size_t errlen);

struct sl_request;
void sl_request_feedback(struct sl_request *rq); /* the route handler */

#endif
