/* Response parsing for the upstream client (see upstream_parse.h). llhttp frames the
 * response; we copy header bytes into a fixed buffer because a head may span several
 * reads, hand body spans straight through without copying, skip 1xx interim responses
 * (at most SL_UP_PARSE_MAX_INTERIM of them: an endless run is a protocol error),
 * and pause llhttp at the end of the final response so that nothing after it is
 * consumed: leftover bytes mean the connection cannot be reused. */
#include "net/upstream_parse.h"

#include <errno.h>
#include <string.h>

static struct sl_upstream_parse *ps_of(llhttp_t *h) {
  return (struct sl_upstream_parse *)h->data;
}

static int fail(struct sl_upstream_parse *ps, const char *why) {
  ps->err = why;
  return -1;
}

static int on_message_begin(llhttp_t *h) {
  struct sl_upstream_parse *ps = ps_of(h);
  ps->nh = 0;
  ps->hlen = 0;
  ps->in_field = false;
  return 0;
}

static int append(struct sl_upstream_parse *ps, const char *at, size_t n) {
  if (n > sizeof ps->hbuf - ps->hlen) return fail(ps, "response head too large");
  memcpy(ps->hbuf + ps->hlen, at, n);
  ps->hlen += n;
  return 0;
}

static int on_header_field(llhttp_t *h, const char *at, size_t n) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (ps->head_seen) return 0; /* trailers of a chunked body: ignored */
  if (!ps->in_field) {
    if (ps->nh == SL_UP_PARSE_MAX_HEADERS) return fail(ps, "too many response headers");
    struct sl_header *hd = &ps->h[ps->nh++];
    hd->name = (struct sl_slice){ps->hbuf + ps->hlen, 0};
    hd->value = (struct sl_slice){ps->hbuf + ps->hlen, 0};
    ps->in_field = true;
  }
  if (append(ps, at, n)) return -1;
  ps->h[ps->nh - 1].name.n += n;
  return 0;
}

static int on_header_field_complete(llhttp_t *h) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (ps->head_seen || ps->nh == 0) return 0;
  ps->in_field = false;
  ps->h[ps->nh - 1].value = (struct sl_slice){ps->hbuf + ps->hlen, 0};
  return 0;
}

static int on_header_value(llhttp_t *h, const char *at, size_t n) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (ps->head_seen) return 0;
  if (append(ps, at, n)) return -1;
  ps->h[ps->nh - 1].value.n += n;
  return 0;
}

static int on_header_value_complete(llhttp_t *h) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (ps->head_seen || ps->nh == 0) return 0;
  struct sl_slice *v = &ps->h[ps->nh - 1].value;
  while (v->n && (v->p[v->n - 1] == ' ' || v->p[v->n - 1] == '\t')) v->n--;
  return 0;
}

static int on_headers_complete(llhttp_t *h) {
  struct sl_upstream_parse *ps = ps_of(h);
  int status = h->status_code;
  if (status < 100) return fail(ps, "invalid response status code");
  if (status == 101) return fail(ps, "unexpected 101 Switching Protocols");
  if (status < 200) { /* interim (100, 103...): never a body; the final one follows */
    if (++ps->ninterim > SL_UP_PARSE_MAX_INTERIM) return fail(ps, "too many interim (1xx) responses");
    return 1;
  }
  if (h->upgrade) return fail(ps, "unexpected protocol upgrade");
  ps->status = status;
  ps->head_seen = true;
  if (ps->cbs && ps->cbs->on_head) ps->cbs->on_head(ps->ud, status, ps->h, ps->nh);
  /* 204, 304 and answers to HEAD never have a body, whatever Content-Length says
   * (llhttp 8.1 would wait for Content-Length bytes after a 304). Returning 1 tells
   * llhttp so; it cannot be combined with a pause, so these simply complete, which
   * stops parsing anyway. */
  if (ps->no_body || status == 204 || status == 304) return 1;
  return ps->stop ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *h, const char *at, size_t n) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (n == 0) return 0; /* llhttp flushes open spans at the end of each execute */
  if (ps->cbs && ps->cbs->on_body) ps->cbs->on_body(ps->ud, at, n);
  return ps->stop ? HPE_PAUSED : 0;
}

