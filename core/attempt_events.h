/* What the attempts tell their request: the one table through which the back half
 * (core/attempt.c: choose, call, retry, fall back, hedge) reports to the spine
 * (core/request.c). The attempts never write to the client or end the request
 * themselves: they say "a stream starts", "these bytes", "the stream ended", "here is a
 * whole answer", "nobody can answer", and the spine turns each into a response through
 * core/respond.c, fills the cache and ends the request. To report something new, add a
 * member here and its handler in request.c (sl_request_attempt_events). */
#ifndef SL_CORE_ATTEMPT_EVENTS_H
#define SL_CORE_ATTEMPT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/base/iov.h"

struct sl_request;
struct sl_attempt;

struct sl_attempt_events {
  /* The winner's 2xx event stream begins (its chain is set up): the response starts. */
  void (*stream_start)(struct sl_request *rq);
  /* Bytes of the stream for the client, after the chain's filters. */
  void (*stream_write)(struct sl_request *rq, const struct sl_iov *v, size_t n);
  /* The stream ended. complete: it ended well (the cache may keep it); cut_msg: it was
   * cut short, and an in-band error event of status and code goes first. The request
   * ends. */
  void (*stream_end)(struct sl_request *rq, bool complete, const char *cut_msg, int status, const char *code);
  /* A whole answer: the winner's, or a provider's error passed through as it came. The
   * request ends. */
  void (*whole)(struct sl_request *rq, struct sl_attempt *at);
  /* No attempt can answer: an error of status and code (extra_hdrs: header lines or
   * NULL). The request ends. */
  void (*fail)(struct sl_request *rq, int status, const char *code, const char *extra_hdrs, const char *msg);
  /* The client stopped reading its stream: its connection is dropped, the request ends. */
  void (*abandon)(struct sl_request *rq);
  /* Bytes queued for the client but not yet taken; a wish to hear when they drain
   * (sl_attempts_on_writable). */
  size_t (*backlog)(const struct sl_request *rq);
  void (*want_drain)(struct sl_request *rq);
};

#endif
