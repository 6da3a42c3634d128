/* Server-sent events: an incremental parser and a writer. The one idea: bytes can
 * arrive split anywhere (inside a field name, between \r and \n), so the parser keeps
 * only the unfinished line and the event being built, and hands out each event as it
 * completes. It follows the WHATWG event-stream rules (\r\n, \n or \r line ends; data
 * lines joined with \n; ':' comments; a field without ':' has an empty value; one space
 * after ':' dropped; a leading UTF-8 BOM skipped; an event with no data field is not
 * dispatched) with one addition: sl_sse_finish dispatches a final event that lacks its
 * blank line, because some servers end the stream that way. */
#ifndef SL_NET_SSE_H
#define SL_NET_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "net/base/buf.h"

struct sl_sse_event {
  const char *event; /* the event field, "" when none was given ("message") */
  size_t event_len;
  const char *data;  /* data lines joined with \n, NUL-terminated */
  size_t data_len;
  const char *id;    /* the last event id seen so far in the stream, "" when none */
  size_t id_len;
  long retry_ms;     /* this event's retry field, -1 when none */
};

/* Called once per event; the pointers are valid only during the call. A non-zero
 * return stops parsing and is returned by feed/finish. */
typedef int (*sl_sse_cb)(void *ud, const struct sl_sse_event *ev);

struct sl_sse {
  struct sl_buf line, data, event, id;
  size_t max_event;
  long retry_ms;
  bool has_data, started, cr_pending, done;
  int err;
};

/* max_event bounds a line and an event's data (0: 16 MiB). */
void sl_sse_init(struct sl_sse *p, size_t max_event);
/* Feeds n bytes. 0, the callback's non-zero value, -EMSGSIZE (an event over
 * max_event), -ENOMEM; after an error every later call returns it again. */
int sl_sse_feed(struct sl_sse *p, const char *buf, size_t n, sl_sse_cb cb, void *ud);
/* End of stream: processes an unterminated last line and dispatches a pending event. */
int sl_sse_finish(struct sl_sse *p, sl_sse_cb cb, void *ud);
void sl_sse_free(struct sl_sse *p);

/* Appends one event: "event: <event>\n" when event is not NULL, "data: <line>\n" per
 * line of data (split on \n), then the blank line. */
void sl_sse_append_event(struct sl_buf *out, const char *event, const char *data, size_t n);

#endif
