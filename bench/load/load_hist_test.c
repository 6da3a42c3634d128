/* load_hist_test.c: checks sluice-load's histogram: every bucket's bounds map back to it, no
 * bucket is wider than 1/128 of its values, and percentiles of random samples spread from 1 us to
 * 200 s stay within 1% of the exact order statistics.
 *
 * The idea: the histogram is the one piece of sluice-load whose error is promised in numbers,
 * so it is checked against a sorted copy of the same samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "load.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rng = 0x853c49e6748fea9bULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

int main(void)
{
	int bad = 0;
	for (size_t i = 0; i < LOAD_HIST_BUCKETS; i++) {
		uint64_t lo, hi;
		load_hist_bounds(i, &lo, &hi);
		if (load_hist_index(lo) != i || load_hist_index(hi - 1) != i ||
		    (i + 1 < LOAD_HIST_BUCKETS && load_hist_index(hi) != i + 1)) {
			fprintf(stderr, "bucket %zu [%llu, %llu) does not map back\n", i,
			        (unsigned long long)lo, (unsigned long long)hi);
			bad = 1;
		}
		if (lo >= 256 && (double)(hi - lo) / (double)lo > 1.0 / 128 + 1e-12) {
			fprintf(stderr, "bucket %zu is too wide\n", i);
			bad = 1;
		}
	}
	if (load_hist_index(UINT64_MAX) != LOAD_HIST_BUCKETS - 1) {
		fprintf(stderr, "UINT64_MAX is not in the last bucket\n");
		bad = 1;
	}

	static struct load_hist h;
	enum { N = 200000 };
	static uint64_t v[N];
	load_hist_init(&h);
	for (size_t i = 0; i < N; i++) {
		/* log-uniform from 1 us to 200 s */
		v[i] = (uint64_t)(1e3 * pow(2e8, uniform()));
		load_hist_record(&h, v[i]);
	}
	qsort(v, N, sizeof v[0], cmp_u64);
	static const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
	double worst = 0;
	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		size_t rank = (size_t)ceil(ps[k] / 100 * N);
		uint64_t exact = v[rank ? rank - 1 : 0];
		uint64_t got = load_hist_pct(&h, ps[k]);
		double rel = fabs((double)got - (double)exact) / (double)exact;
		if (rel > worst)
			worst = rel;
		if (rel > 0.01) {
			fprintf(stderr, "p%g: %llu, exact %llu (%.3f%% off)\n", ps[k],
			        (unsigned long long)got, (unsigned long long)exact, rel * 100);
			bad = 1;
		}
	}
	if (h.min != v[0] || h.max != v[N - 1] || h.count != N) {
		fprintf(stderr, "min/max/count wrong\n");
		bad = 1;
	}
	printf("%s: %d buckets, worst percentile error %.3f%%\n", bad ? "FAIL" : "ok",
	       LOAD_HIST_BUCKETS, worst * 100);
	return bad;
}
