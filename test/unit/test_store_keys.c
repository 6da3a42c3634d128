/* store/keys with real LMDB files in temp dirs: generate, lookup by secret, update,
 * delete, list, expiry and blocking, model lists, budget periods, custom secrets,
 * hashed-token references, persistence across reopen, and a lookup racing admin writes
 * from another thread and another process. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/keys.h"
#include "store/lmdb_env.h"
#include "store/spend.h"

#define MiB (1024u * 1024u)
#define T0 1700000000


static struct sl_keys *open_keys(const char *dir, struct sl_lmdb **env) {
  char msg[512];
  if (sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, env, msg, sizeof msg)) return NULL;
  struct sl_keys *k;
  if (sl_keys_open(*env, &k)) {
    sl_lmdb_close(*env);
    return NULL;
  }
  return k;
}

static void close_keys(struct sl_keys *k, struct sl_lmdb *env) {
  sl_keys_close(k);
  sl_lmdb_close(env);
}

/* ---- tests ---- */

static void hashing_and_refs(void) {
  uint8_t h[32], r[32];
  char hex[65];
  sl_keys_hash("abc", 3, h);
  sl_keys_hash_hex(h, hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sl_keys_ref("abc", 3, r); /* a secret is hashed */
  CHECK(memcmp(h, r, 32) == 0);
  sl_keys_ref(hex, 64, r); /* a hashed token is taken as is */
  CHECK(memcmp(h, r, 32) == 0);
  char upper[65];
  for (int i = 0; i < 64; i++) upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
  sl_keys_ref(upper, 64, r);
  CHECK(memcmp(h, r, 32) == 0);
  hex[3] = 'x'; /* not hex: a secret */
  sl_keys_ref(hex, 64, r);
  CHECK(memcmp(h, r, 32) != 0);
  /* ids carry the kind and are never 0 */
  uint64_t id = sl_spend_id_hash(SL_SPEND_KEY, h);
  CHECK(SL_SPEND_ID_KIND(id) == SL_SPEND_KEY && id != 0);
  CHECK(SL_SPEND_ID_KIND(sl_spend_id_name(SL_SPEND_GROUP, "gpt-4o", 6)) == SL_SPEND_GROUP);
  CHECK(SL_SPEND_ID_KIND(SL_SPEND_ID_GATEWAY) == SL_SPEND_GATEWAY);
  uint8_t zero[32] = {0};
  CHECK(sl_spend_id_hash(SL_SPEND_KEY, zero) == ((uint64_t)SL_SPEND_KEY << 62 | 1));
}

static void generate_lookup_update_delete(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  const char *models[] = {"gpt-4o", "claude-*"};
  struct sl_key_params p = {
      .key_alias = "team-a",
      .models = models,
      .nmodels = 2,
      .rpm_limit = 120,
      .tpm_limit = 50000,
      .max_budget = 12.5,
      .budget_duration_s = 30 * 86400,
      .expires_at = T0 + 3600,
      .metadata = "{\"team\":\"a\",\"n\":[1,2]}",
      .now_unix = T0,
  };
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_record r;
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  CHECK(strncmp(secret, "sk-", 3) == 0 && strlen(secret) == 46);
  for (size_t i = 3; i < strlen(secret); i++)
    CHECK((secret[i] >= '0' && secret[i] <= '9') || (secret[i] >= 'a' && secret[i] <= 'z') ||
          (secret[i] >= 'A' && secret[i] <= 'Z'));
  char disp[32];
  snprintf(disp, sizeof disp, "%.5s...%s", secret, secret + strlen(secret) - 4);
  CHECK_STR(r.display, disp);
  CHECK_STR(r.key_alias, "team-a");
  CHECK(r.created_at == T0 && r.updated_at == T0);
  uint8_t h[32];
  sl_keys_hash(secret, strlen(secret), h);
  CHECK(memcmp(r.hash, h, 32) == 0);
  CHECK(r.id == sl_spend_id_hash(SL_SPEND_KEY, h));
  sl_key_record_free(&r);

  /* the request path */
  struct sl_key_record l;
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &l) == 0);
  CHECK_STR(l.key_alias, "team-a");
  CHECK(l.nmodels == 2 && !strcmp(l.models[0], "gpt-4o") && !strcmp(l.models[1], "claude-*"));
  CHECK(l.rpm_limit == 120 && l.tpm_limit == 50000);
  CHECK(l.max_budget == 12.5 && sl_key_max_budget_micro(&l) == 12500000);
  CHECK(l.budget_duration_s == 30 * 86400 && l.expires_at == T0 + 3600);
  CHECK_STR(l.metadata, "{\"team\":\"a\",\"n\":[1,2]}");
  CHECK(!l.blocked);
  CHECK(sl_key_check(&l, T0) == 0);
  CHECK(sl_key_check(&l, T0 + 3599) == 0);
  CHECK(sl_key_check(&l, T0 + 3600) == -EKEYEXPIRED);
  CHECK(sl_key_allows_model(&l, "gpt-4o", 6));
  CHECK(!sl_key_allows_model(&l, "gpt-4o-mini", 11));
  CHECK(!sl_key_allows_model(&l, "gpt-4", 5));
  CHECK(sl_key_allows_model(&l, "claude-3-5-sonnet", 17));
  CHECK(sl_key_allows_model(&l, "claude-", 7));
  CHECK(!sl_key_allows_model(&l, "claude", 6));
  CHECK(sl_key_period_start(&l, T0) == T0);
  CHECK(sl_key_period_start(&l, T0 + 30 * 86400 - 1) == T0);
  CHECK(sl_key_period_start(&l, T0 + 30 * 86400) == T0 + 30 * 86400);
  CHECK(sl_key_period_start(&l, T0 + 95 * 86400) == T0 + 90 * 86400);
  sl_key_record_free(&l);
  CHECK(sl_keys_lookup(k, secret, strlen(secret) - 1, &l) == -ENOENT);
  CHECK(sl_keys_lookup(k, "sk-nope", 7, &l) == -ENOENT);
  CHECK(sl_keys_lookup(k, "", 0, &l) == -ENOENT);

  /* update: only the flagged fields change */
  struct sl_key_params u = {.set = SL_KEY_SET_RPM | SL_KEY_SET_MODELS | SL_KEY_SET_BLOCKED | SL_KEY_SET_METADATA,
                            .rpm_limit = 10,
                            .nmodels = 0,
                            .blocked = true,
                            .metadata = NULL,
                            .now_unix = T0 + 5};
  CHECK(sl_keys_update(k, h, &u, &r) == 0);
  CHECK(r.rpm_limit == 10 && r.tpm_limit == 50000 && r.nmodels == 0 && r.blocked);
  CHECK_STR(r.key_alias, "team-a");
  CHECK_STR(r.metadata, "");
  CHECK(r.updated_at == T0 + 5 && r.created_at == T0);
  sl_key_record_free(&r);
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &l) == 0);
  CHECK(l.rpm_limit == 10 && l.blocked && l.nmodels == 0);
  CHECK(sl_key_check(&l, T0) == -EKEYREVOKED);
  CHECK(sl_key_allows_model(&l, "anything", 8)); /* no list: every model */
  sl_key_record_free(&l);
  u = (struct sl_key_params){.set = SL_KEY_SET_BLOCKED | SL_KEY_SET_EXPIRES_AT | SL_KEY_SET_ALIAS,
                             .blocked = false, .expires_at = 0, .key_alias = "renamed", .now_unix = T0 + 6};
  CHECK(sl_keys_update(k, h, &u, NULL) == 0);
  CHECK(sl_keys_get(k, h, &r) == 0);
  CHECK(!r.blocked && r.expires_at == 0 && sl_key_check(&r, INT64_MAX / 2) == 0);
  CHECK_STR(r.key_alias, "renamed");
  sl_key_record_free(&r);
  /* bad values are refused and change nothing */
  u = (struct sl_key_params){.set = SL_KEY_SET_RPM, .rpm_limit = -1};
  CHECK(sl_keys_update(k, h, &u, NULL) == -EINVAL);
  uint8_t other[32] = {1};
  u = (struct sl_key_params){.set = SL_KEY_SET_RPM, .rpm_limit = 1};
  CHECK(sl_keys_update(k, other, &u, NULL) == -ENOENT);

  /* delete */
  CHECK(sl_keys_delete(k, h) == 0);
  CHECK(sl_keys_delete(k, h) == -ENOENT);
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &l) == -ENOENT);
  CHECK(sl_keys_get(k, h, &r) == -ENOENT);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

