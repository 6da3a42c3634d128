/* Admin API with the master key, LiteLLM's paths and shapes: virtual keys
 * (/key/generate, /key/info, /key/update, /key/delete, /key/list, /key/block,
 * /key/unblock), the spend report
 * (/spend/report) and configuration reload (/config/reload). Store writes run on the
 * libuv thread pool, never on the event loop. */
#ifndef SL_CORE_ADMIN_H
#define SL_CORE_ADMIN_H

struct sl_request;

/* Handles rq (route in rq->route; the caller checked it holds the master key or that no
 * master key is configured, or, for /key/info only, a virtual key: rq->key, which may
 * read only itself) and ends it. */
void sl_admin_handle(struct sl_request *rq);

#endif
