/* The response cache as the request state machine sees it: look up before choosing a
 * deployment (serving hits whole or replayed as a stream), coalesce identical misses
 * in one worker behind a single upstream call (single flight), and fill the cache from
 * a winning attempt's complete answer (a stream is assembled first). */
#ifndef SL_CORE_REQCACHE_H
#define SL_CORE_REQCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct sl_request;
struct sl_worker;

enum sl_cache_state { SL_CS_NONE = 0, SL_CS_MISS, SL_CS_HIT, SL_CS_BYPASS };

/* True when the request has been taken care of (a hit was served, or it waits for an
 * identical request's answer); false: go on and call upstream. */
bool sl_reqcache_begin(struct sl_request *rq);
/* The winning attempt's answer: a whole JSON body (status 200). */
void sl_reqcache_fill(struct sl_request *rq, const char *json, size_t len);
/* The winning attempt streams: assemble it as it passes. */
void sl_reqcache_stream_begin(struct sl_request *rq);
/* One upstream frame of a winning stream (the chain's cache tee, same wire format). */
struct sl_sse_frame;
void sl_reqcache_stream_frame(struct sl_request *rq, const struct sl_sse_frame *fr);
void sl_reqcache_stream_bytes(struct sl_request *rq, const char *p, size_t n);
void sl_reqcache_stream_end(struct sl_request *rq);
/* The request ends: release followers (with the answer, or to call upstream themselves). */
void sl_reqcache_finish(struct sl_request *rq);
/* GET /cache/stats body; DELETE /cache. */
int sl_reqcache_stats_json(struct sl_worker *w, char **out, size_t *len);
int sl_reqcache_flush(struct sl_worker *w);
/* Worker lifecycle. */
void sl_reqcache_open(struct sl_worker *w);
void sl_reqcache_close(struct sl_worker *w);

#endif
