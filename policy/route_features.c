/* The learned router's features (see route_features.h): the capped text classified 16 bytes
 * at a time into bitmaps, then short walks over the bitmaps (punctuation, lines, tokens):
 * hashed word unigrams and bigrams plus dense format cues, into a fixed scratch. To add a
 * cue: a new enum member before D_COUNT, its name in dense_names, its value at the end
 * of sl_route_features, and a new SL_ROUTE_FEATURESET_ID. */
#include "policy/route_features.h"

#include <math.h>
#include <string.h>

enum {
  D_BYTES,
  D_WORDS,
  D_SENTENCES,
  D_LINES,
  D_NUMBERS,
  D_DIGIT_FRAC,
  D_OPERATORS,
  D_DOLLARS,
  D_LATEX,
  D_CODE_PUNCT,
  D_FENCES,
  D_OPT_LINES,
  D_OPT_MEAN,
  D_OPT_MAX,
  D_OPT_SPREAD,
  D_ANSWER_END,
  D_QMARKS,
  D_UPPER_FRAC,
  D_WORD_LEN,
  D_TURNS,
  D_TOOLS,
  D_NONASCII_FRAC,
  D_PARENS,
  D_PERCENT,
  D_QUOTES,
  D_LONGEST_LINE,
  D_COMMAS,
  D_TRUNCATED,
  D_LONG_WORDS,
  D_BLANK_LINES,
  D_EQUALS,
  D_COUNT
};
_Static_assert(D_COUNT <= SL_ROUTE_DENSE, "dense cues exceed SL_ROUTE_DENSE");

static const char *const dense_names[D_COUNT] = {
    "bytes",         "words",       "sentences",      "lines",      "numbers",      "digit_frac",      "operators",
    "dollars",       "latex",       "code_punct",     "fences",     "option_lines", "option_mean_len", "option_max_len",
    "option_spread", "answer_end",  "question_marks", "upper_frac", "word_len",     "turns",           "tools",
    "nonascii_frac", "parens",      "percent",        "quotes",     "longest_line", "commas",          "truncated",
    "long_words",    "blank_lines", "equals",
};

const char *sl_route_dense_name(unsigned i) { return i < D_COUNT ? dense_names[i] : NULL; }

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u
#define BOS_HASH  0x0b05u
#define EOS_HASH  0x0e05u

static inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

struct fstate {
  struct sl_route_scratch *s;
  uint32_t mask;
  unsigned shift; /* 32 - bits: buckets are the top bits of a mixed hash */
  uint32_t prev; /* hash of the previous token (BOS at the start) */
};

static inline void emit(struct fstate *f, uint32_t h) {
  struct sl_route_scratch *s = f->s;
  uint32_t bi = (f->prev * 0x9e3779b1u) ^ (h + 0x7f4a7c15u);
  f->prev = h;
  if (s->nidx + 2 > SL_ROUTE_IDX_CAP) return; /* full: later tokens are dropped */
#ifdef SL_ROUTE_TEST_FNV_WORDS /* the test build: hash id 1's buckets over the same tokens */
  s->idx[s->nidx] = mix32(h) & f->mask;
  s->idx[s->nidx + 1] = mix32(bi ^ 0xb16a3u) & f->mask;
#else
  /* h is mixed already (word_hash, PTOK_HASH, EOS): a bucket is its top bits; a bigram's is
   * the top bits of the pair times an odd constant (multiplicative hashing) */
  s->idx[s->nidx] = h >> f->shift;
  s->idx[s->nidx + 1] = (uint32_t)((bi ^ 0xb16a3u) * 0x9e3779b1u) >> f->shift;
#endif
  s->nidx += 2;
}

static inline float lg(double x, double scale) { return (float)(log1p(x) / scale); }

/* Classes of the bytes between words. P_TERM counts '?' too (a sentence end); the classes
 * from P_BSLASH on need a closer look (look-ahead, or a token of their own). */
