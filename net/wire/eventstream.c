/* AWS event-stream framing; see eventstream.h. (stub: the real code follows) */
#include "net/wire/eventstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sl_es_decoder {
  size_t max_frame;
};
int sl_es_decoder_new(size_t max_frame, struct sl_es_decoder **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return -ENOMEM;
  (*out)->max_frame = max_frame;
  return 0;
}
int sl_es_decoder_feed(struct sl_es_decoder *d, const char *p, size_t n,
                       int (*cb)(void *ud, const struct sl_es_msg *m), void *ud) {
  (void)d, (void)p, (void)n, (void)cb, (void)ud;
  return -EBADMSG;
}
bool sl_es_decoder_idle(const struct sl_es_decoder *d) { return d != NULL; }
void sl_es_decoder_free(struct sl_es_decoder *d) { free(d); }
const struct sl_es_header *sl_es_header_find(const struct sl_es_msg *m, const char *name) {
  (void)m, (void)name;
  return NULL;
}
int sl_es_encode(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n) {
  (void)out, (void)h, (void)nh, (void)payload, (void)n;
  return -ENOSYS;
}
