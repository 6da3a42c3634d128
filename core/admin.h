/* Admin API with the master key, LiteLLM's paths and shapes: virtual keys
 * (/key/generate, /key/info, /key/update, /key/delete, /key/list, /key/block,
 * /key/unblock), the spend report
 * (/spend/report) and configuration reload (/config/reload). Store writes run on the
 * libuv thread pool, never on the event loop. */
#ifndef SL_CORE_ADMIN_H
#define SL_CORE_ADMIN_H

#include <stddef.h>

#include "core/routes.h"

/* The admin API's route rows (path, method, access, handler); the router's lookup
 * (core/routes.c) includes them. The spine checked access before a handler runs: the
 * master key (or no master key configured), or, for /key/info only, a virtual key
 * (rq->key), which may read only itself. To add an admin route: a row here (admin.c). */
extern const struct sl_route_row sl_admin_routes[];
extern const size_t sl_admin_nroutes;

#endif
