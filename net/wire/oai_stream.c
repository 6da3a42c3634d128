/* Assembling OpenAI chunk streams into whole completions, and replaying whole
 * completions as chunk streams; see oai_stream.h for the merge rules. The one idea:
 * the assembler keeps, per level (top, choice, message, tool call, logprobs), an
 * ordered list of fields with one of three merge modes (concatenate strings, replace,
 * concatenate arrays), and the replayer emits exactly the deltas those modes fold back. */
#include "net/wire/oai_stream.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"

#define MAX_FIELDS 256

enum fkind { F_NULL, F_STR, F_JSON };
enum fmode {
  M_CONCAT,  /* strings and arrays concatenate, other values replace (delta fields) */
  M_REPLACE, /* every value replaces (top level, choice level, tool call extras) */
  M_ARRAYS,  /* arrays concatenate, other values replace (logprobs) */
};

struct field {
  char *name;
  enum fkind kind;
  struct sl_buf s;
  cJSON *v;
};

struct fields {
  struct field *f;
  size_t n, cap;
};

struct tcall {
  bool used, has_id, has_type, has_name;
  struct sl_buf id, type, name, args;
  struct fields extra, fextra;
};

struct choice {
  struct fields msg, lp, extra;
  struct tcall *tc;
  size_t ntc;
  bool tc_seen, fc_seen, lp_seen, lp_obj;
  struct tcall fc;
  cJSON *finish;
  struct sl_buf text;
};

enum { K_UNKNOWN, K_CHAT, K_TEXT };

struct sl_oai_asm {
  struct sl_sse sse;
  int kind;
  struct fields top;
  cJSON *usage;
  struct choice *ch[SL_OAI_MAX_CHOICES];
  bool done;
  size_t fed;
  int err;
};

/* ---- fields ---- */

static void field_clear(struct field *f) {
  sl_buf_free(&f->s);
  cJSON_Delete(f->v);
  f->v = NULL;
  f->kind = F_NULL;
}

static void fields_free(struct fields *fs) {
  for (size_t i = 0; i < fs->n; i++) {
    field_clear(&fs->f[i]);
    free(fs->f[i].name);
  }
  free(fs->f);
  memset(fs, 0, sizeof *fs);
}

static struct field *fields_find(struct fields *fs, const char *name) {
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->f[i].name, name) == 0) return &fs->f[i];
  return NULL;
}

static struct field *fields_add(struct fields *fs, const char *name) {
  if (fs->n >= MAX_FIELDS) return NULL;
  if (fs->n == fs->cap) {
    size_t cap = fs->cap ? fs->cap * 2 : 8;
    struct field *p = realloc(fs->f, cap * sizeof *p);
    if (!p) return NULL;
    fs->f = p;
    fs->cap = cap;
  }
  struct field *f = &fs->f[fs->n];
  memset(f, 0, sizeof *f);
  f->name = strdup(name);
  if (!f->name) return NULL;
  fs->n++;
  return f;
}

static int fields_apply(struct fields *fs, const char *name, const cJSON *v, enum fmode m) {
  if (!name) return -EBADMSG;
  struct field *f = fields_find(fs, name);
  if (cJSON_IsNull(v)) { /* a null never replaces a value, but is kept when alone */
    if (!f && !fields_add(fs, name)) return -ENOMEM;
    return 0;
  }
  if (!f && !(f = fields_add(fs, name))) return -ENOMEM;
  if (m == M_CONCAT && cJSON_IsString(v)) {
    if (f->kind != F_STR) {
      field_clear(f);
      f->kind = F_STR;
    }
    sl_buf_puts(&f->s, v->valuestring);
    return f->s.oom ? -ENOMEM : 0;
  }
  if (m != M_REPLACE && cJSON_IsArray(v) && f->kind == F_JSON && cJSON_IsArray(f->v)) {
    for (const cJSON *it = v->child; it; it = it->next) {
      cJSON *d = cJSON_Duplicate(it, 1);
      if (!d) return -ENOMEM;
      cJSON_AddItemToArray(f->v, d);
    }
    return 0;
  }
  cJSON *d = cJSON_Duplicate(v, 1);
  if (!d) return -ENOMEM;
  field_clear(f);
  f->kind = F_JSON;
  f->v = d;
  return 0;
}

/* Moves a field's value into obj under its name. */
static bool field_emit(cJSON *obj, struct field *f) {
  cJSON *v;
  switch (f->kind) {
  case F_STR: v = cJSON_CreateString(f->s.p ? f->s.p : ""); break;
  case F_JSON: v = f->v; f->v = NULL; f->kind = F_NULL; break;
  default: v = cJSON_CreateNull();
  }
  return v && cJSON_AddItemToObject(obj, f->name, v);
}

