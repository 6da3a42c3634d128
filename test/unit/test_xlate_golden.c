/* Golden fixtures for the wire-format translators (net/wire/xlate.h). Every
 * test/fixtures/xlate/<kind>_<dir>_<name>.in.<ext> is translated and compared with its
 * .out.<ext> (or, for a request that must be refused, its .err.txt holds a piece of the
 * expected message). JSON is compared structurally (member order and number spelling
 * do not matter); SSE transcripts event by event, each data compared as JSON. Streams
 * are translated twice, whole and byte by byte, and must come out identical.
 *
 *   kind/dir: req_oai2anth, req_anth2oai, resp_anth2oai, resp_oai2anth,
 *             stream_anth2oai, stream_oai2anth, err_to_oai, err_to_anth
 *   <name>.opts.json (optional): {"model", "default_max_tokens", "max_completion_tokens",
 *             "created", "include_usage", "json_tool", "status"}
 *
 * SL_XLATE_REGEN=1 writes the missing .out files from the current output (review them
 * before committing). SL_XLATE_FIXTURES overrides the fixture directory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/wire/sse.h"
#include "net/wire/xlate.h"

static char dir[8192];

static bool find_dir(void) {
  const char *env = getenv("SL_XLATE_FIXTURES");
  if (env) {
    snprintf(dir, sizeof dir, "%s", env);
    return true;
  }
  /* __FILE__ is relative to the build directory when meson compiles; try upwards */
  char src[2048];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *slash = strrchr(src, '/');
  if (slash) *slash = 0;
  else snprintf(src, sizeof src, ".");
  /* ... or relative to the build root, two levels above this executable */
  char exe[2048];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0 && src[0] != '/') {
    exe[k] = 0;
    for (int up = 0; up < 3; up++) {
      char *sl = strrchr(exe, '/');
      if (sl) *sl = 0;
    }
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s/../fixtures/xlate", exe, src);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return true;
  }
  static const char *const ups[] = {"", "../", "../../", "../../../", "../../../../"};
  for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
    struct stat st;
    snprintf(dir, sizeof dir, "%s%s/../fixtures/xlate", src[0] == '/' ? "" : ups[i], src);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    if (src[0] == '/') break;
  }
  return false;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct sl_buf b = {0};
  char tmp[4096];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) sl_buf_append(&b, tmp, k);
  fclose(f);
  if (!b.p) sl_buf_append(&b, "", 0);
  return sl_buf_take(&b, len);
}

static void spit(const char *path, const char *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(p, 1, n, f);
  fclose(f);
}

/* ---- SSE transcripts as lists of (event, data) ---- */

struct evlist {
  struct sl_buf names[512], datas[512];
  int n;
  bool overflow;
};

static int collect(void *ud, const struct sl_sse_event *ev) {
  struct evlist *l = ud;
  if (l->n >= 512) {
    l->overflow = true;
    return 0;
  }
  sl_buf_append(&l->names[l->n], ev->event, ev->event_len);
  sl_buf_append(&l->datas[l->n], ev->data, ev->data_len);
  l->n++;
  return 0;
}

static void evlist_parse(struct evlist *l, const char *p, size_t n) {
  memset(l, 0, sizeof *l);
  struct sl_sse sse;
  sl_sse_init(&sse, 0);
  sl_sse_feed(&sse, p, n, collect, l);
  sl_sse_finish(&sse, collect, l);
  sl_sse_free(&sse);
}

static void evlist_free(struct evlist *l) {
  for (int i = 0; i < l->n; i++) {
    sl_buf_free(&l->names[i]);
    sl_buf_free(&l->datas[i]);
  }
}

static bool json_equal(const char *a, size_t an, const char *b, size_t bn) {
  cJSON *x = cJSON_ParseWithLength(a, an), *y = cJSON_ParseWithLength(b, bn);
  bool eq;
  if (x && y) eq = cJSON_Compare(x, y, true);
  else eq = !x && !y && an == bn && memcmp(a, b, an) == 0;
  cJSON_Delete(x);
  cJSON_Delete(y);
  return eq;
}

