/* net/wire/json_valid: the strict validator that decides whether a provider's 2xx body is
 * JSON at all (and of which type) before sluice passes it on or caches it. Tables of
 * accepted and refused texts, every prefix of a valid answer refused (truncation), the
 * depth limit, and agreement with cJSON on everything the validator accepts. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/wire/json_valid.h"

static enum sl_json_type v(const char *s) { return sl_json_validate(s, strlen(s)); }

static void accepts_rfc8259(void) {
  CHECK(v("{}") == SL_JSON_OBJECT);
  CHECK(v(" \r\n\t{ } \n") == SL_JSON_OBJECT);
  CHECK(v("[]") == SL_JSON_ARRAY);
  CHECK(v("\"a\\u00e9\\n\\\"\"") == SL_JSON_STRING);
  CHECK(v("-0.5e+10") == SL_JSON_NUMBER);
  CHECK(v("0") == SL_JSON_NUMBER);
  CHECK(v("true") == SL_JSON_LITERAL && v("false") == SL_JSON_LITERAL && v("null") == SL_JSON_LITERAL);
  CHECK(v("{\"choices\":[{\"message\":{\"content\":\"hi\",\"x\":[1,2.5,-3e2,true,null,{}]}}],\"usage\":{}}") ==
        SL_JSON_OBJECT);
  CHECK(v("[[[[{\"a\":[{}]}]]]]") == SL_JSON_ARRAY);
}

static void refuses_what_is_not_json(void) {
  const char *bad[] = {"",        " ",          "{",         "}",          "{\"a\"}",      "{\"a\":}",
                       "{\"a\":1,}", "[1,]",    "[,1]",      "{,}",        "{a:1}",        "{'a':1}",
                       "01",      "1.",         ".5",        "1e",         "-",            "+1",
                       "tru",     "nul",        "True",      "{} {}",      "{}x",          "\"\\x\"",
                       "\"\\u12g4\"", "\"abc",  "[1 2]",     "{\"a\":1 \"b\":2}", "<html>",  "[1:2]",
                       "{\"a\",1}", "NaN",      "Infinity",  "{\"a\":1}}", "[]]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (v(bad[i]) != SL_JSON_INVALID) printf("  accepted: %s\n", bad[i]);
    CHECK(v(bad[i]) == SL_JSON_INVALID);
  }
  char ctl[] = "\"a\x01\"";
  CHECK(v(ctl) == SL_JSON_INVALID);
  CHECK(sl_json_validate("{}\0", 3) == SL_JSON_INVALID); /* a NUL after the value */
}

static void every_truncation_refused(void) {
  const char *ok = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}],"
                   "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":12}}";
  size_t n = strlen(ok);
  CHECK(sl_json_validate(ok, n) == SL_JSON_OBJECT);
  for (size_t k = 0; k < n; k++) CHECK(sl_json_validate(ok, k) == SL_JSON_INVALID);
}

static void depth_limit(void) {
  size_t d = SL_JSON_VALID_MAX_DEPTH;
  char *s = malloc(2 * (d + 1) + 1);
  for (size_t i = 0; i < d; i++) s[i] = '[', s[2 * d - 1 - i] = ']';
  s[2 * d] = 0;
  CHECK(sl_json_validate(s, 2 * d) == SL_JSON_ARRAY);
  for (size_t i = 0; i <= d; i++) s[i] = '[', s[2 * d + 1 - i] = ']';
  s[2 * d + 2] = 0;
  CHECK(sl_json_validate(s, 2 * d + 2) == SL_JSON_INVALID);
  free(s);
}

/* Whatever the validator accepts, cJSON parses to a value of the same type. */
static void agrees_with_cjson(void) {
  const char *texts[] = {"{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u0041\"}", "[-1.5e-3,0,true]", "\"s\"", "12",
                         "{\"k\":{\"k\":{\"k\":[]}}}"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    enum sl_json_type t = v(texts[i]);
    cJSON *j = cJSON_Parse(texts[i]);
    CHECK(t != SL_JSON_INVALID && j);
    if (j) CHECK((t == SL_JSON_OBJECT) == cJSON_IsObject(j) && (t == SL_JSON_ARRAY) == cJSON_IsArray(j));
    cJSON_Delete(j);
  }
}

/* Members found in the same pass: top level only, first occurrence, exact ranges. */
static void members_in_one_pass(void) {
  const char *t = "{\"x\":{\"usage\":1},\"usage\": {\"prompt_tokens\":3} ,\"choices\":[],\"usage\":2,\"s\":\"u\"}";
  struct sl_json_member m[3] = {{"usage", 5, 0, 0, 0}, {"choices", 7, 0, 0, 0}, {"absent", 6, 0, 0, 0}};
  CHECK(sl_json_validate_members(t, strlen(t), m, 3) == SL_JSON_OBJECT);
  CHECK(m[0].found && m[1].found && !m[2].found);
  CHECK(m[0].ve - m[0].vs == strlen("{\"prompt_tokens\":3}") && memcmp(t + m[0].vs, "{\"prompt_tokens\":3}", m[0].ve - m[0].vs) == 0);
  CHECK(m[1].ve - m[1].vs == 2 && memcmp(t + m[1].vs, "[]", 2) == 0);
  const char *str = "{\"a\":\"v\",\"b\":-1.5e3}";
  struct sl_json_member k[2] = {{"a", 1, 0, 0, 0}, {"b", 1, 0, 0, 0}};
  CHECK(sl_json_validate_members(str, strlen(str), k, 2) == SL_JSON_OBJECT);
  CHECK(k[0].found && k[0].ve - k[0].vs == 3 && str[k[0].vs] == '"');
  CHECK(k[1].found && k[1].ve - k[1].vs == 6);
  /* invalid text reports invalid even when the members were seen */
  const char *bad = "{\"usage\":{},\"choices\":[}";
  CHECK(sl_json_validate_members(bad, strlen(bad), m, 2) == SL_JSON_INVALID);
}

int main(void) {
  static const struct check_case cases[] = {
      {"accepts_rfc8259", accepts_rfc8259},
      {"refuses_what_is_not_json", refuses_what_is_not_json},
      {"every_truncation_refused", every_truncation_refused},
      {"depth_limit", depth_limit},
      {"agrees_with_cjson", agrees_with_cjson},
      {"members_in_one_pass", members_in_one_pass},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
