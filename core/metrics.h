/* Prometheus metrics: counters and histograms live in the shared-memory region
 * (store/shm.h), so every worker adds to the same numbers and any worker can render
 * them at GET /metrics. */
#ifndef SL_CORE_METRICS_H
#define SL_CORE_METRICS_H

#include "net/buf.h"

struct sl_request;
struct sl_worker;

/* Counts one finished request (called once, from sl_request_finish). */
void sl_metrics_request_done(struct sl_worker *w, const struct sl_request *rq);
/* Renders the Prometheus text exposition format (version 0.0.4). */
int sl_metrics_render(struct sl_worker *w, struct sl_buf *out);

#endif
