/* Data residency: which deployments a request may reach, by the region each deployment
 * runs in. Pure (libc only).
 * The one idea: a rule is two short lists of region names, permitted and preferred, and
 * every candidate deployment gets one rank from its region: PREFERRED (tried first),
 * PERMITTED (tried when no preferred one can serve) or REFUSED (never called: not on a
 * first attempt, a retry, a hedge or a fallback). An empty permitted list permits every
 * region; a deployment without a region is REFUSED by any non-empty permitted list
 * (unknown cannot be shown compliant). An empty preferred list prefers nothing, so no
 * attempt counts as "outside preferred". The rank becomes the candidate's order level
 * for sl_policy_choose (sl_policy_region_order), so choose's own semantics (lowest level
 * first, then the strategy) do the rest.
 * Lists come from keys, the gateway default and requests; a request narrows the list in
 * force, never widens it (sl_policy_region_narrow names what it may not add).
 * To add a source of lists: parse it with sl_policy_region_list_parse / _add (names are
 * 1-64 characters of [A-Za-z0-9._-]) and narrow it against the list in force. */
#ifndef SL_POLICY_REGION_H
#define SL_POLICY_REGION_H

#include <stdbool.h>
#include <stddef.h>

#define SL_REGION_NAME_MAX 64
#define SL_REGION_LIST_MAX 16

struct sl_region_list {
  size_t n;
  char name[SL_REGION_LIST_MAX][SL_REGION_NAME_MAX + 1];
};

struct sl_region_rule {
  struct sl_region_list permitted; /* n == 0: every region is permitted */
  struct sl_region_list preferred; /* n == 0: no preference */
};

enum sl_region_rank { SL_REGION_PREFERRED = 0, SL_REGION_PERMITTED, SL_REGION_REFUSED };

/* Whether s[0..n) is a region name: 1 to SL_REGION_NAME_MAX of [A-Za-z0-9._-]. */
bool sl_policy_region_name_ok(const char *s, size_t n);

/* Adds a name (duplicates are kept once): 0; -EINVAL not a name; -E2BIG the list holds
 * SL_REGION_LIST_MAX names already. */
int sl_policy_region_list_add(struct sl_region_list *l, const char *name, size_t n);

/* Parses "a, b,c" (names separated by commas, blanks around them ignored) into out
 * (emptied first). 0; -EINVAL when a name is empty or malformed (also: an empty text);
 * -E2BIG when more than SL_REGION_LIST_MAX distinct names. */
int sl_policy_region_list_parse(const char *text, size_t n, struct sl_region_list *out);

/* Whether l holds the NUL-terminated name. */
bool sl_policy_region_list_has(const struct sl_region_list *l, const char *name);

/* The index in inner of the first name that outer does not hold, or -1 when inner only
 * narrows outer. An empty outer list (no rule) holds every name. */
int sl_policy_region_narrow(const struct sl_region_list *outer, const struct sl_region_list *inner);

/* The names joined by sep into out (NUL-terminated, cut at cap - 1 bytes); returns the
 * length written. */
size_t sl_policy_region_list_join(const struct sl_region_list *l, const char *sep, char *out, size_t cap);

/* The rank of a deployment in region dep_region (NULL or "": no region) under r. With
 * no preferred list every permitted deployment ranks PREFERRED (nothing is "outside"). */
enum sl_region_rank sl_policy_region_rank(const struct sl_region_rule *r, const char *dep_region);

/* The order level a candidate of rank PREFERRED or PERMITTED gets for sl_policy_choose,
 * from its own order (0 = unset, as 1): preferred ones keep it, permitted ones move
 * behind every preferred one (their own orders still rank them among themselves). */
int sl_policy_region_order(enum sl_region_rank rank, int order);

#endif
