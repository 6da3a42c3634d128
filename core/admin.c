/* Admin API; see admin.h. (Being written.) */
#include "core/admin.h"

#include "core/request_internal.h"

void sl_admin_handle(struct sl_request *rq) {
  sl_request_reply_error(rq, 501, "not_implemented", NULL, "Not implemented yet");
}
