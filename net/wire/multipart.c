/* multipart.c: multipart/form-data, just enough to route one (see multipart.h): the
 * boundary of a Content-Type, and the byte range of one plain form field's value.
 *
 * The idea: walk delimiter lines only. A delimiter is "--boundary" at the start of the body
 * or right after a line break (CRLF, or a bare LF, tolerated); after it come optional
 * transport padding (spaces, tabs) and a line break, or "--" for the closing delimiter
 * ("--boundaryX" is not a delimiter). A part's headers run to the first empty line; its
 * value runs to the line break before the next delimiter. Only Content-Disposition is read
 * (its name= and filename= / filename*= parameters); a part is never decoded: file bytes are
 * only scanned for the next delimiter. To read another header of a part: add it to
 * part_headers. */
#include "net/wire/multipart.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool ieq(const char *a, size_t an, const char *lit) {
  size_t n = strlen(lit);
  if (an != n) return false;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)a[i]) != lit[i]) return false;
  return true;
}

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* RFC 2046 bchars (space allowed, but not last). */
static bool is_bchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         strchr("'()+_,-./:=? ", c) != NULL;
}

/* RFC 7230 tchar: the characters of an unquoted parameter name or value. */
static bool is_tchar(unsigned char c) { return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c); }

/* ---- header parameters --------------------------------------------------------------------- */

/* One `; name=value` parameter of a header value starting at s[*i]. On success the name is
 * [*ns, *ne), the value [*vs, *ve) (without quotes; escapes kept, *quoted says so). Returns 1
 * for a parameter, 0 at the end, -1 on malformed input. */
static int next_param(const char *s, size_t n, size_t *i, size_t *ns, size_t *ne, size_t *vs, size_t *ve,
                      bool *quoted) {
  size_t p = *i;
  while (p < n && is_ws(s[p])) p++;
  if (p == n) return 0;
  if (s[p] != ';') return -1;
  p++;
  while (p < n && is_ws(s[p])) p++;
  if (p == n) return 0; /* a trailing ';' */
  *ns = p;
  while (p < n && is_tchar((unsigned char)s[p])) p++;
  *ne = p;
  if (*ne == *ns) return -1;
  while (p < n && is_ws(s[p])) p++;
  if (p == n || s[p] != '=') return -1;
  p++;
  while (p < n && is_ws(s[p])) p++;
  *quoted = p < n && s[p] == '"';
  if (*quoted) {
    p++;
    *vs = p;
    while (p < n && s[p] != '"') {
      if (s[p] == '\\') {
        if (p + 1 == n) return -1;
        p++;
      }
      if (s[p] == '\r' || s[p] == '\n') return -1;
      p++;
    }
    if (p == n) return -1;
    *ve = p;
    p++;
  } else {
    *vs = p;
    while (p < n && is_tchar((unsigned char)s[p])) p++;
    *ve = p;
    if (*ve == *vs) return -1;
  }
  *i = p;
  return 1;
}

/* Does the parameter value [vs, ve) (quoted: with backslash escapes) spell want? */
static bool value_is(const char *s, size_t vs, size_t ve, bool quoted, const char *want) {
  size_t k = 0, wn = strlen(want);
  for (size_t p = vs; p < ve; p++) {
    if (quoted && s[p] == '\\') p++;
    if (k == wn || s[p] != want[k]) return false;
    k++;
  }
  return k == wn;
}

int sl_multipart_boundary(const char *ctype, size_t n, const char **b, size_t *bn) {
  if (!ctype) return -EINVAL;
  size_t p = 0;
  while (p < n && is_ws(ctype[p])) p++;
  size_t ts = p;
  while (p < n && ctype[p] != ';' && !is_ws(ctype[p])) p++;
  if (!ieq(ctype + ts, p - ts, "multipart/form-data")) return -EINVAL;
  size_t ns, ne, vs, ve;
  bool quoted, found = false;
  int r;
  while ((r = next_param(ctype, n, &p, &ns, &ne, &vs, &ve, &quoted)) == 1) {
    if (!ieq(ctype + ns, ne - ns, "boundary")) continue;
    if (found) return -EINVAL; /* two boundaries: which one? */
    found = true;
    if (ve - vs < 1 || ve - vs > 70 || ctype[ve - 1] == ' ') return -EINVAL;
    for (size_t k = vs; k < ve; k++)
      if (!is_bchar((unsigned char)ctype[k])) return -EINVAL; /* also rejects backslash escapes: not a slice then */
    *b = ctype + vs;
    *bn = ve - vs;
  }
  if (r < 0 || !found) return -EINVAL;
  return 0;
}

/* ---- the body ------------------------------------------------------------------------------ */

