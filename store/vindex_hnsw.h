/* The C face of hnswlib (store/vindex_hnsw.cpp): a graph index over unit vectors with
 * inner-product distance, labels chosen by the caller (store/vindex.c uses ring slots,
 * so adding at a label that exists replaces that point: hnswlib repairs the graph).
 * Only store/vindex.c uses it. No exception crosses into C: every call returns 0 or a
 * negative errno. To swap the ANN library: reimplement these five functions. */
#ifndef SL_STORE_VINDEX_HNSW_H
#define SL_STORE_VINDEX_HNSW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sl__hnsw;

int sl__hnsw_new(unsigned dim, size_t max_elements, unsigned m, unsigned ef_construction, unsigned seed,
                 struct sl__hnsw **out);
void sl__hnsw_free(struct sl__hnsw *h);
/* Adds (or replaces) the point at label. */
int sl__hnsw_add(struct sl__hnsw *h, const float *v, size_t label);
/* Hides a label from searches (the point stays until its label is added again). */
int sl__hnsw_delete(struct sl__hnsw *h, size_t label);
/* Up to k nearest labels by inner product, best first: labels[i], sims[i] (dot products).
 * Returns how many (>= 0) or a negative errno. */
int sl__hnsw_search(struct sl__hnsw *h, const float *q, size_t k, unsigned ef, size_t *labels, float *sims);

#ifdef __cplusplus
}
#endif

#endif