enum {
  P_OTHER,
  P_SPACE,
  P_NL,
  P_TERM,
  P_OP,
  P_COMMA,
  P_PAREN,
  P_QUOTE,
  P_PCT,
  P_CODE,
  P_BSLASH,
  P_TICK,
  P_EQ,
  P_DOLLAR,
  P_HAT,
  P_CURLY,
  P_QMARK,
  P_NCLASS
};
static const unsigned char pclass[256] = {
    [' '] = P_SPACE,   ['\t'] = P_SPACE, ['\r'] = P_SPACE, ['\f'] = P_SPACE, ['\v'] = P_SPACE, ['\n'] = P_NL,
    ['.'] = P_TERM,    ['!'] = P_TERM,   ['?'] = P_QMARK,  ['+'] = P_OP,     ['-'] = P_OP,     ['*'] = P_OP,
    ['/'] = P_OP,      ['<'] = P_OP,     ['>'] = P_OP,     ['^'] = P_HAT,    ['='] = P_EQ,     ['$'] = P_DOLLAR,
    ['\\'] = P_BSLASH, ['{'] = P_CURLY,  ['}'] = P_CODE,   [';'] = P_CODE,   ['`'] = P_TICK,   ['('] = P_PAREN,
    [')'] = P_PAREN,   ['['] = P_PAREN,  [']'] = P_PAREN,  ['%'] = P_PCT,    ['"'] = P_QUOTE,  ['\''] = P_QUOTE,
    [','] = P_COMMA,
};
#if !defined(__SSE2__)
/* The punctuation that is a token of its own (maths and code marks). */
static const unsigned char ptoken[256] = {['?'] = 1, ['$'] = 1, ['='] = 1, ['\\'] = 1, ['^'] = 1, ['{'] = 1};
#endif

static inline int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A multiple-choice option line: optional spaces, then "A." "A)" "(A)" or "A:" with a
 * letter A-H (either case), then a space or the end. Returns the bytes of the marker. */
static size_t option_marker(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  if (i < n && p[i] == '(') {
    if (i + 2 < n && ((p[i + 1] >= 'A' && p[i + 1] <= 'H') || (p[i + 1] >= 'a' && p[i + 1] <= 'h')) && p[i + 2] == ')')
      return i + 3;
    return 0;
  }
  if (i + 1 < n && p[i] >= 'A' && p[i] <= 'H' && (p[i + 1] == '.' || p[i + 1] == ')' || p[i + 1] == ':') &&
      (i + 2 == n || p[i + 2] == ' ' || p[i + 2] == '\t'))
    return i + 2;
  return 0;
}

/* What the lines say: the longest, and the multiple-choice option lines' count and lengths. */
struct lines_stat {
  size_t longest;
  unsigned opt_lines;
  double opt_sum, opt_sq, opt_max;
};

static void end_line(const unsigned char *line, size_t len, struct lines_stat *ls) {
  if (len > ls->longest) ls->longest = len;
  size_t m = option_marker(line, len);
  if (m) {
    ls->opt_lines++;
    double ol = (double)(len - m);
    ls->opt_sum += ol;
    ls->opt_sq += ol * ol;
    if (ol > ls->opt_max) ls->opt_max = ol;
  }
}

/* ---- pass 1: the bytes' classes, 16 at a time ---- */

/* Per 16-byte block: word bytes (ASCII letters, digits, >= 0x80), upper-case letters,
 * letters, digits, non-ASCII, newlines, blanks (space \t \r \f \v) and the punctuation that
 * is a token of its own (? $ = \ ^ {) as bit masks, and the block folded (letters
 * lower-cased, digits to '0') into out. SSE2 where the compiler has it, else the same by
 * byte. */
struct block_masks {
  unsigned word, upper, alpha, digit, nonascii, nl, blank, ptok;
};

