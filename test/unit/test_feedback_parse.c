/* core/feedback.c's body parser (POST /v1/feedback): each outcome kind, and each way a
 * body is refused, with its message. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "core/feedback.h"

static int parse(const char *s, struct sl_feedback_body *b, char *err) {
  return sl_feedback_parse(s, strlen(s), b, err, 256);
}

static void kinds(void) {
  struct sl_feedback_body b;
  char err[256];
  CHECK(parse("{\"request_id\":\"0-1f\",\"score\":0.25}", &b, err) == 0);
  CHECK_STR(b.request_id, "0-1f");
  CHECK(b.kind == SL_FEEDBACK_SCORE && b.value == 0.25);
  CHECK(parse("{\"thumbs\":\"down\",\"request_id\":\"a\"}", &b, err) == 0 && b.kind == SL_FEEDBACK_THUMBS &&
        b.value == 0);
  CHECK(parse("{\"request_id\":\"a\",\"thumbs\":\"up\"}", &b, err) == 0 && b.value == 1);
  CHECK(parse("{\"request_id\":\"a\",\"label\":\"weak_ok\",\"comment\":\"x\"}", &b, err) == 0 &&
        b.kind == SL_FEEDBACK_LABEL && b.value == 0);
  CHECK(parse("{\"request_id\":\"a\",\"label\":\"strong_needed\"}", &b, err) == 0 && b.value == 1);
  /* not NUL-terminated: only n bytes are read */
  const char *two = "{\"request_id\":\"a\",\"score\":1}garbage";
  CHECK(sl_feedback_parse(two, strlen(two) - 7, &b, err, sizeof err) == 0 && b.value == 1);
}

static void refusals(void) {
  static const struct {
    const char *body, *want;
  } bad[] = {
      {"", "the body must be a JSON object"},
      {"[]", "the body must be a JSON object"},
      {"{\"request_id\":", "the body must be a JSON object"},
      {"{\"score\":1}", "'request_id' is required"},
      {"{\"request_id\":\"\",\"score\":1}", "'request_id' must be a non-empty string"},
      {"{\"request_id\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"score\":1}",
       "'request_id' must be a non-empty string of at most 63 bytes"},
      {"{\"request_id\":\"a\"}", "give exactly one of"},
      {"{\"request_id\":\"a\",\"score\":1,\"label\":\"weak_ok\"}", "give exactly one of"},
      {"{\"request_id\":\"a\",\"score\":-0.1}", "'score' must be a number from 0"},
      {"{\"request_id\":\"a\",\"score\":\"1\"}", "'score' must be a number from 0"},
      {"{\"request_id\":\"a\",\"thumbs\":true}", "'thumbs' must be \"up\" or \"down\""},
      {"{\"request_id\":\"a\",\"label\":\"ok\"}", "'label' must be \"weak_ok\" or \"strong_needed\""},
      {"{\"request_id\":\"a\",\"score\":1,\"stars\":5}", "unknown field 'stars'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct sl_feedback_body b;
    char err[256] = "";
    int rc = parse(bad[i].body, &b, err);
    bool ok = rc == -EINVAL && strncmp(err, bad[i].want, strlen(bad[i].want)) == 0;
    if (!ok) fprintf(stderr, "  case %zu: rc %d, %s\n", i, rc, err);
    CHECK(ok);
  }
}

CHECK_MAIN(T(kinds), T(refusals))
