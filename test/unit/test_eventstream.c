/* AWS event-stream framing (net/wire/eventstream.h): round trips through the encoder and
 * the decoder; a stream fed split at every byte offset (and one byte at a time) decodes to
 * the same messages; a flipped bit anywhere in a frame is -EBADMSG and the decoder stays
 * failed; frames with valid CRCs but inconsistent lengths or headers are -EBADMSG; a
 * Bedrock ConverseStream frame and an exception frame, byte for byte (their hex was
 * checked with botocore's own event-stream decoder); the empty message of AWS's test
 * suite. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "net/wire/eventstream.h"

/* checked with botocore: EventStreamBuffer decodes these into the frames the tests build */
#define BEDROCK_DELTA_HEX                                                                                              \
  "000000bc00000057451afe2b0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d74"     \
  "7970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e7442"       \
  "6c6f636b496e646578223a302c2264656c7461223a7b2274657874223a2248656c6c6f227d2c2270223a226162636465666768696a6b"       \
  "6c6d6e6f707172737475767778797a41424344227dd4873a8b"
#define BEDROCK_EXCEPTION_HEX                                                                                          \
  "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e0d3a636f"       \
  "6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070009657863657074696f"       \
  "6e7b226d657373616765223a22546f6f206d616e792072657175657374732c20706c656173652077616974206265666f726520747279"       \
  "696e6720616761696e2e227de8ffb26a"

#define HDR(n, v)                                                                                                      \
  { (n), sizeof(n) - 1, 7, (v), sizeof(v) - 1 }

/* Every message decoded, flattened to one line "name:type=value|...#payload" each. */
struct seen {
  struct sl_buf lines[64];
  size_t n;
  int stop_after; /* return -42 after this many messages (0: never) */
};

static int collect(void *ud, const struct sl_es_msg *m) {
  struct seen *s = ud;
  if (s->n == 64) return -ENOSPC;
  struct sl_buf *b = &s->lines[s->n++];
  for (size_t i = 0; i < m->nh; i++) {
    sl_buf_append(b, m->h[i].name, m->h[i].name_len);
    sl_buf_printf(b, ":%u=", m->h[i].type);
    for (size_t k = 0; k < m->h[i].value_len; k++) {
      unsigned char c = (unsigned char)m->h[i].value[k];
      if (c >= 0x20 && c < 0x7f)
        sl_buf_append(b, &c, 1);
      else
        sl_buf_printf(b, "\\x%02x", c);
    }
    sl_buf_append(b, "|", 1);
  }
  sl_buf_append(b, "#", 1);
  sl_buf_append(b, m->payload, m->payload_len);
  sl_buf_append(b, "", 1);
  return s->stop_after && (int)s->n == s->stop_after ? -42 : 0;
}

static void seen_free(struct seen *s) {
  for (size_t i = 0; i < s->n; i++) sl_buf_free(&s->lines[i]);
  s->n = 0;
}

static bool seen_eq(const struct seen *a, const struct seen *b) {
  if (a->n != b->n) return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->lines[i].p, b->lines[i].p)) return false;
  return true;
}

/* Decodes all of p[0..n) in one feed. */
static int decode_all(const char *p, size_t n, struct seen *s) {
  struct sl_es_decoder *d;
  if (sl_es_decoder_new(1 << 20, &d)) return -ENOMEM;
  int rc = sl_es_decoder_feed(d, p, n, collect, s);
  if (!rc && !sl_es_decoder_idle(d)) rc = -EPIPE;
  sl_es_decoder_free(d);
  return rc;
}

static void put_be32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24), p[1] = (char)(v >> 16), p[2] = (char)(v >> 8), p[3] = (char)v;
}

/* Recomputes both CRCs of a hand-made frame so that only the structure is wrong. */
static void fix_crcs(char *f, size_t total) {
  put_be32(f + 8, (uint32_t)crc32(0, (const Bytef *)f, 8));
  put_be32(f + total - 4, (uint32_t)crc32(0, (const Bytef *)f, (uInt)(total - 4)));
}

