/* json_bound: the pre-scan that refuses too many values or too deep nesting before
 * cJSON builds a tree. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "net/wire/json_bound.h"

static int scan(const char *s, int depth, int64_t values, struct sl_json_bound_seen *seen) {
  struct sl_json_bound b = {.max_depth = depth, .max_values = values};
  return sl_json_bound_scan(s, strlen(s), &b, seen);
}

static void counts_values_not_names(void) {
  struct sl_json_bound_seen seen;
  /* object, "gpt", array, object, "user", "hi \" ] } , x", 1.5e3, true, null = 9 values */
  const char *s = " {\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi \\\" ] } , x\"}],"
                  "\"t\":1.5e3,\"s\":true,\"n\":null}";
  CHECK(scan(s, 64, 100, &seen) == 0);
  CHECK(seen.values == 9);
  CHECK(seen.depth == 3);
  CHECK(scan(s, 64, 9, NULL) == 0);
  CHECK(scan(s, 64, 8, NULL) == -E2BIG);
  CHECK(scan(s, 3, 100, NULL) == 0);
  CHECK(scan(s, 2, 100, NULL) == -ELOOP);
  CHECK(scan("[]", 1, 1, &seen) == 0 && seen.values == 1);
  CHECK(scan("\"a\"", 1, 1, NULL) == 0);
  /* cJSON skips every byte up to 32 as whitespace; the count matches its tree (fuzz finding) */
  CHECK(scan("\x01\x1f[\x02" "1\x0b]\x10", 64, 100, &seen) == 0 && seen.values == 2 && seen.depth == 1);
}

static void many_tiny_values(void) {
  size_t n = 1000001;
  char *s = malloc(2 * n + 2);
  size_t k = 0;
  s[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    if (i) s[k++] = ',';
    s[k++] = '0';
  }
  s[k++] = ']';
  struct sl_json_bound b = {.max_depth = 64, .max_values = 1000000};
  struct sl_json_bound_seen seen;
  CHECK(sl_json_bound_scan(s, k, &b, &seen) == -E2BIG);
  CHECK(seen.values == 1000001); /* stops at the first value over the limit */
  cJSON *j = (cJSON *)1;
  CHECK(sl_json_bound_parse(s, k, &b, &j) == -E2BIG && j == NULL);
  b.max_values = 2000000;
  CHECK(sl_json_bound_parse(s, k, &b, &j) == 0 && cJSON_GetArraySize(j) == (int)n);
  cJSON_Delete(j);
  free(s);
}

static void deep_nesting(void) {
  char s[4001];
  for (int i = 0; i < 2000; i++) s[i] = '[', s[2000 + i] = ']';
  s[4000] = 0;
  struct sl_json_bound_seen seen;
  CHECK(scan(s, 64, 1000000, &seen) == -ELOOP && seen.depth == 65);
  /* beyond the scanner's own stack: still refused, never overflows */
  CHECK(scan(s, 5000, 1000000, NULL) == -ELOOP);
  CHECK(scan("{\"a\":{\"b\":[1]}}", 3, 10, NULL) == 0);
}

static void malformed_is_left_to_cjson(void) {
  struct sl_json_bound b = {.max_depth = 64, .max_values = 100};
  cJSON *j;
  CHECK(sl_json_bound_parse("{\"a\":", 5, &b, &j) == -EINVAL && j == NULL);
  CHECK(sl_json_bound_parse("\"unterminated", 13, &b, &j) == -EINVAL);
  CHECK(sl_json_bound_parse("]]]]", 4, &b, &j) == -EINVAL);
  CHECK(sl_json_bound_parse("{\"a\":[1,2]}", 11, &b, &j) == 0 && j);
  cJSON_Delete(j);
}

CHECK_MAIN(T(counts_values_not_names), T(many_tiny_values), T(deep_nesting), T(malformed_is_left_to_cjson))
