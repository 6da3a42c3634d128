/* Master lifecycle; see master.h. */
#include "core/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/worker.h"
#include "net/http_server.h"
#include "store/lmdb_env.h"
#include "store/shm.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_AFTER_MS 5000 /* a worker that lived this long resets its back-off */
#define READY_TIMEOUT_MS 15000

struct slot {
  pid_t pid;
  uint64_t started_ms;
  uint64_t restart_at_ms; /* 0: not scheduled */
  uint64_t backoff_ms;
};

struct master {
  const struct sl_config *cfg;
  struct sl_shm *shm;
  struct slot *slots;
  unsigned n;
  uint16_t port;
  int ready_r, ready_w;
  sigset_t blocked, old;
};

/* Walks the cache file in a child process before workers map it: a damaged page would
 * crash every worker that reads it, so it is moved aside here instead. */
static void verify_store(const struct sl_config *cfg) {
  if (!cfg->cache.enabled) return;
  char msg[512] = "";
  int rc = sl_lmdb_verify(cfg->data_dir, cfg->cache.max_size, 60000, msg, sizeof msg);
  if (rc != 0 || msg[0])
    sl_log(rc == 0 ? SL_LOG_INFO : SL_LOG_WARN, "cache store check", "\"rc\":%d,\"detail\":\"%s\"", rc, msg);
}

static pid_t spawn(struct master *m, unsigned i) {
  pid_t pid = fork();
  if (pid < 0) {
    sl_log(SL_LOG_ERROR, "fork failed", "\"error\":\"%s\"", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    /* The worker dies with the master, and gets its signals back for libuv. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) _exit(0);
    close(m->ready_r);
    char err[256];
    int fd;
    uint16_t port;
    int rc = sl_net_bind_reuseport(m->cfg->listen_host, m->port, &fd, &port, err, sizeof err);
    sigprocmask(SIG_SETMASK, &m->old, NULL);
    if (rc) {
      sl_log(SL_LOG_ERROR, "worker bind failed", "\"worker\":%u,\"error\":\"%s\"", i, err);
      _exit(1);
    }
    int wrc = sl_worker_run(m->cfg, m->shm, i, fd, m->ready_w);
    /* The worker's copy of the master's memory is freed too, so leak checks stay exact. */
    free(m->slots);
    sl_config_free((struct sl_config *)m->cfg);
    exit(wrc);
  }
  m->slots[i].pid = pid;
  m->slots[i].started_ms = sl_now_ms();
  m->slots[i].restart_at_ms = 0;
  atomic_fetch_add(&m->shm->workers[i].restarts, 1);
  return pid;
}

static int slot_of(struct master *m, pid_t pid) {
  for (unsigned i = 0; i < m->n; i++)
    if (m->slots[i].pid == pid) return (int)i;
  return -1;
}

/* Reaps dead workers; schedules restarts unless stopping. Returns live count. */
static unsigned reap(struct master *m, bool stopping) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    int i = slot_of(m, pid);
    if (i < 0) continue;
    struct slot *s = &m->slots[i];
    s->pid = 0;
    if (stopping) continue;
    uint64_t now = sl_now_ms(), lived = now - s->started_ms;
    s->backoff_ms = lived >= STABLE_AFTER_MS ? 0
                  : s->backoff_ms ? (s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2)
                  : BACKOFF_MIN_MS;
    s->restart_at_ms = now + s->backoff_ms;
    if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS)) verify_store(m->cfg);
    if (WIFSIGNALED(st))
      sl_log(SL_LOG_WARN, "worker died", "\"worker\":%d,\"worker_pid\":%d,\"signal\":%d,\"restart_in_ms\":%llu", i,
             (int)pid, WTERMSIG(st), (unsigned long long)s->backoff_ms);
    else
      sl_log(SL_LOG_WARN, "worker exited", "\"worker\":%d,\"worker_pid\":%d,\"status\":%d,\"restart_in_ms\":%llu", i,
             (int)pid, WEXITSTATUS(st), (unsigned long long)s->backoff_ms);
  }
  unsigned live = 0;
  for (unsigned i = 0; i < m->n; i++) live += m->slots[i].pid != 0;
  return live;
}

static void drain_ready_pipe(struct master *m) {
  char b[64];
  while (read(m->ready_r, b, sizeof b) > 0) {}
}

/* Waits until every initial worker reported that it listens. */
static int await_ready(struct master *m) {
  unsigned got = 0;
  uint64_t deadline = sl_now_ms() + READY_TIMEOUT_MS;
  while (got < m->n) {
    if (reap(m, true) < m->n) return -1; /* a worker died before it was ready */
    char b[64];
    ssize_t k = read(m->ready_r, b, sizeof b);
    if (k > 0) {
      got += (unsigned)k;
      continue;
    }
    if (sl_now_ms() > deadline) return -1;
    struct timespec ts = {0, 10 * 1000000};
    siginfo_t si;
    sigtimedwait(&m->blocked, &si, &ts); /* SIGCHLD wakes us early; others are re-checked below */
  }
  return 0;
}

