/* core/trace.c: STUB (being written); see core/trace.h. */
#include "core/trace.h"

void sl_trace_request_done(struct sl_request *rq, const struct sl_request_summary *s) {
  (void)rq;
  (void)s;
}
