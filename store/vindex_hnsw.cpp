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

struct sl__hnsw {
  hnswlib::InnerProductSpace space;
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
