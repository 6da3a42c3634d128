/* The HTTP/1.1 request parser of the server, separated from sockets so it can be unit
 * tested and fuzzed: bytes go in, complete requests (or one precise error with its
 * HTTP status) come out. It pauses after each request so pipelined requests are
 * handed over one at a time and answered in order. Limits are enforced while parsing,
 * before memory is committed. */
#ifndef SL_NET_HTTP_PARSE_H
#define SL_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire/http_common.h"

struct sl_http_limits {
  size_t max_header_bytes; /* request line + headers; beyond -> 431 */
  size_t max_body_bytes;   /* declared or chunked-accumulated body; beyond -> 413 */
  size_t max_headers;      /* header count; beyond -> 431 */
};

enum sl_http_method_kind { SL_M_OTHER = 0, SL_M_GET, SL_M_HEAD, SL_M_POST, SL_M_OPTIONS, SL_M_DELETE };

struct sl_http_request {
  enum sl_http_method_kind method;
  struct sl_slice method_name;
  struct sl_slice path;   /* URL path without query */
  struct sl_slice query;  /* after '?', may be empty */
  struct sl_header *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  int http_major, http_minor;
  bool keep_alive;
  bool expect_continue;
  bool chunked;
  int64_t content_length; /* -1 when absent */
};

enum sl_http_parse_event {
  SL_HP_NEED_MORE = 0, /* all input consumed, no complete request yet */
  SL_HP_HEAD,          /* headers of a request are complete (body may follow); feed again */
  SL_HP_REQUEST,       /* a complete request is in sl_http_parser_request(); call _next() when done */
  SL_HP_ERROR,         /* sl_http_parser_error() tells status and message; the connection must close */
};

struct sl_http_parser;

int sl_http_parser_create(const struct sl_http_limits *lim, struct sl_http_parser **out);
void sl_http_parser_free(struct sl_http_parser *p);
/* Makes p as sl_http_parser_create made it (same limits), keeping its memory: for a
 * server that reuses parsers across connections instead of allocating one each time. */
void sl_http_parser_reset(struct sl_http_parser *p);

/* Feeds input; *consumed tells how much of it was used (the rest must be fed again
 * after the event is handled). */
enum sl_http_parse_event sl_http_parser_feed(struct sl_http_parser *p, const char *data,
                                             size_t len, size_t *consumed);
/* Valid after SL_HP_HEAD (body not yet filled) and SL_HP_REQUEST, until _next(). */
const struct sl_http_request *sl_http_parser_request(const struct sl_http_parser *p);
/* The request path (without query) once the head has ended, also when the head is then
 * refused (413 for a declared length, 505, ...); NULL before. For the error's wire format. */
const struct sl_slice *sl_http_parser_path(const struct sl_http_parser *p);
/* Releases the current request's memory and readies for the next one. */
void sl_http_parser_next(struct sl_http_parser *p);
/* True while a request has started (some bytes of it seen) but is not complete. */
bool sl_http_parser_in_request(const struct sl_http_parser *p);
/* True when headers are complete and the body is still being read. */
bool sl_http_parser_in_body(const struct sl_http_parser *p);
int sl_http_parser_error(const struct sl_http_parser *p, const char **msg); /* returns status */

#endif