static bool fields_emit(cJSON *obj, struct fields *fs, const char *const *skip) {
  for (size_t i = 0; i < fs->n; i++) {
    bool skipped = false;
    for (const char *const *s = skip; s && *s; s++)
      if (!strcmp(fs->f[i].name, *s)) skipped = true;
    if (!skipped && !field_emit(obj, &fs->f[i])) return false;
  }
  return true;
}

/* ---- assembler ---- */

static void tcall_free(struct tcall *t) {
  sl_buf_free(&t->id);
  sl_buf_free(&t->type);
  sl_buf_free(&t->name);
  sl_buf_free(&t->args);
  fields_free(&t->extra);
  fields_free(&t->fextra);
}

static void choice_free(struct choice *c) {
  if (!c) return;
  fields_free(&c->msg);
  fields_free(&c->lp);
  fields_free(&c->extra);
  for (size_t i = 0; i < c->ntc; i++) tcall_free(&c->tc[i]);
  free(c->tc);
  tcall_free(&c->fc);
  cJSON_Delete(c->finish);
  sl_buf_free(&c->text);
  free(c);
}

int sl_oai_asm_new(struct sl_oai_asm **out) {
  struct sl_oai_asm *a = calloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  sl_sse_init(&a->sse, SL_OAI_MAX_STREAM);
  *out = a;
  return 0;
}

void sl_oai_asm_free(struct sl_oai_asm *a) {
  if (!a) return;
  sl_sse_free(&a->sse);
  fields_free(&a->top);
  cJSON_Delete(a->usage);
  for (size_t i = 0; i < SL_OAI_MAX_CHOICES; i++) choice_free(a->ch[i]);
  free(a);
}

static int fail(struct sl_oai_asm *a, int err) {
  if (!a->err) a->err = err;
  return a->err;
}

/* A non-negative integer index from a JSON number, or -1. */
static long index_of(const cJSON *o, long dflt, long max) {
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "index");
  if (!i) return dflt < max ? dflt : -1;
  if (!cJSON_IsNumber(i) || !(i->valuedouble >= 0) || i->valuedouble >= (double)max) return -1;
  long v = (long)i->valuedouble;
  return (double)v == i->valuedouble ? v : -1;
}

/* function.name: set once; a repeat of the whole name is ignored, a new piece appended. */
static void merge_name(struct tcall *t, const char *s) {
  if (!t->has_name) {
    t->has_name = true;
    sl_buf_puts(&t->name, s);
  } else if (!(t->name.p && strcmp(t->name.p, s) == 0)) {
    sl_buf_puts(&t->name, s);
  }
}

static int merge_function(struct tcall *t, const cJSON *fn) {
  for (const cJSON *m = fn->child; m; m = m->next) {
    if (!m->string) return -EBADMSG;
    if (!strcmp(m->string, "name") && cJSON_IsString(m)) {
      merge_name(t, m->valuestring);
    } else if (!strcmp(m->string, "arguments") && cJSON_IsString(m)) {
      sl_buf_puts(&t->args, m->valuestring);
    } else if (!strcmp(m->string, "name") || !strcmp(m->string, "arguments")) {
      if (!cJSON_IsNull(m)) return -EBADMSG;
    } else {
      int rc = fields_apply(&t->fextra, m->string, m, M_REPLACE);
      if (rc) return rc;
    }
  }
  return t->name.oom || t->args.oom ? -ENOMEM : 0;
}

static int merge_tool(struct choice *c, const cJSON *item, long pos) {
  if (!cJSON_IsObject(item)) return -EBADMSG;
  long idx = index_of(item, pos, SL_OAI_MAX_TOOL_CALLS);
  if (idx < 0) return -EBADMSG;
  if ((size_t)idx >= c->ntc) {
    struct tcall *p = realloc(c->tc, ((size_t)idx + 1) * sizeof *p);
    if (!p) return -ENOMEM;
    memset(p + c->ntc, 0, ((size_t)idx + 1 - c->ntc) * sizeof *p);
    c->tc = p;
    c->ntc = (size_t)idx + 1;
  }
  struct tcall *t = &c->tc[idx];
  t->used = true;
  for (const cJSON *m = item->child; m; m = m->next) {
    if (!m->string) return -EBADMSG;
    int rc = 0;
    if (!strcmp(m->string, "index")) continue;
    if (!strcmp(m->string, "id")) {
      if (cJSON_IsString(m) && m->valuestring[0] && (!t->has_id || t->id.n == 0)) {
        t->id.n = 0;
        sl_buf_puts(&t->id, m->valuestring);
        t->has_id = true;
      }
    } else if (!strcmp(m->string, "type")) {
      if (cJSON_IsString(m) && !t->has_type) {
        sl_buf_puts(&t->type, m->valuestring);
        t->has_type = true;
      }
    } else if (!strcmp(m->string, "function")) {
      if (cJSON_IsObject(m)) rc = merge_function(t, m);
      else if (!cJSON_IsNull(m)) rc = -EBADMSG;
    } else {
      rc = fields_apply(&t->extra, m->string, m, M_REPLACE);
    }
    if (rc) return rc;
  }
  return t->id.oom || t->type.oom ? -ENOMEM : 0;
}

