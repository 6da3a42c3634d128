/* An embedder that needs no network: hashed n-gram vectors. A text becomes a vector of
 * `dim` floats by hashing its lower-cased words, word pairs and character trigrams (with
 * word-boundary marks) into signed buckets (the "hashing trick"), then scaling to unit
 * length, so cosine similarity is a dot product. Texts that share words and word pieces
 * get similar vectors; it knows no synonyms (a provider's embeddings do: semantic routes
 * and the semantic cache can use either). Deterministic across processes and machines
 * (FNV-1a over the bytes), so the mock provider serves the same vectors in tests. Pure.
 * To change the features: feature() below, and bump SL_EMBED_HASH_VERSION (stored
 * vectors name the version they were made with). */
#ifndef SL_POLICY_EMBED_HASH_H
#define SL_POLICY_EMBED_HASH_H

#include <stddef.h>

#define SL_EMBED_HASH_VERSION 1
#define SL_EMBED_HASH_DIM 256 /* the default dimension */
#define SL_EMBED_HASH_MAX_DIM 4096

/* Writes the unit vector of text[0..n) into out[0..dim) (dim 1..SL_EMBED_HASH_MAX_DIM).
 * A text with no word characters gives the zero vector. Reads at most max_bytes of text
 * (0: all of it). */
void sl_embed_hash(const char *text, size_t n, size_t max_bytes, float *out, unsigned dim);

/* Cosine similarity of two unit vectors (their dot product), in [-1, 1]. */
float sl_embed_dot(const float *a, const float *b, unsigned dim);

#endif
