/* Opening the shared LMDB environments; see lmdb_env.h for the flags and why. The one
 * idea: opening is serialised across processes by an flock on <dir>/open.lock, so when
 * every worker finds the same damaged cache file at once, exactly one moves it aside and
 * the others open the fresh file it created. A damaged tenancy file is never moved: the
 * open fails with a message that says how to recover. */
#include "store/lmdb_env.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DBS 32
#define MAX_READERS 1024

static void note(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *msg, size_t msglen, const char *fmt, ...) {
  if (!msg || !msglen) return;
  size_t used = strnlen(msg, msglen);
  if (used + 3 >= msglen) return;
  if (used) {
    memcpy(msg + used, "; ", 3);
    used += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + used, msglen - used, fmt, ap);
  va_end(ap);
}

int sl_lmdb_err(int rc) {
  if (rc == 0) return 0;
  if (rc > 0) return -rc;
  switch (rc) {
  case MDB_NOTFOUND: return -ENOENT;
  case MDB_MAP_FULL: return -ENOSPC;
  case MDB_READERS_FULL:
  case MDB_MAP_RESIZED: return -EAGAIN;
  default: return -EIO;
  }
}

bool sl_lmdb_is_corruption(int rc) {
  switch (rc) {
  case MDB_INVALID:
  case MDB_CORRUPTED:
  case MDB_VERSION_MISMATCH:
  case MDB_PANIC:
  case MDB_PAGE_NOTFOUND:
  case MDB_INCOMPATIBLE:
  case MDB_BAD_VALSIZE:
    return true;
  default:
    return false;
  }
}

/* Errors of the file itself, which a fresh file cures. Address-space or memory
 * shortages (ENOMEM) and a directory we cannot write (checked before) are not. */
static bool file_problem(int rc) {
  return sl_lmdb_is_corruption(rc) || rc == EACCES || rc == EPERM || rc == EISDIR || rc == EINVAL ||
         rc == ENOTDIR || rc == EIO;
}

static int mkdir_p(const char *dir) {
  char p[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof p) return -ENAMETOOLONG;
  memcpy(p, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != 0) continue;
    char c = p[i];
    p[i] = 0;
    if (mkdir(p, 0700) != 0 && errno != EEXIST) return -errno; /* cached prompts and answers: owner only */
    p[i] = c;
  }
  struct stat st;
  if (stat(dir, &st) != 0) return -errno;
  if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  return 0;
}

