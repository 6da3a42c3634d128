/* Prometheus metrics: counters and histograms live in the shared-memory region
 * (store/shm.h), so every worker adds to the same numbers and any worker can render
 * them at GET /metrics. */
#ifndef SL_CORE_METRICS_H
#define SL_CORE_METRICS_H

#include "net/base/buf.h"

struct sl_request_summary;
struct sl_worker;

/* Counts one finished request from its summary (called once, from sl_request_finish). */
void sl_metrics_request_done(struct sl_worker *w, const struct sl_request_summary *rs);
/* Renders the Prometheus text exposition format (version 0.0.4). */
int sl_metrics_render(struct sl_worker *w, struct sl_buf *out);

/* Counters across a reload (master only). Each generation has its own region, so a
 * reload would restart every counter at zero; instead the master, when it creates the
 * new generation's region (before its workers exist), adds the old region's counters
 * to the new one (begin), and when the old generation has stopped, adds what the old
 * workers counted meanwhile (end). Series are matched by their labels: a deployment by
 * (model_name, model_info.id), a group-level series by the group name; series that
 * the new config no longer has are dropped (Prometheus reads their absence as the end
 * of the series). A scrape never sees a counter go down: the new region starts at
 * least at what the old one had when the reload began. */
struct sl_config;
struct sl_shm;
struct sl_metrics_carry;
struct sl_metrics_carry *sl_metrics_carry_begin(struct sl_shm *from, const struct sl_config *from_cfg,
                                                struct sl_shm *to, const struct sl_config *to_cfg);
/* Adds the growth since begin, then frees c (NULL: nothing). */
void sl_metrics_carry_end(struct sl_metrics_carry *c);
/* Frees c without adding (the target region is going away). */
void sl_metrics_carry_drop(struct sl_metrics_carry *c);

#endif
