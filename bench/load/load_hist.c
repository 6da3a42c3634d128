/* load_hist.c: the latency histogram of sluice-load.
 *
 * The idea (HdrHistogram's): a value v (nanoseconds) below 256 has its own bucket; above, with
 * e = msb(v) - 7, the bucket is e * 128 + (v >> e), i.e. each power of two [2^k, 2^(k+1)) is cut
 * into 128 equal sub-buckets. A bucket's width is then at most 1/128 of any value in it, so a
 * percentile reported as the bucket midpoint is within 0.4% of the true value (well inside the
 * 1% asked for), from 1 ns to the whole uint64 range, in 7,424 counters and with no allocation
 * or floating point on the record path. */
#include <math.h>
#include <string.h>

#include "load.h"

void load_hist_init(struct load_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

size_t load_hist_index(uint64_t v)
{
	if (v < 2 * LOAD_HIST_HALF)
		return (size_t)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned e = msb - (LOAD_HIST_SUB_BITS - 1);
	return (size_t)e * LOAD_HIST_HALF + (size_t)(v >> e);
}

void load_hist_bounds(size_t i, uint64_t *lo, uint64_t *hi)
{
	if (i < 2 * LOAD_HIST_HALF) {
		*lo = i;
		*hi = i + 1;
		return;
	}
	unsigned e = (unsigned)(i / LOAD_HIST_HALF) - 1;
	uint64_t sub = i - (uint64_t)e * LOAD_HIST_HALF; /* in [128, 256) */
	*lo = sub << e;
	/* the very last bucket ends at 2^64: saturate */
	*hi = (sub + 1 == 2 * LOAD_HIST_HALF && e == 64 - LOAD_HIST_SUB_BITS) ? UINT64_MAX
	                                                                     : (sub + 1) << e;
}

void load_hist_record(struct load_hist *h, uint64_t v)
{
	h->b[load_hist_index(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	double d = (double)v;
	h->sum += d;
	h->sumsq += d * d;
}

uint64_t load_hist_pct(const struct load_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t acc = 0;
	for (size_t i = 0; i < LOAD_HIST_BUCKETS; i++) {
		acc += h->b[i];
		if (acc >= rank) {
			uint64_t lo, hi;
			load_hist_bounds(i, &lo, &hi);
			uint64_t mid = lo + (hi - lo - 1) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}

double load_hist_mean(const struct load_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0;
}

double load_hist_stddev(const struct load_hist *h)
{
	if (h->count < 2)
		return 0;
	double m = h->sum / (double)h->count;
	double var = h->sumsq / (double)h->count - m * m;
	return var > 0 ? sqrt(var) : 0;
}
