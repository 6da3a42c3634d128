/* Store checks for the master and the `sluice store` commands; see storectl.h. */
#include "core/storectl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/log.h"
#include "core/master.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "store/lmdb_env.h"

#define CHECK_TIMEOUT_MS 60000

static void log_detail(enum sl_log_level lvl, const char *what, int rc, const char *msg) {
  struct sl_buf b = {0};
  sl_buf_json_escape(&b, msg, strlen(msg));
  sl_buf_append(&b, "", 1);
  sl_log(lvl, what, "\"rc\":%d,\"detail\":\"%s\"", rc, b.oom ? "" : b.p);
  sl_buf_free(&b);
}

static void recovery_text(FILE *f, const char *tdir) {
  fprintf(f,
          "sluice: the tenancy store holds the virtual keys and the spend ledger; sluice will neither start on a\n"
          "sluice: damaged one nor replace it with an empty one. To recover: keep sluice stopped, then\n"
          "sluice:   mv %s/data.mdb %s/data.mdb.damaged; rm -f %s/lock.mdb\n"
          "sluice:   cp BACKUP %s/data.mdb   (a file made by `sluice store backup`)\n"
          "sluice: and start sluice again. To start with no keys and no spend instead, move the damaged file\n"
          "sluice: aside without restoring anything. See README.md, Operations.\n",
          tdir, tdir, tdir, tdir);
}

int sl_storectl_startup(const struct sl_config *cfg) {
  char msg[1024] = "", tdir[4200];
  int rc = sl_lmdb_migrate(cfg->data_dir, cfg->cache.max_size, msg, sizeof msg);
  if (rc == 1) log_detail(SL_LOG_WARN, "store upgraded: keys and spend now live in their own store", rc, msg);
  else if (rc < 0)
    log_detail(SL_LOG_ERROR,
               "could not move keys and spend out of the old data.mdb; the file is kept (as data.mdb.corrupt-* "
               "if it is damaged)",
               rc, msg);
  if (cfg->cache.enabled) {
    msg[0] = 0;
    rc = sl_lmdb_verify(cfg->data_dir, cfg->cache.max_size, CHECK_TIMEOUT_MS, msg, sizeof msg);
    if (rc != 0 || msg[0]) log_detail(rc == 0 ? SL_LOG_INFO : SL_LOG_WARN, "cache store check", rc, msg);
  }
  if (sl_lmdb_tenancy_dir(cfg->data_dir, tdir, sizeof tdir)) return 0;
  msg[0] = 0;
  rc = sl_lmdb_verify_flags(tdir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, CHECK_TIMEOUT_MS, msg, sizeof msg);
  if (rc == 1) {
    log_detail(SL_LOG_ERROR, "the tenancy store is damaged: not starting", rc, msg);
    fprintf(stderr, "sluice: the tenancy store is damaged: %s\n", msg);
    recovery_text(stderr, tdir);
    return 1;
  }
  if (rc != 0) log_detail(SL_LOG_WARN, "tenancy store check", rc, msg);
  return 0;
}

/* ---- after a crash ---- */

static void crash_start(struct sl_storectl_crash *c) {
  for (; c->stage < 2; c->stage++) {
    char tdir[4200];
    const char *dir = c->data_dir;
    size_t map = c->cache_map;
    unsigned flags = 0;
    if (c->stage == 0 && !c->cache_enabled) continue;
    if (c->stage == 1) {
      if (sl_lmdb_tenancy_dir(c->data_dir, tdir, sizeof tdir)) continue;
      dir = tdir;
      map = SL_TENANCY_MAP_SIZE;
      flags = SL_LMDB_TENANCY;
    }
    pid_t pid = 0;
    int rc = sl_lmdb_verify_start(dir, map, flags, &pid);
    if (rc) log_detail(SL_LOG_WARN, "store check not started", rc, strerror(-rc));
    if (pid > 0) {
      c->pid = pid;
      c->deadline_ms = sl_now_ms() + CHECK_TIMEOUT_MS;
      return;
    }
  }
  c->pid = 0;
  if (c->again) {
    c->again = false;
    c->stage = 0;
    crash_start(c);
  }
}

void sl_storectl_crash_begin(struct sl_storectl_crash *c, const struct sl_config *cfg) {
  if (c->pid > 0) {
    c->again = true;
    return;
  }
  snprintf(c->data_dir, sizeof c->data_dir, "%s", cfg->data_dir);
  c->cache_map = cfg->cache.max_size;
  c->cache_enabled = cfg->cache.enabled;
  c->stage = 0;
  c->again = false;
  crash_start(c);
}

