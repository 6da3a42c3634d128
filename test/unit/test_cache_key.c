/* net/wire/cache_key: the canonical form, which fields are in the key, SHA-256, and the
 * per-request cache controls from the body and the headers. */
#include <errno.h>
#include <stdlib.h>

#include <mbedtls/sha256.h>

#include "check.h"
#include "net/wire/cache_key.h"

static int key_of(const char *group, const char *ns, const char *body, uint8_t out[32]) {
  return sl_cache_key(group, ns, "chat/completions", body, strlen(body), out);
}

static bool same(const char *a, const char *b) {
  uint8_t ka[32], kb[32];
  if (key_of("g", "", a, ka) || key_of("g", "", b, kb)) return false;
  return memcmp(ka, kb, 32) == 0;
}

static bool differ(const char *a, const char *b) {
  uint8_t ka[32], kb[32];
  if (key_of("g", "", a, ka) || key_of("g", "", b, kb)) return false;
  return memcmp(ka, kb, 32) != 0;
}

static bool canon_is(const char *in, const char *want) {
  struct sl_buf b = {0};
  int rc = sl_cache_key_canonical(in, strlen(in), &b);
  bool ok = rc == 0 && b.p && strcmp(b.p, want) == 0;
  if (!ok) printf("  canonical(%s) = %s (rc %d), want %s\n", in, b.p ? b.p : "", rc, want);
  sl_buf_free(&b);
  return ok;
}

static int canon_rc(const char *in) {
  struct sl_buf b = {0};
  int rc = sl_cache_key_canonical(in, strlen(in), &b);
  sl_buf_free(&b);
  return rc;
}

