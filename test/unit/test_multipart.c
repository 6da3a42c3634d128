/* Unit tests for net/wire/multipart.c: the boundary of a Content-Type, and one form field's
 * byte range in bodies as curl and the openai SDK (undici FormData) send them, LF-only
 * bodies, and the malformed ones (duplicate field, no closing delimiter, headers that never
 * end). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "net/wire/multipart.h"

/* The field's value as a string in out ("" when absent); returns sl_multipart_field's code. */
static int field(const char *ctype, const char *body, size_t len, const char *name, char *out, size_t outn) {
  const char *b;
  size_t bn, vs, ve;
  out[0] = 0;
  int r = sl_multipart_boundary(ctype, strlen(ctype), &b, &bn);
  if (r < 0) return r;
  r = sl_multipart_field(body, len, b, bn, name, &vs, &ve);
  if (r == 0) {
    size_t n = ve - vs < outn - 1 ? ve - vs : outn - 1;
    memcpy(out, body + vs, n);
    out[n] = 0;
  }
  return r;
}

#define F(ctype, body, name, out) field((ctype), (body), sizeof(body) - 1, (name), (out), sizeof(out))

/* Captured from openai 6 (Node's FormData through undici): a file part with CRLF and a
 * "--fake" line inside, then model and response_format. */
static const char sdk_ctype[] = "multipart/form-data; boundary=----formdata-undici-006734333474";
static const char sdk_body[] = "------formdata-undici-006734333474\r\n"
                               "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                               "Content-Type: audio/wav\r\n\r\n"
                               "RIFF\r\n--fake\0\1\r\n"
                               "------formdata-undici-006734333474\r\n"
                               "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
                               "whisper-1\r\n"
                               "------formdata-undici-006734333474\r\n"
                               "Content-Disposition: form-data; name=\"response_format\"\r\n\r\n"
                               "json\r\n"
                               "------formdata-undici-006734333474--\r\n";

/* As curl -F model=whisper-1 -F file=@a.wav sends it (model first, file after). */
static const char curl_ctype[] = "multipart/form-data; boundary=------------------------d74496d66958873e";
static const char curl_body[] = "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
                                "whisper-1\r\n"
                                "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                                "Content-Type: application/octet-stream\r\n\r\n"
                                "bytes --------------------------d74496d66958873e not at a line start\r\n"
                                "--------------------------d74496d66958873eX is not a delimiter\r\n"
                                "--------------------------d74496d66958873e--\r\n";

