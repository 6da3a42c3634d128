/* Types shared by the HTTP server and the upstream client: a header is a pair of
 * byte slices that point into a buffer someone else owns (no copies, no NULs). */
#ifndef SL_NET_HTTP_COMMON_H
#define SL_NET_HTTP_COMMON_H

#include <stdbool.h>
#include <stddef.h>

struct sl_slice {
  const char *p;
  size_t n;
};

struct sl_header {
  struct sl_slice name;
  struct sl_slice value;
};

#define SL_SLICE_LIT(s) ((struct sl_slice){(s), sizeof(s) - 1})

/* Case-insensitive name lookup; returns NULL when absent. */
const struct sl_header *sl_http_header_find(const struct sl_header *h, size_t n, const char *name);
bool sl_slice_eq_ci(struct sl_slice a, const char *lit);
/* A header's value as a number (strtod's grammar, the whole value): 1 and *out when present
 * and a number, 0 when absent, -1 when present and not a number (or over 63 bytes). */
int sl_http_header_number(const struct sl_header *h, size_t n, const char *name, double *out);
/* True when a comma-separated header value contains token (case-insensitive), e.g. "keep-alive". */
bool sl_http_value_has_token(struct sl_slice v, const char *token);

#endif
