/* The translation tables: roles, stop/finish reasons, scalar request parameters and
 * error types, each a const array read by a small lookup. The one idea: when a provider
 * adds a reason or an error type, the change is one row here, never a new branch in a
 * translator. */
#include <stdint.h>
#include <strings.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- roles: OpenAI message role -> its place in an Anthropic request ---- */

static const struct {
  const char *oai;
  enum sl__xlate_role role;
} roles[] = {
  {"system", SL_XL_ROLE_SYSTEM},       /* lifted into top-level system */
  {"developer", SL_XL_ROLE_SYSTEM},    /* o-series name for system */
  {"user", SL_XL_ROLE_USER},
  {"assistant", SL_XL_ROLE_ASSISTANT},
  {"tool", SL_XL_ROLE_TOOL},           /* tool_result blocks in a user message */
  {"function", SL_XL_ROLE_UNSUPPORTED}, /* legacy function results: no tool_use id to pair with */
};

enum sl__xlate_role sl__xlate_oai_role(const char *role) {
  for (size_t i = 0; role && i < N(roles); i++)
    if (strcmp(roles[i].oai, role) == 0) return roles[i].role;
  return SL_XL_ROLE_UNKNOWN;
}

/* ---- stop_reason (Anthropic) <-> finish_reason (OpenAI) ---- */

enum { A2O = 1, O2A = 2 };
static const struct {
  const char *anth, *oai;
  unsigned dir;
} reasons[] = {
  {"end_turn", "stop", A2O | O2A},
  {"stop_sequence", "stop", A2O},
  {"pause_turn", "stop", A2O},
  {"max_tokens", "length", A2O | O2A},
  {"model_context_window_exceeded", "length", A2O},
  {"tool_use", "tool_calls", A2O | O2A},
  {"tool_use", "function_call", O2A},
  {"refusal", "content_filter", A2O | O2A},
};

const char *sl__xlate_finish_reason(const char *stop_reason) {
  for (size_t i = 0; stop_reason && i < N(reasons); i++)
    if ((reasons[i].dir & A2O) && strcmp(reasons[i].anth, stop_reason) == 0) return reasons[i].oai;
  return "stop";
}

const char *sl__xlate_stop_reason(const char *finish_reason) {
  for (size_t i = 0; finish_reason && i < N(reasons); i++)
    if ((reasons[i].dir & O2A) && strcmp(reasons[i].oai, finish_reason) == 0) return reasons[i].anth;
  return "end_turn";
}

/* ---- scalar request parameters ---- */

const struct sl__xlate_param sl__xlate_oai_to_anth_params[] = {
  {"temperature", "temperature", SL_XL_NUM01}, /* OpenAI allows 0..2, Anthropic 0..1: clamped */
  {"top_p", "top_p", SL_XL_NUM},
  {"top_k", "top_k", SL_XL_INT}, /* not OpenAI's, but sent by clients written for vLLM */
  {"stream", "stream", SL_XL_BOOL},
};
const size_t sl__xlate_n_oai_to_anth_params = N(sl__xlate_oai_to_anth_params);

const struct sl__xlate_param sl__xlate_anth_to_oai_params[] = {
  {"temperature", "temperature", SL_XL_NUM},
  {"top_p", "top_p", SL_XL_NUM},
  {"stream", "stream", SL_XL_BOOL},
};
const size_t sl__xlate_n_anth_to_oai_params = N(sl__xlate_anth_to_oai_params);

/* Responses -> chat: the scalars both spell the same way. */
const struct sl__xlate_param sl__xlate_resp_to_chat_params[] = {
  {"temperature", "temperature", SL_XL_NUM},
  {"top_p", "top_p", SL_XL_NUM},
  {"top_logprobs", "top_logprobs", SL_XL_INT},
};
const size_t sl__xlate_n_resp_to_chat_params = N(sl__xlate_resp_to_chat_params);