static void hex_of(const char *p, size_t n, char *out) {
  static const char H[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = H[(unsigned char)p[i] >> 4], out[2 * i + 1] = H[p[i] & 15];
  out[2 * n] = 0;
}

static void round_trip(void) {
  struct sl_es_header h[] = {HDR(":event-type", "messageStart"), HDR(":content-type", "application/json"),
                             HDR(":message-type", "event")};
  const char *payload = "{\"p\":\"abcdefgh\",\"role\":\"assistant\"}";
  struct sl_buf b = {0};
  CHECK(sl_es_encode(&b, h, 3, payload, strlen(payload)) == 0);
  CHECK(b.n == 16 + (1 + 11 + 3 + 12) + (1 + 13 + 3 + 16) + (1 + 13 + 3 + 5) + strlen(payload));
  struct seen s = {0};
  CHECK(decode_all(b.p, b.n, &s) == 0);
  CHECK(s.n == 1);
  CHECK(s.n == 1 && strcmp(s.lines[0].p, ":event-type:7=messageStart|:content-type:7=application/json|"
                                         ":message-type:7=event|#{\"p\":\"abcdefgh\",\"role\":\"assistant\"}") == 0);
  seen_free(&s);
  /* no headers, no payload: the 16-byte minimum */
  sl_buf_free(&b);
  CHECK(sl_es_encode(&b, NULL, 0, NULL, 0) == 0);
  CHECK(b.n == 16);
  CHECK(decode_all(b.p, b.n, &s) == 0 && s.n == 1 && strcmp(s.lines[0].p, "#") == 0);
  seen_free(&s);
  sl_buf_free(&b);
  /* a binary payload with NULs */
  CHECK(sl_es_encode(&b, h, 1, "a\0b", 3) == 0);
  struct sl_es_decoder *d;
  CHECK(sl_es_decoder_new(1024, &d) == 0);
  CHECK(sl_es_decoder_feed(d, b.p, b.n, collect, &s) == 0);
  CHECK(s.n == 1 && s.lines[0].n == strlen(":event-type:7=messageStart|#") + 3 + 1);
  sl_es_decoder_free(d);
  seen_free(&s);
  sl_buf_free(&b);
}

/* Every header type, re-encoded with sl_es_encode_typed, decodes to the same values. */
static void typed_headers(void) {
  struct sl_es_header h[] = {
      {"t", 1, 0, "", 0},
      {"f", 1, 1, "", 0},
      {"b", 1, 2, "\x7f", 1},
      {"s", 1, 3, "\x01\x02", 2},
      {"i", 1, 4, "\0\0\0\x2a", 4},
      {"l", 1, 5, "\0\0\0\0\0\0\0\x01", 8},
      {"y", 1, 6, "\0\xff", 2},
      {"z", 1, 7, "str", 3},
      {"ts", 2, 8, "\0\0\x01\x90\0\0\0\0", 8},
      {"u", 1, 9, "0123456789abcdef", 16},
  };
  struct sl_buf b = {0};
  CHECK(sl_es_encode_typed(&b, h, 10, "x", 1) == 0);
  struct seen s = {0};
  CHECK(decode_all(b.p, b.n, &s) == 0 && s.n == 1);
  if (s.n == 1)
    CHECK_STR(s.lines[0].p, "t:0=|f:1=|b:2=\\x7f|s:3=\\x01\\x02|i:4=\\x00\\x00\\x00*|"
                            "l:5=\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01|y:6=\\x00\\xff|z:7=str|"
                            "ts:8=\\x00\\x00\\x01\\x90\\x00\\x00\\x00\\x00|u:9=0123456789abcdef|#x");
  seen_free(&s);
  /* wrong sizes for the fixed types, a type above 9, a long name, too many headers */
  struct sl_es_header bad_int = {"i", 1, 4, "\0\0\0", 3}, bad_type = {"q", 1, 10, "", 0};
  char longname[256];
  memset(longname, 'n', sizeof longname);
  struct sl_es_header bad_name = {longname, 256, 7, "", 0}, empty_name = {"", 0, 7, "v", 1};
  CHECK(sl_es_encode_typed(&b, &bad_int, 1, NULL, 0) == -EINVAL);
  CHECK(sl_es_encode_typed(&b, &bad_type, 1, NULL, 0) == -EINVAL);
  CHECK(sl_es_encode(&b, &bad_name, 1, NULL, 0) == -EINVAL);
  CHECK(sl_es_encode(&b, &empty_name, 1, NULL, 0) == -EINVAL);
  struct sl_es_header many[SL_ES_MAX_HEADERS + 1];
  for (size_t i = 0; i <= SL_ES_MAX_HEADERS; i++) many[i] = (struct sl_es_header)HDR("k", "v");
  size_t before = b.n;
  CHECK(sl_es_encode(&b, many, SL_ES_MAX_HEADERS + 1, NULL, 0) == -EINVAL);
  CHECK(b.n == before); /* a refusal writes nothing */
  CHECK(sl_es_encode(&b, many, SL_ES_MAX_HEADERS, NULL, 0) == 0);
  sl_buf_free(&b);
}

/* A stream of several frames (one larger than a typical chunk) decodes the same whatever
 * the split: at every single offset, in two places, and one byte at a time. */
static void split_everywhere(void) {
  struct sl_buf b = {0};
  struct sl_es_header h1[] = {HDR(":event-type", "contentBlockDelta"), HDR(":message-type", "event")};
  struct sl_es_header h2[] = {HDR(":event-type", "messageStop"), HDR(":message-type", "event")};
  char big[700];
  memset(big, 'x', sizeof big);
  sl_es_encode(&b, h1, 2, "{\"delta\":{\"text\":\"Hel\"}}", 24);
  sl_es_encode(&b, h1, 2, big, sizeof big);
  sl_es_encode(&b, NULL, 0, NULL, 0);
  sl_es_encode(&b, h2, 2, "{\"stopReason\":\"end_turn\"}", 25);
  CHECK(!b.oom);
  struct seen whole = {0};
  CHECK(decode_all(b.p, b.n, &whole) == 0);
  CHECK(whole.n == 4);
  int bad = 0;
  for (size_t cut = 0; cut <= b.n; cut++) {
    struct seen s = {0};
    struct sl_es_decoder *d;
    sl_es_decoder_new(1 << 20, &d);
    int rc = sl_es_decoder_feed(d, b.p, cut, collect, &s);
    rc = rc ? rc : sl_es_decoder_feed(d, b.p + cut, b.n - cut, collect, &s);
    if (rc || !sl_es_decoder_idle(d) || !seen_eq(&s, &whole)) bad++;
    sl_es_decoder_free(d);
    seen_free(&s);
  }
  CHECK(bad == 0);
  /* two cuts (a stride over all pairs), then byte by byte */
  for (size_t c1 = 0; c1 <= b.n; c1 += 7) {
    for (size_t c2 = c1; c2 <= b.n; c2 += 13) {
      struct seen s = {0};
      struct sl_es_decoder *d;
      sl_es_decoder_new(1 << 20, &d);
      int rc = sl_es_decoder_feed(d, b.p, c1, collect, &s);
      rc = rc ? rc : sl_es_decoder_feed(d, b.p + c1, c2 - c1, collect, &s);
      rc = rc ? rc : sl_es_decoder_feed(d, b.p + c2, b.n - c2, collect, &s);
      if (rc || !seen_eq(&s, &whole)) bad++;
      sl_es_decoder_free(d);
      seen_free(&s);
    }
  }
  CHECK(bad == 0);
  struct seen s = {0};
  struct sl_es_decoder *d;
  sl_es_decoder_new(1 << 20, &d);
  size_t first_len = (size_t)((unsigned char)b.p[2] << 8 | (unsigned char)b.p[3]);
  for (size_t i = 0; i < b.n; i++) {
    CHECK(sl_es_decoder_feed(d, b.p + i, 1, collect, &s) == 0);
    if (i + 1 == first_len - 1) CHECK(s.n == 0 && !sl_es_decoder_idle(d));
    if (i + 1 == first_len) CHECK(s.n == 1 && sl_es_decoder_idle(d)); /* out at its last byte */
  }
  CHECK(seen_eq(&s, &whole));
  CHECK(sl_es_decoder_idle(d));
  /* a partial frame is not idle; feeding nothing changes nothing */
  seen_free(&s);
  CHECK(sl_es_decoder_feed(d, b.p, 5, collect, &s) == 0 && !sl_es_decoder_idle(d) && s.n == 0);
  CHECK(sl_es_decoder_feed(d, b.p, 0, collect, &s) == 0 && !sl_es_decoder_idle(d));
  CHECK(sl_es_decoder_feed(d, b.p + 5, first_len - 5 + 3, collect, &s) == 0 && s.n == 1 && !sl_es_decoder_idle(d));
  sl_es_decoder_free(d);
  seen_free(&s);
  seen_free(&whole);
  sl_buf_free(&b);
}

/* CRC-32 catches every single-bit error: a flipped bit in the prelude, the headers, the
 * payload or either CRC is -EBADMSG, fed whole or split, and nothing is delivered. */
static void flipped_bits(void) {
  struct sl_es_header h[] = {HDR(":event-type", "contentBlockDelta"), HDR(":content-type", "application/json"),
                             HDR(":message-type", "event")};
  const char *payload = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},\"p\":\"abc\"}";
  struct sl_buf b = {0};
  sl_es_encode(&b, h, 3, payload, strlen(payload));
  int bad = 0, tried = 0;
  for (size_t i = 0; i < b.n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      b.p[i] ^= (char)(1 << bit);
      for (int split = 0; split < 2; split++) {
        struct seen s = {0};
        struct sl_es_decoder *d;
        sl_es_decoder_new(1 << 20, &d);
        size_t cut = split ? i / 2 + 1 : b.n;
        int rc = sl_es_decoder_feed(d, b.p, cut, collect, &s);
        if (!rc) rc = sl_es_decoder_feed(d, b.p + cut, b.n - cut, collect, &s);
        /* a changed length may wait for more bytes: then the stream ends unfinished, and
         * that can only happen if the prelude CRC matched, which a single bit never does */
        if (rc != -EBADMSG || s.n) bad++;
        /* the decoder stays failed: a good frame after it is not read */
        struct sl_buf g = {0};
        sl_es_encode(&g, NULL, 0, NULL, 0);
        if (sl_es_decoder_feed(d, g.p, g.n, collect, &s) != -EBADMSG || s.n) bad++;
        sl_buf_free(&g);
        sl_es_decoder_free(d);
        seen_free(&s);
        tried++;
      }
      b.p[i] ^= (char)(1 << bit);
    }
  }
  CHECK(tried == (int)b.n * 16);
  CHECK(bad == 0);
  struct seen s = {0};
  CHECK(decode_all(b.p, b.n, &s) == 0 && s.n == 1); /* restored */
  seen_free(&s);
  sl_buf_free(&b);
}

