/* GSM8K-style answer checks (see answer_math.h): a small recursive-descent evaluator over the
 * text's numbers and operators, the final-answer markers, and the score. To add a marker: a
 * prefix in find_marked_final; an operator: the lexer in lex_op. */
#include "net/wire/answer_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

struct px {
  const char *s;
  size_t i, n;
  int depth;
};

/* libm-free helpers (net/wire links no libm) */
static double absd(double x) { return x < 0 ? -x : x; }
static bool whole(double x) {
  return absd(x) >= 9e15 || absd(x - (double)(long long)(x < 0 ? x - 0.5 : x + 0.5)) <= 1e-9;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static void skip_ws(struct px *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t')) p->i++;
}

/* A number at s[i..n): digits with optional thousands commas (",ddd"), an optional fraction
 * (".d+"). Returns the bytes used (0: none) and the value. */
static size_t lex_number(const char *s, size_t n, double *v) {
  size_t i = 0;
  double x = 0;
  if (i >= n || !is_digit(s[i])) return 0;
  int nd = 0;
  while (i < n) {
    if (is_digit(s[i])) {
      if (nd < 300) x = x * 10 + (s[i] - '0');
      nd++;
      i++;
    } else if (s[i] == ',' && i + 3 < n && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3]) &&
               (i + 4 >= n || !is_digit(s[i + 4]))) {
      i++; /* a thousands separator: exactly three digits follow */
    } else {
      break;
    }
  }
  if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
    i++;
    double f = 0.1;
    while (i < n && is_digit(s[i])) {
      x += f * (s[i] - '0');
      f /= 10;
      i++;
    }
  }
  *v = x;
  return i;
}

/* An operator at p: '+', '-', '*', '/', 'x', "\*", U+00D7, U+00F7, U+2212 (minus). Returns
 * its bytes (0: none) and the operator as one of + - * /. */
static size_t lex_op(const struct px *p, char *op) {
  const unsigned char *s = (const unsigned char *)p->s + p->i;
  size_t r = p->n - p->i;
  if (!r) return 0;
  switch (s[0]) {
  case '+':
  case '-':
  case '*':
  case '/': *op = (char)s[0]; return 1;
  case 'x':
  case 'X': *op = '*'; return 1;
  case '\\':
    if (r >= 2 && s[1] == '*') {
      *op = '*';
      return 2;
    }
    return 0;
  case 0xC3:
    if (r >= 2 && (s[1] == 0x97 || s[1] == 0xB7)) {
      *op = s[1] == 0x97 ? '*' : '/';
      return 2;
    }
    return 0;
  case 0xE2:
    if (r >= 3 && s[1] == 0x88 && s[2] == 0x92) {
      *op = '-';
      return 3;
    }
    return 0;
  default: return 0;
  }
}

static int parse_sum(struct px *p, double *v, unsigned *nops);

static int parse_atom(struct px *p, double *v, unsigned *nops) {
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == '-') { /* unary minus */
    p->i++;
    if (parse_atom(p, v, nops)) return -1;
    *v = -*v;
    return 0;
  }
  if (p->i < p->n && p->s[p->i] == '(') {
    if (++p->depth > 16) return -1;
    p->i++;
    if (parse_sum(p, v, nops)) return -1;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != ')') return -1;
    p->i++;
    p->depth--;
    return 0;
  }
  if (p->i < p->n && p->s[p->i] == '$') {
    p->i++;
    skip_ws(p);
  }
  size_t k = lex_number(p->s + p->i, p->n - p->i, v);
  if (!k) return -1;
  p->i += k;
  if (p->i < p->n && p->s[p->i] == '%') {
    p->i++;
    *v /= 100;
  }
  return 0;
}

/* Binary levels with backtracking: an operator not followed by an operand ends the
 * expression before the operator (so "= 12 xylophones" reads 12). */
static int parse_prod(struct px *p, double *v, unsigned *nops) {
  if (parse_atom(p, v, nops)) return -1;
  for (;;) {
    size_t save = p->i;
    skip_ws(p);
    char op;
    size_t k = lex_op(p, &op);
    if (!k || (op != '*' && op != '/')) {
      p->i = save;
      return 0;
    }
    p->i += k;
    double r;
    if (parse_atom(p, &r, nops)) {
      p->i = save;
      return 0;
    }
    (*nops)++;
    *v = op == '*' ? *v * r : (r == 0 ? NAN : *v / r);
  }
}

static int parse_sum(struct px *p, double *v, unsigned *nops) {
  if (parse_prod(p, v, nops)) return -1;
  for (;;) {
    size_t save = p->i;
    skip_ws(p);
    char op;
    size_t k = lex_op(p, &op);
    if (!k || (op != '+' && op != '-')) {
      p->i = save;
      return 0;
    }
    p->i += k;
    double r;
    if (parse_prod(p, &r, nops)) {
      p->i = save;
      return 0;
    }
    (*nops)++;
    *v = op == '+' ? *v + r : *v - r;
  }
}

