/* The virtual-key routes of the admin API, LiteLLM's paths and shapes: /key/generate,
 * /key/info, /key/update, /key/delete, /key/list. The one idea: the loop thread turns
 * the request into a fully checked job (every bad field is a 400 that names it, before
 * anything is written), and a pool thread only runs store calls and builds the answer.
 *
 * Shapes (money in USD with six decimals; times ISO 8601 UTC; limits null when unset):
 *   info object: {"token":"<sha256 hex>","key_alias":s|null,"key_name":"sk-ab...wxyz",
 *     "spend":n,"max_budget":n|null,"models":[...],"rpm_limit":n|null,"tpm_limit":n|null,
 *     "expires":t|null,"budget_duration":"30d"|null,"budget_reset_at":t|null,
 *     "metadata":{...},"created_at":t,"updated_at":t,"blocked":b,"aliases":{...},
 *     "team_id":s|null,"user_id":s|null,"tags":[...]|null,"max_parallel_requests":n|null,
 *     "soft_budget":n|null,"permitted_regions":[...]|null,"preferred_regions":[...]|null}
 *   POST /key/generate -> {"key":"sk-...", ...info object}
 *   GET  /key/info?key=sk-...|<hash> -> {"key":"<hash>","info":{...}} (a virtual key may
 *        ask for itself, with or without ?key=)
 *   POST /key/update {"key":..., fields} -> {"key":"<as given>", ...info object} (flat)
 *   POST /key/block|unblock {"key":...} -> {...info object} (flat, "blocked" changed)
 *   POST /key/delete {"keys":[...], "key_aliases":[...]} -> {"deleted_keys":[...]}
 *   GET  /key/list[?return_full_object=true&key_alias=&page=&size=]
 *        -> {"keys":[hash|info...],"total_count":n,"current_page":p,"total_pages":t} */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin_internal.h"
#include "core/cluster_keys.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "policy/duration.h"
#include "policy/region.h"
#include "core/tenancy.h"
#include "store/keys.h"
#include "store/spend.h"

/* ---- the fields of /key/generate and /key/update ---- */

struct key_in {
  struct sl_key_params p; /* points into the members below */
  char *alias, *metadata, *secret, *aliases, *team_id, *user_id, *tags;
  char permitted[SL_KEY_REGIONS_MAX + 1], preferred[SL_KEY_REGIONS_MAX + 1]; /* comma-joined */
  bool has_permitted, has_preferred;
  struct sl_region_list permitted_l, preferred_l;
  char **models;
  size_t nmodels;
};

static void key_in_free(struct key_in *k) {
  free(k->alias);
  free(k->metadata);
  free(k->secret);
  free(k->aliases);
  free(k->team_id);
  free(k->user_id);
  free(k->tags);
  for (size_t i = 0; i < k->nmodels; i++) free(k->models[i]);
  free(k->models);
  memset(k, 0, sizeof *k);
}

/* A member sluice does not know is accepted when it carries nothing (null, false, "",
 * {}, []): LiteLLM's clients send such defaults. Anything else is refused, so that a
 * setting (team_id, aliases, ...) is never silently dropped. */
static bool carries_nothing(const cJSON *v) {
  if (cJSON_IsNull(v) || cJSON_IsFalse(v)) return true;
  if (cJSON_IsString(v)) return !v->valuestring[0];
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) return v->child == NULL;
  return false;
}

static bool nonneg_int(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d)) return false;
  *out = (int64_t)d;
  return true;
}

/* Duration fields: a string such as "30d", "12h", "15m", "45s". */
static int64_t duration_of(const cJSON *v) {
  if (!cJSON_IsString(v)) return -1;
  int64_t d;
  if (sl_policy_duration_parse_s(v->valuestring, &d)) return -1; /* the one parser: policy/duration.h */
  return d < (int64_t)100 * 365 * 86400 ? d : -1;
}

static bool secret_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 4 || n >= SL_KEY_SECRET_MAX || strncmp(s, "sk-", 3) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return false;
  return true;
}

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

#define BAD(...)                                                                   \
  do {                                                                             \
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, __VA_ARGS__);   \
    return -1;                                                                     \
  } while (0)

/* Reads the fields of obj into in (update: only those present and not null change;
 * the member "key" is the key to change and is skipped here). 0, or -1 after a 400. */
