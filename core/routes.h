/* The API surface: which paths sluice serves, with which methods, who may call them,
 * and the handler that serves each. One table (core rows in routes.c, the admin API's
 * own rows in admin.c, which the lookup includes), so 404, 405 (with its Allow
 * header), the master-key check and the dispatch fall out of the same lookup. To add a
 * route: an enum value here, a row (path, method, access, handler) in routes.c or in
 * the owning module's row array, and a test in test/unit/test_routes.c. */
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
  SL_R_MODEL,       /* GET  /v1/models/{id} */
  SL_R_RESPONSES,   /* POST /v1/responses (OpenAI Responses API) */
  SL_R_RESPONSE_GET, /* GET /v1/responses/{id} (a stored response) */
  SL_R_RESPONSE_DELETE, /* DELETE /v1/responses/{id} */
  SL_R_RESPONSE_ITEMS, /* GET /v1/responses/{id}/input_items */
  SL_R_COUNT_TOKENS, /* POST /v1/messages/count_tokens (Anthropic) */
  SL_R_MODERATIONS, /* POST /v1/moderations */
  SL_R_RERANK,      /* POST /v1/rerank, /v2/rerank */
  SL_R_IMAGES,      /* POST /v1/images/generations */
  SL_R_SPEECH,      /* POST /v1/audio/speech (binary answer) */
  SL_R_TRANSCRIPTIONS, /* POST /v1/audio/transcriptions (multipart body) */
  SL_R_FEEDBACK,    /* POST /v1/feedback (an outcome for a routed request: core/feedback.h) */
  SL_R_UI,          /* GET  /ui, /ui/<asset> (the dashboard's static assets: core/ui_assets.h) */
  SL_R_UI_API,      /* GET  /ui/api/... (the dashboard's data: core/dashboard.h) */
};

struct sl_request;
/* Serves the request and ends it (through core/respond.c), now or later. */
typedef void (*sl_route_handler)(struct sl_request *rq);

/* Who may call a route. */
enum sl_route_access {
  SL_ACCESS_OPEN = 0, /* no authentication (health, metrics: probes and scrapers carry no key) */
  SL_ACCESS_KEY,      /* the master key or a virtual key (when a master key is configured) */
  SL_ACCESS_MASTER,   /* ops and admin: the master key only; a virtual key gets 403 */
};

struct sl_route_row {
  const char *path; /* without /v1; ending in "/" + "*": the prefix and any non-empty rest */
  enum sl_route route;
  enum sl_http_method_kind method;
  bool v1_optional; /* false: path must be given exactly */
  const char *upstream; /* path appended to api_base, e.g. "/chat/completions"; NULL: none */
  enum sl_route_access access;
  sl_route_handler handler;
};

struct sl_route_match {
  enum sl_route route;
  bool method_ok;
  const char *allow;       /* for 405: every method the path's rows take */
  const char *upstream_path; /* path appended to api_base, e.g. "/chat/completions" */
  const struct sl_route_row *row; /* NULL: no such path */
};

/* Handlers of the core rows (core/request.c). */
void sl_request_api(struct sl_request *rq);         /* the model endpoints */
void sl_request_models(struct sl_request *rq);      /* GET /v1/models */
void sl_request_model(struct sl_request *rq);       /* GET /v1/models/{id} */
void sl_request_live(struct sl_request *rq);        /* GET /health/liveliness */
void sl_request_ready(struct sl_request *rq);       /* GET /health/readiness */
void sl_request_metrics(struct sl_request *rq);     /* GET /metrics */
void sl_request_cache_stats(struct sl_request *rq); /* GET /cache/stats */
void sl_request_cache_flush(struct sl_request *rq); /* DELETE /cache */
void sl_request_response_get(struct sl_request *rq);    /* GET /v1/responses/{id} (core/responses.c) */
void sl_request_response_delete(struct sl_request *rq); /* DELETE /v1/responses/{id} */
void sl_request_response_items(struct sl_request *rq);  /* GET /v1/responses/{id}/input_items */

/* Matches path (with or without the /v1 prefix, trailing slash tolerated) against the
 * core rows, then the admin API's. */
struct sl_route_match sl_route_find(enum sl_http_method_kind m, struct sl_slice path);
/* The same over the given tables (ntables arrays of rows, each of nrows[i]). */
struct sl_route_match sl_route_find_in(const struct sl_route_row *const *tables, const size_t *nrows, size_t ntables,
                                       enum sl_http_method_kind m, struct sl_slice path);

#endif