int sl_answer_math_eval(const char *s, size_t n, double *v) {
  struct px p = {s, 0, n, 0};
  unsigned nops = 0;
  if (parse_sum(&p, v, &nops)) return -1;
  skip_ws(&p);
  if (p.i != p.n || !isfinite(*v)) return -1;
  return 0;
}

static bool close_enough(double a, double b) {
  double d = absd(a - b), m = absd(b) > 1 ? absd(b) : 1;
  return d <= 0.01 * m;
}

/* The bytes that may belong to the left side of an equation, walking back from '='. */
static bool expr_byte(unsigned char c) {
  return is_digit((char)c) || c == '.' || c == ',' || c == '$' || c == ' ' || c == '\t' || c == '+' || c == '-' ||
         c == '*' || c == '/' || c == 'x' || c == 'X' || c == '(' || c == ')' || c == '\\' || c == '%' || c >= 0x80;
}

/* The equation whose '=' is at text[eq]: 1 when it holds, 0 when it does not, -1 when it is
 * not an arithmetic equation (no operator on the left, or a side that is not a number). */
static int check_equation(const char *t, size_t n, size_t eq) {
  size_t b = eq;
  while (b > 0 && eq - b < 200 && expr_byte((unsigned char)t[b - 1])) b--;
  /* the left side starts at its first digit, '(', '$' or a minus directly before a digit */
  while (b < eq && !is_digit(t[b]) && t[b] != '(' && t[b] != '$') b++;
  if (b < eq && t[b] == '(') {
    /* an unbalanced '(' from surrounding prose: start after it */
    int bal = 0;
    for (size_t k = b; k < eq; k++) bal += t[k] == '(' ? 1 : t[k] == ')' ? -1 : 0;
    while (bal > 0 && b < eq) {
      if (t[b] == '(') bal--;
      b++;
      while (b < eq && !is_digit(t[b]) && t[b] != '(' && t[b] != '$') b++;
    }
  }
  if (b >= eq) return -1;
  size_t e = eq;
  while (e > b && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--;
  struct px lp = {t + b, 0, e - b, 0};
  unsigned nops = 0;
  double lv;
  if (parse_sum(&lp, &lv, &nops) || lp.i != lp.n || nops == 0 || !isfinite(lv)) return -1;
  /* the right side: an expression (a chain "= 500 - 2 = 498" compares each step) */
  size_t r = eq + 1;
  while (r < n && (t[r] == ' ' || t[r] == '\t')) r++;
  if (r + 1 < n && t[r] == '<' && t[r + 1] == '<') return -1; /* the annotation is checked itself */
  size_t re = r;
  while (re < n && re - r < 200 && t[re] != '\n' && t[re] != '=' && t[re] != '<') re++;
  struct px rp = {t + r, 0, re - r, 0};
  unsigned rops = 0;
  double rv;
  if (parse_sum(&rp, &rv, &rops) || !isfinite(rv)) return -1;
  return close_enough(lv, rv) ? 1 : 0;
}

/* A "<<expr=value>>" annotation at text[i] (i at the first '<'): 1 holds, 0 not, -1 not one. */
static int check_annotation(const char *t, size_t n, size_t i, size_t *end) {
  size_t s = i + 2, k = s, eq = 0;
  while (k + 1 < n && k - s < 200 && !(t[k] == '>' && t[k + 1] == '>')) {
    if (t[k] == '=' && !eq) eq = k;
    if (t[k] == '\n') return -1;
    k++;
  }
  if (k + 1 >= n || !eq || t[k] != '>') return -1;
  *end = k + 2;
  double lv, rv;
  if (sl_answer_math_eval(t + s, eq - s, &lv) || sl_answer_math_eval(t + eq + 1, k - eq - 1, &rv)) return -1;
  return close_enough(lv, rv) ? 1 : 0;
}

static bool ci_prefix(const char *t, size_t n, size_t i, const char *w) {
  size_t l = strlen(w);
  if (i + l > n) return false;
  for (size_t k = 0; k < l; k++)
    if (lower(t[i + k]) != w[k]) return false;
  return true;
}

/* The number after a marker at t[i..]: skips up to 40 bytes of '$', spaces, ':', '*' (bold)
 * and words like "approximately" no further than a digit, then reads an optional minus and a
 * number. */
static bool number_after(const char *t, size_t n, size_t i, double *v, size_t *end) {
  size_t lim = i + 40 < n ? i + 40 : n;
  while (i < lim && !is_digit(t[i])) {
    if (t[i] == '\n' && i + 1 < n && t[i + 1] == '\n') return false;
    i++;
  }
  if (i >= lim) return false;
  bool neg = i > 0 && t[i - 1] == '-';
  size_t k = lex_number(t + i, n - i, v);
  if (!k) return false;
  if (neg) *v = -*v;
  *end = i + k;
  return true;
}

static bool find_marked_final(const char *t, size_t n, double *v, size_t *vend) {
  static const char *const marks[] = {"####", "the answer is", "final answer", "\\boxed{", "answer:"};
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    char c = lower(t[i]);
    if (c != '#' && c != 't' && c != 'f' && c != '\\' && c != 'a') continue;
    for (size_t m = 0; m < sizeof marks / sizeof *marks; m++) {
      if (ci_prefix(t, n, i, marks[m])) {
        double x;
        size_t e;
        if (number_after(t, n, i + strlen(marks[m]), &x, &e)) {
          *v = x; /* the last marked answer wins */
          *vend = e;
          found = true;
        }
        i += strlen(marks[m]) - 1;
        break;
      }
    }
  }
  return found;
}

