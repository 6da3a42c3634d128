/* core/config: the connection and request-body keys of sluice_settings (body_memory_budget,
 * body_min_rate, body_deadline, allowed_hosts): defaults, accepted forms, exact errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config/config.h"

#define ONE_DEP                     \
  "model_list:\n"                   \
  "  - model_name: m\n"             \
  "    litellm_params:\n"           \
  "      model: openai/gpt-4o\n"    \
  "      api_key: sk-x\n"

static int load(const char *yaml, struct sl_config **c, char *err, size_t errlen) {
  return sl_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, NULL, c, err, errlen);
}

static int fails_with(const char *yaml, const char *want) {
  struct sl_config *c = NULL;
  char err[512] = "";
  int rc = load(yaml, &c, err, sizeof err);
  if (rc == 0) sl_config_free(c);
  if (rc != -EINVAL || strncmp(err, want, strlen(want)) != 0) {
    fprintf(stderr, "  want: %s\n  got:  %s (rc %d)\n", want, err, rc);
    return 0;
  }
  return 1;
}

static void defaults(void) {
  struct sl_config *c = NULL;
  char err[512];
  CHECK(load(ONE_DEP, &c, err, sizeof err) == 0);
  if (!c) return;
  CHECK(c->body_memory_budget == 0); /* the worker uses max(max_body_bytes, 16 MiB) */
  CHECK(c->body_min_rate == 1024);
  CHECK(c->body_deadline_ms == 120000);
  CHECK(c->allowed_hosts.n == 0);
  sl_config_free(c);
}

static void accepted(void) {
  struct sl_config *c = NULL;
  char err[512];
  CHECK(load(ONE_DEP "sluice_settings:\n  body_memory_budget: 64MiB\n  body_min_rate: 0\n"
                     "  body_deadline: 5m\n  allowed_hosts: [api.example.com, \"Gateway.internal\"]\n",
             &c, err, sizeof err) == 0);
  if (!c) return;
  CHECK(c->body_memory_budget == 64u << 20);
  CHECK(c->body_min_rate == 0);
  CHECK(c->body_deadline_ms == 300000);
  CHECK(c->allowed_hosts.n == 2);
  CHECK(c->allowed_hosts.n == 2 && strcmp(c->allowed_hosts.names[1], "Gateway.internal") == 0);
  sl_config_free(c);
}

static void errors(void) {
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  allowed_hosts: api.example.com\n",
                   "t.yaml:7: sluice_settings.allowed_hosts: expected a list of host names, got a scalar"));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  allowed_hosts: [\"http://x.example\"]\n",
                   "t.yaml:7: sluice_settings.allowed_hosts[0]: expected a host name (no port, scheme or path)"));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  allowed_hosts:\n    - ok.example\n    - 12\n",
                   "t.yaml:9: sluice_settings.allowed_hosts[1]:"));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  body_memory_budget: 0\n",
                   "t.yaml:7: sluice_settings.body_memory_budget: expected a size in bytes"));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  body_deadline: soon\n",
                   "t.yaml:7: sluice_settings.body_deadline: expected a duration"));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  body_min_rate: fast\n",
                   "t.yaml:7: sluice_settings.body_min_rate: expected a size in bytes"));
}

CHECK_MAIN(T(defaults), T(accepted), T(errors))