static void sha256_known_vectors(void) {
  uint8_t out[32];
  char hex[65];
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256((const unsigned char *)"abc", 3, out, 0);
#else
  mbedtls_sha256_ret((const unsigned char *)"abc", 3, out, 0);
#endif
  sl_cache_key_hex(out, hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256((const unsigned char *)"", 0, out, 0);
#else
  mbedtls_sha256_ret((const unsigned char *)"", 0, out, 0);
#endif
  sl_cache_key_hex(out, hex);
  CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* The key is SHA-256 of the documented preimage. */
static void key_is_sha256_of_preimage(void) {
  const char *body = "{\"b\":1, \"a\":[true,null]}";
  uint8_t k[32], want[32];
  CHECK(sl_cache_key("grp", "ns", "chat/completions", body, strlen(body), k) == 0);
  struct sl_buf pre = {0};
  sl_buf_puts(&pre, "sluice-cache-key-v1\n");
  const char *parts[] = {"grp", "ns", "chat/completions"};
  for (int i = 0; i < 3; i++) {
    unsigned char be[8] = {0, 0, 0, 0, 0, 0, 0, (unsigned char)strlen(parts[i])};
    sl_buf_append(&pre, be, 8);
    sl_buf_puts(&pre, parts[i]);
  }
  sl_buf_puts(&pre, "{\"a\":[true,null],\"b\":1}");
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256((const unsigned char *)pre.p, pre.n, want, 0);
#else
  mbedtls_sha256_ret((const unsigned char *)pre.p, pre.n, want, 0);
#endif
  CHECK(memcmp(k, want, 32) == 0);
  sl_buf_free(&pre);
}

static void canonical_form(void) {
  CHECK(canon_is("{}", "{}"));
  CHECK(canon_is(" { \"b\" : 2 ,\n\t\"a\" : [ 1 , {\"z\":null,\"y\":false} ] } ", "{\"a\":[1,{\"y\":false,\"z\":null}],\"b\":2}"));
  /* numbers by exact decimal value */
  CHECK(canon_is("{\"n\":[1,1.0,1e0,10e-1,0.10E1]}", "{\"n\":[1,1,1,1,1]}"));
  CHECK(canon_is("{\"n\":[0.5,-0.0,0,100,1.5e3,-2.50,0.007]}", "{\"n\":[5e-1,0,0,1e2,15e2,-25e-1,7e-3]}"));
  CHECK(canon_is("{\"seed\":12345678901234567891}", "{\"seed\":12345678901234567891}"));
  /* strings: escapes decoded, then one way of writing each byte */
  CHECK(canon_is("{\"s\":\"\\u00e9\\/\\u0041\\n\\u001f\\\"\"}", "{\"s\":\"\xc3\xa9/A\\n\\u001f\\\"\"}"));
  CHECK(canon_is("{\"s\":\"\\ud83d\\ude00\"}", "{\"s\":\"\xf0\x9f\x98\x80\"}"));
  CHECK(canon_is("{\"s\":\"\\ud800x\"}", "{\"s\":\"\xed\xa0\x80x\"}")); /* lone surrogate */
  /* keys sorted by bytes, after decoding; only top-level fields are ever left out */
  CHECK(canon_is("{\"\\u0062\":1,\"a\":2,\"ab\":3,\"B\":4}", "{\"B\":4,\"a\":2,\"ab\":3,\"b\":1}"));
  CHECK(canon_is("{\"model\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u\","
                 "\"metadata\":{},\"cache\":{\"ttl\":5},\"caching\":true,\"m\":{\"user\":1,\"model\":2}}",
                 "{\"m\":{\"model\":2,\"user\":1}}"));
  /* duplicates keep their order */
  CHECK(canon_is("{\"a\":{\"x\":2,\"x\":1}}", "{\"a\":{\"x\":2,\"x\":1}}"));
}

static void malformed_is_not_cacheable(void) {
  CHECK(canon_rc("[1,2]") == -EINVAL);
  CHECK(canon_rc("\"x\"") == -EINVAL);
  CHECK(canon_rc("") == -EINVAL);
  CHECK(canon_rc("{") == -EINVAL);
  CHECK(canon_rc("{\"a\":1} x") == -EINVAL);
  CHECK(canon_rc("{\"a\":01}") == -EINVAL);
  CHECK(canon_rc("{\"a\":1.}") == -EINVAL);
  CHECK(canon_rc("{\"a\":.5}") == -EINVAL);
  CHECK(canon_rc("{\"a\":1e}") == -EINVAL);
  CHECK(canon_rc("{\"a\":1e99999999999999999}") == -EINVAL);
  CHECK(canon_rc("{\"a\":tru}") == -EINVAL);
  CHECK(canon_rc("{\"a\":\"\\x\"}") == -EINVAL);
  CHECK(canon_rc("{\"a\":\"\\u12\"}") == -EINVAL);
  CHECK(canon_rc("{\"a\":\"tab\there\"}") == -EINVAL);
  CHECK(canon_rc("{\"a\":[1,]}") == -EINVAL);
  CHECK(canon_rc("{\"a\":1,}") == -EINVAL);
  CHECK(canon_rc("{a:1}") == -EINVAL);
  /* nesting */
  char deep[400];
  size_t n = 0;
  n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"a\":");
  for (int i = 0; i < 70; i++) deep[n++] = '[';
  for (int i = 0; i < 70; i++) deep[n++] = ']';
  deep[n++] = '}';
  deep[n] = 0;
  CHECK(canon_rc(deep) == -EINVAL);
  uint8_t k[32];
  CHECK(key_of("g", "", "not json", k) == -EINVAL);
}

static const char *BASE =
    "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2}";

static void same_request_same_key(void) {
  /* key order, whitespace */
  CHECK(same(BASE, "{ \"temperature\" : 0.2,\n \"messages\" : [ { \"content\":\"hi\", \"role\":\"user\" } ], \"model\":\"gpt\" }"));
  /* user, stream, stream_options, metadata, cache controls */
  CHECK(same(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2,"
                   "\"user\":\"alice\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                   "\"metadata\":{\"trace\":\"x\"},\"cache\":{\"no-cache\":true}}"));
  /* sluice's own request options (region, router): who answers, not what is asked */
  CHECK(same(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2,"
                   "\"sluice\":{\"region\":{\"permitted\":[\"eu-a\"]}}}"));
  /* the model value: the group is hashed instead (aliases share entries) */
  CHECK(same(BASE, "{\"model\":\"gpt-alias\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2}"));
  /* 0.2 written otherwise */
  CHECK(same(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":2e-1}"));
  CHECK(same("{\"a\":\"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}"));
  CHECK(same("{\"max_tokens\":100}", "{\"max_tokens\":100.0}"));
}

static void different_request_different_key(void) {
  /* unknown provider fields are in the key */
  CHECK(differ(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2,\"top_k\":40}"));
  CHECK(differ(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2,"
                     "\"options\":{\"num_ctx\":4096}}"));
  CHECK(differ("{\"num_ctx\":4096}", "{\"num_ctx\":8192}"));
  CHECK(differ("{\"top_k\":40}", "{\"top_k\":41}"));
  /* a nested difference */
  CHECK(differ(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}],\"temperature\":0.2}"));
  CHECK(differ(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}],\"temperature\":0.2}"));
  /* a field named like an excluded one, but nested */
  CHECK(differ(BASE, "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"user\":\"x\"}],\"temperature\":0.2}"));
  /* array order matters */
  CHECK(differ("{\"stop\":[\"a\",\"b\"]}", "{\"stop\":[\"b\",\"a\"]}"));
  /* types matter */
  CHECK(differ("{\"n\":1}", "{\"n\":\"1\"}"));
  CHECK(differ("{\"n\":true}", "{\"n\":1}"));
  CHECK(differ("{\"n\":null}", "{}"));
  /* numbers a double cannot tell apart */
  CHECK(differ("{\"seed\":12345678901234567890}", "{\"seed\":12345678901234567891}"));
  CHECK(differ("{\"t\":0.1}", "{\"t\":0.10000000000000001}"));
  /* group, namespace, endpoint */
  uint8_t a[32], b[32];
  CHECK(key_of("g1", "", BASE, a) == 0 && key_of("g2", "", BASE, b) == 0 && memcmp(a, b, 32) != 0);
  CHECK(key_of("g", "ns1", BASE, a) == 0 && key_of("g", "ns2", BASE, b) == 0 && memcmp(a, b, 32) != 0);
  CHECK(key_of("g", "", BASE, a) == 0 && key_of("g", NULL, BASE, b) == 0 && memcmp(a, b, 32) == 0);
  CHECK(sl_cache_key("g", "", "chat/completions", BASE, strlen(BASE), a) == 0 &&
        sl_cache_key("g", "", "embeddings", BASE, strlen(BASE), b) == 0 && memcmp(a, b, 32) != 0);
  /* lengths are prefixed: moving a byte between group and namespace changes the key */
  CHECK(key_of("ab", "c", BASE, a) == 0 && key_of("a", "bc", BASE, b) == 0 && memcmp(a, b, 32) != 0);
}

