/* The Responses API's state in the spine; see responses.h. The store is opened on first
 * use, so a gateway that never serves /v1/responses never creates DATA_DIR/responses.
 * To keep another kind of answer: call sl_responses_keep with its response object. */
#include "core/responses.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "core/vectors.h"
#include "core/verdict.h"
#include "net/wire/json_scan.h"
#include "net/wire/sse.h"
#include "net/wire/xlate.h"
#include "store/keys.h"
#include "store/lmdb_env.h"
#include "store/responses.h"

/* ---- the store ---- */

static struct sl_resp_store *store_of(struct sl_worker *w) {
  if (w->resp_store || w->resp_store_failed) return w->resp_store;
  const struct sl_config *c = w->cfg;
  int rc = sl_worker_env_open(w, "responses", c->responses.max_size,
                              "stored responses (store and previous_response_id are off)", &w->resp_lmdb);
  struct sl_resp_store_opts o = {.ttl_s = (int64_t)(c->responses.ttl_ms / 1000)};
  if (o.ttl_s < 1) o.ttl_s = 1;
  if (!rc) rc = sl_resp_store_open(w->resp_lmdb, &o, &w->resp_store);
  if (rc) {
    if (w->resp_lmdb) sl_lmdb_close(w->resp_lmdb);
    w->resp_lmdb = NULL;
    w->resp_store = NULL;
    w->resp_store_failed = true;
  }
  return w->resp_store;
}

void sl_responses_close(struct sl_worker *w) {
  if (w->resp_store) sl_resp_store_close(w->resp_store);
  if (w->resp_lmdb) sl_lmdb_close(w->resp_lmdb);
  w->resp_store = NULL;
  w->resp_lmdb = NULL;
}

/* Whose records a request sees: its virtual key's, or the master key's (""). */
static void owner_of(const struct sl_request *rq, char *out, size_t n) {
  if (rq->key) snprintf(out, n, "k%016" PRIx64, rq->key->id);
  else if (n) out[0] = 0;
}

/* ---- ids ---- */

static void mint_id(struct sl_request *rq) {
  uint8_t r[24];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) /* never expected; still unique per worker */
    for (size_t i = 0; i < sizeof r; i++) r[i] = (uint8_t)(sl_now_ms() >> (8 * (i % 8))) ^ (uint8_t)(rq->w->next_req >> (8 * (i % 8))) ^ (uint8_t)i;
  static const char hex[] = "0123456789abcdef";
  char *p = rq->resp_id;
  memcpy(p, "resp_", 5);
  p += 5;
  for (size_t i = 0; i < sizeof r; i++) {
    *p++ = hex[r[i] >> 4];
    *p++ = hex[r[i] & 15];
  }
  *p = 0;
}

/* The top-level "id" of a response object: its text (ids are plain ASCII) into out. */
static bool response_id(const char *json, size_t len, char *out, size_t n) {
  size_t s, e;
  if (sl_json_top_field(json, len, "id", &s, &e) || e - s < 3 || json[s] != '"' || e - s - 2 >= n) return false;
  if (memchr(json + s + 1, '\\', e - s - 2)) return false;
  memcpy(out, json + s + 1, e - s - 2);
  out[e - s - 2] = 0;
  return true;
}

/* ---- the stage ---- */

static bool group_has_native(const struct sl_request *rq) {
  const struct sl_group *g = rq->group;
  for (size_t i = 0; g && i < g->n; i++)
    if (rq->w->cfg->plan->deps[g->deps[i]].responses) return true;
  return false;
}

bool sl_responses_prepare(struct sl_request *rq, struct sl_refusal *r) {
  mint_id(rq);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(rq->json, "store");
  if (st && !cJSON_IsBool(st) && !cJSON_IsNull(st))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'store' must be a boolean");
  rq->resp_store = !cJSON_IsFalse(st);
  const cJSON *prev = cJSON_GetObjectItemCaseSensitive(rq->json, "previous_response_id");
  if (!prev || cJSON_IsNull(prev)) return true;
  if (!cJSON_IsString(prev) || !prev->valuestring[0] || strlen(prev->valuestring) > 255)
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'previous_response_id' must be a response id (a string)");
  struct sl_resp_store *s = store_of(rq->w);
  char owner[32];
  owner_of(rq, owner, sizeof owner);
  struct sl_resp_record rec = {0};
  int rc = s ? sl_resp_store_get(s, prev->valuestring, owner, (int64_t)time(NULL), &rec) : -ENOENT;
  if (rc == -ENOENT) {
    if (group_has_native(rq)) return true; /* the provider may know it */
    return sl_refuse(r, 400, SL_ERR_PREVIOUS_RESPONSE_NOT_FOUND, NULL, "Previous response with id '%.255s' not found.",
                     prev->valuestring);
  }
  if (rc == -ETIME)
    return sl_refuse(r, 400, SL_ERR_PREVIOUS_RESPONSE_NOT_FOUND, NULL,
                     "Previous response with id '%.255s' has expired (sluice_settings.responses.ttl).",
                     prev->valuestring);
  if (rc) return sl_refuse(r, 503, SL_ERR_STORE_ERROR, NULL, "Cannot read stored responses (rc %d)", rc);
  cJSON *exp = NULL;
  char err[256] = "";
  rc = sl_xlate_resp_expand(rq->json, rec.items, rec.items_len, &exp, err, sizeof err);
  sl_resp_record_free(&rec);
  if (rc == -EINVAL) return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "%s", err);
  if (rc) return sl_refuse(r, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  rq->resp_req = rq->json;
  rq->json = exp;
  rq->resp_reserialise = true;
  return true;
}