static int parse_fields(struct sl_request *rq, const cJSON *obj, bool update, struct key_in *in) {
  const char *route = update ? "/key/update" : "/key/generate";
  struct sl_key_params *p = &in->p;
  int64_t now = (int64_t)time(NULL);
  for (const cJSON *f = obj->child; f; f = f->next) {
    const char *n = f->string;
    bool null = cJSON_IsNull(f);
    if (!strcmp(n, "key")) {
      if (update || null) continue;
      if (!cJSON_IsString(f) || !secret_ok(f->valuestring))
        BAD("'key' must be a string that starts with \"sk-\", 4 to %d printable characters without spaces",
            SL_KEY_SECRET_MAX - 1);
      if (!(in->secret = strdup(f->valuestring))) BAD("Out of memory");
      p->secret = in->secret;
    } else if (!strcmp(n, "models")) {
      if (null) continue;
      if (!cJSON_IsArray(f)) BAD("'models' must be a list of model group names");
      size_t k = (size_t)cJSON_GetArraySize(f);
      if (k > SL_KEY_MODELS_MAX) BAD("'models' lists more than %d names", SL_KEY_MODELS_MAX);
      in->models = calloc(k ? k : 1, sizeof *in->models);
      if (!in->models) BAD("Out of memory");
      for (const cJSON *m = f->child; m; m = m->next) {
        if (!cJSON_IsString(m) || !m->valuestring[0] || strlen(m->valuestring) > SL_KEY_MODEL_NAME_MAX)
          BAD("'models' must hold non-empty strings of at most %d characters", SL_KEY_MODEL_NAME_MAX);
        if (!(in->models[in->nmodels] = strdup(m->valuestring))) BAD("Out of memory");
        in->nmodels++;
      }
      p->models = (const char *const *)in->models;
      p->nmodels = in->nmodels;
      p->set |= SL_KEY_SET_MODELS;
    } else if (!strcmp(n, "rpm_limit") || !strcmp(n, "tpm_limit")) {
      if (null) continue;
      int64_t v;
      if (!nonneg_int(f, &v)) BAD("'%s' must be a non-negative integer (requests or tokens per minute; 0 = none)", n);
      if (n[0] == 'r') p->rpm_limit = v, p->set |= SL_KEY_SET_RPM;
      else p->tpm_limit = v, p->set |= SL_KEY_SET_TPM;
    } else if (!strcmp(n, "max_budget")) {
      if (null) continue;
      if (!cJSON_IsNumber(f) || !(f->valuedouble >= 0) || !isfinite(f->valuedouble) || f->valuedouble > 1e12)
        BAD("'max_budget' must be a non-negative number of USD (0 = none)");
      p->max_budget = f->valuedouble;
      p->set |= SL_KEY_SET_MAX_BUDGET;
    } else if (!strcmp(n, "budget_duration")) {
      if (null) continue;
      int64_t d = duration_of(f);
      if (d < 0) BAD("'budget_duration' must be a duration such as \"30d\", \"12h\", \"15m\" or \"45s\"");
      p->budget_duration_s = d;
      p->set |= SL_KEY_SET_BUDGET_DURATION;
    } else if (!strcmp(n, "duration")) {
      if (null) continue;
      if (cJSON_IsString(f) && (!strcmp(f->valuestring, "permanent") || !strcmp(f->valuestring, "-1"))) {
        p->expires_at = 0;
      } else {
        int64_t d = duration_of(f);
        if (d < 0)
          BAD("'duration' (the key's lifetime) must be a duration such as \"30d\", \"1h\" or \"45s\", or \"-1\" "
            "(never expires)");
        p->expires_at = now + d;
      }
      p->set |= SL_KEY_SET_EXPIRES_AT;
    } else if (!strcmp(n, "key_alias")) {
      if (null) continue;
      if (!cJSON_IsString(f) || strlen(f->valuestring) > SL_KEY_ALIAS_MAX)
        BAD("'key_alias' must be a string of at most %d characters", SL_KEY_ALIAS_MAX);
      in->alias = dup_or_null(f->valuestring);
      p->key_alias = in->alias;
      p->set |= SL_KEY_SET_ALIAS;
    } else if (!strcmp(n, "metadata")) {
      if (null) continue;
      if (!cJSON_IsObject(f)) BAD("'metadata' must be a JSON object");
      if (!(in->metadata = cJSON_PrintUnformatted(f))) BAD("Out of memory");
      if (strlen(in->metadata) > SL_KEY_METADATA_MAX) BAD("'metadata' is larger than %d bytes", SL_KEY_METADATA_MAX);
      p->metadata = in->metadata;
      p->set |= SL_KEY_SET_METADATA;
    } else if (!strcmp(n, "aliases")) {
      if (null) continue;
      if (!cJSON_IsObject(f)) BAD("'aliases' must be a JSON object of {\"alias\": \"model group\"}");
      for (const cJSON *a = f->child; a; a = a->next)
        if (!cJSON_IsString(a) || !a->valuestring[0] || !a->string[0])
          BAD("'aliases' must map names to model group names (non-empty strings)");
      if (!(in->aliases = cJSON_PrintUnformatted(f))) BAD("Out of memory");
      if (strlen(in->aliases) > SL_KEY_METADATA_MAX) BAD("'aliases' is larger than %d bytes", SL_KEY_METADATA_MAX);
      p->aliases = f->child ? in->aliases : NULL;
      p->set |= SL_KEY_SET_ALIASES;
    } else if (!strcmp(n, "team_id") || !strcmp(n, "user_id")) {
      if (null) continue;
      if (!cJSON_IsString(f) || strlen(f->valuestring) > SL_KEY_LABEL_MAX)
        BAD("'%s' must be a string of at most %d characters", n, SL_KEY_LABEL_MAX);
      char *v = dup_or_null(f->valuestring);
      if (n[0] == 't') in->team_id = v, p->team_id = v, p->set |= SL_KEY_SET_TEAM_ID;
      else in->user_id = v, p->user_id = v, p->set |= SL_KEY_SET_USER_ID;
    } else if (!strcmp(n, "tags")) {
      if (null) continue;
      if (!cJSON_IsArray(f)) BAD("'tags' must be a list of strings");
      for (const cJSON *t = f->child; t; t = t->next)
        if (!cJSON_IsString(t)) BAD("'tags' must be a list of strings");
      if (!(in->tags = cJSON_PrintUnformatted(f))) BAD("Out of memory");
      if (strlen(in->tags) > SL_KEY_METADATA_MAX) BAD("'tags' is larger than %d bytes", SL_KEY_METADATA_MAX);
      p->tags = f->child ? in->tags : NULL;
      p->set |= SL_KEY_SET_TAGS;
    } else if (!strcmp(n, "max_parallel_requests")) {
      if (null) continue;
      int64_t v;
      if (!nonneg_int(f, &v)) BAD("'max_parallel_requests' must be a non-negative integer (concurrent requests; 0 = none)");
      p->max_parallel_requests = v;
      p->set |= SL_KEY_SET_MAX_PARALLEL;
    } else if (!strcmp(n, "soft_budget")) {
      if (null) continue;
      if (!cJSON_IsNumber(f) || !(f->valuedouble >= 0) || !isfinite(f->valuedouble) || f->valuedouble > 1e12)
        BAD("'soft_budget' must be a non-negative number of USD (0 = none)");
      p->soft_budget = f->valuedouble;
      p->set |= SL_KEY_SET_SOFT_BUDGET;
    } else if (!strcmp(n, "permitted_regions") || !strcmp(n, "preferred_regions")) {
      if (null) continue;
      bool perm = n[1] == 'e';
      struct sl_region_list *l = perm ? &in->permitted_l : &in->preferred_l;
      if (!cJSON_IsArray(f)) BAD("'%s' must be a list of region names ([] = none)", n);
      l->n = 0;
      for (const cJSON *e = f->child; e; e = e->next) {
        int rc = cJSON_IsString(e) ? sl_policy_region_list_add(l, e->valuestring, strlen(e->valuestring)) : -EINVAL;
        if (rc == -E2BIG) BAD("'%s' lists more than %d regions", n, SL_REGION_LIST_MAX);
        if (rc)
          BAD("'%s' must hold region names (1 to %d characters of letters, digits, '-', '_', '.')", n,
              SL_REGION_NAME_MAX);
      }
      char *out = perm ? in->permitted : in->preferred;
      sl_policy_region_list_join(l, ",", out, SL_KEY_REGIONS_MAX + 1); /* 16 x 65 bytes fit */
      if (perm) in->has_permitted = true, p->permitted_regions = out, p->set |= SL_KEY_SET_PERMITTED_REGIONS;
      else in->has_preferred = true, p->preferred_regions = out, p->set |= SL_KEY_SET_PREFERRED_REGIONS;
    } else if (!strcmp(n, "blocked")) {
      if (null) continue;
      if (!cJSON_IsBool(f)) BAD("'blocked' must be true or false");
      p->blocked = cJSON_IsTrue(f);
      p->set |= SL_KEY_SET_BLOCKED;
    } else if (!carries_nothing(f)) {
      BAD("sluice does not support the field '%.100s' on %s (supported: models, rpm_limit, tpm_limit, max_budget, "
          "budget_duration, duration, key_alias, metadata, blocked, aliases, team_id, user_id, max_parallel_requests, "
          "tags, soft_budget, permitted_regions, preferred_regions%s)",
          n, route, update ? ", key" : ", key (a custom secret)");
    }
  }
  if (in->has_permitted && in->has_preferred && in->permitted_l.n) {
    int bad = sl_policy_region_narrow(&in->permitted_l, &in->preferred_l);
    if (bad >= 0)
      BAD("'preferred_regions' names '%s', which is not in 'permitted_regions'", in->preferred_l.name[bad]);
  }
  return 0;
}

