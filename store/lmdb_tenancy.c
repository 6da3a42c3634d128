/* The tenancy store's own environment (DATA_DIR/tenancy/: virtual keys and the spend
 * ledger) beside the disposable response cache (DATA_DIR/data.mdb): the upgrade from the
 * single-file layout, compacted backups, and the disk reserve. The one idea: nothing
 * that happens to the cache may cost a tenant a key or a cent, so the tenancy data lives
 * in a file the cache's damage handling never touches, is copied out of an old shared
 * file before anything else looks at it, and keeps preallocated room of its own.
 *
 * Reserve: LMDB (without MDB_WRITEMAP) writes pages with pwrite at the file's high-water
 * mark; blocks allocated ahead of it with posix_fallocate need no free space on the
 * disk. sl_lmdb_reserve keeps SL_TENANCY_RESERVE allocated beyond the last used page and
 * is called after each tenancy commit; when the disk is full it cannot top up, and the
 * commits live on the remaining reserve (freed pages are reused first, so the ledger's
 * steady state barely grows). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/lmdb_env.h"

int sl_lmdb_tenancy_dir(const char *data_dir, char *out, size_t n) {
  if (!data_dir || !data_dir[0]) data_dir = ".";
  int k = snprintf(out, n, "%s/tenancy", data_dir);
  return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

void sl_lmdb_reserve(struct sl_lmdb *e) {
  if (!e || !(e->flags & SL_LMDB_TENANCY)) return;
  MDB_envinfo info;
  mdb_filehandle_t fd;
  struct stat st;
  if (mdb_env_info(e->env, &info) || mdb_env_get_fd(e->env, &fd) || fstat(fd, &st)) return;
  uint64_t used = ((uint64_t)info.me_last_pgno + 1) * e->psize, want = used + SL_TENANCY_RESERVE;
  if (want > info.me_mapsize) want = info.me_mapsize;
  if ((uint64_t)st.st_size >= used + SL_TENANCY_RESERVE / 2 || (uint64_t)st.st_size >= want) return;
  (void)posix_fallocate(fd, 0, (off_t)want); /* ENOSPC: live on what is left */
}

/* ---- upgrade from one shared file ---- */

enum { MIG_NOTHING = 0, MIG_DONE = 1, MIG_FAILED = 2, MIG_DAMAGED = 3 };

