/* core/trace: OpenTelemetry traces. Each request (with a model group) becomes one SERVER
 * span, each of its upstream attempts one CLIENT span under it, named and attributed per
 * the OpenTelemetry GenAI semantic conventions plus sluice.* attributes; W3C traceparent
 * is read from the client and sent upstream with each attempt's span id. Spans are encoded
 * to OTLP JSON (net/wire/otlp_json.c) when the request ends, queued per worker (bounded:
 * overflow is dropped and counted) and POSTed in batches on sluice's own HTTP client;
 * a failed batch is retried once, then dropped and counted. Nothing here blocks or
 * delays a request. Settings: cfg->tracing (core/config/config_tracing.c).
 * To add an attribute: a line in server_attrs or client_attrs (trace.c). */
#ifndef SL_CORE_TRACE_H
#define SL_CORE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/wire/http_common.h"

struct sl_request;
struct sl_request_summary;
struct sl_attempt;
struct sl_worker;

/* A request's trace context (in struct sl_request), set by sl_trace_request_begin. */
struct sl_trace_rq {
  bool on;                                        /* tracing is enabled: ids below are set */
  bool sampled;                                   /* its spans are exported */
  bool has_parent;                                /* the client sent a valid traceparent */
  uint8_t trace_id[16], parent_id[8], span_id[8]; /* span_id: the SERVER span's */
  uint8_t flags;
  const char *tracestate; /* the client's, when passed on (arena); NULL: none */
};

/* At the request's start: reads the client's traceparent/tracestate and picks the ids
 * (only when tracing is enabled). */
void sl_trace_request_begin(struct sl_request *rq);
/* Headers for an attempt's upstream call (called while its headers are built; room for
 * two in hs): tracing on: traceparent with the attempt's own CLIENT span id (kept in
 * at->trace_span), and the client's tracestate; off: the client's traceparent and
 * tracestate passed on as they came, or nothing. */
size_t sl_trace_attempt_headers(struct sl_attempt *at, struct sl_header *hs);
/* At the request's end (sl_request_finish): its spans, when sampled. */
void sl_trace_request_done(struct sl_request *rq, const struct sl_request_summary *s);
/* The worker stops: an export in flight is cancelled, spans still queued are dropped
 * (not counted), the exporter's memory is freed in the loop's last turn. */
void sl_trace_worker_stop(struct sl_worker *w);
/* /metrics: sluice_trace_spans_{exported,dropped,failed}_total (all workers). */
void sl_trace_metrics(struct sl_worker *w, struct sl_buf *b);

#endif