/* The key a request names ("sk-..." or the 64-hex hash) into hash; 0, or -1 after a 400. */
static int key_ref(struct sl_request *rq, const char *what, const cJSON *v, uint8_t hash[32]) {
  if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 4096) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                           "'%s' must name a key: its secret (\"sk-...\") or its hashed token", what);
    return -1;
  }
  sl_keys_ref(v->valuestring, strlen(v->valuestring), hash);
  return 0;
}

/* ---- the info object ---- */

static void add_label(cJSON *o, const char *name, const char *v) {
  if (v && v[0]) cJSON_AddStringToObject(o, name, v);
  else cJSON_AddNullToObject(o, name);
}

/* A stored comma-joined region list as a JSON array; null when none. */
static void add_regions(cJSON *o, const char *name, const char *stored) {
  struct sl_region_list l;
  if (!stored || !stored[0] || sl_policy_region_list_parse(stored, strlen(stored), &l)) {
    if (stored && stored[0]) cJSON_AddStringToObject(o, name, stored); /* damaged: shown as stored */
    else cJSON_AddNullToObject(o, name);
    return;
  }
  cJSON *a = cJSON_AddArrayToObject(o, name);
  for (size_t i = 0; a && i < l.n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(l.name[i]));
}

cJSON *sl__admin_key_info_object(const struct sl_key_record *r, int64_t spend_micro) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  char hex[65], dur[32];
  sl_keys_hash_hex(r->hash, hex);
  cJSON_AddStringToObject(o, "token", hex);
  if (r->key_alias && r->key_alias[0]) cJSON_AddStringToObject(o, "key_alias", r->key_alias);
  else cJSON_AddNullToObject(o, "key_alias");
  cJSON_AddStringToObject(o, "key_name", r->display);
  cJSON_AddItemToObject(o, "spend", sl__admin_usd(spend_micro));
  if (r->max_budget > 0) cJSON_AddNumberToObject(o, "max_budget", r->max_budget);
  else cJSON_AddNullToObject(o, "max_budget");
  cJSON *models = cJSON_AddArrayToObject(o, "models");
  for (size_t i = 0; models && i < r->nmodels; i++) cJSON_AddItemToArray(models, cJSON_CreateString(r->models[i]));
  if (r->rpm_limit > 0) cJSON_AddNumberToObject(o, "rpm_limit", (double)r->rpm_limit);
  else cJSON_AddNullToObject(o, "rpm_limit");
  if (r->tpm_limit > 0) cJSON_AddNumberToObject(o, "tpm_limit", (double)r->tpm_limit);
  else cJSON_AddNullToObject(o, "tpm_limit");
  sl__admin_add_time(o, "expires", r->expires_at);
  if (r->budget_duration_s > 0) {
    sl__admin_duration_format(r->budget_duration_s, dur);
    cJSON_AddStringToObject(o, "budget_duration", dur);
    sl__admin_add_time(o, "budget_reset_at", sl_key_period_start(r, (int64_t)time(NULL)) + r->budget_duration_s);
  } else {
    cJSON_AddNullToObject(o, "budget_duration");
    cJSON_AddNullToObject(o, "budget_reset_at");
  }
  cJSON *md = r->metadata && r->metadata[0] ? cJSON_Parse(r->metadata) : cJSON_CreateObject();
  if (!md) md = cJSON_CreateString(r->metadata); /* not JSON: shown as it was stored */
  cJSON_AddItemToObject(o, "metadata", md);
  sl__admin_add_time(o, "created_at", r->created_at);
  sl__admin_add_time(o, "updated_at", r->updated_at);
  cJSON_AddBoolToObject(o, "blocked", r->blocked);
  cJSON *al = r->aliases[0] ? cJSON_Parse(r->aliases) : NULL;
  cJSON_AddItemToObject(o, "aliases", al ? al : cJSON_CreateObject());
  add_label(o, "team_id", r->team_id);
  add_label(o, "user_id", r->user_id);
  cJSON *tags = r->tags[0] ? cJSON_Parse(r->tags) : NULL;
  cJSON_AddItemToObject(o, "tags", tags ? tags : cJSON_CreateNull());
  if (r->max_parallel_requests > 0) cJSON_AddNumberToObject(o, "max_parallel_requests", (double)r->max_parallel_requests);
  else cJSON_AddNullToObject(o, "max_parallel_requests");
  if (r->soft_budget > 0) cJSON_AddNumberToObject(o, "soft_budget", r->soft_budget);
  else cJSON_AddNullToObject(o, "soft_budget");
  add_regions(o, "permitted_regions", r->permitted_regions);
  add_regions(o, "preferred_regions", r->preferred_regions);
  return o;
}