/* Is there a delimiter "--boundary" at body[p]? 1: a part follows, its headers at *after;
 * 2: the closing delimiter; 0: no delimiter here. */
static int delimiter_at(const char *body, size_t len, size_t p, const char *b, size_t bn, size_t *after) {
  if (len - p < bn + 2 || body[p] != '-' || body[p + 1] != '-' || memcmp(body + p + 2, b, bn)) return 0;
  p += bn + 2;
  if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-') return 2;
  while (p < len && is_ws(body[p])) p++;
  if (p < len && body[p] == '\n') {
    *after = p + 1;
    return 1;
  }
  if (len - p >= 2 && body[p] == '\r' && body[p + 1] == '\n') {
    *after = p + 2;
    return 1;
  }
  return 0;
}

/* The next delimiter at or after from that starts a line: its kind (1 or 2, else 0 when
 * there is none), *dstart where the line break before it starts (the end of the previous
 * part's value) and *after (see delimiter_at). at_start: from may be a line start itself. */
static int next_delimiter(const char *body, size_t len, size_t from, bool at_start, const char *b, size_t bn,
                          size_t *dstart, size_t *after) {
  if (at_start) {
    int k = delimiter_at(body, len, from, b, bn, after);
    if (k) {
      *dstart = from;
      return k;
    }
  }
  size_t p = from;
  while (p < len) {
    const char *nl = memchr(body + p, '\n', len - p);
    if (!nl) return 0;
    size_t q = (size_t)(nl - body);
    int k = delimiter_at(body, len, q + 1, b, bn, after);
    if (k) {
      *dstart = q > from && body[q - 1] == '\r' ? q - 1 : q;
      return k;
    }
    p = q + 1;
  }
  return 0;
}

/* The headers of a part from body[*p]: reads lines up to the empty one and leaves *p just
 * after it. *named: Content-Disposition is form-data with name="<name>" and no filename.
 * -EBADMSG when the headers do not end. */
static int part_headers(const char *body, size_t len, size_t *p, const char *b, size_t bn, const char *name,
                        bool *named) {
  *named = false;
  size_t s = *p;
  for (;;) {
    const char *nl = memchr(body + s, '\n', len - s);
    if (!nl) return -EBADMSG;
    size_t e = (size_t)(nl - body), next = e + 1;
    if (e > s && body[e - 1] == '\r') e--;
    if (e == s) {
      *p = next;
      return 0;
    }
    size_t unused;
    if (delimiter_at(body, len, s, b, bn, &unused))
      return -EBADMSG; /* the next part began before these headers ended */
    const char *colon = memchr(body + s, ':', e - s);
    if (colon && ieq(body + s, (size_t)(colon - body) - s, "content-disposition")) {
      size_t i = (size_t)(colon - body) + 1;
      const char *h = body;
      while (i < e && is_ws(h[i])) i++;
      size_t ts = i;
      while (i < e && is_tchar((unsigned char)h[i])) i++;
      bool form = ieq(h + ts, i - ts, "form-data");
      bool has_name = false, file = false, bad = false;
      size_t ns, ne, vs, ve;
      bool quoted;
      int r;
      /* parameters are parsed on the line [0, e) from i */
      while ((r = next_param(h, e, &i, &ns, &ne, &vs, &ve, &quoted)) == 1) {
        if (ieq(h + ns, ne - ns, "name")) {
          if (has_name) bad = true;
          has_name = value_is(h, vs, ve, quoted, name);
        } else if (ieq(h + ns, ne - ns, "filename") || ieq(h + ns, ne - ns, "filename*")) {
          file = true;
        }
      }
      if (form && has_name && !file && !bad && r == 0) *named = true;
    }
    s = next;
  }
}

int sl_multipart_field(const char *body, size_t len, const char *b, size_t bn, const char *name, size_t *vs,
                       size_t *ve) {
  if (!body || !b || bn == 0 || !name) return -EBADMSG;
  size_t dstart, p;
  int k = next_delimiter(body, len, 0, true, b, bn, &dstart, &p);
  if (k == 0) return -EBADMSG;
  unsigned found = 0;
  size_t fs = 0, fe = 0;
  while (k == 1) {
    bool named;
    if (part_headers(body, len, &p, b, bn, name, &named) < 0) return -EBADMSG;
    size_t vstart = p;
    /* the value may be empty: the delimiter's line break can start right at vstart */
    k = next_delimiter(body, len, vstart, false, b, bn, &dstart, &p);
    if (k == 0) return -EBADMSG; /* no closing delimiter */
    if (named) {
      if (found++ == 0) {
        fs = vstart;
        fe = dstart;
      }
    }
  }
  if (found > 1) return -EEXIST;
  if (!found) return -ENOENT;
  *vs = fs;
  *ve = fe;
  return 0;
}
