/* store/redis_resp.c: see redis_resp.h. hiredis's reader allocates an array's element
 * vector as soon as it reads "*<n>"; its object functions are wrapped so an array larger
 * than SL_RESP_MAX_ELEMENTS is refused (the reader then reports an error) instead of
 * allocating whatever a peer announces. */
#include "store/redis_resp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sl_resp_reader {
  redisReader *r;
  redisReplyObjectFunctions fn; /* hiredis's defaults, createArray bounded */
  bool failed;
  char err[128];
};

static void *(*default_create_array)(const redisReadTask *, int);

static void *bounded_create_array(const redisReadTask *task, int elements) {
  if (elements < 0 || (unsigned)elements > SL_RESP_MAX_ELEMENTS) return NULL; /* -> reader error */
  return default_create_array(task, elements);
}

static size_t ndigits(size_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static char *put_uint(char *p, size_t v) {
  size_t n = ndigits(v);
  for (size_t i = n; i-- > 0; v /= 10) p[i] = (char)('0' + v % 10);
  return p + n;
}

size_t sl_resp_format_len(int argc, const char *const *argv, const size_t *lens) {
  if (argc <= 0 || !argv || !lens) return 0;
  size_t n = 1 + ndigits((size_t)argc) + 2; /* *<argc>\r\n */
  for (int i = 0; i < argc; i++) {
    if (!argv[i] && lens[i]) return 0;
    n += 1 + ndigits(lens[i]) + 2 + lens[i] + 2; /* $<len>\r\n<bytes>\r\n */
  }
  return n;
}

size_t sl_resp_format_to(char *dst, int argc, const char *const *argv, const size_t *lens) {
  char *p = dst;
  *p++ = '*';
  p = put_uint(p, (size_t)argc);
  *p++ = '\r';
  *p++ = '\n';
  for (int i = 0; i < argc; i++) {
    *p++ = '$';
    p = put_uint(p, lens[i]);
    *p++ = '\r';
    *p++ = '\n';
    if (lens[i]) memcpy(p, argv[i], lens[i]);
    p += lens[i];
    *p++ = '\r';
    *p++ = '\n';
  }
  return (size_t)(p - dst);
}

long sl_resp_format(char **out, int argc, const char *const *argv, const size_t *lens) {
  *out = NULL;
  size_t n = sl_resp_format_len(argc, argv, lens);
  if (!n || n > (size_t)LONG_MAX) return -1;
  char *cmd = malloc(n);
  if (!cmd) return -1;
  sl_resp_format_to(cmd, argc, argv, lens);
  *out = cmd;
  return (long)n;
}

void sl_resp_cmd_free(char *cmd) { free(cmd); }

struct sl_resp_reader *sl_resp_reader_new(void) {
  struct sl_resp_reader *rd = calloc(1, sizeof *rd);
  if (!rd) return NULL;
  rd->r = redisReaderCreate();
  if (!rd->r) {
    free(rd);
    return NULL;
  }
  /* The defaults are hiredis's (static there); take them from the reader it made. */
  rd->fn = *rd->r->fn;
  default_create_array = rd->fn.createArray;
  rd->fn.createArray = bounded_create_array;
  rd->r->fn = &rd->fn;
  return rd;
}

void sl_resp_reader_free(struct sl_resp_reader *rd) {
  if (!rd) return;
  redisReaderFree(rd->r);
  free(rd);
}

static int fail(struct sl_resp_reader *rd, const char *why, char *err, size_t errlen) {
  if (!rd->failed) {
    rd->failed = true;
    snprintf(rd->err, sizeof rd->err, "redis protocol error: %.100s", why);
  }
  if (err && errlen) snprintf(err, errlen, "%s", rd->err);
  return -1;
}

int sl_resp_reader_feed(struct sl_resp_reader *rd, const char *p, size_t n, char *err, size_t errlen) {
  if (rd->failed) return fail(rd, "", err, errlen);
  if (n == 0) return 0;
  size_t unconsumed = rd->r->len - rd->r->pos;
  if (n > SL_RESP_MAX_BUFFER || unconsumed > SL_RESP_MAX_BUFFER - n)
    return fail(rd, "reply larger than the input limit", err, errlen);
  if (redisReaderFeed(rd->r, p, n) != REDIS_OK)
    return fail(rd, rd->r->errstr[0] ? rd->r->errstr : "out of memory", err, errlen);
  return 0;
}

int sl_resp_reader_next(struct sl_resp_reader *rd, struct redisReply **out, char *err, size_t errlen) {
  *out = NULL;
  if (rd->failed) return fail(rd, "", err, errlen);
  void *reply = NULL;
  if (redisReaderGetReply(rd->r, &reply) != REDIS_OK) {
    if (reply) freeReplyObject(reply);
    return fail(rd, rd->r->errstr[0] ? rd->r->errstr : "bad reply", err, errlen);
  }
  if (!reply) return 0;
  *out = reply;
  return 1;
}

void sl_resp_reply_free(struct redisReply *r) {
  if (r) freeReplyObject(r);
}

bool sl_resp_is_error(const struct redisReply *r, const char *prefix) {
  if (!r || r->type != REDIS_REPLY_ERROR || !r->str) return false;
  size_t n = strlen(prefix);
  return r->len >= n && memcmp(r->str, prefix, n) == 0;
}

bool sl_resp_str_eq(const struct redisReply *r, const char *s) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || !r->str) return false;
  size_t n = strlen(s);
  return r->len == n && strncasecmp(r->str, s, n) == 0;
}