static int on_message_complete(llhttp_t *h) {
  struct sl_upstream_parse *ps = ps_of(h);
  if (!ps->head_seen) return 0; /* end of a 1xx: the final response follows */
  ps->done = true;
  ps->keep_alive = llhttp_should_keep_alive(h) != 0;
  return HPE_PAUSED; /* stop right here: later bytes are not ours */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void sl_upstream_parse_init(struct sl_upstream_parse *ps, const struct sl_upstream_cbs *cbs,
                            void *ud, bool head_request) {
  llhttp_init(&ps->http, HTTP_RESPONSE, &settings);
  ps->http.data = ps;
  ps->cbs = cbs;
  ps->ud = ud;
  ps->err = NULL;
  ps->stop = ps->done = ps->keep_alive = ps->head_seen = ps->in_field = false;
  ps->no_body = head_request;
  ps->status = 0;
  ps->ninterim = 0;
  ps->nh = ps->hlen = 0;
}

int sl_upstream_parse_feed(struct sl_upstream_parse *ps, const char *p, size_t n, size_t *used) {
  *used = 0;
  if (ps->done) return SL_UP_PARSE_DONE;
  if (ps->err) return -EPROTO;
  llhttp_errno_t e = llhttp_execute(&ps->http, p, n);
  if (e == HPE_OK) {
    *used = n;
    return SL_UP_PARSE_MORE;
  }
  const char *pos = llhttp_get_error_pos(&ps->http);
  *used = (pos && pos >= p && pos <= p + n) ? (size_t)(pos - p) : n;
  if (e == HPE_PAUSED) return ps->done ? SL_UP_PARSE_DONE : SL_UP_PARSE_PAUSED;
  if (!ps->err) {
    const char *r = llhttp_get_error_reason(&ps->http);
    ps->err = r && *r ? r : llhttp_errno_name(e);
  }
  return -EPROTO;
}

void sl_upstream_parse_resume(struct sl_upstream_parse *ps) {
  ps->stop = false;
  llhttp_resume(&ps->http); /* no-op unless llhttp is paused */
}

int sl_upstream_parse_eof(struct sl_upstream_parse *ps) {
  if (ps->done) return SL_UP_PARSE_DONE;
  if (!ps->err && llhttp_get_errno(&ps->http) == HPE_OK) {
    llhttp_finish(&ps->http); /* completes a read-until-close body via on_message_complete */
    if (ps->done) {
      ps->keep_alive = false;
      return SL_UP_PARSE_DONE;
    }
  }
  ps->err = ps->head_seen ? "connection closed before the response body ended"
                          : "connection closed before the response head ended";
  return -ECONNRESET;
}

void sl_upstream_parse_run(const char *p, size_t n, bool eof, bool head_request,
                           const struct sl_upstream_cbs *cbs, void *ud) {
  struct sl_upstream_parse ps;
  sl_upstream_parse_init(&ps, cbs, ud, head_request);
  for (;;) {
    size_t used;
    int rc = sl_upstream_parse_feed(&ps, p, n, &used);
    p += used;
    n -= used;
    if (rc == SL_UP_PARSE_DONE) {
      if (cbs->on_done) cbs->on_done(ud);
      return;
    }
    if (rc < 0) {
      if (cbs->on_error) cbs->on_error(ud, SL_UP_PROTOCOL, ps.err);
      return;
    }
    if (rc == SL_UP_PARSE_PAUSED) {
      sl_upstream_parse_resume(&ps);
      continue;
    }
    break; /* MORE: all consumed */
  }
  if (!eof) return;
  if (sl_upstream_parse_eof(&ps) == SL_UP_PARSE_DONE) {
    if (cbs->on_done) cbs->on_done(ud);
  } else if (cbs->on_error) {
    cbs->on_error(ud, SL_UP_RESET, ps.err);
  }
}