/* ---- keeping answers ---- */

void sl_responses_echo(struct sl_request *rq, struct sl_buf *resp) {
  const cJSON *prev = cJSON_GetObjectItemCaseSensitive(rq->resp_req, "previous_response_id");
  size_t s, e;
  if (!cJSON_IsString(prev) || !resp->p || sl_json_top_field(resp->p, resp->n, "previous_response_id", &s, &e)) return;
  struct sl_buf b = {0};
  sl_buf_append(&b, resp->p, s);
  sl_buf_puts(&b, "\"");
  sl_buf_json_escape(&b, prev->valuestring, strlen(prev->valuestring));
  sl_buf_puts(&b, "\"");
  sl_buf_append(&b, resp->p + e, resp->n - e);
  if (b.oom) {
    sl_buf_free(&b);
    return;
  }
  sl_buf_free(resp);
  *resp = b;
}

void sl_responses_keep(struct sl_request *rq, const char *resp, size_t len) {
  if (rq->resp_kept) return;
  rq->resp_kept = true;
  if (!rq->resp_store) return;
  char id[256];
  if (!response_id(resp, len, id, sizeof id)) return;
  struct sl_resp_store *s = store_of(rq->w);
  if (!s) return;
  struct sl_buf items = {0};
  int rc = sl_xlate_resp_history(rq->json, resp, len, &items);
  if (!rc && !items.oom) {
    char owner[32];
    owner_of(rq, owner, sizeof owner);
    rc = sl_resp_store_put(s, id, owner, (int64_t)time(NULL), resp, len, items.p, items.n);
  }
  if (rc)
    sl_log(SL_LOG_WARN, "response not stored", "\"request_id\":\"%s\",\"response_id\":\"%s\",\"rc\":%d", rq->id, id, rc);
  sl_buf_free(&items);
}

static bool event_is(const struct sl_sse_frame *fr, const char *name) {
  size_t n = strlen(name);
  return fr->event_len == n && memcmp(fr->event, name, n) == 0;
}

void sl_responses_frame(struct sl_request *rq, const struct sl_sse_frame *fr) {
  if (fr->kind != SL_SSE_EVENT || !fr->data || rq->resp_done_seen) return;
  bool done = event_is(fr, "response.completed") || event_is(fr, "response.incomplete"),
       failed = event_is(fr, "response.failed") || event_is(fr, "error");
  if (!done && !failed) return;
  rq->resp_done_seen = true;
  if (!done || (!rq->resp_store && rq->cache_state == SL_CS_NONE)) return; /* kept, or cached */
  cJSON *ev = cJSON_ParseWithLength(fr->data, fr->data_len);
  char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ev, "response"));
  if (t) sl_buf_puts(&rq->resp_final, t);
  free(t);
  cJSON_Delete(ev);
}

int sl_responses_final(struct sl_request *rq, struct sl_buf *out) {
  const struct sl_attempt *at = rq->winner;
  if (!at) return -1;
  if (at->xs) {
    if (sl_xlate_stream_result(at->xs) != SL_XLATE_END || sl_xlate_stream_response(at->xs, out)) return -1;
  } else {
    if (!rq->resp_done_seen || !rq->resp_final.n) return -1;
    sl_buf_append(out, rq->resp_final.p, rq->resp_final.n);
  }
  return out->oom ? -1 : 0;
}

void sl_responses_stream_check(struct sl_request *rq, struct sl_attempt *at) {
  if (rq->resp_kept || !rq->resp_store || at != rq->winner) return;
  struct sl_buf b = {0};
  if (sl_responses_final(rq, &b) == 0) sl_responses_keep(rq, b.p, b.n);
  sl_buf_free(&b);
}

int sl_responses_restamp(struct sl_request *rq, const char *json, size_t len, struct sl_buf *out) {
  size_t s, e;
  if (sl_json_top_field(json, len, "id", &s, &e)) return -1;
  sl_buf_append(out, json, s);
  sl_buf_puts(out, "\"");
  sl_buf_puts(out, rq->resp_id);
  sl_buf_puts(out, "\"");
  sl_buf_append(out, json + e, len - e);
  if (out->oom) return -1;
  sl_responses_keep(rq, out->p, out->n);
  return 0;
}

