/* JSON helpers shared by the translators: NULL-safe reading, tree building with a sticky
 * failure (see xlate_internal.h), direct escaped writing for streams, data URLs and tool
 * arguments. The one idea: no translator checks every cJSON call by hand; the helpers
 * do, and a failure anywhere makes every later add a no-op that frees its item. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_internal.h"

int sl__xlate_bad(struct sl_xl *x, const char *fmt, ...) {
  if (x->rc) return x->rc;
  x->rc = -EINVAL;
  if (x->err && x->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
  }
  return x->rc;
}

void sl__xlate_oom(struct sl_xl *x) {
  if (x->rc) return;
  x->rc = -ENOMEM;
  if (x->err && x->errlen) snprintf(x->err, x->errlen, "out of memory");
}

const cJSON *sl__xlate_get(const cJSON *o, const char *key) {
  if (!cJSON_IsObject(o)) return NULL;
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

const char *sl__xlate_getstr(const cJSON *o, const char *key) {
  const cJSON *v = sl__xlate_get(o, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

bool sl__xlate_getnum(const cJSON *o, const char *key, double *v) {
  const cJSON *n = sl__xlate_get(o, key);
  if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble)) return false;
  *v = n->valuedouble;
  return true;
}

int64_t sl__xlate_getint(const cJSON *o, const char *key) {
  double d;
  if (!sl__xlate_getnum(o, key, &d)) return 0;
  if (d >= 9.0e15) return (int64_t)9.0e15;
  if (d <= -9.0e15) return -(int64_t)9.0e15;
  return (int64_t)d;
}

bool sl__xlate_getidx(const cJSON *o, const char *key, int *v) {
  double d;
  if (!sl__xlate_getnum(o, key, &d) || d < 0 || d > 1e6 || d != (double)(int)d) return false;
  *v = (int)d;
  return true;
}

cJSON *sl__xlate_put(struct sl_xl *x, cJSON *parent, const char *key, cJSON *item) {
  if (!item || !parent || x->rc) {
    cJSON_Delete(item);
    if (!x->rc) sl__xlate_oom(x);
    return NULL;
  }
  bool ok = key ? cJSON_IsObject(parent) && cJSON_AddItemToObject(parent, key, item)
                : cJSON_IsArray(parent) && cJSON_AddItemToArray(parent, item);
  if (!ok) {
    cJSON_Delete(item);
    sl__xlate_oom(x);
    return NULL;
  }
  return item;
}

cJSON *sl__xlate_add_obj(struct sl_xl *x, cJSON *p, const char *k) { return sl__xlate_put(x, p, k, cJSON_CreateObject()); }
cJSON *sl__xlate_add_arr(struct sl_xl *x, cJSON *p, const char *k) { return sl__xlate_put(x, p, k, cJSON_CreateArray()); }
cJSON *sl__xlate_add_str(struct sl_xl *x, cJSON *p, const char *k, const char *s) {
  return sl__xlate_put(x, p, k, cJSON_CreateString(s ? s : ""));
}
cJSON *sl__xlate_add_num(struct sl_xl *x, cJSON *p, const char *k, double v) { return sl__xlate_put(x, p, k, cJSON_CreateNumber(v)); }
cJSON *sl__xlate_add_bool(struct sl_xl *x, cJSON *p, const char *k, bool v) { return sl__xlate_put(x, p, k, cJSON_CreateBool(v)); }
cJSON *sl__xlate_add_null(struct sl_xl *x, cJSON *p, const char *k) { return sl__xlate_put(x, p, k, cJSON_CreateNull()); }
cJSON *sl__xlate_add_copy(struct sl_xl *x, cJSON *p, const char *k, const cJSON *v) {
  return sl__xlate_put(x, p, k, v ? cJSON_Duplicate(v, 1) : NULL);
}

void sl__xlate_print(struct sl_xl *x, const cJSON *root, struct sl_buf *out) {
  if (x->rc) return;
  char *s = root ? cJSON_PrintUnformatted(root) : NULL;
  if (!s) {
    sl__xlate_oom(x);
    return;
  }
  sl_buf_puts(out, s);
  cJSON_free(s);
  if (out->oom) sl__xlate_oom(x);
}

void sl__xlate_put_jstrn(struct sl_buf *b, const char *s, size_t n) {
  sl_buf_append(b, "\"", 1);
  sl_buf_json_escape(b, s, n);
  sl_buf_append(b, "\"", 1);
}

void sl__xlate_put_jstr(struct sl_buf *b, const char *s) {
  if (!s) sl_buf_puts(b, "null");
  else sl__xlate_put_jstrn(b, s, strlen(s));
}

void sl__xlate_put_json(struct sl_buf *b, const cJSON *v) {
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  if (!v) {
    sl_buf_puts(b, "null");
    return;
  }
  if (!s) {
    b->oom = true;
    return;
  }
  sl_buf_puts(b, s);
  cJSON_free(s);
}

bool sl__xlate_data_url(const char *url, const char **type, size_t *type_len, const char **data) {
  if (!url || strncmp(url, "data:", 5) != 0) return false;
  const char *p = url + 5, *comma = strchr(p, ',');
  if (!comma) return false;
  /* ";base64" must be the last parameter before the comma. */
  if ((size_t)(comma - p) < 7 || strncmp(comma - 7, ";base64", 7) != 0) return false;
  const char *semi = memchr(p, ';', (size_t)(comma - p));
  *type = p;
  *type_len = (size_t)(semi - p);
  *data = comma + 1;
  return true;
}

cJSON *sl__xlate_parse_args(const char *s) {
  cJSON *v = s ? cJSON_ParseWithOpts(s, NULL, 1) : NULL;
  if (cJSON_IsObject(v)) return v;
  cJSON_Delete(v);
  return cJSON_CreateObject();
}

cJSON *sl__xlate_chat_root(struct sl_xl *x, const cJSON *req, const struct sl_xlate_req_opts *o, cJSON **msgs) {
  const char *model = o && o->model ? o->model : sl__xlate_getstr(req, "model");
  *msgs = NULL;
  if (!model) {
    sl__xlate_bad(x, "model: a string is required");
    return NULL;
  }
  cJSON *root = cJSON_CreateObject();
  if (!root) {
    sl__xlate_oom(x);
    return NULL;
  }
  sl__xlate_add_str(x, root, "model", model);
  *msgs = sl__xlate_add_arr(x, root, "messages");
  return root;
}
