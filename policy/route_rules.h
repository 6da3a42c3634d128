/* Rule-based routing (the "rules" router): ordered rules over request metadata, each with
 * conditions that must all hold and a target; the first rule that matches wins. Pure: the
 * caller hands the request's facts as numbers and a lookup callback for its strings
 * (headers, body metadata, tags, the key's alias / tags / team / tier, ...), so a decision
 * is a walk over the rules with no allocation.
 * A string condition holds when any of the request's values for the field equals any of the
 * condition's values ("*" holds whenever the field has a value). To add a field: an enum
 * value here, its name in route_rules.c's table, and the caller's lookup answers it. */
#ifndef SL_POLICY_ROUTE_RULES_H
#define SL_POLICY_ROUTE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_rule_field {
  SL_RF_HEADER,     /* a request header (name: the header, case-insensitive) */
  SL_RF_METADATA,   /* body metadata.<name> (a string, number or bool, as text) */
  SL_RF_TAGS,       /* body tags / metadata.tags (LiteLLM's tag routing) */
  SL_RF_KEY_ALIAS,  /* the virtual key's key_alias */
  SL_RF_KEY_TAGS,   /* the virtual key's tags */
  SL_RF_TEAM,       /* the virtual key's team_id */
  SL_RF_TIER,       /* the virtual key's metadata.tier */
  SL_RF_USER,       /* body user (else the key's user_id) */
  SL_RF_MODEL,      /* the model name the client sent */
  SL_RF_REGION,     /* the request's preferred regions */
  SL_RF_MIN_TOKENS, /* estimated prompt tokens >= num */
  SL_RF_MAX_TOKENS, /* estimated prompt tokens <= num */
  SL_RF_TOOLS,      /* tools present == flag */
  SL_RF_STREAM,     /* stream == flag */
  SL_RF_FIELDS
};

struct sl_rule_cond {
  enum sl_rule_field field;
  const char *name;           /* SL_RF_HEADER, SL_RF_METADATA: which one */
  const char *const *values;  /* string fields: any of these */
  size_t nvalues;
  int64_t num;                /* token bounds */
  bool flag;                  /* tools, stream */
};

struct sl_rule {
  const char *name;
  const struct sl_rule_cond *conds;
  size_t nconds;              /* 0: always holds (a catch-all) */
  size_t target;              /* the caller's index of the target */
};

/* A string value of the request, as a slice. */
struct sl_rule_str {
  const char *p;
  size_t n;
};

/* The request's facts. lookup writes up to max values of a string field (name for headers
 * and metadata) and returns how many it wrote. */
struct sl_rule_facts {
  int64_t prompt_tokens;
  bool tools, stream;
  size_t (*lookup)(void *ud, enum sl_rule_field f, const char *name, struct sl_rule_str *out, size_t max);
  void *ud;
};

/* The index in rules of the first rule that holds, or -1. */
long sl_rules_match(const struct sl_rule *rules, size_t n, const struct sl_rule_facts *f);
bool sl_rule_holds(const struct sl_rule *r, const struct sl_rule_facts *f);

/* The field a config key names ("header", "metadata", "tags", "key_alias", "key_tags",
 * "team", "tier", "user", "model", "region", "min_prompt_tokens", "max_prompt_tokens",
 * "tools", "stream"), or SL_RF_FIELDS. */
enum sl_rule_field sl_rule_field_parse(const char *name);
const char *sl_rule_field_name(enum sl_rule_field f);
/* What kind of value a field's condition takes: 0 string list, 1 number, 2 bool; 3 for a
 * mapping of name -> string list (header, metadata). */
int sl_rule_field_kind(enum sl_rule_field f);

#endif