/* ---- GET / DELETE /v1/responses/{id}, GET .../input_items ---- */

/* The {id} of /v1/responses/{id}[/input_items], percent-decoded. */
static bool path_id(const struct sl_request *rq, char *id, size_t n) {
  const struct sl_slice path = rq->hr->path;
  const char *at = memmem(path.p, path.n, "/responses/", 11);
  if (!at) return false;
  size_t from = (size_t)(at - path.p) + 11, end = path.n;
  if (end > from && path.p[end - 1] == '/') end--;
  const char *slash = memchr(path.p + from, '/', end - from);
  if (slash) end = (size_t)(slash - path.p);
  long dn = sl_pct_decode(path.p + from, end - from, false, id, n);
  return dn > 0;
}

/* Finds the caller's record of the path's id; false when it answered (404 / 503). */
static bool lookup(struct sl_request *rq, char *id, size_t n, struct sl_resp_record *rec) {
  if (!path_id(rq, id, n)) {
    sl_respond_error(rq, 404, SL_ERR_RESPONSE_NOT_FOUND, NULL, "Response with id '(malformed)' not found.");
    return false;
  }
  struct sl_resp_store *s = store_of(rq->w);
  char owner[32];
  owner_of(rq, owner, sizeof owner);
  int rc = s ? sl_resp_store_get(s, id, owner, (int64_t)time(NULL), rec) : -ENOENT;
  if (rc == -ENOENT || rc == -ETIME) {
    sl_respond_error(rq, 404, SL_ERR_RESPONSE_NOT_FOUND, NULL, "Response with id '%.255s' %s.", id,
                     rc == -ETIME ? "has expired (sluice_settings.responses.ttl)" : "not found");
    return false;
  }
  if (rc) {
    sl_respond_error(rq, 503, SL_ERR_STORE_ERROR, NULL, "Cannot read stored responses (rc %d)", rc);
    return false;
  }
  return true;
}

void sl_request_response_get(struct sl_request *rq) {
  char id[256];
  struct sl_resp_record rec = {0};
  if (!lookup(rq, id, sizeof id, &rec)) return;
  sl_respond_json(rq, 200, rec.response, rec.response_len);
  sl_resp_record_free(&rec);
}

void sl_request_response_items(struct sl_request *rq) {
  char id[256];
  struct sl_resp_record rec = {0};
  if (!lookup(rq, id, sizeof id, &rec)) return;
  /* the items this response was given: the stored conversation less its own output */
  cJSON *items = cJSON_ParseWithLength(rec.items, rec.items_len);
  cJSON *resp = cJSON_ParseWithLength(rec.response, rec.response_len);
  int nout = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp, "output"));
  int n = cJSON_GetArraySize(items) - nout;
  cJSON *list = cJSON_CreateObject(), *data = cJSON_CreateArray();
  for (int i = n - 1; i >= 0; i--) /* newest first, as OpenAI lists them */
    cJSON_AddItemToArray(data, cJSON_Duplicate(cJSON_GetArrayItem(items, i), 1));
  cJSON_AddStringToObject(list, "object", "list");
  cJSON_AddItemToObject(list, "data", data);
  cJSON_AddBoolToObject(list, "has_more", 0);
  char *t = cJSON_PrintUnformatted(list);
  sl_respond_built(rq, t ? 0 : -ENOMEM, t, t ? strlen(t) : 0, "Out of memory");
  cJSON_Delete(list);
  cJSON_Delete(items);
  cJSON_Delete(resp);
  sl_resp_record_free(&rec);
}

void sl_request_response_delete(struct sl_request *rq) {
  char id[256], owner[32];
  if (!path_id(rq, id, sizeof id)) {
    sl_respond_error(rq, 404, SL_ERR_RESPONSE_NOT_FOUND, NULL, "Response with id '(malformed)' not found.");
    return;
  }
  owner_of(rq, owner, sizeof owner);
  struct sl_resp_store *s = store_of(rq->w);
  int rc = s ? sl_resp_store_delete(s, id, owner) : -ENOENT;
  if (rc == -ENOENT) {
    sl_respond_error(rq, 404, SL_ERR_RESPONSE_NOT_FOUND, NULL, "Response with id '%.255s' not found.", id);
    return;
  }
  if (rc) {
    sl_respond_error(rq, 503, SL_ERR_STORE_ERROR, NULL, "Cannot delete the stored response (rc %d)", rc);
    return;
  }
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"id\":\"");
  sl_buf_json_escape(&b, id, strlen(id));
  sl_buf_puts(&b, "\",\"object\":\"response.deleted\",\"deleted\":true}");
  if (b.oom) sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  else sl_respond_json(rq, 200, b.p, b.n);
  sl_buf_free(&b);
}
