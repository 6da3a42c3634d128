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

/* ---- the framer: the upstream bytes framed once, for a chain of filters ----
 *
 * The parser above hands out events with their data; a filter chain also needs each
 * event's bytes exactly as they came (to forward them unchanged, or minus one member),
 * so the framer hands out frames. An event is a block of lines ended by an empty line
 * (\n, \r\n or \r; a leading UTF-8 BOM does not make the first line non-empty). An
 * event that lies wholly inside one input is referenced in place; only an event split
 * across inputs is copied (into the framer's own buffer). An event ends at the \r of
 * its empty line; when the next byte is the \n of that \r\n it comes as a TAIL frame of
 * its own (it belongs with the event before: forward it or drop it with that one). An
 * event longer than max_event is not held: its bytes come as OVERSIZE frames as they
 * arrive, unread. Within an event: ':' lines are comments, "data" lines are joined with
 * \n, the last "event" line names it; other fields (id, retry) are not read. */
enum sl_sse_frame_kind { SL_SSE_EVENT, SL_SSE_TAIL, SL_SSE_OVERSIZE };

struct sl_sse_frame {
  enum sl_sse_frame_kind kind;
  const char *raw; /* the bytes as they came (EVENT: the whole block, its empty line
                    * included, or the stream's last bytes at finish) */
  size_t raw_len;
  const char *event; /* EVENT: the event field, "" when none */
  size_t event_len;
  const char *data;  /* EVENT: data lines joined with \n; NULL when there was no data
                      * line. NUL-terminated only when data_lines > 1. */
  size_t data_len;
  size_t data_lines;
  size_t data_off;   /* data_lines == 1: where data starts in raw */
};

/* Called once per frame; pointers stay valid until the next feed/finish call (so a
 * caller may gather a whole input's frames and write them at once). A non-zero return
 * stops framing and is returned. */
typedef int (*sl_sse_frame_cb)(void *ud, const struct sl_sse_frame *fr);

struct sl_sse_framer {
  size_t max_event;
  struct sl_buf held, done, data; /* an event split across inputs; the last one completed
                                   * from `held` (kept valid until the next call); joined data */
  bool cr_pending, cr_ended_event, line_empty, overflow, first_block;
  int bom; /* BOM bytes matched at stream start; -1 when decided */
  int err;
};

/* max_event bounds one held event (0: 16 MiB). */
void sl_sse_framer_init(struct sl_sse_framer *f, size_t max_event);
/* 0, the callback's non-zero value, or -ENOMEM (sticky). */
int sl_sse_framer_feed(struct sl_sse_framer *f, const char *p, size_t n, sl_sse_frame_cb cb, void *ud);
/* End of stream: a held last event without its empty line comes as an EVENT frame. */
int sl_sse_framer_finish(struct sl_sse_framer *f, sl_sse_frame_cb cb, void *ud);
void sl_sse_framer_free(struct sl_sse_framer *f);

#endif
