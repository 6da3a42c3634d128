// hnswlib behind a C API (see vindex_hnsw.h). The one idea: hnswlib is header-only C++;
// this file is the only C++ in sluice and catches every exception at the border.
#include "store/vindex_hnsw.h"

// hnswlib 0.6.2's SSE path prefetches the entry one past the end of a neighbour list
// (searchBaseLayer: datal[j + 1]), a read AddressSanitizer reports; sanitizer builds take
// its plain C++ distance loops instead (same results, slower).
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif

#include <hnswlib/hnswlib.h>

#include <cerrno>
#include <new>
#include <vector>

// Inner-product distance (1 - dot). hnswlib picks its SIMD at compile time, and a build
// without -march gets its SSE code; on a CPU with AVX2 and FMA this space uses a
// function compiled for them (the target attribute: only this function, so nothing else
// in the binary needs those instructions), chosen once at run time. Sanitizer builds
// keep hnswlib's own.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(NO_MANUAL_VECTORIZATION)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static float ip_distance_avx2(const void *a, const void *b, const void *qty) {
  const float *x = static_cast<const float *>(a), *y = static_cast<const float *>(b);
  size_t n = *static_cast<const size_t *>(qty), i = 0;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float t = _mm_cvtss_f32(h);
  for (; i < n; i++) t += x[i] * y[i];
  return 1.0f - t;
}
static bool have_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
static float (*const ip_distance_avx2)(const void *, const void *, const void *) = nullptr;
static bool have_avx2_fma() { return false; }
#endif

class SlIpSpace : public hnswlib::SpaceInterface<float> {
  hnswlib::InnerProductSpace base_;
  hnswlib::DISTFUNC<float> f_;
  size_t dim_;

public:
  explicit SlIpSpace(size_t dim) : base_(dim), f_(base_.get_dist_func()), dim_(dim) {
    if (have_avx2_fma()) f_ = ip_distance_avx2;
  }
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return f_; }
  void *get_dist_func_param() override { return &dim_; }
};

struct sl__hnsw {
  SlIpSpace space;
  hnswlib::HierarchicalNSW<float> index;
  sl__hnsw(unsigned dim, size_t max, unsigned m, unsigned efc, unsigned seed)
      : space(dim), index(&space, max, m, efc, seed) {}
};

extern "C" int sl__hnsw_new(unsigned dim, size_t max_elements, unsigned m, unsigned ef_construction, unsigned seed,
                            sl__hnsw **out) {
  try {
    *out = new sl__hnsw(dim, max_elements, m ? m : 16, ef_construction ? ef_construction : 100, seed);
    return 0;
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  } catch (...) {
    return -EINVAL;
  }
}

extern "C" void sl__hnsw_free(sl__hnsw *h) { delete h; }

extern "C" int sl__hnsw_add(sl__hnsw *h, const float *v, size_t label) {
  try {
    h->index.addPoint(v, (hnswlib::labeltype)label);
    return 0;
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  } catch (...) {
    return -ENOSPC;
  }
}

extern "C" int sl__hnsw_delete(sl__hnsw *h, size_t label) {
  try {
    h->index.markDelete((hnswlib::labeltype)label);
    return 0;
  } catch (...) {
    return -ENOENT; // not there, or already deleted
  }
}

extern "C" int sl__hnsw_search(sl__hnsw *h, const float *q, size_t k, unsigned ef, size_t *labels, float *sims) {
  try {
    h->index.setEf(ef ? ef : 64);
    auto r = h->index.searchKnn(q, k);
    int n = (int)r.size();
    for (int i = n - 1; i >= 0; i--) { // the queue pops the farthest first
      labels[i] = (size_t)r.top().second;
      sims[i] = 1.0f - r.top().first; // inner-product distance is 1 - dot
      r.pop();
    }
    return n;
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  } catch (...) {
    return -EIO;
  }
}
