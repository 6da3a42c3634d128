/* GET /spend/report: daily spend from the LMDB ledger, per virtual key or per model
 * group. The one idea: the ledger only knows 62-bit payer ids and the labels stored
 * with them, so the report joins them with what is known now (the keys in the store,
 * the model groups of the config) to name every row; a payer known nowhere keeps its
 * ledger label and its id in hex.
 *
 *   GET /spend/report?group_by=key|model&start=YYYY-MM-DD&end=YYYY-MM-DD
 *   (LiteLLM's start_date/end_date and group_by=api_key are accepted too; the default is
 *   group_by=key over the last 30 UTC days, today included)
 *   -> {"group_by":"key","start":"2026-10-23","end":"2026-11-21","total_spend":0.0123,
 *       "rows":[{"day":"2026-11-21","id":"<key token | model group>","name":"<alias or
 *       sk-ab...wxyz | model group>","spend":0.0123}, ...]}   ordered by day, then name
 * Spend is USD with six decimals. A day's row holds what the flusher moved on that UTC
 * day: spend of the last second before midnight may land on the next day.
 *
 * Cluster mode (core/cluster_spend.h): before the job runs, the other hosts' rows are
 * fetched from Redis (one script call) and added to this host's, row by row (same day,
 * same payer); the answer carries x-sluice-spend-scope: cluster, or local when Redis
 * could not answer (this host's ledger only). sl__admin_queue_spend does the same for
 * /key/info and /key/list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin_internal.h"
#include "core/cluster_spend.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "policy/cost.h"
#include "store/keys.h"
#include "store/spend.h"

#define MAX_DAYS 3660

struct rep_row {
  uint32_t day;
  uint64_t raw; /* the ledger id */
  int64_t micro;
  char *id, *name;
};

struct key_name {
  uint64_t id;
  char token[65];
  char *name;
};

struct rep_job {
  struct sl__admin_job j;
  enum sl_spend_kind kind;
  uint32_t start, end;
  struct rep_row *rows;
  size_t n, cap;
  struct key_name *keys; /* group_by=key: the keys of the store, by ledger id */
  size_t nkeys, capkeys;
  bool oom;
};

static void rep_destroy(struct sl__admin_job *j) {
  struct rep_job *r = (struct rep_job *)j;
  for (size_t i = 0; i < r->n; i++) {
    free(r->rows[i].id);
    free(r->rows[i].name);
  }
  free(r->rows);
  for (size_t i = 0; i < r->nkeys; i++) free(r->keys[i].name);
  free(r->keys);
}

static int keys_cb(void *ctx, const struct sl_key_record *k) {
  struct rep_job *r = ctx;
  if (r->nkeys == r->capkeys) {
    size_t cap = r->capkeys ? r->capkeys * 2 : 64;
    void *p = realloc(r->keys, cap * sizeof *r->keys);
    if (!p) goto oom;
    r->keys = p;
    r->capkeys = cap;
  }
  struct key_name *e = &r->keys[r->nkeys];
  e->id = k->id;
  sl_keys_hash_hex(k->hash, e->token);
  if (!(e->name = strdup(k->key_alias[0] ? k->key_alias : k->display))) goto oom;
  r->nkeys++;
  return 0;
oom:
  r->oom = true;
  return 1;
}

static int cmp_key_id(const void *a, const void *b) {
  uint64_t x = ((const struct key_name *)a)->id, y = ((const struct key_name *)b)->id;
  return x < y ? -1 : x > y;
}

static const struct key_name *key_by_id(const struct rep_job *r, uint64_t id) {
  size_t lo = 0, hi = r->nkeys;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r->keys[mid].id < id) lo = mid + 1;
    else if (r->keys[mid].id > id) hi = mid;
    else return &r->keys[mid];
  }
  return NULL;
}

