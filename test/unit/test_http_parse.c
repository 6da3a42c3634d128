/* http_parse: the server's request parser, fed whole, byte by byte and pipelined. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "net/http_parse.h"

static struct sl_http_parser *mk(size_t max_head, size_t max_body) {
  struct sl_http_limits lim = {max_head, max_body, 16};
  struct sl_http_parser *p = NULL;
  sl_http_parser_create(&lim, &p);
  return p;
}

/* Feeds all of s, in pieces of `step` bytes; returns the event that stopped it and
 * how much was consumed in total. */
static enum sl_http_parse_event feed(struct sl_http_parser *p, const char *s, size_t n, size_t step,
                                     size_t *used_total) {
  size_t off = 0;
  enum sl_http_parse_event ev = SL_HP_NEED_MORE;
  while (off < n) {
    size_t len = n - off < step ? n - off : step, used = 0;
    ev = sl_http_parser_feed(p, s + off, len, &used);
    off += used;
    if (ev != SL_HP_NEED_MORE) break;
  }
  *used_total = off;
  return ev;
}

static bool slice_is(struct sl_slice s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static void simple_post(void) {
  const char *req = "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                    "X-Thing:  v  \r\n\r\nabcd";
  for (size_t step = 1; step <= strlen(req); step += (step < 8 ? 1 : 13)) {
    struct sl_http_parser *p = mk(4096, 1024);
    size_t used;
    CHECK(feed(p, req, strlen(req), step, &used) == SL_HP_REQUEST);
    CHECK(used == strlen(req));
    const struct sl_http_request *r = sl_http_parser_request(p);
    CHECK(r && r->method == SL_M_POST);
    CHECK(slice_is(r->path, "/v1/chat/completions"));
    CHECK(slice_is(r->query, "x=1"));
    CHECK(r->nheaders == 3);
    const struct sl_header *h = sl_http_header_find(r->headers, r->nheaders, "x-thing");
    CHECK(h && slice_is(h->value, "v"));
    CHECK(r->body_len == 4 && memcmp(r->body, "abcd", 4) == 0);
    CHECK(r->keep_alive);
    sl_http_parser_free(p);
  }
}

static void pipelined_in_order(void) {
  const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  struct sl_http_parser *p = mk(4096, 1024);
  size_t used;
  CHECK(sl_http_parser_feed(p, two, strlen(two), &used) == SL_HP_REQUEST);
  CHECK(slice_is(sl_http_parser_request(p)->path, "/a"));
  CHECK(used < strlen(two));
  sl_http_parser_next(p);
  size_t used2;
  CHECK(sl_http_parser_feed(p, two + used, strlen(two) - used, &used2) == SL_HP_REQUEST);
  CHECK(slice_is(sl_http_parser_request(p)->path, "/b"));
  CHECK(!sl_http_parser_request(p)->keep_alive);
  CHECK(used + used2 == strlen(two));
  sl_http_parser_free(p);
}

static void chunked_body(void) {
  const char *req = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  struct sl_http_parser *p = mk(4096, 1024);
  size_t used;
  CHECK(feed(p, req, strlen(req), 3, &used) == SL_HP_REQUEST);
  const struct sl_http_request *r = sl_http_parser_request(p);
  CHECK(r->chunked && r->body_len == 5 && memcmp(r->body, "abcde", 5) == 0);
  sl_http_parser_free(p);
}

static void expect_continue_pauses_after_head(void) {
  const char *head = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  struct sl_http_parser *p = mk(4096, 1024);
  size_t used;
  CHECK(sl_http_parser_feed(p, head, strlen(head), &used) == SL_HP_HEAD);
  CHECK(used == strlen(head));
  CHECK(sl_http_parser_request(p)->expect_continue);
  CHECK(sl_http_parser_in_body(p));
  CHECK(sl_http_parser_feed(p, "xyz", 3, &used) == SL_HP_REQUEST);
  CHECK(sl_http_parser_request(p)->body_len == 3);
  sl_http_parser_free(p);
}

static void limits(void) {
  struct sl_http_parser *p = mk(64, 8);
  size_t used;
  const char *big = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
  CHECK(sl_http_parser_feed(p, big, strlen(big), &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 431);
  sl_http_parser_free(p);

  p = mk(4096, 8);
  const char *cl = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n";
  CHECK(sl_http_parser_feed(p, cl, strlen(cl), &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 413);
  sl_http_parser_free(p);

  p = mk(4096, 8);
  const char *ch = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n";
  CHECK(sl_http_parser_feed(p, ch, strlen(ch), &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 413);
  sl_http_parser_free(p);

  p = mk(100000, 8);
  char many[4096] = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 20; i++) strcat(many, "A: b\r\n");
  strcat(many, "\r\n");
  CHECK(sl_http_parser_feed(p, many, strlen(many), &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 431);
  sl_http_parser_free(p);
}

static void malformed(void) {
  const char *bad[] = {
    "GARBAGE\r\n\r\n",
    "GET / HTTP/9.9\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_http_parser *p = mk(4096, 1024);
    size_t used;
    CHECK(sl_http_parser_feed(p, bad[i], strlen(bad[i]), &used) == SL_HP_ERROR);
    CHECK(sl_http_parser_error(p, NULL) == 400);
    sl_http_parser_free(p);
  }
}

static void in_request_tracks_partial_head(void) {
  struct sl_http_parser *p = mk(4096, 1024);
  size_t used;
  CHECK(!sl_http_parser_in_request(p));
  CHECK(sl_http_parser_feed(p, "GET / HT", 8, &used) == SL_HP_NEED_MORE);
  CHECK(sl_http_parser_in_request(p) && !sl_http_parser_in_body(p));
  sl_http_parser_free(p);
}

/* Issue 11: trailer fields used to be appended to the head buffer after the path and
 * header slices were taken; a few KB of trailers moved the buffer and the slices read
 * freed memory (ASan: heap-use-after-free). The slices must survive the trailers. */
static void trailers_keep_head_slices(void) {
  char req[16384];
  int n = snprintf(req, sizeof req, "POST /v1/chat/completions?q=1 HTTP/1.1\r\nHost: a\r\n"
                                    "Authorization: Bearer sk-secret\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "3\r\nabc\r\n0\r\n");
  for (int i = 0; i < 40; i++) n += snprintf(req + n, sizeof req - (size_t)n, "X-Trailer-%02d: %0200d\r\n", i, i);
  n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  for (size_t step = 1; step <= (size_t)n; step = step < 8 ? step + 1 : step * 3) {
    struct sl_http_limits lim = {65536, 1024, 64};
    struct sl_http_parser *p = NULL;
    CHECK(sl_http_parser_create(&lim, &p) == 0);
    size_t used;
    CHECK(feed(p, req, (size_t)n, step, &used) == SL_HP_REQUEST);
    CHECK(used == (size_t)n);
    const struct sl_http_request *r = sl_http_parser_request(p);
    CHECK(r && slice_is(r->path, "/v1/chat/completions") && slice_is(r->query, "q=1"));
    CHECK(r->nheaders == 3);
    const struct sl_header *h = sl_http_header_find(r->headers, r->nheaders, "authorization");
    CHECK(h && slice_is(h->value, "Bearer sk-secret"));
    CHECK(r->body_len == 3 && memcmp(r->body, "abc", 3) == 0);
    sl_http_parser_free(p);
  }
}

/* Trailers still count against the header budget. */
static void trailers_limited(void) {
  char req[8192];
  int n = snprintf(req, sizeof req, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
  for (int i = 0; i < 20; i++) n += snprintf(req + n, sizeof req - (size_t)n, "X-T: %0200d\r\n", i);
  n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  struct sl_http_parser *p = mk(1024, 1024);
  size_t used;
  CHECK(sl_http_parser_feed(p, req, (size_t)n, &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 431);
  sl_http_parser_free(p);
}

/* Issue 19: RFC 9112 strictness. Each row is refused with its status, whole or fed in
 * pieces of every size, and the accepted rows stay accepted. */
static const struct {
  const char *req;
  size_t len; /* 0: strlen */
  int status; /* 0: accepted as one request */
} strict_rows[] = {
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", 0, 400},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX0\r\n\r\n", 0, 400},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 0, 400},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 400},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\t,chunked\r\n\r\n0\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX-A:\r\n\tb\r\n\r\n", 0, 400},
  {"GET /x HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 0, 400},
  {"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 0, 505},
  {"GET /x HTTP/0.9\r\nHost: a\r\n\r\n", 0, 505},
  {"GET /x\r\n\r\n", 0, 505},
  {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, 505},
  {"GET /\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
  {"GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 23, 400},
  {"POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, 501},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5000\r\nabc", 0, 413},
  /* accepted */
  {"GET /x HTTP/1.0\r\n\r\n", 0, 0},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n", 0, 0},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n", 0, 0},
  {"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 0, 0},
  {"GET /x HTTP/1.1\r\nHost: a\r\nX-A:\r\n\r\n", 0, 0},
  {"GET /x HTTP/1.1\r\nHost:  \ta \t\r\n\r\n", 0, 0},
};

static void strictness_rows(void) {
  for (size_t i = 0; i < sizeof strict_rows / sizeof strict_rows[0]; i++) {
    const char *req = strict_rows[i].req;
    size_t n = strict_rows[i].len ? strict_rows[i].len : strlen(req);
    for (size_t step = 1; step <= n; step++) {
      struct sl_http_parser *p = mk(4096, 1024);
      size_t used;
      enum sl_http_parse_event ev = feed(p, req, n, step, &used);
      if (strict_rows[i].status) {
        if (ev != SL_HP_ERROR || sl_http_parser_error(p, NULL) != strict_rows[i].status)
          fprintf(stderr, "row %zu step %zu: event %d status %d\n", i, step, ev, sl_http_parser_error(p, NULL));
        CHECK(ev == SL_HP_ERROR && sl_http_parser_error(p, NULL) == strict_rows[i].status);
      } else {
        if (ev != SL_HP_REQUEST) fprintf(stderr, "row %zu step %zu: event %d\n", i, step, ev);
        CHECK(ev == SL_HP_REQUEST && used == n);
      }
      sl_http_parser_free(p);
    }
  }
}

/* Chunk extensions are bounded (CVE-2024-22019 class): the parser fails while the
 * extension is still arriving, not after buffering or scanning megabytes of it. */
static void chunk_extensions_bounded(void) {
  static char big[1 << 20];
  int n = snprintf(big, sizeof big, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;x=");
  memset(big + n, 'a', sizeof big - (size_t)n);
  struct sl_http_parser *p = mk(4096, 1024);
  size_t used;
  CHECK(sl_http_parser_feed(p, big, sizeof big, &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 400);
  sl_http_parser_free(p);
  /* many small extensions add up to the same limit */
  p = mk(4096, 1 << 20);
  n = snprintf(big, sizeof big, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  while (n < (int)sizeof big - 64) n += snprintf(big + n, sizeof big - (size_t)n, "1;ext=%040d\r\na\r\n", 7);
  CHECK(sl_http_parser_feed(p, big, (size_t)n, &used) == SL_HP_ERROR);
  CHECK(sl_http_parser_error(p, NULL) == 400);
  sl_http_parser_free(p);
}

/* A chunk-size line may not run on forever either (leading zeros), while a body of many
 * one-byte chunks, fed a byte at a time, is fine. */
static void chunk_framing_bounded(void) {
  struct sl_http_parser *p = mk(4096, 1 << 20);
  const char *head = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  size_t used;
  CHECK(sl_http_parser_feed(p, head, strlen(head), &used) == SL_HP_NEED_MORE);
  static char zeros[4096];
  memset(zeros, '0', sizeof zeros);
  enum sl_http_parse_event ev = SL_HP_NEED_MORE;
  for (int i = 0; i < 4096 && ev == SL_HP_NEED_MORE; i++) ev = sl_http_parser_feed(p, zeros, sizeof zeros, &used);
  CHECK(ev == SL_HP_ERROR && sl_http_parser_error(p, NULL) == 400);
  sl_http_parser_free(p);

  p = mk(4096, 1 << 20);
  static char req[200000];
  int n = snprintf(req, sizeof req, "%s", head);
  for (int i = 0; i < 20000; i++) n += snprintf(req + n, sizeof req - (size_t)n, "1\r\n%c\r\n", 'a' + i % 26);
  n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
  CHECK(feed(p, req, (size_t)n, 1, &used) == SL_HP_REQUEST && used == (size_t)n);
  CHECK(sl_http_parser_request(p)->body_len == 20000);
  sl_http_parser_free(p);
}

/* An Upgrade header is ignored (no protocol switch): the connection stays usable, so a
 * pipelined request after it is parsed, not refused. */
static void upgrade_keeps_connection(void) {
  const char *two[] = {
    "GET /a HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /a HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nContent-Length: 2\r\n\r\nhi"
    "GET /b HTTP/1.1\r\nHost: a\r\n\r\n",
  };
  for (size_t i = 0; i < 2; i++) {
    struct sl_http_parser *p = mk(4096, 1024);
    size_t used, used2;
    CHECK(sl_http_parser_feed(p, two[i], strlen(two[i]), &used) == SL_HP_REQUEST);
    CHECK(slice_is(sl_http_parser_request(p)->path, "/a") && sl_http_parser_request(p)->keep_alive);
    sl_http_parser_next(p);
    CHECK(sl_http_parser_feed(p, two[i] + used, strlen(two[i]) - used, &used2) == SL_HP_REQUEST);
    CHECK(slice_is(sl_http_parser_request(p)->path, "/b"));
    CHECK(used + used2 == strlen(two[i]));
    sl_http_parser_free(p);
  }
}

/* A reset parser is as good as a new one: after a request, an error, or a half-read
 * head, it parses the next connection's request from scratch (HTTP/1.0, no keep-alive
 * leftovers, no sticky error). */
static void reset_is_like_new(void) {
  struct sl_http_parser *p = mk(8192, 1 << 20);
  size_t used;
  static const char a[] = "POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  CHECK(feed(p, a, sizeof a - 1, 1000, &used) == SL_HP_REQUEST);
  sl_http_parser_reset(p);
  static const char b[] = "GET /health?x=1 HTTP/1.0\r\nA: b\r\n\r\n";
  CHECK(feed(p, b, sizeof b - 1, 3, &used) == SL_HP_REQUEST);
  const struct sl_http_request *r = sl_http_parser_request(p);
  CHECK(r->method == SL_M_GET && slice_is(r->path, "/health") && slice_is(r->query, "x=1"));
  CHECK(r->http_minor == 0 && !r->keep_alive && r->nheaders == 1 && r->content_length == -1 && r->body_len == 0);
  sl_http_parser_reset(p); /* after an error: the error does not stick */
  CHECK(feed(p, "BAD\x01 / HTTP/1.1\r\n\r\n", 19, 100, &used) == SL_HP_ERROR);
  sl_http_parser_reset(p);
  CHECK(!sl_http_parser_in_request(p));
  CHECK(feed(p, "GET / HT", 8, 100, &used) == SL_HP_NEED_MORE && sl_http_parser_in_request(p));
  sl_http_parser_reset(p); /* a half-read head is gone */
  CHECK(!sl_http_parser_in_request(p));
  CHECK(feed(p, a, sizeof a - 1, 7, &used) == SL_HP_REQUEST);
  r = sl_http_parser_request(p);
  CHECK(r->method == SL_M_POST && r->body_len == 2 && memcmp(r->body, "{}", 2) == 0 && r->keep_alive);
  sl_http_parser_free(p);
}

CHECK_MAIN(T(simple_post), T(pipelined_in_order), T(chunked_body), T(expect_continue_pauses_after_head), T(limits),
           T(malformed), T(in_request_tracks_partial_head),
           T(trailers_keep_head_slices), T(trailers_limited), T(strictness_rows), T(chunk_extensions_bounded),
           T(upgrade_keeps_connection), T(chunk_framing_bounded), T(reset_is_like_new))
