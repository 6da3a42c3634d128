/* The request summary: one plain record of what a finished request was and did, built
 * once by the spine (core/request.c) when the request ends. Accounting (tenancy),
 * metrics and the access log consume it; none of them reads struct sl_request. To
 * report something new about requests: a field here, filled in
 * sl_request_summarize (request.c), then read it where it is reported. */
#ifndef SL_CORE_SUMMARY_H
#define SL_CORE_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors.h"
#include "core/reqcache.h"
#include "core/routes.h"
#include "net/base/buf.h"

struct sl_key_record;
struct sl_request_summary {
  const char *request_id;
  enum sl_route route;
  struct sl_slice method, path; /* as the client sent them */
  bool stream;

  /* where it went */
  const char *group;       /* the model group asked for (after aliasing); NULL: none */
  long group_index;        /* its index in the worker's groups; -1: none */
  uint64_t group_spend_id; /* the group's spend-ledger id (0: none) */
  const char *deployment;  /* the winner's (else the last attempt's) deployment id; NULL: none */
  long deployment_index;   /* its index in cfg->deployments; -1: none */
  const char *fallback;    /* the fallback group that answered; NULL: none */
  const char *region;      /* that deployment's region (core/region.h); NULL: none */
  int region_outside_preferred; /* attempts outside the request's preferred regions */
  int attempts;            /* attempts started, hedges included */
  int hedges_fired;
  bool hedge_won;
  /* the router that chose the group (core/router.c); NULL: none */
  const char *router;
  const char *router_reason;   /* rule:<name>, learned, cost, override, shadow, fallback */
  bool router_scored;
  double router_score;
  const char *router_would;    /* shadow: the group it would have chosen */

  /* how it ended */
  int status;
  enum sl_err err;      /* SL_ERR_NONE: no error */
  const char *err_code; /* its wire string (an attempt outcome's for SL_ERR_OUTCOME) */
  enum sl_cache_state cache;

  /* when (monotonic ms) */
  uint64_t t0_ms, t_end_ms;
  uint64_t t_first_ms;  /* the streaming winner's first byte; 0: none */
  bool has_upstream_ms; /* a winner with a measured call */
  uint64_t upstream_ms; /* the winner's time on the provider */

  /* what it consumed */
  int64_t tokens_in, tokens_out;
  int64_t cost_micro, cost_pico;
  bool usage_estimated, usage_implausible;

  /* who paid */
  const char *key; /* the virtual key's alias (else its display form); NULL: master/no auth */
  uint64_t key_id;
  const struct sl_key_record *key_record; /* the key itself (valid until the request is freed); NULL: none */

  /* the access log's attempts array, prebuilt JSON ("[...]"); NULL: none */
  const char *attempts_json;
  size_t attempts_json_len;
};

/* The JSON access-log line's fields after its opening (the caller's
 * sl_log_open prefix), through the closing brace. */
void sl_summary_access_log(const struct sl_request_summary *s, struct sl_buf *b);

#endif
