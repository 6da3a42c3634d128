/* store/redis_resp: Redis's wire format (RESP2) as pure functions (the reader is hiredis's;
 * the formatter is ours, byte for byte hiredis's redisFormatCommandArgv, without printf):
 * a command (argv with explicit lengths, binary safe) formatted into a buffer, and a
 * reader that takes bytes in any chunking and hands back whole replies. No I/O: the
 * transport (core/redis_conn.c) owns the socket. The reader bounds what a peer can make
 * it allocate (array sizes, unconsumed input). Extend: a new reply check is a function
 * over struct redisReply here, not in the transport. */
#ifndef SL_STORE_REDIS_RESP_H
#define SL_STORE_REDIS_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h> /* struct redisReply, REDIS_REPLY_* */

/* Limits a reply stream may not exceed (a protocol error, never an allocation). */
#define SL_RESP_MAX_ELEMENTS (4u << 20)   /* per array */
#define SL_RESP_MAX_BUFFER   (512u << 20) /* unconsumed input (Redis's proto-max-bulk-len) */

/* Formats one command. Returns its length (> 0) with *out malloc'd (free with
 * sl_resp_cmd_free), or -1 on bad arguments / out of memory. */
long sl_resp_format(char **out, int argc, const char *const *argv, const size_t *lens);
void sl_resp_cmd_free(char *cmd);
/* The same bytes written in place (no allocation, no copy): sl_resp_format_len is the
 * exact length (0 on bad arguments), sl_resp_format_to writes that many into dst and
 * returns it. */
size_t sl_resp_format_len(int argc, const char *const *argv, const size_t *lens);
size_t sl_resp_format_to(char *dst, int argc, const char *const *argv, const size_t *lens);

struct sl_resp_reader;
struct sl_resp_reader *sl_resp_reader_new(void);
void sl_resp_reader_free(struct sl_resp_reader *rd);
/* Appends input. 0, or -1 (a protocol error: err says why, the stream is unusable). */
int sl_resp_reader_feed(struct sl_resp_reader *rd, const char *p, size_t n, char *err, size_t errlen);
/* 1 with *out a whole reply (free with sl_resp_reply_free), 0 when more input is needed,
 * -1 on a protocol error (err says why; the reader stays in error). */
int sl_resp_reader_next(struct sl_resp_reader *rd, struct redisReply **out, char *err, size_t errlen);
void sl_resp_reply_free(struct redisReply *r);

/* An error reply whose text starts with prefix (e.g. "NOSCRIPT"). */
bool sl_resp_is_error(const struct redisReply *r, const char *prefix);
/* A string/status reply equal to s (case-insensitive), e.g. "OK", "message". */
bool sl_resp_str_eq(const struct redisReply *r, const char *s);

#endif
