/* libFuzzer target for core/config/config_semantic's auto_router JSON parser (LiteLLM's
 * auto_router_config_path file). Properties: it either fails with -EINVAL, no routes and a
 * non-empty message, or returns 1..SL_SEM_MAX_ROUTES routes each with a non-empty group,
 * utterances or a description, every utterance 1..SL_SEM_MAX_UTTERANCE bytes, and a
 * threshold that is NAN or within -1..1; no read past the n bytes given. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_semantic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n ? n : 1); /* exactly n bytes: ASan catches any read past them */
  if (!s) return 0;
  if (n) memcpy(s, data, n);
  struct sl_sem_route_cfg *rs = NULL;
  size_t nr = 0;
  char err[256] = "";
  int rc = sl_sem_routes_json(s, n, &rs, &nr, err, sizeof err);
  if (rc == 0) {
    if (!nr || nr > SL_SEM_MAX_ROUTES || !rs) abort();
    for (size_t i = 0; i < nr; i++) {
      if (!rs[i].group || !rs[i].group[0]) abort();
      if (!rs[i].nutterances && !rs[i].description) abort();
      for (size_t j = 0; j < rs[i].nutterances; j++) {
        size_t len = strlen(rs[i].utterances[j]);
        if (!len || len > SL_SEM_MAX_UTTERANCE) abort();
      }
      double t = rs[i].score_threshold;
      if (!isnan(t) && !(t >= -1 && t <= 1)) abort();
    }
  } else if (rc == -EINVAL) {
    if (rs || nr || !err[0]) abort();
  } else if (rc != -ENOMEM) {
    abort();
  }
  sl_sem_routes_free(rs, nr);
  free(s);
  return 0;
}
