/* The learned router's features: what a prompt looks like to the model, computed over at
 * most SL_ROUTE_TEXT_CAP bytes, into a caller-provided fixed scratch (no
 * allocation). The one idea: the same function feeds the trainer (core/routerctl.c) and
 * the scorer (policy/route_model.c), so training and serving can never disagree.
 *
 * Tokenizer (id SL_ROUTE_TOKENIZER_ID): a word is a maximal run of ASCII letters, digits
 * and UTF-8 bytes (>= 0x80, kept as they are: no Unicode case folding); ASCII letters are
 * lowercased and every digit becomes '0' (numbers keep their shape, not their value:
 * "16" and "42" are the same word). Every other non-space byte is a one-byte token
 * (punctuation, operators). Hashing (id SL_ROUTE_HASH_ID 2): a word's folded bytes, 8 at a
 * time, through a 64-bit mixer with its length (id 1 was FNV-1a byte by byte: the same
 * tokens, twice the time); a punctuation token is FNV-1a 32 of its byte; a bigram mixes the
 * two hashes; the bucket is the low B bits. The scan classifies 16 bytes at a time into
 * bitmaps (SSE2 where the compiler has it) and walks words by their start and end bits, so
 * no branch depends on a word's length. Each unigram and bigram
 * occurrence appends its bucket to s->idx (duplicates kept: the model sums weights per
 * occurrence and scales the sum by 1/sqrt(count)). Dense cues (format: length, numbers,
 * maths, code, multiple-choice options, turns, tools...) go to s->dense, each roughly in
 * [0, 1].
 *
 * To add a cue: append it to the enum in route_features.c, below SL_ROUTE_DENSE, and bump
 * SL_ROUTE_FEATURESET_ID (old model files are then refused, as they must be). */
#ifndef SL_POLICY_ROUTE_FEATURES_H
#define SL_POLICY_ROUTE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ROUTE_TOKENIZER_ID  1
#define SL_ROUTE_HASH_ID       2
#define SL_ROUTE_FEATURESET_ID 1

#define SL_ROUTE_TEXT_CAP 8192u /* bytes read at most, whatever the caller passes */
#define SL_ROUTE_IDX_CAP  8192u /* hashed occurrences kept at most */
#define SL_ROUTE_DENSE    32u   /* dense cue slots (some reserved, always 0) */
#define SL_ROUTE_BITS_MIN 8u
#define SL_ROUTE_BITS_MAX 18u

struct sl_route_input {
  const char *text; /* the routed text (e.g. the last user message); may be NULL if len 0 */
  size_t len;
  unsigned turns; /* conversation turns (user messages), 0 if unknown */
  bool tools;     /* tools or functions offered */
};

#define SL_ROUTE_BM_WORDS (SL_ROUTE_TEXT_CAP / 64)

struct sl_route_scratch {
  uint32_t idx[SL_ROUTE_IDX_CAP]; /* bucket per hashed occurrence, in text order */
  uint32_t nidx;
  float dense[SL_ROUTE_DENSE];
  /* the scan's working state */
  unsigned char fold[SL_ROUTE_TEXT_CAP + 32];     /* the text, letters lower-cased, digits '0' */
  uint64_t bm[4][SL_ROUTE_BM_WORDS];               /* word, other, newline, token-punctuation bits */
};

/* Fills s from in with buckets in [0, 2^bits). bits in [SL_ROUTE_BITS_MIN,
 * SL_ROUTE_BITS_MAX] (clamped). Never allocates, never reads past in->len or
 * SL_ROUTE_TEXT_CAP. */
void sl_route_features(const struct sl_route_input *in, unsigned bits, struct sl_route_scratch *s);

/* The name of dense cue i (for reports), or NULL past the end. */
const char *sl_route_dense_name(unsigned i);

#endif
