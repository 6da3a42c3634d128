/* A request's data-residency rule (see region.h). The one idea: the rule is resolved once,
 * before any choice, into two small lists on the request; every deployment choice then
 * ranks its candidates by them (policy/region.h) and sl_policy_choose does the rest, so
 * no path (retry, hedge, fallback) can reach a refused region. Requests without any list
 * carry no rule (rq->region NULL) and pay nothing. */
#include "core/region.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "store/keys.h"

#define H_PERMITTED "x-sluice-region-permitted"
#define H_PREFERRED "x-sluice-region-preferred"

static const char *key_label(const struct sl_key_record *k) { return k->key_alias[0] ? k->key_alias : k->display; }

/* One request list from the header or the body; 0 = absent, 1 = read, -1 = refused. */
static int header_list(struct sl_request *rq, const char *name, struct sl_region_list *out, struct sl_refusal *r) {
  const struct sl_header *h = sl_http_header_find(rq->hr->headers, rq->hr->nheaders, name);
  if (!h) return 0;
  int rc = sl_policy_region_list_parse(h->value.p, h->value.n, out);
  if (rc == -E2BIG) {
    sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "Header %s lists more than %d regions", name, SL_REGION_LIST_MAX);
    return -1;
  }
  if (rc) {
    sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
              "Header %s must be a comma-separated list of region names (1 to %d characters of letters, digits, "
              "'-', '_', '.'), e.g. 'eu-west-1,eu-central-1'",
              name, SL_REGION_NAME_MAX);
    return -1;
  }
  return 1;
}

static int body_list(const cJSON *v, const char *name, struct sl_region_list *out, struct sl_refusal *r) {
  out->n = 0;
  if (!v || cJSON_IsNull(v)) return 0;
  bool ok = cJSON_IsArray(v) && v->child;
  for (const cJSON *e = ok ? v->child : NULL; e && ok; e = e->next) {
    int rc = cJSON_IsString(e) ? sl_policy_region_list_add(out, e->valuestring, strlen(e->valuestring)) : -EINVAL;
    if (rc == -E2BIG) {
      sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'sluice.region.%s' lists more than %d regions", name,
                SL_REGION_LIST_MAX);
      return -1;
    }
    ok = rc == 0;
  }
  if (!ok) {
    sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
              "'sluice.region.%s' must be a non-empty list of region names (1 to %d characters of letters, "
              "digits, '-', '_', '.')",
              name, SL_REGION_NAME_MAX);
    return -1;
  }
  return 1;
}

/* The request's body lists (sluice.region.permitted / preferred): 0, or -1 refused. */
static int body_lists(struct sl_request *rq, struct sl_region_list *perm, int *has_perm, struct sl_region_list *pref,
                      int *has_pref, struct sl_refusal *r) {
  *has_perm = *has_pref = 0;
  const cJSON *sl = cJSON_GetObjectItemCaseSensitive(rq->json, "sluice");
  if (!sl || cJSON_IsNull(sl)) return 0;
  if (!cJSON_IsObject(sl)) {
    sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'sluice' must be a JSON object (sluice's own request options)");
    return -1;
  }
  const cJSON *reg = cJSON_GetObjectItemCaseSensitive(sl, "region");
  if (!reg || cJSON_IsNull(reg)) return 0;
  if (!cJSON_IsObject(reg)) {
    sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
              "'sluice.region' must be a JSON object {\"permitted\": [...], \"preferred\": [...]}");
    return -1;
  }
  for (const cJSON *f = reg->child; f; f = f->next)
    if (strcmp(f->string, "permitted") && strcmp(f->string, "preferred")) {
      sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
                "'sluice.region' does not support the field '%.100s' (supported: permitted, preferred)", f->string);
      return -1;
    }
  if ((*has_perm = body_list(cJSON_GetObjectItemCaseSensitive(reg, "permitted"), "permitted", perm, r)) < 0) return -1;
  if ((*has_pref = body_list(cJSON_GetObjectItemCaseSensitive(reg, "preferred"), "preferred", pref, r)) < 0) return -1;
  return 0;
}

/* A list the key stored (comma-joined, checked when it was written). */
static int key_list(const char *stored, struct sl_region_list *out) {
  out->n = 0;
  if (!stored || !stored[0]) return 0;
  return sl_policy_region_list_parse(stored, strlen(stored), out) == 0 ? 1 : -1;
}

/* 403: the request names a region the list in force does not permit. */
static bool widening(struct sl_refusal *r, const char *what, const char *region, const struct sl_region_list *outer,
                     const char *outer_source) {
  char list[SL_REGION_LIST_MAX * (SL_REGION_NAME_MAX + 2) + 1];
  sl_policy_region_list_join(outer, ", ", list, sizeof list);
  return sl_refuse(r, 403, SL_ERR_REGION_NOT_PERMITTED, NULL,
                   "%s region '%s' is not permitted: %s permits only [%.600s]; a request may narrow its permitted "
                   "regions, never widen them",
                   what, region, outer_source, list);
}

