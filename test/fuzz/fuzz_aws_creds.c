/* libFuzzer target for the AWS shared credentials/config parser (net/wire/aws_creds.h).
 * Input: a flags byte (bit 0: config file; bits 1-3: err buffer size), the profile name up
 * to the first '\n', then the file's text. Properties: the result is 0, -ENOENT or -EINVAL;
 * every field is NUL-terminated inside its array; an -EINVAL fills err with "line N: ..."
 * (cut to its size, never overrun), any other result leaves err empty and -EINVAL leaves
 * the fields empty; a second parse gives the same answer (no hidden state). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/aws_creds.h"

static void check_fields(const struct sl_aws_profile *p) {
  if (!memchr(p->access_key_id, 0, sizeof p->access_key_id) ||
      !memchr(p->secret_access_key, 0, sizeof p->secret_access_key) ||
      !memchr(p->session_token, 0, sizeof p->session_token) || !memchr(p->region, 0, sizeof p->region))
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool config = data[0] & 1;
  size_t errlen = (size_t)1 << ((data[0] >> 1) & 7); /* 1 .. 128 */
  const char *rest = (const char *)data + 1;
  size_t rn = size - 1;
  const char *nl = memchr(rest, '\n', rn);
  size_t namelen = nl ? (size_t)(nl - rest) : rn;
  char *name = malloc(namelen + 1);
  if (!name) return 0;
  memcpy(name, rest, namelen);
  name[namelen] = 0;
  size_t n = nl ? rn - namelen - 1 : 0;
  char *text = malloc(n ? n : 1); /* exact size: ASan sees any read past the end */
  char *err = malloc(errlen);
  if (!text || !err) abort();
  if (n) memcpy(text, nl + 1, n);
  struct sl_aws_profile *p = malloc(sizeof *p), *q = malloc(sizeof *q);
  if (!p || !q) abort();
  memset(err, 'z', errlen);
  int rc = sl_aws_profile_parse(text, n, name, config, p, err, errlen);
  if (rc != 0 && rc != -ENOENT && rc != -EINVAL) __builtin_trap();
  check_fields(p);
  if (!memchr(err, 0, errlen)) __builtin_trap();
  if (rc == -EINVAL) {
    if (errlen > 5 && strncmp(err, "line ", 5)) __builtin_trap();
    if (p->access_key_id[0] || p->secret_access_key[0] || p->session_token[0] || p->region[0]) __builtin_trap();
  } else if (err[0]) {
    __builtin_trap();
  }
  char err2[128];
  int rc2 = sl_aws_profile_parse(text, n, name, config, q, err2, sizeof err2);
  if (rc2 != rc || memcmp(p, q, sizeof *p) != 0) __builtin_trap();
  if (rc == -EINVAL && strncmp(err, err2, errlen - 1)) __builtin_trap();
  free(p), free(q), free(err), free(text), free(name);
  return 0;
}
