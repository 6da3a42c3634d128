/* Checks on a grade-school-maths answer's text (GSM8K style), for the cascade's "math" answer
 * check and for `sluice router eval --cascade`, which ranks answers by how suspicious they are.
 * The one idea: a cheap model's wrong maths answer usually shows it in the text itself: no final
 * answer ("#### N", "The answer is N", \boxed{N}), arithmetic that does not hold (GSM8K's
 * "<<a*b=c>>" annotations, or plain "a op b = c" chains), or a non-integer result where the
 * question asks for a count. Libc only (no JSON, no I/O): the text is scanned once, bounded by
 * SL_ANSWER_MATH_MAX_BYTES and SL_ANSWER_MATH_MAX_EXPRS. To add a check: a new SL_MATH_* bit set
 * in sl_answer_math_analyze, its name in sl_answer_math_fail_name, its weight in the score. */
#ifndef SL_WIRE_ANSWER_MATH_H
#define SL_WIRE_ANSWER_MATH_H

#include <stdbool.h>
#include <stddef.h>

#define SL_ANSWER_MATH_MAX_BYTES (64 * 1024) /* text past this is not read */
#define SL_ANSWER_MATH_MAX_EXPRS 256         /* equations checked at most */

enum {
  SL_MATH_NO_ANSWER = 1u << 0,   /* no number at all */
  SL_MATH_NO_MARKER = 1u << 1,   /* numbers, but no "#### N" / "the answer is N" / \boxed{N} */
  SL_MATH_BAD_ARITH = 1u << 2,   /* an annotation or "a op b = c" that does not hold */
  SL_MATH_NON_INTEGER = 1u << 3, /* the final answer is not a whole number (and the question asks a count) */
};

struct sl_answer_math {
  unsigned fails;          /* SL_MATH_* bits */
  unsigned checked, wrong; /* equations evaluated, and those that did not hold */
  bool has_final;          /* final found (marked, or else the last number) */
  double final;
  size_t len;  /* bytes analysed */
  size_t tail; /* non-blank bytes after a marked final number (units, prose), at most 1000 */
};

/* Analyses text[0..n). question (may be NULL) decides whether a non-integer result is
 * suspicious: with no question, or one that does not mention decimals, fractions,
 * probabilities or ratios, a non-integer final answer sets SL_MATH_NON_INTEGER. */
void sl_answer_math_analyze(const char *text, size_t n, const char *question, size_t qn, struct sl_answer_math *out);
/* How suspicious the answer is: below 0.3 for an answer that fails no check (longer answers,
 * and text after the marked final number, a little higher), +1 for each equation that does not
 * hold (at most 3), +2 no final marker, +3 non-integer, +4 no answer; *fails (may be NULL) gets
 * the bits. */
double sl_answer_math_score(const char *text, size_t n, unsigned *fails);
/* The score of an analysed answer (what sl_answer_math_score returns). */
double sl_answer_math_weigh(const struct sl_answer_math *m);
/* "no_answer", "no_final_marker", "bad_arithmetic", "non_integer" for one bit; "" otherwise. */
const char *sl_answer_math_fail_name(unsigned bit);
/* Evaluates the arithmetic expression s[0..n) (numbers with thousands commas, $ and %, + - * /
 * x × ÷, parentheses, unary minus); 0 and *v when the whole span is one expression, else -1.
 * Exposed for tests. */
int sl_answer_math_eval(const char *s, size_t n, double *v);

#endif