static int merge_delta(struct choice *c, const cJSON *d) {
  for (const cJSON *m = d->child; m; m = m->next) {
    if (!m->string) return -EBADMSG;
    int rc = 0;
    if (!strcmp(m->string, "tool_calls")) {
      if (cJSON_IsArray(m)) {
        c->tc_seen = true;
        long pos = 0;
        for (const cJSON *it = m->child; it && !rc; it = it->next) rc = merge_tool(c, it, pos++);
      } else if (!cJSON_IsNull(m)) {
        rc = -EBADMSG;
      }
    } else if (!strcmp(m->string, "function_call")) {
      if (cJSON_IsObject(m)) {
        c->fc_seen = true;
        rc = merge_function(&c->fc, m);
      } else if (!cJSON_IsNull(m)) {
        rc = -EBADMSG;
      }
    } else if (!strcmp(m->string, "role")) {
      /* a string (or null); anything else is not a chunk stream we could replay as sent */
      rc = cJSON_IsString(m) || cJSON_IsNull(m) ? fields_apply(&c->msg, "role", m, M_REPLACE) : -EBADMSG;
    } else {
      rc = fields_apply(&c->msg, m->string, m, M_CONCAT);
    }
    if (rc) return rc;
  }
  return 0;
}

static int merge_choice(struct sl_oai_asm *a, const cJSON *o, long pos) {
  if (!cJSON_IsObject(o)) return -EBADMSG;
  long idx = index_of(o, pos, SL_OAI_MAX_CHOICES);
  if (idx < 0) return -EBADMSG;
  struct choice *c = a->ch[idx];
  if (!c && !(c = a->ch[idx] = calloc(1, sizeof *c))) return -ENOMEM;
  for (const cJSON *m = o->child; m; m = m->next) {
    if (!m->string) return -EBADMSG;
    int rc = 0;
    const char *n = m->string;
    if (!strcmp(n, "index") || (a->kind == K_CHAT && !strcmp(n, "message"))) continue;
    if (a->kind == K_CHAT && !strcmp(n, "delta")) {
      if (cJSON_IsObject(m)) rc = merge_delta(c, m);
      else if (!cJSON_IsNull(m)) rc = -EBADMSG;
    } else if (a->kind == K_TEXT && !strcmp(n, "text")) {
      if (cJSON_IsString(m)) sl_buf_puts(&c->text, m->valuestring);
      else if (!cJSON_IsNull(m)) rc = -EBADMSG;
      if (c->text.oom) rc = -ENOMEM;
    } else if (!strcmp(n, "logprobs")) {
      c->lp_seen = true;
      if (cJSON_IsObject(m)) {
        c->lp_obj = true;
        for (const cJSON *l = m->child; l && !rc; l = l->next) rc = fields_apply(&c->lp, l->string, l, M_ARRAYS);
      } else if (!cJSON_IsNull(m)) {
        rc = -EBADMSG;
      }
    } else if (!strcmp(n, "finish_reason")) {
      if (!cJSON_IsNull(m)) {
        cJSON *d = cJSON_Duplicate(m, 1);
        if (!d) return -ENOMEM;
        cJSON_Delete(c->finish);
        c->finish = d;
      }
    } else {
      rc = fields_apply(&c->extra, n, m, M_REPLACE);
    }
    if (rc) return rc;
  }
  return 0;
}

static int kind_of_chunk(const cJSON *j, const cJSON *choices) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "object");
  if (cJSON_IsString(o)) {
    if (!strcmp(o->valuestring, "chat.completion.chunk") || !strcmp(o->valuestring, "chat.completion")) return K_CHAT;
    if (!strcmp(o->valuestring, "text_completion")) return K_TEXT;
  }
  const cJSON *c0 = cJSON_IsArray(choices) ? choices->child : NULL;
  if (cJSON_IsObject(c0)) {
    if (cJSON_GetObjectItemCaseSensitive(c0, "delta")) return K_CHAT;
    if (cJSON_GetObjectItemCaseSensitive(c0, "text")) return K_TEXT;
  }
  return K_UNKNOWN;
}

