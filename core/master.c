/* Master lifecycle; see master.h.
 * The one idea: workers come in generations. A generation is one config, one shared-memory
 * region and N workers; reloading starts a new generation next to the serving one and,
 * once every new worker listens, drains the old one. Worker i of every generation accepts
 * on the same listening socket i, made once by the master and kept for its lifetime: the
 * kernel's SO_REUSEPORT group never loses a member during a reload, so a connection that
 * waits in a socket's accept queue while an old worker closes its copy is accepted by the
 * new worker instead of being reset. */
#include "core/master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/gcp_token.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/storectl.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "net/http_server.h"
#include "store/shm.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000 /* also the longest a connection queued on a dead slot waits */
#define STABLE_AFTER_MS 5000   /* a worker that lived this long resets its back-off */
#define READY_TIMEOUT_MS 15000 /* for a generation's workers to listen */
#define KILL_GRACE_MS 5000     /* after drain_timeout, before SIGKILL */
#define HEARTBEAT_STALE_MIN_MS 2500  /* workers stamp every 1 s */

struct slot {
  pid_t pid;
  uint64_t started_ms;
  uint64_t restart_at_ms; /* 0: not scheduled */
  uint64_t backoff_ms;
  bool ready, drained;    /* records from the worker: accepting; stopped accepting */
};

enum gen_state { G_STARTING, G_SERVING, G_DRAINING };

struct gen {
  struct gen *next;
  unsigned id;
  enum gen_state state;
  struct sl_config *cfg;
  struct sl_shm *shm;
  struct slot *slots; /* master.n */
  int ready_r, ready_w;  /* two-byte records from the workers (see worker.h) */
  int partial;           /* first byte of a record split across reads; -1: none */
  uint64_t deadline_ms;  /* STARTING: ready timeout; DRAINING: SIGKILL */
  bool killed;
  struct gen *heir;                /* the generation a reload made from this one */
  struct sl_metrics_carry *carry;  /* this one's counters, handed to heir when it ends */
};

struct master {
  const struct sl_master_opts *opts;
  pid_t pid;
  unsigned n;
  char *host;        /* listen host as bound */
  uint16_t cfg_port; /* as configured (0: ephemeral) */
  uint16_t port;     /* as bound */
  int reserve_fd;    /* bound, never listening: keeps the port while every socket is closed */
  int *lfd;          /* the n listening sockets; -1 while closed */
  int sigfd;
  struct sl_notify notify;
  struct sl_master_ctl *ctl;
  struct gen *gens;
  struct gen *serving, *starting;
  struct gen *retiring;   /* the generation a reload replaced, until its workers stop accepting */
  unsigned retiring_id;
  bool finishing;         /* a reload waits for `retiring` before it answers */
  uint64_t finish_deadline_ms;
  unsigned next_id;
  bool stopping, reload_again, watchdog_stalled;
  uint64_t reload_ticket, reload_t0, next_ping_ms;
  sigset_t blocked, old;
  struct sl_storectl_crash crash; /* the store check after a worker crash */
  bool *steer;       /* the slots new connections are steered to (NULL: kernel hashing) */
  bool steer_off;    /* the group's socket order is unknown: never steer */
};

static char *json_escape(const char *s) {
  struct sl_buf b = {0};
  sl_buf_json_escape(&b, s, strlen(s));
  sl_buf_append(&b, "", 1);
  return b.oom ? (sl_buf_free(&b), NULL) : b.p;
}

/* ---- config ---- */

static void warn_log(void *ud, const char *msg) {
  char *e = json_escape(msg);
  sl_log(SL_LOG_WARN, "config", "\"detail\":\"%s\"", e ? e : "");
  free(e);
}

static void warn_stderr(void *ud, const char *msg) { fprintf(stderr, "sluice: warning: %s\n", msg); }

