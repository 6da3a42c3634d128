/* policy/region: residency lists (parse, narrow, join), the rank of a deployment, and
 * the order levels that carry the ranks into sl_policy_choose. */
#include <errno.h>

#include "check.h"
#include "policy/choose.h"
#include "policy/region.h"

static struct sl_region_list L(const char *text) {
  struct sl_region_list l;
  int rc = sl_policy_region_list_parse(text, strlen(text), &l);
  CHECK(rc == 0);
  return l;
}

static void names(void) {
  CHECK(sl_policy_region_name_ok("eu-west-1", 9));
  CHECK(sl_policy_region_name_ok("us_east.2", 9));
  CHECK(!sl_policy_region_name_ok("", 0));
  CHECK(!sl_policy_region_name_ok("eu west", 7));
  CHECK(!sl_policy_region_name_ok("eu/west", 7));
  CHECK(!sl_policy_region_name_ok("\"eu\"", 4));
  char longname[SL_REGION_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname);
  CHECK(sl_policy_region_name_ok(longname, SL_REGION_NAME_MAX));
  CHECK(!sl_policy_region_name_ok(longname, SL_REGION_NAME_MAX + 1));
}

static void parse(void) {
  struct sl_region_list l = L(" eu-a ,eu-b,\teu-a ");
  CHECK(l.n == 2);
  CHECK_STR(l.name[0], "eu-a");
  CHECK_STR(l.name[1], "eu-b");
  l = L("solo");
  CHECK(l.n == 1 && !strcmp(l.name[0], "solo"));
  const char *bad[] = {"", " ", "a,", ",a", "a,,b", "a b", "a;b", "é"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK(sl_policy_region_list_parse(bad[i], strlen(bad[i]), &l) == -EINVAL);
  CHECK(sl_policy_region_list_parse(NULL, 0, &l) == -EINVAL);
  char many[400] = "";
  for (int i = 0; i <= SL_REGION_LIST_MAX; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%sr%d", i ? "," : "", i);
  CHECK(sl_policy_region_list_parse(many, strlen(many), &l) == -E2BIG);
  /* exactly the maximum is fine */
  *strrchr(many, ',') = 0;
  CHECK(sl_policy_region_list_parse(many, strlen(many), &l) == 0 && l.n == SL_REGION_LIST_MAX);
}

static void narrowing(void) {
  struct sl_region_list key = L("eu-a,eu-b"), none = {0};
  struct sl_region_list sub = L("eu-b"), same = L("eu-b,eu-a"), wider = L("eu-a,us-1"), other = L("us-1");
  CHECK(sl_policy_region_narrow(&key, &sub) == -1);
  CHECK(sl_policy_region_narrow(&key, &same) == -1);
  CHECK(sl_policy_region_narrow(&key, &wider) == 1); /* names the region it may not add */
  CHECK(sl_policy_region_narrow(&key, &other) == 0);
  CHECK(sl_policy_region_narrow(&none, &other) == -1); /* no rule: anything narrows it */
  CHECK(sl_policy_region_narrow(&key, &none) == -1);
}

static void join(void) {
  struct sl_region_list l = L("eu-a,eu-b,eu-c");
  char out[64];
  CHECK(sl_policy_region_list_join(&l, ", ", out, sizeof out) == 16);
  CHECK_STR(out, "eu-a, eu-b, eu-c");
  CHECK(sl_policy_region_list_join(&l, ",", out, 7) == 6);
  CHECK_STR(out, "eu-a,e");
  struct sl_region_list none = {0};
  CHECK(sl_policy_region_list_join(&none, ",", out, sizeof out) == 0 && out[0] == 0);
}

static void ranks(void) {
  struct sl_region_rule r = {.permitted = L("eu-a,eu-b"), .preferred = L("eu-a")};
  CHECK(sl_policy_region_rank(&r, "eu-a") == SL_REGION_PREFERRED);
  CHECK(sl_policy_region_rank(&r, "eu-b") == SL_REGION_PERMITTED);
  CHECK(sl_policy_region_rank(&r, "us-1") == SL_REGION_REFUSED);
  CHECK(sl_policy_region_rank(&r, NULL) == SL_REGION_REFUSED); /* no region: not provably compliant */
  CHECK(sl_policy_region_rank(&r, "") == SL_REGION_REFUSED);
  CHECK(sl_policy_region_rank(&r, "EU-A") == SL_REGION_REFUSED); /* exact names */
  /* a preferred region outside the permitted list is still refused */
  struct sl_region_rule odd = {.permitted = L("eu-b"), .preferred = L("eu-a")};
  CHECK(sl_policy_region_rank(&odd, "eu-a") == SL_REGION_REFUSED);
  CHECK(sl_policy_region_rank(&odd, "eu-b") == SL_REGION_PERMITTED);
  /* preference only: nothing refused, unknown regions are merely not preferred */
  struct sl_region_rule pref = {.preferred = L("eu-a")};
  CHECK(sl_policy_region_rank(&pref, "eu-a") == SL_REGION_PREFERRED);
  CHECK(sl_policy_region_rank(&pref, "us-1") == SL_REGION_PERMITTED);
  CHECK(sl_policy_region_rank(&pref, NULL) == SL_REGION_PERMITTED);
  /* permitted only: no preference, so nothing is "outside preferred" */
  struct sl_region_rule perm = {.permitted = L("eu-a,eu-b")};
  CHECK(sl_policy_region_rank(&perm, "eu-b") == SL_REGION_PREFERRED);
  CHECK(sl_policy_region_rank(&perm, "us-1") == SL_REGION_REFUSED);
  /* empty rule: everything goes */
  struct sl_region_rule empty = {0};
  CHECK(sl_policy_region_rank(&empty, "us-1") == SL_REGION_PREFERRED);
  CHECK(sl_policy_region_rank(&empty, NULL) == SL_REGION_PREFERRED);
}

static void orders(void) {
  CHECK(sl_policy_region_order(SL_REGION_PREFERRED, 0) == 1);
  CHECK(sl_policy_region_order(SL_REGION_PREFERRED, 3) == 3);
  /* every permitted level comes after every preferred one, and keeps its own rank */
  CHECK(sl_policy_region_order(SL_REGION_PERMITTED, 1) > sl_policy_region_order(SL_REGION_PREFERRED, 1000000));
  CHECK(sl_policy_region_order(SL_REGION_PERMITTED, 1) < sl_policy_region_order(SL_REGION_PERMITTED, 2));
  CHECK(sl_policy_region_order(SL_REGION_PERMITTED, 0) == sl_policy_region_order(SL_REGION_PERMITTED, 1));
  CHECK(sl_policy_region_order(SL_REGION_PERMITTED, 2147483647) > 0); /* no overflow */
  CHECK(sl_policy_region_order(SL_REGION_PREFERRED, 2147483647) < sl_policy_region_order(SL_REGION_PERMITTED, 1));
}

/* The ranks as the deployment choice sees them: preferred first, then other permitted,
 * refused never, whatever the strategy and the luck. */
static void with_choose(void) {
  struct sl_region_rule r = {.permitted = L("eu-a,eu-b"), .preferred = L("eu-a")};
  const char *regions[4] = {"us-1", "eu-b", "eu-a", NULL};
  uint64_t rng = 42;
  for (int round = 0; round < 200; round++) {
    struct sl_candidate c[4] = {0};
    for (int i = 0; i < 4; i++) {
      enum sl_region_rank k = sl_policy_region_rank(&r, regions[i]);
      c[i].excluded = k == SL_REGION_REFUSED;
      c[i].order = sl_policy_region_order(k, 0);
    }
    struct sl_choice ch = sl_policy_choose(SL_STRAT_SHUFFLE, c, 4, 1000, 0, 0, &rng);
    CHECK(ch.index == 2); /* eu-a */
    c[2].cooldown_until_ms = 5000; /* eu-a cools: eu-b */
    ch = sl_policy_choose(SL_STRAT_LATENCY, c, 4, 1000, 0, 0, &rng);
    CHECK(ch.index == 1);
    c[1].excluded = true; /* eu-b tried too: nobody (us-1 is refused) */
    ch = sl_policy_choose(SL_STRAT_LEAST_BUSY, c, 4, 1000, 0, 0, &rng);
    CHECK(ch.index == -1);
  }
}

CHECK_MAIN(T(names), T(parse), T(narrowing), T(join), T(ranks), T(orders), T(with_choose))