static void custom_secrets_and_bounds(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_params p = {.secret = "sk-my-own-key", .now_unix = T0};
  struct sl_key_record r;
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  CHECK_STR(secret, "sk-my-own-key");
  CHECK_STR(r.display, "sk-my...-key");
  CHECK_STR(r.key_alias, "");
  CHECK(r.nmodels == 0 && r.rpm_limit == 0 && r.max_budget == 0 && sl_key_max_budget_micro(&r) == 0);
  CHECK(sl_key_period_start(&r, T0 + 100) == 0);
  sl_key_record_free(&r);
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EEXIST);
  CHECK(secret[0] == 0);
  p.secret = "no-prefix";
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  p.secret = "sk-with space";
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  p.secret = "sk-x"; /* short: a shorter display */
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  CHECK_STR(r.display, "sk-...");
  sl_key_record_free(&r);
  char longs[80];
  memset(longs, 'a', sizeof longs);
  memcpy(longs, "sk-", 3);
  longs[64] = 0;
  p.secret = longs;
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  longs[63] = 0;
  CHECK(sl_keys_generate(k, &p, secret, NULL) == 0);
  CHECK(strlen(secret) == 63);
  /* field bounds */
  p = (struct sl_key_params){.max_budget = -1};
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  const char *bad_models[] = {"ok", ""};
  p = (struct sl_key_params){.models = bad_models, .nmodels = 2};
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  char *big = malloc(SL_KEY_METADATA_MAX + 2);
  memset(big, 'm', SL_KEY_METADATA_MAX + 1);
  big[SL_KEY_METADATA_MAX + 1] = 0;
  p = (struct sl_key_params){.metadata = big};
  CHECK(sl_keys_generate(k, &p, secret, NULL) == -EINVAL);
  big[SL_KEY_METADATA_MAX] = 0; /* at the bound: a large value on overflow pages */
  CHECK(sl_keys_generate(k, &p, secret, NULL) == 0);
  struct sl_key_record l;
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &l) == 0);
  CHECK(strlen(l.metadata) == SL_KEY_METADATA_MAX);
  sl_key_record_free(&l);
  free(big);
  /* the label of a key is its alias, else its display prefix */
  p = (struct sl_key_params){.key_alias = "labelled"};
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  sl_key_record_free(&r);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

