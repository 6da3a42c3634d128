/* The cascade's answer checks (see answer_check.h): the answer parsed once, each asked check a
 * function over its choices. To add a check: a function here and a case in sl_answer_check_run. */
#include "net/wire/answer_check.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/answer_math.h"
#include "net/wire/json_schema.h"

static const char *const names[SL_AC_N] = {"none", "length",    "empty",   "refusal",
                                           "json", "tool_args", "logprob", "math"};

const char *sl_answer_check_name(enum sl_answer_check c) { return (unsigned)c < SL_AC_N ? names[c] : "unknown"; }

int sl_answer_check_parse(const char *name, enum sl_answer_check *out) {
  if (!name) return -EINVAL;
  for (int i = 1; i < SL_AC_N; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (enum sl_answer_check)i;
      return 0;
    }
  if (strcmp(name, "tools") == 0) {
    *out = SL_AC_TOOLS;
    return 0;
  }
  return -EINVAL;
}

static const char *const builtin_refusals[] = {
    "i'm sorry, but i can't", "i'm sorry, but i cannot", "i am sorry, but i can",   "i'm sorry, i can't",
    "i'm sorry, i cannot",    "i apologize, but i can",  "i cannot help with",      "i can't help with",
    "i can't assist",         "i cannot assist",         "i'm unable to help",      "i am unable to help",
    "i'm unable to assist",   "i am unable to assist",   "i'm not able to help",    "i won't be able to help",
    "i cannot provide",       "i can't provide",         "i must decline",          "as an ai",
    "i cannot comply",        "i can't comply",          "i'm not able to provide",
};

const char *const *sl_answer_check_refusals(size_t *n) {
  *n = sizeof builtin_refusals / sizeof *builtin_refusals;
  return builtin_refusals;
}

static void why_set(char *why, size_t whylen, const char *fmt, const char *a) {
  if (why && whylen) snprintf(why, whylen, fmt, a ? a : "");
}

/* A choice's message content as one text: a string, or an array of {"type":"text","text"}
 * parts (the first text part). NULL when absent. */
static const char *content_of(const cJSON *msg, size_t *n) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
  if (cJSON_IsString(c)) {
    *n = strlen(c->valuestring);
    return c->valuestring;
  }
  if (cJSON_IsArray(c)) {
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
      if (cJSON_IsString(t)) {
        *n = strlen(t->valuestring);
        return t->valuestring;
      }
    }
  }
  return NULL;
}

static const cJSON *msg_of(const cJSON *choice) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(choice, "message");
  return cJSON_IsObject(m) ? m : NULL;
}

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static bool has_tool_calls(const cJSON *msg) {
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
  if (cJSON_GetArraySize(tc) > 0) return true;
  return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "function_call"));
}

static bool choice_empty(const cJSON *choice) {
  const cJSON *m = msg_of(choice);
  if (!m) return true;
  if (has_tool_calls(m)) return false;
  size_t n = 0;
  const char *t = content_of(m, &n);
  if (!t) return true;
  for (size_t i = 0; i < n; i++)
    if (!is_ws((unsigned char)t[i])) return false;
  return true;
}

static char fold(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Does phrase (any case) occur at t[i..n)? A right single quote (U+2019) or U+02BC in the text
 * matches an ASCII apostrophe in the phrase. */
static bool phrase_at(const char *t, size_t n, size_t i, const char *ph) {
  for (size_t k = 0; ph[k]; k++) {
    if (i >= n) return false;
    char p = fold(ph[k]);
    if (p == '\'' && i + 2 < n && (unsigned char)t[i] == 0xE2 && (unsigned char)t[i + 1] == 0x80 &&
        (unsigned char)t[i + 2] == 0x99) {
      i += 3;
      continue;
    }
    if (fold(t[i]) != p) return false;
    i++;
  }
  return true;
}

static const char *refusal_in(const char *t, size_t n, const char *const *ph, size_t nph) {
  if (n > SL_AC_REFUSAL_SCAN) n = SL_AC_REFUSAL_SCAN;
  for (size_t i = 0; i < n; i++) {
    if (i && !(is_ws((unsigned char)t[i - 1]) || t[i - 1] == '"' || t[i - 1] == '.' || t[i - 1] == '*')) continue;
    for (size_t k = 0; k < nph; k++)
      if (ph[k] && ph[k][0] && fold(t[i]) == fold(ph[k][0]) && phrase_at(t, n, i, ph[k])) return ph[k];
  }
  return NULL;
}

/* The request's response_format: 1 json_object, 2 json_schema (*schema may be NULL when the
 * request has none), 0 otherwise. */
static int json_wanted(const cJSON *req, const cJSON **schema) {
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req, "response_format");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(rf, "type");
  *schema = NULL;
  if (!cJSON_IsString(t)) return 0;
  if (strcmp(t->valuestring, "json_object") == 0) return 1;
  if (strcmp(t->valuestring, "json_schema") == 0) {
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(js, "schema");
    if (cJSON_IsObject(s) || cJSON_IsBool(s)) *schema = s;
    return 2;
  }
  return 0;
}

