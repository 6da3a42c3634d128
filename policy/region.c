/* Data residency arithmetic (see region.h): region names, lists, narrowing and the rank
 * of a deployment. The one idea: a region is an opaque name, compared exactly; the
 * policy is three ranks, and order levels carry them into the deployment choice. */
#include "policy/region.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Preferred candidates keep their order level (at most this), permitted ones get
 * level + this: every preferred level comes first. */
#define PERMITTED_SHIFT (1 << 24)

bool sl_policy_region_name_ok(const char *s, size_t n) {
  if (!s || n == 0 || n > SL_REGION_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

static bool has_n(const struct sl_region_list *l, const char *name, size_t n) {
  for (size_t i = 0; i < l->n; i++)
    if (strlen(l->name[i]) == n && memcmp(l->name[i], name, n) == 0) return true;
  return false;
}

int sl_policy_region_list_add(struct sl_region_list *l, const char *name, size_t n) {
  if (!sl_policy_region_name_ok(name, n)) return -EINVAL;
  if (has_n(l, name, n)) return 0;
  if (l->n >= SL_REGION_LIST_MAX) return -E2BIG;
  memcpy(l->name[l->n], name, n);
  l->name[l->n][n] = 0;
  l->n++;
  return 0;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

int sl_policy_region_list_parse(const char *text, size_t n, struct sl_region_list *out) {
  out->n = 0;
  if (!text) return -EINVAL;
  size_t i = 0;
  for (;;) {
    size_t a = i;
    while (a < n && text[a] != ',') a++;
    size_t s = i, e = a; /* [s, e) trimmed */
    while (s < e && blank(text[s])) s++;
    while (e > s && blank(text[e - 1])) e--;
    int rc = sl_policy_region_list_add(out, text + s, e - s);
    if (rc) return rc;
    if (a >= n) return 0;
    i = a + 1;
  }
}

bool sl_policy_region_list_has(const struct sl_region_list *l, const char *name) {
  return name && has_n(l, name, strlen(name));
}

int sl_policy_region_narrow(const struct sl_region_list *outer, const struct sl_region_list *inner) {
  if (outer->n == 0) return -1;
  for (size_t i = 0; i < inner->n; i++)
    if (!sl_policy_region_list_has(outer, inner->name[i])) return (int)i;
  return -1;
}

size_t sl_policy_region_list_join(const struct sl_region_list *l, const char *sep, char *out, size_t cap) {
  if (cap == 0) return 0;
  size_t k = 0, sn = strlen(sep);
  out[0] = 0;
  for (size_t i = 0; i < l->n; i++) {
    const char *parts[2] = {i ? sep : "", l->name[i]};
    size_t lens[2] = {i ? sn : 0, strlen(l->name[i])};
    for (int j = 0; j < 2; j++) {
      size_t m = lens[j] < cap - 1 - k ? lens[j] : cap - 1 - k;
      memcpy(out + k, parts[j], m);
      k += m;
    }
  }
  out[k] = 0;
  return k;
}

enum sl_region_rank sl_policy_region_rank(const struct sl_region_rule *r, const char *dep_region) {
  bool known = dep_region && dep_region[0];
  if (r->permitted.n && (!known || !sl_policy_region_list_has(&r->permitted, dep_region))) return SL_REGION_REFUSED;
  if (r->preferred.n && known && sl_policy_region_list_has(&r->preferred, dep_region)) return SL_REGION_PREFERRED;
  return r->preferred.n ? SL_REGION_PERMITTED : SL_REGION_PREFERRED;
}

int sl_policy_region_order(enum sl_region_rank rank, int order) {
  int level = order <= 0 ? 1 : order;
  if (level > PERMITTED_SHIFT) level = PERMITTED_SHIFT;
  return rank == SL_REGION_PERMITTED ? level + PERMITTED_SHIFT : level;
}
