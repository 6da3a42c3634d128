/* Server-side request parser on llhttp. The request line and headers are copied into
 * one head buffer as they arrive (they may be split across reads) and recorded as
 * offsets; offsets become slices only when the head is complete, and from then on
 * nothing is appended to the head buffer (trailer fields are counted against the header
 * budget and dropped), so the slices stay valid until _next(). The body goes into a
 * second buffer. llhttp is paused after the head of a request that expects
 * `100-continue` (so the caller can give the go-ahead) and after each message (so
 * pipelined requests are handed out one at a time, in order).
 * llhttp runs in its default (loose) build, so the RFC 9112 rules it lets through are
 * checked here, on the raw bytes of the current read: CRLF after chunk data, obs-fold,
 * token header names, a printable-ASCII request target, exactly one Host on HTTP/1.1,
 * HTTP/1.0 or 1.1 only, `chunked` as the only transfer coding, bounded chunk
 * extensions and framing, and a chunk larger than the body limit refused before it
 * arrives. To add
 * a rule: check it in the callback that sees the bytes and `return fail(p, status, msg)`. */
#include "net/http_parse.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/base/buf.h"

/* Chunk extensions carry nothing we use; their bytes per request are capped (the
 * CVE-2024-22019 class: megabytes of extension that no limit counted). */
#define SL_HTTP_MAX_CHUNK_EXT 4096
/* Framing bytes of a chunked body (size lines, CRLFs, extensions, trailers) may not run
 * on without data either (`0000...` forever): a fixed allowance plus this much per chunk. */
#define SL_HTTP_CHUNK_FRAMING 64

struct hdr_off {
  size_t name, name_len, value, value_len;
};

struct sl_http_parser {
  llhttp_t ll;
  struct sl_http_limits lim;
  struct sl_buf head, body;
  struct hdr_off *offs;
  size_t noffs;
  size_t url_len;
  size_t head_bytes;
  int last_cb; /* 0 none, 1 field, 2 value */
  bool in_request, head_done, message_done, head_reported;
  bool path_set; /* req.path is whole (the head ended, even if it is then refused) */
  struct sl_http_request req;
  struct sl_header *hdrs; /* lim.max_headers entries */
  int err_status;
  const char *err_msg;
  char err_buf[96];
  const char *in, *in_end; /* the read being fed, for the checks on raw bytes */
  bool lf_ws_tail;         /* head: the bytes so far end in LF followed only by SP/HT */
  uint8_t crlf_left;       /* bytes of the CRLF after chunk data still to check */
  size_t chunk_ext_bytes;
  size_t chunks, framing; /* chunked body: chunks begun, bytes read that were not data */
};

static struct sl_http_parser *P(llhttp_t *ll) { return (struct sl_http_parser *)ll->data; }

static int fail(struct sl_http_parser *p, int status, const char *msg) {
  p->err_status = status;
  p->err_msg = msg;
  return HPE_USER;
}

static int count_head(struct sl_http_parser *p, size_t n) {
  p->head_bytes += n;
  if (p->head_bytes > p->lim.max_header_bytes)
    return fail(p, 431, "Request header fields too large");
  return 0;
}

static int on_message_begin(llhttp_t *ll) {
  struct sl_http_parser *p = P(ll);
  p->in_request = true;
  return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n) {
  struct sl_http_parser *p = P(ll);
  if (count_head(p, n)) return HPE_USER;
  for (size_t i = 0; i < n; i++) /* RFC 3986: anything else must be percent-encoded */
    if ((unsigned char)at[i] <= 0x20 || (unsigned char)at[i] >= 0x7f)
      return fail(p, 400, "Malformed HTTP request: invalid character in the request target");
  sl_buf_append(&p->head, at, n);
  p->url_len += n;
  return p->head.oom ? fail(p, 500, "Out of memory") : 0;
}

static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* obs-fold: the value span starts after LF + whitespace (llhttp reports a folded line as
 * a new span of the same value). The bytes before `at` are in this read, or were at the
 * tail of an earlier one. */
