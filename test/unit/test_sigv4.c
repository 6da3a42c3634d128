/* AWS SigV4 (net/wire/sigv4.h) against AWS's published SigV4 test suite
 * (test/unit/data/sigv4/<case>/, see NOTE there) and a Bedrock-shaped request signed by
 * botocore: for every case the canonical request, the string to sign and the Authorization
 * value must equal the published ones byte for byte. The headers signed are those of the
 * case's header-signed-request.txt (what goes on the wire) minus Authorization (and minus
 * the session token when the case adds it after signing). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "net/wire/sigv4.h"

static char dir[8192];

static bool is_dir(const char *p) {
  DIR *d = opendir(p);
  if (d) closedir(d);
  return d != NULL;
}

/* The data directory: $SL_SIGV4_DATA, else next to this source file (__FILE__ is relative
 * to the build root, two levels above this executable, when meson compiles). */
static bool find_dir(void) {
  const char *env = getenv("SL_SIGV4_DATA");
  if (env) return snprintf(dir, sizeof dir, "%s", env), is_dir(dir);
  char src[2048];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *slash = strrchr(src, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(src, sizeof src, ".");
  if (src[0] == '/') return snprintf(dir, sizeof dir, "%s/data/sigv4", src), is_dir(dir);
  char exe[2048];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return false;
  exe[k] = 0;
  for (int up = 0; up < 3; up++) {
    char *s = strrchr(exe, '/');
    if (!s) return false;
    *s = 0;
  }
  snprintf(dir, sizeof dir, "%s/%s/data/sigv4", exe, src);
  if (is_dir(dir)) return true;
  return snprintf(dir, sizeof dir, "%s/data/sigv4", src), is_dir(dir);
}

static char *slurp(const char *cs, const char *name, size_t *len) {
  char path[8704];
  snprintf(path, sizeof path, "%s/%s/%s", dir, cs, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct sl_buf b = {0};
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) sl_buf_append(&b, tmp, n);
  fclose(f);
  sl_buf_append(&b, "", 1);
  if (len) *len = b.n - 1;
  return b.p;
}

struct vec {
  char *ctx_text, *signed_text, *req_text, *want_canon, *want_sts;
  cJSON *ctx;
  const char *method;
  char *path, *query;
  struct sl_header h[32];
  size_t nh;
  char *want_auth;
  const char *body;
  size_t body_len;
  char amz_date[17];
};

static void vec_free(struct vec *v) {
  free(v->ctx_text), free(v->signed_text), free(v->req_text), free(v->want_canon), free(v->want_sts);
  free(v->path), free(v->query);
  cJSON_Delete(v->ctx);
}

static const char *ctx_str(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Reads one case; false (with why) when a file is missing or malformed. */
static bool vec_load(const char *cs, struct vec *v, char *why, size_t wn) {
  memset(v, 0, sizeof *v);
  size_t rl = 0;
  v->ctx_text = slurp(cs, "context.json", NULL);
  v->signed_text = slurp(cs, "header-signed-request.txt", NULL);
  v->req_text = slurp(cs, "request.txt", &rl);
  v->want_canon = slurp(cs, "header-canonical-request.txt", NULL);
  v->want_sts = slurp(cs, "header-string-to-sign.txt", NULL);
  if (!v->ctx_text || !v->signed_text || !v->req_text || !v->want_canon || !v->want_sts)
    return snprintf(why, wn, "%s: a file is missing", cs), false;
  v->ctx = cJSON_Parse(v->ctx_text);
  if (!v->ctx) return snprintf(why, wn, "%s: context.json", cs), false;
  const cJSON *omit = cJSON_GetObjectItemCaseSensitive(v->ctx, "omit_session_token");
  bool omit_token = cJSON_IsTrue(omit);
  /* request line: METHOD SP target SP HTTP/1.1 (the target may hold a space) */
  char *s = v->signed_text, *eol = strchr(s, '\n');
  if (!eol) return snprintf(why, wn, "%s: no request line", cs), false;
  *eol = 0;
  char *sp = strchr(s, ' '), *ver = strstr(s, " HTTP/1.1");
  if (!sp || !ver || ver < sp) return snprintf(why, wn, "%s: request line", cs), false;
  *sp = 0, *ver = 0;
  v->method = s;
  char *target = sp + 1, *q = strchr(target, '?');
  if (q) *q = 0, v->query = strdup(q + 1);
  v->path = strdup(target);
  /* headers, continuation lines joined to the previous value with their newline */
  char *line = eol + 1;
  while (*line && *line != '\n') {
    char *e = strchr(line, '\n');
    size_t ln = e ? (size_t)(e - line) : strlen(line);
    if ((*line == ' ' || *line == '\t') && v->nh) {
      struct sl_header *h = &v->h[v->nh - 1];
      h->value.n = (size_t)(line + ln - h->value.p);
    } else {
      char *colon = memchr(line, ':', ln);
      if (!colon || v->nh == 32) return snprintf(why, wn, "%s: header line", cs), false;
      struct sl_header h = {{line, (size_t)(colon - line)}, {colon + 1, (size_t)(line + ln - colon - 1)}};
      if (sl_slice_eq_ci(h.name, "authorization")) {
        v->want_auth = colon + 1;
        line[ln] = 0;
      } else if (!(omit_token && sl_slice_eq_ci(h.name, "x-amz-security-token"))) {
        v->h[v->nh++] = h;
      }
      if (sl_slice_eq_ci(h.name, "x-amz-date") && h.value.n == 16) memcpy(v->amz_date, h.value.p, 16);
    }
    if (!e) break;
    line = e + 1;
  }
  /* the body: what follows the first empty line of request.txt */
  char *blank = strstr(v->req_text, "\n\n");
  v->body = blank ? blank + 2 : "";
  v->body_len = blank ? rl - (size_t)(blank + 2 - v->req_text) : 0;
  if (!v->want_auth || !v->amz_date[0]) return snprintf(why, wn, "%s: no Authorization or X-Amz-Date", cs), false;
  return true;
}

static int ncases;

static void run_case(const char *cs) {
  struct vec v;
  char why[512];
  if (!vec_load(cs, &v, why, sizeof why)) {
    printf("  %s\n", why);
    CHECK(!"vector loads");
    vec_free(&v);
    return;
  }
  char hex[65];
  struct sl_iov body = {v.body, v.body_len};
  sl_sigv4_payload_hash(&body, 1, hex);
  const cJSON *cr = cJSON_GetObjectItemCaseSensitive(v.ctx, "credentials");
  struct sl_aws_creds c = {ctx_str(cr, "access_key_id"), ctx_str(cr, "secret_access_key"), NULL};
  struct sl_sigv4_req r = {
      v.method, v.path, v.query, v.h, v.nh, hex, ctx_str(v.ctx, "region"), ctx_str(v.ctx, "service"), v.amz_date};
  /* the context's timestamp, as sl_sigv4_amz_date writes it, is the header's date */
  const char *ts = ctx_str(v.ctx, "timestamp");
  char d1[17] = {0};
  for (size_t i = 0, k = 0; ts && ts[i] && k < 16; i++)
    if (ts[i] != '-' && ts[i] != ':') d1[k++] = ts[i];
  CHECK_STR(d1, v.amz_date);

  struct sl_buf canon = {0}, sts = {0};
  int rc = sl_sigv4_canonical_request(&r, &canon);
  CHECK(rc == 0);
  sl_buf_append(&canon, "", 1);
  if (rc == 0 && strcmp(canon.p, v.want_canon) != 0)
    printf("  %s canonical:\n%s\n  want:\n%s\n", cs, canon.p, v.want_canon);
  CHECK(rc == 0 && strcmp(canon.p, v.want_canon) == 0);
  rc = sl_sigv4_string_to_sign(&r, canon.p, canon.n - 1, &sts);
  CHECK(rc == 0);
  sl_buf_append(&sts, "", 1);
  CHECK(rc == 0 && strcmp(sts.p, v.want_sts) == 0);
  char auth[512];
  int n = sl_sigv4_authorization(&r, &c, auth, sizeof auth);
  CHECK(n > 0 && (size_t)n == strlen(v.want_auth));
  if (n > 0 && strcmp(auth, v.want_auth) != 0) printf("  %s auth:\n%s\n  want:\n%s\n", cs, auth, v.want_auth);
  CHECK(n > 0 && strcmp(auth, v.want_auth) == 0);
  /* snprintf-like: a short buffer gets the length it would need, and a cut NUL-ended copy */
  char small[20];
  CHECK(sl_sigv4_authorization(&r, &c, small, sizeof small) == n && strlen(small) == sizeof small - 1);
  sl_buf_free(&canon), sl_buf_free(&sts);
  vec_free(&v);
  ncases++;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void aws_test_suite(void) {
  if (!find_dir()) {
    printf("  data directory test/unit/data/sigv4 not found (set SL_SIGV4_DATA)\n");
    CHECK(!"data dir");
    return;
  }
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  char *names[128];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) && nn < 128) {
    if (e->d_name[0] == '.') continue;
    char p[8704];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (is_dir(p)) names[nn++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, nn, sizeof *names, name_cmp);
  /* the cases the brief names must be there */
  static const char *need[] = {"get-vanilla",
                               "get-vanilla-query-order-key-case",
                               "get-header-value-trim",
                               "get-header-key-duplicate",
                               "get-utf8",
                               "get-space-normalized",
                               "get-slash-normalized",
                               "get-slashes-normalized",
                               "get-relative-normalized",
                               "get-relative-relative-normalized",
                               "post-vanilla",
                               "post-x-www-form-urlencoded",
                               "post-header-key-sort",
                               "post-sts-header-before",
                               "post-sts-header-after",
                               "bedrock-converse-colon"};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    bool found = false;
    for (size_t k = 0; k < nn; k++) found = found || strcmp(names[k], need[i]) == 0;
    if (!found) printf("  missing case %s\n", need[i]);
    CHECK(found);
  }
  for (size_t i = 0; i < nn; i++) {
    int before = check_failed_;
    run_case(names[i]);
    if (!before && check_failed_) printf("  case %s failed\n", names[i]);
    free(names[i]);
  }
  printf("  %d SigV4 vectors checked\n", ncases);
  CHECK(ncases >= 32);
}

/* The path on the wire is encoded once; the canonical path encodes it again. */
static void bedrock_double_encoding(void) {
  struct sl_header h[] = {{SL_SLICE_LIT("Host"), SL_SLICE_LIT("bedrock-runtime.eu-west-1.amazonaws.com")},
                          {SL_SLICE_LIT("X-Amz-Date"), SL_SLICE_LIT("20240102T030405Z")}};
  char hex[65];
  sl_sigv4_payload_hash(NULL, 0, hex);
  CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  struct sl_sigv4_req r = {"POST",
                           "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream",
                           NULL,
                           h,
                           2,
                           hex,
                           "eu-west-1",
                           "bedrock",
                           "20240102T030405Z"};
  struct sl_buf b = {0};
  CHECK(sl_sigv4_canonical_request(&r, &b) == 0);
  sl_buf_append(&b, "", 1);
  CHECK(strstr(b.p, "\n/model/us.anthropic.claude-3-7-sonnet-20250219-v1%253A0/converse-stream\n\n") != NULL);
  sl_buf_free(&b);
}

static void payload_hash_slices(void) {
  /* "abc" in one slice and in three: SHA-256 of "abc" (FIPS 180-2) */
  struct sl_iov one = {"abc", 3}, three[] = {{"a", 1}, {"", 0}, {"bc", 2}};
  char a[65], b[65];
  sl_sigv4_payload_hash(&one, 1, a);
  sl_sigv4_payload_hash(three, 3, b);
  CHECK_STR(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_STR(a, b);
}

static void amz_date(void) {
  char d[17];
  sl_sigv4_amz_date(1440938160, d); /* the test suite's 2015-08-30T12:36:00Z */
  CHECK_STR(d, "20150830T123600Z");
  sl_sigv4_amz_date(0, d);
  CHECK_STR(d, "19700101T000000Z");
  sl_sigv4_amz_date(951782400, d); /* a leap day */
  CHECK_STR(d, "20000229T000000Z");
  sl_sigv4_amz_date(4102444799, d);
  CHECK_STR(d, "20991231T235959Z");
  sl_sigv4_amz_date(-1, d);
  CHECK_STR(d, "19691231T235959Z");
}

static void refusals(void) {
  struct sl_header h[] = {{SL_SLICE_LIT("host"), SL_SLICE_LIT("example.amazonaws.com")},
                          {SL_SLICE_LIT("x-amz-date"), SL_SLICE_LIT("20150830T123600Z")},
                          {SL_SLICE_LIT("bad name"), SL_SLICE_LIT("v")}};
  const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  struct sl_sigv4_req ok = {"GET", "/", NULL, h, 2, hex, "us-east-1", "service", "20150830T123600Z"};
  struct sl_buf b = {0};
  CHECK(sl_sigv4_canonical_request(&ok, &b) == 0);
  sl_buf_free(&b);
  struct sl_sigv4_req r = ok;
  r.nheaders = 1; /* no x-amz-date */
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.headers = h + 1, r.nheaders = 1; /* no host */
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.nheaders = 3; /* a space in a name */
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.payload_sha256_hex = "E3B0";
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.amz_date = "2015-08-30";
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.region = "us/east";
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.query = "a=%zz";
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  r = ok, r.query = "a=%4";
  CHECK(sl_sigv4_canonical_request(&r, &b) == -EINVAL);
  sl_buf_free(&b);
  char out[256];
  struct sl_aws_creds none = {NULL, "s", NULL}, nosecret = {"AKID", "", NULL}, good = {"AKID", "s", NULL};
  CHECK(sl_sigv4_authorization(&ok, &none, out, sizeof out) == -1);
  CHECK(sl_sigv4_authorization(&ok, &nosecret, out, sizeof out) == -1);
  CHECK(sl_sigv4_authorization(&ok, &good, out, sizeof out) > 0);
  r = ok, r.method = NULL;
  CHECK(sl_sigv4_authorization(&r, &good, out, sizeof out) == -1);
}

/* Paths and queries beyond the suite: what AWS's rules say for each. */
static void canonical_parts(void) {
  struct sl_header h[] = {{SL_SLICE_LIT("host"), SL_SLICE_LIT("h")},
                          {SL_SLICE_LIT("x-amz-date"), SL_SLICE_LIT("20150830T123600Z")}};
  const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  static const struct {
    const char *path, *query, *want_path, *want_query;
  } t[] = {
      {"", NULL, "/", ""},
      {"/a/b/../c/./d", NULL, "/a/c/d", ""},
      {"/a/b/..", NULL, "/a/", ""},
      {"/../../a", NULL, "/a", ""},
      {"/a+b=c,d", NULL, "/a%2Bb%3Dc%2Cd", ""},
      {"/%2F", NULL, "/%252F", ""},
      {"/", "b=2&a=1&a=0", "/", "a=0&a=1&b=2"},
      {"/", "k", "/", "k="},
      {"/", "a b=c+d", "/", "a%20b=c%2Bd"},
      {"/", "x=%2f&&y=%7E", "/", "x=%2F&y=~"},
      {"/", "", "/", ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    struct sl_sigv4_req r = {"GET", t[i].path, t[i].query, h, 2, hex, "us-east-1", "service", "20150830T123600Z"};
    struct sl_buf b = {0}, want = {0};
    CHECK(sl_sigv4_canonical_request(&r, &b) == 0);
    sl_buf_append(&b, "", 1);
    sl_buf_printf(&want, "GET\n%s\n%s\nhost:h\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n%s", t[i].want_path,
                  t[i].want_query, hex);
    if (b.p && strcmp(b.p, want.p)) printf("  %s ? %s:\n%s\n", t[i].path, t[i].query ? t[i].query : "", b.p);
    CHECK(b.p && strcmp(b.p, want.p) == 0);
    sl_buf_free(&b), sl_buf_free(&want);
  }
}

CHECK_MAIN(T(aws_test_suite), T(bedrock_double_encoding), T(payload_hash_slices), T(amz_date), T(refusals),
           T(canonical_parts))
