/* The API surface: which paths sluice serves, with which methods. One table, so 404
 * and 405 (with its Allow header) fall out of the same lookup. */
#ifndef SL_CORE_ROUTES_H
#define SL_CORE_ROUTES_H

#include "net/http_parse.h"

enum sl_route {
  SL_R_NONE = 0,
  SL_R_CHAT,        /* POST /v1/chat/completions */
  SL_R_COMPLETIONS, /* POST /v1/completions */
  SL_R_EMBEDDINGS,  /* POST /v1/embeddings */
  SL_R_MODELS,      /* GET  /v1/models */
  SL_R_MESSAGES,    /* POST /v1/messages (Anthropic) */
  SL_R_LIVE,        /* GET  /health/liveliness */
  SL_R_READY,       /* GET  /health/readiness */
  SL_R_CACHE_STATS, /* GET  /cache/stats */
  SL_R_CACHE_FLUSH, /* DELETE /cache */
  SL_R_METRICS,     /* GET  /metrics (Prometheus) */
  SL_R_KEY_GENERATE, /* POST /key/generate (master key) */
  SL_R_KEY_INFO,    /* GET  /key/info?key= */
  SL_R_KEY_UPDATE,  /* POST /key/update */
  SL_R_KEY_DELETE,  /* POST /key/delete */
  SL_R_KEY_LIST,    /* GET  /key/list */
  SL_R_KEY_BLOCK,   /* POST /key/block */
  SL_R_KEY_UNBLOCK, /* POST /key/unblock */
  SL_R_SPEND_REPORT, /* GET /spend/report?group_by=key|model&start=&end= */
  SL_R_CONFIG_RELOAD, /* POST /config/reload (master key) */
};

struct sl_route_match {
  enum sl_route route;
  bool method_ok;
  const char *allow;       /* for 405 */
  const char *upstream_path; /* path appended to api_base, e.g. "/chat/completions" */
};

/* Ops and admin routes: they take the master key (when one is configured), never a
 * virtual key (403). /key/info is not among them: a virtual key may read its own. */
bool sl_route_master_only(enum sl_route r);

/* Matches path (with or without the /v1 prefix, trailing slash tolerated). */
struct sl_route_match sl_route_find(enum sl_http_method_kind m, struct sl_slice path);

#endif