static bool after_fold(const struct sl_http_parser *p, const char *at) {
  const char *q = at;
  while (q > p->in && (q[-1] == ' ' || q[-1] == '\t')) q--;
  return q > p->in ? q[-1] == '\n' : p->lf_ws_tail;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n) {
  struct sl_http_parser *p = P(ll);
  if (count_head(p, n + 4)) return HPE_USER;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)at[i]))
      return fail(p, 400, "Malformed HTTP request: invalid character in a header field name");
  if (p->head_done) return 0; /* a trailer field: counted, not kept */
  if (p->last_cb != 1) {
    if (p->noffs == p->lim.max_headers) return fail(p, 431, "Too many request header fields");
    p->offs[p->noffs++] = (struct hdr_off){p->head.n, 0, 0, 0};
    p->last_cb = 1;
  }
  sl_buf_append(&p->head, at, n);
  p->offs[p->noffs - 1].name_len += n;
  return p->head.oom ? fail(p, 500, "Out of memory") : 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n) {
  struct sl_http_parser *p = P(ll);
  if (count_head(p, n)) return HPE_USER;
  if (p->head_done) return 0; /* a trailer field: counted, not kept */
  /* (an empty value's span may start on the next line, so only non-empty spans count) */
  if (n && after_fold(p, at)) return fail(p, 400, "Malformed HTTP request: obsolete line folding in a header field");
  if (!p->noffs || !p->offs[p->noffs - 1].name_len)
    return fail(p, 400, "Malformed HTTP request: empty header field name");
  struct hdr_off *o = &p->offs[p->noffs - 1];
  if (p->last_cb != 2) {
    o->value = p->head.n;
    p->last_cb = 2;
  }
  sl_buf_append(&p->head, at, n);
  o->value_len += n;
  return p->head.oom ? fail(p, 500, "Out of memory") : 0;
}

static enum sl_http_method_kind method_kind(uint8_t m) {
  switch (m) {
  case HTTP_GET: return SL_M_GET;
  case HTTP_HEAD: return SL_M_HEAD;
  case HTTP_POST: return SL_M_POST;
  case HTTP_OPTIONS: return SL_M_OPTIONS;
  case HTTP_DELETE: return SL_M_DELETE;
  default: return SL_M_OTHER;
  }
}

static int on_headers_complete(llhttp_t *ll) {
  struct sl_http_parser *p = P(ll);
  struct sl_http_request *r = &p->req;
  const char *base = p->head.p ? p->head.p : "";
  memset(r, 0, sizeof *r);
  size_t q = 0;
  while (q < p->url_len && base[q] != '?') q++;
  r->path = (struct sl_slice){base, q};
  r->query = q < p->url_len ? (struct sl_slice){base + q + 1, p->url_len - q - 1}
                            : (struct sl_slice){base + p->url_len, 0};
  p->path_set = true;
  for (size_t i = 0; i < p->noffs; i++) {
    p->hdrs[i].name = (struct sl_slice){base + p->offs[i].name, p->offs[i].name_len};
    size_t vl = p->offs[i].value_len; /* trailing whitespace is not part of the value */
    while (vl && (base[p->offs[i].value + vl - 1] == ' ' || base[p->offs[i].value + vl - 1] == '\t')) vl--;
    p->hdrs[i].value = (struct sl_slice){base + p->offs[i].value, vl};
  }
  r->headers = p->hdrs;
  r->nheaders = p->noffs;
  r->method = method_kind(ll->method);
  const char *mn = llhttp_method_name((llhttp_method_t)ll->method);
  r->method_name = (struct sl_slice){mn, strlen(mn)};
  r->http_major = ll->http_major;
  r->http_minor = ll->http_minor;
  r->keep_alive = llhttp_should_keep_alive(ll);
  r->chunked = (ll->flags & F_CHUNKED) != 0;
  r->content_length = (ll->flags & F_CONTENT_LENGTH) ? (int64_t)ll->content_length : -1;
  if (r->http_major != 1 || r->http_minor > 1)
    return fail(p, 505, "HTTP version not supported: use HTTP/1.1 or HTTP/1.0");
  size_t hosts = 0;
  for (size_t i = 0; i < p->noffs; i++) hosts += sl_slice_eq_ci(p->hdrs[i].name, "host");
  if (hosts > 1) return fail(p, 400, "Malformed HTTP request: more than one Host header");
  if (hosts == 0 && r->http_minor == 1) return fail(p, 400, "Malformed HTTP request: missing Host header");
  if (ll->flags & F_TRANSFER_ENCODING) {
    if (r->http_minor == 0)
      return fail(p, 400, "Malformed HTTP request: Transfer-Encoding in an HTTP/1.0 request");
    const struct sl_header *te = sl_http_header_find(p->hdrs, p->noffs, "transfer-encoding");
    /* Not chunked last: llhttp refuses it with 400 after this callback. */
    if (r->chunked && te && !sl_slice_eq_ci(te->value, "chunked"))
      return fail(p, 501, "Transfer-Encoding other than chunked is not supported");
  }
  /* No protocol switch is offered: the request is answered as a plain HTTP/1.1 one and
   * the connection stays HTTP/1.1 (llhttp would stop parsing after it). */
  ll->upgrade = 0;
  const struct sl_header *ex = sl_http_header_find(p->hdrs, p->noffs, "expect");
  if (ex) {
    if (!sl_slice_eq_ci(ex->value, "100-continue")) return fail(p, 417, "Unsupported Expect header");
    r->expect_continue = r->http_major == 1 && r->http_minor >= 1;
  }
  if (r->content_length > 0 && (uint64_t)r->content_length > p->lim.max_body_bytes)
    return fail(p, 413, "Request body too large");
  if (r->content_length > 0) {
    /* Reserve once; the body cannot outgrow the declared length. */
    sl_buf_append(&p->body, "", 0);
    if (p->body.cap < (size_t)r->content_length + 1) {
      char *nb = realloc(p->body.p, (size_t)r->content_length + 1);
      if (!nb) return fail(p, 500, "Out of memory");
      p->body.p = nb;
      p->body.cap = (size_t)r->content_length + 1;
    }
  }
  p->head_done = true;
  /* Hand the head out early only when the client waits for our go-ahead. */
  return r->expect_continue && (r->chunked || r->content_length > 0) ? HPE_PAUSED : 0;
}