int sl_master_load_config(const struct sl_master_opts *o, bool json_warnings, struct sl_config **out,
                          char *err, size_t errlen) {
  sl_config_warn_fn warn = json_warnings ? warn_log : warn_stderr;
  struct sl_config *cfg;
  int rc = o->config_path
               ? sl_config_load_file(o->config_path, warn, NULL, &cfg, err, errlen)
               : sl_config_load_string(sl_config_default_yaml, strlen(sl_config_default_yaml), "<embedded>",
                                       warn, NULL, &cfg, err, errlen);
  if (rc) return rc;
  if (o->host) {
    free(cfg->listen_host);
    cfg->listen_host = strdup(o->host);
  }
  if (o->data_dir) {
    free(cfg->data_dir);
    cfg->data_dir = strdup(o->data_dir);
  }
  if (!cfg->listen_host || !cfg->data_dir) {
    sl_config_free(cfg);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (o->port >= 0) cfg->port = (uint16_t)o->port;
  if (o->workers >= 0) cfg->workers = (int)o->workers;
  *out = cfg;
  return 0;
}

unsigned sl_master_workers(const struct sl_config *cfg) {
  long n = cfg->workers > 0 ? cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  if (n > SL_SHM_MAX_WORKERS) n = SL_SHM_MAX_WORKERS;
  return (unsigned)n;
}

static void apply_log_level(const struct sl_config *cfg) {
  enum sl_log_level lvl;
  if (cfg->log_level && sl_log_level_parse(cfg->log_level, &lvl) == 0) sl_log_set_level(lvl);
}

/* ---- the control page (reload answers) ---- */

void sl_master_ctl_result(struct sl_master_ctl *ctl, int *status, char *msg, size_t msglen) {
  for (int tries = 0;; tries++) {
    uint32_t s1 = atomic_load_explicit(&ctl->result_seq, memory_order_acquire);
    if ((s1 & 1) && tries < 100000) continue; /* the master is writing (a few instructions) */
    *status = ctl->result_status;
    snprintf(msg, msglen, "%.*s", (int)sizeof ctl->result_msg, ctl->result_msg);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&ctl->result_seq, memory_order_relaxed) == s1 || tries >= 100000) return;
  }
}

/* Stores a reload outcome and answers every ticket taken before the reload began. */
static void reload_answer(struct master *m, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reload_answer(struct master *m, int status, const char *fmt, ...) {
  struct sl_master_ctl *c = m->ctl;
  atomic_fetch_add(&c->result_seq, 1); /* odd: being written */
  c->result_status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->result_msg, sizeof c->result_msg, fmt, ap);
  va_end(ap);
  atomic_fetch_add(&c->result_seq, 1);
  if (m->reload_ticket > atomic_load(&c->reload_done)) atomic_store(&c->reload_done, m->reload_ticket);
}

/* ---- generations ---- */