/* Compares two SSE transcripts; on a difference writes which event into why. */
static bool sse_equal(const char *a, size_t an, const char *b, size_t bn, char *why, size_t wn) {
  struct evlist *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
  bool eq = x && y;
  if (eq) {
    evlist_parse(x, a, an);
    evlist_parse(y, b, bn);
    if (x->n != y->n || x->overflow || y->overflow) {
      snprintf(why, wn, "%d events, expected %d", x->n, y->n);
      eq = false;
    }
    for (int i = 0; eq && i < x->n; i++) {
      const char *xe = x->names[i].p ? x->names[i].p : "", *ye = y->names[i].p ? y->names[i].p : "";
      if (strcmp(xe, ye) != 0 ||
          !json_equal(x->datas[i].p ? x->datas[i].p : "", x->datas[i].n, y->datas[i].p ? y->datas[i].p : "",
                      y->datas[i].n)) {
        snprintf(why, wn, "event %d differs: got [%s] %.300s", i, xe, x->datas[i].p ? x->datas[i].p : "");
        eq = false;
      }
    }
    evlist_free(x);
    evlist_free(y);
  }
  free(x);
  free(y);
  return eq;
}

/* ---- running one case ---- */

struct opts {
  struct sl_xlate_req_opts req;
  struct sl_xlate_resp_opts resp;
  int status;
  char model[256];
};

static void read_opts(const char *base, struct opts *o) {
  memset(o, 0, sizeof *o);
  o->req.model = "upstream-model";
  o->resp.created = 1700000000;
  o->status = 400;
  char path[10000];
  snprintf(path, sizeof path, "%s/%s.opts.json", dir, base);
  size_t n;
  char *s = slurp(path, &n);
  if (!s) return;
  cJSON *j = cJSON_ParseWithLength(s, n);
  const cJSON *v;
  if ((v = cJSON_GetObjectItem(j, "model")) && cJSON_IsString(v)) {
    snprintf(o->model, sizeof o->model, "%s", v->valuestring);
    o->req.model = o->model;
  }
  if ((v = cJSON_GetObjectItem(j, "default_max_tokens"))) o->req.default_max_tokens = v->valueint;
  if ((v = cJSON_GetObjectItem(j, "max_completion_tokens"))) o->req.max_completion_tokens = cJSON_IsTrue(v);
  if ((v = cJSON_GetObjectItem(j, "created"))) o->resp.created = (int64_t)v->valuedouble;
  if ((v = cJSON_GetObjectItem(j, "include_usage"))) o->resp.include_usage = cJSON_IsTrue(v);
  if ((v = cJSON_GetObjectItem(j, "json_tool"))) o->resp.json_tool = cJSON_IsTrue(v);
  if ((v = cJSON_GetObjectItem(j, "status"))) o->status = v->valueint;
  cJSON_Delete(j);
  free(s);
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Streams: whole, then byte by byte; both must agree. Returns the last result. */
static int run_stream(enum sl_xlate_dir d, const struct opts *o, const char *in, size_t n, struct sl_buf *out,
                      bool *split_ok) {
  struct sl_xlate_stream *s;
  int rc = sl_xlate_stream_new(d, &o->resp, &s);
  if (rc) return rc;
  rc = sl_xlate_stream_feed(s, in, n, out);
  int rc2 = sl_xlate_stream_finish(s, out);
  if (rc == 0) rc = rc2;
  sl_xlate_stream_free(s);

  struct sl_buf b = {0};
  if (sl_xlate_stream_new(d, &o->resp, &s)) return -ENOMEM;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) r = sl_xlate_stream_feed(s, in + i, 1, &b);
  int r2 = sl_xlate_stream_finish(s, &b);
  if (r == 0) r = r2;
  sl_xlate_stream_free(s);
  *split_ok = r == rc && b.n == out->n && memcmp(b.p, out->p, b.n) == 0;
  sl_buf_free(&b);
  return rc;
}

static int failures, cases;