static int merge_chunk(struct sl_oai_asm *a, const cJSON *j) {
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
  if (err && !cJSON_IsNull(err)) return -EBADMSG;
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
  if (choices && !cJSON_IsArray(choices) && !cJSON_IsNull(choices)) return -EBADMSG;
  int k = kind_of_chunk(j, choices);
  if (k != K_UNKNOWN) {
    if (a->kind != K_UNKNOWN && a->kind != k) return -EBADMSG;
    a->kind = k;
  } else if (cJSON_IsArray(choices) && choices->child) {
    return -EBADMSG; /* choices we cannot read */
  }
  for (const cJSON *m = j->child; m; m = m->next) {
    if (!m->string) return -EBADMSG;
    /* "obfuscation" is random padding OpenAI adds to stream chunks only */
    if (!strcmp(m->string, "object") || !strcmp(m->string, "choices") || !strcmp(m->string, "obfuscation")) continue;
    if (!strcmp(m->string, "usage")) {
      if (cJSON_IsObject(m)) {
        cJSON *d = cJSON_Duplicate(m, 1);
        if (!d) return -ENOMEM;
        cJSON_Delete(a->usage);
        a->usage = d;
      }
      continue;
    }
    int rc = fields_apply(&a->top, m->string, m, M_REPLACE);
    if (rc) return rc;
  }
  long pos = 0;
  for (const cJSON *c = cJSON_IsArray(choices) ? choices->child : NULL; c; c = c->next) {
    int rc = merge_choice(a, c, pos++);
    if (rc) return rc;
  }
  return 0;
}

int sl_oai_asm_feed_event(struct sl_oai_asm *a, const char *data, size_t n) {
  if (a->err) return a->err;
  a->fed += n;
  if (a->fed > SL_OAI_MAX_STREAM) return fail(a, -EMSGSIZE);
  while (n && (data[0] == ' ' || data[0] == '\t' || data[0] == '\r' || data[0] == '\n')) data++, n--;
  while (n && (data[n - 1] == ' ' || data[n - 1] == '\t' || data[n - 1] == '\r' || data[n - 1] == '\n')) n--;
  if (n == 0) return 0; /* an empty keep-alive event */
  if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
    a->done = true;
    return 0;
  }
  if (a->done) return 0; /* nothing counts after [DONE] */
  cJSON *j = cJSON_ParseWithLength(data, n);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return fail(a, -EBADMSG);
  }
  int rc = merge_chunk(a, j);
  cJSON_Delete(j);
  return rc ? fail(a, rc) : 0;
}

static int on_sse(void *ud, const struct sl_sse_event *ev) {
  struct sl_oai_asm *a = ud;
  if (ev->event_len && !(ev->event_len == 7 && !memcmp(ev->event, "message", 7))) {
    if (ev->event_len == 5 && !memcmp(ev->event, "error", 5)) return fail(a, -EBADMSG);
    return 0; /* other named events are not chunks */
  }
  sl_oai_asm_feed_event(a, ev->data, ev->data_len);
  return 0;
}

int sl_oai_asm_feed_frame(struct sl_oai_asm *a, const struct sl_sse_frame *fr) {
  if (a->err) return a->err;
  if (fr->kind == SL_SSE_OVERSIZE) return fail(a, -EMSGSIZE);
  if (fr->kind != SL_SSE_EVENT || !fr->data_lines) return 0;
  struct sl_sse_event ev = {.event = fr->event, .event_len = fr->event_len, .data = fr->data, .data_len = fr->data_len};
  on_sse(a, &ev);
  return a->err;
}

int sl_oai_asm_feed_bytes(struct sl_oai_asm *a, const char *p, size_t n) {
  if (a->err) return a->err;
  int rc = sl_sse_feed(&a->sse, p, n, on_sse, a);
  if (rc < 0) return fail(a, rc);
  return a->err;
}

