/* The learned router's features (see route_features.h): one pass over the capped text,
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
  uint32_t prev; /* hash of the previous token (BOS at the start) */
};

static inline void emit(struct fstate *f, uint32_t h) {
  struct sl_route_scratch *s = f->s;
  uint32_t bi = (f->prev * 0x9e3779b1u) ^ (h + 0x7f4a7c15u);
  f->prev = h;
  if (s->nidx + 2 > SL_ROUTE_IDX_CAP) return; /* full: later tokens are dropped */
  s->idx[s->nidx] = mix32(h) & f->mask;
  s->idx[s->nidx + 1] = mix32(bi ^ 0xb16a3u) & f->mask;
  s->nidx += 2;
}

static inline float lg(double x, double scale) { return (float)(log1p(x) / scale); }

static const unsigned char fold[256] = {
    0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,
    22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,
    44,  45,  46,  47,  48,  48,  48,  48,  48,  48,  48,  48,  48,  48,  58,  59,  60,  61,  62,  63,  64,  97,
    98,  99,  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 91,  92,  93,  94,  95,  96,  97,  98,  99,  100, 101, 102, 103, 104, 105, 106, 107, 108, 109,
    110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131,
    132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153,
    154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175,
    176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219,
    220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241,
    242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255};
#define W_UP  1ull
#define W_LET (1ull << 16)
#define W_DIG (1ull << 32)
#define W_NA  (1ull << 48)
static const uint64_t wcount[256] = {
    ['a' ... 'z'] = W_LET,
    ['A' ... 'Z'] = W_LET | W_UP,
    ['0' ... '9'] = W_DIG,
    [0x80 ... 0xff] = W_NA,
};
static inline int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

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
/* The punctuation that is a token of its own (maths and code marks). */
static const unsigned char ptoken[256] = {['?'] = 1, ['$'] = 1, ['='] = 1, ['\\'] = 1, ['^'] = 1, ['{'] = 1};

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

void sl_route_features(const struct sl_route_input *in, unsigned bits, struct sl_route_scratch *s) {
  if (bits < SL_ROUTE_BITS_MIN) bits = SL_ROUTE_BITS_MIN;
  if (bits > SL_ROUTE_BITS_MAX) bits = SL_ROUTE_BITS_MAX;
  s->nidx = 0;
  memset(s->dense, 0, sizeof s->dense);
  struct fstate f = {s, (1u << bits) - 1u, BOS_HASH};
  const unsigned char *p = (const unsigned char *)(in->text ? in->text : "");
  size_t n = in->text ? in->len : 0;
  int truncated = 0;
  if (n > SL_ROUTE_TEXT_CAP) {
    n = SL_ROUTE_TEXT_CAP;
    truncated = 1;
  }

  unsigned cnt[P_NCLASS] = {0};
  unsigned words = 0, sentences = 0, lines = n ? 1 : 0, numbers = 0, digits = 0;
  unsigned latex = 0, fences = 0, upper = 0, letters = 0;
  unsigned nonascii = 0, long_words = 0;
  unsigned blank_lines = 0, word_bytes = 0;
  struct lines_stat ls = {0};
  size_t line_start = 0;
  int line_has_text = 0;

  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (is_word_byte(c)) {
      uint32_t h = FNV_BASIS;
      size_t j = i;
      uint64_t cnt = 0;
      while (j < n) {
        unsigned char b = p[j];
        uint64_t k = wcount[b];
        if (!k) break;
        cnt += k;
        h = (h ^ fold[b]) * FNV_PRIME;
        j++;
      }
      upper += (unsigned)(cnt & 0xffff);
      letters += (unsigned)((cnt >> 16) & 0xffff);
      unsigned wd = (unsigned)((cnt >> 32) & 0xffff);
      digits += wd;
      nonascii += (unsigned)(cnt >> 48);
      int all_digits = wd == (unsigned)(j - i);
      words++;
      word_bytes += (unsigned)(j - i);
      if (j - i >= 10) long_words++;
      if (all_digits) numbers++;
      emit(&f, h);
      line_has_text = 1;
      i = j;
      continue;
    }
    unsigned k = pclass[c];
    cnt[k]++;
    if (k == P_SPACE) {
      i++;
      continue;
    }
    if (k == P_NL) {
      if (!line_has_text) blank_lines++;
      end_line(p + line_start, i - line_start, &ls);
      lines++;
      line_start = i + 1;
      line_has_text = 0;
      i++;
      continue;
    }
    line_has_text = 1;
    /* a sentence ends at . ! ? before a space or the end (branch-free: these are common) */
    sentences +=
        (k == P_TERM || k == P_QMARK) & (i + 1 == n || (unsigned)(pclass[p[i + 1 < n ? i + 1 : i]] - P_SPACE) <= 1u);
    if (k >= P_BSLASH) { /* the rare ones that look ahead, and the token punctuation */
      if (k == P_BSLASH && i + 1 < n &&
          ((p[i + 1] >= 'a' && p[i + 1] <= 'z') || (p[i + 1] >= 'A' && p[i + 1] <= 'Z') || p[i + 1] == '(' ||
           p[i + 1] == '['))
        latex++;
      else if (k == P_TICK && i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`')
        fences++;
      if (ptoken[c]) emit(&f, (FNV_BASIS ^ c) * FNV_PRIME);
    }
    i++;
  }
  unsigned qmarks = cnt[P_QMARK], ops = cnt[P_OP] + cnt[P_EQ] + cnt[P_HAT], equals = cnt[P_EQ];
  unsigned dollars = cnt[P_DOLLAR], code = cnt[P_CODE] + cnt[P_CURLY], parens = cnt[P_PAREN];
  unsigned percent = cnt[P_PCT], quotes = cnt[P_QUOTE], commas = cnt[P_COMMA];
  if (n) { /* the last line */
    end_line(p + line_start, n - line_start, &ls);
    if (p[n - 1] != '.' && p[n - 1] != '!' && p[n - 1] != '?') sentences++;
  }
  if (words || s->nidx) emit(&f, EOS_HASH);

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