static bool question_allows_fraction(const char *q, size_t qn) {
  static const char *const w[] = {"decimal", "fraction", "probabilit", "ratio", "percent", "average", "round"};
  for (size_t i = 0; i < qn; i++)
    for (size_t k = 0; k < sizeof w / sizeof *w; k++)
      if (ci_prefix(q, qn, i, w[k])) return true;
  return false;
}

void sl_answer_math_analyze(const char *t, size_t n, const char *q, size_t qn, struct sl_answer_math *out) {
  memset(out, 0, sizeof *out);
  if (!t) n = 0;
  if (n > SL_ANSWER_MATH_MAX_BYTES) n = SL_ANSWER_MATH_MAX_BYTES;
  if (qn > SL_ANSWER_MATH_MAX_BYTES) qn = SL_ANSWER_MATH_MAX_BYTES;
  double last = 0;
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (c == '<' && i + 1 < n && t[i + 1] == '<' && out->checked < SL_ANSWER_MATH_MAX_EXPRS) {
      size_t end;
      int r = check_annotation(t, n, i, &end);
      if (r >= 0) {
        out->checked++;
        if (!r) out->wrong++;
        i = end - 1;
        continue;
      }
    } else if (c == '=' && out->checked < SL_ANSWER_MATH_MAX_EXPRS && !(i + 1 < n && t[i + 1] == '=') &&
               !(i > 0 && (t[i - 1] == '<' || t[i - 1] == '>' || t[i - 1] == '!'))) {
      int r = check_equation(t, n, i);
      if (r >= 0) {
        out->checked++;
        if (!r) out->wrong++;
      }
    } else if (is_digit(c) && (i == 0 || (!is_digit(t[i - 1]) && t[i - 1] != '.' && t[i - 1] != ','))) {
      double v;
      size_t k = lex_number(t + i, n - i, &v);
      if (k) {
        last = i > 0 && t[i - 1] == '-' && (i < 2 || !is_digit(t[i - 2])) && (i < 2 || t[i - 2] == ' ') ? -v : v;
        any = true;
        i += k - 1;
      }
    }
  }
  double fin;
  size_t fend = 0;
  if (find_marked_final(t, n, &fin, &fend)) {
    out->has_final = true;
    out->final = fin;
    for (size_t k = fend; k < n && out->tail < 1000; k++)
      if (t[k] != ' ' && t[k] != '\n' && t[k] != '\r' && t[k] != '\t' && t[k] != '.' && t[k] != '*' && t[k] != '}')
        out->tail++;
  } else if (any) {
    out->has_final = true;
    out->final = last;
    out->fails |= SL_MATH_NO_MARKER;
  } else {
    out->fails |= SL_MATH_NO_ANSWER;
  }
  out->len = n;
  if (out->wrong) out->fails |= SL_MATH_BAD_ARITH;
  if (out->has_final && !whole(out->final) && !(q && question_allows_fraction(q, qn)))
    out->fails |= SL_MATH_NON_INTEGER;
}

double sl_answer_math_weigh(const struct sl_answer_math *m) {
  double s = 0;
  if (m->fails & SL_MATH_NO_ANSWER) s += 4;
  if (m->fails & SL_MATH_NON_INTEGER) s += 3;
  if (m->fails & SL_MATH_NO_MARKER) s += 2;
  s += 1.0 * (m->wrong > 3 ? 3 : m->wrong);
  /* hints that order answers which fail nothing (together below 0.3; one failure weighs 1): longer
   * answers (harder questions) and text after the marked final answer ("#### 60 minutes"): they
   * were the two best such cues over the GSM8K weak answers (AUC 0.60 and 0.62) */
  s += 0.15 * (m->len > 1500 ? 1.0 : (double)m->len / 1500.0) + (m->tail ? 0.15 : 0);
  return s;
}

double sl_answer_math_score(const char *text, size_t n, unsigned *fails) {
  struct sl_answer_math m;
  sl_answer_math_analyze(text, n, NULL, 0, &m);
  if (fails) *fails = m.fails;
  return sl_answer_math_weigh(&m);
}

const char *sl_answer_math_fail_name(unsigned bit) {
  switch (bit) {
  case SL_MATH_NO_ANSWER: return "no_answer";
  case SL_MATH_NO_MARKER: return "no_final_marker";
  case SL_MATH_BAD_ARITH: return "bad_arithmetic";
  case SL_MATH_NON_INTEGER: return "non_integer";
  default: return "";
  }
}
