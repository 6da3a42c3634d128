/* The cascade's answer checks: is a whole chat.completion answer good enough to give the client,
 * or should the next (stronger) target be asked? Each check is cheap and bounded, pure (cJSON;
 * no I/O). The checks, in the order they are run:
 *   length    finish_reason "length" (the answer was cut)
 *   empty     no content and no tool calls, or content that is only whitespace
 *   refusal   content that opens with, or contains in its first SL_AC_REFUSAL_SCAN bytes, a
 *             refusal phrase (case-insensitive, ’ read as ')
 *   json      response_format json_object/json_schema asked and the content is not JSON (an
 *             object for json_object), or violates the schema (json_schema.h)
 *   tool_args a tool call whose arguments are not a JSON object, that names a tool the request
 *             did not offer, or whose arguments violate that tool's parameters schema
 *   logprob   the mean of choices[0].logprobs.content[*].logprob below min_mean_logprob
 *   math      a grade-school-maths answer that looks wrong (answer_math.h): no final answer,
 *             arithmetic that does not hold, a fraction where the question asks a count
 * A check whose input is absent passes. Every choice is checked (logprob: the first).
 * To add a check: an enum value before SL_AC_N, its name, a function in answer_check.c. */
#ifndef SL_WIRE_ANSWER_CHECK_H
#define SL_WIRE_ANSWER_CHECK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "net/base/buf.h"

enum sl_answer_check {
  SL_AC_NONE = 0,
  SL_AC_LENGTH,
  SL_AC_EMPTY,
  SL_AC_REFUSAL,
  SL_AC_JSON,
  SL_AC_TOOLS,
  SL_AC_LOGPROB,
  SL_AC_MATH,
  SL_AC_N
};

#define SL_AC_REFUSAL_SCAN             1024 /* bytes of content searched for refusal phrases */
#define SL_AC_DEFAULT_MIN_MEAN_LOGPROB -1.0 /* a mean below e^-1 per token */

/* "length","empty","refusal","json","tool_args","logprob","math" ("none" for SL_AC_NONE). */
const char *sl_answer_check_name(enum sl_answer_check c);
/* The check named name (the names above; "tools" too): 0, or -EINVAL. */
int sl_answer_check_parse(const char *name, enum sl_answer_check *out);

struct sl_answer_check_cfg {
  unsigned mask;               /* 1u << check, for the checks to run */
  const char *const *refusals; /* phrases (matched case-insensitively); NULL: the built-in list */
  size_t nrefusals;
  double min_mean_logprob; /* SL_AC_LOGPROB: fail below this mean token logprob; e.g. -1.0. Not
                              negative and finite (0 from a zeroed struct): the default below */
};

/* The built-in refusal phrases (lowercase), and how many. */
const char *const *sl_answer_check_refusals(size_t *n);

/* The first check (enum order) in c->mask that a whole chat.completion answer (body) fails, given
 * the client's chat request req (its response_format and tools' schemas; may be NULL: those
 * checks then test only that JSON parses); SL_AC_NONE when it passes. A check whose input is
 * absent passes (json without response_format, tool_args without tool calls, logprob without
 * logprobs in the answer). A body that is not a JSON object with choices has no content: it
 * fails "empty" (when asked) and passes the rest. why (may be NULL): a short reason for
 * logs/headers, "" when it passes. */
enum sl_answer_check sl_answer_check_run(const struct sl_answer_check_cfg *c, const cJSON *req, const char *body,
                                         size_t len, char *why, size_t whylen);

/* body without choices[].logprobs (sluice asked for them; the client did not): out gets the new
 * text. 0, -EBADMSG (body not a JSON object), -ENOMEM. */
int sl_answer_strip_logprobs(const char *body, size_t len, struct sl_buf *out);

#endif