static void signal_all(struct master *m, int sig) {
  for (unsigned i = 0; i < m->n; i++)
    if (m->slots[i].pid > 0) kill(m->slots[i].pid, sig);
}

static int shutdown_workers(struct master *m, int sig) {
  sl_log(SL_LOG_INFO, "shutting down", "\"signal\":%d,\"drain_timeout_ms\":%llu", sig,
         (unsigned long long)m->cfg->drain_timeout_ms);
  signal_all(m, SIGTERM);
  uint64_t deadline = sl_now_ms() + m->cfg->drain_timeout_ms + 5000;
  while (reap(m, true) > 0) {
    if (sl_now_ms() > deadline) {
      sl_log(SL_LOG_ERROR, "workers did not stop in time; killing", NULL);
      signal_all(m, SIGKILL);
      deadline = UINT64_MAX;
    }
    struct timespec ts = {0, 50 * 1000000};
    siginfo_t si;
    sigtimedwait(&m->blocked, &si, &ts);
  }
  sl_log(SL_LOG_INFO, "stopped", NULL);
  return 0;
}

int sl_master_run(const struct sl_config *cfg) {
  struct master m = {.cfg = cfg};
  m.n = cfg->workers > 0 ? (unsigned)cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
  if (m.n < 1) m.n = 1;
  if (m.n > SL_SHM_MAX_WORKERS) m.n = SL_SHM_MAX_WORKERS;

  char err[256];
  int reserve_fd;
  if (sl_net_bind_reuseport(cfg->listen_host, cfg->port, &reserve_fd, &m.port, err, sizeof err)) {
    sl_log(SL_LOG_ERROR, "cannot listen", "\"error\":\"%s\"", err);
    fprintf(stderr, "sluice: %s\n", err);
    return 1;
  }
  verify_store(cfg);
  if (sl_shm_create(cfg->ndeployments, &m.shm)) {
    fprintf(stderr, "sluice: cannot create shared memory: %s\n", strerror(errno));
    return 1;
  }
  /* The hedge budget starts full: a fresh gateway may hedge its first slow requests. */
  atomic_store(&m.shm->hedge_budget_milli, (int64_t)(cfg->hedging.budget_burst * 1000.0));
  m.slots = calloc(m.n, sizeof *m.slots);
  int p[2];
  if (!m.slots || pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
    fprintf(stderr, "sluice: out of resources\n");
    return 1;
  }
  m.ready_r = p[0];
  m.ready_w = p[1];
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&m.blocked);
  sigaddset(&m.blocked, SIGCHLD);
  sigaddset(&m.blocked, SIGTERM);
  sigaddset(&m.blocked, SIGINT);
  sigaddset(&m.blocked, SIGHUP);
  sigprocmask(SIG_BLOCK, &m.blocked, &m.old);

  for (unsigned i = 0; i < m.n; i++)
    if (spawn(&m, i) < 0) return 1;
  if (await_ready(&m)) {
    sl_log(SL_LOG_ERROR, "workers failed to start", NULL);
    fprintf(stderr, "sluice: workers failed to start\n");
    signal_all(&m, SIGKILL);
    while (reap(&m, true) > 0) usleep(10000);
    return 1;
  }
  sl_log(SL_LOG_INFO, "ready", "\"host\":\"%s\",\"port\":%u,\"workers\":%u,\"deployments\":%zu",
         cfg->listen_host, m.port, m.n, cfg->ndeployments);

  for (;;) {
    uint64_t now = sl_now_ms(), next = now + 1000;
    for (unsigned i = 0; i < m.n; i++) {
      struct slot *s = &m.slots[i];
      if (s->pid == 0 && s->restart_at_ms && s->restart_at_ms <= now) {
        if (spawn(&m, i) > 0)
          sl_log(SL_LOG_INFO, "worker started", "\"worker\":%u,\"worker_pid\":%d", i, (int)s->pid);
        else
          s->restart_at_ms = now + BACKOFF_MAX_MS;
      }
      if (s->pid == 0 && s->restart_at_ms && s->restart_at_ms < next) next = s->restart_at_ms;
    }
    uint64_t wait = next > now ? next - now : 0;
    struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
    siginfo_t si;
    int sig = sigtimedwait(&m.blocked, &si, &ts);
    drain_ready_pipe(&m);
    if (sig == SIGCHLD) reap(&m, false);
    else if (sig == SIGTERM || sig == SIGINT) {
      int rc = shutdown_workers(&m, sig);
      close(reserve_fd);
      close(m.ready_r);
      close(m.ready_w);
      free(m.slots);
      sl_shm_destroy(m.shm);
      return rc;
    } else if (sig == SIGHUP) {
      sl_log(SL_LOG_WARN, "SIGHUP: configuration reload is not supported yet; ignored", NULL);
    }
  }
}