static void controls_from_body(void) {
  struct sl_cache_control cc;
  sl_cache_control_init(&cc);
  CHECK(cc.ttl_s == -1 && cc.max_age_s == -1 && !cc.no_cache && !cc.no_store && !cc.namespace_);
  cJSON *b = cJSON_Parse("{\"model\":\"m\",\"cache\":{\"no-cache\":true,\"ttl\":300,\"s-maxage\":60,\"namespace\":\"team-a\"}}");
  CHECK(sl_cache_control_from_body(b, &cc) == 0);
  CHECK(cc.no_cache && !cc.no_store && cc.ttl_s == 300 && cc.max_age_s == 60);
  CHECK(cc.namespace_ && strcmp(cc.namespace_, "team-a") == 0);
  cJSON_Delete(b);
  sl_cache_control_init(&cc);
  b = cJSON_Parse("{\"cache\":{\"no-store\":true}}");
  CHECK(sl_cache_control_from_body(b, &cc) == 0 && cc.no_store && !cc.no_cache);
  cJSON_Delete(b);
  sl_cache_control_init(&cc);
  b = cJSON_Parse("{\"cache\":{\"ttl\":\"soon\",\"no-store\":true}}");
  CHECK(sl_cache_control_from_body(b, &cc) == -EINVAL && cc.no_store && cc.ttl_s == -1);
  cJSON_Delete(b);
  sl_cache_control_init(&cc);
  b = cJSON_Parse("{\"cache\":5}");
  CHECK(sl_cache_control_from_body(b, &cc) == -EINVAL);
  cJSON_Delete(b);
  b = cJSON_Parse("{\"messages\":[]}");
  CHECK(sl_cache_control_from_body(b, &cc) == 0);
  cJSON_Delete(b);
}

#define H(n, v) {SL_SLICE_LIT(n), SL_SLICE_LIT(v)}

