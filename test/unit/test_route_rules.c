/* policy/route_rules: the rules router's matching, by hand. A fake request is a table of
 * (field, name, value) rows answered by the lookup callback; each case says which rule
 * must win: first match wins, every condition of a rule must hold, a rule without
 * conditions always holds, "*" holds when the field has any value (never when it has
 * none), any-of values, several values per field (tags), numbers and booleans as text,
 * header names case-insensitive (the caller's job: the fake does it like router.c),
 * token bounds inclusive, tools and stream flags, no rule -> -1, and the field table. */
#include <stdint.h>
#include <strings.h>

#include "check.h"
#include "policy/route_rules.h"

struct row {
  enum sl_rule_field f;
  const char *name; /* header / metadata name, else NULL */
  const char *value;
};

struct fake {
  const struct row *rows;
  size_t n;
  int calls;
};

static size_t fake_lookup(void *ud, enum sl_rule_field f, const char *name, struct sl_rule_str *out, size_t max) {
  struct fake *k = ud;
  size_t n = 0;
  k->calls++;
  for (size_t i = 0; i < k->n; i++) {
    const struct row *r = &k->rows[i];
    if (r->f != f) continue;
    if (r->name && (!name || strcasecmp(r->name, name) != 0)) continue;
    if (n < max) out[n] = (struct sl_rule_str){r->value, strlen(r->value)};
    n++;
  }
  return n;
}

static struct sl_rule_facts facts(struct fake *k, int64_t tokens, bool tools, bool stream) {
  return (struct sl_rule_facts){
      .prompt_tokens = tokens, .tools = tools, .stream = stream, .lookup = fake_lookup, .ud = k};
}

#define VALS(...) ((const char *const[]){__VA_ARGS__})
#define NV(...)   (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define SCOND(fld, nm, ...)                                                                                            \
  { .field = fld, .name = nm, .values = VALS(__VA_ARGS__), .nvalues = NV(__VA_ARGS__) }

static void first_match_wins(void) {
  const struct sl_rule_cond gold[] = {SCOND(SL_RF_KEY_ALIAS, NULL, "gold")};
  const struct sl_rule_cond any_alias[] = {SCOND(SL_RF_KEY_ALIAS, NULL, "*")};
  const struct sl_rule rules[] = {
      {"gold", gold, 1, 0},
      {"any", any_alias, 1, 1},
      {"all", NULL, 0, 2},
  };
  const struct row gold_req[] = {{SL_RF_KEY_ALIAS, NULL, "gold"}};
  struct fake k = {gold_req, 1, 0};
  struct sl_rule_facts f = facts(&k, 10, false, false);
  CHECK(sl_rules_match(rules, 3, &f) == 0);
  /* the same request against the rules in another order: the first that holds */
  const struct sl_rule rev[] = {rules[1], rules[0], rules[2]};
  CHECK(sl_rules_match(rev, 3, &f) == 0); /* "any" is first now and holds */
  CHECK(rev[0].target == 1);
  const struct row silver[] = {{SL_RF_KEY_ALIAS, NULL, "silver"}};
  k = (struct fake){silver, 1, 0};
  CHECK(sl_rules_match(rules, 3, &f) == 1);
  /* no alias at all: "*" does not hold, the catch-all does */
  k = (struct fake){NULL, 0, 0};
  CHECK(sl_rules_match(rules, 3, &f) == 2);
  CHECK(sl_rules_match(rules, 2, &f) == -1);
  CHECK(sl_rules_match(rules, 0, &f) == -1);
  /* a rule without conditions holds even without a lookup */
  struct sl_rule_facts nolookup = {.prompt_tokens = 0};
  CHECK(sl_rules_match(&rules[2], 1, &nolookup) == 0);
  CHECK(sl_rules_match(rules, 2, &nolookup) == -1); /* string fields cannot hold without one */
}

static void all_conditions_must_hold(void) {
  const struct sl_rule_cond conds[] = {
      SCOND(SL_RF_HEADER, "x-tier", "premium"),
      SCOND(SL_RF_TAGS, NULL, "urgent"),
      {.field = SL_RF_MIN_TOKENS, .num = 100},
  };
  const struct sl_rule r = {"three", conds, 3, 0};
  const struct row all[] = {
      {SL_RF_HEADER, "X-Tier", "premium"}, {SL_RF_TAGS, NULL, "batch"}, {SL_RF_TAGS, NULL, "urgent"}};
  struct fake k = {all, 3, 0};
  struct sl_rule_facts f = facts(&k, 100, false, false);
  CHECK(sl_rule_holds(&r, &f));
  f.prompt_tokens = 99; /* one condition fails: the rule does not hold */
  CHECK(!sl_rule_holds(&r, &f));
  f.prompt_tokens = 5000;
  k.n = 2; /* without the "urgent" tag */
  CHECK(!sl_rule_holds(&r, &f));
  const struct row wrong_header[] = {{SL_RF_HEADER, "x-tier", "basic"}, {SL_RF_TAGS, NULL, "urgent"}};
  k = (struct fake){wrong_header, 2, 0};
  CHECK(!sl_rule_holds(&r, &f));
  /* a header of another name does not count */
  const struct row other_header[] = {{SL_RF_HEADER, "x-other", "premium"}, {SL_RF_TAGS, NULL, "urgent"}};
  k = (struct fake){other_header, 2, 0};
  CHECK(!sl_rule_holds(&r, &f));
}