/* Checks the CRLF that must follow chunk data, from `from` up to the end of this read;
 * what is not there yet is checked at the start of the next one. */
static int check_crlf(struct sl_http_parser *p, const char *from) {
  while (p->crlf_left && from < p->in_end) {
    if (*from++ != (p->crlf_left == 2 ? '\r' : '\n'))
      return fail(p, 400, "Malformed HTTP request: chunk data not followed by CRLF");
    p->crlf_left--;
  }
  return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t n) {
  struct sl_http_parser *p = P(ll);
  if (p->body.n + n > p->lim.max_body_bytes) return fail(p, 413, "Request body too large");
  sl_buf_append(&p->body, at, n);
  if (p->body.oom) return fail(p, 500, "Out of memory");
  if ((ll->flags & F_CHUNKED) && ll->content_length == 0) { /* the end of one chunk's data */
    p->crlf_left = 2;
    return check_crlf(p, at + n);
  }
  return 0;
}

static int on_chunk_header(llhttp_t *ll) {
  struct sl_http_parser *p = P(ll);
  if (ll->content_length > p->lim.max_body_bytes - p->body.n) return fail(p, 413, "Request body too large");
  p->chunks++;
  return 0;
}

static int on_chunk_ext(llhttp_t *ll, const char *at, size_t n) {
  (void)at;
  struct sl_http_parser *p = P(ll);
  p->chunk_ext_bytes += n;
  if (p->chunk_ext_bytes > SL_HTTP_MAX_CHUNK_EXT)
    return fail(p, 400, "Malformed HTTP request: chunk extensions too long");
  return 0;
}

static int on_message_complete(llhttp_t *ll) {
  struct sl_http_parser *p = P(ll);
  p->req.body = p->body.p ? p->body.p : "";
  p->req.body_len = p->body.n;
  p->message_done = true;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_chunk_header = on_chunk_header,
  .on_chunk_extension_name = on_chunk_ext,
  .on_chunk_extension_value = on_chunk_ext,
  .on_message_complete = on_message_complete,
};

int sl_http_parser_create(const struct sl_http_limits *lim, struct sl_http_parser **out) {
  struct sl_http_parser *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  p->lim = *lim;
  if (!p->lim.max_headers) p->lim.max_headers = 100;
  p->offs = calloc(p->lim.max_headers, sizeof *p->offs);
  p->hdrs = calloc(p->lim.max_headers, sizeof *p->hdrs);
  if (!p->offs || !p->hdrs) {
    sl_http_parser_free(p);
    return -ENOMEM;
  }
  llhttp_init(&p->ll, HTTP_REQUEST, &settings);
  p->ll.data = p;
  *out = p;
  return 0;
}