/* {"key":"<hash>","info":{...}} of r with its spend. */
static void answer_info(struct sl__admin_job *j, const struct sl_key_record *r) {
  char hex[65];
  sl_keys_hash_hex(r->hash, hex);
  cJSON *o = cJSON_CreateObject();
  cJSON *info = sl__admin_key_info_object(r, sl__admin_job_key_spend(j, r->id));
  if (!o || !info) {
    cJSON_Delete(o);
    cJSON_Delete(info);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  cJSON_AddStringToObject(o, "key", hex);
  cJSON_AddItemToObject(o, "info", info);
  sl__admin_ok(j, 200, o);
}

/* ---- POST /key/generate ---- */

struct gen_job {
  struct sl__admin_job j;
  struct key_in in;
  uint8_t hash[32]; /* the new key's, for cluster mode's push */
};

/* Cluster mode: every key write reaches the other hosts (a no-op on one host). */
static void gen_after(struct sl__admin_job *j) { sl_cluster_keys_push(j->w, ((struct gen_job *)j)->hash); }

static void gen_destroy(struct sl__admin_job *j) { key_in_free(&((struct gen_job *)j)->in); }

static void gen_run(struct sl__admin_job *j) {
  struct gen_job *g = (struct gen_job *)j;
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_record r;
  int rc = sl_keys_generate(j->w->keys, &g->in.p, secret, &r);
  if (rc == -EEXIST) {
    sl__admin_fail(j, 400, SL_ERR_KEY_EXISTS, "A key with this secret already exists ('key')");
    return;
  }
  if (rc == -EINVAL) {
    sl__admin_fail(j, 400, SL_ERR_INVALID_REQUEST, "The key's fields are out of bounds");
    return;
  }
  if (rc) {
    sl__admin_fail_store(j, "create the key", rc);
    return;
  }
  memcpy(g->hash, r.hash, 32);
  /* a custom secret used before keeps its ledger (its spend) */
  cJSON *o = sl__admin_key_info_object(&r, sl__admin_job_key_spend(j, r.id));
  sl_key_record_free(&r);
  if (!o || !cJSON_AddStringToObject(o, "key", secret)) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory (the key was created)");
    return;
  }
  sl__admin_ok(j, 200, o);
}

