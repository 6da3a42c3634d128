/* libFuzzer target for the server's HTTP/1.1 request parser (net/http_parse.h). The
 * first three input bytes choose how the rest is cut into 1-3 reads, so requests split
 * at every position get exercised; each read lives in its own heap buffer that is freed
 * right after it is fed, so a parser that kept pointers into input would be caught by
 * ASan. Every event is handled the way the server does: HEAD -> feed the rest again,
 * REQUEST -> touch every byte of the request, then _next(), ERROR -> stop. A request
 * handed out must also obey the strictness the parser promises, whatever the cuts:
 * HTTP/1.0 or 1.1, a printable-ASCII target, token header names, one Host on 1.1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

static volatile unsigned sink;

static void touch(struct sl_slice s) {
  unsigned h = 0;
  for (size_t i = 0; i < s.n; i++) h = h * 31 + (unsigned char)s.p[i];
  sink += h;
}

static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_strict(const struct sl_http_request *r) {
  if (r->http_major != 1 || r->http_minor > 1) __builtin_trap();
  for (size_t i = 0; i < r->path.n; i++)
    if ((unsigned char)r->path.p[i] <= 0x20 || (unsigned char)r->path.p[i] >= 0x7f) __builtin_trap();
  size_t hosts = 0;
  for (size_t i = 0; i < r->nheaders; i++) {
    if (!r->headers[i].name.n) __builtin_trap();
    for (size_t j = 0; j < r->headers[i].name.n; j++)
      if (!is_tchar((unsigned char)r->headers[i].name.p[j])) __builtin_trap();
    hosts += sl_slice_eq_ci(r->headers[i].name, "host");
  }
  if (hosts > 1 || (r->http_minor == 1 && hosts != 1)) __builtin_trap();
}

static void touch_request(const struct sl_http_request *r, int complete) {
  check_strict(r);
  touch(r->method_name);
  touch(r->path);
  touch(r->query);
  for (size_t i = 0; i < r->nheaders; i++) {
    touch(r->headers[i].name);
    touch(r->headers[i].value);
  }
  if (complete) {
    if (r->body_len && !r->body) __builtin_trap();
    touch((struct sl_slice){r->body, r->body_len});
  }
}

/* Feeds one piece; returns 0 to go on with the next piece, 1 when the parser failed. */
static int feed_piece(struct sl_http_parser *p, const char *buf, size_t len) {
  size_t off = 0;
  int stuck = 0;
  for (;;) {
    size_t used = 0;
    enum sl_http_parse_event ev = sl_http_parser_feed(p, buf + off, len - off, &used);
    if (used > len - off) __builtin_trap(); /* consumed more than it was given */
    off += used;
    /* An event that consumes nothing twice in a row would spin forever in the server. */
    stuck = used ? 0 : stuck + 1;
    if (stuck > 2) __builtin_trap();
    switch (ev) {
    case SL_HP_NEED_MORE:
      if (off != len) __builtin_trap(); /* NEED_MORE promises all input was consumed */
      return 0;
    case SL_HP_HEAD: {
      const struct sl_http_request *r = sl_http_parser_request(p);
      if (!r) __builtin_trap();
      touch_request(r, 0);
      break;
    }
    case SL_HP_REQUEST: {
      const struct sl_http_request *r = sl_http_parser_request(p);
      if (!r) __builtin_trap();
      touch_request(r, 1);
      sl_http_parser_next(p);
      break;
    }
    case SL_HP_ERROR: {
      const char *msg = NULL;
      int status = sl_http_parser_error(p, &msg);
      if (status < 400 || status > 599 || !msg) __builtin_trap();
      sink += (unsigned)strlen(msg);
      /* the path the error's wire format is chosen from must still be readable */
      const struct sl_slice *path = sl_http_parser_path(p);
      for (size_t i = 0; path && i < path->n; i++) sink += (unsigned char)path->p[i];
      return 1;
    }
    default:
      __builtin_trap();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  unsigned npieces = 1 + data[0] % 3;
  const char *in = (const char *)data + 3;
  size_t len = size - 3;
  size_t cut[2] = {data[1] % (len + 1), data[2] % (len + 1)};
  if (cut[0] > cut[1]) {
    size_t t = cut[0];
    cut[0] = cut[1];
    cut[1] = t;
  }
  size_t bounds[4] = {0, len, len, len};
  if (npieces == 2) bounds[1] = cut[0];
  if (npieces == 3) bounds[1] = cut[0], bounds[2] = cut[1];

  struct sl_http_limits lim = {.max_header_bytes = 512, .max_body_bytes = 1024, .max_headers = 16};
  struct sl_http_parser *p = NULL;
  if (sl_http_parser_create(&lim, &p) != 0) return 0;
  for (unsigned i = 0; i < npieces; i++) {
    size_t n = bounds[i + 1] - bounds[i];
    char *piece = malloc(n ? n : 1);
    if (!piece) break;
    memcpy(piece, in + bounds[i], n);
    int failed = feed_piece(p, piece, n);
    free(piece);
    if (failed) break;
  }
  /* Query the state a connection close would look at. */
  sink += sl_http_parser_in_request(p) + sl_http_parser_in_body(p);
  sl_http_parser_free(p);
  return 0;
}