/* Frames whose CRCs are right but whose structure is not. */
static void strict_structure(void) {
  char f[64];
  struct seen s = {0};
  /* total 15 (< 16) */
  memset(f, 0, sizeof f);
  put_be32(f, 15), put_be32(f + 4, 0);
  put_be32(f + 8, (uint32_t)crc32(0, (const Bytef *)f, 8));
  CHECK(decode_all(f, 16, &s) == -EBADMSG);
  /* headers length past the frame */
  memset(f, 0, sizeof f);
  put_be32(f, 20), put_be32(f + 4, 5);
  fix_crcs(f, 20);
  CHECK(decode_all(f, 20, &s) == -EBADMSG);
  /* a string header whose length runs past the headers: name "a", type 7, length 9 */
  memset(f, 0, sizeof f);
  put_be32(f, 16 + 6), put_be32(f + 4, 6);
  memcpy(f + 12, "\1a\7\0\11x", 6);
  fix_crcs(f, 22);
  CHECK(decode_all(f, 22, &s) == -EBADMSG);
  /* the same with length 1: fine */
  f[16] = 1;
  fix_crcs(f, 22);
  CHECK(decode_all(f, 22, &s) == 0 && s.n == 1 && strcmp(s.lines[0].p, "a:7=x|#") == 0);
  seen_free(&s);
  /* type 10 */
  memset(f, 0, sizeof f);
  put_be32(f, 16 + 3), put_be32(f + 4, 3);
  memcpy(f + 12, "\1a\12", 3);
  fix_crcs(f, 19);
  CHECK(decode_all(f, 19, &s) == -EBADMSG);
  /* an empty name */
  memcpy(f + 12, "\0\0\0", 3);
  fix_crcs(f, 19);
  CHECK(decode_all(f, 19, &s) == -EBADMSG);
  /* a name longer than the headers */
  memcpy(f + 12, "\5ab\0", 3);
  fix_crcs(f, 19);
  CHECK(decode_all(f, 19, &s) == -EBADMSG);
  /* an int32 header cut short (type 4 needs 4 bytes, 2 left) */
  memset(f, 0, sizeof f);
  put_be32(f, 16 + 5), put_be32(f + 4, 5);
  memcpy(f + 12, "\1a\4\0\0", 5);
  fix_crcs(f, 21);
  CHECK(decode_all(f, 21, &s) == -EBADMSG);
  /* a uuid header (16 bytes) cut short */
  memcpy(f + 12, "\1a\11\0\0", 5);
  fix_crcs(f, 21);
  CHECK(decode_all(f, 21, &s) == -EBADMSG);
  /* a second header cut before its type byte */
  memcpy(f + 12, "\1a\0\1b", 5); /* "a" true, then "b" with no type */
  fix_crcs(f, 21);
  CHECK(decode_all(f, 21, &s) == -EBADMSG);
  /* 17 headers of type 0 (3 bytes each) */
  char g[16 + 17 * 3];
  memset(g, 0, sizeof g);
  put_be32(g, sizeof g), put_be32(g + 4, 17 * 3);
  for (int i = 0; i < 17; i++) memcpy(g + 12 + 3 * i, "\1h\0", 3);
  fix_crcs(g, sizeof g);
  CHECK(decode_all(g, sizeof g, &s) == -EBADMSG);
  /* 16 are fine */
  put_be32(g, sizeof g - 3), put_be32(g + 4, 16 * 3);
  fix_crcs(g, sizeof g - 3);
  CHECK(decode_all(g, sizeof g - 3, &s) == 0 && s.n == 1);
  seen_free(&s);
  /* a frame over max_frame is refused at its prelude, before buffering it */
  struct sl_buf b = {0};
  char payload[100] = {0};
  sl_es_encode(&b, NULL, 0, payload, sizeof payload);
  struct sl_es_decoder *d;
  CHECK(sl_es_decoder_new(115, &d) == 0);
  CHECK(sl_es_decoder_feed(d, b.p, 12, collect, &s) == -EBADMSG);
  sl_es_decoder_free(d);
  CHECK(sl_es_decoder_new(116, &d) == 0);
  CHECK(sl_es_decoder_feed(d, b.p, b.n, collect, &s) == 0 && s.n == 1);
  sl_es_decoder_free(d);
  seen_free(&s);
  CHECK(sl_es_decoder_new(15, &d) == -EINVAL && d == NULL);
  sl_buf_free(&b);
}