static int row_cb(void *ctx, const struct sl_spend_report_row *row) {
  struct rep_job *r = ctx;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    void *p = realloc(r->rows, cap * sizeof *r->rows);
    if (!p) goto oom;
    r->rows = p;
    r->cap = cap;
  }
  char hex[24];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)row->id);
  const char *id = hex, *name = row->label;
  if (r->kind == SL_SPEND_KEY) {
    const struct key_name *k = key_by_id(r, row->id);
    if (k) {
      id = k->token;
      name = k->name;
    }
  } else {
    for (size_t i = 0; i < r->j.w->ngroups; i++)
      if (r->j.w->groups[i].spend_id == row->id) {
        id = name = r->j.w->groups[i].name;
        break;
      }
    if (id == hex && name[0]) id = name; /* a group no longer in the config: its stored name */
  }
  struct rep_row *o = &r->rows[r->n];
  o->day = row->day;
  o->raw = row->id;
  o->micro = row->v.micro;
  o->id = strdup(id);
  o->name = strdup(name[0] ? name : id);
  if (!o->id || !o->name) {
    free(o->id);
    free(o->name);
    goto oom;
  }
  r->n++;
  return 0;
oom:
  r->oom = true;
  return 1;
}

static int cmp_row(const void *a, const void *b) {
  const struct rep_row *x = a, *y = b;
  if (x->day != y->day) return x->day < y->day ? -1 : 1;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->id, y->id);
}

static int cmp_day_raw(const void *a, const void *b) {
  const struct rep_row *x = a, *y = b;
  if (x->day != y->day) return x->day < y->day ? -1 : 1;
  return x->raw < y->raw ? -1 : x->raw > y->raw;
}

/* Cluster mode: the other hosts' day rows in range join this host's; rows of the same
 * (day, payer) become one, named as this host names it. -1 when out of memory. */
static int merge_remote(struct rep_job *r) {
  const struct sl_cluster_spend_row *rows;
  size_t n = sl_cluster_spend_view_rows(r->j.spend, &rows), local = r->n;
  for (size_t i = 0; i < n; i++) {
    if (rows[i].kind != (unsigned)r->kind || rows[i].day == SL_CLUSTER_SPEND_TOTAL || rows[i].day < r->start ||
        rows[i].day > r->end)
      continue;
    struct sl_spend_report_row x = {.kind = r->kind, .id = rows[i].id, .day = rows[i].day, .label = ""};
    x.v.micro = rows[i].micro;
    if (row_cb(r, &x)) return -1;
  }
  if (r->n == local) return 0;
  qsort(r->rows, r->n, sizeof *r->rows, cmp_day_raw);
  size_t w = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (w && r->rows[w - 1].day == r->rows[i].day && r->rows[w - 1].raw == r->rows[i].raw) {
      struct rep_row *a = &r->rows[w - 1], *b = &r->rows[i];
      a->micro = sl_policy_add_sat(a->micro, b->micro);
      if (!strcmp(a->name, a->id) && strcmp(b->name, b->id)) { /* keep the better name */
        char *t = a->name;
        a->name = b->name;
        b->name = t;
      }
      free(b->id);
      free(b->name);
      continue;
    }
    r->rows[w++] = r->rows[i];
  }
  r->n = w;
  return 0;
}

static void rep_run(struct sl__admin_job *j) {
  struct rep_job *r = (struct rep_job *)j;
  int rc = 0;
  if (r->kind == SL_SPEND_KEY && j->w->keys) {
    rc = sl_keys_list(j->w->keys, keys_cb, r);
    if (!rc && !r->oom && r->nkeys) qsort(r->keys, r->nkeys, sizeof *r->keys, cmp_key_id);
  }
  if (!rc && !r->oom) rc = sl_spend_report(j->w->tenancy, r->kind, r->start, r->end, row_cb, r);
  if (r->oom) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  if (rc) {
    sl__admin_fail_store(j, "read the spend ledger", rc);
    return;
  }
  if (!rc && j->spend && merge_remote(r)) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  if (r->n) qsort(r->rows, r->n, sizeof *r->rows, cmp_row);
  cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray();
  char d0[11], d1[11];
  sl_spend_day_format(r->start, d0);
  sl_spend_day_format(r->end, d1);
  int64_t total = 0;
  for (size_t i = 0; rows && i < r->n; i++) {
    cJSON *x = cJSON_CreateObject();
    char day[11];
    sl_spend_day_format(r->rows[i].day, day);
    cJSON_AddStringToObject(x, "day", day);
    cJSON_AddStringToObject(x, "id", r->rows[i].id);
    cJSON_AddStringToObject(x, "name", r->rows[i].name);
    cJSON_AddItemToObject(x, "spend", sl__admin_usd(r->rows[i].micro));
    cJSON_AddItemToArray(rows, x);
    total = sl_policy_add_sat(total, r->rows[i].micro);
  }
  cJSON_AddStringToObject(o, "group_by", r->kind == SL_SPEND_KEY ? "key" : "model");
  cJSON_AddStringToObject(o, "start", d0);
  cJSON_AddStringToObject(o, "end", d1);
  cJSON_AddItemToObject(o, "total_spend", sl__admin_usd(total));
  if (!cJSON_AddItemToObject(o, "rows", rows)) {
    cJSON_Delete(rows);
    cJSON_Delete(o);
    o = NULL;
  }
  sl__admin_ok(j, 200, o);
}

