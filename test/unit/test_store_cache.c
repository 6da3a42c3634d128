/* store/lmdb_env + store/cache with real LMDB files in temp dirs: lookups, expiry, the
 * value checksum, two processes sharing one file, kill -9 in the middle of writes,
 * filling far past max_size, MAP_FULL, a corrupt file moved aside, flush, stats. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/cache.h"
#include "store/lmdb_env.h"

#define MiB (1024u * 1024u)
#define T0 1700000000


static void make_key(uint8_t key[32], uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ b;
  for (int i = 0; i < 32; i++) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    key[i] = (uint8_t)(x >> 24);
  }
  memcpy(key, &a, 4);
  memcpy(key + 4, &b, 4);
}

static void make_body(char *p, size_t n, const uint8_t key[32]) {
  for (size_t i = 0; i < n; i++) p[i] = (char)(key[i % 32] + i * 31);
}

static bool body_ok(const char *p, size_t n, const uint8_t key[32]) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (char)(key[i % 32] + i * 31)) return false;
  return true;
}

static int put_pattern(struct sl_cache *c, uint64_t a, uint64_t b, size_t len, int64_t ttl, int64_t now) {
  uint8_t key[32];
  make_key(key, a, b);
  char *body = malloc(len ? len : 1);
  make_body(body, len, key);
  int rc = sl_cache_put(c, key, body, len, ttl, now);
  free(body);
  return rc;
}

/* 0 hit with the right body, 1 miss, -1 wrong body */
static int get_pattern(struct sl_cache *c, uint64_t a, uint64_t b, int64_t now) {
  uint8_t key[32];
  make_key(key, a, b);
  struct sl_cache_entry e;
  if (sl_cache_get(c, key, now, &e) != 0) return 1;
  int r = body_ok(e.value, e.len, key) ? 0 : -1;
  sl_cache_entry_free(&e);
  return r;
}

static struct sl_cache *open_cache(const char *dir, size_t map, unsigned flags, const struct sl_cache_opts *o,
                                   struct sl_lmdb **env) {
  char msg[512];
  if (sl_lmdb_open(dir, map, flags, env, msg, sizeof msg)) return NULL;
  struct sl_cache *c;
  if (sl_cache_open(*env, o, &c)) {
    sl_lmdb_close(*env);
    return NULL;
  }
  return c;
}

static void close_cache(struct sl_cache *c, struct sl_lmdb *env) {
  sl_cache_close(c);
  sl_lmdb_close(env);
}

/* Walks the raw database: every value must verify and carry its key's body. */
static void verify_all(struct sl_lmdb *env, size_t *n, size_t *bad) {
  *n = *bad = 0;
  MDB_txn *t;
  if (mdb_txn_begin(env->env, NULL, MDB_RDONLY, &t)) {
    (*bad)++;
    return;
  }
  MDB_cursor *cur;
  mdb_cursor_open(t, env->dbi_cache, &cur);
  MDB_val k, v;
  for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
    const void *body;
    size_t blen;
    (*n)++;
    if (k.mv_size != 32 || sl_cache_value_verify(k.mv_data, v.mv_data, v.mv_size, &body, &blen, NULL, NULL) ||
        !body_ok(body, blen, k.mv_data))
      (*bad)++;
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(t);
}

/* ---- tests ---- */

