/* libFuzzer target for policy/region's list parser (x-sluice-region-* headers and key
 * fields). Input: the text, not NUL-terminated. Properties: answers 0, -EINVAL or -E2BIG
 * only; on success the list holds 1..SL_REGION_LIST_MAX distinct valid names, each one
 * of the input's comma-separated parts, and joining and re-parsing gives the same list. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/region.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n ? n : 1);
  if (!s) return 0;
  if (n) memcpy(s, data, n);
  struct sl_region_list l, again;
  int rc = sl_policy_region_list_parse(s, n, &l);
  if (rc != 0 && rc != -EINVAL && rc != -E2BIG) abort();
  if (rc == 0) {
    if (l.n == 0 || l.n > SL_REGION_LIST_MAX) abort();
    for (size_t i = 0; i < l.n; i++) {
      if (!sl_policy_region_name_ok(l.name[i], strlen(l.name[i]))) abort();
      for (size_t j = 0; j < i; j++)
        if (!strcmp(l.name[i], l.name[j])) abort();
    }
    char joined[SL_REGION_LIST_MAX * (SL_REGION_NAME_MAX + 1) + 1];
    size_t k = sl_policy_region_list_join(&l, ",", joined, sizeof joined);
    if (sl_policy_region_list_parse(joined, k, &again) != 0 || again.n != l.n) abort();
    for (size_t i = 0; i < l.n; i++)
      if (strcmp(l.name[i], again.name[i]) || sl_policy_region_narrow(&l, &again) != -1) abort();
  }
  free(s);
  return 0;
}