static struct gen *gen_new(struct master *m, struct sl_config *cfg, char *err, size_t errlen) {
  if (sl_gcp_tokens_init(cfg, err, errlen)) return NULL; /* Vertex AI token slots, before fork */
  struct gen *g = calloc(1, sizeof *g);
  int p[2] = {-1, -1};
  if (!g || !(g->slots = calloc(m->n, sizeof *g->slots)) || pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
    snprintf(err, errlen, "out of resources: %s", strerror(errno ? errno : ENOMEM));
    if (g) free(g->slots);
    free(g);
    return NULL;
  }
  if (sl_shm_create(cfg->ndeployments, (size_t)cfg->max_keys, &g->shm)) {
    snprintf(err, errlen, "cannot create shared memory: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    free(g->slots);
    free(g);
    return NULL;
  }
  /* The hedge budget starts full: a fresh gateway may hedge its first slow requests. */
  atomic_store(&g->shm->hedge_budget_milli, (int64_t)(cfg->hedging.budget_burst * 1000.0));
  /* A reload is not a restart: the counters go on from the serving generation's. */
  struct gen *from = m->serving;
  if (from && !from->carry) {
    from->carry = sl_metrics_carry_begin(from->shm, from->cfg, g->shm, cfg);
    from->heir = from->carry ? g : NULL;
  }
  if (from) sl_shm_carry_limits(from->shm, g->shm); /* rate-limit windows go on too */
  g->ready_r = p[0];
  g->ready_w = p[1];
  g->partial = -1;
  g->cfg = cfg;
  g->id = m->next_id++;
  g->next = m->gens;
  m->gens = g;
  return g;
}

static void gen_free(struct master *m, struct gen *g) {
  for (struct gen **pp = &m->gens; *pp; pp = &(*pp)->next)
    if (*pp == g) {
      *pp = g->next;
      break;
    }
  if (m->serving == g) m->serving = NULL;
  if (m->starting == g) m->starting = NULL;
  if (m->retiring == g) m->retiring = NULL;
  /* Counters: what older generations counted goes on into this one only if this one
   * hands its own on (a reload that failed to start hands nothing on). */
  for (struct gen *h = m->gens; h; h = h->next)
    if (h->heir == g) {
      if (g->carry) sl_metrics_carry_end(h->carry);
      else sl_metrics_carry_drop(h->carry);
      h->carry = NULL;
      h->heir = NULL;
    }
  sl_metrics_carry_end(g->carry); /* to g->heir, still mapped */
  close(g->ready_r);
  close(g->ready_w);
  sl_shm_destroy(g->shm);
  sl_config_free(g->cfg);
  free(g->slots);
  free(g);
}

static unsigned gen_live(const struct master *m, const struct gen *g) {
  unsigned live = 0;
  for (unsigned i = 0; i < m->n; i++) live += g->slots[i].pid != 0;
  return live;
}

static void gen_signal(struct master *m, struct gen *g, int sig) {
  for (unsigned i = 0; i < m->n; i++)
    if (g->slots[i].pid > 0) kill(g->slots[i].pid, sig);
}

/* SIGTERM: the workers stop accepting, finish what they have, exit. */
static void gen_drain(struct master *m, struct gen *g) {
  g->state = G_DRAINING;
  atomic_store(&g->shm->draining, 1);
  for (unsigned i = 0; i < m->n; i++) g->slots[i].restart_at_ms = 0;
  gen_signal(m, g, SIGTERM);
  g->deadline_ms = sl_now_ms() + g->cfg->drain_timeout_ms + KILL_GRACE_MS;
  if (m->serving == g) m->serving = NULL;
  if (m->starting == g) m->starting = NULL;
}

/* ---- workers ---- */

static int bind_slot(struct master *m, unsigned i) {
  char err[256];
  uint16_t port;
  int rc = sl_net_bind_reuseport(m->host, m->port, &m->lfd[i], &port, err, sizeof err);
  /* Listening here, in slot order, makes socket i the i-th of the SO_REUSEPORT group, which
   * is what steer() relies on; a socket bound later (after a failure) breaks that order. */
  if (!rc && listen(m->lfd[i], 1024) != 0) {
    rc = -errno;
    snprintf(err, sizeof err, "listen: %s", strerror(errno));
    close(m->lfd[i]);
  }
  if (!rc && m->serving) m->steer_off = true;
  if (rc) {
    char *e = json_escape(err);
    sl_log(SL_LOG_ERROR, "cannot bind", "\"worker\":%u,\"error\":\"%s\"", i, e ? e : "");
    free(e);
    m->lfd[i] = -1;
  }
  return rc;
}

/* In a new worker: drop everything of the master's that is not this worker's. */
static void child_close(struct master *m, struct gen *mine, unsigned i) {
  close(m->sigfd);
  sl_notify_close(&m->notify);
  if (m->reserve_fd >= 0) close(m->reserve_fd);
  for (unsigned k = 0; k < m->n; k++)
    if (k != i && m->lfd[k] >= 0) close(m->lfd[k]);
  for (struct gen *g = m->gens; g; g = g->next) {
    close(g->ready_r);
    if (g != mine) {
      close(g->ready_w);
      sl_shm_destroy(g->shm); /* an old generation's region is none of a new worker's business */
      g->shm = NULL;
    }
  }
}

/* In a worker that is done: free the master's memory too, so leak checks stay exact. */
static void child_free(struct master *m) {
  for (struct gen *g = m->gens, *nx; g; g = nx) {
    nx = g->next;
    sl_config_free(g->cfg);
    sl_metrics_carry_drop(g->carry);
    free(g->slots);
    free(g);
  }
  free(m->lfd);
  free(m->steer);
  free(m->host);
}

static pid_t spawn(struct master *m, struct gen *g, unsigned i) {
  if (m->lfd[i] < 0 && bind_slot(m, i)) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    sl_log(SL_LOG_ERROR, "fork failed", "\"error\":\"%s\"", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    /* The worker dies with the master, and gets its signals back for libuv. A SIGHUP sent
     * to the whole group must not kill it; SIGUSR1 before its handler exists is moot
     * (it opened the current log file at fork). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != m->pid) _exit(0);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    child_close(m, g, i);
    int fd = m->lfd[i];
    sigprocmask(SIG_SETMASK, &m->old, NULL);
    int wrc = sl_worker_run(g->cfg, g->shm, m->ctl, i, fd, g->ready_w);
    child_free(m);
    exit(wrc);
  }
  g->slots[i].pid = pid;
  g->slots[i].started_ms = sl_now_ms();
  g->slots[i].restart_at_ms = 0;
  g->slots[i].ready = g->slots[i].drained = false;
  atomic_fetch_add(&g->shm->workers[i].restarts, 1);
  return pid;
}

static struct gen *gen_of(struct master *m, pid_t pid, unsigned *slot) {
  for (struct gen *g = m->gens; g; g = g->next)
    for (unsigned i = 0; i < m->n; i++)
      if (g->slots[i].pid == pid) {
        *slot = i;
        return g;
      }
  return NULL;
}

static void reload_failed_start(struct master *m, const char *why);
static bool same_str(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* New connections go only to slots whose worker accepts: a cBPF program on the
 * SO_REUSEPORT group picks one of them at random (an index out of range, or no program,
 * means the kernel's own hashing). So a slot in back-off gets no new connections, and
 * its queue holds only what arrived before its worker died. */
static void steer(struct master *m) {
  if (!m->steer || m->steer_off) return;
  bool live[256] = {false};
  unsigned nlive = 0, n = m->n < 256 ? m->n : 256;
  for (unsigned i = 0; i < n; i++) {
    for (struct gen *g = m->gens; g && !live[i]; g = g->next)
      live[i] = g->state != G_DRAINING && g->slots[i].pid > 0 && g->slots[i].ready && !g->slots[i].drained;
    nlive += live[i];
  }
  if (nlive == n || nlive == 0) memset(live, 1, n); /* all, or none: plain hashing */
  if (memcmp(live, m->steer, n) == 0) return;
  memcpy(m->steer, live, n);
  int fd = -1;
  for (unsigned i = 0; i < m->n && fd < 0; i++) fd = m->lfd[i];
  if (fd < 0) return;
  if (nlive == n || nlive == 0) {
    int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero);
    return;
  }
  struct sock_filter code[2 + 2 * 256 + 1];
  unsigned k = 0;
  code[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM));
  code[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nlive);
  for (unsigned i = 0, j = 0; i < n; i++) {
    if (!live[i]) continue;
    code[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, j++, 0, 1);
    code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, i);
  }
  code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
  struct sock_fprog prog = {.len = (unsigned short)k, .filter = code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
    sl_log(SL_LOG_WARN, "cannot steer connections away from restarting workers", "\"error\":\"%s\"", strerror(errno));
    m->steer_off = true;
  }
}