void sl__xlate_copy_params(struct sl_xl *x, const cJSON *src, cJSON *dst, const struct sl__xlate_param *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const cJSON *v = sl__xlate_get(src, t[i].from);
    double d;
    switch (t[i].kind) {
    case SL_XL_BOOL:
      if (cJSON_IsBool(v)) sl__xlate_add_bool(x, dst, t[i].to, cJSON_IsTrue(v));
      break;
    case SL_XL_NUM:
    case SL_XL_NUM01:
    case SL_XL_INT:
      if (!sl__xlate_getnum(src, t[i].from, &d)) break;
      if (t[i].kind == SL_XL_NUM01) d = d < 0 ? 0 : d > 1 ? 1 : d;
      if (t[i].kind == SL_XL_INT) d = (double)sl__xlate_getint(src, t[i].from);
      sl__xlate_add_num(x, dst, t[i].to, d);
      break;
    }
  }
}

/* ---- reasoning: OpenAI reasoning_effort <-> Anthropic thinking budget / effort ---- */

/* reasoning_effort -> thinking.budget_tokens (oai->anth). LiteLLM's budgets, so that a
 * LiteLLM user sees the same thinking; minimal is raised to 1024, Anthropic's minimum
 * budget (LiteLLM says 128, which Anthropic refuses). 0: no thinking. */
static const struct {
  const char *effort;
  int budget;
} effort_budgets[] = {
  {"none", 0}, {"minimal", 1024}, {"low", 1024}, {"medium", 2048}, {"high", 4096},
  {"xhigh", 8192}, {"max", 16384},
};

int sl__xlate_effort_budget(const char *effort) {
  for (size_t i = 0; effort && i < N(effort_budgets); i++)
    if (strcmp(effort_budgets[i].effort, effort) == 0) return effort_budgets[i].budget;
  return -1;
}

/* thinking.budget_tokens -> reasoning_effort (anth->oai): below `below` -> effort. */
static const struct {
  int64_t below;
  const char *effort;
} budget_efforts[] = {
  {2048, "low"}, {4096, "medium"}, {INT64_MAX, "high"},
};

const char *sl__xlate_budget_effort(int64_t budget) {
  for (size_t i = 0; i < N(budget_efforts); i++)
    if (budget < budget_efforts[i].below) return budget_efforts[i].effort;
  return "high";
}

/* Anthropic output_config.effort -> reasoning_effort (anth->oai). OpenAI's top level
 * is high on most reasoning models, so xhigh and max become high. */
static const struct {
  const char *anth, *oai;
} efforts[] = {
  {"low", "low"}, {"medium", "medium"}, {"high", "high"}, {"xhigh", "high"}, {"max", "high"},
};

const char *sl__xlate_anth_effort(const char *effort) {
  for (size_t i = 0; effort && i < N(efforts); i++)
    if (strcmp(efforts[i].anth, effort) == 0) return efforts[i].oai;
  return NULL;
}

/* ---- error types ---- */