struct collect {
  int n;
  int with_alias;
  int stop_at;
};

static int collect_cb(void *ctx, const struct sl_key_record *r) {
  struct collect *c = ctx;
  c->n++;
  if (!strncmp(r->key_alias, "k-", 2)) c->with_alias++;
  return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static void list_and_persistence(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  enum { N = 200 };
  static char secrets[N][SL_KEY_SECRET_MAX];
  for (int i = 0; i < N; i++) {
    char alias[32];
    snprintf(alias, sizeof alias, "k-%d", i);
    struct sl_key_params p = {.key_alias = alias, .rpm_limit = i + 1, .now_unix = T0 + i};
    CHECK(sl_keys_generate(k, &p, secrets[i], NULL) == 0);
  }
  struct collect c = {0};
  CHECK(sl_keys_list(k, collect_cb, &c) == 0);
  CHECK(c.n == N && c.with_alias == N);
  c = (struct collect){.stop_at = 5};
  CHECK(sl_keys_list(k, collect_cb, &c) == 7);
  CHECK(c.n == 5);
  close_keys(k, env);

  /* a restart keeps every key */
  k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  for (int i = 0; i < N; i++) {
    struct sl_key_record r;
    CHECK(sl_keys_lookup(k, secrets[i], strlen(secrets[i]), &r) == 0);
    char alias[32];
    snprintf(alias, sizeof alias, "k-%d", i);
    CHECK(!strcmp(r.key_alias, alias) && r.rpm_limit == i + 1 && r.created_at == T0 + i);
    sl_key_record_free(&r);
  }
  /* no secret anywhere in the file */
  close_keys(k, env);
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (f) {
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz);
    CHECK(fread(buf, 1, (size_t)sz, f) == (size_t)sz);
    fclose(f);
    for (int i = 0; i < N; i += 17) CHECK(memmem(buf, (size_t)sz, secrets[i] + 3, 20) == NULL);
    free(buf);
  }
  rm_rf(dir);
  free(dir);
}

