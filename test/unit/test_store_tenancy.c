/* The tenancy store's environment (store/lmdb_tenancy.c, SL_LMDB_TENANCY): the upgrade
 * from one shared file keeps every key and ledger record, a damaged tenancy file is
 * refused and left in place (where a damaged cache file is moved aside), a backup is a
 * working store, and on a full disk (a small tmpfs; skipped where mounting is not
 * allowed) the tenancy store keeps committing while a store without the reserve cannot. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/keys.h"
#include "store/lmdb_env.h"

#define MiB (1024u * 1024u)
#define T0 1700000000

static int gen_key(struct sl_lmdb *e, const char *alias, char secret[SL_KEY_SECRET_MAX]) {
  struct sl_keys *k;
  if (sl_keys_open(e, &k)) return -1;
  struct sl_key_params p = {.key_alias = alias, .now_unix = T0};
  int rc = sl_keys_generate(k, &p, secret, NULL);
  sl_keys_close(k);
  return rc;
}

static int has_key(struct sl_lmdb *e, const char *secret) {
  struct sl_keys *k;
  if (sl_keys_open(e, &k)) return 0;
  struct sl_key_record r;
  int rc = sl_keys_lookup(k, secret, strlen(secret), &r);
  if (!rc) sl_key_record_free(&r);
  sl_keys_close(k);
  return rc == 0;
}

static int put_raw(struct sl_lmdb *e, MDB_dbi d, const char *key, const char *val) {
  MDB_txn *t;
  int rc = mdb_txn_begin(e->env, NULL, 0, &t);
  if (rc) return rc;
  MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
  rc = mdb_put(t, d, &k, &v, 0);
  return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}

static size_t entries(struct sl_lmdb *e, MDB_dbi d) {
  MDB_txn *t;
  MDB_stat st = {0};
  if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t)) return (size_t)-1;
  mdb_stat(t, d, &st);
  mdb_txn_abort(t);
  return st.ms_entries;
}

static void rm_tree(const char *dir) {
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/tenancy", dir);
  rm_rf(sub);
  rm_rf(dir);
}

static void migrates_keys_and_spend(void) {
  char *dir = tmpdir();
  struct sl_lmdb *old;
  char msg[1024], secret[SL_KEY_SECRET_MAX];
  /* the single-file layout: keys and spend in DATA_DIR/data.mdb */
  CHECK(sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, &old, msg, sizeof msg) == 0);
  CHECK(gen_key(old, "old", secret) == 0);
  CHECK(put_raw(old, old->dbi_spend, "ledger-row", "42") == 0);
  CHECK(put_raw(old, old->dbi_cache, "cached", "answer") == 0);
  size_t nkeys = entries(old, old->dbi_keys), nspend = entries(old, old->dbi_spend);
  CHECK(nkeys >= 1 && nspend >= 2);
  sl_lmdb_close(old);

  CHECK(sl_lmdb_migrate(dir, 8 * MiB, msg, sizeof msg) == 1);
  char want[128];
  snprintf(want, sizeof want, "moved %zu key records and %zu spend records", nkeys, nspend);
  CHECK(strstr(msg, want) != NULL);
  CHECK(sl_lmdb_migrate(dir, 8 * MiB, msg, sizeof msg) == 0); /* once */

  char tdir[4200];
  CHECK(sl_lmdb_tenancy_dir(dir, tdir, sizeof tdir) == 0);
  struct sl_lmdb *t;
  CHECK(sl_lmdb_open(tdir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY | SL_LMDB_NOSYNC, &t, msg, sizeof msg) == 0);
  if (t) {
    CHECK(has_key(t, secret));
    CHECK(entries(t, t->dbi_keys) == nkeys);
    CHECK(entries(t, t->dbi_spend) == nspend);
    CHECK(entries(t, t->dbi_cache) == 0);
    sl_lmdb_close(t);
  }
  CHECK(sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, &old, msg, sizeof msg) == 0);
  if (old) {
    CHECK(entries(old, old->dbi_keys) == 0); /* the stale copies are emptied */
    CHECK(entries(old, old->dbi_cache) == 1); /* the cache itself stays */
    sl_lmdb_close(old);
  }
  struct stat st;
  CHECK(stat(tdir, &st) == 0 && (st.st_mode & 0777) == 0700);
  char f[4300];
  snprintf(f, sizeof f, "%s/data.mdb", tdir);
  CHECK(stat(f, &st) == 0 && (st.st_mode & 0777) == 0600);
  rm_tree(dir);
  free(dir);
}

static void garble(const char *dir) {
  char f[4300];
  snprintf(f, sizeof f, "%s/data.mdb", dir);
  int fd = open(f, O_WRONLY);
  char junk[8192];
  memset(junk, 0x5a, sizeof junk);
  CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk);
  if (fd >= 0) close(fd);
}