/* A nonzero callback value stops the feed and sticks. */
static void callback_stops(void) {
  struct sl_buf b = {0};
  for (int i = 0; i < 3; i++) sl_es_encode(&b, NULL, 0, "p", 1);
  struct seen s = {.stop_after = 2};
  struct sl_es_decoder *d;
  sl_es_decoder_new(1024, &d);
  CHECK(sl_es_decoder_feed(d, b.p, b.n, collect, &s) == -42);
  CHECK(s.n == 2);
  CHECK(sl_es_decoder_feed(d, b.p, b.n, collect, &s) == -42 && s.n == 2);
  sl_es_decoder_free(d);
  seen_free(&s);
  sl_buf_free(&b);
}

static const struct sl_es_msg *last_msg;
static struct sl_es_msg msg_copy;
static int keep(void *ud, const struct sl_es_msg *m) {
  (void)ud;
  msg_copy = *m;
  last_msg = &msg_copy;
  return 0;
}

/* A Bedrock ConverseStream contentBlockDelta frame, byte for byte. The hex below is what
 * botocore 1.43.11's EventStreamBuffer decodes into these headers and payload. */
static void bedrock_frame(void) {
  struct sl_es_header h[] = {HDR(":event-type", "contentBlockDelta"), HDR(":content-type", "application/json"),
                             HDR(":message-type", "event")};
  const char *payload =
      "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"},\"p\":\"abcdefghijklmnopqrstuvwxyzABCD\"}";
  struct sl_buf b = {0};
  CHECK(sl_es_encode(&b, h, 3, payload, strlen(payload)) == 0);
  char hex[1024];
  hex_of(b.p, b.n, hex);
  CHECK_STR(hex, BEDROCK_DELTA_HEX);
  struct sl_es_decoder *d;
  sl_es_decoder_new(16 << 20, &d);
  last_msg = NULL;
  CHECK(sl_es_decoder_feed(d, b.p, b.n, keep, NULL) == 0);
  CHECK(last_msg != NULL);
  if (last_msg) {
    const struct sl_es_header *t = sl_es_header_find(last_msg, ":event-type");
    CHECK(t && t->value_len == 17 && memcmp(t->value, "contentBlockDelta", 17) == 0);
    t = sl_es_header_find(last_msg, ":message-type");
    CHECK(t && t->value_len == 5 && memcmp(t->value, "event", 5) == 0);
    CHECK(sl_es_header_find(last_msg, ":exception-type") == NULL);
    CHECK(sl_es_header_find(last_msg, ":event-typ") == NULL);
    CHECK(last_msg->payload_len == strlen(payload) && memcmp(last_msg->payload, payload, strlen(payload)) == 0);
  }
  sl_es_decoder_free(d);
  sl_buf_free(&b);
}

