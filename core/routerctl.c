/* `sluice router train|calibrate|eval|convert` (see routerctl.h). Training: one logistic
 * regression per head (P(strong right), P(weak right)) with liblinear's primal solver
 * (L2R_LR, trust-region Newton: deterministic, no random order), over exactly the features
 * the request path computes (policy/route_features.c); k-fold cross-validated metrics go
 * into the model file's metadata. A fractional quality q (a judge score / 10, a tie) is
 * turned into a label by seeded stochastic rounding (positive with probability q):
 * Debian's liblinear 2.3 has no per-instance weights, and this keeps each prompt counting
 * once with the right expected label, deterministically for a seed. */
#include "core/routerctl.h"
#include "core/learnctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <linear.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "net/wire/answer_math.h"
#include "policy/route_builtin.h"
#include "policy/route_calib.h"
#include "policy/route_eval.h"
#include "policy/route_model.h"

#define DEFAULT_MAX_BYTES 4096u
#define DEFAULT_BITS      16u
#define DEFAULT_C         0.1
#define DEFAULT_FOLDS     5u
#define NQ                101u

/* ---- small helpers ---------------------------------------------------------------- */

static int read_all(const char *path, char **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "sluice router: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap + 1);
  for (;;) {
    if (!b) {
      fclose(f);
      fprintf(stderr, "sluice router: %s: out of memory\n", path);
      return -1;
    }
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    cap *= 2;
    char *nb = realloc(b, cap + 1);
    if (!nb) free(b);
    b = nb;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(b);
    fprintf(stderr, "sluice router: %s: read error\n", path);
    return -1;
  }
  b[n] = 0;
  *buf = b;
  *len = n;
  return 0;
}

static int write_all(const char *path, const void *p, size_t n) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    fprintf(stderr, "sluice router: %s: %s\n", tmp, strerror(errno));
    return -1;
  }
  size_t w = fwrite(p, 1, n, f);
  if (fclose(f) != 0 || w != n || rename(tmp, path) != 0) {
    fprintf(stderr, "sluice router: %s: write failed: %s\n", path, strerror(errno));
    remove(tmp);
    return -1;
  }
  return 0;
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double unit(uint64_t *x) { return (double)(splitmix(x) >> 11) / 9007199254740992.0; }
static void shuffle(size_t *a, size_t n, uint64_t seed) {
  uint64_t x = seed ^ 0x5eed5eed5eedull;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(splitmix(&x) % i);
    size_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !*s || *end || *s == '-') return -1;
  *out = v;
  return 0;
}
static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || !*s || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

/* ---- data rows -------------------------------------------------------------------- */

struct row {
  char *prompt;
  size_t len;
  double weak, strong;
  unsigned turns;
  bool tools;
  char *source; /* may be NULL */
  bool has_score; /* a logged decision: {"score", "weak", "strong"} without the prompt */
  double score;
  char *response; /* the weak model's answer ("weak_response"; convert --responses), may be NULL */
};

struct rows {
  struct row *v;
  size_t n, cap;
};

static void rows_free(struct rows *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].prompt);
    free(r->v[i].source);
    free(r->v[i].response);
  }
  free(r->v);
  r->v = NULL;
  r->n = r->cap = 0;
}

static struct row *rows_add(struct rows *r) {
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 1024;
    struct row *nv = realloc(r->v, nc * sizeof *nv);
    if (!nv) return NULL;
    r->v = nv;
    r->cap = nc;
  }
  struct row *w = &r->v[r->n++];
  memset(w, 0, sizeof *w);
  return w;
}

static bool quality_ok(const cJSON *j, double *q) {
  if (!cJSON_IsNumber(j)) {
    if (cJSON_IsBool(j)) {
      *q = cJSON_IsTrue(j) ? 1.0 : 0.0;
      return true;
    }
    return false;
  }
  *q = j->valuedouble;
  return isfinite(*q) && *q >= 0 && *q <= 1;
}

/* Reads JSONL rows {"prompt", "weak", "strong"[, "turns", "tools", "source"]}; when
 * need_q is false, rows need only "prompt" and plain text lines are prompts too. With
 * need_q, a row may give "score" instead of "prompt": a decision logged in shadow mode
 * (the access log's router_score) joined with the outcomes, evaluated without the prompt. */
static int load_rows(const char *path, bool need_q, const char *source_prefix, struct rows *out) {
  char *buf;
  size_t len;
  if (read_all(path, &buf, &len)) return -1;
  size_t lineno = 0;
  char *p = buf, *end = buf + len;
  int rc = 0;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    lineno++;
    char *line = p;
    p = nl ? nl + 1 : end;
    size_t ll = (size_t)(e - line);
    if (ll && line[ll - 1] == '\r') ll--;
    size_t k = 0;
    while (k < ll && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == ll) continue;
    if (line[k] != '{') {
      if (need_q) {
        fprintf(stderr, "sluice router: %s:%zu: not a JSON object\n", path, lineno);
        rc = -1;
        break;
      }
      struct row *r = rows_add(out);
      if (!r || !(r->prompt = malloc(ll + 1))) {
        rc = -1;
        break;
      }
      memcpy(r->prompt, line, ll);
      r->prompt[ll] = 0;
      r->len = ll;
      continue;
    }
    cJSON *j = cJSON_ParseWithLength(line, ll);
    if (!j || !cJSON_IsObject(j)) {
      fprintf(stderr, "sluice router: %s:%zu: invalid JSON\n", path, lineno);
      cJSON_Delete(j);
      rc = -1;
      break;
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "score");
    bool logged = need_q && !pr && cJSON_IsNumber(sc) && isfinite(sc->valuedouble);
    if (!cJSON_IsString(pr) && !logged) {
      fprintf(stderr, "sluice router: %s:%zu: \"prompt\" must be a string%s\n", path, lineno,
              need_q ? " (or, for a logged decision, \"score\" a number)" : "");
      cJSON_Delete(j);
      rc = -1;
      break;
    }
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
    if (source_prefix &&
        (!cJSON_IsString(src) || strncmp(src->valuestring, source_prefix, strlen(source_prefix)) != 0)) {
      cJSON_Delete(j);
      continue;
    }
    double qw = 0, qs = 0;
    if (need_q && (!quality_ok(cJSON_GetObjectItemCaseSensitive(j, "weak"), &qw) ||
                   !quality_ok(cJSON_GetObjectItemCaseSensitive(j, "strong"), &qs))) {
      fprintf(stderr, "sluice router: %s:%zu: \"weak\" and \"strong\" must be numbers in [0, 1]\n", path, lineno);
      cJSON_Delete(j);
      rc = -1;
      break;
    }
    struct row *r = rows_add(out);
    if (!r || !(r->prompt = strdup(logged ? "" : pr->valuestring))) {
      cJSON_Delete(j);
      rc = -1;
      break;
    }
    r->has_score = logged;
    r->score = logged ? sc->valuedouble : 0;
    r->len = strlen(r->prompt);
    r->weak = qw;
    r->strong = qs;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "turns");
    if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 1e6) r->turns = (unsigned)t->valuedouble;
    r->tools = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "tools"));
    if (cJSON_IsString(src)) r->source = strdup(src->valuestring);
    const cJSON *wr = cJSON_GetObjectItemCaseSensitive(j, "weak_response");
    if (cJSON_IsString(wr) && !(r->response = strdup(wr->valuestring))) rc = -1;
    cJSON_Delete(j);
    if (rc) break;
  }
  free(buf);
  if (rc) fprintf(stderr, "sluice router: %s: cannot read the rows\n", path);
  return rc;
}

static struct sl_route_input row_input(const struct row *r, size_t max_bytes) {
  struct sl_route_input in = {r->prompt, r->len < max_bytes ? r->len : max_bytes, r->turns, r->tools};
  return in;
}

