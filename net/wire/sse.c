/* The incremental SSE parser and writer; see sse.h. The one idea: a complete line
 * that lies wholly inside the input is processed in place; only the tail of a chunk
 * that ends mid-line is copied, so a stream costs one scan per byte. */
#include "net/wire/sse.h"

#include <errno.h>
#include <stdint.h>
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

/* ---- the framer ----
 * The current event is either in place (it started in this input, at `es`) or held
 * (it started in an earlier one: its bytes so far are in f->held). */

void sl_sse_framer_init(struct sl_sse_framer *f, size_t max_event) {
  memset(f, 0, sizeof *f);
  f->max_event = max_event ? max_event : DEFAULT_MAX;
  f->line_empty = true;
  f->first_block = true;
}

void sl_sse_framer_free(struct sl_sse_framer *f) {
  sl_buf_free(&f->held);
  sl_buf_free(&f->done);
  sl_buf_free(&f->data);
}

/* The first \n or \r in [s, end), or end (memchr twice: most streams have no \r). */
static const char *line_end(const char *s, const char *end) {
  const char *q = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
  if (!q) q = end;
  const char *r = q > s ? memchr(s, '\r', (size_t)(q - s)) : NULL;
  return r ? r : q;
}

/* Parses one whole block into fr and calls cb. */
static int frame_event(struct sl_sse_framer *f, const char *b, size_t n, sl_sse_frame_cb cb, void *ud) {
  size_t i = 0;
  if (f->first_block && n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) i += 3;
  f->first_block = false;
  struct sl_sse_frame fr = {.kind = SL_SSE_EVENT, .raw = b, .raw_len = n, .event = ""};
  size_t doff = 0, dlen = 0;
  f->data.n = 0;
  while (i < n) {
    size_t s = i;
    i = (size_t)(line_end(b + i, b + n) - b);
    size_t e = i;
    if (i < n) i += b[i] == '\r' && i + 1 < n && b[i + 1] == '\n' ? 2 : 1;
    if (e == s) break; /* the empty line: end of the event */
    if (b[s] == ':') continue;
    const char *colon = memchr(b + s, ':', e - s);
    size_t c = colon ? (size_t)(colon - b) : e;
    size_t v = c < e ? c + 1 : e;
    if (v < e && b[v] == ' ') v++;
    if (c - s == 5 && memcmp(b + s, "event", 5) == 0) {
      fr.event = b + v;
      fr.event_len = e - v;
      continue;
    }
    if (c - s != 4 || memcmp(b + s, "data", 4) != 0) continue;
    if (fr.data_lines == 1) sl_buf_append(&f->data, b + doff, dlen);
    if (fr.data_lines >= 1) {
      sl_buf_append(&f->data, "\n", 1);
      sl_buf_append(&f->data, b + v, e - v);
    } else {
      doff = v;
      dlen = e - v;
    }
    fr.data_lines++;
  }
  if (fr.data_lines > 1) {
    if (f->data.oom) return f->err = -ENOMEM;
    fr.data = f->data.p;
    fr.data_len = f->data.n;
  } else if (fr.data_lines == 1) {
    fr.data = b + doff;
    fr.data_len = dlen;
    fr.data_off = doff;
  }
  return cb ? cb(ud, &fr) : 0;
}

static int frame_raw(enum sl_sse_frame_kind kind, const char *p, size_t n, sl_sse_frame_cb cb, void *ud) {
  if (!n) return 0;
  struct sl_sse_frame fr = {.kind = kind, .raw = p, .raw_len = n, .event = ""};
  return cb ? cb(ud, &fr) : 0;
}

/* The held event is complete: hand it out from `done`, which stays valid until the next call. */
static int frame_held(struct sl_sse_framer *f, sl_sse_frame_cb cb, void *ud) {
  struct sl_buf t = f->done;
  f->done = f->held;
  f->held = t;
  f->held.n = 0;
  return frame_event(f, f->done.p, f->done.n, cb, ud);
}

