/* Worker process lifecycle: take the plan the master compiled (groups, names, the
 * /v1/models body: core/config/plan.h), start listening, serve until SIGTERM/SIGINT, then drain: stop accepting, let
 * in-flight requests finish up to drain_timeout, close the rest and exit 0. While it
 * runs, a 1 s timer stamps shm->workers[i].heartbeat_ms (the master pings the systemd
 * watchdog only while every worker's stamp is fresh), SIGUSR1 reopens the log file, and
 * POST /config/reload waits here (polling the master's control page) for its answer.
 * The worker also sets the accept path's policy: it raises its open-files limit to the
 * hard limit, logs accept failures (out of descriptors) once per interval, and trims its
 * heap on the heartbeat after large request bodies or many connections were freed. */
#include "core/worker.h"
#include "core/dashboard.h"
#include "core/cluster.h"
#include "core/router_online.h"
#include "core/router.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/master.h"
#include "core/reqcache.h"
#include "core/responses.h"
#include "core/gcp_token.h"
#include "core/selfcall.h"
#include "core/trace.h"
#include "core/wild_models.h"
#include "core/vectors.h"
#include "core/embed.h"
#include "core/request.h"
#include "core/tenancy.h"
#include "net/tls_server.h"

uint64_t sl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const struct sl_group *sl_worker_group(const struct sl_worker *w, const char *name) {
  return sl_plan_group(w->cfg->plan, name);
}

struct sl_upstream_pool *sl_worker_pool(struct sl_worker *w, size_t i, char *err, size_t errlen) {
  if (w->pools[i]) return w->pools[i];
  const struct sl_deployment *d = &w->cfg->deployments[i];
  if (d->tls && !w->tls) {
    int rc = sl_tls_ctx_create(w->cfg->ca_file, &w->tls, err, errlen);
    if (rc) return NULL;
  }
  struct sl_upstream_pool_opts o = {
    .host = d->host,
    .port = d->port,
    .tls = d->tls,
    .tls_ctx = w->tls,
    .connect_timeout_ms = w->cfg->connect_timeout_ms,
  };
  if (sl_upstream_pool_create(&w->loop, &o, &w->pools[i])) {
    snprintf(err, errlen, "cannot create connection pool");
    return NULL;
  }
  return w->pools[i];
}

static void stop_loop_when_idle(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  if (w->srv && w->inflight == 0 && sl_server_connections(w->srv) == 0) uv_stop(&w->loop);
}

static void on_drain_deadline(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  sl_log(SL_LOG_WARN, "drain timeout", "\"worker\":%u,\"inflight\":%zu", w->index, w->inflight);
  sl_server_close(w->srv);
  w->srv = NULL;
  uv_stop(&w->loop);
}

/* A two-byte record on the pipe to the master (atomic: far below PIPE_BUF). */
static void tell_master(struct sl_worker *w, char what, bool last) {
  if (w->ready_fd < 0) return;
  char b[2] = {what, (char)w->index};
  if (write(w->ready_fd, b, 2) != 2) { /* the master notices a worker that never reports */ }
  if (last) {
    close(w->ready_fd);
    w->ready_fd = -1;
  }
}

static void on_stop_signal(uv_signal_t *s, int signum) {
  struct sl_worker *w = s->data;
  if (w->draining) return;
  w->draining = true;
  sl_log(SL_LOG_INFO, "worker draining", "\"worker\":%u,\"inflight\":%zu", w->index, w->inflight);
  sl_server_drain(w->srv);
  sl_dashboard_streams_close(w); /* open dashboard streams end now: they never finish by themselves */
  /* The listener's fd is closed now (libuv closes it in uv_close): after a reload the
   * master answers once every old worker has said so, so that from then on every new
   * connection meets the new configuration. */
  tell_master(w, SL_WORKER_DRAINING, true);
  uv_timer_start(&w->drain_poll, stop_loop_when_idle, 0, 20);
  uv_timer_start(&w->drain_deadline, on_drain_deadline, w->cfg->drain_timeout_ms, 0);
}

