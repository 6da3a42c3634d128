/* A tiny unit-test harness: a flat list of named test functions, CHECK records the
 * first failure of a test with its line, and main prints ok/FAIL per test and a tally. */
#ifndef SL_TEST_CHECK_H
#define SL_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_;
static char check_why_[512];

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond) && !check_failed_) {                                                      \
      check_failed_ = 1;                                                                  \
      snprintf(check_why_, sizeof check_why_, "%s:%d: %s", __FILE__, __LINE__, #cond);    \
    }                                                                                     \
  } while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

struct check_case {
  const char *name;
  void (*fn)(void);
};

static int check_run(const struct check_case *cases, size_t n) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    check_failed_ = 0;
    cases[i].fn();
    if (check_failed_) {
      printf("FAIL %s: %s\n", cases[i].name, check_why_);
      failed++;
    } else {
      printf("ok %s\n", cases[i].name);
    }
  }
  printf("%zu passed, %d failed\n", n - (size_t)failed, failed);
  return failed ? 1 : 0;
}

#define CHECK_MAIN(...)                                                 \
  int main(void) {                                                      \
    static const struct check_case cases[] = {__VA_ARGS__};             \
    return check_run(cases, sizeof cases / sizeof cases[0]);            \
  }
#define T(fn) {#fn, fn}

#endif
