/* libFuzzer target for AWS SigV4 (net/wire/sigv4.h). Input lines: the path, the query,
 * then "name:value" headers (host and x-amz-date are always added); the whole input is
 * also the body. Properties:
 *  - the canonical request, the string to sign and the Authorization value are the same
 *    when computed twice (no hidden state), and the Authorization exists whenever the
 *    canonical request does;
 *  - the canonical path starts with '/', holds only unreserved bytes, '/' and %XX with
 *    upper-case hex, and has no empty, "." or ".." segment; the canonical query likewise
 *    (with '&' and '='), its parameters sorted;
 *  - the payload hash of the body in three slices equals the hash of it in one. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sigv4.h"

static bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

static bool uhex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

/* Checks s[0..n) holds only unreserved bytes, %XX and the bytes of extra. */
static void check_encoded(const char *s, size_t n, const char *extra) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n) __builtin_trap();
      if (!uhex(s[i + 1]) || !uhex(s[i + 2])) __builtin_trap();
      i += 2;
    } else if (!unreserved((unsigned char)s[i]) && !strchr(extra, s[i])) {
      __builtin_trap();
    }
  }
}

static void check_canonical(const char *c, size_t n) {
  const char *l1 = memchr(c, '\n', n);
  if (!l1) __builtin_trap();
  const char *path = l1 + 1, *l2 = memchr(path, '\n', (size_t)(c + n - path));
  if (!l2 || path[0] != '/') __builtin_trap();
  size_t pn = (size_t)(l2 - path);
  check_encoded(path, pn, "/");
  for (size_t i = 0; i + 1 < pn; i++) /* segments: none empty, "." or ".." */
    if (path[i] == '/' &&
        (path[i + 1] == '/' || (path[i + 1] == '.' && (i + 2 == pn || path[i + 2] == '/')) ||
         (path[i + 1] == '.' && i + 2 < pn && path[i + 2] == '.' && (i + 3 == pn || path[i + 3] == '/'))))
      __builtin_trap();
  const char *q = l2 + 1, *l3 = memchr(q, '\n', (size_t)(c + n - q));
  if (!l3) __builtin_trap();
  check_encoded(q, (size_t)(l3 - q), "&=");
  /* parameters sorted: each "k=v" no smaller than the one before (by key, then value) */
  const char *prev = NULL;
  size_t prevn = 0;
  for (const char *p = q; p < l3;) {
    const char *e = memchr(p, '&', (size_t)(l3 - p));
    if (!e) e = l3;
    if (prev) {
      const char *pk = memchr(prev, '=', prevn), *ck = memchr(p, '=', (size_t)(e - p));
      if (!pk || !ck) __builtin_trap();
      size_t a = (size_t)(pk - prev), b = (size_t)(ck - p);
      int cmp = memcmp(prev, p, a < b ? a : b);
      if (cmp > 0 || (cmp == 0 && a > b)) __builtin_trap();
    }
    prev = p, prevn = (size_t)(e - p);
    p = e + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = 0;
  char *lines[40];
  size_t nl = 0;
  for (char *p = in; nl < 40;) {
    lines[nl++] = p;
    char *e = memchr(p, '\n', (size_t)(in + size - p));
    if (!e) break;
    *e = 0;
    p = e + 1;
  }
  struct sl_header h[40];
  size_t nh = 0;
  h[nh++] = (struct sl_header){SL_SLICE_LIT("Host"), SL_SLICE_LIT("bedrock-runtime.us-east-1.amazonaws.com")};
  h[nh++] = (struct sl_header){SL_SLICE_LIT("X-Amz-Date"), SL_SLICE_LIT("20240102T030405Z")};
  for (size_t i = 2; i < nl; i++) {
    char *colon = strchr(lines[i], ':');
    if (!colon) continue;
    h[nh++] = (struct sl_header){{lines[i], (size_t)(colon - lines[i])}, {colon + 1, strlen(colon + 1)}};
  }
  char hex[65], hex3[65];
  struct sl_iov one = {(const char *)data, size};
  sl_sigv4_payload_hash(&one, 1, hex);
  size_t a = size / 3, b = size / 2;
  struct sl_iov three[] = {
      {(const char *)data, a}, {(const char *)data + a, b - a}, {(const char *)data + b, size - b}};
  sl_sigv4_payload_hash(three, 3, hex3);
  if (strcmp(hex, hex3) || strlen(hex) != 64) __builtin_trap();
  struct sl_sigv4_req r = {"POST",      lines[0],  nl > 1 ? lines[1] : NULL, h, nh, hex,
                           "us-east-1", "bedrock", "20240102T030405Z"};
  struct sl_aws_creds c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
  struct sl_buf c1 = {0}, c2 = {0}, s1 = {0}, s2 = {0};
  int r1 = sl_sigv4_canonical_request(&r, &c1), r2 = sl_sigv4_canonical_request(&r, &c2);
  if (r1 != r2 || (r1 && r1 != -EINVAL)) __builtin_trap();
  char a1[600], a2[600];
  int n1 = sl_sigv4_authorization(&r, &c, a1, sizeof a1), n2 = sl_sigv4_authorization(&r, &c, a2, sizeof a2);
  if (n1 != n2 || (n1 >= 0 && strcmp(a1, a2))) __builtin_trap();
  if (!r1) {
    if (c1.n != c2.n || memcmp(c1.p, c2.p, c1.n)) __builtin_trap();
    check_canonical(c1.p, c1.n);
    if (sl_sigv4_string_to_sign(&r, c1.p, c1.n, &s1) || sl_sigv4_string_to_sign(&r, c2.p, c2.n, &s2)) __builtin_trap();
    if (s1.n != s2.n || memcmp(s1.p, s2.p, s1.n)) __builtin_trap();
    if (n1 <= 0 || strncmp(a1, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/bedrock/aws4_request, ", 80))
      __builtin_trap();
  } else if (n1 != -1) {
    __builtin_trap();
  }
  sl_buf_free(&c1), sl_buf_free(&c2), sl_buf_free(&s1), sl_buf_free(&s2);
  free(in);
  return 0;
}