static void reap(struct master *m) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    if (sl_storectl_crash_reaped(&m->crash, pid, st)) continue;
    unsigned i;
    struct gen *g = gen_of(m, pid, &i);
    if (!g) continue;
    struct slot *s = &g->slots[i];
    s->pid = 0;
    char how[64];
    if (WIFSIGNALED(st)) snprintf(how, sizeof how, "\"signal\":%d", WTERMSIG(st));
    else snprintf(how, sizeof how, "\"status\":%d", WEXITSTATUS(st));
    if (g->state == G_DRAINING || m->stopping) {
      bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
      sl_log(clean ? SL_LOG_DEBUG : SL_LOG_WARN, "worker stopped",
             "\"generation\":%u,\"worker\":%u,\"worker_pid\":%d,%s", g->id, i, (int)pid, how);
      continue;
    }
    if (g->state == G_STARTING) {
      sl_log(SL_LOG_ERROR, "new worker died before it was ready",
             "\"generation\":%u,\"worker\":%u,\"worker_pid\":%d,%s", g->id, i, (int)pid, how);
      reload_failed_start(m, "a new worker exited before it was ready (see the log)");
      continue;
    }
    uint64_t now = sl_now_ms(), lived = now - s->started_ms;
    s->backoff_ms = lived >= STABLE_AFTER_MS ? 0
                  : s->backoff_ms ? (s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2)
                  : BACKOFF_MIN_MS;
    /* The slot keeps its listening socket: the kernel still hashes some new connections
     * to it, and they wait in its queue for the restart (at most BACKOFF_MAX_MS) rather
     * than being refused. And never every slot at once: the last one standing restarts
     * at once. */
    bool others = false;
    for (unsigned k = 0; k < m->n && !others; k++) others = k != i && g->slots[k].pid > 0;
    if (!others) s->backoff_ms = BACKOFF_MIN_MS;
    s->restart_at_ms = now + s->backoff_ms;
    if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS))
      sl_storectl_crash_begin(&m->crash, g->cfg); /* in a child; reaped above */
    sl_log(SL_LOG_WARN, WIFSIGNALED(st) ? "worker died" : "worker exited",
           "\"worker\":%u,\"worker_pid\":%d,%s,\"restart_in_ms\":%llu", i, (int)pid, how,
           (unsigned long long)s->backoff_ms);
  }
  /* Drained generations that have no worker left are gone. */
  for (struct gen *g = m->gens, *nx; g; g = nx) {
    nx = g->next;
    if (g->state == G_DRAINING && gen_live(m, g) == 0) {
      sl_log(SL_LOG_INFO, "generation stopped", "\"generation\":%u", g->id);
      gen_free(m, g);
    }
  }
}

/* ---- reload ---- */

static void start_reload(struct master *m);

static void notify_ready(struct master *m, const char *what) {
  sl_notify_send(&m->notify, "READY=1\nMAINPID=%d\nSTATUS=%s: %s:%u, %u workers, %zu deployments, generation %u",
                 (int)m->pid, what, m->host, m->port, m->n, m->serving ? m->serving->cfg->ndeployments : (size_t)0,
                 m->serving ? m->serving->id : 0);
}

#define RETIRE_WAIT_MS 3000 /* longest wait for old workers to stop accepting */

/* Every worker of the starting generation listens: it serves, the old one drains. The
 * reload is answered once every old worker has stopped accepting (finish_reload). */
