/* Unit tests for the GSM8K-style answer checks (net/wire/answer_math.h): the evaluator, each
 * failure on texts in the shape of real GSM8K answers, and the score's ordering. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/answer_math.h"
#include "test/unit/check.h"

static double ev(const char *s, int *rc) {
  double v = NAN;
  *rc = sl_answer_math_eval(s, strlen(s), &v);
  return v;
}

static void evaluator(void) {
  int rc;
  CHECK(ev("2 + 3 * 4", &rc) == 14 && rc == 0);
  CHECK(ev("(2 + 3) * 4", &rc) == 20 && rc == 0);
  CHECK(ev("$1,200 / 4", &rc) == 300 && rc == 0);
  CHECK(fabs(ev("8 x $5 x 60%", &rc) - 24) < 1e-9 && rc == 0);
  CHECK(ev("3 \\* 4", &rc) == 12 && rc == 0);
  CHECK(ev("6 \xc3\x97 7", &rc) == 42 && rc == 0);     /* × */
  CHECK(ev("84 \xc3\xb7 2", &rc) == 42 && rc == 0);    /* ÷ */
  CHECK(ev("10 \xe2\x88\x92 3", &rc) == 7 && rc == 0); /* − */
  CHECK(ev("-3 + 5", &rc) == 2 && rc == 0);
  CHECK(fabs(ev("2/3", &rc) - 2.0 / 3) < 1e-12 && rc == 0);
  ev("2 +", &rc);
  CHECK(rc == -1);
  ev("eggs", &rc);
  CHECK(rc == -1);
  ev("1 / 0", &rc);
  CHECK(rc == -1);
  ev("((((((((((((((((((1))))))))))))))))))", &rc); /* deeper than 16 */
  CHECK(rc == -1);
  ev("", &rc);
  CHECK(rc == -1);
}

static struct sl_answer_math an(const char *t, const char *q) {
  struct sl_answer_math m;
  sl_answer_math_analyze(t, strlen(t), q, q ? strlen(q) : 0, &m);
  return m;
}

/* GSM8K row 1's weak answer (correct). */
static const char *janet =
    " Janet starts with 16 eggs per day.\nShe eats 3 for breakfast, so she has 16 - 3 = 13 eggs left.\n"
    "She uses 4 for baking, so she has 13 - 4 = 9 eggs left.\nShe sells these 9 eggs at the farmers' "
    "market for 9 * $2 = $<<9*2=18>>18.\n#### 18";

static void correct_answers_pass(void) {
  struct sl_answer_math m = an(janet, NULL);
  CHECK(m.fails == 0);
  CHECK(m.has_final && m.final == 18);
  CHECK(m.checked == 3 && m.wrong == 0);
  m = an(" Kylar pays 8 x $5 = $<<8*5=40>>40 full price and 8 x $5 x 60% = $<<8*5*60/100=24>>24.\n"
         "$40 + $24 = $<<40+24=64>>64.\n#### 64\n\n",
         NULL);
  CHECK(m.fails == 0 && m.final == 64 && m.wrong == 0);
  /* a chain compares each step */
  m = an("Alex weighs 4 * 125 - 2 = 500 - 2 = 498 pounds. The answer is 498.", NULL);
  CHECK(m.fails == 0 && m.checked == 2 && m.final == 498);
  m = an("So 1,200 + 300 = 1,500 dollars.\n\nFinal answer: **1,500**", NULL);
  CHECK(m.fails == 0 && m.final == 1500);
  m = an("The total is \\boxed{72}.", NULL);
  CHECK(m.fails == 0 && m.final == 72);
  /* prose numbers around an equation are not part of it */
  m = an("In 2022, 3 + 4 = 7 cats.\n#### 7", NULL);
  CHECK(m.fails == 0);
}

static void missing_final(void) {
  /* GSM8K row 3's weak answer: cut mid-number, no "####" */
  struct sl_answer_math m =
      an(" The house's value after repairs is 80,000 + 50,000 = $<<80000+50000=130000>>130,00", NULL);
  CHECK(m.fails == SL_MATH_NO_MARKER);
  CHECK(m.has_final);
  m = an("I am not sure how to solve this.", NULL);
  CHECK(m.fails == SL_MATH_NO_ANSWER && !m.has_final);
  m = an("", NULL);
  CHECK(m.fails == SL_MATH_NO_ANSWER);
  m = an("#### \n", NULL); /* a marker with no number */
  CHECK(m.fails == SL_MATH_NO_ANSWER);
}

