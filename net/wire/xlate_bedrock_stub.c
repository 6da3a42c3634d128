/* Temporary stubs for net/wire/xlate_bedrock.h (replaced by the real translators). */
#include <errno.h>
#include <stdlib.h>

#include "net/wire/xlate_bedrock.h"

struct sl_converse_stream {
  int unused;
};

int sl_xlate_oai_to_converse_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                     char *err, size_t errlen) {
  (void)req, (void)o, (void)out, (void)err, (void)errlen;
  return -ENOSYS;
}
int sl_xlate_converse_to_oai_response(const char *p, size_t n, const struct sl_xlate_resp_opts *o,
                                      const char *model, struct sl_buf *out, struct sl_xlate_usage *u) {
  (void)p, (void)n, (void)o, (void)model, (void)out, (void)u;
  return -ENOSYS;
}
int sl_converse_stream_new(const struct sl_xlate_resp_opts *o, const char *model, struct sl_converse_stream **out) {
  (void)o, (void)model;
  *out = calloc(1, sizeof **out);
  return *out ? 0 : -ENOMEM;
}
int sl_converse_stream_event(struct sl_converse_stream *s, const char *type, size_t tn, const char *payload,
                             size_t pn, struct sl_buf *out) {
  (void)s, (void)type, (void)tn, (void)payload, (void)pn, (void)out;
  return -ENOSYS;
}
int sl_converse_stream_finish(struct sl_converse_stream *s, struct sl_buf *out, struct sl_xlate_usage *u) {
  (void)s, (void)out, (void)u;
  return -ENOSYS;
}
void sl_converse_stream_free(struct sl_converse_stream *s) { free(s); }
int sl_anthropic_body_for_version(const char *body, size_t n, const char *version, struct sl_buf *out,
                                  bool *stream, char *err, size_t errlen) {
  (void)body, (void)n, (void)version, (void)out, (void)stream, (void)err, (void)errlen;
  return -ENOSYS;
}
int sl_bedrock_invoke_chunk_to_sse(const char *payload, size_t n, struct sl_buf *out) {
  (void)payload, (void)n, (void)out;
  return -ENOSYS;
}
int sl_bedrock_error_to_oai(int status, const char *type, size_t tn, const char *body, size_t n, struct sl_buf *out) {
  (void)status, (void)type, (void)tn, (void)body, (void)n, (void)out;
  return -ENOSYS;
}
int sl_bedrock_embed_request(enum sl_bedrock_embed k, const cJSON *req, struct sl_buf *out, char *err, size_t errlen) {
  (void)k, (void)req, (void)out, (void)err, (void)errlen;
  return -ENOSYS;
}
int sl_bedrock_embed_response(enum sl_bedrock_embed k, const char *model, const char *p, size_t n,
                              struct sl_buf *out, struct sl_xlate_usage *u) {
  (void)k, (void)model, (void)p, (void)n, (void)out, (void)u;
  return -ENOSYS;
}
