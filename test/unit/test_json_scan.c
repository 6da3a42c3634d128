/* json_scan: finding a top-level field's byte range without a tree. */
#include <errno.h>

#include "check.h"
#include "net/wire/json_scan.h"

static int find(const char *s, const char *key, size_t *a, size_t *b) {
  return sl_json_top_field(s, strlen(s), key, a, b);
}

static void finds_string_value(void) {
  const char *s = "{\"model\":\"gpt\",\"stream\":true}";
  size_t a, b;
  CHECK(find(s, "model", &a, &b) == 0);
  CHECK(b - a == 5 && memcmp(s + a, "\"gpt\"", 5) == 0);
  CHECK(find(s, "stream", &a, &b) == 0);
  CHECK(b - a == 4 && memcmp(s + a, "true", 4) == 0);
}

static void skips_nested_values(void) {
  const char *s = " { \"messages\" : [ {\"model\":\"inner\", \"x\":[1,2,{\"a\":\"}\"}]} ] ,\n \"model\" : \"outer\" } ";
  size_t a, b;
  CHECK(find(s, "model", &a, &b) == 0);
  CHECK(b - a == 7 && memcmp(s + a, "\"outer\"", 7) == 0);
}

static void escapes_inside_strings(void) {
  const char *s = "{\"p\":\"a \\\" \\\\ \\u0041 b\",\"model\":\"m\\\"x\"}";
  size_t a, b;
  CHECK(find(s, "model", &a, &b) == 0);
  CHECK(b - a == 6 && memcmp(s + a, "\"m\\\"x\"", 6) == 0);
}

static void absent_and_malformed(void) {
  size_t a, b;
  CHECK(find("{}", "model", &a, &b) == -ENOENT);
  CHECK(find("{\"a\":1}", "model", &a, &b) == -ENOENT);
  CHECK(find("[1,2]", "model", &a, &b) == -EINVAL);
  CHECK(find("{\"a\":1", "model", &a, &b) == -EINVAL);
  CHECK(find("{\"a\" 1}", "model", &a, &b) == -EINVAL);
  CHECK(find("{\"a\":[1,}", "model", &a, &b) == -EINVAL);
  CHECK(find("{\"a\":\"x", "model", &a, &b) == -EINVAL);
  CHECK(find("", "model", &a, &b) == -EINVAL);
  CHECK(find("{\"a\":[}]}", "model", &a, &b) == -EINVAL);
}

static void numbers_and_literals(void) {
  const char *s = "{\"t\":-1.5e3,\"n\":null,\"f\":false,\"model\":42}";
  size_t a, b;
  CHECK(find(s, "model", &a, &b) == 0);
  CHECK(b - a == 2 && memcmp(s + a, "42", 2) == 0);
}

static void key_prefix_does_not_match(void) {
  const char *s = "{\"models\":\"x\",\"model_x\":\"y\",\"model\":\"z\"}";
  size_t a, b;
  CHECK(find(s, "model", &a, &b) == 0);
  CHECK(memcmp(s + a, "\"z\"", 3) == 0);
}

static void member_ranges_cut_cleanly(void) {
  const char *cases[][2] = {
    {"{\"a\":1,\"timeout\":5,\"b\":2}", "{\"a\":1,\"b\":2}"},
    {"{\"a\":1, \"timeout\" : 5 }", "{\"a\":1 }"},
    {"{\"timeout\":5,\"b\":[1]}", "{\"b\":[1]}"},
    {"{ \"timeout\":{\"x\":1} }", "{  }"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *s = cases[i][0];
    size_t a, b;
    CHECK(sl_json_top_member(s, strlen(s), "timeout", &a, &b) == 0);
    char out[128];
    snprintf(out, sizeof out, "%.*s%s", (int)a, s, s + b);
    CHECK_STR(out, cases[i][1]);
  }
}

CHECK_MAIN(T(member_ranges_cut_cleanly), T(finds_string_value), T(skips_nested_values), T(escapes_inside_strings), T(absent_and_malformed),
           T(numbers_and_literals), T(key_prefix_does_not_match))