static void star_and_any_of(void) {
  const struct sl_rule_cond star[] = {SCOND(SL_RF_METADATA, "project", "*")};
  const struct sl_rule_cond anyof[] = {SCOND(SL_RF_TEAM, NULL, "ml", "search", "ads")};
  const struct sl_rule rules[] = {{"star", star, 1, 0}, {"anyof", anyof, 1, 1}};
  const struct row proj[] = {{SL_RF_METADATA, "project", "x"}};
  struct fake k = {proj, 1, 0};
  struct sl_rule_facts f = facts(&k, 0, false, false);
  CHECK(sl_rules_match(rules, 2, &f) == 0);
  /* an empty string is still a value */
  const struct row empty[] = {{SL_RF_METADATA, "project", ""}};
  k = (struct fake){empty, 1, 0};
  CHECK(sl_rules_match(rules, 2, &f) == 0);
  /* another metadata name is not "project" */
  const struct row other[] = {{SL_RF_METADATA, "team", "x"}, {SL_RF_TEAM, NULL, "search"}};
  k = (struct fake){other, 2, 0};
  CHECK(sl_rules_match(rules, 2, &f) == 1);
  const struct row nope[] = {{SL_RF_TEAM, NULL, "searc"}, {SL_RF_TEAM, NULL, "searchy"}};
  k = (struct fake){nope, 2, 0};
  CHECK(sl_rules_match(rules, 2, &f) == -1);
  /* values are compared exactly (case matters, no prefix match) */
  const struct row upper[] = {{SL_RF_TEAM, NULL, "ML"}};
  k = (struct fake){upper, 1, 0};
  CHECK(sl_rules_match(rules, 2, &f) == -1);
  /* "*" among other values */
  const struct sl_rule_cond mixed[] = {SCOND(SL_RF_USER, NULL, "alice", "*")};
  const struct sl_rule m = {"mixed", mixed, 1, 0};
  const struct row bob[] = {{SL_RF_USER, NULL, "bob"}};
  k = (struct fake){bob, 1, 0};
  CHECK(sl_rule_holds(&m, &f));
  k = (struct fake){NULL, 0, 0};
  CHECK(!sl_rule_holds(&m, &f));
}

static void numbers_and_bools_as_text(void) {
  /* metadata values the caller wrote as text (router.c: %.17g, true/false) match the
   * config's scalars as written */
  const struct sl_rule_cond prio[] = {SCOND(SL_RF_METADATA, "priority", "1")};
  const struct sl_rule_cond vip[] = {SCOND(SL_RF_METADATA, "vip", "true")};
  const struct sl_rule rules[] = {{"prio", prio, 1, 0}, {"vip", vip, 1, 1}};
  const struct row one[] = {{SL_RF_METADATA, "priority", "1"}};
  struct fake k = {one, 1, 0};
  struct sl_rule_facts f = facts(&k, 0, false, false);
  CHECK(sl_rules_match(rules, 2, &f) == 0);
  const struct row onepointfive[] = {{SL_RF_METADATA, "priority", "1.5"}, {SL_RF_METADATA, "vip", "true"}};
  k = (struct fake){onepointfive, 2, 0};
  CHECK(sl_rules_match(rules, 2, &f) == 1);
  const struct row notvip[] = {{SL_RF_METADATA, "vip", "false"}};
  k = (struct fake){notvip, 1, 0};
  CHECK(sl_rules_match(rules, 2, &f) == -1);
}

static void token_bounds_inclusive(void) {
  const struct sl_rule_cond big[] = {{.field = SL_RF_MIN_TOKENS, .num = 1000}};
  const struct sl_rule_cond small[] = {{.field = SL_RF_MAX_TOKENS, .num = 50}};
  const struct sl_rule_cond band[] = {{.field = SL_RF_MIN_TOKENS, .num = 51}, {.field = SL_RF_MAX_TOKENS, .num = 999}};
  const struct sl_rule rules[] = {{"big", big, 1, 0}, {"small", small, 1, 1}, {"band", band, 2, 2}};
  struct sl_rule_facts f = {.prompt_tokens = 1000};
  CHECK(sl_rules_match(rules, 3, &f) == 0);
  f.prompt_tokens = 999;
  CHECK(sl_rules_match(rules, 3, &f) == 2);
  f.prompt_tokens = 51;
  CHECK(sl_rules_match(rules, 3, &f) == 2);
  f.prompt_tokens = 50;
  CHECK(sl_rules_match(rules, 3, &f) == 1);
  f.prompt_tokens = 0;
  CHECK(sl_rules_match(rules, 3, &f) == 1);
  CHECK(sl_rules_match(rules, 1, &f) == -1);
}

