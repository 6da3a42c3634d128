/* Unit tests for the JSON-Schema subset validator (net/wire/json_schema.h): each keyword
 * accepting and refusing, $ref, unknown keywords ignored, and the depth and work bounds. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_schema.h"
#include "test/unit/check.h"

static char why[200];

/* 0 valid, -1 invalid, -9 when a text does not parse (a broken test) */
static int v(const char *schema, const char *value) {
  cJSON *s = cJSON_Parse(schema), *x = cJSON_Parse(value);
  int r = -9;
  if (s && x) r = sl_json_schema_validate(s, NULL, x, why, sizeof why);
  cJSON_Delete(s);
  cJSON_Delete(x);
  return r;
}

static void type_kw(void) {
  CHECK(v("{\"type\":\"string\"}", "\"a\"") == 0);
  CHECK(v("{\"type\":\"string\"}", "1") == -1);
  CHECK(strstr(why, "type") != NULL);
  CHECK(v("{\"type\":\"integer\"}", "3") == 0);
  CHECK(v("{\"type\":\"integer\"}", "3.5") == -1);
  CHECK(v("{\"type\":\"number\"}", "3.5") == 0);
  CHECK(v("{\"type\":\"boolean\"}", "false") == 0);
  CHECK(v("{\"type\":\"null\"}", "null") == 0);
  CHECK(v("{\"type\":\"object\"}", "[]") == -1);
  CHECK(v("{\"type\":\"array\"}", "[]") == 0);
  CHECK(v("{\"type\":[\"string\",\"null\"]}", "null") == 0);
  CHECK(v("{\"type\":[\"string\",\"null\"]}", "2") == -1);
  CHECK(v("true", "2") == 0);
  CHECK(v("false", "2") == -1);
}

static void object_kws(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},"
                  "\"required\":[\"a\"],\"additionalProperties\":false}";
  CHECK(v(s, "{\"a\":1,\"b\":\"x\"}") == 0);
  CHECK(v(s, "{\"b\":\"x\"}") == -1);
  CHECK(strstr(why, "required property \"a\"") != NULL);
  CHECK(v(s, "{\"a\":1,\"c\":2}") == -1);
  CHECK(strstr(why, "additional property \"c\"") != NULL);
  CHECK(v(s, "{\"a\":\"1\"}") == -1);
  CHECK(strstr(why, "a: type") != NULL);
  /* additionalProperties as a schema; absent allows anything */
  CHECK(v("{\"additionalProperties\":{\"type\":\"number\"}}", "{\"x\":1}") == 0);
  CHECK(v("{\"additionalProperties\":{\"type\":\"number\"}}", "{\"x\":\"1\"}") == -1);
  CHECK(v("{\"properties\":{\"a\":{\"type\":\"number\"}}}", "{\"z\":\"anything\"}") == 0);
}

static void array_kws(void) {
  const char *s = "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":0},\"minItems\":1,\"maxItems\":3}";
  CHECK(v(s, "[0,1,2]") == 0);
  CHECK(v(s, "[]") == -1 && strstr(why, "minItems"));
  CHECK(v(s, "[1,2,3,4]") == -1 && strstr(why, "maxItems"));
  CHECK(v(s, "[1,-1]") == -1 && strstr(why, "[1]: minimum"));
  CHECK(v("{\"items\":{\"properties\":{\"n\":{\"type\":\"string\"}}}}", "[{\"n\":\"x\"},{\"n\":2}]") == -1);
  CHECK(strstr(why, "[1].n: type") != NULL);
}