/* ---- the model file --------------------------------------------------------------- */

static int open_model(const char *path, struct sl_route_model **m) {
  char err[256];
  int rc;
  if (strcmp(path, "builtin") == 0) {
    size_t n;
    const unsigned char *b = sl_route_builtin_model(&n);
    rc = sl_route_model_parse(b, n, m, err, sizeof err);
  } else {
    char *buf;
    size_t n;
    if (read_all(path, &buf, &n)) return -1;
    rc = sl_route_model_parse(buf, n, m, err, sizeof err);
    free(buf);
  }
  if (rc) {
    fprintf(stderr, "sluice router: %s: %s\n", path, rc == -ENOMEM ? "out of memory" : err);
    return -1;
  }
  return 0;
}

/* ---- training --------------------------------------------------------------------- */

static void quiet(const char *s) { (void)s; }

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* One row's liblinear nodes: buckets (sorted, counts / sqrt(occurrences)), dense cues,
 * the bias node, the terminator. Returns NULL on allocation failure. */
static struct feature_node *row_nodes(const struct sl_route_scratch *s, unsigned bits, int nfeat) {
  uint32_t tmp[SL_ROUTE_IDX_CAP];
  memcpy(tmp, s->idx, s->nidx * sizeof *tmp);
  qsort(tmp, s->nidx, sizeof *tmp, cmp_u32);
  size_t cap = s->nidx + SL_ROUTE_DENSE + 2, k = 0;
  struct feature_node *x = malloc(cap * sizeof *x);
  if (!x) return NULL;
  double scale = s->nidx ? 1.0 / sqrt((double)s->nidx) : 0;
  for (uint32_t i = 0; i < s->nidx;) {
    uint32_t j = i;
    while (j < s->nidx && tmp[j] == tmp[i]) j++;
    x[k].index = (int)tmp[i] + 1;
    x[k].value = (double)(j - i) * scale;
    k++;
    i = j;
  }
  uint32_t base = 1u << bits;
  for (unsigned d = 0; d < SL_ROUTE_DENSE; d++)
    if (s->dense[d] != 0) {
      x[k].index = (int)(base + d) + 1;
      x[k].value = s->dense[d];
      k++;
    }
  x[k].index = nfeat; /* the bias */
  x[k].value = 1.0;
  k++;
  x[k].index = -1;
  x[k].value = 0;
  return x;
}

struct head {
  float *w; /* 2^bits + DENSE */
  float bias;
};

/* Trains one head on the rows listed in sel; labels y (+1/-1). */
static int train_head(struct feature_node **x, const double *y, const size_t *sel, size_t n, int nfeat, double C,
                      size_t nw, struct head *h) {
  struct feature_node **px = malloc(n * sizeof *px);
  double *py = malloc(n * sizeof *py);
  if (!px || !py) {
    free(px);
    free(py);
    return -1;
  }
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    px[i] = x[sel[i]];
    py[i] = y[sel[i]];
    if (py[i] > 0) pos++;
  }
  memset(h->w, 0, nw * sizeof *h->w);
  if (pos == 0 || pos == n) { /* one class only: a constant head */
    double p = ((double)pos + 0.5) / ((double)n + 1.0);
    h->bias = (float)log(p / (1 - p));
    free(px);
    free(py);
    return 0;
  }
  struct problem prob = {.l = (int)n, .n = nfeat, .y = py, .x = px, .bias = 1.0};
  struct parameter param = {.solver_type = L2R_LR, .eps = 0.01, .C = C};
  const char *bad = check_parameter(&prob, &param);
  if (bad) {
    fprintf(stderr, "sluice router: liblinear: %s\n", bad);
    free(px);
    free(py);
    return -1;
  }
  struct model *m = train(&prob, &param);
  free(px);
  free(py);
  if (!m) return -1;
  int li = m->label[0] == 1 ? 0 : 1;
  for (size_t i = 0; i < nw; i++) h->w[i] = (float)get_decfun_coef(m, (int)i + 1, li);
  h->bias = (float)get_decfun_bias(m, li);
  free_and_destroy_model(&m);
  return 0;
}

static double head_value(const struct head *h, const struct feature_node *x, int nfeat) {
  double v = h->bias;
  for (; x->index != -1; x++)
    if (x->index != nfeat) v += h->w[x->index - 1] * x->value;
  return v;
}

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

static double label(double q, uint64_t *rng) {
  if (q >= 1.0) return 1;
  if (q <= 0.0) return -1;
  return unit(rng) < q ? 1 : -1;
}