static void on_fault(int sig) {
  (void)sig;
  _exit(MIG_DAMAGED);
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...) {
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > 0) (void)!write(fd, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

static int copy_db(MDB_txn *from, MDB_dbi fd, MDB_txn *to, MDB_dbi td, size_t *count) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(from, fd, &cur);
  if (rc) return rc;
  MDB_val k, v;
  for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
    if ((rc = mdb_put(to, td, &k, &v, MDB_APPEND))) break;
    (*count)++;
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static void rm_env_dir(const char *dir) {
  static const char *const files[] = {"data.mdb", "lock.mdb", "open.lock"};
  char p[4400];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (snprintf(p, sizeof p, "%s/%s", dir, files[i]) < (int)sizeof p) unlink(p);
  rmdir(dir);
}

static int migrate_child(const char *data_dir, size_t map_size, int out) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  MDB_env *old;
  MDB_txn *rt = NULL;
  MDB_dbi od[2];
  bool have[2] = {false, false};
  static const char *const names[2] = {"keys", "spend"};
  size_t total = 0;
  int rc = mdb_env_create(&old);
  if (rc) return MIG_FAILED;
  mdb_env_set_maxdbs(old, 8);
  mdb_env_set_maxreaders(old, 1024);
  mdb_env_set_mapsize(old, map_size);
  rc = mdb_env_open(old, data_dir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
  if (!rc) rc = mdb_txn_begin(old, NULL, MDB_RDONLY, &rt);
  for (int i = 0; !rc && i < 2; i++) {
    int r = mdb_dbi_open(rt, names[i], 0, &od[i]);
    if (r == MDB_NOTFOUND) continue;
    MDB_stat st;
    if (!(rc = r) && !(rc = mdb_stat(rt, od[i], &st))) {
      have[i] = st.ms_entries > 0;
      total += st.ms_entries;
    }
  }
  if (rc) {
    say(out, "cannot read keys and spend from %s/data.mdb: %s", data_dir, mdb_strerror(rc));
    return sl_lmdb_is_corruption(rc) ? MIG_DAMAGED : MIG_FAILED;
  }
  if (total == 0) return MIG_NOTHING;

  char tdir[4096], ndir[4200];
  if (sl_lmdb_tenancy_dir(data_dir, tdir, sizeof tdir)) return MIG_FAILED;
  snprintf(ndir, sizeof ndir, "%s.new", tdir);
  rm_env_dir(ndir); /* what an interrupted migration left */
  struct sl_lmdb *ne;
  char m[512];
  if ((rc = sl_lmdb_open(ndir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &ne, m, sizeof m))) {
    say(out, "cannot create %s: %s", ndir, m);
    return MIG_FAILED;
  }
  MDB_txn *wt;
  size_t n[2] = {0, 0};
  rc = mdb_txn_begin(ne->env, NULL, 0, &wt);
  for (int i = 0; !rc && i < 2; i++)
    if (have[i]) rc = copy_db(rt, od[i], wt, i == 0 ? ne->dbi_keys : ne->dbi_spend, &n[i]);
  if (!rc) rc = mdb_txn_commit(wt);
  else mdb_txn_abort(wt);
  if (!rc) rc = mdb_env_sync(ne->env, 1);
  sl_lmdb_close(ne);
  mdb_txn_abort(rt);
  if (rc) {
    say(out, "copying keys and spend out of %s/data.mdb failed: %s", data_dir, mdb_strerror(rc));
    rm_env_dir(ndir);
    return sl_lmdb_is_corruption(rc) ? MIG_DAMAGED : MIG_FAILED;
  }
  rm_env_dir(tdir); /* an empty leftover, if any (a store there is never replaced: see the caller) */
  if (rename(ndir, tdir) != 0) {
    say(out, "cannot rename %s to %s: %s", ndir, tdir, strerror(errno));
    return MIG_FAILED;
  }
  /* The copy is in place: the old file's records are now only stale duplicates. */
  MDB_txn *ot;
  if (!mdb_txn_begin(old, NULL, 0, &ot)) {
    int r = 0;
    for (int i = 0; i < 2 && !r; i++) { /* by name: the handles died with the read txn */
      MDB_dbi d;
      if (have[i] && !(r = mdb_dbi_open(ot, names[i], 0, &d))) r = mdb_drop(ot, d, 0);
    }
    if (r || mdb_txn_commit(ot)) say(out, "(the old copies in data.mdb could not be emptied; they are ignored) ");
    if (r) mdb_txn_abort(ot);
  }
  mdb_env_close(old);
  say(out, "moved %zu key records and %zu spend records from %s/data.mdb to %s", n[0], n[1], data_dir, tdir);
  return MIG_DONE;
}

int sl_lmdb_migrate(const char *data_dir, size_t map_size, char *msg, size_t msglen) {
  if (msg && msglen) msg[0] = 0;
  if (!data_dir || !data_dir[0]) data_dir = ".";
  char old[4200], tdir[4200], tdata[4300];
  struct stat st;
  if (snprintf(old, sizeof old, "%s/data.mdb", data_dir) >= (int)sizeof old ||
      sl_lmdb_tenancy_dir(data_dir, tdir, sizeof tdir))
    return -ENAMETOOLONG;
  snprintf(tdata, sizeof tdata, "%s/data.mdb", tdir);
  if (stat(old, &st) != 0 || st.st_size == 0 || stat(tdata, &st) == 0) return 0;
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return -e;
  }
  if (pid == 0) {
    close(p[0]);
    _exit(migrate_child(data_dir, map_size, p[1]));
  }
  close(p[1]);
  char b[512];
  size_t got = 0;
  ssize_t k;
  while (got < sizeof b - 1 && ((k = read(p[0], b + got, sizeof b - 1 - got)) > 0 || (k < 0 && errno == EINTR)))
    if (k > 0) got += (size_t)k;
  b[got] = 0;
  close(p[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : MIG_DAMAGED;
  if (msg && msglen) snprintf(msg, msglen, "%s", b[0] ? b : code == MIG_DAMAGED ? "the old data.mdb is damaged" : "");
  if (code == MIG_NOTHING) return 0;
  if (code == MIG_DONE) return 1;
  return code == MIG_DAMAGED ? -EIO : -EINVAL;
}

/* ---- backup ---- */

int sl_lmdb_backup(const char *dir, size_t map_size, const char *dest, char *msg, size_t msglen) {
  if (msg && msglen) msg[0] = 0;
  char data[4200], tmp[4200];
  struct stat st;
  if (snprintf(data, sizeof data, "%s/data.mdb", dir) >= (int)sizeof data ||
      snprintf(tmp, sizeof tmp, "%s.tmp", dest) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  if (stat(data, &st) != 0) {
    int e = errno;
    if (msg) snprintf(msg, msglen, "no store at %s: %s", data, strerror(e));
    return -e;
  }
  MDB_env *env;
  int rc = mdb_env_create(&env);
  if (rc) return sl_lmdb_err(rc);
  mdb_env_set_maxdbs(env, 8);
  mdb_env_set_maxreaders(env, 1024);
  mdb_env_set_mapsize(env, map_size);
  rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600);
  int fd = -1;
  if (!rc) {
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) rc = errno;
  }
  if (!rc) rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
  if (!rc && fsync(fd) != 0) rc = errno;
  if (fd >= 0 && close(fd) != 0 && !rc) rc = errno;
  if (!rc && rename(tmp, dest) != 0) rc = errno;
  if (rc && fd >= 0) unlink(tmp);
  mdb_env_close(env);
  if (rc && msg) snprintf(msg, msglen, "cannot back up %s to %s: %s", data, dest, mdb_strerror(rc));
  return sl_lmdb_err(rc);
}