#define HEARTBEAT_MS 1000
#define RELOAD_POLL_MS 10

#define TRIM_AFTER_BYTES (4u << 20)

static void on_heartbeat(uv_timer_t *t) {
  struct sl_worker *w = t->data;
  atomic_store(&w->shm->workers[w->index].heartbeat_ms, sl_now_ms());
  /* Large request bodies (and what parsing them took) or many connections were freed:
   * give the heap's free pages back, so one burst does not stay resident for good. */
  w->released += w->srv ? sl_server_released_bytes(w->srv) : 0;
  if (w->released >= TRIM_AFTER_BYTES) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    w->released = 0;
  }
}

static void on_usr1(uv_signal_t *s, int signum) {
  struct sl_worker *w = s->data;
  int rc = sl_log_reopen();
  if (rc)
    sl_log(SL_LOG_ERROR, "cannot reopen the log file", "\"worker\":%u,\"error\":\"%s\"", w->index, strerror(-rc));
  else
    sl_log(SL_LOG_INFO, "log reopened", "\"worker\":%u", w->index);
}

/* ---- POST /config/reload ---- */

struct sl_reload_wait {
  struct sl_worker *w;
  struct sl_reload_wait *next, **pprev; /* in w->reload_waits */
  uint64_t ticket, deadline_ms;
  int early_status;                     /* answered on the first tick without asking (-ESRCH) */
  sl_reload_cb cb;
  void *ud;
  uv_timer_t timer;
};

static void reload_wait_closed(uv_handle_t *h) { free(h->data); }

static void reload_wait_unlink_close(struct sl_reload_wait *r) {
  if (r->pprev) {
    *r->pprev = r->next;
    if (r->next) r->next->pprev = r->pprev;
    r->pprev = NULL;
  }
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->timer, reload_wait_closed);
}

static void reload_tick(uv_timer_t *t) {
  struct sl_reload_wait *r = t->data;
  int status;
  char msg[SL_RELOAD_MSG + 64];
  if (r->early_status) {
    status = r->early_status;
    snprintf(msg, sizeof msg, "cannot reach the master process to reload the configuration");
  } else if (atomic_load(&r->w->ctl->reload_done) >= r->ticket) {
    sl_master_ctl_result(r->w->ctl, &status, msg, sizeof msg);
  } else if (sl_now_ms() >= r->deadline_ms) {
    status = -ETIMEDOUT;
    snprintf(msg, sizeof msg, "the reload did not finish in time; it may still complete (see the log)");
  } else {
    return;
  }
  sl_reload_cb cb = r->cb;
  void *ud = r->ud;
  reload_wait_unlink_close(r);
  cb(ud, status, msg);
}

struct sl_reload_wait *sl_worker_request_reload(struct sl_worker *w, uint64_t timeout_ms, sl_reload_cb cb,
                                                void *ud) {
  struct sl_reload_wait *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->w = w;
  r->cb = cb;
  r->ud = ud;
  r->deadline_ms = sl_now_ms() + timeout_ms;
  pid_t master = w->ctl ? (pid_t)atomic_load(&w->ctl->master_pid) : 0;
  if (!master || getppid() != master) {
    r->early_status = -ESRCH;
  } else {
    r->ticket = atomic_fetch_add(&w->ctl->reload_requested, 1) + 1;
    if (kill(master, SIGHUP)) r->early_status = -ESRCH;
  }
  uv_timer_init(&w->loop, &r->timer);
  r->timer.data = r;
  r->next = w->reload_waits;
  if (r->next) r->next->pprev = &r->next;
  r->pprev = &w->reload_waits;
  w->reload_waits = r;
  uv_timer_start(&r->timer, reload_tick, r->early_status ? 0 : RELOAD_POLL_MS, RELOAD_POLL_MS);
  sl_log(SL_LOG_INFO, "config reload requested", "\"worker\":%u", w->index);
  return r;
}

void sl_worker_reload_cancel(struct sl_reload_wait *r) {
  if (r) reload_wait_unlink_close(r);
}