static int path_in(char *out, size_t n, const char *dir, const char *name) {
  int k = snprintf(out, n, "%s/%s", dir, name);
  return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

/* data.mdb -> data.mdb.corrupt-<unix time>[.N]; lock.mdb is removed, so processes still
 * using the old file keep their (now unlinked) lock file and new ones get a fresh pair. */
static int move_aside(const char *dir, char *msg, size_t msglen) {
  char from[4200], to[4300], lock[4200];
  if (path_in(from, sizeof from, dir, "data.mdb") || path_in(lock, sizeof lock, dir, "lock.mdb"))
    return -ENAMETOOLONG;
  long long t = (long long)time(NULL);
  struct stat st;
  snprintf(to, sizeof to, "%s.corrupt-%lld", from, t);
  for (int i = 1; i < 100 && lstat(to, &st) == 0; i++) snprintf(to, sizeof to, "%s.corrupt-%lld.%d", from, t, i);
  if (rename(from, to) != 0) {
    if (errno != ENOENT) {
      int e = errno;
      note(msg, msglen, "cannot move %s aside: %s", from, strerror(e));
      return -e;
    }
  } else {
    note(msg, msglen, "moved %s aside to %s", from, to);
  }
  if (unlink(lock) != 0 && errno != ENOENT) {
    int e = errno;
    note(msg, msglen, "cannot remove %s: %s", lock, strerror(e));
    return -e;
  }
  return 0;
}

static int open_dbs(struct sl_lmdb *e) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(e->env, NULL, 0, &txn);
  if (rc) return rc;
  static const struct {
    const char *name;
    size_t off;
  } dbs[] = {
      {"cache", offsetof(struct sl_lmdb, dbi_cache)},
      {"cache_lru", offsetof(struct sl_lmdb, dbi_cache_lru)},
      {"cache_stats", offsetof(struct sl_lmdb, dbi_cache_stats)},
      {"keys", offsetof(struct sl_lmdb, dbi_keys)},
      {"spend", offsetof(struct sl_lmdb, dbi_spend)},
      {"responses", offsetof(struct sl_lmdb, dbi_resp)},
      {"responses_age", offsetof(struct sl_lmdb, dbi_resp_age)},
      {"responses_stats", offsetof(struct sl_lmdb, dbi_resp_stats)},
      {"embeddings", offsetof(struct sl_lmdb, dbi_embed)},
      {"feedback", offsetof(struct sl_lmdb, dbi_fb)},
      {"feedback_age", offsetof(struct sl_lmdb, dbi_fb_age)},
      {"learn_state", offsetof(struct sl_lmdb, dbi_fb_state)},
      {"learn_snap", offsetof(struct sl_lmdb, dbi_fb_snap)},
      {"semcache", offsetof(struct sl_lmdb, dbi_semcache)},
      {"semcache_meta", offsetof(struct sl_lmdb, dbi_semcache_meta)},
  };
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    MDB_dbi *d = (MDB_dbi *)((char *)e + dbs[i].off);
    rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, d);
    if (rc) {
      mdb_txn_abort(txn);
      return rc;
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc) return rc;
  /* A cheap sanity walk: the root-to-leaf paths at both ends of every database. It
   * catches a damaged root or tree edge now rather than at the first lookup. */
  rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
  if (rc) return rc;
  MDB_dbi all[] = {e->dbi_cache, e->dbi_cache_lru, e->dbi_cache_stats, e->dbi_keys,
                   e->dbi_spend, e->dbi_resp,      e->dbi_resp_age,    e->dbi_resp_stats, e->dbi_embed,
                   e->dbi_fb,    e->dbi_fb_age,    e->dbi_fb_state,    e->dbi_fb_snap, e->dbi_semcache, e->dbi_semcache_meta};
  for (size_t i = 0; i < sizeof all / sizeof all[0] && !rc; i++) {
    MDB_cursor *cur;
    MDB_val k, v;
    rc = mdb_cursor_open(txn, all[i], &cur);
    if (rc) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  mdb_txn_abort(txn);
  return rc;
}

/* A file shorter than its own meta page says (a truncated copy, a full disk) would
 * fault (SIGBUS) at the first read of a missing page: refuse it before any. */
static int check_size(MDB_env *env) {
  MDB_envinfo info;
  MDB_stat st;
  mdb_filehandle_t fd;
  struct stat fs;
  int rc = mdb_env_info(env, &info);
  if (!rc) rc = mdb_env_stat(env, &st);
  if (!rc) rc = mdb_env_get_fd(env, &fd);
  if (rc) return rc;
  if (fstat(fd, &fs) != 0) return errno;
  if ((uint64_t)fs.st_size < ((uint64_t)info.me_last_pgno + 1) * st.ms_psize) return MDB_CORRUPTED;
  return 0;
}

/* The lock file is mapped and written as readers come and go; made before LMDB opens it
 * (closing a descriptor of it later would drop LMDB's fcntl locks), with its blocks
 * allocated, a full disk cannot fault a reader. Only for the tenancy store. */
static void prealloc_lock(const char *dir) {
  char path[4200];
  if (path_in(path, sizeof path, dir, "lock.mdb")) return;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  (void)posix_fallocate(fd, 0, 256 * 1024);
  close(fd);
}