static void json_metrics(cJSON *o, const struct sl_route_eval_result *r) {
  cJSON_AddNumberToObject(o, "n", (double)r->n);
  cJSON_AddNumberToObject(o, "weak", round(r->weak * 1e4) / 1e4);
  cJSON_AddNumberToObject(o, "strong", round(r->strong * 1e4) / 1e4);
  cJSON_AddNumberToObject(o, "cpt50", round(r->cpt50 * 1e4) / 1e4);
  cJSON_AddNumberToObject(o, "cpt80", round(r->cpt80 * 1e4) / 1e4);
  cJSON_AddNumberToObject(o, "apgr", round(r->apgr * 1e4) / 1e4);
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int cmd_train(int argc, char **argv) {
  const char *data = NULL, *outp = NULL;
  uint64_t seed = 1, bits = DEFAULT_BITS, folds = DEFAULT_FOLDS, maxb = DEFAULT_MAX_BYTES;
  double C = DEFAULT_C;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-o") == 0 && v)
      outp = argv[++i];
    else if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &seed) == 0)
      i++;
    else if (strcmp(a, "--hash-bits") == 0 && v && parse_u64(v, &bits) == 0 && bits >= SL_ROUTE_BITS_MIN && bits <= 17)
      i++;
    else if (strcmp(a, "--folds") == 0 && v && parse_u64(v, &folds) == 0 && folds != 1 && folds <= 20)
      i++;
    else if (strcmp(a, "--max-bytes") == 0 && v && parse_u64(v, &maxb) == 0 && maxb > 0)
      i++;
    else if (strcmp(a, "--c") == 0 && v && parse_double(v, &C) == 0 && C > 0)
      i++;
    else if (a[0] != '-' && !data)
      data = a;
    else {
      fprintf(stderr,
              "sluice router train: bad argument %s (hash bits %u-17: a model of at most 2 MB; C > 0, folds 0 or "
              "2-20)\n",
              a, SL_ROUTE_BITS_MIN);
      return 2;
    }
  }
  if (!data || !outp) {
    fprintf(stderr, "usage: sluice router train DATA -o FILE [--seed N] [--hash-bits B] [--c C] "
                    "[--folds K] [--max-bytes N]\n");
    return 2;
  }
  struct rows rs = {0};
  if (load_rows(data, true, NULL, &rs)) {
    rows_free(&rs);
    return 1;
  }
  for (size_t i = 0; i < rs.n; i++)
    if (rs.v[i].has_score) {
      fprintf(stderr, "sluice router train: %s: row %zu has a score and no prompt: training needs the prompts\n",
              data, i + 1);
      rows_free(&rs);
      return 1;
    }
  if (rs.n < 10) {
    fprintf(stderr, "sluice router train: %s: %zu rows, need at least 10\n", data, rs.n);
    rows_free(&rs);
    return 1;
  }
  set_print_string_function(quiet);
  size_t n = rs.n;
  size_t nw = ((size_t)1 << bits) + SL_ROUTE_DENSE;
  int nfeat = (int)nw + 1;
  struct feature_node **x = calloc(n, sizeof *x);
  double *ys = malloc(n * sizeof *ys), *yw = malloc(n * sizeof *yw);
  size_t *all = malloc(n * sizeof *all);
  double *oof = malloc(n * sizeof *oof);
  struct sl_route_scratch *s = malloc(sizeof *s);
  struct head hs = {malloc(nw * sizeof(float)), 0}, hw = {malloc(nw * sizeof(float)), 0};
  struct sl_route_eval_row *er = malloc(n * sizeof *er);
  int rc = 1;
  cJSON *meta = NULL;
  unsigned char *file = NULL;
  if (!x || !ys || !yw || !all || !oof || !s || !hs.w || !hw.w || !er) goto out;
  uint64_t rng = seed * 0x2545f4914f6cdd1dull + 7;
  for (size_t i = 0; i < n; i++) {
    struct sl_route_input in = row_input(&rs.v[i], maxb);
    sl_route_features(&in, (unsigned)bits, s);
    if (!(x[i] = row_nodes(s, (unsigned)bits, nfeat))) goto out;
    ys[i] = label(rs.v[i].strong, &rng);
    yw[i] = label(rs.v[i].weak, &rng);
    all[i] = i;
  }
  meta = cJSON_CreateObject();
  cJSON_AddStringToObject(meta, "format", "sluice router model");
  cJSON_AddStringToObject(meta, "trainer", "liblinear L2R_LR (logistic regression, primal)");
  cJSON_AddNumberToObject(meta, "liblinear_version", liblinear_version);
  cJSON_AddStringToObject(meta, "heads", "P(strong right), P(weak right)");
  cJSON_AddStringToObject(meta, "fractional_q", "seeded stochastic rounding");
  cJSON_AddStringToObject(meta, "data", base_name(data));
  char fp[24];
  {
    char *buf;
    size_t len;
    if (read_all(data, &buf, &len)) goto out;
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)sl_route_fnv64(buf, len));
    free(buf);
  }
  cJSON_AddStringToObject(meta, "data_fnv64", fp);
  cJSON_AddNumberToObject(meta, "rows", (double)n);
  cJSON_AddNumberToObject(meta, "seed", (double)seed);
  cJSON_AddNumberToObject(meta, "hash_bits", (double)bits);
  cJSON_AddNumberToObject(meta, "c", C);
  cJSON_AddNumberToObject(meta, "max_bytes", (double)maxb);

  /* k-fold cross-validation: out-of-fold scores, then the metrics on them. */
  if (folds >= 2) {
    size_t *perm = malloc(n * sizeof *perm), *sel = malloc(n * sizeof *sel);
    if (!perm || !sel) {
      free(perm);
      free(sel);
      goto out;
    }
    memcpy(perm, all, n * sizeof *perm);
    shuffle(perm, n, seed);
    for (uint64_t f = 0; f < folds; f++) {
      size_t lo = n * f / folds, hi = n * (f + 1) / folds, m = 0;
      for (size_t i = 0; i < n; i++)
        if (i < lo || i >= hi) sel[m++] = perm[i];
      if (train_head(x, ys, sel, m, nfeat, C, nw, &hs) || train_head(x, yw, sel, m, nfeat, C, nw, &hw)) {
        free(perm);
        free(sel);
        goto out;
      }
      for (size_t i = lo; i < hi; i++) {
        size_t r = perm[i];
        oof[r] = sig(head_value(&hs, x[r], nfeat)) - sig(head_value(&hw, x[r], nfeat));
      }
    }
    free(perm);
    free(sel);
    for (size_t i = 0; i < n; i++) er[i] = (struct sl_route_eval_row){oof[i], rs.v[i].weak, rs.v[i].strong};
    struct sl_route_eval_result res, orc;
    cJSON *cv = cJSON_AddObjectToObject(meta, "cv");
    cJSON_AddNumberToObject(cv, "folds", (double)folds);
    if (sl_route_eval_run(er, n, &res, NULL) == 0) json_metrics(cv, &res);
    if (sl_route_eval_oracle(er, n, &orc, NULL) == 0) {
      cJSON *o = cJSON_AddObjectToObject(cv, "oracle");
      cJSON_AddNumberToObject(o, "cpt50", round(orc.cpt50 * 1e4) / 1e4);
      cJSON_AddNumberToObject(o, "cpt80", round(orc.cpt80 * 1e4) / 1e4);
      cJSON_AddNumberToObject(o, "apgr", round(orc.apgr * 1e4) / 1e4);
    }
    fprintf(stderr, "cross-validated (%u folds, %zu rows): CPT(50%%) %.1f%%  CPT(80%%) %.1f%%  APGR %.3f\n",
            (unsigned)folds, n, res.cpt50 * 100, res.cpt80 * 100, res.apgr);
  }

  /* The final model on every row. */
  if (train_head(x, ys, all, n, nfeat, C, nw, &hs) || train_head(x, yw, all, n, nfeat, C, nw, &hw)) goto out;
  float q[NQ];
  {
    double *sc = oof; /* reuse: in-sample scores of the final model */
    for (size_t i = 0; i < n; i++) sc[i] = sig(head_value(&hs, x[i], nfeat)) - sig(head_value(&hw, x[i], nfeat));
    float *fs = malloc(n * sizeof *fs);
    if (!fs) goto out;
    for (size_t i = 0; i < n; i++) fs[i] = (float)sc[i];
    qsort(fs, n, sizeof *fs, cmp_float);
    for (unsigned k = 0; k < NQ; k++) {
      double pos = (double)k / (NQ - 1) * (double)(n - 1);
      size_t a = (size_t)pos;
      double fr = pos - (double)a;
      double v = a + 1 < n ? fs[a] + fr * ((double)fs[a + 1] - fs[a]) : fs[n - 1];
      q[k] = (float)v;
      if (k && q[k] < q[k - 1]) q[k] = q[k - 1];
    }
    free(fs);
  }
  char *mt = cJSON_PrintUnformatted(meta);
  if (!mt) goto out;
  struct sl_route_model_spec spec = {(unsigned)bits, hs.bias, hw.bias, hs.w, hw.w, q, NQ, mt};
  size_t sz = sl_route_model_size(&spec);
  file = sz ? malloc(sz) : NULL;
  if (!file || sl_route_model_serialize(&spec, file, sz) != sz) {
    fprintf(stderr, "sluice router train: cannot serialise the model\n");
    free(mt);
    goto out;
  }
  free(mt);
  /* Round trip: the file parses and scores like the trainer did (within float rounding). */
  struct sl_route_model *m;
  char err[256];
  if (sl_route_model_parse(file, sz, &m, err, sizeof err) != 0) {
    fprintf(stderr, "sluice router train: the written model does not parse: %s\n", err);
    goto out;
  }
  double worst = 0;
  for (size_t i = 0; i < n && i < 200; i++) {
    struct sl_route_input in = row_input(&rs.v[i], maxb);
    double d = fabs(sl_route_model_score(m, &in, s) - oof[i]);
    if (d > worst) worst = d;
  }
  sl_route_model_free(m);
  if (worst > 1e-3) {
    fprintf(stderr, "sluice router train: scoring disagrees with training by %g\n", worst);
    goto out;
  }
  if (write_all(outp, file, sz)) goto out;
  fprintf(stderr, "wrote %s (%zu bytes, %zu rows, hash bits %u)\n", outp, sz, n, (unsigned)bits);
  rc = 0;
out:
  if (rc == 1 && !file) fprintf(stderr, "sluice router train: failed\n");
  if (x)
    for (size_t i = 0; i < n; i++) free(x[i]);
  free(x);
  free(ys);
  free(yw);
  free(all);
  free(oof);
  free(s);
  free(hs.w);
  free(hw.w);
  free(er);
  free(file);
  cJSON_Delete(meta);
  rows_free(&rs);
  return rc;
}

/* ---- calibrate -------------------------------------------------------------------- */