/* ---- the accept path ---- */

#define ACCEPT_ERR_LOG_MS 10000

/* Out of descriptors (or another accept failure): one log line per interval, with how
 * many failures it stands for; the server itself pauses accepting. */
static void on_accept_error(void *ud, int err) {
  struct sl_worker *w = ud;
  w->accept_errors++;
  uint64_t now = sl_now_ms();
  if (w->accept_err_logged_ms && now - w->accept_err_logged_ms < ACCEPT_ERR_LOG_MS) return;
  w->accept_err_logged_ms = now;
  struct rlimit rl = {0};
  getrlimit(RLIMIT_NOFILE, &rl);
  sl_log(SL_LOG_ERROR, "cannot accept connections", "\"worker\":%u,\"error\":\"%s\",\"failures\":%llu,"
         "\"open_files_limit\":%llu,\"connections\":%zu", w->index, uv_strerror(err),
         (unsigned long long)w->accept_errors, (unsigned long long)rl.rlim_cur,
         w->srv ? sl_server_connections(w->srv) : 0);
  w->accept_errors = 0;
}

/* systemd starts services with a soft limit of 1024 open files and a much higher hard
 * one: every connection is a descriptor, so a worker takes what it is allowed. */
static void raise_nofile(unsigned index) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max) return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20)) rl.rlim_cur = 1u << 20;
  if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0 && index == 0)
    sl_log(SL_LOG_INFO, "raised the open files limit", "\"from\":%llu,\"to\":%llu",
           (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void free_worker(struct sl_worker *w) {
  free(w->pools);
  free(w->selfcall);
  sl_router_worker_free(w);
  if (w->tls) sl_tls_ctx_free(w->tls);
}

int sl_worker_run(const struct sl_config *cfg, struct sl_shm *shm, struct sl_master_ctl *ctl,
                  unsigned index, int listen_fd, int ready_fd) {
  struct sl_worker *w = calloc(1, sizeof *w);
  if (!w) return 1;
  w->cfg = cfg;
  w->shm = shm;
  w->ctl = ctl;
  w->index = index;
  raise_nofile(index);
  w->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
  w->pools = calloc(cfg->ndeployments ? cfg->ndeployments : 1, sizeof *w->pools);
  /* Groups, names and the /v1/models body come compiled from the master (cfg->plan). */
  w->groups = cfg->plan->groups;
  w->ngroups = cfg->plan->ngroups;
  w->models_json = cfg->plan->models_json;
  w->models_json_len = cfg->plan->models_json_len;
  if (!w->pools || sl_router_worker_init(w) || uv_loop_init(&w->loop)) {
    sl_log(SL_LOG_ERROR, "worker init failed", "\"worker\":%u", index);
    return 1;
  }
  struct sl_server_opts so = {
    .limits = {.max_header_bytes = cfg->max_header_bytes, .max_body_bytes = cfg->max_body_bytes,
               .max_headers = 100},
    .header_timeout_ms = cfg->header_timeout_ms,
    .body_timeout_ms = cfg->body_timeout_ms,
    .keepalive_timeout_ms = cfg->keepalive_timeout_ms,
    .body_budget = cfg->body_memory_budget ? cfg->body_memory_budget
                 : cfg->max_body_bytes > (16u << 20) ? cfg->max_body_bytes : (16u << 20),
    .body_deadline_ms = cfg->body_deadline_ms,
    .body_min_rate = cfg->body_min_rate,
  };
#ifdef M_MMAP_THRESHOLD
  /* Large buffers (request bodies, response copies) get their own mappings, which go
   * back to the system when freed instead of staying in the heap. */
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
  struct sl_server_cbs cbs = {sl_request_on_http, sl_request_on_abort, sl_request_on_writable,
                              on_accept_error};
  struct sl_tls_server *tls = NULL; /* read from the files now: a reload's new workers see new ones */
  if (cfg->tls_cert) {
    char err[512];
    if (sl_tls_server_create(cfg->tls_cert, cfg->tls_key, &tls, err, sizeof err)) {
      for (char *p = err; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '\''; /* JSON-safe */
      sl_log(SL_LOG_ERROR, "worker TLS setup failed", "\"worker\":%u,\"error\":\"%s\"", index, err);
      return 1;
    }
    so.tls = tls;
  }
  struct sockaddr_storage la;
  socklen_t lalen = sizeof la;
  if (getsockname(listen_fd, (struct sockaddr *)&la, &lalen) == 0) /* for loopback calls (core/embed.c) */
    w->listen_port = ntohs(la.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&la)->sin6_port
                                                    : ((struct sockaddr_in *)&la)->sin_port);
  int rc = sl_server_start(&w->loop, listen_fd, &so, &cbs, w, &w->srv);
  if (rc) {
    sl_tls_server_free(tls);
    sl_log(SL_LOG_ERROR, "worker listen failed", "\"worker\":%u,\"error\":\"%s\"", index, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(&w->loop, &w->sig_term);
  uv_signal_init(&w->loop, &w->sig_int);
  w->sig_term.data = w->sig_int.data = w;
  uv_signal_start(&w->sig_term, on_stop_signal, SIGTERM);
  uv_signal_start(&w->sig_int, on_stop_signal, SIGINT);
  uv_signal_init(&w->loop, &w->sig_usr1);
  w->sig_usr1.data = w;
  uv_signal_start(&w->sig_usr1, on_usr1, SIGUSR1);
  uv_timer_init(&w->loop, &w->drain_poll);
  uv_timer_init(&w->loop, &w->drain_deadline);
  uv_timer_init(&w->loop, &w->heartbeat);
  w->drain_poll.data = w->drain_deadline.data = w->heartbeat.data = w;
  uv_timer_start(&w->heartbeat, on_heartbeat, 0, HEARTBEAT_MS);
  atomic_store(&shm->workers[index].pid, (int32_t)getpid());
  sl_reqcache_open(w); /* after fork: an LMDB environment never crosses one */
  sl_tenancy_open(w);
  sl_cluster_open(w); /* cluster mode: connects to Redis in the background */
  sl_gcp_tokens_worker_start(w); /* Vertex AI access tokens (core/gcp_token.c) */
  sl_wild_models_worker_start(w); /* the providers' model lists for /v1/models (core/wild_models.c) */

  w->ready_fd = ready_fd;
  tell_master(w, SL_WORKER_READY, false);
  sl_router_warm(w); /* semantic routes' utterances embedded now, not on the first request */
  uv_run(&w->loop, UV_RUN_DEFAULT);

  /* Close everything still open (pools, timers, signals) and let the callbacks run. */
  if (w->srv) sl_server_close(w->srv); /* frees the server once its handles have closed */
  while (w->reload_waits) { /* every caller hears back exactly once, as promised */
    struct sl_reload_wait *r = w->reload_waits;
    sl_reload_cb cb = r->cb;
    void *ud = r->ud;
    reload_wait_unlink_close(r);
    cb(ud, -ECANCELED, "the worker stopped before the reload finished");
  }
  if (w->ready_fd >= 0) close(w->ready_fd);
  sl_selfcall_worker_stop(w);
  sl_trace_worker_stop(w); /* the OpenTelemetry exporter (core/trace.c) */
  sl_gcp_tokens_worker_stop(w);
  sl_wild_models_worker_stop(w); /* before the pools go */
  sl_cluster_close(w);
  for (size_t i = 0; i < cfg->ndeployments; i++)
    if (w->pools[i]) sl_upstream_pool_destroy(w->pools[i]);
  uv_walk(&w->loop, close_walk, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  sl_tls_server_free(tls); /* after the server and its connections are gone */
  sl_tenancy_close(w);
  sl_reqcache_close(w);
  sl_responses_close(w);
  sl_learn_close(w);
  sl_vectors_close(w); /* after everything that keeps vectors in it */
  free_worker(w);
  sl_pool_drain(&w->arena_pool);
  free(w);
  return 0;
}