void sl_admin_key_generate(struct sl_request *rq) {
  cJSON *body = sl__admin_body_object(rq, true);
  if (!body) return;
  struct gen_job *g = calloc(1, sizeof *g);
  if (!g) {
    cJSON_Delete(body);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  int rc = parse_fields(rq, body, false, &g->in);
  cJSON_Delete(body);
  if (rc) {
    key_in_free(&g->in);
    free(g);
    return;
  }
  g->j.run = gen_run;
  g->j.destroy = gen_destroy;
  g->j.after = gen_after;
  sl__admin_queue(rq, &g->j);
}

/* ---- GET /key/info ---- */

struct info_job {
  struct sl__admin_job j;
  uint8_t hash[32];
};

static void info_run(struct sl__admin_job *j) {
  struct info_job *ij = (struct info_job *)j;
  struct sl_key_record r;
  int rc = sl_keys_get(j->w->keys, ij->hash, &r);
  if (rc == -ENOENT) {
    sl__admin_fail(j, 404, SL_ERR_KEY_NOT_FOUND, "Key not found");
    return;
  }
  if (rc) {
    sl__admin_fail_store(j, "read the key", rc);
    return;
  }
  answer_info(j, &r);
  sl_key_record_free(&r);
}

void sl_admin_key_info(struct sl_request *rq) {
  char key[4097];
  int q = sl__admin_query(rq, "key", key, sizeof key);
  const struct sl_key_record *self = rq->key; /* a virtual key reads only itself */
  if ((q <= 0 || !key[0]) && !self) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                           "GET /key/info needs ?key= with the key's secret (\"sk-...\") or its hashed token");
    return;
  }
  uint8_t hash[32];
  if (q > 0 && key[0]) sl_keys_ref(key, strlen(key), hash);
  else memcpy(hash, self->hash, 32);
  if (self && memcmp(hash, self->hash, 32) != 0) {
    sl_respond_error(rq, 403, SL_ERR_ADMIN_ONLY, NULL,
                           "A virtual key may read only its own /key/info; other keys need the master key");
    return;
  }
  struct info_job *ij = calloc(1, sizeof *ij);
  if (!ij) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  memcpy(ij->hash, hash, 32);
  ij->j.run = info_run;
  sl__admin_queue_spend(rq, &ij->j, SL_SPEND_KEY, sl_spend_id_hash(SL_SPEND_KEY, hash), true);
}