static int cmd_calibrate(int argc, char **argv) {
  const char *file = NULL, *prompts = NULL;
  double share = -1;
  uint64_t maxb = DEFAULT_MAX_BYTES;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--prompts") == 0 && v)
      prompts = argv[++i];
    else if (strcmp(a, "--strong-share") == 0 && v && parse_double(v, &share) == 0 && share >= 0 && share <= 1)
      i++;
    else if (strcmp(a, "--max-bytes") == 0 && v && parse_u64(v, &maxb) == 0 && maxb > 0)
      i++;
    else if (a[0] != '-' && !file)
      file = a;
    else {
      fprintf(stderr, "sluice router calibrate: bad argument %s (--strong-share in [0, 1])\n", a);
      return 2;
    }
  }
  if (!file || !prompts || share < 0) {
    fprintf(stderr, "usage: sluice router calibrate FILE --prompts SAMPLE --strong-share F\n");
    return 2;
  }
  struct sl_route_model *m;
  if (open_model(file, &m)) return 1;
  struct rows rs = {0};
  if (load_rows(prompts, false, NULL, &rs) || rs.n == 0) {
    if (rs.n == 0) fprintf(stderr, "sluice router calibrate: %s: no prompts\n", prompts);
    rows_free(&rs);
    sl_route_model_free(m);
    return 1;
  }
  double *sc = malloc(rs.n * sizeof *sc);
  struct sl_route_scratch *s = malloc(sizeof *s);
  if (!sc || !s) {
    free(sc);
    free(s);
    rows_free(&rs);
    sl_route_model_free(m);
    return 1;
  }
  for (size_t i = 0; i < rs.n; i++) {
    struct sl_route_input in = row_input(&rs.v[i], maxb);
    sc[i] = sl_route_model_score(m, &in, s);
  }
  double t = sl_route_calibrate(sc, rs.n, share);
  size_t strong = 0;
  for (size_t i = 0; i < rs.n; i++) strong += sc[i] >= t;
  printf("%.6f\n", t);
  fprintf(stderr,
          "threshold %.6f sends %zu of %zu prompts (%.1f%%) to strong; model %s puts it at "
          "the %.1f%% point of its training scores\n",
          t, strong, rs.n, 100.0 * (double)strong / (double)rs.n, sl_route_model_id(m),
          100.0 * sl_route_model_cdf(m, t));
  free(sc);
  free(s);
  rows_free(&rs);
  sl_route_model_free(m);
  return 0;
}

/* ---- eval ------------------------------------------------------------------------- */

static void svg_curve(FILE *f, const double *c, size_t n, double w, double s, const char *color, const char *dash) {
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color, dash);
  size_t step = n > 400 ? n / 400 : 1;
  for (size_t k = 0;; k += step) {
    if (k > n) k = n;
    double x = 60 + 500.0 * (double)k / (double)n;
    double pgr = (c[k] - w) / (s - w);
    if (pgr > 1.3) pgr = 1.3;
    if (pgr < -0.1) pgr = -0.1;
    double y = 340 - 250.0 * pgr;
    fprintf(f, "%.1f,%.1f ", x, y);
    if (k == n) break;
  }
  fprintf(f, "\"/>\n");
}

static int write_svg(const char *path, const double *cm, const double *co, size_t n,
                     const struct sl_route_eval_result *r, const char *title) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "sluice router eval: %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"620\" height=\"400\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"620\" height=\"400\" fill=\"white\"/>\n"
          "<text x=\"310\" y=\"20\" text-anchor=\"middle\">%s</text>\n",
          title);
  fprintf(f, "<line x1=\"60\" y1=\"340\" x2=\"560\" y2=\"340\" stroke=\"black\"/>\n"
             "<line x1=\"60\" y1=\"340\" x2=\"60\" y2=\"40\" stroke=\"black\"/>\n");
  for (int i = 0; i <= 10; i += 2) {
    double x = 60 + 50.0 * i, y = 340 - 25.0 * i;
    fprintf(f, "<text x=\"%.0f\" y=\"356\" text-anchor=\"middle\">%d%%</text>\n", x, i * 10);
    fprintf(f, "<text x=\"52\" y=\"%.0f\" text-anchor=\"end\">%.1f</text>\n", y + 4, i / 10.0);
    fprintf(f, "<line x1=\"60\" y1=\"%.0f\" x2=\"560\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", y, y);
  }
  fprintf(f, "<text x=\"310\" y=\"378\" text-anchor=\"middle\">calls to the strong model</text>\n"
             "<text x=\"16\" y=\"190\" transform=\"rotate(-90 16 190)\" text-anchor=\"middle\">"
             "performance gap recovered</text>\n");
  fprintf(f, "<line x1=\"60\" y1=\"340\" x2=\"560\" y2=\"90\" stroke=\"#888\" stroke-width=\"2\" "
             "stroke-dasharray=\"4 4\"/>\n");
  svg_curve(f, co, n, r->weak, r->strong, "#2a9d3a", " stroke-dasharray=\"2 2\"");
  svg_curve(f, cm, n, r->weak, r->strong, "#1f5fbf", "");
  fprintf(f,
          "<text x=\"420\" y=\"300\" fill=\"#1f5fbf\">model (APGR %.3f)</text>\n"
          "<text x=\"420\" y=\"316\" fill=\"#888\">random (0.500)</text>\n"
          "<text x=\"420\" y=\"284\" fill=\"#2a9d3a\">oracle</text>\n</svg>\n",
          r->apgr);
  return fclose(f) == 0 ? 0 : -1;
}

static void pct(char *b, size_t n, double v) {
  if (isnan(v))
    snprintf(b, n, "n/a");
  else
    snprintf(b, n, "%.1f%%", v * 100);
}

static void print_metrics(const char *name, const struct sl_route_eval_result *r) {
  char a[16], b[16];
  pct(a, sizeof a, r->cpt50);
  pct(b, sizeof b, r->cpt80);
  printf("%-8s %9s %9s %7.3f\n", name, a, b, r->apgr);
}

/* The cascade's offline evaluation (eval --cascade): the weak answer is always made; rows are
 * ranked by how suspicious the weak answer looks to the maths answer checks (answer_math.h,
 * the question deciding whether a fraction is suspicious), optionally plus w times the
 * learned router's prompt score; the curve escalates the most suspicious first. */
struct cascade_eval {
  struct sl_route_eval_row *ec, *ecp; /* checks alone; checks + prompt score */
  size_t flagged;                     /* rows whose answer fails a check (the pass/fail cascade) */
  double flagged_q;                   /* quality sum with exactly the flagged rows escalated */
};

static void cascade_row(struct cascade_eval *c, size_t k, const struct row *r, double prompt_score, double w) {
  struct sl_answer_math m;
  sl_answer_math_analyze(r->response, strlen(r->response), r->prompt, r->len, &m);
  double cs = sl_answer_math_weigh(&m);
  c->ec[k] = (struct sl_route_eval_row){cs, r->weak, r->strong};
  c->ecp[k] = (struct sl_route_eval_row){cs + w * prompt_score, r->weak, r->strong};
  if (m.fails) c->flagged++;
  c->flagged_q += m.fails ? r->strong : r->weak;
}