static void boundary_forms(void) {
  const char *b;
  size_t bn;
  CHECK(sl_multipart_boundary(sdk_ctype, strlen(sdk_ctype), &b, &bn) == 0);
  CHECK(bn == 32 && memcmp(b, "----formdata-undici-006734333474", bn) == 0);
  const char *q = "Multipart/Form-Data ; charset=utf-8; BOUNDARY=\"a b:c\"";
  CHECK(sl_multipart_boundary(q, strlen(q), &b, &bn) == 0);
  CHECK(bn == 5 && memcmp(b, "a b:c", 5) == 0);
  const char *bad[] = {
      "multipart/mixed; boundary=x",
      "application/json",
      "multipart/form-data",
      "multipart/form-data; boundary=",
      "multipart/form-data; boundary=\"\"",
      "multipart/form-data; boundary=\"unterminated",
      "multipart/form-data; boundary=\"ends with space \"",
      "multipart/form-data; boundary=a; boundary=b",
      "multipart/form-data; boundary=\"a\\\"b\"",
      "multipart/form-data; boundary=01234567890123456789012345678901234567890123456789012345678901234567890",
      "multipart/form-data; =x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK(sl_multipart_boundary(bad[i], strlen(bad[i]), &b, &bn) == -EINVAL);
  /* 70 characters is the most */
  const char *seventy =
      "multipart/form-data;boundary=0123456789012345678901234567890123456789012345678901234567890123456789";
  CHECK(sl_multipart_boundary(seventy, strlen(seventy), &b, &bn) == 0 && bn == 70);
}

static void sdk_body_fields(void) {
  char out[64];
  CHECK(F(sdk_ctype, sdk_body, "model", out) == 0);
  CHECK_STR(out, "whisper-1");
  CHECK(F(sdk_ctype, sdk_body, "response_format", out) == 0);
  CHECK_STR(out, "json");
  CHECK(F(sdk_ctype, sdk_body, "file", out) == -ENOENT); /* a file part is not a field */
  CHECK(F(sdk_ctype, sdk_body, "language", out) == -ENOENT);
}

static void curl_body_fields(void) {
  char out[64];
  CHECK(F(curl_ctype, curl_body, "model", out) == 0);
  CHECK_STR(out, "whisper-1");
  CHECK(F(curl_ctype, curl_body, "file", out) == -ENOENT);
}

static void lf_only_and_padding(void) {
  char out[64];
  static const char body[] = "preamble line\n"
                             "--xyz \t\n"
                             "content-disposition: FORM-DATA; NAME=model\n\n"
                             "gpt-4o-transcribe\n"
                             "--xyz\n"
                             "Content-Disposition: form-data; name=\"prompt\"\n\n"
                             "two\nlines\n"
                             "--xyz--";
  CHECK(F("multipart/form-data; boundary=xyz", body, "model", out) == 0);
  CHECK_STR(out, "gpt-4o-transcribe");
  CHECK(F("multipart/form-data; boundary=xyz", body, "prompt", out) == 0);
  CHECK_STR(out, "two\nlines");
}

static void empty_value(void) {
  char out[64];
  static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n\r\n--b--\r\n";
  CHECK(F("multipart/form-data; boundary=b", body, "model", out) == 0);
  CHECK_STR(out, "");
  static const char lf[] = "--b\nContent-Disposition: form-data; name=\"model\"\n\n\n--b--\n";
  CHECK(F("multipart/form-data; boundary=b", lf, "model", out) == 0);
  CHECK_STR(out, "");
}

static void file_part_forms(void) {
  char out[64];
  /* filename* (RFC 5987) also makes a file part; so does a file part named model */
  static const char body[] = "--b\r\n"
                             "Content-Disposition: form-data; name=\"model\"; filename*=UTF-8''a.wav\r\n\r\n"
                             "xx\r\n"
                             "--b\r\n"
                             "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
                             "whisper-1\r\n"
                             "--b--";
  CHECK(F("multipart/form-data; boundary=b", body, "model", out) == 0);
  CHECK_STR(out, "whisper-1");
  /* quoted names with escapes; "model2" and "mode" are other fields */
  static const char esc[] = "--b\r\n"
                            "Content-Disposition: form-data; name=\"model2\"\r\n\r\nx\r\n"
                            "--b\r\n"
                            "Content-Disposition: form-data; name=\"mode\"\r\n\r\ny\r\n"
                            "--b\r\n"
                            "Content-Disposition: form-data; name=\"m\\odel\"\r\n\r\nz\r\n"
                            "--b--";
  CHECK(F("multipart/form-data; boundary=b", esc, "model", out) == 0);
  CHECK_STR(out, "z");
}

static void duplicate_field(void) {
  char out[64];
  static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\na\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nb\r\n"
                             "--b--\r\n";
  CHECK(F("multipart/form-data; boundary=b", body, "model", out) == -EEXIST);
}

static void malformed(void) {
  char out[64];
  static const char no_close[] = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\na\r\n";
  CHECK(F("multipart/form-data; boundary=b", no_close, "model", out) == -EBADMSG);
  static const char no_first[] = "Content-Disposition: form-data; name=\"model\"\r\n\r\na\r\n";
  CHECK(F("multipart/form-data; boundary=b", no_first, "model", out) == -EBADMSG);
  /* a preamble, then only the closing delimiter: well formed, no parts */
  static const char preamble[] = "Content-Disposition: form-data; name=\"model\"\r\n\r\na\r\n--b--";
  CHECK(F("multipart/form-data; boundary=b", preamble, "model", out) == -ENOENT);
  static const char no_blank[] = "--b\r\nContent-Disposition: form-data; name=\"model\"";
  CHECK(F("multipart/form-data; boundary=b", no_blank, "model", out) == -EBADMSG);
  /* headers run into the next delimiter */
  static const char runs[] = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--";
  CHECK(F("multipart/form-data; boundary=b", runs, "model", out) == -EBADMSG);
  /* the wrong boundary finds no delimiter */
  CHECK(F("multipart/form-data; boundary=c", sdk_body, "model", out) == -EBADMSG);
  CHECK(F("multipart/form-data; boundary=b", "", "model", out) == -EBADMSG);
  /* only a closing delimiter: well formed, no field */
  CHECK(F("multipart/form-data; boundary=b", "--b--\r\n", "model", out) == -ENOENT);
  size_t vs, ve;
  CHECK(sl_multipart_field(NULL, 0, "b", 1, "model", &vs, &ve) == -EBADMSG);
}

CHECK_MAIN(T(boundary_forms), T(sdk_body_fields), T(curl_body_fields), T(lf_only_and_padding), T(empty_value),
           T(file_part_forms), T(duplicate_field), T(malformed))