static int try_open(struct sl_lmdb *e, const char *dir, size_t map_size, unsigned flags, int *dead) {
  if (flags & SL_LMDB_TENANCY) prealloc_lock(dir);
  int rc = mdb_env_create(&e->env);
  if (rc) return rc;
  unsigned envflags = MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMETASYNC;
  if (flags & SL_LMDB_NOSYNC) envflags |= MDB_NOSYNC;
  if (!(rc = mdb_env_set_maxdbs(e->env, MAX_DBS)) && !(rc = mdb_env_set_maxreaders(e->env, MAX_READERS)) &&
      !(rc = mdb_env_set_mapsize(e->env, map_size)))
    rc = mdb_env_open(e->env, dir, envflags, 0600);
  if (!rc) rc = check_size(e->env);
  if (!rc) rc = mdb_reader_check(e->env, dead);
  if (!rc) rc = open_dbs(e);
  if (!rc) {
    MDB_stat st;
    rc = mdb_env_stat(e->env, &st);
    e->psize = st.ms_psize;
  }
  if (rc) {
    mdb_env_close(e->env);
    e->env = NULL;
  }
  return rc;
}

int sl_lmdb_open(const char *dir, size_t map_size, unsigned flags, struct sl_lmdb **out, char *msg,
                 size_t msglen) {
  *out = NULL;
  if (msg && msglen) msg[0] = 0;
  if (!dir || !dir[0]) dir = ".";
  if (strlen(dir) >= sizeof((struct sl_lmdb *)0)->dir) return -ENAMETOOLONG;
  int rc = mkdir_p(dir);
  if (rc) {
    note(msg, msglen, "cannot create data dir %s: %s", dir, strerror(-rc));
    return rc;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    int e = errno;
    note(msg, msglen, "data dir %s is not writable: %s", dir, strerror(e));
    return -e;
  }
  struct sl_lmdb *e = calloc(1, sizeof *e);
  if (!e) return -ENOMEM;
  snprintf(e->dir, sizeof e->dir, "%s", dir);
  e->map_size = map_size;
  e->flags = flags;
  bool tenancy = flags & SL_LMDB_TENANCY;
  if (pthread_rwlock_init(&e->remap_lock, NULL) != 0) {
    free(e);
    return -ENOMEM;
  }

  char lockpath[4200], marker[4200];
  int lockfd = -1;
  if (!path_in(lockpath, sizeof lockpath, dir, "open.lock")) {
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0) {
      while (flock(lockfd, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  if (!tenancy && !path_in(marker, sizeof marker, dir, "data.mdb.broken") && access(marker, F_OK) == 0) {
    note(msg, msglen, "data.mdb was marked damaged at run time");
    if (move_aside(dir, msg, msglen) == 0) unlink(marker);
  }
  int dead = 0;
  rc = try_open(e, dir, map_size, flags, &dead);
  if (rc && tenancy && file_problem(rc)) {
    note(msg, msglen,
         "the tenancy store %s/data.mdb (virtual keys, spend ledger) cannot be opened: %s; it is left as it is. "
         "Recover: stop sluice, run `sluice store check --data-dir DATA_DIR`, and restore a backup made by "
         "`sluice store backup` to %s/data.mdb (see README, Operations)",
         dir, mdb_strerror(rc), dir);
  } else if (rc && file_problem(rc)) {
    note(msg, msglen, "cannot open the LMDB environment in %s: %s", dir, mdb_strerror(rc));
    if (move_aside(dir, msg, msglen) == 0) {
      dead = 0;
      rc = try_open(e, dir, map_size, flags, &dead);
      if (!rc) note(msg, msglen, "started a fresh cache");
    }
  }
  if (lockfd >= 0) close(lockfd); /* releases the flock */
  if (rc) {
    note(msg, msglen, "LMDB environment in %s unusable: %s", dir, mdb_strerror(rc));
    pthread_rwlock_destroy(&e->remap_lock);
    free(e);
    return sl_lmdb_err(rc);
  }
  if (dead > 0) note(msg, msglen, "cleared %d stale reader slot%s", dead, dead == 1 ? "" : "s");
  if (tenancy) sl_lmdb_reserve(e);
  *out = e;
  return 0;
}

/* ---- the deep check, in a child ---- */

enum { VERIFY_OK = 0, VERIFY_DAMAGED = 3, VERIFY_INCONCLUSIVE = 4 };

static int walk_db(MDB_txn *txn, MDB_dbi dbi, size_t bound, bool values) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc) return rc;
  MDB_val k, v;
  size_t n = 0;
  for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
    if (++n > bound) {
      rc = MDB_CORRUPTED; /* a cycle */
      break;
    }
    if (values && v.mv_size >= 4) { /* touch the value's first page */
      volatile unsigned char c = *(const unsigned char *)v.mv_data;
      (void)c;
    }
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static void on_fault(int sig) {
  (void)sig;
  _exit(VERIFY_DAMAGED);
}

static int verify_child(const char *dir, size_t map_size) {
  /* A fault here is the answer, not a crash to report (nor for a sanitizer to trap). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  MDB_env *env;
  if (mdb_env_create(&env)) return VERIFY_INCONCLUSIVE;
  mdb_env_set_maxdbs(env, MAX_DBS);
  mdb_env_set_maxreaders(env, MAX_READERS);
  mdb_env_set_mapsize(env, map_size);
  int rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0600);
  if (!rc) rc = check_size(env);
  MDB_txn *txn = NULL;
  if (!rc) rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  size_t bound = 0;
  if (!rc) {
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    bound = ((size_t)info.me_last_pgno + 2) * (st.ms_psize / 8 + 1);
  }
  if (!rc) rc = walk_db(txn, 0, bound, true); /* the free list */
  MDB_dbi main_dbi;
  if (!rc) rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
  if (!rc) rc = walk_db(txn, main_dbi, bound, false);
  static const char *const names[] = {"cache", "cache_lru", "cache_stats", "keys",
                                      "spend", "responses", "responses_age", "responses_stats",
                                      "embeddings", "feedback", "feedback_age", "learn_state", "learn_snap", "semcache", "semcache_meta"};
  for (size_t i = 0; !rc && i < sizeof names / sizeof names[0]; i++) {
    MDB_dbi d;
    int r = mdb_dbi_open(txn, names[i], 0, &d);
    if (r == MDB_NOTFOUND) continue;
    rc = r ? r : walk_db(txn, d, bound, true);
  }
  if (txn) mdb_txn_abort(txn);
  mdb_env_close(env);
  if (rc == ENOENT) return VERIFY_OK; /* no file yet */
  return rc == 0 ? VERIFY_OK : sl_lmdb_is_corruption(rc) ? VERIFY_DAMAGED : VERIFY_INCONCLUSIVE;
}

int sl_lmdb_verify_start(const char *dir, size_t map_size, unsigned flags, pid_t *pid) {
  (void)flags;
  *pid = 0;
  if (!dir || !dir[0]) dir = ".";
  char data[4200];
  struct stat st;
  if (path_in(data, sizeof data, dir, "data.mdb")) return -ENAMETOOLONG;
  if (stat(data, &st) != 0 || st.st_size == 0) return 0;
  pid_t p = fork();
  if (p < 0) return -errno;
  if (p == 0) _exit(verify_child(dir, map_size));
  *pid = p;
  return 0;
}

int sl_lmdb_verify(const char *dir, size_t map_size, unsigned timeout_ms, char *msg, size_t msglen) {
  return sl_lmdb_verify_flags(dir, map_size, 0, timeout_ms, msg, msglen);
}

int sl_lmdb_verify_flags(const char *dir, size_t map_size, unsigned flags, unsigned timeout_ms, char *msg,
                         size_t msglen) {
  if (msg && msglen) msg[0] = 0;
  if (!dir || !dir[0]) dir = ".";
  char data[4200];
  if (path_in(data, sizeof data, dir, "data.mdb")) return -ENAMETOOLONG;
  pid_t pid;
  int rc = sl_lmdb_verify_start(dir, map_size, flags, &pid);
  if (rc || pid == 0) return rc;
  int status = 0;
  unsigned waited = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -errno;
    if (waited >= timeout_ms) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      note(msg, msglen, "checking %s took longer than %u ms; left as it is", data, timeout_ms);
      return -ETIMEDOUT;
    }
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
    waited += 5;
  }
  return sl_lmdb_verify_finish(dir, flags, status, msg, msglen);
}

