/* libFuzzer target for the config loader (core/config.h): any bytes given as a
 * config.yaml must either load (and free cleanly) or fail with a NUL-terminated message,
 * never crash, leak or read outside the input (copied into an exact-size heap block). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config.h"

static volatile size_t sink;

static void on_warn(void *ud, const char *msg) {
  (void)ud;
  sink += strlen(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *yaml = malloc(size ? size : 1);
  if (!yaml) return 0;
  memcpy(yaml, data, size);
  struct sl_config *cfg = NULL;
  char err[512];
  memset(err, 'x', sizeof err);
  int rc = sl_config_load_string(yaml, size, "fuzz.yaml", on_warn, NULL, &cfg, err, sizeof err);
  if (rc == 0) {
    if (!cfg) __builtin_trap();
    for (size_t i = 0; i < cfg->ndeployments; i++)
      if (cfg->deployments[i].model_name) sink += strlen(cfg->deployments[i].model_name);
    sl_config_free(cfg);
  } else {
    if (memchr(err, '\0', sizeof err) == NULL) __builtin_trap(); /* message must be terminated */
  }
  free(yaml);
  return 0;
}