static int cmd_eval(int argc, char **argv) {
  const char *pos[64], *svg = NULL, *source = NULL;
  int npos = 0;
  uint64_t maxb = DEFAULT_MAX_BYTES, seed = 1;
  bool cascade = false, with_prompt = false;
  double pw = 1.0;
  struct cascade_eval ce = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--svg") == 0 && v)
      svg = argv[++i];
    else if (strcmp(a, "--cascade") == 0)
      cascade = true;
    else if (strcmp(a, "--with-prompt-score") == 0)
      with_prompt = true;
    else if (strcmp(a, "--prompt-weight") == 0 && v && parse_double(v, &pw) == 0 && pw >= 0)
      i++;
    else if (strcmp(a, "--source") == 0 && v)
      source = argv[++i];
    else if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &seed) == 0)
      i++;
    else if (strcmp(a, "--max-bytes") == 0 && v && parse_u64(v, &maxb) == 0 && maxb > 0)
      i++;
    else if (a[0] != '-' && npos < 64)
      pos[npos++] = a;
    else {
      fprintf(stderr, "sluice router eval: bad argument %s\n", a);
      return 2;
    }
  }
  if (npos < 2 || npos % 2) {
    fprintf(stderr, "usage: sluice router eval FILE DATA [FILE2 DATA2 ...] [--source PREFIX] "
                    "[--svg OUT.svg] [--cascade [--with-prompt-score] [--prompt-weight W]]\n"
                    "  several pairs: each DATA scored by its FILE, the rows pooled (k-fold "
                    "evaluation)\n"
                    "  --cascade: also the cascade (weak answer always made, escalated by its answer checks;\n"
                    "  rows need \"weak_response\": convert routellm --responses); --with-prompt-score adds\n"
                    "  W (default 1) times FILE's prompt score to the checks' suspicion\n");
    return 2;
  }
  const char *data = pos[1];
  char id[64] = "";
  struct sl_route_scratch *s = malloc(sizeof *s);
  struct sl_route_eval_row *er = NULL;
  size_t n = 0;
  double *cm = NULL, *co = NULL, *cr = NULL;
  int rc = 1;
  if (!s) return 1;
  for (int k = 0; k < npos; k += 2) {
    struct sl_route_model *m;
    if (open_model(pos[k], &m)) goto out;
    struct rows rs = {0};
    if (load_rows(pos[k + 1], true, source, &rs)) {
      rows_free(&rs);
      sl_route_model_free(m);
      goto out;
    }
    struct sl_route_eval_row *ne = realloc(er, (n + rs.n + 1) * sizeof *ne);
    if (ne) er = ne;
    if (ne && cascade) {
      struct sl_route_eval_row *c1 = realloc(ce.ec, (n + rs.n + 1) * sizeof *c1);
      if (c1) ce.ec = c1;
      struct sl_route_eval_row *c2 = c1 ? realloc(ce.ecp, (n + rs.n + 1) * sizeof *c2) : NULL;
      if (c2) ce.ecp = c2;
      if (!c2) ne = NULL;
    }
    if (!ne) {
      rows_free(&rs);
      sl_route_model_free(m);
      goto out;
    }
    for (size_t i = 0; i < rs.n; i++) {
      struct sl_route_input in = row_input(&rs.v[i], maxb);
      double score = rs.v[i].has_score ? rs.v[i].score : sl_route_model_score(m, &in, s);
      if (cascade && !rs.v[i].response) {
        fprintf(stderr,
                "sluice router eval --cascade: %s: a row without \"weak_response\" (convert routellm "
                "--responses keeps GSM8K's; --source gsm8k selects those rows)\n",
                pos[k + 1]);
        rows_free(&rs);
        sl_route_model_free(m);
        goto out;
      }
      if (cascade) cascade_row(&ce, n, &rs.v[i], score, with_prompt ? pw : 0);
      er[n++] = (struct sl_route_eval_row){score, rs.v[i].weak, rs.v[i].strong};
    }
    if (k == 0) snprintf(id, sizeof id, "%s", sl_route_model_id(m));
    rows_free(&rs);
    sl_route_model_free(m);
  }
  if (npos > 2) snprintf(id + strlen(id), sizeof id - strlen(id), " and %d more (pooled)", npos / 2 - 1);
  if (n == 0) {
    fprintf(stderr, "sluice router eval: %s: no rows%s%s\n", data, source ? " from source " : "", source ? source : "");
    goto out;
  }
  cm = malloc((n + 1) * sizeof *cm);
  co = malloc((n + 1) * sizeof *co);
  cr = malloc((n + 1) * sizeof *cr);
  if (!cm || !co || !cr) goto out;
  struct sl_route_eval_result rm, rr, ro, rrs;
  if (sl_route_eval_run(er, n, &rm, cm) || sl_route_eval_oracle(er, n, &ro, co) ||
      sl_route_eval_random_seeded(er, n, seed, &rrs, cr))
    goto out;
  sl_route_eval_random(er, n, &rr);
  printf("model %s on %s%s%s: %zu rows, weak %.4f, strong %.4f\n", id, base_name(data), source ? " source " : "",
         source ? source : "", n, rm.weak, rm.strong);
  if (!(rm.strong > rm.weak))
    printf("(the strong model is not better than the weak one on these rows: no gap to "
           "recover, the metrics are n/a)\n");
  printf("%-8s %9s %9s %7s\n", "router", "CPT(50%)", "CPT(80%)", "APGR");
  print_metrics("model", &rm);
  struct sl_route_eval_result rc1, rc2;
  if (cascade) {
    if (sl_route_eval_run(ce.ec, n, &rc1, NULL) || sl_route_eval_run(ce.ecp, n, &rc2, NULL)) goto out;
    print_metrics("cascade", &rc1);
    if (with_prompt) print_metrics("cascade+p", &rc2);
  }
  print_metrics("random", &rr);
  char nm[32];
  snprintf(nm, sizeof nm, "random#%llu", (unsigned long long)seed);
  print_metrics(nm, &rrs);
  print_metrics("oracle", &ro);
  printf("\ncost-quality curve (quality = mean of the per-prompt quality)\n");
  printf("%8s %9s %9s %9s %7s\n", "strong", "model", "random", "oracle", "PGR");
  for (int p = 0; p <= 100; p += 5) {
    size_t k = (size_t)((double)p / 100.0 * (double)n + 0.5);
    double rq = rm.weak + (double)p / 100.0 * (rm.strong - rm.weak);
    double pgr = rm.strong > rm.weak ? (cm[k] - rm.weak) / (rm.strong - rm.weak) : NAN;
    printf("%7d%% %9.4f %9.4f %9.4f %7.3f\n", p, cm[k], rq, co[k], pgr);
  }
  if (cascade) {
    double q = ce.flagged_q / (double)n;
    printf("\ncascade with the checks as pass/fail (escalate exactly the answers that fail a maths "
           "check): %zu of %zu escalated (%.1f%% strong), quality %.4f, PGR %.3f\n",
           ce.flagged, n, 100.0 * (double)ce.flagged / (double)n, q,
           rm.strong > rm.weak ? (q - rm.weak) / (rm.strong - rm.weak) : NAN);
    if (with_prompt) printf("(cascade+p: checks' suspicion + %.2f x the prompt score of %s)\n", pw, id);
  }
  if (svg) {
    char title[256];
    snprintf(title, sizeof title, "model %s on %s (%zu rows)", id, base_name(data), n);
    if (!(rm.strong > rm.weak) || write_svg(svg, cm, co, n, &rm, title)) {
      fprintf(stderr, "sluice router eval: no SVG written\n");
      goto out;
    }
  }
  rc = 0;
out:
  free(ce.ec);
  free(ce.ecp);
  free(er);
  free(cm);
  free(co);
  free(cr);
  free(s);
  return rc;
}

/* ---- convert ---------------------------------------------------------------------- */

/* One CSV record (RFC 4180: quoted fields with "" escapes may span lines). Fields are
 * NUL-terminated copies in fields[0..*nf); returns 1 with a record, 0 at the end, -1 on a
 * malformed record. */
#define CSV_MAX_FIELDS 16
/* Appends c to the field (room kept for its NUL); false when out of memory (f freed). */
static bool field_put(char **f, size_t *n, size_t *cap, char c) {
  (*f)[(*n)++] = c;
  if (*n + 1 < *cap) return true;
  char *nf = realloc(*f, *cap *= 2);
  if (!nf) {
    free(*f);
    return false;
  }
  *f = nf;
  return true;
}

