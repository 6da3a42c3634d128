/* The Responses API's state in the spine: response ids, previous_response_id, store, and
 * the stored-response endpoints (GET / DELETE /v1/responses/{id}, .../input_items).
 * The one idea: a stored response is the client's conversation so far (the input items
 * and the answer's output items, store/responses.h), owned by the caller's key, so a
 * follow-up can be served by ANY deployment: previous_response_id is expanded here into
 * a plain request before the attempts start, and every answer that ends well (whole, or
 * a stream's final response object) is kept before its last bytes reach the client, so a
 * client that asks again at once finds it (on any worker). The translation itself lives
 * in net/wire (xlate_resp_*.c). */
#ifndef SL_CORE_RESPONSES_H
#define SL_CORE_RESPONSES_H

#include <stdbool.h>
#include <stddef.h>

#include "net/base/buf.h"

struct sl_request;
struct sl_attempt;
struct sl_refusal;
struct sl_worker;
struct sl_sse_frame;

/* The Responses stage (POST /v1/responses, after routing, before admission): mints the
 * id a translated answer gets, reads `store`, and expands previous_response_id from the
 * store (rq->json becomes the expansion; rq->resp_req keeps the request as sent). An id
 * the store does not know passes on when the target group has a deployment that speaks
 * the Responses API natively (its provider may know it), else a 400
 * previous_response_not_found. False and a refusal when the request goes no further. */
bool sl_responses_prepare(struct sl_request *rq, struct sl_refusal *r);
/* A native deployment's whole answer to an expanded request (it was sent the whole
 * conversation, so it echoes previous_response_id null): the client's id put back. */
void sl_responses_echo(struct sl_request *rq, struct sl_buf *resp);
/* A whole answer in the Responses format: kept once, when the request asked to store. */
void sl_responses_keep(struct sl_request *rq, const char *resp, size_t len);
/* A frame of a native Responses stream on its way to the client: its terminal event is
 * noted, and a completed response object kept for sl_responses_stream_check. */
void sl_responses_frame(struct sl_request *rq, const struct sl_sse_frame *fr);
/* A winning stream's final response object (translated, or a native stream's
 * response.completed), appended to out: 0; -1 when the stream has not completed. */
int sl_responses_final(struct sl_request *rq, struct sl_buf *out);
/* Before a winning stream's bytes are written: keeps the response once the stream has
 * its final response object (translated or native). */
void sl_responses_stream_check(struct sl_request *rq, struct sl_attempt *at);
/* A complete stored answer (a cache hit, a single-flight leader's) for this request:
 * the same response with this request's own id (and kept under it). 0 and out filled;
 * -1 when it is not a response object. */
int sl_responses_restamp(struct sl_request *rq, const char *json, size_t len, struct sl_buf *out);
/* The worker's store, opened on first use (DATA_DIR/responses); closed at exit. */
void sl_responses_close(struct sl_worker *w);

#endif
