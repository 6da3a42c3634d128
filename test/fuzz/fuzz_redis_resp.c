/* libFuzzer target for the RESP codec wrapper (store/redis_resp.h). Input: a split seed
 * byte, then bytes that are a reply stream from a (hostile) server. Properties:
 *  - fed whole, fed byte by byte and fed in pseudo-random chunks (from the seed), the
 *    reader yields the same replies (type, integer, string, nesting) and the same
 *    outcome (needs more input, or a protocol error) — chunking never matters;
 *  - never crashes, never allocates what a peer merely announces (bounded arrays), and
 *    nothing leaks (every reply freed, readers freed in any state);
 *  - formatting: the input cut into up to 8 arguments, formatted as a command and read
 *    back, is an array of exactly those bulk strings (binary safe). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis_resp.h"

struct out {
  char *p;
  size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n) {
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n) cap *= 2;
    o->p = realloc(o->p, cap);
    if (!o->p) __builtin_trap();
    o->cap = cap;
  }
  memcpy(o->p + o->len, p, n);
  o->len += n;
}

static void dump(struct out *o, const redisReply *r, int depth) {
  if (depth > 16) __builtin_trap(); /* hiredis nests at most 7 deep */
  put(o, &r->type, sizeof r->type);
  switch (r->type) {
  case REDIS_REPLY_INTEGER: put(o, &r->integer, sizeof r->integer); break;
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS:
  case REDIS_REPLY_ERROR:
    put(o, &r->len, sizeof r->len);
    put(o, r->str, r->len);
    break;
  case REDIS_REPLY_ARRAY:
    put(o, &r->elements, sizeof r->elements);
    if (r->elements > SL_RESP_MAX_ELEMENTS) __builtin_trap();
    for (size_t i = 0; i < r->elements; i++) dump(o, r->element[i], depth + 1);
    break;
  default: break;
  }
}

/* Reads all replies, feeding the input in chunks of the sizes the generator gives. */
static void run(const uint8_t *in, size_t n, uint32_t seed, int mode, struct out *o) {
  struct sl_resp_reader *rd = sl_resp_reader_new();
  if (!rd) __builtin_trap();
  char err[160];
  size_t i = 0;
  int rc = 0;
  while (i < n && rc >= 0) {
    size_t k = n - i;
    if (mode == 1) k = 1;
    if (mode == 2) {
      seed = seed * 1103515245u + 12345u;
      k = 1 + (seed >> 16) % 64;
      if (k > n - i) k = n - i;
    }
    if (sl_resp_reader_feed(rd, (const char *)in + i, k, err, sizeof err) < 0) {
      rc = -1;
      break;
    }
    i += k;
    redisReply *r;
    while ((rc = sl_resp_reader_next(rd, &r, err, sizeof err)) == 1) {
      dump(o, r, 0);
      sl_resp_reply_free(r);
    }
  }
  char end = rc < 0 ? 'E' : 'M';
  put(o, &end, 1);
  sl_resp_reader_free(rd);
}

static void check_format(const uint8_t *in, size_t n) {
  const char *argv[8];
  size_t lens[8];
  int argc = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n && argc < 8; i++) {
    if (i == n || in[i] == 0xff) {
      argv[argc] = (const char *)in + start;
      lens[argc] = i - start;
      argc++;
      start = i + 1;
    }
  }
  char *cmd;
  long len = sl_resp_format(&cmd, argc, argv, lens);
  if (len <= 0) __builtin_trap();
  /* the same bytes as hiredis's formatter, and in place */
  char *ref = NULL;
  int rn = redisFormatCommandArgv(&ref, argc, argv, lens);
  size_t n2 = sl_resp_format_len(argc, argv, lens);
  char *direct = malloc(n2 ? n2 : 1);
  if (rn != len || !ref || memcmp(ref, cmd, (size_t)len) || n2 != (size_t)len || !direct ||
      sl_resp_format_to(direct, argc, argv, lens) != n2 || memcmp(direct, cmd, n2))
    __builtin_trap();
  free(direct);
  redisFreeCommand(ref);
  struct sl_resp_reader *rd = sl_resp_reader_new();
  char err[160];
  redisReply *r = NULL;
  if (sl_resp_reader_feed(rd, cmd, (size_t)len, err, sizeof err) < 0) __builtin_trap();
  if (sl_resp_reader_next(rd, &r, err, sizeof err) != 1) __builtin_trap();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)argc) __builtin_trap();
  for (int i = 0; i < argc; i++) {
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING || e->len != lens[i] || (lens[i] && memcmp(e->str, argv[i], lens[i])))
      __builtin_trap();
  }
  sl_resp_reply_free(r);
  if (sl_resp_reader_next(rd, &r, err, sizeof err) != 0) __builtin_trap(); /* nothing extra */
  sl_resp_reader_free(rd);
  sl_resp_cmd_free(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0];
  const uint8_t *in = data + 1;
  size_t n = size - 1;
  struct out a = {0}, b = {0}, c = {0};
  run(in, n, seed, 0, &a);
  run(in, n, seed, 1, &b);
  run(in, n, seed, 2, &c);
  if (a.len != b.len || a.len != c.len || memcmp(a.p, b.p, a.len) || memcmp(a.p, c.p, a.len)) __builtin_trap();
  free(a.p);
  free(b.p);
  free(c.p);
  if (n <= 4096) check_format(in, n);
  return 0;
}
