/* libFuzzer target for core/cluster_spend's field parser (the names of the rows each host
 * publishes into Redis: "<kind>|<16 hex id>|<day>" or "...|T"). Input: the field bytes.
 * Properties: answers 0 or -EINVAL only; on success the kind is 0..3 and formatting the
 * row gives back exactly the input (one spelling per row, so two hosts' rows of the same
 * payer and day always meet in the same field). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster_spend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  struct sl_cluster_spend_row row;
  int rc = sl_cluster_spend_field_parse((const char *)data, n, &row);
  if (rc != 0 && rc != -EINVAL) abort();
  if (rc) return 0;
  if (row.kind > 3) abort();
  char out[40];
  size_t m = sl_cluster_spend_field_format(&row, out);
  if (m != n || memcmp(out, data, n) != 0) abort();
  return 0;
}
