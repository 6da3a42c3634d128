/* core/trace: STUB (being written). Called once per request from sl_request_finish with its
 * summary record. */
#ifndef SL_CORE_TRACE_H
#define SL_CORE_TRACE_H
struct sl_request;
struct sl_request_summary;
void sl_trace_request_done(struct sl_request *rq, const struct sl_request_summary *s);
#endif