int sl_lmdb_verify_finish(const char *dir, unsigned flags, int status, char *msg, size_t msglen) {
  if (!dir || !dir[0]) dir = ".";
  char data[4200];
  if (path_in(data, sizeof data, dir, "data.mdb")) return -ENAMETOOLONG;
  if (WIFEXITED(status) && (WEXITSTATUS(status) == VERIFY_OK || WEXITSTATUS(status) == VERIFY_INCONCLUSIVE)) return 0;
  if (WIFSIGNALED(status))
    note(msg, msglen, "checking %s crashed (signal %d): the file is damaged", data, WTERMSIG(status));
  else
    note(msg, msglen, "%s is damaged (a walk of its pages failed)", data);
  if (flags & (SL_LMDB_TENANCY | SL_LMDB_CHECK_ONLY)) return 1;
  char lockpath[4200];
  int lockfd = -1;
  if (!path_in(lockpath, sizeof lockpath, dir, "open.lock")) {
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0)
      while (flock(lockfd, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  int rc = move_aside(dir, msg, msglen);
  if (lockfd >= 0) close(lockfd);
  return rc ? rc : 1;
}

void sl_lmdb_close(struct sl_lmdb *e) {
  if (!e) return;
  if (e->env) mdb_env_close(e->env);
  pthread_rwlock_destroy(&e->remap_lock);
  free(e);
}

int sl_lmdb_reader_check(struct sl_lmdb *e) {
  int dead = 0;
  int rc = mdb_reader_check(e->env, &dead);
  return rc ? sl_lmdb_err(rc) : dead;
}

int sl_lmdb_used_pages(struct sl_lmdb *e, MDB_txn *rtxn, size_t *used, size_t *last) {
  MDB_envinfo info;
  int rc = mdb_txn_renew(rtxn);
  if (rc) {
    if (rc == MDB_MAP_RESIZED) atomic_store(&e->need_remap, true);
    return sl_lmdb_err(rc);
  }
  mdb_env_info(e->env, &info);
  size_t hw = (size_t)info.me_last_pgno + 1, nfree = 0;
  MDB_cursor *cur;
  rc = mdb_cursor_open(rtxn, 0 /* FREE_DBI */, &cur);
  if (!rc) {
    MDB_val k, v;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
      size_t cnt;
      if (v.mv_size < sizeof cnt) continue;
      memcpy(&cnt, v.mv_data, sizeof cnt); /* an IDL: the count, then the page numbers */
      nfree += cnt;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  mdb_txn_reset(rtxn);
  if (rc) return sl_lmdb_err(rc);
  *used = nfree < hw ? hw - nfree : 0;
  if (last) *last = hw;
  return 0;
}

int sl_lmdb_remap(struct sl_lmdb *e) {
  pthread_rwlock_wrlock(&e->remap_lock);
  int rc = mdb_env_set_mapsize(e->env, 0);
  if (!rc) atomic_store(&e->need_remap, false);
  pthread_rwlock_unlock(&e->remap_lock);
  return sl_lmdb_err(rc);
}

int sl_lmdb_grow(struct sl_lmdb *e) {
  MDB_envinfo info;
  pthread_rwlock_wrlock(&e->remap_lock);
  mdb_env_info(e->env, &info);
  size_t limit = e->map_size + e->map_size / 16, next = info.me_mapsize + e->map_size / 64;
  int rc = next > limit ? -ENOSPC : sl_lmdb_err(mdb_env_set_mapsize(e->env, next));
  pthread_rwlock_unlock(&e->remap_lock);
  return rc;
}

void sl_lmdb_mark_broken(struct sl_lmdb *e) {
  char marker[4200];
  if (e->flags & SL_LMDB_TENANCY) return;
  if (path_in(marker, sizeof marker, e->dir, "data.mdb.broken")) return;
  int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
}