static void controls_from_headers(void) {
  struct sl_cache_control cc;
  sl_cache_control_init(&cc);
  struct sl_header h1[] = {H("Content-Type", "application/json"), H("X-Sluice-Cache", "no-cache"),
                           H("x-sluice-cache-ttl", "120")};
  CHECK(sl_cache_control_from_headers(h1, 3, &cc) == 0);
  CHECK(cc.no_cache && !cc.no_store && cc.ttl_s == 120 && cc.max_age_s == -1);

  sl_cache_control_init(&cc);
  struct sl_header h2[] = {H("x-sluice-cache", "No-Store")};
  CHECK(sl_cache_control_from_headers(h2, 1, &cc) == 0 && cc.no_store);

  sl_cache_control_init(&cc);
  struct sl_header h3[] = {H("Cache-Control", "private, max-age=600")};
  CHECK(sl_cache_control_from_headers(h3, 1, &cc) == 0);
  CHECK(!cc.no_cache && cc.max_age_s == 600 && cc.ttl_s == 600);

  sl_cache_control_init(&cc);
  cc.ttl_s = 30; /* from the body: an explicit ttl is not replaced by max-age */
  struct sl_header h4[] = {H("cache-control", "max-age=0")};
  CHECK(sl_cache_control_from_headers(h4, 1, &cc) == 0);
  CHECK(cc.no_cache && cc.max_age_s == 0 && cc.ttl_s == 30);

  sl_cache_control_init(&cc);
  struct sl_header h5[] = {H("cache-control", "no-store,no-cache"), H("x-sluice-cache-ttl", "soon")};
  CHECK(sl_cache_control_from_headers(h5, 2, &cc) == -EINVAL);
  CHECK(cc.no_store && cc.no_cache && cc.ttl_s == -1);

  sl_cache_control_init(&cc);
  struct sl_header h6[] = {H("x-sluice-cache", "sometimes"), H("cache-control", "max-age=abc")};
  CHECK(sl_cache_control_from_headers(h6, 2, &cc) == -EINVAL);
  CHECK(!cc.no_store && !cc.no_cache && cc.max_age_s == -1);

  sl_cache_control_init(&cc);
  struct sl_header h7[] = {H("x-sluice-cache-ttl", "0")};
  CHECK(sl_cache_control_from_headers(h7, 1, &cc) == 0 && cc.ttl_s == 0);
}


/* Entries are per tenant by default: the scope (a virtual key) is hashed in under its own
 * domain, so no scope or namespace choice reaches another scope's entries. */
static void scoped_keys(void) {
  static const char B[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  uint8_t plain[32], none[32], a[32], a2[32], b[32], ns[32];
  CHECK(sl_cache_key("g", "", "chat/completions", B, strlen(B), plain) == 0);
  CHECK(sl_cache_key_scoped(NULL, "g", "", "chat/completions", B, strlen(B), none) == 0 && !memcmp(plain, none, 32));
  CHECK(sl_cache_key_scoped("", "g", "", "chat/completions", B, strlen(B), none) == 0 && !memcmp(plain, none, 32));
  CHECK(sl_cache_key_scoped("key:aa", "g", "", "chat/completions", B, strlen(B), a) == 0);
  CHECK(sl_cache_key_scoped("key:aa", "g", "", "chat/completions", B, strlen(B), a2) == 0 && !memcmp(a, a2, 32));
  CHECK(sl_cache_key_scoped("key:bb", "g", "", "chat/completions", B, strlen(B), b) == 0);
  CHECK(memcmp(a, b, 32) != 0 && memcmp(a, plain, 32) != 0);
  /* a namespace that spells another scope does not reach it */
  CHECK(sl_cache_key_scoped("key:bb", "g", "key:aa", "chat/completions", B, strlen(B), ns) == 0);
  CHECK(memcmp(ns, a, 32) != 0 && memcmp(ns, b, 32) != 0);
  CHECK(sl_cache_key("key:aa", "g", "chat/completions", B, strlen(B), ns) == 0 && memcmp(ns, a, 32) != 0);
}

/* A request's ttl never exceeds the configured one. */
static void request_ttl_is_capped(void) {
  struct sl_cache_control cc;
  sl_cache_control_init(&cc);
  CHECK(sl_cache_control_ttl(&cc, 3600) == 3600);
  cc.ttl_s = 60;
  CHECK(sl_cache_control_ttl(&cc, 3600) == 60);
  cc.ttl_s = 0;
  CHECK(sl_cache_control_ttl(&cc, 3600) == 0);
  cJSON *j = cJSON_Parse("{\"cache\":{\"ttl\":1e15}}");
  sl_cache_control_init(&cc);
  CHECK(sl_cache_control_from_body(j, &cc) == 0);
  CHECK(sl_cache_control_ttl(&cc, 3600) == 3600);
  cJSON_Delete(j);
}

CHECK_MAIN(T(sha256_known_vectors), T(key_is_sha256_of_preimage), T(canonical_form), T(malformed_is_not_cacheable),
           T(same_request_same_key), T(different_request_different_key), T(controls_from_body),
           T(controls_from_headers), T(scoped_keys), T(request_ttl_is_capped))