static void promote(struct master *m) {
  struct gen *g = m->starting, *old = m->serving;
  m->starting = NULL;
  g->state = G_SERVING;
  m->serving = g;
  atomic_store(&m->ctl->generation, g->id);
  apply_log_level(g->cfg);
  if (!old) {
    sl_log(SL_LOG_INFO, "ready", "\"host\":\"%s\",\"port\":%u,\"workers\":%u,\"deployments\":%zu", g->cfg->listen_host,
           m->port, m->n, g->cfg->ndeployments);
    notify_ready(m, "serving");
    if (m->reload_again) { /* SIGHUP while starting up */
      m->reload_again = false;
      start_reload(m);
    }
    return;
  }
  gen_drain(m, old);
  m->retiring = old;
  m->retiring_id = old->id;
  m->finishing = true;
  m->finish_deadline_ms = sl_now_ms() + RETIRE_WAIT_MS;
}

static bool retired(const struct master *m) {
  const struct gen *old = m->retiring;
  if (!old) return true;
  for (unsigned i = 0; i < m->n; i++)
    if (old->slots[i].pid && !old->slots[i].drained) return false;
  return true;
}

static void finish_reload(struct master *m) {
  struct gen *g = m->serving;
  m->finishing = false;
  unsigned old_id = m->retiring_id;
  m->retiring = NULL;
  uint64_t ms = sl_now_ms() - m->reload_t0;
  reload_answer(m, 0, "reloaded: generation %u serves %zu deployments", g->id, g->cfg->ndeployments);
  sl_log(SL_LOG_INFO, "reloaded",
         "\"generation\":%u,\"deployments\":%zu,\"workers\":%u,\"ms\":%llu,\"draining_generation\":%u", g->id,
         g->cfg->ndeployments, m->n, (unsigned long long)ms, old_id);
  notify_ready(m, "reloaded");
  if (m->reload_again) {
    m->reload_again = false;
    start_reload(m);
  }
}

static void reload_failed(struct master *m, int status, const char *msg) {
  char *e = json_escape(msg);
  char *path = json_escape(m->opts->config_path ? m->opts->config_path : "<embedded>");
  sl_log(SL_LOG_ERROR, "reload failed", "\"error\":\"%s\",\"config\":\"%s\"", e ? e : "", path ? path : "");
  free(path);
  free(e);
  reload_answer(m, status, "%s", msg);
  notify_ready(m, "reload failed, still serving the previous config");
  if (m->reload_again) {
    m->reload_again = false;
    start_reload(m);
  }
}

/* The new generation did not come up: drain what did, keep serving the old one. */
static void reload_failed_start(struct master *m, const char *why) {
  struct gen *g = m->starting;
  if (!g) return;
  gen_drain(m, g);
  if (!m->serving) return; /* startup: sl_master_run gives up */
  if (!same_str(m->serving->cfg->log_file, g->cfg->log_file)) {
    char err[256];
    sl_log_set_file(m->serving->cfg->log_file, err, sizeof err);
  }
  apply_log_level(m->serving->cfg);
  reload_failed(m, -EIO, why);
}