static void tools_and_stream(void) {
  const struct sl_rule_cond tools[] = {{.field = SL_RF_TOOLS, .flag = true}};
  const struct sl_rule_cond nostream[] = {{.field = SL_RF_STREAM, .flag = false}};
  const struct sl_rule rules[] = {{"tools", tools, 1, 0}, {"batch", nostream, 1, 1}};
  struct sl_rule_facts f = {.tools = true, .stream = true};
  CHECK(sl_rules_match(rules, 2, &f) == 0);
  f.tools = false;
  CHECK(sl_rules_match(rules, 2, &f) == -1);
  f.stream = false;
  CHECK(sl_rules_match(rules, 2, &f) == 1);
  f.tools = true;
  CHECK(sl_rules_match(rules, 2, &f) == 0);
}

/* The lookup is asked only for conditions that are reached: a failing first condition
 * spares the rest (the caller parses the key's JSON labels lazily). */
static void lookup_only_when_needed(void) {
  const struct sl_rule_cond conds[] = {{.field = SL_RF_MIN_TOKENS, .num = 10}, SCOND(SL_RF_KEY_TAGS, NULL, "a")};
  const struct sl_rule r = {"lazy", conds, 2, 0};
  struct fake k = {NULL, 0, 0};
  struct sl_rule_facts f = facts(&k, 5, false, false);
  CHECK(!sl_rule_holds(&r, &f) && k.calls == 0);
  f.prompt_tokens = 10;
  CHECK(!sl_rule_holds(&r, &f) && k.calls == 1);
}

/* More values than the matcher reads at once (32): the ones it read still match, the rest
 * are ignored rather than overrunning. */
static void many_values(void) {
  static char vals[40][8];
  struct row rows[40];
  for (int i = 0; i < 40; i++) {
    snprintf(vals[i], sizeof vals[i], "t%d", i);
    rows[i] = (struct row){SL_RF_TAGS, NULL, vals[i]};
  }
  const struct sl_rule_cond early[] = {SCOND(SL_RF_TAGS, NULL, "t31")};
  const struct sl_rule_cond star[] = {SCOND(SL_RF_TAGS, NULL, "*")};
  struct fake k = {rows, 40, 0};
  struct sl_rule_facts f = facts(&k, 0, false, false);
  const struct sl_rule r1 = {"early", early, 1, 0}, r2 = {"star", star, 1, 0};
  CHECK(sl_rule_holds(&r1, &f));
  CHECK(sl_rule_holds(&r2, &f));
}

static void field_table(void) {
  static const char *const names[] = {
      "header", "metadata", "tags",   "key_alias",         "key_tags",          "team",  "tier",
      "user",   "model",    "region", "min_prompt_tokens", "max_prompt_tokens", "tools", "stream"};
  CHECK(sizeof names / sizeof *names == SL_RF_FIELDS);
  for (int i = 0; i < SL_RF_FIELDS; i++) {
    enum sl_rule_field f = sl_rule_field_parse(names[i]);
    CHECK(f == (enum sl_rule_field)i);
    CHECK_STR(sl_rule_field_name(f), names[i]);
  }
  CHECK(sl_rule_field_parse("Header") == SL_RF_FIELDS);
  CHECK(sl_rule_field_parse("") == SL_RF_FIELDS);
  CHECK(sl_rule_field_parse("prompt_tokens") == SL_RF_FIELDS);
  CHECK_STR(sl_rule_field_name(SL_RF_FIELDS), "?");
  CHECK(sl_rule_field_kind(SL_RF_HEADER) == 3 && sl_rule_field_kind(SL_RF_METADATA) == 3);
  CHECK(sl_rule_field_kind(SL_RF_TAGS) == 0 && sl_rule_field_kind(SL_RF_REGION) == 0);
  CHECK(sl_rule_field_kind(SL_RF_MIN_TOKENS) == 1 && sl_rule_field_kind(SL_RF_MAX_TOKENS) == 1);
  CHECK(sl_rule_field_kind(SL_RF_TOOLS) == 2 && sl_rule_field_kind(SL_RF_STREAM) == 2);
  CHECK(sl_rule_field_kind(SL_RF_FIELDS) == -1);
  /* a condition on the sentinel never holds */
  const struct sl_rule_cond bad[] = {{.field = SL_RF_FIELDS}};
  const struct sl_rule r = {"bad", bad, 1, 0};
  struct sl_rule_facts f = {0};
  CHECK(!sl_rule_holds(&r, &f));
}

CHECK_MAIN(T(first_match_wins), T(all_conditions_must_hold), T(star_and_any_of), T(numbers_and_bools_as_text),
           T(token_bounds_inclusive), T(tools_and_stream), T(lookup_only_when_needed), T(many_values), T(field_table))
