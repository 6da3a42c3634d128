/* Admin API with the master key (see admin.h): routing, the thread-pool jobs that
 * every key and spend route runs on, /config/reload, and the small helpers the routes
 * share (body and query parsing, formatting). The one idea: an admin request never
 * touches the store from the event loop. The loop thread checks the input and copies
 * it into a job; a libuv pool thread runs the job against LMDB (writes wait for the
 * writer lock and an fsync) and leaves its answer in the job; back on the loop thread
 * the answer is sent. The request is held (rq->open_handles) while a job or a reload
 * wait is pending, so a client that leaves cannot free it under them. */
#include "core/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin_internal.h"
#include "core/cluster_spend.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "core/tenancy.h"
#include "net/wire/json_scan.h"
#include "policy/cost.h"
#include "store/shm.h"
#include "store/spend.h"

#define RELOAD_TIMEOUT_MS 60000

/* ---- answers ---- */

void sl__admin_fail(struct sl__admin_job *j, int status, enum sl_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->err_msg, sizeof j->err_msg, fmt, ap);
  va_end(ap);
  j->status = status;
  j->err_code = code;
}

void sl__admin_ok(struct sl__admin_job *j, int status, cJSON *obj) {
  char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
  cJSON_Delete(obj);
  if (!s) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory while building the answer");
    return;
  }
  j->body = s;
  j->len = strlen(s);
  j->status = status;
}

void sl__admin_fail_store(struct sl__admin_job *j, const char *what, int rc) {
  if (rc == -ENOSPC)
    sl__admin_fail(j, 507, SL_ERR_STORE_FULL, "Cannot %s: the store is full (sluice_settings.data_dir)", what);
  else
    sl__admin_fail(j, 500, SL_ERR_STORE_ERROR, "Cannot %s: store error (%s)", what, strerror(rc < 0 ? -rc : rc));
}

/* ---- jobs ---- */

static void job_free(struct sl__admin_job *j) {
  if (j->destroy) j->destroy(j);
  sl_cluster_spend_view_free(j->spend);
  if (j->body) cJSON_free(j->body);
  free(j);
}

static void job_work(uv_work_t *wk) {
  struct sl__admin_job *j = wk->data;
  j->run(j);
  if (!j->status) sl__admin_fail(j, 500, SL_ERR_INTERNAL, "The admin job gave no answer");
}

static void job_after(uv_work_t *wk, int status) {
  struct sl__admin_job *j = wk->data;
  struct sl_request *rq = j->rq;
  if (!status && j->status < 400 && j->after) j->after(j); /* cluster mode: push a key write */
  if (!rq->finished) { /* else the client left: nobody to answer */
    if (status)
      sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "The admin job was cancelled");
    else if (j->status >= 400)
      sl_respond_error(rq, j->status, j->err_code, NULL, "%s", j->err_msg);
    else if (j->extra_hdrs)
      sl_respond_body(rq, j->status, NULL, j->extra_hdrs, j->body, j->len);
    else
      sl_respond_json(rq, j->status, j->body, j->len);
  }
  sl_request_release(rq);
  job_free(j);
}

void sl__admin_queue(struct sl_request *rq, struct sl__admin_job *j) {
  j->rq = rq;
  j->w = rq->w;
  j->work.data = j;
  rq->open_handles++; /* released in job_after */
  int rc = uv_queue_work(&rq->w->loop, &j->work, job_work, job_after);
  if (rc) {
    rq->open_handles--; /* the request is live: this never frees it */
    job_free(j);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot queue the admin job: %s", uv_strerror(rc));
  }
}

/* ---- input ---- */

cJSON *sl__admin_body_object(struct sl_request *rq, bool empty_ok) {
  const struct sl_http_request *hr = rq->hr;
  size_t n = hr->body_len;
  const char *p = hr->body;
  while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++, n--;
  if (n == 0) {
    if (empty_ok) return cJSON_CreateObject();
    sl_respond_error(rq, 400, SL_ERR_INVALID_JSON, NULL, "This route needs a JSON object in the request body");
    return NULL;
  }
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!j) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_JSON, NULL, "Request body is not valid JSON");
    return NULL;
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    sl_respond_error(rq, 400, SL_ERR_INVALID_JSON, NULL, "Request body must be a JSON object");
    return NULL;
  }
  size_t k = 0;
  for (const cJSON *a = j->child; a; a = a->next) k++;
  if (k > 256) {
    cJSON_Delete(j);
    sl_respond_error(rq, 400, SL_ERR_INVALID_JSON, NULL, "Request body has too many fields");
    return NULL;
  }
  const char *dup = sl_json_duplicate_member(j);
  if (dup) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_JSON, NULL, "Duplicate field '%.100s' in the request body", dup);
    cJSON_Delete(j);
    return NULL;
  }
  return j;
}

int sl__admin_query(const struct sl_request *rq, const char *name, char *out, size_t outlen) {
  const char *q = rq->hr->query.p, *end = q + rq->hr->query.n;
  size_t nl = strlen(name);
  while (q && q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(q, '=', (size_t)(pe - q));
    const char *ke = eq ? eq : pe;
    if ((size_t)(ke - q) == nl && memcmp(q, name, nl) == 0) {
      const char *v = eq ? eq + 1 : pe;
      return sl_pct_decode(v, (size_t)(pe - v), true, out, outlen) < 0 ? -1 : 1;
    }
    q = amp ? amp + 1 : end;
  }
  return 0;
}

bool sl__admin_truthy(const char *s) { return !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "True"); }

/* ---- formatting ---- */

void sl__admin_iso8601(int64_t unix_s, char out[32]) {
  time_t t = (time_t)unix_s;
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "%lld", (long long)unix_s);
}

