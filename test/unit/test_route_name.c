/* policy/route_name: RouteLLM's router-<name>-<threshold> model names, by hand: names with
 * dashes, negative thresholds, the range, and what is not such a name. */
#include <string.h>

#include "check.h"
#include "policy/route_name.h"

static bool parse(const char *s, char *name, double *t) {
  size_t at, len;
  if (!sl_route_name_routellm(s, strlen(s), &at, &len, t)) return false;
  memcpy(name, s + at, len);
  name[len] = 0;
  return true;
}

static void accepted(void) {
  char name[64];
  double t = 9;
  CHECK(parse("router-auto-0.116", name, &t));
  CHECK_STR(name, "auto");
  CHECK(t == 0.116);
  CHECK(parse("router-mf-1", name, &t) && t == 1);
  CHECK_STR(name, "mf");
  CHECK(parse("router-my-router-0.5", name, &t) && t == 0.5); /* the last '-' splits */
  CHECK_STR(name, "my-router");
  CHECK(parse("router-auto--0.25", name, &t) && t == -0.25); /* a negative threshold */
  CHECK_STR(name, "auto");
  CHECK(parse("router-a-1e-1", name, &t) && t == 1); /* the last '-' splits, even inside an exponent */
  CHECK_STR(name, "a-1e");
}

static void refused(void) {
  char name[64];
  double t;
  CHECK(!parse("router-auto", name, &t));      /* no threshold */
  CHECK(!parse("router--0.5", name, &t));      /* no name */
  CHECK(!parse("router-auto-", name, &t));     /* empty threshold */
  CHECK(!parse("router-auto-1.5", name, &t));  /* out of range */
  CHECK(!parse("router-auto--2", name, &t));   /* out of range */
  CHECK(!parse("router-auto-nan", name, &t));  /* not a number in range */
  CHECK(!parse("router-auto-0.5x", name, &t)); /* trailing junk */
  CHECK(!parse("gpt-4o-mini", name, &t));      /* not a router name */
  CHECK(!parse("router-", name, &t));
  CHECK(!parse("", name, &t));
}

CHECK_MAIN(T(accepted), T(refused))