static int count_prefix(const char *dir, const char *prefix) {
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
  if (d) closedir(d);
  return n;
}

static void damaged_tenancy_is_refused_not_replaced(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e;
  char msg[1024], secret[SL_KEY_SECRET_MAX];
  CHECK(sl_lmdb_open(dir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY | SL_LMDB_NOSYNC, &e, msg, sizeof msg) == 0);
  CHECK(gen_key(e, "t", secret) == 0);
  sl_lmdb_mark_broken(e); /* run-time corruption never schedules a reset here */
  sl_lmdb_close(e);
  CHECK(count_prefix(dir, "data.mdb.broken") == 0);

  char backup[4300];
  snprintf(backup, sizeof backup, "%s.backup", dir);
  CHECK(sl_lmdb_backup(dir, SL_TENANCY_MAP_SIZE, backup, msg, sizeof msg) == 0);

  garble(dir);
  CHECK(sl_lmdb_verify_flags(dir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, 20000, msg, sizeof msg) == 1);
  CHECK(sl_lmdb_open(dir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &e, msg, sizeof msg) != 0);
  CHECK(strstr(msg, "sluice store backup") != NULL);
  CHECK(count_prefix(dir, "data.mdb.corrupt") == 0); /* left where it is */

  /* restore: replace the file, drop the lock file */
  char f[4300], lock[4300];
  snprintf(f, sizeof f, "%s/data.mdb", dir);
  snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
  CHECK(rename(backup, f) == 0);
  unlink(lock);
  CHECK(sl_lmdb_open(dir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &e, msg, sizeof msg) == 0);
  if (e) {
    CHECK(has_key(e, secret));
    sl_lmdb_close(e);
  }
  /* the cache, by contrast, is moved aside and started empty */
  garble(dir);
  CHECK(sl_lmdb_open(dir, 8 * MiB, 0, &e, msg, sizeof msg) == 0);
  CHECK(count_prefix(dir, "data.mdb.corrupt") == 1);
  if (e) sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* Writes keys until one fails; returns how many went in (bounded by max). */
static int fill_keys(struct sl_lmdb *e, int max) {
  struct sl_keys *k;
  if (sl_keys_open(e, &k)) return -1;
  int n = 0;
  char secret[SL_KEY_SECRET_MAX], alias[96];
  for (; n < max; n++) {
    snprintf(alias, sizeof alias, "key-%d-with-a-longer-alias-to-take-room-%040d", n, n);
    struct sl_key_params p = {.key_alias = alias, .now_unix = T0};
    if (sl_keys_generate(k, &p, secret, NULL)) break;
  }
  sl_keys_close(k);
  return n;
}

static void keeps_writing_on_a_full_disk(void) {
  char *mnt = tmpdir();
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=16m") != 0) {
    printf("skip: cannot mount a tmpfs (%s)\n", strerror(errno));
    rmdir(mnt);
    free(mnt);
    return;
  }
  char tdir[4200], cdir[4200], filler[4200], msg[1024];
  snprintf(tdir, sizeof tdir, "%s/tenancy", mnt);
  snprintf(cdir, sizeof cdir, "%s/plain", mnt);
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  struct sl_lmdb *t = NULL, *c = NULL;
  CHECK(sl_lmdb_open(tdir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &t, msg, sizeof msg) == 0);
  CHECK(sl_lmdb_open(cdir, 64 * MiB, 0, &c, msg, sizeof msg) == 0);
  /* the disk fills up (with something else) */
  int fd = open(filler, O_WRONLY | O_CREAT, 0600);
  static char block[64 * 1024];
  while (fd >= 0 && write(fd, block, sizeof block) > 0) {
  }
  while (fd >= 0 && write(fd, block, 4096) > 0) {
  }
  if (fd >= 0) close(fd);
  if (t && c) {
    int nt = fill_keys(t, 300), nc = fill_keys(c, 300);
    printf("on a full disk: %d of 300 keys written to the tenancy store, %d without a reserve\n", nt, nc);
    CHECK(nt == 300);
    CHECK(nc < 300); /* the test can tell: without the reserve, writes fail */
  }
  if (t) sl_lmdb_close(t);
  if (c) sl_lmdb_close(c);
  umount2(mnt, MNT_DETACH);
  rmdir(mnt);
  free(mnt);
}

int main(void) {
  static const struct check_case cases[] = {
      {"migrates_keys_and_spend", migrates_keys_and_spend},
      {"damaged_tenancy_is_refused_not_replaced", damaged_tenancy_is_refused_not_replaced},
      {"keeps_writing_on_a_full_disk", keeps_writing_on_a_full_disk},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
