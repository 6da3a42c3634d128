/* AWS SigV4; see sigv4.h. (stub: the real code follows) */
#include "net/wire/sigv4.h"

#include <errno.h>
#include <string.h>

void sl_sigv4_payload_hash(const struct sl_iov *v, size_t n, char hex[65]) {
  (void)v, (void)n;
  memset(hex, '0', 64);
  hex[64] = 0;
}
void sl_sigv4_amz_date(int64_t unix_s, char out[17]) {
  (void)unix_s;
  memcpy(out, "19700101T000000Z", 17);
}
int sl_sigv4_canonical_request(const struct sl_sigv4_req *r, struct sl_buf *out) {
  (void)r, (void)out;
  return -ENOSYS;
}
int sl_sigv4_string_to_sign(const struct sl_sigv4_req *r, const char *canonical, size_t n, struct sl_buf *out) {
  (void)r, (void)canonical, (void)n, (void)out;
  return -ENOSYS;
}
int sl_sigv4_authorization(const struct sl_sigv4_req *r, const struct sl_aws_creds *c, char *out, size_t cap) {
  (void)r, (void)c, (void)out, (void)cap;
  return -1;
}
