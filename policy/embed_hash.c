/* Hashed n-gram embeddings; see embed_hash.h. One pass over the text: each word (a run of
 * letters, digits or bytes >= 0x80, ASCII letters lower-cased) adds its unigram, its pair
 * with the previous word, and its character trigrams ("^wo", "wor", "rd$"); each feature
 * adds +-weight to one bucket chosen by its hash. */
#include "policy/embed_hash.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FNV_OFF 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL
#define MAX_WORD 64 /* longer words are cut (their trigrams past this are not counted) */

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

/* One feature: bucket from the low bits, sign from bit 63. */
static void feature(float *out, unsigned dim, uint64_t h, float w) {
  h ^= h >> 29; /* mix: FNV's low bits alone are weak for short inputs */
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  out[h % dim] += (h >> 63) ? -w : w;
}

static int word_byte(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

void sl_embed_hash(const char *text, size_t n, size_t max_bytes, float *out, unsigned dim) {
  if (!dim || dim > SL_EMBED_HASH_MAX_DIM) return;
  memset(out, 0, dim * sizeof *out);
  if (max_bytes && n > max_bytes) n = max_bytes;
  unsigned char word[MAX_WORD + 2];
  uint64_t prev = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && !word_byte((unsigned char)text[i])) i++;
    size_t wl = 0;
    word[wl++] = '^';
    while (i < n && word_byte((unsigned char)text[i])) {
      unsigned char c = (unsigned char)text[i++];
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
      if (wl <= MAX_WORD) word[wl++] = c;
    }
    if (wl == 1) break;
    word[wl++] = '$';
    uint64_t h = fnv(FNV_OFF, word + 1, wl - 2); /* the word itself */
    feature(out, dim, fnv(h, (const unsigned char *)"u", 1), 1.0f);
    if (prev) feature(out, dim, fnv(prev ^ (h * 31), (const unsigned char *)"b", 1), 0.7f);
    prev = h;
    for (size_t k = 0; k + 3 <= wl; k++) feature(out, dim, fnv(fnv(FNV_OFF, (const unsigned char *)"t", 1), word + k, 3), 0.4f);
  }
  double ss = 0;
  for (unsigned d = 0; d < dim; d++) ss += (double)out[d] * out[d];
  if (ss <= 0) return;
  float inv = (float)(1.0 / sqrt(ss));
  for (unsigned d = 0; d < dim; d++) out[d] *= inv;
}

float sl_embed_dot(const float *a, const float *b, unsigned dim) {
  float s = 0;
  for (unsigned d = 0; d < dim; d++) s += a[d] * b[d];
  return s;
}