static void run_case(const char *file) {
  char base[1024], ext[16], path[10000];
  const char *dot = strstr(file, ".in.");
  if (!dot || (size_t)(dot - file) >= sizeof base) return;
  memcpy(base, file, (size_t)(dot - file));
  base[dot - file] = 0;
  snprintf(ext, sizeof ext, "%s", dot + 4);
  struct opts o;
  read_opts(base, &o);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  size_t n;
  char *in = slurp(path, &n);
  if (!in) return;
  cases++;

  struct sl_buf out = {0};
  char err[512] = "";
  int rc = 0;
  bool split_ok = true, is_sse = false;
  if (has_prefix(base, "req_oai2anth_") || has_prefix(base, "req_anth2oai_")) {
    cJSON *j = cJSON_ParseWithLength(in, n);
    rc = has_prefix(base, "req_oai2anth_") ? sl_xlate_oai_to_anth_request(j, &o.req, &out, err, sizeof err)
                                           : sl_xlate_anth_to_oai_request(j, &o.req, &out, err, sizeof err);
    cJSON_Delete(j);
  } else if (has_prefix(base, "resp_anth2oai_")) {
    rc = sl_xlate_anth_to_oai_response(in, n, &o.resp, &out, NULL);
  } else if (has_prefix(base, "resp_oai2anth_")) {
    rc = sl_xlate_oai_to_anth_response(in, n, &o.resp, &out, NULL);
  } else if (has_prefix(base, "stream_anth2oai_") || has_prefix(base, "stream_oai2anth_")) {
    is_sse = true;
    rc = run_stream(has_prefix(base, "stream_anth2oai_") ? SL_XLATE_ANTH_TO_OAI : SL_XLATE_OAI_TO_ANTH, &o, in, n,
                    &out, &split_ok);
  } else if (has_prefix(base, "err_to_oai_") || has_prefix(base, "err_to_anth_")) {
    rc = sl_xlate_error_body(has_prefix(base, "err_to_oai_") ? SL_WIRE_OPENAI : SL_WIRE_ANTHROPIC, o.status, in, n,
                             &out);
  } else {
    printf("FAIL %s: unknown fixture kind\n", base);
    failures++;
    free(in);
    return;
  }

  char why[700] = "";
  snprintf(path, sizeof path, "%s/%s.err.txt", dir, base);
  size_t en;
  char *want_err = slurp(path, &en);
  if (want_err) {
    while (en && (want_err[en - 1] == '\n' || want_err[en - 1] == ' ')) want_err[--en] = 0;
    if (rc != -EINVAL || !strstr(err, want_err))
      snprintf(why, sizeof why, "want -EINVAL with \"%s\", got %d \"%s\"", want_err, rc, err);
    free(want_err);
  } else {
    snprintf(path, sizeof path, "%s/%s.out.%s", dir, base, ext);
    size_t wn;
    char *want = slurp(path, &wn);
    if (!want && getenv("SL_XLATE_REGEN") && out.p) {
      spit(path, out.p, out.n);
      printf("wrote %s\n", path);
      want = slurp(path, &wn);
    }
    if (!want) snprintf(why, sizeof why, "missing %.600s", path);
    else if (!is_sse && rc != 0) snprintf(why, sizeof why, "rc %d (%s)", rc, err);
    else if (!is_sse && !json_equal(out.p ? out.p : "", out.n, want, wn))
      snprintf(why, sizeof why, "output differs: %.600s", out.p ? out.p : "");
    else if (is_sse && !sse_equal(out.p ? out.p : "", out.n, want, wn, why, sizeof why)) {
    } else if (!split_ok) snprintf(why, sizeof why, "byte-by-byte feeding gave a different stream");
    free(want);
  }
  if (why[0]) {
    printf("FAIL %s: %s\n", base, why);
    failures++;
  } else {
    printf("ok %s\n", base);
  }
  sl_buf_free(&out);
  free(in);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
  if (!find_dir()) {
    printf("FAIL: fixture directory test/fixtures/xlate not found (set SL_XLATE_FIXTURES)\n");
    return 1;
  }
  DIR *d = opendir(dir);
  if (!d) return 1;
  char *names[1024];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && nn < 1024)
    if (strstr(e->d_name, ".in.")) names[nn++] = strdup(e->d_name);
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_str);
  for (size_t i = 0; i < nn; i++) {
    run_case(names[i]);
    free(names[i]);
  }
  printf("%d passed, %d failed\n", cases - failures, failures);
  return failures || cases == 0 ? 1 : 0;
}