void sl_http_parser_reset(struct sl_http_parser *p) {
  struct sl_http_parser keep = *p;
  memset(p, 0, sizeof *p);
  p->lim = keep.lim;
  p->offs = keep.offs;
  p->hdrs = keep.hdrs;
  p->head = keep.head;
  p->body = keep.body;
  p->head.n = p->body.n = 0;
  if (p->body.cap > 65536) sl_buf_free(&p->body);
  if (p->head.cap > 65536) sl_buf_free(&p->head);
  llhttp_init(&p->ll, HTTP_REQUEST, &settings);
  p->ll.data = p;
}

void sl_http_parser_free(struct sl_http_parser *p) {
  if (!p) return;
  sl_buf_free(&p->head);
  sl_buf_free(&p->body);
  free(p->offs);
  free(p->hdrs);
  free(p);
}

enum sl_http_parse_event sl_http_parser_feed(struct sl_http_parser *p, const char *data, size_t len,
                                             size_t *consumed) {
  *consumed = 0;
  if (p->err_status) return SL_HP_ERROR;
  if (p->message_done) return SL_HP_REQUEST; /* caller must call _next() first */
  if (len == 0) return SL_HP_NEED_MORE;
  p->in = data;
  p->in_end = data + len;
  if (p->crlf_left && check_crlf(p, data)) return SL_HP_ERROR;
  bool in_chunks = p->head_done && (p->ll.flags & F_CHUNKED);
  size_t body_before = p->body.n;
  llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
  if (e == HPE_OK && in_chunks) { /* a read wholly inside a chunked body */
    p->framing += len - (p->body.n - body_before);
    if (p->framing > 4096 + SL_HTTP_MAX_CHUNK_EXT + p->lim.max_header_bytes + SL_HTTP_CHUNK_FRAMING * p->chunks) {
      fail(p, 400, "Malformed HTTP request: chunked framing without data");
      return SL_HP_ERROR;
    }
  }
  if (e == HPE_OK && !p->head_done) { /* remember whether the head so far ends in LF + SP/HT */
    const char *q = data + len;
    while (q > data && (q[-1] == ' ' || q[-1] == '\t')) q--;
    if (q > data) p->lf_ws_tail = q[-1] == '\n';
  }
  if (e == HPE_OK) {
    *consumed = len;
    return SL_HP_NEED_MORE;
  }
  if (e == HPE_PAUSED) {
    const char *pos = llhttp_get_error_pos(&p->ll);
    *consumed = pos ? (size_t)(pos - data) : len;
    llhttp_resume(&p->ll);
    if (p->message_done) return SL_HP_REQUEST;
    return SL_HP_HEAD;
  }
  if (!p->err_status && e == HPE_PAUSED_H2_UPGRADE) /* the HTTP/2 preface, "PRI * HTTP/2.0" */
    fail(p, 505, "HTTP version not supported: use HTTP/1.1 or HTTP/1.0");
  if (!p->err_status) { /* llhttp's own refusal; its reason is a static string */
    const char *why = llhttp_get_error_reason(&p->ll);
    p->err_status = 400;
    snprintf(p->err_buf, sizeof p->err_buf, "Malformed HTTP request%s%s", why ? ": " : "", why ? why : "");
    p->err_msg = p->err_buf;
  }
  return SL_HP_ERROR;
}

const struct sl_http_request *sl_http_parser_request(const struct sl_http_parser *p) {
  return p->head_done ? &p->req : NULL;
}

void sl_http_parser_next(struct sl_http_parser *p) {
  p->head.n = 0;
  p->body.n = 0;
  /* A connection that once carried a large body should not keep it while idle. */
  if (p->body.cap > 65536) sl_buf_free(&p->body);
  if (p->head.cap > 65536) sl_buf_free(&p->head);
  p->noffs = 0;
  p->url_len = 0;
  p->head_bytes = 0;
  p->last_cb = 0;
  p->lf_ws_tail = false;
  p->crlf_left = 0;
  p->chunk_ext_bytes = 0;
  p->chunks = p->framing = 0;
  p->in_request = p->head_done = p->message_done = p->path_set = false;
  memset(&p->req, 0, sizeof p->req);
}

bool sl_http_parser_in_request(const struct sl_http_parser *p) { return p->in_request; }
bool sl_http_parser_in_body(const struct sl_http_parser *p) { return p->head_done && !p->message_done; }
const struct sl_slice *sl_http_parser_path(const struct sl_http_parser *p) { return p->path_set ? &p->req.path : NULL; }

int sl_http_parser_error(const struct sl_http_parser *p, const char **msg) {
  if (msg) *msg = p->err_msg;
  return p->err_status;
}
