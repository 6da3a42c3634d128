/* mock_rand.c: the deterministic randomness of sluice-mock: a splitmix64 generator, a fast
 * non-cryptographic hash of request bodies, log-normal delays and the fixed word list.
 *
 * The idea: nothing here reads a clock or the OS entropy pool. Faults and jitter come from one
 * generator seeded by --seed; response text and embeddings come from generators seeded by a hash
 * of the request, so the same request always gets the same answer and runs repeat. */
#include <math.h>
#include <string.h>

#include "mock.h"

uint64_t mock_rand_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double mock_rand_uniform(uint64_t *s)
{
	return (double)(mock_rand_next(s) >> 11) * 0x1.0p-53;
}

double mock_rand_lognormal(uint64_t *s, double median, double sigma)
{
	if (!(median > 0) || !(sigma > 0))
		return median;
	/* Box-Muller; u1 in (0, 1] so the log is finite. */
	double u1 = 1.0 - mock_rand_uniform(s);
	double u2 = mock_rand_uniform(s);
	double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
	return median * exp(sigma * z);
}

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Eight bytes per step, then a full avalanche at the end: good enough to seed text. */
uint64_t mock_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0x243f6a8885a308d3ULL ^ (n * 0x9e3779b97f4a7c15ULL);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = rotl(h ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
		s += 8;
		n -= 8;
	}
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t |= (uint64_t)s[i] << (8 * i);
	h = rotl(h ^ (t * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

#define W(s) {s, sizeof(s) - 1}
static const struct {
	const char *s;
	size_t n;
} words[64] = {
	W("the"), W("quick"), W("brown"), W("fox"), W("jumps"), W("over"), W("lazy"), W("dog"),
	W("sluice"), W("gate"), W("river"), W("water"), W("flows"), W("through"), W("open"), W("channel"),
	W("model"), W("token"), W("stream"), W("light"), W("signal"), W("route"), W("cache"), W("budget"),
	W("router"), W("latency"), W("fast"), W("slow"), W("steady"), W("bright"), W("calm"), W("clear"),
	W("north"), W("south"), W("east"), W("west"), W("stone"), W("bridge"), W("valley"), W("harbor"),
	W("garden"), W("window"), W("paper"), W("silver"), W("golden"), W("amber"), W("echo"), W("pulse"),
	W("orbit"), W("vector"), W("matrix"), W("kernel"), W("thread"), W("socket"), W("packet"), W("buffer"),
	W("mirror"), W("forest"), W("meadow"), W("summit"), W("canyon"), W("island"), W("coast"), W("horizon"),
};
#undef W

const char *mock_word(uint64_t *s, size_t *len)
{
	unsigned i = (unsigned)(mock_rand_next(s) & 63);
	*len = words[i].n;
	return words[i].s;
}
