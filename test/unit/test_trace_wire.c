/* net/wire/traceparent.c and net/wire/otlp_json.c: W3C traceparent parsing and formatting,
 * the OTLP/HTTP JSON encoding (a golden request), and the OTLP headers list. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/wire/otlp_json.h"
#include "net/wire/traceparent.h"

static const char *TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void tp_valid(void) {
  struct sl_traceparent t;
  CHECK(sl_traceparent_parse(TP, strlen(TP), &t) == 0);
  CHECK(t.trace_id[0] == 0x4b && t.trace_id[15] == 0x36);
  CHECK(t.span_id[0] == 0x00 && t.span_id[1] == 0xf0 && t.span_id[7] == 0xb7);
  CHECK(t.flags == 1);
  char out[SL_TRACEPARENT_LEN + 1];
  sl_traceparent_format(t.trace_id, t.span_id, t.flags, out);
  CHECK_STR(out, TP);
  CHECK(sl_traceparent_parse("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\t", 58, &t) == 0);
  CHECK(t.flags == 0);
  /* a later version: read by its first fields, more after a '-' */
  const char *v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-abcd";
  CHECK(sl_traceparent_parse(v1, strlen(v1), &t) == 0);
}

static void tp_invalid(void) {
  struct sl_traceparent t;
  memset(&t, 0x5a, sizeof t);
  static const char *bad[] = {
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* v00 longer */
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper case */
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero span */
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* separator */
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  /* non-hex */
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* v01 extra without '-' */
      "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK(sl_traceparent_parse(bad[i], strlen(bad[i]), &t) == -EINVAL);
  CHECK(t.flags == 0x5a); /* untouched */
}

static void tracestate(void) {
  CHECK(sl_tracestate_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 39));
  CHECK(!sl_tracestate_ok("", 0));
  CHECK(!sl_tracestate_ok("a=b\r\nx: y", 10));
  char big[600];
  memset(big, 'a', sizeof big);
  CHECK(!sl_tracestate_ok(big, sizeof big));
  CHECK(sl_tracestate_ok(big, 512));
}

static void otlp_golden(void) {
  static const char *const reasons[] = {"stop", "length"};
  struct sl_otlp_attr a[] = {
      {.key = "gen_ai.operation.name", .type = SL_OTLP_STR, .s = "chat"},
      {.key = "gen_ai.usage.input_tokens", .type = SL_OTLP_INT, .i = 12},
      {.key = "sluice.router.score", .type = SL_OTLP_DOUBLE, .d = 0.25},
      {.key = "sluice.attempt.hedge", .type = SL_OTLP_BOOL, .b = true},
      {.key = "gen_ai.response.finish_reasons", .type = SL_OTLP_STR_ARRAY, .arr = reasons, .narr = 2},
      {.key = "q", .type = SL_OTLP_STR, .s = "a\"b\n", .slen = 4},
      {.key = "nan", .type = SL_OTLP_DOUBLE, .d = NAN},
  };
  struct sl_otlp_span s = {.name = "chat gpt-4o",
                           .kind = SL_OTLP_KIND_CLIENT,
                           .has_parent = true,
                           .trace_state = "k=v",
                           .start_ns = 1700000000000000000ull,
                           .end_ns = 1700000000123000000ull,
                           .status = SL_OTLP_STATUS_ERROR,
                           .status_message = "http_500",
                           .attrs = a,
                           .nattrs = sizeof a / sizeof a[0]};
  for (int i = 0; i < 16; i++) s.trace_id[i] = (uint8_t)(i + 1);
  for (int i = 0; i < 8; i++) s.span_id[i] = (uint8_t)(0xa0 + i), s.parent_id[i] = (uint8_t)(0xb0 + i);
  struct sl_buf spans = {0}, req = {0};
  sl_otlp_span_json(&spans, &s);
  struct sl_otlp_attr res[] = {{.key = "service.name", .type = SL_OTLP_STR, .s = "sluice"}};
  sl_otlp_request_json(&req, res, 1, "sluice", "0.1", spans.p, spans.n);
  sl_buf_append(&req, "", 1);
  const char *want =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
      "\"sluice\"}}]},"
      "\"scopeSpans\":[{\"scope\":{\"name\":\"sluice\",\"version\":\"0.1\"},\"spans\":["
      "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\",\"parentSpanId\":"
      "\"b0b1b2b3b4b5b6b7\","
      "\"traceState\":\"k=v\",\"name\":\"chat gpt-4o\",\"kind\":3,\"startTimeUnixNano\":\"1700000000000000000\","
      "\"endTimeUnixNano\":\"1700000000123000000\",\"attributes\":["
      "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
      "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"12\"}},"
      "{\"key\":\"sluice.router.score\",\"value\":{\"doubleValue\":0.25}},"
      "{\"key\":\"sluice.attempt.hedge\",\"value\":{\"boolValue\":true}},"
      "{\"key\":\"gen_ai.response.finish_reasons\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"stop\"},{"
      "\"stringValue\":\"length\"}]}}},"
      "{\"key\":\"q\",\"value\":{\"stringValue\":\"a\\\"b\\n\"}},"
      "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}}],"
      "\"status\":{\"code\":2,\"message\":\"http_500\"}}]}]}]}";
  CHECK(!req.oom);
  CHECK_STR(req.p, want);
  /* an empty batch is still a valid request */
  struct sl_buf e = {0};
  sl_otlp_request_json(&e, res, 1, "sluice", NULL, NULL, 0);
  sl_buf_append(&e, "", 1);
  CHECK(strstr(e.p, "\"scope\":{\"name\":\"sluice\"},\"spans\":[]}") != NULL);
  sl_buf_free(&spans);
  sl_buf_free(&req);
  sl_buf_free(&e);
}

static void headers_list(void) {
  struct sl_buf b = {0};
  const char *why = NULL;
  const char *h = " api-key=secret%20one , x-b = 2,,Authorization=Basic%20dXM6cHc%3D";
  CHECK(sl_otlp_headers_parse(h, strlen(h), &b, &why) == 3);
  const char *p = b.p;
  CHECK_STR(p, "api-key");
  p += strlen(p) + 1;
  CHECK_STR(p, "secret one");
  p += strlen(p) + 1;
  CHECK_STR(p, "x-b");
  p += strlen(p) + 1;
  CHECK_STR(p, "2");
  p += strlen(p) + 1;
  CHECK_STR(p, "Authorization");
  p += strlen(p) + 1;
  CHECK_STR(p, "Basic dXM6cHc=");
  sl_buf_free(&b);
  static const char *bad[] = {"novalue", "=v", "a b=c", "k=%0d%0aX: y", "k=%zz"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_buf x = {0};
    why = NULL;
    CHECK(sl_otlp_headers_parse(bad[i], strlen(bad[i]), &x, &why) == -EINVAL);
    CHECK(why != NULL);
    sl_buf_free(&x);
  }
  struct sl_buf z = {0};
  CHECK(sl_otlp_headers_parse("", 0, &z, &why) == 0);
  sl_buf_free(&z);
}

CHECK_MAIN(T(tp_valid), T(tp_invalid), T(tracestate), T(otlp_golden), T(headers_list))
