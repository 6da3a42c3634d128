/* W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header a
 * client sends (version-traceid-parentid-flags, lowercase hex) read into bytes, and written
 * back for the calls sluice makes upstream. The one idea: a header that is not exactly
 * valid is ignored (a new trace starts), never repaired. `tracestate` is opaque to sluice:
 * it is passed on when it is plain printable text of at most 512 bytes. Pure: bytes in,
 * bytes out. */
#ifndef SL_NET_WIRE_TRACEPARENT_H
#define SL_NET_WIRE_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define SL_TRACESTATE_MAX  512

struct sl_traceparent {
  uint8_t trace_id[16];
  uint8_t span_id[8]; /* the caller's span: the parent of sluice's */
  uint8_t flags;      /* bit 0: sampled */
};

/* 0, or -EINVAL when s (n bytes, surrounding spaces and tabs allowed) is not a valid
 * traceparent: version "ff", upper-case or non-hex digits, all-zero ids, a version-00
 * header of another length, or a later version whose extra part does not start with
 * '-'. out is written only on success. */
int sl_traceparent_parse(const char *s, size_t n, struct sl_traceparent *out);

/* Writes "00-<trace>-<span>-<flags>" and a NUL into out (SL_TRACEPARENT_LEN + 1 bytes). */
void sl_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags, char *out);

/* Lower-case hex of n bytes into out (2n characters, then a NUL). */
void sl_trace_hex(const uint8_t *p, size_t n, char *out);

/* Whether a tracestate value may be passed on: 1 to SL_TRACESTATE_MAX bytes of printable
 * ASCII (space through '~'). */
bool sl_tracestate_ok(const char *s, size_t n);

#endif