static void start_reload(struct master *m) {
  if (m->starting || m->finishing || !m->serving) {
    m->reload_again = true; /* answered once the reload under way is done */
    return;
  }
  m->reload_ticket = atomic_load(&m->ctl->reload_requested);
  m->reload_t0 = sl_now_ms();
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  sl_notify_send(&m->notify, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
                 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
  sl_log(SL_LOG_INFO, "reloading", "\"generation\":%u", m->serving->id);

  char err[1024];
  struct sl_config *cfg;
  if (sl_master_load_config(m->opts, true, &cfg, err, sizeof err)) {
    reload_failed(m, -EINVAL, err);
    return;
  }
  const struct sl_config *cur = m->serving->cfg;
  if (strcmp(cfg->listen_host, m->host) != 0 || cfg->port != m->cfg_port) {
    char *h = json_escape(cfg->listen_host);
    sl_log(SL_LOG_WARN, "the listen address cannot change on reload; restart sluice to apply it",
           "\"configured\":\"%s:%u\",\"kept\":\"%s:%u\"", h ? h : "", cfg->port, m->host, m->cfg_port);
    free(h);
    free(cfg->listen_host);
    cfg->listen_host = strdup(m->host);
    cfg->port = m->cfg_port;
  }
  if (sl_master_workers(cfg) != m->n) {
    sl_log(SL_LOG_WARN, "the number of workers cannot change on reload; restart sluice to apply it",
           "\"configured\":%u,\"kept\":%u", sl_master_workers(cfg), m->n);
  }
  if (!cfg->listen_host) {
    sl_config_free(cfg);
    reload_failed(m, -EIO, "out of memory");
    return;
  }
  if (!same_str(cfg->log_file, cur->log_file) && sl_log_set_file(cfg->log_file, err, sizeof err)) {
    sl_config_free(cfg);
    reload_failed(m, -EINVAL, err);
    return;
  }
  apply_log_level(cfg); /* the new workers inherit it; restored if they fail */
  struct gen *g = gen_new(m, cfg, err, sizeof err);
  if (!g) {
    sl_config_free(cfg);
    reload_failed(m, -EIO, err);
    return;
  }
  g->state = G_STARTING;
  g->deadline_ms = sl_now_ms() + READY_TIMEOUT_MS;
  m->starting = g;
  for (unsigned i = 0; i < m->n; i++)
    if (spawn(m, g, i) < 0) {
      reload_failed_start(m, "cannot start new workers (see the log)");
      return;
    }
}

/* ---- shutdown ---- */

static void begin_shutdown(struct master *m, int sig) {
  m->stopping = true;
  uint64_t drain = m->serving ? m->serving->cfg->drain_timeout_ms : 0;
  sl_log(SL_LOG_INFO, "shutting down", "\"signal\":%d,\"drain_timeout_ms\":%llu", sig, (unsigned long long)drain);
  sl_notify_send(&m->notify, "STOPPING=1\nSTATUS=draining");
  if (m->starting) {
    m->reload_ticket = atomic_load(&m->ctl->reload_requested);
    reload_answer(m, -EIO, "sluice is shutting down");
  } else if (m->finishing) {
    reload_answer(m, 0, "reloaded; sluice is shutting down");
  }
  m->finishing = false;
  m->retiring = NULL;
  for (struct gen *g = m->gens; g; g = g->next)
    if (g->state != G_DRAINING) gen_drain(m, g);
  /* The workers close their copies as they drain; once the last one has, connecting fails
   * at once instead of waiting in a queue nobody accepts from. */
  for (unsigned i = 0; i < m->n; i++)
    if (m->lfd[i] >= 0) {
      close(m->lfd[i]);
      m->lfd[i] = -1;
    }
}

/* ---- watchdog ---- */

/* Pings systemd only while every live worker of the serving generation stamped its
 * heartbeat recently. Returns when to look again. */
static uint64_t watchdog(struct master *m, uint64_t now) {
  if (!m->notify.watchdog_usec) return UINT64_MAX;
  uint64_t interval = m->notify.watchdog_usec / 2000;
  if (interval < 1) interval = 1;
  if (now < m->next_ping_ms) return m->next_ping_ms;
  m->next_ping_ms = now + interval;
  if (m->stopping) { /* the drain has its own limits (drain_timeout, TimeoutStopSec) */
    sl_notify_send(&m->notify, "WATCHDOG=1");
    return m->next_ping_ms;
  }
  struct gen *g = m->serving;
  if (!g) return m->next_ping_ms;
  uint64_t stale_after = interval > HEARTBEAT_STALE_MIN_MS ? interval : HEARTBEAT_STALE_MIN_MS;
  unsigned live = 0;
  int stale = -1;
  uint64_t age = 0;
  for (unsigned i = 0; i < m->n; i++) {
    if (!g->slots[i].pid) continue;
    live++;
    uint64_t hb = atomic_load(&g->shm->workers[i].heartbeat_ms);
    uint64_t since = hb > g->slots[i].started_ms ? hb : g->slots[i].started_ms;
    if (now > since && now - since > stale_after && now - since > age) {
      stale = (int)i;
      age = now - since;
    }
  }
  if (live && stale < 0) {
    sl_notify_send(&m->notify, "WATCHDOG=1");
    if (m->watchdog_stalled) sl_log(SL_LOG_INFO, "watchdog: every worker answers again; pinging", NULL);
    m->watchdog_stalled = false;
  } else if (!m->watchdog_stalled) {
    m->watchdog_stalled = true;
    if (live)
      sl_log(SL_LOG_ERROR, "watchdog: a worker does not answer; not pinging systemd",
             "\"worker\":%d,\"worker_pid\":%d,\"silent_ms\":%llu", stale, (int)g->slots[stale].pid,
             (unsigned long long)age);
    else
      sl_log(SL_LOG_ERROR, "watchdog: no worker is running; not pinging systemd", NULL);
  }
  return m->next_ping_ms;
}

/* ---- the loop ---- */

static void read_ready(struct master *m, struct gen *g) {
  unsigned char b[64 + 1];
  ssize_t k;
  while ((k = read(g->ready_r, b + 1, sizeof b - 1)) > 0) {
    unsigned char *p = b + 1;
    size_t n = (size_t)k;
    if (g->partial >= 0) {
      *--p = (unsigned char)g->partial;
      n++;
      g->partial = -1;
    }
    for (; n >= 2; p += 2, n -= 2) {
      if (p[1] >= m->n) continue;
      if (p[0] == SL_WORKER_READY) g->slots[p[1]].ready = true;
      else if (p[0] == SL_WORKER_DRAINING) g->slots[p[1]].drained = true;
    }
    if (n) g->partial = p[0];
  }
}

static bool all_ready(const struct master *m, const struct gen *g) {
  for (unsigned i = 0; i < m->n; i++)
    if (!g->slots[i].pid || !g->slots[i].ready) return false;
  return true;
}

static void forward_usr1(struct master *m) {
  int rc = sl_log_reopen();
  if (rc) sl_log(SL_LOG_ERROR, "cannot reopen the log file", "\"error\":\"%s\"", strerror(-rc));
  else sl_log(SL_LOG_INFO, "log reopened", NULL);
  for (struct gen *g = m->gens; g; g = g->next) gen_signal(m, g, SIGUSR1);
}

/* Returns -1 to keep going, else the exit code. */
static int handle_signals(struct master *m) {
  struct signalfd_siginfo si[16];
  ssize_t k;
  while ((k = read(m->sigfd, si, sizeof si)) > 0) {
    for (size_t j = 0; j < (size_t)k / sizeof si[0]; j++) {
      int sig = (int)si[j].ssi_signo;
      if (sig == SIGTERM || sig == SIGINT) {
        if (!m->stopping) begin_shutdown(m, sig);
      } else if (sig == SIGHUP) {
        if (!m->stopping) start_reload(m);
      } else if (sig == SIGUSR1) {
        forward_usr1(m);
      }
      /* SIGCHLD: reaped below */
    }
  }
  return -1;
}

static void restart_and_deadlines(struct master *m, uint64_t now, uint64_t *wake) {
  struct gen *g = m->serving;
  sl_storectl_crash_tick(&m->crash, now, wake);
  if (g && !m->stopping) {
    for (unsigned i = 0; i < m->n; i++) {
      struct slot *s = &g->slots[i];
      if (s->pid == 0 && s->restart_at_ms && s->restart_at_ms <= now) {
        if (spawn(m, g, i) > 0)
          sl_log(SL_LOG_INFO, "worker started", "\"worker\":%u,\"worker_pid\":%d", i, (int)s->pid);
        else
          s->restart_at_ms = now + BACKOFF_MAX_MS;
      }
      if (s->pid == 0 && s->restart_at_ms && s->restart_at_ms < *wake) *wake = s->restart_at_ms;
    }
  }
  if (m->starting && now >= m->starting->deadline_ms) {
    sl_log(SL_LOG_ERROR, "new workers did not report ready in time", "\"timeout_ms\":%d", READY_TIMEOUT_MS);
    reload_failed_start(m, "new workers did not start in time (see the log)");
  }
  if (m->starting && m->starting->deadline_ms < *wake) *wake = m->starting->deadline_ms;
  for (struct gen *d = m->gens; d; d = d->next) {
    if (d->state != G_DRAINING || d->killed) continue;
    if (now >= d->deadline_ms) {
      sl_log(SL_LOG_ERROR, "workers did not stop in time; killing", "\"generation\":%u", d->id);
      gen_signal(m, d, SIGKILL);
      d->killed = true;
    } else if (d->deadline_ms < *wake) {
      *wake = d->deadline_ms;
    }
  }
}

static int loop(struct master *m) {
  for (;;) {
    reap(m);
    if (m->stopping && !m->gens) return 0;
    if (!m->serving && !m->starting && !m->stopping) return 1; /* the first generation failed */
    uint64_t now = sl_now_ms(), wake = now + 1000;
    restart_and_deadlines(m, now, &wake);
    if (!m->serving && !m->starting && !m->stopping) return 1;
    uint64_t ping = watchdog(m, now);
    if (ping < wake) wake = ping;

    struct pollfd pf[16] = {{m->sigfd, POLLIN, 0}};
    struct gen *pg[16] = {NULL};
    nfds_t np = 1;
    for (struct gen *g = m->gens; g && np < 16; g = g->next) {
      pg[np] = g;
      pf[np++] = (struct pollfd){g->ready_r, POLLIN, 0};
    }
    if (m->finishing && m->finish_deadline_ms < wake) wake = m->finish_deadline_ms;
    now = sl_now_ms();
    int timeout = wake > now ? (int)(wake - now > 60000 ? 60000 : wake - now) : 0;
    int rc = poll(pf, np, timeout);
    if (rc < 0 && errno != EINTR) {
      sl_log(SL_LOG_ERROR, "poll failed", "\"error\":\"%s\"", strerror(errno));
      struct timespec ts = {0, 10 * 1000000};
      nanosleep(&ts, NULL);
    }
    for (nfds_t j = 1; j < np; j++)
      if (pf[j].revents) read_ready(m, pg[j]);
    reap(m);
    steer(m);
    handle_signals(m);
    if (m->starting && all_ready(m, m->starting)) promote(m);
    if (m->finishing && (retired(m) || sl_now_ms() >= m->finish_deadline_ms)) finish_reload(m);
  }
}

int sl_master_run(struct sl_config *cfg, const struct sl_master_opts *o) {
  struct master m = {.opts = o, .pid = getpid(), .reserve_fd = -1, .sigfd = -1};
  m.n = sl_master_workers(cfg);
  m.cfg_port = cfg->port;
  m.host = strdup(cfg->listen_host);
  m.lfd = malloc(m.n * sizeof *m.lfd);
  m.steer = calloc(m.n, sizeof *m.steer);
  m.ctl = mmap(NULL, sizeof *m.ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!m.host || !m.lfd || m.ctl == MAP_FAILED) {
    fprintf(stderr, "sluice: out of resources\n");
    free(m.host);
    free(m.lfd);
    sl_config_free(cfg);
    return 1;
  }
  atomic_store(&m.ctl->master_pid, (int32_t)m.pid);
  for (unsigned i = 0; i < m.n; i++) m.lfd[i] = -1;

  char err[256];
  int rc = 1;
  if (sl_net_bind_reuseport(cfg->listen_host, cfg->port, &m.reserve_fd, &m.port, err, sizeof err)) {
    char *e = json_escape(err);
    sl_log(SL_LOG_ERROR, "cannot listen", "\"error\":\"%s\"", e ? e : "");
    free(e);
    fprintf(stderr, "sluice: %s\n", err);
    sl_config_free(cfg);
    goto out;
  }
  for (unsigned i = 0; i < m.n; i++)
    if (bind_slot(&m, i)) {
      fprintf(stderr, "sluice: cannot listen on %s:%u\n", cfg->listen_host, m.port);
      sl_config_free(cfg);
      goto out;
    }
  if (sl_notify_open(&m.notify, err, sizeof err)) sl_log(SL_LOG_WARN, "systemd notification disabled", "\"error\":\"%s\"", err);
  if (sl_storectl_startup(cfg)) {
    sl_config_free(cfg);
    goto out;
  }

  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&m.blocked);
  sigaddset(&m.blocked, SIGCHLD);
  sigaddset(&m.blocked, SIGTERM);
  sigaddset(&m.blocked, SIGINT);
  sigaddset(&m.blocked, SIGHUP);
  sigaddset(&m.blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &m.blocked, &m.old);
  m.sigfd = signalfd(-1, &m.blocked, SFD_NONBLOCK | SFD_CLOEXEC);
  struct gen *g = m.sigfd >= 0 ? gen_new(&m, cfg, err, sizeof err) : NULL;
  if (!g) {
    fprintf(stderr, "sluice: %s\n", m.sigfd < 0 ? strerror(errno) : err);
    sl_config_free(cfg);
    goto out_signals;
  }
  g->state = G_STARTING;
  g->deadline_ms = sl_now_ms() + READY_TIMEOUT_MS;
  m.starting = g;
  bool spawned = true;
  for (unsigned i = 0; i < m.n && spawned; i++) spawned = spawn(&m, g, i) > 0;
  rc = spawned ? loop(&m) : 1;
  if (rc != 0) {
    /* The first generation never came up: nothing to drain. */
    sl_log(SL_LOG_ERROR, "workers failed to start", NULL);
    fprintf(stderr, "sluice: workers failed to start\n");
    sl_notify_send(&m.notify, "STATUS=workers failed to start");
    for (struct gen *x = m.gens; x; x = x->next) gen_signal(&m, x, SIGKILL);
    m.stopping = true;
    while (m.gens) {
      for (struct gen *x = m.gens; x; x = x->next) x->state = G_DRAINING;
      reap(&m);
      if (m.gens) usleep(10000);
    }
  } else {
    sl_log(SL_LOG_INFO, "stopped", NULL);
  }
out_signals:
  if (m.sigfd >= 0) close(m.sigfd);
  sigprocmask(SIG_SETMASK, &m.old, NULL);
out:
  if (m.crash.pid > 0) {
    kill(m.crash.pid, SIGKILL);
    while (waitpid(m.crash.pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  while (m.gens) gen_free(&m, m.gens);
  for (unsigned i = 0; i < m.n; i++)
    if (m.lfd[i] >= 0) close(m.lfd[i]);
  if (m.reserve_fd >= 0) close(m.reserve_fd);
  sl_notify_close(&m.notify);
  munmap(m.ctl, sizeof *m.ctl);
  free(m.lfd);
  free(m.steer);
  free(m.host);
  return rc;
}