bool sl_region_resolve(struct sl_request *rq, struct sl_refusal *r) {
  const struct sl_config *cfg = rq->w->cfg;
  const struct sl_key_record *key = rq->key;
  struct sl_region_rule rule = {0};
  char source[192] = "";
  /* the key's lists, else the gateway's, one list at a time */
  int kp = key ? key_list(key->permitted_regions, &rule.permitted) : 0;
  int kf = key ? key_list(key->preferred_regions, &rule.preferred) : 0;
  if (kp < 0 || kf < 0)
    return sl_refuse(r, 500, SL_ERR_INTERNAL, NULL, "The stored region lists of key '%s' cannot be read",
                     key_label(key));
  if (kp)
    snprintf(source, sizeof source, "key '%.150s' permitted_regions", key_label(key));
  else if (cfg->permitted_regions.n) {
    rule.permitted = cfg->permitted_regions;
    snprintf(source, sizeof source, "general_settings.permitted_regions");
  }
  if (!kf && cfg->preferred_regions.n) rule.preferred = cfg->preferred_regions;

  /* the request's lists: a header or the body, not both */
  struct sl_region_list hp, hf, bp, bf;
  int has_hp = header_list(rq, H_PERMITTED, &hp, r), has_hf = has_hp < 0 ? 0 : header_list(rq, H_PREFERRED, &hf, r);
  if (has_hp < 0 || has_hf < 0) return false;
  int has_bp, has_bf;
  if (body_lists(rq, &bp, &has_bp, &bf, &has_bf, r)) return false;
  if ((has_hp && has_bp) || (has_hf && has_bf))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
                     "The %s regions are given both in the header %s and in the body's sluice.region; give them once",
                     has_hp && has_bp ? "permitted" : "preferred", has_hp && has_bp ? H_PERMITTED : H_PREFERRED);
  const struct sl_region_list *ask_p = has_hp ? &hp : has_bp ? &bp : NULL;
  const struct sl_region_list *ask_f = has_hf ? &hf : has_bf ? &bf : NULL;
  if (ask_p) {
    int bad = sl_policy_region_narrow(&rule.permitted, ask_p);
    if (bad >= 0) return widening(r, "Permitted", ask_p->name[bad], &rule.permitted, source);
    rule.permitted = *ask_p;
    snprintf(source, sizeof source, "%s",
             has_hp ? "request header " H_PERMITTED : "request body sluice.region.permitted");
  }
  if (ask_f) {
    int bad = sl_policy_region_narrow(&rule.permitted, ask_f);
    if (bad >= 0) return widening(r, "Preferred", ask_f->name[bad], &rule.permitted, source);
    rule.preferred = *ask_f;
  }
  if (rule.permitted.n) { /* a preferred region that is not permitted prefers nothing */
    struct sl_region_list kept = {0};
    for (size_t i = 0; i < rule.preferred.n; i++)
      if (sl_policy_region_list_has(&rule.permitted, rule.preferred.name[i]))
        sl_policy_region_list_add(&kept, rule.preferred.name[i], strlen(rule.preferred.name[i]));
    rule.preferred = kept;
  }
  if (!rule.permitted.n && !rule.preferred.n) return true; /* no rule */
  struct sl_request_region *rr = sl_arena_calloc(rq->arena, sizeof *rr);
  if (!rr) return sl_refuse(r, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  rr->rule = rule;
  memcpy(rr->source, source, sizeof rr->source);
  rq->region = rr;
  return true;
}

enum sl_region_rank sl_region_rank_of(const struct sl_request *rq, size_t dep) {
  if (!rq->region) return SL_REGION_PREFERRED;
  return sl_policy_region_rank(&rq->region->rule, rq->w->cfg->plan->deps[dep].region);
}

void sl_region_apply(struct sl_request *rq, const struct sl_group *g, struct sl_candidate *c) {
  struct sl_request_region *rr = rq->region;
  if (!rr) return;
  for (size_t i = 0; i < g->n; i++) {
    enum sl_region_rank k = sl_region_rank_of(rq, g->deps[i]);
    if (k == SL_REGION_REFUSED) {
      c[i].excluded = true;
      rr->refused_any = true;
      continue;
    }
    rr->permitted_any = true;
    c[i].order = sl_policy_region_order(k, c[i].order);
  }
}

bool sl_region_blocked(const struct sl_request *rq) { return rq->region && rq->region->refused_any; }

void sl_region_unavailable_msg(const struct sl_request *rq, char *out, size_t cap) {
  const struct sl_request_region *rr = rq->region;
  char list[SL_REGION_LIST_MAX * (SL_REGION_NAME_MAX + 2) + 1];
  sl_policy_region_list_join(&rr->rule.permitted, ", ", list, sizeof list);
  snprintf(out, cap, "No deployment of model group '%.200s'%s in the permitted regions [%.600s] (%s) is available: %s",
           rq->group ? rq->group->name : "", rq->nfallbacks ? " or its fallbacks" : "", list, rr->source,
           rr->permitted_any ? "the permitted ones failed, are cooling down or are at their limits"
                             : "none is in those regions");
}
