/* The rules router's matching (route_rules.h): first rule whose conditions all hold. To add a
 * field: its row in the table below and its case in cond_holds. */
#include "policy/route_rules.h"

#include <string.h>

static const struct {
  const char *name;
  int kind;
} fields[SL_RF_FIELDS] = {
    [SL_RF_HEADER] = {"header", 3},         [SL_RF_METADATA] = {"metadata", 3},
    [SL_RF_TAGS] = {"tags", 0},             [SL_RF_KEY_ALIAS] = {"key_alias", 0},
    [SL_RF_KEY_TAGS] = {"key_tags", 0},     [SL_RF_TEAM] = {"team", 0},
    [SL_RF_TIER] = {"tier", 0},             [SL_RF_USER] = {"user", 0},
    [SL_RF_MODEL] = {"model", 0},           [SL_RF_REGION] = {"region", 0},
    [SL_RF_MIN_TOKENS] = {"min_prompt_tokens", 1}, [SL_RF_MAX_TOKENS] = {"max_prompt_tokens", 1},
    [SL_RF_TOOLS] = {"tools", 2},           [SL_RF_STREAM] = {"stream", 2},
};

enum sl_rule_field sl_rule_field_parse(const char *name) {
  for (int i = 0; i < SL_RF_FIELDS; i++)
    if (strcmp(fields[i].name, name) == 0) return (enum sl_rule_field)i;
  return SL_RF_FIELDS;
}

const char *sl_rule_field_name(enum sl_rule_field f) { return f < SL_RF_FIELDS ? fields[f].name : "?"; }

int sl_rule_field_kind(enum sl_rule_field f) { return f < SL_RF_FIELDS ? fields[f].kind : -1; }

#define MAX_VALUES 32

static bool strings_hold(const struct sl_rule_cond *c, const struct sl_rule_facts *f) {
  if (!f->lookup) return false;
  struct sl_rule_str got[MAX_VALUES];
  size_t n = f->lookup(f->ud, c->field, c->name, got, MAX_VALUES);
  if (n > MAX_VALUES) n = MAX_VALUES;
  for (size_t i = 0; i < c->nvalues; i++) {
    const char *want = c->values[i];
    if (strcmp(want, "*") == 0 && n) return true;
    size_t wn = strlen(want);
    for (size_t j = 0; j < n; j++)
      if (got[j].n == wn && memcmp(got[j].p, want, wn) == 0) return true;
  }
  return false;
}

static bool cond_holds(const struct sl_rule_cond *c, const struct sl_rule_facts *f) {
  switch (c->field) {
  case SL_RF_MIN_TOKENS: return f->prompt_tokens >= c->num;
  case SL_RF_MAX_TOKENS: return f->prompt_tokens <= c->num;
  case SL_RF_TOOLS: return f->tools == c->flag;
  case SL_RF_STREAM: return f->stream == c->flag;
  case SL_RF_FIELDS: return false;
  default: return strings_hold(c, f);
  }
}

bool sl_rule_holds(const struct sl_rule *r, const struct sl_rule_facts *f) {
  for (size_t i = 0; i < r->nconds; i++)
    if (!cond_holds(&r->conds[i], f)) return false;
  return true;
}

long sl_rules_match(const struct sl_rule *rules, size_t n, const struct sl_rule_facts *f) {
  for (size_t i = 0; i < n; i++)
    if (sl_rule_holds(&rules[i], f)) return (long)i;
  return -1;
}
