/* libFuzzer target for the upstream client's response parser (net/upstream_parse.h),
 * differential: every input is parsed twice, once in one piece through the one-shot
 * driver sl_upstream_parse_run() and once incrementally, cut into 1-3 reads (each in
 * its own heap buffer, freed right after it is fed) with the owner pausing from inside
 * callbacks. Both must agree on the outcome, the status and every body byte: framing
 * must not depend on where reads split or on back-pressure pauses.
 * Input: byte 0 = flags (bits 0-1 pieces, bit 2 EOF at the end, bit 3 HEAD request,
 * bits 4-7 pause on every k-th callback, 0 = never), bytes 1-2 = cut points, rest = bytes
 * as received from the provider. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/upstream_parse.h"

enum outcome { INCOMPLETE = 0, DONE, FAILED };

struct result {
  struct sl_upstream_parse *ps; /* set for the incremental run: callbacks may pause it */
  unsigned pause_every, ncb;
  int heads, status;
  enum outcome outcome;
  char *body;
  size_t body_len;
};

static volatile unsigned sink;

static void maybe_pause(struct result *r) {
  r->ncb++;
  if (r->ps && r->pause_every && r->ncb % r->pause_every == 0) r->ps->stop = true;
}

static void on_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct result *r = ud;
  if (r->heads++) __builtin_trap(); /* one final head per response */
  if (status < 100 || status > 999 || (status >= 100 && status < 200)) __builtin_trap();
  if (n > SL_UP_PARSE_MAX_HEADERS) __builtin_trap();
  r->status = status;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < h[i].name.n; j++) sink += (unsigned char)h[i].name.p[j];
    for (size_t j = 0; j < h[i].value.n; j++) sink += (unsigned char)h[i].value.p[j];
  }
  maybe_pause(r);
}

static void on_body(void *ud, const char *p, size_t n) {
  struct result *r = ud;
  if (!r->heads) __builtin_trap(); /* body before head */
  char *nb = realloc(r->body, r->body_len + n + 1);
  if (!nb) abort();
  r->body = nb;
  memcpy(r->body + r->body_len, p, n);
  r->body_len += n;
  /* Feeding the empty rest after a pause (as the header asks) may report an empty span;
   * pausing on that again would spin, and no real owner pauses for zero bytes. */
  if (n) maybe_pause(r);
}

static void on_done(void *ud) { ((struct result *)ud)->outcome = DONE; }
static void on_error(void *ud, enum sl_upstream_err e, const char *msg) {
  struct result *r = ud;
  if (e != SL_UP_PROTOCOL && e != SL_UP_RESET) __builtin_trap();
  if (!msg) __builtin_trap();
  sink += (unsigned)strlen(msg);
  r->outcome = FAILED;
}

static const struct sl_upstream_cbs cbs = {on_head, on_body, on_done, on_error};

/* Feeds one piece; returns true when the response ended (done or failed). */
static bool feed_piece(struct sl_upstream_parse *ps, struct result *r, const char *p, size_t n) {
  int spins = 0;
  for (;;) {
    size_t used = (size_t)-1;
    int rc = sl_upstream_parse_feed(ps, p, n, &used);
    if (rc < 0) {
      if (rc != -EPROTO || !ps->err) __builtin_trap();
      r->outcome = FAILED;
      return true;
    }
    if (used > n) __builtin_trap();
    p += used;
    n -= used;
    if (rc == SL_UP_PARSE_DONE) {
      if (!ps->done) __builtin_trap();
      r->outcome = DONE;
      return true;
    }
    if (rc == SL_UP_PARSE_MORE) {
      if (n) __builtin_trap(); /* MORE promises everything was consumed */
      return false;
    }
    if (rc != SL_UP_PARSE_PAUSED) __builtin_trap();
    spins = used ? 0 : spins + 1;
    if (spins > 2) __builtin_trap(); /* paused without progress, over and over */
    sl_upstream_parse_resume(ps);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  unsigned flags = data[0];
  unsigned npieces = 1 + (flags & 3) % 3;
  bool eof = flags & 4, head_request = flags & 8;
  const char *in = (const char *)data + 3;
  size_t len = size - 3;
  size_t c0 = data[1] % (len + 1), c1 = data[2] % (len + 1);
  if (c0 > c1) {
    size_t t = c0;
    c0 = c1;
    c1 = t;
  }
  size_t bounds[4] = {0, len, len, len};
  if (npieces == 2) bounds[1] = c0;
  if (npieces == 3) bounds[1] = c0, bounds[2] = c1;

  /* One shot. */
  struct result a = {0};
  char *whole = malloc(len ? len : 1);
  if (!whole) return 0;
  memcpy(whole, in, len);
  sl_upstream_parse_run(whole, len, eof, head_request, &cbs, &a);
  free(whole);

  /* Incremental, with pauses. */
  struct result b = {0};
  struct sl_upstream_parse *ps = malloc(sizeof *ps);
  if (!ps) abort();
  sl_upstream_parse_init(ps, &cbs, &b, head_request);
  b.ps = ps;
  b.pause_every = flags >> 4;
  bool ended = false;
  for (unsigned i = 0; i < npieces && !ended; i++) {
    size_t n = bounds[i + 1] - bounds[i];
    char *piece = malloc(n ? n : 1);
    if (!piece) abort();
    memcpy(piece, in + bounds[i], n);
    ended = feed_piece(ps, &b, piece, n);
    free(piece);
  }
  if (!ended && eof) {
    int rc = sl_upstream_parse_eof(ps);
    if (rc == SL_UP_PARSE_DONE) b.outcome = DONE;
    else if (rc == -ECONNRESET && ps->err) b.outcome = FAILED;
    else __builtin_trap();
  }
  if (b.outcome == DONE && (!ps->done || ps->status != b.status)) __builtin_trap();
  free(ps);

  /* Same framing whatever the reads and pauses. */
  if (a.outcome != b.outcome || a.heads != b.heads || a.status != b.status) __builtin_trap();
  if (a.body_len != b.body_len || (a.body_len && memcmp(a.body, b.body, a.body_len) != 0))
    __builtin_trap();
  free(a.body);
  free(b.body);
  return 0;
}