static int csv_record(const char **pp, const char *end, char **fields, int *nf) {
  const char *p = *pp;
  *nf = 0;
  if (p >= end) return 0;
  for (;;) {
    size_t cap = 64, n = 0;
    char *f = malloc(cap);
    if (!f) return -1;
    if (p < end && *p == '"') {
      p++;
      for (;;) {
        if (p >= end) {
          free(f);
          return -1;
        }
        char c;
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            p += 2;
            c = '"';
          } else {
            p++;
            break;
          }
        } else {
          c = *p++;
        }
        if (!field_put(&f, &n, &cap, c)) return -1;
      }
    } else {
      while (p < end && *p != ',' && *p != '\n' && *p != '\r')
        if (!field_put(&f, &n, &cap, *p++)) return -1;
    }
    f[n] = 0;
    if (*nf < CSV_MAX_FIELDS)
      fields[(*nf)++] = f;
    else
      free(f);
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    if (p < end && *p == '\r') p++;
    if (p < end && *p == '\n')
      p++;
    else if (p < end) {
      for (int i = 0; i < *nf; i++) free(fields[i]);
      *nf = 0;
      return -1;
    }
    *pp = p;
    return 1;
  }
}

static void csv_free(char **fields, int nf) {
  for (int i = 0; i < nf; i++) free(fields[i]);
}

struct strset {
  char **v;
  size_t n, cap;
};
static int strset_add(struct strset *s, const char *t) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    char **nv = realloc(s->v, nc * sizeof *nv);
    if (!nv) return -1;
    s->v = nv;
    s->cap = nc;
  }
  return (s->v[s->n++] = strdup(t)) ? 0 : -1;
}
static bool strset_has(const struct strset *s, const char *t) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], t) == 0) return true;
  return false;
}
static void strset_free(struct strset *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

static int load_contaminated(const char *dir, struct strset *set) {
  static const char *const names[] = {"mmlu", "gsm8k", "mt_bench"};
  for (size_t k = 0; k < 3; k++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s_contaminated_prompts.jsonl", dir, names[k]);
    char *buf;
    size_t len;
    if (read_all(path, &buf, &len)) return -1;
    char *p = buf, *end = buf + len;
    while (p < end) {
      char *nl = memchr(p, '\n', (size_t)(end - p));
      char *e = nl ? nl : end;
      if (e > p) {
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(j, "eval_prompt");
        if (!cJSON_IsString(ep)) {
          fprintf(stderr, "sluice router convert: %s: a line without \"eval_prompt\"\n", path);
          cJSON_Delete(j);
          free(buf);
          return -1;
        }
        if (strset_add(set, ep->valuestring)) {
          cJSON_Delete(j);
          free(buf);
          return -1;
        }
        cJSON_Delete(j);
      }
      p = nl ? nl + 1 : end;
    }
    free(buf);
  }
  return 0;
}

static int add_row(struct rows *rs, const char *prompt, double weak, double strong, unsigned turns, const char *source,
                   const char *response) {
  struct row *r = rows_add(rs);
  if (!r) return -1;
  r->prompt = strdup(prompt);
  r->source = strdup(source);
  if (!r->prompt || !r->source) return -1;
  if (response && !(r->response = strdup(response))) return -1;
  r->len = strlen(prompt);
  r->weak = weak;
  r->strong = strong;
  r->turns = turns;
  return 0;
}

static int tf(const char *s, double *q) {
  if (strcmp(s, "True") == 0)
    *q = 1;
  else if (strcmp(s, "False") == 0)
    *q = 0;
  else
    return -1;
  return 0;
}

/* A CSV of (prompt, <weak column>, <strong column>, ...) into rows; with responses, the
 * weak model's answer too, from the column "<weak column>_response" when the file has it. */
static int load_outcomes_csv(const char *path, const char *weak_col, const char *strong_col, const char *source,
                             const struct strset *bad, bool responses, struct rows *rs, size_t *excluded) {
  char *buf;
  size_t len;
  if (read_all(path, &buf, &len)) return -1;
  const char *p = buf, *end = buf + len;
  char *f[CSV_MAX_FIELDS];
  int nf, r, iw = -1, is = -1, ir = -1, rc = 0;
  size_t rec = 0;
  while ((r = csv_record(&p, end, f, &nf)) == 1) {
    rec++;
    if (rec == 1) {
      for (int i = 0; i < nf; i++) {
        if (strcmp(f[i], weak_col) == 0) iw = i;
        if (strcmp(f[i], strong_col) == 0) is = i;
        if (responses && strncmp(f[i], weak_col, strlen(weak_col)) == 0 &&
            strcmp(f[i] + strlen(weak_col), "_response") == 0)
          ir = i;
      }
      csv_free(f, nf);
      if (iw < 1 || is < 1) {
        fprintf(stderr, "sluice router convert: %s: no columns %s and %s\n", path, weak_col, strong_col);
        rc = -1;
        break;
      }
      continue;
    }
    double qw, qs;
    if (nf <= iw || nf <= is || tf(f[iw], &qw) || tf(f[is], &qs)) {
      fprintf(stderr, "sluice router convert: %s: record %zu: expected True/False outcomes\n", path, rec);
      csv_free(f, nf);
      rc = -1;
      break;
    }
    if (strset_has(bad, f[0]))
      (*excluded)++;
    else if (add_row(rs, f[0], qw, qs, 1, source, ir > 0 && nf > ir ? f[ir] : NULL))
      rc = -1;
    csv_free(f, nf);
    if (rc) break;
  }
  if (r < 0) {
    fprintf(stderr, "sluice router convert: %s: malformed CSV after record %zu\n", path, rec);
    rc = -1;
  }
  free(buf);
  return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Calls fn on each non-empty line of a JSONL file, parsed (NULL when it is not JSON), until
 * fn returns non-zero; -1 when the file cannot be read. */
static int each_json_line(const char *path, int (*fn)(const cJSON *j, void *ud), void *ud) {
  char *buf;
  size_t len;
  if (read_all(path, &buf, &len)) return -1;
  char *p = buf, *end = buf + len;
  int rc = 0;
  while (p < end && !rc) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    if (e > p) {
      cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
      rc = fn(j, ud);
      cJSON_Delete(j);
    }
    p = nl ? nl + 1 : end;
  }
  free(buf);
  return rc;
}

/* MT-Bench: the judge's scores per question and model (both turns), then the questions. */
struct mt_bench {
  const char *path, *weak_col, *strong_col;
  double sum[1000][2]; /* [question_id][weak 0, strong 1] */
  unsigned cnt[1000][2];
  const struct strset *bad;
  struct rows *rs;
  size_t *excluded;
};

static int mt_judgement(const cJSON *j, void *ud) {
  struct mt_bench *mb = ud;
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question_id");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "score");
  double qid = cJSON_IsString(q) ? atof(q->valuestring) : cJSON_IsNumber(q) ? q->valuedouble : -1;
  double score = cJSON_IsString(sc) ? atof(sc->valuestring) : cJSON_IsNumber(sc) ? sc->valuedouble : -1;
  if (qid < 0 || qid >= 1000 || !cJSON_IsString(m)) {
    fprintf(stderr, "sluice router convert: %s: a judgement without question_id/model\n", mb->path);
    return -1;
  }
  if (score >= 1 && score <= 10) { /* -1: the judge gave no score */
    int who = strcmp(m->valuestring, mb->strong_col) == 0 ? 1 : strcmp(m->valuestring, mb->weak_col) == 0 ? 0 : -1;
    if (who >= 0) {
      mb->sum[(int)qid][who] += score;
      mb->cnt[(int)qid][who]++;
    }
  }
  return 0;
}

static int mt_question(const cJSON *j, void *ud) {
  struct mt_bench *mb = ud;
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question_id");
  const cJSON *cat = cJSON_GetObjectItemCaseSensitive(j, "category");
  const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "turns"), 0);
  if (!cJSON_IsNumber(q) || q->valuedouble < 0 || q->valuedouble >= 1000 || !cJSON_IsString(t0)) {
    fprintf(stderr, "sluice router convert: %s: a question without question_id/turns\n", mb->path);
    return -1;
  }
  int id = (int)q->valuedouble;
  char src[128];
  snprintf(src, sizeof src, "mt_bench/%s", cJSON_IsString(cat) ? cat->valuestring : "other");
  if (!mb->cnt[id][0] || !mb->cnt[id][1]) return 0;
  if (strset_has(mb->bad, t0->valuestring)) {
    (*mb->excluded)++;
    return 0;
  }
  return add_row(mb->rs, t0->valuestring, mb->sum[id][0] / mb->cnt[id][0] / 10.0,
                 mb->sum[id][1] / mb->cnt[id][1] / 10.0, 1, src, NULL)
             ? -1
             : 0;
}