/* ---- POST /key/update ---- */

struct upd_job {
  struct sl__admin_job j;
  uint8_t hash[32];
  struct key_in in;
  char *given; /* the key as the client named it */
  const char *what; /* for a store failure: "update the key", "block the key", ... */
};

static void upd_after(struct sl__admin_job *j) { sl_cluster_keys_push(j->w, ((struct upd_job *)j)->hash); }

static void upd_destroy(struct sl__admin_job *j) {
  struct upd_job *u = (struct upd_job *)j;
  key_in_free(&u->in);
  free(u->given);
}

/* LiteLLM's flat answer of /key/update, /key/block and /key/unblock: the key's fields at
 * the top level ("token" the hash), plus "key" as the client named it (update only). */
static void answer_flat(struct sl__admin_job *j, const struct sl_key_record *r, const char *given) {
  cJSON *o = sl__admin_key_info_object(r, sl__admin_job_key_spend(j, r->id));
  if (!o || (given && !cJSON_AddStringToObject(o, "key", given))) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  sl__admin_ok(j, 200, o);
}

static void upd_run(struct sl__admin_job *j) {
  struct upd_job *u = (struct upd_job *)j;
  struct sl_key_record r;
  int rc = sl_keys_update(j->w->keys, u->hash, &u->in.p, &r);
  if (rc == -ENOENT) {
    sl__admin_fail(j, 404, SL_ERR_KEY_NOT_FOUND, "Key not found");
    return;
  }
  if (rc == -EINVAL) {
    sl__admin_fail(j, 400, SL_ERR_INVALID_REQUEST, "The key's fields are out of bounds");
    return;
  }
  if (rc) {
    sl__admin_fail_store(j, u->what ? u->what : "update the key", rc);
    return;
  }
  answer_flat(j, &r, u->given);
  sl_key_record_free(&r);
}

void sl_admin_key_update(struct sl_request *rq) {
  cJSON *body = sl__admin_body_object(rq, false);
  if (!body) return;
  struct upd_job *u = calloc(1, sizeof *u);
  if (!u) {
    cJSON_Delete(body);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "key");
  int rc;
  if (!k) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                           "POST /key/update needs 'key': the key's secret or its hashed token");
    rc = -1;
  } else {
    rc = key_ref(rq, "key", k, u->hash);
  }
  if (!rc && !(u->given = strdup(k->valuestring))) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    rc = -1;
  }
  if (!rc) rc = parse_fields(rq, body, true, &u->in);
  cJSON_Delete(body);
  if (rc) {
    key_in_free(&u->in);
    free(u->given);
    free(u);
    return;
  }
  u->j.run = upd_run;
  u->j.destroy = upd_destroy;
  u->j.after = upd_after;
  sl__admin_queue(rq, &u->j);
}

/* ---- POST /key/block, /key/unblock ---- */

void sl_admin_key_block(struct sl_request *rq, bool blocked) {
  cJSON *body = sl__admin_body_object(rq, false);
  if (!body) return;
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "key");
  struct upd_job *u = k ? calloc(1, sizeof *u) : NULL;
  int rc = -1;
  if (!k)
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                           "POST %s needs 'key': the key's secret or its hashed token",
                           blocked ? "/key/block" : "/key/unblock");
  else if (!u)
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  else
    rc = key_ref(rq, "key", k, u->hash);
  cJSON_Delete(body);
  if (rc) {
    free(u);
    return;
  }
  u->in.p.set = SL_KEY_SET_BLOCKED;
  u->in.p.blocked = blocked;
  u->what = blocked ? "block the key" : "unblock the key";
  u->j.run = upd_run;
  u->j.destroy = upd_destroy;
  u->j.after = upd_after;
  sl__admin_queue(rq, &u->j);
}

/* ---- POST /key/delete ---- */

struct del_job {
  struct sl__admin_job j;
  size_t n, naliases;
  uint8_t (*hash)[32]; /* n + naliases: keys first, then aliases once resolved */
  bool *resolved;      /* per alias */
  char **given;        /* n + naliases strings as the client wrote them */
};

static void del_after(struct sl__admin_job *j) {
  struct del_job *d = (struct del_job *)j;
  for (size_t i = 0; i < d->n + d->naliases; i++)
    if (i < d->n || d->resolved[i - d->n]) sl_cluster_keys_push(j->w, d->hash[i]);
}

static void del_destroy(struct sl__admin_job *j) {
  struct del_job *d = (struct del_job *)j;
  for (size_t i = 0; d->given && i < d->n + d->naliases; i++) free(d->given[i]);
  free(d->given);
  free(d->hash);
  free(d->resolved);
}