/* An exception frame as Bedrock sends one mid-stream. */
static void exception_frame(void) {
  struct sl_es_header h[] = {HDR(":exception-type", "throttlingException"), HDR(":content-type", "application/json"),
                             HDR(":message-type", "exception")};
  const char *payload = "{\"message\":\"Too many requests, please wait before trying again.\"}";
  struct sl_buf b = {0};
  CHECK(sl_es_encode(&b, h, 3, payload, strlen(payload)) == 0);
  char hex[1024];
  hex_of(b.p, b.n, hex);
  CHECK_STR(hex, BEDROCK_EXCEPTION_HEX);
  struct sl_es_decoder *d;
  sl_es_decoder_new(16 << 20, &d);
  last_msg = NULL;
  CHECK(sl_es_decoder_feed(d, b.p, b.n, keep, NULL) == 0 && last_msg);
  if (last_msg) {
    const struct sl_es_header *t = sl_es_header_find(last_msg, ":message-type");
    CHECK(t && t->value_len == 9 && memcmp(t->value, "exception", 9) == 0);
    t = sl_es_header_find(last_msg, ":exception-type");
    CHECK(t && t->value_len == 19 && memcmp(t->value, "throttlingException", 19) == 0);
    CHECK(sl_es_header_find(last_msg, ":event-type") == NULL);
  }
  sl_es_decoder_free(d);
  sl_buf_free(&b);
}

/* AWS's event-stream test suite (encoded/positive/empty_message, as in botocore's tests). */
static void aws_empty_message(void) {
  static const char frame[] = "\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff";
  struct seen s = {0};
  CHECK(decode_all(frame, 16, &s) == 0 && s.n == 1 && strcmp(s.lines[0].p, "#") == 0);
  seen_free(&s);
  struct sl_buf b = {0};
  CHECK(sl_es_encode(&b, NULL, 0, NULL, 0) == 0 && b.n == 16 && memcmp(b.p, frame, 16) == 0);
  sl_buf_free(&b);
}

CHECK_MAIN(T(round_trip), T(typed_headers), T(split_everywhere), T(flipped_bits), T(strict_structure),
           T(callback_stops), T(bedrock_frame), T(exception_frame), T(aws_empty_message))