static int load_mt_bench(const char *dir, const char *weak_col, const char *strong_col, const struct strset *bad,
                         struct rows *rs, size_t *excluded) {
  char path[4200];
  struct mt_bench *mb = calloc(1, sizeof *mb);
  if (!mb) return -1;
  *mb = (struct mt_bench){.path = path, .weak_col = weak_col, .strong_col = strong_col, .bad = bad, .rs = rs,
                          .excluded = excluded};
  snprintf(path, sizeof path, "%s/mt_bench_judgements.jsonl", dir);
  int rc = each_json_line(path, mt_judgement, mb);
  if (rc == 0) {
    snprintf(path, sizeof path, "%s/mt_bench_question.jsonl", dir);
    rc = each_json_line(path, mt_question, mb);
  }
  free(mb);
  return rc;
}

static int write_rows(const char *path, const struct rows *rs, const bool *pick, bool want) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!f) {
    fprintf(stderr, "sluice router convert: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t n = 0;
  for (size_t i = 0; i < rs->n; i++) {
    if (pick && pick[i] != want) continue;
    const struct row *r = &rs->v[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", r->prompt);
    cJSON_AddNumberToObject(o, "weak", r->weak);
    cJSON_AddNumberToObject(o, "strong", r->strong);
    if (r->source) cJSON_AddStringToObject(o, "source", r->source);
    if (r->response) cJSON_AddStringToObject(o, "weak_response", r->response);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t) {
      if (f != stdout) fclose(f);
      return -1;
    }
    fputs(t, f);
    fputc('\n', f);
    free(t);
    n++;
  }
  int bad = ferror(f);
  if (f != stdout)
    bad |= fclose(f) != 0;
  else
    fflush(f);
  if (bad) {
    fprintf(stderr, "sluice router convert: %s: write failed\n", path);
    return -1;
  }
  fprintf(stderr, "wrote %s: %zu rows\n", path, n);
  return 0;
}

static bool bench_in(const char *list, const char *name) {
  size_t l = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    if (n == l && strncmp(p, name, l) == 0) return true;
    p = c ? c + 1 : NULL;
  }
  return false;
}

static int cmd_convert_routellm(int argc, char **argv) {
  const char *dir = NULL, *outp = NULL, *testp = NULL, *split = "random";
  const char *benches = "mmlu,gsm8k,mt_bench";
  const char *weak_col = "mistralai/Mixtral-8x7B-Instruct-v0.1", *strong_col = "gpt-4-1106-preview";
  uint64_t seed = 1;
  double frac = 0.2;
  unsigned fold = 0, nfolds = 0; /* --fold I/K: the I-th of K groups is the test set */
  bool responses = false;        /* --responses: keep the weak model's answers (GSM8K) */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char tail;
    if (strcmp(a, "-o") == 0 && v)
      outp = argv[++i];
    else if (strcmp(a, "--test") == 0 && v)
      testp = argv[++i];
    else if (strcmp(a, "--fold") == 0 && v && sscanf(v, "%u/%u%c", &fold, &nfolds, &tail) == 2 && nfolds >= 2 &&
             nfolds <= 100 && fold < nfolds)
      i++;
    else if (strcmp(a, "--split") == 0 && v)
      split = argv[++i];
    else if (strcmp(a, "--responses") == 0)
      responses = true;
    else if (strcmp(a, "--benchmarks") == 0 && v)
      benches = argv[++i];
    else if (strcmp(a, "--weak") == 0 && v)
      weak_col = argv[++i];
    else if (strcmp(a, "--strong") == 0 && v)
      strong_col = argv[++i];
    else if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &seed) == 0)
      i++;
    else if (strcmp(a, "--test-fraction") == 0 && v && parse_double(v, &frac) == 0 && frac > 0 && frac < 1)
      i++;
    else if (a[0] != '-' && !dir)
      dir = a;
    else {
      fprintf(stderr, "sluice router convert routellm: bad argument %s\n", a);
      return 2;
    }
  }
  int mode = strcmp(split, "none") == 0                                        ? 0
             : strcmp(split, "random") == 0                                    ? 1
             : strcmp(split, "subjects") == 0                                  ? 2
             : strcmp(split, "cross") == 0 || strcmp(split, "cross-mmlu") == 0 ? 3
             : strcmp(split, "cross-gsm8k") == 0                               ? 4
                                                                               : -1;
  if (!dir || !outp || mode < 0 || (mode > 0 && !testp)) {
    fprintf(stderr, "usage: sluice router convert routellm DIR -o OUT.jsonl [--split none|random|subjects|"
                    "cross|cross-gsm8k] [--test OUT_TEST.jsonl] [--seed N] [--test-fraction F] "
                    "[--fold I/K] [--benchmarks mmlu,gsm8k,mt_bench] [--responses]\n"
                    "  random: a seeded split by prompt; subjects: leave MMLU subjects out (the test file\n"
                    "  holds the held-out subjects); cross: train MMLU, test GSM8K; cross-gsm8k: the reverse.\n"
                    "  --fold I/K (random, subjects): the I-th (from 0) of K seeded groups is the test set,\n"
                    "  instead of --test-fraction (default 0.2)\n"
                    "  --responses: rows keep the weak model's answer as \"weak_response\" where the data has\n"
                    "  it (GSM8K), for `sluice router eval --cascade`\n");
    return 2;
  }
  struct strset bad = {0};
  struct rows rs = {0};
  size_t excluded = 0;
  int rc = 1;
  char **subj = NULL;
  size_t nsubj = 0;
  bool *pick = NULL;
  if (load_contaminated(dir, &bad)) goto out;
  if (bench_in(benches, "mmlu") || mode >= 3) {
    char path[4200];
    snprintf(path, sizeof path, "%s/mmlu_responses", dir);
    DIR *d = opendir(path);
    if (!d) {
      fprintf(stderr, "sluice router convert: %s: %s\n", path, strerror(errno));
      goto out;
    }
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d))) {
      size_t l = strlen(e->d_name);
      if (l < 10 || strncmp(e->d_name, "mmlu_", 5) != 0 || strcmp(e->d_name + l - 4, ".csv") != 0) continue;
      if (nsubj == cap) {
        cap = cap ? cap * 2 : 64;
        char **ns = realloc(subj, cap * sizeof *ns);
        if (!ns) break;
        subj = ns;
      }
      subj[nsubj++] = strndup(e->d_name + 5, l - 9);
    }
    closedir(d);
    qsort(subj, nsubj, sizeof *subj, cmp_str);
    for (size_t i = 0; i < nsubj; i++) {
      char file[4400], src[300];
      snprintf(file, sizeof file, "%s/mmlu_%s.csv", path, subj[i]);
      snprintf(src, sizeof src, "mmlu/%s", subj[i]);
      if (load_outcomes_csv(file, weak_col, strong_col, src, &bad, responses, &rs, &excluded)) goto out;
    }
  }
  if (bench_in(benches, "gsm8k") || mode >= 3) {
    char file[4200];
    snprintf(file, sizeof file, "%s/gsm8k_responses.csv", dir);
    if (load_outcomes_csv(file, weak_col, strong_col, "gsm8k", &bad, responses, &rs, &excluded)) goto out;
  }
  if (bench_in(benches, "mt_bench") && mode < 3)
    if (load_mt_bench(dir, weak_col, strong_col, &bad, &rs, &excluded)) goto out;
  fprintf(stderr, "%zu rows (%zu contaminated prompts excluded)\n", rs.n, excluded);
  if (mode == 0) {
    rc = write_rows(outp, &rs, NULL, false) ? 1 : 0;
    goto out;
  }
  pick = calloc(rs.n ? rs.n : 1, sizeof *pick); /* true: test */
  if (!pick) goto out;
  if (mode == 1) {
    size_t *perm = malloc(rs.n * sizeof *perm);
    if (!perm) goto out;
    for (size_t i = 0; i < rs.n; i++) perm[i] = i;
    shuffle(perm, rs.n, seed);
    size_t lo = 0, hi = (size_t)(frac * (double)rs.n + 0.5);
    if (nfolds) {
      lo = rs.n * fold / nfolds;
      hi = rs.n * (fold + 1) / nfolds;
    }
    for (size_t i = lo; i < hi; i++) pick[perm[i]] = true;
    free(perm);
  } else if (mode == 2) {
    size_t *perm = malloc((nsubj ? nsubj : 1) * sizeof *perm);
    if (!perm) goto out;
    for (size_t i = 0; i < nsubj; i++) perm[i] = i;
    shuffle(perm, nsubj, seed);
    size_t lo = 0, hi = (size_t)(frac * (double)nsubj + 0.5);
    if (nfolds) {
      lo = nsubj * fold / nfolds;
      hi = nsubj * (fold + 1) / nfolds;
    }
    fprintf(stderr, "held-out subjects:");
    for (size_t i = 0; i < rs.n; i++) {
      if (strncmp(rs.v[i].source, "mmlu/", 5) != 0) continue;
      for (size_t k = lo; k < hi; k++)
        if (strcmp(rs.v[i].source + 5, subj[perm[k]]) == 0) pick[i] = true;
    }
    for (size_t k = lo; k < hi; k++) fprintf(stderr, " %s", subj[perm[k]]);
    fprintf(stderr, "\n");
    free(perm);
  } else {
    const char *test_src = mode == 3 ? "gsm8k" : "mmlu/";
    for (size_t i = 0; i < rs.n; i++) pick[i] = strncmp(rs.v[i].source, test_src, strlen(test_src)) == 0;
  }
  if (write_rows(outp, &rs, pick, false) || write_rows(testp, &rs, pick, true)) goto out;
  rc = 0;