/* By HTTP status: the type each format uses, and OpenAI's code. */
static const struct {
  int status;
  const char *anth, *oai, *oai_code;
} err_status[] = {
  {400, "invalid_request_error", "invalid_request_error", NULL},
  {401, "authentication_error", "authentication_error", NULL},
  {402, "billing_error", "insufficient_quota", "insufficient_quota"},
  {403, "permission_error", "permission_error", NULL},
  {404, "not_found_error", "invalid_request_error", NULL},
  {408, "timeout_error", "timeout_error", NULL},
  {413, "request_too_large", "invalid_request_error", NULL},
  {422, "invalid_request_error", "invalid_request_error", NULL},
  {429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"},
  {500, "api_error", "server_error", NULL},
  {502, "api_error", "upstream_error", NULL},
  {503, "overloaded_error", "service_unavailable", NULL},
  {504, "timeout_error", "upstream_error", NULL},
  {529, "overloaded_error", "service_unavailable", NULL},
};

/* Anthropic type -> OpenAI type and code. */
static const struct {
  const char *anth, *oai, *oai_code;
} err_a2o[] = {
  {"invalid_request_error", "invalid_request_error", NULL},
  {"authentication_error", "authentication_error", NULL},
  {"billing_error", "insufficient_quota", "insufficient_quota"},
  {"permission_error", "permission_error", NULL},
  {"not_found_error", "invalid_request_error", NULL},
  {"request_too_large", "invalid_request_error", NULL},
  {"rate_limit_error", "rate_limit_error", "rate_limit_exceeded"},
  {"api_error", "server_error", NULL},
  {"timeout_error", "timeout_error", NULL},
  {"overloaded_error", "service_unavailable", NULL},
};

/* OpenAI (and OpenAI-compatible servers') type -> Anthropic type. NULL: the type names a
 * class of failure and the status decides within it (lo..hi), `other` outside it: OpenAI
 * says invalid_request_error for 400, 404 and 413 alike, and server_error for its 500s and
 * for its overloaded 503s (Anthropic: api_error vs overloaded_error). */
static const struct {
  const char *oai, *anth;
  int lo, hi;
  const char *other;
} err_o2a[] = {
  {"invalid_request_error", NULL, 400, 499, "invalid_request_error"},
  {"authentication_error", "authentication_error", 0, 0, NULL},
  {"permission_error", "permission_error", 0, 0, NULL},
  {"insufficient_quota", "billing_error", 0, 0, NULL},
  {"rate_limit_error", "rate_limit_error", 0, 0, NULL},
  {"rate_limit_exceeded", "rate_limit_error", 0, 0, NULL},
  {"requests", "rate_limit_error", 0, 0, NULL}, /* OpenAI's 429 types */
  {"tokens", "rate_limit_error", 0, 0, NULL},
  {"server_error", NULL, 500, 599, "api_error"},
  {"upstream_error", NULL, 500, 599, "api_error"},
  {"service_unavailable", "overloaded_error", 0, 0, NULL},
  {"timeout_error", "timeout_error", 0, 0, NULL},
};

/* Words in an error message that mean the prompt did not fit (OpenAI code
 * context_length_exceeded), as worded by Anthropic, OpenAI and vLLM. */
static const char *const context_phrases[] = {
  "prompt is too long", "context length", "context window", "context limit", "too many tokens",
};

static bool is_anth_type(const char *t) {
  for (size_t i = 0; t && i < N(err_a2o); i++)
    if (strcmp(err_a2o[i].anth, t) == 0) return true;
  return false;
}

const char *sl_xlate_error_type(enum sl_wire wire, int status) {
  for (size_t i = 0; i < N(err_status); i++)
    if (err_status[i].status == status) return wire == SL_WIRE_ANTHROPIC ? err_status[i].anth : err_status[i].oai;
  if (status >= 400 && status < 500) return "invalid_request_error";
  return wire == SL_WIRE_ANTHROPIC ? "api_error" : "server_error";
}

const char *sl__xlate_err_type_anth(int status, const char *src) {
  for (size_t i = 0; src && i < N(err_o2a); i++)
    if (strcmp(err_o2a[i].oai, src) == 0) {
      if (err_o2a[i].anth) return err_o2a[i].anth;
      return status >= err_o2a[i].lo && status <= err_o2a[i].hi ? sl_xlate_error_type(SL_WIRE_ANTHROPIC, status)
                                                                : err_o2a[i].other;
    }
  if (is_anth_type(src)) return src;
  return sl_xlate_error_type(SL_WIRE_ANTHROPIC, status);
}

static bool has_phrase(const char *m) {
  for (size_t i = 0; m && i < N(context_phrases); i++)
    if (strcasestr(m, context_phrases[i])) return true;
  return false;
}

const char *sl__xlate_err_type_oai(int status, const char *src, const char *message, const char **code) {
  const char *type = NULL, *c = NULL;
  for (size_t i = 0; src && i < N(err_a2o); i++)
    if (strcmp(err_a2o[i].anth, src) == 0) {
      type = err_a2o[i].oai;
      c = err_a2o[i].oai_code;
      break;
    }
  if (!type && src && src[0]) type = src; /* already OpenAI's (or a compatible server's) word */
  if (!type) {
    type = sl_xlate_error_type(SL_WIRE_OPENAI, status);
    for (size_t i = 0; i < N(err_status); i++)
      if (err_status[i].status == status) c = err_status[i].oai_code;
  }
  if (!c && strcmp(type, "invalid_request_error") == 0 && has_phrase(message)) c = "context_length_exceeded";
  if (code) *code = c;
  return type;
}
