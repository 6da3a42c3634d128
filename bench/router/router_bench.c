/* sluice-router-bench: how long one learned-router decision takes (features, both heads,
 * the ring threshold), against prompt length: 64 B to 4 KB, and 64 KB capped to 4 KB as
 * the request path caps it (max_routed_bytes), plus 64 KB passed whole (the model's own
 * SL_ROUTE_TEXT_CAP). Prints decisions/s and the p50/p99/max per decision, and counts
 * allocations during the timed decisions (malloc is wrapped here: it must stay 0).
 * Usage: sluice-router-bench [MODEL_FILE|builtin] [decisions per length] [CORPUS]
 * (defaults: the built-in model, 20000, 8 MB of synthetic benchmark-like text). CORPUS: any
 * text file of at least 1 MB; each decision reads a different slice of it. Never linked
 * into sluice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/route_builtin.h"
#include "policy/route_calib.h"
#include "policy/route_model.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile int counting;
static unsigned long allocs;
void *malloc(size_t n) {
  if (counting) allocs++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (counting) allocs++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (counting) allocs++;
  return __libc_realloc(p, n);
}

static const char *const words[] = {
    "the",     "of",           "a",      "which",   "following",   "is",        "most", "likely",
    "patient", "function",     "energy", "court",   "market",      "x",         "y",    "=",
    "+",       "solve",        "how",    "many",    "dollars",     "does",      "she",  "have",
    "left?",   "A.",           "B.",     "C.",      "D.",          "Answer:",   "16",   "3.5",
    "$",       "\\frac{1}{2}", "(a)",    "theorem", "probability", "statement", "true", "false",
    "because", "every",        "week,",
};

static void make_text(char *out, size_t len, unsigned seed) {
  size_t n = 0;
  unsigned x = seed * 2654435761u + 1;
  while (n < len) {
    x = x * 1103515245u + 12345u;
    const char *w = words[(x >> 8) % (sizeof words / sizeof words[0])];
    size_t l = strlen(w);
    for (size_t i = 0; i < l && n < len; i++) out[n++] = w[i];
    if (n < len) out[n++] = ((x >> 20) % 11 == 0) ? '\n' : ' ';
  }
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  const unsigned char *bytes;
  size_t nb;
  unsigned char *owned = NULL;
  if (argc > 1 && strcmp(argv[1], "builtin") != 0) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
      perror(argv[1]);
      return 1;
    }
    owned = malloc(4u << 20);
    nb = fread(owned, 1, 4u << 20, f);
    fclose(f);
    bytes = owned;
  } else {
    bytes = sl_route_builtin_model(&nb);
  }
  long per = argc > 2 ? atol(argv[2]) : 20000;
  if (per < 100) per = 100;
  /* One big text; decision i reads the slice at offset i * 4099 (mod the size): every
   * decision sees a prompt it has not seen, as a gateway does (a small set of prompts
   * repeated would let the branch predictor learn them and flatter the numbers). */
  size_t ncorpus = 8u << 20;
  char *corpus = malloc(ncorpus);
  if (!corpus) return 1;
  if (argc > 3) {
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
      perror(argv[3]);
      return 1;
    }
    ncorpus = fread(corpus, 1, ncorpus, f);
    fclose(f);
    if (ncorpus < (1u << 20)) {
      fprintf(stderr, "%s: need at least 1 MB of text\n", argv[3]);
      return 1;
    }
  } else {
    make_text(corpus, ncorpus, 1);
  }
  struct sl_route_model *m;
  char err[256];
  if (sl_route_model_parse(bytes, nb, &m, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  struct sl_route_scratch *s = malloc(sizeof *s);
  struct sl_route_ring ring;
  sl_route_ring_init(&ring, sl_route_model_quantile(m, 0.7));
  static const size_t lens[] = {64, 256, 1024, 4096, 65536, 65536};
  static const char *const names[] = {"64 B", "256 B", "1 KB", "4 KB", "64 KB capped to 4 KB", "64 KB uncapped"};
  double *ns = malloc(sizeof(double) * (size_t)per);
  printf("model %s (hash bits %u), %ld decisions per length, %s text, struct sl_route_scratch "
         "%zu bytes\n",
         sl_route_model_id(m), sl_route_model_bits(m), per, argc > 3 ? argv[3] : "synthetic", sizeof *s);
  printf("%-22s %12s %9s %9s %9s %7s\n", "prompt", "decisions/s", "p50 us", "p99 us", "max us", "allocs");
  for (size_t L = 0; L < sizeof lens / sizeof lens[0]; L++) {
    size_t cap = L == 4 ? 4096 : lens[L], span = ncorpus - lens[L];
    volatile double sink = 0;
    for (int i = 0; i < 1000; i++) { /* warm up */
      struct sl_route_input in = {corpus + (size_t)i * 7919 % span, cap, 1, false};
      sink += sl_route_model_score(m, &in, s);
    }
    allocs = 0;
    counting = 1;
    double t0 = now_ns();
    for (long i = 0; i < per; i++) {
      double a = now_ns();
      struct sl_route_input in = {corpus + (size_t)i * 4099 % span, cap, 1, false};
      double sc = sl_route_model_score(m, &in, s);
      double th = sl_route_ring_observe(&ring, sc, 0.3);
      sink += sc >= th;
      ns[i] = now_ns() - a;
    }
    double total = now_ns() - t0;
    counting = 0;
    qsort(ns, (size_t)per, sizeof *ns, cmpd);
    printf("%-22s %12.0f %9.2f %9.2f %9.2f %7lu\n", names[L], (double)per / (total / 1e9), ns[per / 2] / 1e3,
           ns[(size_t)((double)per * 0.99)] / 1e3, ns[per - 1] / 1e3, allocs);
    (void)sink;
  }
  free(ns);
  free(s);
  free(owned);
  free(corpus);
  sl_route_model_free(m);
  return 0;
}
