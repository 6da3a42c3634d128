/* The learned router's model file: parse with full validation, serialise, score (see
 * route_model.h for the layout). To add a field: a new version, parsed next to this one. */
#include "policy/route_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct sl_route_model {
  unsigned bits;
  uint32_t nw; /* 2^bits + SL_ROUTE_DENSE */
  float bias_s, bias_w;
  float *w; /* interleaved: w[2b] strong head, w[2b + 1] weak head (one cache line per bucket) */
  float *q;
  unsigned nq;
  char *meta;
  char id[13];
};

uint64_t sl_route_fnv64(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static float rdf(const unsigned char *p) {
  uint32_t u = rd32(p);
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static void wr32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}
static void wrf(unsigned char *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  wr32(p, u);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

int sl_route_model_parse(const void *bytes, size_t n, struct sl_route_model **out, char *err, size_t errlen) {
  const unsigned char *p = bytes;
  *out = NULL;
  if (!p || n < SL_ROUTE_HEADER_BYTES + 8)
    return fail(err, errlen, "router model: %zu bytes, too short for a model file", n);
  if (n > SL_ROUTE_FILE_MAX)
    return fail(err, errlen, "router model: %zu bytes, larger than the %u-byte limit", n, SL_ROUTE_FILE_MAX);
  if (memcmp(p, "SLRT", 4) != 0) return fail(err, errlen, "router model: not a sluice router model (bad magic)");
  uint32_t version = rd32(p + 4);
  if (version != SL_ROUTE_FILE_VERSION)
    return fail(err, errlen, "router model: file version %u, this sluice reads version %u", version,
                SL_ROUTE_FILE_VERSION);
  uint64_t sum = rd64(p + n - 8);
  if (sl_route_fnv64(p, n - 8) != sum)
    return fail(err, errlen, "router model: checksum mismatch (damaged or truncated file)");
  uint32_t hid = rd32(p + 8), tid = rd32(p + 12), fid = rd32(p + 16);
  if (hid != SL_ROUTE_HASH_ID || tid != SL_ROUTE_TOKENIZER_ID || fid != SL_ROUTE_FEATURESET_ID)
    return fail(err, errlen,
                "router model: hashing/tokenizer/feature-set ids %u/%u/%u, this sluice computes "
                "%u/%u/%u (retrain the model with this version)",
                hid, tid, fid, SL_ROUTE_HASH_ID, SL_ROUTE_TOKENIZER_ID, SL_ROUTE_FEATURESET_ID);
  uint32_t bits = rd32(p + 20), dn = rd32(p + 24), nq = rd32(p + 28), ml = rd32(p + 32);
  if (bits < SL_ROUTE_BITS_MIN || bits > SL_ROUTE_BITS_MAX)
    return fail(err, errlen, "router model: hash bits %u outside [%u, %u]", bits, SL_ROUTE_BITS_MIN, SL_ROUTE_BITS_MAX);
  if (dn != SL_ROUTE_DENSE)
    return fail(err, errlen, "router model: %u dense features, expected %u", dn, SL_ROUTE_DENSE);
  if (nq < 2 || nq > SL_ROUTE_QUANTILES_MAX)
    return fail(err, errlen, "router model: %u quantiles, expected 2 to %u", nq, SL_ROUTE_QUANTILES_MAX);
  if (ml > SL_ROUTE_META_MAX)
    return fail(err, errlen, "router model: metadata of %u bytes, above %u", ml, SL_ROUTE_META_MAX);
  uint64_t nw = ((uint64_t)1 << bits) + dn;
  uint64_t want = SL_ROUTE_HEADER_BYTES + 8ull * nw + 4ull * nq + ml + 8;
  if (want != n)
    return fail(err, errlen, "router model: %zu bytes, the header describes %llu", n, (unsigned long long)want);
  const unsigned char *meta = p + SL_ROUTE_HEADER_BYTES + 8ull * nw + 4ull * nq;
  if (ml && memchr(meta, 0, ml)) return fail(err, errlen, "router model: metadata contains a NUL byte");

  struct sl_route_model *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->bits = bits;
  m->nw = (uint32_t)nw;
  m->nq = nq;
  m->w = malloc(sizeof(float) * nw * 2);
  m->q = malloc(sizeof(float) * nq);
  m->meta = malloc(ml + 1);
  if (!m->w || !m->q || !m->meta) {
    sl_route_model_free(m);
    return -ENOMEM;
  }
  m->bias_s = rdf(p + 36);
  m->bias_w = rdf(p + 40);
  int bad = !isfinite(m->bias_s) || !isfinite(m->bias_w);
  const unsigned char *w = p + SL_ROUTE_HEADER_BYTES;
  for (uint64_t i = 0; i < 2 * nw && !bad; i++) {
    float f = rdf(w + 4 * i);
    m->w[i < nw ? 2 * i : 2 * (i - nw) + 1] = f;
    if (!isfinite(f)) bad = 1;
  }
  if (bad) {
    sl_route_model_free(m);
    return fail(err, errlen, "router model: a weight is NaN or infinite");
  }
  const unsigned char *qp = w + 8 * nw;
  for (uint32_t i = 0; i < nq; i++) {
    m->q[i] = rdf(qp + 4 * i);
    if (!isfinite(m->q[i]) || m->q[i] < -1.0f || m->q[i] > 1.0f) {
      sl_route_model_free(m);
      return fail(err, errlen, "router model: quantile %u is not a score in [-1, 1]", i);
    }
    if (i && m->q[i] < m->q[i - 1]) {
      sl_route_model_free(m);
      return fail(err, errlen, "router model: quantiles decrease at %u", i);
    }
  }
  memcpy(m->meta, meta, ml);
  m->meta[ml] = 0;
  snprintf(m->id, sizeof m->id, "%012llx", (unsigned long long)(sum >> 16));
  *out = m;
  return 0;
}

void sl_route_model_free(struct sl_route_model *m) {
  if (!m) return;
  free(m->w);
  free(m->q);
  free(m->meta);
  free(m);
}

void sl_route_model_heads(const struct sl_route_model *m, const struct sl_route_scratch *s, double *head_s,
                          double *head_w) {
  const float *w = m->w;
  uint32_t mask = (1u << m->bits) - 1u;
  /* Both heads' weights of a bucket sit side by side: one 8-byte load gives the pair. Four
   * partial sums (the adds of one sum wait for each other, four do not). */
  double hs, hw;
  uint32_t i = 0;
#if defined(__SSE2__)
  __m128d acc[4] = {_mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd()};
  for (; i + 4 <= s->nidx; i += 4)
    for (unsigned j = 0; j < 4; j++) {
      uint32_t b = s->idx[i + j] & mask;
      __m128 pair = _mm_castpd_ps(_mm_load_sd((const double *)(const void *)(w + 2 * b)));
      acc[j] = _mm_add_pd(acc[j], _mm_cvtps_pd(pair));
    }
  for (; i < s->nidx; i++) {
    uint32_t b = s->idx[i] & mask;
    __m128 pair = _mm_castpd_ps(_mm_load_sd((const double *)(const void *)(w + 2 * b)));
    acc[0] = _mm_add_pd(acc[0], _mm_cvtps_pd(pair));
  }
  __m128d sum = _mm_add_pd(_mm_add_pd(acc[0], acc[1]), _mm_add_pd(acc[2], acc[3]));
  double out[2];
  _mm_storeu_pd(out, sum);
  hs = out[0];
  hw = out[1];
#else
  double ps[4] = {0, 0, 0, 0}, pw[4] = {0, 0, 0, 0};
  for (; i + 4 <= s->nidx; i += 4)
    for (unsigned j = 0; j < 4; j++) {
      uint32_t b = s->idx[i + j] & mask;
      ps[j] += w[2 * b];
      pw[j] += w[2 * b + 1];
    }
  for (; i < s->nidx; i++) {
    uint32_t b = s->idx[i] & mask;
    ps[0] += w[2 * b];
    pw[0] += w[2 * b + 1];
  }
  hs = (ps[0] + ps[1]) + (ps[2] + ps[3]);
  hw = (pw[0] + pw[1]) + (pw[2] + pw[3]);
#endif
  if (s->nidx) {
    double k = 1.0 / sqrt((double)s->nidx);
    hs *= k;
    hw *= k;
  }
  uint32_t base = mask + 1u;
  for (unsigned j = 0; j < SL_ROUTE_DENSE; j++) {
    hs += (double)w[2 * (base + j)] * s->dense[j];
    hw += (double)w[2 * (base + j) + 1] * s->dense[j];
  }
  *head_s = hs + m->bias_s;
  *head_w = hw + m->bias_w;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double sl_route_model_score(const struct sl_route_model *m, const struct sl_route_input *in,
                            struct sl_route_scratch *s) {
  double hs, hw;
  sl_route_features(in, m->bits, s);
  sl_route_model_heads(m, s, &hs, &hw);
  return sigmoid(hs) - sigmoid(hw);
}

double sl_route_model_cdf(const struct sl_route_model *m, double score) {
  const float *q = m->q;
  unsigned n = m->nq;
  if (isnan(score)) return 0.5;
  if (score < q[0]) return 0.0;
  if (score >= q[n - 1]) return 1.0;
  /* the last i with q[i] <= score */
  unsigned lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    if (q[mid] <= score)
      lo = mid;
    else
      hi = mid;
  }
  double span = (double)q[hi] - q[lo];
  double frac = span > 0 ? (score - q[lo]) / span : 0.0;
  return ((double)lo + frac) / (double)(n - 1);
}

double sl_route_model_quantile(const struct sl_route_model *m, double q) {
  if (!(q > 0)) q = 0; /* NaN too */
  if (q > 1) q = 1;
  double x = q * (m->nq - 1);
  unsigned i = (unsigned)x;
  if (i >= m->nq - 1) return m->q[m->nq - 1];
  double f = x - i;
  return m->q[i] + f * ((double)m->q[i + 1] - m->q[i]);
}

const char *sl_route_model_id(const struct sl_route_model *m) { return m->id; }
unsigned sl_route_model_bits(const struct sl_route_model *m) { return m->bits; }
const char *sl_route_model_meta(const struct sl_route_model *m) { return m->meta; }

size_t sl_route_model_size(const struct sl_route_model_spec *spec) {
  if (spec->bits < SL_ROUTE_BITS_MIN || spec->bits > SL_ROUTE_BITS_MAX) return 0;
  if (spec->nq < 2 || spec->nq > SL_ROUTE_QUANTILES_MAX) return 0;
  size_t ml = spec->meta ? strlen(spec->meta) : 0;
  if (ml > SL_ROUTE_META_MAX) return 0;
  size_t nw = ((size_t)1 << spec->bits) + SL_ROUTE_DENSE;
  return SL_ROUTE_HEADER_BYTES + 8 * nw + 4 * (size_t)spec->nq + ml + 8;
}

size_t sl_route_model_serialize(const struct sl_route_model_spec *spec, unsigned char *out, size_t cap) {
  size_t n = sl_route_model_size(spec);
  if (!n || n > cap) return 0;
  size_t ml = spec->meta ? strlen(spec->meta) : 0;
  size_t nw = ((size_t)1 << spec->bits) + SL_ROUTE_DENSE;
  memcpy(out, "SLRT", 4);
  wr32(out + 4, SL_ROUTE_FILE_VERSION);
  wr32(out + 8, SL_ROUTE_HASH_ID);
  wr32(out + 12, SL_ROUTE_TOKENIZER_ID);
  wr32(out + 16, SL_ROUTE_FEATURESET_ID);
  wr32(out + 20, spec->bits);
  wr32(out + 24, SL_ROUTE_DENSE);
  wr32(out + 28, spec->nq);
  wr32(out + 32, (uint32_t)ml);
  wrf(out + 36, spec->bias_s);
  wrf(out + 40, spec->bias_w);
  unsigned char *w = out + SL_ROUTE_HEADER_BYTES;
  for (size_t i = 0; i < nw; i++) wrf(w + 4 * i, spec->ws[i]);
  for (size_t i = 0; i < nw; i++) wrf(w + 4 * (nw + i), spec->ww[i]);
  unsigned char *q = w + 8 * nw;
  for (unsigned i = 0; i < spec->nq; i++) wrf(q + 4 * i, spec->quantiles[i]);
  if (ml) memcpy(q + 4 * spec->nq, spec->meta, ml);
  uint64_t sum = sl_route_fnv64(out, n - 8);
  wr32(out + n - 8, (uint32_t)sum);
  wr32(out + n - 4, (uint32_t)(sum >> 32));
  return n;
}