/* Lookups on one thread while another thread updates and deletes, then a second process
 * (forked before any thread runs) writing at the same time. */
struct writer_arg {
  struct sl_keys *k;
  uint8_t hash[32];
  int rounds;
};

static void *writer_thread(void *p) {
  struct writer_arg *a = p;
  for (int i = 0; i < a->rounds; i++) {
    struct sl_key_params u = {.set = SL_KEY_SET_RPM | SL_KEY_SET_TPM, .rpm_limit = i + 1, .tpm_limit = i + 1};
    if (sl_keys_update(a->k, a->hash, &u, NULL)) return (void *)1;
  }
  return NULL;
}

static void concurrent_readers_and_writers(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_params p = {.key_alias = "shared", .rpm_limit = 0};
  struct sl_key_record r;
  CHECK(sl_keys_generate(k, &p, secret, &r) == 0);
  struct writer_arg a = {.k = k, .rounds = 300};
  memcpy(a.hash, r.hash, 32);
  sl_key_record_free(&r);
  close_keys(k, env);

  /* another process writes too (forked while this one has no thread and no env) */
  pid_t pid = fork();
  if (pid == 0) {
    struct sl_lmdb *ce;
    struct sl_keys *ck = open_keys(dir, &ce);
    if (!ck) _exit(2);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
      char s[SL_KEY_SECRET_MAX];
      struct sl_key_params q = {.now_unix = T0};
      if (sl_keys_generate(ck, &q, s, NULL)) bad++;
    }
    close_keys(ck, ce);
    _exit(bad ? 1 : 0);
  }
  k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  a.k = k;
  pthread_t thr;
  CHECK(pthread_create(&thr, NULL, writer_thread, &a) == 0);
  int64_t last = 0;
  bool monotonic = true, ok = true;
  for (int i = 0; i < 3000; i++) {
    if (sl_keys_lookup(k, secret, strlen(secret), &r)) {
      ok = false;
      break;
    }
    if (r.rpm_limit < last || r.rpm_limit != r.tpm_limit) monotonic = false; /* whole records only */
    last = r.rpm_limit;
    sl_key_record_free(&r);
  }
  void *res;
  pthread_join(thr, &res);
  CHECK(res == NULL);
  CHECK(ok && monotonic);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &r) == 0);
  CHECK(r.rpm_limit == 300);
  sl_key_record_free(&r);
  struct collect c = {0};
  CHECK(sl_keys_list(k, collect_cb, &c) == 0 && c.n == 201);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

/* Records of a later version's layout: unknown fields are skipped, a broken frame is
 * an error, not a crash. */