static int del_alias_cb(void *ctx, const struct sl_key_record *r) {
  struct del_job *d = ctx;
  for (size_t i = 0; i < d->naliases; i++)
    if (!d->resolved[i] && r->key_alias[0] && !strcmp(r->key_alias, d->given[d->n + i])) {
      memcpy(d->hash[d->n + i], r->hash, 32);
      d->resolved[i] = true;
    }
  return 0;
}

static void del_run(struct sl__admin_job *j) {
  struct del_job *d = (struct del_job *)j;
  size_t total = d->n + d->naliases;
  int rc;
  if (d->naliases && (rc = sl_keys_list(j->w->keys, del_alias_cb, d))) {
    sl__admin_fail_store(j, "list the keys", rc);
    return;
  }
  /* every key must exist before any is deleted */
  for (size_t i = 0; i < total; i++) {
    if (i >= d->n && !d->resolved[i - d->n]) {
      sl__admin_fail(j, 404, SL_ERR_KEY_NOT_FOUND, "No key has the alias '%.200s' (key_aliases)", d->given[i]);
      return;
    }
    struct sl_key_record r;
    rc = sl_keys_get(j->w->keys, d->hash[i], &r);
    if (rc == -ENOENT) {
      sl__admin_fail(j, 404, SL_ERR_KEY_NOT_FOUND, "Key not found: '%.200s'; nothing was deleted", d->given[i]);
      return;
    }
    if (rc) {
      sl__admin_fail_store(j, "read the key", rc);
      return;
    }
    sl_key_record_free(&r);
  }
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "deleted_keys");
  if (!arr) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  for (size_t i = 0; i < total; i++) {
    rc = sl_keys_delete(j->w->keys, d->hash[i]);
    if (rc && rc != -ENOENT) { /* -ENOENT: deleted meanwhile, or named twice */
      cJSON_Delete(o);
      sl__admin_fail_store(j, "delete the key", rc);
      return;
    }
    cJSON_AddItemToArray(arr, cJSON_CreateString(d->given[i]));
  }
  sl__admin_ok(j, 200, o);
}

/* Copies the strings of the array member `name` of body into d->given from index at. */
static int del_strings(struct sl_request *rq, const cJSON *arr, const char *name, struct del_job *d, size_t at) {
  size_t i = at;
  for (const cJSON *v = arr->child; v; v = v->next, i++) {
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 4096) {
      sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'%s' must hold non-empty strings", name);
      return -1;
    }
    if (!(d->given[i] = strdup(v->valuestring))) {
      sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
      return -1;
    }
  }
  return 0;
}

void sl_admin_key_delete(struct sl_request *rq) {
  cJSON *body = sl__admin_body_object(rq, false);
  if (!body) return;
  const cJSON *keys = NULL, *aliases = NULL;
  for (const cJSON *f = body->child; f; f = f->next) {
    if (!strcmp(f->string, "keys")) keys = f;
    else if (!strcmp(f->string, "key_aliases")) aliases = f;
    else if (!carries_nothing(f)) {
      sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                             "sluice does not support the field '%.100s' on /key/delete (supported: keys, key_aliases)",
                             f->string);
      cJSON_Delete(body);
      return;
    }
  }
  if (cJSON_IsNull(keys)) keys = NULL;
  if (cJSON_IsNull(aliases)) aliases = NULL;
  if ((keys && !cJSON_IsArray(keys)) || (aliases && !cJSON_IsArray(aliases)) ||
      cJSON_GetArraySize(keys) + cJSON_GetArraySize(aliases) == 0 ||
      cJSON_GetArraySize(keys) + cJSON_GetArraySize(aliases) > 10000) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                           "POST /key/delete needs 'keys': a list of key secrets (\"sk-...\") or hashed tokens "
                           "(or 'key_aliases': a list of aliases), at most 10000");
    cJSON_Delete(body);
    return;
  }
  struct del_job *d = calloc(1, sizeof *d);
  if (d) {
    d->n = (size_t)cJSON_GetArraySize(keys);
    d->naliases = (size_t)cJSON_GetArraySize(aliases);
    d->given = calloc(d->n + d->naliases, sizeof *d->given);
    d->hash = calloc(d->n + d->naliases, sizeof *d->hash);
    d->resolved = calloc(d->naliases + 1, sizeof *d->resolved);
  }
  if (!d || !d->given || !d->hash || !d->resolved) {
    if (d) del_destroy(&d->j);
    free(d);
    cJSON_Delete(body);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  int rc = (keys ? del_strings(rq, keys, "keys", d, 0) : 0) || (aliases ? del_strings(rq, aliases, "key_aliases", d, d->n) : 0);
  cJSON_Delete(body);
  if (rc) {
    del_destroy(&d->j);
    free(d);
    return;
  }
  for (size_t i = 0; i < d->n; i++) sl_keys_ref(d->given[i], strlen(d->given[i]), d->hash[i]);
  d->j.run = del_run;
  d->j.destroy = del_destroy;
  d->j.after = del_after;
  sl__admin_queue(rq, &d->j);
}

