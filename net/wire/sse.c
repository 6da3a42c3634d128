/* The incremental SSE parser and writer; see sse.h. The one idea: a complete line
 * that lies wholly inside the input is processed in place; only the tail of a chunk
 * that ends mid-line is copied, so a stream costs one scan per byte. */
#include "net/wire/sse.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_MAX (16u << 20)

void sl_sse_init(struct sl_sse *p, size_t max_event) {
  memset(p, 0, sizeof *p);
  p->max_event = max_event ? max_event : DEFAULT_MAX;
  p->retry_ms = -1;
}

void sl_sse_free(struct sl_sse *p) {
  sl_buf_free(&p->line);
  sl_buf_free(&p->data);
  sl_buf_free(&p->event);
  sl_buf_free(&p->id);
}

static int fail(struct sl_sse *p, int err) {
  if (!p->err) p->err = err;
  return p->err;
}

static int dispatch(struct sl_sse *p, sl_sse_cb cb, void *ud) {
  if (!p->has_data) { /* no data field: nothing to dispatch, but the event ends */
    p->event.n = 0;
    p->retry_ms = -1;
    return 0;
  }
  p->has_data = false;
  if (p->data.n) p->data.n--; /* the \n after the last data line */
  if (p->data.oom || p->event.oom || p->id.oom) return fail(p, -ENOMEM);
  struct sl_sse_event ev = {
      .event = p->event.p ? p->event.p : "",
      .event_len = p->event.n,
      .data = "",
      .data_len = p->data.n,
      .id = p->id.p ? p->id.p : "",
      .id_len = p->id.n,
      .retry_ms = p->retry_ms,
  };
  if (p->data.p) {
    p->data.p[p->data.n] = 0;
    ev.data = p->data.p;
  }
  if (p->event.p) p->event.p[p->event.n] = 0;
  if (p->id.p) p->id.p[p->id.n] = 0;
  int rc = cb ? cb(ud, &ev) : 0;
  p->data.n = 0;
  p->event.n = 0;
  p->retry_ms = -1;
  return rc;
}

static bool name_is(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* One line, without its terminator. */
static int line(struct sl_sse *p, const char *s, size_t n, sl_sse_cb cb, void *ud) {
  if (n == 0) return dispatch(p, cb, ud);
  if (s[0] == ':') return 0; /* comment */
  const char *colon = memchr(s, ':', n);
  size_t nn = colon ? (size_t)(colon - s) : n;
  const char *v = colon ? colon + 1 : s + n;
  size_t vn = (size_t)(s + n - v);
  if (vn && v[0] == ' ') {
    v++;
    vn--;
  }
  if (name_is(s, nn, "data")) {
    if (p->data.n + vn + 1 > p->max_event) return fail(p, -EMSGSIZE);
    sl_buf_append(&p->data, v, vn);
    sl_buf_append(&p->data, "\n", 1);
    p->has_data = true;
  } else if (name_is(s, nn, "event")) {
    p->event.n = 0;
    sl_buf_append(&p->event, v, vn);
  } else if (name_is(s, nn, "id")) {
    if (!memchr(v, 0, vn)) {
      p->id.n = 0;
      sl_buf_append(&p->id, v, vn);
    }
  } else if (name_is(s, nn, "retry")) {
    long r = 0;
    size_t i = 0;
    for (; i < vn && v[i] >= '0' && v[i] <= '9' && r < 100000000L; i++) r = r * 10 + (v[i] - '0');
    if (vn && i == vn) p->retry_ms = r;
  }
  /* unknown fields are ignored */
  return 0;
}

int sl_sse_feed(struct sl_sse *p, const char *buf, size_t n, sl_sse_cb cb, void *ud) {
  if (p->err) return p->err;
  if (p->done) return 0;
  const char *s = buf, *end = buf + n;
  if (!p->started) {
    /* A BOM may itself arrive split: hold back a prefix of it. */
    static const char bom[] = "\xEF\xBB\xBF";
    size_t have = p->line.n, take = 0;
    while (have + take < 3 && take < n && buf[take] == bom[have + take]) take++;
    if (have + take < 3 && take == n) {
      sl_buf_append(&p->line, buf, n);
      return p->line.oom ? fail(p, -ENOMEM) : 0;
    }
    p->started = true;
    if (have + take == 3) {
      p->line.n = 0;
      s += take;
    } /* else: not a BOM; the held bytes stay in line as ordinary text */
  }
  if (p->cr_pending && s < end) {
    p->cr_pending = false;
    if (*s == '\n') s++;
  }
  while (s < end) {
    const char *e = s;
    while (e < end && *e != '\n' && *e != '\r') e++;
    if (e == end) { /* unfinished line: keep it */
      if (p->line.n + (size_t)(e - s) > p->max_event) return fail(p, -EMSGSIZE);
      sl_buf_append(&p->line, s, (size_t)(e - s));
      if (p->line.oom) return fail(p, -ENOMEM);
      break;
    }
    int rc;
    if (p->line.n) {
      if (p->line.n + (size_t)(e - s) > p->max_event) return fail(p, -EMSGSIZE);
      sl_buf_append(&p->line, s, (size_t)(e - s));
      if (p->line.oom) return fail(p, -ENOMEM);
      rc = line(p, p->line.p, p->line.n, cb, ud);
      p->line.n = 0;
    } else {
      rc = line(p, s, (size_t)(e - s), cb, ud);
    }
    if (*e == '\r') {
      if (e + 1 < end) {
        if (e[1] == '\n') e++;
      } else {
        p->cr_pending = true;
      }
    }
    s = e + 1;
    if (rc) {
      if (rc < 0 && !p->err) p->err = rc;
      return rc;
    }
  }
  return 0;
}

int sl_sse_finish(struct sl_sse *p, sl_sse_cb cb, void *ud) {
  if (p->err) return p->err;
  if (p->done) return 0;
  p->done = true;
  int rc = 0;
  if (p->line.n) {
    rc = line(p, p->line.p, p->line.n, cb, ud);
    p->line.n = 0;
  }
  if (!rc) rc = dispatch(p, cb, ud);
  return rc;
}

void sl_sse_append_event(struct sl_buf *out, const char *event, const char *data, size_t n) {
  if (event) {
    sl_buf_puts(out, "event: ");
    sl_buf_puts(out, event);
    sl_buf_puts(out, "\n");
  }
  size_t i = 0;
  for (;;) {
    const char *nl = n > i ? memchr(data + i, '\n', n - i) : NULL;
    size_t e = nl ? (size_t)(nl - data) : n;
    sl_buf_puts(out, "data: ");
    if (e > i) sl_buf_append(out, data + i, e - i);
    sl_buf_puts(out, "\n");
    if (!nl) break;
    i = e + 1;
  }
  sl_buf_puts(out, "\n");
}
