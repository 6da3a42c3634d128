/* AWS event-stream framing; see eventstream.h. The decoder reads whole frames straight from
 * the fed chunk when it can (no copy), and buffers only a frame that is split across chunks:
 * first its 12-byte prelude (checked before anything else is buffered, so a bad length never
 * makes it allocate), then the rest of that one frame. */
#include "net/wire/eventstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define PRELUDE   12
#define MIN_FRAME 16 /* prelude + message CRC */

struct sl_es_decoder {
  size_t max_frame;
  char *buf;
  size_t n, cap, total; /* bytes buffered; the buffered frame's total length (0: prelude not read) */
  int failed;           /* sticky error */
};

static uint32_t be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint32_t crc(const char *p, size_t n) { return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)n); }

int sl_es_decoder_new(size_t max_frame, struct sl_es_decoder **out) {
  *out = NULL;
  if (max_frame < MIN_FRAME) return -EINVAL;
  struct sl_es_decoder *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->max_frame = max_frame > UINT32_MAX ? UINT32_MAX : max_frame;
  *out = d;
  return 0;
}

void sl_es_decoder_free(struct sl_es_decoder *d) {
  if (!d) return;
  free(d->buf);
  free(d);
}

bool sl_es_decoder_idle(const struct sl_es_decoder *d) { return d->n == 0; }

/* The prelude's total length when it is valid, else 0. */
static uint32_t prelude_total(const struct sl_es_decoder *d, const char *p) {
  uint32_t total = be32(p), hl = be32(p + 4);
  if (total < MIN_FRAME || total > d->max_frame || hl > total - MIN_FRAME) return 0;
  if (crc(p, 8) != be32(p + 8)) return 0;
  return total;
}

static const int fixed_size[10] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16}; /* -1: u16 length prefix */

/* Checks one whole frame (prelude already checked) and splits it into m. */
static int parse_frame(const char *p, uint32_t total, struct sl_es_msg *m) {
  if (crc(p, total - 4) != be32(p + total - 4)) return -EBADMSG;
  uint32_t hl = be32(p + 4);
  const char *h = p + PRELUDE, *end = h + hl;
  m->nh = 0;
  while (h < end) {
    if (m->nh == SL_ES_MAX_HEADERS) return -EBADMSG;
    struct sl_es_header *x = &m->h[m->nh];
    x->name_len = (unsigned char)*h++;
    if (!x->name_len || (size_t)(end - h) < x->name_len + 1) return -EBADMSG;
    x->name = h;
    h += x->name_len;
    x->type = (uint8_t)*h++;
    if (x->type > 9) return -EBADMSG;
    if (fixed_size[x->type] >= 0) {
      x->value_len = (size_t)fixed_size[x->type];
    } else {
      if (end - h < 2) return -EBADMSG;
      x->value_len = (size_t)((unsigned char)h[0] << 8 | (unsigned char)h[1]);
      h += 2;
    }
    if ((size_t)(end - h) < x->value_len) return -EBADMSG;
    x->value = h;
    h += x->value_len;
    m->nh++;
  }
  m->payload = end;
  m->payload_len = total - MIN_FRAME - hl;
  return 0;
}

static int deliver(struct sl_es_decoder *d, const char *p, uint32_t total,
                   int (*cb)(void *ud, const struct sl_es_msg *m), void *ud) {
  struct sl_es_msg m;
  int rc = parse_frame(p, total, &m);
  if (!rc) rc = cb(ud, &m);
  if (rc) d->failed = rc;
  return rc;
}

int sl_es_decoder_feed(struct sl_es_decoder *d, const char *p, size_t n, int (*cb)(void *ud, const struct sl_es_msg *m),
                       void *ud) {
  if (d->failed) return d->failed;
  while (n) {
    if (d->n == 0 && n >= PRELUDE) { /* whole frames straight from the chunk */
      uint32_t total = prelude_total(d, p);
      if (!total) return d->failed = -EBADMSG;
      if (n >= total) {
        int rc = deliver(d, p, total, cb, ud);
        if (rc) return rc;
        p += total, n -= total;
        continue;
      }
    }
    size_t want = d->total ? d->total : PRELUDE, take = want - d->n < n ? want - d->n : n;
    if (d->cap < want) {
      char *nb = realloc(d->buf, want);
      if (!nb) return d->failed = -ENOMEM;
      d->buf = nb, d->cap = want;
    }
    memcpy(d->buf + d->n, p, take);
    d->n += take, p += take, n -= take;
    if (d->n < want) break;
    if (!d->total) { /* the prelude is complete */
      d->total = prelude_total(d, d->buf);
      if (!d->total) return d->failed = -EBADMSG;
      continue;
    }
    uint32_t total = (uint32_t)d->total;
    d->n = 0, d->total = 0;
    int rc = deliver(d, d->buf, total, cb, ud);
    if (rc) return rc;
  }
  return 0;
}

const struct sl_es_header *sl_es_header_find(const struct sl_es_msg *m, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < m->nh; i++) {
    const struct sl_es_header *h = &m->h[i];
    if ((h->type == 6 || h->type == 7) && h->name_len == len && memcmp(h->name, name, len) == 0) return h;
  }
  return NULL;
}

static void put_be32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24), p[1] = (char)(v >> 16), p[2] = (char)(v >> 8), p[3] = (char)v;
}

static int encode(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n,
                  bool typed) {
  if (nh > SL_ES_MAX_HEADERS || (n && !payload)) return -EINVAL;
  size_t hl = 0;
  for (size_t i = 0; i < nh; i++) {
    uint8_t type = typed ? h[i].type : 7;
    if (!h[i].name_len || h[i].name_len > 255 || !h[i].name || type > 9) return -EINVAL;
    if (h[i].value_len && !h[i].value) return -EINVAL;
    int fs = fixed_size[type];
    if (fs >= 0 && h[i].value_len != (size_t)fs) return -EINVAL;
    if (fs < 0 && h[i].value_len > 65535) return -EINVAL;
    hl += 1 + h[i].name_len + 1 + (fs < 0 ? 2 : 0) + h[i].value_len;
  }
  if (n > UINT32_MAX - MIN_FRAME - hl) return -EINVAL;
  size_t total = MIN_FRAME + hl + n, start = out->n;
  char pre[PRELUDE];
  put_be32(pre, (uint32_t)total);
  put_be32(pre + 4, (uint32_t)hl);
  put_be32(pre + 8, crc(pre, 8));
  sl_buf_append(out, pre, PRELUDE);
  for (size_t i = 0; i < nh; i++) {
    uint8_t type = typed ? h[i].type : 7;
    unsigned char nl = (unsigned char)h[i].name_len;
    sl_buf_append(out, &nl, 1);
    sl_buf_append(out, h[i].name, h[i].name_len);
    sl_buf_append(out, &type, 1);
    if (fixed_size[type] < 0) {
      unsigned char vl[2] = {(unsigned char)(h[i].value_len >> 8), (unsigned char)h[i].value_len};
      sl_buf_append(out, vl, 2);
    }
    if (h[i].value_len) sl_buf_append(out, h[i].value, h[i].value_len);
  }
  if (n) sl_buf_append(out, payload, n);
  if (out->oom) return -ENOMEM;
  char mc[4];
  put_be32(mc, crc(out->p + start, total - 4));
  sl_buf_append(out, mc, 4);
  return out->oom ? -ENOMEM : 0;
}

int sl_es_encode(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n) {
  return encode(out, h, nh, payload, n, false);
}

int sl_es_encode_typed(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n) {
  return encode(out, h, nh, payload, n, true);
}
