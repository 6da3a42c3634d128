/* The response module: the only code in sluice that writes to a client. Stages decide
 * (they return verdicts); the spine and the attempt callbacks call one of these to say
 * the answer. Every function here builds the x-sluice-* and x-request-id headers from the
 * request's state, picks the client's wire format for errors (the HTTP server writes
 * Anthropic's shape on /v1/messages), accounts the request's spend before its last
 * bytes leave (a kill -9 right after cannot lose it), and ends the request where the
 * answer ends. A test (test/rooms) checks that no other file calls sl_conn_respond* or
 * sl_conn_stream_*. To add a kind of answer, add a function here, never a write
 * elsewhere. */
#ifndef SL_CORE_RESPOND_H
#define SL_CORE_RESPOND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/errors.h"
#include "net/base/iov.h"

struct sl_request;
struct sl_conn;

/* An error in the client's wire format, then the request ends. extra_hdrs: whole header
 * lines ("Allow: GET\r\n") or NULL. */
void sl_respond_error(struct sl_request *rq, int status, enum sl_err code, const char *extra_hdrs,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with the code given as its string: an attempt outcome passed through as the
 * request's error ("upstream_reset"). */
void sl_respond_error_named(struct sl_request *rq, int status, const char *code, const char *extra_hdrs,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A stage's refusal (core/verdict.h): its status, code, header lines and message. */
struct sl_refusal;
void sl_respond_refusal(struct sl_request *rq, const struct sl_refusal *r);
/* A whole body of content_type (NULL: application/json), then the request ends. */
void sl_respond_body(struct sl_request *rq, int status, const char *content_type, const char *extra_hdrs,
                     const char *body, size_t n);
void sl_respond_json(struct sl_request *rq, int status, const char *body, size_t n);
/* A body a builder malloc'd (rc 0; it is freed here) or a 500 saying `why` (rc != 0). */
void sl_respond_built(struct sl_request *rq, int rc, char *body, size_t n, const char *why);
/* Out of memory before a request exists: a bare 500 on the connection. */
void sl_respond_conn_oom(struct sl_conn *c);

/* A server-sent-events stream: start (status 200, no-cache headers; with_cost_trailer
 * announces the x-sluice-cost trailer), bytes, end. The end carries the cost trailer
 * when the start announced it, and ends the request. */
void sl_respond_stream_start(struct sl_request *rq, bool with_cost_trailer);
void sl_respond_stream_write(struct sl_request *rq, const char *p, size_t n);
/* The same for a gather list (one chunk); the slices are the caller's only for the call. */
void sl_respond_stream_writev(struct sl_request *rq, const struct sl_iov *v, size_t n);
void sl_respond_stream_end(struct sl_request *rq);
/* Bytes written but not yet taken by the client's socket; ask for a writable callback. */
size_t sl_respond_pending(const struct sl_request *rq);
void sl_respond_want_writable(struct sl_request *rq);

/* Builds rq->hdrs (x-request-id, x-sluice-*) for the answer about to start. */
void sl_respond_headers(struct sl_request *rq);

#endif