#if defined(__SSE2__)
#include <emmintrin.h>
static inline __m128i in_range(__m128i v, char lo, char hi) { /* lo <= v <= hi, unsigned bytes */
  __m128i t = _mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - (unsigned char)lo)));
  return _mm_cmplt_epi8(t, _mm_set1_epi8((char)(0x80 + (unsigned char)(hi - lo) + 1)));
}
static inline void classify16(const unsigned char *b, unsigned char *out, struct block_masks *m) {
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
  __m128i up = in_range(v, 'A', 'Z');
  __m128i al = _mm_or_si128(up, in_range(v, 'a', 'z'));
  __m128i dg = in_range(v, '0', '9');
  __m128i f = _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
  f = _mm_or_si128(_mm_andnot_si128(dg, f), _mm_and_si128(dg, _mm_set1_epi8('0')));
  _mm_storeu_si128((__m128i *)(void *)out, f);
  __m128i eq = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
  eq = _mm_or_si128(eq, in_range(v, '\t', '\r')); /* \t \n \v \f \r */
  __m128i nl = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
  __m128i pt = _mm_cmpeq_epi8(v, _mm_set1_epi8('?'));
  pt = _mm_or_si128(pt, _mm_cmpeq_epi8(v, _mm_set1_epi8('$')));
  pt = _mm_or_si128(pt, _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
  pt = _mm_or_si128(pt, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  pt = _mm_or_si128(pt, _mm_cmpeq_epi8(v, _mm_set1_epi8('^')));
  pt = _mm_or_si128(pt, _mm_cmpeq_epi8(v, _mm_set1_epi8('{')));
  m->upper = (unsigned)_mm_movemask_epi8(up);
  m->alpha = (unsigned)_mm_movemask_epi8(al);
  m->digit = (unsigned)_mm_movemask_epi8(dg);
  m->nonascii = (unsigned)_mm_movemask_epi8(v);
  m->word = m->alpha | m->digit | m->nonascii;
  m->nl = (unsigned)_mm_movemask_epi8(nl);
  m->blank = (unsigned)_mm_movemask_epi8(eq) & ~m->nl;
  m->ptok = (unsigned)_mm_movemask_epi8(pt);
}
#else
static inline void classify16(const unsigned char *b, unsigned char *out, struct block_masks *m) {
  memset(m, 0, sizeof *m);
  for (unsigned i = 0; i < 16; i++) {
    unsigned char c = b[i];
    unsigned u = 1u << i;
    if (c >= 'A' && c <= 'Z') m->upper |= u, m->alpha |= u, c |= 0x20;
    else if (c >= 'a' && c <= 'z') m->alpha |= u;
    else if (c >= '0' && c <= '9') m->digit |= u, c = '0';
    else if (c >= 0x80) m->nonascii |= u;
    else if (c == '\n') m->nl |= u;
    else if (c == ' ' || (c >= '\t' && c <= '\r')) m->blank |= u;
    else if (ptoken[c]) m->ptok |= u;
    out[i] = c;
  }
  m->word = m->alpha | m->digit | m->nonascii;
}
#endif

/* Any bit of the bitmap set in [a, b)? */
static bool any_bits(const uint64_t *bm, size_t a, size_t b) {
  while (a < b) {
    size_t w = a >> 6, lo = a & 63, span = b - a;
    uint64_t m = ~0ull << lo;
    if (lo + span < 64) m &= (1ull << (lo + span)) - 1;
    if (bm[w] & m) return true;
    a = (w + 1) << 6;
  }
  return false;
}

/* A word's hash (hash id 2): its folded bytes 8 at a time through a 64-bit mixer, with the
 * length; s points into the padded folded copy (8 readable bytes past every word). */
static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}
static inline uint64_t load8(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
#define ZEROS 0x3030303030303030ull
/* A punctuation token's hash: FNV-1a 32 of its byte, mixed. */
#ifdef SL_ROUTE_TEST_FNV_WORDS
#define TOKEN_MIX(h) (h)
#else
#define TOKEN_MIX(h) mix32(h)
#endif
#define PTOK_HASH(c) TOKEN_MIX((FNV_BASIS ^ (uint32_t)(c)) * FNV_PRIME) /* eight folded digits */

/* The hash of the word at f[0..len) and whether it is all digits. */
static inline uint32_t word_hash(const unsigned char *f, unsigned len, int *all_digits) {
#ifdef SL_ROUTE_TEST_FNV_WORDS /* a test build: hash id 1's FNV-1a over the same folded bytes, so a
                                * comparison with the byte-by-byte scan checks the tokens */
  uint32_t fh = FNV_BASIS;
  int d = 1;
  for (unsigned i = 0; i < len; i++) {
    fh = (fh ^ f[i]) * FNV_PRIME;
    d &= f[i] == '0';
  }
  *all_digits = d;
  return fh;
#endif
  /* the first 16 bytes without a branch on the length (words of 8 and more letters are
   * common: a branch there is mispredicted often), the rest 8 at a time */
  uint64_t h = 0x9e3779b97f4a7c15ull ^ len, dig;
  unsigned l0 = len < 8 ? len : 8, l1 = len <= 8 ? 0 : len < 16 ? len - 8 : 8;
  uint64_t k0 = ~0ull >> (64 - 8 * l0);                /* len >= 1 */
  uint64_t k1 = l1 ? ~0ull >> (64 - 8 * l1) : 0;
  uint64_t v0 = load8(f) & k0, v1 = load8(f + 8) & k1; /* the copy is padded: 16 readable bytes */
  dig = ((v0 ^ ZEROS) & k0) | ((v1 ^ ZEROS) & k1);
  h = (h ^ v0) * 0xff51afd7ed558ccdull;
  h ^= h >> 29;
  h = (h ^ v1) * 0xff51afd7ed558ccdull;
  for (unsigned i = 16; i < len; i += 8) {
    uint64_t keep = len - i >= 8 ? ~0ull : ~0ull >> (64 - 8 * (len - i));
    uint64_t v = load8(f + i) & keep;
    dig |= (v ^ ZEROS) & keep;
    h ^= h >> 29;
    h = (h ^ v) * 0xff51afd7ed558ccdull;
  }
  *all_digits = dig == 0;
  h ^= h >> 32;
  h *= 0xc4ceb9fe1a85ec53ull;
  return (uint32_t)(h ^ (h >> 32));
}

void sl_route_features(const struct sl_route_input *in, unsigned bits, struct sl_route_scratch *s) {
  if (bits < SL_ROUTE_BITS_MIN) bits = SL_ROUTE_BITS_MIN;
  if (bits > SL_ROUTE_BITS_MAX) bits = SL_ROUTE_BITS_MAX;
  s->nidx = 0;
  memset(s->dense, 0, sizeof s->dense);
  struct fstate f = {s, (1u << bits) - 1u, 32u - bits, BOS_HASH};
  const unsigned char *p = (const unsigned char *)(in->text ? in->text : "");
  size_t n = in->text ? in->len : 0;
  int truncated = 0;
  if (n > SL_ROUTE_TEXT_CAP) {
    n = SL_ROUTE_TEXT_CAP;
    truncated = 1;
  }

  /* Pass 1: classes into bitmaps (one bit per byte), letters and digits folded into s->fold. */
  const size_t nw = (n + 63) / 64; /* bitmap words */
  uint64_t *wbm = s->bm[0], *pbm = s->bm[1], *nbm = s->bm[2], *tbm = s->bm[3];
  memset(s->bm, 0, sizeof(uint64_t) * 4 * SL_ROUTE_BM_WORDS);
  uint64_t lanes = 0; /* upper, letters, digits, non-ASCII counts */
  for (size_t o = 0; o < n; o += 16) {
    struct block_masks m;
    unsigned valid = n - o >= 16 ? 0xffffu : (1u << (n - o)) - 1u;
    if (valid == 0xffffu) {
      classify16(p + o, s->fold + o, &m);
    } else { /* the tail: copied into a padded block */
      unsigned char tmp[16] = {0};
      memcpy(tmp, p + o, n - o);
      classify16(tmp, s->fold + o, &m);
    }
    m.word &= valid;
    m.nl &= valid;
    m.ptok &= valid;
    unsigned other = valid & ~(m.word | m.nl | m.blank); /* punctuation and control bytes */
    /* four 16-bit masks counted at once, one 16-bit lane each (no popcount instruction in
     * the baseline x86-64 the build targets) */
    uint64_t x = (uint64_t)(m.upper & valid) | (uint64_t)(m.alpha & valid) << 16 |
                 (uint64_t)(m.digit & valid) << 32 | (uint64_t)(m.nonascii & valid) << 48;
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    x = (x + (x >> 8)) & 0x00ff00ff00ff00ffull;
    lanes += x; /* at most 8192 per lane */
    unsigned sh = (unsigned)(o & 63);
    wbm[o >> 6] |= (uint64_t)m.word << sh;
    pbm[o >> 6] |= (uint64_t)other << sh;
    nbm[o >> 6] |= (uint64_t)m.nl << sh;
    tbm[o >> 6] |= (uint64_t)m.ptok << sh;
  }
  memset(s->fold + n, 0, 16); /* a word is read 16 bytes at a time from its start */
  unsigned upper = (unsigned)(lanes & 0xffff), letters = (unsigned)((lanes >> 16) & 0xffff);
  unsigned digits = (unsigned)((lanes >> 32) & 0xffff), nonascii = (unsigned)(lanes >> 48);

  /* Pass 3: the punctuation and control bytes: counts, sentence ends, LaTeX, fences. */
  unsigned cnt[P_NCLASS] = {0};
  unsigned sentences = 0, latex = 0, fences = 0;
  for (size_t w = 0; w < nw; w++)
    for (uint64_t bm = pbm[w]; bm; bm &= bm - 1) {
      size_t i = (w << 6) + (unsigned)__builtin_ctzll(bm);
      unsigned char c = p[i];
      unsigned k = pclass[c];
      cnt[k]++;
      sentences +=
          (k == P_TERM || k == P_QMARK) & (i + 1 == n || (unsigned)(pclass[p[i + 1 < n ? i + 1 : i]] - P_SPACE) <= 1u);
      if (k == P_BSLASH && i + 1 < n &&
          ((p[i + 1] >= 'a' && p[i + 1] <= 'z') || (p[i + 1] >= 'A' && p[i + 1] <= 'Z') || p[i + 1] == '(' ||
           p[i + 1] == '['))
        latex++;
      else if (k == P_TICK && i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`')
        fences++;
    }

  /* Pass 4: lines (a line is blank when it has no word, punctuation or control byte). */
  unsigned lines = n ? 1 : 0, blank_lines = 0;
  struct lines_stat ls = {0};
  size_t line_start = 0;
  for (size_t w = 0; w < nw; w++)
    for (uint64_t bm = nbm[w]; bm; bm &= bm - 1) {
      size_t i = (w << 6) + (unsigned)__builtin_ctzll(bm);
      if (!any_bits(wbm, line_start, i) && !any_bits(pbm, line_start, i)) blank_lines++;
      end_line(p + line_start, i - line_start, &ls);
      lines++;
      line_start = i + 1;
    }

  /* Pass 5: the tokens in text order: word starts (a word bit after a non-word bit) and
   * token punctuation walked together, one bit at a time; a word's length is the run of
   * word bits from its start. */
  unsigned words = 0, numbers = 0, long_words = 0, word_bytes = letters + digits + nonascii;
  for (size_t w = 0; w < nw; w++) {
    uint64_t cur = wbm[w], prev_top = w ? wbm[w - 1] >> 63 : 0;
    uint64_t starts = cur & ~((cur << 1) | prev_top);
    for (uint64_t bm = starts | tbm[w]; bm; bm &= bm - 1) {
      unsigned b = (unsigned)__builtin_ctzll(bm);
      size_t st = (w << 6) + b;
      if (!((starts >> b) & 1)) { /* token punctuation */
        emit(&f, PTOK_HASH(p[st]));
        continue;
      }
      uint64_t run = ~(cur >> b); /* the word's bits from its start, inverted */
      unsigned len = run ? (unsigned)__builtin_ctzll(run) : 64u - b;
      for (size_t x = w + 1; len == 64u * (x - w) - b && x < nw; x++) { /* it runs on */
        uint64_t more = ~wbm[x];
        len += more ? (unsigned)__builtin_ctzll(more) : 64u;
      }
      int all_digits;
      uint32_t h = word_hash(s->fold + st, len, &all_digits);
      words++;
      numbers += (unsigned)all_digits;
      long_words += len >= 10;
      emit(&f, h);
    }
  }
  unsigned qmarks = cnt[P_QMARK], ops = cnt[P_OP] + cnt[P_EQ] + cnt[P_HAT], equals = cnt[P_EQ];
  unsigned dollars = cnt[P_DOLLAR], code = cnt[P_CODE] + cnt[P_CURLY], parens = cnt[P_PAREN];
  unsigned percent = cnt[P_PCT], quotes = cnt[P_QUOTE], commas = cnt[P_COMMA];
  if (n) { /* the last line */
    end_line(p + line_start, n - line_start, &ls);
    if (p[n - 1] != '.' && p[n - 1] != '!' && p[n - 1] != '?') sentences++;
  }
  if (words || s->nidx) emit(&f, TOKEN_MIX(EOS_HASH));

  /* "Answer:" as the last word of the text (MMLU-style prompts end so). */
  int answer_end = 0;
  {
    size_t e = n;
    while (e > 0 && is_space(p[e - 1])) e--;
    if (e >= 7) {
      const unsigned char *t = p + e - 7;
      answer_end = (t[0] | 32) == 'a' && (t[1] | 32) == 'n' && (t[2] | 32) == 's' && (t[3] | 32) == 'w' &&
                   (t[4] | 32) == 'e' && (t[5] | 32) == 'r' && t[6] == ':';
    }
  }

  float *d = s->dense;
  d[D_BYTES] = lg((double)n, 9.0);
  d[D_WORDS] = lg(words, 8.0);
  d[D_SENTENCES] = lg(sentences, 5.0);
  d[D_LINES] = lg(lines, 5.0);
  d[D_NUMBERS] = lg(numbers, 4.0);
  d[D_DIGIT_FRAC] = n ? (float)digits / (float)n : 0;
  d[D_OPERATORS] = lg(ops, 4.0);
  d[D_DOLLARS] = lg(dollars, 3.0);
  d[D_LATEX] = lg(latex, 3.0);
  d[D_CODE_PUNCT] = lg(code, 4.0);
  d[D_FENCES] = lg(fences, 2.0);
  d[D_OPT_LINES] = lg(ls.opt_lines, 2.5);
  if (ls.opt_lines) {
    double mean = ls.opt_sum / ls.opt_lines;
    double var = ls.opt_sq / ls.opt_lines - mean * mean;
    d[D_OPT_MEAN] = lg(mean, 6.0);
    d[D_OPT_MAX] = lg(ls.opt_max, 6.0);
    d[D_OPT_SPREAD] = (float)(var > 0 ? sqrt(var) / (mean + 1.0) : 0.0);
  }
  d[D_ANSWER_END] = (float)answer_end;
  d[D_QMARKS] = lg(qmarks, 3.0);
  d[D_UPPER_FRAC] = letters ? (float)upper / (float)letters : 0;
  d[D_WORD_LEN] = words ? (float)((double)word_bytes / words / 10.0) : 0;
  d[D_TURNS] = lg(in->turns, 3.0);
  d[D_TOOLS] = in->tools ? 1.0f : 0.0f;
  d[D_NONASCII_FRAC] = n ? (float)nonascii / (float)n : 0;
  d[D_PARENS] = lg(parens, 4.0);
  d[D_PERCENT] = lg(percent, 3.0);
  d[D_QUOTES] = lg(quotes, 4.0);
  d[D_LONGEST_LINE] = lg((double)ls.longest, 9.0);
  d[D_COMMAS] = lg(commas, 4.0);
  d[D_TRUNCATED] = (float)truncated;
  d[D_LONG_WORDS] = words ? (float)long_words / (float)words : 0;
  d[D_BLANK_LINES] = lg(blank_lines, 3.0);
  d[D_EQUALS] = lg(equals, 3.0);
}