/* ---- GET /key/list ---- */

struct list_job {
  struct sl__admin_job j;
  bool full;
  char *alias; /* filter; NULL = every key */
  size_t page, size; /* size 0: every key on one page */
  /* gathered by the walk */
  cJSON *keys;
  uint64_t *ids; /* full: the ledger id of each object, for its spend */
  size_t n, cap, matched;
  bool oom;
};

static void list_destroy(struct sl__admin_job *j) {
  struct list_job *l = (struct list_job *)j;
  free(l->alias);
  free(l->ids);
  cJSON_Delete(l->keys);
}

static int list_cb(void *ctx, const struct sl_key_record *r) {
  struct list_job *l = ctx;
  if (l->alias && strcmp(r->key_alias, l->alias) != 0) return 0;
  size_t i = l->matched++;
  if (l->size && (i < (l->page - 1) * l->size || i >= l->page * l->size)) return 0;
  cJSON *item;
  if (l->full) {
    if (l->n == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 64;
      uint64_t *p = realloc(l->ids, cap * sizeof *p);
      if (!p) {
        l->oom = true;
        return 1;
      }
      l->ids = p;
      l->cap = cap;
    }
    l->ids[l->n] = r->id;
    item = sl__admin_key_info_object(r, 0);
  } else {
    char hex[65];
    sl_keys_hash_hex(r->hash, hex);
    item = cJSON_CreateString(hex);
  }
  if (!item || !cJSON_AddItemToArray(l->keys, item)) {
    cJSON_Delete(item);
    l->oom = true;
    return 1;
  }
  l->n++;
  return 0;
}

static void list_run(struct sl__admin_job *j) {
  struct list_job *l = (struct list_job *)j;
  if (!(l->keys = cJSON_CreateArray())) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  int rc = sl_keys_list(j->w->keys, list_cb, l);
  if (l->oom) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  if (rc) {
    sl__admin_fail_store(j, "list the keys", rc);
    return;
  }
  /* spend after the walk: no store call may run inside it */
  size_t i = 0;
  for (cJSON *item = l->keys->child; l->full && item; item = item->next, i++)
    cJSON_ReplaceItemInObjectCaseSensitive(item, "spend", sl__admin_usd(sl__admin_job_key_spend(j, l->ids[i])));
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  cJSON_AddItemToObject(o, "keys", l->keys);
  l->keys = NULL;
  cJSON_AddNumberToObject(o, "total_count", (double)l->matched);
  cJSON_AddNumberToObject(o, "current_page", (double)(l->size ? l->page : 1));
  size_t pages = l->size ? (l->matched + l->size - 1) / l->size : 1;
  cJSON_AddNumberToObject(o, "total_pages", (double)(pages ? pages : 1));
  sl__admin_ok(j, 200, o);
}

static int query_count(struct sl_request *rq, const char *name, size_t *out) {
  char v[32];
  int q = sl__admin_query(rq, name, v, sizeof v);
  if (q == 0) return 0;
  char *end;
  unsigned long long x = q > 0 ? strtoull(v, &end, 10) : 0;
  if (q < 0 || !v[0] || *end || x < 1 || x > 1000000) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'%s' must be a positive integer", name);
    return -1;
  }
  *out = (size_t)x;
  return 0;
}

void sl_admin_key_list(struct sl_request *rq) {
  struct list_job *l = calloc(1, sizeof *l);
  if (!l) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  char v[SL_KEY_ALIAS_MAX + 1];
  int q = sl__admin_query(rq, "return_full_object", v, sizeof v);
  l->full = q > 0 && sl__admin_truthy(v);
  q = sl__admin_query(rq, "key_alias", v, sizeof v);
  if (q < 0) {
    free(l);
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'key_alias' is malformed or too long");
    return;
  }
  if (q > 0 && !(l->alias = strdup(v))) {
    free(l);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  l->page = 1;
  if (query_count(rq, "page", &l->page) || query_count(rq, "size", &l->size)) {
    free(l->alias);
    free(l);
    return;
  }
  l->j.run = list_run;
  l->j.destroy = list_destroy;
  if (l->full) sl__admin_queue_spend(rq, &l->j, SL_SPEND_KEY, 0, true); /* spend of every key shown */
  else sl__admin_queue(rq, &l->j);
}
