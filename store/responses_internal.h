/* The stored-response record format (store/responses.c), apart so that the fuzz target
 * and the unit tests can reach the encoder and the decoder. Not an API for other rooms.
 * The one idea: a record is one LMDB value, a fixed header then owner, response and
 * items back to back, sealed by a CRC32C over the id, the header (crc = 0) and the
 * payload; anything that does not add up reads as damage (-EBADMSG). To change the
 * format, bump SL_RESP_VERSION: older records then read as damaged and are dropped. */
#ifndef SL_STORE_RESPONSES_INTERNAL_H
#define SL_STORE_RESPONSES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define SL_RESP_MAGIC     0x31524c53u /* "SLR1" little-endian */
#define SL_RESP_VERSION   1
#define SL_RESP_HDR_LEN   48
#define SL_RESP_ID_MAX    255 /* response ids and owners: 1..255 and 0..255 bytes */
#define SL_RESP_OWNER_MAX 255

/* The header (native byte order: the file never leaves the host). */
struct sl__resp_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t hdr_len;
  int64_t created;
  int64_t expires;
  uint32_t owner_len;
  uint32_t crc; /* CRC32C of id, this header with crc = 0, owner, response, items */
  uint64_t resp_len;
  uint64_t items_len;
};
_Static_assert(sizeof(struct sl__resp_hdr) == SL_RESP_HDR_LEN, "response record header is 48 bytes");

/* A decoded record: pointers into the value it was decoded from. */
struct sl__resp_view {
  const char *owner, *resp, *items;
  size_t owner_len, resp_len, items_len;
  int64_t created, expires;
};

/* Bytes of the record for these lengths (header included); 0 when it would overflow. */
size_t sl__resp_record_len(size_t owner_len, size_t resp_len, size_t items_len);
/* Writes the record for v (its created, expires and the three byte strings) into buf of
 * sl__resp_record_len(...) bytes, sealed for id. */
void sl__resp_record_encode(const void *id, size_t id_len, const struct sl__resp_view *v, char *buf);
/* The header alone, without the checksum (a cheap look during sweeps): 0 and *h filled,
 * or -EBADMSG when the magic, version, lengths or sizes do not add up to len. */
int sl__resp_record_header(const void *rec, size_t len, struct sl__resp_hdr *h);
/* Full check, checksum included: 0 and out pointing into rec, or -EBADMSG. */
int sl__resp_record_decode(const void *id, size_t id_len, const void *rec, size_t len, struct sl__resp_view *out);

#endif
