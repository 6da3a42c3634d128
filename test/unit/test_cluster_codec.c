/* Cluster mode's small formats: the "<ns>:health" message (core/cluster_health.h) and
 * the Redis cache tier's value (core/cluster_cache.h): round trips, and each kind of
 * malformed input refused. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "core/cluster_cache.h"
#include "core/cluster_health.h"
#include "net/base/buf.h"

static void health_cool_round_trip(void) {
  struct sl_health_msg m = {.type = SL_HMSG_COOL, .remaining_ms = 2950, .len_ms = 3000, .why = SL_FAIL_RATE_LIMIT};
  strcpy(m.dep, "storm \"1\"");
  strcpy(m.from, "host-a:4000");
  char out[512];
  int n = sl_cluster_health_msg_encode(&m, out, sizeof out);
  CHECK(n > 0 && (size_t)n == strlen(out));
  CHECK(strstr(out, "\"why\":\"rate_limit\"") != NULL);
  struct sl_health_msg d;
  CHECK(sl_cluster_health_msg_decode(out, (size_t)n, &d) == 0);
  CHECK(d.type == SL_HMSG_COOL && d.remaining_ms == 2950 && d.len_ms == 3000 && d.why == SL_FAIL_RATE_LIMIT);
  CHECK_STR(d.dep, "storm \"1\"");
  CHECK_STR(d.from, "host-a:4000");
}

static void health_up_round_trip(void) {
  struct sl_health_msg m = {.type = SL_HMSG_UP};
  strcpy(m.dep, "d1");
  strcpy(m.from, "h");
  char out[256];
  int n = sl_cluster_health_msg_encode(&m, out, sizeof out);
  CHECK(n > 0);
  CHECK(strstr(out, "\"ms\"") == NULL);
  struct sl_health_msg d;
  CHECK(sl_cluster_health_msg_decode(out, (size_t)n, &d) == 0);
  CHECK(d.type == SL_HMSG_UP);
  CHECK_STR(d.dep, "d1");
  char tiny[8];
  CHECK(sl_cluster_health_msg_encode(&m, tiny, sizeof tiny) == -ENOSPC);
  struct sl_health_msg bad = {.type = SL_HMSG_UP}; /* no deployment id */
  CHECK(sl_cluster_health_msg_encode(&bad, out, sizeof out) == -EINVAL);
}

static int dec(const char *s) {
  struct sl_health_msg m;
  return sl_cluster_health_msg_decode(s, strlen(s), &m);
}

static void health_refuses_malformed(void) {
  CHECK(dec("{\"v\":1,\"t\":\"up\",\"dep\":\"d\",\"from\":\"h\"}") == 0);
  CHECK(dec("") == -EINVAL);
  CHECK(dec("[]") == -EINVAL);
  CHECK(dec("{\"v\":2,\"t\":\"up\",\"dep\":\"d\",\"from\":\"h\"}") == -EINVAL);      /* version */
  CHECK(dec("{\"v\":1,\"t\":\"down\",\"dep\":\"d\",\"from\":\"h\"}") == -EINVAL);    /* type */
  CHECK(dec("{\"v\":1,\"t\":\"up\",\"dep\":\"\",\"from\":\"h\"}") == -EINVAL);       /* empty id */
  CHECK(dec("{\"v\":1,\"t\":\"up\",\"dep\":\"d\"}") == -EINVAL);                     /* no origin */
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"from\":\"h\"}") == -EINVAL);    /* no times */
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"ms\":-1,\"len\":1,\"why\":\"error\",\"from\":\"h\"}") == -EINVAL);
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"ms\":1.5,\"len\":1,\"why\":\"error\",\"from\":\"h\"}") == -EINVAL);
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"ms\":1e300,\"len\":1,\"why\":\"error\",\"from\":\"h\"}") == -EINVAL);
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"ms\":1,\"len\":1,\"why\":\"bored\",\"from\":\"h\"}") == -EINVAL);
  CHECK(dec("{\"v\":1,\"t\":\"cool\",\"dep\":\"d\",\"ms\":1,\"len\":1,\"why\":\"auth\",\"from\":\"h\"}") == 0);
  char big[600];
  memset(big, 'x', sizeof big);
  memcpy(big, "{\"v\":1,\"t\":\"up\",\"from\":\"h\",\"dep\":\"", 34);
  memcpy(big + sizeof big - 3, "\"}", 3);
  CHECK(dec(big) == -EINVAL); /* an id longer than SL_HMSG_ID_MAX */
}

static void value_round_trip(void) {
  struct sl_buf b = {0};
  const char *json = "{\"id\":\"chatcmpl-1\",\"choices\":[]}";
  CHECK(sl_cluster_cache_value_encode(1700000000, 1700003600, json, strlen(json), &b) == 0);
  int64_t s = 0, e = 0;
  size_t off = 0;
  CHECK(sl_cluster_cache_value_decode(b.p, b.n, &s, &e, &off) == 0);
  CHECK(s == 1700000000 && e == 1700003600);
  CHECK(b.n - off == strlen(json) && memcmp(b.p + off, json, b.n - off) == 0);
  CHECK(sl_cluster_cache_value_encode(10, 9, json, 1, &b) == -EINVAL);
  sl_buf_free(&b);
}

static int vdec(const char *s) {
  int64_t a, b;
  size_t off;
  return sl_cluster_cache_value_decode(s, strlen(s), &a, &b, &off);
}

static void value_refuses_malformed(void) {
  CHECK(vdec("SLR1 1 2\n") == 0); /* an empty body is still a value */
  CHECK(vdec("SLR1 1 2") == -EINVAL);
  CHECK(vdec("SLR2 1 2\n{}") == -EINVAL);
  CHECK(vdec("SLR1 2 1\n{}") == -EINVAL);   /* ends before it was stored */
  CHECK(vdec("SLR1 -1 2\n{}") == -EINVAL);
  CHECK(vdec("SLR1 01 2\n{}") == -EINVAL);
  CHECK(vdec("SLR1  1 2\n{}") == -EINVAL);
  CHECK(vdec("SLR1 1 9999999999999999999\n{}") == -EINVAL); /* 19 digits */
  CHECK(vdec("{\"id\":1}") == -EINVAL);     /* a bare answer (not ours) */
  CHECK(vdec("") == -EINVAL);
}

CHECK_MAIN(T(health_cool_round_trip), T(health_up_round_trip), T(health_refuses_malformed), T(value_round_trip),
           T(value_refuses_malformed))
