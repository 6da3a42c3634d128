/* core/dashboard.c: STUB (being written); see core/dashboard.h. */
#include "core/dashboard.h"

void sl_dashboard_record(struct sl_request *rq, const struct sl_request_summary *s) {
  (void)rq;
  (void)s;
}