static void value_kws(void) {
  CHECK(v("{\"enum\":[\"red\",\"green\",1]}", "\"green\"") == 0);
  CHECK(v("{\"enum\":[\"red\",\"green\",1]}", "1.0") == 0);
  CHECK(v("{\"enum\":[\"red\",\"green\"]}", "\"blue\"") == -1 && strstr(why, "enum"));
  CHECK(v("{\"const\":{\"a\":[1,2]}}", "{\"a\":[1,2]}") == 0);
  CHECK(v("{\"const\":{\"a\":[1,2]}}", "{\"a\":[2,1]}") == -1 && strstr(why, "const"));
  CHECK(v("{\"minLength\":2,\"maxLength\":3}", "\"ab\"") == 0);
  CHECK(v("{\"minLength\":2}", "\"a\"") == -1 && strstr(why, "minLength"));
  CHECK(v("{\"maxLength\":3}", "\"abcd\"") == -1 && strstr(why, "maxLength"));
  CHECK(v("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"") == 0); /* code points, not bytes */
  CHECK(v("{\"minimum\":1,\"maximum\":2}", "1") == 0);
  CHECK(v("{\"maximum\":2}", "2.5") == -1 && strstr(why, "maximum"));
  CHECK(v("{\"exclusiveMinimum\":1}", "1") == -1);
  CHECK(v("{\"exclusiveMaximum\":1}", "0.5") == 0);
  CHECK(v("{\"minimum\":5}", "\"a\"") == 0); /* numeric keywords ignore other types */
}

static void combinators(void) {
  const char *any = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}";
  CHECK(v(any, "1") == 0);
  CHECK(v(any, "1.5") == -1 && strstr(why, "anyOf"));
  const char *one = "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}";
  CHECK(v(one, "1.5") == 0);
  CHECK(v(one, "2") == -1 && strstr(why, "more than one"));
  CHECK(v(one, "\"x\"") == -1);
  CHECK(v("{\"allOf\":[{\"minimum\":1},{\"maximum\":3}]}", "4") == -1);
  CHECK(v("{\"allOf\":[{\"minimum\":1},{\"maximum\":3}]}", "2") == 0);
}

static void refs(void) {
  const char *s =
      "{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"definitions\":{\"name\":{\"type\":\"string\"}},"
      "\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"},\"s\":{\"$ref\":\"#/definitions/name\"}}}";
  CHECK(v(s, "{\"n\":2,\"s\":\"x\"}") == 0);
  CHECK(v(s, "{\"n\":0}") == -1 && strstr(why, "n: minimum"));
  CHECK(v(s, "{\"s\":3}") == -1);
  CHECK(v("{\"$ref\":\"#/$defs/missing\"}", "1") == -1 && strstr(why, "$ref"));
  /* a recursive schema (a tree) */
  const char *tree = "{\"$defs\":{\"t\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":"
                     "{\"$ref\":\"#/$defs/t\"}}},\"additionalProperties\":false}},\"$ref\":\"#/$defs/t\"}";
  CHECK(v(tree, "{\"kids\":[{\"kids\":[]},{}]}") == 0);
  CHECK(v(tree, "{\"kids\":[{\"kid\":[]}]}") == -1);
  /* escapes in the pointer */
  CHECK(v("{\"$defs\":{\"a/b\":{\"type\":\"null\"}},\"$ref\":\"#/$defs/a~1b\"}", "null") == 0);
}

static void unknown_ignored(void) {
  CHECK(v("{\"type\":\"string\",\"format\":\"email\",\"pattern\":\"^z\",\"x-vendor\":1}", "\"abc\"") == 0);
  CHECK(v("{\"type\":\"string\"}", "\"abc\"") == 0);
  CHECK(v("[1,2]", "3") == 0); /* not a schema: accepts */
}

static void bounds(void) {
  /* an endless $ref loop and an exponential anyOf both end as violations, quickly */
  CHECK(v("{\"$ref\":\"#\"}", "1") == -1 && strstr(why, "too deep"));
  CHECK(v("{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}", "1") == -1);
  /* nesting of values deeper than the limit */
  char sch[64], val[400];
  snprintf(sch, sizeof sch, "{\"items\":{\"$ref\":\"#\"}}");
  size_t k = 0;
  for (int i = 0; i < 100; i++) val[k++] = '[';
  for (int i = 0; i < 100; i++) val[k++] = ']';
  val[k] = 0;
  CHECK(v(sch, val) == -1);
  CHECK(v(sch, "[[[]]]") == 0);
}

int main(void) {
  static const struct check_case cases[] = {
      {"type", type_kw},
      {"object_kws", object_kws},
      {"array_kws", array_kws},
      {"value_kws", value_kws},
      {"combinators", combinators},
      {"refs", refs},
      {"unknown_ignored", unknown_ignored},
      {"bounds", bounds},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