out:
  for (size_t i = 0; i < nsubj; i++) free(subj[i]);
  free(subj);
  free(pick);
  strset_free(&bad);
  rows_free(&rs);
  return rc;
}

static int cmd_convert_pairwise(int argc, char **argv) {
  const char *in = NULL, *outp = "-";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      outp = argv[++i];
    else if (argv[i][0] != '-' && !in)
      in = argv[i];
    else {
      fprintf(stderr, "sluice router convert pairwise: bad argument %s\n", argv[i]);
      return 2;
    }
  }
  if (!in) {
    fprintf(stderr, "usage: sluice router convert pairwise FILE [-o OUT.jsonl]\n"
                    "  FILE: JSONL {\"prompt\", \"winner\": \"strong\"|\"weak\"|\"tie\"}; a win is "
                    "quality 1 against 0, a tie 0.5 each\n");
    return 2;
  }
  char *buf;
  size_t len;
  if (read_all(in, &buf, &len)) return 1;
  struct rows rs = {0};
  int rc = 0;
  size_t lineno = 0;
  char *p = buf, *end = buf + len;
  while (p < end && !rc) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    lineno++;
    size_t ll = (size_t)(e - p);
    bool blank = true;
    for (size_t k = 0; k < ll; k++)
      if (p[k] != ' ' && p[k] != '\t' && p[k] != '\r') blank = false;
    if (!blank) {
      cJSON *j = cJSON_ParseWithLength(p, ll);
      const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompt");
      const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "winner");
      double qs = -1, qw = -1;
      if (cJSON_IsString(w)) {
        if (strcmp(w->valuestring, "strong") == 0)
          qs = 1, qw = 0;
        else if (strcmp(w->valuestring, "weak") == 0)
          qs = 0, qw = 1;
        else if (strcmp(w->valuestring, "tie") == 0)
          qs = qw = 0.5;
      }
      if (!cJSON_IsString(pr) || qs < 0) {
        fprintf(stderr,
                "sluice router convert pairwise: %s:%zu: need \"prompt\" and \"winner\": "
                "\"strong\", \"weak\" or \"tie\"\n",
                in, lineno);
        rc = 1;
      } else {
        struct row *r = rows_add(&rs);
        if (!r || !(r->prompt = strdup(pr->valuestring)))
          rc = 1;
        else {
          r->len = strlen(r->prompt);
          r->weak = qw;
          r->strong = qs;
        }
      }
      cJSON_Delete(j);
    }
    p = nl ? nl + 1 : end;
  }
  free(buf);
  if (!rc && write_rows(outp, &rs, NULL, false)) rc = 1;
  rows_free(&rs);
  return rc;
}

/* ---- dispatch --------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: sluice router train DATA -o FILE [--seed N] [--hash-bits B] [--c C] [--folds K]\n"
                  "       sluice router calibrate FILE --prompts SAMPLE --strong-share F\n"
                  "       sluice router eval FILE DATA [--source PREFIX] [--svg OUT.svg] [--cascade "
                  "[--with-prompt-score]]\n"
                  "       sluice router convert routellm DIR -o OUT.jsonl [--split none|random|subjects|cross|"
                  "cross-gsm8k] [--test OUT_TEST.jsonl] [--seed N]\n"
                  "       sluice router convert pairwise FILE [-o OUT.jsonl]\n"
                  "       sluice router info FILE\n"
                  "       sluice router export|import|rollback|history NAME ... (learned state: see README)\n"
                  "FILE may be \"builtin\" (the embedded default model).\n");
}

static int cmd_info(int argc, char **argv) {
  if (argc != 2) {
    usage();
    return 2;
  }
  struct sl_route_model *m;
  if (open_model(argv[1], &m)) return 1;
  printf("model %s: hash bits %u\nquantiles: 10%% %.4f  50%% %.4f  70%% %.4f  90%% %.4f\n%s\n", sl_route_model_id(m),
         sl_route_model_bits(m), sl_route_model_quantile(m, 0.1), sl_route_model_quantile(m, 0.5),
         sl_route_model_quantile(m, 0.7), sl_route_model_quantile(m, 0.9), sl_route_model_meta(m));
  sl_route_model_free(m);
  return 0;
}

int sl_routerctl_cli(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const char *c = argv[1];
  int lc = sl_learnctl_cli(argc - 1, argv + 1); /* export, import, rollback, history: core/learnctl.c */
  if (lc >= 0) return lc;
  if (strcmp(c, "train") == 0) return cmd_train(argc - 1, argv + 1);
  if (strcmp(c, "calibrate") == 0) return cmd_calibrate(argc - 1, argv + 1);
  if (strcmp(c, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
  if (strcmp(c, "info") == 0) return cmd_info(argc - 1, argv + 1);
  if (strcmp(c, "convert") == 0 && argc >= 3 && strcmp(argv[2], "routellm") == 0)
    return cmd_convert_routellm(argc - 2, argv + 2);
  if (strcmp(c, "convert") == 0 && argc >= 3 && strcmp(argv[2], "pairwise") == 0)
    return cmd_convert_pairwise(argc - 2, argv + 2);
  usage();
  return 2;
}