int sl_sse_framer_feed(struct sl_sse_framer *f, const char *p, size_t n, sl_sse_frame_cb cb, void *ud) {
  if (f->err) return f->err;
  size_t i = 0, es = SIZE_MAX; /* es: start of an in-place event */
  int rc = 0;
  while (i < n) {
    if (f->cr_pending) {
      f->cr_pending = false;
      if (p[i] == '\n') {
        if (f->cr_ended_event) rc = frame_raw(SL_SSE_TAIL, p + i, 1, cb, ud);
        else if (f->overflow) rc = frame_raw(SL_SSE_OVERSIZE, p + i, 1, cb, ud);
        else if (f->held.n) sl_buf_append(&f->held, p + i, 1);
        else if (es == SIZE_MAX) es = i;
        i++;
        if (rc) return rc;
        continue;
      }
    }
    /* Bytes up to and including the next line terminator (or the end of the input). */
    size_t s = i;
    if (f->bom >= 0) { /* a leading BOM does not make the first line non-empty */
      while (i < n && p[i] != '\n' && p[i] != '\r' && f->bom >= 0) {
        if ((unsigned char)p[i] == (unsigned char)"\xEF\xBB\xBF"[f->bom]) {
          if (++f->bom == 3) f->bom = -1;
        } else {
          f->bom = -1;
          f->line_empty = false;
        }
        i++;
      }
    }
    const char *q = line_end(p + i, p + n);
    if ((size_t)(q - p) > i) f->line_empty = false;
    i = (size_t)(q - p);
    bool term = i < n;
    if (term) {
      if (f->bom >= 0) f->bom = -1;
      f->cr_pending = p[i] == '\r';
      f->cr_ended_event = f->cr_pending && f->line_empty;
      i++;
    }
    if (f->overflow) {
      if ((rc = frame_raw(SL_SSE_OVERSIZE, p + s, i - s, cb, ud))) return rc;
    } else {
      size_t size;
      if (f->held.n || !term) { /* held, or about to be: an event split across inputs */
        if (es != SIZE_MAX) {
          sl_buf_append(&f->held, p + es, s - es);
          es = SIZE_MAX;
        }
        sl_buf_append(&f->held, p + s, i - s);
        if (f->held.oom) return f->err = -ENOMEM;
        size = f->held.n;
      } else {
        if (es == SIZE_MAX) es = s;
        size = i - es;
      }
      if (size > f->max_event) { /* too long to hold: forward it as it comes, unread */
        rc = f->held.n ? frame_raw(SL_SSE_OVERSIZE, f->held.p, f->held.n, cb, ud)
                       : frame_raw(SL_SSE_OVERSIZE, p + es, size, cb, ud);
        f->held.n = 0;
        es = SIZE_MAX;
        f->first_block = false;
        f->overflow = true;
        if (rc) return rc;
      }
    }
    if (!term) break;
    if (f->line_empty) { /* an empty line: the event ends here */
      if (f->overflow) {
        f->overflow = false;
      } else if (f->held.n) {
        rc = frame_held(f, cb, ud);
      } else if (es != SIZE_MAX) {
        rc = frame_event(f, p + es, i - es, cb, ud);
        es = SIZE_MAX;
      }
      if (f->err) return f->err;
      if (rc) return rc;
    }
    f->line_empty = true;
  }
  if (es != SIZE_MAX) { /* the input ends inside an event: hold its bytes */
    sl_buf_append(&f->held, p + es, n - es);
    if (f->held.oom) return f->err = -ENOMEM;
  }
  return 0;
}

int sl_sse_framer_finish(struct sl_sse_framer *f, sl_sse_frame_cb cb, void *ud) {
  if (f->err) return f->err;
  int rc = 0;
  if (f->held.n && !f->overflow) rc = frame_held(f, cb, ud);
  f->held.n = 0;
  f->overflow = false;
  return f->err ? f->err : rc;
}