bool sl_storectl_crash_reaped(struct sl_storectl_crash *c, pid_t pid, int status) {
  if (c->pid <= 0 || pid != c->pid) return false;
  char msg[1024] = "", tdir[4200];
  const char *dir = c->data_dir;
  unsigned flags = 0;
  if (c->stage == 1 && sl_lmdb_tenancy_dir(c->data_dir, tdir, sizeof tdir) == 0) {
    dir = tdir;
    flags = SL_LMDB_TENANCY;
  }
  int rc = (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && sl_now_ms() >= c->deadline_ms)
               ? -ETIMEDOUT
               : sl_lmdb_verify_finish(dir, flags, status, msg, sizeof msg);
  if (rc == 1 && flags)
    log_detail(SL_LOG_ERROR,
               "the tenancy store is damaged; it is left as it is (stop sluice and restore a backup: README, "
               "Operations)",
               rc, msg);
  else if (rc != 0 || msg[0])
    log_detail(rc == 0 ? SL_LOG_INFO : SL_LOG_WARN, flags ? "tenancy store check" : "cache store check", rc, msg);
  c->pid = 0;
  c->stage++;
  crash_start(c);
  return true;
}

void sl_storectl_crash_tick(struct sl_storectl_crash *c, uint64_t now_ms, uint64_t *wake) {
  if (c->pid <= 0) return;
  if (now_ms >= c->deadline_ms) kill(c->pid, SIGKILL); /* reaped as -ETIMEDOUT: nothing moved */
  else if (c->deadline_ms < *wake) *wake = c->deadline_ms;
}

/* ---- sluice store check|backup ---- */

static int cli_usage(void) {
  fprintf(stderr, "usage: sluice store check [--config FILE | --data-dir DIR]\n"
                  "       sluice store backup [--config FILE | --data-dir DIR] DEST\n");
  return 2;
}

static const char *check_one(const char *dir, size_t map, unsigned flags, int *damaged) {
  static char msg[1024];
  char data[4200];
  struct stat st;
  snprintf(data, sizeof data, "%s/data.mdb", dir);
  if (stat(data, &st) != 0) return "absent";
  msg[0] = 0;
  int rc = sl_lmdb_verify_flags(dir, map, flags | SL_LMDB_CHECK_ONLY, CHECK_TIMEOUT_MS, msg, sizeof msg);
  if (rc == 0) return "ok";
  *damaged = 1;
  return msg[0] ? msg : strerror(-rc);
}

int sl_storectl_cli(int argc, char **argv) {
  static const struct option opts[] = {
      {"data-dir", required_argument, 0, 'd'}, {"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
  if (argc < 2) return cli_usage();
  const char *cmd = argv[1], *data_dir = NULL, *config = NULL;
  optind = 2;
  int ch;
  while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
    if (ch == 'd') data_dir = optarg;
    else if (ch == 'c') config = optarg;
    else return cli_usage();
  }
  struct sl_config *cfg = NULL;
  size_t cache_map = (size_t)1 << 30;
  if (config) {
    char err[1024];
    struct sl_master_opts o = {.config_path = config, .data_dir = data_dir, .port = -1, .workers = -1};
    if (sl_master_load_config(&o, false, &cfg, err, sizeof err)) {
      fprintf(stderr, "sluice: invalid config: %s\n", err);
      return 2;
    }
    data_dir = cfg->data_dir;
    cache_map = cfg->cache.max_size;
  }
  if (!data_dir) data_dir = "./sluice-data";
  char tdir[4200];
  int rc = 2;
  if (sl_lmdb_tenancy_dir(data_dir, tdir, sizeof tdir)) goto out;
  if (!strcmp(cmd, "check") && optind == argc) {
    int cd = 0, td = 0;
    printf("cache   %s/data.mdb: %s\n", data_dir, check_one(data_dir, cache_map, 0, &cd));
    printf("tenancy %s/data.mdb: %s\n", tdir, check_one(tdir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &td));
    if (cd) printf("the cache is disposable: sluice moves a damaged one aside and starts it empty\n");
    if (td) recovery_text(stdout, tdir);
    rc = cd || td ? 1 : 0;
  } else if (!strcmp(cmd, "backup") && optind == argc - 1) {
    char msg[1024] = "";
    if (sl_lmdb_backup(tdir, SL_TENANCY_MAP_SIZE, argv[optind], msg, sizeof msg)) {
      fprintf(stderr, "sluice: %s\n", msg);
      rc = 1;
    } else {
      printf("backed up %s/data.mdb to %s\n", tdir, argv[optind]);
      rc = 0;
    }
  } else {
    rc = cli_usage();
  }
out:
  if (cfg) sl_config_free(cfg);
  return rc;
}
