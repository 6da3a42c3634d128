/* The request state machine: parse -> authenticate -> route -> choose deployment ->
 * upstream call (whole or streamed) -> respond -> account/log. One struct per request,
 * freed when the response has ended and the upstream call is closed. */
#ifndef SL_CORE_REQUEST_H
#define SL_CORE_REQUEST_H

#include "net/http_server.h"

/* sl_server_cbs handlers; ud is the struct sl_worker. */
void sl_request_on_http(void *ud, struct sl_conn *c, const struct sl_http_request *r);
void sl_request_on_abort(void *ud, struct sl_conn *c, void *req);
void sl_request_on_writable(void *ud, struct sl_conn *c, void *req);

#endif
