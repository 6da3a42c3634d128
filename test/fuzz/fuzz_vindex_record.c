/* libFuzzer target for the semantic cache's stored vector record (store/vindex.h): the
 * first 8 bytes are the record's sequence number (its LMDB key), the rest its value. On
 * any input decode must return, never read outside the value (an exact-size heap copy);
 * a record it accepts must re-encode to the very same bytes, and must be refused under
 * any other sequence number (the checksum covers the key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/vindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8) return 0;
  uint64_t seq;
  memcpy(&seq, data, 8);
  size -= 8;
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data + 8, size);
  struct sl_vindex_record r;
  if (sl_vindex_record_decode(seq, buf, size, 0, &r) == 0) {
    if (sl_vindex_record_size(r.dim) != size) __builtin_trap();
    float *v = malloc(sizeof(float) * r.dim);
    uint8_t *out = malloc(size);
    if (v && out) {
      memcpy(v, r.v, sizeof(float) * r.dim);
      r.v = v;
      sl_vindex_record_encode(seq, &r, out);
      if (memcmp(out, buf, size) != 0) __builtin_trap();
      struct sl_vindex_record d;
      if (sl_vindex_record_decode(seq + 1, buf, size, 0, &d) == 0) __builtin_trap();
      if (sl_vindex_record_decode(seq, buf, size, r.dim + 1, &d) == 0) __builtin_trap();
    }
    free(v);
    free(out);
  }
  free(buf);
  return 0;
}