void sl__admin_duration_format(int64_t s, char out[32]) {
  if (s > 0 && s % 86400 == 0) snprintf(out, 32, "%lldd", (long long)(s / 86400));
  else if (s > 0 && s % 3600 == 0) snprintf(out, 32, "%lldh", (long long)(s / 3600));
  else if (s > 0 && s % 60 == 0) snprintf(out, 32, "%lldm", (long long)(s / 60));
  else snprintf(out, 32, "%llds", (long long)s);
}

cJSON *sl__admin_usd(int64_t micro) {
  char s[32];
  if (micro < 0) micro = 0;
  sl_tenancy_format_cost(micro, s);
  return cJSON_CreateRaw(s);
}

void sl__admin_add_time(cJSON *obj, const char *name, int64_t ts) {
  if (ts > 0) {
    char iso[32];
    sl__admin_iso8601(ts, iso);
    cJSON_AddStringToObject(obj, name, iso);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}

int64_t sl__admin_key_spend_micro(struct sl_worker *w, uint64_t id) {
  struct sl_spend_row row = {0};
  int64_t m = 0;
  if (w->tenancy && sl_spend_total(w->tenancy, SL_SPEND_KEY, id, &row) == 0) m = row.micro;
  /* Not yet flushed. While a flush is between its commit and advancing the slot's
   * flushed mark this counts that flush twice; the next read is exact. */
  struct sl_shm_key *s = sl_shm_key_find(w->shm, id); /* never claims a slot */
  if (s) {
    int64_t f = atomic_load(&s->spend_flushed_micro), t = atomic_load(&s->spend_total_micro);
    if (t > f) m = sl_policy_add_sat(m, t - f);
  }
  return m;
}

/* ---- POST /config/reload ---- */

static void reload_done(void *ud, int status, const char *message) {
  struct sl_request *rq = ud;
  if (!rq->finished) {
    if (status == 0) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "status", "reloaded");
      cJSON_AddStringToObject(o, "message", message && message[0] ? message : "the new configuration is serving");
      char *s = cJSON_PrintUnformatted(o);
      cJSON_Delete(o);
      if (s) sl_respond_json(rq, 200, s, strlen(s));
      else sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
      cJSON_free(s);
    } else if (status == -EINVAL) {
      sl_respond_error(rq, 400, SL_ERR_INVALID_CONFIG, NULL, "The configuration was not reloaded: %s", message);
    } else if (status == -ETIMEDOUT) {
      sl_respond_error(rq, 504, SL_ERR_RELOAD_TIMEOUT, NULL, "%s", message);
    } else if (status == -ESRCH || status == -ECANCELED) {
      sl_respond_error(rq, 503, SL_ERR_RELOAD_UNAVAILABLE, NULL, "%s", message);
    } else {
      sl_respond_error(rq, 500, SL_ERR_RELOAD_FAILED, NULL, "The configuration was not reloaded: %s", message);
    }
  }
  sl_request_release(rq);
}

static void config_reload(struct sl_request *rq) {
  rq->open_handles++; /* released in reload_done */
  if (!sl_worker_request_reload(rq->w, RELOAD_TIMEOUT_MS, reload_done, rq)) {
    rq->open_handles--;
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  }
}

/* ---- routes ---- */

/* The key routes need the key store; the spend report needs the ledger. */
static bool have_keys(struct sl_request *rq) {
  if (rq->w->keys) return true;
  sl_respond_error(rq, 503, SL_ERR_STORE_UNAVAILABLE, NULL,
                   "Virtual keys need the LMDB store: set general_settings.master_key and a writable "
                   "sluice_settings.data_dir");
  return false;
}

static void key_generate(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_generate(rq);
}
static void key_info(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_info(rq);
}
static void key_update(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_update(rq);
}
static void key_delete(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_delete(rq);
}
static void key_list(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_list(rq);
}
static void key_block(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_block(rq, true);
}
static void key_unblock(struct sl_request *rq) {
  if (have_keys(rq)) sl_admin_key_block(rq, false);
}

static void spend_report(struct sl_request *rq) {
  if (!rq->w->tenancy) {
    sl_respond_error(rq, 503, SL_ERR_STORE_UNAVAILABLE, NULL,
                     "The spend ledger needs the LMDB store: set a writable sluice_settings.data_dir");
    return;
  }
  sl_admin_spend_report(rq);
}

const struct sl_route_row sl_admin_routes[] = {
    {"/key/generate", SL_R_KEY_GENERATE, SL_M_POST, false, NULL, SL_ACCESS_MASTER, key_generate},
    /* a virtual key may read its own */
    {"/key/info", SL_R_KEY_INFO, SL_M_GET, false, NULL, SL_ACCESS_KEY, key_info},
    {"/key/update", SL_R_KEY_UPDATE, SL_M_POST, false, NULL, SL_ACCESS_MASTER, key_update},
    {"/key/delete", SL_R_KEY_DELETE, SL_M_POST, false, NULL, SL_ACCESS_MASTER, key_delete},
    {"/key/list", SL_R_KEY_LIST, SL_M_GET, false, NULL, SL_ACCESS_MASTER, key_list},
    {"/key/block", SL_R_KEY_BLOCK, SL_M_POST, false, NULL, SL_ACCESS_MASTER, key_block},
    {"/key/unblock", SL_R_KEY_UNBLOCK, SL_M_POST, false, NULL, SL_ACCESS_MASTER, key_unblock},
    {"/spend/report", SL_R_SPEND_REPORT, SL_M_GET, false, NULL, SL_ACCESS_MASTER, spend_report},
    {"/config/reload", SL_R_CONFIG_RELOAD, SL_M_POST, false, NULL, SL_ACCESS_MASTER, config_reload},
};
const size_t sl_admin_nroutes = sizeof sl_admin_routes / sizeof sl_admin_routes[0];
