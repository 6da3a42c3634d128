/* AWS event-stream framing (application/vnd.amazon.eventstream, used by Bedrock's
 * ConverseStream and InvokeModelWithResponseStream): each frame is a prelude (total length
 * u32 BE, headers length u32 BE, prelude CRC-32), headers (name length u8, name, type u8,
 * value), the payload, and a message CRC-32 over everything before it. The one idea: the
 * decoder is incremental (bytes may arrive split anywhere, several frames per chunk) and
 * strict: anything inconsistent is -EBADMSG and the decoder stays failed, so a corrupt
 * stream is never passed on. CRC-32 is zlib's. To extend it (a header type's meaning),
 * read the typed value in the callback; the decoder only checks bounds. */
#ifndef SL_NET_WIRE_EVENTSTREAM_H
#define SL_NET_WIRE_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"

#define SL_ES_MAX_HEADERS 16

/* Header value types: 0 true, 1 false, 2 byte, 3 short, 4 integer, 5 long, 6 bytes,
 * 7 string, 8 timestamp, 9 uuid. value/value_len is the raw value (without the u16 length
 * prefix for types 6 and 7; empty for 0 and 1). */
struct sl_es_header {
  const char *name;
  size_t name_len;
  uint8_t type;
  const char *value;
  size_t value_len;
};
struct sl_es_msg {
  struct sl_es_header h[SL_ES_MAX_HEADERS];
  size_t nh;
  const char *payload;
  size_t payload_len;
};
struct sl_es_decoder; /* opaque, holds a partial frame */

int sl_es_decoder_new(size_t max_frame, struct sl_es_decoder **out); /* max_frame e.g. 16 MiB */
/* Feeds bytes; calls cb for each whole frame (pointers valid during the call). Returns 0, the
 * callback's nonzero value, or -EBADMSG (bad CRC, a length out of range, a bad header). After
 * an error the decoder stays failed. (A nonzero callback value stops the decoder too: the
 * rest of the chunk is not read, and later feeds return that value again.) -EBADMSG when:
 * total length < 16 or > max_frame, headers length > total - 16, a prelude or message CRC
 * mismatch, a header with an empty name, a type above 9, a value or name running past the
 * headers, or more than SL_ES_MAX_HEADERS headers. */
int sl_es_decoder_feed(struct sl_es_decoder *d, const char *p, size_t n, int (*cb)(void *ud, const struct sl_es_msg *m),
                       void *ud);
bool sl_es_decoder_idle(const struct sl_es_decoder *d); /* no partial frame buffered */
void sl_es_decoder_free(struct sl_es_decoder *d);
/* The header named name (string/bytes types), or NULL. */
const struct sl_es_header *sl_es_header_find(const struct sl_es_msg *m, const char *name);
/* Encodes one frame with string headers (type 7) into out (for the mock provider and tests).
 * 0, -EINVAL (a name empty or over 255 bytes, a value over 65535, more than
 * SL_ES_MAX_HEADERS headers, a frame over 4 GiB), -ENOMEM. */
int sl_es_encode(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n);
/* The same with each header's own type (h[i].type 0..9; the fixed-size types need a value of
 * exactly their size: 0 for 0/1, 1, 2, 4, 8, 8 for 8, 16 for 9): re-encodes a decoded frame. */
int sl_es_encode_typed(struct sl_buf *out, const struct sl_es_header *h, size_t nh, const char *payload, size_t n);

#endif