/* A date parameter (either of two names); 0 absent, 1 parsed, -1 after a 400. */
static int date_param(struct sl_request *rq, const char *a, const char *b, uint32_t *day) {
  char v[32];
  const char *name = a;
  int q = sl__admin_query(rq, a, v, sizeof v);
  if (q == 0) q = sl__admin_query(rq, name = b, v, sizeof v);
  if (q == 0) return 0;
  if (q < 0 || sl_spend_day_parse(v, strlen(v), day)) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'%s' must be a date YYYY-MM-DD (UTC)", name);
    return -1;
  }
  return 1;
}

void sl_admin_spend_report(struct sl_request *rq) {
  char g[32];
  enum sl_spend_kind kind = SL_SPEND_KEY;
  int q = sl__admin_query(rq, "group_by", g, sizeof g);
  if (q < 0 || (q > 0 && strcmp(g, "key") && strcmp(g, "api_key") && strcmp(g, "model") && strcmp(g, "model_group"))) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'group_by' must be \"key\" or \"model\"");
    return;
  }
  if (q > 0 && (!strcmp(g, "model") || !strcmp(g, "model_group"))) kind = SL_SPEND_GROUP;
  uint32_t today = sl_spend_day((int64_t)time(NULL)), start = 0, end = today;
  int hs = date_param(rq, "start", "start_date", &start);
  if (hs < 0) return;
  int he = date_param(rq, "end", "end_date", &end);
  if (he < 0) return;
  if (!hs) start = end >= 29 ? end - 29 : 0;
  if (start > end) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'start' is after 'end'");
    return;
  }
  if (end - start >= MAX_DAYS) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "The report spans more than %d days", MAX_DAYS);
    return;
  }
  struct rep_job *r = calloc(1, sizeof *r);
  if (!r) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  r->kind = kind;
  r->start = start;
  r->end = end;
  r->j.run = rep_run;
  r->j.destroy = rep_destroy;
  sl__admin_queue_spend(rq, &r->j, (int)kind, 0, false);
}

/* ---- cluster mode: the other hosts' spend, fetched before a job runs ---- */

static const char SCOPE_CLUSTER[] = "x-sluice-spend-scope: cluster\r\n";
static const char SCOPE_LOCAL[] = "x-sluice-spend-scope: local\r\n";

static void spend_fetched(void *ud, struct sl_cluster_spend_view *v) {
  struct sl__admin_job *j = ud;
  struct sl_request *rq = j->rq;
  j->spend = v;
  j->extra_hdrs = v ? SCOPE_CLUSTER : SCOPE_LOCAL;
  if (rq->finished) { /* the client left while Redis answered */
    sl_cluster_spend_view_free(j->spend);
    if (j->destroy) j->destroy(j);
    free(j);
  } else {
    sl__admin_queue(rq, j);
  }
  sl_request_release(rq); /* the hold taken for the fetch */
}

void sl__admin_queue_spend(struct sl_request *rq, struct sl__admin_job *j, int kind, uint64_t id, bool totals) {
  struct sl_worker *w = rq->w;
  if (!sl_cluster_spend_enabled(w)) {
    sl__admin_queue(rq, j);
    return;
  }
  j->rq = rq;
  rq->open_handles++; /* released in spend_fetched */
  if (sl_cluster_spend_fetch(w, kind, id, totals, spend_fetched, j)) {
    rq->open_handles--;          /* the request is live: this never frees it */
    j->extra_hdrs = SCOPE_LOCAL; /* Redis is down: this host's ledger only */
    sl__admin_queue(rq, j);
  }
}

int64_t sl__admin_job_key_spend(struct sl__admin_job *j, uint64_t id) {
  return sl_policy_add_sat(sl__admin_key_spend_micro(j->w, id),
                           sl_cluster_spend_view_total(j->spend, SL_SPEND_KEY, id));
}