static void unknown_fields_and_damage(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  uint8_t h[32];
  sl_keys_hash("sk-future", 9, h);
  /* version 1, an unknown tag 200 with 3 bytes, then an alias */
  uint8_t rec[] = {1, 200, 3, 0, 0, 0, 'x', 'y', 'z', 11 /* alias */, 2, 0, 0, 0, 'o', 'k'};
  MDB_txn *t;
  CHECK(mdb_txn_begin(env->env, NULL, 0, &t) == 0);
  MDB_val key = {32, h}, v = {sizeof rec, rec};
  CHECK(mdb_put(t, env->dbi_keys, &key, &v, 0) == 0);
  uint8_t h2[32];
  sl_keys_hash("sk-broken", 9, h2);
  uint8_t bad[] = {1, 11, 200, 0, 0, 0, 'o'}; /* length past the end */
  MDB_val key2 = {32, h2}, v2 = {sizeof bad, bad};
  CHECK(mdb_put(t, env->dbi_keys, &key2, &v2, 0) == 0);
  CHECK(mdb_txn_commit(t) == 0);
  struct sl_key_record r;
  CHECK(sl_keys_lookup(k, "sk-future", 9, &r) == 0);
  CHECK_STR(r.key_alias, "ok");
  CHECK(r.nmodels == 0 && r.id == sl_spend_id_hash(SL_SPEND_KEY, h));
  sl_key_record_free(&r);
  CHECK(sl_keys_lookup(k, "sk-broken", 9, &r) == -EBADMSG);
  struct collect c = {0};
  CHECK(sl_keys_list(k, collect_cb, &c) == 0 && c.n == 1); /* the damaged one is skipped */
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

/* Another process (a second sluice with a bigger map, or sl_lmdb_grow) grows the file
 * past this process's map: the next lookup adopts the new size instead of failing, and
 * writes go on. */
static void file_grown_by_another_process(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_params p = {.key_alias = "before"};
  CHECK(sl_keys_generate(k, &p, secret, NULL) == 0);
  /* forked with only the environment open (no thread); the child opens its own */
  pid_t pid = fork();
  if (pid == 0) {
    char msg[512];
    struct sl_lmdb *ce;
    struct sl_keys *ck;
    if (sl_lmdb_open(dir, 64 * MiB, SL_LMDB_NOSYNC, &ce, msg, sizeof msg) || sl_keys_open(ce, &ck)) _exit(2);
    char *big = malloc(SL_KEY_METADATA_MAX + 1);
    memset(big, 'g', SL_KEY_METADATA_MAX);
    big[SL_KEY_METADATA_MAX] = 0;
    int bad = 0;
    for (int i = 0; i < 48; i++) { /* ~12 MiB: past the parent's 8 MiB map */
      char s2[SL_KEY_SECRET_MAX];
      struct sl_key_params q = {.metadata = big};
      if (sl_keys_generate(ck, &q, s2, NULL)) bad++;
    }
    free(big);
    sl_keys_close(ck);
    sl_lmdb_close(ce);
    _exit(bad ? 1 : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  struct sl_key_record r;
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &r) == 0);
  CHECK_STR(r.key_alias, "before");
  sl_key_record_free(&r);
  MDB_envinfo info;
  mdb_env_info(env->env, &info);
  CHECK(info.me_mapsize > 8 * MiB); /* the map was re-established at the file's size */
  struct collect c = {0};
  CHECK(sl_keys_list(k, collect_cb, &c) == 0 && c.n == 49);
  p.key_alias = "after";
  CHECK(sl_keys_generate(k, &p, secret, NULL) == 0);
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &r) == 0);
  CHECK_STR(r.key_alias, "after");
  sl_key_record_free(&r);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