static cJSON *build_tcall(struct tcall *t, bool with_id_type) {
  cJSON *o = cJSON_CreateObject(), *fn = cJSON_CreateObject();
  if (!o || !fn) {
    cJSON_Delete(o);
    cJSON_Delete(fn);
    return NULL;
  }
  if (with_id_type) {
    if (t->has_id) cJSON_AddStringToObject(o, "id", t->id.p ? t->id.p : "");
    cJSON_AddStringToObject(o, "type", t->has_type && t->type.p ? t->type.p : "function");
  }
  if (t->has_name) cJSON_AddStringToObject(fn, "name", t->name.p ? t->name.p : "");
  cJSON_AddStringToObject(fn, "arguments", t->args.p ? t->args.p : "");
  if (!fields_emit(fn, &t->fextra, NULL)) {
    cJSON_Delete(fn);
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddItemToObject(o, "function", fn);
  if (!fields_emit(o, &t->extra, NULL)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static cJSON *build_choice(struct sl_oai_asm *a, struct choice *c, long idx) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  bool ok = true;
  if (a->kind == K_TEXT) {
    ok &= cJSON_AddStringToObject(o, "text", c->text.p ? c->text.p : "") != NULL;
    ok &= cJSON_AddNumberToObject(o, "index", (double)idx) != NULL;
  } else {
    ok &= cJSON_AddNumberToObject(o, "index", (double)idx) != NULL;
    cJSON *msg = cJSON_CreateObject();
    ok &= msg && cJSON_AddItemToObject(o, "message", msg);
    if (ok) {
      struct field *role = fields_find(&c->msg, "role"), *content = fields_find(&c->msg, "content");
      if (role && role->kind != F_NULL) ok &= field_emit(msg, role);
      else ok &= cJSON_AddStringToObject(msg, "role", "assistant") != NULL;
      if (content) ok &= field_emit(msg, content);
      else ok &= cJSON_AddNullToObject(msg, "content") != NULL;
      static const char *const skip[] = {"role", "content", NULL};
      ok &= fields_emit(msg, &c->msg, skip);
      if (ok && c->tc_seen) {
        cJSON *arr = cJSON_CreateArray();
        ok &= arr && cJSON_AddItemToObject(msg, "tool_calls", arr);
        for (size_t i = 0; ok && i < c->ntc; i++) {
          if (!c->tc[i].used) continue;
          cJSON *t = build_tcall(&c->tc[i], true);
          ok &= t && cJSON_AddItemToArray(arr, t);
        }
      }
      if (ok && c->fc_seen) {
        cJSON *fc = build_tcall(&c->fc, false);
        cJSON *fn = fc ? cJSON_DetachItemFromObjectCaseSensitive(fc, "function") : NULL;
        cJSON_Delete(fc);
        ok &= fn && cJSON_AddItemToObject(msg, "function_call", fn);
      }
    }
  }
  if (ok && c->lp_seen) {
    if (c->lp_obj) {
      cJSON *lp = cJSON_CreateObject();
      ok &= lp && cJSON_AddItemToObject(o, "logprobs", lp) && fields_emit(lp, &c->lp, NULL);
    } else {
      ok &= cJSON_AddNullToObject(o, "logprobs") != NULL;
    }
  }
  if (ok) {
    cJSON *fr = c->finish ? c->finish : cJSON_CreateNull();
    c->finish = NULL;
    ok &= fr && cJSON_AddItemToObject(o, "finish_reason", fr);
  }
  ok = ok && fields_emit(o, &c->extra, NULL);
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

int sl_oai_asm_finish(struct sl_oai_asm *a, char **json, size_t *len, bool *complete) {
  *json = NULL;
  if (len) *len = 0;
  *complete = false;
  if (!a->err) {
    int rc = sl_sse_finish(&a->sse, on_sse, a);
    if (rc < 0) fail(a, rc);
  }
  if (a->err) return a->err;
  size_t nchoices = 0;
  bool all_finished = true;
  for (size_t i = 0; i < SL_OAI_MAX_CHOICES; i++)
    if (a->ch[i]) {
      nchoices++;
      if (!a->ch[i]->finish) all_finished = false;
    }
  if (a->kind == K_UNKNOWN || nchoices == 0) return -EBADMSG;
  *complete = a->done && all_finished;

  cJSON *root = cJSON_CreateObject();
  bool ok = root != NULL;
  struct field *id = fields_find(&a->top, "id"), *created = fields_find(&a->top, "created"),
               *model = fields_find(&a->top, "model");
  if (ok && id) ok &= field_emit(root, id);
  ok = ok && cJSON_AddStringToObject(root, "object", a->kind == K_TEXT ? "text_completion" : "chat.completion");
  if (ok && created) ok &= field_emit(root, created);
  if (ok && model) ok &= field_emit(root, model);
  static const char *const skip[] = {"id", "created", "model", NULL};
  ok = ok && fields_emit(root, &a->top, skip);
  cJSON *arr = ok ? cJSON_CreateArray() : NULL;
  ok = ok && arr && cJSON_AddItemToObject(root, "choices", arr);
  for (size_t i = 0; ok && i < SL_OAI_MAX_CHOICES; i++) {
    if (!a->ch[i]) continue;
    cJSON *c = build_choice(a, a->ch[i], (long)i);
    ok &= c && cJSON_AddItemToArray(arr, c);
  }
  if (ok && a->usage) {
    ok &= cJSON_AddItemToObject(root, "usage", a->usage);
    a->usage = NULL;
  }
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!s) {
    *complete = false;
    return fail(a, -ENOMEM);
  }
  *json = s;
  if (len) *len = strlen(s);
  a->err = -EALREADY; /* the fields were moved out: finish is once */
  return 0;
}

/* ---- replayer ---- */

struct rp {
  struct sl_buf *out;
  struct sl_buf head; /* "{...top fields" without the closing brace */
  bool usage_null;
  size_t piece;
};

static void put_json(struct sl_buf *b, const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  if (!s) {
    b->oom = true;
    return;
  }
  sl_buf_puts(b, s);
  free(s);
}

static void put_str(struct sl_buf *b, const char *s, size_t n) {
  sl_buf_append(b, "\"", 1);
  sl_buf_json_escape(b, s, n);
  sl_buf_append(b, "\"", 1);
}

static void chunk_open(struct rp *r) {
  sl_buf_puts(r->out, "data: ");
  sl_buf_append(r->out, r->head.p, r->head.n);
  sl_buf_puts(r->out, ",\"choices\":[");
}

static void chunk_close(struct rp *r) {
  sl_buf_puts(r->out, "]");
  if (r->usage_null) sl_buf_puts(r->out, ",\"usage\":null");
  sl_buf_puts(r->out, "}\n\n");
}

/* End of the next piece of s[pos..n): at most max bytes, after a space or newline when
 * one is near, never inside a UTF-8 sequence. */
static size_t next_piece(const char *s, size_t n, size_t pos, size_t max) {
  if (n - pos <= max) return n;
  size_t lim = pos + max;
  for (size_t e = lim; e > pos + max / 2; e--)
    if (s[e - 1] == ' ' || s[e - 1] == '\n') return e;
  size_t e = lim;
  while (e > pos && ((unsigned char)s[e] & 0xC0) == 0x80) e--;
  return e > pos ? e : lim;
}

/* The common tail of a choice: logprobs, finish_reason, extra fields. */
static void choice_tail(struct rp *r, const cJSON *lp, const cJSON *finish, const cJSON *extras_of, bool chat) {
  if (lp) {
    sl_buf_puts(r->out, ",\"logprobs\":");
    put_json(r->out, lp);
  }
  sl_buf_puts(r->out, ",\"finish_reason\":");
  if (finish) put_json(r->out, finish);
  else sl_buf_puts(r->out, "null");
  for (const cJSON *m = extras_of ? extras_of->child : NULL; m; m = m->next) {
    if (!strcmp(m->string, "index") || !strcmp(m->string, "logprobs") || !strcmp(m->string, "finish_reason") ||
        (chat && (!strcmp(m->string, "message") || !strcmp(m->string, "delta"))) ||
        (!chat && !strcmp(m->string, "text")))
      continue;
    sl_buf_append(r->out, ",", 1);
    put_str(r->out, m->string, strlen(m->string));
    sl_buf_append(r->out, ":", 1);
    put_json(r->out, m);
  }
  sl_buf_puts(r->out, "}");
}

static const cJSON NULL_JSON = {.type = cJSON_NULL};

/* A chat chunk whose delta is {"<name>": "<piece>"} (name may be NULL: delta {}). */
static void chat_piece(struct rp *r, long idx, const char *name, const char *s, size_t n, bool has_lp) {
  chunk_open(r);
  sl_buf_printf(r->out, "{\"index\":%ld,\"delta\":{", idx);
  if (name) {
    put_str(r->out, name, strlen(name));
    sl_buf_append(r->out, ":", 1);
    put_str(r->out, s, n);
  }
  sl_buf_puts(r->out, "}");
  choice_tail(r, has_lp ? &NULL_JSON : NULL, NULL, NULL, true);
  chunk_close(r);
}

static void chat_pieces(struct rp *r, long idx, const char *name, const char *s, bool has_lp) {
  size_t n = strlen(s), pos = 0;
  do {
    size_t e = next_piece(s, n, pos, r->piece);
    chat_piece(r, idx, name, s + pos, e - pos, has_lp);
    pos = e;
  } while (pos < n);
}

/* A chat chunk whose delta is the given JSON text. */
static void chat_delta(struct rp *r, long idx, const char *delta, bool has_lp) {
  chunk_open(r);
  sl_buf_printf(r->out, "{\"index\":%ld,\"delta\":%s", idx, delta);
  choice_tail(r, has_lp ? &NULL_JSON : NULL, NULL, NULL, true);
  chunk_close(r);
}

static bool is_msg_special(const char *n) {
  return !strcmp(n, "role") || !strcmp(n, "content") || !strcmp(n, "tool_calls") || !strcmp(n, "function_call");
}

static void replay_function(struct rp *r, long idx, const cJSON *tc, long j, bool legacy, bool has_lp) {
  const cJSON *fn = legacy ? tc : cJSON_GetObjectItemCaseSensitive(tc, "function");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
  struct sl_buf d = {0};
  /* head: everything but the arguments */
  if (legacy) {
    sl_buf_puts(&d, "{\"function_call\":{");
  } else {
    sl_buf_printf(&d, "{\"tool_calls\":[{\"index\":%ld", j);
    for (const cJSON *m = tc->child; m; m = m->next) {
      if (!strcmp(m->string, "index") || !strcmp(m->string, "function")) continue;
      sl_buf_append(&d, ",", 1);
      put_str(&d, m->string, strlen(m->string));
      sl_buf_append(&d, ":", 1);
      put_json(&d, m);
    }
    sl_buf_puts(&d, ",\"function\":{");
  }
  bool first = true;
  for (const cJSON *m = cJSON_IsObject(fn) ? fn->child : NULL; m; m = m->next) {
    if (!strcmp(m->string, "arguments")) continue; /* streamed below */
    if (!first) sl_buf_append(&d, ",", 1);
    first = false;
    put_str(&d, m->string, strlen(m->string));
    sl_buf_append(&d, ":", 1);
    put_json(&d, m);
  }
  sl_buf_puts(&d, first ? "\"arguments\":\"\"}" : ",\"arguments\":\"\"}");
  sl_buf_puts(&d, legacy ? "}" : "}]}");
  if (!d.oom) chat_delta(r, idx, d.p, has_lp);
  sl_buf_free(&d);
  if (!cJSON_IsString(args) || !args->valuestring[0]) return;
  const char *s = args->valuestring;
  size_t n = strlen(s), pos = 0;
  while (pos < n) {
    size_t e = next_piece(s, n, pos, r->piece);
    struct sl_buf p = {0};
    if (legacy) sl_buf_puts(&p, "{\"function_call\":{\"arguments\":");
    else sl_buf_printf(&p, "{\"tool_calls\":[{\"index\":%ld,\"function\":{\"arguments\":", j);
    put_str(&p, s + pos, e - pos);
    sl_buf_puts(&p, legacy ? "}}" : "}}]}");
    if (!p.oom) chat_delta(r, idx, p.p, has_lp);
    sl_buf_free(&p);
    pos = e;
  }
}

static void replay_chat_choice(struct rp *r, const cJSON *ch, long idx) {
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
  bool has_lp = lp != NULL;
  const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");

  /* the role chunk carries every non-string field of the message */
  struct sl_buf d = {0};
  sl_buf_puts(&d, "{\"role\":");
  if (role && !cJSON_IsNull(role)) put_json(&d, role); /* as stored, whatever its type */
  else sl_buf_puts(&d, "\"assistant\"");
  sl_buf_puts(&d, ",\"content\":");
  if (cJSON_IsString(content)) sl_buf_puts(&d, "\"\"");
  else if (content) put_json(&d, content);
  else sl_buf_puts(&d, "null");
  for (const cJSON *m = cJSON_IsObject(msg) ? msg->child : NULL; m; m = m->next) {
    if (is_msg_special(m->string) || cJSON_IsString(m)) continue;
    sl_buf_append(&d, ",", 1);
    put_str(&d, m->string, strlen(m->string));
    sl_buf_append(&d, ":", 1);
    put_json(&d, m);
  }
  sl_buf_puts(&d, "}");
  if (!d.oom) chat_delta(r, idx, d.p, has_lp);
  else r->out->oom = true;
  sl_buf_free(&d);

  /* other string fields (reasoning_content, refusal, ...) before the content */
  for (const cJSON *m = cJSON_IsObject(msg) ? msg->child : NULL; m; m = m->next)
    if (!is_msg_special(m->string) && cJSON_IsString(m)) chat_pieces(r, idx, m->string, m->valuestring, has_lp);
  if (cJSON_IsString(content) && content->valuestring[0])
    chat_pieces(r, idx, "content", content->valuestring, has_lp);

  const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
  if (cJSON_IsArray(tcs)) {
    if (!tcs->child) chat_delta(r, idx, "{\"tool_calls\":[]}", has_lp);
    long j = 0;
    for (const cJSON *tc = tcs->child; tc; tc = tc->next, j++)
      if (cJSON_IsObject(tc)) replay_function(r, idx, tc, j, false, has_lp);
  }
  const cJSON *fc = cJSON_GetObjectItemCaseSensitive(msg, "function_call");
  if (cJSON_IsObject(fc)) replay_function(r, idx, fc, 0, true, has_lp);

  if (cJSON_IsObject(lp)) { /* logprobs whole, in one chunk */
    chunk_open(r);
    sl_buf_printf(r->out, "{\"index\":%ld,\"delta\":{}", idx);
    choice_tail(r, lp, NULL, NULL, true);
    chunk_close(r);
  }
  chunk_open(r);
  sl_buf_printf(r->out, "{\"index\":%ld,\"delta\":{}", idx);
  choice_tail(r, has_lp ? &NULL_JSON : NULL, cJSON_GetObjectItemCaseSensitive(ch, "finish_reason"), ch, true);
  chunk_close(r);
}

static void text_chunk(struct rp *r, long idx, const char *s, size_t n, const cJSON *lp, const cJSON *finish,
                       const cJSON *extras_of) {
  chunk_open(r);
  sl_buf_puts(r->out, "{\"text\":");
  put_str(r->out, s, n);
  sl_buf_printf(r->out, ",\"index\":%ld", idx);
  choice_tail(r, lp, finish, extras_of, false);
  chunk_close(r);
}

static void replay_text_choice(struct rp *r, const cJSON *ch, long idx) {
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(ch, "text");
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
  const cJSON *lpnull = lp ? &NULL_JSON : NULL;
  const char *s = cJSON_IsString(text) ? text->valuestring : "";
  size_t n = strlen(s), pos = 0;
  while (pos < n) {
    size_t e = next_piece(s, n, pos, r->piece);
    text_chunk(r, idx, s + pos, e - pos, lpnull, NULL, NULL);
    pos = e;
  }
  if (cJSON_IsObject(lp)) text_chunk(r, idx, "", 0, lp, NULL, NULL);
  text_chunk(r, idx, "", 0, lpnull, cJSON_GetObjectItemCaseSensitive(ch, "finish_reason"), ch);
}

int sl_oai_replay(const char *json, size_t len, const struct sl_oai_replay_opts *o, struct sl_buf *out) {
  cJSON *j = cJSON_ParseWithLength(json, len);
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
  if (!cJSON_IsObject(j) || !cJSON_IsArray(choices)) {
    cJSON_Delete(j);
    return -EINVAL;
  }
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(j, "object");
  const cJSON *c0 = choices->child;
  bool chat;
  if (cJSON_IsString(obj) && !strcmp(obj->valuestring, "chat.completion")) chat = true;
  else if (cJSON_IsString(obj) && !strcmp(obj->valuestring, "text_completion")) chat = false;
  else if (cJSON_IsObject(c0) && cJSON_GetObjectItemCaseSensitive(c0, "message")) chat = true;
  else if (cJSON_IsObject(c0) && cJSON_GetObjectItemCaseSensitive(c0, "text")) chat = false;
  else {
    cJSON_Delete(j);
    return -EINVAL;
  }
  for (const cJSON *c = choices->child; c; c = c->next)
    if (!cJSON_IsObject(c)) {
      cJSON_Delete(j);
      return -EINVAL;
    }

  struct rp r = {.out = out, .piece = o && o->piece >= 4 ? o->piece : 32, .usage_null = o && o->include_usage};
  sl_buf_puts(&r.head, "{");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  if (id) {
    sl_buf_puts(&r.head, "\"id\":");
    put_json(&r.head, id);
    sl_buf_puts(&r.head, ",");
  }
  sl_buf_puts(&r.head, chat ? "\"object\":\"chat.completion.chunk\"" : "\"object\":\"text_completion\"");
  static const char *const order[] = {"created", "model"};
  for (int i = 0; i < 2; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, order[i]);
    if (!v) continue;
    sl_buf_printf(&r.head, ",\"%s\":", order[i]);
    put_json(&r.head, v);
  }
  for (const cJSON *m = j->child; m; m = m->next) {
    if (!strcmp(m->string, "id") || !strcmp(m->string, "object") || !strcmp(m->string, "created") ||
        !strcmp(m->string, "model") || !strcmp(m->string, "choices") || !strcmp(m->string, "usage"))
      continue;
    sl_buf_append(&r.head, ",", 1);
    put_str(&r.head, m->string, strlen(m->string));
    sl_buf_append(&r.head, ":", 1);
    put_json(&r.head, m);
  }
  long pos = 0;
  for (const cJSON *c = choices->child; c; c = c->next, pos++) {
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(c, "index");
    long idx = cJSON_IsNumber(ix) && ix->valuedouble >= 0 && ix->valuedouble < 1e9 ? (long)ix->valuedouble : pos;
    if (chat) replay_chat_choice(&r, c, idx);
    else replay_text_choice(&r, c, idx);
  }
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
  if (r.usage_null && cJSON_IsObject(usage)) {
    sl_buf_puts(out, "data: ");
    sl_buf_append(out, r.head.p, r.head.n);
    sl_buf_puts(out, ",\"choices\":[],\"usage\":");
    put_json(out, usage);
    sl_buf_puts(out, "}\n\n");
  }
  sl_buf_puts(out, "data: [DONE]\n\n");
  bool oom = r.head.oom || out->oom;
  sl_buf_free(&r.head);
  cJSON_Delete(j);
  return oom ? -ENOMEM : 0;
}
