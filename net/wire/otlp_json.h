/* OTLP/HTTP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): spans
 * written as the JSON form of an ExportTraceServiceRequest, and the
 * OTEL_EXPORTER_OTLP_HEADERS list ("k=v,k2=v2", values percent-encoded) read. The one idea:
 * each span is encoded once, when its request ends, into a text fragment; a batch is those
 * fragments joined inside one envelope (resource, scope), so nothing is kept as structs.
 * Per the OTLP JSON mapping, ids are lower-case hex, 64-bit integers and times are decimal
 * strings, enums are numbers. To add an attribute type: a member of enum sl_otlp_type and
 * its case in put_value. Pure: bytes in, bytes out. */
#ifndef SL_NET_WIRE_OTLP_JSON_H
#define SL_NET_WIRE_OTLP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"

enum sl_otlp_type { SL_OTLP_STR, SL_OTLP_INT, SL_OTLP_DOUBLE, SL_OTLP_BOOL, SL_OTLP_STR_ARRAY };

struct sl_otlp_attr {
  const char *key;
  enum sl_otlp_type type;
  const char *s; /* STR: s (slen bytes; slen 0: strlen(s)) */
  size_t slen;
  int64_t i;
  double d; /* a non-finite double is written as a string ("NaN", "Infinity") */
  bool b;
  const char *const *arr; /* STR_ARRAY: narr strings */
  size_t narr;
};

enum sl_otlp_kind { SL_OTLP_KIND_INTERNAL = 1, SL_OTLP_KIND_SERVER = 2, SL_OTLP_KIND_CLIENT = 3 };
enum sl_otlp_status { SL_OTLP_STATUS_UNSET = 0, SL_OTLP_STATUS_OK = 1, SL_OTLP_STATUS_ERROR = 2 };

struct sl_otlp_span {
  uint8_t trace_id[16], span_id[8], parent_id[8];
  bool has_parent;
  const char *trace_state; /* NULL: none */
  const char *name;
  enum sl_otlp_kind kind;
  uint64_t start_ns, end_ns; /* wall clock, ns since the Unix epoch */
  enum sl_otlp_status status;
  const char *status_message; /* NULL: none */
  const struct sl_otlp_attr *attrs;
  size_t nattrs;
};

/* Appends one span object ({"traceId":...}) to b. */
void sl_otlp_span_json(struct sl_buf *b, const struct sl_otlp_span *s);

/* Appends a whole ExportTraceServiceRequest: one resourceSpans with the resource's
 * attributes, one scopeSpans of scope (name, version), and spans: span objects already
 * joined with commas (spans_len bytes, 0: none). */
void sl_otlp_request_json(struct sl_buf *b, const struct sl_otlp_attr *res, size_t nres, const char *scope_name,
                          const char *scope_version, const char *spans, size_t spans_len);

/* OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value pairs, each part trimmed of spaces,
 * values (and keys) percent-decoded; empty members are skipped. Appends each pair to out as
 * "key\0value\0" and returns the number of pairs, or -EINVAL (with *why, a static
 * reason) for a member without '=', an empty key, a key that is not an HTTP token, a
 * value with a control character, or bad percent-encoding. */
int sl_otlp_headers_parse(const char *s, size_t n, struct sl_buf *out, const char **why);

#endif