/* LiteLLM's other key fields round-trip through generate, lookup and update. */
static void litellm_fields(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  CHECK(k != NULL);
  if (!k) return;
  struct sl_key_params p = {.aliases = "{\"fast\":\"gpt-4o-mini\"}", .team_id = "team-1", .user_id = "u-7",
                            .tags = "[\"prod\",\"search\"]", .max_parallel_requests = 3, .soft_budget = 2.5,
                            .now_unix = T0};
  char secret[SL_KEY_SECRET_MAX];
  struct sl_key_record r;
  CHECK(sl_keys_generate(k, &p, secret, NULL) == 0);
  CHECK(sl_keys_lookup(k, secret, strlen(secret), &r) == 0);
  CHECK_STR(r.aliases, "{\"fast\":\"gpt-4o-mini\"}");
  CHECK_STR(r.team_id, "team-1");
  CHECK_STR(r.user_id, "u-7");
  CHECK_STR(r.tags, "[\"prod\",\"search\"]");
  CHECK(r.max_parallel_requests == 3 && r.soft_budget == 2.5);
  uint8_t h[32];
  memcpy(h, r.hash, 32);
  sl_key_record_free(&r);
  struct sl_key_params u = {.set = SL_KEY_SET_TEAM_ID | SL_KEY_SET_MAX_PARALLEL, .team_id = NULL,
                            .max_parallel_requests = 9, .now_unix = T0 + 1};
  CHECK(sl_keys_update(k, h, &u, &r) == 0);
  CHECK_STR(r.team_id, "");
  CHECK_STR(r.user_id, "u-7");
  CHECK(r.max_parallel_requests == 9 && r.soft_budget == 2.5);
  sl_key_record_free(&r);
  u = (struct sl_key_params){.set = SL_KEY_SET_MAX_PARALLEL, .max_parallel_requests = -1};
  CHECK(sl_keys_update(k, h, &u, NULL) == -EINVAL);
  /* residency lists: stored as given, changed one at a time, cleared with "" */
  u = (struct sl_key_params){.set = SL_KEY_SET_PERMITTED_REGIONS | SL_KEY_SET_PREFERRED_REGIONS,
                             .permitted_regions = "eu-a,eu-b", .preferred_regions = "eu-a", .now_unix = T0 + 2};
  CHECK(sl_keys_update(k, h, &u, NULL) == 0);
  CHECK(sl_keys_get(k, h, &r) == 0);
  CHECK_STR(r.permitted_regions, "eu-a,eu-b");
  CHECK_STR(r.preferred_regions, "eu-a");
  CHECK_STR(r.team_id, "");
  sl_key_record_free(&r);
  u = (struct sl_key_params){.set = SL_KEY_SET_PREFERRED_REGIONS, .preferred_regions = "", .now_unix = T0 + 3};
  CHECK(sl_keys_update(k, h, &u, &r) == 0);
  CHECK_STR(r.permitted_regions, "eu-a,eu-b");
  CHECK_STR(r.preferred_regions, "");
  sl_key_record_free(&r);
  char big[SL_KEY_REGIONS_MAX + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  u = (struct sl_key_params){.set = SL_KEY_SET_PERMITTED_REGIONS, .permitted_regions = big};
  CHECK(sl_keys_update(k, h, &u, NULL) == -EINVAL);
  /* a key without them reads as empty */
  struct sl_key_params plain = {.now_unix = T0};
  CHECK(sl_keys_generate(k, &plain, secret, &r) == 0);
  CHECK_STR(r.aliases, "");
  CHECK_STR(r.permitted_regions, "");
  CHECK_STR(r.preferred_regions, "");
  CHECK_STR(r.tags, "");
  CHECK(r.max_parallel_requests == 0 && r.soft_budget == 0);
  sl_key_record_free(&r);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

/* Not a timing assertion: prints what a lookup costs when SL_TEST_VERBOSE is set. */
static void lookup_cost(void) {
  if (!getenv("SL_TEST_VERBOSE")) return;
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_keys *k = open_keys(dir, &env);
  if (!k) return;
  char secret[SL_KEY_SECRET_MAX];
  const char *models[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"};
  struct sl_key_params p = {.key_alias = "bench", .models = models, .nmodels = 3, .metadata = "{\"a\":1}"};
  for (int i = 0; i < 1000; i++) sl_keys_generate(k, &p, secret, NULL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  enum { N = 200000 };
  for (int i = 0; i < N; i++) {
    struct sl_key_record r;
    if (sl_keys_lookup(k, secret, strlen(secret), &r) == 0) sl_key_record_free(&r);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  fprintf(stderr, "lookup: %.0f ns each (1000 keys)\n",
          ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N);
  close_keys(k, env);
  rm_rf(dir);
  free(dir);
}

CHECK_MAIN(T(hashing_and_refs), T(generate_lookup_update_delete), T(custom_secrets_and_bounds),
           T(list_and_persistence), T(concurrent_readers_and_writers), T(unknown_fields_and_damage),
           T(file_grown_by_another_process), T(litellm_fields), T(lookup_cost))
