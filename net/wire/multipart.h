/* multipart/form-data, just enough to route one: the boundary of a Content-Type, and the
 * byte range of one plain form field's value (the `model` of /v1/audio/transcriptions),
 * so the caller can rewrite it with slices of the original body (nothing else is copied
 * and file parts are never read past their headers). The one idea: the parser walks
 * delimiter lines (RFC 2046 section 5.1.1) and part headers only; it never decodes a
 * part. Bad input is an error code, never a crash. To read another field: call
 * sl_multipart_field with its name. Pure: no I/O. */
#ifndef SL_NET_WIRE_MULTIPART_H
#define SL_NET_WIRE_MULTIPART_H

#include <stddef.h>

/* The boundary parameter of a Content-Type value (`multipart/form-data; boundary=...`,
 * quoted or not, parameters in any order, case-insensitive names): 0 and *b / *bn a
 * slice of ctype (without quotes); -EINVAL when ctype is not multipart/form-data or has
 * no valid boundary (1..70 characters). */
int sl_multipart_boundary(const char *ctype, size_t n, const char **b, size_t *bn);

/* The value of the form field `name`: a part whose Content-Disposition is form-data with
 * name="<name>" and no filename. 0 and its byte range [*vs, *ve) in body;
 * -ENOENT when no part has that name; -EEXIST when two parts have it (a gateway and a
 * provider must not read different values); -EBADMSG when the body is not a well-formed
 * multipart body (no first delimiter, a part without the blank line that ends its
 * headers, no closing delimiter "--boundary--"). */
int sl_multipart_field(const char *body, size_t len, const char *b, size_t bn, const char *name, size_t *vs,
                       size_t *ve);

#endif
