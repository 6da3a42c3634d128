/* Origin checks at route dispatch: what keeps a web page in the user's browser from
 * calling a sluice that listens on the user's machine (DNS rebinding, cross-site
 * "simple" requests). Bodies of API calls must be declared application/json (a browser
 * cannot send that cross-site without a CORS preflight, which sluice never grants), and
 * without a master key only Host values that name this server are accepted. To trust
 * another name (a reverse proxy's), list it in sluice_settings.allowed_hosts. */
#ifndef SL_CORE_ORIGIN_H
#define SL_CORE_ORIGIN_H

#include "core/config/config.h"
#include "core/routes.h"
#include "net/http_server.h"

enum sl_origin_verdict {
  SL_ORIGIN_OK = 0,
  SL_ORIGIN_BAD_HOST, /* -> 421 */
  SL_ORIGIN_BAD_TYPE, /* -> 415 */
};

enum sl_origin_verdict sl_origin_check(const struct sl_config *cfg, const struct sl_conn *c,
                                       const struct sl_http_request *hr, enum sl_route route);

#endif