static bool check_json(const cJSON *req, const cJSON *choice, char *why, size_t whylen) {
  const cJSON *schema;
  int w = json_wanted(req, &schema);
  if (!w) return true;
  const cJSON *m = msg_of(choice);
  if (!m || has_tool_calls(m)) return true; /* a tool call is not the structured answer */
  size_t n = 0;
  const char *t = content_of(m, &n);
  if (!t) return true;
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(t, n, &end, 0);
  if (v) /* only whitespace may follow */
    for (const char *p = end; p < t + n; p++)
      if (!is_ws((unsigned char)*p)) {
        cJSON_Delete(v);
        v = NULL;
        break;
      }
  if (!v) {
    why_set(why, whylen, "content is not valid JSON%s", "");
    return false;
  }
  bool ok = true;
  if (w == 1 && !cJSON_IsObject(v)) {
    why_set(why, whylen, "content is not a JSON object%s", "");
    ok = false;
  } else if (w == 2 && schema) {
    char r[160];
    if (sl_json_schema_validate(schema, schema, v, r, sizeof r)) {
      why_set(why, whylen, "content violates the schema: %s", r);
      ok = false;
    }
  }
  cJSON_Delete(v);
  return ok;
}

/* The offered tool named name: its function object; NULL when not offered. */
static const cJSON *offered_tool(const cJSON *req, const char *name) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools"), *t;
  cJSON_ArrayForEach(t, tools) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
    if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0) return f;
  }
  return NULL;
}

static bool check_tools(const cJSON *req, const cJSON *choice, char *why, size_t whylen) {
  const cJSON *m = msg_of(choice);
  const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), *tc;
  bool offered_any = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(req, "tools")) > 0;
  cJSON_ArrayForEach(tc, tcs) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(f, "arguments");
    if (!cJSON_IsString(nm) || !nm->valuestring[0]) {
      why_set(why, whylen, "a tool call has no function name%s", "");
      return false;
    }
    const cJSON *tool = offered_any ? offered_tool(req, nm->valuestring) : NULL;
    if (offered_any && !tool) {
      why_set(why, whylen, "tool call to \"%.60s\", a tool the request did not offer", nm->valuestring);
      return false;
    }
    cJSON *a = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
    if (!cJSON_IsObject(a)) {
      cJSON_Delete(a);
      why_set(why, whylen, "the arguments of \"%.60s\" are not a JSON object", nm->valuestring);
      return false;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(tool, "parameters");
    char r[160];
    if (params && sl_json_schema_validate(params, params, a, r, sizeof r)) {
      cJSON_Delete(a);
      if (why && whylen) snprintf(why, whylen, "the arguments of \"%.40s\" violate its schema: %s", nm->valuestring, r);
      return false;
    }
    cJSON_Delete(a);
  }
  return true;
}

static bool check_logprob(const struct sl_answer_check_cfg *c, const cJSON *choices, char *why, size_t whylen) {
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "logprobs");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(lp, "content"), *t;
  double sum = 0;
  size_t n = 0;
  cJSON_ArrayForEach(t, content) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "logprob");
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
      sum += v->valuedouble;
      n++;
    }
  }
  if (!n) return true;
  double mean = sum / (double)n;
  double thr = c->min_mean_logprob;
  if (!(thr < 0) || !isfinite(thr)) thr = SL_AC_DEFAULT_MIN_MEAN_LOGPROB;
  if (mean >= thr) return true;
  if (why && whylen) snprintf(why, whylen, "mean token logprob %.3f below %.3f", mean, thr);
  return false;
}

