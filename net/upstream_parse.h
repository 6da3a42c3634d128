/* The upstream client's HTTP/1.1 response parser, separated from sockets so it can be
 * unit tested and fuzzed: bytes go in, the head and de-chunked body pieces come out
 * through the same on_head/on_body callbacks the client uses, and the end of the
 * response (or one precise error) comes back as a return code. The idea: llhttp does
 * the framing (Content-Length, chunked, read-until-close, 1xx); this layer only keeps
 * the head bytes in a bounded buffer (they may span reads), skips interim responses,
 * and stops exactly where the response ends so the connection can be reused. */
#ifndef SL_NET_UPSTREAM_PARSE_H
#define SL_NET_UPSTREAM_PARSE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/upstream.h"

#define SL_UP_PARSE_MAX_HEADERS 100
#define SL_UP_PARSE_HEAD_MAX 16384 /* header names + values of one response */
#define SL_UP_PARSE_MAX_INTERIM 16 /* 1xx responses skipped before the final one */

enum sl_upstream_parse_rc {
  SL_UP_PARSE_MORE = 0,   /* all bytes consumed; the response is not complete yet */
  SL_UP_PARSE_PAUSED = 1, /* `stop` was set during a callback; bytes after *used are unread */
  SL_UP_PARSE_DONE = 2,   /* the response is complete; bytes after *used are not part of it */
};

struct sl_upstream_parse {
  llhttp_t http;
  const struct sl_upstream_cbs *cbs; /* only on_head / on_body are used (may be NULL) */
  void *ud;
  const char *err;  /* why feed/eof failed (static string) */
  bool stop;        /* set by the owner from inside a callback: parsing stops after it */
  bool done;        /* the final response is complete */
  bool keep_alive;  /* valid when done: the connection may carry another exchange */
  bool no_body;     /* response to HEAD */
  bool head_seen;   /* on_head was delivered */
  bool in_field;
  int status;
  unsigned ninterim; /* 1xx responses skipped so far */
  size_t nh, hlen;
  struct sl_header h[SL_UP_PARSE_MAX_HEADERS];
  char hbuf[SL_UP_PARSE_HEAD_MAX];
};

/* Prepares ps for one response (call again before each response on a reused
 * connection). head_request: the request was HEAD, so the response has no body. */
void sl_upstream_parse_init(struct sl_upstream_parse *ps, const struct sl_upstream_cbs *cbs,
                            void *ud, bool head_request);
/* Feeds n bytes. Returns an sl_upstream_parse_rc with *used set to the bytes consumed,
 * or -EPROTO (ps->err says why). After PAUSED, call sl_upstream_parse_resume() and
 * feed the unread rest again. */
int sl_upstream_parse_feed(struct sl_upstream_parse *ps, const char *p, size_t n, size_t *used);
void sl_upstream_parse_resume(struct sl_upstream_parse *ps);
/* The peer closed the connection: SL_UP_PARSE_DONE when that ends a read-until-close
 * body, else -ECONNRESET (ps->err says why). */
int sl_upstream_parse_eof(struct sl_upstream_parse *ps);

/* One-shot driver for fuzzing and tests: parses a whole byte string (as if received in
 * one read, followed by EOF when eof) and reports everything through cbs, including
 * on_done / on_error (SL_UP_PROTOCOL or SL_UP_RESET). Nothing is reported when the
 * input ends mid-response without eof. */
void sl_upstream_parse_run(const char *p, size_t n, bool eof, bool head_request,
                           const struct sl_upstream_cbs *cbs, void *ud);

#endif
