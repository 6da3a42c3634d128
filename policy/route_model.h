/* The learned router's model and its file: two linear heads over the features of
 * route_features.h, P(strong right) and P(weak right); the score is their difference,
 * sigmoid(head_s) - sigmoid(head_w), in [-1, 1]: higher means the strong model is more
 * needed. Decision rule everywhere: strong when score >= threshold.
 *
 * The file (all integers and floats little-endian; floats IEEE-754 binary32):
 *   0  magic "SLRT"          4  u32 version (1)
 *   8  u32 hash id          12  u32 tokenizer id        16  u32 feature-set id
 *   20 u32 hash bits B      24  u32 dense count D       28  u32 quantile count Q
 *   32 u32 metadata bytes M 36  f32 bias_s              40  f32 bias_w
 *   44 f32 w_s[2^B + D], then f32 w_w[2^B + D]  (bucket weights, then dense weights)
 *   .. f32 quantiles[Q]  (the training set's scores at q = i/(Q-1), non-decreasing)
 *   .. M bytes of metadata: JSON text (training set, parameters, cross-validated metrics)
 *   .. u64 checksum: FNV-1a 64 over every byte before it
 * A linear head is bias + (sum of bucket weights over hashed occurrences) / sqrt(count)
 * + dense . w_dense. Parsing checks every size, id, the checksum, that no number is NaN or
 * infinite, and that quantiles are non-decreasing; any failure is a message in err.
 * To change the format: bump SL_ROUTE_FILE_VERSION and keep parsing the old one, or
 * refuse it by name. */
#ifndef SL_POLICY_ROUTE_MODEL_H
#define SL_POLICY_ROUTE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/route_features.h"

#define SL_ROUTE_FILE_VERSION  1
#define SL_ROUTE_HEADER_BYTES  44u
#define SL_ROUTE_META_MAX      65536u
#define SL_ROUTE_QUANTILES_MAX 1001u
#define SL_ROUTE_FILE_MAX      (4u << 20)

struct sl_route_model; /* immutable after parse; shared read-only by workers */

/* 0, or -EINVAL (err says why) / -ENOMEM. Copies what it needs from bytes. */
int sl_route_model_parse(const void *bytes, size_t n, struct sl_route_model **out, char *err, size_t errlen);
void sl_route_model_free(struct sl_route_model *m);

/* The score of one input; uses s as scratch, never allocates. */
double sl_route_model_score(const struct sl_route_model *m, const struct sl_route_input *in,
                            struct sl_route_scratch *s);
/* Both heads' raw values (before the sigmoid) for features already in s. */
void sl_route_model_heads(const struct sl_route_model *m, const struct sl_route_scratch *s, double *head_s,
                          double *head_w);
/* Position of score in the training distribution, [0, 1] (piecewise linear). */
double sl_route_model_cdf(const struct sl_route_model *m, double score);
/* The training score at quantile q in [0, 1] (clamped; piecewise linear). */
double sl_route_model_quantile(const struct sl_route_model *m, double q);
/* A short printable id: 12 hex digits of the checksum. */
const char *sl_route_model_id(const struct sl_route_model *m);
unsigned sl_route_model_bits(const struct sl_route_model *m);
/* The metadata JSON text (NUL-terminated copy). */
const char *sl_route_model_meta(const struct sl_route_model *m);

/* What the trainer hands to the serialiser. ws and ww each hold 2^bits + SL_ROUTE_DENSE
 * weights; quantiles nq values. */
struct sl_route_model_spec {
  unsigned bits;
  float bias_s, bias_w;
  const float *ws, *ww;
  const float *quantiles;
  unsigned nq;
  const char *meta; /* JSON text */
};
/* Bytes of the file for spec, or 0 if spec is invalid (sizes). */
size_t sl_route_model_size(const struct sl_route_model_spec *spec);
/* Writes the file into out (cap bytes); returns its size, or 0 if cap is too small or the
 * spec invalid. */
size_t sl_route_model_serialize(const struct sl_route_model_spec *spec, unsigned char *out, size_t cap);

/* FNV-1a 64 (the file's checksum). */
uint64_t sl_route_fnv64(const void *p, size_t n);

#endif