static void bad_arithmetic(void) {
  struct sl_answer_math m = an("She has 16 - 3 = 12 eggs left.\n#### 24", NULL);
  CHECK(m.fails == SL_MATH_BAD_ARITH && m.wrong == 1);
  m = an("He runs 3 x 60 = <<3*60=170>>170 meters.\n#### 510", NULL);
  CHECK(m.fails == SL_MATH_BAD_ARITH && m.wrong == 1);
  m = an("Total: 20 + 80 + 160 = 250 sheep.\n#### 250", NULL);
  CHECK((m.fails & SL_MATH_BAD_ARITH) && m.wrong == 1);
  /* rounding to cents holds */
  m = an("Each pays 100 / 3 = 33.33 dollars.\nThe answer is 33.33",
         "How much does each pay, to the nearest cent? Round it.");
  CHECK(m.fails == 0);
}

static void non_integer(void) {
  struct sl_answer_math m = an("2 + 1/2 = 5/2 = 2.5 bolts.\n#### 2.5", "How many bolts in total does it take?");
  CHECK(m.fails == SL_MATH_NON_INTEGER && m.final == 2.5);
  m = an("#### 2.5", NULL);
  CHECK(m.fails == SL_MATH_NON_INTEGER);
  m = an("#### 2.5", "What is the probability, as a decimal?");
  CHECK(m.fails == 0);
  m = an("#### -4", NULL);
  CHECK(m.fails == 0 && m.final == -4);
}

static void score_orders_suspicion(void) {
  unsigned f1, f2, f3, f4;
  double good = sl_answer_math_score(janet, strlen(janet), &f1);
  const char *cut = "She sells 9 eggs for 9 * $2 = $18";
  double s_cut = sl_answer_math_score(cut, strlen(cut), &f2);
  const char *frac = "She makes 9 / 2 = 4.5 dollars.\n#### 4.5";
  double s_frac = sl_answer_math_score(frac, strlen(frac), &f3);
  const char *none = "I do not know.";
  double s_none = sl_answer_math_score(none, strlen(none), &f4);
  CHECK(good > 0 && good < 0.3 && f1 == 0); /* only the length hint */
  /* text after the final number and a longer answer raise the hint, never to a failure's 1 */
  const char *units = "He pays 2 + 2 = 4 dollars.\n#### 4 dollars";
  const char *bare = "He pays 2 + 2 = 4 dollars.\n#### 4";
  double s_units = sl_answer_math_score(units, strlen(units), NULL),
         s_bare = sl_answer_math_score(bare, strlen(bare), NULL);
  CHECK(s_units > s_bare && s_units < 1);
  struct sl_answer_math mu;
  sl_answer_math_analyze(units, strlen(units), NULL, 0, &mu);
  CHECK(mu.tail == 7 && mu.fails == 0);
  CHECK(s_cut > good && f2 == SL_MATH_NO_MARKER);
  CHECK(s_frac > s_cut && f3 == SL_MATH_NON_INTEGER);
  CHECK(s_none > s_frac && f4 == SL_MATH_NO_ANSWER);
  const char *two_wrong = "1 + 1 = 3 and 2 + 2 = 5.\n#### 5";
  const char *one_wrong = "1 + 1 = 3 and 2 + 2 = 4.\n#### 4";
  CHECK(sl_answer_math_score(two_wrong, strlen(two_wrong), NULL) >
        sl_answer_math_score(one_wrong, strlen(one_wrong), NULL));
  CHECK_STR(sl_answer_math_fail_name(SL_MATH_BAD_ARITH), "bad_arithmetic");
  CHECK_STR(sl_answer_math_fail_name(3), "");
}

static void bounded(void) {
  size_t n = 200000;
  char *t = malloc(n + 1);
  for (size_t i = 0; i < n; i++) t[i] = "so 1 + 1 = 3. "[i % 14];
  t[n] = 0;
  struct sl_answer_math m;
  sl_answer_math_analyze(t, n, NULL, 0, &m);
  CHECK(m.checked == SL_ANSWER_MATH_MAX_EXPRS && m.wrong == m.checked);
  CHECK(m.fails & SL_MATH_BAD_ARITH);
  free(t);
  sl_answer_math_analyze(NULL, 5, NULL, 0, &m);
  CHECK(m.fails == SL_MATH_NO_ANSWER);
}

int main(void) {
  static const struct check_case cases[] = {
      {"evaluator", evaluator},
      {"correct_answers_pass", correct_answers_pass},
      {"missing_final", missing_final},
      {"bad_arithmetic", bad_arithmetic},
      {"non_integer", non_integer},
      {"score_orders_suspicion", score_orders_suspicion},
      {"bounded", bounded},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
