/* libFuzzer target for the stored-response record decoder (store/responses_internal.h):
 * the bytes an LMDB value holds are untrusted (a damaged file, an older build). Input:
 * byte 0 picks the id's length (0..31), then the id, then the record. Properties: the
 * decoder returns 0 or -EBADMSG and agrees with the header-only check; on 0 the three
 * strings lie inside the record, their lengths add up to it, and encoding what was
 * decoded gives back the same bytes. And the other way: the rest of the input, cut into
 * owner, response and items, encodes to a record that decodes to the same strings, and
 * that no longer decodes with any one bit flipped. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/responses_internal.h"

static void decoded_ok(const uint8_t *id, size_t id_len, const uint8_t *rec, size_t len) {
  struct sl__resp_view w;
  struct sl__resp_hdr h;
  int rc = sl__resp_record_decode(id, id_len, rec, len, &w);
  int hr = sl__resp_record_header(rec, len, &h);
  if (rc != 0 && rc != -EBADMSG) abort();
  if (hr != 0 && hr != -EBADMSG) abort();
  if (rc != 0) return;
  if (hr != 0) abort(); /* a full check passed where the header check failed */
  const char *lo = (const char *)rec, *hi = lo + len;
  if (w.owner != lo + SL_RESP_HDR_LEN || w.resp != w.owner + w.owner_len || w.items != w.resp + w.resp_len ||
      w.items + w.items_len != hi || w.owner_len > SL_RESP_OWNER_MAX)
    abort();
  char *again = malloc(len);
  if (!again) abort();
  sl__resp_record_encode(id, id_len, &w, again);
  if (memcmp(again, rec, len) != 0) abort();
  free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  size_t id_len = data[0] % 32;
  if (n - 1 < id_len) return 0;
  const uint8_t *id = data + 1, *rest = data + 1 + id_len;
  size_t rn = n - 1 - id_len;
  uint8_t *rec = malloc(rn ? rn : 1); /* its own allocation: ASan sees any read past it */
  if (!rec) abort();
  if (rn) memcpy(rec, rest, rn);
  decoded_ok(id, id_len, rec, rn);
  free(rec);

  /* encode: owner = the first (rest[0] % 256) bytes after rest[0], capped; response
   * and items split the remainder at rest[1]'s share */
  if (rn < 2 || rn > 4096) return 0;
  size_t body = rn - 2, owner_len = rest[0] < body ? rest[0] : body;
  size_t resp_len = (body - owner_len) * rest[1] / 255, items_len = body - owner_len - resp_len;
  struct sl__resp_view v = {.owner = (const char *)rest + 2,
                            .owner_len = owner_len,
                            .resp = (const char *)rest + 2 + owner_len,
                            .resp_len = resp_len,
                            .items = (const char *)rest + 2 + owner_len + resp_len,
                            .items_len = items_len,
                            .created = (int64_t)rest[0] << 40 | rest[1],
                            .expires = -(int64_t)rest[1]};
  size_t len = sl__resp_record_len(owner_len, resp_len, items_len);
  if (len != SL_RESP_HDR_LEN + body) abort();
  char *buf = malloc(len);
  if (!buf) abort();
  sl__resp_record_encode(id, id_len, &v, buf);
  struct sl__resp_view w;
  if (sl__resp_record_decode(id, id_len, buf, len, &w) != 0) abort();
  if (w.owner_len != owner_len || w.resp_len != resp_len || w.items_len != items_len || w.created != v.created ||
      w.expires != v.expires || memcmp(w.owner, v.owner, owner_len) || memcmp(w.resp, v.resp, resp_len) ||
      memcmp(w.items, v.items, items_len))
    abort();
  size_t bit = ((size_t)rest[0] << 8 | rest[1]) % (len * 8);
  buf[bit / 8] ^= (char)(1u << (bit % 8));
  if (sl__resp_record_decode(id, id_len, buf, len, &w) == 0) abort();
  free(buf);
  return 0;
}