/* The last user message's text (the question, for the math check); NULL when none. */
static const char *question_of(const cJSON *req, size_t *n) {
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages"), *m;
  const char *q = NULL;
  cJSON_ArrayForEach(m, msgs) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    size_t l;
    const char *t;
    if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0 && (t = content_of(m, &l))) {
      q = t;
      *n = l;
    }
  }
  return q;
}

static bool check_math(const cJSON *req, const cJSON *choice, char *why, size_t whylen) {
  const cJSON *m = msg_of(choice);
  size_t n = 0, qn = 0;
  const char *t = m ? content_of(m, &n) : NULL;
  if (!t) return true;
  const char *q = question_of(req, &qn);
  struct sl_answer_math r;
  sl_answer_math_analyze(t, n, q, qn, &r);
  if (!r.fails) return true;
  if (why && whylen) {
    size_t o = (size_t)snprintf(why, whylen, "maths answer:");
    for (unsigned b = 1; b <= SL_MATH_NON_INTEGER && o < whylen; b <<= 1)
      if (r.fails & b) o += (size_t)snprintf(why + o, whylen - o, " %s", sl_answer_math_fail_name(b));
  }
  return false;
}

enum sl_answer_check sl_answer_check_run(const struct sl_answer_check_cfg *c, const cJSON *req, const char *body,
                                         size_t len, char *why, size_t whylen) {
  if (why && whylen) why[0] = 0;
  if (!c || !c->mask) return SL_AC_NONE;
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  enum sl_answer_check res = SL_AC_NONE;
  if (!cJSON_IsArray(choices) || cJSON_GetArraySize(choices) == 0) {
    if (c->mask & (1u << SL_AC_EMPTY)) {
      res = SL_AC_EMPTY;
      why_set(why, whylen, "the answer has no choices%s", "");
    }
    cJSON_Delete(root);
    return res;
  }
  const char *const *ph = c->refusals;
  size_t nph = c->nrefusals;
  if (!ph) ph = sl_answer_check_refusals(&nph);
  for (int k = SL_AC_LENGTH; k < SL_AC_N && res == SL_AC_NONE; k++) {
    if (!(c->mask & (1u << k))) continue;
    if (k == SL_AC_LOGPROB) {
      if (!check_logprob(c, choices, why, whylen)) res = SL_AC_LOGPROB;
      continue;
    }
    const cJSON *ch;
    cJSON_ArrayForEach(ch, choices) {
      bool ok = true;
      switch (k) {
      case SL_AC_LENGTH: {
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        ok = !(cJSON_IsString(fr) && strcmp(fr->valuestring, "length") == 0);
        if (!ok) why_set(why, whylen, "finish_reason length: the answer was cut%s", "");
        break;
      }
      case SL_AC_EMPTY:
        ok = !choice_empty(ch);
        if (!ok) why_set(why, whylen, "empty answer%s", "");
        break;
      case SL_AC_REFUSAL: {
        const cJSON *m = msg_of(ch);
        size_t n = 0;
        const char *t = m ? content_of(m, &n) : NULL;
        const char *hit = t ? refusal_in(t, n, ph, nph) : NULL;
        ok = !hit;
        if (!ok) why_set(why, whylen, "refusal: \"%.60s\"", hit);
        break;
      }
      case SL_AC_JSON: ok = check_json(req, ch, why, whylen); break;
      case SL_AC_TOOLS: ok = check_tools(req, ch, why, whylen); break;
      case SL_AC_MATH: ok = check_math(req, ch, why, whylen); break;
      default: break;
      }
      if (!ok) {
        res = (enum sl_answer_check)k;
        break;
      }
    }
  }
  cJSON_Delete(root);
  return res;
}

int sl_answer_strip_logprobs(const char *body, size_t len, struct sl_buf *out) {
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return -EBADMSG;
  }
  cJSON *ch;
  cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  cJSON_ArrayForEach(ch, choices) if (cJSON_IsObject(ch)) cJSON_DeleteItemFromObjectCaseSensitive(ch, "logprobs");
  char *t = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!t) return -ENOMEM;
  sl_buf_puts(out, t);
  free(t);
  return out->oom ? -ENOMEM : 0;
}