static void crc32c_vectors(void) {
  CHECK(sl_cache_crc32c(0, "123456789", 9) == 0xE3069283u);
  CHECK(sl_cache_crc32c(0, "", 0) == 0);
  uint8_t zeros[32] = {0};
  CHECK(sl_cache_crc32c(0, zeros, 32) == 0x8A9136AAu);
  /* chaining equals one pass */
  CHECK(sl_cache_crc32c(sl_cache_crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
}

static void put_get_expire_overwrite(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  uint8_t k[32];
  make_key(k, 1, 1);
  struct sl_cache_entry e;
  CHECK(sl_cache_get(c, k, T0, &e) == -ENOENT);
  CHECK(sl_cache_put(c, k, "{\"a\":1}", 7, 60, T0) == 0);
  CHECK(sl_cache_put(c, k, "x", 1, 0, T0) == -EINVAL);
  sl_cache_sync(c);
  CHECK(sl_cache_get(c, k, T0 + 10, &e) == 0);
  CHECK(e.len == 7 && memcmp(e.value, "{\"a\":1}", 8) == 0); /* NUL-terminated */
  CHECK(e.stored_at == T0 && e.expires_at == T0 + 60);
  sl_cache_entry_free(&e);
  CHECK(sl_cache_get(c, k, T0 + 60, &e) == -ENOENT); /* expired */
  CHECK(sl_cache_put(c, k, "{\"b\":2}", 7, 100, T0 + 70) == 0);
  CHECK(sl_cache_put(c, k, "", 0, 100, T0 + 70) == 0); /* empty body is a value too */
  sl_cache_sync(c);
  CHECK(sl_cache_get(c, k, T0 + 71, &e) == 0);
  CHECK(e.len == 0 && e.value && e.value[0] == 0);
  sl_cache_entry_free(&e);
  struct sl_cache_stats st;
  sl_cache_sync(c);
  CHECK(sl_cache_stats_get(c, &st) == 0);
  CHECK(st.entries == 1);
  CHECK(st.hits == 2 && st.misses == 2);
  CHECK(st.stores == 3);
  CHECK(st.bytes == SL_CACHE_HDR_LEN);
  CHECK(st.max_bytes == 8 * MiB);
  /* a body larger than max_value is refused and counted */
  char *big = calloc(1, 8 * MiB / 64 + 1);
  CHECK(sl_cache_put(c, k, big, 8 * MiB / 64 + 1, 10, T0) == -EFBIG);
  free(big);
  sl_cache_sync(c);
  CHECK(sl_cache_stats_get(c, &st) == 0 && st.oversize == 1);
  close_cache(c, env);
  /* a restart keeps the cache, and the counters */
  c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (c) {
    CHECK(sl_cache_get(c, k, T0 + 72, &e) == 0);
    sl_cache_entry_free(&e);
    sl_cache_sync(c);
    CHECK(sl_cache_stats_get(c, &st) == 0 && st.hits == 3 && st.entries == 1);
    close_cache(c, env);
  }
  rm_rf(dir);
  free(dir);
}

static void damaged_value_is_a_miss_and_deleted(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  CHECK(put_pattern(c, 7, 1, 5000, 100, T0) == 0);
  CHECK(put_pattern(c, 7, 2, 100, 100, T0) == 0);
  sl_cache_sync(c);
  CHECK(get_pattern(c, 7, 1, T0) == 0);
  /* flip a body byte of one, truncate the other, behind the cache's back */
  uint8_t k1[32], k2[32];
  make_key(k1, 7, 1);
  make_key(k2, 7, 2);
  MDB_txn *t;
  CHECK(mdb_txn_begin(env->env, NULL, 0, &t) == 0);
  MDB_val k = {32, k1}, v;
  CHECK(mdb_get(t, env->dbi_cache, &k, &v) == 0);
  char *copy = malloc(v.mv_size);
  memcpy(copy, v.mv_data, v.mv_size);
  copy[SL_CACHE_HDR_LEN + 1234] ^= 1;
  MDB_val nv = {v.mv_size, copy};
  CHECK(mdb_put(t, env->dbi_cache, &k, &nv, 0) == 0);
  MDB_val kk = {32, k2};
  CHECK(mdb_get(t, env->dbi_cache, &kk, &v) == 0);
  MDB_val tv = {v.mv_size - 1, copy};
  memcpy(copy, v.mv_data, v.mv_size - 1);
  CHECK(mdb_put(t, env->dbi_cache, &kk, &tv, 0) == 0);
  CHECK(mdb_txn_commit(t) == 0);
  free(copy);
  struct sl_cache_entry e;
  CHECK(sl_cache_get(c, k1, T0, &e) == -EBADMSG);
  CHECK(sl_cache_get(c, k2, T0, &e) == -EBADMSG);
  sl_cache_sync(c);
  size_t n, bad;
  verify_all(env, &n, &bad);
  CHECK(n == 0 && bad == 0); /* both deleted by the writer */
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  CHECK(st.entries == 0 && st.bytes == 0);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

static int64_t lru_atime(struct sl_lmdb *env, const uint8_t key[32]) {
  MDB_txn *t;
  int64_t at = -1;
  if (mdb_txn_begin(env->env, NULL, MDB_RDONLY, &t)) return -1;
  MDB_val k = {32, (void *)key}, v;
  if (mdb_get(t, env->dbi_cache_lru, &k, &v) == 0 && v.mv_size >= 8) memcpy(&at, v.mv_data, 8);
  mdb_txn_abort(t);
  return at;
}

/* Hits are recorded for LRU without any put to carry them: the writer's tick applies
 * them, at most once per touch_granularity_s per key. */
static void hits_touch_lru_on_tick(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache_opts o = {.maintenance_ms = 20, .touch_granularity_s = 10};
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, &o, &env);
  CHECK(c != NULL);
  if (!c) return;
  uint8_t k[32];
  make_key(k, 2, 1);
  put_pattern(c, 2, 1, 100, 1000, T0);
  sl_cache_sync(c);
  CHECK(lru_atime(env, k) == T0);
  CHECK(get_pattern(c, 2, 1, T0 + 5) == 0); /* within the granularity: not applied */
  CHECK(get_pattern(c, 2, 1, T0 + 50) == 0);
  CHECK(get_pattern(c, 2, 1, T0 + 51) == 0); /* suppressed by the reader */
  int64_t at = -1;
  for (int i = 0; i < 200 && at != T0 + 50; i++) {
    usleep(5000);
    at = lru_atime(env, k);
  }
  CHECK(at == T0 + 50);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

static void flush_empties(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  for (int i = 0; i < 50; i++) put_pattern(c, 3, (uint64_t)i, 2000, 100, T0);
  sl_cache_sync(c);
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  CHECK(st.entries == 50);
  for (int i = 50; i < 60; i++) put_pattern(c, 3, (uint64_t)i, 10, 100, T0);
  sl_cache_flush(c); /* discards the 10 still queued (or not yet applied) */
  put_pattern(c, 3, 99, 10, 100, T0);
  sl_cache_sync(c);
  sl_cache_stats_get(c, &st);
  CHECK(st.entries == 1);
  CHECK(get_pattern(c, 3, 1, T0) == 1);
  CHECK(get_pattern(c, 3, 99, T0) == 0);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

static void queue_overflow_drops_and_counts(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache_opts o = {.queue_max_ops = 4};
  struct sl_cache *c = open_cache(dir, 8 * MiB, 0, &o, &env); /* synced commits: a slow writer */
  CHECK(c != NULL);
  if (!c) return;
  int queued = 0, dropped = 0;
  for (int i = 0; i < 2000; i++) {
    int rc = put_pattern(c, 4, (uint64_t)i, 100, 100, T0);
    if (rc == 0) queued++;
    else if (rc == -ENOBUFS) dropped++;
  }
  sl_cache_sync(c);
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  CHECK(queued + dropped == 2000);
  CHECK(dropped > 0);
  CHECK(st.dropped_writes == (uint64_t)dropped);
  CHECK(st.entries == (uint64_t)queued);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

/* Two processes, each opening the environment after fork: one writes, the other reads. */
static void two_processes_share_entries(void) {
  char *dir = tmpdir();
  int p2c[2], c2p[2];
  CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    struct sl_lmdb *env;
    struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
    if (!c) _exit(2);
    for (int i = 0; i < 20; i++) put_pattern(c, 11, (uint64_t)i, 3000, 100, T0);
    sl_cache_sync(c);
    int rc = get_pattern(c, 11, 0, T0); /* one hit, published by close */
    close_cache(c, env);
    char b = 1;
    if (write(c2p[1], &b, 1) != 1) _exit(3);
    /* now read what the parent wrote */
    if (read(p2c[0], &b, 1) != 1) _exit(4);
    c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
    if (!c) _exit(5);
    int r2 = get_pattern(c, 12, 0, T0);
    close_cache(c, env);
    _exit(rc == 0 && r2 == 0 ? 0 : 6);
  }
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  char b;
  CHECK(read(c2p[0], &b, 1) == 1);
  if (c) {
    for (int i = 0; i < 20; i++) CHECK(get_pattern(c, 11, (uint64_t)i, T0) == 0);
    struct sl_cache_stats st;
    sl_cache_sync(c); /* counters being committed at this instant are not counted */
    sl_cache_stats_get(c, &st);
    CHECK(st.entries == 20);
    CHECK(st.hits == 21); /* the child's hit and our 20 */
    put_pattern(c, 12, 0, 100, 100, T0);
    sl_cache_sync(c);
  }
  b = 1;
  CHECK(write(p2c[1], &b, 1) == 1);
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (c) close_cache(c, env);
  close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
  rm_rf(dir);
  free(dir);
}

/* A second sluice with a bigger max_size grows the file past this process's map:
 * lookups miss until the writer re-maps, then hit. */
static void bigger_map_in_other_process(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  char msg[512];
  /* Only the environment (no writer thread) is open across fork(): a child forked from a
   * threaded parent may inherit a lock held by another thread (the allocator's under
   * ASan) and hang. sluice itself never forks a process that has a cache open. */
  CHECK(sl_lmdb_open(dir, 2 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    struct sl_lmdb *e2;
    struct sl_cache *c2 = open_cache(dir, 16 * MiB, SL_LMDB_NOSYNC, NULL, &e2);
    if (!c2) _exit(2);
    for (int i = 0; i < 1500; i++) {
      put_pattern(c2, 13, (uint64_t)i, 3000, 1000, T0);
      if (i % 50 == 0) sl_cache_sync(c2);
    }
    close_cache(c2, e2);
    _exit(0);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  struct sl_cache *c = NULL;
  CHECK(sl_cache_open(env, NULL, &c) == 0);
  if (!c) return;
  int r = get_pattern(c, 13, 1499, T0);
  if (getenv("SL_TEST_VERBOSE")) printf("bigger map: first lookup %d\n", r);
  CHECK(r != -1);
  if (r) {
    sl_cache_sync(c); /* the writer re-maps */
    r = get_pattern(c, 13, 1499, T0);
  }
  CHECK(r == 0);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

static int count_foreign_readers_cb(const char *msg, void *ctx) {
  int *n = ctx;
  long pid;
  if (sscanf(msg, " %ld", &pid) == 1 && pid != (long)getpid()) (*n)++;
  return 0;
}

/* Children write (and read) in a loop and are killed with SIGKILL at random moments,
 * repeatedly, while this process keeps the environment open (so the lock file and the
 * dead children's reader slots and maybe the write mutex stay as they left them). */
static void kill9_during_writes(void) {
  char *dir = tmpdir();
  struct sl_lmdb *penv;
  char pmsg[512];
  /* The environment stays open across every crash; the cache (with its writer thread)
   * is opened only between forks (see bigger_map_in_other_process). */
  CHECK(sl_lmdb_open(dir, 16 * MiB, 0, &penv, pmsg, sizeof pmsg) == 0);
  struct sl_cache *pc = NULL;
  srand(12345);
  int kills = 0;
  for (int round = 0; round < 8; round++) {
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(ready[0]);
      struct sl_lmdb *env;
      /* batches of 8 puts: many commits per second, so kills land inside them */
      struct sl_cache_opts o = {.batch_max_ops = 8};
      struct sl_cache *c = open_cache(dir, 16 * MiB, 0, &o, &env);
      if (!c) _exit(2);
      char b = 1;
      if (write(ready[1], &b, 1) != 1) _exit(3);
      for (uint64_t i = 0; i < 2000000; i++) {
        put_pattern(c, 100 + (uint64_t)round, i, 200 + (i * 7919) % 9000, 1000000000, T0 + (int64_t)i);
        get_pattern(c, 100 + (uint64_t)round, i / 2, T0 + (int64_t)i);
        if (i % 64 == 0) usleep(200);
      }
      _exit(0);
    }
    close(ready[1]);
    char b;
    CHECK(read(ready[0], &b, 1) == 1);
    close(ready[0]);
    usleep(30000 + (useconds_t)(rand() % 120000));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) kills++;
    /* its reader slots (lookup txn, writer's scan txn) are left behind */
    int dead = sl_lmdb_reader_check(penv);
    CHECK(dead >= 1);
    /* the survivor keeps working across each crash */
    CHECK(sl_cache_open(penv, NULL, &pc) == 0);
    if (!pc) break;
    CHECK(put_pattern(pc, 99, (uint64_t)round, 1000, 1000, T0) == 0);
    sl_cache_sync(pc);
    CHECK(get_pattern(pc, 99, (uint64_t)round, T0) == 0);
    sl_cache_close(pc);
    pc = NULL;
    if (getenv("SL_TEST_VERBOSE")) {
      size_t n, bad;
      verify_all(penv, &n, &bad);
      printf("round %d: %zu entries, %zu bad, dead %d\n", round, n, bad, dead);
    }
  }
  CHECK(kills == 8);
  int foreign = 0;
  mdb_reader_list(penv->env, count_foreign_readers_cb, &foreign);
  CHECK(foreign == 0);
  size_t n, bad;
  verify_all(penv, &n, &bad);
  if (getenv("SL_TEST_VERBOSE")) printf("kill9: %zu entries\n", n);
  CHECK(n > 100);
  CHECK(bad == 0);
  sl_lmdb_close(penv);
  /* a fresh open (as after a restart): clean, and every entry reads back complete */
  char msg[512];
  struct sl_lmdb *env;
  CHECK(sl_lmdb_open(dir, 16 * MiB, 0, &env, msg, sizeof msg) == 0);
  CHECK(strstr(msg, "moved") == NULL);
  verify_all(env, &n, &bad);
  CHECK(n > 100 && bad == 0);
  sl_lmdb_close(env);
  rm_rf(dir);
  free(dir);
}

/* Fill 5x past max_size with a fake clock: stays bounded, evicts the oldest first, and a
 * key that keeps being hit survives (LRU, not FIFO). */
static void fill_far_past_max_size(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  const size_t map = 4 * MiB;
  struct sl_cache *c = open_cache(dir, map, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  const int N = 5000;
  CHECK(put_pattern(c, 5, 0, 3000, 1000000, T0) == 0);
  for (int i = 1; i < N; i++) {
    int64_t now = T0 + i;
    CHECK(put_pattern(c, 5, (uint64_t)i, 3000, 1000000, now) == 0);
    if (i % 50 == 0) {
      sl_cache_sync(c);
      CHECK(get_pattern(c, 5, 0, now) == 0); /* the hot key */
    }
  }
  sl_cache_sync(c);
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  CHECK(st.dropped_writes == 0);
  CHECK(st.evictions > 0);
  CHECK(st.used_bytes <= map);
  CHECK(st.entries > 400 && st.entries < 1100);
  struct stat fs;
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  CHECK(stat(path, &fs) == 0 && (size_t)fs.st_size <= map);
  CHECK(get_pattern(c, 5, 0, T0 + N) == 0);
  /* oldest first: every present key is newer than every evicted one (the hot key aside) */
  int newest_missing = 0, oldest_present = N;
  for (int i = 1; i < N; i++) {
    int r = get_pattern(c, 5, (uint64_t)i, T0 + N);
    CHECK(r != -1);
    if (r == 1) newest_missing = i;
    else if (i < oldest_present) oldest_present = i;
  }
  CHECK(newest_missing < oldest_present);
  CHECK(N - oldest_present == (int)st.entries - 1);
  size_t n, bad;
  verify_all(env, &n, &bad);
  CHECK(bad == 0);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

/* Expired entries go before live ones, even when the live ones are older. */
static void expired_evicted_first(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  const size_t map = 4 * MiB;
  struct sl_cache *c = open_cache(dir, map, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  int64_t now = T0;
  for (int i = 0; i < 150; i++) put_pattern(c, 6, (uint64_t)i, 3000, 1000000, now++); /* A: old, live */
  sl_cache_sync(c);
  for (int i = 0; i < 350; i++) { /* B: short TTL */
    put_pattern(c, 7, (uint64_t)i, 3000, 5, now++);
    if (i % 50 == 0) sl_cache_sync(c);
  }
  sl_cache_sync(c);
  now += 100; /* every B has expired */
  for (int i = 0; i < 450; i++) { /* C: pushes past the high watermark once */
    put_pattern(c, 8, (uint64_t)i, 3000, 1000000, now++);
    if (i % 50 == 0) sl_cache_sync(c);
  }
  sl_cache_sync(c);
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  if (st.expired != 350) printf("expired %llu evictions %llu entries %llu dropped %llu\n", (unsigned long long)st.expired, (unsigned long long)st.evictions, (unsigned long long)st.entries, (unsigned long long)st.dropped_writes);
  CHECK(st.expired == 350);
  CHECK(st.evictions == 0);
  for (int i = 0; i < 150; i++) CHECK(get_pattern(c, 6, (uint64_t)i, now) == 0);
  CHECK(st.entries == 600);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

/* With the watermark out of the way, the writer meets MDB_MAP_FULL: requests are never
 * affected, the batch is retried after eviction, and the cache keeps storing. */
static void map_full_is_survived(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  const size_t map = 2 * MiB;
  struct sl_cache_opts o = {.high_water = 0.9999, .low_water = 0.6};
  struct sl_cache *c = open_cache(dir, map, SL_LMDB_NOSYNC, &o, &env);
  CHECK(c != NULL);
  if (!c) return;
  for (int i = 0; i < 3000; i++) {
    CHECK(put_pattern(c, 9, (uint64_t)i, 2500 + (size_t)(i % 7) * 100, 1000000, T0 + i) == 0);
    if (i % 40 == 0) sl_cache_sync(c);
  }
  sl_cache_sync(c);
  struct sl_cache_stats st;
  sl_cache_stats_get(c, &st);
  CHECK(st.evictions > 0);
  CHECK(st.errors == 0);
  CHECK(st.dropped_writes < 100);
  if (getenv("SL_TEST_VERBOSE"))
    printf("map_full: entries %llu evictions %llu dropped %llu used %llu\n", (unsigned long long)st.entries,
           (unsigned long long)st.evictions, (unsigned long long)st.dropped_writes, (unsigned long long)st.used_bytes);
  CHECK(get_pattern(c, 9, 2999, T0 + 3000) == 0);
  struct stat fs;
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  CHECK(stat(path, &fs) == 0 && (size_t)fs.st_size <= map + map / 16);
  size_t n, bad;
  verify_all(env, &n, &bad);
  CHECK(bad == 0 && n > 100);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

static int count_aside(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "data.mdb.corrupt-", 17)) n++;
  if (d) closedir(d);
  return n;
}

static void corrupt_file_moved_aside(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 4 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  for (int i = 0; i < 20; i++) put_pattern(c, 1, (uint64_t)i, 1000, 100, T0);
  close_cache(c, env);
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  /* garbage over the meta pages and the first tree pages */
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0);
  char junk[16384];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 131 + 7);
  CHECK(pwrite(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk);
  close(fd);
  char msg[512];
  CHECK(sl_lmdb_open(dir, 4 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  CHECK(strstr(msg, "moved") != NULL);
  CHECK(count_aside(dir) == 1);
  CHECK(sl_cache_open(env, NULL, &c) == 0);
  CHECK(get_pattern(c, 1, 1, T0) == 1);
  put_pattern(c, 1, 1, 1000, 100, T0);
  sl_cache_sync(c);
  CHECK(get_pattern(c, 1, 1, T0) == 0);
  close_cache(c, env);

  /* a truncated file */
  fd = open(path, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, junk, 100) == 100);
  close(fd);
  CHECK(sl_lmdb_open(dir, 4 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  CHECK(strstr(msg, "moved") != NULL);
  CHECK(count_aside(dir) == 2);
  sl_lmdb_close(env);

  /* a file damaged at run time is marked and moved aside at the next open */
  CHECK(sl_lmdb_open(dir, 4 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  CHECK(msg[0] == 0);
  sl_lmdb_mark_broken(env);
  sl_lmdb_close(env);
  CHECK(sl_lmdb_open(dir, 4 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  CHECK(strstr(msg, "damaged") != NULL && count_aside(dir) == 3);
  sl_lmdb_close(env);
  CHECK(sl_lmdb_open(dir, 4 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  CHECK(msg[0] == 0 && count_aside(dir) == 3);
  sl_lmdb_close(env);

  /* a data dir that cannot be created is an error, not a crash */
  CHECK(sl_lmdb_open("/proc/sluice-no/such", 4 * MiB, 0, &env, msg, sizeof msg) < 0);
  CHECK(msg[0] != 0);
  rm_rf(dir);
  free(dir);
}

/* Damage deep in the tree, which a cheap open does not see (and a lookup might fault
 * on), is found by the forked walk and moved aside. */
static void verify_finds_deep_damage(void) {
  char *dir = tmpdir();
  char msg[512];
  CHECK(sl_lmdb_verify(dir, 8 * MiB, 10000, msg, sizeof msg) == 0); /* no file yet */
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  for (int i = 0; i < 3000; i++) {
    put_pattern(c, 21, (uint64_t)i, 400, 1000, T0);
    if (i % 200 == 0) sl_cache_sync(c);
  }
  close_cache(c, env);
  CHECK(sl_lmdb_verify(dir, 8 * MiB, 10000, msg, sizeof msg) == 0);
  CHECK(msg[0] == 0 && count_aside(dir) == 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  struct stat fs;
  CHECK(stat(path, &fs) == 0);
  int fd = open(path, O_WRONLY);
  char junk[4096];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 7 + 1);
  /* every other page past the first few: tree pages certainly among them */
  for (off_t pg = 30; pg < fs.st_size / 4096 - 2; pg += 2) CHECK(pwrite(fd, junk, sizeof junk, pg * 4096) == (ssize_t)sizeof junk);
  close(fd);
  int rc = sl_lmdb_verify(dir, 8 * MiB, 10000, msg, sizeof msg);
  CHECK(rc == 1);
  CHECK(strstr(msg, "moved") != NULL && count_aside(dir) == 1);
  if (getenv("SL_TEST_VERBOSE")) printf("verify: %s\n", msg);
  c = open_cache(dir, 8 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (c) {
    put_pattern(c, 21, 1, 400, 1000, T0);
    sl_cache_sync(c);
    CHECK(get_pattern(c, 21, 1, T0) == 0);
    close_cache(c, env);
  }
  rm_rf(dir);
  free(dir);
}

static void creates_nested_data_dir(void) {
  char *dir = tmpdir();
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/a/b", dir);
  struct sl_lmdb *env;
  char msg[256];
  CHECK(sl_lmdb_open(sub, 1 * MiB, SL_LMDB_NOSYNC, &env, msg, sizeof msg) == 0);
  sl_lmdb_close(env);
  rm_rf(sub);
  snprintf(sub, sizeof sub, "%s/a", dir);
  rm_rf(sub);
  rm_rf(dir);
  free(dir);
}


/* used_bytes in the stats is measured when asked, not left at the writer's last
 * eviction check (which a roomy map never reaches). */
static void used_bytes_is_current(void) {
  char *dir = tmpdir();
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 64 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (!c) return;
  struct sl_cache_stats st0, st1, st2;
  sl_cache_stats_get(c, &st0);
  for (int i = 0; i < 300; i++) CHECK(put_pattern(c, 12, (uint64_t)i, 8000, 1000000, T0) == 0);
  sl_cache_sync(c);
  sl_cache_stats_get(c, &st1);
  CHECK(st1.entries == 300);
  CHECK(st1.used_bytes >= st0.used_bytes + 300 * 8000);
  CHECK(st1.used_bytes <= st1.max_bytes);
  sl_cache_flush(c);
  sl_cache_sync(c);
  sl_cache_stats_get(c, &st2);
  CHECK(st2.used_bytes < st1.used_bytes);
  close_cache(c, env);
  rm_rf(dir);
  free(dir);
}

/* The data dir's filesystem fills up long before max_size: ENOSPC is treated like a full
 * map (evict, retry), counted by reason, and reported for a log line once per interval;
 * later stores keep landing. Needs root to mount a 2 MiB tmpfs; skipped otherwise. */
static void disk_full_evicts_and_counts(void) {
  char *dir = tmpdir();
  if (mount("tmpfs", dir, "tmpfs", 0, "size=2m")) {
    printf("  (disk_full_evicts_and_counts skipped: cannot mount a tmpfs: %s)\n", strerror(errno));
    rm_rf(dir);
    free(dir);
    return;
  }
  struct sl_lmdb *env;
  struct sl_cache *c = open_cache(dir, 64 * MiB, SL_LMDB_NOSYNC, NULL, &env);
  CHECK(c != NULL);
  if (c) {
    for (int i = 0; i < 3000; i++) {
      CHECK(put_pattern(c, 11, (uint64_t)i, 2500 + (size_t)(i % 7) * 100, 1000000, T0 + i) == 0);
      if (i % 40 == 0) sl_cache_sync(c);
    }
    sl_cache_sync(c);
    struct sl_cache_stats st;
    sl_cache_stats_get(c, &st);
    if (getenv("SL_TEST_VERBOSE"))
      printf("disk_full: entries %llu evictions %llu dropped %llu no_space %llu io %llu used %llu\n",
             (unsigned long long)st.entries, (unsigned long long)st.evictions, (unsigned long long)st.dropped_writes,
             (unsigned long long)st.err_no_space, (unsigned long long)st.err_io, (unsigned long long)st.used_bytes);
    CHECK(st.err_no_space > 0);
    CHECK(st.evictions > 0);
    CHECK(st.entries > 100);
    int recent = 0;
    for (int i = 2900; i < 3000; i++) recent += get_pattern(c, 11, (uint64_t)i, T0 + 3000) == 0;
    CHECK(recent >= 80); /* stores go on landing on a full disk */
    struct sl_cache_error_report rep;
    CHECK(sl_cache_errors_report(c, 1000000, 10000, &rep) == 1);
    CHECK(rep.no_space > 0 && rep.last_errno == ENOSPC);
    CHECK(sl_cache_errors_report(c, 1005000, 10000, &rep) == 0); /* once per interval */
    size_t n, bad;
    verify_all(env, &n, &bad);
    CHECK(bad == 0);
    close_cache(c, env);
  }
  umount2(dir, MNT_DETACH);
  rm_rf(dir);
  free(dir);
}

CHECK_MAIN(T(crc32c_vectors), T(put_get_expire_overwrite), T(damaged_value_is_a_miss_and_deleted),
           T(hits_touch_lru_on_tick), T(flush_empties), T(queue_overflow_drops_and_counts), T(two_processes_share_entries), T(bigger_map_in_other_process),
           T(kill9_during_writes), T(fill_far_past_max_size), T(expired_evicted_first),
           T(map_full_is_survived), T(corrupt_file_moved_aside), T(verify_finds_deep_damage), T(creates_nested_data_dir),
           T(used_bytes_is_current), T(disk_full_evicts_and_counts))
